/*
 * gwtest.c - see gwtest.h.
 */
#include "gwtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <openssl/ssl.h>

#include "common/str.h"
#include "wsclient.h"

int
gwt_wait_log(const struct gwt *g, const char *needle, int timeout_ms)
{
    return gwt_wait_log_count(g, needle, 1, timeout_ms) >= 1 ? 0 : -1;
}

static const struct gwt *gwt_current; /* the last gateway started in this process */

void
gwt_dump_current(void)
{
    if (gwt_current) {
        tf_proc_print_log(&gwt_current->proc, 30);
        gwt_dump_state(gwt_current);
    }
}

void
gwt_start(struct gwt *g, bool tls, const char *extra)
{
    struct pt_err err = {0};
    char path[700], *argv[5];
    struct auth_seal_key *sk;
    const char *bin = getenv("PORTICO_BUILD_DIR");
    char exe[600];
    static int seq;

    memset(g, 0, sizeof(*g));
    snprintf(g->dir, sizeof(g->dir), "%s/gw%d-%d", tf_tmpdir(), (int)getpid(), ++seq);
    ck_assert_int_eq(mkdir(g->dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/ticket.key", g->dir);
    g->signer = auth_signer_load_or_create(path, &err);
    ck_assert_msg(g->signer, "%s", err.msg);
    snprintf(path, sizeof(path), "%s/seal.key", g->dir);
    sk = auth_seal_key_load_or_create(path, &err);
    ck_assert_msg(sk, "%s", err.msg);
    auth_seal_key_free(sk);
    snprintf(path, sizeof(path), "%s/seal.key.pub", g->dir);
    g->sealer = auth_sealer_new(path, &err);
    ck_assert_msg(g->sealer, "%s", err.msg);
    snprintf(g->id, sizeof(g->id), "gw-test-%d", (int)getpid());
    g->port = tf_free_port();
    g->tls = tls;
    snprintf(g->conf_path, sizeof(g->conf_path), "%s/gateway.conf", g->dir);
    gwt_write_conf(g, NULL, extra);
    snprintf(exe, sizeof(exe), "%s/gateway/portico-gateway", bin ? bin : ".");
    argv[0] = exe;
    argv[1] = (char *)"-c";
    argv[2] = g->conf_path;
    argv[3] = NULL;
    ck_assert_msg(tf_proc_spawn(&g->proc, "gateway", argv, NULL, &err) == 0, "%s", err.msg);
    gwt_current = g;
    /* Ready once it logs event=listening (the socket listens by then). Then a
     * connect-and-close probe, as a load balancer's health check does: with lws 4.1.6's
     * libev loop it used to make the next WebSocket get its 101 and nothing more (protocols
     * initialised too late; docs/gateway.md), so every test here re-checks that path. */
    if (gwt_wait_log(g, "event=listening", 10000) < 0 || tf_wait_port(g->port, 5000) < 0) {
        tf_proc_print_log(&g->proc, 40);
        ck_abort_msg("gateway did not listen on %d", g->port);
    }
}

void
gwt_write_conf(const struct gwt *g, const char *ticket_key, const char *extra)
{
    char tmp[700];
    FILE *f;

    /* Written aside and renamed: a gateway re-reading it (SIGHUP) never sees half a file. */
    snprintf(tmp, sizeof(tmp), "%s.new", g->conf_path);
    f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[gateway]\nlisten = 127.0.0.1:%d\ntls = %s\nstate_dir = %s\nid = %s\n"
            "ticket_key = %s%s\nsealing_key = %s/seal.key\nlog_level = info\n%s\n",
            g->port, g->tls ? "yes" : "no", g->dir, g->id, ticket_key ? ticket_key : g->dir,
            ticket_key ? "" : "/ticket.key.pub", g->dir, extra ? extra : "");
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, g->conf_path), 0);
}

int
gwt_wait_log_count(const struct gwt *g, const char *needle, int n, int timeout_ms)
{
    char line[4096];
    int hits = 0;

    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        FILE *f = fopen(g->proc.log_path, "r");
        hits = 0;
        if (f) {
            while (fgets(line, sizeof(line), f))
                hits += strstr(line, needle) != NULL;
            fclose(f);
        }
        if (hits >= n)
            return hits;
        usleep(10000);
    }
    return hits;
}

void
gwt_dump_state(const struct gwt *g)
{
    char cmd[1024];

    /* Where is the gateway and what does it hold: process state, kernel wait channel,
     * its sockets, and every thread's stack. */
    snprintf(cmd, sizeof(cmd),
             "p=%d; grep -E '^(State|Threads)' /proc/$p/status; echo wchan: $(cat "
             "/proc/$p/wchan); ss -tanp 2>/dev/null | grep -E 'pid=$p,|:%d ' | head -20; "
             "timeout 20 gdb -q -p $p -batch -ex 'thread apply all bt 12' 2>/dev/null | "
             "grep -E '^(#|Thread)' | head -60",
             (int)g->proc.pid, g->port);
    fprintf(stderr, "---- gateway %d state ----\n", (int)g->proc.pid);
    if (system(cmd) != 0)
        fprintf(stderr, "(state dump incomplete)\n");
    fprintf(stderr, "---- end of gateway state ----\n");
}

void
gwt_stop(struct gwt *g)
{
    char line[4096];
    FILE *f;

    tf_proc_stop(&g->proc, 5000);
    if (gwt_current == g)
        gwt_current = NULL;
    /* A sanitizer report in the gateway (a child process) fails the test too. */
    f = fopen(g->proc.log_path, "r");
    if (f) {
        bool bad = false;
        while (fgets(line, sizeof(line), f))
            bad |= strstr(line, "Sanitizer") != NULL || strstr(line, "runtime error:") != NULL;
        fclose(f);
        if (bad)
            tf_proc_print_log(&g->proc, 60);
        ck_assert_msg(!bad, "sanitizer report in the gateway log %s", g->proc.log_path);
    }
    auth_signer_free(g->signer);
    auth_sealer_free(g->sealer);
    g->signer = NULL;
    g->sealer = NULL;
}

char *
gwt_ticket(struct gwt *g, enum auth_proto proto, const char *host, int port, int max_conns,
           const char *audience, int64_t issued_delta_ms, int64_t ttl_ms, const char *secret)
{
    struct auth_ticket_claims c;
    struct pt_err err = {0};
    char *t;

    ck_assert_int_eq(auth_ticket_claims_init(&c, pt_time_wall_ms() + issued_delta_ms, ttl_ms, &err),
                     0);
    snprintf(c.session_id, sizeof(c.session_id), "sess-%d", (int)getpid());
    pt_strlcpy(c.user, "alice", sizeof(c.user));
    pt_strlcpy(c.desktop, "desk-01", sizeof(c.desktop));
    c.proto = proto;
    pt_strlcpy(c.host, host, sizeof(c.host));
    c.port = port;
    pt_strlcpy(c.audience, audience ? audience : g->id, sizeof(c.audience));
    c.max_conns = max_conns;
    if (secret)
        ck_assert_msg(auth_ticket_seal_secret(g->sealer, &c, secret, &err) == 0, "%s", err.msg);
    t = auth_signer_sign(g->signer, &c, &err);
    ck_assert_msg(t, "%s", err.msg);
    return t;
}

const char *
gwt_path(const char *ticket, char *out, size_t n)
{
    snprintf(out, n, "/tunnel?ticket=%s", ticket);
    return out;
}

long
gwt_rss_kib(const struct gwt *g)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)g->proc.pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

char *
gwt_metrics(const struct gwt *g)
{
    int status = 0;
    char *b = http_get(g->port, "/metrics", g->tls, &status);

    ck_assert_msg(b && status == 200, "GET /metrics: status %d", status);
    return b;
}

/* ---- deterministic stream --------------------------------------------------------------- */

void
prng_init(struct prng *p, uint64_t seed)
{
    p->s = seed ? seed : 1;
    p->left = 0;
}

void
prng_fill(struct prng *p, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p->left == 0) {
            p->s ^= p->s << 13;
            p->s ^= p->s >> 7;
            p->s ^= p->s << 17;
            p->cur = p->s;
            p->left = 8;
        }
        out[i] = (unsigned char)p->cur;
        p->cur >>= 8;
        p->left--;
    }
}

/* ---- TCP backends --------------------------------------------------------------------- */

static int
listen_any(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0)
        return -1;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

struct conn_arg {
    int fd;
    bool source;
    struct tcp_backend *b;
};

static void *
conn_thread(void *arg)
{
    struct conn_arg *a = arg;
    unsigned char *buf = malloc(65536);
    struct prng p;

    prng_init(&p, 42);
    while (!a->b->stop) {
        if (a->source) {
            prng_fill(&p, buf, 65536);
            size_t off = 0;
            while (off < 65536) {
                ssize_t w = send(a->fd, buf + off, 65536 - off, MSG_NOSIGNAL);
                if (w <= 0)
                    goto out;
                off += (size_t)w;
            }
        } else {
            ssize_t r = recv(a->fd, buf, 65536, 0);
            if (r <= 0)
                break;
            for (ssize_t off = 0; off < r;) {
                ssize_t w = send(a->fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
                if (w <= 0)
                    goto out;
                off += w;
            }
        }
    }
out:
    close(a->fd);
    free(buf);
    free(a);
    return NULL;
}

static void *
accept_thread(void *arg)
{
    struct tcp_backend *b = arg;

    while (!b->stop) {
        struct pollfd pfd = {.fd = b->lfd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int fd = accept4(b->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn_arg *a = calloc(1, sizeof(*a));
        pthread_t th;
        a->fd = fd;
        a->source = b->source;
        a->b = b;
        pthread_create(&th, NULL, conn_thread, a);
        pthread_detach(th);
    }
    return NULL;
}

void
tcp_backend_start(struct tcp_backend *b, bool source)
{
    memset(b, 0, sizeof(*b));
    b->source = source;
    b->port = 0;
    b->lfd = listen_any(&b->port);
    ck_assert_int_ge(b->lfd, 0);
    pthread_create(&b->th, NULL, accept_thread, b);
}

void
tcp_backend_stop(struct tcp_backend *b)
{
    b->stop = true;
    pthread_join(b->th, NULL);
    close(b->lfd);
}

/* ---- fake broker ---------------------------------------------------------------------- */

static void *
broker_thread(void *arg)
{
    struct fake_broker *b = arg;
    char req[8192];

    while (!b->stop) {
        struct pollfd pfd = {.fd = b->lfd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int fd = accept4(b->lfd, NULL, NULL, SOCK_CLOEXEC);
        size_t len = 0;
        SSL *ssl = NULL;
        if (fd < 0)
            continue;
        if (b->tls) {
            /* Blocking handshake, bounded by receive/send timeouts. */
            struct timeval tv = {2, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            ssl = SSL_new(b->tls);
            SSL_set_fd(ssl, fd);
            if (SSL_accept(ssl) != 1) {
                pthread_mutex_lock(&b->lock);
                b->handshakes_failed++;
                pthread_mutex_unlock(&b->lock);
                SSL_free(ssl);
                close(fd);
                continue;
            }
        }
        /* Read headers, then Content-Length bytes of body. */
        for (;;) {
            struct pollfd cp = {.fd = fd, .events = POLLIN};
            if ((!ssl || SSL_pending(ssl) == 0) && poll(&cp, 1, 2000) <= 0)
                break;
            ssize_t r = ssl ? SSL_read(ssl, req + len, (int)(sizeof(req) - 1 - len))
                            : recv(fd, req + len, sizeof(req) - 1 - len, 0);
            if (r <= 0)
                break;
            len += (size_t)r;
            req[len] = '\0';
            char *body = strstr(req, "\r\n\r\n");
            const char *cl = strcasestr(req, "content-length:");
            if (body && cl && (size_t)(body + 4 - req) + (size_t)atol(cl + 15) <= len)
                break;
        }
        char *body = strstr(req, "\r\n\r\n");
        const char *auth = strcasestr(req, "authorization:");
        pthread_mutex_lock(&b->lock);
        if (body && b->n < 64) {
            pt_strlcpy(b->bodies[b->n], body + 4, sizeof(b->bodies[0]));
            b->auth[b->n][0] = '\0';
            if (auth) {
                const char *e = strstr(auth, "\r\n");
                size_t n = (size_t)(e - auth) < sizeof(b->auth[0]) ? (size_t)(e - auth)
                                                                   : sizeof(b->auth[0]) - 1;
                memcpy(b->auth[b->n], auth, n);
                b->auth[b->n][n] = '\0';
            }
            b->n++;
        }
        pthread_mutex_unlock(&b->lock);
        const char *resp = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        if (ssl) {
            if (SSL_write(ssl, resp, (int)strlen(resp)) > 0)
                SSL_shutdown(ssl);
            SSL_free(ssl);
        } else if (send(fd, resp, strlen(resp), MSG_NOSIGNAL) < 0) {
            (void)0;
        }
        close(fd);
    }
    return NULL;
}

static void
broker_start(struct fake_broker *b, int port, SSL_CTX *tls)
{
    memset(b, 0, sizeof(*b));
    b->port = port;
    b->tls = tls;
    pthread_mutex_init(&b->lock, NULL);
    b->lfd = listen_any(&b->port);
    ck_assert_int_ge(b->lfd, 0);
    pthread_create(&b->th, NULL, broker_thread, b);
}

void
fake_broker_start(struct fake_broker *b, int port)
{
    broker_start(b, port, NULL);
}

void
fake_broker_start_tls(struct fake_broker *b, const char *dir)
{
    char cmd[2048], crt[600], key[600];
    SSL_CTX *ctx;

    snprintf(crt, sizeof(crt), "%s/fake-broker.crt", dir);
    snprintf(key, sizeof(key), "%s/fake-broker.key", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
             "-keyout %s -out %s 2>/dev/null",
             key, crt);
    ck_assert_msg(system(cmd) == 0, "openssl req failed");
    ctx = SSL_CTX_new(TLS_server_method());
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(ctx, crt), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
    broker_start(b, 0, ctx);
}

void
fake_broker_stop(struct fake_broker *b)
{
    b->stop = true;
    pthread_join(b->th, NULL);
    if (b->tls)
        SSL_CTX_free(b->tls);
    b->tls = NULL;
    close(b->lfd);
    pthread_mutex_destroy(&b->lock);
}

int
fake_broker_wait(struct fake_broker *b, int n, int timeout_ms)
{
    int have = 0;

    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        pthread_mutex_lock(&b->lock);
        have = b->n;
        pthread_mutex_unlock(&b->lock);
        if (have >= n)
            break;
        usleep(20000);
    }
    return have;
}
