/*
 * log.h - one log stream for the whole process.
 *
 * Lines are key=value text so they grep well and parse easily:
 *   2026-11-23T11:45:00.123Z portico-broker[812] level=info req=4f1c event=login user=alice
 * Context (a request or session id) is passed explicitly with struct pt_log_ctx; there
 * is no thread-local magic. Libraries' own logs (lws, libvirt, FreeRDP) are routed in
 * through pt_log_lib(). Never pass a password, ticket or key to any of these functions.
 *
 * Thread: every function may be called from any thread; a line is written with one
 * write(2) so lines from different threads never interleave.
 */
#ifndef PT_COMMON_LOG_H
#define PT_COMMON_LOG_H

#include <stdbool.h>
#include <syslog.h>

enum pt_log_sink {
    PT_LOG_STDERR,
    PT_LOG_SYSLOG,
};

/* Per-request / per-session context, rendered as a prefix: "req=… user=…". */
struct pt_log_ctx {
    char kv[160];
};

/* pt_log_init() - set the program name, the sink and the level (a LOG_* priority). */
void pt_log_init(const char *progname, enum pt_log_sink sink, int level);
void pt_log_set_level(int level);
int pt_log_get_level(void);
bool pt_log_enabled(int prio);

/* pt_log_level_parse() - "error|warning|notice|info|debug" → LOG_*, or -1. */
int pt_log_level_parse(const char *s);

void pt_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* pt_log_errno() - as pt_log(), with ": strerror(errno)" appended. */
void pt_log_errno(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* pt_log_ctx() - as pt_log(), with @ctx's key=value prefix (NULL-safe). */
void pt_logc(const struct pt_log_ctx *ctx, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* pt_log_ctx_set() - fill @ctx from a format, e.g. ("req=%s user=%s", id, user). */
void pt_log_ctx_set(struct pt_log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * pt_log_lib() - route a library's line into our stream as "lib=@lib msg". Trailing
 * newlines are trimmed. Use it from the library's log callback.
 */
void pt_log_lib(const char *lib, int prio, const char *line);

/* pt_log_value_quote() - copy @in into @out (size @n) quoted if it holds spaces, '=' or '"'. */
const char *pt_log_value_quote(const char *in, char *out, unsigned n);

#define pt_fatal(...)                                                                              \
    do {                                                                                           \
        pt_log_errno(LOG_CRIT, __VA_ARGS__);                                                       \
        _Exit(1);                                                                                  \
    } while (0)
#define pt_fatalx(...)                                                                             \
    do {                                                                                           \
        pt_log(LOG_CRIT, __VA_ARGS__);                                                             \
        _Exit(1);                                                                                  \
    } while (0)
#define pt_warn(...)  pt_log_errno(LOG_WARNING, __VA_ARGS__)
#define pt_warnx(...) pt_log(LOG_WARNING, __VA_ARGS__)
#define pt_info(...)  pt_log(LOG_INFO, __VA_ARGS__)
#define pt_debug(...)                                                                              \
    do {                                                                                           \
        if (pt_log_enabled(LOG_DEBUG))                                                             \
            pt_log(LOG_DEBUG, __VA_ARGS__);                                                        \
    } while (0)

#endif
