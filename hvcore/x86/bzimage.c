/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Loading a Linux bzImage by the x86 boot protocol (2.06+) through its 64-bit entry. */
#include "x86/bzimage.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#include "x86/cpu-setup.h"
#include "x86/vmlinux.h"

#define PAGE 4096ULL

static uint16_t get16(const uint8_t *p, size_t off)
{
    return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t get32(const uint8_t *p, size_t off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
           (uint32_t)p[off + 3] << 24;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
    memcpy(p + off, &v, sizeof(v));
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
    memcpy(p + off, &v, sizeof(v));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
    memcpy(p + off, &v, sizeof(v));
}

int hv_bzimage_parse(const void *data, size_t size, struct hv_bzimage *bz, char **err)
{
    const uint8_t *p = data;
    memset(bz, 0, sizeof(*bz));
    if (size < BZ_INIT_SIZE + 4 || get16(p, BZ_BOOT_FLAG) != 0xaa55 ||
        memcmp(p + BZ_HEADER, "HdrS", 4) != 0) {
        *err = g_strdup("is not a Linux bzImage (no boot protocol header)");
        return -EINVAL;
    }
    bz->version = get16(p, BZ_VERSION);
    if (bz->version < 0x206) {
        *err = g_strdup_printf("uses boot protocol %u.%02u; vmdesk needs 2.06 or later",
                               bz->version >> 8, bz->version & 0xff);
        return -EINVAL;
    }
    if (!(p[BZ_LOADFLAGS] & BZ_LOADED_HIGH)) {
        *err = g_strdup("is a zImage that loads below 1 MiB; vmdesk needs a bzImage");
        return -EINVAL;
    }
    if (bz->version >= 0x20c && !(get16(p, BZ_XLOADFLAGS) & BZ_XLF_KERNEL_64)) {
        *err = g_strdup("is a 32-bit kernel; vmdesk boots x86-64 kernels");
        return -EINVAL;
    }
    unsigned sects = p[BZ_SETUP_SECTS] ? p[BZ_SETUP_SECTS] : 4;
    bz->setup_size = (size_t)(sects + 1) * 512;
    if (bz->setup_size >= size) {
        *err = g_strdup("is truncated: the setup code is larger than the file");
        return -EINVAL;
    }
    bz->data = p;
    bz->size = size;
    bz->kernel_size = size - bz->setup_size;
    bz->cmdline_size = get32(p, BZ_CMDLINE_SIZE);
    bz->initrd_addr_max = get32(p, BZ_INITRD_ADDR_MAX);
    if (!bz->initrd_addr_max)
        bz->initrd_addr_max = 0x37ffffff;
    /* Before 2.10 there is no init_size; the decompressor needs room of its own. */
    bz->init_size = bz->version >= 0x20a ? get32(p, BZ_INIT_SIZE) : 0;
    if (bz->init_size < bz->kernel_size)
        bz->init_size = (uint32_t)MIN((uint64_t)bz->kernel_size * 4, UINT32_MAX);
    return 0;
}

/* The highest usable RAM address below 4 GiB that the e820 map gives, as an end. */
static uint64_t low_ram_end(const struct hv_boot_request *req)
{
    uint64_t end = 0;
    for (unsigned i = 0; i < req->e820_entries; i++) {
        const struct hv_e820_entry *e = &req->e820[i];
        if (e->type == HV_E820_RAM && e->addr <= HV_BOOT_KERNEL &&
            e->addr + e->size > HV_BOOT_KERNEL)
            end = e->addr + e->size;
    }
    return end;
}

int hv_bzimage_load(struct hv_memory *mem, const struct hv_bzimage *bz,
                    const struct hv_boot_request *req, struct hv_boot_info *info, char **err)
{
    memset(info, 0, sizeof(*info));
    uint64_t ram_end = low_ram_end(req);
    uint64_t entry = HV_BOOT_KERNEL + 0x200;
    uint64_t kernel_end = (HV_BOOT_KERNEL + bz->init_size + PAGE - 1) & ~(PAGE - 1);
    if (req->vmlinux) {
        uint64_t end;
        int r = hv_vmlinux_load(mem, req->vmlinux, req->vmlinux_size, &entry, &end, err);
        if (r < 0)
            return r;
        kernel_end = (end + PAGE - 1) & ~(PAGE - 1);
    } else if (kernel_end > ram_end) {
        *err = g_strdup_printf("needs %u MiB of RAM above 1 MiB to boot; the VM has %llu MiB",
                               (bz->init_size + (1u << 20) - 1) >> 20,
                               (unsigned long long)((ram_end - HV_BOOT_KERNEL) >> 20));
        return -ENOSPC;
    }

    size_t cmdline_len = req->cmdline ? strlen(req->cmdline) : 0;
    uint64_t cmdline_max = MIN((uint64_t)bz->cmdline_size, HV_BOOT_CMDLINE_MAX - 1);
    if (cmdline_len > cmdline_max) {
        *err = g_strdup_printf("--cmdline is %zu bytes long; this kernel takes at most %llu",
                               cmdline_len, (unsigned long long)cmdline_max);
        return -EINVAL;
    }

    uint64_t initrd_addr = 0;
    if (req->initrd_size) {
        uint64_t top = MIN((uint64_t)bz->initrd_addr_max + 1, ram_end);
        uint64_t room = top > kernel_end ? top - kernel_end : 0;
        if (req->initrd_size > room) {
            *err = g_strdup_printf("--initrd %s is %llu KiB but only %llu KiB of guest RAM "
                                   "is free for it below 0x%llx; give the VM more --memory",
                                   req->initrd_name ? req->initrd_name : "",
                                   (unsigned long long)(req->initrd_size >> 10),
                                   (unsigned long long)(room >> 10),
                                   (unsigned long long)top);
            return -ENOSPC;
        }
        initrd_addr = (top - req->initrd_size) & ~(PAGE - 1);
        memcpy(hv_memory_ptr(mem, initrd_addr, req->initrd_size), req->initrd,
               req->initrd_size);
    }

    if (!req->vmlinux)
        memcpy(hv_memory_ptr(mem, HV_BOOT_KERNEL, bz->kernel_size), bz->data + bz->setup_size,
               bz->kernel_size);

    char *cmdline = hv_memory_ptr(mem, HV_BOOT_CMDLINE, cmdline_len + 1);
    memcpy(cmdline, req->cmdline ? req->cmdline : "", cmdline_len);
    cmdline[cmdline_len] = '\0';

    uint8_t *zp = hv_memory_ptr(mem, HV_BOOT_ZERO_PAGE, PAGE);
    memset(zp, 0, PAGE);
    /* The setup header runs from 0x1f1 to the end the jump at 0x200 points to. */
    size_t hdr_end = MIN((size_t)BZ_HEADER + bz->data[BZ_JUMP + 1], (size_t)0x290);
    hdr_end = MIN(hdr_end, bz->size);
    memcpy(zp + BZ_SETUP_SECTS, bz->data + BZ_SETUP_SECTS, hdr_end - BZ_SETUP_SECTS);
    put16(zp, BZ_VID_MODE, 0xffff);
    zp[BZ_TYPE_OF_LOADER] = 0xff;
    zp[BZ_LOADFLAGS] |= BZ_CAN_USE_HEAP;
    put16(zp, BZ_HEAP_END_PTR, 0xfe00);
    put32(zp, BZ_CMD_LINE_PTR, (uint32_t)HV_BOOT_CMDLINE);
    put32(zp, ZP_EXT_CMD_LINE_PTR, 0);
    put32(zp, BZ_RAMDISK_IMAGE, (uint32_t)initrd_addr);
    put32(zp, BZ_RAMDISK_SIZE, (uint32_t)req->initrd_size);
    put32(zp, ZP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
    put32(zp, ZP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)req->initrd_size >> 32));
    put64(zp, ZP_ACPI_RSDP_ADDR, req->rsdp);

    unsigned n = MIN(req->e820_entries, (unsigned)HV_E820_MAX);
    zp[ZP_E820_ENTRIES] = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = zp + ZP_E820_TABLE + 20 * i;
        put64(e, 0, req->e820[i].addr);
        put64(e, 8, req->e820[i].size);
        put32(e, 16, req->e820[i].type);
    }

    info->entry = entry;
    info->zero_page = HV_BOOT_ZERO_PAGE;
    info->kernel_end = kernel_end;
    info->initrd_addr = initrd_addr;
    return 0;
}
