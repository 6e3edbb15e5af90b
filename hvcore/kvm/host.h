/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Opening /dev/kvm and checking what the host's KVM can do. */
#pragma once

#include <stdbool.h>

struct hv_host {
    int kvm_fd;
    int vcpu_mmap_size;
    unsigned max_vcpus;
    bool readonly_mem;
    bool tsc_deadline;
    /* KVM_CAP_COALESCED_PIO: the page of the vCPU mapping that holds the ring of
       buffered writes (0: none, every write exits). */
    int coalesced_page;
    /* KVM without VT-x/AMD-V (PVM, or no vmx/svm flag): stock guests run emulated. */
    bool emulation_only;
};

/*
 * Opens /dev/kvm (or $VMDESK_KVM_DEVICE) and checks the API version and the
 * capabilities the VMM needs. Returns 0, or -errno with *err set to one line saying
 * what is wrong and what to do about it.
 */
int hv_host_open(struct hv_host *host, char **err);
void hv_host_close(struct hv_host *host);

/* True when this host's KVM runs on hardware extensions (vmx/svm) rather than PVM. */
bool hv_host_detect_emulation_only(void);
