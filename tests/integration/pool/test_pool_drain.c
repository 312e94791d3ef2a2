/*
 * test_pool_drain.c - host drain policy `drain = migrate` through the real hv layer on
 * libvirt test:/// hosts. libvirt's test driver cannot migrate, so the migrate verb is
 * a FAKE (fake_migrate): it moves the domain with the layer's real verbs (define and
 * start on the destination, delete on the source), which is what the pool observes of a
 * real live migration. The move itself is tested for real, between two libvirtds with
 * QEMU guests, in test_pool_migrate.c. What this file checks is the pool's policy:
 * bounded parallelism, the history written before acting, the row's host updated after
 * success, and failures retried then left to wait for logoff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/str.h"
#include "hvt.h"
#include "pool_priv.h"
#include "pooltest.h"

Suite *pool_drain_suite(void);

static struct pool_ctx *ctx;

/* fake_migrate() state: calls, calls running now and their peak, failure switch */
static int fake_calls, fake_running, fake_peak, fake_fail;

static int
fake_migrate(struct hv *hv, const char *host, const char *name, const char *to_host,
             struct pt_err *err)
{
    struct hv_desktop_info info;
    struct hv_desktop_spec spec = {0};
    int now = __atomic_add_fetch(&fake_running, 1, __ATOMIC_SEQ_CST);
    int peak = __atomic_load_n(&fake_peak, __ATOMIC_SEQ_CST);
    int rc = -1;

    while (now > peak && !__atomic_compare_exchange_n(&fake_peak, &peak, now, false,
                                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
    __atomic_add_fetch(&fake_calls, 1, __ATOMIC_SEQ_CST);
    usleep(150 * 1000); /* a migration takes a while: lets parallel ones overlap */
    if (__atomic_load_n(&fake_fail, __ATOMIC_SEQ_CST)) {
        pt_err_set(err, PT_E_IO, "fake: injected migration failure %s -> %s", host, to_host);
        goto out;
    }
    if (hv_desktop_get(hv, host, name, &info, err) < 0)
        goto out;
    spec.name = name;
    spec.pool = info.pool;
    spec.desktop_id = info.desktop_id;
    spec.image_version = info.image_version;
    spec.golden_path = HVT_GOLDEN;
    spec.vcpus = info.vcpus;
    spec.memory_mib = (int)(info.memory_kib / 1024);
    spec.protocols = POOL_PROTO_VNC;
    spec.domain_type = "test";
    if (hv_desktop_create(hv, to_host, &spec, err) < 0 ||
        hv_desktop_start(hv, to_host, name, err) < 0)
        goto out;
    rc = hv_desktop_delete(hv, host, name, err);
out:
    __atomic_sub_fetch(&fake_running, 1, __ATOMIC_SEQ_CST);
    return rc;
}

static const struct pool_hv_ops fake_ops = {
    .create = hv_desktop_create,
    .start = hv_desktop_start,
    .resume = hv_desktop_resume,
    .park = hv_desktop_park,
    .revert = hv_desktop_revert,
    .del = hv_desktop_delete,
    .get = hv_desktop_get,
    .migrate = fake_migrate,
};

static void
setup(void)
{
    fake_calls = fake_running = fake_peak = fake_fail = 0;
}

static void
teardown(void)
{
    pool_ctx_free(ctx);
    ctx = NULL;
}

/* index of the first event of @desktop whose reason starts with @prefix, or -1 */
static int
event_at(const struct store_event *ev, size_t n, const char *desktop, const char *prefix)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ev[i].desktop, desktop) == 0 &&
            strncmp(ev[i].reason, prefix, strlen(prefix)) == 0)
            return (int)i;
    return -1;
}

/* A pool whose desktops all sit on h01, three of them held by users (connected, one
 * disconnected), then h02 joins the pool's host set and h01 drains. */
static void
three_users_on_h01(const char *tag, struct pool_claim c[3], int attempts)
{
    const char *kv[] = {"max", "8", "warm", "2", "hosts", "h01", "drain", "migrate", NULL};
    const char *more[] = {"hosts", "h01,h02", NULL};
    const char *users[] = {"alice", "bob", "carol"};
    struct pool_ctx_opts o = {.max_migrations = 2, .migrate_attempts = attempts};
    struct pt_err err = {0};

    ctx = pt_ctx_new(tag, 2, &o);
    pool_ctx_set_hv_ops(ctx, &fake_ops);
    pt_pool_put(ctx, "eng", kv);
    pt_converge(ctx, "eng", 2, 2, 20000);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(pool_claim(ctx, "eng", users[i], &c[i], &err) == 0, "%s", err.msg);
        pt_converge(ctx, "eng", 2, 3 + i, 20000);
        ck_assert_int_eq(
            pool_desktop_report(ctx, c[i].desktop, users[i], POOL_SESSION_CONNECTED, &err), 0);
    }
    ck_assert_int_eq(
        pool_desktop_report(ctx, c[2].desktop, "carol", POOL_SESSION_DISCONNECTED, &err), 0);
    ck_assert_int_eq(pt_domains_on(ctx, "h01", "eng"), 5);
    pt_pool_put(ctx, "eng", more);
    ck_assert_msg(pool_ctx_host_drain(ctx, "h01", true, &err) == 0, "%s", err.msg);
}

static bool
h01_empty(struct pool_ctx *c, void *arg)
{
    (void)arg;
    return pt_domains_on(c, "h01", "eng") == 0 && pool_ctx_busy(c) == 0;
}

START_TEST(test_users_desktops_on_a_draining_host_move_two_at_a_time_and_keep_their_users)
{
    struct pool_claim c[3];
    struct pool_desktop d;
    struct store_event *ev = NULL;
    size_t n = 0;
    struct pt_err err = {0};
    const char *users[] = {"alice", "bob", "carol"};
    const enum pool_state want[] = {POOL_STATE_CONNECTED, POOL_STATE_CONNECTED,
                                    POOL_STATE_DISCONNECTED};

    three_users_on_h01("drainmig", c, 2);
    /* the two idle ones are retired and replaced on h02; the three held ones move (the
     * pool looks converged between two waves of migrations: wait for h01 to empty) */
    ck_assert_msg(pool_ctx_run(ctx, 20, 20000, h01_empty, NULL, &err) == 0, "h01 never emptied: %s",
                  err.msg);
    pt_converge(ctx, "eng", 2, 5, 20000);
    ck_assert_int_eq(pt_domains_on(ctx, "h01", "eng"), 0);
    ck_assert_int_eq(pt_domains_on(ctx, "h02", "eng"), 5);
    ck_assert_int_eq(__atomic_load_n(&fake_calls, __ATOMIC_SEQ_CST), 3);
    ck_assert_msg(fake_peak <= 2, "%d migrations ran at once (max_migrations = 2)", fake_peak);
    ck_assert_int_eq(store_event_list(pool_ctx_store(ctx), NULL, 1000, &ev, &n, &err), 0);
    for (int i = 0; i < 3; i++) {
        int before = event_at(ev, n, c[i].desktop, "host draining: migrating from h01 to h02");
        int after = event_at(ev, n, c[i].desktop, "host draining: migrated from h01 to h02");

        ck_assert_int_eq(pool_desktop_get(ctx, c[i].desktop, &d, &err), 0);
        ck_assert_str_eq(d.host, "h02");
        ck_assert_str_eq(d.user, users[i]);
        ck_assert_int_eq(d.state, want[i]);
        ck_assert_msg(before >= 0 && after > before, "%s: history before=%d after=%d", c[i].desktop,
                      before, after);
        ck_assert_str_eq(ev[after].user, users[i]);
    }
    free(ev);
    /* a moved desktop is an ordinary one on its new host: logoff recycles it there */
    ck_assert_int_eq(pool_desktop_report(ctx, c[0].desktop, "alice", POOL_SESSION_LOGOFF, &err), 0);
    pt_converge(ctx, "eng", 2, 4, 20000);
    ck_assert_int_eq(pt_domains_on(ctx, "h02", "eng"), 4);
}
END_TEST

static bool
attempts_spent(struct pool_ctx *c, void *arg)
{
    const struct pool_claim *cl = arg;

    for (int i = 0; i < 3; i++)
        if (pool_migrate_fails(c, cl[i].desktop) < 2)
            return false;
    return true;
}

START_TEST(test_a_failing_migration_is_retried_then_the_desktop_waits_for_logoff)
{
    struct pool_claim c[3];
    struct pool_desktop d;
    struct store_event *ev = NULL;
    size_t n = 0;
    int failed = 0;
    struct pt_err err = {0};

    __atomic_store_n(&fake_fail, 1, __ATOMIC_SEQ_CST);
    three_users_on_h01("drainfail", c, 2);
    /* idle ones replaced on h02; each held one tried twice (migrate_attempts), then left */
    ck_assert_msg(pool_ctx_run(ctx, 20, 20000, attempts_spent, c, &err) == 0,
                  "migrations not given up: %s", err.msg);
    pt_converge(ctx, "eng", 2, 5, 20000);
    pool_ctx_run(ctx, 20, 300, NULL, NULL, &err); /* more passes start no further attempt */
    ck_assert_int_eq(__atomic_load_n(&fake_calls, __ATOMIC_SEQ_CST), 6);
    ck_assert_int_eq(pool_migrate_fails(ctx, c[0].desktop), 2);
    ck_assert_int_eq(pt_domains_on(ctx, "h01", "eng"), 3);
    ck_assert_int_eq(store_event_list(pool_ctx_store(ctx), NULL, 1000, &ev, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        failed += strncmp(ev[i].reason, "host draining: migration to h02 failed", 38) == 0;
    free(ev);
    ck_assert_int_eq(failed, 6);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pool_desktop_get(ctx, c[i].desktop, &d, &err), 0);
        ck_assert_str_eq(d.host, "h01");
        ck_assert(d.user[0] != '\0');
    }
    /* at logoff the desktop is retired from the draining host */
    ck_assert_int_eq(pool_desktop_report(ctx, c[1].desktop, "bob", POOL_SESSION_LOGOFF, &err), 0);
    pt_converge(ctx, "eng", 2, 4, 20000);
    ck_assert_int_eq(pt_domains_on(ctx, "h01", "eng"), 2);
    ck_assert_int_eq(__atomic_load_n(&fake_calls, __ATOMIC_SEQ_CST), 6);
}
END_TEST

START_TEST(test_drain_retire_leaves_users_desktops_in_place)
{
    const char *retire[] = {"drain", "retire", NULL};
    struct pool_claim c[3];

    three_users_on_h01("drainret", c, 2);
    pt_pool_put(ctx, "eng", retire);
    pt_converge(ctx, "eng", 2, 5, 20000);
    ck_assert_int_eq(pt_domains_on(ctx, "h01", "eng"), 3);
    /* no pass ran between the drain and the policy change: nothing was tried */
    ck_assert_int_eq(__atomic_load_n(&fake_calls, __ATOMIC_SEQ_CST), 0);
}
END_TEST

Suite *
pool_drain_suite(void)
{
    Suite *s = suite_create("pool_drain");
    TCase *tc = tcase_create("drain");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc,
                   test_users_desktops_on_a_draining_host_move_two_at_a_time_and_keep_their_users);
    tcase_add_test(tc, test_a_failing_migration_is_retried_then_the_desktop_waits_for_logoff);
    tcase_add_test(tc, test_drain_retire_leaves_users_desktops_in_place);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
