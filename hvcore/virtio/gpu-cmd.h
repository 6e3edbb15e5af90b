/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-gpu 2D commands: resources, backing, scanout, transfers; no virtqueue in sight. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/memory.h"

struct hv_surface;

#define VIRTIO_GPU_F_EDID 1
#define VIRTIO_GPU_EVENT_DISPLAY 1

enum {
    VIRTIO_GPU_CMD_GET_DISPLAY_INFO = 0x0100,
    VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
    VIRTIO_GPU_CMD_RESOURCE_UNREF,
    VIRTIO_GPU_CMD_SET_SCANOUT,
    VIRTIO_GPU_CMD_RESOURCE_FLUSH,
    VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
    VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
    VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
    VIRTIO_GPU_CMD_GET_CAPSET_INFO,
    VIRTIO_GPU_CMD_GET_CAPSET,
    VIRTIO_GPU_CMD_GET_EDID,
    VIRTIO_GPU_CMD_UPDATE_CURSOR = 0x0300,
    VIRTIO_GPU_CMD_MOVE_CURSOR,
    VIRTIO_GPU_RESP_OK_NODATA = 0x1100,
    VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
    VIRTIO_GPU_RESP_OK_CAPSET_INFO,
    VIRTIO_GPU_RESP_OK_CAPSET,
    VIRTIO_GPU_RESP_OK_EDID,
    VIRTIO_GPU_RESP_ERR_UNSPEC = 0x1200,
    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
    VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
    VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
    VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
    VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
};

enum {
    VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM = 1,
    VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM = 2,
    VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM = 3,
    VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM = 4,
};

#define VIRTIO_GPU_FLAG_FENCE 1u
#define HV_GPU_HDR_SIZE 24
/* The largest response (GET_EDID) and request we take (ATTACH_BACKING with its entries). */
#define HV_GPU_RESP_MAX 1056
#define HV_GPU_REQ_MAX (HV_GPU_HDR_SIZE + 8 + 16 * HV_GPU_MAX_ENTRIES)
#define HV_GPU_MAX_ENTRIES 16384
/* What one guest may make the host allocate for its resources, and how many. */
#define HV_GPU_MAX_HOST_BYTES (256u << 20)
#define HV_GPU_MAX_RESOURCES 1024
#define HV_GPU_MAX_DIM 16384

/* The device's 2D state. Callers serialize every call on one state. */
struct hv_gpu_state {
    const struct hv_memory *mem;
    struct hv_surface *surface; /* may be NULL (fuzzing): nothing is shown */
    GHashTable *resources;      /* resource id -> struct hv_gpu_resource * */
    uint64_t host_bytes;
    bool edid;                  /* VIRTIO_GPU_F_EDID negotiated */
    uint32_t pref_width, pref_height;
    /* Scanout 0. */
    uint32_t scanout_resource; /* 0: off */
    uint32_t sx, sy, sw, sh;
    uint32_t cursor_x, cursor_y;
    uint64_t commands, errors;
};

void hv_gpu_state_init(struct hv_gpu_state *g, const struct hv_memory *mem,
                       struct hv_surface *surface);
/* Frees every resource and turns the scanout off (driver or machine reset). */
void hv_gpu_state_reset(struct hv_gpu_state *g);
void hv_gpu_state_destroy(struct hv_gpu_state *g);

/*
 * Runs one control-queue command of `len` bytes and writes its response (at most
 * HV_GPU_RESP_MAX bytes) into `resp`. Returns the response's length. Every malformed
 * command gets an error response; nothing the guest sends makes this fail otherwise.
 */
size_t hv_gpu_cmd_process(struct hv_gpu_state *g, const uint8_t *req, size_t len,
                          uint8_t resp[HV_GPU_RESP_MAX]);
/* A cursor-queue command: the position is kept, the image ignored. */
void hv_gpu_cursor_process(struct hv_gpu_state *g, const uint8_t *req, size_t len);
