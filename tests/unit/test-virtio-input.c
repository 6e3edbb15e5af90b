/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-input keyboard and tablet: config space and event queue, rings in fake RAM. */
#include <errno.h>
#include <linux/input-event-codes.h>
#include <string.h>
#include <unistd.h>

#include "virtio-harness.h"
#include "virtio/input.h"


struct fixture {
    struct vh vh;
    struct hv_virtio_input *kbd, *tab;
    struct hv_input_sink sink;
    uint32_t next_buf;
};

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    memset(f, 0, sizeof(*f));
    vh_init(&f->vh);
    g_assert_cmpint(hv_virtio_input_new(HV_INPUT_KEYBOARD, &f->vh.vm, &f->vh.mem, &f->kbd), ==, 0);
    g_assert_cmpint(hv_virtio_input_new(HV_INPUT_TABLET, &f->vh.vm, &f->vh.mem, &f->tab), ==, 0);
    hv_virtio_input_dev(f->kbd)->pci.pci = &f->vh.pci;
    hv_virtio_input_dev(f->tab)->pci.pci = &f->vh.pci;
    hv_virtio_input_sink(f->kbd, f->tab, &f->sink);
    f->vh.dev = hv_virtio_input_dev(f->kbd);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    vh_pump();
    hv_virtio_input_device_ops.destroy(f->kbd);
    hv_virtio_input_device_ops.destroy(f->tab);
    vh_fini(&f->vh);
}

static void driver_start(struct fixture *f)
{
    vh_driver_init(&f->vh, 0, 2);
    vh_driver_ok(&f->vh);
}

/* Offers one buffer of `len` bytes on queue q; returns its guest address. */
static uint64_t offer(struct fixture *f, unsigned q, uint32_t len, bool writable, bool kick)
{
    uint64_t gpa = BUF_GPA + 16ull * f->next_buf++;
    uint16_t d = f->vh.next_desc[q]++ % QSIZE;
    uint8_t *desc = vh_ram(&f->vh, RING_GPA(q) + 16ull * d, 16);
    uint16_t flags = writable ? VIRTQ_DESC_F_WRITE : 0, next = 0;
    memcpy(desc, &gpa, 8);
    memcpy(desc + 8, &len, 4);
    memcpy(desc + 12, &flags, 2);
    memcpy(desc + 14, &next, 2);
    uint8_t *avail = vh_ram(&f->vh, RING_GPA(q) + 0x1000, 4 + 2 * QSIZE);
    memcpy(avail + 4 + 2 * (f->vh.avail_idx[q] % QSIZE), &d, 2);
    f->vh.avail_idx[q]++;
    memcpy(avail + 2, &f->vh.avail_idx[q], 2);
    if (kick) {
        vh_regs_write(&f->vh, NOTIFY_OFF + 4 * q, q, 2);
        vh_pump();
    }
    return gpa;
}

/* The event the device wrote into the i-th buffer offered. */
static struct hv_input_event event_at(struct fixture *f, unsigned i)
{
    struct hv_input_event ev;
    uint8_t *p = vh_ram(&f->vh, BUF_GPA + 16ull * i, 8);
    memcpy(&ev.type, p, 2);
    memcpy(&ev.code, p + 2, 2);
    memcpy(&ev.value, p + 4, 4);
    return ev;
}

#define ASSERT_EVENT(f, i, t, c, v)                                                                \
    do {                                                                                           \
        struct hv_input_event e_ = event_at((f), (i));                                             \
        if (e_.type != (t) || e_.code != (c) || e_.value != (uint32_t)(v))                         \
            g_error("event %u: %u/%u/%d, expected %u/%u/%d", (unsigned)(i), e_.type, e_.code,      \
                    (int)e_.value, (unsigned)(t), (unsigned)(c), (int)(v));                        \
    } while (0)

/* Selects (select, subsel) and returns the size the device reports. */
static unsigned cfg_select(struct fixture *f, uint8_t select, uint8_t subsel)
{
    vh_regs_write(&f->vh, DEVICE_OFF, select, 1);
    vh_regs_write(&f->vh, DEVICE_OFF + 1, subsel, 1);
    return (unsigned)vh_regs_read(&f->vh, DEVICE_OFF + 2, 1);
}

static bool cfg_bit(struct fixture *f, unsigned bit)
{
    return vh_regs_read(&f->vh, DEVICE_OFF + 8 + bit / 8, 1) & (1u << (bit % 8));
}

static void test_config(struct fixture *f, gconstpointer data)
{
    (void)data;
    unsigned n = cfg_select(f, 0x01, 0); /* ID_NAME */
    g_assert_cmpuint(n, ==, strlen("vmdesk keyboard"));
    char name[32] = {0};
    for (unsigned i = 0; i < n; i++)
        name[i] = (char)vh_regs_read(&f->vh, DEVICE_OFF + 8 + i, 1);
    g_assert_cmpstr(name, ==, "vmdesk keyboard");
    g_assert_cmpuint(cfg_select(f, 0x03, 0), ==, 8); /* ID_DEVIDS */
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF + 8, 2), ==, 0x06); /* BUS_VIRTUAL */
    g_assert_cmpuint(cfg_select(f, 0x11, EV_KEY), >, KEY_RO / 8);
    g_assert_true(cfg_bit(f, KEY_A));
    g_assert_true(cfg_bit(f, KEY_RO));
    g_assert_true(cfg_bit(f, KEY_102ND));
    g_assert_true(cfg_bit(f, KEY_KPCOMMA));
    g_assert_false(cfg_bit(f, KEY_RESERVED));
    g_assert_cmpuint(cfg_select(f, 0x11, EV_REP), >, 0);
    g_assert_cmpuint(cfg_select(f, 0x11, EV_LED), ==, 1);
    g_assert_cmpuint(cfg_select(f, 0x11, EV_ABS), ==, 0);
    g_assert_cmpuint(cfg_select(f, 0x12, ABS_X), ==, 0); /* a keyboard has no axes */
    g_assert_cmpuint(cfg_select(f, 0x7f, 0), ==, 0);
    g_assert_cmpuint(cfg_select(f, 0x00, 0), ==, 0);
    /* Writes past select/subsel change nothing. */
    vh_regs_write(&f->vh, DEVICE_OFF + 2, 0x55, 1);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF + 2, 1), ==, 0);

    f->vh.dev = hv_virtio_input_dev(f->tab);
    g_assert_cmpuint(cfg_select(f, 0x01, 0), ==, strlen("vmdesk tablet"));
    g_assert_cmpuint(cfg_select(f, 0x11, EV_ABS), ==, 1);
    g_assert_true(cfg_bit(f, ABS_X));
    g_assert_true(cfg_bit(f, ABS_Y));
    g_assert_cmpuint(cfg_select(f, 0x11, EV_KEY), ==, BTN_MIDDLE / 8 + 1);
    g_assert_true(cfg_bit(f, BTN_LEFT));
    g_assert_true(cfg_bit(f, BTN_RIGHT));
    g_assert_false(cfg_bit(f, KEY_A));
    g_assert_cmpuint(cfg_select(f, 0x11, EV_REL), ==, 2);
    g_assert_true(cfg_bit(f, REL_WHEEL));
    g_assert_cmpuint(cfg_select(f, 0x12, ABS_X), ==, 20);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF + 8, 4), ==, 0);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF + 12, 4), ==, HV_INPUT_ABS_MAX);
    g_assert_cmpuint(cfg_select(f, 0x12, ABS_Z), ==, 0);
    g_assert_cmpuint(cfg_select(f, 0x10, 0), ==, 0); /* PROP_BITS: none */
}

static void test_keys(struct fixture *f, gconstpointer data)
{
    (void)data;
    driver_start(f);
    /* Keys before any buffer wait; buffers then take them in order. */
    f->sink.key(f->sink.opaque, KEY_A, true);
    f->sink.key(f->sink.opaque, KEY_A, false);
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 0);
    for (unsigned i = 0; i < 3; i++)
        offer(f, 0, 8, true, false);
    offer(f, 0, 8, true, true);
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 4);
    ASSERT_EVENT(f, 0, EV_KEY, KEY_A, 1);
    ASSERT_EVENT(f, 1, EV_SYN, SYN_REPORT, 0);
    ASSERT_EVENT(f, 2, EV_KEY, KEY_A, 0);
    ASSERT_EVENT(f, 3, EV_SYN, SYN_REPORT, 0);
    g_assert_cmpuint(hv_virtio_input_sent(f->kbd), ==, 4);
    /* Buffers waiting: an event goes out at once. */
    offer(f, 0, 8, true, true);
    offer(f, 0, 8, true, true);
    f->sink.key(f->sink.opaque, KEY_RO, true);
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 6);
    ASSERT_EVENT(f, 4, EV_KEY, KEY_RO, 1);
    /* Not a key: ignored. */
    f->sink.key(f->sink.opaque, 0, true);
    g_assert_cmpuint(hv_virtio_input_sent(f->kbd), ==, 6);
}

static void test_overflow(struct fixture *f, gconstpointer data)
{
    (void)data;
    driver_start(f);
    /* 150 presses and releases (600 events) with no buffers: the newest 256 stay. */
    for (unsigned i = 0; i < 150; i++) {
        f->sink.key(f->sink.opaque, (uint16_t)(KEY_1 + i % 9), true);
        f->sink.key(f->sink.opaque, (uint16_t)(KEY_1 + i % 9), false);
    }
    g_assert_cmpuint(hv_virtio_input_dropped(f->kbd), ==, 600 - HV_INPUT_PENDING_MAX);
    offer(f, 0, 8, true, true);
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 1);
    /* Event 344 (the first kept) is the press of key i = 86. */
    ASSERT_EVENT(f, 0, EV_KEY, KEY_1 + 86 % 9, 1);
    g_assert_cmpuint(hv_virtio_input_sent(f->kbd), ==, 1);
}

static void test_pointer(struct fixture *f, gconstpointer data)
{
    (void)data;
    f->vh.dev = hv_virtio_input_dev(f->tab);
    driver_start(f);
    for (unsigned i = 0; i < 12; i++)
        offer(f, 0, 8, true, false);
    offer(f, 0, 8, true, true);
    /* The bottom-right pixel is the axis maximum; the left button goes down. */
    f->sink.pointer(f->sink.opaque, 639, 479, 640, 480, HV_BUTTON_LEFT);
    ASSERT_EVENT(f, 0, EV_ABS, ABS_X, HV_INPUT_ABS_MAX);
    ASSERT_EVENT(f, 1, EV_ABS, ABS_Y, HV_INPUT_ABS_MAX);
    ASSERT_EVENT(f, 2, EV_KEY, BTN_LEFT, 1);
    ASSERT_EVENT(f, 3, EV_SYN, SYN_REPORT, 0);
    /* The middle; left up, wheel up: one notch. Past the edge is clamped. */
    f->sink.pointer(f->sink.opaque, 320, 5000, 641, 480, HV_BUTTON_WHEEL_UP);
    ASSERT_EVENT(f, 4, EV_ABS, ABS_X, HV_INPUT_ABS_MAX / 2);
    ASSERT_EVENT(f, 5, EV_ABS, ABS_Y, HV_INPUT_ABS_MAX);
    ASSERT_EVENT(f, 6, EV_KEY, BTN_LEFT, 0);
    ASSERT_EVENT(f, 7, EV_REL, REL_WHEEL, 1);
    ASSERT_EVENT(f, 8, EV_SYN, SYN_REPORT, 0);
    f->sink.pointer(f->sink.opaque, 0, 0, 640, 480, HV_BUTTON_WHEEL_DOWN | HV_BUTTON_RIGHT);
    ASSERT_EVENT(f, 9, EV_ABS, ABS_X, 0);
    ASSERT_EVENT(f, 11, EV_KEY, BTN_RIGHT, 1);
    ASSERT_EVENT(f, 12, EV_REL, REL_WHEEL, -1);
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 13);
    /* The keyboard got nothing of it. */
    g_assert_cmpuint(hv_virtio_input_sent(f->kbd), ==, 0);
}

static void test_status_and_reset(struct fixture *f, gconstpointer data)
{
    (void)data;
    driver_start(f);
    /* An LED update on the status queue is taken and ignored. */
    uint64_t gpa = offer(f, 1, 8, false, false);
    uint8_t led[8] = {EV_LED, 0, LED_CAPSL, 0, 1, 0, 0, 0};
    memcpy(vh_ram(&f->vh, gpa, 8), led, 8);
    vh_regs_write(&f->vh, NOTIFY_OFF + 4, 1, 2);
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, 1), ==, 1);
    /* Events pending at a reset are gone. */
    f->sink.key(f->sink.opaque, KEY_B, true);
    vh_regs_write(&f->vh, C_STATUS, 0, 1);
    g_assert_cmpuint(vh_regs_read(&f->vh, C_STATUS, 1), ==, 0);
    memset(f->vh.avail_idx, 0, sizeof(f->vh.avail_idx));
    memset(f->vh.next_desc, 0, sizeof(f->vh.next_desc));
    memset(vh_ram(&f->vh, RING_GPA(0), 0x3000), 0, 0x3000);
    f->next_buf = 0;
    driver_start(f);
    offer(f, 0, 8, true, true);
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 0);
    f->sink.key(f->sink.opaque, KEY_C, true);
    ASSERT_EVENT(f, 0, EV_KEY, KEY_C, 1);
}

static void test_bad_ring(struct fixture *f, gconstpointer data)
{
    (void)data;
    driver_start(f);
    /* A descriptor pointing past RAM: the device fails, the sink keeps working. */
    uint8_t *desc = vh_ram(&f->vh, RING_GPA(0), 16);
    uint64_t bad = RAM_SIZE + 0x10000000ull;
    uint32_t len = 8;
    uint16_t flags = VIRTQ_DESC_F_WRITE;
    memcpy(desc, &bad, 8);
    memcpy(desc + 8, &len, 4);
    memcpy(desc + 12, &flags, 2);
    uint8_t *avail = vh_ram(&f->vh, RING_GPA(0) + 0x1000, 6);
    uint16_t idx = 1;
    memcpy(avail + 2, &idx, 2);
    f->sink.key(f->sink.opaque, KEY_A, true);
    g_assert_cmpuint(vh_regs_read(&f->vh, C_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    f->sink.key(f->sink.opaque, KEY_A, false);
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)
    ADD("/virtio-input/config", test_config);
    ADD("/virtio-input/keys", test_keys);
    ADD("/virtio-input/overflow", test_overflow);
    ADD("/virtio-input/pointer", test_pointer);
    ADD("/virtio-input/status-and-reset", test_status_and_reset);
    ADD("/virtio-input/bad-ring", test_bad_ring);
    return g_test_run();
}
