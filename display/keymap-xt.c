/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PC XT scancodes (set 1, as SPICE's inputs channel sends them) to Linux input codes. */
#include "display/keymap-xt.h"

#include <linux/input-event-codes.h>

/*
 * Linux's key codes were laid out after set 1: make codes 0x01-0x58 are the same numbers
 * (KEY_ESC = 1 ... KEY_F12 = 88), except 0x54, which the keyboard sends for Alt+SysRq.
 * Beyond them sit the Japanese and Brazilian (ABNT2) keys; 0xE0-prefixed codes are the
 * keys added after the XT: the right-hand modifiers, the navigation block, media keys.
 */
static const uint16_t plain_high[0x80 - 0x59] = {
    [0x59 - 0x59] = KEY_KPEQUAL,
    [0x70 - 0x59] = KEY_KATAKANAHIRAGANA,
    [0x73 - 0x59] = KEY_RO, /* ABNT2: the / ? key beside right shift */
    [0x79 - 0x59] = KEY_HENKAN,
    [0x7b - 0x59] = KEY_MUHENKAN,
    [0x7d - 0x59] = KEY_YEN,
    [0x7e - 0x59] = KEY_KPCOMMA, /* ABNT2: the keypad's . key (the other one is ,) */
};

static const uint16_t extended[0x80] = {
    [0x10] = KEY_PREVIOUSSONG,
    [0x19] = KEY_NEXTSONG,
    [0x1c] = KEY_KPENTER,
    [0x1d] = KEY_RIGHTCTRL,
    [0x20] = KEY_MUTE,
    [0x21] = KEY_CALC,
    [0x22] = KEY_PLAYPAUSE,
    [0x24] = KEY_STOPCD,
    [0x2e] = KEY_VOLUMEDOWN,
    [0x30] = KEY_VOLUMEUP,
    [0x32] = KEY_HOMEPAGE,
    [0x35] = KEY_KPSLASH,
    [0x37] = KEY_SYSRQ, /* Print Screen */
    [0x38] = KEY_RIGHTALT,
    [0x46] = KEY_PAUSE, /* Ctrl+Break */
    [0x47] = KEY_HOME,
    [0x48] = KEY_UP,
    [0x49] = KEY_PAGEUP,
    [0x4b] = KEY_LEFT,
    [0x4d] = KEY_RIGHT,
    [0x4f] = KEY_END,
    [0x50] = KEY_DOWN,
    [0x51] = KEY_PAGEDOWN,
    [0x52] = KEY_INSERT,
    [0x53] = KEY_DELETE,
    [0x5b] = KEY_LEFTMETA,
    [0x5c] = KEY_RIGHTMETA,
    [0x5d] = KEY_COMPOSE,
    [0x5e] = KEY_POWER,
    [0x5f] = KEY_SLEEP,
    [0x63] = KEY_WAKEUP,
    [0x65] = KEY_SEARCH,
    [0x66] = KEY_BOOKMARKS,
    [0x67] = KEY_REFRESH,
    [0x68] = KEY_STOP,
    [0x69] = KEY_FORWARD,
    [0x6a] = KEY_BACK,
    [0x6b] = KEY_COMPUTER,
    [0x6c] = KEY_MAIL,
    [0x6d] = KEY_MEDIA,
};

uint16_t hv_keymap_xt_to_linux(uint8_t code, bool ext)
{
    code &= 0x7f;
    if (ext)
        return extended[code];
    if (code == 0x54)
        return KEY_SYSRQ;
    if (code >= 0x59)
        return plain_high[code - 0x59];
    return code; /* 0 stays 0: no key */
}

bool hv_xt_decode(struct hv_xt_decoder *dec, uint8_t byte, uint16_t *linux_code, bool *down)
{
    /* Pause sends E1 1D 45 on press and E1 9D C5 on release, and nothing else uses E1. */
    if (dec->prefix == 0xE1) {
        if (--dec->e1_left == 1) {
            dec->e1_release = byte & 0x80;
            return false;
        }
        dec->prefix = 0;
        *linux_code = KEY_PAUSE;
        *down = !dec->e1_release;
        return true;
    }
    if (byte == 0xE0) {
        dec->prefix = 0xE0;
        return false;
    }
    if (byte == 0xE1) {
        dec->prefix = 0xE1;
        dec->e1_left = 2;
        return false;
    }
    bool ext = dec->prefix == 0xE0;
    dec->prefix = 0;
    uint16_t code = hv_keymap_xt_to_linux(byte & 0x7f, ext);
    if (!code)
        return false;
    *linux_code = code;
    *down = !(byte & 0x80);
    return true;
}
