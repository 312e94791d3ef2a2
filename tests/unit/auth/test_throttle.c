/*
 * test_throttle.c - brute-force throttling: locks per user and per address, the message
 * with the minutes left, audit events, case-insensitive users, success resets, bounds.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "auth/throttle.h"

#define T0  1795000000000LL
#define MIN 60000LL

START_TEST(test_five_failures_lock_the_user_for_five_minutes)
{
    struct auth_throttle *t = auth_throttle_new(NULL);
    struct auth_audit_event ev;
    struct pt_err err = {0};

    for (int i = 1; i <= 4; i++) {
        ck_assert_int_eq(auth_throttle_check(t, "alice", "192.0.2.1", T0, &ev, &err), 0);
        auth_throttle_failure(t, "alice", "192.0.2.1", T0 + i, &ev);
        ck_assert_int_eq(ev.kind, AUTH_AUDIT_NONE);
        ck_assert_int_eq(ev.failures, i);
    }
    auth_throttle_failure(t, "alice", "192.0.2.1", T0 + 5, &ev);
    ck_assert_int_eq(ev.kind, AUTH_AUDIT_USER_LOCKED);
    ck_assert_str_eq(auth_audit_kind_str(ev.kind), "user_locked");
    ck_assert_int_eq(ev.until_ms, T0 + 5 + 5 * MIN);
    ck_assert_str_eq(ev.user, "alice");
    ck_assert_str_eq(ev.addr, "192.0.2.1");

    /* refused from another address too, with the minutes left */
    ck_assert_int_eq(auth_throttle_check(t, "alice", "198.51.100.7", T0 + MIN, &ev, &err), -1);
    ck_assert_int_eq(err.code, PT_E_LIMIT);
    ck_assert_str_eq(err.msg, "Too many failed sign-ins for this account. Try again in 5 minutes.");
    ck_assert_int_eq(ev.kind, AUTH_AUDIT_REFUSED_LOCKED);
    ck_assert_int_eq(auth_throttle_check(t, "alice", "x", T0 + 4 * MIN + 30000, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "Too many failed sign-ins for this account. Try again in 1 minute.");
    /* other users are not affected; the lock ends on time */
    ck_assert_int_eq(auth_throttle_check(t, "bob", "192.0.2.1", T0 + MIN, NULL, &err), 0);
    ck_assert_int_eq(auth_throttle_check(t, "alice", "192.0.2.1", T0 + 5 + 5 * MIN, NULL, &err), 0);
    auth_throttle_free(t);
}
END_TEST

START_TEST(test_user_names_differing_in_case_share_a_count)
{
    struct auth_throttle_conf c = {3, 100, 0, 0, 0};
    struct auth_throttle *t = auth_throttle_new(&c);
    struct pt_err err = {0};

    auth_throttle_failure(t, "Alice", "a1", T0, NULL);
    auth_throttle_failure(t, "ALICE", "a2", T0, NULL);
    auth_throttle_failure(t, "alice", "a3", T0, NULL);
    ck_assert_int_eq(auth_throttle_check(t, "aLiCe", "a4", T0 + 1, NULL, &err), -1);
    auth_throttle_free(t);
}
END_TEST

START_TEST(test_an_address_guessing_many_users_is_locked)
{
    struct auth_throttle_conf c = {5, 10, 0, 2 * MIN, 0};
    struct auth_throttle *t = auth_throttle_new(&c);
    struct auth_audit_event ev;
    struct pt_err err = {0};
    char user[16];

    for (int i = 0; i < 10; i++) {
        snprintf(user, sizeof(user), "user%d", i);
        auth_throttle_failure(t, user, "203.0.113.9", T0 + i, &ev);
    }
    ck_assert_int_eq(ev.kind, AUTH_AUDIT_ADDR_LOCKED);
    ck_assert_int_eq(ev.failures, 10);
    ck_assert_int_eq(auth_throttle_check(t, "carol", "203.0.113.9", T0 + 20, &ev, &err), -1);
    ck_assert_str_eq(err.msg,
                     "Too many failed sign-ins from your address. Try again in 2 minutes.");
    ck_assert_int_eq(auth_throttle_check(t, "carol", "203.0.113.10", T0 + 20, &ev, &err), 0);
    auth_throttle_free(t);
}
END_TEST

START_TEST(test_success_resets_the_user_but_not_the_address)
{
    struct auth_throttle_conf c = {3, 4, 0, 0, 0};
    struct auth_throttle *t = auth_throttle_new(&c);
    struct auth_audit_event ev;
    struct pt_err err = {0};

    auth_throttle_failure(t, "alice", "a", T0, NULL);
    auth_throttle_failure(t, "alice", "a", T0, NULL);
    auth_throttle_success(t, "alice");
    auth_throttle_failure(t, "alice", "a", T0, &ev);
    ck_assert_int_eq(ev.kind, AUTH_AUDIT_NONE);
    ck_assert_int_eq(ev.failures, 1);
    auth_throttle_failure(t, "alice", "a", T0, &ev); /* 4th from the address */
    ck_assert_int_eq(ev.kind, AUTH_AUDIT_ADDR_LOCKED);
    ck_assert_int_eq(auth_throttle_check(t, "bob", "a", T0, NULL, &err), -1);
    auth_throttle_free(t);
}
END_TEST

START_TEST(test_failures_outside_the_window_do_not_add_up)
{
    struct auth_throttle_conf c = {3, 100, 10 * MIN, 0, 0};
    struct auth_throttle *t = auth_throttle_new(&c);
    struct pt_err err = {0};

    auth_throttle_failure(t, "alice", "a", T0, NULL);
    auth_throttle_failure(t, "alice", "a", T0 + MIN, NULL);
    auth_throttle_failure(t, "alice", "a", T0 + 11 * MIN, NULL); /* a new window */
    ck_assert_int_eq(auth_throttle_check(t, "alice", "a", T0 + 11 * MIN, NULL, &err), 0);
    auth_throttle_free(t);
}
END_TEST

START_TEST(test_table_stays_bounded_under_a_flood_of_names)
{
    struct auth_throttle_conf c = {5, 1000000, 0, 0, 64};
    struct auth_throttle *t = auth_throttle_new(&c);
    struct pt_err err = {0};
    char user[32];

    for (int i = 0; i < 5; i++)
        auth_throttle_failure(t, "victim", "v", T0 + 100000 + i, NULL);
    for (int i = 0; i < 5000; i++) {
        snprintf(user, sizeof(user), "junk%d", i);
        auth_throttle_failure(t, user, "flood", T0, NULL);
    }
    /* the flood evicted older junk, not the lock it never touched last */
    ck_assert_int_eq(auth_throttle_check(t, "victim", "v2", T0 + 100010, NULL, &err), -1);
    auth_throttle_free(t);
}
END_TEST

Suite *auth_throttle_suite(void);

Suite *
auth_throttle_suite(void)
{
    Suite *s = suite_create("auth_throttle");
    TCase *tc = tcase_create("throttle");

    tcase_add_test(tc, test_five_failures_lock_the_user_for_five_minutes);
    tcase_add_test(tc, test_user_names_differing_in_case_share_a_count);
    tcase_add_test(tc, test_an_address_guessing_many_users_is_locked);
    tcase_add_test(tc, test_success_resets_the_user_but_not_the_address);
    tcase_add_test(tc, test_failures_outside_the_window_do_not_add_up);
    tcase_add_test(tc, test_table_stays_bounded_under_a_flood_of_names);
    suite_add_tcase(s, tc);
    return s;
}
