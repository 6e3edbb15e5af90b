/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests for the serial console backends: parsing, file, unix socket, stdio on a pty. */
#include "devices/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Runs the default main context until `cond` holds; fails the test after two seconds. */
#define SPIN_UNTIL(cond)                                                                           \
    do {                                                                                           \
        gint64 deadline_ = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;                            \
        while (!(cond)) {                                                                          \
            g_assert_cmpint(g_get_monotonic_time(), <, deadline_);                                 \
            if (!g_main_context_iteration(NULL, FALSE))                                            \
                g_usleep(200);                                                                     \
        }                                                                                          \
    } while (0)

/* Dispatches everything that is ready now; a source that stays ready forever fails. */
static void settle(void)
{
    unsigned n = 0;
    while (g_main_context_iteration(NULL, FALSE))
        g_assert_cmpuint(++n, <, 1000);
}

struct sink {
    GByteArray *in;
    size_t accept; /* how many bytes the next input calls may take in total */
    unsigned calls;
    unsigned quits;
};

static size_t sink_input(void *opaque, const uint8_t *buf, size_t len)
{
    struct sink *s = opaque;
    size_t n = MIN(len, s->accept);
    s->calls++;
    g_byte_array_append(s->in, buf, n);
    s->accept -= n;
    return n;
}

static void sink_quit(void *opaque)
{
    struct sink *s = opaque;
    s->quits++;
}

static struct hv_chardev_callbacks sink_init(struct sink *s)
{
    *s = (struct sink){.in = g_byte_array_new(), .accept = SIZE_MAX};
    return (struct hv_chardev_callbacks){.input = sink_input, .quit = sink_quit, .opaque = s};
}

static void sink_clear(struct sink *s)
{
    g_byte_array_unref(s->in);
}

static bool sink_has(const struct sink *s, const char *text)
{
    return s->in->len == strlen(text) && memcmp(s->in->data, text, s->in->len) == 0;
}

static struct hv_chardev *open_text(const char *text, struct hv_chardev_callbacks *cb,
                                    GError **error)
{
    struct hv_chardev_spec spec;
    g_autofree char *err = NULL;
    g_assert_cmpint(hv_chardev_parse(text, &spec, &err), ==, 0);
    struct hv_chardev *dev = hv_chardev_open(&spec, cb, error);
    hv_chardev_spec_clear(&spec);
    return dev;
}

static char *make_tmpdir(void)
{
    GError *error = NULL;
    char *dir = g_dir_make_tmp("vmdesk-chardev-XXXXXX", &error);
    g_assert_no_error(error);
    return dir;
}

static void remove_tmpdir(char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
    g_free(dir);
}

static int client_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
    return fd;
}

/* Appends what is readable now; returns -1 at EOF. */
static ssize_t pump(int fd, GByteArray *into)
{
    uint8_t buf[65536];
    ssize_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0)
            return -1;
        if (n < 0) {
            g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNRESET);
            return errno == ECONNRESET ? -1 : total;
        }
        g_byte_array_append(into, buf, (guint)n);
        total += n;
    }
}

static void send_str(int fd, const char *s)
{
    g_assert_cmpint(write(fd, s, strlen(s)), ==, (ssize_t)strlen(s));
}

static void test_parse_ok(void)
{
    struct hv_chardev_spec spec;
    char *err = NULL;

    g_assert_cmpint(hv_chardev_parse("stdio", &spec, &err), ==, 0);
    g_assert_cmpint(spec.kind, ==, HV_CHARDEV_STDIO);
    g_assert_null(spec.path);
    hv_chardev_spec_clear(&spec);

    g_assert_cmpint(hv_chardev_parse("file:/tmp/serial.log", &spec, &err), ==, 0);
    g_assert_cmpint(spec.kind, ==, HV_CHARDEV_FILE);
    g_assert_cmpstr(spec.path, ==, "/tmp/serial.log");
    hv_chardev_spec_clear(&spec);
    g_assert_null(spec.path);

    /* Everything after the first colon is the path, colons included. */
    g_assert_cmpint(hv_chardev_parse("unix:rel/a:b.sock", &spec, &err), ==, 0);
    g_assert_cmpint(spec.kind, ==, HV_CHARDEV_UNIX);
    g_assert_cmpstr(spec.path, ==, "rel/a:b.sock");
    hv_chardev_spec_clear(&spec);
    g_assert_null(err);
}

static void test_parse_errors(void)
{
    static const char *bad[] = {"foo", "", "stdio:", "STDIO", "file", "tcp:1234", "unix"};
    struct hv_chardev_spec spec;

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *err = NULL;
        g_assert_cmpint(hv_chardev_parse(bad[i], &spec, &err), ==, -EINVAL);
        g_autofree char *quoted = g_strdup_printf("'%s'", bad[i]);
        g_assert_nonnull(strstr(err, quoted));
        g_assert_nonnull(strstr(err, "expected stdio, file:PATH or unix:PATH"));
        g_assert_null(strchr(err, '\n'));
        g_assert_null(spec.path);
        g_free(err);
    }
    char *err = NULL;
    g_assert_cmpint(hv_chardev_parse("foo", &spec, &err), ==, -EINVAL);
    g_assert_cmpstr(err, ==, "--serial value 'foo': expected stdio, file:PATH or unix:PATH");
    g_free(err);
    for (unsigned i = 0; i < 2; i++) {
        const char *text = i ? "unix:" : "file:";
        g_assert_cmpint(hv_chardev_parse(text, &spec, &err), ==, -EINVAL);
        g_assert_nonnull(strstr(err, "path is empty"));
        g_assert_nonnull(strstr(err, text));
        g_free(err);
    }
    /* err may be NULL when the caller only wants the verdict. */
    g_assert_cmpint(hv_chardev_parse("nope", &spec, NULL), ==, -EINVAL);
}

static void test_file(void)
{
    char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "serial.log", NULL);
    g_autofree char *text = g_strdup_printf("file:%s", path);
    g_autofree char *contents = NULL;
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;

    /* Truncated, not appended to. */
    g_assert_true(g_file_set_contents(path, "old contents that must go", -1, NULL));
    struct hv_chardev *dev = open_text(text, &cb, &error);
    g_assert_no_error(error);
    hv_chardev_write(dev, (const uint8_t *)"abc", 3);
    hv_chardev_write(dev, (const uint8_t *)"def\r\n", 5);
    settle();
    hv_chardev_close(dev);
    g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    g_assert_cmpstr(contents, ==, "abcdef\r\n");
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(s.calls, ==, 0);

    /* Created with 0644 (less the umask). */
    g_unlink(path);
    mode_t old = umask(022);
    dev = open_text(text, &cb, &error);
    umask(old);
    g_assert_no_error(error);
    hv_chardev_close(dev);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0644);

    sink_clear(&s);
    remove_tmpdir(dir);
}

static void test_file_error(void)
{
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;

    g_assert_null(open_text("file:/nonexistent-vmdesk-dir/serial.log", &cb, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(error->message, ==,
                    "--serial file:/nonexistent-vmdesk-dir/serial.log: cannot open: "
                    "No such file or directory");
    g_clear_error(&error);
    sink_clear(&s);
}

static void test_unix_io(void)
{
    char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "console.sock", NULL);
    g_autofree char *text = g_strdup_printf("unix:%s", path);
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;
    GByteArray *got = g_byte_array_new();

    struct hv_chardev *dev = open_text(text, &cb, &error);
    g_assert_no_error(error);
    /* With no client, output goes nowhere and nothing blocks. */
    hv_chardev_write(dev, (const uint8_t *)"lost", 4);

    int c = client_connect(path);
    send_str(c, "hello");
    SPIN_UNTIL(s.in->len == 5);
    g_assert_true(sink_has(&s, "hello"));
    hv_chardev_write(dev, (const uint8_t *)"world\r\n", 7);
    SPIN_UNTIL(pump(c, got) >= 0 && got->len == 7);
    g_assert_cmpmem(got->data, got->len, "world\r\n", 7);

    /* The client leaves; the guest carries on. */
    close(c);
    settle();
    hv_chardev_write(dev, (const uint8_t *)"nobody", 6);
    settle();

    /* A new client attaches and only sees what is written from now on. */
    g_byte_array_set_size(got, 0);
    g_byte_array_set_size(s.in, 0);
    c = client_connect(path);
    send_str(c, "again");
    SPIN_UNTIL(s.in->len == 5);
    g_assert_true(sink_has(&s, "again"));
    hv_chardev_write(dev, (const uint8_t *)"back", 4);
    SPIN_UNTIL(pump(c, got) >= 0 && got->len == 4);
    g_assert_cmpmem(got->data, got->len, "back", 4);

    hv_chardev_close(dev);
    /* Closing hangs up on the client and removes the socket file. */
    SPIN_UNTIL(pump(c, got) < 0);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    close(c);
    g_byte_array_unref(got);
    sink_clear(&s);
    remove_tmpdir(dir);
}

static void test_unix_busy(void)
{
    char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "console.sock", NULL);
    g_autofree char *text = g_strdup_printf("unix:%s", path);
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;
    GByteArray *got = g_byte_array_new();

    struct hv_chardev *dev = open_text(text, &cb, &error);
    g_assert_no_error(error);
    int c1 = client_connect(path);
    send_str(c1, "1");
    SPIN_UNTIL(s.in->len == 1);

    int c2 = client_connect(path);
    SPIN_UNTIL(pump(c2, got) < 0);
    g_assert_cmpmem(got->data, got->len, "vmdesk: console busy\r\n", 22);
    close(c2);

    /* The first client is undisturbed. */
    send_str(c1, "2");
    SPIN_UNTIL(s.in->len == 2);
    g_assert_true(sink_has(&s, "12"));
    g_byte_array_set_size(got, 0);
    hv_chardev_write(dev, (const uint8_t *)"ok", 2);
    SPIN_UNTIL(pump(c1, got) >= 0 && got->len == 2);

    /* A client that hung up while its input was paused does not keep the console busy. */
    s.accept = 0;
    send_str(c1, "3");
    SPIN_UNTIL(s.calls == 3);
    close(c1);
    int c3 = client_connect(path);
    g_byte_array_set_size(got, 0);
    settle();
    hv_chardev_write(dev, (const uint8_t *)"hi", 2);
    SPIN_UNTIL(pump(c3, got) >= 0 && got->len == 2);
    g_assert_cmpmem(got->data, got->len, "hi", 2);
    close(c3);

    hv_chardev_close(dev);
    g_byte_array_unref(got);
    sink_clear(&s);
    remove_tmpdir(dir);
}

static int bound_socket(const char *path, bool do_listen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    if (do_listen)
        g_assert_cmpint(listen(fd, 1), ==, 0);
    return fd;
}

static void test_unix_stale(void)
{
    char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "console.sock", NULL);
    g_autofree char *text = g_strdup_printf("unix:%s", path);
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;

    /* Left behind by a VMM that was killed: bound, nobody listening. */
    close(bound_socket(path, false));
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    struct hv_chardev *dev = open_text(text, &cb, &error);
    g_assert_no_error(error);
    int c = client_connect(path);
    send_str(c, "x");
    SPIN_UNTIL(s.in->len == 1);
    close(c);
    hv_chardev_close(dev);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    sink_clear(&s);
    remove_tmpdir(dir);
}

static void test_unix_live(void)
{
    char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "console.sock", NULL);
    g_autofree char *text = g_strdup_printf("unix:%s", path);
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;

    int other = bound_socket(path, true);
    g_assert_null(open_text(text, &cb, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_null(strchr(error->message, '\n'));
    g_clear_error(&error);
    /* The other process's socket is untouched and still answers. */
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    int c = client_connect(path);
    close(c);
    close(other);
    sink_clear(&s);
    remove_tmpdir(dir);
}

static void test_unix_not_socket(void)
{
    char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "precious.txt", NULL);
    g_autofree char *text = g_strdup_printf("unix:%s", path);
    g_autofree char *contents = NULL;
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;

    g_assert_true(g_file_set_contents(path, "keep me", -1, NULL));
    g_assert_null(open_text(text, &cb, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_nonnull(strstr(error->message, "not a socket"));
    g_clear_error(&error);
    g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    g_assert_cmpstr(contents, ==, "keep me");
    sink_clear(&s);
    remove_tmpdir(dir);
}

static void test_unix_errors(void)
{
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;

    g_assert_null(open_text("unix:/nonexistent-vmdesk-dir/x.sock", &cb, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(error->message, ==,
                    "--serial unix:/nonexistent-vmdesk-dir/x.sock: cannot listen: "
                    "No such file or directory");
    g_clear_error(&error);

    g_autofree char *longpath = g_strnfill(200, 'a');
    g_autofree char *text = g_strdup_printf("unix:/tmp/%s", longpath);
    g_assert_null(open_text(text, &cb, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "too long"));
    g_clear_error(&error);
    sink_clear(&s);
}

static void fill_pattern(uint8_t *buf, size_t len, size_t start)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)((start + i) % 251);
}

static void check_pattern(const GByteArray *got)
{
    for (size_t i = 0; i < got->len; i++)
        if (got->data[i] != (uint8_t)(i % 251))
            g_error("byte %zu is %u, expected %u", i, got->data[i], (unsigned)(i % 251));
}

/* A client that does not read costs the guest nothing: output beyond a bound is dropped. */
static void test_unix_slow_client(void)
{
    char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "console.sock", NULL);
    g_autofree char *text = g_strdup_printf("unix:%s", path);
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;
    GByteArray *got = g_byte_array_new();
    uint8_t chunk[4096];

    struct hv_chardev *dev = open_text(text, &cb, &error);
    g_assert_no_error(error);
    int c = client_connect(path);
    send_str(c, "!");
    SPIN_UNTIL(s.in->len == 1);

    gint64 start = g_get_monotonic_time();
    size_t total = 4 * 1024 * 1024;
    for (size_t off = 0; off < total; off += sizeof(chunk)) {
        fill_pattern(chunk, sizeof(chunk), off);
        hv_chardev_write(dev, chunk, sizeof(chunk));
    }
    g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC / 2);

    /* Read until the pipeline is empty; what arrives is the stream's beginning, in order. */
    gint64 quiet = g_get_monotonic_time();
    while (g_get_monotonic_time() - quiet < 100 * 1000) {
        g_main_context_iteration(NULL, FALSE);
        if (pump(c, got) > 0)
            quiet = g_get_monotonic_time();
        else
            g_usleep(500);
    }
    g_assert_cmpuint(got->len, >=, 256 * 1024);
    g_assert_cmpuint(got->len, <, total);
    check_pattern(got);

    /* After catching up, output flows again. */
    g_byte_array_set_size(got, 0);
    hv_chardev_write(dev, (const uint8_t *)"fresh", 5);
    SPIN_UNTIL(pump(c, got) >= 0 && got->len == 5);
    g_assert_cmpmem(got->data, got->len, "fresh", 5);

    close(c);
    hv_chardev_close(dev);
    g_byte_array_unref(got);
    sink_clear(&s);
    remove_tmpdir(dir);
}

struct writer {
    struct hv_chardev *dev;
    size_t total;
    int done;
};

static void *writer_thread(void *arg)
{
    struct writer *w = arg;
    uint8_t chunk[1000];
    for (size_t off = 0; off < w->total; off += sizeof(chunk)) {
        fill_pattern(chunk, sizeof(chunk), off);
        hv_chardev_write(w->dev, chunk, sizeof(chunk));
    }
    g_atomic_int_set(&w->done, 1);
    return NULL;
}

/* A vCPU thread writes faster than the socket drains; the main loop is woken to finish. */
static void test_unix_thread_write(void)
{
    char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "console.sock", NULL);
    g_autofree char *text = g_strdup_printf("unix:%s", path);
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;
    GByteArray *got = g_byte_array_new();
    pthread_t thread;

    struct hv_chardev *dev = open_text(text, &cb, &error);
    g_assert_no_error(error);
    int c = client_connect(path);
    send_str(c, "!");
    SPIN_UNTIL(s.in->len == 1);

    /*
     * The client reads only once the writer is done, so the socket fills and the rest
     * waits in the buffer; 200 kB is under its 256 KiB bound, so nothing may be lost.
     */
    struct writer w = {.dev = dev, .total = 200 * 1000};
    g_assert_cmpint(pthread_create(&thread, NULL, writer_thread, &w), ==, 0);
    SPIN_UNTIL(g_atomic_int_get(&w.done));
    pthread_join(thread, NULL);
    SPIN_UNTIL(pump(c, got) >= 0 && got->len == w.total);
    check_pattern(got);

    close(c);
    hv_chardev_close(dev);
    g_byte_array_unref(got);
    sink_clear(&s);
    remove_tmpdir(dir);
}

static void test_flow_control(void)
{
    char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "console.sock", NULL);
    g_autofree char *text = g_strdup_printf("unix:%s", path);
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;

    struct hv_chardev *dev = open_text(text, &cb, &error);
    g_assert_no_error(error);
    int c = client_connect(path);
    s.accept = 0;
    send_str(c, "abc");
    SPIN_UNTIL(s.calls == 1);
    g_assert_cmpuint(s.in->len, ==, 0);
    /* Paused: more input stays in the socket, no further offers. */
    send_str(c, "def");
    for (unsigned i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(500);
    }
    g_assert_cmpuint(s.calls, ==, 1);
    /* Room for one byte: the rest of the first read is kept. */
    s.accept = 1;
    hv_chardev_accept_input(dev);
    g_assert_cmpuint(s.calls, ==, 2);
    g_assert_true(sink_has(&s, "a"));
    settle();
    g_assert_cmpuint(s.calls, ==, 2);
    /* Room for everything: the kept bytes first, then reading resumes. */
    s.accept = SIZE_MAX;
    hv_chardev_accept_input(dev);
    g_assert_true(sink_has(&s, "abc"));
    SPIN_UNTIL(s.in->len == 6);
    g_assert_true(sink_has(&s, "abcdef"));
    /* Nothing pending: accepting again offers nothing. */
    unsigned calls = s.calls;
    hv_chardev_accept_input(dev);
    g_assert_cmpuint(s.calls, ==, calls);

    close(c);
    hv_chardev_close(dev);
    sink_clear(&s);
    remove_tmpdir(dir);
}

/* A pty standing in for the user's terminal, put on fds 0 and 1 for the duration. */
struct pty {
    int master;
    int slave;
    int saved_in;
    int saved_out;
};

static void pty_open(struct pty *p)
{
    char name[128];
    p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint(p->master, >=, 0);
    g_assert_cmpint(grantpt(p->master), ==, 0);
    g_assert_cmpint(unlockpt(p->master), ==, 0);
    g_assert_cmpint(ptsname_r(p->master, name, sizeof(name)), ==, 0);
    p->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint(p->slave, >=, 0);
    g_assert_cmpint(fcntl(p->master, F_SETFL, O_NONBLOCK), ==, 0);
    p->saved_in = -1;
    p->saved_out = -1;
}

static void pty_redirect(struct pty *p)
{
    fflush(stdout);
    p->saved_in = dup(STDIN_FILENO);
    p->saved_out = dup(STDOUT_FILENO);
    g_assert_cmpint(dup2(p->slave, STDIN_FILENO), ==, STDIN_FILENO);
    g_assert_cmpint(dup2(p->slave, STDOUT_FILENO), ==, STDOUT_FILENO);
}

static void pty_close(struct pty *p)
{
    if (p->saved_in >= 0) {
        dup2(p->saved_in, STDIN_FILENO);
        dup2(p->saved_out, STDOUT_FILENO);
        close(p->saved_in);
        close(p->saved_out);
    }
    close(p->slave);
    close(p->master);
}

static bool is_raw(int fd)
{
    struct termios t;
    g_assert_cmpint(tcgetattr(fd, &t), ==, 0);
    return !(t.c_lflag & (ICANON | ECHO | ISIG)) && !(t.c_oflag & OPOST) &&
           !(t.c_iflag & (ICRNL | IXON));
}

static bool is_cooked(int fd)
{
    struct termios t;
    g_assert_cmpint(tcgetattr(fd, &t), ==, 0);
    return (t.c_lflag & (ICANON | ECHO | ISIG)) == (ICANON | ECHO | ISIG) && (t.c_oflag & OPOST);
}

static void test_stdio_pty(void)
{
    struct pty p;
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;
    GByteArray *got = g_byte_array_new();

    pty_open(&p);
    g_assert_true(is_cooked(p.slave));
    pty_redirect(&p);
    struct hv_chardev *dev = open_text("stdio", &cb, &error);
    g_assert_no_error(error);
    g_assert_true(is_raw(p.slave));

    /* Only one stdio backend at a time. */
    g_assert_null(open_text("stdio", &cb, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_BUSY);
    g_clear_error(&error);

    /* Raw input: Ctrl-C and CR arrive as typed. */
    send_str(p.master, "ls\x03\r");
    SPIN_UNTIL(s.in->len == 4);
    g_assert_true(sink_has(&s, "ls\x03\r"));

    /* Ctrl-A A is one Ctrl-A; Ctrl-A then anything else is both. */
    g_byte_array_set_size(s.in, 0);
    send_str(p.master, "\001a\001b\001\001");
    SPIN_UNTIL(s.in->len == 5);
    g_assert_cmpmem(s.in->data, s.in->len, "\001\001b\001\001", 5);

    /* Raw output: the guest's \r\n is not turned into \r\r\n. */
    hv_chardev_write(dev, (const uint8_t *)"out\r\n", 5);
    SPIN_UNTIL(pump(p.master, got) >= 0 && got->len == 5);
    g_assert_cmpmem(got->data, got->len, "out\r\n", 5);

    /* Ctrl-A X, split across two reads, quits; what was typed before it is delivered. */
    g_byte_array_set_size(s.in, 0);
    send_str(p.master, "z\x01");
    SPIN_UNTIL(s.in->len == 1);
    g_assert_cmpuint(s.quits, ==, 0);
    send_str(p.master, "x");
    SPIN_UNTIL(s.quits == 1);
    g_assert_true(sink_has(&s, "z"));

    hv_chardev_close(dev);
    g_assert_true(is_cooked(p.slave));
    pty_close(&p);
    g_byte_array_unref(got);
    sink_clear(&s);
}

/* The terminal comes back when the VMM dies by a signal or leaves by exit(). */
static void check_restore_in_child(bool by_signal)
{
    struct pty p;
    int status;

    pty_open(&p);
    fflush(NULL);
    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        struct sink s;
        struct hv_chardev_callbacks cb = sink_init(&s);
        signal(SIGTERM, SIG_DFL);
        dup2(p.slave, STDIN_FILENO);
        dup2(p.slave, STDOUT_FILENO);
        if (!open_text("stdio", &cb, NULL) || !is_raw(STDIN_FILENO))
            _exit(2);
        if (by_signal)
            raise(SIGTERM);
        exit(7);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    if (by_signal) {
        g_assert_true(WIFSIGNALED(status));
        g_assert_cmpint(WTERMSIG(status), ==, SIGTERM);
    } else {
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 7);
    }
    g_assert_true(is_cooked(p.slave));
    pty_close(&p);
}

static void test_stdio_restore_signal(void)
{
    check_restore_in_child(true);
}

static void test_stdio_restore_exit(void)
{
    check_restore_in_child(false);
}

/* Not a terminal: input is passed through untouched, EOF stops reading, a full pipe drops. */
static void test_stdio_pipes(void)
{
    int in[2], out[2];
    struct sink s;
    struct hv_chardev_callbacks cb = sink_init(&s);
    GError *error = NULL;
    GByteArray *got = g_byte_array_new();
    uint8_t chunk[4096];

    g_assert_cmpint(pipe2(in, O_CLOEXEC), ==, 0);
    g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);
    g_assert_cmpint(fcntl(out[0], F_SETFL, O_NONBLOCK), ==, 0);
    fflush(stdout);
    int saved_in = dup(STDIN_FILENO), saved_out = dup(STDOUT_FILENO);
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);

    struct hv_chardev *dev = open_text("stdio", &cb, &error);
    g_assert_no_error(error);
    send_str(in[1], "a\x01x\n");
    SPIN_UNTIL(s.in->len == 4);
    g_assert_true(sink_has(&s, "a\x01x\n"));
    g_assert_cmpuint(s.quits, ==, 0);
    close(in[1]);
    settle();
    /* Nothing keeps firing on the pipe at EOF. */
    g_assert_false(g_main_context_pending(NULL));

    /* Fill the pipe, as if whoever reads our stdout stopped reading. */
    g_assert_cmpint(fcntl(out[1], F_SETFL, O_NONBLOCK), ==, 0);
    fill_pattern(chunk, sizeof(chunk), 0);
    size_t filler = 0;
    for (;;) {
        ssize_t n = write(out[1], chunk, sizeof(chunk));
        if (n < 0)
            break;
        filler += (size_t)n;
    }
    g_assert_cmpint(fcntl(out[1], F_SETFL, 0), ==, 0);
    gint64 start = g_get_monotonic_time();
    size_t total = 3 * 1024 * 1024;
    for (size_t off = 0; off < total; off += sizeof(chunk)) {
        fill_pattern(chunk, sizeof(chunk), off);
        hv_chardev_write(dev, chunk, sizeof(chunk));
    }
    g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC / 2);

    GByteArray *all = g_byte_array_new();
    gint64 quiet = g_get_monotonic_time();
    while (g_get_monotonic_time() - quiet < 100 * 1000) {
        g_main_context_iteration(NULL, FALSE);
        if (pump(out[0], all) > 0)
            quiet = g_get_monotonic_time();
        else
            g_usleep(500);
    }
    g_assert_cmpuint(all->len, >, filler);
    g_byte_array_append(got, all->data + filler, all->len - (guint)filler);
    g_assert_cmpuint(got->len, >=, 1024 * 1024);
    g_assert_cmpuint(got->len, <, total);
    check_pattern(got);

    hv_chardev_close(dev);
    dup2(saved_in, STDIN_FILENO);
    dup2(saved_out, STDOUT_FILENO);
    close(saved_in);
    close(saved_out);
    close(in[0]);
    close(out[0]);
    close(out[1]);
    g_byte_array_unref(all);
    g_byte_array_unref(got);
    sink_clear(&s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chardev/parse-ok", test_parse_ok);
    g_test_add_func("/chardev/parse-errors", test_parse_errors);
    g_test_add_func("/chardev/file", test_file);
    g_test_add_func("/chardev/file-error", test_file_error);
    g_test_add_func("/chardev/unix-io", test_unix_io);
    g_test_add_func("/chardev/unix-busy", test_unix_busy);
    g_test_add_func("/chardev/unix-stale", test_unix_stale);
    g_test_add_func("/chardev/unix-live", test_unix_live);
    g_test_add_func("/chardev/unix-not-socket", test_unix_not_socket);
    g_test_add_func("/chardev/unix-errors", test_unix_errors);
    g_test_add_func("/chardev/unix-slow-client", test_unix_slow_client);
    g_test_add_func("/chardev/unix-thread-write", test_unix_thread_write);
    g_test_add_func("/chardev/flow-control", test_flow_control);
    g_test_add_func("/chardev/stdio-pty", test_stdio_pty);
    g_test_add_func("/chardev/stdio-restore-signal", test_stdio_restore_signal);
    g_test_add_func("/chardev/stdio-restore-exit", test_stdio_restore_exit);
    g_test_add_func("/chardev/stdio-pipes", test_stdio_pipes);
    return g_test_run();
}
