/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdLibrary: the user's VMs (definitions on disk, disks, running machines) as one object. */
#pragma once

#include <glib-object.h>

#include "vmd-definition.h"
#include "vmd-machine.h"

G_BEGIN_DECLS

#define VMD_TYPE_LIBRARY (vmd_library_get_type())
G_DECLARE_FINAL_TYPE(VmdLibrary, vmd_library, VMD, LIBRARY, GObject)

/* The user's library: $XDG_CONFIG_HOME/vmdesk/vms, $XDG_DATA_HOME/vmdesk/disks,
 * $XDG_STATE_HOME/vmdesk (logs), $XDG_RUNTIME_DIR/vmdesk (sockets, locks). */
VmdLibrary *vmd_library_new(void);
/* A library in explicit folders (the same layout below each). */
VmdLibrary *vmd_library_new_for_dirs(const char *vms_dir, const char *disks_dir,
                                     const char *state_dir, const char *runtime_dir);

const char *vmd_library_get_vms_dir(VmdLibrary *lib);
const char *vmd_library_get_disks_dir(VmdLibrary *lib);
const char *vmd_library_get_runtime_dir(VmdLibrary *lib);
const char *vmd_library_get_state_dir(VmdLibrary *lib);
/* Where NAME's definition lives (transfer full). */
char *vmd_library_definition_path(VmdLibrary *lib, const char *name);

/* The defined VMs' names, sorted (transfer full). Files that are not NAME.json are skipped. */
GStrv vmd_library_list_names(VmdLibrary *lib, GError **error);
/* Names of VMs whose control socket or lock is in the runtime folder but that have no
 * definition (e.g. started by hand), sorted (transfer full). */
GStrv vmd_library_list_undefined_running(VmdLibrary *lib);
VmdDefinition *vmd_library_load(VmdLibrary *lib, const char *name, GError **error);

/* Writes a new definition; VMD_ERROR_EXISTS if the name is taken. */
gboolean vmd_library_create(VmdLibrary *lib, VmdDefinition *def, GError **error);
/* Replaces an existing definition (VMD_ERROR_NOT_FOUND if there is none). */
gboolean vmd_library_save(VmdLibrary *lib, VmdDefinition *def, GError **error);
/* Loads NAME, applies "key=value" edits, validates and saves; nothing is written if any
 * edit or the result is invalid. */
gboolean vmd_library_edit(VmdLibrary *lib, const char *name, const char *const *edits,
                          GError **error);
/* Renames a stopped VM (its definition and log). */
gboolean vmd_library_rename(VmdLibrary *lib, const char *name, const char *new_name,
                            GError **error);
/*
 * Defines NEW_NAME as a copy of the stopped VM NAME, copying each disk into the disks
 * folder (reflink where the file system allows, else a sparse copy).
 */
gboolean vmd_library_clone(VmdLibrary *lib, const char *name, const char *new_name,
                           GError **error);
/* Deletes a stopped VM's definition and log; its disk files too when `with_disks`. */
gboolean vmd_library_delete(VmdLibrary *lib, const char *name, gboolean with_disks,
                            GError **error);
/* Creates a sparse raw disk; a bare file name goes in the disks folder. Returns its path. */
char *vmd_library_create_disk(VmdLibrary *lib, const char *file, guint64 size, GError **error);

/* The machine of NAME, one object per name for the library's lifetime (transfer none). */
VmdMachine *vmd_library_get_machine(VmdLibrary *lib, const char *name);
/* The machines of NAMES, their states freshly read together (vmd_machine_refresh_many):
 * what a list of all VMs needs (transfer container, elements none). */
GPtrArray *vmd_library_get_machines(VmdLibrary *lib, const char *const *names);

/*
 * Watches the definitions folder and the runtime folder, so that VMs defined, started or
 * stopped by any process update the machines (each emits "state-changed") and the library
 * emits "changed" when the set of definitions changes.
 */
gboolean vmd_library_watch(VmdLibrary *lib, GError **error);

G_END_DECLS
