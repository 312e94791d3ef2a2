/*
 * pooltest.c - see pooltest.h. Node files come from the hypervisor tests' hvt helper
 * (an empty node with a "golden" dir pool holding base.qcow2).
 */
#include "pooltest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/str.h"
#include "hvt.h"
#include "hypervisor/hv.h"
#include "store/store.h"
#include "tsupport/fixture.h"

struct pool_ctx *
pt_ctx_new(const char *tag, int nhosts, const struct pool_ctx_opts *opts)
{
    struct pool_ctx_opts o = {0};
    struct pt_err err = {0};
    struct store *st;
    struct pool_ctx *ctx;
    char path[512];

    if (opts)
        o = *opts;
    if (!o.probe)
        o.probe = pool_probe_domain_state;
    if (!o.probe_interval_ms)
        o.probe_interval_ms = 10;
    snprintf(path, sizeof(path), "%s/%s-%d.db", hvt_tmpdir(), tag, (int)getpid());
    unlink(path);
    st = store_open(path, &err);
    ck_assert_msg(st, "%s", err.msg);
    ctx = pool_ctx_new(&o, &st, &err);
    ck_assert_msg(ctx, "%s", err.msg);
    for (int i = 1; i <= nhosts; i++) {
        char name[32], prefix[64];
        char *uri;

        snprintf(name, sizeof(name), "h%02d", i);
        snprintf(prefix, sizeof(prefix), "%s-%s", tag, name);
        uri = hvt_node_write(prefix, "none", 0, 0);
        ck_assert_msg(pool_ctx_host_add(ctx, name, uri, 0, 0, &err) == 0, "%s", err.msg);
        free(uri);
    }
    return ctx;
}

void
pt_pool_put(struct pool_ctx *ctx, const char *name, const char *const *kv)
{
    struct pt_err err = {0};
    struct pool_spec *s;
    const struct pool_spec *cur = pool_ctx_pool_get(ctx, name);

    s = cur ? pool_spec_dup(cur) : pool_spec_new(name, &err);
    ck_assert_msg(s, "%s", err.msg);
    if (!cur) {
        ck_assert_int_eq(pool_spec_set(s, "image", HVT_GOLDEN, &err), 0);
        ck_assert_int_eq(pool_spec_set(s, "memory", "128", &err), 0);
        ck_assert_int_eq(pool_spec_set(s, "image_version", "v1", &err), 0);
    }
    for (int i = 0; kv && kv[i]; i += 2)
        ck_assert_msg(pool_spec_set(s, kv[i], kv[i + 1], &err) == 0, "%s", err.msg);
    ck_assert_msg(pool_ctx_pool_put(ctx, s, &err) == 0, "%s", err.msg);
    pool_spec_free(s);
}

void
pt_count(struct pool_ctx *ctx, const char *pool, struct pt_count *c)
{
    struct store_desktop *rows = NULL;
    struct hv_desktop_info *dl = NULL;
    size_t n = 0, nd = 0;
    const struct pool_spec *spec = pool_ctx_pool_get(ctx, pool);
    struct pt_err err = {0};

    memset(c, 0, sizeof(*c));
    ck_assert_msg(store_desktop_list(pool_ctx_store(ctx), pool, &rows, &n, &err) == 0, "%s",
                  err.msg);
    for (size_t i = 0; i < n; i++) {
        int st = pool_state_parse(rows[i].state);

        ck_assert_int_ge(st, 0);
        c->state[st]++;
        c->rows++;
        if (st != POOL_STATE_ERROR && st != POOL_STATE_DELETING)
            c->total++;
        if (spec && strcmp(rows[i].image_version, spec->image_version) != 0)
            c->outdated++;
    }
    free(rows);
    ck_assert_msg(hv_desktop_list(pool_ctx_hv(ctx), NULL, &dl, &nd, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < nd; i++) {
        if (strcmp(dl[i].pool, pool) != 0)
            continue;
        c->domains++;
        if (spec && strcmp(dl[i].image_version, spec->image_version) != 0)
            c->dom_outdated++;
    }
    free(dl);
    c->busy = pool_ctx_busy(ctx);
}

int
pt_domains_on(struct pool_ctx *ctx, const char *host, const char *pool)
{
    struct hv_desktop_info *dl = NULL;
    size_t nd = 0;
    int k = 0;
    struct pt_err err = {0};

    if (hv_desktop_list(pool_ctx_hv(ctx), host, &dl, &nd, &err) < 0)
        return -1;
    for (size_t i = 0; i < nd; i++)
        k += strcmp(dl[i].pool, pool) == 0;
    free(dl);
    return k;
}

struct want {
    const char *pool;
    int ready, total;
    struct pt_count last;
};

static bool
converged(struct pool_ctx *ctx, void *arg)
{
    struct want *w = arg;
    struct pt_count *c = &w->last;

    pt_count(ctx, w->pool, c);
    return c->state[POOL_STATE_READY] == w->ready && c->total == w->total && c->rows == w->total &&
           c->domains == w->total && c->busy == 0;
}

void
pt_converge(struct pool_ctx *ctx, const char *pool, int ready, int total, int timeout_ms)
{
    struct want w = {.pool = pool, .ready = ready, .total = total};
    struct pt_err err = {0};
    int rc = pool_ctx_run(ctx, 20, timeout_ms, converged, &w, &err);

    ck_assert_msg(rc == 0,
                  "pool %s did not converge to %d ready / %d total in %d ms: ready %d "
                  "provisioning %d starting %d parked %d assigned %d error %d deleting %d "
                  "rows %d domains %d busy %d",
                  pool, ready, total, timeout_ms, w.last.state[POOL_STATE_READY],
                  w.last.state[POOL_STATE_PROVISIONING], w.last.state[POOL_STATE_STARTING],
                  w.last.state[POOL_STATE_PARKED], w.last.state[POOL_STATE_ASSIGNED],
                  w.last.state[POOL_STATE_ERROR], w.last.state[POOL_STATE_DELETING], w.last.rows,
                  w.last.domains, w.last.busy);
}
