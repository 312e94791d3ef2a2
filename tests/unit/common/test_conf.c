/* test_conf.c - the INI parser and typed key tables. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/str.h"

struct sample {
    char *listen;
    int warm;
    bool tls;
    int64_t timeout_ms;
    int level;
    int sections;
    char last_name[64];
};

static const struct pt_conf_key sample_keys[] = {
    {"listen", PT_CONF_STRING, offsetof(struct sample, listen), 0, 0},
    {"warm", PT_CONF_INT, offsetof(struct sample, warm), 0, 100},
    {"tls", PT_CONF_BOOL, offsetof(struct sample, tls), 0, 0},
    {"timeout", PT_CONF_DURATION_MS, offsetof(struct sample, timeout_ms), 100, 600000},
    {"log_level", PT_CONF_LOGLEVEL, offsetof(struct sample, level), 0, 0},
    PT_CONF_KEY_END,
};

static int
sample_set(void *opaque, const struct pt_conf_entry *e, struct pt_err *err)
{
    struct sample *s = opaque;

    if (strcmp(e->section, "broker") != 0 && strcmp(e->section, "pool") != 0)
        return pt_conf_errorf(err, e, "unknown section [%s]", e->section);
    if (!e->key) {
        s->sections++;
        if (e->name)
            pt_strlcpy(s->last_name, e->name, sizeof(s->last_name));
        return 0;
    }
    return pt_conf_key_apply(sample_keys, s, e, err);
}

START_TEST(test_conf_parses_sections_keys_and_comments)
{
    struct sample s = {0};
    struct pt_err err = {0};
    const char *text = "# comment\n"
                       "[broker]\n"
                       "listen = 127.0.0.1:8443   # trailing\n"
                       "tls=yes\n"
                       "timeout = 30s\n"
                       "log_level = debug\n"
                       "\n"
                       "[pool \"eng team\"]\n"
                       "warm = 3\n";

    ck_assert_int_eq(pt_conf_parse_string(text, "t.conf", sample_set, &s, &err), 0);
    ck_assert_str_eq(s.listen, "127.0.0.1:8443");
    ck_assert(s.tls);
    ck_assert_int_eq(s.timeout_ms, 30000);
    ck_assert_int_eq(s.level, LOG_DEBUG);
    ck_assert_int_eq(s.warm, 3);
    ck_assert_int_eq(s.sections, 2);
    ck_assert_str_eq(s.last_name, "eng team");
    pt_conf_key_free(sample_keys, &s);
    ck_assert_ptr_null(s.listen);
}
END_TEST

static const struct {
    const char *text;
    const char *expect;
} bad_cases[] = {
    {"[broker]\nbogus = 1\n", "t.conf:2: unknown key 'bogus' in section [broker]"},
    {"[nosuch]\n", "t.conf:1: unknown section [nosuch]"},
    {"warm = 1\n", "t.conf:1: entry before any [section]"},
    {"[broker]\nwarm = 101\n", "t.conf:2: warm must be a whole number from 0 to 100"},
    {"[broker]\nwarm = 3x\n", "t.conf:2: warm must be a whole number"},
    {"[broker]\ntls = maybe\n", "t.conf:2: tls must be yes or no"},
    {"[broker]\ntimeout = 5\n", "t.conf:2:"}, /* 5 s is fine: see below */
    {"[broker]\ntimeout = 10ms\n", "t.conf:2: timeout must be a duration"},
    {"[broker\n", "t.conf:1: section header must end with ']'"},
    {"[pool eng]\n", "t.conf:1: section name must be quoted"},
    {"[broker]\njust words\n", "t.conf:2: expected 'key = value'"},
    {"[broker]\nlisten = \"open\n", "t.conf:2: unterminated quoted value"},
    {"[broker]\n= 3\n", "t.conf:2: missing key before '='"},
    {"[broker]\nlog_level = loud\n", "t.conf:2: log_level must be error"},
};

START_TEST(test_conf_rejects_bad_input_with_file_and_line)
{
    struct sample s = {0};
    struct pt_err err = {0};
    int rc = pt_conf_parse_string(bad_cases[_i].text, "t.conf", sample_set, &s, &err);

    if (strstr(bad_cases[_i].text, "timeout = 5\n")) {
        ck_assert_int_eq(rc, 0); /* a bare number is seconds */
        ck_assert_int_eq(s.timeout_ms, 5000);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(err.code, PT_E_INVALID);
        ck_assert_msg(strstr(err.msg, bad_cases[_i].expect), "got '%s', want '%s'", err.msg,
                      bad_cases[_i].expect);
    }
    pt_conf_key_free(sample_keys, &s);
}
END_TEST

START_TEST(test_conf_file_missing_and_too_long_lines)
{
    struct sample s = {0};
    struct pt_err err = {0};
    char *big = malloc(PT_CONF_MAX_LINE + 32);

    ck_assert_int_eq(pt_conf_parse_file("/nonexistent/portico.conf", sample_set, &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert(strstr(err.msg, "/nonexistent/portico.conf: cannot open"));

    strcpy(big, "[broker]\nlisten = ");
    memset(big + strlen(big), 'a', PT_CONF_MAX_LINE);
    big[18 + PT_CONF_MAX_LINE] = '\0';
    ck_assert_int_eq(pt_conf_parse_string(big, "t.conf", sample_set, &s, &err), -1);
    ck_assert(strstr(err.msg, "t.conf:2: line longer than"));
    free(big);
    pt_conf_key_free(sample_keys, &s);
}
END_TEST

Suite *common_conf_suite(void);
Suite *
common_conf_suite(void)
{
    Suite *s = suite_create("common_conf");
    TCase *tc = tcase_create("conf");

    tcase_add_test(tc, test_conf_parses_sections_keys_and_comments);
    tcase_add_loop_test(tc, test_conf_rejects_bad_input_with_file_and_line, 0,
                        sizeof(bad_cases) / sizeof(bad_cases[0]));
    tcase_add_test(tc, test_conf_file_missing_and_too_long_lines);
    suite_add_tcase(s, tc);
    return s;
}
