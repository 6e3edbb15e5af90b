/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Guest RAM: the physical layout around the device hole and its host mapping. */
#include "kvm/memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE_SIZE 4096ULL
#define HUGE_SIZE HV_MiB(2)

int hv_mem_layout_init(struct hv_mem_layout *layout, uint64_t ram_size, uint64_t bios_hole)
{
    memset(layout, 0, sizeof(*layout));
    if (ram_size < HV_MEM_MIN || ram_size % PAGE_SIZE || bios_hole % PAGE_SIZE ||
        bios_hole > HV_BIOS_ALIAS_MAX)
        return -EINVAL;

    layout->ram_size = ram_size;
    layout->bios_hole = bios_hole;
    layout->low_end = ram_size < HV_MMIO_HOLE_START ? ram_size : HV_MMIO_HOLE_START;

    struct hv_mem_region *r = layout->regions;
    if (bios_hole) {
        /* The firmware alias sits at the top of the first MiB, so low RAM is split. */
        r[0] = (struct hv_mem_region){.gpa = 0, .size = HV_BIOS_ALIAS_END - bios_hole,
                                      .offset = 0};
        r[1] = (struct hv_mem_region){.gpa = HV_BIOS_ALIAS_END,
                                      .size = layout->low_end - HV_BIOS_ALIAS_END,
                                      .offset = HV_BIOS_ALIAS_END};
        layout->nr_regions = 2;
    } else {
        r[0] = (struct hv_mem_region){.gpa = 0, .size = layout->low_end, .offset = 0};
        layout->nr_regions = 1;
    }
    if (ram_size > layout->low_end) {
        r[layout->nr_regions++] = (struct hv_mem_region){
            .gpa = HV_HIGH_RAM_START, .size = ram_size - layout->low_end,
            .offset = layout->low_end};
    }
    return 0;
}

int hv_memory_alloc(struct hv_memory *mem, const struct hv_mem_layout *layout, unsigned flags)
{
    memset(mem, 0, sizeof(*mem));
    mem->layout = *layout;

    /*
     * Private anonymous memory: KSM merges only that (a MAP_SHARED memfd is never
     * merged), and the kernel reserves it lazily, so untouched guest RAM costs nothing.
     */
    size_t size = layout->ram_size;
    size_t map_size = size + ((flags & HV_MEM_HUGEPAGES) ? HUGE_SIZE : 0);
    uint8_t *p = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;

    uint8_t *host = p;
    if (flags & HV_MEM_HUGEPAGES) {
        /* THP needs 2 MiB-aligned guest and host addresses to map huge pages. */
        uintptr_t aligned = ((uintptr_t)p + HUGE_SIZE - 1) & ~(uintptr_t)(HUGE_SIZE - 1);
        size_t head = aligned - (uintptr_t)p;
        if (head)
            munmap(p, head);
        size_t tail = map_size - head - size;
        if (tail)
            munmap((uint8_t *)aligned + size, tail);
        host = (uint8_t *)aligned;
        if (madvise(host, size, MADV_HUGEPAGE) < 0) {
            int e = errno;
            munmap(host, size);
            return -e;
        }
    }
    if ((flags & HV_MEM_KSM) && madvise(host, size, MADV_MERGEABLE) < 0) {
        int e = errno;
        munmap(host, size);
        return -e;
    }
    /* Guest RAM has no place in a core dump of the VMM. */
    madvise(host, size, MADV_DONTDUMP);

    mem->host = host;
    mem->host_size = size;
    return 0;
}

void hv_memory_free(struct hv_memory *mem)
{
    if (mem->host)
        munmap(mem->host, mem->host_size);
    mem->host = NULL;
    mem->host_size = 0;
}

void *hv_memory_ptr(const struct hv_memory *mem, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < mem->layout.nr_regions; i++) {
        const struct hv_mem_region *r = &mem->layout.regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size) {
            if (len > r->size - (gpa - r->gpa))
                return NULL;
            return mem->host ? mem->host + r->offset + (gpa - r->gpa) : NULL;
        }
    }
    return NULL;
}
