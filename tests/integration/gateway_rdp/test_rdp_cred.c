/*
 * test_rdp_cred.c - RDP credentials and the pool's session policy end to end: a real
 * slapd for sign-in, the built portico-broker with RDP pools on libvirt's test:/// driver
 * (each pool's rdp_port names a real RDP server on 127.0.0.1: the test driver's desktops
 * have no guest address, so pool_desktop_display() answers 127.0.0.1:<rdp_port>), the
 * broker's ticket sealed for the real portico-gateway, and a Guacamole client over the
 * gateway's WebSocket.
 *
 * RDP servers: Xvfb + freerdp-shadow-cli that speaks only NLA and knows one account,
 * alice / alice-pw (the same as alice's directory password, so single sign-on can work),
 * xrdp in front of an Xvnc (any credentials) whose X clipboard xclip reads, for the
 * clipboard policy, and two of the TEST SERVER that plays a tone (rdp_lab.h; no packaged
 * server here plays sound), for the pool's audio switch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>

#include "bk_client.h"
#include "common/mem.h"
#include "gwtest.h"
#include "rdp_lab.h"
#include "wsclient.h"

static struct tf_slapd *slapd;
static struct lab_shadow nla, xrdp;
#ifdef RDP_TONE_SERVER
static struct lab_tone tone_loud, tone_quiet; /* behind pools "loud" (audio = yes), "quiet" */
#endif
static struct gwt gw;
static struct bk_broker broker;
static char pwdir[512];
static bool chowned; /* not-mine.pw belongs to another user (we run as root) */

static void
write_file(const char *name, const char *text, mode_t mode)
{
    char path[700];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", pwdir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void
cred_setup(void)
{
    struct pt_err err = {0};
    char ldap[2048], extra[2400], *node;
    struct pt_buf sec = PT_BUF_INIT;
    char long_user[201];

    memset(long_user, 'u', 200);
    long_user[200] = '\0';

    slapd = tf_slapd_start(NULL, &err);
    if (!slapd)
        ck_abort_msg("slapd: %s", err.msg);
    ck_assert_msg(lab_shadow_nla_start(&nla, 640, 480, "alice", "alice-pw", &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(lab_xrdp_start(&xrdp, 640, 480, &err) == 0, "%s", err.msg);
    gwt_start(&gw, false, NULL);

    snprintf(pwdir, sizeof(pwdir), "%s/rdp-cred-%d", tf_tmpdir(), (int)getpid());
    mkdir(pwdir, 0700);
    write_file("fixed.pw", "alice-pw\n", 0600);
    write_file("wrong.pw", "not-alice-pw\n", 0600);
    write_file("open.pw", "alice-pw\n", 0644);
    write_file("two-lines.pw", "alice-pw\nsecond line\n", 0600);
    write_file("empty.pw", "\n", 0600);
    write_file("not-mine.pw", "alice-pw\n", 0600);
    {
        char a[700], b[700];

        snprintf(a, sizeof(a), "%s/not-mine.pw", pwdir);
        /* nobody's (the broker runs as us); only root can give a file away */
        chowned = chown(a, 65534, 65534) == 0;
        snprintf(a, sizeof(a), "%s/fixed.pw", pwdir);
        snprintf(b, sizeof(b), "%s/link.pw", pwdir);
        ck_assert_int_eq(symlink(a, b), 0);
        /* a good password file, but not in rdp_password_dir */
        snprintf(a, sizeof(a), "%s/rdp-cred-outside-%d.pw", tf_tmpdir(), (int)getpid());
        {
            FILE *f = fopen(a, "w");
            ck_assert_ptr_nonnull(f);
            fputs("alice-pw\n", f);
            fclose(f);
            ck_assert_int_eq(chmod(a, 0600), 0);
        }
    }

    node = tf_golden_node_write("rc", &err);
    ck_assert_msg(node, "%s", err.msg);
    tf_slapd_broker_ldap(slapd, ldap, sizeof(ldap));
    pt_buf_appends(&sec, ldap);
    pt_buf_appendf(&sec,
                   "[hypervisor]\nuri = test://%s\nprobe = domain_state\n"
                   "reconcile_interval = 100ms\ndomain_prefix = rc%d-\n",
                   node, (int)getpid());
    {
        static const struct {
            const char *name, *keys, *pw_file; /* pw_file: fixed credentials from it */
            bool on_nla;
        } pools[] = {
            {"fixed", "", "fixed.pw", true},
            {"badpw", "", "wrong.pw", true},
            {"nofile", "", "missing.pw", true},
            {"openfile", "", "open.pw", true},
            {"pemlike", "", "two-lines.pw", true},
            {"emptyfile", "", "empty.pw", true},
            {"notmine", "", "not-mine.pw", true},
            {"symlink", "", "link.pw", true},
            {"outside", "", "OUTSIDE", true},
            /* 200 + 1 + 8 + 1 + 250 bytes of "user\npassword\ndomain": over 451 */
            {"toolong",
             "rdp_domain = "
             "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
             "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
             "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\n",
             "fixed.pw", true},
            {"sso", "rdp_credentials = sso\n", NULL, true},
            /* xrdp shows its own login screen without credentials: log in to the Xvnc */
            {"clipboth", "clipboard = both\n", "fixed.pw", false},
            {"clipnone", "clipboard = none\n", "fixed.pw", false},
        };

        for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
            pt_buf_appendf(&sec,
                           "[pool \"%s\"]\nimage = /golden/base.qcow2\nmemory = 128\n"
                           "domain_type = test\nmin = 0\nmax = 2\nwarm = 0\n"
                           "protocols = rdp\ngroups = desktop-users\nrdp_port = %d\n%s",
                           pools[i].name, pools[i].on_nla ? nla.port : xrdp.port, pools[i].keys);
            if (pools[i].pw_file && !strcmp(pools[i].pw_file, "OUTSIDE"))
                pt_buf_appendf(&sec,
                               "rdp_credentials = fixed\nrdp_username = alice\n"
                               "rdp_password_file = %s/rdp-cred-outside-%d.pw\n",
                               tf_tmpdir(), (int)getpid());
            else if (pools[i].pw_file)
                pt_buf_appendf(&sec,
                               "rdp_credentials = fixed\nrdp_username = %s\n"
                               "rdp_password_file = %s/%s\n",
                               strcmp(pools[i].name, "toolong") ? "alice" : long_user, pwdir,
                               pools[i].pw_file);
        }
    }
#ifdef RDP_TONE_SERVER
    ck_assert_msg(lab_tone_start(&tone_loud, RDP_TONE_SERVER, 1000, &err) == 0 &&
                      lab_tone_start(&tone_quiet, RDP_TONE_SERVER, 1000, &err) == 0,
                  "tone server: %s", err.msg);
    for (int i = 0; i < 2; i++)
        pt_buf_appendf(&sec,
                       "[pool \"%s\"]\nimage = /golden/base.qcow2\nmemory = 128\n"
                       "domain_type = test\nmin = 0\nmax = 2\nwarm = 0\n"
                       "protocols = rdp\ngroups = desktop-users\nrdp_port = %d\naudio = %s\n",
                       i ? "quiet" : "loud", i ? tone_quiet.port : tone_loud.port,
                       i ? "no" : "yes");
#endif
    snprintf(extra, sizeof(extra),
             "rate_limit_rps = 0\ngateway_url = ws://127.0.0.1:%d/tunnel\n"
             "gateway_audience = %s\nticket_key_file = %s/ticket.key\n"
             "gateway_seal_key_file = %s/seal.key.pub\nrdp_password_dir = %s\n",
             gw.port, gw.id, gw.dir, gw.dir, pwdir);
    if (bk_broker_start(&broker, extra, sec.data, &err) < 0)
        ck_abort_msg("broker: %s", err.msg);
    pt_buf_fini(&sec);
    free(node);
}

static void
cred_teardown(void)
{
    bool clean = bk_broker_stop(&broker);

    gwt_stop(&gw);
#ifdef RDP_TONE_SERVER
    lab_tone_stop(&tone_loud);
    lab_tone_stop(&tone_quiet);
#endif
    lab_shadow_stop(&xrdp);
    lab_shadow_stop(&nla);
    tf_slapd_stop(slapd);
    ck_assert_msg(clean, "broker did not stop cleanly (see its log)");
}

/* --- the broker ------------------------------------------------------------------------ */

static void
login(const char *user, const char *pw, struct bk_who *w)
{
    struct bk_resp r = {0};
    struct pt_err err = {0};

    ck_assert_msg(bk_login(broker.port, user, pw, w, &r, &err) == 200, "login %s: %d %s %s", user,
                  r.status, err.msg, r.body.data ? r.body.data : "");
    bk_resp_fini(&r);
}

/* Launch @pool until the desktop is ready (202 means: ask again). Returns the status; the
 * reply stays in @r (bk_resp_fini). */
static int
launch(const struct bk_who *w, const char *pool, struct bk_resp *r)
{
    struct pt_err err = {0};
    char path[128];

    snprintf(path, sizeof(path), "/api/v1/pools/%s/launch", pool);
    for (int i = 0; i < 100; i++) {
        ck_assert_msg(bk_https(broker.port, "POST", path, w->hdrs, NULL, 0, r, &err) == 0, "%s",
                      err.msg);
        if (r->status != 202)
            return r->status;
        bk_resp_fini(r);
        usleep(200000);
    }
    ck_abort_msg("launch %s: still not ready after 20 s", pool);
    return -1;
}

/* The ticket of a ready launch (owned). */
static char *
ticket_for(const struct bk_who *w, const char *pool)
{
    struct bk_resp r;
    char *t;

    ck_assert_msg(launch(w, pool, &r) == 200, "launch %s: %d %s", pool, r.status,
                  r.body.data ? r.body.data : "");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "protocol")), "rdp");
    t = pt_xstrdup(json_string_value(json_object_get(r.json, "ticket")));
    bk_resp_fini(&r);
    return t;
}

/* --- the browser ----------------------------------------------------------------------- */

static struct wsc *
open_tunnel(const char *ticket)
{
    char path[8192], err[256];
    struct wsc *c = wsc_connect(gw.port, gwt_path(ticket, path, sizeof(path)), NULL, NULL, false,
                                err, sizeof(err));

    ck_assert_msg(c != NULL, "connect: %s", err);
    return c;
}

/* Read text messages into @all (appended) until it holds @needle; echoes every sync like
 * guacamole-common-js. 0, or -1 on timeout or close. */
static int
wait_text(struct wsc *c, const char *needle, struct pt_buf *all, int timeout_ms)
{
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    for (int waited = 0; waited < timeout_ms; waited += 100) {
        int op;
        char *sync;

        if (all->data && strstr(all->data, needle)) {
            rc = 0;
            break;
        }
        op = wsc_recv(c, &buf, &len, &cap, 100);
        if (op < 0 || op == WSC_CLOSE) {
            fprintf(stderr, "wait_text(%s): %s, close %d '%s'\n", needle,
                    op < 0 ? "connection ended" : "closed", wsc_close_code(c),
                    wsc_close_reason(c) ? wsc_close_reason(c) : "");
            break;
        }
        if (op != WSC_TEXT)
            continue;
        pt_buf_append(all, buf, len);
        pt_buf_append(all, "", 1);
        all->len--; /* keep it a string */
        for (sync = strstr(all->data + all->len - len, "4.sync,"); sync;
             sync = strstr(sync + 1, "4.sync,")) {
            char echo[64];
            size_t n = strcspn(sync, ";") + 1;
            snprintf(echo, sizeof(echo), "%.*s", (int)n, sync);
            wsc_send(c, WSC_TEXT, echo, strlen(echo));
        }
    }
    free(buf);
    return rc;
}

/* A desktop drawn: the size, then a first image (an "img" stream or a fill) in a frame. */
static void
expect_desktop(const char *ticket)
{
    struct wsc *c = open_tunnel(ticket);
    struct pt_buf all = PT_BUF_INIT;

    ck_assert_msg(wait_text(c, "4.size,1.0,3.640,3.480;", &all, 15000) == 0, "no size; got: %.300s",
                  all.data ? all.data : "");
    ck_assert_msg(wait_text(c, "4.sync,", &all, 15000) == 0, "no first frame");
    ck_assert_msg(strstr(all.data, "3.img,") || strstr(all.data, "5.cfill,"),
                  "no image before the first sync: %.300s", all.data);
    ck_assert_ptr_null(strstr(all.data, "5.error,"));
    pt_buf_fini(&all);
    wsc_free(c);
}

/* The gateway tells the browser the credentials were refused, with the Guacamole status
 * guacamole-common-js offers a retry on (0x0301 CLIENT_UNAUTHORIZED). */
static void
expect_wrong_credentials(const char *ticket)
{
    struct wsc *c = open_tunnel(ticket);
    struct pt_buf all = PT_BUF_INIT;
    const char *e;

    ck_assert_msg(wait_text(c, "5.error,", &all, 20000) == 0, "no error; got: %.300s",
                  all.data ? all.data : "");
    wait_text(c, ";", &all, 100);
    e = strstr(all.data, "5.error,");
    ck_assert_msg(strstr(e, ",3.769;") != NULL, "not CLIENT_UNAUTHORIZED: %.200s", e);
    ck_assert_msg(strstr(e, "password") != NULL, "not in words: %.200s", e);
    ck_assert_ptr_null(strstr(all.data, "4.size,"));
    pt_buf_fini(&all);
    wsc_free(c);
}

/* The number of lines of the broker's log holding both @a and @b. */
static int
broker_log_count(const char *a, const char *b)
{
    char line[4096];
    FILE *f = fopen(broker.proc.log_path, "r");
    int n = 0;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, a) && strstr(line, b);
    fclose(f);
    return n;
}

/* --- tests ----------------------------------------------------------------------------- */

START_TEST(test_fixed_credentials_from_the_password_file_sign_in_to_an_nla_desktop)
{
    struct bk_who w;
    char *t;

    login("alice", "alice-pw", &w);
    t = ticket_for(&w, "fixed");
    expect_desktop(t);
    free(t);
}
END_TEST

START_TEST(test_a_wrong_password_file_gives_the_wrong_credentials_error)
{
    struct bk_who w;
    char *t;

    login("alice", "alice-pw", &w);
    t = ticket_for(&w, "badpw");
    expect_wrong_credentials(t);
    free(t);
}
END_TEST

START_TEST(test_a_missing_or_unsafe_password_file_is_a_503_that_names_the_pool)
{
    static const struct {
        const char *pool, *says;
    } cases[] = {
        {"nofile", "cannot open it"},
        {"openfile", "chmod 600"},
        {"pemlike", "one line"},
        {"emptyfile", "it is empty"},
        {"notmine", "not by the broker's user"},
        {"symlink", "cannot open it"}, /* O_NOFOLLOW: a link could point anywhere */
        /* any other file the broker can read (its own secrets) is out of a pool's reach */
        {"outside", "not a file directly in rdp_password_dir"},
        {"toolong", "at most 451 fit in a ticket"},
    };
    struct bk_who w;

    login("alice", "alice-pw", &w);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bk_resp r;
        const char *msg;

        if (!chowned && !strcmp(cases[i].pool, "notmine"))
            continue;
        ck_assert_int_eq(launch(&w, cases[i].pool, &r), 503);
        ck_assert_str_eq(bk_resp_error_code(&r), "rdp_credentials_unavailable");
        msg = json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
        ck_assert_msg(msg && strstr(msg, cases[i].pool) && strstr(msg, cases[i].says) &&
                          (!strcmp(cases[i].pool, "toolong") || strstr(msg, "rdp_password_file")),
                      "%s: %s", cases[i].pool, msg ? msg : "(none)");
        /* the password itself never reaches a reply */
        ck_assert_ptr_null(strstr(r.body.data, "alice-pw"));
        bk_resp_fini(&r);
    }
}
END_TEST

START_TEST(test_single_sign_on_passes_the_users_own_password)
{
    struct bk_who alice, obrien, bob;
    char *t;

    /* alice's directory password is the desktop's: she gets in */
    login("alice", "alice-pw", &alice);
    t = ticket_for(&alice, "sso");
    expect_desktop(t);
    free(t);
    /* o*brien signs in to the broker fine, but the desktop knows no such account: his own
     * credentials, not some fixed ones, went to it */
    login("o*brien", "o*brien-pw", &obrien);
    t = ticket_for(&obrien, "sso");
    expect_wrong_credentials(t);
    free(t);
    /* the password is kept only for users of a single sign-on pool (bob is in none) */
    login("bob", "bob-pw", &bob);
    ck_assert_int_eq(broker_log_count("event=login result=ok user=alice ", "sso_kept=1"), 1);
    ck_assert_int_eq(broker_log_count("event=login result=ok user=bob ", "sso_kept=0"), 1);
    ck_assert_int_eq(broker_log_count("alice-pw", ""), 0); /* never logged */
}
END_TEST

START_TEST(test_admin_api_takes_and_shows_the_rdp_keys_but_no_password)
{
    struct bk_resp r;
    struct pt_err err = {0};
    struct bk_who admin;
    json_t *spec;
    const char *patch = "{\"spec\":{\"rdp_credentials\":\"fixed\",\"rdp_username\":\"kiosk\","
                        "\"rdp_domain\":\"CORP\",\"clipboard\":\"from-desktop\","
                        "\"clipboard_max\":4096,\"audio\":false}}";
    const char *bad = "{\"spec\":{\"rdp_username\":\"ki\\nosk\"}}";

    login("bob", "bob-pw", &admin);
    ck_assert_int_eq(bk_https(broker.port, "PATCH", "/api/v1/admin/pools/fixed", admin.hdrs, patch,
                              strlen(patch), &r, &err),
                     0);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body.data);
    bk_resp_fini(&r);
    ck_assert_int_eq(bk_https(broker.port, "PATCH", "/api/v1/admin/pools/fixed", admin.hdrs, bad,
                              strlen(bad), &r, &err),
                     0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body.data, "control characters"), "%s", r.body.data);
    bk_resp_fini(&r);
    ck_assert_int_eq(
        bk_https(broker.port, "GET", "/api/v1/admin/pools/fixed", admin.hdrs, NULL, 0, &r, &err),
        0);
    ck_assert_int_eq(r.status, 200);
    spec = json_object_get(r.json, "spec");
    ck_assert_str_eq(json_string_value(json_object_get(spec, "rdp_credentials")), "fixed");
    ck_assert_str_eq(json_string_value(json_object_get(spec, "rdp_username")), "kiosk");
    ck_assert_str_eq(json_string_value(json_object_get(spec, "rdp_domain")), "CORP");
    ck_assert_msg(
        strstr(json_string_value(json_object_get(spec, "rdp_password_file")), "/fixed.pw"), "%s",
        r.body.data);
    ck_assert_str_eq(json_string_value(json_object_get(spec, "clipboard")), "from-desktop");
    ck_assert_str_eq(json_string_value(json_object_get(spec, "clipboard_max")), "4096");
    ck_assert_str_eq(json_string_value(json_object_get(spec, "audio")), "no");
    ck_assert_ptr_null(strstr(r.body.data, "alice-pw"));
    bk_resp_fini(&r);
}
END_TEST

/* Copy @text in the browser: a Guacamole clipboard stream as guacamole-common-js sends. */
static void
browser_copy(struct wsc *c, const char *text)
{
    unsigned char b64[512];
    char msg[800];
    int n = EVP_EncodeBlock(b64, (const unsigned char *)text, (int)strlen(text));

    snprintf(msg, sizeof(msg), "9.clipboard,1.7,10.text/plain;4.blob,1.7,%d.%s;3.end,1.7;", n, b64);
    ck_assert_int_eq(wsc_send(c, WSC_TEXT, msg, strlen(msg)), 0);
}

/* Copy @text in the browser until the desktop's clipboard holds it (the clipboard channel
 * comes up some time after the first frame) or @timeout_ms passes; returns the desktop's
 * clipboard text last read (owned). */
static char *
copy_until_pasted(struct wsc *c, const char *text, int timeout_ms)
{
    char *got = NULL;

    for (int waited = 0; waited < timeout_ms; waited += 1000) {
        free(got);
        browser_copy(c, text);
        got = lab_clip_wait(&xrdp, text, 1000);
        if (!strcmp(got, text))
            break;
    }
    return got;
}

/* Open @pool's desktop and wait for its first frame. */
static struct wsc *
open_drawn(const struct bk_who *w, const char *pool)
{
    char *t = ticket_for(w, pool);
    struct wsc *c = open_tunnel(t);
    struct pt_buf all = PT_BUF_INIT;

    free(t);
    ck_assert_msg(wait_text(c, "4.sync,", &all, 15000) == 0, "%s: no first frame", pool);
    pt_buf_fini(&all);
    return c;
}

START_TEST(test_pool_clipboard_none_keeps_browser_text_off_the_desktop_the_gateway_allows)
{
    struct pt_buf all = PT_BUF_INIT;
    struct bk_who w;
    struct wsc *c;
    char *got;

    login("alice", "alice-pw", &w);
    /* the gateway allows both ways (its default): a pool that does too passes the text */
    c = open_drawn(&w, "clipboth");
    got = copy_until_pasted(c, "allowed by the pool", 10000);
    ck_assert_str_eq(got, "allowed by the pool");
    free(got);
    wsc_free(c);
    /* the same gateway, a pool with clipboard = none: the text never arrives */
    c = open_drawn(&w, "clipnone");
    ck_assert_int_eq(lab_clip_copy(&xrdp, "desktop text"), 0);
    got = copy_until_pasted(c, "kept out by the pool", 5000);
    ck_assert_str_eq(got, "desktop text");
    free(got);
    /* the tunnel stays up: the policy drops the text, it does not end the session (the
     * gateway answers WebSocketTunnel's ping) */
    ck_assert_int_eq(wsc_send(c, WSC_TEXT, "0.,4.ping,2.42;", 15), 0);
    ck_assert_int_eq(wait_text(c, "4.ping,2.42;", &all, 3000), 0);
    pt_buf_fini(&all);
    wsc_free(c);
}
END_TEST

#ifdef RDP_TONE_SERVER
/* The pool's audio switch, signed into the ticket by the broker, decides whether the
 * gateway asks the desktop for sound at all (the gateway's own [rdp] audio is on). */
START_TEST(test_the_pools_audio_switch_reaches_the_desktop_connection)
{
    struct bk_who w;
    struct pt_buf all = PT_BUF_INIT;
    char line[512], *t;
    struct wsc *c;

    login("alice", "alice-pw", &w);
    t = ticket_for(&w, "quiet");
    c = open_tunnel(t);
    ck_assert_msg(wait_text(c, "4.size,", &all, 15000) == 0, "quiet: no size");
    ck_assert(lab_tone_log_line(&tone_quiet, "channels", line, sizeof(line), 5000));
    ck_assert_msg(!strstr(line, "rdpsnd"), "audio = no, yet the gateway asked: %s", line);
    ck_assert_msg(wait_text(c, "5.audio,", &all, 2000) != 0, "sound from an audio = no pool");
    wsc_free(c);
    free(t);
    pt_buf_fini(&all);

    t = ticket_for(&w, "loud");
    c = open_tunnel(t);
    ck_assert_msg(wait_text(c, "5.audio,", &all, 15000) == 0, "no sound from an audio = yes pool");
    ck_assert_msg(strstr(all.data, "audio/L16;rate="), "not PCM: %.300s",
                  strstr(all.data, "5.audio,"));
    ck_assert(lab_tone_log_line(&tone_loud, "channels", line, sizeof(line), 5000));
    ck_assert_msg(strstr(line, "rdpsnd"), "channels: %s", line);
    wsc_free(c);
    free(t);
    pt_buf_fini(&all);
}
END_TEST
#endif

Suite *gateway_rdp_cred_suite(void);
Suite *
gateway_rdp_cred_suite(void)
{
    Suite *s = suite_create("gateway_rdp_cred");
    TCase *tc = tcase_create("credentials_and_policy");

    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, cred_setup, cred_teardown);
    tcase_add_test(tc, test_fixed_credentials_from_the_password_file_sign_in_to_an_nla_desktop);
    tcase_add_test(tc, test_a_wrong_password_file_gives_the_wrong_credentials_error);
    tcase_add_test(tc, test_a_missing_or_unsafe_password_file_is_a_503_that_names_the_pool);
    tcase_add_test(tc, test_single_sign_on_passes_the_users_own_password);
    tcase_add_test(tc, test_admin_api_takes_and_shows_the_rdp_keys_but_no_password);
#ifdef RDP_TONE_SERVER
    tcase_add_test(tc, test_the_pools_audio_switch_reaches_the_desktop_connection);
#endif
    tcase_add_test(tc,
                   test_pool_clipboard_none_keeps_browser_text_off_the_desktop_the_gateway_allows);
    suite_add_tcase(s, tc);
    return s;
}
