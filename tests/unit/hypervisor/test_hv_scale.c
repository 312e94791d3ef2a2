/*
 * test_hv_scale.c - 1,000 domains across four test-driver "hosts": the layer rebuilds the
 * pool's view from the metadata alone, fast enough for a reconcile tick.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "common/mem.h"
#include "common/str.h"
#include "hvt.h"
#include "hypervisor/hv.h"

#define HOSTS       4
#define PER_HOST    250
#define PORTICO_PER 200 /* the other 50 per host are foreign domains */

START_TEST(test_list_of_a_thousand_domains_on_four_hosts_finds_every_portico_desktop)
{
    struct hv *hv;
    struct pt_err err = {0};
    struct hv_desktop_info *l = NULL;
    struct hv_host_info *hl = NULL;
    size_t n = 0, nh = 0;
    char *uris[HOSTS];
    int per_host[HOSTS] = {0}, running = 0;
    int64_t t0, t1;

    hv = hv_new(&err);
    ck_assert_msg(hv, "%s", err.msg);
    for (int i = 0; i < HOSTS; i++) {
        char prefix[16], name[16];
        struct hv_host_conf c = {0};

        snprintf(prefix, sizeof(prefix), "big%d", i);
        snprintf(name, sizeof(name), "host%d", i);
        uris[i] =
            hvt_node_write(prefix, i % 2 ? "eng" : "ops", PORTICO_PER, PER_HOST - PORTICO_PER);
        c.name = name;
        c.uri = uris[i];
        ck_assert_msg(hv_host_add(hv, &c, &err) == 0, "%s", err.msg);
    }
    t0 = pt_time_mono_ms();
    ck_assert_msg(hv_desktop_list(hv, NULL, &l, &n, &err) == 0, "%s", err.msg);
    t1 = pt_time_mono_ms();
    ck_assert_uint_eq(n, HOSTS * PORTICO_PER);
    for (size_t i = 0; i < n; i++) {
        int h = l[i].host[4] - '0';
        char want[32];

        ck_assert_int_ge(h, 0);
        ck_assert_int_lt(h, HOSTS);
        per_host[h]++;
        snprintf(want, sizeof(want), "big%d-id-%s", h, l[i].name + 5);
        ck_assert_str_eq(l[i].desktop_id, want);
        ck_assert_str_eq(l[i].pool, h % 2 ? "eng" : "ops");
        running += l[i].state == HV_DOMAIN_RUNNING;
    }
    for (int i = 0; i < HOSTS; i++)
        ck_assert_int_eq(per_host[i], PORTICO_PER);
    ck_assert_int_eq(running, HOSTS * PORTICO_PER / 2);
    fprintf(stderr, "hv_scale: listed %zu Portico desktops of %d domains on %d hosts in %lld ms\n",
            n, HOSTS * PER_HOST, HOSTS, (long long)(t1 - t0));
    /* in-process test driver: generous bound, catches an accidental O(n^2) */
    ck_assert_int_lt(t1 - t0, 5000);
    ck_assert_msg(hv_host_list(hv, &hl, &nh, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(nh, HOSTS);
    for (size_t i = 0; i < nh; i++)
        ck_assert_int_eq(hl[i].desktops, PORTICO_PER);
    free(hl);
    free(l);
    hv_free(hv);
    for (int i = 0; i < HOSTS; i++)
        free(uris[i]);
}
END_TEST

Suite *hv_scale_suite(void);
Suite *
hv_scale_suite(void)
{
    Suite *s = suite_create("hv_scale");
    TCase *tc = tcase_create("scale");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_list_of_a_thousand_domains_on_four_hosts_finds_every_portico_desktop);
    suite_add_tcase(s, tc);
    return s;
}
