/* test_parts.c - router, static path resolution, MIME types, rate limit, metrics, errors,
 * self-signed TLS material and the job pool, each on its own. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "broker_priv.h"
#include "common/mem.h"
#include "common/str.h"
#include "tsupport/fixture.h"

Suite *broker_parts_suite(void);

START_TEST(test_router_matches_literal_paths_and_reports_405_for_other_methods)
{
    const struct broker_route *rt = NULL;
    char params[BROKER_MAX_PARAMS][BROKER_MAX_PARAM];
    int np = 0, allowed = 0;

    ck_assert_int_eq(broker_router_match(BROKER_GET, "/healthz", &rt, params, &np, &allowed),
                     BROKER_MATCH_OK);
    ck_assert_str_eq(rt->pattern, "/healthz");
    ck_assert_int_eq(broker_router_match(BROKER_POST, "/healthz", &rt, params, &np, &allowed),
                     BROKER_MATCH_METHOD);
    ck_assert_int_eq(allowed, BROKER_GET);
    ck_assert_int_eq(broker_router_match(BROKER_GET, "/healthz/x", &rt, params, &np, &allowed),
                     BROKER_MATCH_NONE);
    ck_assert_int_eq(broker_router_match(BROKER_GET, "/nope", &rt, params, &np, &allowed),
                     BROKER_MATCH_NONE);
}
END_TEST

static const struct {
    const char *path;
    int ok;
    const char *suffix;
} resolve_cases[] = {
    {"/", 1, "/index.html"},     {"/app.js", 1, "/app.js"}, {"/a/b.css", 1, "/a/b.css"},
    {"/../etc/passwd", 0, NULL}, {"/a/../../x", 0, NULL},   {"/./x", 0, NULL},
    {"/a\\..\\x", 0, NULL},      {"relative", 0, NULL},
};

START_TEST(test_static_paths_never_climb_out_of_the_root)
{
    char out[4096];
    const char *root = tf_tmpdir(); /* a real directory, so "/" maps to index.html */
    int rc = broker_static_resolve(root, resolve_cases[_i].path, out, sizeof(out));

    if (!resolve_cases[_i].ok) {
        ck_assert_msg(rc < 0, "%s resolved to %s", resolve_cases[_i].path, out);
        return;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert(pt_str_has_prefix(out, root));
    ck_assert_uint_ge(strlen(out), strlen(resolve_cases[_i].suffix));
    ck_assert_str_eq(out + strlen(out) - strlen(resolve_cases[_i].suffix),
                     resolve_cases[_i].suffix);
}
END_TEST

START_TEST(test_mime_types_come_from_the_extension)
{
    ck_assert_str_eq(broker_mime_type("/x/app.js"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(broker_mime_type("/x/INDEX.HTML"), "text/html; charset=utf-8");
    ck_assert_str_eq(broker_mime_type("/x/a.woff2"), "font/woff2");
    ck_assert_str_eq(broker_mime_type("/x.d/noext"), "application/octet-stream");
}
END_TEST

START_TEST(test_rate_limit_allows_the_burst_then_refills_over_time)
{
    struct broker_ratelimit *rl = broker_ratelimit_new(2, 3);
    int ok = 0;

    for (int i = 0; i < 10; i++)
        ok += broker_ratelimit_allow(rl, "10.0.0.1", 1000);
    ck_assert_int_eq(ok, 3);
    ck_assert(broker_ratelimit_allow(rl, "10.0.0.2", 1000)); /* another client */
    ck_assert(broker_ratelimit_allow(rl, "10.0.0.1", 1500)); /* 0.5 s = 1 token */
    ck_assert(!broker_ratelimit_allow(rl, "10.0.0.1", 1500));
    broker_ratelimit_set(rl, 0, 0);
    ck_assert(broker_ratelimit_allow(rl, "10.0.0.1", 1500)); /* 0 disables */
    broker_ratelimit_free(rl);
}
END_TEST

START_TEST(test_histograms_render_cumulative_buckets)
{
    struct broker_hist h = {0};
    struct pt_buf out = PT_BUF_INIT;

    broker_hist_observe(&h, 0.0004);
    broker_hist_observe(&h, 0.003);
    broker_hist_observe(&h, 100);
    broker_hist_render(&h, "x", "route=\"/a\"", &out);
    ck_assert_ptr_nonnull(strstr(out.data, "x_bucket{route=\"/a\",le=\"0.0005\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "x_bucket{route=\"/a\",le=\"0.005\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "x_bucket{route=\"/a\",le=\"10\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "x_bucket{route=\"/a\",le=\"+Inf\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "x_count{route=\"/a\"} 3\n"));
    pt_buf_fini(&out);
}
END_TEST

START_TEST(test_error_codes_map_to_http_status_in_one_table)
{
    ck_assert_int_eq(broker_errc_status(PT_E_INVALID), 400);
    ck_assert_int_eq(broker_errc_status(PT_E_AUTH), 401);
    ck_assert_int_eq(broker_errc_status(PT_E_FORBIDDEN), 403);
    ck_assert_int_eq(broker_errc_status(PT_E_NOTFOUND), 404);
    ck_assert_int_eq(broker_errc_status(PT_E_CONFLICT), 409);
    ck_assert_int_eq(broker_errc_status(PT_E_LIMIT), 429);
    ck_assert_int_eq(broker_errc_status(PT_E_UNAVAILABLE), 503);
    ck_assert_int_eq(broker_errc_status(PT_E_TIMEOUT), 504);
    ck_assert_int_eq(broker_errc_status(PT_E_INTERNAL), 500);
}
END_TEST

START_TEST(test_tls_pair_is_made_once_with_a_private_key_only_we_read)
{
    char cert[600], key[600];
    struct pt_err err = {0};
    struct stat st1, st2;

    snprintf(cert, sizeof(cert), "%s/tls-%d/b.crt", tf_tmpdir(), (int)getpid());
    snprintf(key, sizeof(key), "%s/tls-%d/b.key", tf_tmpdir(), (int)getpid());
    ck_assert_msg(broker_tls_ensure(cert, key, "127.0.0.1", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(stat(key, &st1), 0);
    ck_assert_int_eq(st1.st_mode & 0777, 0600);
    ck_assert_int_eq(broker_tls_ensure(cert, key, "127.0.0.1", &err), 0); /* reused */
    ck_assert_int_eq(stat(key, &st2), 0);
    ck_assert_int_eq(st1.st_ino, st2.st_ino);
    unlink(key); /* half a pair is an error, not a reason to overwrite the cert */
    ck_assert_int_eq(broker_tls_ensure(cert, key, "127.0.0.1", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not"));
}
END_TEST

/* The job pool: work runs on another thread, completions on the draining thread. */
struct jt {
    pthread_t worker;
    pthread_t done_on;
    int order;
};

static int order_seq;
static int wakes;

static void
jt_work(void *arg)
{
    struct jt *t = arg;

    t->worker = pthread_self();
    usleep(1000);
}

static void
jt_done(void *arg)
{
    struct jt *t = arg;

    t->done_on = pthread_self();
    t->order = ++order_seq;
}

static void
jt_wake(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&wakes, 1, __ATOMIC_SEQ_CST);
}

START_TEST(test_jobs_run_on_workers_and_complete_on_the_draining_thread)
{
    struct broker_jobs *js = broker_jobs_new(3, jt_wake, NULL);
    struct jt t[20];
    int done = 0;

    memset(t, 0, sizeof(t));
    for (int i = 0; i < 20; i++)
        broker_jobs_submit(js, jt_work, jt_done, &t[i]);
    ck_assert_int_eq(broker_jobs_pending(js), 20);
    for (int i = 0; i < 2000 && done < 20; i++) {
        done += broker_jobs_drain(js);
        usleep(1000);
    }
    ck_assert_int_eq(done, 20);
    ck_assert_int_eq(broker_jobs_pending(js), 0);
    ck_assert_int_eq(__atomic_load_n(&wakes, __ATOMIC_SEQ_CST), 20);
    for (int i = 0; i < 20; i++) {
        ck_assert(!pthread_equal(t[i].worker, pthread_self()));
        ck_assert(pthread_equal(t[i].done_on, pthread_self()));
        ck_assert_int_gt(t[i].order, 0);
    }
    broker_jobs_free(js);
}
END_TEST

START_TEST(test_jobs_free_finishes_queued_work_and_runs_its_completions)
{
    struct broker_jobs *js = broker_jobs_new(1, NULL, NULL);
    struct jt t[5];

    memset(t, 0, sizeof(t));
    order_seq = 0;
    for (int i = 0; i < 5; i++)
        broker_jobs_submit(js, jt_work, jt_done, &t[i]);
    broker_jobs_free(js);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(t[i].order, i + 1); /* FIFO with one worker */
}
END_TEST

Suite *
broker_parts_suite(void)
{
    Suite *s = suite_create("broker_parts");
    TCase *tc = tcase_create("parts");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_router_matches_literal_paths_and_reports_405_for_other_methods);
    tcase_add_loop_test(tc, test_static_paths_never_climb_out_of_the_root, 0,
                        (int)(sizeof(resolve_cases) / sizeof(resolve_cases[0])));
    tcase_add_test(tc, test_mime_types_come_from_the_extension);
    tcase_add_test(tc, test_rate_limit_allows_the_burst_then_refills_over_time);
    tcase_add_test(tc, test_histograms_render_cumulative_buckets);
    tcase_add_test(tc, test_error_codes_map_to_http_status_in_one_table);
    tcase_add_test(tc, test_tls_pair_is_made_once_with_a_private_key_only_we_read);
    tcase_add_test(tc, test_jobs_run_on_workers_and_complete_on_the_draining_thread);
    tcase_add_test(tc, test_jobs_free_finishes_queued_work_and_runs_its_completions);
    suite_add_tcase(s, tc);
    return s;
}
