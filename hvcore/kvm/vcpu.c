/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vCPU threads: the KVM_RUN loop, exit dispatch, and pausing and stopping them. */
#include "kvm/vm.h"

#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The signal that kicks a vCPU thread out of KVM_RUN; its handler does nothing. */
#define HV_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
    (void)sig;
}

static void install_kick_handler(void)
{
    static gsize done;
    if (g_once_init_enter(&done)) {
        struct sigaction sa = {.sa_handler = kick_handler};
        sigemptyset(&sa.sa_mask);
        /* No SA_RESTART: KVM_RUN must come back with EINTR. */
        sigaction(HV_KICK_SIGNAL, &sa, NULL);
        g_once_init_leave(&done, 1);
    }
}

static uint64_t vcpu_rip(struct hv_vcpu *vcpu)
{
    struct kvm_regs regs;
    if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
        return 0;
    return regs.rip;
}

static void crash(struct hv_vcpu *vcpu, const char *what)
{
    hv_vm_request(vcpu->vm, HV_REQ_CRASH,
                  g_strdup_printf("guest stopped: %s on vCPU %u at RIP 0x%llx", what, vcpu->id,
                                  (unsigned long long)vcpu_rip(vcpu)));
}

static void handle_io(struct hv_vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
        if (run->io.direction == KVM_EXIT_IO_OUT)
            hv_iobus_write(&vcpu->vm->pio, run->io.port, data, run->io.size);
        else
            hv_iobus_read(&vcpu->vm->pio, run->io.port, data, run->io.size);
    }
}

static void handle_mmio(struct hv_vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    unsigned len = run->mmio.len;
    if (len > sizeof(run->mmio.data))
        len = sizeof(run->mmio.data);
    if (run->mmio.is_write)
        hv_iobus_write(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
    else
        hv_iobus_read(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

/*
 * Replays the writes KVM buffered (hv_vm_coalesce_pio) in the order the guest made them.
 * KVM fills an entry, then publishes it by advancing `last`; we consume by advancing
 * `first`. The ring is the VM's, shared by every vCPU: one replays at a time.
 */
static void replay_coalesced(struct hv_vcpu *vcpu)
{
    struct kvm_coalesced_mmio_ring *ring = vcpu->ring;
    if (!ring || __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE) == ring->first)
        return;
    struct hv_vm *vm = vcpu->vm;
    pthread_mutex_lock(&vm->ring_lock);
    uint32_t first = ring->first;
    while (first != __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) {
        if (first >= vm->ring_max)
            break; /* KVM never writes this; don't index past the page if it did */
        struct kvm_coalesced_mmio e = ring->coalesced_mmio[first];
        unsigned len = e.len < sizeof(e.data) ? e.len : sizeof(e.data);
        hv_iobus_write(e.pio ? &vm->pio : &vm->mmio, e.phys_addr, e.data, len);
        first = (first + 1) % vm->ring_max;
        __atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&vm->ring_lock);
}

/* Handles one exit; returns false when the vCPU must stop running the guest. */
static bool handle_exit(struct hv_vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    char what[96];

    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        atomic_fetch_add(&vcpu->io_exits, 1);
        handle_io(vcpu);
        return true;
    case KVM_EXIT_MMIO:
        atomic_fetch_add(&vcpu->mmio_exits, 1);
        handle_mmio(vcpu);
        return true;
    case KVM_EXIT_INTR:
        return true;
    case KVM_EXIT_SHUTDOWN:
        crash(vcpu, "triple fault (KVM_EXIT_SHUTDOWN)");
        return false;
    case KVM_EXIT_SYSTEM_EVENT:
        switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
            hv_vm_request(vcpu->vm, HV_REQ_POWEROFF, NULL);
            return false;
        case KVM_SYSTEM_EVENT_RESET:
            hv_vm_request(vcpu->vm, HV_REQ_RESET, NULL);
            return false;
        default:
            snprintf(what, sizeof(what), "system event %u (KVM_EXIT_SYSTEM_EVENT)",
                     run->system_event.type);
            crash(vcpu, what);
            return false;
        }
    case KVM_EXIT_FAIL_ENTRY:
        snprintf(what, sizeof(what), "VM entry failed, reason 0x%llx (KVM_EXIT_FAIL_ENTRY)",
                 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        crash(vcpu, what);
        return false;
    case KVM_EXIT_INTERNAL_ERROR:
        snprintf(what, sizeof(what), "KVM internal error, suberror %u (KVM_EXIT_INTERNAL_ERROR)",
                 run->internal.suberror);
        crash(vcpu, what);
        return false;
    case KVM_EXIT_HLT:
        crash(vcpu, "halt with no interrupt controller (KVM_EXIT_HLT)");
        return false;
    default:
        snprintf(what, sizeof(what), "unhandled exit reason %u", run->exit_reason);
        crash(vcpu, what);
        return false;
    }
}

/* Waits while the VM is paused or this vCPU may not run; false when it must quit. */
static bool wait_runnable(struct hv_vm *vm, bool parked_for_request)
{
    pthread_mutex_lock(&vm->lock);
    bool counted = false;
    while (!atomic_load(&vm->stop_req) &&
           (atomic_load(&vm->pause_req) || parked_for_request)) {
        if (!counted) {
            vm->nr_parked++;
            counted = true;
            pthread_cond_broadcast(&vm->cond);
        }
        pthread_cond_wait(&vm->cond, &vm->lock);
        /* A parked vCPU stays parked until the request is handled by a stop. */
    }
    if (counted)
        vm->nr_parked--;
    bool run = !atomic_load(&vm->stop_req);
    pthread_mutex_unlock(&vm->lock);
    return run;
}

static void *vcpu_thread(void *arg)
{
    struct hv_vcpu *vcpu = arg;
    struct hv_vm *vm = vcpu->vm;

    /* Process-directed signals belong to the main loop, not to vCPU threads. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigemptyset(&set);
    sigaddset(&set, HV_KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    char name[16];
    snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
    pthread_setname_np(pthread_self(), name);

    if (vm->vcpu_setup && vm->vcpu_setup(vcpu, vm->vcpu_setup_opaque) < 0) {
        wait_runnable(vm, true);
        return NULL;
    }

    bool parked = false;
    for (;;) {
        /* Clear before looking at the flags: a kick after this point is not lost. */
        vcpu->run->immediate_exit = 0;
        if (atomic_load(&vm->request) != HV_REQ_NONE)
            parked = true;
        if ((parked || atomic_load(&vm->pause_req) || atomic_load(&vm->stop_req)) &&
            !wait_runnable(vm, parked))
            break;
        if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            char what[96];
            snprintf(what, sizeof(what), "KVM_RUN failed: %s", g_strerror(errno));
            crash(vcpu, what);
            parked = true;
            continue;
        }
        atomic_fetch_add(&vcpu->exits, 1);
        replay_coalesced(vcpu);
        /* A buffered write reset or stopped the machine (0xCF9 shares the PCI address's
           range): it happened before this exit, which is moot now. */
        if (atomic_load(&vm->request) != HV_REQ_NONE) {
            parked = true;
            continue;
        }
        if (!handle_exit(vcpu))
            parked = true;
    }
    return NULL;
}

static void kick(struct hv_vcpu *vcpu)
{
    if (!vcpu->thread_started)
        return;
    vcpu->run->immediate_exit = 1;
    pthread_kill(vcpu->thread, HV_KICK_SIGNAL);
}

/* Parks every vCPU that a request stopped, too, so a pause never waits for it. */
static void kick_all(struct hv_vm *vm)
{
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        kick(&vm->vcpus[i]);
}

int hv_vcpus_create(struct hv_vm *vm, unsigned count, char **err)
{
    install_kick_handler();
    vm->vcpus = calloc(count, sizeof(*vm->vcpus));
    if (!vm->vcpus) {
        *err = g_strdup("out of memory");
        return -ENOMEM;
    }
    for (unsigned i = 0; i < count; i++) {
        struct hv_vcpu *vcpu = &vm->vcpus[i];
        vcpu->vm = vm;
        vcpu->id = i;
        vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)i);
        if (vcpu->fd < 0) {
            int e = errno;
            *err = g_strdup_printf("cannot create vCPU %u: %s", i, g_strerror(e));
            hv_vcpus_destroy(vm);
            return -e;
        }
        vm->nr_vcpus = i + 1;
        vcpu->run = mmap(NULL, vm->host->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                         vcpu->fd, 0);
        if (vcpu->run == MAP_FAILED) {
            int e = errno;
            vcpu->run = NULL;
            *err = g_strdup_printf("cannot map vCPU %u's run area: %s", i, g_strerror(e));
            hv_vcpus_destroy(vm);
            return -e;
        }
        if (vm->host->coalesced_page)
            vcpu->ring = (void *)((char *)vcpu->run +
                                  (size_t)vm->host->coalesced_page * sysconf(_SC_PAGESIZE));
    }
    return 0;
}

/*
 * An exit's handling is shallow (no recursion), so a vCPU thread needs far less than the
 * 8 MiB default stack. Smaller than a huge page, its stack also cannot end up on one: in
 * the lab, one boot in eight had its vCPU stack (8 MiB, right below guest RAM) backed by
 * a 2 MiB transparent huge page, 2 MiB of the VMM's own memory for a few KiB of use.
 */
#define VCPU_STACK_SIZE (1u << 20)

int hv_vcpus_start(struct hv_vm *vm, char **err)
{
    atomic_store(&vm->stop_req, false);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct hv_vcpu *vcpu = &vm->vcpus[i];
        int r = pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
        if (r) {
            pthread_attr_destroy(&attr);
            *err = g_strdup_printf("cannot start vCPU thread %u: %s", i, g_strerror(r));
            return -r;
        }
        vcpu->thread_started = true;
    }
    pthread_attr_destroy(&attr);
    return 0;
}

void hv_vcpus_destroy(struct hv_vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    atomic_store(&vm->stop_req, true);
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    kick_all(vm);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct hv_vcpu *vcpu = &vm->vcpus[i];
        if (vcpu->thread_started)
            pthread_join(vcpu->thread, NULL);
        vcpu->thread_started = false;
        if (vcpu->run)
            munmap(vcpu->run, vm->host->vcpu_mmap_size);
        if (vcpu->fd >= 0)
            close(vcpu->fd);
    }
    free(vm->vcpus);
    vm->vcpus = NULL;
    vm->nr_vcpus = 0;
    vm->nr_parked = 0;
    atomic_store(&vm->pause_req, false);
}

void hv_vcpus_pause(struct hv_vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    atomic_store(&vm->pause_req, true);
    pthread_mutex_unlock(&vm->lock);
    kick_all(vm);
    pthread_mutex_lock(&vm->lock);
    unsigned running = 0;
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        running += vm->vcpus[i].thread_started;
    while (vm->nr_parked < running)
        pthread_cond_wait(&vm->cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);
}

void hv_vcpus_resume(struct hv_vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    atomic_store(&vm->pause_req, false);
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
}
