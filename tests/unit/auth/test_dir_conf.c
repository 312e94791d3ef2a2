/*
 * test_dir_conf.c - the directory client's configuration ([ldap] INI section, defaults,
 * validation) and the escaping helpers, without a server.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "auth/directory.h"
#include "common/conf.h"
#include "dir_priv.h"

static int
apply(void *opaque, const struct pt_conf_entry *e, struct pt_err *err)
{
    return auth_dir_conf_apply(opaque, e, err);
}

START_TEST(test_ldap_section_fills_the_configuration)
{
    static const char text[] = "[ldap]\n"
                               "uri = ldaps://dc1.example.org\n"
                               "uri = ldaps://dc2.example.org\n"
                               "ca_file = /etc/portico/ca.pem\n"
                               "connect_timeout = 2s\n"
                               "op_timeout = 750ms\n"
                               "bind_dn = cn=svc,dc=example,dc=org\n"
                               "bind_pw = s3cret\n"
                               "user_base = ou=people,dc=example,dc=org\n"
                               "user_filter = (objectClass=user)\n"
                               "login_attrs = sAMAccountName userPrincipalName\n"
                               "groups = member_of member\n"
                               "group_base = ou=groups,dc=example,dc=org\n"
                               "nest_depth = 3\n"
                               "disabled = bitmask\n"
                               "disabled_attr = userAccountControl\n"
                               "disabled_mask = 2\n"
                               "admin_group = portico-admins\n"
                               "pool = engineers:eng-pool\n"
                               "pool = cn=ops,ou=groups,dc=example,dc=org:ops-pool\n";
    struct auth_dir_conf c;
    struct pt_err err = {0};
    struct auth_dir *d;

    auth_dir_conf_init(&c);
    ck_assert_msg(pt_conf_parse_string(text, "portico.conf", apply, &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.n_uris, 2);
    ck_assert_int_eq(c.connect_timeout_ms, 2000);
    ck_assert_int_eq(c.op_timeout_ms, 750);
    ck_assert_int_eq(c.group_modes, AUTH_DIR_GROUPS_MEMBER_OF | AUTH_DIR_GROUPS_MEMBER);
    ck_assert_int_eq(c.disabled_mode, AUTH_DIR_DISABLED_BITMASK);
    ck_assert_int_eq(c.disabled_mask, 2);
    ck_assert_int_eq(c.n_pools, 2);
    ck_assert_str_eq(c.pools[1].group, "cn=ops,ou=groups,dc=example,dc=org");
    ck_assert_str_eq(c.pools[1].pool, "ops-pool");
    d = auth_dir_new(&c, &err);
    ck_assert_msg(d, "%s", err.msg);
    ck_assert_int_eq(d->n_login_attrs, 2);
    ck_assert_str_eq(d->login_attrs[1], "userPrincipalName");
    auth_dir_free(d);
    auth_dir_conf_fini(&c);
}
END_TEST

START_TEST(test_bad_ldap_keys_name_file_and_line)
{
    static const char *bad[] = {"[ldap]\nuri = x\nbogus = 1\n", "[ldap]\nop_timeout = soon\n",
                                "[ldap]\ngroups = member everything\n", "[ldap]\npool = no-colon\n",
                                "[ldap]\nbind = kerberos\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct auth_dir_conf c;
        struct pt_err err = {0};
        auth_dir_conf_init(&c);
        ck_assert_int_eq(pt_conf_parse_string(bad[i], "p.conf", apply, &c, &err), -1);
        ck_assert_msg(strncmp(err.msg, "p.conf:", 7) == 0, "%s", err.msg);
        auth_dir_conf_fini(&c);
    }
}
END_TEST

START_TEST(test_invalid_configurations_are_refused)
{
    struct auth_dir_conf c;
    struct pt_err err = {0};

    auth_dir_conf_init(&c);
    ck_assert_ptr_null(auth_dir_new(&c, &err)); /* no URI */
    ck_assert_ptr_nonnull(strstr(err.msg, "URI"));
    auth_dir_conf_add_uri(&c, "http://dc1", NULL);
    ck_assert_ptr_null(auth_dir_new(&c, &err));
    auth_dir_conf_fini(&c);

    auth_dir_conf_init(&c);
    auth_dir_conf_add_uri(&c, "ldap://dc1", NULL);
    c.user_base = strdup("dc=x");
    c.group_base = strdup("dc=x");
    c.bind_mode = AUTH_DIR_BIND_TEMPLATE;
    c.bind_dn_template = strdup("uid=%s,%s");
    ck_assert_ptr_null(auth_dir_new(&c, &err));
    free(c.bind_dn_template);
    c.bind_dn_template = strdup("uid=%s,dc=x");
    c.disabled_mode = AUTH_DIR_DISABLED_PRESENT;
    ck_assert_ptr_null(auth_dir_new(&c, &err)); /* no disabled_attr */
    ck_assert_ptr_nonnull(strstr(err.msg, "disabled_attr"));
    c.disabled_mode = AUTH_DIR_DISABLED_NONE;
    {
        struct auth_dir *d = auth_dir_new(&c, &err);
        ck_assert_msg(d, "%s", err.msg);
        auth_dir_free(d);
    }
    for (int i = 1; i < AUTH_DIR_MAX_URIS; i++)
        ck_assert_int_eq(auth_dir_conf_add_uri(&c, "ldap://more", NULL), 0);
    ck_assert_int_eq(auth_dir_conf_add_uri(&c, "ldap://one-too-many", &err), -1);
    auth_dir_conf_fini(&c);
}
END_TEST

START_TEST(test_filter_values_are_escaped_per_rfc4515)
{
    char *s = dir_filter_escape("*)(uid=*\\");

    ck_assert_str_eq(s, "\\2A\\29\\28uid=\\2A\\5C");
    free(s);
    s = dir_filter_escape("uid=o*brien,ou=people");
    ck_assert_str_eq(s, "uid=o\\2Abrien,ou=people");
    free(s);
}
END_TEST

START_TEST(test_dn_values_are_escaped_per_rfc4514)
{
    char *s = dir_dn_value_escape("alice,ou=admins+cn=\"x\"\\;<>");

    ck_assert_str_eq(s, "alice\\,ou\\=admins\\+cn\\=\\\"x\\\"\\\\\\;\\<\\>");
    free(s);
    s = dir_dn_value_escape("#lead and trail ");
    ck_assert_str_eq(s, "\\#lead and trail\\ ");
    free(s);
    s = dir_dn_value_escape(" o*brien");
    ck_assert_str_eq(s, "\\ o*brien");
    free(s);
}
END_TEST

START_TEST(test_user_messages_do_not_tell_which_part_was_wrong)
{
    struct pt_err a = {PT_E_AUTH, "no such user"}, b = {PT_E_AUTH, "invalid credentials for x"};

    ck_assert_str_eq(auth_dir_user_message(&a), auth_dir_user_message(&b));
    ck_assert_str_eq(auth_dir_via_str(AUTH_DIR_VIA_NESTED), "nested");
}
END_TEST

Suite *auth_dir_conf_suite(void);

Suite *
auth_dir_conf_suite(void)
{
    Suite *s = suite_create("auth_dir_conf");
    TCase *tc = tcase_create("conf");

    tcase_add_test(tc, test_ldap_section_fills_the_configuration);
    tcase_add_test(tc, test_bad_ldap_keys_name_file_and_line);
    tcase_add_test(tc, test_invalid_configurations_are_refused);
    tcase_add_test(tc, test_filter_values_are_escaped_per_rfc4515);
    tcase_add_test(tc, test_dn_values_are_escaped_per_rfc4514);
    tcase_add_test(tc, test_user_messages_do_not_tell_which_part_was_wrong);
    suite_add_tcase(s, tc);
    return s;
}
