/*
 * app.c - the modules the broker wires together and their lifetime: the directory
 * (auth/directory.h), the ticket signer and the gateway sealer (auth/ticket.h), and the
 * pools with their store (pool/pool.h, which owns the store connection).
 *
 * Modules are optional at build time (PORTICO_HAVE_AUTH, PORTICO_HAVE_POOL) so the broker
 * builds while they are being written; at run time a section that names a module the
 * build lacks is an error, never silently ignored.
 *
 * Directory connections: each worker thread needs its own struct auth_dir_conn; rather
 * than tie them to threads, the app keeps a small free list under a mutex, and a job
 * checks one out for the duration of its LDAP call (a worker holds at most one).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "app_priv.h"
#include "common/mem.h"

#ifdef PORTICO_HAVE_AUTH
/* Hand the [ldap] items to auth's loader, which checks every key (file:line errors). */
static int
ldap_conf_build(const struct broker_conf *c, struct auth_dir_conf *dc, bool *present,
                struct pt_err *err)
{
    auth_dir_conf_init(dc);
    *present = false;
    for (size_t i = 0; i < c->nitems; i++) {
        const struct broker_conf_item *it = &c->items[i];
        struct pt_conf_entry e = {it->file, it->line, it->section, it->name, it->key, it->value};

        if (strcmp(it->section, "ldap") != 0)
            continue;
        *present = true;
        if (it->key && auth_dir_conf_apply(dc, &e, err) < 0)
            return -1;
    }
    return 0;
}
#endif

int
broker_app_check(const struct broker_conf *c, struct pt_err *err)
{
#ifdef PORTICO_HAVE_AUTH
    struct auth_dir_conf dc;
    struct auth_dir *d = NULL;
    bool present;
    int rc = ldap_conf_build(c, &dc, &present, err);

    if (rc == 0 && present) {
        d = auth_dir_new(&dc, err);
        rc = d ? 0 : pt_err_prefix(err, "[ldap]");
    }
    auth_dir_free(d);
    auth_dir_conf_fini(&dc);
    if (rc < 0)
        return -1;
#else
    for (size_t i = 0; i < c->nitems; i++) {
        if (strcmp(c->items[i].section, "ldap") == 0)
            return pt_err_set(err, PT_E_UNAVAILABLE,
                              "%s:%d: [ldap] needs a broker built with auth/", c->items[i].file,
                              c->items[i].line);
    }
#endif
    return broker_app_pool_check(c, err);
}

struct auth_dir_conn *
broker_app_dir_checkout(struct broker_app *a)
{
#ifdef PORTICO_HAVE_AUTH
    struct auth_dir_conn *c = NULL;

    pthread_mutex_lock(&a->conn_lock);
    if (a->nconns > 0)
        c = a->conns[--a->nconns];
    pthread_mutex_unlock(&a->conn_lock);
    return c ? c : auth_dir_conn_new(a->dir);
#else
    (void)a;
    return NULL;
#endif
}

void
broker_app_dir_checkin(struct broker_app *a, struct auth_dir_conn *c)
{
#ifdef PORTICO_HAVE_AUTH
    if (!c)
        return;
    pthread_mutex_lock(&a->conn_lock);
    if (a->nconns < BROKER_APP_MAX_CONNS) {
        a->conns[a->nconns++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&a->conn_lock);
    auth_dir_conn_free(c);
#else
    (void)a;
    (void)c;
#endif
}

int
broker_app_start(struct broker *b, struct pt_err *err)
{
    struct broker_app *a = pt_xcalloc(1, sizeof(*a));
    const struct broker_conf *c = b->conf;

    b->app = a;
    pthread_mutex_init(&a->conn_lock, NULL);
    b->sessions = broker_sess_table_new(c->session_idle_ms, c->session_ttl_ms);
#ifdef PORTICO_HAVE_AUTH
    {
        struct auth_dir_conf dc;
        bool present;
        int rc = ldap_conf_build(c, &dc, &present, err);

        if (rc == 0 && present) {
            a->dir = auth_dir_new(&dc, err);
            rc = a->dir ? 0 : -1;
        }
        auth_dir_conf_fini(&dc);
        if (rc < 0)
            return -1;
    }
#endif
#ifdef PORTICO_HAVE_AUTH
    a->throttle = auth_throttle_new(NULL);
#endif
    a->signer = auth_signer_load_or_create(c->ticket_key_file, err);
    if (!a->signer)
        return pt_err_prefix(err, "ticket_key_file");
    if (c->gateway_seal_key_file) {
        a->sealer = auth_sealer_new(c->gateway_seal_key_file, err);
        if (!a->sealer)
            return pt_err_prefix(err, "gateway_seal_key_file");
    }
    return broker_app_pool_start(b, err);
}

void
broker_app_stop(struct broker *b)
{
    struct broker_app *a = b->app;

    if (!a)
        return;
    broker_app_pool_stop(b);
#ifdef PORTICO_HAVE_AUTH
    for (int i = 0; i < a->nconns; i++)
        auth_dir_conn_free(a->conns[i]);
    auth_dir_free(a->dir);
    auth_throttle_free(a->throttle);
#endif
    auth_signer_free(a->signer);
    auth_sealer_free(a->sealer);
    pthread_mutex_destroy(&a->conn_lock);
    broker_sess_table_free(b->sessions);
    b->sessions = NULL;
    free(a);
    b->app = NULL;
}

void
broker_app_health(struct broker *b, json_t *out)
{
    struct broker_app *a = b->app;

    json_object_set_new(out, "directory", json_string(a && a->dir ? "configured" : "absent"));
    broker_app_pool_health(b, out);
}

void
broker_app_metrics(struct broker *b, struct pt_buf *out)
{
    pt_buf_appends(out, "# HELP portico_sessions_active Signed-in sessions.\n"
                        "# TYPE portico_sessions_active gauge\n");
    pt_buf_appendf(out, "portico_sessions_active %zu\n",
                   b->sessions ? broker_sess_count(b->sessions) : 0);
    broker_app_pool_metrics(b, out);
}
