/*
 * wsclient.c - see wsclient.h. Blocking sockets with poll() timeouts; TLS through
 * OpenSSL with a buffered reader so a frame header costs no extra system call.
 */
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

struct wsc {
    int fd;
    SSL_CTX *sctx;
    SSL *ssl;
    unsigned char rbuf[65536];
    size_t rpos, rlen;
    int close_code;
    char close_reason[128];
    char subproto[64]; /* the server's Sec-WebSocket-Protocol answer, "" if none */
    unsigned char *wbuf;
    size_t wcap;
    int pongs;           /* pong frames received */
    char last_pong[128]; /* the last one's payload */
};

static int
tcp_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int
raw_write(struct wsc *c, const void *p, size_t n)
{
    const unsigned char *b = p;

    while (n) {
        ssize_t w;
        if (c->ssl) {
            int r = SSL_write(c->ssl, b, (int)(n > 1 << 30 ? 1 << 30 : n));
            if (r <= 0)
                return -1;
            w = r;
        } else {
            w = send(c->fd, b, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Fill the read buffer; 1 ok, 0 timeout, -1 EOF/error. */
static int
fill(struct wsc *c, int timeout_ms)
{
    ssize_t r;

    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
    if (!c->ssl || SSL_pending(c->ssl) == 0) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr == 0)
            return 0;
        if (pr < 0)
            return -1;
    }
    if (c->ssl) {
        int n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(sizeof(c->rbuf) - c->rlen));
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            return e == SSL_ERROR_WANT_READ ? 0 : -1;
        }
        r = n;
    } else {
        r = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
        if (r <= 0)
            return -1;
    }
    c->rlen += (size_t)r;
    return 1;
}

static int
read_exact(struct wsc *c, void *out, size_t n, int timeout_ms)
{
    unsigned char *o = out;

    while (n) {
        if (c->rpos == c->rlen) {
            int f = fill(c, timeout_ms);
            if (f <= 0)
                return f == 0 ? 0 : -1;
        }
        size_t take = c->rlen - c->rpos < n ? c->rlen - c->rpos : n;
        memcpy(o, c->rbuf + c->rpos, take);
        c->rpos += take;
        o += take;
        n -= take;
    }
    return 1;
}

/* Whether @answer is one of the comma separated names in @asked. */
static bool
subproto_listed(const char *asked, const char *answer)
{
    size_t n = strlen(answer);

    while (n && *asked) {
        asked += strspn(asked, " ,");
        size_t len = strcspn(asked, " ,");
        if (len == n && strncmp(asked, answer, n) == 0)
            return true;
        asked += len;
    }
    return false;
}

struct wsc *
wsc_connect(int port, const char *path, const char *origin, const char *subproto, bool tls,
            char *err, size_t errn)
{
    return wsc_connect_ex(port, path, origin, subproto, NULL, tls, err, errn);
}

struct wsc *
wsc_connect_ex(int port, const char *path, const char *origin, const char *subproto,
               const char *headers, bool tls, char *err, size_t errn)
{
    struct wsc *c = calloc(1, sizeof(*c));
    char key[32] = "dGhlIHNhbXBsZSBub25jZQ==", line[4096];
    size_t used = 0, reqn = strlen(path) + (headers ? strlen(headers) : 0) + 8192;
    char *req = malloc(reqn);

    c->fd = tcp_connect(port);
    if (c->fd < 0) {
        snprintf(err, errn, "connect 127.0.0.1:%d: %s", port, strerror(errno));
        goto fail;
    }
    if (tls) {
        c->sctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(c->sctx, TLS1_2_VERSION);
        c->ssl = SSL_new(c->sctx);
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_connect(c->ssl) != 1) {
            snprintf(err, errn, "TLS handshake failed");
            goto fail;
        }
    }
    snprintf(req, reqn,
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
             "%s%s%s%s%s%s%s\r\n",
             path, port, key, origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "",
             subproto ? "Sec-WebSocket-Protocol: " : "", subproto ? subproto : "",
             subproto ? "\r\n" : "", headers ? headers : "");
    if (raw_write(c, req, strlen(req)) < 0) {
        snprintf(err, errn, "write upgrade failed");
        goto fail;
    }
    /* Read the response headers byte by byte up to the blank line. */
    for (;;) {
        unsigned char ch;
        if (read_exact(c, &ch, 1, 5000) <= 0) {
            snprintf(err, errn, "no upgrade response");
            goto fail;
        }
        if (used < sizeof(line) - 1)
            line[used++] = (char)ch;
        line[used] = '\0';
        if (used >= 4 && strcmp(line + used - 4, "\r\n\r\n") == 0)
            break;
    }
    if (strncmp(line, "HTTP/1.1 101", 12) != 0) {
        snprintf(err, errn, "upgrade refused: %.60s", line);
        goto fail;
    }
    {
        const char *sp = strcasestr(line, "\r\nSec-WebSocket-Protocol:");
        if (sp) {
            sp += strlen("\r\nSec-WebSocket-Protocol:");
            sp += strspn(sp, " \t");
            snprintf(c->subproto, sizeof(c->subproto), "%.*s", (int)strcspn(sp, "\r\n"), sp);
        }
    }
    /* A browser fails the handshake when the answer names no subprotocol it asked for. */
    if (subproto && !subproto_listed(subproto, c->subproto)) {
        snprintf(err, errn, "asked for subprotocol %s, server answered '%s'", subproto,
                 c->subproto);
        goto fail;
    }
    free(req);
    return c;
fail:
    free(req);
    wsc_free(c);
    return NULL;
}

void
wsc_free(struct wsc *c)
{
    if (!c)
        return;
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->sctx)
        SSL_CTX_free(c->sctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->wbuf);
    free(c);
}

const char *
wsc_subprotocol(const struct wsc *c)
{
    return c->subproto;
}

int
wsc_fd(const struct wsc *c)
{
    return c->fd;
}

int
wsc_send(struct wsc *c, int opcode, const void *data, size_t len)
{
    return wsc_send_frame(c, opcode, true, data, len);
}

int
wsc_send_raw(struct wsc *c, const void *p, size_t n)
{
    return raw_write(c, p, n);
}

int
wsc_pongs(const struct wsc *c, const char **last)
{
    if (last)
        *last = c->last_pong;
    return c->pongs;
}

int
wsc_send_frame(struct wsc *c, int opcode, bool fin, const void *data, size_t len)
{
    unsigned char *f;
    size_t h = 2;
    uint32_t mask32;
    unsigned char mask[4];

    if (c->wcap < len + 14) {
        c->wcap = len + 14;
        c->wbuf = realloc(c->wbuf, c->wcap);
    }
    f = c->wbuf;
    f[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        f[1] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(len >> 8);
        f[3] = (unsigned char)len;
        h = 4;
    } else {
        f[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            f[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        h = 10;
    }
    mask32 = (uint32_t)random() | 1u;
    memcpy(mask, &mask32, 4);
    memcpy(f + h, mask, 4);
    h += 4;
    const unsigned char *d = data;
    unsigned char *o = f + h;
    size_t i = 0;
    uint64_t m64;
    memcpy(
        &m64,
        (unsigned char[8]){mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]},
        8);
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, d + i, 8);
        v ^= m64;
        memcpy(o + i, &v, 8);
    }
    for (; i < len; i++)
        o[i] = d[i] ^ mask[i & 3];
    return raw_write(c, f, h + len);
}

int
wsc_recv(struct wsc *c, unsigned char **buf, size_t *len, size_t *cap, int timeout_ms)
{
    int msg_op = 0;

    *len = 0;
    for (;;) {
        unsigned char hdr[2], ext[8];
        uint64_t plen;
        int r = read_exact(c, hdr, 2, timeout_ms);
        if (r <= 0)
            return r;
        int op = hdr[0] & 0x0f;
        bool fin = hdr[0] & 0x80;
        plen = hdr[1] & 0x7f;
        if (plen == 126) {
            if (read_exact(c, ext, 2, timeout_ms) <= 0)
                return -1;
            plen = (uint64_t)ext[0] << 8 | ext[1];
        } else if (plen == 127) {
            if (read_exact(c, ext, 8, timeout_ms) <= 0)
                return -1;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | ext[i];
        }
        if (plen > (1u << 28))
            return -1;
        if (op >= 8) { /* control frame: small, handled here */
            unsigned char p[128];
            if (plen > sizeof(p) || read_exact(c, p, plen, timeout_ms) <= 0)
                return -1;
            if (op == 9) {
                wsc_send(c, 10, p, plen);
                continue;
            }
            if (op == 10) {
                c->pongs++;
                size_t pl = plen < sizeof(c->last_pong) ? plen : sizeof(c->last_pong) - 1;
                memcpy(c->last_pong, p, pl);
                c->last_pong[pl] = '\0';
                continue;
            }
            c->close_code = plen >= 2 ? p[0] << 8 | p[1] : 1005;
            size_t rl = plen > 2 ? plen - 2 : 0;
            memcpy(c->close_reason, p + 2, rl);
            c->close_reason[rl] = '\0';
            return WSC_CLOSE;
        }
        if (op != 0)
            msg_op = op;
        if (*len + plen + 1 > *cap) {
            *cap = *len + plen + 1;
            *buf = realloc(*buf, *cap);
        }
        if (plen && read_exact(c, *buf + *len, plen, timeout_ms) <= 0)
            return -1;
        *len += plen;
        if (fin)
            return msg_op;
    }
}

int
wsc_close_code(const struct wsc *c)
{
    return c->close_code;
}

const char *
wsc_close_reason(const struct wsc *c)
{
    return c->close_reason;
}

int
wsc_expect_close(struct wsc *c, int timeout_ms)
{
    unsigned char *b = NULL;
    size_t len = 0, cap = 0;
    int op;

    while ((op = wsc_recv(c, &b, &len, &cap, timeout_ms)) > 0 && op != WSC_CLOSE)
        ;
    free(b);
    return op == WSC_CLOSE ? c->close_code : -1;
}

char *
http_get(int port, const char *path, bool tls, int *status)
{
    struct wsc *c = calloc(1, sizeof(*c));
    char req[512];
    size_t cap = 65536, len = 0;
    char *out = NULL, *body;

    *status = -1;
    c->fd = tcp_connect(port);
    if (c->fd < 0)
        goto done;
    if (tls) {
        c->sctx = SSL_CTX_new(TLS_client_method());
        c->ssl = SSL_new(c->sctx);
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_connect(c->ssl) != 1)
            goto done;
    }
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    if (raw_write(c, req, strlen(req)) < 0)
        goto done;
    out = malloc(cap);
    for (;;) {
        if (c->rpos == c->rlen && fill(c, 5000) <= 0)
            break;
        size_t n = c->rlen - c->rpos;
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            out = realloc(out, cap);
        }
        memcpy(out + len, c->rbuf + c->rpos, n);
        len += n;
        c->rpos = c->rlen;
        out[len] = '\0';
        /* Stop at Content-Length to avoid waiting on keep-alive. */
        body = strstr(out, "\r\n\r\n");
        const char *cl = strcasestr(out, "content-length:");
        if (body && cl && cl < body && (size_t)(body + 4 - out) + (size_t)atol(cl + 15) <= len)
            break;
    }
    if (out && len) {
        out[len] = '\0';
        sscanf(out, "HTTP/1.%*d %d", status);
        body = strstr(out, "\r\n\r\n");
        if (body) {
            char *b = strdup(body + 4);
            free(out);
            out = b;
        }
    }
done:
    wsc_free(c);
    return out;
}

double
http_metric(const char *body, const char *name)
{
    size_t n = strlen(name);
    const char *p = body;

    while (p && *p) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return atof(p + n + 1);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}
