/*
 * session_secret.c - the sign-in password kept for single sign-on, sealed in the session
 * record.
 *
 * Key: HMAC-SHA256(key = the 32 random bytes of the session id, "portico session
 * password v1"). The id exists in clear only in the browser's cookie and, briefly, in the
 * request that carries it; the table is keyed by SHA-256(id), from which this key cannot
 * be computed. So the record can live anywhere - this process's heap between requests, or
 * a shared store several brokers read - without the password being readable there, and
 * still any broker holding the cookie of a request can open it: no key to distribute.
 * Record: nonce(12, random) | ciphertext | tag(16), ChaCha20-Poly1305 with the session's
 * user name as associated data, so a record's password cannot be moved to another user's
 * record and still open. The key and plain text are wiped after each use.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/mem.h"
#include "session_priv.h"
#include "ticket_priv.h"

#define PW_NONCE 12
#define PW_TAG   16

static int
pw_key(const unsigned char raw_id[32], unsigned char key[32])
{
    static const char label[] = "portico session password v1";
    unsigned int n = 0;

    if (!HMAC(EVP_sha256(), raw_id, 32, (const unsigned char *)label, sizeof(label) - 1, key, &n) ||
        n != 32)
        return -1;
    return 0;
}

int
auth_session_seal_pw(const unsigned char raw_id[32], struct auth_session *rec, const char *password,
                     struct pt_err *err)
{
    unsigned char key[32];
    size_t len = strlen(password), ulen = strnlen(rec->user, sizeof(rec->user));
    unsigned char *p = rec->sealed_pw;
    int rc = -1;

    rec->sealed_pw_len = 0;
    if (len > AUTH_SESSION_PW_MAX)
        return pt_err_set(err, PT_E_INVALID, "session: password too long to keep");
    if (pw_key(raw_id, key) < 0 || RAND_bytes(p, PW_NONCE) != 1 ||
        auth_aead(1, key, p, rec->user, ulen, (const unsigned char *)password, len, p + PW_NONCE,
                  p + PW_NONCE + len) < 0) {
        pt_err_set(err, PT_E_INTERNAL, "session: cannot seal the single sign-on password");
        goto out;
    }
    rec->sealed_pw_len = PW_NONCE + len + PW_TAG;
    rc = 0;
out:
    pt_wipe(key, sizeof(key));
    if (rc < 0)
        pt_wipe(rec->sealed_pw, sizeof(rec->sealed_pw));
    return rc;
}

int
auth_session_password(const char *id, const struct auth_session *s, char *out, size_t cap,
                      struct pt_err *err)
{
    unsigned char raw[32], key[32], tag[PW_TAG];
    size_t n;
    int rc = -1;

    if (cap)
        out[0] = '\0';
    if (s->sealed_pw_len == 0)
        return pt_err_set(err, PT_E_NOTFOUND,
                          "no sign-in password was kept for this session (sign in again)");
    if (s->sealed_pw_len < PW_NONCE + PW_TAG || s->sealed_pw_len > sizeof(s->sealed_pw))
        return pt_err_set(err, PT_E_AUTH, "the kept sign-in password is damaged");
    n = s->sealed_pw_len - PW_NONCE - PW_TAG;
    if (cap <= n)
        return pt_err_set(err, PT_E_INVALID, "password buffer too small");
    if (auth_session_id_decode(id, raw) < 0 || pw_key(raw, key) < 0) {
        pt_err_set(err, PT_E_AUTH, "the kept sign-in password does not open for this session");
        goto out;
    }
    memcpy(tag, s->sealed_pw + PW_NONCE + n, PW_TAG);
    if (auth_aead(0, key, s->sealed_pw, s->user, strnlen(s->user, sizeof(s->user)),
                  s->sealed_pw + PW_NONCE, n, (unsigned char *)out, tag) < 0) {
        pt_wipe(out, cap);
        pt_err_set(err, PT_E_AUTH, "the kept sign-in password does not open for this session");
        goto out;
    }
    out[n] = '\0';
    rc = 0;
out:
    pt_wipe(raw, sizeof(raw));
    pt_wipe(key, sizeof(key));
    return rc;
}
