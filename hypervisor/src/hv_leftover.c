/*
 * hv_leftover.c - overlay volumes that no domain uses: what hv_desktop_create leaves
 * when its process is killed between making the overlay and defining the domain (its
 * own failure paths roll back; a SIGKILL cannot). hv_desktop_delete of a name with no
 * domain has nothing to read the overlay path from, so without this the volume stays
 * for ever. The pool lists them at recovery and deletes the ones no desktop row names.
 *
 * A leftover is recognised by what hv_overlay_create makes: a volume "<name>.qcow2" in
 * an active storage pool of the host, with a backing store (an overlay, never a golden
 * image), whose <name> starts with the caller's prefix and names no domain on the host.
 * A create of that name in flight in this process is never a leftover; deletion is also
 * refused while any create or migration to the host is in flight here (a migration's
 * destination overlay exists before its domain arrives).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "hv_priv.h"

#define OVERLAY_SUFFIX ".qcow2"

/* the domain name a volume would be the overlay of, or false */
static bool
overlay_name(const char *vname, const char *prefix, char *name, size_t n)
{
    size_t len = strlen(vname), sl = strlen(OVERLAY_SUFFIX);

    if (len <= sl || strcmp(vname + len - sl, OVERLAY_SUFFIX) != 0 ||
        strncmp(vname, prefix, strlen(prefix)) != 0 || len - sl >= n)
        return false;
    memcpy(name, vname, len - sl);
    name[len - sl] = '\0';
    return true;
}

static bool
has_backing_store(virStorageVolPtr v)
{
    char *xml = virStorageVolGetXMLDesc(v, 0);
    bool yes = xml && strstr(xml, "<backingStore>") && strstr(xml, "<path>");

    free(xml);
    return yes;
}

static bool
domain_exists(virConnectPtr c, const char *name)
{
    virDomainPtr d = virDomainLookupByName(c, name);

    if (!d)
        return false;
    virDomainFree(d);
    return true;
}

static bool
creating(struct hv_host *h, const char *name)
{
    bool yes = false;

    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->ncreating && !yes; i++)
        yes = strcmp(h->creating[i], name) == 0;
    pthread_mutex_unlock(&h->lock);
    return yes;
}

/*
 * scan() - every leftover on @h; with @only (a domain name) stop at that one and, when
 * @del, delete it. Returns how many matched, or -1.
 */
static int
scan(struct hv_host *h, virConnectPtr c, const char *prefix, const char *only, bool del,
     struct hv_leftover **out, size_t *n, struct pt_err *err)
{
    virStoragePoolPtr *pools = NULL;
    int np, found = 0;

    np = virConnectListAllStoragePools(c, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
    if (np < 0)
        return hv_virt_err(err, "cannot list the storage pools of host %s", h->name);
    for (int i = 0; i < np; i++) {
        virStorageVolPtr *vols = NULL;
        int nv;

        /* volumes a killed process made through the API are known to the daemon; a
         * refresh also finds overlays the daemon lost track of (restart) */
        if (virStoragePoolRefresh(pools[i], 0) < 0)
            pt_debug("event=pool_refresh_failed host=%s", h->name);
        nv = virStoragePoolListAllVolumes(pools[i], &vols, 0);
        for (int k = 0; k < nv; k++) {
            const char *vname = virStorageVolGetName(vols[k]);
            char name[HV_NAME_MAX];
            char *path;

            if (!vname || !overlay_name(vname, prefix, name, sizeof(name)) ||
                (only && strcmp(name, only) != 0) || !has_backing_store(vols[k]) ||
                domain_exists(c, name) || creating(h, name))
                continue;
            found++;
            path = virStorageVolGetPath(vols[k]);
            if (out) {
                struct hv_leftover *l;

                *out = pt_xreallocarray(*out, *n + 1, sizeof(**out));
                l = &(*out)[(*n)++];
                memset(l, 0, sizeof(*l));
                pt_strlcpy(l->host, h->name, sizeof(l->host));
                pt_strlcpy(l->name, name, sizeof(l->name));
                pt_strlcpy(l->path, path ? path : "", sizeof(l->path));
            }
            if (del) {
                if (virStorageVolDelete(vols[k], 0) < 0) {
                    hv_virt_err(err, "cannot delete leftover overlay %s", path ? path : vname);
                    found = -1;
                } else {
                    pt_info("event=leftover_overlay_deleted host=%s desktop=%s path=%s", h->name,
                            name, path ? path : vname);
                }
            }
            free(path);
        }
        for (int k = 0; k < nv; k++)
            virStorageVolFree(vols[k]);
        free(vols);
        if (found < 0 || (only && found))
            break;
    }
    for (int i = 0; i < np; i++)
        virStoragePoolFree(pools[i]);
    free(pools);
    return found;
}

static bool
valid_prefix(const char *prefix)
{
    return prefix && prefix[0] && strlen(prefix) < HV_NAME_MAX;
}

int
hv_overlay_leftovers(struct hv *hv, const char *host, const char *prefix, struct hv_leftover **out,
                     size_t *n, struct pt_err *err)
{
    struct hv_host *h;
    virConnectPtr c;
    int rc;

    *out = NULL;
    *n = 0;
    if (!valid_prefix(prefix))
        return pt_err_set(err, PT_E_INVALID,
                          "a name prefix (1-%d bytes) is required to tell our overlays apart",
                          HV_NAME_MAX - 1);
    if (!(h = hv_host_find(hv, host, err)) || !(c = hv_host_conn(h, err)))
        return -1;
    rc = scan(h, c, prefix, NULL, false, out, n, err);
    virConnectClose(c);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

int
hv_overlay_leftover_delete(struct hv *hv, const char *host, const char *name, struct pt_err *err)
{
    struct hv_host *h;
    virConnectPtr c;
    int rc = -1;

    if (!name || !name[0] || strlen(name) >= HV_NAME_MAX || strchr(name, '/'))
        return pt_err_set(err, PT_E_INVALID, "leftover overlay name '%s' is invalid",
                          name ? name : "");
    if (!(h = hv_host_find(hv, host, err)) || !(c = hv_host_conn(h, err)))
        return -1;
    if (atomic_load(&h->provisioning) > 0) {
        rc = pt_err_set(err, PT_E_CONFLICT,
                        "host %s has a create or migration in flight: leftover %s kept, retry "
                        "later",
                        host, name);
        goto out;
    }
    if (domain_exists(c, name)) {
        rc = pt_err_set(err, PT_E_CONFLICT, "desktop %s exists on host %s: its overlay is in use",
                        name, host);
        goto out;
    }
    rc = scan(h, c, name, name, true, NULL, NULL, err);
    if (rc == 0)
        rc = pt_err_set(err, PT_E_NOTFOUND, "no leftover overlay of %s on host %s", name, host);
    else if (rc > 0)
        rc = 0;
out:
    virConnectClose(c);
    return rc;
}
