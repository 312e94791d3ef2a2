/*
 * test_hv_qemu.c - the hypervisor layer against the real system libvirtd and real QEMU
 * guests (KVM when usable, TCG otherwise): clone, start, display answers, per-session
 * password enforced, revert, park and resume, destroy, delete, and nothing left behind.
 * The guest has no OS: SeaBIOS's "No bootable device" screen is all the display needs.
 *
 * Names are unique per process; the checked teardown deletes whatever a failed
 * assertion left (domain and overlay), so a red run does not leak guests.
 */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/mem.h"
#include "common/str.h"
#include "cutproxy.h"
#include "hv_priv.h"
#include "hvt.h"
#include "probe.h"
#include "tsupport/fixture.h"

static struct hv *hv;
static const char *golden;
static char names[2][64];
static char overlays[2][1024];

static void
virt_quiet(void *opaque, virErrorPtr e)
{
}

static void
setup(void)
{
    struct pt_err err = {0};
    struct hv_host_conf c = {.name = "local", .uri = "qemu:///system", .mem_reserve_mib = 256};
    char *dup;
    static int seq;

    ck_assert_msg(tf_libvirtd_ensure(&err) == 0, "%s", err.msg);
    golden = tf_guest_base_image(&err);
    ck_assert_msg(golden, "%s", err.msg);
    hv = hv_new(&err);
    ck_assert_msg(hv, "%s", err.msg);
    ck_assert_msg(hv_host_add(hv, &c, &err) == 0, "%s", err.msg);
    dup = pt_xstrdup(golden);
    for (int i = 0; i < 2; i++) {
        snprintf(names[i], sizeof(names[i]), "hvit-%d-%d-%d", (int)getpid(), seq++,
                 (int)(pt_time_wall_ms() % 100000));
        snprintf(overlays[i], sizeof(overlays[i]), "%s/%s.qcow2", dirname(dup), names[i]);
        strcpy(dup, golden);
    }
    free(dup);
}

static void
teardown(void)
{
    struct pt_err err = {0};

    for (int i = 0; i < 2; i++)
        if (hv_desktop_delete(hv, "local", names[i], &err) < 0)
            fprintf(stderr, "teardown: %s\n", err.msg);
    hv_free(hv);
    hv = NULL;
}

static struct hv_desktop_spec
spec(const char *name)
{
    struct hv_desktop_spec s = {
        .name = name,
        .pool = "it",
        .desktop_id = name,
        .image_version = "base-64M",
        .golden_path = golden,
        .vcpus = 1,
        .memory_mib = 64,
        .protocols = HV_PROTO_SPICE | HV_PROTO_VNC,
        .domain_type = tf_guest_domain_type(),
    };
    return s;
}

static int64_t
ms_since(int64_t t0)
{
    return pt_time_mono_ms() - t0;
}

/* No domain, no volume, no file: what "nothing left behind" means. */
static void
assert_gone(const char *name, const char *overlay)
{
    virConnectPtr c;
    virDomainPtr d;
    virStorageVolPtr v;
    struct stat st;

    virSetErrorFunc(NULL, virt_quiet);
    c = virConnectOpen("qemu:///system");
    ck_assert_ptr_nonnull(c);
    d = virDomainLookupByName(c, name);
    ck_assert_msg(d == NULL, "domain %s is still defined", name);
    v = virStorageVolLookupByPath(c, overlay);
    ck_assert_msg(v == NULL, "volume %s is still known to libvirt", overlay);
    virConnectClose(c);
    ck_assert_msg(stat(overlay, &st) < 0, "overlay file %s is still there", overlay);
}

static void
assert_display_locked(const struct hv_display *d, const char *good)
{
    struct probe_vnc v;
    struct probe_spice s;

    ck_assert_int_eq(probe_vnc_auth(d->vnc_port, "wrong-pw", &v), 0);
    ck_assert_int_ge(v.ntypes, 1);
    ck_assert_msg(v.types[0] == 2 && v.ntypes == 1, "VNC must offer only type 2 (got %d)",
                  v.types[0]);
    ck_assert_int_eq(v.result, 1); /* refused */
    ck_assert_int_eq(probe_spice(d->spice_port, "wrong-pw", &s), 0);
    ck_assert_int_eq(s.link_error, 0);
    ck_assert_int_eq(s.auth_result, 7); /* SPICE_LINK_ERR_PERMISSION_DENIED */
    if (good) {
        ck_assert_int_eq(probe_vnc_auth(d->vnc_port, good, &v), 0);
        ck_assert_msg(v.result == 0, "VNC refused the session password");
        ck_assert_int_eq(probe_spice(d->spice_port, good, &s), 0);
        ck_assert_msg(s.auth_result == 0, "SPICE refused the session password (%d)", s.auth_result);
    }
}

START_TEST(test_desktop_lifecycle_on_real_qemu_leaves_nothing_behind)
{
    struct hv_desktop_spec s = spec(names[0]);
    struct hv_desktop_info di;
    struct hv_display d;
    struct probe_vnc v;
    struct probe_spice sp;
    struct pt_err err = {0};
    char banner[13];
    struct stat st;
    int64_t t;

    t = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_create(hv, "local", &s, &err) == 0, "%s", err.msg);
    fprintf(stderr, "hv_qemu: create (overlay + define) %lld ms\n", (long long)ms_since(t));
    ck_assert_msg(stat(overlays[0], &st) == 0, "overlay %s missing", overlays[0]);
    t = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_start(hv, "local", names[0], &err) == 0, "%s", err.msg);
    fprintf(stderr, "hv_qemu: start %lld ms\n", (long long)ms_since(t));
    ck_assert(hvt_wait_event(hv, HV_EVENT_DESKTOP_STARTED, names[0], 5000));

    ck_assert_msg(hv_desktop_display(hv, "local", names[0], &d, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(d.host, "127.0.0.1");
    ck_assert_int_ge(d.vnc_port, 5900); /* a port, not a display number */
    ck_assert_int_ge(d.spice_port, 5900);
    ck_assert_int_eq(probe_vnc_banner(d.vnc_port, banner), 0);
    ck_assert_str_eq(banner, "RFB 003.008\n");
    ck_assert_int_eq(probe_spice(d.spice_port, NULL, &sp), 0);
    ck_assert_str_eq(sp.magic, "REDQ");
    ck_assert_int_eq(sp.link_error, 0);

    /* locked from the first start: the random password nobody knows */
    assert_display_locked(&d, NULL);
    /* a session password opens it; a wrong one still does not */
    ck_assert_msg(hv_desktop_set_password(hv, "local", names[0], "s3ss10n-long-pw",
                                          pt_time_wall_ms() / 1000 + 120, &err) == 0,
                  "%s", err.msg);
    assert_display_locked(&d, "s3ss10n-long-pw");
    /* an expired password opens nothing */
    ck_assert_msg(hv_desktop_set_password(hv, "local", names[0], "0ld-one",
                                          pt_time_wall_ms() / 1000 - 10, &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(probe_vnc_auth(d.vnc_port, "0ld-one", &v), 0);
    ck_assert_int_eq(v.result, 1);

    t = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_revert(hv, "local", names[0], &err) == 0, "%s", err.msg);
    fprintf(stderr, "hv_qemu: revert (fresh overlay, running) %lld ms\n", (long long)ms_since(t));
    ck_assert_msg(hv_desktop_get(hv, "local", names[0], &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_RUNNING);
    ck_assert_msg(hv_desktop_display(hv, "local", names[0], &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(probe_vnc_banner(d.vnc_port, banner), 0);
    ck_assert_str_eq(banner, "RFB 003.008\n");

    t = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_park(hv, "local", names[0], &err) == 0, "%s", err.msg);
    fprintf(stderr, "hv_qemu: park (managed save) %lld ms\n", (long long)ms_since(t));
    ck_assert_msg(hv_desktop_get(hv, "local", names[0], &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_SAVED);
    t = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_resume(hv, "local", names[0], &err) == 0, "%s", err.msg);
    fprintf(stderr, "hv_qemu: resume (restore) %lld ms\n", (long long)ms_since(t));
    ck_assert_msg(hv_desktop_get(hv, "local", names[0], &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_RUNNING);
    ck_assert_msg(hv_desktop_display(hv, "local", names[0], &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(probe_spice(d.spice_port, NULL, &sp), 0);
    ck_assert_str_eq(sp.magic, "REDQ");

    t = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_destroy(hv, "local", names[0], &err) == 0, "%s", err.msg);
    fprintf(stderr, "hv_qemu: destroy %lld ms\n", (long long)ms_since(t));
    ck_assert(hvt_wait_event(hv, HV_EVENT_DESKTOP_STOPPED, names[0], 5000));
    ck_assert_msg(hv_desktop_delete(hv, "local", names[0], &err) == 0, "%s", err.msg);
    assert_gone(names[0], overlays[0]);
}
END_TEST

/* A guest defined without a password, as libvirt does by default: VNC offers type 1. */
START_TEST(test_vnc_without_a_password_offers_none_where_portico_offers_only_vnc_auth)
{
    char xml[1024];
    virConnectPtr c;
    virDomainPtr d;
    struct hv_display disp;
    struct hv_desktop_spec s = spec(names[1]);
    struct probe_vnc v = {0};
    struct pt_err err = {0};
    int port = 0;

    virSetErrorFunc(NULL, virt_quiet);
    c = virConnectOpen("qemu:///system");
    ck_assert_ptr_nonnull(c);
    /* diskless and transient: SeaBIOS, gone on destroy even if an assertion fails below */
    snprintf(xml, sizeof(xml),
             "<domain type='%s'><name>%s-plain</name><memory unit='MiB'>32</memory>"
             "<os><type>hvm</type></os><devices><graphics type='vnc' autoport='yes'/>"
             "</devices></domain>",
             tf_guest_domain_type(), names[1]);
    d = virDomainCreateXML(c, xml, 0);
    ck_assert_ptr_nonnull(d);
    {
        char *live = virDomainGetXMLDesc(d, 0), *p = live ? strstr(live, "port='") : NULL;

        if (p)
            port = atoi(p + 6);
        free(live);
    }
    if (port > 0)
        probe_vnc_auth(port, NULL, &v);
    virDomainDestroy(d);
    virDomainFree(d);
    virConnectClose(c);
    ck_assert_int_gt(port, 0);
    ck_assert_int_eq(v.ntypes, 1);
    ck_assert_int_eq(v.types[0], 1); /* None: anyone who knows the port is in */

    ck_assert_msg(hv_desktop_create(hv, "local", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "local", names[1], &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_display(hv, "local", names[1], &disp, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(probe_vnc_auth(disp.vnc_port, NULL, &v), 0);
    ck_assert_int_eq(v.ntypes, 1);
    ck_assert_int_eq(v.types[0], 2); /* VNC authentication only */

    /* QEMU killed under libvirt's feet: the pool hears CRASHED on its own loop */
    {
        char pidfile[300], buf[32] = "";
        FILE *f;

        snprintf(pidfile, sizeof(pidfile), "/run/libvirt/qemu/%s.pid", names[1]);
        f = fopen(pidfile, "r");
        ck_assert_msg(f, "no pid file %s", pidfile);
        ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
        fclose(f);
        ck_assert_int_gt(atoi(buf), 1);
        ck_assert_int_eq(kill(atoi(buf), SIGKILL), 0);
        ck_assert(hvt_wait_event(hv, HV_EVENT_DESKTOP_CRASHED, names[1], 5000));
    }
}
END_TEST

START_TEST(test_snapshot_revert_and_shutdown_deadline_on_real_qemu)
{
    struct hv_desktop_spec s = spec(names[1]);
    struct hv_desktop_info di;
    struct hv_display d;
    struct pt_err err = {0};
    char banner[13];
    int64_t t;

    hv_set_revert_mode(hv, HV_REVERT_SNAPSHOT);
    ck_assert_msg(hv_desktop_create(hv, "local", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "local", names[1], &err) == 0, "%s", err.msg);
    t = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_revert(hv, "local", names[1], &err) == 0, "%s", err.msg);
    fprintf(stderr, "hv_qemu: revert (internal snapshot, running) %lld ms\n",
            (long long)ms_since(t));
    ck_assert_msg(hv_desktop_display(hv, "local", names[1], &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(probe_vnc_banner(d.vnc_port, banner), 0);
    ck_assert_str_eq(banner, "RFB 003.008\n");
    /* SeaBIOS with no OS ignores ACPI: the deadline must end it */
    t = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_shutdown(hv, "local", names[1], 300, &err) == 0, "%s", err.msg);
    ck_assert_int_ge(ms_since(t), 300);
    ck_assert_msg(hv_desktop_get(hv, "local", names[1], &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_SHUTOFF);
    ck_assert_msg(hv_desktop_delete(hv, "local", names[1], &err) == 0, "%s", err.msg);
    assert_gone(names[1], overlays[1]);
}
END_TEST

START_TEST(test_lost_host_goes_down_and_comes_back_up)
{
    struct pt_err err = {0};
    struct hv_desktop_info *l = NULL;
    size_t n;
    char sock[256], uri[320];
    struct cutproxy *p;
    struct hv_host_conf c = {.name = "remote"};

    snprintf(sock, sizeof(sock), "/tmp/hvit-cut-%d.sock", (int)getpid());
    p = cutproxy_start(sock, "/var/run/libvirt/libvirt-sock");
    ck_assert_ptr_nonnull(p);
    snprintf(uri, sizeof(uri), "qemu+unix:///system?socket=%s", sock);
    c.uri = uri;
    hv_set_retry_ms(hv, 100);
    hv_set_keepalive(hv, 1, 1);
    ck_assert_msg(hv_host_add(hv, &c, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_list(hv, "remote", &l, &n, &err) == 0, "%s", err.msg);
    free(l);
    cutproxy_cut(p);
    ck_assert_msg(hvt_wait_event(hv, HV_EVENT_HOST_DOWN, NULL, 5000), "no HOST_DOWN");
    ck_assert_int_eq(hv_desktop_list(hv, "remote", &l, &n, &err), -1);
    ck_assert_int_eq(err.code, PT_E_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "host remote is down"), "%s", err.msg);
    ck_assert_int_eq(cutproxy_mend(p), 0);
    ck_assert_msg(hvt_wait_event(hv, HV_EVENT_HOST_UP, NULL, 5000), "no HOST_UP");
    ck_assert_msg(hv_desktop_list(hv, "remote", &l, &n, &err) == 0, "%s", err.msg);
    free(l);
    /* a host that hangs instead of closing: only keepalive (1 s here) can tell */
    cutproxy_freeze(p);
    ck_assert_msg(hvt_wait_event(hv, HV_EVENT_HOST_DOWN, NULL, 8000), "keepalive missed a hang");
    ck_assert_int_eq(hv_desktop_list(hv, "remote", &l, &n, &err), -1);
    ck_assert_msg(strstr(err.msg, "keepalive"), "%s", err.msg);
    ck_assert_int_eq(cutproxy_mend(p), 0);
    ck_assert_msg(hvt_wait_event(hv, HV_EVENT_HOST_UP, NULL, 5000), "no HOST_UP after the hang");
    cutproxy_stop(p);
    unlink(sock);
}
END_TEST

START_TEST(test_hung_host_does_not_block_host_add_and_comes_up_later)
{
    struct pt_err err = {0};
    struct hv_desktop_info *l = NULL;
    size_t n;
    char sock[256], uri[320];
    struct cutproxy *p;
    struct hv_host_conf c = {.name = "hung"};
    int64_t t0;

    snprintf(sock, sizeof(sock), "/tmp/hvit-hung-%d.sock", (int)getpid());
    p = cutproxy_start(sock, "/var/run/libvirt/libvirt-sock");
    ck_assert_ptr_nonnull(p);
    cutproxy_hold(p); /* the socket accepts; nobody ever answers */
    snprintf(uri, sizeof(uri), "qemu+unix:///system?socket=%s", sock);
    c.uri = uri;
    hv_set_retry_ms(hv, 100);
    hv_set_connect_wait_ms(hv, 300);
    t0 = pt_time_mono_ms();
    ck_assert_msg(hv_host_add(hv, &c, &err) == 0, "%s", err.msg);
    ck_assert_int_lt(ms_since(t0), 2000);
    ck_assert_int_eq(hv_desktop_list(hv, "hung", &l, &n, &err), -1);
    ck_assert_int_eq(err.code, PT_E_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "still connecting"), "%s", err.msg);
    /* other hosts are not held up meanwhile */
    ck_assert_msg(hv_desktop_list(hv, "local", &l, &n, &err) == 0, "%s", err.msg);
    free(l);
    cutproxy_mend(p); /* the stuck open fails, the next attempt goes through */
    ck_assert_msg(hvt_wait_event(hv, HV_EVENT_HOST_UP, NULL, 8000), "no HOST_UP");
    ck_assert_msg(hv_desktop_list(hv, "hung", &l, &n, &err) == 0, "%s", err.msg);
    free(l);
    cutproxy_stop(p);
}
END_TEST

Suite *hv_qemu_suite(void);
Suite *
hv_qemu_suite(void)
{
    Suite *s = suite_create("hv_qemu");
    TCase *tc = tcase_create("qemu");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_desktop_lifecycle_on_real_qemu_leaves_nothing_behind);
    tcase_add_test(tc, test_vnc_without_a_password_offers_none_where_portico_offers_only_vnc_auth);
    tcase_add_test(tc, test_snapshot_revert_and_shutdown_deadline_on_real_qemu);
    tcase_add_test(tc, test_lost_host_goes_down_and_comes_back_up);
    tcase_add_test(tc, test_hung_host_does_not_block_host_add_and_comes_up_later);
    suite_add_tcase(s, tc);
    return s;
}
