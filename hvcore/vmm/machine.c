/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One PC-like machine: guest RAM, vCPUs, legacy devices, boot, and its run loop. */
#include "vmm/machine.h"
#include "vmm/machine-private.h"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "block/raw.h"
#include "display/module.h"
#include "display/surface.h"
#include "virtio/blk.h"
#include "virtio/balloon.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "x86/acpi.h"
#include "x86/cpu-setup.h"
#include "x86/e820.h"

#define UART_FLUSH_MS 10

/* ---- memory and VM ---- */

static int map_memory(struct hv_machine *m, char **err)
{
    struct hv_mem_layout layout;
    uint64_t alias = m->firmware ? MIN((uint64_t)m->firmware_size, HV_BIOS_ALIAS_MAX) : 0;
    if (hv_mem_layout_init(&layout, m->cfg->memory, alias) < 0) {
        *err = g_strdup("invalid memory size");
        return -EINVAL;
    }
    unsigned flags = (m->cfg->ksm ? HV_MEM_KSM : 0) | (m->cfg->hugepages ? HV_MEM_HUGEPAGES : 0);
    int r = hv_memory_alloc(&m->mem, &layout, flags);
    if (r < 0) {
        *err = g_strdup_printf("cannot reserve %llu MiB of guest RAM: %s",
                               (unsigned long long)(m->cfg->memory >> 20), g_strerror(-r));
        return r;
    }
    for (unsigned i = 0; i < layout.nr_regions; i++) {
        const struct hv_mem_region *reg = &layout.regions[i];
        r = hv_vm_add_slot(&m->vm, reg->gpa, reg->size, m->mem.host + reg->offset, false, err);
        if (r < 0)
            return r;
    }
    if (m->firmware) {
        r = hv_vm_add_slot(&m->vm, HV_HIGH_RAM_START - m->firmware_size, m->firmware_size,
                           m->firmware, true, err);
        if (r == 0)
            r = hv_vm_add_slot(&m->vm, HV_BIOS_ALIAS_END - alias, alias,
                               m->firmware + m->firmware_size - alias, true, err);
    }
    return r;
}

/* ---- control socket ---- */

static const char *state_name(enum hv_run_state st)
{
    return st == HV_STATE_PAUSED ? "paused"
         : st == HV_STATE_SHUTTING_DOWN ? "shutting-down" : "running";
}

static void emit_state(struct hv_machine *m)
{
    if (!m->control)
        return;
    JsonObject *data = json_object_new();
    json_object_set_string_member(data, "state", state_name(m->state));
    JsonNode *node = json_node_init_object(json_node_alloc(), data);
    json_object_unref(data);
    hv_control_emit(m->control, "STATE_CHANGED", node);
}

static const char *ctl_state(void *opaque)
{
    struct hv_machine *m = opaque;
    return state_name(m->state);
}

static unsigned ctl_vcpus(void *opaque)
{
    struct hv_machine *m = opaque;
    return m->cfg->cpus;
}

static int ctl_pause(void *opaque, char **err)
{
    struct hv_machine *m = opaque;
    (void)err;
    if (m->state == HV_STATE_PAUSED)
        return 0;
    hv_vcpus_pause(&m->vm);
    m->state = HV_STATE_PAUSED;
    emit_state(m);
    return 0;
}

static int ctl_resume(void *opaque, char **err)
{
    struct hv_machine *m = opaque;
    (void)err;
    if (m->state == HV_STATE_RUNNING)
        return 0;
    hv_vcpus_resume(&m->vm);
    m->state = HV_STATE_RUNNING;
    emit_state(m);
    return 0;
}

static void machine_quit(struct hv_machine *m, int status)
{
    m->exit_status = status;
    if (m->loop)
        g_main_loop_quit(m->loop);
}

/* Ends the VMM, saying why in the SHUTDOWN event (`detail` taken; may be NULL). */
static void machine_end(struct hv_machine *m, int status, const char *reason, char *detail)
{
    if (!m->shutdown_reason) {
        m->shutdown_reason = reason;
        m->shutdown_detail = detail;
    } else {
        g_free(detail);
    }
    if (m->state != HV_STATE_SHUTTING_DOWN) {
        m->state = HV_STATE_SHUTTING_DOWN;
        emit_state(m);
    }
    machine_quit(m, status);
}

static void ctl_quit(void *opaque)
{
    machine_end(opaque, EXIT_OK, "host-request", g_strdup("quit command"));
}

static void ctl_devices(void *opaque, JsonBuilder *b)
{
    hv_machine_query_devices(opaque, b);
}

static void ctl_stats(void *opaque, JsonBuilder *b)
{
    hv_machine_query_stats(opaque, b);
}

static int ctl_powerdown(void *opaque, char **err)
{
    struct hv_machine *m = opaque;
    (void)err;
    hv_acpi_pm_power_button(&m->pm);
    return 0;
}

static int machine_reset(struct hv_machine *m, const char *reason, char **err);

static int ctl_reset(void *opaque, char **err)
{
    return machine_reset(opaque, "host-request", err);
}

static int ctl_balloon_set(void *opaque, uint64_t bytes, char **err)
{
    struct hv_machine *m = opaque;
    if (!m->balloon) {
        *err = g_strdup("this VM has no balloon");
        return -ENODEV;
    }
    if (hv_virtio_balloon_set_target(m->balloon, bytes) < 0) {
        *err = g_strdup_printf("target %" G_GUINT64_FORMAT " bytes: expected more than 0 and at "
                               "most the guest's RAM, %" G_GUINT64_FORMAT " bytes", bytes,
                               m->mem.layout.ram_size);
        return -ERANGE;
    }
    return 0;
}

/* hv_virtio_fail on any thread: hv_control_emit hands the event to the main loop. */
static void on_device_error(void *ctx, const char *id, const char *why)
{
    struct hv_machine *m = ctx;
    if (!m->control)
        return;
    JsonObject *data = json_object_new();
    json_object_set_string_member(data, "device", id);
    json_object_set_string_member(data, "message", why);
    JsonNode *node = json_node_init_object(json_node_alloc(), data);
    json_object_unref(data);
    hv_control_emit(m->control, "DEVICE_ERROR", node);
}

static void emit_shutdown(struct hv_machine *m)
{
    if (!m->control)
        return;
    JsonObject *data = json_object_new();
    json_object_set_string_member(data, "reason",
                                  m->shutdown_reason ? m->shutdown_reason : "host-request");
    if (m->shutdown_detail)
        json_object_set_string_member(data, "detail", m->shutdown_detail);
    JsonNode *node = json_node_init_object(json_node_alloc(), data);
    json_object_unref(data);
    /* The loop has stopped: own its context so the line is sent now, not queued for it. */
    g_main_context_acquire(NULL);
    hv_control_emit(m->control, "SHUTDOWN", node);
    g_main_context_release(NULL);
}

/* ---- serial console ---- */

static gboolean retry_serial_input(gpointer opaque)
{
    struct hv_machine *m = opaque;
    if (hv_uart_rx_space(m->uart) == 0)
        return G_SOURCE_CONTINUE;
    m->serial_input_timer = 0;
    m->serial_input_blocked = false;
    hv_chardev_accept_input(m->serial);
    return G_SOURCE_REMOVE;
}

static size_t serial_input(void *opaque, const uint8_t *buf, size_t len)
{
    struct hv_machine *m = opaque;
    size_t taken = hv_uart_receive(m->uart, buf, len);
    /* The guest has not drained its FIFO: look again shortly rather than drop keys. */
    if (taken < len && !m->serial_input_timer) {
        m->serial_input_blocked = true;
        m->serial_input_timer = g_timeout_add(5, retry_serial_input, m);
    }
    return taken;
}

static void serial_quit(void *opaque)
{
    machine_end(opaque, EXIT_OK, "host-request", g_strdup("Ctrl-A X on the serial console"));
}

/*
 * Partial lines (a prompt) leave the UART UART_FLUSH_MS after their first byte. The source
 * sleeps otherwise: a timer that always ran would wake an idle VM 100 times a second.
 */
static gboolean flush_dispatch(GSource *src, GSourceFunc cb, gpointer opaque)
{
    (void)cb;
    struct hv_machine *m = opaque;
    g_source_set_ready_time(src, -1);
    /* Cleared before flushing: a byte that comes after the flush arms the source again. */
    atomic_store(&m->flush_armed, false);
    hv_uart_flush(m->uart);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = {.dispatch = flush_dispatch};

/* The UART's tx_pending, on a vCPU thread: g_source_set_ready_time is thread-safe. */
void hv_machine_uart_pending(void *opaque)
{
    struct hv_machine *m = opaque;
    if (m->flush_source && !atomic_exchange(&m->flush_armed, true))
        g_source_set_ready_time(m->flush_source,
                                g_get_monotonic_time() + UART_FLUSH_MS * G_TIME_SPAN_MILLISECOND);
}

static void stop_flush_source(struct hv_machine *m)
{
    GSource *src = g_steal_pointer(&m->flush_source);
    if (src) {
        g_source_destroy(src);
        g_source_unref(src);
    }
}

static int ctl_set_password(void *opaque, const char *protocol, const char *password,
                            char **err)
{
    struct hv_machine *m = opaque;
    if (!strcmp(protocol, "spice")) {
        if (!m->spice) {
            *err = g_strdup("this VM has no SPICE server (start it with --spice)");
            return -ENODEV;
        }
        return m->spice_mod->set_password(m->spice, password, err);
    }
    if (!strcmp(protocol, "vnc")) {
        if (!m->vnc) {
            *err = g_strdup("this VM has no VNC server (start it with --vnc)");
            return -ENODEV;
        }
        return m->vnc_mod->set_password(m->vnc, password, err);
    }
    *err = g_strdup_printf("this VM has no %s server", protocol);
    return -ENODEV;
}

static const char *sdl_state(void *opaque)
{
    struct hv_machine *m = opaque;
    return state_name(m->state);
}

/* Closing the window: the same power-button press as the powerdown command. */
static void sdl_powerdown(void *opaque)
{
    struct hv_machine *m = opaque;
    if (m->state == HV_STATE_RUNNING)
        ctl_powerdown(m, NULL);
}

/* The display servers: each removes its socket file again when freed. */
static int open_display_servers(struct hv_machine *m, char **err)
{
    if (m->cfg->has_spice) {
        m->spice_mod = hv_spice_module_load("--spice", err);
        if (!m->spice_mod)
            return -EINVAL;
        m->spice = m->spice_mod->create(&m->cfg->spice, m->surface, m->cfg->name, err);
        if (!m->spice)
            return -EINVAL;
        hv_machine_add_display_consumer(m, &(struct hv_display_consumer){
            .name = "spice", .describe = m->spice_mod->describe, .opaque = m->spice});
        m->spice_mod->set_input(m->spice, m->input_sink.key ? &m->input_sink : NULL);
    }
    if (m->cfg->has_vnc) {
        m->vnc_mod = hv_vnc_module_load("--vnc", err);
        if (!m->vnc_mod)
            return -EINVAL;
        m->vnc = m->vnc_mod->create(&m->cfg->vnc, m->surface, &m->input_sink, err);
        if (!m->vnc)
            return -EINVAL;
        hv_machine_add_display_consumer(m, &(struct hv_display_consumer){
            .name = "vnc", .describe = m->vnc_mod->describe, .opaque = m->vnc});
    }
    /* The window last: the sockets above are the likelier bad input. */
    if (m->cfg->display_sdl) {
        m->sdl_mod = hv_sdl_module_load("--display sdl", err);
        if (!m->sdl_mod)
            return -EINVAL;
        struct hv_sdl_ops ops = {.state = sdl_state, .powerdown = sdl_powerdown, .opaque = m};
        m->sdl = m->sdl_mod->create(m->surface, m->cfg->name, &ops, err);
        if (!m->sdl)
            return -EINVAL;
        m->sdl_mod->set_input(m->sdl, m->input_sink.key ? &m->input_sink : NULL);
        hv_machine_add_display_consumer(m, &(struct hv_display_consumer){
            .name = "sdl", .describe = m->sdl_mod->describe, .opaque = m->sdl});
    }
    return 0;
}

static int ctl_send_key(void *opaque, const uint16_t *codes, unsigned n, char **err)
{
    struct hv_machine *m = opaque;
    if (!m->input_sink.key) {
        *err = g_strdup("this VM has no keyboard (it comes with a display: --gpu, --vnc, "
                        "--spice or --display)");
        return -ENODEV;
    }
    for (unsigned i = 0; i < n; i++)
        m->input_sink.key(m->input_sink.opaque, codes[i], true);
    for (unsigned i = n; i-- > 0;)
        m->input_sink.key(m->input_sink.opaque, codes[i], false);
    return 0;
}

/*
 * The files the VM creates, last in hv_machine_init. Sockets first (each is removed again
 * by hv_machine_destroy), then the serial and console files, which are removed here if a
 * later one fails: a VM that does not start leaves nothing behind.
 */
static int open_host_files(struct hv_machine *m, char **err)
{
    GError *error = NULL;
    if (m->cfg->control) {
        m->control_ops = (struct hv_control_ops){
            .state = ctl_state, .vcpus = ctl_vcpus, .pause = ctl_pause,
            .resume = ctl_resume, .quit = ctl_quit, .devices = ctl_devices,
            .stats = ctl_stats, .powerdown = ctl_powerdown, .reset = ctl_reset,
            .balloon_set = ctl_balloon_set, .screendump = hv_machine_screendump,
            .display = hv_machine_query_display, .set_password = ctl_set_password,
            .send_key = ctl_send_key, .opaque = m};
        m->control = hv_control_new(m->cfg->control, &m->control_ops, &error);
        if (!m->control) {
            *err = g_strdup_printf("--control %s", error->message);
            g_error_free(error);
            return -EINVAL;
        }
    }
    if (open_display_servers(m, err) < 0)
        return -EINVAL;
    if (!m->cfg->serial_none) {
        struct hv_chardev_callbacks cb = {.input = serial_input, .quit = serial_quit,
                                          .opaque = m};
        m->serial = hv_chardev_open(&m->cfg->serial, &cb, &error);
        if (!m->serial) {
            *err = g_strdup(error->message);
            g_error_free(error);
            return -EINVAL;
        }
    }
    if (m->console && (*err = hv_virtio_console_open(m->console, &m->cfg->console))) {
        if (m->serial)
            hv_chardev_discard(g_steal_pointer(&m->serial));
        return -EINVAL;
    }
    return 0;
}

void hv_machine_add_device(struct hv_machine *m, const struct hv_device_ops *ops, void *impl,
                           const char *id)
{
    struct hv_device *d = g_new0(struct hv_device, 1);
    d->ops = ops;
    d->impl = impl;
    d->id = g_strdup(id);
    g_ptr_array_add(m->devices, d);
    struct hv_virtio_dev *vdev = ops->virtio ? ops->virtio(impl) : NULL;
    if (vdev) {
        vdev->on_error = on_device_error;
        vdev->on_error_ctx = m;
        vdev->on_error_id = d->id;
    }
}

static gboolean on_signal(gpointer opaque);

int hv_machine_init(struct hv_machine *m, const struct hv_config *cfg, char **err)
{
    memset(m, 0, sizeof(*m));
    m->cfg = cfg;
    m->host.kvm_fd = -1;
    m->vm.fd = -1;
    m->vm.event_fd = -1;
    m->devices = g_ptr_array_new();
    m->display_consumers = g_array_new(FALSE, TRUE, sizeof(struct hv_display_consumer));
    /* From the start, so that a SIGTERM at any point still removes our sockets. */
    m->signal_sources[0] = g_unix_signal_add(SIGTERM, on_signal, m);
    m->signal_sources[1] = g_unix_signal_add(SIGINT, on_signal, m);
    m->signal_sources[2] = g_unix_signal_add(SIGHUP, on_signal, m);

    /* Bad input first: nothing has been opened or created yet. */
    if (cfg->firmware ? hv_machine_load_firmware(m, err) < 0 : hv_machine_open_kernel(m, err) < 0)
        return EXIT_USAGE;
    if (hv_machine_open_disks(m, err) < 0)
        return EXIT_USAGE;
    if (hv_machine_open_nics(m, err) < 0)
        return EXIT_USAGE;

    if (hv_host_open(&m->host, err) < 0)
        return EXIT_FAILURE_RUNTIME;
    if (cfg->cpus > m->host.max_vcpus) {
        *err = g_strdup_printf("--cpus '%u': this host's KVM supports at most %u vCPUs",
                               cfg->cpus, m->host.max_vcpus);
        return EXIT_USAGE;
    }
    if (hv_cpuid_get_supported(m->host.kvm_fd, &m->cpuid, err) < 0)
        return EXIT_FAILURE_RUNTIME;
    if (hv_vm_init(&m->vm, &m->host, err) < 0)
        return EXIT_FAILURE_RUNTIME;
    m->vm_ready = true;
    m->vm.vcpu_setup = hv_machine_setup_vcpu;
    m->vm.vcpu_setup_opaque = m;
    if (map_memory(m, err) < 0)
        return EXIT_FAILURE_RUNTIME;
    if (cfg->kernel) {
        int r = hv_machine_load_kernel(m, err);
        if (r < 0)
            return r == -ENOSPC || r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
    }
    if (hv_config_wants_display(cfg))
        m->surface = hv_surface_new();
    if (hv_machine_register_devices(m, err) < 0)
        return EXIT_FAILURE_RUNTIME;

    /* Files last, so a failure above leaves nothing behind. */
    if (open_host_files(m, err) < 0)
        return EXIT_USAGE;
    /* Only now, so that bad input still gets exactly one line. */
    if (cfg->kernel && m->host.emulation_only)
        fprintf(stderr, "vmdesk-vmm: warning: this host's KVM has no hardware virtualization "
                        "(PVM, or no vmx/svm): the guest runs under instruction emulation, "
                        "far slower than native\n");
    return 0;
}

/* ---- running ---- */

static int start_vcpus(struct hv_machine *m, char **err)
{
    m->mem.guest_ran = true;
    int r = hv_vcpus_create(&m->vm, m->cfg->cpus, err);
    /* A paused VM that is reset stays paused: its new vCPUs park before their first run. */
    if (r == 0 && m->state == HV_STATE_PAUSED)
        atomic_store(&m->vm.pause_req, true);
    if (r == 0)
        r = hv_vcpus_start(&m->vm, err);
    return r;
}

/* A guest reset: a fresh KVM VM and vCPUs over the same RAM, the boot files reloaded. */
static int reset_machine(struct hv_machine *m, char **err)
{
    int r = hv_vm_recreate(&m->vm, err);
    if (r < 0)
        return r;
    hv_uart_free(m->uart);
    m->uart = NULL;
    if ((r = hv_machine_create_uart(m)) < 0) {
        *err = g_strdup("out of memory");
        return r;
    }
    hv_acpi_pm_reset(&m->pm);
    for (unsigned i = 0; i < m->devices->len; i++) {
        struct hv_device *d = m->devices->pdata[i];
        if (d->ops->reset)
            d->ops->reset(d->impl);
    }
    if (m->cfg->kernel && (r = hv_machine_load_kernel(m, err)) < 0)
        return r;
    m->resets++;
    return start_vcpus(m, err);
}

/* The guest's reset, or the host's (`reset` command); a failure ends the VMM. */
static int machine_reset(struct hv_machine *m, const char *reason, char **err)
{
    char *why = NULL;
    hv_uart_flush(m->uart);
    int r = reset_machine(m, &why);
    if (r < 0) {
        fprintf(stderr, "vmdesk-vmm: reset failed: %s\n", why);
        if (err)
            *err = g_strdup(why);
        machine_end(m, EXIT_FAILURE_RUNTIME, "crash", g_strdup_printf("reset failed: %s", why));
        g_free(why);
        return r;
    }
    if (m->control) {
        JsonObject *data = json_object_new();
        json_object_set_string_member(data, "reason", reason);
        JsonNode *node = json_node_init_object(json_node_alloc(), data);
        json_object_unref(data);
        hv_control_emit(m->control, "RESET", node);
    }
    return 0;
}

static gboolean on_request(gint fd, GIOCondition cond, gpointer opaque)
{
    struct hv_machine *m = opaque;
    (void)fd;
    (void)cond;
    int req = atomic_load(&m->vm.request);

    switch (req) {
    case HV_REQ_NONE:
        hv_vm_clear_request(&m->vm);
        break;
    case HV_REQ_POWEROFF:
        machine_end(m, EXIT_OK, "guest-poweroff", NULL);
        break;
    case HV_REQ_RESET:
        if (m->cfg->no_reboot) {
            machine_end(m, EXIT_OK, "guest-reset", g_strdup("--no-reboot"));
            break;
        }
        machine_reset(m, "guest", NULL);
        break;
    case HV_REQ_CRASH:
        fprintf(stderr, "vmdesk-vmm: %s\n", m->vm.crash_msg ? m->vm.crash_msg : "guest crashed");
        machine_end(m, EXIT_FAILURE_RUNTIME, "crash",
                    g_strdup(m->vm.crash_msg ? m->vm.crash_msg : "guest crashed"));
        break;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer opaque)
{
    struct hv_machine *m = opaque;
    m->quit_requested = true;
    machine_end(m, EXIT_OK, "host-request", g_strdup("signal"));
    return G_SOURCE_CONTINUE;
}

int hv_machine_run(struct hv_machine *m)
{
    char *err = NULL;
    m->loop = g_main_loop_new(NULL, FALSE);
    guint req_watch = g_unix_fd_add(m->vm.event_fd, G_IO_IN, on_request, m);
    GSource *flush = g_source_new(&flush_funcs, sizeof(GSource));
    g_source_set_callback(flush, NULL, m, NULL);
    g_source_set_ready_time(flush, -1);
    g_source_attach(flush, NULL);
    m->flush_source = flush;
    m->state = HV_STATE_RUNNING;
    m->exit_status = EXIT_OK;

    /* A signal that came during set-up was dispatched by nothing yet: look now. */
    g_main_context_iteration(NULL, FALSE);
    if (m->quit_requested) {
        emit_shutdown(m);
        g_main_loop_unref(m->loop);
        m->loop = NULL;
        g_source_remove(req_watch);
        stop_flush_source(m);
        return EXIT_OK;
    }
    if (start_vcpus(m, &err) < 0) {
        fprintf(stderr, "vmdesk-vmm: %s\n", err);
        machine_end(m, EXIT_FAILURE_RUNTIME, "crash", err);
    } else {
        g_main_loop_run(m->loop);
    }
    emit_shutdown(m);

    hv_vcpus_destroy(&m->vm);
    stop_flush_source(m);
    hv_uart_flush(m->uart);
    g_source_remove(req_watch);
    if (m->serial_input_timer)
        g_source_remove(m->serial_input_timer);
    m->serial_input_timer = 0;
    g_main_loop_unref(m->loop);
    m->loop = NULL;
    return m->exit_status;
}

void hv_machine_destroy(struct hv_machine *m)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(m->signal_sources); i++)
        if (m->signal_sources[i])
            g_source_remove(m->signal_sources[i]);
    if (m->vm_ready)
        hv_vcpus_destroy(&m->vm);
    if (m->control)
        hv_control_free(m->control);
    m->control = NULL;
    /* The servers before the surface and its device, and before the input devices. */
    if (m->spice)
        m->spice_mod->destroy(m->spice);
    if (m->sdl)
        m->sdl_mod->destroy(m->sdl);
    if (m->vnc)
        m->vnc_mod->destroy(m->vnc);
    m->spice = NULL;
    m->sdl = NULL;
    m->vnc = NULL;
    if (m->serial)
        hv_chardev_close(m->serial);
    m->serial = NULL;
    if (m->uart)
        hv_uart_free(m->uart);
    m->uart = NULL;
    for (unsigned i = m->devices ? m->devices->len : 0; i-- > 0;) {
        struct hv_device *d = m->devices->pdata[i];
        if (d->ops->destroy)
            d->ops->destroy(d->impl);
        g_free(d->id);
        g_free(d);
    }
    if (m->devices)
        g_ptr_array_free(m->devices, TRUE);
    m->devices = NULL;
    /* After the devices that draw into it and the consumers that read it. */
    g_clear_pointer(&m->surface, hv_surface_free);
    if (m->display_consumers)
        g_array_free(m->display_consumers, TRUE);
    m->display_consumers = NULL;
    for (unsigned i = 0; i < HV_MAX_DISKS; i++)
        hv_raw_close(g_steal_pointer(&m->disk_images[i]));
    for (unsigned i = 0; i < HV_MAX_NICS; i++)
        hv_net_backend_free(g_steal_pointer(&m->nic_backends[i]));
    if (m->pci_ready)
        hv_pci_destroy(&m->pci);
    m->pci_ready = false;
    if (m->vm_ready)
        hv_vm_destroy(&m->vm);
    m->vm_ready = false;
    hv_memory_free(&m->mem);
    hv_cpuid_free(&m->cpuid);
    hv_host_close(&m->host);
    if (m->kernel_file)
        g_mapped_file_unref(m->kernel_file);
    if (m->initrd_file)
        g_mapped_file_unref(m->initrd_file);
    if (m->vmlinux_file)
        g_mapped_file_unref(m->vmlinux_file);
    m->vmlinux_file = NULL;
    if (m->firmware)
        munmap(m->firmware, m->firmware_size);
    m->kernel_file = m->initrd_file = NULL;
    m->firmware = NULL;
    g_clear_pointer(&m->shutdown_detail, g_free);
}
