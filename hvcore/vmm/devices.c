/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The machine's devices: COM1, the PCI devices its flags ask for, and their registration. */
#include "vmm/machine-private.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "block/raw.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/input.h"
#include "virtio/net.h"
#include "virtio/rng.h"

#define COM1_BASE 0x3f8
#define COM1_IRQ 4
#define POST_PORT 0x80

static void uart_set_irq(void *opaque, int level)
{
    struct hv_machine *m = opaque;
    hv_vm_set_irq(&m->vm, COM1_IRQ, level);
}

static void uart_tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct hv_machine *m = opaque;
    if (m->serial)
        hv_chardev_write(m->serial, buf, len);
}

static void uart_io_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct hv_machine *m = opaque;
    memset(data, 0, len);
    *(uint8_t *)data = hv_uart_read(m->uart, (unsigned)offset);
}

static void uart_io_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct hv_machine *m = opaque;
    (void)len;
    hv_uart_write(m->uart, (unsigned)offset, *(const uint8_t *)data);
}

static const struct hv_io_ops uart_io_ops = {
    .read = uart_io_read,
    .write = uart_io_write,
};

/* Port 0x80 takes POST codes and Linux's I/O delays; nothing to do with them. */
static const struct hv_io_ops post_ops = {0};

int hv_machine_create_uart(struct hv_machine *m)
{
    struct hv_uart_callbacks cb = {.set_irq = uart_set_irq, .tx = uart_tx,
                                   .tx_pending = hv_machine_uart_pending, .opaque = m};
    m->uart = hv_uart_new(&cb);
    return m->uart ? 0 : -ENOMEM;
}

/* Bad input: each --disk image must exist, be usable and not be locked by another VM. */
int hv_machine_open_disks(struct hv_machine *m, char **err)
{
    for (unsigned i = 0; i < m->cfg->nr_disks; i++) {
        int r = hv_raw_open(&m->cfg->disks[i], &m->disk_images[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int add_disks(struct hv_machine *m, char **err)
{
    for (unsigned i = 0; i < m->cfg->nr_disks; i++) {
        struct hv_virtio_blk *blk;
        struct hv_raw *raw = g_steal_pointer(&m->disk_images[i]);
        int r = hv_virtio_blk_new(raw, &m->vm, &m->mem, &blk, err);
        if (r < 0)
            return r;
        if ((r = hv_virtio_add(hv_virtio_blk_dev(blk), &m->pci)) < 0) {
            hv_virtio_blk_device_ops.destroy(blk);
            *err = g_strdup_printf("cannot add virtio-blk for --disk path=%s: %s",
                                   m->cfg->disks[i].path, g_strerror(-r));
            return r;
        }
        char id[16];
        snprintf(id, sizeof(id), "disk%u", i);
        hv_machine_add_device(m, &hv_virtio_blk_device_ops, blk, id);
    }
    return 0;
}

/* Always there: the balloon; with --console, hvc0 (its backend is opened with the files). */
static int add_balloon_console(struct hv_machine *m, char **err)
{
    int r;
    struct hv_virtio_balloon *bal = g_new0(struct hv_virtio_balloon, 1);
    if ((r = hv_virtio_balloon_init(bal, &m->vm, &m->mem)) < 0 ||
        (r = hv_virtio_add(&bal->dev, &m->pci)) < 0) {
        hv_virtio_destroy(&bal->dev);
        g_free(bal);
        *err = g_strdup_printf("cannot add virtio-balloon: %s", g_strerror(-r));
        return r;
    }
    hv_machine_add_device(m, &hv_virtio_balloon_device_ops, bal, "balloon0");
    m->balloon = bal;
    if (!m->cfg->has_console)
        return 0;
    struct hv_virtio_console *con = g_new0(struct hv_virtio_console, 1);
    if ((r = hv_virtio_console_init(con, &m->vm, &m->mem)) < 0 ||
        (r = hv_virtio_add(&con->dev, &m->pci)) < 0) {
        hv_virtio_destroy(&con->dev);
        g_free(con);
        *err = g_strdup_printf("cannot add virtio-console: %s", g_strerror(-r));
        return r;
    }
    hv_machine_add_device(m, &hv_virtio_console_device_ops, con, "console0");
    m->console = con;
    return 0;
}

/* Bad input: each --net backend must start (a free host port, a usable tap). */
int hv_machine_open_nics(struct hv_machine *m, char **err)
{
    for (unsigned i = 0; i < m->cfg->nr_nics; i++) {
        m->nic_backends[i] = hv_virtio_net_open_backend(&m->cfg->nics[i], i, err);
        if (!m->nic_backends[i])
            return -EINVAL;
    }
    return 0;
}

static int add_nics(struct hv_machine *m, char **err)
{
    for (unsigned i = 0; i < m->cfg->nr_nics; i++) {
        struct hv_virtio_net *net;
        int r = hv_virtio_net_new(g_steal_pointer(&m->nic_backends[i]), &m->cfg->nics[i], i,
                                  m->cfg->control, &m->vm, &m->mem, &net, err);
        if (r < 0)
            return r;
        if ((r = hv_virtio_add(&net->dev, &m->pci)) < 0) {
            hv_virtio_net_device_ops.destroy(net);
            *err = g_strdup_printf("cannot add virtio-net net%u: %s", i, g_strerror(-r));
            return r;
        }
        hv_machine_add_device(m, &hv_virtio_net_device_ops, net, net->id);
    }
    return 0;
}

/* With a display: a virtio-input keyboard and tablet, behind m->input_sink. */
static int add_input(struct hv_machine *m, char **err)
{
    static const char *const ids[] = {"keyboard0", "tablet0"};
    struct hv_virtio_input *in[2] = {NULL, NULL};
    if (!m->surface)
        return 0;
    for (unsigned i = 0; i < 2; i++) {
        int r = hv_virtio_input_new(i ? HV_INPUT_TABLET : HV_INPUT_KEYBOARD, &m->vm, &m->mem,
                                    &in[i]);
        if (r == 0 && (r = hv_virtio_add(hv_virtio_input_dev(in[i]), &m->pci)) < 0)
            hv_virtio_input_device_ops.destroy(in[i]);
        if (r < 0) {
            *err = g_strdup_printf("cannot add virtio-input %s: %s", ids[i], g_strerror(-r));
            return r;
        }
        hv_machine_add_device(m, &hv_virtio_input_device_ops, in[i], ids[i]);
    }
    hv_virtio_input_sink(in[0], in[1], &m->input_sink);
    return 0;
}

int hv_machine_register_devices(struct hv_machine *m, char **err)
{
    int r = hv_machine_create_uart(m);
    if (r == 0)
        r = hv_iobus_register(&m->vm.pio, COM1_BASE, 8, &uart_io_ops, m);
    if (r == 0)
        r = hv_iobus_register(&m->vm.pio, POST_PORT, 1, &post_ops, m);
    if (r == 0)
        r = hv_i8042_register(&m->vm);
    if (r == 0)
        r = hv_acpi_pm_register(&m->pm, &m->vm);
    if (r < 0) {
        *err = g_strdup_printf("cannot register the legacy devices: %s", g_strerror(-r));
        return r;
    }
    uint64_t ram_top = m->mem.layout.regions[m->mem.layout.nr_regions - 1].gpa +
                       m->mem.layout.regions[m->mem.layout.nr_regions - 1].size;
    if ((r = hv_pci_init(&m->pci, &m->vm, ram_top)) < 0) {
        *err = g_strdup_printf("cannot set up the PCI bus: %s", g_strerror(-r));
        return r;
    }
    m->pci_ready = true;
    struct hv_virtio_rng *rng = g_new0(struct hv_virtio_rng, 1);
    if ((r = hv_virtio_rng_init(rng, &m->vm, &m->mem)) < 0 ||
        (r = hv_virtio_add(&rng->dev, &m->pci)) < 0) {
        hv_virtio_destroy(&rng->dev);
        g_free(rng);
        *err = g_strdup_printf("cannot add virtio-rng: %s", g_strerror(-r));
        return r;
    }
    hv_machine_add_device(m, &hv_virtio_rng_device_ops, rng, "rng0");
    if ((r = add_balloon_console(m, err)) < 0)
        return r;
    if ((r = add_disks(m, err)) < 0)
        return r;
    if ((r = add_nics(m, err)) < 0)
        return r;
    if ((r = hv_machine_add_display(m, err)) < 0)
        return r;
    return add_input(m, err);
}
