/*
 * test_guac_proto.c - the Guacamole encoder and the strict client-instruction parser,
 * including hostile input a browser (or an attacker posing as one) might send.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "guac_proto.h"

static struct guac_parser *parser;

static void
setup(void)
{
    parser = calloc(1, sizeof(*parser));
}

static void
teardown(void)
{
    free(parser);
}

static int
parse(const char *s, struct guac_msg *m, size_t *used, struct pt_err *err)
{
    pt_err_clear(err);
    return guac_parser_next(parser, s, strlen(s), used, m, err);
}

START_TEST(test_encoder_counts_code_points_not_bytes)
{
    struct pt_buf b = PT_BUF_INIT;

    guac_enc(&b, "name", "s", "h\xc3\xa9llo \xf0\x9f\x98\x80");
    ck_assert_str_eq(b.data, "4.name,7.h\xc3\xa9llo \xf0\x9f\x98\x80;");
    pt_buf_reset(&b);
    guac_enc(&b, "size", "iii", 0LL, 1280LL, 800LL);
    guac_enc(&b, "sync", "i", 123456789LL);
    ck_assert_str_eq(b.data, "4.size,1.0,4.1280,3.800;4.sync,9.123456789;");
    /* found by fuzz_guac: a value ending in ';' must not swallow the next separator */
    pt_buf_reset(&b);
    guac_enc(&b, "error", "si", "bad;", 512LL);
    guac_enc(&b, "sync", "i", 1LL);
    ck_assert_str_eq(b.data, "5.error,4.bad;,3.512;4.sync,1.1;");
    pt_buf_fini(&b);
}
END_TEST

START_TEST(test_encoder_writes_base64_images_in_blobs)
{
    struct pt_buf b = PT_BUF_INIT;
    unsigned char data[GUAC_BLOB_MAX + 2];

    guac_enc_base64(&b, "Man", 3);
    guac_enc_base64(&b, "Ma", 2);
    guac_enc_base64(&b, "M", 1);
    ck_assert_str_eq(b.data, "4.TWFu,4.TWE=,4.TQ==");
    pt_buf_reset(&b);
    memset(data, 0xAB, sizeof(data));
    guac_enc_image(&b, 3, GUAC_MASK_OVER, 0, "image/png", 10, 20, data, sizeof(data));
    ck_assert(strncmp(b.data, "3.img,1.3,2.14,1.0,9.image/png,2.10,2.20;4.blob,1.3,8064.", 56) ==
              0);
    ck_assert(strstr(b.data, ";4.blob,1.3,4.q6s=;3.end,1.3;") != NULL);
    pt_buf_fini(&b);
}
END_TEST

START_TEST(test_parser_accepts_what_guacamole_common_js_sends)
{
    struct guac_msg m;
    struct pt_err err;
    size_t used;

    ck_assert_int_eq(parse("5.mouse,3.100,2.-5,1.1;", &m, &used, &err), 1);
    ck_assert_int_eq(m.op, GUAC_OP_MOUSE);
    ck_assert_int_eq(m.num[0], 100);
    ck_assert_int_eq(m.num[1], -5);
    ck_assert_int_eq(m.num[2], 1);
    ck_assert_uint_eq(used, 23);
    ck_assert_int_eq(parse("3.key,5.65307,1.1;", &m, &used, &err), 1);
    ck_assert_int_eq(m.op, GUAC_OP_KEY);
    ck_assert_int_eq(m.num[0], 65307);
    ck_assert_int_eq(parse("4.size,4.1920,4.1080;", &m, &used, &err), 1);
    ck_assert_int_eq(m.num[0], 1920);
    ck_assert_int_eq(parse("0.,4.ping,13.1700000000000;", &m, &used, &err), 1);
    ck_assert_int_eq(m.op, GUAC_OP_INTERNAL);
    ck_assert_str_eq(m.argv[0], "ping");
    ck_assert_int_eq(m.num[1], 1700000000000LL);
    ck_assert_int_eq(parse("4.sync,4.1234;", &m, &used, &err), 1);
    ck_assert_int_eq(m.op, GUAC_OP_SYNC);
    ck_assert_int_eq(parse("9.clipboard,1.0,10.text/plain;", &m, &used, &err), 1);
    ck_assert_str_eq(m.argv[1], "text/plain");
    ck_assert_int_eq(parse("4.blob,1.0,8.aMOpbGxv;", &m, &used, &err), 1);
    ck_assert_int_eq(parse("3.ack,1.1,2.OK,1.0;", &m, &used, &err), 1);
    ck_assert_int_eq(parse("3.nop;", &m, &used, &err), 1);
    ck_assert_int_eq(parse("10.disconnect;", &m, &used, &err), 1);
    ck_assert_int_eq(m.op, GUAC_OP_DISCONNECT);
    ck_assert_int_eq(parse("5.touch,1.0,2.10,2.10,1.5,1.5,3.0.5,1.1;", &m, &used, &err), 1);
}
END_TEST

START_TEST(test_parser_counts_multibyte_characters_as_one)
{
    struct guac_msg m;
    struct pt_err err;
    size_t used;

    /* "é€😀" = 3 code points, 2+3+4 bytes */
    ck_assert_int_eq(
        parse("3.ack,1.1,3.\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80,1.0;", &m, &used, &err), 1);
    ck_assert_uint_eq(m.argl[1], 9);
}
END_TEST

START_TEST(test_parser_waits_for_the_rest_of_a_split_instruction)
{
    const char *full = "5.mouse,3.100,3.200,1.0;3.nop;";
    struct guac_msg m;
    struct pt_err err;
    size_t used = 0;

    for (size_t n = 0; n < 24; n++)
        ck_assert_int_eq(guac_parser_next(parser, full, n, &used, &m, &err), 0);
    /* a multi-byte character cut in the middle is incomplete, not invalid */
    ck_assert_int_eq(guac_parser_next(parser, "3.ack,1.1,1.\xe2\x82", 14, &used, &m, &err), 0);
    ck_assert_int_eq(guac_parser_next(parser, full, strlen(full), &used, &m, &err), 1);
    ck_assert_uint_eq(used, 24);
    ck_assert_int_eq(guac_parser_next(parser, full + used, strlen(full) - used, &used, &m, &err),
                     1);
    ck_assert_int_eq(m.op, GUAC_OP_NOP);
}
END_TEST

/* Hostile inputs and the reason each must be refused with. */
static const struct {
    const char *in;
    const char *reason;
} hostile[] = {
    {"x.mouse;", "bad element length"},
    {"5mouse;", "bad element length"},
    {"05.mouse,1.1,1.1,1.0;", "leading zero"},
    {"999999.a;", "too many digits"},
    {"99999.a", "exceeds"},
    {"4.mouse,1.1,1.1,1.0;", "does not match"},
    {"6.mouse,1.1,1.1,1.0;", "does not match"},
    {"3.foo;", "unknown opcode 'foo'"},
    {"6.select,3.rdp;", "unknown opcode 'select'"},
    {"4.size,10.9999999999,3.100;", "not an integer"},
    {"4.sync,17.99999999999999999;", "not an integer"},
    {"4.size,1.0,3.100;", "not an integer"},
    {"4.size,3.-10,3.100;", "not an integer"},
    {"4.size,3.010,3.100;", "not an integer"},
    {"4.size,3.1e3,3.100;", "not an integer"},
    {"3.key,5.65307,1.2;", "not an integer"},
    {"5.mouse,1.1,1.1;", "takes 3..3 arguments"},
    {"3.nop,1.x;", "takes 0..0 arguments"},
    {"3.ack,1.1,1.\xc0,1.0;", "invalid UTF-8"},
    {"3.ack,1.1,1.\xe0\x80\x80,1.0;", "invalid UTF-8"},     /* overlong */
    {"3.ack,1.1,1.\xed\xa0\x80,1.0;", "invalid UTF-8"},     /* surrogate */
    {"3.ack,1.1,1.\xf4\x90\x80\x80,1.0;", "invalid UTF-8"}, /* > U+10FFFF */
    {"3.ack,1.1,1.\x80,1.0;", "invalid UTF-8"},             /* lone continuation */
    {"3.ack,1.1,2.\xc3\x41,1.0;", "invalid UTF-8"},         /* cut sequence */
    {"4.blob,1.0,3.a*=;", "not base64"},
    {"4.blob,1.0,4.a=bc;", "not base64"},
    {"1.a,1.a,1.a,1.a,1.a,1.a,1.a,1.a,1.a,1.a,1.a,1.a,1.a;", "more than 12 elements"},
    {"16385.", "exceeds 16384"},
    {"3.nop,0.;", "takes 0..0"},
    {";", "bad element length"},
};

START_TEST(test_parser_refuses_hostile_input_with_a_reason)
{
    struct guac_msg m;
    struct pt_err err;
    size_t used = 0;
    int rc = parse(hostile[_i].in, &m, &used, &err);

    if (rc == 0) /* a prefix: feed the rest as "more" that still cannot be valid */
        ck_abort_msg("input %d was taken as incomplete", _i);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err.msg, hostile[_i].reason) != NULL, "input %d: got '%s', want '%s'", _i,
                  err.msg, hostile[_i].reason);
}
END_TEST

START_TEST(test_parser_refuses_nul_characters)
{
    static const char in[] = "3.ack,1.1,1.\0,1.0;";
    struct guac_msg m;
    struct pt_err err;
    size_t used;

    ck_assert_int_eq(guac_parser_next(parser, in, sizeof(in) - 1, &used, &m, &err), -1);
    ck_assert(strstr(err.msg, "NUL") != NULL);
}
END_TEST

START_TEST(test_parser_bounds_instruction_size)
{
    /* 5 elements of 16000 'A's: each element is fine, the instruction is not */
    struct pt_buf b = PT_BUF_INIT;
    char *v = malloc(16001);
    struct guac_msg m;
    struct pt_err err;
    size_t used;

    memset(v, 'A', 16000);
    v[16000] = '\0';
    pt_buf_appends(&b, "3.ack");
    for (int k = 0; k < 5; k++)
        pt_buf_appendf(&b, ",16000.%s", v);
    pt_buf_appends(&b, ";");
    ck_assert_int_eq(guac_parser_next(parser, b.data, b.len, &used, &m, &err), -1);
    ck_assert(strstr(err.msg, "instruction exceeds") != NULL);
    free(v);
    pt_buf_fini(&b);
}
END_TEST

START_TEST(test_parser_survives_random_bytes)
{
    unsigned int seed = 42;
    char buf[256];
    struct guac_msg m;
    struct pt_err err;
    size_t used;

    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof(buf));
        for (size_t k = 0; k < n; k++) {
            int r = rand_r(&seed) % 8;
            buf[k] = r < 3   ? (char)('0' + rand_r(&seed) % 10)
                     : r < 4 ? '.'
                     : r < 5 ? ','
                     : r < 6 ? ';'
                             : (char)(rand_r(&seed) & 0xFF);
        }
        int rc = guac_parser_next(parser, buf, n, &used, &m, &err);
        ck_assert(rc >= -1 && rc <= 1);
        if (rc == 1)
            ck_assert_uint_le(used, n);
    }
}
END_TEST

Suite *gateway_guac_proto_suite(void);
Suite *
gateway_guac_proto_suite(void)
{
    Suite *s = suite_create("gateway_guac_proto");
    TCase *tc = tcase_create("guac_proto");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_encoder_counts_code_points_not_bytes);
    tcase_add_test(tc, test_encoder_writes_base64_images_in_blobs);
    tcase_add_test(tc, test_parser_accepts_what_guacamole_common_js_sends);
    tcase_add_test(tc, test_parser_counts_multibyte_characters_as_one);
    tcase_add_test(tc, test_parser_waits_for_the_rest_of_a_split_instruction);
    tcase_add_loop_test(tc, test_parser_refuses_hostile_input_with_a_reason, 0,
                        (int)(sizeof(hostile) / sizeof(hostile[0])));
    tcase_add_test(tc, test_parser_refuses_nul_characters);
    tcase_add_test(tc, test_parser_bounds_instruction_size);
    tcase_add_test(tc, test_parser_survives_random_bytes);
    suite_add_tcase(s, tc);
    return s;
}
