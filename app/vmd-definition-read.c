/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdDefinition reading: JSON to a definition, field by field, with schema migration. */
#include "vmd-definition-private.h"

#include <string.h>

/* No older schema exists yet; add {from, func} here when schema 2 arrives. */
static const VmdMigration migrations[] = {{0, NULL}};

/* ---- reading ---- */

static char *node_text(JsonNode *node)
{
    g_autofree char *text = json_to_string(node, FALSE);
    if (strlen(text) > 60)
        return g_strdup_printf("%.57s...", text);
    return g_steal_pointer(&text);
}

static gboolean type_error(GError **error, const char *field, JsonNode *node,
                           const char *expected)
{
    g_autofree char *text = node_text(node);
    return vmd_definition_fail(error, "%s %s: expected %s", field, text, expected);
}

static gboolean get_string(const char *field, JsonNode *node, char **out, GError **error)
{
    if (JSON_NODE_HOLDS_NULL(node)) {
        g_clear_pointer(out, g_free);
        return TRUE;
    }
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
        return type_error(error, field, node, "a string");
    g_free(*out);
    *out = g_strdup(json_node_get_string(node));
    return TRUE;
}

static gboolean get_bool(const char *field, JsonNode *node, gboolean *out, GError **error)
{
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
        return type_error(error, field, node, "true or false");
    *out = json_node_get_boolean(node);
    return TRUE;
}

static gboolean get_strings(const char *field, JsonNode *node, GStrv *out, GError **error)
{
    if (JSON_NODE_HOLDS_NULL(node)) {
        g_clear_pointer(out, g_strfreev);
        return TRUE;
    }
    if (!JSON_NODE_HOLDS_ARRAY(node))
        return type_error(error, field, node, "a list of strings");
    JsonArray *a = json_node_get_array(node);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING) {
            g_autofree char *f = g_strdup_printf("%s[%u]", field, i);
            return type_error(error, f, e, "a string");
        }
        g_strv_builder_add(b, json_node_get_string(e));
    }
    g_strfreev(*out);
    *out = g_strv_builder_end(b);
    return TRUE;
}

static gboolean parse_disk(guint i, JsonNode *node, VmdDisk **out, GError **error)
{
    g_autofree char *field = g_strdup_printf("disks[%u]", i);
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return type_error(error, field, node, "an object such as {\"path\": \"/x.img\"}");
    g_autoptr(VmdDisk) d = g_new0(VmdDisk, 1);
    JsonObject *o = json_node_get_object(node);
    JsonObjectIter it;
    const char *key;
    JsonNode *val;
    json_object_iter_init(&it, o);
    while (json_object_iter_next(&it, &key, &val)) {
        g_autofree char *f = g_strdup_printf("disks[%u].%s", i, key);
        gboolean ok;
        if (!strcmp(key, "path"))
            ok = get_string(f, val, &d->path, error);
        else if (!strcmp(key, "readonly"))
            ok = get_bool(f, val, &d->readonly, error);
        else if (!strcmp(key, "cache"))
            ok = get_string(f, val, &d->cache, error);
        else if (!strcmp(key, "serial"))
            ok = get_string(f, val, &d->serial, error);
        else
            return vmd_definition_fail(
                error, "%s: unknown field: expected path, readonly, cache or serial", f);
        if (!ok)
            return FALSE;
    }
    *out = g_steal_pointer(&d);
    return TRUE;
}

static gboolean parse_net(guint i, JsonNode *node, VmdNet **out, GError **error)
{
    g_autofree char *field = g_strdup_printf("net[%u]", i);
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return type_error(error, field, node, "an object such as {\"type\": \"user\"}");
    g_autoptr(VmdNet) n = g_new0(VmdNet, 1);
    JsonObjectIter it;
    const char *key;
    JsonNode *val;
    json_object_iter_init(&it, json_node_get_object(node));
    while (json_object_iter_next(&it, &key, &val)) {
        g_autofree char *f = g_strdup_printf("net[%u].%s", i, key);
        gboolean ok;
        if (!strcmp(key, "type"))
            ok = get_string(f, val, &n->type, error);
        else if (!strcmp(key, "mac"))
            ok = get_string(f, val, &n->mac, error);
        else if (!strcmp(key, "ifname"))
            ok = get_string(f, val, &n->ifname, error);
        else if (!strcmp(key, "hostfwd"))
            ok = get_strings(f, val, &n->hostfwd, error);
        else
            return vmd_definition_fail(error,
                                       "%s: unknown field: expected type, mac, ifname "
                                       "or hostfwd",
                                       f);
        if (!ok)
            return FALSE;
    }
    *out = g_steal_pointer(&n);
    return TRUE;
}

gboolean vmd_definition_parse_list(VmdDefinition *def, const char *field, JsonNode *node,
                                   GError **error)
{
    gboolean disks = !strcmp(field, "disks");
    if (!JSON_NODE_HOLDS_ARRAY(node))
        return type_error(error, field, node, "a list ([...])");
    JsonArray *a = json_node_get_array(node);
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(
        disks ? (GDestroyNotify)vmd_disk_free : (GDestroyNotify)vmd_net_free);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        gpointer item = NULL;
        gboolean ok = disks ? parse_disk(i, json_array_get_element(a, i), (VmdDisk **)&item, error)
                            : parse_net(i, json_array_get_element(a, i), (VmdNet **)&item, error);
        if (!ok)
            return FALSE;
        g_ptr_array_add(items, item);
    }
    GPtrArray **dst = disks ? &def->disks : &def->net;
    g_ptr_array_unref(*dst);
    *dst = g_steal_pointer(&items);
    return TRUE;
}

static gboolean apply_member(VmdDefinition *def, const char *key, JsonNode *val, GError **error)
{
    if (!strcmp(key, "name"))
        return get_string(key, val, &def->name, error);
    if (!strcmp(key, "memory"))
        return get_string(key, val, &def->memory, error);
    if (!strcmp(key, "cpus")) {
        if (!JSON_NODE_HOLDS_VALUE(val) ||
            json_node_get_value_type(val) != G_TYPE_INT64 || json_node_get_int(val) < 1 ||
            json_node_get_int(val) > VMD_MAX_CPUS)
            return type_error(error, key, val, "a whole number from 1 to 255");
        def->cpus = (guint)json_node_get_int(val);
        return TRUE;
    }
    if (!strcmp(key, "kernel"))
        return get_string(key, val, &def->kernel, error);
    if (!strcmp(key, "initrd"))
        return get_string(key, val, &def->initrd, error);
    if (!strcmp(key, "cmdline"))
        return get_string(key, val, &def->cmdline, error);
    if (!strcmp(key, "firmware"))
        return get_string(key, val, &def->firmware, error);
    if (!strcmp(key, "serial"))
        return get_string(key, val, &def->serial, error);
    if (!strcmp(key, "ksm"))
        return get_bool(key, val, &def->ksm, error);
    if (!strcmp(key, "hugepages"))
        return get_bool(key, val, &def->hugepages, error);
    if (!strcmp(key, "no_reboot"))
        return get_bool(key, val, &def->no_reboot, error);
    if (!strcmp(key, "disks") || !strcmp(key, "net"))
        return vmd_definition_parse_list(def, key, val, error);
    return vmd_definition_fail(
        error,
        "unknown field '%s' (schema %d has: name, memory, cpus, kernel, "
        "initrd, cmdline, firmware, disks, net, serial, ksm, hugepages, no_reboot)",
        key, VMD_DEFINITION_SCHEMA);
}

static gboolean prefix_error(GError **error, const char *origin, GError *err)
{
    if (origin)
        g_prefix_error(&err, "%s: ", origin);
    g_propagate_error(error, err);
    return FALSE;
}

static gboolean migrate(JsonObject *doc, guint from, const VmdMigration *table, guint n,
                        guint current, GError **error)
{
    for (guint v = from; v < current; v++) {
        VmdMigrateFunc fn = NULL;
        for (guint i = 0; i < n; i++)
            if (table[i].migrate && table[i].from == v)
                fn = table[i].migrate;
        if (!fn) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_SCHEMA,
                        "schema %u: no migration to schema %u is known", v, v + 1);
            return FALSE;
        }
        if (!fn(doc, error))
            return FALSE;
    }
    return TRUE;
}

VmdDefinition *vmd_definition_parse_with(const char *data, gssize len, const char *expected_name,
                                         const char *origin, const VmdMigration *table,
                                         guint n_migrations, guint current, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    GError *err = NULL;

    if (len < 0)
        len = (gssize)strlen(data);
    if (len == 0) {
        g_set_error(&err, VMD_ERROR, VMD_ERROR_INVALID, "empty file: expected a JSON object");
        prefix_error(error, origin, err);
        return NULL;
    }
    if (!json_parser_load_from_data(parser, data, len, &err)) {
        GError *e = g_error_new(VMD_ERROR, VMD_ERROR_INVALID, "not valid JSON: %s",
                                err->message);
        g_error_free(err);
        prefix_error(error, origin, e);
        return NULL;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(&err, VMD_ERROR, VMD_ERROR_INVALID, "expected a JSON object at the top");
        prefix_error(error, origin, err);
        return NULL;
    }
    /* The parser's tree is immutable: migrations work on a copy. */
    g_autoptr(JsonNode) copy = json_node_copy(root);
    JsonObject *doc = json_node_get_object(copy);
    JsonNode *schema = json_object_get_member(doc, "schema");
    if (!schema) {
        g_set_error(&err, VMD_ERROR, VMD_ERROR_INVALID, "schema: missing: expected \"schema\": %u",
                    current);
        prefix_error(error, origin, err);
        return NULL;
    }
    if (!JSON_NODE_HOLDS_VALUE(schema) || json_node_get_value_type(schema) != G_TYPE_INT64 ||
        json_node_get_int(schema) < 1) {
        g_autofree char *text = node_text(schema);
        g_set_error(&err, VMD_ERROR, VMD_ERROR_INVALID, "schema %s: expected a whole number "
                    "from 1 to %u", text, current);
        prefix_error(error, origin, err);
        return NULL;
    }
    gint64 version = json_node_get_int(schema);
    if (version > (gint64)current) {
        g_set_error(&err, VMD_ERROR, VMD_ERROR_SCHEMA, "schema %" G_GINT64_FORMAT ": written "
                    "by a newer vmdesk (this one reads up to schema %u); refusing to guess",
                    version, current);
        prefix_error(error, origin, err);
        return NULL;
    }
    if (!migrate(doc, (guint)version, table, n_migrations, current, &err)) {
        prefix_error(error, origin, err);
        return NULL;
    }

    g_autoptr(VmdDefinition) def = g_object_new(VMD_TYPE_DEFINITION, NULL);
    def->loaded_schema = (guint)version;
    JsonObjectIter it;
    const char *key;
    JsonNode *val;
    json_object_iter_init(&it, doc);
    while (json_object_iter_next(&it, &key, &val)) {
        if (!strcmp(key, "schema"))
            continue;
        if (!apply_member(def, key, val, &err)) {
            prefix_error(error, origin, err);
            return NULL;
        }
    }
    if (!def->name) {
        g_set_error(&err, VMD_ERROR, VMD_ERROR_INVALID, "name: missing: expected the VM's name");
        prefix_error(error, origin, err);
        return NULL;
    }
    if (expected_name && strcmp(def->name, expected_name) != 0) {
        g_set_error(&err, VMD_ERROR, VMD_ERROR_INVALID,
                    "name '%s' does not match the file name (expected '%s')", def->name,
                    expected_name);
        prefix_error(error, origin, err);
        return NULL;
    }
    if (!vmd_definition_validate(def, &err)) {
        prefix_error(error, origin, err);
        return NULL;
    }
    return g_steal_pointer(&def);
}

VmdDefinition *vmd_definition_new_from_data(const char *data, gssize len,
                                            const char *expected_name, const char *origin,
                                            GError **error)
{
    return vmd_definition_parse_with(data, len, expected_name, origin, migrations,
                                     G_N_ELEMENTS(migrations), VMD_DEFINITION_SCHEMA, error);
}

VmdDefinition *vmd_definition_load(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    GError *err = NULL;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        gboolean missing = g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
        g_set_error(error, VMD_ERROR, missing ? VMD_ERROR_NOT_FOUND : VMD_ERROR_FAILED, "%s",
                    err->message);
        g_error_free(err);
        return NULL;
    }
    g_autofree char *base = g_path_get_basename(path);
    if (g_str_has_suffix(base, ".json"))
        base[strlen(base) - 5] = '\0';
    return vmd_definition_new_from_data(data, (gssize)len, base, path, error);
}

