/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A blocking client of one vmdesk-vmm's control socket, for short request/reply exchanges. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct _VmdControl VmdControl;

/* Connects, reads the greeting; every later read waits at most `timeout_ms`. */
VmdControl *vmd_control_connect(const char *path, guint timeout_ms, GError **error);
void vmd_control_free(VmdControl *ctl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmdControl, vmd_control_free)

/* Whether the server's greeting lists `command`. */
gboolean vmd_control_has_command(VmdControl *ctl, const char *command);
/* The server's commands, from its greeting (transfer none). */
const char *const *vmd_control_get_commands(VmdControl *ctl);
/* The VMM's process id (SO_PEERCRED), or 0. */
pid_t vmd_control_get_pid(VmdControl *ctl);

/*
 * Runs one command and returns its "return" value (transfer full; an empty object when
 * there is none). An error reply becomes VMD_ERROR_VMM ("CLASS: desc"); events that arrive
 * meanwhile are skipped.
 */
JsonNode *vmd_control_execute(VmdControl *ctl, const char *command, JsonObject *arguments,
                              GError **error);

/* One VMM's state, asked by vmd_control_probe_status. */
typedef struct {
    const char *path; /* the control socket */
    pid_t pid;        /* the VMM's process id, or 0 when it did not connect */
    GStrv commands;   /* from its greeting, or NULL */
    char *state;      /* query-status's "state", or NULL without an answer */
} VmdStatusProbe;

void vmd_status_probe_clear(VmdStatusProbe *probe);

/*
 * Asks every VMM in PROBES for its state at once: all sockets are connected and sent
 * "query-status" before any answer is awaited, so N VMs cost one round trip, not N.
 * Waits at most `timeout_ms` in all.
 */
void vmd_control_probe_status(VmdStatusProbe *probes, guint n, guint timeout_ms);

G_END_DECLS
