/*
 * hv_priv.h - what the files of hypervisor/src share, and the few knobs tests use.
 *
 * Locking: hv->lock guards the host array (hosts are only ever added, never removed
 * before hv_free(), so a struct hv_host pointer stays valid). host->lock guards the
 * connection pointer and the up/draining flags. No libvirt call is ever made while one of
 * our locks is held: libvirt calls back into us (close callback, lifecycle events) from
 * its event thread, and those callbacks take host->lock.
 */
#ifndef PT_HYPERVISOR_HV_PRIV_H
#define PT_HYPERVISOR_HV_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "common/err.h"
#include "common/str.h"
#include "hypervisor/hv.h"

/* The XML namespace of the Portico element in <metadata>. */
#define HV_XMLNS        "https://portico.dev/xmlns/desktop/1"
#define HV_XMLNS_PREFIX "portico"
/* Name of the internal snapshot that holds the golden state (snapshot revert mode). */
#define HV_GOLDEN_SNAPSHOT "portico-golden"
/* Bound on queued events when nobody drains: the oldest are dropped beyond it. */
#define HV_EVENT_QUEUE_MAX 65536

enum hv_revert_mode {
    HV_REVERT_OVERLAY,  /* destroy, delete the overlay, create a fresh one, start */
    HV_REVERT_SNAPSHOT, /* revert to the internal snapshot taken before the first start */
};

struct hv_host {
    struct hv *hv;
    char *name;
    char *uri;
    char *storage_pool; /* NULL: the golden image's pool (made on demand) */
    int max_desktops;
    int64_t mem_reserve_mib;

    pthread_mutex_t lock;
    virConnectPtr conn; /* NULL while down */
    virConnectPtr dead; /* closed by the maintenance thread, never in a callback */
    bool up;
    bool connecting;    /* a connector thread is opening the URI */
    bool announce_late; /* hv_host_add() stopped waiting: announce HOST_UP when it comes */
    bool draining;
    int lifecycle_id; /* virConnectDomainEventRegisterAny id, -1 if none */
    int dead_id;      /* the same, for @dead */
    char last_error[256];
    char domain_type[16]; /* best domain type the host offers, from its capabilities */
    atomic_int provisioning;
    const char **creating; /* names with a create in flight (under lock), borrowed */
    size_t ncreating;
    atomic_uint test_port; /* next explicit display port for test-driver domains */
};

struct hv {
    pthread_mutex_t lock;
    struct hv_host **hosts;
    size_t nhosts;
    atomic_int revert_mode; /* enum hv_revert_mode */

    /* events: filled on libvirt's event thread, drained by hv_events_dispatch() */
    pthread_mutex_t evlock;
    struct hv_event *evq;
    size_t evlen, evcap;
    uint64_t evdropped;
    int efd;

    /* maintenance thread: reconnects down hosts, closes dead connections */
    pthread_t maint;
    pthread_cond_t maint_cond;
    bool maint_stop;
    int retry_ms;
    int connectors; /* live connector threads (hv_free waits for them) */
    pthread_cond_t conn_cond;
    atomic_int connect_wait_ms;
    atomic_int ka_interval;
    atomic_uint ka_count;
    atomic_int migrate_timeout_ms; /* a live migration is aborted after this (0: never) */
};

/* --- hv.c (hv_host_connect, hv_host_conn: hv_conn.c) ------------------------------- */

/* hv_host_find() - borrowed host named @name, or NULL with PT_E_NOTFOUND. */
struct hv_host *hv_host_find(struct hv *hv, const char *name, struct pt_err *err);
/* hv_host_conn() - a new reference to @h's connection (virConnectClose it), or NULL with
 * PT_E_UNAVAILABLE and the reason the host is down. */
virConnectPtr hv_host_conn(struct hv_host *h, struct pt_err *err);
/* hv_host_connect() - open @h's URI, register callbacks, mark up (queues HOST_UP when
 * @announce). Returns 0 or -1 with @err; never holds a lock across libvirt. May block as
 * long as the URI's transport does: it runs on a connector thread. */
int hv_host_connect(struct hv_host *h, bool announce, struct pt_err *err);

/* --- hv_conn.c --------------------------------------------------------------------- */

/* hv_host_connect_async() - open @h on a connector thread (caller set h->connecting). */
void hv_host_connect_async(struct hv_host *h, bool announce);
bool hv_host_connecting(struct hv_host *h);
/* hv_conn_release() - deregister our callbacks and close @c (NULL-safe). */
void hv_conn_release(virConnectPtr c, int lifecycle_id);
void *hv_maint_main(void *arg); /* the maintenance thread (arg: struct hv) */

/* hv_set_revert_mode() / hv_set_retry_ms() - for tests and the benchmark. */
void hv_set_revert_mode(struct hv *hv, enum hv_revert_mode mode);
void hv_set_retry_ms(struct hv *hv, int ms);
/* hv_set_migrate_timeout_ms() - abort a live migration still running after @ms (default
 * HV_MIGRATE_TIMEOUT_MS_DEFAULT; 0 = never): the desktop stays on its host, PT_E_TIMEOUT. */
#define HV_MIGRATE_TIMEOUT_MS_DEFAULT (10 * 60 * 1000)
void hv_set_migrate_timeout_ms(struct hv *hv, int ms);
/* hv_set_connect_wait_ms() - how long hv_host_add() waits for the first connection
 * (default 10 s) before returning with the host down and still connecting. */
void hv_set_connect_wait_ms(struct hv *hv, int ms);
/* hv_set_keepalive() - libvirt keepalive for connections opened from now on (default 5 s
 * interval, 3 missed = dead). */
void hv_set_keepalive(struct hv *hv, int interval_s, unsigned count);

/* --- hv_err (hv_libvirt.c) ---------------------------------------------------------- */

/* hv_virt_err() - copy libvirt's last error on this thread into @err as "<what>: <msg>",
 * with a pt_errc chosen from libvirt's code. Returns -1. */
int hv_virt_err(struct pt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* hv_virt_errcode() - libvirt's last error code on this thread (VIR_ERR_OK if none). */
int hv_virt_errcode(void);
void hv_libvirt_init(void); /* once per process: virInitialize, silence stderr printing */

/* --- hv_xml.c ----------------------------------------------------------------------- */

struct hv_meta {
    char pool[HV_NAME_MAX];
    char desktop_id[HV_NAME_MAX];
    char image_version[HV_NAME_MAX];
    char overlay[1024]; /* path of the overlay volume the layer created */
    int rdp_port;       /* where the guest serves RDP (from the spec), 0 if not */
};

struct hv_xml_params {
    const struct hv_desktop_spec *spec;
    const char *domain_type; /* resolved: spec's or the host's best */
    const char *disk_path;   /* overlay path */
    const char *disk_format; /* "qcow2" */
    const char *init_passwd; /* random secret locking the display until a session sets one */
    int test_port_base;      /* > 0: explicit ports (the test driver has no autoport) */
    const struct hv_meta *meta;
};

/* hv_xml_domain() - returns new domain XML for @p, or NULL with PT_E_INVALID. */
char *hv_xml_domain(const struct hv_xml_params *p, struct pt_err *err);
/* hv_xml_meta_element() - returns new <portico:desktop .../> element for virDomainSetMetadata. */
char *hv_xml_meta_element(const struct hv_meta *m);
/* hv_xml_meta_parse() - fill @m from the element libvirt hands back. Returns 0 or -1. */
int hv_xml_meta_parse(const char *xml, struct hv_meta *m);
/* hv_xml_escape() - append @s to @b escaped for an XML attribute or text. */
void hv_xml_escape(struct pt_buf *b, const char *s);

struct hv_graphics {
    char type[16]; /* "vnc", "spice", ... */
    int port;      /* -1 / 0 when not allocated */
    char listen[256];
    const char *start; /* element within the scanned XML, for rewriting */
    size_t len;
};
/* hv_xml_graphics() - up to @max <graphics> elements of @xml (a domain XML). Returns count. */
int hv_xml_graphics(const char *xml, struct hv_graphics *out, int max);
/* hv_xml_graphics_passwd() - returns new: the <graphics> element @g with passwd and
 * passwdValidTo set (valid_to 0: no expiry). The result holds a secret: pt_free_secret(). */
char *hv_xml_graphics_passwd(const struct hv_graphics *g, const char *passwd, int64_t valid_to);
/* hv_xml_attr() - value of attribute @name in the first tag starting with @tag in @xml,
 * unescaped into @out. Returns 0, or -1 when absent. */
int hv_xml_attr(const char *xml, const char *tag, const char *name, char *out, size_t n);
/* hv_xml_best_domain_type() - from a capabilities XML: kvm, then qemu, then the first. */
int hv_xml_best_domain_type(const char *caps, char *out, size_t n);

/* --- hv_events.c -------------------------------------------------------------------- */

/* hv_events_start() / hv_events_stop() - the process-wide libvirt event thread, counted
 * per struct hv. Start before any connection. */
int hv_events_start(struct pt_err *err);
void hv_events_stop(void);
void hv_event_push(struct hv *hv, enum hv_event_type type, const char *host, const char *name);
/* hv_lifecycle_cb() - libvirt's lifecycle callback (opaque = struct hv_host). */
int hv_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque);
/* hv_close_cb() - libvirt's close callback (opaque = struct hv_host): marks it down. */
void hv_close_cb(virConnectPtr conn, int reason, void *opaque);

/* --- hv_libvirt.c: verbs on one connection ------------------------------------------ */

int hv_lv_create(struct hv_host *h, virConnectPtr c, const struct hv_desktop_spec *spec,
                 enum hv_revert_mode mode, struct pt_err *err);
int hv_lv_start(virConnectPtr c, const char *name, struct pt_err *err);
int hv_lv_shutdown(virConnectPtr c, const char *name, int timeout_ms, struct pt_err *err);
int hv_lv_destroy(virConnectPtr c, const char *name, struct pt_err *err);
int hv_lv_delete(virConnectPtr c, const char *name, struct pt_err *err);
int hv_lv_revert(virConnectPtr c, const char *name, struct pt_err *err);
int hv_lv_park(virConnectPtr c, const char *name, struct pt_err *err);
int hv_lv_info(virConnectPtr c, virDomainPtr d, const char *host, struct hv_desktop_info *out,
               struct hv_meta *meta, struct pt_err *err);
int hv_lv_list(virConnectPtr c, const char *host, struct hv_desktop_info **out, size_t *n,
               size_t *cap, struct pt_err *err);
int hv_lv_display(virConnectPtr c, const char *uri, const char *name, struct hv_display *out,
                  struct pt_err *err);
int hv_lv_set_password(virConnectPtr c, const char *name, const char *password, int64_t valid_to,
                       struct pt_err *err);
int hv_lv_migrate(virConnectPtr src, virConnectPtr dst, const char *dst_uri, const char *name,
                  int timeout_ms, struct pt_err *err);
virDomainPtr hv_lv_lookup(virConnectPtr c, const char *name, struct pt_err *err);
/* hv_lv_meta() - the Portico metadata of @d into @m; -1 if it has none (not ours). */
int hv_lv_meta(virDomainPtr d, struct hv_meta *m);

#endif
