/*
 * api_admin_pools.c - admin: pools (list, show, create, update, resize, delete with
 * drain), hosts (list with capacity, drain, undrain), desktops (list, recycle, delete)
 * and the audit log.
 *
 * A pool is changed by changing its spec: the JSON "spec" object holds the same keys as
 * a [pool "x"] section (docs/config.md), each value given to pool_spec_set() as text, so
 * the API and the config file can never disagree about what a key means. The reconcile
 * loop converges; a resize answers at once and `porticoctl pool resize --wait` polls.
 * Delete drains first: min, max, warm and parked go to 0 and the pool is removed once no
 * desktop is left (202 until then; DELETE again, or poll).
 */
#include <stdlib.h>
#include <string.h>

#include "app_priv.h"
#include "common/mem.h"

#ifdef PORTICO_HAVE_POOL

static struct pool_ctx *
need_pools(struct broker_req *r)
{
    struct pool_ctx *ctx = broker_app_pool_ctx(r->b);

    if (!ctx)
        broker_req_error(r, 503, "pools_not_configured",
                         "this broker has no [hypervisor] or [host] section: no pools");
    return ctx;
}

static const char *
admin_name(struct broker_req *r)
{
    return r->session ? r->session->a.user : "?";
}

/* The spec as a JSON object of its config keys (from pool_spec_format()). */
static json_t *
spec_json(const struct pool_spec *spec)
{
    char *text = pool_spec_format(spec), *save = NULL;
    json_t *o = json_object();

    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(line, " = ");

        if (!eq)
            continue;
        *eq = '\0';
        json_object_set_new(o, line, json_string(eq + 3));
    }
    free(text);
    return o;
}

static json_t *
status_json(const struct pool_status *ps)
{
    json_t *counts = json_object();

    for (int s = 0; s < POOL_STATE_COUNT; s++)
        json_object_set_new(counts, pool_state_str((enum pool_state)s),
                            json_integer(ps->counts[s]));
    return json_pack("{s:s,s:o,s:i,s:i,s:i,s:i,s:i,s:i,s:b,s:s,s:i,s:I,s:I,s:s,s:i}", "name",
                     ps->name, "counts", counts, "total", ps->total, "in_use", ps->in_use, "min",
                     ps->min_size, "max", ps->max_size, "warm", ps->warm, "parked", ps->parked,
                     "paused", ps->paused, "pause_reason", ps->pause_reason, "actions", ps->actions,
                     "claims", (json_int_t)ps->claims, "warm_claims", (json_int_t)ps->warm_claims,
                     "image_version", ps->image_version, "outdated", ps->outdated);
}

static int
find_status(struct pool_ctx *ctx, const char *name, struct pool_status *out, struct pt_err *err)
{
    struct pool_status *ps = NULL;
    size_t n = 0;
    int rc = -1;

    if (pool_ctx_status(ctx, &ps, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ps[i].name, name) == 0) {
            *out = ps[i];
            rc = 0;
        }
    }
    free(ps);
    if (rc < 0)
        pt_err_set(err, PT_E_NOTFOUND, "no pool named %s", name);
    return rc;
}

static void
pools_list(struct broker_req *r)
{
    struct pool_ctx *ctx = need_pools(r);
    struct pool_status *ps = NULL;
    struct pt_err err = {0};
    size_t n = 0;
    json_t *arr;

    if (!ctx)
        return;
    if (pool_ctx_status(ctx, &ps, &n, &err) < 0) {
        broker_req_error_pt(r, &err);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, status_json(&ps[i]));
    free(ps);
    broker_req_reply_json(r, 200, json_pack("{s:o}", "pools", arr));
}

static void
pool_show(struct broker_req *r)
{
    struct pool_ctx *ctx = need_pools(r);
    const struct pool_spec *spec;
    struct pool_status st;
    struct pt_err err = {0};
    json_t *j;

    if (!ctx)
        return;
    spec = pool_ctx_pool_get(ctx, r->params[0]);
    if (!spec || find_status(ctx, r->params[0], &st, &err) < 0) {
        broker_req_error(r, 404, "pool_not_found", "no pool named %s", r->params[0]);
        return;
    }
    j = status_json(&st);
    json_object_set_new(j, "spec", spec_json(spec));
    broker_req_reply_json(r, 200, j);
}

/* Apply every key of the JSON object @keys to @spec as text. */
static int
spec_apply(struct pool_spec *spec, json_t *keys, struct pt_err *err)
{
    const char *k;
    json_t *v;

    if (!json_is_object(keys))
        return pt_err_set(err, PT_E_INVALID, "\"spec\" must be an object of pool keys");
    json_object_foreach(keys, k, v)
    {
        char num[32];
        const char *text;
        char *joined = NULL;
        int rc;

        if (json_is_string(v)) {
            text = json_string_value(v);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            text = num;
        } else if (json_is_boolean(v)) {
            text = json_is_true(v) ? "yes" : "no";
        } else if (json_is_array(v)) {
            struct pt_buf b = PT_BUF_INIT;
            size_t i;
            json_t *e;

            json_array_foreach(v, i, e)
            {
                if (!json_is_string(e)) {
                    pt_buf_fini(&b);
                    return pt_err_set(err, PT_E_INVALID, "%s: a list of strings expected", k);
                }
                pt_buf_appendf(&b, "%s%s", i ? "," : "", json_string_value(e));
            }
            joined = pt_buf_steal(&b);
            text = joined;
        } else {
            return pt_err_set(err, PT_E_INVALID, "%s: a string, number, boolean or list expected",
                              k);
        }
        rc = pool_spec_set(spec, k, text, err);
        free(joined);
        if (rc < 0)
            return -1;
    }
    return pool_spec_check(spec, err);
}

static void
pool_put_reply(struct broker_req *r, struct pool_ctx *ctx, struct pool_spec *spec, int status,
               const char *action)
{
    struct pt_err err = {0};

    if (pool_ctx_pool_put(ctx, spec, &err) < 0) {
        broker_audit(r->b, admin_name(r), action, spec->name, pt_errc_str(err.code), err.msg);
        broker_req_error_pt(r, &err);
        return;
    }
    broker_audit(r->b, admin_name(r), action, spec->name, "ok", NULL);
    pt_logc(&r->log, LOG_NOTICE, "event=%s pool=%s min=%d max=%d warm=%d", action, spec->name,
            spec->min_size, spec->max_size, spec->warm);
    broker_req_reply_json(r, status,
                          json_pack("{s:s,s:o}", "name", spec->name, "spec", spec_json(spec)));
}

static void
pool_create(struct broker_req *r)
{
    struct pool_ctx *ctx = need_pools(r);
    json_t *body;
    const char *name;
    struct pool_spec *spec = NULL;
    struct pt_err err = {0};

    if (!ctx || !(body = broker_req_json_body(r)))
        return;
    name = json_string_value(json_object_get(body, "name"));
    if (!name) {
        broker_req_error(r, 400, "invalid_request", "send {\"name\": \"pool\", \"spec\": {...}}");
        goto out;
    }
    if (pool_ctx_pool_get(ctx, name)) {
        broker_req_error(r, 409, "pool_exists", "pool %s exists; PATCH it instead", name);
        goto out;
    }
    spec = pool_spec_new(name, &err);
    if (!spec || spec_apply(spec, json_object_get(body, "spec"), &err) < 0) {
        broker_req_error(r, 400, "invalid_spec", "%s", err.msg);
        goto out;
    }
    pool_put_reply(r, ctx, spec, 201, "pool.create");
out:
    pool_spec_free(spec);
    json_decref(body);
}

/* PATCH /pools/{p} with {"spec":{...}} and POST /pools/{p}/resize with {min,max,warm}. */
static void
pool_change(struct broker_req *r, bool resize)
{
    struct pool_ctx *ctx = need_pools(r);
    const struct pool_spec *cur;
    struct pool_spec *spec = NULL;
    struct pt_err err = {0};
    json_t *body, *keys;

    if (!ctx || !(body = broker_req_json_body(r)))
        return;
    cur = pool_ctx_pool_get(ctx, r->params[0]);
    if (!cur) {
        broker_req_error(r, 404, "pool_not_found", "no pool named %s", r->params[0]);
        goto out;
    }
    if (resize) {
        const char *allowed[] = {"min", "max", "warm", "parked"};
        const char *k;
        json_t *v;

        keys = json_object();
        json_object_foreach(body, k, v)
        {
            bool ok = false;

            for (size_t i = 0; i < 4; i++)
                ok = ok || strcmp(k, allowed[i]) == 0;
            if (!ok || !json_is_integer(v)) {
                json_decref(keys);
                broker_req_error(r, 400, "invalid_request",
                                 "resize takes integer min, max, warm and parked only (%s)", k);
                goto out;
            }
            json_object_set(keys, k, v);
        }
    } else {
        keys = json_incref(json_object_get(body, "spec"));
    }
    spec = pool_spec_dup(cur);
    if (spec_apply(spec, keys, &err) < 0) {
        json_decref(keys);
        broker_req_error(r, 400, "invalid_spec", "%s", err.msg);
        goto out;
    }
    json_decref(keys);
    pool_put_reply(r, ctx, spec, 200, resize ? "pool.resize" : "pool.update");
out:
    pool_spec_free(spec);
    json_decref(body);
}

static void
pool_update(struct broker_req *r)
{
    pool_change(r, false);
}

static void
pool_resize(struct broker_req *r)
{
    pool_change(r, true);
}

static void
pool_delete(struct broker_req *r)
{
    struct pool_ctx *ctx = need_pools(r);
    const struct pool_spec *cur;
    struct pool_spec *spec;
    struct pool_status st;
    struct pt_err err = {0};

    if (!ctx)
        return;
    cur = pool_ctx_pool_get(ctx, r->params[0]);
    if (!cur) {
        broker_req_error(r, 404, "pool_not_found", "no pool named %s", r->params[0]);
        return;
    }
    if (pool_ctx_pool_remove(ctx, r->params[0], &err) == 0) {
        broker_audit(r->b, admin_name(r), "pool.delete", r->params[0], "ok", NULL);
        broker_req_reply_json(r, 200, json_pack("{s:s,s:b}", "name", r->params[0], "deleted", 1));
        return;
    }
    if (err.code != PT_E_CONFLICT) {
        broker_req_error_pt(r, &err);
        return;
    }
    /* Desktops remain: drain (sizes to 0, idle ones go at once, in-use ones at logoff). */
    spec = pool_spec_dup(cur);
    spec->min_size = spec->max_size = spec->warm = spec->parked = 0;
    if (pool_ctx_pool_put(ctx, spec, &err) < 0) {
        pool_spec_free(spec);
        broker_req_error_pt(r, &err);
        return;
    }
    pool_spec_free(spec);
    broker_audit(r->b, admin_name(r), "pool.drain", r->params[0], "ok", NULL);
    memset(&st, 0, sizeof(st));
    find_status(ctx, r->params[0], &st, &err);
    broker_req_reply_json(r, 202,
                          json_pack("{s:s,s:b,s:i,s:i}", "name", r->params[0], "draining", 1,
                                    "desktops_left", st.total, "in_use", st.in_use));
}

static void
hosts_list(struct broker_req *r)
{
    struct pool_ctx *ctx = need_pools(r);
    struct pool_host_status *hs = NULL;
    struct pt_err err = {0};
    size_t n = 0;
    json_t *arr;

    if (!ctx)
        return;
    if (pool_ctx_host_status(ctx, &hs, &n, &err) < 0) {
        broker_req_error_pt(r, &err);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:b,s:b,s:b,s:i,s:i,s:I}", "name", hs[i].name,
                                             "up", hs[i].up, "draining", hs[i].draining, "paused",
                                             hs[i].paused, "desktops", hs[i].desktops, "actions",
                                             hs[i].actions, "mem_free_kib",
                                             (json_int_t)hs[i].mem_free_kib));
    free(hs);
    broker_req_reply_json(r, 200, json_pack("{s:o}", "hosts", arr));
}

static void
host_drain_set(struct broker_req *r, bool drain)
{
    struct pool_ctx *ctx = need_pools(r);
    struct pt_err err = {0};

    if (!ctx)
        return;
    if (pool_ctx_host_drain(ctx, r->params[0], drain, &err) < 0) {
        if (err.code == PT_E_NOTFOUND)
            broker_req_error(r, 404, "host_not_found", "no host named %s", r->params[0]);
        else
            broker_req_error_pt(r, &err);
        return;
    }
    broker_audit(r->b, admin_name(r), drain ? "host.drain" : "host.undrain", r->params[0], "ok",
                 NULL);
    broker_req_reply_json(r, 200, json_pack("{s:s,s:b}", "name", r->params[0], "draining", drain));
}

static void
host_drain(struct broker_req *r)
{
    host_drain_set(r, true);
}

static void
host_undrain(struct broker_req *r)
{
    host_drain_set(r, false);
}

static void
desktops_all(struct broker_req *r)
{
    struct pool_ctx *ctx = need_pools(r);
    struct store_desktop *d = NULL;
    struct pt_err err = {0};
    char pool[64];
    size_t n = 0;
    json_t *arr;

    if (!ctx)
        return;
    if (store_desktop_list(pool_ctx_store(ctx),
                           broker_req_query(r, "pool", pool, sizeof(pool)) > 0 ? pool : NULL, &d,
                           &n, &err) < 0) {
        broker_req_error_pt(r, &err);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:s,s:I}", "id", d[i].id, "pool", d[i].pool,
                           "host", d[i].host, "domain", d[i].domain, "state", d[i].state, "user",
                           d[i].user[0] ? d[i].user : NULL, "image_version", d[i].image_version,
                           "state_since", (json_int_t)d[i].state_ms));
    free(d);
    broker_req_reply_json(r, 200, json_pack("{s:o}", "desktops", arr));
}

static void
desktop_recycle(struct broker_req *r)
{
    struct pool_ctx *ctx = need_pools(r);
    struct store_desktop d;
    struct pt_err err = {0};

    if (!ctx)
        return;
    if (store_desktop_get(pool_ctx_store(ctx), r->params[0], &d, &err) < 0) {
        broker_req_error(r, 404, "desktop_not_found", "no desktop %s", r->params[0]);
        return;
    }
    if (!d.user[0]) {
        broker_req_error(r, 409, "desktop_not_in_use",
                         "%s is %s and nobody holds it: nothing to recycle", d.id, d.state);
        return;
    }
    if (pool_desktop_report(ctx, d.id, d.user, POOL_SESSION_LOGOFF, &err) < 0) {
        broker_req_error_pt(r, &err);
        return;
    }
    broker_audit(r->b, admin_name(r), "desktop.recycle", d.id, "ok", d.user);
    broker_req_reply_json(r, 200,
                          json_pack("{s:s,s:s,s:b}", "id", d.id, "user", d.user, "recycling", 1));
}

/* DELETE /api/v1/admin/desktops/{id}[?force=true]: a held desktop needs force (409
 * desktop_in_use otherwise); the pool deletes the domain in the background. */
static void
desktop_delete(struct broker_req *r)
{
    struct pool_ctx *ctx = need_pools(r);
    struct store_desktop d;
    struct pt_err err = {0};
    char fv[8] = "";
    bool force;

    if (!ctx)
        return;
    if (broker_req_query(r, "force", fv, sizeof(fv)) >= 0 && strcmp(fv, "true") != 0 &&
        strcmp(fv, "1") != 0 && strcmp(fv, "false") != 0 && strcmp(fv, "0") != 0) {
        broker_req_error(r, 400, "invalid_request", "force must be true or false");
        return;
    }
    force = strcmp(fv, "true") == 0 || strcmp(fv, "1") == 0;
    if (store_desktop_get(pool_ctx_store(ctx), r->params[0], &d, &err) < 0) {
        broker_req_error(r, 404, "desktop_not_found", "no desktop %s", r->params[0]);
        return;
    }
    if (d.user[0] && !force) {
        broker_req_error(r, 409, "desktop_in_use",
                         "%s is %s and held by %s: deleting it ends their session; add "
                         "?force=true (porticoctl desktop delete --force) to do it anyway",
                         d.id, d.state, d.user);
        return;
    }
    if (pool_desktop_delete(ctx, d.id, force, &err) < 0) {
        broker_audit(r->b, admin_name(r), "desktop.delete", d.id, "failed", err.msg);
        broker_req_error_pt(r, &err);
        return;
    }
    broker_audit(r->b, admin_name(r), "desktop.delete", d.id, "ok",
                 d.user[0] ? d.user : (force ? "force" : ""));
    broker_req_reply_json(
        r, 202,
        json_pack("{s:s,s:s,s:s,s:b}", "id", d.id, "pool", d.pool, "user", d.user, "deleting", 1));
}

static void
audit_list(struct broker_req *r)
{
    struct pool_ctx *ctx = need_pools(r);
    struct store_audit *a = NULL;
    struct pt_err err = {0};
    char lim[16], action[64];
    int64_t limit = 100;
    size_t n = 0;
    json_t *arr;
    bool filter;

    if (!ctx)
        return;
    if (broker_req_query(r, "limit", lim, sizeof(lim)) > 0 &&
        pt_parse_i64(lim, 1, 10000, &limit) < 0) {
        broker_req_error(r, 400, "invalid_request", "limit must be 1..10000");
        return;
    }
    filter = broker_req_query(r, "action", action, sizeof(action)) > 0;
    if (store_audit_list(pool_ctx_store(ctx), (int)limit, &a, &n, &err) < 0) {
        broker_req_error_pt(r, &err);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (filter && strcmp(a[i].action, action) != 0)
            continue;
        json_array_append_new(
            arr, json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)a[i].id, "time",
                           (json_int_t)a[i].time_ms, "actor", a[i].actor, "action", a[i].action,
                           "target", a[i].target, "result", a[i].result, "detail", a[i].detail));
    }
    free(a);
    broker_req_reply_json(r, 200, json_pack("{s:o}", "entries", arr));
}

#define ADMIN   (BROKER_R_SESSION | BROKER_R_ADMIN)
#define ADMIN_W (BROKER_R_SESSION | BROKER_R_ADMIN | BROKER_R_CSRF)

const struct broker_route broker_routes_admin_pool[] = {
    {BROKER_GET, "/api/v1/admin/pools", ADMIN, pools_list},
    {BROKER_POST, "/api/v1/admin/pools", ADMIN_W, pool_create},
    {BROKER_GET, "/api/v1/admin/pools/{}", ADMIN, pool_show},
    {BROKER_PATCH, "/api/v1/admin/pools/{}", ADMIN_W, pool_update},
    {BROKER_DELETE, "/api/v1/admin/pools/{}", ADMIN_W, pool_delete},
    {BROKER_POST, "/api/v1/admin/pools/{}/resize", ADMIN_W, pool_resize},
    {BROKER_GET, "/api/v1/admin/hosts", ADMIN, hosts_list},
    {BROKER_POST, "/api/v1/admin/hosts/{}/drain", ADMIN_W, host_drain},
    {BROKER_POST, "/api/v1/admin/hosts/{}/undrain", ADMIN_W, host_undrain},
    {BROKER_GET, "/api/v1/admin/desktops", ADMIN, desktops_all},
    {BROKER_POST, "/api/v1/admin/desktops/{}/recycle", ADMIN_W, desktop_recycle},
    {BROKER_DELETE, "/api/v1/admin/desktops/{}", ADMIN_W, desktop_delete},
    {BROKER_GET, "/api/v1/admin/audit", ADMIN, audit_list},
    {0, NULL, 0, NULL},
};

#endif
