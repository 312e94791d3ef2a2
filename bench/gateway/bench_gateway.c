/*
 * bench_gateway.c - portico-gateway side by side with raw loopback TCP and Debian's
 * websockify, in one run, printed as ratios (issue 7's targets in brackets).
 *
 *   bench_gateway PORTICO_GATEWAY_BINARY [--quick]
 *   BENCH_REPEAT=N [BENCH_TLS=1] bench_gateway ...   throughput and 64-byte round trips,
 *                                                    N alternating rounds, medians, ratios
 *
 * Backends live in this process: a source (endless bytes), a sink (counts bytes), and an
 * epoll echo server that holds thousands of connections. The client is the tests' small
 * blocking WebSocket client (masked frames, as a browser sends). Each figure is measured
 * for raw TCP, websockify and the gateway over ws, then websockify and the gateway over
 * wss (TLS). Memory per tunnel is the growth of the summed PSS of the gateway's processes
 * (supervisor, workers, RDP launchers) over 10,000 open tunnels (BENCH_TUNNELS: another
 * count; above 9,000 the echo backend runs as its own process, for descriptors), with
 * `workers = 2` (a tunnel holds 3 descriptors and this machine caps a process at 20,000).
 * CPU is the utime+stime of one gateway process while 1,000 tunnels each echo one message
 * a second, the median of three 6 s windows (printed again for the 2-worker gateway, with
 * 1,000 of its 10,000 tunnels busy). Throughput and round trips use one process.
 * The gateway runs with keepalive = 10m: this client answers pings only while it reads,
 * and opening 10,000 TLS tunnels one by one takes longer than 3 x 15 s.
 *
 * Environment: BENCH_PROFILE=down|up|rtt|scale|mem (one figure, for profiling), BENCH_TLS=1,
 * BENCH_GW_CONF="workers = 2" (more [gateway] lines), BENCH_TUNNELS=N, BENCH_WRAP=prog.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/ticket.h"
#include "bench_proc.h"
#include "common/str.h"
#include "wsclient.h"

static const char *gw_bin;
static char dir[256];
static struct auth_signer *signer;
static int quick;

static int
listen_any(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0)
        exit(1);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

static int
tcp_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* ---- backends ------------------------------------------------------------------------- */

enum mode {
    SOURCE,
    SINK,
    ECHO
};
static int port_of[3];
static atomic_ullong sink_bytes;

struct conn {
    int fd;
    enum mode m;
};

static void *
conn_thread(void *arg)
{
    struct conn *c = arg;
    static unsigned char src[65536];
    unsigned char *buf = malloc(65536);
    int one = 1;

    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (;;) {
        if (c->m == SOURCE) {
            if (send(c->fd, src, sizeof(src), MSG_NOSIGNAL) <= 0)
                break;
        } else {
            ssize_t r = recv(c->fd, buf, 65536, 0);
            if (r <= 0)
                break;
            atomic_fetch_add(&sink_bytes, (unsigned long long)r);
        }
    }
    close(c->fd);
    free(buf);
    free(c);
    return NULL;
}

static void *
accept_thread(void *arg)
{
    enum mode m = (enum mode)(intptr_t)arg;
    int lfd = listen_any(&port_of[m]);

    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        struct conn *c = malloc(sizeof(*c));
        pthread_t th;
        c->fd = fd;
        c->m = m;
        pthread_create(&th, NULL, conn_thread, c);
        pthread_detach(th);
    }
    return NULL;
}

/* Echo: one epoll loop for any number of connections, on listening socket @lfd. */
static void
echo_loop(int lfd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[256];
    unsigned char buf[65536];

    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), one = 1;
                if (c < 0)
                    continue;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof(buf), 0);
            if (r <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                continue;
            }
            for (ssize_t o = 0; o < r;) { /* small echoes: blocking is fine here */
                ssize_t w = send(fd, buf + o, (size_t)(r - o), MSG_NOSIGNAL);
                if (w <= 0)
                    break;
                o += w;
            }
        }
    }
}

static void *
echo_thread(void *arg)
{
    (void)arg;
    echo_loop(listen_any(&port_of[ECHO]));
    return NULL;
}

/* The echo backend in its own process: a tunnel costs the backend one descriptor, and
 * 10,000 tunnels' backend ends plus their client ends do not fit one process under a
 * 20,000 descriptor cap. Used when BENCH_TUNNELS > 9000. */
static pid_t
echo_process_start(void)
{
    int lfd = listen_any(&port_of[ECHO]);
    pid_t pid = fork();

    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        echo_loop(lfd);
        _exit(0);
    }
    close(lfd);
    return pid;
}

/* ---- the programs under test ------------------------------------------------------------ */

struct server {
    pid_t pid;
    int port;
    const char *name;
};

static pid_t
spawn(char *const argv[])
{
    pid_t pid = fork();

    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        /* a benchmark that dies (or is interrupted) takes its servers with it */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void
wait_port(int port)
{
    for (int i = 0; i < 300; i++) {
        int fd = tcp_connect(port);
        if (fd >= 0) {
            close(fd);
            return;
        }
        usleep(20000);
    }
    fprintf(stderr, "bench: nothing listens on %d\n", port);
    exit(1);
}

static int
free_port(void)
{
    int p, fd = listen_any(&p);
    close(fd);
    return p;
}

static int
tunnels_wanted(void)
{
    return getenv("BENCH_TUNNELS") ? atoi(getenv("BENCH_TUNNELS")) : quick ? 2000 : 10000;
}

/* @extra: [gateway] lines of this run (NULL: none), before BENCH_GW_CONF's. */
static void
gateway_start_with(struct server *s, bool tls, const char *extra)
{
    char conf[512], key[512];
    struct pt_err err = {0};
    FILE *f;

    snprintf(key, sizeof(key), "%s/ticket.key", dir);
    if (!signer && !(signer = auth_signer_load_or_create(key, &err))) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    s->port = free_port();
    s->name = tls ? "gateway wss" : "gateway ws";
    snprintf(conf, sizeof(conf), "%s/gw-%d.conf", dir, tls);
    f = fopen(conf, "w");
    fprintf(
        f,
        "[gateway]\nlisten = 127.0.0.1:%d\ntls = %s\nstate_dir = %s\nid = bench\nevent_lib = yes\n"
        "ticket_key = %s.pub\nmax_conns_per_addr = 100000\nmax_tunnels = 12000\n"
        "log_level = warning\nkeepalive = 10m\n%s\n%s\n",
        s->port, tls ? "yes" : "no", dir, key, extra ? extra : "",
        getenv("BENCH_GW_CONF") ? getenv("BENCH_GW_CONF") : ""); /* e.g. "direct_io = no" */
    fclose(f);
    char *argv[] = {(char *)gw_bin, (char *)"-c", conf, NULL};
    char *wrapped[] = {getenv("BENCH_WRAP"), (char *)gw_bin, (char *)"-c", conf, NULL};
    s->pid = spawn(getenv("BENCH_WRAP") ? wrapped : argv); /* e.g. /usr/bin/heaptrack */
    wait_port(s->port);
}

static void
gateway_start(struct server *s, bool tls)
{
    gateway_start_with(s, tls, NULL);
}

static void
websockify_start(struct server *s, bool tls, int target)
{
    char listen[64], tgt[64], cert[512], key[512];

    s->port = free_port();
    s->name = tls ? "websockify wss" : "websockify ws";
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
    snprintf(tgt, sizeof(tgt), "127.0.0.1:%d", target);
    snprintf(cert, sizeof(cert), "--cert=%s/gateway-selfsigned.crt", dir);
    snprintf(key, sizeof(key), "--key=%s/gateway-selfsigned.key", dir);
    char *argv_plain[] = {(char *)"/usr/bin/websockify", listen, tgt, NULL};
    char *argv_tls[] = {
        (char *)"/usr/bin/websockify", cert, key, (char *)"--ssl-only", listen, tgt, NULL};
    s->pid = spawn(tls ? argv_tls : argv_plain);
    wait_port(s->port);
}

static void
server_stop(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        for (int i = 0; i < 100 && waitpid(s->pid, NULL, WNOHANG) == 0; i++)
            usleep(20000);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = 0;
}

static char *
ticket(enum mode m, int max_conns)
{
    struct auth_ticket_claims c;
    struct pt_err err = {0};

    auth_ticket_claims_init(&c, pt_time_wall_ms(), 600000, &err);
    pt_strlcpy(c.session_id, "bench", sizeof(c.session_id));
    pt_strlcpy(c.user, "bench", sizeof(c.user));
    pt_strlcpy(c.desktop, "bench", sizeof(c.desktop));
    c.proto = AUTH_PROTO_VNC;
    pt_strlcpy(c.host, "127.0.0.1", sizeof(c.host));
    c.port = port_of[m];
    pt_strlcpy(c.audience, "bench", sizeof(c.audience));
    c.max_conns = max_conns;
    return auth_signer_sign(signer, &c, &err);
}

/* A WebSocket to @s carrying to backend @m (websockify's target is fixed at start). */
static struct wsc *
ws_open(const struct server *s, enum mode m, bool tls, const char *tk)
{
    char path[4200], err[256];
    struct wsc *c;

    if (strncmp(s->name, "gateway", 7) == 0)
        snprintf(path, sizeof(path), "/tunnel?ticket=%s", tk);
    else
        snprintf(path, sizeof(path), "/websockify");
    c = wsc_connect(s->port, path, NULL, "binary", tls, err, sizeof(err));
    if (!c)
        fprintf(stderr, "bench: %s: %s\n", s->name, err);
    (void)m;
    return c;
}

/* ---- measurements ----------------------------------------------------------------------- */

static size_t down_total = 1u << 30, up_total = 512u << 20;

static double
down_raw(void)
{
    int fd = tcp_connect(port_of[SOURCE]);
    unsigned char *buf = malloc(1 << 16);
    size_t got = 0;
    double t0 = bench_now_s();

    while (got < down_total) {
        ssize_t r = recv(fd, buf, 1 << 16, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    double mbs = (double)got / 1e6 / (bench_now_s() - t0);
    close(fd);
    free(buf);
    return mbs;
}

static double
down_ws(const struct server *s, bool tls)
{
    char *tk = ticket(SOURCE, 1);
    struct wsc *c = ws_open(s, SOURCE, tls, tk);
    unsigned char *b = NULL;
    size_t len = 0, cap = 0, got = 0;
    double t0;

    free(tk);
    if (!c)
        return 0;
    t0 = bench_now_s();
    while (got < down_total) {
        int op = wsc_recv(c, &b, &len, &cap, 5000);
        if (op != WSC_BINARY) {
            fprintf(stderr, "bench: %s: down stopped after %zu bytes: %s %d %s\n", s->name, got,
                    op == WSC_CLOSE ? "close"
                    : op == 0       ? "timeout"
                                    : "error",
                    wsc_close_code(c), wsc_close_reason(c));
            break;
        }
        got += len;
    }
    double mbs = (double)got / 1e6 / (bench_now_s() - t0);
    wsc_free(c);
    free(b);
    return mbs;
}

static double
up_raw(void)
{
    int fd = tcp_connect(port_of[SINK]);
    unsigned char *buf = calloc(1, 1 << 16);
    unsigned long long base = atomic_load(&sink_bytes);
    double t0 = bench_now_s();

    for (size_t sent = 0; sent < up_total; sent += 1 << 16)
        if (send(fd, buf, 1 << 16, MSG_NOSIGNAL) <= 0)
            break;
    while (atomic_load(&sink_bytes) - base < up_total && bench_now_s() - t0 < 60)
        usleep(200);
    double mbs = (double)(atomic_load(&sink_bytes) - base) / 1e6 / (bench_now_s() - t0);
    close(fd);
    free(buf);
    return mbs;
}

static double
up_ws(const struct server *s, bool tls)
{
    char *tk = ticket(SINK, 1);
    struct wsc *c = ws_open(s, SINK, tls, tk);
    unsigned char *buf = calloc(1, 1 << 16);
    unsigned long long base = atomic_load(&sink_bytes);
    double t0;

    free(tk);
    if (!c)
        return 0;
    t0 = bench_now_s();
    for (size_t sent = 0; sent < up_total; sent += 1 << 16)
        if (wsc_send(c, WSC_BINARY, buf, 1 << 16) < 0)
            break;
    while (atomic_load(&sink_bytes) - base < up_total && bench_now_s() - t0 < 60)
        usleep(200);
    double mbs = (double)(atomic_load(&sink_bytes) - base) / 1e6 / (bench_now_s() - t0);
    wsc_free(c);
    free(buf);
    return mbs;
}

#define RTT_N 4000

static void
rtt_raw(double *p50, double *p99)
{
    int fd = tcp_connect(port_of[ECHO]);
    unsigned char m[64] = {1}, r[64];
    static double v[RTT_N];

    for (int i = 0; i < RTT_N; i++) {
        double t0 = bench_now_s();
        send(fd, m, 64, 0);
        size_t got = 0;
        while (got < 64) {
            ssize_t n = recv(fd, r + got, 64 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        v[i] = (bench_now_s() - t0) * 1e6;
    }
    close(fd);
    *p50 = bench_percentile(v, RTT_N, 50);
    *p99 = bench_percentile(v, RTT_N, 99);
}

static void
rtt_ws(const struct server *s, bool tls, double *p50, double *p99)
{
    char *tk = ticket(ECHO, 1);
    struct wsc *c = ws_open(s, ECHO, tls, tk);
    unsigned char m[64] = {1}, *b = NULL;
    size_t len = 0, cap = 0;
    static double v[RTT_N];

    free(tk);
    *p50 = *p99 = 0;
    if (!c)
        return;
    for (int i = 0; i < RTT_N; i++) {
        double t0 = bench_now_s();
        wsc_send(c, WSC_BINARY, m, 64);
        size_t got = 0;
        while (got < 64 && wsc_recv(c, &b, &len, &cap, 5000) == WSC_BINARY)
            got += len;
        v[i] = (bench_now_s() - t0) * 1e6;
    }
    wsc_free(c);
    free(b);
    *p50 = bench_percentile(v, RTT_N, 50);
    *p99 = bench_percentile(v, RTT_N, 99);
}

/* 64-byte round trips only: raw TCP, websockify and the gateway in turns, RTT_ROUNDS
 * rounds of RTT_N each, so load changes hit all three alike; medians of the rounds. */
#define RTT_ROUNDS 5

/* Round trips of raw TCP, websockify and the gateway in turns, RTT_ROUNDS times, compared
 * by their medians: on this VM one sequence of the three swings by 2x with the scheduler
 * (an idle vCPU wakes slowly), so single figures taken one after the other mislead.
 * Prints the line; the gateway's and websockify's medians go to @out (may be NULL):
 * websockify p50, p99, gateway p50, p99. */
static void
rtt_side_by_side(struct server *gw, bool tls, double out[4])
{
    struct server wsfy = {0};
    double r50[RTT_ROUNDS], r99[RTT_ROUNDS], w50[RTT_ROUNDS], w99[RTT_ROUNDS], g50[RTT_ROUNDS],
        g99[RTT_ROUNDS];

    websockify_start(&wsfy, tls, port_of[ECHO]);
    for (int i = 0; i < RTT_ROUNDS; i++) {
        rtt_raw(&r50[i], &r99[i]);
        rtt_ws(&wsfy, tls, &w50[i], &w99[i]);
        rtt_ws(gw, tls, &g50[i], &g99[i]);
    }
    server_stop(&wsfy);
    double rp50 = bench_median(r50, RTT_ROUNDS), rp99 = bench_median(r99, RTT_ROUNDS),
           wp50 = bench_median(w50, RTT_ROUNDS), wp99 = bench_median(w99, RTT_ROUNDS),
           gp50 = bench_median(g50, RTT_ROUNDS), gp99 = bench_median(g99, RTT_ROUNDS);
    printf("rtt64 %s, median of %d rounds x %d: raw p50 %.1f p99 %.1f us; websockify p50 %.1f "
           "p99 %.1f us; gateway p50 %.1f p99 %.1f us\n  ratios gw/websockify: p50 %.2f "
           "[<=0.5] p99 %.2f [<=0.5]\n",
           tls ? "wss" : "ws", RTT_ROUNDS, RTT_N, rp50, rp99, wp50, wp99, gp50, gp99, gp50 / wp50,
           gp99 / wp99);
    if (out) {
        out[0] = wp50;
        out[1] = wp99;
        out[2] = gp50;
        out[3] = gp99;
    }
}

/* Open @n tunnels to the echo backend; returns how many opened. */
static int
open_many(const struct server *s, bool tls, struct wsc **c, int n)
{
    char *tk = NULL;
    int ok = 0;

    for (int i = 0; i < n; i++) {
        if (i % AUTH_TICKET_MAX_CONNS == 0) {
            free(tk);
            tk = ticket(ECHO, AUTH_TICKET_MAX_CONNS);
        }
        c[i] = ws_open(s, ECHO, tls, tk);
        if (c[i])
            ok++;
    }
    free(tk);
    return ok;
}

#define CPU_WINDOWS 3

static void
mem_and_cpu(const struct server *s, bool tls, int n, double *kib_per_tunnel, double *cpu_pct,
            int *opened)
{
    int n_cpu = n < 1000 ? n : 1000;
    struct wsc **c = calloc((size_t)n, sizeof(*c));
    long rss0, rss1;
    unsigned char m[64] = {7}, *b = NULL;
    size_t len = 0, cap = 0;

    usleep(200000);
    rss0 = bench_proc_rss_kib(s->pid);
    long pss0 = bench_proc_tree_pss_kib(s->pid);
    *opened = open_many(s, tls, c, n);
    /* BENCH_SETTLE_S: measure later, e.g. 11 s, after the gateway's periodic malloc_trim. */
    usleep(getenv("BENCH_SETTLE_S") ? (useconds_t)(atof(getenv("BENCH_SETTLE_S")) * 1e6) : 500000);
    rss1 = bench_proc_rss_kib(s->pid);
    long pss1 = bench_proc_tree_pss_kib(s->pid);
    *kib_per_tunnel = (double)(pss1 - pss0) / (*opened ? *opened : 1);
    printf("  memory: %d tunnels, PSS of the gateway's processes %ld -> %ld KiB (%.1f KiB per "
           "tunnel); RSS of its first process %ld -> %ld KiB\n",
           *opened, pss0, pss1, *kib_per_tunnel, rss0, rss1);
    /* Keep 1,000 of them: each sends one 64-byte message a second and reads its echo. */
    for (int i = n_cpu; i < n; i++) {
        wsc_free(c[i]);
        c[i] = NULL;
    }
    /* Let the gateway finish closing the others before measuring. */
    for (int i = 0; i < 600; i++) {
        int st = 0;
        char *mt = http_get(s->port, "/metrics", tls, &st);
        double open_now = mt ? http_metric(mt, "portico_gateway_tunnels{protocol=\"vnc\"}") : -1;
        free(mt);
        if (open_now >= 0 && open_now <= n_cpu)
            break;
        usleep(100000);
    }
    usleep(1000000);
    /* Three windows, their median: one window on this VM now and then catches a burst of
     * someone else's work (or the scheduler's mood) and reads 20 % high. */
    double pct[CPU_WINDOWS];
    int secs = quick ? 3 : 6;
    for (int w = 0; w < CPU_WINDOWS; w++) {
        double c0 = bench_proc_tree_cpu_s(s->pid), t0 = bench_now_s(), t_end = t0 + secs;
        for (int round = 0; bench_now_s() < t_end; round++) {
            double slot = t0 + round * 1.0;
            for (int i = 0; i < n_cpu; i++) {
                double due = slot + (double)i / n_cpu;
                double wait = due - bench_now_s();
                if (wait > 0)
                    usleep((useconds_t)(wait * 1e6));
                if (!c[i])
                    continue;
                wsc_send(c[i], WSC_BINARY, m, 64);
                if (wsc_recv(c[i], &b, &len, &cap, 2000) != WSC_BINARY) {
                    wsc_free(c[i]);
                    c[i] = NULL;
                }
            }
        }
        pct[w] = 100.0 * (bench_proc_tree_cpu_s(s->pid) - c0) / (bench_now_s() - t0);
    }
    printf("  cpu: %d tunnels x 1 msg/s, %d windows of %d s: %.1f %.1f %.1f %% of a core\n", n_cpu,
           CPU_WINDOWS, secs, pct[0], pct[1], pct[2]);
    *cpu_pct = bench_median(pct, CPU_WINDOWS); /* sorts pct */
    for (int i = 0; i < n; i++)
        wsc_free(c[i]);
    free(c);
    free(b);
}

/* BENCH_REPEAT=N: websockify and the gateway alternate N times for each throughput and
 * round-trip figure (ws or, with BENCH_TLS, wss), and the medians are compared: on a
 * shared machine one measurement each swings by 2x. */
static void
repeat_throughput(int n, bool tls)
{
    struct server gw = {0}, wsfy = {0};
    double *v = calloc((size_t)n * 8, sizeof(double)), *r = v + 4 * n;

    gateway_start(&gw, tls);
    for (int i = 0; i < n; i++) {
        websockify_start(&wsfy, tls, port_of[SOURCE]);
        v[i] = down_ws(&wsfy, tls);
        server_stop(&wsfy);
        v[n + i] = down_ws(&gw, tls);
        websockify_start(&wsfy, tls, port_of[SINK]);
        v[2 * n + i] = up_ws(&wsfy, tls);
        server_stop(&wsfy);
        v[3 * n + i] = up_ws(&gw, tls);
        websockify_start(&wsfy, tls, port_of[ECHO]);
        rtt_ws(&wsfy, tls, &r[i], &r[n + i]);
        server_stop(&wsfy);
        rtt_ws(&gw, tls, &r[2 * n + i], &r[3 * n + i]);
        printf("  round %d: down websockify %.0f gateway %.0f  up websockify %.0f gateway %.0f MB/s"
               "  rtt64 p50/p99 websockify %.0f/%.0f gateway %.0f/%.0f us\n",
               i + 1, v[i], v[n + i], v[2 * n + i], v[3 * n + i], r[i], r[n + i], r[2 * n + i],
               r[3 * n + i]);
        fflush(stdout);
    }
    double dw = bench_median(v, n), dg = bench_median(v + n, n), uw = bench_median(v + 2 * n, n),
           ug = bench_median(v + 3 * n, n);
    printf(
        "%s medians of %d: down websockify %.0f gateway %.0f (%.2fx)  up websockify %.0f gateway "
        "%.0f (%.2fx)\n",
        tls ? "wss" : "ws", n, dw, dg, dg / dw, uw, ug, ug / uw);
    double w50 = bench_median(r, n), w99 = bench_median(r + n, n), g50 = bench_median(r + 2 * n, n),
           g99 = bench_median(r + 3 * n, n);
    printf("%s rtt64 medians of %d: p50 websockify %.1f gateway %.1f us (%.2fx)  p99 websockify "
           "%.1f gateway %.1f us (%.2fx)\n",
           tls ? "wss" : "ws", n, w50, g50, g50 / w50, w99, g99, g99 / w99);
    server_stop(&gw);
    free(v);
}

/* The scratch directory (keys, configs) goes on every way out, profiles included. */
static void
dir_remove(void)
{
    char cmd[300];

    if (!dir[0])
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
}

int
main(int argc, char **argv)
{
    struct server gw = {0}, wsfy = {0};
    pthread_t th;
    struct rlimit rl = {100000, 100000};

    if (argc < 2) {
        fprintf(stderr, "usage: bench_gateway PORTICO_GATEWAY [--quick]\n");
        return 2;
    }
    gw_bin = argv[1];
    quick = argc > 2 && strcmp(argv[2], "--quick") == 0;
    if (quick) {
        down_total = 256u << 20;
        up_total = 128u << 20;
    }
    signal(SIGPIPE, SIG_IGN);
    setrlimit(RLIMIT_NOFILE, &rl);
    snprintf(dir, sizeof(dir), "/tmp/bench-gateway-%d", (int)getpid());
    mkdir(dir, 0700);
    atexit(dir_remove);
    pthread_create(&th, NULL, accept_thread, (void *)(intptr_t)SOURCE);
    pthread_create(&th, NULL, accept_thread, (void *)(intptr_t)SINK);
    if (tunnels_wanted() > 9000)
        echo_process_start();
    else
        pthread_create(&th, NULL, echo_thread, NULL);
    while (!port_of[SOURCE] || !port_of[SINK] || !port_of[ECHO])
        usleep(1000);

    if (getenv("BENCH_REPEAT")) {
        repeat_throughput(atoi(getenv("BENCH_REPEAT")) > 0 ? atoi(getenv("BENCH_REPEAT")) : 5,
                          getenv("BENCH_TLS") != NULL);
        return 0;
    }
    if (getenv("BENCH_PROFILE")) { /* one direction against the gateway, for perf */
        bool down = strcmp(getenv("BENCH_PROFILE"), "down") == 0;
        gateway_start(&gw, getenv("BENCH_TLS") != NULL);
        if (strcmp(getenv("BENCH_PROFILE"), "scale") == 0) {
            double kib, cpu;
            int opened;
            mem_and_cpu(&gw, getenv("BENCH_TLS") != NULL, tunnels_wanted(), &kib, &cpu, &opened);
            printf("%d tunnels, %.1f KiB per tunnel; 1,000 x 1 msg/s: %.1f%% of a core\n", opened,
                   kib, cpu);
            server_stop(&gw);
            return 0;
        }
        if (strcmp(getenv("BENCH_PROFILE"), "rtt") == 0) {
            rtt_side_by_side(&gw, getenv("BENCH_TLS") != NULL, NULL);
            server_stop(&gw);
            return 0;
        }
        if (strcmp(getenv("BENCH_PROFILE"), "mem") == 0) {
            struct wsc **c = calloc(500, sizeof(*c));
            sleep(1);
            printf("opened %d\n", open_many(&gw, getenv("BENCH_TLS") != NULL, c, 500));
            sleep(2);
            for (int i = 0; i < 500; i++)
                wsc_free(c[i]);
            server_stop(&gw);
            return 0;
        }
        printf("gateway pid %d\n", (int)gw.pid);
        fflush(stdout);
        sleep(2);
        for (int i = 0; i < 3; i++)
            printf("%s %.0f MB/s\n", down ? "down" : "up",
                   down ? down_ws(&gw, getenv("BENCH_TLS") != NULL)
                        : up_ws(&gw, getenv("BENCH_TLS") != NULL));
        server_stop(&gw);
        return 0;
    }
    printf("portico-gateway vs raw TCP vs websockify (%s), loopback, 2 cores\n",
           quick ? "quick" : "full");
    double raw_down = down_raw(), raw_up = up_raw();
    printf("%-16s down %7.0f MB/s  up %7.0f MB/s\n", "raw tcp", raw_down, raw_up);

    for (int tls = 0; tls <= 1; tls++) {
        double d[2], u[2], rtt[4];
        struct server *s[2] = {&wsfy, &gw};

        gateway_start(&gw, tls); /* also makes the certificate websockify uses */
        /* websockify's target is fixed per process: one per backend. */
        for (int k = 0; k < 2; k++) {
            if (k == 0) {
                websockify_start(&wsfy, tls, port_of[SOURCE]);
                d[0] = down_ws(&wsfy, tls);
                server_stop(&wsfy);
                websockify_start(&wsfy, tls, port_of[SINK]);
                u[0] = up_ws(&wsfy, tls);
                server_stop(&wsfy);
            } else {
                d[1] = down_ws(s[1], tls);
                u[1] = up_ws(s[1], tls);
            }
            printf("%-16s down %7.0f MB/s  up %7.0f MB/s\n", s[k]->name, d[k], u[k]);
        }
        rtt_side_by_side(&gw, tls, rtt);
        printf("  ratios %s: down gw/raw %.2f [>=0.5]  down gw/websockify %.2f  up gw/websockify "
               "%.2f [>=3]  rtt p50 gw/websockify %.2f [<=0.5]  p99 %.2f [<=0.5]\n",
               tls ? "wss" : "ws", d[1] / raw_down, d[1] / d[0], u[1] / u[0], rtt[2] / rtt[0],
               rtt[3] / rtt[1]);
        double kib, cpu, kib1, cpu2;
        int opened, opened1;
        /* CPU: 1,000 tunnels in the one process that holds them all; memory: 10,000, which
         * take two processes under this machine's 20,000-descriptor cap (3 a tunnel). */
        mem_and_cpu(&gw, tls, 1000, &kib1, &cpu, &opened1);
        server_stop(&gw);
        gateway_start_with(&gw, tls, "workers = 2");
        mem_and_cpu(&gw, tls, tunnels_wanted(), &kib, &cpu2, &opened);
        printf("  %s: 1,000 tunnels x 1 msg/s: %.1f%% of a core [<=5] (%.1f%% with 2 workers); "
               "%d tunnels open (2 workers), %.1f KiB PSS per tunnel [<=16]\n",
               gw.name, cpu, cpu2, opened, kib);
        fflush(stdout);
        server_stop(&gw);
    }
    return 0;
}
