/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdesk-vmm's command line: parsing and validating it before anything is opened. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "devices/chardev.h"
#include "display/spice.h"
#include "display/vnc.h"
#include "vmm/devargs.h"

#define HV_DEFAULT_MEMORY (512ull << 20)
#define HV_DEFAULT_CMDLINE "console=ttyS0"
#define HV_MAX_CPUS 255

/* The display device (--gpu); NONE unless a display is requested. */
enum hv_gpu_kind { HV_GPU_NONE, HV_GPU_BOCHS, HV_GPU_VIRTIO };

struct hv_config {
    char *kernel;
    char *initrd;
    char *cmdline;
    char *firmware;
    uint64_t memory;
    unsigned cpus;
    bool serial_none;
    struct hv_chardev_spec serial;
    char *control;
    bool no_reboot;
    bool ksm;
    bool hugepages;
    struct hv_disk_spec disks[HV_MAX_DISKS];
    unsigned nr_disks;
    struct hv_net_spec nics[HV_MAX_NICS];
    unsigned nr_nics;
    bool has_console; /* virtio-console (hvc0) */
    struct hv_chardev_spec console;
    enum hv_gpu_kind gpu;
    bool has_vnc; /* --vnc */
    struct hv_vnc_spec vnc;
    bool has_spice; /* --spice */
    struct hv_spice_spec spice;
    bool display_sdl; /* --display sdl */
    char *name;       /* --name: the VM's name for window titles and SPICE clients */
};

enum {
    HV_ARGS_RUN = 0,  /* start the VM */
    HV_ARGS_DONE = 1, /* --help or --version was printed */
};

/*
 * Parses argv into cfg (which it initialises). Returns HV_ARGS_RUN, HV_ARGS_DONE, or
 * -EINVAL with *err set to one line naming the flag or value and what is expected.
 * Opens and creates nothing.
 */
int hv_args_parse(int argc, char **argv, struct hv_config *cfg, char **err);
void hv_config_clear(struct hv_config *cfg);
/* Whether the VM gets a screen: --gpu, or a display consumer (--vnc, --spice, --display). */
bool hv_config_wants_display(const struct hv_config *cfg);

/* "512M", "2G", "1048576K", "64" (MiB). Returns 0 or -EINVAL (bad syntax, overflow). */
int hv_parse_size(const char *text, uint64_t *bytes);

const char *hv_args_usage(void);
