/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdLibrary: the user's VMs (definitions on disk, disks, running machines) as one object. */
#include "vmd-library.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "vmd-fileutil.h"
#include "vmd-machine-private.h"

struct _VmdLibrary {
    GObject parent_instance;
    char *vms_dir;
    char *disks_dir;
    char *state_dir;
    char *runtime_dir;
    GHashTable *machines; /* name -> VmdMachine */
    GFileMonitor *vms_monitor;
    GFileMonitor *runtime_monitor;
};

enum { SIGNAL_CHANGED, SIGNAL_MACHINE_STATE_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(VmdLibrary, vmd_library, G_TYPE_OBJECT)

static void vmd_library_finalize(GObject *object)
{
    VmdLibrary *lib = VMD_LIBRARY(object);

    g_clear_object(&lib->vms_monitor);
    g_clear_object(&lib->runtime_monitor);
    g_hash_table_unref(lib->machines);
    g_free(lib->vms_dir);
    g_free(lib->disks_dir);
    g_free(lib->state_dir);
    g_free(lib->runtime_dir);
    G_OBJECT_CLASS(vmd_library_parent_class)->finalize(object);
}

static void vmd_library_class_init(VmdLibraryClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vmd_library_finalize;
    /* VmdLibrary::changed: a definition was added, removed or rewritten. */
    signals[SIGNAL_CHANGED] = g_signal_new("changed", G_TYPE_FROM_CLASS(klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 0);
    /* VmdLibrary::machine-state-changed: a machine's "state-changed", relayed. */
    signals[SIGNAL_MACHINE_STATE_CHANGED] =
        g_signal_new("machine-state-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                     NULL, NULL, NULL, G_TYPE_NONE, 1, VMD_TYPE_MACHINE);
}

static void vmd_library_init(VmdLibrary *lib)
{
    lib->machines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
}

VmdLibrary *vmd_library_new_for_dirs(const char *vms_dir, const char *disks_dir,
                                     const char *state_dir, const char *runtime_dir)
{
    VmdLibrary *lib = g_object_new(VMD_TYPE_LIBRARY, NULL);
    lib->vms_dir = g_strdup(vms_dir);
    lib->disks_dir = g_strdup(disks_dir);
    lib->state_dir = g_strdup(state_dir);
    lib->runtime_dir = g_strdup(runtime_dir);
    return lib;
}

static char *state_home(void)
{
    const char *env = g_getenv("XDG_STATE_HOME");
    if (env && g_path_is_absolute(env))
        return g_build_filename(env, "vmdesk", NULL);
    return g_build_filename(g_get_home_dir(), ".local", "state", "vmdesk", NULL);
}

VmdLibrary *vmd_library_new(void)
{
    g_autofree char *vms = g_build_filename(g_get_user_config_dir(), "vmdesk", "vms", NULL);
    g_autofree char *disks = g_build_filename(g_get_user_data_dir(), "vmdesk", "disks", NULL);
    g_autofree char *state = state_home();
    g_autofree char *runtime = g_build_filename(g_get_user_runtime_dir(), "vmdesk", NULL);
    return vmd_library_new_for_dirs(vms, disks, state, runtime);
}

const char *vmd_library_get_vms_dir(VmdLibrary *lib) { return lib->vms_dir; }
const char *vmd_library_get_disks_dir(VmdLibrary *lib) { return lib->disks_dir; }
const char *vmd_library_get_runtime_dir(VmdLibrary *lib) { return lib->runtime_dir; }
const char *vmd_library_get_state_dir(VmdLibrary *lib) { return lib->state_dir; }

char *vmd_library_definition_path(VmdLibrary *lib, const char *name)
{
    g_autofree char *file = g_strconcat(name, ".json", NULL);
    return g_build_filename(lib->vms_dir, file, NULL);
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of files in DIR ending in SUFFIX whose stem is a valid VM name. */
static GPtrArray *scan(const char *dir, const char *suffix, GError **error)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &err);

    if (!d) {
        if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "%s", err->message);
            g_ptr_array_unref(names);
            return NULL;
        }
        return names;
    }
    const char *f;
    while ((f = g_dir_read_name(d))) {
        if (f[0] == '.' || !g_str_has_suffix(f, suffix))
            continue;
        g_autofree char *stem = g_strndup(f, strlen(f) - strlen(suffix));
        g_autofree char *why = vmd_name_check(stem);
        if (!why)
            g_ptr_array_add(names, g_steal_pointer(&stem));
    }
    g_ptr_array_sort(names, compare_names);
    return names;
}

GStrv vmd_library_list_names(VmdLibrary *lib, GError **error)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), NULL);
    GPtrArray *names = scan(lib->vms_dir, ".json", error);
    if (!names)
        return NULL;
    g_ptr_array_add(names, NULL);
    return (GStrv)g_ptr_array_free(names, FALSE);
}

GStrv vmd_library_list_undefined_running(VmdLibrary *lib)
{
    g_autoptr(GPtrArray) socks = scan(lib->runtime_dir, ".sock", NULL);
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; socks && i < socks->len; i++) {
        const char *name = g_ptr_array_index(socks, i);
        g_autofree char *path = vmd_library_definition_path(lib, name);
        if (!g_file_test(path, G_FILE_TEST_EXISTS))
            g_ptr_array_add(out, g_strdup(name));
    }
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(out, FALSE);
}

static gboolean check_name(const char *name, GError **error)
{
    g_autofree char *why = vmd_name_check(name);
    if (why) {
        g_set_error_literal(error, VMD_ERROR, VMD_ERROR_INVALID, why);
        return FALSE;
    }
    return TRUE;
}

VmdDefinition *vmd_library_load(VmdLibrary *lib, const char *name, GError **error)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), NULL);
    if (!check_name(name, error))
        return NULL;
    g_autofree char *path = vmd_library_definition_path(lib, name);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_NOT_FOUND, "no VM named '%s' (no %s)", name,
                    path);
        return NULL;
    }
    return vmd_definition_load(path, error);
}

gboolean vmd_library_create(VmdLibrary *lib, VmdDefinition *def, GError **error)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), FALSE);
    const char *name = vmd_definition_get_name(def);
    if (!check_name(name, error))
        return FALSE;
    g_autofree char *path = vmd_library_definition_path(lib, name);
    GError *err = NULL;
    if (!vmd_definition_save(def, path, FALSE, &err)) {
        if (g_error_matches(err, VMD_ERROR, VMD_ERROR_EXISTS)) {
            g_clear_error(&err);
            g_set_error(error, VMD_ERROR, VMD_ERROR_EXISTS,
                        "a VM named '%s' already exists (%s)", name, path);
            return FALSE;
        }
        g_propagate_error(error, err);
        return FALSE;
    }
    return TRUE;
}

gboolean vmd_library_save(VmdLibrary *lib, VmdDefinition *def, GError **error)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), FALSE);
    const char *name = vmd_definition_get_name(def);
    if (!check_name(name, error))
        return FALSE;
    g_autofree char *path = vmd_library_definition_path(lib, name);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_NOT_FOUND, "no VM named '%s'", name);
        return FALSE;
    }
    return vmd_definition_save(def, path, TRUE, error);
}

gboolean vmd_library_edit(VmdLibrary *lib, const char *name, const char *const *edits,
                          GError **error)
{
    g_autoptr(VmdDefinition) def = vmd_library_load(lib, name, error);
    if (!def)
        return FALSE;
    for (guint i = 0; edits && edits[i]; i++) {
        const char *eq = strchr(edits[i], '=');
        if (!eq || eq == edits[i]) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_INVALID,
                        "'%s': expected key=value, e.g. memory=2G", edits[i]);
            return FALSE;
        }
        g_autofree char *key = g_strndup(edits[i], (gsize)(eq - edits[i]));
        if (!vmd_definition_set_field(def, key, eq + 1, error))
            return FALSE;
    }
    return vmd_library_save(lib, def, error);
}

static gboolean require_stopped(VmdLibrary *lib, const char *name, const char *what,
                                GError **error)
{
    VmdMachine *m = vmd_library_get_machine(lib, name);
    vmd_machine_refresh(m);
    VmdMachineState st = vmd_machine_get_state(m);
    if (st != VMD_MACHINE_STOPPED && st != VMD_MACHINE_CRASHED) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_BUSY, "cannot %s '%s' while it is %s; stop it "
                    "first", what, name, vmd_machine_state_to_string(st));
        return FALSE;
    }
    return TRUE;
}

static void move_log(VmdLibrary *lib, const char *from, const char *to)
{
    g_autofree char *a = g_strdup_printf("%s/%s.log", lib->state_dir, from);
    g_autofree char *b = g_strdup_printf("%s/%s.log", lib->state_dir, to);
    if (to)
        g_rename(a, b);
    else
        g_unlink(a);
}

gboolean vmd_library_rename(VmdLibrary *lib, const char *name, const char *new_name,
                            GError **error)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), FALSE);
    g_autoptr(VmdDefinition) def = vmd_library_load(lib, name, error);
    if (!def || !check_name(new_name, error) || !require_stopped(lib, name, "rename", error))
        return FALSE;
    g_autoptr(VmdDefinition) renamed = vmd_definition_copy(def, new_name);
    if (!vmd_library_create(lib, renamed, error))
        return FALSE;
    g_autofree char *old_path = vmd_library_definition_path(lib, name);
    g_unlink(old_path);
    move_log(lib, name, new_name);
    g_hash_table_remove(lib->machines, name);
    return TRUE;
}

/* The clone's file for a disk: the source's name with the VM's name swapped in. */
static char *clone_disk_path(VmdLibrary *lib, const char *disk, const char *name,
                             const char *new_name)
{
    g_autofree char *base = g_path_get_basename(disk);
    g_autofree char *file = g_str_has_prefix(base, name)
                                ? g_strconcat(new_name, base + strlen(name), NULL)
                                : g_strconcat(new_name, "-", base, NULL);
    return g_build_filename(lib->disks_dir, file, NULL);
}

gboolean vmd_library_clone(VmdLibrary *lib, const char *name, const char *new_name,
                           GError **error)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), FALSE);
    g_autoptr(VmdDefinition) def = vmd_library_load(lib, name, error);
    if (!def || !check_name(new_name, error) || !require_stopped(lib, name, "clone", error))
        return FALSE;
    g_autofree char *path = vmd_library_definition_path(lib, new_name);
    if (g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_EXISTS, "a VM named '%s' already exists (%s)",
                    new_name, path);
        return FALSE;
    }
    g_autoptr(VmdDefinition) copy = vmd_definition_copy(def, new_name);
    GPtrArray *disks = vmd_definition_get_disks(copy);
    g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < disks->len; i++) {
        VmdDisk *d = g_ptr_array_index(disks, i);
        if (d->readonly)
            continue; /* a read-only disk can be shared by both */
        char *dest = clone_disk_path(lib, d->path, name, new_name);
        ok = vmd_copy_file_sparse(d->path, dest, TRUE, NULL, error);
        if (!ok) {
            g_free(dest);
            break;
        }
        g_ptr_array_add(made, g_strdup(dest));
        g_free(d->path);
        d->path = dest;
    }
    if (ok)
        ok = vmd_library_create(lib, copy, error);
    if (!ok)
        for (guint i = 0; i < made->len; i++)
            g_unlink(g_ptr_array_index(made, i));
    return ok;
}

gboolean vmd_library_delete(VmdLibrary *lib, const char *name, gboolean with_disks,
                            GError **error)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), FALSE);
    GError *err = NULL;
    g_autoptr(VmdDefinition) def = vmd_library_load(lib, name, &err);
    /* A definition that no longer parses can still be deleted, but not its disks. */
    if (!def && (!g_error_matches(err, VMD_ERROR, VMD_ERROR_INVALID) || with_disks)) {
        g_propagate_error(error, err);
        return FALSE;
    }
    g_clear_error(&err);
    if (!require_stopped(lib, name, "delete", error))
        return FALSE;
    if (def && with_disks) {
        GPtrArray *disks = vmd_definition_get_disks(def);
        for (guint i = 0; i < disks->len; i++) {
            VmdDisk *d = g_ptr_array_index(disks, i);
            if (g_unlink(d->path) < 0 && errno != ENOENT) {
                g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "cannot delete disk %s: %s",
                            d->path, g_strerror(errno));
                return FALSE;
            }
        }
    }
    g_autofree char *path = vmd_library_definition_path(lib, name);
    if (g_unlink(path) < 0) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "cannot delete %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    move_log(lib, name, NULL);
    g_hash_table_remove(lib->machines, name);
    return TRUE;
}

char *vmd_library_create_disk(VmdLibrary *lib, const char *file, guint64 size, GError **error)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), NULL);
    g_autofree char *path = strchr(file, '/') ? g_canonicalize_filename(file, NULL)
                                              : g_build_filename(lib->disks_dir, file, NULL);
    if (!vmd_create_sparse_file(path, size, error))
        return NULL;
    return g_steal_pointer(&path);
}

static void relay_state(VmdMachine *m, gpointer data)
{
    g_signal_emit(data, signals[SIGNAL_MACHINE_STATE_CHANGED], 0, m);
}

static VmdMachine *get_machine(VmdLibrary *lib, const char *name, gboolean *is_new)
{
    VmdMachine *m = g_hash_table_lookup(lib->machines, name);
    *is_new = m == NULL;
    if (!m) {
        m = vmd_machine_new_unread(name, lib->runtime_dir, lib->state_dir);
        g_signal_connect_object(m, "state-changed", G_CALLBACK(relay_state), lib, 0);
        g_hash_table_insert(lib->machines, g_strdup(name), m);
        if (lib->runtime_monitor)
            vmd_machine_set_watching(m, TRUE);
    }
    return m;
}

VmdMachine *vmd_library_get_machine(VmdLibrary *lib, const char *name)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), NULL);
    gboolean is_new;
    VmdMachine *m = get_machine(lib, name, &is_new);
    if (is_new)
        vmd_machine_refresh(m);
    return m;
}

GPtrArray *vmd_library_get_machines(VmdLibrary *lib, const char *const *names)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), NULL);
    GPtrArray *out = g_ptr_array_new();
    gboolean is_new;
    for (guint i = 0; names && names[i]; i++)
        g_ptr_array_add(out, get_machine(lib, names[i], &is_new));
    vmd_machine_refresh_many((VmdMachine *const *)out->pdata, out->len);
    return out;
}

static void on_vms_changed(GFileMonitor *mon, GFile *file, GFile *other, GFileMonitorEvent ev,
                           gpointer data)
{
    (void)mon;
    (void)other;
    g_autofree char *base = g_file_get_basename(file);
    if (base[0] == '.' || !g_str_has_suffix(base, ".json"))
        return;
    if (ev == G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT || ev == G_FILE_MONITOR_EVENT_DELETED ||
        ev == G_FILE_MONITOR_EVENT_MOVED_IN || ev == G_FILE_MONITOR_EVENT_MOVED_OUT ||
        ev == G_FILE_MONITOR_EVENT_RENAMED || ev == G_FILE_MONITOR_EVENT_CREATED)
        g_signal_emit(data, signals[SIGNAL_CHANGED], 0);
}

static void on_runtime_changed(GFileMonitor *mon, GFile *file, GFile *other,
                               GFileMonitorEvent ev, gpointer data)
{
    VmdLibrary *lib = data;
    (void)mon;
    (void)other;
    (void)ev;
    g_autofree char *base = g_file_get_basename(file);
    const char *suffixes[] = {".sock", ".exit", ".lock"};
    for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        if (base[0] != '.' && g_str_has_suffix(base, suffixes[i])) {
            g_autofree char *name = g_strndup(base, strlen(base) - strlen(suffixes[i]));
            g_autofree char *why = vmd_name_check(name);
            if (!why)
                vmd_machine_refresh(vmd_library_get_machine(lib, name));
            return;
        }
    }
}

gboolean vmd_library_watch(VmdLibrary *lib, GError **error)
{
    g_return_val_if_fail(VMD_IS_LIBRARY(lib), FALSE);
    if (lib->runtime_monitor)
        return TRUE;
    if (!vmd_ensure_dir(lib->vms_dir, error) || !vmd_ensure_dir(lib->runtime_dir, error))
        return FALSE;
    g_autoptr(GFile) vms = g_file_new_for_path(lib->vms_dir);
    g_autoptr(GFile) run = g_file_new_for_path(lib->runtime_dir);
    lib->vms_monitor = g_file_monitor_directory(vms, G_FILE_MONITOR_WATCH_MOVES, NULL, error);
    if (!lib->vms_monitor)
        return FALSE;
    lib->runtime_monitor = g_file_monitor_directory(run, G_FILE_MONITOR_WATCH_MOVES, NULL,
                                                    error);
    if (!lib->runtime_monitor) {
        g_clear_object(&lib->vms_monitor);
        return FALSE;
    }
    g_file_monitor_set_rate_limit(lib->runtime_monitor, 0);
    g_signal_connect(lib->vms_monitor, "changed", G_CALLBACK(on_vms_changed), lib);
    g_signal_connect(lib->runtime_monitor, "changed", G_CALLBACK(on_runtime_changed), lib);
    GHashTableIter it;
    gpointer m;
    g_hash_table_iter_init(&it, lib->machines);
    while (g_hash_table_iter_next(&it, NULL, &m))
        vmd_machine_set_watching(m, TRUE);
    return TRUE;
}
