/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the virtio device tests share: a VM without KVM (interrupts on fd -1 fail
 * harmlessly, INTx is read in the ISR) with a PCI bus and 32 MiB of fake RAM, and the
 * driver's side of one virtio-pci device: its registers and its split rings in that RAM.
 */
#pragma once

#include <stdint.h>

#include "devices/pci.h"
#include "kvm/memory.h"
#include "kvm/vm.h"
#include "virtio/virtio.h"

#define RAM_SIZE HV_MiB(32)
#define QSIZE 16
#define RING_GPA(q) (0x100000ull + 0x4000ull * (q)) /* desc, +0x1000 avail, +0x2000 used */
#define BUF_GPA 0x200000ull
/* The transport's register layout (virtio/pci.c): common config in BAR 4, then the ISR,
   the device config and the notify area. */
#define REGS_BAR 4
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_STATUS 0x14
#define C_QSELECT 0x16
#define C_QSIZE 0x18
#define C_QENABLE 0x1c
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30
#define ISR_OFF 0x1000
#define DEVICE_OFF 0x2000
#define NOTIFY_OFF 0x3000

struct vh {
    struct hv_vm vm;
    struct hv_pci pci;
    struct hv_memory mem;
    struct hv_virtio_dev *dev; /* the device the register functions talk to */
    uint16_t avail_idx[4];
    uint16_t next_desc[4];
};

/* The VM, its bus and RAM; vh_fini undoes it (after the test destroyed its devices). */
void vh_init(struct vh *h);
void vh_fini(struct vh *h);
/* The device the register functions talk to; on no slot, so INTx is all it raises. */
void vh_plug(struct vh *h, struct hv_virtio_dev *dev);
/* Host address of guest RAM [gpa, gpa + len); fails the test outside RAM. */
uint8_t *vh_ram(struct vh *h, uint64_t gpa, uint64_t len);
void vh_regs_write(struct vh *h, uint64_t off, uint64_t val, unsigned len);
uint64_t vh_regs_read(struct vh *h, uint64_t off, unsigned len);
/* Runs the main loop until nothing is pending (queue kicks, completions). */
void vh_pump(void);
/* What a driver does up to FEATURES_OK (low feature word `features`, VERSION_1), then
   sets up queues 0..nr_queues-1 at RING_GPA(q); DRIVER_OK is the caller's. */
void vh_driver_init(struct vh *h, uint32_t features, unsigned nr_queues);
/* DRIVER_OK, and the kicks it causes handled. */
void vh_driver_ok(struct vh *h);
/* The used ring's index of queue q. */
uint16_t vh_used_idx(struct vh *h, unsigned q);
