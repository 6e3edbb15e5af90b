/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of VmdHost against a fake /proc, /sys and /dev/kvm in a temporary folder. */
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmd-host.h"

typedef struct {
    char *root;
    char *proc;
    char *sys;
    char *kvm;
} Fake;

static void put(const char *dir, const char *file, const char *text)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    g_autofree char *parent = g_path_get_dirname(path);
    g_assert_cmpint(g_mkdir_with_parents(parent, 0755), ==, 0);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static const char cpuinfo_fmt[] =
    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Fake CPU @ 3.00GHz\n"
    "flags\t\t: fpu vme de pse %s sse sse2\n\n"
    "processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Fake CPU @ 3.00GHz\n"
    "flags\t\t: fpu vme de pse %s sse sse2\n\n";

/* A fake host whose CPU has FLAG ("vmx", "svm" or ""), with /dev/kvm when `kvm`. */
static void fake_setup(Fake *f, const char *flag, gboolean kvm)
{
    f->root = g_dir_make_tmp("vmd-host-XXXXXX", NULL);
    f->proc = g_build_filename(f->root, "proc", NULL);
    f->sys = g_build_filename(f->root, "sys", NULL);
    f->kvm = g_build_filename(f->root, "kvm", NULL);
    g_autofree char *cpuinfo = g_strdup_printf(cpuinfo_fmt, flag, flag);
    put(f->proc, "cpuinfo", cpuinfo);
    put(f->proc, "meminfo", "MemTotal:       16384000 kB\nMemFree:         1000000 kB\n"
                            "MemAvailable:    8192000 kB\n");
    put(f->proc, "uptime", "20.00 35.00\n");
    if (kvm)
        put(f->root, "kvm", "");
}

static void fake_teardown(Fake *f)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->root);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->root);
    g_free(f->proc);
    g_free(f->sys);
    g_free(f->kvm);
}

static VmdHost *fake_host(Fake *f)
{
    return vmd_host_new_for_paths(f->proc, f->sys, f->kvm);
}

static void test_vtx(void)
{
    Fake f;
    fake_setup(&f, "vmx", TRUE);
    g_autoptr(VmdHost) host = fake_host(&f);
    g_assert_cmpstr(vmd_host_get_cpu_model(host), ==, "Fake CPU @ 3.00GHz");
    g_assert_cmpuint(vmd_host_get_cpu_count(host), ==, 2);
    g_assert_cmpuint(vmd_host_get_memory_total(host), ==, 16384000ull * 1024);
    g_assert_cmpuint(vmd_host_get_memory_available(host), ==, 8192000ull * 1024);
    g_assert_cmpint(vmd_host_get_virt_kind(host), ==, VMD_VIRT_VTX);
    g_assert_true(vmd_host_get_kvm_usable(host));
    g_assert_nonnull(strstr(vmd_host_get_virt_advice(host), "VT-x"));
    g_assert_nonnull(strstr(vmd_host_get_virt_advice(host), "full speed"));
    fake_teardown(&f);
}

static void test_amdv_without_kvm(void)
{
    Fake f;
    fake_setup(&f, "svm", FALSE);
    g_autoptr(VmdHost) host = fake_host(&f);
    g_assert_cmpint(vmd_host_get_virt_kind(host), ==, VMD_VIRT_AMDV);
    g_assert_false(vmd_host_get_kvm_usable(host));
    /* The advice names the module to load. */
    g_assert_nonnull(strstr(vmd_host_get_virt_advice(host), "modprobe kvm_amd"));
    fake_teardown(&f);
}

static void test_pvm_and_none(void)
{
    Fake f;
    fake_setup(&f, "", TRUE);
    put(f.sys, "module/kvm_pvm/refcnt", "1\n");
    g_autoptr(VmdHost) pvm = fake_host(&f);
    g_assert_cmpint(vmd_host_get_virt_kind(pvm), ==, VMD_VIRT_PVM);
    g_assert_cmpstr(vmd_virt_kind_to_string(vmd_host_get_virt_kind(pvm)), ==,
                    "kvm-emulation-only");
    g_assert_nonnull(strstr(vmd_host_get_virt_advice(pvm), "emulator"));
    fake_teardown(&f);

    fake_setup(&f, "", FALSE);
    g_autoptr(VmdHost) none = fake_host(&f);
    g_assert_cmpint(vmd_host_get_virt_kind(none), ==, VMD_VIRT_NONE);
    g_assert_false(vmd_host_get_kvm_usable(none));
    fake_teardown(&f);
}

static void test_ksm(void)
{
    Fake f;
    fake_setup(&f, "vmx", TRUE);
    put(f.sys, "kernel/mm/ksm/run", "1\n");
    put(f.sys, "kernel/mm/ksm/pages_shared", "10\n");
    put(f.sys, "kernel/mm/ksm/pages_sharing", "250\n");
    put(f.sys, "kernel/mm/ksm/pages_unshared", "7\n");
    put(f.sys, "kernel/mm/ksm/general_profit", "1000000\n");
    /* ksmd: 2 s of CPU over its 10 s of life (uptime 20 s, started at 10 s). */
    put(f.proc, "57/comm", "ksmd\n");
    put(f.proc, "57/stat", "57 (ksmd) S 2 0 0 0 -1 0 0 0 0 0 150 50 0 0 25 5 1 0 1000 0 0\n");
    g_autoptr(VmdHost) host = fake_host(&f);
    const VmdKsmStats *ksm = vmd_host_get_ksm(host);
    g_assert_cmpint(ksm->run, ==, 1);
    g_assert_cmpint(ksm->pages_shared, ==, 10);
    g_assert_cmpint(ksm->pages_sharing, ==, 250);
    g_assert_cmpint(ksm->pages_unshared, ==, 7);
    g_assert_cmpint(ksm->general_profit, ==, 1000000);
    g_assert_cmpuint(ksm->bytes_saved, ==, 250ull * (guint64)sysconf(_SC_PAGESIZE));
    double hz = (double)sysconf(_SC_CLK_TCK);
    g_assert_cmpfloat_with_epsilon(ksm->ksmd_cpu_percent, 200.0 / hz / (20.0 - 1000.0 / hz) * 100,
                                   0.01);

    /* An older kernel without general_profit: missing, and null in the JSON. */
    g_autofree char *gp = g_build_filename(f.sys, "kernel/mm/ksm/general_profit", NULL);
    g_unlink(gp);
    vmd_host_refresh(host);
    g_assert_cmpint(vmd_host_get_ksm(host)->general_profit, ==, VMD_HOST_MISSING);
    g_autoptr(JsonNode) json = vmd_host_to_json(host);
    JsonObject *k = json_object_get_object_member(json_node_get_object(json), "ksm");
    g_assert_true(json_node_is_null(json_object_get_member(k, "general_profit")));
    g_assert_cmpint(json_object_get_int_member(k, "pages_sharing"), ==, 250);
    fake_teardown(&f);
}

static void test_process_stats(void)
{
    Fake f;
    fake_setup(&f, "vmx", TRUE);
    long hz = sysconf(_SC_CLK_TCK);
    /* 4 s of CPU (utime + stime) over 10 s of life: 40%. */
    g_autofree char *stat = g_strdup_printf("42 (vmdesk vmm) S 1 42 42 0 -1 0 0 0 0 0 %ld %ld "
                                            "0 0 20 0 3 0 %ld 0 0\n", 3 * hz, hz, 10 * hz);
    put(f.proc, "42/stat", stat);
    put(f.proc, "42/status", "Name:\tvmdesk-vmm\nVmPeak:\t  999 kB\nVmRSS:\t   5000 kB\n");
    put(f.proc, "42/ksm_merging_pages", "123\n");
    g_autoptr(VmdHost) host = fake_host(&f);

    g_autoptr(VmdProcessStats) first = vmd_host_get_process_stats(host, 42);
    g_assert_nonnull(first);
    g_assert_cmpfloat_with_epsilon(first->cpu_percent, 40.0, 0.01);
    g_assert_cmpuint(first->rss_bytes, ==, 5000 * 1024);
    g_assert_cmpint(first->ksm_merging_pages, ==, 123);

    /* Half a second more CPU between two reads at least 200 ms apart: the rate since the
     * last read, at most 250%. */
    g_autofree char *stat2 = g_strdup_printf("42 (vmdesk vmm) S 1 42 42 0 -1 0 0 0 0 0 %ld %ld "
                                             "0 0 20 0 3 0 %ld 0 0\n", 3 * hz + hz / 2, hz,
                                             10 * hz);
    put(f.proc, "42/stat", stat2);
    g_usleep(200000);
    g_autofree char *mp = g_build_filename(f.proc, "42/ksm_merging_pages", NULL);
    g_unlink(mp);
    g_autoptr(VmdProcessStats) second = vmd_host_get_process_stats(host, 42);
    g_assert_nonnull(second);
    g_assert_cmpfloat(second->cpu_percent, >, 10.0);
    g_assert_cmpfloat(second->cpu_percent, <=, 250.5);
    g_assert_cmpint(second->ksm_merging_pages, ==, VMD_HOST_MISSING);
    g_autoptr(JsonNode) json = vmd_process_stats_to_json(second);
    g_assert_true(json_node_is_null(
        json_object_get_member(json_node_get_object(json), "ksm_merging_pages")));

    /* A process that is gone: NULL. */
    g_assert_null(vmd_host_get_process_stats(host, 4242));
    fake_teardown(&f);
}

static void count_up(guint *count)
{
    (*count)++;
}

static void test_refresh_signal(void)
{
    Fake f;
    fake_setup(&f, "vmx", TRUE);
    g_autoptr(VmdHost) host = fake_host(&f);
    guint count = 0;
    g_signal_connect_swapped(host, "refreshed", G_CALLBACK(count_up), &count);
    put(f.proc, "meminfo", "MemTotal:       16384000 kB\nMemAvailable:    1024 kB\n");
    vmd_host_refresh(host);
    g_assert_cmpuint(count, ==, 1);
    g_assert_cmpuint(vmd_host_get_memory_available(host), ==, 1024 * 1024);

    /* The timer refreshes on the main context. */
    vmd_host_set_refresh_interval(host, 10);
    while (count < 3)
        g_main_context_iteration(NULL, TRUE);
    vmd_host_set_refresh_interval(host, 0);
    fake_teardown(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/host/vt-x", test_vtx);
    g_test_add_func("/host/amd-v-without-kvm", test_amdv_without_kvm);
    g_test_add_func("/host/pvm-and-none", test_pvm_and_none);
    g_test_add_func("/host/ksm", test_ksm);
    g_test_add_func("/host/process-stats", test_process_stats);
    g_test_add_func("/host/refresh", test_refresh_signal);
    return g_test_run();
}
