/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Initial vCPU state: CPUID, MSRs, FPU, local APIC, and the 64-bit Linux entry state. */
#include "x86/cpu-setup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MISC_ENABLE_FAST_STRING 1ull
#define MTRR_ENABLE (1ull << 11)
#define MTRR_TYPE_WB 6ull

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define PTE_PRESENT 1ull
#define PTE_RW 2ull
#define PTE_PS (1ull << 7)

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

int hv_x86_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *cpuid)
{
    return ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
}

/* The TSC is left alone: KVM synchronises the vCPUs' TSCs when it creates them, and a
 * write here, vCPU by vCPU, would make Linux find them unsynchronised. */
int hv_x86_setup_msrs(int vcpu_fd)
{
    static const struct {
        uint32_t index;
        uint64_t data;
    } init[] = {
        {MSR_IA32_SYSENTER_CS, 0},  {MSR_IA32_SYSENTER_ESP, 0}, {MSR_IA32_SYSENTER_EIP, 0},
        {MSR_STAR, 0},              {MSR_LSTAR, 0},             {MSR_CSTAR, 0},
        {MSR_SYSCALL_MASK, 0},      {MSR_KERNEL_GS_BASE, 0},
        {MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
        /* Without MTRRs enabled Linux would map all RAM uncached. */
        {MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB},
    };
    const unsigned n = sizeof(init) / sizeof(init[0]);
    struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + n * sizeof(msrs->entries[0]));
    if (!msrs)
        return -ENOMEM;
    msrs->nmsrs = n;
    for (unsigned i = 0; i < n; i++) {
        msrs->entries[i].index = init[i].index;
        msrs->entries[i].data = init[i].data;
    }
    int r = ioctl(vcpu_fd, KVM_SET_MSRS, msrs);
    free(msrs);
    if (r < 0)
        return -errno;
    return r == (int)n ? 0 : -EINVAL;
}

int hv_x86_setup_fpu(int vcpu_fd)
{
    struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
    return ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

static uint32_t lvt_mode(uint32_t lvt, uint32_t mode)
{
    return (lvt & ~0x700u) | (mode << 8);
}

int hv_x86_setup_lapic(int vcpu_fd)
{
    struct kvm_lapic_state lapic;
    if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
        return -errno;
    uint32_t lvt0, lvt1;
    memcpy(&lvt0, &lapic.regs[APIC_LVT0], 4);
    memcpy(&lvt1, &lapic.regs[APIC_LVT1], 4);
    lvt0 = lvt_mode(lvt0, APIC_MODE_EXTINT);
    lvt1 = lvt_mode(lvt1, APIC_MODE_NMI);
    memcpy(&lapic.regs[APIC_LVT0], &lvt0, 4);
    memcpy(&lapic.regs[APIC_LVT1], &lvt1, 4);
    return ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

int hv_x86_write_boot_tables(struct hv_memory *mem)
{
    /* Null, null, 64-bit code (0x10), data (0x18): the selectors Linux's entry expects.
     * The accessed bits are preset so loading them never writes the GDT. */
    static const uint64_t gdt[] = {0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};
    uint8_t *p = hv_memory_ptr(mem, HV_BOOT_GDT, sizeof(gdt));
    uint8_t *pml4 = hv_memory_ptr(mem, HV_BOOT_PML4, 4096);
    uint8_t *pdpt = hv_memory_ptr(mem, HV_BOOT_PDPT, 4096);
    uint8_t *pd = hv_memory_ptr(mem, HV_BOOT_PD, 4 * 4096);
    if (!p || !pml4 || !pdpt || !pd)
        return -EFAULT;
    memcpy(p, gdt, sizeof(gdt));
    memset(pml4, 0, 4096);
    memset(pdpt, 0, 4096);
    put64(pml4, HV_BOOT_PDPT | PTE_PRESENT | PTE_RW);
    for (unsigned i = 0; i < 4; i++)
        put64(pdpt + 8 * i, (HV_BOOT_PD + 4096ull * i) | PTE_PRESENT | PTE_RW);
    for (unsigned i = 0; i < 4 * 512; i++)
        put64(pd + 8 * i, ((uint64_t)i << 21) | PTE_PRESENT | PTE_RW | PTE_PS);
    return 0;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, int code64)
{
    return (struct kvm_segment){
        .base = 0,
        .limit = 0xffffffff,
        .selector = selector,
        .type = type,
        .present = 1,
        .dpl = 0,
        .db = code64 ? 0 : 1,
        .s = 1,
        .l = code64 ? 1 : 0,
        .g = 1,
    };
}

int hv_x86_setup_long_mode(int vcpu_fd, uint64_t entry, uint64_t zero_page)
{
    struct kvm_sregs sregs;
    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return -errno;

    sregs.gdt.base = HV_BOOT_GDT;
    sregs.gdt.limit = 4 * 8 - 1;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cs = flat_segment(HV_BOOT_CS, 0xb, 1);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(HV_BOOT_DS, 0x3, 0);
    /* A busy 64-bit TSS: VM entry insists on a usable TR even though Linux loads its own. */
    sregs.tr = (struct kvm_segment){.base = 0, .limit = 0xffff, .type = 0xb, .present = 1,
                                    .s = 0};
    sregs.ldt = (struct kvm_segment){.type = 0x2, .present = 1, .limit = 0xffff,
                                     .unusable = 0};
    sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
    sregs.cr3 = HV_BOOT_PML4;
    sregs.cr4 = CR4_PAE;
    sregs.efer = EFER_LME | EFER_LMA;
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
        return -errno;

    struct kvm_regs regs = {
        .rflags = 0x2,
        .rip = entry,
        .rsi = zero_page,
    };
    return ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
}
