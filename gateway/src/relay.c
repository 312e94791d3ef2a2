/*
 * relay.c - the SPICE and VNC backend: bytes between a browser WebSocket and the
 * desktop's TCP port, websockify compatible (one binary frame per read).
 *
 * The desktop side is an lws RAW client socket in the gateway's one event loop, so a
 * tunnel costs two descriptors and two small structs, no thread. Each direction writes
 * at once when nothing is queued and the socket has room; otherwise it queues and stops
 * reading the fast side once its queue passes the tunnel's high-water mark (desktop →
 * browser: lws_rx_flow_control() on the desktop socket, resumed by client_writable();
 * browser → desktop: gw_tunnel_rx_flow()). Memory per direction is therefore bounded by
 * the high-water mark plus one read.
 *
 * Display passwords: the broker seals the desktop's password into the ticket and the
 * browser never holds it. For VNC the gateway answers the desktop's VNC-auth challenge
 * itself and offers the browser security type None; for SPICE it replaces the browser's
 * encrypted ticket in each channel's link with its own (spice_link.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "gw_priv.h"

enum vnc_state {
    VNC_RELAY,         /* no handshake of ours: plain relay */
    VNC_SRV_VERSION,   /* waiting for the desktop's "RFB 003.00x\n" */
    VNC_SRV_TYPES,     /* security types (3.7+) or the type (3.3) */
    VNC_SRV_CHALLENGE, /* 16-byte DES challenge */
    VNC_SRV_RESULT,    /* SecurityResult */
    VNC_CLI_VERSION,   /* waiting for the browser's version */
    VNC_CLI_TYPE,      /* waiting for the browser's chosen type */
};

struct relay {
    struct gw_tunnel *t;
    struct lws *raw;
    struct gw_queue up; /* toward the desktop */
    bool connected, connecting, failed;
    bool raw_paused; /* we stopped reading the desktop */
    bool ws_paused;  /* we stopped reading the browser */
    enum vnc_state vs;
    int minor;     /* RFB 3.minor agreed with the desktop */
    int cli_minor; /* and with the browser */
    unsigned char hs[256];
    size_t hs_len;
    size_t need; /* bytes the current state waits for */
    char *password;
    struct spice_link *spice; /* SPICE with a sealed password: the link is ours to finish */
};

#define RELAY_PROTOCOL "gw-relay"
/* Seconds the desktop may take over its part of a VNC handshake the gateway runs. */
#define RELAY_HANDSHAKE_S 5

static size_t
high_water(const struct relay *r)
{
    return gw_tunnel_high_water(r->t);
}

/* ---- desktop side writes ------------------------------------------------------------- */

static void
up_account(struct relay *r, size_t before)
{
    struct gw_metrics *m = &gw_tunnel_gw(r->t)->metrics;

    m->queue_up_bytes = m->queue_up_bytes - before + r->up.bytes;
}

/* The desktop socket is plain TCP and only we write it, so we send() ourselves: we learn
 * exactly how much the kernel took (lws_write() would hide a partial write in its own
 * buffer and cost a poll() per write to ask). Returns bytes taken, or -1 on error. */
static ssize_t
raw_send(struct relay *r, const unsigned char *p, size_t n)
{
    ssize_t w = send(lws_get_socket_fd(r->raw), p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return w;
}

static void
desktop_write(struct relay *r, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t before = r->up.bytes;

    if (!len)
        return;
    if (r->connected && r->raw && !r->up.head) {
        /* The browser's unmasked payload goes out from lws's receive buffer: no copy. */
        ssize_t w = raw_send(r, p, len);
        if (w < 0) {
            gw_tunnel_close(r->t, 1011, "write to desktop failed");
            return;
        }
        if ((size_t)w == len)
            return;
        p += w;
        len -= (size_t)w;
    }
    gw_queue_push(&r->up, p, len, true);
    up_account(r, before);
    if (r->raw && r->connected)
        lws_callback_on_writable(r->raw);
    if (r->up.bytes >= high_water(r) && !r->ws_paused) {
        r->ws_paused = true;
        gw_tunnel_rx_flow(r->t, false);
    }
}

/* ---- VNC authentication on the browser's behalf ---------------------------------------- */

static void
vnc_fail(struct relay *r, const char *why)
{
    gw_tunnel_log(r->t, LOG_WARNING, "event=vnc_auth_failed why=\"%s\"", why);
    r->failed = true;
    gw_tunnel_close(r->t, 4011, "desktop refused the display password");
}

static void
be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t
rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
vnc_browser_start(struct relay *r)
{
    char v[24];

    /* The desktop finished its part: no more deadline on it (see RAW_CONNECTED). */
    if (r->raw)
        lws_set_timeout(r->raw, NO_PENDING_TIMEOUT, 0);

    snprintf(v, sizeof(v), "RFB 003.%03d\n", r->minor);
    r->vs = VNC_CLI_VERSION;
    r->need = 12;
    gw_tunnel_send(r->t, v, 12, true);
}

/* One complete unit of the desktop's handshake is in r->hs. Returns bytes consumed or -1. */
static int
vnc_server_step(struct relay *r)
{
    unsigned char out[20];
    struct pt_err err = {0};

    switch (r->vs) {
    case VNC_SRV_VERSION: {
        int major = 0, minor = 0;
        if (sscanf((const char *)r->hs, "RFB %3d.%3d\n", &major, &minor) != 2 || major != 3)
            return vnc_fail(r, "not an RFB server"), -1;
        r->minor = minor >= 8 ? 8 : minor >= 7 ? 7 : 3;
        snprintf((char *)out, sizeof(out), "RFB 003.%03d\n", r->minor);
        desktop_write(r, out, 12);
        r->vs = VNC_SRV_TYPES;
        r->need = r->minor >= 7 ? 1 : 4;
        return 12;
    }
    case VNC_SRV_TYPES:
        if (r->minor >= 7) {
            size_t n = r->hs[0];
            bool vnc = false, none = false;
            if (n == 0)
                return vnc_fail(r, "desktop offers no security type"), -1;
            if (r->hs_len < 1 + n) {
                r->need = 1 + n;
                return 0;
            }
            for (size_t i = 0; i < n; i++) {
                vnc |= r->hs[1 + i] == 2;
                none |= r->hs[1 + i] == 1;
            }
            if (!vnc && !none)
                return vnc_fail(r, "desktop offers neither None nor VNC auth"), -1;
            out[0] = vnc ? 2 : 1;
            desktop_write(r, out, 1);
            r->vs = vnc ? VNC_SRV_CHALLENGE : VNC_SRV_RESULT;
            r->need = vnc ? 16 : 4;
            if (!vnc && r->minor == 7) { /* 3.7 sends no result for None */
                vnc_browser_start(r);
            }
            return (int)(1 + n);
        } else {
            uint32_t type = rd32(r->hs);
            if (type == 1) {
                vnc_browser_start(r);
                return 4;
            }
            if (type != 2)
                return vnc_fail(r, "desktop wants an unsupported security type"), -1;
            r->vs = VNC_SRV_CHALLENGE;
            r->need = 16;
            return 4;
        }
    case VNC_SRV_CHALLENGE:
        if (vnc_auth_response(r->hs, r->password ? r->password : "", out, &err) < 0)
            return vnc_fail(r, err.msg), -1;
        desktop_write(r, out, 16);
        pt_wipe(out, sizeof(out));
        r->vs = VNC_SRV_RESULT;
        r->need = 4;
        return 16;
    case VNC_SRV_RESULT:
        if (rd32(r->hs) != 0) /* 3.8 adds a reason string; ours is clearer for the browser */
            return vnc_fail(r, "wrong password"), -1;
        gw_tunnel_log(r->t, LOG_INFO, "event=vnc_auth_ok");
        vnc_browser_start(r);
        return 4;
    default:
        return -1;
    }
}

/* Feed desktop bytes through the handshake; what follows it is relayed. */
static void
vnc_server_feed(struct relay *r, const unsigned char *in, size_t len)
{
    while (len && r->vs >= VNC_SRV_VERSION && r->vs <= VNC_SRV_RESULT && !r->failed) {
        size_t take = r->need > r->hs_len ? r->need - r->hs_len : 0;
        if (take > len)
            take = len;
        if (r->hs_len + take > sizeof(r->hs))
            return vnc_fail(r, "handshake too long");
        memcpy(r->hs + r->hs_len, in, take);
        r->hs_len += take;
        in += take;
        len -= take;
        while (r->hs_len >= r->need && r->vs >= VNC_SRV_VERSION && r->vs <= VNC_SRV_RESULT) {
            int used = vnc_server_step(r);
            if (used < 0)
                return;
            if (used == 0)
                break; /* need grew */
            memmove(r->hs, r->hs + used, r->hs_len - (size_t)used);
            r->hs_len -= (size_t)used;
        }
    }
    if (r->vs == VNC_CLI_VERSION && r->hs_len) {
        /* Desktop bytes past its handshake: the browser's turn now, relay them as is. */
        gw_tunnel_send(r->t, r->hs, r->hs_len, true);
        r->hs_len = 0;
    }
    if (len && !r->failed) /* the desktop spoke early (e.g. during the browser handshake) */
        gw_tunnel_send(r->t, in, len, true);
}

/* Browser bytes during our handshake with it. Returns bytes consumed. */
static size_t
vnc_client_feed(struct relay *r, const unsigned char *in, size_t len)
{
    size_t used = 0;

    while (used < len && (r->vs == VNC_CLI_VERSION || r->vs == VNC_CLI_TYPE)) {
        size_t take = r->need - r->hs_len;
        if (take > len - used)
            take = len - used;
        memcpy(r->hs + r->hs_len, in + used, take);
        r->hs_len += take;
        used += take;
        if (r->hs_len < r->need)
            break;
        if (r->vs == VNC_CLI_VERSION) {
            int major = 0, minor = 0;
            r->hs[12] = '\0';
            if (sscanf((const char *)r->hs, "RFB %3d.%3d", &major, &minor) != 2 || major != 3) {
                gw_tunnel_close(r->t, 1002, "not an RFB client");
                return len;
            }
            r->cli_minor = minor >= 8 ? 8 : minor >= 7 ? 7 : 3;
            r->hs_len = 0;
            if (r->cli_minor == 3) {
                unsigned char none[4];
                be32(none, 1);
                gw_tunnel_send(r->t, none, 4, true);
                r->vs = VNC_RELAY;
            } else {
                const unsigned char types[2] = {1, 1}; /* one type: None */
                gw_tunnel_send(r->t, types, 2, true);
                r->vs = VNC_CLI_TYPE;
                r->need = 1;
            }
        } else {
            if (r->hs[0] != 1) {
                gw_tunnel_close(r->t, 1002, "only security type None is offered");
                return len;
            }
            if (r->cli_minor >= 8) {
                unsigned char ok[4] = {0, 0, 0, 0};
                gw_tunnel_send(r->t, ok, 4, true);
            }
            r->vs = VNC_RELAY;
            r->hs_len = 0;
        }
    }
    return used;
}

/* ---- the backend ops ------------------------------------------------------------------ */

static int
relay_open(struct gw_tunnel *t, const struct auth_ticket_claims *c, const char *secret,
           struct pt_err *err)
{
    struct gw *g = gw_tunnel_gw(t);
    struct relay *r = pt_xcalloc(1, sizeof(*r));
    struct lws_client_connect_info i;

    r->t = t;
    gw_tunnel_set_backend_data(t, r);
    if (c->proto == AUTH_PROTO_VNC && secret && *secret) {
        r->password = pt_xstrdup(secret);
        r->vs = VNC_SRV_VERSION;
        r->need = 12;
    }
    if (c->proto == AUTH_PROTO_SPICE && secret && *secret) {
        r->spice = pt_xmalloc(sizeof(*r->spice));
        spice_link_init(r->spice, secret);
    }
    memset(&i, 0, sizeof(i));
    i.context = g->ctx;
    i.vhost = g->vhost;
    i.address = c->host;
    i.port = c->port;
    i.host = c->host;
    i.origin = c->host;
    i.method = "RAW";
    i.local_protocol_name = RELAY_PROTOCOL;
    i.opaque_user_data = r;
    i.pwsi = &r->raw;
    r->connecting = true;
    if (!lws_client_connect_via_info(&i) || r->failed) {
        r->connecting = false;
        r->raw = NULL;
        return pt_err_set(err, PT_E_UNAVAILABLE, "cannot connect to %s:%d", c->host, c->port);
    }
    r->connecting = false;
    return 0;
}

/* The SPICE link is finished (or was refused by the desktop): its ~2 KiB of link buffers
 * and the password copy go now rather than at close; a session holds 4-6 channels. */
static void
spice_release_if_done(struct relay *r)
{
    if (!r->spice || r->spice->state != SPICE_LINK_DONE)
        return;
    spice_link_fini(r->spice);
    pt_wipe(r->spice, sizeof(*r->spice));
    free(r->spice);
    r->spice = NULL;
}

static void
spice_emit(void *opaque, const void *data, size_t len)
{
    desktop_write(opaque, data, len);
}

static int
relay_client_rx(struct gw_tunnel *t, const void *data, size_t len, bool binary, struct pt_err *err)
{
    struct relay *r = gw_tunnel_backend_data(t);
    const unsigned char *p = data;

    gw_tunnel_count_up(t, len);
    if (r->spice && r->spice->state != SPICE_LINK_DONE) {
        int rc = spice_link_client(r->spice, p, len, spice_emit, r, err);
        spice_release_if_done(r);
        return rc;
    }
    if (r->vs == VNC_CLI_VERSION || r->vs == VNC_CLI_TYPE) {
        size_t used = vnc_client_feed(r, p, len);
        p += used;
        len -= used;
    } else if (r->vs != VNC_RELAY) {
        /* The browser spoke before the desktop finished authenticating us: RFB clients
         * wait for the server, so this is a confused or hostile client. */
        return pt_err_set(err, PT_E_INVALID, "browser spoke during the desktop handshake");
    }
    desktop_write(r, p, len);
    return 0;
}

static void
relay_client_writable(struct gw_tunnel *t)
{
    struct relay *r = gw_tunnel_backend_data(t);

    if (r->raw_paused && r->raw) {
        r->raw_paused = false;
        lws_rx_flow_control(r->raw, 1);
    }
}

static void
relay_close(struct gw_tunnel *t)
{
    struct relay *r = gw_tunnel_backend_data(t);
    size_t before;

    if (!r)
        return;
    before = r->up.bytes;
    if (r->raw) {
        lws_set_opaque_user_data(r->raw, NULL);
        lws_set_timeout(r->raw, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    }
    gw_queue_clear(&r->up);
    up_account(r, before);
    if (r->spice) {
        spice_link_fini(r->spice);
        pt_wipe(r->spice, sizeof(*r->spice));
        free(r->spice);
    }
    pt_free_secret(r->password);
    pt_wipe(r->hs, sizeof(r->hs));
    free(r);
    gw_tunnel_set_backend_data(t, NULL);
}

static const struct gw_backend_ops relay_ops = {
    .name = "relay",
    .open = relay_open,
    .client_rx = relay_client_rx,
    .client_writable = relay_client_writable,
    .close = relay_close,
    .rx_stream = true,
};

const struct gw_backend_ops *
gw_relay_backend(void)
{
    return &relay_ops;
}

/* ---- the desktop socket ------------------------------------------------------------------ */

static int
raw_writeable(struct relay *r)
{
    size_t before = r->up.bytes;
    struct gw_msg *m;

    while ((m = r->up.head) != NULL) {
        ssize_t w = raw_send(r, m->data + m->off, m->len - m->off);
        if (w < 0)
            return -1;
        m->off += (size_t)w;
        if (m->off < m->len)
            break; /* socket full: wait for the next WRITEABLE */
        free(gw_queue_pop(&r->up));
    }
    up_account(r, before);
    if (r->up.head)
        lws_callback_on_writable(r->raw);
    if (r->ws_paused && r->up.bytes <= high_water(r) / 2) {
        r->ws_paused = false;
        gw_tunnel_rx_flow(r->t, true);
    }
    return 0;
}

int
gw_relay_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct relay *r = lws_get_opaque_user_data(wsi);

    switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
        if (!r)
            return -1;
        r->connected = true;
        /* When the gateway answers the VNC password itself, the browser waits on the
         * desktop's handshake: a desktop that accepts TCP but never speaks RFB (a stalled
         * QEMU main loop, a listen backlog of 1 that is full) must not leave the browser
         * waiting for ever. lws closes the socket if the handshake takes longer. */
        if (r->vs >= VNC_SRV_VERSION && r->vs <= VNC_SRV_RESULT)
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, RELAY_HANDSHAKE_S);
        if (r->up.head)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_RAW_RX:
        if (!r)
            return -1;
        if (r->vs >= VNC_SRV_VERSION && r->vs <= VNC_SRV_RESULT) {
            vnc_server_feed(r, in, len);
            return 0;
        }
        if (r->spice && r->spice->state != SPICE_LINK_DONE) {
            struct pt_err err = {0};
            if (spice_link_server(r->spice, in, len, &err) < 0) {
                gw_tunnel_close(r->t, 1002, err.msg);
                return 0;
            }
            spice_release_if_done(r);
        }
        /* lws read this into its per-loop buffer at LWS_PRE: framed where it lies. */
        if (gw_tunnel_send_inplace(r->t, in, len) >= high_water(r) && !r->raw_paused) {
            r->raw_paused = true;
            lws_rx_flow_control(wsi, 0);
        }
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return r ? raw_writeable(r) : -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (r) {
            r->raw = NULL;
            r->failed = true;
            if (!r->connecting) {
                char why[124];
                snprintf(why, sizeof(why), "desktop unreachable: %.90s",
                         in ? (const char *)in : "connect failed");
                gw_tunnel_gw(r->t)->metrics.refusals[GW_REFUSE_BACKEND]++;
                gw_tunnel_close(r->t, 4010, why);
            }
        }
        return 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (r) {
            r->raw = NULL;
            lws_set_opaque_user_data(wsi, NULL);
            if (r->connected && !r->failed && r->vs >= VNC_SRV_VERSION && r->vs <= VNC_SRV_RESULT) {
                gw_tunnel_log(r->t, LOG_WARNING, "event=vnc_handshake_incomplete state=%d",
                              (int)r->vs);
                gw_tunnel_gw(r->t)->metrics.refusals[GW_REFUSE_BACKEND]++;
                gw_tunnel_close(r->t, 4010,
                                "desktop unreachable: its VNC server did not finish the "
                                "handshake");
            } else {
                gw_tunnel_close(r->t, r->connected ? 1000 : 4010,
                                r->connected ? "desktop closed the connection"
                                             : "desktop unreachable");
            }
        }
        return 0;
    default:
        break;
    }
    return 0;
}
