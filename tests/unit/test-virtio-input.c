/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-input keyboard and tablet: config space and event queue, rings in fake RAM. */
#include <errno.h>
#include <linux/input-event-codes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtio/input.h"

#define RAM_SIZE HV_MiB(32)
#define QSIZE 16
#define RING_GPA(q) (0x100000ull + 0x4000ull * (q)) /* desc, +0x1000 avail, +0x2000 used */
#define BUF_GPA 0x200000ull
/* The transport's register layout (virtio/pci.c). */
#define REGS_BAR 4
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_STATUS 0x14
#define C_QSELECT 0x16
#define C_QSIZE 0x18
#define C_QENABLE 0x1c
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30
#define DEVICE_OFF 0x2000
#define NOTIFY_OFF 0x3000

/* A VM without KVM, as in test-virtio-devices: interrupts on fd -1 fail harmlessly. */
struct fixture {
    struct hv_vm vm;
    struct hv_pci pci;
    struct hv_memory mem;
    struct hv_virtio_input *kbd, *tab;
    struct hv_virtio_dev *dev; /* the one the driver functions talk to */
    struct hv_input_sink sink;
    uint16_t avail_idx[2];
    uint16_t next_desc[2];
    uint32_t next_buf;
};

static uint8_t *ram(struct fixture *f, uint64_t gpa, uint64_t len)
{
    uint8_t *p = hv_memory_ptr(&f->mem, gpa, len);
    g_assert_nonnull(p);
    return p;
}

static void regs_write(struct fixture *f, uint64_t off, uint64_t val, unsigned len)
{
    struct hv_pci_bar *bar = &f->dev->pci.bars[REGS_BAR];
    bar->ops->write(bar->opaque, off, &val, len);
}

static uint64_t regs_read(struct fixture *f, uint64_t off, unsigned len)
{
    struct hv_pci_bar *bar = &f->dev->pci.bars[REGS_BAR];
    uint64_t v = 0;
    bar->ops->read(bar->opaque, off, &v, len);
    return v;
}

static void pump(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    memset(f, 0, sizeof(*f));
    f->vm.fd = -1;
    pthread_mutex_init(&f->vm.lock, NULL);
    pthread_cond_init(&f->vm.cond, NULL);
    f->vm.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(hv_pci_init(&f->pci, &f->vm, RAM_SIZE), ==, 0);
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, RAM_SIZE, 0), ==, 0);
    g_assert_cmpint(hv_memory_alloc(&f->mem, &l, 0), ==, 0);
    g_assert_cmpint(hv_virtio_input_new(HV_INPUT_KEYBOARD, &f->vm, &f->mem, &f->kbd), ==, 0);
    g_assert_cmpint(hv_virtio_input_new(HV_INPUT_TABLET, &f->vm, &f->mem, &f->tab), ==, 0);
    hv_virtio_input_dev(f->kbd)->pci.pci = &f->pci;
    hv_virtio_input_dev(f->tab)->pci.pci = &f->pci;
    hv_virtio_input_sink(f->kbd, f->tab, &f->sink);
    f->dev = hv_virtio_input_dev(f->kbd);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    pump();
    hv_virtio_input_device_ops.destroy(f->kbd);
    hv_virtio_input_device_ops.destroy(f->tab);
    hv_pci_destroy(&f->pci);
    hv_iobus_clear(&f->vm.pio);
    hv_iobus_clear(&f->vm.mmio);
    hv_memory_free(&f->mem);
    close(f->vm.event_fd);
    pthread_cond_destroy(&f->vm.cond);
    pthread_mutex_destroy(&f->vm.lock);
}

static void driver_start(struct fixture *f)
{
    regs_write(f, C_STATUS, 3, 1);
    regs_write(f, C_GFSELECT, 1, 4);
    regs_write(f, C_GF, 1, 4); /* VERSION_1 */
    regs_write(f, C_STATUS, 0xb, 1);
    g_assert_cmpuint(regs_read(f, C_STATUS, 1), ==, 0xb);
    for (unsigned q = 0; q < 2; q++) {
        regs_write(f, C_QSELECT, q, 2);
        regs_write(f, C_QSIZE, QSIZE, 2);
        regs_write(f, C_QDESC, RING_GPA(q), 8);
        regs_write(f, C_QDRIVER, RING_GPA(q) + 0x1000, 8);
        regs_write(f, C_QDEVICE, RING_GPA(q) + 0x2000, 8);
        regs_write(f, C_QENABLE, 1, 2);
    }
    regs_write(f, C_STATUS, 0xf, 1);
    pump();
}

/* Offers one buffer of `len` bytes on queue q; returns its guest address. */
static uint64_t offer(struct fixture *f, unsigned q, uint32_t len, bool writable, bool kick)
{
    uint64_t gpa = BUF_GPA + 16ull * f->next_buf++;
    uint16_t d = f->next_desc[q]++ % QSIZE;
    uint8_t *desc = ram(f, RING_GPA(q) + 16ull * d, 16);
    uint16_t flags = writable ? VIRTQ_DESC_F_WRITE : 0, next = 0;
    memcpy(desc, &gpa, 8);
    memcpy(desc + 8, &len, 4);
    memcpy(desc + 12, &flags, 2);
    memcpy(desc + 14, &next, 2);
    uint8_t *avail = ram(f, RING_GPA(q) + 0x1000, 4 + 2 * QSIZE);
    memcpy(avail + 4 + 2 * (f->avail_idx[q] % QSIZE), &d, 2);
    f->avail_idx[q]++;
    memcpy(avail + 2, &f->avail_idx[q], 2);
    if (kick) {
        regs_write(f, NOTIFY_OFF + 4 * q, q, 2);
        pump();
    }
    return gpa;
}

static uint16_t used_idx(struct fixture *f, unsigned q)
{
    uint16_t v;
    memcpy(&v, ram(f, RING_GPA(q) + 0x2002, 2), 2);
    return v;
}

/* The event the device wrote into the i-th buffer offered. */
static struct hv_input_event event_at(struct fixture *f, unsigned i)
{
    struct hv_input_event ev;
    uint8_t *p = ram(f, BUF_GPA + 16ull * i, 8);
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
    regs_write(f, DEVICE_OFF, select, 1);
    regs_write(f, DEVICE_OFF + 1, subsel, 1);
    return (unsigned)regs_read(f, DEVICE_OFF + 2, 1);
}

static bool cfg_bit(struct fixture *f, unsigned bit)
{
    return regs_read(f, DEVICE_OFF + 8 + bit / 8, 1) & (1u << (bit % 8));
}

static void test_config(struct fixture *f, gconstpointer data)
{
    (void)data;
    unsigned n = cfg_select(f, 0x01, 0); /* ID_NAME */
    g_assert_cmpuint(n, ==, strlen("vmdesk keyboard"));
    char name[32] = {0};
    for (unsigned i = 0; i < n; i++)
        name[i] = (char)regs_read(f, DEVICE_OFF + 8 + i, 1);
    g_assert_cmpstr(name, ==, "vmdesk keyboard");
    g_assert_cmpuint(cfg_select(f, 0x03, 0), ==, 8); /* ID_DEVIDS */
    g_assert_cmpuint(regs_read(f, DEVICE_OFF + 8, 2), ==, 0x06); /* BUS_VIRTUAL */
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
    regs_write(f, DEVICE_OFF + 2, 0x55, 1);
    g_assert_cmpuint(regs_read(f, DEVICE_OFF + 2, 1), ==, 0);

    f->dev = hv_virtio_input_dev(f->tab);
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
    g_assert_cmpuint(regs_read(f, DEVICE_OFF + 8, 4), ==, 0);
    g_assert_cmpuint(regs_read(f, DEVICE_OFF + 12, 4), ==, HV_INPUT_ABS_MAX);
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
    g_assert_cmpuint(used_idx(f, 0), ==, 0);
    for (unsigned i = 0; i < 3; i++)
        offer(f, 0, 8, true, false);
    offer(f, 0, 8, true, true);
    g_assert_cmpuint(used_idx(f, 0), ==, 4);
    ASSERT_EVENT(f, 0, EV_KEY, KEY_A, 1);
    ASSERT_EVENT(f, 1, EV_SYN, SYN_REPORT, 0);
    ASSERT_EVENT(f, 2, EV_KEY, KEY_A, 0);
    ASSERT_EVENT(f, 3, EV_SYN, SYN_REPORT, 0);
    g_assert_cmpuint(hv_virtio_input_sent(f->kbd), ==, 4);
    /* Buffers waiting: an event goes out at once. */
    offer(f, 0, 8, true, true);
    offer(f, 0, 8, true, true);
    f->sink.key(f->sink.opaque, KEY_RO, true);
    g_assert_cmpuint(used_idx(f, 0), ==, 6);
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
    g_assert_cmpuint(used_idx(f, 0), ==, 1);
    /* Event 344 (the first kept) is the press of key i = 86. */
    ASSERT_EVENT(f, 0, EV_KEY, KEY_1 + 86 % 9, 1);
    g_assert_cmpuint(hv_virtio_input_sent(f->kbd), ==, 1);
}

static void test_pointer(struct fixture *f, gconstpointer data)
{
    (void)data;
    f->dev = hv_virtio_input_dev(f->tab);
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
    g_assert_cmpuint(used_idx(f, 0), ==, 13);
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
    memcpy(ram(f, gpa, 8), led, 8);
    regs_write(f, NOTIFY_OFF + 4, 1, 2);
    pump();
    g_assert_cmpuint(used_idx(f, 1), ==, 1);
    /* Events pending at a reset are gone. */
    f->sink.key(f->sink.opaque, KEY_B, true);
    regs_write(f, C_STATUS, 0, 1);
    g_assert_cmpuint(regs_read(f, C_STATUS, 1), ==, 0);
    memset(f->avail_idx, 0, sizeof(f->avail_idx));
    memset(f->next_desc, 0, sizeof(f->next_desc));
    memset(ram(f, RING_GPA(0), 0x3000), 0, 0x3000);
    f->next_buf = 0;
    driver_start(f);
    offer(f, 0, 8, true, true);
    g_assert_cmpuint(used_idx(f, 0), ==, 0);
    f->sink.key(f->sink.opaque, KEY_C, true);
    ASSERT_EVENT(f, 0, EV_KEY, KEY_C, 1);
}

static void test_bad_ring(struct fixture *f, gconstpointer data)
{
    (void)data;
    driver_start(f);
    /* A descriptor pointing past RAM: the device fails, the sink keeps working. */
    uint8_t *desc = ram(f, RING_GPA(0), 16);
    uint64_t bad = RAM_SIZE + 0x10000000ull;
    uint32_t len = 8;
    uint16_t flags = VIRTQ_DESC_F_WRITE;
    memcpy(desc, &bad, 8);
    memcpy(desc + 8, &len, 4);
    memcpy(desc + 12, &flags, 2);
    uint8_t *avail = ram(f, RING_GPA(0) + 0x1000, 6);
    uint16_t idx = 1;
    memcpy(avail + 2, &idx, 2);
    f->sink.key(f->sink.opaque, KEY_A, true);
    g_assert_cmpuint(regs_read(f, C_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    f->sink.key(f->sink.opaque, KEY_A, false);
    g_assert_cmpuint(used_idx(f, 0), ==, 0);
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
