/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The PCI host bridge: one bus, config mechanism #1 and ECAM, BARs placed by the VMM. */
#include "devices/pci.h"

#include <errno.h>
#include <string.h>

#include "devices/legacy.h"
#include "kvm/vm.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define CF8_ENABLE 0x80000000u
#define HOST_BRIDGE_VENDOR 0x8086 /* an Intel 440FX-style host bridge: every OS knows it */
#define HOST_BRIDGE_DEVICE 0x1237

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

uint64_t hv_pci_mmio64_start(uint64_t ram_top)
{
    /* The first 1 GiB boundary above RAM and above 4 GiB. */
    uint64_t top = ram_top > (4ull << 30) ? ram_top : (4ull << 30);
    return (top + (1ull << 30) - 1) & ~((1ull << 30) - 1);
}

unsigned hv_pci_slot_gsi(unsigned slot)
{
    return 16 + (slot % 8);
}

void hv_pci_dev_init(struct hv_pci_dev *dev, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id)
{
    memset(dev->cfg, 0, sizeof(dev->cfg));
    memset(dev->wmask, 0, sizeof(dev->wmask));
    memset(dev->bars, 0, sizeof(dev->bars));
    dev->name = name;
    put16(dev->cfg + PCI_VENDOR_ID, vendor);
    put16(dev->cfg + PCI_DEVICE_ID, device);
    dev->cfg[PCI_CLASS_PROG] = class_code & 0xff;
    dev->cfg[PCI_SUBCLASS] = (class_code >> 8) & 0xff;
    dev->cfg[PCI_CLASS] = (class_code >> 16) & 0xff;
    put16(dev->cfg + PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
    put16(dev->cfg + PCI_SUBSYSTEM_ID, subsys_id);
    /* Command: I/O, memory, bus master, INTx disable are the guest's to set. */
    put16(dev->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                                        PCI_COMMAND_INTX_DISABLE);
    dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
    dev->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
    dev->next_cap = 0x40;
}

void hv_pci_dev_set_bar(struct hv_pci_dev *dev, unsigned index, uint64_t size, bool is64,
                        const struct hv_io_ops *ops, void *opaque)
{
    struct hv_pci_bar *bar = &dev->bars[index];
    bar->size = size;
    bar->is64 = is64;
    bar->prefetch = false;
    bar->ops = ops;
    bar->opaque = opaque;
    uint32_t type = is64 ? 0x4 : 0x0;
    put32(dev->cfg + PCI_BAR0 + 4 * index, type);
    put32(dev->wmask + PCI_BAR0 + 4 * index, (uint32_t)~(size - 1) & ~0xfu);
    if (is64)
        put32(dev->wmask + PCI_BAR0 + 4 * (index + 1), (uint32_t)(~(size - 1) >> 32));
}

unsigned hv_pci_dev_add_cap(struct hv_pci_dev *dev, uint8_t id, unsigned len)
{
    unsigned off = (dev->next_cap + 3) & ~3u;
    /* next_cap is a byte: 0 means the last capability ended at the top of config space. */
    if (dev->next_cap == 0 || off + len > HV_PCI_CFG_SIZE || len < 2)
        return 0;
    dev->cfg[off] = id;
    dev->cfg[off + 1] = 0;
    /* Append to the end of the list. */
    if (!dev->cfg[PCI_CAPABILITY_LIST]) {
        dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
    } else {
        unsigned p = dev->cfg[PCI_CAPABILITY_LIST];
        while (dev->cfg[p + 1])
            p = dev->cfg[p + 1];
        dev->cfg[p + 1] = (uint8_t)off;
    }
    dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    dev->next_cap = (uint8_t)(off + len);
    return off;
}

/* Where BAR `i` is decoded now, or 0. Caller holds pci->lock. */
static uint64_t bar_address(const struct hv_pci_dev *dev, unsigned i)
{
    const struct hv_pci_bar *bar = &dev->bars[i];
    if (!bar->size || !(dev->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY))
        return 0;
    uint64_t addr = get32(dev->cfg + PCI_BAR0 + 4 * i) & ~0xfull;
    if (bar->is64)
        addr |= (uint64_t)get32(dev->cfg + PCI_BAR0 + 4 * (i + 1)) << 32;
    /* A BAR being sized (all ones, in its own width) or parked at zero decodes nothing. */
    uint64_t ones = bar->is64 ? ~0ull : 0xffffffffull;
    if (addr == 0 || addr + bar->size < addr || addr == (ones & ~(bar->size - 1) & ~0xfull))
        return 0;
    return addr;
}

/* Brings `mapped` in line with config space; tells the device about moves. */
static void update_mappings(struct hv_pci *pci, struct hv_pci_dev *dev)
{
    for (unsigned i = 0; i < 6; i++) {
        struct hv_pci_bar *bar = &dev->bars[i];
        if (!bar->size)
            continue;
        uint64_t now = bar_address(dev, i);
        if (now == bar->mapped)
            continue;
        uint64_t old = bar->mapped;
        pthread_rwlock_wrlock(&pci->map_lock);
        bar->mapped = now;
        pthread_rwlock_unlock(&pci->map_lock);
        if (dev->ops && dev->ops->bar_moved)
            dev->ops->bar_moved(dev, i, old, now);
    }
}

static void apply_intx(struct hv_pci_dev *dev)
{
    bool masked = get32(dev->cfg + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE;
    hv_vm_set_irq(dev->pci->vm, dev->intx_gsi, dev->intx_level && !masked);
}

void hv_pci_set_intx(struct hv_pci_dev *dev, bool level)
{
    pthread_mutex_lock(&dev->pci->lock);
    dev->intx_level = level;
    if (level)
        dev->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        dev->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    apply_intx(dev);
    pthread_mutex_unlock(&dev->pci->lock);
}

uint32_t hv_pci_config_read(struct hv_pci *pci, unsigned slot, unsigned fn, unsigned offset,
                            unsigned len)
{
    if (slot >= HV_PCI_SLOTS || fn != 0 || !pci->slots[slot] || (len != 1 && len != 2 &&
        len != 4) || offset >= 4096 || offset + len > 4096 || (offset & (len - 1)))
        return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
    if (offset >= HV_PCI_CFG_SIZE)
        return 0; /* no extended capabilities */
    struct hv_pci_dev *dev = pci->slots[slot];
    uint32_t v = 0;
    pthread_mutex_lock(&pci->lock);
    memcpy(&v, dev->cfg + offset, len);
    pthread_mutex_unlock(&pci->lock);
    return v;
}

void hv_pci_config_write(struct hv_pci *pci, unsigned slot, unsigned fn, unsigned offset,
                         unsigned len, uint32_t value)
{
    if (slot >= HV_PCI_SLOTS || fn != 0 || !pci->slots[slot] || (len != 1 && len != 2 &&
        len != 4) || offset >= HV_PCI_CFG_SIZE || offset + len > HV_PCI_CFG_SIZE ||
        (offset & (len - 1)))
        return;
    struct hv_pci_dev *dev = pci->slots[slot];
    pthread_mutex_lock(&pci->lock);
    for (unsigned i = 0; i < len; i++) {
        uint8_t m = dev->wmask[offset + i];
        uint8_t b = (uint8_t)(value >> (8 * i));
        dev->cfg[offset + i] = (uint8_t)((dev->cfg[offset + i] & ~m) | (b & m));
    }
    if (offset < PCI_BAR0 + 24 && offset + len > PCI_COMMAND) {
        update_mappings(pci, dev);
        apply_intx(dev);
    }
    pthread_mutex_unlock(&pci->lock);
    if (dev->ops && dev->ops->config_written)
        dev->ops->config_written(dev, offset, len);
}

/* ---- configuration mechanism #1 ---- */

static void cf8_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct hv_pci *pci = opaque;
    uint32_t v = 0xffffffffu;
    if (offset == 0 && len == 4) {
        pthread_mutex_lock(&pci->lock);
        v = pci->cf8;
        pthread_mutex_unlock(&pci->lock);
    } else if (offset >= 4) {
        pthread_mutex_lock(&pci->lock);
        uint32_t addr = pci->cf8;
        pthread_mutex_unlock(&pci->lock);
        unsigned bus = (addr >> 16) & 0xff, slot = (addr >> 11) & 0x1f, fn = (addr >> 8) & 7;
        unsigned reg = (addr & 0xfc) + (unsigned)(offset - 4);
        if ((addr & CF8_ENABLE) && bus == 0)
            v = hv_pci_config_read(pci, slot, fn, reg, len);
    }
    memcpy(data, &v, len);
}

static void cf8_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct hv_pci *pci = opaque;
    uint32_t v = 0;
    memcpy(&v, data, len);
    if (offset == 0 && len == 4) {
        pthread_mutex_lock(&pci->lock);
        pci->cf8 = v & 0x80fffffcu;
        pthread_mutex_unlock(&pci->lock);
        return;
    }
    /* As on PIIX and ICH chipsets, a byte at 0xCF9 is the reset control register. */
    if (offset == 1 && len == 1) {
        hv_reset_control_write(pci->vm, (uint8_t)v);
        return;
    }
    if (offset < 4)
        return;
    pthread_mutex_lock(&pci->lock);
    uint32_t addr = pci->cf8;
    pthread_mutex_unlock(&pci->lock);
    unsigned bus = (addr >> 16) & 0xff, slot = (addr >> 11) & 0x1f, fn = (addr >> 8) & 7;
    if ((addr & CF8_ENABLE) && bus == 0)
        hv_pci_config_write(pci, slot, fn, (addr & 0xfc) + (unsigned)(offset - 4), len, v);
}

static const struct hv_io_ops cf8_ops = {.read = cf8_read, .write = cf8_write};

/* ---- ECAM: bus 0, 4 KiB per function ---- */

static void ecam_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    uint32_t v = 0xffffffffu;
    if (len <= 4)
        v = hv_pci_config_read(opaque, (offset >> 15) & 0x1f, (offset >> 12) & 7,
                               offset & 0xfff, len);
    memset(data, 0xff, len);
    memcpy(data, &v, len < 4 ? len : 4);
}

static void ecam_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    uint32_t v = 0;
    if (len > 4)
        return;
    memcpy(&v, data, len);
    hv_pci_config_write(opaque, (offset >> 15) & 0x1f, (offset >> 12) & 7, offset & 0xfff, len,
                        v);
}

static const struct hv_io_ops ecam_ops = {.read = ecam_read, .write = ecam_write};

/* ---- BAR windows: find the BAR that decodes an address ---- */

static struct hv_pci_bar *find_bar(struct hv_pci *pci, uint64_t addr, uint64_t *offset)
{
    for (unsigned s = 0; s < HV_PCI_SLOTS; s++) {
        struct hv_pci_dev *dev = pci->slots[s];
        if (!dev)
            continue;
        for (unsigned i = 0; i < 6; i++) {
            struct hv_pci_bar *bar = &dev->bars[i];
            if (bar->mapped && addr >= bar->mapped && addr - bar->mapped < bar->size) {
                *offset = addr - bar->mapped;
                return bar;
            }
        }
    }
    return NULL;
}

static void window_read(struct hv_pci *pci, uint64_t addr, void *data, unsigned len)
{
    uint64_t off;
    pthread_rwlock_rdlock(&pci->map_lock);
    struct hv_pci_bar *bar = find_bar(pci, addr, &off);
    if (bar && bar->ops && bar->ops->read && off + len <= bar->size)
        bar->ops->read(bar->opaque, off, data, len);
    else
        memset(data, 0xff, len);
    pthread_rwlock_unlock(&pci->map_lock);
}

static void window_write(struct hv_pci *pci, uint64_t addr, const void *data, unsigned len)
{
    uint64_t off;
    pthread_rwlock_rdlock(&pci->map_lock);
    struct hv_pci_bar *bar = find_bar(pci, addr, &off);
    if (bar && bar->ops && bar->ops->write && off + len <= bar->size)
        bar->ops->write(bar->opaque, off, data, len);
    pthread_rwlock_unlock(&pci->map_lock);
}

static void w32_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    window_read(opaque, HV_PCI_MMIO32_START + offset, data, len);
}

static void w32_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    window_write(opaque, HV_PCI_MMIO32_START + offset, data, len);
}

static void w64_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct hv_pci *pci = opaque;
    window_read(pci, pci->mmio64_start + offset, data, len);
}

static void w64_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct hv_pci *pci = opaque;
    window_write(pci, pci->mmio64_start + offset, data, len);
}

static const struct hv_io_ops w32_ops = {.read = w32_read, .write = w32_write};
static const struct hv_io_ops w64_ops = {.read = w64_read, .write = w64_write};

/* ---- the bus ---- */

static struct hv_pci_dev host_bridge;

int hv_pci_init(struct hv_pci *pci, struct hv_vm *vm, uint64_t ram_top)
{
    memset(pci, 0, sizeof(*pci));
    pci->vm = vm;
    pthread_mutex_init(&pci->lock, NULL);
    pthread_rwlock_init(&pci->map_lock, NULL);
    pci->next32 = HV_PCI_MMIO32_START;
    pci->mmio64_start = hv_pci_mmio64_start(ram_top);
    pci->next64 = pci->mmio64_start;

    int r = hv_iobus_register(&vm->pio, PCI_CONFIG_ADDRESS, 8, &cf8_ops, pci);
    /*
     * The address register only matters at the next 0xCFC access, which exits: KVM may
     * buffer its writes, halving the exits of a config-space scan (Linux's early AGP
     * probe reads 8192 functions twice). 0xCF9, the reset register, shares the 4-byte
     * range: a reset written there takes effect at the vCPU's next exit.
     */
    if (r == 0)
        hv_vm_coalesce_pio(vm, PCI_CONFIG_ADDRESS, 4);
    if (r == 0)
        r = hv_iobus_register(&vm->mmio, HV_PCI_ECAM_START, HV_PCI_ECAM_SIZE, &ecam_ops, pci);
    if (r == 0)
        r = hv_iobus_register(&vm->mmio, HV_PCI_MMIO32_START,
                              HV_PCI_MMIO32_END - HV_PCI_MMIO32_START, &w32_ops, pci);
    if (r == 0)
        r = hv_iobus_register(&vm->mmio, pci->mmio64_start, HV_PCI_MMIO64_SIZE, &w64_ops, pci);
    if (r < 0)
        return r;

    /* Slot 0: the host bridge, as every PC has. */
    hv_pci_dev_init(&host_bridge, "host-bridge", HOST_BRIDGE_VENDOR, HOST_BRIDGE_DEVICE,
                    0x060000, 0, 0);
    host_bridge.cfg[PCI_INTERRUPT_PIN] = 0;
    return hv_pci_add(pci, &host_bridge);
}

void hv_pci_destroy(struct hv_pci *pci)
{
    pthread_mutex_destroy(&pci->lock);
    pthread_rwlock_destroy(&pci->map_lock);
}

static int place_bar(struct hv_pci *pci, struct hv_pci_dev *dev, unsigned i)
{
    struct hv_pci_bar *bar = &dev->bars[i];
    uint64_t *next = bar->is64 ? &pci->next64 : &pci->next32;
    uint64_t end = bar->is64 ? pci->mmio64_start + HV_PCI_MMIO64_SIZE : HV_PCI_MMIO32_END;
    uint64_t addr = (*next + bar->size - 1) & ~(bar->size - 1);
    if (addr + bar->size > end)
        return -ENOSPC;
    *next = addr + bar->size;
    uint32_t lo = get32(dev->cfg + PCI_BAR0 + 4 * i) & 0xf;
    put32(dev->cfg + PCI_BAR0 + 4 * i, (uint32_t)addr | lo);
    if (bar->is64)
        put32(dev->cfg + PCI_BAR0 + 4 * (i + 1), (uint32_t)(addr >> 32));
    return 0;
}

int hv_pci_add(struct hv_pci *pci, struct hv_pci_dev *dev)
{
    unsigned slot;
    for (slot = 0; slot < HV_PCI_SLOTS && pci->slots[slot]; slot++)
        ;
    if (slot == HV_PCI_SLOTS)
        return -ENOSPC;
    for (unsigned i = 0; i < 6; i++) {
        if (dev->bars[i].size) {
            int r = place_bar(pci, dev, i);
            if (r < 0)
                return r;
        }
    }
    dev->pci = pci;
    dev->slot = slot;
    dev->intx_gsi = hv_pci_slot_gsi(slot);
    if (dev->cfg[PCI_INTERRUPT_PIN])
        dev->cfg[PCI_INTERRUPT_LINE] = (uint8_t)dev->intx_gsi;
    /* What firmware would have done: memory decoding and bus mastering on. */
    dev->cfg[PCI_COMMAND] |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    pthread_mutex_lock(&pci->lock);
    pci->slots[slot] = dev;
    update_mappings(pci, dev);
    pthread_mutex_unlock(&pci->lock);
    return 0;
}
