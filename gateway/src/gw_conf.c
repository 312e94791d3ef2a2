/*
 * gw_conf.c - the [gateway] and [rdp] sections of portico-gateway's INI file.
 *
 * Parsed at start into struct gw_conf and validated as a whole (a key that depends on
 * another is checked after the file is read); `-n` runs exactly this code and prints
 * "configuration OK". SIGHUP parses the file again into a new struct (gw_reload.c); a
 * struct is never modified once loaded. Unknown keys or sections are file:line errors.
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
    KEY("trusted_proxies", PT_CONF_STRING, trusted_proxies, 0, 0),
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
    KEY("direct_io", PT_CONF_BOOL, direct_io, 0, 0),
    KEY("workers", PT_CONF_INT, workers, 1, GW_WORKERS_MAX),
    KEY("log_level", PT_CONF_LOGLEVEL, log_level, 0, 0),
    PT_CONF_KEY_END,
};

/* [rdp] is parsed into these plain types first (what pt_conf_key_apply() knows), then
 * checked and copied into struct gw_rdp_conf by rdp_validate(). */
struct rdp_raw {
    bool audio, ignore_cert, resize_by_reconnect, process_per_session;
    int width, height, jpeg_quality, clipboard_max;
    int64_t max_lag_ms, connect_timeout_ms;
    char *clipboard_dir, *cert_trust_dir;
};

#define RKEY(name, type, field, lo, hi)                                                            \
    {                                                                                              \
        name, type, offsetof(struct rdp_raw, field), lo, hi                                        \
    }

static const struct pt_conf_key rdp_keys[] = {
    RKEY("audio", PT_CONF_BOOL, audio, 0, 0),
    RKEY("ignore_cert", PT_CONF_BOOL, ignore_cert, 0, 0),
    RKEY("resize_by_reconnect", PT_CONF_BOOL, resize_by_reconnect, 0, 0),
    RKEY("process_per_session", PT_CONF_BOOL, process_per_session, 0, 0),
    RKEY("width", PT_CONF_INT, width, 200, 8192),
    RKEY("height", PT_CONF_INT, height, 200, 8192),
    RKEY("jpeg_quality", PT_CONF_INT, jpeg_quality, 30, 100),
    RKEY("clipboard_max", PT_CONF_INT, clipboard_max, 1024, 16 * 1024 * 1024),
    RKEY("max_lag", PT_CONF_DURATION_MS, max_lag_ms, 100, 60 * 1000),
    RKEY("connect_timeout", PT_CONF_DURATION_MS, connect_timeout_ms, 1000, 300 * 1000),
    RKEY("clipboard_dir", PT_CONF_STRING, clipboard_dir, 0, 0),
    RKEY("cert_trust_dir", PT_CONF_STRING, cert_trust_dir, 0, 0),
    PT_CONF_KEY_END,
};

struct conf_ctx {
    struct gw_conf *c;
    struct rdp_raw rdp;
};

static void
rdp_raw_init(struct rdp_raw *r, const struct gw_rdp_conf *d)
{
    memset(r, 0, sizeof(*r));
    r->audio = d->audio;
    r->ignore_cert = d->ignore_cert;
    r->resize_by_reconnect = d->resize_by_reconnect;
    r->process_per_session = d->process_per_session;
    r->width = d->width;
    r->height = d->height;
    r->jpeg_quality = d->jpeg_quality;
    r->clipboard_max = (int)d->clipboard_max;
    r->max_lag_ms = d->max_lag_ms;
    r->connect_timeout_ms = d->connect_timeout_ms;
}

static void
rdp_conf_defaults(struct gw_rdp_conf *r)
{
#if defined(GW_HAVE_RDP)
    gw_rdp_conf_defaults(r);
#else
    memset(r, 0, sizeof(*r));
#endif
}

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
    c->direct_io = true;
    c->workers = 1;
    c->log_level = LOG_INFO;
    rdp_conf_defaults(&c->rdp);
}

void
gw_conf_free(struct gw_conf *c)
{
    pt_conf_key_free(gw_keys, c);
}

static int
conf_entry(void *opaque, const struct pt_conf_entry *e, struct pt_err *err)
{
    struct conf_ctx *ctx = opaque;

    if (strcmp(e->section, "rdp") == 0) {
        if (!e->key)
            return 0;
        return pt_conf_key_apply(rdp_keys, &ctx->rdp, e, err);
    }
    if (strcmp(e->section, "gateway") != 0) {
        /* Other programs' sections may share the file; the gateway reads only its own, but
         * a section it does not know at all is a typo worth reporting. */
        static const char *const others[] = {"broker", "ldap", "hypervisor", "pool",
                                             "store",  "log",  NULL};
        for (int i = 0; others[i]; i++)
            if (strcmp(e->section, others[i]) == 0)
                return 0;
        return pt_conf_errorf(err, e, "unknown section [%s]", e->section);
    }
    if (!e->key)
        return 0;
    return pt_conf_key_apply(gw_keys, ctx->c, e, err);
}

static int conf_validate(struct gw_conf *c, const char *fname, struct pt_err *err);

/* Check [rdp] as a whole and move it into c->rdp. */
static int
rdp_validate(struct gw_conf *c, const struct rdp_raw *r, const char *fname, struct pt_err *err)
{
    struct gw_rdp_conf *o = &c->rdp;

    o->audio = r->audio;
    o->ignore_cert = r->ignore_cert;
    o->resize_by_reconnect = r->resize_by_reconnect;
    o->process_per_session = r->process_per_session;
    o->width = r->width;
    o->height = r->height;
    o->jpeg_quality = r->jpeg_quality;
    o->clipboard_max = (size_t)r->clipboard_max;
    o->max_lag_ms = (int)r->max_lag_ms;
    o->connect_timeout_ms = (int)r->connect_timeout_ms;
#if defined(GW_HAVE_RDP)
    if (r->clipboard_dir && gw_rdp_clip_dir_parse(r->clipboard_dir, &o->clipboard_dir) < 0)
        return pt_err_set(err, PT_E_INVALID,
                          "%s: [rdp] clipboard_dir = \"%s\": want both, to-desktop, "
                          "from-desktop or none",
                          fname, r->clipboard_dir);
#endif
    if (r->width % 2 != 0)
        return pt_err_set(err, PT_E_INVALID,
                          "%s: [rdp] width = %d: RDP wants an even width (try %d)", fname, r->width,
                          r->width + 1);
    if (r->cert_trust_dir) {
        if (r->cert_trust_dir[0] != '/' || strlen(r->cert_trust_dir) >= sizeof(o->cert_trust_dir))
            return pt_err_set(err, PT_E_INVALID,
                              "%s: [rdp] cert_trust_dir must be an absolute path shorter than "
                              "%zu bytes",
                              fname, sizeof(o->cert_trust_dir));
        if (r->ignore_cert)
            return pt_err_set(err, PT_E_INVALID,
                              "%s: [rdp] cert_trust_dir has no effect while ignore_cert = true; "
                              "set ignore_cert = false to trust certificates on first use",
                              fname);
        pt_strlcpy(o->cert_trust_dir, r->cert_trust_dir, sizeof(o->cert_trust_dir));
    }
    return 0;
}

static int
conf_load(struct gw_conf *c, const char *text, const char *fname, struct pt_err *err)
{
    struct conf_ctx ctx = {.c = c};
    int rc;

    gw_conf_defaults(c);
    rdp_raw_init(&ctx.rdp, &c->rdp);
    rc = text ? pt_conf_parse_string(text, fname, conf_entry, &ctx, err)
              : pt_conf_parse_file(fname, conf_entry, &ctx, err);
    if (rc == 0)
        rc = rdp_validate(c, &ctx.rdp, fname, err);
    pt_conf_key_free(rdp_keys, &ctx.rdp);
    if (rc < 0)
        return -1;
    return conf_validate(c, fname, err);
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
    {
        struct gw_cidr *v;
        struct pt_err e = {0};
        size_t n;
        if (gw_cidr_list_parse(c->trusted_proxies, &v, &n, &e) < 0)
            return pt_err_set(err, PT_E_INVALID, "%s: [gateway] %s", fname, e.msg);
        gw_cidr_list_free(v);
    }
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
    return conf_load(c, NULL, path, err);
}

int
gw_conf_load_string(struct gw_conf *c, const char *text, const char *fname, struct pt_err *err)
{
    return conf_load(c, text ? text : "", fname, err);
}
