/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: a guest's descriptor table and avail ring, walked by hv_virtq_pop. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/memory.h"
#include "virtio/virtqueue.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#endif
#endif
#ifndef POISON
#define POISON(p, n) ((void)(p), (void)(n))
#endif

/*
 * Input: flags (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX), queue size (u16), the used index the
 * queue starts from (u16), the avail index (u16), then bytes copied in turn into the
 * descriptor table, the avail ring and a scratch area where indirect tables can live.
 * Guest RAM is [0, 0xE0000) and [1 MiB, 16 MiB): the 128 KiB between is a BIOS hole, which
 * is mapped in the host but poisoned, so a walker that reads it is caught.
 */
#define RAM_SIZE HV_MiB(16)
#define BIOS_HOLE HV_KiB(128)
#define DESC_GPA 0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA 0x30000ull
#define SCRATCH_GPA 0x40000ull
#define SCRATCH_MAX 0x20000ull
#define LOW_END (0x100000ull - BIOS_HOLE)
#define MAX_DIRTY 64

static struct hv_memory mem;
static struct hv_virtq_req req;

/* Where copy_to_in wrote this run (more than MAX_DIRTY: anywhere), to zero it afterwards. */
static struct {
    void *p;
    size_t len;
} dirty[MAX_DIRTY];
static unsigned nr_dirty;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct hv_mem_layout l;
    if (hv_mem_layout_init(&l, RAM_SIZE, BIOS_HOLE) < 0 || hv_memory_alloc(&mem, &l, 0) < 0)
        abort();
    POISON(mem.host + LOW_END, BIOS_HOLE);
    return 0;
}

/* Every segment must be inside one RAM region of the host mapping. */
static void check_segment(const struct iovec *v)
{
    const uint8_t *p = v->iov_base;
    for (unsigned i = 0; i < mem.layout.nr_regions; i++) {
        const struct hv_mem_region *r = &mem.layout.regions[i];
        const uint8_t *start = mem.host + r->offset;
        if (p >= start && p <= start + r->size && v->iov_len <= (size_t)(start + r->size - p))
            return;
    }
    abort();
}

static void copy_in(uint64_t gpa, const uint8_t **data, size_t *size, size_t want)
{
    size_t n = *size < want ? *size : want;
    memcpy(hv_memory_ptr(&mem, gpa, want), *data, n);
    *data += n;
    *size -= n;
}

static uint16_t take16(const uint8_t **data, size_t *size)
{
    uint16_t v = 0;
    size_t n = *size < 2 ? *size : 2;
    memcpy(&v, *data, n);
    *data += n;
    *size -= n;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    struct hv_virtq q;
    hv_virtq_reset(&q);
    q.size = take16(&data, &size);
    uint16_t used_idx = take16(&data, &size);
    uint16_t avail_idx = take16(&data, &size);
    q.desc_gpa = DESC_GPA;
    q.avail_gpa = AVAIL_GPA;
    q.used_gpa = USED_GPA;
    q.enabled = true;

    /* Rings that fit between the fixed addresses; bigger sizes only test hv_virtq_start. */
    size_t n = q.size <= 1024 ? q.size : 0;
    memcpy(hv_memory_ptr(&mem, USED_GPA + 2, 2), &used_idx, 2);
    memcpy(hv_memory_ptr(&mem, AVAIL_GPA + 2, 2), &avail_idx, 2);
    copy_in(DESC_GPA, &data, &size, 16 * n);
    copy_in(AVAIL_GPA + 4, &data, &size, 2 * n);
    copy_in(SCRATCH_GPA, &data, &size, size < SCRATCH_MAX ? size : SCRATCH_MAX);

    const char *why = NULL;
    if (hv_virtq_start(&q, &mem, flags & 1, flags & 2, &why) == 0) {
        for (unsigned round = 0; round <= 2u * q.size; round++) {
            int r = hv_virtq_pop(&q, &req, &why);
            if (r < 0 && !why)
                abort();
            if (r <= 0)
                break;
            if (req.head >= q.size || req.nr_out + req.nr_in > HV_VIRTQ_MAX_SEGS)
                abort();
            uint64_t out = 0, in = 0;
            for (unsigned i = 0; i < req.nr_out + req.nr_in; i++) {
                check_segment(&req.iov[i]);
                *(i < req.nr_out ? &out : &in) += req.iov[i].iov_len;
            }
            if (out != req.out_len || in != req.in_len || out + in > (1ull << 32))
                abort();
            /* Touch the first and last bytes the device was given, as a device would. */
            uint8_t buf[64];
            hv_virtq_copy_from_out(&req, req.out_len > 32 ? req.out_len - 32 : 0, buf, 64);
            hv_virtq_copy_from_out(&req, 0, buf, 64);
            size_t done = hv_virtq_copy_to_in(&req, 0, "written by the device", 21);
            size_t left = done;
            for (unsigned i = req.nr_out; left && i < req.nr_out + req.nr_in; i++) {
                size_t len = req.iov[i].iov_len < left ? req.iov[i].iov_len : left;
                if (nr_dirty < MAX_DIRTY) {
                    dirty[nr_dirty].p = req.iov[i].iov_base;
                    dirty[nr_dirty].len = len;
                }
                nr_dirty++;
                left -= len;
            }
            if (round % 2)
                hv_virtq_push(&q, req.head, (uint32_t)done);
            hv_virtq_should_notify(&q);
            hv_virtq_set_notify(&q, round % 3 != 0);
        }
    } else if (!why) {
        abort();
    }

    /* Back to zeroed RAM for the next input: the rings, the scratch area and what we wrote. */
    memset(hv_memory_ptr(&mem, 0, LOW_END), 0, LOW_END);
    if (nr_dirty > MAX_DIRTY) {
        const struct hv_mem_region *high = &mem.layout.regions[1];
        memset(mem.host + high->offset, 0, high->size);
    } else {
        for (unsigned i = 0; i < nr_dirty; i++)
            memset(dirty[i].p, 0, dirty[i].len);
    }
    nr_dirty = 0;
    return 0;
}
