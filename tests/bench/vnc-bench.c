/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VNC benchmark: the real VNC server on a surface repainted nonstop, a libvncclient client. */
#include <rfb/rfbclient.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "display/vnc.h"

/*
 * vnc-bench [SECONDS] [WIDTH HEIGHT]
 * One process: a surface of WIDTHxHEIGHT (1280x800) whose every pixel changes 100 times
 * a second (main loop), the VNC server on a unix socket, and a client thread that keeps
 * one incremental update request outstanding. Phase 1 counts full-screen updates the
 * client receives per second. Phase 2: the client presses a key; the sink paints a marker
 * block at (0,0) in a colour of its own (the repaint spares that block); the client
 * measures send-to-pixel time. Prints "updates_per_s=N latency_median_ms=M
 * latency_max_ms=X samples=K encoding=raw".
 */

#define REPAINT_MS 10
#define MARK 16
#define SAMPLES 30

static uint32_t *pixels;
static uint32_t width = 1280, height = 800;
static struct hv_surface *surface;
static unsigned frame;
static volatile uint32_t marker = 0x000000;
static gint done;
static char *sock_path;
static double seconds = 5;

/* Repaints everything but the marker block: a full-screen change each time. */
static gboolean repaint(gpointer opaque)
{
    (void)opaque;
    uint32_t c = (frame++ & 1) ? 0x203040 : 0x405060;
    for (uint32_t y = 0; y < height; y++) {
        uint32_t *row = pixels + (size_t)y * width;
        for (uint32_t x = y < MARK ? MARK : 0; x < width; x++)
            row[x] = c;
    }
    hv_surface_damage(surface, 0, 0, width, height);
    return G_SOURCE_CONTINUE;
}

static void on_key(void *opaque, uint16_t code, bool down)
{
    (void)opaque;
    if (!down)
        return;
    marker = code == 30 ? 0xff00ff : 0x00ffff; /* KEY_A: magenta, else cyan */
    for (uint32_t y = 0; y < MARK; y++)
        for (uint32_t x = 0; x < MARK; x++)
            pixels[(size_t)y * width + x] = marker;
    hv_surface_damage(surface, 0, 0, MARK, MARK);
}

static void on_pointer(void *opaque, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t b)
{
    (void)opaque, (void)x, (void)y, (void)w, (void)h, (void)b;
}

/* ---- client ---- */

static unsigned full_updates;
static bool got_frame;
static int rect_area;

static void got_rect(rfbClient *c, int x, int y, int w, int h)
{
    (void)c, (void)x, (void)y;
    rect_area += w * h;
}

static void finished(rfbClient *c)
{
    if (rect_area >= c->width * c->height)
        full_updates++;
    rect_area = 0;
    got_frame = true;
}

static void quiet(const char *format, ...)
{
    (void)format;
}

static bool one_frame(rfbClient *c)
{
    got_frame = false;
    SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height, TRUE);
    while (!got_frame) {
        int r = WaitForMessage(c, 1000000);
        if (r < 0 || (r > 0 && !HandleRFBServerMessage(c)))
            return false;
    }
    return true;
}

static uint32_t pixel00(rfbClient *c)
{
    const uint8_t *p = c->frameBuffer;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static gpointer client_main(gpointer opaque)
{
    (void)opaque;
    rfbClientLog = rfbClientErr = quiet;
    rfbClient *c = rfbGetClient(8, 3, 4);
    free(c->serverHost);
    c->serverHost = strdup(sock_path);
    c->canHandleNewFBSize = TRUE;
    c->appData.encodingsString = "raw";
    c->GotFrameBufferUpdate = got_rect;
    c->FinishedFrameBufferUpdate = finished;
    if (!rfbInitClient(c, NULL, NULL)) {
        fprintf(stderr, "vnc-bench: cannot connect\n");
        exit(1);
    }
    /* Settle: the size marker, then a first full frame. */
    for (int i = 0; i < 5 || c->width != (int)width; i++)
        if (!one_frame(c))
            exit(1);

    full_updates = 0;
    gint64 t0 = g_get_monotonic_time(), end = t0 + (gint64)(seconds * G_USEC_PER_SEC);
    while (g_get_monotonic_time() < end)
        if (!one_frame(c))
            exit(1);
    double rate = full_updates / ((g_get_monotonic_time() - t0) / 1e6);

    double lat[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        uint32_t want = (i & 1) ? 0x00ffff : 0xff00ff;
        g_usleep(20000 + (i % 7) * 1700); /* land at different points of the repaint cycle */
        gint64 sent = g_get_monotonic_time();
        SendKeyEvent(c, (i & 1) ? 'b' : 'a', TRUE);
        SendKeyEvent(c, (i & 1) ? 'b' : 'a', FALSE);
        while (pixel00(c) != want)
            if (!one_frame(c))
                exit(1);
        lat[i] = (g_get_monotonic_time() - sent) / 1000.0;
    }
    qsort(lat, SAMPLES, sizeof(lat[0]), cmp_double);
    printf("updates_per_s=%.1f latency_median_ms=%.2f latency_max_ms=%.2f samples=%d "
           "encoding=raw size=%ux%u\n", rate, (lat[SAMPLES / 2 - 1] + lat[SAMPLES / 2]) / 2,
           lat[SAMPLES - 1], SAMPLES, width, height);
    fflush(stdout);
    free(c->frameBuffer);
    c->frameBuffer = NULL;
    rfbClientCleanup(c);
    g_atomic_int_set(&done, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atof(argv[1]);
    if (argc > 3) {
        width = (uint32_t)atoi(argv[2]);
        height = (uint32_t)atoi(argv[3]);
    }
    g_autofree char *dir = g_dir_make_tmp("vmdesk-vnc-bench-XXXXXX", NULL);
    sock_path = g_build_filename(dir, "vnc.sock", NULL);
    pixels = g_new0(uint32_t, (size_t)width * height);
    surface = hv_surface_new();
    hv_surface_set_mode(surface, width, height, width * 4, (uint8_t *)pixels);

    struct hv_vnc_spec spec;
    char *err = NULL;
    g_autofree char *text = g_strdup_printf("unix:%s", sock_path);
    if (hv_vnc_spec_parse(text, &spec, &err) < 0)
        g_error("%s", err);
    struct hv_input_sink sink = {.key = on_key, .pointer = on_pointer};
    struct hv_vnc *vnc = hv_vnc_new(&spec, surface, &sink, &err);
    if (!vnc)
        g_error("%s", err);
    hv_vnc_spec_clear(&spec);

    g_timeout_add(REPAINT_MS, repaint, NULL);
    GThread *client = g_thread_new("client", client_main, NULL);
    while (!g_atomic_int_get(&done))
        g_main_context_iteration(NULL, TRUE);
    g_thread_join(client);
    hv_vnc_free(vnc);
    hv_surface_free(surface);
    g_free(pixels);
    g_rmdir(dir);
    g_free(sock_path);
    return 0;
}
