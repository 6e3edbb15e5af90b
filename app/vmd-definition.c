/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdDefinition: one VM's versioned JSON definition, validated, migrated, written atomically. */
#include "vmd-definition-private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmd-fileutil.h"

G_DEFINE_TYPE(VmdDefinition, vmd_definition, G_TYPE_OBJECT)

static const char *const field_names[] = {
    "schema", "name", "memory", "cpus", "kernel", "initrd", "cmdline", "firmware",
    "disks", "net", "serial", "ksm", "hugepages", "no_reboot", NULL,
};

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
    g_free(net->ifname);
    g_strfreev(net->hostfwd);
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
    def->hugepages = TRUE; /* as vmdesk-vmm's default */
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
        add_string(b, "ifname", n->ifname);
        if (n->hostfwd) {
            json_builder_set_member_name(b, "hostfwd");
            json_builder_begin_array(b);
            for (guint k = 0; n->hostfwd[k]; k++)
                json_builder_add_string_value(b, n->hostfwd[k]);
            json_builder_end_array(b);
        }
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
        nn->ifname = g_strdup(n->ifname);
        nn->hostfwd = g_strdupv(n->hostfwd);
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
        return vmd_definition_fail(error, "%s '%s': expected true or false", key, value);
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
        return vmd_definition_fail(error, "%s cannot be edited%s", key,
                                   !strcmp(key, "name") ? ": use rename" : "");
    if (!strcmp(key, "memory")) {
        g_free(def->memory);
        def->memory = g_strdup(*value ? value : VMD_DEFAULT_MEMORY);
    } else if (!strcmp(key, "cpus")) {
        guint64 n;
        if (!g_ascii_string_to_unsigned(value, 10, 1, VMD_MAX_CPUS, &n, NULL))
            return vmd_definition_fail(error, "cpus '%s': expected a whole number from 1 to %d",
                                       value, VMD_MAX_CPUS);
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
            vmd_definition_fail(
                error, "%s: not valid JSON (%s): expected a list such as %s", key, err->message,
                !strcmp(key, "disks") ? "[{\"path\": \"/x.img\"}]" : "[{\"type\": \"user\"}]");
            g_error_free(err);
            return FALSE;
        }
        return vmd_definition_parse_list(def, key, json_parser_get_root(p), error);
    } else {
        return vmd_definition_fail(error,
                                   "unknown field '%s': expected one of memory, cpus, kernel, "
                                   "initrd, cmdline, firmware, disks, net, serial, ksm, hugepages, "
                                   "no_reboot",
                                   key);
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
