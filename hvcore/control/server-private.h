/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the control server's socket side and its command table share. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "control/protocol.h"
#include "control/server.h"

struct hv_control {
    char *path;
    struct hv_control_ops ops;
    GMainContext *ctx;
    int listen_fd;
    GSource *listen_src;
    GSource *backoff_src;
    /* The socket file this server created: hv_control_free must not unlink a successor's. */
    dev_t dev;
    ino_t ino;
    char *greeting;
    GList *clients; /* struct client *, each holding one reference */
    unsigned next_client;
    GSource *quit_src;
    bool quit_called;
    bool closing;
    /* Events emitted off the main-loop thread wait here for it; `lock` guards both. */
    GMutex lock;
    GPtrArray *pending;
    GSource *pending_src;
};

/* One command's run: handlers read `args`, and set `ret` or fill `err`. */
struct hv_control_call {
    struct hv_control *ctl;
    JsonObject *args;
    JsonNode *ret; /* NULL means {} */
    struct hv_control_error err;
    bool then_quit; /* call ops->quit once the reply has been written */
};

struct hv_control_command {
    const char *name;
    /* Names of the arguments it accepts, NULL-terminated; NULL when it takes none. */
    const char *const *args;
    int (*run)(struct hv_control_call *call);
    /* When the command is legal and what it does; docs/control-protocol.md says the same. */
    const char *doc;
};

/* The command table (control/commands.c). */
extern const struct hv_control_command hv_control_commands[];
extern const size_t hv_control_nr_commands;
const struct hv_control_command *hv_control_find_command(const char *name);
/* "query-status, pause, ..." for error messages; g_free it. */
char *hv_control_command_list(void);
