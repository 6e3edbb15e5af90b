/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A bzImage's kernel decompressed on the host (and cached), loaded as the ELF it is. */
#include "x86/vmlinux.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define BZ_PAYLOAD_OFFSET 0x248
#define BZ_PAYLOAD_LENGTH 0x24c
/* A decompressed kernel bigger than this is not one. */
#define MAX_VMLINUX (512u << 20)
#define PAGE 4096u

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

enum format { FMT_NONE, FMT_XZ, FMT_LZMA, FMT_GZIP, FMT_ZSTD };

static enum format detect(const uint8_t *p, size_t n)
{
    if (n >= 6 && !memcmp(p, "\xfd" "7zXZ\0", 6))
        return FMT_XZ;
    if (n >= 3 && p[0] == 0x5d && p[1] == 0 && p[2] == 0)
        return FMT_LZMA;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return FMT_GZIP;
    if (n >= 4 && !memcmp(p, "\x28\xb5\x2f\xfd", 4))
        return FMT_ZSTD;
    return FMT_NONE;
}

static GByteArray *inflate_lzma(const uint8_t *in, size_t n, bool xz)
{
    lzma_stream s = LZMA_STREAM_INIT;
    if ((xz ? lzma_stream_decoder(&s, UINT64_MAX, 0) : lzma_alone_decoder(&s, UINT64_MAX)) !=
        LZMA_OK)
        return NULL;
    GByteArray *out = g_byte_array_sized_new(64u << 20);
    uint8_t buf[1 << 16];
    s.next_in = in;
    s.avail_in = n;
    lzma_ret r;
    do {
        s.next_out = buf;
        s.avail_out = sizeof(buf);
        r = lzma_code(&s, LZMA_FINISH);
        g_byte_array_append(out, buf, (guint)(sizeof(buf) - s.avail_out));
    } while (r == LZMA_OK && out->len <= MAX_VMLINUX);
    lzma_end(&s);
    if (r != LZMA_STREAM_END) {
        g_byte_array_unref(out);
        return NULL;
    }
    return out;
}

static GByteArray *inflate_gzip(const uint8_t *in, size_t n)
{
    z_stream s = {0};
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)
        return NULL;
    GByteArray *out = g_byte_array_sized_new(64u << 20);
    uint8_t buf[1 << 16];
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    int r;
    do {
        s.next_out = buf;
        s.avail_out = sizeof(buf);
        r = inflate(&s, Z_NO_FLUSH);
        g_byte_array_append(out, buf, (guint)(sizeof(buf) - s.avail_out));
    } while (r == Z_OK && out->len <= MAX_VMLINUX);
    inflateEnd(&s);
    if (r != Z_STREAM_END) {
        g_byte_array_unref(out);
        return NULL;
    }
    return out;
}

static GByteArray *inflate_zstd(const uint8_t *in, size_t n)
{
    ZSTD_DStream *s = ZSTD_createDStream();
    if (!s)
        return NULL;
    GByteArray *out = g_byte_array_sized_new(64u << 20);
    uint8_t buf[1 << 16];
    ZSTD_inBuffer ib = {in, n, 0};
    size_t r = 1;
    while (ib.pos < ib.size && out->len <= MAX_VMLINUX) {
        ZSTD_outBuffer ob = {buf, sizeof(buf), 0};
        r = ZSTD_decompressStream(s, &ob, &ib);
        if (ZSTD_isError(r))
            break;
        g_byte_array_append(out, buf, (guint)ob.pos);
        if (r == 0)
            break;
    }
    ZSTD_freeDStream(s);
    if (r != 0) {
        g_byte_array_unref(out);
        return NULL;
    }
    return out;
}

/* The cache file's name: the kernel file's identity, so a changed kernel misses. */
static char *cache_path(const char *cache_dir, const char *kernel_path)
{
    struct stat st;
    if (!cache_dir || stat(kernel_path, &st) < 0)
        return NULL;
    /* "2": the segments' zero tails trimmed (trim_zero_tails). */
    return g_strdup_printf("%s/2-%llx-%llx-%llx-%lld.%09ld.vmlinux", cache_dir,
                           (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                           (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec,
                           st.st_mtim.tv_nsec);
}

/* Writes the cache atomically; a failure only costs the next start a decompression. */
static void store(const char *path, const GByteArray *data)
{
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0700) < 0)
        return;
    g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    size_t done = 0;
    while (done < data->len) {
        ssize_t w = write(fd, data->data + done, data->len - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    bool ok = done == data->len && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) < 0)
        unlink(tmp);
}

static bool is_elf64(const uint8_t *p, size_t n)
{
    return n >= sizeof(Elf64_Ehdr) && !memcmp(p, ELFMAG, SELFMAG) && p[EI_CLASS] == ELFCLASS64 &&
           ((const Elf64_Ehdr *)(const void *)p)->e_machine == EM_X86_64;
}

/* Each byte equals the next and the first is zero: glibc's vectorized memcmp does it. */
static bool all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/*
 * A segment's trailing zero pages (.bss and .brk, stored as zeroes in a vmlinux: 23 MiB of
 * Debian's) move from its file size to its memory size, which the loader zeroes without
 * reading or copying anything. The ELF stays valid; only p_filesz shrinks.
 */
static void trim_zero_tails(GByteArray *elf)
{
    Elf64_Ehdr eh;
    memcpy(&eh, elf->data, sizeof(eh));
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > elf->len ||
        (elf->len - eh.e_phoff) / sizeof(Elf64_Phdr) < eh.e_phnum)
        return;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        uint8_t *at = elf->data + eh.e_phoff + i * sizeof(Elf64_Phdr);
        Elf64_Phdr ph;
        memcpy(&ph, at, sizeof(ph));
        if (ph.p_type != PT_LOAD || ph.p_offset > elf->len ||
            ph.p_filesz > elf->len - ph.p_offset || ph.p_filesz > ph.p_memsz)
            continue;
        uint64_t fs = ph.p_filesz;
        while (fs) {
            uint64_t start = fs > PAGE ? (fs - 1) / PAGE * PAGE : 0;
            if (!all_zero(elf->data + ph.p_offset + start, fs - start))
                break;
            fs = start;
        }
        ph.p_filesz = fs;
        memcpy(at, &ph, sizeof(ph));
    }
}

GMappedFile *hv_vmlinux_get(const struct hv_bzimage *bz, const char *kernel_path,
                            const char *cache_dir, char **err)
{
    *err = NULL;
    if (bz->version < 0x208)
        return NULL; /* no payload fields */
    uint32_t off, len;
    memcpy(&off, bz->data + BZ_PAYLOAD_OFFSET, 4);
    memcpy(&len, bz->data + BZ_PAYLOAD_LENGTH, 4);
    if ((uint64_t)off + len > bz->kernel_size)
        return NULL;
    const uint8_t *payload = bz->data + bz->setup_size + off;
    enum format fmt = detect(payload, len);
    if (fmt == FMT_NONE)
        return NULL;

    g_autofree char *path = cache_path(cache_dir, kernel_path);
    if (path) {
        GMappedFile *f = g_mapped_file_new(path, FALSE, NULL);
        if (f && is_elf64((const uint8_t *)g_mapped_file_get_contents(f),
                          g_mapped_file_get_length(f)))
            return f;
        if (f)
            g_mapped_file_unref(f);
    }

    GByteArray *elf = fmt == FMT_XZ ? inflate_lzma(payload, len, true)
                    : fmt == FMT_LZMA ? inflate_lzma(payload, len, false)
                    : fmt == FMT_GZIP ? inflate_gzip(payload, len)
                    : inflate_zstd(payload, len);
    if (!elf || !is_elf64(elf->data, elf->len)) {
        if (elf)
            g_byte_array_unref(elf);
        return NULL; /* let the guest's own decompressor have a go */
    }
    trim_zero_tails(elf);
    if (path)
        store(path, elf);
    GMappedFile *f = path ? g_mapped_file_new(path, FALSE, NULL) : NULL;
    if (!f) {
        /* No cache: hand out the bytes through a temporary file-less mapping. */
        g_autofree char *tmp = NULL;
        int fd = g_file_open_tmp("vmdesk-vmlinux-XXXXXX", &tmp, NULL);
        if (fd >= 0) {
            unlink(tmp);
            if (write(fd, elf->data, elf->len) == (ssize_t)elf->len)
                f = g_mapped_file_new_from_fd(fd, FALSE, NULL);
            close(fd);
        }
        if (!f)
            *err = g_strdup("cannot hold the decompressed kernel");
    }
    g_byte_array_unref(elf);
    return f;
}

/*
 * Copies a segment into guest RAM. Its zero pages are not copied: RAM the guest has not
 * run in is zero already (and left untouched it costs no memory); after a reset they are
 * cleared. Source and destination are populated a range at a time rather than faulted in
 * page by page, which costs most of the copy (far more when the host is virtualized).
 */
static void copy_segment(struct hv_memory *mem, uint8_t *dst, const uint8_t *src, size_t n)
{
    uintptr_t s = (uintptr_t)src & ~(uintptr_t)(PAGE - 1);
    madvise((void *)s, (uintptr_t)src + n - s, MADV_POPULATE_READ); /* a hint: may fail */
    size_t i = 0;
    while (i < n) {
        bool zero = all_zero(src + i, MIN(PAGE, n - i));
        size_t j = i + MIN(PAGE, n - i);
        while (j < n && all_zero(src + j, MIN(PAGE, n - j)) == zero)
            j += MIN(PAGE, n - j);
        if (!zero) {
            uintptr_t d = (uintptr_t)(dst + i) & ~(uintptr_t)(PAGE - 1);
            madvise((void *)d, (uintptr_t)(dst + j) - d, MADV_POPULATE_WRITE);
            memcpy(dst + i, src + i, j - i);
        } else if (mem->guest_ran) {
            memset(dst + i, 0, j - i);
        }
        i = j;
    }
}

int hv_vmlinux_load(struct hv_memory *mem, const uint8_t *elf, size_t size, uint64_t *entry,
                    uint64_t *end, char **err)
{
    if (!is_elf64(elf, size)) {
        *err = g_strdup("is not an x86-64 ELF kernel");
        return -EINVAL;
    }
    const Elf64_Ehdr *eh = (const void *)elf;
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > size ||
        (size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum) {
        *err = g_strdup("has a broken ELF program header table");
        return -EINVAL;
    }
    uint64_t top = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, elf + eh->e_phoff + i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        if (ph.p_filesz > ph.p_memsz || ph.p_offset > size || ph.p_filesz > size - ph.p_offset) {
            *err = g_strdup_printf("has a broken ELF segment %u", i);
            return -EINVAL;
        }
        uint8_t *dst = hv_memory_ptr(mem, ph.p_paddr, ph.p_memsz);
        if (!dst) {
            *err = g_strdup_printf("needs RAM at 0x%llx-0x%llx; give the VM more --memory",
                                   (unsigned long long)ph.p_paddr,
                                   (unsigned long long)(ph.p_paddr + ph.p_memsz));
            return -ENOSPC;
        }
        copy_segment(mem, dst, elf + ph.p_offset, ph.p_filesz);
        if (mem->guest_ran)
            memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
        if (ph.p_paddr + ph.p_memsz > top)
            top = ph.p_paddr + ph.p_memsz;
    }
    if (!top) {
        *err = g_strdup("has no loadable segment");
        return -EINVAL;
    }
    *entry = eh->e_entry;
    *end = top;
    return 0;
}
