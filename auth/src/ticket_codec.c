/*
 * ticket_codec.c - the binary payload of a ticket (v1 and v2), and the names of its enums.
 *
 * Layout (integers big-endian, strings u16 length + bytes, no NUL, no control bytes):
 *   u8 version(1|2) | kid[8] | id[16] | str session_id(<=64) | str user(<=255)
 *   | str desktop(<=127) | u8 proto | str host(<=255) | u16 port | str audience(<=127)
 *   | i64 issued_at | i64 expires_at | u16 max_conns | bytes sealed(<=512)
 *   v2 only: | u8 clip_dir(0..3) | u32 clip_max(<=AUTH_CLIP_MAX_LIMIT) | u8 flags
 *   (flags bit 0: audio; any other bit set is malformed, so a later flag cannot be
 *   silently ignored by an older gateway).
 * The decoder reads through a cursor that refuses to pass the end, checks each length
 * against the destination field before copying, and calls anything left over malformed.
 * It runs on bytes whose signature was already checked, but it is fuzzed as if it did not.
 *
 * Why the gateway still accepts v1: a v1 ticket is signed by our own broker key like a
 * v2 one, so accepting it lets nobody forge anything; it only means "no per-pool policy",
 * which is exactly what a v1 broker (that had none) meant. Refusing v1 would turn the
 * upgrade of a gateway ahead of its brokers into an outage for every launch. A v2 broker
 * never writes v1, so a pool's policy cannot be dropped by a downgrade either. Tickets
 * live seconds; v1 support can go once no v1 broker remains (docs/auth.md).
 */
#include <string.h>

#include <openssl/rand.h>

#include "ticket_priv.h"

const char *
auth_proto_str(enum auth_proto p)
{
    switch (p) {
    case AUTH_PROTO_RDP:
        return "rdp";
    case AUTH_PROTO_SPICE:
        return "spice";
    case AUTH_PROTO_VNC:
        return "vnc";
    }
    return "?";
}

int
auth_proto_parse(const char *s, enum auth_proto *out)
{
    static const enum auth_proto all[] = {AUTH_PROTO_RDP, AUTH_PROTO_SPICE, AUTH_PROTO_VNC};

    for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(s, auth_proto_str(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

const char *
auth_clip_dir_str(enum auth_clip_dir d)
{
    switch (d) {
    case AUTH_CLIP_BOTH:
        return "both";
    case AUTH_CLIP_TO_DESKTOP:
        return "to-desktop";
    case AUTH_CLIP_FROM_DESKTOP:
        return "from-desktop";
    case AUTH_CLIP_NONE:
        return "none";
    }
    return "?";
}

int
auth_clip_dir_parse(const char *s, enum auth_clip_dir *out)
{
    for (int i = AUTH_CLIP_BOTH; s && i <= AUTH_CLIP_NONE; i++) {
        if (strcmp(s, auth_clip_dir_str((enum auth_clip_dir)i)) == 0) {
            *out = (enum auth_clip_dir)i;
            return 0;
        }
    }
    return -1;
}

const char *
auth_ticket_reject_str(enum auth_ticket_reject r)
{
    switch (r) {
    case AUTH_TICKET_OK:
        return "ok";
    case AUTH_TICKET_MALFORMED:
        return "malformed";
    case AUTH_TICKET_TOO_LONG:
        return "too_long";
    case AUTH_TICKET_BAD_VERSION:
        return "bad_version";
    case AUTH_TICKET_BAD_SIGNATURE:
        return "bad_signature";
    case AUTH_TICKET_EXPIRED:
        return "expired";
    case AUTH_TICKET_NOT_YET_VALID:
        return "not_yet_valid";
    case AUTH_TICKET_WRONG_AUDIENCE:
        return "wrong_audience";
    case AUTH_TICKET_REPLAYED:
        return "replayed";
    case AUTH_TICKET_UNKNOWN_KEY:
        return "unknown_key";
    case AUTH_TICKET_LEDGER_FULL:
        return "ledger_full";
    }
    return "unknown";
}

int
auth_ticket_claims_init(struct auth_ticket_claims *c, int64_t now_ms, int64_t ttl_ms,
                        struct pt_err *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];

    memset(c, 0, sizeof(*c));
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return pt_err_set(err, PT_E_INTERNAL, "ticket id: the random generator failed");
    for (size_t i = 0; i < sizeof(raw); i++) {
        c->id[2 * i] = hex[raw[i] >> 4];
        c->id[2 * i + 1] = hex[raw[i] & 15];
    }
    c->issued_at = now_ms;
    c->expires_at = now_ms + (ttl_ms > 0 ? ttl_ms : AUTH_TICKET_DEFAULT_TTL);
    c->max_conns = 1;
    c->clip_dir = AUTH_CLIP_BOTH;
    c->audio = true;
    c->version = AUTH_TICKET_PAYLOAD_V2;
    return 0;
}

/* --- encoding ---------------------------------------------------------------------- */

struct wcur {
    unsigned char *p;
    size_t n, cap;
};

static void
put(struct wcur *w, const void *b, size_t n)
{
    /* Sizes are checked by the caller against AUTH_TICKET_PAYLOAD_MAX's derivation. */
    memcpy(w->p + w->n, b, n);
    w->n += n;
}

static void
put_u16(struct wcur *w, unsigned v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(w, b, 2);
}

static void
put_u32(struct wcur *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(w, b, 4);
}

static void
put_i64(struct wcur *w, int64_t v)
{
    unsigned char b[8];
    uint64_t u = (uint64_t)v;

    for (int i = 7; i >= 0; i--, u >>= 8)
        b[i] = (unsigned char)u;
    put(w, b, 8);
}

static bool
text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

static int
put_str(struct wcur *w, const char *s, size_t field_size, bool required, const char *what,
        struct pt_err *err)
{
    size_t len = strnlen(s, field_size);

    if (len == field_size)
        return pt_err_set(err, PT_E_INVALID, "ticket: %s is not terminated", what);
    if (required && len == 0)
        return pt_err_set(err, PT_E_INVALID, "ticket: %s is empty", what);
    if (!text_ok(s, len))
        return pt_err_set(err, PT_E_INVALID, "ticket: %s holds control characters", what);
    put_u16(w, (unsigned)len);
    put(w, s, len);
    return 0;
}

static int
hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

long
auth_ticket_payload_encode(const struct auth_ticket_claims *c,
                           const unsigned char kid[AUTH_TICKET_KID_LEN], int version,
                           unsigned char *out, struct pt_err *err)
{
    struct wcur w = {out, 0, AUTH_TICKET_PAYLOAD_MAX};
    unsigned char id[16], ver = (unsigned char)version, proto, b;

    if (version != AUTH_TICKET_PAYLOAD_V1 && version != AUTH_TICKET_PAYLOAD_V2)
        return pt_err_set(err, PT_E_INVALID, "ticket: unknown payload version %d", version);

    if (strnlen(c->id, sizeof(c->id)) != 32)
        return pt_err_set(err, PT_E_INVALID, "ticket: id must be 32 hex digits");
    for (size_t i = 0; i < 16; i++) {
        int hi = hex_nibble(c->id[2 * i]), lo = hex_nibble(c->id[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return pt_err_set(err, PT_E_INVALID, "ticket: id must be lower-case hex");
        id[i] = (unsigned char)(hi << 4 | lo);
    }
    if (c->proto != AUTH_PROTO_RDP && c->proto != AUTH_PROTO_SPICE && c->proto != AUTH_PROTO_VNC)
        return pt_err_set(err, PT_E_INVALID, "ticket: unknown protocol %d", (int)c->proto);
    if (c->port < 1 || c->port > 65535)
        return pt_err_set(err, PT_E_INVALID, "ticket: port %d out of range", c->port);
    if (c->max_conns < 1 || c->max_conns > AUTH_TICKET_MAX_CONNS)
        return pt_err_set(err, PT_E_INVALID, "ticket: max_conns %d not in 1..%d", c->max_conns,
                          AUTH_TICKET_MAX_CONNS);
    if (c->expires_at <= c->issued_at ||
        (uint64_t)c->expires_at - (uint64_t)c->issued_at > AUTH_TICKET_MAX_TTL)
        return pt_err_set(err, PT_E_INVALID, "ticket: lifetime must be in (0, %d] ms",
                          AUTH_TICKET_MAX_TTL);
    if (c->sealed_len > sizeof(c->sealed))
        return pt_err_set(err, PT_E_INVALID, "ticket: sealed secret too long");
    if ((unsigned)c->clip_dir > AUTH_CLIP_NONE)
        return pt_err_set(err, PT_E_INVALID, "ticket: unknown clipboard direction %d",
                          (int)c->clip_dir);
    if (c->clip_max > AUTH_CLIP_MAX_LIMIT)
        return pt_err_set(err, PT_E_INVALID, "ticket: clip_max %u over %u bytes", c->clip_max,
                          AUTH_CLIP_MAX_LIMIT);

    put(&w, &ver, 1);
    put(&w, kid, AUTH_TICKET_KID_LEN);
    put(&w, id, sizeof(id));
    if (put_str(&w, c->session_id, sizeof(c->session_id), true, "session_id", err) < 0 ||
        put_str(&w, c->user, sizeof(c->user), true, "user", err) < 0 ||
        put_str(&w, c->desktop, sizeof(c->desktop), true, "desktop", err) < 0)
        return -1;
    proto = (unsigned char)c->proto;
    put(&w, &proto, 1);
    if (put_str(&w, c->host, sizeof(c->host), true, "host", err) < 0)
        return -1;
    put_u16(&w, (unsigned)c->port);
    if (put_str(&w, c->audience, sizeof(c->audience), true, "audience", err) < 0)
        return -1;
    put_i64(&w, c->issued_at);
    put_i64(&w, c->expires_at);
    put_u16(&w, (unsigned)c->max_conns);
    put_u16(&w, (unsigned)c->sealed_len);
    put(&w, c->sealed, c->sealed_len);
    if (version == AUTH_TICKET_PAYLOAD_V2) {
        b = (unsigned char)c->clip_dir;
        put(&w, &b, 1);
        put_u32(&w, c->clip_max);
        b = c->audio ? 1 : 0;
        put(&w, &b, 1);
    }
    return (long)w.n;
}

/* --- decoding ---------------------------------------------------------------------- */

struct rcur {
    const unsigned char *p;
    size_t n, off;
    bool bad;
};

static const unsigned char *
take(struct rcur *r, size_t n)
{
    const unsigned char *b;

    if (r->bad || n > r->n - r->off) {
        r->bad = true;
        return NULL;
    }
    b = r->p + r->off;
    r->off += n;
    return b;
}

static unsigned
get_u8(struct rcur *r)
{
    const unsigned char *b = take(r, 1);
    return b ? b[0] : 0;
}

static unsigned
get_u16(struct rcur *r)
{
    const unsigned char *b = take(r, 2);
    return b ? (unsigned)b[0] << 8 | b[1] : 0;
}

static uint32_t
get_u32(struct rcur *r)
{
    const unsigned char *b = take(r, 4);
    return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
}

static int64_t
get_i64(struct rcur *r)
{
    const unsigned char *b = take(r, 8);
    uint64_t u = 0;

    for (int i = 0; b && i < 8; i++)
        u = u << 8 | b[i];
    return (int64_t)u;
}

/* get_str() - a length-prefixed string into @dst (size @cap, NUL-terminated). */
static void
get_str(struct rcur *r, char *dst, size_t cap, bool required)
{
    unsigned len = get_u16(r);
    const unsigned char *b;

    if (r->bad || len >= cap || (required && len == 0)) {
        r->bad = true;
        return;
    }
    b = take(r, len);
    if (!b || !text_ok((const char *)b, len)) {
        r->bad = true;
        return;
    }
    memcpy(dst, b, len);
    dst[len] = '\0';
}

enum auth_ticket_reject
auth_ticket_payload_kid(const unsigned char *p, size_t n, unsigned char kid[AUTH_TICKET_KID_LEN])
{
    if (n < 1 + AUTH_TICKET_KID_LEN)
        return AUTH_TICKET_MALFORMED;
    if (p[0] != AUTH_TICKET_PAYLOAD_V1 && p[0] != AUTH_TICKET_PAYLOAD_V2)
        return AUTH_TICKET_BAD_VERSION;
    memcpy(kid, p + 1, AUTH_TICKET_KID_LEN);
    return AUTH_TICKET_OK;
}

enum auth_ticket_reject
auth_ticket_payload_decode(const unsigned char *p, size_t n, struct auth_ticket_claims *out)
{
    static const char hex[] = "0123456789abcdef";
    struct rcur r = {p, n, 0, false};
    const unsigned char *id;
    unsigned proto, sealed_len, clip_dir = AUTH_CLIP_BOTH, flags = 1;
    int version;

    memset(out, 0, sizeof(*out));
    if (n > AUTH_TICKET_PAYLOAD_MAX)
        return AUTH_TICKET_MALFORMED;
    if (n >= 1 && p[0] != AUTH_TICKET_PAYLOAD_V1 && p[0] != AUTH_TICKET_PAYLOAD_V2)
        return AUTH_TICKET_BAD_VERSION;
    version = n >= 1 ? p[0] : 0;
    take(&r, 1 + AUTH_TICKET_KID_LEN);
    id = take(&r, 16);
    for (size_t i = 0; id && i < 16; i++) {
        out->id[2 * i] = hex[id[i] >> 4];
        out->id[2 * i + 1] = hex[id[i] & 15];
    }
    get_str(&r, out->session_id, sizeof(out->session_id), true);
    get_str(&r, out->user, sizeof(out->user), true);
    get_str(&r, out->desktop, sizeof(out->desktop), true);
    proto = get_u8(&r);
    get_str(&r, out->host, sizeof(out->host), true);
    out->port = (int)get_u16(&r);
    get_str(&r, out->audience, sizeof(out->audience), true);
    out->issued_at = get_i64(&r);
    out->expires_at = get_i64(&r);
    out->max_conns = (int)get_u16(&r);
    sealed_len = get_u16(&r);
    if (!r.bad && sealed_len <= sizeof(out->sealed)) {
        const unsigned char *b = take(&r, sealed_len);
        if (b) {
            memcpy(out->sealed, b, sealed_len);
            out->sealed_len = sealed_len;
        }
    } else {
        r.bad = true;
    }
    if (version == AUTH_TICKET_PAYLOAD_V2) {
        clip_dir = get_u8(&r);
        out->clip_max = get_u32(&r);
        flags = get_u8(&r);
    }
    if (r.bad || r.off != n || proto > AUTH_PROTO_VNC || out->port < 1 || out->max_conns < 1 ||
        out->max_conns > AUTH_TICKET_MAX_CONNS || out->expires_at <= out->issued_at ||
        (uint64_t)out->expires_at - (uint64_t)out->issued_at > AUTH_TICKET_MAX_TTL ||
        clip_dir > AUTH_CLIP_NONE || out->clip_max > AUTH_CLIP_MAX_LIMIT || (flags & ~1u) != 0) {
        memset(out, 0, sizeof(*out));
        return AUTH_TICKET_MALFORMED;
    }
    out->proto = (enum auth_proto)proto;
    out->clip_dir = (enum auth_clip_dir)clip_dir;
    out->audio = (flags & 1) != 0;
    out->version = version;
    return AUTH_TICKET_OK;
}
