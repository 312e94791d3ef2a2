/*
 * gw_conf.c - the [gateway] section of portico-gateway's INI file.
 *
 * Parsed once at start into struct gw_conf, validated as a whole (a key that depends on
 * another is checked after the file is read), and never touched again: `-n` runs exactly
 * this code and prints "configuration OK". Unknown keys or sections are file:line errors.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "common/conf.h"
#include "common/mem.h"
#include "common/str.h"
#include "gw_priv.h"

#define KEY(name, type, field, lo, hi)                                                             \
    {                                                                                              \
        name, type, offsetof(struct gw_conf, field), lo, hi                                        \
    }

static const struct pt_conf_key gw_keys[] = {
    KEY("listen", PT_CONF_STRING, listen, 0, 0),
    KEY("tls", PT_CONF_BOOL, tls, 0, 0),
    KEY("tls_cert", PT_CONF_STRING, tls_cert, 0, 0),
    KEY("tls_key", PT_CONF_STRING, tls_key, 0, 0),
    KEY("state_dir", PT_CONF_STRING, state_dir, 0, 0),
    KEY("id", PT_CONF_STRING, id, 0, 0),
    KEY("ticket_key", PT_CONF_STRING, ticket_key, 0, 0),
    KEY("ticket_key_previous", PT_CONF_STRING, ticket_key_prev, 0, 0),
    KEY("sealing_key", PT_CONF_STRING, sealing_key, 0, 0),
    KEY("allowed_origins", PT_CONF_STRING, allowed_origins, 0, 0),
    KEY("max_conns_per_addr", PT_CONF_INT, max_conns_per_addr, 1, 1000000),
    KEY("max_message", PT_CONF_INT, max_message, 1024, 64 * 1024 * 1024),
    KEY("max_tunnels", PT_CONF_INT, max_tunnels, 1, 1000000),
    KEY("queue_bytes", PT_CONF_INT, queue_bytes, 16 * 1024, 64 * 1024 * 1024),
    KEY("keepalive", PT_CONF_DURATION_MS, keepalive_ms, 1000, 3600 * 1000),
    KEY("connect_timeout", PT_CONF_DURATION_MS, connect_timeout_ms, 100, 600 * 1000),
    KEY("broker_url", PT_CONF_STRING, broker_url, 0, 0),
    KEY("broker_secret_file", PT_CONF_STRING, broker_secret_file, 0, 0),
    KEY("broker_insecure", PT_CONF_BOOL, broker_insecure, 0, 0),
    KEY("metrics", PT_CONF_BOOL, metrics, 0, 0),
    KEY("metrics_from", PT_CONF_STRING, metrics_from, 0, 0),
    KEY("event_lib", PT_CONF_BOOL, event_lib, 0, 0),
    KEY("workers", PT_CONF_INT, workers, 1, GW_WORKERS_MAX),
    KEY("log_level", PT_CONF_LOGLEVEL, log_level, 0, 0),
    PT_CONF_KEY_END,
};

void
gw_conf_defaults(struct gw_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->listen = pt_xstrdup("0.0.0.0:8443");
    c->tls = true;
    c->state_dir = pt_xstrdup("/var/lib/portico-gateway");
    c->max_conns_per_addr = 64;
    c->max_message = 1024 * 1024;
    c->max_tunnels = 20000;
    c->queue_bytes = 256 * 1024;
    c->keepalive_ms = 15000;
    c->connect_timeout_ms = 5000;
    c->metrics = true;
    c->metrics_from = pt_xstrdup("127.0.0.1 ::1");
    /* libev: lws's poll() loop walks every descriptor per wake-up (~90% of a core at 1,000
     * idle tunnels, libev ~5%). The WebSocket it used to lose after the 101 was a protocol
     * init lws ran too late (gw_new() now runs it; docs/gateway.md). */
    c->event_lib = true;
    c->workers = 1;
    c->log_level = LOG_INFO;
}

void
gw_conf_free(struct gw_conf *c)
{
    pt_conf_key_free(gw_keys, c);
}

static int
conf_entry(void *opaque, const struct pt_conf_entry *e, struct pt_err *err)
{
    if (strcmp(e->section, "gateway") != 0) {
        /* Other programs' sections may share the file; the gateway reads only its own, but
         * a section it does not know at all is a typo worth reporting. */
        static const char *const others[] = {"broker", "ldap", "hypervisor", "pool",
                                             "store",  "rdp",  "log",        NULL};
        for (int i = 0; others[i]; i++)
            if (strcmp(e->section, others[i]) == 0)
                return 0;
        return pt_conf_errorf(err, e, "unknown section [%s]", e->section);
    }
    if (!e->key)
        return 0;
    return pt_conf_key_apply(gw_keys, opaque, e, err);
}

static int
conf_validate(struct gw_conf *c, const char *fname, struct pt_err *err)
{
    char host[256];
    int port;

    if (pt_parse_hostport(c->listen, host, sizeof(host), &port) < 0 || port <= 0 || port > 65535)
        return pt_err_set(err, PT_E_INVALID, "%s: [gateway] listen = \"%s\": want host:port", fname,
                          c->listen);
    if (!c->id || !*c->id)
        return pt_err_set(err, PT_E_INVALID,
                          "%s: [gateway] id is required (the audience tickets are minted for)",
                          fname);
    if (!c->ticket_key)
        return pt_err_set(err, PT_E_INVALID,
                          "%s: [gateway] ticket_key is required (the broker's public key file)",
                          fname);
    if ((c->tls_cert == NULL) != (c->tls_key == NULL))
        return pt_err_set(err, PT_E_INVALID,
                          "%s: [gateway] set both tls_cert and tls_key, or neither (a "
                          "self-signed pair is then generated in state_dir)",
                          fname);
    if (c->broker_url && !pt_str_has_prefix(c->broker_url, "https://") &&
        !pt_str_has_prefix(c->broker_url, "http://"))
        return pt_err_set(err, PT_E_INVALID, "%s: [gateway] broker_url must be http(s)://host:port",
                          fname);
    if (c->broker_url && !c->broker_secret_file)
        return pt_err_set(err, PT_E_INVALID,
                          "%s: [gateway] broker_url needs broker_secret_file (the shared "
                          "credential for tunnel reports)",
                          fname);
    return 0;
}

int
gw_conf_load(struct gw_conf *c, const char *path, struct pt_err *err)
{
    gw_conf_defaults(c);
    if (pt_conf_parse_file(path, conf_entry, c, err) < 0)
        return -1;
    return conf_validate(c, path, err);
}

int
gw_conf_load_string(struct gw_conf *c, const char *text, const char *fname, struct pt_err *err)
{
    gw_conf_defaults(c);
    if (pt_conf_parse_string(text, fname, conf_entry, c, err) < 0)
        return -1;
    return conf_validate(c, fname, err);
}
