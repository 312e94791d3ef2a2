/*
 * bench_auth.c - sign-ins per second against a real slapd, and tickets per second.
 *
 * Sign-ins: N worker threads (each with its own struct auth_dir_conn, as in the broker's
 * job pool) sign random users in for D seconds through auth_dir_conn_login(): user
 * search, password bind, direct groups (paged) and one level of nesting, entitlements.
 * The reference, run side by side, is the floor any LDAP sign-in pays: bare libldap with
 * persistent connections doing only the user search and the password bind. Latency p50
 * and p99 are per sign-in.
 *
 * Tickets: auth_signer_sign() and auth_verifier_check() (encode + Ed25519 + strict
 * decode) against a bare EVP Ed25519 sign/verify of a message of the same length.
 *
 * Usage: bench_auth [seconds per run, default 3] [max threads, default 4]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>
#include <openssl/evp.h>

#include "auth/directory.h"
#include "auth/ticket.h"
#include "common/mem.h"
#include "common/str.h"
#include "tsupport/fixture.h"

#define BENCH_USERS 100

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct worker {
    pthread_t th;
    bool reference;
    const struct auth_dir *dir;
    const char *uri;
    int64_t deadline_us;
    int64_t *lat;
    size_t n, cap;
    long failures;
    unsigned seed;
};

static void
record(struct worker *w, int64_t us)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 4096;
        w->lat = pt_xreallocarray(w->lat, w->cap, sizeof(*w->lat));
    }
    w->lat[w->n++] = us;
}

/* One sign-in the bare libldap way: search the DN, bind as it. */
static int
reference_login(LDAP *svc, LDAP *ub, const char *uid, const char *pw)
{
    char filter[128], *dn = NULL, *attrs[] = {(char *)"1.1", NULL};
    struct berval cred = {strlen(pw), (char *)pw};
    LDAPMessage *res = NULL, *e;
    int rc;

    snprintf(filter, sizeof(filter), "(&(objectClass=inetOrgPerson)(uid=%s))", uid);
    rc = ldap_search_ext_s(svc, "ou=people,dc=example,dc=org", LDAP_SCOPE_SUBTREE, filter, attrs, 0,
                           NULL, NULL, NULL, 2, &res);
    e = rc == LDAP_SUCCESS ? ldap_first_entry(svc, res) : NULL;
    if (e)
        dn = ldap_get_dn(svc, e);
    ldap_msgfree(res);
    if (!dn)
        return -1;
    rc = ldap_sasl_bind_s(ub, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    ldap_memfree(dn);
    return rc == LDAP_SUCCESS ? 0 : -1;
}

static LDAP *
reference_open(const char *uri)
{
    LDAP *ld = NULL;
    int v3 = LDAP_VERSION3;
    struct berval none = {0, NULL};

    if (ldap_initialize(&ld, uri) != LDAP_SUCCESS)
        return NULL;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_sasl_bind_s(ld, "", LDAP_SASL_SIMPLE, &none, NULL, NULL, NULL);
    return ld;
}

static void *
worker_main(void *p)
{
    struct worker *w = p;
    struct auth_dir_conn *c = w->reference ? NULL : auth_dir_conn_new(w->dir);
    LDAP *svc = w->reference ? reference_open(w->uri) : NULL;
    LDAP *ub = w->reference ? reference_open(w->uri) : NULL;

    while (now_us() < w->deadline_us) {
        char uid[16], pw[32];
        int i = (int)(rand_r(&w->seed) % BENCH_USERS), rc;
        int64_t t0;
        snprintf(uid, sizeof(uid), "bench%03d", i);
        snprintf(pw, sizeof(pw), "%s-pw", uid);
        t0 = now_us();
        if (w->reference) {
            rc = reference_login(svc, ub, uid, pw);
        } else {
            struct auth_dir_user *u = NULL;
            struct pt_err err = {0};
            rc = auth_dir_conn_login(c, uid, pw, &u, &err);
            if (rc == 0 && (u->n_groups != 2 || u->n_pools != 1))
                rc = -1; /* g-N and bench-all, pool "bench": the work was really done */
            auth_dir_user_free(u);
        }
        if (rc == 0)
            record(w, now_us() - t0);
        else
            w->failures++;
    }
    auth_dir_conn_free(c);
    if (svc)
        ldap_unbind_ext_s(svc, NULL, NULL);
    if (ub)
        ldap_unbind_ext_s(ub, NULL, NULL);
    return NULL;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct result {
    double per_s, p50_ms, p99_ms;
    long failures;
};

static struct result
run(const struct auth_dir *dir, const char *uri, bool reference, int threads, int seconds)
{
    struct worker *w = pt_xcalloc((size_t)threads, sizeof(*w));
    int64_t start = now_us(), *all = NULL;
    size_t total = 0, k = 0;
    struct result r = {0, 0, 0, 0};

    for (int i = 0; i < threads; i++) {
        w[i].reference = reference;
        w[i].dir = dir;
        w[i].uri = uri;
        w[i].deadline_us = start + (int64_t)seconds * 1000000;
        w[i].seed = (unsigned)(i * 7919 + 1);
        pthread_create(&w[i].th, NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].n;
        r.failures += w[i].failures;
    }
    all = pt_xcalloc(total ? total : 1, sizeof(*all));
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof(*all));
        k += w[i].n;
        free(w[i].lat);
    }
    qsort(all, total, sizeof(*all), cmp_i64);
    r.per_s = (double)total / ((double)(now_us() - start) / 1e6);
    if (total) {
        r.p50_ms = (double)all[total / 2] / 1000.0;
        r.p99_ms = (double)all[total * 99 / 100] / 1000.0;
    }
    free(all);
    free(w);
    return r;
}

static void
bench_signins(int seconds, int max_threads)
{
    struct pt_err err = {0};
    char ldif[512];
    struct tf_slapd *s;
    struct auth_dir_conf c;
    struct auth_dir *dir;

    snprintf(ldif, sizeof(ldif), "%s/tests/data/ldap/auth-bench.ldif", tf_source_dir());
    s = tf_slapd_start(ldif, &err);
    if (!s) {
        fprintf(stderr, "bench_auth: %s\n", err.msg);
        exit(1);
    }
    auth_dir_conf_init(&c);
    auth_dir_conf_add_uri(&c, tf_slapd_uri(s), NULL);
    c.user_base = pt_xstrdup("ou=people,dc=example,dc=org");
    c.group_base = pt_xstrdup("ou=groups,dc=example,dc=org");
    c.nest_depth = 1;
    auth_dir_conf_add_pool(&c, "bench-all", "bench", NULL);
    dir = auth_dir_new(&c, &err);
    auth_dir_conf_fini(&c);
    if (!dir) {
        fprintf(stderr, "bench_auth: %s\n", err.msg);
        exit(1);
    }
    printf("sign-ins against slapd %s, %d alternating 1 s rounds each, %d users\n"
           "(p50: mean of the rounds' medians; p99: worst round)\n",
           tf_slapd_uri(s), seconds, BENCH_USERS);
    printf("%-8s %14s %9s %9s %16s %9s %9s %7s\n", "threads", "auth/ login/s", "p50 ms", "p99 ms",
           "bare libldap/s", "p50 ms", "p99 ms", "ratio");
    for (int t = 1; t <= max_threads; t *= 2) {
        struct result a = {0, 0, 0, 0}, b = {0, 0, 0, 0};
        /* alternate one-second rounds so both sides see the same machine load */
        for (int round = 0; round < seconds; round++) {
            struct result x = run(dir, tf_slapd_uri(s), false, t, 1);
            struct result y = run(dir, tf_slapd_uri(s), true, t, 1);
            a.per_s += x.per_s / seconds;
            a.p50_ms += x.p50_ms / seconds;
            a.p99_ms = x.p99_ms > a.p99_ms ? x.p99_ms : a.p99_ms;
            a.failures += x.failures;
            b.per_s += y.per_s / seconds;
            b.p50_ms += y.p50_ms / seconds;
            b.p99_ms = y.p99_ms > b.p99_ms ? y.p99_ms : b.p99_ms;
            b.failures += y.failures;
        }
        printf("%-8d %14.0f %9.2f %9.2f %16.0f %9.2f %9.2f %7.2f%s\n", t, a.per_s, a.p50_ms,
               a.p99_ms, b.per_s, b.p50_ms, b.p99_ms, b.per_s > 0 ? a.per_s / b.per_s : 0,
               a.failures || b.failures ? "  (failures!)" : "");
    }
    auth_dir_free(dir);
    tf_slapd_stop(s);
}

struct tctx {
    struct auth_signer *s;
    struct auth_verifier *v;
    struct auth_ticket_claims c;
    char *ticket;
    EVP_PKEY *pkey;
    unsigned char msg[512], sig[64];
    size_t mlen;
};

/* The four measured operations; a failure aborts the benchmark. */
static void
op_sign(struct tctx *x)
{
    free(auth_signer_sign(x->s, &x->c, NULL));
}

static void
op_verify(struct tctx *x)
{
    struct auth_ticket_claims out;

    if (auth_verifier_check(x->v, x->ticket, strlen(x->ticket), "gw-1", pt_time_wall_ms(), &out) !=
        AUTH_TICKET_OK)
        abort();
}

static void
op_raw_sign(struct tctx *x)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sl = sizeof(x->sig);

    if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, x->pkey) != 1 ||
        EVP_DigestSign(md, x->sig, &sl, x->msg, x->mlen) != 1)
        abort();
    EVP_MD_CTX_free(md);
}

static void
op_raw_verify(struct tctx *x)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (!md || EVP_DigestVerifyInit(md, NULL, NULL, NULL, x->pkey) != 1 ||
        EVP_DigestVerify(md, x->sig, sizeof(x->sig), x->msg, x->mlen) != 1)
        abort();
    EVP_MD_CTX_free(md);
}

static void
bench_tickets(int seconds)
{
    void (*ops[4])(struct tctx *) = {op_sign, op_raw_sign, op_verify, op_raw_verify};
    long count[4] = {0, 0, 0, 0};
    int64_t spent[4] = {0, 0, 0, 0};
    struct pt_err err = {0};
    char key[600], pub[610];
    struct tctx x;
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    double rate[4];

    memset(&x, 0, sizeof(x));
    snprintf(key, sizeof(key), "%s/bench-ticket.key", tf_tmpdir());
    snprintf(pub, sizeof(pub), "%s.pub", key);
    x.s = auth_signer_load_or_create(key, &err);
    x.v = x.s ? auth_verifier_new(pub, NULL, &err) : NULL;
    if (!x.v || !kc || EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_keygen(kc, &x.pkey) != 1) {
        fprintf(stderr, "bench_auth: %s\n", err.msg);
        exit(1);
    }
    auth_ticket_claims_init(&x.c, pt_time_wall_ms(), 600000, NULL);
    pt_strlcpy(x.c.session_id, "3f9a2c7d1e5b8a4f6c0d2e9b7a1c3f5e3f9a2c7d1e5b8a4f6c0d2e9b7a1c3f5e",
               sizeof(x.c.session_id));
    pt_strlcpy(x.c.user, "alice", sizeof(x.c.user));
    pt_strlcpy(x.c.desktop, "engineering-0042", sizeof(x.c.desktop));
    x.c.proto = AUTH_PROTO_SPICE;
    pt_strlcpy(x.c.host, "10.20.30.40", sizeof(x.c.host));
    x.c.port = 5900;
    pt_strlcpy(x.c.audience, "gw-1", sizeof(x.c.audience));
    x.c.max_conns = 4;
    x.ticket = auth_signer_sign(x.s, &x.c, NULL);
    /* reference message: as long as the signed part of a ticket (all but ".<sig>") */
    x.mlen = strlen(x.ticket) - 87;
    memset(x.msg, 'x', sizeof(x.msg));
    op_raw_sign(&x);

    /* 100 ms slices, the four operations in turn, so load changes hit all of them */
    for (int slice = 0; slice < seconds * 10 / 4 + 1; slice++) {
        for (int k = 0; k < 4; k++) {
            int64_t t0 = now_us(), t;
            do {
                ops[k](&x);
                count[k]++;
            } while ((t = now_us()) - t0 < 100000);
            spent[k] += t - t0;
        }
    }
    for (int k = 0; k < 4; k++)
        rate[k] = (double)count[k] / ((double)spent[k] / 1e6);
    printf("\ntickets (%zu bytes encoded), 1 thread, interleaved 100 ms slices, %.1f s each\n",
           strlen(x.ticket), (double)spent[0] / 1e6);
    printf("%-8s %14s %16s %7s\n", "", "auth/ per s", "bare EVP per s", "ratio");
    printf("%-8s %14.0f %16.0f %7.2f\n", "sign", rate[0], rate[1], rate[0] / rate[1]);
    printf("%-8s %14.0f %16.0f %7.2f\n", "verify", rate[2], rate[3], rate[2] / rate[3]);
    free(x.ticket);
    EVP_PKEY_free(x.pkey);
    EVP_PKEY_CTX_free(kc);
    auth_verifier_free(x.v);
    auth_signer_free(x.s);
}

int
main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 3, threads = argc > 2 ? atoi(argv[2]) : 4;

    if (seconds < 1 || threads < 1) {
        fprintf(stderr, "usage: bench_auth [seconds per run] [max threads]\n");
        return 2;
    }
    bench_signins(seconds, threads);
    bench_tickets(seconds);
    return 0;
}
