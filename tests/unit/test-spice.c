/* SPDX-License-Identifier: GPL-3.0-or-later */
/* --spice parsing, the XT scancode stream decoder (SPICE's keys), the SDL key table. */
#include <glib.h>
#include <linux/input-event-codes.h>
#include <SDL2/SDL_scancode.h>
#include <errno.h>
#include <string.h>

#include "display/endpoint.h"
#include "display/keymap-xt.h"
#include "display/sdl.h"
#include "display/spice.h"

struct ev {
    uint16_t code;
    bool down;
};

/* Feeds bytes; returns how many events came out (into out[]). */
static unsigned feed(struct hv_xt_decoder *d, const uint8_t *bytes, unsigned n, struct ev *out)
{
    unsigned got = 0;
    for (unsigned i = 0; i < n; i++) {
        uint16_t code;
        bool down;
        if (hv_xt_decode(d, bytes[i], &code, &down))
            out[got++] = (struct ev){code, down};
    }
    return got;
}

static void test_xt_stream(void)
{
    struct hv_xt_decoder d = {0};
    struct ev ev[8];

    /* A, then its release. */
    g_assert_cmpuint(feed(&d, (const uint8_t[]){0x1e, 0x9e}, 2, ev), ==, 2);
    g_assert_cmpuint(ev[0].code, ==, KEY_A);
    g_assert_true(ev[0].down);
    g_assert_cmpuint(ev[1].code, ==, KEY_A);
    g_assert_false(ev[1].down);

    /* The prefix applies to the next byte only: E0 1D is right ctrl, then 1D is left. */
    g_assert_cmpuint(feed(&d, (const uint8_t[]){0xe0, 0x1d, 0x1d, 0xe0, 0x9d}, 5, ev), ==, 3);
    g_assert_cmpuint(ev[0].code, ==, KEY_RIGHTCTRL);
    g_assert_cmpuint(ev[1].code, ==, KEY_LEFTCTRL);
    g_assert_cmpuint(ev[2].code, ==, KEY_RIGHTCTRL);
    g_assert_false(ev[2].down);

    /* Arrows, the navigation block, the ABNT2 keys. */
    g_assert_cmpuint(feed(&d, (const uint8_t[]){0xe0, 0x48, 0xe0, 0x53, 0x73, 0x7e}, 6, ev),
                     ==, 4);
    g_assert_cmpuint(ev[0].code, ==, KEY_UP);
    g_assert_cmpuint(ev[1].code, ==, KEY_DELETE);
    g_assert_cmpuint(ev[2].code, ==, KEY_RO);
    g_assert_cmpuint(ev[3].code, ==, KEY_KPCOMMA);

    /* Print Screen's fake shift (E0 2A) makes no event; E0 37 is the key. */
    g_assert_cmpuint(feed(&d, (const uint8_t[]){0xe0, 0x2a, 0xe0, 0x37}, 4, ev), ==, 1);
    g_assert_cmpuint(ev[0].code, ==, KEY_SYSRQ);

    /* Pause: E1 1D 45 on press, E1 9D C5 on release; nothing in between leaks out. */
    g_assert_cmpuint(feed(&d, (const uint8_t[]){0xe1, 0x1d, 0x45}, 3, ev), ==, 1);
    g_assert_cmpuint(ev[0].code, ==, KEY_PAUSE);
    g_assert_true(ev[0].down);
    g_assert_cmpuint(feed(&d, (const uint8_t[]){0xe1, 0x9d, 0xc5}, 3, ev), ==, 1);
    g_assert_cmpuint(ev[0].code, ==, KEY_PAUSE);
    g_assert_false(ev[0].down);
    /* ...and the decoder is back to plain codes. */
    g_assert_cmpuint(feed(&d, (const uint8_t[]){0x1c}, 1, ev), ==, 1);
    g_assert_cmpuint(ev[0].code, ==, KEY_ENTER);

    /* Codes with no key are dropped; garbage never yields code 0. */
    g_assert_cmpuint(feed(&d, (const uint8_t[]){0x00, 0x80, 0x5a, 0xe0, 0x7f}, 5, ev), ==, 0);
    for (unsigned b = 0; b < 256; b++) {
        uint16_t code = 0xffff;
        bool down;
        if (hv_xt_decode(&d, (uint8_t)b, &code, &down))
            g_assert_cmpuint(code, !=, 0);
    }
}

static void test_spice_spec(void)
{
    struct hv_spice_spec spec;
    char *err = NULL;

    g_assert_cmpint(hv_spice_spec_parse("unix:/run/vm.spice", &spec, &err), ==, 0);
    g_assert_cmpint(spec.ep.kind, ==, HV_ENDPOINT_UNIX);
    g_assert_cmpstr(spec.ep.path, ==, "/run/vm.spice");
    g_assert_false(spec.no_ticketing);
    hv_spice_spec_clear(&spec);

    g_assert_cmpint(hv_spice_spec_parse("127.0.0.1:5930,ticketing=off", &spec, &err), ==, 0);
    g_assert_cmpint(spec.ep.kind, ==, HV_ENDPOINT_TCP);
    g_assert_cmpstr(spec.ep.host, ==, "127.0.0.1");
    g_assert_cmpuint(spec.ep.port, ==, 5930);
    g_assert_true(spec.no_ticketing);
    hv_spice_spec_clear(&spec);

    /* A bare port stays on loopback; other addresses only when named. */
    g_assert_cmpint(hv_spice_spec_parse("5930", &spec, &err), ==, 0);
    g_assert_cmpstr(spec.ep.host, ==, "127.0.0.1");
    hv_spice_spec_clear(&spec);
    g_assert_cmpint(hv_spice_spec_parse("[::1]:5930", &spec, &err), ==, 0);
    g_assert_cmpstr(spec.ep.host, ==, "::1");
    hv_spice_spec_clear(&spec);
    g_assert_cmpint(hv_spice_spec_parse("0.0.0.0:5930", &spec, &err), ==, 0);
    g_assert_cmpstr(spec.ep.host, ==, "0.0.0.0");
    hv_spice_spec_clear(&spec);

    static const char *const bad[] = {
        "", "unix:", "spice", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", ":5930",
        "::1:5930", "[::1]5930", "example.com:5930", "unix:/x,ticketing=maybe",
        "unix:/x,password=on",
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        err = NULL;
        g_assert_cmpint(hv_spice_spec_parse(bad[i], &spec, &err), ==, -EINVAL);
        g_assert_nonnull(err);
        /* One line that names the flag. */
        g_assert_true(g_str_has_prefix(err, "--spice"));
        g_assert_null(strchr(err, '\n'));
        g_free(err);
    }
    /* A unix path longer than sun_path fits. */
    g_autofree char *longp = g_strdup_printf("unix:/%0200d", 0);
    err = NULL;
    g_assert_cmpint(hv_spice_spec_parse(longp, &spec, &err), ==, -EINVAL);
    g_assert_nonnull(strstr(err, "too long"));
    g_free(err);
}

static void test_sdl_keys(void)
{
    g_assert_cmpuint(hv_keymap_sdl_to_linux(SDL_SCANCODE_A), ==, KEY_A);
    g_assert_cmpuint(hv_keymap_sdl_to_linux(SDL_SCANCODE_RETURN), ==, KEY_ENTER);
    g_assert_cmpuint(hv_keymap_sdl_to_linux(SDL_SCANCODE_RALT), ==, KEY_RIGHTALT);
    g_assert_cmpuint(hv_keymap_sdl_to_linux(SDL_SCANCODE_KP_ENTER), ==, KEY_KPENTER);
    g_assert_cmpuint(hv_keymap_sdl_to_linux(SDL_SCANCODE_NONUSBACKSLASH), ==, KEY_102ND);
    /* ABNT2: / ? beside right shift, the keypad's extra key, the C-cedilla key. */
    g_assert_cmpuint(hv_keymap_sdl_to_linux(SDL_SCANCODE_INTERNATIONAL1), ==, KEY_RO);
    g_assert_cmpuint(hv_keymap_sdl_to_linux(SDL_SCANCODE_KP_COMMA), ==, KEY_KPCOMMA);
    g_assert_cmpuint(hv_keymap_sdl_to_linux(SDL_SCANCODE_SEMICOLON), ==, KEY_SEMICOLON);
    g_assert_cmpuint(hv_keymap_sdl_to_linux(SDL_SCANCODE_UNKNOWN), ==, 0);
    g_assert_cmpuint(hv_keymap_sdl_to_linux(100000), ==, 0);
    /* Every letter and digit key has a code, and no two keys share one. */
    uint8_t seen[KEY_CNT] = {0};
    for (unsigned sc = 0; sc < SDL_NUM_SCANCODES; sc++) {
        uint16_t code = hv_keymap_sdl_to_linux(sc);
        if (!code || sc == SDL_SCANCODE_NONUSHASH)
            continue;
        g_assert_cmpuint(code, <, KEY_CNT);
        g_assert_cmpuint(seen[code], ==, 0);
        seen[code] = 1;
    }
    for (unsigned sc = SDL_SCANCODE_A; sc <= SDL_SCANCODE_0; sc++)
        g_assert_cmpuint(hv_keymap_sdl_to_linux(sc), !=, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/spice/xt-stream", test_xt_stream);
    g_test_add_func("/spice/spec", test_spice_spec);
    g_test_add_func("/sdl/keys", test_sdl_keys);
    return g_test_run();
}
