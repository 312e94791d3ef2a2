/*
 * gw_reload.c - SIGHUP: re-read the config file without dropping a tunnel.
 *
 * What changes: the TLS certificate and key (rotation: connections accepted from now on
 * present the new one; those already up keep theirs), the broker's ticket keys (current
 * and previous), allowed_origins, trusted_proxies, metrics_from and the per-tunnel limits
 * (max_conns_per_addr, max_message, queue_bytes, keepalive). What does not: keys whose
 * value is built into the listener or the process (listen, tls, id, state_dir,
 * sealing_key, max_tunnels, connect_timeout, the broker report settings, metrics,
 * event_lib, direct_io, log_level, the whole [rdp] section) keep their old value and the log says a
 * restart is needed.
 *
 * All or nothing: the new file is parsed and validated, the new certificate pair loaded
 * into a scratch SSL_CTX and the new ticket keys read before anything is swapped; any
 * failure leaves the old configuration in force and says why. The ticket ledger (replay
 * state) survives: a ticket used before the reload stays used.
 *
 * Runs on the loop thread (from the tick), so nothing else is reading what it swaps. The
 * signal handler only sets a flag.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "gw_priv.h"

void
gw_conf_reload_request(struct gw *g)
{
    if (g)
        g->reload_requested = 1;
}

static bool
str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Keep @old's value of a key that needs a restart, saying so when the file changed it. */
static void
pin_str(char **next, const char *old, const char *key)
{
    if (!str_differs(*next, old))
        return;
    pt_log(LOG_WARNING, "event=reload_ignored key=%s the new value takes a restart", key);
    free(*next);
    *next = old ? pt_xstrdup(old) : NULL;
}

#define PIN_VAL(field, key)                                                                        \
    do {                                                                                           \
        if (next->field != old->field) {                                                           \
            pt_log(LOG_WARNING, "event=reload_ignored key=%s the new value takes a restart", key); \
            next->field = old->field;                                                              \
        }                                                                                          \
    } while (0)

static void
pin_restart_keys(const struct gw_conf *old, struct gw_conf *next)
{
    pin_str(&next->listen, old->listen, "listen");
    pin_str(&next->state_dir, old->state_dir, "state_dir");
    pin_str(&next->id, old->id, "id");
    pin_str(&next->sealing_key, old->sealing_key, "sealing_key");
    pin_str(&next->broker_url, old->broker_url, "broker_url");
    pin_str(&next->broker_secret_file, old->broker_secret_file, "broker_secret_file");
    PIN_VAL(tls, "tls");
    PIN_VAL(max_tunnels, "max_tunnels");
    PIN_VAL(connect_timeout_ms, "connect_timeout");
    PIN_VAL(broker_insecure, "broker_insecure");
    PIN_VAL(metrics, "metrics");
    PIN_VAL(event_lib, "event_lib");
    PIN_VAL(direct_io, "direct_io");
    PIN_VAL(log_level, "log_level");
    /* [rdp] went to the RDP backend once, at start (gw_rdp_configure()). Both structs were
     * zeroed before parsing (gw_conf_defaults()), so padding compares equal. */
    if (memcmp(&next->rdp, &old->rdp, sizeof(next->rdp)) != 0) {
        pt_log(LOG_WARNING, "event=reload_ignored key=[rdp] the new values take a restart");
        next->rdp = old->rdp;
    }
}

int
gw_conf_reload(struct gw *g, struct pt_err *err)
{
    struct gw_conf *next = pt_xcalloc(1, sizeof(*next));
    struct auth_verifier *verifier = NULL;
    struct gw_cidr *proxies = NULL;
    size_t n_proxies = 0;
    char **origins = NULL, **metrics_from = NULL;

    if (!g->conf_path) {
        pt_err_set(err, PT_E_INVALID, "no configuration file to re-read");
        goto fail;
    }
    pt_log(LOG_NOTICE, "event=reloading file=%s", g->conf_path);
    if (gw_conf_load(next, g->conf_path, err) < 0)
        goto fail;
    pin_restart_keys(g->conf, next);
    /* No pair configured: the generated one in state_dir, as at start. */
    if (gw_tls_ensure(next, err) < 0)
        goto fail;
    verifier = auth_verifier_new(next->ticket_key, next->ticket_key_prev, err);
    if (!verifier)
        goto fail;
    if (gw_cidr_list_parse(next->trusted_proxies, &proxies, &n_proxies, err) < 0)
        goto fail;
    if (next->tls && g->ssl_ctx && gw_tls_pair_check(next->tls_cert, next->tls_key, err) < 0)
        goto fail;

    /* Everything loaded: swap. The pair was checked above; applying it repeats the load
     * on the live context and can only fail if the files changed in between. */
    if (next->tls && g->ssl_ctx &&
        gw_tls_pair_apply(g->ssl_ctx, next->tls_cert, next->tls_key, err) < 0)
        goto fail;
    origins = gw_list_split(next->allowed_origins);
    metrics_from = gw_list_split(next->metrics_from);
    auth_verifier_free(g->verifier);
    g->verifier = pt_steal(&verifier);
    gw_cidr_list_free(g->proxies);
    g->proxies = pt_steal(&proxies);
    g->n_proxies = n_proxies;
    gw_list_free(g->origins);
    g->origins = pt_steal(&origins);
    gw_list_free(g->metrics_from);
    g->metrics_from = pt_steal(&metrics_from);
    g->conf = next;
    if (g->conf_owned) {
        gw_conf_free(g->conf_owned);
        free(g->conf_owned);
    }
    g->conf_owned = next;
    if (!next->allowed_origins)
        pt_log(LOG_WARNING, "event=config_warning allowed_origins is unset: WebSockets from any "
                            "web origin are accepted");
    pt_log(LOG_NOTICE,
           "event=reloaded tunnels=%d cert=%s ticket_key_previous=%s trusted_proxies=%zu "
           "max_conns_per_addr=%d",
           g->tunnels, next->tls ? next->tls_cert : "-", next->ticket_key_prev ? "yes" : "no",
           n_proxies, next->max_conns_per_addr);
    return 0;
fail:
    auth_verifier_free(verifier);
    gw_cidr_list_free(proxies);
    gw_conf_free(next);
    free(next);
    return -1;
}
