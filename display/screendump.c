/* SPDX-License-Identifier: GPL-3.0-or-later */
/* screendump: the current surface written to a PNG file. */
#include "display/screendump.h"

#include <errno.h>
#include <glib.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "display/surface.h"

int hv_screendump_png(struct hv_surface *s, const char *path, char **err)
{
    uint32_t w, h, stride;
    const uint8_t *data;

    /* Copy out under the lock; compress after, so the device is not held up meanwhile. */
    hv_surface_lock(s, &w, &h, &stride, &data);
    if (!data || !w || !h) {
        hv_surface_unlock(s);
        *err = g_strdup("the guest's display is off: no mode is set");
        return -ENODATA;
    }
    g_autofree uint8_t *rgb = g_malloc((size_t)w * h * 3);
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *src = data + (size_t)y * stride;
        uint8_t *dst = rgb + (size_t)y * w * 3;
        for (uint32_t x = 0; x < w; x++, src += 4, dst += 3) {
            dst[0] = src[2];
            dst[1] = src[1];
            dst[2] = src[0];
        }
    }
    hv_surface_unlock(s);

    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        *err = g_strdup_printf("cannot create %s: %s", path, g_strerror(e));
        return -e;
    }
    png_image image;
    memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    image.width = w;
    image.height = h;
    image.format = PNG_FORMAT_RGB;
    int ok = png_image_write_to_stdio(&image, f, 0, rgb, (png_int_32)(w * 3), NULL);
    int e = 0;
    if (!ok)
        *err = g_strdup_printf("cannot write %s: %s", path, image.message);
    if (fclose(f) != 0 && ok) {
        e = errno;
        *err = g_strdup_printf("cannot write %s: %s", path, g_strerror(e));
        ok = 0;
    }
    png_image_free(&image);
    if (!ok) {
        unlink(path);
        return e ? -e : -EIO;
    }
    return 0;
}
