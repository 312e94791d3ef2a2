/*
 * pool_claim.c - handing desktops to users and taking them back, plus the status the
 * broker shows.
 *
 * A claim is one store transaction (BEGIN IMMEDIATE: the write lock is taken first,
 * so two brokers or threads claiming at once are serialised by the database, and each
 * step's compare-and-set on the desktop's state makes a lost race an error rather than
 * a double assignment). The order of preference is the issue's: the user's own desktop,
 * a ready one, a parked one, one already starting, a new one, else "exhausted". The
 * action a claim implies (resume, clone) is issued only after the commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "pool_priv.h"

static const char *const outcome_names[] = {"reconnect", "warm", "resume", "starting", "create"};

const char *
pool_claim_outcome_str(enum pool_claim_outcome o)
{
    return (unsigned)o < sizeof(outcome_names) / sizeof(outcome_names[0]) ? outcome_names[o] : "?";
}

static bool
user_state_ready(enum pool_state st)
{
    return st == POOL_STATE_ASSIGNED || st == POOL_STATE_CONNECTED || st == POOL_STATE_DISCONNECTED;
}

/* exhausted_wait() - when might a desktop free up? The soonest disconnect or session
 * timeout plus the time a desktop takes to get ready; -1 if nothing will free one. */
static int64_t
exhausted_wait(struct pool_ctx *ctx, struct pool_entry *pe)
{
    const struct pool_spec *s = pe->spec;
    struct store_desktop *rows = NULL;
    size_t n = 0;
    int64_t now = pool_now(ctx), best = -1;

    if (store_desktop_list(ctx->st, s->name, &rows, &n, NULL) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        enum pool_state st = pool_state_of(&rows[i]);
        bool known = false;
        int64_t t = 0;

        if (st == POOL_STATE_RECYCLING || st == POOL_STATE_DELETING || st == POOL_STATE_ERROR) {
            known = true; /* on its way back, or its slot is about to free up */
        } else if (st == POOL_STATE_DISCONNECTED && s->disconnected_timeout_ms) {
            known = true;
            t = rows[i].state_ms + s->disconnected_timeout_ms - now;
        }
        if (s->max_session_ms && rows[i].assigned_ms) {
            int64_t m = rows[i].assigned_ms + s->max_session_ms - now;

            if (!known || m < t)
                t = m;
            known = true;
        }
        if (!known)
            continue;
        if (t < 0)
            t = 0; /* overdue: the next pass frees it */
        if (best < 0 || t < best)
            best = t;
    }
    free(rows);
    return best < 0 ? -1 : best + pe->avg_ready_ms;
}

static int
live_count(struct pool_ctx *ctx, const char *pool, int *out, struct pt_err *err)
{
    struct store_desktop *rows = NULL;
    size_t n = 0;

    if (store_desktop_list(ctx->st, pool, &rows, &n, err) < 0)
        return -1;
    *out = 0;
    for (size_t i = 0; i < n; i++) {
        enum pool_state st = pool_state_of(&rows[i]);

        if (st != POOL_STATE_ERROR && st != POOL_STATE_DELETING)
            (*out)++;
    }
    free(rows);
    return 0;
}

static void
fill_claim(struct pool_claim *out, enum pool_claim_outcome o, const struct store_desktop *d,
           int64_t wait)
{
    enum pool_state st = pool_state_of(d);

    out->outcome = o;
    pt_strlcpy(out->desktop, d->id, sizeof(out->desktop));
    pt_strlcpy(out->host, d->host, sizeof(out->host));
    pt_strlcpy(out->domain, d->domain, sizeof(out->domain));
    out->state = st;
    out->ready = user_state_ready(st);
    out->expected_wait_ms = out->ready ? 0 : wait;
}

/* claim_pick() - the body of the claim transaction. Returns 0 with @out and @d set,
 * 1 when the pool is exhausted, -1 on error. */
static int
claim_pick(struct pool_ctx *ctx, struct pool_entry *pe, const char *user, struct pool_claim *out,
           struct store_desktop *d, struct pt_err *err)
{
    const struct pool_spec *s = pe->spec;
    static const enum pool_state coming[] = {POOL_STATE_STARTING, POOL_STATE_RECYCLING,
                                             POOL_STATE_PROVISIONING};
    int r, live, min, max, warm, parked;
    struct pool_host *h;

    r = store_desktop_find_user(ctx->st, s->name, user, d, err);
    if (r < 0)
        return -1;
    if (r == 1) {
        enum pool_state st = pool_state_of(d);

        if (st != POOL_STATE_ERROR && st != POOL_STATE_DELETING) {
            fill_claim(out, POOL_CLAIM_RECONNECT, d, pe->avg_ready_ms);
            return 0;
        }
        /* their desktop is being replaced: let go of it so they can have another */
        if (pool_transition(ctx, d, st, "", "user moved to another desktop", err) < 0)
            return -1;
    }
    r = store_desktop_pick(ctx->st, s->name, "ready", s->image_version, d, err);
    if (r < 0)
        return -1;
    if (r == 1) {
        if (pool_transition(ctx, d, POOL_STATE_ASSIGNED, user, "claimed warm", err) < 0)
            return -1;
        fill_claim(out, POOL_CLAIM_WARM, d, 0);
        return 0;
    }
    r = store_desktop_pick(ctx->st, s->name, "parked", s->image_version, d, err);
    if (r < 0)
        return -1;
    if (r == 1) {
        if (pool_transition(ctx, d, POOL_STATE_STARTING, user, "claimed: resuming", err) < 0)
            return -1;
        fill_claim(out, POOL_CLAIM_RESUME, d, 1000);
        return 0;
    }
    for (size_t i = 0; i < sizeof(coming) / sizeof(coming[0]); i++) {
        r = store_desktop_pick(ctx->st, s->name, pool_state_str(coming[i]), s->image_version, d,
                               err);
        if (r < 0)
            return -1;
        if (r == 1) {
            if (pool_transition(ctx, d, coming[i], user, "claimed: reserved while on its way",
                                err) < 0)
                return -1;
            fill_claim(out, POOL_CLAIM_STARTING, d, pe->avg_ready_ms);
            return 0;
        }
    }
    pool_effective(ctx, s, &min, &max, &warm, &parked);
    if (live_count(ctx, s->name, &live, err) < 0)
        return -1;
    if (live >= max)
        return 1;
    h = pool_place(ctx, pe);
    if (!h)
        return pt_err_set(err, PT_E_UNAVAILABLE, "pool '%s': no host can take a desktop (%s)",
                          s->name, pe->no_host_reason);
    if (pool_desktop_new_row(ctx, pe, h, user, "claimed: created for the user", d, err) < 0)
        return -1;
    h->desktops++;
    fill_claim(out, POOL_CLAIM_CREATE, d, pe->avg_ready_ms ? pe->avg_ready_ms * 2 : -1);
    return 0;
}

int
pool_claim(struct pool_ctx *ctx, const char *pool, const char *user, struct pool_claim *out,
           struct pt_err *err)
{
    struct pool_entry *pe = pool_entry_find(ctx, pool ? pool : "");
    struct store_desktop d;
    struct store_claim c;
    int64_t t0 = pool_now(ctx);
    int r;

    memset(out, 0, sizeof(*out));
    out->expected_wait_ms = -1;
    if (!pe)
        return pt_err_set(err, PT_E_NOTFOUND, "no pool named '%s'", pool ? pool : "");
    if (!user || !*user || strlen(user) >= STORE_USER_MAX)
        return pt_err_set(err, PT_E_INVALID, "claim: a user name of 1 to %d bytes is required",
                          STORE_USER_MAX - 1);
    if (store_tx_begin(ctx->st, err) < 0)
        return -1;
    r = claim_pick(ctx, pe, user, out, &d, err);
    if (r < 0)
        goto fail;
    if (r == 1) {
        store_tx_rollback(ctx->st);
        out->expected_wait_ms = exhausted_wait(ctx, pe);
        pt_info("event=claim pool=%s user=%s outcome=exhausted expected_wait_ms=%lld", pool, user,
                (long long)out->expected_wait_ms);
        return pt_err_set(err, PT_E_LIMIT, "pool '%s' is exhausted: every desktop is in use%s",
                          pool,
                          out->expected_wait_ms >= 0 ? "; retry after the expected wait"
                                                     : " and none is due to free up");
    }
    memset(&c, 0, sizeof(c));
    pt_strlcpy(c.pool, pool, sizeof(c.pool));
    pt_strlcpy(c.user, user, sizeof(c.user));
    pt_strlcpy(c.desktop, d.id, sizeof(c.desktop));
    pt_strlcpy(c.outcome, pool_claim_outcome_str(out->outcome), sizeof(c.outcome));
    c.warm = out->ready;
    c.time_ms = t0;
    c.ready_ms = out->ready ? pool_now(ctx) : 0;
    if (store_claim_insert(ctx->st, &c, err) < 0)
        goto fail;
    if (store_tx_commit(ctx->st, err) < 0)
        return -1;
    pt_info("event=claim pool=%s user=%s outcome=%s desktop=%s ready=%s", pool, user,
            pool_claim_outcome_str(out->outcome), d.id, out->ready ? "yes" : "no");
    /* only now, with the intent committed, start what the claim implies */
    pool_desktop_act(ctx, pe, &d);
    return 0;
fail:
    store_tx_rollback(ctx->st);
    return -1;
}

int
pool_desktop_release(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *d,
                     const char *reason)
{
    struct pt_err err;
    const char *user = pe && pe->spec->assignment == POOL_ASSIGN_DEDICATED ? NULL : "";

    if (pool_transition(ctx, d, POOL_STATE_RECYCLING, user, reason, &err) < 0) {
        pt_warnx("event=transition_failed desktop=%s error=\"%s\"", d->id, err.msg);
        return -1;
    }
    pool_desktop_act(ctx, pe, d);
    return 0;
}

int
pool_desktop_report(struct pool_ctx *ctx, const char *desktop, const char *user,
                    enum pool_session_event ev, struct pt_err *err)
{
    struct store_desktop d, nd;
    struct pool_entry *pe;
    enum pool_state st;

    if (store_desktop_get(ctx->st, desktop ? desktop : "", &d, err) < 0)
        return -1;
    if (!user || strcmp(user, d.user) != 0)
        return pt_err_set(err, PT_E_FORBIDDEN, "desktop %s is not held by '%s'", desktop,
                          user ? user : "");
    pe = pool_entry_find(ctx, d.pool);
    st = pool_state_of(&d);
    switch (ev) {
    case POOL_SESSION_CONNECTED:
        if (st == POOL_STATE_CONNECTED)
            return 0;
        if (st != POOL_STATE_ASSIGNED && st != POOL_STATE_DISCONNECTED)
            return pt_err_set(err, PT_E_CONFLICT, "desktop %s is %s, not ready to connect", desktop,
                              d.state);
        return pool_transition(ctx, &d, POOL_STATE_CONNECTED, NULL, "tunnel opened", err);
    case POOL_SESSION_DISCONNECTED:
        if (st != POOL_STATE_CONNECTED)
            return 0;
        return pool_transition(ctx, &d, POOL_STATE_DISCONNECTED, NULL, "tunnel closed", err);
    case POOL_SESSION_ACTIVITY:
        nd = d;
        nd.activity_ms = pool_now(ctx);
        return store_desktop_update(ctx->st, &nd, d.state, err);
    case POOL_SESSION_LOGOFF:
        if (!user_state_ready(st))
            return pt_err_set(err, PT_E_CONFLICT, "desktop %s is %s: nothing to log off", desktop,
                              d.state);
        return pool_desktop_release(ctx, pe, &d, "logoff") < 0
                   ? pt_err_set(err, PT_E_CONFLICT, "desktop %s: logoff raced a change", desktop)
                   : 0;
    }
    return pt_err_set(err, PT_E_INVALID, "unknown session event %d", (int)ev);
}

int
pool_desktop_get(struct pool_ctx *ctx, const char *desktop, struct pool_desktop *out,
                 struct pt_err *err)
{
    struct store_desktop d;

    if (store_desktop_get(ctx->st, desktop ? desktop : "", &d, err) < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    pt_strlcpy(out->id, d.id, sizeof(out->id));
    pt_strlcpy(out->pool, d.pool, sizeof(out->pool));
    pt_strlcpy(out->host, d.host, sizeof(out->host));
    pt_strlcpy(out->domain, d.domain, sizeof(out->domain));
    pt_strlcpy(out->user, d.user, sizeof(out->user));
    pt_strlcpy(out->image_version, d.image_version, sizeof(out->image_version));
    out->state = pool_state_of(&d);
    out->state_ms = d.state_ms;
    out->assigned_ms = d.assigned_ms;
    return 0;
}

/* --- status ------------------------------------------------------------------------- */

int
pool_ctx_status(struct pool_ctx *ctx, struct pool_status **out, size_t *n, struct pt_err *err)
{
    struct store_desktop *rows = NULL;
    struct pool_status *v;
    size_t nrows = 0;

    if (store_desktop_list(ctx->st, NULL, &rows, &nrows, err) < 0)
        return -1;
    v = pt_xcalloc(ctx->npools + 1, sizeof(*v));
    for (size_t i = 0; i < ctx->npools; i++) {
        struct pool_entry *pe = ctx->pools[i];
        struct pool_status *s = &v[i];
        struct store_claim_stats cs;

        pt_strlcpy(s->name, pe->spec->name, sizeof(s->name));
        pt_strlcpy(s->image_version, pe->spec->image_version, sizeof(s->image_version));
        pool_effective(ctx, pe->spec, &s->min_size, &s->max_size, &s->warm, &s->parked);
        s->paused = pool_restraint_active(ctx, &pe->restraint);
        s->paused_until_ms = pe->restraint.until_ms;
        pt_strlcpy(s->pause_reason, s->paused ? pe->restraint.reason : pe->no_host_reason,
                   sizeof(s->pause_reason));
        for (size_t k = 0; k < nrows; k++) {
            enum pool_state st = pool_state_of(&rows[k]);

            if (strcmp(rows[k].pool, s->name) != 0)
                continue;
            s->counts[st]++;
            if (st == POOL_STATE_ERROR || st == POOL_STATE_DELETING)
                continue;
            s->total++;
            if (rows[k].user[0])
                s->in_use++;
            if (strcmp(rows[k].image_version, s->image_version) != 0)
                s->outdated++;
        }
        for (size_t k = 0; k < ctx->ninflight; k++)
            if (strcmp(ctx->inflight[k]->pool, s->name) == 0)
                s->actions++;
        if (store_claim_stats(ctx->st, s->name, 0, &cs, NULL) == 0) {
            s->claims = cs.claims;
            s->warm_claims = cs.warm;
            s->avg_wait_ms = cs.avg_wait_ms;
        }
    }
    free(rows);
    *out = v;
    *n = ctx->npools;
    return 0;
}

int
pool_ctx_host_status(struct pool_ctx *ctx, struct pool_host_status **out, size_t *n,
                     struct pt_err *err)
{
    struct pool_host_status *v = pt_xcalloc(ctx->nhosts + 1, sizeof(*v));

    for (size_t i = 0; i < ctx->nhosts; i++) {
        struct pool_host *h = &ctx->hosts[i];

        pt_strlcpy(v[i].name, h->name, sizeof(v[i].name));
        v[i].up = h->up;
        v[i].draining = h->draining;
        v[i].paused = pool_restraint_active(ctx, &h->restraint);
        v[i].paused_until_ms = h->restraint.until_ms;
        v[i].desktops = h->desktops;
        v[i].actions = h->actions;
        v[i].mem_free_kib = h->mem_free_kib;
    }
    *out = v;
    *n = ctx->nhosts;
    return 0;
}
