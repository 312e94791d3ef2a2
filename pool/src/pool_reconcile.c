/*
 * pool_reconcile.c - the level-triggered loop: compare what each pool should be with
 * what the store records and what the hosts really run, then issue bounded actions.
 *
 * How a pass works:
 *  1. refresh hosts (up, draining, free memory); list every Portico domain of every
 *     host that is up; load every desktop row. Hosts first, store second: a row written
 *     after the listing is simply "not created yet", never mistaken for a leak.
 *  2. per desktop: a desktop on a host that went down -> error ("host lost"); a domain
 *     that vanished from an up host -> error; a domain found on another host -> adopted;
 *     then the action the state calls for (create, start+probe, park, revert, delete)
 *     unless one is in flight or the limits are reached.
 *  3. per host domain with our prefix and metadata but no row: an orphan -> deleted.
 *  4. per pool: timeouts, image rollover, drain, resume parked, provision, park surplus,
 *     scale down (ready first, then parked, never a desktop with a user).
 * Completions (pool_job_complete) move the desktop on and chain its next action at once,
 * so a desktop goes from clone to ready without waiting for ticks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "pool_priv.h"

/* --- actions ------------------------------------------------------------------------- */

static void
act_log_fail(struct pool_ctx *ctx, const struct store_desktop *d, const char *what,
             const struct pt_err *err)
{
    pt_warnx("event=transition_failed desktop=%s pool=%s action=%s error=\"%s\"", d->id, d->pool,
             what, err->msg);
}

/* the prototype lives in pool_priv.h */
static void
submit(struct pool_ctx *ctx, enum pool_job_kind kind, struct store_desktop *d,
       struct pool_entry *pe)
{
    pool_job_submit(ctx, pool_job_new(ctx, kind, d, pe));
}

void
pool_desktop_move(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *d,
                  enum pool_state to, const char *user, const char *reason)
{
    struct pt_err err;

    if (pool_transition(ctx, d, to, user, reason, &err) < 0) {
        act_log_fail(ctx, d, reason, &err);
        return;
    }
    pool_desktop_act(ctx, pe, d);
}

static void
act_recycling(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *d,
              struct pool_host *h)
{
    const struct pool_spec *s = pe->spec;
    bool outdated = strcmp(d->image_version, s->image_version) != 0;

    if (!d->user[0] && h && h->draining) {
        pool_desktop_move(ctx, pe, d, POOL_STATE_DELETING, NULL, "host draining: retired");
        return;
    }
    if (outdated && (s->assignment == POOL_ASSIGN_FLOATING || s->on_logoff != POOL_LOGOFF_KEEP)) {
        submit(ctx, POOL_JOB_RECREATE, d, pe);
        return;
    }
    switch (s->on_logoff) {
    case POOL_LOGOFF_RECREATE:
        submit(ctx, POOL_JOB_RECREATE, d, pe);
        return;
    case POOL_LOGOFF_REFRESH:
        submit(ctx, POOL_JOB_REVERT, d, pe);
        return;
    case POOL_LOGOFF_KEEP:
        pool_desktop_move(ctx, pe, d, POOL_STATE_STARTING, NULL, "kept as it is");
        return;
    }
}

void
pool_desktop_act(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *d)
{
    struct pool_host *h = pool_host_find(ctx, d->host);
    struct pt_err err;

    if (__atomic_load_n(&ctx->stopping, __ATOMIC_RELAXED) || pool_job_inflight(ctx, d->id))
        return;
    switch (pool_state_of(d)) {
    case POOL_STATE_ERROR:
        if (pool_now(ctx) - d->state_ms >= ctx->o.error_hold_ms)
            pool_desktop_move(ctx, pe, d, POOL_STATE_DELETING, NULL, "replacing a failed desktop");
        return;
    case POOL_STATE_DELETING:
        if (!d->host[0] || !h) {
            /* never placed, or its host left the configuration: nothing to delete */
            if (pool_desktop_forget(ctx, d, h ? "never created" : "host no longer configured",
                                    &err) < 0)
                act_log_fail(ctx, d, "forget", &err);
            return;
        }
        if (h->up && pool_job_room(ctx, d->host))
            submit(ctx, POOL_JOB_DELETE, d, NULL);
        return;
    default:
        break;
    }
    if (!pe || !h || !h->up || !pool_job_room(ctx, d->host))
        return;
    switch (pool_state_of(d)) {
    case POOL_STATE_PROVISIONING:
        if (pool_restraint_active(ctx, &pe->restraint) || pool_restraint_active(ctx, &h->restraint))
            return;
        submit(ctx, POOL_JOB_CREATE, d, pe);
        return;
    case POOL_STATE_STARTING:
        submit(ctx, POOL_JOB_START, d, pe);
        return;
    case POOL_STATE_RECYCLING:
        act_recycling(ctx, pe, d, h);
        return;
    default:
        return;
    }
}

static void
ewma(int64_t *avg, int64_t sample)
{
    *avg = *avg ? (*avg * 3 + sample) / 4 : sample;
}

static void
complete_ok(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *d,
            struct pool_job *j)
{
    enum pool_state st = pool_state_of(d);
    struct pt_err err;
    char why[96];

    switch (j->kind) {
    case POOL_JOB_CREATE:
        if (st == POOL_STATE_PROVISIONING)
            pool_desktop_move(ctx, pe, d, POOL_STATE_STARTING, NULL, "cloned");
        if (pe)
            ewma(&pe->avg_ready_ms, j->done_mono - j->started_mono);
        return;
    case POOL_JOB_RECREATE:
        if (st != POOL_STATE_RECYCLING)
            return;
        pt_strlcpy(d->image_version, j->image_version, sizeof(d->image_version));
        snprintf(why, sizeof(why), "re-cloned from image %s", j->image_version);
        pool_desktop_move(ctx, pe, d, POOL_STATE_STARTING, NULL, why);
        return;
    case POOL_JOB_REVERT:
        if (st == POOL_STATE_RECYCLING)
            pool_desktop_move(ctx, pe, d, POOL_STATE_STARTING, NULL, "reverted to golden");
        return;
    case POOL_JOB_START:
        if (st != POOL_STATE_STARTING)
            return;
        if (d->user[0]) {
            pool_desktop_move(ctx, pe, d, POOL_STATE_ASSIGNED, NULL, "ready for its user");
            if (store_claim_finish(ctx->st, d->id, pool_now(ctx), &err) < 0)
                act_log_fail(ctx, d, "finish claim", &err);
        } else {
            pool_desktop_move(ctx, pe, d, POOL_STATE_READY, NULL, "probe answered");
        }
        return;
    case POOL_JOB_PARK:
        pt_info("event=parked desktop=%s pool=%s host=%s", d->id, d->pool, d->host);
        return;
    case POOL_JOB_DELETE:
        if (st == POOL_STATE_DELETING && pool_desktop_forget(ctx, d, "domain deleted", &err) < 0)
            act_log_fail(ctx, d, "forget", &err);
        return;
    case POOL_JOB_ORPHAN:
    case POOL_JOB_MIGRATE:
        return;
    }
}

void
pool_job_complete(struct pool_ctx *ctx, struct pool_job *j)
{
    struct store_desktop d;
    struct pool_entry *pe;
    struct pool_host *h = pool_host_find(ctx, j->host);
    struct pt_err err;
    char why[256];

    if (j->kind == POOL_JOB_MIGRATE) {
        pool_migrate_complete(ctx, j);
        return;
    }
    if (j->kind == POOL_JOB_ORPHAN) {
        if (j->rc < 0)
            pt_warnx("event=orphan_delete_failed host=%s domain=%s error=\"%s\"", j->host,
                     j->domain, j->err.msg);
        else
            pt_info("event=orphan_deleted host=%s domain=%s", j->host, j->domain);
        return;
    }
    /* the row, as it is now: a claim may have reserved it while the action ran */
    if (store_desktop_get(ctx->st, j->desktop, &d, &err) < 0) {
        pt_warnx("event=completion_lost desktop=%s error=\"%s\"", j->desktop, err.msg);
        return;
    }
    pe = pool_entry_find(ctx, d.pool);
    if (j->rc == 0) {
        complete_ok(ctx, pe, &d, j);
        return;
    }
    pt_warnx("event=action_failed desktop=%s pool=%s host=%s kind=%d error=\"%s\"", d.id, d.pool,
             d.host, (int)j->kind, j->err.msg);
    if (__atomic_load_n(&ctx->stopping, __ATOMIC_RELAXED))
        return;
    if (j->err.code == PT_E_UNAVAILABLE && h && !h->up)
        return; /* host loss is handled by the next pass */
    if (j->kind == POOL_JOB_DELETE)
        return; /* stays deleting; retried next pass */
    if (pe && j->kind != POOL_JOB_PARK)
        pool_restraint_fail(ctx, &pe->restraint, "pool", j->err.msg);
    if (h && j->kind != POOL_JOB_PARK)
        pool_restraint_fail(ctx, &h->restraint, "host", j->err.msg);
    snprintf(why, sizeof(why), "action failed: %.200s", j->err.msg);
    if (pool_transition(ctx, &d, POOL_STATE_ERROR, NULL, why, &err) < 0)
        act_log_fail(ctx, &d, "error", &err);
    else
        pool_desktop_act(ctx, pe, &d);
}
