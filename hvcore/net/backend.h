/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A NIC's host side (libslirp, tap): the interface virtio-net sends and receives frames by. */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * The virtio-net header (virtio 1.x, 5.1.6), which leads every frame in both directions.
 * Linux's tap speaks the same header (IFF_VNET_HDR), which is why it lives here: a backend
 * with vnet_hdr passes it through untouched, and offloads cost no copy.
 */
struct hv_virtio_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
} __attribute__((packed));

#define HV_NET_HDR_LEN 12

/* Feature bits of virtio-net (5.1.3) that concern the backend: the offloads. */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

/* The largest frame a backend hands over: a 64 KiB GSO packet, its headers and ours. */
#define HV_NET_MAX_FRAME (65536 + 256)

struct hv_net_backend;

/* The device's side of a backend; the backend calls it on the main-loop thread. */
struct hv_net_port {
    /*
     * One frame from the host, led by a virtio-net header when the backend has vnet_hdr.
     * Returns true when the frame was taken (delivered or dropped), false when the guest
     * has no receive buffer for it: the backend then keeps the frame, stops reading its
     * host side, and offers the frame again once hv_net_backend_rx_ready is called.
     */
    bool (*receive)(void *opaque, const uint8_t *frame, size_t len);
    void *opaque;
};

struct hv_net_backend_ops {
    /* One frame to the host (led by the header if vnet_hdr). 0, or -errno if dropped. */
    int (*send)(struct hv_net_backend *be, const struct iovec *iov, unsigned nr);
    /* The guest gave receive buffers: offer the held frame again and resume reading. */
    void (*rx_ready)(struct hv_net_backend *be);
    /* The virtio-net features the guest accepted (0 on reset), for receive offloads. */
    void (*set_features)(struct hv_net_backend *be, uint64_t features);
    /* Members of the NIC's object in query-devices. */
    void (*describe)(struct hv_net_backend *be, JsonBuilder *b);
    /* Stops reading, closes and frees. */
    void (*free)(struct hv_net_backend *be);
};

struct hv_net_backend {
    const struct hv_net_backend_ops *ops;
    const char *kind; /* "user", "tap" */
    bool vnet_hdr;    /* frames carry struct hv_virtio_net_hdr both ways */
    uint64_t offloads; /* virtio-net feature bits the device may offer over this backend */
    struct hv_net_port port;
    uint64_t rx_dropped; /* frames the backend dropped before the device saw them */
};

/* Connects the device; until then the backend drops what it receives. */
static inline void hv_net_backend_attach(struct hv_net_backend *be,
                                         const struct hv_net_port *port)
{
    be->port = *port;
}

static inline int hv_net_backend_send(struct hv_net_backend *be, const struct iovec *iov,
                                      unsigned nr)
{
    return be->ops->send(be, iov, nr);
}

static inline void hv_net_backend_rx_ready(struct hv_net_backend *be)
{
    if (be->ops->rx_ready)
        be->ops->rx_ready(be);
}

static inline void hv_net_backend_free(struct hv_net_backend *be)
{
    if (be)
        be->ops->free(be);
}

/*
 * A backend over a file descriptor that carries one frame per read and write: a tap, or
 * one end of a SOCK_SEQPACKET socketpair (tests). Takes `fd` (made non-blocking) and reads
 * it on the thread-default main context. `kind` is static text.
 */
struct hv_net_backend *hv_net_fd_backend_new(int fd, const char *kind, bool vnet_hdr,
                                             uint64_t offloads);

/*
 * Opens tap interface `ifname` with the vnet header (creating it if the process may).
 * Returns the backend, or NULL with *err set to one line naming the interface.
 */
struct hv_net_backend *hv_net_tap_open(const char *ifname, char **err);

struct hv_net_spec;
/*
 * Starts a libslirp network (10.0.2.0/24 as QEMU's, with its port forwards) on the
 * thread-default main context. Returns the backend, or NULL with *err set to one line
 * (e.g. a host port that is already taken); `what` names the NIC in that line.
 */
struct hv_net_backend *hv_net_slirp_new(const struct hv_net_spec *spec, const char *what,
                                        char **err);
