/*
 * test_viewer.c - the in-browser viewer end to end, one desktop per protocol, through
 * the whole stack: Chromium signs in to the broker (real slapd), opens a desktop from
 * the portal, the broker launches it (pool/ on libvirt's test:/// driver) and signs a
 * ticket, and the browser's stock client (noVNC, spice-html5, guacamole-common-js) goes
 * through portico-gateway to a real display server:
 *   VNC   - Xvnc (tigervnc), painted with xsetroot; keys seen by xev on its root window
 *   RDP   - Xvfb + freerdp-shadow, the same way (the gateway speaks RDP, the browser
 *           Guacamole)
 *   SPICE - a real QEMU guest under libvirtd (SeaBIOS screen: the canvas must show text)
 * The test:/// desktops carry the real servers' ports in their <graphics> (pool template)
 * and rdp_port, so the broker's display lookup hands the gateway a live endpoint.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "common/str.h"
#include "e2e_web.h"
#include "tsupport/fixture.h"

Suite *e2e_viewer_suite(void);

struct stack {
    struct tf_slapd *slapd;
    struct tf_proc broker, gateway;
    int broker_port, gw_port;
    char dir[512];
};

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_msg(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* A pool of one test:/// desktop whose display is the real server at @port. The RDP pool
 * keeps no warm desktop, so its launch answers 202 first and the viewer waits. */
static void
pool_section(struct pt_buf *b, const char *dir, const char *pool, const char *proto, int port)
{
    char tmpl[700], xml[1500], gfx[200] = "";

    snprintf(tmpl, sizeof(tmpl), "%s/%s.xml", dir, pool);
    /* RDP is served by the guest itself (rdp_port below); SPICE and VNC by the host */
    if (strcmp(proto, "rdp") != 0)
        snprintf(gfx, sizeof(gfx),
                 "<graphics type='%s' port='%d' autoport='no' listen='127.0.0.1'/>", proto, port);
    snprintf(xml, sizeof(xml),
             "<domain type='test'><name>${NAME}</name><memory unit='MiB'>${MEMORY_MIB}</memory>"
             "<vcpu>${VCPUS}</vcpu><os><type>hvm</type></os><devices>"
             "<disk type='file' device='disk'><source file='${DISK}'/><target dev='hda'/></disk>"
             "%s</devices></domain>\n",
             gfx);
    write_file(tmpl, xml);
    pt_buf_appendf(b,
                   "[pool \"%s\"]\nimage = /golden/base.qcow2\nmemory = 128\ndomain_type = test\n"
                   "min = 0\nmax = 1\nwarm = %d\nprotocols = %s\ntemplate = %s\n",
                   pool, strcmp(proto, "rdp") == 0 ? 0 : 1, proto, tmpl);
    if (strcmp(proto, "rdp") == 0)
        pt_buf_appendf(b, "rdp_port = %d\n", port);
}

static void
stack_start(struct stack *s, const char *pool, const char *proto, int port)
{
    struct pt_err err = {0};
    struct pt_buf conf = PT_BUF_INIT;
    char path[800], exe[700], ldap[1024], *node;
    const char *bd = getenv("PORTICO_BUILD_DIR");
    char *argv[4];
    static int seq;

    memset(s, 0, sizeof(*s));
    e2e_require_web_root();
    snprintf(s->dir, sizeof(s->dir), "%s/viewer-%d-%d", tf_tmpdir(), (int)getpid(), ++seq);
    ck_assert_int_eq(mkdir(s->dir, 0700), 0);
    s->slapd = tf_slapd_start(NULL, &err);
    ck_assert_msg(s->slapd, "slapd: %s", err.msg);
    node = tf_golden_node_write("vw", &err);
    ck_assert_msg(node, "%s", err.msg);
    tf_slapd_broker_ldap(s->slapd, ldap, sizeof(ldap));
    s->broker_port = tf_free_port();
    s->gw_port = tf_free_port();
    pt_buf_appendf(&conf,
                   "[broker]\nlisten = 127.0.0.1:%d\nstate_dir = %s/state\nworkers = 2\n"
                   "rate_limit_rps = 0\nweb_root = %s\n"
                   "gateway_url = wss://127.0.0.1:%d/tunnel\n"
                   "%spool = desktop-users:%s\n"
                   "[hypervisor]\nuri = test://%s\nprobe = domain_state\n"
                   "reconcile_interval = 100ms\ndomain_prefix = vw%d-\n",
                   s->broker_port, s->dir, e2e_web_root(), s->gw_port, ldap, pool, node,
                   (int)getpid());
    free(node);
    pool_section(&conf, s->dir, pool, proto, port);
    snprintf(path, sizeof(path), "%s/broker.conf", s->dir);
    write_file(path, conf.data);
    pt_buf_fini(&conf);
    snprintf(exe, sizeof(exe), "%s/broker/portico-broker", bd ? bd : "..");
    ck_assert_msg(access(exe, X_OK) == 0, "%s is not built (target portico-broker)", exe);
    argv[0] = exe;
    argv[1] = (char *)"-c";
    argv[2] = path;
    argv[3] = NULL;
    ck_assert_msg(tf_proc_spawn(&s->broker, "broker", argv, NULL, &err) == 0, "%s", err.msg);
    if (tf_wait_port(s->broker_port, 15000) < 0) {
        tf_proc_print_log(&s->broker, 40);
        ck_abort_msg("broker did not listen");
    }
    /* the broker made its ticket key on start; the gateway trusts its public half (wait
     * for the file too: a port that answers may, on a busy machine, not be ours yet) */
    snprintf(path, sizeof(path), "%s/state/ticket.key.pub", s->dir);
    for (int i = 0; i < 150 && access(path, R_OK) != 0; i++)
        usleep(100000);
    if (access(path, R_OK) != 0) {
        tf_proc_print_log(&s->broker, 40);
        ck_abort_msg("broker wrote no %s", path);
    }
    snprintf(path, sizeof(path), "%s/gateway.conf", s->dir);
    pt_buf_appendf(&conf,
                   "[gateway]\nlisten = 127.0.0.1:%d\ntls = yes\nstate_dir = %s/gw\nid = gateway\n"
                   "ticket_key = %s/state/ticket.key.pub\nallowed_origins = "
                   "https://127.0.0.1:%d\nlog_level = info\n",
                   s->gw_port, s->dir, s->dir, s->broker_port);
    write_file(path, conf.data);
    pt_buf_fini(&conf);
    snprintf(exe, sizeof(exe), "%s/gateway/portico-gateway", bd ? bd : "..");
    argv[0] = exe;
    argv[2] = path;
    ck_assert_msg(tf_proc_spawn(&s->gateway, "gateway", argv, NULL, &err) == 0, "%s", err.msg);
    if (tf_wait_port(s->gw_port, 10000) < 0) {
        tf_proc_print_log(&s->gateway, 40);
        ck_abort_msg("gateway did not listen");
    }
}

static void
stack_stop(struct stack *s)
{
    tf_proc_stop(&s->gateway, 3000);
    tf_proc_stop(&s->broker, 5000);
    tf_slapd_stop(s->slapd);
}

static void
run_viewer(struct stack *s, const char *pool, const char *xdisplay)
{
    struct pt_err err = {0};
    char url[64];
    char *args[6];
    int rc;

    snprintf(url, sizeof(url), "https://127.0.0.1:%d", s->broker_port);
    args[0] = (char *)pool;
    args[1] = url;
    args[2] = (char *)e2e_artifacts(pool);
    args[3] = (char *)(xdisplay ? xdisplay : "-");
    args[4] = NULL;
    rc = tf_node_run("web/viewer.js", args, 100000, &err);
    if (rc != 0) {
        tf_proc_print_log(&s->gateway, 25);
        tf_proc_print_log(&s->broker, 15);
    }
    ck_assert_msg(rc == 0, "web/viewer.js %s: rc %d %s (screenshots in %s)", pool, rc, err.msg,
                  args[2]);
}

START_TEST(test_vnc_desktop_opens_in_novnc_shows_the_screen_and_takes_keys)
{
    struct pt_err err = {0};
    struct stack s;
    int port = 0;
    struct tf_proc *x = tf_xvnc_start(1024, 768, &port, &err);

    ck_assert_msg(x, "Xvnc: %s", err.msg);
    stack_start(&s, "vnc", "vnc", port);
    run_viewer(&s, "vnc", tf_xvnc_display(x));
    stack_stop(&s);
    tf_xvnc_stop(x);
}
END_TEST

START_TEST(test_rdp_desktop_opens_in_guacamole_shows_the_screen_and_takes_keys)
{
    struct pt_err err = {0};
    struct stack s;
    struct tf_rdp *r = tf_rdp_shadow_start(1024, 768, &err);

    ck_assert_msg(r, "freerdp-shadow: %s", err.msg);
    stack_start(&s, "rdp", "rdp", tf_rdp_port(r));
    run_viewer(&s, "rdp", tf_rdp_display(r));
    stack_stop(&s);
    tf_rdp_stop(r);
}
END_TEST

START_TEST(test_spice_desktop_opens_in_spice_html5_and_shows_the_guest_screen)
{
    struct pt_err err = {0};
    struct stack s;
    struct tf_guest *g;

    ck_assert_msg(tf_libvirtd_ensure(&err) == 0, "libvirtd: %s", err.msg);
    g = tf_guest_start("e2espice", 64, &err);
    ck_assert_msg(g, "guest: %s", err.msg);
    stack_start(&s, "spice", "spice", tf_guest_spice_port(g));
    run_viewer(&s, "spice", NULL);
    stack_stop(&s);
    tf_guest_stop(g);
}
END_TEST

Suite *
e2e_viewer_suite(void)
{
    Suite *s = suite_create("e2e_viewer");
    TCase *tc = tcase_create("viewer");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vnc_desktop_opens_in_novnc_shows_the_screen_and_takes_keys);
    tcase_add_test(tc, test_rdp_desktop_opens_in_guacamole_shows_the_screen_and_takes_keys);
    tcase_add_test(tc, test_spice_desktop_opens_in_spice_html5_and_shows_the_guest_screen);
    suite_add_tcase(s, tc);
    return s;
}
