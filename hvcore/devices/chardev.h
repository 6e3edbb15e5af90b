/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Host side of a serial port: stdio (raw terminal), a file, or a unix socket. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

enum hv_chardev_kind { HV_CHARDEV_STDIO, HV_CHARDEV_FILE, HV_CHARDEV_UNIX };

struct hv_chardev_spec {
    enum hv_chardev_kind kind;
    char *path; /* file: and unix: */
};

/* Parses "stdio", "file:PATH" or "unix:PATH". On error returns -EINVAL and sets *err
 * to a one-line message naming the value and what is expected. Touches no file. */
int hv_chardev_parse(const char *text, struct hv_chardev_spec *spec, char **err);
void hv_chardev_spec_clear(struct hv_chardev_spec *spec);

struct hv_chardev;

struct hv_chardev_callbacks {
    /* Bytes typed by the user / sent by the attached client. Return how many were
     * accepted; the rest is kept and offered again after hv_chardev_accept_input(). */
    size_t (*input)(void *opaque, const uint8_t *buf, size_t len);
    /* stdio only: the user pressed Ctrl-A X. */
    void (*quit)(void *opaque);
    void *opaque;
};

/* Opens the backend (creates the file / listening socket, makes the terminal raw) and
 * attaches its input to the thread-default GMainContext. */
struct hv_chardev *hv_chardev_open(const struct hv_chardev_spec *spec,
                                   const struct hv_chardev_callbacks *cb, GError **error);
/* Never blocks: output for a client that does not read, or with no client, is dropped. */
void hv_chardev_write(struct hv_chardev *dev, const uint8_t *buf, size_t len);
/* The consumer has room again: resume delivering pending input. */
void hv_chardev_accept_input(struct hv_chardev *dev);
/* Restores the terminal, closes the client, removes the unix socket file. */
void hv_chardev_close(struct hv_chardev *dev);
/* Closes, and removes a file: backend's file if this chardev created it: for a VM that
   failed to start, which leaves nothing behind. */
void hv_chardev_discard(struct hv_chardev *dev);
