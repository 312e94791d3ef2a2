/*
 * test_rdp_audio.c - the desktop's sound reaches the browser, and a server that refuses
 * channels still connects, driven through the test harness tunnel (harness.h) playing
 * the browser.
 *
 * Sound: tests/support/servers/rdp_tone_server.c, a TEST SERVER on FreeRDP's server library,
 * plays a 1000 Hz sine over rdpsnd (no packaged server here plays sound: see that file).
 * The test decodes the Guacamole audio stream as the browser's RawAudioPlayer would and
 * checks the tone's loudness and frequency (zero crossings), not just that bytes came.
 * Channels: a real xrdp with allow_channels=false in front of an Xvnc.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "harness.h"
#include "rdp.h"
#include "rdp_lab.h"
#include "rdp_priv.h"

#define TONE_HZ 1000

static const struct gw_backend_ops *ops;
static bool thread_mode;

static void
configure(bool audio)
{
    struct gw_rdp_conf c;

    if (getenv("RDP_TEST_DEBUG"))
        pt_log_set_level(LOG_DEBUG);
    gw_rdp_conf_defaults(&c);
    c.audio = audio;
    c.process_per_session = !thread_mode;
    gw_rdp_configure(&c);
}

static void
tone_start(struct lab_tone *tn)
{
    struct pt_err err;

    ck_assert_msg(lab_tone_start(tn, RDP_TONE_SERVER, TONE_HZ, &err) == 0, "%s", err.msg);
}

static struct gw_tunnel *
open_rdp(int port)
{
    struct pt_err err;
    struct auth_ticket_claims c;
    struct gw_tunnel *t = h_tunnel_new();

    memset(&c, 0, sizeof(c));
    c.audio = true; /* the pool allows sound, as a ticket does by default */
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.port = port;
    ops = gw_rdp_backend();
    ck_assert_msg(ops->open(t, &c, "na\nsecret-pw", &err) == 0, "open: %s", err.msg);
    return t;
}

static void
echo_sync(struct gw_tunnel *t, const struct h_insn *in)
{
    char echo[64], reason[128];

    snprintf(echo, sizeof(echo), "4.sync,%zu.%s;", strlen(in->argv[0]), in->argv[0]);
    ck_assert_int_eq(h_send(t, ops, echo, reason, sizeof(reason)), 0);
}

/* Collect @want bytes of PCM from audio stream instructions (an "audio" must announce
 * @mime, unless @stream already is the open stream, else -1), echoing syncs like a browser. Returns
 * the PCM (owned), *@len set. */
static uint8_t *
collect_pcm(struct gw_tunnel *t, const char *mime, long long stream, size_t want, int timeout_ms,
            size_t *len)
{
    struct pt_buf pcm = PT_BUF_INIT;

    int64_t end = pt_time_mono_ms() + timeout_ms;

    while (pcm.len < want && pt_time_mono_ms() < end) {
        struct h_insn in;

        if (h_next(t, &in, 200) < 0)
            continue;
        if (!strcmp(in.op, "sync") && in.argc >= 1) {
            echo_sync(t, &in);
        } else if (!strcmp(in.op, "audio")) {
            ck_assert_int_eq(in.argc, 2);
            ck_assert_str_eq(in.argv[1], mime);
            stream = atoll(in.argv[0]);
        } else if (!strcmp(in.op, "blob") && in.argc == 2 && atoll(in.argv[0]) == stream) {
            ck_assert_int_eq(rdp_base64_decode(&pcm, in.argv[1], strlen(in.argv[1])), 0);
        } else if (!strcmp(in.op, "error")) {
            ck_abort_msg("error from the backend: %s", in.argc ? in.argv[0] : "");
        }
        h_insn_fini(&in);
    }
    ck_assert_msg(stream >= 0, "no audio stream announced");
    *len = pcm.len;
    return (uint8_t *)pt_buf_steal(&pcm);
}

/* The left channel of 16-bit stereo PCM: RMS and frequency by zero crossings. */
static void
analyse(const uint8_t *pcm, size_t len, int rate, double *rms, double *hz)
{
    size_t frames = len / 4, crossings = 0;
    double sum = 0;
    int16_t prev = 0;

    for (size_t i = 0; i < frames; i++) {
        int16_t v = (int16_t)(pcm[i * 4] | (pcm[i * 4 + 1] << 8));

        sum += (double)v * v;
        if (i > 0 && ((prev < 0 && v >= 0) || (prev >= 0 && v < 0)))
            crossings++;
        prev = v;
    }
    *rms = frames ? sqrt(sum / (double)frames) : 0;
    *hz = frames ? (double)crossings / 2.0 / ((double)frames / rate) : 0;
}

START_TEST(test_desktop_tone_reaches_the_browser_as_pcm_of_its_frequency)
{
    struct lab_tone tn;
    struct gw_tunnel *t;
    struct gw_rdp_metrics m0, m1;
    uint8_t *pcm;
    size_t len;
    double rms, hz;
    char line[512];

    configure(true);
    gw_rdp_metrics_get(&m0);
    tone_start(&tn);
    t = open_rdp(tn.port);
    /* 1 s of 44.1 kHz stereo 16-bit */
    pcm = collect_pcm(t, "audio/L16;rate=44100,channels=2", -1, 176400, 15000, &len);
    ck_assert_msg(len >= 176400, "only %zu PCM bytes in 15 s", len);
    analyse(pcm, len, 44100, &rms, &hz);
    /* the server's sine has amplitude 10000: RMS 7071 */
    ck_assert_msg(rms > 6000 && rms < 8000, "RMS %.0f is not the tone's", rms);
    ck_assert_msg(fabs(hz - TONE_HZ) < TONE_HZ * 0.02, "heard %.1f Hz, played %d Hz", hz, TONE_HZ);
    free(pcm);
    /* the protocol's timing PDUs were answered */
    ck_assert_msg(lab_tone_log_line(&tn, "training_confirm", NULL, 0, 2000), "no training confirm");
    ck_assert_msg(lab_tone_log_line(&tn, "wave_confirms", NULL, 0, 2000), "no wave confirm");
    ck_assert(lab_tone_log_line(&tn, "channels", line, sizeof(line), 0));
    ck_assert_msg(strstr(line, "rdpsnd") && strstr(line, "rdpdr"), "channels: %s", line);
    ops->close(t);
    h_tunnel_free(t);
    gw_rdp_metrics_get(&m1);
    ck_assert_uint_ge(m1.audio_streams, m0.audio_streams + 1);
    ck_assert_uint_ge(m1.audio_bytes, m0.audio_bytes + 176400);
    lab_tone_stop(&tn);
}
END_TEST

START_TEST(test_audio_off_asks_the_server_for_no_sound_channel)
{
    struct lab_tone tn;
    struct gw_tunnel *t;
    struct h_insn in;
    char line[512];
    int64_t end;

    configure(false);
    tone_start(&tn);
    t = open_rdp(tn.port);
    ck_assert_int_eq(h_wait_op(t, ops, "sync", &in, 15000), 0);
    h_insn_fini(&in);
    ck_assert(lab_tone_log_line(&tn, "channels", line, sizeof(line), 2000));
    ck_assert_msg(!strstr(line, "rdpsnd"), "channels: %s", line);
    end = pt_time_mono_ms() + 1500;
    while (pt_time_mono_ms() < end) {
        if (h_next(t, &in, 100) < 0)
            continue;
        ck_assert_str_ne(in.op, "audio");
        h_insn_fini(&in);
    }
    ops->close(t);
    h_tunnel_free(t);
    lab_tone_stop(&tn);
}
END_TEST

START_TEST(test_a_browser_that_stops_echoing_loses_sound_not_memory)
{
    struct lab_tone tn;
    struct gw_tunnel *t;
    struct gw_rdp_metrics m0, m1;
    struct h_insn in, last_sync = {0};
    size_t pcm_bytes = 0;
    bool announced = false;
    uint8_t *pcm;
    size_t len;
    int64_t end;

    configure(true);
    gw_rdp_metrics_get(&m0);
    tone_start(&tn);
    t = open_rdp(tn.port);
    /* play the browser that draws nothing: no sync is echoed for 3 s */
    end = pt_time_mono_ms() + 3000;
    while (pt_time_mono_ms() < end) {
        if (h_next(t, &in, 100) < 0)
            continue;
        if (!strcmp(in.op, "blob") && in.argc == 2 && atoll(in.argv[0]) == RDP_AUDIO_STREAM)
            pcm_bytes += strlen(in.argv[1]) * 3 / 4;
        if (!strcmp(in.op, "audio"))
            announced = true;
        if (!strcmp(in.op, "sync")) {
            h_insn_fini(&last_sync);
            last_sync = in;
            continue;
        }
        h_insn_fini(&in);
    }
    gw_rdp_metrics_get(&m1);
    /* 3 s of tone is 529 KB; with the lag bound (500 ms) at most ~1 s of it came */
    ck_assert_msg(pcm_bytes < 176400, "%zu PCM bytes reached a browser that lags 3 s", pcm_bytes);
    ck_assert_uint_gt(m1.audio_drops, m0.audio_drops);
    ck_assert_msg(last_sync.argc >= 1, "no sync at all");
    /* the browser catches up: sound flows again */
    echo_sync(t, &last_sync);
    h_insn_fini(&last_sync);
    pcm = collect_pcm(t, "audio/L16;rate=44100,channels=2", announced ? RDP_AUDIO_STREAM : -1,
                      44100, 10000, &len);
    ck_assert_uint_ge(len, 44100);
    free(pcm);
    ops->close(t);
    h_tunnel_free(t);
    lab_tone_stop(&tn);
}
END_TEST

/* guacamole-common-js answers an audio stream it cannot play with ack ... 0x030F */
START_TEST(test_a_browser_that_refuses_the_audio_stream_gets_no_more_sound)
{
    struct lab_tone tn;
    struct gw_tunnel *t;
    struct h_insn in;
    char ack[64], reason[128];
    size_t after = 0;
    int64_t end;

    configure(true);
    tone_start(&tn);
    t = open_rdp(tn.port);
    ck_assert_int_eq(h_wait_op(t, ops, "audio", &in, 15000), 0);
    snprintf(ack, sizeof(ack), "3.ack,%zu.%s,8.BAD TYPE,3.783;", strlen(in.argv[0]), in.argv[0]);
    h_insn_fini(&in);
    ck_assert_int_eq(h_send(t, ops, ack, reason, sizeof(reason)), 0);
    /* what was on its way still arrives; then nothing */
    end = pt_time_mono_ms() + 500;
    while (pt_time_mono_ms() < end)
        if (h_next(t, &in, 100) == 0)
            h_insn_fini(&in);
    end = pt_time_mono_ms() + 1500;
    while (pt_time_mono_ms() < end) {
        if (h_next(t, &in, 100) < 0)
            continue;
        if (!strcmp(in.op, "blob") && in.argc == 2 && atoll(in.argv[0]) == RDP_AUDIO_STREAM)
            after += strlen(in.argv[1]);
        if (!strcmp(in.op, "sync"))
            echo_sync(t, &in);
        h_insn_fini(&in);
    }
    ck_assert_msg(after == 0, "%zu base64 bytes of sound after the browser refused it", after);
    ops->close(t);
    h_tunnel_free(t);
    lab_tone_stop(&tn);
}
END_TEST

static void
setup_thread_mode(void)
{
    thread_mode = true;
}

static void
teardown_thread_mode(void)
{
    thread_mode = false;
}

Suite *gateway_rdp_audio_suite(void);
Suite *
gateway_rdp_audio_suite(void)
{
    Suite *s = suite_create("gateway_rdp_audio");
    TCase *tc = tcase_create("tone");
    TCase *th = tcase_create("thread_mode");

    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_desktop_tone_reaches_the_browser_as_pcm_of_its_frequency);
    tcase_add_test(tc, test_audio_off_asks_the_server_for_no_sound_channel);
    tcase_add_test(tc, test_a_browser_that_stops_echoing_loses_sound_not_memory);
    tcase_add_test(tc, test_a_browser_that_refuses_the_audio_stream_gets_no_more_sound);
    suite_add_tcase(s, tc);
    tcase_set_timeout(th, 60);
    tcase_add_unchecked_fixture(th, setup_thread_mode, teardown_thread_mode);
    tcase_add_test(th, test_desktop_tone_reaches_the_browser_as_pcm_of_its_frequency);
    suite_add_tcase(s, th);
    return s;
}
