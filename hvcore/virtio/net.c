/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-net: a NIC whose frames go to a host backend (libslirp or a tap device). */
#include "virtio/net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define VIRTIO_NET_S_LINK_UP 1
/* Config space: mac[6], status, max_virtqueue_pairs (read by drivers that probe it). */
#define NET_CONFIG_SIZE 10
/* Chains sent per main-loop dispatch, so a guest that keeps the ring full cannot starve
 * the other devices and the control socket. */
#define TX_BUDGET 256

/* ---- receive: backend -> guest ---- */

static int pop(struct hv_virtio_net *net, unsigned q, struct hv_virtq_req *req)
{
    const char *why = NULL;
    int r = hv_virtq_pop(&net->dev.queues[q].vq, req, &why);
    if (r < 0)
        hv_virtio_fail(&net->dev, why);
    return r;
}

/*
 * Gives back chains popped for a frame that turned out not to fit: the guest never saw
 * them used, so they are simply popped again for the next frame. The avail_event that
 * hv_virtq_pop wrote stays ahead, which only means the guest kicks once it adds more.
 */
static void unpop(struct hv_virtq *vq, unsigned n)
{
    vq->last_avail = (uint16_t)(vq->last_avail - n);
    vq->inflight -= n;
}

/* Returns false when the guest has no room yet; the frame is then the backend's to keep. */
static bool rx_frame(struct hv_virtio_net *net, const uint8_t *frame, size_t len)
{
    struct hv_virtio_dev *dev = &net->dev;
    struct hv_virtq *vq = &dev->queues[HV_NET_RXQ].vq;
    struct hv_virtio_net_hdr hdr = {0};
    const uint8_t *payload = frame;
    size_t plen = len;

    if (!net->active || dev->broken || !vq->enabled || !net->link_up) {
        net->rx_dropped++;
        return true;
    }
    if (net->be->vnet_hdr) {
        if (len < HV_NET_HDR_LEN) {
            net->rx_dropped++;
            return true;
        }
        memcpy(&hdr, frame, HV_NET_HDR_LEN);
        payload += HV_NET_HDR_LEN;
        plen -= HV_NET_HDR_LEN;
    }
    int r = pop(net, HV_NET_RXQ, &net->rx_first);
    if (r <= 0) {
        if (r < 0) {
            net->rx_dropped++;
            return true;
        }
        net->rx_waiting = true;
        return false;
    }
    struct hv_virtq_req *first = &net->rx_first;
    if (first->in_len < HV_NET_HDR_LEN) {
        hv_virtio_fail(dev, "a receive buffer is smaller than the virtio-net header");
        net->rx_dropped++;
        return true;
    }
    bool mrg = hv_virtio_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF);
    if (!mrg && first->in_len < HV_NET_HDR_LEN + plen) {
        /* Larger than any buffer this guest gives without MRG_RXBUF: its loss, not theirs. */
        unpop(vq, 1);
        net->rx_dropped++;
        return true;
    }
    size_t done = hv_virtq_copy_to_in(first, HV_NET_HDR_LEN, payload, plen);
    unsigned nbufs = 1;
    net->rx_used[0] = (struct hv_net_used){first->head, (uint32_t)(HV_NET_HDR_LEN + done)};
    while (done < plen) {
        if (nbufs == vq->size || nbufs == HV_NET_QUEUE_SIZE) {
            unpop(vq, nbufs);
            net->rx_dropped++;
            return true;
        }
        r = pop(net, HV_NET_RXQ, &net->rx_next);
        if (r < 0) {
            net->rx_dropped++;
            return true;
        }
        if (r == 0) {
            /* Part of the frame fits: wait for the rest of the room rather than cut it. */
            unpop(vq, nbufs);
            net->rx_waiting = true;
            return false;
        }
        size_t n = hv_virtq_copy_to_in(&net->rx_next, 0, payload + done, plen - done);
        if (n == 0) {
            hv_virtio_fail(dev, "a receive buffer has no writable space");
            net->rx_dropped++;
            return true;
        }
        net->rx_used[nbufs++] = (struct hv_net_used){net->rx_next.head, (uint32_t)n};
        done += n;
    }
    /* What the backend said about checksums and segmentation passes through as it is. */
    hdr.num_buffers = (uint16_t)nbufs;
    hv_virtq_copy_to_in(first, 0, &hdr, HV_NET_HDR_LEN);
    for (unsigned i = 0; i < nbufs; i++)
        hv_virtq_push(vq, net->rx_used[i].head, net->rx_used[i].len);
    net->rx_packets++;
    net->rx_bytes += plen;
    hv_virtio_notify(dev, HV_NET_RXQ);
    return true;
}

static bool net_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct hv_virtio_net *net = opaque;
    /* Lock order as for a kick: a reset must not clear the RX ring under us. */
    pthread_mutex_lock(&net->dev.queue_lock);
    pthread_mutex_lock(&net->lock);
    bool taken = rx_frame(net, frame, len);
    pthread_mutex_unlock(&net->lock);
    pthread_mutex_unlock(&net->dev.queue_lock);
    return taken;
}

/* ---- transmit: guest -> backend ---- */

/* Sends one popped chain; false if the guest broke the protocol. */
static bool tx_chain(struct hv_virtio_net *net)
{
    struct hv_virtq_req *req = &net->tx_req;
    if (req->out_len < HV_NET_HDR_LEN) {
        hv_virtio_fail(&net->dev, "a transmit buffer is shorter than the virtio-net header");
        return false;
    }
    const struct iovec *iov = req->iov;
    unsigned nr = req->nr_out;
    if (!net->be->vnet_hdr) {
        /* Drop the header, which may be split over several descriptors. */
        size_t skip = HV_NET_HDR_LEN;
        nr = 0;
        for (unsigned i = 0; i < req->nr_out; i++) {
            if (skip >= req->iov[i].iov_len) {
                skip -= req->iov[i].iov_len;
                continue;
            }
            net->tx_iov[nr].iov_base = (uint8_t *)req->iov[i].iov_base + skip;
            net->tx_iov[nr].iov_len = req->iov[i].iov_len - skip;
            skip = 0;
            nr++;
        }
        iov = net->tx_iov;
    }
    /* Straight from guest memory to the backend: a tap takes the iovec as it is. */
    if (hv_net_backend_send(net->be, iov, nr) < 0) {
        net->tx_dropped++;
    } else {
        net->tx_packets++;
        net->tx_bytes += req->out_len - HV_NET_HDR_LEN;
    }
    return true;
}

static gboolean tx_resume(gpointer opaque);

/*
 * Sends what the guest queued. Guest notifications stay off while the ring is drained, so
 * a guest that keeps adding frames meanwhile does not exit to kick us for each one (VM
 * exits are what a busy sender pays most for); they are back on, and the ring checked once
 * more, before we stop.
 */
static void tx_run(struct hv_virtio_net *net)
{
    struct hv_virtio_dev *dev = &net->dev;
    struct hv_virtq *vq = &dev->queues[HV_NET_TXQ].vq;
    bool pushed = false;
    if (!net->active || dev->broken || !vq->enabled || !vq->used)
        return;
    hv_virtq_set_notify(vq, false);
    for (unsigned budget = TX_BUDGET; net->active && !dev->broken; budget--) {
        if (budget == 0) {
            /* Notifications stay off: tx_resume goes on where this stops. */
            if (!net->tx_idle)
                net->tx_idle = g_idle_add(tx_resume, net);
            if (pushed)
                hv_virtio_notify(dev, HV_NET_TXQ);
            return;
        }
        int r = pop(net, HV_NET_TXQ, &net->tx_req);
        if (r == 0) {
            hv_virtq_set_notify(vq, true);
            r = pop(net, HV_NET_TXQ, &net->tx_req);
            if (r <= 0)
                break;
            hv_virtq_set_notify(vq, false);
        }
        if (r < 0 || !tx_chain(net))
            break;
        hv_virtq_push(vq, net->tx_req.head, 0);
        pushed = true;
    }
    if (vq->used) /* not if a reset came in between */
        hv_virtq_set_notify(vq, true);
    if (pushed)
        hv_virtio_notify(dev, HV_NET_TXQ);
}

static gboolean tx_resume(gpointer opaque)
{
    struct hv_virtio_net *net = opaque;
    /* The transport's queue lock first, as for a kick: a reset must not clear the ring
     * from under us (lock order: queue_lock, then net->lock). */
    pthread_mutex_lock(&net->dev.queue_lock);
    pthread_mutex_lock(&net->lock);
    net->tx_idle = 0;
    tx_run(net);
    pthread_mutex_unlock(&net->lock);
    pthread_mutex_unlock(&net->dev.queue_lock);
    return G_SOURCE_REMOVE;
}

/* ---- virtio ops ---- */

static uint64_t net_features(struct hv_virtio_dev *dev)
{
    struct hv_virtio_net *net = dev->opaque;
    return (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
           (1ull << VIRTIO_NET_F_MRG_RXBUF) | net->be->offloads;
}

static void net_config_read(struct hv_virtio_dev *dev, unsigned offset, void *data,
                            unsigned len)
{
    struct hv_virtio_net *net = dev->opaque;
    uint8_t cfg[NET_CONFIG_SIZE];
    pthread_mutex_lock(&net->lock);
    memcpy(cfg, net->mac, 6);
    uint16_t status = net->link_up ? VIRTIO_NET_S_LINK_UP : 0, pairs = 1;
    pthread_mutex_unlock(&net->lock);
    memcpy(cfg + 6, &status, 2);
    memcpy(cfg + 8, &pairs, 2);
    memcpy(data, cfg + offset, len);
}

static void net_activate(struct hv_virtio_dev *dev)
{
    struct hv_virtio_net *net = dev->opaque;
    pthread_mutex_lock(&net->lock);
    net->active = true;
    /* A frame held since before a reset goes out on the guest's first RX kick. */
    net->rx_waiting = true;
    pthread_mutex_unlock(&net->lock);
    if (net->be->ops->set_features)
        net->be->ops->set_features(net->be, dev->guest_features);
}

static void net_queue_notify(struct hv_virtio_dev *dev, unsigned q)
{
    struct hv_virtio_net *net = dev->opaque;
    pthread_mutex_lock(&net->lock);
    if (q == HV_NET_TXQ) {
        tx_run(net);
    } else if (q == HV_NET_RXQ && net->rx_waiting && net->active) {
        net->rx_waiting = false;
        /* The backend re-offers what it holds, which may set rx_waiting again. */
        hv_net_backend_rx_ready(net->be);
    }
    pthread_mutex_unlock(&net->lock);
}

static void net_virtio_reset(struct hv_virtio_dev *dev)
{
    struct hv_virtio_net *net = dev->opaque;
    pthread_mutex_lock(&net->lock);
    net->active = false;
    pthread_mutex_unlock(&net->lock);
    if (net->be->ops->set_features)
        net->be->ops->set_features(net->be, 0);
}

static const struct hv_virtio_ops net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .nr_queues = 2,
    .queue_size = HV_NET_QUEUE_SIZE,
    .config_size = NET_CONFIG_SIZE,
    .features = net_features,
    .config_read = net_config_read,
    .activate = net_activate,
    .queue_notify = net_queue_notify,
    .reset = net_virtio_reset,
};

void hv_virtio_net_set_link(struct hv_virtio_net *net, bool up)
{
    pthread_mutex_lock(&net->lock);
    bool changed = net->link_up != up;
    net->link_up = up;
    pthread_mutex_unlock(&net->lock);
    if (changed)
        hv_virtio_config_changed(&net->dev);
}

/* ---- the machine's hooks ---- */

static void net_reset(void *impl)
{
    struct hv_virtio_net *net = impl;
    hv_virtio_reset(&net->dev);
}

static void net_destroy(void *impl)
{
    struct hv_virtio_net *net = impl;
    hv_virtio_destroy(&net->dev);
    if (net->tx_idle)
        g_source_remove(net->tx_idle);
    hv_net_backend_free(net->be);
    pthread_mutex_destroy(&net->lock);
    g_free(net);
}

static void net_describe(void *impl, JsonBuilder *b)
{
    struct hv_virtio_net *net = impl;
    char mac[18];
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", net->mac[0], net->mac[1],
             net->mac[2], net->mac[3], net->mac[4], net->mac[5]);
    json_builder_set_member_name(b, "backend");
    json_builder_add_string_value(b, net->be->kind);
    json_builder_set_member_name(b, "mac");
    json_builder_add_string_value(b, mac);
    json_builder_set_member_name(b, "pci-slot");
    json_builder_add_int_value(b, net->dev.pci.slot);
    json_builder_set_member_name(b, "link");
    json_builder_add_string_value(b, net->link_up ? "up" : "down");
    if (net->be->ops->describe)
        net->be->ops->describe(net->be, b);
}

static void add_counter(JsonBuilder *b, const char *name, uint64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)v);
}

static void net_stats(void *impl, JsonBuilder *b)
{
    struct hv_virtio_net *net = impl;
    pthread_mutex_lock(&net->lock);
    add_counter(b, "rx-packets", net->rx_packets);
    add_counter(b, "rx-bytes", net->rx_bytes);
    add_counter(b, "rx-dropped", net->rx_dropped + net->be->rx_dropped);
    add_counter(b, "tx-packets", net->tx_packets);
    add_counter(b, "tx-bytes", net->tx_bytes);
    add_counter(b, "tx-dropped", net->tx_dropped);
    pthread_mutex_unlock(&net->lock);
}

static struct hv_virtio_dev *net_virtio(void *impl)
{
    struct hv_virtio_net *net = impl;
    return &net->dev;
}

const struct hv_device_ops hv_virtio_net_device_ops = {
    .kind = "virtio-net",
    .virtio = net_virtio,
    .reset = net_reset,
    .destroy = net_destroy,
    .describe = net_describe,
    .stats = net_stats,
};

int hv_virtio_net_init(struct hv_virtio_net *net, struct hv_net_backend *be, const char *id,
                       const uint8_t mac[6], struct hv_vm *vm, const struct hv_memory *mem)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&net->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    net->be = be;
    g_strlcpy(net->id, id, sizeof(net->id));
    memcpy(net->mac, mac, 6);
    net->link_up = true;
    int r = hv_virtio_init(&net->dev, &net_ops, net, vm, mem);
    if (r < 0)
        return r;
    struct hv_net_port port = {.receive = net_receive, .opaque = net};
    hv_net_backend_attach(be, &port);
    return 0;
}

void hv_net_default_mac(const char *identity, unsigned index, const char *ifname,
                        uint8_t mac[6])
{
    /* FNV-1a: small, and the same on every build and host. */
    uint32_t h = 2166136261u;
    g_autofree char *key = g_strdup_printf("%s|%u|%s", identity ? identity : "", index,
                                           ifname ? ifname : "");
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    mac[0] = 0x52;
    mac[1] = 0x54;
    mac[2] = 0x00;
    mac[3] = (uint8_t)(h >> 16);
    mac[4] = (uint8_t)(h >> 8);
    mac[5] = (uint8_t)h;
}

struct hv_net_backend *hv_virtio_net_open_backend(const struct hv_net_spec *spec,
                                                  unsigned index, char **err)
{
    char id[16];
    snprintf(id, sizeof(id), "net%u", index);
    return spec->kind == HV_NET_TAP ? hv_net_tap_open(spec->ifname, err)
                                    : hv_net_slirp_new(spec, id, err);
}

int hv_virtio_net_new(struct hv_net_backend *be, const struct hv_net_spec *spec,
                      unsigned index, const char *identity, struct hv_vm *vm,
                      const struct hv_memory *mem, struct hv_virtio_net **out, char **err)
{
    char id[16];
    snprintf(id, sizeof(id), "net%u", index);
    uint8_t mac[6];
    if (spec->has_mac)
        memcpy(mac, spec->mac, 6);
    else
        hv_net_default_mac(identity, index, spec->kind == HV_NET_TAP ? spec->ifname : NULL,
                           mac);
    struct hv_virtio_net *net = g_new0(struct hv_virtio_net, 1);
    int r = hv_virtio_net_init(net, be, id, mac, vm, mem);
    if (r < 0) {
        *err = g_strdup_printf("cannot create virtio-net %s: %s", id, g_strerror(-r));
        hv_virtio_destroy(&net->dev);
        hv_net_backend_free(be);
        pthread_mutex_destroy(&net->lock);
        g_free(net);
        return r;
    }
    *out = net;
    return 0;
}
