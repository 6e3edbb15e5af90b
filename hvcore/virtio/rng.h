/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-rng: the guest's entropy source, filled from the host's getrandom(). */
#pragma once

#include "virtio/virtio.h"
#include "vmm/machine.h"

struct hv_virtio_rng {
    struct hv_virtio_dev dev;
    struct hv_virtq_req req;
    uint64_t bytes;
};

int hv_virtio_rng_init(struct hv_virtio_rng *rng, struct hv_vm *vm, const struct hv_memory *mem);

/* Reset, tear-down and query hooks for the machine's device list. */
extern const struct hv_device_ops hv_virtio_rng_device_ops;
