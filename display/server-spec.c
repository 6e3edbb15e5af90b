/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The values of --vnc and --spice. They are parsed in the VMM itself, so that a bad value
 * is refused before anything opens; the servers are modules (display/module.h) loaded only
 * when a VM uses them.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "display/spice.h"
#include "display/vnc.h"

/* ---- --vnc ---- */

int hv_vnc_spec_parse(const char *text, struct hv_vnc_spec *spec, char **err)
{
    memset(spec, 0, sizeof(*spec));
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    const char *addr = parts[0];
    for (unsigned i = 1; parts[i]; i++) {
        const char *opt = parts[i];
        if (!strcmp(opt, "password=on") || !strcmp(opt, "password")) {
            spec->password = true;
        } else if (!strcmp(opt, "password=off")) {
            spec->password = false;
        } else if (g_str_has_prefix(opt, "keymap=")) {
            if (hv_keymap_parse(opt + 7, &spec->keymap) < 0) {
                *err = g_strdup_printf("--vnc '%s': keymap '%s' is unknown: expected en-us or "
                                       "pt-br", text, opt + 7);
                return -EINVAL;
            }
        } else {
            *err = g_strdup_printf("--vnc '%s': unknown option '%s': expected password=on|off "
                                   "or keymap=en-us|pt-br", text, opt);
            return -EINVAL;
        }
    }
    if (!strcmp(addr, "unix")) {
        spec->ep.kind = HV_ENDPOINT_UNIX;
        return 0;
    }
    g_autofree char *why = NULL;
    if (hv_endpoint_parse("--vnc", addr, &spec->ep, &why) < 0) {
        /* The option part goes in the message too: it names what the user typed. */
        *err = g_strdup_printf("%s (or unix for a socket beside --control)", why);
        return -EINVAL;
    }
    return 0;
}

int hv_vnc_spec_finish(struct hv_vnc_spec *spec, const char *control, char **err)
{
    if (spec->ep.kind != HV_ENDPOINT_UNIX || spec->ep.path)
        return 0;
    if (!control) {
        *err = g_strdup("--vnc unix: the socket goes beside the control socket, and there is "
                        "none: give --control PATH or --vnc unix:PATH");
        return -EINVAL;
    }
    size_t len = strlen(control);
    if (g_str_has_suffix(control, ".sock"))
        len -= 5;
    spec->ep.path = g_strdup_printf("%.*s.vnc", (int)len, control);
    return 0;
}

void hv_vnc_spec_clear(struct hv_vnc_spec *spec)
{
    hv_endpoint_clear(&spec->ep);
}

/* ---- --spice ---- */

int hv_spice_spec_parse(const char *text, struct hv_spice_spec *spec, char **err)
{
    memset(spec, 0, sizeof(*spec));
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    if (!parts[0]) {
        *err = g_strdup("--spice '': expected unix:PATH or HOST:PORT, e.g. 127.0.0.1:5930");
        return -EINVAL;
    }
    if (hv_endpoint_parse("--spice", parts[0], &spec->ep, err) < 0)
        return -EINVAL;
    for (unsigned i = 1; parts[i]; i++) {
        if (!strcmp(parts[i], "ticketing=off"))
            spec->no_ticketing = true;
        else if (!strcmp(parts[i], "ticketing=on"))
            spec->no_ticketing = false;
        else {
            *err = g_strdup_printf("--spice '%s': unknown option '%s', expected ticketing=off "
                                   "or ticketing=on", text, parts[i]);
            hv_spice_spec_clear(spec);
            return -EINVAL;
        }
    }
    return 0;
}

void hv_spice_spec_clear(struct hv_spice_spec *spec)
{
    hv_endpoint_clear(&spec->ep);
    spec->no_ticketing = false;
}
