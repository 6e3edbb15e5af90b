/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Guest notifications without a vCPU exit: GSI routing, MSI routes, irqfd and ioeventfd. */
#include "kvm/irq.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm/vm.h"

/*
 * KVM_SET_GSI_ROUTING replaces the whole table, so the VMM keeps the table here and
 * sends all of it on every change. Changes are rare (a guest programming MSI-X).
 */
struct hv_msi_route {
    bool used;
    bool active;
    uint64_t addr;
    uint32_t data;
};

struct hv_fd_binding {
    int fd;
    uint64_t key;   /* GSI for irqfds, address for ioeventfds */
    unsigned len;
};

struct hv_irq_state {
    pthread_mutex_t lock;
    struct hv_msi_route *msi; /* indexed by gsi - HV_IOAPIC_PINS */
    unsigned nr_msi;
    GArray *irqfds;     /* struct hv_fd_binding */
    GArray *ioeventfds; /* struct hv_fd_binding */
};

static int commit_routes(struct hv_vm *vm)
{
    struct hv_irq_state *s = vm->irq;
    unsigned max = 16 + HV_IOAPIC_PINS + s->nr_msi;
    struct kvm_irq_routing *r = g_malloc0(sizeof(*r) + max * sizeof(r->entries[0]));
    unsigned n = 0;
    for (unsigned gsi = 0; gsi < HV_IOAPIC_PINS; gsi++) {
        if (gsi < 16 && gsi != 2) {
            r->entries[n++] = (struct kvm_irq_routing_entry){
                .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
                .u.irqchip = {.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                              .pin = gsi % 8}};
        }
        r->entries[n++] = (struct kvm_irq_routing_entry){
            .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi}};
    }
    for (unsigned i = 0; i < s->nr_msi; i++) {
        if (!s->msi[i].used || !s->msi[i].active)
            continue;
        r->entries[n++] = (struct kvm_irq_routing_entry){
            .gsi = HV_IOAPIC_PINS + i, .type = KVM_IRQ_ROUTING_MSI,
            .u.msi = {.address_lo = (uint32_t)s->msi[i].addr,
                      .address_hi = (uint32_t)(s->msi[i].addr >> 32),
                      .data = s->msi[i].data}};
    }
    r->nr = n;
    int ret = ioctl(vm->fd, KVM_SET_GSI_ROUTING, r) < 0 ? -errno : 0;
    g_free(r);
    return ret;
}

int hv_irq_init(struct hv_vm *vm)
{
    struct hv_irq_state *s = g_new0(struct hv_irq_state, 1);
    pthread_mutex_init(&s->lock, NULL);
    s->irqfds = g_array_new(FALSE, FALSE, sizeof(struct hv_fd_binding));
    s->ioeventfds = g_array_new(FALSE, FALSE, sizeof(struct hv_fd_binding));
    vm->irq = s;
    return commit_routes(vm);
}

static int irqfd(struct hv_vm *vm, int fd, unsigned gsi, bool remove)
{
    struct kvm_irqfd req = {.fd = (uint32_t)fd, .gsi = gsi,
                            .flags = remove ? KVM_IRQFD_FLAG_DEASSIGN : 0};
    return ioctl(vm->fd, KVM_IRQFD, &req) < 0 ? -errno : 0;
}

static int ioeventfd(struct hv_vm *vm, int fd, uint64_t addr, unsigned len, bool remove)
{
    struct kvm_ioeventfd req = {.addr = addr, .len = len, .fd = fd,
                                .flags = remove ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0};
    return ioctl(vm->fd, KVM_IOEVENTFD, &req) < 0 ? -errno : 0;
}

int hv_irq_reattach(struct hv_vm *vm)
{
    struct hv_irq_state *s = vm->irq;
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    int r = commit_routes(vm);
    for (unsigned i = 0; r == 0 && i < s->irqfds->len; i++) {
        struct hv_fd_binding *b = &g_array_index(s->irqfds, struct hv_fd_binding, i);
        r = irqfd(vm, b->fd, (unsigned)b->key, false);
    }
    for (unsigned i = 0; r == 0 && i < s->ioeventfds->len; i++) {
        struct hv_fd_binding *b = &g_array_index(s->ioeventfds, struct hv_fd_binding, i);
        r = ioeventfd(vm, b->fd, b->key, b->len, false);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

void hv_irq_destroy(struct hv_vm *vm)
{
    struct hv_irq_state *s = vm->irq;
    if (!s)
        return;
    g_array_free(s->irqfds, TRUE);
    g_array_free(s->ioeventfds, TRUE);
    g_free(s->msi);
    pthread_mutex_destroy(&s->lock);
    g_free(s);
    vm->irq = NULL;
}

int hv_msi_alloc(struct hv_vm *vm)
{
    struct hv_irq_state *s = vm->irq;
    pthread_mutex_lock(&s->lock);
    unsigned i;
    for (i = 0; i < s->nr_msi && s->msi[i].used; i++)
        ;
    if (i == s->nr_msi) {
        if (s->nr_msi >= 1024) {
            pthread_mutex_unlock(&s->lock);
            return -ENOSPC;
        }
        s->msi = g_renew(struct hv_msi_route, s->msi, s->nr_msi + 1);
        s->nr_msi++;
    }
    s->msi[i] = (struct hv_msi_route){.used = true};
    pthread_mutex_unlock(&s->lock);
    return HV_IOAPIC_PINS + (int)i;
}

int hv_msi_set(struct hv_vm *vm, unsigned gsi, uint64_t addr, uint32_t data, bool masked)
{
    struct hv_irq_state *s = vm->irq;
    if (gsi < HV_IOAPIC_PINS)
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    unsigned i = gsi - HV_IOAPIC_PINS;
    int r = 0;
    if (i >= s->nr_msi || !s->msi[i].used) {
        r = -EINVAL;
    } else if (s->msi[i].active != !masked || s->msi[i].addr != addr ||
               s->msi[i].data != data) {
        s->msi[i].active = !masked;
        s->msi[i].addr = addr;
        s->msi[i].data = data;
        r = commit_routes(vm);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static int track(GArray *a, int fd, uint64_t key, unsigned len, bool remove)
{
    for (unsigned i = 0; i < a->len; i++) {
        struct hv_fd_binding *b = &g_array_index(a, struct hv_fd_binding, i);
        if (b->fd == fd && b->key == key) {
            if (remove)
                g_array_remove_index_fast(a, i);
            return 0;
        }
    }
    if (remove)
        return -ENOENT;
    struct hv_fd_binding b = {.fd = fd, .key = key, .len = len};
    g_array_append_val(a, b);
    return 0;
}

int hv_irqfd_add(struct hv_vm *vm, int fd, unsigned gsi)
{
    struct hv_irq_state *s = vm->irq;
    pthread_mutex_lock(&s->lock);
    int r = irqfd(vm, fd, gsi, false);
    if (r == 0)
        track(s->irqfds, fd, gsi, 0, false);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int hv_irqfd_remove(struct hv_vm *vm, int fd, unsigned gsi)
{
    struct hv_irq_state *s = vm->irq;
    pthread_mutex_lock(&s->lock);
    int r = irqfd(vm, fd, gsi, true);
    track(s->irqfds, fd, gsi, 0, true);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int hv_ioeventfd_add(struct hv_vm *vm, int fd, uint64_t addr, unsigned len)
{
    struct hv_irq_state *s = vm->irq;
    pthread_mutex_lock(&s->lock);
    int r = ioeventfd(vm, fd, addr, len, false);
    if (r == 0)
        track(s->ioeventfds, fd, addr, len, false);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int hv_ioeventfd_remove(struct hv_vm *vm, int fd, uint64_t addr, unsigned len)
{
    struct hv_irq_state *s = vm->irq;
    pthread_mutex_lock(&s->lock);
    int r = ioeventfd(vm, fd, addr, len, true);
    track(s->ioeventfds, fd, addr, len, true);
    pthread_mutex_unlock(&s->lock);
    return r;
}
