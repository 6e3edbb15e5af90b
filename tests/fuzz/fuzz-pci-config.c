/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: config-space, ECAM and BAR accesses against a bus with a device on it. */
#include <glib.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "kvm/vm.h"

/*
 * Each input is a sequence of operations, one opcode byte and its operands:
 *   0 latch write (u32) | 1 port read (port, len) | 2 port write (port, len, u32)
 *   3 ECAM read (u32 offset, len) | 4 ECAM write (u32 offset, len, u64)
 *   5 BAR window read (window, u32 offset, len) | 6 BAR window write (..., u64)
 *   7 raw hv_pci_config_read/write (slot, fn, u32 offset, len, u32) and MSI-X/INTx events
 * on a fresh machine each time: the host bridge and a device with a 32-bit BAR, a 64-bit
 * BAR, an MSI-X BAR, a vendor capability and MSI-X. Without KVM (fd -1): interrupt ioctls
 * fail, harmlessly.
 */
#define VENDOR 0x1af4
#define DEVICE 0x10fe

struct machine {
    struct hv_vm vm;
    struct hv_pci pci;
    struct hv_pci_dev dev;
    struct hv_msix msix;
    uint8_t regs[0x4000];
};

static struct machine m;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void regs_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct machine *mc = opaque;
    if (offset + len > sizeof(mc->regs))
        abort(); /* the bus must never hand a BAR an access past its size */
    memcpy(data, mc->regs + offset, len);
}

static void regs_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct machine *mc = opaque;
    if (offset + len > sizeof(mc->regs))
        abort();
    memcpy(mc->regs + offset, data, len);
}

static const struct hv_io_ops regs_ops = {.read = regs_read, .write = regs_write};

static void config_written(struct hv_pci_dev *dev, unsigned offset, unsigned len)
{
    struct machine *mc = dev->opaque;
    if (offset + len > HV_PCI_CFG_SIZE)
        abort();
    hv_msix_config_written(&mc->msix, offset, len);
}

static void bar_moved(struct hv_pci_dev *dev, unsigned bar, uint64_t old, uint64_t new_addr)
{
    if (bar >= 6 || !dev->bars[bar].size || old == new_addr ||
        (new_addr & (dev->bars[bar].size - 1)))
        abort();
}

static const struct hv_pci_dev_ops dev_ops = {
    .config_written = config_written,
    .bar_moved = bar_moved,
};

static void machine_init(struct machine *mc)
{
    memset(&mc->vm, 0, sizeof(mc->vm));
    mc->vm.fd = -1;
    pthread_mutex_init(&mc->vm.lock, NULL);
    pthread_cond_init(&mc->vm.cond, NULL);
    mc->vm.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (mc->vm.event_fd < 0 || hv_pci_init(&mc->pci, &mc->vm, HV_MiB(64)) < 0)
        abort();
    hv_pci_dev_init(&mc->dev, "fuzz", VENDOR, DEVICE, 0xff0000, VENDOR, 1);
    mc->dev.ops = &dev_ops;
    mc->dev.opaque = mc;
    hv_pci_dev_set_bar(&mc->dev, 0, 0x1000, false, &regs_ops, mc);
    hv_pci_dev_set_bar(&mc->dev, 2, 0x4000, true, &regs_ops, mc);
    unsigned cap = hv_pci_dev_add_cap(&mc->dev, PCI_CAP_ID_VNDR, 16);
    if (!cap || hv_msix_init(&mc->msix, &mc->dev, &mc->vm, 4, 4) < 0 ||
        hv_pci_add(&mc->pci, &mc->dev) < 0)
        abort();
    mc->dev.cfg[cap + 2] = 16;
}

static void machine_destroy(struct machine *mc)
{
    hv_msix_destroy(&mc->msix);
    hv_pci_destroy(&mc->pci);
    hv_iobus_clear(&mc->vm.pio);
    hv_iobus_clear(&mc->vm.mmio);
    close(mc->vm.event_fd);
    g_free(mc->vm.crash_msg);
    pthread_cond_destroy(&mc->vm.cond);
    pthread_mutex_destroy(&mc->vm.lock);
}

/* What the guest can never change, whatever it writes. */
static void check_invariants(struct machine *mc)
{
    const uint8_t *c = mc->dev.cfg;
    uint16_t vendor, device;
    memcpy(&vendor, c + PCI_VENDOR_ID, 2);
    memcpy(&device, c + PCI_DEVICE_ID, 2);
    if (vendor != VENDOR || device != DEVICE || c[PCI_HEADER_TYPE] != 0 ||
        c[PCI_CAPABILITY_LIST] != 0x40 || c[0x41] != mc->msix.cap || c[mc->msix.cap + 1] != 0 ||
        c[mc->msix.cap] != PCI_CAP_ID_MSIX || (c[PCI_BAR0 + 8] & 0xf) != 0x4)
        abort();
    for (unsigned i = 0; i < 6; i++) {
        const struct hv_pci_bar *b = &mc->dev.bars[i];
        if (b->mapped && (!b->size || (b->mapped & (b->size - 1)) ||
                          !(c[PCI_COMMAND] & PCI_COMMAND_MEMORY)))
            abort();
    }
}

struct input {
    const uint8_t *p;
    size_t left;
};

static uint64_t take(struct input *in, unsigned bytes)
{
    uint64_t v = 0;
    unsigned n = in->left < bytes ? (unsigned)in->left : bytes;
    memcpy(&v, in->p, n);
    in->p += n;
    in->left -= n;
    return v;
}

static unsigned take_len(struct input *in, bool mmio)
{
    static const unsigned lens[] = {1, 2, 4, 8};
    return lens[take(in, 1) % (mmio ? 4 : 3)];
}

static void run_op(struct machine *mc, struct input *in)
{
    uint8_t buf[8];
    unsigned op = (unsigned)take(in, 1) % 8;
    switch (op) {
    case 0: {
        uint32_t v = (uint32_t)take(in, 4);
        hv_iobus_write(&mc->vm.pio, 0xcf8, &v, 4);
        break;
    }
    case 1:
    case 2: {
        uint16_t port = (uint16_t)(0xcf8 + take(in, 1) % 8);
        unsigned len = take_len(in, false);
        if (op == 1) {
            hv_iobus_read(&mc->vm.pio, port, buf, len);
        } else {
            uint64_t v = take(in, 4);
            hv_iobus_write(&mc->vm.pio, port, &v, len);
        }
        break;
    }
    case 3:
    case 4: {
        uint64_t addr = HV_PCI_ECAM_START + take(in, 4) % HV_PCI_ECAM_SIZE;
        unsigned len = take_len(in, true);
        if (op == 3) {
            hv_iobus_read(&mc->vm.mmio, addr, buf, len);
        } else {
            uint64_t v = take(in, 8);
            hv_iobus_write(&mc->vm.mmio, addr, &v, len);
        }
        break;
    }
    case 5:
    case 6: {
        bool high = take(in, 1) & 1;
        uint64_t base = high ? mc->pci.mmio64_start : HV_PCI_MMIO32_START;
        uint64_t addr = base + take(in, 4) % (HV_PCI_MMIO32_END - HV_PCI_MMIO32_START);
        unsigned len = take_len(in, true);
        if (op == 5) {
            hv_iobus_read(&mc->vm.mmio, addr, buf, len);
        } else {
            uint64_t v = take(in, 8);
            hv_iobus_write(&mc->vm.mmio, addr, &v, len);
        }
        break;
    }
    default: {
        unsigned what = (unsigned)take(in, 1);
        unsigned slot = (unsigned)take(in, 1), fn = (unsigned)take(in, 1);
        unsigned offset = (unsigned)take(in, 4), len = (unsigned)take(in, 1);
        uint32_t v = (uint32_t)take(in, 4);
        switch (what % 4) {
        case 0: hv_pci_config_read(&mc->pci, slot, fn, offset, len); break;
        case 1: hv_pci_config_write(&mc->pci, slot, fn, offset, len, v); break;
        case 2: hv_msix_notify(&mc->msix, v % 8); break;
        default: hv_pci_set_intx(&mc->dev, v & 1); break;
        }
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    machine_init(&m);
    struct input in = {data, size};
    while (in.left) {
        run_op(&m, &in);
        check_invariants(&m);
    }
    machine_destroy(&m);
    return 0;
}
