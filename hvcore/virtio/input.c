/* SPDX-License-Identifier: GPL-3.0-or-later */
/* virtio-input: a keyboard and an absolute pointer (tablet) fed by the display servers. */
#include "virtio/input.h"

#include <errno.h>
#include <glib.h>
#include <linux/input-event-codes.h>
#include <stdio.h>
#include <string.h>

#include "display/keymap.h"

#define EVENTQ 0
#define STATUSQ 1

/* Config space: select, subsel, size, 5 reserved bytes, then a 128-byte union. */
#define CFG_UNSET 0x00
#define CFG_ID_NAME 0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS 0x11
#define CFG_ABS_INFO 0x12
#define CFG_PAYLOAD 8
#define CFG_PAYLOAD_SIZE 128
#define CFG_SIZE (CFG_PAYLOAD + CFG_PAYLOAD_SIZE)

#define BUS_VIRTUAL_ID 0x06
#define DEVIDS_VENDOR 0x1af4 /* the virtio vendor, as a USB/input vendor id */

struct hv_virtio_input {
    struct hv_virtio_dev dev;
    enum hv_virtio_input_kind kind;
    struct hv_virtio_input *peer; /* the other half of the sink */
    struct hv_virtq_req req;

    /* Guards everything below: config accesses come from vCPU threads. */
    pthread_mutex_t lock;
    uint8_t cfg[CFG_SIZE];
    struct hv_input_event pending[HV_INPUT_PENDING_MAX];
    unsigned head, count;
    bool drop_logged;
    uint64_t sent, dropped, status_events;
    uint32_t buttons; /* tablet: buttons last sent */
};

/* ---- config space ---- */

static unsigned set_string(uint8_t *payload, const char *s)
{
    size_t n = MIN(strlen(s), (size_t)CFG_PAYLOAD_SIZE);
    memcpy(payload, s, n);
    return (unsigned)n;
}

static void set_bit(uint8_t *bits, unsigned bit)
{
    bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* A bitmap's size is the number of bytes up to its last non-zero one. */
static unsigned bitmap_size(const uint8_t *bits)
{
    unsigned n = CFG_PAYLOAD_SIZE;
    while (n > 0 && !bits[n - 1])
        n--;
    return n;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static unsigned ev_bits(const struct hv_virtio_input *in, uint8_t subsel, uint8_t *bits)
{
    bool kbd = in->kind == HV_INPUT_KEYBOARD;
    switch (subsel) {
    case EV_KEY:
        if (kbd) {
            hv_keymap_key_bits(bits, CFG_PAYLOAD_SIZE);
        } else {
            set_bit(bits, BTN_LEFT);
            set_bit(bits, BTN_RIGHT);
            set_bit(bits, BTN_MIDDLE);
        }
        break;
    case EV_REP:
        /* Any non-empty answer makes Linux repeat held keys itself. */
        if (kbd)
            bits[0] = 1;
        break;
    case EV_LED:
        if (kbd) {
            set_bit(bits, LED_NUML);
            set_bit(bits, LED_CAPSL);
            set_bit(bits, LED_SCROLLL);
        }
        break;
    case EV_REL:
        if (!kbd)
            set_bit(bits, REL_WHEEL);
        break;
    case EV_ABS:
        if (!kbd) {
            set_bit(bits, ABS_X);
            set_bit(bits, ABS_Y);
        }
        break;
    default:
        break;
    }
    return bitmap_size(bits);
}

/* Fills size and payload for the current select/subsel (in->lock held). */
static void update_config(struct hv_virtio_input *in)
{
    uint8_t select = in->cfg[0], subsel = in->cfg[1];
    uint8_t *payload = in->cfg + CFG_PAYLOAD;
    unsigned size = 0;
    bool kbd = in->kind == HV_INPUT_KEYBOARD;

    memset(payload, 0, CFG_PAYLOAD_SIZE);
    switch (select) {
    case CFG_ID_NAME:
        if (subsel == 0)
            size = set_string(payload, kbd ? "vmdesk keyboard" : "vmdesk tablet");
        break;
    case CFG_ID_SERIAL:
        if (subsel == 0)
            size = set_string(payload, kbd ? "vmdesk-kbd0" : "vmdesk-tablet0");
        break;
    case CFG_ID_DEVIDS:
        if (subsel == 0) {
            put_le16(payload, BUS_VIRTUAL_ID);
            put_le16(payload + 2, DEVIDS_VENDOR);
            put_le16(payload + 4, kbd ? 1 : 2);
            put_le16(payload + 6, 1);
            size = 8;
        }
        break;
    case CFG_PROP_BITS:
        /* No properties: INPUT_PROP_DIRECT would make it a touchscreen to some guests. */
        break;
    case CFG_EV_BITS:
        size = ev_bits(in, subsel, payload);
        break;
    case CFG_ABS_INFO:
        if (!kbd && (subsel == ABS_X || subsel == ABS_Y)) {
            put_le32(payload, 0);                      /* min */
            put_le32(payload + 4, HV_INPUT_ABS_MAX);   /* max */
            /* fuzz, flat, res: 0 */
            size = 20;
        }
        break;
    default:
        break;
    }
    in->cfg[2] = (uint8_t)size;
}

static void input_config_read(struct hv_virtio_dev *dev, unsigned offset, void *data,
                              unsigned len)
{
    struct hv_virtio_input *in = dev->opaque;
    pthread_mutex_lock(&in->lock);
    memcpy(data, in->cfg + offset, len);
    pthread_mutex_unlock(&in->lock);
}

static void input_config_write(struct hv_virtio_dev *dev, unsigned offset, const void *data,
                               unsigned len)
{
    struct hv_virtio_input *in = dev->opaque;
    /* Only select and subsel are the driver's to write. */
    if (offset >= 2)
        return;
    pthread_mutex_lock(&in->lock);
    memcpy(in->cfg + offset, data, MIN(len, 2 - offset));
    update_config(in);
    pthread_mutex_unlock(&in->lock);
}

/* ---- queues ---- */

/* Moves pending events into the guest's buffers (queue_lock and in->lock held). */
static void flush_locked(struct hv_virtio_input *in)
{
    struct hv_virtio_dev *dev = &in->dev;
    struct hv_virtq *vq = &dev->queues[EVENTQ].vq;
    bool pushed = false;

    if (dev->broken || !vq->enabled || !(dev->status & VIRTIO_STATUS_DRIVER_OK))
        return;
    while (in->count > 0) {
        const char *why;
        int r = hv_virtq_pop(vq, &in->req, &why);
        if (r < 0) {
            pthread_mutex_unlock(&in->lock);
            hv_virtio_fail(dev, why);
            pthread_mutex_lock(&in->lock);
            return;
        }
        if (r == 0)
            break;
        const struct hv_input_event *ev = &in->pending[in->head];
        uint8_t wire[8];
        put_le16(wire, ev->type);
        put_le16(wire + 2, ev->code);
        put_le32(wire + 4, ev->value);
        size_t done = hv_virtq_copy_to_in(&in->req, 0, wire, sizeof(wire));
        hv_virtq_push(vq, in->req.head, (uint32_t)done);
        pushed = true;
        /* A buffer too small for an event loses it; the guest asked for that. */
        in->head = (in->head + 1) % HV_INPUT_PENDING_MAX;
        in->count--;
        in->sent++;
    }
    if (pushed)
        hv_virtio_notify(dev, EVENTQ);
}

static void drain_status(struct hv_virtio_input *in)
{
    struct hv_virtio_dev *dev = &in->dev;
    struct hv_virtq *vq = &dev->queues[STATUSQ].vq;
    bool pushed = false;
    for (;;) {
        const char *why;
        int r = hv_virtq_pop(vq, &in->req, &why);
        if (r < 0) {
            hv_virtio_fail(dev, why);
            return;
        }
        if (r == 0)
            break;
        /* LED updates: the guest's business; a host keyboard shows nothing of them. */
        pthread_mutex_lock(&in->lock);
        in->status_events++;
        pthread_mutex_unlock(&in->lock);
        hv_virtq_push(vq, in->req.head, 0);
        pushed = true;
    }
    if (pushed)
        hv_virtio_notify(dev, STATUSQ);
}

/* Runs under the transport's queue_lock. */
static void input_queue_notify(struct hv_virtio_dev *dev, unsigned q)
{
    struct hv_virtio_input *in = dev->opaque;
    if (q == STATUSQ) {
        drain_status(in);
        return;
    }
    pthread_mutex_lock(&in->lock);
    flush_locked(in);
    pthread_mutex_unlock(&in->lock);
}

static void input_reset(struct hv_virtio_dev *dev)
{
    struct hv_virtio_input *in = dev->opaque;
    pthread_mutex_lock(&in->lock);
    in->head = in->count = 0;
    in->buttons = 0;
    in->drop_logged = false;
    memset(in->cfg, 0, sizeof(in->cfg));
    pthread_mutex_unlock(&in->lock);
}

static const struct hv_virtio_ops input_ops = {
    .name = "virtio-input",
    .device_id = VIRTIO_ID_INPUT,
    .nr_queues = 2,
    .queue_size = 64,
    .config_size = CFG_SIZE,
    .config_read = input_config_read,
    .config_write = input_config_write,
    .queue_notify = input_queue_notify,
    .reset = input_reset,
};

void hv_virtio_input_send(struct hv_virtio_input *in, const struct hv_input_event *ev,
                          unsigned n)
{
    /* The same order as a kick: the transport's queue lock, then ours. */
    pthread_mutex_lock(&in->dev.queue_lock);
    pthread_mutex_lock(&in->lock);
    for (unsigned i = 0; i < n; i++) {
        if (in->count == HV_INPUT_PENDING_MAX) {
            in->head = (in->head + 1) % HV_INPUT_PENDING_MAX;
            in->count--;
            in->dropped++;
            if (!in->drop_logged) {
                fprintf(stderr, "vmdesk-vmm: %s (PCI slot %u): the guest takes no input "
                                "events; dropping the oldest\n",
                        in->kind == HV_INPUT_KEYBOARD ? "virtio-input keyboard"
                                                      : "virtio-input tablet",
                        in->dev.pci.slot);
                in->drop_logged = true;
            }
        }
        in->pending[(in->head + in->count) % HV_INPUT_PENDING_MAX] = ev[i];
        in->count++;
    }
    flush_locked(in);
    if (in->count == 0)
        in->drop_logged = false;
    pthread_mutex_unlock(&in->lock);
    pthread_mutex_unlock(&in->dev.queue_lock);
}

/* ---- the input sink ---- */

static struct hv_virtio_input *half(void *opaque, enum hv_virtio_input_kind kind)
{
    struct hv_virtio_input *in = opaque;
    return in->kind == kind ? in : in->peer;
}

static void sink_key(void *opaque, uint16_t code, bool down)
{
    struct hv_virtio_input *kbd = half(opaque, HV_INPUT_KEYBOARD);
    if (!kbd || code == 0 || code >= KEY_CNT)
        return;
    struct hv_input_event ev[2] = {
        {EV_KEY, code, down ? 1 : 0},
        {EV_SYN, SYN_REPORT, 0},
    };
    hv_virtio_input_send(kbd, ev, 2);
}

static uint32_t scale(uint32_t v, uint32_t size)
{
    if (size <= 1)
        return 0;
    if (v >= size)
        v = size - 1;
    return (uint32_t)(((uint64_t)v * HV_INPUT_ABS_MAX) / (size - 1));
}

static void sink_pointer(void *opaque, uint32_t x, uint32_t y, uint32_t width, uint32_t height,
                         uint32_t buttons)
{
    struct hv_virtio_input *tab = half(opaque, HV_INPUT_TABLET);
    if (!tab)
        return;
    struct hv_input_event ev[8];
    unsigned n = 0;
    ev[n++] = (struct hv_input_event){EV_ABS, ABS_X, scale(x, width)};
    ev[n++] = (struct hv_input_event){EV_ABS, ABS_Y, scale(y, height)};

    pthread_mutex_lock(&tab->lock);
    uint32_t old = tab->buttons;
    tab->buttons = buttons;
    pthread_mutex_unlock(&tab->lock);
    static const struct {
        uint32_t bit;
        uint16_t code;
    } btn[] = {{HV_BUTTON_LEFT, BTN_LEFT}, {HV_BUTTON_MIDDLE, BTN_MIDDLE},
               {HV_BUTTON_RIGHT, BTN_RIGHT}};
    for (unsigned i = 0; i < G_N_ELEMENTS(btn); i++)
        if ((old ^ buttons) & btn[i].bit)
            ev[n++] = (struct hv_input_event){EV_KEY, btn[i].code, (buttons & btn[i].bit) ? 1 : 0};
    /* The wheel "buttons" are clicks: one notch each time one goes down. */
    if ((buttons & ~old) & HV_BUTTON_WHEEL_UP)
        ev[n++] = (struct hv_input_event){EV_REL, REL_WHEEL, 1};
    if ((buttons & ~old) & HV_BUTTON_WHEEL_DOWN)
        ev[n++] = (struct hv_input_event){EV_REL, REL_WHEEL, (uint32_t)-1};
    ev[n++] = (struct hv_input_event){EV_SYN, SYN_REPORT, 0};
    hv_virtio_input_send(tab, ev, n);
}

void hv_virtio_input_sink(struct hv_virtio_input *keyboard, struct hv_virtio_input *tablet,
                          struct hv_input_sink *sink)
{
    if (keyboard)
        keyboard->peer = tablet;
    if (tablet)
        tablet->peer = keyboard;
    sink->key = sink_key;
    sink->pointer = sink_pointer;
    sink->opaque = keyboard ? (void *)keyboard : (void *)tablet;
}

/* ---- device registry hooks ---- */

static void input_machine_reset(void *impl)
{
    struct hv_virtio_input *in = impl;
    hv_virtio_reset(&in->dev);
}

static void input_destroy(void *impl)
{
    struct hv_virtio_input *in = impl;
    hv_virtio_destroy(&in->dev);
    pthread_mutex_destroy(&in->lock);
    g_free(in);
}

static void input_describe(void *impl, JsonBuilder *b)
{
    struct hv_virtio_input *in = impl;
    json_builder_set_member_name(b, "pci-slot");
    json_builder_add_int_value(b, in->dev.pci.slot);
    json_builder_set_member_name(b, "input");
    json_builder_add_string_value(b, in->kind == HV_INPUT_KEYBOARD ? "keyboard" : "tablet");
}

static void input_stats(void *impl, JsonBuilder *b)
{
    struct hv_virtio_input *in = impl;
    pthread_mutex_lock(&in->lock);
    uint64_t sent = in->sent, dropped = in->dropped, status = in->status_events;
    pthread_mutex_unlock(&in->lock);
    json_builder_set_member_name(b, "events");
    json_builder_add_int_value(b, (gint64)sent);
    json_builder_set_member_name(b, "dropped");
    json_builder_add_int_value(b, (gint64)dropped);
    json_builder_set_member_name(b, "status-events");
    json_builder_add_int_value(b, (gint64)status);
}

static struct hv_virtio_dev *input_virtio(void *impl)
{
    struct hv_virtio_input *in = impl;
    return &in->dev;
}

const struct hv_device_ops hv_virtio_input_device_ops = {
    .kind = "virtio-input",
    .reset = input_machine_reset,
    .destroy = input_destroy,
    .describe = input_describe,
    .stats = input_stats,
    .virtio = input_virtio,
};

int hv_virtio_input_new(enum hv_virtio_input_kind kind, struct hv_vm *vm,
                        const struct hv_memory *mem, struct hv_virtio_input **out)
{
    struct hv_virtio_input *in = g_new0(struct hv_virtio_input, 1);
    in->kind = kind;
    pthread_mutex_init(&in->lock, NULL);
    int r = hv_virtio_init(&in->dev, &input_ops, in, vm, mem);
    if (r < 0) {
        pthread_mutex_destroy(&in->lock);
        g_free(in);
        return r;
    }
    *out = in;
    return 0;
}

struct hv_virtio_dev *hv_virtio_input_dev(struct hv_virtio_input *in)
{
    return &in->dev;
}

uint64_t hv_virtio_input_sent(const struct hv_virtio_input *in)
{
    return in->sent;
}

uint64_t hv_virtio_input_dropped(const struct hv_virtio_input *in)
{
    return in->dropped;
}
