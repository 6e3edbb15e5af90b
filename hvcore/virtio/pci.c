/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The virtio 1.x PCI transport: capabilities, common config, notify, ISR, device config. */
#include "virtio/virtio.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/fd-watch.h"
#include "kvm/irq.h"
#include "kvm/vm.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040

/* Vendor capability types (virtio 1.x, 4.1.4). */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* One 16 KiB 64-bit BAR holds the four regions; MSI-X has a BAR of its own. */
#define REGS_BAR 4
#define MSIX_BAR 1
#define REGS_SIZE 0x4000
#define COMMON_OFF 0x0000
#define ISR_OFF 0x1000
#define DEVICE_OFF 0x2000
#define NOTIFY_OFF 0x3000
#define NOTIFY_MULT 4

/* Common configuration layout. */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX 0x10
#define C_NUMQ 0x12
#define C_STATUS 0x14
#define C_CFGGEN 0x15
#define C_QSELECT 0x16
#define C_QSIZE 0x18
#define C_QMSIX 0x1a
#define C_QENABLE 0x1c
#define C_QNOFF 0x1e
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30
#define C_SIZE 0x38

static uint64_t transport_features(void)
{
    return (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) |
           (1ull << VIRTIO_F_EVENT_IDX);
}

bool hv_virtio_has_feature(const struct hv_virtio_dev *dev, unsigned bit)
{
    return dev->guest_features & (1ull << bit);
}

int hv_virtio_kick_fd(const struct hv_virtio_dev *dev, unsigned q)
{
    return dev->queues[q].kick_fd;
}

static void raise_interrupt(struct hv_virtio_dev *dev, uint16_t vector, uint8_t isr_bit)
{
    if (hv_msix_enabled(&dev->msix)) {
        if (vector != HV_MSIX_NO_VECTOR)
            hv_msix_notify(&dev->msix, vector);
        return;
    }
    pthread_mutex_lock(&dev->lock);
    dev->isr |= isr_bit;
    pthread_mutex_unlock(&dev->lock);
    hv_pci_set_intx(&dev->pci, true);
}

void hv_virtio_notify(struct hv_virtio_dev *dev, unsigned q)
{
    struct hv_virtio_queue *vq = &dev->queues[q];
    if (dev->broken || !hv_virtq_should_notify(&vq->vq))
        return;
    raise_interrupt(dev, vq->vq.msix_vector, 1);
}

void hv_virtio_config_changed(struct hv_virtio_dev *dev)
{
    pthread_mutex_lock(&dev->lock);
    dev->config_generation++;
    pthread_mutex_unlock(&dev->lock);
    raise_interrupt(dev, dev->msix_config, 2);
}

void hv_virtio_fail(struct hv_virtio_dev *dev, const char *why)
{
    pthread_mutex_lock(&dev->lock);
    bool first = !dev->broken;
    dev->broken = true;
    dev->status |= VIRTIO_STATUS_NEEDS_RESET;
    pthread_mutex_unlock(&dev->lock);
    if (first) {
        fprintf(stderr, "vmdesk-vmm: %s (PCI slot %u): guest driver error: %s; device needs "
                        "a reset\n", dev->ops->name, dev->pci.slot, why);
        hv_virtio_config_changed(dev);
        if (dev->on_error)
            dev->on_error(dev->on_error_ctx, dev->on_error_id, why);
    }
}

/* ---- queue kicks: ioeventfd -> main loop -> device ---- */

static gboolean on_kick(gint fd, GIOCondition cond, gpointer opaque)
{
    struct hv_virtio_queue *q = opaque;
    (void)cond;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof(v));
    (void)n;
    struct hv_virtio_dev *dev = q->dev;
    pthread_mutex_lock(&dev->queue_lock);
    if (!dev->broken && q->vq.enabled && (dev->status & VIRTIO_STATUS_DRIVER_OK))
        dev->ops->queue_notify(dev, q->index);
    pthread_mutex_unlock(&dev->queue_lock);
    return G_SOURCE_CONTINUE;
}

static uint64_t notify_addr(struct hv_virtio_dev *dev, unsigned q)
{
    return dev->pci.bars[REGS_BAR].mapped + NOTIFY_OFF + NOTIFY_MULT * dev->queues[q].notify_off;
}

static void bar_moved(struct hv_pci_dev *pci, unsigned bar, uint64_t old, uint64_t new_addr)
{
    struct hv_virtio_dev *dev = pci->opaque;
    if (bar != REGS_BAR)
        return;
    for (unsigned q = 0; q < dev->ops->nr_queues; q++) {
        uint64_t off = NOTIFY_OFF + NOTIFY_MULT * dev->queues[q].notify_off;
        if (old)
            hv_ioeventfd_remove(dev->vm, dev->queues[q].kick_fd, old + off, 2);
        if (new_addr)
            hv_ioeventfd_add(dev->vm, dev->queues[q].kick_fd, new_addr + off, 2);
    }
}

static void config_written(struct hv_pci_dev *pci, unsigned offset, unsigned len)
{
    struct hv_virtio_dev *dev = pci->opaque;
    hv_msix_config_written(&dev->msix, offset, len);
}

static const struct hv_pci_dev_ops pci_ops = {
    .config_written = config_written,
    .bar_moved = bar_moved,
};

/* ---- status changes ---- */

static void reset_locked(struct hv_virtio_dev *dev)
{
    dev->status = 0;
    dev->guest_features = 0;
    dev->dfselect = dev->gfselect = 0;
    dev->msix_config = HV_MSIX_NO_VECTOR;
    dev->queue_select = 0;
    dev->isr = 0;
    dev->broken = false;
    for (unsigned q = 0; q < dev->ops->nr_queues; q++) {
        hv_virtq_reset(&dev->queues[q].vq);
        dev->queues[q].vq.size = dev->ops->queue_size;
        dev->queues[q].vq.msix_vector = HV_MSIX_NO_VECTOR;
    }
}

static void device_reset(struct hv_virtio_dev *dev)
{
    /*
     * DRIVER_OK off first, under queue_lock: from here on no kick reaches the device, so
     * nothing new is taken from the rings while its reset waits for what is in flight
     * (before, a kick in that window started requests whose answers then went to the
     * cleared rings).
     */
    pthread_mutex_lock(&dev->queue_lock);
    pthread_mutex_lock(&dev->lock);
    dev->status &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
    pthread_mutex_unlock(&dev->lock);
    pthread_mutex_unlock(&dev->queue_lock);
    /* Not under queue_lock: a device may wait here for I/O another thread completes. */
    if (dev->ops->reset)
        dev->ops->reset(dev);
    pthread_mutex_lock(&dev->queue_lock);
    pthread_mutex_lock(&dev->lock);
    reset_locked(dev);
    pthread_mutex_unlock(&dev->lock);
    pthread_mutex_unlock(&dev->queue_lock);
    hv_pci_set_intx(&dev->pci, false);
}

void hv_virtio_reset(struct hv_virtio_dev *dev)
{
    device_reset(dev);
    hv_msix_reset(&dev->msix);
}

/* DRIVER_OK: map every enabled queue; a bad ring fails the device, not the VM. */
static void activate(struct hv_virtio_dev *dev)
{
    bool indirect = hv_virtio_has_feature(dev, VIRTIO_F_INDIRECT_DESC);
    bool event_idx = hv_virtio_has_feature(dev, VIRTIO_F_EVENT_IDX);
    /* DRIVER_OK is already visible to on_kick: keep it off the rings until they are mapped. */
    pthread_mutex_lock(&dev->queue_lock);
    for (unsigned q = 0; q < dev->ops->nr_queues; q++) {
        struct hv_virtq *vq = &dev->queues[q].vq;
        if (!vq->enabled)
            continue;
        const char *why = NULL;
        if (hv_virtq_start(vq, dev->mem, indirect, event_idx, &why) < 0) {
            vq->enabled = false;
            pthread_mutex_unlock(&dev->queue_lock);
            char msg[128];
            snprintf(msg, sizeof(msg), "queue %u: %s", q, why);
            hv_virtio_fail(dev, msg);
            return;
        }
    }
    pthread_mutex_unlock(&dev->queue_lock);
    if (dev->ops->activate)
        dev->ops->activate(dev);
    /*
     * Drivers may fill a queue and kick it before DRIVER_OK (Linux's balloon primes its
     * stats queue so), and on_kick ignored those: look at every queue once, on the loop.
     */
    for (unsigned q = 0; q < dev->ops->nr_queues; q++) {
        uint64_t one = 1;
        if (dev->queues[q].vq.enabled && write(dev->queues[q].kick_fd, &one, sizeof(one)) < 0)
            g_debug("virtio: re-kick of queue %u: %s", q, g_strerror(errno));
    }
}

static void write_status(struct hv_virtio_dev *dev, uint8_t status)
{
    if (status == 0) {
        device_reset(dev);
        return;
    }
    pthread_mutex_lock(&dev->lock);
    uint8_t old = dev->status;
    if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
        /* Features the device never offered, or a legacy driver: refuse FEATURES_OK. */
        if ((dev->guest_features & ~dev->host_features) ||
            !(dev->guest_features & (1ull << VIRTIO_F_VERSION_1)))
            status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    }
    dev->status = (uint8_t)(status | (old & VIRTIO_STATUS_NEEDS_RESET));
    bool start = (status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK);
    pthread_mutex_unlock(&dev->lock);
    if (start)
        activate(dev);
}

/* ---- the register BAR ---- */

static uint64_t common_read(struct hv_virtio_dev *dev, unsigned off)
{
    struct hv_virtq *q = dev->queue_select < dev->ops->nr_queues
                             ? &dev->queues[dev->queue_select].vq : NULL;
    switch (off) {
    case C_DFSELECT: return dev->dfselect;
    case C_DF:
        return dev->dfselect < 2 ? (uint32_t)(dev->host_features >> (32 * dev->dfselect)) : 0;
    case C_GFSELECT: return dev->gfselect;
    case C_GF:
        return dev->gfselect < 2 ? (uint32_t)(dev->guest_features >> (32 * dev->gfselect)) : 0;
    case C_MSIX: return dev->msix_config;
    case C_NUMQ: return dev->ops->nr_queues;
    case C_STATUS: return dev->status;
    case C_CFGGEN: return dev->config_generation;
    case C_QSELECT: return dev->queue_select;
    case C_QSIZE: return q ? q->size : 0;
    case C_QMSIX: return q ? q->msix_vector : HV_MSIX_NO_VECTOR;
    case C_QENABLE: return q ? q->enabled : 0;
    case C_QNOFF: return q ? dev->queues[dev->queue_select].notify_off : 0;
    case C_QDESC: return q ? q->desc_gpa : 0;
    case C_QDRIVER: return q ? q->avail_gpa : 0;
    case C_QDEVICE: return q ? q->used_gpa : 0;
    default: return 0;
    }
}

/* Field widths, so a 32-bit access to half of a 64-bit address works. */
static unsigned field_of(unsigned off, unsigned *base)
{
    static const struct {
        unsigned off, len;
    } fields[] = {
        {C_DFSELECT, 4}, {C_DF, 4}, {C_GFSELECT, 4}, {C_GF, 4}, {C_MSIX, 2}, {C_NUMQ, 2},
        {C_STATUS, 1}, {C_CFGGEN, 1}, {C_QSELECT, 2}, {C_QSIZE, 2}, {C_QMSIX, 2},
        {C_QENABLE, 2}, {C_QNOFF, 2}, {C_QDESC, 8}, {C_QDRIVER, 8}, {C_QDEVICE, 8},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (off >= fields[i].off && off < fields[i].off + fields[i].len) {
            *base = fields[i].off;
            return fields[i].len;
        }
    }
    return 0;
}

static void common_write(struct hv_virtio_dev *dev, unsigned off, unsigned len, uint64_t val)
{
    unsigned base;
    unsigned flen = field_of(off, &base);
    if (!flen || off + len > base + flen)
        return;
    struct hv_virtq *q = dev->queue_select < dev->ops->nr_queues
                             ? &dev->queues[dev->queue_select].vq : NULL;
    /* Ring addresses may be written in two 32-bit halves. */
    if (flen == 8 && q) {
        uint64_t *dst = base == C_QDESC ? &q->desc_gpa : base == C_QDRIVER ? &q->avail_gpa
                                                                           : &q->used_gpa;
        if (q->enabled)
            return;
        unsigned shift = 8 * (off - base);
        uint64_t mask = (len == 8 ? ~0ull : ((1ull << (8 * len)) - 1)) << shift;
        *dst = (*dst & ~mask) | ((val << shift) & mask);
        return;
    }
    switch (base) {
    case C_DFSELECT: dev->dfselect = (uint32_t)val; break;
    case C_GFSELECT: dev->gfselect = (uint32_t)val; break;
    case C_GF:
        if (dev->gfselect < 2 && !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned shift = 32 * dev->gfselect;
            dev->guest_features = (dev->guest_features & ~(0xffffffffull << shift)) |
                                  ((uint64_t)(uint32_t)val << shift);
        }
        break;
    case C_MSIX:
        dev->msix_config = (uint16_t)val < dev->msix.nr ? (uint16_t)val : HV_MSIX_NO_VECTOR;
        break;
    case C_QSELECT: dev->queue_select = (uint16_t)val; break;
    case C_QSIZE:
        /* Any power of two up to the maximum; anything else fails at DRIVER_OK. */
        if (q && !q->enabled && (uint16_t)val <= dev->ops->queue_size)
            q->size = (uint16_t)val;
        break;
    case C_QMSIX:
        if (q)
            q->msix_vector = (uint16_t)val < dev->msix.nr ? (uint16_t)val : HV_MSIX_NO_VECTOR;
        break;
    case C_QENABLE:
        if (q && val == 1)
            q->enabled = true;
        break;
    default: break;
    }
}

static void regs_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct hv_virtio_dev *dev = opaque;
    uint64_t v = 0;
    if (offset < COMMON_OFF + C_SIZE) {
        unsigned off = (unsigned)(offset - COMMON_OFF), base;
        pthread_mutex_lock(&dev->lock);
        if (field_of(off, &base))
            v = common_read(dev, base) >> (8 * (off - base));
        pthread_mutex_unlock(&dev->lock);
    } else if (offset == ISR_OFF) {
        /* Reading the ISR acknowledges it and drops the INTx line. */
        pthread_mutex_lock(&dev->lock);
        v = dev->isr;
        dev->isr = 0;
        pthread_mutex_unlock(&dev->lock);
        hv_pci_set_intx(&dev->pci, false);
    } else if (offset >= DEVICE_OFF && offset < DEVICE_OFF + dev->ops->config_size) {
        unsigned off = (unsigned)(offset - DEVICE_OFF);
        if (off + len <= dev->ops->config_size && dev->ops->config_read)
            dev->ops->config_read(dev, off, &v, len);
    }
    memcpy(data, &v, len);
}

static void regs_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct hv_virtio_dev *dev = opaque;
    uint64_t v = 0;
    memcpy(&v, data, len);
    if (offset < COMMON_OFF + C_SIZE) {
        unsigned off = (unsigned)(offset - COMMON_OFF);
        if (off == C_STATUS && len == 1) {
            write_status(dev, (uint8_t)v);
            return;
        }
        pthread_mutex_lock(&dev->lock);
        common_write(dev, off, len, v);
        pthread_mutex_unlock(&dev->lock);
    } else if (offset >= NOTIFY_OFF && offset < NOTIFY_OFF + NOTIFY_MULT * dev->ops->nr_queues) {
        /* Reached only while no ioeventfd covers the address (e.g. during BAR moves). */
        unsigned q = (unsigned)(offset - NOTIFY_OFF) / NOTIFY_MULT;
        uint64_t one = 1;
        ssize_t n = write(dev->queues[q].kick_fd, &one, sizeof(one));
        (void)n;
    } else if (offset >= DEVICE_OFF && offset < DEVICE_OFF + dev->ops->config_size) {
        unsigned off = (unsigned)(offset - DEVICE_OFF);
        if (off + len <= dev->ops->config_size && dev->ops->config_write)
            dev->ops->config_write(dev, off, data, len);
    }
}

static const struct hv_io_ops regs_ops = {.read = regs_read, .write = regs_write};

static void add_vendor_cap(struct hv_virtio_dev *dev, uint8_t type, uint32_t offset,
                           uint32_t length, bool notify)
{
    unsigned len = notify ? 20 : 16;
    unsigned c = hv_pci_dev_add_cap(&dev->pci, PCI_CAP_ID_VNDR, len);
    uint8_t *p = dev->pci.cfg + c;
    p[2] = (uint8_t)len;
    p[3] = type;
    p[4] = REGS_BAR;
    memcpy(p + 8, &offset, 4);
    memcpy(p + 12, &length, 4);
    if (notify) {
        uint32_t mult = NOTIFY_MULT;
        memcpy(p + 16, &mult, 4);
    }
}

int hv_virtio_init(struct hv_virtio_dev *dev, const struct hv_virtio_ops *ops, void *opaque,
                   struct hv_vm *vm, const struct hv_memory *mem)
{
    memset(dev, 0, sizeof(*dev));
    if (ops->nr_queues > HV_VIRTIO_MAX_QUEUES || ops->config_size > ISR_OFF)
        return -EINVAL;
    dev->ops = ops;
    dev->opaque = opaque;
    dev->vm = vm;
    dev->mem = mem;
    pthread_mutex_init(&dev->lock, NULL);
    /* Recursive: a kick's handler may make a backend deliver (net RX) on the same thread. */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&dev->queue_lock, &attr);
    pthread_mutexattr_destroy(&attr);
    dev->host_features = transport_features() | (ops->features ? ops->features(dev) : 0);

    /* Class codes as QEMU gives them, which guests' drivers do not care about. */
    uint32_t class_code = ops->device_id == VIRTIO_ID_NET ? 0x020000
                        : ops->device_id == VIRTIO_ID_BLOCK ? 0x010000 : 0xff0000;
    hv_pci_dev_init(&dev->pci, ops->name, VIRTIO_PCI_VENDOR,
                    VIRTIO_PCI_DEVICE_BASE + ops->device_id, class_code, VIRTIO_PCI_VENDOR,
                    0x40);
    dev->pci.cfg[PCI_REVISION] = 1;
    dev->pci.ops = &pci_ops;
    dev->pci.opaque = dev;
    hv_pci_dev_set_bar(&dev->pci, REGS_BAR, REGS_SIZE, true, &regs_ops, dev);
    add_vendor_cap(dev, CAP_COMMON, COMMON_OFF, C_SIZE, false);
    add_vendor_cap(dev, CAP_ISR, ISR_OFF, 1, false);
    add_vendor_cap(dev, CAP_DEVICE, DEVICE_OFF, (uint32_t)MAX(ops->config_size, 4), false);
    add_vendor_cap(dev, CAP_NOTIFY, NOTIFY_OFF, NOTIFY_MULT * ops->nr_queues, true);
    /* One vector per queue and one for configuration changes. */
    int r = hv_msix_init(&dev->msix, &dev->pci, vm, ops->nr_queues + 1, MSIX_BAR);
    if (r < 0)
        return r;

    for (unsigned q = 0; q < ops->nr_queues; q++) {
        struct hv_virtio_queue *vq = &dev->queues[q];
        vq->dev = dev;
        vq->index = q;
        vq->notify_off = (uint16_t)q;
        vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vq->kick_fd < 0)
            return -errno;
        if (!ops->own_kicks)
            vq->kick_watch = hv_fd_watch_add(vq->kick_fd, on_kick, vq);
    }
    reset_locked(dev);
    return 0;
}

int hv_virtio_add(struct hv_virtio_dev *dev, struct hv_pci *pci)
{
    int r = hv_msix_attach(&dev->msix);
    if (r == 0)
        r = hv_pci_add(pci, &dev->pci);
    return r;
}

void hv_virtio_destroy(struct hv_virtio_dev *dev)
{
    for (unsigned q = 0; dev->ops && q < dev->ops->nr_queues; q++) {
        struct hv_virtio_queue *vq = &dev->queues[q];
        if (vq->kick_watch)
            g_source_remove(vq->kick_watch);
        if (vq->kick_fd > 0) {
            if (dev->pci.bars[REGS_BAR].mapped)
                hv_ioeventfd_remove(dev->vm, vq->kick_fd, notify_addr(dev, q), 2);
            close(vq->kick_fd);
        }
    }
    hv_msix_destroy(&dev->msix);
    pthread_mutex_destroy(&dev->lock);
    pthread_mutex_destroy(&dev->queue_lock);
}
