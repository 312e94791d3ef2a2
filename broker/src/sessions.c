/*
 * sessions.c - the broker's view of sign-in sessions, on top of auth/session.h.
 *
 * auth/ owns the sessions: random 256-bit ids kept only as SHA-256 keys, CSRF tokens
 * derived from the id, idle and absolute expiry. The broker adds what its API needs and
 * auth/ does not keep: a public session id (the first 16 hex digits of SHA-256 of the
 * cookie; it names a session in logs, tickets, the gateway's reports and the admin list
 * without being usable to sign in) and an index from that id to (user, created) so an
 * admin can end one session. The index never holds a cookie value. Sessions are listed
 * by walking auth's store with a sweep that expires nothing.
 *
 * Loop thread only (auth's store locks anyway).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "app_priv.h"
#include "common/mem.h"

#ifdef PORTICO_HAVE_AUTH
#include "auth/session.h"

struct idx_entry {
    char id[17];
    char user[256];
    int64_t created_ms;
    bool seen;
};

struct sess_table {
    struct auth_sessions *ss;
    struct auth_session_store *store; /* borrowed: owned by ss */
    struct idx_entry *idx;
    size_t nidx;
};

static void
public_id(const char *token, char out[17])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)token, strlen(token), md);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

struct sess_table *
broker_sess_table_new(int64_t idle_ms, int64_t ttl_ms)
{
    struct sess_table *t = pt_xcalloc(1, sizeof(*t));
    struct auth_session_conf c = {idle_ms, ttl_ms};
    struct auth_session_store *st = auth_session_store_memory_new(100000);

    t->store = st;
    t->ss = auth_sessions_new(&c, &st);
    return t;
}

void
broker_sess_table_free(struct sess_table *t)
{
    if (!t)
        return;
    auth_sessions_free(t->ss);
    free(t->idx);
    free(t);
}

static struct idx_entry *
idx_find(struct sess_table *t, const char *id)
{
    for (size_t i = 0; i < t->nidx; i++) {
        if (strcmp(t->idx[i].id, id) == 0)
            return &t->idx[i];
    }
    return NULL;
}

static void
idx_remove(struct sess_table *t, struct idx_entry *e)
{
    *e = t->idx[--t->nidx];
}

int
broker_sess_create(struct sess_table *t, const struct auth_session *a, const char *password,
                   int64_t now_ms, struct broker_sess *out, struct pt_err *err)
{
    struct idx_entry *e;

    memset(out, 0, sizeof(*out));
    if (auth_session_create(t->ss, a, password, now_ms, out->token, out->csrf, err) < 0)
        return -1;
    out->a = *a;
    out->a.created_ms = out->a.last_seen_ms = now_ms;
    public_id(out->token, out->id);
    t->idx = pt_xreallocarray(t->idx, t->nidx + 1, sizeof(*t->idx));
    e = &t->idx[t->nidx++];
    memset(e, 0, sizeof(*e));
    pt_strlcpy(e->id, out->id, sizeof(e->id));
    pt_strlcpy(e->user, a->user, sizeof(e->user));
    e->created_ms = now_ms;
    return 0;
}

int
broker_sess_lookup(struct sess_table *t, const char *token, int64_t now_ms, struct broker_sess *out)
{
    struct pt_err err = {0};

    memset(out, 0, sizeof(*out));
    if (strlen(token) != AUTH_SESSION_ID_LEN ||
        auth_session_lookup(t->ss, token, now_ms, &out->a, &err) < 0)
        return -1;
    pt_strlcpy(out->token, token, sizeof(out->token));
    auth_session_csrf(token, out->csrf);
    public_id(token, out->id);
    return 0;
}

bool
broker_sess_csrf_ok(const struct broker_sess *s, const char *token)
{
    return auth_session_csrf_check(s->token, token);
}

void
broker_sess_logout(struct sess_table *t, const struct broker_sess *s)
{
    struct idx_entry *e = idx_find(t, s->id);

    auth_session_logout(t->ss, s->token, NULL);
    if (e)
        idx_remove(t, e);
}

struct match {
    const char *user;
    int64_t created_ms;
};

static bool
match_one(const struct auth_session *s, void *opaque)
{
    const struct match *m = opaque;

    return s->created_ms == m->created_ms && strcmp(s->user, m->user) == 0;
}

int
broker_sess_end_id(struct sess_table *t, const char *id, char *user, size_t n)
{
    struct idx_entry *e = idx_find(t, id);
    struct match m;
    size_t gone;

    if (!e)
        return -1;
    m.user = e->user;
    m.created_ms = e->created_ms;
    gone = t->store->ops->sweep(t->store, match_one, &m);
    pt_strlcpy(user, e->user, n);
    idx_remove(t, e);
    return gone ? 0 : -1;
}

struct walk {
    struct sess_table *t;
    void (*fn)(const char *id, const struct auth_session *s, void *arg);
    void *arg;
};

static bool
walk_one(const struct auth_session *s, void *opaque)
{
    struct walk *w = opaque;

    for (size_t i = 0; i < w->t->nidx; i++) {
        struct idx_entry *e = &w->t->idx[i];

        if (e->created_ms == s->created_ms && strcmp(e->user, s->user) == 0) {
            e->seen = true;
            if (w->fn)
                w->fn(e->id, s, w->arg);
            return false;
        }
    }
    if (w->fn)
        w->fn("", s, w->arg);
    return false; /* expire nothing: this is a walk */
}

void
broker_sess_foreach(struct sess_table *t,
                    void (*fn)(const char *id, const struct auth_session *s, void *arg), void *arg)
{
    struct walk w = {t, fn, arg};

    t->store->ops->sweep(t->store, walk_one, &w);
}

void
broker_sess_sweep(struct sess_table *t, int64_t now_ms)
{
    size_t gone = auth_sessions_sweep(t->ss, now_ms);

    /* drop index entries whose session is gone (expired, or ended elsewhere) */
    for (size_t i = 0; i < t->nidx; i++)
        t->idx[i].seen = false;
    broker_sess_foreach(t, NULL, NULL);
    for (size_t i = 0; i < t->nidx;) {
        if (!t->idx[i].seen)
            idx_remove(t, &t->idx[i]);
        else
            i++;
    }
    if (gone)
        pt_log(LOG_INFO, "event=sessions_expired count=%zu", gone);
}

size_t
broker_sess_count(struct sess_table *t)
{
    return t ? auth_sessions_count(t->ss) : 0;
}

#else /* without auth/: nobody can sign in */

struct sess_table {
    int unused;
};

struct sess_table *
broker_sess_table_new(int64_t idle_ms, int64_t ttl_ms)
{
    (void)idle_ms;
    (void)ttl_ms;
    return pt_xcalloc(1, sizeof(struct sess_table));
}

void
broker_sess_table_free(struct sess_table *t)
{
    free(t);
}

int
broker_sess_create(struct sess_table *t, const struct auth_session *a, const char *password,
                   int64_t now_ms, struct broker_sess *out, struct pt_err *err)
{
    return pt_err_set(err, PT_E_UNAVAILABLE, "built without auth/");
}

int
broker_sess_lookup(struct sess_table *t, const char *token, int64_t now_ms, struct broker_sess *out)
{
    return -1;
}

bool
broker_sess_csrf_ok(const struct broker_sess *s, const char *token)
{
    return false;
}

void
broker_sess_logout(struct sess_table *t, const struct broker_sess *s)
{
}

int
broker_sess_end_id(struct sess_table *t, const char *id, char *user, size_t n)
{
    return -1;
}

void
broker_sess_foreach(struct sess_table *t,
                    void (*fn)(const char *id, const struct auth_session *s, void *arg), void *arg)
{
}

void
broker_sess_sweep(struct sess_table *t, int64_t now_ms)
{
}

size_t
broker_sess_count(struct sess_table *t)
{
    return 0;
}
#endif
