/*
 * test_pool_spec_rdp.c - a pool's RDP keys: credentials mode, fixed account, password file
 * path, clipboard policy and audio; validation, cross-field checks, and the round trip
 * through the text form the store keeps (which holds the path, never a password).
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "pool/pool.h"

static struct pool_spec *
rdp_spec(void)
{
    struct pool_spec *s = pool_spec_new("win", NULL);
    struct pt_err err = {0};

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(pool_spec_set(s, "image", "/golden/win.qcow2", &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "protocols", "rdp", &err), 0);
    return s;
}

static int
set(struct pool_spec *s, const char *k, const char *v, struct pt_err *err)
{
    pt_err_clear(err);
    return pool_spec_set(s, k, v, err);
}

START_TEST(test_defaults_are_login_screen_both_ways_with_audio)
{
    struct pool_spec *s = rdp_spec();
    struct pt_err err = {0};

    ck_assert_int_eq(s->rdp_credentials, POOL_RDP_CREDS_NONE);
    ck_assert_int_eq(s->clipboard, POOL_CLIP_BOTH);
    ck_assert_int_eq(s->clipboard_max, 0);
    ck_assert(s->audio);
    ck_assert_int_eq(pool_spec_check(s, &err), 0);
    pool_spec_free(s);
}
END_TEST

START_TEST(test_fixed_credentials_need_user_and_password_file)
{
    struct pool_spec *s = rdp_spec();
    struct pt_err err = {0};

    ck_assert_int_eq(set(s, "rdp_credentials", "fixed", &err), 0);
    ck_assert_int_eq(pool_spec_check(s, &err), -1);
    ck_assert_msg(strstr(err.msg, "rdp_username") && strstr(err.msg, "rdp_password_file"), "%s",
                  err.msg);
    ck_assert_int_eq(set(s, "rdp_username", "kiosk", &err), 0);
    ck_assert_int_eq(pool_spec_check(s, &err), -1);
    ck_assert_int_eq(set(s, "rdp_password_file", "/etc/portico/kiosk.pw", &err), 0);
    ck_assert_int_eq(set(s, "rdp_domain", "CORP", &err), 0);
    ck_assert_int_eq(pool_spec_check(s, &err), 0);
    /* the user name and file are for fixed only: switching to sso must drop them */
    ck_assert_int_eq(set(s, "rdp_credentials", "sso", &err), 0);
    ck_assert_int_eq(pool_spec_check(s, &err), -1);
    ck_assert_msg(strstr(err.msg, "only with rdp_credentials = fixed"), "%s", err.msg);
    ck_assert_int_eq(set(s, "rdp_username", "", &err), 0);
    ck_assert_int_eq(set(s, "rdp_password_file", "", &err), 0);
    ck_assert_int_eq(pool_spec_check(s, &err), 0);
    /* credentials on a pool that offers no RDP are a mistake */
    ck_assert_int_eq(set(s, "protocols", "spice", &err), 0);
    ck_assert_int_eq(pool_spec_check(s, &err), -1);
    ck_assert_msg(strstr(err.msg, "needs rdp in protocols"), "%s", err.msg);
    pool_spec_free(s);
}
END_TEST

static const struct {
    const char *key, *value, *says;
} bad[] = {
    {"rdp_credentials", "kerberos", "none, fixed or sso"},
    {"rdp_credentials", "", "none, fixed or sso"},
    {"rdp_username", "ali\nce", "control characters"},
    {"rdp_username", "ali\tce", "control characters"},
    {"rdp_domain", "CO\rRP", "control characters"},
    {"rdp_domain", "x\x7f", "control characters"},
    {"rdp_password_file", "kiosk.pw", "absolute path"},
    {"rdp_password_file", "/etc/a\nb", "control characters"},
    {"clipboard", "in", "both, to-desktop, from-desktop or none"},
    {"clipboard", "Both", "both, to-desktop, from-desktop or none"},
    {"clipboard_max", "-1", "clipboard_max"},
    {"clipboard_max", "16777217", "clipboard_max"},
    {"clipboard_max", "64k", "clipboard_max"},
    {"audio", "maybe", "yes or no"},
};

START_TEST(test_bad_values_are_refused_with_what_to_write)
{
    struct pool_spec *s = rdp_spec();
    struct pt_err err = {0};

    ck_assert_int_eq(set(s, bad[_i].key, bad[_i].value, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_msg(strstr(err.msg, bad[_i].says), "%s=%s: %s", bad[_i].key, bad[_i].value, err.msg);
    pool_spec_free(s);
}
END_TEST

START_TEST(test_user_name_and_domain_lengths_are_bounded)
{
    struct pool_spec *s = rdp_spec();
    struct pt_err err = {0};
    char v[POOL_RDP_USER_MAX + 2];

    memset(v, 'u', POOL_RDP_USER_MAX);
    v[POOL_RDP_USER_MAX] = '\0';
    ck_assert_int_eq(set(s, "rdp_username", v, &err), 0);
    ck_assert_int_eq(set(s, "rdp_domain", v, &err), 0);
    v[POOL_RDP_USER_MAX] = 'u';
    v[POOL_RDP_USER_MAX + 1] = '\0';
    ck_assert_int_eq(set(s, "rdp_username", v, &err), -1);
    ck_assert_int_eq(set(s, "rdp_domain", v, &err), -1);
    ck_assert_uint_eq(strlen(s->rdp_username), POOL_RDP_USER_MAX); /* unchanged */
    /* UTF-8 names are fine */
    ck_assert_int_eq(set(s, "rdp_username", "zoë", &err), 0);
    pool_spec_free(s);
}
END_TEST

START_TEST(test_rdp_keys_round_trip_through_the_stored_text)
{
    struct pool_spec *s = rdp_spec(), *back = pool_spec_new("win", NULL);
    struct pool_spec *dup;
    struct pt_err err = {0};
    char *text, *save = NULL, *again;

    ck_assert_int_eq(set(s, "rdp_credentials", "fixed", &err), 0);
    ck_assert_int_eq(set(s, "rdp_username", "kiosk", &err), 0);
    ck_assert_int_eq(set(s, "rdp_domain", "CORP", &err), 0);
    ck_assert_int_eq(set(s, "rdp_password_file", "/etc/portico/kiosk.pw", &err), 0);
    ck_assert_int_eq(set(s, "clipboard", "to-desktop", &err), 0);
    ck_assert_int_eq(set(s, "clipboard_max", "65536", &err), 0);
    ck_assert_int_eq(set(s, "audio", "no", &err), 0);
    text = pool_spec_format(s);
    ck_assert_msg(strstr(text, "rdp_credentials = fixed\n") &&
                      strstr(text, "rdp_password_file = /etc/portico/kiosk.pw\n") &&
                      strstr(text, "clipboard = to-desktop\n") &&
                      strstr(text, "clipboard_max = 65536\n") && strstr(text, "audio = no\n"),
                  "%s", text);
    again = strdup(text);
    for (char *line = strtok_r(again, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(line, " = ");
        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        ck_assert_msg(pool_spec_set(back, line, eq + 3, &err) == 0, "%s: %s", line, err.msg);
    }
    free(again);
    ck_assert_int_eq(pool_spec_check(back, &err), 0);
    ck_assert_int_eq(back->rdp_credentials, POOL_RDP_CREDS_FIXED);
    ck_assert_str_eq(back->rdp_username, "kiosk");
    ck_assert_str_eq(back->rdp_domain, "CORP");
    ck_assert_str_eq(back->rdp_password_file, "/etc/portico/kiosk.pw");
    ck_assert_int_eq(back->clipboard, POOL_CLIP_TO_DESKTOP);
    ck_assert_int_eq(back->clipboard_max, 65536);
    ck_assert(!back->audio);
    dup = pool_spec_dup(back);
    again = pool_spec_format(dup);
    ck_assert_str_eq(again, text);
    free(again);
    free(text);
    pool_spec_free(dup);
    pool_spec_free(back);
    pool_spec_free(s);
}
END_TEST

START_TEST(test_config_file_keys_reach_the_spec)
{
    static const char ini[] = "[pool \"kiosk\"]\nimage = /g.qcow2\nprotocols = rdp\n"
                              "rdp_credentials = sso\nrdp_domain = CORP\nclipboard = none\n"
                              "audio = no\n";
    struct pool_conf *pc = pool_conf_new();
    struct pt_conf_entry e = {0};
    struct pt_err err = {0};
    char buf[sizeof(ini)], *save = NULL;
    const struct pool_spec *s;
    int line = 0;

    memcpy(buf, ini, sizeof(ini));
    e.file = "test.conf";
    e.section = "pool";
    for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(l, " = ");
        e.line = ++line;
        if (l[0] == '[') {
            e.name = "kiosk";
            e.key = NULL;
            e.value = NULL;
        } else {
            *eq = '\0';
            e.key = l;
            e.value = eq + 3;
        }
        ck_assert_msg(pool_conf_set(pc, &e, &err) == 0, "%s", err.msg);
    }
    ck_assert_int_eq(pool_conf_finish(pc, &err), 0);
    s = pool_conf_pool(pc, 0);
    ck_assert_int_eq(s->rdp_credentials, POOL_RDP_CREDS_SSO);
    ck_assert_str_eq(s->rdp_domain, "CORP");
    ck_assert_int_eq(s->clipboard, POOL_CLIP_NONE);
    ck_assert(!s->audio);
    ck_assert_str_eq(pool_rdp_creds_str(s->rdp_credentials), "sso");
    ck_assert_str_eq(pool_clip_str(s->clipboard), "none");
    pool_conf_free(pc);
}
END_TEST

Suite *pool_spec_rdp_suite(void);
Suite *
pool_spec_rdp_suite(void)
{
    Suite *s = suite_create("pool_spec_rdp");
    TCase *tc = tcase_create("rdp");

    tcase_add_test(tc, test_defaults_are_login_screen_both_ways_with_audio);
    tcase_add_test(tc, test_fixed_credentials_need_user_and_password_file);
    tcase_add_loop_test(tc, test_bad_values_are_refused_with_what_to_write, 0,
                        sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, test_user_name_and_domain_lengths_are_bounded);
    tcase_add_test(tc, test_rdp_keys_round_trip_through_the_stored_text);
    tcase_add_test(tc, test_config_file_keys_reach_the_spec);
    suite_add_tcase(s, tc);
    return s;
}
