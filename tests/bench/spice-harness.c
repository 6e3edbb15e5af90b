/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SPICE benchmark's server side: the real SPICE server on a surface repainted nonstop. */
#include <glib-unix.h>
#include <glib.h>
#include <linux/input-event-codes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "display/spice.h"
#include "display/surface.h"

/*
 * spice-harness SOCKET [WIDTH HEIGHT]
 * Serves SPICE on unix:SOCKET (ticketing off) from a surface that a "device" repaints in
 * full every 8 ms, faster than the surface's 60 Hz delivery, so every frame a client gets
 * is a full-screen update. Each pixel is 0x40GGBB: BB counts frames, GG the KEY_A presses
 * the input sink has seen; a key press repaints at once, so a client measures
 * key-to-pixel latency by waiting for GG to change. Runs until SIGTERM or SIGINT.
 */

#define PAINT_MS 8

struct harness {
    struct hv_surface *surface;
    uint32_t *pixels;
    uint32_t width, height;
    uint8_t frame, keys;
    GMainLoop *loop;
};

static void paint(struct harness *h)
{
    uint32_t px = 0x400000u | (uint32_t)h->keys << 8 | h->frame++;
    size_t n = (size_t)h->width * h->height;
    for (size_t i = 0; i < n; i++)
        h->pixels[i] = px;
    hv_surface_damage(h->surface, 0, 0, h->width, h->height);
}

static gboolean on_paint(gpointer data)
{
    paint(data);
    return G_SOURCE_CONTINUE;
}

static void on_key(void *opaque, uint16_t code, bool down)
{
    struct harness *h = opaque;
    if (code == KEY_A && down) {
        h->keys++;
        paint(h);
    }
}

static void on_pointer(void *opaque, uint32_t x, uint32_t y, uint32_t w, uint32_t hh,
                       uint32_t buttons)
{
    (void)opaque, (void)x, (void)y, (void)w, (void)hh, (void)buttons;
}

static gboolean on_signal(gpointer data)
{
    struct harness *h = data;
    g_main_loop_quit(h->loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    struct harness h = {.width = 1280, .height = 800};
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: spice-harness SOCKET [WIDTH HEIGHT]\n");
        return 2;
    }
    if (argc == 4) {
        h.width = (uint32_t)atoi(argv[2]);
        h.height = (uint32_t)atoi(argv[3]);
        if (!h.width || !h.height || h.width > HV_SURFACE_MAX_WIDTH ||
            h.height > HV_SURFACE_MAX_HEIGHT) {
            fprintf(stderr, "spice-harness: bad size %ux%u\n", h.width, h.height);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    h.loop = g_main_loop_new(NULL, FALSE);
    h.surface = hv_surface_new();
    h.pixels = g_new0(uint32_t, (size_t)h.width * h.height);
    hv_surface_set_mode(h.surface, h.width, h.height, h.width * 4, (uint8_t *)h.pixels);

    g_autofree char *spec_text = g_strdup_printf("unix:%s,ticketing=off", argv[1]);
    struct hv_spice_spec spec;
    char *err = NULL;
    if (hv_spice_spec_parse(spec_text, &spec, &err) < 0) {
        fprintf(stderr, "spice-harness: %s\n", err);
        return 2;
    }
    struct hv_spice *spice = hv_spice_new(&spec, h.surface, "bench", &err);
    hv_spice_spec_clear(&spec);
    if (!spice) {
        fprintf(stderr, "spice-harness: %s\n", err);
        return 1;
    }
    struct hv_input_sink sink = {.key = on_key, .pointer = on_pointer, .opaque = &h};
    hv_spice_set_input(spice, &sink);

    g_timeout_add(PAINT_MS, on_paint, &h);
    g_unix_signal_add(SIGTERM, on_signal, &h);
    g_unix_signal_add(SIGINT, on_signal, &h);
    printf("spice-harness: serving %ux%u on %s\n", h.width, h.height, argv[1]);
    fflush(stdout);
    g_main_loop_run(h.loop);

    hv_spice_free(spice);
    hv_surface_free(h.surface);
    g_free(h.pixels);
    g_main_loop_unref(h.loop);
    return 0;
}
