/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-gpu (2D): a scanout the guest fills through resources, shown on a surface. */
#pragma once

#include "virtio/gpu-cmd.h"
#include "virtio/virtio.h"
#include "vmm/machine.h"

#define VIRTIO_ID_GPU 16

struct hv_virtio_gpu {
    struct hv_virtio_dev dev;
    pthread_mutex_t lock; /* the 2D state and the config's events */
    struct hv_gpu_state st;
    uint32_t events_read;
    struct hv_virtq_req req;
    uint8_t *buf; /* one request's device-readable part */
    struct hv_surface *surface;
};

/* Creates the device over `surface` and follows its requested size (dynamic resolution). */
int hv_virtio_gpu_init(struct hv_virtio_gpu *gpu, struct hv_vm *vm, const struct hv_memory *mem,
                       struct hv_surface *surface);
/* The size the guest's display should have; tells the driver (main-loop thread). */
void hv_virtio_gpu_set_preferred_size(struct hv_virtio_gpu *gpu, uint32_t width,
                                      uint32_t height);

extern const struct hv_device_ops hv_virtio_gpu_device_ops;
