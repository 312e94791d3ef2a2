/*
 * crash_driver.c - the broker's pool half, standalone, for the crash test: one pool on
 * one host, a SQLite file, and either
 *   storm:    reconcile plus a storm of claims, connects and logoffs by 12 users, until
 *             killed (the test kills it with SIGKILL at a random moment);
 *   converge: recover, log every user off, and run until the pool matches its spec
 *             (exit 0) or 30 s pass (exit 1).
 * Usage: crash_driver storm|converge DB URI GOLDEN PREFIX SEED
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/str.h"
#include "hypervisor/hv.h"
#include "pool/pool.h"
#include "store/store.h"

#define USERS 12

static const char *pool_name = "crash";

static int
setup_pool(struct pool_ctx *ctx, const char *golden, struct pt_err *err)
{
    struct pool_spec *s = pool_spec_new(pool_name, err);
    int rc = -1;

    if (!s)
        return -1;
    if (pool_spec_set(s, "image", golden, err) < 0 || pool_spec_set(s, "memory", "64", err) < 0 ||
        pool_spec_set(s, "max", "6", err) < 0 || pool_spec_set(s, "warm", "2", err) < 0 ||
        pool_spec_set(s, "parked", "1", err) < 0 ||
        pool_spec_set(s, "on_logoff", "recreate", err) < 0)
        goto out;
    rc = pool_ctx_pool_put(ctx, s, err);
out:
    pool_spec_free(s);
    return rc;
}

static void
storm_step(struct pool_ctx *ctx, unsigned *seed)
{
    char user[16];
    struct pool_claim c;
    struct pool_desktop d;
    struct pt_err err = {0};
    int op = rand_r(seed) % 10;

    snprintf(user, sizeof(user), "user%02d", rand_r(seed) % USERS);
    if (op < 5) {
        if (pool_claim(ctx, pool_name, user, &c, &err) == 0 && c.ready && rand_r(seed) % 2)
            pool_desktop_report(ctx, c.desktop, user, POOL_SESSION_CONNECTED, &err);
    } else if (op < 8) {
        /* log off whatever this user holds */
        if (pool_claim(ctx, pool_name, user, &c, &err) == 0 &&
            pool_desktop_get(ctx, c.desktop, &d, &err) == 0 &&
            (d.state == POOL_STATE_ASSIGNED || d.state == POOL_STATE_CONNECTED ||
             d.state == POOL_STATE_DISCONNECTED))
            pool_desktop_report(ctx, c.desktop, user, POOL_SESSION_LOGOFF, &err);
    }
}

static void
logoff_all(struct pool_ctx *ctx)
{
    struct store_desktop *rows = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    if (store_desktop_list(pool_ctx_store(ctx), pool_name, &rows, &n, &err) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        int st = pool_state_parse(rows[i].state);

        if (rows[i].user[0] && (st == POOL_STATE_ASSIGNED || st == POOL_STATE_CONNECTED ||
                                st == POOL_STATE_DISCONNECTED))
            pool_desktop_report(ctx, rows[i].id, rows[i].user, POOL_SESSION_LOGOFF, &err);
    }
    free(rows);
}

static bool
converged(struct pool_ctx *ctx, void *arg)
{
    struct store_desktop *rows = NULL;
    struct hv_desktop_info *dl = NULL;
    size_t n = 0, nd = 0, doms = 0;
    int ready = 0, parked = 0, held = 0;
    bool ok;

    /* users whose desktops were still on their way at the kill get them now: log them
     * off as they do */
    logoff_all(ctx);
    if (pool_ctx_busy(ctx) ||
        store_desktop_list(pool_ctx_store(ctx), pool_name, &rows, &n, NULL) < 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        ready += strcmp(rows[i].state, "ready") == 0;
        parked += strcmp(rows[i].state, "parked") == 0;
        held += rows[i].user[0] != '\0';
    }
    free(rows);
    if (hv_desktop_list(pool_ctx_hv(ctx), NULL, &dl, &nd, NULL) < 0)
        return false;
    for (size_t i = 0; i < nd; i++)
        doms += strcmp(dl[i].pool, pool_name) == 0 && strncmp(dl[i].name, arg, strlen(arg)) == 0;
    free(dl);
    ok = ready == 2 && parked == 1 && held == 0 && n == 3 && doms == 3;
    return ok;
}

int
main(int argc, char **argv)
{
    struct pool_ctx_opts o = {.workers = 3,
                              .max_actions = 6,
                              .max_actions_per_host = 6,
                              .probe = pool_probe_domain_state,
                              .placement_ignore_memory = true,
                              .probe_interval_ms = 10};
    struct pt_err err = {0};
    struct store *st;
    struct pool_ctx *ctx;
    unsigned seed;
    bool storm;

    if (argc != 7 || (strcmp(argv[1], "storm") != 0 && strcmp(argv[1], "converge") != 0)) {
        fprintf(stderr, "usage: %s storm|converge DB URI GOLDEN PREFIX SEED\n", argv[0]);
        return 2;
    }
    storm = strcmp(argv[1], "storm") == 0;
    seed = (unsigned)strtoul(argv[6], NULL, 10);
    pt_log_init("crash_driver", PT_LOG_STDERR, LOG_INFO);
    o.domain_prefix = argv[5];
    st = store_open(argv[2], &err);
    if (!st || !(ctx = pool_ctx_new(&o, &st, &err))) {
        fprintf(stderr, "crash_driver: %s\n", err.msg);
        return 1;
    }
    if (pool_ctx_host_add(ctx, "h1", argv[3], 0, 0, &err) < 0 ||
        setup_pool(ctx, argv[4], &err) < 0 || pool_ctx_recover(ctx, &err) < 0) {
        fprintf(stderr, "crash_driver: %s\n", err.msg);
        pool_ctx_free(ctx);
        return 1;
    }
    if (!storm) {
        int rc;

        rc = pool_ctx_run(ctx, 20, 30000, converged, argv[5], &err);
        if (rc < 0)
            fprintf(stderr, "crash_driver: %s\n", err.msg);
        pool_ctx_free(ctx);
        return rc < 0 ? 1 : 0;
    }
    for (;;) {
        struct pollfd p = {.fd = pool_ctx_fd(ctx), .events = POLLIN};

        pool_tick(ctx, &err);
        for (int i = 0; i < 3; i++)
            storm_step(ctx, &seed);
        if (poll(&p, 1, 15) > 0)
            pool_ctx_drain(ctx);
    }
}
