/*
 * guac_proto.h - the Guacamole protocol: an encoder for what we send to the browser and
 * a strict parser for what the browser sends us.
 *
 * Wire form: an instruction is elements "LENGTH.VALUE" joined by ',' and ended by ';';
 * the first element is the opcode. LENGTH counts Unicode code points of VALUE (not
 * bytes). guacamole-common-js's WebSocketTunnel sends one instruction per text message
 * and parses whole instructions per message, so every message we emit ends on ';'.
 *
 * The parser sees hostile bytes: it bounds the element count, the element length, the
 * instruction size and every number before using them, validates UTF-8 strictly
 * (no overlongs, surrogates, NUL or values above U+10FFFF), and rejects opcodes a
 * browser client never sends. Errors carry a reason fit for a close frame.
 *
 * Thread: pure functions and caller-owned objects; no shared state.
 */
#ifndef PT_GATEWAY_GUAC_PROTO_H
#define PT_GATEWAY_GUAC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/str.h"

#define GUAC_MAX_ELEMENTS      12    /* opcode included; "touch" needs 8 */
#define GUAC_MAX_ELEMENT_CHARS 16384 /* code points per element */
#define GUAC_MAX_LENGTH_DIGITS 5     /* "16384" */
#define GUAC_MAX_INSTRUCTION   65536 /* bytes, terminator included */
#define GUAC_MAX_INT_DIGITS    16    /* decimal digits of any numeric argument */

/* Guacamole status codes (guacamole-common-js Guacamole.Status.Code). */
enum guac_status {
    GUAC_STATUS_SUCCESS = 0x0000,
    GUAC_STATUS_UNSUPPORTED = 0x0100,
    GUAC_STATUS_SERVER_ERROR = 0x0200,
    GUAC_STATUS_SERVER_BUSY = 0x0201,
    GUAC_STATUS_UPSTREAM_TIMEOUT = 0x0202,
    GUAC_STATUS_UPSTREAM_ERROR = 0x0203,
    GUAC_STATUS_RESOURCE_NOT_FOUND = 0x0204,
    GUAC_STATUS_RESOURCE_CONFLICT = 0x0205,
    GUAC_STATUS_RESOURCE_CLOSED = 0x0206,
    GUAC_STATUS_UPSTREAM_NOT_FOUND = 0x0207,
    GUAC_STATUS_UPSTREAM_UNAVAILABLE = 0x0208,
    GUAC_STATUS_SESSION_CONFLICT = 0x0209,
    GUAC_STATUS_SESSION_TIMEOUT = 0x020A,
    GUAC_STATUS_SESSION_CLOSED = 0x020B,
    GUAC_STATUS_CLIENT_BAD_REQUEST = 0x0300,
    GUAC_STATUS_CLIENT_UNAUTHORIZED = 0x0301,
    GUAC_STATUS_CLIENT_FORBIDDEN = 0x0303,
    GUAC_STATUS_CLIENT_TIMEOUT = 0x0308,
    GUAC_STATUS_CLIENT_OVERRUN = 0x030D,
    GUAC_STATUS_CLIENT_BAD_TYPE = 0x030F,
    GUAC_STATUS_CLIENT_TOO_MANY = 0x031D,
};

/* --- encoder ------------------------------------------------------------------------ */

/* guac_utf8_chars() - code points in @len bytes of valid UTF-8 (invalid bytes count 1). */
size_t guac_utf8_chars(const char *s, size_t len);

/* guac_enc_op() - start an instruction with its opcode (no separator before it). */
void guac_enc_op(struct pt_buf *b, const char *opcode, size_t len);
/* guac_enc_str() / guac_enc_int() - append one argument element, ',' first unless @b is
 * empty. An instruction always starts with guac_enc_op(). */
void guac_enc_str(struct pt_buf *b, const char *s, size_t len);
void guac_enc_int(struct pt_buf *b, int64_t v);
/* guac_enc_end() - terminate the instruction with ';'. */
void guac_enc_end(struct pt_buf *b);

/* guac_enc() - one whole instruction: @opcode then @fmt arguments, 'i' int (int64_t
 * passed as long long), 's' NUL-terminated string. Example: guac_enc(b, "size", "iii",
 * 0LL, 1280LL, 800LL). */
void guac_enc(struct pt_buf *b, const char *opcode, const char *fmt, ...);

/* guac_enc_base64() - append @len bytes of @data as one base64 element (no newlines). */
void guac_enc_base64(struct pt_buf *b, const void *data, size_t len);

/* Channel masks (composite operations). Opaque drawing on a visible layer must use OVER:
 * in the browser SRC maps to canvas "copy", which also clears everything outside the
 * drawn area. SRC is right only for replacing a whole buffer (the cursor image). */
#define GUAC_MASK_SRC  0xC
#define GUAC_MASK_OVER 0xE

/* guac_enc_image() - a whole image as "img" + "blob"s + "end" on @stream, drawn on
 * @layer at (@x,@y) with channel mask @mask. Blobs are cut at GUAC_BLOB_MAX bytes of
 * payload so no instruction exceeds the client's comfort. */
#define GUAC_BLOB_MAX 6048
void guac_enc_image(struct pt_buf *b, int stream, int mask, int layer, const char *mimetype, int x,
                    int y, const void *data, size_t len);

/* --- parser ------------------------------------------------------------------------- */

/* The instructions a browser client sends (everything else is refused). */
enum guac_op {
    GUAC_OP_INTERNAL, /* "" opcode: tunnel-internal, e.g. ping */
    GUAC_OP_ACK,
    GUAC_OP_BLOB,
    GUAC_OP_CLIPBOARD,
    GUAC_OP_DISCONNECT,
    GUAC_OP_END,
    GUAC_OP_KEY,
    GUAC_OP_MOUSE,
    GUAC_OP_NOP,
    GUAC_OP_SIZE,
    GUAC_OP_SYNC,
    GUAC_OP_TOUCH,
};
const char *guac_op_str(enum guac_op op);

/* One parsed and checked client instruction. Strings point into the parser's storage and
 * stay valid until the next guac_parser_next() call; they are NUL-terminated. */
struct guac_msg {
    enum guac_op op;
    size_t argc;
    const char *argv[GUAC_MAX_ELEMENTS - 1];
    size_t argl[GUAC_MAX_ELEMENTS - 1]; /* bytes */
    int64_t num[GUAC_MAX_ELEMENTS - 1]; /* numeric arguments, checked against ranges */
};

struct guac_parser {
    char store[GUAC_MAX_INSTRUCTION + GUAC_MAX_ELEMENTS];
};

/*
 * guac_parser_next() - parse one instruction from @buf/@len.
 * Returns 1 with @out filled and *@used set to the bytes consumed; 0 if @buf holds only a
 * (so far valid) prefix of an instruction; -1 with @err (PT_E_INVALID, or PT_E_LIMIT for
 * sizes) naming what was wrong, e.g. "bad element length", "unknown opcode 'foo'".
 * Thread: the caller owns @p.
 */
int guac_parser_next(struct guac_parser *p, const char *buf, size_t len, size_t *used,
                     struct guac_msg *out, struct pt_err *err);

/* guac_utf8_valid() - strict UTF-8 check; on failure *@bad is the offending byte index. */
bool guac_utf8_valid(const char *s, size_t len, size_t *bad);

#endif
