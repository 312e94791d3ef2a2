/*
 * test_workers.c - a gateway with `workers = 2`: what the worker processes must agree on
 * (a ticket's allowance, connections per address, /metrics), a worker that dies being
 * restarted, and SIGTERM to the supervisor stopping everything.
 *
 * Which worker serves a connection is the kernel's choice (SO_REUSEPORT hashes the
 * client's address and port), so the tests read it back from the log: every line carries
 * the pid of the process that wrote it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "gwtest.h"
#include "wsclient.h"

Suite *gateway_workers_suite(void);

static struct gwt g;
static struct tcp_backend echo;

static void
start(const char *extra)
{
    char conf[512];

    tcp_backend_start(&echo, false);
    snprintf(conf, sizeof(conf), "workers = 2\n%s", extra ? extra : "");
    gwt_start(&g, false, conf);
    ck_assert_msg(gwt_wait_log(&g, "worker=2/2", 10000) == 0 &&
                      gwt_wait_log(&g, "worker=1/2", 10000) == 0,
                  "both workers should listen");
}

static void
teardown(void)
{
    gwt_stop(&g);
    tcp_backend_stop(&echo);
}

static long
log_size(void)
{
    struct stat st;

    return stat(g.proc.log_path, &st) == 0 ? (long)st.st_size : 0;
}

/* Distinct pids of log lines after byte @from that contain @a or @b. */
static int
log_pids(long from, const char *a, const char *b, long *pids, int max)
{
    char line[4096];
    int n = 0;
    FILE *f = fopen(g.proc.log_path, "r");

    ck_assert_ptr_nonnull(f);
    fseek(f, from, SEEK_SET);
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "portico-gateway[");
        if (!p || (!strstr(line, a) && !(b && strstr(line, b))))
            continue;
        long pid = strtol(p + 16, NULL, 10);
        bool seen = false;
        for (int i = 0; i < n; i++)
            seen |= pids[i] == pid;
        if (!seen && n < max)
            pids[n++] = pid;
    }
    fclose(f);
    return n;
}

/* A tunnel to the echo backend that answers, or NULL if refused (close code in @code). */
static struct wsc *
tunnel_open(const char *ticket, int *code)
{
    char err[256], path[5000];
    unsigned char *got = NULL;
    size_t len = 0, cap = 0;
    struct wsc *c = wsc_connect(g.port, gwt_path(ticket, path, sizeof(path)), NULL, NULL, false,
                                err, sizeof(err));

    ck_assert_msg(c, "%s", err);
    *code = 0;
    ck_assert_int_eq(wsc_send(c, WSC_BINARY, "ping", 4), 0);
    int op = wsc_recv(c, &got, &len, &cap, 5000);
    free(got);
    if (op == WSC_BINARY)
        return c;
    *code = op == WSC_CLOSE ? wsc_close_code(c) : -1;
    wsc_free(c);
    return NULL;
}

static double
metric_eventually(const char *name, double want, int timeout_ms)
{
    double v = -1;

    /* Other workers publish their counters every loop tick (200 ms). */
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        char *m = gwt_metrics(&g);
        v = m ? http_metric(m, name) : -1;
        free(m);
        if (v == want)
            break;
        usleep(100000);
    }
    return v;
}

START_TEST(test_a_ticket_allowance_holds_across_workers)
{
    int spanned = 0, attempts = 0;

    start(NULL);
    /* Until the three uses of one ticket have landed on both workers at least twice. */
    for (; attempts < 40 && spanned < 2; attempts++) {
        char *t = gwt_ticket(&g, AUTH_PROTO_VNC, "127.0.0.1", echo.port, 2, NULL, 0, 0, NULL);
        long from = log_size(), pids[4];
        int code;
        struct wsc *a = tunnel_open(t, &code), *b = tunnel_open(t, &code);

        ck_assert_msg(a && b, "the first two uses of a max_conns=2 ticket must pass");
        struct wsc *c = tunnel_open(t, &code);
        ck_assert_msg(!c, "a third use was accepted (attempt %d)", attempts + 1);
        ck_assert_int_eq(code, 4005);
        /* Log lines are written before the client sees the answer. */
        if (log_pids(from, "event=tunnel_open", "reason=replayed", pids, 4) >= 2)
            spanned++;
        wsc_free(a);
        wsc_free(b);
        free(t);
    }
    ck_assert_msg(spanned >= 2, "in %d attempts the uses never spread over both workers", attempts);
    /* /metrics, whichever worker answers, counts the refusals of both. */
    ck_assert_int_eq(
        metric_eventually("portico_gateway_refusals_total{reason=\"replayed\"}", attempts, 3000),
        attempts);
    ck_assert_int_eq(metric_eventually("portico_gateway_tunnels_opened_total{protocol=\"vnc\"}",
                                       2 * attempts, 3000),
                     2 * attempts);
    teardown();
}
END_TEST

/* The pid of worker @n (1-based) as last logged by the supervisor, or 0. */
static long
worker_pid(int n)
{
    char line[4096], key[64];
    long pid = 0;
    FILE *f = fopen(g.proc.log_path, "r");

    snprintf(key, sizeof(key), "event=worker_started worker=%d pid=", n);
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, key);
        if (p)
            pid = strtol(p + strlen(key), NULL, 10);
    }
    fclose(f);
    return pid;
}

START_TEST(test_a_dead_worker_is_restarted_and_its_address_counts_released)
{
    struct wsc *c[3] = {NULL}, *more[3] = {NULL};
    long before, after = 0, held[2], pids[2];
    int code, alive = 0, opened = 0, n;
    char *t, needle[64];

    start("max_conns_per_addr = 3\n");
    t = gwt_ticket(&g, AUTH_PROTO_VNC, "127.0.0.1", echo.port, 6, NULL, 0, 0, NULL);
    long opened_from = log_size();
    for (int i = 0; i < 3; i++) {
        c[i] = tunnel_open(t, &code);
        ck_assert_msg(c[i], "tunnel %d refused with %d", i, code);
    }
    ck_assert_ptr_null(tunnel_open(t, &code)); /* the address limit holds across workers */
    ck_assert_int_eq(code, 4007);

    /* Kill a worker that carries at least one of the three. */
    ck_assert_int_ge(log_pids(opened_from, "event=tunnel_open", NULL, held, 2), 1);
    before = held[0];
    n = before == worker_pid(1) ? 1 : 2;
    ck_assert_int_eq(worker_pid(n), before);
    long from = log_size();
    ck_assert_int_eq(kill((pid_t)before, SIGKILL), 0);
    snprintf(needle, sizeof(needle), "event=worker_died worker=%d", n);
    ck_assert_int_eq(gwt_wait_log(&g, needle, 5000), 0);
    for (int i = 0; i < 100 && ((after = worker_pid(n)) == before || after == 0); i++)
        usleep(50000);
    ck_assert_msg(after != before && after > 0, "worker %d was not started again", n);
    snprintf(needle, sizeof(needle), "worker=%d/2", n);
    for (int i = 0; i < 100 && log_pids(from, needle, NULL, pids, 2) == 0; i++)
        usleep(50000);
    ck_assert_int_eq(log_pids(from, needle, NULL, pids, 2), 1);
    ck_assert_int_eq(pids[0], after);

    /* The tunnels the dead worker carried are gone; the others still echo. */
    for (int i = 0; i < 3; i++) {
        unsigned char *got = NULL;
        size_t len = 0, cap = 0;
        if (wsc_send(c[i], WSC_BINARY, "x", 1) == 0 && wsc_recv(c[i], &got, &len, &cap, 3000) > 0)
            alive++;
        free(got);
    }
    ck_assert_int_lt(alive, 3); /* the dead worker held at least one of them... */
    /* ... whose per-address count was dropped with it: exactly 3 - alive fit again. */
    for (int i = 0; i < 3; i++) {
        more[i] = tunnel_open(t, &code);
        if (!more[i]) {
            ck_assert_int_eq(code, 4007);
            break;
        }
        opened++;
    }
    ck_assert_int_eq(opened, 3 - alive);
    for (int i = 0; i < 3; i++) {
        wsc_free(c[i]);
        wsc_free(more[i]);
    }
    free(t);
    teardown();
}
END_TEST

/* A tunnel with @origin: 1 if it echoes, else its close code. */
static int
origin_tunnel(const char *origin)
{
    char err[256], path[5000],
        *t = gwt_ticket(&g, AUTH_PROTO_VNC, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    unsigned char *got = NULL;
    size_t len = 0, cap = 0;
    struct wsc *c = wsc_connect_ex(g.port, gwt_path(t, path, sizeof(path)), origin, "binary", NULL,
                                   false, err, sizeof(err));
    int rc;

    free(t);
    ck_assert_msg(c, "%s", err);
    ck_assert_int_eq(wsc_send(c, WSC_BINARY, "ping", 4), 0);
    rc = wsc_recv(c, &got, &len, &cap, 5000) == WSC_BINARY ? 1 : wsc_close_code(c);
    free(got);
    wsc_free(c);
    return rc;
}

/* Workers reload on SIGHUP one by one; one started after that must not come up with the
 * configuration the supervisor read at start: it re-reads the file first. */
START_TEST(test_a_worker_restarted_after_sighup_runs_the_reloaded_config)
{
    long before, after = 0, pids[2];

    start("allowed_origins = https://old.example.test\n");
    gwt_write_conf(&g, NULL, "workers = 2\nallowed_origins = https://new.example.test\n");
    ck_assert_int_eq(kill(g.proc.pid, SIGHUP), 0);
    ck_assert_int_eq(gwt_wait_log_count(&g, "event=reloaded", 2, 10000), 2);
    before = worker_pid(1);
    long from = log_size();
    ck_assert_int_eq(kill((pid_t)before, SIGKILL), 0);
    for (int i = 0; i < 100 && ((after = worker_pid(1)) == before || after == 0); i++)
        usleep(50000);
    ck_assert_msg(after != before && after > 0, "worker 1 was not started again");
    for (int i = 0; i < 100 && log_pids(from, "event=reloaded", NULL, pids, 2) == 0; i++)
        usleep(50000);
    ck_assert_int_eq(log_pids(from, "event=reloaded", NULL, pids, 2), 1);
    ck_assert_int_eq(pids[0], after);
    /* Which worker serves a connection is the kernel's pick: 16 tries miss the restarted
     * one with odds of 2^-16. The old origin is refused everywhere, the new one admitted. */
    for (int i = 0; i < 16; i++) {
        ck_assert_int_eq(origin_tunnel("https://new.example.test"), 1);
        ck_assert_int_eq(origin_tunnel("https://old.example.test"), 4006);
    }
    teardown();
}
END_TEST

START_TEST(test_sigterm_to_the_supervisor_stops_every_worker)
{
    long w1, w2;

    start(NULL);
    w1 = worker_pid(1);
    w2 = worker_pid(2);
    ck_assert(w1 > 0 && w2 > 0);
    ck_assert_int_eq(kill(g.proc.pid, SIGTERM), 0); /* the supervisor alone */
    for (int i = 0; i < 200 && tf_proc_alive(&g.proc); i++)
        usleep(50000);
    ck_assert_msg(!tf_proc_alive(&g.proc), "the supervisor did not stop");
    ck_assert_msg(kill((pid_t)w1, 0) != 0 && kill((pid_t)w2, 0) != 0,
                  "a worker outlived the supervisor");
    ck_assert_int_eq(gwt_wait_log(&g, "event=stopping workers=2", 0), 0);
    teardown();
}
END_TEST

Suite *
gateway_workers_suite(void)
{
    Suite *s = suite_create("gateway_workers");
    TCase *tc = tcase_create("workers");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_a_ticket_allowance_holds_across_workers);
    tcase_add_test(tc, test_a_dead_worker_is_restarted_and_its_address_counts_released);
    tcase_add_test(tc, test_a_worker_restarted_after_sighup_runs_the_reloaded_config);
    tcase_add_test(tc, test_sigterm_to_the_supervisor_stops_every_worker);
    suite_add_tcase(s, tc);
    return s;
}
