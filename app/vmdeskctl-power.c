/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdeskctl's lifecycle commands: start, stop, pause, resume, reset, and the events stream. */
#include "vmdeskctl.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

int ctl_cmd_start(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    if (argc != 1)
        return ctl_usage("start takes one VM name");
    g_autoptr(VmdDefinition) def = vmd_library_load(ctl->lib, argv[0], &error);
    if (!def)
        return ctl_fail(error);
    g_autofree char *vmm = ctl_find_vmm();
    VmdMachine *m = vmd_library_get_machine(ctl->lib, argv[0]);
    if (!vmd_machine_start(m, def, vmm, &error))
        return ctl_fail(error);
    return EXIT_OK;
}

int ctl_cmd_stop(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    gboolean force = FALSE;
    guint64 timeout = 30;
    const char *name = NULL;

    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--force")) {
            force = TRUE;
        } else if (!strcmp(argv[i], "--timeout")) {
            if (i + 1 >= argc ||
                !g_ascii_string_to_unsigned(argv[++i], 10, 0, 3600, &timeout, NULL))
                return ctl_usage("--timeout needs a number of seconds from 0 to 3600");
        } else if (argv[i][0] == '-') {
            return ctl_usage("stop: unknown option '%s'", argv[i]);
        } else if (!name) {
            name = argv[i];
        } else {
            return ctl_usage("stop takes one VM name");
        }
    }
    if (!name)
        return ctl_usage("stop needs a VM name");
    VmdMachine *m = vmd_library_get_machine(ctl->lib, name);
    gboolean ok = force ? vmd_machine_force_off(m, &error)
                        : vmd_machine_stop(m, (guint)timeout * 1000, &error);
    return ok ? EXIT_OK : ctl_fail(error);
}

static int simple(Ctl *ctl, int argc, char **argv, const char *what,
                  gboolean (*op)(VmdMachine *, GError **))
{
    GError *error = NULL;
    if (argc != 1)
        return ctl_usage("%s takes one VM name", what);
    g_autofree char *path = vmd_library_definition_path(ctl->lib, argv[0]);
    VmdMachine *m = vmd_library_get_machine(ctl->lib, argv[0]);
    if (vmd_machine_get_state(m) == VMD_MACHINE_STOPPED &&
        !g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(&error, VMD_ERROR, VMD_ERROR_NOT_FOUND, "no VM named '%s'", argv[0]);
        return ctl_fail(error);
    }
    if (!op(m, &error))
        return ctl_fail(error);
    return EXIT_OK;
}

int ctl_cmd_pause(Ctl *ctl, int argc, char **argv)
{
    return simple(ctl, argc, argv, "pause", vmd_machine_pause);
}

int ctl_cmd_resume(Ctl *ctl, int argc, char **argv)
{
    return simple(ctl, argc, argv, "resume", vmd_machine_resume);
}

int ctl_cmd_reset(Ctl *ctl, int argc, char **argv)
{
    return simple(ctl, argc, argv, "reset", vmd_machine_reset);
}

/* ---- events ---- */

typedef struct {
    Ctl *ctl;
    GMainLoop *loop;
} Events;

static void print_state(Ctl *ctl, VmdMachine *m)
{
    const char *state = vmd_machine_state_to_string(vmd_machine_get_state(m));
    const char *reason = vmd_machine_get_crash_reason(m);
    if (ctl->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "timestamp");
        json_builder_add_double_value(b, (double)g_get_real_time() / 1e6);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, vmd_machine_get_name(m));
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, state);
        if (reason) {
            json_builder_set_member_name(b, "crash_reason");
            json_builder_add_string_value(b, reason);
        }
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        ctl_print_json(root, FALSE);
        return;
    }
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *when = g_date_time_format(now, "%H:%M:%S");
    printf("%s %s %s%s%s\n", when, vmd_machine_get_name(m), state, reason ? ": " : "",
           reason ? reason : "");
    fflush(stdout);
}

static void on_machine(VmdLibrary *lib, VmdMachine *m, gpointer data)
{
    (void)lib;
    print_state(((Events *)data)->ctl, m);
}

static void track_all(Ctl *ctl, gboolean print)
{
    g_auto(GStrv) names = vmd_library_list_names(ctl->lib, NULL);
    for (guint i = 0; names && names[i]; i++) {
        VmdMachine *m = vmd_library_get_machine(ctl->lib, names[i]);
        if (print)
            print_state(ctl, m);
    }
}

static void on_library_changed(VmdLibrary *lib, gpointer data)
{
    (void)lib;
    track_all(((Events *)data)->ctl, FALSE);
}

static gboolean on_quit_signal(gpointer data)
{
    g_main_loop_quit(((Events *)data)->loop);
    return G_SOURCE_REMOVE;
}

int ctl_cmd_events(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    (void)argv;
    if (argc > 0)
        return ctl_usage("events takes no arguments");
    Events ev = {.ctl = ctl, .loop = g_main_loop_new(NULL, FALSE)};
    /* The current state of each VM first, then every change as it happens. */
    track_all(ctl, TRUE);
    if (!vmd_library_watch(ctl->lib, &error)) {
        g_main_loop_unref(ev.loop);
        return ctl_fail(error);
    }
    g_signal_connect(ctl->lib, "machine-state-changed", G_CALLBACK(on_machine), &ev);
    g_signal_connect(ctl->lib, "changed", G_CALLBACK(on_library_changed), &ev);
    guint s1 = g_unix_signal_add(SIGINT, on_quit_signal, &ev);
    guint s2 = g_unix_signal_add(SIGTERM, on_quit_signal, &ev);
    g_main_loop_run(ev.loop);
    g_source_remove(s1);
    g_source_remove(s2);
    g_signal_handlers_disconnect_by_data(ctl->lib, &ev);
    g_main_loop_unref(ev.loop);
    return EXIT_OK;
}
