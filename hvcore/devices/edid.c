/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The EDID block a display device shows its guest: which modes the "monitor" takes. */
#include "devices/edid.h"

#include <string.h>

/* Blanking in the style of CVT reduced blanking: short, fixed, as for a flat panel. */
#define H_BLANK 160
#define H_FRONT 48
#define H_SYNC 32
#define V_FRONT 3
#define V_SYNC 6
#define V_BLANK 23
#define REFRESH 60
#define DPI 96

/* A standard-timing entry: width and aspect ratio at 60 Hz. */
enum aspect { AR_16_10 = 0, AR_4_3 = 1, AR_5_4 = 2, AR_16_9 = 3 };

static const struct {
    uint16_t width;
    enum aspect ar;
} standard_modes[] = {
    {1024, AR_4_3}, {1280, AR_16_10}, {1280, AR_5_4}, {1440, AR_16_10},
    {1600, AR_16_9}, {1680, AR_16_10}, {1920, AR_16_9}, {1920, AR_16_10},
};

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static uint32_t px_to_mm(uint32_t px)
{
    return px * 254 / (DPI * 10);
}

static void detailed_timing(uint8_t *d, uint32_t w, uint32_t h)
{
    uint32_t clock = (w + H_BLANK) * (h + V_BLANK) * REFRESH / 10000; /* 10 kHz units */
    uint32_t wmm = px_to_mm(w), hmm = px_to_mm(h);

    d[0] = clock & 0xff;
    d[1] = clock >> 8;
    d[2] = w & 0xff;
    d[3] = H_BLANK & 0xff;
    d[4] = (uint8_t)(((w >> 8) & 0xf) << 4 | ((H_BLANK >> 8) & 0xf));
    d[5] = h & 0xff;
    d[6] = V_BLANK & 0xff;
    d[7] = (uint8_t)(((h >> 8) & 0xf) << 4 | ((V_BLANK >> 8) & 0xf));
    d[8] = H_FRONT & 0xff;
    d[9] = H_SYNC & 0xff;
    d[10] = (V_FRONT & 0xf) << 4 | (V_SYNC & 0xf);
    d[11] = 0; /* the high bits of the four sync values above are all zero */
    d[12] = wmm & 0xff;
    d[13] = hmm & 0xff;
    d[14] = (uint8_t)(((wmm >> 8) & 0xf) << 4 | ((hmm >> 8) & 0xf));
    d[15] = 0;
    d[16] = 0;
    d[17] = 0x1a; /* digital separate sync, hsync +, vsync - (reduced blanking) */
}

/* A display descriptor holding text (product name, 0xFC): newline, then spaces. */
static void text_descriptor(uint8_t *d, uint8_t tag, const char *text)
{
    memset(d, 0, 18);
    d[3] = tag;
    size_t n = strlen(text);
    if (n > 13)
        n = 13;
    memcpy(d + 5, text, n);
    if (n < 13) {
        d[5 + n] = '\n';
        memset(d + 6 + n, ' ', 13 - n - 1);
    }
}

/* Chromaticity coordinate in the EDID's 10-bit fixed point. */
static unsigned chroma(double c)
{
    return (unsigned)(c * 1024 + 0.5);
}

void hv_edid_build(uint8_t edid[HV_EDID_SIZE], uint32_t width, uint32_t height)
{
    static const uint8_t header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
    width = clamp(width, 640, 3840);
    height = clamp(height, 480, 2160);
    memset(edid, 0, HV_EDID_SIZE);
    memcpy(edid, header, 8);

    /* Manufacturer "VMD": three 5-bit letters, big endian. */
    uint16_t mfg = (uint16_t)(('V' - '@') << 10 | ('M' - '@') << 5 | ('D' - '@'));
    edid[8] = mfg >> 8;
    edid[9] = mfg & 0xff;
    edid[10] = 0x01; /* product code */
    edid[16] = 1;    /* week */
    edid[17] = 2025 - 1990;
    edid[18] = 1; /* EDID 1.4 */
    edid[19] = 4;
    edid[20] = 0xa0; /* digital input, 8 bits per colour */
    edid[21] = (uint8_t)(px_to_mm(width) / 10);
    edid[22] = (uint8_t)(px_to_mm(height) / 10);
    edid[23] = 120; /* gamma 2.2 */
    edid[24] = 0x06; /* RGB 4:4:4, sRGB default, preferred timing is native */

    /* sRGB primaries and D65 white. */
    unsigned c[8] = {chroma(0.640), chroma(0.330), chroma(0.300), chroma(0.600),
                     chroma(0.150), chroma(0.060), chroma(0.3127), chroma(0.3290)};
    edid[25] = (uint8_t)((c[0] & 3) << 6 | (c[1] & 3) << 4 | (c[2] & 3) << 2 | (c[3] & 3));
    edid[26] = (uint8_t)((c[4] & 3) << 6 | (c[5] & 3) << 4 | (c[6] & 3) << 2 | (c[7] & 3));
    for (unsigned i = 0; i < 8; i++)
        edid[27 + i] = (uint8_t)(c[i] >> 2);

    /* Established timings: 640x480, 800x600 and 1024x768 at 60 Hz. */
    edid[35] = 0x21;
    edid[36] = 0x08;
    for (unsigned i = 0; i < 8; i++) {
        edid[38 + 2 * i] = (uint8_t)(standard_modes[i].width / 8 - 31);
        edid[39 + 2 * i] = (uint8_t)(standard_modes[i].ar << 6 | (REFRESH - 60));
    }

    detailed_timing(edid + 54, width, height);
    /* Range limits: 50-75 Hz, 30-160 kHz, up to 600 MHz; no timing formula. */
    uint8_t *r = edid + 72;
    r[3] = 0xfd;
    r[5] = 50;
    r[6] = 75;
    r[7] = 30;
    r[8] = 160;
    r[9] = 60;
    r[10] = 0x01;
    r[11] = '\n';
    memset(r + 12, ' ', 6);
    text_descriptor(edid + 90, 0xfc, "vmdesk");
    edid[108 + 3] = 0x10; /* an unused (dummy) descriptor */

    uint8_t sum = 0;
    for (unsigned i = 0; i < HV_EDID_SIZE - 1; i++)
        sum = (uint8_t)(sum + edid[i]);
    edid[127] = (uint8_t)(0x100 - sum);
}
