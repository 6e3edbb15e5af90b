/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of vmdesk-vmm's command-line parser. */
#include <glib.h>
#include <string.h>

#include "vmm/args.h"

static int parse(struct hv_config *cfg, char **err, ...)
{
    const char *argv[32] = {"vmdesk-vmm"};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    const char *a;
    while ((a = va_arg(ap, const char *)))
        argv[argc++] = a;
    va_end(ap);
    return hv_args_parse(argc, (char **)argv, cfg, err);
}

/* The parse fails, and the message is one line that contains `needle`. */
#define EXPECT_ERROR(needle, ...)                                                              \
    do {                                                                                       \
        struct hv_config cfg_;                                                                 \
        char *err_ = NULL;                                                                     \
        g_assert_cmpint(parse(&cfg_, &err_, __VA_ARGS__, NULL), <, 0);                         \
        g_assert_nonnull(err_);                                                                \
        if (!strstr(err_, needle))                                                             \
            g_error("message '%s' lacks '%s'", err_, needle);                                  \
        g_assert_null(strchr(err_, '\n'));                                                     \
        g_free(err_);                                                                          \
        hv_config_clear(&cfg_);                                                                \
    } while (0)

static void test_sizes(void)
{
    uint64_t b;
    g_assert_cmpint(hv_parse_size("512M", &b), ==, 0);
    g_assert_cmpuint(b, ==, 512ull << 20);
    g_assert_cmpint(hv_parse_size("2G", &b), ==, 0);
    g_assert_cmpuint(b, ==, 2ull << 30);
    g_assert_cmpint(hv_parse_size("2g", &b), ==, 0);
    g_assert_cmpuint(b, ==, 2ull << 30);
    g_assert_cmpint(hv_parse_size("64", &b), ==, 0);
    g_assert_cmpuint(b, ==, 64ull << 20);
    g_assert_cmpint(hv_parse_size("1048576K", &b), ==, 0);
    g_assert_cmpuint(b, ==, 1ull << 30);
    g_assert_cmpint(hv_parse_size("1T", &b), ==, 0);
    g_assert_cmpuint(b, ==, 1ull << 40);
    g_assert_cmpint(hv_parse_size("512MiB", &b), ==, 0);
    g_assert_cmpuint(b, ==, 512ull << 20);
    g_assert_cmpint(hv_parse_size("12Q", &b), <, 0);
    g_assert_cmpint(hv_parse_size("", &b), <, 0);
    g_assert_cmpint(hv_parse_size("-1G", &b), <, 0);
    g_assert_cmpint(hv_parse_size("G", &b), <, 0);
    g_assert_cmpint(hv_parse_size("1.5G", &b), <, 0);
    g_assert_cmpint(hv_parse_size("2G ", &b), <, 0);
    g_assert_cmpint(hv_parse_size("99999999999999999999", &b), <, 0);
    g_assert_cmpint(hv_parse_size("17179869184T", &b), <, 0);
}

static void test_defaults(void)
{
    struct hv_config cfg;
    char *err = NULL;
    g_assert_cmpint(parse(&cfg, &err, "--kernel", "bz", NULL), ==, HV_ARGS_RUN);
    g_assert_cmpstr(cfg.kernel, ==, "bz");
    g_assert_cmpuint(cfg.memory, ==, 512ull << 20);
    g_assert_cmpuint(cfg.cpus, ==, 1);
    g_assert_cmpstr(cfg.cmdline, ==, "console=ttyS0");
    g_assert_false(cfg.serial_none);
    g_assert_cmpint(cfg.serial.kind, ==, HV_CHARDEV_STDIO);
    g_assert_false(cfg.no_reboot);
    g_assert_null(cfg.control);
    hv_config_clear(&cfg);
}

static void test_full(void)
{
    struct hv_config cfg;
    char *err = NULL;
    g_assert_cmpint(parse(&cfg, &err, "--kernel=bz", "--initrd", "rd", "--cmdline", "a b",
                          "--memory", "2G", "--cpus=4", "--serial", "file:/x/log",
                          "--control", "/x/ctl", "--no-reboot", "--ksm", "--hugepages", NULL),
                    ==, HV_ARGS_RUN);
    g_assert_cmpstr(cfg.initrd, ==, "rd");
    g_assert_cmpstr(cfg.cmdline, ==, "a b");
    g_assert_cmpuint(cfg.memory, ==, 2ull << 30);
    g_assert_cmpuint(cfg.cpus, ==, 4);
    g_assert_cmpint(cfg.serial.kind, ==, HV_CHARDEV_FILE);
    g_assert_cmpstr(cfg.serial.path, ==, "/x/log");
    g_assert_cmpstr(cfg.control, ==, "/x/ctl");
    g_assert_true(cfg.no_reboot && cfg.ksm && cfg.hugepages);
    hv_config_clear(&cfg);

    g_assert_cmpint(parse(&cfg, &err, "--firmware", "fw.bin", "--serial", "none", NULL), ==,
                    HV_ARGS_RUN);
    g_assert_true(cfg.serial_none);
    g_assert_null(cfg.cmdline);
    hv_config_clear(&cfg);
}

static void test_errors(void)
{
    EXPECT_ERROR("unknown option '--frobnicate'", "--kernel", "bz", "--frobnicate");
    EXPECT_ERROR("unknown option '--frob'", "--kernel", "bz", "--frob=1");
    EXPECT_ERROR("unexpected argument 'extra'", "--kernel", "bz", "extra");
    EXPECT_ERROR("--memory '12Q': expected a size", "--kernel", "bz", "--memory", "12Q");
    EXPECT_ERROR("--memory '8M': expected at least 16M", "--kernel", "bz", "--memory", "8M");
    EXPECT_ERROR("--memory '16385K': expected a multiple of 4K", "--kernel", "bz", "--memory",
                 "16385K");
    EXPECT_ERROR("--cpus '0': expected a whole number from 1 to 255", "--kernel", "bz",
                 "--cpus", "0");
    EXPECT_ERROR("--cpus '256'", "--kernel", "bz", "--cpus", "256");
    EXPECT_ERROR("--cpus 'two'", "--kernel", "bz", "--cpus", "two");
    EXPECT_ERROR("--memory needs a value", "--kernel", "bz", "--memory");
    EXPECT_ERROR("--no-reboot takes no value", "--kernel", "bz", "--no-reboot=yes");
    EXPECT_ERROR("exclude each other", "--kernel", "bz", "--firmware", "fw");
    EXPECT_ERROR("no guest to run", "--memory", "1G");
    EXPECT_ERROR("--initrd needs --kernel", "--firmware", "fw", "--initrd", "rd");
    EXPECT_ERROR("--kernel '': expected a file name", "--kernel", "");
    EXPECT_ERROR("--serial", "--kernel", "bz", "--serial", "tcp:1234");
    EXPECT_ERROR("two different paths", "--kernel", "bz", "--serial", "unix:/x/s",
                 "--control", "/x/s");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/args/sizes", test_sizes);
    g_test_add_func("/args/defaults", test_defaults);
    g_test_add_func("/args/full", test_full);
    g_test_add_func("/args/errors", test_errors);
    return g_test_run();
}
