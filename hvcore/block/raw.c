/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A raw disk image opened for a VM: checked, sized and locked against other VMs. */
#include "block/raw.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- who holds the lock ---- */

/*
 * OFD locks report l_pid = -1 through F_OFD_GETLK and /proc/locks, but the kernel lists
 * each open file description's own locks in /proc/PID/fdinfo/FD. So the holder is the
 * process with a descriptor for the same inode whose fdinfo has an OFDLCK line.
 */
static bool fd_holds_lock(const char *pid, const char *fd)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/fdinfo/%s", pid, fd);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return false;
    /* Lines "lock:\t1: OFDLCK ADVISORY  WRITE -1 fe:00:1234 0 EOF". */
    return strstr(text, "lock:") && strstr(text, "OFDLCK");
}

/* "vmdesk-vmm pid N (control socket PATH)" for our own VMM, "pid N (COMM)" otherwise. */
static char *describe_pid(const char *pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", pid);
    g_autofree char *args = NULL;
    gsize len = 0;
    if (g_file_get_contents(path, &args, &len, NULL) && len > 0) {
        g_autofree char *prog = g_path_get_basename(args);
        if (!strcmp(prog, "vmdesk-vmm")) {
            const char *control = NULL;
            for (const char *a = args; a < args + len; a += strlen(a) + 1) {
                const char *next = a + strlen(a) + 1;
                if (!strcmp(a, "--control") && next < args + len)
                    control = next;
                else if (g_str_has_prefix(a, "--control="))
                    control = a + strlen("--control=");
            }
            if (control)
                return g_strdup_printf("vmdesk-vmm pid %s (control socket %s)", pid, control);
            return g_strdup_printf("vmdesk-vmm pid %s (no control socket)", pid);
        }
    }
    g_autofree char *comm_path = g_strdup_printf("/proc/%s/comm", pid);
    g_autofree char *comm = NULL;
    if (g_file_get_contents(comm_path, &comm, NULL, NULL))
        return g_strdup_printf("pid %s (%s)", pid, g_strstrip(comm));
    return g_strdup_printf("pid %s", pid);
}

char *hv_raw_lock_holder(dev_t dev, ino_t ino, int own_fd)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return NULL;
    char self[32];
    snprintf(self, sizeof(self), "%d", (int)getpid());
    char *found = NULL;
    struct dirent *p;
    while (!found && (p = readdir(proc))) {
        if (p->d_name[0] < '0' || p->d_name[0] > '9')
            continue;
        g_autofree char *fddir = g_strdup_printf("/proc/%s/fd", p->d_name);
        DIR *fds = opendir(fddir);
        if (!fds)
            continue; /* another user's process, or gone */
        struct dirent *f;
        while (!found && (f = readdir(fds))) {
            if (f->d_name[0] == '.')
                continue;
            if (own_fd >= 0 && !strcmp(p->d_name, self) && atoi(f->d_name) == own_fd)
                continue;
            g_autofree char *link = g_strdup_printf("%s/%s", fddir, f->d_name);
            struct stat st;
            if (stat(link, &st) < 0 || st.st_dev != dev || st.st_ino != ino)
                continue;
            if (fd_holds_lock(p->d_name, f->d_name))
                found = describe_pid(p->d_name);
        }
        closedir(fds);
    }
    closedir(proc);
    return found;
}

/* ---- opening ---- */

static int lock_image(struct hv_raw *raw, const char *flag, const struct stat *st, char **err)
{
    struct flock fl = {.l_type = raw->readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(raw->fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    int e = errno;
    if (e != EAGAIN && e != EACCES) {
        *err = g_strdup_printf("%s: cannot lock the image: %s", flag, g_strerror(e));
        return -e;
    }
    g_autofree char *holder = hv_raw_lock_holder(st->st_dev, st->st_ino, raw->fd);
    const char *how = raw->readonly ? "is open writable by" : "is in use by";
    *err = g_strdup_printf("%s: the image %s %s; stop that VM or use another image", flag,
                           how, holder ? holder : "another process");
    return -EBUSY;
}

/* The alignment O_DIRECT needs: statx knows on most file systems; otherwise probe reads. */
static int probe_direct(struct hv_raw *raw, const char *flag, char **err)
{
    struct statx stx;
    if (statx(raw->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
        raw->dio_align = MAX(stx.stx_dio_offset_align, stx.stx_dio_mem_align);
        return 0;
    }
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, 4096) != 0) {
        *err = g_strdup_printf("%s: out of memory", flag);
        return -ENOMEM;
    }
    int r = -EINVAL;
    for (unsigned align = HV_RAW_SECTOR; align <= 4096 && r < 0; align *= 2) {
        if (pread(raw->fd, buf, align, 0) >= 0) {
            raw->dio_align = align;
            r = 0;
        }
    }
    free(buf);
    if (r < 0)
        *err = g_strdup_printf("%s: cache=none: the file system does not support O_DIRECT "
                               "reads of this image; use cache=writeback", flag);
    return r;
}

static int open_image(struct hv_raw *raw, const struct hv_disk_spec *spec, const char *flag,
                      char **err)
{
    int flags = (spec->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
                (spec->cache == HV_CACHE_NONE ? O_DIRECT : 0);
    raw->fd = open(spec->path, flags);
    if (raw->fd < 0) {
        int e = errno;
        if (e == EROFS)
            *err = g_strdup_printf("%s: the image is on a read-only file system; add "
                                   "readonly=on to use it read-only", flag);
        else if (e == EINVAL && spec->cache == HV_CACHE_NONE)
            *err = g_strdup_printf("%s: cache=none: the file system does not support O_DIRECT; "
                                   "use cache=writeback", flag);
        else if (e == EISDIR)
            *err = g_strdup_printf("%s: is a directory; expected a raw image file", flag);
        else
            *err = g_strdup_printf("%s: %s; expected a raw image file", flag, g_strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(raw->fd, &st) < 0) {
        int e = errno;
        *err = g_strdup_printf("%s: %s", flag, g_strerror(e));
        return -e;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        *err = g_strdup_printf("%s: is %s; expected a raw image file or a block device", flag,
                               S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
        return -EINVAL;
    }
    off_t end = lseek(raw->fd, 0, SEEK_END);
    if (end < 0) {
        int e = errno;
        *err = g_strdup_printf("%s: cannot find its size: %s", flag, g_strerror(e));
        return -e;
    }
    raw->size = (uint64_t)end;
    /* A guest sees whole sectors; a partial last one could be neither read nor written. */
    if (raw->size % HV_RAW_SECTOR) {
        *err = g_strdup_printf("%s: is %" PRIu64 " bytes, not a multiple of 512; expected a raw "
                               "image of whole sectors (e.g. truncate -s %" PRIu64 ")", flag,
                               raw->size, (raw->size / HV_RAW_SECTOR + 1) * HV_RAW_SECTOR);
        return -EINVAL;
    }
    int r = lock_image(raw, flag, &st, err);
    if (r < 0)
        return r;
    raw->dio_align = 1;
    if (spec->cache == HV_CACHE_NONE && (r = probe_direct(raw, flag, err)) < 0)
        return r;
    /* The default ID is stable for the life of the file: its inode number. */
    if (spec->serial)
        g_strlcpy(raw->serial, spec->serial, sizeof(raw->serial));
    else
        snprintf(raw->serial, sizeof(raw->serial), "vmd-%" PRIx64, (uint64_t)st.st_ino);
    return 0;
}

int hv_raw_open(const struct hv_disk_spec *spec, struct hv_raw **out, char **err)
{
    struct hv_raw *raw = g_new0(struct hv_raw, 1);
    raw->path = g_strdup(spec->path);
    raw->readonly = spec->readonly;
    raw->cache = spec->cache;
    raw->direct = spec->cache == HV_CACHE_NONE;
    g_autofree char *flag = g_strdup_printf("--disk path=%s", spec->path);
    int r = open_image(raw, spec, flag, err);
    if (r < 0) {
        hv_raw_close(raw);
        return r;
    }
    *out = raw;
    return 0;
}

void hv_raw_close(struct hv_raw *raw)
{
    if (!raw)
        return;
    if (raw->fd >= 0)
        close(raw->fd); /* also drops the OFD lock */
    g_free(raw->path);
    g_free(raw);
}
