/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The split virtqueue, device side: walks what the guest offers and trusts none of it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvm/memory.h"

#define HV_VIRTQ_MAX_SIZE 32768
/* Segments one request may have; longer chains are a guest error. */
#define HV_VIRTQ_MAX_SEGS 1024

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

struct hv_virtq {
    /* Set by the driver through the transport. */
    uint16_t size;
    bool enabled;
    uint64_t desc_gpa;
    uint64_t avail_gpa;
    uint64_t used_gpa;
    uint16_t msix_vector;

    /* Resolved when the queue is started. */
    const struct hv_memory *mem;
    bool indirect; /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
    bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
    uint8_t *desc;
    uint8_t *avail;
    uint8_t *used;
    uint16_t last_avail;
    uint16_t used_idx;
    uint16_t signalled_used;
    bool signalled_valid;
    bool notify_off; /* hv_virtq_set_notify(false): pops leave avail_event behind */
    unsigned inflight;
};

/* One buffer chain: `nr_out` device-readable segments first, then `nr_in` writable ones. */
struct hv_virtq_req {
    uint16_t head;
    unsigned nr_out;
    unsigned nr_in;
    uint64_t out_len;
    uint64_t in_len;
    struct iovec iov[HV_VIRTQ_MAX_SEGS];
};

/*
 * Checks the ring addresses and size the driver gave and maps the rings. Returns 0, or
 * -EINVAL with *why (static text) saying what is wrong.
 */
int hv_virtq_start(struct hv_virtq *q, const struct hv_memory *mem, bool indirect,
                   bool event_idx, const char **why);
void hv_virtq_reset(struct hv_virtq *q);

/*
 * Takes the next available chain. Returns 1 with `req` filled, 0 when the ring is
 * empty, or -EINVAL when the guest broke the ring (the device then needs a reset);
 * *why says how.
 */
int hv_virtq_pop(struct hv_virtq *q, struct hv_virtq_req *req, const char **why);
/* Gives a chain back with `len` bytes written into its writable part. */
void hv_virtq_push(struct hv_virtq *q, uint16_t head, uint32_t len);
/* Whether the driver wants an interrupt for what was pushed since the last one. */
bool hv_virtq_should_notify(struct hv_virtq *q);
/*
 * Suppresses (or re-enables) guest notifications while the device is busy polling. After
 * re-enabling, pop once more: a chain the driver added just before is not notified.
 */
void hv_virtq_set_notify(struct hv_virtq *q, bool enable);
/* Copies from a request's writable segments / to a buffer from its readable ones. */
size_t hv_virtq_copy_to_in(struct hv_virtq_req *req, size_t skip, const void *buf, size_t len);
size_t hv_virtq_copy_from_out(const struct hv_virtq_req *req, size_t skip, void *buf,
                              size_t len);
