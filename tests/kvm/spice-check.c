/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A SPICE client (spice-client-glib) for the kvm tier and the benchmark: checks what it sees. */
#include <glib.h>
#include <spice-client.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * spice-check URI PASSWORD MODE [ARGS...]
 *   blocks W H X,Y,RRGGBB...  the primary surface becomes W x H with these pixels; then a
 *                             key press and release and a pointer move are sent
 *   refused                   the server refuses the client (wrong or no password)
 *   bench SECONDS             counts full-screen updates a second, and measures key-press
 *                             to pixel latency against tests/bench/spice-harness (after a
 *                             second's warm-up)
 * PASSWORD "-" gives none. Exit 0: as expected; 1: not (one line says what); 2: usage.
 */

#define TIMEOUT_S 20
#define SCANCODE_A 0x1e
/* bench: what arrives in the first second after connecting is not counted (bench_update). */
#define WARMUP_US G_USEC_PER_SEC
/* bench: one frame at the target rate, 60 Hz (bench_done). */
#define FRAME_US (G_USEC_PER_SEC / 60)

enum mode { MODE_BLOCKS, MODE_REFUSED, MODE_BENCH };

struct pixel {
    int x, y;
    guint32 rgb;
};

struct check {
    enum mode mode;
    GMainLoop *loop;
    SpiceSession *session;
    SpiceChannel *display;
    SpiceInputsChannel *inputs;
    SpiceChannel *main_channel;
    bool inputs_ready, inputs_wanted;
    int status;
    char *why;

    int want_w, want_h;
    struct pixel *pixels;
    unsigned nr_pixels;
    bool matched;

    /* bench */
    double seconds;
    gint64 warmup_us, start_us, last_us;
    unsigned full_updates, all_updates;
    int width, height;
    guint8 keys_sent;
    gint64 key_sent_us;
    bool key_pending;
    GArray *latencies_us;
    unsigned key_rounds;
};

static void finish(struct check *c, int status, char *why)
{
    if (c->why)
        g_free(why);
    else {
        c->status = status;
        c->why = why;
    }
    g_main_loop_quit(c->loop);
}

static bool primary(struct check *c, SpiceDisplayPrimary *p)
{
    return c->display && spice_display_channel_get_primary(c->display, 0, p) && p->data;
}

static guint32 pixel_at(const SpiceDisplayPrimary *p, int x, int y)
{
    const guint8 *px = p->data + (gsize)y * p->stride + (gsize)x * 4;
    return (guint32)px[2] << 16 | (guint32)px[1] << 8 | px[0]; /* B, G, R, X */
}

static gboolean after_input(gpointer data)
{
    struct check *c = data;
    finish(c, 0, g_strdup("blocks ok"));
    return G_SOURCE_REMOVE;
}

/* Once the blocks are seen and the inputs channel is up (it may come after the display). */
static void send_inputs(struct check *c)
{
    if (!c->inputs_wanted || !c->inputs_ready)
        return;
    c->inputs_wanted = false;
    /* The tiny guest has no input driver: this only shows the VMM takes input calmly. */
    spice_inputs_channel_key_press(c->inputs, SCANCODE_A);
    spice_inputs_channel_key_release(c->inputs, SCANCODE_A);
    spice_inputs_channel_key_press(c->inputs, 0xe01d); /* right ctrl: an 0xE0 code */
    spice_inputs_channel_key_release(c->inputs, 0xe01d);
    /* Enough events to overflow a driverless guest's queue, so that the VMM counts
       them as dropped: the test's proof that they arrived. */
    for (int i = 0; i < 150; i++) {
        spice_inputs_channel_key_press(c->inputs, SCANCODE_A);
        spice_inputs_channel_key_release(c->inputs, SCANCODE_A);
        /* Positions are coalesced by the client; clicks are sent one by one. */
        spice_inputs_channel_button_press(c->inputs, SPICE_MOUSE_BUTTON_LEFT,
                                          SPICE_MOUSE_BUTTON_MASK_LEFT);
        spice_inputs_channel_button_release(c->inputs, SPICE_MOUSE_BUTTON_LEFT, 0);
    }
    spice_inputs_channel_position(c->inputs, 10, 10, 0, 0);
    spice_inputs_channel_button_press(c->inputs, SPICE_MOUSE_BUTTON_LEFT,
                                      SPICE_MOUSE_BUTTON_MASK_LEFT);
    spice_inputs_channel_button_release(c->inputs, SPICE_MOUSE_BUTTON_LEFT, 0);
}

static void check_blocks(struct check *c)
{
    SpiceDisplayPrimary p;
    if (c->matched || !primary(c, &p) || p.width != c->want_w || p.height != c->want_h)
        return;
    for (unsigned i = 0; i < c->nr_pixels; i++)
        if (pixel_at(&p, c->pixels[i].x, c->pixels[i].y) != c->pixels[i].rgb)
            return;
    c->matched = true;
    int mouse_mode = 0;
    if (c->main_channel)
        g_object_get(c->main_channel, "mouse-mode", &mouse_mode, NULL);
    printf("spice-check: %dx%d, %u pixels as expected; mouse mode %s\n", p.width, p.height,
           c->nr_pixels, mouse_mode == SPICE_MOUSE_MODE_CLIENT ? "client" : "server");
    c->inputs_wanted = true;
    send_inputs(c);
    g_timeout_add(1500, after_input, c); /* time to send them all before we go */
}

static void send_bench_key(struct check *c)
{
    if (!c->inputs || !c->inputs_ready || c->key_pending)
        return;
    c->keys_sent++;
    c->key_pending = true;
    c->key_sent_us = g_get_monotonic_time();
    spice_inputs_channel_key_press(c->inputs, SCANCODE_A);
    spice_inputs_channel_key_release(c->inputs, SCANCODE_A);
}

static gboolean bench_key_timer(gpointer data)
{
    struct check *c = data;
    send_bench_key(c);
    return G_SOURCE_CONTINUE;
}

static gboolean bench_done(gpointer data)
{
    struct check *c = data;
    /*
     * The rate over the span from the first full-screen update measured to the last, so a
     * steady 60 Hz stream reads 60.0 whatever its phase against this timer. A stall at the
     * end still counts: the span reaches to now, less the one frame that may be on its way.
     */
    gint64 span =
        MAX(c->last_us - c->start_us, g_get_monotonic_time() - c->start_us - (gint64)FRAME_US);
    double secs = (double)MAX(span, 1) / 1e6;
    double fps = c->full_updates / secs;
    gint64 median = -1, worst = -1;
    if (c->latencies_us->len) {
        gint64 *v = (gint64 *)(void *)c->latencies_us->data;
        for (guint i = 1; i < c->latencies_us->len; i++) /* insertion sort: few values */
            for (guint j = i; j > 0 && v[j - 1] > v[j]; j--) {
                gint64 t = v[j];
                v[j] = v[j - 1];
                v[j - 1] = t;
            }
        median = v[c->latencies_us->len / 2];
        worst = v[c->latencies_us->len - 1];
    }
    printf("bench: %dx%d full-screen updates %u in %.2f s = %.1f/s (all updates %u); "
           "key-to-pixel latency median %.1f ms, worst %.1f ms over %u keys\n",
           c->width, c->height, c->full_updates, secs, fps, c->all_updates, median / 1000.0,
           worst / 1000.0, c->latencies_us->len);
    printf("result fps=%.1f latency_median_ms=%.1f latency_worst_ms=%.1f\n", fps,
           median / 1000.0, worst / 1000.0);
    finish(c, c->latencies_us->len && c->full_updates ? 0 : 1,
           g_strdup(c->full_updates ? "bench done" : "no updates arrived"));
    return G_SOURCE_REMOVE;
}

static void bench_update(struct check *c, int x, int y, int w, int h)
{
    SpiceDisplayPrimary p;
    if (!primary(c, &p))
        return;
    c->width = p.width;
    c->height = p.height;
    gint64 now = g_get_monotonic_time();
    bool full = x == 0 && y == 0 && w == p.width && h == p.height;
    /*
     * The first updates after connecting are a backlog (the surface's image, the draws
     * queued while the channel came up) arriving a few ms apart: counted, they would add
     * frames the 60 Hz source never made in that time. Measuring starts with the first
     * full-screen update a second after the first one.
     */
    if (!c->warmup_us) {
        if (full)
            c->warmup_us = now;
        return;
    }
    if (!c->start_us) {
        if (!full || now - c->warmup_us < WARMUP_US)
            return;
        c->start_us = c->last_us = now;
        /* Other clients may have pressed keys before us: count on from the harness's. */
        c->keys_sent = (pixel_at(&p, 0, 0) >> 8) & 0xff;
        g_timeout_add((guint)(c->seconds * 1000), bench_done, c);
        g_timeout_add(97, bench_key_timer, c);
        return;
    }
    c->all_updates++;
    if (full) {
        c->full_updates++;
        c->last_us = now;
    }
    /* The harness paints the number of keys it has seen into the green channel. */
    if (c->key_pending && ((pixel_at(&p, 0, 0) >> 8) & 0xff) == c->keys_sent) {
        gint64 d = g_get_monotonic_time() - c->key_sent_us;
        g_array_append_val(c->latencies_us, d);
        c->key_pending = false;
    }
}

static void on_invalidate(SpiceChannel *ch, gint x, gint y, gint w, gint h, gpointer data)
{
    struct check *c = data;
    (void)ch;
    if (c->mode == MODE_BLOCKS)
        check_blocks(c);
    else if (c->mode == MODE_BENCH)
        bench_update(c, x, y, w, h);
}

static void on_channel_event(SpiceChannel *ch, SpiceChannelEvent ev, gpointer data)
{
    struct check *c = data;
    bool main_ch = SPICE_IS_MAIN_CHANNEL(ch);
    if (ev == SPICE_CHANNEL_ERROR_AUTH) {
        if (c->mode == MODE_REFUSED)
            finish(c, 0, g_strdup("refused as expected"));
        else
            finish(c, 1, g_strdup("the server refused the password"));
    } else if (ev == SPICE_CHANNEL_OPENED && SPICE_IS_INPUTS_CHANNEL(ch)) {
        c->inputs_ready = true;
        send_inputs(c);
    } else if (ev == SPICE_CHANNEL_OPENED && main_ch && c->mode == MODE_REFUSED) {
        finish(c, 1, g_strdup("the server let a client in without the password"));
    } else if (ev >= SPICE_CHANNEL_ERROR_CONNECT || (ev == SPICE_CHANNEL_CLOSED && main_ch)) {
        finish(c, 1, g_strdup_printf("%s channel: event %d", g_type_name(G_OBJECT_TYPE(ch)),
                                     ev));
    }
}

static void on_channel_new(SpiceSession *s, SpiceChannel *ch, gpointer data)
{
    struct check *c = data;
    (void)s;
    g_signal_connect(ch, "channel-event", G_CALLBACK(on_channel_event), c);
    if (SPICE_IS_DISPLAY_CHANNEL(ch)) {
        c->display = ch;
        g_signal_connect(ch, "display-invalidate", G_CALLBACK(on_invalidate), c);
    } else if (SPICE_IS_MAIN_CHANNEL(ch)) {
        c->main_channel = ch;
    } else if (SPICE_IS_INPUTS_CHANNEL(ch)) {
        c->inputs = SPICE_INPUTS_CHANNEL(ch);
    }
    if (!SPICE_IS_MAIN_CHANNEL(ch))
        spice_channel_connect(ch);
}

static gboolean on_timeout(gpointer data)
{
    struct check *c = data;
    if (c->mode == MODE_BLOCKS) {
        SpiceDisplayPrimary p;
        GString *s = g_string_new("timed out: ");
        if (!primary(c, &p))
            g_string_append(s, "no primary surface");
        else {
            g_string_append_printf(s, "primary %dx%d;", p.width, p.height);
            for (unsigned i = 0; i < c->nr_pixels; i++)
                if (c->pixels[i].x < p.width && c->pixels[i].y < p.height)
                    g_string_append_printf(s, " (%d,%d)=%06x want %06x", c->pixels[i].x,
                                           c->pixels[i].y,
                                           pixel_at(&p, c->pixels[i].x, c->pixels[i].y),
                                           c->pixels[i].rgb);
        }
        finish(c, 1, g_string_free(s, FALSE));
    } else {
        finish(c, 1, g_strdup("timed out"));
    }
    return G_SOURCE_REMOVE;
}

static int usage(void)
{
    fprintf(stderr, "usage: spice-check URI PASSWORD (blocks W H X,Y,RRGGBB... | refused | "
                    "bench SECONDS)\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct check c = {.status = 1};
    if (argc < 4)
        return usage();
    const char *mode = argv[3];
    if (!strcmp(mode, "blocks") && argc >= 7) {
        c.mode = MODE_BLOCKS;
        c.want_w = atoi(argv[4]);
        c.want_h = atoi(argv[5]);
        c.nr_pixels = (unsigned)(argc - 6);
        c.pixels = g_new0(struct pixel, c.nr_pixels);
        for (unsigned i = 0; i < c.nr_pixels; i++)
            if (sscanf(argv[6 + i], "%d,%d,%x", &c.pixels[i].x, &c.pixels[i].y,
                       &c.pixels[i].rgb) != 3)
                return usage();
    } else if (!strcmp(mode, "refused")) {
        c.mode = MODE_REFUSED;
    } else if (!strcmp(mode, "bench") && argc == 5) {
        c.mode = MODE_BENCH;
        c.seconds = atof(argv[4]);
        c.latencies_us = g_array_new(FALSE, FALSE, sizeof(gint64));
    } else {
        return usage();
    }

    c.loop = g_main_loop_new(NULL, FALSE);
    c.session = spice_session_new();
    g_object_set(c.session, "uri", argv[1], NULL);
    if (strcmp(argv[2], "-") != 0)
        g_object_set(c.session, "password", argv[2], NULL);
    g_signal_connect(c.session, "channel-new", G_CALLBACK(on_channel_new), &c);
    if (!spice_session_connect(c.session)) {
        fprintf(stderr, "spice-check: cannot connect to %s\n", argv[1]);
        return 1;
    }
    g_timeout_add_seconds(c.mode == MODE_BENCH ? TIMEOUT_S + 1 + (guint)c.seconds : TIMEOUT_S,
                          on_timeout, &c);
    g_main_loop_run(c.loop);
    printf("spice-check: %s\n", c.why ? c.why : "?");
    spice_session_disconnect(c.session);
    g_object_unref(c.session);
    g_main_loop_unref(c.loop);
    g_free(c.pixels);
    if (c.latencies_us)
        g_array_free(c.latencies_us, TRUE);
    g_free(c.why);
    return c.status;
}
