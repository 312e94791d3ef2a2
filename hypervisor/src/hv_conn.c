/*
 * hv_conn.c - host connections: open, keep alive, notice loss, reconnect.
 *
 * Every virConnectOpen runs on a short-lived connector thread, because libvirt has no
 * open timeout: a host whose port accepts and whose daemon never answers would otherwise
 * block hv_host_add() (a broker's start) or every other host's reconnect. Keepalive and
 * the close callback (hv_events.c) mark a host down; the per-hv maintenance thread
 * releases dead connections (not allowed inside the close callback) and starts a
 * connector for each down host every retry_ms.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "hv_priv.h"

void
hv_conn_release(virConnectPtr c, int lifecycle_id)
{
    if (!c)
        return;
    if (lifecycle_id >= 0)
        virConnectDomainEventDeregisterAny(c, lifecycle_id);
    virConnectUnregisterCloseCallback(c, hv_close_cb);
    virConnectClose(c);
}

int
hv_host_connect(struct hv_host *h, bool announce, struct pt_err *err)
{
    virConnectPtr c = virConnectOpen(h->uri);
    char *caps;
    char type[16] = "";
    int id;

    if (!c) {
        struct pt_err e = {0};

        hv_virt_err(&e, "cannot connect to host %s at %s", h->name, h->uri);
        pthread_mutex_lock(&h->lock);
        pt_strlcpy(h->last_error, e.msg, sizeof(h->last_error));
        h->connecting = false;
        pthread_mutex_unlock(&h->lock);
        if (err)
            *err = e;
        return -1;
    }
    /* local drivers (test:///) have no keepalive: harmless, they cannot be lost either */
    if (virConnectSetKeepAlive(c, atomic_load(&h->hv->ka_interval), atomic_load(&h->hv->ka_count)) <
        0)
        pt_debug("event=keepalive_unsupported host=%s", h->name);
    if (virConnectRegisterCloseCallback(c, hv_close_cb, h, NULL) < 0)
        pt_debug("event=close_callback_unsupported host=%s", h->name);
    id = virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                          VIR_DOMAIN_EVENT_CALLBACK(hv_lifecycle_cb), h, NULL);
    if (id < 0)
        pt_warnx("event=no_lifecycle_events host=%s", h->name);
    caps = virConnectGetCapabilities(c);
    if (!caps || hv_xml_best_domain_type(caps, type, sizeof(type)) < 0)
        pt_warnx("event=no_guest_capabilities host=%s", h->name);
    free(caps);
    pthread_mutex_lock(&h->lock);
    h->conn = c;
    h->lifecycle_id = id;
    h->up = true;
    h->connecting = false;
    announce = announce || h->announce_late;
    h->announce_late = false;
    h->last_error[0] = '\0';
    if (type[0])
        pt_strlcpy(h->domain_type, type, sizeof(h->domain_type));
    pthread_mutex_unlock(&h->lock);
    pt_info("event=host_up host=%s domain_type=%s", h->name, type[0] ? type : "unknown");
    if (announce)
        hv_event_push(h->hv, HV_EVENT_HOST_UP, h->name, NULL);
    return 0;
}

virConnectPtr
hv_host_conn(struct hv_host *h, struct pt_err *err)
{
    virConnectPtr c = NULL;

    pthread_mutex_lock(&h->lock);
    if (h->up && h->conn) {
        c = h->conn;
        virConnectRef(c); /* a counter bump: the one libvirt call made under our lock */
    } else {
        pt_err_set(err, PT_E_UNAVAILABLE, "host %s is down (%s); retrying in the background",
                   h->name, h->last_error[0] ? h->last_error : "not connected");
    }
    pthread_mutex_unlock(&h->lock);
    return c;
}

struct conn_job {
    struct hv_host *h;
    bool announce;
};

static void *
connector_main(void *arg)
{
    struct conn_job *j = arg;
    struct hv *hv = j->h->hv;
    struct pt_err err = {0};

    if (hv_host_connect(j->h, j->announce, &err) < 0)
        pt_debug("event=host_connect_failed host=%s reason=\"%s\"", j->h->name, err.msg);
    free(j);
    pthread_mutex_lock(&hv->lock);
    hv->connectors--;
    pthread_cond_broadcast(&hv->conn_cond);
    pthread_mutex_unlock(&hv->lock);
    return NULL;
}

/* Open @h on its own thread: a host that accepts and never answers blocks only that
 * thread, never hv_host_add() nor the reconnects of other hosts. Caller set connecting. */
void
hv_host_connect_async(struct hv_host *h, bool announce)
{
    struct conn_job *j = pt_xcalloc(1, sizeof(*j));
    pthread_attr_t attr;
    pthread_t t;
    int rc;

    j->h = h;
    j->announce = announce;
    pthread_mutex_lock(&h->hv->lock);
    h->hv->connectors++;
    pthread_mutex_unlock(&h->hv->lock);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, connector_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        connector_main(j); /* no thread to spare: connect here */
}

bool
hv_host_connecting(struct hv_host *h)
{
    bool c;

    pthread_mutex_lock(&h->lock);
    c = h->connecting;
    pthread_mutex_unlock(&h->lock);
    return c;
}

void *
hv_maint_main(void *arg)
{
    struct hv *hv = arg;

    pthread_mutex_lock(&hv->lock);
    while (!hv->maint_stop) {
        struct timespec ts;
        struct hv_host **hosts;
        size_t n;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += hv->retry_ms / 1000;
        ts.tv_nsec += (long)(hv->retry_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&hv->maint_cond, &hv->lock, &ts);
        if (hv->maint_stop)
            break;
        n = hv->nhosts;
        hosts = pt_xcalloc(n ? n : 1, sizeof(*hosts));
        memcpy(hosts, hv->hosts, n * sizeof(*hosts));
        pthread_mutex_unlock(&hv->lock);
        for (size_t i = 0; i < n; i++) {
            struct hv_host *h = hosts[i];
            virConnectPtr dead;
            int did;
            bool down;

            pthread_mutex_lock(&h->lock);
            dead = pt_steal(&h->dead);
            did = h->dead_id;
            down = !h->up && !h->connecting;
            if (down)
                h->connecting = true;
            pthread_mutex_unlock(&h->lock);
            hv_conn_release(dead, did);
            if (down)
                hv_host_connect_async(h, true);
        }
        free(hosts);
        pthread_mutex_lock(&hv->lock);
    }
    pthread_mutex_unlock(&hv->lock);
    return NULL;
}
