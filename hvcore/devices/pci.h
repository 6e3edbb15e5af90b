/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The PCI host bridge: one bus, config mechanism #1 and ECAM, BARs placed by the VMM. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/iobus.h"

struct hv_vm;
struct hv_pci;

/* Where PCI lives in the guest-physical hole below 4 GiB (kvm/memory.h). */
#define HV_PCI_MMIO32_START 0xc0000000ull
#define HV_PCI_MMIO32_END 0xe0000000ull
#define HV_PCI_ECAM_START 0xe0000000ull
#define HV_PCI_ECAM_SIZE 0x100000ull /* bus 0 only */
#define HV_PCI_MMIO64_SIZE (64ull << 30)
#define HV_PCI_SLOTS 32
#define HV_PCI_CFG_SIZE 256

/* Standard config-space offsets. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_SUBCLASS 0x0a
#define PCI_CLASS 0x0b
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_INTERRUPT 0x8
#define PCI_STATUS_CAP_LIST 0x10

#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_VNDR 0x09

struct hv_pci_dev;

struct hv_pci_bar {
    uint64_t size;    /* a power of two, at least 4 KiB; 0: unused */
    bool is64;
    bool prefetch;
    const struct hv_io_ops *ops;
    void *opaque;
    uint64_t mapped;  /* where the guest sees it now; 0 while not decoded */
};

struct hv_pci_dev_ops {
    /* After the guest wrote config space at [offset, offset + len). */
    void (*config_written)(struct hv_pci_dev *dev, unsigned offset, unsigned len);
    /* A BAR moved (old or new 0: unmapped): re-register ioeventfds that live in it. */
    void (*bar_moved)(struct hv_pci_dev *dev, unsigned bar, uint64_t old, uint64_t new_addr);
};

struct hv_pci_dev {
    const char *name;
    uint8_t cfg[HV_PCI_CFG_SIZE];
    uint8_t wmask[HV_PCI_CFG_SIZE]; /* bits the guest may write */
    struct hv_pci_bar bars[6];
    uint8_t next_cap;               /* where the next capability goes */
    const struct hv_pci_dev_ops *ops;
    void *opaque;
    struct hv_pci *pci;
    unsigned slot;
    unsigned intx_gsi;
    bool intx_level;
};

struct hv_pci {
    struct hv_vm *vm;
    struct hv_pci_dev *slots[HV_PCI_SLOTS];
    pthread_mutex_t lock; /* config space and the 0xCF8 latch */
    pthread_rwlock_t map_lock; /* BAR addresses, read on every BAR access */
    uint32_t cf8;
    uint64_t next32;
    uint64_t mmio64_start;
    uint64_t next64;
};

/* Registers 0xCF8/0xCFC, the ECAM window and the BAR windows; `ram_top` is the end of
 * guest RAM, above which 64-bit BARs go. */
int hv_pci_init(struct hv_pci *pci, struct hv_vm *vm, uint64_t ram_top);
void hv_pci_destroy(struct hv_pci *pci);

/* Fills the header of a type-0 function (vendor, device, class). */
void hv_pci_dev_init(struct hv_pci_dev *dev, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id);
/* Declares BAR `index`; its address is assigned when the device is added. */
void hv_pci_dev_set_bar(struct hv_pci_dev *dev, unsigned index, uint64_t size, bool is64,
                        const struct hv_io_ops *ops, void *opaque);
/* Reserves `len` bytes of capability `id` in config space; returns its offset, or 0. */
unsigned hv_pci_dev_add_cap(struct hv_pci_dev *dev, uint8_t id, unsigned len);
/* Plugs the device into the next free slot, places its BARs and enables decoding. */
int hv_pci_add(struct hv_pci *pci, struct hv_pci_dev *dev);
/* Asserts or deasserts INTx (level); masked by the command register's INTx disable. */
void hv_pci_set_intx(struct hv_pci_dev *dev, bool level);

/* Config-space access as the guest makes it (exposed for tests and fuzzing). */
uint32_t hv_pci_config_read(struct hv_pci *pci, unsigned slot, unsigned fn, unsigned offset,
                            unsigned len);
void hv_pci_config_write(struct hv_pci *pci, unsigned slot, unsigned fn, unsigned offset,
                         unsigned len, uint32_t value);

/* Where 64-bit BARs go for a VM whose RAM ends at `ram_top`. */
uint64_t hv_pci_mmio64_start(uint64_t ram_top);

/* INTx GSI of a slot (what the _PRT says): 16 + (slot % 8) on the IOAPIC. */
unsigned hv_pci_slot_gsi(unsigned slot);
