/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Key tables: X11 keysyms (RFB) through the guest's layout, and QMP key names -> Linux codes. */
#include "display/keymap.h"

#include "display/keymap-xt.h"

#include <errno.h>
#include <glib.h>
#include <linux/input-event-codes.h>
#include <rfb/keysym.h>
#include <stdlib.h>
#include <string.h>

#define S HV_KEYMOD_SHIFT
#define G HV_KEYMOD_ALTGR

struct sym_entry {
    uint32_t keysym;
    uint16_t code;
    uint8_t mods;
};

/* Keys whose meaning does not depend on the layout; the client's modifiers pass through. */
static const struct sym_entry common_keys[] = {
    {XK_BackSpace, KEY_BACKSPACE, 0}, {XK_Tab, KEY_TAB, 0}, {XK_ISO_Left_Tab, KEY_TAB, 0},
    {XK_Return, KEY_ENTER, 0}, {XK_Linefeed, KEY_ENTER, 0}, {XK_Escape, KEY_ESC, 0},
    {XK_Delete, KEY_DELETE, 0}, {XK_Insert, KEY_INSERT, 0}, {XK_Home, KEY_HOME, 0},
    {XK_End, KEY_END, 0}, {XK_Page_Up, KEY_PAGEUP, 0}, {XK_Page_Down, KEY_PAGEDOWN, 0},
    {XK_Left, KEY_LEFT, 0}, {XK_Up, KEY_UP, 0}, {XK_Right, KEY_RIGHT, 0},
    {XK_Down, KEY_DOWN, 0}, {XK_Print, KEY_SYSRQ, 0}, {XK_Sys_Req, KEY_SYSRQ, 0},
    {XK_Pause, KEY_PAUSE, 0}, {XK_Break, KEY_PAUSE, 0}, {XK_Scroll_Lock, KEY_SCROLLLOCK, 0},
    {XK_Num_Lock, KEY_NUMLOCK, 0}, {XK_Caps_Lock, KEY_CAPSLOCK, 0}, {XK_Menu, KEY_COMPOSE, 0},
    {XK_F1, KEY_F1, 0}, {XK_F2, KEY_F2, 0}, {XK_F3, KEY_F3, 0}, {XK_F4, KEY_F4, 0},
    {XK_F5, KEY_F5, 0}, {XK_F6, KEY_F6, 0}, {XK_F7, KEY_F7, 0}, {XK_F8, KEY_F8, 0},
    {XK_F9, KEY_F9, 0}, {XK_F10, KEY_F10, 0}, {XK_F11, KEY_F11, 0}, {XK_F12, KEY_F12, 0},
    {XK_Shift_L, KEY_LEFTSHIFT, 0}, {XK_Shift_R, KEY_RIGHTSHIFT, 0},
    {XK_Control_L, KEY_LEFTCTRL, 0}, {XK_Control_R, KEY_RIGHTCTRL, 0},
    {XK_Alt_L, KEY_LEFTALT, 0}, {XK_Alt_R, KEY_RIGHTALT, 0}, {XK_Meta_L, KEY_LEFTALT, 0},
    {XK_Meta_R, KEY_RIGHTALT, 0}, {XK_Super_L, KEY_LEFTMETA, 0},
    {XK_Super_R, KEY_RIGHTMETA, 0}, {XK_ISO_Level3_Shift, KEY_RIGHTALT, 0},
    {XK_Mode_switch, KEY_RIGHTALT, 0},
    {XK_KP_0, KEY_KP0, 0}, {XK_KP_1, KEY_KP1, 0}, {XK_KP_2, KEY_KP2, 0},
    {XK_KP_3, KEY_KP3, 0}, {XK_KP_4, KEY_KP4, 0}, {XK_KP_5, KEY_KP5, 0},
    {XK_KP_6, KEY_KP6, 0}, {XK_KP_7, KEY_KP7, 0}, {XK_KP_8, KEY_KP8, 0},
    {XK_KP_9, KEY_KP9, 0}, {XK_KP_Insert, KEY_KP0, 0}, {XK_KP_End, KEY_KP1, 0},
    {XK_KP_Down, KEY_KP2, 0}, {XK_KP_Page_Down, KEY_KP3, 0}, {XK_KP_Left, KEY_KP4, 0},
    {XK_KP_Begin, KEY_KP5, 0}, {XK_KP_Right, KEY_KP6, 0}, {XK_KP_Home, KEY_KP7, 0},
    {XK_KP_Up, KEY_KP8, 0}, {XK_KP_Page_Up, KEY_KP9, 0}, {XK_KP_Delete, KEY_KPDOT, 0},
    {XK_KP_Enter, KEY_KPENTER, 0}, {XK_KP_Add, KEY_KPPLUS, 0},
    {XK_KP_Subtract, KEY_KPMINUS, 0}, {XK_KP_Multiply, KEY_KPASTERISK, 0},
    {XK_KP_Divide, KEY_KPSLASH, 0}, {XK_KP_Equal, KEY_KPEQUAL, 0},
};

/* The symbols of a US keyboard (letters and digits are shared: see letter_or_digit). */
static const struct sym_entry en_us_keys[] = {
    {XK_space, KEY_SPACE, 0}, {XK_grave, KEY_GRAVE, 0}, {XK_asciitilde, KEY_GRAVE, S},
    {XK_exclam, KEY_1, S}, {XK_at, KEY_2, S}, {XK_numbersign, KEY_3, S},
    {XK_dollar, KEY_4, S}, {XK_percent, KEY_5, S}, {XK_asciicircum, KEY_6, S},
    {XK_ampersand, KEY_7, S}, {XK_asterisk, KEY_8, S}, {XK_parenleft, KEY_9, S},
    {XK_parenright, KEY_0, S}, {XK_minus, KEY_MINUS, 0}, {XK_underscore, KEY_MINUS, S},
    {XK_equal, KEY_EQUAL, 0}, {XK_plus, KEY_EQUAL, S}, {XK_bracketleft, KEY_LEFTBRACE, 0},
    {XK_braceleft, KEY_LEFTBRACE, S}, {XK_bracketright, KEY_RIGHTBRACE, 0},
    {XK_braceright, KEY_RIGHTBRACE, S}, {XK_backslash, KEY_BACKSLASH, 0},
    {XK_bar, KEY_BACKSLASH, S}, {XK_semicolon, KEY_SEMICOLON, 0},
    {XK_colon, KEY_SEMICOLON, S}, {XK_apostrophe, KEY_APOSTROPHE, 0},
    {XK_quotedbl, KEY_APOSTROPHE, S}, {XK_comma, KEY_COMMA, 0}, {XK_less, KEY_COMMA, S},
    {XK_period, KEY_DOT, 0}, {XK_greater, KEY_DOT, S}, {XK_slash, KEY_SLASH, 0},
    {XK_question, KEY_SLASH, S}, {XK_KP_Decimal, KEY_KPDOT, 0},
    {XK_KP_Separator, KEY_KPCOMMA, 0},
};

/* Brazilian ABNT2, as X's br(abnt2) layout types it (AltGr is the right Alt). */
static const struct sym_entry pt_br_keys[] = {
    {XK_space, KEY_SPACE, 0}, {XK_apostrophe, KEY_GRAVE, 0}, {XK_quotedbl, KEY_GRAVE, S},
    {XK_exclam, KEY_1, S}, {XK_onesuperior, KEY_1, G}, {XK_at, KEY_2, S},
    {XK_twosuperior, KEY_2, G}, {XK_numbersign, KEY_3, S}, {XK_threesuperior, KEY_3, G},
    {XK_dollar, KEY_4, S}, {XK_sterling, KEY_4, G}, {XK_percent, KEY_5, S},
    {XK_cent, KEY_5, G}, {XK_dead_diaeresis, KEY_6, S}, {XK_notsign, KEY_6, G},
    {XK_ampersand, KEY_7, S}, {XK_asterisk, KEY_8, S}, {XK_parenleft, KEY_9, S},
    {XK_parenright, KEY_0, S}, {XK_minus, KEY_MINUS, 0}, {XK_underscore, KEY_MINUS, S},
    {XK_equal, KEY_EQUAL, 0}, {XK_plus, KEY_EQUAL, S}, {XK_section, KEY_EQUAL, G},
    {XK_degree, KEY_E, G}, {XK_registered, KEY_R, G},
    {XK_dead_acute, KEY_LEFTBRACE, 0}, {XK_dead_grave, KEY_LEFTBRACE, S},
    {XK_acute, KEY_LEFTBRACE, G}, {XK_grave, KEY_LEFTBRACE, S | G},
    {XK_bracketleft, KEY_RIGHTBRACE, 0}, {XK_braceleft, KEY_RIGHTBRACE, S},
    {XK_ordfeminine, KEY_RIGHTBRACE, G}, {XK_bracketright, KEY_BACKSLASH, 0},
    {XK_braceright, KEY_BACKSLASH, S}, {XK_masculine, KEY_BACKSLASH, G},
    {XK_ccedilla, KEY_SEMICOLON, 0}, {XK_Ccedilla, KEY_SEMICOLON, S},
    {XK_dead_tilde, KEY_APOSTROPHE, 0}, {XK_dead_circumflex, KEY_APOSTROPHE, S},
    {XK_asciitilde, KEY_APOSTROPHE, G}, {XK_asciicircum, KEY_APOSTROPHE, S | G},
    {XK_backslash, KEY_102ND, 0}, {XK_bar, KEY_102ND, S}, {XK_copyright, KEY_C, G},
    {XK_mu, KEY_M, G}, {XK_comma, KEY_COMMA, 0}, {XK_less, KEY_COMMA, S},
    {XK_period, KEY_DOT, 0}, {XK_greater, KEY_DOT, S}, {XK_semicolon, KEY_SLASH, 0},
    {XK_colon, KEY_SLASH, S}, {XK_slash, KEY_RO, 0}, {XK_question, KEY_RO, S},
    {XK_questiondown, KEY_RO, S | G},
    /* kpdl(comma): the keypad's Delete key types a comma; the ABNT2 keypad's extra key
       (KEY_KPCOMMA, "KPPT") types the period. */
    {XK_KP_Separator, KEY_KPDOT, 0}, {XK_KP_Decimal, KEY_KPCOMMA, 0},
};

static const uint16_t letter_codes[26] = {
    KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G, KEY_H, KEY_I, KEY_J, KEY_K, KEY_L, KEY_M,
    KEY_N, KEY_O, KEY_P, KEY_Q, KEY_R, KEY_S, KEY_T, KEY_U, KEY_V, KEY_W, KEY_X, KEY_Y, KEY_Z,
};

int hv_keymap_parse(const char *name, enum hv_keymap_layout *layout)
{
    if (!strcmp(name, "en-us") || !strcmp(name, "us"))
        *layout = HV_KEYMAP_EN_US;
    else if (!strcmp(name, "pt-br") || !strcmp(name, "br") || !strcmp(name, "abnt2"))
        *layout = HV_KEYMAP_PT_BR;
    else
        return -EINVAL;
    return 0;
}

const char *hv_keymap_name(enum hv_keymap_layout layout)
{
    return layout == HV_KEYMAP_PT_BR ? "pt-br" : "en-us";
}

/* Letters sit where a US keyboard has them on both layouts, and so do the digits. */
static bool letter_or_digit(uint32_t keysym, struct hv_keystroke *out)
{
    if (keysym >= 'a' && keysym <= 'z')
        *out = (struct hv_keystroke){letter_codes[keysym - 'a'], 0, true};
    else if (keysym >= 'A' && keysym <= 'Z')
        *out = (struct hv_keystroke){letter_codes[keysym - 'A'], S, true};
    else if (keysym >= '1' && keysym <= '9')
        *out = (struct hv_keystroke){(uint16_t)(KEY_1 + (keysym - '1')), 0, true};
    else if (keysym == '0')
        *out = (struct hv_keystroke){KEY_0, 0, true};
    else
        return false;
    return true;
}

static bool find(const struct sym_entry *t, size_t n, uint32_t keysym, struct hv_keystroke *out,
                 bool mods_matter)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].keysym == keysym) {
            *out = (struct hv_keystroke){t[i].code, t[i].mods, mods_matter};
            return true;
        }
    }
    return false;
}

bool hv_keymap_lookup(enum hv_keymap_layout layout, uint32_t keysym, struct hv_keystroke *out)
{
    if (letter_or_digit(keysym, out))
        return true;
    if (find(common_keys, G_N_ELEMENTS(common_keys), keysym, out, false))
        return true;
    if (layout == HV_KEYMAP_PT_BR)
        return find(pt_br_keys, G_N_ELEMENTS(pt_br_keys), keysym, out, true);
    return find(en_us_keys, G_N_ELEMENTS(en_us_keys), keysym, out, true);
}

/* Latin-1 keysyms are their code points: the composed letters by accent. */
static const struct {
    uint32_t dead;
    const char *from; /* base letters */
    const char *to;   /* the composed ones, Latin-1, same order */
} compositions[] = {
    {XK_dead_acute, "aeiouyAEIOUY", "\xe1\xe9\xed\xf3\xfa\xfd\xc1\xc9\xcd\xd3\xda\xdd"},
    {XK_dead_grave, "aeiouAEIOU", "\xe0\xe8\xec\xf2\xf9\xc0\xc8\xcc\xd2\xd9"},
    {XK_dead_tilde, "aonAON", "\xe3\xf5\xf1\xc3\xd5\xd1"},
    {XK_dead_circumflex, "aeiouAEIOU", "\xe2\xea\xee\xf4\xfb\xc2\xca\xce\xd4\xdb"},
    {XK_dead_diaeresis, "aeiouyAEIOU", "\xe4\xeb\xef\xf6\xfc\xff\xc4\xcb\xcf\xd6\xdc"},
};

bool hv_keymap_decompose(uint32_t keysym, uint32_t *dead, uint32_t *base)
{
    /* The spacing accents: the dead key, then space. */
    static const uint32_t spacing[][2] = {
        {XK_asciitilde, XK_dead_tilde}, {XK_asciicircum, XK_dead_circumflex},
        {XK_grave, XK_dead_grave}, {XK_acute, XK_dead_acute},
        {XK_diaeresis, XK_dead_diaeresis},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(spacing); i++) {
        if (spacing[i][0] == keysym) {
            *dead = spacing[i][1];
            *base = XK_space;
            return true;
        }
    }
    if (keysym < 0xc0 || keysym > 0xff)
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(compositions); i++) {
        const char *p = strchr(compositions[i].to, (int)keysym);
        if (p) {
            *dead = compositions[i].dead;
            *base = (uint8_t)compositions[i].from[p - compositions[i].to];
            return true;
        }
    }
    return false;
}

/* ---- QMP key names (send-key) ---- */

static const struct {
    const char *name;
    uint16_t code;
} qcodes[] = {
    {"shift", KEY_LEFTSHIFT}, {"shift_r", KEY_RIGHTSHIFT}, {"alt", KEY_LEFTALT},
    {"alt_r", KEY_RIGHTALT}, {"altgr", KEY_RIGHTALT}, {"altgr_r", KEY_RIGHTALT},
    {"ctrl", KEY_LEFTCTRL}, {"ctrl_r", KEY_RIGHTCTRL}, {"menu", KEY_COMPOSE},
    {"compose", KEY_COMPOSE}, {"esc", KEY_ESC}, {"minus", KEY_MINUS}, {"equal", KEY_EQUAL},
    {"backspace", KEY_BACKSPACE}, {"tab", KEY_TAB}, {"bracket_left", KEY_LEFTBRACE},
    {"bracket_right", KEY_RIGHTBRACE}, {"ret", KEY_ENTER}, {"semicolon", KEY_SEMICOLON},
    {"apostrophe", KEY_APOSTROPHE}, {"grave_accent", KEY_GRAVE}, {"backslash", KEY_BACKSLASH},
    {"comma", KEY_COMMA}, {"dot", KEY_DOT}, {"slash", KEY_SLASH}, {"asterisk", KEY_KPASTERISK},
    {"spc", KEY_SPACE}, {"caps_lock", KEY_CAPSLOCK}, {"num_lock", KEY_NUMLOCK},
    {"scroll_lock", KEY_SCROLLLOCK}, {"kp_divide", KEY_KPSLASH},
    {"kp_multiply", KEY_KPASTERISK}, {"kp_subtract", KEY_KPMINUS}, {"kp_add", KEY_KPPLUS},
    {"kp_enter", KEY_KPENTER}, {"kp_decimal", KEY_KPDOT}, {"kp_comma", KEY_KPCOMMA},
    {"kp_equals", KEY_KPEQUAL}, {"sysrq", KEY_SYSRQ}, {"print", KEY_SYSRQ},
    {"less", KEY_102ND}, {"ro", KEY_RO}, {"yen", KEY_YEN}, {"home", KEY_HOME},
    {"pgup", KEY_PAGEUP}, {"pgdn", KEY_PAGEDOWN}, {"end", KEY_END}, {"left", KEY_LEFT},
    {"up", KEY_UP}, {"down", KEY_DOWN}, {"right", KEY_RIGHT}, {"insert", KEY_INSERT},
    {"delete", KEY_DELETE}, {"meta_l", KEY_LEFTMETA}, {"meta_r", KEY_RIGHTMETA},
    {"pause", KEY_PAUSE}, {"power", KEY_POWER}, {"sleep", KEY_SLEEP}, {"wake", KEY_WAKEUP},
    {"audiomute", KEY_MUTE}, {"volumeup", KEY_VOLUMEUP}, {"volumedown", KEY_VOLUMEDOWN},
    {"henkan", KEY_HENKAN}, {"muhenkan", KEY_MUHENKAN}, {"hiragana", KEY_HIRAGANA},
    {"katakanahiragana", KEY_KATAKANAHIRAGANA},
};

uint16_t hv_keymap_qcode_to_linux(const char *name)
{
    size_t len = strlen(name);
    if (len == 1 && name[0] >= 'a' && name[0] <= 'z')
        return letter_codes[name[0] - 'a'];
    if (len == 1 && name[0] >= '0' && name[0] <= '9')
        return name[0] == '0' ? KEY_0 : (uint16_t)(KEY_1 + (name[0] - '1'));
    if (len == 4 && !strncmp(name, "kp_", 3) && name[3] >= '0' && name[3] <= '9') {
        static const uint16_t kp[10] = {KEY_KP0, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP4,
                                        KEY_KP5, KEY_KP6, KEY_KP7, KEY_KP8, KEY_KP9};
        return kp[name[3] - '0'];
    }
    if (name[0] == 'f' && len >= 2 && len <= 3 && g_ascii_isdigit(name[1]) &&
        (len == 2 || g_ascii_isdigit(name[2]))) {
        unsigned n = (unsigned)atoi(name + 1);
        if (n >= 1 && n <= 10)
            return (uint16_t)(KEY_F1 + n - 1);
        if (n == 11 || n == 12)
            return n == 11 ? KEY_F11 : KEY_F12;
        if (n >= 13 && n <= 24)
            return (uint16_t)(KEY_F13 + n - 13);
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(qcodes); i++)
        if (!strcmp(qcodes[i].name, name))
            return qcodes[i].code;
    return 0;
}

static void set_bit(uint8_t *bits, size_t len, unsigned code)
{
    if (code / 8 < len)
        bits[code / 8] |= (uint8_t)(1u << (code % 8));
}

void hv_keymap_key_bits(uint8_t *bits, size_t len)
{
    for (size_t i = 0; i < G_N_ELEMENTS(letter_codes); i++)
        set_bit(bits, len, letter_codes[i]);
    for (unsigned c = KEY_1; c <= KEY_0; c++)
        set_bit(bits, len, c);
    for (size_t i = 0; i < G_N_ELEMENTS(common_keys); i++)
        set_bit(bits, len, common_keys[i].code);
    for (size_t i = 0; i < G_N_ELEMENTS(en_us_keys); i++)
        set_bit(bits, len, en_us_keys[i].code);
    for (size_t i = 0; i < G_N_ELEMENTS(pt_br_keys); i++)
        set_bit(bits, len, pt_br_keys[i].code);
    for (unsigned xt = 1; xt < 0x80; xt++) {
        set_bit(bits, len, hv_keymap_xt_to_linux((uint8_t)xt, false));
        set_bit(bits, len, hv_keymap_xt_to_linux((uint8_t)xt, true));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(qcodes); i++)
        set_bit(bits, len, qcodes[i].code);
    for (unsigned c = KEY_F13; c <= KEY_F24; c++)
        set_bit(bits, len, c);
    bits[0] &= (uint8_t)~1u; /* KEY_RESERVED */
}
