/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MSI-X for emulated PCI devices: the capability, the table and PBA, and irqfd delivery. */
#include "devices/msix.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kvm/irq.h"
#include "kvm/vm.h"

#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define ENTRY_SIZE 16
#define PBA_OFFSET (HV_MSIX_BAR_SIZE / 2)

static uint16_t ctrl(struct hv_msix *m)
{
    uint16_t v;
    memcpy(&v, m->dev->cfg + m->cap + 2, 2);
    return v;
}

bool hv_msix_enabled(struct hv_msix *m)
{
    return (ctrl(m) & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL)) == MSIX_CTRL_ENABLE;
}

static void fire(struct hv_msix_vector *v)
{
    uint64_t one = 1;
    ssize_t n = write(v->efd, &one, sizeof(one));
    (void)n; /* EAGAIN: the counter is saturated, the interrupt is pending anyway */
}

/* Pushes vector `i`'s state to KVM's routing; fires what was pending. Lock held. */
static void update(struct hv_msix *m, unsigned i)
{
    struct hv_msix_vector *v = &m->v[i];
    bool masked = !hv_msix_enabled(m) || (v->ctrl & 1);
    if (v->gsi >= 0)
        hv_msi_set(m->vm, (unsigned)v->gsi, v->addr, v->data, masked);
    if (!masked && v->pending) {
        v->pending = false;
        fire(v);
    }
}

static void table_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct hv_msix *m = opaque;
    uint8_t buf[8] = {0};
    pthread_mutex_lock(&m->lock);
    if (offset < PBA_OFFSET) {
        unsigned i = (unsigned)(offset / ENTRY_SIZE), off = offset % ENTRY_SIZE;
        if (i < m->nr && off + len <= ENTRY_SIZE) {
            uint8_t e[ENTRY_SIZE];
            memcpy(e, &m->v[i].addr, 8);
            memcpy(e + 8, &m->v[i].data, 4);
            memcpy(e + 12, &m->v[i].ctrl, 4);
            memcpy(buf, e + off, len);
        }
    } else {
        uint64_t bits = 0;
        unsigned base = (unsigned)((offset - PBA_OFFSET) / 8) * 64;
        for (unsigned b = 0; b < 64 && base + b < m->nr; b++)
            bits |= (uint64_t)m->v[base + b].pending << b;
        unsigned shift = (unsigned)((offset - PBA_OFFSET) % 8);
        bits >>= 8 * shift;
        memcpy(buf, &bits, len);
    }
    pthread_mutex_unlock(&m->lock);
    memcpy(data, buf, len);
}

static void table_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct hv_msix *m = opaque;
    if (offset >= PBA_OFFSET)
        return; /* the PBA is read-only */
    unsigned i = (unsigned)(offset / ENTRY_SIZE), off = offset % ENTRY_SIZE;
    if (i >= m->nr || off + len > ENTRY_SIZE)
        return;
    pthread_mutex_lock(&m->lock);
    uint8_t e[ENTRY_SIZE];
    memcpy(e, &m->v[i].addr, 8);
    memcpy(e + 8, &m->v[i].data, 4);
    memcpy(e + 12, &m->v[i].ctrl, 4);
    memcpy(e + off, data, len);
    memcpy(&m->v[i].addr, e, 8);
    memcpy(&m->v[i].data, e + 8, 4);
    memcpy(&m->v[i].ctrl, e + 12, 4);
    m->v[i].ctrl &= 1;
    update(m, i);
    pthread_mutex_unlock(&m->lock);
}

static const struct hv_io_ops table_ops = {.read = table_read, .write = table_write};

int hv_msix_init(struct hv_msix *m, struct hv_pci_dev *dev, struct hv_vm *vm, unsigned nr,
                 unsigned bar)
{
    memset(m, 0, sizeof(*m));
    if (nr == 0 || nr > 256)
        return -EINVAL;
    m->dev = dev;
    m->vm = vm;
    m->nr = nr;
    m->bar = bar;
    pthread_mutex_init(&m->lock, NULL);
    m->v = g_new0(struct hv_msix_vector, nr);
    for (unsigned i = 0; i < nr; i++) {
        m->v[i].ctrl = 1;
        m->v[i].gsi = -1;
        m->v[i].efd = -1;
    }
    m->cap = hv_pci_dev_add_cap(dev, PCI_CAP_ID_MSIX, 12);
    if (!m->cap)
        return -ENOSPC;
    uint16_t c = (uint16_t)(nr - 1);
    memcpy(dev->cfg + m->cap + 2, &c, 2);
    uint32_t table = bar, pba = PBA_OFFSET | bar;
    memcpy(dev->cfg + m->cap + 4, &table, 4);
    memcpy(dev->cfg + m->cap + 8, &pba, 4);
    uint16_t w = MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL;
    memcpy(dev->wmask + m->cap + 2, &w, 2);
    hv_pci_dev_set_bar(dev, bar, HV_MSIX_BAR_SIZE, false, &table_ops, m);
    return 0;
}

int hv_msix_attach(struct hv_msix *m)
{
    for (unsigned i = 0; i < m->nr; i++) {
        struct hv_msix_vector *v = &m->v[i];
        v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (v->efd < 0)
            return -errno;
        v->gsi = hv_msi_alloc(m->vm);
        if (v->gsi < 0)
            return v->gsi;
        int r = hv_irqfd_add(m->vm, v->efd, (unsigned)v->gsi);
        if (r < 0)
            return r;
    }
    return 0;
}

void hv_msix_destroy(struct hv_msix *m)
{
    for (unsigned i = 0; m->v && i < m->nr; i++) {
        if (m->v[i].efd >= 0) {
            if (m->v[i].gsi >= 0)
                hv_irqfd_remove(m->vm, m->v[i].efd, (unsigned)m->v[i].gsi);
            close(m->v[i].efd);
        }
    }
    g_free(m->v);
    m->v = NULL;
    pthread_mutex_destroy(&m->lock);
}

void hv_msix_config_written(struct hv_msix *m, unsigned offset, unsigned len)
{
    if (offset + len <= m->cap + 2 || offset >= m->cap + 4)
        return;
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->nr; i++)
        update(m, i);
    pthread_mutex_unlock(&m->lock);
}

void hv_msix_notify(struct hv_msix *m, unsigned vector)
{
    if (vector >= m->nr)
        return;
    pthread_mutex_lock(&m->lock);
    struct hv_msix_vector *v = &m->v[vector];
    if (!hv_msix_enabled(m) || (v->ctrl & 1))
        v->pending = true;
    else
        fire(v);
    pthread_mutex_unlock(&m->lock);
}

void hv_msix_reset(struct hv_msix *m)
{
    pthread_mutex_lock(&m->lock);
    uint16_t c = (uint16_t)(m->nr - 1);
    memcpy(m->dev->cfg + m->cap + 2, &c, 2);
    for (unsigned i = 0; i < m->nr; i++) {
        m->v[i].addr = 0;
        m->v[i].data = 0;
        m->v[i].ctrl = 1;
        m->v[i].pending = false;
        update(m, i);
    }
    pthread_mutex_unlock(&m->lock);
}
