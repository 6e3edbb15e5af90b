/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A VNC client's keysyms turned into the guest's key presses, modifiers included. */
#pragma once

#include <linux/input-event-codes.h>
#include <stdbool.h>
#include <stdint.h>

#include "display/keymap.h"

typedef void (*hv_key_emit_fn)(void *opaque, uint16_t code, bool down);

/*
 * The keyboard as the guest sees it. A keysym that needs Shift or AltGr on the guest's
 * layout gets them pressed around it when the client does not hold them (and held ones
 * released around it when it must be typed without), so "typing the symbol" works
 * whatever layout the client has. One instance per server (clients share one keyboard).
 */
struct hv_vnc_keys {
    enum hv_keymap_layout layout;
    bool shift_l, shift_r, altgr; /* what the client holds */
    uint8_t down[(KEY_CNT + 7) / 8]; /* what the guest has been told is down */
};

void hv_vnc_keys_init(struct hv_vnc_keys *k, enum hv_keymap_layout layout);
/* A key event by keysym. Returns false (and emits nothing) when no key types it. */
bool hv_vnc_keys_keysym(struct hv_vnc_keys *k, uint32_t keysym, bool down, hv_key_emit_fn emit,
                        void *opaque);
/* A key event by position (Linux code), as the QEMU Extended Key Event gives it. */
void hv_vnc_keys_raw(struct hv_vnc_keys *k, uint16_t code, bool down, hv_key_emit_fn emit,
                     void *opaque);
/* Releases every key still down (the client went away). */
void hv_vnc_keys_release_all(struct hv_vnc_keys *k, hv_key_emit_fn emit, void *opaque);
