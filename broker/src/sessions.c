/*
 * sessions.c - signed-in browser and CLI sessions, owned by the loop thread.
 *
 * A session is created after a successful directory sign-in and is found again by the
 * opaque token in the portico_session cookie (256 random bits, hex). It carries a
 * separate public id (for logs, tickets and the admin session list, so the token itself
 * never leaves the cookie), a CSRF token that state-changing calls must echo in
 * X-CSRF-Token, the user's groups and entitled pools as the directory reported them, and
 * two clocks: an idle timeout refreshed by each request and an absolute lifetime.
 *
 * Tokens are compared in constant time after a hash lookup. Everything lives in memory:
 * a broker restart signs everybody out, which is the safe direction.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "broker_priv.h"
#include "common/mem.h"

#define SESS_BUCKETS 1024

struct sess_table {
    struct broker_sess *buckets[SESS_BUCKETS];
    size_t count;
};

static uint32_t
tok_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % SESS_BUCKETS;
}

static int
random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];

    if (nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1)
        return -1;
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    pt_wipe(raw, sizeof(raw));
    return 0;
}

struct sess_table *
broker_sess_table_new(void)
{
    return pt_xcalloc(1, sizeof(struct sess_table));
}

static void
sess_free(struct broker_sess *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ngroups; i++)
        free(s->groups[i]);
    for (size_t i = 0; i < s->npools; i++)
        free(s->pools[i]);
    free(s->groups);
    free(s->pools);
    pt_wipe(s->token, sizeof(s->token));
    pt_wipe(s->csrf, sizeof(s->csrf));
    free(s);
}

void
broker_sess_table_free(struct sess_table *t)
{
    if (!t)
        return;
    for (int i = 0; i < SESS_BUCKETS; i++) {
        struct broker_sess *s = t->buckets[i], *next;

        for (; s; s = next) {
            next = s->next;
            sess_free(s);
        }
    }
    free(t);
}

struct broker_sess *
broker_sess_create(struct sess_table *t, const char *user, int64_t now_ms, struct pt_err *err)
{
    struct broker_sess *s = pt_xcalloc(1, sizeof(*s));
    uint32_t h;

    if (random_hex(s->token, 32) < 0 || random_hex(s->csrf, 32) < 0 || random_hex(s->id, 8) < 0) {
        sess_free(s);
        pt_err_set(err, PT_E_INTERNAL, "the random generator failed");
        return NULL;
    }
    pt_strlcpy(s->user, user, sizeof(s->user));
    s->created_ms = s->last_ms = now_ms;
    h = tok_hash(s->token);
    s->next = t->buckets[h];
    t->buckets[h] = s;
    t->count++;
    return s;
}

void
broker_sess_add_group(struct broker_sess *s, const char *g)
{
    s->groups = pt_xreallocarray(s->groups, s->ngroups + 1, sizeof(char *));
    s->groups[s->ngroups++] = pt_xstrdup(g);
}

void
broker_sess_add_pool(struct broker_sess *s, const char *p)
{
    s->pools = pt_xreallocarray(s->pools, s->npools + 1, sizeof(char *));
    s->pools[s->npools++] = pt_xstrdup(p);
}

struct broker_sess *
broker_sess_find(struct sess_table *t, const char *token)
{
    size_t tl = strlen(token);

    if (tl != 64)
        return NULL;
    for (struct broker_sess *s = t->buckets[tok_hash(token)]; s; s = s->next) {
        if (pt_mem_eq_ct(s->token, token, 64))
            return s;
    }
    return NULL;
}

struct broker_sess *
broker_sess_find_id(struct sess_table *t, const char *id)
{
    for (int i = 0; i < SESS_BUCKETS; i++) {
        for (struct broker_sess *s = t->buckets[i]; s; s = s->next) {
            if (strcmp(s->id, id) == 0)
                return s;
        }
    }
    return NULL;
}

void
broker_sess_delete(struct sess_table *t, struct broker_sess *victim)
{
    struct broker_sess **pp = &t->buckets[tok_hash(victim->token)];

    for (; *pp; pp = &(*pp)->next) {
        if (*pp == victim) {
            *pp = victim->next;
            t->count--;
            sess_free(victim);
            return;
        }
    }
}

size_t
broker_sess_count(const struct sess_table *t)
{
    return t->count;
}

void
broker_sess_foreach(struct sess_table *t, void (*fn)(struct broker_sess *, void *), void *arg)
{
    for (int i = 0; i < SESS_BUCKETS; i++) {
        struct broker_sess *s = t->buckets[i], *next;

        for (; s; s = next) {
            next = s->next;
            fn(s, arg);
        }
    }
}

bool
broker_sess_expired(const struct broker_sess *s, int64_t now_ms, int64_t idle_ms, int64_t ttl_ms)
{
    return now_ms - s->last_ms > idle_ms || now_ms - s->created_ms > ttl_ms;
}

bool
broker_sess_entitled(const struct broker_sess *s, const char *pool)
{
    for (size_t i = 0; i < s->npools; i++) {
        if (strcmp(s->pools[i], pool) == 0)
            return true;
    }
    return false;
}
