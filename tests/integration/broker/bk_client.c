/*
 * bk_client.c - HTTPS/1.1 over OpenSSL for tests, and starting/stopping portico-broker.
 *
 * The client does one request per connection ("Connection: close") and reads until EOF,
 * which keeps it short and makes it a fair outsider: it knows nothing of lws. It does not
 * verify the broker's self-signed certificate (tests check TLS versions separately).
 */
#include "bk_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/mem.h"

static int
tcp_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 20};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static SSL *
tls_open(int port, int max_version, SSL_CTX **ctxp, int *fdp)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    int fd;

    *ctxp = ctx;
    *fdp = -1;
    if (!ctx)
        return NULL;
    if (max_version) {
        SSL_CTX_set_min_proto_version(ctx, 0);
        SSL_CTX_set_max_proto_version(ctx, max_version);
        SSL_CTX_set_security_level(ctx, 0);
        SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
    }
    fd = tcp_connect(port);
    if (fd < 0)
        return NULL;
    *fdp = fd;
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static void
tls_close(SSL *ssl, SSL_CTX *ctx, int fd)
{
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
}

int
bk_tls_handshake(int port, int max_version)
{
    SSL_CTX *ctx;
    int fd;
    SSL *ssl = tls_open(port, max_version, &ctx, &fd);
    int rc = ssl ? 0 : -1;

    ERR_clear_error();
    tls_close(ssl, ctx, fd);
    return rc;
}

void
bk_resp_fini(struct bk_resp *r)
{
    pt_buf_fini(&r->body);
    json_decref(r->json);
    r->json = NULL;
}

const char *
bk_resp_header(const struct bk_resp *r, const char *name)
{
    static char val[4096];
    size_t nl = strlen(name);
    const char *p = r->headers;

    while (p && *p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t vl;

            while (*v == ' ')
                v++;
            vl = strcspn(v, "\r\n");
            if (vl >= sizeof(val))
                vl = sizeof(val) - 1;
            memcpy(val, v, vl);
            val[vl] = '\0';
            return val;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

const char *
bk_resp_error_code(const struct bk_resp *r)
{
    const char *c = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));

    return c ? c : "";
}

static int
parse_response(struct pt_buf *raw, struct bk_resp *out, struct pt_err *err)
{
    char *hend = strstr(raw->data ? raw->data : "", "\r\n\r\n");
    size_t hlen;
    const char *body;

    if (!hend || sscanf(raw->data, "HTTP/1.1 %d", &out->status) != 1)
        return pt_err_set(err, PT_E_IO, "no HTTP response (%zu bytes)", raw->len);
    hlen = (size_t)(hend - raw->data);
    if (hlen >= sizeof(out->headers))
        hlen = sizeof(out->headers) - 1;
    memcpy(out->headers, raw->data, hlen);
    out->headers[hlen] = '\0';
    /* lower-case the names so lookups do not care how the server spelled them */
    for (char *line = strchr(out->headers, '\n'); line; line = strchr(line + 1, '\n')) {
        for (char *c = line + 1; *c && *c != ':' && *c != '\n'; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    body = hend + 4;
    pt_buf_append(&out->body, body, raw->len - (size_t)(body - raw->data));
    out->json = json_loadb(out->body.data ? out->body.data : "", out->body.len, 0, NULL);
    return 0;
}

static int
exchange(int port, const char *req, size_t len, struct bk_resp *out, struct pt_err *err)
{
    struct pt_buf raw = PT_BUF_INIT;
    char buf[16384];
    SSL_CTX *ctx;
    int fd, n, rc = -1;
    SSL *ssl;

    memset(out, 0, sizeof(*out));
    ssl = tls_open(port, 0, &ctx, &fd);
    if (!ssl) {
        pt_err_set(err, PT_E_IO, "TLS connect to 127.0.0.1:%d failed", port);
        goto out;
    }
    for (size_t off = 0; off < len;) {
        n = SSL_write(ssl, req + off, (int)(len - off > 65536 ? 65536 : len - off));
        if (n <= 0)
            break; /* the server may close early (413): read what it said */
        off += (size_t)n;
    }
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
        pt_buf_append(&raw, buf, (size_t)n);
    rc = parse_response(&raw, out, err);
out:
    ERR_clear_error();
    tls_close(ssl, ctx, fd);
    pt_buf_fini(&raw);
    return rc;
}

int
bk_https(int port, const char *method, const char *path, const char *const *headers,
         const char *body, size_t body_len, struct bk_resp *out, struct pt_err *err)
{
    struct pt_buf req = PT_BUF_INIT;
    int rc;

    pt_buf_appendf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", method,
                   path, port);
    for (const char *const *h = headers; h && *h; h++)
        pt_buf_appendf(&req, "%s\r\n", *h);
    if (body)
        pt_buf_appendf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
    else if (strcmp(method, "GET") != 0)
        pt_buf_appends(&req, "Content-Length: 0\r\n");
    pt_buf_appends(&req, "\r\n");
    if (body)
        pt_buf_append(&req, body, body_len);
    rc = exchange(port, req.data, req.len, out, err);
    pt_buf_fini(&req);
    return rc;
}

int
bk_https_raw(int port, const char *raw, size_t len, struct bk_resp *out, struct pt_err *err)
{
    return exchange(port, raw, len, out, err);
}

/* ---- the broker process ----------------------------------------------------------------- */

const char *bk_broker_binary;

const char *
bk_broker_bin(void)
{
    static char path[1024];
    const char *bd = getenv("PORTICO_BUILD_DIR");

    snprintf(path, sizeof(path), "%s/%s", bd ? bd : ".",
             bk_broker_binary ? bk_broker_binary : "broker/portico-broker");
    return path;
}

int
bk_broker_start(struct bk_broker *b, const char *broker_extra, const char *sections,
                struct pt_err *err)
{
    static int seq;
    char *argv[4];
    FILE *f;

    memset(b, 0, sizeof(*b));
    b->port = tf_free_port();
    snprintf(b->dir, sizeof(b->dir), "%s/broker-%d-%d", tf_tmpdir(), (int)getpid(), ++seq);
    if (mkdir(b->dir, 0700) < 0)
        return pt_err_set(err, PT_E_IO, "mkdir %s: %s", b->dir, strerror(errno));
    snprintf(b->conf_path, sizeof(b->conf_path), "%s/broker.conf", b->dir);
    f = fopen(b->conf_path, "w");
    if (!f)
        return pt_err_set(err, PT_E_IO, "cannot write %s", b->conf_path);
    fprintf(f,
            "[broker]\nlisten = 127.0.0.1:%d\nstate_dir = %s/state\nlog_level = info\nhttp2 = yes\n"
            "workers = 2\n%s\n%s\n",
            b->port, b->dir, broker_extra ? broker_extra : "", sections ? sections : "");
    fclose(f);
    argv[0] = (char *)bk_broker_bin();
    argv[1] = (char *)"-c";
    argv[2] = b->conf_path;
    argv[3] = NULL;
    if (tf_proc_spawn(&b->proc, "broker", argv, NULL, err) < 0)
        return -1;
    if (tf_wait_port(b->port, 15000) < 0) {
        tf_proc_print_log(&b->proc, 40);
        tf_proc_stop(&b->proc, 1000);
        return pt_err_set(err, PT_E_TIMEOUT, "portico-broker did not listen on %d", b->port);
    }
    return 0;
}

static bool
log_clean(const char *path)
{
    char line[4096];
    bool stopped = false, clean = true;
    FILE *f = fopen(path, "r");

    if (!f)
        return false;
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, "event=stopped"))
            stopped = true;
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:"))
            clean = false;
    }
    fclose(f);
    return stopped && clean;
}

bool
bk_broker_stop(struct bk_broker *b)
{
    bool ok;

    if (!b->proc.pid)
        return true;
    tf_proc_stop(&b->proc, 15000);
    ok = log_clean(b->proc.log_path);
    if (!ok)
        tf_proc_print_log(&b->proc, 60);
    memset(&b->proc, 0, sizeof(b->proc));
    return ok;
}

int
bk_run(char *const argv[], const char *const *env, const char *input, struct pt_buf *out,
       int timeout_ms)
{
    int outp[2], inp[2], status = -1;
    int64_t deadline = pt_time_mono_ms() + timeout_ms;
    pid_t pid;

    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(inp, O_CLOEXEC) < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(inp[0], 0);
        dup2(outp[1], 1);
        dup2(outp[1], 2);
        for (const char *const *e = env; e && *e; e++)
            putenv((char *)*e);
        execv(argv[0], argv);
        _exit(127);
    }
    close(outp[1]);
    close(inp[0]);
    if (input && write(inp[1], input, strlen(input)) < 0)
        status = -1;
    close(inp[1]);
    for (;;) {
        struct pollfd pfd = {.fd = outp[0], .events = POLLIN};
        char buf[4096];
        ssize_t n;
        int left = (int)(deadline - pt_time_mono_ms());

        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&pfd, 1, left) <= 0)
            continue;
        n = read(outp[0], buf, sizeof(buf));
        if (n <= 0)
            break;
        pt_buf_append(out, buf, (size_t)n);
    }
    close(outp[0]);
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
bk_login(int port, const char *user, const char *pw, struct bk_who *w, struct bk_resp *out,
         struct pt_err *err)
{
    char body[600];
    const char *sc, *csrf;

    snprintf(body, sizeof(body), "{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
    if (bk_https(port, "POST", "/api/v1/login", NULL, body, strlen(body), out, err) < 0)
        return -1;
    if (out->status != 200)
        return out->status;
    sc = bk_resp_header(out, "set-cookie");
    csrf = json_string_value(json_object_get(out->json, "csrf_token"));
    if (!sc || !csrf)
        return pt_err_set(err, PT_E_INVALID, "login of %s: 200 without %s", user,
                          sc ? "csrf_token" : "a session cookie");
    snprintf(w->cookie, sizeof(w->cookie), "Cookie: %.*s", (int)strcspn(sc, ";"), sc);
    snprintf(w->csrf, sizeof(w->csrf), "X-CSRF-Token: %s", csrf);
    w->hdrs[0] = w->cookie;
    w->hdrs[1] = w->csrf;
    w->hdrs[2] = NULL;
    return 200;
}
