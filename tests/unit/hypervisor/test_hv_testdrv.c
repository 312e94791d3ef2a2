/*
 * test_hv_testdrv.c - the hypervisor layer against libvirt's own test driver (test:///),
 * in-process: the real libvirt API and its real XML validation, without a daemon. Each
 * hv host is a separate test:///<node file> connection, whose state is private to it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/mem.h"
#include "common/str.h"
#include "hvt.h"
#include "hypervisor/hv.h"

static struct hv *hv;
static char *uri_a, *uri_b;

static void
setup(void)
{
    struct pt_err err = {0};
    struct hv_host_conf a = {.name = "a", .max_desktops = 0};
    struct hv_host_conf b = {.name = "b"};

    uri_a = hvt_node_write("nodea", "eng", 4, 3);
    uri_b = hvt_node_write("nodeb", "eng", 2, 0);
    a.uri = uri_a;
    b.uri = uri_b;
    hv = hv_new(&err);
    ck_assert_msg(hv, "hv_new: %s", err.msg);
    ck_assert_msg(hv_host_add(hv, &a, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_host_add(hv, &b, &err) == 0, "%s", err.msg);
}

static void
teardown(void)
{
    hv_free(hv);
    hv = NULL;
    free(uri_a);
    free(uri_b);
}

static const struct hv_desktop_info *
find(const struct hv_desktop_info *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, name) == 0)
            return &l[i];
    return NULL;
}

START_TEST(test_list_returns_only_domains_with_portico_metadata)
{
    struct hv_desktop_info *l = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    ck_assert_msg(hv_desktop_list(hv, "a", &l, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 4);
    ck_assert_ptr_nonnull(find(l, n, "nodea-0001"));
    ck_assert_ptr_null(find(l, n, "nodea-0005")); /* foreign: no metadata */
    ck_assert_str_eq(find(l, n, "nodea-0003")->desktop_id, "nodea-id-0003");
    ck_assert_str_eq(find(l, n, "nodea-0003")->pool, "eng");
    ck_assert_str_eq(find(l, n, "nodea-0003")->host, "a");
    ck_assert_int_eq(find(l, n, "nodea-0001")->state, HV_DOMAIN_RUNNING);
    ck_assert_int_eq(find(l, n, "nodea-0002")->state, HV_DOMAIN_SHUTOFF);
    free(l);
    ck_assert_msg(hv_desktop_list(hv, NULL, &l, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(find(l, n, "nodeb-0002")->host, "b");
    free(l);
}
END_TEST

START_TEST(test_create_start_display_delete_round_trip)
{
    struct hv_desktop_spec s = hvt_spec("rt-1", "eng", "desk-rt-1");
    struct hv_desktop_info di;
    struct hv_display d;
    struct pt_err err = {0};

    s.protocols |= HV_PROTO_RDP;
    s.rdp_port = 3389;
    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", "rt-1", &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_SHUTOFF);
    ck_assert_str_eq(di.desktop_id, "desk-rt-1");
    ck_assert_str_eq(di.image_version, "v1");
    ck_assert_int_eq(di.memory_kib, 128 * 1024);
    /* a stopped desktop has no display */
    ck_assert_int_eq(hv_desktop_display(hv, "a", "rt-1", &d, &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_msg(hv_desktop_start(hv, "a", "rt-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "a", "rt-1", &err) == 0, "start is idempotent: %s", err.msg);
    ck_assert_msg(hv_desktop_display(hv, "a", "rt-1", &d, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(d.host, "127.0.0.1");
    ck_assert_int_ge(d.spice_port, 5900);
    ck_assert_int_eq(d.vnc_port, d.spice_port + 1);
    ck_assert_int_eq(d.rdp_port, 3389);
    ck_assert_msg(hv_desktop_delete(hv, "a", "rt-1", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(hv_desktop_get(hv, "a", "rt-1", &di, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_msg(hv_desktop_delete(hv, "a", "rt-1", &err) == 0,
                  "deleting what is gone succeeds: %s", err.msg);
    /* the overlay went with it: the same name can be created again */
    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
}
END_TEST

START_TEST(test_events_arrive_on_the_callers_thread_through_the_fd)
{
    struct hv_desktop_spec s = hvt_spec("ev-1", "eng", "desk-ev-1");
    struct pt_err err = {0};

    ck_assert_msg(hv_desktop_create(hv, "b", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "b", "ev-1", &err) == 0, "%s", err.msg);
    ck_assert(hvt_wait_event(hv, HV_EVENT_DESKTOP_STARTED, "ev-1", 3000));
    ck_assert_msg(hv_desktop_destroy(hv, "b", "ev-1", &err) == 0, "%s", err.msg);
    ck_assert(hvt_wait_event(hv, HV_EVENT_DESKTOP_STOPPED, "ev-1", 3000));
    ck_assert_msg(hv_desktop_destroy(hv, "b", "ev-1", &err) == 0, "destroy is idempotent: %s",
                  err.msg);
    ck_assert_msg(hv_desktop_delete(hv, "b", "ev-1", &err) == 0, "%s", err.msg);
    ck_assert(hvt_wait_event(hv, HV_EVENT_DESKTOP_UNDEFINED, "ev-1", 3000));
}
END_TEST

START_TEST(test_park_saves_and_resume_restores)
{
    struct hv_desktop_spec s = hvt_spec("pk-1", "eng", "desk-pk-1");
    struct hv_desktop_info di;
    struct pt_err err = {0};

    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(hv_desktop_park(hv, "a", "pk-1", &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_msg(strstr(err.msg, "not running"), "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "a", "pk-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_park(hv, "a", "pk-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", "pk-1", &di, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(hv_domain_state_str(di.state), "saved");
    ck_assert_msg(hv_desktop_resume(hv, "a", "pk-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", "pk-1", &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_RUNNING);
    /* parked again, then deleted: the managed-save image goes with the domain */
    ck_assert_msg(hv_desktop_park(hv, "a", "pk-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_delete(hv, "a", "pk-1", &err) == 0, "%s", err.msg);
}
END_TEST

START_TEST(test_revert_keeps_a_running_desktop_running)
{
    struct hv_desktop_spec s = hvt_spec("rv-1", "eng", "desk-rv-1");
    struct hv_desktop_info di;
    struct pt_err err = {0};

    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "a", "rv-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_revert(hv, "a", "rv-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", "rv-1", &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_RUNNING);
    ck_assert_msg(hv_desktop_destroy(hv, "a", "rv-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_revert(hv, "a", "rv-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", "rv-1", &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_SHUTOFF);
}
END_TEST

START_TEST(test_shutdown_stops_a_running_desktop)
{
    struct hv_desktop_spec s = hvt_spec("sd-1", "eng", "desk-sd-1");
    struct hv_desktop_info di;
    struct pt_err err = {0};

    ck_assert_msg(hv_desktop_create(hv, "a", &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_start(hv, "a", "sd-1", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_shutdown(hv, "a", "sd-1", 2000, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_get(hv, "a", "sd-1", &di, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(di.state, HV_DOMAIN_SHUTOFF);
}
END_TEST

START_TEST(test_delete_refuses_a_domain_that_is_not_portico)
{
    struct pt_err err = {0};

    ck_assert_int_eq(hv_desktop_delete(hv, "a", "nodea-0005", &err), -1);
    ck_assert_int_eq(err.code, PT_E_FORBIDDEN);
    ck_assert_msg(strstr(err.msg, "not a Portico desktop"), "%s", err.msg);
}
END_TEST

START_TEST(test_host_facts_count_desktops_and_memory)
{
    struct hv_host_info *l = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    ck_assert_msg(hv_host_list(hv, &l, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(l[0].name, "a");
    ck_assert(l[0].up);
    ck_assert_int_eq(l[0].desktops, 4);
    ck_assert_int_eq(l[0].running, 2);
    ck_assert_int_gt(l[0].cpus, 0);
    ck_assert_int_gt(l[0].mem_total_kib, 0);
    ck_assert_int_eq(l[1].desktops, 2);
    free(l);
}
END_TEST

START_TEST(test_full_host_refuses_another_desktop)
{
    struct hv_host_conf c = {.name = "small", .uri = NULL, .max_desktops = 3};
    struct hv_desktop_spec s = hvt_spec("full-1", "eng", "desk-full-1");
    struct pt_err err = {0};
    char *uri = hvt_node_write("small", "eng", 2, 5);

    c.uri = uri;
    ck_assert_msg(hv_host_add(hv, &c, &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_create(hv, "small", &s, &err) == 0, "%s", err.msg);
    s.name = "full-2";
    ck_assert_int_eq(hv_desktop_create(hv, "small", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_LIMIT);
    ck_assert_msg(strstr(err.msg, "small is full: 3 desktops of 3"), "%s", err.msg);
    free(uri);
}
END_TEST

START_TEST(test_memory_reserve_refuses_a_desktop_that_would_eat_it)
{
    /* test:///default has NUMA cells and reports free memory; node files report 0, which
     * the layer treats as "unknown" and does not refuse on */
    struct hv_host_conf c = {
        .name = "tight", .uri = "test:///default", .mem_reserve_mib = (int64_t)1 << 40};
    struct hv_desktop_spec s = hvt_spec("mem-1", "eng", "desk-mem-1");
    struct pt_err err = {0};

    ck_assert_msg(hv_host_add(hv, &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(hv_desktop_create(hv, "tight", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_LIMIT);
    ck_assert_msg(strstr(err.msg, "MiB in reserve: no room for 128 MiB"), "%s", err.msg);
}
END_TEST

START_TEST(test_draining_host_takes_no_new_desktop)
{
    struct hv_desktop_spec s = hvt_spec("dr-1", "eng", "desk-dr-1");
    struct hv_host_info *l = NULL;
    size_t n;
    struct pt_err err = {0};

    ck_assert_msg(hv_host_set_draining(hv, "b", true, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(hv_desktop_create(hv, "b", &s, &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_msg(strstr(err.msg, "draining"), "%s", err.msg);
    ck_assert_int_eq(hv_desktop_migrate(hv, "a", "nodea-0001", "b", &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    /* emptying it shows as desktops == 0 with draining set */
    ck_assert_msg(hv_desktop_delete(hv, "b", "nodeb-0001", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_desktop_delete(hv, "b", "nodeb-0002", &err) == 0, "%s", err.msg);
    ck_assert_msg(hv_host_list(hv, &l, &n, &err) == 0, "%s", err.msg);
    ck_assert(l[1].draining);
    ck_assert_int_eq(l[1].desktops, 0);
    free(l);
}
END_TEST

START_TEST(test_migration_between_test_hosts_reports_the_driver_limit)
{
    struct pt_err err = {0};

    /* libvirt's test driver implements no migration: the layer must say so plainly */
    ck_assert_int_eq(hv_desktop_migrate(hv, "a", "nodea-0001", "b", &err), -1);
    ck_assert_msg(strstr(err.msg, "cannot migrate desktop nodea-0001"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "not supported"), "%s", err.msg);
    ck_assert_int_eq(hv_desktop_migrate(hv, "a", "nodea-0001", "nowhere", &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_int_eq(hv_desktop_migrate(hv, "a", "nodea-0001", "a", &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
}
END_TEST

struct racer {
    int rc;
    struct pt_err err;
};

static void *
race_create(void *arg)
{
    struct racer *r = arg;
    struct hv_desktop_spec s = hvt_spec("race-1", "eng", "desk-race-1");

    r->rc = hv_desktop_create(hv, "a", &s, &r->err);
    return NULL;
}

START_TEST(test_concurrent_creates_of_one_name_leave_one_intact_desktop)
{
    for (int round = 0; round < 20; round++) {
        struct racer r[2] = {{0}, {0}};
        pthread_t t[2];
        struct pt_err err = {0};

        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, race_create, &r[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        ck_assert_msg((r[0].rc == 0) != (r[1].rc == 0), "exactly one create wins (%d %d)", r[0].rc,
                      r[1].rc);
        ck_assert_int_eq(r[r[0].rc == 0 ? 1 : 0].err.code, PT_E_CONFLICT);
        /* the winner's overlay is still there: a revert recreates it from the volume */
        ck_assert_msg(hv_desktop_revert(hv, "a", "race-1", &err) == 0, "%s", err.msg);
        ck_assert_msg(hv_desktop_delete(hv, "a", "race-1", &err) == 0, "%s", err.msg);
    }
}
END_TEST

Suite *hv_testdrv_suite(void);
Suite *
hv_testdrv_suite(void)
{
    Suite *s = suite_create("hv_testdrv");
    TCase *tc = tcase_create("test_driver");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_list_returns_only_domains_with_portico_metadata);
    tcase_add_test(tc, test_create_start_display_delete_round_trip);
    tcase_add_test(tc, test_events_arrive_on_the_callers_thread_through_the_fd);
    tcase_add_test(tc, test_park_saves_and_resume_restores);
    tcase_add_test(tc, test_revert_keeps_a_running_desktop_running);
    tcase_add_test(tc, test_shutdown_stops_a_running_desktop);
    tcase_add_test(tc, test_delete_refuses_a_domain_that_is_not_portico);
    tcase_add_test(tc, test_host_facts_count_desktops_and_memory);
    tcase_add_test(tc, test_full_host_refuses_another_desktop);
    tcase_add_test(tc, test_memory_reserve_refuses_a_desktop_that_would_eat_it);
    tcase_add_test(tc, test_draining_host_takes_no_new_desktop);
    tcase_add_test(tc, test_migration_between_test_hosts_reports_the_driver_limit);
    tcase_add_test(tc, test_concurrent_creates_of_one_name_leave_one_intact_desktop);
    suite_add_tcase(s, tc);
    return s;
}
