/*
 * test_gw_rdp_conf.c - the [rdp] section of portico-gateway's config (gw_conf.c): every
 * key reaches struct gw_rdp_conf, defaults stay when a key is absent, and bad values are
 * file:line errors that say what to write instead.
 */
#include <string.h>

#include <check.h>

#include "gw_priv.h"
#include "rdp.h"

Suite *gateway_rdp_conf_suite(void);

#define MINIMAL "[gateway]\nid = gw-1\nticket_key = /etc/portico/ticket.pub\n"

START_TEST(test_rdp_section_absent_keeps_the_backend_defaults)
{
    struct gw_conf c;
    struct gw_rdp_conf d;
    struct pt_err err = {0};

    gw_rdp_conf_defaults(&d);
    ck_assert_msg(gw_conf_load_string(&c, MINIMAL, "gw.conf", &err) == 0, "%s", err.msg);
    ck_assert(c.rdp.audio);
    ck_assert(d.audio);
    ck_assert_int_eq(c.rdp.clipboard_dir, GW_RDP_CLIP_BOTH);
    ck_assert_uint_eq(c.rdp.clipboard_max, d.clipboard_max);
    ck_assert_int_eq(c.rdp.width, d.width);
    ck_assert_int_eq(c.rdp.max_lag_ms, d.max_lag_ms);
    ck_assert(c.rdp.process_per_session);
    ck_assert_str_eq(c.rdp.cert_trust_dir, "");
    gw_conf_free(&c);
}
END_TEST

START_TEST(test_rdp_keys_reach_the_backend_settings)
{
    struct gw_conf c;
    struct pt_err err = {0};

    ck_assert_msg(gw_conf_load_string(&c,
                                      MINIMAL
                                      "[rdp]\naudio = false\nclipboard_dir = to-desktop\n"
                                      "clipboard_max = 4096\nignore_cert = false\n"
                                      "cert_trust_dir = /var/lib/portico-gateway/rdp-trust\n"
                                      "resize_by_reconnect = true\nwidth = 1024\n"
                                      "height = 768\njpeg_quality = 60\nmax_lag = 2s\n"
                                      "connect_timeout = 15s\n"
                                      "process_per_session = false\n",
                                      "gw.conf", &err) == 0,
                  "%s", err.msg);
    ck_assert(!c.rdp.audio);
    ck_assert_int_eq(c.rdp.clipboard_dir, GW_RDP_CLIP_TO_DESKTOP);
    ck_assert_uint_eq(c.rdp.clipboard_max, 4096);
    ck_assert(!c.rdp.ignore_cert);
    ck_assert_str_eq(c.rdp.cert_trust_dir, "/var/lib/portico-gateway/rdp-trust");
    ck_assert(c.rdp.resize_by_reconnect);
    ck_assert_int_eq(c.rdp.width, 1024);
    ck_assert_int_eq(c.rdp.height, 768);
    ck_assert_int_eq(c.rdp.jpeg_quality, 60);
    ck_assert_int_eq(c.rdp.max_lag_ms, 2000);
    ck_assert_int_eq(c.rdp.connect_timeout_ms, 15000);
    ck_assert(!c.rdp.process_per_session);
    gw_conf_free(&c);
}
END_TEST

/* Each bad [rdp] line fails the load with its file:line or key, and words to fix it. */
START_TEST(test_rdp_bad_values_are_clear_errors)
{
    static const struct {
        const char *text, *want1, *want2;
    } cases[] = {
        {"[rdp]\nclipboard_dir = sideways\n", "clipboard_dir", "to-desktop"},
        {"[rdp]\naudio = loud\n", "gw.conf:5:", "audio"},
        {"[rdp]\nclipboard_max = 10\n", "gw.conf:5:", "clipboard_max"},
        {"[rdp]\nclipboard_max = 99999999999\n", "gw.conf:5:", "clipboard_max"},
        {"[rdp]\nwidth = 1023\n", "width", "even"},
        {"[rdp]\nwidth = 100\n", "gw.conf:5:", "width"},
        {"[rdp]\njpeg_quality = 101\n", "gw.conf:5:", "jpeg_quality"},
        {"[rdp]\nmax_lag = forever\n", "gw.conf:5:", "max_lag"},
        {"[rdp]\nignore_cert = false\ncert_trust_dir = relative/dir\n", "cert_trust_dir",
         "absolute"},
        {"[rdp]\ncert_trust_dir = /var/lib/x\n", "cert_trust_dir", "ignore_cert = false"},
        {"[rdp]\nsound = on\n", "gw.conf:5:", "sound"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_conf c;
        struct pt_err err = {0};
        char text[512];

        snprintf(text, sizeof(text), "%s%s", MINIMAL, cases[i].text);
        ck_assert_msg(gw_conf_load_string(&c, text, "gw.conf", &err) == -1, "accepted: %s",
                      cases[i].text);
        ck_assert_msg(strstr(err.msg, cases[i].want1) && strstr(err.msg, cases[i].want2),
                      "case %zu: %s", i, err.msg);
        gw_conf_free(&c);
    }
}
END_TEST

START_TEST(test_gateway_example_file_is_valid)
{
    struct gw_conf c;
    struct pt_err err = {0};

    ck_assert_msg(gw_conf_load(&c, PORTICO_SOURCE_DIR "/etc/portico-gateway.conf.example", &err) ==
                      0,
                  "%s", err.msg);
    ck_assert(c.rdp.audio);
    ck_assert(!c.rdp.ignore_cert);
    ck_assert_str_eq(c.rdp.cert_trust_dir, "/var/lib/portico-gateway/rdp-trust");
    gw_conf_free(&c);
}
END_TEST

Suite *
gateway_rdp_conf_suite(void)
{
    Suite *s = suite_create("gateway_rdp_conf");
    TCase *tc = tcase_create("conf");

    tcase_add_test(tc, test_rdp_section_absent_keeps_the_backend_defaults);
    tcase_add_test(tc, test_rdp_keys_reach_the_backend_settings);
    tcase_add_test(tc, test_rdp_bad_values_are_clear_errors);
    tcase_add_test(tc, test_gateway_example_file_is_valid);
    suite_add_tcase(s, tc);
    return s;
}
