/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the guest memory layout, the e820 map and the host mapping. */
#include <glib.h>
#include <errno.h>
#include <string.h>

#include "kvm/memory.h"
#include "x86/e820.h"

static void test_small(void)
{
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, HV_MiB(512), 0), ==, 0);
    g_assert_cmpuint(l.nr_regions, ==, 1);
    g_assert_cmpuint(l.regions[0].gpa, ==, 0);
    g_assert_cmpuint(l.regions[0].size, ==, HV_MiB(512));
    g_assert_cmpuint(l.low_end, ==, HV_MiB(512));
}

static void test_hole(void)
{
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, HV_GiB(5), 0), ==, 0);
    g_assert_cmpuint(l.nr_regions, ==, 2);
    g_assert_cmpuint(l.regions[0].size, ==, HV_GiB(3));
    g_assert_cmpuint(l.regions[1].gpa, ==, HV_GiB(4));
    g_assert_cmpuint(l.regions[1].size, ==, HV_GiB(2));
    g_assert_cmpuint(l.regions[1].offset, ==, HV_GiB(3));
    /* Exactly 3 GiB needs no high region. */
    g_assert_cmpint(hv_mem_layout_init(&l, HV_GiB(3), 0), ==, 0);
    g_assert_cmpuint(l.nr_regions, ==, 1);
}

static void test_bios_hole(void)
{
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, HV_MiB(64), HV_KiB(128)), ==, 0);
    g_assert_cmpuint(l.nr_regions, ==, 2);
    g_assert_cmpuint(l.regions[0].size, ==, 0xe0000);
    g_assert_cmpuint(l.regions[1].gpa, ==, 0x100000);
    g_assert_cmpuint(l.regions[1].offset, ==, 0x100000);
    g_assert_cmpuint(l.regions[1].gpa + l.regions[1].size, ==, HV_MiB(64));
}

static void test_invalid(void)
{
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, HV_MiB(8), 0), <, 0);
    g_assert_cmpint(hv_mem_layout_init(&l, HV_MiB(64) + 100, 0), <, 0);
    g_assert_cmpint(hv_mem_layout_init(&l, HV_MiB(64), HV_KiB(256)), <, 0);
    g_assert_cmpint(hv_mem_layout_init(&l, HV_MiB(64), 100), <, 0);
}

static void test_ptr(void)
{
    struct hv_mem_layout l;
    struct hv_memory mem;
    g_assert_cmpint(hv_mem_layout_init(&l, HV_GiB(3) + HV_MiB(16), 0), ==, 0);
    g_assert_cmpint(hv_memory_alloc(&mem, &l, 0), ==, 0);
    uint8_t *lo = hv_memory_ptr(&mem, 0x1000, 16);
    g_assert_nonnull(lo);
    g_assert_true(lo == mem.host + 0x1000);
    uint8_t *hi = hv_memory_ptr(&mem, HV_GiB(4), 4096);
    g_assert_true(hi == mem.host + HV_GiB(3));
    /* The hole, past the end, and ranges that straddle a region's end are not RAM. */
    g_assert_null(hv_memory_ptr(&mem, HV_GiB(3), 1));
    g_assert_null(hv_memory_ptr(&mem, HV_GiB(3) - 8, 16));
    g_assert_null(hv_memory_ptr(&mem, HV_GiB(4) + HV_MiB(16), 1));
    g_assert_null(hv_memory_ptr(&mem, HV_GiB(4), HV_MiB(16) + 1));
    g_assert_null(hv_memory_ptr(&mem, UINT64_MAX, 2));
    memset(hi, 0xab, 4096);
    hv_memory_free(&mem);
}

static void test_flags(void)
{
    struct hv_mem_layout l;
    struct hv_memory mem;
    g_assert_cmpint(hv_mem_layout_init(&l, HV_MiB(64), 0), ==, 0);
    g_assert_cmpint(hv_memory_alloc(&mem, &l, HV_MEM_HUGEPAGES), ==, 0);
    g_assert_cmpuint((uintptr_t)mem.host % HV_MiB(2), ==, 0);
    hv_memory_free(&mem);
    /* KSM may be compiled out of a host kernel; then madvise says EINVAL. */
    int r = hv_memory_alloc(&mem, &l, HV_MEM_KSM);
    if (r == 0)
        hv_memory_free(&mem);
    else
        g_assert_cmpint(r, ==, -EINVAL);
}

static void test_e820(void)
{
    struct hv_mem_layout l;
    struct hv_e820_entry map[HV_E820_MAX];
    g_assert_cmpint(hv_mem_layout_init(&l, HV_MiB(512), 0), ==, 0);
    unsigned n = hv_e820_build(&l, map, HV_E820_MAX);
    g_assert_cmpuint(n, ==, 5);
    g_assert_cmpuint(map[0].addr, ==, 0);
    g_assert_cmpuint(map[0].size, ==, 0x9fc00);
    g_assert_cmpuint(map[0].type, ==, HV_E820_RAM);
    g_assert_cmpuint(map[1].type, ==, HV_E820_RESERVED);
    g_assert_cmpuint(map[2].addr, ==, 0xe0000);
    g_assert_cmpuint(map[3].addr, ==, 0x100000);
    g_assert_cmpuint(map[3].addr + map[3].size, ==, HV_MiB(512));
    /* The PCI ECAM window is reserved, or Linux would not use it. */
    g_assert_cmphex(map[4].addr, ==, 0xe0000000);
    g_assert_cmpuint(map[4].type, ==, HV_E820_RESERVED);
    /* Only the legacy holes below 1 MiB are missing from RAM. */
    g_assert_cmpuint(hv_e820_ram_bytes(map, n), ==, HV_MiB(512) - (0x100000 - 0x9fc00));
    for (unsigned i = 1; i < n; i++)
        g_assert_cmpuint(map[i].addr, >=, map[i - 1].addr + map[i - 1].size);

    g_assert_cmpint(hv_mem_layout_init(&l, HV_GiB(6), 0), ==, 0);
    n = hv_e820_build(&l, map, HV_E820_MAX);
    g_assert_cmpuint(n, ==, 6);
    g_assert_cmpuint(map[3].addr + map[3].size, ==, HV_GiB(3));
    g_assert_cmpuint(map[5].addr, ==, HV_GiB(4));
    g_assert_cmpuint(map[5].size, ==, HV_GiB(3));
    g_assert_cmpuint(hv_e820_ram_bytes(map, n), ==, HV_GiB(6) - (0x100000 - 0x9fc00));
    /* A short output array is never overrun. */
    g_assert_cmpuint(hv_e820_build(&l, map, 2), ==, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/layout-small", test_small);
    g_test_add_func("/memory/layout-hole", test_hole);
    g_test_add_func("/memory/layout-bios-hole", test_bios_hole);
    g_test_add_func("/memory/layout-invalid", test_invalid);
    g_test_add_func("/memory/ptr", test_ptr);
    g_test_add_func("/memory/flags", test_flags);
    g_test_add_func("/memory/e820", test_e820);
    return g_test_run();
}
