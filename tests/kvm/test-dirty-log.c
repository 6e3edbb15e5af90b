/* SPDX-License-Identifier: GPL-3.0-or-later */
/* kvm tier: a dirty-logged slot keeps the pages a real vCPU wrote across moves and unmaps. */
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm/host.h"
#include "kvm/vm.h"

#define RAM_SIZE 0x10000
#define FB_GPA 0x20000
#define FB_SIZE 0x4000 /* four pages */
#define FB_MOVED 0x30000

/*
 * Real mode at 0:0: ds = 0x2000; [0x1000] = 1 (FB_GPA's page 1); out 0x80 (an exit: with
 * the in-kernel irqchip a hlt would not come back).
 */
static const uint8_t guest_code[] = {
    0xb8, 0x00, 0x20,             /* mov ax, 0x2000 */
    0x8e, 0xd8,                   /* mov ds, ax */
    0xc6, 0x06, 0x00, 0x10, 0x01, /* mov byte [0x1000], 1 */
    0xe6, 0x80,                   /* out 0x80, al */
    0xeb, 0xfe,                   /* jmp $ */
};

struct fixture {
    struct hv_host host;
    struct hv_vm vm;
    uint8_t *ram, *fb;
    int slot;
    int vcpu_fd;
    struct kvm_run *run;
};

/* Returns false (test skipped) where there is no usable KVM. */
static bool setup(struct fixture *f)
{
    char *err = NULL;
    memset(f, 0, sizeof(*f));
    f->vcpu_fd = -1;
    if (hv_host_open(&f->host, &err) < 0) {
        g_test_skip(err);
        g_free(err);
        return false;
    }
    if (hv_vm_init(&f->vm, &f->host, &err) < 0) {
        g_test_skip(err);
        g_free(err);
        hv_host_close(&f->host);
        return false;
    }
    f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    f->fb = mmap(NULL, FB_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(f->ram != MAP_FAILED && f->fb != MAP_FAILED);
    memcpy(f->ram, guest_code, sizeof(guest_code));
    g_assert_cmpint(hv_vm_add_slot(&f->vm, 0, RAM_SIZE, f->ram, false, &err), ==, 0);
    f->slot = hv_vm_add_dirty_slot(&f->vm, FB_GPA, FB_SIZE, f->fb, &err);
    g_assert_cmpint(f->slot, >=, 0);

    f->vcpu_fd = ioctl(f->vm.fd, KVM_CREATE_VCPU, 0);
    g_assert_cmpint(f->vcpu_fd, >=, 0);
    f->run = mmap(NULL, (size_t)f->host.vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                  f->vcpu_fd, 0);
    g_assert_true(f->run != MAP_FAILED);
    struct kvm_sregs sregs;
    g_assert_cmpint(ioctl(f->vcpu_fd, KVM_GET_SREGS, &sregs), ==, 0);
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    g_assert_cmpint(ioctl(f->vcpu_fd, KVM_SET_SREGS, &sregs), ==, 0);
    struct kvm_regs regs = {.rip = 0, .rflags = 2};
    g_assert_cmpint(ioctl(f->vcpu_fd, KVM_SET_REGS, &regs), ==, 0);
    return true;
}

/* Runs the guest until its `out`: by then it has written FB page 1. */
static void run_guest(struct fixture *f)
{
    for (unsigned i = 0; i < 100; i++) {
        int r = ioctl(f->vcpu_fd, KVM_RUN, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        g_assert_cmpint(r, ==, 0);
        if (f->run->exit_reason == KVM_EXIT_IO && f->run->io.port == 0x80)
            break;
        g_assert_cmpuint(f->run->exit_reason, ==, KVM_EXIT_IO); /* nothing else expected */
    }
    g_assert_cmpuint(f->run->exit_reason, ==, KVM_EXIT_IO);
    g_assert_cmpuint(f->fb[0x1000], ==, 1);
}

static void teardown(struct fixture *f)
{
    munmap(f->run, (size_t)f->host.vcpu_mmap_size);
    close(f->vcpu_fd);
    (void)hv_vm_move_slot(&f->vm, (unsigned)f->slot, 0);
    hv_vm_destroy(&f->vm);
    munmap(f->ram, RAM_SIZE);
    munmap(f->fb, FB_SIZE);
    hv_host_close(&f->host);
}

static unsigned long dirty_bits(struct fixture *f)
{
    unsigned long bitmap[1] = {~0ul};
    g_assert_cmpint(hv_vm_get_dirty_log(&f->vm, (unsigned)f->slot, bitmap), ==, 0);
    return bitmap[0];
}

static void test_plain(void)
{
    struct fixture f;
    if (!setup(&f))
        return;
    run_guest(&f);
    g_assert_cmpuint(dirty_bits(&f), ==, 1ul << 1);
    g_assert_cmpuint(dirty_bits(&f), ==, 0); /* the get cleared it */
    teardown(&f);
}

/* The bug: KVM drops a slot's log with the slot, so a BAR move lost written rows. */
static void test_move(void)
{
    struct fixture f;
    if (!setup(&f))
        return;
    run_guest(&f);
    g_assert_cmpint(hv_vm_move_slot(&f.vm, (unsigned)f.slot, FB_MOVED), ==, 0);
    g_assert_cmpuint(dirty_bits(&f), ==, 1ul << 1);
    g_assert_cmpuint(dirty_bits(&f), ==, 0);
    teardown(&f);
}

static void test_unmap(void)
{
    struct fixture f;
    if (!setup(&f))
        return;
    run_guest(&f);
    g_assert_cmpint(hv_vm_move_slot(&f.vm, (unsigned)f.slot, 0), ==, 0);
    g_assert_cmpuint(dirty_bits(&f), ==, 1ul << 1); /* reported while unmapped */
    g_assert_cmpuint(dirty_bits(&f), ==, 0);
    teardown(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm/dirty-log/plain", test_plain);
    g_test_add_func("/kvm/dirty-log/move", test_move);
    g_test_add_func("/kvm/dirty-log/unmap", test_unmap);
    return g_test_run();
}
