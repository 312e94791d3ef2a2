/*
 * test_hv_errors.c - failures that must say what happened: an unreachable host, invalid
 * domain XML, a missing golden image, bad requests. Real libvirt (test:/// and a remote
 * URI to a socket that does not exist), no mocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/mem.h"
#include "hv_priv.h"
#include "hvt.h"

static struct hv *hv;
static char *uri;

static void
setup(void)
{
    struct pt_err err = {0};
    struct hv_host_conf a = {.name = "a"};
    struct hv_host_conf dead = {.name = "dead",
                                .uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock"};

    uri = hvt_node_write("errnode", "eng", 1, 1);
    a.uri = uri;
    hv = hv_new(&err);
    ck_assert_msg(hv, "hv_new: %s", err.msg);
    ck_assert_msg(hv_host_add(hv, &a, &err) == 0, "%s", err.msg);
    /* an unreachable host is added (down), so one dead host never stops a broker */
    ck_assert_msg(hv_host_add(hv, &dead, &err) == 0, "%s", err.msg);
}

static void
teardown(void)
{
    hv_free(hv);
    hv = NULL;
    free(uri);
}

START_TEST(test_unreachable_host_is_down_and_says_why)
{
    struct hv_desktop_spec s = hvt_spec("x-1", "eng", "desk-x-1");
    struct hv_host_info *l = NULL;
    struct hv_desktop_info *dl = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    ck_assert_int_eq(hv_desktop_create(hv, "dead", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "host dead is down"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "/nonexistent/libvirt-sock"), "names the socket: %s", err.msg);
    ck_assert_int_eq(hv_desktop_start(hv, "dead", "x-1", &err), -1);
    ck_assert_int_eq(err.code, PT_E_UNAVAILABLE);
    ck_assert_msg(hv_host_list(hv, &l, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 2);
    ck_assert(l[0].up);
    ck_assert(!l[1].up);
    free(l);
    /* listing everything skips the down host instead of failing */
    ck_assert_msg(hv_desktop_list(hv, NULL, &dl, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 1);
    free(dl);
    ck_assert_int_eq(hv_desktop_list(hv, "dead", &dl, &n, &err), -1);
    ck_assert_int_eq(err.code, PT_E_UNAVAILABLE);
}
END_TEST

START_TEST(test_background_retry_keeps_a_dead_host_down_without_events)
{
    struct pt_err err = {0};

    hv_set_retry_ms(hv, 20);
    ck_assert(!hvt_wait_event(hv, HV_EVENT_HOST_UP, NULL, 300));
    ck_assert_int_eq(hv_desktop_start(hv, "dead", "x-1", &err), -1);
    ck_assert_int_eq(err.code, PT_E_UNAVAILABLE);
}
END_TEST

START_TEST(test_unknown_host_is_not_found)
{
    struct pt_err err = {0};

    ck_assert_int_eq(hv_desktop_start(hv, "nope", "x-1", &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_str_eq(err.msg, "no host named nope");
}
END_TEST

START_TEST(test_invalid_template_xml_is_refused_with_libvirts_reason)
{
    struct hv_desktop_spec s = hvt_spec("bad-1", "eng", "desk-bad-1");
    struct hv_desktop_info *dl = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    s.template_xml = "<domain type='test'><name>${NAME}</name><memory>oops</memory>"
                     "<devices><disk type='file'><source file='${DISK}'/></disk></devices>";
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_msg(strstr(err.msg, "template XML: no </domain>"), "%s", err.msg);

    s.template_xml = "<domain type='test'><name>${NAME}</name><memory unit='MiB'>lots</memory>"
                     "<os><type>hvm</type></os></domain>";
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_msg(strstr(err.msg, "host a: cannot define desktop (domain XML refused)"), "%s",
                  err.msg);
    ck_assert_msg(strstr(err.msg, "memory"), "libvirt's reason is kept: %s", err.msg);

    s.template_xml = "<domain type='test'><name>${NAME}</name><memory>${MEMORY}</memory></domain>";
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_msg(strstr(err.msg, "unknown placeholder ${MEMORY}"), "%s", err.msg);

    /* nothing half-made is left: no domain */
    ck_assert_msg(hv_desktop_list(hv, "a", &dl, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 1);
    free(dl);
}
END_TEST

START_TEST(test_valid_template_gets_metadata_and_a_locked_display)
{
    struct hv_desktop_spec s = hvt_spec("tpl-1", "eng", "desk-tpl-1");
    struct hv_desktop_info di;
    struct hv_display d;
    struct pt_err err = {0};

    s.template_xml = "<domain type='${DOMAIN_TYPE}'><name>${NAME}</name>"
                     "<memory unit='MiB'>${MEMORY_MIB}</memory><vcpu>${VCPUS}</vcpu>"
                     "<os><type>hvm</type></os><devices>"
                     "<disk type='file' device='disk'><source file='${DISK}'/>"
                     "<target dev='hda'/></disk>"
                     "<graphics type='vnc' port='25999' autoport='no' listen='127.0.0.1'/>"
                     "</devices></domain>";
    s.memory_mib = 256;
    s.vcpus = 2;
    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", "tpl-1", &di, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(di.desktop_id, "desk-tpl-1");
    ck_assert_int_eq(di.vcpus, 2);
    ck_assert_int_eq(di.memory_kib, 256 * 1024);
    ck_assert_msg(hv_desktop_start(hv, "a", "tpl-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_display(hv, "a", "tpl-1", &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.vnc_port, 25999);
    ck_assert_int_eq(d.spice_port, 0);
}
END_TEST

START_TEST(test_rdp_host_is_the_guests_own_address_when_libvirt_knows_it)
{
    struct hv_desktop_spec s = hvt_spec("rdp-1", "eng", "desk-rdp-1");
    struct hv_display d;
    struct pt_err err = {0};

    /* the test driver invents a lease address for each interface */
    s.template_xml = "<domain type='test'><name>${NAME}</name><memory unit='MiB'>128</memory>"
                     "<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
                     "<source file='${DISK}'/><target dev='hda'/></disk>"
                     "<interface type='network'><source network='default'/>"
                     "<mac address='52:54:00:12:34:56'/></interface></devices></domain>";
    s.protocols = HV_PROTO_RDP;
    s.rdp_port = 3390;
    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "a", "rdp-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_display(hv, "a", "rdp-1", &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(d.rdp_port, 3390);
    ck_assert_int_eq(d.vnc_port, 0);
    ck_assert_str_eq(d.host, "127.0.0.1");
    ck_assert_msg(strcmp(d.rdp_host, "127.0.0.1") != 0 && strchr(d.rdp_host, '.'), "rdp_host=%s",
                  d.rdp_host);
}
END_TEST

START_TEST(test_missing_golden_image_is_named)
{
    struct hv_desktop_spec s = hvt_spec("ng-1", "eng", "desk-ng-1");
    struct pt_err err = {0};

    s.golden_path = "/golden/no-such-image.qcow2";
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "golden image /golden/no-such-image.qcow2 not found"), "%s",
                  err.msg);
    s.golden_path = "/no/such/dir/base.qcow2";
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_msg(strstr(err.msg, "/no/such/dir/base.qcow2"), "%s", err.msg);
}
END_TEST

START_TEST(test_bad_requests_are_refused_before_libvirt)
{
    struct hv_desktop_spec s = hvt_spec("ok-1", "eng", "desk-ok-1");
    struct pt_err err = {0};

    s.name = "bad name/../x";
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_msg(strstr(err.msg, "desktop name 'bad name/../x' is invalid"), "%s", err.msg);
    s.name = "ok-1";
    s.memory_mib = 1;
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_msg(strstr(err.msg, "memory"), "%s", err.msg);
    s.memory_mib = 128;
    s.protocols = HV_PROTO_RDP;
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_msg(strstr(err.msg, "RDP needs a port"), "%s", err.msg);
    s.protocols = HV_PROTO_VNC;
    s.desktop_id = "";
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_msg(strstr(err.msg, "desktop id are required"), "%s", err.msg);
    ck_assert_int_eq(hv_desktop_set_password(hv, "a", "errnode-0001", "", 0, &err), -1);
    ck_assert_msg(strstr(err.msg, "1-60 bytes"), "%s", err.msg);
    ck_assert_int_eq(hv_desktop_set_password(hv, "a", "errnode-0001", "a\nb", 0, &err), -1);
    ck_assert_msg(strstr(err.msg, "control character"), "%s", err.msg);
    ck_assert_int_eq(hv_desktop_shutdown(hv, "a", "errnode-0001", -5, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
}
END_TEST

START_TEST(test_duplicate_host_and_duplicate_desktop_conflict)
{
    struct hv_host_conf a = {.name = "a", .uri = "test:///default"};
    struct hv_desktop_spec s = hvt_spec("errnode-0002", "eng", "desk-dup");
    struct pt_err err = {0};

    ck_assert_int_eq(hv_host_add(hv, &a, &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_int_eq(hv_desktop_create(hv, "a", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_msg(strstr(err.msg, "errnode-0002 already exists on host a"), "%s", err.msg);
}
END_TEST

START_TEST(test_snapshot_revert_mode_restores_the_golden_snapshot)
{
    struct hv_desktop_spec s = hvt_spec("snap-1", "eng", "desk-snap-1");
    struct hv_desktop_info di;
    struct pt_err err = {0};

    hv_set_revert_mode(hv, HV_REVERT_SNAPSHOT);
    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "a", "snap-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_revert(hv, "a", "snap-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", "snap-1", &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_RUNNING);
    ck_assert_msg(hv_desktop_delete(hv, "a", "snap-1", &err) == 0, "%s", err.msg);
}
END_TEST

START_TEST(test_password_on_a_driver_without_device_update_says_so)
{
    struct pt_err err = {0};

    /* the test driver has no virDomainUpdateDeviceFlags: the layer passes libvirt's word on */
    ck_assert_int_eq(hv_desktop_set_password(hv, "a", "errnode-0001", "pw", 0, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_msg(strstr(err.msg, "cannot set the spice password of errnode-0001"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "not supported"), "%s", err.msg);
}
END_TEST

Suite *hv_errors_suite(void);
Suite *
hv_errors_suite(void)
{
    Suite *s = suite_create("hv_errors");
    TCase *tc = tcase_create("errors");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_unreachable_host_is_down_and_says_why);
    tcase_add_test(tc, test_background_retry_keeps_a_dead_host_down_without_events);
    tcase_add_test(tc, test_unknown_host_is_not_found);
    tcase_add_test(tc, test_invalid_template_xml_is_refused_with_libvirts_reason);
    tcase_add_test(tc, test_valid_template_gets_metadata_and_a_locked_display);
    tcase_add_test(tc, test_missing_golden_image_is_named);
    tcase_add_test(tc, test_rdp_host_is_the_guests_own_address_when_libvirt_knows_it);
    tcase_add_test(tc, test_bad_requests_are_refused_before_libvirt);
    tcase_add_test(tc, test_duplicate_host_and_duplicate_desktop_conflict);
    tcase_add_test(tc, test_snapshot_revert_mode_restores_the_golden_snapshot);
    tcase_add_test(tc, test_password_on_a_driver_without_device_update_says_so);
    suite_add_tcase(s, tc);
    return s;
}
