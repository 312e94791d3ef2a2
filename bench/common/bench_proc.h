/*
 * bench_proc.h - what a benchmark reads from /proc about the processes it measures: CPU
 * time, resident and proportional memory, and a process's descendants (a gateway's
 * supervisor, workers and RDP session processes count together); and the order
 * statistics its figures are quoted as.
 */
#ifndef PT_BENCH_PROC_H
#define PT_BENCH_PROC_H

#include <sys/types.h>

/* bench_median() - the median of @v[0..@n) (sorts @v; mean of the middle two when @n is
 * even). */
double bench_median(double *v, int n);
/* bench_percentile() - the @pct-th percentile of @v[0..@n) (sorts @v; nearest rank). */
double bench_percentile(double *v, int n, int pct);
/* bench_now_s() - CLOCK_MONOTONIC in seconds. */
double bench_now_s(void);
/* bench_stat_cpu_s() - utime + stime in seconds from a stat file (/proc/PID/stat or
 * /proc/self/task/TID/stat); 0 if it cannot be read. */
double bench_stat_cpu_s(const char *stat_path);
/* bench_proc_cpu_s() - the same for process @pid. */
double bench_proc_cpu_s(pid_t pid);
/* bench_proc_tree() - @root and its descendants, breadth first, at most @max; the count. */
int bench_proc_tree(pid_t root, pid_t *out, int max);
/* bench_proc_tree_cpu_s() - CPU seconds summed over @root's tree. */
double bench_proc_tree_cpu_s(pid_t root);
/* bench_proc_tree_pss_kib() - PSS (shared pages split among their users) summed over
 * @root's tree, KiB. */
long bench_proc_tree_pss_kib(pid_t root);
/* bench_proc_rss_kib() - VmRSS of @pid in KiB, or -1. */
long bench_proc_rss_kib(pid_t pid);

#endif
