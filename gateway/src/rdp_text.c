/*
 * rdp_text.c - the clipboard's text conversions, free of FreeRDP so unit tests link them
 * alone: UTF-16LE <-> UTF-8 (strict on the UTF-8 side, U+FFFD for lone surrogates on the
 * Windows side), base64 as guacamole-common-js sends it (blobs padded one by one), and
 * the clipboard direction policy: its names, and how a ticket narrows the gateway's.
 */
#include <string.h>

#include "rdp_priv.h"

void
rdp_put_utf8(struct pt_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    pt_buf_append(b, u, n);
}

size_t
rdp_utf16le_to_utf8(struct pt_buf *out, const uint8_t *in, size_t len, size_t max)
{
    size_t start = out->len;

    for (size_t i = 0; i + 1 < len; i += 2) {
        uint32_t cp = in[i] | (uint32_t)in[i + 1] << 8;
        size_t before = out->len;

        if (cp == 0)
            break; /* Windows ends clipboard text with a NUL */
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 3 < len) {
            uint32_t lo = in[i + 2] | (uint32_t)in[i + 3] << 8;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD; /* lone surrogate */
        }
        rdp_put_utf8(out, cp);
        if (out->len - start > max) { /* cut before the character that does not fit */
            out->len = before;
            break;
        }
    }
    return out->len - start;
}

/* Decode one valid UTF-8 sequence at @s (@len left); 0 if invalid. */
static size_t
utf8_next(const uint8_t *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t c = s[0], min;

    if (c < 0x80) {
        *cp = c;
        return c ? 1 : 0;
    }
    if ((c & 0xE0) == 0xC0) {
        n = 2, c &= 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, c &= 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

int
rdp_utf8_to_utf16le(struct pt_buf *out, const char *in, size_t len)
{
    const uint8_t *s = (const uint8_t *)in;

    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(s + i, len - i, &cp);
        uint8_t u[4];

        if (n == 0)
            return -1;
        i += n;
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000, hi = 0xD800 | (v >> 10), lo = 0xDC00 | (v & 0x3FF);
            u[0] = (uint8_t)hi, u[1] = (uint8_t)(hi >> 8), u[2] = (uint8_t)lo,
            u[3] = (uint8_t)(lo >> 8);
            pt_buf_append(out, u, 4);
        } else {
            u[0] = (uint8_t)cp, u[1] = (uint8_t)(cp >> 8);
            pt_buf_append(out, u, 2);
        }
    }
    pt_buf_append(out, "\0\0", 2);
    return 0;
}

static int
b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Quads are decoded one by one, so the concatenation of several padded blobs (what
 * guacamole-common-js sends: each blob is base64 of its own) decodes too. */
int
rdp_base64_decode(struct pt_buf *out, const char *in, size_t len)
{
    if (len % 4)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        uint8_t o[3];
        size_t n = 3;

        for (int k = 0; k < 4; k++)
            v[k] = b64_val(in[i + k]);
        if (in[i + 3] == '=') {
            n = in[i + 2] == '=' ? 1 : 2;
            v[3] = 0;
            if (n == 1)
                v[2] = 0;
        }
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            return -1;
        o[0] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        o[1] = (uint8_t)(v[1] << 4 | v[2] >> 2);
        o[2] = (uint8_t)(v[2] << 6 | v[3]);
        pt_buf_append(out, o, n);
    }
    return 0;
}

int
gw_rdp_clip_dir_parse(const char *str, enum gw_rdp_clip_dir *out)
{
    static const char *const names[] = {"both", "to-desktop", "from-desktop", "none"};

    for (int i = 0; i < 4; i++) {
        if (str && strcmp(str, names[i]) == 0) {
            *out = (enum gw_rdp_clip_dir)i;
            return 0;
        }
    }
    return -1;
}

/* Directions as two permissions, so "the stricter wins" is a plain AND. */
static bool
clip_to_desktop(enum gw_rdp_clip_dir d)
{
    return d == GW_RDP_CLIP_BOTH || d == GW_RDP_CLIP_TO_DESKTOP;
}

static bool
clip_from_desktop(enum gw_rdp_clip_dir d)
{
    return d == GW_RDP_CLIP_BOTH || d == GW_RDP_CLIP_FROM_DESKTOP;
}

static enum gw_rdp_clip_dir
clip_of_ticket(enum auth_clip_dir d)
{
    switch (d) {
    case AUTH_CLIP_BOTH:
        return GW_RDP_CLIP_BOTH;
    case AUTH_CLIP_TO_DESKTOP:
        return GW_RDP_CLIP_TO_DESKTOP;
    case AUTH_CLIP_FROM_DESKTOP:
        return GW_RDP_CLIP_FROM_DESKTOP;
    case AUTH_CLIP_NONE:
        return GW_RDP_CLIP_NONE;
    }
    return GW_RDP_CLIP_NONE;
}

void
gw_rdp_conf_apply_ticket(struct gw_rdp_conf *c, const struct auth_ticket_claims *claims)
{
    enum gw_rdp_clip_dir pool = clip_of_ticket(claims->clip_dir);
    bool to = clip_to_desktop(c->clipboard_dir) && clip_to_desktop(pool);
    bool from = clip_from_desktop(c->clipboard_dir) && clip_from_desktop(pool);

    c->clipboard_dir = to && from ? GW_RDP_CLIP_BOTH
                       : to       ? GW_RDP_CLIP_TO_DESKTOP
                       : from     ? GW_RDP_CLIP_FROM_DESKTOP
                                  : GW_RDP_CLIP_NONE;
    if (claims->clip_max > 0 && claims->clip_max < c->clipboard_max)
        c->clipboard_max = claims->clip_max;
    /* claims->audio: applied once the backend has audio output (conf.audio) */
    /* certificates are trusted per desktop/pool as the ticket names it */
    pt_strlcpy(c->cert_scope, claims->desktop, sizeof(c->cert_scope));
}
