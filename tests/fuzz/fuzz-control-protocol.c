/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target: one control-socket request line, parsed and answered. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A reply is exactly one line, and our own strict parser must accept what we send. */
static void check_line(char *line)
{
    size_t len = strlen(line);
    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
        abort();
    JsonNode *node = NULL;
    struct hv_control_error err = {0};
    if (hv_control_parse_json(line, len - 1, &node, &err) < 0 || !JSON_NODE_HOLDS_OBJECT(node))
        abort();
    json_node_unref(node);
    g_free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hv_control_request req = {0};
    struct hv_control_error err = {0};
    if (hv_control_parse_request((const char *)data, size, &req, &err) == 0) {
        if (!req.command || !req.arguments || err.desc)
            abort();
        /* Echo the arguments back, as a command's reply would carry values from them. */
        JsonNode *ret = json_node_init_object(json_node_alloc(), req.arguments);
        check_line(hv_control_return_line(ret, req.id));
        static const char *const allowed[] = {"a", "value", NULL};
        if (hv_control_check_arguments(req.command, req.arguments, allowed, &err) < 0)
            check_line(hv_control_error_line(err.cls, err.desc, req.id));
    } else {
        if (!err.desc || req.command || req.arguments)
            abort();
        check_line(hv_control_error_line(err.cls, err.desc, req.id));
    }
    hv_control_error_clear(&err);
    hv_control_request_clear(&req);
    return 0;
}
