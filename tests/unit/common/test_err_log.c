/* test_err_log.c - error objects and the log line format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

START_TEST(test_err_set_returns_minus_one_and_prefixes)
{
    struct pt_err err = {0};

    ck_assert_int_eq(pt_err_set(&err, PT_E_NOTFOUND, "pool '%s' not found", "eng"), -1);
    ck_assert(pt_err_is_set(&err));
    ck_assert_int_eq(pt_err_prefix(&err, "launch"), -1);
    ck_assert_str_eq(err.msg, "launch: pool 'eng' not found");
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_str_eq(pt_errc_str(err.code), "not_found");
    ck_assert_int_eq(pt_err_set(NULL, PT_E_IO, "ignored"), -1);
    pt_err_clear(&err);
    ck_assert(!pt_err_is_set(&err));
}
END_TEST

/* Capture stderr into a pipe, log one line with context, check the key=value shape. */
START_TEST(test_log_line_has_level_and_context)
{
    int fds[2], saved;
    char buf[1024] = {0};
    struct pt_log_ctx ctx;
    ssize_t n;

    ck_assert_int_eq(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    pt_log_init("test-prog", PT_LOG_STDERR, LOG_INFO);
    pt_log_ctx_set(&ctx, "req=%s", "abc123");
    pt_logc(&ctx, LOG_WARNING, "event=login user=%s", "alice");
    pt_debug("this is below the level");
    pt_log_lib("lws", LOG_NOTICE, "hello from lws\n");
    dup2(saved, STDERR_FILENO);
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    close(saved);
    ck_assert(n > 0);
    ck_assert_msg(strstr(buf, "test-prog[") && strstr(buf, "level=warning req=abc123 event=login "
                                                           "user=alice\n"),
                  "%s", buf);
    ck_assert(!strstr(buf, "below the level"));
    ck_assert(strstr(buf, "level=notice lib=lws hello from lws\n"));
}
END_TEST

START_TEST(test_log_value_quote)
{
    char out[64];

    ck_assert_str_eq(pt_log_value_quote("plain", out, sizeof(out)), "plain");
    ck_assert_str_eq(pt_log_value_quote("o brien=\"x\"", out, sizeof(out)),
                     "\"o brien=\\\"x\\\"\"");
    ck_assert_int_eq(pt_log_level_parse("debug"), LOG_DEBUG);
    ck_assert_int_eq(pt_log_level_parse("shout"), -1);
}
END_TEST

START_TEST(test_secret_helpers)
{
    char *s = pt_xstrdup("hunter2");
    char *a = pt_xasprintf("%s-%d", "x", 7);

    ck_assert_str_eq(a, "x-7");
    free(a);
    pt_free_secret(s);
    pt_free_secret(NULL);
    {
        PT_AUTOFREE char *t = pt_xstrndup("abcdef", 3);
        ck_assert_str_eq(t, "abc");
    }
}
END_TEST

Suite *common_err_log_suite(void);
Suite *
common_err_log_suite(void)
{
    Suite *s = suite_create("common_err_log");
    TCase *tc = tcase_create("err_log");

    tcase_add_test(tc, test_err_set_returns_minus_one_and_prefixes);
    tcase_add_test(tc, test_log_line_has_level_and_context);
    tcase_add_test(tc, test_log_value_quote);
    tcase_add_test(tc, test_secret_helpers);
    suite_add_tcase(s, tc);
    return s;
}
