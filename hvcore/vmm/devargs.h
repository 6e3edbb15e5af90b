/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The device flags: --disk, --net and --console, parsed into specs before anything opens. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "devices/chardev.h"

#define HV_MAX_DISKS 16
#define HV_MAX_NICS 8
#define HV_MAX_HOSTFWD 16

enum hv_disk_cache { HV_CACHE_WRITEBACK, HV_CACHE_NONE };

struct hv_disk_spec {
    char *path;
    bool readonly;
    enum hv_disk_cache cache;
    char *serial; /* at most 20 bytes: the virtio-blk ID string */
};

enum hv_net_kind { HV_NET_USER, HV_NET_TAP };

struct hv_hostfwd {
    bool udp;
    char *host_addr; /* default 127.0.0.1 */
    uint16_t host_port;
    char *guest_addr; /* default: the guest's DHCP address */
    uint16_t guest_port;
};

struct hv_net_spec {
    enum hv_net_kind kind;
    char *ifname; /* tap */
    bool has_mac;
    uint8_t mac[6];
    struct hv_hostfwd hostfwd[HV_MAX_HOSTFWD];
    unsigned nr_hostfwd;
};

/* Each returns 0, or -EINVAL with *err naming the value and what is expected. */
int hv_disk_spec_parse(const char *text, struct hv_disk_spec *spec, char **err);
int hv_net_spec_parse(const char *text, struct hv_net_spec *spec, char **err);
void hv_disk_spec_clear(struct hv_disk_spec *spec);
void hv_net_spec_clear(struct hv_net_spec *spec);

/* "52:54:00:12:34:56" -> bytes; a multicast address is refused. */
int hv_parse_mac(const char *text, uint8_t mac[6]);
/* "tcp:127.0.0.1:8080-:80", "udp::5353-10.0.2.15:53". */
int hv_parse_hostfwd(const char *text, struct hv_hostfwd *fwd);
