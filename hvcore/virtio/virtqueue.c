/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The split virtqueue, device side: walks what the guest offers and trusts none of it. */
#include "virtio/virtqueue.h"

#include <errno.h>
#include <string.h>

/*
 * Ring layouts (virtio 1.x, 2.7): descriptors of 16 bytes {addr, len, flags, next};
 * avail {flags, idx, ring[size], used_event}; used {flags, idx, ring[size] of
 * {id u32, len u32}, avail_event}. Everything little endian, as x86 is.
 */
#define DESC_SIZE 16
#define AVAIL_RING 4
#define USED_RING 4
#define USED_ELEM 8
#define USED_F_NO_NOTIFY 1
#define AVAIL_F_NO_INTERRUPT 1
/* No request of ours needs more; a bigger total is a confused or hostile guest. */
#define MAX_REQ_BYTES (1ull << 32)

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

static inline uint16_t load16(const uint8_t *p)
{
    uint16_t v;
    __atomic_load(( const uint16_t *)(const void *)p, &v, __ATOMIC_ACQUIRE);
    return v;
}

static inline void store16(uint8_t *p, uint16_t v)
{
    __atomic_store((uint16_t *)(void *)p, &v, __ATOMIC_RELEASE);
}

static inline void read_desc(const uint8_t *table, unsigned i, struct desc *d)
{
    memcpy(d, table + (size_t)i * DESC_SIZE, sizeof(*d));
}

int hv_virtq_start(struct hv_virtq *q, const struct hv_memory *mem, bool indirect,
                   bool event_idx, const char **why)
{
    if (q->size == 0 || q->size > HV_VIRTQ_MAX_SIZE || (q->size & (q->size - 1))) {
        *why = "queue size is not a power of two from 1 to 32768";
        return -EINVAL;
    }
    if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3)) {
        *why = "ring address is misaligned";
        return -EINVAL;
    }
    size_t n = q->size;
    q->desc = hv_memory_ptr(mem, q->desc_gpa, n * DESC_SIZE);
    q->avail = hv_memory_ptr(mem, q->avail_gpa, AVAIL_RING + 2 * n + 2);
    q->used = hv_memory_ptr(mem, q->used_gpa, USED_RING + USED_ELEM * n + 2);
    if (!q->desc || !q->avail || !q->used) {
        *why = "ring is not inside guest RAM";
        return -EINVAL;
    }
    q->mem = mem;
    q->indirect = indirect;
    q->event_idx = event_idx;
    /* Both indexes start at 0 (virtio 1.x, 2.7): the ring memory may hold stale data. */
    q->last_avail = 0;
    q->used_idx = 0;
    q->signalled_valid = false;
    q->notify_off = false;
    q->inflight = 0;
    return 0;
}

void hv_virtq_reset(struct hv_virtq *q)
{
    memset(q, 0, sizeof(*q));
}

/* Adds one guest buffer to the request after checking it lies inside guest RAM. */
static int add_segment(struct hv_virtq *q, struct hv_virtq_req *req, const struct desc *d,
                       const char **why)
{
    bool writable = d->flags & VIRTQ_DESC_F_WRITE;
    if (!writable && req->nr_in) {
        *why = "a device-readable buffer follows a writable one";
        return -EINVAL;
    }
    if (d->len == 0)
        return 0; /* nothing to transfer; not an error */
    if (req->nr_out + req->nr_in == HV_VIRTQ_MAX_SEGS) {
        *why = "a chain has more buffers than a request may";
        return -EINVAL;
    }
    void *p = hv_memory_ptr(q->mem, d->addr, d->len);
    if (!p) {
        *why = "a buffer lies outside guest RAM or straddles a memory region";
        return -EINVAL;
    }
    uint64_t *total = writable ? &req->in_len : &req->out_len;
    *total += d->len;
    if (req->in_len + req->out_len > MAX_REQ_BYTES) {
        *why = "a chain's buffers add up to more than 4 GiB";
        return -EINVAL;
    }
    struct iovec *iov = &req->iov[req->nr_out + req->nr_in];
    iov->iov_base = p;
    iov->iov_len = d->len;
    if (writable)
        req->nr_in++;
    else
        req->nr_out++;
    return 0;
}

static int walk_indirect(struct hv_virtq *q, struct hv_virtq_req *req, const struct desc *d,
                         const char **why)
{
    if (!q->indirect) {
        *why = "an indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC";
        return -EINVAL;
    }
    if (d->flags & VIRTQ_DESC_F_NEXT) {
        *why = "an indirect descriptor that also has NEXT set";
        return -EINVAL;
    }
    if (d->len == 0 || d->len % DESC_SIZE || d->len / DESC_SIZE > HV_VIRTQ_MAX_SIZE) {
        *why = "an indirect table whose length is not a multiple of 16 up to 32768 entries";
        return -EINVAL;
    }
    unsigned n = d->len / DESC_SIZE;
    const uint8_t *table = hv_memory_ptr(q->mem, d->addr, d->len);
    if (!table) {
        *why = "an indirect table outside guest RAM";
        return -EINVAL;
    }
    unsigned i = 0;
    for (unsigned count = 0;; count++) {
        if (count == n) {
            *why = "an indirect chain that loops";
            return -EINVAL;
        }
        struct desc id;
        read_desc(table, i, &id);
        if (id.flags & VIRTQ_DESC_F_INDIRECT) {
            *why = "an indirect table inside an indirect table";
            return -EINVAL;
        }
        int r = add_segment(q, req, &id, why);
        if (r < 0)
            return r;
        if (!(id.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        if (id.next >= n) {
            *why = "an indirect descriptor points past its table";
            return -EINVAL;
        }
        i = id.next;
    }
}

int hv_virtq_pop(struct hv_virtq *q, struct hv_virtq_req *req, const char **why)
{
    uint16_t avail_idx = load16(q->avail + 2);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending == 0)
        return 0;
    if (pending > q->size || q->inflight >= q->size) {
        *why = "the driver made more buffers available than the queue holds";
        return -EINVAL;
    }
    uint16_t head = load16(q->avail + AVAIL_RING + 2 * (q->last_avail & (q->size - 1)));
    if (head >= q->size) {
        *why = "an available ring entry names a descriptor past the table";
        return -EINVAL;
    }
    req->head = head;
    req->nr_out = req->nr_in = 0;
    req->out_len = req->in_len = 0;

    unsigned i = head;
    for (unsigned count = 0;; count++) {
        if (count == q->size) {
            *why = "a descriptor chain loops or is longer than the queue";
            return -EINVAL;
        }
        struct desc d;
        read_desc(q->desc, i, &d);
        int r;
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (count != 0 || req->nr_out + req->nr_in) {
                *why = "an indirect descriptor in the middle of a chain";
                return -EINVAL;
            }
            r = walk_indirect(q, req, &d, why);
            if (r < 0)
                return r;
            break;
        }
        r = add_segment(q, req, &d, why);
        if (r < 0)
            return r;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        if (d.next >= q->size) {
            *why = "a descriptor's next points past the table";
            return -EINVAL;
        }
        i = d.next;
    }
    q->last_avail++;
    q->inflight++;
    if (q->event_idx && !q->notify_off) { /* avail_event: how far we have read */
        store16(q->used + USED_RING + USED_ELEM * q->size, q->last_avail);
        /* Seen before the next pop reads avail idx, or a chain added between is lost. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    return 1;
}

void hv_virtq_push(struct hv_virtq *q, uint16_t head, uint32_t len)
{
    uint8_t *elem = q->used + USED_RING + USED_ELEM * (q->used_idx & (q->size - 1));
    uint32_t id = head;
    memcpy(elem, &id, 4);
    memcpy(elem + 4, &len, 4);
    q->used_idx++;
    if (q->inflight)
        q->inflight--;
    /* The element must be visible before the index that publishes it. */
    store16(q->used + 2, q->used_idx);
}

bool hv_virtq_should_notify(struct hv_virtq *q)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!q->event_idx)
        return !(load16(q->avail) & AVAIL_F_NO_INTERRUPT);
    uint16_t old = q->signalled_used;
    uint16_t now = q->used_idx;
    bool valid = q->signalled_valid;
    q->signalled_used = now;
    q->signalled_valid = true;
    if (!valid)
        return true;
    uint16_t event = load16(q->avail + AVAIL_RING + 2 * q->size);
    /* vring_need_event: did `now` pass `event` since `old`? */
    return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void hv_virtq_set_notify(struct hv_virtq *q, bool enable)
{
    q->notify_off = !enable;
    if (q->event_idx) {
        /* Disabled, avail_event stays where it is: the driver, past it, does not notify. */
        if (enable) {
            store16(q->used + USED_RING + USED_ELEM * q->size, load16(q->avail + 2));
            /* The store must be seen before the caller looks at avail idx again. */
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
        }
        return;
    }
    uint16_t flags = load16(q->used);
    flags = enable ? (uint16_t)(flags & ~USED_F_NO_NOTIFY) : (uint16_t)(flags | USED_F_NO_NOTIFY);
    store16(q->used, flags);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

size_t hv_virtq_copy_to_in(struct hv_virtq_req *req, size_t skip, const void *buf, size_t len)
{
    const uint8_t *src = buf;
    size_t done = 0;
    for (unsigned i = req->nr_out; i < req->nr_out + req->nr_in && done < len; i++) {
        struct iovec *v = &req->iov[i];
        if (skip >= v->iov_len) {
            skip -= v->iov_len;
            continue;
        }
        size_t n = v->iov_len - skip;
        if (n > len - done)
            n = len - done;
        memcpy((uint8_t *)v->iov_base + skip, src + done, n);
        done += n;
        skip = 0;
    }
    return done;
}

size_t hv_virtq_copy_from_out(const struct hv_virtq_req *req, size_t skip, void *buf,
                              size_t len)
{
    uint8_t *dst = buf;
    size_t done = 0;
    for (unsigned i = 0; i < req->nr_out && done < len; i++) {
        const struct iovec *v = &req->iov[i];
        if (skip >= v->iov_len) {
            skip -= v->iov_len;
            continue;
        }
        size_t n = v->iov_len - skip;
        if (n > len - done)
            n = len - done;
        memcpy(dst + done, (const uint8_t *)v->iov_base + skip, n);
        done += n;
        skip = 0;
    }
    return done;
}
