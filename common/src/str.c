/*
 * str.c - buffers, bounded parsers and clocks shared by every module.
 */
#include "common/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"

void
pt_buf_reserve(struct pt_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 64;

    if (need <= b->cap)
        return;
    while (cap < need) {
        if (cap > ((size_t)-1) / 2)
            cap = need;
        else
            cap *= 2;
    }
    b->data = pt_xrealloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = '\0'; /* a fresh buffer must read as "" even before any append */
}

void
pt_buf_append(struct pt_buf *b, const void *data, size_t len)
{
    pt_buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void
pt_buf_appends(struct pt_buf *b, const char *s)
{
    pt_buf_append(b, s, strlen(s));
}

void
pt_buf_appendf(struct pt_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    int n;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    pt_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

void
pt_buf_reset(struct pt_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *
pt_buf_steal(struct pt_buf *b)
{
    char *p = b->data ? b->data : pt_xstrdup("");

    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void
pt_buf_fini(struct pt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

size_t
pt_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);

    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

bool
pt_str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *
pt_str_trim(char *s)
{
    char *end;

    while (*s && isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

bool
pt_mem_eq_ct(const void *a, const void *b, size_t len)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;

    for (size_t i = 0; i < len; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

int
pt_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || !end || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
pt_parse_duration_ms(const char *s, int64_t *out_ms)
{
    static const struct {
        const char *suffix;
        int64_t mult;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char num[32];
    size_t n = 0;
    int64_t v;

    if (!s)
        return -1;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, s, n);
    num[n] = '\0';
    if (pt_parse_i64(num, 0, INT64_C(1) << 40, &v) < 0)
        return -1;
    if (s[n] == '\0') {
        *out_ms = v * 1000;
        return 0;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(s + n, units[i].suffix) == 0) {
            /* v is at most 2^40; days would still overflow 63 bits, so check. */
            if (v > INT64_MAX / units[i].mult)
                return -1;
            *out_ms = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

int
pt_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"yes", "true", "on", "1"};
    static const char *no[] = {"no", "false", "off", "0"};

    for (size_t i = 0; s && i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

int
pt_parse_hostport(const char *s, char *host, size_t hn, int *port)
{
    const char *colon, *hs, *he;
    int64_t p;

    if (!s || !*s)
        return -1;
    if (s[0] == '[') {
        he = strchr(s, ']');
        if (!he || he[1] != ':')
            return -1;
        hs = s + 1;
        colon = he + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return -1;
        hs = s;
        he = colon;
    }
    if (he == hs || (size_t)(he - hs) >= hn)
        return -1;
    if (pt_parse_i64(colon + 1, 0, 65535, &p) < 0)
        return -1;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    *port = (int)p;
    return 0;
}

int64_t
pt_time_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
pt_time_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
