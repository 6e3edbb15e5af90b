/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the PCI host bridge's config space, BAR decoding and the MSI-X table. */
#include <glib.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "kvm/vm.h"

#define SLOT 1 /* slot 0 is the host bridge */
#define BAR_REGS 0    /* 32-bit, 4 KiB */
#define BAR_BIG 2     /* 64-bit, 16 KiB */
#define BAR_MSIX 4    /* 32-bit, the MSI-X table and PBA */
#define NR_VECTORS 3
#define ECAM(slot, reg) (HV_PCI_ECAM_START + ((uint64_t)(slot) << 15) + (reg))

struct moved {
    unsigned bar;
    uint64_t old, new_addr;
};

/*
 * A VM without KVM: the bus tables are plain memory, the request path needs only the
 * lock and the eventfd, and INTx ioctls on fd -1 fail harmlessly.
 */
struct fixture {
    struct hv_vm vm;
    struct hv_pci pci;
    struct hv_pci_dev dev;
    struct hv_msix msix;
    uint8_t regs[0x4000]; /* what BAR_REGS and BAR_BIG decode to */
    GArray *moves;      /* struct moved */
    unsigned config_writes;
};

static void regs_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct fixture *f = opaque;
    memcpy(data, f->regs + offset, len);
}

static void regs_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct fixture *f = opaque;
    memcpy(f->regs + offset, data, len);
}

static const struct hv_io_ops regs_ops = {.read = regs_read, .write = regs_write};

static void on_config_written(struct hv_pci_dev *dev, unsigned offset, unsigned len)
{
    struct fixture *f = dev->opaque;
    f->config_writes++;
    hv_msix_config_written(&f->msix, offset, len);
}

static void on_bar_moved(struct hv_pci_dev *dev, unsigned bar, uint64_t old, uint64_t new_addr)
{
    struct fixture *f = dev->opaque;
    struct moved m = {bar, old, new_addr};
    g_array_append_val(f->moves, m);
}

static const struct hv_pci_dev_ops dev_ops = {
    .config_written = on_config_written,
    .bar_moved = on_bar_moved,
};

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    memset(&f->vm, 0, sizeof(f->vm));
    f->vm.fd = -1;
    pthread_mutex_init(&f->vm.lock, NULL);
    pthread_cond_init(&f->vm.cond, NULL);
    f->vm.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(f->vm.event_fd, >=, 0);
    f->moves = g_array_new(FALSE, TRUE, sizeof(struct moved));
    for (unsigned i = 0; i < sizeof(f->regs); i++)
        f->regs[i] = (uint8_t)i;

    g_assert_cmpint(hv_pci_init(&f->pci, &f->vm, HV_MiB(64)), ==, 0);
    hv_pci_dev_init(&f->dev, "test", 0x1af4, 0x10ff, 0x0c0320, 0x1234, 0x5678);
    f->dev.ops = &dev_ops;
    f->dev.opaque = f;
    hv_pci_dev_set_bar(&f->dev, BAR_REGS, 0x1000, false, &regs_ops, f);
    hv_pci_dev_set_bar(&f->dev, BAR_BIG, 0x4000, true, &regs_ops, f);
    g_assert_cmpuint(hv_pci_dev_add_cap(&f->dev, PCI_CAP_ID_VNDR, 14), ==, 0x40);
    g_assert_cmpint(hv_msix_init(&f->msix, &f->dev, &f->vm, NR_VECTORS, BAR_MSIX), ==, 0);
    g_assert_cmpint(hv_pci_add(&f->pci, &f->dev), ==, 0);
    g_assert_cmpuint(f->dev.slot, ==, SLOT);
    g_array_set_size(f->moves, 0); /* the placement at hv_pci_add is not a move */
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    hv_msix_destroy(&f->msix);
    hv_pci_destroy(&f->pci);
    hv_iobus_clear(&f->vm.pio);
    hv_iobus_clear(&f->vm.mmio);
    g_array_free(f->moves, TRUE);
    close(f->vm.event_fd);
    g_free(f->vm.crash_msg);
    pthread_cond_destroy(&f->vm.cond);
    pthread_mutex_destroy(&f->vm.lock);
}

static uint32_t cfg_read(struct fixture *f, unsigned offset, unsigned len)
{
    return hv_pci_config_read(&f->pci, SLOT, 0, offset, len);
}

static void cfg_write(struct fixture *f, unsigned offset, unsigned len, uint32_t v)
{
    hv_pci_config_write(&f->pci, SLOT, 0, offset, len, v);
}

static uint64_t mmio_read(struct fixture *f, uint64_t addr, unsigned len)
{
    uint64_t v = 0;
    hv_iobus_read(&f->vm.mmio, addr, &v, len);
    return v;
}

static void mmio_write(struct fixture *f, uint64_t addr, unsigned len, uint64_t v)
{
    g_assert_cmpint(hv_iobus_write(&f->vm.mmio, addr, &v, len), ==, 1);
}

static uint32_t pio_read(struct fixture *f, uint16_t port, unsigned len)
{
    uint32_t v = 0;
    g_assert_cmpint(hv_iobus_read(&f->vm.pio, port, &v, len), ==, 1);
    return v;
}

static void pio_write(struct fixture *f, uint16_t port, unsigned len, uint32_t v)
{
    g_assert_cmpint(hv_iobus_write(&f->vm.pio, port, &v, len), ==, 1);
}

static uint64_t bar_addr(struct fixture *f, unsigned bar)
{
    uint64_t a = cfg_read(f, PCI_BAR0 + 4 * bar, 4) & ~0xfu;
    if (f->dev.bars[bar].is64)
        a |= (uint64_t)cfg_read(f, PCI_BAR0 + 4 * bar + 4, 4) << 32;
    return a;
}

/* ---- the header ---- */

static void test_header(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_cmphex(cfg_read(f, PCI_VENDOR_ID, 2), ==, 0x1af4);
    g_assert_cmphex(cfg_read(f, PCI_DEVICE_ID, 2), ==, 0x10ff);
    g_assert_cmphex(cfg_read(f, PCI_VENDOR_ID, 4), ==, 0x10ff1af4);
    g_assert_cmphex(cfg_read(f, PCI_REVISION, 4) >> 8, ==, 0x0c0320);
    g_assert_cmphex(cfg_read(f, PCI_HEADER_TYPE, 1), ==, 0); /* type 0, one function */
    g_assert_cmphex(cfg_read(f, PCI_SUBSYSTEM_VENDOR_ID, 2), ==, 0x1234);
    g_assert_cmphex(cfg_read(f, PCI_SUBSYSTEM_ID, 2), ==, 0x5678);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_PIN, 1), ==, 1);
    g_assert_cmpuint(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, hv_pci_slot_gsi(SLOT));
    /* Placed and decoding, as firmware would have left it. */
    g_assert_cmphex(cfg_read(f, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, ==, PCI_COMMAND_MEMORY);
    g_assert_cmphex(cfg_read(f, PCI_BAR0 + 4 * BAR_BIG, 4) & 0xf, ==, 0x4); /* 64-bit mem */
    g_assert_cmpuint(bar_addr(f, BAR_REGS), >=, HV_PCI_MMIO32_START);
    g_assert_cmpuint(bar_addr(f, BAR_REGS) + 0x1000, <=, HV_PCI_MMIO32_END);
    g_assert_cmpuint(bar_addr(f, BAR_REGS) % 0x1000, ==, 0);
    g_assert_cmpuint(bar_addr(f, BAR_BIG), >=, hv_pci_mmio64_start(HV_MiB(64)));
    g_assert_cmpuint(bar_addr(f, BAR_BIG) % 0x4000, ==, 0);
    g_assert_cmpuint(f->dev.bars[BAR_BIG].mapped, ==, bar_addr(f, BAR_BIG));
    /* No expansion ROM, no BARs the device did not declare. */
    g_assert_cmphex(cfg_read(f, 0x30, 4), ==, 0);
    g_assert_cmphex(cfg_read(f, PCI_BAR0 + 4, 4), ==, 0);

    /* The host bridge in slot 0; nothing (all ones) in an empty slot or function. */
    g_assert_cmphex(hv_pci_config_read(&f->pci, 0, 0, PCI_VENDOR_ID, 4), ==, 0x12378086);
    g_assert_cmphex(hv_pci_config_read(&f->pci, 0, 0, PCI_REVISION, 4) >> 8, ==, 0x060000);
    g_assert_cmphex(hv_pci_config_read(&f->pci, 2, 0, PCI_VENDOR_ID, 2), ==, 0xffff);
    g_assert_cmphex(hv_pci_config_read(&f->pci, 31, 0, PCI_VENDOR_ID, 4), ==, 0xffffffff);
    g_assert_cmphex(hv_pci_config_read(&f->pci, SLOT, 1, PCI_VENDOR_ID, 2), ==, 0xffff);
    g_assert_cmphex(hv_pci_config_read(&f->pci, 32, 0, PCI_VENDOR_ID, 2), ==, 0xffff);
}

static void test_readonly(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint8_t before[HV_PCI_CFG_SIZE];
    memcpy(before, f->dev.cfg, sizeof(before));
    /* Every byte but command, interrupt line, BAR addresses and MSI-X control. */
    for (unsigned off = 0; off < HV_PCI_CFG_SIZE; off += 4) {
        if (off == PCI_COMMAND || off == PCI_INTERRUPT_LINE ||
            (off >= PCI_BAR0 && off < PCI_BAR0 + 24) || off == f->msix.cap)
            continue;
        cfg_write(f, off, 4, 0xffffffff);
        cfg_write(f, off, 4, 0);
    }
    g_assert_cmpmem(f->dev.cfg, sizeof(before), before, sizeof(before));

    /* Command: only I/O, memory, bus master and INTx disable stick. */
    cfg_write(f, PCI_COMMAND, 2, 0xffff);
    g_assert_cmphex(cfg_read(f, PCI_COMMAND, 2), ==, 0x0407);
    /* Status is read-only here (no RW1C bits in use). */
    uint16_t status = (uint16_t)cfg_read(f, PCI_STATUS, 2);
    cfg_write(f, PCI_COMMAND, 4, 0xffff0006);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2), ==, status);
    g_assert_cmphex(cfg_read(f, PCI_COMMAND, 2), ==, 0x0006);
    /* The interrupt line is scratch for the OS; the pin is not. */
    cfg_write(f, PCI_INTERRUPT_LINE, 2, 0x0455);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, 0x55);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_PIN, 1), ==, 1);
    /* The type bits of a BAR are read-only. */
    cfg_write(f, PCI_BAR0 + 4 * BAR_BIG, 1, 0x0);
    g_assert_cmphex(cfg_read(f, PCI_BAR0 + 4 * BAR_BIG, 1) & 0xf, ==, 0x4);
}

static void test_bad_access(struct fixture *f, gconstpointer data)
{
    (void)data;
    /* Lengths other than 1, 2, 4 and unaligned accesses read as all ones. */
    g_assert_cmphex(cfg_read(f, 0, 3), ==, 0xffffff);
    g_assert_cmphex(cfg_read(f, 0, 0), ==, 0);
    /* Found by fuzz-pci-config: a length of 8 or more shifted a 32-bit one too far. */
    g_assert_cmphex(cfg_read(f, 0, 8), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0, 200), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 2, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 1, 2), ==, 0xffff);
    g_assert_cmphex(cfg_read(f, 3, 1), ==, 0x10); /* a byte is never unaligned */
    /* Extended config space exists (ECAM) but holds nothing; past 4 KiB is not ours. */
    g_assert_cmphex(cfg_read(f, 0x100, 4), ==, 0);
    g_assert_cmphex(cfg_read(f, 0xffc, 4), ==, 0);
    g_assert_cmphex(cfg_read(f, 0x1000, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0xfffffffc, 4), ==, 0xffffffff);

    uint8_t before[HV_PCI_CFG_SIZE];
    memcpy(before, f->dev.cfg, sizeof(before));
    unsigned writes = f->config_writes;
    cfg_write(f, PCI_COMMAND, 3, 0);
    cfg_write(f, PCI_COMMAND + 1, 2, 0);
    cfg_write(f, PCI_COMMAND + 2, 4, 0);
    cfg_write(f, PCI_INTERRUPT_LINE, 8, 0);
    cfg_write(f, 0xfe, 4, 0xffffffff);
    cfg_write(f, 0x100, 4, 0xffffffff);
    cfg_write(f, 0xfffffffc, 4, 0xffffffff);
    hv_pci_config_write(&f->pci, SLOT, 1, PCI_COMMAND, 2, 0);
    hv_pci_config_write(&f->pci, 2, 0, PCI_COMMAND, 2, 0);
    hv_pci_config_write(&f->pci, 99, 0, PCI_COMMAND, 2, 0);
    g_assert_cmpmem(f->dev.cfg, sizeof(before), before, sizeof(before));
    g_assert_cmpuint(f->config_writes, ==, writes); /* the device never heard of them */
}

/* ---- BARs ---- */

static void test_bar_sizing(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t regs = bar_addr(f, BAR_REGS), big = bar_addr(f, BAR_BIG);
    /* As Linux does: decoding off while the BARs hold the sizing pattern. */
    cfg_write(f, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    cfg_write(f, PCI_BAR0, 4, 0xffffffff);
    g_assert_cmphex(cfg_read(f, PCI_BAR0, 4), ==, 0xfffff000);
    cfg_write(f, PCI_BAR0 + 4 * BAR_BIG, 4, 0xffffffff);
    cfg_write(f, PCI_BAR0 + 4 * BAR_BIG + 4, 4, 0xffffffff);
    g_assert_cmphex(cfg_read(f, PCI_BAR0 + 4 * BAR_BIG, 4), ==, 0xffffc004);
    g_assert_cmphex(cfg_read(f, PCI_BAR0 + 4 * BAR_BIG + 4, 4), ==, 0xffffffff);
    cfg_write(f, PCI_BAR0 + 4 * BAR_MSIX, 4, 0xffffffff);
    g_assert_cmphex(cfg_read(f, PCI_BAR0 + 4 * BAR_MSIX, 4), ==, 0xffffe000);
    /* Unused BARs size as zero. */
    cfg_write(f, PCI_BAR0 + 4, 4, 0xffffffff);
    g_assert_cmphex(cfg_read(f, PCI_BAR0 + 4, 4), ==, 0);

    /* Enabling decode with the sizing pattern still in place maps nothing. */
    cfg_write(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    g_assert_cmpuint(f->dev.bars[BAR_REGS].mapped, ==, 0);
    g_assert_cmpuint(f->dev.bars[BAR_BIG].mapped, ==, 0);

    cfg_write(f, PCI_BAR0, 4, (uint32_t)regs);
    cfg_write(f, PCI_BAR0 + 4 * BAR_BIG, 4, (uint32_t)big);
    cfg_write(f, PCI_BAR0 + 4 * BAR_BIG + 4, 4, (uint32_t)(big >> 32));
    g_assert_cmpuint(f->dev.bars[BAR_REGS].mapped, ==, regs);
    g_assert_cmpuint(f->dev.bars[BAR_BIG].mapped, ==, big);
    g_assert_cmphex(cfg_read(f, PCI_BAR0, 4), ==, (uint32_t)regs);
}

static bool find_move(struct fixture *f, unsigned bar, uint64_t old, uint64_t new_addr)
{
    for (unsigned i = 0; i < f->moves->len; i++) {
        struct moved *m = &g_array_index(f->moves, struct moved, i);
        if (m->bar == bar && m->old == old && m->new_addr == new_addr)
            return true;
    }
    return false;
}

static void test_bar_move(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t old = bar_addr(f, BAR_REGS);
    g_assert_cmphex(mmio_read(f, old + 0x10, 4), ==, 0x13121110);

    uint64_t new_addr = HV_PCI_MMIO32_END - 0x10000;
    cfg_write(f, PCI_BAR0, 4, (uint32_t)new_addr);
    g_assert_cmpuint(f->moves->len, ==, 1);
    g_assert_true(find_move(f, BAR_REGS, old, new_addr));
    g_assert_cmphex(mmio_read(f, new_addr + 0x10, 4), ==, 0x13121110);
    g_assert_cmphex(mmio_read(f, old + 0x10, 4), ==, 0xffffffff);
    mmio_write(f, new_addr + 0xff8, 8, 0x1122334455667788ull);
    g_assert_cmphex(mmio_read(f, new_addr + 0xff8, 8), ==, 0x1122334455667788ull);
    /* An access running past the end of the BAR is not the device's. */
    g_assert_cmphex(mmio_read(f, new_addr + 0xffc, 8), ==, 0xffffffffffffffffull);

    /* Writing the same address again is not a move. */
    cfg_write(f, PCI_BAR0, 4, (uint32_t)new_addr);
    g_assert_cmpuint(f->moves->len, ==, 1);
    /* Low bits of the address are not writable: the BAR stays size-aligned. */
    cfg_write(f, PCI_BAR0, 4, (uint32_t)new_addr + 0x234);
    g_assert_cmphex(cfg_read(f, PCI_BAR0, 4), ==, (uint32_t)new_addr);
}

static void test_bar64_move(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t old = bar_addr(f, BAR_BIG);
    uint64_t new_addr = hv_pci_mmio64_start(HV_MiB(64)) + HV_GiB(2) + 0x4000;
    cfg_write(f, PCI_BAR0 + 4 * BAR_BIG + 4, 4, (uint32_t)(new_addr >> 32));
    cfg_write(f, PCI_BAR0 + 4 * BAR_BIG, 4, (uint32_t)new_addr);
    g_assert_cmpuint(bar_addr(f, BAR_BIG), ==, new_addr);
    g_assert_cmpuint(f->dev.bars[BAR_BIG].mapped, ==, new_addr);
    struct moved *last = &g_array_index(f->moves, struct moved, f->moves->len - 1);
    g_assert_cmpuint(last->bar, ==, BAR_BIG);
    g_assert_cmpuint(last->new_addr, ==, new_addr);
    g_assert_cmpuint(g_array_index(f->moves, struct moved, 0).old, ==, old);
    g_assert_cmphex(mmio_read(f, new_addr + 0x3ffc, 4), ==, 0xfffefdfc);
    g_assert_cmphex(mmio_read(f, old + 0x3ffc, 4), ==, 0xffffffff);
}

static void test_decode_enable(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t regs = bar_addr(f, BAR_REGS), big = bar_addr(f, BAR_BIG);
    uint64_t msix = bar_addr(f, BAR_MSIX);
    cfg_write(f, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    g_assert_cmpuint(f->moves->len, ==, 3);
    g_assert_true(find_move(f, BAR_REGS, regs, 0));
    g_assert_true(find_move(f, BAR_BIG, big, 0));
    g_assert_true(find_move(f, BAR_MSIX, msix, 0));
    g_assert_cmphex(mmio_read(f, regs, 4), ==, 0xffffffff);
    /* The BAR registers keep their values while decoding is off. */
    g_assert_cmpuint(bar_addr(f, BAR_REGS), ==, regs);

    cfg_write(f, PCI_COMMAND, 2, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
    g_assert_cmpuint(f->moves->len, ==, 6);
    g_assert_true(find_move(f, BAR_REGS, 0, regs));
    g_assert_true(find_move(f, BAR_BIG, 0, big));
    g_assert_cmphex(mmio_read(f, regs, 4), ==, 0x03020100);
    /* A byte write to the command register's high half touches nothing mapped. */
    cfg_write(f, PCI_COMMAND + 1, 1, 0x04);
    g_assert_cmpuint(f->moves->len, ==, 6);
}

/* ---- capabilities ---- */

static void test_cap_list(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, ==, PCI_STATUS_CAP_LIST);
    uint8_t ids[8];
    unsigned offs[8], n = 0;
    for (unsigned p = cfg_read(f, PCI_CAPABILITY_LIST, 1); p; p = cfg_read(f, p + 1, 1)) {
        g_assert_cmpuint(n, <, G_N_ELEMENTS(ids));
        g_assert_cmpuint(p % 4, ==, 0);
        g_assert_cmpuint(p, >=, 0x40);
        g_assert_cmpuint(p, <, HV_PCI_CFG_SIZE);
        ids[n] = (uint8_t)cfg_read(f, p, 1);
        offs[n++] = p;
    }
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmphex(ids[0], ==, PCI_CAP_ID_VNDR);
    g_assert_cmphex(ids[1], ==, PCI_CAP_ID_MSIX);
    /* The vendor capability was 14 bytes: the next starts at the next dword. */
    g_assert_cmpuint(offs[1], ==, 0x50);
    g_assert_cmpuint(offs[1], ==, f->msix.cap);
    /* MSI-X: table size N-1, table and PBA in BAR_MSIX. */
    g_assert_cmphex(cfg_read(f, offs[1] + 2, 2), ==, NR_VECTORS - 1);
    g_assert_cmphex(cfg_read(f, offs[1] + 4, 4), ==, BAR_MSIX);
    g_assert_cmphex(cfg_read(f, offs[1] + 8, 4), ==, (HV_MSIX_BAR_SIZE / 2) | BAR_MSIX);
}

static void test_cap_full(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_pci_dev d;
    hv_pci_dev_init(&d, "caps", 1, 2, 0, 0, 0);
    unsigned n = 0, last = 0, off;
    while ((off = hv_pci_dev_add_cap(&d, PCI_CAP_ID_VNDR, 16)) != 0) {
        g_assert_cmpuint(off, >, last);
        last = off;
        n++;
    }
    g_assert_cmpuint(n, ==, (HV_PCI_CFG_SIZE - 0x40) / 16);
    g_assert_cmpuint(last + 16, ==, HV_PCI_CFG_SIZE);
    /* Full: refused, and nothing written (the header stays intact). */
    g_assert_cmpuint(hv_pci_dev_add_cap(&d, PCI_CAP_ID_VNDR, 2), ==, 0);
    g_assert_cmpuint(hv_pci_dev_add_cap(&d, PCI_CAP_ID_VNDR, 4), ==, 0);
    g_assert_cmphex(d.cfg[PCI_VENDOR_ID], ==, 1);
    g_assert_cmphex(d.cfg[PCI_VENDOR_ID + 1], ==, 0);
    g_assert_cmpuint(d.cfg[last + 1], ==, 0); /* the list ends */
    g_assert_cmpuint(hv_pci_dev_add_cap(&f->dev, PCI_CAP_ID_VNDR, 1), ==, 0);
}

/* ---- configuration mechanism #1 and ECAM ---- */

static uint32_t conf1_addr(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
    return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | reg;
}

static void test_conf1(struct fixture *f, gconstpointer data)
{
    (void)data;
    pio_write(f, 0xcf8, 4, conf1_addr(0, SLOT, 0, PCI_VENDOR_ID));
    g_assert_cmphex(pio_read(f, 0xcfc, 4), ==, 0x10ff1af4);
    g_assert_cmphex(pio_read(f, 0xcfc, 2), ==, 0x1af4);
    g_assert_cmphex(pio_read(f, 0xcfe, 2), ==, 0x10ff);
    g_assert_cmphex(pio_read(f, 0xcfc, 1), ==, 0xf4);
    g_assert_cmphex(pio_read(f, 0xcfd, 1), ==, 0x1a);
    g_assert_cmphex(pio_read(f, 0xcfe, 1), ==, 0xff);
    g_assert_cmphex(pio_read(f, 0xcff, 1), ==, 0x10);
    /* The latch reads back without its two low bits. */
    pio_write(f, 0xcf8, 4, conf1_addr(0, SLOT, 0, PCI_INTERRUPT_LINE) | 3);
    g_assert_cmphex(pio_read(f, 0xcf8, 4), ==, conf1_addr(0, SLOT, 0, PCI_INTERRUPT_LINE));
    g_assert_cmphex(pio_read(f, 0xcfd, 1), ==, 1); /* the interrupt pin */
    pio_write(f, 0xcfc, 1, 0x0b);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, 0x0b);
    pio_write(f, 0xcf8, 4, conf1_addr(0, SLOT, 0, PCI_COMMAND));
    pio_write(f, 0xcfc, 2, PCI_COMMAND_MASTER);
    g_assert_cmpuint(f->dev.bars[BAR_REGS].mapped, ==, 0);
    pio_write(f, 0xcfc, 2, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
    g_assert_cmpuint(f->dev.bars[BAR_REGS].mapped, !=, 0);

    /* Disabled, another bus, another function, an empty slot: all ones, writes dropped. */
    const uint32_t nothing[] = {
        conf1_addr(0, SLOT, 0, 0) & ~0x80000000u,
        conf1_addr(1, SLOT, 0, 0),
        conf1_addr(0, SLOT, 3, 0),
        conf1_addr(0, 7, 0, 0),
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(nothing); i++) {
        pio_write(f, 0xcf8, 4, nothing[i] | PCI_INTERRUPT_LINE);
        g_assert_cmphex(pio_read(f, 0xcfc, 4), ==, 0xffffffff);
        pio_write(f, 0xcfc, 1, 0x77);
        g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, 0x0b);
    }
    /* Only a dword access touches the latch. */
    pio_write(f, 0xcf8, 4, conf1_addr(0, SLOT, 0, 0));
    pio_write(f, 0xcf8, 2, 0);
    g_assert_cmphex(pio_read(f, 0xcf8, 4), ==, conf1_addr(0, SLOT, 0, 0));
    g_assert_cmphex(pio_read(f, 0xcf8, 2), ==, 0xffff);
    /* A dword access that runs past 0xCFF is not the bridge's. */
    uint32_t v = 0;
    g_assert_cmpint(hv_iobus_read(&f->vm.pio, 0xcfe, &v, 4), ==, 0);
}

static void test_ecam(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_cmphex(mmio_read(f, ECAM(SLOT, 0), 4), ==, 0x10ff1af4);
    g_assert_cmphex(mmio_read(f, ECAM(SLOT, 2), 2), ==, 0x10ff);
    g_assert_cmphex(mmio_read(f, ECAM(SLOT, 0x0b), 1), ==, 0x0c);
    g_assert_cmphex(mmio_read(f, ECAM(0, 0), 4), ==, 0x12378086);
    g_assert_cmphex(mmio_read(f, ECAM(5, 0), 4), ==, 0xffffffff);
    g_assert_cmphex(mmio_read(f, ECAM(SLOT, 0) + (1 << 12), 4), ==, 0xffffffff);
    g_assert_cmphex(mmio_read(f, ECAM(SLOT, 0x200), 4), ==, 0);
    /* Eight-byte and unaligned accesses read as all ones. */
    g_assert_cmphex(mmio_read(f, ECAM(SLOT, 0), 8), ==, 0xffffffffffffffffull);
    g_assert_cmphex(mmio_read(f, ECAM(SLOT, 1), 2), ==, 0xffff);
    mmio_write(f, ECAM(SLOT, PCI_INTERRUPT_LINE), 1, 0x0a);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, 0x0a);
    mmio_write(f, ECAM(SLOT, PCI_INTERRUPT_LINE), 8, 0);
    mmio_write(f, ECAM(SLOT, PCI_INTERRUPT_LINE + 1), 2, 0);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, 0x0a);
    /* The last byte of the window is the last slot's last extended byte. */
    g_assert_cmphex(mmio_read(f, HV_PCI_ECAM_START + HV_PCI_ECAM_SIZE - 1, 1), ==, 0xff);
}

/* ---- 0xCF9: the reset control register inside the bridge's ports ---- */

static void test_reset_register(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t n;
    /* Not a reset: bit 2 clear, a word access, or bit 2 written to 0xCF8 / 0xCFA. */
    pio_write(f, 0xcf9, 1, 0x02);
    pio_write(f, 0xcf9, 2, 0x0404);
    pio_write(f, 0xcfa, 1, 0x04);
    g_assert_cmpint(atomic_load(&f->vm.request), ==, HV_REQ_NONE);
    g_assert_cmpint(read(f->vm.event_fd, &n, sizeof(n)), <, 0);
    /* A byte with bit 2 (RST_CPU) asks the main loop for a reset. */
    pio_write(f, 0xcf9, 1, 0x06);
    g_assert_cmpint(atomic_load(&f->vm.request), ==, HV_REQ_RESET);
    g_assert_cmpint(read(f->vm.event_fd, &n, sizeof(n)), ==, sizeof(n));
    g_assert_cmpuint(n, ==, 1);
    /* Neither a read nor a reset write at 0xCF9 disturbs the latch. */
    pio_write(f, 0xcf8, 4, conf1_addr(0, SLOT, 0, 0));
    pio_read(f, 0xcf9, 1);
    pio_write(f, 0xcf9, 1, 0x04);
    g_assert_cmphex(pio_read(f, 0xcf8, 4), ==, conf1_addr(0, SLOT, 0, 0));
}

/* ---- INTx ---- */

static void test_intx(struct fixture *f, gconstpointer data)
{
    (void)data;
    hv_pci_set_intx(&f->dev, true);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, ==, PCI_STATUS_INTERRUPT);
    g_assert_true(f->dev.intx_level);
    hv_pci_set_intx(&f->dev, false);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, ==, 0);
}

/* ---- MSI-X table and PBA (no KVM: vectors are never attached to irqfds) ---- */

static void test_msix_table(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t t = bar_addr(f, BAR_MSIX);
    /* Power-on: every vector masked, nothing pending, MSI-X disabled. */
    for (unsigned i = 0; i < NR_VECTORS; i++) {
        g_assert_cmphex(mmio_read(f, t + 16 * i, 8), ==, 0);
        g_assert_cmphex(mmio_read(f, t + 16 * i + 12, 4), ==, 1);
    }
    g_assert_false(hv_msix_enabled(&f->msix));

    mmio_write(f, t + 16, 4, 0xfee00000);
    mmio_write(f, t + 16 + 4, 4, 0);
    mmio_write(f, t + 16 + 8, 4, 0x4041);
    g_assert_cmphex(mmio_read(f, t + 16, 8), ==, 0xfee00000);
    g_assert_cmphex(mmio_read(f, t + 16 + 8, 4), ==, 0x4041);
    g_assert_cmphex(mmio_read(f, t + 16 + 8, 2), ==, 0x4041);
    g_assert_cmphex(mmio_read(f, t + 16 + 9, 1), ==, 0x40);
    mmio_write(f, t + 16, 8, 0x00000001fee01000ull);
    g_assert_cmphex(f->msix.v[1].addr, ==, 0x00000001fee01000ull);
    /* Only the mask bit of vector control is writable. */
    mmio_write(f, t + 16 + 12, 4, 0xfffffffe);
    g_assert_cmphex(mmio_read(f, t + 16 + 12, 4), ==, 0);
    mmio_write(f, t + 16 + 12, 4, 0xffffffff);
    g_assert_cmphex(mmio_read(f, t + 16 + 12, 4), ==, 1);
    /* Past the last entry, and accesses straddling two entries: ignored, read 0. */
    mmio_write(f, t + 16 * NR_VECTORS, 4, 0x12345678);
    g_assert_cmphex(mmio_read(f, t + 16 * NR_VECTORS, 4), ==, 0);
    mmio_write(f, t + 16 + 12, 8, 0);
    g_assert_cmphex(mmio_read(f, t + 16 + 12, 4), ==, 1);
    g_assert_cmphex(mmio_read(f, t + 16 + 12, 8), ==, 0);
}

static void test_msix_pba(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t t = bar_addr(f, BAR_MSIX), pba = t + HV_MSIX_BAR_SIZE / 2;
    unsigned cap = f->msix.cap;
    /* Enable MSI-X through config space; table size stays read-only. */
    cfg_write(f, cap + 2, 2, 0x8000 | 0x7ff);
    g_assert_cmphex(cfg_read(f, cap + 2, 2), ==, 0x8000 | (NR_VECTORS - 1));
    g_assert_true(hv_msix_enabled(&f->msix));

    /* A masked vector's interrupt waits in the PBA. */
    hv_msix_notify(&f->msix, 2);
    hv_msix_notify(&f->msix, 0);
    hv_msix_notify(&f->msix, NR_VECTORS); /* no such vector: nothing */
    g_assert_cmphex(mmio_read(f, pba, 8), ==, 0x5);
    g_assert_cmphex(mmio_read(f, pba, 1), ==, 0x5);
    g_assert_cmphex(mmio_read(f, pba + 8, 8), ==, 0);
    /* The PBA is read-only. */
    mmio_write(f, pba, 8, 0);
    g_assert_cmphex(mmio_read(f, pba, 8), ==, 0x5);
    /* Unmasking delivers (to an irqfd not attached here) and clears the pending bit. */
    mmio_write(f, t + 2 * 16 + 12, 4, 0);
    g_assert_cmphex(mmio_read(f, pba, 8), ==, 0x1);

    /* Function mask holds everything back, even unmasked vectors. */
    cfg_write(f, cap + 3, 1, 0xc0);
    g_assert_false(hv_msix_enabled(&f->msix));
    hv_msix_notify(&f->msix, 2);
    g_assert_cmphex(mmio_read(f, pba, 8), ==, 0x5);
    cfg_write(f, cap + 3, 1, 0x80);
    g_assert_true(hv_msix_enabled(&f->msix));
    g_assert_cmphex(mmio_read(f, pba, 8), ==, 0x1);

    /* Reset: disabled, masked, nothing pending. */
    hv_msix_reset(&f->msix);
    g_assert_false(hv_msix_enabled(&f->msix));
    g_assert_cmphex(mmio_read(f, pba, 8), ==, 0);
    g_assert_cmphex(mmio_read(f, t + 2 * 16 + 12, 4), ==, 1);
}

static void test_msix_init_limits(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_pci_dev d;
    struct hv_msix m;
    hv_pci_dev_init(&d, "limits", 1, 2, 0, 0, 0);
    g_assert_cmpint(hv_msix_init(&m, &d, &f->vm, 0, 0), ==, -EINVAL);
    g_assert_cmpint(hv_msix_init(&m, &d, &f->vm, 257, 0), ==, -EINVAL);
}

static void add(const char *name, void (*fn)(struct fixture *, gconstpointer))
{
    g_test_add(name, struct fixture, NULL, setup, fn, teardown);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add("/pci/header", test_header);
    add("/pci/readonly", test_readonly);
    add("/pci/bad-access", test_bad_access);
    add("/pci/bar/sizing", test_bar_sizing);
    add("/pci/bar/move", test_bar_move);
    add("/pci/bar/move-64", test_bar64_move);
    add("/pci/bar/decode-enable", test_decode_enable);
    add("/pci/cap/list", test_cap_list);
    add("/pci/cap/full", test_cap_full);
    add("/pci/conf1", test_conf1);
    add("/pci/ecam", test_ecam);
    add("/pci/reset-register", test_reset_register);
    add("/pci/intx", test_intx);
    add("/pci/msix/table", test_msix_table);
    add("/pci/msix/pba", test_msix_pba);
    add("/pci/msix/init-limits", test_msix_init_limits);
    return g_test_run();
}
