/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The machine's screen: the surface, the display device, query-display and screendump. */
#include "vmm/machine-private.h"

#include <errno.h>
#include <glib.h>

#include "devices/bochs-display.h"
#include "display/screendump.h"
#include "display/surface.h"
#include "virtio/gpu.h"

int hv_machine_add_display(struct hv_machine *m, char **err)
{
    int r;
    if (!m->surface)
        return 0;
    if (m->cfg->gpu == HV_GPU_VIRTIO) {
        struct hv_virtio_gpu *gpu = g_new0(struct hv_virtio_gpu, 1);
        if ((r = hv_virtio_gpu_init(gpu, &m->vm, &m->mem, m->surface)) < 0 ||
            (r = hv_virtio_add(&gpu->dev, &m->pci)) < 0) {
            hv_virtio_gpu_device_ops.destroy(gpu);
            *err = g_strdup_printf("cannot add virtio-gpu: %s", g_strerror(-r));
            return r;
        }
        hv_machine_add_device(m, &hv_virtio_gpu_device_ops, gpu, "display0");
        m->gpu = gpu;
        m->display_device = "virtio-gpu";
        return 0;
    }
    struct hv_bochs_display *bochs;
    if ((r = hv_bochs_display_new(&m->vm, m->surface, &bochs, err)) < 0)
        return r;
    if ((r = hv_pci_add(&m->pci, hv_bochs_display_pci(bochs))) < 0) {
        hv_bochs_display_device_ops.destroy(bochs);
        *err = g_strdup_printf("cannot add bochs-display: %s", g_strerror(-r));
        return r;
    }
    hv_machine_add_device(m, &hv_bochs_display_device_ops, bochs, "display0");
    m->display_device = "bochs-display";
    return 0;
}

void hv_machine_add_display_consumer(struct hv_machine *m, const struct hv_display_consumer *c)
{
    g_array_append_val(m->display_consumers, *c);
}

int hv_machine_screendump(void *opaque, const char *filename, char **err)
{
    struct hv_machine *m = opaque;
    if (!m->surface) {
        *err = g_strdup("this VM has no display (start it with --gpu, --vnc, --spice or "
                        "--display)");
        return -ENODEV;
    }
    return hv_screendump_png(m->surface, filename, err);
}

/* {"width": W, "height": H}, or null when `have` is false. */
static void add_size(JsonBuilder *b, const char *member, bool have, uint32_t w, uint32_t h)
{
    json_builder_set_member_name(b, member);
    if (!have) {
        json_builder_add_null_value(b);
        return;
    }
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "width");
    json_builder_add_int_value(b, w);
    json_builder_set_member_name(b, "height");
    json_builder_add_int_value(b, h);
    json_builder_end_object(b);
}

void hv_machine_query_display(void *opaque, JsonBuilder *b)
{
    struct hv_machine *m = opaque;
    json_builder_set_member_name(b, "device");
    if (m->display_device)
        json_builder_add_string_value(b, m->display_device);
    else
        json_builder_add_null_value(b);

    uint32_t w = 0, h = 0, stride;
    const uint8_t *data = NULL;
    if (m->surface) {
        hv_surface_lock(m->surface, &w, &h, &stride, &data);
        hv_surface_unlock(m->surface);
    }
    add_size(b, "mode", data && w && h, w, h);
    /* What a client's window last asked for (VNC SetDesktopSize, SPICE monitors config,
       the SDL window). */
    bool asked = m->surface && hv_surface_requested_size(m->surface, &w, &h);
    add_size(b, "requested-size", asked, w, h);

    for (unsigned i = 0; i < m->display_consumers->len; i++) {
        const struct hv_display_consumer *c =
            &g_array_index(m->display_consumers, struct hv_display_consumer, i);
        json_builder_set_member_name(b, c->name);
        json_builder_begin_object(b);
        if (c->describe)
            c->describe(c->opaque, b);
        json_builder_end_object(b);
    }
}
