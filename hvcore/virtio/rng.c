/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-rng: the guest's entropy source, filled from the host's getrandom(). */
#include "virtio/rng.h"

#include <errno.h>
#include <glib.h>
#include <sys/random.h>

/* Per request; a guest asking for more gets it over several requests. */
#define RNG_MAX_CHUNK 4096

static void rng_notify(struct hv_virtio_dev *dev, unsigned q)
{
    struct hv_virtq *vq = &dev->queues[q].vq;
    struct hv_virtio_rng *rng = dev->opaque;
    for (;;) {
        const char *why;
        int r = hv_virtq_pop(vq, &rng->req, &why);
        if (r < 0) {
            hv_virtio_fail(dev, why);
            return;
        }
        if (r == 0)
            break;
        uint8_t buf[RNG_MAX_CHUNK];
        size_t want = rng->req.in_len < sizeof(buf) ? rng->req.in_len : sizeof(buf);
        ssize_t got = want ? getrandom(buf, want, 0) : 0;
        size_t done = got > 0 ? hv_virtq_copy_to_in(&rng->req, 0, buf, (size_t)got) : 0;
        rng->bytes += done;
        hv_virtq_push(vq, rng->req.head, (uint32_t)done);
    }
    hv_virtio_notify(dev, q);
}

static const struct hv_virtio_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .nr_queues = 1,
    .queue_size = 64,
    .config_size = 0,
    .queue_notify = rng_notify,
};

static void rng_reset(void *impl)
{
    struct hv_virtio_rng *rng = impl;
    hv_virtio_reset(&rng->dev);
}

static void rng_destroy(void *impl)
{
    struct hv_virtio_rng *rng = impl;
    hv_virtio_destroy(&rng->dev);
    g_free(rng);
}

static void rng_describe(void *impl, JsonBuilder *b)
{
    struct hv_virtio_rng *rng = impl;
    json_builder_set_member_name(b, "pci-slot");
    json_builder_add_int_value(b, rng->dev.pci.slot);
}

static void rng_stats(void *impl, JsonBuilder *b)
{
    struct hv_virtio_rng *rng = impl;
    json_builder_set_member_name(b, "bytes");
    json_builder_add_int_value(b, (gint64)rng->bytes);
}

static struct hv_virtio_dev *rng_virtio(void *impl)
{
    struct hv_virtio_rng *rng = impl;
    return &rng->dev;
}

const struct hv_device_ops hv_virtio_rng_device_ops = {
    .kind = "virtio-rng",
    .reset = rng_reset,
    .destroy = rng_destroy,
    .describe = rng_describe,
    .stats = rng_stats,
    .virtio = rng_virtio,
};

int hv_virtio_rng_init(struct hv_virtio_rng *rng, struct hv_vm *vm, const struct hv_memory *mem)
{
    rng->bytes = 0;
    return hv_virtio_init(&rng->dev, &rng_ops, rng, vm, mem);
}
