/*
 * pool_ctx.c - the pool context: its pools (specs, kept in the store), its hosts
 * (refreshed from the hypervisor layer every tick), placement, error restraint,
 * schedules, status and the standalone driver loop.
 *
 * Placement picks, among hosts that are up, not draining, not paused by restraint,
 * in the pool's host set and below their desktop limit, the one with the best score
 * free-memory-after-pending / (1 + load), where load is desktops (placed + being
 * created) per CPU. Pending memory counts clones in flight, so a burst of placements
 * in one tick spreads over hosts instead of piling onto the emptiest one.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "pool_priv.h"

#define TEMPLATE_MAX (256 * 1024)

int64_t
pool_now(struct pool_ctx *ctx)
{
    return ctx->o.clock_ms ? ctx->o.clock_ms(ctx->o.clock_opaque) : pt_time_wall_ms();
}

struct pool_entry *
pool_entry_find(struct pool_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->npools; i++)
        if (strcmp(ctx->pools[i]->spec->name, name) == 0)
            return ctx->pools[i];
    return NULL;
}

struct pool_host *
pool_host_find(struct pool_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->nhosts; i++)
        if (strcmp(ctx->hosts[i].name, name) == 0)
            return &ctx->hosts[i];
    return NULL;
}

/* --- error restraint ----------------------------------------------------------------- */

bool
pool_restraint_active(struct pool_ctx *ctx, struct pool_restraint *r)
{
    if (!r->until_ms)
        return false;
    if (pool_now(ctx) < r->until_ms)
        return true;
    pt_info("event=restraint_released %s", r->reason);
    r->until_ms = 0;
    r->nfails = 0;
    r->reason[0] = '\0';
    return false;
}

void
pool_restraint_fail(struct pool_ctx *ctx, struct pool_restraint *r, const char *what,
                    const char *why)
{
    int cap = ctx->o.restraint_failures;
    int64_t now = pool_now(ctx), inwin = 0;

    if (!r->fails)
        r->fails = pt_xcalloc((size_t)cap, sizeof(*r->fails));
    r->fails[r->head] = now;
    r->head = (r->head + 1) % cap;
    if (r->nfails < cap)
        r->nfails++;
    for (int i = 0; i < r->nfails; i++)
        if (now - r->fails[i] <= ctx->o.restraint_window_ms)
            inwin++;
    if (inwin >= cap && !r->until_ms) {
        r->until_ms = now + ctx->o.restraint_pause_ms;
        snprintf(r->reason, sizeof(r->reason), "%s: %d failures in %llds, last: %.90s", what, cap,
                 (long long)(ctx->o.restraint_window_ms / 1000), why);
        pt_warnx("event=restraint_engaged %s pause_ms=%lld reason=\"%s\"", what,
                 (long long)ctx->o.restraint_pause_ms, r->reason);
    }
}

/* --- schedules ----------------------------------------------------------------------- */

void
pool_effective(struct pool_ctx *ctx, const struct pool_spec *s, int *min, int *max, int *warm,
               int *parked)
{
    const struct pool_schedule *best = NULL;
    struct pool_entry *pe;
    size_t nstored;
    int best_ago = 8 * 1440;
    time_t t = (time_t)(pool_now(ctx) / 1000);
    struct tm tm;
    int today, now_min;

    *min = s->min_size;
    *max = s->max_size;
    *warm = s->warm;
    *parked = s->parked;
    pe = pool_entry_find(ctx, s->name);
    nstored = pe ? pe->nstored : 0;
    if ((!s->nschedules && !nstored) || !localtime_r(&t, &tm))
        return;
    today = (tm.tm_wday + 6) % 7; /* Monday = 0 */
    now_min = tm.tm_hour * 60 + tm.tm_min;
    /* the rule whose most recent firing is the latest one wins; the spec's rules and the
     * stored ones (admin API) count alike */
    for (size_t i = 0; i < s->nschedules + nstored; i++) {
        const struct pool_schedule *r =
            i < s->nschedules ? &s->schedules[i] : &pe->stored[i - s->nschedules];

        for (int d = 0; d <= 7; d++) {
            int day = ((today - d) % 7 + 7) % 7;
            int ago = d * 1440 + now_min - r->minute;

            if (!(r->days & (1u << day)) || ago < 0)
                continue;
            if (ago <= best_ago) {
                best_ago = ago;
                best = r;
            }
            break;
        }
    }
    if (!best)
        return;
    if (best->warm >= 0)
        *warm = best->warm;
    if (best->min_size >= 0)
        *min = best->min_size;
    if (best->max_size >= 0)
        *max = best->max_size;
    if (*min > *max)
        *min = *max;
    if (*warm + *parked > *max)
        *warm = *max > *parked ? *max - *parked : 0;
}

/* --- hosts and placement -------------------------------------------------------------- */

int
pool_ctx_host_add(struct pool_ctx *ctx, const char *name, const char *uri, int max_desktops,
                  int64_t mem_reserve_mib, struct pt_err *err)
{
    struct hv_host_conf hc = {
        .name = name,
        .uri = uri,
        .max_desktops = max_desktops,
        .mem_reserve_mib = mem_reserve_mib,
    };

    if (hv_host_add(ctx->hv, &hc, err) < 0)
        return -1;
    return pool_hosts_refresh(ctx, err);
}

int
pool_ctx_host_drain(struct pool_ctx *ctx, const char *host, bool draining, struct pt_err *err)
{
    struct pool_host *h;

    if (hv_host_set_draining(ctx->hv, host, draining, err) < 0)
        return -1;
    h = pool_host_find(ctx, host);
    if (h)
        h->draining = draining;
    pt_info("event=host_drain host=%s draining=%s", host, draining ? "yes" : "no");
    return 0;
}

int
pool_hosts_refresh(struct pool_ctx *ctx, struct pt_err *err)
{
    struct hv_host_info *hi = NULL;
    size_t n = 0;

    if (hv_host_list(ctx->hv, &hi, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct pool_host *h = pool_host_find(ctx, hi[i].name);

        if (!h) {
            ctx->hosts = pt_xreallocarray(ctx->hosts, ctx->nhosts + 1, sizeof(*ctx->hosts));
            h = &ctx->hosts[ctx->nhosts++];
            memset(h, 0, sizeof(*h));
            pt_strlcpy(h->name, hi[i].name, sizeof(h->name));
        }
        if (h->up && !hi[i].up)
            pt_warnx("event=host_down host=%s", h->name);
        else if (!h->up && hi[i].up && ctx->ticks > 0)
            pt_info("event=host_up host=%s", h->name);
        h->up = hi[i].up;
        h->draining = hi[i].draining;
        h->mem_free_kib = hi[i].mem_free_kib;
        h->cpus = hi[i].cpus;
        h->max_desktops = hi[i].max_desktops;
    }
    free(hi);
    return 0;
}

struct pool_host *
pool_place(struct pool_ctx *ctx, struct pool_entry *pe)
{
    const struct pool_spec *s = pe->spec;
    int64_t need = (int64_t)s->memory_mib * 1024;
    struct pool_host *best = NULL;
    double best_score = 0;
    int cand = 0;

    for (size_t i = 0; i < ctx->nhosts; i++) {
        struct pool_host *h = &ctx->hosts[i];
        int64_t free_after = h->mem_free_kib - h->pending_kib;
        double load, score;

        if (!h->up || h->draining)
            continue;
        if (s->hosts && *s->hosts && !pool_list_has(s->hosts, h->name))
            continue;
        cand++;
        if (pool_restraint_active(ctx, &h->restraint))
            continue;
        if (h->max_desktops > 0 && h->desktops >= h->max_desktops)
            continue;
        if (ctx->o.placement_ignore_memory)
            free_after = 1024 * 1024;
        else if (h->mem_free_kib > 0 && free_after < need)
            continue;
        load = (double)(h->desktops + h->actions) / (h->cpus > 0 ? h->cpus : 1);
        score = (double)(free_after > 0 ? free_after : 1) / (1.0 + load);
        if (!best || score > best_score) {
            best = h;
            best_score = score;
        }
    }
    if (!best)
        snprintf(pe->no_host_reason, sizeof(pe->no_host_reason),
                 cand ? "every eligible host is full, paused or short of memory"
                      : "no host of the pool's host set is up");
    else
        pe->no_host_reason[0] = '\0';
    return best;
}

/* --- pools --------------------------------------------------------------------------- */

static char *
template_load(const char *path, struct pt_err *err)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t n;

    if (!f) {
        pt_err_set(err, PT_E_IO, "cannot read the domain template %s", path);
        return NULL;
    }
    buf = pt_xmalloc(TEMPLATE_MAX + 1);
    n = fread(buf, 1, TEMPLATE_MAX + 1, f);
    fclose(f);
    if (n > TEMPLATE_MAX) {
        free(buf);
        pt_err_set(err, PT_E_LIMIT, "domain template %s is larger than %d bytes", path,
                   TEMPLATE_MAX);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* entry_set() - install @spec (copied) as pool @spec->name in memory, no store write. */
static int
entry_set(struct pool_ctx *ctx, const struct pool_spec *spec, struct pt_err *err)
{
    struct pool_entry *pe = pool_entry_find(ctx, spec->name);
    char *tmpl = NULL;

    if (spec->template_path && !(tmpl = template_load(spec->template_path, err)))
        return -1;
    if (!pe) {
        pe = pt_xcalloc(1, sizeof(*pe));
        ctx->pools = pt_xreallocarray(ctx->pools, ctx->npools + 1, sizeof(*ctx->pools));
        ctx->pools[ctx->npools++] = pe;
    }
    pool_spec_free(pe->spec);
    free(pe->template_xml);
    pe->spec = pool_spec_dup(spec);
    pe->template_xml = tmpl;
    return 0;
}

static void
entry_free(struct pool_entry *pe)
{
    pool_spec_free(pe->spec);
    free(pe->template_xml);
    free(pe->restraint.fails);
    free(pe->stored);
    free(pe->stored_ids);
    free(pe);
}

int
pool_ctx_pool_put(struct pool_ctx *ctx, const struct pool_spec *spec, struct pt_err *err)
{
    struct store_pool row;
    int rc;

    if (pool_spec_check(spec, err) < 0)
        return -1;
    memset(&row, 0, sizeof(row));
    pt_strlcpy(row.name, spec->name, sizeof(row.name));
    pt_strlcpy(row.image_version, spec->image_version, sizeof(row.image_version));
    row.min_size = spec->min_size;
    row.max_size = spec->max_size;
    row.warm = spec->warm;
    row.parked = spec->parked;
    row.spec = pool_spec_format(spec);
    rc = store_pool_put(ctx->st, &row, err);
    store_pool_fini(&row);
    if (rc < 0)
        return -1;
    if (entry_set(ctx, spec, err) < 0)
        return -1;
    pt_info("event=pool_put pool=%s min=%d max=%d warm=%d parked=%d image_version=%s", spec->name,
            spec->min_size, spec->max_size, spec->warm, spec->parked, spec->image_version);
    return 0;
}

const struct pool_spec *
pool_ctx_pool_get(struct pool_ctx *ctx, const char *name)
{
    struct pool_entry *pe = pool_entry_find(ctx, name);

    return pe ? pe->spec : NULL;
}

int
pool_ctx_pool_remove(struct pool_ctx *ctx, const char *name, struct pt_err *err)
{
    if (store_pool_delete(ctx->st, name, err) < 0)
        return -1;
    for (size_t i = 0; i < ctx->npools; i++) {
        if (strcmp(ctx->pools[i]->spec->name, name) == 0) {
            entry_free(ctx->pools[i]);
            ctx->pools[i] = ctx->pools[--ctx->npools];
            break;
        }
    }
    pt_info("event=pool_removed pool=%s", name);
    return 0;
}

int
pool_ctx_image_publish(struct pool_ctx *ctx, const char *pool, const char *version,
                       const char *image, struct pt_err *err)
{
    struct pool_entry *pe = pool_entry_find(ctx, pool);
    struct pool_spec *s;
    int rc;

    if (!pe)
        return pt_err_set(err, PT_E_NOTFOUND, "no pool named '%s'", pool);
    s = pool_spec_dup(pe->spec);
    rc = pool_spec_set(s, "image_version", version, err);
    if (rc == 0 && image)
        rc = pool_spec_set(s, "image", image, err);
    if (rc == 0)
        rc = pool_ctx_pool_put(ctx, s, err);
    pool_spec_free(s);
    if (rc == 0)
        pt_info("event=image_published pool=%s version=%s", pool, version);
    return rc;
}

/* load_pools() - every pool the store knows, parsed back through pool_spec_set(). */
static int
load_pools(struct pool_ctx *ctx, struct pt_err *err)
{
    struct store_pool *rows = NULL;
    size_t n = 0;
    int rc = -1;

    if (store_pool_list(ctx->st, &rows, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct pool_spec *s = pool_spec_new(rows[i].name, err);
        char *text = pt_xstrdup(rows[i].spec), *save = NULL, *line;
        int bad = !s;

        for (line = strtok_r(text, "\n", &save); !bad && line; line = strtok_r(NULL, "\n", &save)) {
            char *eq = strstr(line, " = ");

            if (!eq)
                continue;
            *eq = '\0';
            bad = pool_spec_set(s, line, eq + 3, err) < 0;
        }
        free(text);
        if (!bad)
            bad = entry_set(ctx, s, err) < 0 ||
                  pool_sched_reload(ctx, pool_entry_find(ctx, s->name), err) < 0;
        pool_spec_free(s);
        if (bad) {
            pt_err_prefix(err, "pool '%s' in the store", rows[i].name);
            goto out;
        }
    }
    rc = 0;
out:
    store_pool_list_free(rows, n);
    return rc;
}

/* --- lifecycle ----------------------------------------------------------------------- */

struct pool_ctx *
pool_ctx_new(const struct pool_ctx_opts *opts, struct store **st, struct pt_err *err)
{
    struct pool_ctx *ctx = pt_xcalloc(1, sizeof(*ctx));

    if (opts)
        ctx->o = *opts;
    if (ctx->o.workers <= 0)
        ctx->o.workers = 4;
    if (ctx->o.max_actions <= 0)
        ctx->o.max_actions = 16;
    if (ctx->o.max_actions_per_host <= 0)
        ctx->o.max_actions_per_host = 4;
    if (ctx->o.ready_timeout_ms <= 0)
        ctx->o.ready_timeout_ms = 120000;
    if (ctx->o.probe_interval_ms <= 0)
        ctx->o.probe_interval_ms = 250;
    if (ctx->o.restraint_failures <= 0)
        ctx->o.restraint_failures = 5;
    if (ctx->o.restraint_window_ms <= 0)
        ctx->o.restraint_window_ms = 60000;
    if (ctx->o.restraint_pause_ms <= 0)
        ctx->o.restraint_pause_ms = 60000;
    if (ctx->o.max_migrations <= 0)
        ctx->o.max_migrations = 2;
    if (ctx->o.migrate_attempts <= 0)
        ctx->o.migrate_attempts = 2;
    if (!ctx->o.domain_prefix)
        ctx->o.domain_prefix = "pt-";
    if (!ctx->o.probe)
        ctx->o.probe = pool_probe_display;
    ctx->ops = &pool_hv_real;
    ctx->evfd = -1;
    if (!st || !*st) {
        pt_err_set(err, PT_E_INVALID, "pool: a store is required");
        free(ctx);
        return NULL;
    }
    ctx->st = pt_steal(st);
    ctx->hv = hv_new(err);
    if (!ctx->hv || load_pools(ctx, err) < 0 || pool_workers_start(ctx, err) < 0) {
        pool_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void
pool_ctx_free(struct pool_ctx *ctx)
{
    if (!ctx)
        return;
    pool_workers_stop(ctx);
    for (size_t i = 0; i < ctx->npools; i++)
        entry_free(ctx->pools[i]);
    free(ctx->pools);
    for (size_t i = 0; i < ctx->nhosts; i++)
        free(ctx->hosts[i].restraint.fails);
    free(ctx->hosts);
    free(ctx->mfails);
    hv_free(ctx->hv);
    store_close(ctx->st);
    free(ctx);
}

void
pool_ctx_set_hv_ops(struct pool_ctx *ctx, const struct pool_hv_ops *ops)
{
    ctx->ops = ops ? ops : &pool_hv_real;
}

struct hv *
pool_ctx_hv(struct pool_ctx *ctx)
{
    return ctx->hv;
}

struct store *
pool_ctx_store(struct pool_ctx *ctx)
{
    return ctx->st;
}

int
pool_ctx_run(struct pool_ctx *ctx, int64_t tick_ms, int64_t timeout_ms,
             bool (*until)(struct pool_ctx *ctx, void *arg), void *arg, struct pt_err *err)
{
    int64_t deadline = pt_time_mono_ms() + timeout_ms;

    for (;;) {
        int64_t next = pt_time_mono_ms() + tick_ms;
        struct pt_err terr;

        if (pool_tick(ctx, &terr) < 0)
            pt_warnx("event=tick_failed error=\"%s\"", terr.msg);
        if (until && until(ctx, arg))
            return 0;
        for (int64_t now = pt_time_mono_ms(); now < next; now = pt_time_mono_ms()) {
            struct pollfd pfd = {.fd = ctx->evfd, .events = POLLIN};

            if (now >= deadline)
                return pt_err_set(err, PT_E_TIMEOUT, "pool: not converged within %lld ms",
                                  (long long)timeout_ms);
            if (poll(&pfd, 1, (int)(next - now)) > 0 && pool_ctx_drain(ctx) > 0 && until &&
                until(ctx, arg))
                return 0;
        }
        if (pt_time_mono_ms() >= deadline)
            return pt_err_set(err, PT_E_TIMEOUT, "pool: not converged within %lld ms",
                              (long long)timeout_ms);
    }
}
