/*
 * bench_pool.c - pool benchmarks against libvirt's test driver, through the real
 * hypervisor layer and a real SQLite file:
 *   1. one reconcile pass over 10,000 desktops on 100 hosts (target < 1 s), next to the
 *      cost of its two inputs alone (listing every host, loading every row);
 *   2. time to 50 ready desktops from empty, bounded-parallel vs one-at-a-time.
 *   3. with "qemu": the same on the real libvirtd with QEMU guests, the default display
 *      probe, and the pool shrunk to zero afterwards (nothing left behind).
 * Usage: bench_pool [desktops_per_host=100] [hosts=100] [ready=50] [qemu]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/str.h"
#include "hvt.h"
#include "hypervisor/hv.h"
#include "pool/pool.h"
#include "store/store.h"
#include "tsupport/fixture.h"

static struct pool_ctx *
ctx_new(const char *tag, int nhosts, int per_host, struct pool_ctx_opts *o)
{
    struct pt_err err = {0};
    char path[512];
    struct store *st;
    struct pool_ctx *ctx;

    snprintf(path, sizeof(path), "%s/%s.db", hvt_tmpdir(), tag);
    unlink(path);
    st = store_open(path, &err);
    o->probe = pool_probe_domain_state;
    o->probe_interval_ms = 5;
    o->placement_ignore_memory = true;
    if (!st || !(ctx = pool_ctx_new(o, &st, &err))) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    for (int h = 1; h <= nhosts; h++) {
        char name[16], prefix[32];
        char *uri;

        snprintf(name, sizeof(name), "h%03d", h);
        snprintf(prefix, sizeof(prefix), "%s%03d", tag, h);
        uri = hvt_node_write(prefix, "eng", per_host, 0);
        if (pool_ctx_host_add(ctx, name, uri, 0, 0, &err) < 0) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        free(uri);
    }
    return ctx;
}

static void
put_pool(struct pool_ctx *ctx, int max, int warm, int parked)
{
    struct pt_err err = {0};
    struct pool_spec *s = pool_spec_new("eng", &err);
    char b[3][16];

    snprintf(b[0], sizeof(b[0]), "%d", max);
    snprintf(b[1], sizeof(b[1]), "%d", warm);
    snprintf(b[2], sizeof(b[2]), "%d", parked);
    if (pool_spec_set(s, "image", HVT_GOLDEN, &err) < 0 ||
        pool_spec_set(s, "image_version", "v1", &err) < 0 ||
        pool_spec_set(s, "memory", "128", &err) < 0 || pool_spec_set(s, "max", b[0], &err) < 0 ||
        pool_spec_set(s, "warm", b[1], &err) < 0 || pool_spec_set(s, "parked", b[2], &err) < 0 ||
        pool_ctx_pool_put(ctx, s, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    pool_spec_free(s);
}

/* Rows for the node files' domains: running ones ready, shut-off ones parked. */
static void
adopt_rows(struct pool_ctx *ctx, int nhosts, int per_host)
{
    struct store *st = pool_ctx_store(ctx);
    struct pt_err err = {0};
    int64_t now = pt_time_wall_ms();

    store_tx_begin(st, &err);
    for (int h = 1; h <= nhosts; h++) {
        for (int i = 1; i <= per_host; i++) {
            struct store_desktop d;

            memset(&d, 0, sizeof(d));
            snprintf(d.id, sizeof(d.id), "big%03d-id-%04d", h, i);
            snprintf(d.domain, sizeof(d.domain), "big%03d-%04d", h, i);
            snprintf(d.host, sizeof(d.host), "h%03d", h);
            pt_strlcpy(d.pool, "eng", sizeof(d.pool));
            pt_strlcpy(d.state, i % 2 ? "ready" : "parked", sizeof(d.state));
            pt_strlcpy(d.image_version, "v1", sizeof(d.image_version));
            d.created_ms = d.state_ms = now;
            if (store_desktop_insert(st, &d, &err) < 0) {
                fprintf(stderr, "bench: %s\n", err.msg);
                exit(1);
            }
        }
    }
    if (store_tx_commit(st, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
}

static void
bench_pass(int nhosts, int per_host)
{
    struct pool_ctx_opts o = {
        .workers = 4, .max_actions = 64, .max_actions_per_host = 4, .domain_prefix = "big"};
    struct pool_ctx *ctx = ctx_new("big", nhosts, per_host, &o);
    int total = nhosts * per_host;
    struct hv_desktop_info *dl = NULL;
    struct store_desktop *rows = NULL;
    size_t nd = 0, nr = 0;
    struct pt_err err = {0};
    struct hv_host_info *hi = NULL;
    size_t nh = 0;
    int64_t t0, t_list, t_load, t_hosts, best = -1;

    put_pool(ctx, total, total / 2, total / 2);
    adopt_rows(ctx, nhosts, per_host);
    t0 = pt_time_mono_ms();
    hv_desktop_list(pool_ctx_hv(ctx), NULL, &dl, &nd, &err);
    t_list = pt_time_mono_ms() - t0;
    t0 = pt_time_mono_ms();
    hv_host_list(pool_ctx_hv(ctx), &hi, &nh, &err);
    t_hosts = pt_time_mono_ms() - t0;
    free(hi);
    t0 = pt_time_mono_ms();
    store_desktop_list(pool_ctx_store(ctx), NULL, &rows, &nr, &err);
    t_load = pt_time_mono_ms() - t0;
    free(dl);
    free(rows);
    for (int i = 0; i < 5; i++) {
        int64_t t;

        t0 = pt_time_mono_ms();
        if (pool_tick(ctx, &err) < 0) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        t = pt_time_mono_ms() - t0;
        printf("  pass %d: %lld ms (actions issued: %d)\n", i + 1, (long long)t,
               pool_ctx_busy(ctx));
        if (best < 0 || t < best)
            best = t;
        while (pool_ctx_busy(ctx))
            pool_ctx_drain(ctx), usleep(1000);
    }
    printf("reconcile pass, %d desktops on %d hosts (%zu domains listed, %zu rows):\n"
           "  best pass %lld ms  [target < 1000 ms]  ratio to target %.2f\n"
           "  its inputs alone: hv_host_list %lld ms, hv_desktop_list(all hosts) %lld ms, "
           "store load %lld ms\n",
           total, nhosts, nd, nr, (long long)best, best / 1000.0, (long long)t_hosts,
           (long long)t_list, (long long)t_load);
    pool_ctx_free(ctx);
}

struct want {
    int ready;
};

static bool
ready_enough(struct pool_ctx *ctx, void *arg)
{
    struct pool_status *ps = NULL;
    size_t n = 0;
    bool ok;

    pool_ctx_status(ctx, &ps, &n, NULL);
    ok = n == 1 && ps[0].counts[POOL_STATE_READY] >= ((struct want *)arg)->ready;
    free(ps);
    return ok;
}

static int64_t
time_to_ready(const char *tag, int nhosts, int ready, int max_actions, int per_host, int workers)
{
    struct pool_ctx_opts o = {.workers = workers,
                              .max_actions = max_actions,
                              .max_actions_per_host = per_host,
                              .domain_prefix = "pt-"};
    struct pool_ctx *ctx = ctx_new(tag, nhosts, 0, &o);
    struct want w = {ready};
    struct pt_err err = {0};
    int64_t t0;

    put_pool(ctx, ready, ready, 0);
    t0 = pt_time_mono_ms();
    if (pool_ctx_run(ctx, 50, 300000, ready_enough, &w, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    t0 = pt_time_mono_ms() - t0;
    pool_ctx_free(ctx);
    return t0;
}

static bool
all_gone(struct pool_ctx *ctx, void *arg)
{
    struct pool_status *ps = NULL;
    size_t n = 0;
    bool ok;

    pool_ctx_status(ctx, &ps, &n, NULL);
    ok = n == 1 && ps[0].total == 0 && ps[0].counts[POOL_STATE_DELETING] == 0 &&
         ps[0].counts[POOL_STATE_ERROR] == 0 && pool_ctx_busy(ctx) == 0;
    free(ps);
    return ok;
}

/* time_to_ready_qemu() - @ready real guests from empty on qemu:///system. */
static int64_t
time_to_ready_qemu(int ready, int max_actions, int per_host, int workers)
{
    struct pool_ctx_opts o = {.workers = workers,
                              .max_actions = max_actions,
                              .max_actions_per_host = per_host,
                              .ready_timeout_ms = 60000};
    struct want w = {ready};
    struct pt_err err = {0};
    struct pool_spec *s;
    struct store *st;
    struct pool_ctx *ctx;
    const char *golden;
    char path[512], prefix[48], n[16];
    int64_t t0;

    if (tf_libvirtd_ensure(&err) < 0 || !(golden = tf_guest_base_image(&err))) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    snprintf(prefix, sizeof(prefix), "pt-bench%d-", (int)getpid());
    o.domain_prefix = prefix;
    snprintf(path, sizeof(path), "%s/qemu-%d.db", hvt_tmpdir(), max_actions);
    unlink(path);
    st = store_open(path, &err);
    if (!st || !(ctx = pool_ctx_new(&o, &st, &err)) ||
        pool_ctx_host_add(ctx, "local", "qemu:///system", 0, 256, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    snprintf(n, sizeof(n), "%d", ready);
    s = pool_spec_new("eng", &err);
    pool_spec_set(s, "image", golden, &err);
    pool_spec_set(s, "domain_type", tf_guest_domain_type(), &err);
    pool_spec_set(s, "memory", "64", &err);
    pool_spec_set(s, "protocols", "vnc", &err);
    pool_spec_set(s, "max", n, &err);
    pool_spec_set(s, "warm", n, &err);
    if (pool_ctx_pool_put(ctx, s, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    t0 = pt_time_mono_ms();
    if (pool_ctx_run(ctx, 50, 600000, ready_enough, &w, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    t0 = pt_time_mono_ms() - t0;
    pool_spec_set(s, "warm", "0", &err);
    pool_spec_set(s, "max", "0", &err);
    if (pool_ctx_pool_put(ctx, s, &err) < 0 ||
        pool_ctx_run(ctx, 50, 600000, all_gone, NULL, &err) < 0)
        fprintf(stderr, "bench: cleanup: %s\n", err.msg);
    pool_spec_free(s);
    pool_ctx_free(ctx);
    return t0;
}

int
main(int argc, char **argv)
{
    int per_host = argc > 1 ? atoi(argv[1]) : 100;
    int nhosts = argc > 2 ? atoi(argv[2]) : 100;
    int ready = argc > 3 ? atoi(argv[3]) : 50;
    int64_t serial, parallel;

    pt_log_init("bench_pool", PT_LOG_STDERR, LOG_WARNING);
    bench_pass(nhosts, per_host);
    serial = time_to_ready("serial", 10, ready, 1, 1, 1);
    parallel = time_to_ready("par", 10, ready, 16, 4, 8);
    printf("time to %d ready desktops from empty on 10 test hosts (tick 50 ms):\n"
           "  one-at-a-time (1 action)            %lld ms\n"
           "  bounded parallel (16, 4 per host)   %lld ms\n"
           "  ratio one-at-a-time / parallel      %.2f\n",
           ready, (long long)serial, (long long)parallel,
           parallel > 0 ? (double)serial / (double)parallel : 0.0);
    if (argc > 4 && strcmp(argv[4], "qemu") == 0) {
        serial = time_to_ready_qemu(ready, 1, 1, 1);
        parallel = time_to_ready_qemu(ready, 16, 8, 8);
        printf("time to %d ready desktops from empty on the real libvirtd (%s guests, display "
               "probe):\n"
               "  one-at-a-time (1 action)            %lld ms\n"
               "  bounded parallel (16, 8 per host)   %lld ms\n"
               "  ratio one-at-a-time / parallel      %.2f\n",
               ready, tf_guest_domain_type(), (long long)serial, (long long)parallel,
               parallel > 0 ? (double)serial / (double)parallel : 0.0);
    }
    return 0;
}
