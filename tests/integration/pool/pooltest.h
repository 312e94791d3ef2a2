/*
 * pooltest.h - helpers for pool tests against libvirt's test driver: a pool context on
 * a fresh SQLite file with N test:/// hosts (each its own node file, so its own state),
 * a pool spec from key/value pairs, and convergence predicates that compare the store
 * with what the hosts really list.
 */
#ifndef PT_TESTS_POOLTEST_H
#define PT_TESTS_POOLTEST_H

#include <stdbool.h>

#include "pool/pool.h"

/* pt_ctx_new() - returns new: a context on a new database under the scratch dir, with
 * @nhosts hosts h01..hNN, probe = domain state (nothing listens on test-driver ports). */
struct pool_ctx *pt_ctx_new(const char *tag, int nhosts, const struct pool_ctx_opts *opts);
/* pt_pool_put() - create/update pool @name (golden = the node files' golden volume,
 * memory 128 MiB) with NULL-terminated key/value pairs on top. */
void pt_pool_put(struct pool_ctx *ctx, const char *name, const char *const *kv);

struct pt_count {
    int state[POOL_STATE_COUNT];
    int total;        /* rows not in error/deleting */
    int rows;         /* every row */
    int domains;      /* Portico domains of the pool on the hosts */
    int outdated;     /* rows on another image than the pool's */
    int dom_outdated; /* domains whose metadata says another image */
    int busy;         /* actions in flight */
};
void pt_count(struct pool_ctx *ctx, const char *pool, struct pt_count *c);

/* pt_converge() - run the context until pool @pool has @ready ready desktops, @total
 * rows in all (every one backed by exactly one domain), no action in flight and nothing
 * in error/deleting. Fails the test after @timeout_ms. */
void pt_converge(struct pool_ctx *ctx, const char *pool, int ready, int total, int timeout_ms);

/* pt_domains_on() - how many domains of @pool host @host lists. */
int pt_domains_on(struct pool_ctx *ctx, const char *host, const char *pool);

#endif
