/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-blk: a raw image as the guest's disk, its I/O on io_uring in a thread of its own. */
#include "virtio/blk.h"

#include <errno.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    GList link;       /* in `active` (in the order started) or, a FLUSH, in `flushes` */
    uint64_t seq;     /* when it was started: a FLUSH waits for the requests before it */
    unsigned epoch;   /* the device's when started; a reset since drops the answer */
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

    /*
     * The I/O thread owns the ring: it waits in one io_uring_enter for the guest's kicks (a
     * read of the queue's ioeventfd, in the ring too) and for I/O completions, so a kick
     * costs no main-loop turn and a batch of requests one submit. Other threads ask it for
     * things through the fields below and wait on `cond`; all of them are under `lock`.
     */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct io_uring ring;
    bool ring_ready;
    pthread_t thread;
    bool thread_started;
    int kick_fd;
    uint64_t kick_val; /* where the read of kick_fd lands */
    bool kick_armed;   /* that read is in the ring */
    bool stop;         /* stop_thread: finish what is in flight, then end the thread */
    bool draining;     /* a reset or the stop was seen: answers in flight are dropped */
    unsigned drain_req, drain_done; /* resets: drop the answers in flight and wait for them */
    unsigned kick_req, kick_done;   /* hv_virtio_blk_kick */
    unsigned epoch;
    uint64_t seq;
    GQueue active;     /* non-FLUSH requests in flight, oldest first */
    GQueue flushes;    /* FLUSHes waiting for the requests started before them */
    unsigned inflight; /* requests */
    unsigned sqes;     /* I/O SQEs taken and not completed (the kick read not counted) */
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

static void free_req(struct hv_virtio_blk *blk, struct blk_req *req)
{
    free(req->bounce);
    g_free(req);
    blk->inflight--;
}

static void finish(struct hv_virtio_blk *blk, struct blk_req *req)
{
    if (req->type != VIRTIO_BLK_T_FLUSH)
        g_queue_unlink(&blk->active, &req->link);
    if (req->epoch != blk->epoch) {
        /* Started before a reset: the ring it came from is gone, and so is its answer. */
        free_req(blk, req);
        return;
    }
    uint8_t code = status_of(req);
    if (req->type == VIRTIO_BLK_T_IN && req->bounce && code == VIRTIO_BLK_S_OK)
        hv_iov_from_buf(req->data, req->nr_data, 0, req->bounce, req->len);
    account(blk, req->type, req->len, code);
    uint32_t in = req->type == VIRTIO_BLK_T_IN && code == VIRTIO_BLK_S_OK
                      ? (uint32_t)req->len + 1 : 1;
    answer(blk, req->head, req->status, code, in);
    free_req(blk, req);
}

/* ---- submitting ---- */

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) {
        /* The submission ring is full: hand it to the kernel, which frees its slots. */
        io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
    }
    return sqe;
}

static struct io_uring_sqe *io_sqe(struct hv_virtio_blk *blk, struct blk_req *req)
{
    struct io_uring_sqe *sqe = get_sqe(&blk->ring);
    if (sqe) {
        io_uring_sqe_set_data(sqe, req);
        req->pending++;
        blk->sqes++;
    }
    return sqe;
}

static int submit_rw(struct hv_virtio_blk *blk, struct blk_req *req)
{
    struct io_uring_sqe *sqe = io_sqe(blk, req);
    if (!sqe)
        return -EAGAIN;
    uint64_t off = req->offset + req->done;
    if (req->type == VIRTIO_BLK_T_IN)
        io_uring_prep_readv(sqe, blk->raw->fd, req->sub, req->nr_sub, off);
    else
        io_uring_prep_writev(sqe, blk->raw->fd, req->sub, req->nr_sub, off);
    io_uring_sqe_set_data(sqe, req);
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
        struct io_uring_sqe *sqe = io_sqe(blk, req);
        if (!sqe)
            return -EAGAIN;
        io_uring_prep_fallocate(sqe, blk->raw->fd, mode, p->ranges[i].sector * HV_RAW_SECTOR,
                                (uint64_t)p->ranges[i].nr_sectors * HV_RAW_SECTOR);
        io_uring_sqe_set_data(sqe, req);
        req->len += (uint64_t)p->ranges[i].nr_sectors * HV_RAW_SECTOR;
    }
    return 0;
}

/*
 * Starts the FLUSHes whose turn has come: a FLUSH covers every request started before it,
 * so its fdatasync waits until none of those is in flight (io_uring's IOSQE_IO_DRAIN would
 * also wait for the kick read that is always in the ring). Later requests go on meanwhile.
 */
static void start_flushes(struct hv_virtio_blk *blk)
{
    GList *f;
    while ((f = g_queue_peek_head_link(&blk->flushes))) {
        struct blk_req *req = f->data;
        GList *oldest = g_queue_peek_head_link(&blk->active);
        if (oldest && ((struct blk_req *)oldest->data)->seq < req->seq)
            return;
        g_queue_unlink(&blk->flushes, f);
        struct io_uring_sqe *sqe = io_sqe(blk, req);
        if (sqe) {
            io_uring_prep_fsync(sqe, blk->raw->fd, IORING_FSYNC_DATASYNC);
            io_uring_sqe_set_data(sqe, req);
        } else {
            req->err = -EAGAIN;
            finish(blk, req);
        }
    }
}

static void start(struct hv_virtio_blk *blk, const struct hv_blk_parsed *p)
{
    struct blk_req *req = g_malloc0(sizeof(*req) + p->nr_data * sizeof(struct iovec));
    req->link.data = req;
    req->seq = blk->seq++;
    req->epoch = blk->epoch;
    req->head = blk->req.head;
    req->status = p->status;
    req->type = p->type;
    req->offset = p->sector * HV_RAW_SECTOR;
    req->nr_data = p->nr_data;
    memcpy(req->data, blk->data, p->nr_data * sizeof(struct iovec));
    req->sub = req->data;
    req->nr_sub = req->nr_data;
    blk->inflight++;

    if (p->type == VIRTIO_BLK_T_FLUSH) {
        g_queue_push_tail_link(&blk->flushes, &req->link);
        start_flushes(blk);
        return;
    }
    g_queue_push_tail_link(&blk->active, &req->link);
    int r;
    if (p->type == VIRTIO_BLK_T_IN || p->type == VIRTIO_BLK_T_OUT) {
        req->len = p->data_len;
        r = setup_bounce(blk, req);
        if (r == 0)
            r = submit_rw(blk, req);
    } else {
        r = submit_ranges(blk, req, p);
    }
    if (r < 0 && !req->err)
        req->err = r;
    if (req->pending == 0) {
        finish(blk, req);
        start_flushes(blk);
    }
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

/* Takes every chain the guest made available, if a kick may reach the device now. */
static void take_requests(struct hv_virtio_blk *blk)
{
    struct hv_virtio_dev *dev = &blk->dev;
    struct hv_virtq *vq = &dev->queues[0].vq;
    if (dev->broken || !vq->enabled || !(dev->status & VIRTIO_STATUS_DRIVER_OK))
        return;
    for (;;) {
        const char *why;
        int r = hv_virtq_pop(vq, &blk->req, &why);
        if (r < 0)
            hv_virtio_fail(dev, why);
        if (r <= 0 || !handle(blk))
            break;
    }
}

/* ---- the I/O thread ---- */

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
    if (req->pending == 0) {
        finish(blk, req);
        start_flushes(blk);
    }
}

/* Takes the completions; true if one was a kick. */
static bool reap(struct hv_virtio_blk *blk)
{
    struct io_uring_cqe *cqe;
    bool kicked = false;
    while (io_uring_peek_cqe(&blk->ring, &cqe) == 0) {
        void *data = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&blk->ring, cqe);
        if (data == &blk->kick_val) {
            blk->kick_armed = false;
            kicked = true; /* whatever res says, look at the ring: a lost kick stalls */
            continue;
        }
        complete_one(blk, data, res);
    }
    return kicked;
}

static void arm_kick(struct hv_virtio_blk *blk)
{
    struct io_uring_sqe *sqe = get_sqe(&blk->ring);
    if (!sqe)
        return; /* the ring is full of I/O: armed on the next turn */
    io_uring_prep_read(sqe, blk->kick_fd, &blk->kick_val, sizeof(blk->kick_val), 0);
    io_uring_sqe_set_data(sqe, &blk->kick_val);
    blk->kick_armed = true;
}

/* Wakes the I/O thread: the kick read completes, and it looks at what it was asked. */
static void wake(struct hv_virtio_blk *blk)
{
    uint64_t one = 1;
    ssize_t n = write(blk->kick_fd, &one, sizeof(one));
    (void)n; /* EAGAIN: the counter is full, so the thread has a wake-up coming anyway */
}

/*
 * A reset (drain_req) or the end (stop) asked for: from here on answers are dropped, as
 * their rings are gone (the turns before pushed theirs before the reset began, as they held
 * the locks), and FLUSHes not started yet are dropped at once. Both locks held.
 */
static void begin_drain(struct hv_virtio_blk *blk)
{
    if (blk->draining || (!blk->stop && blk->drain_req == blk->drain_done))
        return;
    blk->draining = true;
    blk->epoch++;
    GList *f;
    while ((f = g_queue_pop_head_link(&blk->flushes)))
        free_req(blk, f->data);
}

/* The drain is over once nothing is in flight; false when the thread must end then. */
static bool end_drain(struct hv_virtio_blk *blk)
{
    if (!blk->draining || blk->inflight > 0)
        return true;
    blk->draining = false;
    blk->drain_done = blk->drain_req;
    pthread_cond_broadcast(&blk->cond);
    return !blk->stop;
}

static void *io_thread(void *opaque)
{
    struct hv_virtio_blk *blk = opaque;
    struct hv_virtio_dev *dev = &blk->dev;
    bool warned = false;
    for (;;) {
        if (!blk->kick_armed)
            arm_kick(blk);
        int r = io_uring_submit_and_wait(&blk->ring, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && !warned) {
            fprintf(stderr, "vmdesk-vmm: virtio-blk %s: waiting for I/O failed: %s\n",
                    blk->raw->path, g_strerror(-r));
            warned = true;
        }
        pthread_mutex_lock(&dev->queue_lock);
        pthread_mutex_lock(&blk->lock);
        begin_drain(blk);
        bool kicked = reap(blk);
        bool go_on = end_drain(blk);
        unsigned kick_req = blk->kick_req;
        if (kicked && !blk->stop)
            take_requests(blk);
        if (kick_req != blk->kick_done) {
            blk->kick_done = kick_req;
            pthread_cond_broadcast(&blk->cond);
        }
        if (blk->pushed) {
            blk->pushed = false;
            hv_virtio_notify(dev, 0);
        }
        pthread_mutex_unlock(&blk->lock);
        pthread_mutex_unlock(&dev->queue_lock);
        if (!go_on)
            break;
    }
    return NULL;
}

static int start_thread(struct hv_virtio_blk *blk)
{
    /* Signals are the main loop's and the vCPUs' business. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&blk->thread, NULL, io_thread, blk);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r)
        return -r;
    pthread_setname_np(blk->thread, "virtio-blk");
    blk->thread_started = true;
    return 0;
}

/* Lets the I/O in flight finish and ends the thread. */
static void stop_thread(struct hv_virtio_blk *blk)
{
    if (!blk->thread_started)
        return;
    pthread_mutex_lock(&blk->lock);
    blk->stop = true;
    wake(blk);
    pthread_mutex_unlock(&blk->lock);
    pthread_join(blk->thread, NULL);
    blk->thread_started = false;
}

void hv_virtio_blk_kick(struct hv_virtio_blk *blk)
{
    pthread_mutex_lock(&blk->lock);
    unsigned want = ++blk->kick_req;
    wake(blk);
    while (blk->thread_started && (int)(blk->kick_done - want) < 0)
        pthread_cond_wait(&blk->cond, &blk->lock);
    pthread_mutex_unlock(&blk->lock);
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

/* DRIVER_OK is off already: the thread takes no new request, and drops what is in flight. */
static void blk_reset(struct hv_virtio_dev *dev)
{
    struct hv_virtio_blk *blk = dev->opaque;
    pthread_mutex_lock(&blk->lock);
    unsigned want = ++blk->drain_req;
    wake(blk);
    while (blk->thread_started && (int)(blk->drain_done - want) < 0)
        pthread_cond_wait(&blk->cond, &blk->lock);
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
    .own_kicks = true,
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

/* After stop_thread: nothing is in flight any more. */
static void blk_free(struct hv_virtio_blk *blk)
{
    if (blk->ring_ready)
        io_uring_queue_exit(&blk->ring);
    hv_raw_close(blk->raw);
    pthread_cond_destroy(&blk->cond);
    pthread_mutex_destroy(&blk->lock);
    g_free(blk);
}

/* The ring, if this kernel's io_uring has all we use (READ came last, in Linux 5.6). */
static int setup_ring(struct hv_virtio_blk *blk, char **err)
{
    int r = io_uring_queue_init(HV_BLK_QUEUE_SIZE, &blk->ring, 0);
    if (r == 0) {
        blk->ring_ready = true;
        struct io_uring_probe *probe = io_uring_get_probe_ring(&blk->ring);
        bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_READ) &&
                  io_uring_opcode_supported(probe, IORING_OP_FALLOCATE);
        if (probe)
            io_uring_free_probe(probe);
        if (ok)
            return 0;
        r = -ENOSYS;
    }
    *err = g_strdup_printf("--disk path=%s: cannot set up io_uring for its I/O: %s (a kernel "
                           "older than 5.6, io_uring disabled by sysctl "
                           "kernel.io_uring_disabled, or a seccomp filter)", blk->raw->path,
                           g_strerror(-r));
    return r;
}

int hv_virtio_blk_new(struct hv_raw *raw, struct hv_vm *vm, const struct hv_memory *mem,
                      struct hv_virtio_blk **out, char **err)
{
    struct hv_virtio_blk *blk = g_new0(struct hv_virtio_blk, 1);
    blk->raw = raw;
    pthread_mutex_init(&blk->lock, NULL);
    pthread_cond_init(&blk->cond, NULL);
    g_queue_init(&blk->active);
    g_queue_init(&blk->flushes);
    fill_config(blk);
    int r = setup_ring(blk, err);
    if (r < 0) {
        blk_free(blk);
        return r;
    }
    if ((r = hv_virtio_init(&blk->dev, &blk_ops, blk, vm, mem)) < 0) {
        *err = g_strdup_printf("--disk path=%s: cannot create its virtio device: %s", raw->path,
                               g_strerror(-r));
        hv_virtio_destroy(&blk->dev);
        blk_free(blk);
        return r;
    }
    blk->kick_fd = hv_virtio_kick_fd(&blk->dev, 0);
    if ((r = start_thread(blk)) < 0) {
        *err = g_strdup_printf("--disk path=%s: cannot start its I/O thread: %s", raw->path,
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
    /* First: the thread touches the rings and raises the device's interrupts. */
    stop_thread(blk);
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
