/*
 * probe.c - tiny VNC (RFB 3.8) and SPICE link clients, enough to prove that a display
 * port answers and that its password is enforced. VNC authentication is DES over the
 * server's challenge (RFB 3.8 section 7.2.2; DES comes from OpenSSL's legacy provider);
 * SPICE sends the ticket RSA-OAEP encrypted with the key of the link reply.
 */
#include "probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

static int
dial(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int
read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);

        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int
write_full(int fd, const void *buf, size_t n)
{
    return write(fd, buf, n) == (ssize_t)n ? 0 : -1;
}

int
probe_vnc_banner(int port, char out[13])
{
    int fd = dial(port), rc = -1;

    if (fd < 0)
        return -1;
    if (read_full(fd, out, 12) == 0) {
        out[12] = '\0';
        rc = 0;
    }
    close(fd);
    return rc;
}

/* VNC's DES key: the password's first 8 bytes, each with its bits mirrored. */
static int
vnc_des(const char *password, const unsigned char chal[16], unsigned char resp[16])
{
    static OSSL_PROVIDER *legacy;
    unsigned char key[8] = {0};
    EVP_CIPHER_CTX *ctx;
    EVP_CIPHER *des;
    int n1 = 0, n2 = 0, rc = -1;

    if (!legacy) {
        /* loading legacy would hide default: keep both (never unloaded: test process) */
        legacy = OSSL_PROVIDER_load(NULL, "legacy");
        OSSL_PROVIDER_load(NULL, "default");
    }
    for (int i = 0; i < 8 && password[i]; i++) {
        unsigned char c = (unsigned char)password[i], r = 0;

        for (int b = 0; b < 8; b++)
            if (c & (1u << b))
                r |= (unsigned char)(0x80u >> b);
        key[i] = r;
    }
    des = EVP_CIPHER_fetch(NULL, "DES-ECB", NULL);
    ctx = EVP_CIPHER_CTX_new();
    if (des && ctx && EVP_EncryptInit_ex(ctx, des, NULL, key, NULL) == 1 &&
        EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
        EVP_EncryptUpdate(ctx, resp, &n1, chal, 16) == 1 &&
        EVP_EncryptFinal_ex(ctx, resp + n1, &n2) == 1 && n1 + n2 == 16)
        rc = 0;
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(des);
    return rc;
}

int
probe_vnc_auth(int port, const char *password, struct probe_vnc *out)
{
    unsigned char ver[12], n, types[32], chal[16], resp[16];
    uint32_t result;
    int fd = dial(port), rc = -1;

    memset(out, 0, sizeof(*out));
    out->result = -1;
    if (fd < 0)
        return -1;
    if (read_full(fd, ver, 12) < 0 || memcmp(ver, "RFB 003.008\n", 12) != 0 ||
        write_full(fd, "RFB 003.008\n", 12) < 0 || read_full(fd, &n, 1) < 0 || n == 0 ||
        read_full(fd, types, n) < 0)
        goto out;
    out->ntypes = n;
    for (int i = 0; i < n && i < 8; i++)
        out->types[i] = types[i];
    if (!password) {
        rc = 0;
        goto out;
    }
    /* choose VNC authentication (2) if offered, else None (1) */
    unsigned char want = memchr(types, 2, n) ? 2 : 1;

    if (write_full(fd, &want, 1) < 0)
        goto out;
    if (want == 2) {
        if (read_full(fd, chal, 16) < 0 || vnc_des(password, chal, resp) < 0 ||
            write_full(fd, resp, 16) < 0)
            goto out;
    }
    if (read_full(fd, &result, 4) < 0)
        goto out;
    out->result = (int)ntohl(result);
    rc = 0;
out:
    close(fd);
    return rc;
}

int
probe_spice(int port, const char *password, struct probe_spice *out)
{
    unsigned char hdr[16], msg[18] = {0}, reply[512], enc[256];
    uint32_t v, size, res;
    size_t enclen = sizeof(enc);
    const unsigned char *kp;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int fd = dial(port), rc = -1;

    memset(out, 0, sizeof(*out));
    out->auth_result = -1;
    if (fd < 0)
        return -1;
    /* SpiceLinkHeader + SpiceLinkMess for the main channel, no capabilities */
    memcpy(hdr, "REDQ", 4);
    v = 2;
    memcpy(hdr + 4, &v, 4);
    memcpy(hdr + 8, &v, 4);
    size = sizeof(msg);
    memcpy(hdr + 12, &size, 4);
    msg[4] = 1; /* channel type main */
    v = 18;     /* caps offset */
    memcpy(msg + 14, &v, 4);
    if (write_full(fd, hdr, 16) < 0 || write_full(fd, msg, sizeof(msg)) < 0 ||
        read_full(fd, hdr, 16) < 0)
        goto out;
    memcpy(out->magic, hdr, 4);
    memcpy(&size, hdr + 12, 4);
    if (memcmp(hdr, "REDQ", 4) != 0 || size < 4 + 162 || size > sizeof(reply) ||
        read_full(fd, reply, size) < 0)
        goto out;
    memcpy(&v, reply, 4);
    out->link_error = (int)v;
    if (!password || v != 0) {
        rc = 0;
        goto out;
    }
    kp = reply + 4;
    pk = d2i_PUBKEY(NULL, &kp, 162);
    ctx = pk ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
    if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_encrypt(ctx, enc, &enclen, (const unsigned char *)password,
                         strlen(password) + 1) <= 0)
        goto out;
    if (write_full(fd, enc, enclen) < 0 || read_full(fd, &res, 4) < 0)
        goto out;
    out->auth_result = (int)res;
    rc = 0;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    close(fd);
    return rc;
}
