/*
 * str.h - growable byte buffers and small string helpers.
 */
#ifndef PT_COMMON_STR_H
#define PT_COMMON_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable buffer; data is always NUL-terminated (len excludes the NUL). */
struct pt_buf {
    char *data;
    size_t len;
    size_t cap;
};

#define PT_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void pt_buf_reserve(struct pt_buf *b, size_t extra);
void pt_buf_append(struct pt_buf *b, const void *data, size_t len);
void pt_buf_appends(struct pt_buf *b, const char *s);
void pt_buf_appendf(struct pt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pt_buf_reset(struct pt_buf *b); /* len = 0, memory kept */
/* pt_buf_steal() - returns new: the NUL-terminated contents; @b is empty afterwards. */
char *pt_buf_steal(struct pt_buf *b);
void pt_buf_fini(struct pt_buf *b);

/* pt_strlcpy() - BSD strlcpy: copies at most size-1 bytes, returns strlen(src). */
size_t pt_strlcpy(char *dst, const char *src, size_t size);
bool pt_str_has_prefix(const char *s, const char *prefix);
/* pt_str_trim() - strip leading and trailing ASCII white space in place; returns @s moved. */
char *pt_str_trim(char *s);
/* pt_str_eq_ct() - constant-time comparison of two equal-length byte strings. */
bool pt_mem_eq_ct(const void *a, const void *b, size_t len);

/*
 * pt_parse_u64() / pt_parse_i64() - whole-string decimal parse with bounds. Returns 0, or
 * -1 if @s is empty, has trailing bytes, or is outside [min, max].
 */
int pt_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* pt_parse_duration_ms() - "250ms", "30s", "5m", "2h", "1d" or a bare number of seconds. */
int pt_parse_duration_ms(const char *s, int64_t *out_ms);
/* pt_parse_bool() - yes/no, true/false, on/off, 1/0. */
int pt_parse_bool(const char *s, bool *out);
/* pt_parse_hostport() - "host:port" or "[v6]:port" into @host (size @hn) and @port. */
int pt_parse_hostport(const char *s, char *host, size_t hn, int *port);

/* Clocks in milliseconds: wall clock (for expiries on the wire) and monotonic (for deadlines). */
int64_t pt_time_wall_ms(void);
int64_t pt_time_mono_ms(void);

#endif
