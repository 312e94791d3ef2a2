/*
 * hv.h - Portico's hypervisor layer: a set of hosts and the verbs the pool needs.
 *
 * The pool never sees libvirt. A struct hv holds any number of hosts, each reached by a
 * libvirt URI (qemu:///system, qemu+ssh://host/system, test:///path.xml, ...). Desktops
 * are domains that carry Portico metadata (pool, desktop id, image version) in their XML,
 * so hv_desktop_list() can rebuild the pool's view from the hosts alone.
 *
 * Thread: every verb may be called from any thread and may block (network, QEMU);
 * callers on an event loop run them on workers. Events are queued and delivered on the
 * caller's own loop through hv_event_fd() + hv_events_dispatch(), never on a libvirt
 * thread. Errors: -1 with @err (PT_E_UNAVAILABLE host down, PT_E_NOTFOUND no such
 * desktop or image, PT_E_INVALID bad spec/XML, PT_E_TIMEOUT, PT_E_INTERNAL).
 */
#ifndef PT_HYPERVISOR_HV_H
#define PT_HYPERVISOR_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct hv;

#define HV_NAME_MAX 64

struct hv_host_conf {
    const char *name;         /* "kvm-01" */
    const char *uri;          /* libvirt URI */
    int max_desktops;         /* 0 = no limit */
    int64_t mem_reserve_mib;  /* memory kept free for the host itself */
    const char *storage_pool; /* libvirt storage pool for overlays; NULL = the golden's dir */
};

enum hv_domain_state {
    HV_DOMAIN_RUNNING,
    HV_DOMAIN_PAUSED,
    HV_DOMAIN_SHUTOFF,
    HV_DOMAIN_SAVED, /* shut off with a managed-save image: resumes in about a second */
    HV_DOMAIN_CRASHED,
    HV_DOMAIN_OTHER,
};
const char *hv_domain_state_str(enum hv_domain_state s);

enum hv_proto {
    HV_PROTO_SPICE = 1 << 0,
    HV_PROTO_VNC = 1 << 1,
    HV_PROTO_RDP = 1 << 2, /* the guest serves RDP itself */
};

/* What to build a desktop from: a template XML, or parameters. */
struct hv_desktop_spec {
    const char *name;          /* domain name, unique per host: "pt-eng-0001" */
    const char *pool;          /* metadata */
    const char *desktop_id;    /* metadata */
    const char *image_version; /* metadata */
    const char *golden_path;   /* golden qcow2 (path or volume key on the host) */
    int vcpus;
    int memory_mib;
    unsigned protocols;       /* enum hv_proto bits */
    int rdp_port;             /* where the guest serves RDP, if HV_PROTO_RDP */
    const char *domain_type;  /* "kvm", "qemu", "test", ...; NULL = best the host offers */
    const char *template_xml; /* optional full domain XML, ${NAME} ${DISK} ${MEMORY_MIB}
                               * ${VCPUS} substituted; metadata is added by the layer */
};

struct hv_desktop_info {
    char host[HV_NAME_MAX];
    char name[HV_NAME_MAX];
    char pool[HV_NAME_MAX];
    char desktop_id[HV_NAME_MAX];
    char image_version[HV_NAME_MAX];
    enum hv_domain_state state;
    int vcpus;
    int64_t memory_kib;
};

struct hv_display {
    char host[256]; /* address the gateway connects to */
    int spice_port; /* 0 if none */
    int vnc_port;   /* TCP port (not a display number); 0 if none */
    int rdp_port;   /* 0 if none */
};

struct hv_host_info {
    char name[HV_NAME_MAX];
    bool up;
    bool draining;
    int cpus;
    int64_t mem_total_kib;
    int64_t mem_free_kib;
    int desktops; /* Portico desktops defined on it */
    int running;  /* of which running */
    int max_desktops;
    int provisioning; /* hv_desktop_create() calls in flight on it */
};

enum hv_event_type {
    HV_EVENT_DESKTOP_STARTED,
    HV_EVENT_DESKTOP_STOPPED,
    HV_EVENT_DESKTOP_CRASHED,
    HV_EVENT_DESKTOP_UNDEFINED,
    HV_EVENT_HOST_DOWN,
    HV_EVENT_HOST_UP,
};

struct hv_event {
    enum hv_event_type type;
    char host[HV_NAME_MAX];
    char name[HV_NAME_MAX]; /* empty for host events */
};

typedef void hv_event_fn(void *opaque, const struct hv_event *ev);

/* hv_new() - returns new; registers libvirt's event implementation (once per process). */
struct hv *hv_new(struct pt_err *err);
void hv_free(struct hv *hv); /* NULL-safe; closes every host */

/* hv_host_add() - open @conf->uri; a host that cannot be reached is added as down and
 * retried in the background, so one dead host never stops a broker from starting. */
int hv_host_add(struct hv *hv, const struct hv_host_conf *conf, struct pt_err *err);
/* hv_host_list() - returns new array in *out (free()), one entry per host. */
int hv_host_list(struct hv *hv, struct hv_host_info **out, size_t *n, struct pt_err *err);
int hv_host_set_draining(struct hv *hv, const char *host, bool draining, struct pt_err *err);

/* Desktop lifecycle on one host. */
int hv_desktop_create(struct hv *hv, const char *host, const struct hv_desktop_spec *spec,
                      struct pt_err *err); /* overlay clone + define, not started */
int hv_desktop_start(struct hv *hv, const char *host, const char *name, struct pt_err *err);
/* hv_desktop_shutdown() - ACPI shutdown, wait up to @timeout_ms, then destroy. */
int hv_desktop_shutdown(struct hv *hv, const char *host, const char *name, int timeout_ms,
                        struct pt_err *err);
int hv_desktop_destroy(struct hv *hv, const char *host, const char *name, struct pt_err *err);
/* hv_desktop_delete() - destroy if running, undefine (with snapshots and managed save),
 * delete the overlay. Deleting a desktop that does not exist succeeds. */
int hv_desktop_delete(struct hv *hv, const char *host, const char *name, struct pt_err *err);
/* hv_desktop_revert() - back to the golden state (fresh overlay or snapshot), left running
 * if it was running. */
int hv_desktop_revert(struct hv *hv, const char *host, const char *name, struct pt_err *err);
int hv_desktop_park(struct hv *hv, const char *host, const char *name,
                    struct pt_err *err); /* managed save */
int hv_desktop_resume(struct hv *hv, const char *host, const char *name,
                      struct pt_err *err); /* start from managed save */
int hv_desktop_migrate(struct hv *hv, const char *host, const char *name, const char *to_host,
                       struct pt_err *err);

/* hv_desktop_list() - every Portico desktop on @host (NULL: all hosts); returns new array. */
int hv_desktop_list(struct hv *hv, const char *host, struct hv_desktop_info **out, size_t *n,
                    struct pt_err *err);
int hv_desktop_get(struct hv *hv, const char *host, const char *name, struct hv_desktop_info *out,
                   struct pt_err *err);
int hv_desktop_display(struct hv *hv, const char *host, const char *name, struct hv_display *out,
                       struct pt_err *err);
/* hv_desktop_set_password() - per-session SPICE/VNC password valid until @valid_to (epoch
 * seconds, 0 = no expiry). @password is not logged or kept. */
int hv_desktop_set_password(struct hv *hv, const char *host, const char *name, const char *password,
                            int64_t valid_to, struct pt_err *err);

/* Events: a descriptor that becomes readable when events are queued, and a call that
 * delivers them on the caller's thread. */
int hv_event_fd(struct hv *hv);
int hv_events_dispatch(struct hv *hv, hv_event_fn *fn, void *opaque);

#endif
