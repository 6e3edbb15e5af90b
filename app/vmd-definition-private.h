/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdDefinition internals shared by its files (object, checks, reading) and the tests. */
#pragma once

#include "vmd-definition.h"

G_BEGIN_DECLS

struct _VmdDefinition {
    GObject parent_instance;
    char *name;
    char *memory;
    guint cpus;
    char *kernel;
    char *initrd;
    char *cmdline;
    char *firmware;
    char *serial;
    gboolean ksm;
    gboolean hugepages;
    gboolean no_reboot;
    GPtrArray *disks; /* VmdDisk */
    GPtrArray *net;   /* VmdNet */
    guint loaded_schema;
};

/* Sets a VMD_ERROR_INVALID error (one line naming the field and value); returns FALSE. */
gboolean vmd_definition_fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Replaces def's "disks" or "net" (`field`) with the list in NODE, checking each entry. */
gboolean vmd_definition_parse_list(VmdDefinition *def, const char *field, JsonNode *node,
                                   GError **error);

/* Rewrites a document of schema `from` into schema `from + 1`, in place. */
typedef gboolean (*VmdMigrateFunc)(JsonObject *doc, GError **error);

typedef struct {
    guint from;
    VmdMigrateFunc migrate;
} VmdMigration;

/* vmd_definition_new_from_data with an explicit migration table and current schema, so
 * tests can exercise migration before the real schema has a second version. */
VmdDefinition *vmd_definition_parse_with(const char *data, gssize len, const char *expected_name,
                                         const char *origin, const VmdMigration *migrations,
                                         guint n_migrations, guint current_schema,
                                         GError **error);

G_END_DECLS
