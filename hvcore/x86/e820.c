/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The BIOS-style e820 memory map handed to a Linux guest. */
#include "x86/e820.h"

#include "devices/pci.h"

static unsigned add(struct hv_e820_entry *out, unsigned n, unsigned max, uint64_t addr,
                    uint64_t end, uint32_t type)
{
    if (end <= addr || n >= max)
        return n;
    out[n] = (struct hv_e820_entry){.addr = addr, .size = end - addr, .type = type};
    return n + 1;
}

unsigned hv_e820_build(const struct hv_mem_layout *layout, struct hv_e820_entry *out,
                       unsigned max)
{
    unsigned n = 0;
    n = add(out, n, max, 0, HV_EBDA_START, HV_E820_RAM);
    n = add(out, n, max, HV_EBDA_START, 0xa0000, HV_E820_RESERVED);
    n = add(out, n, max, HV_BIOS_AREA_START, HV_BIOS_ALIAS_END, HV_E820_RESERVED);
    n = add(out, n, max, HV_BIOS_ALIAS_END, layout->low_end, HV_E820_RAM);
    /* Linux uses ECAM only where the firmware's map reserves it. */
    n = add(out, n, max, HV_PCI_ECAM_START, HV_PCI_ECAM_START + HV_PCI_ECAM_SIZE,
            HV_E820_RESERVED);
    for (unsigned i = 0; i < layout->nr_regions; i++) {
        const struct hv_mem_region *r = &layout->regions[i];
        if (r->gpa >= HV_HIGH_RAM_START)
            n = add(out, n, max, r->gpa, r->gpa + r->size, HV_E820_RAM);
    }
    return n;
}

uint64_t hv_e820_ram_bytes(const struct hv_e820_entry *map, unsigned n)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < n; i++)
        if (map[i].type == HV_E820_RAM)
            total += map[i].size;
    return total;
}
