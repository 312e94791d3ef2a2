/*
 * store_sqlite.h - shared between the SQLite backend's files: the connection, the
 * prepared statement cache and error mapping. Nothing outside store/src sees this.
 */
#ifndef PT_STORE_SQLITE_H
#define PT_STORE_SQLITE_H

#include <stdbool.h>

#include <sqlite3.h>

#include "store_priv.h"

enum sq_stmt {
    SQ_POOL_PUT,
    SQ_POOL_GET,
    SQ_POOL_LIST,
    SQ_POOL_DELETE,
    SQ_POOL_SEQ,
    SQ_DESKTOP_INSERT,
    SQ_DESKTOP_UPDATE,
    SQ_DESKTOP_GET,
    SQ_DESKTOP_LIST,
    SQ_DESKTOP_LIST_POOL,
    SQ_DESKTOP_FIND_USER,
    SQ_DESKTOP_PICK,
    SQ_DESKTOP_DELETE,
    SQ_EVENT_APPEND,
    SQ_EVENT_LIST,
    SQ_EVENT_LIST_ALL,
    SQ_CLAIM_INSERT,
    SQ_CLAIM_FINISH,
    SQ_CLAIM_STATS,
    SQ_AUDIT_APPEND,
    SQ_AUDIT_LIST,
    SQ_SCHEDULE_ADD,
    SQ_SCHEDULE_LIST,
    SQ_SCHEDULE_LIST_POOL,
    SQ_SCHEDULE_DELETE,
    SQ_COUNT
};

struct sq {
    sqlite3 *db;
    sqlite3_stmt *stmt[SQ_COUNT];
    int tx_depth;
    bool tx_failed; /* an inner rollback: the outer commit must roll back */
    int version;
};

/* sq_prepare() - borrowed: the cached statement @id, reset with its bindings cleared;
 * NULL with @err if it does not compile. */
sqlite3_stmt *sq_prepare(struct sq *q, enum sq_stmt id, struct pt_err *err);
/* sq_fail() - map a SQLite result code to @err ("store: @what: message"). Returns -1. */
int sq_fail(struct sq *q, int rc, const char *what, struct pt_err *err);
/* sq_text() - copy column @col of @s into @dst (size @n); NULL becomes "". */
void sq_text(sqlite3_stmt *s, int col, char *dst, size_t n);
/* sq_bind_opt() - bind @v, or NULL when @v is NULL or empty. */
int sq_bind_opt(sqlite3_stmt *s, int idx, const char *v);

/* the query verbs, in store_sqlite_ops.c */
int sq_pool_put(struct store *st, const struct store_pool *p, struct pt_err *err);
int sq_pool_get(struct store *st, const char *name, struct store_pool *out, struct pt_err *err);
int sq_pool_list(struct store *st, struct store_pool **out, size_t *n, struct pt_err *err);
int sq_pool_delete(struct store *st, const char *name, struct pt_err *err);
int64_t sq_pool_seq_next(struct store *st, const char *name, struct pt_err *err);
int sq_desktop_insert(struct store *st, const struct store_desktop *d, struct pt_err *err);
int sq_desktop_update(struct store *st, const struct store_desktop *d, const char *expect,
                      struct pt_err *err);
int sq_desktop_get(struct store *st, const char *id, struct store_desktop *out, struct pt_err *err);
int sq_desktop_list(struct store *st, const char *pool, struct store_desktop **out, size_t *n,
                    struct pt_err *err);
int sq_desktop_find_user(struct store *st, const char *pool, const char *user,
                         struct store_desktop *out, struct pt_err *err);
int sq_desktop_pick(struct store *st, const char *pool, const char *state, const char *version,
                    struct store_desktop *out, struct pt_err *err);
int sq_desktop_delete(struct store *st, const char *id, struct pt_err *err);
int sq_event_append(struct store *st, const struct store_event *ev, struct pt_err *err);
int sq_event_list(struct store *st, const char *desktop, int limit, struct store_event **out,
                  size_t *n, struct pt_err *err);
int sq_claim_insert(struct store *st, struct store_claim *c, struct pt_err *err);
int sq_claim_finish(struct store *st, const char *desktop, int64_t ready_ms, struct pt_err *err);
int sq_claim_stats(struct store *st, const char *pool, int64_t since_ms,
                   struct store_claim_stats *out, struct pt_err *err);
int sq_audit_append(struct store *st, const struct store_audit *a, struct pt_err *err);
int sq_audit_list(struct store *st, int limit, struct store_audit **out, size_t *n,
                  struct pt_err *err);
int sq_schedule_add(struct store *st, struct store_schedule *s, struct pt_err *err);
int sq_schedule_list(struct store *st, const char *pool, struct store_schedule **out, size_t *n,
                     struct pt_err *err);
int sq_schedule_delete(struct store *st, int64_t id, struct pt_err *err);

#endif
