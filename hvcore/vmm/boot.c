/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Booting: the guest's kernel or firmware into RAM, and each vCPU's initial state. */
#include "vmm/machine-private.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "x86/acpi.h"
#include "x86/cpu-setup.h"
#include "x86/e820.h"
#include "x86/vmlinux.h"

#define FIRMWARE_MAX HV_MiB(16)

static GMappedFile *map_file(const char *flag, const char *path, char **err)
{
    GError *error = NULL;
    GMappedFile *f = g_mapped_file_new(path, FALSE, &error);
    if (!f) {
        *err = g_strdup_printf("%s %s: %s", flag, path, error->message);
        g_error_free(error);
    }
    return f;
}

int hv_machine_load_firmware(struct hv_machine *m, char **err)
{
    g_autoptr(GMappedFile) f = map_file("--firmware", m->cfg->firmware, err);
    if (!f)
        return -ENOENT;
    size_t size = g_mapped_file_get_length(f);
    if (size == 0 || size % 4096 || size > FIRMWARE_MAX) {
        *err = g_strdup_printf("--firmware %s is %zu bytes: expected a non-empty multiple of "
                               "4 KiB, at most 16 MiB", m->cfg->firmware, size);
        return -EINVAL;
    }
    /* A private copy: the guest sees it read-only, and the file may change on disk. */
    m->firmware = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m->firmware == MAP_FAILED) {
        m->firmware = NULL;
        *err = g_strdup_printf("cannot allocate %zu bytes for the firmware", size);
        return -ENOMEM;
    }
    memcpy(m->firmware, g_mapped_file_get_contents(f), size);
    m->firmware_size = size;
    return 0;
}

int hv_machine_open_kernel(struct hv_machine *m, char **err)
{
    m->kernel_file = map_file("--kernel", m->cfg->kernel, err);
    if (!m->kernel_file)
        return -ENOENT;
    char *why = NULL;
    if (hv_bzimage_parse(g_mapped_file_get_contents(m->kernel_file),
                         g_mapped_file_get_length(m->kernel_file), &m->bz, &why) < 0) {
        *err = g_strdup_printf("--kernel %s %s", m->cfg->kernel, why);
        g_free(why);
        return -EINVAL;
    }
    if (m->cfg->initrd) {
        m->initrd_file = map_file("--initrd", m->cfg->initrd, err);
        if (!m->initrd_file)
            return -ENOENT;
    }
    /* $VMDESK_VMLINUX_CACHE=off keeps the bzImage's own decompressor (for comparisons). */
    const char *cache = g_getenv("VMDESK_VMLINUX_CACHE");
    if (!cache || strcmp(cache, "off") != 0) {
        g_autofree char *dir = cache && *cache ? g_strdup(cache)
                                               : g_build_filename(g_get_user_cache_dir(),
                                                                  "vmdesk", "vmlinux", NULL);
        char *why = NULL;
        m->vmlinux_file = hv_vmlinux_get(&m->bz, m->cfg->kernel, dir, &why);
        if (why) {
            *err = g_strdup_printf("--kernel %s: %s", m->cfg->kernel, why);
            g_free(why);
            return -EINVAL;
        }
    }
    return 0;
}

/*
 * The guest has its copy now: give the file's pages back. They are the page cache's, so
 * a reset faults them in again, but meanwhile they do not count as the VMM's memory
 * (some 10 MiB for a distribution kernel and initrd).
 */
static void drop_pages(GMappedFile *f)
{
    char *p = f ? g_mapped_file_get_contents(f) : NULL;
    size_t len = f ? g_mapped_file_get_length(f) : 0;
    if (p && len)
        madvise(p, len, MADV_DONTNEED);
}

/* Writes the ACPI tables, the kernel, the initrd and the zero page into guest RAM. */
int hv_machine_load_kernel(struct hv_machine *m, char **err)
{
    struct hv_e820_entry e820[HV_E820_MAX];
    unsigned n = hv_e820_build(&m->mem.layout, e820, HV_E820_MAX);

    const struct hv_mem_region *last = &m->mem.layout.regions[m->mem.layout.nr_regions - 1];
    struct hv_acpi_config acpi = {.nr_vcpus = m->cfg->cpus, .pci = true,
                                  .mmio64_start = hv_pci_mmio64_start(last->gpa + last->size)};
    size_t area = HV_BIOS_ALIAS_END - HV_BIOS_AREA_START;
    void *tables = hv_memory_ptr(&m->mem, HV_BIOS_AREA_START, area);
    if (!tables || hv_acpi_build(tables, area, HV_BIOS_AREA_START, &acpi) < 0) {
        *err = g_strdup("the ACPI tables do not fit in the BIOS area");
        return -ENOSPC;
    }
    if (hv_x86_write_boot_tables(&m->mem) < 0) {
        *err = g_strdup("cannot write the boot page tables");
        return -EFAULT;
    }
    struct hv_boot_request req = {
        .cmdline = m->cfg->cmdline,
        .initrd = m->initrd_file ? g_mapped_file_get_contents(m->initrd_file) : NULL,
        .initrd_size = m->initrd_file ? g_mapped_file_get_length(m->initrd_file) : 0,
        .initrd_name = m->cfg->initrd,
        .rsdp = HV_BIOS_AREA_START,
        .vmlinux = m->vmlinux_file ? (const uint8_t *)g_mapped_file_get_contents(m->vmlinux_file)
                                   : NULL,
        .vmlinux_size = m->vmlinux_file ? g_mapped_file_get_length(m->vmlinux_file) : 0,
        .e820 = e820,
        .e820_entries = n,
    };
    struct hv_boot_info info;
    char *why = NULL;
    int r = hv_bzimage_load(&m->mem, &m->bz, &req, &info, &why);
    if (r < 0) {
        /* Messages about the initrd or the command line name their flag themselves. */
        if (g_str_has_prefix(why, "--"))
            *err = g_steal_pointer(&why);
        else
            *err = g_strdup_printf("--kernel %s %s", m->cfg->kernel, why);
        g_free(why);
        return r;
    }
    m->boot_entry = info.entry;
    drop_pages(m->kernel_file);
    drop_pages(m->initrd_file);
    drop_pages(m->vmlinux_file);
    return 0;
}

/* ---- vCPU set-up, on each vCPU's own thread ---- */

int hv_machine_setup_vcpu(struct hv_vcpu *vcpu, void *opaque)
{
    struct hv_machine *m = opaque;
    g_autofree struct kvm_cpuid2 *cpuid =
        hv_cpuid_for_vcpu(&m->cpuid, vcpu->id, m->cfg->cpus, m->host.tsc_deadline);
    const char *what = NULL;
    int r;

    if ((r = hv_x86_set_cpuid(vcpu->fd, cpuid)) < 0)
        what = "KVM_SET_CPUID2";
    else if (m->cfg->kernel) {
        /* Direct kernel boot: the state firmware would have left behind. */
        if ((r = hv_x86_setup_msrs(vcpu->fd)) < 0)
            what = "KVM_SET_MSRS";
        else if ((r = hv_x86_setup_fpu(vcpu->fd)) < 0)
            what = "KVM_SET_FPU";
        else if ((r = hv_x86_setup_lapic(vcpu->fd)) < 0)
            what = "KVM_SET_LAPIC";
        else if (vcpu->id == 0 &&
                 (r = hv_x86_setup_long_mode(vcpu->fd, m->boot_entry,
                                             HV_BOOT_ZERO_PAGE)) < 0)
            what = "setting up long mode";
    }
    if (r < 0)
        hv_vm_request(&m->vm, HV_REQ_CRASH,
                      g_strdup_printf("cannot set up vCPU %u: %s: %s", vcpu->id, what,
                                      g_strerror(-r)));
    return r;
}
