/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Closes or resizes an X11 window by its title, as a window manager would (a test tool). */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <stdio.h>
#include <string.h>

/*
 * x11-close [--resize WxH] TITLE-PART: sends WM_DELETE_WINDOW to the first top-level window
 * whose name contains TITLE-PART (on $DISPLAY), or resizes it. Exit 0: done; 1: no such
 * window; 2: bad arguments or no display.
 */

static Window find(Display *dpy, Window w, const char *part)
{
    char *name = NULL;
    if (XFetchName(dpy, w, &name) && name) {
        int hit = strstr(name, part) != NULL;
        XFree(name);
        if (hit)
            return w;
    }
    Window root, parent, *kids = NULL;
    unsigned n = 0;
    Window found = 0;
    if (XQueryTree(dpy, w, &root, &parent, &kids, &n)) {
        for (unsigned i = 0; i < n && !found; i++)
            found = find(dpy, kids[i], part);
        if (kids)
            XFree(kids);
    }
    return found;
}

int main(int argc, char **argv)
{
    unsigned rw = 0, rh = 0;
    if (argc == 4 && !strcmp(argv[1], "--resize") && sscanf(argv[2], "%ux%u", &rw, &rh) == 2 &&
        rw && rh) {
        argv += 2;
        argc -= 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: x11-close [--resize WxH] TITLE-PART\n");
        return 2;
    }
    Display *dpy = XOpenDisplay(NULL);
    if (!dpy) {
        fprintf(stderr, "x11-close: cannot open the display\n");
        return 2;
    }
    Window w = find(dpy, DefaultRootWindow(dpy), argv[1]);
    if (!w) {
        fprintf(stderr, "x11-close: no window titled *%s*\n", argv[1]);
        XCloseDisplay(dpy);
        return 1;
    }
    if (rw) {
        XResizeWindow(dpy, w, rw, rh);
        XSync(dpy, False);
        XCloseDisplay(dpy);
        return 0;
    }
    XEvent ev = {0};
    ev.xclient.type = ClientMessage;
    ev.xclient.window = w;
    ev.xclient.message_type = XInternAtom(dpy, "WM_PROTOCOLS", False);
    ev.xclient.format = 32;
    ev.xclient.data.l[0] = (long)XInternAtom(dpy, "WM_DELETE_WINDOW", False);
    ev.xclient.data.l[1] = CurrentTime;
    XSendEvent(dpy, w, False, NoEventMask, &ev);
    XSync(dpy, False);
    XCloseDisplay(dpy);
    return 0;
}
