/*
 * test_hv_migrate.c - host drain for real: a running QEMU guest live-migrates from host a
 * to host b through hv_desktop_migrate(). Each host is an independent system libvirtd in
 * its own mount + UTS namespace (scripts/fixtures/libvirtd2.sh: its own host UUID,
 * hostname, state and image directory) - not the shared system libvirtd, where other
 * tests' desktops would make "a has no desktops left" untrue. Its display answers
 * on b with the session password it had on a, it is gone from a (domain and overlay), and
 * hv_host_list() reports a as drained.
 *
 * Storage is not shared: b sees the golden image at the same path (bound read-only into
 * its private copy of the image directory) but not a's overlays, like two hosts with a
 * local image cache; the migration copies the overlay (NON_SHARED_INC).
 *
 * The daemons are started and stopped by PID in the unchecked fixture (the parent
 * process), so a crashed test still stops them; the checked teardown deletes the desktop on
 * both hosts. Cold start of the daemon probes QEMU (~8 s); its capability cache is kept in
 * ${PORTICO_STATE:-/var/tmp/portico}/libvirtd2-cache so later runs start it in ~0.3 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <libvirt/libvirt.h>

#include "common/mem.h"
#include "common/str.h"
#include "hv_priv.h"
#include "hvt.h"
#include "probe.h"
#include "tsupport/fixture.h"

Suite *hv_migrate_suite(void);

static const char *golden;
static struct tf_host2 hosts[2]; /* host a, host b: libvirtd2.sh instances 1 and 2 */
static struct hv *hv;
static char name[64];

static void
hosts_down(void)
{
    tf_host2_stop(&hosts[0]);
    tf_host2_stop(&hosts[1]);
}

/* Unchecked (parent process): the golden image, then hosts a and b. */
static void
hosts_up(void)
{
    struct pt_err err = {0};

    tf_host2_reap_stale("mig");
    golden = tf_guest_base_image(&err);
    ck_assert_msg(golden, "%s", err.msg);
    for (int i = 0; i < 2; i++)
        if (tf_host2_start(&hosts[i], "mig", i + 1, (char)('a' + i), golden, &err) < 0) {
            hosts_down();
            ck_abort_msg("%s", err.msg);
        }
}

/* Where host @i keeps the overlay of @name: its private copy of the golden's directory. */
static void
overlay_path(int i, char *out, size_t n)
{
    snprintf(out, n, "%s/files/0/%s.qcow2", hosts[i].dir, name);
}

static void
setup(void)
{
    struct pt_err err = {0};
    struct hv_host_conf a = {.name = "a", .uri = hosts[0].uri, .mem_reserve_mib = 256};
    struct hv_host_conf b = {.name = "b", .uri = hosts[1].uri, .mem_reserve_mib = 256};

    hv = hv_new(&err);
    ck_assert_msg(hv, "%s", err.msg);
    ck_assert_msg(hv_host_add(hv, &a, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_host_add(hv, &b, &err) == 0, "%s", err.msg);
    /* host b again under a memory reserve no desktop fits in: a full target */
    b.name = "b-full";
    b.mem_reserve_mib = 1 << 30;
    ck_assert_msg(hv_host_add(hv, &b, &err) == 0, "%s", err.msg);
    snprintf(name, sizeof(name), "hvmig-%d-%d", (int)getpid(), (int)(pt_time_wall_ms() % 100000));
}

static void
teardown(void)
{
    struct pt_err err = {0};

    if (hv_desktop_delete(hv, "a", name, &err) < 0)
        fprintf(stderr, "teardown a: %s\n", err.msg);
    if (hv_desktop_delete(hv, "b", name, &err) < 0)
        fprintf(stderr, "teardown b: %s\n", err.msg);
    hv_free(hv);
    hv = NULL;
}

static int
host_desktops(const char *host, struct hv_host_info *out)
{
    struct pt_err err = {0};
    struct hv_host_info *hs = NULL;
    size_t n = 0;
    int found = -1;

    ck_assert_msg(hv_host_list(hv, &hs, &n, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        if (strcmp(hs[i].name, host) == 0) {
            *out = hs[i];
            found = hs[i].desktops;
        }
    free(hs);
    ck_assert_msg(found >= 0, "host %s not listed", host);
    return found;
}

START_TEST(test_running_desktop_live_migrates_to_another_host_and_drains_the_first)
{
    struct pt_err err = {0};
    struct hv_desktop_spec s = {
        .name = name,
        .pool = "mig",
        .desktop_id = name,
        .image_version = "base-64M",
        .golden_path = golden,
        .vcpus = 1,
        .memory_mib = 128,
        .protocols = HV_PROTO_SPICE | HV_PROTO_VNC,
        .domain_type = tf_guest_domain_type(),
    };
    struct hv_desktop_info info;
    struct hv_display da, db;
    struct hv_host_info ha, hb;
    struct probe_vnc v;
    char banner[13], a_overlay[1100], b_overlay[1100];
    struct stat st;
    int64_t t0, ms;

    /* PORTICO_MIG_MEM_MIB: size the guest for a timing run (default 128) */
    if (getenv("PORTICO_MIG_MEM_MIB"))
        s.memory_mib = atoi(getenv("PORTICO_MIG_MEM_MIB"));
    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "a", name, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_set_password(hv, "a", name, "mig-pw-1", 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_display(hv, "a", name, &da, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(probe_vnc_banner(da.vnc_port, banner), 0);
    ck_assert_str_eq(banner, "RFB 003.008\n");
    ck_assert_int_eq(host_desktops("a", &ha), 1);
    overlay_path(0, a_overlay, sizeof(a_overlay));
    overlay_path(1, b_overlay, sizeof(b_overlay));
    ck_assert_msg(stat(a_overlay, &st) == 0, "no overlay %s on host a", a_overlay);

    /* drain a: no new desktops there, and it is no migration target */
    ck_assert_msg(hv_host_set_draining(hv, "a", true, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(hv_desktop_migrate(hv, "b", name, "a", &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);

    t0 = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_migrate(hv, "a", name, "b", &err) == 0, "%s", err.msg);
    ms = pt_time_mono_ms() - t0;
    fprintf(stderr, "test_hv_migrate: live migration of a %d MiB %s guest a -> b: %lld ms\n",
            s.memory_mib, s.domain_type, (long long)ms);

    /* on b, running, with its metadata */
    ck_assert_msg(hv_desktop_get(hv, "b", name, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.state, HV_DOMAIN_RUNNING);
    ck_assert_str_eq(info.pool, "mig");
    ck_assert_str_eq(info.desktop_id, name);
    ck_assert_str_eq(info.host, "b");

    /* its display answers on b, locked, and takes the session password it had on a */
    ck_assert_msg(hv_desktop_display(hv, "b", name, &db, &err) == 0, "%s", err.msg);
    ck_assert_msg(db.vnc_port >= hosts[1].ports[0] && db.vnc_port <= hosts[1].ports[1],
                  "VNC port %d is not in host b's range %d-%d", db.vnc_port, hosts[1].ports[0],
                  hosts[1].ports[1]);
    ck_assert_int_eq(probe_vnc_banner(db.vnc_port, banner), 0);
    ck_assert_str_eq(banner, "RFB 003.008\n");
    ck_assert_int_eq(probe_vnc_auth(db.vnc_port, "wrong-pw", &v), 0);
    ck_assert_int_eq(v.result, 1);
    ck_assert_int_eq(probe_vnc_auth(db.vnc_port, "mig-pw-1", &v), 0);
    ck_assert_msg(v.result == 0, "VNC on b refused the session password set on a");
    /* and a fresh password is set on b */
    ck_assert_msg(hv_desktop_set_password(hv, "b", name, "mig-pw-2", 0, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(probe_vnc_auth(db.vnc_port, "mig-pw-2", &v), 0);
    ck_assert_int_eq(v.result, 0);

    /* gone from a: no domain, no overlay left in a's image directory */
    ck_assert_int_eq(hv_desktop_get(hv, "a", name, &info, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_msg(stat(a_overlay, &st) < 0, "overlay %s was left on host a", a_overlay);
    /* b holds its own copy of the overlay (its private image directory) */
    ck_assert_msg(stat(b_overlay, &st) == 0, "no overlay %s on host b", b_overlay);

    /* the drain report: a is draining and has no Portico desktop left */
    ck_assert_int_eq(host_desktops("a", &ha), 0);
    ck_assert(ha.draining);
    ck_assert(ha.up);
    ck_assert_int_eq(host_desktops("b", &hb), 1);
    ck_assert_int_eq(hb.running, 1);

    /* delete on b leaves nothing there either */
    ck_assert_msg(hv_desktop_delete(hv, "b", name, &err) == 0, "%s", err.msg);
    ck_assert_msg(stat(b_overlay, &st) < 0, "overlay %s left on host b", b_overlay);
    ck_assert_int_eq(host_desktops("b", &hb), 0);
}
END_TEST

static struct hv_desktop_spec
spec(void)
{
    struct hv_desktop_spec s = {
        .name = name,
        .pool = "mig",
        .desktop_id = name,
        .image_version = "base-64M",
        .golden_path = golden,
        .vcpus = 1,
        .memory_mib = 64,
        .protocols = HV_PROTO_VNC,
        .domain_type = tf_guest_domain_type(),
    };
    return s;
}

/* qemu-io on an overlay file (root's view: its backing path is the real golden): 0 if
 * the write or the pattern read succeeded. */
static int
qemu_io(const char *path, const char *op)
{
    char cmd[1400], out[4096] = "";
    size_t n;
    FILE *f;

    snprintf(cmd, sizeof(cmd), "qemu-io -f qcow2 -c '%s' '%s' 2>&1", op, path);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    pclose(f);
    if (strstr(out, "Pattern verification failed") || strstr(out, "failed"))
        return -1;
    return strstr(out, strncmp(op, "write", 5) == 0 ? "wrote " : "read ") ? 0 : -1;
}

START_TEST(test_stopped_desktop_moves_with_the_data_in_its_overlay)
{
    struct pt_err err = {0};
    struct hv_desktop_spec s = spec();
    struct hv_desktop_info info;
    struct hv_display d;
    struct hv_host_info h;
    char banner[13], a_overlay[1100], b_overlay[1100];
    struct stat st;
    int64_t t0;

    overlay_path(0, a_overlay, sizeof(a_overlay));
    overlay_path(1, b_overlay, sizeof(b_overlay));
    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    /* the user's data: 64 KiB of 0x5a at 1 MiB, in the overlay only */
    ck_assert_int_eq(qemu_io(a_overlay, "write -P 0x5a 1M 64k"), 0);
    /* a full target is refused before anything moves */
    ck_assert_int_eq(hv_desktop_migrate(hv, "a", name, "b-full", &err), -1);
    ck_assert_int_eq(err.code, PT_E_LIMIT);
    ck_assert_msg(strstr(err.msg, "b-full") && strstr(err.msg, "reserve"), "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", name, &info, &err) == 0, "%s", err.msg);
    ck_assert_msg(stat(b_overlay, &st) < 0, "refused migration left overlay %s", b_overlay);
    t0 = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_migrate(hv, "a", name, "b", &err) == 0, "%s", err.msg);
    fprintf(stderr, "test_hv_migrate: offline migration (definition + overlay copy): %lld ms\n",
            (long long)(pt_time_mono_ms() - t0));
    ck_assert_msg(stat(a_overlay, &st) < 0, "overlay %s was left on host a", a_overlay);
    ck_assert_int_eq(qemu_io(b_overlay, "read -P 0x5a 1M 64k"), 0);
    ck_assert_msg(qemu_io(b_overlay, "read -P 0x5a 2M 64k") != 0, "pattern check cannot fail");
    ck_assert_msg(hv_desktop_get(hv, "b", name, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.state, HV_DOMAIN_SHUTOFF);
    ck_assert_int_eq(host_desktops("a", &h), 0);
    /* and it starts there */
    ck_assert_msg(hv_desktop_start(hv, "b", name, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_display(hv, "b", name, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(probe_vnc_banner(d.vnc_port, banner), 0);
    ck_assert_str_eq(banner, "RFB 003.008\n");
}
END_TEST

START_TEST(test_a_migration_past_its_deadline_is_aborted_and_the_desktop_stays)
{
    struct pt_err err = {0};
    struct hv_desktop_spec s = spec();
    struct hv_desktop_info info;
    struct hv_host_info h;
    struct hv_display d;
    char banner[13], a_overlay[1100], b_overlay[1100];
    struct stat st;

    overlay_path(0, a_overlay, sizeof(a_overlay));
    overlay_path(1, b_overlay, sizeof(b_overlay));
    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "a", name, &err) == 0, "%s", err.msg);
    /* 1 ms: the abort lands while the destination is still being prepared or copied */
    hv_set_migrate_timeout_ms(hv, 1);
    ck_assert_int_eq(hv_desktop_migrate(hv, "a", name, "b", &err), -1);
    ck_assert_msg(err.code == PT_E_TIMEOUT, "code %d: %s", err.code, err.msg);
    ck_assert_msg(strstr(err.msg, "aborted after 1 ms"), "%s", err.msg);
    fprintf(stderr, "test_hv_migrate: deadline: %s\n", err.msg);
    /* still running on a, with its overlay; nothing on b */
    ck_assert_msg(hv_desktop_get(hv, "a", name, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.state, HV_DOMAIN_RUNNING);
    ck_assert_msg(stat(a_overlay, &st) == 0, "overlay %s lost on host a", a_overlay);
    ck_assert_int_eq(hv_desktop_get(hv, "b", name, &info, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_msg(stat(b_overlay, &st) < 0, "aborted migration left overlay %s", b_overlay);
    ck_assert_int_eq(host_desktops("b", &h), 0);
    ck_assert_msg(hv_desktop_display(hv, "a", name, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(probe_vnc_banner(d.vnc_port, banner), 0);
    /* and with time enough it moves */
    hv_set_migrate_timeout_ms(hv, 30000);
    ck_assert_msg(hv_desktop_migrate(hv, "a", name, "b", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(host_desktops("a", &h), 0);
}
END_TEST

START_TEST(test_a_domain_without_portico_metadata_is_never_migrated)
{
    struct pt_err err = {0};
    char xml[512], foreign[80];
    virConnectPtr c = virConnectOpen(hosts[0].uri);
    virDomainPtr d, d2;

    ck_assert_ptr_nonnull(c);
    snprintf(foreign, sizeof(foreign), "%s-foreign", name);
    snprintf(xml, sizeof(xml),
             "<domain type='%s'><name>%s</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
             "<os><type>hvm</type></os></domain>",
             tf_guest_domain_type(), foreign);
    d = virDomainDefineXML(c, xml);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(hv_desktop_migrate(hv, "a", foreign, "b", &err), -1);
    /* as for hv_desktop_get(): a domain without Portico metadata is no desktop */
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "not a Portico desktop"), "%s", err.msg);
    d2 = virDomainLookupByName(c, foreign);
    ck_assert_msg(d2 != NULL, "the foreign domain was touched");
    virDomainFree(d2);
    virDomainUndefine(d);
    virDomainFree(d);
    virConnectClose(c);
}
END_TEST

START_TEST(test_parked_desktop_arrives_parked_with_its_memory)
{
    struct pt_err err = {0};
    struct hv_desktop_spec s = spec();
    struct hv_desktop_info info;
    struct hv_host_info h;
    struct hv_display d;
    char banner[13];
    int64_t t0;

    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "a", name, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_park(hv, "a", name, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", name, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(info.state, HV_DOMAIN_SAVED);
    t0 = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_migrate(hv, "a", name, "b", &err) == 0, "%s", err.msg);
    fprintf(stderr, "test_hv_migrate: parked desktop (resume, live, park): %lld ms\n",
            (long long)(pt_time_mono_ms() - t0));
    /* an offline move would arrive shut off: the session gone */
    ck_assert_msg(hv_desktop_get(hv, "b", name, &info, &err) == 0, "%s", err.msg);
    ck_assert_msg(info.state == HV_DOMAIN_SAVED, "parked desktop arrived %s",
                  hv_domain_state_str(info.state));
    ck_assert_int_eq(host_desktops("a", &h), 0);
    ck_assert_msg(hv_desktop_resume(hv, "b", name, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_display(hv, "b", name, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(probe_vnc_banner(d.vnc_port, banner), 0);
    ck_assert_str_eq(banner, "RFB 003.008\n");
}
END_TEST

Suite *
hv_migrate_suite(void)
{
    Suite *s = suite_create("hv_migrate");
    TCase *tc = tcase_create("two_hosts");

    tcase_add_unchecked_fixture(tc, hosts_up, hosts_down);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 50);
    tcase_add_test(tc, test_running_desktop_live_migrates_to_another_host_and_drains_the_first);
    tcase_add_test(tc, test_stopped_desktop_moves_with_the_data_in_its_overlay);
    tcase_add_test(tc, test_parked_desktop_arrives_parked_with_its_memory);
    tcase_add_test(tc, test_a_domain_without_portico_metadata_is_never_migrated);
    tcase_add_test(tc, test_a_migration_past_its_deadline_is_aborted_and_the_desktop_stays);
    suite_add_tcase(s, tc);
    return s;
}
