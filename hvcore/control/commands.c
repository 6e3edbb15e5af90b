/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The control protocol's commands: one table, each entry saying when it is legal. */
#include "control/server-private.h"

#include <errno.h>
#include <string.h>

#include "display/keymap.h"

/* A NULL from the VM would make an invalid reply; say so instead. */
static const char *vm_state(const struct hv_control *ctl)
{
    const char *state = ctl->ops.state(ctl->ops.opaque);

    return state ? state : "unknown";
}

static int cmd_query_status(struct hv_control_call *call)
{
    const struct hv_control_ops *ops = &call->ctl->ops;
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, vm_state(call->ctl));
    json_builder_set_member_name(b, "vcpus");
    json_builder_add_int_value(b, ops->vcpus(ops->opaque));
    json_builder_end_object(b);
    call->ret = json_builder_get_root(b);
    return 0;
}

static int run_op(struct hv_control_call *call, int (*op)(void *, char **), const char *what)
{
    g_autofree char *msg = NULL;
    int rc = op(call->ctl->ops.opaque, &msg);

    if (rc < 0)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_GENERIC, "%s failed: %s", what,
                                    msg ? msg : g_strerror(-rc));
    return 0;
}

/* `noop_state` is where the command has nothing to do, which is success as in QMP. */
static int change_state(struct hv_control_call *call, const char *what, const char *legal_state,
                        const char *noop_state, int (*op)(void *, char **))
{
    const char *state = vm_state(call->ctl);

    if (strcmp(state, noop_state) == 0)
        return 0;
    if (strcmp(state, legal_state) != 0)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_STATE,
                                    "%s is legal when the VM is %s or %s, and it is %s", what,
                                    legal_state, noop_state, state);
    return run_op(call, op, what);
}

static int cmd_pause(struct hv_control_call *call)
{
    return change_state(call, "pause", "running", "paused", call->ctl->ops.pause);
}

static int cmd_resume(struct hv_control_call *call)
{
    return change_state(call, "resume", "paused", "running", call->ctl->ops.resume);
}

static int cmd_quit(struct hv_control_call *call)
{
    call->then_quit = true;
    return 0;
}

static int unavailable(struct hv_control_call *call, const char *what)
{
    return hv_control_error_set(&call->err, HV_CONTROL_ERROR_GENERIC,
                                "%s is not available in this VMM", what);
}

static int cmd_query_devices(struct hv_control_call *call)
{
    const struct hv_control_ops *ops = &call->ctl->ops;
    g_autoptr(JsonBuilder) b = json_builder_new();

    if (!ops->devices)
        return unavailable(call, "query-devices");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    ops->devices(ops->opaque, b);
    json_builder_end_array(b);
    json_builder_end_object(b);
    call->ret = json_builder_get_root(b);
    return 0;
}

/* A reply that is one object whose members an op fills in. */
static int object_reply(struct hv_control_call *call, const char *command,
                        void (*fill)(void *opaque, JsonBuilder *b))
{
    const struct hv_control_ops *ops = &call->ctl->ops;
    g_autoptr(JsonBuilder) b = json_builder_new();

    if (!fill)
        return unavailable(call, command);
    json_builder_begin_object(b);
    fill(ops->opaque, b);
    json_builder_end_object(b);
    call->ret = json_builder_get_root(b);
    return 0;
}

static int cmd_query_stats(struct hv_control_call *call)
{
    return object_reply(call, "query-stats", call->ctl->ops.stats);
}

/* For commands legal in exactly one state. */
static int require_state(struct hv_control_call *call, const char *what, const char *legal)
{
    const char *state = vm_state(call->ctl);

    if (strcmp(state, legal) != 0)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_STATE,
                                    "%s is legal when the VM is %s, and it is %s", what, legal,
                                    state);
    return 0;
}

static int cmd_powerdown(struct hv_control_call *call)
{
    if (!call->ctl->ops.powerdown)
        return unavailable(call, "powerdown");
    if (require_state(call, "powerdown", "running") < 0)
        return -EINVAL;
    return run_op(call, call->ctl->ops.powerdown, "powerdown");
}

static int cmd_reset(struct hv_control_call *call)
{
    const char *state = vm_state(call->ctl);

    if (!call->ctl->ops.reset)
        return unavailable(call, "reset");
    if (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_STATE,
                                    "reset is legal when the VM is running or paused, and it "
                                    "is %s", state);
    return run_op(call, call->ctl->ops.reset, "reset");
}

/* A non-negative JSON integer argument; *present says whether it was given at all. */
static int uint_argument(struct hv_control_call *call, const char *name, uint64_t *out,
                         bool *present)
{
    JsonNode *node = json_object_get_member(call->args, name);

    *present = node != NULL;
    if (!node)
        return 0;
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64 &&
        json_node_get_int(node) >= 0) {
        *out = (uint64_t)json_node_get_int(node);
        return 0;
    }
    g_autofree char *text = json_to_string(node, FALSE);
    g_autofree char *q = hv_control_quote(text);
    return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                                "argument \"%s\" is %s, expected a non-negative integer", name,
                                q);
}

static int cmd_balloon_set(struct hv_control_call *call)
{
    const struct hv_control_ops *ops = &call->ctl->ops;
    uint64_t bytes = 0, mb = 0;
    bool has_bytes, has_mb;

    if (!ops->balloon_set)
        return unavailable(call, "balloon-set");
    if (uint_argument(call, "target", &bytes, &has_bytes) < 0 ||
        uint_argument(call, "target-mb", &mb, &has_mb) < 0)
        return -EINVAL;
    if (has_bytes == has_mb)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                                    "balloon-set takes one of \"target\" (bytes) or "
                                    "\"target-mb\" (MiB), got %s",
                                    has_bytes ? "both" : "neither");
    if (has_mb) {
        if (mb > UINT64_MAX >> 20)
            return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                                        "target-mb %" G_GUINT64_FORMAT " is too large", mb);
        bytes = mb << 20;
    }
    if (require_state(call, "balloon-set", "running") < 0)
        return -EINVAL;

    g_autofree char *msg = NULL;
    int rc = ops->balloon_set(ops->opaque, bytes, &msg);
    if (rc == -ERANGE)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_ARGUMENT, "%s",
                                    msg ? msg : "target out of range");
    if (rc < 0)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_GENERIC,
                                    "balloon-set failed: %s", msg ? msg : g_strerror(-rc));
    return 0;
}

static int cmd_screendump(struct hv_control_call *call)
{
    const struct hv_control_ops *ops = &call->ctl->ops;
    JsonNode *node = json_object_get_member(call->args, "filename");

    if (!ops->screendump)
        return unavailable(call, "screendump");
    if (!node || !JSON_NODE_HOLDS_VALUE(node) ||
        json_node_get_value_type(node) != G_TYPE_STRING || !*json_node_get_string(node)) {
        g_autofree char *text = node ? json_to_string(node, FALSE) : NULL;
        g_autofree char *q = text ? hv_control_quote(text) : NULL;
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                                    "screendump needs argument \"filename\", a non-empty "
                                    "string (the PNG file to write)%s%s", q ? ", got " : "",
                                    q ? q : "");
    }
    g_autofree char *msg = NULL;
    int rc = ops->screendump(ops->opaque, json_node_get_string(node), &msg);
    if (rc < 0)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_GENERIC,
                                    "screendump failed: %s", msg ? msg : g_strerror(-rc));
    return 0;
}

static int cmd_query_display(struct hv_control_call *call)
{
    return object_reply(call, "query-display", call->ctl->ops.display);
}

/* A string argument; NULL (with call->err set) when it is missing or not a string. */
static const char *string_argument(struct hv_control_call *call, const char *cmd,
                                   const char *name, const char *what)
{
    JsonNode *node = json_object_get_member(call->args, name);

    if (node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
        return json_node_get_string(node);
    g_autofree char *text = node ? json_to_string(node, FALSE) : NULL;
    g_autofree char *q = text ? hv_control_quote(text) : NULL;
    hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                         "%s needs argument \"%s\", a string (%s)%s%s", cmd, name, what,
                         q ? ", got " : "", q ? q : "");
    return NULL;
}

static int cmd_set_password(struct hv_control_call *call)
{
    const struct hv_control_ops *ops = &call->ctl->ops;

    if (!ops->set_password)
        return unavailable(call, "set-password");
    const char *protocol = string_argument(call, "set-password", "protocol", "spice or vnc");
    if (!protocol)
        return -EINVAL;
    if (strcmp(protocol, "spice") != 0 && strcmp(protocol, "vnc") != 0) {
        g_autofree char *q = hv_control_quote(protocol);
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                                    "argument \"protocol\" is %s, expected \"spice\" or "
                                    "\"vnc\"", q);
    }
    const char *password = string_argument(call, "set-password", "password",
                                           "what clients must give");
    if (!password)
        return -EINVAL;
    g_autofree char *msg = NULL;
    int rc = ops->set_password(ops->opaque, protocol, password, &msg);
    if (rc < 0)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_GENERIC,
                                    "set-password failed: %s", msg ? msg : g_strerror(-rc));
    return 0;
}

static const char *const balloon_set_args[] = {"target", "target-mb", NULL};
/* One key of send-key: a QMP key name, as a string or as {"type": "qcode", "data": NAME}. */
static uint16_t key_of(JsonNode *node)
{
    if (JSON_NODE_HOLDS_OBJECT(node)) {
        JsonObject *o = json_node_get_object(node);
        JsonNode *type = json_object_get_member(o, "type");
        JsonNode *data = json_object_get_member(o, "data");
        if (json_object_get_size(o) != 2 || !type || !data || !JSON_NODE_HOLDS_VALUE(type) ||
            json_node_get_value_type(type) != G_TYPE_STRING ||
            strcmp(json_node_get_string(type), "qcode") != 0)
            return 0;
        node = data;
    }
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
        return 0;
    return hv_keymap_qcode_to_linux(json_node_get_string(node));
}

#define SEND_KEY_MAX 16

static int cmd_send_key(struct hv_control_call *call)
{
    const struct hv_control_ops *ops = &call->ctl->ops;
    JsonNode *keys = json_object_get_member(call->args, "keys");
    uint16_t codes[SEND_KEY_MAX];

    if (!ops->send_key)
        return unavailable(call, "send-key");
    if (!keys || !JSON_NODE_HOLDS_ARRAY(keys) ||
        json_array_get_length(json_node_get_array(keys)) == 0 ||
        json_array_get_length(json_node_get_array(keys)) > SEND_KEY_MAX)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                                    "send-key needs argument \"keys\", a list of 1 to %d key "
                                    "names such as [\"ctrl\", \"alt\", \"delete\"]",
                                    SEND_KEY_MAX);
    JsonArray *a = json_node_get_array(keys);
    unsigned n = json_array_get_length(a);
    for (unsigned i = 0; i < n; i++) {
        codes[i] = key_of(json_array_get_element(a, i));
        if (!codes[i]) {
            g_autofree char *text = json_to_string(json_array_get_element(a, i), FALSE);
            g_autofree char *q = hv_control_quote(text);
            return hv_control_error_set(&call->err, HV_CONTROL_ERROR_INVALID_ARGUMENT,
                                        "send-key: key %s is unknown: expected a QMP key name "
                                        "such as \"ctrl\", \"alt\", \"delete\", \"a\", "
                                        "\"f1\" or \"ret\"", q);
        }
    }
    if (require_state(call, "send-key", "running") < 0)
        return -EINVAL;
    g_autofree char *msg = NULL;
    int rc = ops->send_key(ops->opaque, codes, n, &msg);
    if (rc < 0)
        return hv_control_error_set(&call->err, HV_CONTROL_ERROR_GENERIC,
                                    "send-key failed: %s", msg ? msg : g_strerror(-rc));
    return 0;
}

static const char *const send_key_args[] = {"keys", NULL};
static const char *const set_password_args[] = {"protocol", "password", NULL};
static const char *const screendump_args[] = {"filename", NULL};

const struct hv_control_command hv_control_commands[] = {
    {
        .name = "query-status",
        .run = cmd_query_status,
        .doc = "Legal at any time. Returns the VM's state and its number of vCPUs.",
    },
    {
        .name = "query-devices",
        .run = cmd_query_devices,
        .doc = "Legal at any time. Returns the VM's devices, in the order they were plugged: "
               "each one's id, kind and what the device says of itself (e.g. its PCI slot).",
    },
    {
        .name = "query-stats",
        .run = cmd_query_stats,
        .doc = "Legal at any time. Returns counters: per vCPU (exits, CPU time), per device "
               "(bytes, requests, balloon statistics), and the VMM process's memory (RSS, "
               "KSM merging pages).",
    },
    {
        .name = "pause",
        .run = cmd_pause,
        .doc = "Legal when the VM is running: stops its vCPUs. When it is already paused, "
               "succeeds and does nothing.",
    },
    {
        .name = "resume",
        .run = cmd_resume,
        .doc = "Legal when the VM is paused: restarts its vCPUs. When it is already running, "
               "succeeds and does nothing.",
    },
    {
        .name = "powerdown",
        .run = cmd_powerdown,
        .doc = "Legal when the VM is running: presses the ACPI power button and replies at "
               "once; the guest decides whether and when to power off (then SHUTDOWN).",
    },
    {
        .name = "reset",
        .run = cmd_reset,
        .doc = "Legal when the VM is running or paused: a hard reset, as the reset button "
               "does; the guest reboots (even with --no-reboot), and a paused VM stays paused.",
    },
    {
        .name = "quit",
        .run = cmd_quit,
        .doc = "Legal at any time. Replies {} and, once the reply is written, ends the VMM.",
    },
    {
        .name = "balloon-set",
        .args = balloon_set_args,
        .run = cmd_balloon_set,
        .doc = "Legal when the VM is running: sets the memory the guest should keep, `target` "
               "bytes or `target-mb` MiB, more than 0 and at most its RAM; the balloon "
               "driver inflates or deflates towards it.",
    },
    {
        .name = "screendump",
        .args = screendump_args,
        .run = cmd_screendump,
        .doc = "Legal at any time. Writes the guest's screen as it is now to `filename` as a "
               "PNG (replacing that file); fails when the VM has no display or the guest has "
               "set no mode yet.",
    },
    {
        .name = "query-display",
        .run = cmd_query_display,
        .doc = "Legal at any time. Returns the display device (`device`, null without one), "
               "the guest's current mode (`mode`: width and height, null while the display "
               "is off) and one object per display server (`vnc`, `spice`, `sdl`).",
    },
    {
        .name = "set-password",
        .args = set_password_args,
        .run = cmd_set_password,
        .doc = "Legal at any time. Sets the password (`password`) that clients of the "
               "`protocol` server (\"spice\" or \"vnc\") must give from now on; clients "
               "already connected stay. Until it is set that server refuses every client. "
               "Fails when that server is not running or takes no password.",
    },
    {
        .name = "send-key",
        .args = send_key_args,
        .run = cmd_send_key,
        .doc = "Legal when the VM is running. Presses the `keys` (1 to 16 QMP key names, e.g. "
               "[\"ctrl\", \"alt\", \"delete\"]) on the guest's keyboard in order, then "
               "releases them in reverse order.",
    },
};

const size_t hv_control_nr_commands = G_N_ELEMENTS(hv_control_commands);

const struct hv_control_command *hv_control_find_command(const char *name)
{
    for (size_t i = 0; i < hv_control_nr_commands; i++) {
        if (strcmp(hv_control_commands[i].name, name) == 0)
            return &hv_control_commands[i];
    }
    return NULL;
}

char *hv_control_command_list(void)
{
    GString *s = g_string_new(NULL);

    for (size_t i = 0; i < hv_control_nr_commands; i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "", hv_control_commands[i].name);
    return g_string_free(s, FALSE);
}
