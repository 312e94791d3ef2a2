/*
 * log.c - the process-wide log stream.
 *
 * The only mutable state is struct log_state below: set once by pt_log_init() at start
 * (before threads exist) and read afterwards; the level is atomic so it can change at
 * run time (SIGHUP reload). Each line is formatted into a stack buffer and written with
 * a single write(2): atomic for lines under PIPE_BUF on pipes, and never interleaved.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048

static struct log_state {
    char progname[64];
    enum pt_log_sink sink;
    atomic_int level;
} g_log = {"portico", PT_LOG_STDERR, LOG_INFO};

static const char *
prio_name(int prio)
{
    switch (prio) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
        return "crit";
    case LOG_ERR:
        return "error";
    case LOG_WARNING:
        return "warning";
    case LOG_NOTICE:
        return "notice";
    case LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void
pt_log_init(const char *progname, enum pt_log_sink sink, int level)
{
    snprintf(g_log.progname, sizeof(g_log.progname), "%s", progname ? progname : "portico");
    g_log.sink = sink;
    atomic_store(&g_log.level, level);
    if (sink == PT_LOG_SYSLOG)
        openlog(g_log.progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
pt_log_set_level(int level)
{
    atomic_store(&g_log.level, level);
}

int
pt_log_get_level(void)
{
    return atomic_load(&g_log.level);
}

bool
pt_log_enabled(int prio)
{
    return prio <= atomic_load(&g_log.level);
}

int
pt_log_level_parse(const char *s)
{
    static const struct {
        const char *name;
        int prio;
    } names[] = {
        {"crit", LOG_CRIT},     {"error", LOG_ERR}, {"warning", LOG_WARNING}, {"warn", LOG_WARNING},
        {"notice", LOG_NOTICE}, {"info", LOG_INFO}, {"debug", LOG_DEBUG},
    };

    for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].prio;
    return -1;
}

static void
emit(int prio, const char *ctx, const char *msg, const char *suffix)
{
    char line[LINE_MAX_BYTES];
    struct timespec ts;
    struct tm tm;
    int n;

    if (g_log.sink == PT_LOG_SYSLOG) {
        syslog(prio, "level=%s %s%s%s%s", prio_name(prio), ctx ? ctx : "", ctx ? " " : "", msg,
               suffix ? suffix : "");
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] level=%s %s%s%s%s", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                 g_log.progname, (int)getpid(), prio_name(prio), ctx ? ctx : "",
                 ctx && *ctx ? " " : "", msg, suffix ? suffix : "");
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* Nothing useful can be done if stderr is gone; the result is deliberately ignored. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

static void __attribute__((format(printf, 4, 0)))
vlog(const char *ctx, int prio, const char *suffix, const char *fmt, va_list ap)
{
    char msg[LINE_MAX_BYTES - 128];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    emit(prio, ctx, msg, suffix);
}

void
pt_log(int prio, const char *fmt, ...)
{
    va_list ap;

    if (!pt_log_enabled(prio))
        return;
    va_start(ap, fmt);
    vlog(NULL, prio, NULL, fmt, ap);
    va_end(ap);
}

void
pt_log_errno(int prio, const char *fmt, ...)
{
    char suffix[160];
    int saved = errno;
    va_list ap;

    if (!pt_log_enabled(prio))
        return;
    snprintf(suffix, sizeof(suffix), ": %s", strerror(saved));
    va_start(ap, fmt);
    vlog(NULL, prio, suffix, fmt, ap);
    va_end(ap);
    errno = saved;
}

void
pt_logc(const struct pt_log_ctx *ctx, int prio, const char *fmt, ...)
{
    va_list ap;

    if (!pt_log_enabled(prio))
        return;
    va_start(ap, fmt);
    vlog(ctx ? ctx->kv : NULL, prio, NULL, fmt, ap);
    va_end(ap);
}

void
pt_log_ctx_set(struct pt_log_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->kv, sizeof(ctx->kv), fmt, ap);
    va_end(ap);
}

void
pt_log_lib(const char *lib, int prio, const char *line)
{
    char buf[LINE_MAX_BYTES - 256];
    size_t n;

    if (!pt_log_enabled(prio) || !line)
        return;
    snprintf(buf, sizeof(buf), "%s", line);
    n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    pt_log(prio, "lib=%s %s", lib, buf);
}

const char *
pt_log_value_quote(const char *in, char *out, unsigned n)
{
    size_t o = 0;
    bool quote = false;

    if (!n)
        return "";
    for (const char *p = in; *p; p++)
        if (*p == ' ' || *p == '=' || *p == '"' || (unsigned char)*p < 0x20)
            quote = true;
    if (!quote) {
        snprintf(out, n, "%s", in);
        return out;
    }
    if (o + 1 < n)
        out[o++] = '"';
    for (const char *p = in; *p && o + 3 < n; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            out[o++] = '\\';
        out[o++] = c < 0x20 ? '?' : (char)c;
    }
    if (o + 1 < n)
        out[o++] = '"';
    out[o] = '\0';
    return out;
}
