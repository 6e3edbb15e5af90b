/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VmdMachine: one VM's lifecycle (start, stop, pause...) and its state, seen from any front end. */
#include "vmd-machine-private.h"

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
    VmdMachine *m = vmd_machine_new_unread(name, runtime_dir, state_dir);
    vmd_machine_refresh(m);
    return m;
}

VmdMachine *vmd_machine_new_unread(const char *name, const char *runtime_dir,
                                   const char *state_dir)
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
gboolean vmd_machine_lock_held(VmdMachine *m, int *keep_fd)
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


void vmd_probe_clear(Probe *p)
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

static void probe_alive(VmdMachine *m, Probe *p, VmdStatusProbe *status)
{
    if (!status->commands) {
        /* Alive without a socket: on its way up, or (after running) on its way down. */
        gboolean was_up = m->state == VMD_MACHINE_RUNNING || m->state == VMD_MACHINE_PAUSED ||
                          m->state == VMD_MACHINE_SHUTTING_DOWN;
        p->state = was_up || m->stopping ? VMD_MACHINE_SHUTTING_DOWN : VMD_MACHINE_STARTING;
        return;
    }
    p->pid = status->pid;
    p->commands = g_steal_pointer(&status->commands);
    const char *st = status->state ? status->state : "shutting-down";
    if (m->stopping || !strcmp(st, "shutting-down"))
        p->state = VMD_MACHINE_SHUTTING_DOWN;
    else if (!strcmp(st, "paused"))
        p->state = VMD_MACHINE_PAUSED;
    else
        p->state = VMD_MACHINE_RUNNING;
}

void vmd_machine_remove_stale(VmdMachine *m)
{
    g_unlink(m->sock_path);
    g_unlink(m->serial_path);
    g_unlink(m->config_path);
}

void vmd_machine_set_state(VmdMachine *m, Probe *p)
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

static void after_refresh(VmdMachine *m)
{
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

void vmd_machine_refresh_many(VmdMachine *const *machines, guint n)
{
    g_autofree Probe *probes = g_new0(Probe, n);
    g_autofree VmdStatusProbe *status = g_new0(VmdStatusProbe, n);
    g_autofree guint *alive = g_new(guint, n);
    guint n_alive = 0;

    for (guint i = 0; i < n; i++) {
        VmdMachine *m = machines[i];
        int fd = -1;
        g_return_if_fail(VMD_IS_MACHINE(m));
        if (vmd_machine_lock_held(m, &fd)) {
            status[n_alive].path = m->sock_path;
            alive[n_alive++] = i;
            continue;
        }
        /* Holding the lock shared, no VMM of this name can appear while we clean up. */
        probe_dead(m, &probes[i]);
        vmd_machine_remove_stale(m);
        if (fd >= 0)
            close(fd);
    }
    /* The running ones are asked all at once: one round trip for all, not one each. */
    vmd_control_probe_status(status, n_alive, CONNECT_TIMEOUT_MS);
    for (guint k = 0; k < n_alive; k++) {
        probe_alive(machines[alive[k]], &probes[alive[k]], &status[k]);
        vmd_status_probe_clear(&status[k]);
    }
    for (guint i = 0; i < n; i++) {
        vmd_machine_set_state(machines[i], &probes[i]);
        vmd_probe_clear(&probes[i]);
        after_refresh(machines[i]);
    }
}

void vmd_machine_refresh(VmdMachine *m)
{
    vmd_machine_refresh_many(&m, 1);
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
    vmd_machine_set_state(m, &p);
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
        vmd_machine_set_state(m, &p);
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
