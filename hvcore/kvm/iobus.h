/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Dispatch of guest port I/O and MMIO accesses to device models. */
#pragma once

#include <stdint.h>
#include <stddef.h>
#include <pthread.h>

/*
 * A device's handlers. `offset` is relative to the start of the registered range;
 * `len` is 1, 2, 4 or 8. Reads must fill all `len` bytes of `data` (little endian).
 */
struct hv_io_ops {
    void (*read)(void *opaque, uint64_t offset, void *data, unsigned len);
    void (*write)(void *opaque, uint64_t offset, const void *data, unsigned len);
};

struct hv_io_range {
    uint64_t base;
    uint64_t len;
    const struct hv_io_ops *ops;
    void *opaque;
};

/* A sorted table of non-overlapping ranges; lookups are lock-free after set-up. */
struct hv_iobus {
    struct hv_io_range *ranges;
    size_t count;
    size_t cap;
};

int hv_iobus_register(struct hv_iobus *bus, uint64_t base, uint64_t len,
                      const struct hv_io_ops *ops, void *opaque);
/* Returns 1 when a device handled the access, 0 when no device covers it. */
int hv_iobus_read(const struct hv_iobus *bus, uint64_t addr, void *data, unsigned len);
int hv_iobus_write(const struct hv_iobus *bus, uint64_t addr, const void *data, unsigned len);
void hv_iobus_clear(struct hv_iobus *bus);
