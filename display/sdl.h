/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The local window (--display sdl): the guest's screen, keyboard and pointer in SDL2. */
#pragma once

#include <json-glib/json-glib.h>

#include "display/input.h"
#include "display/surface.h"

/* What the window needs from the machine; called on the main-loop thread. */
struct hv_sdl_ops {
    /* "running", "paused", ...: shown in the title. */
    const char *(*state)(void *opaque);
    /* The user closed the window: press the guest's power button. */
    void (*powerdown)(void *opaque);
    void *opaque;
};

struct hv_sdl;

/*
 * Opens the window on the thread-default GMainContext's thread (it must be the process's
 * main thread: SDL wants its window there) and shows `surface` in it. `name`: the VM's
 * name for the title (may be NULL). Returns NULL with *err set to one line when there is
 * no display to open a window on.
 */
struct hv_sdl *hv_sdl_new(struct hv_surface *surface, const char *name,
                          const struct hv_sdl_ops *ops, char **err);
/* Where keys and pointer events go; NULL drops them. */
void hv_sdl_set_input(struct hv_sdl *w, const struct hv_input_sink *sink);
/* query-display's "sdl" members. */
void hv_sdl_describe(void *opaque, JsonBuilder *b);
void hv_sdl_free(struct hv_sdl *w);

/* SDL scancodes (USB HID usages) to Linux input codes; 0 for none. (display/sdl-keys.c) */
uint16_t hv_keymap_sdl_to_linux(unsigned scancode);
