/*
 * store.h - Portico's persistent state: pools, desktops, their transition history,
 * claims, the audit log and schedules. The only module that speaks SQL.
 *
 * A struct store is a connection to one backend, chosen by URI:
 *   sqlite:/var/lib/portico/portico.db   (or a plain path)   SQLite, WAL, embedded
 *   postgresql://...                                           not yet: a later driver
 * Each backend fills a vtable (struct store_driver in store_priv.h, libvirt style); the
 * store_* functions below validate their arguments, dispatch, and report one clear error.
 *
 * The store keeps no business rules: desktop states are plain strings chosen by pool/,
 * and a pool spec is an opaque text blob with a few columns copied out for queries.
 * What it does guarantee: a desktop row has at most one user, a user holds at most one
 * desktop per pool (unique index), and state changes can be made conditional on the
 * current state (compare-and-set) inside a transaction, so two brokers or two threads
 * can never hand one desktop to two people.
 *
 * Thread: a struct store is used by one thread at a time. Open one per thread that
 * needs it (SQLite serialises writers across connections with its busy timeout).
 * Errors: -1 with @err: PT_E_INVALID (bad argument), PT_E_NOTFOUND, PT_E_CONFLICT (a
 * constraint or a compare-and-set failed), PT_E_UNAVAILABLE (database busy or locked
 * past the timeout), PT_E_IO (the database file), PT_E_INTERNAL.
 */
#ifndef PT_STORE_STORE_H
#define PT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct store;

#define STORE_NAME_MAX  64          /* pool names, desktop ids, hosts, domains, versions */
#define STORE_USER_MAX  128         /* user names */
#define STORE_STATE_MAX 16          /* desktop state names */
#define STORE_TEXT_MAX  (64 * 1024) /* spec blobs, reasons, audit details */

/* A pool row. @spec is owned by the struct (store_pool_fini() frees it). */
struct store_pool {
    char name[STORE_NAME_MAX];
    char image_version[STORE_NAME_MAX];
    int min_size, max_size, warm, parked;
    char *spec; /* the whole spec, serialised by pool/ */
    int64_t created_ms, updated_ms;
};

/* A desktop row. An empty @user means "nobody" (NULL in SQL). */
struct store_desktop {
    char id[STORE_NAME_MAX];
    char pool[STORE_NAME_MAX];
    char host[STORE_NAME_MAX];
    char domain[STORE_NAME_MAX];
    char state[STORE_STATE_MAX];
    char user[STORE_USER_MAX];
    char image_version[STORE_NAME_MAX];
    int64_t created_ms;
    int64_t state_ms;    /* time of the last transition */
    int64_t assigned_ms; /* when @user got it; 0 if nobody */
    int64_t activity_ms; /* last user activity the broker reported; 0 if none */
};

/* One line of a desktop's history. */
struct store_event {
    int64_t id;
    char desktop[STORE_NAME_MAX];
    char pool[STORE_NAME_MAX];
    char from[STORE_STATE_MAX]; /* "" for the first event */
    char to[STORE_STATE_MAX];
    char user[STORE_USER_MAX];
    char reason[256];
    int64_t time_ms;
};

/* A claim: who asked for a desktop, what they got and how long it took. */
struct store_claim {
    int64_t id;
    char pool[STORE_NAME_MAX];
    char user[STORE_USER_MAX];
    char desktop[STORE_NAME_MAX];
    char outcome[24]; /* pool/'s words: "reconnect", "warm", "resume", ... */
    bool warm;        /* served from a ready desktop without waiting */
    int64_t time_ms;
    int64_t ready_ms; /* when the desktop was ready for the user; 0 while waiting */
};

struct store_claim_stats {
    int64_t claims;
    int64_t warm;
    int64_t served;      /* claims with ready_ms set */
    int64_t avg_wait_ms; /* mean of ready_ms - time_ms over served claims */
    int64_t max_wait_ms;
};

struct store_audit {
    int64_t id;
    int64_t time_ms;
    char actor[STORE_USER_MAX];
    char action[64];
    char target[256];
    char result[64];
    char detail[512];
};

/* A calendar rule: on @days (bit 0 = Monday .. bit 6 = Sunday) at @minute of the day
 * (local time), set warm/min/max; -1 leaves a value as the spec says. */
struct store_schedule {
    int64_t id;
    char pool[STORE_NAME_MAX];
    unsigned days;
    int minute;
    int warm, min_size, max_size;
};

/*
 * store_open() - open (creating if needed) the store at @uri and bring its schema to
 * the current version. Returns new (store_close()), or NULL with @err.
 */
struct store *store_open(const char *uri, struct pt_err *err);
void store_close(struct store *st); /* NULL-safe; rolls back an open transaction */
/* store_schema_version() - the schema version in use (after migrations). */
int store_schema_version(struct store *st);

/*
 * Transactions. store_tx_begin() takes the write lock at once (SQLite BEGIN IMMEDIATE),
 * waiting up to the busy timeout, so read-then-write sequences never deadlock. Calls
 * nest: only the outermost commit commits; a rollback at any depth makes the whole
 * transaction roll back (the outer commit then fails with PT_E_CONFLICT).
 */
int store_tx_begin(struct store *st, struct pt_err *err);
int store_tx_commit(struct store *st, struct pt_err *err);
void store_tx_rollback(struct store *st);

/* Pools. store_pool_put() inserts or replaces by name. store_pool_get(): 0, or -1 with
 * PT_E_NOTFOUND. store_pool_list(): returns new array in *out (store_pool_list_free()). */
int store_pool_put(struct store *st, const struct store_pool *p, struct pt_err *err);
int store_pool_get(struct store *st, const char *name, struct store_pool *out, struct pt_err *err);
int store_pool_list(struct store *st, struct store_pool **out, size_t *n, struct pt_err *err);
/* store_pool_delete() - PT_E_CONFLICT while desktops of the pool remain. */
int store_pool_delete(struct store *st, const char *name, struct pt_err *err);
/* store_pool_seq_next() - a per-pool counter for desktop names; returns >= 1 or -1. */
int64_t store_pool_seq_next(struct store *st, const char *name, struct pt_err *err);
void store_pool_fini(struct store_pool *p); /* frees @p->spec */
void store_pool_list_free(struct store_pool *v, size_t n);

/* Desktops. store_desktop_insert(): PT_E_CONFLICT if the id exists or the user already
 * holds a desktop in the pool. */
int store_desktop_insert(struct store *st, const struct store_desktop *d, struct pt_err *err);
/*
 * store_desktop_update() - write every mutable field of @d (host, domain, state, user,
 * image_version, times) if the row's state is still @expect_state (NULL: any). Returns 0,
 * or -1 with PT_E_CONFLICT when the state moved on or the user already holds another
 * desktop in the pool, PT_E_NOTFOUND when the row is gone.
 */
int store_desktop_update(struct store *st, const struct store_desktop *d, const char *expect_state,
                         struct pt_err *err);
int store_desktop_get(struct store *st, const char *id, struct store_desktop *out,
                      struct pt_err *err);
/* store_desktop_list() - every desktop of @pool (NULL: all), ordered by id; returns new
 * array in *out (free()). */
int store_desktop_list(struct store *st, const char *pool, struct store_desktop **out, size_t *n,
                       struct pt_err *err);
/* store_desktop_find_user() - @user's desktop in @pool: 1 found, 0 none, -1 error. */
int store_desktop_find_user(struct store *st, const char *pool, const char *user,
                            struct store_desktop *out, struct pt_err *err);
/*
 * store_desktop_pick() - the desktop of @pool in @state with no user that has been in that
 * state longest, preferring @image_version (NULL: no preference). Returns 1 found, 0 none,
 * -1 error.
 */
int store_desktop_pick(struct store *st, const char *pool, const char *state,
                       const char *image_version, struct store_desktop *out, struct pt_err *err);
int store_desktop_delete(struct store *st, const char *id, struct pt_err *err);

/* History. store_event_list(): the last @limit events of @desktop (NULL: of all), oldest
 * first; returns new array (free()). */
int store_event_append(struct store *st, const struct store_event *ev, struct pt_err *err);
int store_event_list(struct store *st, const char *desktop, int limit, struct store_event **out,
                     size_t *n, struct pt_err *err);

/* Claims. store_claim_insert() sets @c->id. store_claim_finish() sets ready_ms on the
 * newest unfinished claim of @desktop (no-op if none). */
int store_claim_insert(struct store *st, struct store_claim *c, struct pt_err *err);
int store_claim_finish(struct store *st, const char *desktop, int64_t ready_ms, struct pt_err *err);
int store_claim_stats(struct store *st, const char *pool, int64_t since_ms,
                      struct store_claim_stats *out, struct pt_err *err);

/* Audit log: append-only. store_audit_list(): the newest @limit entries, newest first. */
int store_audit_append(struct store *st, const struct store_audit *a, struct pt_err *err);
int store_audit_list(struct store *st, int limit, struct store_audit **out, size_t *n,
                     struct pt_err *err);

/* Schedules. store_schedule_add() sets @s->id. */
int store_schedule_add(struct store *st, struct store_schedule *s, struct pt_err *err);
int store_schedule_list(struct store *st, const char *pool, struct store_schedule **out, size_t *n,
                        struct pt_err *err);
int store_schedule_delete(struct store *st, int64_t id, struct pt_err *err);

#endif
