/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The device flags: --disk, --net and --console, parsed into specs before anything opens. */
#include "vmm/devargs.h"

#include <errno.h>
#include <stdio.h>
#include <glib.h>
#include <string.h>

/*
 * Splits "a=1,b=x,,y" into key/value pairs; ",," is a literal comma, as in QEMU, so a
 * path may contain one. The first item may be a bare word (the backend's name).
 */
static GPtrArray *split_items(const char *text)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);
    for (const char *p = text;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',' || *p == '\0') {
            g_ptr_array_add(items, g_string_free(cur, FALSE));
            if (!*p)
                break;
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *p);
        }
    }
    return items;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no")) {
        *out = false;
        return true;
    }
    return false;
}

int hv_disk_spec_parse(const char *text, struct hv_disk_spec *spec, char **err)
{
    memset(spec, 0, sizeof(*spec));
    g_autoptr(GPtrArray) items = split_items(text);
    for (unsigned i = 0; i < items->len; i++) {
        const char *item = items->pdata[i];
        const char *eq = strchr(item, '=');
        if (!eq) {
            *err = g_strdup_printf("--disk '%s': expected key=value items (path=FILE, "
                                   "readonly=on|off, cache=writeback|none, serial=TEXT), got '%s'",
                                   text, item);
            goto fail;
        }
        g_autofree char *key = g_strndup(item, (gsize)(eq - item));
        const char *val = eq + 1;
        if (!strcmp(key, "path")) {
            if (!*val) {
                *err = g_strdup_printf("--disk '%s': path= is empty; expected a file name", text);
                goto fail;
            }
            g_free(spec->path);
            spec->path = g_strdup(val);
        } else if (!strcmp(key, "readonly")) {
            if (!parse_bool(val, &spec->readonly)) {
                *err = g_strdup_printf("--disk '%s': readonly '%s': expected on or off", text, val);
                goto fail;
            }
        } else if (!strcmp(key, "cache")) {
            if (!strcmp(val, "writeback"))
                spec->cache = HV_CACHE_WRITEBACK;
            else if (!strcmp(val, "none"))
                spec->cache = HV_CACHE_NONE;
            else {
                *err = g_strdup_printf("--disk '%s': cache '%s': expected writeback or none",
                                       text, val);
                goto fail;
            }
        } else if (!strcmp(key, "serial")) {
            if (strlen(val) > 20) {
                *err = g_strdup_printf("--disk '%s': serial '%s' is %zu bytes; expected at most "
                                       "20", text, val, strlen(val));
                goto fail;
            }
            g_free(spec->serial);
            spec->serial = g_strdup(val);
        } else {
            *err = g_strdup_printf("--disk '%s': unknown key '%s'; expected path, readonly, cache "
                                   "or serial", text, key);
            goto fail;
        }
    }
    if (!spec->path) {
        *err = g_strdup_printf("--disk '%s': expected path=FILE", text);
        goto fail;
    }
    return 0;
fail:
    hv_disk_spec_clear(spec);
    return -EINVAL;
}

void hv_disk_spec_clear(struct hv_disk_spec *spec)
{
    g_free(spec->path);
    g_free(spec->serial);
    memset(spec, 0, sizeof(*spec));
}

int hv_parse_mac(const char *text, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (strlen(text) != 17 ||
        sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6)
        return -EINVAL;
    for (int i = 0; i < 6; i++) {
        if (!g_ascii_isxdigit(text[3 * i]) || !g_ascii_isxdigit(text[3 * i + 1]))
            return -EINVAL;
        mac[i] = (uint8_t)v[i];
    }
    if (mac[0] & 1)
        return -EINVAL; /* multicast */
    return 0;
}

static bool parse_port(const char *s, size_t len, uint16_t *port)
{
    g_autofree char *t = g_strndup(s, len);
    guint64 v;
    if (!g_ascii_string_to_unsigned(t, 10, 1, 65535, &v, NULL))
        return false;
    *port = (uint16_t)v;
    return true;
}

/* "ADDR:PORT" or ":PORT"; ADDR may be empty. */
static bool parse_endpoint(const char *s, size_t len, char **addr, uint16_t *port)
{
    const char *colon = g_strrstr_len(s, (gssize)len, ":");
    if (!colon)
        return false;
    if (!parse_port(colon + 1, len - (size_t)(colon + 1 - s), port))
        return false;
    *addr = colon > s ? g_strndup(s, (gsize)(colon - s)) : NULL;
    return true;
}

int hv_parse_hostfwd(const char *text, struct hv_hostfwd *fwd)
{
    memset(fwd, 0, sizeof(*fwd));
    const char *p = text;
    if (g_str_has_prefix(p, "tcp:"))
        p += 4;
    else if (g_str_has_prefix(p, "udp:")) {
        fwd->udp = true;
        p += 4;
    } else
        return -EINVAL;
    const char *dash = strchr(p, '-');
    if (!dash)
        return -EINVAL;
    if (!parse_endpoint(p, (size_t)(dash - p), &fwd->host_addr, &fwd->host_port) ||
        !parse_endpoint(dash + 1, strlen(dash + 1), &fwd->guest_addr, &fwd->guest_port)) {
        g_free(fwd->host_addr);
        g_free(fwd->guest_addr);
        memset(fwd, 0, sizeof(*fwd));
        return -EINVAL;
    }
    if (!fwd->host_addr)
        fwd->host_addr = g_strdup("127.0.0.1");
    return 0;
}

int hv_net_spec_parse(const char *text, struct hv_net_spec *spec, char **err)
{
    memset(spec, 0, sizeof(*spec));
    g_autoptr(GPtrArray) items = split_items(text);
    const char *kind = items->pdata[0];
    if (!strcmp(kind, "user"))
        spec->kind = HV_NET_USER;
    else if (!strcmp(kind, "tap"))
        spec->kind = HV_NET_TAP;
    else {
        *err = g_strdup_printf("--net '%s': unknown backend '%s'; expected user or tap", text,
                               kind);
        return -EINVAL;
    }
    for (unsigned i = 1; i < items->len; i++) {
        const char *item = items->pdata[i];
        const char *eq = strchr(item, '=');
        g_autofree char *key = eq ? g_strndup(item, (gsize)(eq - item)) : g_strdup(item);
        const char *val = eq ? eq + 1 : "";
        if (!strcmp(key, "mac")) {
            if (hv_parse_mac(val, spec->mac) < 0) {
                *err = g_strdup_printf("--net '%s': mac '%s': expected a unicast address such "
                                       "as 52:54:00:12:34:56", text, val);
                goto fail;
            }
            spec->has_mac = true;
        } else if (!strcmp(key, "hostfwd") && spec->kind == HV_NET_USER) {
            if (spec->nr_hostfwd == HV_MAX_HOSTFWD) {
                *err = g_strdup_printf("--net '%s': more than %d hostfwd items", text,
                                       HV_MAX_HOSTFWD);
                goto fail;
            }
            if (hv_parse_hostfwd(val, &spec->hostfwd[spec->nr_hostfwd]) < 0) {
                *err = g_strdup_printf("--net '%s': hostfwd '%s': expected "
                                       "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", text,
                                       val);
                goto fail;
            }
            spec->nr_hostfwd++;
        } else if (!strcmp(key, "ifname") && spec->kind == HV_NET_TAP) {
            if (!*val || strlen(val) >= 16 || strchr(val, '/')) {
                *err = g_strdup_printf("--net '%s': ifname '%s': expected an interface name of "
                                       "1 to 15 characters", text, val);
                goto fail;
            }
            g_free(spec->ifname);
            spec->ifname = g_strdup(val);
        } else {
            *err = g_strdup_printf("--net '%s': unknown key '%s' for the %s backend; expected %s",
                                   text, key, kind,
                                   spec->kind == HV_NET_USER ? "mac or hostfwd" : "ifname or mac");
            goto fail;
        }
    }
    if (spec->kind == HV_NET_TAP && !spec->ifname) {
        *err = g_strdup_printf("--net '%s': expected ifname=NAME for the tap backend", text);
        goto fail;
    }
    return 0;
fail:
    hv_net_spec_clear(spec);
    return -EINVAL;
}

void hv_net_spec_clear(struct hv_net_spec *spec)
{
    g_free(spec->ifname);
    for (unsigned i = 0; i < spec->nr_hostfwd; i++) {
        g_free(spec->hostfwd[i].host_addr);
        g_free(spec->hostfwd[i].guest_addr);
    }
    memset(spec, 0, sizeof(*spec));
}
