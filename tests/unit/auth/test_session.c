/*
 * test_session.c - sessions: id format and randomness, lookup, idle and absolute expiry,
 * logout, CSRF tokens, the table limit, and keys that are hashes of ids.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "auth/session.h"
#include "common/str.h"

#define T0 1795000000000LL

static struct auth_session
rec(const char *user)
{
    struct auth_session s;

    memset(&s, 0, sizeof(s));
    pt_strlcpy(s.user, user, sizeof(s.user));
    pt_strlcpy(s.display, "Alice Liddell", sizeof(s.display));
    pt_strlcpy(s.pools, "desktops\nstaff-pool\n", sizeof(s.pools));
    return s;
}

static struct auth_sessions *
sessions(int64_t idle, int64_t absolute, size_t max)
{
    struct auth_session_conf conf = {idle, absolute};
    struct auth_session_store *st = auth_session_store_memory_new(max);
    struct auth_sessions *ss = auth_sessions_new(&conf, &st);

    ck_assert_ptr_null(st); /* ownership moved */
    return ss;
}

START_TEST(test_session_ids_are_256_bit_hex_and_differ)
{
    struct auth_sessions *ss = sessions(0, 0, 16);
    struct auth_session s = rec("alice");
    char a[65], b[65], ca[65], cb[65];

    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, a, ca, NULL), 0);
    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, b, cb, NULL), 0);
    ck_assert_int_eq(strlen(a), 64);
    ck_assert_int_eq(strspn(a, "0123456789abcdef"), 64);
    ck_assert_str_ne(a, b);
    ck_assert_str_ne(ca, cb);
    ck_assert_str_ne(a, ca);
    ck_assert_int_eq(auth_sessions_count(ss), 2);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(test_lookup_returns_the_session_and_refreshes_idle_time)
{
    struct auth_sessions *ss = sessions(1000, 10000, 16);
    struct auth_session s = rec("alice"), out;
    char id[65], csrf[65];

    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, id, csrf, NULL), 0);
    for (int i = 1; i <= 5; i++) /* every 900 ms: idle never reached */
        ck_assert_int_eq(auth_session_lookup(ss, id, T0 + i * 900, &out, NULL), 0);
    ck_assert_str_eq(out.user, "alice");
    ck_assert(auth_session_has_pool(&out, "staff-pool"));
    ck_assert(!auth_session_has_pool(&out, "staff"));
    ck_assert_int_eq(out.created_ms, T0);
    ck_assert_int_eq(out.last_seen_ms, T0 + 4500);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(test_idle_and_absolute_expiry_end_a_session)
{
    struct auth_sessions *ss = sessions(1000, 3000, 16);
    struct auth_session s = rec("alice"), out;
    struct pt_err err = {0};
    char a[65], b[65], csrf[65];

    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, a, csrf, NULL), 0);
    ck_assert_int_eq(auth_session_lookup(ss, a, T0 + 1001, &out, &err), -1);
    ck_assert_int_eq(err.code, PT_E_AUTH);
    ck_assert_int_eq(auth_sessions_count(ss), 0); /* an expired session is dropped */

    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, b, csrf, NULL), 0);
    for (int i = 1; i <= 3; i++)
        ck_assert_int_eq(auth_session_lookup(ss, b, T0 + i * 900, &out, NULL), 0);
    ck_assert_int_eq(auth_session_lookup(ss, b, T0 + 3001, &out, &err), -1); /* absolute */
    auth_sessions_free(ss);
}
END_TEST

START_TEST(test_logout_ends_the_session_once)
{
    struct auth_sessions *ss = sessions(0, 0, 16);
    struct auth_session s = rec("alice"), out;
    struct pt_err err = {0};
    char id[65], csrf[65];

    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, id, csrf, NULL), 0);
    ck_assert_int_eq(auth_session_logout(ss, id, &err), 0);
    ck_assert_int_eq(auth_session_lookup(ss, id, T0, &out, &err), -1);
    ck_assert_int_eq(auth_session_logout(ss, id, &err), -1);
    ck_assert_int_eq(err.code, PT_E_AUTH);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(test_malformed_or_unknown_ids_are_not_signed_in)
{
    static const char *bad[] = {"",
                                "abc",
                                "../../etc/passwd",
                                "0000000000000000000000000000000000000000000000000000000000000000",
                                "00000000000000000000000000000000000000000000000000000000000000000",
                                "ABCDEF0000000000000000000000000000000000000000000000000000000000",
                                "g000000000000000000000000000000000000000000000000000000000000000"};
    struct auth_sessions *ss = sessions(0, 0, 16);
    struct auth_session out;
    struct pt_err err = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(auth_session_lookup(ss, bad[i], T0, &out, &err), -1);
        ck_assert_int_eq(err.code, PT_E_AUTH);
    }
    ck_assert_int_eq(auth_session_lookup(ss, NULL, T0, &out, &err), -1);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(test_csrf_token_belongs_to_its_session_only)
{
    struct auth_sessions *ss = sessions(0, 0, 16);
    struct auth_session s = rec("alice");
    char a[65], b[65], ca[65], cb[65], again[65];

    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, a, ca, NULL), 0);
    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, b, cb, NULL), 0);
    ck_assert(auth_session_csrf_check(a, ca));
    ck_assert(!auth_session_csrf_check(a, cb));
    ck_assert(!auth_session_csrf_check(b, ca));
    ck_assert_int_eq(auth_session_csrf(a, again), 0);
    ck_assert_str_eq(again, ca); /* can be handed out again without storage */
    again[63] = again[63] == '0' ? '1' : '0';
    ck_assert(!auth_session_csrf_check(a, again));
    again[63] = '\0';
    ck_assert(!auth_session_csrf_check(a, again));
    ck_assert(!auth_session_csrf_check(a, NULL));
    ck_assert(!auth_session_csrf_check("short", ca));
    auth_sessions_free(ss);
}
END_TEST

START_TEST(test_full_table_is_refused_after_sweeping_expired_sessions)
{
    struct auth_sessions *ss = sessions(1000, 10000, 3);
    struct auth_session s = rec("alice");
    struct pt_err err = {0};
    char id[65], csrf[65];

    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, id, csrf, NULL), 0);
    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0 + 10, id, csrf, &err), -1);
    ck_assert_int_eq(err.code, PT_E_LIMIT);
    /* once the three are idle-expired, creating sweeps them and succeeds */
    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0 + 2000, id, csrf, &err), 0);
    ck_assert_int_eq(auth_sessions_count(ss), 1);
    ck_assert_int_eq(auth_sessions_sweep(ss, T0 + 5000), 1);
    auth_sessions_free(ss);
}
END_TEST

/* A store that wraps the memory store and counts calls: the sessions code must go through
 * the vtable only, so another store (the shared database) can replace it. */
struct counting_store {
    struct auth_session_store base;
    struct auth_session_store *inner;
    int puts, gets, touches, dels;
};

static struct counting_store *counting;

static int
c_put(struct auth_session_store *st, const unsigned char *key, const struct auth_session *s,
      struct pt_err *err)
{
    struct counting_store *c = (struct counting_store *)st;
    c->puts++;
    return c->inner->ops->put(c->inner, key, s, err);
}

static int
c_get(struct auth_session_store *st, const unsigned char *key, struct auth_session *out,
      struct pt_err *err)
{
    struct counting_store *c = (struct counting_store *)st;
    c->gets++;
    return c->inner->ops->get(c->inner, key, out, err);
}

static int
c_touch(struct auth_session_store *st, const unsigned char *key, int64_t t)
{
    struct counting_store *c = (struct counting_store *)st;
    c->touches++;
    return c->inner->ops->touch(c->inner, key, t);
}

static int
c_del(struct auth_session_store *st, const unsigned char *key)
{
    struct counting_store *c = (struct counting_store *)st;
    c->dels++;
    return c->inner->ops->del(c->inner, key);
}

static size_t
c_sweep(struct auth_session_store *st, bool (*expired)(const struct auth_session *, void *),
        void *opaque)
{
    struct counting_store *c = (struct counting_store *)st;
    return c->inner->ops->sweep(c->inner, expired, opaque);
}

static size_t
c_count(struct auth_session_store *st)
{
    struct counting_store *c = (struct counting_store *)st;
    return c->inner->ops->count(c->inner);
}

static void
c_free(struct auth_session_store *st)
{
    struct counting_store *c = (struct counting_store *)st;
    c->inner->ops->free(c->inner);
    counting = NULL;
    free(c);
}

static const struct auth_session_store_ops counting_ops = {c_put,   c_get,   c_touch, c_del,
                                                           c_sweep, c_count, c_free};

START_TEST(test_sessions_use_only_the_store_interface)
{
    struct counting_store *cs = calloc(1, sizeof(*cs));
    struct auth_session_store *st = &cs->base;
    struct auth_sessions *ss;
    struct auth_session s = rec("alice"), out;
    char id[65], csrf[65];

    cs->base.ops = &counting_ops;
    cs->inner = auth_session_store_memory_new(8);
    counting = cs;
    ss = auth_sessions_new(NULL, &st);
    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, id, csrf, NULL), 0);
    ck_assert_int_eq(auth_session_lookup(ss, id, T0 + 1, &out, NULL), 0);
    ck_assert_int_eq(auth_session_logout(ss, id, NULL), 0);
    ck_assert_int_eq(cs->puts, 1);
    ck_assert_int_eq(cs->gets, 1);
    ck_assert_int_eq(cs->touches, 1);
    ck_assert_int_eq(cs->dels, 1);
    auth_sessions_free(ss);
    ck_assert_ptr_null(counting); /* the sessions object freed the store it owned */
}
END_TEST

Suite *auth_session_suite(void);

Suite *
auth_session_suite(void)
{
    Suite *s = suite_create("auth_session");
    TCase *tc = tcase_create("session");

    tcase_add_test(tc, test_session_ids_are_256_bit_hex_and_differ);
    tcase_add_test(tc, test_lookup_returns_the_session_and_refreshes_idle_time);
    tcase_add_test(tc, test_idle_and_absolute_expiry_end_a_session);
    tcase_add_test(tc, test_logout_ends_the_session_once);
    tcase_add_test(tc, test_malformed_or_unknown_ids_are_not_signed_in);
    tcase_add_test(tc, test_csrf_token_belongs_to_its_session_only);
    tcase_add_test(tc, test_full_table_is_refused_after_sweeping_expired_sessions);
    tcase_add_test(tc, test_sessions_use_only_the_store_interface);
    suite_add_tcase(s, tc);
    return s;
}
