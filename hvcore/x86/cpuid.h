/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CPUID a vCPU sees: what KVM supports, with this VM's topology and APIC IDs. */
#pragma once

#include <linux/kvm.h>
#include <stdbool.h>

struct hv_cpuid {
    struct kvm_cpuid2 *table; /* what KVM_GET_SUPPORTED_CPUID returned */
};

int hv_cpuid_get_supported(int kvm_fd, struct hv_cpuid *cpuid, char **err);
void hv_cpuid_free(struct hv_cpuid *cpuid);

/*
 * Builds the table for vCPU `index` of `count` (one socket, one thread per core,
 * APIC ID = index). Returns a newly allocated table the caller frees with g_free.
 */
struct kvm_cpuid2 *hv_cpuid_for_vcpu(const struct hv_cpuid *cpuid, unsigned index,
                                     unsigned count, bool tsc_deadline);

/* Finds an entry (function, index) in a table, or NULL. */
struct kvm_cpuid_entry2 *hv_cpuid_find(struct kvm_cpuid2 *table, unsigned function,
                                       unsigned index);
