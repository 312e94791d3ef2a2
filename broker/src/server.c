/*
 * server.c - the daemon object: one lws context with one TLS vhost, the job pool, the
 * signals, and the service loop.
 *
 * One thread runs lws_service() and owns all broker state (STYLE C6). Workers only post
 * completions (jobs.c) and wake the loop with lws_cancel_service(). Signals are blocked
 * in every thread and read from a signalfd that lws watches like any other descriptor,
 * so SIGTERM/SIGINT (stop) and SIGHUP (reload) are handled on the loop thread, with no
 * async-signal-safety puzzles, whichever event library runs the loop.
 *
 * The loop is libev (the lws evlib plugin) when available, because lws's default poll()
 * loop costs O(connections) per wake-up (LAB.md section 10); if the plugin does not load
 * the broker falls back to poll() and says so in the log. The libev loop is ours (a
 * "foreign" loop to lws): lws_service() would run ev_run() with no way to leave it, while
 * owning the loop lets a SIGTERM simply ev_break() it and then run it a few more rounds
 * to let jobs in flight finish before the context is destroyed.
 */
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "broker_priv.h"
#include "common/mem.h"

int broker_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
int broker_pool_fd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);                          /* app_pool.c */
int broker_app_start(struct broker *b, struct pt_err *err); /* app.c */
void broker_app_stop(struct broker *b);                     /* app.c */

const char *broker_csp = "default-src 'self'";
static char csp_buf[1024];

static void
lws_log_emit(int level, const char *line)
{
    int prio = LOG_DEBUG;

    if (level & LLL_ERR)
        prio = LOG_ERR;
    else if (level & LLL_WARN)
        prio = LOG_WARNING;
    else if (level & (LLL_NOTICE | LLL_USER))
        prio = LOG_NOTICE;
    pt_log_lib("lws", prio, line);
}

static int
lws_level_for(int prio)
{
    int l = LLL_ERR | LLL_WARN;

    if (prio >= LOG_DEBUG)
        l |= LLL_NOTICE | LLL_INFO;
    return l;
}

static void
handle_signal(struct broker *b, int signo)
{
    if (signo == SIGHUP) {
        broker_reload(b);
        return;
    }
    pt_log(LOG_NOTICE, "event=shutdown signal=%s", signo == SIGTERM ? "TERM" : "INT");
    b->stop = 1;
    if (b->ev_loop)
        ev_break(b->ev_loop, EVBREAK_ALL);
    else
        lws_cancel_service(b->ctx);
}

static int
signal_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct broker *b = lws_context_user(lws_get_context(wsi));
    struct signalfd_siginfo si;

    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        while (read(b->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            handle_signal(b, (int)si.ssi_signo);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (b->jobs)
            broker_jobs_drain(b->jobs);
        return 0;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"http", broker_http_cb, sizeof(void *), 0, 0, NULL, 0},
    {"broker-signal", signal_cb, 0, 0, 0, NULL, 0},
    {"broker-pool", broker_pool_fd_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Expired sessions are dropped when used; this sweep drops the ones nobody uses again. */
static void
sess_sweep(lws_sorted_usec_list_t *sul)
{
    struct broker *b = lws_container_of(sul, struct broker, sweep);

    if (b->sessions)
        broker_sess_sweep(b->sessions, pt_time_wall_ms());
    lws_sul_schedule(b->ctx, 0, &b->sweep, sess_sweep, 10 * LWS_US_PER_SEC);
}

static void
jobs_wake(void *opaque)
{
    struct broker *b = opaque;

    lws_cancel_service(b->ctx);
}

static void
build_csp(const struct broker_conf *c)
{
    char origin[512] = "";

    /* The viewer opens a WebSocket to the gateway, which may live on another origin. */
    if (c->gateway_url) {
        const char *s = strstr(c->gateway_url, "://");
        size_t n;

        if (s) {
            const char *slash = strchr(s + 3, '/');

            n = slash ? (size_t)(slash - c->gateway_url) : strlen(c->gateway_url);
            if (n < sizeof(origin) && !strpbrk(c->gateway_url, " ;'\""))
                memcpy(origin, c->gateway_url, n), origin[n] = '\0';
        }
    }
    snprintf(csp_buf, sizeof(csp_buf),
             "default-src 'self'; connect-src 'self'%s%s; img-src 'self' data: blob:; "
             "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
             origin[0] ? " " : "", origin);
    broker_csp = csp_buf;
}

static void
pick_static_root(struct broker *b)
{
    const char *root = b->conf->web_root;
    char dist[4096];
    struct stat st;

    b->static_root[0] = '\0';
    if (!root)
        return;
    snprintf(dist, sizeof(dist), "%s/dist", root);
    if (stat(dist, &st) == 0 && S_ISDIR(st.st_mode))
        pt_strlcpy(b->static_root, dist, sizeof(b->static_root));
    else if (stat(root, &st) == 0 && S_ISDIR(st.st_mode))
        pt_strlcpy(b->static_root, root, sizeof(b->static_root));
    else
        pt_warnx("event=web_root_missing path=%s msg=\"no web UI will be served\"", root);
}

static struct lws_context *
create_context(struct broker *b, const char *host, int port, bool libev)
{
    struct lws_context_creation_info info;

    memset(&info, 0, sizeof(info));
    info.port = port;
    info.iface = host;
    info.protocols = protocols;
    info.user = b;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_IPV6 |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (libev) {
        info.options |= LWS_SERVER_OPTION_LIBEV;
        b->ev_loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
        if (!b->ev_loop)
            return NULL;
        info.foreign_loops = &b->ev_loop;
    }
    info.ssl_cert_filepath = b->conf->tls_cert;
    info.ssl_private_key_filepath = b->conf->tls_key;
    /* TLS 1.2 and 1.3 only; for 1.2, forward-secret AEAD suites only. */
    info.ssl_options_set = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                           SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
    info.ssl_cipher_list = "ECDHE+AESGCM:ECDHE+CHACHA20";
    info.alpn = b->conf->h2 ? "h2,http/1.1" : "http/1.1";
    info.max_http_header_data = (unsigned short)b->conf->max_header_bytes;
    info.max_http_header_pool = 1024;
    info.server_string = "portico";
    info.timeout_secs = 20;
    info.keepalive_timeout = 30;
    return lws_create_context(&info);
}

struct broker *
broker_new(struct broker_conf **confp, struct pt_err *err)
{
    struct broker *b = pt_xcalloc(1, sizeof(*b));
    char host[256];
    unsigned char rnd[4];
    sigset_t set;
    bool libev;
    int port;
    lws_sock_file_fd_type fd;

    b->conf = pt_steal(confp);
    b->signal_fd = -1;
    b->started_ms = pt_time_wall_ms();
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0x5a, sizeof(rnd));
    snprintf(b->req_prefix, sizeof(b->req_prefix), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3]);
    if (pt_parse_hostport(b->conf->listen, host, sizeof(host), &port) < 0) {
        pt_err_set(err, PT_E_INVALID, "listen = %s: expected host:port", b->conf->listen);
        goto error;
    }
    if (broker_tls_ensure(b->conf->tls_cert, b->conf->tls_key, host, err) < 0)
        goto error;
    build_csp(b->conf);
    pick_static_root(b);
    b->metrics = broker_metrics_new();
    b->rl = broker_ratelimit_new(b->conf->rate_limit_rps, b->conf->rate_limit_burst);

    /* Block the signals before any thread exists, so only the signalfd sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (b->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        pt_err_set(err, PT_E_INTERNAL, "signalfd: %s", strerror(errno));
        goto error;
    }
    signal(SIGPIPE, SIG_IGN);

    lws_set_log_level(lws_level_for(b->conf->log_level), lws_log_emit);
    libev = strcmp(b->conf->event_loop, "libev") == 0;
    b->ctx = create_context(b, host, port, libev);
    if (!b->ctx && libev) {
        if (b->ev_loop)
            ev_loop_destroy(b->ev_loop);
        b->ev_loop = NULL;
        pt_warnx("event=evlib_fallback msg=\"the libev loop plugin did not load; using poll()\"");
        libev = false;
        b->ctx = create_context(b, host, port, false);
    }
    if (!b->ctx) {
        pt_err_set(err, PT_E_UNAVAILABLE,
                   "cannot listen on %s with TLS (port in use, or bad tls_cert/tls_key?); "
                   "see the lws lines above",
                   b->conf->listen);
        goto error;
    }
    b->vhost = lws_get_vhost_by_name(b->ctx, "default");
    b->listen_port = b->vhost ? lws_get_vhost_listen_port(b->vhost) : port;
    b->jobs = broker_jobs_new(b->conf->workers, jobs_wake, b);
    fd.filefd = dup(b->signal_fd); /* lws closes its copy at context destroy */
    if (!b->vhost ||
        !lws_adopt_descriptor_vhost(b->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "broker-signal", NULL)) {
        pt_err_set(err, PT_E_INTERNAL, "cannot watch the signal descriptor");
        goto error;
    }
    if (broker_app_start(b, err) < 0)
        goto error;
    lws_sul_schedule(b->ctx, 0, &b->sweep, sess_sweep, 10 * LWS_US_PER_SEC);
    pt_log(LOG_NOTICE, "event=listening url=https://%s:%d loop=%s workers=%d web_root=%s", host,
           b->listen_port, libev ? "libev" : "poll", b->conf->workers,
           b->static_root[0] ? b->static_root : "-");
    return b;
error:
    broker_free(b);
    return NULL;
}

int
broker_run(struct broker *b)
{
    int64_t deadline;

    if (b->ev_loop) {
        ev_run(b->ev_loop, 0); /* until ev_break() on SIGTERM/SIGINT */
    } else {
        while (!b->stop) {
            if (lws_service(b->ctx, 0) < 0)
                break;
        }
    }
    /* Graceful: let the jobs in flight finish and their replies go out (bounded). */
    deadline = pt_time_mono_ms() + 10000;
    if (broker_jobs_pending(b->jobs) > 0 || b->inflight > 0)
        pt_log(LOG_NOTICE, "event=draining jobs=%d requests=%d", broker_jobs_pending(b->jobs),
               b->inflight);
    while ((broker_jobs_pending(b->jobs) > 0 || b->inflight > 0) && pt_time_mono_ms() < deadline) {
        if (b->ev_loop)
            ev_run(b->ev_loop, EVRUN_ONCE);
        else if (lws_service(b->ctx, 0) < 0)
            break;
        broker_jobs_drain(b->jobs);
    }
    pt_log(LOG_NOTICE, "event=stopped");
    return 0;
}

void
broker_reload(struct broker *b)
{
    struct pt_err err = {0};
    struct broker_conf *nc = broker_conf_load(b->conf->path, &err);

    if (!nc) {
        pt_log(LOG_ERR, "event=reload_failed msg=\"%s\" (keeping the running configuration)",
               err.msg);
        return;
    }
    /* Safe to change live: logging and limits. Everything else needs a restart. */
    b->conf->log_level = nc->log_level;
    pt_log_set_level(nc->log_level);
    lws_set_log_level(lws_level_for(nc->log_level), lws_log_emit);
    b->conf->rate_limit_rps = nc->rate_limit_rps;
    b->conf->rate_limit_burst = nc->rate_limit_burst;
    broker_ratelimit_set(b->rl, nc->rate_limit_rps, nc->rate_limit_burst);
    b->conf->max_body_bytes = nc->max_body_bytes;
    /* the loop thread is the only reader of metrics_from: swapping it here is safe */
    free(b->conf->metrics_from);
    b->conf->metrics_from = pt_steal(&nc->metrics_from);
    if (strcmp(nc->listen, b->conf->listen) != 0)
        pt_warnx("event=reload_needs_restart key=listen");
    pt_log(LOG_NOTICE, "event=reloaded file=%s log_level=%d rate_limit_rps=%d", b->conf->path,
           nc->log_level, nc->rate_limit_rps);
    broker_conf_free(nc);
}

void
broker_free(struct broker *b)
{
    if (!b)
        return;
    /* Order: stop the workers (their completions may still touch app state), then the
     * app (store, pool, auth), then the context (which closes every connection). */
    broker_jobs_free(b->jobs);
    b->jobs = NULL;
    if (b->ctx)
        lws_sul_cancel(&b->sweep);
    broker_app_stop(b);
    if (b->ctx)
        lws_context_destroy(b->ctx);
    if (b->ev_loop)
        ev_loop_destroy(b->ev_loop);
    if (b->signal_fd >= 0)
        close(b->signal_fd);
    broker_ratelimit_free(b->rl);
    broker_metrics_free(b->metrics);
    broker_conf_free(b->conf);
    free(b->tunnels);
    free(b);
}
