/*
 * pool_jobs.c - the workers that do the slow part of every action (clone, start, probe,
 * park, revert, delete) and post the result back to the owner thread.
 *
 * How it works (redis bio.c, in small): the owner queues a job that carries copies of
 * everything it needs (so a worker never touches the context's pools or hosts), one of
 * a few threads runs it against the hypervisor layer, pushes it on a done list and
 * writes the eventfd; the owner's pool_ctx_drain() runs the completions. The owner
 * alone tracks which desktops have an action in flight and enforces the per-host and
 * overall limits, so no lock is held across a hypervisor call.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "pool_priv.h"

const struct pool_hv_ops pool_hv_real = {
    .create = hv_desktop_create,
    .start = hv_desktop_start,
    .resume = hv_desktop_resume,
    .park = hv_desktop_park,
    .revert = hv_desktop_revert,
    .del = hv_desktop_delete,
    .get = hv_desktop_get,
    .migrate = hv_desktop_migrate,
};

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* tcp_answers() - 1 if @host:@port accepts a connection within @timeout_ms. */
static int
tcp_answers(const char *host, int port, int timeout_ms)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST};
    struct addrinfo *ai = NULL;
    char svc[16];
    int fd = -1, ok = 0, soerr = 0;
    socklen_t sl = sizeof(soerr);
    struct pollfd pfd;

    snprintf(svc, sizeof(svc), "%d", port);
    if (getaddrinfo(host, svc, &hints, &ai) != 0)
        return 0;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto out;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        ok = 1;
        goto out;
    }
    if (errno != EINPROGRESS)
        goto out;
    pfd.fd = fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
        soerr == 0)
        ok = 1;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return ok;
}

int
pool_probe_display(void *opaque, struct hv *hv, const char *host, const char *domain,
                   struct pt_err *err)
{
    struct hv_display disp;
    int port;

    if (hv_desktop_display(hv, host, domain, &disp, err) < 0)
        return -1;
    port = disp.spice_port ? disp.spice_port : disp.vnc_port ? disp.vnc_port : disp.rdp_port;
    if (!port)
        return 0; /* not allocated yet */
    return tcp_answers(disp.host[0] ? disp.host : "127.0.0.1", port, 500);
}

int
pool_probe_domain_state(void *opaque, struct hv *hv, const char *host, const char *domain,
                        struct pt_err *err)
{
    struct hv_desktop_info info;

    if (hv_desktop_get(hv, host, domain, &info, err) < 0)
        return -1;
    return info.state == HV_DOMAIN_RUNNING;
}

/* run_start() - bring the domain to running (start, or resume from a managed save), then
 * probe until it answers or the deadline passes. */
static int
run_start(struct pool_ctx *ctx, struct pool_job *j)
{
    const struct pool_hv_ops *ops = ctx->ops;
    struct hv_desktop_info info;
    int64_t deadline = pt_time_mono_ms() + j->ready_timeout_ms;
    int r;

    if (ops->get(ctx->hv, j->host, j->domain, &info, &j->err) < 0)
        return -1;
    if (info.state == HV_DOMAIN_SAVED) {
        if (ops->resume(ctx->hv, j->host, j->domain, &j->err) < 0)
            return -1;
    } else if (info.state != HV_DOMAIN_RUNNING) {
        if (ops->start(ctx->hv, j->host, j->domain, &j->err) < 0)
            return -1;
    }
    for (;;) {
        pt_err_clear(&j->err);
        r = ctx->o.probe(ctx->o.probe_opaque, ctx->hv, j->host, j->domain, &j->err);
        if (r > 0)
            return 0;
        if (r < 0)
            return -1;
        if (__atomic_load_n(&ctx->stopping, __ATOMIC_RELAXED))
            return pt_err_set(&j->err, PT_E_UNAVAILABLE, "pool: shutting down");
        if (pt_time_mono_ms() >= deadline)
            return pt_err_set(&j->err, PT_E_TIMEOUT,
                              "desktop %s did not answer its readiness probe within %lld ms",
                              j->desktop, (long long)j->ready_timeout_ms);
        sleep_ms(j->probe_interval_ms);
    }
}

static int
run_create(struct pool_ctx *ctx, struct pool_job *j)
{
    struct hv_desktop_info info;
    struct hv_desktop_spec spec = {
        .name = j->domain,
        .pool = j->pool,
        .desktop_id = j->desktop,
        .image_version = j->image_version,
        .golden_path = j->image,
        .vcpus = j->vcpus,
        .memory_mib = j->memory_mib,
        .protocols = j->protocols,
        .rdp_port = j->rdp_port,
        .domain_type = j->domain_type,
        .template_xml = j->template_xml,
    };

    /* idempotent: after a crash the domain may already be there */
    if (ctx->ops->get(ctx->hv, j->host, j->domain, &info, &j->err) == 0)
        return 0;
    if (j->err.code != PT_E_NOTFOUND)
        return -1;
    pt_err_clear(&j->err);
    return ctx->ops->create(ctx->hv, j->host, &spec, &j->err);
}

static int
job_run(struct pool_ctx *ctx, struct pool_job *j)
{
    switch (j->kind) {
    case POOL_JOB_CREATE:
        return run_create(ctx, j);
    case POOL_JOB_START:
        return run_start(ctx, j);
    case POOL_JOB_PARK:
        return ctx->ops->park(ctx->hv, j->host, j->domain, &j->err);
    case POOL_JOB_REVERT:
        return ctx->ops->revert(ctx->hv, j->host, j->domain, &j->err);
    case POOL_JOB_RECREATE:
        if (ctx->ops->del(ctx->hv, j->host, j->domain, &j->err) < 0)
            return -1;
        return run_create(ctx, j);
    case POOL_JOB_DELETE:
    case POOL_JOB_ORPHAN:
        return ctx->ops->del(ctx->hv, j->host, j->domain, &j->err);
    case POOL_JOB_MIGRATE:
        if (!ctx->ops->migrate)
            return pt_err_set(&j->err, PT_E_INTERNAL,
                              "pool: the hypervisor table has no migrate verb");
        return ctx->ops->migrate(ctx->hv, j->host, j->domain, j->to_host, &j->err);
    }
    return pt_err_set(&j->err, PT_E_INTERNAL, "unknown job kind %d", (int)j->kind);
}

static void *
worker_main(void *arg)
{
    struct pool_ctx *ctx = arg;
    struct pool_job *j;
    uint64_t one = 1;

    for (;;) {
        pthread_mutex_lock(&ctx->mu);
        while (!ctx->queue && !ctx->stopping)
            pthread_cond_wait(&ctx->cv, &ctx->mu);
        /* stopping: leave queued actions alone; their desktops keep the recorded state
         * and the next broker redoes them */
        if (ctx->stopping) {
            pthread_mutex_unlock(&ctx->mu);
            return NULL;
        }
        j = ctx->queue;
        ctx->queue = j->next;
        if (!ctx->queue)
            ctx->queue_tail = NULL;
        pthread_mutex_unlock(&ctx->mu);

        j->started_mono = pt_time_mono_ms();
        j->rc = job_run(ctx, j);
        j->done_mono = pt_time_mono_ms();

        pthread_mutex_lock(&ctx->mu);
        j->next = ctx->done;
        ctx->done = j;
        pthread_mutex_unlock(&ctx->mu);
        if (write(ctx->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            pt_warn("pool: cannot wake the owner thread");
    }
}

int
pool_workers_start(struct pool_ctx *ctx, struct pt_err *err)
{
    int rc;

    ctx->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ctx->evfd < 0)
        return pt_err_set(err, PT_E_INTERNAL, "pool: eventfd: %s", strerror(errno));
    pthread_mutex_init(&ctx->mu, NULL);
    pthread_cond_init(&ctx->cv, NULL);
    ctx->threads = pt_xcalloc((size_t)ctx->o.workers, sizeof(*ctx->threads));
    for (int i = 0; i < ctx->o.workers; i++) {
        rc = pthread_create(&ctx->threads[i], NULL, worker_main, ctx);
        if (rc != 0) {
            pool_workers_stop(ctx);
            return pt_err_set(err, PT_E_INTERNAL, "pool: cannot start a worker: %s", strerror(rc));
        }
        ctx->nthreads++;
    }
    return 0;
}

void
pool_workers_stop(struct pool_ctx *ctx)
{
    if (!ctx->threads)
        return;
    pthread_mutex_lock(&ctx->mu);
    __atomic_store_n(&ctx->stopping, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&ctx->cv);
    pthread_mutex_unlock(&ctx->mu);
    for (int i = 0; i < ctx->nthreads; i++)
        pthread_join(ctx->threads[i], NULL);
    free(ctx->threads);
    ctx->threads = NULL;
    ctx->nthreads = 0;
    /* record what the workers finished; drop what they never started */
    pool_ctx_drain(ctx);
    while (ctx->queue) {
        struct pool_job *j = ctx->queue;

        ctx->queue = j->next;
        pool_job_free(j);
    }
    ctx->queue_tail = NULL;
    free(ctx->inflight);
    ctx->inflight = NULL;
    ctx->ninflight = 0;
    pthread_mutex_destroy(&ctx->mu);
    pthread_cond_destroy(&ctx->cv);
    if (ctx->evfd >= 0)
        close(ctx->evfd);
    ctx->evfd = -1;
}

struct pool_job *
pool_job_new(struct pool_ctx *ctx, enum pool_job_kind kind, const struct store_desktop *d,
             struct pool_entry *pe)
{
    struct pool_job *j = pt_xcalloc(1, sizeof(*j));

    j->kind = kind;
    pt_strlcpy(j->desktop, d->id, sizeof(j->desktop));
    pt_strlcpy(j->pool, d->pool, sizeof(j->pool));
    pt_strlcpy(j->host, d->host, sizeof(j->host));
    pt_strlcpy(j->domain, d->domain, sizeof(j->domain));
    j->ready_timeout_ms = ctx->o.ready_timeout_ms;
    j->probe_interval_ms = ctx->o.probe_interval_ms;
    if (pe) {
        const struct pool_spec *s = pe->spec;

        j->image = s->image ? pt_xstrdup(s->image) : NULL;
        j->image_version = pt_xstrdup(s->image_version);
        j->template_xml = pe->template_xml ? pt_xstrdup(pe->template_xml) : NULL;
        j->domain_type = s->domain_type ? pt_xstrdup(s->domain_type) : NULL;
        j->vcpus = s->vcpus;
        j->memory_mib = s->memory_mib;
        j->protocols = s->protocols;
        j->rdp_port = s->rdp_port;
    }
    return j;
}

void
pool_job_free(struct pool_job *j)
{
    if (!j)
        return;
    free(j->image);
    free(j->image_version);
    free(j->template_xml);
    free(j->domain_type);
    free(j);
}

void
pool_job_submit(struct pool_ctx *ctx, struct pool_job *j)
{
    struct pool_host *h = pool_host_find(ctx, j->host);

    ctx->inflight = pt_xreallocarray(ctx->inflight, ctx->ninflight + 1, sizeof(*ctx->inflight));
    ctx->inflight[ctx->ninflight++] = j;
    if (h) {
        h->actions++;
        if (j->kind == POOL_JOB_CREATE || j->kind == POOL_JOB_RECREATE)
            h->pending_kib += (int64_t)j->memory_mib * 1024;
    }
    pt_debug("event=action_queued kind=%d desktop=%s host=%s", (int)j->kind, j->desktop, j->host);
    pthread_mutex_lock(&ctx->mu);
    j->next = NULL;
    if (ctx->queue_tail)
        ctx->queue_tail->next = j;
    else
        ctx->queue = j;
    ctx->queue_tail = j;
    pthread_cond_signal(&ctx->cv);
    pthread_mutex_unlock(&ctx->mu);
}

bool
pool_job_inflight(struct pool_ctx *ctx, const char *desktop)
{
    for (size_t i = 0; i < ctx->ninflight; i++)
        if (strcmp(ctx->inflight[i]->desktop, desktop) == 0)
            return true;
    return false;
}

bool
pool_job_room(struct pool_ctx *ctx, const char *host)
{
    struct pool_host *h = pool_host_find(ctx, host);

    if (ctx->ninflight >= (size_t)ctx->o.max_actions)
        return false;
    return !h || h->actions < ctx->o.max_actions_per_host;
}

int
pool_ctx_drain(struct pool_ctx *ctx)
{
    struct pool_job *list, *j, *rev = NULL;
    uint64_t v;
    int n = 0;

    if (ctx->evfd >= 0 && read(ctx->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        pt_warn("pool: reading the completion eventfd");
    pthread_mutex_lock(&ctx->mu);
    list = ctx->done;
    ctx->done = NULL;
    pthread_mutex_unlock(&ctx->mu);
    /* the done list is newest first: complete in finishing order */
    while (list) {
        j = list;
        list = j->next;
        j->next = rev;
        rev = j;
    }
    while (rev) {
        struct pool_host *h;

        j = rev;
        rev = j->next;
        for (size_t i = 0; i < ctx->ninflight; i++) {
            if (ctx->inflight[i] == j) {
                ctx->inflight[i] = ctx->inflight[--ctx->ninflight];
                break;
            }
        }
        h = pool_host_find(ctx, j->host);
        if (h) {
            h->actions--;
            if (j->kind == POOL_JOB_CREATE || j->kind == POOL_JOB_RECREATE)
                h->pending_kib -= (int64_t)j->memory_mib * 1024;
        }
        pool_job_complete(ctx, j);
        pool_job_free(j);
        n++;
    }
    return n;
}

int
pool_ctx_fd(struct pool_ctx *ctx)
{
    return ctx->evfd;
}

int
pool_ctx_busy(struct pool_ctx *ctx)
{
    return (int)ctx->ninflight;
}
