/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SPICE server (libspice-server): the guest's screen, keyboard and tablet for clients. */
#include "display/spice.h"
#include "display/module.h"

#include <errno.h>
#include <stddef.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "display/keymap-xt.h"
#include "display/spice-private.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Bytes from the guest's agent waiting for the server to read them. */
#define AGENT_BUFFER_MAX (1u << 20)

struct hv_spice {
    struct hv_endpoint ep;
    bool no_ticketing;
    bool password_set;
    int listen_fd;
    guint listen_watch;
    uint16_t port;
    dev_t dev;
    ino_t ino;
    SpiceServer *server;
    struct hv_surface *surface;
    struct hv_spice_display *display;

    struct hv_input_sink sink;
    bool has_sink;
    SpiceKbdInstance kbd;
    struct hv_xt_decoder xt;
    SpiceTabletInstance tablet;
    uint32_t logical_w, logical_h;
    int last_x, last_y;
    uint32_t buttons;

    SpiceCharDeviceInstance agent;
    struct hv_spice_agent_port agent_port;
    bool agent_attached;
    GByteArray *agent_in; /* guest -> clients */

    unsigned clients;
    uint64_t connections, refused;
};

/* ---- inputs ---- */

static void kbd_push(SpiceKbdInstance *sin, uint8_t byte)
{
    struct hv_spice *s = container_of(sin, struct hv_spice, kbd);
    uint16_t code;
    bool down;
    if (hv_xt_decode(&s->xt, byte, &code, &down) && s->has_sink)
        s->sink.key(s->sink.opaque, code, down);
}

static uint8_t kbd_leds(SpiceKbdInstance *sin)
{
    (void)sin;
    return 0; /* the guest's LED state does not reach us (yet) */
}

static const SpiceKbdInterface kbd_interface = {
    .base = {
        .type = SPICE_INTERFACE_KEYBOARD,
        .description = "vmdesk keyboard",
        .major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
        .minor_version = SPICE_INTERFACE_KEYBOARD_MINOR,
    },
    .push_scan_freg = kbd_push,
    .get_leds = kbd_leds,
};

/* SPICE's button masks (left 1, middle 2, right 4) are ours. */
static void send_pointer(struct hv_spice *s, uint32_t extra)
{
    if (!s->has_sink)
        return;
    uint32_t w = s->logical_w, h = s->logical_h;
    if (!w || !h) {
        uint32_t stride;
        const uint8_t *data;
        hv_surface_lock(s->surface, &w, &h, &stride, &data);
        hv_surface_unlock(s->surface);
        if (!w || !h)
            return;
    }
    uint32_t x = (uint32_t)CLAMP(s->last_x, 0, (int)w - 1);
    uint32_t y = (uint32_t)CLAMP(s->last_y, 0, (int)h - 1);
    s->sink.pointer(s->sink.opaque, x, y, w, h, s->buttons | extra);
}

static void tablet_set_logical_size(SpiceTabletInstance *sin, int width, int height)
{
    struct hv_spice *s = container_of(sin, struct hv_spice, tablet);
    s->logical_w = width > 0 ? (uint32_t)width : 0;
    s->logical_h = height > 0 ? (uint32_t)height : 0;
}

static void tablet_position(SpiceTabletInstance *sin, int x, int y, uint32_t buttons)
{
    struct hv_spice *s = container_of(sin, struct hv_spice, tablet);
    s->last_x = x;
    s->last_y = y;
    s->buttons = buttons & (HV_BUTTON_LEFT | HV_BUTTON_MIDDLE | HV_BUTTON_RIGHT);
    send_pointer(s, 0);
}

static void tablet_wheel(SpiceTabletInstance *sin, int motion, uint32_t buttons)
{
    struct hv_spice *s = container_of(sin, struct hv_spice, tablet);
    s->buttons = buttons & (HV_BUTTON_LEFT | HV_BUTTON_MIDDLE | HV_BUTTON_RIGHT);
    /* A wheel step is a press and release of its button; negative is up. */
    uint32_t wheel = motion < 0 ? HV_BUTTON_WHEEL_UP : HV_BUTTON_WHEEL_DOWN;
    for (int i = 0; i < ABS(motion) && i < 16; i++) {
        send_pointer(s, wheel);
        send_pointer(s, 0);
    }
}

static void tablet_buttons(SpiceTabletInstance *sin, uint32_t buttons)
{
    struct hv_spice *s = container_of(sin, struct hv_spice, tablet);
    s->buttons = buttons & (HV_BUTTON_LEFT | HV_BUTTON_MIDDLE | HV_BUTTON_RIGHT);
    send_pointer(s, 0);
}

static const SpiceTabletInterface tablet_interface = {
    .base = {
        .type = SPICE_INTERFACE_TABLET,
        .description = "vmdesk tablet",
        .major_version = SPICE_INTERFACE_TABLET_MAJOR,
        .minor_version = SPICE_INTERFACE_TABLET_MINOR,
    },
    .set_logical_size = tablet_set_logical_size,
    .position = tablet_position,
    .wheel = tablet_wheel,
    .buttons = tablet_buttons,
};

void hv_spice_set_input(struct hv_spice *s, const struct hv_input_sink *sink)
{
    s->has_sink = sink != NULL;
    if (sink)
        s->sink = *sink;
}

/* ---- the agent's char device ---- */

static int agent_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    struct hv_spice *s = container_of(sin, struct hv_spice, agent);
    if (!s->agent_attached || !s->agent_port.write)
        return len; /* nobody on the guest side: drop, as a closed port does */
    return s->agent_port.write(s->agent_port.opaque, buf, len);
}

static int agent_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    struct hv_spice *s = container_of(sin, struct hv_spice, agent);
    guint n = MIN((guint)MAX(len, 0), s->agent_in->len);
    if (n == 0)
        return 0; /* nothing waiting (and an empty array's data may be NULL) */
    memcpy(buf, s->agent_in->data, n);
    g_byte_array_remove_range(s->agent_in, 0, n);
    return (int)n;
}

static void agent_state(SpiceCharDeviceInstance *sin, int connected)
{
    (void)sin;
    (void)connected;
}

static const SpiceCharDeviceInterface agent_interface = {
    .base = {
        .type = SPICE_INTERFACE_CHAR_DEVICE,
        .description = "vmdesk vdagent",
        .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
        .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR,
    },
    .state = agent_state,
    .write = agent_write,
    .read = agent_read,
};

int hv_spice_agent_attach(struct hv_spice *s, const struct hv_spice_agent_port *port)
{
    if (s->agent_attached)
        return -EBUSY;
    s->agent_port = *port;
    g_byte_array_set_size(s->agent_in, 0);
    if (spice_server_add_interface(s->server, &s->agent.base) != 0)
        return -EIO;
    s->agent_attached = true;
    return 0;
}

void hv_spice_agent_detach(struct hv_spice *s)
{
    if (!s->agent_attached)
        return;
    spice_server_remove_interface(&s->agent.base);
    s->agent_attached = false;
    memset(&s->agent_port, 0, sizeof(s->agent_port));
}

int hv_spice_agent_receive(struct hv_spice *s, const uint8_t *buf, size_t len)
{
    if (!s->agent_attached)
        return 0;
    if (s->agent_in->len + len > AGENT_BUFFER_MAX)
        return -ENOSPC;
    g_byte_array_append(s->agent_in, buf, (guint)len);
    spice_server_char_device_wakeup(&s->agent);
    return 0;
}

void hv_spice_agent_wakeup(struct hv_spice *s)
{
    if (s->agent_attached)
        spice_server_char_device_wakeup(&s->agent);
}

/* ---- connections ---- */

static void on_channel_event(void *opaque, int event, int type)
{
    struct hv_spice *s = opaque;
    if (type != SPICE_CHANNEL_MAIN)
        return;
    if (event == SPICE_CHANNEL_EVENT_CONNECTED)
        s->clients++;
    else if (event == SPICE_CHANNEL_EVENT_DISCONNECTED && s->clients)
        s->clients--;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer opaque)
{
    struct hv_spice *s = opaque;
    (void)cond;
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0)
        return G_SOURCE_CONTINUE; /* EAGAIN, or out of fds: the next poll tries again */
    s->connections++;
    /* The server authenticates it (the ticket) like a client of its own listener. */
    if (spice_server_add_client(s->server, c, 0) != 0) {
        s->refused++;
        close(c);
    }
    return G_SOURCE_CONTINUE;
}

int hv_spice_set_password(struct hv_spice *s, const char *password, char **err)
{
    if (s->no_ticketing) {
        *err = g_strdup("SPICE ticketing is off (--spice ...,ticketing=off): there is no "
                        "password to set");
        return -EINVAL;
    }
    /* Lifetime 0: no expiry; clients already in stay connected. */
    if (spice_server_set_ticket(s->server, password, 0, 0, 0) != 0) {
        *err = g_strdup("libspice-server refused the ticket");
        return -EINVAL;
    }
    s->password_set = *password != '\0';
    return 0;
}

void hv_spice_describe(void *opaque, JsonBuilder *b)
{
    struct hv_spice *s = opaque;
    json_builder_set_member_name(b, "address");
    if (s->ep.kind == HV_ENDPOINT_UNIX) {
        g_autofree char *a = g_strdup_printf("unix:%s", s->ep.path);
        json_builder_add_string_value(b, a);
    } else {
        bool v6 = strchr(s->ep.host, ':') != NULL;
        g_autofree char *a = g_strdup_printf(v6 ? "[%s]:%u" : "%s:%u", s->ep.host, s->port);
        json_builder_add_string_value(b, a);
        json_builder_set_member_name(b, "port");
        json_builder_add_int_value(b, s->port);
    }
    json_builder_set_member_name(b, "ticketing");
    json_builder_add_boolean_value(b, !s->no_ticketing);
    json_builder_set_member_name(b, "password-set");
    json_builder_add_boolean_value(b, s->password_set);
    json_builder_set_member_name(b, "clients");
    json_builder_add_int_value(b, s->clients);
    json_builder_set_member_name(b, "updates");
    json_builder_add_int_value(b, (gint64)hv_spice_display_updates(s->display));
    json_builder_set_member_name(b, "agent");
    json_builder_add_boolean_value(b, s->agent_attached);
}

struct hv_spice *hv_spice_new(const struct hv_spice_spec *spec, struct hv_surface *surface,
                              const char *name, char **err)
{
    struct hv_spice *s = g_new0(struct hv_spice, 1);
    s->listen_fd = -1;
    s->ep.kind = spec->ep.kind;
    s->ep.path = g_strdup(spec->ep.path);
    s->ep.host = g_strdup(spec->ep.host);
    s->ep.port = spec->ep.port;
    s->no_ticketing = spec->no_ticketing;
    s->surface = surface;
    s->agent_in = g_byte_array_new();

    int fd = hv_endpoint_listen("--spice", &s->ep, &s->port, &s->dev, &s->ino, err);
    if (fd < 0)
        goto fail;
    s->listen_fd = fd;

    s->server = spice_server_new();
    if (!s->server) {
        *err = g_strdup("--spice: libspice-server could not start");
        goto fail;
    }
    /* Lossless: a local client has bandwidth to spare, and compression costs us the frame
       rate; over TCP the usual dictionary compression pays for itself. */
    spice_server_set_image_compression(s->server, s->ep.kind == HV_ENDPOINT_UNIX
                                                      ? SPICE_IMAGE_COMPRESSION_OFF
                                                      : SPICE_IMAGE_COMPRESSION_AUTO_GLZ);
    spice_server_set_streaming_video(s->server, SPICE_STREAM_VIDEO_OFF);
    spice_server_set_jpeg_compression(s->server, SPICE_WAN_COMPRESSION_NEVER);
    spice_server_set_zlib_glz_compression(s->server, SPICE_WAN_COMPRESSION_NEVER);
    spice_server_set_playback_compression(s->server, 0);
    if (s->no_ticketing)
        spice_server_set_noauth(s->server);
    if (name)
        spice_server_set_name(s->server, name);

    if (spice_server_init(s->server, hv_spice_core_get(g_main_context_get_thread_default() ?
                                                           g_main_context_get_thread_default() :
                                                           g_main_context_default(),
                                                       on_channel_event, s)) != 0) {
        *err = g_strdup("--spice: libspice-server failed to initialise");
        goto fail;
    }
    s->kbd.base.sif = &kbd_interface.base;
    s->tablet.base.sif = &tablet_interface.base;
    s->agent.base.sif = &agent_interface.base;
    s->agent.subtype = "vdagent";
    s->display = hv_spice_display_new(surface);
    if (spice_server_add_interface(s->server, &s->kbd.base) != 0 ||
        spice_server_add_interface(s->server, &s->tablet.base) != 0 ||
        spice_server_add_interface(s->server, hv_spice_display_instance(s->display)) != 0) {
        *err = g_strdup("--spice: libspice-server refused an interface");
        goto fail;
    }
    spice_server_vm_start(s->server);
    hv_spice_display_attach(s->display);
    s->listen_watch = g_unix_fd_add(s->listen_fd, G_IO_IN, on_accept, s);
    return s;

fail:
    hv_spice_free(s);
    return NULL;
}

void hv_spice_free(struct hv_spice *s)
{
    if (!s)
        return;
    if (s->listen_watch)
        g_source_remove(s->listen_watch);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        hv_endpoint_unlink(&s->ep, s->dev, s->ino);
    }
    if (s->display)
        hv_spice_display_detach(s->display);
    hv_spice_agent_detach(s);
    /* spice_server_destroy() leaves the tablet's state to whoever removes it; the
       keyboard cannot be removed in libspice-server 0.15, which never frees its state
       (tests/kvm/lsan-spice.supp). */
    if (s->tablet.st)
        spice_server_remove_interface(&s->tablet.base);
    if (s->server) {
        spice_server_vm_stop(s->server);
        spice_server_destroy(s->server); /* joins the worker thread */
        hv_spice_core_put();
    }
    hv_spice_display_free(s->display);
    g_byte_array_unref(s->agent_in);
    hv_endpoint_clear(&s->ep);
    g_free(s);
}

/* What vmdesk-vmm calls (display/module.h). */
const struct hv_spice_module hv_module_spice = {
    .header = HV_MODULE_HEADER(struct hv_spice_module),
    .create = hv_spice_new,
    .destroy = hv_spice_free,
    .set_input = hv_spice_set_input,
    .set_password = hv_spice_set_password,
    .describe = hv_spice_describe,
};
