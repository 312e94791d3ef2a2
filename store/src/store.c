/*
 * store.c - the front of the store: pick a backend by URI, validate every argument once
 * (names present and within their column sizes, states non-empty), then dispatch to the
 * backend's vtable. Backends may then trust their input; this file never sees SQL.
 */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/str.h"
#include "store_priv.h"

/* A required name: non-empty, fits in @max bytes with its NUL. */
static int
check_name(const char *what, const char *s, size_t max, struct pt_err *err)
{
    size_t len;

    if (!s || !*s)
        return pt_err_set(err, PT_E_INVALID, "store: %s is missing", what);
    len = strlen(s);
    if (len >= max)
        return pt_err_set(err, PT_E_INVALID, "store: %s is %zu bytes long, the limit is %zu", what,
                          len, max - 1);
    return 0;
}

/* An optional string (NULL or "" allowed) bounded by @max. */
static int
check_opt(const char *what, const char *s, size_t max, struct pt_err *err)
{
    if (s && strnlen(s, max) >= max)
        return pt_err_set(err, PT_E_INVALID, "store: %s is longer than %zu bytes", what, max - 1);
    return 0;
}

struct store *
store_open(const char *uri, struct pt_err *err)
{
    const struct store_driver *drv = NULL;
    const char *target = NULL;
    struct store *st;

    if (!uri || !*uri) {
        pt_err_set(err, PT_E_INVALID, "store: no database URI given (e.g. sqlite:/path/db)");
        return NULL;
    }
    if (pt_str_has_prefix(uri, "sqlite:")) {
        drv = &store_sqlite_driver;
        target = uri + strlen("sqlite:");
        /* sqlite:///abs/path and sqlite:/abs/path both mean /abs/path */
        while (target[0] == '/' && target[1] == '/')
            target++;
    } else if (pt_str_has_prefix(uri, "postgresql:") || pt_str_has_prefix(uri, "postgres:")) {
        pt_err_set(err, PT_E_INVALID,
                   "store: PostgreSQL is not built into this broker yet; use sqlite:/path");
        return NULL;
    } else if (strchr(uri, ':') && !strchr(uri, '/')) {
        pt_err_set(err, PT_E_INVALID, "store: unknown database URI scheme in '%s'", uri);
        return NULL;
    } else {
        drv = &store_sqlite_driver;
        target = uri;
    }
    if (!*target) {
        pt_err_set(err, PT_E_INVALID, "store: '%s' names no database file", uri);
        return NULL;
    }
    st = pt_xcalloc(1, sizeof(*st));
    st->drv = drv;
    if (drv->open(st, target, err) < 0) {
        free(st);
        return NULL;
    }
    return st;
}

void
store_close(struct store *st)
{
    if (!st)
        return;
    st->drv->close(st);
    free(st);
}

int
store_schema_version(struct store *st)
{
    return st->drv->schema_version(st);
}

int
store_tx_begin(struct store *st, struct pt_err *err)
{
    return st->drv->tx_begin(st, err);
}

int
store_tx_commit(struct store *st, struct pt_err *err)
{
    return st->drv->tx_commit(st, err);
}

void
store_tx_rollback(struct store *st)
{
    st->drv->tx_rollback(st);
}

static int
check_pool(const struct store_pool *p, struct pt_err *err)
{
    if (check_name("pool name", p->name, STORE_NAME_MAX, err) < 0 ||
        check_opt("image version", p->image_version, STORE_NAME_MAX, err) < 0 ||
        check_opt("pool spec", p->spec, STORE_TEXT_MAX, err) < 0)
        return -1;
    if (p->min_size < 0 || p->max_size < 0 || p->warm < 0 || p->parked < 0)
        return pt_err_set(err, PT_E_INVALID, "store: pool '%s' has a negative size", p->name);
    return 0;
}

int
store_pool_put(struct store *st, const struct store_pool *p, struct pt_err *err)
{
    if (!p || check_pool(p, err) < 0)
        return p ? -1 : pt_err_set(err, PT_E_INVALID, "store: no pool given");
    return st->drv->pool_put(st, p, err);
}

int
store_pool_get(struct store *st, const char *name, struct store_pool *out, struct pt_err *err)
{
    if (check_name("pool name", name, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->pool_get(st, name, out, err);
}

int
store_pool_list(struct store *st, struct store_pool **out, size_t *n, struct pt_err *err)
{
    return st->drv->pool_list(st, out, n, err);
}

int
store_pool_delete(struct store *st, const char *name, struct pt_err *err)
{
    if (check_name("pool name", name, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->pool_delete(st, name, err);
}

int64_t
store_pool_seq_next(struct store *st, const char *name, struct pt_err *err)
{
    if (check_name("pool name", name, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->pool_seq_next(st, name, err);
}

void
store_pool_fini(struct store_pool *p)
{
    if (!p)
        return;
    free(p->spec);
    p->spec = NULL;
}

void
store_pool_list_free(struct store_pool *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        store_pool_fini(&v[i]);
    free(v);
}

static int
check_desktop(const struct store_desktop *d, struct pt_err *err)
{
    if (!d)
        return pt_err_set(err, PT_E_INVALID, "store: no desktop given");
    if (check_name("desktop id", d->id, STORE_NAME_MAX, err) < 0 ||
        check_name("desktop pool", d->pool, STORE_NAME_MAX, err) < 0 ||
        check_name("desktop state", d->state, STORE_STATE_MAX, err) < 0 ||
        check_opt("desktop host", d->host, STORE_NAME_MAX, err) < 0 ||
        check_opt("desktop domain", d->domain, STORE_NAME_MAX, err) < 0 ||
        check_opt("desktop user", d->user, STORE_USER_MAX, err) < 0 ||
        check_opt("desktop image version", d->image_version, STORE_NAME_MAX, err) < 0)
        return -1;
    return 0;
}

int
store_desktop_insert(struct store *st, const struct store_desktop *d, struct pt_err *err)
{
    if (check_desktop(d, err) < 0)
        return -1;
    return st->drv->desktop_insert(st, d, err);
}

int
store_desktop_update(struct store *st, const struct store_desktop *d, const char *expect_state,
                     struct pt_err *err)
{
    if (check_desktop(d, err) < 0 ||
        check_opt("expected state", expect_state, STORE_STATE_MAX, err) < 0)
        return -1;
    return st->drv->desktop_update(st, d, expect_state, err);
}

int
store_desktop_get(struct store *st, const char *id, struct store_desktop *out, struct pt_err *err)
{
    if (check_name("desktop id", id, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->desktop_get(st, id, out, err);
}

int
store_desktop_list(struct store *st, const char *pool, struct store_desktop **out, size_t *n,
                   struct pt_err *err)
{
    if (check_opt("pool name", pool, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->desktop_list(st, pool, out, n, err);
}

int
store_desktop_find_user(struct store *st, const char *pool, const char *user,
                        struct store_desktop *out, struct pt_err *err)
{
    if (check_name("pool name", pool, STORE_NAME_MAX, err) < 0 ||
        check_name("user", user, STORE_USER_MAX, err) < 0)
        return -1;
    return st->drv->desktop_find_user(st, pool, user, out, err);
}

int
store_desktop_pick(struct store *st, const char *pool, const char *state, const char *image_version,
                   struct store_desktop *out, struct pt_err *err)
{
    if (check_name("pool name", pool, STORE_NAME_MAX, err) < 0 ||
        check_name("state", state, STORE_STATE_MAX, err) < 0 ||
        check_opt("image version", image_version, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->desktop_pick(st, pool, state, image_version, out, err);
}

int
store_desktop_delete(struct store *st, const char *id, struct pt_err *err)
{
    if (check_name("desktop id", id, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->desktop_delete(st, id, err);
}

int
store_event_append(struct store *st, const struct store_event *ev, struct pt_err *err)
{
    if (!ev)
        return pt_err_set(err, PT_E_INVALID, "store: no event given");
    if (check_name("event desktop", ev->desktop, STORE_NAME_MAX, err) < 0 ||
        check_name("event pool", ev->pool, STORE_NAME_MAX, err) < 0 ||
        check_name("event state", ev->to, STORE_STATE_MAX, err) < 0 ||
        check_opt("event from", ev->from, STORE_STATE_MAX, err) < 0 ||
        check_opt("event user", ev->user, STORE_USER_MAX, err) < 0 ||
        check_opt("event reason", ev->reason, sizeof(ev->reason), err) < 0)
        return -1;
    return st->drv->event_append(st, ev, err);
}

int
store_event_list(struct store *st, const char *desktop, int limit, struct store_event **out,
                 size_t *n, struct pt_err *err)
{
    if (check_opt("desktop id", desktop, STORE_NAME_MAX, err) < 0)
        return -1;
    if (limit <= 0)
        return pt_err_set(err, PT_E_INVALID, "store: event limit must be positive");
    return st->drv->event_list(st, desktop, limit, out, n, err);
}

int
store_claim_insert(struct store *st, struct store_claim *c, struct pt_err *err)
{
    if (!c)
        return pt_err_set(err, PT_E_INVALID, "store: no claim given");
    if (check_name("claim pool", c->pool, STORE_NAME_MAX, err) < 0 ||
        check_name("claim user", c->user, STORE_USER_MAX, err) < 0 ||
        check_opt("claim desktop", c->desktop, STORE_NAME_MAX, err) < 0 ||
        check_name("claim outcome", c->outcome, sizeof(c->outcome), err) < 0)
        return -1;
    return st->drv->claim_insert(st, c, err);
}

int
store_claim_finish(struct store *st, const char *desktop, int64_t ready_ms, struct pt_err *err)
{
    if (check_name("desktop id", desktop, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->claim_finish(st, desktop, ready_ms, err);
}

int
store_claim_stats(struct store *st, const char *pool, int64_t since_ms,
                  struct store_claim_stats *out, struct pt_err *err)
{
    if (check_opt("pool name", pool, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->claim_stats(st, pool, since_ms, out, err);
}

int
store_audit_append(struct store *st, const struct store_audit *a, struct pt_err *err)
{
    if (!a)
        return pt_err_set(err, PT_E_INVALID, "store: no audit entry given");
    if (check_name("audit actor", a->actor, sizeof(a->actor), err) < 0 ||
        check_name("audit action", a->action, sizeof(a->action), err) < 0 ||
        check_opt("audit target", a->target, sizeof(a->target), err) < 0 ||
        check_name("audit result", a->result, sizeof(a->result), err) < 0 ||
        check_opt("audit detail", a->detail, sizeof(a->detail), err) < 0)
        return -1;
    return st->drv->audit_append(st, a, err);
}

int
store_audit_list(struct store *st, int limit, struct store_audit **out, size_t *n,
                 struct pt_err *err)
{
    if (limit <= 0)
        return pt_err_set(err, PT_E_INVALID, "store: audit limit must be positive");
    return st->drv->audit_list(st, limit, out, n, err);
}

int
store_schedule_add(struct store *st, struct store_schedule *s, struct pt_err *err)
{
    if (!s)
        return pt_err_set(err, PT_E_INVALID, "store: no schedule given");
    if (check_name("schedule pool", s->pool, STORE_NAME_MAX, err) < 0)
        return -1;
    if (s->days == 0 || s->days > 0x7f)
        return pt_err_set(err, PT_E_INVALID, "store: schedule days must name Monday..Sunday");
    if (s->minute < 0 || s->minute >= 24 * 60)
        return pt_err_set(err, PT_E_INVALID, "store: schedule time must be 00:00..23:59");
    return st->drv->schedule_add(st, s, err);
}

int
store_schedule_list(struct store *st, const char *pool, struct store_schedule **out, size_t *n,
                    struct pt_err *err)
{
    if (check_opt("pool name", pool, STORE_NAME_MAX, err) < 0)
        return -1;
    return st->drv->schedule_list(st, pool, out, n, err);
}

int
store_schedule_delete(struct store *st, int64_t id, struct pt_err *err)
{
    return st->drv->schedule_delete(st, id, err);
}
