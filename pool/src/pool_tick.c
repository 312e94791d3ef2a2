/*
 * pool_tick.c - one reconcile pass (see the essay atop pool_reconcile.c): gather the
 * hosts' and the store's view, heal per desktop, delete orphans, then converge each pool
 * to its size. Every decision is recomputed from scratch each pass; nothing here
 * remembers what it did last time except the actions still in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "pool_priv.h"

/* The inputs of one pass. */
struct view {
    struct hv_desktop_info *dom; /* every Portico domain on every listed host */
    size_t ndom;
    bool *dom_seen;
    struct store_desktop *rows;
    size_t nrows;
    bool *listed; /* per ctx->hosts[i]: its domains were listed this pass */
};

static void
view_fini(struct view *v)
{
    free(v->dom);
    free(v->dom_seen);
    free(v->rows);
    free(v->listed);
}

/* hv events only hint: every pass re-reads the hosts anyway (level-triggered), so they
 * are logged and dropped; draining them keeps the layer's queue from filling. */
static void
on_hv_event(void *opaque, const struct hv_event *ev)
{
    pt_debug("event=hv_event type=%d host=%s name=%s", (int)ev->type, ev->host, ev->name);
}

static int
view_load(struct pool_ctx *ctx, struct view *v, struct pt_err *err)
{
    struct pt_err herr;

    memset(v, 0, sizeof(*v));
    hv_events_dispatch(ctx->hv, on_hv_event, ctx);
    if (pool_hosts_refresh(ctx, &herr) < 0)
        pt_warnx("event=host_refresh_failed error=\"%s\"", herr.msg);
    v->listed = pt_xcalloc(ctx->nhosts + 1, sizeof(*v->listed));
    for (size_t i = 0; i < ctx->nhosts; i++) {
        struct hv_desktop_info *part = NULL;
        size_t n = 0;

        if (!ctx->hosts[i].up)
            continue;
        if (hv_desktop_list(ctx->hv, ctx->hosts[i].name, &part, &n, &herr) < 0) {
            pt_warnx("event=host_list_failed host=%s error=\"%s\"", ctx->hosts[i].name, herr.msg);
            continue;
        }
        v->listed[i] = true;
        if (n) {
            v->dom = pt_xreallocarray(v->dom, v->ndom + n, sizeof(*v->dom));
            memcpy(v->dom + v->ndom, part, n * sizeof(*part));
            v->ndom += n;
        }
        free(part);
    }
    v->dom_seen = pt_xcalloc(v->ndom + 1, sizeof(*v->dom_seen));
    return store_desktop_list(ctx->st, NULL, &v->rows, &v->nrows, err);
}

static bool
host_listed(struct pool_ctx *ctx, const struct view *v, const struct pool_host *h)
{
    return h && v->listed[h - ctx->hosts];
}

/* --- per desktop ---------------------------------------------------------------------- */

struct smap_ix {
    struct smap_pair {
        const char *a, *b;
        size_t v;
    } * slots;
    size_t cap;
};

static uint64_t
fnv(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ULL;
    h = (h ^ '/') * 1099511628211ULL;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ULL;
    return h;
}

static void
ix_init(struct smap_ix *m, size_t n)
{
    m->cap = 16;
    while (m->cap < n * 2 + 1)
        m->cap *= 2;
    m->slots = pt_xcalloc(m->cap, sizeof(*m->slots));
}

static void
ix_put(struct smap_ix *m, const char *a, const char *b, size_t v)
{
    size_t i = fnv(a, b) & (m->cap - 1);

    while (m->slots[i].a)
        i = (i + 1) & (m->cap - 1);
    m->slots[i].a = a;
    m->slots[i].b = b;
    m->slots[i].v = v;
}

static bool
ix_get(const struct smap_ix *m, const char *a, const char *b, size_t *v)
{
    for (size_t i = fnv(a, b) & (m->cap - 1); m->slots[i].a; i = (i + 1) & (m->cap - 1)) {
        if (strcmp(m->slots[i].a, a) == 0 && strcmp(m->slots[i].b, b) == 0) {
            *v = m->slots[i].v;
            return true;
        }
    }
    return false;
}

/* Two indexes over the domains: by host/name and by pool/desktop id. */
struct ixs {
    struct smap_ix by_name, by_id;
};

static void
heal_one(struct pool_ctx *ctx, struct view *v, const struct ixs *ix, struct store_desktop *d)
{
    enum pool_state st = pool_state_of(d);
    struct pool_host *h = pool_host_find(ctx, d->host);
    struct pool_entry *pe = pool_entry_find(ctx, d->pool);
    const struct hv_desktop_info *info = NULL;
    struct pt_err err;
    size_t k;
    char why[160];

    if (d->host[0] && ix_get(&ix->by_name, d->host, d->domain, &k)) {
        info = &v->dom[k];
        v->dom_seen[k] = true;
    } else if (ix_get(&ix->by_id, d->pool, d->id, &k) && strcmp(v->dom[k].name, d->domain) == 0) {
        /* found on another host than recorded (migrated by hand, or the row was
         * written before a crash changed the placement): adopt it */
        struct store_desktop nd = *d;

        v->dom_seen[k] = true;
        pt_strlcpy(nd.host, v->dom[k].host, sizeof(nd.host));
        if (!pool_job_inflight(ctx, d->id) &&
            store_desktop_update(ctx->st, &nd, d->state, &err) == 0) {
            pt_info("event=adopted desktop=%s pool=%s from_host=%s host=%s", d->id, d->pool,
                    d->host, nd.host);
            *d = nd;
            h = pool_host_find(ctx, d->host);
            info = &v->dom[k];
        }
    }
    if (pool_job_inflight(ctx, d->id))
        return;
    if (h && !h->up && st != POOL_STATE_ERROR && st != POOL_STATE_DELETING) {
        snprintf(why, sizeof(why), "host %s lost", d->host);
        if (pool_transition(ctx, d, POOL_STATE_ERROR, NULL, why, &err) < 0)
            pt_warnx("event=transition_failed desktop=%s error=\"%s\"", d->id, err.msg);
    } else if (!info && host_listed(ctx, v, h) && st != POOL_STATE_PROVISIONING &&
               st != POOL_STATE_DELETING && st != POOL_STATE_ERROR) {
        if (pool_transition(ctx, d, POOL_STATE_ERROR, NULL, "domain vanished from its host", &err) <
            0)
            pt_warnx("event=transition_failed desktop=%s error=\"%s\"", d->id, err.msg);
    } else if (info && st == POOL_STATE_READY && info->state != HV_DOMAIN_RUNNING) {
        snprintf(why, sizeof(why), "found %s", hv_domain_state_str(info->state));
        if (pool_transition(ctx, d, POOL_STATE_STARTING, NULL, why, &err) < 0)
            pt_warnx("event=transition_failed desktop=%s error=\"%s\"", d->id, err.msg);
    } else if (info && st == POOL_STATE_PARKED &&
               (info->state == HV_DOMAIN_RUNNING || info->state == HV_DOMAIN_PAUSED)) {
        /* the park was recorded but not done (crash, or it is the first pass after it) */
        if (pe && h && h->up && pool_job_room(ctx, d->host))
            pool_job_submit(ctx, pool_job_new(ctx, POOL_JOB_PARK, d, pe));
        return;
    }
    pool_desktop_act(ctx, pe, d);
}

static bool
pool_known(struct pool_ctx *ctx, const char *name)
{
    return pool_entry_find(ctx, name) != NULL;
}

static void
delete_orphans(struct pool_ctx *ctx, struct view *v, const struct ixs *rows_by_id)
{
    size_t plen = strlen(ctx->o.domain_prefix), k;

    for (size_t i = 0; i < v->ndom; i++) {
        const struct hv_desktop_info *di = &v->dom[i];
        struct store_desktop fake;
        struct pool_job *j;

        if (v->dom_seen[i] || strncmp(di->name, ctx->o.domain_prefix, plen) != 0 ||
            !pool_known(ctx, di->pool) || ix_get(&rows_by_id->by_id, di->pool, di->desktop_id, &k))
            continue;
        if (!pool_job_room(ctx, di->host))
            continue;
        memset(&fake, 0, sizeof(fake));
        snprintf(fake.id, sizeof(fake.id), "orphan:%.50s", di->name);
        pt_strlcpy(fake.pool, di->pool, sizeof(fake.pool));
        pt_strlcpy(fake.host, di->host, sizeof(fake.host));
        pt_strlcpy(fake.domain, di->name, sizeof(fake.domain));
        if (pool_job_inflight(ctx, fake.id))
            continue;
        pt_warnx("event=orphan host=%s domain=%s pool=%s desktop=%s", di->host, di->name, di->pool,
                 di->desktop_id);
        j = pool_job_new(ctx, POOL_JOB_ORPHAN, &fake, NULL);
        pool_job_submit(ctx, j);
    }
}

/* --- per pool ------------------------------------------------------------------------- */

struct tally {
    int live, in_use, ready, ready_current, coming, parked, outdated;
};

static bool
has_user(const struct store_desktop *d)
{
    return d->user[0] != '\0';
}

static void
tally(struct pool_ctx *ctx, struct pool_entry *pe, struct view *v, struct tally *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < v->nrows; i++) {
        struct store_desktop *d = &v->rows[i];
        enum pool_state st = pool_state_of(d);

        if (strcmp(d->pool, pe->spec->name) != 0 || st == POOL_STATE_ERROR ||
            st == POOL_STATE_DELETING)
            continue;
        t->live++;
        if (has_user(d)) {
            t->in_use++;
            continue;
        }
        if (strcmp(d->image_version, pe->spec->image_version) != 0)
            t->outdated++;
        if (st == POOL_STATE_READY) {
            t->ready++;
            if (strcmp(d->image_version, pe->spec->image_version) == 0)
                t->ready_current++;
        } else if (st == POOL_STATE_PARKED) {
            t->parked++;
        } else {
            t->coming++;
        }
    }
}

/* timeouts() - end sessions past their idle, disconnected or maximum time. */
static void
timeouts(struct pool_ctx *ctx, struct pool_entry *pe, struct view *v)
{
    const struct pool_spec *s = pe->spec;
    int64_t now = pool_now(ctx);

    for (size_t i = 0; i < v->nrows; i++) {
        struct store_desktop *d = &v->rows[i];
        enum pool_state st = pool_state_of(d);
        const char *why = NULL;

        if (strcmp(d->pool, s->name) != 0 || !has_user(d) || pool_job_inflight(ctx, d->id))
            continue;
        if (st == POOL_STATE_DISCONNECTED && s->disconnected_timeout_ms &&
            now - d->state_ms >= s->disconnected_timeout_ms)
            why = "disconnected timeout";
        else if (st == POOL_STATE_ASSIGNED && s->disconnected_timeout_ms &&
                 now - d->state_ms >= s->disconnected_timeout_ms)
            why = "never connected";
        else if (st == POOL_STATE_CONNECTED && s->idle_timeout_ms &&
                 now - (d->activity_ms ? d->activity_ms : d->state_ms) >= s->idle_timeout_ms)
            why = "idle timeout";
        else if ((st == POOL_STATE_CONNECTED || st == POOL_STATE_DISCONNECTED ||
                  st == POOL_STATE_ASSIGNED) &&
                 s->max_session_ms && d->assigned_ms && now - d->assigned_ms >= s->max_session_ms)
            why = "maximum session time";
        if (why)
            pool_desktop_release(ctx, pe, d, why);
    }
}

/* pick_idle() - an unassigned desktop of the pool in @st (outdated first if @outdated_first),
 * not busy; NULL if none. Rows are walked from the end: newest first. */
static struct store_desktop *
pick_idle(struct pool_ctx *ctx, struct pool_entry *pe, struct view *v, enum pool_state st,
          int outdated_only)
{
    for (size_t i = v->nrows; i-- > 0;) {
        struct store_desktop *d = &v->rows[i];

        if (strcmp(d->pool, pe->spec->name) != 0 || has_user(d) || pool_state_of(d) != st ||
            pool_job_inflight(ctx, d->id))
            continue;
        if (outdated_only && strcmp(d->image_version, pe->spec->image_version) == 0)
            continue;
        return d;
    }
    return NULL;
}

static void
converge(struct pool_ctx *ctx, struct pool_entry *pe, struct view *v)
{
    struct tally t;
    struct store_desktop *d;
    int min, max, warm, parked, desired, n;
    bool paused;
    struct pt_err err;

    timeouts(ctx, pe, v);
    pool_effective(ctx, pe->spec, &min, &max, &warm, &parked);
    tally(ctx, pe, v, &t);
    paused = pool_restraint_active(ctx, &pe->restraint);

    /* image rollover: idle desktops on an old image are re-cloned (ready) or replaced
     * (parked), a few at a time so the pool keeps serving */
    for (n = warm > 1 ? warm / 2 : 1; !paused && n > 0; n--) {
        if ((d = pick_idle(ctx, pe, v, POOL_STATE_READY, 1)))
            pool_desktop_move(ctx, pe, d, POOL_STATE_RECYCLING, NULL, "image rollover");
        else if ((d = pick_idle(ctx, pe, v, POOL_STATE_PARKED, 1)))
            pool_desktop_move(ctx, pe, d, POOL_STATE_DELETING, NULL, "image rollover");
        else
            break;
    }
    /* drain: idle desktops on a draining host are retired and replaced elsewhere */
    for (size_t i = 0; i < v->nrows; i++) {
        struct pool_host *h;

        d = &v->rows[i];
        if (strcmp(d->pool, pe->spec->name) != 0 || has_user(d) || pool_job_inflight(ctx, d->id))
            continue;
        h = pool_host_find(ctx, d->host);
        if (h && h->draining &&
            (pool_state_of(d) == POOL_STATE_READY || pool_state_of(d) == POOL_STATE_PARKED))
            pool_desktop_move(ctx, pe, d, POOL_STATE_DELETING, NULL, "host draining: retired");
    }
    /* drain = migrate: the ones with a user move, live, a few at a time */
    pool_drain_migrate(ctx, pe, v->rows, v->nrows);
    tally(ctx, pe, v, &t);
    desired = t.in_use + warm + parked;
    desired = desired < min ? min : desired > max ? max : desired;

    /* short of warm desktops: resume parked ones first, they are a second away */
    for (n = warm - t.ready - t.coming; n > 0 && (d = pick_idle(ctx, pe, v, POOL_STATE_PARKED, 0));
         n--)
        pool_desktop_move(ctx, pe, d, POOL_STATE_STARTING, NULL, "resumed to keep the pool warm");
    /* provision up to the desired size */
    for (n = desired - t.live; n > 0 && !paused; n--) {
        struct pool_host *h = pool_place(ctx, pe);
        struct store_desktop nd;

        if (!h)
            break;
        if (pool_desktop_new_row(ctx, pe, h, NULL, "pool below its size", &nd, &err) < 0) {
            pt_warnx("event=provision_failed pool=%s error=\"%s\"", pe->spec->name, err.msg);
            break;
        }
        h->desktops++;
        pool_desktop_act(ctx, pe, &nd);
    }
    tally(ctx, pe, v, &t);
    /* park the surplus of ready desktops, up to the parked target */
    for (n = t.ready - warm < parked - t.parked ? t.ready - warm : parked - t.parked;
         n > 0 && (d = pick_idle(ctx, pe, v, POOL_STATE_READY, 0)); n--) {
        pool_desktop_move(ctx, pe, d, POOL_STATE_PARKED, NULL, "parked: above the warm target");
        /* parked is recorded; the managed save follows (or the next pass sees the
         * domain still running and does it) */
        if (pool_state_of(d) == POOL_STATE_PARKED && pool_job_room(ctx, d->host))
            pool_job_submit(ctx, pool_job_new(ctx, POOL_JOB_PARK, d, pe));
    }
    tally(ctx, pe, v, &t);
    /* scale down: ready first, then parked, then clones not yet running; never a
     * desktop with a user */
    for (n = t.live - desired; n > 0; n--) {
        if (!(d = pick_idle(ctx, pe, v, POOL_STATE_READY, 0)) &&
            !(d = pick_idle(ctx, pe, v, POOL_STATE_PARKED, 0)) &&
            !(d = pick_idle(ctx, pe, v, POOL_STATE_PROVISIONING, 0)) &&
            !(d = pick_idle(ctx, pe, v, POOL_STATE_STARTING, 0)))
            break;
        pool_desktop_move(ctx, pe, d, POOL_STATE_DELETING, NULL, "pool above its size");
    }
}

int
pool_tick(struct pool_ctx *ctx, struct pt_err *err)
{
    struct view v;
    struct ixs ix, rows_ix;
    int rc = -1;

    memset(&ix, 0, sizeof(ix));
    memset(&rows_ix, 0, sizeof(rows_ix));
    ctx->ticks++;
    if (view_load(ctx, &v, err) < 0)
        goto out;
    ix_init(&ix.by_name, v.ndom);
    ix_init(&ix.by_id, v.ndom);
    for (size_t i = 0; i < v.ndom; i++) {
        ix_put(&ix.by_name, v.dom[i].host, v.dom[i].name, i);
        ix_put(&ix.by_id, v.dom[i].pool, v.dom[i].desktop_id, i);
    }
    ix_init(&rows_ix.by_id, v.nrows);
    for (size_t i = 0; i < ctx->nhosts; i++)
        ctx->hosts[i].desktops = 0;
    for (size_t i = 0; i < v.nrows; i++) {
        struct pool_host *h = pool_host_find(ctx, v.rows[i].host);
        enum pool_state st = pool_state_of(&v.rows[i]);

        ix_put(&rows_ix.by_id, v.rows[i].pool, v.rows[i].id, i);
        if (h && st != POOL_STATE_ERROR && st != POOL_STATE_DELETING)
            h->desktops++;
    }
    for (size_t i = 0; i < v.nrows; i++)
        heal_one(ctx, &v, &ix, &v.rows[i]);
    delete_orphans(ctx, &v, &rows_ix);
    for (size_t i = 0; i < ctx->npools; i++)
        converge(ctx, ctx->pools[i], &v);
    rc = 0;
out:
    free(ix.by_name.slots);
    free(ix.by_id.slots);
    free(rows_ix.by_id.slots);
    view_fini(&v);
    return rc;
}

int
pool_ctx_recover(struct pool_ctx *ctx, struct pt_err *err)
{
    struct store_desktop *rows = NULL;
    size_t n = 0;
    int leftovers;

    /* before the first pass issues any action: no create of ours is in flight, so an
     * overlay without a domain is a leftover of the previous run */
    if (pool_hosts_refresh(ctx, err) < 0)
        return -1;
    leftovers = pool_leftovers_sweep(ctx);
    if (pool_tick(ctx, err) < 0)
        return -1;
    if (store_desktop_list(ctx->st, NULL, &rows, &n, err) < 0)
        return -1;
    pt_info("event=recovered desktops=%zu actions=%zu pools=%zu hosts=%zu leftover_overlays=%d", n,
            ctx->ninflight, ctx->npools, ctx->nhosts, leftovers);
    free(rows);
    return 0;
}
