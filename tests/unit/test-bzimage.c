/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the Linux boot-protocol loader: header checks, zero page, placement. */
#include <glib.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kvm/memory.h"
#include "x86/bzimage.h"
#include "x86/cpu-setup.h"
#include "x86/e820.h"
#include "x86/vmlinux.h"

#include <elf.h>
#include <glib/gstdio.h>
#include <zlib.h>

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

/* A tiny x86-64 ELF: a 16-byte segment at 2 MiB and a 4 KiB one (8 bytes in the file). */
/* An x86-64 executable's header with `phnum` program headers right after it. */
static Elf64_Ehdr elf_header(uint64_t entry, unsigned phnum)
{
    Elf64_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_entry = entry;
    eh.e_phoff = sizeof(eh);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = (Elf64_Half)phnum;
    return eh;
}

static GByteArray *tiny_elf(void)
{
    GByteArray *a = g_byte_array_new();
    Elf64_Ehdr eh = elf_header(0x200000, 2);
    Elf64_Phdr ph[2] = {
        {.p_type = PT_LOAD, .p_offset = 0x100, .p_paddr = 0x200000, .p_filesz = 16,
         .p_memsz = 16},
        {.p_type = PT_LOAD, .p_offset = 0x110, .p_paddr = 0x300000, .p_filesz = 8,
         .p_memsz = 4096},
    };
    g_byte_array_append(a, (const guint8 *)&eh, sizeof(eh));
    g_byte_array_append(a, (const guint8 *)ph, sizeof(ph));
    g_byte_array_set_size(a, 0x118);
    memset(a->data + sizeof(eh) + sizeof(ph), 0, 0x100 - sizeof(eh) - sizeof(ph));
    memset(a->data + 0x100, 0xab, 16);
    memset(a->data + 0x110, 0xcd, 8);
    return a;
}

/* A bzImage whose payload is `payload` (2.15 header with payload_offset/length). */
static uint8_t *bzimage_with_payload(const uint8_t *payload, size_t len, size_t *size)
{
    uint8_t *img = fake_bzimage(len + 64, size);
    put32(img, 0x248, 64);
    put32(img, 0x24c, (uint32_t)len);
    memcpy(img + 5 * 512 + 64, payload, len);
    return img;
}

static GByteArray *gzip(const GByteArray *in)
{
    z_stream z = {0};
    g_assert_cmpint(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), ==,
                    Z_OK);
    GByteArray *out = g_byte_array_sized_new((guint)compressBound(in->len) + 64);
    g_byte_array_set_size(out, (guint)compressBound(in->len) + 64);
    z.next_in = in->data;
    z.avail_in = in->len;
    z.next_out = out->data;
    z.avail_out = out->len;
    g_assert_cmpint(deflate(&z, Z_FINISH), ==, Z_STREAM_END);
    g_byte_array_set_size(out, (guint)z.total_out);
    deflateEnd(&z);
    return out;
}

/* A bzImage file whose payload is `elf` gzipped, in a fresh folder with a cache folder. */
struct kernel_files {
    char *dir, *kernel, *cache;
    uint8_t *img;
    size_t size;
    struct hv_bzimage bz;
};

static void kernel_files_make(struct kernel_files *k, const GByteArray *elf)
{
    g_autoptr(GByteArray) gz = gzip(elf);
    k->img = bzimage_with_payload(gz->data, gz->len, &k->size);
    k->dir = g_dir_make_tmp("vmdesk-vmlinux-XXXXXX", NULL);
    g_assert_nonnull(k->dir);
    k->kernel = g_build_filename(k->dir, "bzImage", NULL);
    g_assert_true(g_file_set_contents(k->kernel, (const char *)k->img, (gssize)k->size, NULL));
    k->cache = g_build_filename(k->dir, "cache", NULL);
    char *err = NULL;
    g_assert_cmpint(hv_bzimage_parse(k->img, k->size, &k->bz, &err), ==, 0);
}

static void kernel_files_clear(struct kernel_files *k)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", k->dir);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(k->dir);
    g_free(k->kernel);
    g_free(k->cache);
    g_free(k->img);
}

static void test_vmlinux(void)
{
    g_autoptr(GByteArray) elf = tiny_elf();
    struct kernel_files k;
    kernel_files_make(&k, elf);
    struct hv_bzimage bz = k.bz;
    const char *kernel = k.kernel;
    char *err = NULL;
    GMappedFile *f = hv_vmlinux_get(&bz, kernel, k.cache, &err);
    g_assert_null(err);
    g_assert_nonnull(f);
    g_assert_cmpuint(g_mapped_file_get_length(f), ==, elf->len);
    g_assert_cmpmem(g_mapped_file_get_contents(f), elf->len, elf->data, elf->len);
    g_mapped_file_unref(f);
    /* The second start reads the cache, which now holds exactly one kernel. */
    g_autoptr(GDir) d = g_dir_open(k.cache, 0, NULL);
    g_assert_nonnull(g_dir_read_name(d));
    g_assert_null(g_dir_read_name(d));
    f = hv_vmlinux_get(&bz, kernel, k.cache, &err);
    g_assert_nonnull(f);

    struct vm vm;
    vm_init(&vm, HV_MiB(64));
    uint8_t *junk = hv_memory_ptr(&vm.mem, 0x300000, 4096);
    memset(junk, 0x77, 4096);
    vm.mem.guest_ran = true; /* as after a reset: the loader clears the bss */
    uint8_t initrd[4096] = {9};
    struct hv_boot_request req = {
        .cmdline = "console=ttyS0", .initrd = initrd, .initrd_size = sizeof(initrd),
        .e820 = vm.e820, .e820_entries = vm.n,
        .vmlinux = (const uint8_t *)g_mapped_file_get_contents(f),
        .vmlinux_size = g_mapped_file_get_length(f),
    };
    struct hv_boot_info info;
    g_assert_cmpint(hv_bzimage_load(&vm.mem, &bz, &req, &info, &err), ==, 0);
    g_assert_cmphex(info.entry, ==, 0x200000);
    g_assert_cmphex(info.kernel_end, ==, 0x301000);
    const uint8_t *a = hv_memory_ptr(&vm.mem, 0x200000, 16);
    for (int i = 0; i < 16; i++)
        g_assert_cmpuint(a[i], ==, 0xab);
    /* File bytes, then zeroes for the rest of the segment (its bss). */
    g_assert_cmpuint(junk[0], ==, 0xcd);
    g_assert_cmpuint(junk[7], ==, 0xcd);
    g_assert_cmpuint(junk[8], ==, 0);
    g_assert_cmpuint(junk[4095], ==, 0);
    /* The 1 MiB copy of a bzImage boot did not happen. */
    g_assert_cmpuint(*(uint8_t *)hv_memory_ptr(&vm.mem, 0x100000, 1), ==, 0);
    g_mapped_file_unref(f);
    hv_memory_free(&vm.mem);

    /* A payload in a format vmdesk does not decompress, or a corrupt one: no vmlinux,
     * no error; the guest's own decompressor runs instead. */
    size_t size;
    g_autoptr(GByteArray) gz = gzip(elf);
    g_autofree uint8_t *raw = bzimage_with_payload(elf->data, elf->len, &size);
    g_assert_cmpint(hv_bzimage_parse(raw, size, &bz, &err), ==, 0);
    g_assert_null(hv_vmlinux_get(&bz, kernel, NULL, &err));
    g_assert_null(err);
    gz->data[gz->len / 2] ^= 0xff;
    g_autofree uint8_t *bad = bzimage_with_payload(gz->data, gz->len, &size);
    g_assert_cmpint(hv_bzimage_parse(bad, size, &bz, &err), ==, 0);
    g_assert_null(hv_vmlinux_get(&bz, kernel, NULL, &err));
    g_assert_null(err);

    kernel_files_clear(&k);
}

/*
 * Zero pages: a segment of 5 file pages (data, zero, data, zero, zero) and a 6th of bss.
 * The cache keeps 3 of them in p_filesz; loading into fresh RAM touches only the data
 * pages, and loading over an earlier boot's bytes (a reset) leaves the file's bytes and
 * zeroes.
 */
static void test_vmlinux_zero_pages(void)
{
    const size_t pg = 4096, off = 0x1000;
    Elf64_Ehdr eh = elf_header(0x400000, 1);
    Elf64_Phdr ph = {.p_type = PT_LOAD, .p_offset = off, .p_paddr = 0x400000,
                     .p_filesz = 5 * pg, .p_memsz = 6 * pg};
    g_autoptr(GByteArray) elf = g_byte_array_new();
    g_byte_array_set_size(elf, off + 5 * pg);
    memset(elf->data, 0, elf->len);
    memcpy(elf->data, &eh, sizeof(eh));
    memcpy(elf->data + sizeof(eh), &ph, sizeof(ph));
    memset(elf->data + off, 0x11, pg);
    elf->data[off + 2 * pg + 100] = 0x22; /* page 2: one byte */

    struct kernel_files k;
    kernel_files_make(&k, elf);
    char *err = NULL;
    GMappedFile *f = hv_vmlinux_get(&k.bz, k.kernel, k.cache, &err);
    g_assert_nonnull(f);
    Elf64_Phdr got;
    memcpy(&got, g_mapped_file_get_contents(f) + sizeof(eh), sizeof(got));
    g_assert_cmpuint(got.p_filesz, ==, 3 * pg);
    g_assert_cmpuint(got.p_memsz, ==, 6 * pg);

    struct vm vm;
    vm_init(&vm, HV_MiB(64));
    uint8_t *ram = hv_memory_ptr(&vm.mem, 0x400000 - pg, 8 * pg);
    uint8_t *seg = ram + pg;
    const uint8_t *data = (const uint8_t *)g_mapped_file_get_contents(f);
    size_t len = g_mapped_file_get_length(f);
    uint64_t entry, end;

    /* Fresh RAM: the zero pages (1, 3, 4 and the bss page 5) are not even touched. (Not
       on huge pages, which a host with THP "always" would give, and mincore would see.) */
    madvise(vm.mem.host, vm.mem.host_size, MADV_NOHUGEPAGE);
    g_assert_cmpint(hv_vmlinux_load(&vm.mem, data, len, &entry, &end, &err), ==, 0);
    g_assert_cmphex(end, ==, 0x400000 + 6 * pg);
    unsigned char resident[6];
    g_assert_cmpint(mincore(seg, 6 * pg, resident), ==, 0);
    for (unsigned i = 0; i < 6; i++)
        g_assert_cmpuint(resident[i] & 1, ==, i == 0 || i == 2);

    /* After a reset: the guest's old bytes everywhere, and the load leaves only the file's. */
    memset(ram, 0x55, 8 * pg);
    vm.mem.guest_ran = true;
    g_assert_cmpint(hv_vmlinux_load(&vm.mem, data, len, &entry, &end, &err), ==, 0);
    for (size_t i = 0; i < 6 * pg; i++) {
        uint8_t want = i < pg ? 0x11 : i == 2 * pg + 100 ? 0x22 : 0;
        if (seg[i] != want)
            g_error("byte 0x%zx of the segment: 0x%02x, expected 0x%02x", i, seg[i], want);
    }
    /* Around the segment: untouched. */
    g_assert_cmpuint(ram[pg - 1], ==, 0x55);
    g_assert_cmpuint(seg[6 * pg], ==, 0x55);
    g_mapped_file_unref(f);
    hv_memory_free(&vm.mem);
    kernel_files_clear(&k);
}

static void test_vmlinux_elf_errors(void)
{
    struct vm vm;
    vm_init(&vm, HV_MiB(16));
    uint64_t entry, end;
    char *err = NULL;
    uint8_t junk[64] = {0x7f, 'E', 'L', 'F', 1};
    g_assert_cmpint(hv_vmlinux_load(&vm.mem, junk, sizeof(junk), &entry, &end, &err), ==,
                    -EINVAL);
    g_assert_nonnull(strstr(err, "not an x86-64 ELF"));
    g_clear_pointer(&err, g_free);
    g_autoptr(GByteArray) elf = tiny_elf();
    /* A segment beyond RAM. */
    Elf64_Phdr *ph = (Elf64_Phdr *)(void *)(elf->data + sizeof(Elf64_Ehdr));
    ph[1].p_paddr = HV_MiB(15);
    ph[1].p_memsz = HV_MiB(2);
    g_assert_cmpint(hv_vmlinux_load(&vm.mem, elf->data, elf->len, &entry, &end, &err), ==,
                    -ENOSPC);
    g_assert_nonnull(strstr(err, "give the VM more --memory"));
    g_clear_pointer(&err, g_free);
    /* File bytes past the end of the file. */
    ph[1].p_paddr = 0x300000;
    ph[1].p_memsz = 4096;
    ph[1].p_filesz = 4096;
    g_assert_cmpint(hv_vmlinux_load(&vm.mem, elf->data, elf->len, &entry, &end, &err), ==,
                    -EINVAL);
    g_assert_nonnull(strstr(err, "broken ELF segment"));
    g_free(err);
    hv_memory_free(&vm.mem);
}

/* Debian's xz-compressed kernel decompresses to the ELF whose entry is startup_64. */
static void test_real_vmlinux(void)
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
    GMappedFile *f = hv_vmlinux_get(&bz, path, NULL, &err);
    g_assert_null(err);
    g_assert_nonnull(f);
    struct vm vm;
    vm_init(&vm, HV_MiB(512));
    uint64_t entry, end;
    g_assert_cmpint(hv_vmlinux_load(&vm.mem, (const uint8_t *)g_mapped_file_get_contents(f),
                                    g_mapped_file_get_length(f), &entry, &end, &err), ==, 0);
    g_assert_cmphex(entry, ==, 0x1000000); /* LOAD_PHYSICAL_ADDR */
    g_assert_cmpuint(end, >, entry);
    g_mapped_file_unref(f);
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
    g_test_add_func("/bzimage/vmlinux", test_vmlinux);
    g_test_add_func("/bzimage/vmlinux-zero-pages", test_vmlinux_zero_pages);
    g_test_add_func("/bzimage/vmlinux-elf-errors", test_vmlinux_elf_errors);
    g_test_add_func("/bzimage/real-vmlinux", test_real_vmlinux);
    return g_test_run();
}
