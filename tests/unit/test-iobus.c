/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the port I/O / MMIO dispatch table. */
#include <glib.h>
#include <string.h>

#include "kvm/iobus.h"

struct fake {
    uint64_t last_offset;
    unsigned last_len;
    uint32_t last_value;
    unsigned writes;
};

static void fake_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct fake *f = opaque;
    f->last_offset = offset;
    f->last_len = len;
    memset(data, 0x5a, len);
}

static void fake_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct fake *f = opaque;
    f->last_offset = offset;
    f->last_len = len;
    f->last_value = 0;
    memcpy(&f->last_value, data, len > 4 ? 4 : len);
    f->writes++;
}

static const struct hv_io_ops fake_ops = {.read = fake_read, .write = fake_write};

static void test_dispatch(void)
{
    struct hv_iobus bus = {0};
    struct fake a = {0}, b = {0};
    g_assert_cmpint(hv_iobus_register(&bus, 0x3f8, 8, &fake_ops, &a), ==, 0);
    g_assert_cmpint(hv_iobus_register(&bus, 0x60, 5, &fake_ops, &b), ==, 0);

    uint32_t v = 0x41;
    g_assert_cmpint(hv_iobus_write(&bus, 0x3f8, &v, 1), ==, 1);
    g_assert_cmpuint(a.last_offset, ==, 0);
    g_assert_cmpuint(a.last_value, ==, 0x41);
    g_assert_cmpint(hv_iobus_write(&bus, 0x64, &v, 1), ==, 1);
    g_assert_cmpuint(b.last_offset, ==, 4);
    g_assert_cmpuint(b.writes, ==, 1);

    uint8_t data[4];
    g_assert_cmpint(hv_iobus_read(&bus, 0x3fd, data, 1), ==, 1);
    g_assert_cmpuint(a.last_offset, ==, 5);
    g_assert_cmpuint(data[0], ==, 0x5a);
    hv_iobus_clear(&bus);
}

static void test_unclaimed_reads_all_ones(void)
{
    struct hv_iobus bus = {0};
    struct fake a = {0};
    g_assert_cmpint(hv_iobus_register(&bus, 0x100, 4, &fake_ops, &a), ==, 0);
    uint8_t data[4] = {0};
    g_assert_cmpint(hv_iobus_read(&bus, 0x200, data, 4), ==, 0);
    for (int i = 0; i < 4; i++)
        g_assert_cmpuint(data[i], ==, 0xff);
    uint32_t v = 1;
    g_assert_cmpint(hv_iobus_write(&bus, 0xff, &v, 1), ==, 0);
    /* An access that starts inside but runs past the end belongs to no device. */
    g_assert_cmpint(hv_iobus_write(&bus, 0x102, &v, 4), ==, 0);
    g_assert_cmpuint(a.writes, ==, 0);
    hv_iobus_clear(&bus);
}

static void test_overlap_refused(void)
{
    struct hv_iobus bus = {0};
    struct fake a = {0};
    g_assert_cmpint(hv_iobus_register(&bus, 0x100, 0x10, &fake_ops, &a), ==, 0);
    g_assert_cmpint(hv_iobus_register(&bus, 0x10f, 1, &fake_ops, &a), <, 0);
    g_assert_cmpint(hv_iobus_register(&bus, 0xf8, 9, &fake_ops, &a), <, 0);
    g_assert_cmpint(hv_iobus_register(&bus, 0xf8, 8, &fake_ops, &a), ==, 0);
    g_assert_cmpint(hv_iobus_register(&bus, 0x110, 1, &fake_ops, &a), ==, 0);
    g_assert_cmpint(hv_iobus_register(&bus, 0x200, 0, &fake_ops, &a), <, 0);
    g_assert_cmpint(hv_iobus_register(&bus, UINT64_MAX, 2, &fake_ops, &a), <, 0);
    g_assert_cmpuint(bus.count, ==, 3);
    hv_iobus_clear(&bus);
}

static void test_many_ranges_sorted(void)
{
    struct hv_iobus bus = {0};
    struct fake f[64] = {0};
    /* Register in a scrambled order; lookups must still find each one. */
    for (unsigned i = 0; i < 64; i++) {
        unsigned k = (i * 37) % 64;
        g_assert_cmpint(hv_iobus_register(&bus, 0x1000 + k * 0x10, 0x10, &fake_ops, &f[k]), ==,
                        0);
    }
    for (unsigned k = 0; k < 64; k++) {
        uint32_t v = k;
        g_assert_cmpint(hv_iobus_write(&bus, 0x1000 + k * 0x10 + 3, &v, 1), ==, 1);
        g_assert_cmpuint(f[k].writes, ==, 1);
        g_assert_cmpuint(f[k].last_offset, ==, 3);
    }
    hv_iobus_clear(&bus);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/iobus/dispatch", test_dispatch);
    g_test_add_func("/iobus/unclaimed-reads-all-ones", test_unclaimed_reads_all_ones);
    g_test_add_func("/iobus/overlap-refused", test_overlap_refused);
    g_test_add_func("/iobus/many-ranges-sorted", test_many_ranges_sorted);
    return g_test_run();
}
