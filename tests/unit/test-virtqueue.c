/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the split virtqueue walker against rings built in fake guest memory. */
#include <glib.h>
#include <errno.h>
#include <string.h>

#include "kvm/memory.h"
#include "virtio/virtqueue.h"

/*
 * 64 MiB with a 128 KiB BIOS hole: RAM is [0, 0xE0000) and [1 MiB, 64 MiB), so a
 * buffer can straddle two memory regions.
 */
#define RAM_SIZE HV_MiB(64)
#define LOW_END 0xe0000ull
#define HIGH_START 0x100000ull
#define DESC_GPA 0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA 0x30000ull
#define TABLE_GPA 0x40000ull /* indirect tables */
#define BUF_GPA 0x200000ull
#define QSIZE 8

struct fixture {
    struct hv_memory mem;
    struct hv_virtq q;
    struct hv_virtq_req *req;
    const char *why;
    uint16_t avail_idx;
};

static uint8_t *gpa(struct fixture *f, uint64_t addr)
{
    uint8_t *p = hv_memory_ptr(&f->mem, addr, 1);
    g_assert_nonnull(p);
    return p;
}

static void put16(struct fixture *f, uint64_t addr, uint16_t v)
{
    memcpy(gpa(f, addr), &v, 2);
}

static uint16_t get16(struct fixture *f, uint64_t addr)
{
    uint16_t v;
    memcpy(&v, gpa(f, addr), 2);
    return v;
}

static uint32_t get32(struct fixture *f, uint64_t addr)
{
    uint32_t v;
    memcpy(&v, gpa(f, addr), 4);
    return v;
}

/* Writes descriptor `i` of the table at `table`. */
static void desc_at(struct fixture *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
                    uint16_t flags, uint16_t next)
{
    uint8_t *d = gpa(f, table + 16ull * i);
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

static void desc(struct fixture *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
    desc_at(f, DESC_GPA, i, addr, len, flags, next);
}

/* The driver offers chain `head`: ring entry, then the index that publishes it. */
static void offer(struct fixture *f, uint16_t head)
{
    put16(f, AVAIL_GPA + 4 + 2ull * (f->avail_idx % f->q.size), head);
    f->avail_idx++;
    put16(f, AVAIL_GPA + 2, f->avail_idx);
}

static void teardown(struct fixture *f, gconstpointer data);

/* Fresh zeroed RAM and a started queue; a test calls it again to start over. */
static void setup_size(struct fixture *f, uint16_t size, bool indirect, bool event_idx)
{
    teardown(f, NULL);
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, RAM_SIZE, HV_KiB(128)), ==, 0);
    g_assert_cmpuint(l.nr_regions, ==, 2);
    g_assert_cmpint(hv_memory_alloc(&f->mem, &l, 0), ==, 0);
    f->req = g_new0(struct hv_virtq_req, 1);
    hv_virtq_reset(&f->q);
    f->q.size = size;
    f->q.desc_gpa = DESC_GPA;
    f->q.avail_gpa = AVAIL_GPA;
    f->q.used_gpa = USED_GPA;
    f->q.enabled = true;
    f->why = NULL;
    f->avail_idx = 0;
    g_assert_cmpint(hv_virtq_start(&f->q, &f->mem, indirect, event_idx, &f->why), ==, 0);
}

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    setup_size(f, QSIZE, true, false);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_free(f->req);
    f->req = NULL;
    hv_memory_free(&f->mem);
}

/* Pops one chain that the guest got wrong and checks the reason names the mistake. */
static void expect_error(struct fixture *f, const char *fragment)
{
    f->why = NULL;
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, -EINVAL);
    g_assert_nonnull(f->why);
    if (!strstr(f->why, fragment))
        g_error("error \"%s\" does not mention \"%s\"", f->why, fragment);
}

static void expect_start_error(struct fixture *f, const char *fragment)
{
    f->why = NULL;
    g_assert_cmpint(hv_virtq_start(&f->q, &f->mem, true, false, &f->why), ==, -EINVAL);
    g_assert_nonnull(f->why);
    if (!strstr(f->why, fragment))
        g_error("error \"%s\" does not mention \"%s\"", f->why, fragment);
}

/* ---- good chains ---- */

static void test_empty(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 0);
}

static void test_direct_chain(struct fixture *f, gconstpointer data)
{
    (void)data;
    /* A virtio-blk-like request: header out, data out, status in; listed out of order. */
    desc(f, 5, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
    desc(f, 2, BUF_GPA + 0x1000, 512, VIRTQ_DESC_F_NEXT, 7);
    desc(f, 7, BUF_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
    offer(f, 5);

    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    struct hv_virtq_req *r = f->req;
    g_assert_cmpuint(r->head, ==, 5);
    g_assert_cmpuint(r->nr_out, ==, 2);
    g_assert_cmpuint(r->nr_in, ==, 1);
    g_assert_cmpuint(r->out_len, ==, 528);
    g_assert_cmpuint(r->in_len, ==, 1);
    g_assert_true(r->iov[0].iov_base == gpa(f, BUF_GPA));
    g_assert_cmpuint(r->iov[0].iov_len, ==, 16);
    g_assert_true(r->iov[1].iov_base == gpa(f, BUF_GPA + 0x1000));
    g_assert_cmpuint(r->iov[1].iov_len, ==, 512);
    g_assert_true(r->iov[2].iov_base == gpa(f, BUF_GPA + 0x2000));
    g_assert_cmpuint(r->iov[2].iov_len, ==, 1);
    /* Taken once: the ring is empty again. */
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 0);
}

static void test_full_length_chain(struct fixture *f, gconstpointer data)
{
    (void)data;
    /* Exactly as many descriptors as the queue has is legal. */
    for (unsigned i = 0; i < QSIZE; i++)
        desc(f, i, BUF_GPA + 0x100 * i, 0x100, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0,
             (uint16_t)(i + 1));
    offer(f, 0);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(f->req->nr_out, ==, QSIZE);
    g_assert_cmpuint(f->req->out_len, ==, QSIZE * 0x100);
}

static void test_indirect_chain(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc_at(f, TABLE_GPA, 0, BUF_GPA, 100, VIRTQ_DESC_F_NEXT, 2);
    desc_at(f, TABLE_GPA, 2, BUF_GPA + 0x1000, 200, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    desc_at(f, TABLE_GPA, 1, BUF_GPA + 0x2000, 300, VIRTQ_DESC_F_WRITE, 0);
    /* The WRITE flag of the indirect descriptor itself means nothing. */
    desc(f, 3, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
    offer(f, 3);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(f->req->head, ==, 3);
    g_assert_cmpuint(f->req->nr_out, ==, 1);
    g_assert_cmpuint(f->req->nr_in, ==, 2);
    g_assert_cmpuint(f->req->out_len, ==, 100);
    g_assert_cmpuint(f->req->in_len, ==, 500);
    g_assert_true(f->req->iov[2].iov_base == gpa(f, BUF_GPA + 0x2000));
}

static void test_push(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 4, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
    desc(f, 6, BUF_GPA + 64, 64, VIRTQ_DESC_F_WRITE, 0);
    offer(f, 4);
    offer(f, 6);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(f->req->head, ==, 4);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(f->req->head, ==, 6);
    hv_virtq_push(&f->q, 6, 10);
    hv_virtq_push(&f->q, 4, 64);
    g_assert_cmpuint(get16(f, USED_GPA + 2), ==, 2);
    g_assert_cmpuint(get32(f, USED_GPA + 4), ==, 6);
    g_assert_cmpuint(get32(f, USED_GPA + 8), ==, 10);
    g_assert_cmpuint(get32(f, USED_GPA + 12), ==, 4);
    g_assert_cmpuint(get32(f, USED_GPA + 16), ==, 64);
}

/* The indices are free-running 16-bit counters; the device must follow them across 0. */
static void test_index_wrap(struct fixture *f, gconstpointer data)
{
    (void)data;
    /* A fresh queue starts at 0 whatever the ring memory holds; run it up to 65534. */
    put16(f, USED_GPA + 2, 12345);
    g_assert_cmpint(hv_virtq_start(&f->q, &f->mem, true, false, &f->why), ==, 0);
    g_assert_cmpuint(f->q.last_avail, ==, 0);
    g_assert_cmpuint(f->q.used_idx, ==, 0);
    f->q.last_avail = f->q.used_idx = 65534;
    put16(f, USED_GPA + 2, 65534);
    f->avail_idx = 65534;
    desc(f, 0, BUF_GPA, 8, 0, 0);
    for (unsigned i = 0; i < 4; i++)
        offer(f, 0);
    g_assert_cmpuint(get16(f, AVAIL_GPA + 2), ==, 2);
    for (unsigned i = 0; i < 4; i++) {
        g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
        hv_virtq_push(&f->q, 0, 0);
    }
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 0);
    g_assert_cmpuint(get16(f, USED_GPA + 2), ==, 2);
}

/* ---- chains the guest got wrong ---- */

static void test_loop(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
    desc(f, 2, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
    offer(f, 0);
    expect_error(f, "loops");
}

static void test_self_loop(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 3, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 3);
    offer(f, 3);
    expect_error(f, "loops");
}

/*
 * CVE-2016-6490: a zero-length descriptor sent QEMU's walker into an infinite loop. Here a
 * zero-length buffer is skipped (nothing to map), and a loop of them is still bounded.
 */
static void test_zero_length(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 0, BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, BUF_GPA, 4, 0, 0);
    offer(f, 0);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(f->req->nr_out, ==, 1);
    g_assert_cmpuint(f->req->out_len, ==, 4);

    /* Zero-length and at an address that is not RAM: still nothing to map. */
    desc(f, 2, 0xfffffffffffff000ull, 0, 0, 0);
    offer(f, 2);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(f->req->nr_out + f->req->nr_in, ==, 0);

    desc(f, 4, BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 5);
    desc(f, 5, BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 4);
    offer(f, 4);
    expect_error(f, "loops");
}

/* CVE-2016-7422: a huge descriptor length made QEMU map past guest RAM (NULL dereference). */
static void test_huge_length(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 0, BUF_GPA, 0xffffffffu, 0, 0);
    offer(f, 0);
    expect_error(f, "outside guest RAM");
}

static void test_beyond_ram_end(struct fixture *f, gconstpointer data)
{
    (void)data;
    /* Ends exactly at the end of RAM: fine. One byte more: refused. */
    desc(f, 0, RAM_SIZE - 0x1000, 0x1000, VIRTQ_DESC_F_WRITE, 0);
    offer(f, 0);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    desc(f, 1, RAM_SIZE - 0x1000, 0x1001, VIRTQ_DESC_F_WRITE, 0);
    offer(f, 1);
    expect_error(f, "outside guest RAM");
}

static void test_outside_ram(struct fixture *f, gconstpointer data)
{
    (void)data;
    static const uint64_t bad[] = {
        LOW_END,                /* the BIOS hole */
        HIGH_START - 8,         /* its last bytes */
        RAM_SIZE,               /* just past the end */
        HV_GiB(3) + 0x1000,     /* the MMIO hole */
        HV_GiB(4),              /* where high RAM would be */
        0xfffffffffffffff0ull,  /* where addr + len wraps */
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        desc(f, i, bad[i], 0x20, 0, 0);
        offer(f, (uint16_t)i);
        expect_error(f, "outside guest RAM");
        setup_size(f, QSIZE, true, false); /* the queue is broken now: start afresh */
    }
}

/* Both ends are RAM, but in two memory regions that are not contiguous in the host. */
static void test_straddles_regions(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 0, LOW_END - 0x100, 0x100, 0, 0); /* ends at the region's end: fine */
    offer(f, 0);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    desc(f, 1, LOW_END - 0x100, HIGH_START - LOW_END + 0x200, 0, 0);
    offer(f, 1);
    expect_error(f, "straddles");
}

static void test_total_over_4g(struct fixture *f, gconstpointer data)
{
    (void)data;
    /*
     * Each buffer lies in RAM, but the same 63 MiB listed 66 times adds up to more than
     * 4 GiB; 65 times (4095 MiB) is still accepted.
     */
    const uint32_t chunk = (uint32_t)HV_MiB(63);
    for (unsigned n = 65; n <= 66; n++) {
        uint64_t table = TABLE_GPA + 0x1000ull * (n - 65);
        for (unsigned i = 0; i < n; i++)
            desc_at(f, table, i, HIGH_START, chunk, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
                    (uint16_t)(i + 1));
        desc(f, n - 65, table, n * 16, VIRTQ_DESC_F_INDIRECT, 0);
        offer(f, (uint16_t)(n - 65));
    }
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(f->req->out_len, ==, 65ull * chunk);
    expect_error(f, "4 GiB");
}

static void test_too_many_segments(struct fixture *f, gconstpointer data)
{
    (void)data;
    unsigned n = HV_VIRTQ_MAX_SEGS + 1;
    for (unsigned i = 0; i < n; i++)
        desc_at(f, TABLE_GPA, i, BUF_GPA, 1, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
                (uint16_t)(i + 1));
    desc(f, 0, TABLE_GPA, n * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "more buffers than a request may");
}

static void test_head_past_table(struct fixture *f, gconstpointer data)
{
    (void)data;
    offer(f, QSIZE);
    expect_error(f, "past the table");
}

static void test_next_past_table(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE);
    offer(f, 0);
    expect_error(f, "past the table");
}

static void test_read_after_write(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, BUF_GPA + 8, 8, 0, 0);
    offer(f, 0);
    expect_error(f, "readable buffer follows a writable");
}

static void test_read_after_write_indirect(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    desc_at(f, TABLE_GPA, 1, BUF_GPA + 8, 8, 0, 0);
    desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "readable buffer follows a writable");
}

/* CVE-2016-5403: a guest that keeps adding requests without waiting exhausted QEMU's memory. */
static void test_more_than_queue(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 0, BUF_GPA, 8, 0, 0);
    /* The avail index jumps by more than the queue holds. */
    f->avail_idx = QSIZE + 1;
    put16(f, AVAIL_GPA + 2, f->avail_idx);
    expect_error(f, "more buffers available than the queue holds");

    /* Or by exactly the size each time, while the device still holds the first ones. */
    setup(f, NULL);
    for (unsigned i = 0; i < QSIZE; i++)
        offer(f, 0);
    for (unsigned i = 0; i < QSIZE; i++)
        g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    offer(f, 0);
    expect_error(f, "more buffers available than the queue holds");

    /* Completing one makes room for one more. */
    setup(f, NULL);
    for (unsigned i = 0; i < QSIZE; i++)
        offer(f, 0);
    for (unsigned i = 0; i < QSIZE; i++)
        g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    hv_virtq_push(&f->q, 0, 0);
    offer(f, 0);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
}

/* The avail index going backwards looks like 65535 new buffers. */
static void test_avail_backwards(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 0, BUF_GPA, 8, 0, 0);
    offer(f, 0);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    put16(f, AVAIL_GPA + 2, 0);
    expect_error(f, "more buffers available than the queue holds");
}

/* ---- indirect descriptors ---- */

static void test_indirect_without_feature(struct fixture *f, gconstpointer data)
{
    (void)data;
    setup_size(f, QSIZE, false, false);
    desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
    desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "without VIRTIO_RING_F_INDIRECT_DESC");
}

static void test_indirect_with_next(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
    desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, BUF_GPA, 8, 0, 0);
    offer(f, 0);
    expect_error(f, "also has NEXT");
}

static void test_indirect_in_middle(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
    desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "middle of a chain");

    /* Even behind a zero-length descriptor that added no segment. */
    setup(f, NULL);
    desc(f, 0, BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "middle of a chain");
}

static void test_indirect_nested(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc_at(f, TABLE_GPA + 0x1000, 0, BUF_GPA, 8, 0, 0);
    desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    desc_at(f, TABLE_GPA, 1, TABLE_GPA + 0x1000, 16, VIRTQ_DESC_F_INDIRECT, 0);
    desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "indirect table inside an indirect table");
}

static void test_indirect_loop(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    desc_at(f, TABLE_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
    desc_at(f, TABLE_GPA, 2, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    desc(f, 0, TABLE_GPA, 48, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "indirect chain that loops");
}

static void test_indirect_next_past_table(struct fixture *f, gconstpointer data)
{
    (void)data;
    /* Entry 2 exists in memory but not in the table's declared 2 entries. */
    desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
    desc_at(f, TABLE_GPA, 2, BUF_GPA, 8, 0, 0);
    desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "points past its table");
}

/* An indirect table's length must be whole descriptors (cf. CVE-2016-7422 on lengths). */
static void test_indirect_bad_length(struct fixture *f, gconstpointer data)
{
    (void)data;
    static const uint32_t bad[] = {0, 8, 24, 17, (HV_VIRTQ_MAX_SIZE + 1) * 16, 0xfffffff0u};
    desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        desc(f, 0, TABLE_GPA, bad[i], VIRTQ_DESC_F_INDIRECT, 0);
        offer(f, 0);
        expect_error(f, "not a multiple of 16");
        setup(f, NULL);
    }
}

static void test_indirect_outside_ram(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc(f, 0, LOW_END - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "indirect table outside guest RAM");
    setup(f, NULL);
    desc(f, 0, RAM_SIZE, 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "indirect table outside guest RAM");
}

static void test_indirect_buffer_outside_ram(struct fixture *f, gconstpointer data)
{
    (void)data;
    desc_at(f, TABLE_GPA, 0, RAM_SIZE - 4, 8, 0, 0);
    desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    expect_error(f, "outside guest RAM");
}

/* ---- hv_virtq_start: what the driver set up ---- */

static void test_start_size(struct fixture *f, gconstpointer data)
{
    (void)data;
    static const uint16_t bad[] = {0, 3, 6, 100, 32767, 32769, 65535};
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        f->q.size = bad[i];
        expect_start_error(f, "power of two");
    }
    static const uint16_t good[] = {1, 2, 256, 32768};
    for (unsigned i = 0; i < G_N_ELEMENTS(good); i++) {
        f->q.size = good[i];
        f->q.desc_gpa = BUF_GPA; /* 32768 descriptors need 512 KiB */
        g_assert_cmpint(hv_virtq_start(&f->q, &f->mem, true, false, &f->why), ==, 0);
    }
}

static void test_start_misaligned(struct fixture *f, gconstpointer data)
{
    (void)data;
    f->q.desc_gpa = DESC_GPA + 8;
    expect_start_error(f, "misaligned");
    f->q.desc_gpa = DESC_GPA;
    f->q.avail_gpa = AVAIL_GPA + 1;
    expect_start_error(f, "misaligned");
    f->q.avail_gpa = AVAIL_GPA;
    f->q.used_gpa = USED_GPA + 2;
    expect_start_error(f, "misaligned");
    /* The spec's minimum alignments are enough. */
    f->q.used_gpa = USED_GPA + 4;
    f->q.avail_gpa = AVAIL_GPA + 2;
    f->q.desc_gpa = DESC_GPA + 16;
    g_assert_cmpint(hv_virtq_start(&f->q, &f->mem, true, false, &f->why), ==, 0);
}

static void test_start_outside_ram(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct {
        uint64_t *field;
        uint64_t addr;
    } bad[] = {
        {&f->q.desc_gpa, LOW_END - 16 * QSIZE + 16},     /* runs into the BIOS hole */
        {&f->q.desc_gpa, RAM_SIZE},
        {&f->q.avail_gpa, LOW_END - 4},
        {&f->q.avail_gpa, HV_GiB(3)},
        {&f->q.used_gpa, RAM_SIZE - 4 - 8 * QSIZE},      /* avail_event falls off the end */
        {&f->q.used_gpa, 0xfffffffffffffff0ull},
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint64_t saved = *bad[i].field;
        *bad[i].field = bad[i].addr;
        expect_start_error(f, "not inside guest RAM");
        *bad[i].field = saved;
    }
    /* The rings may sit at the very end of RAM. */
    f->q.used_gpa = RAM_SIZE - 4 - 8 * QSIZE - 4;
    g_assert_cmpint(hv_virtq_start(&f->q, &f->mem, true, false, &f->why), ==, 0);
}

/* ---- notification suppression ---- */

static void test_no_interrupt_flag(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_true(hv_virtq_should_notify(&f->q));
    put16(f, AVAIL_GPA, 1); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    g_assert_false(hv_virtq_should_notify(&f->q));
    put16(f, AVAIL_GPA, 0);
    g_assert_true(hv_virtq_should_notify(&f->q));

    hv_virtq_set_notify(&f->q, false);
    g_assert_cmpuint(get16(f, USED_GPA) & 1, ==, 1); /* VIRTQ_USED_F_NO_NOTIFY */
    hv_virtq_set_notify(&f->q, true);
    g_assert_cmpuint(get16(f, USED_GPA) & 1, ==, 0);
}

static void test_event_idx(struct fixture *f, gconstpointer data)
{
    (void)data;
    setup_size(f, QSIZE, true, true);
    const uint64_t used_event = AVAIL_GPA + 4 + 2 * QSIZE;
    const uint64_t avail_event = USED_GPA + 4 + 8 * QSIZE;

    desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    for (unsigned i = 0; i < 5; i++)
        offer(f, 0);
    /* The device tells the driver how far it has read the avail ring. */
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(get16(f, avail_event), ==, 1);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(get16(f, avail_event), ==, 2);

    /* The flag is ignored once EVENT_IDX is negotiated. */
    put16(f, AVAIL_GPA, 1);
    put16(f, used_event, 0);
    hv_virtq_push(&f->q, 0, 8); /* used idx 1 */
    g_assert_true(hv_virtq_should_notify(&f->q)); /* the first always notifies */
    hv_virtq_push(&f->q, 0, 8); /* 2: used_event 0 was passed before the last interrupt */
    g_assert_false(hv_virtq_should_notify(&f->q));
    put16(f, used_event, 2);
    hv_virtq_push(&f->q, 0, 8); /* 3: crossed 2 */
    g_assert_true(hv_virtq_should_notify(&f->q));
    put16(f, used_event, 4);
    hv_virtq_push(&f->q, 0, 8); /* 4: not yet past 4 */
    g_assert_false(hv_virtq_should_notify(&f->q));
    /* Nothing new since the last check: no interrupt whatever used_event says. */
    put16(f, used_event, 3);
    g_assert_false(hv_virtq_should_notify(&f->q));

    /* Re-enabling with EVENT_IDX publishes the avail index the device has seen. */
    hv_virtq_set_notify(&f->q, true);
    g_assert_cmpuint(get16(f, avail_event), ==, 5);
}

/* Notifications off with EVENT_IDX: pops leave avail_event behind, re-enabling catches up. */
static void test_event_idx_suppress(struct fixture *f, gconstpointer data)
{
    (void)data;
    setup_size(f, QSIZE, true, true);
    const uint64_t avail_event = USED_GPA + 4 + 8 * QSIZE;

    desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    for (unsigned i = 0; i < 4; i++)
        offer(f, 0);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(get16(f, avail_event), ==, 1);
    hv_virtq_set_notify(&f->q, false);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(get16(f, avail_event), ==, 1); /* the driver past 1 does not kick */
    hv_virtq_set_notify(&f->q, true);
    g_assert_cmpuint(get16(f, avail_event), ==, 4); /* kick for the one after the last offered */
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);
    g_assert_cmpuint(get16(f, avail_event), ==, 4);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 0);
}

/* vring_need_event across the 16-bit wrap of the used index. */
static void test_event_idx_wrap(struct fixture *f, gconstpointer data)
{
    (void)data;
    setup_size(f, QSIZE, true, true);
    g_assert_cmpint(hv_virtq_start(&f->q, &f->mem, true, true, &f->why), ==, 0);
    f->q.used_idx = 65535;
    put16(f, USED_GPA + 2, 65535);
    const uint64_t used_event = AVAIL_GPA + 4 + 2 * QSIZE;
    g_assert_true(hv_virtq_should_notify(&f->q)); /* first: signalled_used = 65535 */
    put16(f, used_event, 65535);
    hv_virtq_push(&f->q, 0, 0); /* used idx 0: crossed 65535 */
    g_assert_true(hv_virtq_should_notify(&f->q));
    put16(f, used_event, 1);
    hv_virtq_push(&f->q, 0, 0); /* 1: not yet past 1 */
    g_assert_false(hv_virtq_should_notify(&f->q));
    hv_virtq_push(&f->q, 0, 0); /* 2 */
    g_assert_true(hv_virtq_should_notify(&f->q));
}

/* ---- copy helpers ---- */

static void test_copy(struct fixture *f, gconstpointer data)
{
    (void)data;
    memcpy(gpa(f, BUF_GPA), "abc", 3);
    memcpy(gpa(f, BUF_GPA + 0x100), "defgh", 5);
    desc(f, 0, BUF_GPA, 3, VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, BUF_GPA + 0x100, 5, VIRTQ_DESC_F_NEXT, 2);
    desc(f, 2, BUF_GPA + 0x200, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
    desc(f, 3, BUF_GPA + 0x300, 4, VIRTQ_DESC_F_WRITE, 0);
    offer(f, 0);
    g_assert_cmpint(hv_virtq_pop(&f->q, f->req, &f->why), ==, 1);

    char out[16] = {0};
    g_assert_cmpuint(hv_virtq_copy_from_out(f->req, 0, out, sizeof(out)), ==, 8);
    g_assert_cmpstr(out, ==, "abcdefgh");
    memset(out, 0, sizeof(out));
    g_assert_cmpuint(hv_virtq_copy_from_out(f->req, 2, out, 4), ==, 4);
    g_assert_cmpstr(out, ==, "cdef");
    g_assert_cmpuint(hv_virtq_copy_from_out(f->req, 8, out, 4), ==, 0);
    g_assert_cmpuint(hv_virtq_copy_from_out(f->req, 100, out, 4), ==, 0);

    /* Into the writable part, across its two segments, never past its end. */
    g_assert_cmpuint(hv_virtq_copy_to_in(f->req, 0, "0123456789", 10), ==, 8);
    g_assert_cmpmem(gpa(f, BUF_GPA + 0x200), 4, "0123", 4);
    g_assert_cmpmem(gpa(f, BUF_GPA + 0x300), 4, "4567", 4);
    g_assert_cmpuint(hv_virtq_copy_to_in(f->req, 3, "xy", 2), ==, 2);
    g_assert_cmpmem(gpa(f, BUF_GPA + 0x200), 4, "012x", 4);
    g_assert_cmpmem(gpa(f, BUF_GPA + 0x300), 4, "y567", 4);
    g_assert_cmpuint(hv_virtq_copy_to_in(f->req, 8, "z", 1), ==, 0);
    /* The readable part is never written. */
    g_assert_cmpmem(gpa(f, BUF_GPA), 3, "abc", 3);
}

static void add(const char *name, void (*fn)(struct fixture *, gconstpointer))
{
    g_test_add(name, struct fixture, NULL, setup, fn, teardown);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add("/virtq/empty", test_empty);
    add("/virtq/direct-chain", test_direct_chain);
    add("/virtq/full-length-chain", test_full_length_chain);
    add("/virtq/indirect-chain", test_indirect_chain);
    add("/virtq/push", test_push);
    add("/virtq/index-wrap", test_index_wrap);
    add("/virtq/bad/loop", test_loop);
    add("/virtq/bad/self-loop", test_self_loop);
    add("/virtq/bad/zero-length", test_zero_length);
    add("/virtq/bad/huge-length", test_huge_length);
    add("/virtq/bad/beyond-ram-end", test_beyond_ram_end);
    add("/virtq/bad/outside-ram", test_outside_ram);
    add("/virtq/bad/straddles-regions", test_straddles_regions);
    add("/virtq/bad/total-over-4g", test_total_over_4g);
    add("/virtq/bad/too-many-segments", test_too_many_segments);
    add("/virtq/bad/head-past-table", test_head_past_table);
    add("/virtq/bad/next-past-table", test_next_past_table);
    add("/virtq/bad/read-after-write", test_read_after_write);
    add("/virtq/bad/read-after-write-indirect", test_read_after_write_indirect);
    add("/virtq/bad/more-than-queue", test_more_than_queue);
    add("/virtq/bad/avail-backwards", test_avail_backwards);
    add("/virtq/indirect/without-feature", test_indirect_without_feature);
    add("/virtq/indirect/with-next", test_indirect_with_next);
    add("/virtq/indirect/in-middle", test_indirect_in_middle);
    add("/virtq/indirect/nested", test_indirect_nested);
    add("/virtq/indirect/loop", test_indirect_loop);
    add("/virtq/indirect/next-past-table", test_indirect_next_past_table);
    add("/virtq/indirect/bad-length", test_indirect_bad_length);
    add("/virtq/indirect/outside-ram", test_indirect_outside_ram);
    add("/virtq/indirect/buffer-outside-ram", test_indirect_buffer_outside_ram);
    add("/virtq/start/size", test_start_size);
    add("/virtq/start/misaligned", test_start_misaligned);
    add("/virtq/start/outside-ram", test_start_outside_ram);
    add("/virtq/notify/no-interrupt-flag", test_no_interrupt_flag);
    add("/virtq/notify/event-idx", test_event_idx);
    add("/virtq/notify/event-idx-suppress", test_event_idx_suppress);
    add("/virtq/notify/event-idx-wrap", test_event_idx_wrap);
    add("/virtq/copy", test_copy);
    return g_test_run();
}
