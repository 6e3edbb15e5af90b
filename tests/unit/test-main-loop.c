/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The I/O watches and user networking on the main loop leave an idle loop asleep. */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/fd-watch.h"
#include "net/backend.h"
#include "vmm/devargs.h"

static gboolean count_and_read(gint fd, GIOCondition cond, gpointer opaque)
{
    (void)cond;
    uint64_t v;
    g_assert_cmpint(read(fd, &v, sizeof(v)), ==, sizeof(v));
    (*(unsigned *)opaque)++;
    return G_SOURCE_CONTINUE;
}

static gboolean set_flag(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

/* Takes the wake-ups earlier set-up left pending. */
static void settle(void)
{
    for (unsigned i = 0; i < 5; i++)
        g_main_context_iteration(NULL, FALSE);
}

/* Blocking iterations until a timer of `ms` fires: 1 when nothing else woke the loop. */
static unsigned iterations_until_timer(unsigned ms)
{
    bool fired = false;
    g_timeout_add(ms, set_flag, &fired);
    unsigned n = 0;
    while (!fired) {
        g_main_context_iteration(NULL, TRUE);
        n++;
    }
    return n;
}

/*
 * A dispatch of an hv_fd_watch_add watch leaves no wake-up behind: with g_unix_fd_add, GLib
 * re-adds the fd after the callback and wakes the context, and the next blocking iteration
 * returns at once with nothing to do (two iterations until the timer instead of one).
 */
static void test_fd_watch_no_wakeup(void)
{
    settle();
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(fd, >=, 0);
    unsigned calls = 0;
    guint id = hv_fd_watch_add(fd, count_and_read, &calls);
    settle();
    for (unsigned i = 1; i <= 3; i++) {
        uint64_t one = 1;
        g_assert_cmpint(write(fd, &one, sizeof(one)), ==, sizeof(one));
        g_assert_true(g_main_context_iteration(NULL, TRUE));
        g_assert_cmpuint(calls, ==, i);
        g_assert_cmpuint(iterations_until_timer(20), ==, 1);
    }
    g_source_remove(id);
    close(fd);
}

static uint16_t free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_assert_cmpint(bind(s, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    socklen_t al = sizeof(a);
    g_assert_cmpint(getsockname(s, (struct sockaddr *)&a, &al), ==, 0);
    close(s);
    return ntohs(a.sin_port);
}

/*
 * User networking with a forwarded port (a listening socket) and nothing happening: the
 * loop sleeps. It used to re-register slirp's sockets before every poll, each time waking
 * the loop again: a VM with --net user kept a host core busy while idle.
 */
static void test_slirp_idle(void)
{
    settle();
    struct hv_net_spec spec = {.kind = HV_NET_USER, .nr_hostfwd = 1};
    spec.hostfwd[0] = (struct hv_hostfwd){.host_addr = (char *)"127.0.0.1",
                                          .host_port = free_port(), .guest_port = 22};
    char *err = NULL;
    struct hv_net_backend *be = hv_net_slirp_new(&spec, "net0", &err);
    g_assert_null(err);
    g_assert_nonnull(be);
    settle();
    /* slirp's own slow timer (every 0.5 s) may add one wake-up. */
    unsigned n = iterations_until_timer(300);
    g_test_message("%u iterations in 300 ms", n);
    g_assert_cmpuint(n, <=, 3);
    hv_net_backend_free(be);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/main-loop/fd-watch-no-wakeup", test_fd_watch_no_wakeup);
    g_test_add_func("/main-loop/slirp-idle", test_slirp_idle);
    return g_test_run();
}
