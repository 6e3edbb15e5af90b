/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdMachine's operations: start (detached, locked), stop, force-off, pause, resume, reset. */
#include "vmd-machine-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "vmd-control.h"
#include "vmd-fileutil.h"
#include "vmd-spawn.h"

/* ---- lifecycle ---- */

static gboolean check_readable(const char *field, const char *path, GError **error)
{
    if (path && g_access(path, R_OK) < 0) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_INVALID, "%s '%s': %s", field, path,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static gboolean check_startable(VmdMachine *m, VmdDefinition *def, const char *vmm,
                                GError **error)
{
    if (!vmd_definition_validate(def, error))
        return FALSE;
    if (g_strcmp0(vmd_definition_get_name(def), m->name) != 0) {
        /* Its sockets and lock are named after the machine: the two must agree. */
        g_set_error(error, VMD_ERROR, VMD_ERROR_INVALID, "the definition of '%s' cannot start "
                    "the VM '%s'", vmd_definition_get_name(def), m->name);
        return FALSE;
    }
    if (!g_strcmp0(vmd_definition_get_serial(def), "stdio")) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_INVALID,
                    "serial 'stdio': a VM started by vmdesk has no terminal; use unix:PATH, "
                    "file:PATH or none, or leave serial out for vmdeskctl console");
        return FALSE;
    }
    if (!check_readable("kernel", vmd_definition_get_kernel(def), error) ||
        !check_readable("initrd", vmd_definition_get_initrd(def), error) ||
        !check_readable("firmware", vmd_definition_get_firmware(def), error))
        return FALSE;
    GPtrArray *disks = vmd_definition_get_disks(def);
    for (guint i = 0; i < disks->len; i++) {
        const VmdDisk *d = g_ptr_array_index(disks, i);
        g_autofree char *field = g_strdup_printf("disks[%u].path", i);
        if (!check_readable(field, d->path, error))
            return FALSE;
    }
    if (g_access(vmm, X_OK) < 0) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "vmdesk-vmm '%s': %s (set VMDESK_VMM "
                    "to the binary)", vmm, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/*
 * The VMM reads the definition itself (--config), from a copy in the runtime folder that
 * records what this run was started with, so that the two can never disagree on a field.
 * Only what vmdesk chooses per run is added as flags: the control socket and the default
 * serial socket.
 */
static char **build_argv(VmdMachine *m, VmdDefinition *def, const char *vmm, GError **error)
{
    gsize len;
    g_autofree char *data = vmd_definition_to_data(def, &len);
    if (!vmd_write_file_atomic(m->config_path, data, len, 0600, TRUE, error))
        return NULL;
    GStrvBuilder *b = g_strv_builder_new();
    g_strv_builder_add_many(b, vmm, "--config", m->config_path, "--control", m->sock_path,
                            NULL);
    if (!vmd_definition_get_serial(def)) {
        g_autofree char *serial = g_strconcat("unix:", m->serial_path, NULL);
        g_strv_builder_add_many(b, "--serial", serial, NULL);
    }
    char **argv = g_strv_builder_end(b);
    g_strv_builder_unref(b);
    return argv;
}

static gboolean busy_error(VmdMachine *m, GError **error)
{
    vmd_machine_refresh(m);
    if (m->pid)
        g_set_error(error, VMD_ERROR, VMD_ERROR_BUSY, "'%s' is already %s (pid %d)", m->name,
                    vmd_machine_state_to_string(m->state), (int)m->pid);
    else
        g_set_error(error, VMD_ERROR, VMD_ERROR_BUSY, "'%s' is already %s", m->name,
                    vmd_machine_state_to_string(m->state));
    return FALSE;
}

static int take_lock(VmdMachine *m, GError **error)
{
    int fd = open(m->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "%s: %s", m->lock_path,
                    g_strerror(errno));
        return -1;
    }
    /* Other processes' probes hold it shared for a moment: retry briefly before deciding. */
    for (int i = 0; i < 50; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        if (errno != EWOULDBLOCK)
            break;
        g_usleep(2000);
    }
    close(fd);
    busy_error(m, error);
    return -1;
}

static void write_log_header(int fd, const char *name, char **argv)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *when = g_date_time_format_iso8601(now);
    g_autofree char *cmd = g_strjoinv(" ", argv);
    g_autofree char *line = g_strdup_printf("%s%s at %s\n%s\n", LOG_HEADER, name, when, cmd);
    ssize_t w = write(fd, line, strlen(line));
    (void)w;
}

/*
 * The VMM names the holder of a locked disk as "vmdesk-vmm pid N (control socket PATH)";
 * where PATH is a VM of this library's, say which VM it is.
 */
static char *name_holders(VmdMachine *m, const char *text)
{
    static const char what[] = "vmdesk-vmm pid ";
    GString *out = g_string_new(NULL);
    g_autofree char *prefix = g_strdup_printf(" (control socket %s/", m->runtime_dir);
    const char *p = text;
    const char *hit;

    while ((hit = strstr(p, what))) {
        const char *num = hit + strlen(what);
        const char *end = num + strspn(num, "0123456789");
        const char *close = g_str_has_prefix(end, prefix) ? strstr(end, ".sock)") : NULL;
        g_string_append_len(out, p, hit - p);
        if (end == num || !close) {
            g_string_append(out, what);
            p = num;
            continue;
        }
        g_autofree char *name = g_strndup(end + strlen(prefix),
                                          (gsize)(close - end - strlen(prefix)));
        g_string_append_printf(out, "VM '%s' (vmdesk-vmm pid %.*s)", name, (int)(end - num),
                               num);
        p = close + strlen(".sock)");
    }
    g_string_append(out, p);
    return g_string_free(out, FALSE);
}

gboolean vmd_machine_start(VmdMachine *m, VmdDefinition *def, const char *vmm, GError **error)
{
    g_return_val_if_fail(VMD_IS_MACHINE(m), FALSE);

    if (!check_startable(m, def, vmm, error))
        return FALSE;
    if (!vmd_ensure_dir(m->runtime_dir, error) || !vmd_ensure_dir(m->state_dir, error))
        return FALSE;
    int lock_fd = take_lock(m, error);
    if (lock_fd < 0)
        return FALSE;
    g_unlink(m->exit_path);
    vmd_machine_remove_stale(m);
    int log_fd = open(m->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "%s: %s", m->log_path,
                    g_strerror(errno));
        close(lock_fd);
        return FALSE;
    }
    g_auto(GStrv) argv = build_argv(m, def, vmm, error);
    if (!argv) {
        close(log_fd);
        close(lock_fd);
        return FALSE;
    }
    write_log_header(log_fd, m->name, argv);
    gboolean ok = vmd_spawn_detached(argv, log_fd, lock_fd, m->exit_path, error);
    close(log_fd);
    Probe p = {.state = VMD_MACHINE_STARTING};
    m->stopping = FALSE;
    if (ok)
        vmd_machine_set_state(m, &p);

    /* Until the socket answers or the supervisor records an end; our lock fd keeps
     * other starters out meanwhile. */
    gint64 deadline = g_get_monotonic_time() + START_TIMEOUT_MS * 1000;
    while (ok) {
        g_autoptr(VmdControl) ctl = vmd_control_connect(m->sock_path, CONNECT_TIMEOUT_MS, NULL);
        if (ctl)
            break;
        if (g_file_test(m->exit_path, G_FILE_TEST_EXISTS)) {
            close(lock_fd);
            lock_fd = -1;
            /* Wait for the supervisor to let go, so the state reads "crashed". */
            for (int i = 0; i < 200 && vmd_machine_lock_held(m, NULL); i++)
                g_usleep(POLL_MS * 1000);
            vmd_machine_refresh(m);
            if (m->state == VMD_MACHINE_STOPPED)
                return TRUE; /* it ran, and the guest already powered off */
            g_autofree char *why = name_holders(m, m->crash_reason ? m->crash_reason
                                                                    : "vmdesk-vmm ended at once");
            g_set_error(error, VMD_ERROR, VMD_ERROR_VMM, "%s (log: %s)", why, m->log_path);
            return FALSE;
        }
        if (g_get_monotonic_time() > deadline) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_TIMEOUT, "'%s' did not open its control "
                        "socket within %d s (log: %s)", m->name, START_TIMEOUT_MS / 1000,
                        m->log_path);
            ok = FALSE;
            break;
        }
        g_usleep(POLL_MS * 1000);
    }
    if (lock_fd >= 0)
        close(lock_fd);
    vmd_machine_refresh(m);
    return ok;
}

static VmdControl *connect_running(VmdMachine *m, GError **error)
{
    VmdControl *ctl = vmd_control_connect(m->sock_path, CONNECT_TIMEOUT_MS, NULL);
    if (!ctl) {
        vmd_machine_refresh(m);
        g_set_error(error, VMD_ERROR, VMD_ERROR_NOT_RUNNING, "'%s' is not running (it is %s)",
                    m->name, vmd_machine_state_to_string(m->state));
    }
    return ctl;
}

static gboolean wait_dead(VmdMachine *m, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (vmd_machine_lock_held(m, NULL)) {
        if (g_get_monotonic_time() > deadline)
            return FALSE;
        g_usleep(POLL_MS * 1000);
    }
    return TRUE;
}

static gboolean quit_and_wait(VmdMachine *m, VmdControl *ctl, guint timeout_ms, GError **error)
{
    pid_t pid = vmd_control_get_pid(ctl);
    /* The reply does not matter: whether the VMM ends does. */
    JsonNode *reply = vmd_control_execute(ctl, "quit", NULL, NULL);
    if (reply)
        json_node_unref(reply);
    if (wait_dead(m, timeout_ms))
        return TRUE;
    if (pid > 0 && kill(pid, SIGKILL) == 0 && wait_dead(m, QUIT_TIMEOUT_MS)) {
        /* Our own kill is an ordered stop, not a crash. */
        vmd_write_file_atomic(m->exit_path, "exit 0\n", 7, 0600, TRUE, NULL);
        return TRUE;
    }
    g_set_error(error, VMD_ERROR, VMD_ERROR_TIMEOUT, "'%s' (pid %d) did not end", m->name,
                (int)pid);
    return FALSE;
}

static void mark_stopping(VmdMachine *m)
{
    Probe p = {.state = VMD_MACHINE_SHUTTING_DOWN, .pid = m->pid};
    m->stopping = TRUE;
    vmd_machine_set_state(m, &p);
}

gboolean vmd_machine_stop(VmdMachine *m, guint timeout_ms, GError **error)
{
    g_return_val_if_fail(VMD_IS_MACHINE(m), FALSE);
    g_autoptr(VmdControl) ctl = connect_running(m, error);
    if (!ctl)
        return FALSE;
    mark_stopping(m);
    /* The guest gets its ACPI power button where the VMM has one; until then, quit. */
    if (vmd_control_has_command(ctl, "powerdown")) {
        g_autoptr(JsonNode) ret = vmd_control_execute(ctl, "powerdown", NULL, NULL);
        if (ret && wait_dead(m, timeout_ms)) {
            vmd_machine_refresh(m);
            return TRUE;
        }
    }
    gboolean ok = quit_and_wait(m, ctl, QUIT_TIMEOUT_MS, error);
    vmd_machine_refresh(m);
    return ok;
}

gboolean vmd_machine_force_off(VmdMachine *m, GError **error)
{
    g_return_val_if_fail(VMD_IS_MACHINE(m), FALSE);
    g_autoptr(VmdControl) ctl = connect_running(m, error);
    if (!ctl)
        return FALSE;
    mark_stopping(m);
    gboolean ok = quit_and_wait(m, ctl, 1000, error);
    vmd_machine_refresh(m);
    return ok;
}

static gboolean run_command(VmdMachine *m, const char *command, GError **error)
{
    g_return_val_if_fail(VMD_IS_MACHINE(m), FALSE);
    g_autoptr(VmdControl) ctl = connect_running(m, error);
    if (!ctl)
        return FALSE;
    if (!vmd_control_has_command(ctl, command)) {
        g_autofree char *have = g_strjoinv(", ", (GStrv)vmd_control_get_commands(ctl));
        g_set_error(error, VMD_ERROR, VMD_ERROR_UNSUPPORTED, "this vmdesk-vmm has no '%s' "
                    "command yet (it has: %s)", command, have);
        return FALSE;
    }
    g_autoptr(JsonNode) ret = vmd_control_execute(ctl, command, NULL, error);
    vmd_machine_refresh(m);
    return ret != NULL;
}

gboolean vmd_machine_pause(VmdMachine *m, GError **error)
{
    return run_command(m, "pause", error);
}

gboolean vmd_machine_resume(VmdMachine *m, GError **error)
{
    return run_command(m, "resume", error);
}

gboolean vmd_machine_reset(VmdMachine *m, GError **error)
{
    return run_command(m, "reset", error);
}

char *vmd_find_vmm(const char *self_exe)
{
    const char *env = g_getenv("VMDESK_VMM");
    if (env && *env)
        return g_strdup(env);
    if (self_exe) {
        g_autofree char *real = g_file_read_link(self_exe, NULL);
        const char *exe = real ? real : self_exe;
        g_autofree char *dir = g_path_get_dirname(exe);
        g_autofree char *root = g_path_get_dirname(dir);
        /* In a build tree vmdeskctl is app/vmdeskctl and the VMM hvcore/vmdesk-vmm. */
        char *built = g_build_filename(root, "hvcore", "vmdesk-vmm", NULL);
        if (g_file_test(built, G_FILE_TEST_IS_EXECUTABLE))
            return built;
        g_free(built);
        char *beside = g_build_filename(dir, "vmdesk-vmm", NULL);
        if (g_file_test(beside, G_FILE_TEST_IS_EXECUTABLE))
            return beside;
        g_free(beside);
    }
    char *found = g_find_program_in_path("vmdesk-vmm");
    return found ? found : g_strdup("vmdesk-vmm");
}
