/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: arbitrary virtio-blk request chains fed to the request parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/blk-req.h"

#define MAX_SEGS 8

/*
 * Input: [nr_out%9] [nr_in%9] [flags] [capacity lo] [capacity hi] [one length byte per
 * segment] then the bytes the segments hold, in order (a short input gives short segments).
 * Each segment is its own heap block, so the sanitizers see any access outside it.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    unsigned nr_out = data[0] % (MAX_SEGS + 1), nr_in = data[1] % (MAX_SEGS + 1);
    struct hv_blk_limits lim = {
        .capacity = (uint64_t)data[3] | (uint64_t)data[4] << 8,
        .readonly = data[2] & 1,
        .max_ranges = 1 + (data[2] >> 1) % HV_BLK_MAX_RANGES,
        .max_range_sectors = data[2] & 0x80 ? 8 : HV_BLK_MAX_RANGE_SECTORS,
    };
    data += 5;
    size -= 5;
    unsigned n = nr_out + nr_in;
    if (size < n)
        return 0;
    struct iovec iov[2 * MAX_SEGS], out[2 * MAX_SEGS];
    const uint8_t *lens = data;
    data += n;
    size -= n;
    for (unsigned i = 0; i < n; i++) {
        size_t len = lens[i] < size ? lens[i] : size;
        iov[i].iov_base = malloc(len ? len : 1);
        iov[i].iov_len = len;
        memcpy(iov[i].iov_base, data, len);
        data += len;
        size -= len;
    }

    struct hv_blk_parsed p;
    const char *why = NULL;
    if (hv_blk_parse(iov, nr_out, nr_in, &lim, &p, out, &why) == 0) {
        /* The status byte is the last byte of the last non-empty writable segment. */
        int last = -1;
        for (unsigned i = nr_out; i < n; i++)
            if (iov[i].iov_len)
                last = (int)i;
        if (last < 0 || p.status != (uint8_t *)iov[last].iov_base + iov[last].iov_len - 1)
            abort();
        *p.status = 0;
        /* Every data buffer lies inside a segment: touch all of it. */
        uint64_t sum = 0;
        for (unsigned i = 0; i < p.nr_data; i++) {
            memset(out[i].iov_base, 0xa5, out[i].iov_len);
            sum += out[i].iov_len;
        }
        if (sum != p.data_len && !p.done)
            abort();
        if (!p.done && (p.type == VIRTIO_BLK_T_IN || p.type == VIRTIO_BLK_T_OUT) &&
            (p.data_len % 512 || p.sector + p.data_len / 512 > lim.capacity))
            abort();
        if (!p.done && p.type == VIRTIO_BLK_T_OUT && lim.readonly)
            abort();
        for (unsigned i = 0; !p.done && i < p.nr_ranges; i++)
            if (p.ranges[i].sector + p.ranges[i].nr_sectors > lim.capacity)
                abort();
    } else if (!why) {
        abort();
    }
    for (unsigned i = 0; i < n; i++)
        free(iov[i].iov_base);
    return 0;
}
