/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdDefinition: one VM's versioned JSON definition, validated, migrated, written atomically. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "vmd-error.h"

G_BEGIN_DECLS

/* The schema this libvmdesk writes; older ones are migrated on read, newer ones refused. */
#define VMD_DEFINITION_SCHEMA 1
#define VMD_NAME_MAX_BYTES 64
#define VMD_DEFAULT_MEMORY "512M"
#define VMD_DEFAULT_CMDLINE "console=ttyS0"
#define VMD_MAX_CPUS 255
#define VMD_DISK_SERIAL_MAX 20

/* One entry of "disks". */
typedef struct {
    char *path;
    gboolean readonly;
    char *cache;  /* "writeback" (default) or "none" (O_DIRECT) */
    char *serial; /* NULL, or up to 20 printable ASCII bytes */
} VmdDisk;

/* One entry of "net". */
typedef struct {
    char *type;    /* "user" (libslirp) or "tap" */
    char *mac;     /* NULL (chosen by the VMM), or "52:54:00:12:34:56" */
    char *ifname;  /* tap only: the host's tap interface */
    GStrv hostfwd; /* user only, or NULL: "tcp:127.0.0.1:2222-:22" each */
} VmdNet;

void vmd_disk_free(VmdDisk *disk);
void vmd_net_free(VmdNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmdDisk, vmd_disk_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmdNet, vmd_net_free)

#define VMD_TYPE_DEFINITION (vmd_definition_get_type())
G_DECLARE_FINAL_TYPE(VmdDefinition, vmd_definition, VMD, DEFINITION, GObject)

/* A definition with every field at its default and no guest yet (not valid until it has
 * a kernel or a firmware). */
VmdDefinition *vmd_definition_new(const char *name);

/*
 * Parses and validates a document. `expected_name` (or NULL) is the name its file name
 * gives; `origin` (or NULL) names the file in messages. Older schemas are migrated, newer
 * ones refused with VMD_ERROR_SCHEMA. Errors are one line naming the field and value.
 */
VmdDefinition *vmd_definition_new_from_data(const char *data, gssize len,
                                            const char *expected_name, const char *origin,
                                            GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Reads PATH (NAME.json) and parses it as above. */
VmdDefinition *vmd_definition_load(const char *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Checks every field and their combinations; the message names the field and the value. */
gboolean vmd_definition_validate(VmdDefinition *def, GError **error);
/* The document, pretty-printed, ending in a newline (transfer full). */
char *vmd_definition_to_data(VmdDefinition *def, gsize *len);
/* Validates, then writes the document atomically (see vmd_write_file_atomic); with
 * `replace` FALSE an existing file is left alone and VMD_ERROR_EXISTS returned. */
gboolean vmd_definition_save(VmdDefinition *def, const char *path, gboolean replace,
                             GError **error);
VmdDefinition *vmd_definition_copy(VmdDefinition *def, const char *new_name);

/*
 * Sets one field from text, as `vmdeskctl edit NAME key=value` does: scalars take their
 * plain text ("memory=2G", "ksm=true", "initrd=" clears), "disks" and "net" take a JSON
 * array. Checks the value's own syntax; run vmd_definition_validate for the whole.
 */
gboolean vmd_definition_set_field(VmdDefinition *def, const char *key, const char *value,
                                  GError **error);
/* The names of the fields, in document order (static, NULL-terminated). */
const char *const *vmd_definition_field_names(void);

/* Returns NULL, or a GError-style message (transfer full) saying which naming rule failed. */
char *vmd_name_check(const char *name);
/* Parses a size as vmdesk-vmm --memory does: "512M", "2G", "64" (MiB). */
gboolean vmd_parse_size(const char *text, guint64 *bytes);

const char *vmd_definition_get_name(VmdDefinition *def);
void vmd_definition_set_name(VmdDefinition *def, const char *name);
const char *vmd_definition_get_memory(VmdDefinition *def);
guint64 vmd_definition_get_memory_bytes(VmdDefinition *def);
void vmd_definition_set_memory(VmdDefinition *def, const char *memory);
guint vmd_definition_get_cpus(VmdDefinition *def);
void vmd_definition_set_cpus(VmdDefinition *def, guint cpus);
const char *vmd_definition_get_kernel(VmdDefinition *def);
void vmd_definition_set_kernel(VmdDefinition *def, const char *path);
const char *vmd_definition_get_initrd(VmdDefinition *def);
void vmd_definition_set_initrd(VmdDefinition *def, const char *path);
/* The stored command line, or NULL when it is the default. */
const char *vmd_definition_get_cmdline(VmdDefinition *def);
void vmd_definition_set_cmdline(VmdDefinition *def, const char *cmdline);
const char *vmd_definition_get_firmware(VmdDefinition *def);
void vmd_definition_set_firmware(VmdDefinition *def, const char *path);
/* The stored serial backend, or NULL for the default (a unix socket vmdesk chooses). */
const char *vmd_definition_get_serial(VmdDefinition *def);
void vmd_definition_set_serial(VmdDefinition *def, const char *serial);
gboolean vmd_definition_get_ksm(VmdDefinition *def);
void vmd_definition_set_ksm(VmdDefinition *def, gboolean ksm);
gboolean vmd_definition_get_hugepages(VmdDefinition *def);
void vmd_definition_set_hugepages(VmdDefinition *def, gboolean hugepages);
gboolean vmd_definition_get_no_reboot(VmdDefinition *def);
void vmd_definition_set_no_reboot(VmdDefinition *def, gboolean no_reboot);
/* (element-type VmdDisk) (transfer none): the list itself, to read or change. */
GPtrArray *vmd_definition_get_disks(VmdDefinition *def);
/* (element-type VmdNet) (transfer none) */
GPtrArray *vmd_definition_get_net(VmdDefinition *def);
/* The schema the document was read with (before migration), or the current one. */
guint vmd_definition_get_loaded_schema(VmdDefinition *def);

G_END_DECLS
