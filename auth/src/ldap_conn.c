/*
 * ldap_conn.c - LDAP connections of one worker: connect, TLS, bind, failover, timeouts,
 * and the (paged) search primitive the user lookup is built on.
 *
 * How it works. A struct auth_dir_conn holds at most two handles: ld_search, bound as the
 * service account (or anonymously), and ld_bind, used only to check user passwords (a
 * bind replaces the connection's identity, so that one is never used to search). Each is
 * opened lazily by trying the configured URIs in order, starting with the one that
 * answered last. Every network step is bounded: the TCP connect by
 * LDAP_OPT_NETWORK_TIMEOUT, every request by an explicit ldap_result() timeout (and
 * LDAP_OPT_TIMEOUT for the synchronous StartTLS). A server that times out or drops the
 * connection is abandoned and the next URI tried, once per call, so a caller waits at most
 * about (number of URIs) x (connect + operation timeout).
 *
 * A watchdog bounds connection set-up as a whole: libldap 2.5.13 with GnuTLS spins in
 * the LDAPS handshake against a server that accepted the TCP connection but never
 * answers (a stopped slapd), ignoring LDAP_OPT_NETWORK_TIMEOUT (`ldapsearch -o
 * nettimeout=1 -H ldaps://...` hangs the same way). A connection callback records the
 * socket, and a guard thread shuts it down if set-up outlives connect + operation
 * timeout, which makes the handshake fail at once.
 *
 * TLS: Debian's libldap uses GnuTLS, so only LDAP_OPT_X_TLS_* options are set, on the
 * handle, followed by LDAP_OPT_X_TLS_NEWCTX which makes them take effect. Certificates are
 * always verified (DEMAND). Connect to the name or IP in the certificate: libldap replaces
 * "localhost" with the machine's host name before the check.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <lber.h>
#include <ldap.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "dir_priv.h"

/* The socket of one handle, recorded by libldap's connect callback for the guard. */
struct dir_sock {
    struct ldap_conncb cb; /* must outlive the handle: owned by the conn */
    atomic_int fd;
};

static int
sock_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr, struct ldap_conncb *ctx)
{
    struct dir_sock *s = ctx->lc_arg;
    ber_socket_t fd = -1;

    if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1)
        atomic_store(&s->fd, (int)fd);
    return 0;
}

static void
sock_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
    struct dir_sock *s = ctx->lc_arg;

    atomic_store(&s->fd, -1);
}

struct guard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct timespec deadline;
    bool done, fired;
    struct dir_sock *sock;
    pthread_t th;
    bool running;
};

static void *
guard_main(void *p)
{
    struct guard *g = p;

    pthread_mutex_lock(&g->mu);
    while (!g->done) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &g->deadline) == ETIMEDOUT && !g->done) {
            int fd = atomic_load(&g->sock->fd);
            if (fd >= 0)
                shutdown(fd, SHUT_RDWR); /* the blocked handshake fails right away */
            g->fired = true;
            break;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* guard_arm() - shut @sock down unless guard_disarm() comes within @ms. */
static void
guard_arm(struct guard *g, struct dir_sock *sock, int ms)
{
    pthread_condattr_t ca;

    memset(g, 0, sizeof(*g));
    g->sock = sock;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    clock_gettime(CLOCK_MONOTONIC, &g->deadline);
    g->deadline.tv_sec += ms / 1000;
    g->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (g->deadline.tv_nsec >= 1000000000L) {
        g->deadline.tv_sec++;
        g->deadline.tv_nsec -= 1000000000L;
    }
    /* without the thread we only lose the workaround, not correctness */
    g->running = pthread_create(&g->th, NULL, guard_main, g) == 0;
}

/* guard_disarm() - returns true if the guard fired (the set-up timed out). */
static bool
guard_disarm(struct guard *g)
{
    bool fired;

    pthread_mutex_lock(&g->mu);
    g->done = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->running)
        pthread_join(g->th, NULL);
    fired = g->fired;
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    return fired;
}

static pthread_once_t ldap_once = PTHREAD_ONCE_INIT;

static void
ldap_global_init(void)
{
    int version = 0;

    /* any global get_option runs ldap_int_initialize() under pthread_once's lock */
    ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version);
}

void
dir_ldap_init_once(void)
{
    pthread_once(&ldap_once, ldap_global_init);
}

struct auth_dir_conn *
auth_dir_conn_new(const struct auth_dir *d)
{
    struct auth_dir_conn *c = pt_xcalloc(1, sizeof(*c));

    dir_ldap_init_once();
    c->dir = d;
    for (int i = 0; i < 2; i++) {
        c->socks[i] = pt_xcalloc(1, sizeof(*c->socks[i]));
        c->socks[i]->cb.lc_add = sock_add;
        c->socks[i]->cb.lc_del = sock_del;
        c->socks[i]->cb.lc_arg = c->socks[i];
        atomic_init(&c->socks[i]->fd, -1);
    }
    return c;
}

static void
handle_drop(LDAP **ld)
{
    if (*ld)
        ldap_unbind_ext_s(*ld, NULL, NULL);
    *ld = NULL;
}

void
auth_dir_conn_free(struct auth_dir_conn *c)
{
    if (!c)
        return;
    handle_drop(&c->ld_search);
    handle_drop(&c->ld_bind);
    free(c->socks[0]);
    free(c->socks[1]);
    free(c);
}

const char *
auth_dir_conn_server(const struct auth_dir_conn *c)
{
    return c->ld_search || c->ld_bind ? c->server : NULL;
}

static struct timeval
ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* A failure that says "this server is not answering": try the next one. */
static bool
server_failure(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
           rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY || rc == LDAP_TIMELIMIT_EXCEEDED;
}

static int
handle_rc(LDAP *ld)
{
    int rc = LDAP_OTHER;

    ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
    return rc;
}

/* describe() - "<ldap error>[: <diagnostic>]" into @buf. */
static const char *
describe(LDAP *ld, int rc, char *buf, size_t n)
{
    char *diag = NULL;

    if (ld)
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    snprintf(buf, n, "%s%s%s", rc == LDAP_TIMEOUT ? "timed out" : ldap_err2string(rc),
             diag && *diag ? ": " : "", diag && *diag ? diag : "");
    ldap_memfree(diag);
    return buf;
}

/*
 * simple_bind() - one simple bind with an explicit timeout. Returns an LDAP result code
 * (LDAP_TIMEOUT when no answer came in op_timeout; the request is then abandoned).
 */
static int
simple_bind(const struct auth_dir *d, LDAP *ld, const char *dn, const char *pw)
{
    struct berval cred = {pw ? strlen(pw) : 0, (char *)(pw ? pw : "")};
    struct timeval tv = ms_tv(d->conf.op_timeout_ms);
    LDAPMessage *res = NULL;
    int msgid = -1, rc, err = LDAP_OTHER;

    rc = ldap_sasl_bind(ld, dn ? dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, &msgid);
    if (rc != LDAP_SUCCESS)
        return rc;
    rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
    if (rc == 0) {
        ldap_abandon_ext(ld, msgid, NULL, NULL);
        return LDAP_TIMEOUT;
    }
    if (rc < 0)
        return handle_rc(ld);
    rc = ldap_parse_result(ld, res, &err, NULL, NULL, NULL, NULL, 1);
    return rc != LDAP_SUCCESS ? rc : err;
}

/* open_one() - a configured handle for @uri, TLS started if asked. NULL with @why set. */
static LDAP *
open_one(const struct auth_dir *d, struct dir_sock *sock, const char *uri, char *why, size_t whyn)
{
    const struct auth_dir_conf *c = &d->conf;
    struct timeval net = ms_tv(c->connect_timeout_ms), op = ms_tv(c->op_timeout_ms);
    int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;
    LDAP *ld = NULL;

    rc = ldap_initialize(&ld, uri);
    if (rc != LDAP_SUCCESS) {
        describe(NULL, rc, why, whyn);
        return NULL;
    }
    if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &sock->cb) != LDAP_OPT_SUCCESS ||
        (c->ca_file &&
         ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, c->ca_file) != LDAP_OPT_SUCCESS) ||
        ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS) {
        snprintf(why, whyn, "cannot set LDAP/TLS options (is the CA file %s readable?)",
                 c->ca_file ? c->ca_file : "(none)");
        ldap_unbind_ext_s(ld, NULL, NULL);
        return NULL;
    }
    if (c->starttls && pt_str_has_prefix(uri, "ldap://")) {
        rc = ldap_start_tls_s(ld, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            char buf[200];
            snprintf(why, whyn, "StartTLS failed: %s", describe(ld, rc, buf, sizeof(buf)));
            ldap_unbind_ext_s(ld, NULL, NULL);
            return NULL;
        }
    }
    return ld;
}

/*
 * connect_any() - a handle bound as @dn/@pw (service, or NULL for anonymous) on the first
 * URI that answers, starting at c->preferred. NULL with PT_E_UNAVAILABLE listing every
 * server and why; PT_E_INTERNAL when a server answered but refused the service bind
 * (wrong service credentials: a configuration error, not an outage).
 */
static LDAP *
connect_any(struct auth_dir_conn *c, int which, const char *dn, const char *pw, struct pt_err *err)
{
    const struct auth_dir_conf *conf = &c->dir->conf;
    struct pt_buf why = PT_BUF_INIT;
    LDAP *ld = NULL;
    int64_t t0 = pt_time_mono_ms();

    for (int k = 0; k < conf->n_uris && !ld; k++) {
        int i = (c->preferred + k) % conf->n_uris;
        char reason[300];
        struct guard g;
        bool fired;
        int rc;

        guard_arm(&g, c->socks[which], conf->connect_timeout_ms + conf->op_timeout_ms);
        ld = open_one(c->dir, c->socks[which], conf->uris[i], reason, sizeof(reason));
        rc = ld ? simple_bind(c->dir, ld, dn, pw) : LDAP_CONNECT_ERROR;
        fired = guard_disarm(&g);
        if (fired) /* even after a late success the socket is shut: start over */
            rc = LDAP_TIMEOUT;
        if (ld) {
            if (rc == LDAP_SUCCESS) {
                if (i != c->preferred)
                    pt_log(LOG_WARNING, "event=ldap_failover server=%s", conf->uris[i]);
                c->preferred = i;
                c->server = conf->uris[i];
                break;
            }
            if (fired)
                snprintf(reason, sizeof(reason), "no answer within %d ms",
                         conf->connect_timeout_ms + conf->op_timeout_ms);
            else
                describe(ld, rc, reason, sizeof(reason));
            ldap_unbind_ext_s(ld, NULL, NULL);
            ld = NULL;
            if (!server_failure(rc)) {
                pt_err_set(err, PT_E_INTERNAL, "ldap: service bind as \"%s\" on %s refused: %s",
                           dn && *dn ? dn : "(anonymous)", conf->uris[i], reason);
                goto out;
            }
        }
        pt_buf_appendf(&why, "%s%s (%s)", why.len ? ", " : "", conf->uris[i], reason);
    }
    if (!ld)
        pt_err_set(err, PT_E_UNAVAILABLE, "directory unavailable after %lld ms: %s",
                   (long long)(pt_time_mono_ms() - t0), why.data ? why.data : "no servers");
out:
    pt_buf_fini(&why);
    return ld;
}

/* Move the preferred server on after a failure in mid-use, so the retry starts there. */
static void
fail_over(struct auth_dir_conn *c, LDAP **ld, int rc)
{
    char buf[200];

    pt_log(LOG_WARNING, "event=ldap_server_failed server=%s error=\"%s\"",
           c->server ? c->server : "?", describe(*ld, rc, buf, sizeof(buf)));
    handle_drop(ld);
    c->preferred = (c->preferred + 1) % c->dir->conf.n_uris;
}

int
dir_user_bind(struct auth_dir_conn *c, const char *dn, const char *password, struct pt_err *err)
{
    char buf[200];
    int rc = LDAP_OTHER;

    if (!password || !*password) /* an empty simple bind is anonymous: it would succeed */
        return pt_err_set(err, PT_E_AUTH, "empty password refused");
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!c->ld_bind) {
            c->ld_bind = connect_any(c, 1, NULL, NULL, err);
            if (!c->ld_bind)
                return -1;
        }
        rc = simple_bind(c->dir, c->ld_bind, dn, password);
        if (rc == LDAP_SUCCESS)
            return 0;
        if (rc == LDAP_INVALID_CREDENTIALS)
            return pt_err_set(err, PT_E_AUTH, "invalid credentials for %s", dn);
        if (!server_failure(rc))
            break;
        fail_over(c, &c->ld_bind, rc);
    }
    if (server_failure(rc))
        return pt_err_set(err, PT_E_UNAVAILABLE, "directory unavailable: bind as %s: %s", dn,
                          rc == LDAP_TIMEOUT ? "timed out" : ldap_err2string(rc));
    return pt_err_set(err, PT_E_AUTH, "bind as %s refused: %s", dn,
                      describe(c->ld_bind, rc, buf, sizeof(buf)));
}

struct search_state {
    size_t delivered, max;
    dir_entry_fn *fn;
    void *opaque;
};

/*
 * search_pages() - run the search on @ld to the end. Returns an LDAP result code;
 * LDAP_SUCCESS with every entry passed to the callback, or -2 when the callback or a
 * limit stopped it (@err set).
 */
static int
search_pages(struct auth_dir_conn *c, LDAP *ld, const char *base, const char *filter, char **attrs,
             bool paged, struct search_state *st, struct pt_err *err)
{
    const struct auth_dir_conf *conf = &c->dir->conf;
    struct berval cookie = {0, NULL};
    int rc = LDAP_SUCCESS;

    do {
        LDAPControl *page = NULL, *sctrls[2] = {NULL, NULL}, **rctrls = NULL;
        struct timeval tv = ms_tv(conf->op_timeout_ms);
        LDAPMessage *res = NULL;
        int msgid = -1, result = LDAP_OTHER;
        bool done = false;

        if (paged) {
            rc = ldap_create_page_control(ld, conf->page_size, &cookie, 0, &page);
            if (rc != LDAP_SUCCESS)
                break;
            sctrls[0] = page;
        }
        ber_memfree(cookie.bv_val);
        cookie.bv_val = NULL;
        cookie.bv_len = 0;
        rc = ldap_search_ext(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, paged ? sctrls : NULL,
                             NULL, &tv, (int)st->max + 1, &msgid);
        ldap_control_free(page);
        if (rc != LDAP_SUCCESS)
            break;
        while (!done) {
            /* the deadline is per page: each page is one round trip */
            int r = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &res);
            if (r == 0) {
                ldap_abandon_ext(ld, msgid, NULL, NULL);
                rc = LDAP_TIMEOUT;
                goto out;
            }
            if (r < 0) {
                rc = handle_rc(ld);
                goto out;
            }
            if (r == LDAP_RES_SEARCH_ENTRY) {
                int cb = 0;
                if (++st->delivered > st->max) {
                    pt_err_set(err, PT_E_LIMIT, "ldap: more than %zu results for %s", st->max,
                               filter);
                    cb = -1;
                } else {
                    cb = st->fn(ld, res, st->opaque, err);
                }
                ldap_msgfree(res);
                if (cb < 0) {
                    ldap_abandon_ext(ld, msgid, NULL, NULL);
                    rc = -2;
                    goto out;
                }
            } else if (r == LDAP_RES_SEARCH_RESULT) {
                rc = ldap_parse_result(ld, res, &result, NULL, NULL, NULL, &rctrls, 1);
                if (rc == LDAP_SUCCESS)
                    rc = result;
                if (rc == LDAP_SUCCESS && paged) {
                    LDAPControl *pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
                    ber_int_t count = 0;
                    if (pr)
                        ldap_parse_pageresponse_control(ld, pr, &count, &cookie);
                }
                ldap_controls_free(rctrls);
                done = true;
            } else {
                ldap_msgfree(res); /* references: ignored, referrals are off */
            }
        }
    } while (rc == LDAP_SUCCESS && paged && cookie.bv_len > 0);
out:
    ber_memfree(cookie.bv_val);
    return rc;
}

int
dir_search(struct auth_dir_conn *c, const char *base, const char *filter, char **attrs, bool paged,
           size_t max_entries, dir_entry_fn *fn, void *opaque, struct pt_err *err)
{
    const struct auth_dir_conf *conf = &c->dir->conf;
    struct search_state st = {0, max_entries, fn, opaque};
    char buf[200];
    int rc = LDAP_OTHER;

    if (c->search_as_user) {
        /* bound as the user by dir_user_bind(): no failover possible without the password */
        if (!c->ld_bind)
            return pt_err_set(err, PT_E_UNAVAILABLE, "directory unavailable: not connected");
        rc = search_pages(c, c->ld_bind, base, filter, attrs, paged, &st, err);
        if (rc == LDAP_SUCCESS)
            return 0;
        if (rc == -2)
            return -1;
        if (server_failure(rc))
            handle_drop(&c->ld_bind);
        return pt_err_set(err, server_failure(rc) ? PT_E_UNAVAILABLE : PT_E_INTERNAL,
                          "%sldap: search under %s as the user failed: %s",
                          server_failure(rc) ? "directory unavailable: " : "", base,
                          rc == LDAP_TIMEOUT ? "timed out" : ldap_err2string(rc));
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!c->ld_search) {
            c->ld_search = connect_any(c, 0, conf->bind_dn, conf->bind_pw, err);
            if (!c->ld_search)
                return -1;
        }
        rc = search_pages(c, c->ld_search, base, filter, attrs, paged, &st, err);
        if (rc == LDAP_SUCCESS)
            return 0;
        if (rc == -2)
            return -1;
        if (rc == LDAP_SIZELIMIT_EXCEEDED)
            return pt_err_set(err, PT_E_LIMIT, "ldap: size limit exceeded searching %s", filter);
        if (!server_failure(rc) || st.delivered > 0)
            break;
        fail_over(c, &c->ld_search, rc);
    }
    if (server_failure(rc)) {
        if (c->ld_search)
            handle_drop(&c->ld_search);
        return pt_err_set(err, PT_E_UNAVAILABLE, "directory unavailable: search under %s: %s", base,
                          rc == LDAP_TIMEOUT ? "timed out" : ldap_err2string(rc));
    }
    return pt_err_set(err, PT_E_INTERNAL, "ldap: search under %s for %s failed: %s", base, filter,
                      describe(c->ld_search, rc, buf, sizeof(buf)));
}

char *
dir_filter_escape(const char *value)
{
    struct berval in = {strlen(value), (char *)value}, out = {0, NULL};
    char *s;

    if (ldap_bv2escaped_filter_value(&in, &out) != 0)
        abort(); /* only fails on allocation failure: the pt_x* policy */
    s = pt_xstrndup(out.bv_val, out.bv_len);
    ber_memfree(out.bv_val);
    return s;
}
