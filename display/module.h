/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The display back-ends (VNC, SPICE, the SDL window) are loadable modules,
 * vmdesk-display-NAME.so, loaded the first time a VM asks for one. Their libraries
 * (libvncserver; libspice-server with GStreamer and GnuTLS; SDL2) are large: linked into
 * the VMM, every VM would pay for them in start-up time and memory whether it shows a
 * screen or not.
 *
 * A module exports one table, `hv_module_NAME`, starting with a struct hv_module_header.
 * It calls back into the VMM's own functions (the surface, the key maps, the endpoints),
 * which vmdesk-vmm exports for that purpose.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stddef.h>

#include "display/sdl.h"
#include "display/spice.h"
#include "display/vnc.h"

struct hv_module_header {
    /* VMDESK_VERSION of the build the module comes from, and the size of its table:
       a module from another build is refused, not called. */
    const char *version;
    size_t size;
};

#define HV_MODULE_HEADER(type) {.version = VMDESK_VERSION, .size = sizeof(type)}

struct hv_vnc_module {
    struct hv_module_header header;
    struct hv_vnc *(*create)(const struct hv_vnc_spec *spec, struct hv_surface *surface,
                             const struct hv_input_sink *sink, char **err);
    void (*destroy)(struct hv_vnc *vnc);
    int (*set_password)(struct hv_vnc *vnc, const char *password, char **err);
    void (*describe)(void *opaque, JsonBuilder *b);
};

struct hv_spice_module {
    struct hv_module_header header;
    struct hv_spice *(*create)(const struct hv_spice_spec *spec, struct hv_surface *surface,
                               const char *name, char **err);
    void (*destroy)(struct hv_spice *s);
    void (*set_input)(struct hv_spice *s, const struct hv_input_sink *sink);
    int (*set_password)(struct hv_spice *s, const char *password, char **err);
    void (*describe)(void *opaque, JsonBuilder *b);
};

struct hv_sdl_module {
    struct hv_module_header header;
    struct hv_sdl *(*create)(struct hv_surface *surface, const char *name,
                             const struct hv_sdl_ops *ops, char **err);
    void (*destroy)(struct hv_sdl *w);
    void (*set_input)(struct hv_sdl *w, const struct hv_input_sink *sink);
    void (*describe)(void *opaque, JsonBuilder *b);
};

/*
 * Loads vmdesk-display-NAME.so (once; it stays loaded) from the directory of the running
 * program (a build tree) or else from the installed module directory, and returns its
 * table. `what` names the flag that wants it ("--vnc") for the error: NULL with *err set
 * to one line naming the file and why it could not be used.
 */
const struct hv_vnc_module *hv_vnc_module_load(const char *what, char **err);
const struct hv_spice_module *hv_spice_module_load(const char *what, char **err);
const struct hv_sdl_module *hv_sdl_module_load(const char *what, char **err);
