/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the VNC tests share: the server on a surface in-process, libvncclient and raw clients. */
#include "vnc-test.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>

static void sink_key(void *opaque, uint16_t code, bool down)
{
    struct fixture *f = opaque;
    g_mutex_lock(&f->lock);
    g_string_append_printf(f->keys, "%s%u ", down ? "+" : "-", code);
    g_mutex_unlock(&f->lock);
}

static void sink_pointer(void *opaque, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                         uint32_t b)
{
    struct fixture *f = opaque;
    g_mutex_lock(&f->lock);
    g_string_append_printf(f->pointer, "%u,%u,%u,%u,%u ", x, y, w, h, b);
    g_mutex_unlock(&f->lock);
}

/* XRGB8888 little endian: 0x00RRGGBB as a uint32. */
void paint(uint32_t *px, uint32_t w, uint32_t x0, uint32_t y0, uint32_t bw, uint32_t bh,
                  uint32_t rgb)
{
    for (uint32_t y = y0; y < y0 + bh; y++)
        for (uint32_t x = x0; x < x0 + bw; x++)
            px[y * w + x] = rgb;
}

static void start(struct fixture *f, const char *options)
{
    struct hv_vnc_spec spec;
    char *err = NULL;
    g_autofree char *text = g_strdup_printf("unix:%s%s", f->path, options);
    g_assert_cmpint(hv_vnc_spec_parse(text, &spec, &err), ==, 0);
    struct hv_input_sink sink = {.key = sink_key, .pointer = sink_pointer, .opaque = f};
    f->vnc = hv_vnc_new(&spec, f->surface, &sink, &err);
    if (!f->vnc)
        g_error("hv_vnc_new: %s", err);
    hv_vnc_spec_clear(&spec);
}

void vnc_setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    GError *error = NULL;
    f->dir = g_dir_make_tmp("vmdesk-vnc-XXXXXX", &error);
    g_assert_no_error(error);
    f->path = g_build_filename(f->dir, "vnc.sock", NULL);
    g_mutex_init(&f->lock);
    f->keys = g_string_new(NULL);
    f->pointer = g_string_new(NULL);
    f->resizes = g_string_new(NULL);
    f->surface = hv_surface_new();
    f->pixels = g_new0(uint32_t, 1024 * 768);
    paint(f->pixels, W, 0, 0, W / 2, H / 2, 0xff0000);
    paint(f->pixels, W, W / 2, 0, W / 2, H / 2, 0x00ff00);
    paint(f->pixels, W, 0, H / 2, W / 2, H / 2, 0x0000ff);
    paint(f->pixels, W, W / 2, H / 2, W / 2, H / 2, 0xffffff);
    hv_surface_set_mode(f->surface, W, H, W * 4, (uint8_t *)f->pixels);
    start(f, data ? data : "");
}

void vnc_teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    hv_vnc_free(f->vnc);
    g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
    hv_surface_free(f->surface);
    g_free(f->pixels);
    g_free(f->pixels2);
    g_string_free(f->keys, TRUE);
    g_string_free(f->pointer, TRUE);
    g_string_free(f->resizes, TRUE);
    g_mutex_clear(&f->lock);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

/* Runs `fn` on a thread (libvncclient blocks) while this thread runs the main loop. */
void run_client(struct fixture *f, GThreadFunc fn)
{
    g_atomic_int_set(&f->done, 0);
    GThread *t = g_thread_new("client", fn, f);
    while (!g_atomic_int_get(&f->done)) {
        while (g_main_context_iteration(NULL, FALSE))
            ;
        g_usleep(1000);
    }
    g_thread_join(t);
}

/* ---- client side ---- */

void quiet(const char *format, ...)
{
    (void)format;
}

static const char *client_password;
static bool frame_done;

static char *get_password(rfbClient *c)
{
    (void)c;
    return strdup(client_password ? client_password : "");
}

static void finished(rfbClient *c)
{
    (void)c;
    frame_done = true;
}

rfbClient *connect_client(struct fixture *f, const char *password)
{
    rfbClient *c = rfbGetClient(8, 3, 4);
    free(c->serverHost);
    c->serverHost = strdup(f->path);
    c->canHandleNewFBSize = TRUE;
    c->appData.encodingsString = "raw";
    c->GetPassword = get_password;
    c->FinishedFrameBufferUpdate = finished;
    client_password = password;
    frame_done = false;
    if (!rfbInitClient(c, NULL, NULL))
        return NULL; /* rfbInitClient freed it */
    return c;
}

/* rfbClientCleanup leaves the framebuffer to the application. */
void disconnect(rfbClient *c)
{
    free(c->frameBuffer);
    c->frameBuffer = NULL;
    rfbClientCleanup(c);
}

/*
 * Waits up to `usecs` for a message. libvncclient reads ahead into its own buffer, and its
 * WaitForMessage only looks at the socket: a message already buffered is there at once.
 */
int wait_message(rfbClient *c, unsigned usecs)
{
    return c->buffered ? 1 : WaitForMessage(c, usecs);
}

/* Handles messages until a whole update arrived (or 5 s passed). */
bool next_frame(rfbClient *c)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    frame_done = false;
    while (!frame_done && g_get_monotonic_time() < end) {
        int r = wait_message(c, 100000);
        if (r < 0 || (r > 0 && !HandleRFBServerMessage(c)))
            return false;
    }
    return frame_done;
}

/* The client's framebuffer is R, G, B, X bytes. */
uint32_t client_pixel(rfbClient *c, int x, int y)
{
    const uint8_t *p = c->frameBuffer + ((size_t)y * c->width + x) * 4;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/*
 * Asks for whole frames until the client shows `w`x`h` with `rgb` at (x, y): the first
 * update may only carry the new size (the server starts blank until the mode arrives).
 */
bool frame_shows_inc(rfbClient *c, int w, int h, int x, int y, uint32_t rgb, bool inc)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
        if (c->width == w && c->height == h && client_pixel(c, x, y) == rgb)
            return true;
        SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height, inc);
        if (!next_frame(c))
            return false;
    }
    return false;
}

bool frame_shows(rfbClient *c, int w, int h, int x, int y, uint32_t rgb)
{
    /* Incremental: libvncserver answers a full request from an ExtDesktopSize client with
       the size marker alone, and keeps the pixels for the next request. */
    return frame_shows_inc(c, w, h, x, y, rgb, true);
}

bool wait_text_for(struct fixture *f, GString *s, const char *want, int seconds)
{
    gint64 end = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
        g_mutex_lock(&f->lock);
        bool ok = !strcmp(s->str, want);
        g_mutex_unlock(&f->lock);
        if (ok)
            return true;
        g_usleep(2000);
    }
    g_mutex_lock(&f->lock);
    g_printerr("got '%s', expected '%s'\n", s->str, want);
    g_mutex_unlock(&f->lock);
    return false;
}

bool wait_text(struct fixture *f, GString *s, const char *want)
{
    return wait_text_for(f, s, want, 5);
}

int raw_connect(struct fixture *f)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    g_strlcpy(a.sun_path, f->path, sizeof(a.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    return fd;
}

bool read_all(int fd, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}
