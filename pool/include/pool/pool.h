/*
 * pool.h - warm desktop pools that converge, and claims that never hand one desktop to
 * two people.
 *
 * A struct pool_ctx holds every pool of a broker, the hypervisor hosts they run on, a
 * store connection and a few worker threads. It is owned by ONE thread (the broker
 * loop): every function below runs on that thread unless it says otherwise. Slow work
 * (clone, start, readiness probe, park, delete) runs on the workers, which post their
 * completions back; the owner drains them:
 *
 *     fd = pool_ctx_fd(ctx);                  // readable when completions wait
 *     every tick (e.g. 1 s):  pool_tick(ctx, &err);
 *     when fd is readable:    pool_ctx_drain(ctx);
 *
 * pool_ctx_run() is a small standalone driver doing exactly that (tests, benchmarks).
 *
 * Desktop states: provisioning -> starting -> ready -> assigned -> connected <->
 * disconnected -> recycling -> ready, plus parked, error and deleting. Every transition
 * is written to the store (with reason, user and time) before it is acted on, and is
 * logged as "event=transition ...". After a crash, pool_tick() finds each desktop's
 * recorded state and redoes the action that state calls for; all actions are idempotent.
 */
#ifndef PT_POOL_POOL_H
#define PT_POOL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"

struct hv;
struct store;
struct pool_ctx;

enum pool_state {
    POOL_STATE_PROVISIONING, /* row written, domain being cloned */
    POOL_STATE_STARTING,     /* booting or resuming; readiness probe running */
    POOL_STATE_READY,        /* running, probed, nobody's */
    POOL_STATE_ASSIGNED,     /* a user holds it, not connected (yet) */
    POOL_STATE_CONNECTED,
    POOL_STATE_DISCONNECTED,
    POOL_STATE_RECYCLING, /* on its way back: keep, revert to golden, or re-clone */
    POOL_STATE_PARKED,    /* managed-saved, resumes in about a second */
    POOL_STATE_ERROR,     /* failed or lost; deleted and replaced */
    POOL_STATE_DELETING,
    POOL_STATE_COUNT
};
const char *pool_state_str(enum pool_state s);
/* pool_state_parse() - the enum for @s, or -1. */
int pool_state_parse(const char *s);
/* pool_state_transition_ok() - true if @from -> @to is an edge of the state machine. */
bool pool_state_transition_ok(enum pool_state from, enum pool_state to);

enum pool_assignment {
    POOL_ASSIGN_FLOATING,  /* back to the pool at logoff */
    POOL_ASSIGN_DEDICATED, /* the user keeps it across sessions */
};

enum pool_logoff {
    POOL_LOGOFF_KEEP,     /* as it is */
    POOL_LOGOFF_REFRESH,  /* revert to the golden image */
    POOL_LOGOFF_RECREATE, /* delete and clone again */
};

/* What a draining host does with a desktop that has a user (idle ones are retired). */
enum pool_drain {
    POOL_DRAIN_RETIRE,  /* wait for logoff, then retire it */
    POOL_DRAIN_MIGRATE, /* live-migrate it to another host; on repeated failure, wait */
};

#define POOL_PROTO_SPICE 1u /* same bits as enum hv_proto */
#define POOL_PROTO_VNC   2u
#define POOL_PROTO_RDP   4u

#define POOL_NAME_MAX 32 /* pool names: [A-Za-z0-9_-], used in domain names */

/* Which credentials the gateway presents to an RDP desktop. */
enum pool_rdp_creds {
    POOL_RDP_CREDS_NONE,  /* none: the desktop's own login screen */
    POOL_RDP_CREDS_FIXED, /* rdp_username / rdp_domain / the password in rdp_password_file */
    POOL_RDP_CREDS_SSO,   /* the user's own sign-in (name and password), rdp_domain */
};
/* Clipboard direction of a pool's sessions; same values as auth/ticket.h's auth_clip_dir
 * (the broker maps them explicitly anyway). */
enum pool_clip {
    POOL_CLIP_BOTH,
    POOL_CLIP_TO_DESKTOP,
    POOL_CLIP_FROM_DESKTOP,
    POOL_CLIP_NONE,
};
#define POOL_RDP_USER_MAX      255      /* bytes of rdp_username / rdp_domain */
#define POOL_CLIPBOARD_MAX_CAP 16777216 /* largest clipboard_max (16 MiB) */

/*
 * A pool's desired shape. Strings are owned by the struct (pool_spec_free()).
 * Config keys (INI `[pool "name"]`, or pool_spec_set() from the admin API):
 *   image = /path/golden.qcow2   image_version = v1   template = /path/domain.xml
 *   domain_type = kvm|qemu|test  vcpus = 2   memory = 2048 (MiB)
 *   protocols = spice,vnc,rdp    rdp_port = 3389
 *   min = 0  max = 10  warm = 2  parked = 0
 *   assignment = floating|dedicated   on_logoff = keep|refresh|recreate
 *   drain = retire|migrate (desktops with a user on a draining host)
 *   idle_timeout = 30m   disconnected_timeout = 15m   max_session = 12h   (0 = never)
 *   groups = staff,eng (entitled; empty = everybody)   hosts = kvm-01,kvm-02 (empty = all)
 *   schedule = mon-fri 08:00 warm=20   (repeatable; also min=, max=)
 *   rdp_credentials = none|fixed|sso   rdp_username = svc-kiosk   rdp_domain = CORP
 *   rdp_password_file = /etc/portico/kiosk.pw (fixed: read by the broker at each launch;
 *     the password itself is never in the spec, the store or a log)
 *   clipboard = both|to-desktop|from-desktop|none   clipboard_max = 65536 (bytes, 0 = the
 *     gateway's limit)   audio = yes|no   (RDP session policy, carried in the ticket)
 */
struct pool_schedule {
    unsigned days;                /* bit 0 = Monday .. bit 6 = Sunday */
    int minute;                   /* of the day, local time */
    int warm, min_size, max_size; /* -1: unchanged */
};

struct pool_spec {
    char *name;
    char *image;
    char *image_version;
    char *template_path;
    char *domain_type;
    int vcpus;
    int memory_mib;
    unsigned protocols; /* POOL_PROTO_* bits */
    int rdp_port;
    int min_size, max_size, warm, parked;
    enum pool_assignment assignment;
    enum pool_logoff on_logoff;
    enum pool_drain drain;
    int64_t idle_timeout_ms, disconnected_timeout_ms, max_session_ms;
    char *groups;
    char *hosts;
    struct pool_schedule *schedules;
    size_t nschedules;
    enum pool_rdp_creds rdp_credentials;
    char *rdp_username, *rdp_domain, *rdp_password_file;
    enum pool_clip clipboard;
    int clipboard_max; /* bytes, 0 = no pool limit */
    bool audio;        /* default true */
};

/* pool_spec_new() - returns new spec named @name with defaults (vcpus 1, memory 1024,
 * spice+vnc, max 10, warm 1, floating, refresh); NULL with @err for a bad name. */
struct pool_spec *pool_spec_new(const char *name, struct pt_err *err);
void pool_spec_free(struct pool_spec *s);                   /* NULL-safe */
struct pool_spec *pool_spec_dup(const struct pool_spec *s); /* returns new */
/* pool_spec_set() - set one key as written in the config file; -1 with a clear error. */
int pool_spec_set(struct pool_spec *s, const char *key, const char *value, struct pt_err *err);
/* pool_spec_check() - cross-field checks (min <= max, warm + parked <= max, image set;
 * rdp_credentials: rdp offered, fixed has a user name and a password file, rdp_username
 * only with fixed). */
int pool_spec_check(const struct pool_spec *s, struct pt_err *err);
/* pool_spec_format() - returns new text (free()): the spec as `key = value` lines that
 * pool_spec_set() reads back. This is what the store keeps. */
char *pool_spec_format(const struct pool_spec *s);
/* pool_schedule_format() - returns new text (free()): @r as a `schedule =` value. */
char *pool_schedule_format(const struct pool_schedule *r);
/* pool_rdp_creds_str() / pool_clip_str() - the config words ("none", "to-desktop", ...). */
const char *pool_rdp_creds_str(enum pool_rdp_creds c);
const char *pool_clip_str(enum pool_clip c);
/* pool_spec_entitled() - true if one of @groups (n of them) may use the pool. */
bool pool_spec_entitled(const struct pool_spec *s, const char *const *groups, size_t n);

/*
 * Config: the broker's loader hands every entry of `[pool "x"]` and `[host "y"]`
 * sections to pool_conf_set(). Host keys: uri (required), max_desktops, mem_reserve
 * (MiB), storage_pool. pool_conf_finish() checks every spec. Thread: any, one at a time.
 */
struct pool_conf;
struct pool_conf *pool_conf_new(void);
void pool_conf_free(struct pool_conf *pc);
/* pool_conf_set() - 0, or -1 with a "file:line: ..." error; sections other than pool
 * and host are refused. */
int pool_conf_set(struct pool_conf *pc, const struct pt_conf_entry *e, struct pt_err *err);
int pool_conf_finish(struct pool_conf *pc, struct pt_err *err);
size_t pool_conf_npools(const struct pool_conf *pc);
const struct pool_spec *pool_conf_pool(const struct pool_conf *pc, size_t i); /* borrowed */

/* Readiness probe: 1 ready, 0 not yet, -1 failed (@err). Runs on a worker thread. */
typedef int pool_probe_fn(void *opaque, struct hv *hv, const char *host, const char *domain,
                          struct pt_err *err);
/* pool_probe_display() - ready when the desktop's display port (SPICE, VNC or RDP, as
 * hv_desktop_display reports it) accepts a TCP connection. The default. */
int pool_probe_display(void *opaque, struct hv *hv, const char *host, const char *domain,
                       struct pt_err *err);
/* pool_probe_domain_state() - ready when the domain runs. For libvirt test:/// hosts,
 * whose "display ports" nothing listens on. */
int pool_probe_domain_state(void *opaque, struct hv *hv, const char *host, const char *domain,
                            struct pt_err *err);

struct pool_ctx_opts {
    int workers;                 /* worker threads (default 4) */
    int max_actions;             /* parallel actions overall (default 16; 1 = one at a time) */
    int max_actions_per_host;    /* (default 4) */
    int64_t ready_timeout_ms;    /* readiness deadline from start (default 120 s) */
    int64_t probe_interval_ms;   /* between probes (default 250 ms) */
    int restraint_failures;      /* failures in a window that pause provisioning (default 5) */
    int64_t restraint_window_ms; /* (default 60 s) */
    int64_t restraint_pause_ms;  /* how long provisioning stays paused (default 60 s) */
    int64_t error_hold_ms;       /* how long a desktop stays in error before deletion (0) */
    int64_t shutdown_timeout_ms; /* graceful shutdown before destroy (default 0: destroy) */
    int max_migrations;          /* drain=migrate: live migrations at once (default 2) */
    int migrate_attempts;        /* per desktop before waiting for logoff (default 2) */
    const char *domain_prefix;   /* domain names: <prefix><pool>-<n> (default "pt-") */
    /* place by load only, ignoring hosts' free memory: for libvirt test:/// hosts, whose
     * memory figures are fixed fiction (test:///default reports 3 MiB free) */
    bool placement_ignore_memory;
    pool_probe_fn *probe; /* default pool_probe_display */
    void *probe_opaque;
    /* wall clock for schedules and timestamps (tests); NULL = the real one */
    int64_t (*clock_ms)(void *opaque);
    void *clock_opaque;
};

/*
 * pool_ctx_new() - returns new context; takes ownership of *@st (cleared). Loads the
 * pools the store knows. Starts the worker threads. NULL with @err.
 */
struct pool_ctx *pool_ctx_new(const struct pool_ctx_opts *opts, struct store **st,
                              struct pt_err *err);
/* pool_ctx_free() - waits for running actions to finish (their results are recorded),
 * stops the workers, closes hosts and the store. NULL-safe. */
void pool_ctx_free(struct pool_ctx *ctx);
/* borrowed handles, for the broker's own use on the owner thread */
struct hv *pool_ctx_hv(struct pool_ctx *ctx);
struct store *pool_ctx_store(struct pool_ctx *ctx);

/* pool_ctx_host_add() - add a hypervisor host (see hv_host_add: a host that cannot be
 * reached is added as down and retried). */
int pool_ctx_host_add(struct pool_ctx *ctx, const char *name, const char *uri, int max_desktops,
                      int64_t mem_reserve_mib, struct pt_err *err);
int pool_ctx_host_drain(struct pool_ctx *ctx, const char *host, bool draining, struct pt_err *err);
/* pool_ctx_apply_conf() - add every host and create/update every pool of @pc. */
int pool_ctx_apply_conf(struct pool_ctx *ctx, const struct pool_conf *pc, struct pt_err *err);

/* pool_ctx_pool_put() - create or update a pool (admin API, config reload); the spec is
 * copied and saved to the store, and the next tick converges to it. */
int pool_ctx_pool_put(struct pool_ctx *ctx, const struct pool_spec *spec, struct pt_err *err);
/*
 * Schedules kept in the store's schedules table (admin API), in force together with the
 * spec's own `schedule =` rules (same precedence: the latest firing wins). Owner thread.
 * pool_ctx_schedule_add(): @rule as in the spec ("mon-fri 08:00 warm=20"); sets *@id.
 * -1: PT_E_NOTFOUND no such pool, PT_E_INVALID bad rule, PT_E_LIMIT 64 rules a pool.
 * pool_ctx_schedule_remove(): PT_E_NOTFOUND if @id is not a stored rule of @pool.
 * pool_ctx_schedule_list(): new array (free()) of the spec's rules (id 0) then the
 * stored ones.
 */
struct pool_schedule_entry {
    int64_t id;     /* store id; 0 for a rule written in the spec */
    bool from_spec; /* changed by editing the spec, not by remove */
    struct pool_schedule rule;
    char text[96]; /* "mon-fri 08:00 warm=20" */
};
int pool_ctx_schedule_add(struct pool_ctx *ctx, const char *pool, const char *rule, int64_t *id,
                          struct pt_err *err);
int pool_ctx_schedule_remove(struct pool_ctx *ctx, const char *pool, int64_t id,
                             struct pt_err *err);
int pool_ctx_schedule_list(struct pool_ctx *ctx, const char *pool, struct pool_schedule_entry **out,
                           size_t *n, struct pt_err *err);
/* pool_ctx_pool_get() - borrowed spec (valid until the next put/remove), or NULL. */
const struct pool_spec *pool_ctx_pool_get(struct pool_ctx *ctx, const char *name);
/* pool_ctx_pool_remove() - PT_E_CONFLICT while the pool has desktops (set max = 0 first). */
int pool_ctx_pool_remove(struct pool_ctx *ctx, const char *name, struct pt_err *err);
/* pool_ctx_image_publish() - make @version (golden disk @image) current: idle desktops
 * are re-cloned from it, desktops in use keep theirs until logoff. */
int pool_ctx_image_publish(struct pool_ctx *ctx, const char *pool, const char *version,
                           const char *image, struct pt_err *err);

/*
 * pool_ctx_recover() - compare the store with the hosts: adopt desktops found on
 * another host than recorded, mark desktops whose domain vanished as error (they are
 * replaced), destroy domains that carry our metadata and prefix but have no row.
 * pool_tick() does the same on every pass; call this once at start to log a summary.
 */
int pool_ctx_recover(struct pool_ctx *ctx, struct pt_err *err);

/* pool_tick() - one reconcile pass over every pool: level-triggered and idempotent.
 * Issues at most as many actions as the limits allow. -1 if the store failed. */
int pool_tick(struct pool_ctx *ctx, struct pt_err *err);
/* pool_ctx_fd() - readable while completions wait for pool_ctx_drain(). */
int pool_ctx_fd(struct pool_ctx *ctx);
/* pool_ctx_drain() - run finished actions' completions; returns how many. */
int pool_ctx_drain(struct pool_ctx *ctx);
/* pool_ctx_busy() - actions running or queued. */
int pool_ctx_busy(struct pool_ctx *ctx);
/*
 * pool_ctx_run() - standalone driver: tick every @tick_ms and drain completions until
 * @until(@arg) is true (checked after every tick and drain) or @timeout_ms passes.
 * Returns 0 when @until held, -1 with PT_E_TIMEOUT otherwise.
 */
int pool_ctx_run(struct pool_ctx *ctx, int64_t tick_ms, int64_t timeout_ms,
                 bool (*until)(struct pool_ctx *ctx, void *arg), void *arg, struct pt_err *err);

/* --- claims and sessions ----------------------------------------------------------- */

enum pool_claim_outcome {
    POOL_CLAIM_RECONNECT, /* the user's own desktop */
    POOL_CLAIM_WARM,      /* a ready desktop, at once */
    POOL_CLAIM_RESUME,    /* a parked desktop, being resumed */
    POOL_CLAIM_STARTING,  /* a desktop already on its way, reserved for the user */
    POOL_CLAIM_CREATE,    /* a new desktop, being cloned */
};
const char *pool_claim_outcome_str(enum pool_claim_outcome o);

struct pool_claim {
    enum pool_claim_outcome outcome;
    char desktop[64];
    char host[64];
    char domain[64];
    enum pool_state state;
    bool ready;               /* usable now: poll pool_desktop_get() until it is */
    int64_t expected_wait_ms; /* 0 when ready; an estimate otherwise; -1 unknown */
};

/*
 * pool_claim() - give @user a desktop of @pool, in one store transaction: their own
 * (reconnect), else a ready one, else resume a parked one, else reserve one that is
 * starting, else create one if below max. Returns 0, or -1 with @err: PT_E_NOTFOUND
 * (no such pool), PT_E_LIMIT "pool exhausted" (then @out->expected_wait_ms holds the
 * estimate, -1 if none can be made), PT_E_UNAVAILABLE (store busy, no host).
 * Entitlement is the caller's check (pool_spec_entitled()).
 */
int pool_claim(struct pool_ctx *ctx, const char *pool, const char *user, struct pool_claim *out,
               struct pt_err *err);

enum pool_session_event {
    POOL_SESSION_CONNECTED,    /* the gateway opened a tunnel */
    POOL_SESSION_DISCONNECTED, /* the tunnel closed */
    POOL_SESSION_ACTIVITY,     /* input seen (for the idle timeout) */
    POOL_SESSION_LOGOFF,       /* the user is done: apply the on-logoff policy */
};
/* pool_desktop_report() - PT_E_FORBIDDEN if @user does not hold @desktop. */
int pool_desktop_report(struct pool_ctx *ctx, const char *desktop, const char *user,
                        enum pool_session_event ev, struct pt_err *err);

struct pool_desktop {
    char id[64], pool[64], host[64], domain[64], user[128], image_version[64];
    enum pool_state state;
    int64_t state_ms, assigned_ms;
};
int pool_desktop_get(struct pool_ctx *ctx, const char *desktop, struct pool_desktop *out,
                     struct pt_err *err);
/* pool_desktop_display() (pool_display.c) - the display endpoint of domain @domain on
 * @host for @proto (one POOL_PROTO_* bit): address into @addr, port into @port, and a
 * fresh one-time display password, valid until @valid_to (epoch s), set on the desktop
 * and copied into @password ("" for RDP, and on hosts that cannot set one: test:///).
 * Touches only hv (thread-safe): may run on any thread. 0, or -1 with @err. */
int pool_desktop_display(struct pool_ctx *ctx, const char *host, const char *domain, unsigned proto,
                         int64_t valid_to, char *addr, size_t addrn, int *port, char *password,
                         size_t pwn, struct pt_err *err);
/* pool_desktop_delete() (pool_delete.c) - an admin removes @desktop: to deleting now, the
 * domain goes in the background. A held desktop needs @force. PT_E_NOTFOUND, PT_E_CONFLICT
 * (held without @force, or an action in progress: retry). Already deleting: 0. */
int pool_desktop_delete(struct pool_ctx *ctx, const char *desktop, bool force, struct pt_err *err);

/* --- status for /metrics and the admin console ------------------------------------- */

struct pool_status {
    char name[POOL_NAME_MAX];
    int counts[POOL_STATE_COUNT];
    int total;                            /* every desktop not in error or deleting */
    int in_use;                           /* held by a user */
    int min_size, max_size, warm, parked; /* in force now (schedules applied) */
    bool paused;                          /* error restraint: provisioning paused */
    int64_t paused_until_ms;              /* wall clock */
    char pause_reason[160];
    int actions; /* running or queued */
    int64_t claims, warm_claims, avg_wait_ms;
    char image_version[64];
    int outdated; /* desktops on an older image */
};

struct pool_host_status {
    char name[64];
    bool up, draining, paused;
    int desktops, actions;
    int64_t mem_free_kib;
    int64_t paused_until_ms;
};

/* Returns new arrays (free()). */
int pool_ctx_status(struct pool_ctx *ctx, struct pool_status **out, size_t *n, struct pt_err *err);
int pool_ctx_host_status(struct pool_ctx *ctx, struct pool_host_status **out, size_t *n,
                         struct pt_err *err);

#endif
