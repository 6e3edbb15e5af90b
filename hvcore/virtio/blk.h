/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-blk: a raw image as the guest's disk, its I/O on io_uring in a thread of its own. */
#pragma once

#include "block/raw.h"
#include "virtio/blk-req.h"
#include "virtio/virtio.h"
#include "vmm/machine.h"

#define HV_BLK_QUEUE_SIZE 256

struct hv_virtio_blk;

/*
 * Makes a virtio-blk device of `raw` (which it then owns, even on failure). Returns 0 with
 * *out set, or -errno with *err set to one line (io_uring unavailable, out of fds).
 */
int hv_virtio_blk_new(struct hv_raw *raw, struct hv_vm *vm, const struct hv_memory *mem,
                      struct hv_virtio_blk **out, char **err);
/* The virtio device inside, to add to the PCI bus. */
struct hv_virtio_dev *hv_virtio_blk_dev(struct hv_virtio_blk *blk);
/*
 * A kick from a thread of the VMM rather than from the guest (tests): returns once the
 * device's I/O thread has taken every request the ring held. Not with queue_lock held.
 */
void hv_virtio_blk_kick(struct hv_virtio_blk *blk);
/* Requests handed to io_uring and not completed yet. */
unsigned hv_virtio_blk_inflight(struct hv_virtio_blk *blk);

/* Reset, tear-down and query hooks for the machine's device list (impl: the hv_virtio_blk). */
extern const struct hv_device_ops hv_virtio_blk_device_ops;
