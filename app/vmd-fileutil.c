/* SPDX-License-Identifier: GPL-3.0-or-later */
/* File helpers for the VM library: atomic replace, sparse disk creation and copying. */
#include "vmd-fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmd-error.h"

static gboolean fail_errno(GError **error, int err, const char *what, const char *path)
{
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "%s %s: %s", what, path,
                g_strerror(err));
    return FALSE;
}

gboolean vmd_ensure_dir(const char *dir, GError **error)
{
    if (g_mkdir_with_parents(dir, 0700) < 0)
        return fail_errno(error, errno, "cannot create folder", dir);
    return TRUE;
}

static gboolean write_all(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

gboolean vmd_write_file_atomic(const char *path, const char *data, gsize len, int mode,
                               gboolean replace, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    /* A dot name: the library ignores such files when it lists VMs. */
    g_autofree char *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
    int err;

    if (!vmd_ensure_dir(dir, error))
        return FALSE;
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0)
        return fail_errno(error, errno, "cannot create a temporary file in", dir);
    if (fchmod(fd, (mode_t)mode) < 0 || !write_all(fd, data, len) || fsync(fd) < 0) {
        err = errno ? errno : EIO;
        close(fd);
        unlink(tmp);
        return fail_errno(error, err, "cannot write", tmp);
    }
    if (close(fd) < 0) {
        err = errno;
        unlink(tmp);
        return fail_errno(error, err, "cannot write", tmp);
    }
    if (replace && rename(tmp, path) < 0) {
        err = errno;
        unlink(tmp);
        return fail_errno(error, err, "cannot replace", path);
    }
    /* link() fails when PATH exists, so two creators of one name cannot both win. */
    if (!replace) {
        err = link(tmp, path) < 0 ? errno : 0;
        unlink(tmp);
        if (err == EEXIST) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_EXISTS, "%s already exists", path);
            return FALSE;
        }
        if (err)
            return fail_errno(error, err, "cannot create", path);
    }
    /* The rename is durable only once the folder's entry is on disk. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return fail_errno(error, errno, "cannot open folder", dir);
    if (fsync(dfd) < 0 && errno != EINVAL) {
        err = errno;
        close(dfd);
        return fail_errno(error, err, "cannot sync folder", dir);
    }
    close(dfd);
    return TRUE;
}

gboolean vmd_create_sparse_file(const char *path, guint64 size, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);

    if (size == 0 || size > (guint64)G_MAXINT64) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_INVALID,
                    "disk size %" G_GUINT64_FORMAT ": expected more than 0 bytes", size);
        return FALSE;
    }
    if (!vmd_ensure_dir(dir, error))
        return FALSE;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_EXISTS,
                        "disk %s already exists; refusing to overwrite it", path);
            return FALSE;
        }
        return fail_errno(error, errno, "cannot create disk", path);
    }
    if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0) {
        int err = errno;
        close(fd);
        unlink(path);
        return fail_errno(error, err, "cannot size disk", path);
    }
    close(fd);
    return TRUE;
}

static gboolean copy_range(int in, int out, off_t start, off_t end)
{
    static const size_t chunk = 1 << 20;
    g_autofree char *buf = g_malloc(chunk);

    while (start < end) {
        size_t want = (size_t)MIN((off_t)chunk, end - start);
        ssize_t n = pread(in, buf, want, start);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = pwrite(out, buf + done, (size_t)(n - done), start + done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return FALSE;
            done += w;
        }
        start += n;
    }
    return TRUE;
}

static gboolean copy_sparse(int in, int out, off_t size)
{
    off_t pos = 0;

    while (pos < size) {
        off_t data = lseek(in, pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) /* only a hole is left */
                break;
            /* No SEEK_DATA here: copy everything. */
            return copy_range(in, out, pos, size);
        }
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0)
            hole = size;
        if (!copy_range(in, out, data, hole))
            return FALSE;
        pos = hole;
    }
    return ftruncate(out, size) == 0;
}

gboolean vmd_copy_file_sparse(const char *src, const char *dest, gboolean allow_reflink,
                              VmdCopyMethod *method, GError **error)
{
    struct stat st;
    int err = 0;

    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return fail_errno(error, errno, "cannot open", src);
    if (fstat(in, &st) < 0) {
        err = errno;
        close(in);
        return fail_errno(error, err, "cannot read", src);
    }
    g_autofree char *dir = g_path_get_dirname(dest);
    if (!vmd_ensure_dir(dir, error)) {
        close(in);
        return FALSE;
    }
    int out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
    if (out < 0) {
        err = errno;
        close(in);
        if (err == EEXIST) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_EXISTS,
                        "disk %s already exists; refusing to overwrite it", dest);
            return FALSE;
        }
        return fail_errno(error, err, "cannot create", dest);
    }
    VmdCopyMethod done = VMD_COPY_SPARSE;
    gboolean ok;
    if (allow_reflink && ioctl(out, FICLONE, in) == 0) {
        done = VMD_COPY_REFLINK;
        ok = TRUE;
    } else {
        ok = copy_sparse(in, out, st.st_size);
    }
    if (!ok)
        err = errno ? errno : EIO;
    if (ok && fsync(out) < 0) {
        ok = FALSE;
        err = errno;
    }
    close(in);
    close(out);
    if (!ok) {
        unlink(dest);
        return fail_errno(error, err, "cannot copy to", dest);
    }
    if (method)
        *method = done;
    return TRUE;
}
