/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-blk requests as the guest writes them: parsed and checked, with no I/O done. */
#include "virtio/blk-req.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define SECTOR 512u

size_t hv_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        size_t k = iov[i].iov_len - skip;
        if (k > len - done)
            k = len - done;
        memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + skip, k);
        done += k;
        skip = 0;
    }
    return done;
}

size_t hv_iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf,
                       size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        size_t k = iov[i].iov_len - skip;
        if (k > len - done)
            k = len - done;
        memcpy((uint8_t *)iov[i].iov_base + skip, (const uint8_t *)buf + done, k);
        done += k;
        skip = 0;
    }
    return done;
}

static uint64_t total(const struct iovec *iov, unsigned n)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < n; i++)
        sum += iov[i].iov_len;
    return sum;
}

/* The buffers of `iov` without their first `head` and last `tail` bytes, into `data`. */
static unsigned slice(const struct iovec *iov, unsigned n, uint64_t head, uint64_t tail,
                      struct iovec *data)
{
    uint64_t keep = total(iov, n) - head - tail;
    unsigned nr = 0;
    for (unsigned i = 0; i < n && keep; i++) {
        uint64_t len = iov[i].iov_len;
        if (head >= len) {
            head -= len;
            continue;
        }
        uint64_t take = len - head < keep ? len - head : keep;
        data[nr].iov_base = (uint8_t *)iov[i].iov_base + head;
        data[nr].iov_len = (size_t)take;
        nr++;
        keep -= take;
        head = 0;
    }
    return nr;
}

static bool range_ok(const struct hv_blk_limits *lim, uint64_t sector, uint64_t nr_sectors)
{
    return sector <= lim->capacity && nr_sectors <= lim->capacity - sector;
}

static int answer(struct hv_blk_parsed *p, uint8_t code)
{
    p->done = true;
    p->code = code;
    return 0;
}

static int parse_rw(const struct iovec *iov, unsigned nr_out, unsigned nr_in,
                    const struct hv_blk_limits *lim, struct hv_blk_parsed *p, struct iovec *data)
{
    bool write = p->type == VIRTIO_BLK_T_OUT;
    if (write) {
        p->data_len = total(iov, nr_out) - HV_BLK_HDR_SIZE;
        p->nr_data = slice(iov, nr_out, HV_BLK_HDR_SIZE, 0, data);
    } else {
        p->data_len = total(iov + nr_out, nr_in) - 1;
        p->nr_data = slice(iov + nr_out, nr_in, 0, 1, data);
    }
    if (write && lim->readonly)
        return answer(p, VIRTIO_BLK_S_IOERR);
    if (p->data_len % SECTOR || !range_ok(lim, p->sector, p->data_len / SECTOR))
        return answer(p, VIRTIO_BLK_S_IOERR);
    if (p->data_len == 0)
        return answer(p, VIRTIO_BLK_S_OK);
    return 0;
}

static int parse_ranges(const struct iovec *iov, unsigned nr_out, const struct hv_blk_limits *lim,
                        struct hv_blk_parsed *p)
{
    bool discard = p->type == VIRTIO_BLK_T_DISCARD;
    if (lim->readonly)
        return answer(p, VIRTIO_BLK_S_IOERR);
    uint64_t len = total(iov, nr_out) - HV_BLK_HDR_SIZE;
    if (len == 0 || len % HV_BLK_RANGE_SIZE || len / HV_BLK_RANGE_SIZE > lim->max_ranges ||
        len / HV_BLK_RANGE_SIZE > HV_BLK_MAX_RANGES)
        return answer(p, VIRTIO_BLK_S_UNSUPP);
    p->nr_ranges = (unsigned)(len / HV_BLK_RANGE_SIZE);
    for (unsigned i = 0; i < p->nr_ranges; i++) {
        uint8_t raw[HV_BLK_RANGE_SIZE];
        hv_iov_to_buf(iov, nr_out, HV_BLK_HDR_SIZE + (size_t)i * HV_BLK_RANGE_SIZE, raw,
                      sizeof(raw));
        struct hv_blk_range *r = &p->ranges[i];
        memcpy(&r->sector, raw, 8);
        memcpy(&r->nr_sectors, raw + 8, 4);
        memcpy(&r->flags, raw + 12, 4);
        /* Only WRITE_ZEROES knows a flag, UNMAP; a DISCARD with it is refused (5.2.6.2). */
        if (r->flags & ~(uint32_t)(discard ? 0 : VIRTIO_BLK_WZ_F_UNMAP))
            return answer(p, VIRTIO_BLK_S_UNSUPP);
        if (r->nr_sectors > lim->max_range_sectors)
            return answer(p, VIRTIO_BLK_S_UNSUPP);
        if (!range_ok(lim, r->sector, r->nr_sectors))
            return answer(p, VIRTIO_BLK_S_IOERR);
    }
    return 0;
}

int hv_blk_parse(const struct iovec *iov, unsigned nr_out, unsigned nr_in,
                 const struct hv_blk_limits *lim, struct hv_blk_parsed *p, struct iovec *data,
                 const char **why)
{
    memset(p, 0, offsetof(struct hv_blk_parsed, ranges));
    if (total(iov, nr_out) < HV_BLK_HDR_SIZE) {
        *why = "a virtio-blk request header is shorter than 16 bytes";
        return -EINVAL;
    }
    /* The virtqueue drops empty buffers, but this parser does not rely on it. */
    unsigned last = nr_out + nr_in;
    while (last > nr_out && iov[last - 1].iov_len == 0)
        last--;
    if (last == nr_out) {
        *why = "a virtio-blk request has no writable status byte";
        return -EINVAL;
    }
    nr_in = last - nr_out;
    p->status = (uint8_t *)iov[last - 1].iov_base + iov[last - 1].iov_len - 1;

    uint8_t hdr[HV_BLK_HDR_SIZE];
    hv_iov_to_buf(iov, nr_out, 0, hdr, sizeof(hdr));
    memcpy(&p->type, hdr, 4);
    memcpy(&p->sector, hdr + 8, 8);

    switch (p->type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        return parse_rw(iov, nr_out, nr_in, lim, p, data);
    case VIRTIO_BLK_T_FLUSH:
        return 0;
    case VIRTIO_BLK_T_GET_ID:
        p->data_len = total(iov + nr_out, nr_in) - 1;
        p->nr_data = slice(iov + nr_out, nr_in, 0, 1, data);
        return 0;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        return parse_ranges(iov, nr_out, lim, p);
    default:
        return answer(p, VIRTIO_BLK_S_UNSUPP);
    }
}
