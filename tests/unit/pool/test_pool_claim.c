/*
 * test_pool_claim.c - claims on a real SQLite store: warm, reconnect, resume, reserve,
 * exhausted (with the expected wait), logoff policies, and races: several threads,
 * each with its own pool context and store connection on one database file, claiming
 * the last ready desktops at the same instant. No hypervisor host is configured: the
 * rows are written straight into the store, which is all a claim reads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/str.h"
#include "pool/pool.h"
#include "store/store.h"
#include "tsupport/fixture.h"

static char dbpath[512];
static struct pool_ctx *ctx;

static struct pool_ctx *
ctx_open(void)
{
    struct pool_ctx_opts o = {.workers = 1, .probe = pool_probe_domain_state};
    struct pt_err err = {0};
    struct store *st = store_open(dbpath, &err);
    struct pool_ctx *c;

    ck_assert_msg(st, "%s", err.msg);
    c = pool_ctx_new(&o, &st, &err);
    ck_assert_msg(c, "%s", err.msg);
    ck_assert_ptr_null(st);
    return c;
}

static void
put_pool(const char *kv[])
{
    struct pt_err err = {0};
    struct pool_spec *s = pool_spec_new("eng", &err);

    ck_assert_int_eq(pool_spec_set(s, "image", "/golden/eng.qcow2", &err), 0);
    for (int i = 0; kv && kv[i]; i += 2)
        ck_assert_msg(pool_spec_set(s, kv[i], kv[i + 1], &err) == 0, "%s", err.msg);
    ck_assert_msg(pool_ctx_pool_put(ctx, s, &err) == 0, "%s", err.msg);
    pool_spec_free(s);
}

static void
add_desktop(const char *id, const char *state, const char *user)
{
    struct store_desktop d;
    struct pt_err err = {0};

    memset(&d, 0, sizeof(d));
    pt_strlcpy(d.id, id, sizeof(d.id));
    pt_strlcpy(d.pool, "eng", sizeof(d.pool));
    pt_strlcpy(d.host, "nohost", sizeof(d.host));
    snprintf(d.domain, sizeof(d.domain), "pt-%s", id);
    pt_strlcpy(d.state, state, sizeof(d.state));
    pt_strlcpy(d.user, user ? user : "", sizeof(d.user));
    pt_strlcpy(d.image_version, "1", sizeof(d.image_version));
    d.created_ms = d.state_ms = pt_time_wall_ms() - 1000;
    ck_assert_msg(store_desktop_insert(pool_ctx_store(ctx), &d, &err) == 0, "%s", err.msg);
}

static void
setup(void)
{
    static int n;

    snprintf(dbpath, sizeof(dbpath), "%s/claim-%d-%d.db", tf_tmpdir(), (int)getpid(), n++);
    ctx = ctx_open();
}

static void
teardown(void)
{
    pool_ctx_free(ctx);
    ctx = NULL;
}

START_TEST(test_a_ready_desktop_is_claimed_warm_and_recorded)
{
    const char *kv[] = {"max", "5", NULL};
    struct pool_claim c;
    struct pool_desktop d;
    struct store_event *ev = NULL;
    struct store_claim_stats cs;
    size_t n = 0;
    struct pt_err err = {0};

    put_pool(kv);
    add_desktop("eng-0001", "ready", NULL);
    ck_assert_msg(pool_claim(ctx, "eng", "alice", &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.outcome, POOL_CLAIM_WARM);
    ck_assert(c.ready);
    ck_assert_int_eq(c.expected_wait_ms, 0);
    ck_assert_str_eq(c.desktop, "eng-0001");
    ck_assert_int_eq(pool_desktop_get(ctx, "eng-0001", &d, &err), 0);
    ck_assert_int_eq(d.state, POOL_STATE_ASSIGNED);
    ck_assert_str_eq(d.user, "alice");
    ck_assert_int_eq(store_event_list(pool_ctx_store(ctx), "eng-0001", 5, &ev, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ev[0].from, "ready");
    ck_assert_str_eq(ev[0].to, "assigned");
    ck_assert_str_eq(ev[0].user, "alice");
    ck_assert_str_eq(ev[0].reason, "claimed warm");
    free(ev);
    ck_assert_int_eq(store_claim_stats(pool_ctx_store(ctx), "eng", 0, &cs, &err), 0);
    ck_assert_int_eq(cs.claims, 1);
    ck_assert_int_eq(cs.warm, 1);
    ck_assert_int_eq(cs.served, 1);
}
END_TEST

START_TEST(test_a_returning_user_gets_the_same_desktop)
{
    const char *kv[] = {"max", "5", NULL};
    struct pool_claim c1, c2, c3;
    struct pt_err err = {0};

    put_pool(kv);
    add_desktop("eng-0001", "ready", NULL);
    add_desktop("eng-0002", "ready", NULL);
    ck_assert_int_eq(pool_claim(ctx, "eng", "alice", &c1, &err), 0);
    ck_assert_int_eq(pool_desktop_report(ctx, c1.desktop, "alice", POOL_SESSION_CONNECTED, &err),
                     0);
    ck_assert_int_eq(pool_desktop_report(ctx, c1.desktop, "alice", POOL_SESSION_DISCONNECTED, &err),
                     0);
    ck_assert_int_eq(pool_claim(ctx, "eng", "alice", &c2, &err), 0);
    ck_assert_int_eq(c2.outcome, POOL_CLAIM_RECONNECT);
    ck_assert_str_eq(c2.desktop, c1.desktop);
    ck_assert_int_eq(c2.state, POOL_STATE_DISCONNECTED);
    ck_assert(c2.ready);
    /* someone else gets the other one */
    ck_assert_int_eq(pool_claim(ctx, "eng", "bob", &c3, &err), 0);
    ck_assert_str_ne(c3.desktop, c1.desktop);
    /* and a stranger cannot report on alice's desktop */
    ck_assert_int_eq(pool_desktop_report(ctx, c1.desktop, "bob", POOL_SESSION_LOGOFF, &err), -1);
    ck_assert_int_eq(err.code, PT_E_FORBIDDEN);
}
END_TEST

START_TEST(test_claims_prefer_ready_then_parked_then_starting)
{
    const char *kv[] = {"max", "3", NULL};
    struct pool_claim c;
    struct pt_err err = {0};

    put_pool(kv);
    add_desktop("eng-0001", "starting", NULL);
    add_desktop("eng-0002", "parked", NULL);
    add_desktop("eng-0003", "ready", NULL);
    ck_assert_int_eq(pool_claim(ctx, "eng", "u1", &c, &err), 0);
    ck_assert_int_eq(c.outcome, POOL_CLAIM_WARM);
    ck_assert_str_eq(c.desktop, "eng-0003");
    ck_assert_int_eq(pool_claim(ctx, "eng", "u2", &c, &err), 0);
    ck_assert_int_eq(c.outcome, POOL_CLAIM_RESUME);
    ck_assert_str_eq(c.desktop, "eng-0002");
    ck_assert_int_eq(c.state, POOL_STATE_STARTING);
    ck_assert(!c.ready);
    ck_assert_int_gt(c.expected_wait_ms, 0);
    ck_assert_int_eq(pool_claim(ctx, "eng", "u3", &c, &err), 0);
    ck_assert_int_eq(c.outcome, POOL_CLAIM_STARTING);
    ck_assert_str_eq(c.desktop, "eng-0001");
    /* all three held, max 3: exhausted, and nothing is due to free up */
    ck_assert_int_eq(pool_claim(ctx, "eng", "u4", &c, &err), -1);
    ck_assert_int_eq(err.code, PT_E_LIMIT);
    ck_assert_msg(strstr(err.msg, "pool 'eng' is exhausted"), "%s", err.msg);
    ck_assert_int_eq(c.expected_wait_ms, -1);
}
END_TEST

START_TEST(test_an_exhausted_pool_estimates_the_wait_from_timeouts)
{
    const char *kv[] = {"max", "1", "disconnected_timeout", "10m", NULL};
    struct pool_claim c;
    struct pt_err err = {0};

    put_pool(kv);
    add_desktop("eng-0001", "ready", NULL);
    ck_assert_int_eq(pool_claim(ctx, "eng", "alice", &c, &err), 0);
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_CONNECTED, &err), 0);
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_DISCONNECTED, &err),
                     0);
    ck_assert_int_eq(pool_claim(ctx, "eng", "bob", &c, &err), -1);
    ck_assert_int_eq(err.code, PT_E_LIMIT);
    ck_assert_msg(c.expected_wait_ms > 9 * 60 * 1000 && c.expected_wait_ms <= 10 * 60 * 1000,
                  "expected wait %lld", (long long)c.expected_wait_ms);
}
END_TEST

START_TEST(test_below_max_without_a_host_is_unavailable_not_exhausted)
{
    const char *kv[] = {"max", "2", NULL};
    struct pool_claim c;
    struct pt_err err = {0};

    put_pool(kv);
    ck_assert_int_eq(pool_claim(ctx, "eng", "alice", &c, &err), -1);
    ck_assert_int_eq(err.code, PT_E_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "no host can take a desktop"), "%s", err.msg);
    ck_assert_int_eq(pool_claim(ctx, "nope", "alice", &c, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_int_eq(pool_claim(ctx, "eng", "", &c, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
}
END_TEST

START_TEST(test_logoff_frees_a_floating_desktop_and_keeps_a_dedicated_one)
{
    const char *floating[] = {"max", "2", NULL};
    const char *dedicated[] = {"max", "2", "assignment", "dedicated", NULL};
    struct pool_claim c;
    struct pool_desktop d;
    struct pt_err err = {0};

    put_pool(floating);
    add_desktop("eng-0001", "ready", NULL);
    ck_assert_int_eq(pool_claim(ctx, "eng", "alice", &c, &err), 0);
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_LOGOFF, &err), 0);
    ck_assert_int_eq(pool_desktop_get(ctx, c.desktop, &d, &err), 0);
    ck_assert_int_eq(d.state, POOL_STATE_RECYCLING);
    ck_assert_str_eq(d.user, "");

    put_pool(dedicated);
    add_desktop("eng-0002", "ready", NULL);
    ck_assert_int_eq(pool_claim(ctx, "eng", "bob", &c, &err), 0);
    ck_assert_str_eq(c.desktop, "eng-0002");
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "bob", POOL_SESSION_LOGOFF, &err), 0);
    ck_assert_int_eq(pool_desktop_get(ctx, c.desktop, &d, &err), 0);
    ck_assert_int_eq(d.state, POOL_STATE_RECYCLING);
    ck_assert_str_eq(d.user, "bob");
    /* bob comes back to his own desktop while it is being refreshed */
    ck_assert_int_eq(pool_claim(ctx, "eng", "bob", &c, &err), 0);
    ck_assert_int_eq(c.outcome, POOL_CLAIM_RECONNECT);
    ck_assert_str_eq(c.desktop, "eng-0002");
    ck_assert(!c.ready);
    /* nothing to log off twice */
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "bob", POOL_SESSION_LOGOFF, &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
}
END_TEST

/* --- races ----------------------------------------------------------------------------- */

#define RACERS 8

struct racer {
    pthread_barrier_t *bar;
    int idx;
    int users; /* claims this thread makes, one user each */
    int won, exhausted, other;
    char desktops[4][64];
    char errmsg[256];
};

static void *
race(void *arg)
{
    struct racer *r = arg;
    struct pool_ctx *mine = ctx_open(); /* own context, own store connection */

    pthread_barrier_wait(r->bar);
    for (int u = 0; u < r->users; u++) {
        struct pool_claim c;
        struct pt_err err = {0};
        char user[32];

        snprintf(user, sizeof(user), "user-%d-%d", r->idx, u);
        if (pool_claim(mine, "eng", user, &c, &err) == 0 && c.outcome == POOL_CLAIM_WARM) {
            pt_strlcpy(r->desktops[r->won++], c.desktop, sizeof(r->desktops[0]));
        } else if (err.code == PT_E_LIMIT) {
            r->exhausted++;
        } else {
            r->other++;
            pt_strlcpy(r->errmsg, err.msg, sizeof(r->errmsg));
        }
    }
    pool_ctx_free(mine);
    return NULL;
}

static void
run_race(int nready, int users_each, int *won, char seen[][64])
{
    pthread_t th[RACERS];
    struct racer r[RACERS];
    pthread_barrier_t bar;
    int total = 0;

    pthread_barrier_init(&bar, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].bar = &bar;
        r[i].idx = i;
        r[i].users = users_each;
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < RACERS; i++) {
        ck_assert_msg(r[i].other == 0, "racer %d: %s", i, r[i].errmsg);
        for (int k = 0; k < r[i].won; k++)
            pt_strlcpy(seen[total++], r[i].desktops[k], 64);
    }
    *won = total;
    ck_assert_int_le(total, nready);
}

START_TEST(test_concurrent_claims_for_the_last_ready_desktop_have_one_winner)
{
    const char *kv[] = {"max", "1", "warm", "1", NULL};
    char seen[RACERS * 4][64];
    int won = 0;

    put_pool(kv);
    add_desktop("eng-0001", "ready", NULL);
    run_race(1, 1, &won, seen);
    ck_assert_int_eq(won, 1);
    ck_assert_str_eq(seen[0], "eng-0001");
}
END_TEST

START_TEST(test_concurrent_claims_never_share_a_desktop)
{
    const char *kv[] = {"max", "5", "warm", "5", NULL};
    char seen[RACERS * 4][64], id[32];
    struct store_desktop *rows = NULL;
    size_t n = 0;
    int won = 0, held = 0;
    struct pt_err err = {0};

    put_pool(kv);
    for (int i = 1; i <= 5; i++) {
        snprintf(id, sizeof(id), "eng-%04d", i);
        add_desktop(id, "ready", NULL);
    }
    run_race(5, 3, &won, seen); /* 24 users for 5 desktops */
    ck_assert_int_eq(won, 5);
    for (int i = 0; i < won; i++)
        for (int k = i + 1; k < won; k++)
            ck_assert_str_ne(seen[i], seen[k]);
    ck_assert_int_eq(store_desktop_list(pool_ctx_store(ctx), "eng", &rows, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        held += rows[i].user[0] != '\0';
    ck_assert_int_eq(held, 5);
    free(rows);
}
END_TEST

Suite *pool_claim_suite(void);
Suite *
pool_claim_suite(void)
{
    Suite *s = suite_create("pool_claim");
    TCase *tc = tcase_create("claim");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_a_ready_desktop_is_claimed_warm_and_recorded);
    tcase_add_test(tc, test_a_returning_user_gets_the_same_desktop);
    tcase_add_test(tc, test_claims_prefer_ready_then_parked_then_starting);
    tcase_add_test(tc, test_an_exhausted_pool_estimates_the_wait_from_timeouts);
    tcase_add_test(tc, test_below_max_without_a_host_is_unavailable_not_exhausted);
    tcase_add_test(tc, test_logoff_frees_a_floating_desktop_and_keeps_a_dedicated_one);
    tcase_add_loop_test(tc, test_concurrent_claims_for_the_last_ready_desktop_have_one_winner, 0,
                        5);
    tcase_add_test(tc, test_concurrent_claims_never_share_a_desktop);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
