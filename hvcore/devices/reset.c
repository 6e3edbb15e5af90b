/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The PC reset control register at port 0xCF9 (also the FADT's reset register). */
#include "devices/legacy.h"

#include <string.h>

#include "x86/acpi.h"

#define RCR_SYS_RST (1u << 1)
#define RCR_RST_CPU (1u << 2)

static void rcr_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    (void)opaque;
    (void)offset;
    memset(data, 0, len);
}

void hv_reset_control_write(struct hv_vm *vm, uint8_t value)
{
    /* Bit 2 starts the reset; bit 1 picks hard or soft, which a VM need not tell apart. */
    if (value & RCR_RST_CPU)
        hv_vm_request(vm, HV_REQ_RESET, NULL);
}

static void rcr_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    (void)offset;
    (void)len;
    hv_reset_control_write(opaque, *(const uint8_t *)data);
}

static const struct hv_io_ops rcr_ops = {
    .read = rcr_read,
    .write = rcr_write,
};

int hv_reset_register(struct hv_vm *vm)
{
    return hv_iobus_register(&vm->pio, HV_RESET_PORT, 1, &rcr_ops, vm);
}
