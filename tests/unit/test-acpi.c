/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the generated ACPI tables: structure, checksums and the values Linux reads. */
#include <glib.h>
#include <string.h>

#include "x86/acpi.h"

#define BASE 0xe0000ull

static uint32_t get32(const uint8_t *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return v;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, 8);
    return v;
}

static const uint8_t *at(const uint8_t *buf, uint64_t gpa)
{
    g_assert_cmpuint(gpa, >=, BASE);
    g_assert_cmpuint(gpa, <, BASE + 0x20000);
    return buf + (gpa - BASE);
}

static const uint8_t *check_table(const uint8_t *buf, uint64_t gpa, const char *sig)
{
    const uint8_t *t = at(buf, gpa);
    g_assert_cmpmem(t, 4, sig, 4);
    g_assert_cmpuint(hv_acpi_checksum(t, get32(t, 4)), ==, 0);
    return t;
}

static void build(uint8_t *buf, unsigned cpus)
{
    struct hv_acpi_config cfg = {.nr_vcpus = cpus};
    long used = hv_acpi_build(buf, 0x20000, BASE, &cfg);
    g_assert_cmpint(used, >, 0);
    g_assert_cmpint(used, <, 0x20000);
}

static void test_rsdp_xsdt(void)
{
    g_autofree uint8_t *buf = g_malloc0(0x20000);
    build(buf, 1);
    g_assert_cmpmem(buf, 8, "RSD PTR ", 8);
    g_assert_cmpuint(buf[15], ==, 2);
    g_assert_cmpuint(hv_acpi_checksum(buf, 20), ==, 0);
    g_assert_cmpuint(hv_acpi_checksum(buf, 36), ==, 0);
    const uint8_t *xsdt = check_table(buf, get64(buf, 24), "XSDT");
    g_assert_cmpuint(get32(xsdt, 4), ==, 36 + 16); /* no PCI: FADT and MADT */
    check_table(buf, get64(xsdt, 36), "FACP");
    check_table(buf, get64(xsdt, 44), "APIC");
}

static void test_fadt(void)
{
    g_autofree uint8_t *buf = g_malloc0(0x20000);
    build(buf, 1);
    const uint8_t *xsdt = at(buf, get64(buf, 24));
    const uint8_t *fadt = check_table(buf, get64(xsdt, 36), "FACP");
    g_assert_cmpuint(get32(fadt, 4), ==, 276);
    g_assert_cmpuint(get32(fadt, 64), ==, HV_ACPI_PM1_CNT);
    g_assert_cmpuint(fadt[89], ==, 2);
    g_assert_cmpuint(get32(fadt, 48), ==, 0); /* no SMI: ACPI mode from the start */
    g_assert_cmpuint(fadt[46], ==, HV_ACPI_SCI_IRQ);
    /* The reset register is port 0xCF9, value 6, and flagged as supported. */
    g_assert_true(get32(fadt, 112) & (1u << 10));
    /* PWR_BUTTON clear: a fixed-feature power button (what `powerdown` presses). */
    g_assert_false(get32(fadt, 112) & (1u << 4));
    g_assert_cmpuint(fadt[116], ==, 1);
    g_assert_cmphex(get64(fadt, 120), ==, HV_RESET_PORT);
    g_assert_cmpuint(fadt[128], ==, 6);
    /* 32- and 64-bit pointers agree. */
    g_assert_cmphex(get32(fadt, 40), ==, get64(fadt, 140));
    g_assert_cmphex(get32(fadt, 36), ==, get64(fadt, 132));
    const uint8_t *facs = at(buf, get64(fadt, 132));
    g_assert_cmpmem(facs, 4, "FACS", 4);
    g_assert_cmpuint(get64(fadt, 132) % 64, ==, 0);
}

static void test_dsdt_s5(void)
{
    g_autofree uint8_t *buf = g_malloc0(0x20000);
    build(buf, 1);
    const uint8_t *xsdt = at(buf, get64(buf, 24));
    const uint8_t *fadt = at(buf, get64(xsdt, 36));
    const uint8_t *dsdt = check_table(buf, get64(fadt, 140), "DSDT");
    uint32_t len = get32(dsdt, 4);
    const uint8_t *s5 = memmem(dsdt + 36, len - 36, "_S5_", 4);
    g_assert_nonnull(s5);
    g_assert_cmpuint(s5[-1], ==, 0x08); /* NameOp */
    g_assert_cmpuint(s5[4], ==, 0x12);  /* PackageOp */
    g_assert_cmpuint(s5[6], ==, 4);     /* four elements */
    g_assert_cmpuint(s5[7], ==, 0x0a);
    g_assert_cmpuint(s5[8], ==, HV_ACPI_SLP_TYP_S5);
    g_assert_cmpuint(s5[5], ==, 8); /* PkgLength of the four-element package */
}

static void test_pci_root(void)
{
    g_autofree uint8_t *buf = g_malloc0(0x20000);
    struct hv_acpi_config cfg = {.nr_vcpus = 2, .pci = true, .mmio64_start = 0x100000000ull};
    g_assert_cmpint(hv_acpi_build(buf, 0x20000, BASE, &cfg), >, 0);
    const uint8_t *xsdt = check_table(buf, get64(buf, 24), "XSDT");
    g_assert_cmpuint(get32(xsdt, 4), ==, 36 + 24);
    const uint8_t *mcfg = check_table(buf, get64(xsdt, 52), "MCFG");
    g_assert_cmphex(get64(mcfg, 44), ==, 0xe0000000);
    g_assert_cmpuint(mcfg[55], ==, 0); /* last bus */
    const uint8_t *fadt = at(buf, get64(xsdt, 36));
    const uint8_t *dsdt = check_table(buf, get64(fadt, 140), "DSDT");
    uint32_t len = get32(dsdt, 4);
    g_assert_nonnull(memmem(dsdt, len, "\\_SB_", 5));
    const uint8_t *dev = memmem(dsdt, len, "PCI0", 4);
    g_assert_nonnull(dev);
    /* PNP0A08 as a compressed EISA id, big endian: 41 D0 0A 08. */
    g_assert_nonnull(memmem(dsdt, len, "\x0c\x41\xd0\x0a\x08", 5));
    g_assert_nonnull(memmem(dsdt, len, "_PRT", 4));
    g_assert_nonnull(memmem(dsdt, len, "_CRS", 4));
    /* The 32-bit window's DWord descriptor names 0xC0000000-0xDFFFFFFF. */
    const uint8_t win[] = {0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf};
    g_assert_nonnull(memmem(dsdt, len, win, sizeof(win)));
    /* Without PCI there is no root and no MCFG. */
    memset(buf, 0, 0x20000);
    cfg.pci = false;
    g_assert_cmpint(hv_acpi_build(buf, 0x20000, BASE, &cfg), >, 0);
    xsdt = check_table(buf, get64(buf, 24), "XSDT");
    g_assert_cmpuint(get32(xsdt, 4), ==, 36 + 16);
}

static void test_madt(void)
{
    for (unsigned cpus = 1; cpus <= 255; cpus += 127) {
        g_autofree uint8_t *buf = g_malloc0(0x20000);
        build(buf, cpus);
        const uint8_t *xsdt = at(buf, get64(buf, 24));
        const uint8_t *madt = check_table(buf, get64(xsdt, 44), "APIC");
        uint32_t len = get32(madt, 4);
        g_assert_cmphex(get32(madt, 36), ==, 0xfee00000);
        unsigned lapics = 0, ioapics = 0, overrides = 0;
        for (uint32_t off = 44; off < len; off += madt[off + 1]) {
            g_assert_cmpuint(madt[off + 1], >, 0);
            switch (madt[off]) {
            case 0:
                g_assert_cmpuint(madt[off + 3], ==, lapics); /* APIC IDs 0..n-1 */
                g_assert_cmpuint(get32(madt, off + 4) & 1, ==, 1);
                lapics++;
                break;
            case 1:
                g_assert_cmphex(get32(madt, off + 4), ==, 0xfec00000);
                ioapics++;
                break;
            case 2:
                g_assert_cmpuint(madt[off + 3], ==, HV_ACPI_SCI_IRQ);
                overrides++;
                break;
            default:
                g_assert_not_reached();
            }
        }
        g_assert_cmpuint(lapics, ==, cpus);
        g_assert_cmpuint(ioapics, ==, 1);
        g_assert_cmpuint(overrides, ==, 1);
    }
}

static void test_too_small(void)
{
    uint8_t buf[256];
    struct hv_acpi_config cfg = {.nr_vcpus = 1};
    g_assert_cmpint(hv_acpi_build(buf, sizeof(buf), BASE, &cfg), <, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/acpi/rsdp-xsdt", test_rsdp_xsdt);
    g_test_add_func("/acpi/fadt", test_fadt);
    g_test_add_func("/acpi/dsdt-s5", test_dsdt_s5);
    g_test_add_func("/acpi/madt", test_madt);
    g_test_add_func("/acpi/pci-root", test_pci_root);
    g_test_add_func("/acpi/too-small", test_too_small);
    return g_test_run();
}
