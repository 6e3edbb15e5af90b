/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The shared surface: the current mode, merged damage, and its delivery on the main loop. */
#include "display/surface.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* Damage rectangles kept between deliveries; more are merged into these. */
#define SURFACE_MAX_RECTS 16
/* Continuous damage is coalesced into frames of the display's rate, 60 Hz. */
#define SURFACE_FRAME_US (G_USEC_PER_SEC / 60)
/* Rectangles this close (pixels) count as touching when merging. */
#define MERGE_GAP 8

struct listener {
    unsigned id;
    struct hv_surface_listener cb;
    void *opaque;
    bool removed;
};

struct hv_surface {
    /* The mode and pixels: devices change them, consumers read under it. */
    pthread_mutex_t lock;
    uint32_t width, height, stride;
    uint8_t *data;

    /* What is waiting for delivery; devices add to it from any thread. */
    pthread_mutex_t pend_lock;
    uint32_t pend_width, pend_height; /* the mode the rectangles below belong to */
    bool mode_pending;
    struct hv_rect rects[SURFACE_MAX_RECTS];
    unsigned nr_rects;
    bool scheduled;     /* the delivery source is armed for `due` */
    gint64 due;         /* monotonic µs */
    gint64 last_frame;  /* the start of the last delivery's slot on the 60 Hz frame grid */
    uint32_t req_width, req_height; /* the last requested size (0x0: none yet) */

    /*
     * The delivery source, attached to ctx for the surface's life. It wakes only when
     * armed: through timer_fd (µs precision; GLib's own timeouts round the poll up to
     * whole ms), or through its ready time if no timerfd could be had.
     */
    GSource *source;
    int timer_fd;

    /* Main-loop thread only. */
    GMainContext *ctx;
    GPtrArray *listeners; /* struct listener * */
    unsigned next_id;
    unsigned dispatching; /* > 0 while listeners are being called */

    /* Set on the main loop, read from any thread: under pend_lock. */
    void (*resize_fn)(void *opaque, uint32_t width, uint32_t height);
    void *resize_opaque;
};

/* ---- rectangles ---- */

static uint64_t area(struct hv_rect r)
{
    return (uint64_t)r.w * r.h;
}

static struct hv_rect unite(struct hv_rect a, struct hv_rect b)
{
    uint64_t x0 = MIN(a.x, b.x), y0 = MIN(a.y, b.y);
    uint64_t x1 = MAX((uint64_t)a.x + a.w, (uint64_t)b.x + b.w);
    uint64_t y1 = MAX((uint64_t)a.y + a.h, (uint64_t)b.y + b.h);
    return (struct hv_rect){(uint32_t)x0, (uint32_t)y0, (uint32_t)(x1 - x0), (uint32_t)(y1 - y0)};
}

/* Overlap of the two, each grown by `gap` pixels on every side (0 if apart). */
static uint64_t overlap(struct hv_rect a, struct hv_rect b, uint32_t gap)
{
    uint64_t x0 = MAX(a.x, b.x), y0 = MAX(a.y, b.y);
    uint64_t x1 = MIN((uint64_t)a.x + a.w, (uint64_t)b.x + b.w) + gap;
    uint64_t y1 = MIN((uint64_t)a.y + a.h, (uint64_t)b.y + b.h) + gap;
    return x1 > x0 && y1 > y0 ? (x1 - x0) * (y1 - y0) : 0;
}

static bool contains(struct hv_rect outer, struct hv_rect in)
{
    return in.x >= outer.x && in.y >= outer.y &&
           (uint64_t)in.x + in.w <= (uint64_t)outer.x + outer.w &&
           (uint64_t)in.y + in.h <= (uint64_t)outer.y + outer.h;
}

/*
 * Worth uniting: they overlap or touch, and the union repaints little that neither
 * covers (at most half their own area again), so two far corners stay two rectangles.
 */
static bool should_merge(struct hv_rect a, struct hv_rect b)
{
    if (!overlap(a, b, MERGE_GAP))
        return false;
    uint64_t both = area(a) + area(b);
    return area(unite(a, b)) <= both + both / 2;
}

unsigned hv_rect_merge(struct hv_rect *list, unsigned n, unsigned max, struct hv_rect r)
{
    if (r.w == 0 || r.h == 0 || max == 0)
        return n;
    for (unsigned i = 0; i < n;) {
        if (contains(list[i], r))
            return n;
        if (contains(r, list[i]) || should_merge(list[i], r)) {
            /* Take it out and start over: the bigger `r` may now reach others. */
            r = unite(r, list[i]);
            list[i] = list[--n];
            i = 0;
            continue;
        }
        i++;
    }
    if (n < max) {
        list[n++] = r;
        return n;
    }
    /* Full: grow the rectangle that grows least, then let it absorb its neighbours. */
    unsigned best = 0;
    uint64_t best_cost = UINT64_MAX;
    for (unsigned i = 0; i < n; i++) {
        uint64_t cost = area(unite(list[i], r)) - area(list[i]);
        if (cost < best_cost) {
            best_cost = cost;
            best = i;
        }
    }
    struct hv_rect grown = unite(list[best], r);
    list[best] = list[--n];
    for (unsigned i = 0; i < n;) {
        if (contains(grown, list[i])) {
            list[i] = list[--n];
            continue;
        }
        i++;
    }
    list[n++] = grown;
    return n;
}

/* ---- delivery ---- */

struct delivery_source {
    GSource base;
    struct hv_surface *surface;
};

/*
 * Caller holds pend_lock. Delivers at once if the slot after the last delivery's has
 * begun, else when it begins: continuous damage comes out at the frame rate, no later,
 * and an idle surface arms nothing.
 */
static void schedule(struct hv_surface *s)
{
    if (s->scheduled)
        return;
    s->scheduled = true;
    s->due = MAX(g_get_monotonic_time(), s->last_frame + SURFACE_FRAME_US);
    if (s->timer_fd < 0) {
        g_source_set_ready_time(s->source, s->due); /* thread-safe: wakes ctx */
        return;
    }
    /* g_get_monotonic_time() is CLOCK_MONOTONIC in µs; a due time in the past fires now. */
    struct itimerspec its = {.it_value = {.tv_sec = s->due / G_USEC_PER_SEC,
                                          .tv_nsec = s->due % G_USEC_PER_SEC * 1000}};
    if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        g_source_set_ready_time(s->source, s->due);
}

static void compact_listeners(struct hv_surface *s)
{
    for (unsigned i = 0; i < s->listeners->len;) {
        struct listener *l = s->listeners->pdata[i];
        if (l->removed) {
            g_ptr_array_remove_index(s->listeners, i);
            g_free(l);
            continue;
        }
        i++;
    }
}

static void deliver(struct hv_surface *s)
{
    struct hv_rect rects[SURFACE_MAX_RECTS];

    pthread_mutex_lock(&s->pend_lock);
    if (!s->scheduled) {
        pthread_mutex_unlock(&s->pend_lock);
        return;
    }
    bool mode = s->mode_pending;
    uint32_t w = s->pend_width, h = s->pend_height;
    unsigned n = s->nr_rects;
    memcpy(rects, s->rects, n * sizeof(rects[0]));
    s->mode_pending = false;
    s->nr_rects = 0;
    s->scheduled = false;
    /*
     * This delivery fills the latest slot of the grid that has begun, and the next is due
     * when the slot after it begins. The grid keeps its phase through a late wake-up, a
     * stall or damage that came late. A grid that started over after each of those lost
     * part of a frame every time (the SPICE benchmark's harness with its main loop
     * stalled 30 ms twice a second: 57.5 frames a second that way, 58.3 keeping the
     * phase; the slots a stall covers are lost either way). Never more than one delivery
     * a slot: a stall is not caught up with a burst.
     */
    gint64 now = g_get_monotonic_time();
    s->last_frame = now - (now - s->last_frame) % SURFACE_FRAME_US;
    pthread_mutex_unlock(&s->pend_lock);

    s->dispatching++;
    for (unsigned i = 0; i < s->listeners->len; i++) {
        struct listener *l = s->listeners->pdata[i];
        if (!l->removed && mode && l->cb.mode)
            l->cb.mode(l->opaque, w, h);
        if (!l->removed && n && l->cb.damage)
            l->cb.damage(l->opaque, rects, n);
    }
    if (--s->dispatching == 0)
        compact_listeners(s);
}

static gboolean delivery_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    struct hv_surface *s = ((struct delivery_source *)source)->surface;
    (void)cb, (void)data;
    if (g_source_get_ready_time(source) != -1)
        g_source_set_ready_time(source, -1);
    if (s->timer_fd >= 0) {
        uint64_t expirations;
        /* Nonblocking: EAGAIN when only the ready time fired. */
        if (read(s->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
            g_debug("surface: timerfd: %s", g_strerror(errno));
    }
    deliver(s);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs delivery_funcs = {.dispatch = delivery_dispatch};

/* ---- the device's side ---- */

struct hv_surface *hv_surface_new(void)
{
    struct hv_surface *s = g_new0(struct hv_surface, 1);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->pend_lock, NULL);
    s->ctx = g_main_context_ref_thread_default();
    s->listeners = g_ptr_array_new();
    s->next_id = 1;
    s->last_frame = G_MININT64 / 2; /* the first damage is delivered at once */
    s->source = g_source_new(&delivery_funcs, sizeof(struct delivery_source));
    ((struct delivery_source *)s->source)->surface = s;
    g_source_set_priority(s->source, G_PRIORITY_DEFAULT);
    g_source_set_name(s->source, "surface delivery");
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (s->timer_fd >= 0)
        g_source_add_unix_fd(s->source, s->timer_fd, G_IO_IN);
    g_source_attach(s->source, s->ctx);
    return s;
}

void hv_surface_free(struct hv_surface *s)
{
    if (!s)
        return;
    g_source_destroy(s->source);
    g_source_unref(s->source);
    if (s->timer_fd >= 0)
        close(s->timer_fd);
    for (unsigned i = 0; i < s->listeners->len; i++)
        g_free(s->listeners->pdata[i]);
    g_ptr_array_free(s->listeners, TRUE);
    g_main_context_unref(s->ctx);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->pend_lock);
    g_free(s);
}

void hv_surface_set_mode(struct hv_surface *s, uint32_t width, uint32_t height, uint32_t stride,
                         uint8_t *data)
{
    if (!data)
        width = height = stride = 0;
    /* Waits for a reader to finish with the old pixels: the device may free them after. */
    pthread_mutex_lock(&s->lock);
    s->width = width;
    s->height = height;
    s->stride = stride;
    s->data = data;
    pthread_mutex_unlock(&s->lock);

    pthread_mutex_lock(&s->pend_lock);
    s->pend_width = width;
    s->pend_height = height;
    s->mode_pending = true;
    /* Damage of the old mode means nothing now; consumers redraw all of a new mode. */
    s->nr_rects = 0;
    if (width && height)
        s->rects[s->nr_rects++] = (struct hv_rect){0, 0, width, height};
    schedule(s);
    pthread_mutex_unlock(&s->pend_lock);
}

void hv_surface_damage(struct hv_surface *s, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    pthread_mutex_lock(&s->pend_lock);
    if (x < s->pend_width && y < s->pend_height && w && h) {
        w = MIN(w, s->pend_width - x);
        h = MIN(h, s->pend_height - y);
        s->nr_rects = hv_rect_merge(s->rects, s->nr_rects, SURFACE_MAX_RECTS,
                                    (struct hv_rect){x, y, w, h});
        schedule(s);
    }
    pthread_mutex_unlock(&s->pend_lock);
}

/* ---- the consumers' side ---- */

unsigned hv_surface_add_listener(struct hv_surface *s, const struct hv_surface_listener *l,
                                 void *opaque)
{
    struct listener *n = g_new0(struct listener, 1);
    n->id = s->next_id++;
    n->cb = *l;
    n->opaque = opaque;
    g_ptr_array_add(s->listeners, n);

    pthread_mutex_lock(&s->lock);
    uint32_t w = s->width, h = s->height;
    bool on = s->data != NULL;
    pthread_mutex_unlock(&s->lock);
    if (on && n->cb.mode)
        n->cb.mode(opaque, w, h);
    return n->id;
}

void hv_surface_remove_listener(struct hv_surface *s, unsigned id)
{
    for (unsigned i = 0; i < s->listeners->len; i++) {
        struct listener *l = s->listeners->pdata[i];
        if (l->id == id && !l->removed) {
            l->removed = true;
            if (!s->dispatching)
                compact_listeners(s);
            return;
        }
    }
}

void hv_surface_lock(struct hv_surface *s, uint32_t *width, uint32_t *height, uint32_t *stride,
                     const uint8_t **data)
{
    pthread_mutex_lock(&s->lock);
    *width = s->width;
    *height = s->height;
    *stride = s->stride;
    *data = s->data;
}

void hv_surface_unlock(struct hv_surface *s)
{
    pthread_mutex_unlock(&s->lock);
}

void hv_surface_request_size(struct hv_surface *s, uint32_t width, uint32_t height)
{
    pthread_mutex_lock(&s->pend_lock);
    s->req_width = width;
    s->req_height = height;
    void (*fn)(void *, uint32_t, uint32_t) = s->resize_fn;
    void *opaque = s->resize_opaque;
    pthread_mutex_unlock(&s->pend_lock);
    if (fn)
        fn(opaque, width, height);
}

void hv_surface_set_resize_handler(struct hv_surface *s,
                                   void (*fn)(void *opaque, uint32_t width, uint32_t height),
                                   void *opaque)
{
    /* Under the lock: servers on threads of their own ask whether a device follows. */
    pthread_mutex_lock(&s->pend_lock);
    s->resize_fn = fn;
    s->resize_opaque = opaque;
    pthread_mutex_unlock(&s->pend_lock);
}

bool hv_surface_can_resize(struct hv_surface *s)
{
    pthread_mutex_lock(&s->pend_lock);
    bool can = s->resize_fn != NULL;
    pthread_mutex_unlock(&s->pend_lock);
    return can;
}

bool hv_surface_requested_size(struct hv_surface *s, uint32_t *width, uint32_t *height)
{
    pthread_mutex_lock(&s->pend_lock);
    *width = s->req_width;
    *height = s->req_height;
    pthread_mutex_unlock(&s->pend_lock);
    return *width && *height;
}
