/*
 * test_pool_migrate.c - host drain with `drain = migrate` for real: two independent
 * system libvirtds (scripts/fixtures/libvirtd2.sh instances 5 and 6, so they never
 * collide with test_hv_migrate's 1 and 2), QEMU guests, the default display probe. A
 * user's connected desktop on host a is live-migrated to host b when a drains: the row
 * names b, the user and state are kept, the domain runs on b, nothing of the pool is
 * left on a, and the pool is whole again (its warm desktop re-created on b).
 *
 * The daemons are started and stopped by PID in the unchecked fixture (parent process),
 * so a failed test still stops them; the checked teardown deletes the pool's domains on
 * both hosts. Stale daemons of killed runs (their state dir names a dead pid) are reaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/str.h"
#include "hypervisor/hv.h"
#include "pool/pool.h"
#include "store/store.h"
#include "tsupport/fixture.h"

Suite *pool_migrate_suite(void);

static const char *golden;
static struct tf_host2 hosts[2]; /* libvirtd2.sh instances 5 and 6 */
static char prefix[48];
static struct pool_ctx *ctx;

static void
hosts_down(void)
{
    tf_host2_stop(&hosts[0]);
    tf_host2_stop(&hosts[1]);
}

static void
hosts_up(void)
{
    struct pt_err err = {0};

    tf_host2_reap_stale("pmig");
    golden = tf_guest_base_image(&err);
    ck_assert_msg(golden, "%s", err.msg);
    for (int i = 0; i < 2; i++)
        if (tf_host2_start(&hosts[i], "pmig", 5 + i, (char)('a' + i), golden, &err) < 0) {
            hosts_down();
            ck_abort_msg("%s", err.msg);
        }
}

static void
setup(void)
{
    struct pool_ctx_opts o = {.workers = 3, .ready_timeout_ms = 30000};
    struct pt_err err = {0};
    struct store *st;
    char db[512];

    snprintf(prefix, sizeof(prefix), "pt-pmig%d-", (int)getpid());
    o.domain_prefix = prefix;
    snprintf(db, sizeof(db), "%s/pmig.db", tf_tmpdir());
    unlink(db);
    st = store_open(db, &err);
    ck_assert_msg(st, "%s", err.msg);
    ctx = pool_ctx_new(&o, &st, &err);
    ck_assert_msg(ctx, "%s", err.msg);
    ck_assert_msg(pool_ctx_host_add(ctx, "a", hosts[0].uri, 0, 256, &err) == 0, "%s", err.msg);
    ck_assert_msg(pool_ctx_host_add(ctx, "b", hosts[1].uri, 0, 256, &err) == 0, "%s", err.msg);
}

/* every domain of this test on @host; deletes them when @del */
static int
mine(const char *host, bool del)
{
    struct hv_desktop_info *dl = NULL;
    size_t n = 0;
    int k = 0;
    struct pt_err err = {0};

    if (hv_desktop_list(pool_ctx_hv(ctx), host, &dl, &n, &err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(dl[i].name, prefix, strlen(prefix)) != 0)
            continue;
        k++;
        if (del && hv_desktop_delete(pool_ctx_hv(ctx), host, dl[i].name, &err) < 0)
            fprintf(stderr, "teardown %s: %s\n", host, err.msg);
    }
    free(dl);
    return k;
}

static void
teardown(void)
{
    mine("a", true);
    mine("b", true);
    pool_ctx_free(ctx);
    ctx = NULL;
}

static void
put(const char *key, const char *value)
{
    struct pt_err err = {0};
    const struct pool_spec *cur = pool_ctx_pool_get(ctx, "m");
    struct pool_spec *s = cur ? pool_spec_dup(cur) : pool_spec_new("m", &err);

    ck_assert_msg(s, "%s", err.msg);
    if (!cur) {
        ck_assert_int_eq(pool_spec_set(s, "image", golden, &err), 0);
        ck_assert_int_eq(pool_spec_set(s, "domain_type", tf_guest_domain_type(), &err), 0);
        ck_assert_int_eq(pool_spec_set(s, "memory", "64", &err), 0);
        ck_assert_int_eq(pool_spec_set(s, "protocols", "vnc", &err), 0);
        ck_assert_int_eq(pool_spec_set(s, "warm", "1", &err), 0);
        ck_assert_int_eq(pool_spec_set(s, "max", "2", &err), 0);
        ck_assert_int_eq(pool_spec_set(s, "drain", "migrate", &err), 0);
    }
    ck_assert_msg(pool_spec_set(s, key, value, &err) == 0, "%s", err.msg);
    ck_assert_msg(pool_ctx_pool_put(ctx, s, &err) == 0, "%s", err.msg);
    pool_spec_free(s);
}

struct want {
    int ready, total;
    const char *desktop, *host; /* optional: @desktop's row names @host */
};

static bool
reached(struct pool_ctx *c, void *arg)
{
    struct want *w = arg;
    struct pool_status *ps = NULL;
    struct pool_desktop d;
    size_t n = 0;
    bool ok;

    ck_assert_int_eq(pool_ctx_status(c, &ps, &n, NULL), 0);
    ok = ps[0].counts[POOL_STATE_READY] == w->ready && ps[0].total == w->total &&
         ps[0].counts[POOL_STATE_ERROR] == 0 && ps[0].counts[POOL_STATE_DELETING] == 0 &&
         pool_ctx_busy(c) == 0;
    free(ps);
    if (ok && w->desktop)
        ok = pool_desktop_get(c, w->desktop, &d, NULL) == 0 && strcmp(d.host, w->host) == 0;
    return ok;
}

START_TEST(test_a_connected_desktop_live_migrates_off_a_draining_host_and_keeps_its_user)
{
    struct want one = {1, 1, NULL, NULL}, two = {1, 2, NULL, NULL}, moved = {1, 2, NULL, "b"};
    struct pool_claim c;
    struct pool_desktop d;
    struct hv_desktop_info info;
    int64_t t0;
    struct pt_err err = {0};

    put("hosts", "a");
    ck_assert_msg(pool_ctx_run(ctx, 100, 40000, reached, &one, &err) == 0, "%s", err.msg);
    ck_assert_msg(pool_claim(ctx, "m", "alice", &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.outcome, POOL_CLAIM_WARM);
    ck_assert_str_eq(c.host, "a");
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_CONNECTED, &err), 0);
    ck_assert_msg(pool_ctx_run(ctx, 100, 40000, reached, &two, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(mine("a", false), 2);

    /* b joins the pool's hosts and a drains */
    put("hosts", "a,b");
    ck_assert_msg(pool_ctx_host_drain(ctx, "a", true, &err) == 0, "%s", err.msg);
    t0 = pt_time_mono_ms();
    moved.desktop = c.desktop;
    ck_assert_msg(pool_ctx_run(ctx, 100, 40000, reached, &moved, &err) == 0, "%s", err.msg);
    fprintf(stderr, "test_pool_migrate: drain of a (one live migration, one re-created): %lld ms\n",
            (long long)(pt_time_mono_ms() - t0));
    ck_assert_int_eq(pool_desktop_get(ctx, c.desktop, &d, &err), 0);
    ck_assert_str_eq(d.user, "alice");
    ck_assert_int_eq(d.state, POOL_STATE_CONNECTED);
    ck_assert_msg(hv_desktop_get(pool_ctx_hv(ctx), "b", c.domain, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.state, HV_DOMAIN_RUNNING);
    ck_assert_int_eq(mine("a", false), 0);
    ck_assert_int_eq(mine("b", false), 2);
}
END_TEST

Suite *
pool_migrate_suite(void)
{
    Suite *s = suite_create("pool_migrate");
    TCase *tc = tcase_create("migrate");

    tcase_add_unchecked_fixture(tc, hosts_up, hosts_down);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc,
                   test_a_connected_desktop_live_migrates_off_a_draining_host_and_keeps_its_user);
    tcase_set_timeout(tc, 85);
    suite_add_tcase(s, tc);
    return s;
}
