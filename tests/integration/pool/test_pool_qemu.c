/*
 * test_pool_qemu.c - a small pool on the real libvirtd with QEMU guests (TCG or KVM as
 * the machine allows), using the default readiness probe: a desktop is ready only when
 * its display port answers. Two warm desktops, a claim, a logoff that refreshes the
 * desktop to golden, then the pool shrinks to nothing and no domain is left behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "hypervisor/hv.h"
#include "pool/pool.h"
#include "store/store.h"
#include "tsupport/fixture.h"

static char prefix[48];

static int
mine(struct pool_ctx *ctx, int *ready_running)
{
    struct hv_desktop_info *dl = NULL;
    size_t n = 0;
    int k = 0;

    *ready_running = 0;
    ck_assert_int_eq(hv_desktop_list(pool_ctx_hv(ctx), "local", &dl, &n, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(dl[i].name, prefix, strlen(prefix)) != 0)
            continue;
        k++;
        *ready_running += dl[i].state == HV_DOMAIN_RUNNING;
    }
    free(dl);
    return k;
}

struct want {
    int ready, total;
};

static bool
reached(struct pool_ctx *ctx, void *arg)
{
    struct want *w = arg;
    struct pool_status *ps = NULL;
    size_t n = 0;
    int running;
    bool ok;

    ck_assert_int_eq(pool_ctx_status(ctx, &ps, &n, NULL), 0);
    ok = ps[0].counts[POOL_STATE_READY] == w->ready && ps[0].total == w->total &&
         ps[0].counts[POOL_STATE_DELETING] == 0 && ps[0].counts[POOL_STATE_ERROR] == 0 &&
         pool_ctx_busy(ctx) == 0 && mine(ctx, &running) == w->total;
    free(ps);
    return ok;
}

static void
put(struct pool_ctx *ctx, const char *golden, const char *warm, const char *max)
{
    struct pt_err err = {0};
    struct pool_spec *s = pool_spec_new("q", &err);

    ck_assert_int_eq(pool_spec_set(s, "image", golden, &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "domain_type", tf_guest_domain_type(), &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "memory", "64", &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "protocols", "vnc", &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "warm", warm, &err), 0);
    ck_assert_int_eq(pool_spec_set(s, "max", max, &err), 0);
    ck_assert_msg(pool_ctx_pool_put(ctx, s, &err) == 0, "%s", err.msg);
    pool_spec_free(s);
}

START_TEST(test_real_guests_become_ready_when_their_display_answers)
{
    struct pool_ctx_opts o = {.workers = 2, .max_actions = 4, .ready_timeout_ms = 30000};
    struct pool_ctx *ctx;
    struct store *st;
    struct pool_claim c;
    struct want w2 = {2, 2}, w3 = {2, 3}, w0 = {0, 0};
    const char *golden;
    char db[512];
    int running;
    struct pt_err err = {0};

    ck_assert_msg(tf_libvirtd_ensure(&err) == 0, "%s", err.msg);
    golden = tf_guest_base_image(&err);
    ck_assert_msg(golden, "%s", err.msg);
    snprintf(prefix, sizeof(prefix), "pt-pooltest%d-", (int)getpid());
    o.domain_prefix = prefix;
    snprintf(db, sizeof(db), "%s/qemu.db", tf_tmpdir());
    st = store_open(db, &err);
    ck_assert_msg(st, "%s", err.msg);
    ctx = pool_ctx_new(&o, &st, &err);
    ck_assert_msg(ctx, "%s", err.msg);
    ck_assert_msg(pool_ctx_host_add(ctx, "local", "qemu:///system", 0, 256, &err) == 0, "%s",
                  err.msg);
    put(ctx, golden, "2", "3");
    ck_assert_msg(pool_ctx_run(ctx, 100, 60000, reached, &w2, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(mine(ctx, &running), 2);
    ck_assert_int_eq(running, 2);

    ck_assert_msg(pool_claim(ctx, "q", "alice", &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.outcome, POOL_CLAIM_WARM);
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_CONNECTED, &err), 0);
    ck_assert_msg(pool_ctx_run(ctx, 100, 60000, reached, &w3, &err) == 0, "%s", err.msg);
    /* logoff: refreshed to golden (fresh overlay) and probed again before it is ready */
    ck_assert_int_eq(pool_desktop_report(ctx, c.desktop, "alice", POOL_SESSION_LOGOFF, &err), 0);
    ck_assert_msg(pool_ctx_run(ctx, 100, 60000, reached, &w2, &err) == 0, "%s", err.msg);

    put(ctx, golden, "0", "0");
    ck_assert_msg(pool_ctx_run(ctx, 100, 60000, reached, &w0, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(mine(ctx, &running), 0);
    pool_ctx_free(ctx);
}
END_TEST

Suite *pool_qemu_suite(void);
Suite *
pool_qemu_suite(void)
{
    Suite *s = suite_create("pool_qemu");
    TCase *tc = tcase_create("qemu");

    tcase_add_test(tc, test_real_guests_become_ready_when_their_display_answers);
    tcase_set_timeout(tc, 170);
    suite_add_tcase(s, tc);
    return s;
}
