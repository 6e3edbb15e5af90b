/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of VmdLibrary and VmdMachine's state reading, in temporary folders; no KVM. */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmd-fileutil.h"
#include "vmd-library.h"

typedef struct {
    char *root;
    VmdLibrary *lib;
    char *firmware;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->root = g_dir_make_tmp("vmd-library-XXXXXX", NULL);
    g_autofree char *vms = g_build_filename(f->root, "vms", NULL);
    g_autofree char *disks = g_build_filename(f->root, "disks", NULL);
    g_autofree char *state = g_build_filename(f->root, "state", NULL);
    g_autofree char *run = g_build_filename(f->root, "run", NULL);
    f->lib = vmd_library_new_for_dirs(vms, disks, state, run);
    f->firmware = g_build_filename(f->root, "fw.bin", NULL);
    g_assert_true(g_file_set_contents(f->firmware, "fw", 2, NULL));
}

static void teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    g_object_unref(f->lib);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->root);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(f->root);
    g_free(f->firmware);
}

static void define(Fixture *f, const char *name)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VmdDefinition) def = vmd_definition_new(name);
    vmd_definition_set_firmware(def, f->firmware);
    g_assert_true(vmd_library_create(f->lib, def, &error));
    g_assert_no_error(error);
}

static char *read_def(Fixture *f, const char *name)
{
    g_autofree char *path = vmd_library_definition_path(f->lib, name);
    char *data = NULL;
    g_file_get_contents(path, &data, NULL, NULL);
    return data;
}

static void test_create_list(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    define(f, "b");
    define(f, "a b");
    define(f, "c");
    /* Files that are not definitions are ignored. */
    g_autofree char *junk = g_build_filename(vmd_library_get_vms_dir(f->lib), ".c.json.X1", NULL);
    g_assert_true(g_file_set_contents(junk, "x", 1, NULL));
    g_autofree char *txt = g_build_filename(vmd_library_get_vms_dir(f->lib), "notes.txt", NULL);
    g_assert_true(g_file_set_contents(txt, "x", 1, NULL));
    g_auto(GStrv) names = vmd_library_list_names(f->lib, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_strv_length(names), ==, 3);
    g_assert_cmpstr(names[0], ==, "a b");
    g_assert_cmpstr(names[1], ==, "b");
    g_assert_cmpstr(names[2], ==, "c");

    /* A duplicate name is refused and the file is unchanged. */
    g_autofree char *before = read_def(f, "b");
    g_autoptr(VmdDefinition) dup = vmd_definition_new("b");
    vmd_definition_set_firmware(dup, "/other");
    g_assert_false(vmd_library_create(f->lib, dup, &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_EXISTS);
    g_assert_nonnull(strstr(error->message, "a VM named 'b' already exists"));
    g_autofree char *after = read_def(f, "b");
    g_assert_cmpstr(before, ==, after);
    g_clear_error(&error);

    /* An invalid name says which rule failed. */
    g_autoptr(VmdDefinition) bad = vmd_definition_new("a/b");
    vmd_definition_set_firmware(bad, "/f");
    g_assert_false(vmd_library_create(f->lib, bad, &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "contains '/'"));
    g_clear_error(&error);

    g_autoptr(VmdDefinition) none = vmd_library_load(f->lib, "zz", &error);
    g_assert_error(error, VMD_ERROR, VMD_ERROR_NOT_FOUND);
    g_assert_null(none);
}

static void test_edit(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    define(f, "e");
    const char *good[] = {"memory=1G", "cpus=2", "ksm=true", NULL};
    g_assert_true(vmd_library_edit(f->lib, "e", good, &error));
    g_autoptr(VmdDefinition) def = vmd_library_load(f->lib, "e", &error);
    g_assert_cmpstr(vmd_definition_get_memory(def), ==, "1G");
    g_assert_cmpuint(vmd_definition_get_cpus(def), ==, 2);

    /* One bad edit among good ones: nothing is written. */
    g_autofree char *before = read_def(f, "e");
    const char *bad[] = {"cpus=3", "memory=1K", NULL};
    g_assert_false(vmd_library_edit(f->lib, "e", bad, &error));
    g_assert_nonnull(strstr(error->message, "memory '1K'"));
    g_clear_error(&error);
    const char *noeq[] = {"cpus", NULL};
    g_assert_false(vmd_library_edit(f->lib, "e", noeq, &error));
    g_assert_nonnull(strstr(error->message, "expected key=value"));
    g_clear_error(&error);
    g_autofree char *after = read_def(f, "e");
    g_assert_cmpstr(before, ==, after);
}

static void test_corrupt(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    define(f, "t");
    g_autofree char *path = vmd_library_definition_path(f->lib, "t");
    g_autofree char *good = read_def(f, "t");
    g_autofree char *cut = g_strndup(good, strlen(good) / 2);
    g_assert_true(g_file_set_contents(path, cut, -1, NULL));
    g_autoptr(VmdDefinition) def = vmd_library_load(f->lib, "t", &error);
    g_assert_null(def);
    g_assert_error(error, VMD_ERROR, VMD_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_nonnull(strstr(error->message, "not valid JSON"));
    g_assert_null(strchr(error->message, '\n'));
    g_clear_error(&error);
    const char *edit[] = {"cpus=2", NULL};
    g_assert_false(vmd_library_edit(f->lib, "t", edit, &error));
    g_clear_error(&error);
    g_autofree char *after = read_def(f, "t");
    g_assert_cmpstr(after, ==, cut);
    /* It still shows in the list, and can be deleted (but not with its disks). */
    g_auto(GStrv) names = vmd_library_list_names(f->lib, &error);
    g_assert_cmpstr(names[0], ==, "t");
    g_assert_false(vmd_library_delete(f->lib, "t", TRUE, &error));
    g_clear_error(&error);
    g_assert_true(vmd_library_delete(f->lib, "t", FALSE, &error));
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void test_disk_and_clone(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    g_autofree char *disk = vmd_library_create_disk(f->lib, "src.raw", 64ull << 20, &error);
    g_assert_no_error(error);
    struct stat st;
    g_assert_cmpint(stat(disk, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 64 << 20);
    g_assert_cmpint(st.st_blocks, <, 64); /* sparse */
    g_autofree char *again = vmd_library_create_disk(f->lib, "src.raw", 1 << 20, &error);
    g_assert_null(again);
    g_assert_error(error, VMD_ERROR, VMD_ERROR_EXISTS);
    g_clear_error(&error);

    /* Some data in the middle and at the end; the rest holes. */
    int fd = open(disk, O_WRONLY);
    g_assert_cmpint(pwrite(fd, "hello", 5, 10 << 20), ==, 5);
    g_assert_cmpint(pwrite(fd, "end", 3, (64 << 20) - 3), ==, 3);
    close(fd);

    g_autoptr(VmdDefinition) def = vmd_definition_new("src");
    vmd_definition_set_firmware(def, f->firmware);
    VmdDisk *d = g_new0(VmdDisk, 1);
    d->path = g_strdup(disk);
    g_ptr_array_add(vmd_definition_get_disks(def), d);
    g_assert_true(vmd_library_create(f->lib, def, &error));
    g_assert_true(vmd_library_clone(f->lib, "src", "copy", &error));
    g_assert_no_error(error);
    g_autoptr(VmdDefinition) copy = vmd_library_load(f->lib, "copy", &error);
    VmdDisk *cd = g_ptr_array_index(vmd_definition_get_disks(copy), 0);
    g_assert_cmpstr(cd->path, !=, disk);
    g_assert_true(g_str_has_suffix(cd->path, "/copy.raw"));
    g_autofree char *a = NULL, *b = NULL;
    gsize alen, blen;
    g_assert_true(g_file_get_contents(disk, &a, &alen, NULL));
    g_assert_true(g_file_get_contents(cd->path, &b, &blen, NULL));
    g_assert_cmpuint(alen, ==, blen);
    g_assert_true(memcmp(a, b, alen) == 0);
    g_assert_cmpint(stat(cd->path, &st), ==, 0);
    g_assert_cmpint(st.st_blocks, <, 1024); /* still sparse */

    /* The forced sparse path, whatever the file system. */
    g_autofree char *dest = g_build_filename(f->root, "forced.raw", NULL);
    VmdCopyMethod how;
    g_assert_true(vmd_copy_file_sparse(disk, dest, FALSE, &how, &error));
    g_assert_cmpint(how, ==, VMD_COPY_SPARSE);
    g_assert_cmpint(stat(dest, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 64 << 20);
    g_assert_cmpint(st.st_blocks, <, 1024);

    /* Clone to a taken name changes nothing. */
    g_assert_false(vmd_library_clone(f->lib, "src", "copy", &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_EXISTS);
    g_clear_error(&error);

    /* Delete keeps disks unless asked. */
    g_autofree char *copy_disk = g_strdup(cd->path);
    g_assert_true(vmd_library_delete(f->lib, "copy", FALSE, &error));
    g_assert_true(g_file_test(copy_disk, G_FILE_TEST_EXISTS));
    g_assert_true(vmd_library_delete(f->lib, "src", TRUE, &error));
    g_assert_false(g_file_test(disk, G_FILE_TEST_EXISTS));
}

static void test_rename(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    define(f, "old");
    define(f, "taken");
    g_assert_false(vmd_library_rename(f->lib, "old", "taken", &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_EXISTS);
    g_clear_error(&error);
    g_assert_false(vmd_library_rename(f->lib, "old", "", &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_true(vmd_library_rename(f->lib, "old", "new", &error));
    g_autoptr(VmdDefinition) def = vmd_library_load(f->lib, "new", &error);
    g_assert_nonnull(def);
    g_assert_cmpstr(vmd_definition_get_name(def), ==, "new");
    g_autoptr(VmdDefinition) gone = vmd_library_load(f->lib, "old", &error);
    g_assert_null(gone);
}

/* A child holds NAME's lock, as a VMM's supervisor does. */
static pid_t hold_lock(Fixture *f, const char *name)
{
    g_assert_true(vmd_ensure_dir(vmd_library_get_runtime_dir(f->lib), NULL));
    g_autofree char *lock = g_strdup_printf("%s/%s.lock", vmd_library_get_runtime_dir(f->lib),
                                            name);
    int pipefd[2];
    g_assert_cmpint(pipe(pipefd), ==, 0);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(lock, O_RDWR | O_CREAT, 0600);
        flock(fd, LOCK_EX);
        char c = 1;
        if (write(pipefd[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    g_assert_cmpint(read(pipefd[0], &c, 1), ==, 1);
    close(pipefd[0]);
    close(pipefd[1]);
    return pid;
}

static void test_machine_states(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    define(f, "m");
    const char *run = vmd_library_get_runtime_dir(f->lib);
    VmdMachine *m = vmd_library_get_machine(f->lib, "m");
    g_assert_cmpint(vmd_machine_get_state(m), ==, VMD_MACHINE_STOPPED);

    /* Locked but no socket yet: starting; and nothing can be deleted meanwhile. */
    pid_t holder = hold_lock(f, "m");
    vmd_machine_refresh(m);
    g_assert_cmpint(vmd_machine_get_state(m), ==, VMD_MACHINE_STARTING);
    g_assert_false(vmd_library_delete(f->lib, "m", FALSE, &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_BUSY);
    g_clear_error(&error);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);

    /* The supervisor's record of a kill -9, with a stale socket left behind. */
    g_autofree char *exit_path = g_strdup_printf("%s/m.exit", run);
    g_assert_true(g_file_set_contents(exit_path, "signal 9\n", -1, NULL));
    g_autofree char *sock = g_strdup_printf("%s/m.sock", run);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_strlcpy(addr.sun_path, sock, sizeof(addr.sun_path));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(bind(s, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    close(s);
    guint changes = 0;
    g_signal_connect_swapped(m, "state-changed", G_CALLBACK(g_atomic_int_inc), &changes);
    vmd_machine_refresh(m);
    g_assert_cmpint(vmd_machine_get_state(m), ==, VMD_MACHINE_CRASHED);
    g_assert_cmpuint(changes, ==, 1);
    g_assert_nonnull(strstr(vmd_machine_get_crash_reason(m), "killed by signal 9"));
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));

    /* A VMM that refused to start: its message from the log is the reason. */
    g_assert_true(vmd_ensure_dir(vmd_library_get_state_dir(f->lib), NULL));
    g_autofree char *log = g_strdup_printf("%s/m.log", vmd_library_get_state_dir(f->lib));
    g_assert_true(g_file_set_contents(log, "--- vmdesk: starting m at T\nvmdesk-vmm --x\n"
                                      "vmdesk-vmm: --memory '1K': expected at least 16M\n",
                                      -1, NULL));
    g_assert_true(g_file_set_contents(exit_path, "exit 2\n", -1, NULL));
    vmd_machine_refresh(m);
    g_assert_cmpstr(vmd_machine_get_crash_reason(m), ==,
                    "vmdesk-vmm refused to start: --memory '1K': expected at least 16M");
    g_assert_nonnull(strstr(vmd_machine_get_log_tail(m), "vmdesk-vmm --x"));
    g_assert_cmpuint(changes, ==, 2);

    /* A clean exit is "stopped". */
    g_assert_true(g_file_set_contents(exit_path, "exit 0\n", -1, NULL));
    vmd_machine_refresh(m);
    g_assert_cmpint(vmd_machine_get_state(m), ==, VMD_MACHINE_STOPPED);
    g_assert_null(vmd_machine_get_crash_reason(m));

    /* Operations on a stopped VM say so. */
    g_assert_false(vmd_machine_pause(m, &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_NOT_RUNNING);
    g_clear_error(&error);
    g_assert_false(vmd_machine_stop(m, 100, &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_NOT_RUNNING);
}

static void test_start_refusals(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GError) error = NULL;
    VmdMachine *m = vmd_library_get_machine(f->lib, "s");
    g_autoptr(VmdDefinition) def = vmd_definition_new("s");
    vmd_definition_set_firmware(def, f->firmware);
    VmdDisk *d = g_new0(VmdDisk, 1);
    d->path = g_strdup("/x.raw");
    g_ptr_array_add(vmd_definition_get_disks(def), d);
    /* A missing disk is named before anything is spawned. */
    g_assert_false(vmd_machine_start(m, def, "/bin/true", &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "disks[0].path '/x.raw': No such file"));
    g_clear_error(&error);
    g_ptr_array_set_size(vmd_definition_get_disks(def), 0);

    /* The definition of another VM cannot start this one. */
    g_autoptr(VmdDefinition) other = vmd_definition_new("other");
    vmd_definition_set_firmware(other, f->firmware);
    g_assert_false(vmd_machine_start(m, other, "/bin/true", &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_INVALID);
    g_clear_error(&error);

    vmd_definition_set_firmware(def, "/nonexistent/fw.bin");
    g_assert_false(vmd_machine_start(m, def, "/bin/true", &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "firmware '/nonexistent/fw.bin'"));
    g_clear_error(&error);
    vmd_definition_set_firmware(def, f->firmware);

    vmd_definition_set_serial(def, "stdio");
    g_assert_false(vmd_machine_start(m, def, "/bin/true", &error));
    g_assert_nonnull(strstr(error->message, "serial 'stdio'"));
    g_clear_error(&error);
    vmd_definition_set_serial(def, NULL);

    /* A "VMM" that exits at once with status 2 is reported with its message. */
    g_autofree char *fake = g_build_filename(f->root, "fake-vmm", NULL);
    g_assert_true(g_file_set_contents(fake, "#!/bin/sh\necho 'vmdesk-vmm: no guest here' >&2\n"
                                      "exit 2\n", -1, NULL));
    g_assert_cmpint(chmod(fake, 0755), ==, 0);
    g_assert_false(vmd_machine_start(m, def, fake, &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_VMM);
    g_assert_nonnull(strstr(error->message, "refused to start: no guest here"));
    g_assert_cmpint(vmd_machine_get_state(m), ==, VMD_MACHINE_CRASHED);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/library/create-list", test_create_list);
    ADD("/library/edit", test_edit);
    ADD("/library/corrupt", test_corrupt);
    ADD("/library/disk-and-clone", test_disk_and_clone);
    ADD("/library/rename", test_rename);
    ADD("/library/machine-states", test_machine_states);
    ADD("/library/start-refusals", test_start_refusals);
    return g_test_run();
}
