/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Where a display server listens: "unix:PATH" or "HOST:PORT", parsed and opened safely. */
#include "display/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 8

static int bad(char **err, const char *flag, const char *text)
{
    *err = g_strdup_printf("%s '%s': expected unix:PATH, HOST:PORT (e.g. 127.0.0.1:5900) or "
                           "a port number", flag, text);
    return -EINVAL;
}

static bool parse_port(const char *text, uint16_t *port)
{
    guint64 n;
    if (!g_ascii_string_to_unsigned(text, 10, 0, 65535, &n, NULL))
        return false;
    *port = (uint16_t)n;
    return true;
}

int hv_endpoint_parse(const char *flag, const char *text, struct hv_endpoint *ep, char **err)
{
    memset(ep, 0, sizeof(*ep));
    if (g_str_has_prefix(text, "unix:")) {
        const char *path = text + 5;
        if (!*path) {
            *err = g_strdup_printf("%s '%s': expected a socket path after unix:", flag, text);
            return -EINVAL;
        }
        if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            *err = g_strdup_printf("%s '%s': the path is too long for a unix socket (at most "
                                   "%zu bytes)", flag, text,
                                   sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return -EINVAL;
        }
        ep->kind = HV_ENDPOINT_UNIX;
        ep->path = g_strdup(path);
        return 0;
    }
    ep->kind = HV_ENDPOINT_TCP;
    g_autofree char *host = NULL;
    const char *port;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return bad(err, flag, text);
        host = g_strndup(text + 1, (size_t)(close - text - 1));
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon) {
            host = g_strdup("127.0.0.1");
            port = text;
        } else {
            host = g_strndup(text, (size_t)(colon - text));
            port = colon + 1;
            if (strchr(host, ':')) /* a bare IPv6 address needs brackets */
                return bad(err, flag, text);
        }
    }
    if (!*host || !parse_port(port, &ep->port))
        return bad(err, flag, text);
    /* A numeric address or "localhost": names that need DNS are not worth the surprise. */
    struct in6_addr a6;
    struct in_addr a4;
    if (strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, &a4) != 1 &&
        inet_pton(AF_INET6, host, &a6) != 1) {
        *err = g_strdup_printf("%s '%s': expected a numeric address such as 127.0.0.1 or "
                               "[::1], or localhost", flag, text);
        return -EINVAL;
    }
    ep->host = g_steal_pointer(&host);
    return 0;
}

void hv_endpoint_clear(struct hv_endpoint *ep)
{
    g_free(ep->path);
    g_free(ep->host);
    memset(ep, 0, sizeof(*ep));
}

/* A socket nobody listens on was left by a VMM that crashed; anything else is kept. */
static int clear_stale(const char *flag, const char *path, const struct sockaddr_un *sa,
                       char **err)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        *err = g_strdup_printf("%s unix:%s: cannot check the path: %s", flag, path,
                               g_strerror(e));
        return -e;
    }
    if (!S_ISSOCK(st.st_mode)) {
        *err = g_strdup_printf("%s unix:%s: the path exists and is not a socket", flag, path);
        return -EEXIST;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0) {
        int e = errno;
        *err = g_strdup_printf("%s unix:%s: cannot probe the socket: %s", flag, path,
                               g_strerror(e));
        return -e;
    }
    int rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
    int e = errno;
    close(probe);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
        *err = g_strdup_printf("%s unix:%s: another process is listening on it", flag, path);
        return -EADDRINUSE;
    }
    if (e != ECONNREFUSED) {
        *err = g_strdup_printf("%s unix:%s: cannot probe the socket: %s", flag, path,
                               g_strerror(e));
        return -e;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        e = errno;
        *err = g_strdup_printf("%s unix:%s: cannot remove the stale socket: %s", flag, path,
                               g_strerror(e));
        return -e;
    }
    return 0;
}

static int listen_unix(const char *flag, const struct hv_endpoint *ep, dev_t *dev, ino_t *ino,
                       char **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, ep->path, strlen(ep->path));
    int r = clear_stale(flag, ep->path, &sa, err);
    if (r < 0)
        return r;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r = -errno;
        *err = g_strdup_printf("%s unix:%s: cannot create a socket: %s", flag, ep->path,
                               g_strerror(-r));
        return r;
    }
    /* bind() applies this mode less the umask: the file is never wider than 0600. */
    struct stat st;
    if (fchmod(fd, 0600) < 0 || bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        *err = g_strdup_printf("%s unix:%s: cannot bind: %s", flag, ep->path, g_strerror(-r));
        close(fd);
        return r;
    }
    if (lstat(ep->path, &st) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        r = -errno;
        *err = g_strdup_printf("%s unix:%s: cannot listen: %s", flag, ep->path, g_strerror(-r));
        unlink(ep->path);
        close(fd);
        return r;
    }
    *dev = st.st_dev;
    *ino = st.st_ino;
    return fd;
}

static int listen_tcp(const char *flag, const struct hv_endpoint *ep, uint16_t *bound_port,
                      char **err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", ep->port);
    int gr = getaddrinfo(ep->host, port, &hints, &res);
    if (gr != 0) {
        *err = g_strdup_printf("%s %s:%u: %s", flag, ep->host, ep->port, gai_strerror(gr));
        return -EINVAL;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int r = 0;
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        r = -errno;
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        r = -errno;
        goto out;
    }
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
out:
    freeaddrinfo(res);
    if (r < 0) {
        *err = g_strdup_printf("%s %s:%u: cannot listen: %s", flag, ep->host, ep->port,
                               g_strerror(-r));
        if (fd >= 0)
            close(fd);
        return r;
    }
    return fd;
}

int hv_endpoint_listen(const char *flag, const struct hv_endpoint *ep, uint16_t *bound_port,
                       dev_t *dev, ino_t *ino, char **err)
{
    *bound_port = 0;
    *dev = 0;
    *ino = 0;
    if (ep->kind == HV_ENDPOINT_UNIX)
        return listen_unix(flag, ep, dev, ino, err);
    return listen_tcp(flag, ep, bound_port, err);
}

void hv_endpoint_unlink(const struct hv_endpoint *ep, dev_t dev, ino_t ino)
{
    struct stat st;
    if (ep->kind != HV_ENDPOINT_UNIX || !ep->path)
        return;
    /* Another VMM may have taken the path over since: leave its socket alone. */
    if (lstat(ep->path, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
        unlink(ep->path);
}
