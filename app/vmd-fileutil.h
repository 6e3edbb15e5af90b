/* SPDX-License-Identifier: GPL-3.0-or-later */
/* File helpers for the VM library: atomic replace, sparse disk creation and copying. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Replaces PATH with DATA so that a crash at any point leaves the old file or the new one:
 * a temporary file in the same folder, written and fsync'd, renamed over PATH, then the
 * folder fsync'd. The file gets mode `mode` (e.g. 0644). Creates missing parent folders.
 * With `replace` FALSE the temporary file is linked instead of renamed, so an existing PATH
 * is never replaced (VMD_ERROR_EXISTS).
 */
gboolean vmd_write_file_atomic(const char *path, const char *data, gsize len, int mode,
                               gboolean replace, GError **error);

/* Creates a sparse raw disk of `size` bytes at PATH; refuses to overwrite a file. */
gboolean vmd_create_sparse_file(const char *path, guint64 size, GError **error);

typedef enum {
    VMD_COPY_REFLINK, /* shared extents (FICLONE): instant, no space used */
    VMD_COPY_SPARSE,  /* data ranges copied, holes kept */
} VmdCopyMethod;

/*
 * Copies SRC to a new file DEST (refusing to overwrite): a reflink where the file system
 * allows, otherwise a sparse copy (SEEK_DATA/SEEK_HOLE). `allow_reflink` FALSE forces the
 * sparse copy (for tests). Sets *method (may be NULL) to what was done. On failure DEST is
 * removed.
 */
gboolean vmd_copy_file_sparse(const char *src, const char *dest, gboolean allow_reflink,
                              VmdCopyMethod *method, GError **error);

/* Creates DIR and its parents with mode 0700 if missing. */
gboolean vmd_ensure_dir(const char *dir, GError **error);

G_END_DECLS
