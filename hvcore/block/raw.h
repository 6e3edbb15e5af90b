/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A raw disk image opened for a VM: checked, sized and locked against other VMs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/devargs.h"

#define HV_RAW_SECTOR 512
/* The virtio-blk ID string: 20 bytes, NUL-padded, not necessarily NUL-terminated. */
#define HV_RAW_SERIAL_LEN 20

struct hv_raw {
    int fd;
    char *path;
    uint64_t size; /* bytes, a multiple of HV_RAW_SECTOR */
    bool readonly;
    bool direct; /* opened O_DIRECT (cache=none) */
    /* Buffer address, length and file offset alignment O_DIRECT needs; 1 without it. */
    unsigned dio_align;
    enum hv_disk_cache cache;
    char serial[HV_RAW_SERIAL_LEN + 1];
};

/*
 * Opens, checks and locks the image `spec` names. A writable image gets an exclusive OFD
 * lock and a read-only one a shared lock, so a writer excludes every other user of the
 * image and readers exclude writers. Returns 0 with *out set, or -errno with *err set to one
 * line naming the disk and what is wrong (for a locked image, the process that holds it).
 * Leaves nothing open on failure.
 */
int hv_raw_open(const struct hv_disk_spec *spec, struct hv_raw **out, char **err);
void hv_raw_close(struct hv_raw *raw);

/*
 * Names the process whose open file description holds a lock on the file (dev, ino), other
 * than our own descriptor `own_fd` (-1: none): "vmdesk-vmm pid 123 (control socket
 * /run/user/1000/vmdesk/a.sock)", "pid 123 (cat)", or NULL when /proc does not say.
 */
char *hv_raw_lock_holder(dev_t dev, ino_t ino, int own_fd);
