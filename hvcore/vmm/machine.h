/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One PC-like machine: guest RAM, vCPUs, legacy devices, boot, and its run loop. */
#pragma once

#include <glib.h>
#include <stdatomic.h>

#include "control/server.h"
#include "display/input.h"
#include "devices/chardev.h"
#include "devices/legacy.h"
#include "devices/pci.h"
#include "devices/uart.h"
#include "kvm/host.h"
#include "kvm/vm.h"
#include "vmm/args.h"
#include "x86/bzimage.h"
#include "x86/cpuid.h"

struct hv_virtio_dev;
struct hv_net_backend;
struct hv_virtio_balloon;
struct hv_virtio_console;
struct hv_surface;
struct hv_virtio_gpu;

/* What the machine needs to know of each device it plugged in, whatever its kind. */
struct hv_device_ops {
    const char *kind; /* "virtio-blk", ... */
    /* Machine reset: back to power-on state. */
    void (*reset)(void *impl);
    /* Stop and free; the VM still exists. */
    void (*destroy)(void *impl);
    /* Members of the device's object in query-devices (builder inside an object). */
    void (*describe)(void *impl, JsonBuilder *b);
    /* Members of the device's object in query-stats (counters). */
    void (*stats)(void *impl, JsonBuilder *b);
    /* A virtio device's transport, so that its guest-driver errors become DEVICE_ERROR. */
    struct hv_virtio_dev *(*virtio)(void *impl);
};

struct hv_device {
    const struct hv_device_ops *ops;
    void *impl;
    char *id; /* "disk0", "net0", "rng0" */
};

/* A display server or window: what it adds to query-display. */
struct hv_display_consumer {
    const char *name; /* its member in query-display: "vnc", "spice", "sdl" */
    /* Members of that object (builder inside it), e.g. "address"; may be NULL. */
    void (*describe)(void *opaque, JsonBuilder *b);
    void *opaque;
};

enum hv_run_state {
    HV_STATE_RUNNING,
    HV_STATE_PAUSED,
    HV_STATE_SHUTTING_DOWN, /* the main loop is ending; SHUTDOWN follows */
};

struct hv_machine {
    const struct hv_config *cfg;
    struct hv_host host;
    struct hv_memory mem;
    struct hv_vm vm;
    bool vm_ready;
    struct hv_cpuid cpuid;

    GMappedFile *kernel_file;
    GMappedFile *initrd_file;
    GMappedFile *vmlinux_file; /* the kernel decompressed on the host, if it could be */
    uint64_t boot_entry;
    struct hv_bzimage bz;
    uint8_t *firmware;
    size_t firmware_size;

    struct hv_uart *uart;
    struct hv_chardev *serial;
    bool serial_input_blocked;
    guint serial_input_timer;
    GSource *flush_source;  /* ready UART_FLUSH_MS after the UART has a partial batch */
    atomic_bool flush_armed;
    struct hv_acpi_pm pm;
    struct hv_pci pci;
    bool pci_ready;
    GPtrArray *devices; /* struct hv_device *, in the order they were plugged */
    /* --disk images, opened and locked with the other bad-input checks; NULL once a
       virtio-blk device owns one. */
    struct hv_raw *disk_images[HV_MAX_DISKS];
    /* --net backends, started with the bad-input checks; NULL once a NIC owns one. */
    struct hv_net_backend *nic_backends[HV_MAX_NICS];
    struct hv_virtio_balloon *balloon; /* also in `devices`, which owns it */
    struct hv_virtio_console *console; /* likewise; NULL without --console */
    /* The guest's screen: created before the devices when hv_config_wants_display(); the
       display device (cfg->gpu) draws into it, consumers read it. NULL without a display. */
    struct hv_surface *surface;
    const char *display_device; /* "bochs-display", "virtio-gpu"; NULL without a display */
    struct hv_virtio_gpu *gpu;  /* with --gpu virtio (also in `devices`, which owns it) */
    GArray *display_consumers;  /* struct hv_display_consumer */
    struct hv_spice *spice;     /* --spice */
    struct hv_sdl *sdl;         /* --display sdl */
    struct hv_vnc *vnc;         /* --vnc */
    /* Their modules (display/module.h), loaded for the servers above. */
    const struct hv_spice_module *spice_mod;
    const struct hv_sdl_module *sdl_mod;
    const struct hv_vnc_module *vnc_mod;
    /* Keys and the pointer for display servers: the virtio-input keyboard and tablet, plugged
       with the display device (valid when `surface` is). */
    struct hv_input_sink input_sink;
    struct hv_control *control;
    struct hv_control_ops control_ops;

    enum hv_run_state state;
    GMainLoop *loop;
    guint signal_sources[3];
    bool quit_requested;
    int exit_status;
    const char *shutdown_reason; /* SHUTDOWN's reason; the first one set wins */
    char *shutdown_detail;
    unsigned resets;
};

/*
 * Opens the guest's files and KVM, builds the VM and loads the guest; creates no file
 * until everything else has worked. Returns 0, or the process exit status to use (2
 * for bad input, 1 for a host failure) with *err set to one line.
 */
int hv_machine_init(struct hv_machine *m, const struct hv_config *cfg, char **err);
/* Runs the VM until it powers off, crashes or is told to quit; returns the exit status. */
int hv_machine_run(struct hv_machine *m);
/* Registers a device for reset, tear-down and the control protocol's queries. */
void hv_machine_add_device(struct hv_machine *m, const struct hv_device_ops *ops, void *impl,
                           const char *id);

/* A display consumer announces itself for query-display (the struct is copied). */
void hv_machine_add_display_consumer(struct hv_machine *m, const struct hv_display_consumer *c);

/* query-devices (objects into an open array) and query-stats (members of an open object). */
void hv_machine_query_devices(struct hv_machine *m, JsonBuilder *b);
void hv_machine_query_stats(struct hv_machine *m, JsonBuilder *b);

/* Stops everything and removes the files the machine created (sockets). */
void hv_machine_destroy(struct hv_machine *m);
