/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Starting vmdesk-vmm detached from the front end, with a supervisor that records its end. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Runs argv[0] in a new session, detached (the caller's process can exit), stdin from
 * /dev/null, stdout and stderr appended to `log_fd`. `lock_fd` (an flock'd file) is
 * inherited by the VMM and by a small supervisor process that waits for it, writes how it
 * ended ("exit N" or "signal N") to `exit_path`, and only then exits: the lock is held
 * exactly as long as the VM may still change its files. Returns once the double fork is
 * done; the caller may then close its copies of both fds.
 */
gboolean vmd_spawn_detached(char **argv, int log_fd, int lock_fd, const char *exit_path,
                            GError **error);

/* Parses what the supervisor wrote. Returns FALSE if `text` is not such a record. */
gboolean vmd_spawn_parse_exit(const char *text, gboolean *signalled, int *code);

G_END_DECLS
