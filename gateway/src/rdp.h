/*
 * rdp.h - the RDP backend: a FreeRDP 2 client per tunnel, translated to the Guacamole
 * protocol for the stock guacamole-common-js client (WebSocketTunnel, text frames).
 *
 * The tunnel code picks this backend for tickets with proto "rdp" and drives it only
 * through struct gw_backend_ops (gw_backend.h). Each tunnel gets one session thread that
 * runs FreeRDP's blocking loop; output reaches the loop thread only via gw_tunnel_post().
 *
 * Secret format (the unsealed per-session secret handed to open(); NULL = no credentials):
 *   "<username>\n<password>[\n<domain>]"   UTF-8, at most RDP_SECRET_MAX bytes.
 * The backend copies it, hands it to FreeRDP and wipes every copy once connected.
 */
#ifndef PT_GATEWAY_RDP_H
#define PT_GATEWAY_RDP_H

#include <stdbool.h>

#include "gw_backend.h"

#define RDP_SECRET_MAX 1024

/* Which way clipboard text may flow (config: both|to-desktop|from-desktop|none). */
enum gw_rdp_clip_dir {
    GW_RDP_CLIP_BOTH = 0,
    GW_RDP_CLIP_TO_DESKTOP,   /* browser -> desktop only */
    GW_RDP_CLIP_FROM_DESKTOP, /* desktop -> browser only */
    GW_RDP_CLIP_NONE,         /* no cliprdr channel at all */
};

/* gw_rdp_clip_dir_parse() - "both", "to-desktop", "from-desktop" or "none" into @out.
 * Returns 0, or -1 (out untouched) for anything else. Thread: any. */
int gw_rdp_clip_dir_parse(const char *str, enum gw_rdp_clip_dir *out);

/* Process-wide settings of the RDP backend; set once before the first tunnel opens. */
struct gw_rdp_conf {
    /* Accept any server certificate. true by default for now (lab servers use
     * self-signed certificates); trust-on-first-use per pool is the next step. */
    bool ignore_cert;
    int width, height;      /* initial desktop size until the browser sends "size" */
    int jpeg_quality;       /* 1..100, lowered automatically while the browser lags */
    int max_lag_ms;         /* sync echo lag above which frames are combined */
    int connect_timeout_ms; /* TCP + security negotiation */
    size_t clipboard_max;   /* bytes of UTF-8 text accepted in either direction */
    enum gw_rdp_clip_dir clipboard_dir;
    /* Resize only by reconnecting, never through the display-control channel (for a
     * server whose disp support misbehaves; tests use it to prove the fallback). */
    bool resize_by_reconnect;
    /* Trust on first use (with ignore_cert false): the first certificate of each
     * scope/host:port is stored here (SHA-256), a different one later is refused.
     * "" = FreeRDP's own checks (system CAs). Suggested: <gateway state dir>/rdp-trust. */
    char cert_trust_dir[256];
    /* Per session, set by the backend from the ticket (its desktop/pool name): which
     * trust scope a certificate belongs to. Leave empty in the process-wide settings. */
    char cert_scope[128];
    /* Run each session's FreeRDP in a process of its own (default): a crash or hang ends
     * only that session. false: a thread per session inside the gateway (tests, debug). */
    bool process_per_session;
};

/* gw_rdp_conf_apply_ticket() - narrow @c (a copy of the gateway's settings) by the
 * ticket's per-pool policy: clipboard direction allowed only where both allow it, the
 * smaller non-zero clipboard limit; the certificate trust scope from the ticket's desktop.
 * Thread: any. */
void gw_rdp_conf_apply_ticket(struct gw_rdp_conf *c, const struct auth_ticket_claims *claims);

/* gw_rdp_conf_defaults() - fill @c with the defaults above. Thread: any. */
void gw_rdp_conf_defaults(struct gw_rdp_conf *c);

/* gw_rdp_configure() - copy @c into the backend (NULL: defaults). With
 * process_per_session it forks the session launcher, so call it from main() while the
 * process still has a single thread (before lws starts). Thread: main. */
void gw_rdp_configure(const struct gw_rdp_conf *c);

/* Process-wide counters of the RDP backend, for /metrics and benchmarks. */
#define GW_RDP_ENCODE_BUCKETS 8 /* frame encode time: <1, <2, <5, <10, <20, <50, <100, >=100 ms */
struct gw_rdp_metrics {
    unsigned long long frames;      /* frames sent (each ends with "sync") */
    unsigned long long frames_held; /* flushes deferred because the browser lagged */
    unsigned long long bytes;       /* Guacamole bytes posted to tunnels */
    unsigned long long changed_px;  /* pixels sent as fills or images */
    unsigned long long encode_us;   /* time spent encoding frames */
    unsigned long long encode_hist[GW_RDP_ENCODE_BUCKETS];
    unsigned long long sessions_connecting, sessions_connected; /* gauges */
    unsigned long long sessions_failed;                         /* connect failures */
    long long lag_ms_max;                                       /* worst sync-echo lag seen (ms) */
};

/* gw_rdp_metrics_get() - a snapshot of the counters. Thread: any. */
void gw_rdp_metrics_get(struct gw_rdp_metrics *out);

/* gw_rdp_backend() - borrowed, static: the RDP backend's ops. Thread: any. */
const struct gw_backend_ops *gw_rdp_backend(void);

#endif
