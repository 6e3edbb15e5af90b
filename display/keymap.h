/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Key tables: X11 keysyms (RFB) through the guest's layout, and QMP key names -> Linux codes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * RFB sends keysyms (the symbol a key typed on the client), the guest wants key positions
 * interpreted through its own layout. So a keysym is mapped in reverse through the guest's
 * layout: to the key and the modifiers that type it there (QEMU's -k does the same). Raw
 * XT scancodes (SPICE; RFB clients with the QEMU Extended Key Event) need no layout: see
 * display/keymap-xt.h.
 */
enum hv_keymap_layout {
    HV_KEYMAP_EN_US,
    HV_KEYMAP_PT_BR, /* Brazilian ABNT2 */
};

#define HV_KEYMOD_SHIFT 1u
#define HV_KEYMOD_ALTGR 2u /* right Alt (ISO_Level3_Shift) */

struct hv_keystroke {
    uint16_t code; /* Linux KEY_* */
    uint8_t mods;  /* HV_KEYMOD_*: what must be held for the keysym */
    /* The modifiers are part of the keysym's meaning only for keys whose symbol changes
       with them; modifier keys and function keys leave the client's modifiers alone. */
    bool mods_matter;
};

/* "en-us", "pt-br" (also "us", "br", "abnt2"). Returns 0 or -EINVAL. */
int hv_keymap_parse(const char *name, enum hv_keymap_layout *layout);
const char *hv_keymap_name(enum hv_keymap_layout layout);

/* What types `keysym` on `layout`. Returns false when no single key does. */
bool hv_keymap_lookup(enum hv_keymap_layout layout, uint32_t keysym, struct hv_keystroke *out);

/*
 * A composed Latin-1 letter (aacute, atilde, ...) as a dead key and a base keysym, for
 * layouts that type it so (pt-br). Also the spacing accents (asciitilde = dead_tilde +
 * space). Returns false when `keysym` is not one of those.
 */
bool hv_keymap_decompose(uint32_t keysym, uint32_t *dead, uint32_t *base);

/* A QMP key name ("ctrl", "alt", "delete", "a", "f1", "kp_enter") -> Linux code; 0 if none. */
uint16_t hv_keymap_qcode_to_linux(const char *name);

/* Sets, in a bitmap of `len` bytes, the bit of every Linux code the functions above yield
   (a keyboard device announces these keys). */
void hv_keymap_key_bits(uint8_t *bits, size_t len);
