/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-console: one port (hvc0) carried over a serial-style backend. */
#pragma once

#include "devices/chardev.h"
#include "virtio/virtio.h"
#include "vmm/machine.h"

struct hv_virtio_console {
    struct hv_virtio_dev dev;
    /* Queue work, backend input and reset; taken without the transport's lock held. */
    pthread_mutex_t lock;
    struct hv_chardev *chr;
    bool active;     /* DRIVER_OK and the queues mapped */
    bool rx_waiting; /* input was refused for want of buffers; resume on the next RX kick */
    struct hv_virtq_req req;
    uint64_t rx_bytes;
    uint64_t tx_bytes;
};

int hv_virtio_console_init(struct hv_virtio_console *con, struct hv_vm *vm,
                           const struct hv_memory *mem);
/*
 * Opens the backend: output the guest wrote before this is dropped. Returns NULL on
 * success, or a one-line message (transfer full) naming --console and the value.
 */
char *hv_virtio_console_open(struct hv_virtio_console *con, const struct hv_chardev_spec *spec);
/* Input for hv_chardev_callbacks: what fits in the guest's RX buffers (0 when none). */
size_t hv_virtio_console_input(void *opaque, const uint8_t *buf, size_t len);

/* Reset, tear-down and query hooks for the machine's device list. */
extern const struct hv_device_ops hv_virtio_console_device_ops;
