/*
 * throttle.c - failed sign-in counting and temporary locks per user and per address.
 *
 * One table holds both kinds of subject, keyed "u:<lower-cased user>" or "a:<address>".
 * An entry counts failures since the start of its window; reaching the limit sets
 * locked_until. A lock is not extended by failures while it is on (so the wait shown is
 * honest), and a fresh window starts once the old one and the lock have passed.
 */
#include "auth/throttle.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/str.h"

#define KEY_MAX 300

struct thr_entry {
    char key[KEY_MAX];
    int failures;
    int64_t window_start, last_failure, locked_until;
    struct thr_entry *next;
};

struct auth_throttle {
    struct auth_throttle_conf conf;
    pthread_mutex_t mu;
    struct thr_entry **buckets;
    size_t nbuckets, count;
};

const char *
auth_audit_kind_str(enum auth_audit_kind k)
{
    switch (k) {
    case AUTH_AUDIT_NONE:
        return "none";
    case AUTH_AUDIT_USER_LOCKED:
        return "user_locked";
    case AUTH_AUDIT_ADDR_LOCKED:
        return "addr_locked";
    case AUTH_AUDIT_REFUSED_LOCKED:
        return "refused_locked";
    }
    return "?";
}

struct auth_throttle *
auth_throttle_new(const struct auth_throttle_conf *conf)
{
    struct auth_throttle *t = pt_xcalloc(1, sizeof(*t));
    struct auth_throttle_conf d = {5, 20, 15 * 60 * 1000, 5 * 60 * 1000, 100000};

    if (conf) {
        d.user_max_failures = conf->user_max_failures > 0 ? conf->user_max_failures : 5;
        d.addr_max_failures = conf->addr_max_failures > 0 ? conf->addr_max_failures : 20;
        d.window_ms = conf->window_ms > 0 ? conf->window_ms : d.window_ms;
        d.lock_ms = conf->lock_ms > 0 ? conf->lock_ms : d.lock_ms;
        d.max_entries = conf->max_entries > 0 ? conf->max_entries : d.max_entries;
    }
    t->conf = d;
    t->nbuckets = 64;
    while (t->nbuckets < d.max_entries && t->nbuckets < (1u << 20))
        t->nbuckets *= 2;
    t->buckets = pt_xcalloc(t->nbuckets, sizeof(*t->buckets));
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void
auth_throttle_free(struct auth_throttle *t)
{
    if (!t)
        return;
    for (size_t b = 0; b < t->nbuckets; b++) {
        for (struct thr_entry *e = t->buckets[b], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(t->buckets);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void
make_key(char *key, char kind, const char *s)
{
    size_t i = 0;

    key[i++] = kind;
    key[i++] = ':';
    for (; s && *s && i < KEY_MAX - 1; s++)
        key[i++] = (char)tolower((unsigned char)*s);
    key[i] = '\0';
}

static struct thr_entry **
slot(struct auth_throttle *t, const char *key)
{
    uint64_t h = 1469598103934665603ull;
    struct thr_entry **pp;

    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    pp = &t->buckets[h & (t->nbuckets - 1)];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

static bool
stale(const struct auth_throttle *t, const struct thr_entry *e, int64_t now)
{
    return now >= e->locked_until && now - e->window_start > t->conf.window_ms;
}

/* make_room() - drop stale entries; if none was stale, the least recently failed one. */
static void
make_room(struct auth_throttle *t, int64_t now)
{
    struct thr_entry **oldest = NULL;

    for (size_t b = 0; b < t->nbuckets; b++) {
        struct thr_entry **pp = &t->buckets[b];
        while (*pp) {
            struct thr_entry *e = *pp;
            if (stale(t, e, now)) {
                *pp = e->next;
                free(e);
                t->count--;
                continue;
            }
            if (!oldest || e->last_failure < (*oldest)->last_failure)
                oldest = pp;
            pp = &e->next;
        }
    }
    if (t->count >= t->conf.max_entries && oldest) {
        struct thr_entry *e = *oldest;
        *oldest = e->next;
        free(e);
        t->count--;
    }
}

static int
minutes_left(int64_t until, int64_t now)
{
    return (int)((until - now + 59999) / 60000);
}

int
auth_throttle_check(struct auth_throttle *t, const char *user, const char *addr, int64_t now_ms,
                    struct auth_audit_event *ev, struct pt_err *err)
{
    char ukey[KEY_MAX], akey[KEY_MAX];
    struct thr_entry *u, *a;
    int rc = 0;

    if (ev)
        memset(ev, 0, sizeof(*ev));
    make_key(ukey, 'u', user);
    make_key(akey, 'a', addr);
    pthread_mutex_lock(&t->mu);
    u = *slot(t, ukey);
    a = *slot(t, akey);
    if ((u && now_ms < u->locked_until) || (a && now_ms < a->locked_until)) {
        bool by_user = u && now_ms < u->locked_until;
        struct thr_entry *e = by_user ? u : a;
        int mins = minutes_left(e->locked_until, now_ms);
        rc = pt_err_set(err, PT_E_LIMIT, "Too many failed sign-ins %s. Try again in %d minute%s.",
                        by_user ? "for this account" : "from your address", mins,
                        mins == 1 ? "" : "s");
        if (ev) {
            ev->kind = AUTH_AUDIT_REFUSED_LOCKED;
            ev->failures = e->failures;
            ev->until_ms = e->locked_until;
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (rc < 0 && ev) {
        pt_strlcpy(ev->user, user ? user : "", sizeof(ev->user));
        pt_strlcpy(ev->addr, addr ? addr : "", sizeof(ev->addr));
    }
    return rc;
}

/* count_failure() - returns true if this failure set a lock. */
static bool
count_failure(struct auth_throttle *t, const char *key, int max, int64_t now, int *failures,
              int64_t *until)
{
    struct thr_entry **pp = slot(t, key), *e = *pp;

    if (!e) {
        if (t->count >= t->conf.max_entries) {
            make_room(t, now);
            pp = slot(t, key);
        }
        e = pt_xcalloc(1, sizeof(*e));
        pt_strlcpy(e->key, key, sizeof(e->key));
        e->window_start = now;
        *pp = e;
        t->count++;
    }
    if (now < e->locked_until) { /* already locked: do not extend */
        *failures = e->failures;
        *until = e->locked_until;
        return false;
    }
    if (now - e->window_start > t->conf.window_ms || e->failures >= max) {
        e->window_start = now; /* a new window after the old one (and its lock) passed */
        e->failures = 0;
    }
    e->failures++;
    e->last_failure = now;
    *failures = e->failures;
    if (e->failures >= max) {
        e->locked_until = now + t->conf.lock_ms;
        *until = e->locked_until;
        return true;
    }
    return false;
}

void
auth_throttle_failure(struct auth_throttle *t, const char *user, const char *addr, int64_t now_ms,
                      struct auth_audit_event *ev)
{
    char ukey[KEY_MAX], akey[KEY_MAX];
    int uf = 0, af = 0;
    int64_t uu = 0, au = 0;
    bool ulock, alock;

    make_key(ukey, 'u', user);
    make_key(akey, 'a', addr);
    pthread_mutex_lock(&t->mu);
    ulock = count_failure(t, ukey, t->conf.user_max_failures, now_ms, &uf, &uu);
    alock = count_failure(t, akey, t->conf.addr_max_failures, now_ms, &af, &au);
    pthread_mutex_unlock(&t->mu);
    if (!ev)
        return;
    memset(ev, 0, sizeof(*ev));
    pt_strlcpy(ev->user, user ? user : "", sizeof(ev->user));
    pt_strlcpy(ev->addr, addr ? addr : "", sizeof(ev->addr));
    ev->kind = ulock ? AUTH_AUDIT_USER_LOCKED : alock ? AUTH_AUDIT_ADDR_LOCKED : AUTH_AUDIT_NONE;
    ev->failures = ulock || !alock ? uf : af;
    ev->until_ms = ulock ? uu : alock ? au : 0;
}

void
auth_throttle_success(struct auth_throttle *t, const char *user)
{
    char key[KEY_MAX];
    struct thr_entry **pp, *e;

    make_key(key, 'u', user);
    pthread_mutex_lock(&t->mu);
    pp = slot(t, key);
    e = *pp;
    if (e) { /* callers check first, so no lock is in force: forget the history */
        *pp = e->next;
        free(e);
        t->count--;
    }
    pthread_mutex_unlock(&t->mu);
}
