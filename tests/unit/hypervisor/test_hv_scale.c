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
#include "tsupport/fixture.h"

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

/* Add the golden volume to the dir pool of a tf_test_node_write() node file. */
static void
node_add_golden(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf, *pos;
    long n;

    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = pt_xcalloc(1, (size_t)n + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
    fclose(f);
    pos = strstr(buf, "</pool>");
    ck_assert_ptr_nonnull(pos);
    f = fopen(path, "w");
    fprintf(f,
            "%.*s<volume type='file'><name>base.qcow2</name><capacity unit='MiB'>64</capacity>"
            "<target><format type='qcow2'/></target></volume>%s",
            (int)(pos - buf), buf, pos);
    fclose(f);
    free(buf);
}

START_TEST(test_foreign_domains_from_the_fixture_node_are_never_listed)
{
    struct hv *hv;
    struct pt_err err = {0};
    struct hv_desktop_info *l = NULL;
    size_t n = 0;
    char *paths[HOSTS], uri[600], golden[600];

    hv = hv_new(&err);
    ck_assert_msg(hv, "%s", err.msg);
    for (int i = 0; i < HOSTS; i++) {
        char prefix[16], name[16];
        struct hv_host_conf c = {0};

        snprintf(prefix, sizeof(prefix), "tfn%d", i);
        snprintf(name, sizeof(name), "tf%d", i);
        paths[i] = tf_test_node_write(prefix, PER_HOST, &err);
        ck_assert_msg(paths[i], "%s", err.msg);
        node_add_golden(paths[i]);
        snprintf(uri, sizeof(uri), "test://%s", paths[i]);
        c.name = name;
        c.uri = uri;
        ck_assert_msg(hv_host_add(hv, &c, &err) == 0, "%s", err.msg);
    }
    /* 1,000 foreign domains: none is Portico's */
    ck_assert_msg(hv_desktop_list(hv, NULL, &l, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, 0);
    free(l);
    /* five desktops made by the layer on each host are exactly what the list returns */
    for (int i = 0; i < HOSTS; i++) {
        /* each node has its own pool directory */
        snprintf(golden, sizeof(golden), "%s", paths[i]);
        *strrchr(golden, '/') = '\0';
        strncat(golden, "/base.qcow2", sizeof(golden) - strlen(golden) - 1);
        for (int k = 0; k < 5; k++) {
            char host[16], name[32], id[32];
            struct hv_desktop_spec s;

            snprintf(host, sizeof(host), "tf%d", i);
            snprintf(name, sizeof(name), "pt-%d-%d", i, k);
            snprintf(id, sizeof(id), "id-%d-%d", i, k);
            s = hvt_spec(name, "eng", id);
            s.golden_path = golden;
            ck_assert_msg(hv_desktop_create(hv, host, &s, &err) == 0, "%s", err.msg);
        }
    }
    ck_assert_msg(hv_desktop_list(hv, NULL, &l, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(n, HOSTS * 5);
    for (size_t i = 0; i < n; i++)
        ck_assert(strncmp(l[i].name, "pt-", 3) == 0 && l[i].desktop_id[0] == 'i');
    free(l);
    hv_free(hv);
    for (int i = 0; i < HOSTS; i++)
        free(paths[i]);
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
    tcase_add_test(tc, test_foreign_domains_from_the_fixture_node_are_never_listed);
    suite_add_tcase(s, tc);
    return s;
}
