/*
 * gw_report.c - tell the broker when a tunnel opens and closes.
 *
 * Each event is one JSON object POSTed to <broker_url>/api/v1/gateway/tunnels with
 * "Authorization: Bearer <shared secret>" (docs/gateway.md has the format). Reports go
 * out one at a time, in order, from lws client connections in the gateway's own loop, so
 * a slow or absent broker never blocks a tunnel: events wait in a bounded FIFO (the oldest
 * is dropped, and counted, when it is full) and a failed POST is retried with exponential
 * backoff from 250 ms up to 30 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "gw_priv.h"

#define REPORT_PATH       "/api/v1/gateway/tunnels"
#define REPORT_QUEUE_MAX  10000
#define REPORT_BACKOFF_MS 250
#define REPORT_MAX_MS     30000

struct report {
    struct report *next;
    char *json;
};

struct gw_reporter {
    struct lws_context *ctx;
    struct gw_metrics *m;
    bool enabled, tls, insecure;
    char gateway_id[128];
    char host[256];
    int port;
    char *auth_header; /* "Bearer <secret>": wiped on free */
    struct report *head, *tail;
    size_t count;
    struct lws *wsi; /* the POST in flight */
    bool body_sent, done;
    int status;
    unsigned retries;
    lws_sorted_usec_list_t sul;
    bool scheduled;
};

static void reporter_kick(struct gw_reporter *r, int64_t delay_ms);

static char *
read_secret(const char *path, struct pt_err *err)
{
    FILE *f = fopen(path, "re");
    char buf[512];
    size_t n;

    if (!f) {
        pt_err_set(err, PT_E_IO, "cannot read broker_secret_file %s", path);
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = pt_str_trim(buf);
    if (!*s) {
        pt_err_set(err, PT_E_INVALID, "broker_secret_file %s is empty", path);
        return NULL;
    }
    char *h = pt_xasprintf("Bearer %s", s);
    pt_wipe(buf, sizeof(buf));
    return h;
}

struct gw_reporter *
gw_reporter_new(struct lws_context *ctx, const struct gw_conf *c, struct gw_metrics *m,
                struct pt_err *err)
{
    struct gw_reporter *r = pt_xcalloc(1, sizeof(*r));
    const char *hp;
    char *slash;

    r->ctx = ctx;
    r->m = m;
    pt_strlcpy(r->gateway_id, c->id ? c->id : "", sizeof(r->gateway_id));
    if (!c->broker_url)
        return r;
    r->tls = pt_str_has_prefix(c->broker_url, "https://");
    r->insecure = c->broker_insecure;
    hp = c->broker_url + (r->tls ? 8 : 7);
    char hostport[300];
    pt_strlcpy(hostport, hp, sizeof(hostport));
    slash = strchr(hostport, '/');
    if (slash)
        *slash = '\0';
    if (pt_parse_hostport(hostport, r->host, sizeof(r->host), &r->port) < 0) {
        pt_err_set(err, PT_E_INVALID, "broker_url %s: want http(s)://host:port", c->broker_url);
        gw_reporter_free(r);
        return NULL;
    }
    r->auth_header = read_secret(c->broker_secret_file, err);
    if (!r->auth_header) {
        gw_reporter_free(r);
        return NULL;
    }
    r->enabled = true;
    return r;
}

void
gw_reporter_free(struct gw_reporter *r)
{
    struct report *p, *n;

    if (!r)
        return;
    lws_sul_cancel(&r->sul);
    if (r->wsi)
        lws_set_opaque_user_data(r->wsi, NULL);
    for (p = r->head; p; p = n) {
        n = p->next;
        free(p->json);
        free(p);
    }
    pt_free_secret(r->auth_header);
    free(r);
}

void
gw_reporter_stop(struct gw_reporter *r)
{
    if (r) {
        r->enabled = false; /* the loop is going away: nothing new is scheduled */
        lws_sul_cancel(&r->sul);
    }
}

void
gw_reporter_push(struct gw_reporter *r, const struct gw_report_event *ev)
{
    struct report *p;
    json_t *o;

    if (!r || !r->enabled)
        return;
    o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "event",
                  ev->opened ? "opened" : "closed", "gateway", r->gateway_id, "tunnel",
                  (json_int_t)ev->tunnel, "ticket_id", ev->ticket_id, "session_id", ev->session_id,
                  "desktop", ev->desktop, "user", ev->user, "protocol", ev->proto, "bytes_up",
                  (json_int_t)ev->bytes_up, "bytes_down", (json_int_t)ev->bytes_down);
    if (!o)
        return;
    p = pt_xcalloc(1, sizeof(*p));
    p->json = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!p->json) {
        free(p);
        return;
    }
    if (r->count >= REPORT_QUEUE_MAX) {
        /* Never the one in flight: it is the head and will be popped by its completion. */
        struct report *victim = r->head->next;
        if (victim) {
            r->head->next = victim->next;
            if (r->tail == victim)
                r->tail = r->head;
            free(victim->json);
            free(victim);
            r->count--;
            r->m->reports_dropped++;
        }
    }
    if (r->tail)
        r->tail->next = p;
    else
        r->head = p;
    r->tail = p;
    r->count++;
    r->m->reports_pending = r->count;
    if (!r->wsi && !r->scheduled)
        reporter_kick(r, 0);
}

static void
reporter_connect(lws_sorted_usec_list_t *sul)
{
    struct gw_reporter *r = lws_container_of(sul, struct gw_reporter, sul);
    struct lws_client_connect_info i;

    pt_debug("event=report_connect pending=%zu inflight=%d", r->count, r->wsi != NULL);

    r->scheduled = false;
    if (!r->head || r->wsi)
        return;
    memset(&i, 0, sizeof(i));
    i.context = r->ctx;
    i.address = r->host;
    i.port = r->port;
    i.host = r->host;
    i.origin = r->host;
    i.path = REPORT_PATH;
    i.method = "POST";
    i.alpn = "http/1.1";
    i.local_protocol_name = "gw-report";
    i.opaque_user_data = r;
    i.pwsi = &r->wsi;
    if (r->tls) {
        i.ssl_connection = LCCSCF_USE_SSL;
        if (r->insecure)
            i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                LCCSCF_ALLOW_INSECURE | LCCSCF_ALLOW_EXPIRED;
    }
    r->body_sent = r->done = false;
    r->status = 0;
    if (!lws_client_connect_via_info(&i)) {
        r->wsi = NULL;
        r->m->reports_failed++;
        reporter_kick(r, -1);
    }
}

/* Schedule the next attempt: @delay_ms 0 = now, -1 = the next backoff step. */
static void
reporter_kick(struct gw_reporter *r, int64_t delay_ms)
{
    if (delay_ms < 0) {
        delay_ms = (int64_t)REPORT_BACKOFF_MS << (r->retries < 8 ? r->retries : 8);
        if (delay_ms > REPORT_MAX_MS)
            delay_ms = REPORT_MAX_MS;
        r->retries++;
        if (r->retries == 4)
            pt_log(LOG_WARNING, "event=broker_unreachable host=%s port=%d pending=%zu (retrying)",
                   r->host, r->port, r->count);
    }
    r->scheduled = true;
    /* Under libev this may run up to one gw.c tick late (see tick_start()). */
    lws_sul_schedule(r->ctx, 0, &r->sul, reporter_connect, delay_ms * LWS_US_PER_MS);
}

static void
reporter_finished(struct gw_reporter *r)
{
    r->wsi = NULL;
    if (!r->enabled)
        return;
    if (r->done && r->status >= 200 && r->status < 300) {
        struct report *p = r->head;
        r->head = p->next;
        if (!r->head)
            r->tail = NULL;
        free(p->json);
        free(p);
        r->count--;
        r->retries = 0;
        r->m->reports_sent++;
        r->m->reports_pending = r->count;
        if (r->head)
            reporter_kick(r, 0);
        return;
    }
    r->m->reports_failed++;
    if (r->done && r->status >= 400 && r->status < 500 && r->status != 401 && r->status != 403 &&
        r->status != 408 && r->status != 429) {
        /* The broker understood and rejected this report: retrying will not help. */
        pt_log(LOG_WARNING, "event=report_rejected status=%d", r->status);
        struct report *p = r->head;
        r->head = p->next;
        if (!r->head)
            r->tail = NULL;
        free(p->json);
        free(p);
        r->count--;
        r->m->reports_pending = r->count;
        if (r->head)
            reporter_kick(r, 0);
        return;
    }
    reporter_kick(r, -1);
}

int
gw_report_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct gw_reporter *r = lws_get_opaque_user_data(wsi);
    unsigned char **p = in, *end;
    char buf[LWS_PRE + 1024], *px;
    int n;

    if (r)
        pt_debug("event=report_cb reason=%d", (int)reason);
    if (!r)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        char clen[24];
        end = (*p) + len;
        snprintf(clen, sizeof(clen), "%zu", strlen(r->head->json));
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                         (unsigned char *)r->auth_header,
                                         (int)strlen(r->auth_header), p, end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                         (const unsigned char *)"application/json", 16, p, end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, (unsigned char *)clen,
                                         (int)strlen(clen), p, end))
            return -1;
        lws_client_http_body_pending(wsi, 1);
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
        size_t blen = strlen(r->head->json);
        unsigned char *b;
        if (r->body_sent)
            return 0;
        b = pt_xmalloc(LWS_PRE + blen);
        memcpy(b + LWS_PRE, r->head->json, blen);
        n = lws_write(wsi, b + LWS_PRE, blen, LWS_WRITE_HTTP_FINAL);
        free(b);
        if (n < 0)
            return -1;
        r->body_sent = true;
        lws_client_http_body_pending(wsi, 0);
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        r->status = (int)lws_http_client_http_response(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
        px = buf + LWS_PRE;
        n = (int)sizeof(buf) - LWS_PRE;
        if (lws_http_client_read(wsi, &px, &n) < 0)
            return -1;
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        return 0;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        r->done = true;
        lws_set_opaque_user_data(wsi, NULL);
        reporter_finished(r);
        return -1; /* one report per connection: close it */
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        pt_debug("event=report_failed host=%s why=%s", r->host, in ? (const char *)in : "-");
        lws_set_opaque_user_data(wsi, NULL);
        reporter_finished(r);
        return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        lws_set_opaque_user_data(wsi, NULL);
        reporter_finished(r);
        return 0;
    default:
        break;
    }
    return 0;
}
