/*
 * bench_broker.c - wrk against a running portico-broker (real slapd, pool/ on libvirt's
 * test:/// driver with a warm pool): launches per second and p99 (the signed-in user's
 * launch, which after the first is a reconnect through pool_claim()'s store
 * transaction), my-desktops per second, and a tiny static file as the reference the
 * other two are compared with (same TLS, same loop, no handler work). One run, side by
 * side, with ratios.
 *
 *   bench_broker [SECONDS] [CONNECTIONS]     (defaults 5 s, 16 connections, 2 wrk threads)
 *
 * Build it in a Release tree: an ASan build measures the sanitizer. Launches end in a
 * signed ticket (pool_desktop_display() on the test driver: endpoint, no password).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_client.h"
#include "common/mem.h"
#include "common/str.h"

struct result {
    double rps, p50_ms, p99_ms;
    char non2xx[64];
};

static double
to_ms(const char *v)
{
    double x = atof(v);

    if (strstr(v, "us"))
        return x / 1000;
    if (strstr(v, "ms"))
        return x;
    if (strstr(v, "s"))
        return x * 1000;
    return x;
}

static int
run_wrk(int port, const char *path, const char *script, const char *const *env, int secs, int conns,
        struct result *res)
{
    char url[256], d[16], c[16], sdir[1024];
    struct pt_buf out = PT_BUF_INIT;
    char *argv[16];
    int n = 0, rc;
    char *p;

    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", port, path);
    snprintf(d, sizeof(d), "%ds", secs);
    snprintf(c, sizeof(c), "%d", conns);
    argv[n++] = (char *)"/usr/bin/wrk";
    argv[n++] = (char *)"-t2";
    argv[n++] = (char *)"-c";
    argv[n++] = c;
    argv[n++] = (char *)"-d";
    argv[n++] = d;
    argv[n++] = (char *)"--latency";
    if (script) {
        snprintf(sdir, sizeof(sdir), "%s/bench/broker/%s", tf_source_dir(), script);
        argv[n++] = (char *)"-s";
        argv[n++] = sdir;
    }
    argv[n++] = url;
    argv[n] = NULL;
    rc = bk_run(argv, env, NULL, &out, (secs + 30) * 1000);
    memset(res, 0, sizeof(*res));
    if (rc != 0 || !out.data) {
        fprintf(stderr, "wrk failed (%d): %s\n", rc, out.data ? out.data : "");
        pt_buf_fini(&out);
        return -1;
    }
    if ((p = strstr(out.data, "Requests/sec:")))
        res->rps = atof(p + 13);
    if ((p = strstr(out.data, " 50% ")))
        res->p50_ms = to_ms(p + 5 + strspn(p + 5, " "));
    if ((p = strstr(out.data, " 99% ")))
        res->p99_ms = to_ms(p + 5 + strspn(p + 5, " "));
    if ((p = strstr(out.data, "Non-2xx or 3xx responses:")))
        snprintf(res->non2xx, sizeof(res->non2xx), "%d", atoi(p + 26));
    else
        snprintf(res->non2xx, sizeof(res->non2xx), "0");
    pt_buf_fini(&out);
    return 0;
}

int
main(int argc, char **argv)
{
    int secs = argc > 1 ? atoi(argv[1]) : 5, conns = argc > 2 ? atoi(argv[2]) : 16;
    struct pt_err err = {0};
    struct tf_slapd *slapd;
    struct bk_broker b;
    char sections[3072], extra[1024], node[800], web[800], p[900];
    char cookie_env[200], csrf_env[200];
    const char *env[] = {cookie_env, csrf_env, "PT_POOL=eng", NULL};
    struct result stat_r, desk_r, launch_r;
    struct bk_resp r;
    const char *login_body = "{\"user\":\"alice\",\"password\":\"alice-pw\"}";
    const char *sc;
    FILE *f;

    slapd = tf_slapd_start(NULL, &err);
    if (!slapd) {
        fprintf(stderr, "slapd: %s\n", err.msg);
        return 1;
    }
    snprintf(node, sizeof(node), "%s/node.xml", tf_tmpdir());
    f = fopen(node, "w");
    fputs("<node>\n  <pool type='dir'><name>golden</name><target><path>/golden</path></target>\n"
          "    <volume type='file'><name>base.qcow2</name><capacity unit='MiB'>64</capacity>"
          "<target><format type='qcow2'/></target></volume>\n  </pool>\n</node>\n",
          f);
    fclose(f);
    snprintf(web, sizeof(web), "%s/web", tf_tmpdir());
    mkdir(web, 0755);
    snprintf(p, sizeof(p), "%s/index.html", web);
    f = fopen(p, "w");
    fputs("<!doctype html><title>Portico</title>\n", f);
    fclose(f);
    snprintf(sections, sizeof(sections),
             "[ldap]\nuri = %s\nbind_dn = %s\nbind_pw = %s\nuser_base = ou=people,%s\n"
             "group_base = ou=groups,%s\nadmin_group = admins\npool = desktop-users:eng\n"
             "[hypervisor]\nuri = test://%s\nprobe = domain_state\nreconcile_interval = 200ms\n"
             "domain_prefix = bench%d-\n"
             "[pool \"eng\"]\nimage = /golden/base.qcow2\nmemory = 128\ndomain_type = test\n"
             "min = 0\nmax = 8\nwarm = 4\nprotocols = vnc\n",
             tf_slapd_uri(slapd), tf_slapd_admin_dn(slapd), tf_slapd_admin_pw(slapd),
             tf_slapd_base_dn(slapd), tf_slapd_base_dn(slapd), node, (int)getpid());
    snprintf(extra, sizeof(extra),
             "rate_limit_rps = 0\nlog_level = warning\nweb_root = %s\ngateway_url = "
             "wss://127.0.0.1:9/tunnel\n",
             web);
    if (bk_broker_start(&b, extra, sections, &err) < 0) {
        fprintf(stderr, "broker: %s\n", err.msg);
        tf_slapd_stop(slapd);
        return 1;
    }
    sleep(2); /* let the pool warm up */
    if (bk_https(b.port, "POST", "/api/v1/login", NULL, login_body, strlen(login_body), &r, &err) <
            0 ||
        r.status != 200) {
        fprintf(stderr, "login failed\n");
        return 1;
    }
    sc = bk_resp_header(&r, "set-cookie");
    snprintf(cookie_env, sizeof(cookie_env), "PT_COOKIE=%.*s", (int)strcspn(sc + 16, ";"), sc + 16);
    snprintf(csrf_env, sizeof(csrf_env), "PT_CSRF=%s",
             json_string_value(json_object_get(r.json, "csrf_token")));
    bk_resp_fini(&r);

    run_wrk(b.port, "/index.html", NULL, env, secs, conns, &stat_r);
    run_wrk(b.port, "/api/v1/desktops", "desktops.lua", env, secs, conns, &desk_r);
    run_wrk(b.port, "/api/v1/pools/eng/launch", "launch.lua", env, secs, conns, &launch_r);

    printf("%s under wrk -t2 -c%d -d%ds --latency (HTTPS, HTTP/1.1 keep-alive)\n", "portico-broker",
           conns, secs);
    printf("%-34s %10s %9s %9s %8s %10s\n", "endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx",
           "vs static");
    printf("%-34s %10.0f %9.2f %9.2f %8s %10s\n", "GET /index.html (reference)", stat_r.rps,
           stat_r.p50_ms, stat_r.p99_ms, stat_r.non2xx, "1.00");
    printf("%-34s %10.0f %9.2f %9.2f %8s %10.2f\n", "GET /api/v1/desktops", desk_r.rps,
           desk_r.p50_ms, desk_r.p99_ms, desk_r.non2xx,
           stat_r.rps > 0 ? desk_r.rps / stat_r.rps : 0);
    printf("%-34s %10.0f %9.2f %9.2f %8s %10.2f\n", "POST /api/v1/pools/eng/launch", launch_r.rps,
           launch_r.p50_ms, launch_r.p99_ms, launch_r.non2xx,
           stat_r.rps > 0 ? launch_r.rps / stat_r.rps : 0);
    bk_broker_stop(&b);
    tf_slapd_stop(slapd);
    return 0;
}
