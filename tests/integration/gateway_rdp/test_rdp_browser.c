/*
 * test_rdp_browser.c - the stock guacamole-common-js client in headless Chromium draws an
 * RDP desktop served by the real portico-gateway (rdp_view.js does the browser part).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "gwtest.h"
#include "rdp_lab.h"

/* A failed browser run: the gateway's last non-debug log lines, for the reason. */
static void
gateway_log_tail(const struct gwt *g)
{
    char cmd[700];

    snprintf(cmd, sizeof(cmd), "grep -v level=debug %s | tail -30 >&2", g->proc.log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "gateway log: %s\n", g->proc.log_path);
}

START_TEST(test_stock_guacamole_client_in_chromium_draws_the_desktop)
{
    struct lab_shadow lab;
    struct pt_err err;
    struct gwt g;
    char url[64], script[1024];
    char *ticket;
    int rc;

    ck_assert_msg(lab_shadow_start(&lab, 640, 480, &err) == 0, "%s", err.msg);
    gwt_start(&g, false, NULL);
    ticket = gwt_ticket(&g, AUTH_PROTO_RDP, "127.0.0.1", lab.port, 2, NULL, 0, 0, NULL);
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/tunnel", g.port);
    snprintf(script, sizeof(script), "%s/tests/integration/gateway_rdp/rdp_view.js",
             tf_source_dir());
    {
        char *args[] = {url, ticket, lab.display_str, NULL};
        rc = tf_node_run(script, args, 90000, &err);
    }
    free(ticket);
    if (rc != 0)
        gateway_log_tail(&g);
    gwt_stop(&g);
    lab_shadow_stop(&lab);
    ck_assert_msg(rc == 0, "rdp_view.js: rc %d %s", rc, rc < 0 ? err.msg : "(see log)");
}
END_TEST

START_TEST(test_stock_guacamole_client_in_chromium_copies_and_pastes_both_ways)
{
    struct lab_shadow lab;
    struct pt_err err;
    struct gwt g;
    char url[64], script[1024];
    char *ticket;
    int rc;

    ck_assert_msg(lab_xrdp_start(&lab, 640, 480, &err) == 0, "%s", err.msg);
    gwt_start(&g, false, NULL);
    /* any user/password: xrdp's AutoLogon goes straight to the VNC screen */
    ticket = gwt_ticket(&g, AUTH_PROTO_RDP, "127.0.0.1", lab.port, 2, NULL, 0, 0, "na\npw");
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/tunnel", g.port);
    snprintf(script, sizeof(script), "%s/tests/integration/gateway_rdp/rdp_clip_view.js",
             tf_source_dir());
    {
        char *args[] = {url, ticket, lab.display_str, NULL};
        rc = tf_node_run(script, args, 90000, &err);
    }
    free(ticket);
    if (rc != 0)
        gateway_log_tail(&g);
    gwt_stop(&g);
    lab_shadow_stop(&lab);
    ck_assert_msg(rc == 0, "rdp_clip_view.js: rc %d %s", rc, rc < 0 ? err.msg : "(see log)");
}
END_TEST

#if defined(RDP_TONE_SERVER)
START_TEST(test_stock_guacamole_client_in_chromium_gets_a_raw_audio_player_for_the_sound)
{
    struct lab_tone tn;
    struct pt_err err;
    struct gwt g;
    char url[64], script[1024];
    char *ticket;
    int rc;

    ck_assert_msg(lab_tone_start(&tn, RDP_TONE_SERVER, 440, &err) == 0, "%s", err.msg);
    gwt_start(&g, false, NULL);
    ticket = gwt_ticket(&g, AUTH_PROTO_RDP, "127.0.0.1", tn.port, 2, NULL, 0, 0, NULL);
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/tunnel", g.port);
    snprintf(script, sizeof(script), "%s/tests/integration/gateway_rdp/rdp_audio_view.js",
             tf_source_dir());
    {
        char mime[] = "audio/L16;rate=44100,channels=2";
        char *args[] = {url, ticket, mime, NULL};
        rc = tf_node_run(script, args, 90000, &err);
    }
    free(ticket);
    if (rc != 0)
        gateway_log_tail(&g);
    gwt_stop(&g);
    lab_tone_stop(&tn);
    ck_assert_msg(rc == 0, "rdp_audio_view.js: rc %d %s", rc, rc < 0 ? err.msg : "(see log)");
}
END_TEST
#endif

Suite *gateway_rdp_browser_suite(void);
Suite *
gateway_rdp_browser_suite(void)
{
    Suite *s = suite_create("gateway_rdp_browser");
    TCase *tc = tcase_create("chromium");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_stock_guacamole_client_in_chromium_draws_the_desktop);
    tcase_add_test(tc, test_stock_guacamole_client_in_chromium_copies_and_pastes_both_ways);
#if defined(RDP_TONE_SERVER)
    tcase_add_test(tc,
                   test_stock_guacamole_client_in_chromium_gets_a_raw_audio_player_for_the_sound);
#endif
    suite_add_tcase(s, tc);
    return s;
}
