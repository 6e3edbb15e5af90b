/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdesk-vmm's command line: parsing and validating it before anything is opened. */
#include "vmm/args.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "kvm/memory.h"
#include "vmm/config.h"

static const char usage[] =
    "Usage: vmdesk-vmm (--kernel BZIMAGE [--initrd FILE] [--cmdline TEXT] | --firmware FILE)\n"
    "                  [--memory SIZE] [--cpus N] [--serial BACKEND] [--control PATH]\n"
    "                  [--disk path=FILE[,readonly=on][,cache=writeback|none][,serial=S]]...\n"
    "                  [--net user[,hostfwd=...][,mac=MAC] | --net tap,ifname=NAME[,mac=MAC]]...\n"
    "                  [--console BACKEND] [--no-reboot] [--ksm] [--no-hugepages]\n"
    "                  [--gpu bochs|virtio]\n"
    "                  [--vnc unix[:PATH]|HOST:PORT[,password=on][,keymap=en-us|pt-br]]\n"
    "                  [--spice unix:PATH|HOST:PORT[,ticketing=off]] [--display sdl|none]\n"
    "                  [--name NAME]\n"
    "\n"
    "Runs one virtual machine on KVM.\n"
    "\n"
    "  --kernel FILE      Linux x86-64 bzImage to boot directly\n"
    "  --initrd FILE      initial ramdisk for --kernel\n"
    "  --cmdline TEXT     kernel command line (default: console=ttyS0)\n"
    "  --firmware FILE    raw firmware image mapped below 4 GiB, started at the reset vector\n"
    "  --memory SIZE      guest RAM, e.g. 512M or 2G; no suffix means MiB (default: 512M)\n"
    "  --cpus N           number of vCPUs (default: 1)\n"
    "  --serial BACKEND   COM1: stdio, file:PATH, unix:PATH or none (default: stdio)\n"
    "  --control PATH     serve the JSON control protocol on a unix socket\n"
    "  --config FILE      take the VM's settings from a VM definition (JSON); flags\n"
    "                     after it override them\n"
    "  --disk SPEC        a virtio-blk disk on a raw image file (repeatable)\n"
    "  --net SPEC         a virtio-net NIC: user networking (libslirp) or a tap device\n"
    "                     (repeatable); hostfwd=tcp:127.0.0.1:HOSTPORT-:GUESTPORT\n"
    "  --console BACKEND  a virtio console (hvc0): stdio, file:PATH or unix:PATH\n"
    "  --no-reboot        exit (status 0) when the guest resets instead of rebooting\n"
    "  --ksm              let KSM merge identical guest pages (MADV_MERGEABLE)\n"
    "  --no-hugepages     back guest RAM with 4 KiB pages only (default: transparent\n"
    "                     huge pages, as --hugepages)\n"
    "  --gpu KIND         the display device: bochs (bochs-display, the default when a\n"
    "                     display is requested) or virtio (virtio-gpu, 2D)\n"
    "  --vnc ADDRESS      serve the screen, keyboard and tablet over VNC on a unix socket\n"
    "                     (unix:PATH; plain unix: beside --control, .sock -> .vnc) or TCP\n"
    "                     (127.0.0.1:PORT; other addresses only when named); password=on:\n"
    "                     clients need the password set with the control command\n"
    "                     set-password; keymap: the guest's keyboard layout (en-us)\n"
    "  --spice ADDRESS    serve the screen, keyboard and tablet over SPICE on a unix socket\n"
    "                     (unix:PATH) or TCP (127.0.0.1:PORT; other addresses only when\n"
    "                     named); clients need the password set with the control\n"
    "                     command set-password, unless ,ticketing=off is given\n"
    "  --display KIND     sdl: show the screen in a local window; none (the default)\n"
    "  --name NAME        the VM's name, shown in the window title and to SPICE clients\n"
    "  --help, --version\n"
    "\n"
    "In --serial stdio mode, Ctrl-A X quits and Ctrl-A A sends Ctrl-A.\n";

const char *hv_args_usage(void)
{
    return usage;
}

int hv_parse_size(const char *text, uint64_t *bytes)
{
    if (!text || !g_ascii_isdigit(text[0]))
        return -EINVAL;
    char *end;
    errno = 0;
    guint64 n = g_ascii_strtoull(text, &end, 10);
    if (errno)
        return -EINVAL;
    unsigned shift = 20;
    if (*end) {
        switch (g_ascii_toupper(*end)) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default: return -EINVAL;
        }
        end++;
        /* Accept "512MiB" and "512MB" as people write them; both mean powers of 1024. */
        if (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "ib"))
            end += strlen(end);
        if (*end)
            return -EINVAL;
    }
    if (n > (UINT64_MAX >> shift))
        return -EINVAL;
    *bytes = n << shift;
    return 0;
}

/* Each flag, whether it takes a value, and where the value goes. */
enum opt {
    OPT_KERNEL, OPT_INITRD, OPT_CMDLINE, OPT_FIRMWARE, OPT_MEMORY, OPT_CPUS, OPT_SERIAL,
    OPT_CONTROL, OPT_NO_REBOOT, OPT_KSM, OPT_HUGEPAGES, OPT_NO_HUGEPAGES, OPT_HELP, OPT_VERSION, OPT_DISK,
    OPT_NET, OPT_CONSOLE, OPT_CONFIG, OPT_GPU, OPT_VNC, OPT_SPICE, OPT_DISPLAY, OPT_NAME,
};

static const struct {
    const char *name;
    enum opt opt;
    bool has_value;
    const char *example;
} options[] = {
    {"kernel", OPT_KERNEL, true, "--kernel /boot/vmlinuz"},
    {"initrd", OPT_INITRD, true, "--initrd initrd.img"},
    {"cmdline", OPT_CMDLINE, true, "--cmdline 'console=ttyS0'"},
    {"firmware", OPT_FIRMWARE, true, "--firmware bios.bin"},
    {"memory", OPT_MEMORY, true, "--memory 512M"},
    {"cpus", OPT_CPUS, true, "--cpus 2"},
    {"serial", OPT_SERIAL, true, "--serial stdio"},
    {"control", OPT_CONTROL, true, "--control vm.sock"},
    {"disk", OPT_DISK, true, "--disk path=disk.img"},
    {"net", OPT_NET, true, "--net user"},
    {"console", OPT_CONSOLE, true, "--console unix:console.sock"},
    {"config", OPT_CONFIG, true, "--config vm.json"},
    {"gpu", OPT_GPU, true, "--gpu bochs"},
    {"vnc", OPT_VNC, true, "--vnc unix:/run/user/1000/vm.vnc"},
    {"spice", OPT_SPICE, true, "--spice unix:/run/user/1000/vm.spice"},
    {"display", OPT_DISPLAY, true, "--display sdl"},
    {"name", OPT_NAME, true, "--name debian"},
    {"no-reboot", OPT_NO_REBOOT, false, NULL},
    {"ksm", OPT_KSM, false, NULL},
    {"hugepages", OPT_HUGEPAGES, false, NULL},
    {"no-hugepages", OPT_NO_HUGEPAGES, false, NULL},
    {"help", OPT_HELP, false, NULL},
    {"version", OPT_VERSION, false, NULL},
};

static int set_path(char **dst, const char *flag, const char *value, char **err)
{
    if (!*value) {
        *err = g_strdup_printf("--%s '': expected a file name", flag);
        return -EINVAL;
    }
    g_free(*dst);
    *dst = g_strdup(value);
    return 0;
}

static int apply(struct hv_config *cfg, enum opt opt, const char *flag, const char *value,
                 char **err)
{
    switch (opt) {
    case OPT_KERNEL: return set_path(&cfg->kernel, flag, value, err);
    case OPT_INITRD: return set_path(&cfg->initrd, flag, value, err);
    case OPT_FIRMWARE: return set_path(&cfg->firmware, flag, value, err);
    case OPT_CONTROL: return set_path(&cfg->control, flag, value, err);
    case OPT_CMDLINE:
        g_free(cfg->cmdline);
        cfg->cmdline = g_strdup(value);
        return 0;
    case OPT_MEMORY: {
        uint64_t bytes;
        if (hv_parse_size(value, &bytes) < 0) {
            *err = g_strdup_printf("--memory '%s': expected a size such as 512M or 2G "
                                   "(suffix K, M, G or T; no suffix means MiB)", value);
            return -EINVAL;
        }
        if (bytes < HV_MEM_MIN) {
            *err = g_strdup_printf("--memory '%s': expected at least 16M", value);
            return -EINVAL;
        }
        if (bytes % 4096) {
            *err = g_strdup_printf("--memory '%s': expected a multiple of 4K", value);
            return -EINVAL;
        }
        if (bytes > HV_GiB(1024) * 64) {
            *err = g_strdup_printf("--memory '%s': expected at most 64T", value);
            return -EINVAL;
        }
        cfg->memory = bytes;
        return 0;
    }
    case OPT_CPUS: {
        guint64 n;
        if (!g_ascii_string_to_unsigned(value, 10, 1, HV_MAX_CPUS, &n, NULL)) {
            *err = g_strdup_printf("--cpus '%s': expected a whole number from 1 to %d", value,
                                   HV_MAX_CPUS);
            return -EINVAL;
        }
        cfg->cpus = (unsigned)n;
        return 0;
    }
    case OPT_SERIAL:
        hv_chardev_spec_clear(&cfg->serial);
        cfg->serial_none = !strcmp(value, "none");
        if (cfg->serial_none)
            return 0;
        if (hv_chardev_parse(value, &cfg->serial, err) < 0) {
            if (!*err)
                *err = g_strdup_printf("--serial '%s': expected stdio, file:PATH, unix:PATH "
                                       "or none", value);
            return -EINVAL;
        }
        return 0;
    case OPT_DISK:
        if (cfg->nr_disks == HV_MAX_DISKS) {
            *err = g_strdup_printf("--disk '%s': at most %d disks", value, HV_MAX_DISKS);
            return -EINVAL;
        }
        if (hv_disk_spec_parse(value, &cfg->disks[cfg->nr_disks], err) < 0)
            return -EINVAL;
        cfg->nr_disks++;
        return 0;
    case OPT_NET:
        if (cfg->nr_nics == HV_MAX_NICS) {
            *err = g_strdup_printf("--net '%s': at most %d NICs", value, HV_MAX_NICS);
            return -EINVAL;
        }
        if (hv_net_spec_parse(value, &cfg->nics[cfg->nr_nics], err) < 0)
            return -EINVAL;
        cfg->nr_nics++;
        return 0;
    case OPT_CONSOLE:
        hv_chardev_spec_clear(&cfg->console);
        /* The parser's own message names --serial; this flag words its own. */
        if (hv_chardev_parse(value, &cfg->console, NULL) < 0) {
            if (!*err)
                *err = g_strdup_printf("--console '%s': expected stdio, file:PATH or unix:PATH",
                                       value);
            return -EINVAL;
        }
        cfg->has_console = true;
        return 0;
    case OPT_GPU:
        if (!strcmp(value, "bochs"))
            cfg->gpu = HV_GPU_BOCHS;
        else if (!strcmp(value, "virtio"))
            cfg->gpu = HV_GPU_VIRTIO;
        else {
            *err = g_strdup_printf("--gpu '%s': expected bochs or virtio", value);
            return -EINVAL;
        }
        return 0;
    case OPT_VNC:
        hv_vnc_spec_clear(&cfg->vnc);
        cfg->has_vnc = false;
        if (hv_vnc_spec_parse(value, &cfg->vnc, err) < 0)
            return -EINVAL;
        cfg->has_vnc = true;
        return 0;
    case OPT_SPICE:
        hv_spice_spec_clear(&cfg->spice);
        cfg->has_spice = false;
        if (hv_spice_spec_parse(value, &cfg->spice, err) < 0)
            return -EINVAL;
        cfg->has_spice = true;
        return 0;
    case OPT_DISPLAY:
        if (!strcmp(value, "sdl") || !strcmp(value, "none")) {
            cfg->display_sdl = !strcmp(value, "sdl");
            return 0;
        }
        *err = g_strdup_printf("--display '%s': expected sdl or none", value);
        return -EINVAL;
    case OPT_NAME:
        if (!*value || strlen(value) > 255 || !g_utf8_validate(value, -1, NULL)) {
            *err = g_strdup_printf("--name '%s': expected 1 to 255 bytes of UTF-8", value);
            return -EINVAL;
        }
        g_free(cfg->name);
        cfg->name = g_strdup(value);
        return 0;
    case OPT_CONFIG: /* expanded by parse_list */
        return -EINVAL;
    case OPT_NO_REBOOT: cfg->no_reboot = true; return 0;
    case OPT_KSM: cfg->ksm = true; return 0;
    case OPT_HUGEPAGES: cfg->hugepages = true; return 0;
    case OPT_NO_HUGEPAGES: cfg->hugepages = false; return 0;
    case OPT_HELP:
        fputs(usage, stdout);
        return HV_ARGS_DONE;
    case OPT_VERSION:
        printf("vmdesk-vmm %s\n", VMDESK_VERSION);
        return HV_ARGS_DONE;
    }
    return -EINVAL;
}

static int check(struct hv_config *cfg, char **err)
{
    if (cfg->kernel && cfg->firmware) {
        *err = g_strdup("--kernel and --firmware exclude each other: give one of them");
        return -EINVAL;
    }
    if (!cfg->kernel && !cfg->firmware) {
        *err = g_strdup("no guest to run: expected --kernel BZIMAGE or --firmware FILE "
                        "(see vmdesk-vmm --help)");
        return -EINVAL;
    }
    if (!cfg->kernel && (cfg->initrd || cfg->cmdline)) {
        *err = g_strdup_printf("%s needs --kernel (firmware finds its own boot files)",
                               cfg->initrd ? "--initrd" : "--cmdline");
        return -EINVAL;
    }
    if (cfg->control && !cfg->serial_none && cfg->serial.kind != HV_CHARDEV_STDIO &&
        !strcmp(cfg->control, cfg->serial.path)) {
        *err = g_strdup_printf("--control '%s' is also the --serial path: expected two "
                               "different paths", cfg->control);
        return -EINVAL;
    }
    if (cfg->has_console && cfg->console.kind == HV_CHARDEV_STDIO && !cfg->serial_none &&
        cfg->serial.kind == HV_CHARDEV_STDIO) {
        *err = g_strdup("--console stdio and --serial stdio cannot share the terminal: give one "
                        "of them a file: or unix: backend, or --serial none");
        return -EINVAL;
    }
    for (unsigned i = 0; i < cfg->nr_disks; i++)
        for (unsigned j = 0; j < i; j++)
            if (!strcmp(cfg->disks[i].path, cfg->disks[j].path)) {
                *err = g_strdup_printf("--disk path=%s is given twice: expected each image "
                                       "once", cfg->disks[i].path);
                return -EINVAL;
            }
    if (cfg->kernel && !cfg->cmdline)
        cfg->cmdline = g_strdup(HV_DEFAULT_CMDLINE);
    if (cfg->has_vnc && hv_vnc_spec_finish(&cfg->vnc, cfg->control, err) < 0)
        return -EINVAL;
    if (cfg->gpu == HV_GPU_NONE && hv_config_wants_display(cfg))
        cfg->gpu = HV_GPU_BOCHS;
    return 0;
}

bool hv_config_wants_display(const struct hv_config *cfg)
{
    /* Each display consumer's flag joins this list. */
    return cfg->gpu != HV_GPU_NONE || cfg->has_vnc || cfg->has_spice || cfg->display_sdl;
}

static int parse_list(int argc, char **argv, int first, struct hv_config *cfg, bool nested,
                      char **err)
{
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
            *err = g_strdup_printf("unexpected argument '%s': expected an option such as "
                                   "--kernel (see vmdesk-vmm --help)", arg);
            return -EINVAL;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        size_t k;
        for (k = 0; k < G_N_ELEMENTS(options); k++)
            if (strlen(options[k].name) == name_len && !strncmp(options[k].name, name, name_len))
                break;
        if (k == G_N_ELEMENTS(options)) {
            *err = g_strdup_printf("unknown option '%.*s' (see vmdesk-vmm --help)",
                                   (int)(name_len + 2), arg);
            return -EINVAL;
        }
        const char *value = NULL;
        if (options[k].has_value) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                *err = g_strdup_printf("--%s needs a value, e.g. %s", options[k].name,
                                       options[k].example);
                return -EINVAL;
            }
        } else if (eq) {
            *err = g_strdup_printf("--%s takes no value (got '%s')", options[k].name, eq + 1);
            return -EINVAL;
        }
        if (options[k].opt == OPT_CONFIG) {
            if (nested) {
                *err = g_strdup_printf("--config %s: a VM definition cannot name another", value);
                return -EINVAL;
            }
            g_auto(GStrv) args = hv_config_to_args(value, err);
            if (!args)
                return -EINVAL;
            int r = parse_list((int)g_strv_length(args), args, 0, cfg, true, err);
            if (r != 0) {
                /* Say which file the value came from. */
                char *inner = *err;
                *err = g_strdup_printf("--config %s: %s", value, inner);
                g_free(inner);
                return r;
            }
            continue;
        }
        int r = apply(cfg, options[k].opt, options[k].name, value, err);
        if (r != 0)
            return r;
    }
    return 0;
}

int hv_args_parse(int argc, char **argv, struct hv_config *cfg, char **err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->memory = HV_DEFAULT_MEMORY;
    cfg->cpus = 1;
    /* As QEMU does: far fewer nested page faults, for guest RAM rounded to 2 MiB. */
    cfg->hugepages = true;
    cfg->serial.kind = HV_CHARDEV_STDIO;
    *err = NULL;
    int r = parse_list(argc, argv, 1, cfg, false, err);
    return r != 0 ? r : check(cfg, err);
}

void hv_config_clear(struct hv_config *cfg)
{
    g_free(cfg->kernel);
    g_free(cfg->initrd);
    g_free(cfg->cmdline);
    g_free(cfg->firmware);
    g_free(cfg->control);
    hv_chardev_spec_clear(&cfg->serial);
    hv_chardev_spec_clear(&cfg->console);
    for (unsigned i = 0; i < cfg->nr_disks; i++)
        hv_disk_spec_clear(&cfg->disks[i]);
    for (unsigned i = 0; i < cfg->nr_nics; i++)
        hv_net_spec_clear(&cfg->nics[i]);
    hv_spice_spec_clear(&cfg->spice);
    hv_vnc_spec_clear(&cfg->vnc);
    g_free(cfg->name);
    memset(cfg, 0, sizeof(*cfg));
}
