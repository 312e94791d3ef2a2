/*
 * pool_priv.h - the pool context and what its files share. Not for other modules;
 * tests reach the hypervisor-call table (for the fault-injecting fake) through here.
 */
#ifndef PT_POOL_PRIV_H
#define PT_POOL_PRIV_H

#include <pthread.h>

#include "common/str.h"
#include "hypervisor/hv.h"
#include "pool/pool.h"
#include "store/store.h"

/*
 * The hypervisor verbs the pool uses, as a table so that a test can put a
 * fault-injecting fake in front of the real layer (the only rollback path libvirt's
 * test driver cannot provoke). Defaults to the real hv_* functions.
 */
struct pool_hv_ops {
    int (*create)(struct hv *hv, const char *host, const struct hv_desktop_spec *spec,
                  struct pt_err *err);
    int (*start)(struct hv *hv, const char *host, const char *name, struct pt_err *err);
    int (*resume)(struct hv *hv, const char *host, const char *name, struct pt_err *err);
    int (*park)(struct hv *hv, const char *host, const char *name, struct pt_err *err);
    int (*revert)(struct hv *hv, const char *host, const char *name, struct pt_err *err);
    int (*del)(struct hv *hv, const char *host, const char *name, struct pt_err *err);
    int (*get)(struct hv *hv, const char *host, const char *name, struct hv_desktop_info *out,
               struct pt_err *err);
    int (*migrate)(struct hv *hv, const char *host, const char *name, const char *to_host,
                   struct pt_err *err);
};
extern const struct pool_hv_ops pool_hv_real;
/* pool_ctx_set_hv_ops() - test hook: route every hypervisor verb through @ops. Call
 * before the first tick. */
void pool_ctx_set_hv_ops(struct pool_ctx *ctx, const struct pool_hv_ops *ops);

enum pool_job_kind {
    POOL_JOB_CREATE,   /* provisioning: clone + define (skipped if the domain exists) */
    POOL_JOB_START,    /* starting: start or resume as needed, then probe until ready */
    POOL_JOB_PARK,     /* ready -> parked: managed save */
    POOL_JOB_REVERT,   /* recycling (refresh): back to golden */
    POOL_JOB_RECREATE, /* recycling (recreate, image rollover): delete + clone */
    POOL_JOB_DELETE,   /* deleting: destroy + undefine + delete overlay */
    POOL_JOB_ORPHAN,   /* delete a domain that has no row */
    POOL_JOB_MIGRATE,  /* draining host: live-migrate a desktop with a user to @to_host */
};

struct pool_job {
    struct pool_job *next;
    enum pool_job_kind kind;
    char desktop[STORE_NAME_MAX], pool[STORE_NAME_MAX];
    char host[STORE_NAME_MAX], domain[STORE_NAME_MAX];
    char to_host[STORE_NAME_MAX]; /* MIGRATE */
    /* what to clone from (CREATE, RECREATE) */
    char *image, *image_version, *template_xml, *domain_type;
    int vcpus, memory_mib, rdp_port;
    unsigned protocols;
    int64_t ready_timeout_ms, probe_interval_ms;
    /* filled by the worker */
    int rc;
    struct pt_err err;
    int64_t started_mono, done_mono;
};

/* Failures in a sliding window; paused until @until_ms (wall) once there are too many. */
struct pool_restraint {
    int64_t *fails; /* ring of failure times (mono ms) */
    int nfails, head;
    int64_t until_ms;
    char reason[160];
};

struct pool_entry {
    struct pool_spec *spec;
    char *template_xml; /* loaded from spec->template_path */
    struct pool_restraint restraint;
    int64_t avg_ready_ms; /* moving average, provisioning -> ready */
    char no_host_reason[160];
    /* rules from the store's schedules table (pool_sched.c), with their ids */
    struct pool_schedule *stored;
    int64_t *stored_ids;
    size_t nstored;
};

struct pool_host {
    char name[HV_NAME_MAX];
    bool up, draining;
    int64_t mem_free_kib;
    int cpus, max_desktops;
    int desktops; /* rows placed on it (store view), recomputed every tick */
    int actions;  /* running or queued on it */
    int64_t pending_kib;
    struct pool_restraint restraint;
};

struct pool_ctx {
    struct pool_ctx_opts o;
    struct store *st;
    struct hv *hv;
    const struct pool_hv_ops *ops;

    struct pool_entry **pools;
    size_t npools;
    struct pool_host *hosts;
    size_t nhosts;

    /* workers */
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pool_job *queue, *queue_tail;
    struct pool_job *done;
    bool stopping;
    int evfd;

    /* actions in flight (queued or running), owner thread only */
    struct pool_job **inflight;
    size_t ninflight;

    int64_t ticks;

    /* drain=migrate: failed live migrations per desktop (owner thread only); a desktop
     * that reached o.migrate_attempts waits for its user's logoff instead */
    struct pool_migrate_fail {
        char desktop[STORE_NAME_MAX];
        int fails;
    } * mfails;
    size_t nmfails;
};

/* pool_ctx.c */
int64_t pool_now(struct pool_ctx *ctx); /* wall ms through the injected clock */
struct pool_entry *pool_entry_find(struct pool_ctx *ctx, const char *name);
struct pool_host *pool_host_find(struct pool_ctx *ctx, const char *name);
bool pool_restraint_active(struct pool_ctx *ctx, struct pool_restraint *r);
void pool_restraint_fail(struct pool_ctx *ctx, struct pool_restraint *r, const char *what,
                         const char *why);
/* pool_effective() - the spec's sizes with the schedule rule in force applied. */
void pool_effective(struct pool_ctx *ctx, const struct pool_spec *s, int *min, int *max, int *warm,
                    int *parked);
/* pool_place() - the best host for a new desktop of @pe, or NULL (reason in @pe). */
struct pool_host *pool_place(struct pool_ctx *ctx, struct pool_entry *pe);
int pool_hosts_refresh(struct pool_ctx *ctx, struct pt_err *err);

/* pool_state.c */
/*
 * pool_transition() - the one place a desktop changes state: checks the edge, writes
 * the row (compare-and-set on the old state) and the event in one transaction, logs
 * "event=transition". @d is updated in place on success. @user: NULL keeps the row's
 * user, "" clears it. Returns 0, or -1 (PT_E_INVALID bad edge, PT_E_CONFLICT moved on).
 */
int pool_transition(struct pool_ctx *ctx, struct store_desktop *d, enum pool_state to,
                    const char *user, const char *reason, struct pt_err *err);
/* pool_desktop_new_row() - insert a provisioning row for @pe on @host (user may be
 * NULL) with its first event. */
int pool_desktop_new_row(struct pool_ctx *ctx, struct pool_entry *pe, struct pool_host *host,
                         const char *user, const char *reason, struct store_desktop *out,
                         struct pt_err *err);
/* pool_desktop_forget() - delete the row and record a final event. */
int pool_desktop_forget(struct pool_ctx *ctx, struct store_desktop *d, const char *reason,
                        struct pt_err *err);
enum pool_state pool_state_of(const struct store_desktop *d);

/* pool_jobs.c */
int pool_workers_start(struct pool_ctx *ctx, struct pt_err *err);
void pool_workers_stop(struct pool_ctx *ctx);
/* pool_job_submit() - queue an action for @d (takes ownership of @job). */
void pool_job_submit(struct pool_ctx *ctx, struct pool_job *job);
struct pool_job *pool_job_new(struct pool_ctx *ctx, enum pool_job_kind kind,
                              const struct store_desktop *d, struct pool_entry *pe);
void pool_job_free(struct pool_job *job);
bool pool_job_inflight(struct pool_ctx *ctx, const char *desktop);
/* pool_job_room() - may one more action run on @host now? */
bool pool_job_room(struct pool_ctx *ctx, const char *host);

/* pool_migrate.c */
/* pool_drain_migrate() - drain=migrate: start live migrations for @pe's desktops with a
 * user on draining hosts (rows @v), bounded by o.max_migrations. */
void pool_drain_migrate(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *rows,
                        size_t nrows);
/* pool_migrate_complete() - record a finished migration: the row's host on success, a
 * failure (retry, or wait for logoff) otherwise. */
void pool_migrate_complete(struct pool_ctx *ctx, struct pool_job *j);
int pool_migrate_fails(struct pool_ctx *ctx, const char *desktop);

/* pool_sched.c */
/* pool_sched_reload() - read @pe's stored schedule rules into the entry. */
int pool_sched_reload(struct pool_ctx *ctx, struct pool_entry *pe, struct pt_err *err);

/* pool_leftover.c */
/* pool_leftovers_sweep() - delete overlays of ours that no domain and no row use (a
 * create killed between disk and domain). Returns how many were deleted. Blocks: call
 * at recovery. */
int pool_leftovers_sweep(struct pool_ctx *ctx);

/* pool_reconcile.c */
/* pool_desktop_act() - issue the action @d's state calls for, if any and room allows. */
void pool_desktop_act(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *d);
void pool_job_complete(struct pool_ctx *ctx, struct pool_job *job);
/* pool_desktop_move() - pool_transition() then pool_desktop_act(); failures are logged. */
void pool_desktop_move(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *d,
                       enum pool_state to, const char *user, const char *reason);

/* pool_claim.c */
/* pool_desktop_release() - the user is done with @d: apply the pool's on-logoff policy. */
int pool_desktop_release(struct pool_ctx *ctx, struct pool_entry *pe, struct store_desktop *d,
                         const char *reason);

/* pool_spec.c */
int pool_schedule_parse(const char *value, struct pool_schedule *out, struct pt_err *err);
bool pool_list_has(const char *list, const char *item);
/* RDP keys of a spec (pool_spec_rdp.c): set returns 0, -1 with @err, or 1 for a key that is
 * not one of them; check is pool_spec_check()'s part for them; format appends their lines. */
int pool_spec_set_rdp(struct pool_spec *s, const char *key, const char *value, struct pt_err *err);
int pool_spec_check_rdp(const struct pool_spec *s, struct pt_err *err);
void pool_spec_format_rdp(const struct pool_spec *s, struct pt_buf *b);

#endif
