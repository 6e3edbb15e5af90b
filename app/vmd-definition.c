/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdDefinition: one VM's versioned JSON definition, validated, migrated, written atomically. */
#include "vmd-definition-private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmd-fileutil.h"

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

G_DEFINE_TYPE(VmdDefinition, vmd_definition, G_TYPE_OBJECT)

static const char *const field_names[] = {
    "schema", "name", "memory", "cpus", "kernel", "initrd", "cmdline", "firmware",
    "disks", "net", "serial", "ksm", "hugepages", "no_reboot", NULL,
};

/* No older schema exists yet; add {from, func} here when schema 2 arrives. */
static const VmdMigration migrations[] = {{0, NULL}};

void vmd_disk_free(VmdDisk *disk)
{
    if (!disk)
        return;
    g_free(disk->path);
    g_free(disk->cache);
    g_free(disk->serial);
    g_free(disk);
}

void vmd_net_free(VmdNet *net)
{
    if (!net)
        return;
    g_free(net->type);
    g_free(net->mac);
    g_free(net);
}

static void vmd_definition_finalize(GObject *object)
{
    VmdDefinition *def = VMD_DEFINITION(object);

    g_free(def->name);
    g_free(def->memory);
    g_free(def->kernel);
    g_free(def->initrd);
    g_free(def->cmdline);
    g_free(def->firmware);
    g_free(def->serial);
    g_ptr_array_unref(def->disks);
    g_ptr_array_unref(def->net);
    G_OBJECT_CLASS(vmd_definition_parent_class)->finalize(object);
}

static void vmd_definition_class_init(VmdDefinitionClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vmd_definition_finalize;
}

static void vmd_definition_init(VmdDefinition *def)
{
    def->memory = g_strdup(VMD_DEFAULT_MEMORY);
    def->cpus = 1;
    def->disks = g_ptr_array_new_with_free_func((GDestroyNotify)vmd_disk_free);
    def->net = g_ptr_array_new_with_free_func((GDestroyNotify)vmd_net_free);
    def->loaded_schema = VMD_DEFINITION_SCHEMA;
}

VmdDefinition *vmd_definition_new(const char *name)
{
    VmdDefinition *def = g_object_new(VMD_TYPE_DEFINITION, NULL);
    def->name = g_strdup(name);
    return def;
}

const char *const *vmd_definition_field_names(void)
{
    return field_names;
}

/* ---- names and sizes ---- */

char *vmd_name_check(const char *name)
{
    if (!name || !*name)
        return g_strdup("name is empty: expected 1 to 64 bytes");
    if (!g_utf8_validate(name, -1, NULL))
        return g_strdup("name is not valid UTF-8");
    g_autofree char *shown = g_strescape(name, NULL);
    if (strlen(name) > VMD_NAME_MAX_BYTES)
        return g_strdup_printf("name '%s' is %zu bytes long: expected at most %d", shown,
                               strlen(name), VMD_NAME_MAX_BYTES);
    if (strchr(name, '/'))
        return g_strdup_printf("name '%s' contains '/': expected no slash", shown);
    if (name[0] == '.')
        return g_strdup_printf("name '%s' starts with '.': expected a visible name", shown);
    for (const char *p = name; *p; p = g_utf8_next_char(p)) {
        if (!g_unichar_isprint(g_utf8_get_char(p)))
            return g_strdup_printf("name '%s' contains a control or unprintable character: "
                                   "expected printable text", shown);
    }
    return NULL;
}

gboolean vmd_parse_size(const char *text, guint64 *bytes)
{
    /* The same grammar as vmdesk-vmm's --memory (hvcore/vmm/args.c, hv_parse_size). */
    if (!text || !g_ascii_isdigit(text[0]))
        return FALSE;
    char *end;
    errno = 0;
    guint64 n = g_ascii_strtoull(text, &end, 10);
    if (errno)
        return FALSE;
    guint shift = 20;
    if (*end) {
        switch (g_ascii_toupper(*end)) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default: return FALSE;
        }
        end++;
        if (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "ib"))
            end += strlen(end);
        if (*end)
            return FALSE;
    }
    if (n > (G_MAXUINT64 >> shift))
        return FALSE;
    *bytes = n << shift;
    return TRUE;
}

/* ---- validation ---- */

static gboolean invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean invalid(GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, VMD_ERROR, VMD_ERROR_INVALID, msg);
    return FALSE;
}

static gboolean check_path(const char *field, const char *path, GError **error)
{
    if (!path)
        return TRUE;
    if (!*path)
        return invalid(error, "%s '': expected a file name", field);
    if (!g_path_is_absolute(path))
        return invalid(error, "%s '%s': expected an absolute path", field, path);
    return TRUE;
}

static gboolean check_serial_backend(const char *serial, GError **error)
{
    if (!serial || !strcmp(serial, "none") || !strcmp(serial, "stdio"))
        return TRUE;
    if ((g_str_has_prefix(serial, "file:") || g_str_has_prefix(serial, "unix:")) &&
        serial[5] != '\0')
        return TRUE;
    return invalid(error, "serial '%s': expected stdio, file:PATH, unix:PATH or none", serial);
}

static gboolean check_mac(const char *mac)
{
    guint b[6];
    char tail;
    if (strlen(mac) != 17 ||
        sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
               &tail) != 6)
        return FALSE;
    for (int i = 2; i < 17; i += 3)
        if (mac[i] != ':')
            return FALSE;
    return (b[0] & 1) == 0; /* a unicast address */
}

static gboolean check_disk(guint i, const VmdDisk *d, GError **error)
{
    static const char *const caches[] = {"writeback", "writethrough", "none", "unsafe"};
    g_autofree char *field = g_strdup_printf("disks[%u].path", i);

    if (!d->path)
        return invalid(error, "disks[%u]: missing 'path': expected the disk image's file", i);
    if (!check_path(field, d->path, error))
        return FALSE;
    if (d->cache && !g_strv_contains(caches, d->cache))
        return invalid(error, "disks[%u].cache '%s': expected writeback, writethrough, none "
                       "or unsafe", i, d->cache);
    if (d->serial) {
        if (strlen(d->serial) > VMD_DISK_SERIAL_MAX)
            return invalid(error, "disks[%u].serial '%s': expected at most %d bytes", i,
                           d->serial, VMD_DISK_SERIAL_MAX);
        for (const char *p = d->serial; *p; p++)
            if (!g_ascii_isprint(*p))
                return invalid(error, "disks[%u].serial: expected printable ASCII", i);
    }
    return TRUE;
}

gboolean vmd_definition_validate(VmdDefinition *def, GError **error)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), FALSE);
    guint64 bytes = 0;

    g_autofree char *why = vmd_name_check(def->name);
    if (why)
        return invalid(error, "%s", why);
    if (!vmd_parse_size(def->memory, &bytes))
        return invalid(error, "memory '%s': expected a size such as 512M or 2G (suffix K, M, "
                       "G or T; no suffix means MiB)", def->memory ? def->memory : "");
    if (bytes < (16u << 20))
        return invalid(error, "memory '%s': expected at least 16M", def->memory);
    if (bytes % 4096)
        return invalid(error, "memory '%s': expected a multiple of 4K", def->memory);
    if (bytes > ((guint64)64 << 40))
        return invalid(error, "memory '%s': expected at most 64T", def->memory);
    if (def->cpus < 1 || def->cpus > VMD_MAX_CPUS)
        return invalid(error, "cpus %u: expected a whole number from 1 to %d", def->cpus,
                       VMD_MAX_CPUS);
    if (!check_path("kernel", def->kernel, error) || !check_path("initrd", def->initrd, error) ||
        !check_path("firmware", def->firmware, error))
        return FALSE;
    if (def->kernel && def->firmware)
        return invalid(error, "kernel and firmware exclude each other: give one of them");
    if (!def->kernel && !def->firmware)
        return invalid(error, "no guest to run: expected kernel or firmware");
    if (!def->kernel && (def->initrd || def->cmdline))
        return invalid(error, "%s needs kernel (firmware finds its own boot files)",
                       def->initrd ? "initrd" : "cmdline");
    if (!check_serial_backend(def->serial, error))
        return FALSE;
    for (guint i = 0; i < def->disks->len; i++) {
        const VmdDisk *d = g_ptr_array_index(def->disks, i);
        if (!check_disk(i, d, error))
            return FALSE;
        for (guint j = 0; j < i; j++) {
            const VmdDisk *o = g_ptr_array_index(def->disks, j);
            if (!strcmp(o->path, d->path))
                return invalid(error, "disks[%u].path '%s': the same file as disks[%u]", i,
                               d->path, j);
        }
    }
    for (guint i = 0; i < def->net->len; i++) {
        const VmdNet *n = g_ptr_array_index(def->net, i);
        if (!n->type || strcmp(n->type, "user") != 0)
            return invalid(error, "net[%u].type '%s': expected user", i,
                           n->type ? n->type : "");
        if (n->mac && !check_mac(n->mac))
            return invalid(error, "net[%u].mac '%s': expected a unicast address such as "
                           "52:54:00:12:34:56", i, n->mac);
    }
    return TRUE;
}

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
    return invalid(error, "%s %s: expected %s", field, text, expected);
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
            return invalid(error, "%s: unknown field: expected path, readonly, cache or serial",
                           f);
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
        else
            return invalid(error, "%s: unknown field: expected type or mac", f);
        if (!ok)
            return FALSE;
    }
    *out = g_steal_pointer(&n);
    return TRUE;
}

static gboolean parse_list(VmdDefinition *def, const char *field, JsonNode *node,
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
        return parse_list(def, key, val, error);
    return invalid(error, "unknown field '%s' (schema %d has: name, memory, cpus, kernel, "
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

/* ---- writing ---- */

static void add_string(JsonBuilder *b, const char *key, const char *value)
{
    if (!value)
        return;
    json_builder_set_member_name(b, key);
    json_builder_add_string_value(b, value);
}

static void add_bool(JsonBuilder *b, const char *key, gboolean value)
{
    json_builder_set_member_name(b, key);
    json_builder_add_boolean_value(b, value);
}

char *vmd_definition_to_data(VmdDefinition *def, gsize *len)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), NULL);
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "schema");
    json_builder_add_int_value(b, VMD_DEFINITION_SCHEMA);
    add_string(b, "name", def->name);
    add_string(b, "memory", def->memory);
    json_builder_set_member_name(b, "cpus");
    json_builder_add_int_value(b, def->cpus);
    add_string(b, "kernel", def->kernel);
    add_string(b, "initrd", def->initrd);
    add_string(b, "cmdline", def->cmdline);
    add_string(b, "firmware", def->firmware);
    json_builder_set_member_name(b, "disks");
    json_builder_begin_array(b);
    for (guint i = 0; i < def->disks->len; i++) {
        const VmdDisk *d = g_ptr_array_index(def->disks, i);
        json_builder_begin_object(b);
        add_string(b, "path", d->path);
        add_bool(b, "readonly", d->readonly);
        add_string(b, "cache", d->cache);
        add_string(b, "serial", d->serial);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "net");
    json_builder_begin_array(b);
    for (guint i = 0; i < def->net->len; i++) {
        const VmdNet *n = g_ptr_array_index(def->net, i);
        json_builder_begin_object(b);
        add_string(b, "type", n->type);
        add_string(b, "mac", n->mac);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    add_string(b, "serial", def->serial);
    add_bool(b, "ksm", def->ksm);
    add_bool(b, "hugepages", def->hugepages);
    add_bool(b, "no_reboot", def->no_reboot);
    json_builder_end_object(b);

    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 2);
    json_generator_set_root(gen, root);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    char *out = g_strconcat(text, "\n", NULL);
    if (len)
        *len = strlen(out);
    return out;
}

gboolean vmd_definition_save(VmdDefinition *def, const char *path, gboolean replace,
                             GError **error)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), FALSE);
    gsize len;

    if (!vmd_definition_validate(def, error))
        return FALSE;
    g_autofree char *data = vmd_definition_to_data(def, &len);
    return vmd_write_file_atomic(path, data, len, 0644, replace, error);
}

VmdDefinition *vmd_definition_copy(VmdDefinition *def, const char *new_name)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), NULL);
    VmdDefinition *c = vmd_definition_new(new_name ? new_name : def->name);

    g_free(c->memory);
    c->memory = g_strdup(def->memory);
    c->cpus = def->cpus;
    c->kernel = g_strdup(def->kernel);
    c->initrd = g_strdup(def->initrd);
    c->cmdline = g_strdup(def->cmdline);
    c->firmware = g_strdup(def->firmware);
    c->serial = g_strdup(def->serial);
    c->ksm = def->ksm;
    c->hugepages = def->hugepages;
    c->no_reboot = def->no_reboot;
    for (guint i = 0; i < def->disks->len; i++) {
        const VmdDisk *d = g_ptr_array_index(def->disks, i);
        VmdDisk *nd = g_new0(VmdDisk, 1);
        nd->path = g_strdup(d->path);
        nd->readonly = d->readonly;
        nd->cache = g_strdup(d->cache);
        nd->serial = g_strdup(d->serial);
        g_ptr_array_add(c->disks, nd);
    }
    for (guint i = 0; i < def->net->len; i++) {
        const VmdNet *n = g_ptr_array_index(def->net, i);
        VmdNet *nn = g_new0(VmdNet, 1);
        nn->type = g_strdup(n->type);
        nn->mac = g_strdup(n->mac);
        g_ptr_array_add(c->net, nn);
    }
    return c;
}

/* ---- editing from text ---- */

static gboolean parse_bool_text(const char *key, const char *value, gboolean *out,
                                GError **error)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    if (g_strv_contains(yes, value))
        *out = TRUE;
    else if (g_strv_contains(no, value))
        *out = FALSE;
    else
        return invalid(error, "%s '%s': expected true or false", key, value);
    return TRUE;
}

static void set_path_text(char **dst, const char *value)
{
    g_free(*dst);
    *dst = *value ? g_canonicalize_filename(value, NULL) : NULL;
}

gboolean vmd_definition_set_field(VmdDefinition *def, const char *key, const char *value,
                                  GError **error)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), FALSE);

    if (!strcmp(key, "name") || !strcmp(key, "schema"))
        return invalid(error, "%s cannot be edited%s", key,
                       !strcmp(key, "name") ? ": use rename" : "");
    if (!strcmp(key, "memory")) {
        g_free(def->memory);
        def->memory = g_strdup(*value ? value : VMD_DEFAULT_MEMORY);
    } else if (!strcmp(key, "cpus")) {
        guint64 n;
        if (!g_ascii_string_to_unsigned(value, 10, 1, VMD_MAX_CPUS, &n, NULL))
            return invalid(error, "cpus '%s': expected a whole number from 1 to %d", value,
                           VMD_MAX_CPUS);
        def->cpus = (guint)n;
    } else if (!strcmp(key, "kernel")) {
        set_path_text(&def->kernel, value);
    } else if (!strcmp(key, "initrd")) {
        set_path_text(&def->initrd, value);
    } else if (!strcmp(key, "firmware")) {
        set_path_text(&def->firmware, value);
    } else if (!strcmp(key, "cmdline")) {
        g_free(def->cmdline);
        def->cmdline = *value ? g_strdup(value) : NULL;
    } else if (!strcmp(key, "serial")) {
        g_free(def->serial);
        def->serial = *value ? g_strdup(value) : NULL;
    } else if (!strcmp(key, "ksm")) {
        return parse_bool_text(key, value, &def->ksm, error);
    } else if (!strcmp(key, "hugepages")) {
        return parse_bool_text(key, value, &def->hugepages, error);
    } else if (!strcmp(key, "no_reboot")) {
        return parse_bool_text(key, value, &def->no_reboot, error);
    } else if (!strcmp(key, "disks") || !strcmp(key, "net")) {
        g_autoptr(JsonParser) p = json_parser_new();
        GError *err = NULL;
        if (!json_parser_load_from_data(p, *value ? value : "[]", -1, &err)) {
            invalid(error, "%s: not valid JSON (%s): expected a list such as %s", key,
                    err->message, !strcmp(key, "disks") ? "[{\"path\": \"/x.img\"}]"
                                                        : "[{\"type\": \"user\"}]");
            g_error_free(err);
            return FALSE;
        }
        return parse_list(def, key, json_parser_get_root(p), error);
    } else {
        return invalid(error, "unknown field '%s': expected one of memory, cpus, kernel, "
                       "initrd, cmdline, firmware, disks, net, serial, ksm, hugepages, "
                       "no_reboot", key);
    }
    return TRUE;
}

/* ---- accessors ---- */

#define STRING_ACCESSORS(field)                                                    \
    const char *vmd_definition_get_##field(VmdDefinition *def)                     \
    {                                                                              \
        g_return_val_if_fail(VMD_IS_DEFINITION(def), NULL);                        \
        return def->field;                                                         \
    }                                                                              \
    void vmd_definition_set_##field(VmdDefinition *def, const char *value)         \
    {                                                                              \
        g_return_if_fail(VMD_IS_DEFINITION(def));                                  \
        g_free(def->field);                                                        \
        def->field = g_strdup(value);                                              \
    }

#define BOOL_ACCESSORS(field)                                                      \
    gboolean vmd_definition_get_##field(VmdDefinition *def)                        \
    {                                                                              \
        g_return_val_if_fail(VMD_IS_DEFINITION(def), FALSE);                       \
        return def->field;                                                         \
    }                                                                              \
    void vmd_definition_set_##field(VmdDefinition *def, gboolean value)            \
    {                                                                              \
        g_return_if_fail(VMD_IS_DEFINITION(def));                                  \
        def->field = value;                                                        \
    }

STRING_ACCESSORS(name)
STRING_ACCESSORS(memory)
STRING_ACCESSORS(kernel)
STRING_ACCESSORS(initrd)
STRING_ACCESSORS(cmdline)
STRING_ACCESSORS(firmware)
STRING_ACCESSORS(serial)
BOOL_ACCESSORS(ksm)
BOOL_ACCESSORS(hugepages)
BOOL_ACCESSORS(no_reboot)

guint64 vmd_definition_get_memory_bytes(VmdDefinition *def)
{
    guint64 bytes = 0;
    g_return_val_if_fail(VMD_IS_DEFINITION(def), 0);
    return vmd_parse_size(def->memory, &bytes) ? bytes : 0;
}

guint vmd_definition_get_cpus(VmdDefinition *def)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), 0);
    return def->cpus;
}

void vmd_definition_set_cpus(VmdDefinition *def, guint cpus)
{
    g_return_if_fail(VMD_IS_DEFINITION(def));
    def->cpus = cpus;
}

GPtrArray *vmd_definition_get_disks(VmdDefinition *def)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), NULL);
    return def->disks;
}

GPtrArray *vmd_definition_get_net(VmdDefinition *def)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), NULL);
    return def->net;
}

guint vmd_definition_get_loaded_schema(VmdDefinition *def)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), 0);
    return def->loaded_schema;
}
