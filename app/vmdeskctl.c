/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdeskctl: the command-line front end over libvmdesk; this file dispatches the commands. */
#include "vmdeskctl.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: vmdeskctl [--json] COMMAND [ARGS...]\n"
    "\n"
    "VMs:\n"
    "  list                          the defined VMs and their states\n"
    "  info NAME                     a VM's definition, state and resource use\n"
    "  create NAME (--kernel FILE [--initrd FILE] [--cmdline TEXT] | --firmware FILE | --demo)\n"
    "         [--memory SIZE] [--cpus N] [--serial BACKEND] [--disk FILE] [--ksm]\n"
    "         [--hugepages] [--no-reboot]\n"
    "  edit NAME KEY=VALUE...        change fields (see vm-definition.md)\n"
    "  rename NAME NEW-NAME\n"
    "  clone NAME NEW-NAME           copy a VM and its disks (reflink or sparse copy)\n"
    "  delete NAME [--with-disks]\n"
    "  disk-create FILE SIZE         a new sparse raw disk (a bare name goes in the disks folder)\n"
    "Running:\n"
    "  start NAME    stop NAME [--force] [--timeout SECONDS]    pause NAME    resume NAME\n"
    "  reset NAME    console NAME (Ctrl-] detaches)    events (a live stream of state changes)\n"
    "Host:\n"
    "  host                          CPU, memory, virtualization support, KSM, per-VM use\n"
    "\n"
    "--json prints machine-readable output for every query. See vmdeskctl(1).\n";

static const struct {
    const char *name;
    int (*run)(Ctl *ctl, int argc, char **argv);
} commands[] = {
    {"list", ctl_cmd_list},     {"info", ctl_cmd_info},       {"create", ctl_cmd_create},
    {"edit", ctl_cmd_edit},     {"rename", ctl_cmd_rename},   {"clone", ctl_cmd_clone},
    {"delete", ctl_cmd_delete}, {"disk-create", ctl_cmd_disk}, {"start", ctl_cmd_start},
    {"stop", ctl_cmd_stop},     {"pause", ctl_cmd_pause},     {"resume", ctl_cmd_resume},
    {"reset", ctl_cmd_reset},   {"events", ctl_cmd_events},   {"console", ctl_cmd_console},
    {"host", ctl_cmd_host},
};

int ctl_fail(GError *error)
{
    int status = EXIT_FAILED;
    if (error->domain == VMD_ERROR) {
        switch ((VmdError)error->code) {
        case VMD_ERROR_NOT_FOUND: status = EXIT_NOT_FOUND; break;
        case VMD_ERROR_INVALID:
        case VMD_ERROR_SCHEMA: status = EXIT_INVALID; break;
        case VMD_ERROR_EXISTS:
        case VMD_ERROR_BUSY:
        case VMD_ERROR_NOT_RUNNING: status = EXIT_CONFLICT; break;
        case VMD_ERROR_UNSUPPORTED: status = EXIT_UNSUPPORTED; break;
        default: status = EXIT_FAILED; break;
        }
    }
    fprintf(stderr, "vmdeskctl: %s\n", error->message);
    g_error_free(error);
    return status;
}

int ctl_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "vmdeskctl: %s (see vmdeskctl --help)\n", msg);
    return EXIT_USAGE;
}

void ctl_print_json(JsonNode *node, gboolean pretty)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, pretty);
    json_generator_set_root(gen, node);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
    fflush(stdout);
}

char *ctl_find_vmm(void)
{
    return vmd_find_vmm("/proc/self/exe");
}

int main(int argc, char **argv)
{
    Ctl ctl = {.self = argv[0]};
    int i = 1;

    setlocale(LC_ALL, "");
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--json")) {
            ctl.json = TRUE;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--version")) {
            printf("vmdeskctl %s\n", VMDESK_VERSION);
            return EXIT_OK;
        } else {
            return ctl_usage("unknown option '%s'", argv[i]);
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[i];
    /* --json may also follow the command. */
    GPtrArray *rest = g_ptr_array_new();
    for (int k = i + 1; k < argc; k++) {
        if (!strcmp(argv[k], "--json"))
            ctl.json = TRUE;
        else
            g_ptr_array_add(rest, argv[k]);
    }
    g_ptr_array_add(rest, NULL);
    int status = -1;
    for (gsize k = 0; k < G_N_ELEMENTS(commands); k++) {
        if (!strcmp(commands[k].name, cmd)) {
            ctl.lib = vmd_library_new();
            status = commands[k].run(&ctl, (int)rest->len - 1, (char **)rest->pdata);
            g_object_unref(ctl.lib);
            break;
        }
    }
    g_ptr_array_unref(rest);
    if (status < 0)
        return ctl_usage("unknown command '%s'", cmd);
    return status;
}
