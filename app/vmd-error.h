/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libvmdesk's GError domain and codes, shared by every Vmd type. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VMD_ERROR (vmd_error_quark())

/* Each code maps to one vmdeskctl exit status (see docs/vmdeskctl.1). */
typedef enum {
    VMD_ERROR_FAILED,       /* an I/O or host error */
    VMD_ERROR_INVALID,      /* a bad value: a definition field, a name, a size */
    VMD_ERROR_NOT_FOUND,    /* no VM (or file) of that name */
    VMD_ERROR_EXISTS,       /* the name is taken */
    VMD_ERROR_SCHEMA,       /* a definition written by a newer vmdesk */
    VMD_ERROR_BUSY,         /* the VM is running (or starting) and the operation needs it off */
    VMD_ERROR_NOT_RUNNING,  /* the VM is off and the operation needs it on */
    VMD_ERROR_UNSUPPORTED,  /* this vmdesk-vmm lacks the command or the device */
    VMD_ERROR_VMM,          /* vmdesk-vmm refused to start, crashed, or answered with an error */
    VMD_ERROR_TIMEOUT,      /* the VM did not do it in time */
} VmdError;

GQuark vmd_error_quark(void);

G_END_DECLS
