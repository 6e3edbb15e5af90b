/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Dynamic resolution over VNC: SetDesktopSize from raw and libvncclient clients. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vnc-test.h"

/*
 * A device that follows the requested size at once, as a guest with virtio-gpu would a
 * moment later: a new mode of that size, cyan. Called on the main loop, like devices.
 */
static void follow_size(void *opaque, uint32_t w, uint32_t h)
{
    struct fixture *f = opaque;
    g_mutex_lock(&f->lock);
    g_string_append_printf(f->resizes, "%ux%u ", w, h);
    if (!g_main_context_is_owner(g_main_context_default()))
        f->resize_off_main = true;
    g_mutex_unlock(&f->lock);
    g_free(f->pixels2);
    f->pixels2 = g_new0(uint32_t, (size_t)w * h);
    paint(f->pixels2, w, 0, 0, w, h, 0x00ffff);
    hv_surface_set_mode(f->surface, w, h, w * 4, (uint8_t *)f->pixels2);
}

/* An ExtendedDesktopSize rectangle: x is the reason, y the status. */
struct eds {
    uint16_t reason, status, w, h;
};

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A raw client through ServerInit (security None), asking for ExtendedDesktopSize. */
static int rfb_open(struct fixture *f)
{
    int fd = raw_connect(f);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char version[12];
    uint8_t n, types[16], pick = 1, result[4], init = 1, server_init[24], name[64];
    g_assert_true(read_all(fd, version, 12));
    g_assert_cmpint(write(fd, "RFB 003.008\n", 12), ==, 12);
    g_assert_true(read_all(fd, &n, 1));
    g_assert_true(n >= 1 && n <= sizeof(types));
    g_assert_true(read_all(fd, types, n));
    g_assert_cmpint(write(fd, &pick, 1), ==, 1);
    g_assert_true(read_all(fd, result, 4));
    g_assert_cmpint(write(fd, &init, 1), ==, 1);
    g_assert_true(read_all(fd, server_init, 24));
    uint32_t name_len = be32(server_init + 20);
    g_assert_cmpuint(name_len, <, sizeof(name));
    g_assert_true(read_all(fd, name, name_len));
    /* SetEncodings: Raw and the ExtendedDesktopSize pseudo-encoding. */
    uint8_t enc[12] = {2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xfe, 0xcc};
    g_assert_cmpint(write(fd, enc, sizeof(enc)), ==, sizeof(enc));
    return fd;
}

static void rfb_update_request(int fd, bool incremental, uint16_t w, uint16_t h)
{
    uint8_t req[10] = {3, incremental, 0, 0, 0, 0, (uint8_t)(w >> 8), (uint8_t)w,
                       (uint8_t)(h >> 8), (uint8_t)h};
    g_assert_cmpint(write(fd, req, sizeof(req)), ==, sizeof(req));
}

/* SetDesktopSize with one screen of that size at 0,0. */
static void rfb_set_desktop_size(int fd, uint16_t w, uint16_t h)
{
    uint8_t msg[8 + 16] = {251, 0, (uint8_t)(w >> 8), (uint8_t)w, (uint8_t)(h >> 8), (uint8_t)h,
                           1, 0};
    uint8_t *screen = msg + 8; /* id 0, x 0, y 0, width, height, flags 0 */
    screen[8] = (uint8_t)(w >> 8);
    screen[9] = (uint8_t)w;
    screen[10] = (uint8_t)(h >> 8);
    screen[11] = (uint8_t)h;
    g_assert_cmpint(write(fd, msg, sizeof(msg)), ==, sizeof(msg));
}

/*
 * Reads server messages until an update with an ExtendedDesktopSize rectangle; pixel
 * rectangles (Raw, 32 bits a pixel: the server's format) are skipped. False on a timeout,
 * a closed connection or anything unexpected.
 */
static bool rfb_next_eds(int fd, struct eds *out)
{
    for (;;) {
        uint8_t type, hdr[3];
        if (!read_all(fd, &type, 1))
            return false;
        if (type == 2) /* Bell */
            continue;
        if (type != 0 || !read_all(fd, hdr, 3))
            return false;
        bool found = false;
        for (unsigned i = 0, n = be16(hdr + 1); i < n; i++) {
            uint8_t r[12];
            if (!read_all(fd, r, sizeof(r)))
                return false;
            uint16_t w = be16(r + 4), h = be16(r + 6);
            int32_t encoding = (int32_t)be32(r + 8);
            if (encoding == 0) {
                size_t left = (size_t)w * h * 4;
                uint8_t buf[4096];
                while (left) {
                    size_t chunk = MIN(left, sizeof(buf));
                    if (!read_all(fd, buf, chunk))
                        return false;
                    left -= chunk;
                }
            } else if (encoding == (int32_t)rfbEncodingExtDesktopSize) {
                uint8_t head[4], screen[16];
                if (!read_all(fd, head, 4))
                    return false;
                for (unsigned k = 0; k < head[0]; k++)
                    if (!read_all(fd, screen, sizeof(screen)))
                        return false;
                *out = (struct eds){be16(r), be16(r + 2), w, h};
                found = true;
            } else {
                g_printerr("unexpected encoding %d\n", encoding);
                return false;
            }
        }
        if (found)
            return true;
    }
}

/*
 * Connects and settles: the initial size announcement, the pixels, and (`waiting`) an
 * update request left outstanding.
 */
static int rfb_settled(struct fixture *f, uint16_t w, uint16_t h, bool waiting)
{
    int fd = rfb_open(f);
    struct eds e;
    /* A full request is answered with the current layout (reason 0), then the pixels. */
    rfb_update_request(fd, false, w, h);
    g_assert_true(rfb_next_eds(fd, &e));
    g_assert_cmpuint(e.reason, ==, 0);
    g_assert_cmpuint(e.w, ==, w);
    g_assert_cmpuint(e.h, ==, h);
    uint8_t hdr[4], r[12];
    g_assert_true(read_all(fd, hdr, 4));
    g_assert_cmpuint(hdr[0], ==, 0);
    for (unsigned i = 0, n = be16(hdr + 2); i < n; i++) {
        g_assert_true(read_all(fd, r, sizeof(r)));
        g_assert_cmpint((int32_t)be32(r + 8), ==, 0);
        g_autofree uint8_t *px = g_malloc((size_t)be16(r + 4) * be16(r + 6) * 4 + 1);
        g_assert_true(read_all(fd, px, (size_t)be16(r + 4) * be16(r + 6) * 4));
    }
    /* As viewers do: an incremental request waits at the server for what changes next. */
    if (waiting)
        rfb_update_request(fd, true, w, h);
    return fd;
}

static bool requested_is(struct fixture *f, uint32_t want_w, uint32_t want_h)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    uint32_t w = 0, h = 0;
    while (g_get_monotonic_time() < end) {
        if (hv_surface_requested_size(f->surface, &w, &h) && w == want_w && h == want_h)
            return true;
        g_usleep(2000);
    }
    g_printerr("requested size %ux%u, expected %ux%u\n", w, h, want_w, want_h);
    return false;
}

/* No device follows (bochs-display): refused as prohibited, at the size the client has. */
static gpointer resize_refused_client(gpointer opaque)
{
    struct fixture *f = opaque;
    int fd = rfb_settled(f, W, H, true);
    struct eds e;
    rfb_set_desktop_size(fd, 100, 80);
    g_assert_true(rfb_next_eds(fd, &e));
    g_assert_cmpuint(e.reason, ==, 1); /* this client asked */
    g_assert_cmpuint(e.status, ==, 1); /* administratively prohibited */
    g_assert_cmpuint(e.w, ==, W);
    g_assert_cmpuint(e.h, ==, H);
    /* The request is remembered all the same (query-display shows it). */
    g_assert_true(requested_is(f, 100, 80));
    /* Sizes no device could show: invalid screen layout; not passed on. */
    rfb_set_desktop_size(fd, 0, 80);
    g_assert_true(rfb_next_eds(fd, &e));
    g_assert_cmpuint(e.reason, ==, 1);
    g_assert_cmpuint(e.status, ==, 3);
    rfb_set_desktop_size(fd, HV_SURFACE_MAX_WIDTH + 1, 80);
    g_assert_true(rfb_next_eds(fd, &e));
    g_assert_cmpuint(e.status, ==, 3);
    g_assert_true(requested_is(f, 100, 80));
    close(fd);

    /* libvncclient takes the refusal and is not left waiting: its updates go on. */
    rfbClient *c = connect_client(f, NULL);
    g_assert_nonnull(c);
    g_assert_true(frame_shows(c, W, H, 1, 1, 0xff0000));
    g_assert_true(SendExtDesktopSize(c, 200, 100));
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (c->requestedResize && g_get_monotonic_time() < end) {
        int r = wait_message(c, 100000);
        g_assert_true(r >= 0 && (r == 0 || HandleRFBServerMessage(c)));
    }
    g_assert_false(c->requestedResize);
    g_assert_cmpint(c->width, ==, W);
    paint(f->pixels, W, 0, 0, 4, 4, 0x654321);
    hv_surface_damage(f->surface, 0, 0, 4, 4);
    g_assert_true(frame_shows(c, W, H, 1, 1, 0x654321));
    disconnect(c);
    g_assert_true(requested_is(f, 200, 100));
    g_atomic_int_set(&f->done, 1);
    return NULL;
}

static void test_resize_refused(struct fixture *f, gconstpointer data)
{
    (void)data;
    run_client(f, resize_refused_client);
}

/* A device follows (virtio-gpu): forwarded; the guest's new mode reaches the client. */
static gpointer resize_forwarded_client(gpointer opaque)
{
    struct fixture *f = opaque;
    int fd = rfb_settled(f, W, H, true);
    struct eds e;
    rfb_set_desktop_size(fd, 96, 64);
    g_assert_true(rfb_next_eds(fd, &e));
    g_assert_cmpuint(e.reason, ==, 1);
    g_assert_cmpuint(e.status, ==, 4); /* request forwarded: the guest decides */
    g_assert_cmpuint(e.w, ==, W);
    g_assert_cmpuint(e.h, ==, H);
    /* The device set the new mode: a resize of the server's own (reason 0). */
    g_assert_true(rfb_next_eds(fd, &e));
    g_assert_cmpuint(e.reason, ==, 0);
    g_assert_cmpuint(e.status, ==, 0);
    g_assert_cmpuint(e.w, ==, 96);
    g_assert_cmpuint(e.h, ==, 64);
    g_assert_true(wait_text(f, f->resizes, "96x64 "));
    close(fd);

    /* A libvncclient viewer asking for a size ends up showing it. */
    rfbClient *c = connect_client(f, NULL);
    g_assert_nonnull(c);
    g_assert_true(frame_shows(c, 96, 64, 1, 1, 0x00ffff));
    g_assert_true(SendExtDesktopSize(c, 120, 90));
    g_assert_true(frame_shows(c, 120, 90, 119, 89, 0x00ffff));
    g_assert_true(wait_text(f, f->resizes, "96x64 120x90 "));
    disconnect(c);

    /*
     * A client with no update request waiting gets its answer only with its next one; if
     * the guest's new mode came first, the answer becomes success at that size: a
     * "forwarded" at the new size would leave its framebuffer at the old one (clients
     * ignore the size of anything but success). Either way, never that.
     */
    fd = rfb_settled(f, 120, 90, false);
    rfb_set_desktop_size(fd, 100, 70);
    g_assert_true(wait_text(f, f->resizes, "96x64 120x90 100x70 "));
    g_usleep(300000); /* time for the mode to reach the server first */
    rfb_update_request(fd, true, 100, 70);
    g_assert_true(rfb_next_eds(fd, &e));
    g_assert_cmpuint(e.reason, ==, 1);
    if (e.status == 0) {
        g_assert_cmpuint(e.w, ==, 100);
        g_assert_cmpuint(e.h, ==, 70);
    } else {
        g_assert_cmpuint(e.status, ==, 4);
        g_assert_cmpuint(e.w, ==, 120);
        g_assert_cmpuint(e.h, ==, 90);
        rfb_update_request(fd, true, 100, 70);
        g_assert_true(rfb_next_eds(fd, &e));
        g_assert_cmpuint(e.reason, ==, 0);
        g_assert_cmpuint(e.w, ==, 100);
    }
    close(fd);
    g_atomic_int_set(&f->done, 1);
    return NULL;
}

static void test_resize_forwarded(struct fixture *f, gconstpointer data)
{
    (void)data;
    hv_surface_set_resize_handler(f->surface, follow_size, f);
    run_client(f, resize_forwarded_client);
    hv_surface_set_resize_handler(f->surface, NULL, NULL);
    g_assert_false(f->resize_off_main);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    rfbClientLog = rfbClientErr = quiet; /* libvncclient's chatter off */
    g_test_add("/vnc/resize-refused", struct fixture, NULL, vnc_setup, test_resize_refused,
               vnc_teardown);
    g_test_add("/vnc/resize-forwarded", struct fixture, NULL, vnc_setup, test_resize_forwarded,
               vnc_teardown);
    return g_test_run();
}
