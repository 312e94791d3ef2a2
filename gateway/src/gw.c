/*
 * gw.c - the gateway process state: one libwebsockets context and its event loop.
 *
 * How it works. One lws context, one vhost, one listening socket (TLS by default). Every
 * connection - browser WebSockets, raw TCP sockets to desktops, HTTPS reports to the
 * broker, /metrics and /healthz requests - is a wsi of that one loop, so gateway state
 * needs no locks; the single exception is the queue of messages that RDP session threads
 * post (gw_tunnel_post), guarded by post_lock and drained here when lws_cancel_service()
 * wakes the loop.
 *
 * The loop is libev's through lws's event-library plugin: lws's own poll() loop walks
 * every descriptor on each wake-up and cost ~90% of a core at 1,000 idle tunnels where
 * libev costs ~4% (LAB.md section 10). If the plugin is not installed we fall back to
 * poll() and say so in the log and in /metrics.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "gw_priv.h"
#include "rdp.h" /* struct gw_rdp_metrics; the functions only with GW_HAVE_RDP */

struct gw_addr {
    struct gw_addr *next;
    int count;
    char addr[64];
};

/* ---- lists from the config ----------------------------------------------------------- */

char **
gw_list_split(const char *s)
{
    char **v = pt_xcalloc(1, sizeof(char *));
    size_t n = 0;
    char *copy, *tok, *save = NULL;

    if (!s)
        return v;
    copy = pt_xstrdup(s);
    for (tok = strtok_r(copy, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
        v = pt_xreallocarray(v, n + 2, sizeof(char *));
        v[n++] = pt_xstrdup(tok);
        v[n] = NULL;
    }
    free(copy);
    return v;
}

void
gw_list_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

bool
gw_origin_allowed(const struct gw *g, const char *origin)
{
    if (!g->conf->allowed_origins)
        return true;
    if (!origin || !*origin)
        return false;
    for (size_t i = 0; g->origins[i]; i++)
        if (strcasecmp(g->origins[i], origin) == 0 || strcmp(g->origins[i], "*") == 0)
            return true;
    return false;
}

/* ---- connections per source address ------------------------------------------------ */

static size_t
addr_hash(const char *s, size_t buckets)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h % buckets);
}

int
gw_addr_acquire(struct gw *g, const char *addr)
{
    struct gw_addr **pp = &g->addr_table[addr_hash(addr, g->addr_buckets)], *a;

    if (g->shared)
        return gw_shared_addr_acquire(g->shared, g->worker, addr, g->conf->max_conns_per_addr);

    for (a = *pp; a; a = a->next)
        if (strcmp(a->addr, addr) == 0)
            break;
    if (!a) {
        a = pt_xcalloc(1, sizeof(*a));
        pt_strlcpy(a->addr, addr, sizeof(a->addr));
        a->next = *pp;
        *pp = a;
    }
    if (a->count >= g->conf->max_conns_per_addr)
        return -1;
    return ++a->count;
}

void
gw_addr_release(struct gw *g, const char *addr)
{
    struct gw_addr **pp = &g->addr_table[addr_hash(addr, g->addr_buckets)], *a;

    if (g->shared) {
        gw_shared_addr_release(g->shared, g->worker, addr);
        return;
    }

    for (; (a = *pp) != NULL; pp = &a->next) {
        if (strcmp(a->addr, addr) != 0)
            continue;
        if (--a->count <= 0) {
            *pp = a->next;
            free(a);
        }
        return;
    }
}

/* ---- /metrics and /healthz ---------------------------------------------------------- */

static bool
metrics_peer_allowed(struct gw *g, struct lws *wsi)
{
    char peer[64] = "";

    lws_get_peer_simple(wsi, peer, sizeof(peer));
    /* IPv4 peers on a dual-stack socket appear as ::ffff:a.b.c.d */
    const char *p = pt_str_has_prefix(peer, "::ffff:") ? peer + 7 : peer;
    for (size_t i = 0; g->metrics_from[i]; i++)
        if (strcmp(g->metrics_from[i], p) == 0 || strcmp(g->metrics_from[i], "*") == 0)
            return true;
    return false;
}

static int
http_reply(struct lws *wsi, unsigned int code, const char *ctype, const char *body, size_t len)
{
    unsigned char *buf = pt_xmalloc(LWS_PRE + 1024 + len);
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + 1024;
    int rc = -1;

    if (lws_add_http_common_headers(wsi, code, ctype, (lws_filepos_t)len, &p, end))
        goto out;
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end))
        goto out;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        goto out;
    /* Small bodies: written at once; lws buffers what the socket does not take. */
    memcpy(p, body, len);
    if (len && lws_write(wsi, p, len, LWS_WRITE_HTTP_FINAL) != (int)len)
        goto out;
    rc = lws_http_transaction_completed(wsi) ? -1 : 0;
out:
    free(buf);
    return rc;
}

/* With workers, whichever of them the kernel hands the request to answers for all. */
static void
metrics_render(struct gw *g, struct pt_buf *b)
{
    struct gw_rdp_metrics rm, rsum;
    struct gw_metrics sum;
    bool rdp = false;

    memset(&rm, 0, sizeof(rm));
#if defined(GW_HAVE_RDP)
    gw_rdp_metrics_get(&rm);
    rdp = true;
#endif
    if (!g->shared) {
        gw_metrics_render(&g->metrics, b, g->event_lib);
        if (rdp)
            gw_metrics_render_rdp(&rm, b);
        return;
    }
    gw_shared_sum(g->shared, g->worker, &g->metrics, &rm, &sum, &rsum);
    gw_metrics_render(&sum, b, g->event_lib);
    pt_buf_appendf(b,
                   "# HELP portico_gateway_workers Loop processes sharing the listener.\n"
                   "# TYPE portico_gateway_workers gauge\n"
                   "portico_gateway_workers %d\n",
                   g->conf->workers);
    if (rdp)
        gw_metrics_render_rdp(&rsum, b);
}

static void
metrics_publish(struct gw *g)
{
    struct gw_rdp_metrics rm;

    memset(&rm, 0, sizeof(rm));
#if defined(GW_HAVE_RDP)
    gw_rdp_metrics_get(&rm);
#endif
    gw_shared_publish(g->shared, g->worker, &g->metrics, &rm, g->tunnels);
}

int
gw_tunnels_total(struct gw *g)
{
    return g->shared ? gw_shared_tunnels(g->shared, g->worker, g->tunnels) : g->tunnels;
}

static int
http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct gw *g = lws_context_user(lws_get_context(wsi));
    const char *uri = in;

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        /* No server-side session cache: it kept an SSL_SESSION per connection ever made
         * (up to 20,480); resumption stays possible through one stateless ticket.
         * (SSL_MODE_RELEASE_BUFFERS: lws sets it already, so idle tunnels hold no record
         * buffers; what they did hold is explained in gw_alloc.c.) */
        if (user) {
            if (g)
                g->ssl_ctx = user; /* for certificate reloads (gw_reload.c) */
            SSL_CTX_set_session_cache_mode((SSL_CTX *)user, SSL_SESS_CACHE_OFF);
            SSL_CTX_set_num_tickets((SSL_CTX *)user, 1);
            /* Not SSL_CTX_set_read_ahead(): it would halve read() calls per record, but
             * lws 4.1 polls SSL_pending(), which does not count read-ahead bytes, and
             * tunnels stall (measured). */
        }
        return 0;
    case LWS_CALLBACK_HTTP:
        if (strcmp(uri, "/healthz") == 0)
            return http_reply(wsi, HTTP_STATUS_OK, "text/plain", "ok\n", 3);
        if (strcmp(uri, "/metrics") == 0 && g->conf->metrics) {
            struct pt_buf b = PT_BUF_INIT;
            int rc;

            if (!metrics_peer_allowed(g, wsi))
                return http_reply(wsi, HTTP_STATUS_FORBIDDEN, "text/plain",
                                  "metrics are not served to this address\n", 39);
            metrics_render(g, &b);
            rc = http_reply(wsi, HTTP_STATUS_OK, "text/plain; version=0.0.4", b.data, b.len);
            pt_buf_fini(&b);
            return rc;
        }
        return http_reply(wsi, HTTP_STATUS_NOT_FOUND, "text/plain",
                          "not found: this is a Portico gateway (WebSocket tunnels only)\n", 62);
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- the tick ------------------------------------------------------------------------
 *
 * Every GW_TICK_MS the loop wakes for housekeeping: keepalive pings (each second) and
 * handing free memory back (every 10 s). It also works around a timer bug: *
 * lws 4.1.6's libev glue arms one ev_timer for all of lws's internal timers (sul) and
 * calls ev_timer_set() on it while it may still be active, which libev ignores: a timer
 * scheduled earlier than the one already armed (a report retry, a connect timeout) then
 * waits for unrelated traffic. lws runs every overdue timer whenever the loop wakes, so a
 * timerfd adopted into the loop waking it every GW_TICK_MS bounds that lateness. */

#define GW_TICK_MS         200
#define GW_TRIM_TICKS      50 /* 10 s */
#define GW_KEEPALIVE_TICKS 5  /* 1 s */

static int
tick_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    uint64_t n;

    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        struct gw *g = lws_context_user(lws_get_context(wsi));
        if (read(lws_get_socket_fd(wsi), &n, sizeof(n)) < 0)
            return 0;
        if (g->reload_requested) {
            struct pt_err err = {0};
            g->reload_requested = 0;
            if (gw_conf_reload(g, &err) < 0) {
                g->metrics.reloads_failed++;
                pt_log(LOG_ERR, "event=reload_failed the old configuration stays in force: %s",
                       err.msg);
            } else {
                g->metrics.reloads_ok++;
            }
        }
        if (g->shared)
            metrics_publish(g);
        if (++g->tick % GW_KEEPALIVE_TICKS == 0)
            gw_tunnels_keepalive(g, pt_time_mono_ms());
        /* Tunnels come and go in bursts; hand whole free pages back now and then so RSS
         * follows the tunnels that really remain (first the receive buffers kept for
         * new tunnels that none took: gw_alloc.c). */
        if (g->tick % GW_TRIM_TICKS == 0) {
            gw_alloc_trim();
            malloc_trim(0);
        }
    }
    return 0;
}

static void
tick_start(struct gw *g)
{
    struct itimerspec its = {{0, GW_TICK_MS * 1000000L}, {0, GW_TICK_MS * 1000000L}};
    lws_sock_file_fd_type u;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

    if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0) {
        pt_log(LOG_WARNING, "event=tick_failed timers may run late");
        if (fd >= 0)
            close(fd);
        return;
    }
    u.filefd = (lws_filefd_type)fd;
    if (!lws_adopt_descriptor_vhost(g->vhost, LWS_ADOPT_RAW_FILE_DESC, u, "gw-tick", NULL)) {
        pt_log(LOG_WARNING, "event=tick_failed timers may run late");
        close(fd);
    }
}

/* ---- lws plumbing ---------------------------------------------------------------------- */

static void
lws_log_emit(int level, const char *line)
{
    int prio = level == LLL_ERR ? LOG_ERR : level == LLL_WARN ? LOG_WARNING : LOG_DEBUG;

    if (level == LLL_NOTICE || level == LLL_USER)
        prio = LOG_INFO;
    pt_log_lib("lws", prio, line);
}

static struct lws_protocols protocols[] = {
    {"http", http_callback, 0, 0, 0, NULL, 0},
    /* tx_packet_size: lws sends at most this much of one lws_write() and copies the rest
     * into its own buffer for later; a whole desktop read must go in one call. */
    {"binary", gw_tunnel_callback, 0, GW_RX_BUF, 0, NULL, GW_TX_MAX},
    /* guacamole-common-js's WebSocketTunnel asks for "guacamole", and browsers fail a
     * handshake whose answer does not name a subprotocol they asked for. Same tunnel. */
    {"guacamole", gw_tunnel_callback, 0, GW_RX_BUF, 0, NULL, GW_TX_MAX},
    {"gw-relay", gw_relay_callback, 0, GW_RAW_RX, 0, NULL, GW_RAW_RX},
    {GW_WSIO_PROTOCOL, gw_wsio_callback, 0, 0, 0, NULL, 0},
    {"gw-report", gw_report_callback, 0, 4096, 0, NULL, 0},
    {"gw-tick", tick_callback, 0, 0, 0, NULL, 0},
    {"gw-listen", gw_listen_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* noVNC sends no Sec-WebSocket-Protocol: "binary" must also be the vhost default.
 * spice-html5 asks for "binary", guacamole-common-js for "guacamole"; lws answers with the
 * first protocol of the request's list that is in the table above. */
static const struct lws_protocol_vhost_options pvo_default = {NULL, NULL, "default", "1"};
static const struct lws_protocol_vhost_options pvo = {NULL, &pvo_default, "binary", ""};

static const lws_retry_bo_t no_idle_policy = {.secs_since_valid_ping = 0,
                                              .secs_since_valid_hangup = 0};

static void
raise_fd_limit(rlim_t want)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    if (rl.rlim_max < want) { /* root may raise the hard limit too; others keep theirs */
        struct rlimit hard = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
            return;
    }
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        pt_log(LOG_WARNING, "event=fd_limit nofile=%llu wanted=%llu: fewer tunnels will fit",
               (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

static struct lws_context *
context_create(struct gw *g, bool event_lib, struct pt_err *err)
{
    const struct gw_conf *c = g->conf;
    struct lws_context_creation_info info;
    static char host[256];
    int port = 0;

    memset(&info, 0, sizeof(info));
    pt_parse_hostport(c->listen, host, sizeof(host), &port);
    info.port = port;
    info.iface = (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0) ? NULL : host;
    info.protocols = protocols;
    info.pvo = &pvo;
    info.user = g;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.vhost_name = "default";
    if (!strchr(host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (event_lib)
        info.options |= LWS_SERVER_OPTION_LIBEV;
    if (g->shared) /* each worker its own SO_REUSEPORT listener: gw_listen.c */
        info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    if (c->tls) {
        info.ssl_cert_filepath = c->tls_cert;
        info.ssl_private_key_filepath = c->tls_key;
        /* Our order, AES-128-GCM first: browsers on AES-NI hardware ask for it first
         * anyway, and it is the cheapest AEAD per byte here (openssl speed: 4.7 GB/s vs
         * 4.2 for AES-256-GCM, 3.3 for ChaCha20). A client that puts ChaCha20 first (no
         * AES hardware, e.g. older phones) still gets it (PRIORITIZE_CHACHA). */
        /* No TLS 1.2 renegotiation: a client asking for it again and again makes the
         * gateway do full handshakes for nothing. */
        info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
                               SSL_OP_NO_RENEGOTIATION;
        info.tls1_3_plus_cipher_list = GW_TLS13_CIPHERS;
        info.ssl_cipher_list = GW_TLS12_CIPHERS;
        /* HTTP/1.1 only: WebSockets over h2 streams would forbid our direct writes. */
        info.alpn = "http/1.1";
    }
    /* Large reads: the 4 KiB default cut relay throughput to a third (LAB.md 10). */
    info.pt_serv_buf_size = GW_RAW_RX + LWS_PRE;
    info.max_http_header_data = AUTH_TICKET_MAX_LEN + 4096;
    info.max_http_header_pool = 64;
    /* No lws idle policy: lws 4.1 keeps its timers in a sorted list and re-inserts a
     * tunnel's validity timer on every message it receives, O(tunnels) each; at 10,000
     * tunnels that sort dominated the profile. gw_tunnels_keepalive() sweeps once a
     * second instead. Without a policy of our own lws applies its default one (ping after
     * 300 s, hang up after 310 s: seen as benchmark clients that did not read losing
     * their tunnels at 310 s), so we give it one with both at 0. */
    info.retry_and_idle_policy = &no_idle_policy;
    info.connect_timeout_secs = (unsigned)((c->connect_timeout_ms + 999) / 1000);
    info.timeout_secs = 10;
    /* A tunnel holds the browser's socket and the desktop's, and with direct_io a
     * duplicate of the browser's (gw_wsio.c). */
    info.fd_limit_per_thread = (unsigned)((c->direct_io ? 3 : 2) * c->max_tunnels + 1024);
    raise_fd_limit(info.fd_limit_per_thread + 64);
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx)
        pt_err_set(err, PT_E_UNAVAILABLE,
                   "cannot listen on %s%s (port in use, or unreadable certificate?)", c->listen,
                   event_lib ? " with the libev loop" : "");
    return ctx;
}

struct gw *
gw_new(const struct gw_conf *c, struct pt_err *err)
{
    return gw_new_worker(c, NULL, 0, err);
}

struct gw *
gw_new_worker(const struct gw_conf *c, struct gw_shared *sh, int worker, struct pt_err *err)
{
    struct gw *g = pt_xcalloc(1, sizeof(*g));

    g->conf = c;
    g->shared = sh;
    g->worker = worker;
    pthread_mutex_init(&g->post_lock, NULL);
    g->origins = gw_list_split(c->allowed_origins);
    if (gw_cidr_list_parse(c->trusted_proxies, &g->proxies, &g->n_proxies, err) < 0)
        goto error;
    g->metrics_from = gw_list_split(c->metrics_from);
    g->addr_buckets = 4099;
    g->addr_table = pt_xcalloc(g->addr_buckets, sizeof(*g->addr_table));
    g->scratch = pt_xmalloc(LWS_PRE + GW_RAW_RX);
    if (c->direct_io)
        g->wsio_buf = pt_xmalloc(GW_RAW_RX);
    g->metrics.started_ms = pt_time_wall_ms();
    g->next_tunnel_id = 1;
#if defined(GW_HAVE_RDP)
    g->rdp = gw_rdp_backend();
#endif
    if (!c->allowed_origins)
        pt_log(LOG_WARNING, "event=config_warning allowed_origins is unset: WebSockets from any "
                            "web origin are accepted");

    g->verifier = auth_verifier_new(c->ticket_key, c->ticket_key_prev, err);
    if (!g->verifier)
        goto error;
    g->ledger = sh ? gw_shared_ledger(sh) : auth_ledger_new((size_t)c->max_tunnels * 4 + 1024);
    if (c->sealing_key) {
        g->seal_key = auth_seal_key_load_or_create(c->sealing_key, err);
        if (!g->seal_key)
            goto error;
    }

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    gw_alloc_install();
    g->event_lib = c->event_lib;
    g->ctx = context_create(g, g->event_lib, err);
    if (!g->ctx && g->event_lib) {
        pt_log(LOG_WARNING, "event=loop_fallback the libev plugin of libwebsockets is missing "
                            "(install libwebsockets-evlib-ev): using poll(), which costs far "
                            "more CPU with many tunnels");
        g->event_lib = false;
        g->ctx = context_create(g, false, err);
    }
    if (!g->ctx)
        goto error;
    pt_err_clear(err);
    /* Now, not on some later loop event: lws 4.1.6 with an event library initialises the
     * vhost's protocols lazily, and a WebSocket accepted before that (one waiting when the
     * loop first runs, e.g. right after a TCP health-check probe) was upgraded onto
     * protocol 0, "http", because the "default" pvo that makes "binary" serve requests
     * naming no subprotocol was not applied yet: 101, then silence (tests/unit/gateway/
     * test_gw_loop.c). poll() ran the init before its first accept. */
    if (lws_protocol_init(g->ctx)) {
        pt_err_set(err, PT_E_UNAVAILABLE, "cannot initialise the WebSocket protocols");
        goto error;
    }
    g->vhost = lws_get_vhost_by_name(g->ctx, "default");
    if (sh && gw_listen_start(g, err) < 0)
        goto error;
    tick_start(g);
    g->reporter = gw_reporter_new(g->ctx, c, &g->metrics, err);
    if (!g->reporter)
        goto error;
    pt_log(LOG_NOTICE, "event=listening listen=%s tls=%s id=%s loop=%s worker=%d/%d", c->listen,
           c->tls ? "yes" : "no", c->id, g->event_lib ? "libev" : "poll", worker + 1,
           sh ? c->workers : 1);
    return g;
error:
    gw_free(g);
    return NULL;
}

int
gw_secret_unseal(struct gw *g, const struct auth_ticket_claims *c, char **out, struct pt_err *err)
{
    char *buf;

    *out = NULL;
    if (c->sealed_len == 0)
        return 0;
    if (!g->seal_key)
        return pt_err_set(err, PT_E_INVALID,
                          "ticket carries a sealed secret but [gateway] sealing_key is not set");
    buf = pt_xmalloc(AUTH_SECRET_MAX + 1);
    if (auth_ticket_unseal_secret(g->seal_key, c, buf, AUTH_SECRET_MAX + 1, err) < 0) {
        pt_wipe(buf, AUTH_SECRET_MAX + 1);
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

int
gw_run(struct gw *g)
{
    while (!g->stop) {
        if (lws_service(g->ctx, 0) < 0)
            break;
        /* libev runs until ev_break (SIGINT, see gw_stop): a return means stop. */
        if (g->event_lib)
            break;
    }
    pt_log(LOG_NOTICE, "event=stopping tunnels=%d", g->tunnels);
    return 0;
}

void
gw_stop(struct gw *g)
{
    g->stop = 1;
    if (g->event_lib)
        kill(getpid(), SIGINT); /* lws's libev signal watcher breaks the loop */
    else if (g->ctx)
        lws_cancel_service(g->ctx);
}

void
gw_free(struct gw *g)
{
    if (!g)
        return;
    gw_reporter_stop(g->reporter); /* tunnels closing below report to a dead loop */
    if (g->ctx)
        lws_context_destroy(g->ctx);
    gw_reporter_free(g->reporter);
    if (!g->shared)
        auth_ledger_free(g->ledger);
    auth_seal_key_free(g->seal_key);
    auth_verifier_free(g->verifier);
    for (size_t i = 0; g->addr_table && i < g->addr_buckets; i++) {
        struct gw_addr *a = g->addr_table[i], *n;
        for (; a; a = n) {
            n = a->next;
            free(a);
        }
    }
    free(g->addr_table);
    gw_list_free(g->origins);
    gw_cidr_list_free(g->proxies);
    if (g->conf_owned) {
        gw_conf_free(g->conf_owned);
        free(g->conf_owned);
    }
    gw_list_free(g->metrics_from);
    free(g->scratch);
    free(g->wsio_buf);
    pthread_mutex_destroy(&g->post_lock);
    free(g);
}
