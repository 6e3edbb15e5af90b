/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The guest's screen as every display consumer sees it: one surface, dirty rectangles. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A display device (bochs-display, virtio-gpu) owns the pixels and says what changed;
 * consumers (the VNC and SPICE servers, the SDL window, screendump) read them. Pixels
 * are 32-bit XRGB8888, little endian (B, G, R, X in memory), `stride` bytes a row.
 *
 * Threads: devices call hv_surface_set_mode / hv_surface_damage from any thread (vCPU
 * threads, timers); listeners are called on the main-loop thread (the GMainContext the
 * surface was created on), with the surface NOT locked. A listener reads pixels between
 * hv_surface_lock / hv_surface_unlock; the device never frees or moves the pixels of the
 * current mode while the lock is held.
 */

#define HV_SURFACE_MAX_WIDTH 4096
#define HV_SURFACE_MAX_HEIGHT 2160

struct hv_rect {
    uint32_t x, y, w, h;
};

struct hv_surface;

struct hv_surface_listener {
    /* The mode changed (also called once on registration if a mode is set). */
    void (*mode)(void *opaque, uint32_t width, uint32_t height);
    /* These rectangles changed (merged, clipped to the mode). */
    void (*damage)(void *opaque, const struct hv_rect *rects, unsigned n);
};

struct hv_surface *hv_surface_new(void);
void hv_surface_free(struct hv_surface *s);

/* Called by the device: a new mode whose pixels are at `data` (NULL: display off). */
void hv_surface_set_mode(struct hv_surface *s, uint32_t width, uint32_t height, uint32_t stride,
                         uint8_t *data);
/*
 * Called by the device: this part of the screen changed. Cheap; coalesced into frames at
 * 60 Hz: delivered at once if no frame went out in the current slot of a fixed 60 Hz grid,
 * else when the next slot begins (on a µs timer, so continuous damage comes out at 60 per
 * second, never later).
 */
void hv_surface_damage(struct hv_surface *s, uint32_t x, uint32_t y, uint32_t w, uint32_t h);

/* Consumers. Returns an id for hv_surface_remove_listener. */
unsigned hv_surface_add_listener(struct hv_surface *s, const struct hv_surface_listener *l,
                                 void *opaque);
void hv_surface_remove_listener(struct hv_surface *s, unsigned id);

/* Read access to the current pixels (data may be NULL when the display is off). */
void hv_surface_lock(struct hv_surface *s, uint32_t *width, uint32_t *height, uint32_t *stride,
                     const uint8_t **data);
void hv_surface_unlock(struct hv_surface *s);

/*
 * Dynamic resolution. A consumer calls hv_surface_request_size with the size its viewer's
 * window would like (main-loop thread); a device that can follow it (virtio-gpu) has set a
 * handler, which is called at once on the same thread and then tells the guest. Devices
 * that cannot (bochs-display) set none, and the request is only remembered.
 */
void hv_surface_request_size(struct hv_surface *s, uint32_t width, uint32_t height);
void hv_surface_set_resize_handler(struct hv_surface *s,
                                   void (*fn)(void *opaque, uint32_t width, uint32_t height),
                                   void *opaque);
/* Whether a device follows requested sizes (a resize handler is set). Any thread. */
bool hv_surface_can_resize(struct hv_surface *s);
/* The last requested size; false (and 0x0) if no consumer asked yet. Any thread. */
bool hv_surface_requested_size(struct hv_surface *s, uint32_t *width, uint32_t *height);

/*
 * Merges `r` into a list of at most `max` rectangles: overlapping or nearby ones are
 * united so the list stays short. Returns the new count. (Exposed for unit tests.)
 */
unsigned hv_rect_merge(struct hv_rect *list, unsigned n, unsigned max, struct hv_rect r);
