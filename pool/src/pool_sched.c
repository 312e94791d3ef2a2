/*
 * pool_sched.c - schedule rules kept in the store's schedules table: what the admin API
 * adds and removes one by one ("mon-fri 08:00 warm=20"), without rewriting the pool's
 * spec. They are in force together with the spec's own `schedule =` rules (the config
 * file's), under the same precedence (pool_effective: the latest firing wins). The
 * entry keeps a copy so that pool_effective, called every pass, reads no SQL.
 */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/str.h"
#include "pool_priv.h"

#define SCHED_MAX 64 /* rules a pool, spec and store together */

int
pool_sched_reload(struct pool_ctx *ctx, struct pool_entry *pe, struct pt_err *err)
{
    struct store_schedule *rows = NULL;
    size_t n = 0;

    if (!pe)
        return 0;
    if (store_schedule_list(ctx->st, pe->spec->name, &rows, &n, err) < 0)
        return -1;
    free(pe->stored);
    free(pe->stored_ids);
    pe->stored = n ? pt_xcalloc(n, sizeof(*pe->stored)) : NULL;
    pe->stored_ids = n ? pt_xcalloc(n, sizeof(*pe->stored_ids)) : NULL;
    pe->nstored = n;
    for (size_t i = 0; i < n; i++) {
        pe->stored[i].days = rows[i].days;
        pe->stored[i].minute = rows[i].minute;
        pe->stored[i].warm = rows[i].warm;
        pe->stored[i].min_size = rows[i].min_size;
        pe->stored[i].max_size = rows[i].max_size;
        pe->stored_ids[i] = rows[i].id;
    }
    free(rows);
    return 0;
}

int
pool_ctx_schedule_add(struct pool_ctx *ctx, const char *pool, const char *rule, int64_t *id,
                      struct pt_err *err)
{
    struct pool_entry *pe = pool_entry_find(ctx, pool ? pool : "");
    struct pool_schedule r;
    struct store_schedule row;

    if (!pe)
        return pt_err_set(err, PT_E_NOTFOUND, "no pool named '%s'", pool ? pool : "");
    if (pool_schedule_parse(rule ? rule : "", &r, err) < 0)
        return -1;
    if (pe->spec->nschedules + pe->nstored >= SCHED_MAX)
        return pt_err_set(err, PT_E_LIMIT, "pool '%s': at most %d schedule rules", pool, SCHED_MAX);
    memset(&row, 0, sizeof(row));
    pt_strlcpy(row.pool, pool, sizeof(row.pool));
    row.days = r.days;
    row.minute = r.minute;
    row.warm = r.warm;
    row.min_size = r.min_size;
    row.max_size = r.max_size;
    if (store_schedule_add(ctx->st, &row, err) < 0)
        return -1;
    if (id)
        *id = row.id;
    return pool_sched_reload(ctx, pe, err);
}

int
pool_ctx_schedule_remove(struct pool_ctx *ctx, const char *pool, int64_t id, struct pt_err *err)
{
    struct pool_entry *pe = pool_entry_find(ctx, pool ? pool : "");
    bool mine = false;

    if (!pe)
        return pt_err_set(err, PT_E_NOTFOUND, "no pool named '%s'", pool ? pool : "");
    /* the entry's copy is the table's view for this pool: an id of another pool's rule
     * is not found here, so one pool's admin cannot remove another's */
    for (size_t i = 0; i < pe->nstored && !mine; i++)
        mine = pe->stored_ids[i] == id;
    if (!mine)
        return pt_err_set(err, PT_E_NOTFOUND, "pool '%s' has no stored schedule rule %lld", pool,
                          (long long)id);
    if (store_schedule_delete(ctx->st, id, err) < 0)
        return -1;
    return pool_sched_reload(ctx, pe, err);
}

static void
entry_fill(struct pool_schedule_entry *e, int64_t id, const struct pool_schedule *r)
{
    char *text = pool_schedule_format(r);

    memset(e, 0, sizeof(*e));
    e->id = id;
    e->from_spec = id == 0;
    e->rule = *r;
    pt_strlcpy(e->text, text, sizeof(e->text));
    free(text);
}

int
pool_ctx_schedule_list(struct pool_ctx *ctx, const char *pool, struct pool_schedule_entry **out,
                       size_t *n, struct pt_err *err)
{
    struct pool_entry *pe = pool_entry_find(ctx, pool ? pool : "");
    const struct pool_spec *s;

    *out = NULL;
    *n = 0;
    if (!pe)
        return pt_err_set(err, PT_E_NOTFOUND, "no pool named '%s'", pool ? pool : "");
    s = pe->spec;
    if (!s->nschedules && !pe->nstored)
        return 0;
    *out = pt_xcalloc(s->nschedules + pe->nstored, sizeof(**out));
    for (size_t i = 0; i < s->nschedules; i++)
        entry_fill(&(*out)[(*n)++], 0, &s->schedules[i]);
    for (size_t i = 0; i < pe->nstored; i++)
        entry_fill(&(*out)[(*n)++], pe->stored_ids[i], &pe->stored[i]);
    return 0;
}
