/*
 * api_gateway.c - POST /api/v1/gateway/tunnels: the gateway tells the broker a tunnel
 * opened or closed, so the broker knows who is connected (admin session list, metrics)
 * and the pool can apply its idle and disconnect timeouts.
 *
 * The gateway authenticates with "Authorization: Bearer <shared secret>" (route flag
 * BROKER_R_GATEWAY; compared in constant time). Body, as docs/gateway.md defines it:
 *   {"event":"opened|closed","gateway":"gw-1","tunnel":id,"ticket_id":"..",
 *    "session_id":"..","desktop":"..","user":"..","bytes_up":n,"bytes_down":n}
 * Unknown fields are ignored so the gateway may add some; missing required ones (event,
 * gateway, tunnel, desktop, user) are 400. Tunnels are keyed by (gateway, tunnel).
 */
#include <stdlib.h>
#include <string.h>

#include "app_priv.h"
#include "common/mem.h"

/* Copy a string field of at most @n-1 bytes; false if absent, not a string or too long. */
static bool
field(json_t *o, const char *key, char *out, size_t n)
{
    const char *v = json_string_value(json_object_get(o, key));

    if (!v || strlen(v) >= n)
        return false;
    pt_strlcpy(out, v, n);
    return true;
}

/* Tunnel ids are unique per gateway process only: tunnels are keyed by (gateway, tunnel)
 * as docs/gateway.md says, and by the ticket id too when both reports carry it. */
static int
find_tunnel(struct broker *b, const struct broker_tunnel *t)
{
    for (size_t i = 0; i < b->ntunnels; i++) {
        if (strcmp(b->tunnels[i].id, t->id) == 0 &&
            strcmp(b->tunnels[i].gateway, t->gateway) == 0 &&
            (!t->ticket_id[0] || !b->tunnels[i].ticket_id[0] ||
             strcmp(b->tunnels[i].ticket_id, t->ticket_id) == 0))
            return (int)i;
    }
    return -1;
}

static void
tunnel_report(struct broker_req *r)
{
    struct broker *b = r->b;
    struct broker_tunnel t = {0};
    json_t *body = broker_req_json_body(r);
    json_t *jt;
    char event[16];
    int idx;

    if (!body)
        return;
    jt = json_object_get(body, "tunnel");
    if (json_is_integer(jt))
        snprintf(t.id, sizeof(t.id), "%lld", (long long)json_integer_value(jt));
    else if (!field(body, "tunnel", t.id, sizeof(t.id)))
        t.id[0] = '\0';
    /* the gateway id is required: tunnel ids are per gateway process, so without it two
     * gateways' tunnel 17 would be one tunnel here and one's close would end the other */
    if (!field(body, "event", event, sizeof(event)) || !t.id[0] ||
        !field(body, "gateway", t.gateway, sizeof(t.gateway)) || !t.gateway[0] ||
        !field(body, "desktop", t.desktop, sizeof(t.desktop)) ||
        !field(body, "user", t.user, sizeof(t.user))) {
        json_decref(body);
        broker_req_error(r, 400, "invalid_request",
                         "send {\"event\":\"opened|closed\",\"gateway\":id,\"tunnel\":id,"
                         "\"desktop\":..,\"user\":..} (see docs/gateway.md)");
        return;
    }
    field(body, "ticket_id", t.ticket_id, sizeof(t.ticket_id));
    field(body, "session_id", t.session_id, sizeof(t.session_id));
    t.bytes_up = json_integer_value(json_object_get(body, "bytes_up"));
    t.bytes_down = json_integer_value(json_object_get(body, "bytes_down"));
    json_decref(body);
    idx = find_tunnel(b, &t);
    if (strcmp(event, "opened") == 0) {
        t.opened_ms = pt_time_wall_ms();
        if (idx < 0) {
            b->tunnels = pt_xreallocarray(b->tunnels, b->ntunnels + 1, sizeof(*b->tunnels));
            b->tunnels[b->ntunnels++] = t;
        }
        b->tunnels_opened++;
    } else if (strcmp(event, "closed") == 0) {
        if (idx >= 0) {
            t.opened_ms = b->tunnels[idx].opened_ms;
            b->tunnels[idx] = b->tunnels[--b->ntunnels];
        }
        b->tunnels_closed++;
    } else {
        broker_req_error(r, 400, "invalid_request", "event must be \"opened\" or \"closed\"");
        return;
    }
    pt_logc(&r->log, LOG_NOTICE,
            "event=tunnel_%s gateway=%s tunnel=%s desktop=%s user=%s session=%s bytes_up=%lld "
            "bytes_down=%lld",
            event, t.gateway, t.id, t.desktop, t.user, t.session_id[0] ? t.session_id : "-",
            (long long)t.bytes_up, (long long)t.bytes_down);
    broker_app_tunnel_event(b, &t, strcmp(event, "opened") == 0);
    broker_req_reply_json(r, 200,
                          json_pack("{s:b,s:I}", "ok", 1, "tunnels_open", (json_int_t)b->ntunnels));
}

const struct broker_route broker_routes_gateway[] = {
    {BROKER_POST, "/api/v1/gateway/tunnels", BROKER_R_GATEWAY, tunnel_report},
    {0, NULL, 0, NULL},
};
