/*
 * seal.c - secrets sealed by the broker for one gateway (ECIES-style).
 *
 * Blob v1: u8 version(1) | ephemeral X25519 public key[32] | nonce[12] | ciphertext | tag[16].
 * key = HKDF-SHA256(ikm = X25519(eph, gateway), salt = eph_pub || gateway_pub,
 *                   info = "portico seal v1"), 32 bytes for ChaCha20-Poly1305.
 * The ephemeral key is fresh per blob, so the key is never reused and the nonce could be
 * zero; it is random anyway (cheap belt and braces). Both public keys go into the salt so
 * a blob cannot be re-targeted. Shared secrets, derived keys and plaintext copies are
 * wiped before return.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "common/mem.h"
#include "common/str.h"
#include "ticket_priv.h"

#define SEAL_V1    1
#define SEAL_PUB   32
#define SEAL_NONCE 12
#define SEAL_TAG   16
#define SEAL_KEY   32

struct auth_seal_key {
    EVP_PKEY *key;
    unsigned char pub[SEAL_PUB];
};

struct auth_sealer {
    EVP_PKEY *peer;
    unsigned char pub[SEAL_PUB];
};

_Static_assert(1 + SEAL_PUB + SEAL_NONCE + SEAL_TAG == AUTH_SEAL_OVERHEAD, "seal overhead");

static int
raw_pub(EVP_PKEY *k, unsigned char pub[SEAL_PUB])
{
    size_t n = SEAL_PUB;
    return EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == SEAL_PUB ? 0 : -1;
}

struct auth_seal_key *
auth_seal_key_load_or_create(const char *path, struct pt_err *err)
{
    struct auth_seal_key *k;
    EVP_PKEY *key = auth_keyfile_load_or_create(path, EVP_PKEY_X25519, err);

    if (!key)
        return NULL;
    k = pt_xcalloc(1, sizeof(*k));
    k->key = key;
    if (raw_pub(key, k->pub) < 0) {
        auth_seal_key_free(k);
        pt_err_set(err, PT_E_INTERNAL, "seal key %s: cannot read its public half", path);
        return NULL;
    }
    return k;
}

struct auth_seal_key *
auth_seal_key_from_raw(const unsigned char priv[32])
{
    struct auth_seal_key *k = pt_xcalloc(1, sizeof(*k));

    k->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    if (!k->key || raw_pub(k->key, k->pub) < 0) {
        auth_seal_key_free(k);
        return NULL;
    }
    return k;
}

void
auth_seal_key_free(struct auth_seal_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->key);
    free(k);
}

struct auth_sealer *
auth_sealer_new(const char *pub_path, struct pt_err *err)
{
    struct auth_sealer *s;
    EVP_PKEY *peer = auth_keyfile_load_pub(pub_path, EVP_PKEY_X25519, err);

    if (!peer)
        return NULL;
    s = pt_xcalloc(1, sizeof(*s));
    s->peer = peer;
    if (raw_pub(peer, s->pub) < 0) {
        auth_sealer_free(s);
        pt_err_set(err, PT_E_INTERNAL, "seal public key %s unreadable", pub_path);
        return NULL;
    }
    return s;
}

void
auth_sealer_free(struct auth_sealer *s)
{
    if (!s)
        return;
    EVP_PKEY_free(s->peer);
    free(s);
}

/* derive() - the AEAD key from our private key @priv and the peer's public key @peer. */
static int
derive(EVP_PKEY *priv, EVP_PKEY *peer, const unsigned char eph_pub[SEAL_PUB],
       const unsigned char gw_pub[SEAL_PUB], unsigned char key[SEAL_KEY])
{
    unsigned char shared[32], salt[2 * SEAL_PUB];
    size_t slen = sizeof(shared);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(priv, NULL);
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[5];
    char digest[] = "SHA256", info[] = "portico seal v1";
    int rc = -1;

    if (!ctx || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
        EVP_PKEY_derive(ctx, shared, &slen) != 1 || slen != sizeof(shared))
        goto out;
    memcpy(salt, eph_pub, SEAL_PUB);
    memcpy(salt + SEAL_PUB, gw_pub, SEAL_PUB);
    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (!kctx)
        goto out;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, shared, slen);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt));
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, strlen(info));
    params[4] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, key, SEAL_KEY, params) != 1)
        goto out;
    rc = 0;
out:
    pt_wipe(shared, sizeof(shared));
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int
auth_aead(int enc, const unsigned char key[SEAL_KEY], const unsigned char nonce[SEAL_NONCE],
          const void *aad, size_t aad_len, const unsigned char *in, size_t n, unsigned char *out,
          unsigned char tag[SEAL_TAG])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, rc = -1;

    if (!c || n > (size_t)INT32_MAX || aad_len > (size_t)INT32_MAX ||
        EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce, enc) != 1)
        goto out;
    if (aad_len && EVP_CipherUpdate(c, NULL, &len, aad, (int)aad_len) != 1)
        goto out;
    if (n && EVP_CipherUpdate(c, out, &len, in, (int)n) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(c, out + len, &len) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int
auth_seal(const struct auth_sealer *s, const void *secret, size_t len, const void *aad,
          size_t aad_len, unsigned char *out, size_t cap, size_t *out_len, struct pt_err *err)
{
    EVP_PKEY_CTX *kctx = NULL;
    EVP_PKEY *eph = NULL;
    unsigned char key[SEAL_KEY], *p = out;
    int rc = -1;

    if (len > AUTH_SECRET_MAX)
        return pt_err_set(err, PT_E_INVALID, "seal: secret of %zu bytes exceeds %d", len,
                          AUTH_SECRET_MAX);
    if (cap < len + AUTH_SEAL_OVERHEAD)
        return pt_err_set(err, PT_E_INVALID, "seal: output buffer too small");
    kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    if (!kctx || EVP_PKEY_keygen_init(kctx) != 1 || EVP_PKEY_keygen(kctx, &eph) != 1)
        goto out;
    *p++ = SEAL_V1;
    if (raw_pub(eph, p) < 0 || RAND_bytes(p + SEAL_PUB, SEAL_NONCE) != 1)
        goto out;
    if (derive(eph, s->peer, p, s->pub, key) < 0)
        goto out;
    if (auth_aead(1, key, p + SEAL_PUB, aad, aad_len, secret, len, p + SEAL_PUB + SEAL_NONCE,
                  p + SEAL_PUB + SEAL_NONCE + len) < 0)
        goto out;
    *out_len = len + AUTH_SEAL_OVERHEAD;
    rc = 0;
out:
    pt_wipe(key, sizeof(key));
    EVP_PKEY_free(eph);
    EVP_PKEY_CTX_free(kctx);
    if (rc < 0) {
        pt_wipe(out, cap);
        pt_err_set(err, PT_E_INTERNAL, "seal: OpenSSL X25519/ChaCha20-Poly1305 failed");
    }
    return rc;
}

int
auth_unseal(const struct auth_seal_key *k, const unsigned char *in, size_t len, const void *aad,
            size_t aad_len, unsigned char *out, size_t cap, size_t *out_len, struct pt_err *err)
{
    EVP_PKEY *eph = NULL;
    unsigned char key[SEAL_KEY], tag[SEAL_TAG];
    size_t n;
    int rc = -1;

    if (len < AUTH_SEAL_OVERHEAD || len > AUTH_SEALED_MAX || in[0] != SEAL_V1)
        return pt_err_set(err, PT_E_INVALID, "unseal: not a v1 sealed blob");
    n = len - AUTH_SEAL_OVERHEAD;
    if (cap < n)
        return pt_err_set(err, PT_E_INVALID, "unseal: output buffer too small");
    eph = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, in + 1, SEAL_PUB);
    if (!eph || derive(k->key, eph, in + 1, k->pub, key) < 0) {
        pt_err_set(err, PT_E_AUTH, "unseal: bad ephemeral key");
        goto out;
    }
    memcpy(tag, in + 1 + SEAL_PUB + SEAL_NONCE + n, SEAL_TAG);
    if (auth_aead(0, key, in + 1 + SEAL_PUB, aad, aad_len, in + 1 + SEAL_PUB + SEAL_NONCE, n, out,
                  tag) < 0) {
        pt_wipe(out, cap);
        pt_err_set(err, PT_E_AUTH,
                   "unseal: authentication failed (altered, or sealed for another gateway key)");
        goto out;
    }
    if (cap > n)
        out[n] = '\0';
    *out_len = n;
    rc = 0;
out:
    pt_wipe(key, sizeof(key));
    EVP_PKEY_free(eph);
    return rc;
}

int
auth_ticket_seal_secret(const struct auth_sealer *s, struct auth_ticket_claims *c,
                        const char *secret, struct pt_err *err)
{
    return auth_seal(s, secret, strlen(secret), c->id, strlen(c->id), c->sealed, sizeof(c->sealed),
                     &c->sealed_len, err);
}

int
auth_ticket_unseal_secret(const struct auth_seal_key *k, const struct auth_ticket_claims *c,
                          char *out, size_t cap, struct pt_err *err)
{
    size_t n = 0;

    if (c->sealed_len == 0)
        return pt_err_set(err, PT_E_NOTFOUND, "ticket %s carries no sealed secret", c->id);
    if (cap == 0)
        return pt_err_set(err, PT_E_INVALID, "unseal: output buffer too small");
    if (auth_unseal(k, c->sealed, c->sealed_len, c->id, strlen(c->id), (unsigned char *)out,
                    cap - 1, &n, err) < 0)
        return -1;
    out[n] = '\0';
    return 0;
}
