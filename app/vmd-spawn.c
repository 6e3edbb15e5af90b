/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Starting vmdesk-vmm detached from the front end, with a supervisor that records its end. */
#include "vmd-spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmd-error.h"

/* Everything below runs between fork and exec/exit of a threaded process: only
 * async-signal-safe calls, no allocation. */

static size_t fmt_int(char *out, const char *prefix, int value)
{
    size_t n = 0;
    char digits[16];
    size_t d = 0;
    unsigned v = value < 0 ? (unsigned)-value : (unsigned)value;

    while (*prefix)
        out[n++] = *prefix++;
    if (value < 0)
        out[n++] = '-';
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (d)
        out[n++] = digits[--d];
    out[n++] = '\n';
    return n;
}

static void write_exit_record(const char *exit_path, const char *tmp_path, int status)
{
    char rec[48];
    size_t n = WIFSIGNALED(status) ? fmt_int(rec, "signal ", WTERMSIG(status))
                                   : fmt_int(rec, "exit ", WEXITSTATUS(status));
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    ssize_t w = write(fd, rec, n);
    (void)w;
    fsync(fd);
    close(fd);
    rename(tmp_path, exit_path);
}

static void child_fail(int log_fd, const char *what, const char *argv0)
{
    static const char sep[] = ": ";
    static const char tail[] = "\n";
    const char *msg = strerror(errno); /* glibc's is safe enough here: static table */
    ssize_t w = write(log_fd, "vmdesk: cannot run ", 19);
    w = write(log_fd, argv0, strlen(argv0));
    w = write(log_fd, sep, 2);
    w = write(log_fd, what, strlen(what));
    w = write(log_fd, sep, 2);
    w = write(log_fd, msg, strlen(msg));
    w = write(log_fd, tail, 1);
    (void)w;
}

gboolean vmd_spawn_detached(char **argv, int log_fd, int lock_fd, const char *exit_path,
                            GError **error)
{
    g_autofree char *tmp_path = g_strconcat(exit_path, ".tmp", NULL);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "/dev/null: %s", g_strerror(errno));
        return FALSE;
    }

    pid_t a = fork();
    if (a < 0) {
        int err = errno;
        close(devnull);
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "fork: %s", g_strerror(err));
        return FALSE;
    }
    if (a == 0) {
        /* First child: leave the caller's session, then hand over to the supervisor. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        /* Fixed descriptors: 0 /dev/null, 1 and 2 the log, 3 the lock; close the rest. */
        if (dup2(devnull, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
            dup2(lock_fd, 3) < 0)
            _exit(127);
        close_range(4, ~0u, 0);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGCHLD, SIG_DFL); /* the supervisor must be able to wait */
        signal(SIGHUP, SIG_IGN); /* the session leader's exit must not hang the VM up */
        pid_t s = fork();
        if (s != 0)
            _exit(s < 0 ? 127 : 0);
        /* Supervisor. */
        pid_t vmm = fork();
        if (vmm == 0) {
            signal(SIGHUP, SIG_DFL);
            execv(argv[0], argv);
            child_fail(2, "exec", argv[0]);
            _exit(127);
        }
        if (vmm < 0) {
            child_fail(2, "fork", argv[0]);
            write_exit_record(exit_path, tmp_path, 127 << 8);
            _exit(1);
        }
        int status;
        while (waitpid(vmm, &status, 0) < 0) {
            if (errno != EINTR) {
                status = 127 << 8;
                break;
            }
        }
        write_exit_record(exit_path, tmp_path, status);
        _exit(0);
    }
    close(devnull);
    int status = 0;
    while (waitpid(a, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_set_error(error, VMD_ERROR, VMD_ERROR_FAILED, "cannot detach %s from this session",
                    argv[0]);
        return FALSE;
    }
    return TRUE;
}

gboolean vmd_spawn_parse_exit(const char *text, gboolean *signalled, int *code)
{
    gint64 n;
    const char *num;
    if (g_str_has_prefix(text, "exit ")) {
        *signalled = FALSE;
        num = text + 5;
    } else if (g_str_has_prefix(text, "signal ")) {
        *signalled = TRUE;
        num = text + 7;
    } else {
        return FALSE;
    }
    g_autofree char *clean = g_strstrip(g_strdup(num));
    if (!g_ascii_string_to_signed(clean, 10, -1, 255, &n, NULL))
        return FALSE;
    *code = (int)n;
    return TRUE;
}
