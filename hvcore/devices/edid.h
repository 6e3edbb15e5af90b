/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The EDID block a display device shows its guest: which modes the "monitor" takes. */
#pragma once

#include <stdint.h>

#define HV_EDID_SIZE 128

/*
 * Fills `edid` with a valid EDID 1.4 base block (checksum included) whose preferred mode
 * is `width` x `height` at 60 Hz, plus the common VESA modes up to 1920x1080. Sizes are
 * clamped to 640x480 .. 3840x2160 (a detailed timing holds at most 4095 pixels).
 */
void hv_edid_build(uint8_t edid[HV_EDID_SIZE], uint32_t width, uint32_t height);
