/*
 * fuzz_broker_http.c - libFuzzer target for the broker's request-parsing helpers that see
 * client bytes after lws: the router (method + path -> route and {} parameters),
 * broker_url_decode(), broker_req_query(), broker_static_resolve() (URL path -> file
 * under the web root) and broker_req_json_body() (the JSON body check every API handler
 * starts with). Cookie and header parsing read straight from lws (broker_req_cookie()
 * calls lws_hdr_copy()), so they cannot be driven from a buffer and are not covered here.
 *
 * Input: byte 0 picks the method (bits 0-2) and the query key (bits 3-4); the rest is the
 * path/query/body, all three at once (a C string for the first two, bytes for the body).
 *
 * Properties: a matched route's pattern has as many "{}" as parameters, each parameter is
 * a non-empty segment without '/'; a decoded string fits its buffer and holds no NUL; a
 * query value never contains '&'; a resolved static path stays under the root with no
 * "." or ".." segment and no backslash; a JSON body is either an object or a 400 reply.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_priv.h"

#define FUZZ_ROOT "/nonexistent/portico-fuzz-web" /* stat() fails fast: no disk walk */

static unsigned long routed, objects; /* for the replay note */

static void
check_router(int method, const char *path)
{
    const struct broker_route *rt = NULL;
    char params[BROKER_MAX_PARAMS][BROKER_MAX_PARAM];
    int np = -1, allowed = 0, holes = 0;

    if (broker_router_match(method, path, &rt, params, &np, &allowed) != BROKER_MATCH_OK)
        return;
    routed++;
    if (!rt || !rt->pattern || np < 0 || np > BROKER_MAX_PARAMS)
        abort();
    for (const char *p = rt->pattern; (p = strstr(p, "{}")); p += 2)
        holes++;
    if (holes != np)
        abort();
    for (int i = 0; i < np; i++)
        if (!params[i][0] || strchr(params[i], '/') || !strstr(path, params[i]))
            abort();
}

static void
check_decode(const char *s, size_t n)
{
    char out[64];

    if (broker_url_decode(s, n, out, sizeof(out)) < 0)
        return;
    if (strlen(out) >= sizeof(out) || strlen(out) > n)
        abort();
}

static void
check_query(const char *q, int which)
{
    static const char *const keys[] = {"ticket", "limit", "state", "a"};
    struct broker_req *r = calloc(1, sizeof(*r));
    char out[128];
    int n;

    if (!r)
        abort();
    pt_strlcpy(r->query, q, sizeof(r->query));
    n = broker_req_query(r, keys[which], out, sizeof(out));
    if (n >= 0 && ((size_t)n != strlen(out) || (size_t)n >= sizeof(out) || strchr(out, '&')))
        abort();
    free(r);
}

static void
check_static(const char *path)
{
    char out[4096];
    const char *p;

    if (broker_static_resolve(FUZZ_ROOT, path, out, sizeof(out)) < 0)
        return;
    if (strncmp(out, FUZZ_ROOT, strlen(FUZZ_ROOT)) != 0 || strchr(out, '\\') || strstr(out, "//"))
        abort();
    p = out + strlen(FUZZ_ROOT);
    if (*p && *p != '/')
        abort();
    for (; *p; p++) /* no "." or ".." segment anywhere below the root */
        if (p[0] == '/' && p[1] == '.' &&
            (p[2] == '/' || !p[2] || (p[2] == '.' && (p[3] == '/' || !p[3]))))
            abort();
}

static void
check_json(const uint8_t *data, size_t size)
{
    struct broker_req *r = calloc(1, sizeof(*r));
    json_t *j;

    if (!r)
        abort();
    pt_buf_append(&r->body, data, size);
    j = broker_req_json_body(r);
    if (j) {
        objects++;
        if (!json_is_object(j) || r->replied)
            abort();
        json_decref(j);
    } else if (!r->replied || r->status != 400 || !r->resp.len) {
        abort(); /* a refused body is always answered 400 with a JSON error */
    }
    pt_buf_fini(&r->body);
    pt_buf_fini(&r->resp);
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    char *s;

    if (!quiet) {
        pt_log_set_level(LOG_CRIT); /* broker_req_error() logs every refusal */
        quiet = 1;
    }
    if (size < 1 || size > 8192)
        return 0;
    s = malloc(size);
    if (!s)
        abort();
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (strlen(s) < BROKER_MAX_PATH) {
        check_router(1 << (data[0] % 7), s); /* BROKER_GET .. BROKER_OPTIONS */
        check_static(s);
    }
    check_decode((const char *)data + 1, size - 1);
    check_query(s, (data[0] >> 3) & 3);
    check_json(data + 1, size - 1);
    free(s);
    return 0;
}

const char *fuzz_replay_note(void);

const char *
fuzz_replay_note(void)
{
    static char note[64];

    snprintf(note, sizeof(note), "%lu routed, %lu json objects", routed, objects);
    return note;
}
