/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Where a display server listens: "unix:PATH" or "HOST:PORT", parsed and opened safely. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum hv_endpoint_kind { HV_ENDPOINT_UNIX, HV_ENDPOINT_TCP };

struct hv_endpoint {
    enum hv_endpoint_kind kind;
    char *path; /* unix: the socket file */
    char *host; /* tcp: the address as given ("127.0.0.1", "::1", "0.0.0.0") */
    uint16_t port; /* tcp: 0 means any free port (see hv_endpoint_listen) */
};

/*
 * Parses "unix:PATH", "HOST:PORT", "[IPV6]:PORT" or a bare "PORT" (which means
 * 127.0.0.1:PORT: nothing listens beyond loopback unless the user names the address).
 * `flag` ("--spice") starts the error message. Returns 0 or -EINVAL with *err set to one
 * line naming the value and what is expected. Touches no file, resolves no name.
 */
int hv_endpoint_parse(const char *flag, const char *text, struct hv_endpoint *ep, char **err);
void hv_endpoint_clear(struct hv_endpoint *ep);

/*
 * Opens a non-blocking listening socket. A unix socket is created with mode 0600; a stale
 * socket file (nobody listening) is replaced, anything else at the path is refused. For
 * TCP, *bound_port is the port actually bound (useful with port 0). Returns the fd, or
 * -errno with *err set to one line starting with `flag`.
 */
int hv_endpoint_listen(const char *flag, const struct hv_endpoint *ep, uint16_t *bound_port,
                       dev_t *dev, ino_t *ino, char **err);

/* Removes the unix socket file if it is still the one we created (dev/ino match). */
void hv_endpoint_unlink(const struct hv_endpoint *ep, dev_t dev, ino_t ino);
