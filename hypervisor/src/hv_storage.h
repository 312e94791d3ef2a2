/*
 * hv_storage.h - golden images and overlay volumes (hv_storage.c). Private to hypervisor/.
 */
#ifndef PT_HYPERVISOR_HV_STORAGE_H
#define PT_HYPERVISOR_HV_STORAGE_H

#include "hv_priv.h"

struct hv_golden {
    virStorageVolPtr vol;
    virStoragePoolPtr pool;
    char path[1024];
    char format[16];
    unsigned long long capacity;
};

/* hv_golden_open() - find the golden image at @path (a path or a volume key) on @c,
 * making a dir pool for its directory if no pool holds it. Returns 0, or -1 with
 * PT_E_NOTFOUND naming the path. Close with hv_golden_close(). */
int hv_golden_open(virConnectPtr c, const char *path, struct hv_golden *g, struct pt_err *err);
void hv_golden_close(struct hv_golden *g);

/* hv_overlay_create() - returns new: the path of a fresh qcow2 overlay "<name>.qcow2" in
 * @pool backed by the golden image; a stale volume of that name is replaced. */
char *hv_overlay_create(virStoragePoolPtr pool, const char *name, const char *golden_path,
                        const char *golden_format, unsigned long long capacity, struct pt_err *err);
/* hv_overlay_delete() - delete the volume at @path; 0 if it is already gone. */
int hv_overlay_delete(virConnectPtr c, const char *path, struct pt_err *err);
/* hv_overlay_recreate() - delete the overlay at @path and create it again over the same
 * backing image: the desktop's disk is back to the golden state. */
int hv_overlay_recreate(virConnectPtr c, const char *path, struct pt_err *err);
/* hv_overlay_prepare_dest() - for a migration without shared storage: create on @dst an
 * empty overlay at the same @path as the one on @src, over the same golden image (which
 * must exist on @dst at the same path), for libvirt to copy the top layer into (its
 * QEMU driver cannot pre-create volumes for incremental storage migration itself).
 * Returns 0, or -1: PT_E_NOTFOUND golden missing on @dst, PT_E_CONFLICT a volume is
 * already at @path on @dst (shared storage or a leftover: never replaced). */
int hv_overlay_prepare_dest(virConnectPtr src, virConnectPtr dst, const char *path,
                            struct pt_err *err);
/* hv_vol_lookup_path() - the volume at @path (a pool is made for its dir if @make_pool). */
virStorageVolPtr hv_vol_lookup_path(virConnectPtr c, const char *path, bool make_pool,
                                    struct pt_err *err);

#endif
