/*
 * gw_xff.c - the client's address behind trusted reverse proxies (X-Forwarded-For).
 *
 * Behind a load balancer every WebSocket comes from the balancer's address, so the
 * per-address connection limit and the logs would see one client. X-Forwarded-For is
 * only worth anything when the peer that sent it is one of ours: anyone can put any
 * address in the header. So the header is read only when the peer is in
 * `trusted_proxies`, and then from the right: each trusted proxy appends the address it
 * saw, so the right-most entry that is not itself a trusted proxy is the first address
 * no proxy of ours vouches for beyond - the client. Entries further left were written by
 * the client (or proxies we do not know) and are ignored.
 *
 * Hostile headers: the header is bounded by lws's header space (max_http_header_data);
 * the walk is linear and stops at the first untrusted entry; an entry that is not an
 * address (names, garbage, empty) ends the walk at the hop to its right, i.e. the last
 * address a trusted proxy vouched for. Addresses are returned in canonical inet_ntop
 * form so that "::0001" and "::1", or "::ffff:10.0.0.1" and "10.0.0.1", count as one.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/str.h"
#include "gw_priv.h"

struct gw_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
};

/* Parse one address (no prefix). IPv4-mapped IPv6 becomes IPv4. Returns 0 or -1. */
static int
addr_parse(const char *s, size_t len, int *family, unsigned char out[16])
{
    char buf[INET6_ADDRSTRLEN + 8];

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out, mapped, 12) == 0) {
            memmove(out, out + 12, 4);
            *family = AF_INET;
        } else {
            *family = AF_INET6;
        }
        return 0;
    }
    return -1;
}

static bool
cidr_match(const struct gw_cidr *c, int family, const unsigned char *a)
{
    int full = c->bits / 8, rest = c->bits % 8;

    if (c->family != family)
        return false;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return false;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if ((c->addr[full] & mask) != (a[full] & mask))
            return false;
    }
    return true;
}

static bool
list_match(const struct gw_cidr *v, size_t n, int family, const unsigned char *a)
{
    for (size_t i = 0; i < n; i++)
        if (cidr_match(&v[i], family, a))
            return true;
    return false;
}

int
gw_cidr_list_parse(const char *s, struct gw_cidr **out, size_t *n, struct pt_err *err)
{
    struct gw_cidr *v = NULL;
    size_t count = 0;
    const char *p = s ? s : "";

    *out = NULL;
    *n = 0;
    while (*p) {
        size_t len, alen;
        const char *slash;
        struct gw_cidr c;
        int max;

        p += strspn(p, " ,\t");
        len = strcspn(p, " ,\t");
        if (!len)
            break;
        slash = memchr(p, '/', len);
        alen = slash ? (size_t)(slash - p) : len;
        memset(&c, 0, sizeof(c));
        if (addr_parse(p, alen, &c.family, c.addr) < 0)
            goto bad;
        max = c.family == AF_INET ? 32 : 128;
        c.bits = max;
        if (slash) {
            char *end;
            long bits;
            if (alen + 1 == len || !isdigit((unsigned char)slash[1]))
                goto bad;
            bits = strtol(slash + 1, &end, 10);
            if (end != p + len || bits < 0 || bits > 128)
                goto bad;
            /* An IPv4-mapped prefix (::ffff:a.b.c.d/n) counts in IPv6 bits. */
            if (c.family == AF_INET && memchr(p, ':', alen)) {
                if (bits < 96)
                    goto bad;
                bits -= 96;
            }
            if (bits > max)
                goto bad;
            c.bits = (int)bits;
        }
        v = pt_xreallocarray(v, count + 1, sizeof(*v));
        v[count++] = c;
        p += len;
        continue;
bad:
        free(v);
        return pt_err_set(err, PT_E_INVALID,
                          "trusted_proxies: \"%.*s\" is not an address or CIDR prefix "
                          "(e.g. 10.0.0.0/8, 192.0.2.7, 2001:db8::/32)",
                          (int)(len > 80 ? 80 : len), p);
    }
    *out = v;
    *n = count;
    return 0;
}

void
gw_cidr_list_free(struct gw_cidr *v)
{
    free(v);
}

static void
addr_format(int family, const unsigned char *a, char *out, size_t outlen)
{
    if (!inet_ntop(family, a, out, (socklen_t)outlen))
        pt_strlcpy(out, "?", outlen);
}

/* One X-Forwarded-For entry, spaces trimmed; "[v6]:port", "[v6]" and "v4:port" accepted
 * (some proxies add the port). Returns 0 or -1 when it is not an address. */
static int
entry_parse(const char *s, size_t len, int *family, unsigned char a[16])
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len && *s == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return -1;
        return addr_parse(s + 1, (size_t)(close - s - 1), family, a);
    }
    if (addr_parse(s, len, family, a) == 0)
        return 0;
    {
        const char *colon = memchr(s, ':', len);
        /* v4:port has exactly one colon; anything else with colons was IPv6 and failed. */
        if (colon && !memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
            return addr_parse(s, (size_t)(colon - s), family, a) == 0 && *family == AF_INET ? 0
                                                                                            : -1;
    }
    return -1;
}

void
gw_xff_resolve(const struct gw_cidr *trusted, size_t n, const char *peer, const char *xff,
               char *out, size_t outlen, bool *forwarded)
{
    unsigned char cur[16];
    int fam;
    size_t end;

    *forwarded = false;
    if (addr_parse(peer, strlen(peer), &fam, cur) < 0) {
        pt_strlcpy(out, peer, outlen);
        return;
    }
    addr_format(fam, cur, out, outlen);
    if (!n || !xff || !list_match(trusted, n, fam, cur))
        return;
    /* Walk from the right while the hop is a trusted proxy. */
    end = strlen(xff);
    while (end > 0) {
        size_t start = end;
        unsigned char a[16];
        int f;

        while (start > 0 && xff[start - 1] != ',')
            start--;
        if (entry_parse(xff + start, end - start, &f, a) < 0)
            break; /* not an address: trust stops at the hop that handed it over */
        fam = f;
        memcpy(cur, a, sizeof(cur));
        addr_format(fam, cur, out, outlen);
        *forwarded = true;
        if (!list_match(trusted, n, fam, cur))
            break; /* the first address none of our proxies is: the client */
        end = start ? start - 1 : 0;
    }
}

/* Every X-Forwarded-For header line, joined with ',' (lws keeps repeated headers as
 * fragments; joined without a separator, "1.2.3." + "4" would read as one address).
 * Returns new, or NULL when there is none. Bounded by lws's header space. */
static char *
xff_header(struct lws *wsi)
{
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR), used = 0;
    char *buf;

    if (total <= 0)
        return NULL;
    /* Room for a ',' between fragments: at most one per byte of content. */
    buf = pt_xmalloc((size_t)total * 2 + 2);
    for (int i = 0; i < total; i++) {
        int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_X_FORWARDED_FOR, i);
        if (len <= 0)
            break;
        if (used)
            buf[used++] = ',';
        if (lws_hdr_copy_fragment(wsi, buf + used, total * 2 + 2 - used, WSI_TOKEN_X_FORWARDED_FOR,
                                  i) < 0)
            break;
        used += len;
    }
    buf[used] = '\0';
    return buf;
}

void
gw_xff_addr_get(struct gw *g, struct lws *wsi, char *out, size_t outlen, char *peer, size_t peerlen)
{
    char *xff = NULL;
    bool forwarded;

    lws_get_peer_simple(wsi, peer, peerlen);
    if (g->n_proxies)
        xff = xff_header(wsi);
    gw_xff_resolve(g->proxies, g->n_proxies, peer, xff, out, outlen, &forwarded);
    free(xff);
    if (!forwarded)
        peer[0] = '\0';
}
