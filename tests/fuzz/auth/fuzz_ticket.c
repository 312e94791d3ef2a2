/*
 * fuzz_ticket.c - libFuzzer target for everything in libportico_auth_ticket that reads
 * untrusted bytes: the full ticket check (length, prefix, base64url, key id, signature,
 * payload, audience, time), the payload decoder on its own (normally reachable only after
 * a valid signature), the sealed-blob opener and the strict base64url decoder.
 *
 * Besides "does not crash", it checks two properties: a payload that decodes re-encodes to
 * the same bytes (the encoding is canonical), and a ticket the verifier accepts carries
 * claims that the signer would accept again. Keys are fixed (below) so that seeds signed
 * with them reach the checks behind the signature.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "fuzz_auth.h"
#include "ticket_priv.h"

/* Test-only keys: public in this repository, used by nothing but this target. */
static const unsigned char fuzz_sign_priv[32] = {
    0x58, 0x5c, 0x3c, 0xb4, 0xeb, 0x99, 0xaa, 0x81, 0xb7, 0xc2, 0xf9, 0x44, 0x30, 0x78, 0x43, 0x3a,
    0x1f, 0x94, 0xc2, 0x3b, 0xf9, 0x75, 0x90, 0x76, 0x34, 0x08, 0x27, 0x55, 0x66, 0xc0, 0x65, 0x02};
static const unsigned char fuzz_seal_priv[32] = {
    0x49, 0x90, 0x7c, 0xff, 0x2f, 0x21, 0xc3, 0x68, 0xfc, 0x6c, 0x14, 0xa8, 0x86, 0xe4, 0x77, 0xd7,
    0x27, 0xe5, 0x70, 0xc2, 0xb0, 0x20, 0x62, 0x3d, 0x35, 0x0d, 0x05, 0x49, 0xc8, 0x4f, 0x7b, 0x68};

unsigned long fuzz_auth_accepted;

static struct auth_signer *signer;
static struct auth_verifier *verifier;
static struct auth_seal_key *seal_key;

static void
fuzz_init(void)
{
    unsigned char pub[32];
    size_t n = sizeof(pub);
    EVP_PKEY *k;

    if (signer)
        return;
    signer = auth_signer_from_raw(fuzz_sign_priv);
    k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, fuzz_sign_priv, 32);
    if (!signer || !k || EVP_PKEY_get_raw_public_key(k, pub, &n) != 1)
        abort();
    EVP_PKEY_free(k);
    verifier = auth_verifier_from_raw(pub);
    seal_key = auth_seal_key_from_raw(fuzz_seal_priv);
    if (!verifier || !seal_key)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_ticket_claims c;
    unsigned char buf[AUTH_TICKET_PAYLOAD_MAX], kid[AUTH_TICKET_KID_LEN];
    size_t n;

    fuzz_init();

    /* 1. the gateway's whole check, as on the wire */
    if (auth_verifier_check(verifier, (const char *)data, size, FUZZ_AUDIENCE, FUZZ_NOW, &c) ==
        AUTH_TICKET_OK) {
        char *again = auth_signer_sign(signer, &c, NULL);
        fuzz_auth_accepted++;
        if (!again)
            abort(); /* accepted claims must be signable */
        free(again);
    }

    /* 2. the payload decoder alone; a decoded payload re-encodes to the same bytes */
    if (auth_ticket_payload_decode(data, size, &c) == AUTH_TICKET_OK) {
        long m;
        if (auth_ticket_payload_kid(data, size, kid) != AUTH_TICKET_OK)
            abort();
        m = auth_ticket_payload_encode(&c, kid, c.version, buf, NULL);
        if (m != (long)size || memcmp(buf, data, size) != 0)
            abort();
    }

    /* 3. a sealed blob, opened with and without associated data */
    if (size <= AUTH_SEALED_MAX) {
        unsigned char out[AUTH_SEALED_MAX];
        auth_unseal(seal_key, data, size, NULL, 0, out, sizeof(out), &n, NULL);
        auth_unseal(seal_key, data, size, "id", 2, out, sizeof(out), &n, NULL);
    }

    /* 4. strict base64url */
    if (size <= 2 * AUTH_TICKET_PAYLOAD_MAX) {
        size_t want = b64url_decoded_len(size);
        unsigned char out[2 * AUTH_TICKET_PAYLOAD_MAX];
        long m = b64url_decode((const char *)data, size, out, sizeof(out));
        if (m >= 0) {
            char enc[2 * AUTH_TICKET_PAYLOAD_MAX];
            if ((size_t)m != want)
                abort();
            b64url_encode(out, (size_t)m, enc);
            if (memcmp(enc, data, size) != 0)
                abort(); /* strict means canonical */
        }
    }
    return 0;
}

static int
write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f);
}

int
fuzz_auth_write_seeds(const char *dir)
{
    struct auth_ticket_claims c;
    struct auth_sealer *sealer = NULL;
    unsigned char payload[AUTH_TICKET_PAYLOAD_MAX], kid[AUTH_TICKET_KID_LEN];
    unsigned char pub[32];
    size_t pn = sizeof(pub);
    EVP_PKEY *k;
    char *t;
    long plen;
    int rc = 0;

    fuzz_init();
    if (auth_ticket_claims_init(&c, FUZZ_NOW - 1000, 0, NULL) < 0)
        return -1;
    snprintf(c.session_id, sizeof(c.session_id), "%s", "s-0123456789abcdef");
    snprintf(c.user, sizeof(c.user), "%s", "o*brien (ops)");
    snprintf(c.desktop, sizeof(c.desktop), "%s", "eng-0001");
    c.proto = AUTH_PROTO_RDP;
    snprintf(c.host, sizeof(c.host), "%s", "10.0.0.7");
    c.port = 3389;
    snprintf(c.audience, sizeof(c.audience), "%s", FUZZ_AUDIENCE);
    c.max_conns = 4;
    /* v1 (no policy) as older brokers mint it: the gateway still accepts those */
    t = auth_signer_sign_version(signer, &c, AUTH_TICKET_PAYLOAD_V1, NULL);
    rc |= t ? write_file(dir, "ticket-plain", t, strlen(t)) : -1;
    free(t);

    /* a ticket with a secret sealed to the fixed seal key: reaches the sealed field */
    k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, fuzz_seal_priv, 32);
    if (k && EVP_PKEY_get_raw_public_key(k, pub, &pn) == 1) {
        /* the sealer reads a PEM file in production; build it from the raw key here */
        EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
        char path[1024];
        FILE *f;
        snprintf(path, sizeof(path), "%s/.seal.pub", dir);
        f = fopen(path, "w");
        if (f && p && PEM_write_PUBKEY(f, p) == 1 && fclose(f) == 0) {
            f = NULL;
            sealer = auth_sealer_new(path, NULL);
        }
        if (f)
            fclose(f);
        remove(path);
        EVP_PKEY_free(p);
    }
    EVP_PKEY_free(k);
    if (sealer && auth_ticket_seal_secret(sealer, &c, "rdp-password", NULL) == 0) {
        c.proto = AUTH_PROTO_SPICE;
        t = auth_signer_sign_version(signer, &c, AUTH_TICKET_PAYLOAD_V1, NULL);
        rc |= t ? write_file(dir, "ticket-sealed", t, strlen(t)) : -1;
        free(t);
        rc |= write_file(dir, "sealed-blob", c.sealed, c.sealed_len);
    } else {
        rc = -1;
    }
    /* v2: an RDP ticket with sealed credentials and a strict pool policy */
    c.proto = AUTH_PROTO_RDP;
    c.clip_dir = AUTH_CLIP_NONE;
    c.clip_max = 4096;
    c.audio = false;
    if (sealer && auth_ticket_seal_secret(sealer, &c, "alice\nalice-pw\nCORP", NULL) == 0) {
        t = auth_signer_sign(signer, &c, NULL);
        rc |= t ? write_file(dir, "ticket-v2-policy", t, strlen(t)) : -1;
        free(t);
    } else {
        rc = -1;
    }
    auth_sealer_free(sealer);

    /* the bare payloads, for the payload decoder */
    if (auth_ticket_payload_kid((const unsigned char *)"\1xxxxxxxx", 9, kid) != AUTH_TICKET_OK)
        return -1;
    plen = auth_ticket_payload_encode(&c, kid, AUTH_TICKET_PAYLOAD_V1, payload, NULL);
    rc |= plen > 0 ? write_file(dir, "payload", payload, (size_t)plen) : -1;
    plen = auth_ticket_payload_encode(&c, kid, AUTH_TICKET_PAYLOAD_V2, payload, NULL);
    rc |= plen > 0 ? write_file(dir, "payload-v2", payload, (size_t)plen) : -1;
    if (plen > 0) { /* an audio flag bit this version does not define: must be refused */
        payload[plen - 1] |= 2;
        rc |= write_file(dir, "payload-v2-bad-flags", payload, (size_t)plen);
    }
    rc |= write_file(dir, "version-2", "pt2.AAAA.AAAA", 13);
    rc |= write_file(dir, "empty-parts", "pt1..", 5);
    rc |= write_file(dir, "b64-vector", "Zm9vYmFy", 8);
    return rc ? -1 : 0;
}
