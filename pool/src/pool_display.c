/*
 * pool_display.c - where a user's claimed desktop shows its screen, and a fresh
 * password for it, so the broker can mint a gateway ticket (the broker never
 * includes hypervisor/).
 *
 * The endpoint is read live from the hypervisor (hv_desktop_display) rather
 * than the store because display ports are given out when a domain starts and
 * change when it is resumed or migrated. Every call sets a new random display
 * password, valid only until the caller's @valid_to, on all SPICE/VNC displays
 * of the desktop: the password travels only sealed inside the ticket, so a
 * ticket that was never used, or a previous one, is worthless once a new launch
 * has happened or the validity has passed.
 *
 * Hosts whose driver cannot set graphics passwords (libvirt's test:/// driver
 * answers "not supported") get the endpoint with an empty password, and the
 * ticket then carries no secret; any other failure to set the password is an
 * error, never a silent fallback. RDP is served by the guest itself with its
 * own sign-in, so RDP gets no password here.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "hypervisor/hv.h"
#include "pool/pool.h"
#include "pool_priv.h"

/* 8 characters: VNC uses only the first 8 bytes of a password (its DES key).
 * Letters and digits that cannot be confused, 55 of them: 8 draws give about 46
 * bits. */
#define DISPLAY_PW_LEN 8

static int
random_password(char *out, size_t n, struct pt_err *err)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    const unsigned limit = 256 - 256 % (sizeof(alphabet) - 1); /* no modulo bias */
    unsigned char rnd[64];
    size_t got = 0;

    if (n < DISPLAY_PW_LEN + 1)
        return pt_err_set(err, PT_E_INVALID, "display password buffer too small");
    while (got < DISPLAY_PW_LEN) {
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return pt_err_set(err, PT_E_INTERNAL, "no random bytes for a display password");
        for (size_t i = 0; i < sizeof(rnd) && got < DISPLAY_PW_LEN; i++)
            if (rnd[i] < limit)
                out[got++] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    }
    out[got] = '\0';
    pt_wipe(rnd, sizeof(rnd));
    return 0;
}

int
pool_desktop_display(struct pool_ctx *ctx, const char *host, const char *domain, unsigned proto,
                     int64_t valid_to, char *addr, size_t addrn, int *port, char *password,
                     size_t pwn, struct pt_err *err)
{
    struct hv_display disp;
    struct pt_err perr = {0};

    if (pwn == 0)
        return pt_err_set(err, PT_E_INVALID, "display password buffer too small");
    password[0] = '\0';
    *port = 0;
    if (proto != POOL_PROTO_SPICE && proto != POOL_PROTO_VNC && proto != POOL_PROTO_RDP)
        return pt_err_set(err, PT_E_INVALID, "unknown display protocol bit %u", proto);
    if (hv_desktop_display(pool_ctx_hv(ctx), host, domain, &disp, err) < 0)
        return -1;
    if (proto == POOL_PROTO_RDP) {
        *port = disp.rdp_port;
        pt_strlcpy(addr, disp.rdp_host[0] ? disp.rdp_host : disp.host, addrn);
    } else {
        *port = proto == POOL_PROTO_VNC ? disp.vnc_port : disp.spice_port;
        pt_strlcpy(addr, disp.host, addrn);
    }
    if (*port <= 0)
        return pt_err_set(err, PT_E_UNAVAILABLE, "desktop %s has no %s display (yet)", domain,
                          proto == POOL_PROTO_RDP   ? "RDP"
                          : proto == POOL_PROTO_VNC ? "VNC"
                                                    : "SPICE");
    if (proto == POOL_PROTO_RDP)
        return 0;
    if (random_password(password, pwn, err) < 0)
        return -1;
    if (hv_desktop_set_password(pool_ctx_hv(ctx), host, domain, password, valid_to, &perr) < 0) {
        pt_wipe(password, pwn);
        password[0] = '\0';
        /* libvirt's test driver (test:///) has no graphics password support */
        if (perr.code == PT_E_INVALID && strstr(perr.msg, "not supported")) {
            pt_info("event=display_password_unsupported host=%s desktop=%s", host, domain);
            return 0;
        }
        *err = perr;
        return -1;
    }
    return 0;
}
