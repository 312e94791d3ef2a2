/*
 * ticket_priv.h - internals of libportico_auth_ticket shared between its files and its
 * tests (the fuzz target drives the payload decoder directly through this header).
 */
#ifndef PT_AUTH_TICKET_PRIV_H
#define PT_AUTH_TICKET_PRIV_H

#include <openssl/evp.h>

#include "auth/ticket.h"

#define AUTH_TICKET_PREFIX     "pt1."
#define AUTH_TICKET_KID_LEN    8
#define AUTH_TICKET_SIG_LEN    64
#define AUTH_TICKET_PAYLOAD_V1 1
#define AUTH_TICKET_PAYLOAD_V2 2
/* Largest payload: every field at its maximum (see ticket_codec.c): 1398 bytes in v1,
 * 1404 in v2. */
#define AUTH_TICKET_PAYLOAD_MAX 1408

/* b64url_encoded_len() - characters needed for @n bytes, unpadded. */
size_t b64url_encoded_len(size_t n);
/* b64url_encode() - writes b64url_encoded_len(@n) chars (no NUL) into @out. */
void b64url_encode(const unsigned char *in, size_t n, char *out);
/* b64url_decoded_len() - bytes that @n characters decode to, or (size_t)-1 when no valid
 * unpadded encoding has that length (n % 4 == 1). */
size_t b64url_decoded_len(size_t n);
/* b64url_decode() - strict: only [A-Za-z0-9_-], no padding, unused trailing bits zero.
 * @cap must be >= b64url_decoded_len(@n). Returns the decoded length or -1. */
long b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);

/* auth_ticket_payload_encode() - claims → payload of @version (AUTH_TICKET_PAYLOAD_V1 or
 * _V2; v1 drops the policy fields) with @kid. Returns length or -1 with @err when a claim
 * is out of range. @out has AUTH_TICKET_PAYLOAD_MAX bytes. */
long auth_ticket_payload_encode(const struct auth_ticket_claims *c,
                                const unsigned char kid[AUTH_TICKET_KID_LEN], int version,
                                unsigned char *out, struct pt_err *err);
/* auth_signer_sign_version() - auth_signer_sign() writing a payload of @version: tests and
 * the fuzz seeds mint v1 tickets with it (a v2 broker never does). */
char *auth_signer_sign_version(const struct auth_signer *s, const struct auth_ticket_claims *c,
                               int version, struct pt_err *err);
/* auth_ticket_payload_kid() - the key id of a v1 or v2 payload: OK, MALFORMED or
 * BAD_VERSION. */
enum auth_ticket_reject auth_ticket_payload_kid(const unsigned char *p, size_t n,
                                                unsigned char kid[AUTH_TICKET_KID_LEN]);
/* auth_ticket_payload_decode() - the whole payload into @out (zeroed first; ->version set):
 * OK, MALFORMED or BAD_VERSION. Bounds every field; trailing bytes are malformed. */
enum auth_ticket_reject auth_ticket_payload_decode(const unsigned char *p, size_t n,
                                                   struct auth_ticket_claims *out);

/* auth_key_kid() - first 8 bytes of SHA-256 over the raw public key. 0 or -1. */
int auth_key_kid(EVP_PKEY *pkey, unsigned char kid[AUTH_TICKET_KID_LEN]);

/*
 * auth_keyfile_load_or_create() - private key of @type (EVP_PKEY_ED25519 / EVP_PKEY_X25519)
 * at @path, created 0600 if absent, "@path.pub" written when missing. Returns new or NULL.
 */
EVP_PKEY *auth_keyfile_load_or_create(const char *path, int type, struct pt_err *err);
/* auth_keyfile_load_pub() - a PEM public key of @type. Returns new or NULL. */
EVP_PKEY *auth_keyfile_load_pub(const char *path, int type, struct pt_err *err);

/* auth_aead() - ChaCha20-Poly1305 in one shot (32-byte key, 12-byte nonce, 16-byte tag);
 * @enc 1 seals (writes @tag), 0 opens (checks it). Returns 0, or -1 (for opening:
 * authentication failed). Shared by sealed ticket secrets and session secrets. */
int auth_aead(int enc, const unsigned char key[32], const unsigned char nonce[12], const void *aad,
              size_t aad_len, const unsigned char *in, size_t n, unsigned char *out,
              unsigned char tag[16]);

/* From raw 32-byte keys, for the fuzz target and tests (no files). Return new or NULL. */
struct auth_signer *auth_signer_from_raw(const unsigned char priv[32]);
struct auth_verifier *auth_verifier_from_raw(const unsigned char pub[32]);
struct auth_seal_key *auth_seal_key_from_raw(const unsigned char priv[32]);

#endif
