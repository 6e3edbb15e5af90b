/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bochs-display: a PCI framebuffer with the DISPI (VBE) registers and an EDID block. */
#include "devices/bochs-display.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/edid.h"
#include "display/surface.h"
#include "kvm/vm.h"

#define BOCHS_VENDOR 0x1234
#define BOCHS_DEVICE 0x1111
#define BOCHS_CLASS 0x038000 /* display controller, other */
#define BOCHS_REVISION 2     /* Linux reads the extended registers from revision 2 on */
#define QEXT_SIZE 8          /* the extended registers: size, then endianness */
#define QEXT_LITTLE 0x1e1e1e1e
#define QEXT_BIG 0xbebebebe
#define PREFERRED_WIDTH 1280
#define PREFERRED_HEIGHT 800
#define SCAN_MS 16           /* the dirty log is read at ~60 Hz */
#define MAX_REFUSAL_LOGS 8   /* a guest retrying a bad mode does not flood the log */
#define PAGE_SHIFT 12

struct hv_bochs_display {
    struct hv_pci_dev pci;
    struct hv_vm *vm;
    struct hv_surface *surface;
    uint8_t *vram;
    int slot; /* the KVM memory slot over BAR0, or -1 */
    unsigned long *bitmap;
    guint timer;
    uint8_t edid[HV_EDID_SIZE];

    pthread_mutex_t lock; /* registers, the scanout and the slot */
    uint16_t regs[DISPI_NR];
    bool getcaps;
    uint32_t endian;
    /* What the surface shows now. */
    bool on;
    uint32_t width, height, stride;
    uint64_t offset;
    /* Counters for query-stats. */
    uint64_t modes_set, modes_refused, dirty_runs, vram_exits;
};

/* ---- the scanout ---- */

struct scanout {
    uint32_t width, height, stride;
    uint64_t offset;
};

/* The mode the registers describe, or NULL with the reason it cannot be shown. */
static const char *compute_scanout(const struct hv_bochs_display *d, struct scanout *s)
{
    const uint16_t *r = d->regs;
    if (r[DISPI_BPP] != 32)
        return "only 32 bits per pixel are supported";
    if (!r[DISPI_XRES] || !r[DISPI_YRES])
        return "zero width or height";
    if (r[DISPI_XRES] > HV_SURFACE_MAX_WIDTH || r[DISPI_YRES] > HV_SURFACE_MAX_HEIGHT)
        return "larger than 4096x2160";
    if (r[DISPI_VIRT_WIDTH] < r[DISPI_XRES] ||
        (uint32_t)r[DISPI_X_OFFSET] + r[DISPI_XRES] > r[DISPI_VIRT_WIDTH])
        return "the visible area is wider than the virtual width";
    s->width = r[DISPI_XRES];
    s->height = r[DISPI_YRES];
    s->stride = (uint32_t)r[DISPI_VIRT_WIDTH] * 4;
    s->offset = ((uint64_t)r[DISPI_Y_OFFSET] * r[DISPI_VIRT_WIDTH] + r[DISPI_X_OFFSET]) * 4;
    uint64_t end = s->offset + (uint64_t)(s->height - 1) * s->stride + (uint64_t)s->width * 4;
    if (end > HV_BOCHS_VRAM_SIZE)
        return "it does not fit in the 16 MiB of video memory";
    return NULL;
}

static void log_refusal(struct hv_bochs_display *d, const char *why)
{
    d->modes_refused++;
    if (d->modes_refused > MAX_REFUSAL_LOGS)
        return;
    fprintf(stderr, "vmdesk-vmm: bochs-display: refused mode %ux%u, %u bpp, virtual width %u, "
            "offset %u,%u: %s%s\n", d->regs[DISPI_XRES], d->regs[DISPI_YRES],
            d->regs[DISPI_BPP], d->regs[DISPI_VIRT_WIDTH], d->regs[DISPI_X_OFFSET],
            d->regs[DISPI_Y_OFFSET], why,
            d->modes_refused == MAX_REFUSAL_LOGS ? " (further refusals not logged)" : "");
}

/* Caller holds d->lock. Shows `s`, or turns the display off (s NULL). */
static void show(struct hv_bochs_display *d, const struct scanout *s)
{
    if (!s) {
        if (d->on)
            hv_surface_set_mode(d->surface, 0, 0, 0, NULL);
        d->on = false;
        return;
    }
    if (d->on && d->width == s->width && d->height == s->height && d->stride == s->stride &&
        d->offset == s->offset)
        return;
    d->on = true;
    d->width = s->width;
    d->height = s->height;
    d->stride = s->stride;
    d->offset = s->offset;
    d->modes_set++;
    hv_surface_set_mode(d->surface, s->width, s->height, s->stride, d->vram + s->offset);
}

/* Caller holds d->lock: the guest wrote ENABLE. */
static void write_enable(struct hv_bochs_display *d, uint16_t v)
{
    d->getcaps = v & DISPI_GETCAPS;
    v &= DISPI_ENABLED | DISPI_GETCAPS | DISPI_LFB_ENABLED | DISPI_NOCLEARMEM | 0x20;
    if (!(v & DISPI_ENABLED)) {
        d->regs[DISPI_ENABLE] = v;
        show(d, NULL);
        return;
    }
    /* As VBE hardware does: a new mode starts with a packed, unscrolled virtual screen. */
    uint16_t *r = d->regs;
    if (!(r[DISPI_ENABLE] & DISPI_ENABLED)) {
        r[DISPI_VIRT_WIDTH] = r[DISPI_XRES];
        r[DISPI_VIRT_HEIGHT] = r[DISPI_XRES] && r[DISPI_BPP] == 32 ?
            (uint16_t)MIN(HV_BOCHS_VRAM_SIZE / (r[DISPI_XRES] * 4u), 0xffffu) : 0;
        r[DISPI_X_OFFSET] = r[DISPI_Y_OFFSET] = 0;
    }
    struct scanout s;
    const char *why = compute_scanout(d, &s);
    if (why) {
        log_refusal(d, why);
        r[DISPI_ENABLE] = v & (uint16_t)~DISPI_ENABLED;
        show(d, NULL);
        return;
    }
    r[DISPI_ENABLE] = v;
    if (!(v & DISPI_NOCLEARMEM))
        memset(d->vram + s.offset, 0, (size_t)(s.height - 1) * s.stride + s.width * 4);
    show(d, &s);
}

/* Caller holds d->lock. */
static void write_dispi(struct hv_bochs_display *d, unsigned index, uint16_t v)
{
    switch (index) {
    case DISPI_ID:
    case DISPI_VIDEO_MEMORY_64K:
        return; /* read-only (the ID negotiation of old VBE BIOSes is not needed) */
    case DISPI_ENABLE:
        write_enable(d, v);
        return;
    case DISPI_BANK:
        d->regs[DISPI_BANK] = 0; /* banked access is for the legacy VGA window: none here */
        return;
    default:
        d->regs[index] = v;
        break;
    }
    /* Panning and the virtual width apply at once (page flips); the rest at ENABLE. */
    if ((d->regs[DISPI_ENABLE] & DISPI_ENABLED) &&
        (index == DISPI_VIRT_WIDTH || index == DISPI_X_OFFSET || index == DISPI_Y_OFFSET)) {
        struct scanout s;
        const char *why = compute_scanout(d, &s);
        if (why)
            log_refusal(d, why); /* keep showing what was valid */
        else
            show(d, &s);
    }
}

static uint16_t read_dispi(struct hv_bochs_display *d, unsigned index)
{
    if (d->getcaps) {
        if (index == DISPI_XRES)
            return HV_SURFACE_MAX_WIDTH;
        if (index == DISPI_YRES)
            return HV_SURFACE_MAX_HEIGHT;
        if (index == DISPI_BPP)
            return 32;
    }
    return d->regs[index];
}

/* ---- BAR2: EDID, VGA ports, DISPI, extended registers ---- */

static uint8_t mmio_byte(struct hv_bochs_display *d, uint64_t off)
{
    if (off < HV_EDID_SIZE)
        return d->edid[off];
    if (off >= HV_BOCHS_DISPI && off < HV_BOCHS_DISPI + 2 * DISPI_NR) {
        uint16_t v = read_dispi(d, (unsigned)(off - HV_BOCHS_DISPI) / 2);
        return (uint8_t)(v >> (8 * (off & 1)));
    }
    if (off >= HV_BOCHS_QEXT && off < HV_BOCHS_QEXT + QEXT_SIZE) {
        uint32_t v = off < HV_BOCHS_QEXT + 4 ? QEXT_SIZE : d->endian;
        return (uint8_t)(v >> (8 * (off & 3)));
    }
    return 0; /* VGA ports (a blanked attribute controller reads 0) and the rest */
}

static void mmio_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct hv_bochs_display *d = opaque;
    uint8_t *out = data;
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 0; i < len; i++)
        out[i] = offset + i < HV_BOCHS_MMIO_SIZE ? mmio_byte(d, offset + i) : 0xff;
    pthread_mutex_unlock(&d->lock);
}

static void mmio_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct hv_bochs_display *d = opaque;
    uint8_t b[8] = {0};
    memcpy(b, data, len < sizeof(b) ? len : sizeof(b));
    pthread_mutex_lock(&d->lock);
    if (offset >= HV_BOCHS_DISPI && offset < HV_BOCHS_DISPI + 2 * DISPI_NR && !(offset & 1) &&
        (len == 2 || len == 4)) {
        /* 16-bit registers; a 32-bit write sets two of them. */
        for (unsigned i = 0; i < len; i += 2) {
            unsigned index = (unsigned)(offset + i - HV_BOCHS_DISPI) / 2;
            if (index < DISPI_NR)
                write_dispi(d, index, (uint16_t)(b[i] | b[i + 1] << 8));
        }
    } else if (offset == HV_BOCHS_QEXT + 4 && len == 4) {
        uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        if (v == QEXT_LITTLE || v == QEXT_BIG)
            d->endian = v;
    }
    /* Everything else (the EDID, the VGA ports Linux pokes to unblank) ignores writes. */
    pthread_mutex_unlock(&d->lock);
}

static const struct hv_io_ops mmio_ops = {.read = mmio_read, .write = mmio_write};

/* ---- BAR0: VRAM. Normally a KVM memory slot; these run only without one. ---- */

static void vram_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct hv_bochs_display *d = opaque;
    memcpy(data, d->vram + offset, len);
    pthread_mutex_lock(&d->lock);
    d->vram_exits++;
    pthread_mutex_unlock(&d->lock);
}

static void vram_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct hv_bochs_display *d = opaque;
    memcpy(d->vram + offset, data, len);
    pthread_mutex_lock(&d->lock);
    d->vram_exits++;
    if (d->on && offset >= d->offset) {
        uint64_t rel = offset - d->offset;
        uint64_t y = rel / d->stride, x = rel % d->stride / 4;
        hv_surface_damage(d->surface, (uint32_t)MIN(x, UINT32_MAX), (uint32_t)MIN(y, UINT32_MAX),
                          (len + 3) / 4 + 1, 1);
    }
    pthread_mutex_unlock(&d->lock);
}

static const struct hv_io_ops vram_ops = {.read = vram_read, .write = vram_write};

/* ---- dirty tracking ---- */

/* Caller holds d->lock: VRAM bytes [start, end) were written. */
static void damage_bytes(struct hv_bochs_display *d, uint64_t start, uint64_t end)
{
    uint64_t visible_end = d->offset + (uint64_t)(d->height - 1) * d->stride + d->width * 4ull;
    if (end <= d->offset || start >= visible_end)
        return;
    uint64_t a = MAX(start, d->offset) - d->offset;
    uint64_t b = MIN(end, visible_end) - d->offset; /* exclusive */
    uint32_t y0 = (uint32_t)(a / d->stride), y1 = (uint32_t)((b - 1) / d->stride);
    if (y0 == y1) {
        uint32_t x0 = (uint32_t)(a % d->stride / 4), x1 = (uint32_t)((b - 1) % d->stride / 4);
        if (x0 < d->width)
            hv_surface_damage(d->surface, x0, y0, MIN(x1, d->width - 1) - x0 + 1, 1);
        return;
    }
    hv_surface_damage(d->surface, 0, y0, d->width, y1 - y0 + 1);
}

void hv_bochs_display_scan(struct hv_bochs_display *d)
{
    if (!d->vm || d->slot < 0)
        return;
    pthread_mutex_lock(&d->lock);
    /* While the display is off, pages stay marked; a new mode is damaged whole anyway. */
    if (d->on && hv_vm_get_dirty_log(d->vm, (unsigned)d->slot, d->bitmap) == 0) {
        const unsigned bits = 8 * sizeof(unsigned long);
        const unsigned pages = HV_BOCHS_VRAM_SIZE >> PAGE_SHIFT;
        unsigned p = 0;
        while (p < pages) {
            if (!d->bitmap[p / bits]) {
                p = (p / bits + 1) * bits;
                continue;
            }
            if (!(d->bitmap[p / bits] & (1ul << (p % bits)))) {
                p++;
                continue;
            }
            unsigned q = p;
            while (q < pages && (d->bitmap[q / bits] & (1ul << (q % bits))))
                q++;
            damage_bytes(d, (uint64_t)p << PAGE_SHIFT, (uint64_t)q << PAGE_SHIFT);
            d->dirty_runs++;
            p = q;
        }
    }
    pthread_mutex_unlock(&d->lock);
}

static gboolean scan_timer(gpointer opaque)
{
    hv_bochs_display_scan(opaque);
    return G_SOURCE_CONTINUE;
}

/* On whichever thread the guest moved BAR0 from: the slot follows it. */
static void bar_moved(struct hv_pci_dev *pci, unsigned bar, uint64_t old, uint64_t new_addr)
{
    struct hv_bochs_display *d = pci->opaque;
    (void)old;
    if (bar != 0 || !d->vm || d->slot < 0)
        return;
    pthread_mutex_lock(&d->lock);
    int r = hv_vm_move_slot(d->vm, (unsigned)d->slot, new_addr);
    if (r < 0)
        fprintf(stderr, "vmdesk-vmm: bochs-display: cannot map video memory at 0x%llx: %s; "
                "the guest's writes to it now go through MMIO exits\n",
                (unsigned long long)new_addr, g_strerror(-r));
    /*
     * hv_vm_move_slot keeps the pages logged before the move for the next scan, but
     * another vCPU may write between its harvest and the delete, unlogged. A move is
     * rare: show the whole screen again rather than risk a stale part.
     */
    if (d->on)
        hv_surface_damage(d->surface, 0, 0, d->width, d->height);
    pthread_mutex_unlock(&d->lock);
}

static const struct hv_pci_dev_ops pci_ops = {.bar_moved = bar_moved};

/* ---- the device ---- */

static void power_on_registers(struct hv_bochs_display *d)
{
    memset(d->regs, 0, sizeof(d->regs));
    d->regs[DISPI_ID] = DISPI_ID5;
    d->regs[DISPI_BPP] = 32;
    d->regs[DISPI_VIDEO_MEMORY_64K] = HV_BOCHS_VRAM_SIZE >> 16;
    d->getcaps = false;
    d->endian = QEXT_LITTLE;
}

static void bochs_reset(void *impl)
{
    struct hv_bochs_display *d = impl;
    pthread_mutex_lock(&d->lock);
    power_on_registers(d);
    show(d, NULL);
    pthread_mutex_unlock(&d->lock);
}

static void bochs_destroy(void *impl)
{
    struct hv_bochs_display *d = impl;
    if (d->timer)
        g_source_remove(d->timer);
    pthread_mutex_lock(&d->lock);
    show(d, NULL);
    if (d->vm && d->slot >= 0)
        (void)hv_vm_move_slot(d->vm, (unsigned)d->slot, 0);
    pthread_mutex_unlock(&d->lock);
    munmap(d->vram, HV_BOCHS_VRAM_SIZE);
    pthread_mutex_destroy(&d->lock);
    g_free(d->bitmap);
    g_free(d);
}

static void bochs_describe(void *impl, JsonBuilder *b)
{
    struct hv_bochs_display *d = impl;
    json_builder_set_member_name(b, "pci-slot");
    json_builder_add_int_value(b, d->pci.slot);
    json_builder_set_member_name(b, "vram");
    json_builder_add_int_value(b, HV_BOCHS_VRAM_SIZE);
}

static void bochs_stats(void *impl, JsonBuilder *b)
{
    struct hv_bochs_display *d = impl;
    pthread_mutex_lock(&d->lock);
    uint64_t set = d->modes_set, refused = d->modes_refused, runs = d->dirty_runs;
    uint64_t exits = d->vram_exits;
    pthread_mutex_unlock(&d->lock);
    json_builder_set_member_name(b, "modes-set");
    json_builder_add_int_value(b, (gint64)set);
    json_builder_set_member_name(b, "modes-refused");
    json_builder_add_int_value(b, (gint64)refused);
    /* Runs of written VRAM pages the dirty log turned into damage. */
    json_builder_set_member_name(b, "dirty-runs");
    json_builder_add_int_value(b, (gint64)runs);
    /* VRAM accesses that exited to the VMM: 0 while the KVM slot follows the BAR. */
    json_builder_set_member_name(b, "vram-exits");
    json_builder_add_int_value(b, (gint64)exits);
}

const struct hv_device_ops hv_bochs_display_device_ops = {
    .kind = "bochs-display",
    .reset = bochs_reset,
    .destroy = bochs_destroy,
    .describe = bochs_describe,
    .stats = bochs_stats,
};

struct hv_pci_dev *hv_bochs_display_pci(struct hv_bochs_display *d)
{
    return &d->pci;
}

int hv_bochs_display_new(struct hv_vm *vm, struct hv_surface *surface,
                         struct hv_bochs_display **out, char **err)
{
    struct hv_bochs_display *d = g_new0(struct hv_bochs_display, 1);
    d->vm = vm;
    d->surface = surface;
    d->slot = -1;
    pthread_mutex_init(&d->lock, NULL);
    d->vram = mmap(NULL, HV_BOCHS_VRAM_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (d->vram == MAP_FAILED) {
        int e = errno;
        pthread_mutex_destroy(&d->lock);
        g_free(d);
        *err = g_strdup_printf("cannot allocate 16 MiB of video memory: %s", g_strerror(e));
        return -e;
    }
    power_on_registers(d);
    hv_edid_build(d->edid, PREFERRED_WIDTH, PREFERRED_HEIGHT);

    hv_pci_dev_init(&d->pci, "bochs-display", BOCHS_VENDOR, BOCHS_DEVICE, BOCHS_CLASS,
                    0x1af4, 0x1100);
    d->pci.cfg[PCI_REVISION] = BOCHS_REVISION;
    d->pci.cfg[PCI_INTERRUPT_PIN] = 0;
    d->pci.ops = &pci_ops;
    d->pci.opaque = d;
    hv_pci_dev_set_bar(&d->pci, 0, HV_BOCHS_VRAM_SIZE, false, &vram_ops, d);
    d->pci.bars[0].prefetch = true;
    d->pci.cfg[PCI_BAR0] |= 0x8; /* prefetchable */
    hv_pci_dev_set_bar(&d->pci, 2, HV_BOCHS_MMIO_SIZE, false, &mmio_ops, d);

    if (vm) {
        int slot = hv_vm_add_dirty_slot(vm, 0, HV_BOCHS_VRAM_SIZE, d->vram, err);
        if (slot < 0) {
            munmap(d->vram, HV_BOCHS_VRAM_SIZE);
            pthread_mutex_destroy(&d->lock);
            g_free(d);
            return slot;
        }
        d->slot = slot;
        d->bitmap = g_new0(unsigned long, (HV_BOCHS_VRAM_SIZE >> PAGE_SHIFT) /
                                              (8 * sizeof(unsigned long)));
        d->timer = g_timeout_add(SCAN_MS, scan_timer, d);
    }
    *out = d;
    return 0;
}
