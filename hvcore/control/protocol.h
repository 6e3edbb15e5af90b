/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The control protocol's wire format: request parsing and reply/event lines, no sockets. */
#pragma once

#include <stddef.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#define HV_CONTROL_PROTOCOL_VERSION 1
/* Longest request line, not counting its newline. */
#define HV_CONTROL_MAX_LINE (64 * 1024)
/* Deepest nesting of arrays and objects in a request (the request object is level 1). */
#define HV_CONTROL_MAX_DEPTH 64

/* The fixed set of error classes; docs/control-protocol.md says when each is used. */
enum hv_control_error_class {
    HV_CONTROL_ERROR_PARSE,             /* "ParseError": the line is not one JSON value */
    HV_CONTROL_ERROR_INVALID_REQUEST,   /* "InvalidRequest": JSON, but not a request object */
    HV_CONTROL_ERROR_COMMAND_NOT_FOUND, /* "CommandNotFound" */
    HV_CONTROL_ERROR_INVALID_ARGUMENT,  /* "InvalidArgument": arguments the command refuses */
    HV_CONTROL_ERROR_INVALID_STATE,     /* "InvalidState": not legal in the VM's current state */
    HV_CONTROL_ERROR_GENERIC,           /* "GenericError": the command was tried and failed */
};

/* The class's name on the wire, e.g. "CommandNotFound". */
const char *hv_control_error_class_name(enum hv_control_error_class cls);

struct hv_control_error {
    enum hv_control_error_class cls;
    char *desc; /* one line naming the value and what is expected */
};

/* Sets *err (whose desc must be NULL) and returns -EINVAL, so a parser can `return fail(...)`. */
int hv_control_error_set(struct hv_control_error *err, enum hv_control_error_class cls,
                         const char *fmt, ...) G_GNUC_PRINTF(3, 4);
void hv_control_error_clear(struct hv_control_error *err);
/* Client text (valid UTF-8) cut to a bounded length for quoting in a description. */
char *hv_control_quote(const char *text);

struct hv_control_request {
    char *command;         /* the "execute" string */
    char *id;              /* the request's "id" as its exact JSON text, or NULL when absent */
    JsonObject *arguments; /* "arguments", or an empty object when absent */
};

/*
 * Parses one request line (without its newline) of `len` bytes; the line need not be
 * NUL-terminated and may contain NUL bytes (which are refused). Returns 0, or -EINVAL with
 * *err set. On failure `req->id` is still set when the line was a JSON object with an "id",
 * so that the error reply can echo it. `req` must be zeroed or cleared before the call;
 * clear it afterwards in both cases.
 */
int hv_control_parse_request(const char *line, size_t len, struct hv_control_request *req,
                             struct hv_control_error *err);
void hv_control_request_clear(struct hv_control_request *req);

/*
 * Parses one strict RFC 8259 JSON text (optionally surrounded by whitespace) into *out
 * (transfer full). On top of the RFC it refuses what json-glib could not represent
 * faithfully: integers outside int64, numbers that overflow a double, "\u0000" in strings,
 * duplicate object keys, nesting deeper than HV_CONTROL_MAX_DEPTH. Returns 0 or -EINVAL
 * with a ParseError in *err.
 */
int hv_control_parse_json(const char *text, size_t len, JsonNode **out,
                          struct hv_control_error *err);

/*
 * Refuses members of `args` whose names are not in `allowed` (NULL-terminated; NULL when the
 * command takes no arguments) with an InvalidArgument error naming the field.
 */
int hv_control_check_arguments(const char *command, JsonObject *args, const char *const *allowed,
                               struct hv_control_error *err);

/*
 * The builders below return one newline-terminated line (transfer full) with no other
 * newline in it. `id` is the request's id as JSON text (from hv_control_parse_request), or
 * NULL to leave "id" out.
 */
char *hv_control_greeting_line(const char *version, const char *const *commands, size_t n_commands);
/* {"return": RET, "id": ID}; takes `ret`, and NULL means {}. */
char *hv_control_return_line(JsonNode *ret, const char *id);
/* {"error": {"class": CLASS, "desc": DESC}, "id": ID} */
char *hv_control_error_line(enum hv_control_error_class cls, const char *desc, const char *id);
/* {"event": EVENT, "data": DATA, "timestamp": SECONDS.MICROSECONDS}; takes `data`, and NULL
 * means {}. `time_us` is microseconds since the epoch, as from g_get_real_time(). */
char *hv_control_event_line(const char *event, JsonNode *data, gint64 time_us);
