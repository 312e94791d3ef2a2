/*
 * ws_frame.h - RFC 6455 frames as a server sees them: the reader of what a browser sends
 * (masked frames, hostile input) and the header of what the server sends.
 *
 * Pure code over byte buffers (no sockets, no lws), so the gateway's own WebSocket I/O
 * (gw_wsio.c) and the fuzz target share one parser. The reader unmasks payload in place
 * a machine word at a time: lws 4.1.6 does it a byte at a time, which was ~28 % of the
 * gateway's CPU on upstream relay (docs/gateway.md).
 */
#ifndef PT_GATEWAY_WS_FRAME_H
#define PT_GATEWAY_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

/* The largest header a server writes: 2 + 8 bytes of extended length (no mask). */
#define WS_FRAME_HEADER_MAX 10
/* Control frames carry at most this much payload (RFC 6455 5.5). */
#define WS_CONTROL_MAX 125

enum ws_rx_kind {
    WS_RX_NONE,  /* all input consumed, the frame continues in the next read */
    WS_RX_DATA,  /* a piece of a data message: out->data/len, unmasked in place */
    WS_RX_PING,  /* a whole ping: payload in out->data/len (the reader's own buffer) */
    WS_RX_PONG,  /* a whole pong */
    WS_RX_CLOSE, /* a whole close frame: out->close_code (1005 when none), reason in data */
    WS_RX_ERROR, /* protocol violation: out->close_code and out->error; read no further */
};

struct ws_rx_event {
    enum ws_rx_kind kind;
    const unsigned char *data;
    size_t len;
    bool binary;      /* WS_RX_DATA: the message is binary (else text) */
    bool message_end; /* WS_RX_DATA: this piece ends its message */
    int close_code;
    const char *error; /* WS_RX_ERROR: why, for the close reason and the log */
};

/* The reader's state between reads: zero it (or ws_rx_init) before the first byte. */
struct ws_rx {
    unsigned char hdr[14]; /* a header that arrived in pieces */
    uint8_t hdr_len;
    uint8_t opcode;      /* of the current frame */
    bool fin;            /* of the current frame */
    bool in_payload;     /* header read, payload bytes follow */
    bool in_message;     /* a fragmented data message is open */
    bool message_binary; /* its type */
    bool failed;         /* a violation was reported: nothing more is parsed */
    uint64_t remaining;  /* payload bytes of the current frame still to come */
    uint32_t mask;       /* the frame's masking key, as it lies in memory */
    unsigned mask_phase; /* payload bytes of this frame already unmasked, mod 4 */
    unsigned char ctl[WS_CONTROL_MAX];
    uint8_t ctl_len;
};

void ws_rx_init(struct ws_rx *rx);

/* ws_rx_next() - parse from @buf (@len bytes; data payload is unmasked in place) up to the
 * next event. Returns the bytes consumed; *@ev says what they made. Call again with the
 * rest of the buffer while bytes remain; a return of 0 with WS_RX_NONE means @len was 0.
 * After WS_RX_ERROR every call consumes everything and reports WS_RX_NONE. */
size_t ws_rx_next(struct ws_rx *rx, unsigned char *buf, size_t len, struct ws_rx_event *ev);

/* ws_frame_header() - the header of an unmasked server frame with @opcode and a @len
 * payload, written so that it ends at @end (the header occupies the bytes just before
 * @end: @end - return value). @end must have WS_FRAME_HEADER_MAX writable bytes before
 * it. Returns the header's length. */
size_t ws_frame_header(unsigned char *end, enum ws_opcode opcode, bool fin, uint64_t len);

/* ws_unmask() - XOR @len bytes at @p with @mask starting at key byte @phase (0-3). */
void ws_unmask(unsigned char *p, size_t len, uint32_t mask, unsigned phase);

#endif
