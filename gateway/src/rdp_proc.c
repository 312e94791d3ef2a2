/*
 * rdp_proc.c - one process per RDP session, so a FreeRDP crash or hang takes down only
 * its own session (guacd's model).
 *
 * How it works: gw_rdp_configure() forks a small launcher (the "zygote") while the
 * gateway still has a single thread, so later forks copy no lock held by another thread
 * (lws, OpenSSL). For each tunnel the gateway makes a SOCK_SEQPACKET socketpair and hands
 * one end plus the endpoint and the credentials to the zygote (SCM_RIGHTS); the zygote
 * forks a worker that runs the ordinary session (rdp_session.c) with its output sink set
 * to that socket, and replies with the worker's pid. In the gateway a relay thread per
 * session reads the worker's messages and posts them to the tunnel; input goes the other
 * way as small fixed records (struct rdp_wire) the loop thread sends without blocking.
 * If the worker dies, the relay thread sees EOF without a final RDP_SINK_FAILURE record
 * and tells the browser the session process stopped; other sessions never notice.
 *
 * Workers and the zygote leave with _exit(): FreeRDP's global state is not ours to tear
 * down, and LeakSanitizer in a forked copy would report the parent's allocations.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "guac_proto.h"
#include "rdp_priv.h"

#define RDP_RELAY_BUF (128 * 1024)

/* Launch request: gateway -> zygote, with the session socket as SCM_RIGHTS. */
struct launch_req {
    char host[256];
    int port;
    struct gw_rdp_conf conf;
    size_t secret_len;
    char secret[RDP_SECRET_MAX + 1];
};

static pthread_mutex_t zygote_lock = PTHREAD_MUTEX_INITIALIZER;
static int zygote_fd = -1;
static pid_t zygote_pid;

struct rdp_proc {
    pthread_mutex_t lock;
    struct gw_tunnel *tunnel; /* (locked) NULL once closing */
    int fd;
    pid_t pid;
    pthread_t relay;
    bool finished; /* (locked) */
    struct rdp_failure failure;
    char what[100];            /* host:port for messages (truncated) */
    int connecting, connected; /* this worker's share of the gauges (relay thread) */
    struct rdp_in_event pending_move, pending_sync; /* (loop) waiting for socket room */
    bool has_pending_move, has_pending_sync;
};

/* --- the worker (a child of the zygote) ---------------------------------------------- */

static void __attribute__((noreturn)) worker_main(int fd, struct launch_req *req)
{
    struct pt_err err;
    struct rdp_session *s;
    /* a clipboard record carries base64 (4/3 of the text) plus one padding per blob */
    size_t bufsz = sizeof(struct rdp_wire) + req->conf.clipboard_max / 3 * 4 + 64 * 1024;
    char *buf = pt_xmalloc(bufsz);

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "rdp-worker");
    signal(SIGCHLD, SIG_DFL);
    s = rdp_session_new(NULL, req->host, req->port, req->secret_len ? req->secret : NULL,
                        &req->conf, &err);
    pt_wipe(req->secret, sizeof(req->secret));
    if (!s) {
        struct rdp_failure f = {GUAC_STATUS_SERVER_ERROR, ""};
        pt_strlcpy(f.reason, err.msg, sizeof(f.reason));
        rdp_sink_send(fd, RDP_SINK_FAILURE, &f, sizeof(f));
        _exit(1);
    }
    s->sink_fd = fd;
    if (rdp_session_start(s, &err) < 0)
        _exit(1);
    while (!rdp_session_finished(s, NULL)) {
        struct pollfd pfd = {fd, POLLIN, 0};
        struct rdp_wire w;
        struct rdp_in_event ev;
        ssize_t n;

        if (poll(&pfd, 1, 200) <= 0)
            continue;
        n = recv(fd, buf, bufsz, 0);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            break; /* the gateway hung up */
        if (n < (ssize_t)sizeof(w))
            continue;
        memcpy(&w, buf, sizeof(w));
        if (w.type == RDP_IN_SYNC) {
            atomic_store(&s->echo_ts, (long long)w.a);
            continue;
        }
        memset(&ev, 0, sizeof(ev));
        ev.type = (enum rdp_input_type)w.type;
        ev.a = w.a;
        ev.b = w.b;
        ev.c = w.c;
        if (ev.type == RDP_IN_CLIPBOARD) {
            ev.clip_len = (size_t)n - sizeof(w);
            ev.clip = pt_xstrndup(buf + sizeof(w), ev.clip_len);
            pt_wipe(buf, (size_t)n);
        }
        if (rdp_session_input(s, &ev, &err) < 0)
            break;
    }
    rdp_session_detach(s);
    _exit(0);
}

/* --- the zygote ---------------------------------------------------------------------- */

static void __attribute__((noreturn)) zygote_main(int ctl)
{
    struct sigaction sa;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "rdp-launcher");
    /* keep stdio (the log) and the control socket; nothing else of the gateway's */
    for (int fd = 3; fd < 1024; fd++)
        if (fd != ctl)
            close(fd);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = SA_NOCLDWAIT; /* workers are reaped by the kernel */
    sigaction(SIGCHLD, &sa, NULL);
    for (;;) {
        struct launch_req req;
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {&req, sizeof(req)};
        struct msghdr mh;
        struct cmsghdr *cm;
        int fd = -1;
        ssize_t n;
        pid_t pid;

        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0); /* the gateway is gone */
        cm = CMSG_FIRSTHDR(&mh);
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
            memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
        if (fd < 0 || n != (ssize_t)sizeof(req)) {
            pid = -1;
        } else {
            pid = fork();
            if (pid == 0) {
                close(ctl);
                req.secret[RDP_SECRET_MAX] = '\0';
                req.host[sizeof(req.host) - 1] = '\0';
                worker_main(fd, &req);
            }
        }
        pt_wipe(&req, sizeof(req));
        if (fd >= 0)
            close(fd);
        if (send(ctl, &pid, sizeof(pid), MSG_NOSIGNAL) != sizeof(pid))
            _exit(0);
    }
}

int
rdp_zygote_start(struct pt_err *err)
{
    int sv[2];
    pid_t pid;
    int rc = 0;

    pthread_mutex_lock(&zygote_lock);
    if (zygote_fd >= 0)
        goto out;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        rc = pt_err_set(err, PT_E_IO, "RDP launcher socketpair: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        rc = pt_err_set(err, PT_E_IO, "cannot fork the RDP launcher: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        close(sv[0]);
        zygote_main(sv[1]);
    }
    close(sv[1]);
    zygote_fd = sv[0];
    zygote_pid = pid;
    pt_log(LOG_INFO, "event=rdp_launcher_started pid=%d", (int)pid);
out:
    pthread_mutex_unlock(&zygote_lock);
    return rc;
}

static pid_t
zygote_launch(int fd, struct launch_req *req, struct pt_err *err)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {req, sizeof(*req)};
    struct msghdr mh;
    struct cmsghdr *cm;
    pid_t pid = -1;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    memset(cbuf, 0, sizeof(cbuf));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    pthread_mutex_lock(&zygote_lock);
    if (zygote_fd < 0) {
        pt_err_set(err, PT_E_INTERNAL, "the RDP launcher is not running");
    } else if (sendmsg(zygote_fd, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(*req)) {
        pt_err_set(err, PT_E_IO, "the RDP launcher is gone: %s", strerror(errno));
    } else {
        do
            n = recv(zygote_fd, &pid, sizeof(pid), 0);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof(pid) || pid <= 0) {
            pid = -1;
            pt_err_set(err, PT_E_INTERNAL, "the RDP launcher could not start a session");
        }
    }
    pthread_mutex_unlock(&zygote_lock);
    return pid;
}

/* --- gateway side ---------------------------------------------------------------------- */

static void
proc_finish(struct rdp_proc *p, const struct rdp_failure *f, bool tell)
{
    struct pt_buf b = PT_BUF_INIT;

    pthread_mutex_lock(&p->lock);
    if (!p->finished) {
        p->finished = true;
        p->failure = *f;
        if (tell && p->tunnel) {
            guac_enc(&b, "error", "si", f->reason, (long long)f->guac_status);
            gw_tunnel_post(p->tunnel, b.data, b.len, false);
        }
    }
    pthread_mutex_unlock(&p->lock);
    pt_buf_fini(&b);
}

static void *
relay_main(void *arg)
{
    struct rdp_proc *p = arg;
    char *buf = pt_xmalloc(RDP_RELAY_BUF);

    for (;;) {
        ssize_t n = recv(p->fd, buf, RDP_RELAY_BUF, MSG_TRUNC);
        int rc = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            struct rdp_failure f = {GUAC_STATUS_UPSTREAM_ERROR, ""};
            snprintf(f.reason, sizeof(f.reason),
                     "The session process for %.90s stopped unexpectedly; reconnect to start a "
                     "new one.",
                     p->what);
            proc_finish(p, &f, true); /* no-op when the worker already said why */
            break;
        }
        if (n > RDP_RELAY_BUF)
            continue; /* cannot happen: the worker cuts messages at 64 KiB */
        if (buf[0] == RDP_SINK_FAILURE && n == 1 + (ssize_t)sizeof(struct rdp_failure)) {
            struct rdp_failure f;
            memcpy(&f, buf + 1, sizeof(f));
            f.reason[sizeof(f.reason) - 1] = '\0';
            proc_finish(p, &f, false); /* the worker already sent "error" */
            continue;
        }
        if (buf[0] == RDP_SINK_METRICS && n == 1 + (ssize_t)sizeof(struct rdp_metric_delta)) {
            struct rdp_metric_delta d;
            memcpy(&d, buf + 1, sizeof(d));
            /* gauges the worker can no longer undo if it dies are tracked here */
            p->connecting += d.connecting;
            p->connected += d.connected;
            rdp_metrics_apply(&d);
            continue;
        }
        if (buf[0] != RDP_SINK_GUAC || n < 2)
            continue;
        pthread_mutex_lock(&p->lock);
        if (p->tunnel)
            rc = gw_tunnel_post(p->tunnel, buf + 1, (size_t)n - 1, false);
        else
            rc = -1;
        pthread_mutex_unlock(&p->lock);
        if (rc < 0)
            break;
    }
    free(buf);
    return NULL;
}

struct rdp_proc *
rdp_proc_open(struct gw_tunnel *t, const char *host, int port, const char *secret,
              const struct gw_rdp_conf *conf, struct pt_err *err)
{
    struct launch_req *req = NULL;
    struct rdp_proc *p = NULL;
    int sv[2] = {-1, -1};
    int sndbuf = 1 << 20;

    if (!host || strlen(host) >= sizeof(req->host) || (secret && strlen(secret) > RDP_SECRET_MAX)) {
        pt_err_set(err, PT_E_INVALID, "RDP endpoint or credentials out of bounds");
        return NULL;
    }
    if (rdp_zygote_start(err) < 0)
        return NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        pt_err_set(err, PT_E_IO, "RDP session socketpair: %s", strerror(errno));
        return NULL;
    }
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    req = pt_xcalloc(1, sizeof(*req));
    pt_strlcpy(req->host, host, sizeof(req->host));
    req->port = port;
    req->conf = *conf;
    if (secret) {
        req->secret_len = strlen(secret);
        memcpy(req->secret, secret, req->secret_len);
    }
    p = pt_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->tunnel = t;
    p->fd = sv[0];
    snprintf(p->what, sizeof(p->what), "%s:%d", host, port);
    p->pid = zygote_launch(sv[1], req, err);
    pt_wipe(req, sizeof(*req));
    free(req);
    close(sv[1]);
    if (p->pid < 0 || pthread_create(&p->relay, NULL, relay_main, p) != 0) {
        if (p->pid > 0)
            pt_err_set(err, PT_E_INTERNAL, "cannot start the RDP relay thread");
        close(p->fd);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

/* Send one record without blocking the loop: 0 sent (or the worker is gone: the relay
 * thread reports that), 1 the socket is full. */
static int
send_wire(struct rdp_proc *p, const struct rdp_in_event *ev)
{
    struct rdp_wire w = {(uint32_t)ev->type, ev->a, ev->b, ev->c};
    struct iovec iov[2] = {{&w, sizeof(w)}, {ev->clip, ev->clip ? ev->clip_len : 0}};
    struct msghdr mh;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = ev->clip ? 2 : 1;
    n = sendmsg(p->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : 0;
}

/* Send what waits in the slots, moves first. 0 when both are empty, 1 if still full. */
static int
flush_pending(struct rdp_proc *p)
{
    if (p->has_pending_move) {
        if (send_wire(p, &p->pending_move) != 0)
            return 1;
        p->has_pending_move = false;
    }
    if (p->has_pending_sync) {
        if (send_wire(p, &p->pending_sync) != 0)
            return 1;
        p->has_pending_sync = false;
    }
    return 0;
}

void
rdp_proc_flush(struct rdp_proc *p)
{
    flush_pending(p);
}

int
rdp_proc_input(struct rdp_proc *p, const struct rdp_in_event *ev, struct pt_err *err)
{
    int rc = 0;

    /* A worker that is slow for a moment must not cost the session. What can wait in one
     * slot does: the newest mouse move (same buttons) and the newest sync echo; they go
     * out before anything else, at the latest with the browser's next message (it pings
     * every 500 ms). Keys and clicks are never dropped: if they do not fit, the desktop
     * has stopped taking input and the tunnel closes. */
    if (ev->type == RDP_IN_MOUSE && p->has_pending_move && ev->c == p->pending_move.c) {
        p->pending_move = *ev;
        flush_pending(p);
        goto out;
    }
    if (ev->type == RDP_IN_SYNC) {
        p->pending_sync = *ev;
        p->has_pending_sync = true;
        flush_pending(p);
        goto out;
    }
    if (flush_pending(p) == 0 && send_wire(p, ev) == 0)
        goto out;
    if (ev->type == RDP_IN_MOUSE && !p->has_pending_move) {
        p->pending_move = *ev;
        p->has_pending_move = true;
        goto out;
    }
    rc = pt_err_set(err, PT_E_LIMIT, "input is arriving faster than the desktop takes it");
out:
    if (ev->clip)
        pt_free_secret(ev->clip);
    return rc;
}

bool
rdp_proc_finished(struct rdp_proc *p, struct rdp_failure *f)
{
    bool done;

    pthread_mutex_lock(&p->lock);
    done = p->finished;
    if (done && f)
        *f = p->failure;
    pthread_mutex_unlock(&p->lock);
    return done;
}

int
rdp_proc_pid(const struct rdp_proc *p)
{
    return (int)p->pid;
}

void
rdp_proc_close(struct rdp_proc *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->tunnel = NULL;
    pthread_mutex_unlock(&p->lock);
    /* the worker reads EOF and disconnects; the relay thread's recv() returns 0 */
    shutdown(p->fd, SHUT_RDWR);
    pthread_join(p->relay, NULL);
    if (p->connecting || p->connected) { /* a worker killed mid-session */
        struct rdp_metric_delta d = {.connecting = -p->connecting, .connected = -p->connected};
        rdp_metrics_apply(&d);
    }
    close(p->fd);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
