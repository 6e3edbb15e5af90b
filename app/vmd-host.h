/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdHost: the host's resources (CPU, memory, virtualization support, KSM) and per-VM use. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
    VMD_VIRT_NONE,   /* no hardware virtualization and no KVM */
    VMD_VIRT_VTX,    /* Intel VT-x */
    VMD_VIRT_AMDV,   /* AMD-V (SVM) */
    VMD_VIRT_PVM,    /* KVM without VT-x/AMD-V (PVM): stock guests run through an emulator */
} VmdVirtKind;

/* "none", "vt-x", "amd-v", "kvm-emulation-only". */
const char *vmd_virt_kind_to_string(VmdVirtKind kind);

/* What a counter reads when the kernel does not have its file. */
#define VMD_HOST_MISSING G_MININT64

/* KSM's counters; VMD_HOST_MISSING where the kernel does not have the file. */
typedef struct {
    gint64 run; /* 0 stopped, 1 running, 2 unmerging */
    gint64 pages_shared;
    gint64 pages_sharing;
    gint64 pages_unshared;
    gint64 general_profit; /* bytes */
    guint64 bytes_saved;   /* pages_sharing * page size */
    double ksmd_cpu_percent;
} VmdKsmStats;

/* One process's use (a VMM). */
typedef struct {
    pid_t pid;
    double cpu_percent; /* since the previous refresh, or over its lifetime the first time */
    guint64 rss_bytes;
    gint64 ksm_merging_pages; /* VMD_HOST_MISSING without /proc/PID/ksm_merging_pages */
} VmdProcessStats;

void vmd_process_stats_free(VmdProcessStats *stats);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmdProcessStats, vmd_process_stats_free)
/* (transfer full) */
JsonNode *vmd_process_stats_to_json(const VmdProcessStats *stats);

#define VMD_TYPE_HOST (vmd_host_get_type())
G_DECLARE_FINAL_TYPE(VmdHost, vmd_host, VMD, HOST, GObject)

/* Reads everything once; see vmd_host_refresh. `root` variants are for tests. */
VmdHost *vmd_host_new(void);
/* A host whose /proc and /sys are under PROC_ROOT and SYS_ROOT, and /dev/kvm at KVM_PATH. */
VmdHost *vmd_host_new_for_paths(const char *proc_root, const char *sys_root,
                                const char *kvm_path);

/* Rereads memory, KSM and the tracked processes' counters; emits "refreshed". */
void vmd_host_refresh(VmdHost *host);
/* Refreshes every `interval_ms` on the thread-default main context; 0 stops. */
void vmd_host_set_refresh_interval(VmdHost *host, guint interval_ms);

const char *vmd_host_get_cpu_model(VmdHost *host);
guint vmd_host_get_cpu_count(VmdHost *host);
guint64 vmd_host_get_memory_total(VmdHost *host);
guint64 vmd_host_get_memory_available(VmdHost *host);
VmdVirtKind vmd_host_get_virt_kind(VmdHost *host);
/* Whether /dev/kvm opens read-write for this user. */
gboolean vmd_host_get_kvm_usable(VmdHost *host);
/* One or two sentences for the user about what the virtualization status means. */
const char *vmd_host_get_virt_advice(VmdHost *host);
const VmdKsmStats *vmd_host_get_ksm(VmdHost *host);
/* PID's use, measured against the last refresh that saw it (transfer full), or NULL when
 * the process is gone. Tracks the pid from then on. */
VmdProcessStats *vmd_host_get_process_stats(VmdHost *host, pid_t pid);

/* Everything above as one JSON object (transfer full). */
JsonNode *vmd_host_to_json(VmdHost *host);

G_END_DECLS
