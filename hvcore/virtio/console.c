/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-console: one port (hvc0) carried over a serial-style backend. */
#include "virtio/console.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

/* Port 0's queues; without VIRTIO_CONSOLE_F_MULTIPORT there are no others. */
#define RXQ 0
#define TXQ 1
/* cols, rows (VIRTIO_CONSOLE_F_SIZE), max_nr_ports, emerg_wr: none of them offered. */
#define CONFIG_SIZE 12

/* Whether the driver may be given input: its queues are mapped and it is not broken. */
static bool rx_ready(struct hv_virtio_console *con)
{
    struct hv_virtio_dev *dev = &con->dev;
    pthread_mutex_lock(&dev->lock);
    bool ok = con->active && !dev->broken && dev->queues[RXQ].vq.enabled;
    pthread_mutex_unlock(&dev->lock);
    return ok;
}

size_t hv_virtio_console_input(void *opaque, const uint8_t *buf, size_t len)
{
    struct hv_virtio_console *con = opaque;
    struct hv_virtq *vq = &con->dev.queues[RXQ].vq;
    const char *why = NULL;
    size_t done = 0;

    pthread_mutex_lock(&con->lock);
    if (!rx_ready(con)) {
        /* No driver yet: the backend keeps the input until the guest offers buffers. */
        con->rx_waiting = true;
        pthread_mutex_unlock(&con->lock);
        return 0;
    }
    while (done < len) {
        int r = hv_virtq_pop(vq, &con->req, &why);
        if (r <= 0) {
            if (r == 0)
                con->rx_waiting = true;
            break;
        }
        size_t n = hv_virtq_copy_to_in(&con->req, 0, buf + done, len - done);
        hv_virtq_push(vq, con->req.head, (uint32_t)n);
        done += n;
    }
    con->rx_bytes += done;
    pthread_mutex_unlock(&con->lock);
    if (why)
        hv_virtio_fail(&con->dev, why);
    if (done)
        hv_virtio_notify(&con->dev, RXQ);
    return done;
}

static void con_transmit(struct hv_virtio_console *con)
{
    struct hv_virtq *vq = &con->dev.queues[TXQ].vq;
    const char *why = NULL;

    pthread_mutex_lock(&con->lock);
    for (;;) {
        int r = con->active ? hv_virtq_pop(vq, &con->req, &why) : 0;
        if (r <= 0)
            break;
        for (unsigned i = 0; i < con->req.nr_out; i++) {
            hv_chardev_write(con->chr, con->req.iov[i].iov_base, con->req.iov[i].iov_len);
            con->tx_bytes += con->req.iov[i].iov_len;
        }
        hv_virtq_push(vq, con->req.head, 0);
    }
    pthread_mutex_unlock(&con->lock);
    if (why)
        hv_virtio_fail(&con->dev, why);
    else
        hv_virtio_notify(&con->dev, TXQ);
}

static void con_notify(struct hv_virtio_dev *dev, unsigned q)
{
    struct hv_virtio_console *con = dev->opaque;

    if (q == TXQ) {
        con_transmit(con);
        return;
    }
    /* New RX buffers: hand over what the backend has been holding back. */
    pthread_mutex_lock(&con->lock);
    bool resume = con->rx_waiting;
    con->rx_waiting = false;
    pthread_mutex_unlock(&con->lock);
    if (resume)
        hv_chardev_accept_input(con->chr);
}

static void con_config_read(struct hv_virtio_dev *dev, unsigned offset, void *data,
                            unsigned len)
{
    uint8_t cfg[CONFIG_SIZE] = {0};
    uint32_t ports = 1;
    (void)dev;
    memcpy(cfg + 4, &ports, 4);
    memcpy(data, cfg + offset, len);
}

static void con_activate(struct hv_virtio_dev *dev)
{
    struct hv_virtio_console *con = dev->opaque;
    /* Input may have been refused before the driver was there. */
    pthread_mutex_lock(&con->lock);
    con->active = true;
    con->rx_waiting = true;
    pthread_mutex_unlock(&con->lock);
}

static void con_driver_reset(struct hv_virtio_dev *dev)
{
    struct hv_virtio_console *con = dev->opaque;
    /* Waits for queue work in progress on the main loop before the rings go away. */
    pthread_mutex_lock(&con->lock);
    con->active = false;
    pthread_mutex_unlock(&con->lock);
}

static const struct hv_virtio_ops console_ops = {
    .name = "virtio-console",
    .device_id = VIRTIO_ID_CONSOLE,
    .nr_queues = 2,
    .queue_size = 256,
    .config_size = CONFIG_SIZE,
    .config_read = con_config_read,
    .activate = con_activate,
    .queue_notify = con_notify,
    .reset = con_driver_reset,
};

static void con_reset(void *impl)
{
    struct hv_virtio_console *con = impl;
    hv_virtio_reset(&con->dev);
}

static void con_destroy(void *impl)
{
    struct hv_virtio_console *con = impl;
    hv_chardev_close(con->chr);
    hv_virtio_destroy(&con->dev);
    pthread_mutex_destroy(&con->lock);
    g_free(con);
}

static void con_describe(void *impl, JsonBuilder *b)
{
    struct hv_virtio_console *con = impl;
    json_builder_set_member_name(b, "pci-slot");
    json_builder_add_int_value(b, con->dev.pci.slot);
}

static void con_stats(void *impl, JsonBuilder *b)
{
    struct hv_virtio_console *con = impl;
    pthread_mutex_lock(&con->lock);
    uint64_t rx = con->rx_bytes, tx = con->tx_bytes;
    pthread_mutex_unlock(&con->lock);
    json_builder_set_member_name(b, "rx-bytes");
    json_builder_add_int_value(b, (gint64)rx);
    json_builder_set_member_name(b, "tx-bytes");
    json_builder_add_int_value(b, (gint64)tx);
}

static struct hv_virtio_dev *con_virtio(void *impl)
{
    struct hv_virtio_console *con = impl;
    return &con->dev;
}

const struct hv_device_ops hv_virtio_console_device_ops = {
    .kind = "virtio-console",
    .reset = con_reset,
    .destroy = con_destroy,
    .describe = con_describe,
    .stats = con_stats,
    .virtio = con_virtio,
};

int hv_virtio_console_init(struct hv_virtio_console *con, struct hv_vm *vm,
                           const struct hv_memory *mem)
{
    pthread_mutex_init(&con->lock, NULL);
    con->chr = NULL;
    con->active = false;
    con->rx_waiting = false;
    con->rx_bytes = con->tx_bytes = 0;
    return hv_virtio_init(&con->dev, &console_ops, con, vm, mem);
}

char *hv_virtio_console_open(struct hv_virtio_console *con, const struct hv_chardev_spec *spec)
{
    struct hv_chardev_callbacks cb = {.input = hv_virtio_console_input, .opaque = con};
    GError *error = NULL;
    struct hv_chardev *chr = hv_chardev_open(spec, &cb, &error);
    if (!chr) {
        /* The backend's messages name --serial, the flag it was written for. */
        const char *msg = error->message;
        char *out = g_str_has_prefix(msg, "--serial")
                        ? g_strdup_printf("--console%s", msg + strlen("--serial"))
                        : g_strdup_printf("--console: %s", msg);
        g_error_free(error);
        return out;
    }
    pthread_mutex_lock(&con->lock);
    con->chr = chr;
    pthread_mutex_unlock(&con->lock);
    return NULL;
}
