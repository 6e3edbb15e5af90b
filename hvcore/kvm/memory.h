/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Guest RAM: the physical layout around the device hole and its host mapping. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HV_KiB(x) ((uint64_t)(x) << 10)
#define HV_MiB(x) ((uint64_t)(x) << 20)
#define HV_GiB(x) ((uint64_t)(x) << 30)

/* RAM below 4 GiB ends here; the rest of the hole holds device MMIO and firmware. */
#define HV_MMIO_HOLE_START HV_GiB(3)
#define HV_HIGH_RAM_START HV_GiB(4)
/* The legacy BIOS area that a firmware image's tail is aliased into. */
#define HV_BIOS_ALIAS_END 0x100000ULL
#define HV_BIOS_ALIAS_MAX HV_KiB(128)

#define HV_MEM_MIN HV_MiB(16)
#define HV_MEM_MAX_REGIONS 4

enum hv_mem_flags {
    HV_MEM_KSM = 1u << 0,       /* MADV_MERGEABLE */
    HV_MEM_HUGEPAGES = 1u << 1, /* MADV_HUGEPAGE */
};

/* One contiguous stretch of guest-physical RAM and where it lives in the host mapping. */
struct hv_mem_region {
    uint64_t gpa;
    uint64_t size;
    uint64_t offset; /* into the host mapping */
};

struct hv_mem_layout {
    uint64_t ram_size;  /* what the user asked for */
    uint64_t low_end;   /* end of RAM below the hole */
    uint64_t bios_hole; /* bytes below 1 MiB left to a firmware alias (0 without firmware) */
    struct hv_mem_region regions[HV_MEM_MAX_REGIONS];
    unsigned nr_regions;
};

/*
 * Computes where `ram_size` bytes of RAM go: [0, min(size, 3 GiB)) and the rest from
 * 4 GiB up. `bios_hole` carves [1 MiB - bios_hole, 1 MiB) out of low RAM for a
 * firmware alias. Returns 0 or -EINVAL for a size that is too small or not page-sized.
 */
int hv_mem_layout_init(struct hv_mem_layout *layout, uint64_t ram_size, uint64_t bios_hole);

struct hv_memory {
    struct hv_mem_layout layout;
    uint8_t *host;    /* one private anonymous mapping backing every region */
    size_t host_size;
    /* The guest has run: RAM the VMM did not write may hold anything (false: it is the
       zero pages of a fresh mapping, which loaders need not write again). */
    bool guest_ran;
};

int hv_memory_alloc(struct hv_memory *mem, const struct hv_mem_layout *layout, unsigned flags);
void hv_memory_free(struct hv_memory *mem);

/*
 * Host address of guest-physical [gpa, gpa + len), or NULL if any byte of it is not
 * RAM or the range straddles two regions (they are not contiguous in the guest).
 */
void *hv_memory_ptr(const struct hv_memory *mem, uint64_t gpa, uint64_t len);
