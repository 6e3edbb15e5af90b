/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Initial vCPU state: CPUID, MSRs, FPU, local APIC, and the 64-bit Linux entry state. */
#pragma once

#include <linux/kvm.h>
#include <stdint.h>

#include "kvm/memory.h"

/* Guest-physical addresses of what the loader writes below 1 MiB. */
#define HV_BOOT_GDT 0x500ULL
#define HV_BOOT_ZERO_PAGE 0x7000ULL
#define HV_BOOT_PML4 0x9000ULL
#define HV_BOOT_PDPT 0xa000ULL
#define HV_BOOT_PD 0xb000ULL /* four pages: 4 GiB of 2 MiB pages */
#define HV_BOOT_CMDLINE 0x20000ULL
#define HV_BOOT_CMDLINE_MAX 0x10000ULL
#define HV_BOOT_KERNEL 0x100000ULL

#define HV_BOOT_CS 0x10
#define HV_BOOT_DS 0x18

int hv_x86_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *cpuid);
/* MSRs as Linux expects them after firmware: MTRRs on with write-back default, etc. */
int hv_x86_setup_msrs(int vcpu_fd);
int hv_x86_setup_fpu(int vcpu_fd);
/* LINT0 as ExtINT and LINT1 as NMI, as a BIOS leaves them, so the 8259 reaches the CPU. */
int hv_x86_setup_lapic(int vcpu_fd);

/* Writes the boot GDT and identity page tables (the first 4 GiB) into guest RAM. */
int hv_x86_write_boot_tables(struct hv_memory *mem);
/* Long mode, paging on, flat segments; RIP = entry, RSI = zero page (boot protocol). */
int hv_x86_setup_long_mode(int vcpu_fd, uint64_t entry, uint64_t zero_page);
