/*
 * test_web.c - the web UI end to end: the built portico-broker serving <build>/web/dist
 * (web/build.sh), a real slapd for sign-in and pool/ on libvirt's test:/// driver, driven
 * by headless Chromium (web/portal.js, web/admin.js through tf_node_run). Screenshots of
 * each step are kept under <build>/tests/e2e/artifacts/ for people to look at.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "bk_client.h"
#include "e2e_web.h"

Suite *e2e_web_suite(void);

static struct tf_slapd *slapd;
static struct bk_broker broker;

static void
web_setup(void)
{
    struct pt_err err = {0};
    char sections[3072], ldap[1024], *node, extra[1400];

    e2e_require_web_root();
    slapd = tf_slapd_start(NULL, &err);
    if (!slapd)
        ck_abort_msg("slapd: %s", err.msg);
    node = tf_golden_node_write("w", &err);
    if (!node)
        ck_abort_msg("%s", err.msg);
    tf_slapd_broker_ldap(slapd, ldap, sizeof(ldap));
    snprintf(sections, sizeof(sections),
             "%spool = desktop-users:eng\n"
             "pool = desktop-users:win\n"
             "[hypervisor]\nuri = test://%s\nprobe = domain_state\n"
             "reconcile_interval = 100ms\ndomain_prefix = wb%d-\n"
             "[pool \"eng\"]\nimage = /golden/base.qcow2\nmemory = 128\ndomain_type = test\n"
             "min = 0\nmax = 4\nwarm = 1\nprotocols = spice,vnc\n"
             "[pool \"win\"]\nimage = /golden/base.qcow2\nmemory = 128\ndomain_type = test\n"
             "min = 0\nmax = 2\nwarm = 0\nprotocols = rdp\n",
             ldap, node, (int)getpid());
    free(node);
    snprintf(extra, sizeof(extra),
             "rate_limit_rps = 0\nweb_root = %s\n"
             "gateway_url = wss://127.0.0.1:9/tunnel\n",
             e2e_web_root());
    if (bk_broker_start(&broker, extra, sections, &err) < 0)
        ck_abort_msg("broker: %s", err.msg);
}

static void
web_teardown(void)
{
    bool clean = bk_broker_stop(&broker);

    tf_slapd_stop(slapd);
    ck_assert_msg(clean, "broker did not stop cleanly (see its log)");
}

static void
run_script(const char *script, const char *mode)
{
    struct pt_err err = {0};
    char url[64];
    char *args[4];
    int rc;

    snprintf(url, sizeof(url), "https://127.0.0.1:%d", broker.port);
    args[0] = (char *)mode;
    args[1] = url;
    args[2] = (char *)e2e_artifacts(mode);
    args[3] = NULL;
    rc = tf_node_run(script, args, 90000, &err);
    ck_assert_msg(rc == 0, "%s %s: rc %d %s (screenshots in %s)", script, mode, rc, err.msg,
                  args[2]);
}

START_TEST(test_a_user_signs_in_sees_her_desktops_and_signs_out)
{
    run_script("web/portal.js", "portal");
}
END_TEST

START_TEST(
    test_a_wrong_password_and_a_locked_account_say_so_and_an_ended_session_returns_to_sign_in)
{
    run_script("web/portal.js", "errors");
}
END_TEST

START_TEST(test_sign_in_with_the_directory_down_says_so)
{
    tf_slapd_stop(slapd);
    slapd = NULL;
    run_script("web/portal.js", "unavailable");
}
END_TEST

START_TEST(test_an_admin_resizes_a_pool_and_the_counts_follow)
{
    run_script("web/admin.js", "admin");
}
END_TEST

Suite *
e2e_web_suite(void)
{
    Suite *s = suite_create("e2e_web");
    TCase *tc = tcase_create("portal_admin");

    tcase_set_timeout(tc, 100);
    tcase_add_checked_fixture(tc, web_setup, web_teardown);
    tcase_add_test(tc, test_a_user_signs_in_sees_her_desktops_and_signs_out);
    tcase_add_test(
        tc,
        test_a_wrong_password_and_a_locked_account_say_so_and_an_ended_session_returns_to_sign_in);
    tcase_add_test(tc, test_sign_in_with_the_directory_down_says_so);
    tcase_add_test(tc, test_an_admin_resizes_a_pool_and_the_counts_follow);
    suite_add_tcase(s, tc);
    return s;
}
