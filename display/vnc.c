/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The VNC server (libvncserver): the guest's surface out, keys and the pointer in. */
#include "display/vnc.h"
#include "display/module.h"

#include <errno.h>
#include <glib-unix.h>
#include <poll.h>
#include <pthread.h>
#include <rfb/rfb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "display/keymap-xt.h"
#include "display/vnc-keys.h"

#define MAX_DAMAGE 16
#define MAX_CLIENTS 16
/* How long one read or write may wait for a client before it is dropped. */
#define CLIENT_WAIT_MS 2000
#define INPUT_QUEUE_MAX 4096
/* The size shown before the guest sets a mode. */
#define BLANK_WIDTH 640
#define BLANK_HEIGHT 480
/*
 * ExtendedDesktopSize's status "request forwarded (might complete asynchronously)": the
 * RFB spec's answer for a VMM, which can only pass the size on to the guest. libvncserver
 * 0.9.14 has no name for it.
 */
#define RESIZE_FORWARDED 4

struct input_item {
    bool pointer;
    bool down;
    uint16_t code;
    uint32_t x, y, w, h, buttons;
};

struct hv_vnc {
    struct hv_endpoint ep;
    bool password_required;
    enum hv_keymap_layout keymap;
    int listen_fd;
    dev_t dev;
    ino_t ino;
    uint16_t port;
    char *address; /* as query-display shows it */

    struct hv_surface *surface;
    unsigned listener;
    bool has_listener;
    struct hv_input_sink sink;
    GSource *input_src;
    int input_fd; /* the VNC thread -> main loop: input waits */
    int wake_fd;  /* main loop -> VNC thread: damage, mode, quit */
    pthread_t thread;
    bool thread_started;

    /* The VNC thread's own. */
    rfbScreenInfoPtr screen;
    uint8_t *shadow;
    uint32_t width, height;
    struct hv_vnc_keys keys;

    pthread_mutex_t lock; /* guards what follows */
    bool quit;
    bool mode_pending;
    struct hv_rect damage[MAX_DAMAGE];
    unsigned n_damage;
    char password[9];
    bool password_set;
    GArray *input; /* struct input_item */
    bool input_dropped_logged;
    bool resize_pending; /* a client's SetDesktopSize, for the main loop */
    uint32_t resize_width, resize_height;
    unsigned clients;
};

/* ---- input: VNC thread -> main loop ---- */

static void queue_input(struct hv_vnc *v, const struct input_item *it)
{
    bool first;
    pthread_mutex_lock(&v->lock);
    if (v->input->len >= INPUT_QUEUE_MAX) {
        if (!v->input_dropped_logged)
            g_warning("vnc: the main loop takes no input; dropping events");
        v->input_dropped_logged = true;
        pthread_mutex_unlock(&v->lock);
        return;
    }
    first = v->input->len == 0;
    g_array_append_val(v->input, *it);
    pthread_mutex_unlock(&v->lock);
    if (first) {
        uint64_t one = 1;
        if (write(v->input_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            g_debug("vnc: input wake-up: %s", g_strerror(errno));
    }
}

/* Only the latest size counts: a viewer being dragged wider sends one after another. */
static void queue_resize(struct hv_vnc *v, uint32_t width, uint32_t height)
{
    pthread_mutex_lock(&v->lock);
    v->resize_pending = true;
    v->resize_width = width;
    v->resize_height = height;
    pthread_mutex_unlock(&v->lock);
    uint64_t one = 1;
    if (write(v->input_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        g_debug("vnc: resize wake-up: %s", g_strerror(errno));
}

static gboolean deliver_input(gint fd, GIOCondition cond, gpointer opaque)
{
    struct hv_vnc *v = opaque;
    uint64_t n;
    (void)cond;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return G_SOURCE_CONTINUE;
    pthread_mutex_lock(&v->lock);
    GArray *items = v->input;
    v->input = g_array_new(FALSE, FALSE, sizeof(struct input_item));
    v->input_dropped_logged = false;
    bool resize = v->resize_pending;
    uint32_t rw = v->resize_width, rh = v->resize_height;
    v->resize_pending = false;
    pthread_mutex_unlock(&v->lock);
    /* The surface is the main loop's: a device that follows tells the guest from here. */
    if (resize)
        hv_surface_request_size(v->surface, rw, rh);
    for (guint i = 0; i < items->len; i++) {
        const struct input_item *it = &g_array_index(items, struct input_item, i);
        if (it->pointer && v->sink.pointer)
            v->sink.pointer(v->sink.opaque, it->x, it->y, it->w, it->h, it->buttons);
        else if (!it->pointer && v->sink.key)
            v->sink.key(v->sink.opaque, it->code, it->down);
    }
    g_array_free(items, TRUE);
    return G_SOURCE_CONTINUE;
}

static void emit_key(void *opaque, uint16_t code, bool down)
{
    struct input_item it = {.pointer = false, .down = down, .code = code};
    queue_input(opaque, &it);
}

/* ---- libvncserver hooks (VNC thread) ---- */

static struct hv_vnc *server_of(rfbClientPtr cl)
{
    return cl->screen->screenData;
}

static void on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
    struct hv_vnc *v = server_of(cl);
    if (!hv_vnc_keys_keysym(&v->keys, (uint32_t)keysym, down, emit_key, v))
        g_debug("vnc: keysym 0x%x has no key on the %s layout", (unsigned)keysym,
                hv_keymap_name(v->keymap));
}

static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
    struct hv_vnc *v = server_of(cl);
    struct input_item it = {
        .pointer = true,
        .x = x < 0 ? 0 : (uint32_t)x,
        .y = y < 0 ? 0 : (uint32_t)y,
        .w = v->width,
        .h = v->height,
        .buttons = (uint32_t)mask & 0x1f,
    };
    queue_input(v, &it);
}

static void on_client_gone(rfbClientPtr cl)
{
    struct hv_vnc *v = server_of(cl);
    /* Keys held by a client that vanished would stay down in the guest. */
    hv_vnc_keys_release_all(&v->keys, emit_key, v);
    /* libvncserver 0.9.14 frees neither the records of a client's extensions nor their data
       when it goes: ours has no data, the record is freed here. */
    while (cl->extensions) {
        rfbExtensionData *e = cl->extensions;
        cl->extensions = e->next;
        free(e->data);
        free(e);
    }
    pthread_mutex_lock(&v->lock);
    v->clients--;
    pthread_mutex_unlock(&v->lock);
}

static enum rfbNewClientAction on_new_client(rfbClientPtr cl)
{
    struct hv_vnc *v = server_of(cl);
    cl->clientGoneHook = on_client_gone;
    pthread_mutex_lock(&v->lock);
    v->clients++;
    pthread_mutex_unlock(&v->lock);
    return RFB_CLIENT_ACCEPT;
}

/*
 * SetDesktopSize: the viewer's window size, for the guest to follow. The answer (an
 * ExtendedDesktopSize rectangle with this status, at the current size) goes to the client
 * with its next update. Success is never the answer: whether and when the guest follows is
 * the guest's affair, and its mode change then reaches every client as a resize of its
 * own. Viewers (TigerVNC, noVNC) ask again after a success until the size matches, and
 * stop after anything else, so no status here can make them loop.
 */
static int on_set_desktop_size(int width, int height, int nr_screens,
                               rfbExtDesktopScreen *screens, rfbClientPtr cl)
{
    struct hv_vnc *v = server_of(cl);
    /* One scanout: a layout of several screens is followed as their bounding box. */
    (void)nr_screens;
    (void)screens;
    if (width <= 0 || height <= 0 || width > HV_SURFACE_MAX_WIDTH ||
        height > HV_SURFACE_MAX_HEIGHT) {
        g_debug("vnc: SetDesktopSize %dx%d refused: not 1x1 to %ux%u", width, height,
                HV_SURFACE_MAX_WIDTH, HV_SURFACE_MAX_HEIGHT);
        return rfbExtDesktopSize_InvalidScreenLayout;
    }
    /* Remembered even when no device follows (query-display shows it). */
    queue_resize(v, (uint32_t)width, (uint32_t)height);
    if (!hv_surface_can_resize(v->surface))
        return rfbExtDesktopSize_ResizeProhibited;
    return RESIZE_FORWARDED;
}

/* VNC authentication: the client encrypted our challenge with the password (DES). */
static rfbBool check_password(rfbClientPtr cl, const char *response, int len)
{
    struct hv_vnc *v = server_of(cl);
    char password[9];
    bool set;

    pthread_mutex_lock(&v->lock);
    set = v->password_set;
    memcpy(password, v->password, sizeof(password));
    pthread_mutex_unlock(&v->lock);
    if (!set || len != CHALLENGESIZE)
        return FALSE;
    unsigned char expect[CHALLENGESIZE];
    memcpy(expect, cl->authChallenge, CHALLENGESIZE);
    rfbEncryptBytes(expect, password);
    explicit_bzero(password, sizeof(password));
    unsigned char diff = 0;
    for (unsigned i = 0; i < CHALLENGESIZE; i++)
        diff |= (unsigned char)(expect[i] ^ (unsigned char)response[i]);
    return diff == 0;
}

/* ---- the QEMU Extended Key Event: positions instead of symbols ---- */

static int qemu_key_encodings[] = {(int)rfbEncodingQemuExtendedKeyEvent, 0};

static rfbBool qemu_key_enable(rfbClientPtr cl, void **data, int encoding)
{
    (void)data;
    if (encoding != (int)rfbEncodingQemuExtendedKeyEvent)
        return FALSE;
    /* The client learns that we take the message from a pseudo-rectangle of this kind. */
    struct {
        rfbFramebufferUpdateMsg msg;
        rfbFramebufferUpdateRectHeader rect;
    } __attribute__((packed)) ack = {
        .msg = {.type = rfbFramebufferUpdate, .nRects = Swap16IfLE(1)},
        .rect = {.encoding = Swap32IfLE(rfbEncodingQemuExtendedKeyEvent)},
    };
    G_STATIC_ASSERT(sizeof(ack) == sz_rfbFramebufferUpdateMsg + sz_rfbFramebufferUpdateRectHeader);
    if (rfbWriteExact(cl, (char *)&ack, sizeof(ack)) < 0)
        rfbCloseClient(cl);
    return TRUE;
}

static rfbBool qemu_key_message(rfbClientPtr cl, void *data, const rfbClientToServerMsg *msg)
{
    (void)data;
    if (msg->type != rfbQemuEvent)
        return FALSE;
    uint8_t rest[sz_rfbQemuExtendedKeyEventMsg - 1];
    int r = rfbReadExact(cl, (char *)rest, sizeof(rest));
    if (r <= 0 || rest[0] != 0) {
        /* Closed, or a QEMU message we never offered (its length is unknown to us). */
        rfbCloseClient(cl);
        return TRUE;
    }
    struct hv_vnc *v = server_of(cl);
    bool down = rest[1] || rest[2];
    uint32_t keysym = (uint32_t)rest[3] << 24 | (uint32_t)rest[4] << 16 | rest[5] << 8 | rest[6];
    uint32_t xt = (uint32_t)rest[7] << 24 | (uint32_t)rest[8] << 16 | rest[9] << 8 | rest[10];
    /* E0-prefixed codes come with bit 7 set (0x9d is E0 1D, the right Ctrl). */
    uint16_t code = xt <= 0xff ? hv_keymap_xt_to_linux(xt & 0x7f, xt & 0x80) : 0;
    if (code)
        hv_vnc_keys_raw(&v->keys, code, down, emit_key, v);
    else if (keysym)
        on_key(down, keysym, cl);
    return TRUE;
}

static rfbProtocolExtension qemu_key_extension = {
    .pseudoEncodings = qemu_key_encodings,
    .enablePseudoEncoding = qemu_key_enable,
    .handleMessage = qemu_key_message,
};

/* libvncserver's log goes to our debug log: a client's garbage is not the VMM's news. */
static void rfb_log(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *s = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_debug("libvncserver: %s", g_strchomp(s));
}

/* ---- the framebuffer (VNC thread) ---- */

/* The surface is XRGB8888 little endian: B, G, R, X in memory. */
static void set_server_format(rfbScreenInfoPtr screen)
{
    screen->serverFormat.redShift = 16;
    screen->serverFormat.greenShift = 8;
    screen->serverFormat.blueShift = 0;
}

static void blank(struct hv_vnc *v, uint32_t w, uint32_t h)
{
    uint8_t *old = v->shadow;
    v->shadow = g_malloc0((size_t)w * h * 4);
    v->width = w;
    v->height = h;
    /*
     * A SetDesktopSize answer still waiting for the client's update request would now go
     * out at the new size, and clients ignore the size of a refusal: their framebuffer
     * would stay at the old one. The guest did change its mode, so the answer becomes
     * success at the new size (a viewer that wanted another size asks again).
     */
    rfbClientIteratorPtr pending = rfbGetClientIterator(v->screen);
    for (rfbClientPtr cl; (cl = rfbClientIteratorNext(pending));)
        if (cl->newFBSizePending &&
            cl->requestedDesktopSizeChange == rfbExtDesktopSize_ClientRequestedChange)
            cl->lastDesktopSizeChangeError = rfbExtDesktopSize_Success;
    rfbReleaseClientIterator(pending);
    rfbNewFramebuffer(v->screen, (char *)v->shadow, (int)w, (int)h, 8, 3, 4);
    set_server_format(v->screen);
    rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
    for (rfbClientPtr cl; (cl = rfbClientIteratorNext(it));)
        v->screen->setTranslateFunction(cl);
    rfbReleaseClientIterator(it);
    g_free(old);
}

static void copy_rect(struct hv_vnc *v, const uint8_t *data, uint32_t stride, struct hv_rect r)
{
    for (uint32_t row = r.y; row < r.y + r.h; row++)
        memcpy(v->shadow + ((size_t)row * v->width + r.x) * 4,
               data + (size_t)row * stride + (size_t)r.x * 4, (size_t)r.w * 4);
}

/* A new mode: a new shadow, filled whole; clients get DesktopSize (or a full update). */
static void apply_mode(struct hv_vnc *v)
{
    uint32_t w, h, stride;
    const uint8_t *data;
    hv_surface_lock(v->surface, &w, &h, &stride, &data);
    if (!data || !w || !h) {
        hv_surface_unlock(v->surface);
        /* Display off: black, at the size the client has. */
        memset(v->shadow, 0, (size_t)v->width * v->height * 4);
        rfbMarkRectAsModified(v->screen, 0, 0, (int)v->width, (int)v->height);
        return;
    }
    if (w != v->width || h != v->height)
        blank(v, w, h);
    copy_rect(v, data, stride, (struct hv_rect){0, 0, w, h});
    hv_surface_unlock(v->surface);
    rfbMarkRectAsModified(v->screen, 0, 0, (int)w, (int)h);
}

static void apply_damage(struct hv_vnc *v, const struct hv_rect *rects, unsigned n)
{
    uint32_t w, h, stride;
    const uint8_t *data;
    hv_surface_lock(v->surface, &w, &h, &stride, &data);
    if (!data || w != v->width || h != v->height) {
        /* The mode changed under us: its own notice is on the way; take it now. */
        hv_surface_unlock(v->surface);
        apply_mode(v);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        struct hv_rect r = rects[i];
        if (r.x >= w || r.y >= h)
            continue;
        r.w = MIN(r.w, w - r.x);
        r.h = MIN(r.h, h - r.y);
        copy_rect(v, data, stride, r);
    }
    hv_surface_unlock(v->surface);
    for (unsigned i = 0; i < n; i++)
        rfbMarkRectAsModified(v->screen, (int)rects[i].x, (int)rects[i].y,
                              (int)MIN(rects[i].x + rects[i].w, w),
                              (int)MIN(rects[i].y + rects[i].h, h));
}

/* ---- surface listener (main loop) ---- */

static void wake(struct hv_vnc *v)
{
    uint64_t one = 1;
    if (write(v->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        g_debug("vnc: wake-up: %s", g_strerror(errno));
}

static void on_mode(void *opaque, uint32_t width, uint32_t height)
{
    struct hv_vnc *v = opaque;
    (void)width;
    (void)height;
    pthread_mutex_lock(&v->lock);
    v->mode_pending = true;
    v->n_damage = 0;
    pthread_mutex_unlock(&v->lock);
    wake(v);
}

static void on_damage(void *opaque, const struct hv_rect *rects, unsigned n)
{
    struct hv_vnc *v = opaque;
    pthread_mutex_lock(&v->lock);
    for (unsigned i = 0; i < n; i++)
        v->n_damage = hv_rect_merge(v->damage, v->n_damage, MAX_DAMAGE, rects[i]);
    pthread_mutex_unlock(&v->lock);
    wake(v);
}

static const struct hv_surface_listener listener = {.mode = on_mode, .damage = on_damage};

/* ---- the VNC thread ---- */

static void accept_clients(struct hv_vnc *v)
{
    for (;;) {
        int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        pthread_mutex_lock(&v->lock);
        unsigned clients = v->clients;
        pthread_mutex_unlock(&v->lock);
        /* libvncserver select()s: an fd past FD_SETSIZE would corrupt its sets. */
        if (fd >= FD_SETSIZE || clients >= MAX_CLIENTS) {
            g_debug("vnc: refusing a client (fd %d, %u clients)", fd, clients);
            close(fd);
            continue;
        }
        rfbNewClient(v->screen, fd);
    }
}

static void *vnc_thread(void *opaque)
{
    struct hv_vnc *v = opaque;
    struct pollfd pfd[2 + MAX_CLIENTS];

    for (;;) {
        unsigned n = 0;
        pfd[n++] = (struct pollfd){.fd = v->wake_fd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = v->listen_fd, .events = POLLIN};
        rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
        for (rfbClientPtr cl; (cl = rfbClientIteratorNext(it)) && n < G_N_ELEMENTS(pfd);)
            if (cl->sock != RFB_INVALID_SOCKET)
                pfd[n++] = (struct pollfd){.fd = cl->sock, .events = POLLIN};
        rfbReleaseClientIterator(it);
        if (poll(pfd, n, 1000) < 0 && errno != EINTR)
            g_debug("vnc: poll: %s", g_strerror(errno));

        uint64_t dummy;
        if (read(v->wake_fd, &dummy, sizeof(dummy)) < 0 && errno != EAGAIN)
            g_debug("vnc: wake fd: %s", g_strerror(errno));
        struct hv_rect damage[MAX_DAMAGE];
        pthread_mutex_lock(&v->lock);
        bool quit = v->quit, mode = v->mode_pending;
        unsigned nd = v->n_damage;
        memcpy(damage, v->damage, sizeof(damage));
        v->mode_pending = false;
        v->n_damage = 0;
        pthread_mutex_unlock(&v->lock);
        if (quit)
            break;
        if (mode || nd)
            g_debug("vnc: mode %d, %u rects, first %u,%u %ux%u", mode, nd, damage[0].x,
                    damage[0].y, damage[0].w, damage[0].h);
        if (mode)
            apply_mode(v);
        else if (nd)
            apply_damage(v, damage, nd);
        if (pfd[1].revents & POLLIN)
            accept_clients(v);
        /* Reads what the clients sent and sends each the update it asked for. */
        rfbProcessEvents(v->screen, 0);
    }
    rfbShutdownServer(v->screen, TRUE);
    return NULL;
}

/* ---- life cycle ---- */

static void describe_address(struct hv_vnc *v)
{
    if (v->ep.kind == HV_ENDPOINT_UNIX)
        v->address = g_strdup_printf("unix:%s", v->ep.path);
    else if (strchr(v->ep.host, ':'))
        v->address = g_strdup_printf("[%s]:%u", v->ep.host, v->port);
    else
        v->address = g_strdup_printf("%s:%u", v->ep.host, v->port);
}

struct hv_vnc *hv_vnc_new(const struct hv_vnc_spec *spec, struct hv_surface *surface,
                          const struct hv_input_sink *sink, char **err)
{
    static gsize once;
    if (g_once_init_enter(&once)) {
        rfbLog = rfb_log;
        rfbErr = rfb_log;
        rfbMaxClientWait = CLIENT_WAIT_MS;
        rfbRegisterProtocolExtension(&qemu_key_extension);
        g_once_init_leave(&once, 1);
    }

    struct hv_vnc *v = g_new0(struct hv_vnc, 1);
    v->ep.kind = spec->ep.kind;
    v->ep.path = g_strdup(spec->ep.path);
    v->ep.host = g_strdup(spec->ep.host);
    v->ep.port = spec->ep.port;
    v->password_required = spec->password;
    v->keymap = spec->keymap;
    v->surface = surface;
    v->sink = *sink;
    v->wake_fd = v->input_fd = -1;
    pthread_mutex_init(&v->lock, NULL);
    v->input = g_array_new(FALSE, FALSE, sizeof(struct input_item));
    hv_vnc_keys_init(&v->keys, spec->keymap);

    v->listen_fd = hv_endpoint_listen("--vnc", &v->ep, &v->port, &v->dev, &v->ino, err);
    if (v->listen_fd < 0) {
        hv_vnc_free(v);
        return NULL;
    }
    describe_address(v);
    v->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    v->input_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (v->wake_fd < 0 || v->input_fd < 0) {
        *err = g_strdup_printf("--vnc: eventfd: %s", g_strerror(errno));
        hv_vnc_free(v);
        return NULL;
    }

    v->screen = rfbGetScreen(NULL, NULL, BLANK_WIDTH, BLANK_HEIGHT, 8, 3, 4);
    if (!v->screen) {
        *err = g_strdup("--vnc: cannot set up the VNC server");
        hv_vnc_free(v);
        return NULL;
    }
    rfbScreenInfoPtr s = v->screen;
    v->width = BLANK_WIDTH;
    v->height = BLANK_HEIGHT;
    v->shadow = g_malloc0((size_t)BLANK_WIDTH * BLANK_HEIGHT * 4);
    s->frameBuffer = (char *)v->shadow;
    set_server_format(s);
    s->desktopName = "vmdesk";
    s->screenData = v;
    /* We listen and accept ourselves (unix sockets, our address checks). */
    s->port = 0;
    s->ipv6port = 0;
    s->autoPort = FALSE;
    s->listenSock = RFB_INVALID_SOCKET;
    s->listen6Sock = RFB_INVALID_SOCKET;
    s->httpDir = NULL;
    s->alwaysShared = TRUE;
    s->deferUpdateTime = 0;
    s->maxClientWait = CLIENT_WAIT_MS;
    s->cursor = NULL; /* the guest draws its own pointer */
    s->kbdAddEvent = on_key;
    s->ptrAddEvent = on_pointer;
    s->newClientHook = on_new_client;
    s->setDesktopSizeHook = on_set_desktop_size;
    if (spec->password) {
        /* Any non-NULL value makes libvncserver offer VNC authentication only. */
        s->authPasswdData = v;
        s->passwordCheck = check_password;
    }
    rfbInitServer(s);

    GMainContext *ctx = g_main_context_get_thread_default();
    v->input_src = g_unix_fd_source_new(v->input_fd, G_IO_IN);
    g_source_set_callback(v->input_src, G_SOURCE_FUNC(deliver_input), v, NULL);
    g_source_attach(v->input_src, ctx);

    if (pthread_create(&v->thread, NULL, vnc_thread, v) != 0) {
        *err = g_strdup("--vnc: cannot start the VNC thread");
        hv_vnc_free(v);
        return NULL;
    }
    v->thread_started = true;
    v->listener = hv_surface_add_listener(surface, &listener, v);
    v->has_listener = true;
    return v;
}

void hv_vnc_free(struct hv_vnc *v)
{
    if (!v)
        return;
    if (v->has_listener)
        hv_surface_remove_listener(v->surface, v->listener);
    if (v->thread_started) {
        pthread_mutex_lock(&v->lock);
        v->quit = true;
        pthread_mutex_unlock(&v->lock);
        wake(v);
        pthread_join(v->thread, NULL);
    }
    if (v->screen)
        rfbScreenCleanup(v->screen);
    if (v->input_src) {
        g_source_destroy(v->input_src);
        g_source_unref(v->input_src);
    }
    if (v->listen_fd >= 0) {
        close(v->listen_fd);
        hv_endpoint_unlink(&v->ep, v->dev, v->ino);
    }
    if (v->wake_fd >= 0)
        close(v->wake_fd);
    if (v->input_fd >= 0)
        close(v->input_fd);
    g_array_free(v->input, TRUE);
    explicit_bzero(v->password, sizeof(v->password));
    pthread_mutex_destroy(&v->lock);
    hv_endpoint_clear(&v->ep);
    g_free(v->shadow);
    g_free(v->address);
    g_free(v);
}

int hv_vnc_set_password(struct hv_vnc *v, const char *password, char **err)
{
    if (!v->password_required) {
        *err = g_strdup("the VNC server takes no password: start it with --vnc ...,password=on");
        return -EINVAL;
    }
    pthread_mutex_lock(&v->lock);
    explicit_bzero(v->password, sizeof(v->password));
    /* VNC authentication keys DES with the first 8 bytes; the rest never counted. */
    g_strlcpy(v->password, password, sizeof(v->password));
    v->password_set = *password != 0;
    pthread_mutex_unlock(&v->lock);
    return 0;
}

void hv_vnc_describe(void *opaque, JsonBuilder *b)
{
    struct hv_vnc *v = opaque;
    pthread_mutex_lock(&v->lock);
    unsigned clients = v->clients;
    bool set = v->password_set;
    pthread_mutex_unlock(&v->lock);
    json_builder_set_member_name(b, "address");
    json_builder_add_string_value(b, v->address);
    json_builder_set_member_name(b, "auth");
    json_builder_add_string_value(b, v->password_required ? "vnc" : "none");
    if (v->password_required) {
        json_builder_set_member_name(b, "password-set");
        json_builder_add_boolean_value(b, set);
    }
    json_builder_set_member_name(b, "keymap");
    json_builder_add_string_value(b, hv_keymap_name(v->keymap));
    json_builder_set_member_name(b, "clients");
    json_builder_add_int_value(b, clients);
}

/* What vmdesk-vmm calls (display/module.h). */
const struct hv_vnc_module hv_module_vnc = {
    .header = HV_MODULE_HEADER(struct hv_vnc_module),
    .create = hv_vnc_new,
    .destroy = hv_vnc_free,
    .set_password = hv_vnc_set_password,
    .describe = hv_vnc_describe,
};
