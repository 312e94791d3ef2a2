/*
 * keyfile.c - PEM key files for tickets (Ed25519) and sealing (X25519).
 *
 * A private key is created on first run: generated, written to a temporary file opened
 * with mode 0600 and O_EXCL, then link()ed into place, which fails if another process won
 * the race, in which case we load that process's key. The public half is written next to
 * it as "<path>.pub" for the other side (gateway or broker) to read. A private key file
 * that group or others can read is refused, as ssh does: it may already have leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/mem.h"
#include "ticket_priv.h"

static const char *
key_type_str(int type)
{
    return type == EVP_PKEY_ED25519 ? "Ed25519" : type == EVP_PKEY_X25519 ? "X25519" : "?";
}

static int
ossl_err(struct pt_err *err, enum pt_errc code, const char *what, const char *path)
{
    char buf[160];
    unsigned long e = ERR_get_error();

    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return pt_err_set(err, code, "%s %s: %s", what, path, e ? buf : "unknown OpenSSL error");
}

int
auth_key_kid(EVP_PKEY *pkey, unsigned char kid[AUTH_TICKET_KID_LEN])
{
    unsigned char raw[32], digest[SHA256_DIGEST_LENGTH];
    size_t len = sizeof(raw);

    if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1)
        return -1;
    SHA256(raw, len, digest);
    memcpy(kid, digest, AUTH_TICKET_KID_LEN);
    return 0;
}

static FILE *
open_pem(const char *path, struct pt_err *err)
{
    FILE *f = fopen(path, "re");

    if (!f)
        pt_err_set(err, errno == ENOENT ? PT_E_NOTFOUND : PT_E_IO, "open %s: %s", path,
                   strerror(errno));
    return f;
}

EVP_PKEY *
auth_keyfile_load_pub(const char *path, int type, struct pt_err *err)
{
    EVP_PKEY *pkey = NULL;
    FILE *f = open_pem(path, err);

    if (!f)
        return NULL;
    pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!pkey) {
        ossl_err(err, PT_E_INVALID, "read public key", path);
        return NULL;
    }
    if (EVP_PKEY_get_id(pkey) != type) {
        pt_err_set(err, PT_E_INVALID, "public key %s is not %s", path, key_type_str(type));
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

static EVP_PKEY *
load_private(const char *path, int type, struct pt_err *err)
{
    EVP_PKEY *pkey = NULL;
    struct stat st;
    FILE *f = open_pem(path, err);

    if (!f)
        return NULL;
    if (fstat(fileno(f), &st) < 0) {
        pt_err_set(err, PT_E_IO, "stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (st.st_mode & 077) {
        pt_err_set(err, PT_E_INVALID,
                   "private key %s is readable by group or others (mode %03o): "
                   "chmod 600 it, and rotate it if it may have leaked",
                   path, (unsigned)(st.st_mode & 0777));
        goto out;
    }
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    if (!pkey) {
        ossl_err(err, PT_E_INVALID, "read private key", path);
        goto out;
    }
    if (EVP_PKEY_get_id(pkey) != type) {
        pt_err_set(err, PT_E_INVALID, "private key %s is not %s", path, key_type_str(type));
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    fclose(f);
    return pkey;
}

/* write_pem() - write @pkey (private or public half) to a new file @path with @mode,
 * via a temporary file and link(): returns 0, 1 if @path already existed, or -1. */
static int
write_pem(const char *path, EVP_PKEY *pkey, bool priv, mode_t mode, struct pt_err *err)
{
    char *tmp = pt_xasprintf("%s.tmp.%ld", path, (long)getpid());
    FILE *f = NULL;
    int fd, rc = -1, ok;

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        pt_err_set(err, PT_E_IO, "create %s: %s", tmp, strerror(errno));
        goto out;
    }
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        pt_err_set(err, PT_E_IO, "fdopen %s: %s", tmp, strerror(errno));
        goto out_unlink;
    }
    ok =
        priv ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, pkey);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || !ok) {
        ossl_err(err, PT_E_IO, "write key", tmp);
        goto out_unlink;
    }
    if (link(tmp, path) < 0) {
        if (errno == EEXIST) {
            rc = 1;
            goto out_unlink;
        }
        pt_err_set(err, PT_E_IO, "link %s: %s", path, strerror(errno));
        goto out_unlink;
    }
    rc = 0;
out_unlink:
    unlink(tmp);
out:
    if (f)
        fclose(f);
    free(tmp);
    return rc;
}

EVP_PKEY *
auth_keyfile_load_or_create(const char *path, int type, struct pt_err *err)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    char *pub = pt_xasprintf("%s.pub", path);
    struct pt_err e = {0};
    int w;

    pkey = load_private(path, type, &e);
    if (!pkey && e.code != PT_E_NOTFOUND) {
        if (err)
            *err = e;
        goto out;
    }
    if (!pkey) {
        ctx = EVP_PKEY_CTX_new_id(type, NULL);
        if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1) {
            ossl_err(err, PT_E_INTERNAL, "generate key for", path);
            goto out;
        }
        w = write_pem(path, pkey, true, 0600, err);
        if (w < 0) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
            goto out;
        }
        if (w == 1) { /* lost a creation race: use the winner's key */
            EVP_PKEY_free(pkey);
            pkey = load_private(path, type, err);
            if (!pkey)
                goto out;
        }
    }
    if (access(pub, F_OK) < 0) {
        if (write_pem(pub, pkey, false, 0644, err) < 0) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    } else {
        /* A stale .pub (left from an older key) would make every gateway refuse us. */
        EVP_PKEY *have = auth_keyfile_load_pub(pub, type, err);
        if (!have || EVP_PKEY_eq(have, pkey) != 1) {
            if (have)
                pt_err_set(err, PT_E_INVALID,
                           "public key %s does not match private key %s: remove the .pub to "
                           "have it written again",
                           pub, path);
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        EVP_PKEY_free(have);
    }
out:
    EVP_PKEY_CTX_free(ctx);
    free(pub);
    return pkey;
}
