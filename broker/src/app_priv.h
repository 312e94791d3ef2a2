/*
 * app_priv.h - the wired modules (app.c, app_pool.c) as the API files see them.
 * Loop thread, except the directory connection free list (any thread, locked).
 */
#ifndef PT_BROKER_APP_PRIV_H
#define PT_BROKER_APP_PRIV_H

#include <pthread.h>

#include "auth/directory.h"
#include "auth/throttle.h"
#include "auth/ticket.h"
#include "broker_priv.h"
#ifdef PORTICO_HAVE_POOL
#include "pool/pool.h"
#include "store/store.h"
#endif

#define BROKER_APP_MAX_CONNS 16

struct auth_dir;
struct auth_dir_conn;

struct broker_app {
    struct auth_dir *dir; /* NULL: no [ldap] section, nobody can sign in */
    pthread_mutex_t conn_lock;
    struct auth_dir_conn *conns[BROKER_APP_MAX_CONNS];
    int nconns;
    struct auth_signer *signer;
    struct auth_sealer *sealer;     /* NULL: no gateway_seal_key_file, no sealed secrets */
    struct auth_throttle *throttle; /* sign-in brute-force locks (auth/throttle.h) */
    struct broker_pool *pool;       /* app_pool.c; NULL without pools */
};

int broker_app_start(struct broker *b, struct pt_err *err);
void broker_app_stop(struct broker *b);
void broker_app_health(struct broker *b, json_t *out);
void broker_app_metrics(struct broker *b, struct pt_buf *out);
/* broker_app_check() - what -n checks beyond the broker's own keys. */
int broker_app_check(const struct broker_conf *c, struct pt_err *err);

/* Thread: any. checkout returns a connection (new or reused), NULL without a directory. */
struct auth_dir_conn *broker_app_dir_checkout(struct broker_app *a);
void broker_app_dir_checkin(struct broker_app *a, struct auth_dir_conn *c);

/* app_pool.c */
int broker_app_pool_check(const struct broker_conf *c, struct pt_err *err);
int broker_app_pool_start(struct broker *b, struct pt_err *err);
void broker_app_pool_stop(struct broker *b);
void broker_app_pool_health(struct broker *b, json_t *out);
void broker_app_pool_metrics(struct broker *b, struct pt_buf *out);
/* broker_app_pool_hist() - the provisioning (@ttd false) or time-to-desktop histogram. */
struct broker_hist *broker_app_pool_hist(struct broker *b, bool ttd);
/* broker_app_pool_wait_note() - a launch of @desktop answered 202 (@ready false) or with
 * a ticket (@ready true): the time between feeds portico_provisioning_seconds. */
void broker_app_pool_wait_note(struct broker *b, const char *desktop, bool ready);
/* broker_app_pool_ctx() - the pool context, or NULL when the broker runs no pools. */
struct pool_ctx *broker_app_pool_ctx(struct broker *b);

/* broker_app_tunnel_event() - tell the pool a tunnel opened or closed. */
void broker_app_tunnel_event(struct broker *b, const struct broker_tunnel *t, bool opened);

/* audit: one line in the store's audit log (no-op without a store). */
void broker_audit(struct broker *b, const char *actor, const char *action, const char *target,
                  const char *result, const char *detail);

#endif
