/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-input: a keyboard and an absolute pointer (tablet) fed by the display servers. */
#pragma once

#include "display/input.h"
#include "virtio/virtio.h"
#include "vmm/machine.h"

#define VIRTIO_ID_INPUT 18

/* The tablet's axis range: pointer coordinates are scaled to it from surface pixels. */
#define HV_INPUT_ABS_MAX 32767
/* Events kept while the guest has posted no buffers; the oldest are dropped beyond. */
#define HV_INPUT_PENDING_MAX 256

enum hv_virtio_input_kind { HV_INPUT_KEYBOARD, HV_INPUT_TABLET };

struct hv_virtio_input;

/* One event as the guest reads it (struct virtio_input_event, little endian). */
struct hv_input_event {
    uint16_t type;
    uint16_t code;
    uint32_t value;
};

int hv_virtio_input_new(enum hv_virtio_input_kind kind, struct hv_vm *vm,
                        const struct hv_memory *mem, struct hv_virtio_input **out);
struct hv_virtio_dev *hv_virtio_input_dev(struct hv_virtio_input *in);

/*
 * Hands events to the guest, or keeps them until it posts buffers (at most
 * HV_INPUT_PENDING_MAX; older ones are dropped with a log line). Any thread except a
 * vCPU's; the caller adds its own EV_SYN.
 */
void hv_virtio_input_send(struct hv_virtio_input *in, const struct hv_input_event *ev,
                          unsigned n);

/*
 * The input sink the display servers call: keys go to `keyboard`, the pointer to `tablet`
 * (either may be NULL). The devices must outlive every user of the sink.
 */
void hv_virtio_input_sink(struct hv_virtio_input *keyboard, struct hv_virtio_input *tablet,
                          struct hv_input_sink *sink);

/* Counters for tests and query-stats. */
uint64_t hv_virtio_input_sent(const struct hv_virtio_input *in);
uint64_t hv_virtio_input_dropped(const struct hv_virtio_input *in);

/* Reset, tear-down and query hooks for the machine's device list. */
extern const struct hv_device_ops hv_virtio_input_device_ops;
