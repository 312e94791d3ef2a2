/*
 * gw_tls.c - the listener's certificate: a self-signed one for a gateway that was given
 * none, and loading a new pair into the live SSL_CTX on reload (SIGHUP).
 *
 * A gateway must never fall back to clear text because a certificate is missing, so on
 * first start without tls_cert/tls_key it makes an EC P-256 key (mode 0600) and a
 * one-year self-signed certificate for its id under state_dir, and reuses them on later
 * starts. Deployments put a real certificate in the config; this keeps labs and tests
 * on TLS 1.2+ with no manual step.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/mem.h"
#include "gw_priv.h"

static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, struct pt_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    FILE *f = NULL;
    int rc = -1;

    if (fd < 0)
        return pt_err_set(err, PT_E_IO, "cannot create %s: %s", path, strerror(errno));
    (void)fchmod(fd, mode);
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return pt_err_set(err, PT_E_IO, "cannot open %s: %s", path, strerror(errno));
    }
    if (key && !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
        goto out;
    if (cert && !PEM_write_X509(f, cert))
        goto out;
    rc = 0;
out:
    if (fclose(f) != 0 || rc < 0) {
        unlink(path);
        return pt_err_set(err, PT_E_IO, "cannot write %s", path);
    }
    return 0;
}

static int
make_pair(const char *cert_path, const char *key_path, const char *cn, struct pt_err *err)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509_EXTENSION *ext = NULL;
    X509V3_CTX v3;
    char san[300];
    int rc = -1;

    if (!key || !x) {
        pt_err_set(err, PT_E_INTERNAL, "cannot generate an EC key");
        goto out;
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(time(NULL) & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1", cn);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    if (ext)
        X509_add_ext(x, ext, -1);
    if (!X509_sign(x, key, EVP_sha256())) {
        pt_err_set(err, PT_E_INTERNAL, "cannot self-sign the gateway certificate");
        goto out;
    }
    if (write_pem(key_path, 0600, key, NULL, err) < 0)
        goto out;
    if (write_pem(cert_path, 0644, NULL, x, err) < 0)
        goto out;
    rc = 0;
out:
    X509_EXTENSION_free(ext);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

int
gw_tls_ensure(struct gw_conf *c, struct pt_err *err)
{
    char *cert = NULL, *key = NULL;
    int rc = -1;

    if (!c->tls || (c->tls_cert && c->tls_key))
        return 0;
    if (mkdir(c->state_dir, 0700) < 0 && errno != EEXIST)
        return pt_err_set(err, PT_E_IO, "cannot create state_dir %s: %s", c->state_dir,
                          strerror(errno));
    cert = pt_xasprintf("%s/gateway-selfsigned.crt", c->state_dir);
    key = pt_xasprintf("%s/gateway-selfsigned.key", c->state_dir);
    if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
        if (make_pair(cert, key, c->id ? c->id : "portico-gateway", err) < 0)
            goto out;
        pt_log(LOG_NOTICE,
               "event=tls_selfsigned cert=%s key=%s (set tls_cert/tls_key for a "
               "real certificate)",
               cert, key);
    }
    c->tls_cert = pt_steal(&cert);
    c->tls_key = pt_steal(&key);
    rc = 0;
out:
    free(cert);
    free(key);
    return rc;
}

/* OpenSSL's reason for the last failure, for an error message; clears the queue. */
static const char *
ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return r ? r : "unknown error";
}

/* Whether the failure queued is "key values mismatch"; clears the queue. */
static bool
key_mismatch(void)
{
    unsigned long e;
    bool hit = false;

    while ((e = ERR_get_error()) != 0)
        hit |= ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
    return hit;
}

/* Both files into @ctx; 0 or -1 with @err saying which file is wrong and why. */
static int
load_pair(SSL_CTX *ctx, const char *cert, const char *key, struct pt_err *err)
{
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return pt_err_set(err, PT_E_INVALID, "tls_cert %s: cannot load a PEM certificate (%s)",
                          cert, ssl_reason());
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        if (key_mismatch())
            return pt_err_set(err, PT_E_INVALID, "tls_key %s does not belong to tls_cert %s", key,
                              cert);
        return pt_err_set(err, PT_E_INVALID, "tls_key %s: cannot load a PEM private key", key);
    }
    if (SSL_CTX_check_private_key(ctx) != 1)
        return pt_err_set(err, PT_E_INVALID, "tls_key %s does not belong to tls_cert %s (%s)", key,
                          cert, ssl_reason());
    return 0;
}

int
gw_tls_pair_check(const char *cert, const char *key, struct pt_err *err)
{
    SSL_CTX *probe = SSL_CTX_new(TLS_server_method());
    int rc;

    if (!probe)
        return pt_err_set(err, PT_E_INTERNAL, "cannot create an SSL_CTX");
    rc = load_pair(probe, cert, key, err);
    SSL_CTX_free(probe);
    return rc;
}

int
gw_tls_pair_apply(SSL_CTX *live, const char *cert, const char *key, struct pt_err *err)
{
    /* Checked first on a scratch context: a bad pair never half-replaces the live one.
     * Connections already up keep the certificate they were made with; SSL_new() copies
     * the context's current one for every new connection. */
    if (gw_tls_pair_check(cert, key, err) < 0)
        return -1;
    return load_pair(live, cert, key, err);
}
