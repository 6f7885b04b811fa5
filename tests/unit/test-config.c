/* tests/unit/test-config.c -- config loading, schema errors, module options. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <libxml/parser.h>

#include "base/config.h"
#include "base/options.h"

static char tmpdir[64];
static char cfgpath[128];


static int
setup(void **state)
{
    strcpy(tmpdir, "/tmp/ember-test-config-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(cfgpath, sizeof(cfgpath), "%s/ember.xml", tmpdir);
    return 0;
}


static int
teardown(void **state)
{
    unlink(cfgpath);
    return rmdir(tmpdir);
}


static void
write_config(const char *text)
{
    FILE *f = fopen(cfgpath, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}


static char *
path_in(const char *rel)
{
    static char buf[4][256];
    static int i;
    char *p = buf[i++ % 4];

    snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, rel);
    return p;
}


static const char good_config[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"          /* 1 */
    "<ember>\n"                                             /* 2 */
    "  <!-- comments are fine -->\n"                        /* 3 */
    "  <log level=\"debug\" file=\"logs/ember.log\"/>\n"    /* 4 */
    "  <paths data=\"var\" control-socket=\"/run/e.sock\"/>\n" /* 5 */
    "  <plugins dir=\"mods\"/>\n"                           /* 6 */
    "  <plugins dir=\"/opt/ember/modules\"/>\n"             /* 7 */
    "  <limits max-stanza-size=\"65536\" idle-timeout=\"10m\"\n" /* 8 */
    "          max-connections-per-ip=\"0\"/>\n"            /* 9 */
    "  <admin jid=\"admin@example.org\"/>\n"                /* 10 */
    "  <listen type=\"c2s\" address=\"127.0.0.1\" port=\"15222\"\n" /* 11 */
    "          require-tls=\"false\"/>\n"                   /* 12 */
    "  <listen type=\"c2s-tls\" address=\"::0\" port=\"15223\"/>\n" /* 13 */
    "  <listen type=\"c2s\"/>\n"                            /* 14 */
    "  <module name=\"storage_sqlite\" path=\"ember.db\"/>\n" /* 15 */
    "  <host name=\"Example.ORG\">\n"                        /* 16 */
    "    <tls cert=\"tls/ex.pem\" key=\"/etc/ex.key\"/>\n"  /* 17 */
    "    <module name=\"disco\"/>\n"                        /* 18 */
    "    <module name=\"ping\" interval=\"5m\"/>\n"         /* 19 */
    "  </host>\n"                                           /* 20 */
    "  <tls cert=\"c.pem\" key=\"k.pem\"/>\n"               /* 21 */
    "  <host name=\"localhost\"/>\n"                        /* 22 */
    "</ember>\n";


static void
test_good(void **state)
{
    ember_config_t *c = NULL;
    ember_listener_conf_t *l;
    ember_host_conf_t *h;
    char err[512] = "";

    write_config(good_config);
    assert_int_equal(ember__config_load(cfgpath, &c, err, sizeof(err)), 0);
    assert_non_null(c);
    assert_string_equal(c->dir, tmpdir);
    assert_string_equal(c->path, cfgpath);
    assert_int_equal(c->log_level, EMBER_LOG_DEBUG);
    assert_string_equal(c->log_file, path_in("logs/ember.log"));
    assert_string_equal(c->data_dir, path_in("var"));
    assert_string_equal(c->control_socket, "/run/e.sock");
    assert_string_equal(c->plugin_dirs[0], path_in("mods"));
    assert_string_equal(c->plugin_dirs[1], "/opt/ember/modules");
    assert_null(c->plugin_dirs[2]);
    assert_string_equal(c->cert_file, path_in("c.pem"));
    assert_string_equal(c->key_file, path_in("k.pem"));
    assert_string_equal(c->admins[0], "admin@example.org");
    assert_null(c->admins[1]);

    assert_int_equal(c->limits.max_stanza_size, 65536);
    assert_int_equal(c->limits.max_depth, 64);
    assert_int_equal(c->limits.max_attributes, 64);
    assert_int_equal(c->limits.idle_timeout, 600);
    assert_int_equal(c->limits.auth_timeout, 60);
    assert_int_equal(c->limits.max_connections_per_ip, 0);

    l = c->listeners;
    assert_int_equal(l->type, EMBER_LISTEN_C2S);
    assert_string_equal(l->address, "127.0.0.1");
    assert_int_equal(l->port, 15222);
    assert_int_equal(l->require_tls, 0);
    /* libxml2 numbers an element by the line its start tag ends on. */
    assert_int_equal(l->line, 12);
    l = l->next;
    assert_int_equal(l->type, EMBER_LISTEN_C2S_TLS);
    assert_string_equal(l->address, "::");
    assert_int_equal(l->port, 15223);
    assert_int_equal(l->require_tls, 1);
    l = l->next;
    assert_string_equal(l->address, "0.0.0.0");
    assert_int_equal(l->port, 5222);
    assert_int_equal(l->require_tls, 1);
    assert_null(l->next);

    assert_string_equal(c->global_modules->name, "storage_sqlite");
    assert_int_equal(c->global_modules->line, 15);
    assert_non_null(c->global_modules->node);
    assert_null(c->global_modules->next);

    h = c->hosts;
    assert_string_equal(h->name, "example.org");
    assert_int_equal(h->line, 16);
    assert_string_equal(h->cert_file, path_in("tls/ex.pem"));
    assert_string_equal(h->key_file, "/etc/ex.key");
    assert_string_equal(h->modules->name, "disco");
    assert_string_equal(h->modules->next->name, "ping");
    assert_int_equal(h->modules->next->line, 19);
    assert_null(h->modules->next->next);
    h = h->next;
    assert_string_equal(h->name, "localhost");
    assert_null(h->cert_file);
    assert_null(h->modules);
    assert_null(h->next);

    assert_ptr_equal(ember__config_host(c, "EXAMPLE.org"), c->hosts);
    assert_ptr_equal(ember__config_host(c, "localhost"), c->hosts->next);
    assert_null(ember__config_host(c, "example.net"));
    ember__config_free(c);
}


static void
test_defaults(void **state)
{
    ember_config_t *c = NULL;
    char err[512] = "";

    write_config("<ember><host name=\"localhost\"/></ember>\n");
    assert_int_equal(ember__config_load(cfgpath, &c, err, sizeof(err)), 0);
    assert_int_equal(c->log_level, EMBER_LOG_INFO);
    assert_null(c->log_file);
    assert_string_equal(c->data_dir, path_in("data"));
    assert_string_equal(c->control_socket, path_in("data/emberd.sock"));
    assert_string_equal(c->cert_file, path_in("data/tls/cert.pem"));
    assert_string_equal(c->key_file, path_in("data/tls/key.pem"));
    assert_non_null(c->admins);
    assert_null(c->admins[0]);
    assert_non_null(c->plugin_dirs);
    assert_int_equal(c->limits.max_stanza_size, 262144);
    assert_int_equal(c->limits.max_connections_per_ip, 100);
    assert_null(c->listeners);
    assert_null(c->global_modules);
    ember__config_free(c);
}


/* Each config must fail with exactly "FILE:" + expect. */
static const struct {
    const char *xml;
    const char *expect;
} bad_configs[] = {
    { "<ember>\n<host name=\"a\"/>\n\n<hots name=\"x\"/>\n</ember>",
      "4: element 'hots' not expected" },
    { "<ember>\n<host name=\"a\">\n<tls cert=\"c\" key=\"k\"/>\n"
      "<modul name=\"x\"/>\n</host></ember>",
      "4: element 'modul' not expected" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"c2s\" port=\"70000\"/>"
      "</ember>", "3: listen: port 70000 out of range 1..65535" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"c2s\" port=\"x1\"/>"
      "</ember>", "3: listen: port 'x1' is not a number" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"c2s\" porr=\"5222\"/>"
      "</ember>", "3: listen: unknown attribute 'porr'" },
    { "<ember>\n<host name=\"a\"/>\n\n<listen port=\"5222\"/></ember>",
      "4: listen: missing attribute 'type'" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"xmpp\"/></ember>",
      "3: listen: unknown type 'xmpp' (c2s, c2s-tls, http, https, admin, "
      "admin-tls, s2s, s2s-tls, component)" },
    { "<ember>\n<host name=\"a\"/>\n<s2s dialback=\"maybe\"/></ember>",
      "3: s2s: dialback 'maybe' is not a boolean (true, false)" },
    { "<ember>\n<host name=\"a\"/>\n<s2s connect-timeout=\"0\"/></ember>",
      "3: s2s: connect-timeout 0 out of range 1..3600" },
    { "<ember>\n<host name=\"a\"/>\n<s2s><block domain=\"a b\"/></s2s>"
      "</ember>",
      "3: block: invalid domain 'a b'" },
    { "<ember>\n<host name=\"a\"/>\n<s2s/>\n<s2s/></ember>",
      "4: element 's2s' repeated (first at line 3)" },
    { "<ember>\n<host name=\"a\">\n<tls cert=\"c\"/>\n</host></ember>",
      "3: tls: missing attribute 'key'" },
    { "<ember>\n<host name=\"a\"/>\n<host name=\"B\"/>\n<host name=\"A\"/>"
      "</ember>", "4: host: 'a' already defined at line 2" },
    { "<ember>\n<host name=\"\"/>\n</ember>",
      "2: host: invalid host name ''" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"c2s\"/>\n"
      "<listen type=\"c2s\" address=\"0.0.0.0\" port=\"5222\"/></ember>",
      "4: listen: 0.0.0.0:5222 already used at line 3" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"c2s-tls\" address=\"::1\""
      "/>\n<listen type=\"c2s\" address=\"0::1\" port=\"5223\"/></ember>",
      "4: listen: [::1]:5223 already used at line 3" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"c2s\" "
      "require-tls=\"false\"/></ember>",
      "3: listen: require-tls=\"false\" only allowed on a loopback address "
      "(127.x.x.x, ::1), not 0.0.0.0" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"c2s\" address=\"::1\" "
      "require-tls=\"maybe\"/></ember>",
      "3: listen: require-tls 'maybe' is not a boolean (true, false)" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"c2s\" address=\"x\"/>"
      "</ember>", "3: listen: address 'x' is not an IPv4 or IPv6 address" },
    { "<ember>\n<host name=\"a\"/>\n<log level=\"verbose\"/></ember>",
      "3: log: unknown level 'verbose' (error, warn, info, debug)" },
    { "<ember>\n<log/>\n<host name=\"a\"/>\n<log/></ember>",
      "4: element 'log' repeated (first at line 2)" },
    { "<ember>\n<log>\nloud</log><host name=\"a\"/></ember>",
      "2: log: text content not allowed" },
    { "<ember>\n<log/>\n</ember>",
      "1: ember: no <host> element; at least one virtual host is required" },
    { "<config>\n</config>", "1: expected element 'ember', got 'config'" },
    { "<ember>\n<host name=\"a\">\n<module name=\"ping\"/>\n"
      "<module name=\"ping\"/></host></ember>",
      "4: module: 'ping' already enabled in host a at line 3" },
    { "<ember>\n<host name=\"a\"/>\n<admin jid=\"a@b/res\"/></ember>",
      "3: admin: 'a@b/res' is not a valid bare JID" },
    { "<ember>\n<component domain=\"A\" secret=\"s\"/>\n"
      "<host name=\"a\"/></ember>",
      "2: component: 'a' is a host of this server (line 3); a component "
      "needs a domain of its own" },
    { "<ember>\n<host name=\"a\"/>\n<component domain=\"c.a\" secret=\"s\"/>"
      "\n<component domain=\"C.a\" secret=\"t\"/></ember>",
      "4: component: 'c.a' already defined at line 3" },
    { "<ember>\n<host name=\"a\"/>\n<component domain=\"c.a\"/></ember>",
      "3: component: missing attribute 'secret'" },
    { "<ember>\n<host name=\"a\"/>\n<listen type=\"component\" "
      "address=\"::\"/></ember>",
      "3: listen: a component listener must be on a loopback address "
      "(127.x.x.x, ::1), not ::, since its streams are not encrypted; set "
      "public=\"true\" to accept that" },
    { "<ember>\n<host name=\"a\"/>\n<limits max-depth=\"2\"/></ember>",
      "3: limits: max-depth 2 out of range 4..1024" },
    { "<ember>\n<host name=\"a\"/>\n<limits idle-timeout=\"soon\"/></ember>",
      "3: limits: idle-timeout 'soon' is not a duration" },
    { "<?xml version=\"1.0\"?>\n<!DOCTYPE ember [\n<!ENTITY x \"y\">\n]>\n"
      "<ember><host name=\"&x;\"/></ember>", "2: DOCTYPE not allowed" },
    { "<ember>\n<host name=\"a\">\n</ember>",
      "3: Opening and ending tag mismatch: host line 2 and ember" },
};


static void
test_bad(void **state)
{
    ember_config_t *c;
    char err[512], want[1024];
    size_t i;

    for (i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
        write_config(bad_configs[i].xml);
        c = (ember_config_t *) 1;
        err[0] = '\0';
        assert_int_equal(ember__config_load(cfgpath, &c, err, sizeof(err)),
                         EMBER_EINVAL);
        assert_null(c);
        snprintf(want, sizeof(want), "%s:%s", cfgpath, bad_configs[i].expect);
        if (strcmp(err, want) != 0)
            fail_msg("config %zu:\n got  %s\n want %s", i, err, want);
    }
}


static void
test_missing_file(void **state)
{
    ember_config_t *c;
    char err[512];
    char path[256];

    snprintf(path, sizeof(path), "%s/nope.xml", tmpdir);
    assert_int_equal(ember__config_load(path, &c, err, sizeof(err)),
                     EMBER_ENOENT);
    assert_null(c);
    assert_non_null(strstr(err, "nope.xml:0: No such file"));
}


typedef struct {
    int count, flag, delay;
    char *label, *db;
} opts_conf_t;

static const ember_option_t test_opts[] = {
    EMBER_OPT("count", EMBER_OPT_INT, opts_conf_t, count, "10", 1, 100, ""),
    EMBER_OPT("flag", EMBER_OPT_BOOL, opts_conf_t, flag, "false", 0, 0, ""),
    EMBER_OPT("delay", EMBER_OPT_DURATION, opts_conf_t, delay, "5m", 1,
              86400, ""),
    EMBER_OPT("label", EMBER_OPT_STRING, opts_conf_t, label, "hi", 0, 8, ""),
    EMBER_OPT("db", EMBER_OPT_PATH, opts_conf_t, db, "x.db", 0, 0, ""),
    EMBER_OPT_END
};


/*
 * Load a config whose data dir is /srv/ember-data with <module name="m"
 * ATTRS/> on line 3, then apply test_opts to it.
 */
static int
apply(const char *attrs, opts_conf_t *conf, char *err, size_t errlen)
{
    ember_config_t *c;
    char xml[1024];
    int rc;

    snprintf(xml, sizeof(xml), "<ember>\n<paths data=\"/srv/ember-data\"/>\n"
             "<module name=\"m\" %s/>\n<host name=\"a\"/></ember>\n", attrs);
    write_config(xml);
    memset(conf, 0, sizeof(*conf));
    assert_int_equal(ember__config_load(cfgpath, &c, err, errlen), 0);
    rc = ember__options_apply(test_opts, conf, c->global_modules->node,
                              c->path, err, errlen);
    ember__config_free(c);
    return rc;
}


static void
test_options_good(void **state)
{
    opts_conf_t conf;
    char err[512] = "";

    assert_int_equal(apply("", &conf, err, sizeof(err)), 0);
    assert_int_equal(conf.count, 10);
    assert_int_equal(conf.flag, 0);
    assert_int_equal(conf.delay, 300);
    assert_string_equal(conf.label, "hi");
    assert_string_equal(conf.db, "/srv/ember-data/x.db");
    ember__options_free(test_opts, &conf);
    assert_null(conf.label);
    assert_null(conf.db);

    assert_int_equal(apply("count=\"100\" flag=\"yes\" delay=\"2h\" "
                           "label=\"12345678\" db=\"/abs/y.db\"",
                           &conf, err, sizeof(err)), 0);
    assert_int_equal(conf.count, 100);
    assert_int_equal(conf.flag, 1);
    assert_int_equal(conf.delay, 7200);
    assert_string_equal(conf.label, "12345678");
    assert_string_equal(conf.db, "/abs/y.db");
    ember__options_free(test_opts, &conf);

    assert_int_equal(apply("count=\"1\" flag=\"1\" delay=\"1d\" db=\"s/z\"",
                           &conf, err, sizeof(err)), 0);
    assert_int_equal(conf.count, 1);
    assert_int_equal(conf.flag, 1);
    assert_int_equal(conf.delay, 86400);
    assert_string_equal(conf.db, "/srv/ember-data/s/z");
    ember__options_free(test_opts, &conf);

    assert_int_equal(apply("flag=\"False\" delay=\"90\"", &conf, err,
                           sizeof(err)), 0);
    assert_int_equal(conf.flag, 0);
    assert_int_equal(conf.delay, 90);
    ember__options_free(test_opts, &conf);
    assert_int_equal(apply("flag=\"no\" delay=\"90s\"", &conf, err,
                           sizeof(err)), 0);
    assert_int_equal(conf.flag, 0);
    assert_int_equal(conf.delay, 90);
    ember__options_free(test_opts, &conf);

    /* No node: defaults only. */
    memset(&conf, 0, sizeof(conf));
    assert_int_equal(ember__options_apply(test_opts, &conf, NULL, "f", err,
                                          sizeof(err)), 0);
    assert_int_equal(conf.delay, 300);
    ember__options_free(test_opts, &conf);
}


static const struct {
    const char *attrs;
    const char *expect;
} bad_options[] = {
    { "count=\"0\"", "module m: option count: 0 out of range 1..100" },
    { "count=\"101\"", "module m: option count: 101 out of range 1..100" },
    { "count=\"1e3\"", "module m: option count: '1e3' is not an integer" },
    { "count=\"\"", "module m: option count: '' is not an integer" },
    { "flag=\"on\"", "module m: option flag: 'on' is not a boolean "
      "(true, false, yes, no, 1, 0)" },
    { "delay=\"0\"", "module m: option delay: 0 out of range 1..86400" },
    { "delay=\"2d\"", "module m: option delay: 2d out of range 1..86400" },
    { "delay=\"5x\"", "module m: option delay: '5x' is not a duration "
      "(90, 90s, 15m, 2h, 1d)" },
    { "delay=\"-5\"", "module m: option delay: '-5' is not a duration "
      "(90, 90s, 15m, 2h, 1d)" },
    { "delay=\"m\"", "module m: option delay: 'm' is not a duration "
      "(90, 90s, 15m, 2h, 1d)" },
    { "label=\"123456789\"",
      "module m: option label: longer than 8 characters" },
    { "db=\"\"", "module m: option db: empty path" },
    { "colour=\"red\"", "module m: option colour: unknown option; valid "
      "options: count, flag, delay, label, db" },
};


static void
test_options_bad(void **state)
{
    static const ember_option_t required[] = {
        EMBER_OPT("key", EMBER_OPT_STRING, opts_conf_t, label, NULL, 0, 0,
                  ""),
        EMBER_OPT_END
    };
    opts_conf_t conf;
    char err[512], want[1024];
    xmlDocPtr doc;
    size_t i;

    for (i = 0; i < sizeof(bad_options) / sizeof(bad_options[0]); i++) {
        assert_int_equal(apply(bad_options[i].attrs, &conf, err,
                               sizeof(err)), EMBER_EINVAL);
        snprintf(want, sizeof(want), "%s:3: %s", cfgpath,
                 bad_options[i].expect);
        if (strcmp(err, want) != 0)
            fail_msg("options %zu:\n got  %s\n want %s", i, err, want);
        /* A failed apply frees what it stored. */
        assert_null(conf.label);
        assert_null(conf.db);
    }

    doc = xmlReadMemory("<m>\n<module name=\"k\"/></m>", 26, "x", NULL, 0);
    assert_non_null(doc);
    memset(&conf, 0, sizeof(conf));
    assert_int_equal(ember__options_apply(required, &conf,
                                          xmlDocGetRootElement(doc)->last,
                                          "e.xml", err, sizeof(err)),
                     EMBER_EINVAL);
    assert_string_equal(err, "e.xml:2: module k: option key: required, "
                        "no default");
    assert_int_equal(ember__options_apply(NULL, &conf,
                                          xmlDocGetRootElement(doc)->last,
                                          "e.xml", err, sizeof(err)), 0);
    xmlFreeDoc(doc);
}


static void
test_options_none(void **state)
{
    opts_conf_t conf;
    ember_config_t *c;
    char err[512];

    write_config("<ember>\n<host name=\"a\">\n<module name=\"disco\" x=\"1\"/>"
                 "</host></ember>");
    assert_int_equal(ember__config_load(cfgpath, &c, err, sizeof(err)), 0);
    assert_int_equal(ember__options_apply(NULL, &conf, c->hosts->modules->node,
                                          c->path, err, sizeof(err)),
                     EMBER_EINVAL);
    ember__config_free(c);
    assert_non_null(strstr(err, ":3: module disco: option x: unknown "
                           "option; this module takes no options"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_none, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
