/*
 * pool_delete.c - an administrator removes one desktop (the admin console's
 * "Delete").
 *
 * Deleting goes through the pool's state machine like every other change: the
 * row moves to deleting (compare-and-set in the store, with its event) and the
 * reconcile loop destroys and undefines the domain and forgets the row,
 * retrying while the host is down. The pool's sizes then apply as usual, so a
 * pool below min or warm clones a replacement. A desktop somebody holds
 * (assigned, connected or disconnected) is only taken with @force: without it a
 * user could lose their open work to a mistyped id. While an action (create,
 * start, revert, ...) is running on the desktop the call is refused with
 * PT_E_CONFLICT rather than racing the worker; retry in a moment.
 */
#include <string.h>

#include "pool/pool.h"
#include "pool_priv.h"

int
pool_desktop_delete(struct pool_ctx *ctx, const char *desktop, bool force, struct pt_err *err)
{
    struct store_desktop d;
    struct pool_entry *pe;
    enum pool_state st;

    if (store_desktop_get(ctx->st, desktop ? desktop : "", &d, err) < 0)
        return -1;
    st = pool_state_of(&d);
    if (st == POOL_STATE_DELETING)
        return 0; /* already on its way out */
    if (d.user[0] && !force)
        return pt_err_set(err, PT_E_CONFLICT,
                          "desktop %s is held by '%s' (%s): deleting it ends their session; "
                          "pass force to do it anyway",
                          d.id, d.user, d.state);
    if (pool_job_inflight(ctx, d.id))
        return pt_err_set(err, PT_E_CONFLICT,
                          "desktop %s has an action in progress (%s); retry in a few seconds", d.id,
                          d.state);
    if (pool_transition(ctx, &d, POOL_STATE_DELETING, "",
                        force && d.user[0] ? "deleted by an administrator (forced)"
                                           : "deleted by an administrator",
                        err) < 0)
        return -1;
    pe = pool_entry_find(ctx, d.pool);
    pool_desktop_act(ctx, pe, &d); /* start now rather than at the next pass */
    return 0;
}
