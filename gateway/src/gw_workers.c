/*
 * gw_workers.c - `workers = N` (N > 1): a supervisor process and N loop processes.
 *
 * Why: one process holds at most RLIMIT_NOFILE descriptors and a tunnel needs three (the
 * browser's socket, its duplicate for gw_wsio.c, the desktop's), and one loop uses one
 * core. Each worker is an ordinary single-process gateway (main.c's serve()) with its own
 * lws context and its own listening socket on the same port (SO_REUSEPORT: the kernel
 * spreads new connections over them). What they must agree on lives in gw_shared.c,
 * mapped before the forks.
 *
 * The supervisor holds no secret and no connection: it maps the shared state, makes the
 * self-signed certificate (if one is needed) in a short-lived child so the key never
 * enters its memory, forks the workers, and then only waits for signals. Each worker
 * starts its own RDP session launcher first thing, while it has one thread and nothing
 * secret loaded, exactly as the single process does. A worker that dies is logged and
 * started again (its tunnels are gone; gw_shared_worker_gone() drops its share of the
 * counts); one that dies within 2 s of starting three times in a row (port taken, bad
 * key) stops the gateway with an error instead of looping. SIGTERM or SIGINT stop every
 * worker (SIGTERM, then SIGKILL after 10 s) and then the supervisor; SIGHUP is passed on
 * (each worker reloads on its own, gw_reload.c; one restarted after a SIGHUP re-reads
 * the file first, so it runs what the others run).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/str.h"
#include "gw_priv.h"

#define WORKER_FAST_EXIT_MS 2000
#define WORKER_FAST_EXITS   3
#define WORKER_STOP_MS      10000

struct worker {
    pid_t pid;
    int64_t started_ms;
    int64_t restart_at_ms;
    int fast_exits;
};

struct supervisor {
    struct gw_conf *c;
    struct gw_shared *sh;
    gw_serve_fn *serve;
    pid_t self;
    sigset_t old_mask;
    struct worker w[GW_WORKERS_MAX];
};

static int
worker_start(struct supervisor *s, int i)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        pt_log_errno(LOG_ERR, "event=worker_fork_failed worker=%d", i + 1);
        s->w[i].restart_at_ms = pt_time_mono_ms() + 1000;
        return -1;
    }
    if (pid == 0) {
        int rc;

        sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
        /* A worker must not outlive its supervisor (nor keep the port). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != s->self)
            _exit(0);
        rc = s->serve(s->c, s->sh, i);
        gw_shared_free(s->sh);
        gw_conf_free(s->c);
        exit(rc);
    }
    s->w[i].pid = pid;
    s->w[i].started_ms = pt_time_mono_ms();
    pt_log(LOG_NOTICE, "event=worker_started worker=%d pid=%d", i + 1, (int)pid);
    return 0;
}

/* Reap every exited worker. Returns -1 if one keeps dying at start (give up), else 0. */
static int
workers_reap(struct supervisor *s, bool stopping)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int i;
        for (i = 0; i < s->c->workers && s->w[i].pid != pid; i++)
            ;
        if (i == s->c->workers)
            continue;
        struct worker *w = &s->w[i];
        int64_t lived = pt_time_mono_ms() - w->started_ms;
        w->pid = 0;
        gw_shared_worker_gone(s->sh, i);
        if (stopping)
            continue;
        if (WIFSIGNALED(status))
            pt_log(LOG_ERR, "event=worker_died worker=%d pid=%d signal=%d lived_ms=%lld", i + 1,
                   (int)pid, WTERMSIG(status), (long long)lived);
        else
            pt_log(LOG_ERR, "event=worker_died worker=%d pid=%d status=%d lived_ms=%lld", i + 1,
                   (int)pid, WEXITSTATUS(status), (long long)lived);
        w->fast_exits = lived < WORKER_FAST_EXIT_MS ? w->fast_exits + 1 : 0;
        if (w->fast_exits >= WORKER_FAST_EXITS) {
            pt_log(LOG_CRIT,
                   "event=start_failed worker %d exited %d times within %d ms of "
                   "starting: see its log lines above",
                   i + 1, w->fast_exits, WORKER_FAST_EXIT_MS);
            return -1;
        }
        /* At once after a crash in service; after a pause if it died while starting. */
        w->restart_at_ms = pt_time_mono_ms() + (w->fast_exits ? 1000 : 0);
    }
    return 0;
}

static void
workers_stop(struct supervisor *s)
{
    int64_t deadline = pt_time_mono_ms() + WORKER_STOP_MS;
    bool any = true;

    for (int i = 0; i < s->c->workers; i++)
        if (s->w[i].pid > 0)
            kill(s->w[i].pid, SIGTERM);
    while (any && pt_time_mono_ms() < deadline) {
        struct timespec ts = {0, 20 * 1000000L};
        workers_reap(s, true);
        any = false;
        for (int i = 0; i < s->c->workers; i++)
            any |= s->w[i].pid > 0;
        if (any)
            nanosleep(&ts, NULL);
    }
    for (int i = 0; i < s->c->workers; i++) {
        if (s->w[i].pid <= 0)
            continue;
        pt_log(LOG_WARNING, "event=worker_killed worker=%d pid=%d did not stop within %d ms", i + 1,
               (int)s->w[i].pid, WORKER_STOP_MS);
        kill(s->w[i].pid, SIGKILL);
        waitpid(s->w[i].pid, NULL, 0);
        s->w[i].pid = 0;
    }
}

/* The self-signed pair, made by a child: its private key never enters this process. */
static int
tls_prepare(struct gw_conf *c)
{
    struct pt_err err = {0};
    int status = 0;
    pid_t pid;

    if (!c->tls || (c->tls_cert && c->tls_key))
        return 0;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (gw_tls_ensure(c, &err) < 0) {
            pt_log(LOG_CRIT, "event=start_failed %s", err.msg);
            _exit(1);
        }
        _exit(0);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 0;
}

int
gw_workers_run(struct gw_conf *c, gw_serve_fn *serve)
{
    struct supervisor s;
    struct pt_err err = {0};
    sigset_t set;
    int rc = 0;

    memset(&s, 0, sizeof(s));
    s.c = c;
    s.serve = serve;
    s.self = getpid();
    if (tls_prepare(c) < 0)
        return 1;
    s.sh = gw_shared_new(c->workers, c->max_tunnels, &err);
    if (!s.sh) {
        pt_log(LOG_CRIT, "event=start_failed %s", err.msg);
        return 1;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &s.old_mask);
    pt_log(LOG_NOTICE, "event=supervisor_started workers=%d listen=%s", c->workers, c->listen);
    for (int i = 0; i < c->workers; i++)
        worker_start(&s, i);
    for (;;) {
        struct timespec ts = {0, 200 * 1000000L};
        siginfo_t si;
        int sig = sigtimedwait(&set, &si, &ts);

        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP) {
            for (int i = 0; i < c->workers; i++)
                if (s.w[i].pid > 0)
                    kill(s.w[i].pid, SIGHUP);
            /* a worker started from now on re-reads the file as the others just did */
            c->reload_at_start = true;
        }
        if (workers_reap(&s, false) < 0) {
            rc = 1;
            break;
        }
        for (int i = 0; i < c->workers; i++)
            if (s.w[i].pid == 0 && pt_time_mono_ms() >= s.w[i].restart_at_ms)
                worker_start(&s, i);
    }
    pt_log(LOG_NOTICE, "event=stopping workers=%d", c->workers);
    workers_stop(&s);
    sigprocmask(SIG_SETMASK, &s.old_mask, NULL);
    gw_shared_free(s.sh);
    return rc;
}
