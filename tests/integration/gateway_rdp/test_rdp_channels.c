/*
 * test_rdp_channels.c - the RDP backend's virtual channels against real servers, driven
 * through the test harness tunnel (harness.h) playing the browser: clipboard both ways
 * (cliprdr) through xrdp in front of an Xvnc, whose X selection xclip reads and sets;
 * resize by reconnect (xrdp resizes its Xvnc); certificate trust on first use per pool
 * against freerdp-shadow.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "canvas.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "guac_proto.h"
#include "harness.h"
#include "rdp.h"
#include "rdp_lab.h"
#include "rdp_priv.h"

static const struct gw_backend_ops *ops;
static bool thread_mode; /* sessions on threads in this process (LeakSanitizer sees them) */

static void
configure_full(enum gw_rdp_clip_dir dir, bool resize_by_reconnect)
{
    struct gw_rdp_conf c;

    if (getenv("RDP_TEST_DEBUG")) /* the backend's debug lines (channel events) */
        pt_log_set_level(LOG_DEBUG);
    gw_rdp_conf_defaults(&c);
    c.clipboard_dir = dir;
    c.resize_by_reconnect = resize_by_reconnect;
    c.process_per_session = !thread_mode;
    gw_rdp_configure(&c);
}

static void
configure(enum gw_rdp_clip_dir dir)
{
    configure_full(dir, false);
}

/* xrdp -> Xvnc, a session through the harness, first frame drawn and echoed. */
static struct gw_tunnel *
open_xrdp(struct lab_shadow *lab)
{
    struct pt_err err;
    struct auth_ticket_claims c;
    struct gw_tunnel *t = h_tunnel_new();
    struct h_insn in;

    ck_assert_msg(lab_xrdp_start(lab, 640, 480, &err) == 0, "%s", err.msg);
    memset(&c, 0, sizeof(c));
    c.audio = true; /* the pool allows sound, as a ticket does by default */
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.port = lab->port;
    ops = gw_rdp_backend();
    ck_assert_msg(ops->open(t, &c, "na\nsecret-pw", &err) == 0, "open: %s", err.msg);
    ck_assert_int_eq(h_wait_op(t, ops, "sync", &in, 15000), 0);
    h_insn_fini(&in);
    return t;
}

static void
close_all(struct gw_tunnel *t, struct lab_shadow *lab)
{
    ops->close(t);
    h_tunnel_free(t);
    lab_shadow_stop(lab);
}

/* The next clipboard stream the backend sends, decoded (owned), or NULL on timeout. */
static char *
browser_clipboard_wait(struct gw_tunnel *t, int timeout_ms)
{
    struct h_insn in;
    struct pt_buf text = PT_BUF_INIT;
    char stream[32];

    if (h_wait_op(t, ops, "clipboard", &in, timeout_ms) < 0)
        return NULL;
    ck_assert_int_eq(in.argc, 2);
    ck_assert_str_eq(in.argv[1], "text/plain");
    pt_strlcpy(stream, in.argv[0], sizeof(stream));
    h_insn_fini(&in);
    for (;;) {
        ck_assert_int_eq(h_next(t, &in, 5000), 0);
        if (!strcmp(in.op, "end")) {
            ck_assert_str_eq(in.argv[0], stream);
            h_insn_fini(&in);
            break;
        }
        if (!strcmp(in.op, "blob") && !strcmp(in.argv[0], stream))
            ck_assert_int_eq(rdp_base64_decode(&text, in.argv[1], strlen(in.argv[1])), 0);
        h_insn_fini(&in);
    }
    return pt_buf_steal(&text);
}

/* A browser clipboard stream as guacamole-common-js sends it: each blob base64 of its own
 * (here two blobs, so the second's padding sits in the middle of the concatenation). */
static void
browser_copy(struct gw_tunnel *t, const char *text)
{
    size_t half = strlen(text) / 2;
    struct pt_buf msg = PT_BUF_INIT;
    char reason[200] = "";

    pt_buf_appendf(&msg, "9.clipboard,1.7,10.text/plain;");
    for (int part = 0; part < 2; part++) {
        const char *p = part ? text + half : text;
        size_t n = part ? strlen(text) - half : half;

        pt_buf_appendf(&msg, "4.blob,1.7");
        guac_enc_base64(&msg, p, n); /* ",<len>.<base64>" */
        pt_buf_appendf(&msg, ";");
    }
    pt_buf_appendf(&msg, "3.end,1.7;");
    ck_assert_msg(h_send(t, ops, msg.data, reason, sizeof(reason)) == 0, "refused: %s", reason);
    pt_buf_fini(&msg);
}

START_TEST(test_desktop_clipboard_text_reaches_the_browser_as_utf8)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    char *got;

    configure(GW_RDP_CLIP_BOTH);
    t = open_xrdp(&lab);
    /* xrdp's VNC module forwards only cut text that arrives once the clipboard channel
     * is up (about 0.5 s after the first frame), which the browser cannot see: copy
     * again until it shows, as a person would */
    got = NULL;
    for (int i = 0; i < 8 && !got; i++) {
        ck_assert_int_eq(lab_clip_copy(&lab, "h\xc3\xa9llo from the desktop, Stra\xc3\x9f\x65"), 0);
        got = browser_clipboard_wait(t, 1000);
    }
    ck_assert_msg(got != NULL, "no clipboard stream reached the browser");
    /* RFB cut text is Latin-1, so Xvnc -> xrdp carries only that range (a Euro sign
     * arrives as '?'); the UTF-16 path beyond it is unit-tested */
    ck_assert_str_eq(got, "h\xc3\xa9llo from the desktop, Stra\xc3\x9f\x65");
    free(got);
    close_all(t, &lab);
}
END_TEST

START_TEST(test_browser_clipboard_text_reaches_the_desktop_selection)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    char *got;

    configure(GW_RDP_CLIP_BOTH);
    t = open_xrdp(&lab);
    browser_copy(t, "pasted from the browser \xc3\xa9");
    got = lab_clip_wait(&lab, "pasted from the browser \xc3\xa9", 8000);
    ck_assert_str_eq(got, "pasted from the browser \xc3\xa9");
    free(got);
    close_all(t, &lab);
}
END_TEST

START_TEST(test_clipboard_policy_to_desktop_keeps_desktop_text_from_the_browser)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    char *got;

    configure(GW_RDP_CLIP_TO_DESKTOP);
    t = open_xrdp(&lab);
    /* the allowed way still works ... */
    browser_copy(t, "inbound only");
    got = lab_clip_wait(&lab, "inbound only", 8000);
    ck_assert_str_eq(got, "inbound only");
    free(got);
    /* ... and a copy on the desktop never reaches the browser */
    ck_assert_int_eq(lab_clip_copy(&lab, "must stay on the desktop"), 0);
    got = browser_clipboard_wait(t, 3000);
    ck_assert_msg(got == NULL, "desktop text leaked to the browser: %s", got ? got : "");
    close_all(t, &lab);
}
END_TEST

START_TEST(test_clipboard_policy_none_keeps_browser_text_off_the_desktop)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    char *got;

    configure(GW_RDP_CLIP_NONE);
    t = open_xrdp(&lab);
    ck_assert_int_eq(lab_clip_copy(&lab, "desktop text"), 0);
    browser_copy(t, "outside text");
    got = lab_clip_wait(&lab, "outside text", 3000);
    ck_assert_str_eq(got, "desktop text");
    free(got);
    got = browser_clipboard_wait(t, 1000);
    ck_assert_msg(got == NULL, "desktop text leaked to the browser: %s", got ? got : "");
    close_all(t, &lab);
}
END_TEST

START_TEST(test_clipboard_over_the_size_limit_is_cut_or_refused)
{
    struct lab_shadow lab;
    struct gw_rdp_conf c;
    struct gw_tunnel *t;
    char *got = NULL;
    char reason[200] = "";
    struct pt_buf msg = PT_BUF_INIT;
    static const char big[] = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu";

    gw_rdp_conf_defaults(&c);
    c.clipboard_max = 16;
    gw_rdp_configure(&c);
    t = open_xrdp(&lab);
    /* desktop -> browser: cut to the limit at a character boundary ("\xc3\xa9" is 2) */
    for (int i = 0; i < 8 && !got; i++) {
        ck_assert_int_eq(lab_clip_copy(&lab, "abcdefghijklmn\xc3\xa9xyz"), 0);
        got = browser_clipboard_wait(t, 1000);
    }
    ck_assert_msg(got != NULL, "no clipboard stream reached the browser");
    ck_assert_str_eq(got, "abcdefghijklmn\xc3\xa9");
    free(got);
    /* browser -> desktop: more than the limit closes the tunnel with the reason */
    pt_buf_appendf(&msg, "9.clipboard,1.3,10.text/plain;4.blob,1.3");
    guac_enc_base64(&msg, big, strlen(big));
    pt_buf_appendf(&msg, ";");
    ck_assert_int_eq(h_send(t, ops, msg.data, reason, sizeof(reason)), -1);
    ck_assert_msg(strstr(reason, "clipboard"), "reason: %s", reason);
    pt_buf_fini(&msg);
    close_all(t, &lab);
}
END_TEST

/* The X screen's size as "WxH" from xdpyinfo ("dimensions:    800x600 pixels"). */
static void
desktop_size(struct lab_shadow *lab, char *out, size_t len)
{
    char path[] = "/tmp/rdpsize-XXXXXX";
    int fd = mkstemp(path);
    char *argv[] = {"xdpyinfo", NULL};
    char line[512];
    FILE *f;

    ck_assert_int_ge(fd, 0);
    close(fd);
    out[0] = 0;
    lab_x(lab, path, argv);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        char dim[64];
        if (sscanf(line, " dimensions: %63s", dim) == 1) {
            pt_strlcpy(out, dim, len);
            break;
        }
    }
    if (f)
        fclose(f);
    unlink(path);
}

/* Poll the X screen's size until it is @want or @timeout_ms passed; leaves it in @out. */
static void
desktop_size_wait(struct lab_shadow *lab, const char *want, char *out, size_t len, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        desktop_size(lab, out, len);
        if (!strcmp(out, want))
            return;
        usleep(100000);
    }
}

/* The local port of the established TCP connection to 127.0.0.1:@port made by the
 * session (the only client of that server), from /proc/net/tcp; -1 if none. */
static int
rdp_client_port(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int found = -1;

    while (f && fgets(line, sizeof(line), f)) {
        unsigned laddr, lport, raddr, rport, st;
        if (sscanf(line, " %*d: %x:%x %x:%x %x", &laddr, &lport, &raddr, &rport, &st) == 5 &&
            st == 1 && (int)rport == port && raddr == 0x0100007F)
            found = (int)lport;
    }
    if (f)
        fclose(f);
    return found;
}

static void
resize_case(bool by_reconnect)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    struct h_insn in;
    char dim[64];
    bool seen = false;

    int before;

    configure_full(GW_RDP_CLIP_BOTH, by_reconnect);
    t = open_xrdp(&lab);
    /* xrdp sizes the Xvnc to the client: the backend's default 1280x800 */
    desktop_size_wait(&lab, "1280x800", dim, sizeof(dim), 5000);
    ck_assert_str_eq(dim, "1280x800");
    before = rdp_client_port(lab.port);
    ck_assert_int_gt(before, 0);
    /* a window being dragged: only the last size counts */
    ck_assert_int_eq(h_send(t, ops, "4.size,3.700,3.500;", NULL, 0), 0);
    ck_assert_int_eq(h_send(t, ops, "4.size,3.800,3.600;", NULL, 0), 0);
    while (!seen && h_wait_op(t, ops, "size", &in, 15000) == 0) {
        seen = in.argc == 3 && !strcmp(in.argv[0], "0");
        if (seen) {
            ck_assert_str_eq(in.argv[1], "800");
            ck_assert_str_eq(in.argv[2], "600");
        }
        h_insn_fini(&in);
    }
    ck_assert_msg(seen, "no size instruction for the default layer after a resize");
    desktop_size_wait(&lab, "800x600", dim, sizeof(dim), 5000);
    ck_assert_str_eq(dim, "800x600");
    /* in place over the display-control channel the RDP connection stays the same; the
     * fallback reconnects (a new client port) */
    if (by_reconnect)
        ck_assert_int_ne(rdp_client_port(lab.port), before);
    else
        ck_assert_int_eq(rdp_client_port(lab.port), before);
    /* and the session still draws at the new size */
    {
        char *red[] = {"xsetroot", "-solid", "red", NULL};
        bool red_seen = false;

        ck_assert_int_eq(lab_x(&lab, NULL, red), 0);
        while (!red_seen && h_wait_op(t, ops, "cfill", &in, 10000) == 0) {
            red_seen = in.argc >= 6 && !strcmp(in.argv[2], "255") && !strcmp(in.argv[3], "0");
            h_insn_fini(&in);
        }
        ck_assert_msg(red_seen, "no drawing after the resize");
    }
    close_all(t, &lab);
}

START_TEST(test_browser_size_resizes_the_desktop_in_place_over_the_display_channel)
{
    resize_case(false);
}
END_TEST

START_TEST(test_browser_size_resizes_the_desktop_by_reconnecting_without_the_channel)
{
    resize_case(true);
}
END_TEST

/* A session to freerdp-shadow on @port for desktop/pool @scope; returns the first
 * instruction that tells how it went: "sync" (drawing) or "error" (in @in). */
static struct gw_tunnel *
open_scoped(int port, const char *scope, struct h_insn *in)
{
    struct auth_ticket_claims c;
    struct gw_tunnel *t = h_tunnel_new();
    struct pt_err err;

    memset(&c, 0, sizeof(c));
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    snprintf(c.desktop, sizeof(c.desktop), "%s", scope);
    c.port = port;
    ops = gw_rdp_backend();
    ck_assert_msg(ops->open(t, &c, NULL, &err) == 0, "open: %s", err.msg);
    for (;;) {
        ck_assert_int_eq(h_next(t, in, 15000), 0);
        if (!strcmp(in->op, "sync") || !strcmp(in->op, "error"))
            return t;
        h_insn_fini(in);
    }
}

static void
close_only(struct gw_tunnel *t)
{
    ops->close(t);
    h_tunnel_free(t);
}

START_TEST(test_certificate_is_trusted_on_first_use_and_a_changed_one_refused)
{
    struct lab_shadow lab;
    struct gw_rdp_conf c;
    struct gw_tunnel *t;
    struct h_insn in;
    struct pt_err err;
    char dir[] = "/tmp/rdptrust-XXXXXX", path[512], fp[128] = "";
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    gw_rdp_conf_defaults(&c);
    c.ignore_cert = false;
    snprintf(c.cert_trust_dir, sizeof(c.cert_trust_dir), "%s/rdp-trust", dir);
    gw_rdp_configure(&c);
    ck_assert_msg(lab_shadow_start(&lab, 320, 240, &err) == 0, "%s", err.msg);
    /* first use: accepted (shadow's certificate is self-signed) and remembered */
    t = open_scoped(lab.port, "pool-a", &in);
    ck_assert_str_eq(in.op, "sync");
    h_insn_fini(&in);
    close_only(t);
    snprintf(path, sizeof(path), "%s/pool-a@127.0.0.1:%d", c.cert_trust_dir, lab.port);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no trust file %s", path);
    ck_assert_ptr_nonnull(fgets(fp, sizeof(fp), f));
    fclose(f);
    ck_assert_uint_eq(strlen(fp), 65); /* SHA-256 hex + newline */
    /* the same certificate again: accepted */
    t = open_scoped(lab.port, "pool-a", &in);
    ck_assert_str_eq(in.op, "sync");
    h_insn_fini(&in);
    close_only(t);
    /* the desktop now shows another certificate than the stored one: refused in words */
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%064d\n", 0);
    fclose(f);
    t = open_scoped(lab.port, "pool-a", &in);
    ck_assert_str_eq(in.op, "error");
    ck_assert_msg(strstr(in.argv[0], "certificate") && strstr(in.argv[0], "changed") &&
                      strstr(in.argv[0], "127.0.0.1"),
                  "reason: %s", in.argv[0]);
    ck_assert_str_eq(in.argv[1], "515"); /* 0x0203 UPSTREAM_ERROR */
    h_insn_fini(&in);
    close_only(t);
    /* trust is per pool: another pool's first use is its own */
    t = open_scoped(lab.port, "pool-b", &in);
    ck_assert_str_eq(in.op, "sync");
    h_insn_fini(&in);
    close_only(t);
    lab_shadow_stop(&lab);
    {
        char *rm[] = {"rm", "-rf", dir, NULL};
        lab_x(&lab, NULL, rm);
    }
}
END_TEST

START_TEST(test_a_server_that_keeps_its_size_is_reconnected_once_not_per_resize)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    struct h_insn in;
    struct pt_err err;
    int first, second;

    configure(GW_RDP_CLIP_BOTH);
    ck_assert_msg(lab_shadow_start(&lab, 320, 240, &err) == 0, "%s", err.msg);
    t = open_scoped(lab.port, "", &in);
    ck_assert_str_eq(in.op, "sync");
    h_insn_fini(&in);
    first = rdp_client_port(lab.port);
    ck_assert_int_gt(first, 0);
    /* freerdp-shadow has no display channel: one reconnect, back at its own size */
    ck_assert_int_eq(h_send(t, ops, "4.size,3.800,3.600;", NULL, 0), 0);
    ck_assert_int_eq(h_wait_op(t, ops, "size", &in, 10000), 0);
    ck_assert_str_eq(in.argv[1], "320");
    ck_assert_str_eq(in.argv[2], "240");
    h_insn_fini(&in);
    second = rdp_client_port(lab.port);
    ck_assert_int_gt(second, 0);
    ck_assert_int_ne(second, first);
    /* the next drag costs nothing: the same connection after debounce + a reconnect's time */
    ck_assert_int_eq(h_send(t, ops, "4.size,3.700,3.500;", NULL, 0), 0);
    usleep(1500 * 1000);
    ck_assert_int_eq(rdp_client_port(lab.port), second);
    close_only(t);
    lab_shadow_stop(&lab);
}
END_TEST

/* Apply every instruction for @ms to @cv (echoing "sync" like a browser); returns how
 * many "size" instructions for layer 0 arrived. */
static int
draw_for(struct gw_tunnel *t, struct h_canvas *cv, int ms)
{
    struct h_insn in;
    int sizes = 0;

    for (int waited = 0; waited < ms; waited += 50) {
        while (h_next(t, &in, 0) == 0) {
            if (!strcmp(in.op, "sync") && in.argc >= 1) {
                char echo[64];
                snprintf(echo, sizeof(echo), "4.sync,%zu.%s;", strlen(in.argv[0]), in.argv[0]);
                h_send(t, ops, echo, NULL, 0);
            }
            ck_assert_msg(strcmp(in.op, "error") != 0, "error: %s", in.argc ? in.argv[0] : "");
            if (!strcmp(in.op, "size") && in.argc == 3 && !strcmp(in.argv[0], "0"))
                sizes++;
            ck_assert_int_eq(h_canvas_apply(cv, &in), 0);
            h_insn_fini(&in);
        }
        usleep(50 * 1000);
    }
    return sizes;
}

/* The demo's case: xrdp in front of a QEMU guest's VNC, whose screen (SeaBIOS) cannot
 * change size. xrdp refuses the browser's layout and resizes the client back; the
 * browser must end at the server's size with the picture, not a black canvas. */
START_TEST(test_a_size_the_vnc_server_refuses_leaves_the_browser_at_the_server_size_drawn)
{
    struct pt_err err;
    struct tf_guest *g;
    struct tf_rdp *rdp;
    struct auth_ticket_claims c;
    struct gw_tunnel *t = h_tunnel_new();
    struct h_canvas cv;
    int w0, h0, port, before;
    size_t lit0, lit;

    configure(GW_RDP_CLIP_BOTH);
    g = tf_guest_start("rdpvncsize", 0, &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    rdp = tf_rdp_xrdp_vnc_start(tf_guest_vnc_port(g), &err);
    ck_assert_msg(rdp != NULL, "%s", err.msg);
    port = tf_rdp_port(rdp);
    memset(&c, 0, sizeof(c));
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.port = port;
    ops = gw_rdp_backend();
    ck_assert_msg(ops->open(t, &c, "na\nsecret-pw", &err) == 0, "open: %s", err.msg);
    h_canvas_init(&cv);
    /* the first picture: the guest's screen, at the size xrdp settles on */
    for (int i = 0; i < 100 && h_canvas_lit(&cv) < 200; i++)
        draw_for(t, &cv, 200);
    draw_for(t, &cv, 1500); /* xrdp's own resize to the VNC size, if any, settles */
    w0 = cv.w;
    h0 = cv.h;
    lit0 = h_canvas_lit(&cv);
    ck_assert_msg(lit0 >= 200, "the guest's screen never showed (%zu lit pixels at %dx%d)", lit0,
                  w0, h0);
    before = rdp_client_port(port);
    ck_assert_int_gt(before, 0);
    /* a browser window whose size the VNC server cannot take */
    ck_assert_int_eq(h_send(t, ops, "4.size,4.1024,3.723;", NULL, 0), 0);
    draw_for(t, &cv, 4000);
    ck_assert_msg(cv.w == w0 && cv.h == h0, "browser at %dx%d, the server's screen is %dx%d", cv.w,
                  cv.h, w0, h0);
    lit = h_canvas_lit(&cv);
    ck_assert_msg(lit * 2 >= lit0, "the browser's picture went black: %zu lit pixels, was %zu", lit,
                  lit0);
    /* and the backend does not keep asking: the same size again changes nothing */
    ck_assert_int_eq(h_send(t, ops, "4.size,4.1024,3.723;", NULL, 0), 0);
    ck_assert_int_eq(draw_for(t, &cv, 2000), 0);
    ck_assert_int_eq(rdp_client_port(port), before);
    ck_assert_msg(h_canvas_lit(&cv) * 2 >= lit0, "picture went black after the second size");
    ops->close(t);
    h_tunnel_free(t);
    h_canvas_fini(&cv);
    tf_rdp_stop(rdp);
    tf_guest_stop(g);
}
END_TEST

/* The demo's exact order: no credentials, so xrdp shows its login box and takes the
 * browser's layout itself; Enter connects the QEMU VNC, which cannot take that size, and
 * xrdp resizes the client to the VNC screen. The new (black) surface must be repainted. */
START_TEST(test_after_xrdp_login_the_vnc_screen_size_is_taken_and_drawn)
{
    struct pt_err err;
    struct tf_guest *g;
    struct tf_rdp *rdp;
    struct auth_ticket_claims c;
    struct gw_tunnel *t = h_tunnel_new();
    struct h_canvas cv;
    size_t lit = 0;

    configure(GW_RDP_CLIP_BOTH);
    g = tf_guest_start("rdpvnclogin", 0, &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    rdp = tf_rdp_xrdp_vnc_start(tf_guest_vnc_port(g), &err);
    ck_assert_msg(rdp != NULL, "%s", err.msg);
    memset(&c, 0, sizeof(c));
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.port = tf_rdp_port(rdp);
    ops = gw_rdp_backend();
    ck_assert_msg(ops->open(t, &c, NULL, &err) == 0, "open: %s", err.msg);
    h_canvas_init(&cv);
    for (int i = 0; i < 75 && cv.images == 0; i++)
        draw_for(t, &cv, 200); /* the login box */
    ck_assert_int_gt(cv.images, 0);
    ck_assert_int_eq(h_send(t, ops, "4.size,4.1024,3.723;", NULL, 0), 0);
    draw_for(t, &cv, 2000);
    ck_assert_msg(cv.w == 1024 && cv.h == 723, "the login box did not take the layout: %dx%d", cv.w,
                  cv.h);
    /* Enter on the login box's OK: xrdp connects the VNC server */
    ck_assert_int_eq(h_send(t, ops, "3.key,5.65293,1.1;", NULL, 0), 0);
    ck_assert_int_eq(h_send(t, ops, "3.key,5.65293,1.0;", NULL, 0), 0);
    for (int i = 0; i < 40 && (cv.w == 1024 || (lit = h_canvas_lit(&cv)) < 200); i++)
        draw_for(t, &cv, 250);
    ck_assert_msg(cv.w != 1024 || cv.h != 723, "still at the layout the VNC server refused");
    ck_assert_msg(lit >= 200, "the browser's picture of the %dx%d VNC screen is black (%zu lit)",
                  cv.w, cv.h, lit);
    ops->close(t);
    h_tunnel_free(t);
    h_canvas_fini(&cv);
    tf_rdp_stop(rdp);
    tf_guest_stop(g);
}
END_TEST

/* xrdp with allow_channels=false joins none of the channels asked for; FreeRDP 2.11 then
 * fails the connection. The session retries once without its optional channels, says
 * which features are off, and draws. */
START_TEST(test_a_server_that_joins_no_channels_is_reached_without_them)
{
    struct lab_shadow lab;
    struct pt_err err;
    struct auth_ticket_claims c;
    struct gw_tunnel *t = h_tunnel_new();
    struct gw_rdp_metrics m0, m1;
    struct h_insn in;
    bool off_clip = false, off_audio = false, off_disp = false, drawn = false;
    int64_t end;

    configure(GW_RDP_CLIP_BOTH);
    gw_rdp_metrics_get(&m0);
    ck_assert_msg(lab_xrdp_strict_start(&lab, 640, 480, &err) == 0, "%s", err.msg);
    memset(&c, 0, sizeof(c));
    c.audio = true; /* the pool allows sound, as a ticket does by default */
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.port = lab.port;
    ops = gw_rdp_backend();
    ck_assert_msg(ops->open(t, &c, "na\nsecret-pw", &err) == 0, "open: %s", err.msg);
    end = pt_time_mono_ms() + 20000;
    while (!drawn && pt_time_mono_ms() < end) {
        if (h_next(t, &in, 200) < 0)
            continue;
        if (!strcmp(in.op, "error"))
            ck_abort_msg("error: %s", in.argc ? in.argv[0] : "");
        if (!strcmp(in.op, "channels-off")) {
            for (int i = 0; i < in.argc; i++) {
                off_clip |= !strcmp(in.argv[i], "clipboard");
                off_audio |= !strcmp(in.argv[i], "audio");
                off_disp |= !strcmp(in.argv[i], "display-control");
            }
        }
        if (!strcmp(in.op, "img") || !strcmp(in.op, "rect"))
            drawn = true;
        h_insn_fini(&in);
    }
    ck_assert_msg(drawn, "nothing drawn after the retry");
    ck_assert_msg(off_clip && off_audio && off_disp, "channels-off: clip=%d audio=%d disp=%d",
                  off_clip, off_audio, off_disp);
    gw_rdp_metrics_get(&m1);
    ck_assert_uint_eq(m1.channel_retries, m0.channel_retries + 1);
    ops->close(t);
    h_tunnel_free(t);
    lab_shadow_stop(&lab);
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

Suite *gateway_rdp_channels_suite(void);
Suite *
gateway_rdp_channels_suite(void)
{
    Suite *s = suite_create("gateway_rdp_channels");
    TCase *tc = tcase_create("clipboard");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_desktop_clipboard_text_reaches_the_browser_as_utf8);
    tcase_add_test(tc, test_browser_clipboard_text_reaches_the_desktop_selection);
    tcase_add_test(tc, test_clipboard_policy_to_desktop_keeps_desktop_text_from_the_browser);
    tcase_add_test(tc, test_clipboard_policy_none_keeps_browser_text_off_the_desktop);
    tcase_add_test(tc, test_clipboard_over_the_size_limit_is_cut_or_refused);
    tcase_add_test(tc, test_a_server_that_joins_no_channels_is_reached_without_them);
    suite_add_tcase(s, tc);
    tc = tcase_create("resize");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_browser_size_resizes_the_desktop_in_place_over_the_display_channel);
    tcase_add_test(tc, test_browser_size_resizes_the_desktop_by_reconnecting_without_the_channel);
    suite_add_tcase(s, tc);
    /* the same sessions on threads inside this process */
    tc = tcase_create("thread_mode");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, setup_thread_mode, teardown_thread_mode);
    tcase_add_test(tc, test_desktop_clipboard_text_reaches_the_browser_as_utf8);
    tcase_add_test(tc, test_browser_clipboard_text_reaches_the_desktop_selection);
    tcase_add_test(tc, test_browser_size_resizes_the_desktop_in_place_over_the_display_channel);
    tcase_add_test(tc, test_browser_size_resizes_the_desktop_by_reconnecting_without_the_channel);
    suite_add_tcase(s, tc);
    tc = tcase_create("trust");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_certificate_is_trusted_on_first_use_and_a_changed_one_refused);
    tcase_add_test(tc, test_a_server_that_keeps_its_size_is_reconnected_once_not_per_resize);
    suite_add_tcase(s, tc);
    /* a real QEMU guest's VNC behind xrdp: the demo's RDP pool */
    tc = tcase_create("vnc_guest");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc,
                   test_a_size_the_vnc_server_refuses_leaves_the_browser_at_the_server_size_drawn);
    tcase_add_test(tc, test_after_xrdp_login_the_vnc_screen_size_is_taken_and_drawn);
    suite_add_tcase(s, tc);
    return s;
}
