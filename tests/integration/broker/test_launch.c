/*
 * test_launch.c - the user's path over HTTPS: my desktops, launch (claim, then reconnect
 * to the same desktop), end my session, and the bad cases of each endpoint, against the
 * built broker with a real slapd and pool/ on libvirt's test:/// driver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "auth/ticket.h"
#include "bk_client.h"
#include "common/mem.h"
#include "common/str.h"

Suite *broker_launch_suite(void);

static struct tf_slapd *slapd;
static struct bk_broker broker;
static struct auth_seal_key *gw_key; /* the gateway's sealing key, as a gateway holds it */

static void
launch_setup(void)
{
    struct pt_err err = {0};
    char sections[3072], ldap[1024], *image, seal[800], extra[1200];

    slapd = tf_slapd_start(NULL, &err);
    if (!slapd)
        ck_abort_msg("slapd: %s", err.msg);
    image = tf_golden_node_write("l", &err);
    if (!image)
        ck_abort_msg("%s", err.msg);
    tf_slapd_broker_ldap(slapd, ldap, sizeof(ldap));
    snprintf(sections, sizeof(sections),
             "%spool = desktop-users:eng\n"
             "[hypervisor]\nuri = test://%s\nprobe = domain_state\n"
             "reconcile_interval = 100ms\ndomain_prefix = ln%d-\n"
             "[pool \"eng\"]\nimage = /golden/base.qcow2\nmemory = 128\ndomain_type = test\nmin = "
             "0\nmax = 3\nwarm = 1\n"
             "protocols = vnc\n",
             ldap, image, (int)getpid());
    free(image);
    snprintf(seal, sizeof(seal), "%s/gw-seal-%d.key", tf_tmpdir(), (int)getpid());
    gw_key = auth_seal_key_load_or_create(seal, &err);
    if (!gw_key)
        ck_abort_msg("seal key: %s", err.msg);
    snprintf(extra, sizeof(extra),
             "rate_limit_rps = 0\ngateway_url = wss://127.0.0.1:9443/ws\n"
             "gateway_seal_key_file = %s.pub\n",
             seal);
    if (bk_broker_start(&broker, extra, sections, &err) < 0)
        ck_abort_msg("broker: %s", err.msg);
}

static void
launch_teardown(void)
{
    bool clean = bk_broker_stop(&broker);

    tf_slapd_stop(slapd);
    auth_seal_key_free(gw_key);
    ck_assert_msg(clean, "broker did not stop cleanly");
}

/* Check @ticket as the gateway would: signature with the broker's public key, window,
 * audience; then open the sealed display password. */
static void
verify_ticket(const char *ticket, const char *desktop)
{
    struct auth_ticket_claims c;
    struct auth_verifier *v;
    struct pt_err err = {0};
    char pub[800], secret[AUTH_SECRET_MAX + 1];

    snprintf(pub, sizeof(pub), "%s/state/ticket.key.pub", broker.dir);
    v = auth_verifier_new(pub, NULL, &err);
    ck_assert_msg(v, "%s", err.msg);
    ck_assert_int_eq(
        auth_verifier_check(v, ticket, strlen(ticket), "gateway", pt_time_wall_ms(), &c),
        AUTH_TICKET_OK);
    ck_assert_int_eq(
        auth_verifier_check(v, ticket, strlen(ticket), "other-gateway", pt_time_wall_ms(), &c),
        AUTH_TICKET_WRONG_AUDIENCE);
    ck_assert_int_eq(
        auth_verifier_check(v, ticket, strlen(ticket), "gateway", pt_time_wall_ms(), &c),
        AUTH_TICKET_OK);
    ck_assert_str_eq(c.user, "alice");
    ck_assert_str_eq(c.desktop, desktop);
    ck_assert_int_eq(c.proto, AUTH_PROTO_VNC);
    ck_assert_int_gt(c.port, 0);
    ck_assert_int_eq(c.max_conns, 8);
    ck_assert_int_le(c.expires_at - c.issued_at, 30000);
    /* test:/// cannot set display passwords, so a sealed one appears only on real hosts */
    if (c.sealed_len) {
        ck_assert_msg(auth_ticket_unseal_secret(gw_key, &c, secret, sizeof(secret), &err) == 0,
                      "%s", err.msg);
        ck_assert_uint_eq(strlen(secret), 8);
    }
    auth_verifier_free(v);
}

static void
login(const char *user, const char *pw, struct bk_who *w)
{
    struct bk_resp r = {0};
    struct pt_err err = {0};

    ck_assert_msg(bk_login(broker.port, user, pw, w, &r, &err) == 200, "login %s: %d %s %s", user,
                  r.status, err.msg, r.body.data ? r.body.data : "");
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

START_TEST(test_my_desktops_lists_only_entitled_pools)
{
    struct bk_resp r;
    struct bk_who alice, bob;
    json_t *pools;

    login("alice", "alice-pw", &alice);
    ck_assert_int_eq(call("GET", "/api/v1/desktops", alice.hdrs, NULL, &r), 200);
    pools = json_object_get(r.json, "pools");
    ck_assert_uint_eq(json_array_size(pools), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(pools, 0), "name")), "eng");
    bk_resp_fini(&r);
    login("bob", "bob-pw", &bob);
    ck_assert_int_eq(call("GET", "/api/v1/desktops", bob.hdrs, NULL, &r), 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "pools")), 0);
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/desktops", NULL, NULL, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "not_signed_in");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_launch_bad_cases_have_exact_codes)
{
    struct bk_resp r;
    struct bk_who alice, bob;
    const char *no_csrf[2];

    login("alice", "alice-pw", &alice);
    login("bob", "bob-pw", &bob);
    no_csrf[0] = alice.cookie;
    no_csrf[1] = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/pools/eng/launch", no_csrf, NULL, &r), 403);
    ck_assert_str_eq(bk_resp_error_code(&r), "csrf_missing");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/pools/eng/launch", alice.hdrs, NULL, &r), 405);
    ck_assert_str_eq(bk_resp_error_code(&r), "method_not_allowed");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/pools/nope/launch", alice.hdrs, NULL, &r), 404);
    ck_assert_str_eq(bk_resp_error_code(&r), "pool_not_found");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/pools/eng/launch", bob.hdrs, NULL, &r), 403);
    ck_assert_str_eq(bk_resp_error_code(&r), "not_entitled");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/pools/eng/launch", alice.hdrs, "{\"protocol\":", &r),
                     400);
    ck_assert_str_eq(bk_resp_error_code(&r), "malformed_json");
    bk_resp_fini(&r);
    ck_assert_int_eq(
        call("POST", "/api/v1/pools/eng/launch", alice.hdrs, "{\"protocol\":\"rdp\"}", &r), 400);
    ck_assert_str_eq(bk_resp_error_code(&r), "protocol_not_offered");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/pools/eng/launch", NULL, NULL, &r), 401);
    ck_assert_str_eq(bk_resp_error_code(&r), "not_signed_in");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_launch_claims_a_desktop_and_a_second_launch_reconnects_to_it)
{
    struct bk_resp r;
    struct bk_who alice;
    char first[128];
    int st;

    login("alice", "alice-pw", &alice);
    st = call("POST", "/api/v1/pools/eng/launch", alice.hdrs, NULL, &r);
    /* the pool keeps one warm desktop: the first launch is a warm claim, with a ticket */
    ck_assert_msg(st == 200, "launch: %d %s", st, r.body.data);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "outcome")), "warm");
    pt_strlcpy(first, json_string_value(json_object_get(r.json, "desktop")), sizeof(first));
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "protocol")), "vnc");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "gateway_url")),
                     "wss://127.0.0.1:9443/ws");
    verify_ticket(json_string_value(json_object_get(r.json, "ticket")), first);
    bk_resp_fini(&r);
    /* a second launch reconnects to the same desktop with a new ticket */
    st = call("POST", "/api/v1/pools/eng/launch", alice.hdrs, NULL, &r);
    ck_assert_msg(st == 200, "relaunch: %d %s", st, r.body.data);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "desktop")), first);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "outcome")), "reconnect");
    verify_ticket(json_string_value(json_object_get(r.json, "ticket")), first);
    bk_resp_fini(&r);
    /* my desktops now shows it */
    ck_assert_int_eq(call("GET", "/api/v1/desktops", alice.hdrs, NULL, &r), 200);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(r.json, "pools"), 0), "my_desktop"),
            "id")),
        first);
    bk_resp_fini(&r);
    /* end my session; a second end has nothing to end */
    ck_assert_int_eq(call("POST", "/api/v1/pools/eng/logoff", alice.hdrs, NULL, &r), 200);
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_admin_resize_is_validated_and_audited)
{
    struct bk_resp r;
    struct bk_who bob, alice;
    bool seen = false;
    json_t *e;
    size_t i;

    login("bob", "bob-pw", &bob);
    login("alice", "alice-pw", &alice);
    ck_assert_int_eq(call("POST", "/api/v1/admin/pools/eng/resize", alice.hdrs, "{\"max\":2}", &r),
                     403);
    ck_assert_str_eq(bk_resp_error_code(&r), "admin_required");
    bk_resp_fini(&r);
    ck_assert_int_eq(
        call("POST", "/api/v1/admin/pools/eng/resize", bob.hdrs, "{\"max\":\"x\"}", &r), 400);
    ck_assert_str_eq(bk_resp_error_code(&r), "invalid_request");
    bk_resp_fini(&r);
    ck_assert_int_eq(
        call("POST", "/api/v1/admin/pools/eng/resize", bob.hdrs, "{\"min\":5,\"max\":2}", &r), 400);
    ck_assert_str_eq(bk_resp_error_code(&r), "invalid_spec");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("POST", "/api/v1/admin/pools/nope/resize", bob.hdrs, "{\"max\":2}", &r),
                     404);
    ck_assert_str_eq(bk_resp_error_code(&r), "pool_not_found");
    bk_resp_fini(&r);
    ck_assert_int_eq(
        call("POST", "/api/v1/admin/pools/eng/resize", bob.hdrs, "{\"max\":4,\"warm\":2}", &r),
        200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "spec"), "max")),
                     "4");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/admin/audit?limit=50", bob.hdrs, NULL, &r), 200);
    json_array_foreach(json_object_get(r.json, "entries"), i, e)
    {
        seen =
            seen || (strcmp(json_string_value(json_object_get(e, "action")), "pool.resize") == 0 &&
                     strcmp(json_string_value(json_object_get(e, "actor")), "bob") == 0);
    }
    ck_assert_msg(seen, "no pool.resize by bob in the audit log");
    bk_resp_fini(&r);
}
END_TEST

/* The admin list's entry for desktop @id, or NULL (borrowed from @r). */
static json_t *
admin_desktop(struct bk_resp *r, const struct bk_who *admin, const char *id)
{
    json_t *e;
    size_t i;

    ck_assert_int_eq(call("GET", "/api/v1/admin/desktops?pool=eng", admin->hdrs, NULL, r), 200);
    json_array_foreach(json_object_get(r->json, "desktops"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
            return e;
    }
    return NULL;
}

START_TEST(test_admin_deletes_a_desktop_and_a_held_one_only_with_force)
{
    struct bk_resp r;
    struct bk_who alice, bob;
    char held[128], path[300], idle[128] = "";
    bool gone = false, audited = false;
    json_t *e;
    size_t i;
    int st;

    login("alice", "alice-pw", &alice);
    login("bob", "bob-pw", &bob);
    for (int t = 0; t < 100; t++) { /* alice gets a desktop (warm, or one that starts) */
        st = call("POST", "/api/v1/pools/eng/launch", alice.hdrs, NULL, &r);
        if (st == 200)
            break;
        ck_assert_msg(st == 202, "launch: %d %s", st, r.body.data);
        bk_resp_fini(&r);
        usleep(100000);
    }
    ck_assert_int_eq(st, 200);
    pt_strlcpy(held, json_string_value(json_object_get(r.json, "desktop")), sizeof(held));
    bk_resp_fini(&r);
    snprintf(path, sizeof(path), "/api/v1/admin/desktops/%s", held);
    ck_assert_int_eq(call("DELETE", path, alice.hdrs, NULL, &r), 403); /* not an admin */
    ck_assert_str_eq(bk_resp_error_code(&r), "admin_required");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("DELETE", "/api/v1/admin/desktops/no-such", bob.hdrs, NULL, &r), 404);
    ck_assert_str_eq(bk_resp_error_code(&r), "desktop_not_found");
    bk_resp_fini(&r);
    ck_assert_int_eq(call("DELETE", path, bob.hdrs, NULL, &r), 409); /* alice holds it */
    ck_assert_str_eq(bk_resp_error_code(&r), "desktop_in_use");
    bk_resp_fini(&r);
    snprintf(path, sizeof(path), "/api/v1/admin/desktops/%s?force=maybe", held);
    ck_assert_int_eq(call("DELETE", path, bob.hdrs, NULL, &r), 400);
    bk_resp_fini(&r);
    ck_assert_ptr_nonnull(admin_desktop(&r, &bob, held)); /* still there */
    bk_resp_fini(&r);
    snprintf(path, sizeof(path), "/api/v1/admin/desktops/%s?force=true", held);
    ck_assert_int_eq(call("DELETE", path, bob.hdrs, NULL, &r), 202);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "user")), "alice");
    bk_resp_fini(&r);
    /* the reconcile loop deletes the domain and forgets the row; alice's launch then
     * gets another desktop, never the deleted one */
    for (int t = 0; t < 100 && !gone; t++) {
        gone = admin_desktop(&r, &bob, held) == NULL;
        bk_resp_fini(&r);
        if (!gone)
            usleep(100000);
    }
    ck_assert_msg(gone, "desktop %s was not deleted within 10 s", held);
    /* a desktop nobody holds goes without force (the pool keeps one warm) */
    for (int t = 0; t < 100 && !idle[0]; t++) {
        ck_assert_int_eq(call("GET", "/api/v1/admin/desktops?pool=eng", bob.hdrs, NULL, &r), 200);
        json_array_foreach(json_object_get(r.json, "desktops"), i, e)
        {
            const char *u = json_string_value(json_object_get(e, "user"));

            if ((!u || !u[0]) &&
                strcmp(json_string_value(json_object_get(e, "state")), "deleting") != 0)
                pt_strlcpy(idle, json_string_value(json_object_get(e, "id")), sizeof(idle));
        }
        bk_resp_fini(&r);
        if (!idle[0])
            usleep(100000);
    }
    ck_assert_msg(idle[0], "the pool made no idle desktop");
    snprintf(path, sizeof(path), "/api/v1/admin/desktops/%s", idle);
    for (int t = 0; t < 50; t++) {
        st = call("DELETE", path, bob.hdrs, NULL, &r);
        /* 409 while a pool action (its start) still runs on it: retry, as the message says */
        if (st != 409 || !strstr(r.body.data, "in progress"))
            break;
        bk_resp_fini(&r);
        usleep(100000);
    }
    ck_assert_msg(st == 202, "%d %s", st, r.body.data);
    bk_resp_fini(&r);
    ck_assert_int_eq(call("GET", "/api/v1/admin/audit?action=desktop.delete", bob.hdrs, NULL, &r),
                     200);
    json_array_foreach(json_object_get(r.json, "entries"), i, e)
    {
        audited = audited || (strcmp(json_string_value(json_object_get(e, "target")), held) == 0 &&
                              strcmp(json_string_value(json_object_get(e, "actor")), "bob") == 0);
    }
    ck_assert_msg(audited, "no desktop.delete of %s by bob in the audit log", held);
    bk_resp_fini(&r);
}
END_TEST

Suite *
broker_launch_suite(void)
{
    Suite *s = suite_create("broker_launch");
    TCase *tc = tcase_create("slapd + test:/// + broker");

    tcase_add_unchecked_fixture(tc, launch_setup, launch_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_my_desktops_lists_only_entitled_pools);
    tcase_add_test(tc, test_launch_bad_cases_have_exact_codes);
    tcase_add_test(tc, test_launch_claims_a_desktop_and_a_second_launch_reconnects_to_it);
    tcase_add_test(tc, test_admin_resize_is_validated_and_audited);
    tcase_add_test(tc, test_admin_deletes_a_desktop_and_a_held_one_only_with_force);
    suite_add_tcase(s, tc);
    return s;
}
