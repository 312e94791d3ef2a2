/* test_str.c - buffers and bounded parsers. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/str.h"

START_TEST(test_buf_grows_and_stays_terminated)
{
    struct pt_buf b = PT_BUF_INIT;
    char *s;

    for (int i = 0; i < 1000; i++)
        pt_buf_appendf(&b, "%d,", i % 10);
    ck_assert_uint_eq(b.len, 2000);
    ck_assert_int_eq(b.data[b.len], '\0');
    pt_buf_reset(&b);
    pt_buf_appends(&b, "x");
    s = pt_buf_steal(&b);
    ck_assert_str_eq(s, "x");
    ck_assert_ptr_null(b.data);
    free(s);
    pt_buf_fini(&b);
}
END_TEST

START_TEST(test_parsers_reject_trailing_bytes_and_bounds)
{
    int64_t v;
    bool b;
    char host[64];
    int port;

    ck_assert_int_eq(pt_parse_i64("42", 0, 100, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(pt_parse_i64("42 ", 0, 100, &v), -1);
    ck_assert_int_eq(pt_parse_i64(" 42", 0, 100, &v), -1);
    ck_assert_int_eq(pt_parse_i64("", 0, 100, &v), -1);
    ck_assert_int_eq(pt_parse_i64("101", 0, 100, &v), -1);
    ck_assert_int_eq(pt_parse_i64("99999999999999999999999", 0, 100, &v), -1);
    ck_assert_int_eq(pt_parse_duration_ms("250ms", &v), 0);
    ck_assert_int_eq(v, 250);
    ck_assert_int_eq(pt_parse_duration_ms("2h", &v), 0);
    ck_assert_int_eq(v, 7200000);
    ck_assert_int_eq(pt_parse_duration_ms("2 h", &v), -1);
    /* found by fuzz_str: 2^40-bounded days overflowed int64 and wrapped to a small value */
    ck_assert_int_eq(pt_parse_duration_ms("200000000000d", &v), -1);
    ck_assert_int_eq(pt_parse_duration_ms("1099511627776s", &v), 0);
    ck_assert_int_eq(pt_parse_duration_ms("h", &v), -1);
    ck_assert_int_eq(pt_parse_bool("ON", &b), 0);
    ck_assert(b);
    ck_assert_int_eq(pt_parse_bool("nope", &b), -1);
    ck_assert_int_eq(pt_parse_hostport("127.0.0.1:8443", host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 8443);
    ck_assert_int_eq(pt_parse_hostport("[::1]:443", host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(pt_parse_hostport("::1:443", host, sizeof(host), &port), -1);
    ck_assert_int_eq(pt_parse_hostport("host:70000", host, sizeof(host), &port), -1);
    ck_assert_int_eq(pt_parse_hostport(":80", host, sizeof(host), &port), -1);
}
END_TEST

START_TEST(test_strlcpy_truncates_and_ct_compare)
{
    char small[4];

    ck_assert_uint_eq(pt_strlcpy(small, "abcdef", sizeof(small)), 6);
    ck_assert_str_eq(small, "abc");
    ck_assert(pt_mem_eq_ct("abcd", "abcd", 4));
    ck_assert(!pt_mem_eq_ct("abcd", "abce", 4));
    ck_assert(pt_time_mono_ms() > 0);
    ck_assert(pt_time_wall_ms() > 1700000000000LL);
}
END_TEST

Suite *common_str_suite(void);
Suite *
common_str_suite(void)
{
    Suite *s = suite_create("common_str");
    TCase *tc = tcase_create("str");

    tcase_add_test(tc, test_buf_grows_and_stays_terminated);
    tcase_add_test(tc, test_parsers_reject_trailing_bytes_and_bounds);
    tcase_add_test(tc, test_strlcpy_truncates_and_ct_compare);
    suite_add_tcase(s, tc);
    return s;
}
