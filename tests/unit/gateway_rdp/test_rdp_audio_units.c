/*
 * test_rdp_audio_units.c - rdp_audio.c without a server: which formats the browser can
 * play, and what the session thread sends for buffered PCM (audio once per format, blobs
 * of whole frames that decode to the same bytes, end on close or a new format, nothing
 * when dropped).
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <freerdp/codec/audio.h>

#include "auth/ticket.h"
#include "rdp_priv.h"

Suite *gateway_rdp_audio_units_suite(void);

/* Buffer @len bytes of PCM as the rdpsnd thread's Play() would, in format @rate/@ch/@bits. */
static void
play(struct rdp_audio *a, int rate, int ch, int bits, const uint8_t *pcm, size_t len)
{
    a->open = true;
    a->rate = rate, a->channels = ch, a->bits = bits;
    if (a->cap < a->len + len) {
        a->pcm = realloc(a->pcm, a->len + len);
        a->cap = a->len + len;
    }
    memcpy(a->pcm + a->len, pcm, len);
    a->len += len;
}

/* The PCM of every "blob,129,..." in @out, decoded. */
static void
blobs(const struct pt_buf *out, struct pt_buf *pcm)
{
    const char *p = out->data, *end = out->data + out->len;

    while (p && p < end) {
        const char *hit = memmem(p, (size_t)(end - p), "4.blob,3.129,", 13);
        char *dot;
        long n;

        if (!hit)
            break;
        n = strtol(hit + 13, &dot, 10);
        ck_assert(*dot == '.');
        ck_assert_int_eq(rdp_base64_decode(pcm, dot + 1, (size_t)n), 0);
        p = dot + 1 + n;
    }
}

START_TEST(test_only_pcm_the_browser_plays_is_accepted)
{
    ck_assert(rdp_audio_format_playable(WAVE_FORMAT_PCM, 2, 44100, 16));
    ck_assert(rdp_audio_format_playable(WAVE_FORMAT_PCM, 1, 8000, 8));
    ck_assert(rdp_audio_format_playable(WAVE_FORMAT_PCM, 2, 48000, 16));
    ck_assert(!rdp_audio_format_playable(0x0002 /* MS ADPCM */, 2, 44100, 4));
    ck_assert(!rdp_audio_format_playable(WAVE_FORMAT_PCM, 6, 48000, 16));
    ck_assert(!rdp_audio_format_playable(WAVE_FORMAT_PCM, 2, 96000, 16));
    ck_assert(!rdp_audio_format_playable(WAVE_FORMAT_PCM, 2, 44100, 24));
    ck_assert(!rdp_audio_format_playable(WAVE_FORMAT_PCM, 0, 44100, 16));
}
END_TEST

START_TEST(test_buffered_pcm_becomes_one_stream_of_whole_frames)
{
    struct rdp_audio a;
    struct pt_buf out = PT_BUF_INIT, pcm = PT_BUF_INIT;
    struct rdp_metric_delta d = {0};
    uint8_t data[20000];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3);
    ck_assert_int_eq(rdp_audio_init(&a), 0);
    play(&a, 44100, 2, 16, data, sizeof(data) - 3); /* a torn frame at the end */
    ck_assert_uint_eq(rdp_audio_flush(&a, &out, false, &d), sizeof(data) - 4);
    ck_assert(out.len > 49 &&
              !memcmp(out.data, "5.audio,3.129,31.audio/L16;rate=44100,channels=2;", 49));
    blobs(&out, &pcm);
    ck_assert_uint_eq(pcm.len, sizeof(data) - 4);
    ck_assert(!memcmp(pcm.data, data, pcm.len));
    ck_assert_uint_eq(d.audio_streams, 1);
    ck_assert_uint_eq(d.audio_bytes, sizeof(data) - 4);
    /* more of the same format: blobs only; then a close: end */
    pt_buf_reset(&out);
    play(&a, 44100, 2, 16, data, 400);
    a.open = false;
    rdp_audio_flush(&a, &out, false, &d);
    ck_assert_ptr_null(memmem(out.data, out.len, "5.audio", 7));
    ck_assert(out.len > 8 && !memcmp(out.data + out.len - 12, "3.end,3.129;", 12));
    ck_assert_uint_eq(d.audio_streams, 1);
    pt_buf_fini(&out);
    pt_buf_fini(&pcm);
    rdp_audio_fini(&a);
}
END_TEST

START_TEST(test_a_new_format_ends_the_stream_and_8_bit_is_made_signed)
{
    struct rdp_audio a;
    struct pt_buf out = PT_BUF_INIT, pcm = PT_BUF_INIT;
    struct rdp_metric_delta d = {0};
    uint8_t s16[8] = {1, 2, 3, 4, 5, 6, 7, 8}, u8[4] = {0x00, 0x80, 0xFF, 0x7F};

    ck_assert_int_eq(rdp_audio_init(&a), 0);
    play(&a, 22050, 1, 16, s16, sizeof(s16));
    rdp_audio_flush(&a, &out, false, &d);
    pt_buf_reset(&out);
    play(&a, 8000, 1, 8, u8, sizeof(u8));
    rdp_audio_flush(&a, &out, false, &d);
    ck_assert_msg(
        !memcmp(out.data, "3.end,3.129;5.audio,3.129,29.audio/L8;rate=8000,channels=1;", 59),
        "%.*s", (int)out.len, out.data);
    blobs(&out, &pcm);
    ck_assert_uint_eq(pcm.len, 4);
    ck_assert_int_eq((uint8_t)pcm.data[0], 0x80); /* unsigned silence 0x80 is signed 0 */
    ck_assert_int_eq((uint8_t)pcm.data[1], 0x00);
    ck_assert_int_eq((uint8_t)pcm.data[2], 0x7F);
    ck_assert_int_eq((uint8_t)pcm.data[3], 0xFF);
    ck_assert_uint_eq(d.audio_streams, 2);
    pt_buf_fini(&out);
    pt_buf_fini(&pcm);
    rdp_audio_fini(&a);
}
END_TEST

START_TEST(test_dropped_pcm_sends_nothing_and_is_counted)
{
    struct rdp_audio a;
    struct pt_buf out = PT_BUF_INIT;
    struct rdp_metric_delta d = {0};
    uint8_t data[400] = {0};

    ck_assert_int_eq(rdp_audio_init(&a), 0);
    play(&a, 44100, 2, 16, data, sizeof(data));
    a.drops = 3; /* packets Play() could not buffer */
    ck_assert_uint_eq(rdp_audio_flush(&a, &out, true, &d), 0);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_uint_eq(d.audio_drops, 4);
    ck_assert_uint_eq(a.len, 0);
    ck_assert_uint_eq(a.drops, 0);
    pt_buf_fini(&out);
    rdp_audio_fini(&a);
}
END_TEST

START_TEST(test_ticket_audio_switch_and_gateway_setting_must_both_allow_sound)
{
    struct auth_ticket_claims t;
    struct gw_rdp_conf c;

    for (int gw = 0; gw < 2; gw++) {
        for (int pool = 0; pool < 2; pool++) {
            memset(&c, 0, sizeof(c));
            c.clipboard_max = 1024;
            c.audio = gw;
            memset(&t, 0, sizeof(t));
            t.clip_dir = AUTH_CLIP_BOTH;
            t.audio = pool;
            gw_rdp_conf_apply_ticket(&c, &t);
            ck_assert_msg(c.audio == (gw && pool), "gateway %d pool %d gave %d", gw, pool, c.audio);
        }
    }
}
END_TEST

Suite *
gateway_rdp_audio_units_suite(void)
{
    Suite *s = suite_create("gateway_rdp_audio_units");
    TCase *tc = tcase_create("audio");

    tcase_add_test(tc, test_only_pcm_the_browser_plays_is_accepted);
    tcase_add_test(tc, test_buffered_pcm_becomes_one_stream_of_whole_frames);
    tcase_add_test(tc, test_a_new_format_ends_the_stream_and_8_bit_is_made_signed);
    tcase_add_test(tc, test_dropped_pcm_sends_nothing_and_is_counted);
    tcase_add_test(tc, test_ticket_audio_switch_and_gateway_setting_must_both_allow_sound);
    suite_add_tcase(s, tc);
    return s;
}
