/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-rng: the guest's entropy source, filled from the host's getrandom(). */
#pragma once

#include "virtio/virtio.h"

struct hv_virtio_rng {
    struct hv_virtio_dev dev;
    struct hv_virtq_req req;
    uint64_t bytes;
};

int hv_virtio_rng_init(struct hv_virtio_rng *rng, struct hv_vm *vm, const struct hv_memory *mem);
