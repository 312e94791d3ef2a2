/*
 * ticket.c - signing tickets in the broker and checking them in the gateway.
 *
 * The signature covers the ASCII text "pt1.<payload b64url>", exactly what travels
 * before the second dot, so there is no canonicalisation step to get wrong. The payload
 * names its key by an 8-byte id (SHA-256 prefix of the public key): the verifier picks
 * the current or the previous key by that id, so rotation costs one comparison and a
 * ticket from an unknown key is reported as such rather than as a forgery.
 *
 * Order of checks in auth_verifier_check(): length (before any decoding), version
 * prefix, structure and base64url, key id, signature, then - only on authenticated
 * bytes - the full payload decode, audience and time window.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/mem.h"
#include "ticket_priv.h"

struct auth_signer {
    EVP_PKEY *key;
    unsigned char kid[AUTH_TICKET_KID_LEN];
};

struct auth_verifier {
    EVP_PKEY *keys[2]; /* current, previous (may be NULL) */
    unsigned char kids[2][AUTH_TICKET_KID_LEN];
};

struct auth_signer *
auth_signer_load_or_create(const char *path, struct pt_err *err)
{
    struct auth_signer *s;
    EVP_PKEY *key = auth_keyfile_load_or_create(path, EVP_PKEY_ED25519, err);

    if (!key)
        return NULL;
    s = pt_xcalloc(1, sizeof(*s));
    s->key = key;
    if (auth_key_kid(key, s->kid) < 0) {
        auth_signer_free(s);
        pt_err_set(err, PT_E_INTERNAL, "ticket key %s: cannot read its public half", path);
        return NULL;
    }
    return s;
}

struct auth_signer *
auth_signer_from_raw(const unsigned char priv[32])
{
    struct auth_signer *s;
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, 32);

    if (!key)
        return NULL;
    s = pt_xcalloc(1, sizeof(*s));
    s->key = key;
    if (auth_key_kid(key, s->kid) < 0) {
        auth_signer_free(s);
        return NULL;
    }
    return s;
}

void
auth_signer_free(struct auth_signer *s)
{
    if (!s)
        return;
    EVP_PKEY_free(s->key); /* OpenSSL clears private key material on free */
    free(s);
}

char *
auth_signer_sign(const struct auth_signer *s, const struct auth_ticket_claims *c,
                 struct pt_err *err)
{
    return auth_signer_sign_version(s, c, AUTH_TICKET_PAYLOAD_V2, err);
}

char *
auth_signer_sign_version(const struct auth_signer *s, const struct auth_ticket_claims *c,
                         int version, struct pt_err *err)
{
    unsigned char payload[AUTH_TICKET_PAYLOAD_MAX], sig[AUTH_TICKET_SIG_LEN];
    size_t plen_b64, siglen = sizeof(sig), prefix = strlen(AUTH_TICKET_PREFIX), total;
    EVP_MD_CTX *md = NULL;
    char *out = NULL;
    long plen;

    plen = auth_ticket_payload_encode(c, s->kid, version, payload, err);
    if (plen < 0)
        goto out;
    plen_b64 = b64url_encoded_len((size_t)plen);
    total = prefix + plen_b64 + 1 + b64url_encoded_len(AUTH_TICKET_SIG_LEN);
    out = pt_xmalloc(total + 1);
    memcpy(out, AUTH_TICKET_PREFIX, prefix);
    b64url_encode(payload, (size_t)plen, out + prefix);

    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, s->key) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out, prefix + plen_b64) != 1 ||
        siglen != AUTH_TICKET_SIG_LEN) {
        pt_err_set(err, PT_E_INTERNAL, "ticket: Ed25519 signing failed");
        free(out);
        out = NULL;
        goto out;
    }
    out[prefix + plen_b64] = '.';
    b64url_encode(sig, siglen, out + prefix + plen_b64 + 1);
    out[total] = '\0';
out:
    EVP_MD_CTX_free(md);
    /* The payload may hold a sealed secret: sealed, but no reason to leave it around. */
    pt_wipe(payload, sizeof(payload));
    return out;
}

struct auth_verifier *
auth_verifier_new(const char *pub_path, const char *prev_pub_path, struct pt_err *err)
{
    struct auth_verifier *v = pt_xcalloc(1, sizeof(*v));
    const char *paths[2] = {pub_path, prev_pub_path};

    for (int i = 0; i < 2; i++) {
        if (i == 1 && (!paths[i] || !*paths[i]))
            break;
        v->keys[i] = auth_keyfile_load_pub(paths[i], EVP_PKEY_ED25519, err);
        if (!v->keys[i] || auth_key_kid(v->keys[i], v->kids[i]) < 0) {
            pt_err_prefix(err, "ticket verifier");
            auth_verifier_free(v);
            return NULL;
        }
    }
    return v;
}

struct auth_verifier *
auth_verifier_from_raw(const unsigned char pub[32])
{
    struct auth_verifier *v = pt_xcalloc(1, sizeof(*v));

    v->keys[0] = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    if (!v->keys[0] || auth_key_kid(v->keys[0], v->kids[0]) < 0) {
        auth_verifier_free(v);
        return NULL;
    }
    return v;
}

void
auth_verifier_free(struct auth_verifier *v)
{
    if (!v)
        return;
    EVP_PKEY_free(v->keys[0]);
    EVP_PKEY_free(v->keys[1]);
    free(v);
}

/* is_version_prefix() - "pt<digits>." at the start: a ticket, maybe of another version. */
static bool
is_version_prefix(const char *t, size_t len)
{
    size_t i = 2;

    if (len < 4 || t[0] != 'p' || t[1] != 't')
        return false;
    while (i < len && i < 12 && t[i] >= '0' && t[i] <= '9')
        i++;
    return i > 2 && i < len && t[i] == '.';
}

enum auth_ticket_reject
auth_verifier_check(const struct auth_verifier *v, const char *ticket, size_t len,
                    const char *audience, int64_t now_ms, struct auth_ticket_claims *out)
{
    unsigned char payload[AUTH_TICKET_PAYLOAD_MAX], sig[AUTH_TICKET_SIG_LEN];
    unsigned char kid[AUTH_TICKET_KID_LEN];
    size_t prefix = strlen(AUTH_TICKET_PREFIX), plen_b64, slen_b64;
    const char *dot;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    enum auth_ticket_reject r;
    long plen;

    memset(out, 0, sizeof(*out));
    if (len > AUTH_TICKET_MAX_LEN)
        return AUTH_TICKET_TOO_LONG;
    if (!ticket)
        return AUTH_TICKET_MALFORMED;
    if (len < prefix || memcmp(ticket, AUTH_TICKET_PREFIX, prefix) != 0)
        return is_version_prefix(ticket, len) ? AUTH_TICKET_BAD_VERSION : AUTH_TICKET_MALFORMED;
    dot = memchr(ticket + prefix, '.', len - prefix);
    if (!dot)
        return AUTH_TICKET_MALFORMED;
    plen_b64 = (size_t)(dot - (ticket + prefix));
    slen_b64 = len - prefix - plen_b64 - 1;
    if (slen_b64 != b64url_encoded_len(AUTH_TICKET_SIG_LEN) ||
        b64url_decoded_len(plen_b64) == (size_t)-1 ||
        b64url_decoded_len(plen_b64) > sizeof(payload))
        return AUTH_TICKET_MALFORMED;
    plen = b64url_decode(ticket + prefix, plen_b64, payload, sizeof(payload));
    if (plen < 0 || b64url_decode(dot + 1, slen_b64, sig, sizeof(sig)) != AUTH_TICKET_SIG_LEN)
        return AUTH_TICKET_MALFORMED;

    r = auth_ticket_payload_kid(payload, (size_t)plen, kid);
    if (r != AUTH_TICKET_OK)
        return r;
    for (int i = 0; i < 2 && !key; i++) {
        if (v->keys[i] && memcmp(kid, v->kids[i], sizeof(kid)) == 0)
            key = v->keys[i];
    }
    if (!key)
        return AUTH_TICKET_UNKNOWN_KEY;

    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestVerify(md, sig, sizeof(sig), (const unsigned char *)ticket, prefix + plen_b64) !=
            1) {
        r = AUTH_TICKET_BAD_SIGNATURE;
        goto out;
    }
    r = auth_ticket_payload_decode(payload, (size_t)plen, out);
    if (r != AUTH_TICKET_OK)
        goto out;
    if (!audience || strcmp(audience, out->audience) != 0)
        r = AUTH_TICKET_WRONG_AUDIENCE;
    else if (now_ms - AUTH_TICKET_SKEW > out->expires_at)
        r = AUTH_TICKET_EXPIRED;
    else if (out->issued_at > now_ms + AUTH_TICKET_SKEW)
        r = AUTH_TICKET_NOT_YET_VALID;
out:
    EVP_MD_CTX_free(md);
    pt_wipe(payload, sizeof(payload));
    if (r != AUTH_TICKET_OK)
        pt_wipe(out, sizeof(*out));
    return r;
}
