/*
 * test_reload.c - a real portico-gateway re-reading its config on SIGHUP, and counting
 * connections per client behind a trusted proxy (X-Forwarded-For).
 *
 * Reload: the certificate is rotated (a new connection sees the new one, a tunnel opened
 * before keeps relaying), ticket keys rotate (current + previous, then previous dropped),
 * origins and limits change, and a config that does not load (or a key that does not
 * match its certificate) leaves the old one in force with the reason in the log.
 * X-Forwarded-For: believed only from a trusted peer, and then counted per client.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "gwtest.h"
#include "wsclient.h"

Suite *gateway_reload_suite(void);

#define ORIGIN "https://portal.example.test"

static struct gwt g;
static struct tcp_backend echo;

static void
setup(void)
{
    tcp_backend_start(&echo, false);
}

static void
teardown(void)
{
    gwt_stop(&g);
    tcp_backend_stop(&echo);
}

/* A tunnel to the echo backend; NULL with the refusal in @err. */
static struct wsc *
tunnel(const char *origin, const char *headers, char *err, size_t errn)
{
    char path[5000],
        *t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    struct wsc *c = wsc_connect_ex(g.port, gwt_path(t, path, sizeof(path)), origin, "binary",
                                   headers, g.tls, err, errn);
    free(t);
    return c;
}

/* @c relays a message both ways, byte-exact. */
static void
echo_ok(struct wsc *c, unsigned char seed)
{
    unsigned char msg[5000], all[5000], *got = NULL;
    size_t len = 0, cap = 0, have = 0;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)(i * 13 + seed);
    ck_assert_int_eq(wsc_send(c, WSC_BINARY, msg, sizeof(msg)), 0);
    while (have < sizeof(msg)) {
        ck_assert_int_eq(wsc_recv(c, &got, &len, &cap, 5000), WSC_BINARY);
        ck_assert_uint_le(have + len, sizeof(all));
        memcpy(all + have, got, len);
        have += len;
    }
    ck_assert_mem_eq(all, msg, sizeof(msg));
    free(got);
}

/* The close code of a tunnel that the gateway refuses after the upgrade. */
static int
refused_code(const char *origin, const char *headers)
{
    char err[256];
    struct wsc *c = tunnel(origin, headers, err, sizeof(err));
    int code;

    ck_assert_msg(c, "%s", err);
    code = wsc_expect_close(c, 5000);
    wsc_free(c);
    return code;
}

/* The same, for a refusal that comes after the per-address count: a connection refused
 * just before may still hold its count for a moment after its close frame. */
static int
refused_code_settled(const char *origin, const char *headers)
{
    int code = -1;

    for (int i = 0; i < 60; i++) {
        code = refused_code(origin, headers);
        if (code != 4007)
            break;
        usleep(50000);
    }
    return code;
}

static void
hangup_and_wait(const char *event, int nth)
{
    ck_assert_int_eq(kill(g.proc.pid, SIGHUP), 0);
    ck_assert_msg(gwt_wait_log_count(&g, event, nth, 10000) >= nth, "no %s #%d in the log", event,
                  nth);
}

/* ---- certificates ------------------------------------------------------------------- */

static void
make_pair(const char *name, const char *cn)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=%s -keyout %s/%s.key -out %s/%s.crt 2>/dev/null",
             cn, g.dir, name, g.dir, name);
    ck_assert_msg(system(cmd) == 0, "openssl req failed");
}

/* SHA-256 of the certificate in file @name.crt. */
static void
file_fingerprint(const char *name, unsigned char md[32])
{
    char path[700];
    unsigned int n = 32;
    FILE *f;
    X509 *x;

    snprintf(path, sizeof(path), "%s/%s.crt", g.dir, name);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_digest(x, EVP_sha256(), md, &n), 1);
    X509_free(x);
}

/* SHA-256 of the certificate the gateway presents to a new connection. */
static void
served_fingerprint(unsigned char md[32])
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    unsigned int n = 32;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    X509 *x;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    SSL_set_fd(ssl, fd);
    ck_assert_int_eq(SSL_connect(ssl), 1);
    x = SSL_get1_peer_certificate(ssl);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_digest(x, EVP_sha256(), md, &n), 1);
    X509_free(x);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
}

static void
served_is(const char *name)
{
    unsigned char want[32], got[32];

    file_fingerprint(name, want);
    served_fingerprint(got);
    ck_assert_msg(memcmp(want, got, 32) == 0, "the gateway does not serve %s.crt", name);
}

static void
cert_conf(const char *name, const char *more)
{
    char extra[2000];

    snprintf(extra, sizeof(extra), "tls_cert = %s/%s.crt\ntls_key = %s/%s.key\n%s", g.dir, name,
             g.dir, name, more ? more : "");
    gwt_write_conf(&g, NULL, extra);
}

START_TEST(test_sighup_rotates_the_certificate_and_keeps_tunnels_up)
{
    char err[256];
    struct wsc *before, *after;

    gwt_start(&g, true, NULL); /* self-signed first: state_dir's generated pair */
    make_pair("one", "one.example.test");
    make_pair("two", "two.example.test");
    cert_conf("one", NULL);
    hangup_and_wait("event=reloaded", 1);
    served_is("one");
    before = tunnel(NULL, NULL, err, sizeof(err));
    ck_assert_msg(before, "%s", err);
    echo_ok(before, 1);

    cert_conf("two", NULL);
    hangup_and_wait("event=reloaded", 2);
    served_is("two");
    echo_ok(before, 2); /* the tunnel from before the rotation still relays */
    after = tunnel(NULL, NULL, err, sizeof(err));
    ck_assert_msg(after, "%s", err);
    echo_ok(after, 3);
    echo_ok(before, 4);
    wsc_free(after);
    wsc_free(before);
}
END_TEST

START_TEST(test_a_config_that_fails_to_load_keeps_the_old_one)
{
    char err[256];
    struct wsc *c;

    gwt_start(&g, true, NULL);
    make_pair("one", "one.example.test");
    make_pair("two", "two.example.test");
    cert_conf("one", "max_conns_per_addr = 8\n");
    hangup_and_wait("event=reloaded", 1);
    c = tunnel(NULL, NULL, err, sizeof(err));
    ck_assert_msg(c, "%s", err);

    /* A typo: nothing changes, the log says where. */
    cert_conf("two", "max_conns_per_addr = 1\nmax_conn_per_addr = 1\n");
    hangup_and_wait("event=reload_failed", 1);
    ck_assert_int_ge(gwt_wait_log_count(&g, "unknown key", 1, 1000), 1);
    served_is("one");
    echo_ok(c, 5);
    {
        struct wsc *c2 = tunnel(NULL, NULL, err, sizeof(err)); /* the limit is still 8 */
        ck_assert_msg(c2, "%s", err);
        echo_ok(c2, 6);
        wsc_free(c2);
    }

    /* A key that belongs to another certificate. */
    {
        char extra[2000];
        snprintf(extra, sizeof(extra), "tls_cert = %s/two.crt\ntls_key = %s/one.key\n", g.dir,
                 g.dir);
        gwt_write_conf(&g, NULL, extra);
    }
    hangup_and_wait("event=reload_failed", 2);
    ck_assert_int_ge(gwt_wait_log_count(&g, "does not belong to tls_cert", 1, 1000), 1);
    served_is("one");

    /* A missing ticket key. */
    gwt_write_conf(&g, "/nonexistent/ticket.key.pub", NULL);
    hangup_and_wait("event=reload_failed", 3);
    served_is("one");
    echo_ok(c, 7);
    {
        char *m = gwt_metrics(&g);
        ck_assert_ptr_nonnull(m);
        ck_assert_double_eq(http_metric(m, "portico_gateway_reloads_total{result=\"ok\"}"), 1);
        ck_assert_double_eq(http_metric(m, "portico_gateway_reloads_total{result=\"failed\"}"), 3);
        free(m);
    }
    wsc_free(c);
}
END_TEST

START_TEST(test_sighup_rotates_ticket_keys_origins_and_limits)
{
    char path[700], extra[1000], err[256];
    struct pt_err e = {0};
    struct auth_signer *old_signer, *new_signer;
    struct wsc *c;

    gwt_start(&g, false, "allowed_origins = " ORIGIN "\n");
    old_signer = g.signer;
    snprintf(path, sizeof(path), "%s/ticket2.key", g.dir);
    new_signer = auth_signer_load_or_create(path, &e);
    ck_assert_msg(new_signer, "%s", e.msg);
    c = tunnel(ORIGIN, NULL, err, sizeof(err));
    ck_assert_msg(c, "%s", err);
    echo_ok(c, 1);
    g.signer = new_signer; /* the broker rotated: its new key is not known yet */
    ck_assert_int_eq(refused_code(ORIGIN, NULL), 4002);

    /* New key current, old one previous: both kinds of ticket work. */
    snprintf(extra, sizeof(extra),
             "ticket_key_previous = %s/ticket.key.pub\nallowed_origins = %s\n", g.dir, ORIGIN);
    snprintf(path, sizeof(path), "%s/ticket2.key.pub", g.dir);
    gwt_write_conf(&g, path, extra);
    hangup_and_wait("event=reloaded", 1);
    {
        struct wsc *a = tunnel(ORIGIN, NULL, err, sizeof(err)), *b;
        ck_assert_msg(a, "%s", err);
        echo_ok(a, 2);
        g.signer = old_signer;
        b = tunnel(ORIGIN, NULL, err, sizeof(err));
        ck_assert_msg(b, "%s", err);
        echo_ok(b, 3);
        wsc_free(a);
        wsc_free(b);
    }

    /* Previous key dropped, another origin, a lower per-address limit; and a key that
     * needs a restart, which keeps its value and says so. */
    gwt_write_conf(&g, path,
                   "allowed_origins = https://new.example.test\nmax_conns_per_addr = 2\n"
                   "max_tunnels = 1\n");
    hangup_and_wait("event=reloaded", 2);
    ck_assert_int_ge(gwt_wait_log_count(&g, "event=reload_ignored key=max_tunnels", 1, 1000), 1);
    g.signer = new_signer;
    {
        struct wsc *a = tunnel("https://new.example.test", NULL, err, sizeof(err));
        ck_assert_msg(a, "%s", err);
        echo_ok(a, 4);
        /* c and a make two from 127.0.0.1: the new limit refuses a third. */
        ck_assert_int_eq(refused_code("https://new.example.test", NULL), 4007);
        wsc_free(a);
    }
    ck_assert_int_eq(refused_code(ORIGIN, NULL), 4006); /* origin no longer allowed */
    g.signer = old_signer;
    ck_assert_int_eq(refused_code_settled("https://new.example.test", NULL),
                     4002); /* old key gone */
    echo_ok(c, 5);          /* admitted under the old keys and origin, still up */
    wsc_free(c);
    auth_signer_free(new_signer);
}
END_TEST

/* ---- X-Forwarded-For ------------------------------------------------------------------ */

START_TEST(test_xff_from_a_trusted_proxy_is_counted_per_client)
{
    char err[256];
    struct wsc *a, *b;

    gwt_start(&g, false, "trusted_proxies = 127.0.0.0/8\nmax_conns_per_addr = 1\n");
    a = tunnel(NULL, "X-Forwarded-For: 198.51.100.1\r\n", err, sizeof(err));
    ck_assert_msg(a, "%s", err);
    echo_ok(a, 1);
    /* Another client behind the same proxy: its own count. */
    b = tunnel(NULL, "X-Forwarded-For: 6.6.6.6, 198.51.100.2\r\n", err, sizeof(err));
    ck_assert_msg(b, "%s", err);
    echo_ok(b, 2);
    /* The first client again, spoofing a left entry and sending the header twice. */
    ck_assert_int_eq(refused_code(NULL, "X-Forwarded-For: 203.0.113.9\r\n"
                                        "X-Forwarded-For: 198.51.100.1\r\n"),
                     4007);
    ck_assert_int_ge(gwt_wait_log_count(&g, "addr=198.51.100.1 via=127.0.0.1", 2, 2000), 2);
    /* Garbage: the proxy's own address counts (and it is not the clients'). */
    {
        struct wsc *x = tunnel(NULL, "X-Forwarded-For: ;DROP TABLE\r\n", err, sizeof(err));
        ck_assert_msg(x, "%s", err);
        echo_ok(x, 3);
        ck_assert_int_eq(refused_code(NULL, NULL), 4007); /* 127.0.0.1 now has its one */
        wsc_free(x);
    }
    echo_ok(a, 4);
    wsc_free(a);
    wsc_free(b);
}
END_TEST

START_TEST(test_xff_from_an_untrusted_peer_is_ignored)
{
    char err[256];
    struct wsc *a;

    gwt_start(&g, false, "trusted_proxies = 10.0.0.0/8\nmax_conns_per_addr = 1\n");
    a = tunnel(NULL, "X-Forwarded-For: 198.51.100.1\r\n", err, sizeof(err));
    ck_assert_msg(a, "%s", err);
    echo_ok(a, 1);
    /* Another "client" by the header, but the same peer that is no proxy of ours. */
    ck_assert_int_eq(refused_code(NULL, "X-Forwarded-For: 198.51.100.2\r\n"), 4007);
    ck_assert_int_eq(gwt_wait_log_count(&g, "via=", 1, 300), 0);
    echo_ok(a, 2);
    /* SIGHUP: now 127.0.0.1 is a trusted proxy, and the header counts. */
    gwt_write_conf(&g, NULL, "trusted_proxies = 127.0.0.0/8\nmax_conns_per_addr = 1\n");
    hangup_and_wait("event=reloaded", 1);
    {
        struct wsc *b = tunnel(NULL, "X-Forwarded-For: 198.51.100.2\r\n", err, sizeof(err));
        ck_assert_msg(b, "%s", err);
        echo_ok(b, 3);
        ck_assert_int_ge(gwt_wait_log_count(&g, "addr=198.51.100.2 via=127.0.0.1", 1, 2000), 1);
        wsc_free(b);
    }
    echo_ok(a, 4);
    wsc_free(a);
}
END_TEST

/* "X-Forwarded-For: 198.51.100.1" then @n hops of our own proxy. */
static char *
long_xff(size_t n)
{
    size_t len = 0;
    char *h = malloc(n * 12 + 64);

    len += (size_t)sprintf(h, "X-Forwarded-For: 198.51.100.1");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(h + len, ",127.0.0.1");
    sprintf(h + len, "\r\n");
    return h;
}

START_TEST(test_a_huge_xff_header_is_refused_or_bounded_and_others_unharmed)
{
    char err[256], *h;
    struct wsc *a;

    gwt_start(&g, false, "trusted_proxies = 127.0.0.0/8\nmax_conns_per_addr = 2\n");
    a = tunnel(NULL, "X-Forwarded-For: 198.51.100.1\r\n", err, sizeof(err));
    ck_assert_msg(a, "%s", err);
    /* 300 hops of our proxies: walked to the client at the far left. */
    h = long_xff(300);
    {
        struct wsc *x = tunnel(NULL, h, err, sizeof(err));
        ck_assert_msg(x, "%s", err);
        echo_ok(x, 9);
        ck_assert_int_ge(gwt_wait_log_count(&g, "addr=198.51.100.1 via=127.0.0.1", 2, 2000), 2);
        wsc_free(x);
    }
    free(h);
    /* Beyond lws's header space the upgrade fails; the gateway stays up either way. */
    h = long_xff(6000);
    {
        struct wsc *x = tunnel(NULL, h, err, sizeof(err));
        if (x) {
            wsc_expect_close(x, 2000);
            wsc_free(x);
        }
    }
    echo_ok(a, 1);
    {
        struct wsc *b = tunnel(NULL, "X-Forwarded-For: 198.51.100.7\r\n", err, sizeof(err));
        ck_assert_msg(b, "%s", err);
        echo_ok(b, 2);
        wsc_free(b);
    }
    wsc_free(a);
    free(h);
}
END_TEST

Suite *
gateway_reload_suite(void)
{
    Suite *s = suite_create("gateway_reload");
    TCase *tc = tcase_create("reload");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sighup_rotates_the_certificate_and_keeps_tunnels_up);
    tcase_add_test(tc, test_a_config_that_fails_to_load_keeps_the_old_one);
    tcase_add_test(tc, test_sighup_rotates_ticket_keys_origins_and_limits);
    tcase_add_test(tc, test_xff_from_a_trusted_proxy_is_counted_per_client);
    tcase_add_test(tc, test_xff_from_an_untrusted_peer_is_ignored);
    tcase_add_test(tc, test_a_huge_xff_header_is_refused_or_bounded_and_others_unharmed);
    suite_add_tcase(s, tc);
    return s;
}
