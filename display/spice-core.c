/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libspice-server's core interface (timers, fd watches, channel events) on the GLib loop. */
#include "display/spice-private.h"

#include <glib-unix.h>

/*
 * libspice-server calls timers and watches from the thread that runs its main part (ours:
 * the main loop), but its display worker thread reports channel events too. The core
 * interface carries no pointer of ours, so the context and the event sink are file-wide:
 * there is one SPICE server per VMM process.
 */
static GMainContext *core_ctx;
static void (*core_event_fn)(void *opaque, int event, int type);
static void *core_event_opaque;

struct SpiceTimer {
    SpiceTimerFunc func;
    void *opaque;
    GSource *source;
};

struct SpiceWatch {
    int fd;
    int mask;
    SpiceWatchFunc func;
    void *opaque;
    GSource *source;
};

static gboolean timer_fire(gpointer data)
{
    SpiceTimer *t = data;
    g_source_unref(t->source);
    t->source = NULL;
    t->func(t->opaque);
    return G_SOURCE_REMOVE;
}

static SpiceTimer *timer_add(SpiceTimerFunc func, void *opaque)
{
    SpiceTimer *t = g_new0(SpiceTimer, 1);
    t->func = func;
    t->opaque = opaque;
    return t;
}

static void timer_cancel(SpiceTimer *t)
{
    if (t->source) {
        g_source_destroy(t->source);
        g_source_unref(t->source);
        t->source = NULL;
    }
}

static void timer_start(SpiceTimer *t, uint32_t ms)
{
    timer_cancel(t);
    t->source = g_timeout_source_new(ms);
    g_source_set_callback(t->source, timer_fire, t, NULL);
    g_source_set_name(t->source, "spice timer");
    g_source_attach(t->source, core_ctx);
}

static void timer_remove(SpiceTimer *t)
{
    timer_cancel(t);
    g_free(t);
}

static gboolean watch_fire(gint fd, GIOCondition cond, gpointer data)
{
    SpiceWatch *w = data;
    int ev = 0;
    /* An error or hang-up is reported as whatever was asked for: the read or write that
       follows sees it and spice closes the connection. */
    if (cond & (G_IO_IN | G_IO_ERR | G_IO_HUP))
        ev |= SPICE_WATCH_EVENT_READ;
    if (cond & (G_IO_OUT | G_IO_ERR))
        ev |= SPICE_WATCH_EVENT_WRITE;
    ev &= w->mask;
    if (ev)
        w->func(fd, ev, w->opaque); /* may remove or update the watch */
    return G_SOURCE_CONTINUE;
}

static void watch_arm(SpiceWatch *w)
{
    if (w->source) {
        g_source_destroy(w->source);
        g_source_unref(w->source);
        w->source = NULL;
    }
    GIOCondition cond = 0;
    if (w->mask & SPICE_WATCH_EVENT_READ)
        cond |= G_IO_IN;
    if (w->mask & SPICE_WATCH_EVENT_WRITE)
        cond |= G_IO_OUT;
    if (!cond) /* nothing wanted: poll nothing, or a hang-up would spin */
        return;
    w->source = g_unix_fd_source_new(w->fd, cond | G_IO_ERR | G_IO_HUP);
    g_source_set_callback(w->source, (GSourceFunc)(void (*)(void))watch_fire, w, NULL);
    g_source_set_name(w->source, "spice watch");
    g_source_attach(w->source, core_ctx);
}

static SpiceWatch *watch_add(int fd, int mask, SpiceWatchFunc func, void *opaque)
{
    SpiceWatch *w = g_new0(SpiceWatch, 1);
    w->fd = fd;
    w->mask = mask;
    w->func = func;
    w->opaque = opaque;
    watch_arm(w);
    return w;
}

static void watch_update_mask(SpiceWatch *w, int mask)
{
    if (w->mask == mask)
        return;
    w->mask = mask;
    watch_arm(w);
}

static void watch_remove(SpiceWatch *w)
{
    w->mask = 0;
    watch_arm(w);
    g_free(w);
}

struct channel_event {
    int event, type;
};

static gboolean channel_event_main(gpointer data)
{
    struct channel_event *ce = data;
    if (core_event_fn)
        core_event_fn(core_event_opaque, ce->event, ce->type);
    return G_SOURCE_REMOVE;
}

static void channel_event(int event, SpiceChannelEventInfo *info)
{
    struct channel_event *ce = g_new(struct channel_event, 1);
    ce->event = event;
    ce->type = info->type;
    /* From the worker thread too: always hand it to the main loop (thread-safe attach). */
    GSource *src = g_idle_source_new();
    g_source_set_callback(src, channel_event_main, ce, g_free);
    g_source_attach(src, core_ctx);
    g_source_unref(src);
}

static SpiceCoreInterface core_interface = {
    .base = {
        .type = SPICE_INTERFACE_CORE,
        .description = "vmdesk GLib core",
        .major_version = SPICE_INTERFACE_CORE_MAJOR,
        .minor_version = SPICE_INTERFACE_CORE_MINOR,
    },
    .timer_add = timer_add,
    .timer_start = timer_start,
    .timer_cancel = timer_cancel,
    .timer_remove = timer_remove,
    .watch_add = watch_add,
    .watch_update_mask = watch_update_mask,
    .watch_remove = watch_remove,
    .channel_event = channel_event,
};

SpiceCoreInterface *hv_spice_core_get(GMainContext *ctx, void (*event)(void *, int, int),
                                      void *opaque)
{
    if (core_ctx)
        g_main_context_unref(core_ctx);
    core_ctx = g_main_context_ref(ctx);
    core_event_fn = event;
    core_event_opaque = opaque;
    return &core_interface;
}

void hv_spice_core_put(void)
{
    core_event_fn = NULL;
    core_event_opaque = NULL;
    /* Events already queued find no sink; the context stays referenced by them. */
    if (core_ctx)
        g_main_context_unref(core_ctx);
    core_ctx = NULL;
}
