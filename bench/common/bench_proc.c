/*
 * bench_proc.c - /proc readings for the benchmarks (see bench_proc.h).
 */
#include "bench_proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double
bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double
bench_percentile(double *v, int n, int pct)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return v[(long)n * pct / 100 < n ? (long)n * pct / 100 : n - 1];
}

double
bench_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
bench_stat_cpu_s(const char *stat_path)
{
    char buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f = fopen(stat_path, "r");

    if (!f)
        return 0;
    if (!fgets(buf, sizeof(buf), f)) {
        fclose(f);
        return 0;
    }
    fclose(f);
    p = strrchr(buf, ')'); /* the fields after the command name, which may hold spaces */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double
bench_proc_cpu_s(pid_t pid)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    return bench_stat_cpu_s(path);
}

int
bench_proc_tree(pid_t root, pid_t *out, int max)
{
    pid_t pids[4096], ppids[4096];
    int n = 0, all = 0;
    struct dirent *e;
    DIR *d;

    if (max < 1)
        return 0;
    out[n++] = root;
    d = opendir("/proc");
    while (d && (e = readdir(d)) && all < 4096) {
        char path[300], buf[512];
        pid_t p = (pid_t)atoi(e->d_name);
        FILE *f;

        if (p <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
        f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(buf, sizeof(buf), f)) {
            char *q = strrchr(buf, ')');
            int pp = 0;
            if (q && sscanf(q + 2, "%*c %d", &pp) == 1) {
                pids[all] = p;
                ppids[all++] = (pid_t)pp;
            }
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    for (int i = 0; i < n; i++) /* breadth first: the children of out[i] */
        for (int j = 0; j < all && n < max; j++)
            if (ppids[j] == out[i])
                out[n++] = pids[j];
    return n;
}

double
bench_proc_tree_cpu_s(pid_t root)
{
    pid_t t[64];
    int n = bench_proc_tree(root, t, 64);
    double sum = 0;

    for (int i = 0; i < n; i++)
        sum += bench_proc_cpu_s(t[i]);
    return sum;
}

long
bench_proc_tree_pss_kib(pid_t root)
{
    pid_t t[64];
    int n = bench_proc_tree(root, t, 64);
    long sum = 0;

    for (int i = 0; i < n; i++) {
        char path[64], line[256];
        long kib = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)t[i]);
        f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "Pss: %ld kB", &kib) == 1)
                break;
        fclose(f);
        sum += kib;
    }
    return sum;
}

long
bench_proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}
