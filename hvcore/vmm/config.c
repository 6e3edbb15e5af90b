/* SPDX-License-Identifier: GPL-3.0-or-later */
/* --config FILE: a VM definition document (docs/vm-definition.md) turned into flags. */
#include "vmm/config.h"

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <string.h>

#define SCHEMA 1

struct conv {
    const char *path;
    GPtrArray *args;
    char **err;
};

static bool fail(struct conv *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool fail(struct conv *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    *c->err = g_strdup_printf("--config %s: %s", c->path, msg);
    return false;
}

static void add(struct conv *c, const char *flag, const char *value)
{
    g_ptr_array_add(c->args, g_strdup(flag));
    if (value)
        g_ptr_array_add(c->args, g_strdup(value));
}

static bool want_type(struct conv *c, JsonNode *n, GType type, const char *field,
                      const char *expected)
{
    if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type)
        return true;
    return fail(c, "%s: expected %s", field, expected);
}

static bool string_field(struct conv *c, JsonNode *n, const char *field, const char *flag)
{
    if (JSON_NODE_HOLDS_NULL(n))
        return true;
    if (!want_type(c, n, G_TYPE_STRING, field, "a string"))
        return false;
    add(c, flag, json_node_get_string(n));
    return true;
}

/* true -> `flag`; false -> `off_flag` (NULL: nothing, the flag's absence is the default). */
static bool bool_field(struct conv *c, JsonNode *n, const char *field, const char *flag,
                       const char *off_flag)
{
    if (!want_type(c, n, G_TYPE_BOOLEAN, field, "true or false"))
        return false;
    if (json_node_get_boolean(n))
        add(c, flag, NULL);
    else if (off_flag)
        add(c, off_flag, NULL);
    return true;
}

/* disks[i] -> "path=P,readonly=on,cache=C,serial=S" (commas in values doubled). */
static bool disk_entry(struct conv *c, JsonNode *n, unsigned i)
{
    if (!JSON_NODE_HOLDS_OBJECT(n))
        return fail(c, "disks[%u]: expected an object", i);
    JsonObject *o = json_node_get_object(n);
    GString *spec = g_string_new(NULL);
    g_autoptr(GList) members = json_object_get_members(o);
    bool ok = true;
    for (GList *l = members; l && ok; l = l->next) {
        const char *key = l->data;
        JsonNode *v = json_object_get_member(o, key);
        if (!strcmp(key, "readonly")) {
            if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_BOOLEAN)
                ok = fail(c, "disks[%u].readonly: expected true or false", i);
            else
                g_string_append_printf(spec, ",readonly=%s", json_node_get_boolean(v) ? "on" : "off");
        } else if (!strcmp(key, "path") || !strcmp(key, "cache") || !strcmp(key, "serial")) {
            if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_STRING) {
                ok = fail(c, "disks[%u].%s: expected a string", i, key);
            } else {
                g_autofree char *val = g_strdup(json_node_get_string(v));
                g_auto(GStrv) parts = g_strsplit(val, ",", -1);
                g_autofree char *escaped = g_strjoinv(",,", parts);
                g_string_append_printf(spec, ",%s=%s", key, escaped);
            }
        } else {
            ok = fail(c, "disks[%u]: unknown field '%s'; expected path, readonly, cache or serial",
                      i, key);
        }
    }
    if (ok)
        add(c, "--disk", spec->len ? spec->str + 1 : "");
    g_string_free(spec, TRUE);
    return ok;
}

/* net[i] -> "user,mac=M,hostfwd=F" / "tap,ifname=N". */
static bool net_entry(struct conv *c, JsonNode *n, unsigned i)
{
    if (!JSON_NODE_HOLDS_OBJECT(n))
        return fail(c, "net[%u]: expected an object", i);
    JsonObject *o = json_node_get_object(n);
    JsonNode *type = json_object_get_member(o, "type");
    if (!type || !JSON_NODE_HOLDS_VALUE(type) || json_node_get_value_type(type) != G_TYPE_STRING)
        return fail(c, "net[%u].type: expected \"user\" or \"tap\"", i);
    GString *spec = g_string_new(json_node_get_string(type));
    g_autoptr(GList) members = json_object_get_members(o);
    bool ok = true;
    for (GList *l = members; l && ok; l = l->next) {
        const char *key = l->data;
        JsonNode *v = json_object_get_member(o, key);
        if (!strcmp(key, "type"))
            continue;
        if (!strcmp(key, "hostfwd")) {
            if (!JSON_NODE_HOLDS_ARRAY(v)) {
                ok = fail(c, "net[%u].hostfwd: expected a list of strings", i);
                break;
            }
            JsonArray *a = json_node_get_array(v);
            for (unsigned k = 0; ok && k < json_array_get_length(a); k++) {
                JsonNode *e = json_array_get_element(a, k);
                if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
                    ok = fail(c, "net[%u].hostfwd[%u]: expected a string", i, k);
                else
                    g_string_append_printf(spec, ",hostfwd=%s", json_node_get_string(e));
            }
        } else if (!strcmp(key, "mac") || !strcmp(key, "ifname")) {
            if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_STRING)
                ok = fail(c, "net[%u].%s: expected a string", i, key);
            else
                g_string_append_printf(spec, ",%s=%s", key, json_node_get_string(v));
        } else {
            ok = fail(c, "net[%u]: unknown field '%s'; expected type, mac, hostfwd or ifname",
                      i, key);
        }
    }
    if (ok)
        add(c, "--net", spec->str);
    g_string_free(spec, TRUE);
    return ok;
}

static bool list_field(struct conv *c, JsonNode *n, const char *field,
                       bool (*entry)(struct conv *, JsonNode *, unsigned))
{
    if (!JSON_NODE_HOLDS_ARRAY(n))
        return fail(c, "%s: expected a list", field);
    JsonArray *a = json_node_get_array(n);
    for (unsigned i = 0; i < json_array_get_length(a); i++)
        if (!entry(c, json_array_get_element(a, i), i))
            return false;
    return true;
}

static bool member(struct conv *c, const char *key, JsonNode *v)
{
    if (!strcmp(key, "schema")) {
        if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_INT64)
            return fail(c, "schema: expected an integer");
        if (json_node_get_int(v) != SCHEMA)
            return fail(c, "schema %" G_GINT64_FORMAT ": this vmdesk-vmm reads schema %d",
                        json_node_get_int(v), SCHEMA);
        return true;
    }
    if (!strcmp(key, "name"))
        return want_type(c, v, G_TYPE_STRING, "name", "a string");
    if (!strcmp(key, "memory"))
        return string_field(c, v, "memory", "--memory");
    if (!strcmp(key, "cpus")) {
        if (!want_type(c, v, G_TYPE_INT64, "cpus", "an integer"))
            return false;
        g_autofree char *n = g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(v));
        add(c, "--cpus", n);
        return true;
    }
    if (!strcmp(key, "kernel") || !strcmp(key, "initrd") || !strcmp(key, "cmdline") ||
        !strcmp(key, "firmware") || !strcmp(key, "serial") || !strcmp(key, "console")) {
        g_autofree char *flag = g_strdup_printf("--%s", key);
        return string_field(c, v, key, flag);
    }
    if (!strcmp(key, "ksm"))
        return bool_field(c, v, key, "--ksm", NULL);
    if (!strcmp(key, "hugepages"))
        return bool_field(c, v, key, "--hugepages", "--no-hugepages");
    if (!strcmp(key, "no_reboot"))
        return bool_field(c, v, key, "--no-reboot", NULL);
    if (!strcmp(key, "disks"))
        return list_field(c, v, "disks", disk_entry);
    if (!strcmp(key, "net"))
        return list_field(c, v, "net", net_entry);
    return fail(c, "unknown field '%s' (see docs/vm-definition.md)", key);
}

char **hv_config_to_args(const char *path, char **err)
{
    struct conv c = {.path = path, .err = err};
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *error = NULL;
    if (!json_parser_load_from_file(parser, path, &error)) {
        fail(&c, "%s", error->message);
        g_error_free(error);
        return NULL;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        fail(&c, "expected a JSON object");
        return NULL;
    }
    JsonObject *o = json_node_get_object(root);
    if (!json_object_has_member(o, "schema")) {
        fail(&c, "schema: missing; expected \"schema\": %d", SCHEMA);
        return NULL;
    }
    c.args = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GList) members = json_object_get_members(o);
    for (GList *l = members; l; l = l->next) {
        if (!member(&c, l->data, json_object_get_member(o, l->data))) {
            g_ptr_array_free(c.args, TRUE);
            return NULL;
        }
    }
    g_ptr_array_add(c.args, NULL);
    return (char **)g_ptr_array_free(c.args, FALSE);
}
