/*
 * ticket.h - tunnel tickets: signed by the broker, verified by the gateway.
 *
 * A ticket authorises one browser to open up to max_conns WebSockets to one desktop
 * endpoint before it expires (tens of seconds). It is Ed25519-signed (OpenSSL EVP) by the
 * broker; gateways hold only the public key(s). Secrets for the desktop (a display
 * password, RDP credentials) travel sealed for the gateway (X25519 + HKDF-SHA256 +
 * ChaCha20-Poly1305, see auth_seal()), never in clear.
 * Encoding: "pt1." base64url(payload) "." base64url(signature), payload a versioned,
 * length-prefixed binary record; the parser is written for hostile bytes: the length is
 * bounded before anything is decoded, base64url is strict (no padding, no stray bytes,
 * canonical trailing bits), and nothing is allocated from the input.
 *
 * Payload versions: the signer writes v2 (v1 plus the per-pool session policy: clipboard
 * direction and size limit, audio). The verifier also accepts v1, decoded with the policy
 * that v1 brokers meant (no pool restriction: the gateway's own configuration alone), so
 * gateways can be upgraded before brokers; see ticket_codec.c for why that is safe.
 *
 * This header is the only part of auth/ the gateway links (libportico_auth_ticket: OpenSSL
 * only, no LDAP). Thread: any; objects are immutable after load except the ledger, which
 * belongs to one thread. Tickets, keys and sealed secrets are never logged.
 */
#ifndef PT_AUTH_TICKET_H
#define PT_AUTH_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AUTH_TICKET_MAX_LEN     4096    /* encoded; longer input is refused before decoding */
#define AUTH_TICKET_DEFAULT_TTL 30000   /* ms */
#define AUTH_TICKET_MAX_TTL     3600000 /* ms; a longer window is refused as malformed */
#define AUTH_TICKET_SKEW        5000    /* ms of clock skew tolerated on both ends */
#define AUTH_TICKET_MAX_CONNS   64      /* upper bound of max_conns */
#define AUTH_SEALED_MAX         512     /* bytes of a sealed blob (sizeof claims.sealed) */
#define AUTH_SEAL_OVERHEAD      61      /* version + ephemeral key + nonce + tag */
#define AUTH_SECRET_MAX         (AUTH_SEALED_MAX - AUTH_SEAL_OVERHEAD) /* 451 bytes */

/* Which way clipboard text may flow in a session (a pool's `clipboard` key). The values
 * are the wire encoding: stable, appended only. */
enum auth_clip_dir {
    AUTH_CLIP_BOTH = 0,
    AUTH_CLIP_TO_DESKTOP = 1,   /* browser -> desktop only */
    AUTH_CLIP_FROM_DESKTOP = 2, /* desktop -> browser only */
    AUTH_CLIP_NONE = 3,
};
#define AUTH_CLIP_MAX_LIMIT (16u * 1024 * 1024) /* largest clip_max a ticket may carry */
/* auth_clip_dir_str() - "both", "to-desktop", "from-desktop", "none" ("?" otherwise). */
const char *auth_clip_dir_str(enum auth_clip_dir d);
/* auth_clip_dir_parse() - the reverse; 0, or -1 for anything else (@out untouched). */
int auth_clip_dir_parse(const char *s, enum auth_clip_dir *out);

enum auth_proto {
    AUTH_PROTO_RDP,
    AUTH_PROTO_SPICE,
    AUTH_PROTO_VNC,
};
/* auth_proto_str() - "rdp", "spice", "vnc" ("?" for an out-of-range value). */
const char *auth_proto_str(enum auth_proto p);
/* auth_proto_parse() - the reverse; 0, or -1 for an unknown name. */
int auth_proto_parse(const char *s, enum auth_proto *out);

struct auth_ticket_claims {
    char id[33]; /* 128-bit random, lower-case hex (auth_ticket_claims_init() fills it) */
    char session_id[65];
    char user[256];
    char desktop[128];
    enum auth_proto proto;
    char host[256];            /* endpoint the gateway connects to */
    int port;                  /* 1..65535 */
    char audience[128];        /* gateway id */
    int64_t issued_at;         /* epoch ms */
    int64_t expires_at;        /* epoch ms */
    int max_conns;             /* connections allowed within the window, 1..64 */
    unsigned char sealed[512]; /* secret sealed for the gateway; sealed_len 0 if none */
    size_t sealed_len;
    /* v2: the pool's session policy, applied by the gateway on top of its own config (the
     * stricter of the two wins). A v1 ticket decodes as BOTH / 0 / true: no pool limit. */
    enum auth_clip_dir clip_dir;
    uint32_t clip_max; /* bytes of clipboard text, 0 = no pool limit; <= AUTH_CLIP_MAX_LIMIT */
    bool audio;        /* false: the session gets no audio output */
    int version;       /* payload version it was decoded from (set by the verifier) */
};

/*
 * auth_ticket_claims_init() - zero @c, give it a fresh random id, issued_at = @now_ms,
 * expires_at = @now_ms + @ttl_ms (AUTH_TICKET_DEFAULT_TTL if @ttl_ms <= 0), max_conns 1,
 * the permissive policy (clipboard both ways, no pool limit, audio on). The caller fills
 * the rest. Returns 0, or -1 if the random generator failed.
 */
int auth_ticket_claims_init(struct auth_ticket_claims *c, int64_t now_ms, int64_t ttl_ms,
                            struct pt_err *err);

/* Why a ticket was refused: each reason has a distinct code for logs and close frames.
 * Values are stable (appended only). */
enum auth_ticket_reject {
    AUTH_TICKET_OK = 0,
    AUTH_TICKET_MALFORMED,      /* bad structure, base64url, field or truncation */
    AUTH_TICKET_TOO_LONG,       /* longer than AUTH_TICKET_MAX_LEN: not even decoded */
    AUTH_TICKET_BAD_VERSION,    /* "ptN." with N != 1, or a payload version not 1 or 2 */
    AUTH_TICKET_BAD_SIGNATURE,  /* forged or altered */
    AUTH_TICKET_EXPIRED,        /* now > expires_at + skew */
    AUTH_TICKET_NOT_YET_VALID,  /* issued_at > now + skew */
    AUTH_TICKET_WRONG_AUDIENCE, /* minted for another gateway */
    AUTH_TICKET_REPLAYED,       /* used more than max_conns times (ledger) */
    AUTH_TICKET_UNKNOWN_KEY,    /* signed by a key that is neither current nor previous */
    AUTH_TICKET_LEDGER_FULL,    /* the ledger has no room for a new ticket id: retry later */
};
/* auth_ticket_reject_str() - stable snake_case name, e.g. "expired". */
const char *auth_ticket_reject_str(enum auth_ticket_reject r);

struct auth_signer;   /* broker: Ed25519 private key */
struct auth_verifier; /* gateway: current + previous public keys */
struct auth_ledger;   /* gateway: connections used per ticket id, pruned on expiry */

/*
 * auth_signer_load_or_create() - load the PEM (PKCS#8) Ed25519 private key at @path, or
 * create one with mode 0600 if absent (atomically: a concurrent creator cannot leave a
 * half-written file). Writes the public key next to it as "@path.pub" (0644) when that is
 * missing. A key file readable by group or others is refused (PT_E_INVALID). Returns new.
 */
struct auth_signer *auth_signer_load_or_create(const char *path, struct pt_err *err);
void auth_signer_free(struct auth_signer *s); /* NULL-safe; wipes the key */
/* auth_signer_sign() - returns new encoded NUL-terminated v2 ticket (caller frees with
 * free()), or NULL with @err (PT_E_INVALID) when a claim is out of range (id not 32 hex
 * digits, a string too long or holding control bytes, port, max_conns, ttl, clip_dir,
 * clip_max). @c->version is ignored. */
char *auth_signer_sign(const struct auth_signer *s, const struct auth_ticket_claims *c,
                       struct pt_err *err);

/* auth_verifier_new() - from a current public key PEM file and an optional previous one
 * (rotation; NULL or "" for none). Returns new. */
struct auth_verifier *auth_verifier_new(const char *pub_path, const char *prev_pub_path,
                                        struct pt_err *err);
void auth_verifier_free(struct auth_verifier *v);
/* auth_verifier_check() - decode, verify signature, time window (@now_ms, AUTH_TICKET_SKEW
 * allowed) and @audience (exact match). Fills @out only on success (zeroed otherwise).
 * Returns AUTH_TICKET_OK or the reason. Never reads past @len, never allocates from the
 * input. It does not count connections: call auth_ledger_use() next. */
enum auth_ticket_reject auth_verifier_check(const struct auth_verifier *v, const char *ticket,
                                            size_t len, const char *audience, int64_t now_ms,
                                            struct auth_ticket_claims *out);

/* auth_ledger_new() - room for @max_entries live ticket ids (at least 1). Returns new. */
struct auth_ledger *auth_ledger_new(size_t max_entries);
/* auth_ledger_new_shared() - the same, but counted in memory shared with the processes
 * fork()ed after this call (a gateway's workers), under a process-shared robust mutex:
 * a ticket's max_conns holds across all of them. Returns new, or NULL with @err. Each
 * process calls auth_ledger_free() on its copy. */
struct auth_ledger *auth_ledger_new_shared(size_t max_entries, struct pt_err *err);
void auth_ledger_free(struct auth_ledger *l);
/* auth_ledger_use() - count one connection for @c; AUTH_TICKET_REPLAYED past max_conns,
 * AUTH_TICKET_LEDGER_FULL when @max_entries unexpired ids are already held. Entries are
 * dropped once their ticket has expired (plus skew). Thread: the owner's only (a private
 * ledger); any thread of any process that shares it (a shared one). */
enum auth_ticket_reject auth_ledger_use(struct auth_ledger *l, const struct auth_ticket_claims *c,
                                        int64_t now_ms);
/* auth_ledger_count() - live entries (for tests and metrics). */
size_t auth_ledger_count(struct auth_ledger *l);

/* --- sealed secrets: the broker encrypts to the gateway's X25519 public key ------------- */

struct auth_seal_key; /* gateway: X25519 private key (opens sealed blobs) */
struct auth_sealer;   /* broker: a gateway's X25519 public key (seals for it) */

/* auth_seal_key_load_or_create() - as auth_signer_load_or_create() for an X25519 key;
 * writes "@path.pub" for the broker. Returns new. */
struct auth_seal_key *auth_seal_key_load_or_create(const char *path, struct pt_err *err);
void auth_seal_key_free(struct auth_seal_key *k); /* NULL-safe; wipes the key */

/* auth_sealer_new() - from a gateway's X25519 public key PEM file. Returns new. */
struct auth_sealer *auth_sealer_new(const char *pub_path, struct pt_err *err);
void auth_sealer_free(struct auth_sealer *s);

/*
 * auth_seal() - encrypt @secret (@len <= AUTH_SECRET_MAX bytes) for the gateway holding the
 * private half of @s: a fresh ephemeral X25519 key, HKDF-SHA256 over the shared secret and
 * both public keys, ChaCha20-Poly1305 with @aad (may be NULL/0, e.g. the ticket id) bound in.
 * Writes len + AUTH_SEAL_OVERHEAD bytes into @out (capacity @cap) and sets *@out_len.
 * Returns 0 or -1 (PT_E_INVALID: too long / too small; PT_E_INTERNAL: OpenSSL).
 * Intermediate key material is wiped.
 */
int auth_seal(const struct auth_sealer *s, const void *secret, size_t len, const void *aad,
              size_t aad_len, unsigned char *out, size_t cap, size_t *out_len, struct pt_err *err);
/*
 * auth_unseal() - the reverse with the gateway's key. Writes the plaintext into @out
 * (capacity @cap; a NUL is appended when there is room so text secrets can be used as
 * strings) and sets *@out_len. Returns 0, or -1 with PT_E_AUTH when the blob was altered,
 * sealed for another key or with other @aad, PT_E_INVALID when malformed. The caller
 * wipes @out with pt_wipe() once done.
 */
int auth_unseal(const struct auth_seal_key *k, const unsigned char *in, size_t len, const void *aad,
                size_t aad_len, unsigned char *out, size_t cap, size_t *out_len,
                struct pt_err *err);

/* auth_ticket_seal_secret() - convenience for the broker: seal @secret into @c->sealed with
 * @c->id as associated data. Returns 0 or -1. */
int auth_ticket_seal_secret(const struct auth_sealer *s, struct auth_ticket_claims *c,
                            const char *secret, struct pt_err *err);
/* auth_ticket_unseal_secret() - for the gateway: open @c->sealed into @out (NUL-terminated,
 * capacity @cap >= AUTH_SECRET_MAX + 1 is always enough). Returns 0, or -1 (also when the
 * ticket carries no secret: PT_E_NOTFOUND). */
int auth_ticket_unseal_secret(const struct auth_seal_key *k, const struct auth_ticket_claims *c,
                              char *out, size_t cap, struct pt_err *err);

#endif
