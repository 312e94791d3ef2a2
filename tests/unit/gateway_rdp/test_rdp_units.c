/*
 * test_rdp_units.c - the RDP backend's pure parts: error sentences, the keysym map, the
 * tile classifier and the display encoder's output for known surfaces.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <freerdp/error.h>
#include <freerdp/scancode.h>

#include "guac_proto.h"
#include "rdp_priv.h"

START_TEST(test_failures_are_told_in_words_with_a_status)
{
    struct rdp_failure f;

    rdp_error_describe(FREERDP_ERROR_CONNECT_LOGON_FAILURE, 0, "desk", 3389, &f);
    ck_assert_int_eq(f.guac_status, GUAC_STATUS_CLIENT_UNAUTHORIZED);
    ck_assert(strstr(f.reason, "refused the user name or password"));
    rdp_error_describe(FREERDP_ERROR_CONNECT_TRANSPORT_FAILED, 0, "desk", 3389, &f);
    ck_assert_int_eq(f.guac_status, GUAC_STATUS_UPSTREAM_NOT_FOUND);
    ck_assert(strstr(f.reason, "desk:3389 cannot be reached"));
    rdp_error_describe(FREERDP_ERROR_TLS_CONNECT_FAILED, 0, "desk", 3389, &f);
    ck_assert(strstr(f.reason, "certificate"));
    rdp_error_describe(FREERDP_ERROR_SERVER_DENIED_CONNECTION, 0, "desk", 3389, &f);
    ck_assert_int_eq(f.guac_status, GUAC_STATUS_UPSTREAM_UNAVAILABLE);
    ck_assert(strstr(f.reason, "full"));
    /* the server's own reason wins over the transport error it causes */
    rdp_error_describe(FREERDP_ERROR_CONNECT_TRANSPORT_FAILED, ERRINFO_RPC_INITIATED_DISCONNECT,
                       "desk", 3389, &f);
    ck_assert_int_eq(f.guac_status, GUAC_STATUS_SESSION_CLOSED);
    ck_assert(strstr(f.reason, "administrator ended the session"));
    rdp_error_describe(0, ERRINFO_DISCONNECTED_BY_OTHER_CONNECTION, "desk", 3389, &f);
    ck_assert_int_eq(f.guac_status, GUAC_STATUS_SESSION_CONFLICT);
    /* a transport failure on a port that answers is a sign-in problem */
    rdp_error_describe(FREERDP_ERROR_CONNECT_TRANSPORT_FAILED, 0, "desk", 3389, &f);
    rdp_error_refine_reachable(FREERDP_ERROR_CONNECT_TRANSPORT_FAILED, true, "desk", 3389, &f);
    ck_assert_int_eq(f.guac_status, GUAC_STATUS_CLIENT_UNAUTHORIZED);
    ck_assert(strstr(f.reason, "check the user name and password"));
    rdp_error_refine_reachable(FREERDP_ERROR_CONNECT_TRANSPORT_FAILED, false, "desk", 3389, &f);
    ck_assert_int_eq(f.guac_status, GUAC_STATUS_UPSTREAM_ERROR);
    /* other failures are left alone */
    rdp_error_describe(FREERDP_ERROR_TLS_CONNECT_FAILED, 0, "desk", 3389, &f);
    rdp_error_refine_reachable(FREERDP_ERROR_TLS_CONNECT_FAILED, true, "desk", 3389, &f);
    ck_assert(strstr(f.reason, "certificate"));
}
END_TEST

START_TEST(test_keysyms_map_to_us_scancodes_or_unicode)
{
    ck_assert_uint_eq(rdp_keysym_to_scancode('a'), RDP_SCANCODE_KEY_A);
    ck_assert_uint_eq(rdp_keysym_to_scancode('A'), RDP_SCANCODE_KEY_A);
    ck_assert_uint_eq(rdp_keysym_to_scancode('!'), RDP_SCANCODE_KEY_1);
    ck_assert_uint_eq(rdp_keysym_to_scancode(0xff0d), RDP_SCANCODE_RETURN);
    ck_assert_uint_eq(rdp_keysym_to_scancode(0xffff), RDP_SCANCODE_DELETE); /* Ctrl+Alt+Del */
    ck_assert_uint_eq(rdp_keysym_to_scancode(0xffe3), RDP_SCANCODE_LCONTROL);
    ck_assert_uint_eq(rdp_keysym_to_scancode(0xffe9), RDP_SCANCODE_LMENU);
    ck_assert_uint_eq(rdp_keysym_to_scancode(0xff52), RDP_SCANCODE_UP);
    /* no US key types these: Unicode fallback */
    ck_assert_uint_eq(rdp_keysym_to_scancode(0xe9), 0);
    ck_assert_uint_eq(rdp_keysym_to_unicode(0xe9), 0xe9);          /* eacute */
    ck_assert_uint_eq(rdp_keysym_to_unicode(0x0100263a), 0x263a);  /* U+263A */
    ck_assert_uint_eq(rdp_keysym_to_unicode(0x0101f600), 0x1f600); /* emoji */
    ck_assert_uint_eq(rdp_keysym_to_unicode(0xffbe), 0);           /* F1 */
}
END_TEST

static uint8_t *
surface(int w, int h, uint32_t bgrx)
{
    uint32_t *p = malloc((size_t)w * (size_t)h * 4);

    for (int i = 0; i < w * h; i++)
        p[i] = bgrx;
    return (uint8_t *)p;
}

START_TEST(test_classifier_tells_fills_text_and_photos_apart)
{
    uint8_t *px = surface(64, 64, 0x00336699);
    uint32_t pal[256];
    int n = 0;
    unsigned seed = 7;

    ck_assert_int_eq(rdp_display_classify(px, 256, 64, 64, pal, &n), RDP_TILE_SOLID);
    for (int i = 0; i < 64 * 64; i += 7) /* "text": two colours */
        ((uint32_t *)px)[i] = 0x00FFFFFF;
    ck_assert_int_eq(rdp_display_classify(px, 256, 64, 64, pal, &n), RDP_TILE_PNG);
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < 64 * 64; i++) /* "photo": noise */
        ((uint32_t *)px)[i] = (uint32_t)rand_r(&seed) & 0xFFFFFF;
    ck_assert_int_eq(rdp_display_classify(px, 256, 64, 64, pal, &n), RDP_TILE_JPEG);
    free(px);
}
END_TEST

static int
count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

START_TEST(test_display_sends_only_what_changed)
{
    struct rdp_display d;
    struct pt_buf out = PT_BUF_INIT;
    uint8_t *fb = surface(200, 100, 0x00FF0000); /* BGRX32 in memory = 0x00RRGGBB: red */

    rdp_display_init(&d, 80);
    rdp_display_resize(&d, 200, 100, &out);
    ck_assert_str_eq(out.data, "4.size,1.0,3.200,3.100;");
    pt_buf_reset(&out);
    ck_assert_uint_eq(rdp_display_flush(&d, fb, 800, &out), 200 * 100);
    /* one row of tiles is one run: 2 tile rows -> 2 rect+cfill pairs, all red */
    ck_assert_int_eq(count(out.data, "4.rect,"), 2);
    ck_assert_int_eq(count(out.data, "5.cfill,2.14,1.0,3.255,1.0,1.0,3.255;"), 2);
    pt_buf_reset(&out);
    /* marked dirty but unchanged: nothing to send */
    rdp_display_mark(&d, 0, 0, 200, 100);
    ck_assert(rdp_display_pending(&d));
    ck_assert_uint_eq(rdp_display_flush(&d, fb, 800, &out), 0);
    ck_assert_uint_eq(out.len, 0);
    /* a few pixels of "text" in one tile: one PNG of that tile only */
    for (int x = 70; x < 90; x++)
        ((uint32_t *)fb)[10 * 200 + x] = 0x00FFFFFF;
    rdp_display_mark(&d, 70, 10, 20, 1);
    ck_assert_uint_eq(rdp_display_flush(&d, fb, 800, &out), 64 * 64);
    ck_assert_int_eq(count(out.data, "9.image/png,2.64,1.0;"), 1);
    ck_assert_int_eq(count(out.data, "3.end,"), 1);
    pt_buf_reset(&out);
    /* noise everywhere: JPEG */
    {
        unsigned seed = 3;
        for (int i = 0; i < 200 * 100; i++)
            ((uint32_t *)fb)[i] = (uint32_t)rand_r(&seed) & 0xFFFFFF;
    }
    rdp_display_mark(&d, 0, 0, 200, 100);
    rdp_display_flush(&d, fb, 800, &out);
    ck_assert_int_eq(count(out.data, "10.image/jpeg"), 2);
    ck_assert_int_eq(count(out.data, "image/png"), 0);
    pt_buf_fini(&out);
    rdp_display_fini(&d);
    free(fb);
}
END_TEST

/* Build to lossless: JPEG tiles that stay unchanged for RDP_LOSSLESS_MS come again as PNG,
 * once, and not while the browser lags; a tile that keeps changing stays JPEG. */
START_TEST(test_display_refreshes_settled_lossy_tiles_losslessly)
{
    struct rdp_display d;
    struct pt_buf out = PT_BUF_INIT;
    uint8_t *fb = surface(200, 100, 0);
    unsigned seed = 7;

    for (int i = 0; i < 200 * 100; i++)
        ((uint32_t *)fb)[i] = (uint32_t)rand_r(&seed) & 0xFFFFFF;
    rdp_display_init(&d, 80);
    d.now_ms = 1000;
    rdp_display_resize(&d, 200, 100, &out);
    pt_buf_reset(&out);
    rdp_display_flush(&d, fb, 800, &out);
    ck_assert_int_eq(count(out.data, "10.image/jpeg"), 2);
    pt_buf_reset(&out);
    d.now_ms = 1000 + RDP_LOSSLESS_MS - 1; /* not settled yet */
    ck_assert(!rdp_display_pending(&d));
    /* the top-left tile changes again: its timer starts over */
    ((uint32_t *)fb)[0] ^= 0x00FFFFFF;
    rdp_display_mark(&d, 0, 0, 1, 1);
    rdp_display_flush(&d, fb, 800, &out);
    ck_assert_int_eq(count(out.data, "10.image/jpeg"), 1);
    pt_buf_reset(&out);
    d.now_ms = 1000 + RDP_LOSSLESS_MS;
    /* lagging (the session lowered the quality): no refresh */
    d.jpeg_quality = 50;
    ck_assert(!rdp_display_pending(&d));
    d.jpeg_quality = d.jpeg_quality_max;
    ck_assert(rdp_display_pending(&d));
    ck_assert_uint_eq(rdp_display_flush(&d, fb, 800, &out), 0); /* no pixel changed */
    /* 4 x 2 tiles, one of them still fresh: 7 PNGs, no JPEG */
    ck_assert_int_eq(count(out.data, "9.image/png"), 7);
    ck_assert_int_eq(count(out.data, "image/jpeg"), 0);
    ck_assert_uint_eq(d.st.tiles_refreshed, 7);
    pt_buf_reset(&out);
    ck_assert(!rdp_display_pending(&d)); /* refreshed once only */
    d.now_ms = 1000 + 2 * RDP_LOSSLESS_MS;
    ck_assert(rdp_display_pending(&d)); /* the tile that changed, in its turn */
    rdp_display_flush(&d, fb, 800, &out);
    ck_assert_int_eq(count(out.data, "9.image/png"), 1);
    pt_buf_reset(&out);
    d.now_ms = 1000 + 10 * RDP_LOSSLESS_MS;
    ck_assert(!rdp_display_pending(&d));
    pt_buf_fini(&out);
    rdp_display_fini(&d);
    free(fb);
}
END_TEST

START_TEST(test_display_turns_a_scroll_into_one_copy)
{
    struct rdp_display d;
    struct pt_buf out = PT_BUF_INIT;
    int w = 256, h = 256;
    uint8_t *fb = surface(w, h, 0);
    uint32_t *p = (uint32_t *)fb;

    /* "text": distinct rows */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x += 3)
            p[y * w + x] = (uint32_t)(y * 2654435761u) & 0xFFFFFF;
    rdp_display_init(&d, 80);
    rdp_display_resize(&d, w, h, &out);
    rdp_display_flush(&d, fb, w * 4, &out);
    pt_buf_reset(&out);
    /* scroll up by 13 rows and write a new line at the bottom */
    memmove(fb, fb + 13 * w * 4, (size_t)(h - 13) * (size_t)w * 4);
    for (int y = h - 13; y < h; y++)
        for (int x = 0; x < w; x++)
            p[y * w + x] = (x / 4 % 2) ? 0xFFFFFF : 0x101010;
    rdp_display_mark(&d, 0, 0, w, h);
    rdp_display_flush(&d, fb, w * 4, &out);
    {
        static const char copy[] = "4.copy,1.0,1.0,2.13,3.256,3.243,2.14,1.0,1.0,1.0;";
        ck_assert_msg(strncmp(out.data, copy, sizeof(copy) - 1) == 0, "%.80s", out.data);
    }
    /* only the bottom tile row is encoded after the copy */
    ck_assert_int_eq(count(out.data, "3.img,"), 1);
    ck_assert_int_eq(count(out.data, ",3.192;"), 1);
    pt_buf_fini(&out);
    rdp_display_fini(&d);
    free(fb);
}
END_TEST

START_TEST(test_clipboard_text_converts_between_utf16_and_utf8)
{
    /* "a" U+00E9 U+20AC U+1F600 (surrogate pair), then a NUL and garbage after it */
    static const uint8_t u16[] = {'a',  0,    0xE9, 0, 0xAC, 0x20, 0x3D,
                                  0xD8, 0x00, 0xDE, 0, 0,    'x',  0};
    static const uint8_t lone[] = {'b', 0, 0x00, 0xDC, 'c', 0};
    const char *utf8 = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    struct pt_buf b = PT_BUF_INIT;
    enum gw_rdp_clip_dir dir = GW_RDP_CLIP_BOTH;

    ck_assert_uint_eq(rdp_utf16le_to_utf8(&b, u16, sizeof(u16), 1000), strlen(utf8));
    ck_assert_mem_eq(b.data, utf8, strlen(utf8));
    /* the size limit cuts before the character that does not fit, never inside it */
    pt_buf_reset(&b);
    ck_assert_uint_eq(rdp_utf16le_to_utf8(&b, u16, sizeof(u16), 5), 3);
    ck_assert_mem_eq(b.data, "a\xc3\xa9", 3);
    pt_buf_reset(&b);
    rdp_utf16le_to_utf8(&b, lone, sizeof(lone), 100);
    ck_assert_mem_eq(b.data,
                     "b\xef\xbf\xbd"
                     "c",
                     5);
    /* and back, NUL-terminated */
    pt_buf_reset(&b);
    ck_assert_int_eq(rdp_utf8_to_utf16le(&b, utf8, strlen(utf8)), 0);
    ck_assert_uint_eq(b.len, 12);
    ck_assert_mem_eq(b.data, u16, 12);
    /* broken UTF-8 is refused: overlong, surrogate, truncated, NUL */
    ck_assert_int_eq(rdp_utf8_to_utf16le(&b, "\xc0\xaf", 2), -1);
    ck_assert_int_eq(rdp_utf8_to_utf16le(&b, "\xed\xa0\x80", 3), -1);
    ck_assert_int_eq(rdp_utf8_to_utf16le(&b, "\xe2\x82", 2), -1);
    ck_assert_int_eq(rdp_utf8_to_utf16le(&b, "a\0b", 3), -1);
    /* base64 of two blobs, each padded (as guacamole-common-js sends them) */
    pt_buf_reset(&b);
    ck_assert_int_eq(rdp_base64_decode(&b, "aGk=IQ==", 8), 0);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_mem_eq(b.data, "hi!", 3);
    ck_assert_int_eq(rdp_base64_decode(&b, "aGk", 3), -1);
    ck_assert_int_eq(rdp_base64_decode(&b, "a*k=", 4), -1);
    ck_assert_int_eq(rdp_base64_decode(&b, "=abc", 4), -1);
    ck_assert_int_eq(gw_rdp_clip_dir_parse("from-desktop", &dir), 0);
    ck_assert_int_eq(dir, GW_RDP_CLIP_FROM_DESKTOP);
    ck_assert_int_eq(gw_rdp_clip_dir_parse("sideways", &dir), -1);
    ck_assert_int_eq(dir, GW_RDP_CLIP_FROM_DESKTOP);
    pt_buf_fini(&b);
}
END_TEST

/* The gateway's own settings for the test (rdp_backend.c, with the defaults, is not
 * linked here). */
static void
gw_conf(struct gw_rdp_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->clipboard_max = 256 * 1024;
}

/* The ticket's pool policy narrows the gateway's own: a direction is allowed only where
 * both allow it, and the smaller non-zero limit wins. */
START_TEST(test_ticket_policy_narrows_the_gateway_clipboard)
{
    static const enum gw_rdp_clip_dir gw_dirs[] = {GW_RDP_CLIP_BOTH, GW_RDP_CLIP_TO_DESKTOP,
                                                   GW_RDP_CLIP_FROM_DESKTOP, GW_RDP_CLIP_NONE};
    static const enum auth_clip_dir pool_dirs[] = {AUTH_CLIP_BOTH, AUTH_CLIP_TO_DESKTOP,
                                                   AUTH_CLIP_FROM_DESKTOP, AUTH_CLIP_NONE};
    /* want[gateway][pool] */
    static const enum gw_rdp_clip_dir want[4][4] = {
        {GW_RDP_CLIP_BOTH, GW_RDP_CLIP_TO_DESKTOP, GW_RDP_CLIP_FROM_DESKTOP, GW_RDP_CLIP_NONE},
        {GW_RDP_CLIP_TO_DESKTOP, GW_RDP_CLIP_TO_DESKTOP, GW_RDP_CLIP_NONE, GW_RDP_CLIP_NONE},
        {GW_RDP_CLIP_FROM_DESKTOP, GW_RDP_CLIP_NONE, GW_RDP_CLIP_FROM_DESKTOP, GW_RDP_CLIP_NONE},
        {GW_RDP_CLIP_NONE, GW_RDP_CLIP_NONE, GW_RDP_CLIP_NONE, GW_RDP_CLIP_NONE},
    };
    struct auth_ticket_claims t;
    struct gw_rdp_conf c;

    for (int g = 0; g < 4; g++) {
        for (int p = 0; p < 4; p++) {
            gw_conf(&c);
            c.clipboard_dir = gw_dirs[g];
            memset(&t, 0, sizeof(t));
            t.clip_dir = pool_dirs[p];
            pt_strlcpy(t.desktop, "win-0001", sizeof(t.desktop));
            gw_rdp_conf_apply_ticket(&c, &t);
            ck_assert_msg(c.clipboard_dir == want[g][p], "gateway %d pool %d gave %d", g, p,
                          (int)c.clipboard_dir);
            ck_assert_str_eq(c.cert_scope, "win-0001");
        }
    }
    gw_conf(&c);
    memset(&t, 0, sizeof(t));
    t.clip_max = 0; /* no pool limit: the gateway's */
    gw_rdp_conf_apply_ticket(&c, &t);
    ck_assert_uint_eq(c.clipboard_max, 256 * 1024);
    t.clip_max = 4096;
    gw_rdp_conf_apply_ticket(&c, &t);
    ck_assert_uint_eq(c.clipboard_max, 4096);
    t.clip_max = 1024 * 1024; /* a pool cannot raise the gateway's limit */
    gw_rdp_conf_apply_ticket(&c, &t);
    ck_assert_uint_eq(c.clipboard_max, 4096);
    t.clip_dir = (enum auth_clip_dir)9; /* out of range (never from a valid ticket) */
    gw_rdp_conf_apply_ticket(&c, &t);
    ck_assert_int_eq(c.clipboard_dir, GW_RDP_CLIP_NONE);
}
END_TEST

Suite *gateway_rdp_units_suite(void);
Suite *
gateway_rdp_units_suite(void)
{
    Suite *s = suite_create("gateway_rdp_units");
    TCase *tc = tcase_create("rdp_units");

    tcase_add_test(tc, test_failures_are_told_in_words_with_a_status);
    tcase_add_test(tc, test_keysyms_map_to_us_scancodes_or_unicode);
    tcase_add_test(tc, test_classifier_tells_fills_text_and_photos_apart);
    tcase_add_test(tc, test_display_sends_only_what_changed);
    tcase_add_test(tc, test_display_turns_a_scroll_into_one_copy);
    tcase_add_test(tc, test_display_refreshes_settled_lossy_tiles_losslessly);
    tcase_add_test(tc, test_clipboard_text_converts_between_utf16_and_utf8);
    tcase_add_test(tc, test_ticket_policy_narrows_the_gateway_clipboard);
    suite_add_tcase(s, tc);
    return s;
}
