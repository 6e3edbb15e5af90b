/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdeskctl host: the host's CPU, memory, virtualization support, KSM and per-VM use. */
#include "vmdeskctl.h"

#include <stdio.h>

#include "vmd-host.h"

static void print_count(const char *label, gint64 v)
{
    if (v == VMD_HOST_MISSING)
        printf("  %-16s n/a\n", label);
    else
        printf("  %-16s %" G_GINT64_FORMAT "\n", label, v);
}

int ctl_cmd_host(Ctl *ctl, int argc, char **argv)
{
    (void)argv;
    if (argc > 0)
        return ctl_usage("host takes no arguments");
    g_autoptr(VmdHost) host = vmd_host_new();
    g_auto(GStrv) names = vmd_library_list_names(ctl->lib, NULL);
    g_autoptr(JsonBuilder) vms = json_builder_new();
    json_builder_begin_array(vms);
    GString *text = g_string_new(NULL);
    for (guint i = 0; names && names[i]; i++) {
        VmdMachine *m = vmd_library_get_machine(ctl->lib, names[i]);
        pid_t pid = vmd_machine_get_pid(m);
        g_autoptr(VmdProcessStats) st = pid ? vmd_host_get_process_stats(host, pid) : NULL;
        if (!st)
            continue;
        json_builder_begin_object(vms);
        json_builder_set_member_name(vms, "name");
        json_builder_add_string_value(vms, names[i]);
        json_builder_set_member_name(vms, "resources");
        json_builder_add_value(vms, vmd_process_stats_to_json(st));
        json_builder_end_object(vms);
        g_string_append_printf(text, "  %-24s pid %-7d cpu %5.1f%%  rss %8" G_GUINT64_FORMAT
                               " KiB  ksm pages %" G_GINT64_FORMAT "\n", names[i], (int)pid,
                               st->cpu_percent, st->rss_bytes / 1024,
                               st->ksm_merging_pages == VMD_HOST_MISSING
                                   ? -1 : st->ksm_merging_pages);
    }
    json_builder_end_array(vms);

    if (ctl->json) {
        g_autoptr(JsonNode) root = vmd_host_to_json(host);
        g_autoptr(JsonNode) list = json_builder_get_root(vms);
        json_object_set_member(json_node_get_object(root), "vms", json_node_copy(list));
        ctl_print_json(root, TRUE);
        g_string_free(text, TRUE);
        return EXIT_OK;
    }
    const VmdKsmStats *ksm = vmd_host_get_ksm(host);
    printf("cpu:            %s (%u)\n", vmd_host_get_cpu_model(host),
           vmd_host_get_cpu_count(host));
    printf("memory:         %" G_GUINT64_FORMAT " MiB total, %" G_GUINT64_FORMAT
           " MiB available\n", vmd_host_get_memory_total(host) >> 20,
           vmd_host_get_memory_available(host) >> 20);
    printf("virtualization: %s%s\n  %s\n", vmd_virt_kind_to_string(vmd_host_get_virt_kind(host)),
           vmd_host_get_kvm_usable(host) ? " (/dev/kvm usable)" : " (/dev/kvm not usable)",
           vmd_host_get_virt_advice(host));
    printf("ksm:            %s\n", ksm->run == 1 ? "on" : ksm->run == 0 ? "off"
                                   : ksm->run == 2 ? "unmerging" : "not available");
    print_count("pages_shared", ksm->pages_shared);
    print_count("pages_sharing", ksm->pages_sharing);
    printf("  %-16s %" G_GUINT64_FORMAT " bytes\n", "saved", ksm->bytes_saved);
    print_count("general_profit", ksm->general_profit);
    printf("  %-16s %.1f%%\n", "ksmd cpu", ksm->ksmd_cpu_percent);
    if (text->len)
        printf("running VMs:\n%s", text->str);
    g_string_free(text, TRUE);
    return EXIT_OK;
}
