/* test_conf.c - the broker's configuration loader: defaults, errors with file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <check.h>

#include "app_priv.h"
#include "common/mem.h"
#include "common/str.h"
#include "tsupport/fixture.h"

Suite *broker_conf_suite(void);

static struct broker_conf *
load(const char *text, struct pt_err *err)
{
    return broker_conf_load_string(text, "t.conf", err);
}

START_TEST(test_an_empty_broker_section_gets_safe_defaults)
{
    struct pt_err err = {0};
    struct broker_conf *c = load("[broker]\nstate_dir = /tmp/x\n", &err);

    ck_assert_msg(c, "%s", err.msg);
    ck_assert_str_eq(c->listen, "127.0.0.1:8443");
    ck_assert_str_eq(c->tls_cert, "/tmp/x/broker.crt");
    ck_assert_str_eq(c->tls_key, "/tmp/x/broker.key");
    ck_assert_str_eq(c->ticket_key_file, "/tmp/x/ticket.key");
    ck_assert_str_eq(c->db, "/tmp/x/portico.db");
    ck_assert_str_eq(c->event_loop, "libev");
    ck_assert_int_eq(c->max_body_bytes, 65536);
    ck_assert_int_eq(c->log_level, LOG_INFO);
    broker_conf_free(c);
}
END_TEST

START_TEST(test_keys_are_parsed_with_their_types)
{
    struct pt_err err = {0};
    struct broker_conf *c = load("[broker]\nlisten = 0.0.0.0:9443\nlog_level = debug\n"
                                 "max_body_bytes = 2048\nticket_ttl = 20s\nhttp2 = no\n"
                                 "event_loop = poll\n",
                                 &err);

    ck_assert_msg(c, "%s", err.msg);
    ck_assert_str_eq(c->listen, "0.0.0.0:9443");
    ck_assert_int_eq(c->log_level, LOG_DEBUG);
    ck_assert_int_eq(c->max_body_bytes, 2048);
    ck_assert_int_eq(c->ticket_ttl_ms, 20000);
    ck_assert(!c->h2);
    ck_assert_str_eq(c->event_loop, "poll");
    broker_conf_free(c);
}
END_TEST

static const struct {
    const char *text;
    const char *needle;
} bad_cases[] = {
    {"[broker]\nfrobnicate = 1\n", "t.conf:2:"},
    {"[brokers]\n", "unknown section [brokers]"},
    {"[broker]\nmax_body_bytes = 10\n", "t.conf:2:"},
    {"[broker]\nlisten = nowhere\n", "listen"},
    {"[broker]\ntls_cert = /a.crt\n", "tls_key"},
    {"[broker]\nevent_loop = epoll\n", "libev or poll"},
    {"[pool]\nwarm = 1\n", "needs a name"},
    {"[pool \"eng\"]\nwarmth = 1\n", "t.conf:2:"},
    {"[ldap]\nurl = ldap://x\n", "t.conf:2:"},
    {"[ldap \"x\"]\n", "takes no name"},
    {"[broker]\ngateway_secret_file = /nonexistent/secret\n", "gateway_secret_file"},
};

START_TEST(test_bad_configurations_are_refused_with_a_clear_message)
{
    struct pt_err err = {0};
    struct broker_conf *c = load(bad_cases[_i].text, &err);

    /* module sections are checked by their modules, as `portico-broker -n` does */
    if (c) {
        int rc = broker_app_check(c, &err);

        broker_conf_free(c);
        ck_assert_msg(rc < 0, "case %d accepted", _i);
    }
    ck_assert_msg(strstr(err.msg, bad_cases[_i].needle), "case %d: '%s' lacks '%s'", _i, err.msg,
                  bad_cases[_i].needle);
}
END_TEST

START_TEST(test_other_modules_sections_are_kept_with_their_positions)
{
    struct pt_err err = {0};
    struct broker_conf *c = load("[broker]\n[ldap]\nuri = ldap://127.0.0.1:389\n"
                                 "[pool \"eng\"]\nwarm = 2\n",
                                 &err);

    ck_assert_msg(c, "%s", err.msg);
    ck_assert_uint_eq(c->nitems, 4); /* two headers, two keys */
    ck_assert_str_eq(c->items[1].key, "uri");
    ck_assert_int_eq(c->items[1].line, 3);
    ck_assert_str_eq(c->items[3].name, "eng");
    ck_assert_str_eq(c->items[3].value, "2");
    broker_conf_free(c);
}
END_TEST

/* The shipped example must stay valid: load it as `-n` would, with the secret file it
 * names swapped for a real one. */
START_TEST(test_the_example_configuration_is_valid)
{
    char path[1024], secret[700], *text, *line;
    struct pt_err err = {0};
    struct pt_buf b = PT_BUF_INIT;
    struct broker_conf *c;
    FILE *f;
    long n;

    snprintf(path, sizeof(path), "%s/etc/portico-broker.conf.example", tf_source_dir());
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = pt_xcalloc(1, (size_t)n + 1);
    ck_assert_int_eq(fread(text, 1, (size_t)n, f), n);
    fclose(f);
    snprintf(secret, sizeof(secret), "%s/gw.secret", tf_tmpdir());
    f = fopen(secret, "w");
    fputs("0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (pt_str_has_prefix(line, "gateway_secret_file"))
            pt_buf_appendf(&b, "gateway_secret_file = %s\n", secret);
        else
            pt_buf_appendf(&b, "%s\n", line);
    }
    c = broker_conf_load_string(b.data, path, &err);
    ck_assert_msg(c, "%s", err.msg);
    ck_assert_msg(broker_app_check(c, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(c->gateway_audience, "gateway");
    broker_conf_free(c);
    pt_buf_fini(&b);
    free(text);
}
END_TEST

START_TEST(test_metrics_from_admits_listed_addresses_only)
{
    struct pt_err err = {0};
    struct broker_conf *c = load("[broker]\nstate_dir = /tmp/x\n", &err);

    ck_assert_msg(c, "%s", err.msg);
    ck_assert(broker_conf_metrics_allowed(c, "127.0.0.1")); /* default: loopback */
    ck_assert(broker_conf_metrics_allowed(c, "::1"));
    ck_assert(broker_conf_metrics_allowed(c, "::ffff:127.0.0.1"));
    ck_assert(!broker_conf_metrics_allowed(c, "127.0.0.10"));
    ck_assert(!broker_conf_metrics_allowed(c, "127.0.0"));
    ck_assert(!broker_conf_metrics_allowed(c, ""));
    broker_conf_free(c);
    c = load("[broker]\nstate_dir = /tmp/x\nmetrics_from = 10.1.2.3,  192.0.2.9\n", &err);
    ck_assert_msg(c, "%s", err.msg);
    ck_assert(broker_conf_metrics_allowed(c, "192.0.2.9"));
    ck_assert(broker_conf_metrics_allowed(c, "10.1.2.3"));
    ck_assert(!broker_conf_metrics_allowed(c, "127.0.0.1"));
    broker_conf_free(c);
    c = load("[broker]\nstate_dir = /tmp/x\nmetrics_from = *\n", &err);
    ck_assert_msg(c, "%s", err.msg);
    ck_assert(broker_conf_metrics_allowed(c, "203.0.113.5"));
    broker_conf_free(c);
}
END_TEST

Suite *
broker_conf_suite(void)
{
    Suite *s = suite_create("broker_conf");
    TCase *tc = tcase_create("conf");

    tcase_add_test(tc, test_an_empty_broker_section_gets_safe_defaults);
    tcase_add_test(tc, test_keys_are_parsed_with_their_types);
    tcase_add_loop_test(tc, test_bad_configurations_are_refused_with_a_clear_message, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, test_other_modules_sections_are_kept_with_their_positions);
    tcase_add_test(tc, test_the_example_configuration_is_valid);
    tcase_add_test(tc, test_metrics_from_admits_listed_addresses_only);
    suite_add_tcase(s, tc);
    return s;
}
