/*
 * api_session.c - sign in, sign out, who am I, and the guard the router runs before any
 * route that needs a signed-in user, an admin, a CSRF token or the gateway's secret.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_priv.h"
#include "common/mem.h"
#include "common/str.h"

struct broker_session {
    char user[256];
};

void broker_session_free(struct broker_session *s);
int broker_route_guard(struct broker_req *r, int flags);

void
broker_session_free(struct broker_session *s)
{
    free(s);
}

static int
guard_gateway(struct broker_req *r)
{
    const char *secret = r->b->conf->gateway_secret;
    char hdr[600];
    const char *tok;

    if (!secret) {
        broker_req_error(r, 503, "gateway_not_configured",
                         "this broker has no gateway_secret_file; set it in [broker]");
        return -1;
    }
    if (broker_req_authorization(r, hdr, sizeof(hdr)) < 0 || !pt_str_has_prefix(hdr, "Bearer ")) {
        broker_req_error(r, 401, "gateway_unauthenticated",
                         "send Authorization: Bearer <gateway secret>");
        return -1;
    }
    tok = hdr + 7;
    if (strlen(tok) != strlen(secret) || !pt_mem_eq_ct(tok, secret, strlen(secret))) {
        broker_req_error(r, 401, "gateway_unauthenticated", "the gateway secret does not match");
        return -1;
    }
    return 0;
}

int
broker_route_guard(struct broker_req *r, int flags)
{
    if (flags & BROKER_R_GATEWAY)
        return guard_gateway(r);
    if (flags & BROKER_R_SESSION) {
        broker_req_error(r, 401, "not_signed_in", "sign in first: POST /api/v1/login");
        return -1;
    }
    return 0;
}

const struct broker_route broker_routes_session[] = {
    {0, NULL, 0, NULL},
};
const struct broker_route broker_routes_desktops[] = {
    {0, NULL, 0, NULL},
};
const struct broker_route broker_routes_admin[] = {
    {0, NULL, 0, NULL},
};
const struct broker_route broker_routes_gateway[] = {
    {0, NULL, 0, NULL},
};
