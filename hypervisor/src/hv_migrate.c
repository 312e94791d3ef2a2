/*
 * hv_migrate.c - host drain: move a desktop to another host (hv_lv_migrate).
 *
 * Hosts do not share overlay storage; each has the golden images at the same paths. A
 * running desktop moves live with its overlay's top layer mirrored by QEMU over NBD
 * (virDomainMigrate3 with NON_SHARED_INC), after the layer has made the empty overlay on
 * the destination, which libvirt's QEMU driver cannot pre-create for an incremental copy.
 * A stopped desktop moves as its definition plus a byte copy of its overlay through
 * storage-API streams (works on remote hosts); a parked one is resumed, moved live and
 * parked again, since an offline move drops the managed-save image. The migration is
 * client-driven (not peer-to-peer): the broker already holds a connection to each host,
 * and hosts need no trust between each other. docs/hypervisor.md has the measurements.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "hv_priv.h"
#include "hv_storage.h"

/* Copy the overlay of a stopped desktop byte for byte through the storage API (works on
 * remote hosts): download from @src, upload into the volume already made on @dst. */
static int
overlay_copy(virConnectPtr src, virConnectPtr dst, const char *path, struct pt_err *err)
{
    virStorageVolPtr sv = hv_vol_lookup_path(src, path, false, err);
    virStorageVolPtr dv = hv_vol_lookup_path(dst, path, false, err);
    virStreamPtr in = NULL, out = NULL;
    char *buf = pt_xmalloc(256 * 1024);
    int rc = -1, r;

    if (!sv || !dv)
        goto out;
    in = virStreamNew(src, 0);
    out = virStreamNew(dst, 0);
    if (!in || !out || virStorageVolDownload(sv, in, 0, 0, 0) < 0 ||
        virStorageVolUpload(dv, out, 0, 0, 0) < 0) {
        hv_virt_err(err, "cannot open the overlay copy streams for %s", path);
        goto out;
    }
    while ((r = virStreamRecv(in, buf, 256 * 1024)) > 0)
        for (int off = 0; off < r;) {
            int w = virStreamSend(out, buf + off, (size_t)(r - off));

            if (w < 0) {
                hv_virt_err(err, "cannot write overlay %s on the destination", path);
                goto out;
            }
            off += w;
        }
    if (r < 0) {
        hv_virt_err(err, "cannot read overlay %s on the source", path);
        goto out;
    }
    if (virStreamFinish(in) < 0 || virStreamFinish(out) < 0) {
        hv_virt_err(err, "cannot finish copying overlay %s", path);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        if (in)
            virStreamAbort(in);
        if (out)
            virStreamAbort(out);
    }
    if (in)
        virStreamFree(in);
    if (out)
        virStreamFree(out);
    free(buf);
    if (sv)
        virStorageVolFree(sv);
    if (dv)
        virStorageVolFree(dv);
    return rc;
}

/* The deadline of one live migration: a thread that aborts the source's job when the
 * time is up (virDomainMigrate3 has no timeout, and a stalled link or a guest that never
 * converges would hold the caller's worker forever). */
struct watchdog {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    virDomainPtr d;
    int timeout_ms;
    bool done, fired;
    pthread_t thread;
};

static void *
watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += w->timeout_ms / 1000;
    until.tv_nsec += (long)(w->timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
            break;
    /* Past the deadline: abort the source's migration job. Between phases (before the
     * job starts, while the destination is prepared) libvirt says "no job active": try
     * again every 20 ms until a job takes the abort or the migration returns. */
    while (!w->done) {
        w->fired = true;
        pthread_mutex_unlock(&w->lock);
        if (virDomainAbortJob(w->d) == 0) {
            pthread_mutex_lock(&w->lock);
            break;
        }
        pthread_mutex_lock(&w->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!w->done && pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static bool
watchdog_start(struct watchdog *w, virDomainPtr d, int timeout_ms)
{
    memset(w, 0, sizeof(*w));
    if (timeout_ms <= 0)
        return false;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->d = d;
    w->timeout_ms = timeout_ms;
    if (pthread_create(&w->thread, NULL, watchdog_main, w) != 0) {
        pt_warnx("event=migrate_watchdog_failed reason=thread");
        w->timeout_ms = 0;
        return false;
    }
    return true;
}

/* Returns whether it fired (the migration was aborted for its deadline). */
static bool
watchdog_stop(struct watchdog *w)
{
    if (w->timeout_ms <= 0)
        return false;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    return w->fired;
}

int
hv_lv_migrate(virConnectPtr src, virConnectPtr dst, const char *dst_uri, const char *name,
              int timeout_ms, struct pt_err *err)
{
    struct watchdog wd;
    virDomainPtr d = hv_lv_lookup(src, name, err), nd = NULL;
    struct hv_meta meta = {0};
    /* AUTO_CONVERGE: a desktop dirtying RAM faster than the link copies it would never
     * finish; QEMU throttles its vCPUs step by step until it does */
    unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE |
                     VIR_MIGRATE_NON_SHARED_INC | VIR_MIGRATE_AUTO_CONVERGE;
    bool live, parked, made = false;
    int rc = -1;

    if (!d)
        return -1;
    if (hv_lv_meta(d, &meta) < 0) {
        pt_err_set(err, PT_E_FORBIDDEN, "domain %s is not a Portico desktop: not migrated", name);
        goto out;
    }
    live = virDomainIsActive(d) == 1;
    /* A parked desktop's memory is in its managed-save image, which an offline migration
     * silently drops (it arrives shut off: the user's session lost). Resume it (~0.5 s),
     * move it live, park it again on the destination. */
    parked = !live && virDomainHasManagedSaveImage(d, 0) == 1;
    if (parked) {
        if (virDomainCreate(d) < 0) {
            hv_virt_err(err, "cannot resume parked desktop %s to migrate it", name);
            goto out;
        }
        live = true;
    }
    /* Hosts do not share overlay storage: the golden image is on both at the same path,
     * the overlay is made empty on the destination first (libvirt's QEMU driver cannot
     * pre-create volumes for an incremental copy), then filled by the migration (live:
     * QEMU mirrors the top layer over NBD) or by a storage-API copy (stopped). */
    if (meta.overlay[0]) {
        if (hv_overlay_prepare_dest(src, dst, meta.overlay, err) < 0)
            goto out;
        made = true;
    }
    if (!live) {
        /* a stopped desktop moves as its definition plus a copy of its overlay */
        flags = VIR_MIGRATE_OFFLINE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
        if (made && overlay_copy(src, dst, meta.overlay, err) < 0)
            goto out;
    }
    watchdog_start(&wd, d, live ? timeout_ms : 0);
    nd = virDomainMigrate3(d, dst, NULL, 0, flags);
    if (!nd)
        hv_virt_err(err, "cannot migrate desktop %s to %s", name, dst_uri);
    if (watchdog_stop(&wd) && !nd) {
        char why[512] = "";

        /* keep libvirt's reason only: "cannot migrate ... to <uri>: <reason>" */
        if (err)
            pt_strlcpy(why, strstr(err->msg, ": ") ? strstr(err->msg, ": ") + 2 : err->msg,
                       sizeof(why));
        pt_err_set(err, PT_E_TIMEOUT,
                   "migration of desktop %s to %s aborted after %d ms (the desktop stays where "
                   "it was): %s",
                   name, dst_uri, timeout_ms, why);
    }
    if (!nd)
        goto out;
    rc = 0;
    if (parked && virDomainManagedSave(nd, 0) < 0) {
        /* moved and running: the session is kept, only the memory tier is wrong */
        hv_virt_err(err, "desktop %s moved but could not be parked again", name);
        pt_warnx("event=desktop_migrated_unparked desktop=%s reason=\"%s\"", name, err->msg);
    }
    /* the source's overlay is nobody's disk now (the source definition is undefined) */
    if (made && hv_overlay_delete(src, meta.overlay, NULL) < 0)
        pt_warnx("event=overlay_left desktop=%s path=%s reason=delete_failed", name, meta.overlay);
out:
    if (rc < 0 && made)
        hv_overlay_delete(dst, meta.overlay, NULL);
    /* a failed move leaves a parked desktop as it was found */
    if (rc < 0 && parked && virDomainIsActive(d) == 1 && virDomainManagedSave(d, 0) < 0)
        pt_warnx("event=desktop_unparked desktop=%s reason=migration_failed", name);
    if (nd)
        virDomainFree(nd);
    virDomainFree(d);
    return rc;
}
