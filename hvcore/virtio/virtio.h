/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A virtio device over the modern (1.x) PCI transport: what each device model plugs into. */
#pragma once

#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "virtio/virtqueue.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define HV_VIRTIO_MAX_QUEUES 64

struct hv_virtio_dev;

/* A device model: a table of operations, as kvmtool's virtio devices have. */
struct hv_virtio_ops {
    const char *name;
    uint16_t device_id;
    unsigned nr_queues;
    uint16_t queue_size;
    size_t config_size;
    /* Device feature bits (the transport adds VERSION_1, INDIRECT_DESC, EVENT_IDX). */
    uint64_t (*features)(struct hv_virtio_dev *dev);
    /* Device config space access; `offset + len <= config_size` is checked already. */
    void (*config_read)(struct hv_virtio_dev *dev, unsigned offset, void *data, unsigned len);
    void (*config_write)(struct hv_virtio_dev *dev, unsigned offset, const void *data,
                         unsigned len);
    /* The driver set DRIVER_OK: queues are started; features are final. */
    void (*activate)(struct hv_virtio_dev *dev);
    /* The guest kicked queue `q` (runs on the main-loop thread). */
    void (*queue_notify)(struct hv_virtio_dev *dev, unsigned q);
    /*
     * The device waits for its queues' kicks itself, on a thread of its own reading
     * hv_virtio_kick_fd(): the main loop does not watch them and queue_notify is unused.
     * It must then check, under queue_lock, what a kick on the main loop would: the device
     * not broken, the queue enabled, DRIVER_OK set.
     */
    bool own_kicks;
    /*
     * The driver reset the device (status 0) or the machine reset. DRIVER_OK is already
     * clear, so no kick reaches the device any more; the rings are still mapped, and are
     * cleared when this returns: requests in flight must be finished (or dropped) by then.
     */
    void (*reset)(struct hv_virtio_dev *dev);
};

struct hv_virtio_queue {
    struct hv_virtq vq;
    struct hv_virtio_dev *dev;
    unsigned index;
    int kick_fd;     /* ioeventfd */
    guint kick_watch;
    uint16_t notify_off;
};

struct hv_virtio_dev {
    const struct hv_virtio_ops *ops;
    void *opaque;
    struct hv_vm *vm;
    const struct hv_memory *mem;
    struct hv_pci_dev pci;
    struct hv_msix msix;

    /* Held while the main loop runs queue_notify and while a reset clears the queues, so
     * that a guest's reset (on a vCPU thread) never pulls a ring from under a device. */
    pthread_mutex_t queue_lock;
    pthread_mutex_t lock; /* transport state below */
    uint64_t host_features;
    uint64_t guest_features;
    uint32_t dfselect;
    uint32_t gfselect;
    uint16_t msix_config;
    uint8_t status;
    uint8_t config_generation;
    uint16_t queue_select;
    uint8_t isr;
    struct hv_virtio_queue queues[HV_VIRTIO_MAX_QUEUES];
    bool broken; /* DEVICE_NEEDS_RESET set; queues ignored until reset */
    /* Told once per breakage (hv_virtio_fail), from any thread; the machine sets it. */
    void (*on_error)(void *ctx, const char *id, const char *why);
    void *on_error_ctx;
    const char *on_error_id;
};

/* Sets up the PCI function; add it to the bus with hv_virtio_add. */
int hv_virtio_init(struct hv_virtio_dev *dev, const struct hv_virtio_ops *ops, void *opaque,
                   struct hv_vm *vm, const struct hv_memory *mem);
int hv_virtio_add(struct hv_virtio_dev *dev, struct hv_pci *pci);
void hv_virtio_destroy(struct hv_virtio_dev *dev);
/* Back to power-on state (machine reset). */
void hv_virtio_reset(struct hv_virtio_dev *dev);

bool hv_virtio_has_feature(const struct hv_virtio_dev *dev, unsigned bit);
/* Queue `q`'s ioeventfd (for own_kicks devices; the transport keeps owning it). */
int hv_virtio_kick_fd(const struct hv_virtio_dev *dev, unsigned q);
/* Interrupts the driver for queue `q` if the ring says it wants one. */
void hv_virtio_notify(struct hv_virtio_dev *dev, unsigned q);
void hv_virtio_config_changed(struct hv_virtio_dev *dev);
/* The guest broke the protocol: DEVICE_NEEDS_RESET, one log line; nothing else stops. */
void hv_virtio_fail(struct hv_virtio_dev *dev, const char *why);
