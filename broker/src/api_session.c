/*
 * api_session.c - sign in, sign out, who am I; and the guard the router runs before any
 * route that needs a signed-in user, an admin, a CSRF token or the gateway's secret.
 *
 * Sign-in binds to the directory on a worker (auth/directory.h blocks), then creates the
 * session on the loop. The password is copied into the job, the request body and the
 * JSON string holding it are wiped at once, and the copy is wiped once the session exists.
 * When one of the user's pools signs in to its RDP desktops with the user's own password
 * (rdp_credentials = sso), the session keeps it sealed (auth/session.h); otherwise the
 * broker forgets it with the bind.
 * The session cookie is HttpOnly, Secure, SameSite=Strict; the CSRF token travels in the
 * JSON body and must come back in X-CSRF-Token on every state-changing call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_priv.h"
#include "common/mem.h"
#include "common/str.h"

#define COOKIE_NAME "portico_session"

int broker_route_guard(struct broker_req *r, int flags);

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
    char tok[128], csrf[128];
    bool had_cookie;
    int n;

    if (flags & BROKER_R_GATEWAY)
        return guard_gateway(r);
    if (!(flags & BROKER_R_SESSION))
        return 0;
    had_cookie = broker_req_cookie(r, COOKIE_NAME, tok, sizeof(tok)) > 0;
    if (!had_cookie) {
        broker_req_error(r, 401, "not_signed_in", "sign in first: POST /api/v1/login");
        return -1;
    }
    n = broker_sess_lookup(r->b->sessions, tok, pt_time_wall_ms(), &r->sess);
    pt_wipe(tok, sizeof(tok));
    if (n < 0) {
        broker_req_error(r, 401, "session_expired",
                         "your session has expired or was ended; sign in again "
                         "(POST /api/v1/login)");
        return -1;
    }
    r->session = &r->sess;
    pt_log_ctx_set(&r->log, "req=%s session=%s user=%s", r->id, r->sess.id, r->sess.a.user);
    if (flags & BROKER_R_CSRF) {
        n = broker_req_header(r, "x-csrf-token:", csrf, sizeof(csrf));
        /* lws keeps custom request headers on HTTP/1.1 only: over h2 a browser's
         * X-CSRF-Token never reaches us. There a state-changing call without it is taken
         * only from the broker's own origin (Origin equal to https://<:authority>, which a
         * cross-origin page cannot forge), on top of the SameSite=Strict cookie. */
        if (n > 0 && !broker_sess_csrf_ok(&r->sess, csrf)) {
            broker_req_error(r, 403, "csrf_mismatch",
                             "X-CSRF-Token does not match this session; sign in again");
            return -1;
        }
        if (n <= 0 && !(r->is_h2 && broker_req_same_origin(r))) {
            broker_req_error(r, 403, "csrf_missing",
                             "state-changing calls need the X-CSRF-Token header with the "
                             "csrf_token from sign-in");
            return -1;
        }
    }
    if ((flags & BROKER_R_ADMIN) && !r->sess.a.admin) {
        broker_req_error(r, 403, "admin_required",
                         "%s is not in the admin group; ask an administrator", r->sess.a.user);
        return -1;
    }
    return 0;
}

json_t *
broker_session_json(const struct broker *b, const char *id, const struct auth_session *s,
                    const char *csrf)
{
    json_t *pools = json_array();
    json_t *j;
    const char *p = s->pools;

    while (*p) {
        size_t len = strcspn(p, "\n");

        if (len)
            json_array_append_new(pools, json_stringn(p, len));
        p += len;
        if (*p == '\n')
            p++;
    }
    j = json_pack("{s:s,s:s,s:b,s:o,s:s}", "user", s->user, "display",
                  s->display[0] ? s->display : s->user, "admin", s->admin, "pools", pools,
                  "session_id", id);
    if (csrf)
        json_object_set_new(j, "csrf_token", json_string(csrf));
    json_object_set_new(j, "idle_timeout_s", json_integer(b->conf->session_idle_ms / 1000));
    return j;
}

/* ---- POST /api/v1/login ----------------------------------------------------------------- */

struct login_job {
    struct broker_req *r;
    struct broker_app *app;
    char user[AUTH_DIR_MAX_LOGIN + 1];
    char *password;
    struct auth_dir_user *du;
    struct pt_err err;
    int rc;
};

static void
login_work(void *arg)
{
    struct login_job *j = arg;
#ifdef PORTICO_HAVE_AUTH
    struct auth_dir_conn *c = broker_app_dir_checkout(j->app);

    j->rc = auth_dir_conn_login(c, j->user, j->password, &j->du, &j->err);
    broker_app_dir_checkin(j->app, c);
#else
    j->rc = pt_err_set(&j->err, PT_E_UNAVAILABLE, "built without auth/");
#endif
}

static const char *
signin_result(enum pt_errc c)
{
    switch (c) {
    case PT_E_AUTH:
        return "bad_credentials";
    case PT_E_FORBIDDEN:
        return "disabled";
    case PT_E_UNAVAILABLE:
    case PT_E_TIMEOUT:
        return "directory_unavailable";
    default:
        return "error";
    }
}

#ifdef PORTICO_HAVE_AUTH
static void
throttle_audit(struct broker *b, const struct auth_audit_event *ev)
{
    char detail[128];

    if (ev->kind == AUTH_AUDIT_NONE)
        return;
    snprintf(detail, sizeof(detail), "addr=%s failures=%d until=%lld", ev->addr, ev->failures,
             (long long)ev->until_ms);
    pt_log(LOG_NOTICE, "event=signin_throttle kind=%s user=%s addr=%s",
           auth_audit_kind_str(ev->kind), ev->user, ev->addr);
    broker_audit(b, ev->user, auth_audit_kind_str(ev->kind), ev->addr, "locked", detail);
}
#endif

static void
login_fail(struct login_job *j)
{
    struct broker_req *r = j->r;
    const char *result = signin_result(j->err.code);
#ifdef PORTICO_HAVE_AUTH
    const char *msg = auth_dir_user_message(&j->err);
#else
    const char *msg = j->err.msg;
#endif

    broker_metrics_signin(r->b->metrics, result);
#ifdef PORTICO_HAVE_AUTH
    if (j->err.code == PT_E_AUTH && j->app->throttle) {
        struct auth_audit_event ev = {0};

        auth_throttle_failure(j->app->throttle, j->user, r->peer, pt_time_wall_ms(), &ev);
        throttle_audit(r->b, &ev);
    }
#endif
    pt_logc(&r->log, LOG_NOTICE, "event=login result=%s user=%s peer=%s detail=\"%s\"", result,
            j->user, r->peer, j->err.msg);
    broker_audit(r->b, j->user, "login", NULL, result, NULL);
    if (j->err.code == PT_E_AUTH)
        broker_req_error(r, 401, "bad_credentials", "%s", msg);
    else if (j->err.code == PT_E_FORBIDDEN)
        broker_req_error(r, 403, "account_disabled", "%s", msg);
    else if (j->err.code == PT_E_UNAVAILABLE || j->err.code == PT_E_TIMEOUT)
        broker_req_error(r, 503, "directory_unavailable", "%s", msg);
    else if (j->err.code == PT_E_INVALID)
        broker_req_error(r, 400, "invalid_request", "%s", msg);
    else
        broker_req_error(r, 500, "internal", "%s", msg);
}

/* The pools the user may launch: the directory's rules, plus pools whose own `groups`
 * name one of the user's groups (evaluated at sign-in: auth/ keeps pool names only). */
static void
session_pools(struct broker *b, const struct auth_dir_user *du, struct auth_session *as)
{
    struct pt_buf p = PT_BUF_INIT;

    for (size_t i = 0; i < du->n_pools; i++)
        pt_buf_appendf(&p, "%s\n", du->pools[i]);
#ifdef PORTICO_HAVE_POOL
    {
        struct pool_ctx *ctx = broker_app_pool_ctx(b);
        struct pool_status *ps = NULL;
        const char **groups = pt_xcalloc(du->n_groups + 1, sizeof(char *));
        size_t n = 0;

        for (size_t i = 0; i < du->n_groups; i++)
            groups[i] = du->groups[i].name;
        if (ctx && pool_ctx_status(ctx, &ps, &n, NULL) == 0) {
            for (size_t i = 0; i < n; i++) {
                const struct pool_spec *spec = pool_ctx_pool_get(ctx, ps[i].name);
                char needle[80];

                snprintf(needle, sizeof(needle), "\n%s\n", ps[i].name);
                if (spec && spec->groups && spec->groups[0] &&
                    pool_spec_entitled(spec, groups, du->n_groups) &&
                    !(p.data && (pt_str_has_prefix(p.data, needle + 1) || strstr(p.data, needle))))
                    pt_buf_appends(&p, needle + 1);
            }
        }
        free(ps);
        free(groups);
    }
#endif
    if (p.data && p.len < sizeof(as->pools))
        pt_strlcpy(as->pools, p.data, sizeof(as->pools));
    else if (p.data)
        pt_warnx("event=session_pools_truncated user=%s", as->user);
    pt_buf_fini(&p);
    (void)b;
}

/* Whether one of the session's pools passes the user's own password to its RDP desktops:
 * only then is the password kept (sealed) in the session. */
static bool
session_needs_password(struct broker *b, const struct auth_session *as)
{
#ifdef PORTICO_HAVE_POOL
    struct pool_ctx *ctx = broker_app_pool_ctx(b);
    const char *p = as->pools;

    while (ctx && *p) {
        size_t len = strcspn(p, "\n");
        char name[POOL_NAME_MAX];
        const struct pool_spec *spec;

        if (len && len < sizeof(name)) {
            memcpy(name, p, len);
            name[len] = '\0';
            spec = pool_ctx_pool_get(ctx, name);
            if (spec && spec->rdp_credentials == POOL_RDP_CREDS_SSO &&
                (spec->protocols & POOL_PROTO_RDP))
                return true;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
#endif
    (void)b;
    (void)as;
    return false;
}

static void
login_done(void *arg)
{
    struct login_job *j = arg;
    struct broker_req *r = j->r;
    struct broker_sess *s = &r->sess;
    struct auth_session as;
    struct pt_err err = {0};
    char cookie[256];
    bool keep_pw;

    if (j->rc < 0) {
        login_fail(j);
        goto out;
    }
    memset(&as, 0, sizeof(as));
    pt_strlcpy(as.user, j->du->login ? j->du->login : j->user, sizeof(as.user));
    if (j->du->display)
        pt_strlcpy(as.display, j->du->display, sizeof(as.display));
    as.admin = j->du->admin;
    session_pools(r->b, j->du, &as);
    keep_pw = session_needs_password(r->b, &as);
    if (keep_pw) {
        /* the desktop login: the directory's sso_user_attr, else the sign-in name */
        pt_strlcpy(as.sso_user, j->du->sso_user ? j->du->sso_user : as.user, sizeof(as.sso_user));
        if (strlen(j->password) > AUTH_SESSION_PW_MAX) {
            pt_logc(&r->log, LOG_WARNING,
                    "event=sso_password_not_kept user=%s reason=longer_than_%d_bytes", as.user,
                    AUTH_SESSION_PW_MAX);
            keep_pw = false;
        }
    }
    if (broker_sess_create(r->b->sessions, &as, keep_pw ? j->password : NULL, pt_time_wall_ms(), s,
                           &err) < 0) {
        broker_req_error_pt(r, &err);
        goto out;
    }
    broker_metrics_signin(r->b->metrics, "ok");
#ifdef PORTICO_HAVE_AUTH
    if (j->app->throttle)
        auth_throttle_success(j->app->throttle, j->user);
#endif
    pt_logc(&r->log, LOG_NOTICE,
            "event=login result=ok user=%s session=%s admin=%d sso_kept=%d peer=%s", s->a.user,
            s->id, s->a.admin, keep_pw, r->peer);
    broker_audit(r->b, s->a.user, "login", s->id, "ok", NULL);
    snprintf(cookie, sizeof(cookie), COOKIE_NAME "=%s; Path=/; HttpOnly; Secure; SameSite=Strict",
             s->token);
    broker_req_add_header(r, "set-cookie:", cookie);
    pt_wipe(cookie, sizeof(cookie));
    broker_req_reply_json(r, 200, broker_session_json(r->b, s->id, &s->a, s->csrf));
out:
    pt_free_secret(j->password);
    j->password = NULL;
#ifdef PORTICO_HAVE_AUTH
    auth_dir_user_free(j->du);
#endif
    free(j);
}

static void
login(struct broker_req *r)
{
    struct broker_app *a = r->b->app;
    struct login_job *j;
    json_t *body = broker_req_json_body(r);
    json_t *ju, *jp;
    const char *user, *pw;

    /* The body holds the password: wipe our copy of the bytes whatever happens next. */
    pt_wipe(r->body.data, r->body.len);
    if (!body)
        return;
    ju = json_object_get(body, "user");
    jp = json_object_get(body, "password");
    user = json_string_value(ju);
    pw = json_string_value(jp);
    if (!user || !pw || !user[0] || !pw[0] || strlen(user) > AUTH_DIR_MAX_LOGIN ||
        strlen(pw) > 1024) {
        if (pw)
            pt_wipe((char *)pw, strlen(pw));
        json_decref(body);
        broker_metrics_signin(r->b->metrics, "invalid_request");
        broker_req_error(r, 400, "invalid_request",
                         "send {\"user\": \"name\", \"password\": \"secret\"}, both non-empty "
                         "strings");
        return;
    }
    if (!a || !a->dir) {
        pt_wipe((char *)pw, strlen(pw));
        json_decref(body);
        broker_req_error(r, 503, "directory_not_configured",
                         "this broker has no [ldap] section: nobody can sign in");
        return;
    }
#ifdef PORTICO_HAVE_AUTH
    if (a->throttle) {
        struct auth_audit_event ev = {0};
        struct pt_err terr = {0};

        if (auth_throttle_check(a->throttle, user, r->peer, pt_time_wall_ms(), &ev, &terr) < 0) {
            pt_wipe((char *)pw, strlen(pw));
            throttle_audit(r->b, &ev);
            broker_metrics_signin(r->b->metrics, "locked");
            json_decref(body);
            broker_req_add_header(r, "retry-after:", "60");
            broker_req_error(r, 429, "signin_locked", "%s", terr.msg);
            return;
        }
    }
#endif
    j = pt_xcalloc(1, sizeof(*j));
    j->r = r;
    j->app = a;
    pt_strlcpy(j->user, user, sizeof(j->user));
    j->password = pt_xstrdup(pw);
    pt_wipe((char *)pw, strlen(pw)); /* jansson's copy */
    json_decref(body);
    broker_req_submit(r, login_work, login_done, j);
}

/* ---- POST /api/v1/logout, GET /api/v1/me ------------------------------------------------ */

static void
logout(struct broker_req *r)
{
    struct broker_sess *s = r->session;

    pt_logc(&r->log, LOG_NOTICE, "event=logout user=%s session=%s", s->a.user, s->id);
    broker_audit(r->b, s->a.user, "logout", s->id, "ok", NULL);
    broker_sess_logout(r->b->sessions, s);
    broker_req_add_header(
        r, "set-cookie:", COOKIE_NAME "=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
    broker_req_reply_json(r, 200, json_pack("{s:b}", "signed_out", 1));
}

static void
me(struct broker_req *r)
{
    broker_req_reply_json(r, 200, broker_session_json(r->b, r->sess.id, &r->sess.a, r->sess.csrf));
}

const struct broker_route broker_routes_session[] = {
    {BROKER_POST, "/api/v1/login", 0, login},
    {BROKER_POST, "/api/v1/logout", BROKER_R_SESSION | BROKER_R_CSRF, logout},
    {BROKER_GET, "/api/v1/me", BROKER_R_SESSION, me},
    {0, NULL, 0, NULL},
};
