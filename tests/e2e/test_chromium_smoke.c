/*
 * test_chromium_smoke.c - the Chromium fixture: headless Chromium renders a page served
 * on 127.0.0.1 and the text its script computed is read back (smoke.js); a failing
 * script is reported as failing, not as passed.
 */
#include <stdio.h>
#include <unistd.h>

#include <check.h>

#include "tsupport/fixture.h"

START_TEST(test_chromium_renders_a_local_page_and_runs_its_script)
{
    struct pt_err err = {0};
    int rc = tf_node_run("smoke.js", NULL, 60000, &err);

    ck_assert_msg(rc == 0, "smoke.js: rc %d %s", rc, err.msg);
}
END_TEST

START_TEST(test_a_failing_script_returns_its_exit_status)
{
    struct pt_err err = {0};
    char script[1024];
    FILE *f;
    int rc;

    snprintf(script, sizeof(script), "%s/fail.js", tf_tmpdir());
    f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fputs("require('playwright-core'); process.exit(7);\n", f);
    fclose(f);
    rc = tf_node_run(script, NULL, 20000, &err);
    ck_assert_int_eq(rc, 7);
    unlink(script);
    ck_assert_int_eq(tf_node_run("no-such-script.js", NULL, 1000, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
}
END_TEST

Suite *e2e_chromium_smoke_suite(void);

Suite *
e2e_chromium_smoke_suite(void)
{
    Suite *s = suite_create("e2e_chromium_smoke");
    TCase *tc = tcase_create("chromium");

    tcase_set_timeout(tc, 75);
    tcase_add_test(tc, test_chromium_renders_a_local_page_and_runs_its_script);
    tcase_add_test(tc, test_a_failing_script_returns_its_exit_status);
    suite_add_tcase(s, tc);
    return s;
}
