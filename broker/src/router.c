/*
 * router.c - method + path pattern → handler, and the checks a route asks for.
 *
 * Each API file exports one table of routes. A pattern is a literal path where "{}"
 * stands for exactly one non-empty segment, handed to the handler in r->params (lws has
 * already URL-decoded and canonicalised the path, so it is not decoded twice). Matching is a linear
 * walk: there are a few dozen routes and a request touches each once, which costs less than
 * building anything smarter. When the path matches but not the method, the caller answers 405 with
 * an Allow header naming the methods that would have worked. Route flags (session, admin, CSRF,
 * gateway bearer) are enforced here, before any handler runs, so a handler cannot forget them.
 */
#include <string.h>

#include "broker_priv.h"
#include "common/str.h"

int broker_route_guard(struct broker_req *r, int flags); /* api_session.c */

static const struct broker_route *const tables[] = {
    broker_routes_health,         broker_routes_session,
    broker_routes_desktops,       broker_routes_admin_pool,
    broker_routes_admin_sessions, broker_routes_admin_users,
    broker_routes_gateway,        NULL,
};

/* Match @path against @pattern; fill params on success. */
static bool
pattern_match(const char *pattern, const char *path, char params[][BROKER_MAX_PARAM], int *np)
{
    const char *p = pattern, *s = path;
    int n = 0;

    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);

            if (len == 0 || n >= BROKER_MAX_PARAMS)
                return false;
            if (len >= BROKER_MAX_PARAM)
                return false;
            if (params) {
                memcpy(params[n], s, len);
                params[n][len] = '\0';
            }
            n++;
            p += 2;
            s += len;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (*p || *s)
        return false;
    if (np)
        *np = n;
    return true;
}

enum broker_match
broker_router_match(int method, const char *path, const struct broker_route **out,
                    char params[][BROKER_MAX_PARAM], int *nparams, int *allowed)
{
    int allow = 0;

    /* HEAD is GET without the body (the server drops it). */
    int want = method == BROKER_HEAD ? BROKER_GET : method;

    for (const struct broker_route *const *t = tables; *t; t++) {
        for (const struct broker_route *rt = *t; rt->pattern; rt++) {
            if (!pattern_match(rt->pattern, path, NULL, NULL))
                continue;
            if (rt->method & want) {
                if (!pattern_match(rt->pattern, path, params, nparams))
                    return BROKER_MATCH_NONE; /* a segment too long */
                *out = rt;
                return BROKER_MATCH_OK;
            }
            allow |= rt->method;
        }
    }
    if (allowed)
        *allowed = allow;
    return allow ? BROKER_MATCH_METHOD : BROKER_MATCH_NONE;
}

void
broker_router_dispatch(struct broker_req *r)
{
    const struct broker_route *rt = r->route;

    if (rt->flags && broker_route_guard(r, rt->flags) < 0)
        return; /* the guard replied */
    rt->handler(r);
}
