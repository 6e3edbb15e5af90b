/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Host side of a serial port: stdio (raw terminal), a file, or a unix socket. */
#include "devices/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define IN_CHUNK 1024
#define CTRL_A 0x01
#define STDIO_OUT_CAP (1024 * 1024)
#define UNIX_OUT_CAP (256 * 1024)
#define FILE_OUT_CAP (64 * 1024)
#define BUSY_MESSAGE "vmdesk: console busy\r\n"

struct out_source {
    GSource base;
    struct hv_chardev *dev;
};

/*
 * Threads: everything runs on the thread that owns the GMainContext except
 * hv_chardev_write(), which vCPU threads call through the UART's tx callback; it only
 * touches the output half, under `lock`, and wakes the main loop when it leaves bytes
 * behind. The caller stops the vCPUs (or the UART) before hv_chardev_close(), and the
 * input and quit callbacks must not close the chardev they are called from.
 */
struct hv_chardev {
    enum hv_chardev_kind kind;
    struct hv_chardev_callbacks cb;
    GMainContext *ctx;

    /* Input; main-loop thread only. */
    int in_fd; /* -1 once there is nothing (more) to read */
    GSource *in_src;
    uint8_t pend[2 * IN_CHUNK];
    size_t pend_off;
    size_t pend_len;
    bool escapes; /* stdio on a terminal: Ctrl-A commands */
    bool escape;  /* the last byte typed was Ctrl-A */
    bool quit_pending;
    bool delivering;

    /* unix: */
    int listen_fd;
    GSource *listen_src;
    int client_fd;
    char *path;
    bool bound;
    bool created; /* file: the file did not exist before we opened it */
    dev_t sock_dev;
    ino_t sock_ino;

    /* Output; shared with vCPU threads under `lock`. */
    pthread_mutex_t lock;
    int out_fd; /* -1: output is dropped */
    bool out_is_sock;
    bool out_failed; /* a write failed for good; the main loop reacts */
    bool out_armed;  /* the main loop polls out_fd for G_IO_OUT */
    uint8_t *ring;
    size_t ring_cap;
    size_t ring_head;
    size_t ring_len;
    int kick; /* atomic: hv_chardev_write left work for the main loop */
    GSource *out_src;
    gpointer out_tag; /* main-loop thread only */
    int owned_out_fd; /* stdio and file: the fd close() must close */
};

/* The terminal state to put back, reachable from atexit and signal handlers. */
static struct {
    int fd;
    struct termios saved;
    volatile sig_atomic_t active;
    struct sigaction old[3];
    bool hooked[3];
} tty;
static const int tty_signals[3] = {SIGTERM, SIGINT, SIGHUP};
static bool tty_atexit_done;
static struct hv_chardev *stdio_owner;

int hv_chardev_parse(const char *text, struct hv_chardev_spec *spec, char **err)
{
    const char *expected = "expected stdio, file:PATH or unix:PATH";

    *spec = (struct hv_chardev_spec){0};
    if (!text)
        text = "";
    if (strcmp(text, "stdio") == 0) {
        spec->kind = HV_CHARDEV_STDIO;
        return 0;
    }
    if (g_str_has_prefix(text, "file:") || g_str_has_prefix(text, "unix:")) {
        const char *path = text + 5;
        if (!*path) {
            if (err)
                *err =
                    g_strdup_printf("--serial value '%s': the path is empty; %s", text, expected);
            return -EINVAL;
        }
        spec->kind = text[0] == 'f' ? HV_CHARDEV_FILE : HV_CHARDEV_UNIX;
        spec->path = g_strdup(path);
        return 0;
    }
    if (err)
        *err = g_strdup_printf("--serial value '%s': %s", text, expected);
    return -EINVAL;
}

void hv_chardev_spec_clear(struct hv_chardev_spec *spec)
{
    g_clear_pointer(&spec->path, g_free);
}

static void tty_restore(void)
{
    if (tty.active) {
        tcsetattr(tty.fd, TCSANOW, &tty.saved);
        tty.active = 0;
    }
}

/* Runs once (SA_RESETHAND); the re-raised signal then kills us with the default action. */
static void tty_on_signal(int sig)
{
    int saved_errno = errno;
    tty_restore();
    raise(sig);
    errno = saved_errno;
}

/*
 * Only signals that would kill us get a handler: if the VMM handles SIGTERM itself it
 * shuts down through hv_chardev_close() or exit(), which restore the terminal anyway.
 */
static void tty_hook_signals(void)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(tty_signals); i++) {
        struct sigaction sa = {.sa_handler = tty_on_signal, .sa_flags = SA_RESETHAND};
        tty.hooked[i] = false;
        if (sigaction(tty_signals[i], NULL, &tty.old[i]) < 0)
            continue;
        if ((tty.old[i].sa_flags & SA_SIGINFO) || tty.old[i].sa_handler != SIG_DFL)
            continue;
        sigemptyset(&sa.sa_mask);
        tty.hooked[i] = sigaction(tty_signals[i], &sa, NULL) == 0;
    }
}

static void tty_unhook_signals(void)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(tty_signals); i++) {
        struct sigaction cur;
        if (!tty.hooked[i])
            continue;
        tty.hooked[i] = false;
        /* Someone may have installed their own handler since; leave theirs alone. */
        if (sigaction(tty_signals[i], NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
            cur.sa_handler == tty_on_signal)
            sigaction(tty_signals[i], &tty.old[i], NULL);
    }
}

static int tty_make_raw(int fd)
{
    struct termios raw;

    if (tcgetattr(fd, &tty.saved) < 0)
        return -errno;
    /* cfmakeraw clears OPOST too, so the guest's own \r\n reaches the terminal as is. */
    raw = tty.saved;
    cfmakeraw(&raw);
    tty.fd = fd;
    if (!tty_atexit_done)
        tty_atexit_done = atexit(tty_restore) == 0;
    tty_hook_signals();
    tty.active = 1;
    if (tcsetattr(fd, TCSANOW, &raw) < 0) {
        int ret = -errno;
        tty.active = 0;
        tty_unhook_signals();
        return ret;
    }
    return 0;
}

static void set_error(GError **error, int errnum, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void set_error(GError **error, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, G_IO_ERROR, g_io_error_from_errno(errnum), msg);
}

/* Output helpers; all called with dev->lock held. */

static ssize_t out_write(struct hv_chardev *dev, const uint8_t *buf, size_t len)
{
    ssize_t n;
    do {
        /* MSG_NOSIGNAL: a client hanging up must not kill the VMM with SIGPIPE. */
        if (dev->out_is_sock)
            n = send(dev->out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        else
            n = write(dev->out_fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        n = 0;
    return n;
}

/* Keeps what fits in the bounded buffer; the rest is dropped rather than stall the guest. */
static void ring_put(struct hv_chardev *dev, const uint8_t *buf, size_t len)
{
    if (!dev->ring)
        dev->ring = g_malloc(dev->ring_cap);
    if (len > dev->ring_cap - dev->ring_len)
        len = dev->ring_cap - dev->ring_len;
    while (len) {
        size_t tail = (dev->ring_head + dev->ring_len) % dev->ring_cap;
        size_t n = MIN(len, dev->ring_cap - tail);
        memcpy(dev->ring + tail, buf, n);
        dev->ring_len += n;
        buf += n;
        len -= n;
    }
}

static void ring_drain(struct hv_chardev *dev)
{
    while (dev->ring_len && dev->out_fd >= 0 && !dev->out_failed) {
        size_t n = MIN(dev->ring_len, dev->ring_cap - dev->ring_head);
        ssize_t done = out_write(dev, dev->ring + dev->ring_head, n);
        if (done < 0) {
            dev->out_failed = true;
            break;
        }
        if (done == 0)
            break;
        dev->ring_head = (dev->ring_head + (size_t)done) % dev->ring_cap;
        dev->ring_len -= (size_t)done;
    }
    if (!dev->ring_len || dev->out_failed) {
        dev->ring_head = 0;
        dev->ring_len = 0;
    }
}

static void kick_main_loop(struct hv_chardev *dev)
{
    if (!g_atomic_int_get(&dev->kick)) {
        g_atomic_int_set(&dev->kick, 1);
        g_main_context_wakeup(dev->ctx);
    }
}

void hv_chardev_write(struct hv_chardev *dev, const uint8_t *buf, size_t len)
{
    if (!dev || !len)
        return;
    pthread_mutex_lock(&dev->lock);
    if (dev->out_fd < 0 || dev->out_failed)
        goto out;
    /* Behind a non-empty buffer a direct write would reorder the output. */
    if (!dev->ring_len) {
        ssize_t n = out_write(dev, buf, len);
        if (n < 0) {
            dev->out_failed = true;
            kick_main_loop(dev);
            goto out;
        }
        buf += n;
        len -= (size_t)n;
    }
    if (len) {
        ring_put(dev, buf, len);
        if (!dev->out_armed)
            kick_main_loop(dev);
    }
out:
    pthread_mutex_unlock(&dev->lock);
}

/* Main-loop thread: poll out_fd for writability only while there is something to write. */
static void out_watch(struct hv_chardev *dev, int fd, bool want)
{
    if (want && !dev->out_tag)
        dev->out_tag = g_source_add_unix_fd(dev->out_src, fd, G_IO_OUT);
    else if (!want && dev->out_tag) {
        g_source_remove_unix_fd(dev->out_src, dev->out_tag);
        dev->out_tag = NULL;
    }
}

static void client_detach(struct hv_chardev *dev);

static gboolean out_prepare(GSource *src, gint *timeout)
{
    struct hv_chardev *dev = ((struct out_source *)src)->dev;
    *timeout = -1;
    return g_atomic_int_get(&dev->kick);
}

static gboolean out_check(GSource *src)
{
    struct hv_chardev *dev = ((struct out_source *)src)->dev;
    if (g_atomic_int_get(&dev->kick))
        return TRUE;
    return dev->out_tag && g_source_query_unix_fd(src, dev->out_tag);
}

static gboolean out_dispatch(GSource *src, GSourceFunc callback, gpointer data)
{
    struct hv_chardev *dev = ((struct out_source *)src)->dev;
    GIOCondition rev = dev->out_tag ? g_source_query_unix_fd(src, dev->out_tag) : 0;
    bool failed, want;
    int fd;

    (void)callback;
    (void)data;
    g_atomic_int_set(&dev->kick, 0);
    pthread_mutex_lock(&dev->lock);
    if (rev & (G_IO_ERR | G_IO_HUP | G_IO_NVAL))
        dev->out_failed = true;
    ring_drain(dev);
    failed = dev->out_failed;
    fd = dev->out_fd;
    want = fd >= 0 && !failed && dev->ring_len;
    dev->out_armed = want;
    pthread_mutex_unlock(&dev->lock);

    out_watch(dev, fd, want);
    if (failed && dev->kind == HV_CHARDEV_UNIX && dev->client_fd >= 0)
        client_detach(dev);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs out_source_funcs = {
    .prepare = out_prepare,
    .check = out_check,
    .dispatch = out_dispatch,
};

/* Input. */

static gboolean on_input(gint fd, GIOCondition cond, gpointer data);

static void update_input_watch(struct hv_chardev *dev)
{
    bool want = dev->in_fd >= 0 && !dev->pend_len;

    if (want && !dev->in_src) {
        dev->in_src = g_unix_fd_source_new(dev->in_fd, G_IO_IN);
        g_source_set_callback(dev->in_src, G_SOURCE_FUNC(on_input), dev, NULL);
        g_source_attach(dev->in_src, dev->ctx);
    } else if (!want && dev->in_src) {
        g_source_destroy(dev->in_src);
        g_clear_pointer(&dev->in_src, g_source_unref);
    }
}

/* Offers pending input once; what is refused waits for hv_chardev_accept_input(). */
static void deliver(struct hv_chardev *dev)
{
    if (dev->delivering)
        return;
    dev->delivering = true;
    if (dev->pend_len) {
        size_t n = dev->pend_len;
        if (dev->cb.input) {
            size_t took = dev->cb.input(dev->cb.opaque, dev->pend + dev->pend_off, n);
            n = MIN(n, took);
        }
        dev->pend_off += n;
        dev->pend_len -= n;
        if (!dev->pend_len)
            dev->pend_off = 0;
    }
    dev->delivering = false;
    update_input_watch(dev);
    if (dev->quit_pending) {
        dev->quit_pending = false;
        if (dev->cb.quit)
            dev->cb.quit(dev->cb.opaque);
    }
}

/*
 * Ctrl-A X quits, Ctrl-A A types one Ctrl-A, Ctrl-A followed by anything else types
 * both. The state survives across reads, the two keys may arrive in separate reads.
 */
static void take_typed(struct hv_chardev *dev, const uint8_t *buf, size_t len)
{
    uint8_t *out = dev->pend;

    for (size_t i = 0; i < len; i++) {
        uint8_t c = buf[i];
        if (dev->escape) {
            dev->escape = false;
            if (c == 'x' || c == 'X') {
                dev->quit_pending = true;
                break;
            }
            *out++ = CTRL_A;
            if (c != 'a' && c != 'A')
                *out++ = c;
        } else if (c == CTRL_A) {
            dev->escape = true;
        } else {
            *out++ = c;
        }
    }
    dev->pend_len = (size_t)(out - dev->pend);
}

static void input_ended(struct hv_chardev *dev)
{
    if (dev->kind == HV_CHARDEV_UNIX) {
        client_detach(dev);
        return;
    }
    /* stdio at EOF: the guest keeps running with nothing more to read. */
    dev->in_fd = -1;
    update_input_watch(dev);
}

static gboolean on_input(gint fd, GIOCondition cond, gpointer data)
{
    struct hv_chardev *dev = data;
    uint8_t buf[IN_CHUNK];
    ssize_t n;

    (void)cond;
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        input_ended(dev);
        return G_SOURCE_CONTINUE;
    }
    if (dev->escapes) {
        take_typed(dev, buf, (size_t)n);
    } else {
        memcpy(dev->pend, buf, (size_t)n);
        dev->pend_len = (size_t)n;
    }
    dev->pend_off = 0;
    deliver(dev);
    return G_SOURCE_CONTINUE;
}

void hv_chardev_accept_input(struct hv_chardev *dev)
{
    if (dev)
        deliver(dev);
}

/* unix: */

static void set_output(struct hv_chardev *dev, int fd, bool is_sock)
{
    pthread_mutex_lock(&dev->lock);
    dev->out_fd = fd;
    dev->out_is_sock = is_sock;
    dev->out_failed = false;
    dev->out_armed = false;
    dev->ring_head = 0;
    dev->ring_len = 0;
    pthread_mutex_unlock(&dev->lock);
}

/* The client goes; the guest keeps running and its output is dropped until the next one. */
static void client_detach(struct hv_chardev *dev)
{
    if (dev->client_fd < 0)
        return;
    set_output(dev, -1, false);
    out_watch(dev, -1, false);
    dev->in_fd = -1;
    update_input_watch(dev);
    close(dev->client_fd);
    dev->client_fd = -1;
}

static bool client_gone(struct hv_chardev *dev)
{
    struct pollfd pfd = {.fd = dev->client_fd, .events = POLLRDHUP};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
    struct hv_chardev *dev = data;
    int client;

    (void)cond;
    client = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0)
        return G_SOURCE_CONTINUE;
    /* A client that just hung up may not have been noticed yet (its input paused). */
    if (dev->client_fd >= 0 && client_gone(dev))
        client_detach(dev);
    if (dev->client_fd >= 0) {
        if (send(client, BUSY_MESSAGE, strlen(BUSY_MESSAGE), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            g_debug("console busy notice: %s", g_strerror(errno));
        close(client);
        return G_SOURCE_CONTINUE;
    }
    dev->client_fd = client;
    dev->in_fd = client;
    set_output(dev, client, true);
    update_input_watch(dev);
    return G_SOURCE_CONTINUE;
}

/* 0: someone listens; -ECONNREFUSED: a stale socket file; other -errno: cannot tell. */
static int probe_socket(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int ret = 0;

    if (fd < 0)
        return -errno;
    /* A full backlog (EAGAIN) still means a listener. */
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EAGAIN)
        ret = -errno;
    close(fd);
    return ret;
}

static int unix_open(struct hv_chardev *dev, const char *path, GError **error)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int ret;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        set_error(error, ENAMETOOLONG,
                  "--serial unix:%s: path too long for a unix socket (at most %zu bytes)", path,
                  sizeof(sa.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);

    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            set_error(error, EEXIST, "--serial unix:%s: exists and is not a socket", path);
            return -EEXIST;
        }
        ret = probe_socket(&sa);
        if (ret == 0) {
            set_error(error, EADDRINUSE, "--serial unix:%s: another process is listening on it",
                      path);
            return -EADDRINUSE;
        }
        if (ret != -ECONNREFUSED) {
            set_error(error, -ret, "--serial unix:%s: cannot check the existing socket: %s", path,
                      g_strerror(-ret));
            return ret;
        }
        /* Left behind by a process that died: nobody listens, so it is ours to replace. */
        if (unlink(path) < 0 && errno != ENOENT) {
            ret = -errno;
            set_error(error, -ret, "--serial unix:%s: cannot remove the stale socket: %s", path,
                      g_strerror(-ret));
            return ret;
        }
    }

    dev->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (dev->listen_fd < 0 || bind(dev->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        goto fail;
    dev->bound = true;
    if (stat(path, &st) == 0) {
        dev->sock_dev = st.st_dev;
        dev->sock_ino = st.st_ino;
    }
    if (listen(dev->listen_fd, 4) < 0)
        goto fail;
    dev->listen_src = g_unix_fd_source_new(dev->listen_fd, G_IO_IN);
    g_source_set_callback(dev->listen_src, G_SOURCE_FUNC(on_accept), dev, NULL);
    g_source_attach(dev->listen_src, dev->ctx);
    return 0;

fail:
    ret = -errno;
    set_error(error, -ret, "--serial unix:%s: cannot listen: %s", path, g_strerror(-ret));
    return ret;
}

/* stdio: */

/*
 * A fresh open file description, so O_NONBLOCK does not leak into the shell's terminal
 * or into stderr (usually the same description as stdout).
 */
static int open_stdout(bool *is_sock)
{
    struct stat st;
    int fd;

    *is_sock = false;
    if (fstat(STDOUT_FILENO, &st) < 0)
        return -1;
    if (S_ISSOCK(st.st_mode)) {
        *is_sock = true;
        return fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    }
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
        fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0)
            return fd;
        /* No /proc: share the description and accept that writes may block. */
    }
    return fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
}

static int stdio_open(struct hv_chardev *dev, GError **error)
{
    bool is_sock;
    int ret;

    if (stdio_owner) {
        set_error(error, EBUSY, "--serial stdio: already used by another serial port");
        return -EBUSY;
    }
    if (fcntl(STDIN_FILENO, F_GETFD) >= 0)
        dev->in_fd = STDIN_FILENO;
    if (isatty(STDIN_FILENO)) {
        ret = tty_make_raw(STDIN_FILENO);
        if (ret < 0) {
            set_error(error, -ret, "--serial stdio: cannot put the terminal in raw mode: %s",
                      g_strerror(-ret));
            return ret;
        }
        dev->escapes = true;
    }
    stdio_owner = dev;
    dev->owned_out_fd = open_stdout(&is_sock);
    set_output(dev, dev->owned_out_fd, is_sock);
    update_input_watch(dev);
    return 0;
}

static int file_open(struct hv_chardev *dev, const char *path, GError **error)
{
    dev->created = access(path, F_OK) < 0 && errno == ENOENT;
    dev->owned_out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (dev->owned_out_fd < 0) {
        int ret = -errno;
        set_error(error, -ret, "--serial file:%s: cannot open: %s", path, g_strerror(-ret));
        return ret;
    }
    set_output(dev, dev->owned_out_fd, false);
    return 0;
}

struct hv_chardev *hv_chardev_open(const struct hv_chardev_spec *spec,
                                   const struct hv_chardev_callbacks *cb, GError **error)
{
    struct hv_chardev *dev = g_new0(struct hv_chardev, 1);
    int ret = -EINVAL;

    dev->kind = spec->kind;
    if (cb)
        dev->cb = *cb;
    dev->ctx = g_main_context_ref_thread_default();
    dev->in_fd = -1;
    dev->listen_fd = -1;
    dev->client_fd = -1;
    dev->out_fd = -1;
    dev->owned_out_fd = -1;
    pthread_mutex_init(&dev->lock, NULL);
    dev->out_src = g_source_new(&out_source_funcs, sizeof(struct out_source));
    ((struct out_source *)dev->out_src)->dev = dev;
    g_source_attach(dev->out_src, dev->ctx);

    switch (spec->kind) {
    case HV_CHARDEV_STDIO:
        dev->ring_cap = STDIO_OUT_CAP;
        ret = stdio_open(dev, error);
        break;
    case HV_CHARDEV_FILE:
        dev->ring_cap = FILE_OUT_CAP;
        dev->path = g_strdup(spec->path);
        ret = spec->path && *spec->path ? file_open(dev, spec->path, error) : -EINVAL;
        break;
    case HV_CHARDEV_UNIX:
        dev->ring_cap = UNIX_OUT_CAP;
        dev->path = g_strdup(spec->path);
        ret = spec->path && *spec->path ? unix_open(dev, spec->path, error) : -EINVAL;
        break;
    }
    if (ret == -EINVAL && error && !*error)
        set_error(error, EINVAL, "--serial: invalid serial backend");
    if (ret < 0) {
        hv_chardev_close(dev);
        return NULL;
    }
    return dev;
}

void hv_chardev_close(struct hv_chardev *dev)
{
    struct stat st;

    if (!dev)
        return;
    client_detach(dev);
    dev->in_fd = -1;
    update_input_watch(dev);
    if (dev->listen_src) {
        g_source_destroy(dev->listen_src);
        g_source_unref(dev->listen_src);
    }
    if (dev->listen_fd >= 0)
        close(dev->listen_fd);
    /* Only the socket we bound: someone may have replaced the file since. */
    if (dev->bound && lstat(dev->path, &st) == 0 && st.st_dev == dev->sock_dev &&
        st.st_ino == dev->sock_ino)
        unlink(dev->path);

    /* One last non-blocking attempt, so the guest's final words are not lost on exit. */
    pthread_mutex_lock(&dev->lock);
    ring_drain(dev);
    dev->out_fd = -1;
    pthread_mutex_unlock(&dev->lock);
    out_watch(dev, -1, false);
    g_source_destroy(dev->out_src);
    g_source_unref(dev->out_src);
    if (dev->owned_out_fd >= 0)
        close(dev->owned_out_fd);

    if (stdio_owner == dev) {
        tty_restore();
        tty_unhook_signals();
        stdio_owner = NULL;
    }
    g_main_context_unref(dev->ctx);
    pthread_mutex_destroy(&dev->lock);
    g_free(dev->ring);
    g_free(dev->path);
    g_free(dev);
}

void hv_chardev_discard(struct hv_chardev *dev)
{
    g_autofree char *created = dev->kind == HV_CHARDEV_FILE && dev->created
                                   ? g_strdup(dev->path) : NULL;
    hv_chardev_close(dev);
    if (created)
        unlink(created);
}
