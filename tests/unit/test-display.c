/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The shared surface (merging, delivery), the EDID block and bochs-display's registers. */
#include <glib.h>
#include <string.h>

#include "devices/bochs-display.h"
#include "devices/edid.h"
#include "display/surface.h"

static struct hv_rect R(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    return (struct hv_rect){x, y, w, h};
}

static void test_merge_adjacent_rows(void)
{
    struct hv_rect list[8];
    unsigned n = 0;
    for (uint32_t y = 0; y < 100; y++)
        n = hv_rect_merge(list, n, 8, R(0, y, 640, 1));
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(list[0].y, ==, 0);
    g_assert_cmpuint(list[0].h, ==, 100);
    g_assert_cmpuint(list[0].w, ==, 640);
}

static void test_merge_far_apart(void)
{
    struct hv_rect list[8];
    unsigned n = 0;
    n = hv_rect_merge(list, n, 8, R(0, 0, 10, 10));
    n = hv_rect_merge(list, n, 8, R(1000, 700, 10, 10));
    g_assert_cmpuint(n, ==, 2); /* uniting them would repaint a whole screen */
    n = hv_rect_merge(list, n, 8, R(2, 2, 3, 3)); /* inside the first */
    g_assert_cmpuint(n, ==, 2);
    n = hv_rect_merge(list, n, 8, R(0, 0, 0, 5)); /* empty */
    g_assert_cmpuint(n, ==, 2);
}

static void test_merge_full_list(void)
{
    struct hv_rect list[4];
    unsigned n = 0;
    for (uint32_t i = 0; i < 20; i++)
        n = hv_rect_merge(list, n, 4, R(i * 100, i * 100, 10, 10));
    g_assert_cmpuint(n, <=, 4);
    /* Every rectangle given is still covered by one in the list. */
    for (uint32_t i = 0; i < 20; i++) {
        bool covered = false;
        for (unsigned k = 0; k < n; k++)
            covered |= list[k].x <= i * 100 && list[k].y <= i * 100 &&
                       list[k].x + list[k].w >= i * 100 + 10 &&
                       list[k].y + list[k].h >= i * 100 + 10;
        g_assert_true(covered);
    }
}

static void test_merge_chain(void)
{
    /* A rectangle bridging two others unites all three. */
    struct hv_rect list[8];
    unsigned n = 0;
    n = hv_rect_merge(list, n, 8, R(0, 0, 100, 10));
    n = hv_rect_merge(list, n, 8, R(0, 20, 100, 10));
    g_assert_cmpuint(n, ==, 2);
    n = hv_rect_merge(list, n, 8, R(0, 5, 100, 20));
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(list[0].h, ==, 30);
}

/* ---- listener delivery ---- */

struct seen {
    GString *log;
    unsigned modes, damages;
    struct hv_rect last[16];
    unsigned nlast;
};

static void on_mode(void *opaque, uint32_t w, uint32_t h)
{
    struct seen *s = opaque;
    s->modes++;
    g_string_append_printf(s->log, "mode %ux%u;", w, h);
}

static void on_damage(void *opaque, const struct hv_rect *r, unsigned n)
{
    struct seen *s = opaque;
    s->damages++;
    s->nlast = n;
    memcpy(s->last, r, n * sizeof(*r));
    g_string_append_printf(s->log, "damage %u;", n);
}

static const struct hv_surface_listener listener = {.mode = on_mode, .damage = on_damage};

static void run_until(bool (*cond)(struct seen *), struct seen *s)
{
    gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    while (!cond(s) && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
}

static bool has_damage(struct seen *s)
{
    return s->damages > 0;
}

static void test_surface_delivery(void)
{
    struct hv_surface *surf = hv_surface_new();
    struct seen s = {.log = g_string_new(NULL)};
    static uint8_t pixels[64 * 32 * 4];

    unsigned id = hv_surface_add_listener(surf, &listener, &s);
    g_assert_cmpuint(s.modes, ==, 0); /* no mode yet: nothing on registration */
    hv_surface_damage(surf, 0, 0, 10, 10); /* no mode: dropped */
    hv_surface_set_mode(surf, 64, 32, 64 * 4, pixels);
    hv_surface_damage(surf, 60, 30, 100, 100); /* clipped */
    run_until(has_damage, &s);
    /* The mode first, then its damage (the whole new screen, which covers the rest). */
    g_assert_cmpstr(s.log->str, ==, "mode 64x32;damage 1;");
    g_assert_cmpuint(s.last[0].w, ==, 64);
    g_assert_cmpuint(s.last[0].h, ==, 32);

    /* Continuous damage is coalesced: many calls, few deliveries. */
    s.damages = 0;
    gint64 start = g_get_monotonic_time();
    for (unsigned i = 0; i < 2000; i++) {
        hv_surface_damage(surf, i % 64, 0, 1, 1);
        g_main_context_iteration(NULL, FALSE);
    }
    run_until(has_damage, &s);
    gint64 elapsed = g_get_monotonic_time() - start;
    g_assert_cmpuint(s.damages, >=, 1);
    g_assert_cmpuint(s.damages, <=, 2 + elapsed * 60 / G_USEC_PER_SEC);

    /* A late listener gets the current mode at once; a removed one gets nothing. */
    struct seen late = {.log = g_string_new(NULL)};
    unsigned id2 = hv_surface_add_listener(surf, &listener, &late);
    g_assert_cmpstr(late.log->str, ==, "mode 64x32;");
    hv_surface_remove_listener(surf, id);
    s.damages = 0;
    hv_surface_damage(surf, 1, 1, 2, 2);
    run_until(has_damage, &late);
    g_assert_cmpuint(late.damages, ==, 1);
    g_assert_cmpuint(late.last[0].x, ==, 1);
    g_assert_cmpuint(s.damages, ==, 0);

    /* Display off: mode 0x0. */
    hv_surface_set_mode(surf, 0, 0, 0, NULL);
    unsigned before = late.modes;
    gint64 end = g_get_monotonic_time() + G_USEC_PER_SEC;
    while (late.modes == before && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
    g_assert_true(g_str_has_suffix(late.log->str, "mode 0x0;"));
    uint32_t w, h, stride;
    const uint8_t *data;
    hv_surface_lock(surf, &w, &h, &stride, &data);
    g_assert_null(data);
    hv_surface_unlock(surf);

    hv_surface_remove_listener(surf, id2);
    hv_surface_free(surf);
    g_string_free(s.log, TRUE);
    g_string_free(late.log, TRUE);
}

/* A device thread that damages the surface every millisecond until told to stop. */
struct damager {
    struct hv_surface *surf;
    gint stop;
};

static gpointer damage_nonstop(gpointer opaque)
{
    struct damager *d = opaque;
    while (!g_atomic_int_get(&d->stop)) {
        hv_surface_damage(d->surf, 0, 0, 8, 8);
        g_usleep(1000);
    }
    return NULL;
}

struct frames {
    gint64 at[64];
    unsigned n;
};

static void frame_damage(void *opaque, const struct hv_rect *r, unsigned n)
{
    struct frames *f = opaque;
    (void)r, (void)n;
    if (f->n < G_N_ELEMENTS(f->at))
        f->at[f->n++] = g_get_monotonic_time();
}

static int cmp_gint64(const void *a, const void *b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return x < y ? -1 : x > y;
}

/*
 * Continuous damage comes out at the display's 60 Hz, not slower (a delay rounded up to
 * whole milliseconds made it 17+ ms a frame, ~57/s), damage after a quiet spell at once,
 * and an idle surface wakes nobody.
 */
static void test_surface_frame_rate(void)
{
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    struct hv_surface *surf = hv_surface_new();
    static uint8_t pixels[64 * 32 * 4];
    struct frames f = {0};
    static const struct hv_surface_listener l = {.damage = frame_damage};
    unsigned id = hv_surface_add_listener(surf, &l, &f);
    hv_surface_set_mode(surf, 64, 32, 64 * 4, pixels);

    struct damager d = {.surf = surf};
    GThread *t = g_thread_new("damager", damage_nonstop, &d);
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (f.n < G_N_ELEMENTS(f.at) && g_get_monotonic_time() < end)
        g_main_context_iteration(ctx, TRUE);
    g_atomic_int_set(&d.stop, 1);
    g_thread_join(t);
    g_assert_cmpuint(f.n, ==, G_N_ELEMENTS(f.at));
    /* The median gap: a loaded machine delays some wake-ups, not the frame grid. */
    gint64 gaps[G_N_ELEMENTS(f.at) - 2];
    for (unsigned i = 0; i < G_N_ELEMENTS(gaps); i++)
        gaps[i] = f.at[i + 2] - f.at[i + 1]; /* from the first frame after the mode's */
    qsort(gaps, G_N_ELEMENTS(gaps), sizeof(gaps[0]), cmp_gint64);
    gint64 median = gaps[G_N_ELEMENTS(gaps) / 2];
    g_test_message("median gap between deliveries: %" G_GINT64_FORMAT " us", median);
    g_assert_cmpint(median, >=, G_USEC_PER_SEC / 60 - 300);
    g_assert_cmpint(median, <=, G_USEC_PER_SEC / 60 + 250);

    /* Drain what the damager left, then idle: nothing is pending, however long we wait. */
    while (g_main_context_iteration(ctx, FALSE))
        ;
    g_usleep(40000);
    while (g_main_context_iteration(ctx, FALSE))
        ;
    g_usleep(40000);
    g_assert_false(g_main_context_pending(ctx));

    /* A frame after the last delivery, damage goes out in the very next iteration. */
    f.n = 0;
    hv_surface_damage(surf, 1, 1, 1, 1);
    g_main_context_iteration(ctx, TRUE);
    g_assert_cmpuint(f.n, ==, 1);

    hv_surface_remove_listener(surf, id);
    hv_surface_free(surf);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
}

/* Runs ctx until `more` deliveries came after the first `from` (false: 2 s passed). */
static bool wait_deliveries(GMainContext *ctx, struct frames *f, unsigned from, unsigned more)
{
    gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    while (f->n < from + more && g_get_monotonic_time() < end)
        g_main_context_iteration(ctx, TRUE);
    return f->n >= from + more;
}

/*
 * The frame grid keeps its phase through a stalled main loop. After a stall of 42 ms (two
 * and a half frames) the late delivery fills the slot that began last, and the next comes
 * when the following slot begins, some 8 ms later; a grid that started over at the late
 * one waited a whole frame, losing part of a frame at every stall.
 */
static void test_surface_grid_phase(void)
{
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    struct hv_surface *surf = hv_surface_new();
    static uint8_t pixels[64 * 32 * 4];
    struct frames f = {0};
    static const struct hv_surface_listener l = {.damage = frame_damage};
    unsigned id = hv_surface_add_listener(surf, &l, &f);
    hv_surface_set_mode(surf, 64, 32, 64 * 4, pixels);
    struct damager d = {.surf = surf};
    GThread *t = g_thread_new("damager", damage_nonstop, &d);

    gint64 gaps[7];
    for (unsigned i = 0; i < G_N_ELEMENTS(gaps); i++) {
        f.n = 0;
        g_assert_true(wait_deliveries(ctx, &f, 0, 3)); /* on the grid again */
        g_usleep(42000);
        unsigned late = f.n;
        g_assert_true(wait_deliveries(ctx, &f, late, 2));
        gaps[i] = f.at[late + 1] - f.at[late];
    }
    g_atomic_int_set(&d.stop, 1);
    g_thread_join(t);
    qsort(gaps, G_N_ELEMENTS(gaps), sizeof(gaps[0]), cmp_gint64);
    gint64 median = gaps[G_N_ELEMENTS(gaps) / 2];
    g_test_message("median gap after a stalled delivery: %" G_GINT64_FORMAT " us", median);
    g_assert_cmpint(median, <, G_USEC_PER_SEC / 60 - 2000);

    hv_surface_remove_listener(surf, id);
    hv_surface_free(surf);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
}

static void on_resize(void *opaque, uint32_t w, uint32_t h)
{
    uint32_t *got = opaque;
    got[0] = w;
    got[1] = h;
}

static void test_surface_request_size(void)
{
    struct hv_surface *surf = hv_surface_new();
    uint32_t got[2] = {0, 0}, w, h;
    g_assert_false(hv_surface_requested_size(surf, &w, &h));
    g_assert_false(hv_surface_can_resize(surf));
    hv_surface_request_size(surf, 800, 600); /* no device listening: remembered only */
    g_assert_true(hv_surface_requested_size(surf, &w, &h));
    g_assert_cmpuint(w, ==, 800);
    g_assert_cmpuint(h, ==, 600);
    hv_surface_set_resize_handler(surf, on_resize, got);
    g_assert_true(hv_surface_can_resize(surf));
    hv_surface_request_size(surf, 1920, 1080);
    g_assert_cmpuint(got[0], ==, 1920);
    g_assert_cmpuint(got[1], ==, 1080);
    g_assert_true(hv_surface_requested_size(surf, &w, &h));
    g_assert_cmpuint(w, ==, 1920);
    g_assert_cmpuint(h, ==, 1080);
    /* The device went away (virtio-gpu's destroy): requests are only remembered again. */
    hv_surface_set_resize_handler(surf, NULL, NULL);
    g_assert_false(hv_surface_can_resize(surf));
    hv_surface_request_size(surf, 1024, 768);
    g_assert_cmpuint(got[0], ==, 1920);
    hv_surface_free(surf);
}

/* ---- EDID ---- */

static void test_edid(void)
{
    uint8_t e[HV_EDID_SIZE];
    static const uint32_t sizes[][2] = {{1280, 800}, {640, 480}, {3840, 2160}, {4096, 2160}, {1, 1},
                                        {99999, 99999}};
    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        hv_edid_build(e, sizes[i][0], sizes[i][1]);
        static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
        g_assert_cmpmem(e, 8, header, 8);
        uint8_t sum = 0;
        for (unsigned k = 0; k < HV_EDID_SIZE; k++)
            sum = (uint8_t)(sum + e[k]);
        g_assert_cmpuint(sum, ==, 0);
        g_assert_cmpuint(e[18], ==, 1);
        g_assert_cmpuint(e[19], ==, 4);
        /* The preferred (first detailed) timing is the size asked for, clamped. */
        uint32_t w = e[56] | (e[58] >> 4) << 8, h = e[59] | (e[61] >> 4) << 8;
        uint32_t want_w = CLAMP(sizes[i][0], 640, 3840), want_h = CLAMP(sizes[i][1], 480, 2160);
        g_assert_cmpuint(w, ==, want_w);
        g_assert_cmpuint(h, ==, want_h);
        g_assert_cmpuint(e[54] | e[55] << 8, >, 0); /* a pixel clock */
    }
    hv_edid_build(e, 1280, 800);
    g_assert_cmpuint(e[38], ==, 1024 / 8 - 31); /* a standard mode */
    g_assert_cmpuint(e[126], ==, 0);              /* no extension blocks */
}

/* ---- bochs-display registers, through its MMIO BAR as a guest reaches them ---- */

struct bochs_fixture {
    struct hv_surface *surf;
    struct hv_bochs_display *dev;
    struct hv_pci_bar *mmio;
};

static uint16_t dispi_read(struct bochs_fixture *f, unsigned index)
{
    uint16_t v;
    f->mmio->ops->read(f->mmio->opaque, HV_BOCHS_DISPI + 2 * index, &v, 2);
    return v;
}

static void dispi_write(struct bochs_fixture *f, unsigned index, uint16_t v)
{
    f->mmio->ops->write(f->mmio->opaque, HV_BOCHS_DISPI + 2 * index, &v, 2);
}

static void fixture_up(struct bochs_fixture *f)
{
    char *err = NULL;
    f->surf = hv_surface_new();
    g_assert_cmpint(hv_bochs_display_new(NULL, f->surf, &f->dev, &err), ==, 0);
    f->mmio = &hv_bochs_display_pci(f->dev)->bars[2];
}

static void fixture_down(struct bochs_fixture *f)
{
    hv_bochs_display_device_ops.destroy(f->dev);
    hv_surface_free(f->surf);
}

static void surface_mode(struct bochs_fixture *f, uint32_t *w, uint32_t *h, uint32_t *stride,
                         const uint8_t **data)
{
    hv_surface_lock(f->surf, w, h, stride, data);
    hv_surface_unlock(f->surf);
}

static void set_mode(struct bochs_fixture *f, uint16_t w, uint16_t h, uint16_t bpp)
{
    dispi_write(f, DISPI_ENABLE, 0);
    dispi_write(f, DISPI_BPP, bpp);
    dispi_write(f, DISPI_XRES, w);
    dispi_write(f, DISPI_YRES, h);
    dispi_write(f, DISPI_ENABLE, DISPI_ENABLED | DISPI_LFB_ENABLED);
}

static void test_bochs_identity(void)
{
    struct bochs_fixture f;
    fixture_up(&f);
    struct hv_pci_dev *pci = hv_bochs_display_pci(f.dev);
    g_assert_cmpuint(pci->cfg[PCI_VENDOR_ID] | pci->cfg[PCI_VENDOR_ID + 1] << 8, ==, 0x1234);
    g_assert_cmpuint(pci->cfg[PCI_DEVICE_ID] | pci->cfg[PCI_DEVICE_ID + 1] << 8, ==, 0x1111);
    g_assert_cmpuint(pci->cfg[PCI_CLASS], ==, 0x03);
    g_assert_cmpuint(pci->cfg[PCI_SUBCLASS], ==, 0x80);
    g_assert_cmpuint(pci->bars[0].size, ==, HV_BOCHS_VRAM_SIZE);
    g_assert_true(pci->cfg[PCI_BAR0] & 0x8); /* prefetchable */
    g_assert_cmpuint(pci->bars[2].size, ==, HV_BOCHS_MMIO_SIZE);
    g_assert_cmpuint(dispi_read(&f, DISPI_ID), ==, DISPI_ID5);
    g_assert_cmpuint(dispi_read(&f, DISPI_VIDEO_MEMORY_64K) * 65536u, ==, HV_BOCHS_VRAM_SIZE);
    /* The EDID block is readable at offset 0 and valid. */
    uint8_t edid[HV_EDID_SIZE], sum = 0;
    for (unsigned i = 0; i < HV_EDID_SIZE; i += 4)
        f.mmio->ops->read(f.mmio->opaque, i, edid + i, 4);
    for (unsigned i = 0; i < HV_EDID_SIZE; i++)
        sum = (uint8_t)(sum + edid[i]);
    g_assert_cmpuint(edid[1], ==, 0xff);
    g_assert_cmpuint(sum, ==, 0);
    /* Linux's extended registers: size 8 and the endianness switch. */
    uint32_t v;
    f.mmio->ops->read(f.mmio->opaque, HV_BOCHS_QEXT, &v, 4);
    g_assert_cmpuint(v, ==, 8);
    f.mmio->ops->read(f.mmio->opaque, HV_BOCHS_QEXT + 4, &v, 4);
    g_assert_cmpuint(v, ==, 0x1e1e1e1e);
    fixture_down(&f);
}

static void test_bochs_mode_set(void)
{
    struct bochs_fixture f;
    uint32_t w, h, stride;
    const uint8_t *data;
    fixture_up(&f);
    surface_mode(&f, &w, &h, &stride, &data);
    g_assert_null(data);

    set_mode(&f, 1280, 800, 32);
    g_assert_cmpuint(dispi_read(&f, DISPI_ENABLE) & DISPI_ENABLED, ==, DISPI_ENABLED);
    surface_mode(&f, &w, &h, &stride, &data);
    g_assert_nonnull(data);
    g_assert_cmpuint(w, ==, 1280);
    g_assert_cmpuint(h, ==, 800);
    g_assert_cmpuint(stride, ==, 1280 * 4);
    g_assert_cmpuint(dispi_read(&f, DISPI_VIRT_WIDTH), ==, 1280);
    g_assert_cmpuint(dispi_read(&f, DISPI_VIRT_HEIGHT), ==, HV_BOCHS_VRAM_SIZE / (1280 * 4));
    const uint8_t *base = data;

    /* Panning (a page flip) moves the surface's pixels at once. */
    dispi_write(&f, DISPI_Y_OFFSET, 800);
    surface_mode(&f, &w, &h, &stride, &data);
    g_assert_true(data == base + 800 * 1280 * 4);
    /* Virtual width 1280 < 8 + 1280: refused, the last valid scanout is kept. */
    dispi_write(&f, DISPI_X_OFFSET, 8);
    surface_mode(&f, &w, &h, &stride, &data);
    g_assert_true(data == base + 800 * 1280 * 4);
    g_assert_cmpuint(w, ==, 1280);
    dispi_write(&f, DISPI_X_OFFSET, 0);

    /* A wider virtual screen: the stride follows. */
    dispi_write(&f, DISPI_Y_OFFSET, 0);
    dispi_write(&f, DISPI_VIRT_WIDTH, 2048);
    surface_mode(&f, &w, &h, &stride, &data);
    g_assert_cmpuint(stride, ==, 2048 * 4);
    g_assert_true(data == base);
    dispi_write(&f, DISPI_X_OFFSET, 8); /* now it fits */
    surface_mode(&f, &w, &h, &stride, &data);
    g_assert_true(data == base + 8 * 4);

    /* GETCAPS makes XRES/YRES/BPP read the maxima. */
    dispi_write(&f, DISPI_ENABLE, DISPI_GETCAPS);
    g_assert_cmpuint(dispi_read(&f, DISPI_XRES), ==, HV_SURFACE_MAX_WIDTH);
    g_assert_cmpuint(dispi_read(&f, DISPI_YRES), ==, HV_SURFACE_MAX_HEIGHT);
    surface_mode(&f, &w, &h, &stride, &data);
    g_assert_null(data); /* ENABLE without ENABLED turns the display off */
    fixture_down(&f);
}

static void test_bochs_refusals(void)
{
    struct bochs_fixture f;
    uint32_t w, h, stride;
    const uint8_t *data;
    fixture_up(&f);
    static const uint16_t bad[][3] = {
        {0, 600, 32},       /* zero width */
        {800, 0, 32},       /* zero height */
        {800, 600, 16},     /* a depth we do not scan out */
        {800, 600, 24},
        {4097, 100, 32},    /* wider than any surface */
        {4000, 2000, 32},   /* 32 MB: more than the BAR */
        {0xffff, 0xffff, 32},
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        set_mode(&f, bad[i][0], bad[i][1], bad[i][2]);
        g_assert_cmpuint(dispi_read(&f, DISPI_ENABLE) & DISPI_ENABLED, ==, 0);
        surface_mode(&f, &w, &h, &stride, &data);
        g_assert_null(data);
    }
    /* A valid mode still works afterwards; an offset past VRAM is refused. */
    set_mode(&f, 640, 480, 32);
    g_assert_cmpuint(dispi_read(&f, DISPI_ENABLE) & DISPI_ENABLED, ==, DISPI_ENABLED);
    surface_mode(&f, &w, &h, &stride, &data);
    const uint8_t *base = data;
    dispi_write(&f, DISPI_Y_OFFSET, 0xffff);
    surface_mode(&f, &w, &h, &stride, &data);
    g_assert_true(data == base);
    /* 8- and odd-sized accesses to DISPI are ignored, not misread as registers. */
    uint8_t b = 0;
    f.mmio->ops->write(f.mmio->opaque, HV_BOCHS_DISPI + 2 * DISPI_ENABLE, &b, 1);
    g_assert_cmpuint(dispi_read(&f, DISPI_ENABLE) & DISPI_ENABLED, ==, DISPI_ENABLED);
    fixture_down(&f);
}

static void test_bochs_reset(void)
{
    struct bochs_fixture f;
    uint32_t w, h, stride;
    const uint8_t *data;
    fixture_up(&f);
    set_mode(&f, 800, 600, 32);
    hv_bochs_display_device_ops.reset(f.dev);
    surface_mode(&f, &w, &h, &stride, &data);
    g_assert_null(data);
    g_assert_cmpuint(dispi_read(&f, DISPI_ENABLE), ==, 0);
    g_assert_cmpuint(dispi_read(&f, DISPI_XRES), ==, 0);
    fixture_down(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/display/merge/adjacent-rows", test_merge_adjacent_rows);
    g_test_add_func("/display/merge/far-apart", test_merge_far_apart);
    g_test_add_func("/display/merge/full-list", test_merge_full_list);
    g_test_add_func("/display/merge/chain", test_merge_chain);
    g_test_add_func("/display/surface/delivery", test_surface_delivery);
    g_test_add_func("/display/surface/frame-rate", test_surface_frame_rate);
    g_test_add_func("/display/surface/grid-phase", test_surface_grid_phase);
    g_test_add_func("/display/surface/request-size", test_surface_request_size);
    g_test_add_func("/display/edid", test_edid);
    g_test_add_func("/display/bochs/identity", test_bochs_identity);
    g_test_add_func("/display/bochs/mode-set", test_bochs_mode_set);
    g_test_add_func("/display/bochs/refusals", test_bochs_refusals);
    g_test_add_func("/display/bochs/reset", test_bochs_reset);
    return g_test_run();
}
