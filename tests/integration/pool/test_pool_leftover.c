/*
 * test_pool_leftover.c - overlays left by a create killed between making the disk and
 * defining the domain, on libvirt test:/// hosts through the real hv layer. The kill is
 * reproduced by calling the layer's own first half (hv_overlay_create, what
 * hv_desktop_create does before it defines the domain) and stopping there. Checked: the
 * hv verbs (list by prefix, delete refuses a name with a domain, bad input), then
 * pool_ctx_recover() deletes the overlay of a desktop its store's history knows and no
 * row names, keeps one its history does not know, and leaves live desktops alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "hv_priv.h"
#include "hv_storage.h"
#include "hvt.h"
#include "pool_priv.h"
#include "pooltest.h"

Suite *pool_leftover_suite(void);

static struct pool_ctx *ctx;

static void
teardown(void)
{
    pool_ctx_free(ctx);
    ctx = NULL;
}

/* the first half of a create: the overlay "<name>.qcow2" next to the golden, no domain */
static void
half_create(const char *host, const char *name)
{
    struct pt_err err = {0};
    struct hv_host *h = hv_host_find(pool_ctx_hv(ctx), host, &err);
    struct hv_golden g = {0};
    virConnectPtr c;
    char *path;

    ck_assert_msg(h, "%s", err.msg);
    c = hv_host_conn(h, &err);
    ck_assert_msg(c, "%s", err.msg);
    ck_assert_msg(hv_golden_open(c, HVT_GOLDEN, &g, &err) == 0, "%s", err.msg);
    path = hv_overlay_create(g.pool, name, g.path, g.format, g.capacity, &err);
    ck_assert_msg(path, "%s", err.msg);
    free(path);
    hv_golden_close(&g);
    virConnectClose(c);
}

static bool
listed(const struct hv_leftover *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, name) == 0)
            return l[i].path[0] != '\0' && strcmp(l[i].host, "h01") == 0;
    return false;
}

START_TEST(test_recovery_deletes_our_leftover_overlays_and_keeps_what_is_not_ours)
{
    const char *two[] = {"max", "4", "warm", "2", NULL};
    const char *one[] = {"warm", "1", "min", "0", NULL};
    struct hv *hv;
    struct hv_leftover *l = NULL;
    size_t n = 0;
    struct pt_err err = {0};

    ctx = pt_ctx_new("leftover", 1, NULL);
    hv = pool_ctx_hv(ctx);
    pt_pool_put(ctx, "eng", two);
    pt_converge(ctx, "eng", 2, 2, 20000);
    /* eng-0001 and eng-0002 exist; shrink to one: the newest goes, its history stays */
    pt_pool_put(ctx, "eng", one);
    pt_converge(ctx, "eng", 1, 1, 20000);
    ck_assert_int_eq(hv_overlay_leftovers(hv, "h01", "pt-", &l, &n, &err), 0);
    ck_assert_int_eq(n, 0); /* live desktops' overlays are never leftovers */

    /* killed creates: one of a desktop this store made and forgot, one it never knew */
    half_create("h01", "pt-eng-0002");
    half_create("h01", "pt-eng-0099");
    ck_assert_int_eq(hv_overlay_leftovers(hv, "h01", "pt-", &l, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert(listed(l, n, "pt-eng-0002"));
    ck_assert(listed(l, n, "pt-eng-0099"));
    free(l);
    /* the prefix scopes the listing */
    ck_assert_int_eq(hv_overlay_leftovers(hv, "h01", "pt-other-", &l, &n, &err), 0);
    ck_assert_int_eq(n, 0);
    free(l);
    ck_assert_int_eq(hv_overlay_leftovers(hv, "h01", "", &l, &n, &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);
    ck_assert_int_eq(hv_overlay_leftovers(hv, "nohost", "pt-", &l, &n, &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    /* a name with a domain is refused, whatever its volumes; an unknown one is not found */
    ck_assert_int_eq(hv_overlay_leftover_delete(hv, "h01", "pt-eng-0001", &err), -1);
    ck_assert_int_eq(err.code, PT_E_CONFLICT);
    ck_assert_int_eq(hv_overlay_leftover_delete(hv, "h01", "pt-eng-0777", &err), -1);
    ck_assert_int_eq(err.code, PT_E_NOTFOUND);
    ck_assert_int_eq(hv_overlay_leftover_delete(hv, "h01", "../x", &err), -1);
    ck_assert_int_eq(err.code, PT_E_INVALID);

    /* recovery: ours (history knows eng-0002, no row) deleted; eng-0099 kept */
    ck_assert_msg(pool_ctx_recover(ctx, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(hv_overlay_leftovers(hv, "h01", "pt-", &l, &n, &err), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(l[0].name, "pt-eng-0099");
    free(l);
    pt_converge(ctx, "eng", 1, 1, 20000);
    /* the verb deletes a leftover by name when asked directly */
    ck_assert_msg(hv_overlay_leftover_delete(hv, "h01", "pt-eng-0099", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(hv_overlay_leftovers(hv, "h01", "pt-", &l, &n, &err), 0);
    ck_assert_int_eq(n, 0);
    free(l);
}
END_TEST

Suite *
pool_leftover_suite(void)
{
    Suite *s = suite_create("pool_leftover");
    TCase *tc = tcase_create("leftover");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_recovery_deletes_our_leftover_overlays_and_keeps_what_is_not_ours);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
