/*
 * tf_slapd.c - a throwaway OpenLDAP slapd per test (LAB.md section 3).
 *
 * Each instance gets its own directory under tf_tmpdir() with a fresh CA and a server
 * certificate for IP 127.0.0.1 (libldap maps "localhost" to the hostname, so the IP SAN
 * is what clients verify), a slapd.conf from tests/data/ldap/slapd.conf.in (mdb, the
 * memberof and ppolicy overlays) and free ports for ldap:// and ldaps://.
 *
 * The LDIF is added *online* with ldapadd as the rootdn, not with slapadd: slapadd
 * bypasses overlays, so memberOf would never be filled in. Entries the LDIF lacks but
 * the configuration relies on (the suffix entry, the default password policy that makes
 * pwdAccountLockedTime lock an account) are added around it.
 *
 * slapd runs as root without -u: a uid change clears PR_SET_PDEATHSIG. It is stopped
 * with SIGKILL: SIGTERM takes 1.3-2 s and the database is thrown away anyway.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/str.h"
#include "tf_priv.h"
#include "tsupport/fixture.h"

#define SUFFIX   "dc=example,dc=org"
#define ADMIN_DN "cn=admin," SUFFIX

struct tf_slapd {
    struct tf_proc proc;
    char *dir;
    char *conf;
    char *pwfile;
    char *ca_file;
    char uri[64];
    char uri_tls[64];
    char admin_pw[33];
    int port;
    int tls_port;
};

static const char skel_suffix[] = "dn: " SUFFIX "\n"
                                  "objectClass: dcObject\n"
                                  "objectClass: organization\n"
                                  "o: Example Org\n"
                                  "dc: example\n";

static const char skel_policy[] = "dn: ou=policies," SUFFIX "\n"
                                  "objectClass: organizationalUnit\n"
                                  "ou: policies\n"
                                  "\n"
                                  "dn: cn=default,ou=policies," SUFFIX "\n"
                                  "objectClass: applicationProcess\n"
                                  "objectClass: pwdPolicy\n"
                                  "cn: default\n"
                                  "pwdAttribute: userPassword\n"
                                  "pwdLockout: TRUE\n";

static char *
file_slurp(const char *path, struct pt_err *err)
{
    FILE *f = fopen(path, "re");
    struct pt_buf b = PT_BUF_INIT;
    char chunk[4096];
    size_t n;

    if (!f) {
        pt_err_set(err, PT_E_IO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        pt_buf_append(&b, chunk, n);
    fclose(f);
    pt_buf_append(&b, "", 0); /* NUL-terminated even when empty */
    return pt_buf_steal(&b);
}

/* Replace every @KEY@ of @text by its value; returns new. */
static char *
subst(const char *text, const char *const kv[])
{
    struct pt_buf b = PT_BUF_INIT;

    while (*text) {
        bool done = false;

        for (int i = 0; kv[i] && !done; i += 2) {
            size_t n = strlen(kv[i]);

            if (strncmp(text, kv[i], n) == 0) {
                pt_buf_appends(&b, kv[i + 1]);
                text += n;
                done = true;
            }
        }
        if (!done)
            pt_buf_append(&b, text++, 1);
    }
    pt_buf_append(&b, "", 0); /* NUL-terminated even when empty */
    return pt_buf_steal(&b);
}

static int
openssl(const char *dir, const char *args, struct pt_err *err)
{
    PT_AUTOFREE char *cmd = pt_xasprintf("cd '%s' && openssl %s", dir, args);
    char *argv[] = {(char *)"sh", (char *)"-c", cmd, NULL};

    return tf_run("openssl", argv, NULL, 30000, err);
}

/* A CA and a server certificate for 127.0.0.1 (EC P-256, valid 2 days) in @dir: two
 * openssl runs (req -CA signs directly, OpenSSL 3). */
static int
certs_make(const char *dir, struct pt_err *err)
{
    if (openssl(dir,
                "req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2"
                " -subj '/CN=Portico test CA' -keyout ca.key -out ca.crt"
                " -addext basicConstraints=critical,CA:TRUE"
                " -addext keyUsage=critical,keyCertSign,cRLSign",
                err) < 0 ||
        openssl(dir,
                "req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2"
                " -subj '/CN=127.0.0.1' -keyout server.key -out server.crt"
                " -CA ca.crt -CAkey ca.key"
                " -addext basicConstraints=critical,CA:FALSE"
                " -addext keyUsage=critical,digitalSignature,keyEncipherment"
                " -addext extendedKeyUsage=serverAuth"
                " -addext subjectAltName=IP:127.0.0.1,DNS:localhost",
                err) < 0)
        return pt_err_prefix(err, "making the slapd test certificates");
    return 0;
}

int
tf_slapd_add_ldif(struct tf_slapd *s, const char *ldif, struct pt_err *err)
{
    char *argv[] = {(char *)"ldapadd", (char *)"-x",     (char *)"-H", s->uri,
                    (char *)"-D",      (char *)ADMIN_DN, (char *)"-y", s->pwfile,
                    (char *)"-f",      (char *)ldif,     NULL};

    if (access(ldif, R_OK) != 0)
        return pt_err_set(err, PT_E_NOTFOUND, "LDIF %s: %s", ldif, strerror(errno));
    if (tf_run("ldapadd", argv, NULL, 30000, err) < 0)
        return pt_err_prefix(err, "loading %s into slapd", ldif);
    return 0;
}

static int
add_text(struct tf_slapd *s, const char *name, const char *text, struct pt_err *err)
{
    PT_AUTOFREE char *path = pt_xasprintf("%s/%s", s->dir, name);

    if (tf_file_write(path, text, 0644, err) < 0)
        return -1;
    return tf_slapd_add_ldif(s, path, err);
}

static int
config_write(struct tf_slapd *s, struct pt_err *err)
{
    PT_AUTOFREE char *tmpl_path = pt_xasprintf("%s/tests/data/ldap/slapd.conf.in", tf_source_dir());
    PT_AUTOFREE char *tmpl = NULL;
    PT_AUTOFREE char *conf = NULL;
    PT_AUTOFREE char *data = pt_xasprintf("%s/data", s->dir);
    const char *kv[] = {"@DIR@", s->dir, "@ADMIN_PW@", s->admin_pw, NULL};

    tmpl = file_slurp(tmpl_path, err);
    if (!tmpl)
        return -1;
    conf = subst(tmpl, kv);
    if (tf_mkdir_p(data, err) < 0 || tf_file_write(s->conf, conf, 0600, err) < 0)
        return -1;
    /* for ldapadd -y: the password without a newline */
    return tf_file_write(s->pwfile, s->admin_pw, 0600, err);
}

/* One attempt on fresh ports; -1 with PT_E_CONFLICT when a port was taken meanwhile. */
static int
slapd_launch(struct tf_slapd *s, struct pt_err *err)
{
    PT_AUTOFREE char *urls = NULL;
    char *argv[8];
    int st = 0;

    s->port = tf_free_port();
    s->tls_port = tf_free_port();
    snprintf(s->uri, sizeof(s->uri), "ldap://127.0.0.1:%d", s->port);
    snprintf(s->uri_tls, sizeof(s->uri_tls), "ldaps://127.0.0.1:%d", s->tls_port);
    urls = pt_xasprintf("%s/ %s/", s->uri, s->uri_tls);
    argv[0] = (char *)"slapd";
    argv[1] = (char *)"-d";
    argv[2] = (char *)"0"; /* stay in the foreground: the pid we hold is slapd's */
    argv[3] = (char *)"-f";
    argv[4] = s->conf;
    argv[5] = (char *)"-h";
    argv[6] = urls;
    argv[7] = NULL;
    if (tf_proc_spawn(&s->proc, "slapd", argv, NULL, err) < 0)
        return -1;
    if (tf_proc_wait_ready(&s->proc, s->port, 10000, err) < 0 ||
        tf_proc_wait_ready(&s->proc, s->tls_port, 5000, err) < 0) {
        bool lost_port = tf_proc_exited_with(&s->proc, &st) &&
                         tf_file_contains(s->proc.log_path, "Address already in use");

        tf_proc_stop(&s->proc, 0);
        if (lost_port)
            err->code = PT_E_CONFLICT;
        return -1;
    }
    return 0;
}

struct tf_slapd *
tf_slapd_start(const char *ldif, struct pt_err *err)
{
    struct tf_slapd *s = pt_xcalloc(1, sizeof(*s));
    PT_AUTOFREE char *base = NULL;
    struct pt_err local = {0};
    int rc = -1;

    if (!err)
        err = &local;
    if (tf_need(err, "slapd", "slapd") < 0 || tf_need(err, "ldapadd", "ldap-utils") < 0 ||
        tf_need(err, "openssl", "openssl") < 0)
        goto out;
    if (!ldif) {
        base = pt_xasprintf("%s/tests/data/ldap/base.ldif", tf_source_dir());
        ldif = base;
    }
    if (access(ldif, R_OK) != 0) {
        pt_err_set(err, PT_E_NOTFOUND, "LDIF %s: %s", ldif, strerror(errno));
        goto out;
    }
    s->dir = tf_subdir("slapd", err);
    if (!s->dir)
        goto out;
    s->conf = pt_xasprintf("%s/slapd.conf", s->dir);
    s->pwfile = pt_xasprintf("%s/admin.pw", s->dir);
    s->ca_file = pt_xasprintf("%s/ca.crt", s->dir);
    tf_random_hex(s->admin_pw, sizeof(s->admin_pw));
    if (certs_make(s->dir, err) < 0 || config_write(s, err) < 0)
        goto out;
    for (int attempt = 0; attempt < 3; attempt++) {
        pt_err_clear(err);
        if (slapd_launch(s, err) == 0 || err->code != PT_E_CONFLICT)
            break;
    }
    if (!tf_proc_alive(&s->proc))
        goto out;
    if (!tf_file_contains(ldif, "dn: " SUFFIX) && add_text(s, "suffix.ldif", skel_suffix, err) < 0)
        goto out;
    if (tf_slapd_add_ldif(s, ldif, err) < 0)
        goto out;
    if (!tf_file_contains(ldif, "ou=policies," SUFFIX) &&
        add_text(s, "policy.ldif", skel_policy, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0) {
        pt_err_prefix(err, "slapd fixture");
        tf_slapd_stop(s);
        return NULL;
    }
    return s;
}

const char *
tf_slapd_uri(const struct tf_slapd *s)
{
    return s->uri;
}

const char *
tf_slapd_uri_tls(const struct tf_slapd *s)
{
    return s->uri_tls;
}

const char *
tf_slapd_ca_file(const struct tf_slapd *s)
{
    return s->ca_file;
}

const char *
tf_slapd_base_dn(const struct tf_slapd *s)
{
    (void)s;
    return SUFFIX;
}

const char *
tf_slapd_admin_dn(const struct tf_slapd *s)
{
    (void)s;
    return ADMIN_DN;
}

const char *
tf_slapd_admin_pw(const struct tf_slapd *s)
{
    return s->admin_pw;
}

int
tf_slapd_port(const struct tf_slapd *s)
{
    return s->port;
}

int
tf_slapd_tls_port(const struct tf_slapd *s)
{
    return s->tls_port;
}

void
tf_slapd_pause(struct tf_slapd *s)
{
    if (s && s->proc.pid > 0)
        kill(s->proc.pid, SIGSTOP);
}

void
tf_slapd_resume(struct tf_slapd *s)
{
    if (s && s->proc.pid > 0)
        kill(s->proc.pid, SIGCONT);
}

void
tf_slapd_stop(struct tf_slapd *s)
{
    if (!s)
        return;
    tf_proc_stop(&s->proc, 0);
    free(s->dir);
    free(s->conf);
    free(s->pwfile);
    free(s->ca_file);
    pt_wipe(s->admin_pw, sizeof(s->admin_pw));
    free(s);
}

void
tf_slapd_broker_ldap(const struct tf_slapd *s, char *out, size_t n)
{
    snprintf(out, n,
             "[ldap]\nuri = %s\nbind_dn = %s\nbind_pw = %s\nuser_base = ou=people,%s\n"
             "group_base = ou=groups,%s\nadmin_group = admins\n",
             tf_slapd_uri(s), tf_slapd_admin_dn(s), tf_slapd_admin_pw(s), tf_slapd_base_dn(s),
             tf_slapd_base_dn(s));
}
