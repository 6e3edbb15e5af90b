/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The i8042 keyboard controller, as far as a guest needs it to reset the machine. */
#include "devices/legacy.h"

#include <string.h>

#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define I8042_CMD_PULSE_RESET 0xfe

/*
 * No keyboard hangs off it (input devices come over virtio and USB), so the status
 * register always says "both buffers empty": a guest waiting to send a command never
 * spins, and one reading data gets nothing.
 */
static void i8042_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    (void)opaque;
    (void)offset;
    memset(data, 0, len);
}

static void i8042_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct hv_vm *vm = opaque;
    (void)len;
    if (offset == I8042_CMD - I8042_DATA && *(const uint8_t *)data == I8042_CMD_PULSE_RESET)
        hv_vm_request(vm, HV_REQ_RESET, NULL);
}

static const struct hv_io_ops i8042_ops = {
    .read = i8042_read,
    .write = i8042_write,
};

int hv_i8042_register(struct hv_vm *vm)
{
    /* 0x60..0x64 as one range; 0x61 (speaker) is taken by the in-kernel PIT first. */
    return hv_iobus_register(&vm->pio, I8042_DATA, I8042_CMD - I8042_DATA + 1, &i8042_ops, vm);
}
