/*
 * err.c - struct pt_err helpers. Messages are truncated, never overflowed: a message is
 * for a person, and 255 bytes is plenty to say what happened and what to do.
 */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
pt_err_set(struct pt_err *err, enum pt_errc code, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int
pt_err_prefix(struct pt_err *err, const char *fmt, ...)
{
    char old[sizeof(err->msg)];
    size_t n;
    va_list ap;

    if (!err)
        return -1;
    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    /* Truncation is fine: the message is for a person, the code carries the meaning. */
    if (n + 2 < sizeof(err->msg)) {
        size_t room = sizeof(err->msg) - n - 3, olen = strnlen(old, sizeof(old) - 1);

        memcpy(err->msg + n, ": ", 2);
        if (olen > room)
            olen = room;
        memcpy(err->msg + n + 2, old, olen);
        err->msg[n + 2 + olen] = '\0';
    }
    if (err->code == PT_E_OK)
        err->code = PT_E_INTERNAL;
    return -1;
}

void
pt_err_clear(struct pt_err *err)
{
    if (!err)
        return;
    err->code = PT_E_OK;
    err->msg[0] = '\0';
}

int
pt_err_is_set(const struct pt_err *err)
{
    return err && err->code != PT_E_OK;
}

const char *
pt_errc_str(enum pt_errc code)
{
    switch (code) {
    case PT_E_OK:
        return "ok";
    case PT_E_INVALID:
        return "invalid";
    case PT_E_AUTH:
        return "unauthenticated";
    case PT_E_FORBIDDEN:
        return "forbidden";
    case PT_E_NOTFOUND:
        return "not_found";
    case PT_E_CONFLICT:
        return "conflict";
    case PT_E_LIMIT:
        return "limit";
    case PT_E_UNAVAILABLE:
        return "unavailable";
    case PT_E_TIMEOUT:
        return "timeout";
    case PT_E_IO:
        return "io";
    case PT_E_INTERNAL:
        return "internal";
    }
    return "internal";
}
