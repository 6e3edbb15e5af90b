/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The demo template: a small Linux guest (Debian's kernel, busybox) built once, cached, defined. */
#pragma once

#include "vmd-library.h"

G_BEGIN_DECLS

/* The demo guest's disk, the template each demo VM gets a copy of. */
#define VMD_DEMO_DISK_SIZE ((guint64)64 << 20)

/*
 * The folder of the cached demo guest (vmlinuz, initrd.gz, demo-disk.raw):
 * $VMDESK_CACHE/guest, else $XDG_CACHE_HOME/vmdesk/guest (transfer full).
 */
char *vmd_demo_guest_dir(void);

/*
 * Makes sure the demo guest is built and cached: runs `builder` (tests/lab/guest-build,
 * which rebuilds only what changed; its progress goes to our stderr) when it exists, else
 * uses the cache as it is. Then makes the template disk (a sparse raw file, ext4 when
 * mkfs.ext4 is installed) if it is missing. Returns the folder (transfer full).
 */
char *vmd_demo_prepare(const char *builder, GError **error);

/*
 * Defines NAME as a demo VM: the cached kernel and initramfs, a copy of the template disk
 * in the disks folder (NAME.raw, reflinked or sparse), and user networking. On failure
 * nothing is left behind. Returns the new definition (transfer full).
 */
VmdDefinition *vmd_library_create_demo(VmdLibrary *lib, const char *name, const char *builder,
                                       GError **error);

G_END_DECLS
