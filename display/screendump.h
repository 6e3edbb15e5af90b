/* SPDX-License-Identifier: GPL-3.0-or-later */
/* screendump: the current surface written to a PNG file. */
#pragma once

struct hv_surface;

/*
 * Writes the surface's current pixels to `path` as an 8-bit RGB PNG (replacing a file
 * that is there). Returns 0, or -errno with *err set to one line: -ENODATA when the
 * display is off, or why the file cannot be written (a partly written file is removed).
 */
int hv_screendump_png(struct hv_surface *s, const char *path, char **err);
