/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-blk: a raw image as the guest's disk, its I/O on io_uring off the vCPU threads. */
#include "virtio/blk.h"

#include <errno.h>
#include <glib-unix.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Larger unaligned cache=none requests are refused rather than copied. */
#define MAX_BOUNCE (64u << 20)

/* struct virtio_blk_config (virtio 1.2, 5.2.4), up to the write-zeroes fields. */
struct blk_config {
    uint64_t capacity;
    uint32_t size_max;
    uint32_t seg_max;
    uint16_t cylinders;
    uint8_t heads;
    uint8_t sectors;
    uint32_t blk_size;
    uint8_t physical_block_exp;
    uint8_t alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
    uint8_t writeback;
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
} __attribute__((packed));

struct blk_stats {
    uint64_t reads, read_bytes;
    uint64_t writes, write_bytes;
    uint64_t flushes;
    uint64_t discards, discard_bytes;
    uint64_t write_zeroes, write_zeroes_bytes;
    uint64_t get_ids;
    uint64_t errors, unsupported;
};

/* One request handed to io_uring; lives until its last SQE completes. */
struct blk_req {
    uint16_t head;
    uint8_t *status;
    uint32_t type;
    uint64_t offset;  /* bytes into the image */
    uint64_t len;     /* data bytes */
    uint64_t done;    /* transferred so far (reads and writes) */
    unsigned pending; /* SQEs not completed */
    int err;          /* the first failure, -errno */
    void *bounce;     /* cache=none with unaligned guest buffers */
    struct iovec bounce_iov;
    struct iovec *sub; /* what the next readv/writev covers */
    unsigned nr_sub;
    unsigned nr_data;
    struct iovec data[];
};

struct hv_virtio_blk {
    struct hv_virtio_dev dev;
    struct hv_raw *raw;
    struct hv_blk_limits lim;
    struct blk_config cfg;

    /* Everything below is touched by the main loop and by resets on vCPU threads. */
    pthread_mutex_t lock;
    struct io_uring ring;
    bool ring_ready;
    int efd; /* the ring's completion eventfd, watched by the main loop */
    guint watch;
    unsigned inflight; /* requests */
    unsigned sqes;     /* SQEs taken and not completed */
    bool pushed;       /* used ring entries not yet signalled */
    struct blk_stats st;
    struct hv_virtq_req req; /* the chain being parsed */
    struct hv_blk_parsed parsed;
    struct iovec data[HV_VIRTQ_MAX_SEGS];
};

/* ---- completing ---- */

static void account(struct hv_virtio_blk *blk, uint32_t type, uint64_t bytes, uint8_t code)
{
    struct blk_stats *st = &blk->st;
    if (code == VIRTIO_BLK_S_IOERR)
        st->errors++;
    else if (code == VIRTIO_BLK_S_UNSUPP)
        st->unsupported++;
    switch (type) {
    case VIRTIO_BLK_T_IN: st->reads++; st->read_bytes += code ? 0 : bytes; break;
    case VIRTIO_BLK_T_OUT: st->writes++; st->write_bytes += code ? 0 : bytes; break;
    case VIRTIO_BLK_T_FLUSH: st->flushes++; break;
    case VIRTIO_BLK_T_GET_ID: st->get_ids++; break;
    case VIRTIO_BLK_T_DISCARD: st->discards++; st->discard_bytes += code ? 0 : bytes; break;
    case VIRTIO_BLK_T_WRITE_ZEROES:
        st->write_zeroes++;
        st->write_zeroes_bytes += code ? 0 : bytes;
        break;
    default: break;
    }
}

/* Writes the status byte and gives the chain back; `in` counts the bytes written to it. */
static void answer(struct hv_virtio_blk *blk, uint16_t head, uint8_t *status, uint8_t code,
                   uint32_t in)
{
    *status = code;
    if (blk->dev.broken)
        return; /* the ring is not ours to touch until the driver resets the device */
    hv_virtq_push(&blk->dev.queues[0].vq, head, in);
    blk->pushed = true;
}

static uint8_t status_of(const struct blk_req *req)
{
    if (!req->err)
        return VIRTIO_BLK_S_OK;
    if (req->err == -EOPNOTSUPP) {
        /* A discard is a hint; zeroes that cannot be written are not. */
        if (req->type == VIRTIO_BLK_T_DISCARD)
            return VIRTIO_BLK_S_OK;
        if (req->type == VIRTIO_BLK_T_WRITE_ZEROES)
            return VIRTIO_BLK_S_UNSUPP;
    }
    return VIRTIO_BLK_S_IOERR;
}

static void finish(struct hv_virtio_blk *blk, struct blk_req *req)
{
    uint8_t code = status_of(req);
    if (req->type == VIRTIO_BLK_T_IN && req->bounce && code == VIRTIO_BLK_S_OK)
        hv_iov_from_buf(req->data, req->nr_data, 0, req->bounce, req->len);
    account(blk, req->type, req->len, code);
    uint32_t in = req->type == VIRTIO_BLK_T_IN && code == VIRTIO_BLK_S_OK
                      ? (uint32_t)req->len + 1 : 1;
    answer(blk, req->head, req->status, code, in);
    free(req->bounce);
    g_free(req);
    blk->inflight--;
}

/* ---- submitting ---- */

static struct io_uring_sqe *get_sqe(struct hv_virtio_blk *blk)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&blk->ring);
    if (!sqe) {
        /* The submission ring is full: hand it to the kernel, which frees its slots. */
        io_uring_submit(&blk->ring);
        sqe = io_uring_get_sqe(&blk->ring);
    }
    if (sqe)
        blk->sqes++;
    return sqe;
}

static int submit_rw(struct hv_virtio_blk *blk, struct blk_req *req)
{
    struct io_uring_sqe *sqe = get_sqe(blk);
    if (!sqe)
        return -EAGAIN;
    uint64_t off = req->offset + req->done;
    if (req->type == VIRTIO_BLK_T_IN)
        io_uring_prep_readv(sqe, blk->raw->fd, req->sub, req->nr_sub, off);
    else
        io_uring_prep_writev(sqe, blk->raw->fd, req->sub, req->nr_sub, off);
    io_uring_sqe_set_data(sqe, req);
    req->pending++;
    return 0;
}

/* Skips `n` transferred bytes of the request's iovecs so a short transfer can go on. */
static void advance(struct blk_req *req, uint64_t n)
{
    while (req->nr_sub && n >= req->sub->iov_len) {
        n -= req->sub->iov_len;
        req->sub++;
        req->nr_sub--;
    }
    if (req->nr_sub) {
        req->sub->iov_base = (uint8_t *)req->sub->iov_base + n;
        req->sub->iov_len -= n;
    }
}

static bool aligned(const struct blk_req *req, unsigned align)
{
    for (unsigned i = 0; i < req->nr_data; i++)
        if ((uintptr_t)req->data[i].iov_base % align || req->data[i].iov_len % align)
            return false;
    return true;
}

/* O_DIRECT takes only aligned buffers; a guest that gives others gets a bounce buffer. */
static int setup_bounce(struct hv_virtio_blk *blk, struct blk_req *req)
{
    unsigned align = blk->raw->dio_align;
    if (!blk->raw->direct || align <= 1 || aligned(req, align))
        return 0;
    if (req->len > MAX_BOUNCE || posix_memalign(&req->bounce, MAX(align, 4096u), req->len))
        return -ENOMEM;
    if (req->type == VIRTIO_BLK_T_OUT)
        hv_iov_to_buf(req->data, req->nr_data, 0, req->bounce, req->len);
    req->bounce_iov = (struct iovec){.iov_base = req->bounce, .iov_len = req->len};
    req->sub = &req->bounce_iov;
    req->nr_sub = 1;
    return 0;
}

static int submit_ranges(struct hv_virtio_blk *blk, struct blk_req *req,
                         const struct hv_blk_parsed *p)
{
    /* Raw images keep holes: zeroes are a punched hole, never written zero blocks. */
    int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    for (unsigned i = 0; i < p->nr_ranges; i++) {
        struct io_uring_sqe *sqe = get_sqe(blk);
        if (!sqe)
            return -EAGAIN;
        io_uring_prep_fallocate(sqe, blk->raw->fd, mode, p->ranges[i].sector * HV_RAW_SECTOR,
                                (uint64_t)p->ranges[i].nr_sectors * HV_RAW_SECTOR);
        io_uring_sqe_set_data(sqe, req);
        req->pending++;
        req->len += (uint64_t)p->ranges[i].nr_sectors * HV_RAW_SECTOR;
    }
    return 0;
}

static int submit_flush(struct hv_virtio_blk *blk, struct blk_req *req)
{
    struct io_uring_sqe *sqe = get_sqe(blk);
    if (!sqe)
        return -EAGAIN;
    io_uring_prep_fsync(sqe, blk->raw->fd, IORING_FSYNC_DATASYNC);
    /* Starts only once every earlier SQE has completed: the writes it must cover. */
    sqe->flags |= IOSQE_IO_DRAIN;
    io_uring_sqe_set_data(sqe, req);
    req->pending++;
    return 0;
}

static void start(struct hv_virtio_blk *blk, const struct hv_blk_parsed *p)
{
    struct blk_req *req = g_malloc0(sizeof(*req) + p->nr_data * sizeof(struct iovec));
    req->head = blk->req.head;
    req->status = p->status;
    req->type = p->type;
    req->offset = p->sector * HV_RAW_SECTOR;
    req->nr_data = p->nr_data;
    memcpy(req->data, blk->data, p->nr_data * sizeof(struct iovec));
    req->sub = req->data;
    req->nr_sub = req->nr_data;
    blk->inflight++;

    int r;
    switch (p->type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        req->len = p->data_len;
        r = setup_bounce(blk, req);
        if (r == 0)
            r = submit_rw(blk, req);
        break;
    case VIRTIO_BLK_T_FLUSH: r = submit_flush(blk, req); break;
    default: r = submit_ranges(blk, req, p); break;
    }
    if (r < 0 && !req->err)
        req->err = r;
    if (req->pending == 0)
        finish(blk, req);
}

/* Handles one popped chain; false when the guest broke the protocol. */
static bool handle(struct hv_virtio_blk *blk)
{
    struct hv_virtq_req *vr = &blk->req;
    struct hv_blk_parsed *p = &blk->parsed;
    const char *why;
    if (hv_blk_parse(vr->iov, vr->nr_out, vr->nr_in, &blk->lim, p, blk->data, &why) < 0) {
        hv_virtio_fail(&blk->dev, why);
        return false;
    }
    if (p->done) {
        account(blk, p->type, 0, p->code);
        answer(blk, vr->head, p->status, p->code, 1);
    } else if (p->type == VIRTIO_BLK_T_GET_ID) {
        char id[HV_BLK_ID_BYTES] = {0};
        memcpy(id, blk->raw->serial, strnlen(blk->raw->serial, sizeof(id)));
        size_t n = hv_iov_from_buf(blk->data, p->nr_data, 0, id, sizeof(id));
        account(blk, p->type, n, VIRTIO_BLK_S_OK);
        answer(blk, vr->head, p->status, VIRTIO_BLK_S_OK, (uint32_t)n + 1);
    } else {
        start(blk, p);
    }
    return true;
}

static void blk_notify(struct hv_virtio_dev *dev, unsigned q)
{
    struct hv_virtio_blk *blk = dev->opaque;
    struct hv_virtq *vq = &dev->queues[q].vq;
    pthread_mutex_lock(&blk->lock);
    for (;;) {
        const char *why;
        int r = hv_virtq_pop(vq, &blk->req, &why);
        if (r < 0)
            hv_virtio_fail(dev, why);
        if (r <= 0 || !handle(blk))
            break;
    }
    io_uring_submit(&blk->ring);
    if (blk->pushed) {
        blk->pushed = false;
        hv_virtio_notify(dev, q);
    }
    pthread_mutex_unlock(&blk->lock);
}

/* ---- completions, on the main loop ---- */

static void complete_one(struct hv_virtio_blk *blk, struct blk_req *req, int res)
{
    blk->sqes--;
    req->pending--;
    if (res < 0) {
        if (!req->err)
            req->err = res;
    } else if (req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_OUT) {
        req->done += (uint64_t)res;
        if (req->done < req->len && !req->err) {
            /* A short transfer: go on from where it stopped; none at all is an error. */
            if (res == 0)
                req->err = -EIO;
            else {
                advance(req, (uint64_t)res);
                int r = submit_rw(blk, req);
                if (r < 0)
                    req->err = r;
            }
        }
    }
    if (req->pending == 0)
        finish(blk, req);
}

static void reap(struct hv_virtio_blk *blk)
{
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&blk->ring, &cqe) == 0) {
        struct blk_req *req = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&blk->ring, cqe);
        complete_one(blk, req, res);
    }
}

static gboolean on_completion(gint fd, GIOCondition cond, gpointer opaque)
{
    struct hv_virtio_blk *blk = opaque;
    (void)cond;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof(v));
    (void)n; /* EAGAIN: another pass already took these completions */
    pthread_mutex_lock(&blk->lock);
    reap(blk);
    io_uring_submit(&blk->ring); /* the rest of short transfers */
    if (blk->pushed) {
        blk->pushed = false;
        hv_virtio_notify(&blk->dev, 0);
    }
    pthread_mutex_unlock(&blk->lock);
    return G_SOURCE_CONTINUE;
}

/*
 * Waits for every SQE in flight and drops their requests unanswered: after a reset the ring
 * they came from is gone. Runs on whichever thread resets the device.
 */
static void drain(struct hv_virtio_blk *blk)
{
    if (!blk->ring_ready)
        return;
    io_uring_submit(&blk->ring);
    while (blk->sqes > 0) {
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&blk->ring, &cqe) < 0)
            break;
        struct blk_req *req = io_uring_cqe_get_data(cqe);
        io_uring_cqe_seen(&blk->ring, cqe);
        blk->sqes--;
        if (--req->pending == 0) {
            free(req->bounce);
            g_free(req);
            blk->inflight--;
        }
    }
    blk->pushed = false;
}

/* ---- the virtio device ---- */

static uint64_t blk_features(struct hv_virtio_dev *dev)
{
    struct hv_virtio_blk *blk = dev->opaque;
    uint64_t f = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                 (1ull << VIRTIO_BLK_F_FLUSH);
    if (blk->raw->readonly)
        f |= 1ull << VIRTIO_BLK_F_RO;
    else
        f |= (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
    return f;
}

static void blk_config_read(struct hv_virtio_dev *dev, unsigned offset, void *data, unsigned len)
{
    struct hv_virtio_blk *blk = dev->opaque;
    memcpy(data, (const uint8_t *)&blk->cfg + offset, len);
}

static void blk_reset(struct hv_virtio_dev *dev)
{
    struct hv_virtio_blk *blk = dev->opaque;
    pthread_mutex_lock(&blk->lock);
    drain(blk);
    pthread_mutex_unlock(&blk->lock);
}

static const struct hv_virtio_ops blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .nr_queues = 1,
    .queue_size = HV_BLK_QUEUE_SIZE,
    .config_size = sizeof(struct blk_config),
    .features = blk_features,
    .config_read = blk_config_read,
    .queue_notify = blk_notify,
    .reset = blk_reset,
};

static void fill_config(struct hv_virtio_blk *blk)
{
    struct hv_raw *raw = blk->raw;
    struct blk_config *c = &blk->cfg;
    c->capacity = raw->size / HV_RAW_SECTOR;
    /* The header and the status byte take two descriptors of the queue. */
    c->seg_max = HV_BLK_QUEUE_SIZE - 2;
    /* With O_DIRECT on a 4K-sector host, the guest must not send 512-byte sectors. */
    c->blk_size = MAX(raw->dio_align, (unsigned)HV_RAW_SECTOR);
    c->num_queues = 1;
    c->max_discard_sectors = c->max_write_zeroes_sectors = HV_BLK_MAX_RANGE_SECTORS;
    c->max_discard_seg = c->max_write_zeroes_seg = HV_BLK_MAX_RANGES;
    c->discard_sector_alignment = 4096 / HV_RAW_SECTOR; /* file systems' block size */
    c->write_zeroes_may_unmap = 1;
    blk->lim = (struct hv_blk_limits){.capacity = c->capacity, .readonly = raw->readonly,
                                      .max_ranges = HV_BLK_MAX_RANGES,
                                      .max_range_sectors = HV_BLK_MAX_RANGE_SECTORS};
}

static void blk_free(struct hv_virtio_blk *blk)
{
    if (blk->ring_ready) {
        drain(blk);
        io_uring_queue_exit(&blk->ring);
    }
    if (blk->watch)
        g_source_remove(blk->watch);
    if (blk->efd >= 0)
        close(blk->efd);
    hv_raw_close(blk->raw);
    pthread_mutex_destroy(&blk->lock);
    g_free(blk);
}

int hv_virtio_blk_new(struct hv_raw *raw, struct hv_vm *vm, const struct hv_memory *mem,
                      struct hv_virtio_blk **out, char **err)
{
    struct hv_virtio_blk *blk = g_new0(struct hv_virtio_blk, 1);
    blk->raw = raw;
    blk->efd = -1;
    pthread_mutex_init(&blk->lock, NULL);
    fill_config(blk);
    int r = io_uring_queue_init(HV_BLK_QUEUE_SIZE, &blk->ring, 0);
    if (r < 0) {
        *err = g_strdup_printf("--disk path=%s: cannot set up io_uring for its I/O: %s (a kernel "
                               "older than 5.6, io_uring disabled by sysctl "
                               "kernel.io_uring_disabled, or a seccomp filter)", raw->path,
                               g_strerror(-r));
        blk_free(blk);
        return r;
    }
    blk->ring_ready = true;
    blk->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (blk->efd < 0 || (r = io_uring_register_eventfd(&blk->ring, blk->efd)) < 0) {
        r = blk->efd < 0 ? -errno : r;
        *err = g_strdup_printf("--disk path=%s: cannot watch io_uring completions: %s",
                               raw->path, g_strerror(-r));
        blk_free(blk);
        return r;
    }
    blk->watch = g_unix_fd_add(blk->efd, G_IO_IN, on_completion, blk);
    if ((r = hv_virtio_init(&blk->dev, &blk_ops, blk, vm, mem)) < 0) {
        *err = g_strdup_printf("--disk path=%s: cannot create its virtio device: %s", raw->path,
                               g_strerror(-r));
        hv_virtio_destroy(&blk->dev);
        blk_free(blk);
        return r;
    }
    *out = blk;
    return 0;
}

struct hv_virtio_dev *hv_virtio_blk_dev(struct hv_virtio_blk *blk)
{
    return &blk->dev;
}

unsigned hv_virtio_blk_inflight(struct hv_virtio_blk *blk)
{
    pthread_mutex_lock(&blk->lock);
    unsigned n = blk->inflight;
    pthread_mutex_unlock(&blk->lock);
    return n;
}

/* ---- the machine's hooks ---- */

static void dev_reset(void *impl)
{
    struct hv_virtio_blk *blk = impl;
    hv_virtio_reset(&blk->dev);
}

static void dev_destroy(void *impl)
{
    struct hv_virtio_blk *blk = impl;
    hv_virtio_destroy(&blk->dev);
    blk_free(blk);
}

static void add_int(JsonBuilder *b, const char *name, uint64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)v);
}

static void add_string(JsonBuilder *b, const char *name, const char *v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, v);
}

static void dev_describe(void *impl, JsonBuilder *b)
{
    struct hv_virtio_blk *blk = impl;
    add_string(b, "path", blk->raw->path);
    json_builder_set_member_name(b, "readonly");
    json_builder_add_boolean_value(b, blk->raw->readonly);
    add_string(b, "cache", blk->raw->cache == HV_CACHE_NONE ? "none" : "writeback");
    add_string(b, "serial", blk->raw->serial);
    add_int(b, "size", blk->raw->size);
    add_int(b, "pci-slot", blk->dev.pci.slot);
}

static void dev_stats(void *impl, JsonBuilder *b)
{
    struct hv_virtio_blk *blk = impl;
    pthread_mutex_lock(&blk->lock);
    struct blk_stats st = blk->st;
    unsigned inflight = blk->inflight;
    pthread_mutex_unlock(&blk->lock);
    add_int(b, "read-requests", st.reads);
    add_int(b, "read-bytes", st.read_bytes);
    add_int(b, "write-requests", st.writes);
    add_int(b, "write-bytes", st.write_bytes);
    add_int(b, "flush-requests", st.flushes);
    add_int(b, "discard-requests", st.discards);
    add_int(b, "discard-bytes", st.discard_bytes);
    add_int(b, "write-zeroes-requests", st.write_zeroes);
    add_int(b, "write-zeroes-bytes", st.write_zeroes_bytes);
    add_int(b, "errors", st.errors);
    add_int(b, "unsupported", st.unsupported);
    add_int(b, "in-flight", inflight);
}

const struct hv_device_ops hv_virtio_blk_device_ops = {
    .kind = "virtio-blk",
    .reset = dev_reset,
    .destroy = dev_destroy,
    .describe = dev_describe,
    .stats = dev_stats,
};
