/*
 * app.c - the modules the broker wires together (auth, store, pool) and their lifetime.
 *
 * Phase 1: nothing is wired yet; the broker serves health, metrics and static files.
 */
#include "broker_priv.h"

struct broker_app {
    int unused;
};

int broker_app_start(struct broker *b, struct pt_err *err);
void broker_app_stop(struct broker *b);
void broker_app_health(struct broker *b, json_t *out);
void broker_app_metrics(struct broker *b, struct pt_buf *out);

int
broker_app_start(struct broker *b, struct pt_err *err)
{
    (void)err;
    b->app = NULL;
    return 0;
}

void
broker_app_stop(struct broker *b)
{
    b->app = NULL;
}

void
broker_app_health(struct broker *b, json_t *out)
{
    (void)b;
    (void)out;
}

void
broker_app_metrics(struct broker *b, struct pt_buf *out)
{
    (void)b;
    (void)out;
}
