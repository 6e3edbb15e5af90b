/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A bzImage's kernel decompressed on the host (and cached), loaded as the ELF it is. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/memory.h"
#include "x86/bzimage.h"

/*
 * Why: a distribution kernel's decompressor runs several seconds of guest code before
 * Linux starts (xz, some 65 MB); the host does the same work natively, once per kernel
 * file, and the guest then starts at the kernel's own 64-bit entry, as Firecracker's
 * vmlinux boot does. What it costs: no KASLR for the guest's kernel image.
 */

/*
 * The decompressed ELF for `bz` (read from `kernel_path`), from the cache in `cache_dir`
 * or decompressed now and stored there (if it is writable). Returns a mapping, or NULL:
 * with *err NULL when the payload's format is not one vmdesk decompresses (the caller
 * then boots the bzImage as it is), or with *err set on a real failure.
 */
GMappedFile *hv_vmlinux_get(const struct hv_bzimage *bz, const char *kernel_path,
                            const char *cache_dir, char **err);

/*
 * Copies the ELF's PT_LOAD segments to their physical addresses in guest RAM (zeroing
 * what the file does not cover). Returns 0 with the entry point and the end of the
 * image, or -EINVAL / -ENOSPC with *err saying what is wrong.
 */
int hv_vmlinux_load(struct hv_memory *mem, const uint8_t *elf, size_t size, uint64_t *entry,
                    uint64_t *end, char **err);
