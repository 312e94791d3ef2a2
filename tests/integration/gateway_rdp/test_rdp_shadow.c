/*
 * test_rdp_shadow.c - the RDP backend against a real RDP server: Xvfb + freerdp-shadow-cli
 * on loopback, driven through the test harness tunnel (harness.h) playing the browser.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"
#include "rdp.h"
#include "rdp_lab.h"
#include "rdp_priv.h"

static const struct gw_backend_ops *ops;

static struct gw_tunnel *
open_tunnel(int port)
{
    struct auth_ticket_claims c;
    struct gw_tunnel *t = h_tunnel_new();
    struct pt_err err;

    memset(&c, 0, sizeof(c));
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.port = port;
    c.proto = AUTH_PROTO_RDP;
    ops = gw_rdp_backend();
    ck_assert_msg(ops->open(t, &c, NULL, &err) == 0, "open: %s", err.msg);
    return t;
}

static void
close_tunnel(struct gw_tunnel *t)
{
    ops->close(t);
    h_tunnel_free(t);
}

static void
start_shadow(struct lab_shadow *s, int w, int h)
{
    struct pt_err err;

    ck_assert_msg(lab_shadow_start(s, w, h, &err) == 0, "%s", err.msg);
}

/* Read up to the first "sync", counting drawing instructions; echo the sync. */
static int
first_frame(struct gw_tunnel *t, int *draws)
{
    struct h_insn in;

    *draws = 0;
    for (;;) {
        if (h_next(t, &in, 15000) < 0)
            return -1;
        if (!strcmp(in.op, "img") || !strcmp(in.op, "cfill"))
            (*draws)++;
        if (!strcmp(in.op, "error"))
            ck_abort_msg("error from the backend: %s", in.argv[0]);
        if (!strcmp(in.op, "sync")) {
            char echo[64];
            snprintf(echo, sizeof(echo), "4.sync,%zu.%s;", strlen(in.argv[0]), in.argv[0]);
            h_send(t, ops, echo, NULL, 0);
            h_insn_fini(&in);
            return 0;
        }
        h_insn_fini(&in);
    }
}

START_TEST(test_browser_receives_tunnel_uuid_size_and_first_image)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    struct h_insn in;
    int draws;

    start_shadow(&lab, 640, 480);
    t = open_tunnel(lab.port);
    ck_assert_int_eq(h_next(t, &in, 5000), 0);
    ck_assert_str_eq(in.op, ""); /* WebSocketTunnel's UUID instruction comes first */
    ck_assert_int_eq(in.argc, 1);
    ck_assert_uint_eq(strlen(in.argv[0]), 36);
    h_insn_fini(&in);
    ck_assert_int_eq(h_wait_op(t, ops, "size", &in, 15000), 0);
    ck_assert_str_eq(in.argv[0], "0");
    ck_assert_str_eq(in.argv[1], "640");
    ck_assert_str_eq(in.argv[2], "480");
    h_insn_fini(&in);
    ck_assert_int_eq(first_frame(t, &draws), 0);
    ck_assert_int_gt(draws, 0);
    {
        /* the frame is counted in the gateway's metrics (sent over from a worker process) */
        struct gw_rdp_metrics m;
        for (int i = 0; i < 100; i++) {
            gw_rdp_metrics_get(&m);
            if (m.frames >= 1 && m.sessions_connected == 1)
                break;
            usleep(20000);
        }
        ck_assert_uint_ge(m.frames, 1);
        ck_assert_uint_ge(m.bytes, 100);
        ck_assert_uint_eq(m.sessions_connected, 1);
    }
    /* the tunnel ping is answered, as guacamole's own servlet does */
    ck_assert_int_eq(h_send(t, ops, "0.,4.ping,13.1700000000000;", NULL, 0), 0);
    ck_assert_int_eq(h_wait_op(t, ops, "", &in, 5000), 0);
    ck_assert_str_eq(in.argv[0], "ping");
    ck_assert_str_eq(in.argv[1], "1700000000000");
    h_insn_fini(&in);
    close_tunnel(t);
    lab_shadow_stop(&lab);
}
END_TEST

/* Wait for a fill of the given colour (rect + cfill from a solid screen). */
static int
wait_fill(struct gw_tunnel *t, const char *r, const char *g, const char *b, int timeout_ms)
{
    struct h_insn in;

    while (h_wait_op(t, ops, "cfill", &in, timeout_ms) == 0) {
        bool hit = in.argc >= 6 && !strcmp(in.argv[2], r) && !strcmp(in.argv[3], g) &&
                   !strcmp(in.argv[4], b);
        h_insn_fini(&in);
        if (hit)
            return 0;
    }
    return -1;
}

START_TEST(test_screen_changes_reach_the_browser)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    int draws;
    char *red[] = {"xsetroot", "-solid", "red", NULL};
    char *blue[] = {"xsetroot", "-solid", "#0000ff", NULL};

    start_shadow(&lab, 640, 480);
    t = open_tunnel(lab.port);
    ck_assert_int_eq(first_frame(t, &draws), 0);
    ck_assert_int_eq(lab_x(&lab, NULL, red), 0);
    ck_assert_msg(wait_fill(t, "255", "0", "0", 10000) == 0, "no red fill after xsetroot");
    ck_assert_int_eq(lab_x(&lab, NULL, blue), 0);
    ck_assert_msg(wait_fill(t, "0", "0", "255", 10000) == 0, "no blue fill after xsetroot");
    close_tunnel(t);
    lab_shadow_stop(&lab);
}
END_TEST

static bool
wait_file_has(const char *path, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        FILE *f = fopen(path, "r");
        char line[512];
        bool hit = false;

        if (f) {
            while (!hit && fgets(line, sizeof(line), f))
                hit = strstr(line, needle) != NULL;
            fclose(f);
        }
        if (hit)
            return true;
        usleep(50000);
    }
    return false;
}

START_TEST(test_mouse_and_keys_reach_the_desktop)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    struct tf_proc xev;
    struct pt_err err;
    char dispenv[32];
    int draws;
    char *argv[] = {"xev",    "-geometry", "300x200+0+0", "-event",    "keyboard",
                    "-event", "button",    "-event",      "structure", NULL};
    char *envp[] = {dispenv, "PATH=/usr/bin:/bin", NULL};

    start_shadow(&lab, 640, 480);
    snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", lab.display_str);
    ck_assert_msg(tf_proc_spawn(&xev, "xev", argv, envp, &err) == 0, "%s", err.msg);
    ck_assert_msg(wait_file_has(xev.log_path, "MapNotify", 5000), "xev window not mapped");
    t = open_tunnel(lab.port);
    ck_assert_int_eq(first_frame(t, &draws), 0);
    /* point into xev's window (no window manager: focus follows the pointer), click, type */
    ck_assert_int_eq(h_send(t, ops, "5.mouse,2.50,2.60,1.0;", NULL, 0), 0);
    ck_assert_int_eq(h_send(t, ops, "5.mouse,2.50,2.60,1.1;", NULL, 0), 0);
    ck_assert_int_eq(h_send(t, ops, "5.mouse,2.50,2.60,1.0;", NULL, 0), 0);
    ck_assert_int_eq(h_send(t, ops, "3.key,3.113,1.1;", NULL, 0), 0); /* 'q' */
    ck_assert_int_eq(h_send(t, ops, "3.key,3.113,1.0;", NULL, 0), 0);
    ck_assert_int_eq(h_send(t, ops, "3.key,5.65293,1.1;", NULL, 0), 0); /* Return */
    ck_assert_int_eq(h_send(t, ops, "3.key,5.65293,1.0;", NULL, 0), 0);
    ck_assert_msg(wait_file_has(xev.log_path, "ButtonPress", 5000), "click not seen by xev");
    ck_assert_msg(wait_file_has(xev.log_path, "keysym 0x71, q", 5000), "'q' not seen by xev");
    ck_assert_msg(wait_file_has(xev.log_path, "Return", 5000), "Return not seen by xev");
    close_tunnel(t);
    tf_proc_stop(&xev, 500);
    lab_shadow_stop(&lab);
}
END_TEST

/* Hostile or malformed browser messages and the reason the tunnel closes with. */
static const struct {
    const char *msg;
    const char *reason;
} hostile[] = {
    {"5.mouse,1.x,1.1,1.0;", "not an integer"},
    {"3.foo;", "unknown opcode"},
    {"4.size,20.99999999999999999999,3.100;", "not an integer"},
    {"3.key,5.65307,1.2;", "not an integer"},
    {"3.ack,1.1,1.\xff,1.0;", "invalid UTF-8"},
    {"5.mouse,2.10,2.10,1.0", "ends inside an instruction"},
    {"9999999.x;", "too many digits"},
    {"5.mouse,1.1,1.1;", "arguments"},
    {"0.,3.foo;", "unknown tunnel instruction"},
};

START_TEST(test_hostile_instructions_close_the_tunnel_with_a_reason)
{
    struct lab_shadow lab;
    struct h_insn in;
    int draws;

    start_shadow(&lab, 320, 240);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        struct gw_tunnel *t = open_tunnel(lab.port);
        char reason[256];

        ck_assert_int_eq(first_frame(t, &draws), 0);
        ck_assert_int_eq(h_send(t, ops, hostile[i].msg, reason, sizeof(reason)), -1);
        ck_assert_msg(strstr(reason, hostile[i].reason), "case %zu: reason '%s', want '%s'", i,
                      reason, hostile[i].reason);
        /* the browser is told why before the tunnel closes */
        ck_assert_int_eq(h_wait_op(t, ops, "error", &in, 5000), 0);
        ck_assert(strstr(in.argv[0], hostile[i].reason) != NULL);
        h_insn_fini(&in);
        close_tunnel(t);
    }
    lab_shadow_stop(&lab);
}
END_TEST

START_TEST(test_unreachable_desktop_is_reported_in_words)
{
    struct gw_tunnel *t = open_tunnel(tf_free_port());
    struct h_insn in;
    char reason[256];

    ck_assert_int_eq(h_wait_op(t, ops, "error", &in, 15000), 0);
    ck_assert_msg(strstr(in.argv[0], "cannot be reached") != NULL, "%s", in.argv[0]);
    ck_assert_str_eq(in.argv[1], "519"); /* 0x0207 UPSTREAM_NOT_FOUND */
    h_insn_fini(&in);
    /* the next browser message closes the tunnel with the same sentence */
    ck_assert_int_eq(h_send(t, ops, "3.nop;", reason, sizeof(reason)), -1);
    ck_assert(strstr(reason, "cannot be reached") != NULL);
    close_tunnel(t);
}
END_TEST

START_TEST(test_a_dying_desktop_ends_only_its_own_session)
{
    struct lab_shadow a, b;
    struct gw_tunnel *ta, *tb;
    struct h_insn in;
    int draws;
    char *green[] = {"xsetroot", "-solid", "#00ff00", NULL};

    start_shadow(&a, 320, 240);
    start_shadow(&b, 320, 240);
    ta = open_tunnel(a.port);
    tb = open_tunnel(b.port);
    ck_assert_int_eq(first_frame(ta, &draws), 0);
    ck_assert_int_eq(first_frame(tb, &draws), 0);
    {
        int pid = lab_server_pid(a.port); /* the RDP server of session A dies mid-session */
        ck_assert_int_gt(pid, 0);
        kill(pid, SIGKILL);
    }
    ck_assert_int_eq(h_wait_op(ta, ops, "error", &in, 10000), 0);
    h_insn_fini(&in);
    ck_assert_int_eq(lab_x(&b, NULL, green), 0);
    ck_assert_msg(wait_fill(tb, "0", "255", "0", 10000) == 0, "session B stopped updating");
    close_tunnel(ta);
    close_tunnel(tb);
    lab_shadow_stop(&a);
    lab_shadow_stop(&b);
}
END_TEST

START_TEST(test_killing_one_session_process_leaves_the_others_running)
{
    struct lab_shadow lab;
    struct gw_tunnel *ta, *tb;
    struct h_insn in;
    int draws, pid;
    char *yellow[] = {"xsetroot", "-solid", "#ffff00", NULL};

    start_shadow(&lab, 320, 240);
    ta = open_tunnel(lab.port);
    tb = open_tunnel(lab.port);
    ck_assert_int_eq(first_frame(ta, &draws), 0);
    ck_assert_int_eq(first_frame(tb, &draws), 0);
    pid = rdp_backend_worker_pid(ta);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_ne(pid, rdp_backend_worker_pid(tb));
    ck_assert_int_ne(pid, getpid());
    kill(pid, SIGKILL); /* what a FreeRDP crash does to its process */
    ck_assert_int_eq(h_wait_op(ta, ops, "error", &in, 10000), 0);
    ck_assert_msg(strstr(in.argv[0], "stopped unexpectedly") != NULL, "%s", in.argv[0]);
    h_insn_fini(&in);
    ck_assert_int_eq(lab_x(&lab, NULL, yellow), 0);
    ck_assert_msg(wait_fill(tb, "255", "255", "0", 10000) == 0, "session B stopped updating");
    close_tunnel(ta);
    close_tunnel(tb);
    lab_shadow_stop(&lab);
}
END_TEST

START_TEST(test_untrusted_certificate_is_refused_in_words)
{
    struct lab_shadow lab;
    struct gw_rdp_conf conf;
    struct gw_tunnel *t;
    struct h_insn in;

    gw_rdp_conf_defaults(&conf);
    conf.ignore_cert = false; /* nothing trusted: shadow's self-signed certificate fails */
    gw_rdp_configure(&conf);
    start_shadow(&lab, 320, 240);
    t = open_tunnel(lab.port);
    ck_assert_int_eq(h_wait_op(t, ops, "error", &in, 15000), 0);
    ck_assert_msg(strstr(in.argv[0], "certificate") != NULL, "%s", in.argv[0]);
    h_insn_fini(&in);
    close_tunnel(t);
    lab_shadow_stop(&lab);
}
END_TEST

/* Count "sync"s arriving within @ms without echoing them (a browser that stopped drawing). */
static int
count_frames_no_echo(struct gw_tunnel *t, int ms, char *last_fill, size_t n)
{
    struct h_insn in;
    int frames = 0;

    while (h_next(t, &in, ms) == 0) {
        if (!strcmp(in.op, "sync"))
            frames++;
        if (!strcmp(in.op, "cfill") && in.argc >= 6 && last_fill)
            snprintf(last_fill, n, "%s,%s,%s", in.argv[2], in.argv[3], in.argv[4]);
        h_insn_fini(&in);
        ms = 300;
    }
    return frames;
}

START_TEST(test_a_lagging_browser_gets_combined_frames_not_a_queue)
{
    static const char *colours[] = {"red",   "green", "blue",   "yellow", "cyan",  "magenta",
                                    "white", "gray",  "orange", "purple", "brown", "pink"};
    struct lab_shadow lab;
    struct gw_tunnel *t;
    struct gw_rdp_metrics m;
    char last[64] = "";
    int draws, frames;

    start_shadow(&lab, 320, 240);
    t = open_tunnel(lab.port);
    ck_assert_int_eq(first_frame(t, &draws), 0); /* echoed: the browser is in sync */
    /* the browser stops echoing; the desktop keeps changing */
    for (size_t i = 0; i < sizeof(colours) / sizeof(colours[0]); i++) {
        char *argv[] = {"xsetroot", "-solid", (char *)colours[i], NULL};
        ck_assert_int_eq(lab_x(&lab, NULL, argv), 0);
        usleep(150000);
    }
    frames = count_frames_no_echo(t, 1500, NULL, 0);
    ck_assert_msg(frames <= 6, "%d frames sent to a browser that echoed none", frames);
    gw_rdp_metrics_get(&m);
    ck_assert_uint_gt(m.frames_held, 0);
    /* input floods coalesce instead of queueing */
    for (int i = 0; i < 5000; i++) {
        char msg[64];
        snprintf(msg, sizeof(msg), "5.mouse,2.%d,2.%d,1.0;", 10 + i % 90, 10 + i % 80);
        ck_assert_int_eq(h_send(t, ops, msg, NULL, 0), 0);
    }
    /* the browser catches up: an echo as new as every frame sent releases the held
     * changes,
     * combined into frames that end on the last colour (pink = 255,192,203) */
    ck_assert_int_eq(h_send(t, ops, "4.sync,16.9007199254740991;", NULL, 0), 0);
    count_frames_no_echo(t, 3000, last, sizeof(last));
    ck_assert_str_eq(last, "255,192,203");
    close_tunnel(t);
    lab_shadow_stop(&lab);
}
END_TEST

START_TEST(test_a_stalled_worker_costs_mouse_moves_not_the_session)
{
    struct lab_shadow lab;
    struct gw_tunnel *t;
    int draws, pid;
    char out[512];
    char *loc[] = {"xdotool", "getmouselocation", NULL};
    bool there = false;

    start_shadow(&lab, 320, 240);
    t = open_tunnel(lab.port);
    ck_assert_int_eq(first_frame(t, &draws), 0);
    pid = rdp_backend_worker_pid(t);
    ck_assert_int_gt(pid, 0);
    kill(pid, SIGSTOP); /* the worker stops reading its socket */
    for (int i = 0; i < 20000; i++) {
        char msg[64];
        snprintf(msg, sizeof(msg), "5.mouse,2.%d,2.%d,1.0;", 10 + i % 80, 10 + i % 70);
        ck_assert_int_eq(h_send(t, ops, msg, NULL, 0), 0);
    }
    ck_assert_int_eq(h_send(t, ops, "5.mouse,2.77,2.66,1.0;", NULL, 0), 0);
    kill(pid, SIGCONT);
    usleep(300000); /* the worker drains its socket */
    /* the next event (here a sync echo) takes the newest move along */
    ck_assert_int_eq(h_send(t, ops, "4.sync,1.1;", NULL, 0), 0);
    snprintf(out, sizeof(out), "%s/xdotool-%d.out", tf_tmpdir(), getpid());
    for (int i = 0; i < 50 && !there; i++) {
        FILE *f;
        char line[256] = "";
        ck_assert_int_eq(lab_x(&lab, out, loc), 0);
        f = fopen(out, "r");
        if (f && fgets(line, sizeof(line), f))
            there = strncmp(line, "x:77 y:66 ", 10) == 0;
        if (f)
            fclose(f);
        if (!there)
            usleep(100000);
    }
    ck_assert_msg(there, "the desktop pointer did not end at 77,66");
    close_tunnel(t);
    lab_shadow_stop(&lab);
}
END_TEST

START_TEST(test_nla_signs_in_with_the_secret_and_refuses_a_wrong_password_in_words)
{
    struct lab_shadow lab;
    struct pt_err err;
    struct auth_ticket_claims c;
    struct gw_tunnel *t;
    struct h_insn in;
    int draws;

    ck_assert_msg(lab_shadow_nla_start(&lab, 320, 240, "alice", "Secr3t!", &err) == 0, "%s",
                  err.msg);
    memset(&c, 0, sizeof(c));
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.port = lab.port;
    ops = gw_rdp_backend();
    /* the right password: NLA (CredSSP/NTLM) and a first frame */
    t = h_tunnel_new();
    ck_assert_msg(ops->open(t, &c, "alice\nSecr3t!", &err) == 0, "open: %s", err.msg);
    ck_assert_int_eq(first_frame(t, &draws), 0);
    close_tunnel(t);
    /* a wrong one: refused, in words, with the status the viewer offers a retry on */
    t = h_tunnel_new();
    ck_assert_msg(ops->open(t, &c, "alice\nwrong", &err) == 0, "open: %s", err.msg);
    ck_assert_int_eq(h_wait_op(t, ops, "error", &in, 15000), 0);
    ck_assert_msg(strstr(in.argv[0], "password") != NULL, "%s", in.argv[0]);
    ck_assert_str_eq(in.argv[1], "769"); /* 0x0301 CLIENT_UNAUTHORIZED */
    h_insn_fini(&in);
    close_tunnel(t);
    lab_shadow_stop(&lab);
}
END_TEST

static void
setup_process_mode(void)
{
    struct gw_rdp_conf c;

    gw_rdp_conf_defaults(&c);
    gw_rdp_configure(&c);
}

static void
setup_thread_mode(void)
{
    struct gw_rdp_conf c;

    gw_rdp_conf_defaults(&c);
    c.process_per_session = false;
    gw_rdp_configure(&c);
}

START_TEST(test_xrdp_in_front_of_vnc_takes_credentials_and_draws)
{
    struct lab_shadow lab;
    struct pt_err err;
    struct auth_ticket_claims c;
    struct gw_tunnel *t = h_tunnel_new();
    struct h_insn in;
    int draws;
    char *red[] = {"xsetroot", "-solid", "red", NULL};

    ck_assert_msg(lab_xrdp_start(&lab, 640, 480, &err) == 0, "%s", err.msg);
    memset(&c, 0, sizeof(c));
    snprintf(c.host, sizeof(c.host), "127.0.0.1");
    c.port = lab.port;
    ops = gw_rdp_backend();
    /* any user/password: xrdp's AutoLogon goes straight to the VNC screen */
    ck_assert_msg(ops->open(t, &c, "na\nsecret-pw", &err) == 0, "open: %s", err.msg);
    ck_assert_int_eq(h_wait_op(t, ops, "size", &in, 15000), 0);
    h_insn_fini(&in);
    ck_assert_int_eq(first_frame(t, &draws), 0);
    ck_assert_int_eq(lab_x(&lab, NULL, red), 0);
    ck_assert_msg(wait_fill(t, "255", "0", "0", 10000) == 0, "no red fill through xrdp");
    /* xrdp forwards the VNC server's cursor: it becomes an RGBA image in buffer layer -1
     * and a "cursor" instruction copying from it */
    ck_assert_int_eq(h_send(t, ops, "5.mouse,2.50,2.50,1.0;", NULL, 0), 0);
    ck_assert_int_eq(h_wait_op(t, ops, "cursor", &in, 5000), 0);
    ck_assert_int_eq(in.argc, 7);
    ck_assert_str_eq(in.argv[2], "-1");
    ck_assert_int_gt(atoi(in.argv[5]), 0);
    ck_assert_int_gt(atoi(in.argv[6]), 0);
    h_insn_fini(&in);
    close_tunnel(t);
    lab_shadow_stop(&lab);
}
END_TEST

Suite *gateway_rdp_shadow_suite(void);
Suite *
gateway_rdp_shadow_suite(void)
{
    Suite *s = suite_create("gateway_rdp_shadow");
    TCase *tc = tcase_create("shadow");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, setup_process_mode, NULL);
    tcase_add_test(tc, test_browser_receives_tunnel_uuid_size_and_first_image);
    tcase_add_test(tc, test_screen_changes_reach_the_browser);
    tcase_add_test(tc, test_mouse_and_keys_reach_the_desktop);
    tcase_add_test(tc, test_hostile_instructions_close_the_tunnel_with_a_reason);
    tcase_add_test(tc, test_unreachable_desktop_is_reported_in_words);
    tcase_add_test(tc, test_a_dying_desktop_ends_only_its_own_session);
    tcase_add_test(tc, test_killing_one_session_process_leaves_the_others_running);
    tcase_add_test(tc, test_xrdp_in_front_of_vnc_takes_credentials_and_draws);
    tcase_add_test(tc, test_a_lagging_browser_gets_combined_frames_not_a_queue);
    tcase_add_test(tc, test_a_stalled_worker_costs_mouse_moves_not_the_session);
    tcase_add_test(tc, test_nla_signs_in_with_the_secret_and_refuses_a_wrong_password_in_words);
    suite_add_tcase(s, tc);
    /* the same session code on threads inside the gateway process */
    tc = tcase_create("thread_mode");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, setup_thread_mode, NULL);
    tcase_add_test(tc, test_browser_receives_tunnel_uuid_size_and_first_image);
    tcase_add_test(tc, test_screen_changes_reach_the_browser);
    tcase_add_test(tc, test_unreachable_desktop_is_reported_in_words);
    tcase_add_test(tc, test_untrusted_certificate_is_refused_in_words);
    suite_add_tcase(s, tc);
    return s;
}
