/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of vmdesk-vmm's command-line parser. */
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>
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
    g_assert_true(cfg.hugepages); /* the default */
    hv_config_clear(&cfg);
    g_assert_cmpint(parse(&cfg, &err, "--firmware", "fw.bin", "--no-hugepages", NULL), ==,
                    HV_ARGS_RUN);
    g_assert_false(cfg.hugepages);
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

static char *write_temp(const char *text)
{
    char *path = NULL;
    int fd = g_file_open_tmp("vmdesk-config-XXXXXX.json", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    close(fd);
    return path;
}

static void test_config(void)
{
    g_autofree char *path = write_temp(
        "{\"schema\": 1, \"name\": \"vm\", \"memory\": \"1G\", \"cpus\": 2,"
        " \"kernel\": \"/k\", \"initrd\": \"/i\", \"cmdline\": \"console=ttyS0 a,b\","
        " \"serial\": \"unix:/run/s\", \"ksm\": true, \"hugepages\": false,"
        " \"no_reboot\": true, \"disks\": [{\"path\": \"/d,1.img\", \"readonly\": true,"
        " \"serial\": \"SN1\"}], \"net\": [{\"type\": \"user\", \"mac\": \"52:54:00:00:00:09\","
        " \"hostfwd\": [\"tcp:127.0.0.1:2222-:22\"]}]}");
    struct hv_config cfg;
    char *err = NULL;
    /* A flag after --config overrides the document. */
    g_assert_cmpint(parse(&cfg, &err, "--config", path, "--cpus", "3", NULL), ==, HV_ARGS_RUN);
    g_assert_null(err);
    g_assert_cmpuint(cfg.memory, ==, 1ull << 30);
    g_assert_cmpuint(cfg.cpus, ==, 3);
    g_assert_cmpstr(cfg.kernel, ==, "/k");
    g_assert_cmpstr(cfg.cmdline, ==, "console=ttyS0 a,b");
    g_assert_cmpint(cfg.serial.kind, ==, HV_CHARDEV_UNIX);
    g_assert_true(cfg.ksm && !cfg.hugepages && cfg.no_reboot);
    g_assert_cmpuint(cfg.nr_disks, ==, 1);
    g_assert_cmpstr(cfg.disks[0].path, ==, "/d,1.img"); /* a comma survives */
    g_assert_true(cfg.disks[0].readonly);
    g_assert_cmpstr(cfg.disks[0].serial, ==, "SN1");
    g_assert_cmpuint(cfg.nr_nics, ==, 1);
    g_assert_cmpuint(cfg.nics[0].nr_hostfwd, ==, 1);
    g_assert_cmpuint(cfg.nics[0].hostfwd[0].host_port, ==, 2222);
    g_assert_cmpuint(cfg.nics[0].mac[5], ==, 9);
    hv_config_clear(&cfg);
    g_unlink(path);
}

static void test_config_errors(void)
{
    static const struct {
        const char *doc;
        const char *needle;
    } cases[] = {
        {"{\"schema\": 1,", "Parse error"},
        {"[1]", "expected a JSON object"},
        {"{\"memory\": \"1G\"}", "schema: missing"},
        {"{\"schema\": 2}", "schema 2: this vmdesk-vmm reads schema 1"},
        {"{\"schema\": 1, \"bogus\": 1, \"kernel\": \"/k\"}", "unknown field 'bogus'"},
        {"{\"schema\": 1, \"memory\": \"12Q\", \"kernel\": \"/k\"}", "--memory '12Q'"},
        {"{\"schema\": 1, \"cpus\": \"2\", \"kernel\": \"/k\"}", "cpus: expected an integer"},
        {"{\"schema\": 1, \"ksm\": 1, \"kernel\": \"/k\"}", "ksm: expected true or false"},
        {"{\"schema\": 1, \"kernel\": \"/k\", \"disks\": [{\"path\": \"/d\", \"x\": 1}]}",
         "disks[0]: unknown field 'x'"},
        {"{\"schema\": 1, \"kernel\": \"/k\", \"net\": [{\"type\": \"vde\"}]}",
         "unknown backend 'vde'"},
        {"{\"schema\": 1, \"kernel\": \"/k\", \"net\": [{}]}", "net[0].type"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = write_temp(cases[i].doc);
        struct hv_config cfg;
        char *err = NULL;
        g_assert_cmpint(parse(&cfg, &err, "--config", path, NULL), <, 0);
        if (!strstr(err, cases[i].needle) || !strstr(err, path))
            g_error("case %zu: message '%s' lacks '%s' or the file name", i, err,
                    cases[i].needle);
        g_assert_null(strchr(err, '\n'));
        g_free(err);
        hv_config_clear(&cfg);
        g_unlink(path);
    }
    struct hv_config cfg;
    char *err = NULL;
    g_assert_cmpint(parse(&cfg, &err, "--config", "/nonexistent/vm.json", NULL), <, 0);
    g_assert_nonnull(strstr(err, "/nonexistent/vm.json"));
    g_free(err);
    hv_config_clear(&cfg);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/args/sizes", test_sizes);
    g_test_add_func("/args/defaults", test_defaults);
    g_test_add_func("/args/full", test_full);
    g_test_add_func("/args/errors", test_errors);
    g_test_add_func("/args/config", test_config);
    g_test_add_func("/args/config-errors", test_config_errors);
    return g_test_run();
}
