/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The BIOS-style e820 memory map handed to a Linux guest. */
#pragma once

#include <stdint.h>

#include "kvm/memory.h"

#define HV_E820_RAM 1
#define HV_E820_RESERVED 2
#define HV_E820_MAX 128

/* The legacy areas below 1 MiB that are not RAM to the guest. */
#define HV_EBDA_START 0x9fc00ULL
#define HV_BIOS_AREA_START 0xe0000ULL /* ACPI tables live here */

struct hv_e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};

/*
 * Fills `out` with the map for `layout` (sorted, non-overlapping) and returns the
 * number of entries. Memory below 1 MiB keeps a PC's shape: RAM up to the EBDA,
 * the EBDA and the BIOS area reserved.
 */
unsigned hv_e820_build(const struct hv_mem_layout *layout, struct hv_e820_entry *out,
                       unsigned max);
/* Total bytes of type RAM in a map. */
uint64_t hv_e820_ram_bytes(const struct hv_e820_entry *map, unsigned n);
