/*
 * hv_storage.c - golden images and overlays through libvirt's storage API.
 *
 * A desktop's disk is a qcow2 overlay whose backing file is the golden image. We create
 * and delete it with virStorageVolCreateXML / virStorageVolDelete rather than qemu-img, so
 * the same code works on a remote host (qemu+ssh://...) where our process has no files.
 * libvirt only knows volumes inside storage pools: when the golden image's directory is
 * in no pool, we create a transient dir pool for it ("portico-<hash>"); it lives as long
 * as libvirtd and is recreated on demand after a restart, so nothing is left defined.
 */
#include "hv_storage.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

/* Text of the first <tag>...</tag> after @after in @xml (e.g. the pool's target path). */
static int
xml_text(const char *xml, const char *after, const char *tag, char *out, size_t n)
{
    char open[32], close[32];
    const char *s = after ? strstr(xml, after) : xml, *v, *e;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    if (!s || !(v = strstr(s, open)) || !(e = strstr(v, close)))
        return -1;
    v += strlen(open);
    if ((size_t)(e - v) >= n)
        return -1;
    memcpy(out, v, (size_t)(e - v));
    out[e - v] = '\0';
    return 0;
}

/* An active pool whose target is @dir, refreshed; or a new transient dir pool for it. */
static virStoragePoolPtr
pool_for_dir(virConnectPtr c, const char *dir, struct pt_err *err)
{
    virStoragePoolPtr *pools = NULL, found = NULL;
    int n = virConnectListAllStoragePools(c, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
    char path[1024], name[64];
    uint32_t h = 2166136261u;
    char *xml;
    struct pt_buf b = PT_BUF_INIT;

    for (int i = 0; i < n; i++) {
        char *px = found ? NULL : virStoragePoolGetXMLDesc(pools[i], 0);

        if (px && xml_text(px, "<target>", "path", path, sizeof(path)) == 0 &&
            strcmp(path, dir) == 0)
            found = pools[i];
        else
            virStoragePoolFree(pools[i]);
        free(px);
    }
    free(pools);
    if (found) {
        virStoragePoolRefresh(found, 0);
        return found;
    }
    for (const char *p = dir; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(name, sizeof(name), "portico-%08x", h);
    pt_buf_appends(&b, "<pool type='dir'><name>");
    pt_buf_appends(&b, name);
    pt_buf_appends(&b, "</name><target><path>");
    hv_xml_escape(&b, dir);
    pt_buf_appends(&b, "</path></target></pool>");
    xml = pt_buf_steal(&b);
    found = virStoragePoolCreateXML(c, xml, 0);
    free(xml);
    if (!found) {
        /* another thread may have made it between our list and our create */
        found = virStoragePoolLookupByName(c, name);
        if (found && virStoragePoolIsActive(found) == 1) {
            virStoragePoolRefresh(found, 0);
            return found;
        }
        if (found)
            virStoragePoolFree(found);
        hv_virt_err(err, "cannot make a storage pool for directory %s", dir);
        return NULL;
    }
    pt_debug("event=storage_pool_created pool=%s dir=%s", name, dir);
    return found;
}

virStorageVolPtr
hv_vol_lookup_path(virConnectPtr c, const char *path, bool make_pool, struct pt_err *err)
{
    virStorageVolPtr v = virStorageVolLookupByPath(c, path);
    virStoragePoolPtr p;
    char *dup, *dir;

    if (v || !make_pool)
        goto out;
    v = virStorageVolLookupByKey(c, path);
    if (v || path[0] != '/')
        goto out;
    dup = pt_xstrdup(path);
    dir = dirname(dup);
    p = pool_for_dir(c, dir, err);
    free(dup);
    if (!p)
        return NULL;
    virStoragePoolFree(p);
    v = virStorageVolLookupByPath(c, path);
out:
    if (!v)
        pt_err_set(err, PT_E_NOTFOUND, "no storage volume at %s", path);
    return v;
}

int
hv_golden_open(virConnectPtr c, const char *path, struct hv_golden *g, struct pt_err *err)
{
    virStorageVolInfo info;
    char *xml = NULL;
    int rc = -1;

    memset(g, 0, sizeof(*g));
    g->vol = hv_vol_lookup_path(c, path, true, err);
    if (!g->vol) {
        if (err && err->code == PT_E_NOTFOUND)
            pt_err_set(err, PT_E_NOTFOUND,
                       "golden image %s not found (no such volume in any storage pool of the "
                       "host; check the path and that the host can read it)",
                       path);
        return -1;
    }
    if (virStorageVolGetInfo(g->vol, &info) < 0) {
        hv_virt_err(err, "cannot read golden image %s", path);
        goto out;
    }
    g->capacity = info.capacity;
    xml = virStorageVolGetXMLDesc(g->vol, 0);
    if (!xml || xml_text(xml, "<target>", "path", g->path, sizeof(g->path)) < 0) {
        hv_virt_err(err, "cannot describe golden image %s", path);
        goto out;
    }
    /* the first <format> is the target's: the golden's own format */
    if (hv_xml_attr(xml, "<format", "type", g->format, sizeof(g->format)) < 0)
        pt_strlcpy(g->format, "raw", sizeof(g->format));
    g->pool = virStoragePoolLookupByVolume(g->vol);
    if (!g->pool) {
        hv_virt_err(err, "cannot find the storage pool of golden image %s", path);
        goto out;
    }
    rc = 0;
out:
    free(xml);
    if (rc < 0)
        hv_golden_close(g);
    return rc;
}

void
hv_golden_close(struct hv_golden *g)
{
    if (g->vol)
        virStorageVolFree(g->vol);
    if (g->pool)
        virStoragePoolFree(g->pool);
    g->vol = NULL;
    g->pool = NULL;
}

char *
hv_overlay_create(virStoragePoolPtr pool, const char *name, const char *golden_path,
                  const char *golden_format, unsigned long long capacity, struct pt_err *err)
{
    struct pt_buf b = PT_BUF_INIT;
    virStorageVolPtr v;
    char *xml, *path = NULL, vname[HV_NAME_MAX + 8];

    snprintf(vname, sizeof(vname), "%s.qcow2", name);
    /* a volume left by a crash between create and define: ours by name, replace it */
    v = virStorageVolLookupByName(pool, vname);
    if (v) {
        pt_warnx("event=overlay_stale vol=%s action=delete", vname);
        virStorageVolDelete(v, 0);
        virStorageVolFree(v);
    }
    pt_buf_appends(&b, "<volume><name>");
    hv_xml_escape(&b, vname);
    pt_buf_appendf(&b, "</name><capacity unit='bytes'>%llu</capacity>", capacity);
    pt_buf_appends(&b, "<target><format type='qcow2'/></target><backingStore><path>");
    hv_xml_escape(&b, golden_path);
    pt_buf_appends(&b, "</path><format type='");
    hv_xml_escape(&b, golden_format);
    pt_buf_appends(&b, "'/></backingStore></volume>");
    xml = pt_buf_steal(&b);
    v = virStorageVolCreateXML(pool, xml, 0);
    free(xml);
    if (!v) {
        hv_virt_err(err, "cannot create overlay %s on %s", vname, golden_path);
        return NULL;
    }
    path = virStorageVolGetPath(v);
    if (!path) {
        hv_virt_err(err, "cannot read the path of overlay %s", vname);
        virStorageVolDelete(v, 0);
    }
    virStorageVolFree(v);
    return path;
}

int
hv_overlay_delete(virConnectPtr c, const char *path, struct pt_err *err)
{
    virStorageVolPtr v;
    int rc = 0;

    if (!path || !path[0])
        return 0;
    v = hv_vol_lookup_path(c, path, true, NULL);
    if (!v)
        return 0; /* already gone */
    if (virStorageVolDelete(v, 0) < 0)
        rc = hv_virt_err(err, "cannot delete overlay %s", path);
    virStorageVolFree(v);
    return rc;
}

int
hv_overlay_recreate(virConnectPtr c, const char *path, struct pt_err *err)
{
    virStorageVolPtr v = hv_vol_lookup_path(c, path, true, err);
    virStoragePoolPtr pool = NULL;
    virStorageVolInfo info;
    char *xml = NULL, *np = NULL, backing[1024], fmt[16], name[HV_NAME_MAX + 8];
    const char *bs;
    int rc = -1;

    if (!v)
        return -1;
    xml = virStorageVolGetXMLDesc(v, 0);
    if (!xml || virStorageVolGetInfo(v, &info) < 0 || !(pool = virStoragePoolLookupByVolume(v))) {
        hv_virt_err(err, "cannot describe overlay %s", path);
        goto out;
    }
    bs = strstr(xml, "<backingStore>");
    if (!bs || xml_text(bs, NULL, "path", backing, sizeof(backing)) < 0 ||
        xml_text(xml, NULL, "name", name, sizeof(name)) < 0) {
        pt_err_set(err, PT_E_INTERNAL, "overlay %s has no backing image: cannot revert it", path);
        goto out;
    }
    if (hv_xml_attr(bs, "<format", "type", fmt, sizeof(fmt)) < 0)
        pt_strlcpy(fmt, "qcow2", sizeof(fmt));
    if (virStorageVolDelete(v, 0) < 0) {
        hv_virt_err(err, "cannot delete overlay %s", path);
        goto out;
    }
    /* the volume is named "<desktop>.qcow2": hv_overlay_create adds the suffix again */
    if (strlen(name) > 6 && strcmp(name + strlen(name) - 6, ".qcow2") == 0)
        name[strlen(name) - 6] = '\0';
    np = hv_overlay_create(pool, name, backing, fmt, info.capacity, err);
    if (!np)
        goto out;
    if (strcmp(np, path) != 0) {
        pt_err_set(err, PT_E_INTERNAL, "overlay came back at %s instead of %s", np, path);
        goto out;
    }
    rc = 0;
out:
    free(np);
    free(xml);
    if (pool)
        virStoragePoolFree(pool);
    virStorageVolFree(v);
    return rc;
}

int
hv_overlay_prepare_dest(virConnectPtr src, virConnectPtr dst, const char *path, struct pt_err *err)
{
    virStorageVolPtr v = hv_vol_lookup_path(src, path, true, err), dv = NULL;
    virStoragePoolPtr dpool = NULL;
    virStorageVolInfo info;
    struct hv_golden g = {0};
    char *xml = NULL, *np = NULL, *dup = NULL, backing[1024], fmt[16], name[HV_NAME_MAX + 8];
    const char *bs;
    int rc = -1;

    if (!v)
        return -1;
    xml = virStorageVolGetXMLDesc(v, 0);
    if (!xml || virStorageVolGetInfo(v, &info) < 0) {
        hv_virt_err(err, "cannot describe overlay %s", path);
        goto out;
    }
    bs = strstr(xml, "<backingStore>");
    if (!bs || xml_text(bs, NULL, "path", backing, sizeof(backing)) < 0 ||
        xml_text(xml, NULL, "name", name, sizeof(name)) < 0) {
        pt_err_set(err, PT_E_INTERNAL, "overlay %s has no backing image: cannot migrate it", path);
        goto out;
    }
    if (hv_xml_attr(bs, "<format", "type", fmt, sizeof(fmt)) < 0)
        pt_strlcpy(fmt, "qcow2", sizeof(fmt));
    /* the golden must be on the destination at the same path: say so plainly if not */
    if (hv_golden_open(dst, backing, &g, err) < 0) {
        if (err && err->code == PT_E_NOTFOUND)
            pt_err_set(err, PT_E_NOTFOUND,
                       "golden image %s is not on the destination (copy it there at the same "
                       "path first: only the overlay moves with the desktop)",
                       backing);
        goto out;
    }
    dup = pt_xstrdup(path);
    dpool = pool_for_dir(dst, dirname(dup), err);
    if (!dpool)
        goto out;
    /* hv_overlay_create() replaces a stale volume of the same name: on shared storage
     * that would be the source's live disk, so an existing one is refused, never reused */
    dv = virStorageVolLookupByName(dpool, name);
    if (dv) {
        pt_err_set(err, PT_E_CONFLICT,
                   "overlay %s already exists on the destination (shared storage, or a "
                   "leftover: Portico migrates only between hosts with their own overlay "
                   "directory; delete a leftover by hand)",
                   path);
        goto out;
    }
    if (strlen(name) > 6 && strcmp(name + strlen(name) - 6, ".qcow2") == 0)
        name[strlen(name) - 6] = '\0';
    np = hv_overlay_create(dpool, name, backing, fmt, info.capacity, err);
    if (!np)
        goto out;
    if (strcmp(np, path) != 0) {
        pt_err_set(err, PT_E_INTERNAL, "overlay on the destination came out at %s, not %s", np,
                   path);
        hv_overlay_delete(dst, np, NULL);
        goto out;
    }
    rc = 0;
out:
    free(np);
    free(dup);
    free(xml);
    hv_golden_close(&g);
    if (dv)
        virStorageVolFree(dv);
    if (dpool)
        virStoragePoolFree(dpool);
    virStorageVolFree(v);
    return rc;
}
