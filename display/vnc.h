/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The VNC server (libvncserver): the guest's surface out, keys and the pointer in. */
#pragma once

#include <stdbool.h>
#include <json-glib/json-glib.h>

#include "display/endpoint.h"
#include "display/input.h"
#include "display/keymap.h"
#include "display/surface.h"

/* --vnc ADDRESS[,password=on|off][,keymap=en-us|pt-br] */
struct hv_vnc_spec {
    /* kind UNIX with path NULL: beside the control socket (see hv_vnc_spec_finish) */
    struct hv_endpoint ep;
    bool password;
    enum hv_keymap_layout keymap;
};

/* Parses the flag's value. Returns 0 or -EINVAL with *err set to one line. */
int hv_vnc_spec_parse(const char *text, struct hv_vnc_spec *spec, char **err);
/*
 * `--vnc unix` puts the socket beside the control socket: CONTROL with its ".sock" suffix
 * (if any) replaced by ".vnc". Returns -EINVAL (and *err) when there is no control socket.
 */
int hv_vnc_spec_finish(struct hv_vnc_spec *spec, const char *control, char **err);
void hv_vnc_spec_clear(struct hv_vnc_spec *spec);

struct hv_vnc;

/*
 * Listens on the spec's address and serves `surface` (which must outlive the server) from
 * a thread of its own, so that no client can stall the main loop or the guest. Input goes
 * to `sink`, and a client's SetDesktopSize to hv_surface_request_size, on the
 * thread-default main context's thread. Returns NULL with *err set to one line when the
 * address cannot be used.
 */
struct hv_vnc *hv_vnc_new(const struct hv_vnc_spec *spec, struct hv_surface *surface,
                          const struct hv_input_sink *sink, char **err);
/* Disconnects every client, stops the thread, removes the socket file. */
void hv_vnc_free(struct hv_vnc *vnc);

/*
 * The password clients must give (VNC authentication: only its first 8 characters count).
 * -EINVAL when the server was started without password=on. An empty password locks
 * everyone out again.
 */
int hv_vnc_set_password(struct hv_vnc *vnc, const char *password, char **err);

/* query-display's "vnc" members: address, auth, keymap, clients (a display consumer). */
void hv_vnc_describe(void *opaque, JsonBuilder *b);
