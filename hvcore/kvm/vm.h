/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A KVM virtual machine: its fd, memory slots, interrupt controllers and vCPU threads. */
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/host.h"
#include "kvm/iobus.h"
#include "kvm/memory.h"

/* Why the guest wants the VM to stop running; set from vCPU threads and devices. */
enum hv_vm_request {
    HV_REQ_NONE = 0,
    HV_REQ_RESET,
    HV_REQ_POWEROFF,
    HV_REQ_CRASH,
};

#define HV_MAX_SLOTS 8
#define HV_IOAPIC_ADDR 0xfec00000ULL
#define HV_LAPIC_ADDR 0xfee00000ULL

struct hv_vm;
struct hv_irq_state;

struct hv_vcpu {
    struct hv_vm *vm;
    unsigned id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    atomic_uint_fast64_t exits;
    atomic_uint_fast64_t io_exits;
    atomic_uint_fast64_t mmio_exits;
    /* In this vCPU's mapping: the VM's ring of buffered writes (NULL: none). */
    struct kvm_coalesced_mmio_ring *ring;
};

struct hv_slot {
    uint64_t gpa;     /* 0 for a movable slot that is not mapped now */
    uint64_t size;
    void *hva;
    bool readonly;
    bool log_dirty;   /* KVM_MEM_LOG_DIRTY_PAGES: a movable framebuffer slot */
    /*
     * Pages KVM had logged when the slot was deleted (moved, unmapped, VM re-created):
     * KVM frees its bitmap with the slot, so they wait here for hv_vm_get_dirty_log.
     */
    unsigned long *carried;
};

struct hv_vm {
    const struct hv_host *host;
    int fd;
    struct hv_iobus pio;
    struct hv_iobus mmio;
    struct hv_slot slots[HV_MAX_SLOTS];
    unsigned nr_slots;
    struct hv_irq_state *irq; /* routing, irqfds, ioeventfds (kvm/irq.c) */

    unsigned nr_vcpus;
    struct hv_vcpu *vcpus;
    /* Called on each vCPU's own thread before its first KVM_RUN. */
    int (*vcpu_setup)(struct hv_vcpu *vcpu, void *opaque);

    /* Port ranges whose writes KVM buffers instead of exiting (hv_vm_coalesce_pio). */
    struct { uint16_t port, size; } coalesced[2];
    unsigned nr_coalesced;
    unsigned ring_max;           /* entries in the ring */
    pthread_mutex_t ring_lock;   /* one vCPU replays the ring at a time */
    void *vcpu_setup_opaque;

    /* Run control, shared by the main thread and the vCPU threads. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool pause_req;
    atomic_bool stop_req;
    unsigned nr_parked;

    /* The first request wins; the main loop reads it after event_fd fires. */
    atomic_int request;
    char *crash_msg;
    int event_fd;
};

/* Creates the KVM VM: TSS and identity-map addresses, in-kernel irqchip and PIT. */
int hv_vm_init(struct hv_vm *vm, const struct hv_host *host, char **err);
/* Registers guest memory; kept so that a reset can register it again. */
int hv_vm_add_slot(struct hv_vm *vm, uint64_t gpa, uint64_t size, void *hva, bool readonly,
                   char **err);
/*
 * A slot that can move and whose written pages can be read back: a framebuffer BAR.
 * `gpa` 0 means not mapped yet. Returns the slot's index (>= 0) or -errno with *err set.
 * The caller serializes hv_vm_move_slot and hv_vm_get_dirty_log on the same slot.
 */
int hv_vm_add_dirty_slot(struct hv_vm *vm, uint64_t gpa, uint64_t size, void *hva, char **err);
/* Maps a slot from hv_vm_add_dirty_slot at `gpa` instead (0: unmaps it). 0 or -errno. */
int hv_vm_move_slot(struct hv_vm *vm, unsigned index, uint64_t gpa);
/*
 * Fills `bitmap` (one bit per 4 KiB page of the slot, in unsigned longs) with the pages
 * written since the last call, and starts over. Pages written before a move or an unmap
 * are reported too (by the first call after it); while unmapped nothing new is written.
 */
int hv_vm_get_dirty_log(struct hv_vm *vm, unsigned index, unsigned long *bitmap);
/*
 * Lets KVM buffer the guest's writes to ports [port, port + size) instead of exiting for
 * each: they are replayed, in order, on the iobus before the next exit of any vCPU is
 * handled. Only for registers whose writes have no effect until a later access that
 * exits anyway (the PCI configuration address, which a 0xCFC access always follows).
 * Without KVM_CAP_COALESCED_PIO, writes simply exit as before.
 */
void hv_vm_coalesce_pio(struct hv_vm *vm, uint16_t port, uint16_t size);
/* Drops the KVM VM and its vCPUs and creates them afresh, as a hardware reset would. */
int hv_vm_recreate(struct hv_vm *vm, char **err);
void hv_vm_destroy(struct hv_vm *vm);

/* Sets an ISA/IOAPIC interrupt line (GSI) level. Safe from any thread. */
void hv_vm_set_irq(struct hv_vm *vm, unsigned gsi, int level);

/* Asks the main loop to reset, power off or report a crash (message taken). */
void hv_vm_request(struct hv_vm *vm, enum hv_vm_request req, char *crash_msg);
/* Clears a handled request. */
void hv_vm_clear_request(struct hv_vm *vm);

int hv_vcpus_create(struct hv_vm *vm, unsigned count, char **err);
int hv_vcpus_start(struct hv_vm *vm, char **err);
/* Stops and joins every vCPU thread and closes the vCPUs. */
void hv_vcpus_destroy(struct hv_vm *vm);
/* Returns once every vCPU is out of KVM_RUN and parked. */
void hv_vcpus_pause(struct hv_vm *vm);
void hv_vcpus_resume(struct hv_vm *vm);
