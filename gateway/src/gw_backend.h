/*
 * gw_backend.h - the contract between a gateway tunnel and what it carries.
 *
 * A tunnel is one browser WebSocket that presented an accepted ticket. Its backend is
 * chosen by the ticket's protocol: the byte relay for SPICE and VNC (relay.c), the
 * FreeRDP-to-Guacamole translator for RDP (rdp*.c). The tunnel code (ws.c) owns the
 * WebSocket, limits, keepalive and metrics; a backend owns its connection to the desktop.
 *
 * Thread: every op is called on the gateway's event loop thread. A backend that runs a
 * thread of its own (RDP) hands output to the loop only through gw_tunnel_post(), which is
 * thread-safe and wakes the loop; everything else is loop-only.
 */
#ifndef PT_GATEWAY_BACKEND_H
#define PT_GATEWAY_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/ticket.h"
#include "common/err.h"

struct gw_tunnel;

struct gw_backend_ops {
    const char *name; /* "relay", "rdp" */
    /* open() - connect to the desktop described by @claims (already verified; @secret is
     * the unsealed per-session secret or NULL, borrowed for the call only: copy it if
     * needed and wipe the copy). Store per-tunnel state with gw_tunnel_set_backend_data().
     * Returns 0, or -1 with @err (the tunnel closes with err->msg as the reason). */
    int (*open)(struct gw_tunnel *t, const struct auth_ticket_claims *claims, const char *secret,
                struct pt_err *err);
    /* client_rx() - one complete WebSocket message from the browser (bounded by the
     * tunnel's message limit). Returns 0, or -1 with @err to close the tunnel. */
    int (*client_rx)(struct gw_tunnel *t, const void *data, size_t len, bool binary,
                     struct pt_err *err);
    /* client_writable() - the browser side drained below its low-water mark: a backend
     * that paused reading from the desktop may resume. May be NULL. */
    void (*client_writable)(struct gw_tunnel *t);
    /* close() - the tunnel is going away: release everything. Called exactly once. */
    void (*close)(struct gw_tunnel *t);
    /* rx_stream - true: client_rx() may receive a message in fragments as they arrive
     * (a byte relay needs no message boundaries and saves a copy); false: whole messages. */
    bool rx_stream;
};

/* Per-tunnel backend state. */
void gw_tunnel_set_backend_data(struct gw_tunnel *t, void *data);
void *gw_tunnel_backend_data(const struct gw_tunnel *t);

/* gw_tunnel_send() - queue one WebSocket message to the browser (copied). Loop thread
 * only. Returns the bytes now queued toward the browser, so a backend can stop reading its
 * desktop above gw_tunnel_high_water(). */
size_t gw_tunnel_send(struct gw_tunnel *t, const void *data, size_t len, bool binary);
size_t gw_tunnel_high_water(const struct gw_tunnel *t);

/* gw_tunnel_post() - thread-safe: queue a message from a backend thread and wake the
 * loop. Returns 0, or -1 if the tunnel is closing (the backend thread should stop). */
int gw_tunnel_post(struct gw_tunnel *t, const void *data, size_t len, bool binary);

/* gw_tunnel_rx_flow() - stop (@enable false) or resume reading browser messages: a
 * backend whose desktop is slower than the browser applies backpressure with it. Loop
 * thread only. */
void gw_tunnel_rx_flow(struct gw_tunnel *t, bool enable);

/* gw_tunnel_close() - close with a WebSocket close code and a reason for the browser. */
void gw_tunnel_close(struct gw_tunnel *t, int ws_code, const char *reason);

/* gw_tunnel_log() - log with this tunnel's context (tunnel id, user, desktop). */
void gw_tunnel_log(const struct gw_tunnel *t, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
