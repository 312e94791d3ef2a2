/*
 * test_pool_testdrv.c - pools against libvirt's test driver with many hosts, through
 * the real hypervisor layer: resize up and down converges (and spreads over hosts), a
 * scale-down never takes a user's desktop, parked desktops are kept and resumed, image
 * rollover completes, orphans are deleted and vanished domains replaced, error
 * restraint engages and releases, and a lost host (libvirtd behind a cuttable socket)
 * is healed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/conf.h"
#include "common/str.h"
#include "cutproxy.h"
#include "hv_priv.h"
#include "hvt.h"
#include "pool_priv.h"
#include "pooltest.h"
#include "tsupport/fixture.h"

static struct pool_ctx *ctx;

static void
teardown(void)
{
    pool_ctx_free(ctx);
    ctx = NULL;
}

START_TEST(test_resize_up_and_down_converges_across_ten_hosts)
{
    const char *up[] = {"max", "60", "warm", "30", NULL};
    const char *down[] = {"warm", "5", "max", "10", NULL};
    const char *floor[] = {"warm", "0", "min", "8", NULL};
    char host[8];

    ctx = pt_ctx_new("resize", 10, NULL);
    pt_pool_put(ctx, "eng", up);
    pt_converge(ctx, "eng", 30, 30, 20000);
    /* placement by load: an even spread, three per host */
    for (int i = 1; i <= 10; i++) {
        snprintf(host, sizeof(host), "h%02d", i);
        ck_assert_int_eq(pt_domains_on(ctx, host, "eng"), 3);
    }
    pt_pool_put(ctx, "eng", down);
    pt_converge(ctx, "eng", 5, 5, 20000);
    pt_pool_put(ctx, "eng", floor);
    pt_converge(ctx, "eng", 8, 8, 20000);
}
END_TEST

START_TEST(test_scale_down_never_takes_a_users_desktop)
{
    const char *start[] = {"max", "10", "warm", "4", NULL};
    const char *none[] = {"max", "3", "warm", "0", NULL};
    struct pool_claim c[3];
    struct pool_desktop d;
    char user[16];
    struct pt_err err = {0};

    ctx = pt_ctx_new("scaledown", 3, NULL);
    pt_pool_put(ctx, "eng", start);
    pt_converge(ctx, "eng", 4, 4, 20000);
    for (int i = 0; i < 3; i++) {
        snprintf(user, sizeof(user), "user%d", i);
        ck_assert_msg(pool_claim(ctx, "eng", user, &c[i], &err) == 0, "%s", err.msg);
        ck_assert_int_eq(c[i].outcome, POOL_CLAIM_WARM);
        ck_assert_int_eq(pool_desktop_report(ctx, c[i].desktop, user, POOL_SESSION_CONNECTED, &err),
                         0);
    }
    /* the pool refills to 4 warm on top of the 3 in use */
    pt_converge(ctx, "eng", 4, 7, 20000);
    pt_pool_put(ctx, "eng", none);
    pt_converge(ctx, "eng", 0, 3, 20000);
    for (int i = 0; i < 3; i++) {
        snprintf(user, sizeof(user), "user%d", i);
        ck_assert_int_eq(pool_desktop_get(ctx, c[i].desktop, &d, &err), 0);
        ck_assert_int_eq(d.state, POOL_STATE_CONNECTED);
        ck_assert_str_eq(d.user, user);
    }
}
END_TEST

START_TEST(test_parked_desktops_are_kept_and_resumed_on_claim)
{
    const char *kv[] = {"max", "6", "warm", "1", "parked", "2", NULL};
    struct pt_count cnt;
    struct pool_claim c;
    struct pt_err err = {0};

    ctx = pt_ctx_new("parked", 2, NULL);
    pt_pool_put(ctx, "eng", kv);
    pt_converge(ctx, "eng", 1, 3, 20000);
    pt_count(ctx, "eng", &cnt);
    ck_assert_int_eq(cnt.state[POOL_STATE_PARKED], 2);
    /* take the ready one, then a parked one must be resumed for the next user */
    ck_assert_int_eq(pool_claim(ctx, "eng", "alice", &c, &err), 0);
    ck_assert_int_eq(c.outcome, POOL_CLAIM_WARM);
    ck_assert_int_eq(pool_claim(ctx, "eng", "bob", &c, &err), 0);
    ck_assert_int_eq(c.outcome, POOL_CLAIM_RESUME);
    /* 2 in use + 1 warm + 2 parked */
    pt_converge(ctx, "eng", 1, 5, 20000);
    pt_count(ctx, "eng", &cnt);
    ck_assert_int_eq(cnt.state[POOL_STATE_PARKED], 2);
    ck_assert_int_eq(cnt.state[POOL_STATE_ASSIGNED], 2);
}
END_TEST

START_TEST(test_image_rollover_recycles_idle_desktops_and_waits_for_logoff)
{
    const char *kv[] = {"max", "8", "warm", "4", NULL};
    struct pool_claim c;
    struct pool_desktop d;
    struct pt_count cnt;
    struct pt_err err = {0};

    ctx = pt_ctx_new("rollover", 4, NULL);
    pt_pool_put(ctx, "eng", kv);
    pt_converge(ctx, "eng", 4, 4, 20000);
    ck_assert_int_eq(pool_claim(ctx, "eng", "alice", &c, &err), 0);
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_CONNECTED, &err), 0);
    pt_converge(ctx, "eng", 4, 5, 20000);
    ck_assert_msg(pool_ctx_image_publish(ctx, "eng", "v2", NULL, &err) == 0, "%s", err.msg);
    /* every idle desktop is re-cloned from v2; alice keeps v1 while connected */
    for (int i = 0; i < 200; i++) {
        pt_converge(ctx, "eng", 4, 5, 20000);
        pt_count(ctx, "eng", &cnt);
        if (cnt.outdated == 1 && cnt.dom_outdated == 1)
            break;
    }
    ck_assert_int_eq(cnt.outdated, 1);
    ck_assert_int_eq(cnt.dom_outdated, 1);
    ck_assert_int_eq(pool_desktop_get(ctx, c.desktop, &d, &err), 0);
    ck_assert_str_eq(d.image_version, "v1");
    ck_assert_int_eq(d.state, POOL_STATE_CONNECTED);
    /* at logoff her desktop is re-cloned from v2 too and returns to the pool */
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_LOGOFF, &err), 0);
    for (int i = 0; i < 200; i++) {
        pt_converge(ctx, "eng", 4, 4, 20000);
        pt_count(ctx, "eng", &cnt);
        if (cnt.outdated == 0 && cnt.dom_outdated == 0)
            break;
    }
    ck_assert_int_eq(cnt.outdated, 0);
    ck_assert_int_eq(cnt.dom_outdated, 0);
    /* hers is either back in the pool on v2, or was the one scaled away */
    if (pool_desktop_get(ctx, c.desktop, &d, &err) == 0) {
        ck_assert_str_eq(d.image_version, "v2");
        ck_assert_int_eq(d.state, POOL_STATE_READY);
        ck_assert_str_eq(d.user, "");
    } else {
        ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    }
}
END_TEST

START_TEST(test_recovery_deletes_orphans_and_replaces_vanished_desktops)
{
    const char *kv[] = {"max", "4", "warm", "3", NULL};
    struct hv_desktop_spec spec = hvt_spec("pt-eng-9999", "eng", "eng-9999");
    struct store_desktop *rows = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    ctx = pt_ctx_new("recover", 2, NULL);
    pt_pool_put(ctx, "eng", kv);
    pt_converge(ctx, "eng", 3, 3, 20000);
    /* a domain with our prefix and metadata but no row: a clone whose row was lost */
    ck_assert_msg(hv_desktop_create(pool_ctx_hv(ctx), "h01", &spec, &err) == 0, "%s", err.msg);
    /* and a desktop whose domain disappeared behind our back */
    ck_assert_int_eq(store_desktop_list(pool_ctx_store(ctx), "eng", &rows, &n, &err), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_msg(hv_desktop_delete(pool_ctx_hv(ctx), rows[0].host, rows[0].domain, &err) == 0,
                  "%s", err.msg);
    ck_assert_msg(pool_ctx_recover(ctx, &err) == 0, "%s", err.msg);
    pt_converge(ctx, "eng", 3, 3, 20000);
    ck_assert_int_eq(pt_domains_on(ctx, "h01", "eng") + pt_domains_on(ctx, "h02", "eng"), 3);
    {
        struct hv_desktop_info di;
        struct store_desktop gone;

        ck_assert_int_eq(hv_desktop_get(pool_ctx_hv(ctx), "h01", "pt-eng-9999", &di, &err), -1);
        ck_assert_int_eq(err.code, PT_E_NOTFOUND);
        ck_assert_int_eq(store_desktop_get(pool_ctx_store(ctx), rows[0].id, &gone, &err), -1);
        ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    }
    free(rows);
}
END_TEST

static int
feed(void *opaque, const struct pt_conf_entry *e, struct pt_err *err)
{
    return pool_conf_set(opaque, e, err);
}

START_TEST(test_a_config_file_with_hosts_and_pools_converges)
{
    struct pool_conf *pc = pool_conf_new();
    struct pt_buf text = PT_BUF_INIT;
    struct pt_count cnt;
    char *uri1 = hvt_node_write("conf-a", "none", 0, 0),
         *uri2 = hvt_node_write("conf-b", "none", 0, 0);
    struct pt_err err = {0};

    pt_buf_appendf(&text,
                   "[host \"a\"]\nuri = %s\n[host \"b\"]\nuri = %s\nmax_desktops = 1\n"
                   "[pool \"eng\"]\nimage = %s\nmemory = 128\nmax = 6\nwarm = 3\n"
                   "[pool \"ops\"]\nimage = %s\nmemory = 128\nmax = 2\nwarm = 2\nhosts = a\n",
                   uri1, uri2, HVT_GOLDEN, HVT_GOLDEN);
    ctx = pt_ctx_new("conf", 0, NULL);
    ck_assert_msg(pt_conf_parse_string(text.data, "portico.conf", feed, pc, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(pool_conf_finish(pc, &err) == 0, "%s", err.msg);
    ck_assert_msg(pool_ctx_apply_conf(ctx, pc, &err) == 0, "%s", err.msg);
    pt_converge(ctx, "eng", 3, 3, 20000);
    pt_converge(ctx, "ops", 2, 2, 20000);
    /* host b takes at most one desktop; ops may only use host a */
    ck_assert_int_le(pt_domains_on(ctx, "b", "eng"), 1);
    ck_assert_int_eq(pt_domains_on(ctx, "b", "ops"), 0);
    pt_count(ctx, "eng", &cnt);
    ck_assert_int_eq(cnt.domains, 3);
    pool_conf_free(pc);
    pt_buf_fini(&text);
    free(uri1);
    free(uri2);
}
END_TEST

START_TEST(test_a_draining_host_is_emptied_of_idle_desktops)
{
    const char *kv[] = {"max", "8", "warm", "6", NULL};
    struct pool_claim c;
    struct pool_desktop d;
    struct pt_err err = {0};

    ctx = pt_ctx_new("drain", 3, NULL);
    pt_pool_put(ctx, "eng", kv);
    pt_converge(ctx, "eng", 6, 6, 20000);
    ck_assert_int_eq(pool_claim(ctx, "eng", "alice", &c, &err), 0);
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_CONNECTED, &err), 0);
    ck_assert_msg(pool_ctx_host_drain(ctx, c.host, true, &err) == 0, "%s", err.msg);
    pt_converge(ctx, "eng", 6, 7, 20000);
    /* only alice's desktop is left on the draining host, still hers */
    ck_assert_int_eq(pt_domains_on(ctx, c.host, "eng"), 1);
    ck_assert_int_eq(pool_desktop_get(ctx, c.desktop, &d, &err), 0);
    ck_assert_int_eq(d.state, POOL_STATE_CONNECTED);
    /* at logoff it is retired rather than returned to the pool */
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_LOGOFF, &err), 0);
    pt_converge(ctx, "eng", 6, 6, 20000);
    ck_assert_int_eq(pt_domains_on(ctx, c.host, "eng"), 0);
}
END_TEST

START_TEST(test_session_timeouts_return_desktops_to_the_pool)
{
    const char *kv[] = {"max",   "4",           "warm", "2", "disconnected_timeout",
                        "300ms", "max_session", "2s",   NULL};
    struct pool_claim a, b;
    struct pool_desktop d;
    struct store_event *ev = NULL;
    size_t n = 0;
    bool disc = false, maxs = false;
    struct pt_err err = {0};

    ctx = pt_ctx_new("timeouts", 2, NULL);
    pt_pool_put(ctx, "eng", kv);
    pt_converge(ctx, "eng", 2, 2, 20000);
    ck_assert_int_eq(pool_claim(ctx, "eng", "alice", &a, &err), 0);
    ck_assert_int_eq(pool_claim(ctx, "eng", "bob", &b, &err), 0);
    ck_assert_int_eq(pool_desktop_report(ctx, a.desktop, "alice", POOL_SESSION_CONNECTED, &err), 0);
    ck_assert_int_eq(pool_desktop_report(ctx, b.desktop, "bob", POOL_SESSION_CONNECTED, &err), 0);
    ck_assert_int_eq(pool_desktop_report(ctx, a.desktop, "alice", POOL_SESSION_DISCONNECTED, &err),
                     0);
    /* alice's disconnected session ends after 300 ms, bob's connected one after 2 s;
     * then the pool shrinks back to its 2 warm desktops */
    pt_converge(ctx, "eng", 2, 2, 20000);
    ck_assert_msg(pool_desktop_get(ctx, a.desktop, &d, &err) < 0 || d.user[0] == '\0',
                  "alice still holds %s", a.desktop);
    ck_assert_msg(pool_desktop_get(ctx, b.desktop, &d, &err) < 0 || d.user[0] == '\0',
                  "bob still holds %s", b.desktop);
    ck_assert_int_eq(store_event_list(pool_ctx_store(ctx), NULL, 1000, &ev, &n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        disc |= strcmp(ev[i].desktop, a.desktop) == 0 &&
                strcmp(ev[i].reason, "disconnected timeout") == 0;
        maxs |= strcmp(ev[i].desktop, b.desktop) == 0 &&
                strcmp(ev[i].reason, "maximum session time") == 0;
    }
    free(ev);
    ck_assert(disc);
    ck_assert(maxs);
}
END_TEST

/* --- error restraint, with a fault-injecting FAKE in front of the real layer ---------- */

static int fake_fail;     /* fail every create while set */
static int fake_attempts; /* creates attempted */

static int
fake_create(struct hv *hv, const char *host, const struct hv_desktop_spec *spec, struct pt_err *err)
{
    __atomic_add_fetch(&fake_attempts, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&fake_fail, __ATOMIC_SEQ_CST))
        return pt_err_set(err, PT_E_IO, "fake: injected clone failure on %s", host);
    return hv_desktop_create(hv, host, spec, err);
}

static const struct pool_hv_ops fake_ops = {
    .create = fake_create,
    .start = hv_desktop_start,
    .resume = hv_desktop_resume,
    .park = hv_desktop_park,
    .revert = hv_desktop_revert,
    .del = hv_desktop_delete,
    .get = hv_desktop_get,
};

static bool
pool_paused(struct pool_ctx *c, void *arg)
{
    struct pool_status *ps = NULL;
    size_t n = 0;
    bool paused;

    ck_assert_int_eq(pool_ctx_status(c, &ps, &n, NULL), 0);
    paused = n == 1 && ps[0].paused;
    if (paused && arg)
        pt_strlcpy(arg, ps[0].pause_reason, 160);
    free(ps);
    return paused;
}

START_TEST(test_error_restraint_engages_and_releases)
{
    struct pool_ctx_opts o = {
        .restraint_failures = 3, .restraint_window_ms = 10000, .restraint_pause_ms = 1500};
    const char *kv[] = {"max", "6", "warm", "4", NULL};
    char reason[160] = "";
    int attempts;
    struct pt_err err = {0};

    ctx = pt_ctx_new("restraint", 2, &o);
    pool_ctx_set_hv_ops(ctx, &fake_ops);
    __atomic_store_n(&fake_fail, 1, __ATOMIC_SEQ_CST);
    pt_pool_put(ctx, "eng", kv);
    ck_assert_msg(pool_ctx_run(ctx, 20, 5000, pool_paused, reason, &err) == 0, "never paused: %s",
                  err.msg);
    ck_assert_msg(strstr(reason, "3 failures in 10s") && strstr(reason, "injected clone failure"),
                  "%s", reason);
    /* while paused no clone is attempted */
    attempts = __atomic_load_n(&fake_attempts, __ATOMIC_SEQ_CST);
    ck_assert_int_ge(attempts, 3);
    pool_ctx_run(ctx, 20, 700, NULL, NULL, &err);
    ck_assert(pool_paused(ctx, NULL));
    ck_assert_int_eq(__atomic_load_n(&fake_attempts, __ATOMIC_SEQ_CST), attempts);
    /* the fault clears; after the pause the pool resumes by itself and converges */
    __atomic_store_n(&fake_fail, 0, __ATOMIC_SEQ_CST);
    pt_converge(ctx, "eng", 4, 4, 20000);
    ck_assert(!pool_paused(ctx, NULL));
    ck_assert_int_gt(__atomic_load_n(&fake_attempts, __ATOMIC_SEQ_CST), attempts);
}
END_TEST

/* --- host loss: a host behind libvirtd's socket whose cable the test cuts ------------- */

static bool
far_written_off(struct pool_ctx *c, void *arg)
{
    struct store_desktop *rows = NULL;
    size_t n = 0;
    int ready_near = 0, far_gone = 0, other = 0;

    ck_assert_int_eq(store_desktop_list(pool_ctx_store(c), "eng", &rows, &n, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        bool far = strcmp(rows[i].host, "far") == 0;

        if (far && strcmp(rows[i].state, "deleting") == 0)
            far_gone++;
        else if (!far && strcmp(rows[i].state, "ready") == 0)
            ready_near++;
        else
            other++;
    }
    free(rows);
    return ready_near == 8 && far_gone == 2 && other == 0 && pool_ctx_busy(c) == 0;
}

START_TEST(test_a_lost_host_is_healed_and_cleaned_when_it_returns)
{
    const char *kv[] = {"max", "12", "warm", "8", NULL};
    struct pool_host_status *hs = NULL;
    char sock[256], uri[512];
    char *node;
    struct cutproxy *p;
    size_t n = 0;
    struct pt_err err = {0};

    if (tf_libvirtd_ensure(&err) < 0)
        ck_abort_msg("libvirtd: %s", err.msg);
    ctx = pt_ctx_new("hostloss", 3, NULL);
    hv_set_retry_ms(pool_ctx_hv(ctx), 100);
    snprintf(sock, sizeof(sock), "%s/cut.sock", hvt_tmpdir());
    p = cutproxy_start(sock, "/var/run/libvirt/libvirt-sock");
    ck_assert_ptr_nonnull(p);
    node = hvt_node_write("hostloss-far", "none", 0, 0);
    /* the test driver served by libvirtd: real remote protocol, a connection to lose */
    snprintf(uri, sizeof(uri), "test+unix://%s?socket=%s", node + strlen("test://"), sock);
    free(node);
    ck_assert_msg(pool_ctx_host_add(ctx, "far", uri, 0, 0, &err) == 0, "%s", err.msg);
    pt_pool_put(ctx, "eng", kv);
    pt_converge(ctx, "eng", 8, 8, 20000);
    ck_assert_int_eq(pt_domains_on(ctx, "far", "eng"), 2);

    cutproxy_cut(p);
    /* its desktops are written off and replaced on the hosts that are left */
    ck_assert_msg(pool_ctx_run(ctx, 20, 20000, far_written_off, NULL, &err) == 0,
                  "lost host not healed: %s", err.msg);
    ck_assert_int_eq(pool_ctx_host_status(ctx, &hs, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(hs[i].name, "far") == 0)
            ck_assert(!hs[i].up);
    free(hs);

    /* the cable is mended: the host is back (empty, a fresh test-driver connection) and
     * the written-off rows are deleted there and forgotten */
    ck_assert_int_eq(cutproxy_mend(p), 0);
    pt_converge(ctx, "eng", 8, 8, 20000);
    cutproxy_stop(p);
    unlink(sock);
}
END_TEST

Suite *pool_testdrv_suite(void);
Suite *
pool_testdrv_suite(void)
{
    Suite *s = suite_create("pool_testdrv");
    TCase *tc = tcase_create("testdrv");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_resize_up_and_down_converges_across_ten_hosts);
    tcase_add_test(tc, test_scale_down_never_takes_a_users_desktop);
    tcase_add_test(tc, test_parked_desktops_are_kept_and_resumed_on_claim);
    tcase_add_test(tc, test_image_rollover_recycles_idle_desktops_and_waits_for_logoff);
    tcase_add_test(tc, test_recovery_deletes_orphans_and_replaces_vanished_desktops);
    tcase_add_test(tc, test_a_config_file_with_hosts_and_pools_converges);
    tcase_add_test(tc, test_a_draining_host_is_emptied_of_idle_desktops);
    tcase_add_test(tc, test_session_timeouts_return_desktops_to_the_pool);
    tcase_add_test(tc, test_error_restraint_engages_and_releases);
    tcase_add_test(tc, test_a_lost_host_is_healed_and_cleaned_when_it_returns);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
