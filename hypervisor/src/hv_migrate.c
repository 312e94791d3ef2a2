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
#include <stdbool.h>
#include <stdlib.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/mem.h"
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

int
hv_lv_migrate(virConnectPtr src, virConnectPtr dst, const char *dst_uri, const char *name,
              struct pt_err *err)
{
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
    nd = virDomainMigrate3(d, dst, NULL, 0, flags);
    if (!nd) {
        hv_virt_err(err, "cannot migrate desktop %s to %s", name, dst_uri);
        goto out;
    }
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
