/*
 * ws_frame.c - the RFC 6455 frame reader and header writer (ws_frame.h).
 *
 * The reader is a pull parser: each call returns at the next thing the caller must act
 * on (a piece of payload, a whole control frame, a violation), so payload is handed on
 * where it lies in the read buffer, never copied. Only control frames, which the caller
 * needs whole, are gathered (at most 125 bytes).
 */
#include "ws_frame.h"

#include <string.h>

void
ws_rx_init(struct ws_rx *rx)
{
    memset(rx, 0, sizeof(*rx));
}

void
ws_unmask(unsigned char *p, size_t len, uint32_t mask, unsigned phase)
{
    unsigned char k[8];
    uint32_t r;
    uint64_t w;
    size_t i = 0;

    memcpy(k, &mask, 4);
    memcpy(k + 4, &mask, 4);
    memcpy(&r, k + (phase & 3), 4);
    /* Both halves equal: the word's bytes are the key from @phase on, in any byte order. */
    w = (uint64_t)r << 32 | r;
    for (; i + 32 <= len; i += 32) {
        uint64_t v[4];
        memcpy(v, p + i, 32);
        v[0] ^= w;
        v[1] ^= w;
        v[2] ^= w;
        v[3] ^= w;
        memcpy(p + i, v, 32);
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= w;
        memcpy(p + i, &v, 8);
    }
    for (; i < len; i++)
        p[i] ^= k[(phase + i) & 3];
}

static size_t
fail(struct ws_rx *rx, struct ws_rx_event *ev, int code, const char *why, size_t used)
{
    rx->failed = true;
    ev->kind = WS_RX_ERROR;
    ev->close_code = code;
    ev->error = why;
    return used;
}

static bool
close_code_valid(int c)
{
    /* RFC 6455 7.4: 1004-1006 and 1015 are never sent; 1012-1014 were registered later. */
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/* The first two header bytes are in: check what they alone can tell. Returns NULL or why
 * the frame is refused. */
static const char *
header_check(const struct ws_rx *rx)
{
    unsigned op = rx->hdr[0] & 0x0f, len7 = rx->hdr[1] & 0x7f;
    bool fin = rx->hdr[0] & 0x80;

    if (rx->hdr[0] & 0x70)
        return "reserved frame bits set, but no extension was negotiated";
    if (!(rx->hdr[1] & 0x80))
        return "browser frames must be masked (RFC 6455 5.1)";
    switch (op) {
    case WS_OP_CONT:
        return rx->in_message ? NULL : "continuation frame outside a fragmented message";
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        return rx->in_message ? "new message inside a fragmented message" : NULL;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!fin)
            return "fragmented control frame";
        if (len7 > WS_CONTROL_MAX)
            return "control frame longer than 125 bytes";
        return NULL;
    default:
        return "unknown frame opcode";
    }
}

static size_t
header_size(const struct ws_rx *rx)
{
    unsigned len7 = rx->hdr[1] & 0x7f;

    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

/* The whole header is in rx->hdr: start the frame. Returns NULL or why it is refused. */
static const char *
frame_start(struct ws_rx *rx)
{
    unsigned len7 = rx->hdr[1] & 0x7f;
    const unsigned char *k = rx->hdr + header_size(rx) - 4;
    uint64_t len = len7;

    if (len7 == 126) {
        len = (uint64_t)rx->hdr[2] << 8 | rx->hdr[3];
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | rx->hdr[2 + i];
        if (len >> 63)
            return "frame length has its most significant bit set";
    }
    rx->opcode = rx->hdr[0] & 0x0f;
    rx->fin = rx->hdr[0] & 0x80;
    rx->remaining = len;
    memcpy(&rx->mask, k, 4);
    rx->mask_phase = 0;
    rx->ctl_len = 0;
    if (rx->opcode == WS_OP_TEXT || rx->opcode == WS_OP_BINARY)
        rx->message_binary = rx->opcode == WS_OP_BINARY;
    if (!(rx->opcode & 0x8))
        rx->in_message = !rx->fin;
    rx->in_payload = true;
    rx->hdr_len = 0;
    return NULL;
}

/* A control frame's payload is whole in rx->ctl. */
static void
control_done(struct ws_rx *rx, struct ws_rx_event *ev)
{
    ev->data = rx->ctl;
    ev->len = rx->ctl_len;
    switch (rx->opcode) {
    case WS_OP_PING:
        ev->kind = WS_RX_PING;
        return;
    case WS_OP_PONG:
        ev->kind = WS_RX_PONG;
        return;
    default:
        break;
    }
    if (rx->ctl_len == 0) {
        ev->kind = WS_RX_CLOSE;
        ev->close_code = 1005; /* "no status code was present" */
        return;
    }
    if (rx->ctl_len == 1) {
        fail(rx, ev, 1002, "close frame with a one-byte payload", 0);
        return;
    }
    ev->close_code = rx->ctl[0] << 8 | rx->ctl[1];
    if (!close_code_valid(ev->close_code)) {
        fail(rx, ev, 1002, "close frame with an invalid status code", 0);
        return;
    }
    ev->kind = WS_RX_CLOSE;
    ev->data = rx->ctl + 2;
    ev->len = rx->ctl_len - 2u;
}

size_t
ws_rx_next(struct ws_rx *rx, unsigned char *buf, size_t len, struct ws_rx_event *ev)
{
    size_t used = 0;

    memset(ev, 0, sizeof(*ev));
    ev->kind = WS_RX_NONE;
    if (rx->failed)
        return len;
    while (used < len) {
        if (!rx->in_payload) {
            size_t need = rx->hdr_len < 2 ? 2 : header_size(rx);
            size_t take = need - rx->hdr_len;
            const char *why;

            if (take > len - used)
                take = len - used;
            memcpy(rx->hdr + rx->hdr_len, buf + used, take);
            rx->hdr_len = (uint8_t)(rx->hdr_len + take);
            used += take;
            if (rx->hdr_len < need)
                continue; /* the rest of the header is in a later read */
            if (need == 2) {
                if ((why = header_check(rx)) != NULL)
                    return fail(rx, ev, 1002, why, used);
                continue; /* now the extended length and the key */
            }
            if ((why = frame_start(rx)) != NULL)
                return fail(rx, ev, 1002, why, used);
            if (rx->remaining)
                continue;
            rx->in_payload = false;
            if (rx->opcode & 0x8) {
                control_done(rx, ev);
                return used;
            }
            if (rx->fin) { /* an empty last frame still ends its message */
                ev->kind = WS_RX_DATA;
                ev->data = buf + used;
                ev->binary = rx->message_binary;
                ev->message_end = true;
                return used;
            }
            continue;
        }

        size_t n = len - used;
        if (n > rx->remaining)
            n = (size_t)rx->remaining;
        if (rx->opcode & 0x8) {
            memcpy(rx->ctl + rx->ctl_len, buf + used, n);
            ws_unmask(rx->ctl + rx->ctl_len, n, rx->mask, rx->mask_phase);
            rx->ctl_len = (uint8_t)(rx->ctl_len + n);
        } else {
            ws_unmask(buf + used, n, rx->mask, rx->mask_phase);
        }
        rx->mask_phase = (unsigned)((rx->mask_phase + n) & 3);
        rx->remaining -= n;
        used += n;
        if (rx->remaining == 0)
            rx->in_payload = false;
        if (rx->opcode & 0x8) {
            if (rx->remaining == 0) {
                control_done(rx, ev);
                return used;
            }
            continue;
        }
        ev->kind = WS_RX_DATA;
        ev->data = buf + used - n;
        ev->len = n;
        ev->binary = rx->message_binary;
        ev->message_end = rx->fin && rx->remaining == 0;
        return used;
    }
    return used;
}

size_t
ws_frame_header(unsigned char *end, enum ws_opcode opcode, bool fin, uint64_t len)
{
    unsigned char b0 = (unsigned char)((fin ? 0x80 : 0) | opcode);

    if (len < 126) {
        end[-2] = b0;
        end[-1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        end[-4] = b0;
        end[-3] = 126;
        end[-2] = (unsigned char)(len >> 8);
        end[-1] = (unsigned char)len;
        return 4;
    }
    end[-10] = b0;
    end[-9] = 127;
    for (int i = 0; i < 8; i++)
        end[-8 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}
