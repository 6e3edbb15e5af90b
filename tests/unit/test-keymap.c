/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Key tables: keysyms through the en-us and pt-br layouts, XT codes, QMP names, modifiers. */
#include <linux/input-event-codes.h>
#include <rfb/keysym.h>
#include <string.h>
#include <glib.h>

#include "display/keymap-xt.h"
#include "display/keymap.h"
#include "display/vnc-keys.h"

/* A US keyboard, written out key by key: what each key types without and with Shift. */
static const struct {
    uint16_t code;
    char plain, shifted;
} us_keys[] = {
    {KEY_GRAVE, '`', '~'}, {KEY_1, '1', '!'}, {KEY_2, '2', '@'}, {KEY_3, '3', '#'},
    {KEY_4, '4', '$'}, {KEY_5, '5', '%'}, {KEY_6, '6', '^'}, {KEY_7, '7', '&'},
    {KEY_8, '8', '*'}, {KEY_9, '9', '('}, {KEY_0, '0', ')'}, {KEY_MINUS, '-', '_'},
    {KEY_EQUAL, '=', '+'}, {KEY_Q, 'q', 'Q'}, {KEY_W, 'w', 'W'}, {KEY_E, 'e', 'E'},
    {KEY_R, 'r', 'R'}, {KEY_T, 't', 'T'}, {KEY_Y, 'y', 'Y'}, {KEY_U, 'u', 'U'},
    {KEY_I, 'i', 'I'}, {KEY_O, 'o', 'O'}, {KEY_P, 'p', 'P'}, {KEY_LEFTBRACE, '[', '{'},
    {KEY_RIGHTBRACE, ']', '}'}, {KEY_BACKSLASH, '\\', '|'}, {KEY_A, 'a', 'A'},
    {KEY_S, 's', 'S'}, {KEY_D, 'd', 'D'}, {KEY_F, 'f', 'F'}, {KEY_G, 'g', 'G'},
    {KEY_H, 'h', 'H'}, {KEY_J, 'j', 'J'}, {KEY_K, 'k', 'K'}, {KEY_L, 'l', 'L'},
    {KEY_SEMICOLON, ';', ':'}, {KEY_APOSTROPHE, '\'', '"'}, {KEY_Z, 'z', 'Z'},
    {KEY_X, 'x', 'X'}, {KEY_C, 'c', 'C'}, {KEY_V, 'v', 'V'}, {KEY_B, 'b', 'B'},
    {KEY_N, 'n', 'N'}, {KEY_M, 'm', 'M'}, {KEY_COMMA, ',', '<'}, {KEY_DOT, '.', '>'},
    {KEY_SLASH, '/', '?'}, {KEY_SPACE, ' ', ' '},
};

static void expect(enum hv_keymap_layout l, uint32_t keysym, uint16_t code, uint8_t mods)
{
    struct hv_keystroke ks;
    if (!hv_keymap_lookup(l, keysym, &ks))
        g_error("%s: keysym 0x%x has no key", hv_keymap_name(l), keysym);
    if (ks.code != code || ks.mods != mods)
        g_error("%s: keysym 0x%x gives key %u mods %u, expected key %u mods %u",
                hv_keymap_name(l), keysym, ks.code, ks.mods, code, mods);
}

static void test_us_ascii(void)
{
    unsigned seen = 0;
    for (uint32_t c = 0x20; c <= 0x7e; c++) {
        bool found = false;
        for (size_t i = 0; i < G_N_ELEMENTS(us_keys) && !found; i++) {
            if (us_keys[i].plain == (char)c) {
                expect(HV_KEYMAP_EN_US, c, us_keys[i].code, 0);
                found = true;
            } else if (us_keys[i].shifted == (char)c) {
                expect(HV_KEYMAP_EN_US, c, us_keys[i].code, HV_KEYMOD_SHIFT);
                found = true;
            }
        }
        g_assert_true(found);
        seen++;
    }
    g_assert_cmpuint(seen, ==, 95);
}

static void test_common_keys(void)
{
    for (int l = HV_KEYMAP_EN_US; l <= HV_KEYMAP_PT_BR; l++) {
        expect(l, XK_Return, KEY_ENTER, 0);
        expect(l, XK_Control_L, KEY_LEFTCTRL, 0);
        expect(l, XK_F12, KEY_F12, 0);
        expect(l, XK_KP_Enter, KEY_KPENTER, 0);
        expect(l, XK_Delete, KEY_DELETE, 0);
        expect(l, XK_ISO_Left_Tab, KEY_TAB, 0);
        struct hv_keystroke ks;
        g_assert_true(hv_keymap_lookup(l, XK_Shift_L, &ks));
        g_assert_false(ks.mods_matter);
        g_assert_false(hv_keymap_lookup(l, 0x100263a, &ks)); /* no key types it */
    }
}

static void test_abnt2(void)
{
    const enum hv_keymap_layout br = HV_KEYMAP_PT_BR;
    expect(br, XK_ccedilla, KEY_SEMICOLON, 0);
    expect(br, XK_Ccedilla, KEY_SEMICOLON, HV_KEYMOD_SHIFT);
    expect(br, XK_dead_acute, KEY_LEFTBRACE, 0);
    expect(br, XK_dead_grave, KEY_LEFTBRACE, HV_KEYMOD_SHIFT);
    expect(br, XK_dead_tilde, KEY_APOSTROPHE, 0);
    expect(br, XK_dead_circumflex, KEY_APOSTROPHE, HV_KEYMOD_SHIFT);
    expect(br, XK_dead_diaeresis, KEY_6, HV_KEYMOD_SHIFT);
    expect(br, XK_backslash, KEY_102ND, 0);
    expect(br, XK_bar, KEY_102ND, HV_KEYMOD_SHIFT);
    expect(br, XK_slash, KEY_RO, 0);
    expect(br, XK_question, KEY_RO, HV_KEYMOD_SHIFT);
    expect(br, XK_semicolon, KEY_SLASH, 0);
    expect(br, XK_colon, KEY_SLASH, HV_KEYMOD_SHIFT);
    expect(br, XK_apostrophe, KEY_GRAVE, 0);
    expect(br, XK_quotedbl, KEY_GRAVE, HV_KEYMOD_SHIFT);
    expect(br, XK_bracketleft, KEY_RIGHTBRACE, 0);
    expect(br, XK_bracketright, KEY_BACKSLASH, 0);
    expect(br, XK_at, KEY_2, HV_KEYMOD_SHIFT);
    expect(br, XK_onesuperior, KEY_1, HV_KEYMOD_ALTGR);
    expect(br, XK_degree, KEY_E, HV_KEYMOD_ALTGR);
    expect(br, XK_KP_Decimal, KEY_KPCOMMA, 0);
    expect(br, XK_KP_Separator, KEY_KPDOT, 0);
    expect(br, 'q', KEY_Q, 0);
    /* The same symbols on a US keyboard sit elsewhere. */
    expect(HV_KEYMAP_EN_US, XK_slash, KEY_SLASH, 0);
    expect(HV_KEYMAP_EN_US, XK_KP_Decimal, KEY_KPDOT, 0);
    struct hv_keystroke ks;
    g_assert_false(hv_keymap_lookup(HV_KEYMAP_EN_US, XK_ccedilla, &ks));
}

static void test_decompose(void)
{
    uint32_t dead, base;
    g_assert_true(hv_keymap_decompose(XK_aacute, &dead, &base));
    g_assert_cmphex(dead, ==, XK_dead_acute);
    g_assert_cmphex(base, ==, 'a');
    g_assert_true(hv_keymap_decompose(XK_Otilde, &dead, &base));
    g_assert_cmphex(dead, ==, XK_dead_tilde);
    g_assert_cmphex(base, ==, 'O');
    g_assert_true(hv_keymap_decompose(XK_ecircumflex, &dead, &base));
    g_assert_cmphex(dead, ==, XK_dead_circumflex);
    g_assert_true(hv_keymap_decompose(XK_udiaeresis, &dead, &base));
    g_assert_cmphex(dead, ==, XK_dead_diaeresis);
    g_assert_cmphex(base, ==, 'u');
    g_assert_true(hv_keymap_decompose(XK_asciitilde, &dead, &base));
    g_assert_cmphex(base, ==, XK_space);
    g_assert_false(hv_keymap_decompose(XK_ccedilla, &dead, &base));
    g_assert_false(hv_keymap_decompose('a', &dead, &base));
}

static void test_xt(void)
{
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x01, false), ==, KEY_ESC);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x1e, false), ==, KEY_A);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x56, false), ==, KEY_102ND);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x58, false), ==, KEY_F12);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x73, false), ==, KEY_RO);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x7e, false), ==, KEY_KPCOMMA);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x1d, true), ==, KEY_RIGHTCTRL);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x38, true), ==, KEY_RIGHTALT);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x48, true), ==, KEY_UP);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x53, true), ==, KEY_DELETE);
    g_assert_cmpuint(hv_keymap_xt_to_linux(0x1c, true), ==, KEY_KPENTER);
}

static void test_qcodes(void)
{
    g_assert_cmpuint(hv_keymap_qcode_to_linux("ctrl"), ==, KEY_LEFTCTRL);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("alt"), ==, KEY_LEFTALT);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("delete"), ==, KEY_DELETE);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("a"), ==, KEY_A);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("0"), ==, KEY_0);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("f1"), ==, KEY_F1);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("f12"), ==, KEY_F12);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("f13"), ==, KEY_F13);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("kp_5"), ==, KEY_KP5);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("ret"), ==, KEY_ENTER);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("ro"), ==, KEY_RO);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("kp_comma"), ==, KEY_KPCOMMA);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("nosuchkey"), ==, 0);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("f0"), ==, 0);
    g_assert_cmpuint(hv_keymap_qcode_to_linux("f25"), ==, 0);
    g_assert_cmpuint(hv_keymap_qcode_to_linux(""), ==, 0);
    enum hv_keymap_layout l;
    g_assert_cmpint(hv_keymap_parse("pt-br", &l), ==, 0);
    g_assert_cmpint(l, ==, HV_KEYMAP_PT_BR);
    g_assert_cmpint(hv_keymap_parse("de", &l), ==, -EINVAL);
}

static void test_key_bits(void)
{
    uint8_t bits[128] = {0};
    hv_keymap_key_bits(bits, sizeof(bits));
    static const uint16_t want[] = {KEY_A, KEY_RO, KEY_102ND, KEY_KPCOMMA, KEY_RIGHTALT,
                                    KEY_F24, KEY_DELETE, KEY_LEFTMETA};
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        g_assert_true(bits[want[i] / 8] & (1u << (want[i] % 8)));
    g_assert_false(bits[0] & 1);
}

/* ---- modifiers around keysyms (vnc-keys) ---- */

static GString *log_;

static void record(void *opaque, uint16_t code, bool down)
{
    (void)opaque;
    g_string_append_printf(log_, "%s%u ", down ? "+" : "-", code);
}

static const char *type(struct hv_vnc_keys *k, uint32_t keysym, bool down)
{
    g_string_truncate(log_, 0);
    hv_vnc_keys_keysym(k, keysym, down, record, NULL);
    return log_->str;
}

static void test_vnc_keys_us(void)
{
    struct hv_vnc_keys k;
    log_ = g_string_new(NULL);
    hv_vnc_keys_init(&k, HV_KEYMAP_EN_US);
    /* A client that sends 'A' without holding Shift (a script, another layout). */
    g_assert_cmpstr(type(&k, 'A', true), ==, "+42 +30 -42 ");
    g_assert_cmpstr(type(&k, 'A', false), ==, "-30 ");
    /* With Shift held, nothing is added. */
    g_assert_cmpstr(type(&k, XK_Shift_L, true), ==, "+42 ");
    g_assert_cmpstr(type(&k, 'A', true), ==, "+30 ");
    /* The release arrives as the unshifted symbol: the same key goes up. */
    g_assert_cmpstr(type(&k, XK_Shift_L, false), ==, "-42 ");
    g_assert_cmpstr(type(&k, 'a', false), ==, "-30 ");
    /* Shift held for a symbol typed without it: released around it. */
    g_assert_cmpstr(type(&k, XK_Shift_R, true), ==, "+54 ");
    g_assert_cmpstr(type(&k, '1', true), ==, "-54 +2 +54 ");
    g_assert_cmpstr(type(&k, '1', false), ==, "-2 ");
    g_assert_cmpstr(type(&k, XK_Shift_R, false), ==, "-54 ");
    /* Autorepeat of a modifier is one press. */
    g_assert_cmpstr(type(&k, XK_Control_L, true), ==, "+29 ");
    g_assert_cmpstr(type(&k, XK_Control_L, true), ==, "");
    /* A key with no key on the layout: nothing. */
    g_assert_false(hv_vnc_keys_keysym(&k, XK_ccedilla, true, record, NULL));
    g_string_truncate(log_, 0);
    hv_vnc_keys_release_all(&k, record, NULL);
    g_assert_cmpstr(log_->str, ==, "-29 ");
    g_string_free(log_, TRUE);
}

static void test_vnc_keys_br(void)
{
    struct hv_vnc_keys k;
    log_ = g_string_new(NULL);
    hv_vnc_keys_init(&k, HV_KEYMAP_PT_BR);
    /* A US client types '/': on ABNT2 that is the extra key, without Shift. */
    g_assert_cmpstr(type(&k, '/', true), ==, "+89 ");
    g_assert_cmpstr(type(&k, '/', false), ==, "-89 ");
    /* A composed letter: the dead key, then the letter. */
    g_assert_cmpstr(type(&k, XK_aacute, true), ==, "+26 -26 +30 -30 ");
    g_assert_cmpstr(type(&k, XK_aacute, false), ==, "");
    g_assert_cmpstr(type(&k, XK_Atilde, true), ==, "+40 -40 +42 +30 -42 -30 ");
    /* AltGr symbols get the right Alt around them. */
    g_assert_cmpstr(type(&k, XK_degree, true), ==, "+100 +18 -100 ");
    g_assert_cmpstr(type(&k, XK_degree, false), ==, "-18 ");
    /* A client holding AltGr for it sends nothing extra. */
    g_assert_cmpstr(type(&k, XK_ISO_Level3_Shift, true), ==, "+100 ");
    g_assert_cmpstr(type(&k, XK_onesuperior, true), ==, "+2 ");
    g_assert_cmpstr(type(&k, XK_onesuperior, false), ==, "-2 ");
    g_assert_cmpstr(type(&k, XK_ISO_Level3_Shift, false), ==, "-100 ");
    g_assert_cmpstr(type(&k, XK_ccedilla, true), ==, "+39 ");
    g_string_free(log_, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/keymap/us-ascii", test_us_ascii);
    g_test_add_func("/keymap/common", test_common_keys);
    g_test_add_func("/keymap/abnt2", test_abnt2);
    g_test_add_func("/keymap/decompose", test_decompose);
    g_test_add_func("/keymap/xt", test_xt);
    g_test_add_func("/keymap/qcodes", test_qcodes);
    g_test_add_func("/keymap/key-bits", test_key_bits);
    g_test_add_func("/keymap/vnc-keys-us", test_vnc_keys_us);
    g_test_add_func("/keymap/vnc-keys-br", test_vnc_keys_br);
    return g_test_run();
}
