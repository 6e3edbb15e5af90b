/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SPICE's display channel without a QXL device: the shared surface turned into draw commands. */
#include "display/spice-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * libspice-server only speaks QXL: a primary surface and a stream of draw commands it
 * pulls from us on its worker thread (get_command), whose memory it hands back with
 * release_resource. Like other VMMs without a QXL device we give it one host memory slot
 * covering the whole address space, so QXL "physical" addresses are plain pointers, and
 * turn each damaged rectangle into a QXL_DRAW_COPY of a bitmap copied from the surface.
 *
 * The copy is made lazily, on the worker thread when it asks for work: damage only grows
 * a short list of rectangles. So a client that reads slowly makes the worker ask less
 * often, and we never queue more than one frame's worth of bitmaps; each copy has the
 * newest pixels.
 */

#define MAX_DIRTY 16
#define SLOT_GROUP 0

struct update {
    QXLCommandExt ext;
    QXLDrawable drawable;
    QXLImage image;
    uint8_t *bitmap;
    struct update *next;
};

struct hv_spice_display {
    QXLInstance qxl; /* first: the callbacks get its address */
    struct hv_surface *surface;
    unsigned listener;
    bool attached;

    /* Main-loop thread: the primary surface spice draws into (not the guest's pixels). */
    uint8_t *primary;
    bool has_primary;

    /* Shared with the worker thread. */
    GMutex lock;
    uint32_t width, height; /* the primary's mode; 0 while there is none */
    struct hv_rect dirty[MAX_DIRTY];
    unsigned nr_dirty;
    struct update *queue, **queue_tail;
    uint32_t unique;
    _Atomic uint64_t updates;
};

static struct hv_spice_display *from_qxl(QXLInstance *qin)
{
    return (struct hv_spice_display *)qin;
}

static void update_free(struct update *u)
{
    free(u->bitmap);
    g_free(u);
}

static uint32_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* A draw command copying rectangle `r` of `pixels` (stride bytes a row); NULL if no memory. */
static struct update *update_new(struct hv_spice_display *d, struct hv_rect r,
                                 const uint8_t *pixels, uint32_t stride)
{
    struct update *u = g_try_new0(struct update, 1);
    if (!u)
        return NULL;
    size_t row = (size_t)r.w * 4;
    u->bitmap = malloc(row * r.h);
    if (!u->bitmap) {
        g_free(u);
        return NULL;
    }
    for (uint32_t y = 0; y < r.h; y++)
        memcpy(u->bitmap + y * row, pixels + (size_t)(r.y + y) * stride + (size_t)r.x * 4, row);

    QXLDrawable *dr = &u->drawable;
    dr->release_info.id = (uint64_t)(uintptr_t)u;
    dr->surface_id = 0;
    dr->effect = QXL_EFFECT_OPAQUE;
    dr->type = QXL_DRAW_COPY;
    dr->bbox = (QXLRect){.left = (int32_t)r.x, .top = (int32_t)r.y,
                         .right = (int32_t)(r.x + r.w), .bottom = (int32_t)(r.y + r.h)};
    dr->clip.type = SPICE_CLIP_TYPE_NONE;
    dr->mm_time = now_ms();
    dr->surfaces_dest[0] = dr->surfaces_dest[1] = dr->surfaces_dest[2] = -1;
    dr->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    dr->u.copy.src_bitmap = (QXLPHYSICAL)(uintptr_t)&u->image;
    dr->u.copy.src_area = (QXLRect){.right = (int32_t)r.w, .bottom = (int32_t)r.h};

    QXLImage *img = &u->image;
    QXL_SET_IMAGE_ID(img, QXL_IMAGE_GROUP_DEVICE, ++d->unique);
    img->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img->descriptor.width = r.w;
    img->descriptor.height = r.h;
    img->bitmap.format = SPICE_BITMAP_FMT_32BIT; /* B, G, R, X in memory: the surface's */
    img->bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
    img->bitmap.x = r.w;
    img->bitmap.y = r.h;
    img->bitmap.stride = (uint32_t)row;
    img->bitmap.data = (QXLPHYSICAL)(uintptr_t)u->bitmap;

    u->ext.cmd.type = QXL_CMD_DRAW;
    u->ext.cmd.data = (QXLPHYSICAL)(uintptr_t)dr;
    u->ext.group_id = SLOT_GROUP;
    return u;
}

/* Worker thread, d->lock held: turns the dirty list into queued draw commands. */
static void make_updates(struct hv_spice_display *d)
{
    uint32_t w, h, stride;
    const uint8_t *data;
    hv_surface_lock(d->surface, &w, &h, &stride, &data);
    /* A different mode means its listener call is on the way: it recreates the primary. */
    if (data && w == d->width && h == d->height) {
        for (unsigned i = 0; i < d->nr_dirty; i++) {
            struct hv_rect r = d->dirty[i];
            if (r.x >= w || r.y >= h || !r.w || !r.h)
                continue;
            r.w = MIN(r.w, w - r.x);
            r.h = MIN(r.h, h - r.y);
            struct update *u = update_new(d, r, data, stride);
            if (!u) /* out of memory: keep the rest for the next pull */
                break;
            *d->queue_tail = u;
            d->queue_tail = &u->next;
        }
    }
    hv_surface_unlock(d->surface);
    d->nr_dirty = 0;
}

static int get_command(QXLInstance *qin, QXLCommandExt *ext)
{
    struct hv_spice_display *d = from_qxl(qin);
    int got = 0;
    g_mutex_lock(&d->lock);
    if (!d->queue && d->nr_dirty && d->width)
        make_updates(d);
    struct update *u = d->queue;
    if (u) {
        d->queue = u->next;
        if (!d->queue)
            d->queue_tail = &d->queue;
        u->next = NULL;
        *ext = u->ext;
        got = 1;
        atomic_fetch_add(&d->updates, 1);
    }
    g_mutex_unlock(&d->lock);
    return got;
}

static int req_cmd_notification(QXLInstance *qin)
{
    struct hv_spice_display *d = from_qxl(qin);
    g_mutex_lock(&d->lock);
    bool ready = d->queue || (d->nr_dirty && d->width);
    g_mutex_unlock(&d->lock);
    /* 0: there is work now, ask again; 1: we will call spice_qxl_wakeup when there is. */
    return ready ? 0 : 1;
}

static void release_resource(QXLInstance *qin, QXLReleaseInfoExt info)
{
    (void)qin;
    update_free((struct update *)(uintptr_t)info.info->id);
}

static int get_cursor_command(QXLInstance *qin, QXLCommandExt *ext)
{
    (void)qin;
    (void)ext;
    return 0; /* the client draws its own pointer */
}

static int req_cursor_notification(QXLInstance *qin)
{
    (void)qin;
    return 1;
}

static void get_init_info(QXLInstance *qin, QXLDevInitInfo *info)
{
    (void)qin;
    memset(info, 0, sizeof(*info));
    info->num_memslots_groups = 1;
    info->num_memslots = 1;
    info->memslot_gen_bits = 8;
    info->memslot_id_bits = 8;
    info->internal_groupslot_id = SLOT_GROUP;
    info->qxl_ram_size = 16 << 20;
    info->n_surfaces = 1;
}

static void attached_worker(QXLInstance *qin)
{
    (void)qin;
}

static void set_compression_level(QXLInstance *qin, int level)
{
    (void)qin;
    (void)level;
}

static void notify_update(QXLInstance *qin, uint32_t id)
{
    (void)qin;
    (void)id;
}

static int flush_resources(QXLInstance *qin)
{
    (void)qin;
    return 0;
}

static void async_complete(QXLInstance *qin, uint64_t cookie)
{
    (void)qin;
    (void)cookie; /* we only make synchronous calls */
}

static void update_area_complete(QXLInstance *qin, uint32_t surface_id, QXLRect *rects,
                                 uint32_t n)
{
    (void)qin;
    (void)surface_id;
    (void)rects;
    (void)n;
}

static void set_client_capabilities(QXLInstance *qin, uint8_t present,
                                    uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
    (void)qin;
    (void)present;
    (void)caps;
}

/*
 * Dynamic resolution. A client sends its window's size as the guest agent's monitors
 * config; libspice-server first asks (mc NULL) whether we take those messages instead of
 * the agent. Yes when a device follows requested sizes (virtio-gpu): the server then hands
 * each one to us and never to the agent. No when none does (bochs-display): they go on to
 * the agent, which can set a mode from inside the guest. (Clients send them only while an
 * agent is attached.) Called on the main loop, the server's core, where the surface's
 * requests belong.
 */
static int client_monitors_config(QXLInstance *qin, VDAgentMonitorsConfig *mc)
{
    struct hv_spice_display *d = from_qxl(qin);
    if (!hv_surface_can_resize(d->surface))
        return 0;
    if (!mc)
        return 1;
    /* One scanout: it follows the first monitor. A sparse config sends a disabled one as
       0x0; a size no device could show is dropped, as VNC refuses it. */
    if (mc->num_of_monitors == 0)
        return 1;
    uint32_t w = mc->monitors[0].width, h = mc->monitors[0].height;
    if (!w || !h || w > HV_SURFACE_MAX_WIDTH || h > HV_SURFACE_MAX_HEIGHT) {
        g_debug("spice: monitors config %ux%u ignored: not 1x1 to %ux%u", w, h,
                HV_SURFACE_MAX_WIDTH, HV_SURFACE_MAX_HEIGHT);
        return 1;
    }
    hv_surface_request_size(d->surface, w, h);
    return 1;
}

static const QXLInterface display_interface = {
    .base = {
        .type = SPICE_INTERFACE_QXL,
        .description = "vmdesk shared surface",
        .major_version = SPICE_INTERFACE_QXL_MAJOR,
        .minor_version = SPICE_INTERFACE_QXL_MINOR,
    },
    .attached_worker = attached_worker,
    .set_compression_level = set_compression_level,
    .get_init_info = get_init_info,
    .get_command = get_command,
    .req_cmd_notification = req_cmd_notification,
    .release_resource = release_resource,
    .get_cursor_command = get_cursor_command,
    .req_cursor_notification = req_cursor_notification,
    .notify_update = notify_update,
    .flush_resources = flush_resources,
    .async_complete = async_complete,
    .update_area_complete = update_area_complete,
    .set_client_capabilities = set_client_capabilities,
    .client_monitors_config = client_monitors_config,
};

/* Main-loop thread, d->lock held: drops commands the worker has not taken yet. */
static void drop_queue(struct hv_spice_display *d)
{
    while (d->queue) {
        struct update *u = d->queue;
        d->queue = u->next;
        update_free(u);
    }
    d->queue_tail = &d->queue;
    d->nr_dirty = 0;
}

static void on_mode(void *opaque, uint32_t width, uint32_t height)
{
    struct hv_spice_display *d = opaque;

    g_mutex_lock(&d->lock);
    d->width = d->height = 0; /* the worker makes nothing for the old mode from now on */
    drop_queue(d);
    g_mutex_unlock(&d->lock);

    /* Synchronous calls into the worker: never with d->lock held, it takes it too. */
    if (d->has_primary) {
        spice_qxl_destroy_primary_surface(&d->qxl, 0);
        d->has_primary = false;
    }
    g_clear_pointer(&d->primary, g_free);
    if (!width || !height)
        return;
    d->primary = g_try_malloc0((size_t)width * height * 4);
    if (!d->primary) {
        g_warning("spice: no memory for a %ux%u primary surface", width, height);
        return;
    }
    QXLDevSurfaceCreate sc = {
        .width = width,
        .height = height,
        .stride = (int32_t)(width * 4),
        .format = SPICE_SURFACE_FMT_32_xRGB,
        .mouse_mode = 1, /* client (absolute) mouse: we have a tablet */
        .mem = (uint64_t)(uintptr_t)d->primary,
        .group_id = SLOT_GROUP,
    };
    spice_qxl_create_primary_surface(&d->qxl, 0, &sc);
    d->has_primary = true;

    g_mutex_lock(&d->lock);
    d->width = width;
    d->height = height;
    d->dirty[0] = (struct hv_rect){0, 0, width, height};
    d->nr_dirty = 1;
    g_mutex_unlock(&d->lock);
    spice_qxl_wakeup(&d->qxl);
}

static void on_damage(void *opaque, const struct hv_rect *rects, unsigned n)
{
    struct hv_spice_display *d = opaque;
    g_mutex_lock(&d->lock);
    bool any = d->width != 0;
    for (unsigned i = 0; any && i < n; i++)
        d->nr_dirty = hv_rect_merge(d->dirty, d->nr_dirty, MAX_DIRTY, rects[i]);
    g_mutex_unlock(&d->lock);
    if (any)
        spice_qxl_wakeup(&d->qxl);
}

static const struct hv_surface_listener listener = {
    .mode = on_mode,
    .damage = on_damage,
};

struct hv_spice_display *hv_spice_display_new(struct hv_surface *surface)
{
    struct hv_spice_display *d = g_new0(struct hv_spice_display, 1);
    d->qxl.base.sif = &display_interface.base;
    d->qxl.id = 0;
    d->surface = surface;
    d->queue_tail = &d->queue;
    g_mutex_init(&d->lock);
    return d;
}

SpiceBaseInstance *hv_spice_display_instance(struct hv_spice_display *d)
{
    return &d->qxl.base;
}

void hv_spice_display_attach(struct hv_spice_display *d)
{
    QXLDevMemSlot slot = {
        .slot_group_id = SLOT_GROUP,
        .slot_id = 0,
        .virt_start = 0,
        .virt_end = UINTPTR_MAX,
    };
    spice_qxl_add_memslot(&d->qxl, &slot);
    d->attached = true;
    /* Calls on_mode at once if the device has set a mode already. */
    d->listener = hv_surface_add_listener(d->surface, &listener, d);
}

void hv_spice_display_detach(struct hv_spice_display *d)
{
    if (!d->attached)
        return;
    hv_surface_remove_listener(d->surface, d->listener);
    if (d->has_primary)
        spice_qxl_destroy_primary_surface(&d->qxl, 0);
    d->has_primary = false;
    d->attached = false;
}

void hv_spice_display_free(struct hv_spice_display *d)
{
    if (!d)
        return;
    g_mutex_lock(&d->lock);
    drop_queue(d);
    g_mutex_unlock(&d->lock);
    g_mutex_clear(&d->lock);
    g_free(d->primary);
    g_free(d);
}

uint64_t hv_spice_display_updates(struct hv_spice_display *d)
{
    return atomic_load(&d->updates);
}
