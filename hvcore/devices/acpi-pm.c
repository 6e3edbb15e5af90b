/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ACPI PM1a event and control blocks: the power button's SCI, and soft-off (S5) ends the VM. */
#include "devices/legacy.h"

#include <string.h>

#include "x86/acpi.h"

#define PM1_CNT_SCI_EN (1u << 0)
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP_MASK (7u << PM1_CNT_SLP_TYP_SHIFT)
#define PM1_CNT_SLP_EN (1u << 13)
/* PM1 status and enable: the fixed-feature power button. */
#define PM1_PWRBTN (1u << 8)
/* Status bits that raise the SCI while enabled; the others exist only to be cleared. */
#define PM1_SCI_EVENTS PM1_PWRBTN

/* Registers by byte offset from HV_ACPI_PM_BASE: STS 0-1, EN 2-3, CNT 4-5. */
static uint16_t *reg(struct hv_acpi_pm *pm, uint64_t offset)
{
    if (offset < 2)
        return &pm->sts;
    if (offset < 4)
        return &pm->en;
    return &pm->cnt;
}

/* The SCI is level-triggered: asserted while any enabled event is pending. Called locked. */
static void update_sci(struct hv_acpi_pm *pm)
{
    bool level = pm->sts & pm->en & PM1_SCI_EVENTS;
    if (level != pm->sci) {
        pm->sci = level;
        hv_vm_set_irq(pm->vm, HV_ACPI_SCI_IRQ, level);
    }
}

void hv_acpi_pm_power_button(struct hv_acpi_pm *pm)
{
    pthread_mutex_lock(&pm->lock);
    pm->sts |= PM1_PWRBTN;
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
}

static void pm_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
    struct hv_acpi_pm *pm = opaque;
    uint8_t bytes[6];
    pthread_mutex_lock(&pm->lock);
    memcpy(bytes, &pm->sts, 2);
    memcpy(bytes + 2, &pm->en, 2);
    memcpy(bytes + 4, &pm->cnt, 2);
    pthread_mutex_unlock(&pm->lock);
    memset(data, 0, len);
    for (unsigned i = 0; i < len && offset + i < sizeof(bytes); i++)
        ((uint8_t *)data)[i] = bytes[offset + i];
}

static void pm_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
    struct hv_acpi_pm *pm = opaque;
    bool poweroff = false;
    pthread_mutex_lock(&pm->lock);
    for (unsigned i = 0; i < len && offset + i < 6; i++) {
        uint64_t o = offset + i;
        uint8_t b = ((const uint8_t *)data)[i];
        uint16_t *r = reg(pm, o);
        unsigned shift = (o & 1) * 8;
        if (r == &pm->sts)
            *r &= (uint16_t)~(b << shift); /* write 1 to clear */
        else
            *r = (uint16_t)((*r & ~(0xffu << shift)) | ((unsigned)b << shift));
    }
    if (pm->cnt & PM1_CNT_SLP_EN) {
        unsigned typ = (pm->cnt & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
        poweroff = typ == HV_ACPI_SLP_TYP_S5;
        /* SLP_EN always reads back as zero; other sleep states are not offered. */
        pm->cnt &= (uint16_t)~PM1_CNT_SLP_EN;
    }
    pm->cnt |= PM1_CNT_SCI_EN;
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
    if (poweroff)
        hv_vm_request(pm->vm, HV_REQ_POWEROFF, NULL);
}

static const struct hv_io_ops pm_ops = {
    .read = pm_read,
    .write = pm_write,
};

void hv_acpi_pm_reset(struct hv_acpi_pm *pm)
{
    pthread_mutex_lock(&pm->lock);
    pm->sts = 0;
    pm->en = 0;
    /* No SMI command port: the machine is in ACPI mode from the start. */
    pm->cnt = PM1_CNT_SCI_EN;
    /* The line itself went down with the old VM's interrupt controllers. */
    pm->sci = false;
    pthread_mutex_unlock(&pm->lock);
}

int hv_acpi_pm_register(struct hv_acpi_pm *pm, struct hv_vm *vm)
{
    pm->vm = vm;
    pthread_mutex_init(&pm->lock, NULL);
    hv_acpi_pm_reset(pm);
    return hv_iobus_register(&vm->pio, HV_ACPI_PM_BASE, 6, &pm_ops, pm);
}
