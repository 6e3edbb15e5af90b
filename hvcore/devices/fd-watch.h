/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A main-loop watch on a file descriptor for the I/O hot paths (kicks, completions, frames). */
#pragma once

#include <glib-unix.h>

/*
 * Like g_unix_fd_add(fd, G_IO_IN, fn, opaque) (the global default context), but the source
 * may recurse. GLib blocks a source that may not recurse for the length of each dispatch,
 * and unblocking puts its fd back into the poll set, which wakes the context (an eventfd
 * write) and costs the next iteration a read of it: two writes, a read and an extra poll
 * per dispatch, more than the device's own work for a kick. The callbacks given here never
 * run the main loop themselves, so the recursion GLib guards against cannot happen.
 * Returns the source id (for g_source_remove).
 */
static inline guint hv_fd_watch_add(int fd, GUnixFDSourceFunc fn, gpointer opaque)
{
    GSource *src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(src, G_SOURCE_FUNC(fn), opaque, NULL);
    g_source_set_can_recurse(src, TRUE);
    guint id = g_source_attach(src, NULL);
    g_source_unref(src);
    return id;
}
