/*
 * hv_events.c - libvirt's event loop on its own thread, and the queue that carries its
 * news to the caller's loop.
 *
 * How it works. libvirt delivers lifecycle events, keepalive pings and close callbacks
 * only while somebody runs virEventRunDefaultImpl(). The default implementation is
 * process-wide, so one thread runs it for every struct hv in the process (counted: the
 * first hv_new() starts it, the last hv_free() stops it). A periodic timer makes each
 * iteration return at least every HV_EVENT_TICK_MS, so the thread notices a stop request
 * without a wake-up trick. Callbacks never call back into the pool: they copy the event
 * into the hv's locked queue and write to its eventfd; hv_events_dispatch() drains the
 * queue on the caller's thread. The queue is bounded: when nobody drains, the oldest
 * events go (counted and logged), since hv_desktop_list() is the truth anyway.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "hv_priv.h"

#define HV_EVENT_TICK_MS 200

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc;
static int loop_users;
static pthread_t loop_thread;
static atomic_bool loop_stop;
static int loop_timer = -1;

static void
register_impl(void)
{
    /* must precede every virConnectOpen, or connections get no events */
    register_rc = virEventRegisterDefaultImpl();
}

static void
tick(int timer, void *opaque)
{
}

static void *
loop_main(void *arg)
{
    while (!atomic_load(&loop_stop)) {
        if (virEventRunDefaultImpl() < 0)
            pt_warnx("event=libvirt_event_loop_failed");
    }
    return NULL;
}

int
hv_events_start(struct pt_err *err)
{
    int rc = 0;

    hv_libvirt_init();
    pthread_once(&register_once, register_impl);
    if (register_rc < 0)
        return hv_virt_err(err, "cannot register libvirt's event implementation");
    pthread_mutex_lock(&loop_lock);
    if (loop_users++ == 0) {
        atomic_store(&loop_stop, false);
        loop_timer = virEventAddTimeout(HV_EVENT_TICK_MS, tick, NULL, NULL);
        if (loop_timer < 0 || pthread_create(&loop_thread, NULL, loop_main, NULL) != 0) {
            if (loop_timer >= 0)
                virEventRemoveTimeout(loop_timer);
            loop_timer = -1;
            loop_users--;
            rc = pt_err_set(err, PT_E_INTERNAL, "cannot start the libvirt event thread");
        }
    }
    pthread_mutex_unlock(&loop_lock);
    return rc;
}

void
hv_events_stop(void)
{
    pthread_mutex_lock(&loop_lock);
    if (loop_users > 0 && --loop_users == 0) {
        atomic_store(&loop_stop, true);
        virEventUpdateTimeout(loop_timer, 0); /* fire now: the loop returns and sees stop */
        pthread_join(loop_thread, NULL);
        virEventRemoveTimeout(loop_timer);
        loop_timer = -1;
    }
    pthread_mutex_unlock(&loop_lock);
}

void
hv_event_push(struct hv *hv, enum hv_event_type type, const char *host, const char *name)
{
    struct hv_event *ev;
    uint64_t one = 1;

    pthread_mutex_lock(&hv->evlock);
    if (hv->evlen == HV_EVENT_QUEUE_MAX) {
        memmove(hv->evq, hv->evq + 1, (hv->evlen - 1) * sizeof(*hv->evq));
        hv->evlen--;
        if (hv->evdropped++ % 1024 == 0)
            pt_warnx("event=hv_event_queue_full dropped=%llu", (unsigned long long)hv->evdropped);
    }
    if (hv->evlen == hv->evcap) {
        hv->evcap = hv->evcap ? hv->evcap * 2 : 64;
        hv->evq = pt_xreallocarray(hv->evq, hv->evcap, sizeof(*hv->evq));
    }
    ev = &hv->evq[hv->evlen++];
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    pt_strlcpy(ev->host, host, sizeof(ev->host));
    pt_strlcpy(ev->name, name ? name : "", sizeof(ev->name));
    pthread_mutex_unlock(&hv->evlock);
    /* a full counter (EAGAIN) still leaves the fd readable: nothing is lost */
    if (write(hv->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        pt_warn("event=hv_eventfd_write_failed");
}

int
hv_event_fd(struct hv *hv)
{
    return hv->efd;
}

int
hv_events_dispatch(struct hv *hv, hv_event_fn *fn, void *opaque)
{
    struct hv_event *q;
    size_t n;
    uint64_t cnt;

    /* clear readiness first: an event queued after the swap makes the fd readable again */
    if (read(hv->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
        pt_warn("event=hv_eventfd_read_failed");
    pthread_mutex_lock(&hv->evlock);
    q = hv->evq;
    n = hv->evlen;
    hv->evq = NULL;
    hv->evlen = hv->evcap = 0;
    pthread_mutex_unlock(&hv->evlock);
    for (size_t i = 0; i < n; i++)
        fn(opaque, &q[i]);
    free(q);
    return (int)n;
}

int
hv_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    struct hv_host *h = opaque;
    enum hv_event_type t;

    switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED:
        t = HV_EVENT_DESKTOP_STARTED;
        break;
    case VIR_DOMAIN_EVENT_STOPPED:
        t = detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED || detail == VIR_DOMAIN_EVENT_STOPPED_FAILED
                ? HV_EVENT_DESKTOP_CRASHED
                : HV_EVENT_DESKTOP_STOPPED;
        break;
    case VIR_DOMAIN_EVENT_CRASHED:
        t = HV_EVENT_DESKTOP_CRASHED;
        break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
        t = HV_EVENT_DESKTOP_UNDEFINED;
        break;
    default:
        return 0; /* defined, suspended, pmsuspended: not lifecycle news for the pool */
    }
    hv_event_push(h->hv, t, h->name, virDomainGetName(dom));
    return 0;
}

void
hv_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    static const char *const why[] = {"error", "end of file", "keepalive timeout", "client"};
    struct hv_host *h = opaque;
    bool was_up;

    pthread_mutex_lock(&h->lock);
    was_up = h->up && h->conn == conn;
    if (was_up) {
        /* closing needs libvirt locks this callback runs under: the maintenance thread
         * releases it */
        h->dead = h->conn;
        h->dead_id = h->lifecycle_id;
        h->conn = NULL;
        h->lifecycle_id = -1;
        h->up = false;
        snprintf(h->last_error, sizeof(h->last_error), "connection to %s closed (%s)", h->uri,
                 reason >= 0 && reason < 4 ? why[reason] : "unknown reason");
    }
    pthread_mutex_unlock(&h->lock);
    if (was_up) {
        pt_warnx("event=host_down host=%s reason=%s", h->name,
                 reason >= 0 && reason < 4 ? why[reason] : "unknown");
        hv_event_push(h->hv, HV_EVENT_HOST_DOWN, h->name, NULL);
        pthread_mutex_lock(&h->hv->lock);
        pthread_cond_signal(&h->hv->maint_cond);
        pthread_mutex_unlock(&h->hv->lock);
    }
}
