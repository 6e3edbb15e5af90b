/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdDefinition validation: names, sizes, and every field and combination the VMM accepts. */
#include "vmd-definition-private.h"

#include <stdio.h>
#include <string.h>
#include <errno.h>

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

gboolean vmd_definition_fail(GError **error, const char *fmt, ...)
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
        return vmd_definition_fail(error, "%s '': expected a file name", field);
    if (!g_path_is_absolute(path))
        return vmd_definition_fail(error, "%s '%s': expected an absolute path", field, path);
    return TRUE;
}

static gboolean check_serial_backend(const char *serial, GError **error)
{
    if (!serial || !strcmp(serial, "none") || !strcmp(serial, "stdio"))
        return TRUE;
    if ((g_str_has_prefix(serial, "file:") || g_str_has_prefix(serial, "unix:")) &&
        serial[5] != '\0')
        return TRUE;
    return vmd_definition_fail(error, "serial '%s': expected stdio, file:PATH, unix:PATH or none",
                               serial);
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
    /* The two modes vmdesk-vmm's --disk has (hvcore/vmm/devargs.c). */
    static const char *const caches[] = {"writeback", "none", NULL};
    g_autofree char *field = g_strdup_printf("disks[%u].path", i);

    if (!d->path)
        return vmd_definition_fail(error,
                                   "disks[%u]: missing 'path': expected the disk image's file", i);
    if (!check_path(field, d->path, error))
        return FALSE;
    if (d->cache && !g_strv_contains(caches, d->cache))
        return vmd_definition_fail(error, "disks[%u].cache '%s': expected writeback or none", i,
                                   d->cache);
    if (d->serial) {
        if (strlen(d->serial) > VMD_DISK_SERIAL_MAX)
            return vmd_definition_fail(error, "disks[%u].serial '%s': expected at most %d bytes", i,
                                       d->serial, VMD_DISK_SERIAL_MAX);
        for (const char *p = d->serial; *p; p++)
            if (!g_ascii_isprint(*p))
                return vmd_definition_fail(error, "disks[%u].serial: expected printable ASCII", i);
    }
    return TRUE;
}

/* "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", as vmdesk-vmm's --net hostfwd=. */
static gboolean check_endpoint(const char *text, gsize len)
{
    g_autofree char *s = g_strndup(text, len);
    char *colon = strrchr(s, ':');
    guint64 port;
    if (!colon || !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
        return FALSE;
    *colon = '\0';
    if (!*s)
        return TRUE;
    guint a, b, c, d;
    char tail;
    return sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a < 256 && b < 256 &&
           c < 256 && d < 256;
}

static gboolean check_hostfwd(const char *fwd)
{
    if (!g_str_has_prefix(fwd, "tcp:") && !g_str_has_prefix(fwd, "udp:"))
        return FALSE;
    const char *p = fwd + 4;
    const char *dash = strchr(p, '-');
    return dash && check_endpoint(p, (gsize)(dash - p)) &&
           check_endpoint(dash + 1, strlen(dash + 1));
}

static gboolean check_net(guint i, const VmdNet *n, GError **error)
{
    gboolean tap = !g_strcmp0(n->type, "tap");
    if (!tap && g_strcmp0(n->type, "user") != 0)
        return vmd_definition_fail(error, "net[%u].type '%s': expected user or tap", i,
                                   n->type ? n->type : "");
    if (n->mac && !check_mac(n->mac))
        return vmd_definition_fail(error,
                                   "net[%u].mac '%s': expected a unicast address such "
                                   "as 52:54:00:12:34:56",
                                   i, n->mac);
    if (tap && !n->ifname)
        return vmd_definition_fail(error,
                                   "net[%u]: type tap needs ifname (the host's tap "
                                   "interface)",
                                   i);
    if (n->ifname && (!tap || !*n->ifname || strlen(n->ifname) > 15 || strchr(n->ifname, '/') ||
                      strchr(n->ifname, ',')))
        return vmd_definition_fail(error,
                                   tap ? "net[%u].ifname '%s': expected an interface "
                                         "name of 1 to 15 characters"
                                       : "net[%u].ifname '%s': only "
                                         "type tap has an ifname",
                                   i, n->ifname);
    for (guint k = 0; n->hostfwd && n->hostfwd[k]; k++) {
        if (tap)
            return vmd_definition_fail(error, "net[%u].hostfwd: only type user forwards ports", i);
        if (!check_hostfwd(n->hostfwd[k]))
            return vmd_definition_fail(error,
                                       "net[%u].hostfwd[%u] '%s': expected "
                                       "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. "
                                       "tcp:127.0.0.1:2222-:22",
                                       i, k, n->hostfwd[k]);
    }
    return TRUE;
}

gboolean vmd_definition_validate(VmdDefinition *def, GError **error)
{
    g_return_val_if_fail(VMD_IS_DEFINITION(def), FALSE);
    guint64 bytes = 0;

    g_autofree char *why = vmd_name_check(def->name);
    if (why)
        return vmd_definition_fail(error, "%s", why);
    if (!vmd_parse_size(def->memory, &bytes))
        return vmd_definition_fail(error,
                                   "memory '%s': expected a size such as 512M or 2G (suffix K, M, "
                                   "G or T; no suffix means MiB)",
                                   def->memory ? def->memory : "");
    if (bytes < (16u << 20))
        return vmd_definition_fail(error, "memory '%s': expected at least 16M", def->memory);
    if (bytes % 4096)
        return vmd_definition_fail(error, "memory '%s': expected a multiple of 4K", def->memory);
    if (bytes > ((guint64)64 << 40))
        return vmd_definition_fail(error, "memory '%s': expected at most 64T", def->memory);
    if (def->cpus < 1 || def->cpus > VMD_MAX_CPUS)
        return vmd_definition_fail(error, "cpus %u: expected a whole number from 1 to %d",
                                   def->cpus, VMD_MAX_CPUS);
    if (!check_path("kernel", def->kernel, error) || !check_path("initrd", def->initrd, error) ||
        !check_path("firmware", def->firmware, error))
        return FALSE;
    if (def->kernel && def->firmware)
        return vmd_definition_fail(error,
                                   "kernel and firmware exclude each other: give one of them");
    if (!def->kernel && !def->firmware)
        return vmd_definition_fail(error, "no guest to run: expected kernel or firmware");
    if (!def->kernel && (def->initrd || def->cmdline))
        return vmd_definition_fail(error, "%s needs kernel (firmware finds its own boot files)",
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
                return vmd_definition_fail(error, "disks[%u].path '%s': the same file as disks[%u]",
                                           i, d->path, j);
        }
    }
    for (guint i = 0; i < def->net->len; i++) {
        const VmdNet *n = g_ptr_array_index(def->net, i);
        if (!check_net(i, n, error))
            return FALSE;
    }
    return TRUE;
}

