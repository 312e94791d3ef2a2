/*
 * test_refusal.c - every refusal closes the WebSocket with its own code and reason, and
 * leaves other tunnels of the same gateway working: forged, expired, wrong-audience and
 * replayed tickets, no ticket, a wrong Origin, an oversized message, too many connections
 * from one address, an RDP ticket while RDP is unavailable, an unreachable desktop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/err.h"
#include "gwtest.h"
#include "wsclient.h"

Suite *gateway_refusal_suite(void);

#define ORIGIN "https://portal.example.test"

static struct gwt g;
static struct tcp_backend echo;
static struct wsc *bystander;

/* The bystander tunnel still carries bytes. */
static void
bystander_ok(void)
{
    unsigned char msg[300], *got = NULL;
    size_t len = 0, cap = 0;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)(i * 31 + 7);
    ck_assert_int_eq(wsc_send(bystander, WSC_BINARY, msg, sizeof(msg)), 0);
    size_t have = 0;
    unsigned char all[300];
    while (have < sizeof(msg)) {
        ck_assert_int_eq(wsc_recv(bystander, &got, &len, &cap, 5000), WSC_BINARY);
        ck_assert_uint_le(have + len, sizeof(all));
        memcpy(all + have, got, len);
        have += len;
    }
    ck_assert_mem_eq(all, msg, sizeof(msg));
    free(got);
}

static void
setup(void)
{
    char err[256], path[5000], *t;

    tcp_backend_start(&echo, false);
    gwt_start(&g, false,
              "allowed_origins = " ORIGIN " https://other.example.test\n"
              "max_message = 65536\nmax_conns_per_addr = 6\n");
    t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    bystander = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), ORIGIN, "binary", false, err,
                            sizeof(err));
    ck_assert_msg(bystander, "%s", err);
    free(t);
    bystander_ok();
}

static void
teardown(void)
{
    char line[8192];
    FILE *f;

    wsc_free(bystander);
    bystander = NULL;
    gwt_stop(&g);
    tcp_backend_stop(&echo);
    /* Tickets never reach the log, refused or not: every ticket starts with "pt1.". */
    f = fopen(g.proc.log_path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        ck_assert_msg(!strstr(line, "pt1."), "ticket in the gateway log: %s", line);
    fclose(f);
}

/* Connect with @ticket (NULL: none) and @origin; expect close @code with @reason inside. */
static void
expect_refusal(const char *ticket, const char *origin, int code, const char *reason)
{
    char err[256], path[5000];
    struct wsc *c;

    if (ticket)
        gwt_path(ticket, path, sizeof(path));
    else
        snprintf(path, sizeof(path), "/tunnel");
    c = wsc_connect(g.port, path, origin, "binary", false, err, sizeof(err));
    ck_assert_msg(c, "%s", err);
    ck_assert_int_eq(wsc_expect_close(c, 5000), code);
    ck_assert_msg(strstr(wsc_close_reason(c), reason), "reason '%s' lacks '%s'",
                  wsc_close_reason(c), reason);
    wsc_free(c);
    bystander_ok();
}

START_TEST(test_forged_ticket_is_refused_with_4002)
{
    struct gwt other;
    char *t;

    /* Signed by a key this gateway does not trust: a forgery. */
    gwt_start(&other, false, NULL);
    t = gwt_ticket(&other, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, g.id, 0, 0, NULL);
    gwt_stop(&other);
    expect_refusal(t, ORIGIN, 4002, "signature");
    /* And one altered byte in a genuine ticket. */
    free(t);
    t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    size_t n = strlen(t);
    t[n - 5] = t[n - 5] == 'A' ? 'B' : 'A';
    expect_refusal(t, ORIGIN, 4002, "signature");
    free(t);
}
END_TEST

START_TEST(test_expired_ticket_is_refused_with_4003)
{
    char *t =
        gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, -120000, 10000, NULL);
    expect_refusal(t, ORIGIN, 4003, "expired");
    free(t);
}
END_TEST

START_TEST(test_ticket_for_another_gateway_is_refused_with_4004)
{
    char *t =
        gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, "gw-elsewhere", 0, 0, NULL);
    expect_refusal(t, ORIGIN, 4004, "another gateway");
    free(t);
}
END_TEST

START_TEST(test_ticket_replayed_beyond_its_allowance_is_refused_with_4005)
{
    char err[256], path[5000];
    char *t = gwt_ticket(&g, AUTH_PROTO_VNC, "127.0.0.1", echo.port, 2, NULL, 0, 0, NULL);
    struct wsc *a, *b;

    a = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), ORIGIN, NULL, false, err, sizeof(err));
    b = wsc_connect(g.port, path, ORIGIN, NULL, false, err, sizeof(err));
    ck_assert(a && b);
    expect_refusal(t, ORIGIN, 4005, "already used");
    wsc_free(a);
    wsc_free(b);
    free(t);
}
END_TEST

START_TEST(test_missing_and_garbage_tickets_are_refused)
{
    expect_refusal(NULL, ORIGIN, 4000, "no ticket");
    expect_refusal("pt1.garbage.garbage", ORIGIN, 4001, "malformed");
}
END_TEST

START_TEST(test_wrong_origin_is_refused_with_4006)
{
    char *t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    expect_refusal(t, "https://evil.example.test", 4006, "origin");
    expect_refusal(t, NULL, 4006, "origin");
    free(t);
}
END_TEST

START_TEST(test_oversized_message_closes_with_1009)
{
    char err[256], path[5000];
    char *t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, NULL, 0, 0, NULL);
    unsigned char *big = calloc(1, 200000);
    struct wsc *c =
        wsc_connect(g.port, gwt_path(t, path, sizeof(path)), ORIGIN, NULL, false, err, sizeof(err));

    ck_assert_msg(c, "%s", err);
    ck_assert_int_eq(wsc_send(c, WSC_BINARY, big, 200000), 0);
    ck_assert_int_eq(wsc_expect_close(c, 5000), 1009);
    ck_assert_str_eq(wsc_close_reason(c), "message too big");
    wsc_free(c);
    bystander_ok();
    free(big);
    free(t);
}
END_TEST

START_TEST(test_too_many_connections_from_one_address_is_refused_with_4007)
{
    char err[256], path[5000];
    char *t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 8, NULL, 0, 0, NULL);
    struct wsc *c[5];

    /* The bystander holds one of the 6 allowed. */
    for (int i = 0; i < 5; i++) {
        c[i] = wsc_connect(g.port, gwt_path(t, path, sizeof(path)), ORIGIN, NULL, false, err,
                           sizeof(err));
        ck_assert_msg(c[i], "%s", err);
    }
    usleep(100000);
    expect_refusal(t, ORIGIN, 4007, "too many connections");
    /* Closing one frees a slot. */
    wsc_free(c[0]);
    usleep(200000);
    c[0] = wsc_connect(g.port, path, ORIGIN, NULL, false, err, sizeof(err));
    ck_assert_msg(c[0], "%s", err);
    unsigned char *b = NULL;
    size_t len = 0, cap = 0;
    ck_assert_int_eq(wsc_send(c[0], WSC_BINARY, "hi", 2), 0);
    ck_assert_int_eq(wsc_recv(c[0], &b, &len, &cap, 5000), WSC_BINARY);
    free(b);
    for (int i = 0; i < 5; i++)
        wsc_free(c[i]);
    free(t);
}
END_TEST

START_TEST(test_unreachable_desktop_closes_with_4010)
{
    char *t = gwt_ticket(&g, AUTH_PROTO_VNC, "127.0.0.1", tf_free_port(), 1, NULL, 0, 0, NULL);
    expect_refusal(t, ORIGIN, 4010, "desktop unreachable");
    free(t);
}
END_TEST

START_TEST(test_refusals_are_counted_by_reason_in_metrics)
{
    char *t = gwt_ticket(&g, AUTH_PROTO_SPICE, "127.0.0.1", echo.port, 1, "nope", 0, 0, NULL);
    char *m;

    expect_refusal(t, ORIGIN, 4004, "another gateway");
    expect_refusal(t, "https://evil.example.test", 4006, "origin");
    m = gwt_metrics(&g);
    ck_assert_msg(http_metric(m, "portico_gateway_refusals_total{reason=\"wrong_audience\"}") == 1,
                  "%s", m);
    ck_assert_msg(http_metric(m, "portico_gateway_refusals_total{reason=\"origin\"}") == 1, "%s",
                  m);
    ck_assert_msg(http_metric(m, "portico_gateway_tunnels{protocol=\"spice\"}") == 1, "%s", m);
    free(m);
    free(t);
}
END_TEST

Suite *
gateway_refusal_suite(void)
{
    Suite *s = suite_create("gateway_refusal");
    TCase *tc = tcase_create("refusal");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_forged_ticket_is_refused_with_4002);
    tcase_add_test(tc, test_expired_ticket_is_refused_with_4003);
    tcase_add_test(tc, test_ticket_for_another_gateway_is_refused_with_4004);
    tcase_add_test(tc, test_ticket_replayed_beyond_its_allowance_is_refused_with_4005);
    tcase_add_test(tc, test_missing_and_garbage_tickets_are_refused);
    tcase_add_test(tc, test_wrong_origin_is_refused_with_4006);
    tcase_add_test(tc, test_oversized_message_closes_with_1009);
    tcase_add_test(tc, test_too_many_connections_from_one_address_is_refused_with_4007);
    tcase_add_test(tc, test_unreachable_desktop_closes_with_4010);
    tcase_add_test(tc, test_refusals_are_counted_by_reason_in_metrics);
    suite_add_tcase(s, tc);
    return s;
}
