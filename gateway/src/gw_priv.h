/*
 * gw_priv.h - private types of the gateway: configuration, the process-wide state the
 * event loop owns, the bounded message queue, metrics and the broker reporter.
 *
 * Thread: everything here belongs to the loop thread unless a comment says otherwise.
 */
#ifndef PT_GATEWAY_PRIV_H
#define PT_GATEWAY_PRIV_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "auth/ticket.h"
#include "common/err.h"
#include "gw_backend.h"
#include "rdp.h"

/* ---- configuration ([gateway] section, gw_conf.c) --------------------------------- */

struct gw_conf {
    char *listen;           /* host:port */
    bool tls;               /* wss (default) or plain ws (tests, behind a TLS proxy) */
    char *tls_cert;         /* PEM; generated self-signed under state_dir when unset */
    char *tls_key;          /* PEM, mode 0600 */
    char *state_dir;        /* where a generated certificate lives */
    char *id;               /* gateway id: the ticket audience */
    char *ticket_key;       /* broker's current Ed25519 public key (PEM) */
    char *ticket_key_prev;  /* previous public key during rotation, or NULL */
    char *sealing_key;      /* private key that opens secrets the broker sealed for us */
    char *allowed_origins;  /* space/comma separated; NULL: any (warned at start) */
    char *trusted_proxies;  /* CIDR list whose X-Forwarded-For is believed; NULL: none */
    int max_conns_per_addr; /* concurrent WebSockets from one source address */
    int max_message;        /* bytes of one browser message */
    int max_tunnels;        /* concurrent tunnels of the whole gateway */
    int queue_bytes;        /* high-water mark of each direction's queue */
    int64_t keepalive_ms;   /* idle time before a ping; hang up after 3x */
    int64_t connect_timeout_ms;
    char *broker_url;         /* https://host:port, or NULL: no reports */
    char *broker_secret_file; /* file holding the shared bearer secret */
    bool broker_insecure;     /* accept a self-signed broker certificate (lab) */
    bool metrics;             /* serve /metrics */
    char *metrics_from;       /* addresses allowed to read /metrics */
    bool event_lib;           /* libev loop (falls back to poll if the plugin is missing) */
    bool direct_io;           /* relay tunnels' frames read/written by gw_wsio.c, not lws */
    int workers;              /* loop processes sharing the listener (gw_workers.c) */
    const char *path;         /* the file it was loaded from (borrowed; SIGHUP re-reads it) */
    bool reload_at_start;     /* a worker restarted after a SIGHUP: re-read the file first */
    int log_level;
    /* [rdp]: the RDP backend's settings (gw_rdp_configure()); defaults when the backend
     * is not built in, and the section is then accepted and ignored */
    struct gw_rdp_conf rdp;
};

/* gw_conf_load() - parse @path into @c (defaults first), validate. Returns 0 or -1 with a
 * "file:line: ..." message in @err. gw_conf_free() releases the strings. */
int gw_conf_load(struct gw_conf *c, const char *path, struct pt_err *err);
int gw_conf_load_string(struct gw_conf *c, const char *text, const char *fname, struct pt_err *err);
void gw_conf_defaults(struct gw_conf *c);
void gw_conf_free(struct gw_conf *c);

/* Server cipher order (gw.c): AEADs only, AES-128-GCM first, forward secrecy only for
 * TLS 1.2. */
#define GW_TLS13_CIPHERS                                                                           \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define GW_TLS12_CIPHERS                                                                           \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* gw_tls_ensure() - if no certificate is configured, make (once) a self-signed EC P-256
 * certificate and key under @c->state_dir and point @c at them. Returns 0 or -1. */
int gw_tls_ensure(struct gw_conf *c, struct pt_err *err);

/* gw_tls_pair_check() - @cert (PEM chain) and @key load and belong together. 0 or -1. */
int gw_tls_pair_check(const char *cert, const char *key, struct pt_err *err);
/* gw_tls_pair_apply() - check, then make @cert/@key the certificate of @live (the vhost's
 * SSL_CTX) for connections accepted from now on. 0, or -1 with @live untouched. */
int gw_tls_pair_apply(SSL_CTX *live, const char *cert, const char *key, struct pt_err *err);

/* ---- bounded message queue (gw_queue.c) -------------------------------------------- */

/* One queued message, stored with LWS_PRE bytes of headroom so lws_write() can frame it
 * in place without another copy. */
struct gw_msg {
    struct gw_msg *next;
    size_t len, off; /* off: bytes already written (raw sockets may write partially) */
    bool binary;
    unsigned char *data; /* points LWS_PRE bytes into the allocation */
};

struct gw_queue {
    struct gw_msg *head, *tail;
    size_t bytes;
    size_t count;
};

void gw_queue_push(struct gw_queue *q, const void *data, size_t len, bool binary);
/* gw_queue_pop() - returns new: the head message, which the caller frees with free(). */
struct gw_msg *gw_queue_pop(struct gw_queue *q);
/* gw_queue_take_all() - move every message of @from to the end of @to. */
void gw_queue_move(struct gw_queue *to, struct gw_queue *from);
void gw_queue_clear(struct gw_queue *q);

/* ---- metrics (gw_metrics.c) --------------------------------------------------------- */

enum gw_refusal {
    GW_REFUSE_NO_TICKET,
    GW_REFUSE_MALFORMED,
    GW_REFUSE_SIGNATURE,
    GW_REFUSE_EXPIRED,
    GW_REFUSE_AUDIENCE,
    GW_REFUSE_REPLAYED,
    GW_REFUSE_ORIGIN,
    GW_REFUSE_ADDR_LIMIT,
    GW_REFUSE_FULL,
    GW_REFUSE_PROTOCOL,
    GW_REFUSE_BACKEND,
    GW_REFUSE_MESSAGE_SIZE,
    GW_REFUSE_COUNT_
};
const char *gw_refusal_str(enum gw_refusal r);

struct gw_metrics {
    uint64_t tunnels_open[3]; /* by enum auth_proto */
    uint64_t tunnels_total[3];
    uint64_t bytes_down[3]; /* desktop -> browser */
    uint64_t bytes_up[3];   /* browser -> desktop */
    uint64_t refusals[GW_REFUSE_COUNT_];
    uint64_t queue_down_bytes; /* currently queued toward browsers */
    uint64_t queue_up_bytes;   /* currently queued toward desktops */
    uint64_t backpressure_pauses;
    uint64_t reports_sent, reports_failed, reports_dropped, reports_pending;
    uint64_t reloads_ok, reloads_failed; /* SIGHUP */
    int64_t started_ms;
};

/* gw_metrics_render() - Prometheus text exposition into @b. */
struct pt_buf;
void gw_metrics_render(const struct gw_metrics *m, struct pt_buf *b, bool event_lib);
/* gw_metrics_render_rdp() - the RDP backend's counters (rdp.h gw_rdp_metrics_get()) as
 * Prometheus text into @b: frames, bytes, pixels, the encode-time histogram, sessions by
 * state, connect failures and the worst lag. Thread: any (pure formatting). */
struct gw_rdp_metrics;
void gw_metrics_render_rdp(const struct gw_rdp_metrics *r, struct pt_buf *b);

/* ---- broker reports (gw_report.c) --------------------------------------------------- */

struct gw_reporter;
struct gw_report_event {
    bool opened;
    uint64_t tunnel;
    char ticket_id[33];
    char session_id[65];
    char desktop[128];
    char user[256];
    char proto[8];
    uint64_t bytes_up, bytes_down;
};

/* gw_reporter_new() - returns new; NULL @url disables reporting (events are dropped). */
struct gw_reporter *gw_reporter_new(struct lws_context *ctx, const struct gw_conf *c,
                                    struct gw_metrics *m, struct pt_err *err);
void gw_reporter_free(struct gw_reporter *r);
/* gw_reporter_stop() - before the lws context is destroyed: schedule nothing more. */
void gw_reporter_stop(struct gw_reporter *r);
/* gw_reporter_push() - queue one event (bounded; the oldest is dropped when full). */
void gw_reporter_push(struct gw_reporter *r, const struct gw_report_event *ev);
/* The lws protocol the reporter's client connections use. */
int gw_report_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

/* ---- state shared by worker processes (gw_shared.c) ---------------------------------- */

#define GW_WORKERS_MAX 16

struct gw_shared;
struct gw_rdp_metrics;
/* gw_shared_new() - before fork(): the shared ledger, address table and metrics slots for
 * @workers processes and @max_tunnels tunnels. Returns new, or NULL with @err. Each
 * process frees its own view with gw_shared_free(). */
struct gw_shared *gw_shared_new(int workers, int max_tunnels, struct pt_err *err);
void gw_shared_free(struct gw_shared *s);
struct auth_ledger *gw_shared_ledger(struct gw_shared *s); /* borrowed */
/* Per-address counts summed over workers: acquire returns the new total or -1 at @limit. */
int gw_shared_addr_acquire(struct gw_shared *s, int worker, const char *addr, int limit);
void gw_shared_addr_release(struct gw_shared *s, int worker, const char *addr);
int gw_shared_addr_count(struct gw_shared *s, const char *addr);
/* gw_shared_publish() - copy @worker's counters into its slot (each loop tick). */
void gw_shared_publish(struct gw_shared *s, int worker, const struct gw_metrics *m,
                       const struct gw_rdp_metrics *rdp, int tunnels);
/* gw_shared_sum() - every worker's metrics (@worker's own live ones from @own) plus those
 * of workers that died, into @out / @out_rdp. */
void gw_shared_sum(struct gw_shared *s, int worker, const struct gw_metrics *own,
                   const struct gw_rdp_metrics *own_rdp, struct gw_metrics *out,
                   struct gw_rdp_metrics *out_rdp);
/* gw_shared_tunnels() - tunnels of all workers, @own being @worker's live count. */
int gw_shared_tunnels(struct gw_shared *s, int worker, int own);
/* gw_shared_worker_gone() - supervisor, after reaping @worker: fold its counters into the
 * totals, drop its gauges, tunnel count and per-address counts. */
void gw_shared_worker_gone(struct gw_shared *s, int worker);

/* One loop process: the whole gateway (@sh NULL) or worker @worker of it. Returns the
 * exit status. (main.c's serve()) */
typedef int gw_serve_fn(struct gw_conf *c, struct gw_shared *sh, int worker);
/* gw_workers_run() - `workers` > 1: the supervisor. Forks the workers, each running
 * @serve (its own loop on a SO_REUSEPORT listener), restarts one that dies, stops them
 * all on SIGTERM/SIGINT. Returns the exit status for main(). (gw_workers.c) */
int gw_workers_run(struct gw_conf *c, gw_serve_fn *serve);

/* ---- the gateway (gw.c) and its tunnels (tunnel.c) ------------------------------------ */

struct gw_addr; /* connections per source address */

struct gw {
    const struct gw_conf *conf; /* borrowed, outlives the gateway */
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    bool event_lib;
    volatile int stop;
    struct auth_verifier *verifier;
    struct auth_ledger *ledger;
    struct auth_seal_key *seal_key; /* NULL without sealing_key: sealed secrets refused */
    struct gw_reporter *reporter;
    struct gw_metrics metrics;
    unsigned tick;
    struct gw_tunnel *tunnel_list; /* every tunnel, for the keepalive sweep */
    const char *conf_path;         /* re-read on SIGHUP (gw_reload.c) */
    struct gw_conf *conf_owned;    /* the config of the last reload, NULL before one */
    volatile sig_atomic_t reload_requested;
    SSL_CTX *ssl_ctx;        /* the listener's, from lws (NULL without TLS) */
    char **origins;          /* NULL-terminated */
    struct gw_cidr *proxies; /* trusted_proxies, parsed */
    size_t n_proxies;
    char **metrics_from;
    struct gw_addr **addr_table;
    size_t addr_buckets;
    int tunnels;
    uint64_t next_tunnel_id;
    unsigned char *scratch;  /* LWS_PRE + GW_RAW_RX: direct writes toward browsers */
    unsigned char *wsio_buf; /* GW_RAW_RX: gw_wsio.c's reads from browsers */
    const struct gw_backend_ops *rdp;
    pthread_mutex_t post_lock; /* guards every tunnel's posted queue and the list */
    struct gw_tunnel *post_list;
    struct gw_shared *shared; /* borrowed; NULL in a single-process gateway */
    int worker;               /* this process's index among the workers */
    int64_t accept_warned_ms; /* gw_listen.c: last "out of descriptors" warning */
};

#define GW_RX_BUF (64 * 1024) /* browser messages per read (lws allocates it per WebSocket) */
/* Desktop reads: lws reads every raw socket into one per-loop buffer, so a large read
 * costs no memory per tunnel and saves system calls per byte relayed. */
#define GW_RAW_RX (256 * 1024)
/* The most one lws_write() toward a browser carries: a desktop read plus the frame header.
 * lws hands at most a protocol's tx_packet_size to the socket (or SSL_write) per call and
 * copies the remainder into a buffer of its own, so it must cover a whole read. */
#define GW_TX_MAX (GW_RAW_RX + 16)

/* ---- the client's address behind trusted proxies (gw_xff.c) ------------------------ */

struct gw_cidr;
/* gw_cidr_list_parse() - space/comma separated addresses or CIDR prefixes (IPv4, IPv6).
 * @out: returns new (gw_cidr_list_free), NULL for an empty list. Returns 0 or -1 with
 * @err naming the bad entry. */
int gw_cidr_list_parse(const char *s, struct gw_cidr **out, size_t *n, struct pt_err *err);
void gw_cidr_list_free(struct gw_cidr *v);
/* gw_xff_resolve() - the client's address for limits and logs: @peer (the socket's
 * peer), or, when @peer is in @trusted, the right-most entry of the X-Forwarded-For value
 * @xff (NULL: none) that is not itself a trusted proxy. Canonical text into @out;
 * *@forwarded tells whether it came from the header. */
void gw_xff_resolve(const struct gw_cidr *trusted, size_t n, const char *peer, const char *xff,
                    char *out, size_t outlen, bool *forwarded);

/* gw_xff_addr_get() - gw_xff_resolve() for a WebSocket being admitted: into @out the
 * client's address; into @peer the proxy's when the address came from X-Forwarded-For,
 * else "". */
struct gw;
void gw_xff_addr_get(struct gw *g, struct lws *wsi, char *out, size_t outlen, char *peer,
                     size_t peerlen);

/* gw_alloc_install() - give lws our allocator (gw_alloc.c): fresh, well placed pages for
 * its 64 KiB per-WebSocket receive buffers, kept for reuse. Before the lws context
 * exists. */
void gw_alloc_install(void);
/* gw_alloc_trim() - free the receive buffers kept since the previous call that no
 * WebSocket took meanwhile. Called periodically, before malloc_trim(). */
void gw_alloc_trim(void);

/* gw_conf_reload() - re-read the config file (SIGHUP): certificate and key, ticket keys,
 * allowed origins, trusted proxies, metrics_from and the per-tunnel limits take effect for
 * what comes next; tunnels that are up stay up. Keys that need a restart keep their old
 * value (logged). A config that does not load, or a pair that does not match, changes
 * nothing: returns -1 with @err. Loop thread. (gw_reload.c) */
int gw_conf_reload(struct gw *g, struct pt_err *err);
/* gw_conf_reload_request() - async-signal-safe: the loop's next tick runs gw_conf_reload(). */
void gw_conf_reload_request(struct gw *g);
/* Helpers gw_conf_reload() shares with gw_new() (gw.c). */
char **gw_list_split(const char *s);
void gw_list_free(char **v);

/* gw_new() - create the lws context, listener and helpers. Returns new or NULL. */
struct gw *gw_new(const struct gw_conf *c, struct pt_err *err);
/* gw_new_worker() - gw_new() for worker @worker of a gateway whose workers share @sh
 * (borrowed, outlives the gateway): the shared ledger and address counts, a SO_REUSEPORT
 * listener, metrics published to and summed from @sh. */
struct gw *gw_new_worker(const struct gw_conf *c, struct gw_shared *sh, int worker,
                         struct pt_err *err);
/* gw_tunnels_total() - tunnels of the whole gateway (all workers). */
int gw_tunnels_total(struct gw *g);
/* gw_run() - serve until gw_stop() (async-signal-safe) is called. Returns 0. */
int gw_run(struct gw *g);
void gw_stop(struct gw *g);
void gw_free(struct gw *g);

/* Per-address accounting (gw.c): returns the new count, or -1 over the limit. */
int gw_addr_acquire(struct gw *g, const char *addr);
void gw_addr_release(struct gw *g, const char *addr);
bool gw_origin_allowed(const struct gw *g, const char *origin);
void gw_posts_drain(struct gw *g);
/* gw_tunnels_keepalive() - ping tunnels idle for keepalive, close those silent for 3x.
 * Called once a second from the loop's tick (tunnel.c). */
void gw_tunnels_keepalive(struct gw *g, int64_t now_ms);

/* gw_listen_start() - workers: our own SO_REUSEPORT listener, adopted into the loop, its
 * connections handed to lws (gw_listen.c). Returns 0 or -1 with @err. */
int gw_listen_start(struct gw *g, struct pt_err *err);

/* lws protocol callbacks. */
int gw_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
int gw_tunnel_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
int gw_relay_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
size_t gw_tunnel_size(void);

/* gw_secret_unseal() - open the secret the broker sealed into @c for this gateway.
 * @out: returns new (free with pt_free_secret), NULL when the ticket carries none.
 * Returns 0, or -1 with @err when a sealed secret cannot be opened. (gw.c) */
int gw_secret_unseal(struct gw *g, const struct auth_ticket_claims *c, char **out,
                     struct pt_err *err);

/* Backends the tunnel code knows. */
const struct gw_backend_ops *gw_relay_backend(void);

/* ---- the gateway's own WebSocket I/O for relay tunnels (gw_wsio.c) ------------------ */

/* The lws protocol of the raw-file wsi that reports a taken-over socket's readiness. */
#define GW_WSIO_PROTOCOL "gw-wsio"
struct gw_wsio;
/* gw_wsio_start() - take the admitted WebSocket @wsi of @t off lws's data path, from
 * inside its ESTABLISHED callback. Returns new (gw_wsio_free), or NULL when this
 * connection cannot be taken over (lws keeps serving it; nothing is lost). */
struct gw_wsio *gw_wsio_start(struct gw_tunnel *t, struct lws *wsi);
/* gw_wsio_send() - one message toward the browser; @headroom: LWS_PRE writable bytes
 * precede @data. Returns the bytes queued toward the browser after it. */
size_t gw_wsio_send(struct gw_wsio *io, const void *data, size_t len, bool binary, bool headroom);
void gw_wsio_ping(struct gw_wsio *io);
/* gw_wsio_rx_flow() - stop or resume reading the browser. */
void gw_wsio_rx_flow(struct gw_wsio *io, bool enable);
/* gw_wsio_close() - queue a close frame after what is queued; the connection closes once
 * the browser answers it or after a timeout. */
void gw_wsio_close(struct gw_wsio *io, int code, const char *reason);
void gw_wsio_free(struct gw_wsio *io);
/* gw_wsio_writable() - the WebSocket's writable callback: write what is queued. Returns
 * -1 when lws is to close the connection now (without a close frame of its own). */
int gw_wsio_writable(struct gw_wsio *io);
int gw_wsio_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);

/* What gw_wsio.c tells the tunnel (tunnel.c). */
/* gw_tunnel_rx_data() - a piece of a browser message (@final: its last). */
void gw_tunnel_rx_data(struct gw_tunnel *t, const void *data, size_t len, bool binary, bool final);
/* gw_tunnel_rx_seen() - the browser sent something (keepalive). */
void gw_tunnel_rx_seen(struct gw_tunnel *t);
/* gw_tunnel_drained() - the queue toward the browser fell to @queued bytes. */
void gw_tunnel_drained(struct gw_tunnel *t, size_t queued);
/* gw_tunnel_peer_closed() - the browser closed (@code as it sent it; 1006: without a close
 * frame): what the tunnel logs and reports, unless the tunnel was already closing. */
void gw_tunnel_peer_closed(struct gw_tunnel *t, int code);

/* Helpers the relay backend uses (tunnel.c). */
struct gw *gw_tunnel_gw(const struct gw_tunnel *t);
struct lws *gw_tunnel_wsi(const struct gw_tunnel *t);
void gw_tunnel_count_up(struct gw_tunnel *t, size_t n);
/* gw_tunnel_send_inplace() - gw_tunnel_send() of a binary message whose @data has LWS_PRE
 * writable bytes before it, as lws's per-loop read buffer for raw sockets does (it reads
 * at serv_buf + LWS_PRE): written without the copy into the scratch buffer. */
size_t gw_tunnel_send_inplace(struct gw_tunnel *t, unsigned char *data, size_t len);

/* ---- VNC authentication on the browser's behalf (vnc_auth.c) ------------------------ */

/* vnc_auth_response() - the RFB VNC-auth reply: @challenge (16 bytes) DES-encrypted with
 * @password (first 8 bytes, bit-reversed per RFB). Returns 0 or -1 (DES unavailable). */
int vnc_auth_response(const unsigned char challenge[16], const char *password,
                      unsigned char out[16], struct pt_err *err);

/* ---- SPICE password on the browser's behalf (spice_link.c) --------------------------- */

enum spice_link_state {
    SPICE_LINK_CLIENT_MESS, /* the browser's SpiceLinkMess, forwarded as it is */
    SPICE_LINK_CLIENT_AUTH, /* [auth mechanism] + the 128-byte ticket we replace */
    SPICE_LINK_DONE,        /* plain relay */
};

struct spice_link {
    enum spice_link_state state;
    unsigned char cbuf[16 + 1024], sbuf[16 + 1024];
    size_t clen, cneed, slen, sneed;
    uint32_t client_caps, server_caps;
    bool server_done, mech_started;
    size_t mech_left, ticket_left;
    unsigned char pubkey[162];
    char *password;
};

typedef void spice_link_emit_fn(void *opaque, const void *data, size_t len);

/* spice_link_init() - @password is copied (wiped by spice_link_fini()). */
void spice_link_init(struct spice_link *sl, const char *password);
void spice_link_fini(struct spice_link *sl);
/* spice_link_client() - browser bytes: what the desktop must receive goes to @emit.
 * Returns 0, or -1 with @err on a malformed link. */
int spice_link_client(struct spice_link *sl, const unsigned char *p, size_t len,
                      spice_link_emit_fn *emit, void *opaque, struct pt_err *err);
/* spice_link_server() - observe desktop bytes (the caller forwards them unchanged). */
int spice_link_server(struct spice_link *sl, const unsigned char *p, size_t len,
                      struct pt_err *err);

#endif
