/*
 * session_mem.c - the in-memory session store: a chained hash table under one mutex.
 *
 * Keys are SHA-256 digests, already uniformly distributed, so the first 8 bytes are the
 * hash. Bounded by @max entries: put() fails with PT_E_LIMIT when full and the caller
 * sweeps expired sessions before trying again.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/session.h"
#include "common/mem.h"

struct mem_entry {
    unsigned char key[AUTH_SESSION_KEY_LEN];
    struct auth_session s;
    struct mem_entry *next;
};

struct mem_store {
    struct auth_session_store base;
    pthread_mutex_t mu;
    struct mem_entry **buckets;
    size_t nbuckets, count, max;
};

static struct mem_entry **
slot(struct mem_store *m, const unsigned char *key)
{
    uint64_t h;
    struct mem_entry **pp;

    memcpy(&h, key, sizeof(h));
    pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp && memcmp((*pp)->key, key, AUTH_SESSION_KEY_LEN) != 0)
        pp = &(*pp)->next;
    return pp;
}

static int
mem_put(struct auth_session_store *st, const unsigned char *key, const struct auth_session *s,
        struct pt_err *err)
{
    struct mem_store *m = (struct mem_store *)st;
    struct mem_entry **pp, *e;
    int rc = 0;

    pthread_mutex_lock(&m->mu);
    pp = slot(m, key);
    if (*pp) {
        (*pp)->s = *s;
    } else if (m->count >= m->max) {
        rc = pt_err_set(err, PT_E_LIMIT, "session table full (%zu sessions)", m->max);
    } else {
        e = pt_xcalloc(1, sizeof(*e));
        memcpy(e->key, key, AUTH_SESSION_KEY_LEN);
        e->s = *s;
        *pp = e;
        m->count++;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int
mem_get(struct auth_session_store *st, const unsigned char *key, struct auth_session *out,
        struct pt_err *err)
{
    struct mem_store *m = (struct mem_store *)st;
    struct mem_entry **pp;
    int rc = 1;

    pthread_mutex_lock(&m->mu);
    pp = slot(m, key);
    if (*pp) {
        *out = (*pp)->s;
        rc = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int
mem_touch(struct auth_session_store *st, const unsigned char *key, int64_t last_seen_ms)
{
    struct mem_store *m = (struct mem_store *)st;
    struct mem_entry **pp;
    int rc = 1;

    pthread_mutex_lock(&m->mu);
    pp = slot(m, key);
    if (*pp) {
        (*pp)->s.last_seen_ms = last_seen_ms;
        rc = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int
mem_del(struct auth_session_store *st, const unsigned char *key)
{
    struct mem_store *m = (struct mem_store *)st;
    struct mem_entry **pp, *e;
    int rc = 1;

    pthread_mutex_lock(&m->mu);
    pp = slot(m, key);
    if (*pp) {
        e = *pp;
        *pp = e->next;
        pt_wipe(e, sizeof(*e));
        free(e);
        m->count--;
        rc = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static size_t
mem_sweep(struct auth_session_store *st, bool (*expired)(const struct auth_session *, void *),
          void *opaque)
{
    struct mem_store *m = (struct mem_store *)st;
    size_t n = 0;

    pthread_mutex_lock(&m->mu);
    for (size_t b = 0; b < m->nbuckets; b++) {
        struct mem_entry **pp = &m->buckets[b];
        while (*pp) {
            struct mem_entry *e = *pp;
            if (expired(&e->s, opaque)) {
                *pp = e->next;
                pt_wipe(e, sizeof(*e));
                free(e);
                m->count--;
                n++;
            } else {
                pp = &e->next;
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

static size_t
mem_count(struct auth_session_store *st)
{
    struct mem_store *m = (struct mem_store *)st;
    size_t n;

    pthread_mutex_lock(&m->mu);
    n = m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static void
mem_free(struct auth_session_store *st)
{
    struct mem_store *m = (struct mem_store *)st;

    for (size_t b = 0; b < m->nbuckets; b++) {
        for (struct mem_entry *e = m->buckets[b], *next; e; e = next) {
            next = e->next;
            pt_wipe(e, sizeof(*e));
            free(e);
        }
    }
    free(m->buckets);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static const struct auth_session_store_ops mem_ops = {
    mem_put, mem_get, mem_touch, mem_del, mem_sweep, mem_count, mem_free,
};

struct auth_session_store *
auth_session_store_memory_new(size_t max)
{
    struct mem_store *m = pt_xcalloc(1, sizeof(*m));

    m->base.ops = &mem_ops;
    m->max = max ? max : 1;
    m->nbuckets = 16;
    while (m->nbuckets < m->max && m->nbuckets < (1u << 20))
        m->nbuckets *= 2;
    m->buckets = pt_xcalloc(m->nbuckets, sizeof(*m->buckets));
    pthread_mutex_init(&m->mu, NULL);
    return &m->base;
}
