/*
 * test_ticket.c - tickets: round trip, every reject reason, rotation, key files, ledger.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "auth/ticket.h"
#include "auth_test_util.h"
#include "common/mem.h"
#include "ticket_priv.h"

#define NOW 1795000000000LL /* a fixed wall clock (2026-11-18) keeps tests deterministic */

static char dir[256], key_path[320], pub_path[330];
static struct auth_signer *signer;
static struct auth_verifier *verifier;

static void
setup(void)
{
    struct pt_err err = {0};

    scratch_mk(dir, sizeof(dir));
    snprintf(key_path, sizeof(key_path), "%s/ticket.key", dir);
    snprintf(pub_path, sizeof(pub_path), "%s/ticket.key.pub", dir);
    signer = auth_signer_load_or_create(key_path, &err);
    ck_assert_msg(signer, "%s", err.msg);
    verifier = auth_verifier_new(pub_path, NULL, &err);
    ck_assert_msg(verifier, "%s", err.msg);
}

static void
teardown(void)
{
    auth_signer_free(signer);
    auth_verifier_free(verifier);
    scratch_rm(dir);
}

static char *
sign_ok(const struct auth_signer *s, const struct auth_ticket_claims *c)
{
    struct pt_err err = {0};
    char *t = auth_signer_sign(s, c, &err);

    ck_assert_msg(t, "%s", err.msg);
    return t;
}

static enum auth_ticket_reject
check_str(const char *t, const char *aud, int64_t now)
{
    struct auth_ticket_claims out;
    return auth_verifier_check(verifier, t, strlen(t), aud, now, &out);
}

START_TEST(test_signed_ticket_round_trips_every_claim)
{
    struct auth_ticket_claims c, out;
    char *t;

    claims_fill(&c, NOW);
    t = sign_ok(signer, &c);
    ck_assert(strncmp(t, "pt1.", 4) == 0);
    ck_assert_int_le(strlen(t), AUTH_TICKET_MAX_LEN);
    ck_assert_int_eq(auth_verifier_check(verifier, t, strlen(t), "gw-eu-1", NOW + 1000, &out),
                     AUTH_TICKET_OK);
    ck_assert_str_eq(out.id, c.id);
    ck_assert_str_eq(out.session_id, c.session_id);
    ck_assert_str_eq(out.user, "o*brien (ops) Zoë");
    ck_assert_str_eq(out.desktop, c.desktop);
    ck_assert_int_eq(out.proto, AUTH_PROTO_SPICE);
    ck_assert_str_eq(out.host, c.host);
    ck_assert_int_eq(out.port, 5901);
    ck_assert_str_eq(out.audience, "gw-eu-1");
    ck_assert_int_eq(out.issued_at, NOW);
    ck_assert_int_eq(out.expires_at, NOW + AUTH_TICKET_DEFAULT_TTL);
    ck_assert_int_eq(out.max_conns, 4);
    ck_assert_int_eq(out.sealed_len, 0);
    free(t);
}
END_TEST

START_TEST(test_forged_signature_is_rejected_as_bad_signature)
{
    struct auth_ticket_claims c;
    char *a, *b, *mix;
    size_t dot;

    claims_fill(&c, NOW);
    a = sign_ok(signer, &c);
    pt_strlcpy(c.user, "mallory", sizeof(c.user));
    b = sign_ok(signer, &c);
    /* b's payload (user mallory) with a's signature: every byte well formed, signature wrong */
    dot = (size_t)(strrchr(b, '.') - b);
    mix = pt_xasprintf("%.*s%s", (int)dot, b, strrchr(a, '.'));
    ck_assert_int_eq(check_str(mix, "gw-eu-1", NOW), AUTH_TICKET_BAD_SIGNATURE);
    /* one flipped signature character (to another letter whose low bits are also 0) */
    mix[strlen(mix) - 2] = mix[strlen(mix) - 2] == 'A' ? 'E' : 'A';
    ck_assert_int_eq(check_str(mix, "gw-eu-1", NOW), AUTH_TICKET_BAD_SIGNATURE);
    free(a);
    free(b);
    free(mix);
}
END_TEST

START_TEST(test_payload_altered_after_signing_is_rejected_as_bad_signature)
{
    struct auth_ticket_claims c;
    unsigned char payload[AUTH_TICKET_PAYLOAD_MAX], kid[AUTH_TICKET_KID_LEN];
    char *t, *forged, *b64;
    long n;

    claims_fill(&c, NOW);
    t = sign_ok(signer, &c);
    /* re-encode the payload with a bigger connection allowance and the same key id */
    {
        EVP_PKEY *pub = auth_keyfile_load_pub(pub_path, EVP_PKEY_ED25519, NULL);
        ck_assert_ptr_nonnull(pub);
        ck_assert_int_eq(auth_key_kid(pub, kid), 0);
        EVP_PKEY_free(pub);
    }
    c.max_conns = AUTH_TICKET_MAX_CONNS;
    n = auth_ticket_payload_encode(&c, kid, AUTH_TICKET_PAYLOAD_V2, payload, NULL);
    ck_assert_int_gt(n, 0);
    b64 = pt_xmalloc(b64url_encoded_len((size_t)n) + 1);
    b64url_encode(payload, (size_t)n, b64);
    b64[b64url_encoded_len((size_t)n)] = '\0';
    forged = pt_xasprintf("pt1.%s%s", b64, strrchr(t, '.'));
    ck_assert_int_eq(check_str(forged, "gw-eu-1", NOW), AUTH_TICKET_BAD_SIGNATURE);
    free(b64);
    free(forged);
    free(t);
}
END_TEST

START_TEST(test_expired_and_not_yet_valid_tickets_are_rejected_with_skew_allowed)
{
    struct auth_ticket_claims c;
    char *t;

    claims_fill(&c, NOW);
    t = sign_ok(signer, &c);
    ck_assert_int_eq(check_str(t, "gw-eu-1", c.expires_at + AUTH_TICKET_SKEW), AUTH_TICKET_OK);
    ck_assert_int_eq(check_str(t, "gw-eu-1", c.expires_at + AUTH_TICKET_SKEW + 1),
                     AUTH_TICKET_EXPIRED);
    ck_assert_int_eq(check_str(t, "gw-eu-1", NOW - AUTH_TICKET_SKEW), AUTH_TICKET_OK);
    ck_assert_int_eq(check_str(t, "gw-eu-1", NOW - AUTH_TICKET_SKEW - 1),
                     AUTH_TICKET_NOT_YET_VALID);
    free(t);
}
END_TEST

START_TEST(test_ticket_for_another_gateway_is_rejected_as_wrong_audience)
{
    struct auth_ticket_claims c;
    char *t;

    claims_fill(&c, NOW);
    t = sign_ok(signer, &c);
    ck_assert_int_eq(check_str(t, "gw-eu-2", NOW), AUTH_TICKET_WRONG_AUDIENCE);
    ck_assert_int_eq(check_str(t, "gw-eu-", NOW), AUTH_TICKET_WRONG_AUDIENCE);
    ck_assert_int_eq(check_str(t, NULL, NOW), AUTH_TICKET_WRONG_AUDIENCE);
    free(t);
}
END_TEST

START_TEST(test_every_truncation_of_a_ticket_is_rejected)
{
    struct auth_ticket_claims c, out;
    char *t;
    size_t len;

    claims_fill(&c, NOW);
    t = sign_ok(signer, &c);
    len = strlen(t);
    for (size_t n = 0; n < len; n++) {
        enum auth_ticket_reject r = auth_verifier_check(verifier, t, n, "gw-eu-1", NOW, &out);
        ck_assert_msg(r == AUTH_TICKET_MALFORMED, "prefix of %zu bytes gave %s", n,
                      auth_ticket_reject_str(r));
        ck_assert_str_eq(out.user, ""); /* nothing leaks out of a refused ticket */
    }
    free(t);
}
END_TEST

START_TEST(test_oversized_ticket_is_rejected_before_decoding)
{
    char *big = pt_xmalloc(AUTH_TICKET_MAX_LEN + 2);
    struct auth_ticket_claims out;

    memset(big, 'A', AUTH_TICKET_MAX_LEN + 1);
    memcpy(big, "pt1.", 4);
    big[AUTH_TICKET_MAX_LEN + 1] = '\0';
    ck_assert_int_eq(
        auth_verifier_check(verifier, big, AUTH_TICKET_MAX_LEN + 1, "gw-eu-1", NOW, &out),
        AUTH_TICKET_TOO_LONG);
    /* a huge length is refused from the length alone: the pointer is not even read */
    ck_assert_int_eq(auth_verifier_check(verifier, big, (size_t)1 << 40, "gw-eu-1", NOW, &out),
                     AUTH_TICKET_TOO_LONG);
    free(big);
}
END_TEST

START_TEST(test_other_version_prefix_is_rejected_as_bad_version)
{
    struct auth_ticket_claims c;
    char *t;

    claims_fill(&c, NOW);
    t = sign_ok(signer, &c);
    t[2] = '2';
    ck_assert_int_eq(check_str(t, "gw-eu-1", NOW), AUTH_TICKET_BAD_VERSION);
    ck_assert_int_eq(check_str("pt10.abc.def", "gw-eu-1", NOW), AUTH_TICKET_BAD_VERSION);
    ck_assert_int_eq(check_str("px1.abc.def", "gw-eu-1", NOW), AUTH_TICKET_MALFORMED);
    ck_assert_int_eq(check_str("", "gw-eu-1", NOW), AUTH_TICKET_MALFORMED);
    free(t);
}
END_TEST

START_TEST(test_unknown_payload_version_is_rejected_as_bad_version)
{
    struct auth_ticket_claims c;
    unsigned char payload[AUTH_TICKET_PAYLOAD_MAX];
    char *t, *b64, *v;
    const char *dot;
    long n;

    claims_fill(&c, NOW);
    t = sign_ok(signer, &c);
    dot = strrchr(t, '.');
    n = b64url_decode(t + 4, (size_t)(dot - t - 4), payload, sizeof(payload));
    ck_assert_int_gt(n, 0);
    payload[0] = 3; /* a future payload layout under the same "pt1." prefix */
    b64 = pt_xmalloc(b64url_encoded_len((size_t)n) + 1);
    b64url_encode(payload, (size_t)n, b64);
    b64[b64url_encoded_len((size_t)n)] = '\0';
    v = pt_xasprintf("pt1.%s%s", b64, dot);
    ck_assert_int_eq(check_str(v, "gw-eu-1", NOW), AUTH_TICKET_BAD_VERSION);
    free(v);
    free(b64);
    free(t);
}
END_TEST

START_TEST(test_non_strict_base64url_is_rejected_as_malformed)
{
    struct auth_ticket_claims c;
    char *t, *v;
    size_t dot;

    claims_fill(&c, NOW);
    t = sign_ok(signer, &c);
    dot = (size_t)(strrchr(t, '.') - t);
    /* padding, standard alphabet, white space, a third dot */
    v = pt_xasprintf("%s=", t);
    ck_assert_int_eq(check_str(v, "gw-eu-1", NOW), AUTH_TICKET_MALFORMED);
    free(v);
    v = pt_xstrdup(t);
    v[5] = '+';
    ck_assert_int_eq(check_str(v, "gw-eu-1", NOW), AUTH_TICKET_MALFORMED);
    v[5] = ' ';
    ck_assert_int_eq(check_str(v, "gw-eu-1", NOW), AUTH_TICKET_MALFORMED);
    v[5] = '.';
    ck_assert_int_eq(check_str(v, "gw-eu-1", NOW), AUTH_TICKET_MALFORMED);
    free(v);
    /* a last signature character with non-zero unused bits: same bytes, other text */
    v = pt_xstrdup(t);
    v[strlen(v) - 1] = (char)(v[strlen(v) - 1] == 'B' ? 'C' : 'B');
    ck_assert_int_eq(check_str(v, "gw-eu-1", NOW), AUTH_TICKET_MALFORMED);
    free(v);
    /* an embedded NUL inside the given length */
    v = pt_xstrdup(t);
    v[dot - 3] = '\0';
    {
        struct auth_ticket_claims out;
        ck_assert_int_eq(auth_verifier_check(verifier, v, strlen(t), "gw-eu-1", NOW, &out),
                         AUTH_TICKET_MALFORMED);
    }
    free(v);
    free(t);
}
END_TEST

START_TEST(test_key_rotation_accepts_current_and_previous_keys_only)
{
    struct pt_err err = {0};
    char old_key[340], old_pub[350], new_key[340], new_pub[350];
    struct auth_signer *old_s, *new_s;
    struct auth_verifier *both, *only_new;
    struct auth_ticket_claims c;
    char *t_old, *t_new;

    snprintf(old_key, sizeof(old_key), "%s/old.key", dir);
    snprintf(old_pub, sizeof(old_pub), "%s/old.key.pub", dir);
    snprintf(new_key, sizeof(new_key), "%s/new.key", dir);
    snprintf(new_pub, sizeof(new_pub), "%s/new.key.pub", dir);
    old_s = auth_signer_load_or_create(old_key, &err);
    new_s = auth_signer_load_or_create(new_key, &err);
    ck_assert_msg(old_s && new_s, "%s", err.msg);
    both = auth_verifier_new(new_pub, old_pub, &err);
    only_new = auth_verifier_new(new_pub, "", &err);
    ck_assert_msg(both && only_new, "%s", err.msg);
    claims_fill(&c, NOW);
    t_old = sign_ok(old_s, &c);
    t_new = sign_ok(new_s, &c);
    {
        struct auth_ticket_claims out;
        ck_assert_int_eq(auth_verifier_check(both, t_old, strlen(t_old), "gw-eu-1", NOW, &out),
                         AUTH_TICKET_OK);
        ck_assert_int_eq(auth_verifier_check(both, t_new, strlen(t_new), "gw-eu-1", NOW, &out),
                         AUTH_TICKET_OK);
        ck_assert_int_eq(auth_verifier_check(only_new, t_old, strlen(t_old), "gw-eu-1", NOW, &out),
                         AUTH_TICKET_UNKNOWN_KEY);
        ck_assert_int_eq(auth_verifier_check(only_new, t_new, strlen(t_new), "gw-eu-1", NOW, &out),
                         AUTH_TICKET_OK);
    }
    free(t_old);
    free(t_new);
    auth_verifier_free(both);
    auth_verifier_free(only_new);
    auth_signer_free(old_s);
    auth_signer_free(new_s);
}
END_TEST

START_TEST(test_key_file_is_created_0600_and_reloaded_unchanged)
{
    struct pt_err err = {0};
    struct stat st;
    struct auth_signer *again;
    struct auth_ticket_claims c;
    char *t;

    ck_assert_int_eq(stat(key_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(pub_path, &st), 0);
    again = auth_signer_load_or_create(key_path, &err);
    ck_assert_msg(again, "%s", err.msg);
    claims_fill(&c, NOW);
    t = sign_ok(again, &c); /* the reloaded key verifies against the first .pub */
    ck_assert_int_eq(check_str(t, "gw-eu-1", NOW), AUTH_TICKET_OK);
    free(t);
    auth_signer_free(again);
}
END_TEST

START_TEST(test_group_readable_key_file_is_refused)
{
    struct pt_err err = {0};

    ck_assert_int_eq(chmod(key_path, 0640), 0);
    ck_assert_ptr_null(auth_signer_load_or_create(key_path, &err));
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "chmod 600"));
}
END_TEST

START_TEST(test_stale_public_key_file_is_detected)
{
    struct pt_err err = {0};
    char other[340], other_pub[350];
    struct auth_signer *o;

    /* another key's .pub copied over ours: loading our key must say so */
    snprintf(other, sizeof(other), "%s/other.key", dir);
    snprintf(other_pub, sizeof(other_pub), "%s/other.key.pub", dir);
    o = auth_signer_load_or_create(other, &err);
    ck_assert_msg(o, "%s", err.msg);
    ck_assert_int_eq(rename(other_pub, pub_path), 0);
    ck_assert_ptr_null(auth_signer_load_or_create(key_path, &err));
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not match"));
    auth_signer_free(o);
}
END_TEST

START_TEST(test_verifier_refuses_missing_or_wrong_type_key)
{
    struct pt_err err = {0};
    char junk[340];
    int fd;

    ck_assert_ptr_null(auth_verifier_new("/nonexistent/ticket.pub", NULL, &err));
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    snprintf(junk, sizeof(junk), "%s/junk.pub", dir);
    fd = open(junk, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_eq(write(fd, "not a key\n", 10), 10);
    close(fd);
    ck_assert_ptr_null(auth_verifier_new(junk, NULL, &err));
    ck_assert_int_eq(err.code, PT_E_INVALID);
    /* the private key file is not a public key PEM */
    ck_assert_ptr_null(auth_verifier_new(key_path, NULL, &err));
}
END_TEST

START_TEST(test_signer_refuses_out_of_range_claims)
{
    struct auth_ticket_claims c;
    struct pt_err err = {0};

    claims_fill(&c, NOW);
    c.port = 0;
    ck_assert_ptr_null(auth_signer_sign(signer, &c, &err));
    ck_assert_int_eq(err.code, PT_E_INVALID);
    claims_fill(&c, NOW);
    c.max_conns = AUTH_TICKET_MAX_CONNS + 1;
    ck_assert_ptr_null(auth_signer_sign(signer, &c, &err));
    claims_fill(&c, NOW);
    pt_strlcpy(c.user, "alice\r\nlevel=crit", sizeof(c.user));
    ck_assert_ptr_null(auth_signer_sign(signer, &c, &err));
    claims_fill(&c, NOW);
    c.expires_at = c.issued_at + AUTH_TICKET_MAX_TTL + 1;
    ck_assert_ptr_null(auth_signer_sign(signer, &c, &err));
    claims_fill(&c, NOW);
    c.id[0] = 'Z';
    ck_assert_ptr_null(auth_signer_sign(signer, &c, &err));
    claims_fill(&c, NOW);
    c.audience[0] = '\0';
    ck_assert_ptr_null(auth_signer_sign(signer, &c, &err));
}
END_TEST

START_TEST(test_ledger_allows_max_conns_then_reports_replay)
{
    struct auth_ledger *l = auth_ledger_new(16);
    struct auth_ticket_claims c;

    claims_fill(&c, NOW);
    c.max_conns = 3;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(auth_ledger_use(l, &c, NOW), AUTH_TICKET_OK);
    ck_assert_int_eq(auth_ledger_use(l, &c, NOW), AUTH_TICKET_REPLAYED);
    ck_assert_int_eq(auth_ledger_use(l, &c, NOW + 1000), AUTH_TICKET_REPLAYED);
    ck_assert_int_eq(auth_ledger_count(l), 1);
    auth_ledger_free(l);
}
END_TEST

/* A gateway's workers are processes forked after the ledger is made: two uses in one
 * process and a third in another exhaust a ticket with max_conns 2. */
START_TEST(test_shared_ledger_counts_one_allowance_across_forked_processes)
{
    struct pt_err err = {0};
    struct auth_ledger *l = auth_ledger_new_shared(16, &err);
    struct auth_ticket_claims c;
    int status = -1;
    pid_t pid;

    ck_assert_msg(l, "%s", err.msg);
    claims_fill(&c, NOW);
    c.max_conns = 2;
    ck_assert_int_eq(auth_ledger_use(l, &c, NOW), AUTH_TICKET_OK);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(auth_ledger_use(l, &c, NOW) == AUTH_TICKET_OK &&
                      auth_ledger_use(l, &c, NOW) == AUTH_TICKET_REPLAYED
                  ? 0
                  : 1);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the second process saw its own count (status %d)", status);
    ck_assert_int_eq(auth_ledger_use(l, &c, NOW), AUTH_TICKET_REPLAYED);
    ck_assert_int_eq(auth_ledger_count(l), 1);
    auth_ledger_free(l);
}
END_TEST

/* The in-place sweep of a shared table keeps live entries and their counts. */
START_TEST(test_shared_ledger_sweeps_expired_entries_in_place)
{
    struct pt_err err = {0};
    struct auth_ledger *l = auth_ledger_new_shared(4, &err);
    struct auth_ticket_claims c[4], late;

    ck_assert_msg(l, "%s", err.msg);
    for (int i = 0; i < 4; i++) {
        claims_fill(&c[i], NOW + i * AUTH_TICKET_DEFAULT_TTL);
        c[i].max_conns = 1;
        ck_assert_int_eq(auth_ledger_use(l, &c[i], NOW + i * AUTH_TICKET_DEFAULT_TTL),
                         AUTH_TICKET_OK);
    }
    /* when the first has expired (plus skew), a fifth ticket takes its room ... */
    int64_t t = NOW + AUTH_TICKET_DEFAULT_TTL + AUTH_TICKET_SKEW + 1;
    claims_fill(&late, t);
    ck_assert_int_eq(auth_ledger_use(l, &late, t), AUTH_TICKET_OK);
    ck_assert_int_eq(auth_ledger_count(l), 4);
    /* ... and the live ones still remember their use */
    for (int i = 1; i < 4; i++)
        ck_assert_int_eq(auth_ledger_use(l, &c[i], t), AUTH_TICKET_REPLAYED);
    auth_ledger_free(l);
}
END_TEST

START_TEST(test_ledger_refuses_when_full_and_frees_expired_entries)
{
    struct auth_ledger *l = auth_ledger_new(8);
    struct auth_ticket_claims c;

    for (int i = 0; i < 8; i++) {
        claims_fill(&c, NOW);
        ck_assert_int_eq(auth_ledger_use(l, &c, NOW), AUTH_TICKET_OK);
    }
    claims_fill(&c, NOW);
    ck_assert_int_eq(auth_ledger_use(l, &c, NOW), AUTH_TICKET_LEDGER_FULL);
    /* once the first eight have expired (plus skew) there is room again */
    ck_assert_int_eq(auth_ledger_use(l, &c, NOW + AUTH_TICKET_DEFAULT_TTL + AUTH_TICKET_SKEW + 1),
                     AUTH_TICKET_OK);
    ck_assert_int_eq(auth_ledger_count(l), 1);
    auth_ledger_free(l);
}
END_TEST

START_TEST(test_reject_reasons_have_distinct_names)
{
    for (int a = AUTH_TICKET_OK; a <= AUTH_TICKET_LEDGER_FULL; a++)
        for (int b = a + 1; b <= AUTH_TICKET_LEDGER_FULL; b++)
            ck_assert_str_ne(auth_ticket_reject_str(a), auth_ticket_reject_str(b));
    ck_assert_str_eq(auth_ticket_reject_str(AUTH_TICKET_REPLAYED), "replayed");
}
END_TEST

START_TEST(test_base64url_matches_rfc4648_vectors)
{
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char buf[16];
    unsigned char dec[16];

    for (size_t i = 0; i < 7; i++) {
        size_t n = strlen(plain[i]);
        b64url_encode((const unsigned char *)plain[i], n, buf);
        buf[b64url_encoded_len(n)] = '\0';
        ck_assert_str_eq(buf, enc[i]);
        ck_assert_int_eq(b64url_decode(enc[i], strlen(enc[i]), dec, sizeof(dec)), (long)n);
        ck_assert(memcmp(dec, plain[i], n) == 0);
    }
    ck_assert_int_eq(b64url_decode("Zh", 2, dec, sizeof(dec)), -1); /* trailing bits */
    ck_assert_int_eq(b64url_decode("Zm9vY", 5, dec, sizeof(dec)), -1);
    ck_assert_int_eq(b64url_decode("Zg==", 4, dec, sizeof(dec)), -1);
    ck_assert_int_eq(b64url_decode("Zm9v", 4, dec, 2), -1); /* capacity */
}
END_TEST

Suite *auth_ticket_suite(void);

Suite *
auth_ticket_suite(void)
{
    Suite *s = suite_create("auth_ticket");
    TCase *tc = tcase_create("ticket");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_signed_ticket_round_trips_every_claim);
    tcase_add_test(tc, test_forged_signature_is_rejected_as_bad_signature);
    tcase_add_test(tc, test_payload_altered_after_signing_is_rejected_as_bad_signature);
    tcase_add_test(tc, test_expired_and_not_yet_valid_tickets_are_rejected_with_skew_allowed);
    tcase_add_test(tc, test_ticket_for_another_gateway_is_rejected_as_wrong_audience);
    tcase_add_test(tc, test_every_truncation_of_a_ticket_is_rejected);
    tcase_add_test(tc, test_oversized_ticket_is_rejected_before_decoding);
    tcase_add_test(tc, test_other_version_prefix_is_rejected_as_bad_version);
    tcase_add_test(tc, test_unknown_payload_version_is_rejected_as_bad_version);
    tcase_add_test(tc, test_non_strict_base64url_is_rejected_as_malformed);
    tcase_add_test(tc, test_key_rotation_accepts_current_and_previous_keys_only);
    tcase_add_test(tc, test_key_file_is_created_0600_and_reloaded_unchanged);
    tcase_add_test(tc, test_group_readable_key_file_is_refused);
    tcase_add_test(tc, test_stale_public_key_file_is_detected);
    tcase_add_test(tc, test_verifier_refuses_missing_or_wrong_type_key);
    tcase_add_test(tc, test_signer_refuses_out_of_range_claims);
    tcase_add_test(tc, test_ledger_allows_max_conns_then_reports_replay);
    tcase_add_test(tc, test_ledger_refuses_when_full_and_frees_expired_entries);
    tcase_add_test(tc, test_shared_ledger_counts_one_allowance_across_forked_processes);
    tcase_add_test(tc, test_shared_ledger_sweeps_expired_entries_in_place);
    tcase_add_test(tc, test_reject_reasons_have_distinct_names);
    tcase_add_test(tc, test_base64url_matches_rfc4648_vectors);
    suite_add_tcase(s, tc);
    return s;
}
