/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A VNC client for the kvm tier: connects (unix socket or HOST:PORT), checks pixels. */
#include <rfb/rfbclient.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

/*
 * vnc-check [--password PW] ADDRESS WIDTH HEIGHT [X,Y,RRGGBB]...
 * Exit status: 0 the screen showed WIDTHxHEIGHT and every pixel within 10 s; 1 it did not
 * (the last values seen are printed); 3 no connection or authentication failed.
 */

static const char *password;
static bool frame_done;

static char *get_password(rfbClient *c)
{
    (void)c;
    return strdup(password ? password : "");
}

static void finished(rfbClient *c)
{
    (void)c;
    frame_done = true;
}

static void quiet(const char *format, ...)
{
    (void)format;
}

struct probe {
    int x, y;
    uint32_t rgb;
};

static uint32_t pixel(rfbClient *c, int x, int y)
{
    const uint8_t *p = c->frameBuffer + ((size_t)y * c->width + x) * 4;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static bool matches(rfbClient *c, int w, int h, const struct probe *p, int n, bool print)
{
    bool ok = c->width == w && c->height == h;
    if (print)
        printf("size %dx%d\n", c->width, c->height);
    for (int i = 0; i < n && (ok || print); i++) {
        if (p[i].x >= c->width || p[i].y >= c->height) {
            ok = false;
            continue;
        }
        uint32_t got = pixel(c, p[i].x, p[i].y);
        if (print)
            printf("pixel %d,%d %06x (expected %06x)\n", p[i].x, p[i].y, got, p[i].rgb);
        ok = ok && got == p[i].rgb;
    }
    return ok;
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a + 1 < argc && !strcmp(argv[a], "--password")) {
        password = argv[a + 1];
        a += 2;
    }
    if (argc - a < 3) {
        fprintf(stderr, "usage: vnc-check [--password PW] ADDRESS WIDTH HEIGHT [X,Y,RRGGBB]...\n");
        return 2;
    }
    const char *address = argv[a];
    int w = atoi(argv[a + 1]), h = atoi(argv[a + 2]);
    int n = argc - a - 3;
    struct probe *probes = g_new0(struct probe, n > 0 ? n : 1);
    for (int i = 0; i < n; i++) {
        if (sscanf(argv[a + 3 + i], "%d,%d,%x", &probes[i].x, &probes[i].y, &probes[i].rgb) != 3) {
            fprintf(stderr, "vnc-check: bad probe '%s'\n", argv[a + 3 + i]);
            return 2;
        }
    }

    rfbClientLog = rfbClientErr = quiet;
    rfbClient *c = rfbGetClient(8, 3, 4);
    free(c->serverHost);
    const char *colon = strrchr(address, ':');
    if (address[0] == '/' || !colon) {
        c->serverHost = strdup(address);
    } else {
        c->serverHost = g_strndup(address, (gsize)(colon - address));
        c->serverPort = atoi(colon + 1);
    }
    c->canHandleNewFBSize = TRUE;
    c->appData.encodingsString = "raw";
    c->GetPassword = get_password;
    c->FinishedFrameBufferUpdate = finished;
    if (!rfbInitClient(c, NULL, NULL)) {
        printf("no connection (or authentication failed)\n");
        g_free(probes);
        return 3;
    }
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    bool ok = false;
    while (!ok && g_get_monotonic_time() < end) {
        frame_done = false;
        while (!frame_done && g_get_monotonic_time() < end) {
            int r = WaitForMessage(c, 100000);
            if (r < 0 || (r > 0 && !HandleRFBServerMessage(c))) {
                printf("the server closed the connection\n");
                free(c->frameBuffer);
    c->frameBuffer = NULL;
    rfbClientCleanup(c);
                g_free(probes);
                return 1;
            }
        }
        ok = matches(c, w, h, probes, n, false);
        if (!ok)
            SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height, TRUE);
    }
    matches(c, w, h, probes, n, true);
    printf("%s\n", ok ? "ok" : "mismatch");
    free(c->frameBuffer);
    c->frameBuffer = NULL;
    rfbClientCleanup(c);
    g_free(probes);
    return ok ? 0 : 1;
}
