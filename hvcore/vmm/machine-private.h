/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the machine's files share: boot (boot.c), devices (devices.c), the rest (machine.c). */
#pragma once

#include "vmm/machine.h"

enum { EXIT_OK = 0, EXIT_FAILURE_RUNTIME = 1, EXIT_USAGE = 2 };

/* boot.c: the guest's files, loading them, and each vCPU's initial state. */
int hv_machine_load_firmware(struct hv_machine *m, char **err);
int hv_machine_open_kernel(struct hv_machine *m, char **err);
/* Writes the ACPI tables, the kernel, the initrd and the zero page into guest RAM. */
int hv_machine_load_kernel(struct hv_machine *m, char **err);
int hv_machine_setup_vcpu(struct hv_vcpu *vcpu, void *opaque);

/* devices.c: the UART, and the devices the flags ask for. */
int hv_machine_create_uart(struct hv_machine *m);
/* The UART's tx_pending callback: arms the flush of a partial line (machine.c). */
void hv_machine_uart_pending(void *opaque);
/* Opens disk images and network backends: bad input, so before anything is created. */
int hv_machine_open_disks(struct hv_machine *m, char **err);
int hv_machine_open_nics(struct hv_machine *m, char **err);
int hv_machine_register_devices(struct hv_machine *m, char **err);

/* display.c: the display device over m->surface (nothing without one), and its commands. */
int hv_machine_add_display(struct hv_machine *m, char **err);
int hv_machine_screendump(void *opaque, const char *filename, char **err);
void hv_machine_query_display(void *opaque, JsonBuilder *b);
