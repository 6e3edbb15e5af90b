/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdMachine internals shared by its state side (vmd-machine.c) and its operations. */
#pragma once

#include "vmd-machine.h"

G_BEGIN_DECLS

#define CONNECT_TIMEOUT_MS 2000
#define START_TIMEOUT_MS 10000
#define QUIT_TIMEOUT_MS 5000
#define POLL_MS 10
#define TAIL_LINES 10
#define LOG_HEADER "--- vmdesk: starting "

struct _VmdMachine {
    GObject parent_instance;
    char *name;
    char *sock_path;
    char *serial_path;
    char *lock_path;
    char *exit_path;
    char *config_path; /* the definition the running VMM was started with */
    char *log_path;
    char *runtime_dir;
    char *state_dir;

    VmdMachineState state;
    pid_t pid;
    char *crash_reason;
    char *log_tail;
    GStrv commands;
    gboolean stopping; /* this process asked it to stop */

    gboolean watching;
    GCancellable *watch_cancel;
    GDataInputStream *watch_in;
    guint poll_id;
    gint64 poll_deadline;
};

typedef struct {
    VmdMachineState state;
    pid_t pid;
    char *reason;
    char *tail;
    GStrv commands;
} Probe;

void vmd_probe_clear(Probe *p);
/* vmd_machine_new without the first refresh (for vmd_machine_refresh_many). */
VmdMachine *vmd_machine_new_unread(const char *name, const char *runtime_dir,
                                   const char *state_dir);
/* TRUE while some process (the VMM or its supervisor) holds the VM's lock; otherwise,
 * with `keep_fd`, the lock stays held shared through *keep_fd. */
gboolean vmd_machine_lock_held(VmdMachine *m, int *keep_fd);
/* Removes the sockets and the run's definition of a VM that is not running. */
void vmd_machine_remove_stale(VmdMachine *m);
/* Takes P's state (and steals its strings); emits "state-changed" if it differs. */
void vmd_machine_set_state(VmdMachine *m, Probe *p);

G_END_DECLS
