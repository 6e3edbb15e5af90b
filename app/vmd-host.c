/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdHost: the host's resources (CPU, memory, virtualization support, KSM) and per-VM use. */
#include "vmd-host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    guint64 ticks;   /* utime + stime */
    gint64 when_us;  /* monotonic time of the sample */
} Sample;

struct _VmdHost {
    GObject parent_instance;
    char *proc;
    char *sys;
    char *kvm_path;
    char *cpu_model;
    guint cpu_count;
    guint64 mem_total;
    guint64 mem_available;
    VmdVirtKind virt;
    gboolean kvm_usable;
    char *advice;
    VmdKsmStats ksm;
    pid_t ksmd_pid;
    Sample ksmd_sample;
    GHashTable *samples; /* pid -> Sample */
    guint timer;
    long hz;
};

enum { SIGNAL_REFRESHED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(VmdHost, vmd_host, G_TYPE_OBJECT)

const char *vmd_virt_kind_to_string(VmdVirtKind kind)
{
    static const char *const names[] = {"none", "vt-x", "amd-v", "kvm-emulation-only"};
    return kind < G_N_ELEMENTS(names) ? names[kind] : "none";
}

void vmd_process_stats_free(VmdProcessStats *stats)
{
    g_free(stats);
}

static void vmd_host_finalize(GObject *object)
{
    VmdHost *host = VMD_HOST(object);
    if (host->timer)
        g_source_remove(host->timer);
    g_free(host->proc);
    g_free(host->sys);
    g_free(host->kvm_path);
    g_free(host->cpu_model);
    g_free(host->advice);
    g_hash_table_unref(host->samples);
    G_OBJECT_CLASS(vmd_host_parent_class)->finalize(object);
}

static void vmd_host_class_init(VmdHostClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vmd_host_finalize;
    /* VmdHost::refreshed: the counters were reread. */
    signals[SIGNAL_REFRESHED] = g_signal_new("refreshed", G_TYPE_FROM_CLASS(klass),
                                             G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                             G_TYPE_NONE, 0);
}

static void vmd_host_init(VmdHost *host)
{
    host->samples = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    host->hz = sysconf(_SC_CLK_TCK);
    if (host->hz <= 0)
        host->hz = 100;
}

static char *read_text(const char *dir, const char *file)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return text;
}

static gint64 read_int(const char *dir, const char *file)
{
    g_autofree char *text = read_text(dir, file);
    gint64 v;
    if (!text || !g_ascii_string_to_signed(g_strstrip(text), 10, G_MININT64, G_MAXINT64, &v,
                                           NULL))
        return VMD_HOST_MISSING;
    return v;
}

static void read_cpuinfo(VmdHost *host, gboolean *vmx, gboolean *svm)
{
    g_autofree char *text = read_text(host->proc, "cpuinfo");
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    guint count = 0;

    *vmx = *svm = FALSE;
    for (guint i = 0; lines[i]; i++) {
        char *colon = strchr(lines[i], ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *key = g_strstrip(lines[i]);
        const char *val = g_strstrip(colon + 1);
        if (!strcmp(key, "processor"))
            count++;
        else if (!strcmp(key, "model name") && !host->cpu_model)
            host->cpu_model = g_strdup(val);
        else if (!strcmp(key, "flags") && count <= 1) {
            g_auto(GStrv) flags = g_strsplit(val, " ", -1);
            *vmx = g_strv_contains((const char *const *)flags, "vmx");
            *svm = g_strv_contains((const char *const *)flags, "svm");
        }
    }
    host->cpu_count = count ? count : g_get_num_processors();
    if (!host->cpu_model)
        host->cpu_model = g_strdup("unknown");
}

static void read_meminfo(VmdHost *host)
{
    g_autofree char *text = read_text(host->proc, "meminfo");
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        guint64 kib;
        if (sscanf(lines[i], "MemTotal: %" G_GUINT64_FORMAT " kB", &kib) == 1)
            host->mem_total = kib * 1024;
        else if (sscanf(lines[i], "MemAvailable: %" G_GUINT64_FORMAT " kB", &kib) == 1)
            host->mem_available = kib * 1024;
    }
}

static void detect_virt(VmdHost *host)
{
    gboolean vmx, svm;
    read_cpuinfo(host, &vmx, &svm);
    g_autofree char *pvm = g_build_filename(host->sys, "module", "kvm_pvm", NULL);
    gboolean has_kvm = g_file_test(host->kvm_path, G_FILE_TEST_EXISTS);
    int fd = open(host->kvm_path, O_RDWR | O_CLOEXEC);
    host->kvm_usable = fd >= 0;
    if (fd >= 0)
        close(fd);

    if (vmx)
        host->virt = VMD_VIRT_VTX;
    else if (svm)
        host->virt = VMD_VIRT_AMDV;
    else if (g_file_test(pvm, G_FILE_TEST_IS_DIR) || has_kvm)
        host->virt = VMD_VIRT_PVM;
    else
        host->virt = VMD_VIRT_NONE;

    const char *hw = host->virt == VMD_VIRT_VTX ? "VT-x" : "AMD-V";
    const char *module = host->virt == VMD_VIRT_VTX ? "kvm_intel" : "kvm_amd";
    switch (host->virt) {
    case VMD_VIRT_VTX:
    case VMD_VIRT_AMDV:
        if (host->kvm_usable)
            host->advice = g_strdup_printf("Hardware virtualization (%s) with KVM: guests run "
                                           "at full speed.", hw);
        else if (has_kvm)
            host->advice = g_strdup_printf("The CPU has %s, but %s cannot be opened: add "
                                           "yourself to the 'kvm' group and log in again.",
                                           hw, host->kvm_path);
        else
            host->advice = g_strdup_printf("The CPU has %s, but %s is missing: load %s "
                                           "(modprobe %s) and check that virtualization is "
                                           "enabled in the firmware setup.",
                                           hw, host->kvm_path, module, module);
        break;
    case VMD_VIRT_PVM:
        host->advice = g_strdup("KVM here has no VT-x or AMD-V (emulation only, e.g. PVM): "
                                "stock guests run through KVM's instruction emulator at "
                                "about a million instructions a second. Use a host with "
                                "VT-x/AMD-V, or vmdesk's hardware lab (tests/lab).");
        break;
    case VMD_VIRT_NONE:
        host->advice = g_strdup("No hardware virtualization and no KVM: enable VT-x/AMD-V in "
                                "the firmware setup and load kvm_intel or kvm_amd.");
        break;
    }
}

/* utime + stime of /proc/PID/stat, and its start time in ticks since boot. */
static gboolean read_stat(VmdHost *host, pid_t pid, guint64 *ticks, guint64 *start)
{
    g_autofree char *dir = g_strdup_printf("%s/%d", host->proc, (int)pid);
    g_autofree char *text = read_text(dir, "stat");
    if (!text)
        return FALSE;
    const char *p = strrchr(text, ')');
    if (!p)
        return FALSE;
    g_auto(GStrv) f = g_strsplit(p + 2, " ", -1);
    /* After "pid (comm) ", field 3 (state) is f[0]; utime is field 14, stime 15, start 22. */
    if (g_strv_length(f) < 20)
        return FALSE;
    *ticks = g_ascii_strtoull(f[11], NULL, 10) + g_ascii_strtoull(f[12], NULL, 10);
    *start = g_ascii_strtoull(f[19], NULL, 10);
    return TRUE;
}

static double uptime_seconds(VmdHost *host)
{
    g_autofree char *text = read_text(host->proc, "uptime");
    return text ? g_ascii_strtod(text, NULL) : 0;
}

/* CPU % of PID since its last sample, or over its lifetime when there is none. */
static gboolean sample_cpu(VmdHost *host, pid_t pid, Sample *prev, double *percent)
{
    guint64 ticks, start;
    if (!read_stat(host, pid, &ticks, &start))
        return FALSE;
    gint64 now = g_get_monotonic_time();
    if (prev->when_us > 0 && now > prev->when_us) {
        double secs = (double)(now - prev->when_us) / 1e6;
        *percent = (double)(ticks - prev->ticks) / (double)host->hz / secs * 100.0;
    } else {
        double alive = uptime_seconds(host) - (double)start / (double)host->hz;
        *percent = alive > 0 ? (double)ticks / (double)host->hz / alive * 100.0 : 0;
    }
    prev->ticks = ticks;
    prev->when_us = now;
    return TRUE;
}

static pid_t find_ksmd(VmdHost *host)
{
    g_autoptr(GDir) d = g_dir_open(host->proc, 0, NULL);
    const char *f;
    while (d && (f = g_dir_read_name(d))) {
        if (!g_ascii_isdigit(f[0]))
            continue;
        g_autofree char *dir = g_build_filename(host->proc, f, NULL);
        g_autofree char *comm = read_text(dir, "comm");
        if (comm && !strcmp(g_strstrip(comm), "ksmd"))
            return (pid_t)atoi(f);
        /* Kernel threads come first: stop looking once past them. */
        if (atoi(f) > 1000)
            break;
    }
    return 0;
}

static void read_ksm(VmdHost *host)
{
    g_autofree char *dir = g_build_filename(host->sys, "kernel", "mm", "ksm", NULL);
    host->ksm.run = read_int(dir, "run");
    host->ksm.pages_shared = read_int(dir, "pages_shared");
    host->ksm.pages_sharing = read_int(dir, "pages_sharing");
    host->ksm.pages_unshared = read_int(dir, "pages_unshared");
    host->ksm.general_profit = read_int(dir, "general_profit");
    host->ksm.bytes_saved = host->ksm.pages_sharing > 0 && host->ksm.pages_sharing != VMD_HOST_MISSING
                                ? (guint64)host->ksm.pages_sharing * (guint64)sysconf(_SC_PAGESIZE)
                                : 0;
    if (!host->ksmd_pid)
        host->ksmd_pid = find_ksmd(host);
    host->ksm.ksmd_cpu_percent = 0;
    if (host->ksmd_pid)
        sample_cpu(host, host->ksmd_pid, &host->ksmd_sample, &host->ksm.ksmd_cpu_percent);
}

VmdHost *vmd_host_new_for_paths(const char *proc_root, const char *sys_root,
                                const char *kvm_path)
{
    VmdHost *host = g_object_new(VMD_TYPE_HOST, NULL);
    host->proc = g_strdup(proc_root);
    host->sys = g_strdup(sys_root);
    host->kvm_path = g_strdup(kvm_path);
    detect_virt(host);
    read_meminfo(host);
    read_ksm(host);
    return host;
}

VmdHost *vmd_host_new(void)
{
    return vmd_host_new_for_paths("/proc", "/sys", "/dev/kvm");
}

void vmd_host_refresh(VmdHost *host)
{
    g_return_if_fail(VMD_IS_HOST(host));
    read_meminfo(host);
    read_ksm(host);
    g_signal_emit(host, signals[SIGNAL_REFRESHED], 0);
}

static gboolean on_timer(gpointer data)
{
    vmd_host_refresh(data);
    return G_SOURCE_CONTINUE;
}

void vmd_host_set_refresh_interval(VmdHost *host, guint interval_ms)
{
    g_return_if_fail(VMD_IS_HOST(host));
    if (host->timer)
        g_source_remove(host->timer);
    host->timer = interval_ms ? g_timeout_add(interval_ms, on_timer, host) : 0;
}

const char *vmd_host_get_cpu_model(VmdHost *host) { return host->cpu_model; }
guint vmd_host_get_cpu_count(VmdHost *host) { return host->cpu_count; }
guint64 vmd_host_get_memory_total(VmdHost *host) { return host->mem_total; }
guint64 vmd_host_get_memory_available(VmdHost *host) { return host->mem_available; }
VmdVirtKind vmd_host_get_virt_kind(VmdHost *host) { return host->virt; }
gboolean vmd_host_get_kvm_usable(VmdHost *host) { return host->kvm_usable; }
const char *vmd_host_get_virt_advice(VmdHost *host) { return host->advice; }
const VmdKsmStats *vmd_host_get_ksm(VmdHost *host) { return &host->ksm; }

VmdProcessStats *vmd_host_get_process_stats(VmdHost *host, pid_t pid)
{
    g_return_val_if_fail(VMD_IS_HOST(host), NULL);
    Sample *s = g_hash_table_lookup(host->samples, GINT_TO_POINTER(pid));
    if (!s) {
        s = g_new0(Sample, 1);
        g_hash_table_insert(host->samples, GINT_TO_POINTER(pid), s);
    }
    g_autoptr(VmdProcessStats) st = g_new0(VmdProcessStats, 1);
    st->pid = pid;
    if (!sample_cpu(host, pid, s, &st->cpu_percent)) {
        g_hash_table_remove(host->samples, GINT_TO_POINTER(pid));
        return NULL;
    }
    g_autofree char *dir = g_strdup_printf("%s/%d", host->proc, (int)pid);
    g_autofree char *status = read_text(dir, "status");
    const char *rss = status ? strstr(status, "\nVmRSS:") : NULL;
    if (rss)
        st->rss_bytes = g_ascii_strtoull(rss + 7, NULL, 10) * 1024;
    st->ksm_merging_pages = read_int(dir, "ksm_merging_pages");
    return g_steal_pointer(&st);
}

static void add_int(JsonBuilder *b, const char *key, gint64 v)
{
    json_builder_set_member_name(b, key);
    if (v == VMD_HOST_MISSING)
        json_builder_add_null_value(b);
    else
        json_builder_add_int_value(b, v);
}

JsonNode *vmd_process_stats_to_json(const VmdProcessStats *st)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    add_int(b, "pid", st->pid);
    json_builder_set_member_name(b, "cpu_percent");
    json_builder_add_double_value(b, st->cpu_percent);
    add_int(b, "rss_bytes", (gint64)st->rss_bytes);
    add_int(b, "ksm_merging_pages", st->ksm_merging_pages);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *vmd_host_to_json(VmdHost *host)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "cpu_model");
    json_builder_add_string_value(b, host->cpu_model);
    add_int(b, "cpu_count", host->cpu_count);
    add_int(b, "memory_total", (gint64)host->mem_total);
    add_int(b, "memory_available", (gint64)host->mem_available);
    json_builder_set_member_name(b, "virtualization");
    json_builder_add_string_value(b, vmd_virt_kind_to_string(host->virt));
    json_builder_set_member_name(b, "kvm_usable");
    json_builder_add_boolean_value(b, host->kvm_usable);
    json_builder_set_member_name(b, "advice");
    json_builder_add_string_value(b, host->advice);
    json_builder_set_member_name(b, "ksm");
    json_builder_begin_object(b);
    add_int(b, "run", host->ksm.run);
    add_int(b, "pages_shared", host->ksm.pages_shared);
    add_int(b, "pages_sharing", host->ksm.pages_sharing);
    add_int(b, "pages_unshared", host->ksm.pages_unshared);
    add_int(b, "bytes_saved", (gint64)host->ksm.bytes_saved);
    add_int(b, "general_profit", host->ksm.general_profit);
    json_builder_set_member_name(b, "ksmd_cpu_percent");
    json_builder_add_double_value(b, host->ksm.ksmd_cpu_percent);
    json_builder_end_object(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}
