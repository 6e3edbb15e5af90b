/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The tap backend, and the frame-per-read file descriptor backend it is built on. */
#include "net/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/fd-watch.h"

/* Frames read per wake-up, so one busy NIC cannot starve the rest of the main loop. */
#define RX_BUDGET 64

struct fd_backend {
    struct hv_net_backend be;
    int fd;
    guint watch;
    bool is_tap;
    char ifname[IFNAMSIZ];
    size_t held; /* length of the frame in buf the guest had no room for; 0: none */
    uint8_t buf[HV_NET_MAX_FRAME];
};

static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque);

static void watch(struct fd_backend *fb)
{
    if (!fb->watch)
        fb->watch = hv_fd_watch_add(fb->fd, on_readable, fb);
}

/* Offers buf[0..len) to the device; false (and the frame held) if the guest is full. */
static bool deliver(struct fd_backend *fb, size_t len)
{
    if (!fb->be.port.receive) {
        fb->be.rx_dropped++;
        return true;
    }
    if (fb->be.port.receive(fb->be.port.opaque, fb->buf, len))
        return true;
    fb->held = len;
    return false;
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    struct fd_backend *fb = opaque;
    (void)cond;
    for (unsigned i = 0; i < RX_BUDGET; i++) {
        ssize_t n = read(fd, fb->buf, sizeof(fb->buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return G_SOURCE_CONTINUE;
        if (n <= 0) {
            /* The peer went away (a socketpair) or the device is gone: stop for good. */
            fb->watch = 0;
            return G_SOURCE_REMOVE;
        }
        if (!deliver(fb, (size_t)n)) {
            /* Back-pressure: leave the rest in the kernel until the guest has room. */
            fb->watch = 0;
            return G_SOURCE_REMOVE;
        }
    }
    return G_SOURCE_CONTINUE;
}

static int fd_send(struct hv_net_backend *be, const struct iovec *iov, unsigned nr)
{
    struct fd_backend *fb = (struct fd_backend *)be;
    ssize_t n;
    do {
        n = writev(fb->fd, iov, (int)nr);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

static void fd_rx_ready(struct hv_net_backend *be)
{
    struct fd_backend *fb = (struct fd_backend *)be;
    if (fb->held) {
        size_t len = fb->held;
        fb->held = 0;
        if (!deliver(fb, len))
            return;
    }
    watch(fb);
}

static void tap_set_features(struct hv_net_backend *be, uint64_t f)
{
    struct fd_backend *fb = (struct fd_backend *)be;
    unsigned off = 0;
    /* Whatever the guest did not accept, the kernel segments and checksums for it. */
    if (f & (1ull << VIRTIO_NET_F_GUEST_CSUM)) {
        off |= TUN_F_CSUM;
        if (f & (1ull << VIRTIO_NET_F_GUEST_TSO4))
            off |= TUN_F_TSO4;
        if (f & (1ull << VIRTIO_NET_F_GUEST_TSO6))
            off |= TUN_F_TSO6;
        if ((f & (1ull << VIRTIO_NET_F_GUEST_ECN)) && (off & (TUN_F_TSO4 | TUN_F_TSO6)))
            off |= TUN_F_TSO_ECN;
    }
    if (fb->is_tap)
        (void)ioctl(fb->fd, TUNSETOFFLOAD, off);
}

static void fd_describe(struct hv_net_backend *be, JsonBuilder *b)
{
    struct fd_backend *fb = (struct fd_backend *)be;
    if (fb->is_tap) {
        json_builder_set_member_name(b, "ifname");
        json_builder_add_string_value(b, fb->ifname);
    }
}

static void fd_free(struct hv_net_backend *be)
{
    struct fd_backend *fb = (struct fd_backend *)be;
    if (fb->watch)
        g_source_remove(fb->watch);
    close(fb->fd);
    g_free(fb);
}

static const struct hv_net_backend_ops fd_ops = {
    .send = fd_send,
    .rx_ready = fd_rx_ready,
    .set_features = tap_set_features,
    .describe = fd_describe,
    .free = fd_free,
};

struct hv_net_backend *hv_net_fd_backend_new(int fd, const char *kind, bool vnet_hdr,
                                             uint64_t offloads)
{
    struct fd_backend *fb = g_new0(struct fd_backend, 1);
    fb->be.ops = &fd_ops;
    fb->be.kind = kind;
    fb->be.vnet_hdr = vnet_hdr;
    fb->be.offloads = offloads;
    fb->fd = fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    watch(fb);
    return &fb->be;
}

/* ---- tap ---- */

/* Which offloads this kernel's tap takes, asked by trying them (it refuses unknown bits). */
static uint64_t probe_offloads(int fd)
{
    uint64_t f = 0;
    if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) == 0)
        f = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
            (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6) |
            (1ull << VIRTIO_NET_F_GUEST_ECN) | (1ull << VIRTIO_NET_F_HOST_TSO4) |
            (1ull << VIRTIO_NET_F_HOST_TSO6) | (1ull << VIRTIO_NET_F_HOST_ECN);
    /* The kernel accepts UDP fragmentation offload from us (guest to host) when it takes
     * TUN_F_UFO; it never sends UFO frames the other way, so only HOST_UFO is offered. */
    if (f && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_UFO) == 0)
        f |= 1ull << VIRTIO_NET_F_HOST_UFO;
    /* Nothing until the guest accepts it. */
    (void)ioctl(fd, TUNSETOFFLOAD, 0);
    return f;
}

static char *attach_error(const char *ifname, int e)
{
    bool exists = if_nametoindex(ifname) != 0;
    const char *user = g_get_user_name();
    if ((e == EPERM || e == EACCES) && !exists)
        return g_strdup_printf("--net tap,ifname=%s: no such tap device, and no permission to "
                               "create it; create it with 'ip tuntap add dev %s mode tap user "
                               "%s'", ifname, ifname, user);
    if (e == EPERM || e == EACCES)
        return g_strdup_printf("--net tap,ifname=%s: no permission to use this tap device; "
                               "recreate it with 'ip tuntap add dev %s mode tap user %s'",
                               ifname, ifname, user);
    if (e == EBUSY)
        return g_strdup_printf("--net tap,ifname=%s: the tap device is in use by another "
                               "process", ifname);
    if (e == EINVAL && exists)
        return g_strdup_printf("--net tap,ifname=%s: %s is not a tap device (a tun device or "
                               "another kind of interface)", ifname, ifname);
    return g_strdup_printf("--net tap,ifname=%s: cannot attach to the tap device: %s", ifname,
                           g_strerror(e));
}

struct hv_net_backend *hv_net_tap_open(const char *ifname, char **err)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        *err = g_strdup_printf("--net tap,ifname=%s: cannot open /dev/net/tun: %s%s", ifname,
                               g_strerror(e),
                               e == ENOENT ? " (is the tun module loaded?)"
                               : e == EACCES || e == EPERM ? " (no permission)" : "");
        return NULL;
    }
    unsigned features = 0;
    if (ioctl(fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR)) {
        *err = g_strdup_printf("--net tap,ifname=%s: this kernel's tap has no virtio-net "
                               "header support (IFF_VNET_HDR)", ifname);
        close(fd);
        return NULL;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    g_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        *err = attach_error(ifname, errno);
        close(fd);
        return NULL;
    }
    /* The virtio 1.x header, num_buffers included: frames pass through unchanged. */
    int hdr = HV_NET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
        *err = g_strdup_printf("--net tap,ifname=%s: cannot set the tap's header size: %s",
                               ifname, g_strerror(errno));
        close(fd);
        return NULL;
    }
    uint64_t offloads = probe_offloads(fd);
    struct hv_net_backend *be = hv_net_fd_backend_new(fd, "tap", true, offloads);
    struct fd_backend *fb = (struct fd_backend *)be;
    fb->is_tap = true;
    g_strlcpy(fb->ifname, ifr.ifr_name, sizeof(fb->ifname));
    return be;
}
