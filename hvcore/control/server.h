/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The VMM's control socket: line-delimited JSON shaped like QMP. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <json-glib/json-glib.h>

struct hv_control;

/* What the server needs from the VM. All are called on the main-loop thread. */
struct hv_control_ops {
    /* "running", "paused", "shutting-down"... */
    const char *(*state)(void *opaque);
    unsigned (*vcpus)(void *opaque);
    /* Return 0, or -errno with *err set to a one-line message. */
    int (*pause)(void *opaque, char **err);
    int (*resume)(void *opaque, char **err);
    /* Ends the VMM (after the reply has been written). */
    void (*quit)(void *opaque);
    /*
     * The rest may be NULL, and the command then fails with a GenericError. The builders
     * are inside an array (devices: one object per device) or an object (stats: members).
     */
    void (*devices)(void *opaque, JsonBuilder *b);
    void (*stats)(void *opaque, JsonBuilder *b);
    /* Presses the ACPI power button. */
    int (*powerdown)(void *opaque, char **err);
    /* A hard reset, as the reset button would do. */
    int (*reset)(void *opaque, char **err);
    /* The balloon's target: guest RAM in bytes. -ERANGE means a value the VM refuses. */
    int (*balloon_set)(void *opaque, uint64_t bytes, char **err);
    /* Writes the guest's screen to `filename` as PNG. -ENODEV: the VM has no display. */
    int (*screendump)(void *opaque, const char *filename, char **err);
    /* Members of query-display's object: the device, the mode, each display server. */
    void (*display)(void *opaque, JsonBuilder *b);
    /* The password a display server's clients must give ("spice" or "vnc"). -ENODEV: that
       server is not running; -EINVAL: it takes no password (*err says why). */
    int (*set_password)(void *opaque, const char *protocol, const char *password, char **err);
    /* Presses the keys (Linux codes) in order, then releases them in reverse. -ENODEV: the
       VM has no keyboard. */
    int (*send_key)(void *opaque, const uint16_t *codes, unsigned n, char **err);
    void *opaque;
};

/* Creates a listening unix socket at `path` (mode 0600) served on the thread-default
 * GMainContext. Refuses to replace an existing live socket; removes a stale one. */
struct hv_control *hv_control_new(const char *path, const struct hv_control_ops *ops,
                                  GError **error);
/* Sends {"event": NAME, "data": DATA, "timestamp": ...} to every client. Takes `data`. */
void hv_control_emit(struct hv_control *ctl, const char *event, JsonNode *data);
/* Closes every client and removes the socket file. */
void hv_control_free(struct hv_control *ctl);
