/*
 * ticket.h - tunnel tickets: signed by the broker, verified by the gateway.
 *
 * A ticket authorises one browser to open up to max_conns WebSockets to one desktop
 * endpoint before it expires (tens of seconds). It is Ed25519-signed (OpenSSL EVP) by the
 * broker; gateways hold only the public key(s). Secrets for the desktop (a display
 * password, RDP credentials) travel sealed for the gateway (X25519 + AEAD), never in clear.
 * Encoding: "pt1." base64url(payload) "." base64url(signature), payload a versioned,
 * length-prefixed binary record; the parser is written for hostile bytes.
 *
 * This header is the only part of auth/ the gateway links (libportico_auth_ticket: OpenSSL
 * only, no LDAP). Thread: any; objects are immutable after load except the ledger, which
 * belongs to one thread.
 */
#ifndef PT_AUTH_TICKET_H
#define PT_AUTH_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AUTH_TICKET_MAX_LEN 4096 /* encoded; longer input is refused before decoding */

enum auth_proto {
    AUTH_PROTO_RDP,
    AUTH_PROTO_SPICE,
    AUTH_PROTO_VNC,
};
const char *auth_proto_str(enum auth_proto p);
int auth_proto_parse(const char *s, enum auth_proto *out);

struct auth_ticket_claims {
    char id[33]; /* 128-bit random, hex */
    char session_id[65];
    char user[256];
    char desktop[128];
    enum auth_proto proto;
    char host[256]; /* endpoint the gateway connects to */
    int port;
    char audience[128];        /* gateway id */
    int64_t issued_at;         /* epoch ms */
    int64_t expires_at;        /* epoch ms */
    int max_conns;             /* connections allowed within the window */
    unsigned char sealed[512]; /* secret sealed for the gateway; sealed_len 0 if none */
    size_t sealed_len;
};

/* Why a ticket was refused: each reason has a distinct code for logs and close frames. */
enum auth_ticket_reject {
    AUTH_TICKET_OK = 0,
    AUTH_TICKET_MALFORMED,
    AUTH_TICKET_TOO_LONG,
    AUTH_TICKET_BAD_VERSION,
    AUTH_TICKET_BAD_SIGNATURE,
    AUTH_TICKET_EXPIRED,
    AUTH_TICKET_NOT_YET_VALID,
    AUTH_TICKET_WRONG_AUDIENCE,
    AUTH_TICKET_REPLAYED,
};
const char *auth_ticket_reject_str(enum auth_ticket_reject r);

struct auth_signer;   /* broker: Ed25519 private key */
struct auth_verifier; /* gateway: current + previous public keys */
struct auth_ledger;   /* gateway: connections used per ticket id, pruned on expiry */

/* auth_signer_load_or_create() - load the PEM private key at @path, or create one with
 * mode 0600 if absent. Writes the public key next to it as @path.pub. Returns new. */
struct auth_signer *auth_signer_load_or_create(const char *path, struct pt_err *err);
void auth_signer_free(struct auth_signer *s);
/* auth_signer_sign() - returns new encoded ticket (caller frees with free()). */
char *auth_signer_sign(const struct auth_signer *s, const struct auth_ticket_claims *c,
                       struct pt_err *err);

/* auth_verifier_new() - from a current public key PEM file and an optional previous one
 * (rotation). Returns new. */
struct auth_verifier *auth_verifier_new(const char *pub_path, const char *prev_pub_path,
                                        struct pt_err *err);
void auth_verifier_free(struct auth_verifier *v);
/* auth_verifier_check() - decode, verify signature, time window (@now_ms, small skew
 * allowed) and @audience. Fills @out. Returns AUTH_TICKET_OK or the reason. */
enum auth_ticket_reject auth_verifier_check(const struct auth_verifier *v, const char *ticket,
                                            size_t len, const char *audience, int64_t now_ms,
                                            struct auth_ticket_claims *out);

struct auth_ledger *auth_ledger_new(size_t max_entries);
void auth_ledger_free(struct auth_ledger *l);
/* auth_ledger_use() - count one connection for @c; AUTH_TICKET_REPLAYED past max_conns. */
enum auth_ticket_reject auth_ledger_use(struct auth_ledger *l, const struct auth_ticket_claims *c,
                                        int64_t now_ms);

#endif
