/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the Linux boot-protocol loader: header checks, zero page, placement. */
#include <glib.h>
#include <errno.h>
#include <string.h>

#include "kvm/memory.h"
#include "x86/bzimage.h"
#include "x86/cpu-setup.h"
#include "x86/e820.h"

static void put16(uint8_t *p, size_t off, uint16_t v)
{
    memcpy(p + off, &v, 2);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
    memcpy(p + off, &v, 4);
}

static uint32_t get32(const uint8_t *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return v;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, 8);
    return v;
}

/* A minimal image with a 2.15 header: 4 setup sectors, then `payload` bytes of 0xcc. */
static uint8_t *fake_bzimage(size_t payload, size_t *size)
{
    *size = 5 * 512 + payload;
    uint8_t *p = g_malloc0(*size);
    p[BZ_SETUP_SECTS] = 4;
    put16(p, BZ_BOOT_FLAG, 0xaa55);
    p[BZ_JUMP] = 0xeb;
    p[BZ_JUMP + 1] = 0x66; /* header ends at 0x268 */
    memcpy(p + BZ_HEADER, "HdrS", 4);
    put16(p, BZ_VERSION, 0x020f);
    p[BZ_LOADFLAGS] = BZ_LOADED_HIGH;
    put32(p, BZ_INITRD_ADDR_MAX, 0x7fffffff);
    put32(p, BZ_KERNEL_ALIGNMENT, 0x200000);
    put16(p, BZ_XLOADFLAGS, BZ_XLF_KERNEL_64);
    put32(p, BZ_CMDLINE_SIZE, 2047);
    put32(p, BZ_INIT_SIZE, 4 << 20);
    memset(p + 5 * 512, 0xcc, payload);
    return p;
}

struct vm {
    struct hv_memory mem;
    struct hv_e820_entry e820[HV_E820_MAX];
    unsigned n;
};

static void vm_init(struct vm *vm, uint64_t size)
{
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, size, 0), ==, 0);
    g_assert_cmpint(hv_memory_alloc(&vm->mem, &l, 0), ==, 0);
    vm->n = hv_e820_build(&l, vm->e820, HV_E820_MAX);
}

static void test_parse_ok(void)
{
    size_t size;
    g_autofree uint8_t *img = fake_bzimage(8192, &size);
    struct hv_bzimage bz;
    char *err = NULL;
    g_assert_cmpint(hv_bzimage_parse(img, size, &bz, &err), ==, 0);
    g_assert_null(err);
    g_assert_cmpuint(bz.version, ==, 0x20f);
    g_assert_cmpuint(bz.setup_size, ==, 5 * 512);
    g_assert_cmpuint(bz.kernel_size, ==, 8192);
    g_assert_cmpuint(bz.init_size, ==, 4 << 20);
    g_assert_cmpuint(bz.cmdline_size, ==, 2047);
}

static void expect_parse_error(const uint8_t *img, size_t size, const char *needle)
{
    struct hv_bzimage bz;
    char *err = NULL;
    g_assert_cmpint(hv_bzimage_parse(img, size, &bz, &err), <, 0);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err, needle));
    g_assert_null(strchr(err, '\n'));
    g_free(err);
}

static void test_parse_errors(void)
{
    size_t size;
    g_autofree uint8_t *img = fake_bzimage(8192, &size);
    uint8_t junk[4096] = {0x7f, 'E', 'L', 'F'};
    expect_parse_error(junk, sizeof(junk), "not a Linux bzImage");
    expect_parse_error(img, 100, "not a Linux bzImage");

    put16(img, BZ_VERSION, 0x0205);
    expect_parse_error(img, size, "2.05");
    put16(img, BZ_VERSION, 0x020f);

    put16(img, BZ_XLOADFLAGS, 0);
    expect_parse_error(img, size, "32-bit");
    put16(img, BZ_XLOADFLAGS, BZ_XLF_KERNEL_64);

    img[BZ_LOADFLAGS] = 0;
    expect_parse_error(img, size, "zImage");
    img[BZ_LOADFLAGS] = BZ_LOADED_HIGH;

    img[BZ_SETUP_SECTS] = 200;
    expect_parse_error(img, size, "truncated");
}

static void test_load(void)
{
    size_t size;
    g_autofree uint8_t *img = fake_bzimage(8192, &size);
    struct hv_bzimage bz;
    char *err = NULL;
    g_assert_cmpint(hv_bzimage_parse(img, size, &bz, &err), ==, 0);

    struct vm vm;
    vm_init(&vm, HV_MiB(128));
    uint8_t initrd[10000];
    for (size_t i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i * 7);
    struct hv_boot_request req = {
        .cmdline = "console=ttyS0 root=/dev/vda",
        .initrd = initrd,
        .initrd_size = sizeof(initrd),
        .rsdp = 0xe0000,
        .e820 = vm.e820,
        .e820_entries = vm.n,
    };
    struct hv_boot_info info;
    g_assert_cmpint(hv_bzimage_load(&vm.mem, &bz, &req, &info, &err), ==, 0);
    g_assert_cmphex(info.entry, ==, 0x100200);
    g_assert_cmphex(info.zero_page, ==, HV_BOOT_ZERO_PAGE);

    /* The protected-mode payload lands at 1 MiB. */
    const uint8_t *k = hv_memory_ptr(&vm.mem, 0x100000, 8192);
    g_assert_cmpuint(k[0], ==, 0xcc);
    g_assert_cmpuint(k[8191], ==, 0xcc);

    const uint8_t *zp = hv_memory_ptr(&vm.mem, HV_BOOT_ZERO_PAGE, 4096);
    g_assert_cmpmem(zp + BZ_HEADER, 4, "HdrS", 4);
    g_assert_cmpuint(zp[BZ_TYPE_OF_LOADER], ==, 0xff);
    g_assert_true(zp[BZ_LOADFLAGS] & BZ_CAN_USE_HEAP);
    g_assert_cmphex(get32(zp, BZ_CMD_LINE_PTR), ==, HV_BOOT_CMDLINE);
    g_assert_cmpstr(hv_memory_ptr(&vm.mem, HV_BOOT_CMDLINE, 1), ==,
                    "console=ttyS0 root=/dev/vda");
    g_assert_cmphex(get64(zp, ZP_ACPI_RSDP_ADDR), ==, 0xe0000);

    /* The initrd sits page-aligned at the top of RAM, intact. */
    uint32_t addr = get32(zp, BZ_RAMDISK_IMAGE);
    g_assert_cmpuint(get32(zp, BZ_RAMDISK_SIZE), ==, sizeof(initrd));
    g_assert_cmpuint(addr % 4096, ==, 0);
    g_assert_cmpuint(addr + sizeof(initrd), <=, HV_MiB(128));
    g_assert_cmpuint(addr + sizeof(initrd), >, HV_MiB(128) - 4096);
    g_assert_cmpuint(addr, >=, info.kernel_end);
    g_assert_cmpmem(hv_memory_ptr(&vm.mem, addr, sizeof(initrd)), sizeof(initrd), initrd,
                    sizeof(initrd));

    /* The e820 map in the zero page is the one we built. */
    g_assert_cmpuint(zp[ZP_E820_ENTRIES], ==, vm.n);
    for (unsigned i = 0; i < vm.n; i++) {
        const uint8_t *e = zp + ZP_E820_TABLE + 20 * i;
        g_assert_cmphex(get64(e, 0), ==, vm.e820[i].addr);
        g_assert_cmphex(get64(e, 8), ==, vm.e820[i].size);
        g_assert_cmpuint(get32(e, 16), ==, vm.e820[i].type);
    }
    hv_memory_free(&vm.mem);
}

static void test_initrd_respects_addr_max(void)
{
    size_t size;
    g_autofree uint8_t *img = fake_bzimage(4096, &size);
    put32(img, BZ_INITRD_ADDR_MAX, 0x3fffffff); /* 1 GiB */
    struct hv_bzimage bz;
    char *err = NULL;
    g_assert_cmpint(hv_bzimage_parse(img, size, &bz, &err), ==, 0);
    struct vm vm;
    vm_init(&vm, HV_GiB(2));
    uint8_t initrd[4096] = {1};
    struct hv_boot_request req = {.cmdline = "", .initrd = initrd, .initrd_size = 4096,
                                  .e820 = vm.e820, .e820_entries = vm.n};
    struct hv_boot_info info;
    g_assert_cmpint(hv_bzimage_load(&vm.mem, &bz, &req, &info, &err), ==, 0);
    g_assert_cmphex(info.initrd_addr, ==, HV_GiB(1) - 4096);
    hv_memory_free(&vm.mem);
}

static void test_initrd_too_big(void)
{
    size_t size;
    g_autofree uint8_t *img = fake_bzimage(4096, &size);
    struct hv_bzimage bz;
    char *err = NULL;
    g_assert_cmpint(hv_bzimage_parse(img, size, &bz, &err), ==, 0);
    struct vm vm;
    vm_init(&vm, HV_MiB(32));
    size_t big = HV_MiB(40);
    g_autofree uint8_t *initrd = g_malloc0(big);
    struct hv_boot_request req = {.cmdline = "", .initrd = initrd, .initrd_size = big,
                                  .initrd_name = "big.img", .e820 = vm.e820,
                                  .e820_entries = vm.n};
    struct hv_boot_info info;
    g_assert_cmpint(hv_bzimage_load(&vm.mem, &bz, &req, &info, &err), ==, -ENOSPC);
    g_assert_nonnull(strstr(err, "--initrd big.img"));
    g_assert_nonnull(strstr(err, "40960 KiB"));
    g_free(err);
    hv_memory_free(&vm.mem);
}

static void test_cmdline_too_long(void)
{
    size_t size;
    g_autofree uint8_t *img = fake_bzimage(4096, &size);
    put32(img, BZ_CMDLINE_SIZE, 16);
    struct hv_bzimage bz;
    char *err = NULL;
    g_assert_cmpint(hv_bzimage_parse(img, size, &bz, &err), ==, 0);
    struct vm vm;
    vm_init(&vm, HV_MiB(32));
    struct hv_boot_request req = {.cmdline = "0123456789abcdef", .e820 = vm.e820,
                                  .e820_entries = vm.n};
    struct hv_boot_info info;
    g_assert_cmpint(hv_bzimage_load(&vm.mem, &bz, &req, &info, &err), ==, 0);
    req.cmdline = "0123456789abcdefX";
    g_assert_cmpint(hv_bzimage_load(&vm.mem, &bz, &req, &info, &err), ==, -EINVAL);
    g_assert_nonnull(strstr(err, "--cmdline is 17 bytes"));
    g_free(err);
    hv_memory_free(&vm.mem);
}

static void test_kernel_too_big(void)
{
    size_t size;
    g_autofree uint8_t *img = fake_bzimage(4096, &size);
    put32(img, BZ_INIT_SIZE, 64 << 20);
    struct hv_bzimage bz;
    char *err = NULL;
    g_assert_cmpint(hv_bzimage_parse(img, size, &bz, &err), ==, 0);
    struct vm vm;
    vm_init(&vm, HV_MiB(32));
    struct hv_boot_request req = {.cmdline = "", .e820 = vm.e820, .e820_entries = vm.n};
    struct hv_boot_info info;
    g_assert_cmpint(hv_bzimage_load(&vm.mem, &bz, &req, &info, &err), ==, -ENOSPC);
    g_assert_nonnull(strstr(err, "needs 64 MiB"));
    g_free(err);
    hv_memory_free(&vm.mem);
}

/* Debian's kernel, when the test run has one at hand ($VMDESK_TEST_BZIMAGE). */
static void test_real_kernel(void)
{
    const char *path = g_getenv("VMDESK_TEST_BZIMAGE");
    if (!path || !g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_test_skip("VMDESK_TEST_BZIMAGE names no kernel image");
        return;
    }
    g_autofree char *data = NULL;
    gsize size;
    g_assert_true(g_file_get_contents(path, &data, &size, NULL));
    struct hv_bzimage bz;
    char *err = NULL;
    g_assert_cmpint(hv_bzimage_parse(data, size, &bz, &err), ==, 0);
    g_assert_cmpuint(bz.version, >=, 0x20c);
    g_assert_cmpuint(bz.cmdline_size, >=, 255);
    g_assert_cmpuint(bz.init_size, >, bz.kernel_size);

    struct vm vm;
    vm_init(&vm, HV_MiB(512));
    struct hv_boot_request req = {.cmdline = "console=ttyS0 quiet", .e820 = vm.e820,
                                  .e820_entries = vm.n};
    struct hv_boot_info info;
    g_assert_cmpint(hv_bzimage_load(&vm.mem, &bz, &req, &info, &err), ==, 0);
    const uint8_t *zp = hv_memory_ptr(&vm.mem, HV_BOOT_ZERO_PAGE, 4096);
    /* The copied header is the kernel's own, with our loader fields on top. */
    g_assert_cmpmem(zp + BZ_HEADER, 4, "HdrS", 4);
    g_assert_cmpmem(zp + BZ_VERSION, 2, data + BZ_VERSION, 2);
    g_assert_cmpmem(zp + BZ_INIT_SIZE, 4, data + BZ_INIT_SIZE, 4);
    g_assert_cmphex(get32(zp, BZ_CMD_LINE_PTR), ==, HV_BOOT_CMDLINE);
    g_assert_cmpmem(hv_memory_ptr(&vm.mem, 0x100000, 64), 64, data + bz.setup_size, 64);
    hv_memory_free(&vm.mem);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/bzimage/parse-ok", test_parse_ok);
    g_test_add_func("/bzimage/parse-errors", test_parse_errors);
    g_test_add_func("/bzimage/load", test_load);
    g_test_add_func("/bzimage/initrd-respects-addr-max", test_initrd_respects_addr_max);
    g_test_add_func("/bzimage/initrd-too-big", test_initrd_too_big);
    g_test_add_func("/bzimage/cmdline-too-long", test_cmdline_too_long);
    g_test_add_func("/bzimage/kernel-too-big", test_kernel_too_big);
    g_test_add_func("/bzimage/real-kernel", test_real_kernel);
    return g_test_run();
}
