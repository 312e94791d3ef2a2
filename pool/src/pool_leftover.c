/*
 * pool_leftover.c - recovery of overlay volumes left without a domain: a broker killed
 * while a worker was between hv_desktop_create's "make the overlay" and "define the
 * domain". If the desktop's row still exists, its recorded state redoes the create,
 * which replaces the stale volume; but if the row has gone since (scale-down of a clone
 * that never ran, error -> deleting), hv_desktop_delete finds no domain to read the
 * overlay path from, and the volume would stay for ever.
 *
 * At recovery, before the first pass issues any action, every host that is up is asked
 * for overlays named with our domain prefix and no domain (hv_overlay_leftovers). One is
 * deleted only when it is certainly ours and dead: no row names it and this store's
 * history knows the desktop (we made it). An overlay our history does not know (another
 * broker with the same prefix, on another store) is reported and kept.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "pool_priv.h"

static bool
known_to_history(struct pool_ctx *ctx, const char *desktop)
{
    struct store_event *ev = NULL;
    size_t n = 0;
    struct pt_err err;

    if (store_event_list(ctx->st, desktop, 1, &ev, &n, &err) < 0) {
        pt_warnx("event=leftover_check_failed desktop=%s error=\"%s\"", desktop, err.msg);
        return false;
    }
    free(ev);
    return n > 0;
}

int
pool_leftovers_sweep(struct pool_ctx *ctx)
{
    size_t plen = strlen(ctx->o.domain_prefix);
    int deleted = 0;

    for (size_t i = 0; i < ctx->nhosts; i++) {
        struct pool_host *h = &ctx->hosts[i];
        struct hv_leftover *l = NULL;
        size_t n = 0;
        struct pt_err err;

        if (!h->up)
            continue;
        if (hv_overlay_leftovers(ctx->hv, h->name, ctx->o.domain_prefix, &l, &n, &err) < 0) {
            pt_warnx("event=leftover_list_failed host=%s error=\"%s\"", h->name, err.msg);
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            const char *id = l[k].name + plen;
            struct store_desktop d;

            if (store_desktop_get(ctx->st, id, &d, &err) == 0 && strcmp(d.domain, l[k].name) == 0)
                continue; /* its row's create replaces it */
            if (!known_to_history(ctx, id)) {
                pt_warnx("event=leftover_overlay_kept host=%s path=%s reason=\"desktop %s is "
                         "not in this store's history: not ours to delete\"",
                         h->name, l[k].path, id);
                continue;
            }
            if (hv_overlay_leftover_delete(ctx->hv, h->name, l[k].name, &err) < 0)
                pt_warnx("event=leftover_delete_failed host=%s path=%s error=\"%s\"", h->name,
                         l[k].path, err.msg);
            else
                deleted++;
        }
        free(l);
    }
    return deleted;
}
