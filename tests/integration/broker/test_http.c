/*
 * test_http.c - the broker's HTTP layer over real HTTPS against the built portico-broker:
 * TLS versions, routing errors, limits, security headers, static files, health, metrics,
 * reload and shutdown. One broker serves the whole suite (unchecked fixture); the rate
 * limit gets its own.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <openssl/ssl.h>

#include "bk_client.h"
#include "common/mem.h"

Suite *broker_http_suite(void);

static struct bk_broker broker;
static char web[700];

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void
http_setup(void)
{
    struct pt_err err = {0};
    char extra[1200], p[800];

    snprintf(web, sizeof(web), "%s/web-%d", tf_tmpdir(), (int)getpid());
    mkdir(web, 0755);
    snprintf(p, sizeof(p), "%s/dist", web);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/dist/index.html", web);
    write_file(p, "<!doctype html><title>Portico</title>");
    snprintf(p, sizeof(p), "%s/dist/app.js", web);
    write_file(p, "console.log('portico');");
    snprintf(p, sizeof(p), "%s/dist/style.css", web);
    write_file(p, "body{}");
    snprintf(p, sizeof(p), "%s/secret.txt", web); /* outside dist: must never be served */
    write_file(p, "do-not-serve");
    snprintf(extra, sizeof(extra),
             "web_root = %s\nmax_body_bytes = 1024\nmax_header_bytes = 4096\n"
             "rate_limit_rps = 0\n",
             web);
    if (bk_broker_start(&broker, extra, NULL, &err) < 0)
        ck_abort_msg("broker: %s", err.msg);
}

static void
http_teardown(void)
{
    ck_assert_msg(bk_broker_stop(&broker), "broker did not stop cleanly (see log above)");
}

static void
get(const char *path, struct bk_resp *r)
{
    struct pt_err err = {0};

    ck_assert_msg(bk_https(broker.port, "GET", path, NULL, NULL, 0, r, &err) == 0, "%s", err.msg);
}

START_TEST(test_healthz_answers_ok_after_a_round_trip_through_the_workers)
{
    struct bk_resp r;

    get("/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(r.json);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "workers"), "status")), "ok");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_every_response_carries_the_security_headers_and_a_request_id)
{
    const char *paths[] = {"/healthz", "/api/v1/nothing-here", "/app.js", "/metrics"};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct bk_resp r;
        const char *h;

        get(paths[i], &r);
        h = bk_resp_header(&r, "content-security-policy");
        ck_assert_msg(h && strstr(h, "default-src 'self'"), "CSP on %s", paths[i]);
        h = bk_resp_header(&r, "strict-transport-security");
        ck_assert_msg(h && strstr(h, "max-age="), "HSTS on %s", paths[i]);
        ck_assert_str_eq(bk_resp_header(&r, "x-frame-options"), "DENY");
        ck_assert_str_eq(bk_resp_header(&r, "x-content-type-options"), "nosniff");
        ck_assert_str_eq(bk_resp_header(&r, "referrer-policy"), "no-referrer");
        h = bk_resp_header(&r, "x-request-id");
        ck_assert_msg(h && strlen(h) == 16, "request id on %s", paths[i]);
        bk_resp_fini(&r);
    }
}
END_TEST

START_TEST(test_request_ids_differ_between_requests)
{
    struct bk_resp a, b;
    char ida[32];

    get("/healthz", &a);
    pt_strlcpy(ida, bk_resp_header(&a, "x-request-id"), sizeof(ida));
    get("/healthz", &b);
    ck_assert_str_ne(ida, bk_resp_header(&b, "x-request-id"));
    bk_resp_fini(&a);
    bk_resp_fini(&b);
}
END_TEST

START_TEST(test_unknown_api_path_is_a_404_json_error)
{
    struct bk_resp r;

    get("/api/v1/no-such-thing", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(bk_resp_error_code(&r), "not_found");
    ck_assert_str_eq(bk_resp_header(&r, "content-type"), "application/json");
    ck_assert_ptr_nonnull(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message")));
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_wrong_method_is_405_with_an_allow_header)
{
    struct bk_resp r;
    struct pt_err err = {0};

    ck_assert_int_eq(bk_https(broker.port, "DELETE", "/healthz", NULL, NULL, 0, &r, &err), 0);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(bk_resp_error_code(&r), "method_not_allowed");
    ck_assert_str_eq(bk_resp_header(&r, "allow"), "GET");
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_body_over_the_cap_is_413_before_it_is_read)
{
    struct bk_resp r;
    struct pt_err err = {0};
    char *big = pt_xmalloc(4096);

    memset(big, 'x', 4096);
    ck_assert_int_eq(bk_https(broker.port, "POST", "/api/v1/login", NULL, big, 4096, &r, &err), 0);
    ck_assert_int_eq(r.status, 413);
    ck_assert_str_eq(bk_resp_error_code(&r), "body_too_large");
    bk_resp_fini(&r);
    free(big);
}
END_TEST

START_TEST(test_headers_over_the_cap_are_refused)
{
    struct bk_resp r;
    struct pt_err err = {0};
    struct pt_buf req = PT_BUF_INIT;
    int rc;

    pt_buf_appends(&req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    for (int i = 0; i < 8000; i++)
        pt_buf_appends(&req, "a");
    pt_buf_appends(&req, "\r\nConnection: close\r\n\r\n");
    rc = bk_https_raw(broker.port, req.data, req.len, &r, &err);
    /* lws refuses before any callback: either an error status or a closed connection,
     * never a 200 */
    ck_assert_msg(rc < 0 || r.status == 431 || r.status == 400 || r.status == 403, "status %d",
                  r.status);
    if (rc == 0)
        bk_resp_fini(&r);
    pt_buf_fini(&req);
}
END_TEST

START_TEST(test_static_files_are_served_with_their_mime_types)
{
    static const struct {
        const char *path, *type, *needle;
    } cases[] = {
        {"/", "text/html; charset=utf-8", "<title>Portico"},
        {"/index.html", "text/html; charset=utf-8", "<title>Portico"},
        {"/app.js", "text/javascript; charset=utf-8", "console.log"},
        {"/style.css", "text/css; charset=utf-8", "body{}"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bk_resp r;

        get(cases[i].path, &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(bk_resp_header(&r, "content-type"), cases[i].type);
        ck_assert_ptr_nonnull(strstr(r.body.data, cases[i].needle));
        bk_resp_fini(&r);
    }
}
END_TEST

START_TEST(test_directory_traversal_never_leaves_the_web_root)
{
    const char *paths[] = {
        "/../secret.txt",         "/%2e%2e/secret.txt",        "/..%2fsecret.txt",
        "/dist/../../secret.txt", "/%2E%2E/%2E%2E/etc/passwd", "/..\\secret.txt"};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char raw[512];
        struct bk_resp r;
        struct pt_err err = {0};

        snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 paths[i]);
        if (bk_https_raw(broker.port, raw, strlen(raw), &r, &err) < 0)
            continue; /* refused outright by lws: fine */
        ck_assert_msg(r.status != 200 || !strstr(r.body.data, "do-not-serve"), "%s leaked",
                      paths[i]);
        ck_assert_msg(!r.body.data || !strstr(r.body.data, "root:"), "%s leaked", paths[i]);
        bk_resp_fini(&r);
    }
}
END_TEST

START_TEST(test_tls_below_1_2_is_refused_and_1_2_is_accepted)
{
    ck_assert_int_ne(bk_tls_handshake(broker.port, TLS1_1_VERSION), 0);
    ck_assert_int_ne(bk_tls_handshake(broker.port, TLS1_VERSION), 0);
    ck_assert_int_eq(bk_tls_handshake(broker.port, TLS1_2_VERSION), 0);
    ck_assert_int_eq(bk_tls_handshake(broker.port, TLS1_3_VERSION), 0);
}
END_TEST

START_TEST(test_self_signed_key_is_made_with_mode_0600)
{
    char key[800];
    struct stat st;

    snprintf(key, sizeof(key), "%s/state/broker.key", broker.dir);
    ck_assert_int_eq(stat(key, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
}
END_TEST

START_TEST(test_metrics_report_latency_by_route)
{
    struct bk_resp r;

    get("/healthz", &r);
    bk_resp_fini(&r);
    get("/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(bk_resp_header(&r, "content-type"), "text/plain"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "# TYPE portico_api_request_duration_seconds "
                                              "histogram"));
    ck_assert_ptr_nonnull(
        strstr(r.body.data, "portico_api_request_duration_seconds_count{route=\"/healthz\"}"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "le=\"+Inf\""));
    bk_resp_fini(&r);
}
END_TEST

START_TEST(test_sighup_reloads_the_log_level)
{
    FILE *f = fopen(broker.conf_path, "a");
    char line[4096];
    bool seen = false;

    ck_assert_ptr_nonnull(f);
    fputs("# reload test\n", f);
    fclose(f);
    kill(broker.proc.pid, SIGHUP);
    for (int i = 0; i < 100 && !seen; i++) {
        FILE *l = fopen(broker.proc.log_path, "r");

        usleep(20000);
        while (l && fgets(line, sizeof(line), l))
            seen = seen || strstr(line, "event=reloaded") != NULL;
        if (l)
            fclose(l);
    }
    ck_assert_msg(seen, "no event=reloaded in the broker log");
}
END_TEST

START_TEST(test_http2_is_offered_by_alpn)
{
    struct pt_buf out = PT_BUF_INIT;
    char url[128];
    char *argv[] = {(char *)"/usr/bin/curl",
                    (char *)"-sk",
                    (char *)"--http2",
                    (char *)"-o",
                    (char *)"/dev/null",
                    (char *)"-w",
                    (char *)"%{http_version} %{http_code}",
                    url,
                    NULL};

    if (access("/usr/bin/curl", X_OK) != 0)
        return; /* curl is in scripts/install-deps.sh; without it there is nothing to drive */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/healthz", broker.port);
    ck_assert_int_eq(bk_run(argv, NULL, NULL, &out, 10000), 0);
    ck_assert_str_eq(out.data, "2 200");
    pt_buf_fini(&out);
}
END_TEST

/* Over h2 a refused body must not take the connection (and its other streams) down. */
START_TEST(test_http2_bodies_get_the_same_limits_and_errors)
{
    struct pt_buf out = PT_BUF_INIT;
    char url[128], big[2100];
    char *argv[] = {(char *)"/usr/bin/curl",
                    (char *)"-sk",
                    (char *)"--http2",
                    (char *)"-o",
                    (char *)"/dev/null",
                    (char *)"-w",
                    (char *)"%{http_version} %{http_code}",
                    (char *)"-H",
                    (char *)"Content-Type: application/json",
                    (char *)"-d",
                    big,
                    url,
                    NULL};

    if (access("/usr/bin/curl", X_OK) != 0)
        return;
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/v1/login", broker.port);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0'; /* over max_body_bytes = 1024 */
    ck_assert_int_eq(bk_run(argv, NULL, NULL, &out, 10000), 0);
    ck_assert_str_eq(out.data, "2 413");
    pt_buf_reset(&out);
    snprintf(big, sizeof(big), "{bad");
    ck_assert_int_eq(bk_run(argv, NULL, NULL, &out, 10000), 0);
    ck_assert_str_eq(out.data, "2 400");
    pt_buf_fini(&out);
}
END_TEST

/* Sizes around lws's 4096-byte send buffer, its 16 KiB body pieces and the 64 KiB h2
 * window: before the fix, two parallel h2 streams of 4447-5000 bytes stopped at 4096. */
static const int awkward_sizes[] = {4095, 4096, 4097, 4447, 5000, 16385, 20000, 70000};

static void
write_pattern_file(const char *path, int size, int seed)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < size; i++)
        fputc((i * 131 + seed * 7 + i / 251) & 0xff, f);
    fclose(f);
}

static bool
same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;

    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);

        if (ca != cb)
            same = false;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

START_TEST(test_parallel_http2_streams_of_awkward_sizes_arrive_byte_exact)
{
    enum {
        STREAMS = 3
    };
    size_t nsz = sizeof(awkward_sizes) / sizeof(awkward_sizes[0]);
    char *argv[8 + 4 * STREAMS + 1];
    char src[800], urls[STREAMS][128], outs[STREAMS][800];
    struct pt_buf out = PT_BUF_INIT;

    if (access("/usr/bin/curl", X_OK) != 0)
        return; /* curl is in scripts/install-deps.sh */
    for (size_t k = 0; k < 2 * nsz; k++) {
        int size = awkward_sizes[k % nsz], a = 0;
        bool immediate = k >= nsz; /* first one connection, then curl's own choice */

        snprintf(src, sizeof(src), "%s/dist/f%d.bin", web, size);
        write_pattern_file(src, size, size);
        argv[a++] = (char *)"/usr/bin/curl";
        argv[a++] = (char *)"-sk";
        argv[a++] = (char *)"--http2";
        argv[a++] = (char *)"--max-time";
        argv[a++] = (char *)"8";
        argv[a++] = (char *)"--parallel";
        if (immediate)
            argv[a++] = (char *)"--parallel-immediate";
        for (int i = 0; i < STREAMS; i++) {
            snprintf(urls[i], sizeof(urls[i]), "https://127.0.0.1:%d/f%d.bin", broker.port, size);
            snprintf(outs[i], sizeof(outs[i]), "%s/out-%d-%d", web, size, i);
            unlink(outs[i]);
            argv[a++] = (char *)"-o";
            argv[a++] = outs[i];
            argv[a++] = urls[i];
        }
        argv[a] = NULL;
        pt_buf_reset(&out);
        ck_assert_msg(bk_run(argv, NULL, NULL, &out, 15000) == 0,
                      "curl did not finish %d parallel h2 streams of %d bytes: %s", STREAMS, size,
                      out.data ? out.data : "");
        for (int i = 0; i < STREAMS; i++) {
            struct stat st;

            ck_assert_int_eq(stat(outs[i], &st), 0);
            ck_assert_msg(st.st_size == size, "stream %d of %d bytes got %lld", i, size,
                          (long long)st.st_size);
            ck_assert_msg(same_file(src, outs[i]), "stream %d of %d bytes differs", i, size);
            unlink(outs[i]);
        }
    }
    pt_buf_fini(&out);
}
END_TEST

/* ---- a second broker with a tight rate limit -------------------------------------------- */

/* (this broker also runs lws's own poll() loop instead of libev, and must stop cleanly) */
START_TEST(test_rate_limit_answers_429_with_retry_after)
{
    struct bk_broker b2;
    struct pt_err err = {0};
    int ok = 0, limited = 0;

    ck_assert_msg(bk_broker_start(&b2,
                                  "rate_limit_rps = 1\nrate_limit_burst = 3\nevent_loop = poll\n",
                                  NULL, &err) == 0,
                  "%s", err.msg);
    for (int i = 0; i < 8; i++) {
        struct bk_resp r;

        ck_assert_int_eq(bk_https(b2.port, "GET", "/healthz", NULL, NULL, 0, &r, &err), 0);
        if (r.status == 200)
            ok++;
        if (r.status == 429) {
            limited++;
            ck_assert_str_eq(bk_resp_error_code(&r), "rate_limited");
            ck_assert_ptr_nonnull(bk_resp_header(&r, "retry-after"));
        }
        bk_resp_fini(&r);
    }
    ck_assert_int_ge(ok, 3);
    ck_assert_int_le(ok, 4);
    ck_assert_int_ge(limited, 4);
    ck_assert(bk_broker_stop(&b2));
}
END_TEST

/* metrics_from: loopback by default (the suite's broker answers the metrics test above);
 * a listener reached from an address not listed gets 403, and SIGHUP applies a new list. */
START_TEST(test_metrics_are_refused_to_addresses_not_in_metrics_from)
{
    struct bk_broker b2;
    struct pt_err err = {0};
    struct bk_resp r;
    char text[8192], *at;
    FILE *f;

    ck_assert_msg(bk_broker_start(&b2, "metrics_from = 192.0.2.7, 198.51.100.1\n", NULL, &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(bk_https(b2.port, "GET", "/metrics", NULL, NULL, 0, &r, &err), 0);
    ck_assert_int_eq(r.status, 403);
    ck_assert_str_eq(bk_resp_error_code(&r), "metrics_forbidden");
    ck_assert_ptr_null(strstr(r.body.data, "portico_api_"));
    bk_resp_fini(&r);
    ck_assert_int_eq(bk_https(b2.port, "GET", "/healthz", NULL, NULL, 0, &r, &err), 0);
    ck_assert_int_eq(r.status, 200); /* only /metrics is restricted */
    bk_resp_fini(&r);
    /* allow loopback and reload: the next scrape is answered */
    f = fopen(b2.conf_path, "r+");
    ck_assert_ptr_nonnull(f);
    text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
    at = strstr(text, "198.51.100.1");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "127.0.0.1   ", 12); /* same length: the file is rewritten in place */
    rewind(f);
    fputs(text, f);
    fclose(f);
    kill(b2.proc.pid, SIGHUP);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(bk_https(b2.port, "GET", "/metrics", NULL, NULL, 0, &r, &err), 0);
        if (r.status == 200)
            break;
        bk_resp_fini(&r);
        usleep(20000);
    }
    ck_assert_int_eq(r.status, 200);
    bk_resp_fini(&r);
    ck_assert(bk_broker_stop(&b2));
}
END_TEST

START_TEST(test_check_mode_reports_file_and_line_of_an_unknown_key)
{
    char path[800], *argv[5];
    struct tf_proc p;
    struct pt_err err = {0};
    FILE *f;
    char line[1024];
    bool found = false;
    int status = -1;

    snprintf(path, sizeof(path), "%s/bad-%d.conf", tf_tmpdir(), (int)getpid());
    write_file(path, "[broker]\nlisten = 127.0.0.1:1\nfrobnicate = 3\n");
    argv[0] = (char *)bk_broker_bin();
    argv[1] = (char *)"-n";
    argv[2] = (char *)"-c";
    argv[3] = path;
    argv[4] = NULL;
    ck_assert_int_eq(tf_proc_spawn(&p, "broker-n", argv, NULL, &err), 0);
    for (int i = 0; i < 500 && tf_proc_alive(&p); i++)
        usleep(10000);
    (void)status;
    tf_proc_stop(&p, 100);
    f = fopen(p.log_path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        found = found || (strstr(line, ":3:") && strstr(line, "frobnicate"));
    fclose(f);
    ck_assert_msg(found, "no file:3: error naming the key");
}
END_TEST

Suite *
broker_http_suite(void)
{
    Suite *s = suite_create("broker_http");
    TCase *tc = tcase_create("one broker");
    TCase *rl = tcase_create("rate limit");

    tcase_add_unchecked_fixture(tc, http_setup, http_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_healthz_answers_ok_after_a_round_trip_through_the_workers);
    tcase_add_test(tc, test_every_response_carries_the_security_headers_and_a_request_id);
    tcase_add_test(tc, test_request_ids_differ_between_requests);
    tcase_add_test(tc, test_unknown_api_path_is_a_404_json_error);
    tcase_add_test(tc, test_wrong_method_is_405_with_an_allow_header);
    tcase_add_test(tc, test_body_over_the_cap_is_413_before_it_is_read);
    tcase_add_test(tc, test_headers_over_the_cap_are_refused);
    tcase_add_test(tc, test_static_files_are_served_with_their_mime_types);
    tcase_add_test(tc, test_directory_traversal_never_leaves_the_web_root);
    tcase_add_test(tc, test_tls_below_1_2_is_refused_and_1_2_is_accepted);
    tcase_add_test(tc, test_self_signed_key_is_made_with_mode_0600);
    tcase_add_test(tc, test_metrics_report_latency_by_route);
    tcase_add_test(tc, test_sighup_reloads_the_log_level);
    tcase_add_test(tc, test_http2_is_offered_by_alpn);
    tcase_add_test(tc, test_http2_bodies_get_the_same_limits_and_errors);
    tcase_add_test(tc, test_parallel_http2_streams_of_awkward_sizes_arrive_byte_exact);
    suite_add_tcase(s, tc);
    tcase_set_timeout(rl, 30);
    tcase_add_test(rl, test_rate_limit_answers_429_with_retry_after);
    tcase_add_test(rl, test_check_mode_reports_file_and_line_of_an_unknown_key);
    tcase_add_test(rl, test_metrics_are_refused_to_addresses_not_in_metrics_from);
    suite_add_tcase(s, rl);
    return s;
}
