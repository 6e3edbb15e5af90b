/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The demo template: a small Linux guest (Debian's kernel, busybox) built once, cached, defined. */
#include "vmd-demo.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmd-fileutil.h"

#define DEMO_CMDLINE "console=ttyS0 quiet panic=-1"
#define DEMO_DISK "demo-disk.raw"

char *vmd_demo_guest_dir(void)
{
    const char *cache = g_getenv("VMDESK_CACHE");
    if (cache && *cache)
        return g_build_filename(cache, "guest", NULL);
    return g_build_filename(g_get_user_cache_dir(), "vmdesk", "guest", NULL);
}

static gboolean run_builder(const char *builder, char **dir, GError **error)
{
    const char *argv[] = {builder, NULL};
    g_autofree char *out = NULL;
    int status = 0;

    /* Its progress goes to our stderr; its stdout's last line is the folder. */
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_CHILD_INHERITS_STDERR, NULL, NULL,
                      &out, NULL, &status, error))
        return FALSE;
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "%s failed (see above)", builder);
        return FALSE;
    }
    g_strstrip(out);
    const char *last = strrchr(out, '\n');
    g_free(*dir);
    *dir = g_strdup(last ? last + 1 : out);
    return TRUE;
}

static char *find_mkfs(void)
{
    char *found = g_find_program_in_path("mkfs.ext4");
    if (found)
        return found;
    /* Often outside a user's PATH. */
    static const char *const dirs[] = {"/usr/sbin", "/sbin"};
    for (gsize i = 0; i < G_N_ELEMENTS(dirs); i++) {
        char *p = g_build_filename(dirs[i], "mkfs.ext4", NULL);
        if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
            return p;
        g_free(p);
    }
    return NULL;
}

/* Formats PATH as ext4 with a greeting file on it, where mkfs.ext4 exists. */
static gboolean format_disk(const char *path, GError **error)
{
    g_autofree char *mkfs = find_mkfs();
    if (!mkfs)
        return TRUE; /* the guest gets a blank disk: still a disk */
    g_autofree char *tmp = g_dir_make_tmp("vmdesk-demo-XXXXXX", error);
    if (!tmp)
        return FALSE;
    g_autofree char *hello = g_build_filename(tmp, "README", NULL);
    static const char text[] = "This is the demo VM's disk (/dev/vda, ext4), a file on the "
                               "host in vmdesk's disks folder.\nWhat you write here stays.\n";
    gboolean ok = g_file_set_contents(hello, text, -1, error);
    const char *argv[] = {mkfs, "-q", "-F", "-L", "vmdesk-demo", "-d", tmp, path, NULL};
    g_autofree char *err_text = NULL;
    int status = 0;
    if (ok)
        ok = g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                          NULL, &err_text, &status, error);
    if (ok && !g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "mkfs.ext4 %s failed: %s", path,
                    g_strstrip(err_text));
        ok = FALSE;
    }
    g_unlink(hello);
    g_rmdir(tmp);
    return ok;
}

static gboolean make_template_disk(const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, DEMO_DISK, NULL);
    if (g_file_test(path, G_FILE_TEST_EXISTS))
        return TRUE;
    /* Built aside and renamed, so a concurrent create never sees half a disk. */
    g_autofree char *tmp = g_strdup_printf("%s.%d.tmp", path, (int)getpid());
    g_unlink(tmp);
    if (!vmd_create_sparse_file(tmp, VMD_DEMO_DISK_SIZE, error))
        return FALSE;
    if (!format_disk(tmp, error) || g_rename(tmp, path) < 0) {
        if (error && !*error)
            g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "%s: %s", path, g_strerror(errno));
        g_unlink(tmp);
        return FALSE;
    }
    return TRUE;
}

char *vmd_demo_prepare(const char *builder, GError **error)
{
    g_autofree char *dir = vmd_demo_guest_dir();
    if (builder && g_file_test(builder, G_FILE_TEST_IS_EXECUTABLE)) {
        if (!run_builder(builder, &dir, error))
            return NULL;
    }
    const char *files[] = {"vmlinuz", "initrd.gz"};
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *p = g_build_filename(dir, files[i], NULL);
        if (!g_file_test(p, G_FILE_TEST_IS_REGULAR)) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_NOT_FOUND, "the demo guest has no %s in "
                        "%s, and its builder %s is missing", files[i], dir,
                        builder ? builder : "(none)");
            return NULL;
        }
    }
    if (!make_template_disk(dir, error))
        return NULL;
    return g_steal_pointer(&dir);
}

VmdDefinition *vmd_library_create_demo(VmdLibrary *lib, const char *name, const char *builder,
                                       GError **error)
{
    g_autofree char *why = vmd_name_check(name);
    if (why) {
        g_set_error_literal(error, VMD_ERROR, VMD_ERROR_INVALID, why);
        return NULL;
    }
    /* Refuse a taken name before building or copying anything. */
    g_autofree char *def_path = vmd_library_definition_path(lib, name);
    if (g_file_test(def_path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_EXISTS, "a VM named '%s' already exists (%s)",
                    name, def_path);
        return NULL;
    }
    g_autofree char *dir = vmd_demo_prepare(builder, error);
    if (!dir)
        return NULL;

    g_autoptr(VmdDefinition) def = vmd_definition_new(name);
    g_autofree char *kernel = g_build_filename(dir, "vmlinuz", NULL);
    g_autofree char *initrd = g_build_filename(dir, "initrd.gz", NULL);
    vmd_definition_set_kernel(def, kernel);
    vmd_definition_set_initrd(def, initrd);
    vmd_definition_set_cmdline(def, DEMO_CMDLINE);
    VmdNet *net = g_new0(VmdNet, 1);
    net->type = g_strdup("user");
    g_ptr_array_add(vmd_definition_get_net(def), net);

    g_autofree char *file = g_strconcat(name, ".raw", NULL);
    g_autofree char *disk = g_build_filename(vmd_library_get_disks_dir(lib), file, NULL);
    g_autofree char *template = g_build_filename(dir, DEMO_DISK, NULL);
    if (!vmd_ensure_dir(vmd_library_get_disks_dir(lib), error) ||
        !vmd_copy_file_sparse(template, disk, TRUE, NULL, error))
        return NULL;
    VmdDisk *d = g_new0(VmdDisk, 1);
    d->path = g_strdup(disk);
    g_ptr_array_add(vmd_definition_get_disks(def), d);
    if (!vmd_library_create(lib, def, error)) {
        g_unlink(disk);
        return NULL;
    }
    return g_steal_pointer(&def);
}
