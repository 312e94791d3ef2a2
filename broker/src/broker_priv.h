/*
 * broker_priv.h - the broker's private types: configuration, the daemon object, one
 * HTTP request, the router, the job pool and metrics.
 *
 * Everything here belongs to the one lws service thread unless a comment says
 * otherwise (the job pool's queues are the only state touched by other threads).
 */
#ifndef PT_BROKER_PRIV_H
#define PT_BROKER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "auth/session.h"
#include "common/err.h"
#include "common/log.h"
#include "common/str.h"

struct lws;
struct lws_context;
struct lws_vhost;

/* ---- configuration (conf.c) --------------------------------------------------------- */

/* One entry of a section the broker hands to another module's loader, kept verbatim. */
struct broker_conf_item {
    char *file;
    int line;
    char *section;
    char *name; /* NULL for an unnamed section */
    char *key;
    char *value;
};

struct broker_conf {
    char *path; /* the file it came from (for SIGHUP) */

    /* [broker] */
    char *listen; /* host:port */
    char *tls_cert;
    char *tls_key;
    char *state_dir;
    char *ticket_key_file;
    char *gateway_url;
    char *gateway_audience;
    char *gateway_seal_key_file;
    char *gateway_secret_file;
    char *rdp_password_dir; /* pools' rdp_password_file must lie here; <state_dir>/rdp-passwords */
    char *web_root;
    char *event_loop;   /* "libev" or "poll" */
    char *db;           /* store location; default <state_dir>/portico.db */
    char *metrics_from; /* peer addresses allowed /metrics, space-separated; "*": any */
    int log_level;
    int max_body_bytes;
    int max_header_bytes;
    int rate_limit_rps;
    int rate_limit_burst;
    int workers;
    int64_t ticket_ttl_ms;
    int ticket_max_conns;
    int64_t session_idle_ms;
    int64_t session_ttl_ms;
    bool h2;

    /* [ldap], [hypervisor], [host "x"], [pool "x"]: kept for the owning modules. */
    struct broker_conf_item *items;
    size_t nitems;
    char *gateway_secret; /* read from gateway_secret_file; wiped on free */
};

/* broker_conf_metrics_allowed() - true if @peer (a numeric address) may read /metrics:
 * it is listed in metrics_from, or metrics_from holds "*". */
bool broker_conf_metrics_allowed(const struct broker_conf *c, const char *peer);

/* broker_conf_load() - parse and validate @path. Returns new, or NULL with a file:line @err. */
struct broker_conf *broker_conf_load(const char *path, struct pt_err *err);
/* broker_conf_load_string() - as above from memory (tests), @fname used in messages. */
struct broker_conf *broker_conf_load_string(const char *text, const char *fname,
                                            struct pt_err *err);
void broker_conf_free(struct broker_conf *c);

/* ---- TLS material (tls.c) ----------------------------------------------------------- */

/*
 * broker_tls_ensure() - make sure @cert and @key exist; when both are absent, create a
 * self-signed EC P-256 certificate for @host (SAN: localhost, 127.0.0.1, @host) and its
 * key with mode 0600. Returns 0, or -1 with @err. Thread: startup.
 */
int broker_tls_ensure(const char *cert, const char *key, const char *host, struct pt_err *err);

/* ---- job pool (jobs.c) -------------------------------------------------------------- */

struct broker_jobs;
/* Runs on a worker thread: may block, must not touch loop state. */
typedef void broker_job_work_fn(void *arg);
/* Runs on the loop thread after work finished. */
typedef void broker_job_done_fn(void *arg);

/* broker_jobs_new() - start @nworkers threads; @wake is called (any thread) after a job
 * completes so the loop drains. Returns new. */
struct broker_jobs *broker_jobs_new(int nworkers, void (*wake)(void *), void *wake_arg);
/* broker_jobs_submit() - queue @work then @done(@arg). Thread: loop. */
void broker_jobs_submit(struct broker_jobs *j, broker_job_work_fn *work, broker_job_done_fn *done,
                        void *arg);
/* broker_jobs_drain() - run every completion that is ready. Returns how many. Thread: loop. */
int broker_jobs_drain(struct broker_jobs *j);
/* broker_jobs_pending() - jobs submitted and not yet completed. Thread: loop. */
int broker_jobs_pending(const struct broker_jobs *j);
/* broker_jobs_free() - stop the workers after the queued work ran, run the remaining
 * completions, join. NULL-safe. Thread: loop. */
void broker_jobs_free(struct broker_jobs *j);

/* ---- metrics (metrics.c) ------------------------------------------------------------ */

#define BROKER_HIST_NBUCKETS 14
struct broker_hist {
    uint64_t buckets[BROKER_HIST_NBUCKETS]; /* cumulative at render time */
    uint64_t count;
    double sum;
};
extern const double broker_hist_bounds[BROKER_HIST_NBUCKETS];
void broker_hist_observe(struct broker_hist *h, double seconds);
/* broker_hist_render() - append Prometheus lines for @name{@labels}. */
void broker_hist_render(const struct broker_hist *h, const char *name, const char *labels,
                        struct pt_buf *out);

struct broker_metrics;
struct broker_metrics *broker_metrics_new(void);
void broker_metrics_free(struct broker_metrics *m);
/* broker_metrics_request() - one served request: route name, status, latency. */
void broker_metrics_request(struct broker_metrics *m, const char *route, int status,
                            double seconds);
/* broker_metrics_signin() - result is "ok", "bad_credentials", "error", ... */
void broker_metrics_signin(struct broker_metrics *m, const char *result);
void broker_metrics_render(const struct broker_metrics *m, struct pt_buf *out);

/* ---- rate limiting (ratelimit.c) ---------------------------------------------------- */

struct broker_ratelimit;
/* @rps 0 disables the limit. Returns new. */
struct broker_ratelimit *broker_ratelimit_new(int rps, int burst);
void broker_ratelimit_free(struct broker_ratelimit *rl);
void broker_ratelimit_set(struct broker_ratelimit *rl, int rps, int burst);
/* broker_ratelimit_allow() - take one token for @client at @now_ms; false when empty. */
bool broker_ratelimit_allow(struct broker_ratelimit *rl, const char *client, int64_t now_ms);

/* ---- the daemon --------------------------------------------------------------------- */

struct broker_app; /* the wired modules (app.c): auth, store, pool; NULL parts until used */

/* ---- sessions (sessions.c, on auth/session.h) ------------------------------------- */

/* A request's copy of its session (auth/ keeps the table). */
struct broker_sess {
    char token[65];        /* the cookie value: secret, wiped with the request */
    char csrf[65];         /* derived from the token by auth/: secret */
    char id[17];           /* public id (SHA-256 of the token, 16 hex): logs, tickets, admin list */
    struct auth_session a; /* user, display, entitled pools, admin, times */
};

struct sess_table;
/* broker_sess_table_new() - sessions that end after @idle_ms unused or @ttl_ms. New. */
struct sess_table *broker_sess_table_new(int64_t idle_ms, int64_t ttl_ms);
void broker_sess_table_free(struct sess_table *t);
/* broker_sess_create() - a new session for @a; fills @out (token, csrf, id). @password
 * (NULL: none) is kept sealed in the session for single sign-on. 0 or -1. */
int broker_sess_create(struct sess_table *t, const struct auth_session *a, const char *password,
                       int64_t now_ms, struct broker_sess *out, struct pt_err *err);
/* broker_sess_lookup() - the live session of cookie @token into @out (refreshes its idle
 * timer). 0, or -1 if unknown, malformed or expired. */
int broker_sess_lookup(struct sess_table *t, const char *token, int64_t now_ms,
                       struct broker_sess *out);
/* broker_sess_csrf_ok() - constant time. */
bool broker_sess_csrf_ok(const struct broker_sess *s, const char *token);
void broker_sess_logout(struct sess_table *t, const struct broker_sess *s);
/* broker_sess_end_id() - admin: end the session with public id @id; its user into @user.
 * 0, or -1 if there is none. */
int broker_sess_end_id(struct sess_table *t, const char *id, char *user, size_t n);
/* broker_sess_foreach() - every live session with its public id ("" if unknown). */
void broker_sess_foreach(struct sess_table *t,
                         void (*fn)(const char *id, const struct auth_session *s, void *arg),
                         void *arg);
/* broker_sess_sweep() - drop expired sessions (a timer calls it). */
void broker_sess_sweep(struct sess_table *t, int64_t now_ms);
size_t broker_sess_count(struct sess_table *t);

/* A tunnel the gateway reported open (api_gateway.c). */
struct broker_tunnel {
    char gateway[64]; /* the reporting gateway's id ("" if it sent none) */
    char id[64];
    char ticket_id[40];
    char session_id[40];
    char desktop[128];
    char user[256];
    int64_t opened_ms;
    int64_t bytes_up, bytes_down;
};

struct broker {
    struct broker_conf *conf;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    void *ev_loop; /* struct ev_loop * when the libev loop runs, else NULL (poll) */
    struct broker_jobs *jobs;
    struct broker_metrics *metrics;
    struct broker_ratelimit *rl;
    struct broker_app *app;
    struct sess_table *sessions;
    struct broker_tunnel *tunnels; /* open ones */
    size_t ntunnels;
    uint64_t tunnels_opened, tunnels_closed;
    char static_root[4096]; /* resolved web root ("" if none) */
    char req_prefix[9];     /* random per process, request ids are prefix + counter */
    uint64_t req_counter;
    int inflight; /* requests not yet answered completely (graceful shutdown waits) */
    int64_t started_ms;
    int listen_port; /* the bound port */
    volatile int stop;
    bool reload;
    int signal_fd;
    lws_sorted_usec_list_t sweep; /* session expiry sweep timer */
};

/* ---- one HTTP request (server.c) ---------------------------------------------------- */

enum broker_method {
    BROKER_GET = 1 << 0,
    BROKER_POST = 1 << 1,
    BROKER_PUT = 1 << 2,
    BROKER_PATCH = 1 << 3,
    BROKER_DELETE = 1 << 4,
    BROKER_HEAD = 1 << 5,
    BROKER_OPTIONS = 1 << 6,
};
const char *broker_method_str(int m);

#define BROKER_MAX_PARAMS   4
#define BROKER_MAX_PATH     1024
#define BROKER_MAX_PARAM    256
#define BROKER_MAX_EXTRA_HD 6

struct broker_route;

struct broker_req {
    struct broker *b;
    struct lws *wsi; /* NULL once the client went away while a job ran */
    char id[24];
    int method;
    char path[BROKER_MAX_PATH];
    char query[BROKER_MAX_PATH];
    char peer[64];
    const struct broker_route *route;
    const char *route_name; /* for metrics: the route pattern, "static" or "none" */
    char params[BROKER_MAX_PARAMS][BROKER_MAX_PARAM];
    int nparams;
    int64_t content_length; /* -1 when absent */
    struct pt_buf body;
    bool body_expected;
    bool body_too_large;
    bool is_h2;
    bool dispatched;
    bool job_pending; /* a job holds this request: free it when the job completes */
    int64_t t_start_us;
    struct pt_log_ctx log;
    struct broker_sess *session; /* set by the route guard: &sess, or NULL */
    struct broker_sess sess;

    /* the response */
    int status;
    const char *ctype;
    struct pt_buf resp;
    struct {
        char name[40]; /* lower-case with ':' ("set-cookie:") */
        char value[512];
    } extra[BROKER_MAX_EXTRA_HD];
    int nextra;
    size_t resp_off;
    bool replied;
    bool headers_sent;
    bool body_sent; /* the final piece was written; waiting for lws to flush it */
    bool close_after;
};

/* broker_req_same_origin() - true when the request's Origin header is exactly
 * https://<its :authority> (h2 requests; HTTP/1.1 has no :authority): the page that sent it
 * was served by this broker. Thread: loop. */
bool broker_req_same_origin(struct broker_req *r);

/* Reply helpers: each sets the response and asks lws for a writeable callback. Thread: loop. */
void broker_req_reply(struct broker_req *r, int status, const char *ctype, const void *body,
                      size_t len);
/* broker_req_reply_json() - takes ownership of @j (decref'd). */
void broker_req_reply_json(struct broker_req *r, int status, json_t *j);
/* broker_req_error() - {"error":{"code":..,"message":..}} with @status. */
void broker_req_error(struct broker_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* broker_req_error_pt() - map @err->code through the one table (api_errors.c). */
void broker_req_error_pt(struct broker_req *r, const struct pt_err *err);
/* broker_req_add_header() - add "Name: value" to the response headers. */
void broker_req_add_header(struct broker_req *r, const char *name, const char *value);
/* broker_req_header() - copy request header @name (lower-case, with ':' e.g. "cookie:")
 * into @out; returns its length or -1 if absent/too long. */
int broker_req_header(struct broker_req *r, const char *name, char *out, size_t n);
/* broker_req_authorization() - the Authorization header into @out; -1 if absent. */
int broker_req_authorization(struct broker_req *r, char *out, size_t n);
/* broker_req_cookie() - value of cookie @name into @out; -1 if absent. */
int broker_req_cookie(struct broker_req *r, const char *name, char *out, size_t n);
/* broker_req_json_body() - parse the body as a JSON object; on failure replies 400 and
 * returns NULL. Returns new. */
json_t *broker_req_json_body(struct broker_req *r);
/* broker_req_query() - value of query parameter @key (lws decodes the query) or -1. */
int broker_req_query(struct broker_req *r, const char *key, char *out, size_t n);

/* broker_req_submit() - run @work(@arg) on a worker and @done(@arg) on the loop; the
 * request stays alive until @done returns even if the client disconnects (then r->wsi is
 * NULL and replies are dropped). @done must reply (or free what @arg holds). */
void broker_req_submit(struct broker_req *r, broker_job_work_fn *work, broker_job_done_fn *done,
                       void *arg);

/* ---- errors (api_errors.c) ---------------------------------------------------------- */

/* broker_errc_status() - the one pt_errc → HTTP status table. */
int broker_errc_status(enum pt_errc c);

/* ---- router (router.c) -------------------------------------------------------------- */

enum broker_route_flags {
    BROKER_R_SESSION = 1 << 0, /* a signed-in user */
    BROKER_R_ADMIN = 1 << 1,   /* ... in an admin group */
    BROKER_R_CSRF = 1 << 2,    /* X-CSRF-Token must match the session's */
    BROKER_R_GATEWAY = 1 << 3, /* Authorization: Bearer <gateway secret> */
};

typedef void broker_handler_fn(struct broker_req *r);

struct broker_route {
    int method;
    const char *pattern; /* "/api/v1/pools/{}/launch": {} matches one segment */
    int flags;
    broker_handler_fn *handler;
};

enum broker_match {
    BROKER_MATCH_NONE,
    BROKER_MATCH_OK,
    BROKER_MATCH_METHOD, /* the path exists with other methods: 405 */
};

/* broker_router_match() - find the route for @method + @path; fills params. On
 * BROKER_MATCH_METHOD, @allowed gets the methods the path accepts. */
enum broker_match broker_router_match(int method, const char *path, const struct broker_route **out,
                                      char params[][BROKER_MAX_PARAM], int *nparams, int *allowed);
/* broker_router_dispatch() - auth checks by flags, then the handler. */
void broker_router_dispatch(struct broker_req *r);

/* Route tables, one per API file, NULL-pattern terminated. */
extern const struct broker_route broker_routes_health[];
extern const struct broker_route broker_routes_session[];
extern const struct broker_route broker_routes_desktops[];   /* api_desktops.c */
extern const struct broker_route broker_routes_admin_pool[]; /* api_admin_pools.c */
extern const struct broker_route broker_routes_admin_sessions[];
extern const struct broker_route broker_routes_admin_users[];
extern const struct broker_route broker_routes_gateway[];

/* api_session.c: a session as JSON (@id public id, @csrf only for its owner, else NULL).
 * Returns new. */
json_t *broker_session_json(const struct broker *b, const char *id, const struct auth_session *s,
                            const char *csrf);

/* ---- static files (static.c) -------------------------------------------------------- */

/* broker_static_serve() - GET/HEAD of a file under the web root; replies 404 JSON if none. */
void broker_static_serve(struct broker_req *r);
/* broker_static_resolve() - join @root and URL path @path safely (no "..", no NUL, no
 * backslash); directories map to index.html. Returns 0 with @out filled or -1. */
int broker_static_resolve(const char *root, const char *path, char *out, size_t n);
const char *broker_mime_type(const char *path);

/* ---- server (server.c) -------------------------------------------------------------- */

/* broker_new() - takes ownership of *@conf. Creates the lws context and binds. */
struct broker *broker_new(struct broker_conf **conf, struct pt_err *err);
/* broker_run() - serve until SIGTERM/SIGINT; returns the exit status. */
int broker_run(struct broker *b);
void broker_free(struct broker *b);
/* broker_reload() - SIGHUP: re-read the file, apply what is safe. */
void broker_reload(struct broker *b);

/* URL-decode @in (len @n) into @out; -1 on a bad escape, an encoded NUL or overflow. */
int broker_url_decode(const char *in, size_t n, char *out, size_t outn);

#endif
