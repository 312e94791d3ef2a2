/*
 * hv_libvirt.c - the desktop verbs, each on one libvirt connection.
 *
 * hv.c validates the request, finds the host and hands us a referenced connection; we
 * talk libvirt and turn its per-thread error into a struct pt_err at once, so no libvirt
 * error object ever leaves this module. Every verb is written to be repeated safely:
 * start on a running desktop, destroy on a stopped one and delete on a missing one all
 * succeed, because the pool's reconcile loop retries after a crash.
 *
 * libvirt's default error handler prints to stderr; hv_libvirt_init() replaces it with
 * one that logs at debug through pt_log_lib("libvirt", ...), since every error that
 * matters reaches the caller in its struct pt_err anyway.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <libvirt/virterror.h>

#include "common/log.h"
#include "common/mem.h"
#include "hv_priv.h"
#include "hv_storage.h"

static void
virt_log(void *opaque, virErrorPtr e)
{
    if (e && e->message)
        pt_log_lib("libvirt", LOG_DEBUG, e->message);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void
init_once_fn(void)
{
    virInitialize();
    virSetErrorFunc(NULL, virt_log);
}

void
hv_libvirt_init(void)
{
    pthread_once(&init_once, init_once_fn);
}

static enum pt_errc
map_code(int code)
{
    switch (code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_STORAGE_VOL:
    case VIR_ERR_NO_STORAGE_POOL:
    case VIR_ERR_NO_DOMAIN_SNAPSHOT:
    case VIR_ERR_NO_DOMAIN_METADATA:
        return PT_E_NOTFOUND;
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_XML_INVALID_SCHEMA:
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_INVALID_DOMAIN:
        return PT_E_INVALID;
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_DOM_EXIST:
    case VIR_ERR_STORAGE_VOL_EXIST:
        return PT_E_CONFLICT;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
        return PT_E_TIMEOUT;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_UNAVAILABLE:
    case VIR_ERR_INVALID_CONN:
        return PT_E_UNAVAILABLE;
    default:
        return PT_E_INTERNAL;
    }
}

int
hv_virt_errcode(void)
{
    virErrorPtr e = virGetLastError();

    return e ? e->code : VIR_ERR_OK;
}

int
hv_virt_err(struct pt_err *err, const char *fmt, ...)
{
    virErrorPtr e = virGetLastError();
    char what[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    pt_err_set(err, e ? map_code(e->code) : PT_E_INTERNAL, "%s: %s", what,
               e && e->message ? e->message : "libvirt gave no reason");
    /* schema errors come as several lines: keep the message on one */
    if (err) {
        size_t n = strlen(err->msg);

        while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
            err->msg[--n] = '\0';
        for (char *p = err->msg; *p; p++)
            if (*p == '\n')
                *p = ';';
    }
    return -1;
}

virDomainPtr
hv_lv_lookup(virConnectPtr c, const char *name, struct pt_err *err)
{
    virDomainPtr d = virDomainLookupByName(c, name);

    if (!d) {
        if (hv_virt_errcode() == VIR_ERR_NO_DOMAIN)
            pt_err_set(err, PT_E_NOTFOUND, "no desktop named %s on this host", name);
        else
            hv_virt_err(err, "cannot look up desktop %s", name);
    }
    return d;
}

int
hv_lv_meta(virDomainPtr d, struct hv_meta *m)
{
    char *x = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, HV_XMLNS, 0);
    int rc = x ? hv_xml_meta_parse(x, m) : -1;

    free(x);
    return rc;
}

/* A random display password: 16 characters from a 64-symbol alphabet (96 bits). */
static void
random_passwd(char out[17])
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[16];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        pt_fatal("getrandom");
    for (int i = 0; i < 16; i++)
        out[i] = abc[r[i] & 63];
    out[16] = '\0';
    pt_wipe(r, sizeof(r));
}

static virDomainPtr
define_xml(virConnectPtr c, const char *xml, struct pt_err *err)
{
    virDomainPtr d = virDomainDefineXMLFlags(c, xml, VIR_DOMAIN_DEFINE_VALIDATE);

    /* drivers without schema validation reject the flag: define without it */
    if (!d && (hv_virt_errcode() == VIR_ERR_INVALID_ARG || hv_virt_errcode() == VIR_ERR_NO_SUPPORT))
        d = virDomainDefineXML(c, xml);
    if (!d)
        hv_virt_err(err, "cannot define desktop (domain XML refused)");
    return d;
}

int
hv_lv_create(struct hv_host *h, virConnectPtr c, const struct hv_desktop_spec *spec,
             enum hv_revert_mode mode, struct pt_err *err)
{
    struct hv_golden g = {0};
    virStoragePoolPtr pool = NULL;
    virDomainPtr d = NULL;
    struct hv_meta meta = {0};
    struct hv_xml_params xp = {0};
    char *overlay = NULL, *xml = NULL, passwd[17] = "";
    int rc = -1;

    d = virDomainLookupByName(c, spec->name);
    if (d) {
        pt_err_set(err, PT_E_CONFLICT, "a domain named %s already exists on host %s", spec->name,
                   h->name);
        virDomainFree(d);
        return -1;
    }
    d = NULL;
    if (hv_golden_open(c, spec->golden_path, &g, err) < 0)
        goto out;
    if (h->storage_pool) {
        pool = virStoragePoolLookupByName(c, h->storage_pool);
        if (!pool) {
            hv_virt_err(err, "storage pool %s of host %s", h->storage_pool, h->name);
            goto out;
        }
    }
    overlay =
        hv_overlay_create(pool ? pool : g.pool, spec->name, g.path, g.format, g.capacity, err);
    if (!overlay)
        goto out;
    pt_strlcpy(meta.pool, spec->pool, sizeof(meta.pool));
    pt_strlcpy(meta.desktop_id, spec->desktop_id, sizeof(meta.desktop_id));
    pt_strlcpy(meta.image_version, spec->image_version ? spec->image_version : "",
               sizeof(meta.image_version));
    pt_strlcpy(meta.overlay, overlay, sizeof(meta.overlay));
    meta.rdp_port = (spec->protocols & HV_PROTO_RDP) ? spec->rdp_port : 0;
    random_passwd(passwd);
    xp.spec = spec;
    xp.domain_type = spec->domain_type ? spec->domain_type : h->domain_type;
    xp.disk_path = overlay;
    xp.disk_format = "qcow2";
    xp.init_passwd = passwd;
    xp.meta = &meta;
    /* the test driver allocates no autoport: give it explicit ones so display works */
    if (strcmp(xp.domain_type, "test") == 0)
        xp.test_port_base = 5900 + 2 * (int)(atomic_fetch_add(&h->test_port, 1) % 29000);
    xml = hv_xml_domain(&xp, err);
    if (!xml)
        goto out;
    d = define_xml(c, xml, err);
    if (!d)
        goto out;
    if (mode == HV_REVERT_SNAPSHOT) {
        /* taken before the first start: an internal disk snapshot of the pristine overlay */
        virDomainSnapshotPtr s = virDomainSnapshotCreateXML(
            d, "<domainsnapshot><name>" HV_GOLDEN_SNAPSHOT "</name></domainsnapshot>", 0);

        if (!s) {
            hv_virt_err(err, "cannot take the golden snapshot of %s", spec->name);
            goto out;
        }
        virDomainSnapshotFree(s);
    }
    rc = 0;
out:
    if (rc < 0 && d) {
        virDomainUndefineFlags(d, VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
    }
    if (rc < 0 && overlay)
        hv_overlay_delete(c, overlay, NULL);
    if (d)
        virDomainFree(d);
    if (pool)
        virStoragePoolFree(pool);
    hv_golden_close(&g);
    pt_wipe(passwd, sizeof(passwd));
    pt_free_secret(xml);
    free(overlay);
    return rc;
}

int
hv_lv_start(virConnectPtr c, const char *name, struct pt_err *err)
{
    virDomainPtr d = hv_lv_lookup(c, name, err);
    int rc = 0;

    if (!d)
        return -1;
    /* virDomainCreate restores from a managed-save image when there is one */
    if (virDomainIsActive(d) != 1 && virDomainCreate(d) < 0)
        rc = hv_virt_err(err, "cannot start desktop %s", name);
    virDomainFree(d);
    return rc;
}

int
hv_lv_destroy(virConnectPtr c, const char *name, struct pt_err *err)
{
    virDomainPtr d = hv_lv_lookup(c, name, err);
    int rc = 0;

    if (!d)
        return -1;
    if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 &&
        hv_virt_errcode() != VIR_ERR_OPERATION_INVALID)
        rc = hv_virt_err(err, "cannot destroy desktop %s", name);
    virDomainFree(d);
    return rc;
}

int
hv_lv_shutdown(virConnectPtr c, const char *name, int timeout_ms, struct pt_err *err)
{
    virDomainPtr d = hv_lv_lookup(c, name, err);
    struct timespec ts = {0, 50 * 1000 * 1000};
    int64_t deadline;
    int rc = 0;

    if (!d)
        return -1;
    if (virDomainIsActive(d) != 1)
        goto out;
    deadline = pt_time_mono_ms() + timeout_ms;
    /* a guest without ACPI support ignores the request: the deadline still holds */
    if (virDomainShutdown(d) < 0)
        pt_debug("event=shutdown_refused desktop=%s", name);
    while (pt_time_mono_ms() < deadline && virDomainIsActive(d) == 1)
        nanosleep(&ts, NULL);
    if (virDomainIsActive(d) == 1) {
        pt_info("event=shutdown_timeout desktop=%s timeout_ms=%d action=destroy", name, timeout_ms);
        if (virDomainDestroy(d) < 0 && hv_virt_errcode() != VIR_ERR_OPERATION_INVALID)
            rc = hv_virt_err(err, "cannot destroy desktop %s after shutdown timeout", name);
    }
out:
    virDomainFree(d);
    return rc;
}

int
hv_lv_delete(virConnectPtr c, const char *name, struct pt_err *err)
{
    static const unsigned flag_sets[] = {
        VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
            VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
        VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
        0,
    };
    virDomainPtr d = virDomainLookupByName(c, name);
    struct hv_meta meta = {0};
    int rc = -1;

    if (!d) {
        if (hv_virt_errcode() == VIR_ERR_NO_DOMAIN)
            return 0; /* deleting what is not there succeeds */
        return hv_virt_err(err, "cannot look up desktop %s", name);
    }
    if (hv_lv_meta(d, &meta) < 0) {
        pt_err_set(err, PT_E_FORBIDDEN, "domain %s is not a Portico desktop: not deleting it",
                   name);
        goto out;
    }
    if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 &&
        hv_virt_errcode() != VIR_ERR_OPERATION_INVALID) {
        hv_virt_err(err, "cannot destroy desktop %s", name);
        goto out;
    }
    /* a transient domain vanished with destroy; a persistent one is undefined here, with
     * the richest flag set the driver accepts (the test driver knows no NVRAM) */
    if (virDomainIsPersistent(d) == 1) {
        size_t i;

        for (i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
            if (virDomainUndefineFlags(d, flag_sets[i]) == 0)
                break;
            if (hv_virt_errcode() != VIR_ERR_INVALID_ARG && hv_virt_errcode() != VIR_ERR_NO_SUPPORT)
                break;
        }
        if (i == sizeof(flag_sets) / sizeof(flag_sets[0]) || virDomainIsPersistent(d) == 1) {
            hv_virt_err(err, "cannot undefine desktop %s", name);
            goto out;
        }
    }
    rc = hv_overlay_delete(c, meta.overlay, err);
out:
    virDomainFree(d);
    return rc;
}

int
hv_lv_revert(virConnectPtr c, const char *name, struct pt_err *err)
{
    virDomainPtr d = hv_lv_lookup(c, name, err);
    virDomainSnapshotPtr s = NULL;
    struct hv_meta meta;
    bool running;
    int rc = -1;

    if (!d)
        return -1;
    if (hv_lv_meta(d, &meta) < 0) {
        pt_err_set(err, PT_E_FORBIDDEN, "domain %s is not a Portico desktop", name);
        goto out;
    }
    running = virDomainIsActive(d) == 1;
    if (running && virDomainDestroy(d) < 0 && hv_virt_errcode() != VIR_ERR_OPERATION_INVALID) {
        hv_virt_err(err, "cannot stop desktop %s to revert it", name);
        goto out;
    }
    /* a parked desktop's saved memory belongs to the old disk: drop it */
    if (virDomainHasManagedSaveImage(d, 0) == 1 && virDomainManagedSaveRemove(d, 0) < 0) {
        hv_virt_err(err, "cannot drop the parked state of %s", name);
        goto out;
    }
    s = virDomainSnapshotLookupByName(d, HV_GOLDEN_SNAPSHOT, 0);
    if (s) {
        if (virDomainRevertToSnapshot(s, 0) < 0) {
            hv_virt_err(err, "cannot revert %s to its golden snapshot", name);
            goto out;
        }
    } else if (hv_overlay_recreate(c, meta.overlay, err) < 0) {
        pt_err_prefix(err, "cannot revert %s", name);
        goto out;
    }
    if (running && virDomainCreate(d) < 0) {
        hv_virt_err(err, "reverted %s but cannot start it again", name);
        goto out;
    }
    rc = 0;
out:
    if (s)
        virDomainSnapshotFree(s);
    virDomainFree(d);
    return rc;
}

int
hv_lv_park(virConnectPtr c, const char *name, struct pt_err *err)
{
    virDomainPtr d = hv_lv_lookup(c, name, err);
    int rc = 0;

    if (!d)
        return -1;
    if (virDomainIsActive(d) != 1) {
        rc = pt_err_set(err, PT_E_CONFLICT, "desktop %s is not running: nothing to park", name);
    } else if (virDomainManagedSave(d, 0) < 0) {
        rc = hv_virt_err(err, "cannot park (managed save) desktop %s", name);
    }
    virDomainFree(d);
    return rc;
}

static enum hv_domain_state
map_state(virDomainPtr d, int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        return HV_DOMAIN_RUNNING;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED:
        return HV_DOMAIN_PAUSED;
    case VIR_DOMAIN_SHUTOFF:
        return virDomainHasManagedSaveImage(d, 0) == 1 ? HV_DOMAIN_SAVED : HV_DOMAIN_SHUTOFF;
    case VIR_DOMAIN_CRASHED:
        return HV_DOMAIN_CRASHED;
    default:
        return HV_DOMAIN_OTHER;
    }
}

int
hv_lv_info(virConnectPtr c, virDomainPtr d, const char *host, struct hv_desktop_info *out,
           struct hv_meta *meta, struct pt_err *err)
{
    virDomainInfo vi;
    const char *name = virDomainGetName(d);

    memset(out, 0, sizeof(*out));
    if (hv_lv_meta(d, meta) < 0)
        return pt_err_set(err, PT_E_NOTFOUND, "domain %s is not a Portico desktop", name);
    if (virDomainGetInfo(d, &vi) < 0)
        return hv_virt_err(err, "cannot read the state of desktop %s", name);
    pt_strlcpy(out->host, host, sizeof(out->host));
    pt_strlcpy(out->name, name, sizeof(out->name));
    pt_strlcpy(out->pool, meta->pool, sizeof(out->pool));
    pt_strlcpy(out->desktop_id, meta->desktop_id, sizeof(out->desktop_id));
    pt_strlcpy(out->image_version, meta->image_version, sizeof(out->image_version));
    out->state = map_state(d, vi.state);
    out->vcpus = vi.nrVirtCpu;
    out->memory_kib = (int64_t)vi.maxMem;
    return 0;
}

int
hv_lv_list(virConnectPtr c, const char *host, struct hv_desktop_info **out, size_t *n, size_t *cap,
           struct pt_err *err)
{
    virDomainPtr *doms = NULL;
    int nd = virConnectListAllDomains(c, &doms, 0);

    if (nd < 0)
        return hv_virt_err(err, "cannot list the domains of host %s", host);
    for (int i = 0; i < nd; i++) {
        struct hv_meta meta;
        struct hv_desktop_info di;

        /* the metadata alone says what is ours: a foreign domain has none of it */
        if (hv_lv_info(c, doms[i], host, &di, &meta, NULL) == 0) {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *out = pt_xreallocarray(*out, *cap, sizeof(**out));
            }
            (*out)[(*n)++] = di;
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    return 0;
}

/* Host part of a libvirt URI ("qemu+ssh://user@kvm1:22/system" -> "kvm1"), or "". */
static void
uri_host(const char *uri, char *out, size_t n)
{
    const char *p = uri ? strstr(uri, "://") : NULL, *e;

    out[0] = '\0';
    if (!p)
        return;
    p += 3;
    e = p + strcspn(p, "/?");
    for (const char *at = p; at < e; at++)
        if (*at == '@')
            p = at + 1;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(e - p));

        if (rb && (size_t)(rb - p) < n) {
            memcpy(out, p + 1, (size_t)(rb - p - 1));
            out[rb - p - 1] = '\0';
        }
        return;
    }
    e = p + strcspn(p, ":/?");
    if ((size_t)(e - p) < n) {
        memcpy(out, p, (size_t)(e - p));
        out[e - p] = '\0';
    }
}

/* The guest's first IPv4 address as libvirt learns it: DHCP lease, guest agent, ARP. */
static void
guest_address(virDomainPtr d, char *out, size_t n)
{
    static const unsigned srcs[] = {VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
                                    VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
                                    VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP};

    for (size_t s = 0; s < sizeof(srcs) / sizeof(srcs[0]); s++) {
        virDomainInterfacePtr *ifs = NULL;
        int ni = virDomainInterfaceAddresses(d, &ifs, srcs[s], 0);
        bool found = false;

        for (int i = 0; i < ni; i++) {
            for (unsigned a = 0; !found && a < ifs[i]->naddrs; a++) {
                if (ifs[i]->addrs[a].type == VIR_IP_ADDR_TYPE_IPV4 && ifs[i]->addrs[a].addr &&
                    strncmp(ifs[i]->addrs[a].addr, "127.", 4) != 0) {
                    pt_strlcpy(out, ifs[i]->addrs[a].addr, n);
                    found = true;
                }
            }
            virDomainInterfaceFree(ifs[i]);
        }
        free(ifs);
        if (found)
            return;
    }
}

int
hv_lv_display(virConnectPtr c, const char *uri, const char *name, struct hv_display *out,
              struct pt_err *err)
{
    virDomainPtr d = hv_lv_lookup(c, name, err);
    struct hv_graphics g[4];
    struct hv_meta meta;
    char *xml = NULL, uhost[256];
    int ng, rc = -1;

    memset(out, 0, sizeof(*out));
    if (!d)
        return -1;
    if (hv_lv_meta(d, &meta) < 0)
        meta.rdp_port = 0;
    if (virDomainIsActive(d) != 1) {
        pt_err_set(err, PT_E_CONFLICT, "desktop %s is not running: it has no display", name);
        goto out;
    }
    xml = virDomainGetXMLDesc(d, 0);
    if (!xml) {
        hv_virt_err(err, "cannot read the live XML of %s", name);
        goto out;
    }
    ng = hv_xml_graphics(xml, g, 4);
    for (int i = 0; i < ng; i++) {
        /* live XML carries ports (5900+), never VNC display numbers */
        if (g[i].port <= 0)
            continue;
        if (strcmp(g[i].type, "spice") == 0)
            out->spice_port = g[i].port;
        else if (strcmp(g[i].type, "vnc") == 0)
            out->vnc_port = g[i].port;
        else
            continue;
        if (!out->host[0])
            pt_strlcpy(out->host, g[i].listen, sizeof(out->host));
    }
    out->rdp_port = meta.rdp_port;
    /* a wildcard listen address means "this host": reach it by the URI's host name */
    if (!out->host[0] || strcmp(out->host, "0.0.0.0") == 0 || strcmp(out->host, "::") == 0) {
        uri_host(uri, uhost, sizeof(uhost));
        pt_strlcpy(out->host, uhost[0] ? uhost : "127.0.0.1", sizeof(out->host));
    }
    pt_strlcpy(out->rdp_host, out->host, sizeof(out->rdp_host));
    if (out->rdp_port)
        guest_address(d, out->rdp_host, sizeof(out->rdp_host));
    if (!out->spice_port && !out->vnc_port && !out->rdp_port) {
        pt_err_set(err, PT_E_NOTFOUND, "desktop %s has no SPICE, VNC or RDP display", name);
        goto out;
    }
    rc = 0;
out:
    free(xml);
    virDomainFree(d);
    return rc;
}

int
hv_lv_set_password(virConnectPtr c, const char *name, const char *password, int64_t valid_to,
                   struct pt_err *err)
{
    virDomainPtr d = hv_lv_lookup(c, name, err);
    struct hv_graphics g[4];
    char *xml = NULL, vnc_pw[9] = "";
    bool live;
    int ng, done = 0, rc = -1;

    if (!d)
        return -1;
    live = virDomainIsActive(d) == 1;
    xml = virDomainGetXMLDesc(d, live ? 0 : VIR_DOMAIN_XML_INACTIVE);
    if (!xml) {
        hv_virt_err(err, "cannot read the XML of %s", name);
        goto out;
    }
    ng = hv_xml_graphics(xml, g, 4);
    for (int i = 0; i < ng; i++) {
        char *dev;
        int r;

        if (strcmp(g[i].type, "vnc") != 0 && strcmp(g[i].type, "spice") != 0)
            continue;
        /* VNC's DES key is 8 bytes; libvirt refuses longer, clients cut to 8 alike */
        pt_strlcpy(vnc_pw, password, sizeof(vnc_pw));
        dev = hv_xml_graphics_passwd(&g[i], strcmp(g[i].type, "vnc") == 0 ? vnc_pw : password,
                                     valid_to);
        r = virDomainUpdateDeviceFlags(d, dev,
                                       live ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG);
        pt_free_secret(dev);
        if (r < 0) {
            hv_virt_err(err, "cannot set the %s password of %s", g[i].type, name);
            goto out;
        }
        done++;
    }
    if (!done) {
        pt_err_set(err, PT_E_INVALID, "desktop %s has no SPICE or VNC display", name);
        goto out;
    }
    rc = 0;
out:
    pt_wipe(vnc_pw, sizeof(vnc_pw));
    free(xml);
    virDomainFree(d);
    return rc;
}
