/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Dispatch of guest port I/O and MMIO accesses to device models. */
#include "kvm/iobus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Devices register before the vCPUs start and the table never changes while they run,
 * so lookups take no lock.
 */
int hv_iobus_register(struct hv_iobus *bus, uint64_t base, uint64_t len,
                      const struct hv_io_ops *ops, void *opaque)
{
    if (len == 0 || base + len < base)
        return -EINVAL;

    size_t pos = 0;
    while (pos < bus->count && bus->ranges[pos].base < base)
        pos++;
    if (pos > 0) {
        const struct hv_io_range *prev = &bus->ranges[pos - 1];
        if (prev->base + prev->len > base)
            return -EBUSY;
    }
    if (pos < bus->count && base + len > bus->ranges[pos].base)
        return -EBUSY;

    if (bus->count == bus->cap) {
        size_t cap = bus->cap ? bus->cap * 2 : 16;
        struct hv_io_range *r = realloc(bus->ranges, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        bus->ranges = r;
        bus->cap = cap;
    }
    memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->count - pos) * sizeof(*bus->ranges));
    bus->ranges[pos] = (struct hv_io_range){
        .base = base, .len = len, .ops = ops, .opaque = opaque};
    bus->count++;
    return 0;
}

static const struct hv_io_range *find(const struct hv_iobus *bus, uint64_t addr, unsigned len)
{
    size_t lo = 0, hi = bus->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct hv_io_range *r = &bus->ranges[mid];
        if (addr < r->base)
            hi = mid;
        else if (addr - r->base >= r->len)
            lo = mid + 1;
        else
            /* An access that runs past the end of the range is not the device's. */
            return addr - r->base + len <= r->len ? r : NULL;
    }
    return NULL;
}

int hv_iobus_read(const struct hv_iobus *bus, uint64_t addr, void *data, unsigned len)
{
    const struct hv_io_range *r = find(bus, addr, len);
    if (!r || !r->ops->read) {
        memset(data, 0xff, len);
        return r ? 1 : 0;
    }
    r->ops->read(r->opaque, addr - r->base, data, len);
    return 1;
}

int hv_iobus_write(const struct hv_iobus *bus, uint64_t addr, const void *data, unsigned len)
{
    const struct hv_io_range *r = find(bus, addr, len);
    if (!r)
        return 0;
    if (r->ops->write)
        r->ops->write(r->opaque, addr - r->base, data, len);
    return 1;
}

void hv_iobus_clear(struct hv_iobus *bus)
{
    free(bus->ranges);
    *bus = (struct hv_iobus){0};
}
