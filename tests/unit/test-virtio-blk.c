/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of virtio-blk: the request parser, the device on fake guest memory, image locks. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "block/raw.h"
#include "kvm/vm.h"
#include "virtio/blk.h"

/* ---- the parser ---- */

static const struct hv_blk_limits lim = {
    .capacity = 1000, .max_ranges = 4, .max_range_sectors = 100,
};

static uint8_t hdr[16];
static uint8_t buf[8192];
static uint8_t status[4];

static void set_hdr(uint32_t type, uint64_t sector)
{
    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, &type, 4);
    memcpy(hdr + 8, &sector, 8);
}

static int parse(struct iovec *iov, unsigned nr_out, unsigned nr_in,
                 const struct hv_blk_limits *l, struct hv_blk_parsed *p, struct iovec *data)
{
    const char *why = NULL;
    int r = hv_blk_parse(iov, nr_out, nr_in, l, p, data, &why);
    if (r < 0)
        g_assert_nonnull(why);
    return r;
}

static void test_parse_read(void)
{
    set_hdr(VIRTIO_BLK_T_IN, 10);
    struct iovec iov[] = {{hdr, 16}, {buf, 512}, {buf + 512, 1024}, {status, 1}};
    struct iovec data[4];
    struct hv_blk_parsed p;
    g_assert_cmpint(parse(iov, 1, 3, &lim, &p, data), ==, 0);
    g_assert_false(p.done);
    g_assert_cmpuint(p.type, ==, VIRTIO_BLK_T_IN);
    g_assert_cmpuint(p.sector, ==, 10);
    g_assert_cmpuint(p.data_len, ==, 1536);
    g_assert_cmpuint(p.nr_data, ==, 2);
    g_assert_true(data[0].iov_base == buf && data[1].iov_len == 1024);
    g_assert_true(p.status == status);
}

/* A guest may put the status byte at the end of its last data buffer. */
static void test_parse_status_in_data(void)
{
    set_hdr(VIRTIO_BLK_T_IN, 0);
    struct iovec iov[] = {{hdr, 16}, {buf, 512}, {buf + 512, 513}};
    struct iovec data[3];
    struct hv_blk_parsed p;
    g_assert_cmpint(parse(iov, 1, 2, &lim, &p, data), ==, 0);
    g_assert_false(p.done);
    g_assert_cmpuint(p.data_len, ==, 1024);
    g_assert_cmpuint(p.nr_data, ==, 2);
    g_assert_cmpuint(data[1].iov_len, ==, 512);
    g_assert_true(p.status == buf + 512 + 512);
}

/* The header over three buffers, the last of which also holds the data. */
static void test_parse_split_header(void)
{
    uint8_t out[16 + 1024];
    uint32_t type = VIRTIO_BLK_T_OUT;
    uint64_t sector = 999 - 1; /* the last two sectors */
    memcpy(out, &type, 4);
    memset(out + 4, 0, 4);
    memcpy(out + 8, &sector, 8);
    struct iovec iov[] = {{out, 3}, {out + 3, 7}, {out + 10, 6 + 1024}, {status, 1}};
    struct iovec data[4];
    struct hv_blk_parsed p;
    g_assert_cmpint(parse(iov, 3, 1, &lim, &p, data), ==, 0);
    g_assert_false(p.done);
    g_assert_cmpuint(p.type, ==, VIRTIO_BLK_T_OUT);
    g_assert_cmpuint(p.sector, ==, 998);
    g_assert_cmpuint(p.nr_data, ==, 1);
    g_assert_true(data[0].iov_base == out + 16);
    g_assert_cmpuint(data[0].iov_len, ==, 1024);
}

static void test_parse_broken(void)
{
    struct hv_blk_parsed p;
    struct iovec data[4];
    set_hdr(VIRTIO_BLK_T_IN, 0);
    /* Header too short. */
    struct iovec a[] = {{hdr, 15}, {status, 1}};
    g_assert_cmpint(parse(a, 1, 1, &lim, &p, data), ==, -EINVAL);
    struct iovec b[] = {{hdr, 8}, {hdr + 8, 7}, {status, 1}};
    g_assert_cmpint(parse(b, 2, 1, &lim, &p, data), ==, -EINVAL);
    /* No status byte, or only empty writable buffers. */
    struct iovec c[] = {{hdr, 16}};
    g_assert_cmpint(parse(c, 1, 0, &lim, &p, data), ==, -EINVAL);
    struct iovec d[] = {{hdr, 16}, {status, 0}};
    g_assert_cmpint(parse(d, 1, 1, &lim, &p, data), ==, -EINVAL);
    /* Nothing at all. */
    g_assert_cmpint(parse(NULL, 0, 0, &lim, &p, data), ==, -EINVAL);
}

static void expect_code(uint32_t type, uint64_t sector, size_t len, bool write_buf,
                        const struct hv_blk_limits *l, uint8_t code)
{
    set_hdr(type, sector);
    struct iovec iov[3] = {{hdr, 16}};
    unsigned nr_out = 1, nr_in = 0;
    if (write_buf)
        iov[nr_out++] = (struct iovec){buf, len};
    else if (len)
        iov[nr_out + nr_in++] = (struct iovec){buf, len};
    iov[nr_out + nr_in++] = (struct iovec){status, 1};
    struct iovec data[3];
    struct hv_blk_parsed p;
    g_assert_cmpint(parse(iov, nr_out, nr_in, l, &p, data), ==, 0);
    g_assert_true(p.done);
    g_assert_cmpuint(p.code, ==, code);
}

static void test_parse_ranges_rw(void)
{
    /* Past the end, straddling it, overflowing. */
    expect_code(VIRTIO_BLK_T_IN, 1000, 512, false, &lim, VIRTIO_BLK_S_IOERR);
    expect_code(VIRTIO_BLK_T_IN, 999, 1024, false, &lim, VIRTIO_BLK_S_IOERR);
    expect_code(VIRTIO_BLK_T_OUT, UINT64_MAX, 512, true, &lim, VIRTIO_BLK_S_IOERR);
    expect_code(VIRTIO_BLK_T_OUT, UINT64_MAX / 512, 1024, true, &lim, VIRTIO_BLK_S_IOERR);
    /* Not whole sectors. */
    expect_code(VIRTIO_BLK_T_IN, 0, 511, false, &lim, VIRTIO_BLK_S_IOERR);
    expect_code(VIRTIO_BLK_T_OUT, 0, 513, true, &lim, VIRTIO_BLK_S_IOERR);
    /* Nothing to transfer is done at once. */
    expect_code(VIRTIO_BLK_T_IN, 0, 0, false, &lim, VIRTIO_BLK_S_OK);
    /* The very last sector is fine. */
    set_hdr(VIRTIO_BLK_T_IN, 999);
    struct iovec iov[] = {{hdr, 16}, {buf, 512}, {status, 1}};
    struct iovec data[3];
    struct hv_blk_parsed p;
    g_assert_cmpint(parse(iov, 1, 2, &lim, &p, data), ==, 0);
    g_assert_false(p.done);
}

static void test_parse_readonly(void)
{
    struct hv_blk_limits ro = lim;
    ro.readonly = true;
    expect_code(VIRTIO_BLK_T_OUT, 0, 512, true, &ro, VIRTIO_BLK_S_IOERR);
    uint8_t range[16] = {0};
    range[8] = 1;
    memcpy(buf, range, 16);
    expect_code(VIRTIO_BLK_T_DISCARD, 0, 16, true, &ro, VIRTIO_BLK_S_IOERR);
    expect_code(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, true, &ro, VIRTIO_BLK_S_IOERR);
    /* Reads and flushes still work. */
    set_hdr(VIRTIO_BLK_T_IN, 0);
    struct iovec iov[] = {{hdr, 16}, {buf, 512}, {status, 1}};
    struct iovec data[3];
    struct hv_blk_parsed p;
    g_assert_cmpint(parse(iov, 1, 2, &ro, &p, data), ==, 0);
    g_assert_false(p.done);
    set_hdr(VIRTIO_BLK_T_FLUSH, 0);
    g_assert_cmpint(parse((struct iovec[]){{hdr, 16}, {status, 1}}, 1, 1, &ro, &p, data), ==, 0);
    g_assert_false(p.done);
}

static void test_parse_unsupported(void)
{
    const uint32_t types[] = {2, 3, 5, 10 /* GET_LIFETIME */, 14 /* SECURE_ERASE */, 0x80000000,
                              0xffffffff};
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
        expect_code(types[i], 0, 0, false, &lim, VIRTIO_BLK_S_UNSUPP);
}

static void test_parse_get_id(void)
{
    set_hdr(VIRTIO_BLK_T_GET_ID, 0);
    struct iovec iov[] = {{hdr, 16}, {buf, 21}};
    struct iovec data[2];
    struct hv_blk_parsed p;
    g_assert_cmpint(parse(iov, 1, 1, &lim, &p, data), ==, 0);
    g_assert_false(p.done);
    g_assert_cmpuint(p.data_len, ==, 20);
    g_assert_true(p.status == buf + 20);
}

static void put_range(uint8_t *to, uint64_t sector, uint32_t n, uint32_t flags)
{
    memcpy(to, &sector, 8);
    memcpy(to + 8, &n, 4);
    memcpy(to + 12, &flags, 4);
}

static void test_parse_discard(void)
{
    uint8_t r[5 * 16];
    put_range(r, 0, 8, 0);
    put_range(r + 16, 992, 8, 0);
    set_hdr(VIRTIO_BLK_T_DISCARD, 0);
    /* Two ranges, the second split over two buffers. */
    struct iovec iov[] = {{hdr, 16}, {r, 20}, {r + 20, 12}, {status, 1}};
    struct iovec data[4];
    struct hv_blk_parsed p;
    g_assert_cmpint(parse(iov, 3, 1, &lim, &p, data), ==, 0);
    g_assert_false(p.done);
    g_assert_cmpuint(p.nr_ranges, ==, 2);
    g_assert_cmpuint(p.ranges[1].sector, ==, 992);
    g_assert_cmpuint(p.ranges[1].nr_sectors, ==, 8);

    /* No range, a partial range, more than max_ranges. */
    memcpy(buf, r, sizeof(r));
    expect_code(VIRTIO_BLK_T_DISCARD, 0, 0, true, &lim, VIRTIO_BLK_S_UNSUPP);
    expect_code(VIRTIO_BLK_T_DISCARD, 0, 24, true, &lim, VIRTIO_BLK_S_UNSUPP);
    expect_code(VIRTIO_BLK_T_DISCARD, 0, 5 * 16, true, &lim, VIRTIO_BLK_S_UNSUPP);
    /* Past the end; longer than max_range_sectors. */
    put_range(buf, 995, 8, 0);
    expect_code(VIRTIO_BLK_T_DISCARD, 0, 16, true, &lim, VIRTIO_BLK_S_IOERR);
    put_range(buf, UINT64_MAX - 2, 8, 0);
    expect_code(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, true, &lim, VIRTIO_BLK_S_IOERR);
    put_range(buf, 0, 101, 0);
    expect_code(VIRTIO_BLK_T_DISCARD, 0, 16, true, &lim, VIRTIO_BLK_S_UNSUPP);
    /* UNMAP belongs to WRITE_ZEROES only; other flag bits to nobody. */
    put_range(buf, 0, 8, VIRTIO_BLK_WZ_F_UNMAP);
    expect_code(VIRTIO_BLK_T_DISCARD, 0, 16, true, &lim, VIRTIO_BLK_S_UNSUPP);
    put_range(buf, 0, 8, 2);
    expect_code(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, true, &lim, VIRTIO_BLK_S_UNSUPP);
    put_range(buf, 0, 8, VIRTIO_BLK_WZ_F_UNMAP);
    set_hdr(VIRTIO_BLK_T_WRITE_ZEROES, 0);
    struct iovec w[] = {{hdr, 16}, {buf, 16}, {status, 1}};
    g_assert_cmpint(parse(w, 2, 1, &lim, &p, data), ==, 0);
    g_assert_false(p.done);
    g_assert_cmpuint(p.ranges[0].flags, ==, VIRTIO_BLK_WZ_F_UNMAP);
}

/* ---- the device on fake guest memory ---- */

#define QSZ HV_BLK_QUEUE_SIZE
#define DESC_GPA 0x10000
#define AVAIL_GPA 0x20000
#define USED_GPA 0x30000
#define BUF_GPA 0x100000
#define DISK_SIZE (4u << 20)

struct rig {
    char *dir;
    char *path;
    struct hv_memory mem;
    struct hv_vm vm;
    struct hv_pci pci;
    struct hv_virtio_blk *blk;
    struct hv_virtio_dev *dev;
    uint16_t next_desc;
    uint16_t avail_idx;
    uint64_t next_buf;
};

static void *gptr(struct rig *r, uint64_t gpa, uint64_t len)
{
    void *p = hv_memory_ptr(&r->mem, gpa, len);
    g_assert_nonnull(p);
    return p;
}

static char *make_image(const char *dir, const char *name, off_t size)
{
    char *path = g_build_filename(dir, name, NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

static void rig_up(struct rig *r, bool readonly, enum hv_disk_cache cache)
{
    memset(r, 0, sizeof(*r));
    r->dir = g_dir_make_tmp("test-virtio-blk-XXXXXX", NULL);
    g_assert_nonnull(r->dir);
    r->path = make_image(r->dir, "disk.img", DISK_SIZE);
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, HV_MiB(32), 0), ==, 0);
    g_assert_cmpint(hv_memory_alloc(&r->mem, &l, 0), ==, 0);
    /* No KVM: interrupts reach a VM fd of -1 and are dropped; the ISR still records them. */
    r->vm.fd = -1;
    r->pci.vm = &r->vm;
    pthread_mutex_init(&r->pci.lock, NULL);

    struct hv_disk_spec spec = {.path = r->path, .readonly = readonly, .cache = cache,
                                .serial = "test-serial"};
    struct hv_raw *raw;
    char *err = NULL;
    g_assert_cmpint(hv_raw_open(&spec, &raw, &err), ==, 0);
    g_assert_cmpint(hv_virtio_blk_new(raw, &r->vm, &r->mem, &r->blk, &err), ==, 0);
    g_assert_null(err);
    r->dev = hv_virtio_blk_dev(r->blk);
    r->dev->pci.pci = &r->pci;

    struct hv_virtq *vq = &r->dev->queues[0].vq;
    vq->size = QSZ;
    vq->desc_gpa = DESC_GPA;
    vq->avail_gpa = AVAIL_GPA;
    vq->used_gpa = USED_GPA;
    vq->enabled = true;
    const char *why = NULL;
    g_assert_cmpint(hv_virtq_start(vq, &r->mem, false, false, &why), ==, 0);
    r->dev->status = VIRTIO_STATUS_DRIVER_OK;
    r->next_buf = BUF_GPA;
}

static void rig_down(struct rig *r)
{
    hv_virtio_blk_device_ops.destroy(r->blk);
    hv_memory_free(&r->mem);
    pthread_mutex_destroy(&r->pci.lock);
    g_unlink(r->path);
    g_rmdir(r->dir);
    g_free(r->path);
    g_free(r->dir);
}

static uint64_t alloc_buf(struct rig *r, uint64_t len)
{
    uint64_t gpa = r->next_buf;
    r->next_buf += (len + 4095) & ~4095ull;
    return gpa;
}

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

/* Puts a chain in the descriptor table and makes it available; returns its head. */
static uint16_t offer(struct rig *r, const struct seg *segs, unsigned n)
{
    uint16_t head = r->next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % QSZ);
        uint8_t *d = gptr(r, DESC_GPA + 16ull * idx, 16);
        uint16_t flags = (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        uint16_t next = (uint16_t)((idx + 1) % QSZ);
        memcpy(d, &segs[i].gpa, 8);
        memcpy(d + 8, &segs[i].len, 4);
        memcpy(d + 12, &flags, 2);
        memcpy(d + 14, &next, 2);
    }
    r->next_desc = (uint16_t)((head + n) % QSZ);
    uint16_t *ring = gptr(r, AVAIL_GPA + 4 + 2ull * (r->avail_idx % QSZ), 2);
    *ring = head;
    r->avail_idx++;
    uint16_t *idx = gptr(r, AVAIL_GPA + 2, 2);
    __atomic_store_n(idx, r->avail_idx, __ATOMIC_RELEASE);
    return head;
}

static uint16_t used_idx(struct rig *r)
{
    return __atomic_load_n((uint16_t *)gptr(r, USED_GPA + 2, 2), __ATOMIC_ACQUIRE);
}

/* Kicks the queue and runs the main loop until `n` more chains are used. */
static void kick_and_wait(struct rig *r, uint16_t n)
{
    uint16_t want = (uint16_t)(used_idx(r) + n);
    hv_virtio_blk_kick(r->blk);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (used_idx(r) != want) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(200);
    }
}

static uint32_t used_len_of(struct rig *r, uint16_t head)
{
    for (unsigned i = 0; i < QSZ; i++) {
        uint32_t e[2];
        memcpy(e, gptr(r, USED_GPA + 4 + 8ull * i, 8), 8);
        if (e[0] == head)
            return e[1];
    }
    g_assert_not_reached();
}

static uint64_t put_hdr(struct rig *r, uint32_t type, uint64_t sector)
{
    uint64_t gpa = alloc_buf(r, 16);
    uint8_t *h = gptr(r, gpa, 16);
    memset(h, 0, 16);
    memcpy(h, &type, 4);
    memcpy(h + 8, &sector, 8);
    return gpa;
}

/* One request: header, `len` bytes of data at `data_gpa`, status. Returns the status. */
static uint8_t rw(struct rig *r, uint32_t type, uint64_t sector, uint64_t data_gpa, uint32_t len,
                  uint32_t *used_len)
{
    uint64_t st = alloc_buf(r, 1);
    *(uint8_t *)gptr(r, st, 1) = 0xee;
    struct seg s[3] = {{put_hdr(r, type, sector), 16, false}};
    unsigned n = 1;
    if (len)
        s[n++] = (struct seg){data_gpa, len, type != VIRTIO_BLK_T_OUT};
    s[n++] = (struct seg){st, 1, true};
    uint16_t head = offer(r, s, n);
    kick_and_wait(r, 1);
    if (used_len)
        *used_len = used_len_of(r, head);
    return *(uint8_t *)gptr(r, st, 1);
}

static uint8_t ranges(struct rig *r, uint32_t type, uint64_t sector, uint32_t nr, uint32_t flags)
{
    uint64_t gpa = alloc_buf(r, 16);
    put_range(gptr(r, gpa, 16), sector, nr, flags);
    uint64_t st = alloc_buf(r, 1);
    struct seg s[] = {{put_hdr(r, type, 0), 16, false}, {gpa, 16, false}, {st, 1, true}};
    offer(r, s, 3);
    kick_and_wait(r, 1);
    return *(uint8_t *)gptr(r, st, 1);
}

static void test_device_rw(void)
{
    struct rig r;
    rig_up(&r, false, HV_CACHE_WRITEBACK);
    uint64_t capacity = 0;
    r.dev->ops->config_read(r.dev, 0, &capacity, 8);
    g_assert_cmpuint(capacity, ==, DISK_SIZE / 512);
    g_assert_false(r.dev->host_features & (1u << 5)); /* not RO */

    /* Write 8 KiB at sector 8 from two guest buffers. */
    uint64_t a = alloc_buf(&r, 8192);
    uint8_t *pa = gptr(&r, a, 8192);
    for (unsigned i = 0; i < 8192; i++)
        pa[i] = (uint8_t)(i * 7 + 3);
    uint64_t st = alloc_buf(&r, 1);
    struct seg s[] = {{put_hdr(&r, VIRTIO_BLK_T_OUT, 8), 16, false}, {a, 4096, false},
                      {a + 4096, 4096, false}, {st, 1, true}};
    uint16_t head = offer(&r, s, 4);
    kick_and_wait(&r, 1);
    g_assert_cmpuint(*(uint8_t *)gptr(&r, st, 1), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(used_len_of(&r, head), ==, 1);
    /* The driver was interrupted (INTx here: MSI-X is off). */
    g_assert_cmpuint(r.dev->isr & 1, ==, 1);

    g_autofree uint8_t *file = NULL;
    gsize flen;
    g_assert_true(g_file_get_contents(r.path, (char **)&file, &flen, NULL));
    g_assert_cmpuint(flen, ==, DISK_SIZE);
    g_assert_cmpmem(file + 4096, 8192, pa, 8192);

    /* Read it back into one buffer. */
    uint64_t b = alloc_buf(&r, 8192);
    uint32_t used;
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_IN, 8, b, 8192, &used), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(used, ==, 8193);
    g_assert_cmpmem(gptr(&r, b, 8192), 8192, pa, 8192);

    /* Past the end: an error for the guest, nothing else. */
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_IN, DISK_SIZE / 512, b, 512, NULL), ==,
                     VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(rw(&r, 2, 0, b, 512, NULL), ==, VIRTIO_BLK_S_UNSUPP);
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), ==, VIRTIO_BLK_S_OK);

    /* GET_ID: the serial, NUL-padded to 20 bytes. */
    memset(gptr(&r, b, 20), 0xff, 20);
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_GET_ID, 0, b, 20, &used), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(used, ==, 21);
    char id[20] = "test-serial";
    g_assert_cmpmem(gptr(&r, b, 20), 20, id, 20);
    g_assert_false(r.dev->broken);
    rig_down(&r);
}

/* Many requests in flight at once, each completed and each answered. */
static void test_device_many(void)
{
    struct rig r;
    rig_up(&r, false, HV_CACHE_WRITEBACK);
    enum { N = 60 };
    uint64_t bufs[N], sts[N];
    for (unsigned i = 0; i < N; i++) {
        bufs[i] = alloc_buf(&r, 4096);
        memset(gptr(&r, bufs[i], 4096), (int)i + 1, 4096);
        sts[i] = alloc_buf(&r, 1);
        struct seg s[] = {{put_hdr(&r, VIRTIO_BLK_T_OUT, 8ull * i), 16, false},
                          {bufs[i], 4096, false}, {sts[i], 1, true}};
        offer(&r, s, 3);
    }
    kick_and_wait(&r, N);
    g_autofree uint8_t *file = NULL;
    gsize flen;
    g_assert_true(g_file_get_contents(r.path, (char **)&file, &flen, NULL));
    for (unsigned i = 0; i < N; i++) {
        g_assert_cmpuint(*(uint8_t *)gptr(&r, sts[i], 1), ==, VIRTIO_BLK_S_OK);
        g_assert_cmpuint(file[4096 * i], ==, i + 1);
        g_assert_cmpuint(file[4096 * i + 4095], ==, i + 1);
    }
    g_assert_cmpuint(hv_virtio_blk_inflight(r.blk), ==, 0);
    rig_down(&r);
}

static uint64_t blocks_of(const char *path)
{
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    return (uint64_t)st.st_blocks;
}

static void test_device_discard(void)
{
    struct rig r;
    rig_up(&r, false, HV_CACHE_WRITEBACK);
    /* 1 MiB of data at 1 MiB. */
    uint64_t a = alloc_buf(&r, 1 << 20);
    memset(gptr(&r, a, 1 << 20), 0x5a, 1 << 20);
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_OUT, 2048, a, 1 << 20, NULL), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), ==, VIRTIO_BLK_S_OK);
    uint64_t full = blocks_of(r.path);
    g_assert_cmpuint(full * 512, >=, 1 << 20);

    /* Discard the first half: a hole, same size. */
    g_assert_cmpuint(ranges(&r, VIRTIO_BLK_T_DISCARD, 2048, 1024, 0), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(blocks_of(r.path) * 512, <=, full * 512 - (512 << 10));
    int fd = open(r.path, O_RDONLY);
    g_assert_cmpint(lseek(fd, 1 << 20, SEEK_HOLE), ==, 1 << 20);
    struct stat st;
    g_assert_cmpint(fstat(fd, &st), ==, 0);
    g_assert_cmpuint(st.st_size, ==, DISK_SIZE);

    /* WRITE_ZEROES on the rest: zeroes read back, and no block holds them. */
    uint64_t before = blocks_of(r.path);
    g_assert_cmpuint(ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, 3072, 1024, VIRTIO_BLK_WZ_F_UNMAP), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(blocks_of(r.path), <, before);
    g_assert_cmpint(lseek(fd, 0, SEEK_DATA), ==, -1); /* the whole file is a hole */
    close(fd);
    uint64_t b = alloc_buf(&r, 1 << 20);
    memset(gptr(&r, b, 1 << 20), 0xff, 1 << 20);
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_IN, 2048, b, 1 << 20, NULL), ==, VIRTIO_BLK_S_OK);
    uint8_t *pb = gptr(&r, b, 1 << 20);
    for (unsigned i = 0; i < 1u << 20; i += 511)
        g_assert_cmpuint(pb[i], ==, 0);
    /* Past the end. */
    g_assert_cmpuint(ranges(&r, VIRTIO_BLK_T_DISCARD, DISK_SIZE / 512 - 1, 2, 0), ==,
                     VIRTIO_BLK_S_IOERR);
    rig_down(&r);
}

static void test_device_readonly(void)
{
    struct rig r;
    rig_up(&r, true, HV_CACHE_WRITEBACK);
    g_assert_true(r.dev->host_features & (1u << 5)); /* VIRTIO_BLK_F_RO */
    g_assert_false(r.dev->host_features & (1u << 13)); /* no DISCARD */
    uint64_t a = alloc_buf(&r, 4096);
    memset(gptr(&r, a, 4096), 0x77, 4096);
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_OUT, 0, a, 4096, NULL), ==, VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(ranges(&r, VIRTIO_BLK_T_DISCARD, 0, 8, 0), ==, VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_IN, 0, a, 4096, NULL), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(*(uint8_t *)gptr(&r, a, 1), ==, 0);
    g_assert_cmpuint(blocks_of(r.path), ==, 0);
    rig_down(&r);
}

/* cache=none with a guest buffer O_DIRECT cannot take goes through a bounce buffer. */
static void test_device_direct_unaligned(void)
{
    g_autofree char *probe = g_build_filename(g_get_tmp_dir(), "test-virtio-blk-direct", NULL);
    int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT, 0600);
    g_unlink(probe);
    if (fd < 0) {
        g_test_skip("the temporary folder's file system has no O_DIRECT");
        return;
    }
    close(fd);
    struct rig r;
    rig_up(&r, false, HV_CACHE_NONE);
    uint64_t a = alloc_buf(&r, 8192) + 100;
    uint8_t *pa = gptr(&r, a, 4096);
    for (unsigned i = 0; i < 4096; i++)
        pa[i] = (uint8_t)(i ^ 0x3c);
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_OUT, 16, a, 4096, NULL), ==, VIRTIO_BLK_S_OK);
    uint64_t b = alloc_buf(&r, 8192) + 7;
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_IN, 16, b, 4096, NULL), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpmem(gptr(&r, b, 4096), 4096, pa, 4096);
    uint64_t c = alloc_buf(&r, 4096);
    g_assert_cmpuint(rw(&r, VIRTIO_BLK_T_IN, 16, c, 4096, NULL), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpmem(gptr(&r, c, 4096), 4096, pa, 4096);
    rig_down(&r);
}

/*
 * A reset waits for the requests in flight and answers none of them once it has begun: the
 * I/O thread may answer some before (they complete as it likes), none after.
 */
static void test_device_reset_drains(void)
{
    struct rig r;
    rig_up(&r, false, HV_CACHE_WRITEBACK);
    enum { N = 20 };
    for (unsigned i = 0; i < N; i++) {
        uint64_t b = alloc_buf(&r, 4096);
        memset(gptr(&r, b, 4096), 0x40 + (int)i, 4096);
        struct seg s[] = {{put_hdr(&r, VIRTIO_BLK_T_OUT, 8ull * i), 16, false}, {b, 4096, false},
                          {alloc_buf(&r, 1), 1, true}};
        offer(&r, s, 3);
    }
    hv_virtio_blk_kick(r.blk);
    r.dev->ops->reset(r.dev);
    g_assert_cmpuint(hv_virtio_blk_inflight(r.blk), ==, 0);
    uint16_t answered = used_idx(&r);
    g_assert_cmpuint(answered, <=, N);
    for (unsigned i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(500);
    }
    g_assert_cmpuint(used_idx(&r), ==, answered);
    /* The writes themselves did happen. */
    g_autofree uint8_t *file = NULL;
    gsize flen;
    g_assert_true(g_file_get_contents(r.path, (char **)&file, &flen, NULL));
    g_assert_cmpuint(file[4096 * (N - 1)], ==, 0x40 + N - 1);
    rig_down(&r);
}

/* A chain without a status byte is the guest breaking the protocol: the device needs a reset. */
static void test_device_broken_chain(void)
{
    struct rig r;
    rig_up(&r, false, HV_CACHE_WRITEBACK);
    struct seg s[] = {{put_hdr(&r, VIRTIO_BLK_T_IN, 0), 16, false}};
    offer(&r, s, 1);
    hv_virtio_blk_kick(r.blk);
    g_assert_true(r.dev->broken);
    g_assert_cmpuint(used_idx(&r), ==, 0);
    rig_down(&r);
}

/* ---- opening and locking images ---- */

static char *open_error(const struct hv_disk_spec *spec, int *r)
{
    struct hv_raw *raw = NULL;
    char *err = NULL;
    *r = hv_raw_open(spec, &raw, &err);
    g_assert_null(raw);
    g_assert_nonnull(err);
    g_assert_null(strchr(err, '\n'));
    return err;
}

static void test_open_bad(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-virtio-blk-XXXXXX", NULL);
    g_autofree char *missing = g_build_filename(dir, "nope.img", NULL);
    g_autofree char *odd = make_image(dir, "odd.img", 1000);
    int r;
    struct hv_disk_spec spec = {.path = missing};
    g_autofree char *e1 = open_error(&spec, &r);
    g_assert_cmpint(r, ==, -ENOENT);
    g_assert_nonnull(strstr(e1, missing));
    g_assert_false(g_file_test(missing, G_FILE_TEST_EXISTS)); /* not created */

    spec.path = dir;
    g_autofree char *e2 = open_error(&spec, &r);
    g_assert_nonnull(strstr(e2, "directory"));
    spec.readonly = true;
    g_autofree char *e3 = open_error(&spec, &r);
    g_assert_nonnull(strstr(e3, "directory"));

    spec = (struct hv_disk_spec){.path = odd};
    g_autofree char *e4 = open_error(&spec, &r);
    g_assert_nonnull(strstr(e4, "not a multiple of 512"));
    g_assert_nonnull(strstr(e4, odd));
    g_unlink(odd);
    g_rmdir(dir);
}

static void test_lock(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-virtio-blk-XXXXXX", NULL);
    g_autofree char *path = make_image(dir, "a.img", 1 << 20);
    struct hv_disk_spec rw_spec = {.path = path}, ro_spec = {.path = path, .readonly = true};
    struct hv_raw *a = NULL, *b = NULL, *c = NULL;
    char *err = NULL;
    int r;
    g_autofree char *self = g_strdup_printf("pid %d", (int)getpid());

    /* Writer, then a second writer and a reader: both refused, naming the holder. */
    g_assert_cmpint(hv_raw_open(&rw_spec, &a, &err), ==, 0);
    g_autofree char *e1 = open_error(&rw_spec, &r);
    g_assert_cmpint(r, ==, -EBUSY);
    g_assert_nonnull(strstr(e1, self));
    g_assert_nonnull(strstr(e1, path));
    g_autofree char *e2 = open_error(&ro_spec, &r);
    g_assert_cmpint(r, ==, -EBUSY);
    g_assert_nonnull(strstr(e2, self));
    hv_raw_close(a);

    /* Readers share; a writer waits for all of them to go. */
    g_assert_cmpint(hv_raw_open(&ro_spec, &a, &err), ==, 0);
    g_assert_cmpint(hv_raw_open(&ro_spec, &b, &err), ==, 0);
    g_autofree char *e3 = open_error(&rw_spec, &r);
    g_assert_cmpint(r, ==, -EBUSY);
    g_assert_nonnull(e3);
    hv_raw_close(a);
    g_autofree char *e4 = open_error(&rw_spec, &r);
    g_assert_cmpint(r, ==, -EBUSY);
    g_assert_nonnull(e4);
    hv_raw_close(b);
    g_assert_cmpint(hv_raw_open(&rw_spec, &c, &err), ==, 0);
    g_assert_null(err);
    hv_raw_close(c);
    g_unlink(path);
    g_rmdir(dir);
}

/* The holder is a vmdesk-vmm: the message names its control socket. */
static void test_lock_holder_vmm(void)
{
    /* The real interpreter: a wrapper (pyenv's shim) would go by the name we give it. */
    g_autofree char *python = realpath("/usr/bin/python3", NULL);
    if (!python) {
        g_test_skip("no python3 to play a vmdesk-vmm holding a lock");
        return;
    }
    g_autofree char *dir = g_dir_make_tmp("test-virtio-blk-XXXXXX", NULL);
    g_autofree char *path = make_image(dir, "b.img", 1 << 20);
    g_autofree char *fake = g_build_filename(dir, "vmdesk-vmm", NULL);
    g_assert_cmpint(symlink(python, fake), ==, 0);
    const char *code =
        "import fcntl,os,struct,sys\n"
        "fd=os.open(sys.argv[3],os.O_RDWR)\n"
        "fcntl.fcntl(fd,fcntl.F_OFD_SETLK,struct.pack('hhqqi4x',fcntl.F_WRLCK,0,0,0,0))\n"
        "print('ready',flush=True)\n"
        "sys.stdin.read()\n";
    char *argv[] = {fake, "-c", (char *)code, "--control", "/run/x/vm-a.sock", path, NULL};
    GPid pid;
    int in_fd, out_fd;
    GError *error = NULL;
    g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                           NULL, &pid, &in_fd, &out_fd, NULL, &error));
    char line[16] = {0};
    for (size_t got = 0; got < 6;) {
        ssize_t n = read(out_fd, line + got, 6 - got);
        g_assert_cmpint(n, >, 0);
        got += (size_t)n;
    }
    g_assert_cmpstr(line, ==, "ready\n");

    struct hv_disk_spec spec = {.path = path};
    int r;
    g_autofree char *e = open_error(&spec, &r);
    g_autofree char *want = g_strdup_printf("vmdesk-vmm pid %d (control socket /run/x/vm-a.sock)",
                                            (int)pid);
    g_test_message("%s", e);
    g_assert_nonnull(strstr(e, want));
    close(in_fd); /* the child's stdin ends: it exits */
    close(out_fd);
    int status;
    waitpid(pid, &status, 0);
    g_spawn_close_pid(pid);
    g_unlink(fake);
    g_unlink(path);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-blk/parse/read", test_parse_read);
    g_test_add_func("/virtio-blk/parse/status-in-data", test_parse_status_in_data);
    g_test_add_func("/virtio-blk/parse/split-header", test_parse_split_header);
    g_test_add_func("/virtio-blk/parse/broken", test_parse_broken);
    g_test_add_func("/virtio-blk/parse/ranges-rw", test_parse_ranges_rw);
    g_test_add_func("/virtio-blk/parse/readonly", test_parse_readonly);
    g_test_add_func("/virtio-blk/parse/unsupported", test_parse_unsupported);
    g_test_add_func("/virtio-blk/parse/get-id", test_parse_get_id);
    g_test_add_func("/virtio-blk/parse/discard", test_parse_discard);
    g_test_add_func("/virtio-blk/device/rw", test_device_rw);
    g_test_add_func("/virtio-blk/device/many", test_device_many);
    g_test_add_func("/virtio-blk/device/discard", test_device_discard);
    g_test_add_func("/virtio-blk/device/readonly", test_device_readonly);
    g_test_add_func("/virtio-blk/device/direct-unaligned", test_device_direct_unaligned);
    g_test_add_func("/virtio-blk/device/broken-chain", test_device_broken_chain);
    g_test_add_func("/virtio-blk/device/reset-drains", test_device_reset_drains);
    g_test_add_func("/virtio-blk/open/bad", test_open_bad);
    g_test_add_func("/virtio-blk/open/lock", test_lock);
    g_test_add_func("/virtio-blk/open/lock-holder-vmm", test_lock_holder_vmm);
    return g_test_run();
}
