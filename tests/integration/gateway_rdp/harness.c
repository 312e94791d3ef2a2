/*
 * harness.c - TEST HARNESS: an in-memory gw_tunnel for driving the RDP backend without
 * the gateway's WebSocket code (see harness.h). Thread-safe like the real
 * gw_tunnel_post(); the test thread plays the loop thread.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "common/str.h"

struct gw_tunnel {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pt_buf rx;
    size_t off;
    void *data;
    int closed_code;
    size_t total;
};

struct gw_tunnel *
h_tunnel_new(void)
{
    struct gw_tunnel *t = pt_xcalloc(1, sizeof(*t));

    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    return t;
}

void
h_tunnel_free(struct gw_tunnel *t)
{
    pt_buf_fini(&t->rx);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void
gw_tunnel_set_backend_data(struct gw_tunnel *t, void *data)
{
    t->data = data;
}

void *
gw_tunnel_backend_data(const struct gw_tunnel *t)
{
    return t->data;
}

int
gw_tunnel_post(struct gw_tunnel *t, const void *data, size_t len, bool binary)
{
    pthread_mutex_lock(&t->lock);
    /* the real tunnel delivers whole messages: check they end on an instruction */
    if (len == 0 || ((const char *)data)[len - 1] != ';')
        fprintf(stderr, "harness: message does not end on ';'\n");
    pt_buf_append(&t->rx, data, len);
    t->total += len;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    return t->closed_code ? -1 : 0;
}

size_t
gw_tunnel_send(struct gw_tunnel *t, const void *data, size_t len, bool binary)
{
    gw_tunnel_post(t, data, len, binary);
    return 0;
}

size_t
gw_tunnel_high_water(const struct gw_tunnel *t)
{
    return 1 << 20;
}

void
gw_tunnel_close(struct gw_tunnel *t, int ws_code, const char *reason)
{
    t->closed_code = ws_code;
}

void
gw_tunnel_log(const struct gw_tunnel *t, int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

size_t
h_bytes(struct gw_tunnel *t)
{
    size_t n;

    pthread_mutex_lock(&t->lock);
    n = t->total;
    pthread_mutex_unlock(&t->lock);
    return n;
}

int
h_closed_code(struct gw_tunnel *t)
{
    return t->closed_code;
}

/* Lenient reader of server instructions (lengths in code points). Returns bytes used,
 * 0 if incomplete. */
static size_t
parse_one(const char *s, size_t len, struct h_insn *in)
{
    size_t i = 0;
    int n = -1;

    memset(in, 0, sizeof(*in));
    for (;;) {
        size_t chars = 0, start;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            chars = chars * 10 + (size_t)(s[i++] - '0');
        if (i >= len || s[i] != '.')
            goto incomplete;
        start = ++i;
        for (size_t c = 0; c < chars; c++) {
            if (i >= len)
                goto incomplete;
            i++;
            while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
                i++;
        }
        if (i >= len)
            goto incomplete;
        if (n < 0)
            snprintf(in->op, sizeof(in->op), "%.*s", (int)(i - start), s + start);
        else if (n < H_MAX_ARGS)
            in->argv[n] = pt_xstrndup(s + start, i - start);
        n++;
        if (s[i++] == ';')
            break;
    }
    in->argc = n < H_MAX_ARGS ? n : H_MAX_ARGS;
    return i;
incomplete:
    h_insn_fini(in);
    return 0;
}

void
h_insn_fini(struct h_insn *in)
{
    for (int k = 0; k < H_MAX_ARGS; k++) {
        free(in->argv[k]);
        in->argv[k] = NULL;
    }
    in->argc = 0;
}

int
h_next(struct gw_tunnel *t, struct h_insn *in, int timeout_ms)
{
    struct timespec dl;
    int rc = -1;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    for (;;) {
        size_t used = parse_one(t->rx.data + t->off, t->rx.len - t->off, in);
        if (used) {
            t->off += used;
            rc = 0;
            break;
        }
        if (pthread_cond_timedwait(&t->cond, &t->lock, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int
h_send(struct gw_tunnel *t, const struct gw_backend_ops *ops, const char *msg, char *reason,
       size_t reason_len)
{
    struct pt_err err;
    int rc;

    pt_err_clear(&err);
    rc = ops->client_rx(t, msg, strlen(msg), false, &err);
    if (reason)
        snprintf(reason, reason_len, "%s", err.msg);
    return rc;
}

int
h_wait_op(struct gw_tunnel *t, const struct gw_backend_ops *ops, const char *op, struct h_insn *in,
          int timeout_ms)
{
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int left;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        left = timeout_ms -
               (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0 || h_next(t, in, left) < 0)
            return -1;
        if (strcmp(in->op, "sync") == 0 && in->argc >= 1) {
            char echo[64];
            snprintf(echo, sizeof(echo), "4.sync,%zu.%s;", strlen(in->argv[0]), in->argv[0]);
            h_send(t, ops, echo, NULL, 0);
        }
        if (strcmp(in->op, op) == 0)
            return 0;
        h_insn_fini(in);
    }
}
