/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ACPI tables for a Linux guest: RSDP, XSDT, FADT, FACS, DSDT (with \_S5) and MADT. */
#include "x86/acpi.h"

#include <errno.h>
#include <string.h>

#include "devices/pci.h"
#include "kvm/vm.h"
#include "x86/aml.h"

#define HDR_LEN 36
#define FADT_LEN 276
#define FACS_LEN 64
#define MCFG_LEN 60

/* FADT flags and IA-PC boot architecture flags. */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define FADT_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
#define BOOT_ARCH_CMOS_RTC_NOT_PRESENT (1u << 5)

struct writer {
    uint8_t *buf;
    size_t size;
    size_t pos;
    uint64_t gpa;
};

static void put8(uint8_t *p, size_t off, uint8_t v)
{
    p[off] = v;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
    memcpy(p + off, &v, 2);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
    memcpy(p + off, &v, 4);
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
    memcpy(p + off, &v, 8);
}

uint8_t hv_acpi_checksum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    return (uint8_t)-sum;
}

/* Reserves `len` bytes aligned to `align`; returns NULL when the buffer is full. */
static uint8_t *alloc(struct writer *w, size_t len, size_t align, uint64_t *gpa)
{
    size_t pos = (w->pos + align - 1) & ~(align - 1);
    if (pos > w->size || len > w->size - pos)
        return NULL;
    w->pos = pos + len;
    *gpa = w->gpa + pos;
    memset(w->buf + pos, 0, len);
    return w->buf + pos;
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t, 4, len);
    put8(t, 8, rev);
    memcpy(t + 10, "VMDESK", 6);
    memcpy(t + 16, "HVCORE  ", 8);
    put32(t, 24, 1);
    memcpy(t + 28, "VMDK", 4);
    put32(t, 32, 1);
}

static void finish(uint8_t *t, uint32_t len)
{
    t[9] = 0;
    t[9] = hv_acpi_checksum(t, len);
}

/* A Generic Address Structure for system I/O space. */
static void gas_io(uint8_t *p, size_t off, uint8_t bits, uint8_t access, uint64_t port)
{
    put8(p, off, 1); /* system I/O */
    put8(p, off + 1, bits);
    put8(p, off + 2, 0);
    put8(p, off + 3, access);
    put64(p, off + 4, port);
}

/* Resource descriptors for the PCI root's _CRS (ACPI 6.x, 6.4). */
static void res_word(struct aml *r, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
    uint8_t d[16] = {0x88, 13, 0, type, 0x0c, tflags};
    uint16_t len = (uint16_t)(max - min + 1);
    memcpy(d + 8, &min, 2);
    memcpy(d + 10, &max, 2);
    memcpy(d + 14, &len, 2);
    aml_bytes(r, d, sizeof(d));
}

static void res_dword_mem(struct aml *r, uint32_t min, uint32_t max)
{
    uint8_t d[26] = {0x87, 23, 0, 0, 0x0c, 0x01};
    uint32_t len = max - min + 1;
    memcpy(d + 10, &min, 4);
    memcpy(d + 14, &max, 4);
    memcpy(d + 22, &len, 4);
    aml_bytes(r, d, sizeof(d));
}

static void res_qword_mem(struct aml *r, uint64_t min, uint64_t max)
{
    uint8_t d[46] = {0x8a, 43, 0, 0, 0x0c, 0x01};
    uint64_t len = max - min + 1;
    memcpy(d + 14, &min, 8);
    memcpy(d + 22, &max, 8);
    memcpy(d + 38, &len, 8);
    aml_bytes(r, d, sizeof(d));
}

static void name_int(struct aml *a, const char *name, uint64_t v)
{
    aml_byte(a, 0x08);
    aml_name(a, name);
    aml_int(a, v);
}

/* The PCI root bridge: its bus, I/O and memory windows, and INTx routing. */
static void pci_root(struct aml *a, const struct hv_acpi_config *cfg)
{
    size_t dev = aml_open(a, (const uint8_t[]){0x5b, 0x82}, 2);
    aml_name(a, "PCI0");
    aml_byte(a, 0x08);
    aml_name(a, "_HID");
    aml_eisaid(a, "PNP0A08");
    aml_byte(a, 0x08);
    aml_name(a, "_CID");
    aml_eisaid(a, "PNP0A03");
    name_int(a, "_ADR", 0);
    name_int(a, "_UID", 0);
    name_int(a, "_SEG", 0);
    name_int(a, "_BBN", 0);

    struct aml r;
    aml_init(&r);
    res_word(&r, 2, 0, 0, 0);                 /* bus 0 */
    aml_bytes(&r, (const uint8_t[]){0x47, 1, 0xf8, 0x0c, 0xf8, 0x0c, 1, 8}, 8); /* 0xCF8 */
    res_word(&r, 1, 3, 0x0000, 0x0cf7);       /* I/O below and above the config ports */
    res_word(&r, 1, 3, 0x0d00, 0xffff);
    res_dword_mem(&r, (uint32_t)HV_PCI_MMIO32_START, (uint32_t)(HV_PCI_MMIO32_END - 1));
    res_qword_mem(&r, cfg->mmio64_start, cfg->mmio64_start + HV_PCI_MMIO64_SIZE - 1);
    aml_bytes(&r, (const uint8_t[]){0x79, 0}, 2);
    aml_byte(a, 0x08);
    aml_name(a, "_CRS");
    aml_buffer(a, r.data, r.len);
    aml_free(&r);

    /* _PRT: slot s, pin p -> GSI 16 + (s + p) % 8 on the IOAPIC. */
    aml_byte(a, 0x08);
    aml_name(a, "_PRT");
    size_t prt = aml_open(a, (const uint8_t[]){0x12}, 1);
    aml_byte(a, (uint8_t)((HV_PCI_SLOTS - 1) * 4));
    for (unsigned slot = 1; slot < HV_PCI_SLOTS; slot++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            size_t e = aml_open(a, (const uint8_t[]){0x12}, 1);
            aml_byte(a, 4);
            aml_int(a, ((uint64_t)slot << 16) | 0xffff);
            aml_int(a, pin);
            aml_int(a, 0);
            aml_int(a, 16 + (slot + pin) % 8);
            aml_close(a, e);
        }
    }
    aml_close(a, prt);
    aml_close(a, dev);
}

/* The DSDT's AML: \_S5 for soft-off and, with PCI, \_SB.PCI0. */
static void dsdt_aml(struct aml *a, const struct hv_acpi_config *cfg)
{
    aml_byte(a, 0x08);
    aml_name(a, "_S5_");
    size_t pkg = aml_open(a, (const uint8_t[]){0x12}, 1);
    aml_byte(a, 4);
    aml_bytes(a, (const uint8_t[]){0x0a, HV_ACPI_SLP_TYP_S5, 0x0a, HV_ACPI_SLP_TYP_S5, 0, 0}, 6);
    aml_close(a, pkg);
    if (cfg->pci) {
        size_t sb = aml_open(a, (const uint8_t[]){0x10}, 1);
        aml_name(a, "\\_SB_");
        pci_root(a, cfg);
        aml_close(a, sb);
    }
}

long hv_acpi_build(void *buf, size_t size, uint64_t gpa, const struct hv_acpi_config *cfg)
{
    struct writer w = {.buf = buf, .size = size, .gpa = gpa};
    uint64_t rsdp_gpa = 0, xsdt_gpa = 0, fadt_gpa = 0, facs_gpa = 0, dsdt_gpa = 0, madt_gpa = 0;
    uint64_t mcfg_gpa = 0;
    unsigned nr_tables = cfg->pci ? 3 : 2;
    struct aml body;
    aml_init(&body);
    dsdt_aml(&body, cfg);
    uint32_t dsdt_len = (uint32_t)(HDR_LEN + body.len);

    uint8_t *rsdp = alloc(&w, 36, 16, &rsdp_gpa);
    uint8_t *xsdt = alloc(&w, HDR_LEN + 8 * nr_tables, 8, &xsdt_gpa);
    uint8_t *fadt = alloc(&w, FADT_LEN, 8, &fadt_gpa);
    uint8_t *facs = alloc(&w, FACS_LEN, 64, &facs_gpa);
    uint8_t *dsdt = alloc(&w, dsdt_len, 8, &dsdt_gpa);
    uint32_t madt_len = 44 + 8 * cfg->nr_vcpus + 12 + 10;
    uint8_t *madt = alloc(&w, madt_len, 8, &madt_gpa);
    uint8_t *mcfg = cfg->pci ? alloc(&w, MCFG_LEN, 8, &mcfg_gpa) : NULL;
    if (!rsdp || !xsdt || !fadt || !facs || !dsdt || !madt || (cfg->pci && !mcfg)) {
        aml_free(&body);
        return -ENOSPC;
    }

    /* DSDT */
    header(dsdt, "DSDT", dsdt_len, 2);
    memcpy(dsdt + HDR_LEN, body.data, body.len);
    aml_free(&body);
    finish(dsdt, dsdt_len);

    /* MCFG: ECAM for segment 0, bus 0. */
    if (mcfg) {
        header(mcfg, "MCFG", MCFG_LEN, 1);
        put64(mcfg, 44, HV_PCI_ECAM_START);
        put8(mcfg, 54, 0);
        put8(mcfg, 55, 0);
        finish(mcfg, MCFG_LEN);
    }

    /* FACS: no checksum, no firmware waking vector. */
    memcpy(facs, "FACS", 4);
    put32(facs, 4, FACS_LEN);
    put8(facs, 32, 2);

    /* FADT (revision 6): PM1a event and control blocks, SCI on IRQ 9, reset via 0xCF9. */
    header(fadt, "FACP", FADT_LEN, 6);
    put32(fadt, 36, (uint32_t)facs_gpa);
    put32(fadt, 40, (uint32_t)dsdt_gpa);
    put16(fadt, 46, HV_ACPI_SCI_IRQ);
    put32(fadt, 48, 0); /* no SMI command port: ACPI mode is always on */
    put32(fadt, 56, HV_ACPI_PM_BASE);
    put32(fadt, 64, HV_ACPI_PM1_CNT);
    put8(fadt, 88, 4); /* PM1_EVT_LEN */
    put8(fadt, 89, 2); /* PM1_CNT_LEN */
    put16(fadt, 96, 101); /* no C2 */
    put16(fadt, 98, 1001); /* no C3 */
    put16(fadt, 109, BOOT_ARCH_VGA_NOT_PRESENT | BOOT_ARCH_CMOS_RTC_NOT_PRESENT);
    /* FADT_PWR_BUTTON left clear: the fixed-feature power button is there (PM1 bit 8). */
    put32(fadt, 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RESET_REG_SUP);
    gas_io(fadt, 116, 8, 1, HV_RESET_PORT);
    put8(fadt, 128, 0x06); /* reset value: full reset */
    put8(fadt, 131, 0);    /* FADT minor version */
    put64(fadt, 132, facs_gpa);
    put64(fadt, 140, dsdt_gpa);
    gas_io(fadt, 148, 32, 3, HV_ACPI_PM_BASE);
    gas_io(fadt, 172, 16, 2, HV_ACPI_PM1_CNT);
    memcpy(fadt + 268, "VMDESKHV", 8);
    finish(fadt, FADT_LEN);

    /* MADT: one local APIC per vCPU, the IOAPIC, the SCI as level-triggered IRQ 9. */
    header(madt, "APIC", madt_len, 5);
    put32(madt, 36, (uint32_t)HV_LAPIC_ADDR);
    put32(madt, 40, 1); /* PCAT_COMPAT: 8259s present */
    size_t off = 44;
    for (unsigned i = 0; i < cfg->nr_vcpus; i++, off += 8) {
        put8(madt, off, 0);
        put8(madt, off + 1, 8);
        put8(madt, off + 2, (uint8_t)i); /* ACPI processor UID */
        put8(madt, off + 3, (uint8_t)i); /* APIC ID */
        put32(madt, off + 4, 1);         /* enabled */
    }
    put8(madt, off, 1);
    put8(madt, off + 1, 12);
    put8(madt, off + 2, 0); /* KVM's IOAPIC resets with ID 0 */
    put32(madt, off + 4, (uint32_t)HV_IOAPIC_ADDR);
    put32(madt, off + 8, 0);
    off += 12;
    put8(madt, off, 2);
    put8(madt, off + 1, 10);
    put8(madt, off + 2, 0); /* ISA */
    put8(madt, off + 3, HV_ACPI_SCI_IRQ);
    put32(madt, off + 4, HV_ACPI_SCI_IRQ);
    put16(madt, off + 8, 0x000d); /* active high, level triggered */
    finish(madt, madt_len);

    /* XSDT */
    header(xsdt, "XSDT", HDR_LEN + 8 * nr_tables, 1);
    put64(xsdt, HDR_LEN, fadt_gpa);
    put64(xsdt, HDR_LEN + 8, madt_gpa);
    if (mcfg)
        put64(xsdt, HDR_LEN + 16, mcfg_gpa);
    finish(xsdt, HDR_LEN + 8 * nr_tables);

    /* RSDP (revision 2): first checksum over 20 bytes, extended over all 36. */
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, "VMDESK", 6);
    put8(rsdp, 15, 2);
    put32(rsdp, 20, 36);
    put64(rsdp, 24, xsdt_gpa);
    rsdp[8] = hv_acpi_checksum(rsdp, 20);
    rsdp[32] = hv_acpi_checksum(rsdp, 36);
    return (long)w.pos;
}
