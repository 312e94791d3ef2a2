/*
 * metrics.c - counters and histograms for /metrics, in the Prometheus text format.
 *
 * Only the loop thread records and renders, so nothing here is locked. Routes are keyed
 * by their pattern string (a handful), so a linear search is cheaper than a hash table.
 * Gauges that belong to other modules (active sessions, pool counts) are rendered by
 * app.c next to these.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_priv.h"
#include "common/mem.h"

const double broker_hist_bounds[BROKER_HIST_NBUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct route_stat {
    char *route;
    struct broker_hist latency;
    uint64_t by_class[6]; /* 1xx..5xx */
};

struct signin_stat {
    char *result;
    uint64_t n;
};

struct broker_metrics {
    struct route_stat *routes;
    size_t nroutes;
    struct signin_stat *signins;
    size_t nsignins;
};

void
broker_hist_observe(struct broker_hist *h, double seconds)
{
    for (int i = 0; i < BROKER_HIST_NBUCKETS; i++) {
        if (seconds <= broker_hist_bounds[i]) {
            h->buckets[i]++;
            break;
        }
    }
    h->count++;
    h->sum += seconds;
}

void
broker_hist_render(const struct broker_hist *h, const char *name, const char *labels,
                   struct pt_buf *out)
{
    uint64_t cum = 0;
    const char *sep = labels && labels[0] ? "," : "";

    if (!labels)
        labels = "";
    for (int i = 0; i < BROKER_HIST_NBUCKETS; i++) {
        cum += h->buckets[i];
        pt_buf_appendf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                       broker_hist_bounds[i], (unsigned long long)cum);
    }
    pt_buf_appendf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                   (unsigned long long)h->count);
    pt_buf_appendf(out, "%s_sum{%s} %.6f\n", name, labels, h->sum);
    pt_buf_appendf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
}

struct broker_metrics *
broker_metrics_new(void)
{
    return pt_xcalloc(1, sizeof(struct broker_metrics));
}

void
broker_metrics_free(struct broker_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nroutes; i++)
        free(m->routes[i].route);
    for (size_t i = 0; i < m->nsignins; i++)
        free(m->signins[i].result);
    free(m->routes);
    free(m->signins);
    free(m);
}

void
broker_metrics_request(struct broker_metrics *m, const char *route, int status, double seconds)
{
    struct route_stat *rs = NULL;

    for (size_t i = 0; i < m->nroutes; i++) {
        if (strcmp(m->routes[i].route, route) == 0) {
            rs = &m->routes[i];
            break;
        }
    }
    if (!rs) {
        m->routes = pt_xreallocarray(m->routes, m->nroutes + 1, sizeof(*m->routes));
        rs = &m->routes[m->nroutes++];
        memset(rs, 0, sizeof(*rs));
        rs->route = pt_xstrdup(route);
    }
    broker_hist_observe(&rs->latency, seconds);
    if (status >= 100 && status < 600)
        rs->by_class[status / 100]++;
}

void
broker_metrics_signin(struct broker_metrics *m, const char *result)
{
    for (size_t i = 0; i < m->nsignins; i++) {
        if (strcmp(m->signins[i].result, result) == 0) {
            m->signins[i].n++;
            return;
        }
    }
    m->signins = pt_xreallocarray(m->signins, m->nsignins + 1, sizeof(*m->signins));
    m->signins[m->nsignins].result = pt_xstrdup(result);
    m->signins[m->nsignins++].n = 1;
}

void
broker_metrics_render(const struct broker_metrics *m, struct pt_buf *out)
{
    char labels[320];

    pt_buf_appends(out, "# HELP portico_api_request_duration_seconds API latency by route.\n"
                        "# TYPE portico_api_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->nroutes; i++) {
        snprintf(labels, sizeof(labels), "route=\"%s\"", m->routes[i].route);
        broker_hist_render(&m->routes[i].latency, "portico_api_request_duration_seconds", labels,
                           out);
    }
    pt_buf_appends(out, "# HELP portico_api_responses_total API responses by route and class.\n"
                        "# TYPE portico_api_responses_total counter\n");
    for (size_t i = 0; i < m->nroutes; i++) {
        for (int c = 1; c < 6; c++) {
            if (m->routes[i].by_class[c])
                pt_buf_appendf(out,
                               "portico_api_responses_total{route=\"%s\",class=\"%dxx\"} %llu\n",
                               m->routes[i].route, c, (unsigned long long)m->routes[i].by_class[c]);
        }
    }
    pt_buf_appends(out, "# HELP portico_signins_total Sign-in attempts by result.\n"
                        "# TYPE portico_signins_total counter\n");
    for (size_t i = 0; i < m->nsignins; i++)
        pt_buf_appendf(out, "portico_signins_total{result=\"%s\"} %llu\n", m->signins[i].result,
                       (unsigned long long)m->signins[i].n);
}
