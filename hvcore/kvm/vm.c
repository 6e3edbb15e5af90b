/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A KVM virtual machine: its fd, memory slots and in-kernel interrupt controllers. */
#include "kvm/vm.h"

#include "kvm/irq.h"

#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * KVM on Intel needs three pages for the real-mode TSS and one for the identity map,
 * somewhere in guest-physical space that nothing else uses: just below the firmware
 * area at the top of the hole (where QEMU puts them too).
 */
#define HV_TSS_ADDR 0xfeffd000ULL
#define HV_IDENTITY_MAP_ADDR 0xfeffc000ULL

static int set_slot(struct hv_vm *vm, unsigned index, char **err)
{
    const struct hv_slot *s = &vm->slots[index];
    struct kvm_userspace_memory_region region = {
        .slot = index,
        .flags = (s->readonly ? KVM_MEM_READONLY : 0) |
                 (s->log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0),
        .guest_phys_addr = s->gpa,
        .memory_size = s->size,
        .userspace_addr = (uintptr_t)s->hva,
    };
    /* An unmapped movable slot has nothing in KVM (KVM refuses to delete a missing one). */
    if (s->log_dirty && s->gpa == 0)
        return 0;
    if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        int e = errno;
        *err = g_strdup_printf("cannot map guest memory at 0x%llx (%llu KiB): %s",
                               (unsigned long long)s->gpa,
                               (unsigned long long)(s->size >> 10), g_strerror(e));
        return -e;
    }
    return 0;
}

/* Longs in a slot's dirty bitmap: KVM's bitmap has one bit a page, rounded up to longs. */
static size_t dirty_longs(const struct hv_slot *s)
{
    const size_t bits = 8 * sizeof(unsigned long);
    return ((s->size >> 12) + bits - 1) / bits;
}

/*
 * KVM drops a slot's dirty bitmap with the slot: move what it has logged into the slot's
 * carried bits first. If KVM cannot say, every page counts as written.
 */
static void carry_dirty_log(struct hv_vm *vm, unsigned index)
{
    struct hv_slot *s = &vm->slots[index];
    if (!s->log_dirty || s->gpa == 0 || vm->fd < 0)
        return;
    size_t n = dirty_longs(s);
    g_autofree unsigned long *now = g_new0(unsigned long, n);
    struct kvm_dirty_log log = {.slot = index, .dirty_bitmap = now};
    if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) < 0)
        memset(now, 0xff, n * sizeof(*now));
    for (size_t i = 0; i < n; i++)
        s->carried[i] |= now[i];
}

/* A failure costs speed only: the writes then exit one by one. */
static void register_coalesced(struct hv_vm *vm, unsigned i)
{
    struct kvm_coalesced_mmio_zone zone = {
        .addr = vm->coalesced[i].port, .size = vm->coalesced[i].size, .pio = 1};
    if (vm->host && vm->host->coalesced_page && vm->fd >= 0)
        ioctl(vm->fd, KVM_REGISTER_COALESCED_MMIO, &zone);
}

void hv_vm_coalesce_pio(struct hv_vm *vm, uint16_t port, uint16_t size)
{
    if (vm->nr_coalesced == G_N_ELEMENTS(vm->coalesced))
        return;
    vm->coalesced[vm->nr_coalesced].port = port;
    vm->coalesced[vm->nr_coalesced].size = size;
    register_coalesced(vm, vm->nr_coalesced++);
}

static int create_kvm_vm(struct hv_vm *vm, char **err)
{
    vm->fd = ioctl(vm->host->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->fd < 0) {
        int e = errno;
        *err = g_strdup_printf("cannot create a KVM virtual machine: %s", g_strerror(e));
        return -e;
    }
    uint64_t ident = HV_IDENTITY_MAP_ADDR;
    if (ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0 ||
        ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)HV_TSS_ADDR) < 0) {
        int e = errno;
        *err = g_strdup_printf("cannot set KVM's TSS address: %s", g_strerror(e));
        goto fail;
    }
    if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        int e = errno;
        *err = g_strdup_printf("cannot create KVM's in-kernel irqchip: %s", g_strerror(e));
        goto fail;
    }
    /* The dummy speaker lets the kernel answer port 0x61 too, without an exit. */
    struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
    if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0) {
        int e = errno;
        *err = g_strdup_printf("cannot create KVM's in-kernel PIT: %s", g_strerror(e));
        goto fail;
    }
    for (unsigned i = 0; i < vm->nr_coalesced; i++)
        register_coalesced(vm, i);
    for (unsigned i = 0; i < vm->nr_slots; i++) {
        int r = set_slot(vm, i, err);
        if (r < 0) {
            close(vm->fd);
            vm->fd = -1;
            return r;
        }
    }
    return 0;
fail:
    close(vm->fd);
    vm->fd = -1;
    return -ENOTSUP;
}

int hv_vm_init(struct hv_vm *vm, const struct hv_host *host, char **err)
{
    memset(vm, 0, sizeof(*vm));
    vm->host = host;
    vm->fd = -1;
    pthread_mutex_init(&vm->lock, NULL);
    pthread_cond_init(&vm->cond, NULL);
    pthread_mutex_init(&vm->ring_lock, NULL);
    /* The ring fills the rest of its page after its two indices. */
    vm->ring_max = (sysconf(_SC_PAGESIZE) - sizeof(struct kvm_coalesced_mmio_ring)) /
                   sizeof(struct kvm_coalesced_mmio);
    vm->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (vm->event_fd < 0) {
        int e = errno;
        *err = g_strdup_printf("cannot create an eventfd: %s", g_strerror(e));
        return -e;
    }
    int r = create_kvm_vm(vm, err);
    if (r == 0 && (r = hv_irq_init(vm)) < 0)
        *err = g_strdup_printf("cannot set up KVM's interrupt routing: %s", g_strerror(-r));
    if (r < 0) {
        hv_irq_destroy(vm);
        if (vm->fd >= 0)
            close(vm->fd);
        vm->fd = -1;
        close(vm->event_fd);
        vm->event_fd = -1;
    }
    return r;
}

int hv_vm_add_slot(struct hv_vm *vm, uint64_t gpa, uint64_t size, void *hva, bool readonly,
                   char **err)
{
    if (vm->nr_slots == HV_MAX_SLOTS) {
        *err = g_strdup("too many guest memory regions");
        return -ENOSPC;
    }
    if (readonly && !vm->host->readonly_mem) {
        *err = g_strdup("the host's KVM lacks KVM_CAP_READONLY_MEM, needed for --firmware");
        return -ENOTSUP;
    }
    unsigned index = vm->nr_slots;
    vm->slots[index] = (struct hv_slot){.gpa = gpa, .size = size, .hva = hva,
                                        .readonly = readonly};
    int r = set_slot(vm, index, err);
    if (r == 0)
        vm->nr_slots++;
    return r;
}

int hv_vm_add_dirty_slot(struct hv_vm *vm, uint64_t gpa, uint64_t size, void *hva, char **err)
{
    if (vm->nr_slots == HV_MAX_SLOTS) {
        *err = g_strdup("too many guest memory regions");
        return -ENOSPC;
    }
    unsigned index = vm->nr_slots;
    vm->slots[index] = (struct hv_slot){.gpa = gpa, .size = size, .hva = hva,
                                        .log_dirty = true};
    int r = set_slot(vm, index, err);
    if (r < 0)
        return r;
    vm->slots[index].carried = g_new0(unsigned long, dirty_longs(&vm->slots[index]));
    vm->nr_slots++;
    return (int)index;
}

int hv_vm_move_slot(struct hv_vm *vm, unsigned index, uint64_t gpa)
{
    if (index >= vm->nr_slots || !vm->slots[index].log_dirty)
        return -EINVAL;
    struct hv_slot *s = &vm->slots[index];
    if (s->gpa == gpa)
        return 0;
    if (s->gpa) {
        /* KVM moves a slot only as delete and re-create, and forgets its log on delete. */
        carry_dirty_log(vm, index);
        struct kvm_userspace_memory_region del = {.slot = index, .memory_size = 0,
                                                  .guest_phys_addr = s->gpa,
                                                  .userspace_addr = (uintptr_t)s->hva};
        if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &del) < 0)
            return -errno;
        s->gpa = 0;
    }
    s->gpa = gpa;
    char *err = NULL;
    int r = set_slot(vm, index, &err);
    if (r < 0) {
        g_free(err);
        s->gpa = 0;
    }
    return r;
}

int hv_vm_get_dirty_log(struct hv_vm *vm, unsigned index, unsigned long *bitmap)
{
    if (index >= vm->nr_slots || !vm->slots[index].log_dirty)
        return -EINVAL;
    struct hv_slot *s = &vm->slots[index];
    size_t n = dirty_longs(s);
    if (s->gpa == 0) {
        memset(bitmap, 0, n * sizeof(*bitmap));
    } else {
        /* Without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 the get also clears KVM's bits. */
        struct kvm_dirty_log log = {.slot = index, .dirty_bitmap = bitmap};
        if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) < 0)
            return -errno;
    }
    for (size_t i = 0; i < n; i++) {
        bitmap[i] |= s->carried[i];
        s->carried[i] = 0;
    }
    return 0;
}

int hv_vm_recreate(struct hv_vm *vm, char **err)
{
    hv_vcpus_destroy(vm);
    for (unsigned i = 0; i < vm->nr_slots; i++)
        carry_dirty_log(vm, i);
    if (vm->fd >= 0)
        close(vm->fd);
    vm->fd = -1;
    hv_vm_clear_request(vm);
    int r = create_kvm_vm(vm, err);
    if (r == 0 && (r = hv_irq_reattach(vm)) < 0)
        *err = g_strdup_printf("cannot restore interrupt routing after a reset: %s",
                               g_strerror(-r));
    return r;
}

void hv_vm_destroy(struct hv_vm *vm)
{
    hv_vcpus_destroy(vm);
    if (vm->fd >= 0)
        close(vm->fd);
    vm->fd = -1;
    if (vm->event_fd >= 0)
        close(vm->event_fd);
    vm->event_fd = -1;
    g_free(vm->crash_msg);
    vm->crash_msg = NULL;
    hv_irq_destroy(vm);
    hv_iobus_clear(&vm->pio);
    hv_iobus_clear(&vm->mmio);
    for (unsigned i = 0; i < vm->nr_slots; i++) {
        g_free(vm->slots[i].carried);
        vm->slots[i].carried = NULL;
    }
    pthread_mutex_destroy(&vm->lock);
    pthread_cond_destroy(&vm->cond);
    pthread_mutex_destroy(&vm->ring_lock);
}

void hv_vm_set_irq(struct hv_vm *vm, unsigned gsi, int level)
{
    struct kvm_irq_level irq = {.irq = gsi, .level = level ? 1 : 0};
    /* A failure here means the VM fd is being torn down for a reset: nothing to do. */
    (void)ioctl(vm->fd, KVM_IRQ_LINE, &irq);
}

void hv_vm_request(struct hv_vm *vm, enum hv_vm_request req, char *crash_msg)
{
    int expected = HV_REQ_NONE;
    if (atomic_compare_exchange_strong(&vm->request, &expected, (int)req)) {
        vm->crash_msg = crash_msg;
        uint64_t one = 1;
        ssize_t n = write(vm->event_fd, &one, sizeof(one));
        (void)n; /* EAGAIN only when the counter is already non-zero: still signalled. */
    } else {
        g_free(crash_msg);
    }
}

void hv_vm_clear_request(struct hv_vm *vm)
{
    uint64_t v;
    ssize_t n = read(vm->event_fd, &v, sizeof(v));
    (void)n;
    g_free(vm->crash_msg);
    vm->crash_msg = NULL;
    atomic_store(&vm->request, HV_REQ_NONE);
}
