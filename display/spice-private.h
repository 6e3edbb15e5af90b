/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the SPICE server's files share: the core interface and the QXL display. */
#pragma once

#include <glib.h>
#include <spice.h>
#include <stdatomic.h>

#include "display/surface.h"

/* spice-core.c: libspice-server's timers and watches on `ctx`; `event` gets channel
   events (SPICE_CHANNEL_EVENT_*, SPICE_CHANNEL_*) on that context's thread. */
SpiceCoreInterface *hv_spice_core_get(GMainContext *ctx, void (*event)(void *, int, int),
                                      void *opaque);
void hv_spice_core_put(void);

/* spice-display.c: a QXL-less display fed from the shared surface. */
struct hv_spice_display;

struct hv_spice_display *hv_spice_display_new(struct hv_surface *surface);
/* After spice_server_add_interface() and spice_server_vm_start(): follow the surface. */
SpiceBaseInstance *hv_spice_display_instance(struct hv_spice_display *d);
void hv_spice_display_attach(struct hv_spice_display *d);
/* Before spice_server_destroy(): stop listening to the surface. */
void hv_spice_display_detach(struct hv_spice_display *d);
/* After spice_server_destroy(): frees what is left. */
void hv_spice_display_free(struct hv_spice_display *d);
/* Draw commands handed to the worker so far (query-display, tests). */
uint64_t hv_spice_display_updates(struct hv_spice_display *d);
