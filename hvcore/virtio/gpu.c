/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-gpu (2D): a scanout the guest fills through resources, shown on a surface. */
#include "virtio/gpu.h"

#include <errno.h>
#include <string.h>

#include "display/surface.h"

#define GPU_QUEUE_CONTROL 0
#define GPU_QUEUE_CURSOR 1
#define GPU_CONFIG_SIZE 16 /* events_read, events_clear, num_scanouts, num_capsets */
#define CURSOR_CMD_SIZE 56

static uint64_t gpu_features(struct hv_virtio_dev *dev)
{
    (void)dev;
    return 1ull << VIRTIO_GPU_F_EDID;
}

static void gpu_config_read(struct hv_virtio_dev *dev, unsigned offset, void *data, unsigned len)
{
    struct hv_virtio_gpu *gpu = dev->opaque;
    uint32_t cfg[4];
    pthread_mutex_lock(&gpu->lock);
    cfg[0] = GUINT32_TO_LE(gpu->events_read);
    pthread_mutex_unlock(&gpu->lock);
    cfg[1] = 0;
    cfg[2] = GUINT32_TO_LE(1);
    cfg[3] = 0;
    memcpy(data, (uint8_t *)cfg + offset, len);
}

static void gpu_config_write(struct hv_virtio_dev *dev, unsigned offset, const void *data,
                             unsigned len)
{
    struct hv_virtio_gpu *gpu = dev->opaque;
    if (offset != 4 || len != 4)
        return; /* only events_clear is writable */
    uint32_t v;
    memcpy(&v, data, 4);
    pthread_mutex_lock(&gpu->lock);
    gpu->events_read &= ~GUINT32_FROM_LE(v);
    pthread_mutex_unlock(&gpu->lock);
}

static void gpu_activate(struct hv_virtio_dev *dev)
{
    struct hv_virtio_gpu *gpu = dev->opaque;
    pthread_mutex_lock(&gpu->lock);
    gpu->st.edid = hv_virtio_has_feature(dev, VIRTIO_GPU_F_EDID);
    pthread_mutex_unlock(&gpu->lock);
}

static void control_queue(struct hv_virtio_gpu *gpu, struct hv_virtq *vq)
{
    for (;;) {
        const char *why;
        int r = hv_virtq_pop(vq, &gpu->req, &why);
        if (r < 0) {
            hv_virtio_fail(&gpu->dev, why);
            return;
        }
        if (r == 0)
            break;
        uint8_t resp[HV_GPU_RESP_MAX];
        /* A request larger than any command is answered from its header alone. */
        size_t len = gpu->req.out_len > HV_GPU_REQ_MAX ? HV_GPU_HDR_SIZE : gpu->req.out_len;
        len = hv_virtq_copy_from_out(&gpu->req, 0, gpu->buf, len);
        pthread_mutex_lock(&gpu->lock);
        size_t n = gpu->req.out_len > HV_GPU_REQ_MAX ? 0 : len;
        size_t resp_len = hv_gpu_cmd_process(&gpu->st, gpu->buf, n, resp);
        pthread_mutex_unlock(&gpu->lock);
        size_t done = hv_virtq_copy_to_in(&gpu->req, 0, resp, resp_len);
        hv_virtq_push(vq, gpu->req.head, (uint32_t)done);
    }
}

static void cursor_queue(struct hv_virtio_gpu *gpu, struct hv_virtq *vq)
{
    for (;;) {
        const char *why;
        int r = hv_virtq_pop(vq, &gpu->req, &why);
        if (r < 0) {
            hv_virtio_fail(&gpu->dev, why);
            return;
        }
        if (r == 0)
            break;
        uint8_t cmd[CURSOR_CMD_SIZE];
        size_t len = hv_virtq_copy_from_out(&gpu->req, 0, cmd, sizeof(cmd));
        pthread_mutex_lock(&gpu->lock);
        hv_gpu_cursor_process(&gpu->st, cmd, len);
        pthread_mutex_unlock(&gpu->lock);
        hv_virtq_push(vq, gpu->req.head, 0);
    }
}

static void gpu_notify(struct hv_virtio_dev *dev, unsigned q)
{
    struct hv_virtio_gpu *gpu = dev->opaque;
    struct hv_virtq *vq = &dev->queues[q].vq;
    if (q == GPU_QUEUE_CONTROL)
        control_queue(gpu, vq);
    else
        cursor_queue(gpu, vq);
    hv_virtio_notify(dev, q);
}

static void gpu_reset(struct hv_virtio_dev *dev)
{
    struct hv_virtio_gpu *gpu = dev->opaque;
    pthread_mutex_lock(&gpu->lock);
    hv_gpu_state_reset(&gpu->st);
    gpu->events_read = 0;
    gpu->st.edid = false;
    pthread_mutex_unlock(&gpu->lock);
}

static const struct hv_virtio_ops gpu_ops = {
    .name = "virtio-gpu",
    .device_id = VIRTIO_ID_GPU,
    .nr_queues = 2,
    .queue_size = 256,
    .config_size = GPU_CONFIG_SIZE,
    .features = gpu_features,
    .config_read = gpu_config_read,
    .config_write = gpu_config_write,
    .activate = gpu_activate,
    .queue_notify = gpu_notify,
    .reset = gpu_reset,
};

void hv_virtio_gpu_set_preferred_size(struct hv_virtio_gpu *gpu, uint32_t width,
                                      uint32_t height)
{
    width = CLAMP(width, 640u, (uint32_t)HV_SURFACE_MAX_WIDTH);
    height = CLAMP(height, 480u, (uint32_t)HV_SURFACE_MAX_HEIGHT);
    pthread_mutex_lock(&gpu->lock);
    bool changed = gpu->st.pref_width != width || gpu->st.pref_height != height;
    gpu->st.pref_width = width;
    gpu->st.pref_height = height;
    if (changed)
        gpu->events_read |= VIRTIO_GPU_EVENT_DISPLAY;
    pthread_mutex_unlock(&gpu->lock);
    /* The driver answers the config interrupt with GET_DISPLAY_INFO and a mode set. */
    if (changed)
        hv_virtio_config_changed(&gpu->dev);
}

static void on_resize(void *opaque, uint32_t width, uint32_t height)
{
    hv_virtio_gpu_set_preferred_size(opaque, width, height);
}

static void gpu_machine_reset(void *impl)
{
    struct hv_virtio_gpu *gpu = impl;
    hv_virtio_reset(&gpu->dev);
}

static void gpu_destroy(void *impl)
{
    struct hv_virtio_gpu *gpu = impl;
    hv_surface_set_resize_handler(gpu->surface, NULL, NULL);
    hv_virtio_destroy(&gpu->dev);
    hv_gpu_state_destroy(&gpu->st);
    pthread_mutex_destroy(&gpu->lock);
    g_free(gpu->buf);
    g_free(gpu);
}

static void gpu_describe(void *impl, JsonBuilder *b)
{
    struct hv_virtio_gpu *gpu = impl;
    json_builder_set_member_name(b, "pci-slot");
    json_builder_add_int_value(b, gpu->dev.pci.slot);
}

static void gpu_stats(void *impl, JsonBuilder *b)
{
    struct hv_virtio_gpu *gpu = impl;
    pthread_mutex_lock(&gpu->lock);
    uint64_t cmds = gpu->st.commands, errs = gpu->st.errors, bytes = gpu->st.host_bytes;
    unsigned res = g_hash_table_size(gpu->st.resources);
    pthread_mutex_unlock(&gpu->lock);
    json_builder_set_member_name(b, "commands");
    json_builder_add_int_value(b, (gint64)cmds);
    json_builder_set_member_name(b, "errors");
    json_builder_add_int_value(b, (gint64)errs);
    json_builder_set_member_name(b, "resources");
    json_builder_add_int_value(b, res);
    json_builder_set_member_name(b, "resource-bytes");
    json_builder_add_int_value(b, (gint64)bytes);
}

static struct hv_virtio_dev *gpu_virtio(void *impl)
{
    struct hv_virtio_gpu *gpu = impl;
    return &gpu->dev;
}

const struct hv_device_ops hv_virtio_gpu_device_ops = {
    .kind = "virtio-gpu",
    .reset = gpu_machine_reset,
    .destroy = gpu_destroy,
    .describe = gpu_describe,
    .stats = gpu_stats,
    .virtio = gpu_virtio,
};

int hv_virtio_gpu_init(struct hv_virtio_gpu *gpu, struct hv_vm *vm, const struct hv_memory *mem,
                       struct hv_surface *surface)
{
    pthread_mutex_init(&gpu->lock, NULL);
    hv_gpu_state_init(&gpu->st, mem, surface);
    gpu->surface = surface;
    gpu->buf = g_malloc(HV_GPU_REQ_MAX);
    hv_surface_set_resize_handler(surface, on_resize, gpu);
    return hv_virtio_init(&gpu->dev, &gpu_ops, gpu, vm, mem);
}
