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
        .flags = s->readonly ? KVM_MEM_READONLY : 0,
        .guest_phys_addr = s->gpa,
        .memory_size = s->size,
        .userspace_addr = (uintptr_t)s->hva,
    };
    if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        int e = errno;
        *err = g_strdup_printf("cannot map guest memory at 0x%llx (%llu KiB): %s",
                               (unsigned long long)s->gpa,
                               (unsigned long long)(s->size >> 10), g_strerror(e));
        return -e;
    }
    return 0;
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

int hv_vm_recreate(struct hv_vm *vm, char **err)
{
    hv_vcpus_destroy(vm);
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
    pthread_mutex_destroy(&vm->lock);
    pthread_cond_destroy(&vm->cond);
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
