/*
 * test_ticket_v2.c - the v2 payload: the per-pool session policy (clipboard direction and
 * limit, audio) round trips signed, v1 tickets are still accepted with no pool policy,
 * and hostile policy bytes are refused.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "auth/ticket.h"
#include "auth_test_util.h"
#include "common/mem.h"
#include "ticket_priv.h"

#define NOW 1795000000000LL

static const unsigned char priv[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                       12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                       23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static struct auth_signer *signer;
static struct auth_verifier *verifier;
static unsigned char kid[AUTH_TICKET_KID_LEN];

static void
setup(void)
{
    unsigned char pub[32];
    size_t n = sizeof(pub);
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, 32);

    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(EVP_PKEY_get_raw_public_key(k, pub, &n), 1);
    ck_assert_int_eq(auth_key_kid(k, kid), 0);
    EVP_PKEY_free(k);
    signer = auth_signer_from_raw(priv);
    verifier = auth_verifier_from_raw(pub);
    ck_assert_ptr_nonnull(signer);
    ck_assert_ptr_nonnull(verifier);
}

static void
teardown(void)
{
    auth_signer_free(signer);
    auth_verifier_free(verifier);
}

static void
policy_fill(struct auth_ticket_claims *c)
{
    claims_fill(c, NOW);
    c->proto = AUTH_PROTO_RDP;
    c->port = 3389;
    c->clip_dir = AUTH_CLIP_NONE;
    c->clip_max = 4096;
    c->audio = false;
}

START_TEST(test_new_claims_default_to_no_pool_restriction)
{
    struct auth_ticket_claims c;

    ck_assert_int_eq(auth_ticket_claims_init(&c, NOW, 0, NULL), 0);
    ck_assert_int_eq(c.clip_dir, AUTH_CLIP_BOTH);
    ck_assert_uint_eq(c.clip_max, 0);
    ck_assert(c.audio);
}
END_TEST

START_TEST(test_v2_ticket_round_trips_the_pool_policy)
{
    static const enum auth_clip_dir dirs[] = {AUTH_CLIP_BOTH, AUTH_CLIP_TO_DESKTOP,
                                              AUTH_CLIP_FROM_DESKTOP, AUTH_CLIP_NONE};

    for (size_t i = 0; i < 4; i++) {
        struct auth_ticket_claims c, out;
        unsigned char payload[AUTH_TICKET_PAYLOAD_MAX];
        struct pt_err err = {0};
        char *t;
        long n;

        policy_fill(&c);
        c.clip_dir = dirs[i];
        c.clip_max = i == 3 ? AUTH_CLIP_MAX_LIMIT : (uint32_t)(1000 * i);
        c.audio = i % 2;
        t = auth_signer_sign(signer, &c, &err);
        ck_assert_msg(t, "%s", err.msg);
        ck_assert_int_eq(auth_verifier_check(verifier, t, strlen(t), "gw-eu-1", NOW, &out),
                         AUTH_TICKET_OK);
        ck_assert_int_eq(out.version, 2);
        ck_assert_int_eq(out.clip_dir, dirs[i]);
        ck_assert_uint_eq(out.clip_max, c.clip_max);
        ck_assert_int_eq(out.audio, c.audio);
        ck_assert_int_eq(out.proto, AUTH_PROTO_RDP);
        /* the signer writes v2 and the payload's first byte says so */
        n = b64url_decode(t + 4, (size_t)(strrchr(t, '.') - t - 4), payload, sizeof(payload));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(payload[0], AUTH_TICKET_PAYLOAD_V2);
        free(t);
    }
}
END_TEST

START_TEST(test_v1_ticket_is_accepted_without_pool_policy)
{
    struct auth_ticket_claims c, out;
    char *t;

    policy_fill(&c); /* a v1 broker had no policy: the fields are not written */
    t = auth_signer_sign_version(signer, &c, AUTH_TICKET_PAYLOAD_V1, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(auth_verifier_check(verifier, t, strlen(t), "gw-eu-1", NOW, &out),
                     AUTH_TICKET_OK);
    ck_assert_int_eq(out.version, 1);
    ck_assert_int_eq(out.clip_dir, AUTH_CLIP_BOTH);
    ck_assert_uint_eq(out.clip_max, 0);
    ck_assert(out.audio);
    ck_assert_str_eq(out.user, c.user);
    ck_assert_int_eq(out.port, 3389);
    free(t);
}
END_TEST

/* Encode @c as v2, let @mutate change the bytes, and decode. */
static enum auth_ticket_reject
decode_mutated(const struct auth_ticket_claims *c, long (*mutate)(unsigned char *, long))
{
    unsigned char p[AUTH_TICKET_PAYLOAD_MAX + 16];
    struct auth_ticket_claims out;
    enum auth_ticket_reject r;
    long n = auth_ticket_payload_encode(c, kid, AUTH_TICKET_PAYLOAD_V2, p, NULL);

    ck_assert_int_gt(n, 6);
    n = mutate(p, n);
    r = auth_ticket_payload_decode(p, (size_t)n, &out);
    if (r != AUTH_TICKET_OK)
        ck_assert_str_eq(out.user, ""); /* nothing of a refused payload is kept */
    return r;
}

static long
bad_direction(unsigned char *p, long n)
{
    p[n - 6] = 4;
    return n;
}
static long
huge_limit(unsigned char *p, long n)
{
    p[n - 5] = 0xff; /* clip_max 0xff......: over AUTH_CLIP_MAX_LIMIT */
    return n;
}
static long
unknown_flag(unsigned char *p, long n)
{
    p[n - 1] |= 0x80;
    return n;
}
static long
policy_cut(unsigned char *p, long n)
{
    (void)p;
    return n - 6; /* says v2, carries only the v1 fields */
}
static long
policy_cut_short(unsigned char *p, long n)
{
    (void)p;
    return n - 1;
}
static long
v1_with_policy(unsigned char *p, long n)
{
    p[0] = AUTH_TICKET_PAYLOAD_V1; /* v1 followed by 6 bytes it does not have */
    return n;
}
static long
trailing_byte(unsigned char *p, long n)
{
    p[n] = 0;
    return n + 1;
}
static long
version_three(unsigned char *p, long n)
{
    p[0] = 3;
    return n;
}
static long
unchanged(unsigned char *p, long n)
{
    (void)p;
    return n;
}

START_TEST(test_hostile_policy_bytes_are_malformed)
{
    struct auth_ticket_claims c;

    policy_fill(&c);
    ck_assert_int_eq(decode_mutated(&c, unchanged), AUTH_TICKET_OK);
    ck_assert_int_eq(decode_mutated(&c, bad_direction), AUTH_TICKET_MALFORMED);
    ck_assert_int_eq(decode_mutated(&c, huge_limit), AUTH_TICKET_MALFORMED);
    ck_assert_int_eq(decode_mutated(&c, unknown_flag), AUTH_TICKET_MALFORMED);
    ck_assert_int_eq(decode_mutated(&c, policy_cut), AUTH_TICKET_MALFORMED);
    ck_assert_int_eq(decode_mutated(&c, policy_cut_short), AUTH_TICKET_MALFORMED);
    ck_assert_int_eq(decode_mutated(&c, v1_with_policy), AUTH_TICKET_MALFORMED);
    ck_assert_int_eq(decode_mutated(&c, trailing_byte), AUTH_TICKET_MALFORMED);
    ck_assert_int_eq(decode_mutated(&c, version_three), AUTH_TICKET_BAD_VERSION);
}
END_TEST

START_TEST(test_largest_v2_payload_fits_the_bounds)
{
    struct auth_ticket_claims c;
    unsigned char p[AUTH_TICKET_PAYLOAD_MAX];
    char *t;
    long n;

    policy_fill(&c);
    memset(c.session_id, 's', sizeof(c.session_id) - 1);
    memset(c.user, 'u', sizeof(c.user) - 1);
    memset(c.desktop, 'd', sizeof(c.desktop) - 1);
    memset(c.host, 'h', sizeof(c.host) - 1);
    memset(c.audience, 'a', sizeof(c.audience) - 1);
    c.sealed_len = sizeof(c.sealed);
    memset(c.sealed, 0xa5, sizeof(c.sealed));
    n = auth_ticket_payload_encode(&c, kid, AUTH_TICKET_PAYLOAD_V2, p, NULL);
    ck_assert_int_eq(n, 1404);
    ck_assert_int_le(n, AUTH_TICKET_PAYLOAD_MAX);
    t = auth_signer_sign(signer, &c, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_le(strlen(t), AUTH_TICKET_MAX_LEN);
    free(t);
}
END_TEST

START_TEST(test_signer_refuses_an_out_of_range_policy)
{
    struct auth_ticket_claims c;
    struct pt_err err = {0};

    policy_fill(&c);
    c.clip_dir = (enum auth_clip_dir)4;
    ck_assert_ptr_null(auth_signer_sign(signer, &c, &err));
    ck_assert_int_eq(err.code, PT_E_INVALID);
    policy_fill(&c);
    c.clip_max = AUTH_CLIP_MAX_LIMIT + 1;
    ck_assert_ptr_null(auth_signer_sign(signer, &c, &err));
    ck_assert_msg(strstr(err.msg, "clip_max"), "%s", err.msg);
    ck_assert_ptr_null(auth_signer_sign_version(signer, &c, 3, &err));
}
END_TEST

START_TEST(test_clip_direction_names_round_trip)
{
    enum auth_clip_dir d = AUTH_CLIP_BOTH;

    for (int i = AUTH_CLIP_BOTH; i <= AUTH_CLIP_NONE; i++) {
        ck_assert_int_eq(auth_clip_dir_parse(auth_clip_dir_str((enum auth_clip_dir)i), &d), 0);
        ck_assert_int_eq(d, i);
    }
    ck_assert_int_eq(auth_clip_dir_parse("both ", &d), -1);
    ck_assert_int_eq(auth_clip_dir_parse(NULL, &d), -1);
    ck_assert_str_eq(auth_clip_dir_str((enum auth_clip_dir)9), "?");
}
END_TEST

Suite *auth_ticket_v2_suite(void);
Suite *
auth_ticket_v2_suite(void)
{
    Suite *s = suite_create("auth_ticket_v2");
    TCase *tc = tcase_create("policy");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_new_claims_default_to_no_pool_restriction);
    tcase_add_test(tc, test_v2_ticket_round_trips_the_pool_policy);
    tcase_add_test(tc, test_v1_ticket_is_accepted_without_pool_policy);
    tcase_add_test(tc, test_hostile_policy_bytes_are_malformed);
    tcase_add_test(tc, test_largest_v2_payload_fits_the_bounds);
    tcase_add_test(tc, test_signer_refuses_an_out_of_range_policy);
    tcase_add_test(tc, test_clip_direction_names_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
