/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the control protocol's query-devices and query-stats report of a machine. */
#include "vmm/machine.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void add_uint(JsonBuilder *b, const char *name, uint64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)MIN(v, (uint64_t)G_MAXINT64));
}

void hv_machine_query_devices(struct hv_machine *m, JsonBuilder *b)
{
    for (unsigned i = 0; i < m->devices->len; i++) {
        struct hv_device *d = m->devices->pdata[i];
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_string_value(b, d->id);
        json_builder_set_member_name(b, "kind");
        json_builder_add_string_value(b, d->ops->kind);
        if (d->ops->describe)
            d->ops->describe(d->impl, b);
        json_builder_end_object(b);
    }
}

/* A vCPU thread's CPU time so far, or -1 when it cannot be told. */
static int64_t thread_cpu_ns(pthread_t thread)
{
    clockid_t clk;
    struct timespec ts;
    if (pthread_getcpuclockid(thread, &clk) != 0 || clock_gettime(clk, &ts) < 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void vcpu_stats(struct hv_machine *m, JsonBuilder *b)
{
    json_builder_set_member_name(b, "vcpus");
    json_builder_begin_array(b);
    for (unsigned i = 0; i < m->vm.nr_vcpus; i++) {
        struct hv_vcpu *v = &m->vm.vcpus[i];
        json_builder_begin_object(b);
        add_uint(b, "id", v->id);
        add_uint(b, "exits", atomic_load(&v->exits));
        add_uint(b, "io-exits", atomic_load(&v->io_exits));
        add_uint(b, "mmio-exits", atomic_load(&v->mmio_exits));
        int64_t ns = v->thread_started ? thread_cpu_ns(v->thread) : -1;
        if (ns >= 0)
            add_uint(b, "cpu-time-ns", (uint64_t)ns);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void device_stats(struct hv_machine *m, JsonBuilder *b)
{
    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    for (unsigned i = 0; i < m->devices->len; i++) {
        struct hv_device *d = m->devices->pdata[i];
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_string_value(b, d->id);
        json_builder_set_member_name(b, "kind");
        json_builder_add_string_value(b, d->ops->kind);
        if (d->ops->stats)
            d->ops->stats(d->impl, b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* The number after `key` in a "Key: value" or "key value" /proc file; false if absent. */
static bool proc_value(const char *path, const char *key, uint64_t *out)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return false;
    size_t klen = strlen(key);
    for (char *line = text; line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        unsigned long long v;
        if (strncmp(line, key, klen) == 0 && sscanf(line + klen, " %llu", &v) == 1) {
            *out = v;
            return true;
        }
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

static void process_stats(JsonBuilder *b)
{
    uint64_t v;
    json_builder_set_member_name(b, "process");
    json_builder_begin_object(b);
    if (proc_value("/proc/self/status", "VmRSS:", &v))
        add_uint(b, "rss-bytes", v * 1024);
    /* ksm_merging_pages since Linux 5.19, ksm_stat since 6.1; either may be missing. */
    if (proc_value("/proc/self/ksm_merging_pages", "", &v) ||
        proc_value("/proc/self/ksm_stat", "ksm_merging_pages", &v))
        add_uint(b, "ksm-merging-pages", v);
    json_builder_end_object(b);
}

void hv_machine_query_stats(struct hv_machine *m, JsonBuilder *b)
{
    vcpu_stats(m, b);
    device_stats(m, b);
    process_stats(b);
}
