/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdesk-vmm: runs one virtual machine, as configured on its command line. */
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm/args.h"
#include "vmm/machine.h"

int main(int argc, char **argv)
{
    struct hv_config cfg;
    char *err = NULL;

    /* A console reader that goes away must not kill the VM: writes just fail. */
    signal(SIGPIPE, SIG_IGN);

    int r = hv_args_parse(argc, argv, &cfg, &err);
    if (r == HV_ARGS_DONE) {
        hv_config_clear(&cfg);
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "vmdesk-vmm: %s\n", err);
        g_free(err);
        hv_config_clear(&cfg);
        return 2;
    }

    struct hv_machine m;
    int status = hv_machine_init(&m, &cfg, &err);
    if (status == 0)
        status = hv_machine_run(&m);
    else {
        fprintf(stderr, "vmdesk-vmm: %s\n", err);
        g_free(err);
    }
    hv_machine_destroy(&m);
    hv_config_clear(&cfg);
    return status;
}
