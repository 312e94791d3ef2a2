/*
 * display_bridge.c - TEST CODE: pool_desktop_display() for the broker's launch tests,
 * linked only into the test binary portico-broker-display.
 *
 * The broker reads a desktop's display endpoint through pool/ (it never includes
 * hypervisor/), and pool/ does not offer that call yet, so the broker references it
 * weakly. This file supplies it from the real parts, as pool/ would: the endpoint of the
 * claimed domain from hv_desktop_display(), and a fresh
 * one-minute display password set with hv_desktop_set_password() (the test driver cannot
 * set one: then the ticket carries no secret). It is not a fake; it
 * is the missing pool/ call living in the tests until pool/ has it (then delete this).
 * The broker calls it on a worker thread; it touches only hv (thread-safe).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/str.h"
#include "hypervisor/hv.h"
#include "pool/pool.h"

int pool_desktop_display(struct pool_ctx *ctx, const char *host, const char *domain, unsigned proto,
                         char *addr, size_t addrn, int *port, char *password, size_t pwn,
                         struct pt_err *err);

int
pool_desktop_display(struct pool_ctx *ctx, const char *host, const char *domain, unsigned proto,
                     char *addr, size_t addrn, int *port, char *password, size_t pwn,
                     struct pt_err *err)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    struct hv_display disp;
    unsigned char rnd[8];

    if (hv_desktop_display(pool_ctx_hv(ctx), host, domain, &disp, err) < 0)
        return -1;
    *port = proto == POOL_PROTO_VNC     ? disp.vnc_port
            : proto == POOL_PROTO_SPICE ? disp.spice_port
                                        : disp.rdp_port;
    if (*port <= 0)
        return pt_err_set(err, PT_E_UNAVAILABLE, "desktop %s has no display for that protocol",
                          domain);
    pt_strlcpy(addr, disp.host, addrn);
    if (pwn < 9 || RAND_bytes(rnd, sizeof(rnd)) != 1)
        return pt_err_set(err, PT_E_INTERNAL, "no password");
    for (int i = 0; i < 8; i++)
        password[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    password[8] = '\0';
    /* libvirt's test driver cannot change graphics passwords: then no secret is sealed */
    if (hv_desktop_set_password(pool_ctx_hv(ctx), host, domain, password,
                                pt_time_wall_ms() / 1000 + 60, NULL) < 0)
        password[0] = '\0';
    return 0;
}
