/*
 * test_gw_units.c - the gateway's pure parts alone: the [gateway] config section, the
 * VNC-auth DES response, the bounded message queue, the metrics text, and the allocator
 * lws uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <libwebsockets.h>

#include "common/str.h"
#include "gw_priv.h"
#include "rdp.h"

Suite *gateway_units_suite(void);

#define MINIMAL "[gateway]\nid = gw-1\nticket_key = /etc/portico/ticket.pub\n"

START_TEST(test_conf_minimal_file_gets_safe_defaults)
{
    struct gw_conf c;
    struct pt_err err = {0};

    ck_assert_msg(gw_conf_load_string(&c, MINIMAL, "gw.conf", &err) == 0, "%s", err.msg);
    ck_assert(c.tls);
    ck_assert_int_eq(c.keepalive_ms, 15000);
    ck_assert_int_eq(c.max_message, 1024 * 1024);
    ck_assert(c.event_lib); /* libev: the poll() loop costs ~20x the CPU at idle tunnels */
    ck_assert_ptr_null(c.broker_url);
    ck_assert_str_eq(c.id, "gw-1");
    gw_conf_free(&c);
}
END_TEST

START_TEST(test_conf_unknown_key_is_a_file_line_error)
{
    struct gw_conf c;
    struct pt_err err = {0};

    ck_assert_int_eq(gw_conf_load_string(&c, MINIMAL "colour = blue\n", "gw.conf", &err), -1);
    ck_assert_msg(strstr(err.msg, "gw.conf:4:") && strstr(err.msg, "colour"), "%s", err.msg);
    gw_conf_free(&c);
}
END_TEST

START_TEST(test_conf_unknown_section_is_an_error_but_other_programs_sections_are_not)
{
    struct gw_conf c;
    struct pt_err err = {0};

    ck_assert_int_eq(gw_conf_load_string(&c, MINIMAL "[broker]\nlisten = x\n", "a.conf", &err), 0);
    gw_conf_free(&c);
    ck_assert_int_eq(gw_conf_load_string(&c, MINIMAL "[gatway]\n", "a.conf", &err), -1);
    ck_assert_msg(strstr(err.msg, "a.conf:4:") && strstr(err.msg, "gatway"), "%s", err.msg);
    gw_conf_free(&c);
}
END_TEST

START_TEST(test_conf_rejects_incomplete_or_out_of_range_settings)
{
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"[gateway]\nticket_key = k\n", "id is required"},
        {"[gateway]\nid = g\n", "ticket_key is required"},
        {MINIMAL "tls_cert = /c.pem\n", "both tls_cert and tls_key"},
        {MINIMAL "listen = nowhere\n", "want host:port"},
        {MINIMAL "max_message = 10\n", "max_message must be"},
        {MINIMAL "keepalive = 0s\n", "keepalive must be"},
        {MINIMAL "broker_url = ftp://x:1\n", "broker_url must be"},
        {MINIMAL "broker_url = https://b:1\n", "broker_secret_file"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_conf c;
        struct pt_err err = {0};
        ck_assert_msg(gw_conf_load_string(&c, bad[i].text, "g.conf", &err) == -1, "case %zu", i);
        ck_assert_msg(strstr(err.msg, bad[i].want), "case %zu: '%s' lacks '%s'", i, err.msg,
                      bad[i].want);
        gw_conf_free(&c);
    }
}
END_TEST

START_TEST(test_check_mode_prints_configuration_ok)
{
    char path[512], cmd[1200], out[256] = "";
    const char *bd = getenv("PORTICO_BUILD_DIR");
    FILE *f, *p;

    snprintf(path, sizeof(path), "/tmp/gw-unit-%d.conf", (int)getpid());
    f = fopen(path, "w");
    fputs(MINIMAL "log_level = debug\n", f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s/gateway/portico-gateway -n -c %s 2>&1", bd ? bd : ".", path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(out, sizeof(out), p));
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_str_eq(out, "configuration OK\n");
    f = fopen(path, "a");
    fputs("bogus = 1\n", f);
    fclose(f);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(fgets(out, sizeof(out), p));
    ck_assert_int_ne(pclose(p), 0);
    ck_assert_msg(strstr(out, ":5: unknown key 'bogus'"), "%s", out);
    unlink(path);
}
END_TEST

START_TEST(test_vnc_auth_response_matches_rfb_des_with_bit_reversed_key)
{
    /* Reference: openssl enc -des-ecb -K 0e2eb4ceccc64e00 -nopad over bytes 00..0f, the key
     * being "pt-s3cr\0" with each byte's bits reversed, as RFB 6.2.2 specifies. */
    static const unsigned char want[16] = {0x85, 0x5c, 0x75, 0x3d, 0x32, 0x28, 0x5e, 0x6b,
                                           0x7e, 0xef, 0x08, 0x4c, 0x13, 0x19, 0x0e, 0x3a};
    unsigned char ch[16], out[16];
    struct pt_err err = {0};

    for (int i = 0; i < 16; i++)
        ch[i] = (unsigned char)i;
    ck_assert_msg(vnc_auth_response(ch, "pt-s3cr", out, &err) == 0, "%s", err.msg);
    ck_assert_mem_eq(out, want, 16);
    /* Only the first 8 bytes of a password count. */
    unsigned char out2[16];
    ck_assert_int_eq(vnc_auth_response(ch, "pt-s3cr\0", out2, &err), 0);
    ck_assert_int_eq(vnc_auth_response(ch, "12345678", out, &err), 0);
    ck_assert_int_eq(vnc_auth_response(ch, "12345678-ignored", out2, &err), 0);
    ck_assert_mem_eq(out, out2, 16);
}
END_TEST

START_TEST(test_queue_keeps_order_bytes_and_lws_headroom)
{
    struct gw_queue q = {0}, q2 = {0};
    struct gw_msg *m;

    gw_queue_push(&q, "abc", 3, true);
    gw_queue_push(&q, "defgh", 5, false);
    gw_queue_push(&q2, "ij", 2, true);
    ck_assert_uint_eq(q.bytes, 8);
    ck_assert_uint_eq(q.count, 2);
    gw_queue_move(&q, &q2);
    ck_assert_uint_eq(q.bytes, 10);
    ck_assert_uint_eq(q2.bytes, 0);
    ck_assert_ptr_null(q2.head);
    m = gw_queue_pop(&q);
    ck_assert_mem_eq(m->data, "abc", 3);
    ck_assert(m->binary);
    /* lws_write() frames in place: LWS_PRE writable bytes precede the payload. */
    ck_assert((unsigned char *)m->data - (unsigned char *)m >= (long)(sizeof(*m) + LWS_PRE));
    free(m);
    m = gw_queue_pop(&q);
    ck_assert_mem_eq(m->data, "defgh", 5);
    ck_assert(!m->binary);
    free(m);
    ck_assert_uint_eq(q.bytes, 2);
    gw_queue_clear(&q);
    ck_assert_uint_eq(q.bytes, 0);
    ck_assert_ptr_null(gw_queue_pop(&q));
}
END_TEST

START_TEST(test_metrics_text_names_every_refusal_reason_and_protocol)
{
    struct gw_metrics m = {0};
    struct pt_buf b = PT_BUF_INIT;

    m.refusals[GW_REFUSE_REPLAYED] = 3;
    m.tunnels_open[AUTH_PROTO_SPICE] = 2;
    m.bytes_down[AUTH_PROTO_VNC] = 12345;
    gw_metrics_render(&m, &b, true);
    ck_assert_ptr_nonnull(
        strstr(b.data, "portico_gateway_refusals_total{reason=\"replayed\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "portico_gateway_tunnels{protocol=\"spice\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "portico_gateway_bytes_down_total{protocol=\"vnc\"} 12345\n"));
    for (int r = 0; r < GW_REFUSE_COUNT_; r++) {
        char want[128];
        snprintf(want, sizeof(want), "{reason=\"%s\"}", gw_refusal_str((enum gw_refusal)r));
        ck_assert_msg(strstr(b.data, want), "missing %s", want);
    }
    pt_buf_fini(&b);
}
END_TEST

START_TEST(test_rdp_metrics_text_is_a_cumulative_histogram_with_gauges_and_counters)
{
    struct gw_rdp_metrics r = {0};
    struct pt_buf b = PT_BUF_INIT;

    r.frames = 10;
    r.bytes = 4096;
    r.encode_us = 2500500;                        /* 2.5005 s */
    r.encode_hist[0] = 6;                         /* < 1 ms */
    r.encode_hist[3] = 3;                         /* 5-10 ms */
    r.encode_hist[GW_RDP_ENCODE_BUCKETS - 1] = 1; /* >= 100 ms */
    r.sessions_connecting = 1;
    r.sessions_connected = 2;
    r.sessions_failed = 4;
    r.lag_ms_max = 1250;
    gw_metrics_render_rdp(&r, &b);
    ck_assert_ptr_nonnull(strstr(b.data, "portico_gateway_rdp_frames_total 10\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "portico_gateway_rdp_bytes_total 4096\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "portico_gateway_rdp_frame_encode_seconds_bucket{le=\"0.001\"} 6\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "portico_gateway_rdp_frame_encode_seconds_bucket{le=\"0.005\"} 6\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "portico_gateway_rdp_frame_encode_seconds_bucket{le=\"0.01\"} 9\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "portico_gateway_rdp_frame_encode_seconds_bucket{le=\"+Inf\"} 10\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "portico_gateway_rdp_frame_encode_seconds_sum 2.500500\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "portico_gateway_rdp_frame_encode_seconds_count 10\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "# TYPE portico_gateway_rdp_frame_encode_seconds histogram\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "portico_gateway_rdp_sessions{state=\"connected\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "portico_gateway_rdp_session_failures_total 4\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "portico_gateway_rdp_lag_max_seconds 1.250\n"));
    pt_buf_fini(&b);
}
END_TEST

/* gw_alloc.c: lws's receive buffers are whole and writable, freed ones come back for the
 * next WebSockets (where glibc's heap lets them be placed: not under ASan, whose
 * allocator is its own), a receive buffer resized keeps its bytes, and gw_alloc_trim()
 * lets go of the kept ones nobody took. */
START_TEST(test_alloc_receive_buffers_are_whole_reused_and_trimmed)
{
    enum {
        N = 600
    };
    size_t size = GW_RX_BUF + LWS_PRE + 4; /* what lws 4.1.6 asks for */
    static void *a[N], *b[N];
    unsigned char *w;
    int reused = 0;

    gw_alloc_install();
    for (int i = 0; i < N; i++) {
        a[i] = lws_realloc(NULL, size, "rx_ubuf");
        ck_assert_ptr_nonnull(a[i]);
        memset(a[i], i & 0xff, size);
    }
    /* lws's other blocks stay ordinary ones, resized as ever. */
    w = lws_realloc(NULL, 100, "buflist");
    memset(w, 7, 100);
    w = lws_realloc(w, 100000, "buflist");
    ck_assert_int_eq(w[99], 7);
    lws_realloc(w, 0, "lws_free");

    for (int i = 0; i < N; i += 2)
        lws_realloc(a[i], 0, "lws_free");
    for (int i = 1; i < N; i += 2)
        lws_realloc(a[i], 0, "lws_free");
    for (int i = 0; i < N; i++) {
        b[i] = lws_realloc(NULL, size, "rx_ubuf");
        ck_assert_ptr_nonnull(b[i]);
        memset(b[i], 0x5a, size);
        for (int j = 0; j < N; j++)
            if (b[i] == a[j]) {
                reused++;
                break;
            }
    }
#if !defined(__SANITIZE_ADDRESS__)
    ck_assert_int_ge(reused, N * 9 / 10);
#endif
    b[0] = lws_realloc(b[0], size + 10, "lws_realloc");
    ck_assert_ptr_nonnull(b[0]);
    for (size_t k = 0; k < size; k += 4096)
        ck_assert_int_eq(((unsigned char *)b[0])[k], 0x5a);
    for (int i = N - 1; i >= 0; i--)
        lws_realloc(b[i], 0, "lws_free");
    gw_alloc_trim(); /* marks what is kept now */
    gw_alloc_trim(); /* nobody took any: all freed (ASan would see a double free) */
    w = lws_realloc(NULL, size, "rx_ubuf");
    ck_assert_ptr_nonnull(w);
    memset(w, 1, size);
    lws_realloc(w, 0, "lws_free");
    gw_alloc_trim();
    gw_alloc_trim();
}
END_TEST

Suite *
gateway_units_suite(void)
{
    Suite *s = suite_create("gateway_units");
    TCase *tc = tcase_create("units");

    tcase_add_test(tc, test_conf_minimal_file_gets_safe_defaults);
    tcase_add_test(tc, test_conf_unknown_key_is_a_file_line_error);
    tcase_add_test(tc, test_conf_unknown_section_is_an_error_but_other_programs_sections_are_not);
    tcase_add_test(tc, test_conf_rejects_incomplete_or_out_of_range_settings);
    tcase_add_test(tc, test_check_mode_prints_configuration_ok);
    tcase_add_test(tc, test_vnc_auth_response_matches_rfb_des_with_bit_reversed_key);
    tcase_add_test(tc, test_queue_keeps_order_bytes_and_lws_headroom);
    tcase_add_test(tc, test_rdp_metrics_text_is_a_cumulative_histogram_with_gauges_and_counters);
    tcase_add_test(tc, test_metrics_text_names_every_refusal_reason_and_protocol);
    tcase_add_test(tc, test_alloc_receive_buffers_are_whole_reused_and_trimmed);
    suite_add_tcase(s, tc);
    return s;
}
