/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-balloon: memory the guest gives back, its own memory statistics, free page reports. */
#include "virtio/balloon.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/mman.h>

#define F_STATS_VQ 1
#define F_REPORTING 5

/* The balloon's unit, whatever the guest's page size: 4 KiB frames. */
#define PFN_SHIFT 12
#define PFN_SIZE (1u << PFN_SHIFT)
/* num_pages and actual; nothing past them is offered (no free page hints, no poison). */
#define CONFIG_SIZE 8
/* One stats entry: le16 tag, le64 value, packed. */
#define STAT_SIZE 10
#define MAX_STATS 64

enum role { ROLE_NONE, ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_REPORTING };

static const char *const stat_names[HV_BALLOON_NR_STATS] = {
    "swap-in", "swap-out", "major-faults", "minor-faults", "free-memory",
    "total-memory", "available-memory", "disk-caches", "hugetlb-allocations",
    "hugetlb-failures",
};

/* Gives the host pages back; the guest finds them zero-filled if it touches them again. */
static void discard(uint8_t *start, uint8_t *end)
{
    uintptr_t s = ((uintptr_t)start + PFN_SIZE - 1) & ~(uintptr_t)(PFN_SIZE - 1);
    uintptr_t e = (uintptr_t)end & ~(uintptr_t)(PFN_SIZE - 1);
    if (s < e)
        madvise((void *)s, e - s, MADV_DONTNEED);
}

/* Inflate and deflate buffers: arrays of le32 page frame numbers. Called locked. */
static void take_pfns(struct hv_virtio_balloon *bal, bool inflate)
{
    uint8_t *run_start = NULL, *run_end = NULL;
    for (unsigned i = 0; i < bal->req.nr_out; i++) {
        const uint8_t *p = bal->req.iov[i].iov_base;
        size_t n = bal->req.iov[i].iov_len / 4;
        for (size_t k = 0; k < n; k++) {
            uint32_t pfn;
            memcpy(&pfn, p + 4 * k, 4);
            uint8_t *host = hv_memory_ptr(bal->dev.mem, (uint64_t)pfn << PFN_SHIFT, PFN_SIZE);
            if (!host) {
                bal->invalid_pfns++;
                continue;
            }
            if (!inflate) {
                bal->deflated++;
                continue;
            }
            bal->inflated++;
            /* Drivers hand out runs of neighbours: one madvise per run. */
            if (host == run_end) {
                run_end += PFN_SIZE;
                continue;
            }
            if (run_start)
                discard(run_start, run_end);
            run_start = host;
            run_end = host + PFN_SIZE;
        }
    }
    if (run_start)
        discard(run_start, run_end);
}

/* Free page reporting: each segment is a free range the guest will not touch until we answer. */
static void take_report(struct hv_virtio_balloon *bal)
{
    for (unsigned i = 0; i < bal->req.nr_out + bal->req.nr_in; i++) {
        uint8_t *base = bal->req.iov[i].iov_base;
        discard(base, base + bal->req.iov[i].iov_len);
        bal->reported_bytes += bal->req.iov[i].iov_len;
    }
    bal->reports++;
}

/* The stats buffer; kept until we want the next report. Called locked. */
static void take_stats(struct hv_virtio_balloon *bal, struct hv_virtq *vq)
{
    uint8_t buf[STAT_SIZE * MAX_STATS];
    size_t len = hv_virtq_copy_from_out(&bal->req, 0, buf, sizeof(buf));
    for (size_t off = 0; off + STAT_SIZE <= len; off += STAT_SIZE) {
        uint16_t tag;
        uint64_t val;
        memcpy(&tag, buf + off, 2);
        memcpy(&val, buf + off + 2, 8);
        if (tag < HV_BALLOON_NR_STATS) {
            bal->guest_stats[tag] = val;
            bal->stats_valid |= 1u << tag;
        }
    }
    bal->stats_time = g_get_real_time();
    /* A driver that offers a second buffer gets the first back; only one is kept. */
    if (bal->stats_held)
        hv_virtq_push(vq, bal->stats_head, 0);
    bal->stats_head = bal->req.head;
    bal->stats_held = true;
}

static void balloon_notify(struct hv_virtio_dev *dev, unsigned q)
{
    struct hv_virtio_balloon *bal = dev->opaque;
    struct hv_virtq *vq = &dev->queues[q].vq;
    const char *why = NULL;
    bool pushed = false;

    pthread_mutex_lock(&bal->lock);
    int role = bal->active && q < G_N_ELEMENTS(bal->roles) ? bal->roles[q] : ROLE_NONE;
    while (role != ROLE_NONE) {
        int r = hv_virtq_pop(vq, &bal->req, &why);
        if (r <= 0)
            break;
        if (role == ROLE_STATS) {
            take_stats(bal, vq);
            continue;
        }
        if (role == ROLE_REPORTING)
            take_report(bal);
        else
            take_pfns(bal, role == ROLE_INFLATE);
        hv_virtq_push(vq, bal->req.head, 0);
        pushed = true;
    }
    pthread_mutex_unlock(&bal->lock);
    if (why)
        hv_virtio_fail(dev, why);
    else if (pushed)
        hv_virtio_notify(dev, q);
}

/* Hands the stats buffer back, which asks the driver for a fresh report. */
static void request_stats(struct hv_virtio_balloon *bal)
{
    int q = -1;
    pthread_mutex_lock(&bal->lock);
    for (unsigned i = 0; i < G_N_ELEMENTS(bal->roles); i++)
        if (bal->roles[i] == ROLE_STATS)
            q = (int)i;
    if (bal->active && bal->stats_held && q >= 0) {
        hv_virtq_push(&bal->dev.queues[q].vq, bal->stats_head, 0);
        bal->stats_held = false;
    } else {
        q = -1;
    }
    pthread_mutex_unlock(&bal->lock);
    if (q >= 0)
        hv_virtio_notify(&bal->dev, (unsigned)q);
}

/*
 * No DEFLATE_ON_OOM, as in QEMU's default: the guest then takes ballooned pages out of
 * MemTotal and holds the host's target even under memory pressure.
 */
static uint64_t balloon_features(struct hv_virtio_dev *dev)
{
    (void)dev;
    return (1ull << F_STATS_VQ) | (1ull << F_REPORTING);
}

static void balloon_config_read(struct hv_virtio_dev *dev, unsigned offset, void *data,
                                unsigned len)
{
    struct hv_virtio_balloon *bal = dev->opaque;
    uint8_t cfg[CONFIG_SIZE];
    pthread_mutex_lock(&bal->lock);
    memcpy(cfg, &bal->num_pages, 4);
    memcpy(cfg + 4, &bal->actual, 4);
    pthread_mutex_unlock(&bal->lock);
    memcpy(data, cfg + offset, len);
}

static void balloon_config_write(struct hv_virtio_dev *dev, unsigned offset, const void *data,
                                 unsigned len)
{
    struct hv_virtio_balloon *bal = dev->opaque;
    pthread_mutex_lock(&bal->lock);
    /* Only `actual` is the driver's to write; bytes landing on num_pages are dropped. */
    for (unsigned i = 0; i < len; i++) {
        unsigned o = offset + i;
        if (o < 4)
            continue;
        unsigned shift = 8 * (o - 4);
        uint8_t b = ((const uint8_t *)data)[i];
        bal->actual = (bal->actual & ~(0xffu << shift)) | ((uint32_t)b << shift);
    }
    pthread_mutex_unlock(&bal->lock);
}

/* Queues are numbered in order, skipping those whose feature was not negotiated. */
static void balloon_activate(struct hv_virtio_dev *dev)
{
    struct hv_virtio_balloon *bal = dev->opaque;
    pthread_mutex_lock(&bal->lock);
    unsigned n = 0;
    memset(bal->roles, 0, sizeof(bal->roles));
    bal->roles[n++] = ROLE_INFLATE;
    bal->roles[n++] = ROLE_DEFLATE;
    if (hv_virtio_has_feature(dev, F_STATS_VQ))
        bal->roles[n++] = ROLE_STATS;
    if (hv_virtio_has_feature(dev, F_REPORTING))
        bal->roles[n++] = ROLE_REPORTING;
    bal->active = true;
    pthread_mutex_unlock(&bal->lock);
}

static void balloon_driver_reset(struct hv_virtio_dev *dev)
{
    struct hv_virtio_balloon *bal = dev->opaque;
    pthread_mutex_lock(&bal->lock);
    bal->active = false;
    bal->stats_held = false;
    /* A driver that goes away leaves nothing in the balloon. */
    bal->actual = 0;
    pthread_mutex_unlock(&bal->lock);
}

static const struct hv_virtio_ops balloon_ops = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .nr_queues = 4,
    .queue_size = 128,
    .config_size = CONFIG_SIZE,
    .features = balloon_features,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .activate = balloon_activate,
    .queue_notify = balloon_notify,
    .reset = balloon_driver_reset,
};

int hv_virtio_balloon_set_target(struct hv_virtio_balloon *bal, uint64_t bytes)
{
    if (bytes == 0 || bytes > bal->ram_size)
        return -ERANGE;
    pthread_mutex_lock(&bal->lock);
    bal->num_pages = (uint32_t)((bal->ram_size - bytes) >> PFN_SHIFT);
    pthread_mutex_unlock(&bal->lock);
    hv_virtio_config_changed(&bal->dev);
    return 0;
}

static void balloon_reset(void *impl)
{
    struct hv_virtio_balloon *bal = impl;
    /* The target outlives a reboot, as a host's decision should; the rest starts over. */
    hv_virtio_reset(&bal->dev);
}

static void balloon_destroy(void *impl)
{
    struct hv_virtio_balloon *bal = impl;
    hv_virtio_destroy(&bal->dev);
    pthread_mutex_destroy(&bal->lock);
    g_free(bal);
}

static void add_uint(JsonBuilder *b, const char *name, uint64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)MIN(v, (uint64_t)G_MAXINT64));
}

static void balloon_describe(void *impl, JsonBuilder *b)
{
    struct hv_virtio_balloon *bal = impl;
    json_builder_set_member_name(b, "pci-slot");
    json_builder_add_int_value(b, bal->dev.pci.slot);
}

static void balloon_stats(void *impl, JsonBuilder *b)
{
    struct hv_virtio_balloon *bal = impl;
    uint64_t ram = bal->ram_size, stats[HV_BALLOON_NR_STATS];
    pthread_mutex_lock(&bal->lock);
    uint64_t target = ram - ((uint64_t)bal->num_pages << PFN_SHIFT);
    uint64_t actual = ram - MIN((uint64_t)bal->actual << PFN_SHIFT, ram);
    uint64_t counters[] = {bal->inflated, bal->deflated, bal->invalid_pfns, bal->reports,
                           bal->reported_bytes};
    uint32_t valid = bal->stats_valid;
    gint64 when = bal->stats_time;
    memcpy(stats, bal->guest_stats, sizeof(stats));
    pthread_mutex_unlock(&bal->lock);

    static const char *const counter_names[] = {"inflated-pages", "deflated-pages",
                                                "invalid-pfns", "free-page-reports",
                                                "free-page-reported-bytes"};
    add_uint(b, "target", target);
    add_uint(b, "actual", actual);
    for (unsigned i = 0; i < G_N_ELEMENTS(counters); i++)
        add_uint(b, counter_names[i], counters[i]);
    json_builder_set_member_name(b, "guest");
    json_builder_begin_object(b);
    for (unsigned i = 0; i < HV_BALLOON_NR_STATS; i++)
        if (valid & (1u << i))
            add_uint(b, stat_names[i], stats[i]);
    if (when) {
        json_builder_set_member_name(b, "last-update");
        json_builder_add_double_value(b, (double)when / G_USEC_PER_SEC);
    }
    json_builder_end_object(b);
    /* What the driver reports next time comes from now, not from its last report. */
    request_stats(bal);
}

static struct hv_virtio_dev *balloon_virtio(void *impl)
{
    struct hv_virtio_balloon *bal = impl;
    return &bal->dev;
}

const struct hv_device_ops hv_virtio_balloon_device_ops = {
    .kind = "virtio-balloon",
    .reset = balloon_reset,
    .destroy = balloon_destroy,
    .describe = balloon_describe,
    .stats = balloon_stats,
    .virtio = balloon_virtio,
};

int hv_virtio_balloon_init(struct hv_virtio_balloon *bal, struct hv_vm *vm,
                           const struct hv_memory *mem)
{
    pthread_mutex_init(&bal->lock, NULL);
    bal->ram_size = mem->layout.ram_size;
    return hv_virtio_init(&bal->dev, &balloon_ops, bal, vm, mem);
}
