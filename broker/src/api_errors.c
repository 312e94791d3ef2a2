/*
 * api_errors.c - the one table from pt_errc to HTTP status, and the JSON error body.
 *
 * Every error the API returns has the shape
 *   {"error": {"code": "stable_code", "message": "what happened and what to do"}}
 * Codes are stable strings clients may switch on (docs/api.md lists them); messages are
 * for people and may change. Module errors keep their pt_errc name as the code
 * ("not_found", "conflict", ...); the HTTP layer adds its own precise codes
 * ("body_too_large", "csrf_missing", "method_not_allowed", ...).
 */
#include <stdarg.h>
#include <stdio.h>

#include "broker_priv.h"

static const struct {
    enum pt_errc code;
    int status;
} status_table[] = {
    {PT_E_OK, 200},       {PT_E_INVALID, 400},  {PT_E_AUTH, 401},     {PT_E_FORBIDDEN, 403},
    {PT_E_NOTFOUND, 404}, {PT_E_CONFLICT, 409}, {PT_E_LIMIT, 429},    {PT_E_UNAVAILABLE, 503},
    {PT_E_TIMEOUT, 504},  {PT_E_IO, 500},       {PT_E_INTERNAL, 500},
};

int
broker_errc_status(enum pt_errc c)
{
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++) {
        if (status_table[i].code == c)
            return status_table[i].status;
    }
    return 500;
}

void
broker_req_error(struct broker_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (status >= 500)
        pt_logc(&r->log, LOG_WARNING, "event=api_error status=%d code=%s msg=\"%s\"", status, code,
                msg);
    else
        pt_logc(&r->log, LOG_INFO, "event=api_error status=%d code=%s", status, code);
    broker_req_reply_json(r, status,
                          json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void
broker_req_error_pt(struct broker_req *r, const struct pt_err *err)
{
    enum pt_errc c = err && err->code != PT_E_OK ? err->code : PT_E_INTERNAL;
    const char *msg = err && err->msg[0] ? err->msg : "internal error: see the broker log";

    broker_req_error(r, broker_errc_status(c), pt_errc_str(c), "%s", msg);
}
