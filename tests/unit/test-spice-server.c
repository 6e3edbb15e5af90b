/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SPICE server in-process, against spice-client-glib: a client's monitors config. */
#include <glib/gstdio.h>
#include <spice-client.h>
#include <spice/vd_agent.h>
#include <string.h>

#include "display/spice.h"

/*
 * A SPICE client sends its window's size as the guest agent's monitors config, and only
 * while an agent is attached: each test attaches one (a port that keeps what the server
 * writes to the guest) and connects spice-client-glib, both on this thread's main loop.
 * With a device that follows requested sizes the server hands the config to the display
 * (and the surface gets the size); without one it goes on to the agent.
 */

#define W 64
#define H 48

struct fixture {
    char *dir;
    char *path;
    struct hv_surface *surface;
    uint32_t *pixels;
    struct hv_spice *spice;
    GByteArray *agent;   /* bytes the server wrote to the agent's port */
    GString *resizes;    /* sizes the "device" was asked for: "WxH " */
    SpiceSession *session;
    SpiceMainChannel *main_channel;
};

static int agent_write(void *opaque, const uint8_t *buf, int len)
{
    struct fixture *f = opaque;
    g_byte_array_append(f->agent, buf, (guint)len);
    return len;
}

static void follow_size(void *opaque, uint32_t w, uint32_t h)
{
    struct fixture *f = opaque;
    g_string_append_printf(f->resizes, "%ux%u ", w, h);
}

static void on_channel_new(SpiceSession *s, SpiceChannel *ch, gpointer data)
{
    struct fixture *f = data;
    (void)s;
    if (SPICE_IS_MAIN_CHANNEL(ch))
        f->main_channel = SPICE_MAIN_CHANNEL(ch);
}

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    GError *error = NULL;
    f->dir = g_dir_make_tmp("vmdesk-spice-XXXXXX", &error);
    g_assert_no_error(error);
    f->path = g_build_filename(f->dir, "spice.sock", NULL);
    f->agent = g_byte_array_new();
    f->resizes = g_string_new(NULL);
    f->surface = hv_surface_new();
    f->pixels = g_new0(uint32_t, W * H);
    hv_surface_set_mode(f->surface, W, H, W * 4, (uint8_t *)f->pixels);
    if (data) /* "follow": a device that takes requested sizes, as virtio-gpu does */
        hv_surface_set_resize_handler(f->surface, follow_size, f);

    struct hv_spice_spec spec;
    char *err = NULL;
    g_autofree char *text = g_strdup_printf("unix:%s,ticketing=off", f->path);
    g_assert_cmpint(hv_spice_spec_parse(text, &spec, &err), ==, 0);
    f->spice = hv_spice_new(&spec, f->surface, "resize-test", &err);
    if (!f->spice)
        g_error("hv_spice_new: %s", err);
    hv_spice_spec_clear(&spec);
    struct hv_spice_agent_port port = {.write = agent_write, .opaque = f};
    g_assert_cmpint(hv_spice_agent_attach(f->spice, &port), ==, 0);

    f->session = spice_session_new();
    g_autofree char *uri = g_strdup_printf("spice+unix://%s", f->path);
    g_object_set(f->session, "uri", uri, NULL);
    g_signal_connect(f->session, "channel-new", G_CALLBACK(on_channel_new), f);
    g_assert_true(spice_session_connect(f->session));
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    spice_session_disconnect(f->session);
    /* Lets the channels' coroutines see the disconnection before they go. */
    gint64 end = g_get_monotonic_time() + G_USEC_PER_SEC / 2;
    while (g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE);
    g_object_unref(f->session);
    hv_spice_free(f->spice);
    g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
    hv_surface_set_resize_handler(f->surface, NULL, NULL);
    hv_surface_free(f->surface);
    g_free(f->pixels);
    g_byte_array_unref(f->agent);
    g_string_free(f->resizes, TRUE);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

/*
 * The agent messages among the bytes the server wrote to the agent's port (chunks with a
 * VDIChunkHeader, carrying VDAgentMessages), as text: "TYPE " each, and "mc:WxH " for a
 * monitors config's first monitor.
 */
static char *agent_messages(const GByteArray *raw)
{
    g_autoptr(GByteArray) data = g_byte_array_new();
    for (guint at = 0; at + sizeof(VDIChunkHeader) <= raw->len;) {
        VDIChunkHeader chunk;
        memcpy(&chunk, raw->data + at, sizeof(chunk));
        at += sizeof(chunk);
        guint n = MIN(chunk.size, raw->len - at);
        if (chunk.port == VDP_CLIENT_PORT)
            g_byte_array_append(data, raw->data + at, n);
        at += n;
    }
    GString *out = g_string_new(NULL);
    for (guint at = 0; at + sizeof(VDAgentMessage) <= data->len;) {
        VDAgentMessage msg;
        memcpy(&msg, data->data + at, sizeof(msg));
        at += sizeof(msg);
        if (msg.size > data->len - at)
            break; /* the rest is still on its way */
        g_string_append_printf(out, "%u ", msg.type);
        if (msg.type == VD_AGENT_MONITORS_CONFIG &&
            msg.size >= sizeof(VDAgentMonitorsConfig) + sizeof(VDAgentMonConfig)) {
            VDAgentMonConfig mon;
            memcpy(&mon, data->data + at + sizeof(VDAgentMonitorsConfig), sizeof(mon));
            g_string_append_printf(out, "mc:%ux%u ", mon.width, mon.height);
        }
        at += msg.size;
    }
    return g_string_free(out, FALSE);
}

static bool agent_has(struct fixture *f, const char *what)
{
    g_autofree char *msgs = agent_messages(f->agent);
    return strstr(msgs, what) != NULL;
}

/* Runs the main loop until `done` says so, or 10 s passed. */
static bool run_until(struct fixture *f, bool (*done)(struct fixture *f, const void *arg),
                      const void *arg)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!done(f, arg)) {
        if (g_get_monotonic_time() > end)
            return false;
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    return true;
}

/* The client sees the agent and has told it its capabilities: the agent path is live. */
static bool agent_ready(struct fixture *f, const void *arg)
{
    (void)arg;
    gboolean connected = FALSE;
    if (f->main_channel)
        g_object_get(f->main_channel, "agent-connected", &connected, NULL);
    g_autofree char *what = g_strdup_printf("%u ", VD_AGENT_ANNOUNCE_CAPABILITIES);
    return connected && agent_has(f, what);
}

static bool resizes_are(struct fixture *f, const void *arg)
{
    return !strcmp(f->resizes->str, arg);
}

static bool agent_got(struct fixture *f, const void *arg)
{
    return agent_has(f, arg);
}

static void send_size(struct fixture *f, int w, int h)
{
    spice_main_channel_update_display_enabled(f->main_channel, 0, TRUE, FALSE);
    spice_main_channel_update_display(f->main_channel, 0, 0, 0, w, h, FALSE);
    g_assert_true(spice_main_channel_send_monitor_config(f->main_channel));
}

/* virtio-gpu: the server gives the display the client's size; the agent never sees it. */
static void test_follow(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_true(run_until(f, agent_ready, NULL));
    send_size(f, 1024, 768);
    if (!run_until(f, resizes_are, "1024x768 "))
        g_error("the device was asked for '%s'", f->resizes->str);
    /* Too big for any device: dropped; the next one is taken. */
    send_size(f, HV_SURFACE_MAX_WIDTH + 1, 768);
    send_size(f, 800, 600);
    if (!run_until(f, resizes_are, "1024x768 800x600 "))
        g_error("the device was asked for '%s'", f->resizes->str);
    uint32_t w, h;
    g_assert_true(hv_surface_requested_size(f->surface, &w, &h));
    g_assert_cmpuint(w, ==, 800);
    g_assert_cmpuint(h, ==, 600);
    g_autofree char *what = g_strdup_printf("%u ", VD_AGENT_MONITORS_CONFIG);
    g_assert_false(agent_has(f, what));
}

/* bochs-display: nothing follows, so the monitors config goes on to the guest's agent. */
static void test_to_agent(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_true(run_until(f, agent_ready, NULL));
    send_size(f, 1024, 768);
    if (!run_until(f, agent_got, "mc:1024x768 ")) {
        g_autofree char *msgs = agent_messages(f->agent);
        g_error("the agent got '%s'", msgs);
    }
    uint32_t w, h;
    g_assert_false(hv_surface_requested_size(f->surface, &w, &h));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/spice-server/resize/follow", struct fixture, "follow", setup, test_follow,
               teardown);
    g_test_add("/spice-server/resize/to-agent", struct fixture, NULL, setup, test_to_agent,
               teardown);
    return g_test_run();
}
