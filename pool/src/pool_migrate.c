/*
 * pool_migrate.c - host drain by live migration (pool spec `drain = migrate`).
 *
 * A desktop with a user (assigned, connected, disconnected) on a draining host is moved
 * to the host placement picks, a few at a time (o.max_migrations), so that the host
 * empties without anybody losing a session. Idle desktops are retired by the reconcile
 * pass as before; this file only handles the ones a user holds.
 *
 * Write-ahead: before the worker starts, a "migrating" event naming both hosts is written
 * to the desktop's history; after success the row's host is updated (and a "migrated"
 * event written) in one transaction. A broker killed in between leaves a row naming the
 * old host while the domain runs on the new one: the next pass adopts it there (the same
 * rule that heals any placement the store missed), so no state of its own is needed and
 * the desktop keeps its user-facing state (connected stays connected) throughout.
 *
 * Failure: hv_desktop_migrate leaves the desktop where it was, so the next pass simply
 * tries again, up to o.migrate_attempts; after that the desktop waits for its user's
 * logoff and is then retired like any idle desktop on a draining host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "pool_priv.h"

static struct pool_migrate_fail *
fail_find(struct pool_ctx *ctx, const char *desktop)
{
    for (size_t i = 0; i < ctx->nmfails; i++)
        if (strcmp(ctx->mfails[i].desktop, desktop) == 0)
            return &ctx->mfails[i];
    return NULL;
}

int
pool_migrate_fails(struct pool_ctx *ctx, const char *desktop)
{
    struct pool_migrate_fail *f = fail_find(ctx, desktop);

    return f ? f->fails : 0;
}

static void
fail_count(struct pool_ctx *ctx, const char *desktop)
{
    struct pool_migrate_fail *f = fail_find(ctx, desktop);

    if (!f) {
        ctx->mfails = pt_xreallocarray(ctx->mfails, ctx->nmfails + 1, sizeof(*ctx->mfails));
        f = &ctx->mfails[ctx->nmfails++];
        memset(f, 0, sizeof(*f));
        pt_strlcpy(f->desktop, desktop, sizeof(f->desktop));
    }
    f->fails++;
}

static void
fail_forget(struct pool_ctx *ctx, const char *desktop)
{
    struct pool_migrate_fail *f = fail_find(ctx, desktop);

    if (f)
        *f = ctx->mfails[--ctx->nmfails];
}

static int
migrations_inflight(struct pool_ctx *ctx)
{
    int n = 0;

    for (size_t i = 0; i < ctx->ninflight; i++)
        n += ctx->inflight[i]->kind == POOL_JOB_MIGRATE;
    return n;
}

/* event() - one history line for @d that does not change its state */
static int
event(struct pool_ctx *ctx, const struct store_desktop *d, const char *reason, struct pt_err *err)
{
    struct store_event ev;

    memset(&ev, 0, sizeof(ev));
    pt_strlcpy(ev.desktop, d->id, sizeof(ev.desktop));
    pt_strlcpy(ev.pool, d->pool, sizeof(ev.pool));
    pt_strlcpy(ev.from, d->state, sizeof(ev.from));
    pt_strlcpy(ev.to, d->state, sizeof(ev.to));
    pt_strlcpy(ev.user, d->user, sizeof(ev.user));
    pt_strlcpy(ev.reason, reason, sizeof(ev.reason));
    ev.time_ms = pool_now(ctx);
    return store_event_append(ctx->st, &ev, err);
}

static bool
migratable(enum pool_state s)
{
    return s == POOL_STATE_ASSIGNED || s == POOL_STATE_CONNECTED || s == POOL_STATE_DISCONNECTED;
}

void
pool_drain_migrate(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *rows,
                   size_t nrows)
{
    int room = ctx->o.max_migrations - migrations_inflight(ctx);

    if (pe->spec->drain != POOL_DRAIN_MIGRATE)
        return;
    for (size_t i = 0; i < nrows && room > 0; i++) {
        struct store_desktop *d = &rows[i];
        struct pool_host *h, *to;
        struct pool_job *j;
        struct pt_err err;
        char why[256];

        if (strcmp(d->pool, pe->spec->name) != 0 || !d->user[0] || !migratable(pool_state_of(d)) ||
            pool_job_inflight(ctx, d->id))
            continue;
        h = pool_host_find(ctx, d->host);
        if (!h || !h->up || !h->draining || !pool_job_room(ctx, d->host))
            continue;
        if (pool_migrate_fails(ctx, d->id) >= ctx->o.migrate_attempts)
            continue; /* waits for logoff; retired then */
        if (!(to = pool_place(ctx, pe))) {
            pt_debug("event=migrate_deferred desktop=%s reason=\"%s\"", d->id, pe->no_host_reason);
            return;
        }
        /* write-ahead: the history says where it is going before anything moves */
        snprintf(why, sizeof(why), "host draining: migrating from %s to %s", d->host, to->name);
        if (event(ctx, d, why, &err) < 0) {
            pt_warnx("event=migrate_not_started desktop=%s error=\"%s\"", d->id, err.msg);
            continue;
        }
        pt_info("event=migrating desktop=%s pool=%s user=%s from_host=%s to_host=%s", d->id,
                d->pool, d->user, d->host, to->name);
        j = pool_job_new(ctx, POOL_JOB_MIGRATE, d, pe);
        pt_strlcpy(j->to_host, to->name, sizeof(j->to_host));
        /* the destination's share of the load, as a clone in flight would count */
        to->actions++;
        to->pending_kib += (int64_t)pe->spec->memory_mib * 1024;
        pool_job_submit(ctx, j);
        room--;
    }
}

void
pool_migrate_complete(struct pool_ctx *ctx, struct pool_job *j)
{
    struct store_desktop d, nd;
    struct pool_host *to = pool_host_find(ctx, j->to_host);
    struct pt_err err;
    char why[512]; /* the store keeps the first 255 bytes */

    if (to) {
        to->actions--;
        to->pending_kib -= (int64_t)j->memory_mib * 1024;
        if (to->pending_kib < 0)
            to->pending_kib = 0;
    }
    if (store_desktop_get(ctx->st, j->desktop, &d, &err) < 0) {
        pt_warnx("event=completion_lost desktop=%s error=\"%s\"", j->desktop, err.msg);
        return;
    }
    if (j->rc < 0) {
        fail_count(ctx, d.id);
        snprintf(why, sizeof(why), "host draining: migration to %s failed (%d of %d): %.150s",
                 j->to_host, pool_migrate_fails(ctx, d.id), ctx->o.migrate_attempts, j->err.msg);
        pt_warnx("event=migrate_failed desktop=%s pool=%s from_host=%s to_host=%s attempt=%d "
                 "of=%d error=\"%s\"%s",
                 d.id, d.pool, j->host, j->to_host, pool_migrate_fails(ctx, d.id),
                 ctx->o.migrate_attempts, j->err.msg,
                 pool_migrate_fails(ctx, d.id) >= ctx->o.migrate_attempts ? " next=wait_for_logoff"
                                                                          : " next=retry");
        if (event(ctx, &d, why, &err) < 0)
            pt_warnx("event=history_lost desktop=%s error=\"%s\"", d.id, err.msg);
        return;
    }
    fail_forget(ctx, d.id);
    /* the row may have moved on (logoff, timeout) while the domain moved: keep its state,
     * change only the host, compare-and-set on the state it has now */
    nd = d;
    pt_strlcpy(nd.host, j->to_host, sizeof(nd.host));
    snprintf(why, sizeof(why), "host draining: migrated from %s to %s", j->host, j->to_host);
    if (store_tx_begin(ctx->st, &err) < 0)
        goto fail;
    if (store_desktop_update(ctx->st, &nd, d.state, &err) < 0 || event(ctx, &nd, why, &err) < 0) {
        store_tx_rollback(ctx->st);
        goto fail;
    }
    if (store_tx_commit(ctx->st, &err) < 0)
        goto fail;
    pt_info("event=migrated desktop=%s pool=%s user=%s from_host=%s to_host=%s ms=%lld", d.id,
            d.pool, d.user, j->host, j->to_host, (long long)(j->done_mono - j->started_mono));
    return;
fail:
    /* the next pass finds the domain on the new host and adopts it */
    pt_warnx("event=migrated_row_stale desktop=%s to_host=%s error=\"%s\"", d.id, j->to_host,
             err.msg);
}
