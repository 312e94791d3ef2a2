/*
 * test_cli.c - porticoctl driving a running broker (real slapd, libvirt's test:///
 * driver behind pool/): sign-in and the token file, tables and --json, exit codes,
 * admin verbs and a resize.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "bk_client.h"
#include "common/mem.h"

Suite *broker_cli_suite(void);

static struct tf_slapd *slapd;
static struct bk_broker broker;
static char ctl[1024], token[800], token_env[900], url[128], url_arg[160];

static void
cli_setup(void)
{
    struct pt_err err = {0};
    char sections[3072], ldap[1024], *image;
    const char *bd = getenv("PORTICO_BUILD_DIR");

    slapd = tf_slapd_start(NULL, &err);
    if (!slapd)
        ck_abort_msg("slapd: %s", err.msg);
    image = tf_golden_node_write("c", &err);
    if (!image)
        ck_abort_msg("%s", err.msg);
    tf_slapd_broker_ldap(slapd, ldap, sizeof(ldap));
    snprintf(sections, sizeof(sections),
             "%spool = desktop-users:eng\n"
             "[hypervisor]\nuri = test://%s\nprobe = domain_state\n"
             "reconcile_interval = 200ms\ndomain_prefix = cli%d-\n"
             "[pool \"eng\"]\nimage = /golden/base.qcow2\nmemory = 128\ndomain_type = test\nmin = "
             "0\nmax = 2\nwarm = 0\n",
             ldap, image, (int)getpid());
    free(image);
    if (bk_broker_start(&broker, "rate_limit_rps = 0\n", sections, &err) < 0)
        ck_abort_msg("broker: %s", err.msg);
    snprintf(ctl, sizeof(ctl), "%s/cli/porticoctl", bd ? bd : ".");
    snprintf(token, sizeof(token), "%s/token-%d", tf_tmpdir(), (int)getpid());
    snprintf(token_env, sizeof(token_env), "PORTICO_TOKEN_FILE=%s", token);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", broker.port);
    snprintf(url_arg, sizeof(url_arg), "--url=%s", url);
}

static void
cli_teardown(void)
{
    bool clean = bk_broker_stop(&broker);

    tf_slapd_stop(slapd);
    ck_assert_msg(clean, "broker did not stop cleanly");
}

/* Run porticoctl with @args (NULL-terminated) and @password on stdin; output in @out. */
static int
ctl_run(const char *password, struct pt_buf *out, const char *a0, ...)
{
    char *argv[16];
    const char *env[] = {token_env, NULL};
    char cafile[800];
    int n = 0, rc;
    va_list ap;

    snprintf(cafile, sizeof(cafile), "--ca=%s/state/broker.crt", broker.dir);
    argv[n++] = ctl;
    argv[n++] = cafile;
    va_start(ap, a0);
    for (const char *a = a0; a && n < 15; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    pt_buf_reset(out);
    rc = bk_run(argv, env, password, out, 20000);
    if (!out->data)
        pt_buf_appends(out, "");
    return rc;
}

static void
login(const char *user, const char *pw)
{
    struct pt_buf out = PT_BUF_INIT;
    char who[300];

    snprintf(who, sizeof(who), "--user=%s", user);
    ck_assert_msg(ctl_run(pw, &out, url_arg, "login", "--user", user, NULL) == 0, "%s", out.data);
    (void)who;
    pt_buf_fini(&out);
}

START_TEST(test_login_keeps_the_session_in_a_0600_file_and_wrong_password_exits_3)
{
    struct pt_buf out = PT_BUF_INIT;
    struct stat st;

    unlink(token);
    ck_assert_int_eq(ctl_run("wrong\n", &out, url_arg, "login", "--user", "bob", NULL), 3);
    ck_assert_ptr_nonnull(strstr(out.data, "bad_credentials"));
    ck_assert_int_ne(access(token, F_OK), 0);
    ck_assert_int_eq(ctl_run("bob-pw\n", &out, url_arg, "login", "--user", "bob", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "signed in as bob (admin)"));
    ck_assert_int_eq(stat(token, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    pt_buf_fini(&out);
}
END_TEST

START_TEST(test_pool_list_prints_a_table_and_json)
{
    struct pt_buf out = PT_BUF_INIT;
    json_t *j;

    login("bob", "bob-pw\n");
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "list", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "POOL"));
    ck_assert_ptr_nonnull(strstr(out.data, "eng"));
    ck_assert_int_eq(ctl_run(NULL, &out, "--json", "pool", "list", NULL), 0);
    j = json_loads(out.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "pools"), 0), "name")),
        "eng");
    json_decref(j);
    pt_buf_fini(&out);
}
END_TEST

START_TEST(test_resize_changes_the_spec_and_wait_converges)
{
    struct pt_buf out = PT_BUF_INIT;
    json_t *j;

    login("bob", "bob-pw\n");
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "resize", "eng", "--max", "3", "--wait",
                             "--timeout", "10", NULL),
                     0);
    ck_assert_ptr_nonnull(strstr(out.data, "eng:"));
    ck_assert_int_eq(ctl_run(NULL, &out, "--json", "pool", "show", "eng", NULL), 0);
    j = json_loads(out.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "max")), 3);
    json_decref(j);
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "resize", "eng", "--min", "9", NULL), 6);
    ck_assert_ptr_nonnull(strstr(out.data, "invalid_spec"));
    pt_buf_fini(&out);
}
END_TEST

START_TEST(test_exit_codes_say_what_went_wrong)
{
    struct pt_buf out = PT_BUF_INIT;

    login("bob", "bob-pw\n");
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "show", "no-such-pool", NULL), 5);
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "frobnicate", NULL), 2);
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "resize", "--help", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "usage: porticoctl"));
    login("alice", "alice-pw\n");
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "list", NULL), 4);
    ck_assert_ptr_nonnull(strstr(out.data, "admin_required"));
    ck_assert_int_eq(ctl_run(NULL, &out, "logout", NULL), 0);
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "list", NULL), 3);
    pt_buf_fini(&out);
}
END_TEST

START_TEST(test_admin_verbs_list_hosts_sessions_desktops_and_resolve_users)
{
    struct pt_buf out = PT_BUF_INIT;

    login("bob", "bob-pw\n");
    ck_assert_int_eq(ctl_run(NULL, &out, "host", "list", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "local"));
    ck_assert_int_eq(ctl_run(NULL, &out, "session", "list", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "bob"));
    ck_assert_int_eq(ctl_run(NULL, &out, "desktop", "list", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "DESKTOP"));
    ck_assert_int_eq(ctl_run(NULL, &out, "user", "resolve", "alice", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "desktop-users"));
    ck_assert_int_eq(ctl_run(NULL, &out, "user", "resolve", "nobody-at-all", NULL), 5);
    ck_assert_int_eq(ctl_run(NULL, &out, "host", "drain", "local", NULL), 0);
    ck_assert_int_eq(ctl_run(NULL, &out, "--json", "host", "list", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "\"draining\": true"));
    ck_assert_int_eq(ctl_run(NULL, &out, "host", "undrain", "local", NULL), 0);
    ck_assert_int_eq(ctl_run(NULL, &out, "host", "drain", "nowhere", NULL), 5);
    pt_buf_fini(&out);
}
END_TEST

START_TEST(test_pool_create_then_delete)
{
    struct pt_buf out = PT_BUF_INIT;

    login("bob", "bob-pw\n");
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "create", "qa", "image=/golden/base.qcow2",
                             "memory=128", "domain_type=test", "max=1", "warm=0", NULL),
                     0);
    ck_assert_ptr_nonnull(strstr(out.data, "pool qa created"));
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "create", "qa", "image=/golden/base.qcow2", NULL),
                     6);
    ck_assert_ptr_nonnull(strstr(out.data, "pool_exists"));
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "create", "qb", "warm=2", NULL), 6);
    ck_assert_ptr_nonnull(strstr(out.data, "invalid_spec"));
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "create", "qc", "nonsense", NULL), 2);
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "delete", "qa", "--wait", NULL), 0);
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "show", "qa", NULL), 5);
    pt_buf_fini(&out);
}
END_TEST

START_TEST(test_desktop_delete_removes_an_idle_desktop_and_refuses_unknown_ids)
{
    struct pt_buf out = PT_BUF_INIT;
    char id[128] = "";
    int rc = -1;

    login("bob", "bob-pw\n");
    ck_assert_int_eq(ctl_run(NULL, &out, "desktop", "delete", "no-such-desktop", NULL), 5);
    ck_assert_int_eq(ctl_run(NULL, &out, "desktop", "delete", NULL), 2);
    ck_assert_int_eq(ctl_run(NULL, &out, "desktop", "delete", "a/b", NULL), 2);
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "create", "qd", "image=/golden/base.qcow2",
                             "memory=128", "domain_type=test", "max=1", "warm=1", NULL),
                     0);
    for (int t = 0; t < 100 && !id[0]; t++) { /* the pool clones its warm desktop */
        json_t *j, *d;

        ck_assert_int_eq(ctl_run(NULL, &out, "--json", "desktop", "list", "--pool", "qd", NULL), 0);
        j = json_loads(out.data, 0, NULL);
        ck_assert_ptr_nonnull(j);
        d = json_array_get(json_object_get(j, "desktops"), 0);
        if (d)
            pt_strlcpy(id, json_string_value(json_object_get(d, "id")), sizeof(id));
        json_decref(j);
        if (!id[0])
            usleep(100000);
    }
    ck_assert_msg(id[0], "pool qd made no desktop");
    for (int t = 0; t < 50; t++) { /* exit 6 "in progress" while its clone/start runs */
        rc = ctl_run(NULL, &out, "desktop", "delete", id, NULL);
        if (rc != 6 || !strstr(out.data, "in progress"))
            break;
        usleep(100000);
    }
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out.data);
    ck_assert_ptr_nonnull(strstr(out.data, "is being deleted"));
    ck_assert_int_eq(ctl_run(NULL, &out, "pool", "delete", "qd", "--wait", NULL), 0);
    pt_buf_fini(&out);
}
END_TEST

Suite *
broker_cli_suite(void)
{
    Suite *s = suite_create("broker_cli");
    TCase *tc = tcase_create("porticoctl");

    tcase_add_unchecked_fixture(tc, cli_setup, cli_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_login_keeps_the_session_in_a_0600_file_and_wrong_password_exits_3);
    tcase_add_test(tc, test_pool_list_prints_a_table_and_json);
    tcase_add_test(tc, test_resize_changes_the_spec_and_wait_converges);
    tcase_add_test(tc, test_exit_codes_say_what_went_wrong);
    tcase_add_test(tc, test_admin_verbs_list_hosts_sessions_desktops_and_resolve_users);
    tcase_add_test(tc, test_pool_create_then_delete);
    tcase_add_test(tc, test_desktop_delete_removes_an_idle_desktop_and_refuses_unknown_ids);
    suite_add_tcase(s, tc);
    return s;
}
