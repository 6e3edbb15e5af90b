/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdDefinition internals shared with the tests: the schema migration hook. */
#pragma once

#include "vmd-definition.h"

G_BEGIN_DECLS

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
