/* SPDX-License-Identifier: GPL-3.0-or-later */
/* User-mode networking on libslirp: QEMU's 10.0.2.0/24 with DHCP, DNS, NAT and hostfwd. */
#include "net/backend.h"

#include <errno.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <string.h>

#include "vmm/devargs.h"

/* Frames held while the guest has no receive buffer; slirp's sockets are not read then. */
#define MAX_HELD 256

struct slirp_backend {
    struct hv_net_backend be;
    Slirp *slirp;
    GSource *src;
    /*
     * What slirp asked to poll this iteration (struct slirp_poll; slirp knows them by index)
     * and, across iterations, each fd's registration with src (fd -> struct slirp_fd).
     * Registrations change only when slirp's set of sockets does: adding or removing an fd
     * wakes the main context, so redoing them before every poll kept the loop spinning.
     */
    GArray *polls;
    GHashTable *fds;
    unsigned gen; /* of the current fill, to find fds slirp no longer asks for */
    gint64 deadline; /* when slirp's own timers want a call, monotonic µs; -1: none */
    GQueue held;     /* GBytes */
    char *what;
    GPtrArray *fwds; /* "tcp:127.0.0.1:8080-:80", for describe */
    uint8_t txbuf[HV_NET_MAX_FRAME];
};

struct poll_source {
    GSource source;
    struct slirp_backend *sb;
};

struct slirp_poll {
    gpointer tag; /* g_source_add_unix_fd's for the fd */
};

struct slirp_fd {
    gpointer tag;
    GIOCondition events;
    unsigned gen;
};

struct timer_source {
    GSource source;
    SlirpTimerCb cb;
    void *cb_opaque;
};

/* ---- slirp's callbacks ---- */

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
    struct slirp_backend *sb = opaque;
    struct hv_net_port *port = &sb->be.port;
    if (!port->receive) {
        sb->be.rx_dropped++;
        return (ssize_t)len;
    }
    /* Behind held frames a frame waits its turn, so the guest sees them in order. */
    if (g_queue_is_empty(&sb->held) && port->receive(port->opaque, buf, len))
        return (ssize_t)len;
    if (sb->held.length >= MAX_HELD) {
        sb->be.rx_dropped++; /* TCP retransmits; what else is lost was unreliable anyway */
        return (ssize_t)len;
    }
    g_queue_push_tail(&sb->held, g_bytes_new(buf, len));
    return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque)
{
    struct slirp_backend *sb = opaque;
    fprintf(stderr, "vmdesk-vmm: %s: user networking: guest error: %s\n", sb->what, msg);
}

static int64_t clock_get_ns(void *opaque)
{
    (void)opaque;
    return g_get_monotonic_time() * 1000;
}

static gboolean timer_dispatch(GSource *s, GSourceFunc cb, gpointer data)
{
    struct timer_source *t = (struct timer_source *)s;
    (void)cb;
    (void)data;
    g_source_set_ready_time(s, -1);
    t->cb(t->cb_opaque);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_funcs = {.dispatch = timer_dispatch};

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    (void)opaque;
    GSource *s = g_source_new(&timer_funcs, sizeof(struct timer_source));
    struct timer_source *t = (struct timer_source *)s;
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    g_source_attach(s, NULL);
    return s;
}

static void timer_free(void *timer, void *opaque)
{
    (void)opaque;
    g_source_destroy(timer);
    g_source_unref(timer);
}

/* `expire_ms` is on clock_get_ns's clock, which is GLib's monotonic one. */
static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    g_source_set_ready_time(timer, expire_ms * 1000);
}

static void register_poll_fd(int fd, void *opaque)
{
    (void)fd; /* every fd is handed over again by slirp_pollfds_fill before each poll */
    (void)opaque;
}

static void notify(void *opaque)
{
    (void)opaque;
    g_main_context_wakeup(NULL);
}

static const SlirpCb slirp_callbacks = {
    .send_packet = send_packet,
    .guest_error = guest_error,
    .clock_get_ns = clock_get_ns,
    .timer_new = timer_new,
    .timer_free = timer_free,
    .timer_mod = timer_mod,
    .register_poll_fd = register_poll_fd,
    .unregister_poll_fd = register_poll_fd,
    .notify = notify,
};

/* ---- slirp's sockets on the main loop: fill before each poll, poll after it ---- */

static int add_poll(int fd, int events, void *opaque)
{
    struct slirp_backend *sb = opaque;
    GIOCondition ev = 0;
    /* Back-pressure: while frames wait for the guest, leave host data in the kernel. */
    if ((events & SLIRP_POLL_IN) && g_queue_is_empty(&sb->held))
        ev |= G_IO_IN;
    if (events & SLIRP_POLL_OUT)
        ev |= G_IO_OUT;
    if (events & SLIRP_POLL_PRI)
        ev |= G_IO_PRI;
    if (events & SLIRP_POLL_ERR)
        ev |= G_IO_ERR;
    if (events & SLIRP_POLL_HUP)
        ev |= G_IO_HUP;
    struct slirp_fd *r = g_hash_table_lookup(sb->fds, GINT_TO_POINTER(fd));
    if (!r) {
        r = g_new0(struct slirp_fd, 1);
        r->tag = g_source_add_unix_fd(sb->src, fd, ev);
        r->events = ev;
        g_hash_table_insert(sb->fds, GINT_TO_POINTER(fd), r);
    } else {
        if (r->gen == sb->gen)
            ev |= r->events; /* the same fd twice in one fill: poll for both */
        if (ev != r->events) {
            g_source_modify_unix_fd(sb->src, r->tag, ev); /* no wake-up: we are in prepare */
            r->events = ev;
        }
    }
    r->gen = sb->gen;
    struct slirp_poll p = {.tag = r->tag};
    g_array_append_val(sb->polls, p);
    return (int)sb->polls->len - 1;
}

static int get_revents(int idx, void *opaque)
{
    struct slirp_backend *sb = opaque;
    if (idx < 0 || (guint)idx >= sb->polls->len)
        return 0;
    GIOCondition r = g_source_query_unix_fd(sb->src, g_array_index(sb->polls,
                                                                   struct slirp_poll, idx).tag);
    return ((r & G_IO_IN) ? SLIRP_POLL_IN : 0) | ((r & G_IO_OUT) ? SLIRP_POLL_OUT : 0) |
           ((r & G_IO_PRI) ? SLIRP_POLL_PRI : 0) | ((r & G_IO_ERR) ? SLIRP_POLL_ERR : 0) |
           ((r & G_IO_HUP) ? SLIRP_POLL_HUP : 0);
}

static gboolean drop_stale(gpointer key, gpointer value, gpointer opaque)
{
    struct slirp_backend *sb = opaque;
    struct slirp_fd *r = value;
    (void)key;
    if (r->gen == sb->gen)
        return FALSE;
    g_source_remove_unix_fd(sb->src, r->tag);
    return TRUE; /* the table frees r */
}

static gboolean poll_prepare(GSource *s, gint *timeout)
{
    struct slirp_backend *sb = ((struct poll_source *)s)->sb;
    g_array_set_size(sb->polls, 0);
    sb->gen++;
    uint32_t t = UINT32_MAX;
    slirp_pollfds_fill(sb->slirp, &t, add_poll, sb);
    g_hash_table_foreach_remove(sb->fds, drop_stale, sb);
    /*
     * A deadline only ever moves earlier until it is met: other sources wake the loop
     * often (every kick), and pushing it back each time would starve slirp's timers.
     */
    gint64 now = g_source_get_time(s);
    if (t != UINT32_MAX) {
        gint64 d = now + (gint64)t * 1000;
        if (sb->deadline < 0 || d < sb->deadline)
            sb->deadline = d;
    }
    if (sb->deadline < 0) {
        *timeout = -1;
        return FALSE;
    }
    if (sb->deadline <= now) {
        *timeout = 0;
        return TRUE;
    }
    *timeout = (gint)MIN((sb->deadline - now + 999) / 1000, G_MAXINT);
    return FALSE;
}

static gboolean poll_check(GSource *s)
{
    struct slirp_backend *sb = ((struct poll_source *)s)->sb;
    for (guint i = 0; i < sb->polls->len; i++)
        if (g_source_query_unix_fd(s, g_array_index(sb->polls, struct slirp_poll, i).tag))
            return TRUE;
    return sb->deadline >= 0 && g_source_get_time(s) >= sb->deadline;
}

static gboolean poll_dispatch(GSource *s, GSourceFunc cb, gpointer data)
{
    struct slirp_backend *sb = ((struct poll_source *)s)->sb;
    (void)cb;
    (void)data;
    sb->deadline = -1;
    slirp_pollfds_poll(sb->slirp, 0, get_revents, sb);
    /* slirp may have closed sockets: their entries wait for the next fill, not for us. */
    g_array_set_size(sb->polls, 0);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs poll_funcs = {
    .prepare = poll_prepare,
    .check = poll_check,
    .dispatch = poll_dispatch,
};

/* ---- the backend ---- */

static int slirp_send(struct hv_net_backend *be, const struct iovec *iov, unsigned nr)
{
    struct slirp_backend *sb = (struct slirp_backend *)be;
    size_t len = 0;
    for (unsigned i = 0; i < nr; i++) {
        if (iov[i].iov_len > sizeof(sb->txbuf) - len)
            return -EMSGSIZE;
        memcpy(sb->txbuf + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    slirp_input(sb->slirp, sb->txbuf, (int)len);
    /* What the frame set off (an ARP answer releasing queued packets, a new socket) is
     * sent by slirp_pollfds_poll: have it run on the next iteration. */
    sb->deadline = 0;
    return 0;
}

static void slirp_rx_ready(struct hv_net_backend *be)
{
    struct slirp_backend *sb = (struct slirp_backend *)be;
    while (!g_queue_is_empty(&sb->held)) {
        GBytes *b = g_queue_peek_head(&sb->held);
        gsize len;
        const uint8_t *data = g_bytes_get_data(b, &len);
        if (!sb->be.port.receive(sb->be.port.opaque, data, len))
            return;
        g_bytes_unref(g_queue_pop_head(&sb->held));
    }
    /* The sockets are polled for input again from the next main-loop iteration. */
    g_main_context_wakeup(NULL);
}

static void slirp_describe(struct hv_net_backend *be, JsonBuilder *b)
{
    struct slirp_backend *sb = (struct slirp_backend *)be;
    json_builder_set_member_name(b, "hostfwd");
    json_builder_begin_array(b);
    for (guint i = 0; i < sb->fwds->len; i++)
        json_builder_add_string_value(b, sb->fwds->pdata[i]);
    json_builder_end_array(b);
}

static void slirp_free(struct hv_net_backend *be)
{
    struct slirp_backend *sb = (struct slirp_backend *)be;
    if (sb->src) {
        g_source_destroy(sb->src);
        g_source_unref(sb->src);
    }
    /* Closes the forwarded ports' listening sockets and frees its timers. */
    if (sb->slirp)
        slirp_cleanup(sb->slirp);
    g_queue_clear_full(&sb->held, (GDestroyNotify)g_bytes_unref);
    if (sb->polls)
        g_array_free(sb->polls, TRUE);
    if (sb->fds)
        g_hash_table_destroy(sb->fds);
    if (sb->fwds)
        g_ptr_array_free(sb->fwds, TRUE);
    g_free(sb->what);
    g_free(sb);
}

static const struct hv_net_backend_ops slirp_ops = {
    .send = slirp_send,
    .rx_ready = slirp_rx_ready,
    .describe = slirp_describe,
    .free = slirp_free,
};

static int add_hostfwd(struct slirp_backend *sb, const struct hv_hostfwd *f, char **err)
{
    const char *proto = f->udp ? "udp" : "tcp";
    g_autofree char *text = g_strdup_printf("%s:%s:%u-%s:%u", proto, f->host_addr,
                                            f->host_port, f->guest_addr ? f->guest_addr : "",
                                            f->guest_port);
    struct in_addr host, guest = {.s_addr = 0}; /* 0: the address DHCP gives the guest */
    if (!inet_aton(f->host_addr, &host)) {
        *err = g_strdup_printf("--net user: hostfwd %s: host address '%s' is not an IPv4 "
                               "address", text, f->host_addr);
        return -EINVAL;
    }
    if (f->guest_addr && !inet_aton(f->guest_addr, &guest)) {
        *err = g_strdup_printf("--net user: hostfwd %s: guest address '%s' is not an IPv4 "
                               "address", text, f->guest_addr);
        return -EINVAL;
    }
    errno = 0;
    if (slirp_add_hostfwd(sb->slirp, f->udp, host, f->host_port, guest, f->guest_port) < 0) {
        int e = errno ? errno : EADDRINUSE;
        *err = g_strdup_printf("--net user: hostfwd %s: cannot listen on %s port %s:%u: %s",
                               text, proto, f->host_addr, f->host_port, g_strerror(e));
        return -EINVAL;
    }
    g_ptr_array_add(sb->fwds, g_steal_pointer(&text));
    return 0;
}

struct hv_net_backend *hv_net_slirp_new(const struct hv_net_spec *spec, const char *what,
                                        char **err)
{
    struct slirp_backend *sb = g_new0(struct slirp_backend, 1);
    sb->be.ops = &slirp_ops;
    sb->be.kind = "user";
    /* No offloads: libslirp wants whole frames with their checksums. */
    sb->be.vnet_hdr = false;
    sb->be.offloads = 0;
    sb->what = g_strdup(what);
    sb->deadline = -1;
    g_queue_init(&sb->held);
    sb->polls = g_array_new(FALSE, TRUE, sizeof(struct slirp_poll));
    sb->fds = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    sb->fwds = g_ptr_array_new_with_free_func(g_free);

    /* QEMU's defaults, which guides and guests' habits assume. */
    SlirpConfig cfg = {.version = 1, .in_enabled = true, .in6_enabled = true,
                       .vprefix_len = 64};
    inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
    inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
    inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
    inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
    inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
    inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);
    inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
    inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);
    sb->slirp = slirp_new(&cfg, &slirp_callbacks, sb);
    if (!sb->slirp) {
        *err = g_strdup_printf("%s: cannot start user networking (libslirp)", what);
        slirp_free(&sb->be);
        return NULL;
    }
    for (unsigned i = 0; i < spec->nr_hostfwd; i++) {
        if (add_hostfwd(sb, &spec->hostfwd[i], err) < 0) {
            slirp_free(&sb->be);
            return NULL;
        }
    }
    sb->src = g_source_new(&poll_funcs, sizeof(struct poll_source));
    ((struct poll_source *)sb->src)->sb = sb;
    /* As hv_fd_watch_add's sources: no fd removal and re-adding (a wake-up) per dispatch. */
    g_source_set_can_recurse(sb->src, TRUE);
    g_source_attach(sb->src, NULL);
    return &sb->be;
}
