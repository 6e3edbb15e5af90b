/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Guest notifications without a vCPU exit: GSI routing, MSI routes, irqfd and ioeventfd. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct hv_vm;

/* GSIs below this are the IOAPIC's pins (and the PICs' for 0-15); MSI routes follow. */
#define HV_IOAPIC_PINS 24

/* Installs the default routing (PIC and IOAPIC pins) and clears MSI routes. */
int hv_irq_init(struct hv_vm *vm);
/* Re-installs routes, irqfds and ioeventfds on a freshly created KVM VM (after a reset). */
int hv_irq_reattach(struct hv_vm *vm);
void hv_irq_destroy(struct hv_vm *vm);

/* Allocates a GSI for an MSI route (initially masked: no route). Returns it or -errno. */
int hv_msi_alloc(struct hv_vm *vm);
/* Points `gsi` at an MSI address/data pair, or removes the route when `masked`. */
int hv_msi_set(struct hv_vm *vm, unsigned gsi, uint64_t addr, uint32_t data, bool masked);

/* Delivers writes to `fd` (an eventfd) as an edge on `gsi`. */
int hv_irqfd_add(struct hv_vm *vm, int fd, unsigned gsi);
int hv_irqfd_remove(struct hv_vm *vm, int fd, unsigned gsi);

/* Turns guest writes of `len` bytes at MMIO `addr` into a signal on `fd`, in the kernel. */
int hv_ioeventfd_add(struct hv_vm *vm, int fd, uint64_t addr, unsigned len);
int hv_ioeventfd_remove(struct hv_vm *vm, int fd, uint64_t addr, unsigned len);
