/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PC XT scancodes (set 1, as SPICE's inputs channel sends them) to Linux input codes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* `code`: the make code (bit 7 clear); `extended`: it followed an 0xE0 prefix. Returns the
   Linux KEY_* code, or 0 for a code with no key (e.g. the 0xE0 0x2A fake shifts). */
uint16_t hv_keymap_xt_to_linux(uint8_t code, bool extended);

/* Decodes a byte stream of XT scancodes (prefixes, releases, the 0xE1 Pause sequence). */
struct hv_xt_decoder {
    uint8_t prefix;  /* 0, 0xE0 or 0xE1 */
    uint8_t e1_left; /* bytes still expected after 0xE1 */
    bool e1_release;
};

/* Feeds one byte. Returns true with *linux_code and *down set when it completes a key
   event (a known key only). */
bool hv_xt_decode(struct hv_xt_decoder *dec, uint8_t byte, uint16_t *linux_code, bool *down);
