/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-balloon: memory the guest gives back, its own memory statistics, free page reports. */
#pragma once

#include "virtio/virtio.h"
#include "vmm/machine.h"

/* The guest's statistics tags (virtio 1.2, 5.5.6.3), in order. */
#define HV_BALLOON_NR_STATS 10

struct hv_virtio_balloon {
    struct hv_virtio_dev dev;
    /* Everything below; config accesses come from vCPU threads, queue work from the loop. */
    pthread_mutex_t lock;
    uint64_t ram_size;
    bool active;
    int roles[4];       /* queue index -> what it carries, fixed at DRIVER_OK */
    uint32_t num_pages; /* the host's target, in 4 KiB pages held by the balloon */
    uint32_t actual;    /* what the guest says it holds */
    bool stats_held;    /* the guest's stats buffer, kept to ask for the next report */
    uint16_t stats_head;
    uint64_t guest_stats[HV_BALLOON_NR_STATS];
    uint32_t stats_valid; /* bit per tag */
    gint64 stats_time;    /* real time of the last report, microseconds; 0: none yet */
    uint64_t inflated, deflated, invalid_pfns;
    uint64_t reports, reported_bytes;
    struct hv_virtq_req req;
};

int hv_virtio_balloon_init(struct hv_virtio_balloon *bal, struct hv_vm *vm,
                           const struct hv_memory *mem);
/*
 * Asks the guest to shrink (or grow back) to `bytes` of usable RAM. Returns 0, or -ERANGE
 * when it is 0 or more than the guest's RAM.
 */
int hv_virtio_balloon_set_target(struct hv_virtio_balloon *bal, uint64_t bytes);

/* Reset, tear-down and query hooks for the machine's device list. */
extern const struct hv_device_ops hv_virtio_balloon_device_ops;
