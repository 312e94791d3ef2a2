/*
 * http.c - one HTTP request, from lws callbacks to the router and back out.
 *
 * Life of a request. LWS_CALLBACK_HTTP creates a struct broker_req for the connection
 * (HTTP/1.1) or stream (h2), gives it an id, applies the per-client rate limit and the
 * body cap (from Content-Length, before reading a byte of body), and either dispatches at
 * once or waits for HTTP_BODY chunks until HTTP_BODY_COMPLETION. A handler replies with
 * broker_req_reply*(), which only stores the response and asks for a WRITEABLE callback;
 * the headers go out in one WRITEABLE and the body in 16 KiB pieces in the following
 * ones, so the loop never blocks on a slow client. The request is freed when the last
 * byte is written, or when the client goes away, except while a job holds it
 * (job_pending): then the wsi is cleared and the job's completion frees it.
 *
 * Every response, API or static, carries the same security headers and X-Request-Id.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libwebsockets.h>

#include "broker_priv.h"
#include "common/mem.h"

#define BODY_CHUNK 16384

/* Per-connection (h1) or per-stream (h2) data lws allocates for us. */
struct conn {
    struct broker_req *req;
};

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *
broker_method_str(int m)
{
    switch (m) {
    case BROKER_GET:
        return "GET";
    case BROKER_POST:
        return "POST";
    case BROKER_PUT:
        return "PUT";
    case BROKER_PATCH:
        return "PATCH";
    case BROKER_DELETE:
        return "DELETE";
    case BROKER_HEAD:
        return "HEAD";
    case BROKER_OPTIONS:
        return "OPTIONS";
    }
    return "?";
}

static int
method_from_lws(int m)
{
    switch (m) {
    case LWSHUMETH_GET:
        return BROKER_GET;
    case LWSHUMETH_POST:
        return BROKER_POST;
    case LWSHUMETH_PUT:
        return BROKER_PUT;
    case LWSHUMETH_PATCH:
        return BROKER_PATCH;
    case LWSHUMETH_DELETE:
        return BROKER_DELETE;
    case LWSHUMETH_HEAD:
        return BROKER_HEAD;
    case LWSHUMETH_OPTIONS:
        return BROKER_OPTIONS;
    }
    return 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
broker_url_decode(const char *in, size_t n, char *out, size_t outn)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = in[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return -1;
            hi = hexval(in[i + 1]);
            lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return -1;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= outn)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

static void
req_free(struct broker_req *r)
{
    if (!r)
        return;
    r->b->inflight--;
    pt_wipe(&r->sess, sizeof(r->sess)); /* cookie and CSRF token */
    pt_buf_fini(&r->body);
    pt_buf_fini(&r->resp);
    free(r);
}

static void
req_wake(struct broker_req *r)
{
    if (r->wsi)
        lws_callback_on_writable(r->wsi);
}

void
broker_req_reply(struct broker_req *r, int status, const char *ctype, const void *body, size_t len)
{
    if (r->replied) {
        pt_logc(&r->log, LOG_ERR, "event=bug msg=\"second reply ignored\" status=%d", status);
        return;
    }
    r->replied = true;
    r->status = status;
    r->ctype = ctype;
    pt_buf_reset(&r->resp);
    pt_buf_append(&r->resp, body, len);
    req_wake(r);
}

void
broker_req_reply_json(struct broker_req *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);

    json_decref(j);
    if (!s) {
        broker_req_reply(r, 500, "application/json",
                         "{\"error\":{\"code\":\"internal\",\"message\":\"cannot encode reply\"}}",
                         61);
        return;
    }
    broker_req_reply(r, status, "application/json", s, strlen(s));
    free(s);
}

void
broker_req_add_header(struct broker_req *r, const char *name, const char *value)
{
    if (r->nextra >= BROKER_MAX_EXTRA_HD)
        return;
    pt_strlcpy(r->extra[r->nextra].name, name, sizeof(r->extra[0].name));
    pt_strlcpy(r->extra[r->nextra].value, value, sizeof(r->extra[0].value));
    r->nextra++;
}

int
broker_req_header(struct broker_req *r, const char *name, char *out, size_t n)
{
    int len;

    if (!r->wsi)
        return -1;
    len = lws_hdr_custom_length(r->wsi, name, (int)strlen(name));
    if (len < 0 || (size_t)len >= n)
        return -1;
    if (lws_hdr_custom_copy(r->wsi, out, (int)n, name, (int)strlen(name)) < 0)
        return -1;
    return len;
}

bool
broker_req_same_origin(struct broker_req *r)
{
    char origin[300], authority[260], want[300];

    if (!r->wsi || lws_hdr_total_length(r->wsi, WSI_TOKEN_ORIGIN) >= (int)sizeof(origin) ||
        lws_hdr_total_length(r->wsi, WSI_TOKEN_HTTP_COLON_AUTHORITY) >= (int)sizeof(authority))
        return false;
    if (lws_hdr_copy(r->wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0 ||
        lws_hdr_copy(r->wsi, authority, sizeof(authority), WSI_TOKEN_HTTP_COLON_AUTHORITY) <= 0)
        return false;
    snprintf(want, sizeof(want), "https://%s", authority);
    return strcasecmp(origin, want) == 0;
}

int
broker_req_authorization(struct broker_req *r, char *out, size_t n)
{
    if (!r->wsi || lws_hdr_total_length(r->wsi, WSI_TOKEN_HTTP_AUTHORIZATION) >= (int)n)
        return -1;
    return lws_hdr_copy(r->wsi, out, (int)n, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 ? 0 : -1;
}

int
broker_req_cookie(struct broker_req *r, const char *name, char *out, size_t n)
{
    char all[4096];
    size_t nl = strlen(name);
    const char *p;

    if (!r->wsi || lws_hdr_copy(r->wsi, all, sizeof(all), WSI_TOKEN_HTTP_COOKIE) <= 0)
        return -1;
    for (p = all; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t vl = strcspn(v, ";");

            if (vl >= n)
                return -1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return (int)vl;
        }
        p = strchr(p, ';');
    }
    return -1;
}

int
broker_req_query(struct broker_req *r, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    const char *p = r->query;

    while (p && *p) {
        size_t seg = strcspn(p, "&");

        if (seg > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            /* lws hands the arguments over already URL-decoded */
            if (seg - kl - 1 >= n)
                return -1;
            memcpy(out, p + kl + 1, seg - kl - 1);
            out[seg - kl - 1] = '\0';
            return (int)(seg - kl - 1);
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    return -1;
}

json_t *
broker_req_json_body(struct broker_req *r)
{
    json_error_t jerr;
    json_t *j;

    if (r->body.len == 0) {
        broker_req_error(r, 400, "body_required",
                         "this call needs a JSON object body (Content-Type: application/json)");
        return NULL;
    }
    j = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        broker_req_error(r, 400, "malformed_json", "the body is not valid JSON: %s (line %d)",
                         jerr.text, jerr.line);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        broker_req_error(r, 400, "malformed_json", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

struct req_job {
    struct broker_req *r;
    broker_job_work_fn *work;
    broker_job_done_fn *done;
    void *arg;
};

static void
req_job_work(void *opaque)
{
    struct req_job *j = opaque;

    j->work(j->arg);
}

static void
req_job_done(void *opaque)
{
    struct req_job *j = opaque;
    struct broker_req *r = j->r;

    r->job_pending = false;
    j->done(j->arg);
    free(j);
    if (!r->wsi) {
        req_free(r); /* the client left while the job ran */
        return;
    }
    if (!r->replied)
        broker_req_error(r, 500, "internal", "the request finished without a reply");
}

void
broker_req_submit(struct broker_req *r, broker_job_work_fn *work, broker_job_done_fn *done,
                  void *arg)
{
    struct req_job *j = pt_xcalloc(1, sizeof(*j));

    j->r = r;
    j->work = work;
    j->done = done;
    j->arg = arg;
    r->job_pending = true;
    broker_jobs_submit(r->b->jobs, req_job_work, req_job_done, j);
}

/* ---- lws side ------------------------------------------------------------------------- */

static void
req_dispatch(struct broker_req *r)
{
    int allowed = 0;
    enum broker_match m;

    r->dispatched = true;
    m = broker_router_match(r->method, r->path, &r->route, r->params, &r->nparams, &allowed);
    if (m == BROKER_MATCH_OK) {
        r->route_name = r->route->pattern;
        broker_router_dispatch(r);
        return;
    }
    if (m == BROKER_MATCH_METHOD) {
        char allow[96] = "";

        for (int bit = BROKER_GET; bit <= BROKER_OPTIONS; bit <<= 1) {
            if (allowed & bit) {
                if (allow[0])
                    pt_strlcpy(allow + strlen(allow), ", ", sizeof(allow) - strlen(allow));
                pt_strlcpy(allow + strlen(allow), broker_method_str(bit),
                           sizeof(allow) - strlen(allow));
            }
        }
        r->route_name = "method_not_allowed";
        broker_req_add_header(r, "allow:", allow);
        broker_req_error(r, 405, "method_not_allowed", "%s is not allowed on %s; use %s",
                         broker_method_str(r->method), r->path, allow);
        return;
    }
    if (!pt_str_has_prefix(r->path, "/api/") &&
        (r->method == BROKER_GET || r->method == BROKER_HEAD)) {
        r->route_name = "static";
        broker_static_serve(r);
        return;
    }
    r->route_name = "none";
    broker_req_error(r, 404, "not_found", "no such API path: %s %s (see docs/api.md)",
                     broker_method_str(r->method), r->path);
}

static void
req_copy_query(struct lws *wsi, char *out, size_t n)
{
    char frag[BROKER_MAX_PATH];
    size_t o = 0;

    out[0] = '\0';
    for (int i = 0; i < 32; i++) {
        int len = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);

        if (len < 0)
            break;
        if (o + (size_t)len + 2 >= n)
            break;
        if (o)
            out[o++] = '&';
        memcpy(out + o, frag, (size_t)len);
        o += (size_t)len;
        out[o] = '\0';
    }
}

static struct broker_req *
req_new(struct broker *b, struct lws *wsi, const char *uri)
{
    struct broker_req *r = pt_xcalloc(1, sizeof(*r));
    char *puri = NULL;
    int plen = 0;
    char cl[32];

    r->b = b;
    b->inflight++;
    r->wsi = wsi;
    r->t_start_us = now_us();
    r->content_length = -1;
    r->route_name = "none";
    snprintf(r->id, sizeof(r->id), "%s%08llx", b->req_prefix, (unsigned long long)++b->req_counter);
    r->method = method_from_lws(lws_http_get_uri_and_method(wsi, &puri, &plen));
    pt_strlcpy(r->path, uri ? uri : "/", sizeof(r->path));
    req_copy_query(wsi, r->query, sizeof(r->query));
    if (lws_get_peer_simple(wsi, r->peer, sizeof(r->peer)) == NULL)
        pt_strlcpy(r->peer, "?", sizeof(r->peer));
    if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        int64_t v;

        if (pt_parse_i64(cl, 0, INT64_MAX, &v) == 0)
            r->content_length = v;
    }
    /* lws keeps an HTTP/1.1 connection open after some responses even when the client
     * said "Connection: close" (seen with bodiless POSTs); honour it ourselves. */
    if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_CONNECTION) > 0 && strcasestr(cl, "close"))
        r->close_after = true;
    /* h2 requests carry the :path pseudo-header; HTTP/1.1 ones never do */
    r->is_h2 = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COLON_PATH) > 0;
    if (r->is_h2)
        r->close_after = false;
    pt_log_ctx_set(&r->log, "req=%s", r->id);
    return r;
}

static int
on_http(struct broker *b, struct lws *wsi, struct conn *c, const char *uri)
{
    struct broker_req *r;

    if (c->req) /* a pipelined request while the previous one is open: not supported */
        return -1;
    r = c->req = req_new(b, wsi, uri);
    if (!r->method) {
        r->route_name = "method_not_allowed";
        broker_req_error(r, 405, "method_not_allowed", "unsupported HTTP method");
        return 0;
    }
    if (!broker_ratelimit_allow(b->rl, r->peer, pt_time_mono_ms())) {
        char retry[16];

        r->route_name = "rate_limited";
        snprintf(retry, sizeof(retry), "%d", 1);
        broker_req_add_header(r, "retry-after:", retry);
        broker_req_error(r, 429, "rate_limited",
                         "too many requests from %s; slow down and retry in a second", r->peer);
        r->close_after = r->content_length > 0 && !r->is_h2;
        return 0;
    }
    if (r->content_length > b->conf->max_body_bytes && r->is_h2) {
        /* h2: closing would kill every stream of the connection; let lws drain this
         * stream's DATA frames into nothing and answer at BODY_COMPLETION */
        r->body_expected = true;
        r->body_too_large = true;
        return 0;
    }
    if (r->content_length > b->conf->max_body_bytes) {
        r->route_name = "body_too_large";
        r->close_after = true; /* the body is never read, so the connection cannot be reused */
        broker_req_error(r, 413, "body_too_large",
                         "the request body is %lld bytes; the limit is %d (max_body_bytes)",
                         (long long)r->content_length, b->conf->max_body_bytes);
        return 0;
    }
    if (r->method & (BROKER_POST | BROKER_PUT | BROKER_PATCH | BROKER_DELETE) &&
        r->content_length > 0) {
        r->body_expected = true;
        pt_buf_reserve(&r->body, (size_t)r->content_length);
        return 0;
    }
    req_dispatch(r);
    return 0;
}

static int
on_body(struct broker *b, struct conn *c, const void *in, size_t len)
{
    struct broker_req *r = c->req;

    if (!r || r->dispatched)
        return 0;
    if (r->body_too_large || r->body.len + len > (size_t)b->conf->max_body_bytes) {
        r->body_too_large = true;
        return 0;
    }
    pt_buf_append(&r->body, in, len);
    return 0;
}

static void
on_body_done(struct broker *b, struct conn *c)
{
    struct broker_req *r = c->req;

    if (!r || r->dispatched)
        return;
    if (r->body_too_large) {
        r->dispatched = true;
        r->route_name = "body_too_large";
        broker_req_error(r, 413, "body_too_large", "the request body exceeds %d bytes",
                         b->conf->max_body_bytes);
        return;
    }
    req_dispatch(r);
}

static int
add_hdr(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

extern const char *broker_csp; /* server.c */

static int
write_headers(struct broker_req *r)
{
    unsigned char buf[LWS_PRE + 4096];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
    struct lws *wsi = r->wsi;
    bool is_api = pt_str_has_prefix(r->path, "/api/") || r->route;

    if (lws_add_http_common_headers(wsi, (unsigned int)r->status, r->ctype, r->resp.len, &p, end))
        return -1;
    if (add_hdr(wsi, "x-request-id:", r->id, &p, end) ||
        add_hdr(wsi, "content-security-policy:", broker_csp, &p, end) ||
        add_hdr(wsi, "strict-transport-security:", "max-age=31536000", &p, end) ||
        add_hdr(wsi, "x-frame-options:", "DENY", &p, end) ||
        add_hdr(wsi, "x-content-type-options:", "nosniff", &p, end) ||
        add_hdr(wsi, "referrer-policy:", "no-referrer", &p, end))
        return -1;
    if (is_api && add_hdr(wsi, "cache-control:", "no-store", &p, end))
        return -1;
    if (r->close_after && add_hdr(wsi, "connection:", "close", &p, end))
        return -1;
    for (int i = 0; i < r->nextra; i++) {
        if (add_hdr(wsi, r->extra[i].name, r->extra[i].value, &p, end))
            return -1;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    r->headers_sent = true;
    return 0;
}

static void
req_log_done(struct broker_req *r)
{
    double secs = (double)(now_us() - r->t_start_us) / 1e6;

    broker_metrics_request(r->b->metrics, r->route_name, r->status, secs);
    if (pt_log_enabled(LOG_INFO))
        pt_logc(
            &r->log, LOG_INFO, "event=http method=%s path=%s status=%d bytes=%zu ms=%.2f peer=%s",
            broker_method_str(r->method), r->path, r->status, r->resp.len, secs * 1000, r->peer);
}

/*
 * body_piece() - how many body bytes may go out in this WRITEABLE. lws sends at most
 * pt_serv_buf_size bytes of a write to the socket at once and keeps the rest as a
 * "truncated send" on the connection (on h2: on the shared network connection) that it
 * flushes on later writeable events; writing more, or finishing the stream, while that
 * is pending is what lost the tail of h2 bodies (item: two parallel 5000-byte streams
 * stopped at 4096). So: nothing while the pipe is choked, and never more than the peer's
 * h2 flow-control credit.
 */
static size_t
body_piece(struct broker_req *r, size_t left)
{
    lws_fileofs_t allow;
    size_t n = left > BODY_CHUNK ? BODY_CHUNK : left;

    if (lws_send_pipe_choked(r->wsi))
        return 0;
    allow = lws_get_peer_write_allowance(r->wsi);
    if (allow >= 0 && (size_t)allow < n)
        n = (size_t)allow;
    return n;
}

/* Returns -1 to make lws close the connection, 1 when the response is complete. */
static int
on_writeable(struct conn *c)
{
    unsigned char buf[LWS_PRE + BODY_CHUNK];
    struct broker_req *r = c->req;
    size_t n, left;
    bool final;
    int rc;

    if (!r || !r->replied)
        return 0;
    if (!r->headers_sent) {
        if (write_headers(r) < 0) {
            pt_logc(&r->log, LOG_WARNING, "event=http_write_failed what=headers");
            return -1;
        }
        lws_callback_on_writable(r->wsi);
        return 0;
    }
    if (r->body_sent) {
        /* the last piece went to lws; complete only once lws has put all of it on the
         * wire, or the end of the body may be dropped with the stream */
        if (lws_send_pipe_choked(r->wsi)) {
            lws_callback_on_writable(r->wsi);
            return 0;
        }
        goto done;
    }
    left = r->method == BROKER_HEAD ? 0 : r->resp.len - r->resp_off;
    n = body_piece(r, left);
    if (n == 0 && left > 0) {
        lws_callback_on_writable(r->wsi); /* choked or no h2 credit: lws calls back */
        return 0;
    }
    final = n == left;
    memcpy(buf + LWS_PRE, r->resp.data + r->resp_off, n);
    if (lws_write(r->wsi, buf + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    r->resp_off += n;
    if (!final || lws_send_pipe_choked(r->wsi)) {
        r->body_sent = final;
        lws_callback_on_writable(r->wsi);
        return 0;
    }
done:
    req_log_done(r);
    rc = r->close_after ? -1 : 1;
    req_free(r);
    c->req = NULL;
    return rc;
}

static void
on_closed(struct conn *c)
{
    struct broker_req *r = c->req;

    if (!r)
        return;
    c->req = NULL;
    if (r->job_pending) {
        r->wsi = NULL; /* the job's completion frees it */
        return;
    }
    req_free(r);
}

int broker_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);

int
broker_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct broker *b = lws_context_user(lws_get_context(wsi));
    struct conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(b, wsi, c, in);
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(b, c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        on_body_done(b, c);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        int rc = on_writeable(c);

        if (rc == 1)
            return lws_http_transaction_completed(wsi) ? -1 : 0;
        return rc;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (c)
            on_closed(c);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (b && b->jobs)
            broker_jobs_drain(b->jobs);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
