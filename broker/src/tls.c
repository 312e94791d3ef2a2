/*
 * tls.c - the broker's TLS certificate on first run.
 *
 * A broker without a configured certificate still speaks only TLS: on first start it
 * makes an EC P-256 key and a self-signed certificate (SAN localhost, 127.0.0.1 and the
 * listen host) with OpenSSL, writes the key with mode 0600 through a temporary file and
 * rename(2), and reuses the pair afterwards. Clients pin or trust that certificate
 * (porticoctl --ca FILE). Having only one of the two files is an error, not a reason to
 * overwrite the other.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "broker_priv.h"
#include "common/mem.h"

static int
mkdir_parent(const char *path, struct pt_err *err)
{
    char dir[4096];
    char *slash;

    pt_strlcpy(dir, path, sizeof(dir));
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return pt_err_set(err, PT_E_IO, "cannot create %s: %s", dir, strerror(errno));
    return 0;
}

/* Write @bio's bytes to @path with @mode, atomically (tmp + rename). */
static int
write_file_atomic(const char *path, BIO *bio, mode_t mode, struct pt_err *err)
{
    char tmp[4200];
    char *data;
    long len;
    int fd, rc = -1;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    len = BIO_get_mem_data(bio, &data);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return pt_err_set(err, PT_E_IO, "cannot create %s: %s", tmp, strerror(errno));
    if (write(fd, data, (size_t)len) != len || fsync(fd) < 0) {
        pt_err_set(err, PT_E_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) < 0) {
        pt_err_set(err, PT_E_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    close(fd);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int
add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ex;
    int rc;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return -1;
    rc = X509_add_ext(x, ex, -1) ? 0 : -1;
    X509_EXTENSION_free(ex);
    return rc;
}

static int
make_pair(const char *cert, const char *key, const char *host, struct pt_err *err)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    X509_NAME *name;
    BIO *kb = NULL, *cb = NULL;
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    char san[512];
    int rc = -1;

    pkey = EVP_EC_gen("P-256");
    x = X509_new();
    if (!pkey || !x)
        goto ssl_error;
    X509_set_version(x, 2);
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto ssl_error;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        goto ssl_error;
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 825L * 24 * 3600); /* the browsers' maximum */
    X509_set_pubkey(x, pkey);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Portico", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 || !host[0])
        snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1");
    else if (strspn(host, "0123456789.") == strlen(host) || strchr(host, ':'))
        snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:%s", host);
    else
        snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,DNS:%s", host);
    if (add_ext(x, NID_subject_alt_name, san) < 0 ||
        add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(x, NID_ext_key_usage, "serverAuth") < 0)
        goto ssl_error;
    if (!X509_sign(x, pkey, EVP_sha256()))
        goto ssl_error;
    kb = BIO_new(BIO_s_mem());
    cb = BIO_new(BIO_s_mem());
    if (!kb || !cb || !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cb, x))
        goto ssl_error;
    if (mkdir_parent(key, err) < 0 || mkdir_parent(cert, err) < 0)
        goto out;
    if (write_file_atomic(key, kb, 0600, err) < 0 || write_file_atomic(cert, cb, 0644, err) < 0)
        goto out;
    pt_log(LOG_NOTICE, "event=tls_selfsigned cert=%s key=%s san=\"%s\"", cert, key, san);
    rc = 0;
    goto out;
ssl_error:
    pt_err_set(err, PT_E_INTERNAL, "cannot make a self-signed certificate: %s",
               ERR_reason_error_string(ERR_get_error()));
out:
    BIO_free(kb);
    BIO_free(cb);
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

int
broker_tls_ensure(const char *cert, const char *key, const char *host, struct pt_err *err)
{
    bool have_cert = access(cert, F_OK) == 0;
    bool have_key = access(key, F_OK) == 0;
    struct stat st;

    if (have_cert && have_key) {
        if (access(cert, R_OK) < 0 || access(key, R_OK) < 0)
            return pt_err_set(err, PT_E_IO, "cannot read %s or %s: %s", cert, key, strerror(errno));
        if (stat(key, &st) == 0 && (st.st_mode & 0077))
            pt_warnx("event=tls_warning key=%s msg=\"private key is readable by group or "
                     "others; chmod 600 it\"",
                     key);
        return 0;
    }
    if (have_cert != have_key)
        return pt_err_set(err, PT_E_INVALID,
                          "%s exists but %s does not: restore the missing file or remove both "
                          "to have a new self-signed pair made",
                          have_cert ? cert : key, have_cert ? key : cert);
    return make_pair(cert, key, host, err);
}
