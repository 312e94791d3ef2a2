/*
 * pool_state.c - the desktop state machine: its names, its edges, and the one function
 * through which every desktop changes state. That function writes the new state (a
 * compare-and-set on the old one) and a history event in one store transaction BEFORE
 * the caller acts, so a broker killed right after finds the intent recorded and redoes
 * the action, and a broker racing another for the same desktop loses cleanly.
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/str.h"
#include "pool_priv.h"

static const char *const state_names[POOL_STATE_COUNT] = {
    [POOL_STATE_PROVISIONING] = "provisioning",
    [POOL_STATE_STARTING] = "starting",
    [POOL_STATE_READY] = "ready",
    [POOL_STATE_ASSIGNED] = "assigned",
    [POOL_STATE_CONNECTED] = "connected",
    [POOL_STATE_DISCONNECTED] = "disconnected",
    [POOL_STATE_RECYCLING] = "recycling",
    [POOL_STATE_PARKED] = "parked",
    [POOL_STATE_ERROR] = "error",
    [POOL_STATE_DELETING] = "deleting",
};

#define B(s) (1u << POOL_STATE_##s)
/* edges[from] = the states @from may move to. error and deleting are reachable from
 * everywhere (a host dies, an admin deletes); the rest is the lifecycle in pool.h. */
static const unsigned edges[POOL_STATE_COUNT] = {
    [POOL_STATE_PROVISIONING] = B(STARTING),
    [POOL_STATE_STARTING] = B(READY) | B(ASSIGNED),
    [POOL_STATE_READY] = B(ASSIGNED) | B(PARKED) | B(RECYCLING) | B(STARTING),
    [POOL_STATE_ASSIGNED] = B(CONNECTED) | B(RECYCLING) | B(STARTING),
    [POOL_STATE_CONNECTED] = B(DISCONNECTED) | B(RECYCLING),
    [POOL_STATE_DISCONNECTED] = B(CONNECTED) | B(RECYCLING) | B(ASSIGNED),
    [POOL_STATE_RECYCLING] = B(READY) | B(STARTING) | B(ASSIGNED) | B(PROVISIONING),
    [POOL_STATE_PARKED] = B(STARTING),
    [POOL_STATE_ERROR] = 0,
    [POOL_STATE_DELETING] = 0,
};
#undef B

const char *
pool_state_str(enum pool_state s)
{
    return (unsigned)s < POOL_STATE_COUNT ? state_names[s] : "?";
}

int
pool_state_parse(const char *s)
{
    for (int i = 0; s && i < POOL_STATE_COUNT; i++)
        if (strcmp(s, state_names[i]) == 0)
            return i;
    return -1;
}

bool
pool_state_transition_ok(enum pool_state from, enum pool_state to)
{
    if ((unsigned)from >= POOL_STATE_COUNT || (unsigned)to >= POOL_STATE_COUNT)
        return false;
    if (from == to) /* a user reserved or released without a state change */
        return true;
    if (to == POOL_STATE_DELETING)
        return true;
    if (to == POOL_STATE_ERROR)
        return from != POOL_STATE_DELETING;
    return (edges[from] >> to) & 1u;
}

enum pool_state
pool_state_of(const struct store_desktop *d)
{
    int s = pool_state_parse(d->state);

    /* a state this broker does not know (a newer broker wrote it) is treated as error:
     * the desktop is replaced rather than guessed at */
    return s < 0 ? POOL_STATE_ERROR : (enum pool_state)s;
}

static void
log_transition(const struct store_desktop *d, const char *from, const char *reason)
{
    char r[300];

    pt_info("event=transition desktop=%s pool=%s host=%s from=%s to=%s user=%s reason=%s", d->id,
            d->pool, d->host[0] ? d->host : "-", from[0] ? from : "-", d->state,
            d->user[0] ? d->user : "-", pt_log_value_quote(reason, r, sizeof(r)));
}

static void
fill_event(struct store_event *ev, const struct store_desktop *d, const char *from,
           const char *reason, int64_t now)
{
    memset(ev, 0, sizeof(*ev));
    pt_strlcpy(ev->desktop, d->id, sizeof(ev->desktop));
    pt_strlcpy(ev->pool, d->pool, sizeof(ev->pool));
    pt_strlcpy(ev->from, from, sizeof(ev->from));
    pt_strlcpy(ev->to, d->state, sizeof(ev->to));
    pt_strlcpy(ev->user, d->user, sizeof(ev->user));
    pt_strlcpy(ev->reason, reason, sizeof(ev->reason));
    ev->time_ms = now;
}

int
pool_transition(struct pool_ctx *ctx, struct store_desktop *d, enum pool_state to, const char *user,
                const char *reason, struct pt_err *err)
{
    enum pool_state from = pool_state_of(d);
    struct store_desktop nd = *d;
    struct store_event ev;
    int64_t now = pool_now(ctx);

    if (!pool_state_transition_ok(from, to))
        return pt_err_set(err, PT_E_INVALID, "desktop %s: %s -> %s is not a transition", d->id,
                          d->state, pool_state_str(to));
    pt_strlcpy(nd.state, pool_state_str(to), sizeof(nd.state));
    nd.state_ms = now;
    if (user) {
        if (*user && strcmp(user, d->user) != 0)
            nd.assigned_ms = now;
        if (!*user)
            nd.assigned_ms = 0;
        pt_strlcpy(nd.user, user, sizeof(nd.user));
    }
    if (to == POOL_STATE_CONNECTED)
        nd.activity_ms = now;
    fill_event(&ev, &nd, d->state, reason, now);
    if (store_tx_begin(ctx->st, err) < 0)
        return -1;
    if (store_desktop_update(ctx->st, &nd, d->state, err) < 0 ||
        store_event_append(ctx->st, &ev, err) < 0) {
        store_tx_rollback(ctx->st);
        return -1;
    }
    if (store_tx_commit(ctx->st, err) < 0)
        return -1;
    log_transition(&nd, d->state, reason);
    *d = nd;
    return 0;
}

int
pool_desktop_new_row(struct pool_ctx *ctx, struct pool_entry *pe, struct pool_host *host,
                     const char *user, const char *reason, struct store_desktop *out,
                     struct pt_err *err)
{
    struct store_desktop d;
    struct store_event ev;
    int64_t now = pool_now(ctx), seq;

    if (store_tx_begin(ctx->st, err) < 0)
        return -1;
    seq = store_pool_seq_next(ctx->st, pe->spec->name, err);
    if (seq < 0)
        goto fail;
    memset(&d, 0, sizeof(d));
    snprintf(d.id, sizeof(d.id), "%s-%04lld", pe->spec->name, (long long)seq);
    snprintf(d.domain, sizeof(d.domain), "%s%s", ctx->o.domain_prefix, d.id);
    pt_strlcpy(d.pool, pe->spec->name, sizeof(d.pool));
    pt_strlcpy(d.host, host->name, sizeof(d.host));
    pt_strlcpy(d.state, pool_state_str(POOL_STATE_PROVISIONING), sizeof(d.state));
    pt_strlcpy(d.user, user ? user : "", sizeof(d.user));
    pt_strlcpy(d.image_version, pe->spec->image_version, sizeof(d.image_version));
    d.created_ms = d.state_ms = now;
    d.assigned_ms = d.user[0] ? now : 0;
    fill_event(&ev, &d, "", reason, now);
    if (store_desktop_insert(ctx->st, &d, err) < 0 || store_event_append(ctx->st, &ev, err) < 0)
        goto fail;
    if (store_tx_commit(ctx->st, err) < 0)
        return -1;
    log_transition(&d, "", reason);
    *out = d;
    return 0;
fail:
    store_tx_rollback(ctx->st);
    return -1;
}

int
pool_desktop_forget(struct pool_ctx *ctx, struct store_desktop *d, const char *reason,
                    struct pt_err *err)
{
    struct store_event ev;

    fill_event(&ev, d, d->state, reason, pool_now(ctx));
    pt_strlcpy(ev.to, "deleted", sizeof(ev.to));
    if (store_tx_begin(ctx->st, err) < 0)
        return -1;
    if (store_desktop_delete(ctx->st, d->id, err) < 0 ||
        store_event_append(ctx->st, &ev, err) < 0) {
        store_tx_rollback(ctx->st);
        return -1;
    }
    if (store_tx_commit(ctx->st, err) < 0)
        return -1;
    pt_info("event=transition desktop=%s pool=%s host=%s from=%s to=deleted user=- reason=%s",
            d->id, d->pool, d->host[0] ? d->host : "-", d->state, reason);
    return 0;
}
