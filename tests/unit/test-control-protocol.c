/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of the control protocol: the request parser, the reply lines, and the socket server. */
#include "control/protocol.h"
#include "control/server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

/* ---- the parser ---- */

/* Fails the test showing `shown` when `cond` is false: g_assert_cmpstr prints both sides. */
#define CHECK_SHOWING(cond, shown, expected)                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            g_assert_cmpstr((shown), ==, (expected));                                              \
    } while (0)

static void expect_ok_len(const char *line, size_t len, const char *command, const char *id)
{
    struct hv_control_request req = {0};
    struct hv_control_error err = {0};

    int rc = hv_control_parse_request(line, len, &req, &err);
    CHECK_SHOWING(rc == 0, err.desc, "(accepted)");
    g_assert_cmpstr(req.command, ==, command);
    g_assert_cmpstr(req.id, ==, id);
    g_assert_nonnull(req.arguments);
    hv_control_request_clear(&req);
}

static void expect_ok(const char *line, const char *command, const char *id)
{
    expect_ok_len(line, strlen(line), command, id);
}

/* Returns nothing; checks the class, the echoed id, one line, and that `needle` is named. */
static void expect_error_len(const char *line, size_t len, enum hv_control_error_class cls,
                             const char *id, const char *needle)
{
    struct hv_control_request req = {0};
    struct hv_control_error err = {0};

    int rc = hv_control_parse_request(line, len, &req, &err);
    CHECK_SHOWING(rc == -EINVAL, line, "(rejected)");
    g_assert_cmpstr(hv_control_error_class_name(err.cls), ==, hv_control_error_class_name(cls));
    g_assert_nonnull(err.desc);
    g_assert_null(strchr(err.desc, '\n'));
    g_assert_cmpuint(strlen(err.desc), <, 400);
    if (needle)
        CHECK_SHOWING(strstr(err.desc, needle), err.desc, needle);
    g_assert_cmpstr(req.id, ==, id);
    hv_control_error_clear(&err);
    hv_control_request_clear(&req);
}

static void expect_error(const char *line, enum hv_control_error_class cls, const char *id,
                         const char *needle)
{
    expect_error_len(line, strlen(line), cls, id, needle);
}

static void test_parse_minimal(void)
{
    struct hv_control_request req = {0};
    struct hv_control_error err = {0};
    const char *line = "{\"execute\": \"query-status\"}";

    g_assert_cmpint(hv_control_parse_request(line, strlen(line), &req, &err), ==, 0);
    g_assert_cmpstr(req.command, ==, "query-status");
    g_assert_null(req.id);
    g_assert_nonnull(req.arguments);
    g_assert_cmpuint(json_object_get_size(req.arguments), ==, 0);
    g_assert_null(err.desc);
    hv_control_request_clear(&req);

    expect_ok("  {\"id\": 7, \"execute\": \"pause\"}\r", "pause", "7");
    expect_ok("{\"execute\":\"\"}", "", NULL);
}

static void test_parse_id_echo(void)
{
    static const char *const ids[] = {
        "1",
        "-5",
        "0",
        "1.5",
        "0.1",
        "1e3",
        "-2.5E-3",
        "9223372036854775807",
        "-9223372036854775808",
        "\"abc\"",
        "\"caf\\u00e9 \\\"q\\\" \\n\"",
        "\"caf\xc3\xa9\"",
        "null",
        "true",
        "false",
        "[]",
        "[1, \"two\", {\"three\": 3}]",
        "{}",
        "{\"b\": 1,  \"a\": [1,2, {\"id\": 3}]}",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
        g_autofree char *line = g_strdup_printf("{\"execute\":\"quit\",\"id\":%s}", ids[i]);
        expect_ok(line, "quit", ids[i]);
        /* Before and after "execute", and with an error: the id comes back byte for byte. */
        g_autofree char *first = g_strdup_printf("{\"id\": %s , \"execute\":\"quit\"}", ids[i]);
        expect_ok(first, "quit", ids[i]);
        g_autofree char *bad = g_strdup_printf("{\"id\":%s,\"execute\":5}", ids[i]);
        expect_error(bad, HV_CONTROL_ERROR_INVALID_REQUEST, ids[i], "execute");

        struct hv_control_request req = {0};
        struct hv_control_error err = {0};
        g_assert_cmpint(hv_control_parse_request(line, strlen(line), &req, &err), ==, 0);
        g_autofree char *reply = hv_control_return_line(NULL, req.id);
        g_autofree char *want = g_strdup_printf("{\"return\":{},\"id\":%s}\n", ids[i]);
        g_assert_cmpstr(reply, ==, want);
        hv_control_request_clear(&req);
    }
    /* An "id" inside the arguments is not the request's id. */
    expect_ok("{\"execute\":\"x\",\"arguments\":{\"id\":5}}", "x", NULL);
}

static void test_parse_arguments(void)
{
    struct hv_control_request req = {0};
    struct hv_control_error err = {0};
    const char *line = "{\"execute\":\"x\",\"arguments\":{\"n\":-3,\"s\":\"t\",\"o\":{\"a\":[true,"
                       "null]},\"big\":9223372036854775807,\"f\":2.5}}";

    g_assert_cmpint(hv_control_parse_request(line, strlen(line), &req, &err), ==, 0);
    g_assert_cmpuint(json_object_get_size(req.arguments), ==, 5);
    g_assert_cmpint(json_object_get_int_member(req.arguments, "n"), ==, -3);
    g_assert_cmpstr(json_object_get_string_member(req.arguments, "s"), ==, "t");
    g_assert_cmpint(json_object_get_int_member(req.arguments, "big"), ==, G_MAXINT64);
    g_assert_cmpfloat(json_object_get_double_member(req.arguments, "f"), ==, 2.5);
    JsonObject *o = json_object_get_object_member(req.arguments, "o");
    JsonArray *a = json_object_get_array_member(o, "a");
    g_assert_cmpuint(json_array_get_length(a), ==, 2);
    g_assert_true(json_array_get_boolean_element(a, 0));
    g_assert_true(json_array_get_null_element(a, 1));
    hv_control_request_clear(&req);

    expect_ok("{\"execute\":\"x\",\"arguments\":{}}", "x", NULL);
    expect_error("{\"execute\":\"x\",\"arguments\":[]}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL,
                 "\"arguments\" must be an object, not an array");
    expect_error("{\"execute\":\"x\",\"arguments\":null,\"id\":2}",
                 HV_CONTROL_ERROR_INVALID_REQUEST, "2", "not null");
    expect_error("{\"execute\":\"x\",\"arguments\":\"a\"}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL,
                 "not the string \"a\"");
    expect_error("{\"execute\":\"x\",\"arguments\":3}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL,
                 "not the number 3");
}

static void test_parse_check_arguments(void)
{
    static const char *const allowed[] = {"force", "timeout", NULL};
    static const char *const none[] = {NULL};
    g_autoptr(JsonObject) empty = json_object_new();
    g_autoptr(JsonObject) args = json_object_new();
    struct hv_control_error err = {0};

    g_assert_cmpint(hv_control_check_arguments("pause", empty, NULL, &err), ==, 0);
    json_object_set_boolean_member(args, "force", TRUE);
    g_assert_cmpint(hv_control_check_arguments("stop", args, allowed, &err), ==, 0);
    g_assert_cmpint(hv_control_check_arguments("pause", args, NULL, &err), ==, -EINVAL);
    g_assert_cmpint(err.cls, ==, HV_CONTROL_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err.desc, ==, "command \"pause\" takes no arguments, got \"force\"");
    hv_control_error_clear(&err);
    g_assert_cmpint(hv_control_check_arguments("pause", args, none, &err), ==, -EINVAL);
    hv_control_error_clear(&err);
    json_object_set_int_member(args, "speed", 3);
    g_assert_cmpint(hv_control_check_arguments("stop", args, allowed, &err), ==, -EINVAL);
    g_assert_cmpstr(err.desc, ==, "command \"stop\" takes only force, timeout, got \"speed\"");
    hv_control_error_clear(&err);
}

static void test_parse_not_json(void)
{
    static const struct {
        const char *line;
        const char *needle;
    } cases[] = {
        {"", "empty line"},
        {"   \t ", "empty line"},
        {"{", "byte 1"},
        {"}", "unexpected '}'"},
        {"{\"execute\":", "end of line"},
        {"{\"execute\" \"x\"}", "expected ':'"},
        {"{\"execute\":\"x\",}", "expected a string (an object key)"},
        {"{\"execute\":\"x\" \"id\":1}", "expected ',' or '}'"},
        {"{execute:\"x\"}", "unexpected 'e'"},
        {"{'execute':'x'}", "unexpected '''"},
        {"nope", "unknown word \"nope\" (JSON's words are true, false and null) at byte 0"},
        {"True", "unknown word \"True\""},
        {"nul", "unknown word"},
        {"nullx", "unknown word"},
        {"NaN", "unknown word"},
        {"Infinity", "unknown word"},
        {"/* c */ {}", "unexpected '/'"},
        {"# c", "unexpected '#'"},
        {"{\"execute\":\"x\"} trailing", "after the JSON value"},
        {"{\"execute\":\"x\"}{}", "after the JSON value"},
        {"{\"execute\":\"x\"} /* c */", "after the JSON value"},
        {"[1,2,]", "unexpected ']'"},
        {"[1 2]", "expected ',' or ']'"},
        {"0x10", "after the JSON value"},
        {"01", "leading zero"},
        {"-01", "leading zero"},
        {"1.", "after the decimal point"},
        {".5", "unexpected '.'"},
        {"-", "expected a digit"},
        {"+1", "unexpected '+'"},
        {"1e", "in the exponent"},
        {"1e+", "in the exponent"},
        {"\"unterminated", "unterminated string"},
        {"\"bad \\x escape\"", "unexpected 'x', expected an escape"},
        {"\"\\u12\"", "four hex digits"},
        {"\"\\u12G4\"", "four hex digits"},
        {"\"\\ud800\"", "high surrogate \\uD800 without a low surrogate"},
        {"\"\\ud800\\u0041\"", "followed by \\u0041, not by a low one"},
        {"\"\\udc00\"", "lone low surrogate"},
        {"\"\\u0000\"", "\\u0000 is not allowed"},
        {"{\"execute\":\"a\\u0000b\"}", "\\u0000 is not allowed"},
        {"\"tab\there\"", "control character U+0009 in a string must be escaped"},
        {"\"\\", "unterminated escape"},
        {"{\"a\" 1}", "expected ':'"},
        {"{1:2}", "expected a string"},
        {"{\"execute\":\"x\",\"execute\":\"y\"}", "duplicate key \"execute\""},
        {"{\"execute\":\"x\",\"arguments\":{\"a\":1,\"a\":2}}", "duplicate key \"a\""},
        {"{\"execute\":\"x\",\"id\":1,\"id\":2}", "duplicate key \"id\""},
        {"{\"execute\":\"x\"}\x7f", "unexpected character U+007F"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        expect_error(cases[i].line, HV_CONTROL_ERROR_PARSE, NULL, cases[i].needle);
    /* The id of a line that is not JSON cannot be trusted, so none is echoed. */
    expect_error("{\"id\":1,\"execute\":}", HV_CONTROL_ERROR_PARSE, NULL, "byte 18");
}

static void test_parse_not_object(void)
{
    expect_error("[]", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "not an array");
    expect_error("[{\"execute\":\"x\",\"id\":1}]", HV_CONTROL_ERROR_INVALID_REQUEST, NULL,
                 "must be a JSON object");
    expect_error("\"query-status\"", HV_CONTROL_ERROR_INVALID_REQUEST, NULL,
                 "not the string \"query-status\"");
    expect_error("42", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "not the number 42");
    expect_error("-0.5", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "not the number -0.5");
    expect_error("null", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "not null");
    expect_error("true", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "not the boolean true");
}

static void test_parse_envelope(void)
{
    expect_error("{}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "missing field \"execute\"");
    expect_error("{\"id\":\"a\"}", HV_CONTROL_ERROR_INVALID_REQUEST, "\"a\"",
                 "missing field \"execute\"");
    expect_error("{\"arguments\":{}}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "missing");
    expect_error("{\"execute\":1}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL,
                 "\"execute\" must be a string (the command name), not the number 1");
    expect_error("{\"execute\":null}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "not null");
    expect_error("{\"execute\":[\"x\"]}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "an array");
    expect_error("{\"execute\":{}}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "an object");
    expect_error("{\"execute\":false}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "boolean false");
    expect_error("{\"execute\":\"x\",\"id\":3,\"exec\":1}", HV_CONTROL_ERROR_INVALID_REQUEST, "3",
                 "unknown field \"exec\", expected execute, arguments or id");
    expect_error("{\"Execute\":\"x\"}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL,
                 "unknown field \"Execute\"");
    expect_error("{\"execute\":\"x\",\"\":1}", HV_CONTROL_ERROR_INVALID_REQUEST, NULL,
                 "unknown field \"\"");
    /* A long unknown name is cut short in the description. */
    g_autofree char *longname = g_strnfill(5000, 'k');
    g_autofree char *line = g_strdup_printf("{\"execute\":\"x\",\"%s\":1}", longname);
    expect_error(line, HV_CONTROL_ERROR_INVALID_REQUEST, NULL, "kkk...\"");
}

static void test_parse_garbage(void)
{
    static const char *const bad_utf8[] = {
        "\xff",
        "{\"execute\":\"\xc0\xaf\"}",     /* overlong */
        "{\"execute\":\"\xed\xa0\x80\"}", /* an encoded surrogate */
        "{\"execute\":\"\xe2\x82\"}",     /* truncated */
        "\x80\x81\x82",
        "{\"execute\":\"x\"}\xfe",
    };
    GRand *rand = g_rand_new_with_seed(1);

    for (size_t i = 0; i < G_N_ELEMENTS(bad_utf8); i++)
        expect_error(bad_utf8[i], HV_CONTROL_ERROR_PARSE, NULL, "invalid UTF-8");
    expect_error("\x01\x02", HV_CONTROL_ERROR_PARSE, NULL, "character U+0001");
    expect_error("\xc3\xa9", HV_CONTROL_ERROR_PARSE, NULL, "character U+00E9");
    expect_ok("{\"execute\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}", "caf\xc3\xa9 \xf0\x9f\x98\x80",
              NULL);
    expect_ok("{\"execute\":\"\\ud83d\\ude00\"}", "\xf0\x9f\x98\x80", NULL);

    for (int i = 0; i < 2000; i++) {
        guint8 buf[64];
        size_t len = (size_t)g_rand_int_range(rand, 0, sizeof(buf));
        for (size_t j = 0; j < len; j++)
            buf[j] = (guint8)g_rand_int_range(rand, 0, 256);
        struct hv_control_request req = {0};
        struct hv_control_error err = {0};
        if (hv_control_parse_request((const char *)buf, len, &req, &err) < 0) {
            g_assert_nonnull(err.desc);
            hv_control_error_clear(&err);
        }
        hv_control_request_clear(&req);
    }
    g_rand_free(rand);
}

static void test_parse_nul(void)
{
    static const char line[] = "{\"execute\":\"query-status\"}";
    static const char inside[] = "{\"execute\":\"query\0status\"}";

    expect_error_len(line, sizeof(line), HV_CONTROL_ERROR_PARSE, NULL, "NUL byte at byte 26");
    expect_error_len(inside, sizeof(inside) - 1, HV_CONTROL_ERROR_PARSE, NULL,
                     "NUL byte at byte 17");
    expect_error_len("\0", 1, HV_CONTROL_ERROR_PARSE, NULL, "NUL byte at byte 0");
    /* Only `len` bytes are looked at; the rest of the buffer does not matter. */
    expect_ok_len("{\"execute\":\"a\"}garbage", 15, "a", NULL);
}

static void test_parse_numbers(void)
{
    struct {
        const char *value;
        const char *needle;
    } bad[] = {
        {"9223372036854775808", "integer 9223372036854775808 is out of range"},
        {"-9223372036854775809", "integer -9223372036854775809 is out of range"},
        {"12345678901234567890123", "out of range (integers must fit in 64 bits)"},
        {"1e400", "number 1e400 is out of range for a double"},
        {"-1e400", "number -1e400 is out of range"},
        {"1.8e308", "out of range for a double"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *id = g_strdup_printf("{\"execute\":\"x\",\"id\":%s}", bad[i].value);
        g_autofree char *arg =
            g_strdup_printf("{\"execute\":\"x\",\"arguments\":{\"n\":[%s]}}", bad[i].value);
        expect_error(id, HV_CONTROL_ERROR_PARSE, NULL, bad[i].needle);
        expect_error(arg, HV_CONTROL_ERROR_PARSE, NULL, bad[i].needle);
    }
    expect_ok("{\"execute\":\"x\",\"id\":1e308}", "x", "1e308");
    expect_ok("{\"execute\":\"x\",\"id\":1e-400}", "x", "1e-400");
    expect_ok("{\"execute\":\"x\",\"id\":-0}", "x", "-0");

    /* A huge number is named in the description, but cut short. */
    g_autofree char *digits = g_strnfill(30000, '9');
    g_autofree char *line = g_strdup_printf("{\"execute\":\"x\",\"id\":%s}", digits);
    expect_error(line, HV_CONTROL_ERROR_PARSE, NULL, "integer 9999");
    g_autofree char *frac = g_strdup_printf("{\"execute\":\"x\",\"id\":0.%s}", digits);
    g_autofree char *frac_id = g_strdup_printf("0.%s", digits);
    expect_ok(frac, "x", frac_id);
}

/* `levels` nested arrays as the id; the request object itself is one more level. */
static char *nested_request(unsigned levels)
{
    GString *s = g_string_new("{\"execute\":\"x\",\"id\":");

    for (unsigned i = 0; i < levels; i++)
        g_string_append_c(s, '[');
    for (unsigned i = 0; i < levels; i++)
        g_string_append_c(s, ']');
    g_string_append_c(s, '}');
    return g_string_free(s, FALSE);
}

static void test_parse_depth(void)
{
    g_autofree char *ok = nested_request(HV_CONTROL_MAX_DEPTH - 1);
    g_autofree char *ok_open = g_strnfill(HV_CONTROL_MAX_DEPTH - 1, '[');
    g_autofree char *ok_close = g_strnfill(HV_CONTROL_MAX_DEPTH - 1, ']');
    g_autofree char *ok_id = g_strconcat(ok_open, ok_close, NULL);
    g_autofree char *too_deep = nested_request(HV_CONTROL_MAX_DEPTH);
    g_autofree char *objects = g_strdup("{\"execute\":\"x\",\"arguments\":");
    g_autofree char *opens = g_strnfill(HV_CONTROL_MAX_LINE - 10, '[');
    g_autofree char *braces = NULL;
    GString *s = g_string_new(objects);

    expect_ok(ok, "x", ok_id);
    expect_error(too_deep, HV_CONTROL_ERROR_PARSE, NULL, "nesting deeper than 64 levels");
    /* As deep as a line can hold, unbalanced: refused long before the stack is in danger. */
    expect_error(opens, HV_CONTROL_ERROR_PARSE, NULL, "nesting deeper than 64 levels at byte 64");
    for (unsigned i = 0; i < 5000; i++)
        g_string_append(s, "{\"a\":");
    braces = g_string_free(s, FALSE);
    expect_error(braces, HV_CONTROL_ERROR_PARSE, NULL, "nesting deeper");

    JsonNode *node = NULL;
    struct hv_control_error err = {0};
    g_assert_cmpint(hv_control_parse_json(opens, strlen(opens), &node, &err), ==, -EINVAL);
    g_assert_null(node);
    hv_control_error_clear(&err);
}

static void test_parse_line_limits(void)
{
    const char *head = "{\"execute\":\"x\",\"id\":\"";
    size_t fill = HV_CONTROL_MAX_LINE - strlen(head) - 2;
    g_autofree char *pad = g_strnfill(fill, 'p');
    g_autofree char *max = g_strdup_printf("%s%s\"}", head, pad);
    g_autofree char *over = g_strdup_printf("%s%sp\"}", head, pad);

    g_autofree char *max_id = g_strdup_printf("\"%s\"", pad);

    g_assert_cmpuint(strlen(max), ==, HV_CONTROL_MAX_LINE);
    expect_ok(max, "x", max_id);
    expect_error(over, HV_CONTROL_ERROR_PARSE, NULL,
                 "request line of 65537 bytes, the limit is 65536 bytes");
    expect_error("{\"execute\":\"x\",\n\"id\":1}", HV_CONTROL_ERROR_PARSE, NULL,
                 "newline at byte 15");
}

static void test_parse_json(void)
{
    JsonNode *node = NULL;
    struct hv_control_error err = {0};
    const char *text = " [1, -2.5, \"s\", true, false, null, {\"k\": {}}] ";

    g_assert_cmpint(hv_control_parse_json(text, strlen(text), &node, &err), ==, 0);
    g_autofree char *out = json_to_string(node, FALSE);
    g_assert_cmpstr(out, ==, "[1,-2.5,\"s\",true,false,null,{\"k\":{}}]");
    json_node_unref(node);
    node = NULL;
    g_assert_cmpint(hv_control_parse_json("[1]x", 4, &node, &err), ==, -EINVAL);
    g_assert_null(node);
    g_assert_cmpint(err.cls, ==, HV_CONTROL_ERROR_PARSE);
    g_assert_cmpstr(err.desc, ==,
                    "unexpected 'x', expected end of line after the JSON value "
                    "at byte 3");
    hv_control_error_clear(&err);
}

/* Mutations of good requests: whatever the bytes, the parser answers and stays in bounds. */
static void test_parse_mutations(void)
{
    static const char *const seeds[] = {
        "{\"execute\":\"query-status\",\"id\":1}",
        ("{\"execute\":\"pause\",\"arguments\":{\"a\":[1,2.5e3,\"\\u00e9\\ud83d\\ude00\"]},\"id\":"
         "{\"k\":null}}"),
        "{\"id\":\"x\\\"y\",\"execute\":\"quit\",\"arguments\":{}}",
    };
    GRand *rand = g_rand_new_with_seed(42);

    for (int i = 0; i < 20000; i++) {
        const char *seed = seeds[g_rand_int_range(rand, 0, G_N_ELEMENTS(seeds))];
        GString *s = g_string_new(seed);
        int edits = g_rand_int_range(rand, 1, 4);
        for (int e = 0; e < edits; e++) {
            gsize at = (gsize)g_rand_int_range(rand, 0, (gint32)s->len + 1);
            static const char alphabet[] = "{}[]\":,\\u0e9-+.ntf \x80\xc3\xff\t";
            char c = alphabet[g_rand_int_range(rand, 0, sizeof(alphabet))]; /* may be NUL */
            switch (g_rand_int_range(rand, 0, 3)) {
            case 0:
                g_string_insert_len(s, (gssize)at, &c, 1);
                break;
            case 1:
                if (at < s->len)
                    s->str[at] = c;
                break;
            default:
                if (at < s->len)
                    g_string_erase(s, (gssize)at, 1);
                break;
            }
        }
        struct hv_control_request req = {0};
        struct hv_control_error err = {0};
        int rc = hv_control_parse_request(s->str, s->len, &req, &err);
        g_autofree char *line = rc == 0 ? hv_control_return_line(NULL, req.id)
                                        : hv_control_error_line(err.cls, err.desc, req.id);
        /* The reply is itself one line of strict JSON, with the id intact. */
        g_assert_nonnull(strchr(line, '\n'));
        g_assert_true(strchr(line, '\n') == line + strlen(line) - 1);
        JsonNode *reply = NULL;
        struct hv_control_error rerr = {0};
        int rrc = hv_control_parse_json(line, strlen(line) - 1, &reply, &rerr);
        CHECK_SHOWING(rrc == 0, line, rerr.desc);
        g_assert_true(JSON_NODE_HOLDS_OBJECT(reply));
        g_assert_cmpint(json_object_has_member(json_node_get_object(reply), "id"), ==,
                        req.id != NULL);
        json_node_unref(reply);
        if (rc == 0) {
            g_assert_nonnull(req.command);
            g_assert_nonnull(req.arguments);
        } else {
            g_assert_nonnull(err.desc);
            g_assert_cmpuint(strlen(err.desc), <, 400);
        }
        hv_control_error_clear(&err);
        hv_control_request_clear(&req);
        g_string_free(s, TRUE);
    }
    g_rand_free(rand);
}

/* ---- the reply lines ---- */

static void test_lines_greeting(void)
{
    static const char *const names[] = {"query-status", "pause", "resume", "quit"};
    g_autofree char *line = hv_control_greeting_line("1.2.3", names, G_N_ELEMENTS(names));

    g_assert_cmpstr(line, ==,
                    "{\"vmdesk\":{\"version\":\"1.2.3\",\"protocol\":1,\"commands\":"
                    "[\"query-status\",\"pause\",\"resume\",\"quit\"]}}\n");
}

static void test_lines_return(void)
{
    g_autoptr(JsonObject) obj = json_object_new();
    json_object_set_string_member(obj, "state", "running");
    json_object_set_int_member(obj, "vcpus", 2);
    JsonNode *node = json_node_init_object(json_node_alloc(), obj);

    g_autofree char *a = hv_control_return_line(node, "1");
    g_assert_cmpstr(a, ==, "{\"return\":{\"state\":\"running\",\"vcpus\":2},\"id\":1}\n");
    g_autofree char *b = hv_control_return_line(NULL, NULL);
    g_assert_cmpstr(b, ==, "{\"return\":{}}\n");
}

static void test_lines_error(void)
{
    g_autofree char *a = hv_control_error_line(HV_CONTROL_ERROR_COMMAND_NOT_FOUND,
                                               "command \"x\" not found", "\"a\"");
    g_assert_cmpstr(a, ==,
                    "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"command \\\"x\\\" not "
                    "found\"},\"id\":\"a\"}\n");
    /* A description from a VM callback with a newline or stray bytes still gives one line. */
    g_autofree char *b = hv_control_error_line(HV_CONTROL_ERROR_GENERIC, "two\nlines \xff", NULL);
    g_assert_cmpstr(b, ==,
                    "{\"error\":{\"class\":\"GenericError\",\"desc\":\"two\\nlines "
                    "\xef\xbf\xbd\"}}\n");

    static const char *const names[] = {"ParseError",      "InvalidRequest", "CommandNotFound",
                                        "InvalidArgument", "InvalidState",   "GenericError"};
    for (int i = HV_CONTROL_ERROR_PARSE; i <= HV_CONTROL_ERROR_GENERIC; i++)
        g_assert_cmpstr(hv_control_error_class_name(i), ==, names[i]);
}

static void test_lines_event(void)
{
    g_autoptr(JsonObject) obj = json_object_new();
    json_object_set_string_member(obj, "state", "paused");

    g_autofree char *a = hv_control_event_line(
        "STATE_CHANGED", json_node_init_object(json_node_alloc(), obj), 1764236000500000);
    g_assert_cmpstr(a, ==,
                    "{\"event\":\"STATE_CHANGED\",\"data\":{\"state\":\"paused\"},"
                    "\"timestamp\":1764236000.500000}\n");
    g_autofree char *b = hv_control_event_line("E\"1", NULL, 1);
    g_assert_cmpstr(b, ==, "{\"event\":\"E\\\"1\",\"data\":{},\"timestamp\":0.000001}\n");
}

/* ---- the server, end to end in this process ---- */

struct fake_vm {
    const char *state;
    unsigned vcpus;
    unsigned pauses, resumes, quits;
    int fail_rc;            /* pause and resume fail with it when not 0 */
    struct hv_control *ctl; /* set to make pause emit STATE_CHANGED, as the VMM does */
    int quit_peek_fd;       /* the client whose reply must be readable when quit runs */
    bool reply_before_quit;
    unsigned powerdowns, resets;
    uint64_t balloon_target;
    uint64_t ram; /* balloon-set refuses more than this */
};

static const char *fake_state(void *opaque)
{
    return ((struct fake_vm *)opaque)->state;
}

static unsigned fake_vcpus(void *opaque)
{
    return ((struct fake_vm *)opaque)->vcpus;
}

static int fake_change(struct fake_vm *vm, const char *to, char **err)
{
    if (vm->fail_rc) {
        *err = g_strdup("the vCPUs did not answer");
        return vm->fail_rc;
    }
    vm->state = to;
    if (vm->ctl) {
        g_autoptr(JsonObject) data = json_object_new();
        json_object_set_string_member(data, "state", to);
        hv_control_emit(vm->ctl, "STATE_CHANGED", json_node_init_object(json_node_alloc(), data));
    }
    return 0;
}

static int fake_pause(void *opaque, char **err)
{
    struct fake_vm *vm = opaque;

    vm->pauses++;
    return fake_change(vm, "paused", err);
}

static int fake_resume(void *opaque, char **err)
{
    struct fake_vm *vm = opaque;

    vm->resumes++;
    return fake_change(vm, "running", err);
}

static void fake_quit(void *opaque)
{
    struct fake_vm *vm = opaque;
    char buf[256];

    vm->quits++;
    if (vm->quit_peek_fd >= 0) {
        ssize_t n = recv(vm->quit_peek_fd, buf, sizeof(buf) - 1, MSG_PEEK | MSG_DONTWAIT);
        buf[n > 0 ? n : 0] = '\0';
        vm->reply_before_quit = strstr(buf, "{\"return\":{},\"id\":\"bye\"}\n") != NULL;
    }
}

static void fake_devices(void *opaque, JsonBuilder *b)
{
    (void)opaque;
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, "rng0");
    json_builder_set_member_name(b, "kind");
    json_builder_add_string_value(b, "virtio-rng");
    json_builder_end_object(b);
}

static void fake_stats(void *opaque, JsonBuilder *b)
{
    struct fake_vm *vm = opaque;
    json_builder_set_member_name(b, "vcpus");
    json_builder_begin_array(b);
    for (unsigned i = 0; i < vm->vcpus; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_int_value(b, i);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static int fake_powerdown(void *opaque, char **err)
{
    struct fake_vm *vm = opaque;
    vm->powerdowns++;
    return fake_change(vm, vm->state, err);
}

static int fake_reset(void *opaque, char **err)
{
    struct fake_vm *vm = opaque;
    vm->resets++;
    return fake_change(vm, vm->state, err);
}

static int fake_balloon_set(void *opaque, uint64_t bytes, char **err)
{
    struct fake_vm *vm = opaque;
    if (bytes == 0 || bytes > vm->ram) {
        *err = g_strdup_printf("target %" G_GUINT64_FORMAT " bytes: out of range", bytes);
        return -ERANGE;
    }
    vm->balloon_target = bytes;
    return 0;
}

struct fixture {
    GMainContext *ctx;
    char *dir;
    char *path;
    struct fake_vm vm;
    struct hv_control_ops ops;
    struct hv_control *ctl;
};

struct client {
    int fd;
    GString *buf;
    bool eof;
};

static void pump(struct fixture *f)
{
    while (g_main_context_iteration(f->ctx, FALSE))
        ;
}

static void setup(struct fixture *f, gconstpointer data)
{
    GError *error = NULL;

    (void)data;
    f->ctx = g_main_context_new();
    g_main_context_push_thread_default(f->ctx);
    f->dir = g_dir_make_tmp("vmdesk-control-XXXXXX", &error);
    g_assert_no_error(error);
    f->path = g_build_filename(f->dir, "vm.sock", NULL);
    f->vm = (struct fake_vm){.state = "running", .vcpus = 2, .quit_peek_fd = -1,
                             .ram = 512ull << 20};
    f->ops = (struct hv_control_ops){
        .state = fake_state,
        .vcpus = fake_vcpus,
        .pause = fake_pause,
        .resume = fake_resume,
        .quit = fake_quit,
        .devices = fake_devices,
        .stats = fake_stats,
        .powerdown = fake_powerdown,
        .reset = fake_reset,
        .balloon_set = fake_balloon_set,
        .opaque = &f->vm,
    };
    f->ctl = hv_control_new(f->path, &f->ops, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->ctl);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    hv_control_free(f->ctl);
    pump(f);
    g_main_context_pop_thread_default(f->ctx);
    g_main_context_unref(f->ctx);
    g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        g_unlink(p);
    }
    g_assert_cmpint(g_rmdir(f->dir), ==, 0);
    g_free(f->path);
    g_free(f->dir);
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -errno;
    }
    return fd;
}

static char *client_line(struct fixture *f, struct client *c);

static void client_open(struct fixture *f, struct client *c)
{
    c->fd = connect_to(f->path);
    g_assert_cmpint(c->fd, >=, 0);
    c->buf = g_string_new(NULL);
    c->eof = false;
    g_autofree char *greeting = client_line(f, c);
    g_assert_nonnull(greeting);
    g_assert_true(g_str_has_prefix(greeting, "{\"vmdesk\":"));
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    g_string_free(c->buf, TRUE);
}

/* Reads whatever is there; returns false when nothing was. */
static bool client_poll(struct fixture *f, struct client *c)
{
    char tmp[65536];

    pump(f);
    ssize_t n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
    if (n > 0) {
        g_string_append_len(c->buf, tmp, n);
        return true;
    }
    if (n == 0 || errno == ECONNRESET) {
        c->eof = true;
        return false;
    }
    g_assert_cmpint(errno, ==, EAGAIN);
    return false;
}

/* The next line without its newline, or NULL at EOF; runs the server's loop meanwhile. */
static char *client_line(struct fixture *f, struct client *c)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    for (;;) {
        char *nl = memchr(c->buf->str, '\n', c->buf->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf->str);
            char *line = g_strndup(c->buf->str, n);
            g_string_erase(c->buf, 0, (gssize)n + 1);
            return line;
        }
        if (c->eof)
            return NULL;
        if (!client_poll(f, c) && !c->eof) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            poll(&pfd, 1, 1);
        }
    }
}

static void client_send(struct fixture *f, struct client *c, const char *data, size_t len)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        g_assert_cmpint(errno, ==, EAGAIN);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        pump(f);
    }
}

static void client_send_str(struct fixture *f, struct client *c, const char *s)
{
    client_send(f, c, s, strlen(s));
}

static char *request(struct fixture *f, struct client *c, const char *line)
{
    g_autofree char *with_nl = g_strconcat(line, "\n", NULL);

    client_send(f, c, with_nl, strlen(with_nl));
    return client_line(f, c);
}

static void expect_reply(struct fixture *f, struct client *c, const char *line, const char *reply)
{
    g_autofree char *got = request(f, c, line);
    g_assert_cmpstr(got, ==, reply);
}

/* Sends `line` and checks that the reply is an error of class `cls` whose desc has `needle`. */
static void expect_error_reply(struct fixture *f, struct client *c, const char *line, size_t len,
                               const char *cls, const char *needle)
{
    client_send(f, c, line, len);
    client_send(f, c, "\n", 1);
    g_autofree char *got = client_line(f, c);
    g_assert_nonnull(got);
    g_autofree char *prefix = g_strdup_printf("{\"error\":{\"class\":\"%s\",\"desc\":\"", cls);
    CHECK_SHOWING(g_str_has_prefix(got, prefix), got, prefix);
    CHECK_SHOWING(strstr(got, needle), got, needle);
}

static void expect_eof(struct fixture *f, struct client *c)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (!c->eof) {
        g_string_truncate(c->buf, 0);
        if (!client_poll(f, c))
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    }
}

static void test_server_greeting(struct fixture *f, gconstpointer data)
{
    struct client c = {.fd = connect_to(f->path), .buf = g_string_new(NULL)};

    (void)data;
    g_autofree char *line = client_line(f, &c);
    g_assert_cmpstr(line, ==,
                    "{\"vmdesk\":{\"version\":\"" VMDESK_VERSION "\",\"protocol\":1,\"commands\":"
                    "[\"query-status\",\"query-devices\",\"query-stats\",\"pause\",\"resume\","
                    "\"powerdown\",\"reset\",\"quit\",\"balloon-set\",\"screendump\","
                    "\"query-display\",\"set-password\",\"send-key\"]}}");
    client_close(&c);
}

static void test_server_query_status(struct fixture *f, gconstpointer data)
{
    struct client c;

    (void)data;
    client_open(f, &c);
    expect_reply(f, &c, "{\"execute\": \"query-status\", \"id\": 1}",
                 "{\"return\":{\"state\":\"running\",\"vcpus\":2},\"id\":1}");
    expect_reply(f, &c, "{\"execute\":\"query-status\"}",
                 "{\"return\":{\"state\":\"running\",\"vcpus\":2}}");
    expect_reply(f, &c, "{\"execute\":\"query-status\",\"arguments\":{},\"id\":{\"n\":[1]}}",
                 "{\"return\":{\"state\":\"running\",\"vcpus\":2},\"id\":{\"n\":[1]}}");
    /* Several requests in one write, CRLF endings and blank lines between them. */
    const char *batch = "{\"execute\":\"query-status\",\"id\":\"a\"}\r\n\n  \r\n"
                        "{\"execute\":\"query-status\",\"id\":\"b\"}\n";
    client_send(f, &c, batch, strlen(batch));
    g_autofree char *a = client_line(f, &c);
    g_autofree char *b = client_line(f, &c);
    g_assert_cmpstr(a, ==, "{\"return\":{\"state\":\"running\",\"vcpus\":2},\"id\":\"a\"}");
    g_assert_cmpstr(b, ==, "{\"return\":{\"state\":\"running\",\"vcpus\":2},\"id\":\"b\"}");
    client_close(&c);
}

#define COMMAND_LIST                                                                               \
    "query-status, query-devices, query-stats, pause, resume, powerdown, reset, quit, balloon-set, " \
    "screendump, query-display, set-password, send-key"

static void test_server_errors(struct fixture *f, gconstpointer data)
{
    static const struct {
        const char *line;
        const char *cls;
        const char *needle;
    } cases[] = {
        {"not json", "ParseError", "unknown word \\\"not\\\""},
        {"{\"execute\":\"query-status\"", "ParseError", "end of line"},
        {"[1]", "InvalidRequest", "must be a JSON object"},
        {"{\"id\":5}", "InvalidRequest", "missing field \\\"execute\\\""},
        {"{\"execute\":5}", "InvalidRequest", "must be a string"},
        {"{\"execute\":\"pause\",\"arguments\":[]}", "InvalidRequest", "must be an object"},
        {"{\"execute\":\"pause\",\"force\":true}", "InvalidRequest", "unknown field \\\"force\\\""},
        {"{\"execute\":\"reboot\"}", "CommandNotFound",
         "command \\\"reboot\\\" not found, expected one of: " COMMAND_LIST},
        {"{\"execute\":\"query-status\",\"arguments\":{\"verbose\":true}}", "InvalidArgument",
         "command \\\"query-status\\\" takes no arguments, got \\\"verbose\\\""},
        {"{\"execute\":\"pause\",\"arguments\":{\"now\":1}}", "InvalidArgument", "\\\"now\\\""},
        {"\xff\xfe garbage", "ParseError", "invalid UTF-8"},
    };
    struct client c;

    (void)data;
    client_open(f, &c);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        expect_error_reply(f, &c, cases[i].line, strlen(cases[i].line), cases[i].cls,
                           cases[i].needle);
    expect_error_reply(f, &c, "{\"execute\":\"quit\"}\0x", 20, "ParseError", "NUL byte");
    expect_reply(f, &c, "{\"execute\":\"nope\",\"id\":[\"x\"]}",
                 "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"command \\\"nope\\\" not "
                 "found, expected one of: " COMMAND_LIST "\"},\"id\":[\"x\"]}");
    /* None of them closed the connection or touched the VM. */
    expect_reply(f, &c, "{\"execute\":\"query-status\",\"id\":2}",
                 "{\"return\":{\"state\":\"running\",\"vcpus\":2},\"id\":2}");
    g_assert_cmpuint(f->vm.pauses + f->vm.quits, ==, 0);
    client_close(&c);
}

static void test_server_long_line(struct fixture *f, gconstpointer data)
{
    struct client c;
    const char *head = "{\"execute\":\"query-status\",\"id\":\"";
    size_t fill = HV_CONTROL_MAX_LINE - strlen(head) - 2;
    g_autofree char *pad = g_strnfill(fill, 'p');
    g_autofree char *max = g_strdup_printf("%s%s\"}", head, pad);
    g_autofree char *junk = g_strnfill(200 * 1024, 'j');

    (void)data;
    client_open(f, &c);
    /* Exactly at the limit: served. */
    g_autofree char *reply = request(f, &c, max);
    g_assert_true(g_str_has_prefix(reply, "{\"return\":{\"state\":\"running\",\"vcpus\":2},"));
    /* Far over it, in pieces: one error, then the rest up to the newline is skipped. */
    client_send(f, &c, junk, strlen(junk));
    client_send_str(f, &c, "{\"execute\":\"quit\"}\n");
    g_autofree char *err = client_line(f, &c);
    g_assert_cmpstr(err, ==,
                    "{\"error\":{\"class\":\"ParseError\",\"desc\":\"request line longer than "
                    "65536 bytes, discarded up to the next newline\"}}");
    expect_reply(f, &c, "{\"execute\":\"query-status\",\"id\":3}",
                 "{\"return\":{\"state\":\"running\",\"vcpus\":2},\"id\":3}");
    g_assert_cmpuint(f->vm.quits, ==, 0);
    /* One byte over, newline in the same write: an error, and the next line is served. */
    g_autofree char *over =
        g_strdup_printf("%s%sp\"}\n{\"execute\":\"query-status\"}\n", head, pad);
    client_send(f, &c, over, strlen(over));
    g_autofree char *err2 = client_line(f, &c);
    g_assert_true(g_str_has_prefix(err2, "{\"error\":{\"class\":\"ParseError\""));
    g_autofree char *ok = client_line(f, &c);
    g_assert_cmpstr(ok, ==, "{\"return\":{\"state\":\"running\",\"vcpus\":2}}");
    client_close(&c);
}

static void test_server_pause_resume(struct fixture *f, gconstpointer data)
{
    struct client c;

    (void)data;
    client_open(f, &c);
    expect_reply(f, &c, "{\"execute\":\"pause\",\"id\":1}", "{\"return\":{},\"id\":1}");
    g_assert_cmpuint(f->vm.pauses, ==, 1);
    g_assert_cmpstr(f->vm.state, ==, "paused");
    /* Pausing a paused VM succeeds without asking the VM again, as QMP's stop does. */
    expect_reply(f, &c, "{\"execute\":\"pause\",\"id\":2}", "{\"return\":{},\"id\":2}");
    g_assert_cmpuint(f->vm.pauses, ==, 1);
    expect_reply(f, &c, "{\"execute\":\"query-status\"}",
                 "{\"return\":{\"state\":\"paused\",\"vcpus\":2}}");
    expect_reply(f, &c, "{\"execute\":\"resume\"}", "{\"return\":{}}");
    expect_reply(f, &c, "{\"execute\":\"resume\"}", "{\"return\":{}}");
    g_assert_cmpuint(f->vm.resumes, ==, 1);
    g_assert_cmpstr(f->vm.state, ==, "running");

    /* The VM refusing is a GenericError with its message. */
    f->vm.fail_rc = -EIO;
    expect_reply(f, &c, "{\"execute\":\"pause\",\"id\":4}",
                 "{\"error\":{\"class\":\"GenericError\",\"desc\":\"pause failed: the vCPUs did "
                 "not answer\"},\"id\":4}");
    g_assert_cmpstr(f->vm.state, ==, "running");
    f->vm.fail_rc = 0;

    /* Outside the states where they are legal. */
    f->vm.state = "shutting-down";
    expect_reply(f, &c, "{\"execute\":\"pause\"}",
                 "{\"error\":{\"class\":\"InvalidState\",\"desc\":\"pause is legal when the VM "
                 "is running or paused, and it is shutting-down\"}}");
    expect_reply(f, &c, "{\"execute\":\"resume\"}",
                 "{\"error\":{\"class\":\"InvalidState\",\"desc\":\"resume is legal when the VM "
                 "is paused or running, and it is shutting-down\"}}");
    g_assert_cmpuint(f->vm.pauses, ==, 2);
    g_assert_cmpuint(f->vm.resumes, ==, 1);
    client_close(&c);
}

static void check_state_event(const char *line, const char *state)
{
    g_autoptr(JsonNode) node = NULL;
    struct hv_control_error err = {0};

    g_assert_nonnull(line);
    g_assert_cmpint(hv_control_parse_json(line, strlen(line), &node, &err), ==, 0);
    JsonObject *obj = json_node_get_object(node);
    g_assert_cmpuint(json_object_get_size(obj), ==, 3);
    g_assert_cmpstr(json_object_get_string_member(obj, "event"), ==, "STATE_CHANGED");
    JsonObject *d = json_object_get_object_member(obj, "data");
    g_assert_cmpstr(json_object_get_string_member(d, "state"), ==, state);
    double ts = json_object_get_double_member(obj, "timestamp");
    double now = (double)g_get_real_time() / G_USEC_PER_SEC;
    g_assert_cmpfloat(ts, <=, now);
    g_assert_cmpfloat(ts, >, now - 60);
    /* Microseconds: six digits after the point. */
    const char *dot = strrchr(line, '.');
    g_assert_cmpuint(strspn(dot + 1, "0123456789"), ==, 6);
}

static void test_server_events(struct fixture *f, gconstpointer data)
{
    struct client a, b;

    (void)data;
    client_open(f, &a);
    client_open(f, &b);
    g_autoptr(JsonObject) obj = json_object_new();
    json_object_set_string_member(obj, "state", "paused");
    hv_control_emit(f->ctl, "STATE_CHANGED", json_node_init_object(json_node_alloc(), obj));
    g_autofree char *ea = client_line(f, &a);
    g_autofree char *eb = client_line(f, &b);
    check_state_event(ea, "paused");
    g_assert_cmpstr(ea, ==, eb);

    /* An event the VM emits while a command runs comes before that command's reply. */
    f->vm.ctl = f->ctl;
    client_send_str(f, &a, "{\"execute\":\"pause\",\"id\":9}\n");
    g_autofree char *ev = client_line(f, &a);
    check_state_event(ev, "paused");
    g_autofree char *reply = client_line(f, &a);
    g_assert_cmpstr(reply, ==, "{\"return\":{},\"id\":9}");
    g_autofree char *evb = client_line(f, &b);
    check_state_event(evb, "paused");
    client_close(&a);
    client_close(&b);
}

static gpointer emit_thread(gpointer data)
{
    g_autoptr(JsonObject) obj = json_object_new();

    json_object_set_string_member(obj, "state", "running");
    hv_control_emit(data, "STATE_CHANGED", json_node_init_object(json_node_alloc(), obj));
    return NULL;
}

/* A vCPU thread may emit too: the event is sent by the main-loop thread, to everyone. */
static void test_server_events_from_thread(struct fixture *f, gconstpointer data)
{
    struct client a, b;

    (void)data;
    client_open(f, &a);
    client_open(f, &b);
    g_thread_join(g_thread_new("emitter", emit_thread, f->ctl));
    g_autofree char *ea = client_line(f, &a);
    g_autofree char *eb = client_line(f, &b);
    check_state_event(ea, "running");
    g_assert_cmpstr(ea, ==, eb);
    client_close(&a);
    client_close(&b);
}

static void test_server_quit(struct fixture *f, gconstpointer data)
{
    struct client c, other;

    (void)data;
    client_open(f, &c);
    client_open(f, &other);
    f->vm.quit_peek_fd = c.fd;
    client_send_str(f, &c, "{\"execute\":\"quit\",\"id\":\"bye\"}\n");
    pump(f);
    g_assert_cmpuint(f->vm.quits, ==, 1);
    g_assert_true(f->vm.reply_before_quit);
    g_autofree char *reply = client_line(f, &c);
    g_assert_cmpstr(reply, ==, "{\"return\":{},\"id\":\"bye\"}");
    /* A second quit is answered, but the VMM is already ending. */
    f->vm.quit_peek_fd = -1;
    expect_reply(f, &other, "{\"execute\":\"quit\"}", "{\"return\":{}}");
    pump(f);
    g_assert_cmpuint(f->vm.quits, ==, 1);
    client_close(&c);
    client_close(&other);
}

static void test_server_quit_then_gone(struct fixture *f, gconstpointer data)
{
    struct client c;

    (void)data;
    client_open(f, &c);
    /* The client hangs up right after asking: the VMM still quits. */
    client_send_str(f, &c, "{\"execute\":\"quit\"}\n");
    close(c.fd);
    c.fd = -1;
    pump(f);
    g_assert_cmpuint(f->vm.quits, ==, 1);
    client_close(&c);
}

/* A client that never reads is dropped at the output cap; the others never wait for it. */
static void test_server_slow_reader_events(struct fixture *f, gconstpointer data)
{
    struct client slow, fast;
    g_autofree char *blob = g_strnfill(4000, 'b');
    unsigned sent = 0, got = 0;

    (void)data;
    client_open(f, &slow);
    client_open(f, &fast);
    for (sent = 0; sent < 800; sent++) {
        g_autoptr(JsonObject) obj = json_object_new();
        json_object_set_string_member(obj, "blob", blob);
        hv_control_emit(f->ctl, "BLOB", json_node_init_object(json_node_alloc(), obj));
        while (client_poll(f, &fast))
            ;
        char *nl;
        while ((nl = memchr(fast.buf->str, '\n', fast.buf->len))) {
            g_string_erase(fast.buf, 0, nl - fast.buf->str + 1);
            got++;
        }
    }
    g_assert_false(fast.eof);
    g_assert_cmpuint(got, ==, sent);
    expect_reply(f, &fast, "{\"execute\":\"query-status\"}",
                 "{\"return\":{\"state\":\"running\",\"vcpus\":2}}");

    /* What the slow client finds: some of the events, then the end. */
    unsigned slow_got = 0;
    for (;;) {
        g_autofree char *line = client_line(f, &slow);
        if (!line)
            break;
        slow_got++;
    }
    g_assert_cmpuint(slow_got, <, sent);
    client_close(&slow);
    client_close(&fast);
}

static void test_server_slow_reader_requests(struct fixture *f, gconstpointer data)
{
    struct client slow, fast;
    g_autofree char *pad = g_strnfill(1000, 'i');
    g_autofree char *req = g_strdup_printf("{\"execute\":\"query-status\",\"id\":\"%s\"}\n", pad);
    size_t len = strlen(req);
    bool dropped = false;

    (void)data;
    client_open(f, &slow);
    client_open(f, &fast);
    /* Requests, never a read: the replies pile up until the server lets go of the client. */
    for (int i = 0; i < 10000 && !dropped; i++) {
        size_t off = 0;
        while (off < len) {
            ssize_t n = send(slow.fd, req + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                off += (size_t)n;
                continue;
            }
            if (errno == EPIPE || errno == ECONNRESET) {
                dropped = true;
                break;
            }
            g_assert_cmpint(errno, ==, EAGAIN);
            pump(f);
        }
        if (i % 64 == 0)
            expect_reply(f, &fast, "{\"execute\":\"query-status\"}",
                         "{\"return\":{\"state\":\"running\",\"vcpus\":2}}");
    }
    g_assert_true(dropped);
    expect_reply(f, &fast, "{\"execute\":\"query-status\",\"id\":1}",
                 "{\"return\":{\"state\":\"running\",\"vcpus\":2},\"id\":1}");
    client_close(&slow);
    client_close(&fast);
}

static void test_server_eof(struct fixture *f, gconstpointer data)
{
    struct client c, other;

    (void)data;
    client_open(f, &c);
    client_open(f, &other);
    /* A last request with no newline, then a half close, as `printf ... | socat` does. */
    client_send_str(f, &c, "{\"execute\":\"query-status\"}");
    shutdown(c.fd, SHUT_WR);
    g_autofree char *reply = client_line(f, &c);
    g_assert_cmpstr(reply, ==, "{\"return\":{\"state\":\"running\",\"vcpus\":2}}");
    expect_eof(f, &c);
    /* A client that sends and vanishes before its reply: dropped without a trace. */
    struct client gone;
    client_open(f, &gone);
    client_send_str(f, &gone, "{\"execute\":\"query-status\"}\n");
    close(gone.fd);
    gone.fd = -1;
    pump(f);
    client_close(&gone);
    expect_reply(f, &other, "{\"execute\":\"query-status\"}",
                 "{\"return\":{\"state\":\"running\",\"vcpus\":2}}");
    client_close(&c);
    client_close(&other);
}

static void test_server_socket_mode(struct fixture *f, gconstpointer data)
{
    struct stat st;
    GError *error = NULL;
    static const mode_t masks[] = {0, 022, 0277};

    (void)data;
    g_assert_cmpint(lstat(f->path, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
    for (size_t i = 0; i < G_N_ELEMENTS(masks); i++) {
        g_autofree char *path = g_strdup_printf("%s/mask%zu.sock", f->dir, i);
        mode_t old = umask(masks[i]);
        struct hv_control *ctl = hv_control_new(path, &f->ops, &error);
        umask(old);
        g_assert_no_error(error);
        g_assert_cmpint(lstat(path, &st), ==, 0);
        g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
        hv_control_free(ctl);
    }
    /* The listening socket and the clients' sockets do not leak into children. */
    struct client c;
    client_open(f, &c);
    for (int fd = 3; fd < 256; fd++) {
        int fl = fcntl(fd, F_GETFD);
        struct sockaddr_un sa;
        socklen_t sl = sizeof(sa);
        if (fl < 0 || fd == c.fd || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 ||
            sa.sun_family != AF_UNIX)
            continue;
        g_assert_true(fl & FD_CLOEXEC);
    }
    client_close(&c);
}

static void test_server_stale_socket(struct fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "stale.sock", NULL);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    GError *error = NULL;

    (void)data;
    /* What a VMM that crashed leaves behind: the file, with nobody listening. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    close(fd);
    g_assert_cmpint(connect_to(path), ==, -ECONNREFUSED);

    struct hv_control *ctl = hv_control_new(path, &f->ops, &error);
    g_assert_no_error(error);
    int c = connect_to(path);
    g_assert_cmpint(c, >=, 0);
    close(c);
    hv_control_free(ctl);
}

static void test_server_live_socket(struct fixture *f, gconstpointer data)
{
    GError *error = NULL;
    struct client c;

    (void)data;
    g_assert_null(hv_control_new(f->path, &f->ops, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_autofree char *want =
        g_strdup_printf("Control socket %s is in use by a running VMM", f->path);
    g_assert_cmpstr(error->message, ==, want);
    g_clear_error(&error);
    /* The running one is untouched and still serves. */
    client_open(f, &c);
    expect_reply(f, &c, "{\"execute\":\"query-status\"}",
                 "{\"return\":{\"state\":\"running\",\"vcpus\":2}}");
    client_close(&c);
}

static void test_server_not_a_socket(struct fixture *f, gconstpointer data)
{
    g_autofree char *file = g_build_filename(f->dir, "precious.txt", NULL);
    g_autofree char *link = g_build_filename(f->dir, "link.sock", NULL);
    g_autofree char *content = NULL;
    GError *error = NULL;
    struct stat st;

    (void)data;
    g_assert_true(g_file_set_contents(file, "keep me", -1, NULL));
    g_assert_null(hv_control_new(file, &f->ops, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_assert_nonnull(strstr(error->message, file));
    g_assert_null(strchr(error->message, '\n'));
    g_clear_error(&error);
    g_assert_true(g_file_get_contents(file, &content, NULL, NULL));
    g_assert_cmpstr(content, ==, "keep me");

    /* A symlink, even to a live socket, is not ours to replace. */
    g_assert_cmpint(symlink(f->path, link), ==, 0);
    g_assert_null(hv_control_new(link, &f->ops, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_clear_error(&error);
    g_assert_cmpint(lstat(link, &st), ==, 0);
    g_assert_true(S_ISLNK(st.st_mode));

    g_assert_null(hv_control_new(f->dir, &f->ops, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_clear_error(&error);
}

static void test_server_bad_paths(struct fixture *f, gconstpointer data)
{
    GError *error = NULL;
    g_autofree char *name = g_strnfill(200, 'n');
    g_autofree char *longpath = g_build_filename(f->dir, name, NULL);
    g_autofree char *nodir = g_build_filename(f->dir, "missing", "vm.sock", NULL);

    (void)data;
    g_assert_null(hv_control_new(longpath, &f->ops, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG);
    g_assert_nonnull(strstr(error->message, "expected 1 to 107"));
    g_assert_nonnull(strstr(error->message, longpath));
    g_clear_error(&error);

    g_assert_null(hv_control_new(nodir, &f->ops, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_autofree char *want = g_strdup_printf("Cannot bind control socket %s: No such file or "
                                            "directory",
                                            nodir);
    g_assert_cmpstr(error->message, ==, want);
    g_clear_error(&error);
}

static void test_server_free(struct fixture *f, gconstpointer data)
{
    struct client c;
    GError *error = NULL;

    (void)data;
    client_open(f, &c);
    hv_control_free(f->ctl);
    f->ctl = NULL;
    g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
    expect_eof(f, &c);
    client_close(&c);

    /* A file someone else put at the path since is not removed. */
    f->ctl = hv_control_new(f->path, &f->ops, &error);
    g_assert_no_error(error);
    g_assert_cmpint(unlink(f->path), ==, 0);
    g_assert_true(g_file_set_contents(f->path, "new", -1, NULL));
    hv_control_free(f->ctl);
    f->ctl = NULL;
    g_assert_true(g_file_test(f->path, G_FILE_TEST_IS_REGULAR));
}

static void test_server_queries(struct fixture *f, gconstpointer data)
{
    struct client c;

    (void)data;
    client_open(f, &c);
    expect_reply(f, &c, "{\"execute\":\"query-devices\",\"id\":1}",
                 "{\"return\":{\"devices\":[{\"id\":\"rng0\",\"kind\":\"virtio-rng\"}]},"
                 "\"id\":1}");
    expect_reply(f, &c, "{\"execute\":\"query-stats\"}",
                 "{\"return\":{\"vcpus\":[{\"id\":0},{\"id\":1}]}}");
    /* Legal in any state, and they take no arguments. */
    f->vm.state = "paused";
    expect_reply(f, &c, "{\"execute\":\"query-stats\"}",
                 "{\"return\":{\"vcpus\":[{\"id\":0},{\"id\":1}]}}");
    expect_reply(f, &c, "{\"execute\":\"query-devices\",\"arguments\":{\"id\":\"rng0\"}}",
                 "{\"error\":{\"class\":\"InvalidArgument\",\"desc\":\"command "
                 "\\\"query-devices\\\" takes no arguments, got \\\"id\\\"\"}}");
    client_close(&c);
}

static void test_server_powerdown_reset(struct fixture *f, gconstpointer data)
{
    struct client c;

    (void)data;
    client_open(f, &c);
    expect_reply(f, &c, "{\"execute\":\"powerdown\",\"id\":1}", "{\"return\":{},\"id\":1}");
    g_assert_cmpuint(f->vm.powerdowns, ==, 1);
    expect_reply(f, &c, "{\"execute\":\"reset\"}", "{\"return\":{}}");
    g_assert_cmpuint(f->vm.resets, ==, 1);

    /* Paused: reset is still legal, powerdown is not (nobody would handle the button). */
    f->vm.state = "paused";
    expect_reply(f, &c, "{\"execute\":\"powerdown\"}",
                 "{\"error\":{\"class\":\"InvalidState\",\"desc\":\"powerdown is legal "
                 "when the VM is running, and it is paused\"}}");
    expect_reply(f, &c, "{\"execute\":\"reset\"}", "{\"return\":{}}");
    g_assert_cmpuint(f->vm.resets, ==, 2);

    f->vm.state = "shutting-down";
    expect_reply(f, &c, "{\"execute\":\"reset\"}",
                 "{\"error\":{\"class\":\"InvalidState\",\"desc\":\"reset is legal when "
                 "the VM is running or paused, and it is shutting-down\"}}");
    f->vm.state = "running";

    /* The VM failing is a GenericError with its message. */
    f->vm.fail_rc = -EIO;
    expect_reply(f, &c, "{\"execute\":\"reset\",\"id\":7}",
                 "{\"error\":{\"class\":\"GenericError\",\"desc\":\"reset failed: the vCPUs "
                 "did not answer\"},\"id\":7}");
    f->vm.fail_rc = 0;
    g_assert_cmpuint(f->vm.powerdowns, ==, 1);
    g_assert_cmpuint(f->vm.resets, ==, 3);
    client_close(&c);
}

static void test_server_balloon_set(struct fixture *f, gconstpointer data)
{
    static const struct {
        const char *args;
        const char *needle;
    } bad[] = {
        {"{}", "got neither"},
        {"{\"target\":1,\"target-mb\":1}", "got both"},
        {"{\"target\":-1}", "argument \\\"target\\\" is -1, expected a non-negative integer"},
        {"{\"target\":1.5}", "is 1.5, expected"},
        {"{\"target\":\"1G\"}", "is \\\"1G\\\", expected"},
        {"{\"target-mb\":true}", "argument \\\"target-mb\\\" is true"},
        {"{\"target-mb\":9223372036854775807}", "is too large"},
        {"{\"size\":1}", "takes only target, target-mb, got \\\"size\\\""},
        /* Out of the VM's range: its own message. */
        {"{\"target\":0}", "target 0 bytes: out of range"},
        {"{\"target-mb\":513}", "target 537919488 bytes: out of range"},
    };
    struct client c;

    (void)data;
    client_open(f, &c);
    expect_reply(f, &c, "{\"execute\":\"balloon-set\",\"arguments\":{\"target\":268435456}}",
                 "{\"return\":{}}");
    g_assert_cmpuint(f->vm.balloon_target, ==, 256ull << 20);
    expect_reply(f, &c, "{\"execute\":\"balloon-set\",\"arguments\":{\"target-mb\":512}}",
                 "{\"return\":{}}");
    g_assert_cmpuint(f->vm.balloon_target, ==, 512ull << 20);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *line =
            g_strdup_printf("{\"execute\":\"balloon-set\",\"arguments\":%s}", bad[i].args);
        expect_error_reply(f, &c, line, strlen(line), "InvalidArgument", bad[i].needle);
    }
    g_assert_cmpuint(f->vm.balloon_target, ==, 512ull << 20);
    f->vm.state = "paused";
    const char *small = "{\"execute\":\"balloon-set\",\"arguments\":{\"target\":1}}";
    expect_error_reply(f, &c, small, strlen(small), "InvalidState",
                       "balloon-set is legal when the VM is running, and it is paused");
    g_assert_cmpuint(f->vm.balloon_target, ==, 512ull << 20);
    client_close(&c);
}

/* A VMM that fills in only the first ops still answers every command in the greeting. */
static void test_server_optional_ops(struct fixture *f, gconstpointer data)
{
    static const char *const names[] = {"query-devices", "query-stats", "powerdown", "reset"};
    struct client c;
    GError *error = NULL;

    (void)data;
    hv_control_free(f->ctl);
    f->ops.devices = NULL;
    f->ops.stats = NULL;
    f->ops.powerdown = NULL;
    f->ops.reset = NULL;
    f->ops.balloon_set = NULL;
    f->ctl = hv_control_new(f->path, &f->ops, &error);
    g_assert_no_error(error);
    client_open(f, &c);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *line = g_strdup_printf("{\"execute\":\"%s\"}", names[i]);
        g_autofree char *want = g_strdup_printf("%s is not available in this VMM", names[i]);
        expect_error_reply(f, &c, line, strlen(line), "GenericError", want);
    }
    const char *bs = "{\"execute\":\"balloon-set\",\"arguments\":{\"target\":1}}";
    expect_error_reply(f, &c, bs, strlen(bs), "GenericError", "not available");
    client_close(&c);
}

/* json-glib writes 7e34 as "7e+34.0"; our writer must give JSON our parser takes back. */
static void test_lines_doubles(void)
{
    static const double values[] = {7e34, 1e21, -1e-300, 0.1, 3.0, 1.0 / 3.0, 1e308};
    for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
        JsonNode *n = json_node_new(JSON_NODE_VALUE);
        json_node_set_double(n, values[i]);
        g_autofree char *line = hv_control_return_line(n, NULL);
        g_assert_nonnull(strchr(line, '\n'));
        JsonNode *back = NULL;
        struct hv_control_error err = {0};
        if (hv_control_parse_json(line, strlen(line) - 1, &back, &err) < 0)
            g_error("reply '%s' is not JSON: %s", line, err.desc);
        JsonNode *ret = json_object_get_member(json_node_get_object(back), "return");
        g_assert_cmpfloat(json_node_get_double(ret), ==, values[i]);
        json_node_unref(back);
    }
    /* Strings with quotes, backslashes and control characters survive the round trip. */
    JsonNode *n = json_node_new(JSON_NODE_VALUE);
    json_node_set_string(n, "a\"b\\c\n\x01");
    g_autofree char *line = hv_control_return_line(n, NULL);
    JsonNode *back = NULL;
    struct hv_control_error err = {0};
    g_assert_cmpint(hv_control_parse_json(line, strlen(line) - 1, &back, &err), ==, 0);
    g_assert_cmpstr(json_node_get_string(json_object_get_member(json_node_get_object(back),
                                                                "return")), ==, "a\"b\\c\n\x01");
    json_node_unref(back);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/control/lines/doubles", test_lines_doubles);
    g_test_add_func("/control/parse/minimal", test_parse_minimal);
    g_test_add_func("/control/parse/id-echo", test_parse_id_echo);
    g_test_add_func("/control/parse/arguments", test_parse_arguments);
    g_test_add_func("/control/parse/check-arguments", test_parse_check_arguments);
    g_test_add_func("/control/parse/not-json", test_parse_not_json);
    g_test_add_func("/control/parse/not-object", test_parse_not_object);
    g_test_add_func("/control/parse/envelope", test_parse_envelope);
    g_test_add_func("/control/parse/garbage", test_parse_garbage);
    g_test_add_func("/control/parse/nul", test_parse_nul);
    g_test_add_func("/control/parse/numbers", test_parse_numbers);
    g_test_add_func("/control/parse/depth", test_parse_depth);
    g_test_add_func("/control/parse/line-limits", test_parse_line_limits);
    g_test_add_func("/control/parse/json", test_parse_json);
    g_test_add_func("/control/parse/mutations", test_parse_mutations);
    g_test_add_func("/control/lines/greeting", test_lines_greeting);
    g_test_add_func("/control/lines/return", test_lines_return);
    g_test_add_func("/control/lines/error", test_lines_error);
    g_test_add_func("/control/lines/event", test_lines_event);

#define SERVER_TEST(name, fn) g_test_add(name, struct fixture, NULL, setup, fn, teardown)
    SERVER_TEST("/control/server/greeting", test_server_greeting);
    SERVER_TEST("/control/server/query-status", test_server_query_status);
    SERVER_TEST("/control/server/errors", test_server_errors);
    SERVER_TEST("/control/server/long-line", test_server_long_line);
    SERVER_TEST("/control/server/pause-resume", test_server_pause_resume);
    SERVER_TEST("/control/server/events", test_server_events);
    SERVER_TEST("/control/server/events-from-thread", test_server_events_from_thread);
    SERVER_TEST("/control/server/quit", test_server_quit);
    SERVER_TEST("/control/server/quit-then-gone", test_server_quit_then_gone);
    SERVER_TEST("/control/server/slow-reader-events", test_server_slow_reader_events);
    SERVER_TEST("/control/server/slow-reader-requests", test_server_slow_reader_requests);
    SERVER_TEST("/control/server/eof", test_server_eof);
    SERVER_TEST("/control/server/socket-mode", test_server_socket_mode);
    SERVER_TEST("/control/server/stale-socket", test_server_stale_socket);
    SERVER_TEST("/control/server/live-socket", test_server_live_socket);
    SERVER_TEST("/control/server/not-a-socket", test_server_not_a_socket);
    SERVER_TEST("/control/server/bad-paths", test_server_bad_paths);
    SERVER_TEST("/control/server/free", test_server_free);
    SERVER_TEST("/control/server/queries", test_server_queries);
    SERVER_TEST("/control/server/powerdown-reset", test_server_powerdown_reset);
    SERVER_TEST("/control/server/balloon-set", test_server_balloon_set);
    SERVER_TEST("/control/server/optional-ops", test_server_optional_ops);
    return g_test_run();
}
