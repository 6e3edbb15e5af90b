/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The small PC devices that reset or power off the machine. */
#pragma once

#include "kvm/vm.h"

/* i8042 at 0x60/0x64: only the pulse-reset command (0xFE) and a status that never blocks. */
int hv_i8042_register(struct hv_vm *vm);
/* The reset control register at 0xCF9, for a machine without a PCI host bridge. */
int hv_reset_register(struct hv_vm *vm);
/* A write to 0xCF9; the PCI host bridge, which owns 0xCF8-0xCFF, forwards byte writes. */
void hv_reset_control_write(struct hv_vm *vm, uint8_t value);

/* ACPI PM1a event (status/enable) and control blocks: the power button, and S5 powers off. */
struct hv_acpi_pm {
    struct hv_vm *vm;
    pthread_mutex_t lock;
    uint16_t sts;
    uint16_t en;
    uint16_t cnt;
    bool sci; /* the SCI line's level as last set */
};
int hv_acpi_pm_register(struct hv_acpi_pm *pm, struct hv_vm *vm);
void hv_acpi_pm_reset(struct hv_acpi_pm *pm);
/* Presses the fixed-feature power button: PWRBTN_STS, and the SCI if the guest enabled it. */
void hv_acpi_pm_power_button(struct hv_acpi_pm *pm);
