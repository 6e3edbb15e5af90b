/* SPDX-License-Identifier: GPL-3.0-or-later */
/* --config FILE: a VM definition document (docs/vm-definition.md) turned into flags. */
#pragma once

#include <glib.h>

/*
 * Reads the document at `path` and returns the equivalent flags ("--memory", "1G",
 * ...) as a NULL-terminated vector, so that every value goes through the same checks
 * as on the command line. Fields that only the manager uses (name) are checked and
 * dropped. Returns NULL with *err naming the file, the field and what is expected.
 */
char **hv_config_to_args(const char *path, char **err);
