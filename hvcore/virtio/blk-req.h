/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-blk requests as the guest writes them: parsed and checked, with no I/O done. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_WZ_F_UNMAP 1

#define HV_BLK_HDR_SIZE 16
#define HV_BLK_RANGE_SIZE 16
#define HV_BLK_ID_BYTES 20
/* Ranges one DISCARD or WRITE_ZEROES request may carry, and sectors per range. */
#define HV_BLK_MAX_RANGES 32
#define HV_BLK_MAX_RANGE_SECTORS 0x400000u /* 2 GiB */

/* What the device lets a request do. */
struct hv_blk_limits {
    uint64_t capacity; /* sectors of 512 bytes */
    bool readonly;
    unsigned max_ranges;
    uint32_t max_range_sectors;
};

struct hv_blk_range {
    uint64_t sector;
    uint32_t nr_sectors;
    uint32_t flags;
};

struct hv_blk_parsed {
    uint32_t type;
    uint64_t sector;
    uint8_t *status; /* the chain's last writable byte */
    /* Answer now with `code` (no I/O to do), or run the request when false. */
    bool done;
    uint8_t code;
    /* IN, OUT, GET_ID: the data buffers, without header and status byte. */
    unsigned nr_data;
    uint64_t data_len;
    /* DISCARD, WRITE_ZEROES */
    unsigned nr_ranges;
    struct hv_blk_range ranges[HV_BLK_MAX_RANGES];
};

/*
 * Parses one request chain: `nr_out` device-readable buffers, then `nr_in` writable ones.
 * Fills `data` (room for nr_out + nr_in entries) with the data buffers. Returns 0 with *p
 * filled: p->done says the request is already answered with p->code (VIRTIO_BLK_S_IOERR
 * for a range past the end of the disk or a write to a read-only one, VIRTIO_BLK_S_UNSUPP
 * for an unknown type or a limit exceeded). Returns -EINVAL with *why set when there is no
 * room for the header or the status byte: the guest broke the protocol.
 */
int hv_blk_parse(const struct iovec *iov, unsigned nr_out, unsigned nr_in,
                 const struct hv_blk_limits *lim, struct hv_blk_parsed *p, struct iovec *data,
                 const char **why);

/* Copies from / into a list of buffers, skipping `skip` bytes; returns bytes copied. */
size_t hv_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t hv_iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf,
                       size_t len);
