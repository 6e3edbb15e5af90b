/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Loading a Linux bzImage by the x86 boot protocol (2.06+) through its 64-bit entry. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kvm/memory.h"
#include "x86/e820.h"

/* Offsets in the bzImage file and in struct boot_params (the zero page). */
#define BZ_SETUP_SECTS 0x1f1
#define BZ_VID_MODE 0x1fa
#define BZ_BOOT_FLAG 0x1fe
#define BZ_JUMP 0x200
#define BZ_HEADER 0x202
#define BZ_VERSION 0x206
#define BZ_TYPE_OF_LOADER 0x210
#define BZ_LOADFLAGS 0x211
#define BZ_RAMDISK_IMAGE 0x218
#define BZ_RAMDISK_SIZE 0x21c
#define BZ_HEAP_END_PTR 0x224
#define BZ_CMD_LINE_PTR 0x228
#define BZ_INITRD_ADDR_MAX 0x22c
#define BZ_KERNEL_ALIGNMENT 0x230
#define BZ_RELOCATABLE 0x234
#define BZ_XLOADFLAGS 0x236
#define BZ_CMDLINE_SIZE 0x238
#define BZ_PREF_ADDRESS 0x258
#define BZ_INIT_SIZE 0x260
#define ZP_ACPI_RSDP_ADDR 0x070
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE 0x0c4
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_E820_TABLE 0x2d0

#define BZ_LOADED_HIGH 0x01
#define BZ_CAN_USE_HEAP 0x80
#define BZ_XLF_KERNEL_64 0x01

struct hv_bzimage {
    const uint8_t *data;
    size_t size;
    uint16_t version;
    size_t setup_size;  /* real-mode part: (setup_sects + 1) * 512 */
    size_t kernel_size; /* protected-mode part, loaded at HV_BOOT_KERNEL */
    uint32_t init_size; /* memory the kernel needs from its load address while booting */
    uint32_t cmdline_size;
    uint32_t initrd_addr_max;
};

/* Checks the setup header. On error *err names what is wrong with the file. */
int hv_bzimage_parse(const void *data, size_t size, struct hv_bzimage *bz, char **err);

struct hv_boot_request {
    const char *cmdline;
    const void *initrd;
    size_t initrd_size;
    const char *initrd_name; /* for messages */
    uint64_t rsdp;           /* 0: none */
    /* The kernel decompressed on the host (x86/vmlinux.h), or NULL to let the bzImage's
     * own decompressor run in the guest. */
    const uint8_t *vmlinux;
    size_t vmlinux_size;
    const struct hv_e820_entry *e820;
    unsigned e820_entries;
};

struct hv_boot_info {
    uint64_t entry;
    uint64_t zero_page;
    uint64_t kernel_end;
    uint64_t initrd_addr;
};

/*
 * Copies the kernel to 1 MiB (or the decompressed kernel's segments to their own
 * addresses), the initrd as high in low RAM as the kernel allows,
 * the command line and the zero page into guest RAM. Returns 0, or -ENOSPC /
 * -EINVAL with *err saying what does not fit and by how much.
 */
int hv_bzimage_load(struct hv_memory *mem, const struct hv_bzimage *bz,
                    const struct hv_boot_request *req, struct hv_boot_info *info, char **err);
