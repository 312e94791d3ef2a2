/*
 * store_priv.h - the backend vtable behind store.h. store.c validates arguments and
 * dispatches; a backend (store_sqlite.c now, PostgreSQL later) implements every verb.
 */
#ifndef PT_STORE_PRIV_H
#define PT_STORE_PRIV_H

#include "store/store.h"

struct store_driver {
    const char *name;
    /* open: fill st->priv; return 0 or -1 with @err. */
    int (*open)(struct store *st, const char *target, struct pt_err *err);
    void (*close)(struct store *st);
    int (*schema_version)(struct store *st);
    int (*tx_begin)(struct store *st, struct pt_err *err);
    int (*tx_commit)(struct store *st, struct pt_err *err);
    void (*tx_rollback)(struct store *st);

    int (*pool_put)(struct store *st, const struct store_pool *p, struct pt_err *err);
    int (*pool_get)(struct store *st, const char *name, struct store_pool *out, struct pt_err *err);
    int (*pool_list)(struct store *st, struct store_pool **out, size_t *n, struct pt_err *err);
    int (*pool_delete)(struct store *st, const char *name, struct pt_err *err);
    int64_t (*pool_seq_next)(struct store *st, const char *name, struct pt_err *err);

    int (*desktop_insert)(struct store *st, const struct store_desktop *d, struct pt_err *err);
    int (*desktop_update)(struct store *st, const struct store_desktop *d, const char *expect,
                          struct pt_err *err);
    int (*desktop_get)(struct store *st, const char *id, struct store_desktop *out,
                       struct pt_err *err);
    int (*desktop_list)(struct store *st, const char *pool, struct store_desktop **out, size_t *n,
                        struct pt_err *err);
    int (*desktop_find_user)(struct store *st, const char *pool, const char *user,
                             struct store_desktop *out, struct pt_err *err);
    int (*desktop_pick)(struct store *st, const char *pool, const char *state,
                        const char *image_version, struct store_desktop *out, struct pt_err *err);
    int (*desktop_delete)(struct store *st, const char *id, struct pt_err *err);

    int (*event_append)(struct store *st, const struct store_event *ev, struct pt_err *err);
    int (*event_list)(struct store *st, const char *desktop, int limit, struct store_event **out,
                      size_t *n, struct pt_err *err);

    int (*claim_insert)(struct store *st, struct store_claim *c, struct pt_err *err);
    int (*claim_finish)(struct store *st, const char *desktop, int64_t ready_ms,
                        struct pt_err *err);
    int (*claim_stats)(struct store *st, const char *pool, int64_t since_ms,
                       struct store_claim_stats *out, struct pt_err *err);

    int (*audit_append)(struct store *st, const struct store_audit *a, struct pt_err *err);
    int (*audit_list)(struct store *st, int limit, struct store_audit **out, size_t *n,
                      struct pt_err *err);

    int (*schedule_add)(struct store *st, struct store_schedule *s, struct pt_err *err);
    int (*schedule_list)(struct store *st, const char *pool, struct store_schedule **out, size_t *n,
                         struct pt_err *err);
    int (*schedule_delete)(struct store *st, int64_t id, struct pt_err *err);
};

struct store {
    const struct store_driver *drv;
    void *priv;
};

extern const struct store_driver store_sqlite_driver;

#endif
