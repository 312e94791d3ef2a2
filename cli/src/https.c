/*
 * https.c - porticoctl's HTTPS/1.1 client, OpenSSL only (no libcurl for a handful of
 * JSON calls).
 *
 * One request per connection ("Connection: close"), read to EOF. The broker's
 * certificate is verified against --ca (the broker's self-signed certificate works as
 * its own CA) or the system store, with the host name or IP address checked, unless
 * --insecure. TLS 1.2 is the minimum, as on the broker. Responses are capped at 16 MiB.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "common/mem.h"

#define RESP_MAX (16 * 1024 * 1024)

static int
parse_url(const char *url, char *host, size_t hn, char *port, size_t pn, struct pt_err *err)
{
    const char *p, *colon, *end;

    if (strncmp(url, "https://", 8) != 0)
        return pt_err_set(err, PT_E_INVALID, "the URL must start with https:// (%s)", url);
    p = url + 8;
    end = p + strcspn(p, "/");
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));

        if (!rb)
            return pt_err_set(err, PT_E_INVALID, "bad IPv6 address in %s", url);
        snprintf(host, hn, "%.*s", (int)(rb - p - 1), p + 1);
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        snprintf(host, hn, "%.*s", (int)((colon ? colon : end) - p), p);
    }
    snprintf(port, pn, "%.*s", colon ? (int)(end - colon - 1) : 3, colon ? colon + 1 : "443");
    return 0;
}

static int
tcp_connect(const char *host, const char *port, struct pt_err *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
    struct timeval tv = {.tv_sec = 30};
    int fd = -1, rc;

    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return pt_err_set(err, PT_E_UNAVAILABLE, "%s: %s", host, gai_strerror(rc));
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return pt_err_set(err, PT_E_UNAVAILABLE, "cannot connect to %s:%s (is the broker up?)",
                          host, port);
    return fd;
}

void
cli_resp_fini(struct cli_resp *r)
{
    pt_buf_fini(&r->body);
    json_decref(r->json);
    r->json = NULL;
}

static void
parse_headers(const char *raw, size_t hlen, struct cli_resp *out)
{
    const char *p = raw;

    while (p < raw + hlen) {
        const char *eol = memchr(p, '\n', (size_t)(raw + hlen - p));
        size_t len = eol ? (size_t)(eol - p) : (size_t)(raw + hlen - p);

        if (len > 11 && strncasecmp(p, "set-cookie:", 11) == 0) {
            const char *v = p + 11;

            while (*v == ' ')
                v++;
            snprintf(out->set_cookie, sizeof(out->set_cookie), "%.*s", (int)(len - (size_t)(v - p)),
                     v);
            out->set_cookie[strcspn(out->set_cookie, "\r")] = '\0';
        }
        if (!eol)
            break;
        p = eol + 1;
    }
}

int
cli_http(const struct cli_conf *c, const char *method, const char *path, const char *body,
         struct cli_resp *out, struct pt_err *err)
{
    char host[256], port[16], buf[16384];
    struct pt_buf req = PT_BUF_INIT, raw = PT_BUF_INIT;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    int fd = -1, n, rc = -1;
    char *hend;

    memset(out, 0, sizeof(*out));
    if (parse_url(c->url, host, sizeof(host), port, sizeof(port), err) < 0)
        return -1;
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (!c->insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (c->ca[0] ? SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1
                     : SSL_CTX_set_default_verify_paths(ctx) != 1) {
            pt_err_set(err, PT_E_IO, "cannot load the CA file %s", c->ca);
            goto out;
        }
    }
    fd = tcp_connect(host, port, err);
    if (fd < 0)
        goto out;
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host);
    if (!c->insecure && !SSL_set1_host(ssl, host)) {
        pt_err_set(err, PT_E_INTERNAL, "cannot set the host to verify");
        goto out;
    }
    if (SSL_connect(ssl) != 1) {
        long v = SSL_get_verify_result(ssl);

        pt_err_set(err, PT_E_IO, "TLS to %s:%s failed: %s%s", host, port,
                   v != X509_V_OK ? X509_verify_cert_error_string(v)
                                  : ERR_reason_error_string(ERR_get_error()),
                   v != X509_V_OK ? " (pass --ca with the broker's certificate)" : "");
        goto out;
    }
    pt_buf_appendf(&req,
                   "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                   "User-Agent: porticoctl/" PORTICO_VERSION "\r\nAccept: application/json\r\n",
                   method, path, host);
    if (c->cookie[0])
        pt_buf_appendf(&req, "Cookie: portico_session=%s\r\n", c->cookie);
    if (c->csrf[0])
        pt_buf_appendf(&req, "X-CSRF-Token: %s\r\n", c->csrf);
    pt_buf_appendf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   body ? strlen(body) : 0, body ? body : "");
    if (SSL_write(ssl, req.data, (int)req.len) != (int)req.len) {
        pt_err_set(err, PT_E_IO, "sending the request failed");
        goto out;
    }
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
        if (raw.len + (size_t)n > RESP_MAX) {
            pt_err_set(err, PT_E_LIMIT, "the response is larger than %d bytes", RESP_MAX);
            goto out;
        }
        pt_buf_append(&raw, buf, (size_t)n);
    }
    hend = raw.data ? strstr(raw.data, "\r\n\r\n") : NULL;
    if (!hend || sscanf(raw.data, "HTTP/1.%*d %d", &out->status) != 1) {
        pt_err_set(err, PT_E_IO, "the broker sent no HTTP response");
        goto out;
    }
    parse_headers(raw.data, (size_t)(hend - raw.data), out);
    pt_buf_append(&out->body, hend + 4, raw.len - (size_t)(hend + 4 - raw.data));
    out->json = json_loadb(out->body.data ? out->body.data : "", out->body.len, 0, NULL);
    rc = 0;
out:
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    pt_wipe(req.data, req.len); /* may hold the password or the session cookie */
    pt_buf_fini(&req);
    pt_buf_fini(&raw);
    return rc;
}

int
cli_exit_for_status(int status)
{
    if (status >= 200 && status < 300)
        return CLI_OK;
    switch (status) {
    case 401:
        return CLI_AUTH;
    case 403:
        return CLI_FORBIDDEN;
    case 404:
        return CLI_NOTFOUND;
    case 400:
    case 405:
    case 409:
    case 413:
        return CLI_CONFLICT;
    }
    return status == 429 || status >= 500 ? CLI_UNAVAILABLE : CLI_FAILED;
}

void
cli_print_error(const struct cli_resp *r)
{
    json_t *e = json_object_get(r->json, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));

    fprintf(stderr, "porticoctl: %s (%s, HTTP %d)\n", msg ? msg : "request failed",
            code ? code : "no_code", r->status);
    if (r->status == 401)
        fprintf(stderr, "porticoctl: sign in with `porticoctl login --url https://BROKER`\n");
}
