/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-gpu 2D commands: resources, backing, scanout, transfers; no virtqueue in sight. */
#include "virtio/gpu-cmd.h"

#include <string.h>

#include "devices/edid.h"
#include "display/surface.h"

/* One guest memory stretch of a resource's backing, already checked to be RAM. */
struct backing {
    uint8_t *host;
    uint32_t len;
};

struct hv_gpu_resource {
    uint32_t id;
    uint32_t format;
    uint32_t width, height, stride;
    uint8_t *data; /* host copy, always B, G, R, X bytes (the surface's format) */
    struct backing *backing;
    unsigned nr_backing;
    uint64_t backing_len;
};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v & 0xff;
    p[1] = (v >> 8) & 0xff;
    p[2] = (v >> 16) & 0xff;
    p[3] = v >> 24;
}

static void free_resource(gpointer p)
{
    struct hv_gpu_resource *r = p;
    g_free(r->data);
    g_free(r->backing);
    g_free(r);
}

void hv_gpu_state_init(struct hv_gpu_state *g, const struct hv_memory *mem,
                       struct hv_surface *surface)
{
    memset(g, 0, sizeof(*g));
    g->mem = mem;
    g->surface = surface;
    g->resources = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free_resource);
    g->pref_width = 1280;
    g->pref_height = 800;
}

static void scanout_off(struct hv_gpu_state *g)
{
    if (g->scanout_resource && g->surface)
        hv_surface_set_mode(g->surface, 0, 0, 0, NULL);
    g->scanout_resource = 0;
}

void hv_gpu_state_reset(struct hv_gpu_state *g)
{
    scanout_off(g);
    g_hash_table_remove_all(g->resources);
    g->host_bytes = 0;
}

void hv_gpu_state_destroy(struct hv_gpu_state *g)
{
    hv_gpu_state_reset(g);
    g_hash_table_destroy(g->resources);
    g->resources = NULL;
}

static struct hv_gpu_resource *find(struct hv_gpu_state *g, uint32_t id)
{
    return id ? g_hash_table_lookup(g->resources, GUINT_TO_POINTER(id)) : NULL;
}

/* A rectangle of a request at `p`: x, y, width, height. */
struct rect {
    uint32_t x, y, w, h;
};

static struct rect get_rect(const uint8_t *p)
{
    return (struct rect){get32(p), get32(p + 4), get32(p + 8), get32(p + 12)};
}

static bool rect_inside(struct rect r, uint32_t width, uint32_t height)
{
    return (uint64_t)r.x + r.w <= width && (uint64_t)r.y + r.h <= height;
}

/* ---- commands; each returns a response type, and may fill the body after the header ---- */

static uint32_t display_info(struct hv_gpu_state *g, uint8_t *body)
{
    /* 16 scanouts of {rect, enabled, flags}; only the first exists. */
    memset(body, 0, 16 * 24);
    put32(body + 8, g->pref_width);
    put32(body + 12, g->pref_height);
    put32(body + 16, 1);
    return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t get_edid(struct hv_gpu_state *g, const uint8_t *req, uint8_t *body)
{
    if (!g->edid)
        return VIRTIO_GPU_RESP_ERR_UNSPEC;
    if (get32(req) != 0)
        return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
    memset(body, 0, 8 + 1024);
    put32(body, HV_EDID_SIZE);
    hv_edid_build(body + 8, g->pref_width, g->pref_height);
    return VIRTIO_GPU_RESP_OK_EDID;
}

static uint32_t create_2d(struct hv_gpu_state *g, const uint8_t *req)
{
    uint32_t id = get32(req), format = get32(req + 4);
    uint32_t width = get32(req + 8), height = get32(req + 12);
    if (id == 0 || find(g, id))
        return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (format != VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM && format != VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM &&
        format != VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM && format != VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM)
        return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    if (!width || !height || width > HV_GPU_MAX_DIM || height > HV_GPU_MAX_DIM)
        return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    uint64_t bytes = (uint64_t)width * height * 4;
    if (g_hash_table_size(g->resources) >= HV_GPU_MAX_RESOURCES ||
        g->host_bytes + bytes > HV_GPU_MAX_HOST_BYTES)
        return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    uint8_t *data = g_try_malloc0(bytes);
    if (!data)
        return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    struct hv_gpu_resource *r = g_new0(struct hv_gpu_resource, 1);
    *r = (struct hv_gpu_resource){.id = id, .format = format, .width = width, .height = height,
                                  .stride = width * 4, .data = data};
    g_hash_table_insert(g->resources, GUINT_TO_POINTER(id), r);
    g->host_bytes += bytes;
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t unref(struct hv_gpu_state *g, const uint8_t *req)
{
    struct hv_gpu_resource *r = find(g, get32(req));
    if (!r)
        return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    /* The surface must stop pointing into it before it goes. */
    if (g->scanout_resource == r->id)
        scanout_off(g);
    g->host_bytes -= (uint64_t)r->stride * r->height;
    g_hash_table_remove(g->resources, GUINT_TO_POINTER(r->id));
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t set_scanout(struct hv_gpu_state *g, const uint8_t *req)
{
    struct rect rc = get_rect(req);
    uint32_t scanout = get32(req + 16), id = get32(req + 20);
    if (scanout != 0)
        return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
    if (id == 0) {
        scanout_off(g);
        return VIRTIO_GPU_RESP_OK_NODATA;
    }
    struct hv_gpu_resource *r = find(g, id);
    if (!r)
        return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!rc.w || !rc.h || !rect_inside(rc, r->width, r->height) ||
        rc.w > HV_SURFACE_MAX_WIDTH || rc.h > HV_SURFACE_MAX_HEIGHT)
        return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    if (g->scanout_resource == id && g->sx == rc.x && g->sy == rc.y && g->sw == rc.w &&
        g->sh == rc.h)
        return VIRTIO_GPU_RESP_OK_NODATA;
    g->scanout_resource = id;
    g->sx = rc.x;
    g->sy = rc.y;
    g->sw = rc.w;
    g->sh = rc.h;
    if (g->surface)
        hv_surface_set_mode(g->surface, rc.w, rc.h, r->stride,
                            r->data + (size_t)rc.y * r->stride + (size_t)rc.x * 4);
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t flush(struct hv_gpu_state *g, const uint8_t *req)
{
    struct rect rc = get_rect(req);
    struct hv_gpu_resource *r = find(g, get32(req + 16));
    if (!r)
        return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!rect_inside(rc, r->width, r->height))
        return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    if (g->scanout_resource != r->id || !g->surface)
        return VIRTIO_GPU_RESP_OK_NODATA;
    /* The part of the flushed rectangle the scanout shows, in scanout coordinates. */
    uint64_t x0 = MAX(rc.x, g->sx), y0 = MAX(rc.y, g->sy);
    uint64_t x1 = MIN((uint64_t)rc.x + rc.w, (uint64_t)g->sx + g->sw);
    uint64_t y1 = MIN((uint64_t)rc.y + rc.h, (uint64_t)g->sy + g->sh);
    if (x1 > x0 && y1 > y0)
        hv_surface_damage(g->surface, (uint32_t)(x0 - g->sx), (uint32_t)(y0 - g->sy),
                          (uint32_t)(x1 - x0), (uint32_t)(y1 - y0));
    return VIRTIO_GPU_RESP_OK_NODATA;
}

/* Copies `len` bytes at byte `off` of the resource's backing; false if past its end. */
static bool backing_read(const struct hv_gpu_resource *r, uint64_t off, uint8_t *dst,
                         size_t len)
{
    if (off + len > r->backing_len || off + len < off)
        return false;
    for (unsigned i = 0; i < r->nr_backing && len; i++) {
        if (off >= r->backing[i].len) {
            off -= r->backing[i].len;
            continue;
        }
        size_t n = MIN(len, r->backing[i].len - off);
        memcpy(dst, r->backing[i].host + off, n);
        dst += n;
        len -= n;
        off = 0;
    }
    return len == 0;
}

static uint32_t transfer_to_host(struct hv_gpu_state *g, const uint8_t *req)
{
    struct rect rc = get_rect(req);
    uint64_t offset = get64(req + 16);
    struct hv_gpu_resource *r = find(g, get32(req + 24));
    if (!r)
        return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!r->nr_backing)
        return VIRTIO_GPU_RESP_ERR_UNSPEC;
    if (!rect_inside(rc, r->width, r->height))
        return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    if (!rc.w || !rc.h)
        return VIRTIO_GPU_RESP_OK_NODATA;
    /* Row y of the rectangle is at `offset + y * stride` of the backing. */
    uint64_t last = offset + (uint64_t)(rc.h - 1) * r->stride + (uint64_t)rc.w * 4;
    if (offset > r->backing_len || last > r->backing_len)
        return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    bool swap = r->format == VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM ||
                r->format == VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM;
    for (uint32_t y = 0; y < rc.h; y++) {
        uint8_t *dst = r->data + (size_t)(rc.y + y) * r->stride + (size_t)rc.x * 4;
        if (!backing_read(r, offset + (uint64_t)y * r->stride, dst, (size_t)rc.w * 4))
            return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
        /* X, R, G, B in memory: turn into the surface's B, G, R, X. */
        for (uint32_t x = 0; swap && x < rc.w; x++) {
            uint8_t *p = dst + 4 * x, t0 = p[0], t1 = p[1];
            p[0] = p[3];
            p[1] = p[2];
            p[2] = t1;
            p[3] = t0;
        }
    }
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t attach_backing(struct hv_gpu_state *g, const uint8_t *req, size_t len)
{
    struct hv_gpu_resource *r = find(g, get32(req));
    uint32_t n = get32(req + 4);
    if (!r)
        return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (r->nr_backing)
        return VIRTIO_GPU_RESP_ERR_UNSPEC; /* detach first */
    if (n == 0 || n > HV_GPU_MAX_ENTRIES || len < 8 + (size_t)n * 16)
        return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    struct backing *b = g_new(struct backing, n);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = req + 8 + 16 * (size_t)i;
        uint64_t gpa = get64(e);
        uint32_t elen = get32(e + 8);
        b[i].len = elen;
        b[i].host = elen ? hv_memory_ptr(g->mem, gpa, elen) : NULL;
        if (!b[i].host) {
            g_free(b);
            return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
        }
        total += elen;
    }
    r->backing = b;
    r->nr_backing = n;
    r->backing_len = total;
    return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t detach_backing(struct hv_gpu_state *g, const uint8_t *req)
{
    struct hv_gpu_resource *r = find(g, get32(req));
    if (!r)
        return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    if (!r->nr_backing)
        return VIRTIO_GPU_RESP_ERR_UNSPEC;
    g_free(r->backing);
    r->backing = NULL;
    r->nr_backing = 0;
    r->backing_len = 0;
    return VIRTIO_GPU_RESP_OK_NODATA;
}

/* Bytes each command's fixed part needs after the header. */
static size_t body_size(uint32_t type)
{
    switch (type) {
    case VIRTIO_GPU_CMD_GET_DISPLAY_INFO: return 0;
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: return 16;
    case VIRTIO_GPU_CMD_RESOURCE_UNREF: return 8;
    case VIRTIO_GPU_CMD_SET_SCANOUT: return 24;
    case VIRTIO_GPU_CMD_RESOURCE_FLUSH: return 24;
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: return 32;
    case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: return 8;
    case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: return 8;
    case VIRTIO_GPU_CMD_GET_EDID: return 8;
    default: return 0;
    }
}

size_t hv_gpu_cmd_process(struct hv_gpu_state *g, const uint8_t *req, size_t len,
                          uint8_t resp[HV_GPU_RESP_MAX])
{
    uint32_t type = VIRTIO_GPU_RESP_ERR_UNSPEC;
    size_t resp_len = HV_GPU_HDR_SIZE;
    memset(resp, 0, HV_GPU_HDR_SIZE);
    g->commands++;
    if (len < HV_GPU_HDR_SIZE)
        goto out; /* not even a header: an error with no fence to echo */
    /* Echo the fence so that the driver's fence waits complete, errors included. */
    uint32_t flags = get32(req + 4);
    if (flags & VIRTIO_GPU_FLAG_FENCE) {
        put32(resp + 4, VIRTIO_GPU_FLAG_FENCE);
        memcpy(resp + 8, req + 8, 8);
        memcpy(resp + 16, req + 16, 4);
    }
    uint32_t cmd = get32(req);
    const uint8_t *body = req + HV_GPU_HDR_SIZE;
    size_t blen = len - HV_GPU_HDR_SIZE;
    if (blen < body_size(cmd)) {
        type = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
        goto out;
    }
    uint8_t *rbody = resp + HV_GPU_HDR_SIZE;
    switch (cmd) {
    case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
        type = display_info(g, rbody);
        resp_len += 16 * 24;
        break;
    case VIRTIO_GPU_CMD_GET_EDID:
        type = get_edid(g, body, rbody);
        if (type == VIRTIO_GPU_RESP_OK_EDID)
            resp_len += 8 + 1024;
        break;
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: type = create_2d(g, body); break;
    case VIRTIO_GPU_CMD_RESOURCE_UNREF: type = unref(g, body); break;
    case VIRTIO_GPU_CMD_SET_SCANOUT: type = set_scanout(g, body); break;
    case VIRTIO_GPU_CMD_RESOURCE_FLUSH: type = flush(g, body); break;
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: type = transfer_to_host(g, body); break;
    case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: type = attach_backing(g, body, blen); break;
    case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: type = detach_backing(g, body); break;
    default: type = VIRTIO_GPU_RESP_ERR_UNSPEC; break; /* 3D, capsets, blobs: not offered */
    }
out:
    if (type >= VIRTIO_GPU_RESP_ERR_UNSPEC) {
        g->errors++;
        resp_len = HV_GPU_HDR_SIZE;
    }
    put32(resp, type);
    return resp_len;
}

void hv_gpu_cursor_process(struct hv_gpu_state *g, const uint8_t *req, size_t len)
{
    /* update_cursor and move_cursor: header, then {scanout, x, y, padding}. */
    if (len < HV_GPU_HDR_SIZE + 16)
        return;
    uint32_t cmd = get32(req);
    if ((cmd == VIRTIO_GPU_CMD_UPDATE_CURSOR || cmd == VIRTIO_GPU_CMD_MOVE_CURSOR) &&
        get32(req + HV_GPU_HDR_SIZE) == 0) {
        g->cursor_x = get32(req + HV_GPU_HDR_SIZE + 4);
        g->cursor_y = get32(req + HV_GPU_HDR_SIZE + 8);
    }
}
