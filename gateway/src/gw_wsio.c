/*
 * gw_wsio.c - the gateway's own WebSocket I/O for relay tunnels: once a SPICE/VNC tunnel
 * is admitted, its frames are read, unmasked and written here instead of by lws.
 *
 * Why: with lws on the data path, ~28 % of the gateway's CPU on upstream relay (browser
 * → desktop) went to lws 4.1.6 unmasking payload one byte at a time, and Debian's lws
 * cannot be changed. ws_frame.c unmasks a word at a time, and the payload goes to the
 * desktop from where it was read. lws keeps everything else: the listener, TLS, the HTTP
 * upgrade and admission (refusals still close through lws), and the connection itself,
 * which it closes when we are done.
 *
 * How: lws keeps owning the socket, but its WebSocket stops reading it (rx flow off, for
 * good) and never writes it again. A duplicate of the descriptor is adopted into the same
 * loop as a raw file, only to be told when the socket is readable or writable; reads and
 * writes go to the socket itself (recv/send, or SSL_read/SSL_write on lws's SSL object).
 * The cost is one descriptor and one small lws object per tunnel.
 *
 * Toward the browser: written at once when nothing is queued and the socket takes it,
 * else queued as wire bytes (framed, so a partial write just continues) and written when
 * the socket is writable. Toward the desktop: each read is parsed whole and its payload
 * handed to the backend, which pauses reading (gw_wsio_rx_flow) when its queue is full;
 * memory stays bounded by the backend's high-water mark plus one read, as with lws.
 *
 * Closing: our close frame goes after what is queued, then we wait (bounded by a timeout
 * lws enforces) for the browser's close frame before lws closes the socket, so the
 * browser's kernel is not reset while our close frame is still unread (RFC 6455 7.1.1).
 *
 * Limit: a client that sends frames before it has read the 101 (RFC 6455 4.1 forbids it;
 * a browser cannot) has them read by lws with the upgrade request; lws keeps such bytes
 * in its own buffer once its reading is off and never delivers them, so they are dropped,
 * whole frames from the first byte after the request, and what the client sends later is
 * read here from a frame boundary (test_wsio.c). Should lws deliver any, tunnel.c closes
 * the tunnel with 1002.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/mem.h"
#include "gw_priv.h"
#include "ws_frame.h"

/* Seconds for what is queued, our close frame and the browser's answer to it. */
#define WSIO_CLOSE_S 2
/* TLS records read per readiness before other tunnels get their turn. */
#define WSIO_TLS_READS 16

struct gw_wsio {
    struct gw_tunnel *t;
    struct gw *g;
    struct lws *wsi;   /* the WebSocket: lws owns the socket, its TLS and its close */
    struct lws *child; /* raw file on a duplicate of the socket: readiness only */
    int fd;
    SSL *ssl; /* lws's, NULL for ws:// */
    struct ws_rx rx;
    struct gw_queue out; /* wire bytes toward the browser */
    bool rx_paused;      /* the backend cannot take more */
    bool rx_kick;        /* TLS holds decrypted bytes no readiness will announce */
    bool close_queued, close_sent, close_received, killed;
};

enum {
    IO_AGAIN = 0,
    IO_FAIL = -1
};

/* ---- the socket ------------------------------------------------------------------------ */

static ssize_t
io_recv(struct gw_wsio *io, unsigned char *buf, size_t cap)
{
    if (io->ssl) {
        int n;
        ERR_clear_error();
        n = SSL_read(io->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
        if (n > 0)
            return n;
        switch (SSL_get_error(io->ssl, n)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return IO_AGAIN;
        case SSL_ERROR_ZERO_RETURN:
            return -2; /* close_notify: the browser is gone */
        default:
            return IO_FAIL;
        }
    }
    ssize_t n = recv(io->fd, buf, cap, MSG_DONTWAIT);
    if (n > 0)
        return n;
    if (n == 0)
        return -2;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN : IO_FAIL;
}

/* Returns bytes the socket took (less than @n: it is full), or IO_FAIL. */
static ssize_t
io_send(struct gw_wsio *io, const unsigned char *p, size_t n)
{
    if (io->ssl) {
        /* SSL_write() takes all of @p or says "would block", having perhaps sent some
         * records already: then the same bytes, same length, must be offered again (from
         * the queue's copy: the buffer may move, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
         * Not SSL_MODE_ENABLE_PARTIAL_WRITE: it returns after every record, and with the
         * RELEASE_BUFFERS lws sets, downstream wss lost ~25 % (docs/gateway.md). Should
         * a partial write be reported anyway, the loop carries on from there. */
        size_t done = 0;
        while (done < n) {
            size_t left = n - done;
            int w;
            ERR_clear_error();
            w = SSL_write(io->ssl, p + done, left > INT32_MAX ? INT32_MAX : (int)left);
            if (w > 0) {
                done += (size_t)w;
                continue;
            }
            switch (SSL_get_error(io->ssl, w)) {
            case SSL_ERROR_WANT_READ:
            case SSL_ERROR_WANT_WRITE:
                return (ssize_t)done;
            default:
                return IO_FAIL;
            }
        }
        return (ssize_t)done;
    }
    ssize_t w = send(io->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w >= 0)
        return w;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN : IO_FAIL;
}

/* Writability comes through the WebSocket's own wsi (tunnel.c's writable callback calls
 * gw_wsio_writable()): lws's raw-file role clears POLLOUT after its writable callback,
 * dropping a request made inside it, while its ws role does not. */
static void
want_write(struct gw_wsio *io)
{
    lws_callback_on_writable(io->wsi);
}

static void
out_account(struct gw_wsio *io, size_t before)
{
    struct gw_metrics *m = &io->g->metrics;

    m->queue_down_bytes = m->queue_down_bytes - before + io->out.bytes;
}

/* Hand the connection back to lws to close, without a close frame of its own: ours went
 * (or the browser is gone). We may be inside a callback of either wsi, so the WebSocket
 * is asked for a writable callback, where gw_wsio_writable() returns -1: lws then closes
 * it in its own time. (Not lws_set_timeout(LWS_TO_KILL_ASYNC): with lws 4.1.6's libev
 * glue that kill had not happened 5 s later while the loop kept waking on the readable
 * socket; see the libev timer note in docs/gateway.md.)
 * Should the socket never turn writable, the close timeout set by gw_wsio_close() or the
 * keepalive ends it. */
static void
io_kill(struct gw_wsio *io)
{
    if (io->killed)
        return;
    io->killed = true;
    if (io->child) /* a socket at EOF stays readable: stop hearing about it */
        lws_rx_flow_control(io->child, 0);
    lws_callback_on_writable(io->wsi);
}

/* ---- toward the browser ------------------------------------------------------------------ */

/* Queue @len bytes of @op as one frame (the header goes into the message's headroom). */
static void
out_push_frame(struct gw_wsio *io, enum ws_opcode op, const void *data, size_t len)
{
    size_t before = io->out.bytes, h;
    struct gw_msg *m;

    gw_queue_push(&io->out, data, len, op == WS_OP_BINARY);
    m = io->out.tail;
    h = ws_frame_header(m->data, op, true, len);
    m->data -= h;
    m->len += h;
    io->out.bytes += h;
    out_account(io, before);
}

static void
flush(struct gw_wsio *io)
{
    size_t before = io->out.bytes;
    struct gw_msg *m;

    while ((m = io->out.head) != NULL && !io->killed) {
        ssize_t w = io_send(io, m->data + m->off, m->len - m->off);
        if (w == IO_FAIL) {
            gw_tunnel_log(io->t, LOG_INFO, "event=browser_write_failed");
            gw_tunnel_peer_closed(io->t, 1006);
            io_kill(io);
            break;
        }
        m->off += (size_t)w;
        if (m->off < m->len)
            break; /* socket full: wait for writable */
        free(gw_queue_pop(&io->out));
    }
    out_account(io, before);
    if (io->killed)
        return;
    if (io->out.head) {
        want_write(io);
        return;
    }
    if (io->close_queued && !io->close_sent) {
        io->close_sent = true;
        if (io->close_received)
            io_kill(io);
    }
    gw_tunnel_drained(io->t, io->out.bytes);
}

size_t
gw_wsio_send(struct gw_wsio *io, const void *data, size_t len, bool binary, bool headroom)
{
    enum ws_opcode op = binary ? WS_OP_BINARY : WS_OP_TEXT;
    size_t before;

    if (io->close_queued || io->killed)
        return io->out.bytes;
    if (!io->out.head && (headroom || len <= GW_RAW_RX)) {
        /* The header goes into the bytes before the payload: the caller's headroom, or
         * the scratch buffer's after a copy. One write, no queue, no loop trip. */
        unsigned char *p = (unsigned char *)data;
        if (!headroom) {
            memcpy(io->g->scratch + LWS_PRE, data, len);
            p = io->g->scratch + LWS_PRE;
        }
        size_t h = ws_frame_header(p, op, true, len);
        ssize_t w = io_send(io, p - h, h + len);
        if (w == IO_FAIL) {
            gw_tunnel_log(io->t, LOG_INFO, "event=browser_write_failed");
            gw_tunnel_peer_closed(io->t, 1006);
            io_kill(io);
            return 0;
        }
        if ((size_t)w == h + len)
            return 0;
        before = io->out.bytes;
        gw_queue_push(&io->out, p - h + w, h + len - (size_t)w, binary);
        out_account(io, before);
        want_write(io);
        return io->out.bytes;
    }
    out_push_frame(io, op, data, len);
    want_write(io);
    return io->out.bytes;
}

void
gw_wsio_ping(struct gw_wsio *io)
{
    if (io->close_queued || io->killed)
        return;
    out_push_frame(io, WS_OP_PING, "portico", 7);
    flush(io);
}

void
gw_wsio_close(struct gw_wsio *io, int code, const char *reason)
{
    unsigned char p[WS_CONTROL_MAX];
    size_t rl = reason ? strlen(reason) : 0;

    if (io->close_queued || io->killed)
        return;
    io->close_queued = true;
    if (rl > WS_CONTROL_MAX - 2)
        rl = WS_CONTROL_MAX - 2;
    /* 1005/1006 describe a close, they are never sent: an empty close frame says "no code". */
    if (code == 1005 || code == 1006 || code <= 0) {
        out_push_frame(io, WS_OP_CLOSE, "", 0);
    } else {
        p[0] = (unsigned char)(code >> 8);
        p[1] = (unsigned char)code;
        memcpy(p + 2, reason, rl);
        out_push_frame(io, WS_OP_CLOSE, p, 2 + rl);
    }
    lws_set_timeout(io->wsi, PENDING_TIMEOUT_CLOSE_ACK, WSIO_CLOSE_S);
    flush(io);
}

/* ---- from the browser ------------------------------------------------------------------- */

static void
on_close_frame(struct gw_wsio *io, const struct ws_rx_event *ev)
{
    io->close_received = true;
    if (io->close_queued) { /* the answer to ours */
        if (io->close_sent)
            io_kill(io);
        return;
    }
    gw_tunnel_peer_closed(io->t, ev->close_code);
    /* Answer with the browser's code, as RFC 6455 5.5.1 suggests; flush() kills once it
     * is written. */
    gw_wsio_close(io, ev->close_code, "");
}

/* Everything in @buf (one read) is parsed and delivered, even if the backend pauses us
 * half way: it queues the rest, which its high-water mark allows for. */
static void
parse(struct gw_wsio *io, unsigned char *buf, size_t n)
{
    size_t off = 0;

    while (off < n && !io->killed) {
        struct ws_rx_event ev;

        off += ws_rx_next(&io->rx, buf + off, n - off, &ev);
        switch (ev.kind) {
        case WS_RX_DATA:
            if (!io->close_queued)
                gw_tunnel_rx_data(io->t, ev.data, ev.len, ev.binary, ev.message_end);
            break;
        case WS_RX_PING:
            if (!io->close_queued) {
                out_push_frame(io, WS_OP_PONG, ev.data, ev.len);
                flush(io);
            }
            break;
        case WS_RX_CLOSE:
            on_close_frame(io, &ev);
            return;
        case WS_RX_ERROR:
            gw_tunnel_log(io->t, LOG_NOTICE, "event=protocol_error why=\"%s\"", ev.error);
            gw_tunnel_close(io->t, ev.close_code, ev.error);
            return;
        case WS_RX_PONG:
        case WS_RX_NONE:
            break;
        }
    }
}

static void
on_readable(struct gw_wsio *io)
{
    unsigned char *buf = io->g->wsio_buf;
    int reads = io->ssl ? WSIO_TLS_READS : 1;

    io->rx_kick = false;
    for (int i = 0; i < reads && !io->rx_paused && !io->killed; i++) {
        ssize_t n = io_recv(io, buf, GW_RAW_RX);
        if (n == IO_AGAIN)
            return;
        if (n < 0) {
            /* The browser went away; after our close frame that is how it answers. */
            if (!io->close_queued)
                gw_tunnel_peer_closed(io->t, 1006);
            io_kill(io);
            return;
        }
        gw_tunnel_rx_seen(io->t);
        parse(io, buf, (size_t)n);
    }
    /* TLS may hold decrypted bytes that no readiness will announce: come back for them. */
    if (io->ssl && !io->rx_paused && !io->killed && SSL_has_pending(io->ssl)) {
        io->rx_kick = true;
        want_write(io);
    }
}

int
gw_wsio_writable(struct gw_wsio *io)
{
    if (!io->killed)
        flush(io);
    if (io->rx_kick && !io->killed)
        on_readable(io);
    return io->killed ? -1 : 0;
}

void
gw_wsio_rx_flow(struct gw_wsio *io, bool enable)
{
    if (io->rx_paused == !enable || !io->child)
        return;
    io->rx_paused = !enable;
    lws_rx_flow_control(io->child, enable ? 1 : 0);
    if (enable && io->ssl && SSL_has_pending(io->ssl)) {
        io->rx_kick = true;
        want_write(io);
    }
}

/* ---- lifetime ---------------------------------------------------------------------------- */

struct gw_wsio *
gw_wsio_start(struct gw_tunnel *t, struct lws *wsi)
{
    struct gw *g = gw_tunnel_gw(t);
    struct gw_wsio *io;
    lws_sock_file_fd_type fd;
    SSL *ssl = lws_get_ssl(wsi);
    int dupfd;

    /* Only a connection whose bytes are all ours to read from here on: its own TCP
     * connection (not a stream of another), nothing lws still has to write, nothing
     * decrypted and unread inside TLS. */
    if (lws_get_network_wsi(wsi) != wsi || lws_partial_buffered(wsi) ||
        (ssl && SSL_has_pending(ssl)))
        return NULL;
    dupfd = fcntl(lws_get_socket_fd(wsi), F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0) {
        gw_tunnel_log(t, LOG_WARNING, "event=wsio_unavailable why=\"dup: %s\"", strerror(errno));
        return NULL;
    }
    io = pt_xcalloc(1, sizeof(*io));
    io->t = t;
    io->g = g;
    io->wsi = wsi;
    io->fd = lws_get_socket_fd(wsi);
    io->ssl = ssl;
    ws_rx_init(&io->rx);
    memset(&fd, 0, sizeof(fd));
    fd.filefd = dupfd;
    /* A child of the WebSocket: lws closes it first when the WebSocket closes. */
    io->child =
        lws_adopt_descriptor_vhost(g->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, GW_WSIO_PROTOCOL, wsi);
    if (!io->child) {
        /* lws closed the descriptor on failure */
        gw_tunnel_log(t, LOG_WARNING, "event=wsio_unavailable why=\"adopt failed\"");
        free(io);
        return NULL;
    }
    lws_set_opaque_user_data(io->child, io);
    if (ssl)
        SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* lws reads this socket no more (deferred to the end of this callback by lws). */
    lws_rx_flow_control(wsi, 0);
    return io;
}

void
gw_wsio_free(struct gw_wsio *io)
{
    size_t before;

    if (!io)
        return;
    before = io->out.bytes;
    if (io->child) { /* lws closes a child before its parent: not expected */
        lws_set_opaque_user_data(io->child, NULL);
        lws_set_timeout(io->child, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    }
    gw_queue_clear(&io->out);
    out_account(io, before);
    pt_wipe(&io->rx, sizeof(io->rx)); /* may hold a control frame's payload */
    free(io);
}

int
gw_wsio_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    struct gw_wsio *io = lws_get_opaque_user_data(wsi);

    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (io)
            on_readable(io);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (io) {
            /* Closed under us (a hang-up): the WebSocket cannot be served any more. */
            io->child = NULL;
            lws_set_opaque_user_data(wsi, NULL);
            if (!io->killed) {
                gw_tunnel_peer_closed(io->t, 1006);
                io_kill(io);
            }
        }
        return 0;
    default:
        break;
    }
    return 0;
}
