/*
 * session.c - sign-in sessions: random ids, hashed keys, idle and absolute expiry, CSRF.
 *
 * The id never reaches the store: the key is SHA-256(id), so the lookup path compares
 * digests of what the browser sent, and a store dump cannot be replayed as cookies. The
 * CSRF token is HMAC-SHA256(key = id bytes, "portico csrf v1"), recomputable from the
 * cookie, so it is never stored either; it is checked with a constant-time comparison.
 */
#include "auth/session.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/mem.h"
#include "common/str.h"
#include "session_priv.h"

struct auth_sessions {
    struct auth_session_conf conf;
    struct auth_session_store *store;
};

static const char hexdig[] = "0123456789abcdef";

static void
hex_encode(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[b[i] >> 4];
        out[2 * i + 1] = hexdig[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* auth_session_id_decode() - 64 lower-case hex characters → 32 bytes; -1 for anything else. */
int
auth_session_id_decode(const char *id, unsigned char raw[32])
{
    if (!id || strnlen(id, AUTH_SESSION_ID_LEN + 1) != AUTH_SESSION_ID_LEN)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        const char *hi = strchr(hexdig, id[2 * i]), *lo = strchr(hexdig, id[2 * i + 1]);
        if (!id[2 * i] || !id[2 * i + 1] || !hi || !lo)
            return -1;
        raw[i] = (unsigned char)((hi - hexdig) << 4 | (lo - hexdig));
    }
    return 0;
}

static int
id_key(const char *id, unsigned char key[AUTH_SESSION_KEY_LEN])
{
    unsigned char raw[32];

    if (auth_session_id_decode(id, raw) < 0)
        return -1;
    SHA256(raw, sizeof(raw), key);
    pt_wipe(raw, sizeof(raw));
    return 0;
}

bool
auth_session_has_pool(const struct auth_session *s, const char *pool)
{
    size_t n = strlen(pool);

    for (const char *p = s->pools; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && memcmp(p, pool, n) == 0)
            return true;
        if (!nl)
            break;
        p = nl + 1;
    }
    return false;
}

struct auth_sessions *
auth_sessions_new(const struct auth_session_conf *conf, struct auth_session_store **store)
{
    struct auth_sessions *ss = pt_xcalloc(1, sizeof(*ss));

    ss->conf.idle_ms = conf && conf->idle_ms > 0 ? conf->idle_ms : 30 * 60 * 1000;
    ss->conf.absolute_ms = conf && conf->absolute_ms > 0 ? conf->absolute_ms : 12 * 3600 * 1000;
    ss->store = store && *store ? pt_steal(store) : auth_session_store_memory_new(100000);
    return ss;
}

void
auth_sessions_free(struct auth_sessions *ss)
{
    if (!ss)
        return;
    ss->store->ops->free(ss->store);
    free(ss);
}

int
auth_session_csrf(const char *id, char out[AUTH_SESSION_CSRF_LEN + 1])
{
    static const char label[] = "portico csrf v1";
    unsigned char raw[32], mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (auth_session_id_decode(id, raw) < 0)
        return -1;
    HMAC(EVP_sha256(), raw, sizeof(raw), (const unsigned char *)label, sizeof(label) - 1, mac, &n);
    pt_wipe(raw, sizeof(raw));
    hex_encode(mac, 32, out);
    return 0;
}

bool
auth_session_csrf_check(const char *id, const char *token)
{
    char want[AUTH_SESSION_CSRF_LEN + 1];
    bool ok;

    if (!token || auth_session_csrf(id, want) < 0 ||
        strnlen(token, AUTH_SESSION_CSRF_LEN + 1) != AUTH_SESSION_CSRF_LEN)
        return false;
    ok = pt_mem_eq_ct(want, token, AUTH_SESSION_CSRF_LEN);
    pt_wipe(want, sizeof(want));
    return ok;
}

int
auth_session_create(struct auth_sessions *ss, const struct auth_session *s, const char *password,
                    int64_t now_ms, char id[AUTH_SESSION_ID_LEN + 1],
                    char csrf[AUTH_SESSION_CSRF_LEN + 1], struct pt_err *err)
{
    unsigned char raw[32], key[AUTH_SESSION_KEY_LEN];
    struct auth_session rec = *s;
    int rc = -1;

    memset(rec.sealed_pw, 0, sizeof(rec.sealed_pw)); /* only create() writes it */
    rec.sealed_pw_len = 0;
    if (password && strlen(password) > AUTH_SESSION_PW_MAX)
        return pt_err_set(err, PT_E_INVALID,
                          "session: a password over %d bytes cannot be kept for single sign-on",
                          AUTH_SESSION_PW_MAX);
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return pt_err_set(err, PT_E_INTERNAL, "session: the random generator failed");
    hex_encode(raw, sizeof(raw), id);
    SHA256(raw, sizeof(raw), key);
    if (password && auth_session_seal_pw(raw, &rec, password, err) < 0) {
        pt_wipe(raw, sizeof(raw));
        goto out;
    }
    pt_wipe(raw, sizeof(raw));
    rec.created_ms = now_ms;
    rec.last_seen_ms = now_ms;
    if (ss->store->ops->put(ss->store, key, &rec, err) < 0) {
        auth_sessions_sweep(ss, now_ms); /* make room once, then give up */
        if (ss->store->ops->put(ss->store, key, &rec, err) < 0)
            goto out;
    }
    auth_session_csrf(id, csrf);
    rc = 0;
out:
    pt_wipe(&rec, sizeof(rec));
    if (rc < 0)
        pt_wipe(id, AUTH_SESSION_ID_LEN + 1);
    return rc;
}

static bool
is_expired(const struct auth_sessions *ss, const struct auth_session *s, int64_t now_ms)
{
    return now_ms - s->last_seen_ms > ss->conf.idle_ms ||
           now_ms - s->created_ms > ss->conf.absolute_ms;
}

int
auth_session_lookup(struct auth_sessions *ss, const char *id, int64_t now_ms,
                    struct auth_session *out, struct pt_err *err)
{
    unsigned char key[AUTH_SESSION_KEY_LEN];
    int r;

    if (id_key(id, key) < 0)
        return pt_err_set(err, PT_E_AUTH, "not signed in");
    r = ss->store->ops->get(ss->store, key, out, err);
    if (r < 0)
        return -1;
    if (r == 1)
        return pt_err_set(err, PT_E_AUTH, "not signed in");
    if (is_expired(ss, out, now_ms)) {
        ss->store->ops->del(ss->store, key);
        memset(out, 0, sizeof(*out));
        return pt_err_set(err, PT_E_AUTH, "not signed in (session expired)");
    }
    out->last_seen_ms = now_ms;
    ss->store->ops->touch(ss->store, key, now_ms);
    return 0;
}

int
auth_session_logout(struct auth_sessions *ss, const char *id, struct pt_err *err)
{
    unsigned char key[AUTH_SESSION_KEY_LEN];

    if (id_key(id, key) < 0 || ss->store->ops->del(ss->store, key) != 0)
        return pt_err_set(err, PT_E_AUTH, "not signed in");
    return 0;
}

struct sweep_ctx {
    const struct auth_sessions *ss;
    int64_t now_ms;
};

static bool
sweep_expired(const struct auth_session *s, void *opaque)
{
    const struct sweep_ctx *x = opaque;
    return is_expired(x->ss, s, x->now_ms);
}

size_t
auth_sessions_sweep(struct auth_sessions *ss, int64_t now_ms)
{
    struct sweep_ctx x = {ss, now_ms};
    return ss->store->ops->sweep(ss->store, sweep_expired, &x);
}

size_t
auth_sessions_count(struct auth_sessions *ss)
{
    return ss->store->ops->count(ss->store);
}
