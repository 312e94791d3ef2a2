/*
 * hv.c - the host set: validation, dispatch of each verb to its host, host health.
 *
 * Every public verb here does the same three things, as libvirt's own public API does:
 * check the arguments, find the host and take a reference on its connection (failing
 * with PT_E_UNAVAILABLE and the reason when the host is down, rather than at random
 * inside libvirt), then run the verb in hv_libvirt.c and prefix any error with the host.
 *
 * Host health (keepalive, close callback, connector and maintenance threads) lives in
 * hv_conn.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "hv_priv.h"

#define HV_RETRY_MS_DEFAULT        2000
#define HV_CONNECT_WAIT_MS_DEFAULT 10000

const char *
hv_domain_state_str(enum hv_domain_state s)
{
    switch (s) {
    case HV_DOMAIN_RUNNING:
        return "running";
    case HV_DOMAIN_PAUSED:
        return "paused";
    case HV_DOMAIN_SHUTOFF:
        return "shutoff";
    case HV_DOMAIN_SAVED:
        return "saved";
    case HV_DOMAIN_CRASHED:
        return "crashed";
    case HV_DOMAIN_OTHER:
        break;
    }
    return "other";
}

/* --- the set ---------------------------------------------------------------------- */

struct hv *
hv_new(struct pt_err *err)
{
    struct hv *hv;

    if (hv_events_start(err) < 0)
        return NULL;
    hv = pt_xcalloc(1, sizeof(*hv));
    pthread_mutex_init(&hv->lock, NULL);
    pthread_mutex_init(&hv->evlock, NULL);
    pthread_cond_init(&hv->maint_cond, NULL);
    pthread_cond_init(&hv->conn_cond, NULL);
    hv->retry_ms = HV_RETRY_MS_DEFAULT;
    atomic_store(&hv->connect_wait_ms, HV_CONNECT_WAIT_MS_DEFAULT);
    atomic_store(&hv->ka_interval, 5);
    atomic_store(&hv->ka_count, 3);
    atomic_store(&hv->revert_mode, HV_REVERT_OVERLAY);
    atomic_store(&hv->migrate_timeout_ms, HV_MIGRATE_TIMEOUT_MS_DEFAULT);
    hv->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (hv->efd < 0 || pthread_create(&hv->maint, NULL, hv_maint_main, hv) != 0) {
        pt_err_set(err, PT_E_INTERNAL, "cannot create the hypervisor layer: %s", strerror(errno));
        if (hv->efd >= 0)
            close(hv->efd);
        free(hv);
        hv_events_stop();
        return NULL;
    }
    return hv;
}

void
hv_free(struct hv *hv)
{
    if (!hv)
        return;
    pthread_mutex_lock(&hv->lock);
    hv->maint_stop = true;
    pthread_cond_signal(&hv->maint_cond);
    pthread_mutex_unlock(&hv->lock);
    pthread_join(hv->maint, NULL);
    /* a connector stuck on a hung host holds its struct hv_host: wait for it */
    pthread_mutex_lock(&hv->lock);
    while (hv->connectors > 0)
        pthread_cond_wait(&hv->conn_cond, &hv->lock);
    pthread_mutex_unlock(&hv->lock);
    for (size_t i = 0; i < hv->nhosts; i++) {
        struct hv_host *h = hv->hosts[i];

        hv_conn_release(h->conn, h->lifecycle_id);
        hv_conn_release(h->dead, h->dead_id);
        pthread_mutex_destroy(&h->lock);
        free(h->name);
        free(h->uri);
        free(h->storage_pool);
        free(h->creating);
        free(h);
    }
    free(hv->hosts);
    hv_events_stop();
    close(hv->efd);
    free(hv->evq);
    pthread_cond_destroy(&hv->maint_cond);
    pthread_cond_destroy(&hv->conn_cond);
    pthread_mutex_destroy(&hv->evlock);
    pthread_mutex_destroy(&hv->lock);
    free(hv);
}

void
hv_set_migrate_timeout_ms(struct hv *hv, int ms)
{
    atomic_store(&hv->migrate_timeout_ms, ms < 0 ? 0 : ms);
}

void
hv_set_revert_mode(struct hv *hv, enum hv_revert_mode mode)
{
    atomic_store(&hv->revert_mode, (int)mode);
}

void
hv_set_retry_ms(struct hv *hv, int ms)
{
    pthread_mutex_lock(&hv->lock);
    hv->retry_ms = ms > 10 ? ms : 10;
    pthread_cond_signal(&hv->maint_cond);
    pthread_mutex_unlock(&hv->lock);
}

void
hv_set_connect_wait_ms(struct hv *hv, int ms)
{
    atomic_store(&hv->connect_wait_ms, ms);
}

void
hv_set_keepalive(struct hv *hv, int interval_s, unsigned count)
{
    atomic_store(&hv->ka_interval, interval_s);
    atomic_store(&hv->ka_count, count);
}

struct hv_host *
hv_host_find(struct hv *hv, const char *name, struct pt_err *err)
{
    struct hv_host *h = NULL;

    if (!name)
        return pt_err_set(err, PT_E_INVALID, "no host named"), NULL;
    pthread_mutex_lock(&hv->lock);
    for (size_t i = 0; i < hv->nhosts && !h; i++)
        if (strcmp(hv->hosts[i]->name, name) == 0)
            h = hv->hosts[i];
    pthread_mutex_unlock(&hv->lock);
    if (!h)
        pt_err_set(err, PT_E_NOTFOUND, "no host named %s", name);
    return h;
}

static bool
valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n >= HV_NAME_MAX || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return false;
    return true;
}

int
hv_host_add(struct hv *hv, const struct hv_host_conf *conf, struct pt_err *err)
{
    struct hv_host *h;
    int64_t deadline;

    if (!valid_name(conf->name))
        return pt_err_set(err, PT_E_INVALID,
                          "host name '%s' is invalid: use 1-63 of A-Z a-z 0-9 . _ -",
                          conf->name ? conf->name : "");
    if (!conf->uri || !conf->uri[0] || strlen(conf->uri) > 1024)
        return pt_err_set(err, PT_E_INVALID, "host %s has no libvirt URI", conf->name);
    if (conf->max_desktops < 0 || conf->mem_reserve_mib < 0)
        return pt_err_set(err, PT_E_INVALID, "host %s: limits must not be negative", conf->name);
    if (hv_host_find(hv, conf->name, NULL))
        return pt_err_set(err, PT_E_CONFLICT, "host %s is already configured", conf->name);
    h = pt_xcalloc(1, sizeof(*h));
    h->hv = hv;
    h->name = pt_xstrdup(conf->name);
    h->uri = pt_xstrdup(conf->uri);
    h->storage_pool = conf->storage_pool ? pt_xstrdup(conf->storage_pool) : NULL;
    h->max_desktops = conf->max_desktops;
    h->mem_reserve_mib = conf->mem_reserve_mib;
    h->lifecycle_id = h->dead_id = -1;
    h->connecting = true; /* ours until the first attempt ends: the retry thread waits */
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_lock(&hv->lock);
    hv->hosts = pt_xreallocarray(hv->hosts, hv->nhosts + 1, sizeof(*hv->hosts));
    hv->hosts[hv->nhosts++] = h;
    pthread_mutex_unlock(&hv->lock);
    /* one dead or hung host must never stop a broker from starting: it is added down */
    hv_host_connect_async(h, false);
    deadline = pt_time_mono_ms() + atomic_load(&hv->connect_wait_ms);
    pthread_mutex_lock(&hv->lock);
    while (hv_host_connecting(h) && pt_time_mono_ms() < deadline) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L; /* recheck often: the deadline is monotonic */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&hv->conn_cond, &hv->lock, &ts);
    }
    pthread_mutex_unlock(&hv->lock);
    pthread_mutex_lock(&h->lock);
    if (h->connecting) {
        h->announce_late = true;
        pt_strlcpy(h->last_error, "still connecting", sizeof(h->last_error));
        pt_warnx("event=host_connect_slow host=%s uri=%s", h->name, h->uri);
    } else if (!h->up) {
        pt_warnx("event=host_down host=%s reason=\"%s\"", h->name, h->last_error);
    }
    pthread_mutex_unlock(&h->lock);
    return 0;
}

/* Count Portico desktops (and running ones) on @c. */
static int
count_desktops(virConnectPtr c, const char *host, int *total, int *running, struct pt_err *err)
{
    struct hv_desktop_info *l = NULL;
    size_t n = 0, cap = 0;

    *total = *running = 0;
    if (hv_lv_list(c, host, &l, &n, &cap, err) < 0)
        return -1;
    *total = (int)n;
    for (size_t i = 0; i < n; i++)
        if (l[i].state == HV_DOMAIN_RUNNING)
            (*running)++;
    free(l);
    return 0;
}

int
hv_host_list(struct hv *hv, struct hv_host_info **out, size_t *n, struct pt_err *err)
{
    struct hv_host_info *l;
    size_t nh;

    pthread_mutex_lock(&hv->lock);
    nh = hv->nhosts;
    pthread_mutex_unlock(&hv->lock);
    l = pt_xcalloc(nh ? nh : 1, sizeof(*l));
    for (size_t i = 0; i < nh; i++) {
        struct hv_host *h;
        virConnectPtr c;
        virNodeInfo ni;
        unsigned long long freeb;

        pthread_mutex_lock(&hv->lock);
        h = hv->hosts[i];
        pthread_mutex_unlock(&hv->lock);
        pt_strlcpy(l[i].name, h->name, sizeof(l[i].name));
        l[i].max_desktops = h->max_desktops;
        l[i].provisioning = atomic_load(&h->provisioning);
        pthread_mutex_lock(&h->lock);
        l[i].draining = h->draining;
        pthread_mutex_unlock(&h->lock);
        c = hv_host_conn(h, NULL);
        if (!c)
            continue;
        l[i].up = true;
        if (virNodeGetInfo(c, &ni) == 0) {
            l[i].cpus = (int)ni.cpus;
            l[i].mem_total_kib = (int64_t)ni.memory;
        }
        freeb = virNodeGetFreeMemory(c);
        l[i].mem_free_kib = (int64_t)(freeb / 1024);
        if (count_desktops(c, h->name, &l[i].desktops, &l[i].running, NULL) < 0)
            pt_debug("event=host_count_failed host=%s", h->name);
        virConnectClose(c);
    }
    *out = l;
    *n = nh;
    return 0;
}

int
hv_host_set_draining(struct hv *hv, const char *host, bool draining, struct pt_err *err)
{
    struct hv_host *h = hv_host_find(hv, host, err);

    if (!h)
        return -1;
    pthread_mutex_lock(&h->lock);
    h->draining = draining;
    pthread_mutex_unlock(&h->lock);
    pt_info("event=host_draining host=%s draining=%s", host, draining ? "yes" : "no");
    return 0;
}

/* --- desktop verbs ---------------------------------------------------------------- */

/* Resolve @host and check @name: a referenced connection, or NULL with @err. */
static virConnectPtr
begin(struct hv *hv, const char *host, const char *name, struct hv_host **hp, struct pt_err *err)
{
    struct hv_host *h = hv_host_find(hv, host, err);

    if (!h)
        return NULL;
    if (name && !valid_name(name)) {
        pt_err_set(err, PT_E_INVALID, "desktop name '%s' is invalid: use 1-63 of A-Z a-z 0-9 . _ -",
                   name);
        return NULL;
    }
    if (hp)
        *hp = h;
    return hv_host_conn(h, err);
}

static int
finish(virConnectPtr c, const char *host, int rc, struct pt_err *err)
{
    if (c)
        virConnectClose(c);
    if (rc < 0 && err && err->code != PT_E_UNAVAILABLE)
        pt_err_prefix(err, "host %s", host);
    return rc;
}

static int
check_spec(const struct hv_desktop_spec *s, struct pt_err *err)
{
    if (!valid_name(s->name))
        return pt_err_set(err, PT_E_INVALID,
                          "desktop name '%s' is invalid: use 1-63 of A-Z a-z 0-9 . _ -",
                          s->name ? s->name : "");
    if (!s->pool || !s->pool[0] || strlen(s->pool) >= HV_NAME_MAX || !s->desktop_id ||
        !s->desktop_id[0] || strlen(s->desktop_id) >= HV_NAME_MAX ||
        (s->image_version && strlen(s->image_version) >= HV_NAME_MAX))
        return pt_err_set(err, PT_E_INVALID,
                          "desktop %s: pool and desktop id are required, at most %d bytes each",
                          s->name, HV_NAME_MAX - 1);
    if (!s->golden_path || !s->golden_path[0] || strlen(s->golden_path) >= 1024)
        return pt_err_set(err, PT_E_INVALID, "desktop %s: no golden image path", s->name);
    if (!s->template_xml &&
        (s->vcpus < 1 || s->vcpus > 512 || s->memory_mib < 16 || s->memory_mib > 16 * 1024 * 1024))
        return pt_err_set(err, PT_E_INVALID,
                          "desktop %s: vcpus must be 1-512 and memory 16 MiB-16 TiB (got %d, %d)",
                          s->name, s->vcpus, s->memory_mib);
    if (s->protocols & ~(unsigned)(HV_PROTO_SPICE | HV_PROTO_VNC | HV_PROTO_RDP))
        return pt_err_set(err, PT_E_INVALID, "desktop %s: unknown display protocol bits", s->name);
    if ((s->protocols & HV_PROTO_RDP) && (s->rdp_port < 1 || s->rdp_port > 65535))
        return pt_err_set(err, PT_E_INVALID, "desktop %s: RDP needs a port 1-65535", s->name);
    if (s->domain_type && (!valid_name(s->domain_type) || strlen(s->domain_type) > 15))
        return pt_err_set(err, PT_E_INVALID, "desktop %s: bad domain type", s->name);
    if (s->template_xml && strlen(s->template_xml) > 1024 * 1024)
        return pt_err_set(err, PT_E_LIMIT, "desktop %s: template XML over 1 MiB", s->name);
    return 0;
}

/* Capacity: the host's desktop limit and memory reserve, counting provisioning ones. */
static int
check_capacity(struct hv_host *h, virConnectPtr c, const struct hv_desktop_spec *s,
               struct pt_err *err)
{
    int total, running;
    bool draining;

    pthread_mutex_lock(&h->lock);
    draining = h->draining;
    pthread_mutex_unlock(&h->lock);
    if (draining)
        return pt_err_set(err, PT_E_CONFLICT, "host %s is draining: place desktop %s elsewhere",
                          h->name, s->name);
    if (h->max_desktops > 0) {
        if (count_desktops(c, h->name, &total, &running, err) < 0)
            return -1;
        /* provisioning counts this request too */
        if (total + atomic_load(&h->provisioning) > h->max_desktops)
            return pt_err_set(err, PT_E_LIMIT, "host %s is full: %d desktops of %d allowed",
                              h->name, total, h->max_desktops);
    }
    if (h->mem_reserve_mib > 0 && !s->template_xml) {
        unsigned long long freeb = virNodeGetFreeMemory(c);
        int64_t free_mib = (int64_t)(freeb / (1024 * 1024));

        if (freeb && free_mib - s->memory_mib < h->mem_reserve_mib)
            return pt_err_set(err, PT_E_LIMIT,
                              "host %s has %lld MiB free, keeps %lld MiB in reserve: no room for "
                              "%d MiB",
                              h->name, (long long)free_mib, (long long)h->mem_reserve_mib,
                              s->memory_mib);
    }
    return 0;
}

static int
creating_claim(struct hv_host *h, const char *name)
{
    int rc = 0;

    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->ncreating && rc == 0; i++)
        if (strcmp(h->creating[i], name) == 0)
            rc = -1;
    if (rc == 0) {
        h->creating = pt_xreallocarray(h->creating, h->ncreating + 1, sizeof(*h->creating));
        h->creating[h->ncreating++] = name; /* borrowed for the call's duration */
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static void
creating_release(struct hv_host *h, const char *name)
{
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->ncreating; i++) {
        if (h->creating[i] == name) {
            h->creating[i] = h->creating[--h->ncreating];
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
}

int
hv_desktop_create(struct hv *hv, const char *host, const struct hv_desktop_spec *spec,
                  struct pt_err *err)
{
    struct hv_host *h = NULL;
    virConnectPtr c;
    int rc = -1;

    if (check_spec(spec, err) < 0)
        return -1;
    c = begin(hv, host, NULL, &h, err);
    if (!c)
        return -1;
    /* two creates of one name would share an overlay path: the second one waits its turn
     * as a conflict instead of replacing the first one's volume */
    if (creating_claim(h, spec->name) < 0) {
        virConnectClose(c);
        return pt_err_set(err, PT_E_CONFLICT, "desktop %s is already being created on host %s",
                          spec->name, host);
    }
    atomic_fetch_add(&h->provisioning, 1);
    if (check_capacity(h, c, spec, err) == 0)
        rc = hv_lv_create(h, c, spec, (enum hv_revert_mode)atomic_load(&hv->revert_mode), err);
    atomic_fetch_sub(&h->provisioning, 1);
    creating_release(h, spec->name);
    if (rc == 0)
        pt_info("event=desktop_created host=%s desktop=%s pool=%s id=%s", host, spec->name,
                spec->pool, spec->desktop_id);
    return finish(c, host, rc, err);
}

#define HV_SIMPLE_VERB(fn, call, event)                                                            \
    int fn(struct hv *hv, const char *host, const char *name, struct pt_err *err)                  \
    {                                                                                              \
        virConnectPtr c = begin(hv, host, name, NULL, err);                                        \
        int rc;                                                                                    \
                                                                                                   \
        if (!c)                                                                                    \
            return -1;                                                                             \
        rc = call(c, name, err);                                                                   \
        if (rc == 0)                                                                               \
            pt_debug("event=" event " host=%s desktop=%s", host, name);                            \
        return finish(c, host, rc, err);                                                           \
    }

HV_SIMPLE_VERB(hv_desktop_start, hv_lv_start, "desktop_started")
HV_SIMPLE_VERB(hv_desktop_destroy, hv_lv_destroy, "desktop_destroyed")
HV_SIMPLE_VERB(hv_desktop_revert, hv_lv_revert, "desktop_reverted")
HV_SIMPLE_VERB(hv_desktop_park, hv_lv_park, "desktop_parked")
HV_SIMPLE_VERB(hv_desktop_resume, hv_lv_start, "desktop_resumed")

int
hv_desktop_delete(struct hv *hv, const char *host, const char *name, struct pt_err *err)
{
    struct hv_host *h = NULL;
    virConnectPtr c = begin(hv, host, name, &h, err);
    int rc, total = 0, running = 0;
    bool draining;

    if (!c)
        return -1;
    rc = hv_lv_delete(c, name, err);
    pthread_mutex_lock(&h->lock);
    draining = h->draining;
    pthread_mutex_unlock(&h->lock);
    if (rc == 0 && draining && count_desktops(c, host, &total, &running, NULL) == 0 && !total)
        pt_info("event=host_drained host=%s", host);
    return finish(c, host, rc, err);
}

int
hv_desktop_shutdown(struct hv *hv, const char *host, const char *name, int timeout_ms,
                    struct pt_err *err)
{
    virConnectPtr c;

    if (timeout_ms < 0 || timeout_ms > 3600 * 1000)
        return pt_err_set(err, PT_E_INVALID, "shutdown timeout must be 0-3600000 ms");
    c = begin(hv, host, name, NULL, err);
    if (!c)
        return -1;
    return finish(c, host, hv_lv_shutdown(c, name, timeout_ms, err), err);
}

int
hv_desktop_get(struct hv *hv, const char *host, const char *name, struct hv_desktop_info *out,
               struct pt_err *err)
{
    virConnectPtr c = begin(hv, host, name, NULL, err);
    virDomainPtr d;
    struct hv_meta meta;
    int rc = -1;

    if (!c)
        return -1;
    d = hv_lv_lookup(c, name, err);
    if (d) {
        rc = hv_lv_info(c, d, host, out, &meta, err);
        virDomainFree(d);
    }
    return finish(c, host, rc, err);
}

int
hv_desktop_list(struct hv *hv, const char *host, struct hv_desktop_info **out, size_t *n,
                struct pt_err *err)
{
    size_t cap = 0, nh;

    *out = NULL;
    *n = 0;
    if (host) {
        virConnectPtr c = begin(hv, host, NULL, NULL, err);

        if (!c)
            return -1;
        if (finish(c, host, hv_lv_list(c, host, out, n, &cap, err), err) < 0) {
            free(*out);
            *out = NULL;
            *n = 0;
            return -1;
        }
        return 0;
    }
    /* every host that is up; a down host is skipped, not an error (it says so in events) */
    pthread_mutex_lock(&hv->lock);
    nh = hv->nhosts;
    pthread_mutex_unlock(&hv->lock);
    for (size_t i = 0; i < nh; i++) {
        struct hv_host *h;
        virConnectPtr c;

        pthread_mutex_lock(&hv->lock);
        h = hv->hosts[i];
        pthread_mutex_unlock(&hv->lock);
        c = hv_host_conn(h, NULL);
        if (!c)
            continue;
        if (hv_lv_list(c, h->name, out, n, &cap, NULL) < 0)
            pt_warnx("event=host_list_failed host=%s", h->name);
        virConnectClose(c);
    }
    return 0;
}

int
hv_desktop_display(struct hv *hv, const char *host, const char *name, struct hv_display *out,
                   struct pt_err *err)
{
    struct hv_host *h = NULL;
    virConnectPtr c = begin(hv, host, name, &h, err);

    if (!c)
        return -1;
    return finish(c, host, hv_lv_display(c, h->uri, name, out, err), err);
}

int
hv_desktop_set_password(struct hv *hv, const char *host, const char *name, const char *password,
                        int64_t valid_to, struct pt_err *err)
{
    virConnectPtr c;
    size_t n = password ? strlen(password) : 0;

    /* SPICE takes up to 60 bytes; VNC uses the first 8 (DES key): say so, don't cut */
    if (n == 0 || n > 60)
        return pt_err_set(err, PT_E_INVALID, "display password must be 1-60 bytes");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)password[i] < 0x20 || password[i] == 0x7f)
            return pt_err_set(err, PT_E_INVALID, "display password holds a control character");
    if (valid_to < 0)
        return pt_err_set(err, PT_E_INVALID, "password expiry must be epoch seconds or 0");
    c = begin(hv, host, name, NULL, err);
    if (!c)
        return -1;
    return finish(c, host, hv_lv_set_password(c, name, password, valid_to, err), err);
}

int
hv_desktop_migrate(struct hv *hv, const char *host, const char *name, const char *to_host,
                   struct pt_err *err)
{
    struct hv_host *src = NULL, *dst = NULL;
    struct hv_desktop_info di;
    struct hv_desktop_spec need = {.name = name};
    virConnectPtr c, dc = NULL;
    bool draining;
    int rc = -1, total = 0, running = 0;

    if (host && to_host && strcmp(host, to_host) == 0)
        return pt_err_set(err, PT_E_INVALID, "desktop %s is already on host %s", name, host);
    dst = hv_host_find(hv, to_host, err);
    if (!dst)
        return -1;
    pthread_mutex_lock(&dst->lock);
    draining = dst->draining;
    pthread_mutex_unlock(&dst->lock);
    if (draining)
        return pt_err_set(err, PT_E_CONFLICT, "host %s is draining: not a migration target",
                          to_host);
    if (hv_desktop_get(hv, host, name, &di, err) < 0)
        return -1;
    c = begin(hv, host, name, &src, err);
    if (!c)
        return -1;
    dc = hv_host_conn(dst, err);
    if (!dc)
        return finish(c, host, -1, err);
    /* the destination's limits hold for arrivals as for creates; a migration in flight
     * counts as provisioning there, so a drain moving many desktops at once sees it */
    need.memory_mib = (int)(di.memory_kib / 1024);
    atomic_fetch_add(&dst->provisioning, 1);
    if (check_capacity(dst, dc, &need, err) == 0)
        rc = hv_lv_migrate(c, dc, dst->uri, name, atomic_load(&hv->migrate_timeout_ms), err);
    atomic_fetch_sub(&dst->provisioning, 1);
    virConnectClose(dc);
    if (rc == 0) {
        pt_info("event=desktop_migrated desktop=%s from=%s to=%s", name, host, to_host);
        /* the drain report: the last desktop left a draining host */
        pthread_mutex_lock(&src->lock);
        draining = src->draining;
        pthread_mutex_unlock(&src->lock);
        if (draining && count_desktops(c, host, &total, &running, NULL) == 0 && !total)
            pt_info("event=host_drained host=%s", host);
    }
    return finish(c, host, rc, err);
}
