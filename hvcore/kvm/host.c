/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Opening /dev/kvm and checking what the host's KVM can do. */
#include "kvm/host.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <grp.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    int cap;
    const char *name;
} required_caps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
};

bool hv_host_detect_emulation_only(void)
{
    if (access("/sys/module/kvm_pvm", F_OK) == 0)
        return true;
    g_autofree char *cpuinfo = NULL;
    if (!g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL))
        return false;
    for (char *line = cpuinfo; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (g_str_has_prefix(line, "flags")) {
            g_auto(GStrv) words = g_strsplit_set(line, " \t", -1);
            for (char **w = words; *w; w++)
                if (!strcmp(*w, "vmx") || !strcmp(*w, "svm"))
                    return false;
            return true;
        }
        line = next;
    }
    return false;
}

static char *open_error(const char *dev, int e)
{
    if (e == ENOENT)
        return g_strdup_printf("%s does not exist: KVM is not available on this host "
                               "(load kvm-intel or kvm-amd, or enable virtualization in "
                               "the firmware setup)", dev);
    if (e == EACCES || e == EPERM) {
        struct stat st;
        const char *group = "kvm";
        if (stat(dev, &st) == 0) {
            struct group *gr = getgrgid(st.st_gid);
            if (gr && st.st_gid != 0)
                group = gr->gr_name;
        }
        return g_strdup_printf("cannot open %s: permission denied; join the '%s' group "
                               "(sudo usermod -aG %s $USER) and log in again", dev, group,
                               group);
    }
    return g_strdup_printf("cannot open %s: %s", dev, g_strerror(e));
}

int hv_host_open(struct hv_host *host, char **err)
{
    memset(host, 0, sizeof(*host));
    host->kvm_fd = -1;
    const char *dev = g_getenv("VMDESK_KVM_DEVICE");
    if (!dev || !*dev)
        dev = "/dev/kvm";

    int fd = open(dev, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        *err = open_error(dev, e);
        return -e;
    }
    int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version < 0) {
        *err = g_strdup_printf("%s is not a KVM device (KVM_GET_API_VERSION failed: %s)", dev,
                               g_strerror(errno));
        close(fd);
        return -ENODEV;
    }
    if (version != KVM_API_VERSION) {
        *err = g_strdup_printf("%s speaks KVM API version %d; vmdesk needs version %d "
                               "(the host kernel is too old)", dev, version, KVM_API_VERSION);
        close(fd);
        return -ENOTSUP;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(required_caps); i++) {
        if (ioctl(fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
            *err = g_strdup_printf("the host's KVM lacks %s, which vmdesk needs "
                                   "(the host kernel is too old or KVM is restricted)",
                                   required_caps[i].name);
            close(fd);
            return -ENOTSUP;
        }
    }
    host->vcpu_mmap_size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (host->vcpu_mmap_size <= 0) {
        *err = g_strdup_printf("KVM_GET_VCPU_MMAP_SIZE failed on %s", dev);
        close(fd);
        return -ENOTSUP;
    }
    int max = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max <= 0)
        max = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    host->max_vcpus = max > 0 ? (unsigned)max : 1;
    host->readonly_mem = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
    host->tsc_deadline = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
    int page = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
    if (page > 0 && ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0 &&
        (long)(page + 1) * sysconf(_SC_PAGESIZE) <= host->vcpu_mmap_size)
        host->coalesced_page = page;
    host->emulation_only = hv_host_detect_emulation_only();
    host->kvm_fd = fd;
    return 0;
}

void hv_host_close(struct hv_host *host)
{
    if (host->kvm_fd >= 0)
        close(host->kvm_fd);
    host->kvm_fd = -1;
}
