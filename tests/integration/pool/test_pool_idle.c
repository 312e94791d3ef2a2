/*
 * test_pool_idle.c - the idle timeout (pool spec `idle_timeout`) through the real hv
 * layer on libvirt test:/// hosts. Timing-independent: the pool runs on an injected
 * clock (pool_ctx_opts.clock_ms) that only the test moves, so "10 minutes of no
 * activity" is a number, not a wait, and the boundary (one millisecond short of the
 * timeout: nothing happens) is checked exactly. Activity reports from the gateway push
 * the deadline back; a floating desktop that times out goes back to the pool (recycled,
 * user cleared), a dedicated one is recycled and kept for its user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "pooltest.h"
#include "store/store.h"

Suite *pool_idle_suite(void);

#define MIN_MS (60 * 1000LL)
/* 2026-11-23 09:00 UTC: a fixed start, far from any schedule edge (none are set) */
#define T0 1795424400000LL

static struct pool_ctx *ctx;
static int64_t fake_now; /* the pool's wall clock, moved only by the test */

static int64_t
test_clock(void *opaque)
{
    (void)opaque;
    return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}

static void
clock_set(int64_t ms)
{
    __atomic_store_n(&fake_now, ms, __ATOMIC_SEQ_CST);
}

static void
setup(void)
{
    struct pool_ctx_opts o = {.clock_ms = test_clock};

    clock_set(T0);
    ctx = pt_ctx_new("idle", 2, &o);
}

static void
teardown(void)
{
    pool_ctx_free(ctx);
    ctx = NULL;
}

/* one pass plus its completions, so every timeout due at the current clock is applied */
static void
settle(void)
{
    struct pt_err err = {0};

    ck_assert_msg(pool_tick(ctx, &err) == 0, "%s", err.msg);
    pool_ctx_run(ctx, 10, 200, NULL, NULL, &err);
}

static bool
idle_event(const char *desktop)
{
    struct store_event *ev = NULL;
    size_t n = 0;
    bool found = false;
    struct pt_err err = {0};

    ck_assert_int_eq(store_event_list(pool_ctx_store(ctx), desktop, 100, &ev, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        found |= strcmp(ev[i].reason, "idle timeout") == 0 && strcmp(ev[i].to, "recycling") == 0;
    free(ev);
    return found;
}

static void
claim_connected(const char *user, struct pool_claim *c)
{
    struct pt_err err = {0};

    ck_assert_msg(pool_claim(ctx, "eng", user, c, &err) == 0, "%s", err.msg);
    ck_assert_msg(c->ready, "%s: claim not served warm", user);
    ck_assert_int_eq(pool_desktop_report(ctx, c->desktop, user, POOL_SESSION_CONNECTED, &err), 0);
}

START_TEST(
    test_activity_postpones_the_idle_timeout_and_an_idle_floating_desktop_returns_to_the_pool)
{
    const char *kv[] = {
        "max", "4",           "warm", "2", "idle_timeout", "10m", "disconnected_timeout",
        "0",   "max_session", "0",    NULL};
    struct pool_claim a, b;
    struct pool_desktop d;
    struct pt_err err = {0};

    pt_pool_put(ctx, "eng", kv);
    pt_converge(ctx, "eng", 2, 2, 20000);
    claim_connected("alice", &a);
    claim_connected("bob", &b);
    pt_converge(ctx, "eng", 2, 4, 20000);

    /* alice is active at +9 min; bob never reports activity */
    clock_set(T0 + 9 * MIN_MS);
    ck_assert_int_eq(pool_desktop_report(ctx, a.desktop, "alice", POOL_SESSION_ACTIVITY, &err), 0);
    /* one millisecond short of bob's 10 minutes: nothing happens */
    clock_set(T0 + 10 * MIN_MS - 1);
    settle();
    ck_assert_int_eq(pool_desktop_get(ctx, b.desktop, &d, &err), 0);
    ck_assert_str_eq(d.user, "bob");
    ck_assert_int_eq(d.state, POOL_STATE_CONNECTED);

    /* bob reaches 10 minutes idle: his desktop is recycled and returned to the pool;
     * alice (2 minutes since her activity) keeps hers */
    clock_set(T0 + 10 * MIN_MS);
    settle();
    ck_assert(idle_event(b.desktop));
    ck_assert(!idle_event(a.desktop));
    ck_assert_int_eq(pool_desktop_get(ctx, a.desktop, &d, &err), 0);
    ck_assert_str_eq(d.user, "alice");
    ck_assert_int_eq(d.state, POOL_STATE_CONNECTED);
    pt_converge(ctx, "eng", 2, 3, 20000);
    ck_assert_msg(pool_desktop_get(ctx, b.desktop, &d, &err) < 0 || d.user[0] == '\0',
                  "bob still holds %s", b.desktop);
    ck_assert_int_eq(pool_desktop_report(ctx, b.desktop, "bob", POOL_SESSION_ACTIVITY, &err), -1);
    ck_assert_int_eq(err.code, PT_E_FORBIDDEN);

    /* alice's own deadline is 10 minutes after her last activity, not after her claim */
    clock_set(T0 + 19 * MIN_MS - 1);
    settle();
    ck_assert(!idle_event(a.desktop));
    clock_set(T0 + 19 * MIN_MS);
    settle();
    ck_assert(idle_event(a.desktop));
    pt_converge(ctx, "eng", 2, 2, 20000);
}
END_TEST

START_TEST(test_an_idle_dedicated_desktop_is_recycled_and_kept_for_its_user)
{
    const char *kv[] = {
        "max",         "4",         "warm",      "1",       "idle_timeout",         "5m",
        "assignment",  "dedicated", "on_logoff", "refresh", "disconnected_timeout", "0",
        "max_session", "0",         NULL};
    struct pool_claim c;
    struct pool_desktop d;
    struct pt_err err = {0};

    pt_pool_put(ctx, "eng", kv);
    pt_converge(ctx, "eng", 1, 1, 20000);
    claim_connected("carol", &c);
    pt_converge(ctx, "eng", 1, 2, 20000);
    /* a disconnected session is not "idle": the idle timeout is for open sessions */
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "carol", POOL_SESSION_DISCONNECTED, &err),
                     0);
    clock_set(T0 + 60 * MIN_MS);
    settle();
    ck_assert(!idle_event(c.desktop));
    /* connected again at +60 min, then 5 minutes without activity */
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "carol", POOL_SESSION_CONNECTED, &err), 0);
    clock_set(T0 + 65 * MIN_MS);
    settle();
    ck_assert(idle_event(c.desktop));
    pt_converge(ctx, "eng", 1, 2, 20000);
    ck_assert_int_eq(pool_desktop_get(ctx, c.desktop, &d, &err), 0);
    ck_assert_str_eq(d.user, "carol");
    ck_assert_int_eq(d.state, POOL_STATE_ASSIGNED);
}
END_TEST

Suite *
pool_idle_suite(void)
{
    Suite *s = suite_create("pool_idle");
    TCase *tc = tcase_create("idle");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(
        tc,
        test_activity_postpones_the_idle_timeout_and_an_idle_floating_desktop_returns_to_the_pool);
    tcase_add_test(tc, test_an_idle_dedicated_desktop_is_recycled_and_kept_for_its_user);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
