/*
 * test_ws_frame.c - the RFC 6455 reader and header writer the gateway's own WebSocket I/O
 * uses (gateway/src/ws_frame.c): payload unmasked exactly whatever the split of the
 * input, control frames between fragments, and every violation a browser must not commit
 * refused with 1002 and a reason, reading nothing after it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ws_frame.h"

Suite *gateway_ws_frame_suite(void);

/* A masked client frame of @len bytes of @payload into @out; returns its size. */
static size_t
client_frame(unsigned char *out, int b0, const void *payload, uint64_t len, uint32_t key)
{
    size_t h = 2;
    const unsigned char *k = (const unsigned char *)&key;

    out[0] = (unsigned char)b0;
    if (len < 126) {
        out[1] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        out[1] = 0x80 | 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        h = 4;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        h = 10;
    }
    memcpy(out + h, k, 4);
    h += 4;
    for (uint64_t i = 0; i < len && payload; i++)
        out[h + i] = ((const unsigned char *)payload)[i] ^ k[i & 3];
    return h + (size_t)len;
}

/* What a reader made of a byte stream: data joined, events counted. */
struct seen {
    unsigned char data[1 << 18];
    size_t len;
    int messages, pings, pongs, closes, errors;
    int close_code;
    const char *error;
    bool last_binary;
    char ping[WS_CONTROL_MAX + 1];
};

/* Feed @in to a fresh reader in pieces of @step bytes (0: all at once). */
static void
feed(const unsigned char *in, size_t len, size_t step, struct seen *s)
{
    struct ws_rx rx;
    unsigned char *copy = malloc(len ? len : 1);

    memcpy(copy, in, len);
    memset(s, 0, sizeof(*s));
    ws_rx_init(&rx);
    for (size_t at = 0; at < len;) {
        size_t n = step && step < len - at ? step : len - at;
        size_t off = 0;
        while (off < n) {
            struct ws_rx_event ev;
            size_t used = ws_rx_next(&rx, copy + at + off, n - off, &ev);
            ck_assert_uint_le(used, n - off);
            off += used;
            switch (ev.kind) {
            case WS_RX_DATA:
                ck_assert_uint_le(s->len + ev.len, sizeof(s->data));
                memcpy(s->data + s->len, ev.data, ev.len);
                s->len += ev.len;
                s->last_binary = ev.binary;
                s->messages += ev.message_end;
                break;
            case WS_RX_PING:
                s->pings++;
                memcpy(s->ping, ev.data, ev.len);
                s->ping[ev.len] = '\0';
                break;
            case WS_RX_PONG:
                s->pongs++;
                break;
            case WS_RX_CLOSE:
                s->closes++;
                s->close_code = ev.close_code;
                break;
            case WS_RX_ERROR:
                s->errors++;
                s->close_code = ev.close_code;
                s->error = ev.error;
                break;
            case WS_RX_NONE:
                ck_assert_uint_eq(off, n); /* NONE only when the piece is used up */
                break;
            }
        }
        at += n;
    }
    free(copy);
}

START_TEST(test_unmask_matches_the_byte_rule_for_every_phase_and_length)
{
    unsigned char a[300], b[300];
    uint32_t key = 0xa1b2c3d4;
    const unsigned char *k = (const unsigned char *)&key;

    for (unsigned phase = 0; phase < 4; phase++) {
        for (size_t len = 0; len < 200; len++) {
            for (size_t i = 0; i < len; i++)
                a[3 + i] = b[3 + i] = (unsigned char)(i * 31 + phase);
            ws_unmask(a + 3, len, key, phase); /* unaligned on purpose */
            for (size_t i = 0; i < len; i++)
                b[3 + i] ^= k[(phase + i) & 3];
            ck_assert_msg(memcmp(a + 3, b + 3, len) == 0, "phase %u len %zu", phase, len);
        }
    }
}
END_TEST

START_TEST(test_frames_parse_the_same_whatever_the_split)
{
    static unsigned char in[3 * 70000 + 200], payload[70000];
    size_t n = 0;
    struct seen whole, *s = malloc(sizeof(*s));

    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (unsigned char)(i ^ (i >> 8));
    /* three sizes: one-byte, 16-bit and 64-bit lengths */
    n += client_frame(in + n, 0x82, payload, 100, 0x01020304);
    n += client_frame(in + n, 0x82, payload, 300, 0xdeadbeef);
    n += client_frame(in + n, 0x82, payload, 70000, 0x11223344);
    feed(in, n, 0, &whole);
    ck_assert_int_eq(whole.messages, 3);
    ck_assert_int_eq(whole.errors, 0);
    ck_assert_uint_eq(whole.len, 100 + 300 + 70000);
    ck_assert(memcmp(whole.data, payload, 100) == 0);
    ck_assert(memcmp(whole.data + 100, payload, 300) == 0);
    ck_assert(memcmp(whole.data + 400, payload, 70000) == 0);
    ck_assert(whole.last_binary);
    for (size_t step = 1; step <= 17; step++) {
        feed(in, n, step, s);
        ck_assert_msg(s->len == whole.len && memcmp(s->data, whole.data, whole.len) == 0,
                      "split %zu", step);
        ck_assert_int_eq(s->messages, 3);
    }
    free(s);
}
END_TEST

START_TEST(test_control_frames_between_fragments_leave_the_message_whole)
{
    unsigned char in[400];
    size_t n = 0;
    struct seen s;

    n += client_frame(in + n, 0x01, "hello ", 6, 0x0a0b0c0d);         /* text, not final */
    n += client_frame(in + n, 0x89, "are you there", 13, 0x55aa55aa); /* ping */
    n += client_frame(in + n, 0x00, "wide ", 5, 0x01010101);          /* continuation */
    n += client_frame(in + n, 0x8a, "", 0, 0x12345678);               /* pong */
    n += client_frame(in + n, 0x80, "world", 5, 0x87654321);          /* final continuation */
    for (size_t step = 0; step <= 7; step++) {
        feed(in, n, step, &s);
        ck_assert_int_eq(s.errors, 0);
        ck_assert_int_eq(s.messages, 1);
        ck_assert_uint_eq(s.len, 16);
        ck_assert(memcmp(s.data, "hello wide world", 16) == 0);
        ck_assert(!s.last_binary);
        ck_assert_int_eq(s.pings, 1);
        ck_assert_str_eq(s.ping, "are you there");
        ck_assert_int_eq(s.pongs, 1);
    }
}
END_TEST

START_TEST(test_empty_final_frames_end_their_message)
{
    unsigned char in[64];
    size_t n = 0;
    struct seen s;

    n += client_frame(in + n, 0x82, NULL, 0, 0x01020304);
    n += client_frame(in + n, 0x02, "ab", 2, 0x01020304);
    n += client_frame(in + n, 0x80, NULL, 0, 0x01020304);
    feed(in, n, 0, &s);
    ck_assert_int_eq(s.messages, 2);
    ck_assert_uint_eq(s.len, 2);
}
END_TEST

START_TEST(test_close_frames_report_their_code_or_1005)
{
    unsigned char in[64], p[8] = {0x0f, 0xa0, 'b', 'y', 'e'}; /* 4000 */
    struct seen s;

    feed(in, client_frame(in, 0x88, p, 5, 0x0badf00d), 0, &s);
    ck_assert_int_eq(s.closes, 1);
    ck_assert_int_eq(s.close_code, 4000);
    feed(in, client_frame(in, 0x88, NULL, 0, 0x0badf00d), 0, &s);
    ck_assert_int_eq(s.closes, 1);
    ck_assert_int_eq(s.close_code, 1005);
}
END_TEST

/* Each violation: refused with 1002 (a reason given), and bytes after it are not read. */
START_TEST(test_violations_are_refused_with_1002_and_nothing_after_them_is_read)
{
    static const struct {
        int b0;
        const char *payload;
        size_t len;
        bool unmasked;
        const char *why;
    } bad[] = {
        {0xc2, "x", 1, false, "reserved"},           /* RSV1 without an extension */
        {0x83, "x", 1, false, "opcode"},             /* reserved data opcode */
        {0x8b, "x", 1, false, "opcode"},             /* reserved control opcode */
        {0x82, "x", 1, true, "masked"},              /* unmasked client frame */
        {0x80, "x", 1, false, "continuation"},       /* continuation, no message */
        {0x09, "x", 1, false, "fragmented control"}, /* ping without FIN */
        {0x88, "x", 1, false, "one-byte"},           /* close with a 1-byte payload */
        {0x88, "\x03\xee", 2, false, "status code"}, /* 1006 may not be sent */
        {0x88, "\x00\x01", 2, false, "status code"}, /* 1 */
    };
    unsigned char in[300];
    struct seen s;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = client_frame(in, bad[i].b0, bad[i].payload, bad[i].len, 0x01020304);
        if (bad[i].unmasked) { /* drop the mask bit and the key, payload in the clear */
            in[1] &= 0x7f;
            memmove(in + 2, bad[i].payload, bad[i].len);
            n = 2 + bad[i].len;
        }
        n += client_frame(in + n, 0x82, "after", 5, 0x01020304);
        feed(in, n, 0, &s);
        ck_assert_msg(s.errors == 1 && s.close_code == 1002, "case %zu", i);
        ck_assert_msg(strstr(s.error, bad[i].why), "case %zu: %s", i, s.error);
        ck_assert_msg(s.len == 0 && s.messages == 0, "case %zu read past the violation", i);
    }
}
END_TEST

START_TEST(test_oversized_control_frames_and_nested_messages_are_refused)
{
    unsigned char in[400], big[126] = {0};
    size_t n;
    struct seen s;

    feed(in, client_frame(in, 0x89, big, 126, 1), 0, &s); /* ping of 126 bytes */
    ck_assert_int_eq(s.errors, 1);
    ck_assert(strstr(s.error, "125"));
    n = client_frame(in, 0x02, "a", 1, 1);
    n += client_frame(in + n, 0x82, "b", 1, 1); /* a new message inside the first */
    feed(in, n, 0, &s);
    ck_assert_int_eq(s.errors, 1);
    ck_assert(strstr(s.error, "inside"));
    /* a 64-bit length with its top bit set */
    memset(in, 0, 14);
    in[0] = 0x82;
    in[1] = 0x80 | 127;
    in[2] = 0x80;
    feed(in, 14, 0, &s);
    ck_assert_int_eq(s.errors, 1);
    ck_assert(strstr(s.error, "most significant"));
}
END_TEST

START_TEST(test_server_headers_use_the_shortest_length_form)
{
    static const struct {
        uint64_t len;
        size_t h;
        unsigned char b1;
    } cases[] = {{0, 2, 0},       {125, 2, 125},    {126, 4, 126},
                 {65535, 4, 126}, {65536, 10, 127}, {(uint64_t)1 << 40, 10, 127}};
    unsigned char buf[32], *end = buf + 16;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t h = ws_frame_header(end, WS_OP_BINARY, true, cases[i].len);
        uint64_t got = 0;
        ck_assert_uint_eq(h, cases[i].h);
        ck_assert_int_eq(end[-(int)h], 0x82);
        ck_assert_int_eq(end[-(int)h + 1], cases[i].b1); /* server frames are not masked */
        if (h == 2)
            got = end[-1];
        for (size_t j = 2; j < h; j++)
            got = got << 8 | end[-(int)h + (int)j];
        ck_assert_uint_eq(got, cases[i].len);
    }
    ck_assert_uint_eq(ws_frame_header(end, WS_OP_CLOSE, true, 2), 2);
    ck_assert_int_eq(end[-2], 0x88);
}
END_TEST

Suite *
gateway_ws_frame_suite(void)
{
    Suite *s = suite_create("gateway_ws_frame");
    TCase *tc = tcase_create("ws_frame");

    tcase_add_test(tc, test_unmask_matches_the_byte_rule_for_every_phase_and_length);
    tcase_add_test(tc, test_frames_parse_the_same_whatever_the_split);
    tcase_add_test(tc, test_control_frames_between_fragments_leave_the_message_whole);
    tcase_add_test(tc, test_empty_final_frames_end_their_message);
    tcase_add_test(tc, test_close_frames_report_their_code_or_1005);
    tcase_add_test(tc, test_violations_are_refused_with_1002_and_nothing_after_them_is_read);
    tcase_add_test(tc, test_oversized_control_frames_and_nested_messages_are_refused);
    tcase_add_test(tc, test_server_headers_use_the_shortest_length_form);
    suite_add_tcase(s, tc);
    return s;
}
