/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdMachine: one VM's lifecycle (start, stop, pause...) and its state, seen from any front end. */
#include "vmd-machine.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmd-control.h"
#include "vmd-fileutil.h"
#include "vmd-spawn.h"

#define CONNECT_TIMEOUT_MS 2000
#define START_TIMEOUT_MS 10000
#define QUIT_TIMEOUT_MS 5000
#define POLL_MS 10
#define TAIL_LINES 10
#define LOG_HEADER "--- vmdesk: starting "

struct _VmdMachine {
    GObject parent_instance;
    char *name;
    char *sock_path;
    char *serial_path;
    char *lock_path;
    char *exit_path;
    char *config_path; /* the definition the running VMM was started with */
    char *log_path;
    char *runtime_dir;
    char *state_dir;

    VmdMachineState state;
    pid_t pid;
    char *crash_reason;
    char *log_tail;
    GStrv commands;
    gboolean stopping; /* this process asked it to stop */

    gboolean watching;
    GCancellable *watch_cancel;
    GDataInputStream *watch_in;
    guint poll_id;
    gint64 poll_deadline;
};

enum { SIGNAL_STATE_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(VmdMachine, vmd_machine, G_TYPE_OBJECT)

static void watch_stop(VmdMachine *m);

const char *vmd_machine_state_to_string(VmdMachineState state)
{
    static const char *const names[] = {"stopped", "starting", "running",
                                        "paused", "shutting-down", "crashed"};
    return state < G_N_ELEMENTS(names) ? names[state] : "unknown";
}

static void vmd_machine_finalize(GObject *object)
{
    VmdMachine *m = VMD_MACHINE(object);

    watch_stop(m);
    g_free(m->name);
    g_free(m->sock_path);
    g_free(m->serial_path);
    g_free(m->lock_path);
    g_free(m->exit_path);
    g_free(m->config_path);
    g_free(m->log_path);
    g_free(m->runtime_dir);
    g_free(m->state_dir);
    g_free(m->crash_reason);
    g_free(m->log_tail);
    g_strfreev(m->commands);
    G_OBJECT_CLASS(vmd_machine_parent_class)->finalize(object);
}

static void vmd_machine_class_init(VmdMachineClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vmd_machine_finalize;
    /**
     * VmdMachine::state-changed:
     * The state (or the crash reason) differs from the last one seen; read it with
     * vmd_machine_get_state().
     */
    signals[SIGNAL_STATE_CHANGED] = g_signal_new("state-changed", G_TYPE_FROM_CLASS(klass),
                                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                 G_TYPE_NONE, 0);
}

static void vmd_machine_init(VmdMachine *m)
{
    m->state = VMD_MACHINE_STOPPED;
}

VmdMachine *vmd_machine_new(const char *name, const char *runtime_dir, const char *state_dir)
{
    VmdMachine *m = g_object_new(VMD_TYPE_MACHINE, NULL);

    m->name = g_strdup(name);
    m->runtime_dir = g_strdup(runtime_dir);
    m->state_dir = g_strdup(state_dir);
    m->sock_path = g_strdup_printf("%s/%s.sock", runtime_dir, name);
    m->serial_path = g_strdup_printf("%s/%s.serial", runtime_dir, name);
    m->lock_path = g_strdup_printf("%s/%s.lock", runtime_dir, name);
    m->exit_path = g_strdup_printf("%s/%s.exit", runtime_dir, name);
    m->config_path = g_strdup_printf("%s/%s.vm.json", runtime_dir, name);
    m->log_path = g_strdup_printf("%s/%s.log", state_dir, name);
    vmd_machine_refresh(m);
    return m;
}

const char *vmd_machine_get_name(VmdMachine *m) { return m->name; }
VmdMachineState vmd_machine_get_state(VmdMachine *m) { return m->state; }
pid_t vmd_machine_get_pid(VmdMachine *m) { return m->pid; }
const char *vmd_machine_get_crash_reason(VmdMachine *m) { return m->crash_reason; }
const char *vmd_machine_get_log_tail(VmdMachine *m) { return m->log_tail; }
const char *vmd_machine_get_control_path(VmdMachine *m) { return m->sock_path; }
const char *vmd_machine_get_serial_path(VmdMachine *m) { return m->serial_path; }
const char *vmd_machine_get_log_path(VmdMachine *m) { return m->log_path; }

const char *const *vmd_machine_get_commands(VmdMachine *m)
{
    return (const char *const *)m->commands;
}

/* ---- reading the state ---- */

/* TRUE while some process (the VMM or its supervisor) holds the VM's lock. */
static gboolean lock_held(VmdMachine *m, int *keep_fd)
{
    int fd = open(m->lock_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FALSE;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
        close(fd);
        return TRUE;
    }
    if (keep_fd)
        *keep_fd = fd;
    else
        close(fd);
    return FALSE;
}

/* The lines the last run wrote to the log, at most TAIL_LINES (transfer full). */
static char *read_log_tail(VmdMachine *m)
{
    int fd = open(m->log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > 16384 ? size - 16384 : 0;
    g_autofree char *buf = g_malloc((gsize)(size - from) + 1);
    ssize_t n = pread(fd, buf, (size_t)(size - from), from);
    close(fd);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    char *start = g_strrstr(buf, LOG_HEADER);
    start = start ? strchr(start, '\n') : buf;
    if (!start)
        return NULL;
    g_auto(GStrv) lines = g_strsplit(g_strstrip(start), "\n", -1);
    guint len = g_strv_length(lines);
    guint first = len > TAIL_LINES ? len - TAIL_LINES : 0;
    return len ? g_strjoinv("\n", lines + first) : NULL;
}

/* The VMM's own last message ("vmdesk-vmm: ...") in the log tail, or its last line. */
static char *last_message(const char *tail)
{
    if (!tail || !*tail)
        return g_strdup("no message in the log");
    g_auto(GStrv) lines = g_strsplit(tail, "\n", -1);
    for (guint i = g_strv_length(lines); i-- > 0;) {
        if (g_str_has_prefix(lines[i], "vmdesk-vmm: ") && !strstr(lines[i], ": warning: "))
            return g_strdup(lines[i] + strlen("vmdesk-vmm: "));
        if (g_str_has_prefix(lines[i], "vmdesk: "))
            return g_strdup(lines[i] + strlen("vmdesk: "));
    }
    return g_strdup(lines[g_strv_length(lines) - 1]);
}

typedef struct {
    VmdMachineState state;
    pid_t pid;
    char *reason;
    char *tail;
    GStrv commands;
} Probe;

static void probe_clear(Probe *p)
{
    g_free(p->reason);
    g_free(p->tail);
    g_strfreev(p->commands);
}

static void probe_dead(VmdMachine *m, Probe *p)
{
    g_autofree char *record = NULL;
    gboolean signalled;
    int code;

    p->state = VMD_MACHINE_STOPPED;
    if (!g_file_get_contents(m->exit_path, &record, NULL, NULL) ||
        !vmd_spawn_parse_exit(record, &signalled, &code) || (!signalled && code == 0))
        return;
    p->state = VMD_MACHINE_CRASHED;
    p->tail = read_log_tail(m);
    g_autofree char *msg = last_message(p->tail);
    if (signalled)
        p->reason = g_strdup_printf("vmdesk-vmm was killed by signal %d (%s)", code,
                                    g_strsignal(code));
    else if (code == 2)
        p->reason = g_strdup_printf("vmdesk-vmm refused to start: %s", msg);
    else if (code == 127)
        p->reason = g_strdup_printf("could not run vmdesk-vmm: %s", msg);
    else
        p->reason = g_strdup_printf("vmdesk-vmm ended with status %d: %s", code, msg);
}

static void probe_alive(VmdMachine *m, Probe *p)
{
    g_autoptr(VmdControl) ctl = vmd_control_connect(m->sock_path, CONNECT_TIMEOUT_MS, NULL);
    if (!ctl) {
        /* Alive without a socket: on its way up, or (after running) on its way down. */
        gboolean was_up = m->state == VMD_MACHINE_RUNNING || m->state == VMD_MACHINE_PAUSED ||
                          m->state == VMD_MACHINE_SHUTTING_DOWN;
        p->state = was_up || m->stopping ? VMD_MACHINE_SHUTTING_DOWN : VMD_MACHINE_STARTING;
        return;
    }
    p->pid = vmd_control_get_pid(ctl);
    p->commands = g_strdupv((GStrv)vmd_control_get_commands(ctl));
    g_autoptr(JsonNode) ret = vmd_control_execute(ctl, "query-status", NULL, NULL);
    const char *st = ret && JSON_NODE_HOLDS_OBJECT(ret)
                         ? json_object_get_string_member_with_default(json_node_get_object(ret),
                                                                      "state", "running")
                         : "shutting-down";
    if (m->stopping || !strcmp(st, "shutting-down"))
        p->state = VMD_MACHINE_SHUTTING_DOWN;
    else if (!strcmp(st, "paused"))
        p->state = VMD_MACHINE_PAUSED;
    else
        p->state = VMD_MACHINE_RUNNING;
}

static void remove_stale(VmdMachine *m)
{
    g_unlink(m->sock_path);
    g_unlink(m->serial_path);
    g_unlink(m->config_path);
}

static void set_state(VmdMachine *m, Probe *p)
{
    gboolean changed = m->state != p->state || g_strcmp0(m->crash_reason, p->reason) != 0;

    m->state = p->state;
    m->pid = p->pid;
    g_free(m->crash_reason);
    m->crash_reason = g_steal_pointer(&p->reason);
    g_free(m->log_tail);
    m->log_tail = g_steal_pointer(&p->tail);
    if (p->commands || p->state == VMD_MACHINE_STOPPED || p->state == VMD_MACHINE_CRASHED) {
        g_strfreev(m->commands);
        m->commands = g_steal_pointer(&p->commands);
    }
    if (p->state == VMD_MACHINE_STOPPED || p->state == VMD_MACHINE_CRASHED)
        m->stopping = FALSE;
    if (changed)
        g_signal_emit(m, signals[SIGNAL_STATE_CHANGED], 0);
}

static gboolean poll_tick(gpointer data);
static void watch_start(VmdMachine *m);

void vmd_machine_refresh(VmdMachine *m)
{
    g_return_if_fail(VMD_IS_MACHINE(m));
    Probe p = {0};
    int fd = -1;

    if (lock_held(m, &fd)) {
        probe_alive(m, &p);
    } else {
        /* Holding the lock shared, no VMM of this name can appear while we clean up. */
        probe_dead(m, &p);
        remove_stale(m);
        if (fd >= 0)
            close(fd);
    }
    set_state(m, &p);
    probe_clear(&p);
    if (!m->watching)
        return;
    if (m->state == VMD_MACHINE_RUNNING || m->state == VMD_MACHINE_PAUSED)
        watch_start(m);
    else if ((m->state == VMD_MACHINE_STARTING || m->state == VMD_MACHINE_SHUTTING_DOWN) &&
             !m->poll_id) {
        m->poll_deadline = g_get_monotonic_time() + START_TIMEOUT_MS * 1000;
        m->poll_id = g_timeout_add(POLL_MS * 5, poll_tick, m);
    }
}

/* ---- watching ---- */

static gboolean poll_tick(gpointer data)
{
    VmdMachine *m = data;
    m->poll_id = 0;
    vmd_machine_refresh(m);
    if (!m->poll_id && (m->state == VMD_MACHINE_STARTING ||
                        m->state == VMD_MACHINE_SHUTTING_DOWN) &&
        g_get_monotonic_time() < m->poll_deadline)
        m->poll_id = g_timeout_add(POLL_MS * 5, poll_tick, m);
    return G_SOURCE_REMOVE;
}

static void watch_stop(VmdMachine *m)
{
    if (m->watch_cancel) {
        g_cancellable_cancel(m->watch_cancel);
        g_clear_object(&m->watch_cancel);
    }
    g_clear_object(&m->watch_in);
    if (m->poll_id)
        g_source_remove(m->poll_id);
    m->poll_id = 0;
}

static void on_line(GObject *src, GAsyncResult *res, gpointer data);

static void read_next(VmdMachine *m)
{
    g_data_input_stream_read_line_async(m->watch_in, G_PRIORITY_DEFAULT, m->watch_cancel,
                                        on_line, g_object_ref(m));
}

static void handle_event(VmdMachine *m, const char *line)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_data(parser, line, -1, NULL))
        return;
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return;
    JsonObject *o = json_node_get_object(root);
    const char *event = json_object_get_string_member_with_default(o, "event", NULL);
    if (g_strcmp0(event, "STATE_CHANGED") != 0)
        return;
    JsonObject *d = json_object_get_object_member(o, "data");
    const char *st = d ? json_object_get_string_member_with_default(d, "state", "") : "";
    Probe p = {.pid = m->pid};
    if (!strcmp(st, "paused"))
        p.state = VMD_MACHINE_PAUSED;
    else if (!strcmp(st, "running"))
        p.state = m->stopping ? VMD_MACHINE_SHUTTING_DOWN : VMD_MACHINE_RUNNING;
    else if (!strcmp(st, "shutting-down"))
        p.state = VMD_MACHINE_SHUTTING_DOWN;
    else
        return;
    set_state(m, &p);
}

static void on_line(GObject *src, GAsyncResult *res, gpointer data)
{
    g_autoptr(VmdMachine) m = data;
    g_autoptr(GError) error = NULL;
    gsize len;
    g_autofree char *line =
        g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(src), res, &len, &error);

    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    if (!line) {
        /* End of file: the VMM is going away. Follow it until its supervisor is done. */
        g_clear_object(&m->watch_cancel);
        g_clear_object(&m->watch_in);
        Probe p = {.state = VMD_MACHINE_SHUTTING_DOWN, .pid = m->pid};
        set_state(m, &p);
        vmd_machine_refresh(m);
        return;
    }
    handle_event(m, line);
    read_next(m);
}

static void watch_start(VmdMachine *m)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};

    if (m->watch_in || strlen(m->sock_path) >= sizeof(addr.sun_path))
        return;
    strcpy(addr.sun_path, m->sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(fd);
        return;
    }
    g_autoptr(GInputStream) in = g_unix_input_stream_new(fd, TRUE);
    m->watch_in = g_data_input_stream_new(in);
    m->watch_cancel = g_cancellable_new();
    read_next(m);
}

void vmd_machine_set_watching(VmdMachine *m, gboolean watch)
{
    g_return_if_fail(VMD_IS_MACHINE(m));
    m->watching = watch;
    if (!watch)
        watch_stop(m);
    else
        vmd_machine_refresh(m);
}

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
    remove_stale(m);
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
        set_state(m, &p);

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
            for (int i = 0; i < 200 && lock_held(m, NULL); i++)
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
    while (lock_held(m, NULL)) {
        if (g_get_monotonic_time() > deadline)
            return FALSE;
        g_usleep(POLL_MS * 1000);
    }
    return TRUE;
}

static gboolean quit_and_wait(VmdMachine *m, VmdControl *ctl, guint timeout_ms, GError **error)
{
    pid_t pid = vmd_control_get_pid(ctl);
    g_autoptr(JsonNode) ret = vmd_control_execute(ctl, "quit", NULL, NULL);

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
    set_state(m, &p);
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
