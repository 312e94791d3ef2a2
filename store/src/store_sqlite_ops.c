/*
 * store_sqlite_ops.c - the SQLite backend's queries: one cached prepared statement per
 * verb, every value bound as a parameter, rows copied into the caller's structs.
 * Compare-and-set (desktop_update with an expected state) is how two claimers racing
 * for one desktop are told apart: the loser's UPDATE changes no row.
 */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/str.h"
#include "store_sqlite.h"

#define Q(st) ((struct sq *)(st)->priv)

/* step_done() - run a statement that returns no row. */
static int
step_done(struct sq *q, sqlite3_stmt *s, const char *what, struct pt_err *err)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : sq_fail(q, rc, what, err);
}

/* Grow a result array by one element, doubling. */
static void *
grow(void *v, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return v;
    *cap = *cap ? *cap * 2 : 16;
    return pt_xreallocarray(v, *cap, elem);
}

typedef void sq_row_fn(sqlite3_stmt *s, void *elem);
typedef void sq_rows_free_fn(void *v, size_t n);

/*
 * collect() - step a bound statement to the end, one @row call per result row into an
 * array of @elem-sized elements. On success *out is new (freed with @rows_free, or free()
 * when NULL) and *n its length; on failure nothing is returned and @what names the query.
 */
static int
collect(struct store *st, sqlite3_stmt *s, size_t elem, sq_row_fn *row, sq_rows_free_fn *rows_free,
        void **out, size_t *n, const char *what, struct pt_err *err)
{
    char *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        v = grow(v, cnt, &cap, elem);
        memset(v + cnt * elem, 0, elem);
        row(s, v + cnt * elem);
        cnt++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        if (rows_free)
            rows_free(v, cnt);
        else
            free(v);
        return sq_fail(Q(st), rc, what, err);
    }
    *out = v;
    *n = cnt;
    return 0;
}

static void
row_pool(sqlite3_stmt *s, struct store_pool *p)
{
    const unsigned char *spec;

    memset(p, 0, sizeof(*p));
    sq_text(s, 0, p->name, sizeof(p->name));
    sq_text(s, 1, p->image_version, sizeof(p->image_version));
    p->min_size = sqlite3_column_int(s, 2);
    p->max_size = sqlite3_column_int(s, 3);
    p->warm = sqlite3_column_int(s, 4);
    p->parked = sqlite3_column_int(s, 5);
    spec = sqlite3_column_text(s, 6);
    p->spec = pt_xstrdup(spec ? (const char *)spec : "");
    p->created_ms = sqlite3_column_int64(s, 7);
    p->updated_ms = sqlite3_column_int64(s, 8);
}

int
sq_pool_put(struct store *st, const struct store_pool *p, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_POOL_PUT, err);

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, p->image_version, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, p->min_size);
    sqlite3_bind_int(s, 4, p->max_size);
    sqlite3_bind_int(s, 5, p->warm);
    sqlite3_bind_int(s, 6, p->parked);
    sqlite3_bind_text(s, 7, p->spec ? p->spec : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, pt_time_wall_ms());
    return step_done(Q(st), s, "save pool", err);
}

int
sq_pool_get(struct store *st, const char *name, struct store_pool *out, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_POOL_GET, err);
    int rc;

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        row_pool(s, out);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return pt_err_set(err, PT_E_NOTFOUND, "store: no pool named '%s'", name);
    return rc == SQLITE_ROW ? 0 : sq_fail(Q(st), rc, "read pool", err);
}

static void
row_pool_any(sqlite3_stmt *s, void *elem)
{
    row_pool(s, elem);
}

static void
pool_rows_free(void *v, size_t n)
{
    store_pool_list_free(v, n);
}

int
sq_pool_list(struct store *st, struct store_pool **out, size_t *n, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_POOL_LIST, err);

    if (!s)
        return -1;
    return collect(st, s, sizeof(**out), row_pool_any, pool_rows_free, (void **)out, n,
                   "list pools", err);
}

int
sq_pool_delete(struct store *st, const char *name, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_POOL_DELETE, err);

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (step_done(Q(st), s, "delete pool", err) < 0) {
        if (err && err->code == PT_E_CONFLICT)
            pt_err_set(err, PT_E_CONFLICT, "store: pool '%s' still has desktops; delete them first",
                       name);
        return -1;
    }
    if (sqlite3_changes(Q(st)->db) == 0)
        return pt_err_set(err, PT_E_NOTFOUND, "store: no pool named '%s'", name);
    return 0;
}

int64_t
sq_pool_seq_next(struct store *st, const char *name, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_POOL_SEQ, err);
    int64_t v = -1;
    int rc;

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return pt_err_set(err, PT_E_NOTFOUND, "store: no pool named '%s'", name);
    return rc == SQLITE_ROW ? v : sq_fail(Q(st), rc, "next desktop number", err);
}

static void
row_desktop(sqlite3_stmt *s, struct store_desktop *d)
{
    sq_text(s, 0, d->id, sizeof(d->id));
    sq_text(s, 1, d->pool, sizeof(d->pool));
    sq_text(s, 2, d->host, sizeof(d->host));
    sq_text(s, 3, d->domain, sizeof(d->domain));
    sq_text(s, 4, d->state, sizeof(d->state));
    sq_text(s, 5, d->user, sizeof(d->user));
    sq_text(s, 6, d->image_version, sizeof(d->image_version));
    d->created_ms = sqlite3_column_int64(s, 7);
    d->state_ms = sqlite3_column_int64(s, 8);
    d->assigned_ms = sqlite3_column_int64(s, 9);
    d->activity_ms = sqlite3_column_int64(s, 10);
}

static int
desktop_conflict(struct sq *q, const struct store_desktop *d, const char *what, int rc,
                 struct pt_err *err)
{
    sq_fail(q, rc, what, err);
    if (err && err->code == PT_E_CONFLICT && d->user[0] && strstr(err->msg, "desktops.user_name"))
        pt_err_set(err, PT_E_CONFLICT, "store: user '%s' already holds a desktop in pool '%s'",
                   d->user, d->pool);
    return -1;
}

int
sq_desktop_insert(struct store *st, const struct store_desktop *d, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_DESKTOP_INSERT, err);
    int rc;

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, d->pool, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, d->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, d->domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, d->state, -1, SQLITE_STATIC);
    sq_bind_opt(s, 6, d->user);
    sqlite3_bind_text(s, 7, d->image_version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, d->created_ms);
    sqlite3_bind_int64(s, 9, d->state_ms);
    sqlite3_bind_int64(s, 10, d->assigned_ms);
    sqlite3_bind_int64(s, 11, d->activity_ms);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return desktop_conflict(Q(st), d, "insert desktop", rc, err);
    return 0;
}

int
sq_desktop_update(struct store *st, const struct store_desktop *d, const char *expect,
                  struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_DESKTOP_UPDATE, err);
    struct store_desktop cur;
    int rc;

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, d->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, d->domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, d->state, -1, SQLITE_STATIC);
    sq_bind_opt(s, 5, d->user);
    sqlite3_bind_text(s, 6, d->image_version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, d->state_ms);
    sqlite3_bind_int64(s, 8, d->assigned_ms);
    sqlite3_bind_int64(s, 9, d->activity_ms);
    sq_bind_opt(s, 10, expect);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return desktop_conflict(Q(st), d, "update desktop", rc, err);
    if (sqlite3_changes(Q(st)->db) == 1)
        return 0;
    if (sq_desktop_get(st, d->id, &cur, err) < 0)
        return -1;
    return pt_err_set(err, PT_E_CONFLICT, "store: desktop '%s' is %s now, not %s", d->id, cur.state,
                      expect ? expect : "?");
}

static int
desktop_one(struct store *st, sqlite3_stmt *s, struct store_desktop *out, const char *what,
            struct pt_err *err)
{
    int rc = sqlite3_step(s);

    if (rc == SQLITE_ROW)
        row_desktop(s, out);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : sq_fail(Q(st), rc, what, err);
}

int
sq_desktop_get(struct store *st, const char *id, struct store_desktop *out, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_DESKTOP_GET, err);
    int rc;

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = desktop_one(st, s, out, "read desktop", err);
    if (rc == 0)
        return pt_err_set(err, PT_E_NOTFOUND, "store: no desktop '%s'", id);
    return rc < 0 ? -1 : 0;
}

static void
row_desktop_any(sqlite3_stmt *s, void *elem)
{
    row_desktop(s, elem);
}

int
sq_desktop_list(struct store *st, const char *pool, struct store_desktop **out, size_t *n,
                struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), pool ? SQ_DESKTOP_LIST_POOL : SQ_DESKTOP_LIST, err);

    if (!s)
        return -1;
    if (pool)
        sqlite3_bind_text(s, 1, pool, -1, SQLITE_STATIC);
    return collect(st, s, sizeof(**out), row_desktop_any, NULL, (void **)out, n, "list desktops",
                   err);
}

int
sq_desktop_find_user(struct store *st, const char *pool, const char *user,
                     struct store_desktop *out, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_DESKTOP_FIND_USER, err);

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, pool, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, user, -1, SQLITE_STATIC);
    return desktop_one(st, s, out, "find the user's desktop", err);
}

int
sq_desktop_pick(struct store *st, const char *pool, const char *state, const char *version,
                struct store_desktop *out, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_DESKTOP_PICK, err);

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, pool, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
    sq_bind_opt(s, 3, version);
    return desktop_one(st, s, out, "pick a desktop", err);
}

int
sq_desktop_delete(struct store *st, const char *id, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_DESKTOP_DELETE, err);

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (step_done(Q(st), s, "delete desktop", err) < 0)
        return -1;
    if (sqlite3_changes(Q(st)->db) == 0)
        return pt_err_set(err, PT_E_NOTFOUND, "store: no desktop '%s'", id);
    return 0;
}

int
sq_event_append(struct store *st, const struct store_event *ev, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_EVENT_APPEND, err);

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, ev->desktop, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, ev->pool, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, ev->from, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, ev->to, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, ev->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, ev->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, ev->time_ms);
    return step_done(Q(st), s, "record desktop event", err);
}

static void
row_event(sqlite3_stmt *s, void *elem)
{
    struct store_event *e = elem;

    e->id = sqlite3_column_int64(s, 0);
    sq_text(s, 1, e->desktop, sizeof(e->desktop));
    sq_text(s, 2, e->pool, sizeof(e->pool));
    sq_text(s, 3, e->from, sizeof(e->from));
    sq_text(s, 4, e->to, sizeof(e->to));
    sq_text(s, 5, e->user, sizeof(e->user));
    sq_text(s, 6, e->reason, sizeof(e->reason));
    e->time_ms = sqlite3_column_int64(s, 7);
}

int
sq_event_list(struct store *st, const char *desktop, int limit, struct store_event **out, size_t *n,
              struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), desktop ? SQ_EVENT_LIST : SQ_EVENT_LIST_ALL, err);

    if (!s)
        return -1;
    if (desktop) {
        sqlite3_bind_text(s, 1, desktop, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, limit);
    } else {
        sqlite3_bind_int(s, 1, limit);
    }
    return collect(st, s, sizeof(**out), row_event, NULL, (void **)out, n, "list desktop events",
                   err);
}

int
sq_claim_insert(struct store *st, struct store_claim *c, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_CLAIM_INSERT, err);

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, c->pool, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, c->desktop, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, c->outcome, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, c->warm ? 1 : 0);
    sqlite3_bind_int64(s, 6, c->time_ms);
    sqlite3_bind_int64(s, 7, c->ready_ms);
    if (step_done(Q(st), s, "record claim", err) < 0)
        return -1;
    c->id = sqlite3_last_insert_rowid(Q(st)->db);
    return 0;
}

int
sq_claim_finish(struct store *st, const char *desktop, int64_t ready_ms, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_CLAIM_FINISH, err);

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, desktop, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, ready_ms);
    return step_done(Q(st), s, "finish claim", err);
}

int
sq_claim_stats(struct store *st, const char *pool, int64_t since_ms, struct store_claim_stats *out,
               struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_CLAIM_STATS, err);
    int rc;

    if (!s)
        return -1;
    sq_bind_opt(s, 1, pool);
    sqlite3_bind_int64(s, 2, since_ms);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->claims = sqlite3_column_int64(s, 0);
        out->warm = sqlite3_column_int64(s, 1);
        out->served = sqlite3_column_int64(s, 2);
        out->avg_wait_ms = sqlite3_column_int64(s, 3);
        out->max_wait_ms = sqlite3_column_int64(s, 4);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : sq_fail(Q(st), rc, "claim statistics", err);
}

int
sq_audit_append(struct store *st, const struct store_audit *a, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_AUDIT_APPEND, err);

    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, a->time_ms ? a->time_ms : pt_time_wall_ms());
    sqlite3_bind_text(s, 2, a->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, a->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, a->target, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, a->result, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, a->detail, -1, SQLITE_STATIC);
    return step_done(Q(st), s, "append audit entry", err);
}

static void
row_audit(sqlite3_stmt *s, void *elem)
{
    struct store_audit *a = elem;

    a->id = sqlite3_column_int64(s, 0);
    a->time_ms = sqlite3_column_int64(s, 1);
    sq_text(s, 2, a->actor, sizeof(a->actor));
    sq_text(s, 3, a->action, sizeof(a->action));
    sq_text(s, 4, a->target, sizeof(a->target));
    sq_text(s, 5, a->result, sizeof(a->result));
    sq_text(s, 6, a->detail, sizeof(a->detail));
}

int
sq_audit_list(struct store *st, int limit, struct store_audit **out, size_t *n, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_AUDIT_LIST, err);

    if (!s)
        return -1;
    sqlite3_bind_int(s, 1, limit);
    return collect(st, s, sizeof(**out), row_audit, NULL, (void **)out, n, "list audit log", err);
}

int
sq_schedule_add(struct store *st, struct store_schedule *sc, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_SCHEDULE_ADD, err);

    if (!s)
        return -1;
    sqlite3_bind_text(s, 1, sc->pool, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)sc->days);
    sqlite3_bind_int(s, 3, sc->minute);
    sqlite3_bind_int(s, 4, sc->warm);
    sqlite3_bind_int(s, 5, sc->min_size);
    sqlite3_bind_int(s, 6, sc->max_size);
    if (step_done(Q(st), s, "add schedule", err) < 0)
        return -1;
    sc->id = sqlite3_last_insert_rowid(Q(st)->db);
    return 0;
}

static void
row_schedule(sqlite3_stmt *s, void *elem)
{
    struct store_schedule *r = elem;

    r->id = sqlite3_column_int64(s, 0);
    sq_text(s, 1, r->pool, sizeof(r->pool));
    r->days = (unsigned)sqlite3_column_int(s, 2);
    r->minute = sqlite3_column_int(s, 3);
    r->warm = sqlite3_column_int(s, 4);
    r->min_size = sqlite3_column_int(s, 5);
    r->max_size = sqlite3_column_int(s, 6);
}

int
sq_schedule_list(struct store *st, const char *pool, struct store_schedule **out, size_t *n,
                 struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), pool ? SQ_SCHEDULE_LIST_POOL : SQ_SCHEDULE_LIST, err);

    if (!s)
        return -1;
    if (pool)
        sqlite3_bind_text(s, 1, pool, -1, SQLITE_STATIC);
    return collect(st, s, sizeof(**out), row_schedule, NULL, (void **)out, n, "list schedules",
                   err);
}

int
sq_schedule_delete(struct store *st, int64_t id, struct pt_err *err)
{
    sqlite3_stmt *s = sq_prepare(Q(st), SQ_SCHEDULE_DELETE, err);

    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    if (step_done(Q(st), s, "delete schedule", err) < 0)
        return -1;
    if (sqlite3_changes(Q(st)->db) == 0)
        return pt_err_set(err, PT_E_NOTFOUND, "store: no schedule %lld", (long long)id);
    return 0;
}
