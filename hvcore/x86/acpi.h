/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ACPI tables for a Linux guest: RSDP, XSDT, FADT, FACS, DSDT, MADT and MCFG. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define HV_ACPI_PM_BASE 0x600 /* PM1a event block; the control block follows at +4 */
#define HV_ACPI_PM1_CNT (HV_ACPI_PM_BASE + 4)
#define HV_ACPI_SCI_IRQ 9
#define HV_ACPI_SLP_TYP_S5 5
#define HV_RESET_PORT 0xcf9

#include <stdbool.h>

struct hv_acpi_config {
    unsigned nr_vcpus;
    bool pci;              /* describe the PCI root (DSDT), its ECAM (MCFG) */
    uint64_t mmio64_start; /* the 64-bit BAR window, HV_PCI_MMIO64_SIZE long */
};

/*
 * Writes the tables into `buf`, which the guest sees at `gpa`; the RSDP comes first,
 * at `gpa` itself. Returns the bytes used, or -ENOSPC if `size` is too small.
 */
long hv_acpi_build(void *buf, size_t size, uint64_t gpa, const struct hv_acpi_config *cfg);

/* The ACPI checksum: the byte that makes a table sum to zero. */
uint8_t hv_acpi_checksum(const void *data, size_t len);
