/*
 * api_admin_sessions.c - admin: the signed-in sessions and their open tunnels; ending a
 * session (the user must sign in again; tunnels already open stay with the gateway until
 * they close).
 */
#include <string.h>

#include "app_priv.h"
#include "common/mem.h"

struct list_ctx {
    struct broker *b;
    json_t *arr;
};

static void
add_session(const char *id, const struct auth_session *s, void *arg)
{
    struct list_ctx *lc = arg;
    json_t *j = broker_session_json(lc->b, id, s, NULL);
    json_t *tun = json_array();
    int64_t now = pt_time_wall_ms();

    for (size_t i = 0; i < lc->b->ntunnels; i++) {
        const struct broker_tunnel *t = &lc->b->tunnels[i];

        if (id[0] && strcmp(t->session_id, id) == 0)
            json_array_append_new(tun,
                                  json_pack("{s:s,s:s}", "tunnel", t->id, "desktop", t->desktop));
    }
    json_object_set_new(j, "tunnels", tun);
    json_object_set_new(j, "age_s", json_integer((now - s->created_ms) / 1000));
    json_object_set_new(j, "idle_s", json_integer((now - s->last_seen_ms) / 1000));
    json_array_append_new(lc->arr, j);
}

static void
sessions_list(struct broker_req *r)
{
    struct list_ctx lc = {r->b, json_array()};
    json_t *tunnels = json_array();

    broker_sess_foreach(r->b->sessions, add_session, &lc);
    for (size_t i = 0; i < r->b->ntunnels; i++) {
        const struct broker_tunnel *t = &r->b->tunnels[i];

        json_array_append_new(tunnels, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "gateway", t->gateway,
                                                 "tunnel", t->id, "desktop", t->desktop, "user",
                                                 t->user, "session_id", t->session_id, "opened_at",
                                                 (json_int_t)t->opened_ms));
    }
    broker_req_reply_json(r, 200, json_pack("{s:o,s:o}", "sessions", lc.arr, "tunnels", tunnels));
}

static void
session_disconnect(struct broker_req *r)
{
    char user[256];

    if (broker_sess_end_id(r->b->sessions, r->params[0], user, sizeof(user)) < 0) {
        broker_req_error(r, 404, "not_found", "no session %s (see GET /api/v1/admin/sessions)",
                         r->params[0]);
        return;
    }
    pt_logc(&r->log, LOG_NOTICE, "event=session_disconnect session=%s user=%s", r->params[0], user);
    broker_audit(r->b, r->sess.a.user, "session.disconnect", r->params[0], "ok", user);
    broker_req_reply_json(
        r, 200,
        json_pack("{s:s,s:s,s:b}", "session_id", r->params[0], "user", user, "disconnected", 1));
}

#define ADMIN   (BROKER_R_SESSION | BROKER_R_ADMIN)
#define ADMIN_W (BROKER_R_SESSION | BROKER_R_ADMIN | BROKER_R_CSRF)

const struct broker_route broker_routes_admin_sessions[] = {
    {BROKER_GET, "/api/v1/admin/sessions", ADMIN, sessions_list},
    {BROKER_POST, "/api/v1/admin/sessions/{}/disconnect", ADMIN_W, session_disconnect},
    {BROKER_DELETE, "/api/v1/admin/sessions/{}", ADMIN_W, session_disconnect},
    {0, NULL, 0, NULL},
};
