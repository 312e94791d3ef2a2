/*
 * test_session_pw.c - the sign-in password kept for single sign-on: sealed in the session
 * record under a key only the session id gives, opened only with that id, never in clear
 * in the store, and gone with the session (sign-out, expiry).
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "auth/session.h"
#include "common/str.h"

#define T0 1795000000000LL
#define PW "correct horse battery staple"

static struct auth_session
rec(const char *user)
{
    struct auth_session s;

    memset(&s, 0, sizeof(s));
    pt_strlcpy(s.user, user, sizeof(s.user));
    pt_strlcpy(s.sso_user, user, sizeof(s.sso_user));
    pt_strlcpy(s.pools, "win-sso\n", sizeof(s.pools));
    return s;
}

/* Every record the store holds, as a dump of a shared store would show them. */
struct dump {
    struct auth_session recs[8];
    int n;
};

static bool
collect(const struct auth_session *s, void *opaque)
{
    struct dump *d = opaque;

    if (d->n < 8)
        d->recs[d->n++] = *s;
    return false; /* a walk: expire nothing */
}

static struct auth_sessions *
sessions(struct auth_session_store **peek, int64_t idle)
{
    struct auth_session_conf conf = {idle, 0};
    struct auth_session_store *st = auth_session_store_memory_new(8);

    *peek = st; /* borrowed: for walking the records only */
    return auth_sessions_new(&conf, &st);
}

START_TEST(test_kept_password_opens_only_with_its_session_id)
{
    struct auth_session_store *st;
    struct auth_sessions *ss = sessions(&st, 0);
    struct auth_session s = rec("alice"), out, other_out;
    char id[65], csrf[65], other[65], pw[AUTH_SESSION_PW_MAX + 1];
    struct pt_err err = {0};

    ck_assert_int_eq(auth_session_create(ss, &s, PW, T0, id, csrf, &err), 0);
    ck_assert_int_eq(auth_session_create(ss, &s, PW, T0, other, csrf, &err), 0);
    ck_assert_int_eq(auth_session_lookup(ss, id, T0 + 1, &out, &err), 0);
    ck_assert_int_eq(auth_session_lookup(ss, other, T0 + 1, &other_out, &err), 0);
    ck_assert_uint_eq(out.sealed_pw_len, 12 + strlen(PW) + 16);
    /* a fresh nonce per session: the same password seals differently */
    ck_assert(memcmp(out.sealed_pw, other_out.sealed_pw, out.sealed_pw_len) != 0);
    ck_assert_int_eq(auth_session_password(id, &out, pw, sizeof(pw), &err), 0);
    ck_assert_str_eq(pw, PW);
    /* another session's id does not open this record */
    ck_assert_int_eq(auth_session_password(other, &out, pw, sizeof(pw), &err), -1);
    ck_assert_int_eq(err.code, PT_E_AUTH);
    ck_assert_str_eq(pw, "");
    /* bound to its user: the same ciphertext in another user's record does not open */
    pt_strlcpy(out.user, "mallory", sizeof(out.user));
    ck_assert_int_eq(auth_session_password(id, &out, pw, sizeof(pw), &err), -1);
    ck_assert_int_eq(err.code, PT_E_AUTH);
    pt_strlcpy(out.user, "alice", sizeof(out.user));
    /* one flipped bit anywhere is refused */
    out.sealed_pw[20] ^= 1;
    ck_assert_int_eq(auth_session_password(id, &out, pw, sizeof(pw), &err), -1);
    out.sealed_pw[20] ^= 1;
    /* hostile lengths */
    out.sealed_pw_len = 27;
    ck_assert_int_eq(auth_session_password(id, &out, pw, sizeof(pw), &err), -1);
    out.sealed_pw_len = sizeof(out.sealed_pw) + 1;
    ck_assert_int_eq(auth_session_password(id, &out, pw, sizeof(pw), &err), -1);
    out.sealed_pw_len = 12 + strlen(PW) + 16;
    ck_assert_int_eq(auth_session_password(id, &out, pw, 8, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_int_eq(auth_session_password("zz", &out, pw, sizeof(pw), &err), -1);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(test_store_never_holds_the_password_or_its_key)
{
    struct auth_session_store *st;
    struct auth_sessions *ss = sessions(&st, 0);
    struct auth_session s = rec("alice");
    char id[65], csrf[65];
    struct dump d = {0};

    /* the caller's record may carry anything in sealed_pw: create() writes its own */
    memset(s.sealed_pw, 'x', sizeof(s.sealed_pw));
    s.sealed_pw_len = 5;
    ck_assert_int_eq(auth_session_create(ss, &s, PW, T0, id, csrf, NULL), 0);
    st->ops->sweep(st, collect, &d);
    ck_assert_int_eq(d.n, 1);
    ck_assert_uint_eq(d.recs[0].sealed_pw_len, 12 + strlen(PW) + 16);
    ck_assert_ptr_null(memmem(&d.recs[0], sizeof(d.recs[0]), PW, strlen(PW)));
    ck_assert_ptr_null(memmem(&d.recs[0], sizeof(d.recs[0]), "horse", 5));
    ck_assert_ptr_null(memmem(&d.recs[0], sizeof(d.recs[0]), id, 64));    /* nor the cookie */
    ck_assert_ptr_null(memmem(&d.recs[0], sizeof(d.recs[0]), "xxxx", 4)); /* caller's bytes */
    auth_sessions_free(ss);
}
END_TEST

START_TEST(test_no_password_kept_unless_given_and_bounded)
{
    struct auth_session_store *st;
    struct auth_sessions *ss = sessions(&st, 0);
    struct auth_session s = rec("bob"), out;
    char id[65], csrf[65], pw[AUTH_SESSION_PW_MAX + 1], big[AUTH_SESSION_PW_MAX + 2];
    struct pt_err err = {0};

    ck_assert_int_eq(auth_session_create(ss, &s, NULL, T0, id, csrf, NULL), 0);
    ck_assert_int_eq(auth_session_lookup(ss, id, T0, &out, NULL), 0);
    ck_assert_uint_eq(out.sealed_pw_len, 0);
    ck_assert_int_eq(auth_session_password(id, &out, pw, sizeof(pw), &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    /* exactly the maximum is kept; one byte more is refused, and no session is made */
    memset(big, 'p', AUTH_SESSION_PW_MAX);
    big[AUTH_SESSION_PW_MAX] = '\0';
    ck_assert_int_eq(auth_session_create(ss, &s, big, T0, id, csrf, &err), 0);
    ck_assert_int_eq(auth_session_lookup(ss, id, T0, &out, NULL), 0);
    ck_assert_int_eq(auth_session_password(id, &out, pw, sizeof(pw), &err), 0);
    ck_assert_str_eq(pw, big);
    big[AUTH_SESSION_PW_MAX] = 'p';
    big[AUTH_SESSION_PW_MAX + 1] = '\0';
    ck_assert_int_eq(auth_session_create(ss, &s, big, T0, id, csrf, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_uint_eq(auth_sessions_count(ss), 2);
    auth_sessions_free(ss);
}
END_TEST

START_TEST(test_password_goes_with_signout_and_expiry)
{
    struct auth_session_store *st;
    struct auth_sessions *ss = sessions(&st, 1000);
    struct auth_session s = rec("alice"), out;
    char a[65], b[65], csrf[65];
    struct dump d = {0};

    ck_assert_int_eq(auth_session_create(ss, &s, PW, T0, a, csrf, NULL), 0);
    ck_assert_int_eq(auth_session_create(ss, &s, PW, T0, b, csrf, NULL), 0);
    ck_assert_int_eq(auth_session_logout(ss, a, NULL), 0);
    ck_assert_int_eq(auth_session_lookup(ss, a, T0 + 1, &out, NULL), -1);
    st->ops->sweep(st, collect, &d);
    ck_assert_int_eq(d.n, 1); /* only b's record, with its own sealed password */
    ck_assert_int_eq(auth_sessions_sweep(ss, T0 + 1001), 1);
    d.n = 0;
    st->ops->sweep(st, collect, &d);
    ck_assert_int_eq(d.n, 0);
    ck_assert_int_eq(auth_session_lookup(ss, b, T0 + 1002, &out, NULL), -1);
    auth_sessions_free(ss);
}
END_TEST

Suite *auth_session_pw_suite(void);
Suite *
auth_session_pw_suite(void)
{
    Suite *s = suite_create("auth_session_pw");
    TCase *tc = tcase_create("sso_password");

    tcase_add_test(tc, test_kept_password_opens_only_with_its_session_id);
    tcase_add_test(tc, test_store_never_holds_the_password_or_its_key);
    tcase_add_test(tc, test_no_password_kept_unless_given_and_bounded);
    tcase_add_test(tc, test_password_goes_with_signout_and_expiry);
    suite_add_tcase(s, tc);
    return s;
}
