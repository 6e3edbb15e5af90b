/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The local window (--display sdl): the guest's screen, keyboard and pointer in SDL2. */
#include "display/sdl.h"
#include "display/module.h"

#include <SDL2/SDL.h>
#include <glib.h>
#include <string.h>

/*
 * SDL wants its window and event loop on the main thread, which already runs the GLib
 * loop: so the GLib loop stays the master and a ~60 Hz timer drains SDL's event queue
 * (SDL_PollEvent never blocks). Drawing is driven by the surface's damage, which comes
 * at most ~60 times a second: each damaged rectangle is copied into a streaming texture
 * and the frame is presented once per delivery. SDL scales the texture to the window,
 * keeping the aspect ratio (SDL_RenderSetLogicalSize), and maps pointer coordinates
 * back to the guest's pixels for us.
 */

#define POLL_MS 16

struct hv_sdl {
    struct hv_surface *surface;
    unsigned listener;
    struct hv_sdl_ops ops;
    char *name;
    struct hv_input_sink sink;
    bool has_sink;

    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;
    uint32_t width, height; /* the texture's (the mode's) size */
    guint poll_timer;

    bool grabbed;
    uint32_t buttons;
    char *title;          /* as last set */
    uint64_t frames;      /* presented */
    unsigned closes;      /* the user closed the window: a power-button press each */
};

static void update_title(struct hv_sdl *w)
{
    const char *state = w->ops.state ? w->ops.state(w->ops.opaque) : "running";
    g_autofree char *t = g_strdup_printf("%s (%s)%s - vmdesk", w->name ? w->name : "VM",
                                         state,
                                         w->grabbed ? " - Ctrl+Alt+G releases" : "");
    if (w->title && !strcmp(w->title, t))
        return;
    SDL_SetWindowTitle(w->window, t);
    g_free(w->title);
    w->title = g_steal_pointer(&t);
}

static void present(struct hv_sdl *w)
{
    SDL_SetRenderDrawColor(w->renderer, 0, 0, 0, 255);
    SDL_RenderClear(w->renderer);
    if (w->texture)
        SDL_RenderCopy(w->renderer, w->texture, NULL, NULL);
    SDL_RenderPresent(w->renderer);
    w->frames++;
}

static void on_mode(void *opaque, uint32_t width, uint32_t height)
{
    struct hv_sdl *w = opaque;
    if (w->texture)
        SDL_DestroyTexture(w->texture);
    w->texture = NULL;
    w->width = w->height = 0;
    if (width && height) {
        /* XRGB8888 little endian: B, G, R, X in memory, the surface's layout. */
        w->texture = SDL_CreateTexture(w->renderer, SDL_PIXELFORMAT_RGB888,
                                       SDL_TEXTUREACCESS_STREAMING, (int)width, (int)height);
        if (w->texture) {
            w->width = width;
            w->height = height;
            SDL_RenderSetLogicalSize(w->renderer, (int)width, (int)height);
            /* A new mode: the window takes its size (the user may resize it after). */
            SDL_SetWindowSize(w->window, (int)width, (int)height);
        } else {
            g_warning("sdl: cannot create a %ux%u texture: %s", width, height, SDL_GetError());
        }
    }
    present(w);
}

static void on_damage(void *opaque, const struct hv_rect *rects, unsigned n)
{
    struct hv_sdl *w = opaque;
    uint32_t width, height, stride;
    const uint8_t *data;
    if (!w->texture)
        return;
    hv_surface_lock(w->surface, &width, &height, &stride, &data);
    if (data && width == w->width && height == w->height) {
        for (unsigned i = 0; i < n; i++) {
            struct hv_rect r = rects[i];
            if (r.x >= width || r.y >= height)
                continue;
            SDL_Rect dst = {(int)r.x, (int)r.y, (int)MIN(r.w, width - r.x),
                            (int)MIN(r.h, height - r.y)};
            SDL_UpdateTexture(w->texture, &dst, data + (size_t)r.y * stride + (size_t)r.x * 4,
                              (int)stride);
        }
    }
    hv_surface_unlock(w->surface);
    present(w);
}

static const struct hv_surface_listener listener = {
    .mode = on_mode,
    .damage = on_damage,
};

static void set_grab(struct hv_sdl *w, bool on)
{
    w->grabbed = on;
    /* Keyboard grab: the host's shortcuts (Alt+Tab...) go to the guest while grabbed. */
    SDL_SetWindowKeyboardGrab(w->window, on ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowMouseGrab(w->window, on ? SDL_TRUE : SDL_FALSE);
    update_title(w);
}

static void send_pointer(struct hv_sdl *w, int x, int y, uint32_t extra)
{
    if (!w->has_sink || !w->width || !w->height)
        return;
    uint32_t px = (uint32_t)CLAMP(x, 0, (int)w->width - 1);
    uint32_t py = (uint32_t)CLAMP(y, 0, (int)w->height - 1);
    w->sink.pointer(w->sink.opaque, px, py, w->width, w->height, w->buttons | extra);
}

static uint32_t button_bit(uint8_t b)
{
    switch (b) {
    case SDL_BUTTON_LEFT: return HV_BUTTON_LEFT;
    case SDL_BUTTON_MIDDLE: return HV_BUTTON_MIDDLE;
    case SDL_BUTTON_RIGHT: return HV_BUTTON_RIGHT;
    default: return 0;
    }
}

static void on_key(struct hv_sdl *w, const SDL_KeyboardEvent *k)
{
    bool down = k->type == SDL_KEYDOWN;
    if (down && k->keysym.scancode == SDL_SCANCODE_G && (k->keysym.mod & KMOD_CTRL) &&
        (k->keysym.mod & KMOD_ALT)) {
        if (!k->repeat)
            set_grab(w, !w->grabbed);
        return;
    }
    if (k->repeat) /* the guest repeats keys itself */
        return;
    uint16_t code = hv_keymap_sdl_to_linux(k->keysym.scancode);
    if (code && w->has_sink)
        w->sink.key(w->sink.opaque, code, down);
}

static void handle_event(struct hv_sdl *w, const SDL_Event *ev)
{
    switch (ev->type) {
    case SDL_QUIT:
        /* Like the power button of a real machine: the guest decides what to do. */
        w->closes++;
        if (w->ops.powerdown)
            w->ops.powerdown(w->ops.opaque);
        break;
    case SDL_WINDOWEVENT:
        if (ev->window.event == SDL_WINDOWEVENT_EXPOSED ||
            ev->window.event == SDL_WINDOWEVENT_SIZE_CHANGED)
            present(w);
        /* RESIZED: the user (or the window manager) did it, not a new guest mode. The
           guest follows if its device can (virtio-gpu); otherwise the picture scales. */
        if (ev->window.event == SDL_WINDOWEVENT_RESIZED && ev->window.data1 > 0 &&
            ev->window.data2 > 0)
            hv_surface_request_size(w->surface, (uint32_t)ev->window.data1,
                                    (uint32_t)ev->window.data2);
        else if (ev->window.event == SDL_WINDOWEVENT_FOCUS_LOST && w->has_sink)
            w->buttons = 0;
        break;
    case SDL_KEYDOWN:
    case SDL_KEYUP:
        on_key(w, &ev->key);
        break;
    case SDL_MOUSEMOTION:
        send_pointer(w, ev->motion.x, ev->motion.y, 0);
        break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
        if (ev->type == SDL_MOUSEBUTTONDOWN)
            w->buttons |= button_bit(ev->button.button);
        else
            w->buttons &= ~button_bit(ev->button.button);
        send_pointer(w, ev->button.x, ev->button.y, 0);
        break;
    case SDL_MOUSEWHEEL: {
        int x, y;
        SDL_GetMouseState(&x, &y);
        float lx, ly;
        SDL_RenderWindowToLogical(w->renderer, x, y, &lx, &ly);
        uint32_t bit = ev->wheel.y > 0 ? HV_BUTTON_WHEEL_UP : HV_BUTTON_WHEEL_DOWN;
        for (int i = 0; i < ABS(ev->wheel.y) && i < 16; i++) {
            send_pointer(w, (int)lx, (int)ly, bit);
            send_pointer(w, (int)lx, (int)ly, 0);
        }
        break;
    }
    default:
        break;
    }
}

static gboolean on_poll(gpointer opaque)
{
    struct hv_sdl *w = opaque;
    SDL_Event ev;
    for (unsigned i = 0; i < 256 && SDL_PollEvent(&ev); i++)
        handle_event(w, &ev);
    update_title(w); /* running / paused */
    return G_SOURCE_CONTINUE;
}

void hv_sdl_set_input(struct hv_sdl *w, const struct hv_input_sink *sink)
{
    w->has_sink = sink != NULL;
    if (sink)
        w->sink = *sink;
}

void hv_sdl_describe(void *opaque, JsonBuilder *b)
{
    struct hv_sdl *w = opaque;
    json_builder_set_member_name(b, "title");
    json_builder_add_string_value(b, w->title ? w->title : "");
    json_builder_set_member_name(b, "grabbed");
    json_builder_add_boolean_value(b, w->grabbed);
    json_builder_set_member_name(b, "close-requests");
    json_builder_add_int_value(b, w->closes);
    json_builder_set_member_name(b, "frames");
    json_builder_add_int_value(b, (gint64)w->frames);
}

struct hv_sdl *hv_sdl_new(struct hv_surface *surface, const char *name,
                          const struct hv_sdl_ops *ops, char **err)
{
    /* The VMM handles SIGINT/SIGTERM itself (a clean shutdown): SDL must not take them. */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    /*
     * Only a display a person can see: SDL would otherwise fall back to its offscreen
     * driver (a window nobody sees), and probing Wayland without a compositor prints
     * libwayland's own complaint on stderr. SDL_VIDEODRIVER still overrides this.
     */
    if (!g_getenv("SDL_VIDEODRIVER")) {
        const char *wl = g_getenv("WAYLAND_DISPLAY"), *x = g_getenv("DISPLAY");
        if ((!wl || !*wl) && (!x || !*x)) {
            *err = g_strdup("--display sdl: there is no display to open a window on (neither "
                            "DISPLAY nor WAYLAND_DISPLAY is set)");
            return NULL;
        }
        SDL_SetHint(SDL_HINT_VIDEODRIVER, wl && *wl ? "wayland,x11" : "x11");
    }
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
        *err = g_strdup_printf("--display sdl: cannot open a window: %s (is DISPLAY or "
                               "WAYLAND_DISPLAY set?)", SDL_GetError());
        return NULL;
    }
    struct hv_sdl *w = g_new0(struct hv_sdl, 1);
    w->surface = surface;
    w->ops = *ops;
    w->name = g_strdup(name);
    w->window = SDL_CreateWindow("vmdesk", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                                 640, 480, SDL_WINDOW_RESIZABLE);
    if (w->window)
        w->renderer = SDL_CreateRenderer(w->window, -1, 0);
    if (!w->window || !w->renderer) {
        *err = g_strdup_printf("--display sdl: cannot open a window: %s", SDL_GetError());
        hv_sdl_free(w);
        return NULL;
    }
    update_title(w);
    present(w);
    w->listener = hv_surface_add_listener(surface, &listener, w);
    w->poll_timer = g_timeout_add(POLL_MS, on_poll, w);
    return w;
}

void hv_sdl_free(struct hv_sdl *w)
{
    if (!w)
        return;
    if (w->poll_timer) {
        g_source_remove(w->poll_timer);
        hv_surface_remove_listener(w->surface, w->listener);
    }
    if (w->texture)
        SDL_DestroyTexture(w->texture);
    if (w->renderer)
        SDL_DestroyRenderer(w->renderer);
    if (w->window)
        SDL_DestroyWindow(w->window);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    SDL_Quit();
    g_free(w->title);
    g_free(w->name);
    g_free(w);
}

/* What vmdesk-vmm calls (display/module.h). */
const struct hv_sdl_module hv_module_sdl = {
    .header = HV_MODULE_HEADER(struct hv_sdl_module),
    .create = hv_sdl_new,
    .destroy = hv_sdl_free,
    .set_input = hv_sdl_set_input,
    .describe = hv_sdl_describe,
};
