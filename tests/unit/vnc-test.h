/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the VNC tests share: the server on a surface in-process, libvncclient and raw clients. */
#pragma once

#include <rfb/rfbclient.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "display/vnc.h"

/* The surface's first mode: four colour blocks (red, green / blue, white). */
#define W 64
#define H 48

struct fixture {
    char *dir;
    char *path;
    struct hv_surface *surface;
    uint32_t *pixels;
    uint32_t *pixels2;
    struct hv_vnc *vnc;
    GMutex lock;
    GString *keys;    /* "+30 -30 " as the sink saw them */
    GString *pointer; /* "x,y,w,h,b " */
    gint done;
    /* The "device" that follows requested sizes (resize tests): what it was asked. */
    GString *resizes; /* "WxH " */
    bool resize_off_main; /* a request came on another thread than the main loop's */
};

/* Fills a w-pixel-wide XRGB8888 buffer's rectangle with rgb (0xRRGGBB). */
void paint(uint32_t *px, uint32_t w, uint32_t x0, uint32_t y0, uint32_t bw, uint32_t bh,
           uint32_t rgb);
/* g_test_add fixture functions; data is the --vnc options after the address, or NULL. */
void vnc_setup(struct fixture *f, gconstpointer data);
void vnc_teardown(struct fixture *f, gconstpointer data);
/* Runs `fn` on a thread (libvncclient blocks) while this thread runs the main loop. */
void run_client(struct fixture *f, GThreadFunc fn);
/* libvncclient's log function that says nothing. */
void quiet(const char *format, ...);

/* libvncclient on the fixture's socket; NULL when refused (wrong password). */
rfbClient *connect_client(struct fixture *f, const char *password);
void disconnect(rfbClient *c);
/* WaitForMessage that sees what libvncclient has already read ahead. */
int wait_message(rfbClient *c, unsigned usecs);
/* Handles messages until a whole update arrived (or 5 s passed). */
bool next_frame(rfbClient *c);
uint32_t client_pixel(rfbClient *c, int x, int y);
/* Asks for frames until the client shows w x h with rgb at (x, y) (5 s at most). */
bool frame_shows_inc(rfbClient *c, int w, int h, int x, int y, uint32_t rgb, bool inc);
bool frame_shows(rfbClient *c, int w, int h, int x, int y, uint32_t rgb);
/* Waits until the string `s` (under f->lock) is `want`. */
bool wait_text_for(struct fixture *f, GString *s, const char *want, int seconds);
bool wait_text(struct fixture *f, GString *s, const char *want);

/* A plain socket connected to the server, and reading exactly len bytes from it. */
int raw_connect(struct fixture *f);
bool read_all(int fd, void *buf, size_t len);
