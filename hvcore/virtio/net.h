/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-net: a NIC whose frames go to a host backend (libslirp or a tap device). */
#pragma once

#include "net/backend.h"
#include "virtio/virtio.h"
#include "vmm/devargs.h"
#include "vmm/machine.h"

#define HV_NET_RXQ 0
#define HV_NET_TXQ 1
#define HV_NET_QUEUE_SIZE 256

struct hv_net_used {
    uint16_t head;
    uint32_t len;
};

struct hv_virtio_net {
    struct hv_virtio_dev dev;
    struct hv_net_backend *be;
    char id[16];
    uint8_t mac[6];

    /*
     * Recursive: transmitting into libslirp can answer at once (ARP, DHCP), which
     * re-enters the receive path on the same thread. Taken by the main loop's queue
     * work and by the vCPU threads' activate, reset and config reads.
     */
    pthread_mutex_t lock;
    bool active;     /* DRIVER_OK and not reset since */
    bool rx_waiting; /* the backend holds a frame until the guest gives RX buffers */
    bool link_up;
    guint tx_idle;   /* more TX work after a full budget */
    struct hv_virtq_req rx_first;
    struct hv_virtq_req rx_next;
    struct hv_virtq_req tx_req;
    struct iovec tx_iov[HV_VIRTQ_MAX_SEGS];
    struct hv_net_used rx_used[HV_NET_QUEUE_SIZE];

    uint64_t rx_packets, rx_bytes, rx_dropped;
    uint64_t tx_packets, tx_bytes, tx_dropped;
};

/*
 * Initialises a NIC over `be` (which it owns from then on if this returns 0) with address
 * `mac`; add it to the bus with hv_virtio_add. Returns 0 or -errno.
 */
int hv_virtio_net_init(struct hv_virtio_net *net, struct hv_net_backend *be, const char *id,
                       const uint8_t mac[6], struct hv_vm *vm, const struct hv_memory *mem);

/*
 * Opens the backend of NIC number `index` as `spec` says (a bad-input check: a taken
 * host port, a missing tap). Returns it, or NULL with *err set to one line.
 */
struct hv_net_backend *hv_virtio_net_open_backend(const struct hv_net_spec *spec,
                                                  unsigned index, char **err);

/*
 * Creates NIC number `index` over `be` (taken, also on failure), not yet on the bus; its
 * address is spec's mac= or hv_net_default_mac's. Returns 0 with *out set, or -errno with
 * *err set to one line.
 */
int hv_virtio_net_new(struct hv_net_backend *be, const struct hv_net_spec *spec,
                      unsigned index, const char *identity, struct hv_vm *vm,
                      const struct hv_memory *mem, struct hv_virtio_net **out, char **err);

/*
 * The address of a NIC given no mac=: 52:54:00 (QEMU's locally administered prefix)
 * and 24 bits hashed from the VM's identity (its control socket path, or ""), the NIC's
 * index and its tap name, so that a VM keeps its addresses from one run to the next and
 * two VMs bridged through different taps do not share one.
 */
void hv_net_default_mac(const char *identity, unsigned index, const char *ifname,
                        uint8_t mac[6]);

/* Sets the link state the guest sees in the config space, and tells it. */
void hv_virtio_net_set_link(struct hv_virtio_net *net, bool up);

/* Reset, tear-down and query hooks for the machine's device list. */
extern const struct hv_device_ops hv_virtio_net_device_ops;
