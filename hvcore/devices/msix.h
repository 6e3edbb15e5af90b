/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MSI-X for emulated PCI devices: the capability, the table and PBA, and irqfd delivery. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"

#define HV_MSIX_NO_VECTOR 0xffff

struct hv_msix_vector {
    uint64_t addr;
    uint32_t data;
    uint32_t ctrl; /* bit 0: masked */
    int gsi;
    int efd;       /* irqfd bound to gsi */
    bool pending;
};

struct hv_msix {
    struct hv_pci_dev *dev;
    struct hv_vm *vm;
    unsigned cap;  /* capability offset in config space */
    unsigned nr;
    unsigned bar;
    struct hv_msix_vector *v;
    pthread_mutex_t lock;
};

/* Size of the BAR that holds the table (at 0) and the PBA (at half). */
#define HV_MSIX_BAR_SIZE 0x2000

/* Adds the capability and declares BAR `bar` for the table; vectors start masked. */
int hv_msix_init(struct hv_msix *msix, struct hv_pci_dev *dev, struct hv_vm *vm, unsigned nr,
                 unsigned bar);
/* Binds each vector's irqfd; call once the device is on the bus and the VM exists. */
int hv_msix_attach(struct hv_msix *msix);
void hv_msix_destroy(struct hv_msix *msix);
/* Call from the device's config_written hook: the enable/mask bits may have changed. */
void hv_msix_config_written(struct hv_msix *msix, unsigned offset, unsigned len);
bool hv_msix_enabled(struct hv_msix *msix);
/* Signals `vector`; while it is masked the interrupt waits in the PBA. */
void hv_msix_notify(struct hv_msix *msix, unsigned vector);
/* Back to the power-on state: disabled, every vector masked, nothing pending. */
void hv_msix_reset(struct hv_msix *msix);
