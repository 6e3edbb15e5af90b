/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vmdeskctl console: the VM's serial console in this terminal; Ctrl-] detaches. */
#include "vmdeskctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define DETACH_KEY 0x1d /* Ctrl-] */

static gboolean write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return FALSE;
        buf += w;
        len -= (size_t)w;
    }
    return TRUE;
}

/* Copies between the terminal and the socket until Ctrl-], end of input or the VM goes. */
static int relay(int sock, gboolean tty)
{
    struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
    char buf[4096];

    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return EXIT_FAILED;
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(sock, buf, sizeof(buf));
            if (n <= 0) {
                fprintf(stderr, "%s[vmdeskctl: the VM closed its console]\n",
                        tty ? "\r\n" : "");
                return EXIT_OK;
            }
            if (!write_all(STDOUT_FILENO, buf, (size_t)n))
                return EXIT_FAILED;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n <= 0)
                return EXIT_OK; /* end of input: detach, the VM keeps running */
            char *key = memchr(buf, DETACH_KEY, (size_t)n);
            size_t len = key ? (size_t)(key - buf) : (size_t)n;
            if (len && !write_all(sock, buf, len))
                return EXIT_FAILED;
            if (key) {
                if (tty)
                    fprintf(stderr, "\r\n[vmdeskctl: detached; the VM keeps running]\r\n");
                return EXIT_OK;
            }
        }
    }
}

int ctl_cmd_console(Ctl *ctl, int argc, char **argv)
{
    GError *error = NULL;
    if (argc != 1)
        return ctl_usage("console takes one VM name");
    g_autoptr(VmdDefinition) def = vmd_library_load(ctl->lib, argv[0], &error);
    if (!def)
        return ctl_fail(error);
    VmdMachine *m = vmd_library_get_machine(ctl->lib, argv[0]);
    VmdMachineState st = vmd_machine_get_state(m);
    if (st != VMD_MACHINE_RUNNING && st != VMD_MACHINE_PAUSED) {
        g_set_error(&error, VMD_ERROR, VMD_ERROR_NOT_RUNNING, "'%s' is not running (it is %s)",
                    argv[0], vmd_machine_state_to_string(st));
        return ctl_fail(error);
    }
    const char *serial = vmd_definition_get_serial(def);
    const char *path = vmd_machine_get_serial_path(m);
    if (serial && g_str_has_prefix(serial, "unix:"))
        path = serial + 5;
    else if (serial) {
        g_set_error(&error, VMD_ERROR, VMD_ERROR_UNSUPPORTED, "'%s' has serial '%s': only a "
                    "unix: serial (the default) can be attached", argv[0], serial);
        return ctl_fail(error);
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(&error, VMD_ERROR, VMD_ERROR_FAILED, "%s: path too long", path);
        return ctl_fail(error);
    }
    strcpy(addr.sun_path, path);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        g_set_error(&error, VMD_ERROR, VMD_ERROR_FAILED, "console %s: %s", path,
                    g_strerror(errno));
        if (sock >= 0)
            close(sock);
        return ctl_fail(error);
    }

    struct termios saved, raw;
    gboolean tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) {
        fprintf(stderr, "[vmdeskctl: connected to %s's console; Ctrl-] detaches]\r\n", argv[0]);
        raw = saved;
        cfmakeraw(&raw);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    int status = relay(sock, tty);
    if (tty)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    close(sock);
    return status;
}
