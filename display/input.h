/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What display servers send to the guest: keys and an absolute pointer. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Implemented by the guest's input devices (virtio-input keyboard and tablet); called by
 * the VNC and SPICE servers and the SDL window on the main-loop thread. Key codes are
 * Linux input codes (KEY_A = 30, ...): each server maps its own codes with the tables in
 * display/keymap.c. Pointer coordinates are in the current surface mode's pixels; the
 * tablet scales them to its absolute axis range.
 */

#define HV_BUTTON_LEFT 1u
#define HV_BUTTON_MIDDLE 2u
#define HV_BUTTON_RIGHT 4u
#define HV_BUTTON_WHEEL_UP 8u
#define HV_BUTTON_WHEEL_DOWN 16u

struct hv_input_sink {
    void (*key)(void *opaque, uint16_t linux_code, bool down);
    /* `width`/`height`: the surface size the coordinates refer to. */
    void (*pointer)(void *opaque, uint32_t x, uint32_t y, uint32_t width, uint32_t height,
                    uint32_t buttons);
    void *opaque;
};
