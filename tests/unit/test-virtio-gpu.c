/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-gpu's 2D command parser against fake guest memory: the happy path and each error. */
#include <glib.h>
#include <string.h>

#include "devices/edid.h"
#include "display/surface.h"
#include "virtio/gpu-cmd.h"

#define RAM HV_MiB(16)
#define FB_GPA 0x100000

struct fix {
    struct hv_memory mem;
    struct hv_surface *surf;
    struct hv_gpu_state g;
    uint8_t resp[HV_GPU_RESP_MAX];
    size_t resp_len;
};

static void fix_up(struct fix *f)
{
    struct hv_mem_layout l;
    g_assert_cmpint(hv_mem_layout_init(&l, RAM, 0), ==, 0);
    g_assert_cmpint(hv_memory_alloc(&f->mem, &l, 0), ==, 0);
    f->surf = hv_surface_new();
    hv_gpu_state_init(&f->g, &f->mem, f->surf);
}

static void fix_down(struct fix *f)
{
    hv_gpu_state_destroy(&f->g);
    hv_surface_free(f->surf);
    hv_memory_free(&f->mem);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4); /* the tests run on little-endian hosts, like the guests */
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Sends a command: header type, then `n` 32-bit words; returns the response type. */
static uint32_t cmdv(struct fix *f, uint32_t type, const uint32_t *words, unsigned n)
{
    uint8_t req[HV_GPU_HDR_SIZE + 4 * 64] = {0};
    put32(req, type);
    for (unsigned i = 0; i < n; i++)
        put32(req + HV_GPU_HDR_SIZE + 4 * i, words[i]);
    f->resp_len = hv_gpu_cmd_process(&f->g, req, HV_GPU_HDR_SIZE + 4 * n, f->resp);
    return get32(f->resp);
}

#define CMD(f, type, ...)                                                                     \
    cmdv(f, type, (const uint32_t[]){__VA_ARGS__},                                            \
         sizeof((const uint32_t[]){__VA_ARGS__}) / 4)

static uint32_t create(struct fix *f, uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
    return CMD(f, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, id, format, w, h);
}

/* One backing entry: {addr lo, addr hi, length, padding}. */
static uint32_t attach(struct fix *f, uint32_t id, uint64_t gpa, uint32_t len)
{
    return CMD(f, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, id, 1, (uint32_t)gpa,
               (uint32_t)(gpa >> 32), len, 0);
}

static uint32_t transfer(struct fix *f, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
                         uint32_t h, uint64_t offset)
{
    return CMD(f, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, x, y, w, h, (uint32_t)offset,
               (uint32_t)(offset >> 32), id, 0);
}

static uint32_t scanout(struct fix *f, uint32_t sid, uint32_t id, uint32_t x, uint32_t y,
                        uint32_t w, uint32_t h)
{
    return CMD(f, VIRTIO_GPU_CMD_SET_SCANOUT, x, y, w, h, sid, id);
}

static const uint8_t *surface_pixels(struct fix *f, uint32_t *w, uint32_t *h, uint32_t *stride)
{
    const uint8_t *data;
    hv_surface_lock(f->surf, w, h, stride, &data);
    hv_surface_unlock(f->surf);
    return data;
}

static void test_display_info(void)
{
    struct fix f;
    fix_up(&f);
    g_assert_cmphex(cmdv(&f, VIRTIO_GPU_CMD_GET_DISPLAY_INFO, NULL, 0), ==,
                    VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
    g_assert_cmpuint(f.resp_len, ==, HV_GPU_HDR_SIZE + 16 * 24);
    const uint8_t *p = f.resp + HV_GPU_HDR_SIZE;
    g_assert_cmpuint(get32(p + 8), ==, 1280);
    g_assert_cmpuint(get32(p + 12), ==, 800);
    g_assert_cmpuint(get32(p + 16), ==, 1); /* enabled */
    g_assert_cmpuint(get32(p + 24 + 16), ==, 0); /* scanout 1 does not exist */
    f.g.pref_width = 1920;
    f.g.pref_height = 1080;
    cmdv(&f, VIRTIO_GPU_CMD_GET_DISPLAY_INFO, NULL, 0);
    g_assert_cmpuint(get32(p + 8), ==, 1920);
    fix_down(&f);
}

static void test_edid(void)
{
    struct fix f;
    fix_up(&f);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_GET_EDID, 0, 0), ==, VIRTIO_GPU_RESP_ERR_UNSPEC);
    f.g.edid = true;
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_GET_EDID, 1, 0), ==,
                    VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_GET_EDID, 0, 0), ==, VIRTIO_GPU_RESP_OK_EDID);
    g_assert_cmpuint(f.resp_len, ==, HV_GPU_HDR_SIZE + 8 + 1024);
    g_assert_cmpuint(get32(f.resp + HV_GPU_HDR_SIZE), ==, HV_EDID_SIZE);
    uint8_t sum = 0;
    for (unsigned i = 0; i < HV_EDID_SIZE; i++)
        sum = (uint8_t)(sum + f.resp[HV_GPU_HDR_SIZE + 8 + i]);
    g_assert_cmpuint(sum, ==, 0);
    fix_down(&f);
}

static void test_draw(void)
{
    struct fix f;
    uint32_t w, h, stride;
    fix_up(&f);
    /* The guest's framebuffer: 64x32 pixels, pixel (x, y) = x | y << 8 | 0x5a << 16. */
    uint32_t *fb = hv_memory_ptr(&f.mem, FB_GPA, 64 * 32 * 4);
    for (uint32_t y = 0; y < 32; y++)
        for (uint32_t x = 0; x < 64; x++)
            fb[y * 64 + x] = x | y << 8 | 0x5a << 16;
    g_assert_cmphex(create(&f, 7, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 32), ==,
                    VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(attach(&f, 7, FB_GPA, 64 * 32 * 4), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(scanout(&f, 0, 7, 0, 0, 64, 32), ==, VIRTIO_GPU_RESP_OK_NODATA);
    const uint8_t *px = surface_pixels(&f, &w, &h, &stride);
    g_assert_nonnull(px);
    g_assert_cmpuint(w, ==, 64);
    g_assert_cmpuint(h, ==, 32);
    g_assert_cmpuint(get32(px + 4 * (5 * 64 + 3)), ==, 0); /* nothing transferred yet */
    /* Rows 4..11, columns 2..9: row y is at offset y * stride in the backing. */
    g_assert_cmphex(transfer(&f, 7, 2, 4, 8, 8, 4 * 64 * 4 + 2 * 4), ==,
                    VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(get32(px + 4 * (5 * 64 + 3)), ==, 3 | 5 << 8 | 0x5a << 16);
    g_assert_cmpuint(get32(px + 4 * (11 * 64 + 9)), ==, 9 | 11 << 8 | 0x5a << 16);
    g_assert_cmpuint(get32(px + 4 * (12 * 64 + 9)), ==, 0); /* outside the rectangle */
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_FLUSH, 2, 4, 8, 8, 7, 0), ==,
                    VIRTIO_GPU_RESP_OK_NODATA);

    /* A scanout of part of the resource. */
    g_assert_cmphex(scanout(&f, 0, 7, 2, 4, 16, 8), ==, VIRTIO_GPU_RESP_OK_NODATA);
    px = surface_pixels(&f, &w, &h, &stride);
    g_assert_cmpuint(w, ==, 16);
    g_assert_cmpuint(stride, ==, 64 * 4);
    g_assert_cmpuint(get32(px + 4 * (1 * 64 + 1)), ==, 3 | 5 << 8 | 0x5a << 16);

    /* X8R8G8B8 (X, R, G, B bytes) arrives in the surface's B, G, R, X order. */
    g_assert_cmphex(create(&f, 8, VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, 4, 1), ==,
                    VIRTIO_GPU_RESP_OK_NODATA);
    uint8_t *src = hv_memory_ptr(&f.mem, 0x200000, 16);
    memcpy(src, (uint8_t[]){0, 0x11, 0x22, 0x33}, 4);
    g_assert_cmphex(attach(&f, 8, 0x200000, 16), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(transfer(&f, 8, 0, 0, 1, 1, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(scanout(&f, 0, 8, 0, 0, 4, 1), ==, VIRTIO_GPU_RESP_OK_NODATA);
    px = surface_pixels(&f, &w, &h, &stride);
    g_assert_cmpmem(px, 3, ((uint8_t[]){0x33, 0x22, 0x11}), 3);

    /* Unref of the shown resource turns the display off before freeing it. */
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 8, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_null(surface_pixels(&f, &w, &h, &stride));
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 7, 0), ==,
                    VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 7, 0), ==, VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmpuint(f.g.host_bytes, ==, 0);
    fix_down(&f);
}

static void test_fence_echo(void)
{
    struct fix f;
    fix_up(&f);
    uint8_t req[HV_GPU_HDR_SIZE] = {0};
    put32(req, VIRTIO_GPU_CMD_RESOURCE_UNREF); /* too short: an error, still fenced */
    put32(req + 4, VIRTIO_GPU_FLAG_FENCE);
    put32(req + 8, 0xdeadbeef);
    put32(req + 12, 0x1234);
    size_t n = hv_gpu_cmd_process(&f.g, req, sizeof(req), f.resp);
    g_assert_cmpuint(n, ==, HV_GPU_HDR_SIZE);
    g_assert_cmphex(get32(f.resp), ==, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    g_assert_cmphex(get32(f.resp + 4), ==, VIRTIO_GPU_FLAG_FENCE);
    g_assert_cmphex(get32(f.resp + 8), ==, 0xdeadbeef);
    g_assert_cmphex(get32(f.resp + 12), ==, 0x1234);
    fix_down(&f);
}

static void test_errors(void)
{
    struct fix f;
    fix_up(&f);
    const uint32_t OK = VIRTIO_GPU_RESP_OK_NODATA, UNSPEC = VIRTIO_GPU_RESP_ERR_UNSPEC,
                   PARAM = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                   RES = VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
                   SCANOUT = VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
                   OOM = VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    const uint32_t BGRX = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM;

    /* Framing. */
    uint8_t tiny[4] = {0};
    g_assert_cmpuint(hv_gpu_cmd_process(&f.g, tiny, sizeof(tiny), f.resp), ==, HV_GPU_HDR_SIZE);
    g_assert_cmphex(get32(f.resp), ==, UNSPEC);
    g_assert_cmphex(cmdv(&f, 0x9999, NULL, 0), ==, UNSPEC);            /* unknown */
    g_assert_cmphex(cmdv(&f, VIRTIO_GPU_CMD_GET_CAPSET_INFO, NULL, 0), ==, UNSPEC); /* 3D */
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 1, BGRX), ==, PARAM); /* short */

    /* RESOURCE_CREATE_2D. */
    g_assert_cmphex(create(&f, 0, BGRX, 8, 8), ==, RES);
    g_assert_cmphex(create(&f, 1, 99, 8, 8), ==, PARAM);
    g_assert_cmphex(create(&f, 1, BGRX, 0, 8), ==, PARAM);
    g_assert_cmphex(create(&f, 1, BGRX, 8, HV_GPU_MAX_DIM + 1), ==, PARAM);
    g_assert_cmphex(create(&f, 1, BGRX, 8, 8), ==, OK);
    g_assert_cmphex(create(&f, 1, BGRX, 8, 8), ==, RES); /* twice */
    /* The host-memory limit: 6000x6000x4 is 137 MiB; two do not fit in 256 MiB. */
    g_assert_cmphex(create(&f, 2, BGRX, 6000, 6000), ==, OK);
    g_assert_cmphex(create(&f, 3, BGRX, 6000, 6000), ==, OOM);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 2, 0), ==, OK);
    g_assert_cmphex(create(&f, 3, BGRX, 6000, 6000), ==, OK);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 3, 0), ==, OK);

    /* RESOURCE_UNREF, DETACH. */
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 42, 0), ==, RES);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 42, 0), ==, RES);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 1, 0), ==, UNSPEC);

    /* ATTACH_BACKING: memory that is not RAM, a count past the payload, zero length. */
    g_assert_cmphex(attach(&f, 42, FB_GPA, 256), ==, RES);
    g_assert_cmphex(attach(&f, 1, RAM - 16, 256), ==, PARAM);
    g_assert_cmphex(attach(&f, 1, 0xffffffffffff0000ull, 256), ==, PARAM);
    g_assert_cmphex(attach(&f, 1, FB_GPA, 0), ==, PARAM);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 1, 2, FB_GPA, 0, 256, 0),
                    ==, PARAM);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 1, 0), ==, PARAM);

    /* TRANSFER_TO_HOST_2D: no backing yet, then rectangles and offsets out of range. */
    g_assert_cmphex(transfer(&f, 1, 0, 0, 8, 8, 0), ==, UNSPEC);
    g_assert_cmphex(attach(&f, 1, FB_GPA, 8 * 8 * 4), ==, OK);
    g_assert_cmphex(attach(&f, 1, FB_GPA, 8 * 8 * 4), ==, UNSPEC); /* already attached */
    g_assert_cmphex(transfer(&f, 1, 0, 0, 8, 8, 0), ==, OK);
    g_assert_cmphex(transfer(&f, 42, 0, 0, 8, 8, 0), ==, RES);
    g_assert_cmphex(transfer(&f, 1, 1, 0, 8, 8, 0), ==, PARAM);
    g_assert_cmphex(transfer(&f, 1, 0xffffffff, 0, 2, 1, 0), ==, PARAM);
    g_assert_cmphex(transfer(&f, 1, 0, 0, 8, 8, 4), ==, PARAM);
    g_assert_cmphex(transfer(&f, 1, 0, 0, 1, 1, 0xffffffffffffffffull), ==, PARAM);

    /* SET_SCANOUT. */
    g_assert_cmphex(scanout(&f, 1, 1, 0, 0, 8, 8), ==, SCANOUT);
    g_assert_cmphex(scanout(&f, 0, 42, 0, 0, 8, 8), ==, RES);
    g_assert_cmphex(scanout(&f, 0, 1, 0, 0, 9, 8), ==, PARAM);
    g_assert_cmphex(scanout(&f, 0, 1, 0, 0, 0, 8), ==, PARAM);
    g_assert_cmphex(scanout(&f, 0, 1, 0xfffffff8, 0, 16, 8), ==, PARAM);
    g_assert_cmphex(scanout(&f, 0, 1, 0, 0, 8, 8), ==, OK);
    g_assert_cmphex(scanout(&f, 0, 0, 0, 0, 0, 0), ==, OK); /* off */

    /* RESOURCE_FLUSH. */
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_FLUSH, 0, 0, 8, 8, 42, 0), ==, RES);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_FLUSH, 0, 0, 9, 8, 1, 0), ==, PARAM);

    g_assert_cmpuint(f.g.errors, >, 30);
    fix_down(&f);
}

static void test_reset(void)
{
    struct fix f;
    uint32_t w, h, stride;
    fix_up(&f);
    g_assert_cmphex(create(&f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8), ==,
                    VIRTIO_GPU_RESP_OK_NODATA);
    g_assert_cmphex(scanout(&f, 0, 1, 0, 0, 8, 8), ==, VIRTIO_GPU_RESP_OK_NODATA);
    hv_gpu_state_reset(&f.g);
    g_assert_null(surface_pixels(&f, &w, &h, &stride));
    g_assert_cmpuint(f.g.host_bytes, ==, 0);
    g_assert_cmphex(CMD(&f, VIRTIO_GPU_CMD_RESOURCE_UNREF, 1, 0), ==,
                    VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    fix_down(&f);
}

static void test_cursor(void)
{
    struct fix f;
    fix_up(&f);
    uint8_t req[56] = {0};
    put32(req, VIRTIO_GPU_CMD_MOVE_CURSOR);
    put32(req + HV_GPU_HDR_SIZE + 4, 100);
    put32(req + HV_GPU_HDR_SIZE + 8, 50);
    hv_gpu_cursor_process(&f.g, req, sizeof(req));
    g_assert_cmpuint(f.g.cursor_x, ==, 100);
    g_assert_cmpuint(f.g.cursor_y, ==, 50);
    hv_gpu_cursor_process(&f.g, req, 10); /* short: ignored */
    put32(req + HV_GPU_HDR_SIZE, 3);      /* another scanout: ignored */
    put32(req + HV_GPU_HDR_SIZE + 4, 7);
    hv_gpu_cursor_process(&f.g, req, sizeof(req));
    g_assert_cmpuint(f.g.cursor_x, ==, 100);
    fix_down(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-gpu/display-info", test_display_info);
    g_test_add_func("/virtio-gpu/edid", test_edid);
    g_test_add_func("/virtio-gpu/draw", test_draw);
    g_test_add_func("/virtio-gpu/fence-echo", test_fence_echo);
    g_test_add_func("/virtio-gpu/errors", test_errors);
    g_test_add_func("/virtio-gpu/reset", test_reset);
    g_test_add_func("/virtio-gpu/cursor", test_cursor);
    return g_test_run();
}
