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
    char host[256];     /* address the gateway connects to */
    int spice_port;     /* 0 if none */
    int vnc_port;       /* TCP port (not a display number); 0 if none */
    int rdp_port;       /* 0 if none */
    char rdp_host[256]; /* the guest's own address when libvirt knows it (DHCP lease, guest
                         * agent, ARP), else the same as host; RDP is served by the guest */
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

/* hv_new() - returns new; registers libvirt's event implementation (once per process) and
 * starts the process-wide libvirt event thread (shared by every struct hv) and this hv's
 * reconnect thread. Call before any other libvirt use in the process. */
struct hv *hv_new(struct pt_err *err);
void hv_free(struct hv *hv); /* NULL-safe; closes every host */

/* hv_host_add() - open @conf->uri; a host that cannot be reached is added as down and
 * retried in the background, so one dead host never stops a broker from starting.
 * Returns 0 (also for a down host), or -1: PT_E_INVALID bad name/URI/limits,
 * PT_E_CONFLICT name already added. Verbs on a down host fail with PT_E_UNAVAILABLE
 * naming the reason; HOST_DOWN / HOST_UP events report changes (keepalive 5 s x 3). */
int hv_host_add(struct hv *hv, const struct hv_host_conf *conf, struct pt_err *err);
/* hv_host_list() - returns new array in *out (free()), one entry per host, in the order
 * added; a down host has up=false and zero facts. A draining host with desktops == 0 is
 * empty: drained. */
int hv_host_list(struct hv *hv, struct hv_host_info **out, size_t *n, struct pt_err *err);
int hv_host_set_draining(struct hv *hv, const char *host, bool draining, struct pt_err *err);

/* Desktop lifecycle on one host. */
/* hv_desktop_create() - qcow2 overlay of the golden image through libvirt's storage API
 * (a transient dir pool is made for the golden's directory when no pool holds it),
 * define with the Portico metadata and a random display password (nobody can connect
 * until hv_desktop_set_password()); not started. Errors: PT_E_NOTFOUND golden image,
 * PT_E_INVALID spec or domain XML (libvirt's reason kept), PT_E_CONFLICT name exists or
 * host draining, PT_E_LIMIT host full (max_desktops) or memory reserve. Rolls back. */
int hv_desktop_create(struct hv *hv, const char *host, const struct hv_desktop_spec *spec,
                      struct pt_err *err);
/* start, destroy: succeed when already in the wanted state (the reconcile loop retries) */
int hv_desktop_start(struct hv *hv, const char *host, const char *name, struct pt_err *err);
/* hv_desktop_shutdown() - ACPI shutdown, wait up to @timeout_ms, then destroy. */
int hv_desktop_shutdown(struct hv *hv, const char *host, const char *name, int timeout_ms,
                        struct pt_err *err);
int hv_desktop_destroy(struct hv *hv, const char *host, const char *name, struct pt_err *err);
/* hv_desktop_delete() - destroy if running, undefine (with snapshots and managed save),
 * delete the overlay. Deleting a desktop that does not exist succeeds; a domain without
 * Portico metadata is refused with PT_E_FORBIDDEN (never delete what is not ours). */
int hv_desktop_delete(struct hv *hv, const char *host, const char *name, struct pt_err *err);
/* hv_desktop_revert() - back to the golden state, left running if it was running. A
 * parked desktop loses its saved memory. Uses the desktop's internal "portico-golden"
 * snapshot if it has one, else recreates the overlay (the default: see docs/hypervisor.md
 * for the measurements, and why overlays keep desktops migratable). */
int hv_desktop_revert(struct hv *hv, const char *host, const char *name, struct pt_err *err);
int hv_desktop_park(struct hv *hv, const char *host, const char *name,
                    struct pt_err *err); /* managed save */
int hv_desktop_resume(struct hv *hv, const char *host, const char *name,
                      struct pt_err *err); /* start from managed save */
/* hv_desktop_migrate() - live migration (offline for a stopped desktop) with the overlay
 * copied (the golden image must exist at the same path on @to_host). PT_E_CONFLICT if
 * @to_host is draining; libvirt's reason if the driver cannot migrate (test driver).
 * Also: PT_E_LIMIT @to_host full (its limits hold as for a create, nothing moved);
 * PT_E_NOTFOUND no such desktop (a domain without Portico metadata is none, as for
 * hv_desktop_get()) or golden missing on @to_host;
 * PT_E_CONFLICT an overlay already at the same path on @to_host (shared storage is not
 * supported); PT_E_TIMEOUT a live move past its deadline (10 min) was aborted. A parked
 * desktop arrives parked. On success the source's overlay is
 * deleted; on failure the desktop stays on @host as it was. Blocks for the whole move
 * (seconds): call it from a worker. */
int hv_desktop_migrate(struct hv *hv, const char *host, const char *name, const char *to_host,
                       struct pt_err *err);

/* hv_desktop_list() - every Portico desktop on @host (NULL: all hosts); returns new array. */
int hv_desktop_list(struct hv *hv, const char *host, struct hv_desktop_info **out, size_t *n,
                    struct pt_err *err);
int hv_desktop_get(struct hv *hv, const char *host, const char *name, struct hv_desktop_info *out,
                   struct pt_err *err);

/* A leftover overlay: what hv_desktop_create leaves when killed between making the disk
 * and defining the domain. */
struct hv_leftover {
    char host[HV_NAME_MAX];
    char name[HV_NAME_MAX]; /* the domain it was made for (no such domain exists) */
    char path[1024];
};
/* hv_overlay_leftovers() - overlay volumes "<name>.qcow2" on @host whose <name> starts
 * with @prefix (required) and names no domain there, and no create in flight in this
 * process. Returns 0 with *@out a new array (free()), or -1: PT_E_UNAVAILABLE host
 * down, PT_E_NOTFOUND no such host, PT_E_INVALID empty prefix. Blocks (lists and
 * refreshes the host's storage pools): call it from a worker or at start. */
int hv_overlay_leftovers(struct hv *hv, const char *host, const char *prefix,
                         struct hv_leftover **out, size_t *n, struct pt_err *err);
/* hv_overlay_leftover_delete() - delete leftover @name's overlay on @host, checked again
 * at the time of deletion. -1: PT_E_CONFLICT a domain @name exists, or a create or
 * migration to @host is in flight in this process (retry later); PT_E_NOTFOUND no such
 * leftover. */
int hv_overlay_leftover_delete(struct hv *hv, const char *host, const char *name,
                               struct pt_err *err);
/* hv_desktop_display() - SPICE/VNC ports from the live XML, RDP port from the spec.
 * PT_E_CONFLICT if the desktop is not running. A wildcard listen address is replaced by
 * the host part of the host's URI (127.0.0.1 for local URIs). */
int hv_desktop_display(struct hv *hv, const char *host, const char *name, struct hv_display *out,
                       struct pt_err *err);
/* hv_desktop_set_password() - per-session SPICE/VNC password valid until @valid_to (epoch
 * seconds, 0 = no expiry), on every SPICE and VNC display of the desktop (live if
 * running, else in its definition). 1-60 bytes; VNC gets the first 8 (its DES key is 8
 * bytes: VNC clients cut a longer password the same way). Not logged or kept. */
int hv_desktop_set_password(struct hv *hv, const char *host, const char *name, const char *password,
                            int64_t valid_to, struct pt_err *err);

/* Events: a descriptor that becomes readable when events are queued, and a call that
 * delivers them on the caller's thread (returns how many). Desktop events cover every
 * domain of the host, Portico's or not (an undefined domain has no metadata left to
 * tell): ignore names you do not know. The queue keeps at most 65,536 events. */
int hv_event_fd(struct hv *hv);
int hv_events_dispatch(struct hv *hv, hv_event_fn *fn, void *opaque);

#endif
