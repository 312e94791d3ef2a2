/*
 * api_health.c - GET /healthz and GET /metrics.
 *
 * /healthz makes a round trip through the job pool, so "ok" means the loop and the
 * workers both answer, and reports the parts the broker wired (store, directory, pool).
 * /metrics renders the broker's own counters and the wired modules' gauges, only to the
 * peers listed in metrics_from (default: loopback).
 */
#include <stdlib.h>
#include <string.h>

#include "broker_priv.h"
#include "common/mem.h"

void broker_app_health(struct broker *b, json_t *out);         /* app.c */
void broker_app_metrics(struct broker *b, struct pt_buf *out); /* app.c */

struct health_job {
    struct broker_req *r;
    int64_t queued_ms;
    int64_t ran_ms;
};

static void
health_work(void *arg)
{
    struct health_job *h = arg;

    h->ran_ms = pt_time_mono_ms();
}

static void
health_done(void *arg)
{
    struct health_job *h = arg;
    struct broker_req *r = h->r;
    json_t *j;

    j = json_pack("{s:s,s:s,s:I,s:{s:s,s:I}}", "status", "ok", "version", PORTICO_VERSION,
                  "uptime_s", (json_int_t)((pt_time_wall_ms() - r->b->started_ms) / 1000),
                  "workers", "status", "ok", "queue_ms", (json_int_t)(h->ran_ms - h->queued_ms));
    broker_app_health(r->b, j);
    broker_req_reply_json(r, 200, j);
    free(h);
}

static void
healthz(struct broker_req *r)
{
    struct health_job *h = pt_xcalloc(1, sizeof(*h));

    h->r = r;
    h->queued_ms = pt_time_mono_ms();
    broker_req_submit(r, health_work, health_done, h);
}

static void
metrics(struct broker_req *r)
{
    struct pt_buf out = PT_BUF_INIT;

    /* counters name routes, users' sign-in results and pool sizes: not for anyone who
     * can reach the listener (docs/config.md, metrics_from) */
    if (!broker_conf_metrics_allowed(r->b->conf, r->peer)) {
        r->route_name = "metrics_forbidden";
        broker_req_error(r, 403, "metrics_forbidden",
                         "%s may not read /metrics; add it to metrics_from in [broker]", r->peer);
        return;
    }
    broker_metrics_render(r->b->metrics, &out);
    broker_app_metrics(r->b, &out);
    broker_req_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    pt_buf_fini(&out);
}

const struct broker_route broker_routes_health[] = {
    {BROKER_GET, "/healthz", 0, healthz},
    {BROKER_GET, "/metrics", 0, metrics},
    {0, NULL, 0, NULL},
};
