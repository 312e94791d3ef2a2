/*
 * vnc_auth.c - the RFB "VNC authentication" response, computed by the gateway.
 *
 * The broker seals each desktop's display password into the ticket; the gateway answers
 * the desktop's DES challenge itself and shows the browser security type None, so no
 * password ever reaches a browser. RFB's DES uses the password's first 8 bytes with the
 * bits of every byte reversed as the key. Single DES lives in OpenSSL 3's legacy provider;
 * we load it into a private library context so the rest of the process keeps the default
 * provider set.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/provider.h>

#include "common/mem.h"
#include "gw_priv.h"

static OSSL_LIB_CTX *des_ctx;
static EVP_CIPHER *des_cipher;

static unsigned char
reverse_bits(unsigned char b)
{
    b = (unsigned char)((b & 0xF0) >> 4 | (b & 0x0F) << 4);
    b = (unsigned char)((b & 0xCC) >> 2 | (b & 0x33) << 2);
    b = (unsigned char)((b & 0xAA) >> 1 | (b & 0x55) << 1);
    return b;
}

static int
des_load(struct pt_err *err)
{
    if (des_cipher)
        return 0;
    des_ctx = OSSL_LIB_CTX_new();
    if (!des_ctx || !OSSL_PROVIDER_load(des_ctx, "legacy") ||
        !OSSL_PROVIDER_load(des_ctx, "default"))
        return pt_err_set(err, PT_E_UNAVAILABLE,
                          "OpenSSL legacy provider (single DES, needed for VNC auth) not found");
    des_cipher = EVP_CIPHER_fetch(des_ctx, "DES-ECB", NULL);
    if (!des_cipher)
        return pt_err_set(err, PT_E_UNAVAILABLE, "OpenSSL has no DES-ECB for VNC auth");
    return 0;
}

int
vnc_auth_response(const unsigned char challenge[16], const char *password, unsigned char out[16],
                  struct pt_err *err)
{
    unsigned char key[8] = {0};
    EVP_CIPHER_CTX *c = NULL;
    size_t plen = strlen(password);
    int n = 0, rc = -1;

    if (des_load(err) < 0)
        return -1;
    for (size_t i = 0; i < 8 && i < plen; i++)
        key[i] = reverse_bits((unsigned char)password[i]);
    c = EVP_CIPHER_CTX_new();
    if (!c || !EVP_EncryptInit_ex(c, des_cipher, NULL, key, NULL) ||
        !EVP_CIPHER_CTX_set_padding(c, 0) || !EVP_EncryptUpdate(c, out, &n, challenge, 16) ||
        n != 16) {
        pt_err_set(err, PT_E_INTERNAL, "DES encryption of the VNC challenge failed");
        goto out;
    }
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    pt_wipe(key, sizeof(key));
    return rc;
}
