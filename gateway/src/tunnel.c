/*
 * tunnel.c - one browser WebSocket: admission, the queue toward the browser, and the
 * tunnel side of the backend contract (gw_backend.h).
 *
 * Admission happens once the WebSocket is up, so that every refusal reaches the browser
 * as a close frame with a code and a reason instead of a bare HTTP error: capacity, Origin,
 * connections from this address, then the ticket (signature, time window, audience) and
 * its connection allowance, and finally the backend's connect. The ticket arrives in the
 * query string (/tunnel?ticket=...): noVNC and spice-html5 both let the page set the
 * path, and the first byte the desktop sends can then go straight to the browser.
 * Tickets are never logged; only their id is.
 *
 * Toward the browser a message is written at once when nothing is queued and the socket
 * takes it (no extra trip through the event loop), otherwise queued in a gw_queue and
 * written one message per WRITEABLE callback. The queue is bounded by the backend, which
 * stops reading its desktop once gw_tunnel_send() reports more than the high-water mark
 * and resumes on client_writable(). Toward the desktop, the backend pauses us with
 * gw_tunnel_rx_flow().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "gw_priv.h"

/* Close codes in the private range 4000-4999 (RFC 6455 7.4.2); docs/gateway.md lists them. */
enum {
    WS_NORMAL = 1000,
    WS_GOING_AWAY = 1001,
    WS_TOO_BIG = 1009,
    WS_INTERNAL = 1011,
    WS_TRY_LATER = 1013,
    GW_CLOSE_NO_TICKET = 4000,
    GW_CLOSE_MALFORMED = 4001,
    GW_CLOSE_SIGNATURE = 4002,
    GW_CLOSE_EXPIRED = 4003,
    GW_CLOSE_AUDIENCE = 4004,
    GW_CLOSE_REPLAYED = 4005,
    GW_CLOSE_ORIGIN = 4006,
    GW_CLOSE_ADDR_LIMIT = 4007,
    GW_CLOSE_FULL = 4008,
    GW_CLOSE_PROTOCOL = 4009,
    GW_CLOSE_BACKEND = 4010,
};

/* Capacity of the message assembly buffer kept between browser messages (RDP input
 * instructions are far smaller); a larger one is freed after its message. */
#define GW_MSG_KEEP (16 * 1024)

/* Seconds a closing tunnel may spend sending what it queued before the close frame. */
#define GW_CLOSE_FLUSH_S 2

struct gw_tunnel {
    struct gw *g;
    struct lws *wsi;
    struct gw_wsio *io; /* our own frame I/O once admitted (relay tunnels), else NULL */
    uint64_t id;
    enum auth_proto proto;
    const struct gw_backend_ops *ops;
    void *bdata;
    bool backend_open; /* ops->open succeeded: ops->close is owed */
    bool opened;       /* counted in metrics and reported to the broker */
    bool closing, close_now, down_paused, in_rx, addr_counted;
    int close_code;
    char close_reason[124];
    struct gw_queue down; /* toward the browser */
    size_t msg_len;       /* bytes of the browser message being received */
    struct pt_buf msg;    /* whole-message assembly for !rx_stream backends */
    uint64_t bytes_up, bytes_down;
    char addr[64]; /* the client's (X-Forwarded-For from a trusted proxy, else the peer) */
    char via[64];  /* the proxy's when addr came from X-Forwarded-For, else "" */
    char ticket_id[33];
    char session_id[65];
    char user[256];
    char desktop[128];
    /* Keepalive: the sweep walks g->tunnel_list once a second. */
    struct gw_tunnel *list_prev, *list_next;
    int64_t last_rx_ms, last_ping_ms;
    bool ping_due;
    /* Messages posted by a backend thread; guarded by g->post_lock. */
    struct gw_queue posted;
    bool post_listed, post_closed;
    struct gw_tunnel *post_next;
};

size_t
gw_tunnel_size(void)
{
    return sizeof(struct gw_tunnel);
}

/* ---- the contract (gw_backend.h) ----------------------------------------------------- */

void
gw_tunnel_set_backend_data(struct gw_tunnel *t, void *data)
{
    t->bdata = data;
}

void *
gw_tunnel_backend_data(const struct gw_tunnel *t)
{
    return t->bdata;
}

size_t
gw_tunnel_high_water(const struct gw_tunnel *t)
{
    return (size_t)t->g->conf->queue_bytes;
}

struct gw *
gw_tunnel_gw(const struct gw_tunnel *t)
{
    return t->g;
}

struct lws *
gw_tunnel_wsi(const struct gw_tunnel *t)
{
    return t->wsi;
}

void
gw_tunnel_count_up(struct gw_tunnel *t, size_t n)
{
    t->bytes_up += n;
    t->g->metrics.bytes_up[t->proto] += n;
}

static void
queue_account(struct gw_tunnel *t, size_t before)
{
    struct gw_metrics *m = &t->g->metrics;

    m->queue_down_bytes = m->queue_down_bytes - before + t->down.bytes;
}

/* @headroom: @data has LWS_PRE writable bytes before it (lws's read buffer for desktop
 * sockets), so lws_write() can frame it where it lies. */
static size_t
tunnel_send(struct gw_tunnel *t, const void *data, size_t len, bool binary, bool headroom)
{
    struct gw *g = t->g;
    size_t before = t->down.bytes;

    if (t->closing)
        return 0;
    t->bytes_down += len;
    g->metrics.bytes_down[t->proto] += len;
    if (t->io) {
        size_t queued = gw_wsio_send(t->io, data, len, binary, headroom);
        if (queued >= gw_tunnel_high_water(t) && !t->down_paused) {
            t->down_paused = true;
            g->metrics.backpressure_pauses++;
        }
        return queued;
    }
    /* Fast path: nothing queued here nor left over in lws, so write now. lws_write() needs
     * LWS_PRE bytes of headroom: the caller's, or the scratch buffer's after a copy. lws
     * keeps whatever the kernel did not take and writes it before the next WRITEABLE;
     * later messages then queue here. (Not lws_send_pipe_choked(): it asks with a poll()
     * system call, one per message, and a full socket costs no more this way: send() says
     * EAGAIN.) */
    if (!t->down.head && !t->in_rx && len <= GW_RAW_RX && !lws_partial_buffered(t->wsi)) {
        unsigned char *p = (unsigned char *)data;
        if (!headroom) {
            memcpy(g->scratch + LWS_PRE, data, len);
            p = g->scratch + LWS_PRE;
        }
        if (lws_write(t->wsi, p, len, binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)len) {
            gw_tunnel_close(t, WS_GOING_AWAY, "write to browser failed");
            return 0;
        }
        return 0;
    }
    gw_queue_push(&t->down, data, len, binary);
    queue_account(t, before);
    lws_callback_on_writable(t->wsi);
    if (t->down.bytes >= gw_tunnel_high_water(t) && !t->down_paused) {
        t->down_paused = true;
        g->metrics.backpressure_pauses++;
    }
    return t->down.bytes;
}

size_t
gw_tunnel_send(struct gw_tunnel *t, const void *data, size_t len, bool binary)
{
    return tunnel_send(t, data, len, binary, false);
}

size_t
gw_tunnel_send_inplace(struct gw_tunnel *t, unsigned char *data, size_t len)
{
    return tunnel_send(t, data, len, true, true);
}

/* Messages queued for lws's writer (posted by a backend thread, or queued before the
 * takeover) go to gw_wsio.c's queue instead, in order. */
static void
down_to_wsio(struct gw_tunnel *t)
{
    size_t before = t->down.bytes;
    struct gw_msg *m;

    while ((m = gw_queue_pop(&t->down)) != NULL) {
        gw_wsio_send(t->io, m->data, m->len, m->binary, true);
        free(m);
    }
    queue_account(t, before);
}

int
gw_tunnel_post(struct gw_tunnel *t, const void *data, size_t len, bool binary)
{
    struct gw *g = t->g;
    bool wake = false;

    pthread_mutex_lock(&g->post_lock);
    if (t->post_closed) {
        pthread_mutex_unlock(&g->post_lock);
        return -1;
    }
    gw_queue_push(&t->posted, data, len, binary);
    if (!t->post_listed) {
        t->post_listed = true;
        t->post_next = g->post_list;
        g->post_list = t;
        wake = true;
    }
    pthread_mutex_unlock(&g->post_lock);
    if (wake)
        lws_cancel_service(g->ctx);
    return 0;
}

void
gw_posts_drain(struct gw *g)
{
    struct gw_tunnel *list, *t;

    pthread_mutex_lock(&g->post_lock);
    list = g->post_list;
    g->post_list = NULL;
    for (t = list; t; t = t->post_next) {
        size_t before = t->down.bytes;
        t->post_listed = false;
        if (!t->closing)
            t->bytes_down += t->posted.bytes;
        if (!t->closing)
            g->metrics.bytes_down[t->proto] += t->posted.bytes;
        gw_queue_move(&t->down, &t->posted);
        queue_account(t, before);
    }
    pthread_mutex_unlock(&g->post_lock);
    /* Outside the lock: the tunnels stay alive, only the loop thread frees them. */
    for (t = list; t; t = t->post_next) {
        if (t->io)
            down_to_wsio(t);
        else if (t->down.head)
            lws_callback_on_writable(t->wsi);
    }
}

void
gw_tunnel_rx_flow(struct gw_tunnel *t, bool enable)
{
    if (!enable)
        t->g->metrics.backpressure_pauses++;
    if (t->io)
        gw_wsio_rx_flow(t->io, enable);
    else
        lws_rx_flow_control(t->wsi, enable ? 1 : 0);
}

void
gw_tunnel_close(struct gw_tunnel *t, int ws_code, const char *reason)
{
    size_t before = t->down.bytes;

    if (t->closing)
        return;
    t->closing = true;
    t->close_code = ws_code;
    pt_strlcpy(t->close_reason, reason ? reason : "", sizeof(t->close_reason));
    /* What the backend queued before asking to close goes out first: the RDP backend's
     * Guacamole "error" instruction tells the page why, in its own words, and must
     * precede the close frame. Messages a backend thread posted count too. */
    pthread_mutex_lock(&t->g->post_lock);
    if (t->posted.head) {
        t->bytes_down += t->posted.bytes;
        t->g->metrics.bytes_down[t->proto] += t->posted.bytes;
        gw_queue_move(&t->down, &t->posted);
    }
    pthread_mutex_unlock(&t->g->post_lock);
    queue_account(t, before);
    if (t->io) {
        down_to_wsio(t);
        gw_wsio_close(t->io, ws_code, t->close_reason);
        return;
    }
    t->close_now = !t->down.head;
    /* A browser that stops reading must not keep the tunnel: lws drops the connection
     * if the queue has not drained by then (no WRITEABLE comes for a full socket). */
    if (!t->close_now)
        lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK, GW_CLOSE_FLUSH_S);
    lws_callback_on_writable(t->wsi);
}

void
gw_tunnel_log(const struct gw_tunnel *t, int prio, const char *fmt, ...)
{
    char msg[512], u[300], d[160];
    va_list ap;

    if (!pt_log_enabled(prio))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pt_log(prio, "tunnel=%llu user=%s desktop=%s %s", (unsigned long long)t->id,
           pt_log_value_quote(t->user[0] ? t->user : "-", u, sizeof(u)),
           pt_log_value_quote(t->desktop[0] ? t->desktop : "-", d, sizeof(d)), msg);
}

/* ---- admission ------------------------------------------------------------------------ */

static void
refuse(struct gw_tunnel *t, enum gw_refusal why, int code, const char *reason)
{
    t->g->metrics.refusals[why]++;
    gw_tunnel_log(t, LOG_NOTICE, "event=refused reason=%s addr=%s%s%s code=%d", gw_refusal_str(why),
                  t->addr, t->via[0] ? " via=" : "", t->via, code);
    gw_tunnel_close(t, code, reason);
}

static void
refuse_ticket(struct gw_tunnel *t, enum auth_ticket_reject r)
{
    switch (r) {
    case AUTH_TICKET_BAD_SIGNATURE:
    case AUTH_TICKET_UNKNOWN_KEY:
        refuse(t, GW_REFUSE_SIGNATURE, GW_CLOSE_SIGNATURE, "ticket signature is not valid");
        return;
    case AUTH_TICKET_EXPIRED:
        refuse(t, GW_REFUSE_EXPIRED, GW_CLOSE_EXPIRED, "ticket expired: launch the desktop again");
        return;
    case AUTH_TICKET_NOT_YET_VALID:
        refuse(t, GW_REFUSE_EXPIRED, GW_CLOSE_EXPIRED, "ticket not yet valid: check clocks");
        return;
    case AUTH_TICKET_WRONG_AUDIENCE:
        refuse(t, GW_REFUSE_AUDIENCE, GW_CLOSE_AUDIENCE, "ticket is for another gateway");
        return;
    case AUTH_TICKET_REPLAYED:
        refuse(t, GW_REFUSE_REPLAYED, GW_CLOSE_REPLAYED,
               "ticket already used for all its connections");
        return;
    case AUTH_TICKET_LEDGER_FULL:
        refuse(t, GW_REFUSE_FULL, WS_TRY_LATER, "gateway is busy: try again shortly");
        return;
    default:
        refuse(t, GW_REFUSE_MALFORMED, GW_CLOSE_MALFORMED, "ticket is malformed");
        return;
    }
}

static const struct gw_backend_ops *
backend_for(struct gw_tunnel *t, enum auth_proto p)
{
    if (p == AUTH_PROTO_SPICE || p == AUTH_PROTO_VNC)
        return gw_relay_backend();
    return t->g->rdp; /* NULL until the RDP backend is linked in */
}

static void
report(struct gw_tunnel *t, bool opened)
{
    struct gw_report_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.opened = opened;
    ev.tunnel = t->id;
    pt_strlcpy(ev.ticket_id, t->ticket_id, sizeof(ev.ticket_id));
    pt_strlcpy(ev.session_id, t->session_id, sizeof(ev.session_id));
    pt_strlcpy(ev.desktop, t->desktop, sizeof(ev.desktop));
    pt_strlcpy(ev.user, t->user, sizeof(ev.user));
    pt_strlcpy(ev.proto, auth_proto_str(t->proto), sizeof(ev.proto));
    ev.bytes_up = t->bytes_up;
    ev.bytes_down = t->bytes_down;
    gw_reporter_push(t->g->reporter, &ev);
}

/* The ticket, from the query string, into @buf; NULL if absent or too long. */
static const char *
ticket_arg(struct lws *wsi, char *buf, int len)
{
    return lws_get_urlarg_by_name(wsi, "ticket=", buf, len);
}

static void
admit(struct gw_tunnel *t)
{
    struct gw *g = t->g;
    struct auth_ticket_claims *c = pt_xcalloc(1, sizeof(*c));
    char *buf = pt_xmalloc(AUTH_TICKET_MAX_LEN + 64);
    char origin[256] = "";
    const char *ticket;
    const struct gw_backend_ops *ops;
    enum auth_ticket_reject r;
    struct pt_err err = {0};
    int64_t now = pt_time_wall_ms();

    gw_xff_addr_get(g, t->wsi, t->addr, sizeof(t->addr), t->via, sizeof(t->via));
    if (gw_tunnels_total(g) > g->conf->max_tunnels) {
        refuse(t, GW_REFUSE_FULL, GW_CLOSE_FULL, "gateway is at its tunnel limit: try another");
        goto out;
    }
    if (lws_hdr_copy(t->wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0)
        origin[0] = '\0';
    if (!gw_origin_allowed(g, origin)) {
        refuse(t, GW_REFUSE_ORIGIN, GW_CLOSE_ORIGIN, "web origin not allowed");
        goto out;
    }
    if (gw_addr_acquire(g, t->addr) < 0) {
        refuse(t, GW_REFUSE_ADDR_LIMIT, GW_CLOSE_ADDR_LIMIT,
               "too many connections from your address");
        goto out;
    }
    t->addr_counted = true;
    ticket = ticket_arg(t->wsi, buf, AUTH_TICKET_MAX_LEN + 64);
    if (!ticket || !*ticket) {
        refuse(t, GW_REFUSE_NO_TICKET, GW_CLOSE_NO_TICKET,
               "no ticket: connect to /tunnel?ticket=<ticket from the broker>");
        goto out;
    }
    r = auth_verifier_check(g->verifier, ticket, strlen(ticket), g->conf->id, now, c);
    if (r == AUTH_TICKET_OK)
        r = auth_ledger_use(g->ledger, c, now);
    if (r == AUTH_TICKET_OK || r == AUTH_TICKET_REPLAYED) {
        /* Claims are authentic from here on: safe to use them as log context. */
        pt_strlcpy(t->ticket_id, c->id, sizeof(t->ticket_id));
        pt_strlcpy(t->session_id, c->session_id, sizeof(t->session_id));
        pt_strlcpy(t->user, c->user, sizeof(t->user));
        pt_strlcpy(t->desktop, c->desktop, sizeof(t->desktop));
        t->proto = c->proto;
    }
    if (r != AUTH_TICKET_OK) {
        refuse_ticket(t, r);
        goto out;
    }
    ops = backend_for(t, c->proto);
    if (!ops) {
        refuse(t, GW_REFUSE_PROTOCOL, GW_CLOSE_PROTOCOL,
               "RDP is not available on this gateway yet");
        goto out;
    }
    t->ops = ops;
    gw_tunnel_log(t, LOG_DEBUG, "event=admitted backend=%s", ops->name);
    {
        char *secret = NULL;
        int orc;

        if (gw_secret_unseal(g, c, &secret, &err) < 0) {
            refuse(t, GW_REFUSE_BACKEND, GW_CLOSE_BACKEND, "cannot open the desktop secret");
            goto out;
        }
        orc = ops->open(t, c, secret, &err);
        pt_free_secret(secret);
        if (orc < 0) {
            char reason[124];
            snprintf(reason, sizeof(reason), "desktop unreachable: %.90s", err.msg);
            refuse(t, GW_REFUSE_BACKEND, GW_CLOSE_BACKEND, reason);
            goto out;
        }
    }
    t->backend_open = true;
    t->opened = true;
    g->metrics.tunnels_open[t->proto]++;
    g->metrics.tunnels_total[t->proto]++;
    gw_tunnel_log(t, LOG_INFO, "event=tunnel_open proto=%s ticket=%s addr=%s%s%s backend=%s",
                  auth_proto_str(t->proto), t->ticket_id, t->addr, t->via[0] ? " via=" : "", t->via,
                  ops->name);
    report(t, true);
out:
    pt_wipe(c, sizeof(*c));
    free(c);
    pt_wipe(buf, AUTH_TICKET_MAX_LEN + 64);
    free(buf);
}

static void
release(struct gw_tunnel *t)
{
    struct gw *g = t->g;
    size_t before = t->down.bytes;

    pthread_mutex_lock(&g->post_lock);
    t->post_closed = true;
    if (t->post_listed) {
        struct gw_tunnel **pp = &g->post_list;
        while (*pp && *pp != t)
            pp = &(*pp)->post_next;
        if (*pp)
            *pp = t->post_next;
        t->post_listed = false;
    }
    pthread_mutex_unlock(&g->post_lock);
    t->closing = true;
    if (t->backend_open)
        t->ops->close(t); /* a backend thread is joined here: no post after this */
    t->backend_open = false;
    gw_wsio_free(t->io);
    t->io = NULL;
    gw_queue_clear(&t->posted);
    gw_queue_clear(&t->down);
    queue_account(t, before);
    pt_buf_fini(&t->msg);
    if (t->addr_counted)
        gw_addr_release(g, t->addr);
    if (t->opened) {
        g->metrics.tunnels_open[t->proto]--;
        gw_tunnel_log(t, LOG_INFO, "event=tunnel_close bytes_up=%llu bytes_down=%llu code=%d",
                      (unsigned long long)t->bytes_up, (unsigned long long)t->bytes_down,
                      t->close_code ? t->close_code : WS_NORMAL);
        report(t, false);
    }
    if (t->list_prev)
        t->list_prev->list_next = t->list_next;
    else
        g->tunnel_list = t->list_next;
    if (t->list_next)
        t->list_next->list_prev = t->list_prev;
    g->tunnels--;
    free(t);
}

/* ---- the lws protocol ------------------------------------------------------------------ */

void
gw_tunnel_rx_data(struct gw_tunnel *t, const void *in, size_t len, bool binary, bool final)
{
    struct pt_err err = {0};
    int rc = 0;

    if (t->closing || !t->backend_open)
        return;
    t->msg_len += len;
    if (t->msg_len > (size_t)t->g->conf->max_message) {
        t->g->metrics.refusals[GW_REFUSE_MESSAGE_SIZE]++;
        gw_tunnel_log(t, LOG_NOTICE, "event=refused reason=message_too_big limit=%d",
                      t->g->conf->max_message);
        gw_tunnel_close(t, WS_TOO_BIG, "message too big");
        return;
    }
    t->in_rx = true;
    if (t->ops->rx_stream) {
        rc = t->ops->client_rx(t, in, len, binary, &err);
    } else {
        pt_buf_append(&t->msg, in, len);
        if (final) {
            rc = t->ops->client_rx(t, t->msg.data, t->msg.len, binary, &err);
            /* One large message (up to max_message) must not pin its buffer for the
             * rest of an idle tunnel's life; small ones keep theirs for the next. */
            if (t->msg.cap > GW_MSG_KEEP)
                pt_buf_fini(&t->msg);
            else
                pt_buf_reset(&t->msg);
        }
    }
    t->in_rx = false;
    if (final)
        t->msg_len = 0;
    if (rc < 0)
        gw_tunnel_close(t, WS_INTERNAL, err.msg[0] ? err.msg : "desktop error");
    /* Anything the backend sent while lws was in rx went to the queue. */
    if (t->down.head && !t->io)
        lws_callback_on_writable(t->wsi);
}

static int
client_rx(struct gw_tunnel *t, void *in, size_t len)
{
    struct lws *wsi = t->wsi;

    if (t->io) {
        /* lws read frames that came before the 101 could have been read (RFC 6455 4.1
         * forbids it): they would be out of order with what gw_wsio.c reads. */
        gw_tunnel_close(t, 1002, "frames sent before the WebSocket handshake finished");
        return 0;
    }
    gw_tunnel_rx_data(t, in, len, lws_frame_is_binary(wsi),
                      lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0);
    return 0;
}

void
gw_tunnel_rx_seen(struct gw_tunnel *t)
{
    t->last_rx_ms = pt_time_mono_ms();
}

/* The queue toward the browser drained to half the high-water mark: the backend may read
 * its desktop again. */
void
gw_tunnel_drained(struct gw_tunnel *t, size_t queued)
{
    if (t->down_paused && queued <= gw_tunnel_high_water(t) / 2) {
        t->down_paused = false;
        if (t->ops && t->ops->client_writable && t->backend_open && !t->closing)
            t->ops->client_writable(t);
    }
}

void
gw_tunnel_peer_closed(struct gw_tunnel *t, int code)
{
    if (t->closing)
        return;
    t->close_code = code == 1005 ? WS_NORMAL : code;
}

void
gw_tunnels_keepalive(struct gw *g, int64_t now)
{
    int64_t every = g->conf->keepalive_ms;

    for (struct gw_tunnel *t = g->tunnel_list; t; t = t->list_next) {
        if (t->closing)
            continue;
        if (now - t->last_rx_ms > 3 * every) {
            gw_tunnel_log(t, LOG_NOTICE, "event=keepalive_timeout silent_ms=%lld",
                          (long long)(now - t->last_rx_ms));
            gw_tunnel_close(t, WS_GOING_AWAY, "no answer to keepalive pings");
        } else if (now - t->last_rx_ms >= every && now - t->last_ping_ms >= every) {
            t->last_ping_ms = now;
            if (t->io) {
                gw_wsio_ping(t->io);
                continue;
            }
            t->ping_due = true;
            lws_callback_on_writable(t->wsi);
        }
    }
}

static int
writeable(struct gw_tunnel *t)
{
    struct gw_msg *m;
    size_t before = t->down.bytes;

    if (t->io) /* gw_wsio.c writes this one */
        return gw_wsio_writable(t->io);
    if (t->closing && (t->close_now || !t->down.head)) {
        lws_close_reason(t->wsi, (enum lws_close_status)t->close_code,
                         (unsigned char *)t->close_reason, strlen(t->close_reason));
        return -1;
    }
    if (t->ping_due) {
        unsigned char ping[LWS_PRE + 8];
        t->ping_due = false;
        /* A payload: lws 4.1 does not report empty pongs to the protocol. */
        memcpy(ping + LWS_PRE, "portico", 8);
        if (lws_write(t->wsi, ping + LWS_PRE, 8, LWS_WRITE_PING) < 0)
            return -1;
        gw_tunnel_log(t, LOG_DEBUG, "event=ping");
        if (t->down.head)
            lws_callback_on_writable(t->wsi);
        return 0;
    }
    m = gw_queue_pop(&t->down);
    if (!m)
        return 0;
    queue_account(t, before);
    int n = lws_write(t->wsi, m->data, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    free(m);
    if (n < 0)
        return -1;
    if (t->down.head || t->closing)
        lws_callback_on_writable(t->wsi);
    gw_tunnel_drained(t, t->down.bytes);
    return 0;
}

int
gw_tunnel_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct gw *g = lws_context_user(lws_get_context(wsi));
    struct gw_tunnel *t = lws_get_opaque_user_data(wsi);

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        t = pt_xcalloc(1, sizeof(*t));
        t->g = g;
        t->wsi = wsi;
        t->id = g->next_tunnel_id++;
        t->proto = AUTH_PROTO_VNC;
        t->last_rx_ms = t->last_ping_ms = pt_time_mono_ms();
        t->list_next = g->tunnel_list;
        if (g->tunnel_list)
            g->tunnel_list->list_prev = t;
        g->tunnel_list = t;
        g->tunnels++;
        lws_set_opaque_user_data(wsi, t);
        pt_debug("event=ws_established tunnel=%llu", (unsigned long long)t->id);
        admit(t);
        /* Relay tunnels move their frames off lws (gw_wsio.c: lws unmasks a byte at a
         * time); the RDP backend's Guacamole messages stay with lws. */
        if (t->opened && !t->closing && t->ops->rx_stream && g->conf->direct_io) {
            t->io = gw_wsio_start(t, wsi);
            if (t->io)
                down_to_wsio(t);
        }
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!t)
            return -1;
        t->last_rx_ms = pt_time_mono_ms();
        return client_rx(t, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        if (t) {
            t->last_rx_ms = pt_time_mono_ms();
            gw_tunnel_log(t, LOG_DEBUG, "event=pong");
        }
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return t ? writeable(t) : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (t)
            t->close_code = WS_NORMAL;
        return 0;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if (t) {
            lws_set_opaque_user_data(wsi, NULL);
            release(t);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (g)
            gw_posts_drain(g);
        return 0;
    default:
        break;
    }
    return 0;
}
