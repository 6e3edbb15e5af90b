/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A blocking client of one vmdesk-vmm's control socket, for short request/reply exchanges. */
#include "vmd-control.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmd-error.h"

struct _VmdControl {
    int fd;
    char *path;
    GString *buf;   /* bytes read past the last line */
    GStrv commands; /* from the greeting */
    pid_t pid;
    gint64 next_id;
};

void vmd_control_free(VmdControl *ctl)
{
    if (!ctl)
        return;
    if (ctl->fd >= 0)
        close(ctl->fd);
    g_free(ctl->path);
    g_string_free(ctl->buf, TRUE);
    g_strfreev(ctl->commands);
    g_free(ctl);
}

/* Reads one line (without its newline) into *line. */
static gboolean read_line(VmdControl *ctl, char **line, GError **error)
{
    for (;;) {
        char *nl = memchr(ctl->buf->str, '\n', ctl->buf->len);
        if (nl) {
            gsize n = (gsize)(nl - ctl->buf->str);
            *line = g_strndup(ctl->buf->str, n);
            g_string_erase(ctl->buf, 0, (gssize)n + 1);
            return TRUE;
        }
        char chunk[4096];
        ssize_t r = read(ctl->fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_TIMEOUT, "%s: no answer in time",
                        ctl->path);
            return FALSE;
        }
        if (r <= 0) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_NOT_RUNNING, "%s: the VM closed its "
                        "control connection", ctl->path);
            return FALSE;
        }
        g_string_append_len(ctl->buf, chunk, r);
    }
}

static JsonObject *parse_object(const char *line, JsonParser *parser)
{
    if (!json_parser_load_from_data(parser, line, -1, NULL))
        return NULL;
    JsonNode *root = json_parser_get_root(parser);
    return root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

/* The commands of a greeting line, or NULL if it is not one (transfer full). */
static GStrv parse_greeting(const char *line)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *root = parse_object(line, parser);
    JsonObject *vmdesk = root && json_object_has_member(root, "vmdesk")
                             ? json_object_get_object_member(root, "vmdesk") : NULL;
    JsonArray *cmds = vmdesk && json_object_has_member(vmdesk, "commands")
                          ? json_object_get_array_member(vmdesk, "commands") : NULL;
    if (!cmds)
        return NULL;
    GStrvBuilder *b = g_strv_builder_new();
    for (guint i = 0; i < json_array_get_length(cmds); i++) {
        const char *c = json_array_get_string_element(cmds, i);
        if (c)
            g_strv_builder_add(b, c);
    }
    GStrv out = g_strv_builder_end(b);
    g_strv_builder_unref(b);
    return out;
}

VmdControl *vmd_control_connect(const char *path, guint timeout_ms, GError **error)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_autoptr(VmdControl) ctl = g_new0(VmdControl, 1);

    ctl->fd = -1;
    ctl->path = g_strdup(path);
    ctl->buf = g_string_new(NULL);
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "%s: socket path too long", path);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ctl->fd < 0 || connect(ctl->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        g_set_error(error, VMD_ERROR,
                    err == ENOENT || err == ECONNREFUSED ? VMD_ERROR_NOT_RUNNING
                                                         : VMD_ERROR_FAILED,
                    "%s: %s", path, g_strerror(err));
        return NULL;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(ctl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(ctl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(ctl->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        ctl->pid = cred.pid;

    g_autofree char *line = NULL;
    if (!read_line(ctl, &line, error))
        return NULL;
    ctl->commands = parse_greeting(line);
    if (!ctl->commands) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_VMM, "%s: not a vmdesk-vmm greeting: %.80s",
                    path, line);
        return NULL;
    }
    return g_steal_pointer(&ctl);
}

gboolean vmd_control_has_command(VmdControl *ctl, const char *command)
{
    return g_strv_contains((const char *const *)ctl->commands, command);
}

const char *const *vmd_control_get_commands(VmdControl *ctl)
{
    return (const char *const *)ctl->commands;
}

pid_t vmd_control_get_pid(VmdControl *ctl)
{
    return ctl->pid;
}

JsonNode *vmd_control_execute(VmdControl *ctl, const char *command, JsonObject *arguments,
                              GError **error)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    gint64 id = ++ctl->next_id;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, command);
    if (arguments) {
        json_builder_set_member_name(b, "arguments");
        JsonNode *args = json_node_init_object(json_node_alloc(), arguments);
        json_builder_add_value(b, args);
    }
    json_builder_set_member_name(b, "id");
    json_builder_add_int_value(b, id);
    json_builder_end_object(b);
    g_autoptr(JsonNode) req = json_builder_get_root(b);
    g_autofree char *text = json_to_string(req, FALSE);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    gsize left = strlen(line);
    for (const char *p = line; left > 0;) {
        ssize_t w = send(ctl->fd, p, left, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_NOT_RUNNING, "%s: %s", ctl->path,
                        g_strerror(errno));
            return NULL;
        }
        p += w;
        left -= (gsize)w;
    }

    for (;;) {
        g_autofree char *reply = NULL;
        if (!read_line(ctl, &reply, error))
            return NULL;
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *o = parse_object(reply, parser);
        if (!o || !json_object_has_member(o, "id"))
            continue; /* an event */
        JsonNode *idn = json_object_get_member(o, "id");
        if (!JSON_NODE_HOLDS_VALUE(idn) || json_node_get_value_type(idn) != G_TYPE_INT64 ||
            json_node_get_int(idn) != id)
            continue;
        if (json_object_has_member(o, "error")) {
            JsonObject *e = json_object_get_object_member(o, "error");
            const char *cls = e ? json_object_get_string_member_with_default(e, "class", "?")
                                : "?";
            const char *desc = e ? json_object_get_string_member_with_default(e, "desc", "")
                                 : "";
            g_set_error(error, VMD_ERROR, VMD_ERROR_VMM, "%s: %s: %s", command, cls, desc);
            return NULL;
        }
        JsonNode *ret = json_object_get_member(o, "return");
        if (ret)
            return json_node_copy(ret);
        g_autoptr(JsonObject) empty = json_object_new();
        return json_node_init_object(json_node_alloc(), empty);
    }
}

void vmd_status_probe_clear(VmdStatusProbe *probe)
{
    g_clear_pointer(&probe->commands, g_strfreev);
    g_clear_pointer(&probe->state, g_free);
}

#define PROBE_REQUEST "{\"execute\": \"query-status\", \"id\": 1}\n"

/* Starts one probe: connected and asked, or failed (fd -1). */
static int probe_open(VmdStatusProbe *probe)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(probe->path) >= sizeof(addr.sun_path))
        return -1;
    strcpy(addr.sun_path, probe->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    /* A unix connect completes at once or fails; the request needs no greeting first. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        send(fd, PROBE_REQUEST, strlen(PROBE_REQUEST), MSG_NOSIGNAL) < 0) {
        close(fd);
        return -1;
    }
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        probe->pid = cred.pid;
    return fd;
}

/* Takes the complete lines of BUF; TRUE once the probe has its answer. */
static gboolean probe_lines(VmdStatusProbe *probe, GString *buf)
{
    char *nl;
    while ((nl = memchr(buf->str, '\n', buf->len))) {
        g_autofree char *line = g_strndup(buf->str, (gsize)(nl - buf->str));
        g_string_erase(buf, 0, nl - buf->str + 1);
        if (!probe->commands) {
            probe->commands = parse_greeting(line);
            if (!probe->commands)
                return TRUE; /* not a vmdesk-vmm */
            continue;
        }
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *o = parse_object(line, parser);
        if (!o || !json_object_has_member(o, "id"))
            continue; /* an event */
        JsonObject *ret = json_object_has_member(o, "return")
                              ? json_object_get_object_member(o, "return") : NULL;
        const char *st = ret ? json_object_get_string_member_with_default(ret, "state",
                                                                          "running")
                             : NULL;
        probe->state = g_strdup(st);
        return TRUE;
    }
    return FALSE;
}

void vmd_control_probe_status(VmdStatusProbe *probes, guint n, guint timeout_ms)
{
    g_autofree struct pollfd *fds = g_new0(struct pollfd, n);
    g_autofree GString **bufs = g_new0(GString *, n);
    guint open = 0;

    for (guint i = 0; i < n; i++) {
        probes[i].pid = 0;
        fds[i].fd = probe_open(&probes[i]);
        fds[i].events = POLLIN;
        if (fds[i].fd >= 0) {
            bufs[i] = g_string_new(NULL);
            open++;
        }
    }
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (open > 0) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0)
            break;
        int r = poll(fds, n, (int)MIN(left, G_MAXINT));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (guint i = 0; i < n; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char chunk[4096];
            ssize_t got = read(fds[i].fd, chunk, sizeof(chunk));
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            gboolean done = got <= 0;
            if (got > 0) {
                g_string_append_len(bufs[i], chunk, got);
                done = probe_lines(&probes[i], bufs[i]);
            }
            if (done) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open--;
            }
        }
    }
    for (guint i = 0; i < n; i++) {
        if (fds[i].fd >= 0)
            close(fds[i].fd);
        if (bufs[i])
            g_string_free(bufs[i], TRUE);
    }
}
