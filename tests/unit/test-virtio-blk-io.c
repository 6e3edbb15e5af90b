/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-blk's I/O thread driven through the PCI registers: kicks, FLUSH order, resets. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "virtio-harness.h"
#include "virtio/blk.h"

#define F_FLUSH (1u << 9)
#define F_EVENT_IDX (1u << 29)
#define DISK_SIZE (16u << 20)
#define CHUNK (64u << 10)
/* Per request: a header, its status byte (each in a page of their own), CHUNK of data. */
#define REQ_GPA(i) (BUF_GPA + (uint64_t)(i) * (CHUNK + 8192))

struct fixture {
    struct vh vh;
    char *dir;
    char *path;
    struct hv_virtio_blk *blk;
    uint16_t avail;  /* the driver's avail idx */
    uint16_t kicked; /* avail idx when it last decided about a kick */
    unsigned kicks;
};

static void open_disk(struct fixture *f, enum hv_disk_cache cache, uint32_t features)
{
    struct hv_disk_spec spec = {.path = f->path, .cache = cache, .serial = "io"};
    struct hv_raw *raw;
    char *err = NULL;
    g_assert_cmpint(hv_raw_open(&spec, &raw, &err), ==, 0);
    g_assert_cmpint(hv_virtio_blk_new(raw, &f->vh.vm, &f->vh.mem, &f->blk, &err), ==, 0);
    vh_plug(&f->vh, hv_virtio_blk_dev(f->blk));
    vh_driver_init(&f->vh, features, 1);
    vh_driver_ok(&f->vh);
}

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    memset(f, 0, sizeof(*f));
    vh_init(&f->vh);
    f->dir = g_dir_make_tmp("vmdesk-blk-io-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->path = g_build_filename(f->dir, "disk.img", NULL);
    int fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, DISK_SIZE), ==, 0);
    close(fd);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    if (f->blk)
        hv_virtio_blk_device_ops.destroy(f->blk);
    vh_fini(&f->vh);
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static void put_desc(struct fixture *f, uint16_t i, uint64_t gpa, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    uint8_t *d = vh_ram(&f->vh, RING_GPA(0) + 16ull * i, 16);
    memcpy(d, &gpa, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

/*
 * Makes request `slot` (descriptors 3*slot..3*slot+2) available: `type` at `sector` over
 * CHUNK bytes (none for FLUSH). The status byte is set to 0xee until the device answers.
 */
static void post(struct fixture *f, unsigned slot, uint32_t type, uint64_t sector)
{
    uint64_t hdr = REQ_GPA(slot), st = hdr + 4096, data = hdr + 8192;
    uint8_t *h = vh_ram(&f->vh, hdr, 16);
    memset(h, 0, 16);
    memcpy(h, &type, 4);
    memcpy(h + 8, &sector, 8);
    *vh_ram(&f->vh, st, 1) = 0xee;
    uint16_t d = (uint16_t)(3 * slot);
    if (type == VIRTIO_BLK_T_FLUSH) {
        put_desc(f, d, hdr, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
        put_desc(f, (uint16_t)(d + 1), st, 1, VIRTQ_DESC_F_WRITE, 0);
    } else {
        uint16_t dflags = type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0;
        put_desc(f, d, hdr, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
        put_desc(f, (uint16_t)(d + 1), data, CHUNK, dflags | VIRTQ_DESC_F_NEXT, (uint16_t)(d + 2));
        put_desc(f, (uint16_t)(d + 2), st, 1, VIRTQ_DESC_F_WRITE, 0);
    }
    uint8_t *avail = vh_ram(&f->vh, RING_GPA(0) + 0x1000, 4 + 2 * QSIZE + 2);
    memcpy(avail + 4 + 2 * (f->avail % QSIZE), &d, 2);
    f->avail++;
    __atomic_store_n((uint16_t *)(void *)(avail + 2), f->avail, __ATOMIC_RELEASE);
}

static void kick(struct fixture *f)
{
    vh_regs_write(&f->vh, NOTIFY_OFF, 0, 2);
    f->kicks++;
    f->kicked = f->avail;
}

/* What Linux's virtqueue_kick_prepare decides with EVENT_IDX: kick only past avail_event. */
static void kick_if_needed(struct fixture *f)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint16_t event;
    memcpy(&event, vh_ram(&f->vh, RING_GPA(0) + 0x2000 + 4 + 8 * QSIZE, 2), 2);
    if ((uint16_t)(f->avail - event - 1) < (uint16_t)(f->avail - f->kicked))
        kick(f);
    else
        f->kicked = f->avail;
}

static uint16_t used_idx(struct fixture *f)
{
    return __atomic_load_n((uint16_t *)(void *)vh_ram(&f->vh, RING_GPA(0) + 0x2000 + 2, 2),
                           __ATOMIC_ACQUIRE);
}

/* The head of used ring entry `i`. */
static uint32_t used_head(struct fixture *f, uint16_t i)
{
    uint32_t id;
    memcpy(&id, vh_ram(&f->vh, RING_GPA(0) + 0x2004 + 8ull * (i % QSIZE), 4), 4);
    return id;
}

static uint8_t status_of(struct fixture *f, unsigned slot)
{
    return *vh_ram(&f->vh, REQ_GPA(slot) + 4096, 1);
}

/* Waits (10 s at most) until the used ring's index reaches `want`. */
static void wait_used(struct fixture *f, uint16_t want)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while ((int16_t)(used_idx(f) - want) < 0) {
        if (g_get_monotonic_time() > deadline)
            g_error("used idx %u, expected %u: the device stalled", used_idx(f), want);
        g_usleep(100);
    }
}

/*
 * A driver that keeps the queue full and kicks only when avail_event asks for it, as Linux
 * does with EVENT_IDX: a kick the I/O thread missed, or a completion it did not push, stalls
 * the loop (wait_used fails).
 */
static void test_no_lost_kicks(struct fixture *f, gconstpointer data)
{
    (void)data;
    open_disk(f, HV_CACHE_WRITEBACK, F_EVENT_IDX);
    enum { TOTAL = 3000, DEPTH = QSIZE / 3 };
    unsigned free_slots[DEPTH], nr_free = DEPTH, posted = 0;
    for (unsigned i = 0; i < DEPTH; i++)
        free_slots[i] = i;
    uint16_t seen = 0;
    while (seen != (uint16_t)TOTAL) {
        while (posted < TOTAL && nr_free) {
            post(f, free_slots[--nr_free], posted % 3 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
                 (posted * 128ull) % (DISK_SIZE / 512 - 128));
            posted++;
            if (posted % 2 == 0)
                kick_if_needed(f);
        }
        kick_if_needed(f);
        wait_used(f, (uint16_t)(seen + 1));
        for (uint16_t now = used_idx(f); seen != now; seen++) {
            uint32_t head = used_head(f, seen);
            g_assert_cmpuint(head % 3, ==, 0);
            g_assert_cmpuint(status_of(f, head / 3), ==, VIRTIO_BLK_S_OK);
            free_slots[nr_free++] = head / 3;
        }
    }
    g_assert_cmpuint(hv_virtio_blk_inflight(f->blk), ==, 0);
    /* Fewer kicks than requests: the thread's avail_event let the driver skip some. */
    g_test_message("%u kicks for %u requests", f->kicks, TOTAL);
    g_assert_cmpuint(f->kicks, <, TOTAL);
}

/*
 * FLUSHes made available among writes are answered, each after the writes before it: a
 * FLUSH waits for those (in the device, as io_uring's IOSQE_IO_DRAIN cannot be used with the
 * kick read always in the ring), and must start once they are done, or the guest stalls.
 */
static void test_flush_after_writes(struct fixture *f, gconstpointer data)
{
    (void)data;
    open_disk(f, HV_CACHE_NONE, F_FLUSH);
    enum { SLOTS = QSIZE / 3 };
    for (unsigned round = 0; round < 20; round++) {
        uint16_t base = used_idx(f);
        /* W W F W F, or F W W W F: a FLUSH first has nothing to wait for. */
        for (unsigned i = 0; i < SLOTS; i++) {
            bool flush = round % 2 ? (i == 2 || i == 4) : (i == 0 || i == 4);
            memset(vh_ram(&f->vh, REQ_GPA(i) + 8192, CHUNK), (int)(round * 16 + i), CHUNK);
            post(f, i, flush ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_OUT, 2048ull * i);
        }
        kick(f);
        wait_used(f, (uint16_t)(base + SLOTS));
        for (unsigned i = 0; i < SLOTS; i++) {
            g_assert_cmpuint(status_of(f, i), ==, VIRTIO_BLK_S_OK);
            if (*vh_ram(&f->vh, REQ_GPA(i), 1) != VIRTIO_BLK_T_FLUSH)
                continue;
            /* Each write before this FLUSH was answered before it. */
            uint16_t at = 0;
            while (used_head(f, (uint16_t)(base + at)) != 3 * i)
                at++;
            for (uint16_t k = 0; k < at; k++)
                g_assert_cmpuint(used_head(f, (uint16_t)(base + k)), !=, 3 * i);
            for (unsigned w = 0; w < i; w++) {
                if (*vh_ram(&f->vh, REQ_GPA(w), 1) == VIRTIO_BLK_T_FLUSH)
                    continue; /* FLUSHes are not ordered among themselves */
                bool found = false;
                for (uint16_t k = 0; k < at; k++)
                    found |= used_head(f, (uint16_t)(base + k)) == 3 * w;
                g_assert_true(found);
            }
        }
    }
}

/*
 * The driver resets the device (status 0) right after kicking writes: once the reset
 * returns nothing is in flight, and after the driver sets the device up again only new
 * requests are answered, in the new ring.
 */
static void test_reset_in_flight(struct fixture *f, gconstpointer data)
{
    (void)data;
    open_disk(f, HV_CACHE_WRITEBACK, 0);
    for (unsigned round = 0; round < 10; round++) {
        for (unsigned i = 0; i < QSIZE / 3; i++)
            post(f, i, VIRTIO_BLK_T_OUT, 2048ull * i);
        kick(f);
        vh_regs_write(&f->vh, C_STATUS, 0, 1);
        g_assert_cmpuint(hv_virtio_blk_inflight(f->blk), ==, 0);
        /* A new ring at the same place, as a driver probing again would have. */
        memset(vh_ram(&f->vh, RING_GPA(0), 0x3000), 0, 0x3000);
        f->avail = f->kicked = 0;
        vh_driver_init(&f->vh, 0, 1);
        vh_driver_ok(&f->vh);
        post(f, 0, VIRTIO_BLK_T_IN, 0);
        kick(f);
        wait_used(f, 1);
        g_usleep(2000); /* room for a stale answer to show up, which must not */
        g_assert_cmpuint(used_idx(f), ==, 1);
        g_assert_cmpuint(used_head(f, 0), ==, 0);
        g_assert_cmpuint(status_of(f, 0), ==, VIRTIO_BLK_S_OK);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define T(name, fn) g_test_add(name, struct fixture, NULL, setup, fn, teardown)
    T("/virtio-blk-io/no-lost-kicks", test_no_lost_kicks);
    T("/virtio-blk-io/flush-after-writes", test_flush_after_writes);
    T("/virtio-blk-io/reset-in-flight", test_reset_in_flight);
    return g_test_run();
}
