/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bochs-display: a PCI framebuffer with the DISPI (VBE) registers and an EDID block. */
#pragma once

#include <stdint.h>

#include "vmm/machine.h"

#define HV_BOCHS_VRAM_SIZE (16u << 20)
#define HV_BOCHS_MMIO_SIZE 4096u

/* Offsets in the MMIO BAR (BAR2). */
#define HV_BOCHS_EDID 0x000
#define HV_BOCHS_VGA 0x400
#define HV_BOCHS_DISPI 0x500
#define HV_BOCHS_QEXT 0x600

/* DISPI register indexes (16-bit registers at HV_BOCHS_DISPI + 2 * index). */
enum {
    DISPI_ID, DISPI_XRES, DISPI_YRES, DISPI_BPP, DISPI_ENABLE, DISPI_BANK, DISPI_VIRT_WIDTH,
    DISPI_VIRT_HEIGHT, DISPI_X_OFFSET, DISPI_Y_OFFSET, DISPI_VIDEO_MEMORY_64K, DISPI_NR,
};

#define DISPI_ID5 0xb0c5
#define DISPI_ENABLED 0x01
#define DISPI_GETCAPS 0x02
#define DISPI_LFB_ENABLED 0x40
#define DISPI_NOCLEARMEM 0x80

struct hv_bochs_display;

/*
 * Creates the device over `surface`; `vm` may be NULL (unit tests): VRAM is then reached
 * only through the BAR's MMIO path. Plug it with hv_pci_add(pci, hv_bochs_display_pci(d)).
 * Returns 0 or -errno with *err set.
 */
int hv_bochs_display_new(struct hv_vm *vm, struct hv_surface *surface,
                         struct hv_bochs_display **out, char **err);
struct hv_pci_dev *hv_bochs_display_pci(struct hv_bochs_display *d);
/* Reads the dirty log and turns written VRAM into surface damage (the 60 Hz timer's work). */
void hv_bochs_display_scan(struct hv_bochs_display *d);

extern const struct hv_device_ops hv_bochs_display_device_ops;
