/*
 * test_hv_xml.c - the XML the layer writes and the pieces it reads back (hv_xml.c), on
 * samples shaped like libvirt's own output.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/mem.h"
#include "common/str.h"
#include "hv_priv.h"
#include "hvt.h"

/* Live XML of a QEMU guest as libvirt 9.0 prints it (trimmed). */
static const char live_xml[] =
    "<domain type='kvm' id='7'>\n  <name>d1</name>\n  <devices>\n"
    "    <graphics type='spice' port='5900' autoport='yes' listen='127.0.0.1'>\n"
    "      <listen type='address' address='127.0.0.1'/>\n      <image compression='off'/>\n"
    "    </graphics>\n"
    "    <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'>\n"
    "      <listen type='address' address='127.0.0.1'/>\n    </graphics>\n"
    "    <graphics type='rdp' autoport='yes'><listen type='address' address='10.0.0.9'/>"
    "</graphics>\n  </devices>\n</domain>\n";

START_TEST(test_graphics_ports_are_read_from_live_xml)
{
    struct hv_graphics g[4];
    int n = hv_xml_graphics(live_xml, g, 4);

    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(g[0].type, "spice");
    ck_assert_int_eq(g[0].port, 5900);
    ck_assert_str_eq(g[0].listen, "127.0.0.1");
    ck_assert_str_eq(g[1].type, "vnc");
    ck_assert_int_eq(g[1].port, 5901);
    ck_assert_int_eq(g[2].port, -1); /* no port attribute */
    ck_assert_str_eq(g[2].listen, "10.0.0.9");
    ck_assert(strncmp(g[1].start, "<graphics type='vnc'", 20) == 0);
    ck_assert(g[1].len > 0 && memcmp(g[1].start + g[1].len - 11, "</graphics>", 11) == 0);
}
END_TEST

START_TEST(test_password_is_set_on_the_graphics_element_with_expiry)
{
    struct hv_graphics g[4];
    char *x;

    hv_xml_graphics(live_xml, g, 4);
    x = hv_xml_graphics_passwd(&g[1], "p&ss'", 1795000000);
    ck_assert_msg(strstr(x, "<graphics passwd='p&amp;ss&apos;' passwdValidTo='2026-11-18T"), "%s",
                  x);
    ck_assert_msg(strstr(x, "port='5901'"), "%s", x);
    ck_assert_msg(strstr(x, "<listen type='address' address='127.0.0.1'/>"), "%s", x);
    ck_assert_msg(strstr(x, "</graphics>"), "%s", x);
    pt_free_secret(x);
    /* an old password and expiry are replaced, not doubled */
    {
        const char *old = "<graphics type='vnc' port='5901' passwd='old' "
                          "passwdValidTo='2020-01-01T00:00:00'/>";
        struct hv_graphics o;

        ck_assert_int_eq(hv_xml_graphics(old, &o, 1), 1);
        x = hv_xml_graphics_passwd(&o, "new", 0);
        ck_assert_str_eq(x, "<graphics passwd='new' type='vnc' port='5901'/>");
        pt_free_secret(x);
    }
}
END_TEST

START_TEST(test_metadata_round_trips_with_escaping)
{
    struct hv_meta m = {0}, back;
    char *el;

    pt_strlcpy(m.pool, "R&D \"east\"", sizeof(m.pool));
    pt_strlcpy(m.desktop_id, "d<1>", sizeof(m.desktop_id));
    pt_strlcpy(m.image_version, "2026.11", sizeof(m.image_version));
    pt_strlcpy(m.overlay, "/var/lib/x/d1.qcow2", sizeof(m.overlay));
    m.rdp_port = 3389;
    el = hv_xml_meta_element(&m);
    ck_assert_msg(strstr(el, "xmlns:portico=\"https://portico.dev/xmlns/desktop/1\""), "%s", el);
    ck_assert_int_eq(hv_xml_meta_parse(el, &back), 0);
    ck_assert_str_eq(back.pool, m.pool);
    ck_assert_str_eq(back.desktop_id, m.desktop_id);
    ck_assert_str_eq(back.image_version, m.image_version);
    ck_assert_str_eq(back.overlay, m.overlay);
    ck_assert_int_eq(back.rdp_port, 3389);
    free(el);
    /* an element without an id is not ours */
    ck_assert_int_eq(hv_xml_meta_parse("<portico:desktop pool='x'/>", &back), -1);
}
END_TEST

START_TEST(test_generated_xml_locks_every_display_and_carries_metadata)
{
    struct hv_desktop_spec s = hvt_spec("g-1", "eng", "id-1");
    struct hv_meta m = {0};
    struct hv_xml_params p = {.spec = &s,
                              .domain_type = "qemu",
                              .disk_path = "/pool/g-1.qcow2",
                              .disk_format = "qcow2",
                              .init_passwd = "ABCDEFGHIJKLMNOP",
                              .meta = &m};
    struct pt_err err = {0};
    char *x;

    pt_strlcpy(m.desktop_id, "id-1", sizeof(m.desktop_id));
    x = hv_xml_domain(&p, &err);
    ck_assert_ptr_nonnull(x);
    ck_assert_msg(strstr(x, "<graphics type='spice' autoport='yes' passwd='ABCDEFGHIJKLMNOP'/>"),
                  "%s", x);
    /* VNC keys DES with 8 bytes: libvirt refuses a longer password */
    ck_assert_msg(strstr(x, "<graphics type='vnc' autoport='yes' passwd='ABCDEFGH'/>"), "%s", x);
    ck_assert_msg(strstr(x, "<metadata><portico:desktop"), "%s", x);
    ck_assert_msg(strstr(x, "bus='virtio'"), "%s", x);
    pt_free_secret(x);
    /* not QEMU: no virtio, no qxl, no QEMU driver name */
    p.domain_type = "xen";
    x = hv_xml_domain(&p, &err);
    ck_assert_msg(!strstr(x, "virtio") && !strstr(x, "qxl") && !strstr(x, "name='qemu'"), "%s", x);
    pt_free_secret(x);
}
END_TEST

START_TEST(test_template_gets_metadata_inside_existing_metadata_and_passwords)
{
    struct hv_desktop_spec s = hvt_spec("t-1", "eng", "id-1");
    struct hv_meta m = {0};
    struct hv_xml_params p = {.spec = &s,
                              .domain_type = "kvm",
                              .disk_path = "/p/t-1.qcow2",
                              .disk_format = "qcow2",
                              .init_passwd = "ABCDEFGHIJKLMNOP",
                              .meta = &m};
    struct pt_err err = {0};
    char *x;

    pt_strlcpy(m.desktop_id, "id-1", sizeof(m.desktop_id));
    s.template_xml = "<domain type='${DOMAIN_TYPE}'><name>${NAME}</name><metadata><x:y "
                     "xmlns:x='urn:x'/></metadata><devices><disk><source file='${DISK}'/></disk>"
                     "<graphics type='vnc'/><graphics type='spice' passwd='keep'/></devices>"
                     "</domain>";
    x = hv_xml_domain(&p, &err);
    ck_assert_ptr_nonnull(x);
    ck_assert_msg(strstr(x, "<domain type='kvm'><name>t-1</name><metadata><portico:desktop"), "%s",
                  x);
    ck_assert_msg(strstr(x, "<x:y xmlns:x='urn:x'/></metadata>"), "%s", x);
    ck_assert_msg(strstr(x, "<source file='/p/t-1.qcow2'/>"), "%s", x);
    ck_assert_msg(strstr(x, "<graphics passwd='ABCDEFGH' type='vnc'/>"), "%s", x);
    ck_assert_msg(strstr(x, "<graphics type='spice' passwd='keep'/>"), "%s", x);
    pt_free_secret(x);
}
END_TEST

START_TEST(test_template_rdp_port_is_substituted_only_for_rdp_desktops)
{
    struct hv_desktop_spec s = hvt_spec("t-2", "eng", "id-2");
    struct hv_meta m = {0};
    struct hv_xml_params p = {.spec = &s,
                              .domain_type = "qemu",
                              .disk_path = "/p/t-2.qcow2",
                              .disk_format = "qcow2",
                              .init_passwd = "ABCDEFGHIJKLMNOP",
                              .meta = &m};
    struct pt_err err = {0};
    char *x;

    s.template_xml = "<domain type='${DOMAIN_TYPE}'><name>${NAME}</name><devices/>"
                     "<qemu:arg value='user,hostfwd=tcp:127.0.0.1:${RDP_PORT}-:3389'/></domain>";
    s.protocols = HV_PROTO_VNC;
    ck_assert_ptr_null(hv_xml_domain(&p, &err));
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_msg(strstr(err.msg, "${RDP_PORT} but the desktop has no RDP port"), "%s", err.msg);

    s.protocols = HV_PROTO_VNC | HV_PROTO_RDP;
    s.rdp_port = 40123;
    x = hv_xml_domain(&p, &err);
    ck_assert_msg(x != NULL, "%s", err.msg);
    ck_assert_msg(strstr(x, "hostfwd=tcp:127.0.0.1:40123-:3389"), "%s", x);
    pt_free_secret(x);
}
END_TEST

START_TEST(test_template_without_metadata_still_gets_every_display_locked)
{
    struct hv_desktop_spec s = hvt_spec("t-3", "eng", "id-3");
    struct hv_meta m = {0};
    struct hv_xml_params p = {.spec = &s,
                              .domain_type = "qemu",
                              .disk_path = "/p/t-3.qcow2",
                              .disk_format = "qcow2",
                              .init_passwd = "ABCDEFGHIJKLMNOP",
                              .meta = &m};
    struct pt_err err = {0};
    char *x;

    /* found by the demo: with no <metadata> in the template, the displays stayed open */
    s.template_xml = "<domain type='${DOMAIN_TYPE}'><name>${NAME}</name><devices>"
                     "<graphics type='spice' autoport='yes'>\n<listen type='address'/>"
                     "</graphics><graphics type='vnc' autoport='yes'></graphics>"
                     "</devices></domain>";
    x = hv_xml_domain(&p, &err);
    ck_assert_msg(x != NULL, "%s", err.msg);
    ck_assert_msg(strstr(x, "<graphics passwd='ABCDEFGHIJKLMNOP' type='spice'"), "%s", x);
    ck_assert_msg(strstr(x, "<graphics passwd='ABCDEFGH' type='vnc'"), "%s", x);
    ck_assert_msg(strstr(x, "</devices><metadata><portico:desktop"), "%s", x);
    pt_free_secret(x);
}
END_TEST

START_TEST(test_best_domain_type_prefers_kvm_then_qemu)
{
    char t[16];

    ck_assert_int_eq(hv_xml_best_domain_type("<guest><arch name='x86_64'><domain type='qemu'/>"
                                             "<domain type='kvm'/></arch></guest>",
                                             t, sizeof(t)),
                     0);
    ck_assert_str_eq(t, "kvm");
    ck_assert_int_eq(
        hv_xml_best_domain_type("<guest><arch><domain type='qemu'/></arch></guest>", t, sizeof(t)),
        0);
    ck_assert_str_eq(t, "qemu");
    ck_assert_int_eq(
        hv_xml_best_domain_type("<guest><arch><domain type='xen'/></arch></guest>", t, sizeof(t)),
        0);
    ck_assert_str_eq(t, "xen");
    ck_assert_int_eq(hv_xml_best_domain_type("<capabilities/>", t, sizeof(t)), -1);
}
END_TEST

Suite *hv_xml_suite(void);
Suite *
hv_xml_suite(void)
{
    Suite *s = suite_create("hv_xml");
    TCase *tc = tcase_create("xml");

    tcase_add_test(tc, test_graphics_ports_are_read_from_live_xml);
    tcase_add_test(tc, test_password_is_set_on_the_graphics_element_with_expiry);
    tcase_add_test(tc, test_metadata_round_trips_with_escaping);
    tcase_add_test(tc, test_generated_xml_locks_every_display_and_carries_metadata);
    tcase_add_test(tc, test_template_gets_metadata_inside_existing_metadata_and_passwords);
    tcase_add_test(tc, test_template_rdp_port_is_substituted_only_for_rdp_desktops);
    tcase_add_test(tc, test_template_without_metadata_still_gets_every_display_locked);
    tcase_add_test(tc, test_best_domain_type_prefers_kvm_then_qemu);
    suite_add_tcase(s, tc);
    return s;
}
