/*
 * test_relay.c - the byte relay through a real portico-gateway process: large random
 * payloads both ways byte-exact (ws and wss), memory bounded under a slow reader, one
 * ticket opening several WebSockets (SPICE channels), /metrics and /healthz, and the
 * tunnel reports a (fake) broker receives.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "common/str.h"
#include "gwtest.h"
#include "wsclient.h"

Suite *gateway_relay_suite(void);

struct sender {
    struct wsc *c;
    size_t total;
    int rc;
};

static void *
send_stream(void *arg)
{
    struct sender *s = arg;
    struct prng p;
    unsigned char *buf = malloc(65536);
    size_t sent = 0, n = 1;

    prng_init(&p, 7);
    while (sent < s->total) {
        n = (n * 7919 + 13) % 65536 + 1; /* varied message sizes, 1..64 KiB */
        if (n > s->total - sent)
            n = s->total - sent;
        prng_fill(&p, buf, n);
        if (wsc_send(s->c, WSC_BINARY, buf, n) < 0) {
            s->rc = -1;
            break;
        }
        sent += n;
    }
    free(buf);
    return NULL;
}

/* Echo @total bytes through a tunnel and check every byte that comes back. */
static void
echo_exact(struct wsc *c, size_t total, bool threaded)
{
    struct sender s = {.c = c, .total = total};
    pthread_t th;
    struct prng p;
    unsigned char *got = NULL, *want = malloc(1 << 20);
    size_t len = 0, cap = 0, recvd = 0;

    prng_init(&p, 7);
    if (threaded) {
        pthread_create(&th, NULL, send_stream, &s);
    } else {
        send_stream(&s);
        ck_assert_int_eq(s.rc, 0);
    }
    while (recvd < total) {
        int op = wsc_recv(c, &got, &len, &cap, 10000);
        if (op != WSC_BINARY)
            gwt_dump_current();
        ck_assert_msg(op == WSC_BINARY, "op %d after %zu of %zu bytes (close %d %s)", op, recvd,
                      total, wsc_close_code(c), wsc_close_reason(c));
        ck_assert_uint_le(len, 1 << 20);
        prng_fill(&p, want, len);
        ck_assert_msg(memcmp(got, want, len) == 0, "mismatch in bytes %zu..%zu", recvd,
                      recvd + len);
        recvd += len;
    }
    if (threaded) {
        pthread_join(th, NULL);
        ck_assert_int_eq(s.rc, 0);
    }
    ck_assert_uint_eq(recvd, total);
    free(got);
    free(want);
}

static void
run_echo(bool tls, size_t total, bool threaded)
{
    struct gwt g;
    struct tcp_backend echo;
    char err[256], path[5000];
    char *t;
    struct wsc *c;

    tcp_backend_start(&echo, false);
    gwt_start(&g, tls, NULL);
    t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, "binary", tls, err, sizeof(err));
    ck_assert_msg(c, "%s", err);
    echo_exact(c, total, threaded);
    wsc_free(c);
    free(t);
    gwt_stop(&g);
    tcp_backend_stop(&echo);
}

START_TEST(test_echo_relays_16_mib_of_random_bytes_exactly_both_ways)
{
    run_echo(false, 16u << 20, true);
}
END_TEST

START_TEST(test_echo_over_wss_relays_random_bytes_exactly)
{
    /* One thread: an SSL object may not be read and written concurrently. 192 KiB stays
     * within socket buffers so send-all-then-read cannot deadlock. */
    run_echo(true, 192u << 10, false);
}
END_TEST

START_TEST(test_poll_loop_relays_when_the_event_library_is_off)
{
    struct gwt g;
    struct tcp_backend echo;
    char err[256], path[5000], *t, *m;
    struct wsc *c;

    tcp_backend_start(&echo, false);
    gwt_start(&g, false, "event_lib = no");
    t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, NULL, false, err, sizeof(err));
    ck_assert_msg(c, "%s", err);
    echo_exact(c, 1u << 20, true);
    m = gwt_metrics(&g);
    ck_assert_msg(http_metric(m, "portico_gateway_event_loop{impl=\"poll\"}") == 1, "%s", m);
    free(m);
    wsc_free(c);
    free(t);
    gwt_stop(&g);
    tcp_backend_stop(&echo);
}
END_TEST

/* guacamole-common-js asks for "guacamole" (a browser fails the handshake unless the
 * answer names it), spice-html5 for "binary", noVNC for nothing: each gets a working tunnel
 * and exactly the answer it asked for. */
START_TEST(test_guacamole_binary_and_no_subprotocol_each_get_a_tunnel)
{
    static const char *asks[] = {"guacamole", "binary", "guacamole, binary", NULL};
    static const char *answers[] = {"guacamole", "binary", "guacamole", ""}; /* lws: first served */
    struct gwt g;
    struct tcp_backend echo;
    char err[256], path[5000], *t;
    struct wsc *c;

    tcp_backend_start(&echo, false);
    gwt_start(&g, false, NULL);
    t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 4, NULL, 0, 0, NULL);
    for (int i = 0; i < 4; i++) {
        c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, asks[i], false, err,
                        sizeof(err));
        ck_assert_msg(c, "ask %s: %s", asks[i] ? asks[i] : "(none)", err);
        ck_assert_str_eq(wsc_subprotocol(c), answers[i]);
        echo_exact(c, 4096, false);
        wsc_free(c);
    }
    free(t);
    gwt_stop(&g);
    tcp_backend_stop(&echo);
}
END_TEST

/* A backend that queues a message and then closes (the RDP backend refusing a binary
 * message: a Guacamole "error" instruction, then close 1011 "768 ...") must have the
 * message reach the browser before the close frame. No RDP server is needed: the refusal
 * comes before any desktop traffic. */
START_TEST(test_queued_error_reaches_the_browser_before_the_close_frame)
{
    struct gwt g;
    char err[256], path[5000], *t;
    unsigned char *b = NULL;
    size_t len = 0, cap = 0;
    bool saw_error = false;
    struct wsc *c;
    int op;

    gwt_start(&g, false, NULL);
    for (int round = 0; round < 3; round++) {
        t = gwt_ticket(&g, AUTH_PROTO_RDP, "127.0.0.1", tf_free_port(), 1, NULL, 0, 0, NULL);
        c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, "guacamole", false, err,
                        sizeof(err));
        ck_assert_msg(c, "%s", err);
        ck_assert_int_eq(wsc_send(c, WSC_BINARY, "x", 1), 0);
        saw_error = false;
        while ((op = wsc_recv(c, &b, &len, &cap, 10000)) == WSC_TEXT) {
            b[len] = '\0';
            saw_error |= strstr((char *)b, "5.error,") != NULL;
        }
        ck_assert_msg(op == WSC_CLOSE, "op %d", op);
        ck_assert_msg(saw_error, "close %d '%s' came without the error instruction",
                      wsc_close_code(c), wsc_close_reason(c));
        wsc_free(c);
        free(t);
    }
    free(b);
    gwt_stop(&g);
}
END_TEST

/* A VNC desktop that accepts TCP but never speaks RFB (here: the echo server, which waits
 * for the client) while the gateway holds the sealed password: the browser gets 4010 once
 * the handshake deadline (5 s) passes instead of waiting for ever. */
START_TEST(test_vnc_desktop_that_never_speaks_closes_with_4010_after_the_handshake_deadline)
{
    struct gwt g;
    struct tcp_backend silent;
    char err[256], path[5000], *t;
    struct wsc *c;
    int64_t t0;
    int code;

    tcp_backend_start(&silent, false);
    gwt_start(&g, false, NULL);
    t = gwt_ticket(&g, AUTH_PROTO_VNC, "127.0.0.1", silent.port, 1, NULL, 0, 0, "pw");
    c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, NULL, false, err, sizeof(err));
    ck_assert_msg(c, "%s", err);
    t0 = pt_time_mono_ms();
    code = wsc_expect_close(c, 15000);
    ck_assert_msg(code == 4010, "close %d '%s'", code, wsc_close_reason(c));
    ck_assert_msg(strstr(wsc_close_reason(c), "handshake"), "%s", wsc_close_reason(c));
    ck_assert_int_ge(pt_time_mono_ms() - t0, 4000);
    wsc_free(c);
    free(t);
    gwt_stop(&g);
    tcp_backend_stop(&silent);
}
END_TEST

START_TEST(test_keepalive_pings_keep_an_idle_tunnel_and_close_a_silent_one)
{
    struct gwt g;
    struct tcp_backend echo;
    char err[256], path[5000], *t;
    struct wsc *a, *b;
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;

    tcp_backend_start(&echo, false);
    gwt_start(&g, false, "keepalive = 1s");
    t = gwt_ticket(&g, AUTH_PROTO_VNC, "127.0.0.1", echo.port, 2, NULL, 0, 0, NULL);
    a = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, NULL, false, err, sizeof(err));
    b = wsc_connect(g.port, path, NULL, NULL, false, err, sizeof(err));
    ck_assert(a && b);
    /* @a reads (and so answers pings) for 4.5 s; @b never reads. */
    for (int i = 0; i < 9; i++)
        ck_assert_msg(wsc_recv(a, &buf, &len, &cap, 500) == 0, "closed %d %s", wsc_close_code(a),
                      wsc_close_reason(a));
    echo_exact(a, 1000, false);
    ck_assert_int_eq(wsc_expect_close(b, 2000), 1001);
    ck_assert_str_eq(wsc_close_reason(b), "no answer to keepalive pings");
    wsc_free(a);
    wsc_free(b);
    free(buf);
    free(t);
    gwt_stop(&g);
    tcp_backend_stop(&echo);
}
END_TEST

START_TEST(test_slow_reader_keeps_gateway_memory_bounded_and_stream_intact)
{
    struct gwt g;
    struct tcp_backend src;
    char err[256], path[5000], *t, *m;
    struct wsc *c;
    long rss0, rss1;
    double queued;
    unsigned char *got = NULL, *want = malloc(1 << 20);
    size_t len = 0, cap = 0, recvd = 0;
    struct prng p;

    tcp_backend_start(&src, true);
    gwt_start(&g, false, "queue_bytes = 262144");
    t = gwt_ticket(&g, AUTH_PROTO_VNC, "127.0.0.1", src.port, 1, NULL, 0, 0, NULL);
    c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, NULL, false, err, sizeof(err));
    ck_assert_msg(c, "%s", err);
    usleep(300000);
    rss0 = gwt_rss_kib(&g);
    sleep(2); /* the desktop keeps sending; the browser reads nothing */
    rss1 = gwt_rss_kib(&g);
    m = gwt_metrics(&g);
    queued = http_metric(m, "portico_gateway_queue_bytes{direction=\"down\"}");
    /* Bounded by the high-water mark plus one desktop read (256 KiB). */
    ck_assert_msg(queued >= 0 && queued <= 262144 + 262144, "queued %.0f bytes", queued);
    ck_assert_msg(http_metric(m, "portico_gateway_backpressure_pauses_total") >= 1, "%s", m);
    ck_assert_msg(rss1 - rss0 < 8 * 1024, "gateway RSS grew %ld KiB while the reader slept",
                  rss1 - rss0);
    free(m);
    /* Now read: the stream continues exactly where it was paused. */
    prng_init(&p, 42);
    while (recvd < (32u << 20)) {
        ck_assert_int_eq(wsc_recv(c, &got, &len, &cap, 10000), WSC_BINARY);
        ck_assert_uint_le(len, 1 << 20);
        prng_fill(&p, want, len);
        ck_assert_msg(memcmp(got, want, len) == 0, "mismatch at %zu", recvd);
        recvd += len;
    }
    wsc_free(c);
    free(got);
    free(want);
    free(t);
    gwt_stop(&g);
    tcp_backend_stop(&src);
}
END_TEST

START_TEST(test_one_spice_ticket_opens_max_conns_channels_each_relayed)
{
    struct gwt g;
    struct tcp_backend echo;
    char err[256], path[5000], *t;
    struct wsc *c[4];

    tcp_backend_start(&echo, false);
    gwt_start(&g, false, NULL);
    t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 3, NULL, 0, 0, NULL);
    for (int i = 0; i < 4; i++) {
        c[i] = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, "binary", false, err,
                           sizeof(err));
        ck_assert_msg(c[i], "%s", err);
    }
    ck_assert_int_eq(wsc_expect_close(c[3], 5000), 4005);
    for (int i = 0; i < 3; i++)
        echo_exact(c[i], 100000, false);
    for (int i = 0; i < 4; i++)
        wsc_free(c[i]);
    free(t);
    gwt_stop(&g);
    tcp_backend_stop(&echo);
}
END_TEST

START_TEST(test_metrics_and_healthz_are_served_on_the_listener)
{
    struct gwt g;
    struct tcp_backend echo;
    char err[256], path[5000], *t, *m, *h;
    struct wsc *c;
    int status = 0;

    tcp_backend_start(&echo, false);
    gwt_start(&g, true, NULL);
    /* No certificate configured: a self-signed pair was made, the key private. */
    struct stat st;
    char key[700];
    snprintf(key, sizeof(key), "%s/gateway-selfsigned.key", g.dir);
    ck_assert_int_eq(stat(key, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    /* The RDP session launcher is forked before that key is generated, so the key never
     * sits in the launcher's copy of the heap: its start is logged first. */
    {
        char line[1024];
        int n = 0, launcher = -1, tls = -1;
        FILE *lf = fopen(g.proc.log_path, "r");
        ck_assert_ptr_nonnull(lf);
        while (fgets(line, sizeof(line), lf)) {
            n++;
            if (launcher < 0 && strstr(line, "event=rdp_launcher_started"))
                launcher = n;
            if (tls < 0 && strstr(line, "event=tls_selfsigned"))
                tls = n;
        }
        fclose(lf);
        ck_assert_msg(launcher > 0 && tls > 0 && launcher < tls,
                      "launcher started at log line %d, key made at line %d", launcher, tls);
    }
    h = http_get(g.port, "/healthz", true, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(h, "ok\n");
    free(h);
    t = gwt_ticket(&g, AUTH_PROTO_VNC, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, NULL, true, err, sizeof(err));
    ck_assert_msg(c, "%s", err);
    echo_exact(c, 5000, false);
    m = gwt_metrics(&g);
    ck_assert_msg(http_metric(m, "portico_gateway_tunnels{protocol=\"vnc\"}") == 1, "%s", m);
    ck_assert_msg(http_metric(m, "portico_gateway_bytes_up_total{protocol=\"vnc\"}") == 5000, "%s",
                  m);
    ck_assert_msg(http_metric(m, "portico_gateway_bytes_down_total{protocol=\"vnc\"}") == 5000,
                  "%s", m);
    /* libev is the default loop (docs/gateway.md: event_lib) */
    ck_assert_msg(http_metric(m, "portico_gateway_event_loop{impl=\"libev\"}") == 1, "%s", m);
    ck_assert_msg(http_metric(m, "portico_gateway_rdp_session_failures_total") == 0, "%s", m);
    free(m);
    wsc_free(c);
    free(t);
    /* The RDP backend's own counters are in the same text: an RDP desktop that refuses
     * the connection counts as a failed session (reported by its worker process). */
    t = gwt_ticket(&g, AUTH_PROTO_RDP, "127.0.0.1", tf_free_port(), 1, NULL, 0, 0, NULL);
    c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, "guacamole", true, err,
                    sizeof(err));
    ck_assert_msg(c, "%s", err);
    double failed = 0;
    for (int i = 0; i < 100 && failed < 1; i++) {
        m = gwt_metrics(&g);
        failed = http_metric(m, "portico_gateway_rdp_session_failures_total");
        ck_assert_msg(http_metric(m, "portico_gateway_rdp_frame_encode_seconds_count") == 0, "%s",
                      m);
        free(m);
        if (failed < 1)
            usleep(100000);
    }
    ck_assert_msg(failed == 1, "rdp session failures %g", failed);
    wsc_free(c);
    h = http_get(g.port, "/nothing-here", true, &status);
    ck_assert_int_eq(status, 404);
    free(h);
    free(t);
    gwt_stop(&g);
    tcp_backend_stop(&echo);
}
END_TEST

START_TEST(test_broker_receives_opened_and_closed_reports_with_the_shared_secret)
{
    struct gwt g;
    struct tcp_backend echo;
    struct fake_broker b;
    char err[256], path[5000], sec[600], extra[2048], *t;
    struct wsc *c;
    FILE *f;

    tcp_backend_start(&echo, false);
    fake_broker_start(&b, 0);
    snprintf(sec, sizeof(sec), "%s/broker.secret", tf_tmpdir());
    f = fopen(sec, "w");
    fputs("s3cret-shared\n", f);
    fclose(f);
    snprintf(extra, sizeof(extra),
             "broker_url = http://127.0.0.1:%d\nbroker_secret_file = %s\nlog_level = debug\n",
             b.port, sec);
    gwt_start(&g, false, extra);
    t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, NULL, false, err, sizeof(err));
    ck_assert_msg(c, "%s", err);
    echo_exact(c, 1234, false);
    wsc_free(c);
    ck_assert_int_eq(fake_broker_wait(&b, 2, 5000), 2);
    ck_assert_msg(strstr(b.bodies[0], "\"event\":\"opened\"") &&
                      strstr(b.bodies[0], "\"user\":\"alice\"") && strstr(b.bodies[0], g.id),
                  "%s", b.bodies[0]);
    ck_assert_msg(strstr(b.bodies[1], "\"event\":\"closed\"") &&
                      strstr(b.bodies[1], "\"bytes_up\":1234") &&
                      strstr(b.bodies[1], "\"bytes_down\":1234"),
                  "%s", b.bodies[1]);
    ck_assert_msg(strcasecmp(b.auth[0], "authorization: Bearer s3cret-shared") == 0, "%s",
                  b.auth[0]);
    free(t);
    gwt_stop(&g);
    fake_broker_stop(&b);
    tcp_backend_stop(&echo);
}
END_TEST

/* Reports over https:// (the broker's real endpoint is HTTPS): a self-signed broker is
 * reached with broker_insecure = yes, and refused (reports not delivered, counted as
 * failed) without it. The broker is a TLS FAKE (gwtest.c): the real portico-broker needs
 * LDAP, a store and libvirt to start. */
static void
https_reports(bool insecure, bool gateway_tls)
{
    struct gwt g;
    struct tcp_backend echo;
    struct fake_broker b;
    char err[256], path[5000], sec[600], extra[2048], *t, *m;
    struct wsc *c;
    FILE *f;

    tcp_backend_start(&echo, false);
    fake_broker_start_tls(&b, tf_tmpdir());
    snprintf(sec, sizeof(sec), "%s/broker-tls.secret", tf_tmpdir());
    f = fopen(sec, "w");
    fputs("tls-s3cret\n", f);
    fclose(f);
    snprintf(extra, sizeof(extra),
             "broker_url = https://127.0.0.1:%d\nbroker_secret_file = %s\nbroker_insecure = %s\n",
             b.port, sec, insecure ? "yes" : "no");
    gwt_start(&g, gateway_tls, extra);
    t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, NULL, gateway_tls, err,
                    sizeof(err));
    ck_assert_msg(c, "%s", err);
    echo_exact(c, 777, false);
    wsc_free(c);
    if (insecure) {
        ck_assert_int_eq(fake_broker_wait(&b, 2, 8000), 2);
        ck_assert_msg(strstr(b.bodies[0], "\"event\":\"opened\"") && strstr(b.bodies[0], g.id),
                      "%s", b.bodies[0]);
        ck_assert_msg(strstr(b.bodies[1], "\"event\":\"closed\"") &&
                          strstr(b.bodies[1], "\"bytes_up\":777"),
                      "%s", b.bodies[1]);
        ck_assert_msg(strcasecmp(b.auth[0], "authorization: Bearer tls-s3cret") == 0, "%s",
                      b.auth[0]);
    } else {
        /* The gateway must refuse the unknown certificate and keep the reports. */
        double failed = 0;
        for (int i = 0; i < 80 && failed < 1; i++) {
            m = gwt_metrics(&g);
            failed = http_metric(m, "portico_gateway_reports_total{result=\"failed\"}");
            free(m);
            if (failed < 1)
                usleep(100000);
        }
        ck_assert_msg(failed >= 1, "no failed report against a self-signed broker");
        ck_assert_int_eq(fake_broker_wait(&b, 1, 500), 0);
        pthread_mutex_lock(&b.lock);
        ck_assert_int_ge(b.handshakes_failed, 1);
        pthread_mutex_unlock(&b.lock);
        m = gwt_metrics(&g);
        ck_assert_msg(http_metric(m, "portico_gateway_reports_pending") >= 1, "%s", m);
        free(m);
    }
    free(t);
    gwt_stop(&g);
    fake_broker_stop(&b);
    tcp_backend_stop(&echo);
}

START_TEST(test_reports_reach_an_https_broker_with_a_self_signed_certificate_when_insecure)
{
    https_reports(true, false);
    https_reports(true, true);
}
END_TEST

START_TEST(test_reports_to_an_https_broker_with_an_unknown_certificate_are_refused)
{
    https_reports(false, false);
}
END_TEST

START_TEST(test_reports_wait_for_a_broker_that_starts_late)
{
    struct gwt g;
    struct tcp_backend echo;
    struct fake_broker b;
    char err[256], path[5000], sec[600], extra[2048], *t, *m;
    struct wsc *c;
    FILE *f;
    int bport;

    tcp_backend_start(&echo, false);
    bport = tf_free_port();
    snprintf(sec, sizeof(sec), "%s/broker2.secret", tf_tmpdir());
    f = fopen(sec, "w");
    fputs("x\n", f);
    fclose(f);
    snprintf(extra, sizeof(extra),
             "broker_url = http://127.0.0.1:%d\nbroker_secret_file = %s\nlog_level = debug\n",
             bport, sec);
    gwt_start(&g, false, extra);
    t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    c = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), NULL, NULL, false, err, sizeof(err));
    ck_assert_msg(c, "%s", err);
    echo_exact(c, 100, false); /* the tunnel works while the broker is away */
    wsc_free(c);
    usleep(600000);
    m = gwt_metrics(&g);
    ck_assert_msg(http_metric(m, "portico_gateway_reports_pending") == 2, "%s", m);
    free(m);
    /* Bring a broker up on that port: the retries deliver both, in order. */
    fake_broker_start(&b, bport);
    ck_assert_int_eq(fake_broker_wait(&b, 2, 15000), 2);
    ck_assert_msg(strstr(b.bodies[0], "\"event\":\"opened\""), "%s", b.bodies[0]);
    ck_assert_msg(strstr(b.bodies[1], "\"event\":\"closed\""), "%s", b.bodies[1]);
    tcp_backend_stop(&echo);
    fake_broker_stop(&b);
    free(t);
    gwt_stop(&g);
}
END_TEST

Suite *
gateway_relay_suite(void)
{
    Suite *s = suite_create("gateway_relay");
    TCase *tc = tcase_create("relay");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_echo_relays_16_mib_of_random_bytes_exactly_both_ways);
    tcase_add_test(tc, test_echo_over_wss_relays_random_bytes_exactly);
    tcase_add_test(tc, test_poll_loop_relays_when_the_event_library_is_off);
    tcase_add_test(tc, test_guacamole_binary_and_no_subprotocol_each_get_a_tunnel);
    tcase_add_test(tc, test_queued_error_reaches_the_browser_before_the_close_frame);
    tcase_add_test(
        tc, test_vnc_desktop_that_never_speaks_closes_with_4010_after_the_handshake_deadline);
    tcase_add_test(tc, test_keepalive_pings_keep_an_idle_tunnel_and_close_a_silent_one);
    tcase_add_test(tc, test_slow_reader_keeps_gateway_memory_bounded_and_stream_intact);
    tcase_add_test(tc, test_one_spice_ticket_opens_max_conns_channels_each_relayed);
    tcase_add_test(tc, test_metrics_and_healthz_are_served_on_the_listener);
    tcase_add_test(tc, test_broker_receives_opened_and_closed_reports_with_the_shared_secret);
    tcase_add_test(tc,
                   test_reports_reach_an_https_broker_with_a_self_signed_certificate_when_insecure);
    tcase_add_test(tc, test_reports_to_an_https_broker_with_an_unknown_certificate_are_refused);
    tcase_add_test(tc, test_reports_wait_for_a_broker_that_starts_late);
    suite_add_tcase(s, tc);
    return s;
}
