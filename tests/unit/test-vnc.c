/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The VNC server in-process, against libvncclient: pixels, resize, input, auth, bad clients. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vnc-test.h"

static gpointer pixels_client(gpointer opaque)
{
    struct fixture *f = opaque;
    rfbClient *c = connect_client(f, NULL);
    g_assert_nonnull(c);
    g_assert_true(next_frame(c));
    g_assert_true(frame_shows(c, W, H, 1, 1, 0xff0000));
    g_assert_cmphex(client_pixel(c, W - 1, 0), ==, 0x00ff00);
    g_assert_cmphex(client_pixel(c, 0, H - 1), ==, 0x0000ff);
    g_assert_cmphex(client_pixel(c, W - 1, H - 1), ==, 0xffffff);

    /* Damage reaches the client as an update of what changed. */
    paint(f->pixels, W, 10, 10, 4, 4, 0x123456);
    hv_surface_damage(f->surface, 10, 10, 4, 4);
    g_assert_true(frame_shows_inc(c, W, H, 11, 11, 0x123456, true));
    g_assert_cmphex(client_pixel(c, 9, 9), ==, 0xff0000);

    /* A new mode: the client's desktop follows. */
    f->pixels2 = g_new0(uint32_t, 96 * 64);
    paint(f->pixels2, 96, 0, 0, 96, 64, 0x00ffff);
    hv_surface_set_mode(f->surface, 96, 64, 96 * 4, (uint8_t *)f->pixels2);
    g_assert_true(frame_shows(c, 96, 64, 95, 63, 0x00ffff));
    g_assert_cmpint(c->width, ==, 96);
    g_assert_cmpint(c->height, ==, 64);
    g_assert_cmphex(client_pixel(c, 95, 63), ==, 0x00ffff);
    disconnect(c);
    g_atomic_int_set(&f->done, 1);
    return NULL;
}

static void test_pixels(struct fixture *f, gconstpointer data)
{
    (void)data;
    run_client(f, pixels_client);
}

static gpointer input_client(gpointer opaque)
{
    struct fixture *f = opaque;
    rfbClient *c = connect_client(f, NULL);
    g_assert_nonnull(c);
    g_assert_true(next_frame(c));
    /* 'A' from a client that holds no Shift: the guest gets Shift around it. */
    SendKeyEvent(c, 'A', TRUE);
    SendKeyEvent(c, 'A', FALSE);
    g_assert_true(wait_text(f, f->keys, "+42 +30 -42 -30 "));
    SendPointerEvent(c, 10, 20, 1);
    SendPointerEvent(c, 10, 20, 0);
    g_assert_true(wait_text(f, f->pointer, "10,20,64,48,1 10,20,64,48,0 "));
    /* The QEMU Extended Key Event: the server said it takes it; E0 1D is the right Ctrl. */
    g_assert_true(SupportsClient2Server(c, rfbQemuEvent));
    g_mutex_lock(&f->lock);
    g_string_truncate(f->keys, 0);
    g_mutex_unlock(&f->lock);
    SendExtendedKeyEvent(c, XK_Control_R, 0x9d, TRUE);
    SendExtendedKeyEvent(c, 'q', 0x10, TRUE);
    /* A key held when the client goes away is released. */
    disconnect(c);
    g_assert_true(wait_text(f, f->keys, "+97 +16 -16 -97 "));
    g_atomic_int_set(&f->done, 1);
    return NULL;
}

static void test_input(struct fixture *f, gconstpointer data)
{
    (void)data;
    run_client(f, input_client);
}

static gpointer password_client(gpointer opaque)
{
    struct fixture *f = opaque;
    char *err = NULL;
    /* Until a password is set, nobody gets in. */
    g_assert_null(connect_client(f, ""));
    g_assert_null(connect_client(f, "secret"));
    g_assert_cmpint(hv_vnc_set_password(f->vnc, "secret", &err), ==, 0);
    g_assert_null(connect_client(f, "wrong"));
    rfbClient *c = connect_client(f, "secret");
    g_assert_nonnull(c);
    g_assert_true(next_frame(c));
    g_assert_true(frame_shows(c, W, H, 1, 1, 0xff0000));
    disconnect(c);
    /* An empty password locks everyone out again. */
    g_assert_cmpint(hv_vnc_set_password(f->vnc, "", &err), ==, 0);
    g_assert_null(connect_client(f, ""));
    g_atomic_int_set(&f->done, 1);
    return NULL;
}

static void test_password(struct fixture *f, gconstpointer data)
{
    (void)data;
    run_client(f, password_client);
}

static void test_no_password(struct fixture *f, gconstpointer data)
{
    (void)data;
    char *err = NULL;
    g_assert_cmpint(hv_vnc_set_password(f->vnc, "x", &err), ==, -EINVAL);
    g_assert_nonnull(strstr(err, "password=on"));
    g_free(err);
}

/* Waits (up to 5 s) for the server to close `fd`. */
static bool closed_by_server(int fd)
{
    char buf[4096];
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (g_get_monotonic_time() < end) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
    }
    return false;
}

static gpointer bad_clients(gpointer opaque)
{
    struct fixture *f = opaque;
    char version[12];

    /* Garbage instead of a protocol version. */
    int fd = raw_connect(f);
    g_assert_true(read_all(fd, version, 12));
    g_assert_cmpint(memcmp(version, "RFB 003.008\n", 12), ==, 0);
    g_assert_cmpint(write(fd, "GET / HTTP/1.1\r\n\r\n\xff\xfe", 20), ==, 20);
    g_assert_true(closed_by_server(fd));
    close(fd);

    /* A proper handshake, then an unknown message type. */
    fd = raw_connect(f);
    g_assert_true(read_all(fd, version, 12));
    g_assert_cmpint(write(fd, "RFB 003.008\n", 12), ==, 12);
    uint8_t n, types[16], pick = 1, result[4], init = 1;
    g_assert_true(read_all(fd, &n, 1));
    g_assert_cmpuint(n, >=, 1);
    g_assert_true(read_all(fd, types, n));
    g_assert_cmpint(write(fd, &pick, 1), ==, 1);
    g_assert_true(read_all(fd, result, 4));
    g_assert_cmpint(write(fd, &init, 1), ==, 1);
    uint8_t server_init[24];
    g_assert_true(read_all(fd, server_init, 24));
    uint32_t name_len = (uint32_t)server_init[20] << 24 | (uint32_t)server_init[21] << 16 |
                        (uint32_t)server_init[22] << 8 | server_init[23];
    char name[64];
    g_assert_cmpuint(name_len, <, sizeof(name));
    g_assert_true(read_all(fd, name, name_len));
    g_assert_cmpint(write(fd, "\x77garbage", 8), ==, 8);
    g_assert_true(closed_by_server(fd));
    close(fd);

    /* The server still serves a well-behaved client. */
    rfbClient *c = connect_client(f, NULL);
    g_assert_nonnull(c);
    g_assert_true(next_frame(c));
    disconnect(c);
    g_atomic_int_set(&f->done, 1);
    return NULL;
}

static void test_garbage(struct fixture *f, gconstpointer data)
{
    (void)data;
    run_client(f, bad_clients);
}

/*
 * A client that asks for updates and never reads them: the server's writes stall, it
 * drops that client after its timeout, and the main loop never waits for any of it.
 */
static gpointer stalled_client(gpointer opaque)
{
    struct fixture *f = opaque;
    char version[12];
    int fd = raw_connect(f);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    g_assert_true(read_all(fd, version, 12));
    g_assert_cmpint(write(fd, "RFB 003.008\n", 12), ==, 12);
    uint8_t n, types[16], pick = 1, result[4], init = 1, server_init[24];
    g_assert_true(read_all(fd, &n, 1));
    g_assert_true(read_all(fd, types, n));
    g_assert_cmpint(write(fd, &pick, 1), ==, 1);
    g_assert_true(read_all(fd, result, 4));
    g_assert_cmpint(write(fd, &init, 1), ==, 1);
    g_assert_true(read_all(fd, server_init, 24));
    uint16_t w = (uint16_t)(server_init[0] << 8 | server_init[1]);
    uint16_t h = (uint16_t)(server_init[2] << 8 | server_init[3]);
    /* Full updates, non-incremental, many times over: megabytes nobody reads. */
    uint8_t req[10] = {3, 0, 0, 0, 0, 0, (uint8_t)(w >> 8), (uint8_t)w, (uint8_t)(h >> 8),
                       (uint8_t)h};
    for (unsigned i = 0; i < 8; i++)
        g_assert_cmpint(write(fd, req, sizeof(req)), ==, sizeof(req));
    g_usleep(500000);
    /* A second client's keys arrive once the first is dropped (libvncserver waits for a
       stalled write in steps of 5 s, then closes that client). */
    rfbClient *c = connect_client(f, NULL);
    g_assert_nonnull(c);
    SendKeyEvent(c, 'z', TRUE);
    SendKeyEvent(c, 'z', FALSE);
    g_assert_true(wait_text_for(f, f->keys, "+44 -44 ", 15));
    disconnect(c);
    close(fd);
    g_atomic_int_set(&f->done, 1);
    return NULL;
}

static void test_stalled(struct fixture *f, gconstpointer data)
{
    (void)data;
    /* A big screen, so one update overfills the socket buffers. */
    paint(f->pixels, 1024, 0, 0, 1024, 768, 0x808080);
    hv_surface_set_mode(f->surface, 1024, 768, 1024 * 4, (uint8_t *)f->pixels);
    GThread *t = g_thread_new("client", stalled_client, f);
    gint64 worst = 0, last = g_get_monotonic_time();
    while (!g_atomic_int_get(&f->done)) {
        while (g_main_context_iteration(NULL, FALSE))
            ;
        g_usleep(1000);
        gint64 now = g_get_monotonic_time();
        worst = MAX(worst, now - last);
        last = now;
    }
    g_thread_join(t);
    /*
     * The main loop never waited on the stalled client: a wait would last the server's
     * 2 s write timeout. 1 s leaves room for a loaded machine's scheduling.
     */
    g_assert_cmpint(worst, <, 1000000);
}

static void test_spec(void)
{
    struct hv_vnc_spec spec;
    char *err = NULL;
    g_assert_cmpint(hv_vnc_spec_parse("127.0.0.1:5901,password=on,keymap=pt-br", &spec, &err),
                    ==, 0);
    g_assert_cmpint(spec.ep.kind, ==, HV_ENDPOINT_TCP);
    g_assert_cmpuint(spec.ep.port, ==, 5901);
    g_assert_true(spec.password);
    g_assert_cmpint(spec.keymap, ==, HV_KEYMAP_PT_BR);
    hv_vnc_spec_clear(&spec);
    g_assert_cmpint(hv_vnc_spec_parse("5900", &spec, &err), ==, 0);
    g_assert_cmpstr(spec.ep.host, ==, "127.0.0.1");
    hv_vnc_spec_clear(&spec);
    g_assert_cmpint(hv_vnc_spec_parse("unix", &spec, &err), ==, 0);
    g_assert_cmpint(hv_vnc_spec_finish(&spec, "/run/x/vm.sock", &err), ==, 0);
    g_assert_cmpstr(spec.ep.path, ==, "/run/x/vm.vnc");
    hv_vnc_spec_clear(&spec);
    g_assert_cmpint(hv_vnc_spec_parse("unix", &spec, &err), ==, 0);
    g_assert_cmpint(hv_vnc_spec_finish(&spec, NULL, &err), ==, -EINVAL);
    g_assert_nonnull(strstr(err, "--control"));
    g_clear_pointer(&err, g_free);
    hv_vnc_spec_clear(&spec);
    static const char *const bad[] = {":0", "unix:", "127.0.0.1:5900,password=maybe",
                                      "127.0.0.1:5900,keymap=de", "127.0.0.1:99999"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmpint(hv_vnc_spec_parse(bad[i], &spec, &err), ==, -EINVAL);
        g_assert_nonnull(strstr(err, "--vnc"));
        g_assert_null(strchr(err, '\n'));
        g_clear_pointer(&err, g_free);
        hv_vnc_spec_clear(&spec);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    rfbClientLog = rfbClientErr = quiet; /* libvncclient's chatter off */
    g_test_add_func("/vnc/spec", test_spec);
#define ADD(path, opts, fn) g_test_add(path, struct fixture, opts, vnc_setup, fn, vnc_teardown)
    ADD("/vnc/pixels", NULL, test_pixels);
    ADD("/vnc/input", NULL, test_input);
    ADD("/vnc/password", ",password=on", test_password);
    ADD("/vnc/no-password", NULL, test_no_password);
    ADD("/vnc/garbage", NULL, test_garbage);
    ADD("/vnc/stalled-client", NULL, test_stalled);
    return g_test_run();
}
