/*
 * test_directory.c - sign-in against a real slapd (tf_slapd_start with
 * tests/data/ldap/auth.ldif): awkward names, nested/unique/posix/memberOf groups, paging,
 * disabled accounts, wrong and empty passwords, filter injection, bind templates,
 * LDAPS/StartTLS, failover, and timeouts against a stopped (SIGSTOP) server.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "auth/directory.h"
#include "common/str.h"
#include "tsupport/fixture.h"

static struct tf_slapd *slapd;
static char ldif[512];

static void
slapd_up(void)
{
    struct pt_err err = {0};

    snprintf(ldif, sizeof(ldif), "%s/tests/data/ldap/auth.ldif", tf_source_dir());
    slapd = tf_slapd_start(ldif, &err);
    ck_assert_msg(slapd, "slapd: %s", err.msg);
}

static void
slapd_down(void)
{
    tf_slapd_stop(slapd);
    slapd = NULL;
}

/* conf_base() - search mode, anonymous search, groups by member/uniqueMember/memberUid,
 * nesting 2 levels, pages of 2, ppolicy lock as "disabled", a few pool rules. */
static void
conf_base(struct auth_dir_conf *c, const char *uri)
{
    auth_dir_conf_init(c);
    ck_assert_int_eq(auth_dir_conf_add_uri(c, uri, NULL), 0);
    c->user_base = strdup("ou=people,dc=example,dc=org");
    c->group_base = strdup("ou=groups,dc=example,dc=org");
    c->group_modes =
        AUTH_DIR_GROUPS_MEMBER | AUTH_DIR_GROUPS_UNIQUE_MEMBER | AUTH_DIR_GROUPS_MEMBER_UID;
    c->nest_depth = 2;
    c->page_size = 2;
    c->connect_timeout_ms = 1000;
    c->op_timeout_ms = 1000;
    c->disabled_mode = AUTH_DIR_DISABLED_PRESENT;
    c->disabled_attr = strdup("pwdAccountLockedTime");
    c->admin_group = strdup("admins");
    ck_assert_int_eq(auth_dir_conf_add_pool(c, "desktop-users", "desktops", NULL), 0);
    ck_assert_int_eq(auth_dir_conf_add_pool(c, "staff", "staff-pool", NULL), 0);
    ck_assert_int_eq(auth_dir_conf_add_pool(c, "all-hands", "too-deep", NULL), 0);
    ck_assert_int_eq(
        auth_dir_conf_add_pool(c, "cn=devs,ou=groups,dc=example,dc=org", "dev-pool", NULL), 0);
    ck_assert_int_eq(auth_dir_conf_add_pool(c, "auditors", "audit-pool", NULL), 0);
}

/* login() - sign in with a fresh struct auth_dir from @c (which is finalised). Returns the
 * pt_errc; *@out (may be NULL) receives the user on success. */
static enum pt_errc
login(struct auth_dir_conf *c, const char *user, const char *pw, struct auth_dir_user **out,
      struct pt_err *err)
{
    struct auth_dir *d = auth_dir_new(c, err);
    struct auth_dir_conn *conn;
    struct auth_dir_user *u = NULL;
    int rc;

    auth_dir_conf_fini(c);
    ck_assert_msg(d, "%s", err->msg);
    conn = auth_dir_conn_new(d);
    rc = auth_dir_conn_login(conn, user, pw, &u, err);
    auth_dir_conn_free(conn);
    auth_dir_free(d);
    if (out)
        *out = u;
    else
        auth_dir_user_free(u);
    return rc == 0 ? PT_E_OK : err->code;
}

static const struct auth_dir_group *
group(const struct auth_dir_user *u, const char *name)
{
    for (size_t i = 0; i < u->n_groups; i++) {
        if (strcmp(u->groups[i].name, name) == 0)
            return &u->groups[i];
    }
    return NULL;
}

static bool
has_pool(const struct auth_dir_user *u, const char *pool)
{
    for (size_t i = 0; i < u->n_pools; i++) {
        if (strcmp(u->pools[i], pool) == 0)
            return true;
    }
    return false;
}

/* sso_user_attr: the desktop login for single sign-on pools comes from the directory
 * (here the mail attribute, as an AD site would use sAMAccountName), else it is unset and
 * the broker uses the sign-in name. */
START_TEST(test_sso_user_attr_names_the_desktop_login)
{
    struct auth_dir_conf c;
    struct auth_dir_user *u;
    struct pt_err err = {0};
    struct pt_conf_entry e = {"test.conf", 1, "ldap", NULL, "sso_user_attr", "mail"};

    conf_base(&c, tf_slapd_uri(slapd));
    ck_assert_int_eq(auth_dir_conf_apply(&c, &e, &err), 0);
    ck_assert_msg(login(&c, "alice", "alice-pw", &u, &err) == PT_E_OK, "%s", err.msg);
    ck_assert_str_eq(u->sso_user, "alice@example.org");
    auth_dir_user_free(u);
    conf_base(&c, tf_slapd_uri(slapd));
    ck_assert_msg(login(&c, "alice", "alice-pw", &u, &err) == PT_E_OK, "%s", err.msg);
    ck_assert_ptr_null(u->sso_user);
    auth_dir_user_free(u);
}
END_TEST

START_TEST(test_alice_gets_direct_paged_and_nested_groups_and_pools)
{
    struct auth_dir_conf c;
    struct auth_dir_user *u;
    struct pt_err err = {0};
    const struct auth_dir_group *g;

    conf_base(&c, tf_slapd_uri(slapd));
    ck_assert_msg(login(&c, "alice", "alice-pw", &u, &err) == PT_E_OK, "%s", err.msg);
    ck_assert_str_eq(u->dn, "uid=alice,ou=people,dc=example,dc=org");
    ck_assert_str_eq(u->display, "Alice Liddell");
    /* 6 direct groups with pages of 2, nested staff (1) and everyone (2), not all-hands (3) */
    g = group(u, "desktop-users");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->via, AUTH_DIR_VIA_MEMBER);
    ck_assert_int_eq(g->depth, 0);
    for (int i = 1; i <= 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "team-%02d", i);
        ck_assert_msg(group(u, name), "%s missing", name);
    }
    g = group(u, "staff");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->via, AUTH_DIR_VIA_NESTED);
    ck_assert_int_eq(g->depth, 1);
    ck_assert_str_eq(g->parent, "cn=desktop-users,ou=groups,dc=example,dc=org");
    g = group(u, "everyone");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->depth, 2);
    ck_assert_ptr_null(group(u, "all-hands"));
    ck_assert_int_eq(u->n_groups, 8);
    ck_assert(has_pool(u, "desktops") && has_pool(u, "staff-pool"));
    ck_assert(!has_pool(u, "too-deep") && !has_pool(u, "dev-pool"));
    ck_assert(!u->admin);
    auth_dir_user_free(u);
}
END_TEST

START_TEST(test_bob_is_admin_and_group_cycles_end)
{
    struct auth_dir_conf c;
    struct auth_dir_user *u;
    struct pt_err err = {0};

    conf_base(&c, tf_slapd_uri(slapd));
    c.nest_depth = 8;
    ck_assert_msg(login(&c, "bob", "bob-pw", &u, &err) == PT_E_OK, "%s", err.msg);
    ck_assert(u->admin);
    ck_assert_ptr_nonnull(group(u, "admins"));
    ck_assert_ptr_nonnull(group(u, "loop-a"));
    ck_assert_int_eq(group(u, "loop-b")->via, AUTH_DIR_VIA_NESTED);
    ck_assert_int_eq(u->n_groups, 3); /* admins, loop-a, loop-b: the cycle adds nothing */
    ck_assert_int_eq(u->n_pools, 0);
    auth_dir_user_free(u);
}
END_TEST

START_TEST(test_users_with_awkward_names_sign_in)
{
    static const char *users[][2] = {
        {"o*brien", "o*brien-pw"},   {"j(ohn)", "j(ohn)-pw"}, {"back\\slash", "back\\slash-pw"},
        {"mary ann", "mary ann-pw"}, {"zoë", "zoë-pw"},       {"ZOË", "zoë-pw"},
    };
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        struct auth_dir_conf c;
        struct auth_dir_user *u;
        struct pt_err err = {0};
        conf_base(&c, tf_slapd_uri(slapd));
        ck_assert_msg(login(&c, users[i][0], users[i][1], &u, &err) == PT_E_OK, "%s: %s",
                      users[i][0], err.msg);
        if (strcmp(users[i][0], "j(ohn)") == 0) {
            ck_assert_int_eq(group(u, "auditors")->via, AUTH_DIR_VIA_UNIQUE_MEMBER);
            ck_assert(has_pool(u, "audit-pool") && has_pool(u, "desktops"));
        }
        if (strcmp(users[i][0], "mary ann") == 0 || strcmp(users[i][0], "back\\slash") == 0) {
            ck_assert_int_eq(group(u, "devs")->via, AUTH_DIR_VIA_MEMBER_UID);
            ck_assert(has_pool(u, "dev-pool"));
        }
        if (strcmp(users[i][0], "o*brien") == 0)
            ck_assert_str_eq(u->dn, "uid=o*brien,ou=people,dc=example,dc=org");
        auth_dir_user_free(u);
    }
}
END_TEST

START_TEST(test_wrong_password_is_refused)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};

    conf_base(&c, tf_slapd_uri(slapd));
    ck_assert_int_eq(login(&c, "alice", "bob-pw", NULL, &err), PT_E_AUTH);
    ck_assert_str_eq(auth_dir_user_message(&err), "Wrong user name or password.");
    conf_base(&c, tf_slapd_uri(slapd));
    ck_assert_int_eq(login(&c, "o*brien", "o*", NULL, &err), PT_E_AUTH);
}
END_TEST

START_TEST(test_empty_password_is_refused_before_any_bind)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};

    /* the only server is unreachable: refusing with an auth error proves no I/O happened */
    conf_base(&c, "ldap://127.0.0.1:1");
    ck_assert_int_eq(login(&c, "alice", "", NULL, &err), PT_E_AUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty password"));
    conf_base(&c, "ldap://127.0.0.1:1");
    ck_assert_int_eq(login(&c, "alice", NULL, NULL, &err), PT_E_AUTH);
}
END_TEST

START_TEST(test_filter_injection_matches_nobody)
{
    static const char *evil[] = {"*)(uid=*", "*",           "alice)(|(uid=*",  "a*",
                                 "alice\\",  "(uid=alice)", "*)(objectClass=*"};

    for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
        struct auth_dir_conf c;
        struct pt_err err = {0};
        conf_base(&c, tf_slapd_uri(slapd));
        ck_assert_msg(login(&c, evil[i], "alice-pw", NULL, &err) == PT_E_AUTH, "%s: %s", evil[i],
                      err.msg);
        ck_assert_msg(strstr(err.msg, "no such user"), "%s: %s", evil[i], err.msg);
    }
}
END_TEST

START_TEST(test_disabled_account_is_refused_with_the_right_password)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};
    struct auth_dir_user *u;

    conf_base(&c, tf_slapd_uri(slapd));
    ck_assert_int_eq(login(&c, "carol", "carol-pw", NULL, &err), PT_E_FORBIDDEN);
    ck_assert_ptr_nonnull(strstr(auth_dir_user_message(&err), "disabled"));
    /* AD-style bitmask on an integer attribute (shadowFlag stands in for userAccountControl) */
    conf_base(&c, tf_slapd_uri(slapd));
    c.disabled_mode = AUTH_DIR_DISABLED_BITMASK;
    free(c.disabled_attr);
    c.disabled_attr = strdup("shadowFlag");
    c.disabled_mask = 2;
    ck_assert_int_eq(login(&c, "erin", "erin-pw", NULL, &err), PT_E_FORBIDDEN);
    conf_base(&c, tf_slapd_uri(slapd));
    c.disabled_mode = AUTH_DIR_DISABLED_BITMASK;
    free(c.disabled_attr);
    c.disabled_attr = strdup("shadowFlag");
    c.disabled_mask = 4;
    ck_assert_msg(login(&c, "erin", "erin-pw", &u, &err) == PT_E_OK, "%s", err.msg);
    auth_dir_user_free(u);
}
END_TEST

START_TEST(test_member_of_mode_reads_groups_from_the_user_entry)
{
    struct auth_dir_conf c;
    struct auth_dir_user *u;
    struct pt_err err = {0};

    conf_base(&c, tf_slapd_uri(slapd));
    c.group_modes = AUTH_DIR_GROUPS_MEMBER_OF;
    c.nest_depth = 1;
    free(c.group_base); /* AD style: nesting through the groups' own memberOf */
    c.group_base = NULL;
    ck_assert_msg(login(&c, "alice", "alice-pw", &u, &err) == PT_E_OK, "%s", err.msg);
    ck_assert_int_eq(group(u, "desktop-users")->via, AUTH_DIR_VIA_MEMBER_OF);
    ck_assert_int_eq(group(u, "team-03")->via, AUTH_DIR_VIA_MEMBER_OF);
    ck_assert_int_eq(group(u, "staff")->via, AUTH_DIR_VIA_NESTED);
    ck_assert(has_pool(u, "desktops") && has_pool(u, "staff-pool"));
    auth_dir_user_free(u);
}
END_TEST

START_TEST(test_bind_template_escapes_the_user_name_as_a_dn_value)
{
    static const char *users[][2] = {
        {"o*brien", "o*brien-pw"}, {"back\\slash", "back\\slash-pw"}, {"mary ann", "mary ann-pw"}};
    struct auth_dir_conf c;
    struct pt_err err = {0};

    for (size_t i = 0; i < 3; i++) {
        struct auth_dir_user *u;
        conf_base(&c, tf_slapd_uri(slapd));
        c.bind_mode = AUTH_DIR_BIND_TEMPLATE;
        c.bind_dn_template = strdup("uid=%s,ou=people,dc=example,dc=org");
        ck_assert_msg(login(&c, users[i][0], users[i][1], &u, &err) == PT_E_OK, "%s: %s",
                      users[i][0], err.msg);
        ck_assert_ptr_nonnull(group(u, "desktop-users") ? u : u);
        auth_dir_user_free(u);
    }
    conf_base(&c, tf_slapd_uri(slapd));
    c.bind_mode = AUTH_DIR_BIND_TEMPLATE;
    c.bind_dn_template = strdup("uid=%s,ou=people,dc=example,dc=org");
    ck_assert_int_eq(login(&c, "alice,ou=people", "alice-pw", NULL, &err), PT_E_AUTH);
    conf_base(&c, tf_slapd_uri(slapd));
    c.bind_mode = AUTH_DIR_BIND_TEMPLATE;
    c.bind_dn_template = strdup("uid=%s,ou=people,dc=example,dc=org");
    ck_assert_int_eq(login(&c, "carol", "carol-pw", NULL, &err), PT_E_AUTH); /* ppolicy lock */
}
END_TEST

START_TEST(test_second_login_attribute_matches_mail)
{
    struct auth_dir_conf c;
    struct auth_dir_user *u;
    struct pt_err err = {0};

    conf_base(&c, tf_slapd_uri(slapd));
    free(c.login_attrs);
    c.login_attrs = strdup("uid mail"); /* AD: "sAMAccountName userPrincipalName" */
    ck_assert_msg(login(&c, "alice@example.org", "alice-pw", &u, &err) == PT_E_OK, "%s", err.msg);
    ck_assert_str_eq(u->dn, "uid=alice,ou=people,dc=example,dc=org");
    auth_dir_user_free(u);
}
END_TEST

START_TEST(test_service_account_search_and_a_wrong_service_password)
{
    struct auth_dir_conf c;
    struct auth_dir_user *u;
    struct pt_err err = {0};

    conf_base(&c, tf_slapd_uri(slapd));
    c.bind_dn = strdup(tf_slapd_admin_dn(slapd));
    c.bind_pw = strdup(tf_slapd_admin_pw(slapd));
    ck_assert_msg(login(&c, "alice", "alice-pw", &u, &err) == PT_E_OK, "%s", err.msg);
    auth_dir_user_free(u);
    conf_base(&c, tf_slapd_uri(slapd));
    c.bind_dn = strdup(tf_slapd_admin_dn(slapd));
    c.bind_pw = strdup("not-the-password");
    ck_assert_int_eq(login(&c, "alice", "alice-pw", NULL, &err), PT_E_INTERNAL);
    ck_assert_msg(strstr(err.msg, "service bind"), "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, "not-the-password"));
}
END_TEST

START_TEST(test_ldaps_and_starttls_verify_the_fixture_ca)
{
    struct auth_dir_conf c;
    struct auth_dir_user *u;
    struct pt_err err = {0};

    conf_base(&c, tf_slapd_uri_tls(slapd));
    c.ca_file = strdup(tf_slapd_ca_file(slapd));
    ck_assert_msg(login(&c, "o*brien", "o*brien-pw", &u, &err) == PT_E_OK, "ldaps: %s", err.msg);
    auth_dir_user_free(u);
    conf_base(&c, tf_slapd_uri(slapd));
    c.ca_file = strdup(tf_slapd_ca_file(slapd));
    c.starttls = true;
    ck_assert_msg(login(&c, "alice", "alice-pw", &u, &err) == PT_E_OK, "starttls: %s", err.msg);
    auth_dir_user_free(u);
    /* another CA: the certificate check fails and nothing is sent in clear */
    conf_base(&c, tf_slapd_uri(slapd));
    c.ca_file = strdup("/etc/ssl/certs/ca-certificates.crt");
    c.starttls = true;
    ck_assert_int_eq(login(&c, "alice", "alice-pw", NULL, &err), PT_E_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "StartTLS"), "%s", err.msg);
    conf_base(&c, tf_slapd_uri_tls(slapd));
    c.ca_file = strdup("/etc/ssl/certs/ca-certificates.crt");
    ck_assert_int_eq(login(&c, "alice", "alice-pw", NULL, &err), PT_E_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, tf_slapd_uri_tls(slapd)), "%s", err.msg);
}
END_TEST

START_TEST(test_first_server_down_second_answers)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};
    struct auth_dir *d;
    struct auth_dir_conn *conn;
    struct auth_dir_user *u = NULL;
    char dead[64];

    snprintf(dead, sizeof(dead), "ldap://127.0.0.1:%d", tf_free_port());
    conf_base(&c, dead);
    ck_assert_int_eq(auth_dir_conf_add_uri(&c, tf_slapd_uri(slapd), NULL), 0);
    d = auth_dir_new(&c, &err);
    auth_dir_conf_fini(&c);
    conn = auth_dir_conn_new(d);
    ck_assert_msg(auth_dir_conn_login(conn, "alice", "alice-pw", &u, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(auth_dir_conn_server(conn), tf_slapd_uri(slapd));
    auth_dir_user_free(u);
    auth_dir_conn_free(conn);
    auth_dir_free(d);
}
END_TEST

START_TEST(test_both_servers_down_is_directory_unavailable_quickly)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};
    char a[64], b[64];
    int64_t t0;

    snprintf(a, sizeof(a), "ldap://127.0.0.1:%d", tf_free_port());
    snprintf(b, sizeof(b), "ldap://127.0.0.1:%d", tf_free_port());
    conf_base(&c, a);
    ck_assert_int_eq(auth_dir_conf_add_uri(&c, b, NULL), 0);
    t0 = pt_time_mono_ms();
    ck_assert_int_eq(login(&c, "alice", "alice-pw", NULL, &err), PT_E_UNAVAILABLE);
    ck_assert_int_lt(pt_time_mono_ms() - t0, 1000);
    ck_assert_msg(strstr(err.msg, "directory unavailable") && strstr(err.msg, a) &&
                      strstr(err.msg, b),
                  "%s", err.msg);
    ck_assert_str_eq(auth_dir_user_message(&err),
                     "The directory is unavailable. Try again in a few minutes.");
}
END_TEST

START_TEST(test_stopped_server_times_out_then_fails_over)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};
    struct auth_dir_user *u;
    struct tf_slapd *frozen = tf_slapd_start(ldif, &err);
    char dead[64];
    int64_t t0, dt;

    ck_assert_msg(frozen, "%s", err.msg);
    tf_slapd_pause(frozen);
    /* frozen first, live second: one operation timeout (500 ms), then success */
    conf_base(&c, tf_slapd_uri(frozen));
    c.op_timeout_ms = 500;
    ck_assert_int_eq(auth_dir_conf_add_uri(&c, tf_slapd_uri(slapd), NULL), 0);
    t0 = pt_time_mono_ms();
    ck_assert_msg(login(&c, "alice", "alice-pw", &u, &err) == PT_E_OK, "%s", err.msg);
    dt = pt_time_mono_ms() - t0;
    ck_assert_msg(dt >= 450 && dt < 2500, "took %lld ms", (long long)dt);
    auth_dir_user_free(u);
    /* frozen first, nothing second: "directory unavailable" within the timeout */
    snprintf(dead, sizeof(dead), "ldap://127.0.0.1:%d", tf_free_port());
    conf_base(&c, tf_slapd_uri(frozen));
    c.op_timeout_ms = 500;
    ck_assert_int_eq(auth_dir_conf_add_uri(&c, dead, NULL), 0);
    t0 = pt_time_mono_ms();
    ck_assert_int_eq(login(&c, "alice", "alice-pw", NULL, &err), PT_E_UNAVAILABLE);
    dt = pt_time_mono_ms() - t0;
    ck_assert_msg(dt < 2500, "took %lld ms", (long long)dt);
    ck_assert_msg(strstr(err.msg, "timed out"), "%s", err.msg);
    /* LDAPS to a frozen server: the TLS handshake is bounded as well */
    conf_base(&c, tf_slapd_uri_tls(frozen));
    c.ca_file = strdup(tf_slapd_ca_file(frozen));
    c.op_timeout_ms = 500;
    t0 = pt_time_mono_ms();
    ck_assert_int_eq(login(&c, "alice", "alice-pw", NULL, &err), PT_E_UNAVAILABLE);
    dt = pt_time_mono_ms() - t0;
    ck_assert_msg(dt < 3000, "ldaps took %lld ms: %s", (long long)dt, err.msg);
    tf_slapd_resume(frozen);
    tf_slapd_stop(frozen);
}
END_TEST

START_TEST(test_resolve_shows_groups_and_disabled_state_without_a_password)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};
    struct auth_dir *d;
    struct auth_dir_conn *conn;
    struct auth_dir_user *u = NULL;

    conf_base(&c, tf_slapd_uri(slapd));
    d = auth_dir_new(&c, &err);
    auth_dir_conf_fini(&c);
    conn = auth_dir_conn_new(d);
    ck_assert_msg(auth_dir_conn_resolve(conn, "carol", &u, &err) == 0, "%s", err.msg);
    ck_assert(u->disabled);
    auth_dir_user_free(u);
    ck_assert_msg(auth_dir_conn_resolve(conn, "j(ohn)", &u, &err) == 0, "%s", err.msg);
    ck_assert(!u->disabled);
    ck_assert_int_eq(group(u, "auditors")->via, AUTH_DIR_VIA_UNIQUE_MEMBER);
    ck_assert_str_eq(auth_dir_via_str(group(u, "auditors")->via), "unique_member");
    auth_dir_user_free(u);
    ck_assert_int_eq(auth_dir_conn_resolve(conn, "*", &u, &err), -1);
    ck_assert_int_eq(err.code, PT_E_AUTH);
    auth_dir_conn_free(conn);
    auth_dir_free(d);
}
END_TEST

START_TEST(test_server_dying_between_sign_ins_fails_over_on_the_next_call)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};
    struct tf_slapd *first = tf_slapd_start(ldif, &err);
    struct auth_dir *d;
    struct auth_dir_conn *conn;
    struct auth_dir_user *u = NULL;
    char first_uri[64];

    ck_assert_msg(first, "%s", err.msg);
    pt_strlcpy(first_uri, tf_slapd_uri(first), sizeof(first_uri));
    conf_base(&c, first_uri);
    ck_assert_int_eq(auth_dir_conf_add_uri(&c, tf_slapd_uri(slapd), NULL), 0);
    d = auth_dir_new(&c, &err);
    auth_dir_conf_fini(&c);
    conn = auth_dir_conn_new(d);
    ck_assert_msg(auth_dir_conn_login(conn, "alice", "alice-pw", &u, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(auth_dir_conn_server(conn), first_uri);
    auth_dir_user_free(u);
    tf_slapd_stop(first); /* both kept connections now point at a dead server */
    ck_assert_msg(auth_dir_conn_login(conn, "bob", "bob-pw", &u, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(auth_dir_conn_server(conn), tf_slapd_uri(slapd));
    ck_assert(u->admin);
    auth_dir_user_free(u);
    auth_dir_conn_free(conn);
    auth_dir_free(d);
}
END_TEST

struct racer {
    pthread_t th;
    const struct auth_dir *dir;
    int index, ok;
};

static void *
racer_main(void *p)
{
    struct racer *r = p;
    struct auth_dir_conn *conn = auth_dir_conn_new(r->dir);
    static const char *users[][2] = {{"alice", "alice-pw"},
                                     {"o*brien", "o*brien-pw"},
                                     {"j(ohn)", "j(ohn)-pw"},
                                     {"bob", "bob-pw"}};

    for (int i = 0; i < 20; i++) {
        struct auth_dir_user *u = NULL;
        struct pt_err err = {0};
        const char *const *pick = users[(i + r->index) % 4];
        if (auth_dir_conn_login(conn, pick[0], pick[1], &u, &err) == 0 && u->n_groups > 0)
            r->ok++;
        auth_dir_user_free(u);
    }
    auth_dir_conn_free(conn);
    return NULL;
}

START_TEST(test_four_workers_sign_in_concurrently_with_their_own_connections)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};
    struct racer r[4];
    struct auth_dir *d;

    conf_base(&c, tf_slapd_uri(slapd));
    d = auth_dir_new(&c, &err);
    auth_dir_conf_fini(&c);
    ck_assert_msg(d, "%s", err.msg);
    for (int i = 0; i < 4; i++) {
        r[i].dir = d;
        r[i].index = i;
        r[i].ok = 0;
        ck_assert_int_eq(pthread_create(&r[i].th, NULL, racer_main, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(r[i].th, NULL);
        ck_assert_int_eq(r[i].ok, 20);
    }
    auth_dir_free(d);
}
END_TEST

Suite *auth_directory_suite(void);

Suite *
auth_directory_suite(void)
{
    Suite *s = suite_create("auth_directory");
    TCase *tc = tcase_create("slapd");

    tcase_add_unchecked_fixture(tc, slapd_up, slapd_down);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_alice_gets_direct_paged_and_nested_groups_and_pools);
    tcase_add_test(tc, test_sso_user_attr_names_the_desktop_login);
    tcase_add_test(tc, test_bob_is_admin_and_group_cycles_end);
    tcase_add_test(tc, test_users_with_awkward_names_sign_in);
    tcase_add_test(tc, test_wrong_password_is_refused);
    tcase_add_test(tc, test_empty_password_is_refused_before_any_bind);
    tcase_add_test(tc, test_filter_injection_matches_nobody);
    tcase_add_test(tc, test_disabled_account_is_refused_with_the_right_password);
    tcase_add_test(tc, test_member_of_mode_reads_groups_from_the_user_entry);
    tcase_add_test(tc, test_bind_template_escapes_the_user_name_as_a_dn_value);
    tcase_add_test(tc, test_second_login_attribute_matches_mail);
    tcase_add_test(tc, test_service_account_search_and_a_wrong_service_password);
    tcase_add_test(tc, test_ldaps_and_starttls_verify_the_fixture_ca);
    tcase_add_test(tc, test_first_server_down_second_answers);
    tcase_add_test(tc, test_both_servers_down_is_directory_unavailable_quickly);
    tcase_add_test(tc, test_stopped_server_times_out_then_fails_over);
    tcase_add_test(tc, test_resolve_shows_groups_and_disabled_state_without_a_password);
    tcase_add_test(tc, test_four_workers_sign_in_concurrently_with_their_own_connections);
    tcase_add_test(tc, test_server_dying_between_sign_ins_fails_over_on_the_next_call);
    suite_add_tcase(s, tc);
    return s;
}
