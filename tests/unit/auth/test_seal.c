/*
 * test_seal.c - secrets sealed for the gateway: round trip, tamper detection, wrong key,
 * wrong associated data, limits, and a sealed secret carried inside a signed ticket.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "auth/ticket.h"
#include "auth_test_util.h"

static char dir[256], gw_key[320], gw_pub[330];
static struct auth_seal_key *gw;
static struct auth_sealer *sealer;

static void
setup(void)
{
    struct pt_err err = {0};

    scratch_mk(dir, sizeof(dir));
    snprintf(gw_key, sizeof(gw_key), "%s/seal.key", dir);
    snprintf(gw_pub, sizeof(gw_pub), "%s/seal.key.pub", dir);
    gw = auth_seal_key_load_or_create(gw_key, &err);
    ck_assert_msg(gw, "%s", err.msg);
    sealer = auth_sealer_new(gw_pub, &err);
    ck_assert_msg(sealer, "%s", err.msg);
}

static void
teardown(void)
{
    auth_seal_key_free(gw);
    auth_sealer_free(sealer);
    scratch_rm(dir);
}

START_TEST(test_sealed_secret_opens_with_the_gateway_key)
{
    const char *secret = "rdp:CORP\\o*brien:pässwörd (ops)";
    unsigned char blob[AUTH_SEALED_MAX], out[AUTH_SECRET_MAX + 1];
    size_t n = 0, m = 0;
    struct pt_err err = {0};

    ck_assert_int_eq(
        auth_seal(sealer, secret, strlen(secret), "t1", 2, blob, sizeof(blob), &n, &err), 0);
    ck_assert_int_eq(n, strlen(secret) + AUTH_SEAL_OVERHEAD);
    ck_assert(memmem(blob, n, "o*brien", 7) == NULL); /* not in clear */
    ck_assert_int_eq(auth_unseal(gw, blob, n, "t1", 2, out, sizeof(out), &m, &err), 0);
    ck_assert_int_eq(m, strlen(secret));
    ck_assert_str_eq((char *)out, secret);
}
END_TEST

START_TEST(test_two_seals_of_one_secret_differ)
{
    unsigned char a[128], b[128];
    size_t na, nb;

    ck_assert_int_eq(auth_seal(sealer, "pw", 2, NULL, 0, a, sizeof(a), &na, NULL), 0);
    ck_assert_int_eq(auth_seal(sealer, "pw", 2, NULL, 0, b, sizeof(b), &nb, NULL), 0);
    ck_assert_int_eq(na, nb);
    ck_assert(memcmp(a, b, na) != 0);
}
END_TEST

START_TEST(test_any_altered_byte_of_a_sealed_blob_is_detected)
{
    unsigned char blob[128], out[128];
    size_t n, m;
    struct pt_err err = {0};

    ck_assert_int_eq(auth_seal(sealer, "hunter2", 7, "id", 2, blob, sizeof(blob), &n, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        blob[i] ^= 0x01;
        ck_assert_int_eq(auth_unseal(gw, blob, n, "id", 2, out, sizeof(out), &m, &err), -1);
        ck_assert_msg(err.code == (i == 0 ? PT_E_INVALID : PT_E_AUTH), "byte %zu: %s", i, err.msg);
        blob[i] ^= 0x01;
    }
    ck_assert_int_eq(auth_unseal(gw, blob, n - 1, "id", 2, out, sizeof(out), &m, &err), -1);
    ck_assert_int_eq(auth_unseal(gw, blob, n, "id", 2, out, sizeof(out), &m, &err), 0);
}
END_TEST

START_TEST(test_blob_does_not_open_with_other_key_or_other_associated_data)
{
    struct pt_err err = {0};
    char other_path[340];
    struct auth_seal_key *other;
    unsigned char blob[128], out[128];
    size_t n, m;

    snprintf(other_path, sizeof(other_path), "%s/other.key", dir);
    other = auth_seal_key_load_or_create(other_path, &err);
    ck_assert_msg(other, "%s", err.msg);
    ck_assert_int_eq(auth_seal(sealer, "hunter2", 7, "id", 2, blob, sizeof(blob), &n, NULL), 0);
    ck_assert_int_eq(auth_unseal(other, blob, n, "id", 2, out, sizeof(out), &m, &err), -1);
    ck_assert_int_eq(err.code, PT_E_AUTH);
    ck_assert_int_eq(auth_unseal(gw, blob, n, "ie", 2, out, sizeof(out), &m, &err), -1);
    ck_assert_int_eq(err.code, PT_E_AUTH);
    auth_seal_key_free(other);
}
END_TEST

START_TEST(test_seal_refuses_oversized_secret_and_small_buffers)
{
    static unsigned char big[AUTH_SECRET_MAX + 1];
    unsigned char blob[AUTH_SEALED_MAX];
    size_t n;
    struct pt_err err = {0};

    ck_assert_int_eq(auth_seal(sealer, big, AUTH_SECRET_MAX, NULL, 0, blob, sizeof(blob), &n, &err),
                     0);
    ck_assert_int_eq(n, AUTH_SEALED_MAX);
    ck_assert_int_eq(auth_seal(sealer, big, sizeof(big), NULL, 0, blob, sizeof(blob), &n, &err),
                     -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_int_eq(auth_seal(sealer, "pw", 2, NULL, 0, blob, 10, &n, &err), -1);
}
END_TEST

START_TEST(test_secret_travels_sealed_inside_a_signed_ticket)
{
    struct pt_err err = {0};
    char key[340], pub[350], secret[AUTH_SECRET_MAX + 1];
    struct auth_signer *s;
    struct auth_verifier *v;
    struct auth_ticket_claims c, out;
    char *t;

    snprintf(key, sizeof(key), "%s/ticket.key", dir);
    snprintf(pub, sizeof(pub), "%s/ticket.key.pub", dir);
    s = auth_signer_load_or_create(key, &err);
    v = s ? auth_verifier_new(pub, NULL, &err) : NULL;
    ck_assert_msg(v, "%s", err.msg);
    claims_fill(&c, 1795000000000LL);
    ck_assert_int_eq(auth_ticket_seal_secret(sealer, &c, "vnc-display-pw", &err), 0);
    t = auth_signer_sign(s, &c, &err);
    ck_assert_msg(t, "%s", err.msg);
    ck_assert_ptr_null(strstr(t, "vnc-display-pw"));
    ck_assert_int_eq(auth_verifier_check(v, t, strlen(t), "gw-eu-1", 1795000000000LL, &out),
                     AUTH_TICKET_OK);
    ck_assert_int_eq(auth_ticket_unseal_secret(gw, &out, secret, sizeof(secret), &err), 0);
    ck_assert_str_eq(secret, "vnc-display-pw");
    /* bound to the ticket id: the blob moved into another ticket does not open */
    ck_assert_int_eq(auth_ticket_claims_init(&c, 1795000000000LL, 0, NULL), 0);
    memcpy(c.sealed, out.sealed, out.sealed_len);
    c.sealed_len = out.sealed_len;
    ck_assert_int_eq(auth_ticket_unseal_secret(gw, &c, secret, sizeof(secret), &err), -1);
    ck_assert_int_eq(err.code, PT_E_AUTH);
    c.sealed_len = 0;
    ck_assert_int_eq(auth_ticket_unseal_secret(gw, &c, secret, sizeof(secret), &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    free(t);
    auth_verifier_free(v);
    auth_signer_free(s);
}
END_TEST

START_TEST(test_seal_key_cannot_be_used_as_ticket_key)
{
    struct pt_err err = {0};

    ck_assert_ptr_null(auth_verifier_new(gw_pub, NULL, &err));
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_ptr_null(auth_signer_load_or_create(gw_key, &err));
}
END_TEST

Suite *auth_seal_suite(void);

Suite *
auth_seal_suite(void)
{
    Suite *s = suite_create("auth_seal");
    TCase *tc = tcase_create("seal");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sealed_secret_opens_with_the_gateway_key);
    tcase_add_test(tc, test_two_seals_of_one_secret_differ);
    tcase_add_test(tc, test_any_altered_byte_of_a_sealed_blob_is_detected);
    tcase_add_test(tc, test_blob_does_not_open_with_other_key_or_other_associated_data);
    tcase_add_test(tc, test_seal_refuses_oversized_secret_and_small_buffers);
    tcase_add_test(tc, test_secret_travels_sealed_inside_a_signed_ticket);
    tcase_add_test(tc, test_seal_key_cannot_be_used_as_ticket_key);
    suite_add_tcase(s, tc);
    return s;
}
