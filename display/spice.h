/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SPICE server (libspice-server): the guest's screen, keyboard and tablet for clients. */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "display/endpoint.h"
#include "display/input.h"
#include "display/surface.h"

/* --spice unix:PATH | HOST:PORT [,ticketing=off] */
struct hv_spice_spec {
    struct hv_endpoint ep;
    /* ticketing=off: any client that reaches the socket gets in, no password needed. */
    bool no_ticketing;
};

/* Parses --spice's value. Returns 0 or -EINVAL with *err set to one line. Opens nothing. */
int hv_spice_spec_parse(const char *text, struct hv_spice_spec *spec, char **err);
void hv_spice_spec_clear(struct hv_spice_spec *spec);

struct hv_spice;

/*
 * Listens (a unix socket is created mode 0600) and serves `surface` on the thread-default
 * GMainContext. Until hv_spice_set_password() is called, every client is refused (unless
 * no_ticketing). `name` is the VM's name shown by clients (may be NULL). Returns NULL with
 * *err set to one line on failure, having created nothing.
 */
struct hv_spice *hv_spice_new(const struct hv_spice_spec *spec, struct hv_surface *surface,
                              const char *name, char **err);
/* Where keys and pointer events go; NULL drops them. Main-loop thread. */
void hv_spice_set_input(struct hv_spice *s, const struct hv_input_sink *sink);
/* The ticket clients must give; existing clients stay connected. -EINVAL with *err when
   ticketing is off. */
int hv_spice_set_password(struct hv_spice *s, const char *password, char **err);
/* query-display's "spice" members (builder inside an object). */
void hv_spice_describe(void *opaque, JsonBuilder *b);
/* Disconnects every client and removes the socket file. */
void hv_spice_free(struct hv_spice *s);

/*
 * The guest agent's channel (vdagent: clipboard, dynamic resolution). A guest-side port
 * (a virtio-serial port named com.redhat.spice.0, not built yet) calls attach when the
 * guest opens it and detach when it closes it; while attached, clients see an agent.
 * `write` takes bytes from clients for the guest and returns how many it took (the rest
 * is offered again after hv_spice_agent_wakeup); bytes from the guest go to
 * hv_spice_agent_receive.
 */
struct hv_spice_agent_port {
    int (*write)(void *opaque, const uint8_t *buf, int len);
    void *opaque;
};
int hv_spice_agent_attach(struct hv_spice *s, const struct hv_spice_agent_port *port);
void hv_spice_agent_detach(struct hv_spice *s);
/* Bytes the guest's agent wrote; kept until the server reads them. Returns 0 or -ENOSPC. */
int hv_spice_agent_receive(struct hv_spice *s, const uint8_t *buf, size_t len);
/* The guest side can take more bytes now. */
void hv_spice_agent_wakeup(struct hv_spice *s);
