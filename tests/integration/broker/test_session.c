/*
 * test_session.c - sign-in against a real slapd (tests/data/ldap/base.ldif: alice/alice-pw
 * in desktop-users, bob/bob-pw in admins), sessions, CSRF, admin-only routes, user
 * resolution, session disconnect, the gateway's tunnel reports, and sign-in metrics,
 * all over HTTPS against the built portico-broker.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "bk_client.h"
#include "common/mem.h"
#include "common/str.h"

Suite *broker_session_suite(void);

static struct tf_slapd *slapd;
static struct bk_broker broker;
static char gw_secret_path[700];
#define GW_SECRET "0123456789abcdef0123456789abcdef"

static void
ldap_section(char *out, size_t n)
{
    char ldap[1024];

    tf_slapd_broker_ldap(slapd, ldap, sizeof(ldap));
    snprintf(out, n, "%spool = desktop-users:eng\npool = admins:eng\n", ldap);
}

static void
session_setup(void)
{
    struct pt_err err = {0};
    char sections[2048], extra[1024];
    FILE *f;

    slapd = tf_slapd_start(NULL, &err);
    if (!slapd)
        ck_abort_msg("slapd: %s", err.msg);
    snprintf(gw_secret_path, sizeof(gw_secret_path), "%s/gw-secret-%d", tf_tmpdir(), (int)getpid());
    f = fopen(gw_secret_path, "w");
    fputs(GW_SECRET "\n", f);
    fclose(f);
    ldap_section(sections, sizeof(sections));
    snprintf(extra, sizeof(extra), "gateway_secret_file = %s\nrate_limit_rps = 0\n",
             gw_secret_path);
    if (bk_broker_start(&broker, extra, sections, &err) < 0)
        ck_abort_msg("broker: %s", err.msg);
}

static void
session_teardown(void)
{
    bool clean = bk_broker_stop(&broker);

    tf_slapd_stop(slapd);
    ck_assert_msg(clean, "broker did not stop cleanly");
}

/* Sign @user in: the HTTP status; the reply stays in @out. */
static int
login_as(int port, const char *user, const char *pw, struct bk_who *w, struct bk_resp *out)
{
    struct pt_err err = {0};
    int status = bk_login(port, user, pw, w, out, &err);

    ck_assert_msg(status > 0, "login %s: %s", user, err.msg);
    return status;
}

static void
login_ok(const char *user, const char *pw, struct bk_who *w)
{
    struct bk_resp r;

    ck_assert_int_eq(login_as(broker.port, user, pw, w, &r), 200);
    bk_resp_fini(&r);
}

static int
call(const char *method, const char *path, const char *const *hdrs, const char *body,
     struct bk_resp *r)
{
    struct pt_err err = {0};

    ck_assert_msg(
        bk_https(broker.port, method, path, hdrs, body, body ? strlen(body) : 0, r, &err) == 0,
        "%s", err.msg);
    return r->status;
}

START_TEST(test_login_sets_a_strict_cookie_and_returns_the_csrf_token_and_pools)
{
    struct bk_resp r;
    struct bk_who w;
    const char *sc;
    json_t *pools;

    ck_assert_int_eq(login_as(broker.port, "alice", "alice-pw", &w, &r), 200);
    sc = bk_resp_header(&r, "set-cookie");
    ck_assert_ptr_nonnull(strstr(sc, "portico_session="));
    ck_assert_ptr_nonnull(strstr(sc, "HttpOnly"));
    ck_assert_ptr_nonnull(strstr(sc, "Secure"));
    ck_assert_ptr_nonnull(strstr(sc, "SameSite=Strict"));
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "user")), "alice");
    ck_assert(json_is_false(json_object_get(r.json, "admin")));
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(r.json, "csrf_token"))), 64);
    pools = json_object_get(r.json, "pools");
    ck_assert_uint_eq(json_array_size(pools), 1);
    ck_assert_str_eq(json_string_value(json_array_get(pools, 0)), "eng");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_wrong_password_is_401_bad_credentials)
{
    struct bk_resp r;
    struct bk_who w;

    ck_assert_int_eq(login_as(broker.port, "alice", "nope", &w, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "bad_credentials");
    ck_assert_ptr_null(bk_resp_header(&r, "set-cookie"));
    bk_resp_fini(&r);
    ck_assert_int_eq(login_as(broker.port, "nobody", "x", &w, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "bad_credentials");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_login_bad_bodies_are_400_with_precise_codes)
{
    struct bk_resp r;

    ck_assert_int_eq(call("POST", "/api/v1/login", NULL, "{\"user\":", &r), 400);
    ck_assert_str_eq(bk_resp_error_code(&r), "malformed_json");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/login", NULL, "[1,2]", &r), 400);
    ck_assert_str_eq(bk_resp_error_code(&r), "malformed_json");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/login", NULL, "{\"user\":\"alice\"}", &r), 400);
    ck_assert_str_eq(bk_resp_error_code(&r), "invalid_request");
    bk_resp_fini(&r);
    ck_assert_int_eq(
        call("POST", "/api/v1/login", NULL, "{\"user\":\"alice\",\"password\":\"\"}", &r), 400);
    ck_assert_str_eq(bk_resp_error_code(&r), "invalid_request");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/login", NULL, NULL, &r), 405);
    ck_assert_str_eq(bk_resp_error_code(&r), "method_not_allowed");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_me_needs_a_session)
{
    struct bk_resp r;
    struct bk_who w;
    const char *stale[] = {"Cookie: portico_session=00000000000000000000000000000000000000000000"
                           "00000000000000000000",
                           NULL};

    ck_assert_int_eq(call("GET", "/api/v1/me", NULL, NULL, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "not_signed_in");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/me", stale, NULL, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "session_expired");
    bk_resp_fini(&r);
    login_ok("alice", "alice-pw", &w);
    ck_assert_int_eq(call("GET", "/api/v1/me", w.hdrs, NULL, &r), 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "user")), "alice");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_logout_needs_the_csrf_token_then_ends_the_session)
{
    struct bk_resp r;
    struct bk_who w;
    const char *no_csrf[2], *bad_csrf[3];
    char bad[120];

    login_ok("alice", "alice-pw", &w);
    no_csrf[0] = w.cookie;
    no_csrf[1] = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/logout", no_csrf, NULL, &r), 403);
    ck_assert_str_eq(bk_resp_error_code(&r), "csrf_missing");
    bk_resp_fini(&r);
    snprintf(bad, sizeof(bad), "X-CSRF-Token: %064d", 7);
    bad_csrf[0] = w.cookie;
    bad_csrf[1] = bad;
    bad_csrf[2] = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/logout", bad_csrf, NULL, &r), 403);
    ck_assert_str_eq(bk_resp_error_code(&r), "csrf_mismatch");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/logout", w.hdrs, NULL, &r), 200);
    ck_assert_ptr_nonnull(strstr(bk_resp_header(&r, "set-cookie"), "Max-Age=0"));
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/me", w.hdrs, NULL, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "session_expired");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_admin_routes_refuse_a_non_admin_and_serve_an_admin)
{
    struct bk_resp r;
    struct bk_who alice, bob;

    login_ok("alice", "alice-pw", &alice);
    login_ok("bob", "bob-pw", &bob);
    ck_assert_int_eq(call("GET", "/api/v1/admin/sessions", alice.hdrs, NULL, &r), 403);
    ck_assert_str_eq(bk_resp_error_code(&r), "admin_required");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/admin/users/alice", alice.hdrs, NULL, &r), 403);
    ck_assert_str_eq(bk_resp_error_code(&r), "admin_required");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/admin/sessions", NULL, NULL, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "not_signed_in");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/admin/sessions", bob.hdrs, NULL, &r), 200);
    ck_assert_uint_ge(json_array_size(json_object_get(r.json, "sessions")), 2);
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_admin_resolves_a_user_with_groups_and_pools)
{
    struct bk_resp r;
    struct bk_who bob;
    json_t *groups;
    bool in_group = false;

    login_ok("bob", "bob-pw", &bob);
    ck_assert_int_eq(call("GET", "/api/v1/admin/users/alice", bob.hdrs, NULL, &r), 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "user")), "alice");
    groups = json_object_get(r.json, "groups");
    for (size_t i = 0; i < json_array_size(groups); i++)
        in_group = in_group ||
                   strcmp(json_string_value(json_object_get(json_array_get(groups, i), "name")),
                          "desktop-users") == 0;
    ck_assert(in_group);
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/admin/users/nobody-here", bob.hdrs, NULL, &r), 404);
    ck_assert_str_eq(bk_resp_error_code(&r), "not_found");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_admin_disconnect_ends_another_users_session)
{
    struct bk_resp r;
    struct bk_who alice, bob;
    char path[128];
    const char *bob_nocsrf[2];

    login_ok("alice", "alice-pw", &alice);
    login_ok("bob", "bob-pw", &bob);
    ck_assert_int_eq(call("GET", "/api/v1/me", alice.hdrs, NULL, &r), 200);
    snprintf(path, sizeof(path), "/api/v1/admin/sessions/%s/disconnect",
             json_string_value(json_object_get(r.json, "session_id")));
    bk_resp_fini(&r);
    bob_nocsrf[0] = bob.cookie;
    bob_nocsrf[1] = NULL;
    ck_assert_int_eq(call("POST", path, bob_nocsrf, NULL, &r), 403);
    ck_assert_str_eq(bk_resp_error_code(&r), "csrf_missing");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", path, bob.hdrs, NULL, &r), 200);
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/me", alice.hdrs, NULL, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "session_expired");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", path, bob.hdrs, NULL, &r), 404);
    ck_assert_str_eq(bk_resp_error_code(&r), "not_found");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_gateway_tunnel_reports_need_the_shared_secret)
{
    struct bk_resp r;
    struct bk_who bob;
    const char *gw[] = {"Authorization: Bearer " GW_SECRET, NULL};
    const char *bad[] = {"Authorization: Bearer not-the-secret-at-all-no", NULL};
    const char *open =
        "{\"event\":\"opened\",\"gateway\":\"gw1\",\"tunnel\":42,\"ticket_id\":\"t1\","
        "\"session_id\":\"s1\",\"desktop\":\"eng-1\",\"user\":\"alice\"}";
    const char *close =
        "{\"event\":\"closed\",\"gateway\":\"gw1\",\"tunnel\":42,\"desktop\":\"eng-1\","
        "\"user\":\"alice\",\"bytes_up\":10,\"bytes_down\":2000}";

    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", NULL, open, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "gateway_unauthenticated");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", bad, open, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "gateway_unauthenticated");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw, "{\"event\":\"opened\"}", &r),
                     400);
    ck_assert_str_eq(bk_resp_error_code(&r), "invalid_request");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw, "{nope", &r), 400);
    ck_assert_str_eq(bk_resp_error_code(&r), "malformed_json");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw, open, &r), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "tunnels_open")), 1);
    bk_resp_fini(&r);
    login_ok("bob", "bob-pw", &bob);
    ck_assert_int_eq(call("GET", "/api/v1/admin/sessions", bob.hdrs, NULL, &r), 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "tunnels")), 1);
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw, close, &r), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "tunnels_open")), 0);
    bk_resp_fini(&r);
}
END_TEST

/* curl over h2 (or HTTP/1.1): POST /api/v1/logout with @cookie and @origin (NULL: none);
 * returns the status, or -1 if curl is missing. */
static int
curl_logout(bool h2, const char *cookie, const char *origin)
{
    struct pt_buf out = PT_BUF_INIT;
    char url[128], oh[300];
    char *argv[16];
    int a = 0, status = -1;

    if (access("/usr/bin/curl", X_OK) != 0)
        return -1;
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/v1/logout", broker.port);
    argv[a++] = (char *)"/usr/bin/curl";
    argv[a++] = (char *)"-sk";
    argv[a++] = (char *)(h2 ? "--http2" : "--http1.1");
    argv[a++] = (char *)"-o";
    argv[a++] = (char *)"/dev/null";
    argv[a++] = (char *)"-w";
    argv[a++] = (char *)"%{http_version} %{http_code}";
    argv[a++] = (char *)"-X";
    argv[a++] = (char *)"POST";
    argv[a++] = (char *)"-H";
    argv[a++] = (char *)cookie;
    if (origin) {
        snprintf(oh, sizeof(oh), "Origin: %s", origin);
        argv[a++] = (char *)"-H";
        argv[a++] = oh;
    }
    argv[a++] = url;
    argv[a] = NULL;
    ck_assert_int_eq(bk_run(argv, NULL, NULL, &out, 10000), 0);
    ck_assert_msg(out.data && out.data[0] == (h2 ? '2' : '1'), "curl: %s",
                  out.data ? out.data : "");
    status = atoi(strchr(out.data, ' ') ? strchr(out.data, ' ') + 1 : "-1");
    pt_buf_fini(&out);
    return status;
}

/* Over h2 lws drops custom request headers, so a browser's X-CSRF-Token is invisible: a
 * state-changing call is then accepted only with an Origin equal to the broker's own. */
START_TEST(test_h2_state_changing_calls_need_the_brokers_own_origin)
{
    struct bk_who w;
    char self[100];

    if (access("/usr/bin/curl", X_OK) != 0)
        return; /* curl is in scripts/install-deps.sh */
    login_ok("alice", "alice-pw", &w);
    snprintf(self, sizeof(self), "https://127.0.0.1:%d", broker.port);
    ck_assert_int_eq(curl_logout(true, w.cookie, NULL), 403);
    ck_assert_int_eq(curl_logout(true, w.cookie, "https://evil.example"), 403);
    ck_assert_int_eq(curl_logout(true, w.cookie, "https://127.0.0.1:1"), 403);
    ck_assert_int_eq(curl_logout(true, w.cookie, "null"), 403);
    /* HTTP/1.1 still needs the header, whatever the Origin */
    ck_assert_int_eq(curl_logout(false, w.cookie, self), 403);
    ck_assert_int_eq(curl_logout(true, w.cookie, self), 200);
    ck_assert_int_eq(curl_logout(true, w.cookie, self), 401); /* the session is gone */
}
END_TEST

static void
report(char *out, size_t n, const char *event, const char *gateway, const char *desk)
{
    snprintf(out, n,
             "{\"event\":\"%s\",\"gateway\":\"%s\",\"tunnel\":7,\"desktop\":\"eng-%s\","
             "\"user\":\"alice\"}",
             event, gateway, desk);
}

/* Tunnel ids are per gateway process: two gateways' tunnel 7 are two tunnels, and one
 * gateway's close never ends the other's. */
START_TEST(test_tunnels_of_two_gateways_with_the_same_id_are_kept_apart)
{
    struct bk_resp r;
    const char *gw[] = {"Authorization: Bearer " GW_SECRET, NULL};
    char body[400];

    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw,
                          "{\"event\":\"opened\",\"tunnel\":7,\"desktop\":\"d\",\"user\":\"u\"}",
                          &r),
                     400); /* no gateway id */
    ck_assert_str_eq(bk_resp_error_code(&r), "invalid_request");
    bk_resp_fini(&r);
    report(body, sizeof(body), "opened", "gw-a", "a");
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw, body, &r), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "tunnels_open")), 1);
    bk_resp_fini(&r);
    report(body, sizeof(body), "opened", "gw-b", "b");
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw, body, &r), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "tunnels_open")), 2);
    bk_resp_fini(&r);
    report(body, sizeof(body), "closed", "gw-a", "a");
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw, body, &r), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "tunnels_open")), 1);
    bk_resp_fini(&r);
    report(body, sizeof(body), "closed", "gw-a", "a"); /* again: nothing left to close */
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw, body, &r), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "tunnels_open")), 1);
    bk_resp_fini(&r);
    report(body, sizeof(body), "closed", "gw-b", "b");
    ck_assert_int_eq(call("POST", "/api/v1/gateway/tunnels", gw, body, &r), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "tunnels_open")), 0);
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_metrics_count_signins_by_result_and_active_sessions)
{
    struct bk_resp r;
    struct bk_who w;

    login_ok("alice", "alice-pw", &w);
    ck_assert_int_eq(login_as(broker.port, "alice", "wrong", &w, &r), 401);
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/metrics", NULL, NULL, &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "portico_signins_total{result=\"ok\"}"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "portico_signins_total{result=\"bad_credentials\"}"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "portico_sessions_active "));
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_an_idle_session_expires)
{
    struct bk_broker b2;
    struct pt_err err = {0};
    char sections[2048];
    struct bk_resp r;
    struct bk_who w;

    ldap_section(sections, sizeof(sections));
    ck_assert_msg(bk_broker_start(&b2, "session_idle = 1s\n", sections, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(login_as(b2.port, "alice", "alice-pw", &w, &r), 200);
    bk_resp_fini(&r);
    ck_assert_int_eq(bk_https(b2.port, "GET", "/api/v1/me", w.hdrs, NULL, 0, &r, &err), 0);
    ck_assert_int_eq(r.status, 200);
    bk_resp_fini(&r);
    usleep(1300 * 1000);
    ck_assert_int_eq(bk_https(b2.port, "GET", "/api/v1/me", w.hdrs, NULL, 0, &r, &err), 0);
    ck_assert_int_eq(r.status, 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "session_expired");
    bk_resp_fini(&r);
    ck_assert(bk_broker_stop(&b2));
}
END_TEST

START_TEST(test_repeated_wrong_passwords_lock_the_account_for_a_while)
{
    struct bk_resp r;
    struct bk_who w;

    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(login_as(broker.port, "o*brien", "wrong", &w, &r), 401);
        bk_resp_fini(&r);
    }
    /* locked: even the right password is refused without asking the directory */
    ck_assert_int_eq(login_as(broker.port, "o*brien", "o*brien-pw", &w, &r), 429);
    ck_assert_str_eq(bk_resp_error_code(&r), "signin_locked");
    ck_assert_ptr_nonnull(bk_resp_header(&r, "retry-after"));
    bk_resp_fini(&r);
    /* another account from the same address is not locked */
    ck_assert_int_eq(login_as(broker.port, "alice", "alice-pw", &w, &r), 200);
    bk_resp_fini(&r);
}
END_TEST

struct slow_login {
    int port;
    int status;
    char code[64];
};

static void *
slow_login_thread(void *arg)
{
    struct slow_login *sl = arg;
    struct bk_resp r;
    struct pt_err err = {0};
    const char *body = "{\"user\":\"alice\",\"password\":\"alice-pw\"}";

    sl->status = -1;
    if (bk_https(sl->port, "POST", "/api/v1/login", NULL, body, strlen(body), &r, &err) == 0) {
        sl->status = r.status;
        pt_strlcpy(sl->code, bk_resp_error_code(&r), sizeof(sl->code));
        bk_resp_fini(&r);
    }
    return NULL;
}

/* SIGTERM while a sign-in waits on a directory that does not answer: the broker lets the
 * job finish (LDAP op timeout), sends its reply, then stops. */
START_TEST(test_sigterm_lets_a_sign_in_in_flight_finish_and_answer)
{
    struct bk_broker b2;
    struct pt_err err = {0};
    char sections[2048];
    struct slow_login sl = {0};
    pthread_t t;

    ldap_section(sections, sizeof(sections));
    pt_strlcpy(sections + strlen(sections), "op_timeout = 1s\nconnect_timeout = 1s\n",
               sizeof(sections) - strlen(sections));
    ck_assert_msg(bk_broker_start(&b2, NULL, sections, &err) == 0, "%s", err.msg);
    tf_slapd_pause(slapd);
    sl.port = b2.port;
    pthread_create(&t, NULL, slow_login_thread, &sl);
    usleep(300 * 1000);
    kill(b2.proc.pid, SIGTERM);
    pthread_join(t, NULL);
    tf_slapd_resume(slapd);
    ck_assert_int_eq(sl.status, 503);
    ck_assert_str_eq(sl.code, "directory_unavailable");
    ck_assert(bk_broker_stop(&b2));
}
END_TEST

Suite *
broker_session_suite(void)
{
    Suite *s = suite_create("broker_session");
    TCase *tc = tcase_create("slapd + broker");

    tcase_add_unchecked_fixture(tc, session_setup, session_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_login_sets_a_strict_cookie_and_returns_the_csrf_token_and_pools);
    tcase_add_test(tc, test_wrong_password_is_401_bad_credentials);
    tcase_add_test(tc, test_login_bad_bodies_are_400_with_precise_codes);
    tcase_add_test(tc, test_me_needs_a_session);
    tcase_add_test(tc, test_logout_needs_the_csrf_token_then_ends_the_session);
    tcase_add_test(tc, test_admin_routes_refuse_a_non_admin_and_serve_an_admin);
    tcase_add_test(tc, test_admin_resolves_a_user_with_groups_and_pools);
    tcase_add_test(tc, test_admin_disconnect_ends_another_users_session);
    tcase_add_test(tc, test_gateway_tunnel_reports_need_the_shared_secret);
    tcase_add_test(tc, test_tunnels_of_two_gateways_with_the_same_id_are_kept_apart);
    tcase_add_test(tc, test_h2_state_changing_calls_need_the_brokers_own_origin);
    tcase_add_test(tc, test_metrics_count_signins_by_result_and_active_sessions);
    tcase_add_test(tc, test_an_idle_session_expires);
    tcase_add_test(tc, test_repeated_wrong_passwords_lock_the_account_for_a_while);
    tcase_add_test(tc, test_sigterm_lets_a_sign_in_in_flight_finish_and_answer);
    suite_add_tcase(s, tc);
    return s;
}
