/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A small ACPI Machine Language encoder: just what the DSDT of this machine needs. */
#include "x86/aml.h"

#include <glib.h>
#include <string.h>

void aml_init(struct aml *a)
{
    memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
    g_free(a->data);
    memset(a, 0, sizeof(*a));
}

static void reserve(struct aml *a, size_t n)
{
    if (a->len + n <= a->cap)
        return;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + n)
        cap *= 2;
    a->data = g_realloc(a->data, cap);
    a->cap = cap;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
    reserve(a, n);
    memcpy(a->data + a->len, p, n);
    a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
    aml_bytes(a, &b, 1);
}

void aml_int(struct aml *a, uint64_t v)
{
    if (v == 0) {
        aml_byte(a, 0x00);
    } else if (v == 1) {
        aml_byte(a, 0x01);
    } else if (v <= 0xff) {
        aml_byte(a, 0x0a);
        aml_byte(a, (uint8_t)v);
    } else if (v <= 0xffff) {
        aml_byte(a, 0x0b);
        aml_bytes(a, &(uint16_t){(uint16_t)v}, 2);
    } else if (v <= 0xffffffff) {
        aml_byte(a, 0x0c);
        aml_bytes(a, &(uint32_t){(uint32_t)v}, 4);
    } else {
        aml_byte(a, 0x0e);
        aml_bytes(a, &v, 8);
    }
}

void aml_name(struct aml *a, const char *name)
{
    if (*name == '\\') {
        aml_byte(a, '\\');
        name++;
    }
    size_t n = strlen(name);
    if (n > 4) {
        /* Several segments: MultiNamePrefix; two segments: DualNamePrefix. */
        size_t segs = n / 4;
        if (segs == 2) {
            aml_byte(a, 0x2e);
        } else {
            aml_byte(a, 0x2f);
            aml_byte(a, (uint8_t)segs);
        }
    }
    aml_bytes(a, name, n);
}

void aml_eisaid(struct aml *a, const char *id)
{
    uint32_t v = ((uint32_t)(id[0] - 0x40) << 26) | ((uint32_t)(id[1] - 0x40) << 21) |
                 ((uint32_t)(id[2] - 0x40) << 16) |
                 (uint32_t)g_ascii_strtoull(id + 3, NULL, 16);
    /* Stored big endian. */
    uint32_t be = GUINT32_TO_BE(v);
    aml_byte(a, 0x0c);
    aml_bytes(a, &be, 4);
}

size_t aml_open(struct aml *a, const uint8_t *op, size_t oplen)
{
    aml_bytes(a, op, oplen);
    return a->len;
}

void aml_close(struct aml *a, size_t mark)
{
    size_t body = a->len - mark;
    uint8_t enc[4];
    size_t n;
    /* PkgLength counts its own bytes. */
    if (body + 1 < 0x40) {
        enc[0] = (uint8_t)(body + 1);
        n = 1;
    } else if (body + 2 < 0x1000) {
        size_t len = body + 2;
        enc[0] = (uint8_t)(0x40 | (len & 0xf));
        enc[1] = (uint8_t)(len >> 4);
        n = 2;
    } else if (body + 3 < 0x100000) {
        size_t len = body + 3;
        enc[0] = (uint8_t)(0x80 | (len & 0xf));
        enc[1] = (uint8_t)(len >> 4);
        enc[2] = (uint8_t)(len >> 12);
        n = 3;
    } else {
        size_t len = body + 4;
        enc[0] = (uint8_t)(0xc0 | (len & 0xf));
        enc[1] = (uint8_t)(len >> 4);
        enc[2] = (uint8_t)(len >> 12);
        enc[3] = (uint8_t)(len >> 20);
        n = 4;
    }
    reserve(a, n);
    memmove(a->data + mark + n, a->data + mark, body);
    memcpy(a->data + mark, enc, n);
    a->len += n;
}

void aml_buffer(struct aml *a, const void *p, size_t n)
{
    size_t m = aml_open(a, (const uint8_t[]){0x11}, 1);
    aml_int(a, n);
    aml_bytes(a, p, n);
    aml_close(a, m);
}
