/*
 * api_admin_users.c - admin: GET /api/v1/admin/users/{login} resolves a user in the
 * directory as sign-in would (groups, entitled pools, admin, disabled), without a
 * password, to debug "why can't X see pool Y". The LDAP search runs on a worker.
 */
#include <stdlib.h>
#include <string.h>

#include "app_priv.h"
#include "common/mem.h"

struct resolve_job {
    struct broker_req *r;
    struct broker_app *app;
    char login[AUTH_DIR_MAX_LOGIN + 1];
    struct auth_dir_user *du;
    struct pt_err err;
    int rc;
};

static void
resolve_work(void *arg)
{
    struct resolve_job *j = arg;
#ifdef PORTICO_HAVE_AUTH
    struct auth_dir_conn *c = broker_app_dir_checkout(j->app);

    j->rc = auth_dir_conn_resolve(c, j->login, &j->du, &j->err);
    broker_app_dir_checkin(j->app, c);
#else
    j->rc = pt_err_set(&j->err, PT_E_UNAVAILABLE, "built without auth/");
#endif
}

static void
resolve_done(void *arg)
{
    struct resolve_job *j = arg;
    struct broker_req *r = j->r;

    if (j->rc < 0) {
        if (j->err.code == PT_E_AUTH)
            broker_req_error(r, 404, "not_found", "no user %s in the directory", j->login);
        else
            broker_req_error_pt(r, &j->err);
    } else {
#ifdef PORTICO_HAVE_AUTH
        json_t *groups = json_array(), *pools = json_array();

        for (size_t i = 0; i < j->du->n_groups; i++)
            json_array_append_new(groups,
                                  json_pack("{s:s,s:s,s:s,s:i}", "name", j->du->groups[i].name,
                                            "dn", j->du->groups[i].dn, "via",
                                            auth_dir_via_str(j->du->groups[i].via), "depth",
                                            j->du->groups[i].depth));
        for (size_t i = 0; i < j->du->n_pools; i++)
            json_array_append_new(pools, json_string(j->du->pools[i]));
        broker_req_reply_json(r, 200,
                              json_pack("{s:s,s:s,s:s?,s:b,s:b,s:o,s:o}", "user", j->du->login,
                                        "dn", j->du->dn, "display", j->du->display, "admin",
                                        j->du->admin, "disabled", j->du->disabled, "groups", groups,
                                        "pools", pools));
        auth_dir_user_free(j->du);
#endif
    }
    free(j);
}

static void
user_resolve(struct broker_req *r)
{
    struct broker_app *a = r->b->app;
    struct resolve_job *j;

    if (!a || !a->dir) {
        broker_req_error(r, 503, "directory_not_configured", "this broker has no [ldap] section");
        return;
    }
    if (strlen(r->params[0]) > AUTH_DIR_MAX_LOGIN) {
        broker_req_error(r, 400, "invalid_request", "the user name is too long");
        return;
    }
    j = pt_xcalloc(1, sizeof(*j));
    j->r = r;
    j->app = a;
    pt_strlcpy(j->login, r->params[0], sizeof(j->login));
    broker_req_submit(r, resolve_work, resolve_done, j);
}

const struct broker_route broker_routes_admin_users[] = {
    {BROKER_GET, "/api/v1/admin/users/{}", BROKER_R_SESSION | BROKER_R_ADMIN, user_resolve},
    {0, NULL, 0, NULL},
};
