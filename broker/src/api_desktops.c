/*
 * api_desktops.c - what a signed-in user does: list the pools they may use (with their
 * own desktop in each), launch (claim or reconnect, then a gateway ticket), and end
 * their desktop session.
 *
 * Launch, step by step: entitlement (the directory's pool rules or the pool's groups),
 * pool_claim() (one store transaction: their own desktop, else a warm one, else ...),
 * and when the desktop is ready, a ticket signed with the broker's Ed25519 key for the
 * gateway named by gateway_audience, carrying the display endpoint and, when the gateway
 * sealing key is configured, the display password sealed for the gateway. A desktop that
 * is not ready yet answers 202 with the expected wait; the client asks again (which
 * reconnects to the same desktop). Tickets are never logged.
 *
 * The display endpoint and a fresh display password come from pool/
 * (pool_desktop_display(), which reads them through hv.h, since the broker never includes
 * hypervisor/), on a worker because libvirt blocks. The password is valid for the
 * ticket's lifetime plus a margin for the gateway's connects, and only sealed into it.
 * RDP desktops sign in with the pool's credentials instead (launch_rdp.c: none, a fixed
 * account, or the user's own sign-in), and every ticket carries the pool's session policy.
 */
#include <stdlib.h>
#include <string.h>

#include "app_priv.h"
#include "common/mem.h"
#include "launch_rdp.h"

#ifdef PORTICO_HAVE_POOL

/* The session's pools: the directory's rules and the pools' groups, as of sign-in. */
static bool
entitled(const struct broker_sess *s, const struct pool_spec *spec)
{
    return auth_session_has_pool(&s->a, spec->name);
}

static json_t *
protocols_json(unsigned bits)
{
    json_t *a = json_array();

    if (bits & POOL_PROTO_RDP)
        json_array_append_new(a, json_string("rdp"));
    if (bits & POOL_PROTO_SPICE)
        json_array_append_new(a, json_string("spice"));
    if (bits & POOL_PROTO_VNC)
        json_array_append_new(a, json_string("vnc"));
    return a;
}

static json_t *
my_desktop_json(struct pool_ctx *ctx, const char *pool, const char *user)
{
    struct store_desktop d;
    struct pt_err err = {0};

    if (store_desktop_find_user(pool_ctx_store(ctx), pool, user, &d, &err) != 1)
        return json_null();
    return json_pack("{s:s,s:s,s:s}", "id", d.id, "state", d.state, "host", d.host);
}

static void
desktops_list(struct broker_req *r)
{
    struct pool_ctx *ctx = broker_app_pool_ctx(r->b);
    struct pool_status *ps = NULL;
    struct pt_err err = {0};
    size_t n = 0;
    json_t *arr;

    if (!ctx) {
        broker_req_reply_json(r, 200, json_pack("{s:[]}", "pools"));
        return;
    }
    if (pool_ctx_status(ctx, &ps, &n, &err) < 0) {
        broker_req_error_pt(r, &err);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct pool_spec *spec = pool_ctx_pool_get(ctx, ps[i].name);

        if (!spec || !entitled(r->session, spec))
            continue;
        json_array_append_new(
            arr, json_pack("{s:s,s:o,s:s,s:i,s:i,s:i,s:b,s:o}", "name", ps[i].name, "protocols",
                           protocols_json(spec->protocols), "assignment",
                           spec->assignment == POOL_ASSIGN_DEDICATED ? "dedicated" : "floating",
                           "ready", ps[i].counts[POOL_STATE_READY], "total", ps[i].total, "in_use",
                           ps[i].in_use, "available",
                           ps[i].counts[POOL_STATE_READY] > 0 || ps[i].total < ps[i].max_size,
                           "my_desktop", my_desktop_json(ctx, ps[i].name, r->session->a.user)));
    }
    free(ps);
    broker_req_reply_json(r, 200, json_pack("{s:s,s:o}", "user", r->session->a.user, "pools", arr));
}

static unsigned
pick_proto(unsigned bits, const char *want, enum auth_proto *out)
{
    static const struct {
        const char *name;
        unsigned bit;
        enum auth_proto p;
    } order[] = {{"rdp", POOL_PROTO_RDP, AUTH_PROTO_RDP},
                 {"spice", POOL_PROTO_SPICE, AUTH_PROTO_SPICE},
                 {"vnc", POOL_PROTO_VNC, AUTH_PROTO_VNC}};

    for (size_t i = 0; i < 3; i++) {
        if ((bits & order[i].bit) && (!want || strcmp(want, order[i].name) == 0)) {
            *out = order[i].p;
            return order[i].bit;
        }
    }
    return 0;
}

/* A ready claim on its way to a ticket: the display lookup (libvirt: blocks) runs on a
 * worker, the signing and the reply on the loop. */
struct ticket_job {
    struct broker_req *r;
    struct pool_ctx *ctx;
    struct pool_claim cl;
    unsigned protobit;
    enum auth_proto proto;
    int64_t t0_ms;
    char host[256];
    int port;
    char password[128];
    int64_t pw_valid_to; /* epoch seconds */
    struct pt_err err;
    int rc;
    struct broker_rdp_launch rdp; /* credentials and policy (wiped) */
    struct pt_err rdp_err;
    int rdp_rc;
};

static void
display_work(void *arg)
{
    struct ticket_job *j = arg;

    j->rc =
        pool_desktop_display(j->ctx, j->cl.host, j->cl.domain, j->protobit, j->pw_valid_to, j->host,
                             sizeof(j->host), &j->port, j->password, sizeof(j->password), &j->err);
    if (j->rc == 0 && j->proto == AUTH_PROTO_RDP)
        j->rdp_rc = broker_rdp_launch_load(&j->rdp, j->r->b->conf->rdp_password_dir, &j->rdp_err);
}

/* A launch that cannot get its RDP credentials: the user reads what the admin must fix. */
static void
rdp_refused(struct ticket_job *j, const struct pt_err *err)
{
    struct broker_req *r = j->r;

    broker_audit(r->b, r->sess.a.user, "launch", j->cl.desktop, "rdp_credentials_unavailable",
                 j->rdp.pool);
    if (err->code == PT_E_INTERNAL) {
        broker_req_error_pt(r, err);
        return;
    }
    broker_req_error(r, 503, "rdp_credentials_unavailable", "%s", err->msg);
}

/* Mint the ticket and reply (loop thread). */
static void
ticket_done(void *arg)
{
    struct ticket_job *j = arg;
    struct broker_req *r = j->r;
    struct broker_app *a = r->b->app;
    const struct broker_conf *c = r->b->conf;
    struct auth_ticket_claims tc;
    struct pt_err err = {0};
    char *ticket = NULL;

    if (j->rc < 0) {
        broker_req_error_pt(r, &j->err);
        goto out;
    }
    if (j->rdp_rc < 0) {
        rdp_refused(j, &j->rdp_err);
        goto out;
    }
    if (auth_ticket_claims_init(&tc, pt_time_wall_ms(), c->ticket_ttl_ms, &err) < 0) {
        broker_req_error_pt(r, &err);
        goto out;
    }
    pt_strlcpy(tc.host, j->host, sizeof(tc.host));
    tc.port = j->port;
    pt_strlcpy(tc.session_id, r->sess.id, sizeof(tc.session_id));
    pt_strlcpy(tc.user, r->sess.a.user, sizeof(tc.user));
    pt_strlcpy(tc.desktop, j->cl.desktop, sizeof(tc.desktop));
    pt_strlcpy(tc.audience, c->gateway_audience, sizeof(tc.audience));
    tc.proto = j->proto;
    tc.max_conns = c->ticket_max_conns;
    if (j->proto == AUTH_PROTO_RDP) {
        if (broker_rdp_launch_seal(&j->rdp, a->sealer, &tc, &err) < 0) {
            rdp_refused(j, &err);
            goto wipe;
        }
    } else if (j->password[0] && a->sealer &&
               auth_ticket_seal_secret(a->sealer, &tc, j->password, &err) < 0) {
        broker_req_error_pt(r, &err);
        goto wipe;
    }
    ticket = auth_signer_sign(a->signer, &tc, &err);
    if (!ticket) {
        broker_req_error_pt(r, &err);
        goto wipe;
    }
    broker_req_reply_json(r, 200,
                          json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s,s:I,s:s,s:s}", "state", "ready",
                                    "outcome", pool_claim_outcome_str(j->cl.outcome), "desktop",
                                    j->cl.desktop, "protocol", auth_proto_str(j->proto),
                                    "gateway_url", c->gateway_url, "ticket", ticket, "expires_at",
                                    (json_int_t)tc.expires_at, "ticket_id", tc.id, "session_id",
                                    tc.session_id));
    if (broker_app_pool_hist(r->b, true))
        broker_hist_observe(broker_app_pool_hist(r->b, true),
                            (double)(pt_time_mono_ms() - j->t0_ms) / 1000.0);
wipe:
    pt_wipe(&tc, sizeof(tc));
    pt_free_secret(ticket);
out:
    pt_wipe(j->password, sizeof(j->password));
    broker_rdp_launch_wipe(&j->rdp);
    free(j);
}

static void
reply_ticket(struct broker_req *r, struct pool_ctx *ctx, const struct pool_spec *spec,
             const struct pool_claim *cl, unsigned protobit, enum auth_proto proto, int64_t t0_ms)
{
    struct ticket_job *j;
    struct pt_err err = {0};

    j = pt_xcalloc(1, sizeof(*j));
    if (proto == AUTH_PROTO_RDP && broker_rdp_launch_prepare(&j->rdp, spec, &r->sess, &err) < 0) {
        broker_rdp_launch_wipe(&j->rdp);
        free(j);
        broker_req_error(r, 401, "sign_in_again", "%s", err.msg);
        return;
    }
    j->r = r;
    j->ctx = ctx;
    j->cl = *cl;
    j->protobit = protobit;
    j->proto = proto;
    j->t0_ms = t0_ms;
    /* the gateway connects within the ticket's lifetime (SPICE: several channels) */
    j->pw_valid_to = (pt_time_wall_ms() + r->b->conf->ticket_ttl_ms) / 1000 + 30;
    broker_req_submit(r, display_work, ticket_done, j);
}

static void
launch(struct broker_req *r)
{
    struct pool_ctx *ctx = broker_app_pool_ctx(r->b);
    const struct pool_spec *spec;
    struct pool_claim cl;
    struct pt_err err = {0};
    enum auth_proto proto = AUTH_PROTO_VNC;
    const char *want = NULL;
    char want_buf[16] = "";
    json_t *body = NULL;
    unsigned bit;
    int64_t t0 = pt_time_mono_ms();

    spec = ctx ? pool_ctx_pool_get(ctx, r->params[0]) : NULL;
    if (!spec) {
        broker_req_error(r, 404, "pool_not_found", "no pool named %s", r->params[0]);
        return;
    }
    if (!entitled(r->session, spec)) {
        broker_req_error(r, 403, "not_entitled",
                         "%s may not use pool %s; ask an administrator to add you to one of "
                         "its groups",
                         r->session->a.user, r->params[0]);
        return;
    }
    if (r->body.len) {
        body = broker_req_json_body(r);
        if (!body)
            return;
        want = json_string_value(json_object_get(body, "protocol"));
        if (want) {
            pt_strlcpy(want_buf, want, sizeof(want_buf));
            want = want_buf;
        }
    }
    bit = pick_proto(spec->protocols, want, &proto);
    json_decref(body);
    if (!bit) {
        broker_req_error(r, 400, "protocol_not_offered", "pool %s does not offer %s", r->params[0],
                         want ? want : "any protocol");
        return;
    }
    /* single sign-on needs the password kept at sign-in: ask for it before claiming */
    if (proto == AUTH_PROTO_RDP && spec->rdp_credentials == POOL_RDP_CREDS_SSO &&
        r->session->a.sealed_pw_len == 0) {
        broker_req_error(r, 401, "sign_in_again",
                         "pool %s signs you in to its desktop with your own password, which "
                         "this session does not hold; sign in again",
                         r->params[0]);
        return;
    }
    memset(&cl, 0, sizeof(cl));
    if (pool_claim(ctx, r->params[0], r->session->a.user, &cl, &err) < 0) {
        broker_audit(r->b, r->session->a.user, "launch", r->params[0], pt_errc_str(err.code),
                     err.msg);
        if (err.code == PT_E_LIMIT) {
            broker_req_error(r, 503, "pool_exhausted",
                             "no desktop is free in %s and the pool is at its maximum; try "
                             "again in a few minutes",
                             r->params[0]);
            return;
        }
        broker_req_error_pt(r, &err);
        return;
    }
    pt_logc(&r->log, LOG_NOTICE, "event=launch pool=%s desktop=%s outcome=%s ready=%d",
            r->params[0], cl.desktop, pool_claim_outcome_str(cl.outcome), cl.ready);
    broker_audit(r->b, r->session->a.user, "launch", cl.desktop, pool_claim_outcome_str(cl.outcome),
                 r->params[0]);
    broker_app_pool_wait_note(r->b, cl.desktop, cl.ready);
    if (!cl.ready) {
        broker_req_reply_json(r, 202,
                              json_pack("{s:s,s:s,s:s,s:s,s:I,s:i}", "state",
                                        pool_state_str(cl.state), "outcome",
                                        pool_claim_outcome_str(cl.outcome), "desktop", cl.desktop,
                                        "pool", r->params[0], "expected_wait_ms",
                                        (json_int_t)cl.expected_wait_ms, "retry_after_ms", 1000));
        return;
    }
    reply_ticket(r, ctx, spec, &cl, bit, proto, t0);
}

static void
end_session(struct broker_req *r)
{
    struct pool_ctx *ctx = broker_app_pool_ctx(r->b);
    struct store_desktop d;
    struct pt_err err = {0};
    int found;

    if (!ctx || !pool_ctx_pool_get(ctx, r->params[0])) {
        broker_req_error(r, 404, "pool_not_found", "no pool named %s", r->params[0]);
        return;
    }
    found =
        store_desktop_find_user(pool_ctx_store(ctx), r->params[0], r->session->a.user, &d, &err);
    if (found < 0) {
        broker_req_error_pt(r, &err);
        return;
    }
    if (found == 0) {
        broker_req_error(r, 404, "no_desktop", "you hold no desktop in pool %s", r->params[0]);
        return;
    }
    if (pool_desktop_report(ctx, d.id, r->session->a.user, POOL_SESSION_LOGOFF, &err) < 0) {
        broker_req_error_pt(r, &err);
        return;
    }
    broker_audit(r->b, r->session->a.user, "logoff", d.id, "ok", r->params[0]);
    broker_req_reply_json(r, 200, json_pack("{s:s,s:b}", "desktop", d.id, "ended", 1));
}

#define USER   (BROKER_R_SESSION)
#define USER_W (BROKER_R_SESSION | BROKER_R_CSRF)

const struct broker_route broker_routes_desktops[] = {
    {BROKER_GET, "/api/v1/desktops", USER, desktops_list},
    {BROKER_POST, "/api/v1/pools/{}/launch", USER_W, launch},
    {BROKER_POST, "/api/v1/pools/{}/logoff", USER_W, end_session},
    {0, NULL, 0, NULL},
};

#endif
