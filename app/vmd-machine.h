/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdMachine: one VM's lifecycle (start, stop, pause...) and its state, seen from any front end. */
#pragma once

#include <glib-object.h>
#include <sys/types.h>

#include "vmd-definition.h"

G_BEGIN_DECLS

typedef enum {
    VMD_MACHINE_STOPPED,
    VMD_MACHINE_STARTING,
    VMD_MACHINE_RUNNING,
    VMD_MACHINE_PAUSED,
    VMD_MACHINE_SHUTTING_DOWN,
    VMD_MACHINE_CRASHED,
} VmdMachineState;

/* "stopped", "starting", "running", "paused", "shutting-down", "crashed". */
const char *vmd_machine_state_to_string(VmdMachineState state);

#define VMD_TYPE_MACHINE (vmd_machine_get_type())
G_DECLARE_FINAL_TYPE(VmdMachine, vmd_machine, VMD, MACHINE, GObject)

/*
 * The VM called `name`, whose sockets and lock live in `runtime_dir` and log in
 * `state_dir`. Its state is read at once (vmd_machine_refresh).
 */
VmdMachine *vmd_machine_new(const char *name, const char *runtime_dir, const char *state_dir);

const char *vmd_machine_get_name(VmdMachine *m);
VmdMachineState vmd_machine_get_state(VmdMachine *m);
/* The VMM's process id while it runs, else 0. */
pid_t vmd_machine_get_pid(VmdMachine *m);
/* Why it crashed (one line), or NULL. */
const char *vmd_machine_get_crash_reason(VmdMachine *m);
/* The log's last lines (up to 10) when it crashed, or NULL. */
const char *vmd_machine_get_log_tail(VmdMachine *m);
const char *vmd_machine_get_control_path(VmdMachine *m);
/* The serial console's unix socket (the default serial backend). */
const char *vmd_machine_get_serial_path(VmdMachine *m);
const char *vmd_machine_get_log_path(VmdMachine *m);
/* The commands the running VMM offers (from its greeting), or NULL. */
const char *const *vmd_machine_get_commands(VmdMachine *m);

/*
 * Reads the state from the VM's lock, sockets and exit record, so that every process sees
 * the same; removes the sockets of a VM that is no longer running. Emits "state-changed"
 * when it differs from the last one seen.
 */
void vmd_machine_refresh(VmdMachine *m);
/* vmd_machine_refresh of N machines, with every running VMM asked at once. */
void vmd_machine_refresh_many(VmdMachine *const *machines, guint n);

/*
 * Keeps a connection to the running VM's control socket on the thread-default main
 * context, so that its state changes (from any front end, or the guest) arrive as
 * "state-changed" signals at once. Call vmd_machine_refresh when the VM may have started.
 */
void vmd_machine_set_watching(VmdMachine *m, gboolean watch);

/*
 * Starts the VM as `def` describes: checks its files, takes the VM's lock (so a second
 * start, from any process, fails with VMD_ERROR_BUSY), spawns vmdesk-vmm detached and
 * waits until its control socket answers (or it exits: VMD_ERROR_VMM with the log's line).
 * `vmm` is the binary (see vmd_find_vmm).
 */
gboolean vmd_machine_start(VmdMachine *m, VmdDefinition *def, const char *vmm, GError **error);

/* Graceful stop: "powerdown" where the VMM has it (waiting `timeout_ms`), then "quit". */
gboolean vmd_machine_stop(VmdMachine *m, guint timeout_ms, GError **error);
/* "quit", then SIGKILL if the VMM is still there after a moment. */
gboolean vmd_machine_force_off(VmdMachine *m, GError **error);
gboolean vmd_machine_pause(VmdMachine *m, GError **error);
gboolean vmd_machine_resume(VmdMachine *m, GError **error);
/* VMD_ERROR_UNSUPPORTED until the VMM has a "reset" command. */
gboolean vmd_machine_reset(VmdMachine *m, GError **error);

/* The binary to spawn: $VMDESK_VMM, else hvcore/vmdesk-vmm in the build tree that holds
 * `self_exe` (e.g. /proc/self/exe of vmdeskctl), else vmdesk-vmm on PATH (transfer full). */
char *vmd_find_vmm(const char *self_exe);

G_END_DECLS
