/*
 * wsclient.h - a small blocking WebSocket client (RFC 6455) for the gateway's tests and
 * benchmarks: plain or TLS, masked client frames, ping answered, close code and reason
 * reported. Not a product component: it trusts the server only as far as a test does
 * (frame sizes are still bounded by @max).
 */
#ifndef PT_TEST_WSCLIENT_H
#define PT_TEST_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define WSC_TEXT   1
#define WSC_BINARY 2
#define WSC_CLOSE  8

struct wsc;

/* wsc_connect() - TCP (+TLS, certificate not verified) to 127.0.0.1:@port, then the
 * upgrade for @path with @origin (NULL: no Origin header) and @subproto (NULL: none).
 * Like a browser, fails when @subproto (a name or a comma separated list) is set and the
 * answer names none of it.
 * Returns new, or NULL with a message in @err. */
struct wsc *wsc_connect(int port, const char *path, const char *origin, const char *subproto,
                        bool tls, char *err, size_t errn);
/* wsc_connect_ex() - the same with @headers ("Name: value\r\n" lines, NULL: none) added
 * to the upgrade request. */
struct wsc *wsc_connect_ex(int port, const char *path, const char *origin, const char *subproto,
                           const char *headers, bool tls, char *err, size_t errn);
void wsc_free(struct wsc *c);
/* wsc_subprotocol() - borrowed: the subprotocol the server answered, "" if none. */
const char *wsc_subprotocol(const struct wsc *c);
int wsc_fd(const struct wsc *c);

/* wsc_send() - one masked frame. Returns 0 or -1. Thread: one sender at a time. */
int wsc_send(struct wsc *c, int opcode, const void *data, size_t len);

/* wsc_send_frame() - one masked frame with FIN as @fin (fragments, control frames). */
int wsc_send_frame(struct wsc *c, int opcode, bool fin, const void *data, size_t len);
/* wsc_send_raw() - bytes as they are (hand-made frames, protocol violations). */
int wsc_send_raw(struct wsc *c, const void *p, size_t n);
/* wsc_pongs() - pongs received so far by wsc_recv(); *@last (may be NULL): the last
 * one's payload (borrowed). */
int wsc_pongs(const struct wsc *c, const char **last);

/* wsc_recv() - the next data or close message (pings are answered, pongs counted;
 * fragments are joined). *@buf is grown as needed (free() it). Returns the opcode, 0 on
 * timeout, -1 on error/EOF. For WSC_CLOSE, wsc_close_code()/wsc_close_reason() tell why. */
int wsc_recv(struct wsc *c, unsigned char **buf, size_t *len, size_t *cap, int timeout_ms);
int wsc_close_code(const struct wsc *c);
const char *wsc_close_reason(const struct wsc *c);

/* wsc_expect_close() - read until a close frame (discarding data). Returns its code, or
 * -1 if the connection ended without one / timed out. */
int wsc_expect_close(struct wsc *c, int timeout_ms);

/* http_get() - GET @path over plain HTTP/1.1 (or TLS); returns new body, *@status set. */
char *http_get(int port, const char *path, bool tls, int *status);

/* http_metric() - the value of the Prometheus sample @name (with labels, exact) in @body,
 * or -1 if absent. */
double http_metric(const char *body, const char *name);

#endif
