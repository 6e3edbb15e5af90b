/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The control protocol's wire format: request parsing and reply/event lines, no sockets. */
#include "control/protocol.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

/*
 * Requests are parsed here rather than by JsonParser: json-glib 1.6 wraps integers that do
 * not fit in 64 bits, ignores anything after the first value, cuts strings at "\u0000",
 * accepts single quotes, comments and hex numbers, and recurses without a depth limit. A
 * client must get an error for each of those, not a silently different request. The tree
 * is still built from json-glib's types so that commands and the generator use one model.
 */

/* Longest piece of client text quoted back in an error description. */
#define QUOTE_MAX 64

static const char *const class_names[] = {
    [HV_CONTROL_ERROR_PARSE] = "ParseError",
    [HV_CONTROL_ERROR_INVALID_REQUEST] = "InvalidRequest",
    [HV_CONTROL_ERROR_COMMAND_NOT_FOUND] = "CommandNotFound",
    [HV_CONTROL_ERROR_INVALID_ARGUMENT] = "InvalidArgument",
    [HV_CONTROL_ERROR_INVALID_STATE] = "InvalidState",
    [HV_CONTROL_ERROR_GENERIC] = "GenericError",
};

const char *hv_control_error_class_name(enum hv_control_error_class cls)
{
    if ((size_t)cls >= G_N_ELEMENTS(class_names))
        return "GenericError";
    return class_names[cls];
}

int hv_control_error_set(struct hv_control_error *err, enum hv_control_error_class cls,
                         const char *fmt, ...)
{
    va_list ap;

    g_return_val_if_fail(err->desc == NULL, -EINVAL);
    err->cls = cls;
    va_start(ap, fmt);
    err->desc = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return -EINVAL;
}

void hv_control_error_clear(struct hv_control_error *err)
{
    g_clear_pointer(&err->desc, g_free);
    err->cls = HV_CONTROL_ERROR_GENERIC;
}

/* Client text as it may appear inside an error description: bounded, cut on a character. */
static char *quote(const char *s, size_t len)
{
    if (len <= QUOTE_MAX)
        return g_strndup(s, len);
    const char *end = s + QUOTE_MAX;
    while (end > s && ((unsigned char)*end & 0xc0) == 0x80)
        end--;
    return g_strdup_printf("%.*s...", (int)(end - s), s);
}

char *hv_control_quote(const char *text)
{
    return quote(text, strlen(text));
}

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    unsigned depth;
    struct hv_control_error *err;
    /* Where the top-level object's "id" value lies, so that it is echoed byte for byte. */
    bool have_id;
    size_t id_start, id_end;
};

static int G_GNUC_PRINTF(3, 4) fail_at(struct parser *p, size_t pos, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return hv_control_error_set(p->err, HV_CONTROL_ERROR_PARSE, "%s at byte %zu", msg, pos);
}

/* Names what sits at `pos` for an "unexpected ..." message. */
static char *describe_at(const struct parser *p, size_t pos)
{
    if (pos >= p->len)
        return g_strdup("end of line");
    unsigned char c = p->s[pos];
    if (c >= 0x20 && c < 0x7f)
        return g_strdup_printf("'%c'", c);
    gunichar u = g_utf8_get_char_validated(p->s + pos, p->len - pos);
    if (u == (gunichar)-1 || u == (gunichar)-2)
        return g_strdup_printf("byte 0x%02x", c);
    return g_strdup_printf("character U+%04X", u);
}

static int unexpected(struct parser *p, const char *expected)
{
    g_autofree char *what = describe_at(p, p->pos);
    return fail_at(p, p->pos, "unexpected %s, expected %s", what, expected);
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static bool at(const struct parser *p, char c)
{
    return p->pos < p->len && p->s[p->pos] == c;
}

static bool at_digit(const struct parser *p)
{
    return p->pos < p->len && g_ascii_isdigit(p->s[p->pos]);
}

static int parse_value(struct parser *p, JsonNode **out);

static int hex4(struct parser *p, gunichar *out)
{
    gunichar v = 0;

    for (int i = 0; i < 4; i++) {
        int d = p->pos < p->len ? g_ascii_xdigit_value(p->s[p->pos]) : -1;
        if (d < 0)
            return unexpected(p, "four hex digits after \\u");
        v = v << 4 | (gunichar)d;
        p->pos++;
    }
    *out = v;
    return 0;
}

static int parse_escape(struct parser *p, GString *out)
{
    size_t start = p->pos - 1; /* the backslash */
    gunichar u;

    if (p->pos >= p->len)
        return fail_at(p, start, "unterminated escape");
    char c = p->s[p->pos++];
    switch (c) {
    case '"':
    case '\\':
    case '/':
        g_string_append_c(out, c);
        return 0;
    case 'b':
        g_string_append_c(out, '\b');
        return 0;
    case 'f':
        g_string_append_c(out, '\f');
        return 0;
    case 'n':
        g_string_append_c(out, '\n');
        return 0;
    case 'r':
        g_string_append_c(out, '\r');
        return 0;
    case 't':
        g_string_append_c(out, '\t');
        return 0;
    case 'u':
        break;
    default:
        p->pos--;
        return unexpected(p, "an escape (one of \" \\ / b f n r t u) after '\\'");
    }
    if (hex4(p, &u) < 0)
        return -EINVAL;
    /* Strings become C strings in json-glib; a NUL would silently cut them short. */
    if (u == 0)
        return fail_at(p, start, "\\u0000 is not allowed in strings");
    if (u >= 0xdc00 && u <= 0xdfff)
        return fail_at(p, start, "lone low surrogate \\u%04X", u);
    if (u >= 0xd800 && u <= 0xdbff) {
        gunichar lo;
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return fail_at(p, start, "high surrogate \\u%04X without a low surrogate after it", u);
        p->pos += 2;
        if (hex4(p, &lo) < 0)
            return -EINVAL;
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail_at(p, start, "high surrogate \\u%04X followed by \\u%04X, not by a low one",
                           u, lo);
        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
    }
    g_string_append_unichar(out, u);
    return 0;
}

/* The line is known to be valid UTF-8, so plain bytes are copied through unchecked. */
static int parse_string(struct parser *p, GString *out)
{
    size_t start = p->pos++;

    for (;;) {
        if (p->pos >= p->len)
            return fail_at(p, start, "unterminated string starting");
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return 0;
        }
        if (c < 0x20)
            return fail_at(p, p->pos, "control character U+%04X in a string must be escaped", c);
        if (c == '\\') {
            p->pos++;
            if (parse_escape(p, out) < 0)
                return -EINVAL;
            continue;
        }
        size_t run = p->pos;
        while (p->pos < p->len && p->s[p->pos] != '"' && p->s[p->pos] != '\\' &&
               (unsigned char)p->s[p->pos] >= 0x20)
            p->pos++;
        g_string_append_len(out, p->s + run, (gssize)(p->pos - run));
    }
}

static int parse_number(struct parser *p, JsonNode **out)
{
    size_t start = p->pos;
    bool integer = true;

    if (at(p, '-'))
        p->pos++;
    if (!at_digit(p))
        return unexpected(p, "a digit");
    if (at(p, '0')) {
        p->pos++;
        if (at_digit(p))
            return fail_at(p, start, "number with a leading zero");
    } else {
        while (at_digit(p))
            p->pos++;
    }
    if (at(p, '.')) {
        integer = false;
        p->pos++;
        if (!at_digit(p))
            return unexpected(p, "a digit after the decimal point");
        while (at_digit(p))
            p->pos++;
    }
    if (at(p, 'e') || at(p, 'E')) {
        integer = false;
        p->pos++;
        if (at(p, '+') || at(p, '-'))
            p->pos++;
        if (!at_digit(p))
            return unexpected(p, "a digit in the exponent");
        while (at_digit(p))
            p->pos++;
    }

    g_autofree char *text = g_strndup(p->s + start, p->pos - start);
    if (integer) {
        errno = 0;
        gint64 v = g_ascii_strtoll(text, NULL, 10);
        if (errno == ERANGE) {
            g_autofree char *q = quote(text, p->pos - start);
            return fail_at(p, start, "integer %s is out of range (integers must fit in 64 bits)",
                           q);
        }
        *out = json_node_init_int(json_node_alloc(), v);
    } else {
        double v = g_ascii_strtod(text, NULL);
        if (!isfinite(v)) {
            g_autofree char *q = quote(text, p->pos - start);
            return fail_at(p, start, "number %s is out of range for a double", q);
        }
        *out = json_node_init_double(json_node_alloc(), v);
    }
    return 0;
}

static int parse_word(struct parser *p, JsonNode **out)
{
    size_t start = p->pos;

    while (p->pos < p->len && g_ascii_isalnum(p->s[p->pos]))
        p->pos++;
    size_t n = p->pos - start;
    const char *w = p->s + start;
    if (n == 4 && memcmp(w, "true", 4) == 0)
        *out = json_node_init_boolean(json_node_alloc(), TRUE);
    else if (n == 5 && memcmp(w, "false", 5) == 0)
        *out = json_node_init_boolean(json_node_alloc(), FALSE);
    else if (n == 4 && memcmp(w, "null", 4) == 0)
        *out = json_node_init_null(json_node_alloc());
    else {
        g_autofree char *q = quote(w, n);
        return fail_at(p, start, "unknown word \"%s\" (JSON's words are true, false and null)", q);
    }
    return 0;
}

static int enter(struct parser *p)
{
    if (++p->depth > HV_CONTROL_MAX_DEPTH)
        return fail_at(p, p->pos, "nesting deeper than %d levels", HV_CONTROL_MAX_DEPTH);
    p->pos++;
    return 0;
}

static int parse_array(struct parser *p, JsonNode **out)
{
    if (enter(p) < 0)
        return -EINVAL;
    g_autoptr(JsonArray) arr = json_array_new();
    skip_ws(p);
    if (at(p, ']')) {
        p->pos++;
    } else {
        for (;;) {
            JsonNode *v;
            skip_ws(p);
            if (parse_value(p, &v) < 0)
                return -EINVAL;
            json_array_add_element(arr, v);
            skip_ws(p);
            if (at(p, ']')) {
                p->pos++;
                break;
            }
            if (!at(p, ','))
                return unexpected(p, "',' or ']'");
            p->pos++;
        }
    }
    p->depth--;
    *out = json_node_init_array(json_node_alloc(), arr);
    return 0;
}

static int parse_object(struct parser *p, JsonNode **out)
{
    if (enter(p) < 0)
        return -EINVAL;
    g_autoptr(JsonObject) obj = json_object_new();
    g_autoptr(GString) key = g_string_new(NULL);
    skip_ws(p);
    if (at(p, '}')) {
        p->pos++;
    } else {
        for (;;) {
            JsonNode *v;
            skip_ws(p);
            if (!at(p, '"'))
                return unexpected(p, "a string (an object key)");
            size_t key_pos = p->pos;
            g_string_truncate(key, 0);
            if (parse_string(p, key) < 0)
                return -EINVAL;
            /* json-glib keeps the last of duplicate keys; refusing them avoids guessing. */
            if (json_object_has_member(obj, key->str)) {
                g_autofree char *q = quote(key->str, key->len);
                return fail_at(p, key_pos, "duplicate key \"%s\"", q);
            }
            skip_ws(p);
            if (!at(p, ':'))
                return unexpected(p, "':' after an object key");
            p->pos++;
            skip_ws(p);
            size_t value_pos = p->pos;
            if (parse_value(p, &v) < 0)
                return -EINVAL;
            if (p->depth == 1 && strcmp(key->str, "id") == 0) {
                p->have_id = true;
                p->id_start = value_pos;
                p->id_end = p->pos;
            }
            json_object_set_member(obj, key->str, v);
            skip_ws(p);
            if (at(p, '}')) {
                p->pos++;
                break;
            }
            if (!at(p, ','))
                return unexpected(p, "',' or '}'");
            p->pos++;
        }
    }
    p->depth--;
    *out = json_node_init_object(json_node_alloc(), obj);
    return 0;
}

static int parse_value(struct parser *p, JsonNode **out)
{
    if (p->pos >= p->len)
        return unexpected(p, "a value");
    char c = p->s[p->pos];
    if (c == '{')
        return parse_object(p, out);
    if (c == '[')
        return parse_array(p, out);
    if (c == '"') {
        g_autoptr(GString) s = g_string_new(NULL);
        if (parse_string(p, s) < 0)
            return -EINVAL;
        *out = json_node_init_string(json_node_alloc(), s->str);
        return 0;
    }
    if (c == '-' || g_ascii_isdigit(c))
        return parse_number(p, out);
    if (g_ascii_isalpha(c))
        return parse_word(p, out);
    return unexpected(p, "a value");
}

static int parse_text(struct parser *p, JsonNode **out)
{
    const char *nul = memchr(p->s, '\0', p->len);
    if (nul)
        return fail_at(p, (size_t)(nul - p->s), "NUL byte");
    const char *bad;
    if (!g_utf8_validate_len(p->s, p->len, &bad))
        return fail_at(p, (size_t)(bad - p->s), "invalid UTF-8 (byte 0x%02x)", (unsigned char)*bad);

    skip_ws(p);
    if (p->pos >= p->len)
        return hv_control_error_set(p->err, HV_CONTROL_ERROR_PARSE,
                                    "empty line, expected a JSON object");
    g_autoptr(JsonNode) root = NULL;
    if (parse_value(p, &root) < 0)
        return -EINVAL;
    skip_ws(p);
    if (p->pos < p->len)
        return unexpected(p, "end of line after the JSON value");
    *out = g_steal_pointer(&root);
    return 0;
}

int hv_control_parse_json(const char *text, size_t len, JsonNode **out,
                          struct hv_control_error *err)
{
    struct parser p = {.s = text, .len = len, .err = err};

    return parse_text(&p, out);
}

/* "the number 5", "an array"...: what a client sent where something else was expected. */
static char *describe_node(JsonNode *node)
{
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT:
        return g_strdup("an object");
    case JSON_NODE_ARRAY:
        return g_strdup("an array");
    case JSON_NODE_NULL:
        return g_strdup("null");
    case JSON_NODE_VALUE:
        break;
    }
    GType t = json_node_get_value_type(node);
    if (t == G_TYPE_STRING) {
        const char *s = json_node_get_string(node);
        g_autofree char *q = quote(s, strlen(s));
        return g_strdup_printf("the string \"%s\"", q);
    }
    if (t == G_TYPE_BOOLEAN)
        return g_strdup_printf("the boolean %s", json_node_get_boolean(node) ? "true" : "false");
    if (t == G_TYPE_INT64)
        return g_strdup_printf("the number %" G_GINT64_FORMAT, json_node_get_int(node));
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    return g_strdup_printf("the number %s",
                           g_ascii_formatd(buf, sizeof(buf), "%g", json_node_get_double(node)));
}

static const char *const request_fields[] = {"execute", "arguments", "id", NULL};

int hv_control_parse_request(const char *line, size_t len, struct hv_control_request *req,
                             struct hv_control_error *err)
{
    struct parser p = {.s = line, .len = len, .err = err};
    g_autoptr(JsonNode) root = NULL;

    if (len > HV_CONTROL_MAX_LINE)
        return hv_control_error_set(err, HV_CONTROL_ERROR_PARSE,
                                    "request line of %zu bytes, the limit is %d bytes", len,
                                    HV_CONTROL_MAX_LINE);
    /* The echoed id must not be able to split the reply into two lines. */
    const char *nl = memchr(line, '\n', len);
    if (nl)
        return hv_control_error_set(err, HV_CONTROL_ERROR_PARSE,
                                    "newline at byte %zu, a request is one line",
                                    (size_t)(nl - line));
    if (parse_text(&p, &root) < 0)
        return -EINVAL;
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        g_autofree char *what = describe_node(root);
        return hv_control_error_set(err, HV_CONTROL_ERROR_INVALID_REQUEST,
                                    "a request must be a JSON object, not %s", what);
    }
    if (p.have_id)
        req->id = g_strndup(line + p.id_start, p.id_end - p.id_start);

    JsonObject *obj = json_node_get_object(root);
    g_autoptr(GList) names = json_object_get_members(obj);
    for (GList *l = names; l; l = l->next) {
        const char *name = l->data;
        if (g_strv_contains(request_fields, name))
            continue;
        g_autofree char *q = quote(name, strlen(name));
        return hv_control_error_set(err, HV_CONTROL_ERROR_INVALID_REQUEST,
                                    "unknown field \"%s\", expected execute, arguments or id", q);
    }

    JsonNode *execute = json_object_get_member(obj, "execute");
    if (!execute)
        return hv_control_error_set(err, HV_CONTROL_ERROR_INVALID_REQUEST,
                                    "missing field \"execute\" (the command name)");
    if (json_node_get_value_type(execute) != G_TYPE_STRING) {
        g_autofree char *what = describe_node(execute);
        return hv_control_error_set(err, HV_CONTROL_ERROR_INVALID_REQUEST,
                                    "field \"execute\" must be a string (the command name), not %s",
                                    what);
    }
    JsonNode *args = json_object_get_member(obj, "arguments");
    if (args && !JSON_NODE_HOLDS_OBJECT(args)) {
        g_autofree char *what = describe_node(args);
        return hv_control_error_set(err, HV_CONTROL_ERROR_INVALID_REQUEST,
                                    "field \"arguments\" must be an object, not %s", what);
    }

    req->command = g_strdup(json_node_get_string(execute));
    req->arguments = args ? json_object_ref(json_node_get_object(args)) : json_object_new();
    return 0;
}

void hv_control_request_clear(struct hv_control_request *req)
{
    g_clear_pointer(&req->command, g_free);
    g_clear_pointer(&req->id, g_free);
    g_clear_pointer(&req->arguments, json_object_unref);
}

int hv_control_check_arguments(const char *command, JsonObject *args, const char *const *allowed,
                               struct hv_control_error *err)
{
    g_autoptr(GList) names = json_object_get_members(args);

    for (GList *l = names; l; l = l->next) {
        const char *name = l->data;
        if (allowed && g_strv_contains(allowed, name))
            continue;
        g_autofree char *q = quote(name, strlen(name));
        if (!allowed || !allowed[0])
            return hv_control_error_set(err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                                        "command \"%s\" takes no arguments, got \"%s\"", command,
                                        q);
        g_autofree char *list = g_strjoinv(", ", (char **)allowed);
        return hv_control_error_set(err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                                    "command \"%s\" takes only %s, got \"%s\"", command, list, q);
    }
    return 0;
}

static JsonNode *empty_object(void)
{
    g_autoptr(JsonObject) obj = json_object_new();
    return json_node_init_object(json_node_alloc(), obj);
}

/* json-glib's generator escapes control characters, so its output never holds a newline. */
static void append_string(GString *s, const char *str)
{
    g_string_append_c(s, '"');
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        switch (*p) {
        case '"': g_string_append(s, "\\\""); break;
        case '\\': g_string_append(s, "\\\\"); break;
        case '\n': g_string_append(s, "\\n"); break;
        case '\r': g_string_append(s, "\\r"); break;
        case '\t': g_string_append(s, "\\t"); break;
        default:
            if (*p < 0x20)
                g_string_append_printf(s, "\\u%04x", *p);
            else
                g_string_append_c(s, (char)*p);
        }
    }
    g_string_append_c(s, '"');
}

/*
 * Our own writer rather than json_to_string: json-glib 1.6 writes some doubles as
 * "7e+34.0", which is not JSON (the fuzzer found it). Strings are valid UTF-8 already.
 */
static void append_json(GString *s, JsonNode *node)
{
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_NULL:
        g_string_append(s, "null");
        return;
    case JSON_NODE_OBJECT: {
        JsonObject *o = json_node_get_object(node);
        g_autoptr(GList) members = json_object_get_members(o);
        g_string_append_c(s, '{');
        for (GList *l = members; l; l = l->next) {
            if (l != members)
                g_string_append_c(s, ',');
            append_string(s, l->data);
            g_string_append_c(s, ':');
            append_json(s, json_object_get_member(o, l->data));
        }
        g_string_append_c(s, '}');
        return;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *a = json_node_get_array(node);
        g_string_append_c(s, '[');
        for (guint i = 0; i < json_array_get_length(a); i++) {
            if (i)
                g_string_append_c(s, ',');
            append_json(s, json_array_get_element(a, i));
        }
        g_string_append_c(s, ']');
        return;
    }
    case JSON_NODE_VALUE:
        break;
    }
    GType t = json_node_get_value_type(node);
    if (t == G_TYPE_BOOLEAN) {
        g_string_append(s, json_node_get_boolean(node) ? "true" : "false");
    } else if (t == G_TYPE_INT64) {
        g_string_append_printf(s, "%" G_GINT64_FORMAT, json_node_get_int(node));
    } else if (t == G_TYPE_DOUBLE) {
        double d = json_node_get_double(node);
        if (!isfinite(d)) {
            g_string_append(s, "null");
        } else {
            char buf[G_ASCII_DTOSTR_BUF_SIZE];
            g_string_append(s, g_ascii_formatd(buf, sizeof(buf), "%.17g", d));
        }
    } else if (t == G_TYPE_STRING) {
        append_string(s, json_node_get_string(node));
    } else {
        g_string_append(s, "null");
    }
}

static char *finish_line(GString *s, const char *id)
{
    if (id) {
        g_string_append(s, ",\"id\":");
        g_string_append(s, id);
    }
    g_string_append(s, "}\n");
    return g_string_free(s, FALSE);
}

char *hv_control_greeting_line(const char *version, const char *const *commands, size_t n_commands)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "vmdesk");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "version");
    json_builder_add_string_value(b, version);
    json_builder_set_member_name(b, "protocol");
    json_builder_add_int_value(b, HV_CONTROL_PROTOCOL_VERSION);
    json_builder_set_member_name(b, "commands");
    json_builder_begin_array(b);
    for (size_t i = 0; i < n_commands; i++)
        json_builder_add_string_value(b, commands[i]);
    json_builder_end_array(b);
    json_builder_end_object(b);
    json_builder_end_object(b);

    g_autoptr(JsonNode) root = json_builder_get_root(b);
    GString *s = g_string_new(NULL);
    append_json(s, root);
    g_string_append_c(s, '\n');
    return g_string_free(s, FALSE);
}

char *hv_control_return_line(JsonNode *ret, const char *id)
{
    g_autoptr(JsonNode) node = ret ? ret : empty_object();
    GString *s = g_string_new("{\"return\":");

    append_json(s, node);
    return finish_line(s, id);
}

char *hv_control_error_line(enum hv_control_error_class cls, const char *desc, const char *id)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    /* A message from a VM callback could carry stray bytes; the reply must stay JSON. */
    g_autofree char *valid = g_utf8_make_valid(desc ? desc : "", -1);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "class");
    json_builder_add_string_value(b, hv_control_error_class_name(cls));
    json_builder_set_member_name(b, "desc");
    json_builder_add_string_value(b, valid);
    json_builder_end_object(b);

    g_autoptr(JsonNode) error = json_builder_get_root(b);
    GString *s = g_string_new("{\"error\":");
    append_json(s, error);
    return finish_line(s, id);
}

char *hv_control_event_line(const char *event, JsonNode *data, gint64 time_us)
{
    g_autoptr(JsonNode) name = json_node_init_string(json_node_alloc(), event);
    g_autoptr(JsonNode) payload = data ? data : empty_object();
    GString *s = g_string_new("{\"event\":");

    append_json(s, name);
    g_string_append(s, ",\"data\":");
    append_json(s, payload);
    /* Printed by hand: the generator writes doubles with 17 digits, not to the microsecond. */
    if (time_us < 0)
        time_us = 0;
    g_string_append_printf(s, ",\"timestamp\":%" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT "}\n",
                           time_us / G_USEC_PER_SEC, time_us % G_USEC_PER_SEC);
    return g_string_free(s, FALSE);
}
