/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CPUID a vCPU sees: what KVM supports, with this VM's topology and APIC IDs. */
#include "x86/cpuid.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_80000001_ECX_CMP_LEGACY (1u << 1)
#define CPUID_80000001_ECX_TOPOEXT (1u << 22)

int hv_cpuid_get_supported(int kvm_fd, struct hv_cpuid *cpuid, char **err)
{
    for (unsigned n = 128; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *t = g_malloc0(sizeof(*t) + n * sizeof(t->entries[0]));
        t->nent = n;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, t) == 0) {
            cpuid->table = t;
            return 0;
        }
        int e = errno;
        g_free(t);
        if (e != E2BIG) {
            *err = g_strdup_printf("KVM_GET_SUPPORTED_CPUID failed: %s", g_strerror(e));
            return -e;
        }
    }
    *err = g_strdup("KVM_GET_SUPPORTED_CPUID returned too many entries");
    return -E2BIG;
}

void hv_cpuid_free(struct hv_cpuid *cpuid)
{
    g_free(cpuid->table);
    cpuid->table = NULL;
}

struct kvm_cpuid_entry2 *hv_cpuid_find(struct kvm_cpuid2 *table, unsigned function,
                                       unsigned index)
{
    for (unsigned i = 0; i < table->nent; i++) {
        struct kvm_cpuid_entry2 *e = &table->entries[i];
        if (e->function != function)
            continue;
        if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index)
            return e;
    }
    return NULL;
}

/* Bits needed to hold values 0..count-1 (the x2APIC ID shift of a topology level). */
static unsigned id_bits(unsigned count)
{
    unsigned bits = 0;
    while ((1u << bits) < count)
        bits++;
    return bits;
}

static void remove_function(struct kvm_cpuid2 *t, unsigned function)
{
    unsigned out = 0;
    for (unsigned i = 0; i < t->nent; i++)
        if (t->entries[i].function != function)
            t->entries[out++] = t->entries[i];
    t->nent = out;
}

/* Leaf 0xB: SMT level with one thread, core level with `count` cores. */
static void set_ext_topology(struct kvm_cpuid2 *t, unsigned apic_id, unsigned count)
{
    remove_function(t, 0xb);
    remove_function(t, 0x1f); /* 0xB says all there is: no dies or modules */
    unsigned shift = id_bits(count);
    struct kvm_cpuid_entry2 levels[3] = {
        {.function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
         .eax = 0, .ebx = 1, .ecx = (1u << 8) | 0, .edx = apic_id},
        {.function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
         .eax = shift, .ebx = count, .ecx = (2u << 8) | 1, .edx = apic_id},
        {.function = 0xb, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
         .eax = 0, .ebx = 0, .ecx = 2, .edx = apic_id},
    };
    memcpy(&t->entries[t->nent], levels, sizeof(levels));
    t->nent += 3;
}

struct kvm_cpuid2 *hv_cpuid_for_vcpu(const struct hv_cpuid *cpuid, unsigned index,
                                     unsigned count, bool tsc_deadline)
{
    const struct kvm_cpuid2 *src = cpuid->table;
    /* Room for the 0xB levels added below. */
    size_t bytes = sizeof(*src) + (src->nent + 4) * sizeof(src->entries[0]);
    struct kvm_cpuid2 *t = g_malloc0(bytes);
    t->nent = src->nent;
    memcpy(t->entries, src->entries, src->nent * sizeof(src->entries[0]));

    unsigned apic_id = index;
    struct kvm_cpuid_entry2 *e;
    unsigned max_basic = 0;
    if ((e = hv_cpuid_find(t, 0, 0)))
        max_basic = e->eax;

    if ((e = hv_cpuid_find(t, 1, 0))) {
        e->ebx = (e->ebx & 0x0000ffffu) | (apic_id << 24) | ((count & 0xff) << 16);
        e->ecx |= CPUID_1_ECX_HYPERVISOR;
        if (tsc_deadline)
            e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
        if (count > 1)
            e->edx |= CPUID_1_EDX_HTT;
        else
            e->edx &= ~CPUID_1_EDX_HTT;
    }
    /* Deterministic cache parameters: cores per package, and who shares each cache. */
    for (unsigned i = 0; i < t->nent; i++) {
        e = &t->entries[i];
        if (e->function != 4 || (e->eax & 0x1f) == 0)
            continue;
        unsigned level = (e->eax >> 5) & 0x7;
        unsigned sharing = level >= 3 ? count - 1 : 0;
        e->eax = (e->eax & 0x3fff) | (sharing << 14) | ((count - 1) << 26);
    }
    if (max_basic >= 0xb)
        set_ext_topology(t, apic_id, count);

    /* AMD's view of the same topology. */
    if ((e = hv_cpuid_find(t, 0x80000001, 0))) {
        if (count > 1)
            e->ecx |= CPUID_80000001_ECX_CMP_LEGACY;
        else
            e->ecx &= ~CPUID_80000001_ECX_CMP_LEGACY;
    }
    if ((e = hv_cpuid_find(t, 0x80000008, 0)))
        e->ecx = (e->ecx & ~0xf0ffu) | (id_bits(count) << 12) | ((count - 1) & 0xff);
    if ((e = hv_cpuid_find(t, 0x8000001e, 0))) {
        e->eax = apic_id;
        e->ebx = apic_id & 0xff; /* core id; one thread per core */
        e->ecx = 0;              /* node 0, one node per package */
    }
    return t;
}
