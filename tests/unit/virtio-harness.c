/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The virtio device tests' VM, bus, RAM and driver-side register access (virtio-harness.h). */
#include "virtio-harness.h"

#include <glib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

void vh_init(struct vh *h)
{
    memset(h, 0, sizeof(*h));
    h->vm.fd = -1;
    pthread_mutex_init(&h->vm.lock, NULL);
    pthread_cond_init(&h->vm.cond, NULL);
    h->vm.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(h->vm.event_fd, >=, 0);
    g_assert_cmpint(hv_pci_init(&h->pci, &h->vm, RAM_SIZE), ==, 0);
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, RAM_SIZE, 0), ==, 0);
    g_assert_cmpint(hv_memory_alloc(&h->mem, &l, 0), ==, 0);
}

void vh_fini(struct vh *h)
{
    vh_pump();
    hv_pci_destroy(&h->pci);
    hv_iobus_clear(&h->vm.pio);
    hv_iobus_clear(&h->vm.mmio);
    hv_memory_free(&h->mem);
    close(h->vm.event_fd);
    pthread_cond_destroy(&h->vm.cond);
    pthread_mutex_destroy(&h->vm.lock);
}

void vh_plug(struct vh *h, struct hv_virtio_dev *dev)
{
    h->dev = dev;
    dev->pci.pci = &h->pci;
}

uint8_t *vh_ram(struct vh *h, uint64_t gpa, uint64_t len)
{
    uint8_t *p = hv_memory_ptr(&h->mem, gpa, len);
    g_assert_nonnull(p);
    return p;
}

void vh_regs_write(struct vh *h, uint64_t off, uint64_t val, unsigned len)
{
    struct hv_pci_bar *bar = &h->dev->pci.bars[REGS_BAR];
    bar->ops->write(bar->opaque, off, &val, len);
}

uint64_t vh_regs_read(struct vh *h, uint64_t off, unsigned len)
{
    struct hv_pci_bar *bar = &h->dev->pci.bars[REGS_BAR];
    uint64_t v = 0;
    bar->ops->read(bar->opaque, off, &v, len);
    return v;
}

void vh_pump(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

void vh_driver_init(struct vh *h, uint32_t features, unsigned nr_queues)
{
    vh_regs_write(h, C_STATUS, 3, 1);
    vh_regs_write(h, C_GFSELECT, 0, 4);
    vh_regs_write(h, C_GF, features, 4);
    vh_regs_write(h, C_GFSELECT, 1, 4);
    vh_regs_write(h, C_GF, 1, 4); /* VERSION_1 */
    vh_regs_write(h, C_STATUS, 0xb, 1);
    g_assert_cmpuint(vh_regs_read(h, C_STATUS, 1), ==, 0xb);
    for (unsigned q = 0; q < nr_queues; q++) {
        vh_regs_write(h, C_QSELECT, q, 2);
        vh_regs_write(h, C_QSIZE, QSIZE, 2);
        vh_regs_write(h, C_QDESC, RING_GPA(q), 8);
        vh_regs_write(h, C_QDRIVER, RING_GPA(q) + 0x1000, 8);
        vh_regs_write(h, C_QDEVICE, RING_GPA(q) + 0x2000, 8);
        vh_regs_write(h, C_QENABLE, 1, 2);
    }
}

void vh_driver_ok(struct vh *h)
{
    vh_regs_write(h, C_STATUS, 0xf, 1);
    vh_pump();
}

uint16_t vh_used_idx(struct vh *h, unsigned q)
{
    uint16_t v;
    memcpy(&v, vh_ram(h, RING_GPA(q) + 0x2000 + 2, 2), 2);
    return v;
}
