/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdeskctl's VM-library commands: list, info, create, edit, rename, clone, delete, disk-create. */
#include "vmdeskctl.h"

#include <stdio.h>
#include <string.h>

#include "vmd-demo.h"
#include "vmd-host.h"

static JsonNode *definition_node(VmdDefinition *def)
{
    gsize len;
    g_autofree char *text = vmd_definition_to_data(def, &len);
    g_autoptr(JsonParser) p = json_parser_new();
    if (!json_parser_load_from_data(p, text, (gssize)len, NULL))
        return json_node_new(JSON_NODE_NULL);
    return json_node_copy(json_parser_get_root(p));
}

static void add_machine_members(JsonBuilder *b, VmdMachine *m)
{
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, vmd_machine_state_to_string(vmd_machine_get_state(m)));
    json_builder_set_member_name(b, "pid");
    if (vmd_machine_get_pid(m))
        json_builder_add_int_value(b, vmd_machine_get_pid(m));
    else
        json_builder_add_null_value(b);
    if (vmd_machine_get_crash_reason(m)) {
        json_builder_set_member_name(b, "crash_reason");
        json_builder_add_string_value(b, vmd_machine_get_crash_reason(m));
    }
}

int ctl_cmd_list(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    (void)argv;
    if (argc > 0)
        return ctl_usage("list takes no arguments");
    g_auto(GStrv) names = vmd_library_list_names(ctl->lib, &error);
    if (!names)
        return ctl_fail(error);
    g_auto(GStrv) extra = vmd_library_list_undefined_running(ctl->lib);
    /* Every state read at once (the running VMMs asked in parallel); below they are cached. */
    g_autoptr(GPtrArray) machines = vmd_library_get_machines(ctl->lib, (const char *const *)names);
    g_autoptr(GPtrArray) extra_machines =
        vmd_library_get_machines(ctl->lib, (const char *const *)extra);
    (void)machines; /* held for the loop below, which reads their cached states */
    (void)extra_machines;
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    if (!ctl->json && (names[0] || extra[0]))
        printf("%-24s %-14s %5s %8s  %s\n", "NAME", "STATE", "CPUS", "MEMORY", "PID");
    for (guint pass = 0; pass < 2; pass++) {
        GStrv list = pass ? extra : names;
        for (guint i = 0; list[i]; i++) {
            VmdMachine *m = vmd_library_get_machine(ctl->lib, list[i]);
            g_autoptr(VmdDefinition) def = pass ? NULL
                                                : vmd_library_load(ctl->lib, list[i], &error);
            const char *state = vmd_machine_state_to_string(vmd_machine_get_state(m));
            json_builder_begin_object(b);
            json_builder_set_member_name(b, "name");
            json_builder_add_string_value(b, list[i]);
            add_machine_members(b, m);
            json_builder_set_member_name(b, "defined");
            json_builder_add_boolean_value(b, pass == 0);
            if (def) {
                json_builder_set_member_name(b, "cpus");
                json_builder_add_int_value(b, vmd_definition_get_cpus(def));
                json_builder_set_member_name(b, "memory");
                json_builder_add_string_value(b, vmd_definition_get_memory(def));
            } else if (error) {
                json_builder_set_member_name(b, "error");
                json_builder_add_string_value(b, error->message);
            }
            json_builder_end_object(b);
            if (!ctl->json) {
                g_autofree char *pid = vmd_machine_get_pid(m)
                                           ? g_strdup_printf("%d", (int)vmd_machine_get_pid(m))
                                           : g_strdup("-");
                if (def)
                    printf("%-24s %-14s %5u %8s  %s\n", list[i], state,
                           vmd_definition_get_cpus(def), vmd_definition_get_memory(def), pid);
                else
                    printf("%-24s %-14s %5s %8s  %s  (%s)\n", list[i], state, "?", "?", pid,
                           error ? error->message : "no definition");
            }
            g_clear_error(&error);
        }
    }
    json_builder_end_array(b);
    if (ctl->json) {
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        ctl_print_json(root, FALSE);
    }
    return EXIT_OK;
}

int ctl_cmd_info(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    if (argc != 1)
        return ctl_usage("info takes one VM name");
    g_autoptr(VmdDefinition) def = vmd_library_load(ctl->lib, argv[0], &error);
    if (!def)
        return ctl_fail(error);
    VmdMachine *m = vmd_library_get_machine(ctl->lib, argv[0]);
    g_autoptr(VmdHost) host = vmd_host_new();
    g_autoptr(VmdProcessStats) stats = NULL;
    if (vmd_machine_get_pid(m)) {
        vmd_host_refresh(host);
        stats = vmd_host_get_process_stats(host, vmd_machine_get_pid(m));
    }
    if (ctl->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, argv[0]);
        add_machine_members(b, m);
        if (vmd_machine_get_log_tail(m)) {
            json_builder_set_member_name(b, "log_tail");
            json_builder_add_string_value(b, vmd_machine_get_log_tail(m));
        }
        json_builder_set_member_name(b, "log");
        json_builder_add_string_value(b, vmd_machine_get_log_path(m));
        json_builder_set_member_name(b, "control");
        json_builder_add_string_value(b, vmd_machine_get_control_path(m));
        if (stats) {
            json_builder_set_member_name(b, "resources");
            json_builder_add_value(b, vmd_process_stats_to_json(stats));
        }
        json_builder_set_member_name(b, "definition");
        json_builder_add_value(b, definition_node(def));
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        ctl_print_json(root, TRUE);
        return EXIT_OK;
    }
    printf("name:      %s\n", argv[0]);
    printf("state:     %s\n", vmd_machine_state_to_string(vmd_machine_get_state(m)));
    if (vmd_machine_get_pid(m))
        printf("pid:       %d\n", (int)vmd_machine_get_pid(m));
    if (stats)
        printf("cpu:       %.1f%%\nrss:       %" G_GUINT64_FORMAT " KiB\nksm pages: %"
               G_GUINT64_FORMAT "\n", stats->cpu_percent, stats->rss_bytes / 1024,
               stats->ksm_merging_pages);
    if (vmd_machine_get_crash_reason(m))
        printf("crashed:   %s\n", vmd_machine_get_crash_reason(m));
    printf("log:       %s\n", vmd_machine_get_log_path(m));
    printf("memory:    %s\ncpus:      %u\n", vmd_definition_get_memory(def),
           vmd_definition_get_cpus(def));
    const char *fields[][2] = {
        {"kernel", vmd_definition_get_kernel(def)}, {"initrd", vmd_definition_get_initrd(def)},
        {"cmdline", vmd_definition_get_cmdline(def)},
        {"firmware", vmd_definition_get_firmware(def)},
        {"serial", vmd_definition_get_serial(def)},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(fields); i++)
        if (fields[i][1])
            printf("%s:%*s%s\n", fields[i][0], (int)(10 - strlen(fields[i][0])), "",
                   fields[i][1]);
    printf("ksm:       %s\nhugepages: %s\nno_reboot: %s\n",
           vmd_definition_get_ksm(def) ? "true" : "false",
           vmd_definition_get_hugepages(def) ? "true" : "false",
           vmd_definition_get_no_reboot(def) ? "true" : "false");
    GPtrArray *disks = vmd_definition_get_disks(def);
    for (guint i = 0; i < disks->len; i++) {
        VmdDisk *d = g_ptr_array_index(disks, i);
        printf("disk %u:    %s%s\n", i, d->path, d->readonly ? " (read-only)" : "");
    }
    if (vmd_machine_get_log_tail(m))
        printf("last log lines:\n%s\n", vmd_machine_get_log_tail(m));
    return EXIT_OK;
}

/* Defines a demo VM, then applies the other options given with --demo. */
static int create_demo(Ctl *ctl, const char *name, GPtrArray *edits, GPtrArray *disks)
{
    GError *error = NULL;
    for (guint i = 0; i < edits->len; i++) {
        const char *e = g_ptr_array_index(edits, i);
        if (g_str_has_prefix(e, "kernel=") || g_str_has_prefix(e, "initrd=") ||
            g_str_has_prefix(e, "firmware=") || g_str_has_prefix(e, "cmdline=") ||
            g_str_has_prefix(e, "serial="))
            return ctl_usage("--demo brings its own kernel, initrd and cmdline (got --%.*s)",
                             (int)(strchr(e, '=') - e), e);
    }
    if (disks->len)
        return ctl_usage("--demo brings its own disk (got --disk)");
    const char *builder = g_getenv("VMDESK_GUEST_BUILD");
    if (!builder || !*builder)
        builder = VMDESK_SOURCE_ROOT "/tests/lab/guest-build";
    g_autoptr(VmdDefinition) def = vmd_library_create_demo(ctl->lib, name, builder, &error);
    if (!def)
        return ctl_fail(error);
    g_ptr_array_add(edits, NULL);
    if (edits->len > 1 &&
        !vmd_library_edit(ctl->lib, name, (const char *const *)edits->pdata, &error)) {
        vmd_library_delete(ctl->lib, name, TRUE, NULL);
        return ctl_fail(error);
    }
    return EXIT_OK;
}

int ctl_cmd_create(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    static const char *const valued[] = {"--kernel", "--initrd", "--cmdline", "--firmware",
                                         "--memory", "--cpus", "--serial", "--disk", NULL};
    const char *name = NULL;
    gboolean demo = FALSE;
    g_autoptr(GPtrArray) edits = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func(g_free);

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--demo")) {
            demo = TRUE;
        } else if (!strcmp(a, "--ksm") || !strcmp(a, "--hugepages") ||
                   !strcmp(a, "--no-reboot")) {
            g_autofree char *key = g_strdelimit(g_strdup(a + 2), "-", '_');
            g_ptr_array_add(edits, g_strconcat(key, "=true", NULL));
        } else if (g_strv_contains(valued, a)) {
            if (i + 1 >= argc) {
                return ctl_usage("%s needs a value", a);
            }
            if (!strcmp(a, "--disk"))
                g_ptr_array_add(disks, g_canonicalize_filename(argv[++i], NULL));
            else
                g_ptr_array_add(edits, g_strconcat(a + 2, "=", argv[++i], NULL));
        } else if (a[0] == '-') {
            return ctl_usage("create: unknown option '%s'", a);
        } else if (!name) {
            name = a;
        } else {
            return ctl_usage("create takes one VM name (got '%s' too)", a);
        }
    }
    if (!name) {
        return ctl_usage("create needs a VM name");
    }
    if (demo)
        return create_demo(ctl, name, edits, disks);
    g_autoptr(VmdDefinition) def = vmd_definition_new(name);
    for (guint i = 0; i < edits->len; i++) {
        const char *e = g_ptr_array_index(edits, i);
        const char *eq = strchr(e, '=');
        g_autofree char *key = g_strndup(e, (gsize)(eq - e));
        if (!vmd_definition_set_field(def, key, eq + 1, &error)) {
            return ctl_fail(error);
        }
    }
    for (guint i = 0; i < disks->len; i++) {
        VmdDisk *d = g_new0(VmdDisk, 1);
        d->path = g_strdup(g_ptr_array_index(disks, i));
        g_ptr_array_add(vmd_definition_get_disks(def), d);
    }
    /* A definition must name files that exist when it is made; later they may move. */
    const char *files[][2] = {{"kernel", vmd_definition_get_kernel(def)},
                              {"initrd", vmd_definition_get_initrd(def)},
                              {"firmware", vmd_definition_get_firmware(def)}};
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        if (files[i][1] && !g_file_test(files[i][1], G_FILE_TEST_IS_REGULAR)) {
            g_set_error(&error, VMD_ERROR, VMD_ERROR_INVALID, "%s '%s': no such file",
                        files[i][0], files[i][1]);
            return ctl_fail(error);
        }
    }
    for (guint i = 0; i < disks->len; i++) {
        const char *p = g_ptr_array_index(disks, i);
        if (!g_file_test(p, G_FILE_TEST_IS_REGULAR)) {
            g_set_error(&error, VMD_ERROR, VMD_ERROR_INVALID, "disk '%s': no such file", p);
            return ctl_fail(error);
        }
    }
    if (!vmd_library_create(ctl->lib, def, &error))
        return ctl_fail(error);
    return EXIT_OK;
}

int ctl_cmd_edit(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    if (argc < 2)
        return ctl_usage("edit needs a VM name and at least one KEY=VALUE");
    g_autoptr(GPtrArray) edits = g_ptr_array_new();
    for (int i = 1; i < argc; i++)
        g_ptr_array_add(edits, argv[i]);
    g_ptr_array_add(edits, NULL);
    if (!vmd_library_edit(ctl->lib, argv[0], (const char *const *)edits->pdata, &error))
        return ctl_fail(error);
    return EXIT_OK;
}

int ctl_cmd_rename(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    if (argc != 2)
        return ctl_usage("rename takes NAME NEW-NAME");
    if (!vmd_library_rename(ctl->lib, argv[0], argv[1], &error))
        return ctl_fail(error);
    return EXIT_OK;
}

int ctl_cmd_clone(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    if (argc != 2)
        return ctl_usage("clone takes NAME NEW-NAME");
    if (!vmd_library_clone(ctl->lib, argv[0], argv[1], &error))
        return ctl_fail(error);
    return EXIT_OK;
}

int ctl_cmd_delete(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    gboolean with_disks = FALSE;
    const char *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--with-disks"))
            with_disks = TRUE;
        else if (argv[i][0] == '-')
            return ctl_usage("delete: unknown option '%s'", argv[i]);
        else if (!name)
            name = argv[i];
        else
            return ctl_usage("delete takes one VM name");
    }
    if (!name)
        return ctl_usage("delete needs a VM name");
    if (!vmd_library_delete(ctl->lib, name, with_disks, &error))
        return ctl_fail(error);
    return EXIT_OK;
}

int ctl_cmd_disk(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    guint64 size;
    if (argc != 2)
        return ctl_usage("disk-create takes FILE SIZE (e.g. disk.raw 10G)");
    if (!vmd_parse_size(argv[1], &size) || size == 0)
        return ctl_usage("disk-create: size '%s': expected e.g. 512M or 10G", argv[1]);
    g_autofree char *path = vmd_library_create_disk(ctl->lib, argv[0], size, &error);
    if (!path)
        return ctl_fail(error);
    printf("%s\n", path);
    return EXIT_OK;
}
