/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdeskctl's shared parts: exit statuses, option parsing, output helpers. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "vmd-library.h"

/* Exit statuses, documented in vmdeskctl(1). */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,      /* an I/O, host or VMM failure, or a timeout */
    EXIT_USAGE = 2,       /* a bad command line */
    EXIT_NOT_FOUND = 3,   /* no VM of that name */
    EXIT_INVALID = 4,     /* an invalid value or definition (including a newer schema) */
    EXIT_CONFLICT = 5,    /* the name is taken, or the VM is (not) running */
    EXIT_UNSUPPORTED = 6, /* this vmdesk-vmm cannot do it yet */
};

typedef struct {
    VmdLibrary *lib;
    gboolean json;
    const char *self; /* argv[0] */
} Ctl;

/* Prints "vmdeskctl: MESSAGE" and returns the exit status for the error. */
int ctl_fail(GError *error);
int ctl_usage(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints a JSON node on one line (compact) or pretty, with a newline. */
void ctl_print_json(JsonNode *node, gboolean pretty);
/* The VMM binary to spawn (transfer full). */
char *ctl_find_vmm(void);

int ctl_cmd_list(Ctl *ctl, int argc, char **argv);
int ctl_cmd_info(Ctl *ctl, int argc, char **argv);
int ctl_cmd_create(Ctl *ctl, int argc, char **argv);
int ctl_cmd_edit(Ctl *ctl, int argc, char **argv);
int ctl_cmd_rename(Ctl *ctl, int argc, char **argv);
int ctl_cmd_clone(Ctl *ctl, int argc, char **argv);
int ctl_cmd_delete(Ctl *ctl, int argc, char **argv);
int ctl_cmd_disk(Ctl *ctl, int argc, char **argv);
int ctl_cmd_start(Ctl *ctl, int argc, char **argv);
int ctl_cmd_stop(Ctl *ctl, int argc, char **argv);
int ctl_cmd_pause(Ctl *ctl, int argc, char **argv);
int ctl_cmd_resume(Ctl *ctl, int argc, char **argv);
int ctl_cmd_reset(Ctl *ctl, int argc, char **argv);
int ctl_cmd_events(Ctl *ctl, int argc, char **argv);
int ctl_cmd_console(Ctl *ctl, int argc, char **argv);
int ctl_cmd_host(Ctl *ctl, int argc, char **argv);
