/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: sequences of virtio-gpu commands fed to the 2D command parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "display/surface.h"
#include "virtio/gpu-cmd.h"

/*
 * Input: records of [queue byte] [length lo] [length hi] then that many command bytes
 * (clipped to what is left). Queue byte bit 0 picks the cursor queue; bit 1 negotiates
 * EDID. Each command is copied into its own heap block of exactly its length, so the
 * sanitizers see any read past it. Guest RAM is 16 MiB: backing entries can point into
 * it, past it, or across its end. Resources persist across the records of one input.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hv_memory mem;
    static struct hv_surface *surface;
    if (!surface) {
        struct hv_mem_layout l;
        if (hv_mem_layout_init(&l, HV_MiB(16), 0) < 0 || hv_memory_alloc(&mem, &l, 0) < 0)
            abort();
        surface = hv_surface_new();
    }
    struct hv_gpu_state g;
    hv_gpu_state_init(&g, &mem, surface);
    while (size >= 3) {
        unsigned queue = data[0];
        size_t len = (size_t)data[1] | (size_t)data[2] << 8;
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        uint8_t *cmd = malloc(len ? len : 1);
        memcpy(cmd, data, len);
        g.edid = queue & 2;
        if (queue & 1) {
            hv_gpu_cursor_process(&g, cmd, len);
        } else {
            uint8_t resp[HV_GPU_RESP_MAX];
            size_t n = hv_gpu_cmd_process(&g, cmd, len, resp);
            if (n < HV_GPU_HDR_SIZE || n > HV_GPU_RESP_MAX)
                abort();
        }
        free(cmd);
        data += len;
        size -= len;
    }
    /* Whatever the scanout shows must be readable in full. */
    uint32_t w, h, stride;
    const uint8_t *px;
    hv_surface_lock(surface, &w, &h, &stride, &px);
    volatile uint8_t sink = 0;
    for (uint32_t y = 0; px && y < h; y++)
        sink ^= px[(size_t)y * stride] ^ px[(size_t)y * stride + (size_t)w * 4 - 1];
    (void)sink;
    hv_surface_unlock(surface);
    hv_gpu_state_destroy(&g);
    return 0;
}
