/*
 * spice_link.c - the SPICE display password, given to the desktop on the browser's behalf.
 *
 * Every SPICE channel starts with a link exchange: the client's SpiceLinkMess, the
 * server's SpiceLinkReply carrying a 1024-bit RSA public key, then the client's password
 * ("ticket") RSA-OAEP encrypted with that key (128 bytes), preceded by a 4-byte auth
 * mechanism when both sides announced AUTH_SELECTION. The relay forwards the link
 * messages untouched, reads the server's key and capabilities as they pass, and replaces
 * the browser's 128 bytes (whatever the browser put there: it has no password) with the
 * password the broker sealed into the ticket, encrypted with the desktop's key. After
 * that the channel is a plain relay. spice-html5 and QEMU do exactly this per channel.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/mem.h"
#include "gw_priv.h"

#define HDR_LEN       16  /* "REDQ", major, minor, size */
#define PUBKEY_LEN    162 /* SPICE_TICKET_PUBKEY_BYTES: X.509 SubjectPublicKeyInfo */
#define TICKET_LEN    128 /* RSA-1024 ciphertext */
#define CAP_AUTH_SEL  (1u << 0)
#define LINK_MAX_BODY 1024

static uint32_t
le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The first common-caps word of a link message or reply body, 0 if none. */
static uint32_t
first_common_cap(const unsigned char *body, size_t len, size_t ncaps_off, size_t caps_off_off)
{
    uint32_t n = le32(body + ncaps_off), off = le32(body + caps_off_off);

    if (n == 0 || off > len || len - off < 4)
        return 0;
    return le32(body + off);
}

void
spice_link_init(struct spice_link *sl, const char *password)
{
    memset(sl, 0, sizeof(*sl));
    sl->password = pt_xstrdup(password);
    sl->cneed = HDR_LEN;
    sl->sneed = HDR_LEN;
}

void
spice_link_fini(struct spice_link *sl)
{
    pt_free_secret(sl->password);
    sl->password = NULL;
}

/* Accumulate one link message (header + body) into @buf; true once complete. */
static int
take_message(unsigned char *buf, size_t *have, size_t *need, const unsigned char **p, size_t *len,
             struct pt_err *err)
{
    while (*len && *have < *need) {
        size_t t = *need - *have < *len ? *need - *have : *len;
        memcpy(buf + *have, *p, t);
        *have += t;
        *p += t;
        *len -= t;
        if (*have == HDR_LEN && *need == HDR_LEN) {
            uint32_t size = le32(buf + 12);
            if (memcmp(buf, "REDQ", 4) != 0 || size > LINK_MAX_BODY)
                return pt_err_set(err, PT_E_INVALID, "not a SPICE link message");
            /* an empty body would leave need == HDR_LEN: never complete, and the caller's
             * loop would spin on the next byte (found by fuzz_spice_link) */
            if (size == 0)
                return pt_err_set(err, PT_E_INVALID, "empty SPICE link message");
            *need = HDR_LEN + size;
        }
    }
    return *have == *need && *need > HDR_LEN ? 1 : 0;
}

int
spice_link_server(struct spice_link *sl, const unsigned char *p, size_t len, struct pt_err *err)
{
    int done;

    if (sl->state == SPICE_LINK_DONE || sl->server_done)
        return 0;
    done = take_message(sl->sbuf, &sl->slen, &sl->sneed, &p, &len, err);
    if (done < 0)
        return -1;
    if (done) {
        const unsigned char *b = sl->sbuf + HDR_LEN;
        size_t blen = sl->slen - HDR_LEN;
        if (blen < 4 + PUBKEY_LEN + 12)
            return pt_err_set(err, PT_E_INVALID, "short SPICE link reply");
        if (le32(b) != 0) { /* the desktop refused the link itself: nothing to do */
            sl->state = SPICE_LINK_DONE;
            return 0;
        }
        memcpy(sl->pubkey, b + 4, PUBKEY_LEN);
        sl->server_caps = first_common_cap(b, blen, 4 + PUBKEY_LEN, 4 + PUBKEY_LEN + 8);
        sl->server_done = true;
        pt_debug("event=spice_link_reply server_caps=%#x", sl->server_caps);
    }
    return 0;
}

static int
encrypt_ticket(struct spice_link *sl, unsigned char out[TICKET_LEN], struct pt_err *err)
{
    const unsigned char *k = sl->pubkey;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &k, PUBKEY_LEN);
    EVP_PKEY_CTX *c = NULL;
    size_t outlen = TICKET_LEN;
    int rc = -1;

    if (!key) {
        pt_err_set(err, PT_E_INVALID, "desktop sent an unreadable SPICE public key");
        goto out;
    }
    c = EVP_PKEY_CTX_new(key, NULL);
    /* SPICE encrypts the password with its terminating NUL, RSA-OAEP (SHA-1). */
    if (!c || EVP_PKEY_encrypt_init(c) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_encrypt(c, out, &outlen, (const unsigned char *)sl->password,
                         strlen(sl->password) + 1) <= 0 ||
        outlen != TICKET_LEN) {
        pt_err_set(err, PT_E_INTERNAL, "cannot encrypt the SPICE password for the desktop");
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(key);
    return rc;
}

int
spice_link_client(struct spice_link *sl, const unsigned char *p, size_t len,
                  spice_link_emit_fn *emit, void *opaque, struct pt_err *err)
{
    while (len) {
        switch (sl->state) {
        case SPICE_LINK_CLIENT_MESS: {
            const unsigned char *start = p;
            int done = take_message(sl->cbuf, &sl->clen, &sl->cneed, &p, &len, err);
            if (done < 0)
                return -1;
            emit(opaque, start, (size_t)(p - start)); /* the link message goes as it is */
            if (done) {
                const unsigned char *b = sl->cbuf + HDR_LEN;
                size_t blen = sl->clen - HDR_LEN;
                if (blen < 18)
                    return pt_err_set(err, PT_E_INVALID, "short SPICE link message");
                sl->client_caps = first_common_cap(b, blen, 6, 14);
                pt_debug("event=spice_link_mess client_caps=%#x", sl->client_caps);
                sl->state = SPICE_LINK_CLIENT_AUTH;
                sl->mech_left = 0;
                sl->ticket_left = TICKET_LEN;
            }
            break;
        }
        case SPICE_LINK_CLIENT_AUTH: {
            if (!sl->server_done)
                return pt_err_set(err, PT_E_INVALID,
                                  "browser sent its SPICE ticket before the desktop's key");
            if (sl->ticket_left == TICKET_LEN && !sl->mech_started) {
                sl->mech_started = true;
                sl->mech_left = (sl->client_caps & sl->server_caps & CAP_AUTH_SEL) ? 4 : 0;
            }
            if (sl->mech_left) { /* auth mechanism: forwarded */
                size_t t = sl->mech_left < len ? sl->mech_left : len;
                emit(opaque, p, t);
                p += t;
                len -= t;
                sl->mech_left -= t;
                break;
            }
            size_t t = sl->ticket_left < len ? sl->ticket_left : len;
            p += t; /* the browser's ticket is dropped */
            len -= t;
            sl->ticket_left -= t;
            if (sl->ticket_left == 0) {
                unsigned char ticket[TICKET_LEN];
                if (encrypt_ticket(sl, ticket, err) < 0)
                    return -1;
                emit(opaque, ticket, TICKET_LEN);
                pt_debug("event=spice_ticket_sent auth_selection=%d",
                         (sl->client_caps & sl->server_caps & CAP_AUTH_SEL) != 0);
                sl->state = SPICE_LINK_DONE;
            }
            break;
        }
        case SPICE_LINK_DONE:
            emit(opaque, p, len);
            return 0;
        }
    }
    return 0;
}
