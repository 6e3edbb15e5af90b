/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of VmdDefinition: round trip, every validation error, migration, atomic writes. */
#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmd-definition-private.h"
#include "vmd-fileutil.h"

static char *tmpdir;

static VmdDefinition *parse(const char *json, GError **error)
{
    return vmd_definition_new_from_data(json, -1, NULL, NULL, error);
}

static void test_round_trip(void)
{
    g_autoptr(GError) error = NULL;
    const char *doc =
        "{\"schema\": 1, \"name\": \"web server\", \"memory\": \"2G\", \"cpus\": 4,"
        " \"kernel\": \"/boot/vmlinuz\", \"initrd\": \"/boot/initrd.img\","
        " \"cmdline\": \"console=ttyS0 quiet\", \"serial\": \"unix:/run/x.sock\","
        " \"disks\": [{\"path\": \"/d/a.raw\", \"readonly\": true, \"cache\": \"none\","
        " \"serial\": \"SN1\"}, {\"path\": \"/d/b.raw\"}],"
        " \"net\": [{\"type\": \"user\", \"mac\": \"52:54:00:12:34:56\","
        " \"hostfwd\": [\"tcp:127.0.0.1:2222-:22\", \"udp::5353-10.0.2.15:53\"]},"
        " {\"type\": \"tap\", \"ifname\": \"tap0\"}],"
        " \"ksm\": true, \"hugepages\": true, \"no_reboot\": true}";
    g_autoptr(VmdDefinition) def = parse(doc, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(vmd_definition_get_name(def), ==, "web server");
    g_assert_cmpuint(vmd_definition_get_memory_bytes(def), ==, 2ull << 30);
    g_assert_cmpuint(vmd_definition_get_cpus(def), ==, 4);
    g_assert_cmpuint(vmd_definition_get_disks(def)->len, ==, 2);
    VmdDisk *d = g_ptr_array_index(vmd_definition_get_disks(def), 0);
    g_assert_true(d->readonly);
    g_assert_cmpstr(d->cache, ==, "none");
    g_assert_cmpstr(d->serial, ==, "SN1");

    gsize len;
    g_autofree char *text = vmd_definition_to_data(def, &len);
    g_autoptr(VmdDefinition) again = parse(text, &error);
    g_assert_no_error(error);
    g_autofree char *text2 = vmd_definition_to_data(again, NULL);
    g_assert_cmpstr(text, ==, text2);
    g_assert_true(vmd_definition_get_ksm(again));
    g_assert_true(vmd_definition_get_hugepages(again));
    g_assert_true(vmd_definition_get_no_reboot(again));
    VmdNet *n = g_ptr_array_index(vmd_definition_get_net(again), 0);
    g_assert_cmpstr(n->mac, ==, "52:54:00:12:34:56");
    g_assert_cmpuint(g_strv_length(n->hostfwd), ==, 2);
    g_assert_cmpstr(n->hostfwd[1], ==, "udp::5353-10.0.2.15:53");
    n = g_ptr_array_index(vmd_definition_get_net(again), 1);
    g_assert_cmpstr(n->type, ==, "tap");
    g_assert_cmpstr(n->ifname, ==, "tap0");
    g_assert_null(n->hostfwd);
    /* A copy keeps the lists. */
    g_autoptr(VmdDefinition) dup = vmd_definition_copy(again, "web server");
    g_autofree char *dup_text = vmd_definition_to_data(dup, NULL);
    g_assert_cmpstr(text, ==, dup_text);

    /* Defaults: 512M, 1 vCPU, no cmdline stored (the VMM's default applies). */
    g_autoptr(VmdDefinition) min =
        parse("{\"schema\": 1, \"name\": \"m\", \"firmware\": \"/f.bin\"}", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(vmd_definition_get_memory(min), ==, "512M");
    g_assert_cmpuint(vmd_definition_get_cpus(min), ==, 1);
    g_assert_null(vmd_definition_get_cmdline(min));
    g_assert_null(vmd_definition_get_serial(min));

    /* A copy is equal but for the name. */
    g_autoptr(VmdDefinition) copy = vmd_definition_copy(def, "other");
    g_assert_cmpstr(vmd_definition_get_name(copy), ==, "other");
    vmd_definition_set_name(copy, "web server");
    g_autofree char *text3 = vmd_definition_to_data(copy, NULL);
    g_assert_cmpstr(text, ==, text3);
}

/* Each bad document and the words its one-line error must contain. */
static const struct {
    const char *json;
    const char *expect;
} bad_docs[] = {
    {"", "empty file"},
    {"{\"schema\": 1, \"name\": \"a\"", "not valid JSON"},
    {"[1]", "expected a JSON object"},
    {"{\"name\": \"a\", \"firmware\": \"/f\"}", "schema: missing"},
    {"{\"schema\": \"1\", \"name\": \"a\"}", "schema \"1\""},
    {"{\"schema\": 0, \"name\": \"a\"}", "schema 0"},
    {"{\"schema\": 1, \"firmware\": \"/f\"}", "name: missing"},
    {"{\"schema\": 1, \"name\": \"\", \"firmware\": \"/f\"}", "name is empty"},
    {"{\"schema\": 1, \"name\": \"a/b\", \"firmware\": \"/f\"}", "contains '/'"},
    {"{\"schema\": 1, \"name\": \".a\", \"firmware\": \"/f\"}", "starts with '.'"},
    {"{\"schema\": 1, \"name\": \"a\\tb\", \"firmware\": \"/f\"}", "unprintable"},
    {"{\"schema\": 1, \"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
     " \"firmware\": \"/f\"}", "65 bytes long"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"colour\": 1}",
     "unknown field 'colour'"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"memory\": 512}",
     "memory 512: expected a string"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"memory\": \"lots\"}",
     "memory 'lots': expected a size"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"memory\": \"15M\"}",
     "memory '15M': expected at least 16M"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"memory\": \"16385K\"}",
     "expected a multiple of 4K"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"memory\": \"65T\"}",
     "expected at most 64T"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"cpus\": 0}",
     "cpus 0: expected a whole number from 1 to 255"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"cpus\": 256}", "cpus 256"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"cpus\": 1.5}", "cpus 1.5"},
    {"{\"schema\": 1, \"name\": \"a\", \"kernel\": \"vmlinuz\"}",
     "kernel 'vmlinuz': expected an absolute path"},
    {"{\"schema\": 1, \"name\": \"a\", \"kernel\": \"\"}", "kernel '': expected a file name"},
    {"{\"schema\": 1, \"name\": \"a\", \"kernel\": 7}", "kernel 7: expected a string"},
    {"{\"schema\": 1, \"name\": \"a\", \"kernel\": \"/k\", \"firmware\": \"/f\"}",
     "exclude each other"},
    {"{\"schema\": 1, \"name\": \"a\"}", "no guest to run"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"initrd\": \"/i\"}",
     "initrd needs kernel"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"cmdline\": \"x\"}",
     "cmdline needs kernel"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"serial\": \"tcp:1\"}",
     "serial 'tcp:1': expected stdio, file:PATH, unix:PATH or none"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"serial\": \"unix:\"}",
     "serial 'unix:'"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"ksm\": \"yes\"}",
     "ksm \"yes\": expected true or false"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"hugepages\": 1}",
     "hugepages 1"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"no_reboot\": null}",
     "no_reboot null"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": {}}",
     "disks {}: expected a list"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": [\"/x\"]}",
     "disks[0] \"/x\": expected an object"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": [{}]}",
     "disks[0]: missing 'path'"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": [{\"path\": \"x\"}]}",
     "disks[0].path 'x': expected an absolute path"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": [{\"path\": \"/x\","
     " \"cache\": \"fast\"}]}", "disks[0].cache 'fast'"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": [{\"path\": \"/x\","
     " \"serial\": \"123456789012345678901\"}]}", "disks[0].serial"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": [{\"path\": \"/x\","
     " \"readonly\": \"no\"}]}", "disks[0].readonly \"no\""},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": [{\"path\": \"/x\","
     " \"size\": 1}]}", "disks[0].size: unknown field"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": [{\"path\": \"/x\"},"
     " {\"path\": \"/x\"}]}", "disks[1].path '/x': the same file as disks[0]"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"disks\": [{\"path\": \"/x\","
     " \"cache\": \"writethrough\"}]}", "disks[0].cache 'writethrough': expected writeback or none"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"vde\"}]}",
     "net[0].type 'vde': expected user or tap"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"tap\"}]}",
     "net[0]: type tap needs ifname"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"tap\","
     " \"ifname\": \"tap-with-a-long-name\"}]}", "net[0].ifname 'tap-with-a-long-name'"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"user\","
     " \"ifname\": \"tap0\"}]}", "net[0].ifname 'tap0': only type tap"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"tap\","
     " \"ifname\": \"tap0\", \"hostfwd\": [\"tcp::2222-:22\"]}]}",
     "net[0].hostfwd: only type user"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"user\","
     " \"hostfwd\": \"tcp::2222-:22\"}]}", "net[0].hostfwd \"tcp::2222-:22\": expected a list"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"user\","
     " \"hostfwd\": [22]}]}", "net[0].hostfwd[0] 22: expected a string"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"user\","
     " \"hostfwd\": [\"tcp::2222-:22\", \"tcp::0-:80\"]}]}", "net[0].hostfwd[1] 'tcp::0-:80'"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"user\","
     " \"hostfwd\": [\"sctp::1-:2\"]}]}", "net[0].hostfwd[0] 'sctp::1-:2'"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"user\","
     " \"hostfwd\": [\"tcp:localhost:1-:2\"]}]}", "net[0].hostfwd[0] 'tcp:localhost:1-:2'"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{}]}",
     "net[0].type '': expected user or tap"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"user\","
     " \"mac\": \"01:00:00:00:00:01\"}]}", "net[0].mac '01:00:00:00:00:01'"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"user\","
     " \"mac\": \"52:54:00:12:34\"}]}", "net[0].mac"},
    {"{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\", \"net\": [{\"type\": \"user\","
     " \"vlan\": 1}]}", "net[0].vlan: unknown field"},
};

static void test_bad_document(gconstpointer data)
{
    guint i = GPOINTER_TO_UINT(data);
    g_autoptr(GError) error = NULL;
    g_autoptr(VmdDefinition) def = parse(bad_docs[i].json, &error);
    g_assert_null(def);
    g_assert_nonnull(error);
    if (!strstr(error->message, bad_docs[i].expect))
        g_error("document %u: error '%s' lacks '%s'", i, error->message, bad_docs[i].expect);
    g_assert_null(strchr(error->message, '\n'));
    g_assert_true(error->domain == VMD_ERROR);
}

static void test_future_schema(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VmdDefinition) def =
        parse("{\"schema\": 2, \"name\": \"a\", \"firmware\": \"/f\", \"gpu\": true}", &error);
    g_assert_null(def);
    g_assert_error(error, VMD_ERROR, VMD_ERROR_SCHEMA);
    g_assert_nonnull(strstr(error->message, "schema 2: written by a newer vmdesk"));
}

static void test_name_mismatch(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VmdDefinition) def = vmd_definition_new_from_data(
        "{\"schema\": 1, \"name\": \"a\", \"firmware\": \"/f\"}", -1, "b", "b.json", &error);
    g_assert_null(def);
    g_assert_nonnull(strstr(error->message, "b.json: name 'a' does not match the file name"));
}

/* A pretend history: schema 1 had "ram_mib", schema 2 renamed "vcpus" to "cpus". */
static gboolean migrate_1_to_2(JsonObject *doc, GError **error)
{
    (void)error;
    if (json_object_has_member(doc, "ram_mib")) {
        g_autofree char *mem = g_strdup_printf("%" G_GINT64_FORMAT "M",
                                               json_object_get_int_member(doc, "ram_mib"));
        json_object_remove_member(doc, "ram_mib");
        json_object_set_string_member(doc, "memory", mem);
    }
    return TRUE;
}

static gboolean migrate_2_to_3(JsonObject *doc, GError **error)
{
    if (json_object_has_member(doc, "vcpus")) {
        gint64 n = json_object_get_int_member(doc, "vcpus");
        if (n < 1) {
            g_set_error(error, VMD_ERROR, VMD_ERROR_INVALID, "vcpus %" G_GINT64_FORMAT, n);
            return FALSE;
        }
        json_object_remove_member(doc, "vcpus");
        json_object_set_int_member(doc, "cpus", n);
    }
    return TRUE;
}

static void test_migration(void)
{
    static const VmdMigration table[] = {{2, migrate_2_to_3}, {1, migrate_1_to_2}};
    g_autoptr(GError) error = NULL;

    g_autoptr(VmdDefinition) def = vmd_definition_parse_with(
        "{\"schema\": 1, \"name\": \"old\", \"firmware\": \"/f\", \"ram_mib\": 256, "
        "\"vcpus\": 3}", -1, NULL, NULL, table, G_N_ELEMENTS(table), 3, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(vmd_definition_get_memory(def), ==, "256M");
    g_assert_cmpuint(vmd_definition_get_cpus(def), ==, 3);
    g_assert_cmpuint(vmd_definition_get_loaded_schema(def), ==, 1);
    /* Written back in the current schema. */
    g_autofree char *text = vmd_definition_to_data(def, NULL);
    g_assert_nonnull(strstr(text, "\"schema\" : 1"));

    /* A step of the chain that is missing, and a step that fails. */
    g_autoptr(VmdDefinition) gap = vmd_definition_parse_with(
        "{\"schema\": 1, \"name\": \"old\", \"firmware\": \"/f\"}", -1, NULL, NULL, table + 0,
        1, 3, &error);
    g_assert_null(gap);
    g_assert_error(error, VMD_ERROR, VMD_ERROR_SCHEMA);
    g_clear_error(&error);
    g_autoptr(VmdDefinition) bad = vmd_definition_parse_with(
        "{\"schema\": 2, \"name\": \"old\", \"firmware\": \"/f\", \"vcpus\": 0}", -1, NULL,
        "old.json", table, G_N_ELEMENTS(table), 3, &error);
    g_assert_null(bad);
    g_assert_nonnull(strstr(error->message, "old.json: vcpus 0"));
}

static void test_names(void)
{
    const char *good[] = {"a", "web server", "Débian 12 ☃", "x.y-z_1",
                          "1234567890123456789012345678901234567890123456789012345678901234"};
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *why = vmd_name_check(good[i]);
        g_assert_null(why);
    }
    /* 22 three-byte characters are 66 bytes: the limit is bytes, not characters. */
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 22; i++)
        g_string_append(s, "☃");
    g_autofree char *why = vmd_name_check(s->str);
    g_string_free(s, TRUE);
    g_assert_nonnull(strstr(why, "66 bytes long"));
    g_autofree char *nul = vmd_name_check(NULL);
    g_assert_nonnull(strstr(nul, "empty"));
    g_autofree char *utf = vmd_name_check("a\xff");
    g_assert_nonnull(strstr(utf, "UTF-8"));
    g_autofree char *ctl = vmd_name_check("a\x1b[31m");
    g_assert_nonnull(strstr(ctl, "unprintable"));
}

static void test_sizes(void)
{
    static const struct {
        const char *text;
        gboolean ok;
        guint64 bytes;
    } cases[] = {
        {"512M", TRUE, 512ull << 20}, {"2G", TRUE, 2ull << 30}, {"64", TRUE, 64ull << 20},
        {"1048576K", TRUE, 1ull << 30}, {"1t", TRUE, 1ull << 40}, {"512MiB", TRUE, 512ull << 20},
        {"512MB", TRUE, 512ull << 20}, {"", FALSE, 0}, {"-1M", FALSE, 0}, {" 1M", FALSE, 0},
        {"1X", FALSE, 0}, {"1MX", FALSE, 0}, {"99999999999999999999", FALSE, 0},
        {"17592186044416T", FALSE, 0},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        guint64 b = 0;
        g_assert_cmpint(vmd_parse_size(cases[i].text, &b), ==, cases[i].ok);
        if (cases[i].ok)
            g_assert_cmpuint(b, ==, cases[i].bytes);
    }
}

static void test_set_field(void)
{
    g_autoptr(VmdDefinition) def = vmd_definition_new("e");
    g_autoptr(GError) error = NULL;

    g_assert_true(vmd_definition_set_field(def, "kernel", "/boot/vmlinuz", &error));
    g_assert_true(vmd_definition_set_field(def, "memory", "1G", &error));
    g_assert_true(vmd_definition_set_field(def, "cpus", "2", &error));
    g_assert_true(vmd_definition_set_field(def, "ksm", "on", &error));
    g_assert_true(vmd_definition_set_field(def, "disks", "[{\"path\": \"/a.raw\"}]", &error));
    g_assert_true(vmd_definition_validate(def, &error));
    g_assert_cmpuint(vmd_definition_get_disks(def)->len, ==, 1);
    g_assert_true(vmd_definition_set_field(def, "disks", "", &error));
    g_assert_cmpuint(vmd_definition_get_disks(def)->len, ==, 0);
    g_assert_true(vmd_definition_get_ksm(def));
    g_assert_true(vmd_definition_set_field(def, "initrd", "rel/initrd", &error));
    g_assert_true(g_path_is_absolute(vmd_definition_get_initrd(def)));
    g_assert_true(vmd_definition_set_field(def, "initrd", "", &error));
    g_assert_null(vmd_definition_get_initrd(def));

    g_assert_false(vmd_definition_set_field(def, "cpus", "0", &error));
    g_assert_nonnull(strstr(error->message, "cpus '0'"));
    g_clear_error(&error);
    g_assert_false(vmd_definition_set_field(def, "ksm", "maybe", &error));
    g_assert_nonnull(strstr(error->message, "ksm 'maybe'"));
    g_clear_error(&error);
    g_assert_false(vmd_definition_set_field(def, "name", "x", &error));
    g_assert_nonnull(strstr(error->message, "use rename"));
    g_clear_error(&error);
    g_assert_false(vmd_definition_set_field(def, "colour", "red", &error));
    g_assert_nonnull(strstr(error->message, "unknown field 'colour'"));
    g_clear_error(&error);
    g_assert_false(vmd_definition_set_field(def, "net", "[{", &error));
    g_assert_nonnull(strstr(error->message, "net: not valid JSON"));
}

static const char old_doc[] = "{\"schema\": 1, \"name\": \"w\", \"firmware\": \"/old\"}\n";

static void test_atomic_write(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "w.json", NULL);
    g_autoptr(GError) error = NULL;
    /* The new document is large, so a torn write would show as a truncated file. */
    g_autoptr(VmdDefinition) big = vmd_definition_new("w");
    vmd_definition_set_firmware(big, "/new");
    GString *cmd = g_string_new(NULL);
    for (int i = 0; i < 20000; i++)
        g_string_append(cmd, "x");
    for (int i = 0; i < 40; i++) {
        VmdDisk *d = g_new0(VmdDisk, 1);
        d->path = g_strdup_printf("/disks/%d/%s", i, cmd->str);
        g_ptr_array_add(vmd_definition_get_disks(big), d);
    }
    g_string_free(cmd, TRUE);
    gsize new_len;
    g_autofree char *new_doc = vmd_definition_to_data(big, &new_len);

    GRand *rand = g_rand_new_with_seed(42);
    guint olds = 0, news = 0;
    for (int round = 0; round < 40; round++) {
        g_assert_true(vmd_write_file_atomic(path, old_doc, strlen(old_doc), 0644, TRUE, &error));
        pid_t pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
            for (;;) {
                vmd_write_file_atomic(path, new_doc, new_len, 0644, TRUE, NULL);
                vmd_write_file_atomic(path, old_doc, strlen(old_doc), 0644, TRUE, NULL);
            }
        }
        g_usleep(g_rand_int_range(rand, 0, 20000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        g_autofree char *data = NULL;
        gsize len;
        g_assert_true(g_file_get_contents(path, &data, &len, NULL));
        if (len == strlen(old_doc) && !memcmp(data, old_doc, len))
            olds++;
        else if (len == new_len && !memcmp(data, new_doc, len))
            news++;
        else
            g_error("round %d: torn file of %zu bytes", round, len);
        g_autoptr(VmdDefinition) def = vmd_definition_load(path, &error);
        g_assert_no_error(error);
        g_assert_nonnull(def);
    }
    g_rand_free(rand);
    g_test_message("%u old, %u new", olds, news);

    /* Without replace, an existing file is kept. */
    g_assert_false(vmd_write_file_atomic(path, "x", 1, 0644, FALSE, &error));
    g_assert_error(error, VMD_ERROR, VMD_ERROR_EXISTS);
}

static void test_save_refuses_invalid(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "keep.json", NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents(path, old_doc, -1, NULL));
    g_autoptr(VmdDefinition) def = vmd_definition_new("keep");
    vmd_definition_set_memory(def, "1K");
    vmd_definition_set_firmware(def, "/f");
    g_assert_false(vmd_definition_save(def, path, TRUE, &error));
    g_autofree char *data = NULL;
    g_assert_true(g_file_get_contents(path, &data, NULL, NULL));
    g_assert_cmpstr(data, ==, old_doc);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("vmd-definition-XXXXXX", NULL);
    g_test_add_func("/definition/round-trip", test_round_trip);
    for (guint i = 0; i < G_N_ELEMENTS(bad_docs); i++) {
        g_autofree char *name = g_strdup_printf("/definition/invalid/%02u", i);
        g_test_add_data_func(name, GUINT_TO_POINTER(i), test_bad_document);
    }
    g_test_add_func("/definition/future-schema", test_future_schema);
    g_test_add_func("/definition/name-mismatch", test_name_mismatch);
    g_test_add_func("/definition/migration", test_migration);
    g_test_add_func("/definition/names", test_names);
    g_test_add_func("/definition/sizes", test_sizes);
    g_test_add_func("/definition/set-field", test_set_field);
    g_test_add_func("/definition/atomic-write", test_atomic_write);
    g_test_add_func("/definition/save-refuses-invalid", test_save_refuses_invalid);
    int status = g_test_run();
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        status = 1;
    return status;
}
