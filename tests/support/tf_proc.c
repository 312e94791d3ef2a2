/*
 * tf_proc.c - child processes of the fixtures: spawn, wait for readiness, stop by PID.
 *
 * A test that fails, times out or is killed must not leave servers behind, so there are
 * three nets, each catching what the previous one misses:
 *   1. PR_SET_PDEATHSIG(SIGKILL) in every child: the kernel kills it when the test dies.
 *      (It fires when the *thread* that forked exits: spawn from the test's main thread.)
 *   2. an atexit handler kills what this process spawned and did not stop;
 *   3. a pid file per child under tf_tmpdir()/pids/, which scripts/reap.sh kills.
 * Each child leads its own process group, so a stop also takes its helpers (xrdp and
 * Xvnc fork) and check's per-test killpg() cannot hit a fixture shared by several tests.
 *
 * The exec is confirmed through a close-on-exec pipe: a program that is not installed
 * is reported as PT_E_UNAVAILABLE at once, not as a timeout later.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/str.h"
#include "tf_priv.h"
#include "tsupport/fixture.h"

extern char **environ;

#define MAX_PROCS 128

/* What this process started; forked test children inherit the table but only act on
 * the entries they spawned themselves. */
static struct {
    pid_t pid;
    pid_t spawner;
    char pidfile[600];
} procs[MAX_PROCS];
static bool atexit_done;

static int
slot_find(pid_t pid)
{
    for (int i = 0; i < MAX_PROCS; i++)
        if (procs[i].pid == pid && pid > 0)
            return i;
    return -1;
}

static void
slot_release(int i)
{
    if (i < 0)
        return;
    if (procs[i].pidfile[0])
        unlink(procs[i].pidfile);
    memset(&procs[i], 0, sizeof(procs[i]));
}

static void
procs_kill_all(void)
{
    for (int i = 0; i < MAX_PROCS; i++) {
        if (procs[i].pid <= 0 || procs[i].spawner != getpid())
            continue;
        kill(-procs[i].pid, SIGKILL);
        kill(procs[i].pid, SIGKILL);
        waitpid(procs[i].pid, NULL, 0);
        slot_release(i);
    }
}

static int
status_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

/* The child between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
child_exec(const char *log_path, int errpipe, int keep_fd, pid_t parent, char *const argv[],
           char *const envp[])
{
    sigset_t none;
    int fd, first_closed = 3;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the parent died before prctl() */
        _exit(127);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    fd = open("/dev/null", O_RDONLY);
    if (fd >= 0 && fd != 0) {
        dup2(fd, 0);
        close(fd);
    }
    fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    /* move errpipe out of the way, then hand @keep_fd over as descriptor 3 */
    fd = fcntl(errpipe, F_DUPFD_CLOEXEC, 512);
    if (fd >= 0)
        errpipe = fd;
    if (keep_fd >= 0) {
        if (keep_fd == 3)
            fcntl(3, F_SETFD, 0);
        else
            dup2(keep_fd, 3);
        first_closed = 4;
    }
    /* close inherited descriptors (ctest's pipes, other fixtures' sockets) but errpipe */
    for (int i = first_closed; i < 1024; i++)
        if (i != errpipe)
            close(i);
    execvpe(argv[0], argv, envp ? envp : environ);
    {
        int e = errno;
        ssize_t w = write(errpipe, &e, sizeof(e));
        (void)w;
    }
    _exit(127);
}

int
tf_proc_spawn_fd(struct tf_proc *p, const char *name, char *const argv[], char *const envp[],
                 int keep_fd, struct pt_err *err)
{
    static unsigned counter;
    int pipefd[2] = {-1, -1};
    int slot = -1, e = 0;
    pid_t pid, parent = getpid();
    ssize_t r;
    FILE *f;

    memset(p, 0, sizeof(*p));
    pt_strlcpy(p->name, name, sizeof(p->name));
    /* the name becomes part of file names */
    for (char *c = p->name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.'))
            *c = '_';
    snprintf(p->log_path, sizeof(p->log_path), "%s/logs/%s-%ld-%u.log", tf_tmpdir(), p->name,
             (long)parent, ++counter);
    for (int i = 0; i < MAX_PROCS && slot < 0; i++)
        if (procs[i].pid == 0)
            slot = i;
    if (slot < 0)
        return pt_err_set(err, PT_E_LIMIT, "more than %d fixture processes", MAX_PROCS);
    if (!atexit_done) {
        atexit(procs_kill_all);
        atexit_done = true;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return pt_err_set(err, PT_E_IO, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return pt_err_set(err, PT_E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0)
        child_exec(p->log_path, pipefd[1], keep_fd, parent, argv, envp);
    close(pipefd[1]);
    /* also set it here: whichever of parent and child runs first, the group exists
     * before the parent may kill it */
    setpgid(pid, pid);
    do
        r = read(pipefd[0], &e, sizeof(e));
    while (r < 0 && errno == EINTR);
    close(pipefd[0]);
    if (r == (ssize_t)sizeof(e)) {
        waitpid(pid, NULL, 0);
        return pt_err_set(err, e == ENOENT ? PT_E_UNAVAILABLE : PT_E_IO, "%s: cannot run %s: %s%s",
                          name, argv[0], strerror(e),
                          e == ENOENT ? " (see scripts/install-deps.sh)" : "");
    }
    p->pid = pid;
    procs[slot].pid = pid;
    procs[slot].spawner = parent;
    snprintf(procs[slot].pidfile, sizeof(procs[slot].pidfile), "%s/pids/%s-%ld.pid", tf_tmpdir(),
             p->name, (long)pid);
    f = fopen(procs[slot].pidfile, "we");
    if (f) {
        fprintf(f, "%ld\n", (long)pid);
        fclose(f);
    }
    return 0;
}

int
tf_proc_spawn(struct tf_proc *p, const char *name, char *const argv[], char *const envp[],
              struct pt_err *err)
{
    return tf_proc_spawn_fd(p, name, argv, envp, -1, err);
}

bool
tf_proc_exited_with(const struct tf_proc *p, int *status)
{
    siginfo_t si;

    if (!p || p->pid <= 0)
        return true;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
        if (si.si_pid == 0)
            return false;
        if (status)
            *status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        return true;
    }
    /* not our child (started by the parent of a forked test): ask /proc */
    return !tf_pid_running(p->pid);
}

bool
tf_proc_alive(const struct tf_proc *p)
{
    return !tf_proc_exited_with(p, NULL);
}

void
tf_proc_stop(struct tf_proc *p, int grace_ms)
{
    int i, st = 0;
    int64_t deadline;
    pid_t w;

    if (!p || p->pid <= 0)
        return;
    i = slot_find(p->pid);
    if (grace_ms > 0) {
        kill(-p->pid, SIGTERM);
        kill(p->pid, SIGTERM);
        deadline = pt_time_mono_ms() + grace_ms;
        while (pt_time_mono_ms() < deadline) {
            w = waitpid(p->pid, &st, WNOHANG);
            if (w == p->pid || (w < 0 && errno == ECHILD && !tf_pid_running(p->pid)))
                goto out;
            tf_sleep_ms(5);
        }
    }
    kill(-p->pid, SIGKILL);
    kill(p->pid, SIGKILL);
    if (waitpid(p->pid, &st, 0) < 0 && errno == ECHILD) {
        /* not our child: wait for it to vanish */
        for (int n = 0; n < 400 && tf_pid_running(p->pid); n++)
            tf_sleep_ms(5);
    }
out:
    /* helpers left in the group (forked workers) go too */
    kill(-p->pid, SIGKILL);
    slot_release(i);
    p->pid = 0;
}

static void
log_tail(const char *path, int lines)
{
    FILE *f = fopen(path, "re");
    char *buf;
    long size, start;
    size_t n;
    int seen = 0;

    if (!f) {
        fprintf(stderr, "tsupport: (no log at %s)\n", path);
        return;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    start = size > 16384 ? size - 16384 : 0;
    fseek(f, start, SEEK_SET);
    buf = pt_xmalloc((size_t)(size - start) + 1);
    n = fread(buf, 1, (size_t)(size - start), f);
    buf[n] = '\0';
    fclose(f);
    for (size_t k = n; k > 0; k--) {
        if (buf[k - 1] == '\n' && k != n && ++seen >= lines) {
            memmove(buf, buf + k, n - k + 1);
            break;
        }
    }
    fprintf(stderr, "---- last lines of %s ----\n%s%s---- end of %s ----\n", path, buf,
            n && buf[strlen(buf) - 1] != '\n' ? "\n" : "", path);
    free(buf);
}

void
tf_proc_print_log(const struct tf_proc *p, int lines)
{
    if (p && p->log_path[0])
        log_tail(p->log_path, lines > 0 ? lines : 30);
}

int
tf_proc_wait_ready(struct tf_proc *p, int port, int timeout_ms, struct pt_err *err)
{
    int64_t deadline = pt_time_mono_ms() + timeout_ms;
    int st = 0;

    for (;;) {
        if (tf_wait_port(port, 0) == 0)
            return 0;
        if (tf_proc_exited_with(p, &st)) {
            tf_proc_print_log(p, 30);
            return pt_err_set(err, PT_E_UNAVAILABLE,
                              "%s exited (status %d) before listening on 127.0.0.1:%d; log %s",
                              p->name, st, port, p->log_path);
        }
        if (pt_time_mono_ms() >= deadline) {
            tf_proc_print_log(p, 30);
            return pt_err_set(err, PT_E_TIMEOUT,
                              "%s did not listen on 127.0.0.1:%d within %d ms; log %s", p->name,
                              port, timeout_ms, p->log_path);
        }
        tf_sleep_ms(5);
    }
}

/* Run @argv to its end (killed after @timeout_ms) and reap its process group: nothing
 * of a finished command may linger. Fills @p (its log) and *@status. */
static int
run_to_end(struct tf_proc *p, const char *name, char *const argv[], char *const envp[],
           int timeout_ms, int *status, struct pt_err *err)
{
    int64_t deadline = pt_time_mono_ms() + timeout_ms;
    int st = 0, i;

    if (tf_proc_spawn(p, name, argv, envp, err) < 0)
        return -1;
    while (waitpid(p->pid, &st, WNOHANG) != p->pid) {
        if (pt_time_mono_ms() >= deadline) {
            tf_proc_stop(p, 0);
            tf_proc_print_log(p, 60);
            return pt_err_set(err, PT_E_TIMEOUT, "%s (%s) did not finish within %d ms; log %s",
                              name, argv[0], timeout_ms, p->log_path);
        }
        tf_sleep_ms(2);
    }
    i = slot_find(p->pid);
    kill(-p->pid, SIGKILL);
    slot_release(i);
    *status = status_code(st);
    return 0;
}

int
tf_run_status(const char *name, char *const argv[], char *const envp[], int timeout_ms, int *status,
              struct pt_err *err)
{
    struct tf_proc p;

    if (run_to_end(&p, name, argv, envp, timeout_ms, status, err) < 0)
        return -1;
    if (*status != 0)
        tf_proc_print_log(&p, 60);
    return 0;
}

int
tf_run(const char *name, char *const argv[], char *const envp[], int timeout_ms, struct pt_err *err)
{
    int st = 0;

    if (tf_run_status(name, argv, envp, timeout_ms, &st, err) < 0)
        return -1;
    if (st != 0)
        return pt_err_set(err, PT_E_IO, "%s (%s) failed with status %d (log above)", name, argv[0],
                          st);
    return 0;
}

int
tf_run_capture(const char *name, char *const argv[], int timeout_ms, int *status, char **out,
               struct pt_err *err)
{
    struct tf_proc p;

    if (out)
        *out = NULL;
    if (run_to_end(&p, name, argv, NULL, timeout_ms, status, err) < 0)
        return -1;
    if (out) {
        FILE *f = fopen(p.log_path, "re");
        struct pt_buf b = PT_BUF_INIT;
        char chunk[4096];
        size_t n;

        while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 1024 * 1024)
            pt_buf_append(&b, chunk, n);
        if (f)
            fclose(f);
        pt_buf_append(&b, "", 0); /* NUL-terminated even when empty */
        *out = pt_buf_steal(&b);
    }
    unlink(p.log_path);
    return 0;
}
