/*
 * bk_client.h - a small HTTPS/1.1 client (OpenSSL) and a broker launcher for the broker's
 * integration tests. Test code only; one request per connection.
 */
#ifndef PT_BK_CLIENT_H
#define PT_BK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/err.h"
#include "common/str.h"
#include "tsupport/fixture.h"

struct bk_resp {
    int status;
    char headers[16384]; /* raw header block, lower-cased names */
    struct pt_buf body;
    json_t *json; /* parsed body when it is JSON, else NULL */
};

void bk_resp_fini(struct bk_resp *r);
/* bk_resp_header() - value of header @name (lower-case, no colon) or NULL; borrowed until
 * the next call. */
const char *bk_resp_header(const struct bk_resp *r, const char *name);
/* bk_resp_error_code() - error.code of a JSON error body, or "" */
const char *bk_resp_error_code(const struct bk_resp *r);

/*
 * bk_https() - one request to https://127.0.0.1:@port@path. @headers: NULL or a
 * NULL-terminated list of "Name: value". Returns 0 with @out filled, -1 on a transport
 * error (message in @err).
 */
int bk_https(int port, const char *method, const char *path, const char *const *headers,
             const char *body, size_t body_len, struct bk_resp *out, struct pt_err *err);
/* bk_https_raw() - send @raw bytes as they are after the TLS handshake; read the reply. */
int bk_https_raw(int port, const char *raw, size_t len, struct bk_resp *out, struct pt_err *err);
/* bk_tls_handshake() - 0 if a handshake limited to TLS version @max_version (e.g.
 * TLS1_1_VERSION) succeeds, -1 otherwise. */
int bk_tls_handshake(int port, int max_version);

/* A signed-in browser: the header lines its requests carry. */
struct bk_who {
    char cookie[200];    /* "Cookie: portico_session=..." */
    char csrf[120];      /* "X-CSRF-Token: ..." */
    const char *hdrs[3]; /* cookie, csrf, NULL: pass as bk_https()'s @headers */
};

/* bk_login() - POST /api/v1/login as @user; on 200 fills @w from the session cookie and
 * the CSRF token. @out keeps the reply (the caller finishes it). Returns the HTTP status,
 * or -1 on a transport error or a 200 without cookie or token (@err says which). */
int bk_login(int port, const char *user, const char *pw, struct bk_who *w, struct bk_resp *out,
             struct pt_err *err);

/* A running portico-broker with a generated configuration. */
struct bk_broker {
    struct tf_proc proc;
    int port;
    char dir[512];
    char conf_path[600];
};

/*
 * bk_broker_start() - write a config in a fresh directory with listen on a free port,
 * the [broker] keys in @broker_extra (may be NULL) and the extra sections @sections (may
 * be NULL), start the built portico-broker and wait until it accepts. Returns 0 or -1.
 */
int bk_broker_start(struct bk_broker *b, const char *broker_extra, const char *sections,
                    struct pt_err *err);
/* bk_broker_stop() - SIGTERM, wait, reap. Returns true if the log is free of sanitizer
 * reports and the broker logged event=stopped. */
bool bk_broker_stop(struct bk_broker *b);
/* bk_broker_bin() - path of the built portico-broker (borrowed), or of
 * $PORTICO_BUILD_DIR/<bk_broker_binary> when a test sets that name. */
const char *bk_broker_bin(void);
extern const char *bk_broker_binary; /* NULL: broker/portico-broker */

/*
 * bk_run() - run @argv with extra environment @env (NULL-terminated "K=V", may be NULL),
 * stdin from @input (may be NULL); stdout and stderr go to @out. Returns the exit status,
 * or -1 if it could not run or took longer than @timeout_ms (then it is killed).
 */
int bk_run(char *const argv[], const char *const *env, const char *input, struct pt_buf *out,
           int timeout_ms);

#endif
