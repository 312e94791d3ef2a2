/*
 * tf_core.c - scratch directories, free ports and small file helpers for the fixtures.
 *
 * Each test process gets one scratch directory, tf-<prog>-<pid>-XXXXXX, under
 * $PORTICO_TEST_TMP (or /tmp). check runs every test in a forked child by default, and
 * children inherit our atexit handler: only the process that created the directory
 * removes it, so a test child never deletes the scratch space of its parent's fixtures.
 * A test killed by a timeout never runs atexit; the next process that creates a scratch
 * directory removes those whose owner pid is gone (scripts/reap.sh has already stopped
 * their servers, and PR_SET_PDEATHSIG took them down in the first place).
 *
 * Ports come from 20000-31999, below Linux's ephemeral range (32768+), so a client
 * socket of another test can never be sitting on the port we hand out, and away from the
 * 5900+ range where libvirt puts guest displays.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/str.h"
#include "tf_priv.h"
#include "tsupport/fixture.h"

#define PORT_LO 20000
#define PORT_HI 32000

static char tmpdir[512];
static pid_t tmpdir_owner;
static char srcdir[512];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void
rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool
keep_tmp(void)
{
    const char *keep = getenv("PORTICO_KEEP_TMP");

    return keep && *keep && strcmp(keep, "0") != 0;
}

static void
tmpdir_cleanup(void)
{
    if (getpid() != tmpdir_owner || !tmpdir[0])
        return;
    if (keep_tmp()) {
        fprintf(stderr, "tsupport: kept %s (PORTICO_KEEP_TMP)\n", tmpdir);
        return;
    }
    rm_rf(tmpdir);
}

/* A zombie is not running: PID 1 on some machines (containers, microVMs) never reaps
 * orphans, so kill(pid, 0) alone would call a dead process alive. */
bool
tf_pid_running(long pid)
{
    char path[64], buf[512];
    FILE *f;
    char *rp;
    bool running = false;

    if (pid <= 0)
        return false;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "re");
    if (!f)
        return false;
    if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')))
        running = rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
    fclose(f);
    return running;
}

/* Remove tf-*-PID-* directories whose PID is no longer running. */
static void
reap_stale(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char path[1024];
        const char *dash;
        long pid;
        char *end;

        if (!pt_str_has_prefix(e->d_name, "tf-"))
            continue;
        /* tf-<prog>-<pid>-<random>: the pid sits between the last two dashes */
        dash = strrchr(e->d_name, '-');
        if (!dash || dash == e->d_name)
            continue;
        {
            const char *p = dash - 1;
            while (p > e->d_name && *p != '-')
                p--;
            pid = strtol(p + 1, &end, 10);
            if (end != dash || pid <= 1)
                continue;
        }
        if (tf_pid_running(pid))
            continue;
        snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
        rm_rf(path);
    }
    closedir(d);
}

const char *
tf_tmpdir(void)
{
    const char *base = getenv("PORTICO_TEST_TMP");
    char pids[600];

    if (tmpdir[0] && tmpdir_owner == getpid())
        return tmpdir;
    /* A forked check child uses its parent's directory if the parent made one: fixtures
     * started in an unchecked setup live there. */
    if (tmpdir[0])
        return tmpdir;
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    if (!keep_tmp())
        reap_stale(base);
    snprintf(tmpdir, sizeof(tmpdir), "%s/tf-%.20s-%ld-XXXXXX", base, program_invocation_short_name,
             (long)getpid());
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "tsupport: cannot create %s: %s\n", tmpdir, strerror(errno));
        abort();
    }
    tmpdir_owner = getpid();
    atexit(tmpdir_cleanup);
    snprintf(pids, sizeof(pids), "%s/pids", tmpdir);
    mkdir(pids, 0755);
    snprintf(pids, sizeof(pids), "%s/logs", tmpdir);
    mkdir(pids, 0755);
    return tmpdir;
}

static bool
port_bindable(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0)
        return false;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (ok) {
        /* something listening on the wildcard address would also take our connections */
        struct sockaddr_in any = a;
        int fd2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        any.sin_addr.s_addr = htonl(INADDR_ANY);
        close(fd);
        fd = -1;
        ok = fd2 >= 0 && bind(fd2, (struct sockaddr *)&any, sizeof(any)) == 0;
        if (fd2 >= 0)
            close(fd2);
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

int
tf_free_port(void)
{
    /* Ports handed out by this process recently: two fixtures started back to back must
     * not get the same one before either has bound it. */
    static int given[64];
    static unsigned ngiven;

    for (int tries = 0; tries < 500; tries++) {
        uint32_t r = 0;
        int port;
        bool seen = false;

        if (getrandom(&r, sizeof(r), 0) != sizeof(r))
            r = (uint32_t)rand();
        port = PORT_LO + (int)(r % (PORT_HI - PORT_LO));
        for (unsigned i = 0; i < 64 && i < ngiven; i++)
            seen |= given[i] == port;
        if (seen || !port_bindable(port))
            continue;
        given[ngiven++ % 64] = port;
        return port;
    }
    fprintf(stderr, "tsupport: no free port in %d-%d\n", PORT_LO, PORT_HI - 1);
    abort();
}

int
tf_wait_port(int port, int timeout_ms)
{
    int64_t deadline = pt_time_mono_ms() + timeout_ms;

    for (;;) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int rc;

        if (fd < 0)
            return -1;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (rc == 0)
            return 0;
        if (pt_time_mono_ms() >= deadline)
            return -1;
        tf_sleep_ms(5);
    }
}

const char *
tf_source_dir(void)
{
    const char *env = getenv("PORTICO_SOURCE_DIR");
    char *cut;

    if (srcdir[0])
        return srcdir;
    if (env && *env) {
        pt_strlcpy(srcdir, env, sizeof(srcdir));
        return srcdir;
    }
    /* CMake compiles with absolute paths: strip /tests/support/tf_core.c */
    pt_strlcpy(srcdir, __FILE__, sizeof(srcdir));
    cut = strstr(srcdir, "/tests/support/");
    if (cut)
        *cut = '\0';
    else
        pt_strlcpy(srcdir, ".", sizeof(srcdir));
    return srcdir;
}

const char *
tf_state_dir(void)
{
    const char *s = getenv("PORTICO_STATE");

    return s && *s ? s : "/var/tmp/portico";
}

void
tf_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void
tf_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];

    if (n == 0)
        return;
    if (n - 1 > sizeof(b))
        n = sizeof(b) + 1;
    if (getrandom(b, n - 1, 0) != (ssize_t)(n - 1))
        abort();
    for (size_t i = 0; i + 1 < n; i++)
        out[i] = hex[b[i] & 15];
    out[n - 1] = '\0';
}

bool
tf_which(const char *prog, char *out, size_t n)
{
    const char *path = getenv("PATH");
    PT_AUTOFREE char *all = NULL;
    char *save = NULL;

    if (strchr(prog, '/')) {
        if (access(prog, X_OK) != 0)
            return false;
        if (out)
            pt_strlcpy(out, prog, n);
        return true;
    }
    all = pt_xasprintf("%s:/usr/local/sbin:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
    for (char *dir = strtok_r(all, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char full[1024];

        snprintf(full, sizeof(full), "%s/%s", dir, prog);
        if (access(full, X_OK) == 0) {
            if (out)
                pt_strlcpy(out, full, n);
            return true;
        }
    }
    return false;
}

int
tf_need(struct pt_err *err, const char *prog, const char *package)
{
    if (tf_which(prog, NULL, 0))
        return 0;
    return pt_err_set(err, PT_E_UNAVAILABLE,
                      "%s is not installed: apt-get install %s (scripts/install-deps.sh)", prog,
                      package);
}

int
tf_file_write(const char *path, const char *text, int mode, struct pt_err *err)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ssize_t w;

    if (fd < 0)
        return pt_err_set(err, PT_E_IO, "cannot create %s: %s", path, strerror(errno));
    w = write(fd, text, len);
    if (close(fd) < 0 || w != (ssize_t)len)
        return pt_err_set(err, PT_E_IO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

bool
tf_file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "re");
    char line[4096];
    bool found = false;

    if (!f)
        return false;
    while (!found && fgets(line, sizeof(line), f))
        found = strcasestr(line, needle) != NULL;
    fclose(f);
    return found;
}

int
tf_mkdir_p(const char *path, struct pt_err *err)
{
    char buf[1024];

    if (pt_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
        return pt_err_set(err, PT_E_INVALID, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return pt_err_set(err, PT_E_IO, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return pt_err_set(err, PT_E_IO, "cannot create %s: %s", buf, strerror(errno));
    return 0;
}

char *
tf_subdir(const char *prefix, struct pt_err *err)
{
    static unsigned counter;
    char *dir;

    for (;;) {
        dir = pt_xasprintf("%s/%s-%u", tf_tmpdir(), prefix, ++counter);
        if (mkdir(dir, 0755) == 0)
            return dir;
        if (errno != EEXIST) {
            pt_err_set(err, PT_E_IO, "cannot create %s: %s", dir, strerror(errno));
            free(dir);
            return NULL;
        }
        free(dir);
    }
}
