/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-balloon, virtio-console and the transport driven through the PCI registers. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "virtio-harness.h"
#include "virtio/balloon.h"
#include "virtio/console.h"

#define DATA_GPA 0x400000ull /* pages the tests fill and expect the balloon to drop */

struct fixture {
    struct vh vh;
    char *dir;
};

static void setup(struct fixture *f, gconstpointer data)
{
    (void)data;
    memset(f, 0, sizeof(*f));
    vh_init(&f->vh);
    GError *error = NULL;
    f->dir = g_dir_make_tmp("vmdesk-virtio-XXXXXX", &error);
    g_assert_no_error(error);
}

/* Offers a one-descriptor buffer on queue q and kicks it. */
static void offer(struct fixture *f, unsigned q, uint64_t gpa, uint32_t len, bool writable)
{
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
    vh_regs_write(&f->vh, NOTIFY_OFF + 4 * q, q, 2);
}

static uint32_t used_len(struct fixture *f, unsigned q, unsigned i)
{
    uint32_t v;
    memcpy(&v, vh_ram(&f->vh, RING_GPA(q) + 0x2004 + 8 * i + 4, 4), 4);
    return v;
}

static char *stats_json(const struct hv_device_ops *ops, void *impl)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    ops->stats(impl, b);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    return json_to_string(root, FALSE);
}

#define ASSERT_HAS(text, needle)                                                                   \
    do {                                                                                           \
        if (!strstr((text), (needle)))                                                             \
            g_error("%s lacks %s", (text), (needle));                                              \
    } while (0)

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    vh_fini(&f->vh);
    g_rmdir(f->dir);
    g_free(f->dir);
}

/* ---- balloon ---- */

static struct hv_virtio_balloon *new_balloon(struct fixture *f)
{
    struct hv_virtio_balloon *bal = g_new0(struct hv_virtio_balloon, 1);
    g_assert_cmpint(hv_virtio_balloon_init(bal, &f->vh.vm, &f->vh.mem), ==, 0);
    vh_plug(&f->vh, &bal->dev);
    return bal;
}

static void test_balloon_inflate(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_virtio_balloon *bal = new_balloon(f);
    vh_driver_init(&f->vh, 0, 2);
    vh_driver_ok(&f->vh);
    memset(vh_ram(&f->vh, DATA_GPA, 3 * 4096), 0xaa, 3 * 4096);
    /* Two neighbours, a frame past RAM, and a third page further on. */
    uint32_t pfns[] = {DATA_GPA >> 12, (DATA_GPA >> 12) + 1, 0xfffff0, (DATA_GPA >> 12) + 2};
    memcpy(vh_ram(&f->vh, BUF_GPA, sizeof(pfns)), pfns, sizeof(pfns));
    offer(f, 0, BUF_GPA, sizeof(pfns), false);
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 1);
    const uint8_t *p = vh_ram(&f->vh, DATA_GPA, 3 * 4096);
    for (unsigned i = 0; i < 3 * 4096; i++)
        g_assert_cmpuint(p[i], ==, 0);
    /* Deflating counts; the pages need nothing from the host. */
    offer(f, 1, BUF_GPA, 8, false);
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, 1), ==, 1);
    g_autofree char *s = stats_json(&hv_virtio_balloon_device_ops, bal);
    ASSERT_HAS(s, "\"inflated-pages\":3,\"deflated-pages\":2,\"invalid-pfns\":1");
    hv_virtio_balloon_device_ops.destroy(bal);
}

static void test_balloon_config(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_virtio_balloon *bal = new_balloon(f);
    g_assert_cmpint(hv_virtio_balloon_set_target(bal, 0), ==, -ERANGE);
    g_assert_cmpint(hv_virtio_balloon_set_target(bal, RAM_SIZE + 4096), ==, -ERANGE);
    g_assert_cmpint(hv_virtio_balloon_set_target(bal, RAM_SIZE - HV_MiB(1)), ==, 0);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF, 4), ==, 256); /* num_pages */
    /* The driver reports what it holds; the host's num_pages is not the driver's to write. */
    vh_regs_write(&f->vh, DEVICE_OFF + 4, 128, 4);
    vh_regs_write(&f->vh, DEVICE_OFF, 7, 4);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF, 4), ==, 256);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF + 4, 4), ==, 128);
    g_autofree char *s = stats_json(&hv_virtio_balloon_device_ops, bal);
    ASSERT_HAS(s, "\"target\":32505856,\"actual\":33030144");
    /* A machine reset empties the balloon and keeps the target. */
    hv_virtio_balloon_device_ops.reset(bal);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF, 4), ==, 256);
    g_assert_cmpuint(vh_regs_read(&f->vh, DEVICE_OFF + 4, 4), ==, 0);
    hv_virtio_balloon_device_ops.destroy(bal);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
    memcpy(p, &tag, 2);
    memcpy(p + 2, &val, 8);
}

static void test_balloon_stats(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_virtio_balloon *bal = new_balloon(f);
    vh_driver_init(&f->vh, 1u << 1 | 1u << 5, 4);
    /* As Linux does: the first report is queued and kicked before DRIVER_OK. */
    uint8_t *buf = vh_ram(&f->vh, BUF_GPA, 30);
    put_stat(buf, 4, 1000);
    put_stat(buf + 10, 5, 2000);
    put_stat(buf + 20, 99, 5); /* a tag from the future: ignored */
    offer(f, 2, BUF_GPA, 30, false);
    vh_pump();
    g_autofree char *before = stats_json(&hv_virtio_balloon_device_ops, bal);
    ASSERT_HAS(before, "\"guest\":{}");
    vh_driver_ok(&f->vh);
    g_autofree char *s = stats_json(&hv_virtio_balloon_device_ops, bal);
    ASSERT_HAS(s, "\"guest\":{\"free-memory\":1000,\"total-memory\":2000,\"last-update\":");
    /* Asking for the stats handed the buffer back: the driver is asked for a new report. */
    g_assert_cmpuint(vh_used_idx(&f->vh, 2), ==, 1);
    put_stat(buf, 4, 900);
    offer(f, 2, BUF_GPA, 10, false);
    vh_pump();
    g_autofree char *s2 = stats_json(&hv_virtio_balloon_device_ops, bal);
    ASSERT_HAS(s2, "\"free-memory\":900,\"total-memory\":2000");
    g_assert_cmpuint(vh_used_idx(&f->vh, 2), ==, 2);

    /* Free page reporting is the fourth queue here: a reported range goes back to the host. */
    memset(vh_ram(&f->vh, DATA_GPA, 2 * 4096), 0x55, 2 * 4096);
    offer(f, 3, DATA_GPA, 2 * 4096, true);
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, 3), ==, 1);
    g_assert_cmpuint(vh_ram(&f->vh, DATA_GPA, 1)[0], ==, 0);
    g_assert_cmpuint(vh_ram(&f->vh, DATA_GPA + 8191, 1)[0], ==, 0);
    g_autofree char *s3 = stats_json(&hv_virtio_balloon_device_ops, bal);
    ASSERT_HAS(s3, "\"free-page-reports\":1,\"free-page-reported-bytes\":8192");
    hv_virtio_balloon_device_ops.destroy(bal);
}

/* Without STATS_VQ the reporting queue moves up to index 2. */
static void test_balloon_queue_numbers(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_virtio_balloon *bal = new_balloon(f);
    vh_driver_init(&f->vh, 1u << 5, 3);
    vh_driver_ok(&f->vh);
    memset(vh_ram(&f->vh, DATA_GPA, 4096), 0x55, 4096);
    offer(f, 2, DATA_GPA, 4096, true);
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, 2), ==, 1);
    g_assert_cmpuint(vh_ram(&f->vh, DATA_GPA, 1)[0], ==, 0);
    hv_virtio_balloon_device_ops.destroy(bal);
}

/* A broken ring fails the device, once, and the machine hears of it. */
static void on_error(void *ctx, const char *id, const char *why)
{
    GString *s = ctx;
    g_string_append_printf(s, "%s: %s\n", id, why);
}

static void test_balloon_broken(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_virtio_balloon *bal = new_balloon(f);
    g_autoptr(GString) errors = g_string_new(NULL);
    struct hv_virtio_dev *dev = hv_virtio_balloon_device_ops.virtio(bal);
    dev->on_error = on_error;
    dev->on_error_ctx = errors;
    dev->on_error_id = "balloon0";
    vh_driver_init(&f->vh, 0, 2);
    vh_driver_ok(&f->vh);
    offer(f, 0, RAM_SIZE + 0x100000, 4, false); /* outside guest RAM */
    offer(f, 0, RAM_SIZE + 0x100000, 4, false);
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 0);
    g_assert_true(vh_regs_read(&f->vh, C_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    g_assert_cmpuint(strlen(errors->str), >, 10);
    g_assert_true(g_str_has_prefix(errors->str, "balloon0: "));
    /* Once, although the second buffer is just as bad. */
    g_assert_true(strchr(errors->str, '\n') == errors->str + errors->len - 1);
    hv_virtio_balloon_device_ops.destroy(bal);
}

/* ---- console ---- */

static struct hv_virtio_console *new_console(struct fixture *f)
{
    struct hv_virtio_console *con = g_new0(struct hv_virtio_console, 1);
    g_assert_cmpint(hv_virtio_console_init(con, &f->vh.vm, &f->vh.mem), ==, 0);
    vh_plug(&f->vh, &con->dev);
    return con;
}

static void test_console_tx(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_virtio_console *con = new_console(f);
    g_autofree char *path = g_build_filename(f->dir, "out", NULL);
    g_autofree char *spec_text = g_strconcat("file:", path, NULL);
    struct hv_chardev_spec spec;
    g_assert_cmpint(hv_chardev_parse(spec_text, &spec, NULL), ==, 0);
    g_assert_null(hv_virtio_console_open(con, &spec));
    vh_driver_init(&f->vh, 0, 2);
    vh_driver_ok(&f->vh);
    memcpy(vh_ram(&f->vh, BUF_GPA, 6), "hello\n", 6);
    offer(f, 1, BUF_GPA, 6, false);
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, 1), ==, 1);
    g_autofree char *s = stats_json(&hv_virtio_console_device_ops, con);
    g_assert_cmpstr(s, ==, "{\"rx-bytes\":0,\"tx-bytes\":6}");
    hv_virtio_console_device_ops.destroy(con);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "hello\n");
    g_unlink(path);
    hv_chardev_spec_clear(&spec);
}

/* Input waits in the backend while the guest has no buffers; none of it is lost. */
static void test_console_rx_flow_control(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_virtio_console *con = new_console(f);
    g_autofree char *path = g_build_filename(f->dir, "hvc.sock", NULL);
    g_autofree char *spec_text = g_strconcat("unix:", path, NULL);
    struct hv_chardev_spec spec;
    g_assert_cmpint(hv_chardev_parse(spec_text, &spec, NULL), ==, 0);
    g_assert_null(hv_virtio_console_open(con, &spec));
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(c, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    vh_pump();

    /* Typed before the driver exists. */
    g_assert_cmpint(send(c, "abcdef", 6, 0), ==, 6);
    vh_pump();
    vh_driver_init(&f->vh, 0, 2);
    vh_driver_ok(&f->vh);
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 0);
    /* A 4-byte buffer takes four; the rest waits for the next buffer. */
    offer(f, 0, BUF_GPA, 4, true);
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 1);
    g_assert_cmpuint(used_len(f, 0, 0), ==, 4);
    g_assert_cmpmem(vh_ram(&f->vh, BUF_GPA, 4), 4, "abcd", 4);
    offer(f, 0, BUF_GPA + 0x1000, 64, true);
    vh_pump();
    g_assert_cmpuint(vh_used_idx(&f->vh, 0), ==, 2);
    g_assert_cmpuint(used_len(f, 0, 1), ==, 2);
    g_assert_cmpmem(vh_ram(&f->vh, BUF_GPA + 0x1000, 2), 2, "ef", 2);
    g_autofree char *s = stats_json(&hv_virtio_console_device_ops, con);
    g_assert_cmpstr(s, ==, "{\"rx-bytes\":6,\"tx-bytes\":0}");
    close(c);
    hv_virtio_console_device_ops.destroy(con);
    /* Closing the backend removed its socket. */
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    hv_chardev_spec_clear(&spec);
}

static void test_console_open_error(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct hv_virtio_console *con = new_console(f);
    struct hv_chardev_spec spec;
    g_assert_cmpint(hv_chardev_parse("unix:/nonexistent-dir/x.sock", &spec, NULL), ==, 0);
    g_autofree char *err = hv_virtio_console_open(con, &spec);
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(err, "--console unix:/nonexistent-dir/x.sock: "));
    hv_virtio_console_device_ops.destroy(con);
    hv_chardev_spec_clear(&spec);
}

/* ---- the transport ---- */

struct probe {
    struct hv_virtio_dev dev;
    unsigned kicks;
    uint8_t status_at_reset;
};

static void probe_notify(struct hv_virtio_dev *dev, unsigned q)
{
    (void)q;
    ((struct probe *)dev->opaque)->kicks++;
}

/* What a device that waits for its I/O in reset sees: a kick meanwhile reaches it or not. */
static void probe_reset(struct hv_virtio_dev *dev)
{
    struct probe *p = dev->opaque;
    p->status_at_reset = dev->status;
    uint64_t one = 1;
    g_assert_cmpint(write(hv_virtio_kick_fd(dev, 0), &one, sizeof(one)), ==, sizeof(one));
    vh_pump();
}

static const struct hv_virtio_ops probe_ops = {
    .name = "probe",
    .device_id = VIRTIO_ID_RNG,
    .nr_queues = 1,
    .queue_size = QSIZE,
    .queue_notify = probe_notify,
    .reset = probe_reset,
};

/*
 * The driver's reset (status 0) turns DRIVER_OK off before the device's reset runs, so no
 * kick starts requests while the device waits for those in flight (their answers would go
 * to rings about to be cleared).
 */
static void test_reset_stops_kicks(struct fixture *f, gconstpointer data)
{
    (void)data;
    struct probe *p = g_new0(struct probe, 1);
    g_assert_cmpint(hv_virtio_init(&p->dev, &probe_ops, p, &f->vh.vm, &f->vh.mem), ==, 0);
    vh_plug(&f->vh, &p->dev);
    vh_driver_init(&f->vh, 0, 1);
    vh_driver_ok(&f->vh);
    unsigned before = p->kicks;
    vh_regs_write(&f->vh, NOTIFY_OFF, 0, 2);
    vh_pump();
    g_assert_cmpuint(p->kicks, ==, before + 1);
    vh_regs_write(&f->vh, C_STATUS, 0, 1);
    g_assert_cmphex(p->status_at_reset & VIRTIO_STATUS_DRIVER_OK, ==, 0);
    g_assert_cmpuint(p->kicks, ==, before + 1);
    hv_virtio_destroy(&p->dev);
    g_free(p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define T(name, fn) g_test_add(name, struct fixture, NULL, setup, fn, teardown)
    T("/virtio/balloon/inflate", test_balloon_inflate);
    T("/virtio/balloon/config", test_balloon_config);
    T("/virtio/balloon/stats-and-reporting", test_balloon_stats);
    T("/virtio/balloon/queue-numbers", test_balloon_queue_numbers);
    T("/virtio/balloon/broken-ring", test_balloon_broken);
    T("/virtio/console/tx", test_console_tx);
    T("/virtio/console/rx-flow-control", test_console_rx_flow_control);
    T("/virtio/console/open-error", test_console_open_error);
    T("/virtio/transport/reset-stops-kicks", test_reset_stops_kicks);
    return g_test_run();
}
