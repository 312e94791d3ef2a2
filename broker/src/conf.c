/*
 * conf.c - the broker's configuration file.
 *
 * [broker] is parsed here into struct broker_conf through a pt_conf_key table. The
 * sections other modules own ([ldap], [hypervisor], [host "x"], [pool "x"]) are checked
 * against the keys those modules accept and kept verbatim (file, line, key, value) so the
 * owning module's loader sees the original positions in its own error messages. Unknown
 * sections and keys are errors, as everywhere in Portico. Defaults are filled after
 * parsing, then cross-field checks run, so `portico-broker -n` reports every problem the
 * daemon would hit at startup.
 */
#include "common/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "broker_priv.h"
#include "common/mem.h"
#include "common/str.h"

#define OFF(f) offsetof(struct broker_conf, f)

static const struct pt_conf_key broker_keys[] = {
    {"listen", PT_CONF_STRING, OFF(listen), 0, 0},
    {"tls_cert", PT_CONF_STRING, OFF(tls_cert), 0, 0},
    {"tls_key", PT_CONF_STRING, OFF(tls_key), 0, 0},
    {"state_dir", PT_CONF_STRING, OFF(state_dir), 0, 0},
    {"db", PT_CONF_STRING, OFF(db), 0, 0},
    {"ticket_key_file", PT_CONF_STRING, OFF(ticket_key_file), 0, 0},
    {"ticket_ttl", PT_CONF_DURATION_MS, OFF(ticket_ttl_ms), 5000, 300000},
    {"ticket_max_conns", PT_CONF_INT, OFF(ticket_max_conns), 1, 64},
    {"gateway_url", PT_CONF_STRING, OFF(gateway_url), 0, 0},
    {"gateway_audience", PT_CONF_STRING, OFF(gateway_audience), 0, 0},
    {"gateway_seal_key_file", PT_CONF_STRING, OFF(gateway_seal_key_file), 0, 0},
    {"gateway_secret_file", PT_CONF_STRING, OFF(gateway_secret_file), 0, 0},
    {"rdp_password_dir", PT_CONF_STRING, OFF(rdp_password_dir), 0, 0},
    {"web_root", PT_CONF_STRING, OFF(web_root), 0, 0},
    {"event_loop", PT_CONF_STRING, OFF(event_loop), 0, 0},
    {"log_level", PT_CONF_LOGLEVEL, OFF(log_level), 0, 0},
    {"max_body_bytes", PT_CONF_INT, OFF(max_body_bytes), 256, 16 * 1024 * 1024},
    {"max_header_bytes", PT_CONF_INT, OFF(max_header_bytes), 1024, 65535},
    {"rate_limit_rps", PT_CONF_INT, OFF(rate_limit_rps), 0, 1000000},
    {"rate_limit_burst", PT_CONF_INT, OFF(rate_limit_burst), 1, 1000000},
    {"workers", PT_CONF_INT, OFF(workers), 1, 64},
    {"http2", PT_CONF_BOOL, OFF(h2), 0, 0},
    {"metrics_from", PT_CONF_STRING, OFF(metrics_from), 0, 0},
    {"session_idle", PT_CONF_DURATION_MS, OFF(session_idle_ms), 1000, 7 * 86400000LL},
    {"session_ttl", PT_CONF_DURATION_MS, OFF(session_ttl_ms), 1000, 30 * 86400000LL},
    PT_CONF_KEY_END,
};

/*
 * Keys of the sections other modules own. They are listed here, next to the loader that
 * checks them, and documented key by key in docs/config.md; the owning module validates
 * values when the broker hands the section over.
 */
struct foreign_section {
    const char *section;
    bool named;
    const char *const *keys; /* checked here when the owning module is not built in */
    bool owner_checks;       /* the owning module checks the keys (app.c) */
};

/* The keys auth_dir_conf_apply() and pool_conf_set() accept (auth/directory.h,
 * pool/pool.h), used only when the broker is built without those modules. */
static const char *const ldap_keys[] = {
    "uri",
    "starttls",
    "ca_file",
    "connect_timeout",
    "op_timeout",
    "bind",
    "bind_dn",
    "bind_pw",
    "bind_dn_template",
    "user_base",
    "user_filter",
    "login_attrs",
    "display_attr",
    "sso_user_attr",
    "groups",
    "group_base",
    "group_name_attr",
    "member_of_attr",
    "nest_depth",
    "page_size",
    "disabled",
    "disabled_attr",
    "disabled_value",
    "disabled_mask",
    "admin_group",
    "pool",
    NULL,
};
/* [hypervisor] is the broker's own: the default host and how pools are driven. */
static const char *const hypervisor_keys[] = {
    "uri",         "reconcile_interval", "probe",         "workers",
    "max_actions", "ready_timeout",      "domain_prefix", NULL,
};
static const char *const host_keys[] = {"uri", "max_desktops", "mem_reserve", "storage_pool", NULL};
static const char *const pool_keys[] = {
    "image",
    "image_version",
    "template",
    "domain_type",
    "vcpus",
    "memory",
    "protocols",
    "rdp_port",
    "min",
    "max",
    "warm",
    "parked",
    "assignment",
    "on_logoff",
    "idle_timeout",
    "disconnected_timeout",
    "max_session",
    "groups",
    "hosts",
    "schedule",
    "rdp_credentials",
    "rdp_username",
    "rdp_domain",
    "rdp_password_file",
    "clipboard",
    "clipboard_max",
    "audio",
    NULL,
};

#ifdef PORTICO_HAVE_AUTH
#define AUTH_CHECKS true
#else
#define AUTH_CHECKS false
#endif
#ifdef PORTICO_HAVE_POOL
#define POOL_CHECKS true
#else
#define POOL_CHECKS false
#endif

static const struct foreign_section foreign_sections[] = {
    {"ldap", false, ldap_keys, AUTH_CHECKS},
    {"hypervisor", false, hypervisor_keys, false},
    {"host", true, host_keys, POOL_CHECKS},
    {"pool", true, pool_keys, POOL_CHECKS},
    {NULL, false, NULL, false},
};

static const struct foreign_section *
foreign_find(const char *section)
{
    for (const struct foreign_section *f = foreign_sections; f->section; f++) {
        if (strcmp(f->section, section) == 0)
            return f;
    }
    return NULL;
}

static bool
key_listed(const char *const *keys, const char *key)
{
    for (; *keys; keys++) {
        if (strcmp(*keys, key) == 0)
            return true;
    }
    return false;
}

static int
conf_entry(void *opaque, const struct pt_conf_entry *e, struct pt_err *err)
{
    struct broker_conf *c = opaque;
    const struct foreign_section *f;
    struct broker_conf_item *it;

    if (strcmp(e->section, "broker") == 0) {
        if (e->name)
            return pt_conf_errorf(err, e, "[broker] takes no name; write [broker]");
        if (!e->key)
            return 0;
        return pt_conf_key_apply(broker_keys, c, e, err);
    }
    f = foreign_find(e->section);
    if (!f)
        return pt_conf_errorf(err, e,
                              "unknown section [%s]; expected [broker], [ldap], [hypervisor], "
                              "[host \"name\"] or [pool \"name\"]",
                              e->section);
    if (f->named && (!e->name || !e->name[0]))
        return pt_conf_errorf(err, e, "[%s] needs a name, e.g. [%s \"engineering\"]", e->section,
                              e->section);
    if (!f->named && e->name)
        return pt_conf_errorf(err, e, "[%s] takes no name; write [%s]", e->section, e->section);
    if (e->key && !key_listed(f->keys, e->key) && !f->owner_checks)
        return pt_conf_errorf(err, e, "unknown key '%s' in [%s]; see docs/config.md", e->key,
                              e->section);
    c->items = pt_xreallocarray(c->items, c->nitems + 1, sizeof(*c->items));
    it = &c->items[c->nitems++];
    it->file = pt_xstrdup(e->file);
    it->line = e->line;
    it->section = pt_xstrdup(e->section);
    it->name = e->name ? pt_xstrdup(e->name) : NULL;
    it->key = e->key ? pt_xstrdup(e->key) : NULL;
    it->value = e->value ? pt_xstrdup(e->value) : NULL;
    return 0;
}

static void
conf_defaults(struct broker_conf *c)
{
    c->log_level = LOG_INFO;
    c->max_body_bytes = 64 * 1024;
    c->max_header_bytes = 8192;
    c->rate_limit_rps = 50;
    c->rate_limit_burst = 100;
    c->workers = 4;
    c->ticket_ttl_ms = 30000;
    c->ticket_max_conns = 8;
    /* Off by default: with lws 4.1.6 Chromium's many parallel streams (the viewer's ES
     * modules) sometimes end in ERR_CONNECTION_CLOSED on h2, with nothing in our logs;
     * HTTP/1.1 is reliable. See docs/config.md. */
    c->h2 = false;
    c->session_idle_ms = 30 * 60000;
    c->session_ttl_ms = 12 * 3600000;
}

static char *
join(const char *dir, const char *name)
{
    return pt_xasprintf("%s/%s", dir, name);
}

static int
read_secret_file(const char *path, char **out, struct pt_err *err)
{
    char buf[512];
    struct stat st;
    FILE *f;
    size_t n;

    f = fopen(path, "re");
    if (!f)
        return pt_err_set(err, PT_E_IO, "gateway_secret_file %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077))
        pt_warnx("event=conf_warning file=%s msg=\"secret file is readable by group or others; "
                 "chmod 600 it\"",
                 path);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    pt_str_trim(buf);
    if (strlen(buf) < 16) {
        pt_wipe(buf, sizeof(buf));
        return pt_err_set(err, PT_E_INVALID,
                          "gateway_secret_file %s: the secret must be at least 16 characters "
                          "(e.g. `openssl rand -hex 32 > %s`)",
                          path, path);
    }
    *out = pt_xstrdup(buf);
    pt_wipe(buf, sizeof(buf));
    return 0;
}

/* Fill defaults that depend on other keys and check what spans several keys. */
static int
conf_finish(struct broker_conf *c, const char *fname, struct pt_err *err)
{
    char host[256];
    int port;

    if (!c->listen)
        c->listen = pt_xstrdup("127.0.0.1:8443");
    if (pt_parse_hostport(c->listen, host, sizeof(host), &port) < 0)
        return pt_err_set(err, PT_E_INVALID, "%s: [broker] listen = %s: expected host:port", fname,
                          c->listen);
    if (!c->state_dir)
        c->state_dir = pt_xstrdup("/var/lib/portico");
    if ((c->tls_cert == NULL) != (c->tls_key == NULL))
        return pt_err_set(err, PT_E_INVALID,
                          "%s: [broker] set both tls_cert and tls_key, or neither (then a "
                          "self-signed pair is made in state_dir)",
                          fname);
    if (!c->tls_cert) {
        c->tls_cert = join(c->state_dir, "broker.crt");
        c->tls_key = join(c->state_dir, "broker.key");
    }
    if (!c->ticket_key_file)
        c->ticket_key_file = join(c->state_dir, "ticket.key");
    if (!c->db)
        c->db = join(c->state_dir, "portico.db");
    if (!c->rdp_password_dir)
        c->rdp_password_dir = join(c->state_dir, "rdp-passwords");
    if (c->rdp_password_dir[0] != '/')
        return pt_err_set(err, PT_E_INVALID,
                          "%s: [broker] rdp_password_dir = %s: expected an absolute path", fname,
                          c->rdp_password_dir);
    if (!c->event_loop)
        c->event_loop = pt_xstrdup("libev");
    if (strcmp(c->event_loop, "libev") != 0 && strcmp(c->event_loop, "poll") != 0)
        return pt_err_set(err, PT_E_INVALID, "%s: [broker] event_loop = %s: expected libev or poll",
                          fname, c->event_loop);
    if (!c->gateway_audience)
        c->gateway_audience = pt_xstrdup("gateway");
    if (!c->metrics_from)
        c->metrics_from = pt_xstrdup("127.0.0.1 ::1");
    if (c->rate_limit_burst < c->rate_limit_rps)
        c->rate_limit_burst = c->rate_limit_rps;
    if (c->gateway_secret_file &&
        read_secret_file(c->gateway_secret_file, &c->gateway_secret, err) < 0)
        return pt_err_prefix(err, "%s", fname);
    return 0;
}

static struct broker_conf *
conf_load(const char *path, const char *text, struct pt_err *err)
{
    struct broker_conf *c = pt_xcalloc(1, sizeof(*c));
    int rc;

    conf_defaults(c);
    if (text)
        rc = pt_conf_parse_string(text, path, conf_entry, c, err);
    else
        rc = pt_conf_parse_file(path, conf_entry, c, err);
    if (rc < 0 || conf_finish(c, path, err) < 0) {
        broker_conf_free(c);
        return NULL;
    }
    c->path = pt_xstrdup(path);
    return c;
}

struct broker_conf *
broker_conf_load(const char *path, struct pt_err *err)
{
    return conf_load(path, NULL, err);
}

struct broker_conf *
broker_conf_load_string(const char *text, const char *fname, struct pt_err *err)
{
    return conf_load(fname, text, err);
}

void
broker_conf_free(struct broker_conf *c)
{
    if (!c)
        return;
    pt_conf_key_free(broker_keys, c);
    for (size_t i = 0; i < c->nitems; i++) {
        free(c->items[i].file);
        free(c->items[i].section);
        free(c->items[i].name);
        free(c->items[i].key);
        free(c->items[i].value);
    }
    free(c->items);
    pt_free_secret(c->gateway_secret);
    free(c->path);
    free(c);
}

bool
broker_conf_metrics_allowed(const struct broker_conf *c, const char *peer)
{
    const char *p = c->metrics_from;
    size_t pl;

    /* an IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d: compare a.b.c.d */
    if (pt_str_has_prefix(peer, "::ffff:") && strchr(peer, '.'))
        peer += 7;
    pl = strlen(peer);
    while (p && *p) {
        size_t n;

        p += strspn(p, " \t,");
        n = strcspn(p, " \t,");
        if ((n == 1 && p[0] == '*') || (n == pl && n > 0 && strncmp(p, peer, n) == 0))
            return true;
        p += n;
    }
    return false;
}
