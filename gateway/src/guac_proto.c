/*
 * guac_proto.c - Guacamole instruction encoder and the strict client-instruction parser.
 *
 * The parser is the first code that touches bytes from the browser, so it is written as
 * a single forward scan with every quantity bounded before it is used: a length prefix
 * has at most GUAC_MAX_LENGTH_DIGITS digits and no leading zero, a value is decoded code
 * point by code point (strict UTF-8) until its announced length is reached, and the whole
 * instruction may not exceed GUAC_MAX_INSTRUCTION bytes. Only then is the opcode looked up
 * in a table of what guacamole-common-js sends, and each argument checked against its
 * type and range, so the backend sees only well-formed, typed messages.
 */
#include "guac_proto.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* --- UTF-8 -------------------------------------------------------------------------- */

/* Decode one code point at @s (at most @avail bytes). Returns its byte length, 0 if the
 * sequence is valid so far but cut short by @avail, or -1 if invalid. */
static int
utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp)
{
    unsigned char c = s[0];
    int n;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return -1; /* continuation byte, overlong lead (C0/C1) or F5..FF */
    }
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= avail)
            return 0;
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (s[i] & 0x3F);
        /* reject overlongs and surrogates as soon as the second byte decides them */
        if (i == 1 && n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)))
            return -1;
        if (i == 1 && n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)))
            return -1;
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    *cp = v;
    return n;
}

bool
guac_utf8_valid(const char *s, size_t len, size_t *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;

    while (i < len) {
        int n = utf8_decode(u + i, len - i, &cp);
        if (n <= 0) {
            if (bad)
                *bad = i;
            return false;
        }
        i += (size_t)n;
    }
    return true;
}

size_t
guac_utf8_chars(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* --- encoder ------------------------------------------------------------------------ */

/* Elements after the opcode are separated by ','. Whether we are at the start of an
 * instruction is said by the caller (guac_enc_op), never guessed from the previous byte:
 * a value may itself end in ';'. */
static void
enc_sep(struct pt_buf *b)
{
    if (b->len > 0)
        pt_buf_append(b, ",", 1);
}

static void
enc_element(struct pt_buf *b, const char *s, size_t len)
{
    pt_buf_appendf(b, "%zu.", guac_utf8_chars(s, len));
    pt_buf_append(b, s, len);
}

void
guac_enc_op(struct pt_buf *b, const char *opcode, size_t len)
{
    enc_element(b, opcode, len);
}

void
guac_enc_str(struct pt_buf *b, const char *s, size_t len)
{
    enc_sep(b);
    enc_element(b, s, len);
}

void
guac_enc_int(struct pt_buf *b, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);

    enc_sep(b);
    pt_buf_appendf(b, "%d.%s", n, num);
}

void
guac_enc_end(struct pt_buf *b)
{
    pt_buf_append(b, ";", 1);
}

void
guac_enc(struct pt_buf *b, const char *opcode, const char *fmt, ...)
{
    va_list ap;

    guac_enc_op(b, opcode, strlen(opcode));
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        if (*f == 'i') {
            guac_enc_int(b, (int64_t)va_arg(ap, long long));
        } else {
            const char *s = va_arg(ap, const char *);
            guac_enc_str(b, s, strlen(s));
        }
    }
    va_end(ap);
    guac_enc_end(b);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
guac_enc_base64(struct pt_buf *b, const void *data, size_t len)
{
    const unsigned char *d = data;
    size_t out = (len + 2) / 3 * 4, i = 0;
    char *p;

    enc_sep(b);
    pt_buf_appendf(b, "%zu.", out);
    pt_buf_reserve(b, out);
    p = b->data + b->len;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *p++ = b64[v >> 18];
        *p++ = b64[(v >> 12) & 63];
        *p++ = b64[(v >> 6) & 63];
        *p++ = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < len ? (uint32_t)d[i + 1] << 8 : 0);
        *p++ = b64[v >> 18];
        *p++ = b64[(v >> 12) & 63];
        *p++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    b->len += out;
    b->data[b->len] = '\0';
}

void
guac_enc_image(struct pt_buf *b, int stream, int mask, int layer, const char *mimetype, int x,
               int y, const void *data, size_t len)
{
    const unsigned char *d = data;

    guac_enc(b, "img", "iiisii", (long long)stream, (long long)mask, (long long)layer, mimetype,
             (long long)x, (long long)y);
    for (size_t off = 0; off < len; off += GUAC_BLOB_MAX) {
        size_t n = len - off < GUAC_BLOB_MAX ? len - off : GUAC_BLOB_MAX;
        guac_enc_op(b, "blob", 4);
        guac_enc_int(b, stream);
        guac_enc_base64(b, d + off, n);
        guac_enc_end(b);
    }
    guac_enc(b, "end", "i", (long long)stream);
}

/* --- parser ------------------------------------------------------------------------- */

/* Argument kinds: 'i' bounded integer, 's' UTF-8 string, 'b' base64 string, 'f' a short
 * decimal (possibly fractional) number kept as text. */
struct op_arg {
    char kind;
    int64_t min, max;
};

struct op_spec {
    const char *name;
    enum guac_op op;
    size_t min_args, max_args;
    struct op_arg args[GUAC_MAX_ELEMENTS - 1];
};

#define I32         2147483647LL
#define JS_MAX_SAFE 9007199254740991LL

static const struct op_spec op_table[] = {
    {"", GUAC_OP_INTERNAL, 1, 2, {{'s', 0, 0}, {'i', 0, JS_MAX_SAFE}}},
    {"ack", GUAC_OP_ACK, 3, 3, {{'i', 0, I32}, {'s', 0, 0}, {'i', 0, 0xFFFF}}},
    {"blob", GUAC_OP_BLOB, 2, 2, {{'i', 0, I32}, {'b', 0, 0}}},
    {"clipboard", GUAC_OP_CLIPBOARD, 2, 2, {{'i', 0, I32}, {'s', 0, 0}}},
    {"disconnect", GUAC_OP_DISCONNECT, 0, 0, {{0, 0, 0}}},
    {"end", GUAC_OP_END, 1, 1, {{'i', 0, I32}}},
    {"key", GUAC_OP_KEY, 2, 2, {{'i', 0, 0x7FFFFFFF}, {'i', 0, 1}}},
    {"mouse", GUAC_OP_MOUSE, 3, 3, {{'i', -65536, 65536}, {'i', -65536, 65536}, {'i', 0, 0xFFFF}}},
    {"nop", GUAC_OP_NOP, 0, 0, {{0, 0, 0}}},
    {"size", GUAC_OP_SIZE, 2, 3, {{'i', 1, 16384}, {'i', 1, 16384}, {'i', 1, 1200}}},
    {"sync", GUAC_OP_SYNC, 1, 2, {{'i', 0, JS_MAX_SAFE}, {'i', 0, I32}}},
    {"touch",
     GUAC_OP_TOUCH,
     7,
     7,
     {{'i', 0, I32},
      {'i', -65536, 65536},
      {'i', -65536, 65536},
      {'i', 0, 65536},
      {'i', 0, 65536},
      {'f', 0, 0},
      {'f', 0, 0}}},
};

const char *
guac_op_str(enum guac_op op)
{
    for (size_t i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++)
        if (op_table[i].op == op)
            return op_table[i].name[0] ? op_table[i].name : "(internal)";
    return "?";
}

/* Strict decimal: optional '-', 1..GUAC_MAX_INT_DIGITS digits, no leading zeros. */
static int
parse_int(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    int64_t v = 0;

    if (len > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == len || len - i > GUAC_MAX_INT_DIGITS || (s[i] == '0' && len - i > 1) ||
        (neg && s[i] == '0'))
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0'); /* at most 16 digits: cannot overflow int64 */
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static bool
is_base64(const char *s, size_t len)
{
    size_t pad = 0;

    if (len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '=') {
            if (++pad > 2 || i < len - 2)
                return false;
        } else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '+' || c == '/')) {
            return false;
        }
    }
    return true;
}

static bool
is_decimal_text(const char *s, size_t len)
{
    bool dot = false;

    if (len == 0 || len > 32)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' && !dot && i > 0)
            dot = true;
        else if ((s[i] < '0' || s[i] > '9') && !(i == 0 && s[i] == '-'))
            return false;
    }
    return true;
}

static int
check_args(const struct op_spec *spec, struct guac_msg *m, struct pt_err *err)
{
    if (m->argc < spec->min_args || m->argc > spec->max_args)
        return pt_err_set(err, PT_E_INVALID, "'%s' takes %zu..%zu arguments, got %zu", spec->name,
                          spec->min_args, spec->max_args, m->argc);
    for (size_t i = 0; i < m->argc; i++) {
        const struct op_arg *a = &spec->args[i];
        m->num[i] = 0;
        switch (a->kind) {
        case 'i':
            if (parse_int(m->argv[i], m->argl[i], a->min, a->max, &m->num[i]) < 0)
                return pt_err_set(err, PT_E_INVALID,
                                  "'%s' argument %zu is not an integer in [%" PRId64 ", %" PRId64
                                  "]",
                                  spec->name, i + 1, a->min, a->max);
            break;
        case 'b':
            if (!is_base64(m->argv[i], m->argl[i]))
                return pt_err_set(err, PT_E_INVALID, "'%s' argument %zu is not base64", spec->name,
                                  i + 1);
            break;
        case 'f':
            if (!is_decimal_text(m->argv[i], m->argl[i]))
                return pt_err_set(err, PT_E_INVALID, "'%s' argument %zu is not a number",
                                  spec->name, i + 1);
            break;
        default:
            break;
        }
    }
    return 0;
}

int
guac_parser_next(struct guac_parser *p, const char *buf, size_t len, size_t *used,
                 struct guac_msg *out, struct pt_err *err)
{
    const unsigned char *u = (const unsigned char *)buf;
    const char *elem[GUAC_MAX_ELEMENTS];
    size_t elen[GUAC_MAX_ELEMENTS];
    size_t nelem = 0, i = 0, store = 0;
    const struct op_spec *spec = NULL;

    for (;;) {
        size_t nchars = 0, ndigits = 0, start;

        /* length prefix */
        while (i < len && buf[i] >= '0' && buf[i] <= '9') {
            if (++ndigits > GUAC_MAX_LENGTH_DIGITS)
                return pt_err_set(err, PT_E_LIMIT, "element length has too many digits");
            if (ndigits == 2 && nchars == 0)
                return pt_err_set(err, PT_E_INVALID, "bad element length: leading zero");
            nchars = nchars * 10 + (size_t)(buf[i] - '0');
            i++;
        }
        if (i == len)
            goto need_more;
        if (ndigits == 0 || buf[i] != '.')
            return pt_err_set(err, PT_E_INVALID, "bad element length at byte %zu", i);
        if (nchars > GUAC_MAX_ELEMENT_CHARS)
            return pt_err_set(err, PT_E_LIMIT, "element of %zu characters exceeds %d", nchars,
                              GUAC_MAX_ELEMENT_CHARS);
        i++;
        /* value: exactly nchars code points */
        start = i;
        for (size_t c = 0; c < nchars; c++) {
            uint32_t cp;
            int n;

            if (i == len)
                goto need_more;
            n = utf8_decode(u + i, len - i, &cp);
            if (n == 0)
                goto need_more;
            if (n < 0)
                return pt_err_set(err, PT_E_INVALID, "invalid UTF-8 at byte %zu", i);
            if (cp == 0)
                return pt_err_set(err, PT_E_INVALID, "NUL character at byte %zu", i);
            i += (size_t)n;
            if (i > GUAC_MAX_INSTRUCTION)
                return pt_err_set(err, PT_E_LIMIT, "instruction exceeds %d bytes",
                                  GUAC_MAX_INSTRUCTION);
        }
        if (i == len)
            goto need_more;
        if (buf[i] != ',' && buf[i] != ';')
            return pt_err_set(err, PT_E_INVALID,
                              "element length does not match its value (byte %zu)", i);
        if (nelem == GUAC_MAX_ELEMENTS)
            return pt_err_set(err, PT_E_LIMIT, "more than %d elements", GUAC_MAX_ELEMENTS);
        /* copy NUL-terminated into the parser's storage (bounded by the checks above) */
        memcpy(p->store + store, buf + start, i - start);
        p->store[store + (i - start)] = '\0';
        elem[nelem] = p->store + store;
        elen[nelem] = i - start;
        store += i - start + 1;
        nelem++;
        if (buf[i++] == ';')
            break;
        if (i > GUAC_MAX_INSTRUCTION)
            return pt_err_set(err, PT_E_LIMIT, "instruction exceeds %d bytes",
                              GUAC_MAX_INSTRUCTION);
    }

    for (size_t k = 0; k < sizeof(op_table) / sizeof(op_table[0]); k++) {
        if (strlen(op_table[k].name) == elen[0] &&
            memcmp(op_table[k].name, elem[0], elen[0]) == 0) {
            spec = &op_table[k];
            break;
        }
    }
    if (!spec) {
        char shown[40];
        size_t n = elen[0] < sizeof(shown) - 1 ? elen[0] : sizeof(shown) - 1;

        /* the opcode is valid UTF-8 without NUL; show only printable ASCII of it */
        for (size_t k = 0; k < n; k++)
            shown[k] = (elem[0][k] >= 0x20 && elem[0][k] < 0x7F) ? elem[0][k] : '?';
        shown[n] = '\0';
        return pt_err_set(err, PT_E_INVALID, "unknown opcode '%s'", shown);
    }
    memset(out, 0, sizeof(*out));
    out->op = spec->op;
    out->argc = nelem - 1;
    for (size_t k = 1; k < nelem; k++) {
        out->argv[k - 1] = elem[k];
        out->argl[k - 1] = elen[k];
    }
    if (check_args(spec, out, err) < 0)
        return -1;
    *used = i;
    return 1;

need_more:
    if (len >= GUAC_MAX_INSTRUCTION)
        return pt_err_set(err, PT_E_LIMIT, "instruction exceeds %d bytes", GUAC_MAX_INSTRUCTION);
    return 0;
}
