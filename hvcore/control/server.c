/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The VMM's control socket: clients, line framing, and the table of commands. */
#include "control/server-private.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <gio/gio.h>
#include <glib-unix.h>

/* Replies and events queued for one client; past this the client is not reading. */
#define OUTPUT_CAP (1024 * 1024)
#define READ_CHUNK (16 * 1024)
#define LISTEN_BACKLOG 16
/* How long accepting pauses when the process is out of descriptors or memory. */
#define ACCEPT_BACKOFF_MS 250

/* A client is its own GSource: the dispatch in progress keeps it alive while it is dropped. */
struct client {
    GSource source;
    struct hv_control *ctl;
    unsigned number; /* for log lines */
    int fd;
    gpointer tag;
    GIOCondition watching;
    GString *in;     /* the request line read so far */
    bool discarding; /* skipping the rest of an over-long line */
    GByteArray *out;
    size_t out_done; /* bytes of `out` already sent */
    bool eof;        /* the peer will send nothing more: drop once `out` is flushed */
    bool dead;
    bool quit_after_flush;
};

static gboolean run_quit(gpointer data)
{
    struct hv_control *ctl = data;

    g_clear_pointer(&ctl->quit_src, g_source_unref);
    ctl->quit_called = true;
    /* The VMM may free `ctl` in here, so nothing touches it afterwards. */
    ctl->ops.quit(ctl->ops.opaque);
    return G_SOURCE_REMOVE;
}

/* From an idle callback, so that ops->quit never runs inside a client's dispatch. */
static void schedule_quit(struct hv_control *ctl)
{
    if (ctl->closing || ctl->quit_called || ctl->quit_src)
        return;
    ctl->quit_src = g_idle_source_new();
    g_source_set_callback(ctl->quit_src, run_quit, ctl, NULL);
    g_source_attach(ctl->quit_src, ctl->ctx);
}

/* `why` is NULL for the ordinary ends (EOF, reset), which are not worth a log line. */
static void client_drop(struct client *c, const char *why)
{
    struct hv_control *ctl = c->ctl;

    if (c->dead)
        return;
    c->dead = true;
    if (why)
        g_printerr("vmdesk-vmm: control client %u disconnected: %s\n", c->number, why);
    /* The client asked to quit and its reply is as written as it will ever be. */
    if (c->quit_after_flush)
        schedule_quit(ctl);
    ctl->clients = g_list_remove(ctl->clients, c);
    g_source_destroy(&c->source);
    close(c->fd);
    c->fd = -1;
    g_source_unref(&c->source);
}

static void client_watch(struct client *c, GIOCondition cond)
{
    if (c->dead || c->watching == cond)
        return;
    c->watching = cond;
    g_source_modify_unix_fd(&c->source, c->tag, cond);
}

static void client_flush(struct client *c)
{
    while (!c->dead && c->out_done < c->out->len) {
        ssize_t n = send(c->fd, c->out->data + c->out_done, c->out->len - c->out_done,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            c->out_done += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* Keep the buffer from growing by what was already sent. */
            if (c->out_done >= READ_CHUNK) {
                g_byte_array_remove_range(c->out, 0, (guint)c->out_done);
                c->out_done = 0;
            }
            client_watch(c, (c->eof ? 0 : G_IO_IN) | G_IO_OUT);
            return;
        }
        if (errno == EPIPE || errno == ECONNRESET)
            client_drop(c, NULL);
        else
            client_drop(c, g_strerror(errno));
        return;
    }
    if (c->dead)
        return;
    g_byte_array_set_size(c->out, 0);
    c->out_done = 0;
    if (c->quit_after_flush) {
        c->quit_after_flush = false;
        schedule_quit(c->ctl);
    }
    if (c->eof)
        client_drop(c, NULL);
    else
        client_watch(c, G_IO_IN);
}

static void client_send(struct client *c, const char *line, size_t len)
{
    if (c->dead)
        return;
    size_t pending = c->out->len - c->out_done;
    if (pending + len > OUTPUT_CAP) {
        client_drop(c, "over 1 MiB of replies and events queued (the client is not reading)");
        return;
    }
    g_byte_array_append(c->out, (const guint8 *)line, (guint)len);
    /* With output already pending, G_IO_OUT is being watched and sends the rest in order. */
    if (pending == 0)
        client_flush(c);
}

static void client_send_error(struct client *c, enum hv_control_error_class cls, const char *desc,
                              const char *id)
{
    g_autofree char *line = hv_control_error_line(cls, desc, id);

    client_send(c, line, strlen(line));
}

static void client_request(struct client *c, const char *line, size_t len)
{
    struct hv_control_request req = {0};
    struct hv_control_call call = {.ctl = c->ctl};
    const struct hv_control_command *cmd = NULL;

    if (hv_control_parse_request(line, len, &req, &call.err) < 0)
        goto reply;
    cmd = hv_control_find_command(req.command);
    if (!cmd) {
        g_autofree char *q = hv_control_quote(req.command);
        g_autofree char *list = hv_control_command_list();
        hv_control_error_set(&call.err, HV_CONTROL_ERROR_COMMAND_NOT_FOUND,
                             "command \"%s\" not found, expected one of: %s", q, list);
        goto reply;
    }
    if (hv_control_check_arguments(cmd->name, req.arguments, cmd->args, &call.err) < 0)
        goto reply;
    call.args = req.arguments;
    if (cmd->run(&call) < 0 && !call.err.desc)
        hv_control_error_set(&call.err, HV_CONTROL_ERROR_GENERIC, "%s failed", cmd->name);

reply:
    if (call.err.desc) {
        client_send_error(c, call.err.cls, call.err.desc, req.id);
    } else {
        g_autofree char *out = hv_control_return_line(g_steal_pointer(&call.ret), req.id);
        client_send(c, out, strlen(out));
    }
    if (call.then_quit) {
        if (c->dead || c->out_done == c->out->len)
            schedule_quit(c->ctl);
        else
            c->quit_after_flush = true;
    }
    if (call.ret)
        json_node_unref(call.ret);
    hv_control_error_clear(&call.err);
    hv_control_request_clear(&req);
}

/* Handles the complete line in c->in; blank lines are skipped, as typed by hand. */
static void client_line(struct client *c)
{
    size_t len = c->in->len;

    if (len && c->in->str[len - 1] == '\r')
        len--;
    size_t i = 0;
    while (i < len && (c->in->str[i] == ' ' || c->in->str[i] == '\t' || c->in->str[i] == '\r'))
        i++;
    if (i < len)
        client_request(c, c->in->str, len);
    g_string_truncate(c->in, 0);
}

static void client_feed(struct client *c, const char *p, size_t n)
{
    const char *end = p + n;

    while (p < end && !c->dead) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (c->discarding) {
            if (!nl)
                return;
            c->discarding = false;
            p = nl + 1;
            continue;
        }
        size_t seg = (size_t)((nl ? nl : end) - p);
        if (c->in->len + seg > HV_CONTROL_MAX_LINE) {
            g_autofree char *desc = g_strdup_printf(
                "request line longer than %d bytes, discarded up to the next newline",
                HV_CONTROL_MAX_LINE);
            g_string_truncate(c->in, 0);
            client_send_error(c, HV_CONTROL_ERROR_PARSE, desc, NULL);
            if (!nl) {
                c->discarding = true;
                return;
            }
            p = nl + 1;
            continue;
        }
        g_string_append_len(c->in, p, (gssize)seg);
        if (!nl)
            return;
        p = nl + 1;
        client_line(c);
    }
}

static void client_read(struct client *c)
{
    char buf[READ_CHUNK];
    /* One read per dispatch: a client that floods requests takes turns with the others. */
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

    if (n > 0) {
        client_feed(c, buf, (size_t)n);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        client_drop(c, errno == ECONNRESET ? NULL : g_strerror(errno));
        return;
    }
    c->eof = true;
    /* A last request without its newline still counts, as when a file is piped in. */
    if (!c->discarding && c->in->len > 0)
        client_line(c);
    if (c->dead)
        return;
    if (c->out_done == c->out->len)
        client_drop(c, NULL);
    else
        client_watch(c, G_IO_OUT);
}

static gboolean client_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
    struct client *c = (struct client *)source;
    GIOCondition cond = g_source_query_unix_fd(source, c->tag);

    (void)callback;
    (void)data;
    if (!c->eof && (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
        client_read(c);
    else if (c->eof && (cond & (G_IO_HUP | G_IO_ERR)))
        client_drop(c, NULL);
    if (!c->dead && (cond & G_IO_OUT))
        client_flush(c);
    return G_SOURCE_CONTINUE;
}

static void client_finalize(GSource *source)
{
    struct client *c = (struct client *)source;

    if (c->fd >= 0)
        close(c->fd);
    g_string_free(c->in, TRUE);
    g_byte_array_unref(c->out);
}

static GSourceFuncs client_funcs = {
    .dispatch = client_dispatch,
    .finalize = client_finalize,
};

static void client_new(struct hv_control *ctl, int fd)
{
    GSource *source = g_source_new(&client_funcs, sizeof(struct client));
    struct client *c = (struct client *)source;

    c->ctl = ctl;
    c->number = ++ctl->next_client;
    c->fd = fd;
    c->in = g_string_new(NULL);
    c->out = g_byte_array_new();
    c->watching = G_IO_IN;
    c->tag = g_source_add_unix_fd(source, fd, G_IO_IN);
    g_source_set_name(source, "vmdesk control client");
    g_source_attach(source, ctl->ctx);
    ctl->clients = g_list_append(ctl->clients, c);
    client_send(c, ctl->greeting, strlen(ctl->greeting));
}

static void listen_start(struct hv_control *ctl);

static gboolean backoff_done(gpointer data)
{
    struct hv_control *ctl = data;

    g_clear_pointer(&ctl->backoff_src, g_source_unref);
    listen_start(ctl);
    return G_SOURCE_REMOVE;
}

static gboolean on_accept(int fd, GIOCondition cond, gpointer data)
{
    struct hv_control *ctl = data;

    (void)cond;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd >= 0) {
            client_new(ctl, cfd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return G_SOURCE_CONTINUE;
        /* Out of descriptors or memory: the listener would stay readable and spin the loop. */
        g_printerr("vmdesk-vmm: control socket %s: cannot accept a client: %s\n", ctl->path,
                   g_strerror(errno));
        g_clear_pointer(&ctl->listen_src, g_source_unref);
        ctl->backoff_src = g_timeout_source_new(ACCEPT_BACKOFF_MS);
        g_source_set_callback(ctl->backoff_src, backoff_done, ctl, NULL);
        g_source_attach(ctl->backoff_src, ctl->ctx);
        return G_SOURCE_REMOVE;
    }
}

static void listen_start(struct hv_control *ctl)
{
    ctl->listen_src = g_unix_fd_source_new(ctl->listen_fd, G_IO_IN);
    g_source_set_callback(ctl->listen_src, G_SOURCE_FUNC(on_accept), ctl, NULL);
    g_source_set_name(ctl->listen_src, "vmdesk control socket");
    g_source_attach(ctl->listen_src, ctl->ctx);
}

/* `what` starts the message, e.g. "Cannot bind control socket"; the path and cause follow. */
static void set_errno_error(GError **error, int err, const char *what, const char *path)
{
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "%s %s: %s", what, path,
                g_strerror(err));
}

/* A socket nobody listens on is left behind by a VMM that crashed; anything else is kept. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, GError **error)
{
    struct stat st;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        set_errno_error(error, errno, "Cannot check control socket", path);
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                    "Control socket path %s exists and is not a socket", path);
        return -1;
    }
    /* Non-blocking, so that a live listener with a full backlog cannot hold us up. */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0) {
        set_errno_error(error, errno, "Cannot probe control socket", path);
        return -1;
    }
    int rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
    int err = errno;
    close(probe);
    if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                    "Control socket %s is in use by a running VMM", path);
        return -1;
    }
    if (err != ECONNREFUSED) {
        set_errno_error(error, err, "Cannot probe control socket", path);
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        set_errno_error(error, errno, "Cannot remove stale control socket", path);
        return -1;
    }
    return 0;
}

static int open_listener(const char *path, struct hv_control *ctl, GError **error)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    struct stat st;

    if (len == 0 || len >= sizeof(sa.sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                    "Control socket path %s is %zu bytes long, expected 1 to %zu", path, len,
                    sizeof(sa.sun_path) - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, len);
    if (clear_stale(path, &sa, error) < 0)
        return -1;

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        set_errno_error(error, errno, "Cannot create control socket", path);
        return -1;
    }
    /*
     * bind() gives the file this mode less the umask, so it is never wider than 0600, not
     * even for an instant; changing the umask instead would race with other threads.
     */
    if (fchmod(fd, 0600) < 0) {
        set_errno_error(error, errno, "Cannot set the mode of control socket", path);
        goto fail_close;
    }
    if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        set_errno_error(error, errno, "Cannot bind control socket", path);
        goto fail_close;
    }
    /* A stricter umask may have taken the owner's bits away, which would lock the owner out. */
    if (lstat(path, &st) == 0 && (st.st_mode & 07777) != 0600)
        (void)chmod(path, 0600);
    if (lstat(path, &st) < 0) {
        set_errno_error(error, errno, "Cannot check control socket", path);
        goto fail_unlink;
    }
    if ((st.st_mode & 07777) != 0600) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "Control socket %s has mode %04o, expected 0600", path,
                    (unsigned)(st.st_mode & 07777));
        goto fail_unlink;
    }
    if (listen(fd, LISTEN_BACKLOG) < 0) {
        set_errno_error(error, errno, "Cannot listen on control socket", path);
        goto fail_unlink;
    }
    ctl->listen_fd = fd;
    ctl->dev = st.st_dev;
    ctl->ino = st.st_ino;
    return 0;

fail_unlink:
    unlink(path);
fail_close:
    close(fd);
    return -1;
}

struct hv_control *hv_control_new(const char *path, const struct hv_control_ops *ops,
                                  GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_return_val_if_fail(ops && ops->state && ops->vcpus && ops->pause && ops->resume && ops->quit,
                         NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    struct hv_control *ctl = g_new0(struct hv_control, 1);
    ctl->listen_fd = -1;
    if (open_listener(path, ctl, error) < 0) {
        g_free(ctl);
        return NULL;
    }
    ctl->path = g_strdup(path);
    ctl->ops = *ops;
    g_mutex_init(&ctl->lock);
    ctl->pending = g_ptr_array_new_with_free_func(g_free);
    ctl->ctx = g_main_context_ref_thread_default();

    g_autofree const char **names = g_new(const char *, hv_control_nr_commands);
    for (size_t i = 0; i < hv_control_nr_commands; i++)
        names[i] = hv_control_commands[i].name;
    ctl->greeting = hv_control_greeting_line(VMDESK_VERSION, names, hv_control_nr_commands);
    listen_start(ctl);
    return ctl;
}

static void broadcast(struct hv_control *ctl, const char *line)
{
    size_t len = strlen(line);
    GList *next;

    /* Sending can drop the client being sent to, never another one. */
    for (GList *l = ctl->clients; l; l = next) {
        next = l->next;
        client_send(l->data, line, len);
    }
}

static void send_pending(struct hv_control *ctl)
{
    g_mutex_lock(&ctl->lock);
    if (ctl->pending->len == 0) {
        g_mutex_unlock(&ctl->lock);
        return;
    }
    GPtrArray *lines = ctl->pending;
    ctl->pending = g_ptr_array_new_with_free_func(g_free);
    if (ctl->pending_src) {
        g_source_destroy(ctl->pending_src);
        g_clear_pointer(&ctl->pending_src, g_source_unref);
    }
    g_mutex_unlock(&ctl->lock);
    for (guint i = 0; i < lines->len; i++)
        broadcast(ctl, lines->pdata[i]);
    g_ptr_array_unref(lines);
}

static gboolean pending_ready(gpointer data)
{
    send_pending(data);
    return G_SOURCE_REMOVE;
}

/*
 * Safe from any thread: off the main-loop thread (or outside its iterations) the line is
 * handed over and sent on the next iteration. The timestamp is taken here either way.
 */
void hv_control_emit(struct hv_control *ctl, const char *event, JsonNode *data)
{
    g_return_if_fail(ctl != NULL && event != NULL);

    char *line = hv_control_event_line(event, data, g_get_real_time());
    if (g_main_context_is_owner(ctl->ctx)) {
        /* Events handed over earlier go first, so that one thread's events stay in order. */
        send_pending(ctl);
        broadcast(ctl, line);
        g_free(line);
        return;
    }
    g_mutex_lock(&ctl->lock);
    g_ptr_array_add(ctl->pending, line);
    if (!ctl->pending_src) {
        ctl->pending_src = g_idle_source_new();
        g_source_set_priority(ctl->pending_src, G_PRIORITY_DEFAULT);
        g_source_set_callback(ctl->pending_src, pending_ready, ctl, NULL);
        g_source_attach(ctl->pending_src, ctl->ctx);
    }
    g_mutex_unlock(&ctl->lock);
}

void hv_control_free(struct hv_control *ctl)
{
    struct stat st;

    if (!ctl)
        return;
    ctl->closing = true;
    while (ctl->clients) {
        struct client *c = ctl->clients->data;
        /* One last try, so that an event emitted just before shutdown is not lost. */
        if (c->out_done < c->out->len)
            (void)send(c->fd, c->out->data + c->out_done, c->out->len - c->out_done,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
        client_drop(c, NULL);
    }
    if (ctl->quit_src) {
        g_source_destroy(ctl->quit_src);
        g_clear_pointer(&ctl->quit_src, g_source_unref);
    }
    if (ctl->pending_src) {
        g_source_destroy(ctl->pending_src);
        g_clear_pointer(&ctl->pending_src, g_source_unref);
    }
    g_ptr_array_unref(ctl->pending);
    g_mutex_clear(&ctl->lock);
    if (ctl->backoff_src) {
        g_source_destroy(ctl->backoff_src);
        g_clear_pointer(&ctl->backoff_src, g_source_unref);
    }
    if (ctl->listen_src) {
        g_source_destroy(ctl->listen_src);
        g_clear_pointer(&ctl->listen_src, g_source_unref);
    }
    close(ctl->listen_fd);
    if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
        unlink(ctl->path);
    g_main_context_unref(ctl->ctx);
    g_free(ctl->greeting);
    g_free(ctl->path);
    g_free(ctl);
}
