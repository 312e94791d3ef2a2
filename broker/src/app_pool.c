/*
 * app_pool.c - the pools: [hypervisor], [host "x"] and [pool "x"] sections handed to
 * pool/, the store it owns, its reconcile tick on the lws loop and its completion
 * descriptor watched by lws.
 *
 * pool/ is owned by the loop thread (pool.h): the tick is an lws timer (lws_sul) and the
 * completion descriptor is adopted into lws (a dup, so lws and pool/ each close their
 * own), so every pool call happens on the loop thread, between HTTP callbacks.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "app_priv.h"
#include "common/mem.h"

#ifdef PORTICO_HAVE_POOL
struct broker_pool {
    struct pool_ctx *ctx;
    lws_sorted_usec_list_t tick;
    int64_t tick_ms;
    struct broker_hist provision; /* claim -> ready, for claims that had to wait */
    struct broker_hist ttd;       /* time to desktop: launch request -> ticket */
    char *domain_prefix;          /* pool/ borrows it for its lifetime */
    struct {
        char desktop[64];
        int64_t since_ms;
    } waiting[128]; /* launches answered 202: desktop -> first launch time */
};

struct hv_opts {
    char *uri;
    char *probe;
    char *prefix;
    int64_t tick_ms;
    int workers, max_actions;
    int64_t ready_timeout_ms;
};

static int
hv_opts_build(const struct broker_conf *c, struct hv_opts *o, struct pool_conf *pc,
              struct pt_err *err)
{
    memset(o, 0, sizeof(*o));
    o->tick_ms = 1000;
    for (size_t i = 0; i < c->nitems; i++) {
        const struct broker_conf_item *it = &c->items[i];
        struct pt_conf_entry e = {it->file, it->line, it->section, it->name, it->key, it->value};
        int64_t v;

        if (strcmp(it->section, "pool") == 0 || strcmp(it->section, "host") == 0) {
            if (pc && pool_conf_set(pc, &e, err) < 0)
                return -1;
            continue;
        }
        if (strcmp(it->section, "hypervisor") != 0 || !it->key)
            continue;
        if (strcmp(it->key, "uri") == 0) {
            free(o->uri);
            o->uri = pt_xstrdup(it->value);
        } else if (strcmp(it->key, "probe") == 0) {
            if (strcmp(it->value, "display") != 0 && strcmp(it->value, "domain_state") != 0)
                return pt_conf_errorf(err, &e, "probe must be display or domain_state");
            free(o->probe);
            o->probe = pt_xstrdup(it->value);
        } else if (strcmp(it->key, "domain_prefix") == 0) {
            free(o->prefix);
            o->prefix = pt_xstrdup(it->value);
        } else if (strcmp(it->key, "reconcile_interval") == 0 ||
                   strcmp(it->key, "ready_timeout") == 0) {
            if (pt_parse_duration_ms(it->value, &v) < 0 || v < 50 || v > 3600000)
                return pt_conf_errorf(err, &e, "%s: a duration between 50ms and 1h", it->key);
            if (it->key[0] == 'r' && it->key[1] == 'e' && it->key[2] == 'c')
                o->tick_ms = v;
            else
                o->ready_timeout_ms = v;
        } else if (strcmp(it->key, "workers") == 0 || strcmp(it->key, "max_actions") == 0) {
            if (pt_parse_i64(it->value, 1, 256, &v) < 0)
                return pt_conf_errorf(err, &e, "%s: a number from 1 to 256", it->key);
            *(strcmp(it->key, "workers") == 0 ? &o->workers : &o->max_actions) = (int)v;
        }
    }
    return pc ? pool_conf_finish(pc, err) : 0;
}

static void
hv_opts_fini(struct hv_opts *o)
{
    free(o->uri);
    free(o->probe);
    free(o->prefix);
}

static bool
has_pools(const struct broker_conf *c)
{
    for (size_t i = 0; i < c->nitems; i++) {
        const char *s = c->items[i].section;

        if (strcmp(s, "pool") == 0 || strcmp(s, "host") == 0 || strcmp(s, "hypervisor") == 0)
            return true;
    }
    return false;
}

int
broker_app_pool_check(const struct broker_conf *c, struct pt_err *err)
{
    struct pool_conf *pc;
    struct hv_opts o;
    int rc;

    if (!has_pools(c))
        return 0;
    pc = pool_conf_new();
    rc = hv_opts_build(c, &o, pc, err);
    hv_opts_fini(&o);
    pool_conf_free(pc);
    return rc;
}

static void
pool_tick_cb(lws_sorted_usec_list_t *sul)
{
    struct broker_pool *bp = lws_container_of(sul, struct broker_pool, tick);
    struct pt_err err = {0};

    pt_debug("event=pool_tick");
    if (pool_tick(bp->ctx, &err) < 0)
        pt_warnx("event=pool_tick_failed msg=\"%s\"", err.msg);
    pool_ctx_drain(bp->ctx);
}

static struct lws_context *tick_ctx; /* the one context, for re-arming the timer */

static void
pool_tick_timer(lws_sorted_usec_list_t *sul)
{
    struct broker_pool *bp = lws_container_of(sul, struct broker_pool, tick);

    pool_tick_cb(sul);
    lws_sul_schedule(tick_ctx, 0, &bp->tick, pool_tick_timer, bp->tick_ms * 1000);
}

int broker_pool_fd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

int
broker_pool_fd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct broker *b = lws_context_user(lws_get_context(wsi));

    if (reason == LWS_CALLBACK_RAW_RX_FILE && b->app && b->app->pool && b->app->pool->ctx)
        pool_ctx_drain(b->app->pool->ctx);
    return 0;
}

int
broker_app_pool_start(struct broker *b, struct pt_err *err)
{
    struct broker_pool *bp;
    struct pool_conf *pc;
    struct pool_ctx_opts opts;
    struct store *st;
    struct hv_opts o;
    lws_sock_file_fd_type fd;
    int rc = -1;

    if (!has_pools(b->conf))
        return 0;
    pc = pool_conf_new();
    if (hv_opts_build(b->conf, &o, pc, err) < 0)
        goto out;
    st = store_open(b->conf->db, err);
    if (!st)
        goto out;
    memset(&opts, 0, sizeof(opts));
    opts.workers = o.workers;
    opts.max_actions = o.max_actions;
    opts.ready_timeout_ms = o.ready_timeout_ms;
    opts.domain_prefix = o.prefix;
    if (o.probe && strcmp(o.probe, "domain_state") == 0)
        opts.probe = pool_probe_domain_state;
    bp = pt_xcalloc(1, sizeof(*bp));
    b->app->pool = bp;
    bp->domain_prefix = pt_steal(&o.prefix);
    opts.domain_prefix = bp->domain_prefix;
    bp->tick_ms = o.tick_ms;
    bp->ctx = pool_ctx_new(&opts, &st, err);
    store_close(st);
    if (!bp->ctx)
        goto out;
    if (o.uri && pool_ctx_host_add(bp->ctx, "local", o.uri, 0, 0, err) < 0)
        goto out;
    if (pool_ctx_apply_conf(bp->ctx, pc, err) < 0)
        goto out;
    if (pool_ctx_recover(bp->ctx, err) < 0)
        goto out;
    fd.filefd = dup(pool_ctx_fd(bp->ctx));
    if (fd.filefd < 0 ||
        !lws_adopt_descriptor_vhost(b->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "broker-pool", NULL)) {
        pt_err_set(err, PT_E_INTERNAL, "cannot watch the pool's completion descriptor");
        goto out;
    }
    tick_ctx = b->ctx;
    lws_sul_schedule(b->ctx, 0, &bp->tick, pool_tick_timer, 1000);
    pt_log(LOG_NOTICE, "event=pools_started store=%s tick_ms=%lld", b->conf->db,
           (long long)bp->tick_ms);
    rc = 0;
out:
    hv_opts_fini(&o);
    pool_conf_free(pc);
    return rc;
}

void
broker_app_pool_stop(struct broker *b)
{
    struct broker_pool *bp = b->app ? b->app->pool : NULL;

    if (!bp)
        return;
    lws_sul_cancel(&bp->tick);
    pool_ctx_free(bp->ctx);
    free(bp->domain_prefix);
    free(bp);
    b->app->pool = NULL;
}

struct pool_ctx *
broker_app_pool_ctx(struct broker *b)
{
    return b->app && b->app->pool ? b->app->pool->ctx : NULL;
}

void
broker_app_pool_wait_note(struct broker *b, const char *desktop, bool ready)
{
    struct broker_pool *bp = b->app ? b->app->pool : NULL;
    int64_t now = pt_time_mono_ms();
    int free_slot = -1;

    if (!bp)
        return;
    for (int i = 0; i < 128; i++) {
        if (!bp->waiting[i].desktop[0]) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (strcmp(bp->waiting[i].desktop, desktop) != 0)
            continue;
        if (ready) {
            broker_hist_observe(&bp->provision, (double)(now - bp->waiting[i].since_ms) / 1000.0);
            bp->waiting[i].desktop[0] = '\0';
        }
        return;
    }
    if (!ready && free_slot >= 0) {
        pt_strlcpy(bp->waiting[free_slot].desktop, desktop, sizeof(bp->waiting[0].desktop));
        bp->waiting[free_slot].since_ms = now;
    }
}

struct broker_hist *
broker_app_pool_hist(struct broker *b, bool ttd)
{
    struct broker_pool *bp = b->app ? b->app->pool : NULL;

    if (!bp)
        return NULL;
    return ttd ? &bp->ttd : &bp->provision;
}

void
broker_app_pool_health(struct broker *b, json_t *out)
{
    struct pool_ctx *ctx = broker_app_pool_ctx(b);
    struct pool_host_status *hs = NULL;
    size_t n = 0, up = 0;
    struct pt_err err = {0};

    if (!ctx) {
        json_object_set_new(out, "pools", json_string("absent"));
        return;
    }
    if (pool_ctx_host_status(ctx, &hs, &n, &err) < 0) {
        json_object_set_new(out, "pools", json_string("error"));
        return;
    }
    for (size_t i = 0; i < n; i++)
        up += hs[i].up;
    free(hs);
    json_object_set_new(out, "pools", json_string("ok"));
    json_object_set_new(out, "hosts_up", json_integer((json_int_t)up));
    json_object_set_new(out, "hosts", json_integer((json_int_t)n));
}

void
broker_app_pool_metrics(struct broker *b, struct pt_buf *out)
{
    struct pool_ctx *ctx = broker_app_pool_ctx(b);
    struct pool_status *ps = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    pt_buf_appendf(out, "# TYPE portico_tunnels_open gauge\nportico_tunnels_open %zu\n",
                   b->ntunnels);
    if (!ctx || pool_ctx_status(ctx, &ps, &n, &err) < 0)
        return;
    pt_buf_appends(out, "# HELP portico_pool_desktops Desktops by pool and state.\n"
                        "# TYPE portico_pool_desktops gauge\n");
    for (size_t i = 0; i < n; i++) {
        for (int s = 0; s < POOL_STATE_COUNT; s++)
            pt_buf_appendf(out, "portico_pool_desktops{pool=\"%s\",state=\"%s\"} %d\n", ps[i].name,
                           pool_state_str((enum pool_state)s), ps[i].counts[s]);
    }
    pt_buf_appends(out, "# HELP portico_pool_warm_hit_ratio Claims served warm / all claims.\n"
                        "# TYPE portico_pool_warm_hit_ratio gauge\n");
    for (size_t i = 0; i < n; i++)
        pt_buf_appendf(out, "portico_pool_warm_hit_ratio{pool=\"%s\"} %.4f\n", ps[i].name,
                       ps[i].claims ? (double)ps[i].warm_claims / (double)ps[i].claims : 0.0);
    pt_buf_appends(out, "# TYPE portico_pool_claims_total counter\n");
    for (size_t i = 0; i < n; i++)
        pt_buf_appendf(out, "portico_pool_claims_total{pool=\"%s\"} %lld\n", ps[i].name,
                       (long long)ps[i].claims);
    free(ps);
    pt_buf_appends(out, "# HELP portico_provisioning_seconds Launch to desktop ready, for "
                        "launches that waited.\n# TYPE portico_provisioning_seconds histogram\n");
    broker_hist_render(&b->app->pool->provision, "portico_provisioning_seconds", "", out);
    pt_buf_appends(out, "# HELP portico_time_to_desktop_seconds Launch request to ticket.\n"
                        "# TYPE portico_time_to_desktop_seconds histogram\n");
    broker_hist_render(&b->app->pool->ttd, "portico_time_to_desktop_seconds", "", out);
}

void
broker_app_tunnel_event(struct broker *b, const struct broker_tunnel *t, bool opened)
{
    struct pool_ctx *ctx = broker_app_pool_ctx(b);
    struct pt_err err = {0};

    if (!ctx)
        return;
    if (pool_desktop_report(ctx, t->desktop, t->user,
                            opened ? POOL_SESSION_CONNECTED : POOL_SESSION_DISCONNECTED, &err) < 0)
        pt_warnx("event=tunnel_report_refused desktop=%s user=%s msg=\"%s\"", t->desktop, t->user,
                 err.msg);
}

void
broker_audit(struct broker *b, const char *actor, const char *action, const char *target,
             const char *result, const char *detail)
{
    struct pool_ctx *ctx = broker_app_pool_ctx(b);
    struct store_audit a;
    struct pt_err err = {0};

    pt_log(LOG_NOTICE, "event=audit actor=%s action=%s target=%s result=%s", actor, action,
           target ? target : "-", result);
    if (!ctx)
        return;
    memset(&a, 0, sizeof(a));
    a.time_ms = pt_time_wall_ms();
    pt_strlcpy(a.actor, actor ? actor : "", sizeof(a.actor));
    pt_strlcpy(a.action, action, sizeof(a.action));
    pt_strlcpy(a.target, target ? target : "", sizeof(a.target));
    pt_strlcpy(a.result, result, sizeof(a.result));
    pt_strlcpy(a.detail, detail ? detail : "", sizeof(a.detail));
    if (store_audit_append(pool_ctx_store(ctx), &a, &err) < 0)
        pt_warnx("event=audit_write_failed msg=\"%s\"", err.msg);
}
#else /* without pool/ */
int
broker_app_pool_check(const struct broker_conf *c, struct pt_err *err)
{
    for (size_t i = 0; i < c->nitems; i++) {
        const char *s = c->items[i].section;

        if (strcmp(s, "pool") == 0 || strcmp(s, "host") == 0 || strcmp(s, "hypervisor") == 0)
            return pt_err_set(err, PT_E_UNAVAILABLE, "%s:%d: [%s] needs a broker built with pool/",
                              c->items[i].file, c->items[i].line, s);
    }
    return 0;
}

int
broker_app_pool_start(struct broker *b, struct pt_err *err)
{
    return broker_app_pool_check(b->conf, err);
}

void
broker_app_pool_stop(struct broker *b)
{
    (void)b;
}

void
broker_app_pool_health(struct broker *b, json_t *out)
{
    (void)b;
    json_object_set_new(out, "pools", json_string("absent"));
}

void
broker_app_pool_metrics(struct broker *b, struct pt_buf *out)
{
    (void)b;
    (void)out;
}

struct pool_ctx *
broker_app_pool_ctx(struct broker *b)
{
    (void)b;
    return NULL;
}

struct broker_hist *
broker_app_pool_hist(struct broker *b, bool ttd)
{
    (void)b;
    (void)ttd;
    return NULL;
}

void
broker_app_pool_wait_note(struct broker *b, const char *desktop, bool ready)
{
    (void)b;
    (void)desktop;
    (void)ready;
}

void
broker_audit(struct broker *b, const char *actor, const char *action, const char *target,
             const char *result, const char *detail)
{
    (void)b;
    pt_log(LOG_NOTICE, "event=audit actor=%s action=%s target=%s result=%s", actor, action,
           target ? target : "-", result);
    (void)detail;
}
#endif

#ifndef PORTICO_HAVE_POOL
void
broker_app_tunnel_event(struct broker *b, const struct broker_tunnel *t, bool opened)
{
    (void)b;
    (void)t;
    (void)opened;
}

const struct broker_route broker_routes_desktops[] = {
    {0, NULL, 0, NULL},
};
const struct broker_route broker_routes_admin_pool[] = {
    {0, NULL, 0, NULL},
};
#endif

#ifndef PORTICO_HAVE_POOL
int broker_pool_fd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

int
broker_pool_fd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    return 0;
}
#endif
