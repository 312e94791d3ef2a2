/*
 * fixture.h - real components for tests, started on 127.0.0.1 with free ports.
 *
 * Every fixture starts a real program (slapd, libvirtd, xrdp, Xvfb + freerdp-shadow,
 * Chromium), waits until it answers, and stops it by PID. Children are started with
 * PR_SET_PDEATHSIG so that a test killed by a timeout or a signal takes its servers with
 * it; each child's pid is also written under tf_tmpdir() so scripts/test.sh can reap
 * leftovers. Output of each child goes to a log file under tf_tmpdir(), whose path is
 * printed when the component fails to start.
 *
 * All functions return NULL / -1 with @err set (PT_E_UNAVAILABLE when a program is not
 * installed, PT_E_TIMEOUT when it did not answer in time). Thread: test main thread.
 */
#ifndef PT_TSUPPORT_FIXTURE_H
#define PT_TSUPPORT_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"

/* --- scratch space and ports ------------------------------------------------------- */

/* tf_tmpdir() - borrowed: a per-process scratch directory, created on first use under
 * $PORTICO_TEST_TMP (or /tmp), removed recursively at exit unless PORTICO_KEEP_TMP=1. */
const char *tf_tmpdir(void);
/* tf_free_port() - a TCP port in 20000-31999 (below the ephemeral range) that was free
 * on 127.0.0.1 and the wildcard address a moment ago; never the same twice in a row. */
int tf_free_port(void);
/* tf_wait_port() - 0 once 127.0.0.1:@port accepts a connection, -1 after @timeout_ms. */
int tf_wait_port(int port, int timeout_ms);
/* tf_source_dir() - borrowed: the repository root (for tests/data files). */
const char *tf_source_dir(void);

/* --- child processes --------------------------------------------------------------- */

struct tf_proc {
    pid_t pid;
    char name[32];
    char log_path[512];
};

/*
 * tf_proc_spawn() - fork+exec @argv (argv[0] searched in $PATH; @envp NULL = inherit) in
 * its own process group, stdin /dev/null, stdout/stderr to tf_tmpdir()/logs/@name-*.log,
 * PR_SET_PDEATHSIG(SIGKILL), pid file tf_tmpdir()/pids/@name-<pid>.pid. Returns 0, or -1
 * with PT_E_UNAVAILABLE when argv[0] cannot be executed (not installed). @name: <= 31
 * plain characters. Spawn from the thread that lives as long as the child should.
 */
int tf_proc_spawn(struct tf_proc *p, const char *name, char *const argv[], char *const envp[],
                  struct pt_err *err);
/* tf_proc_stop() - SIGTERM to the group, wait up to @grace_ms (0: SIGKILL at once), then
 * SIGKILL; reaps, removes the pid file, sets @p->pid to 0. NULL/0-pid safe, idempotent. */
void tf_proc_stop(struct tf_proc *p, int grace_ms);
/* tf_proc_alive() - true while @p runs (a zombie is not alive). Does not reap. */
bool tf_proc_alive(const struct tf_proc *p);
/* tf_proc_print_log() - print the last @lines lines of @p's log to stderr (0: 30). */
void tf_proc_print_log(const struct tf_proc *p, int lines);

/* --- OpenLDAP slapd ---------------------------------------------------------------- */

struct tf_slapd;

/*
 * tf_slapd_start() - a throwaway slapd (mdb, suffix dc=example,dc=org) loaded from the
 * LDIF file @ldif (NULL: tests/data/ldap/base.ldif), listening on ldap:// and ldaps://
 * with a CA and a server certificate for IP 127.0.0.1 made for this instance.
 * Overlays: memberof (groupOfNames/member -> memberOf on the members) and ppolicy
 * (pwdAccountLockedTime: 000001010000Z disables an account). Any LDIF of entries under
 * the suffix works: the suffix entry and the default password policy
 * (cn=default,ou=policies) are added when @ldif lacks them. Entries are added online
 * (ldapadd), parents before children. Ready in ~0.1 s; returns new (tf_slapd_stop()).
 * Stopped with SIGKILL (the data is thrown away; SIGTERM would take ~2 s).
 */
struct tf_slapd *tf_slapd_start(const char *ldif, struct pt_err *err);
const char *tf_slapd_uri(const struct tf_slapd *s);     /* ldap://127.0.0.1:PORT */
const char *tf_slapd_uri_tls(const struct tf_slapd *s); /* ldaps://127.0.0.1:PORT */
const char *tf_slapd_ca_file(const struct tf_slapd *s);
const char *tf_slapd_base_dn(const struct tf_slapd *s);  /* dc=example,dc=org */
const char *tf_slapd_admin_dn(const struct tf_slapd *s); /* cn=admin,dc=example,dc=org */
const char *tf_slapd_admin_pw(const struct tf_slapd *s);
int tf_slapd_port(const struct tf_slapd *s);
int tf_slapd_tls_port(const struct tf_slapd *s);
/*
 * tf_slapd_add_ldif() - add the entries of another LDIF file online (ldapadd as the
 * rootdn, so the memberof/ppolicy overlays see them), e.g. base.ldif then a test's own
 * hostile names. Returns 0 or -1 with @err (the ldapadd log's tail is printed).
 */
int tf_slapd_add_ldif(struct tf_slapd *s, const char *ldif, struct pt_err *err);
/* tf_slapd_pause() / tf_slapd_resume() - SIGSTOP / SIGCONT, to test timeouts. */
void tf_slapd_pause(struct tf_slapd *s);
void tf_slapd_resume(struct tf_slapd *s);
void tf_slapd_stop(struct tf_slapd *s); /* NULL-safe; frees */
/* tf_slapd_broker_ldap() - the broker's [ldap] section for @s (service bind, people and
 * groups bases, admin_group = admins) into @out; the caller appends its "pool = GROUP:POOL"
 * lines. */
void tf_slapd_broker_ldap(const struct tf_slapd *s, char *out, size_t n);

/* --- libvirt ----------------------------------------------------------------------- */

/*
 * tf_libvirtd_ensure() - make sure a system libvirtd (root, no systemd, LAB.md settings)
 * answers on qemu:///system; starts one if not (cold start ~8 s, warm ~0.1 s) under a
 * lock so parallel tests start it once. scripts/test.sh starts it before the build and
 * stops it by PID after ctest. Returns 0 or -1.
 */
int tf_libvirtd_ensure(struct pt_err *err);
/* tf_kvm_usable() - true if /dev/kvm opens read-write (guests use type='kvm'). */
bool tf_kvm_usable(void);
/* tf_guest_domain_type() - "kvm" or "qemu" (TCG), per tf_kvm_usable(). */
const char *tf_guest_domain_type(void);
/* tf_guest_base_image() - borrowed path of a tiny qcow2 golden disk (SeaBIOS shows
 * "No bootable device": enough for display tests), created once and cached. */
const char *tf_guest_base_image(struct pt_err *err);
/* tf_test_node_write() - write a libvirt test-driver node file with @ndomains domains
 * named @prefix-0001.. (explicit VNC/SPICE ports, half running) and return its path,
 * new (caller frees). Open it as "test://" + path. */
char *tf_test_node_write(const char *prefix, int ndomains, struct pt_err *err);
/* tf_golden_node_write() - a test:/// node with no domains and a "golden" directory pool
 * holding /golden/base.qcow2, the image pool/ clones desktops from; written under
 * tf_tmpdir() with @tag and the pid in its name. Returns its path, new (caller frees). */
char *tf_golden_node_write(const char *tag, struct pt_err *err);

/*
 * tf_guest_start() - a real QEMU guest under the system libvirtd (tf_libvirtd_ensure()):
 * an overlay of tf_guest_base_image(), @mem_mib MiB (0: 64), SPICE and VNC on 127.0.0.1
 * autoports, type tf_guest_domain_type(). Named tf-@prefix-<pid>-<random>; guests of
 * test processes that died are destroyed by the next tf_guest_start(). Ready when both
 * display ports accept (~0.4 s TCG start). Returns new (tf_guest_stop(): destroy takes
 * 1-2 s) or NULL with @err.
 */
struct tf_guest;
struct tf_guest *tf_guest_start(const char *prefix, int mem_mib, struct pt_err *err);
const char *tf_guest_name(const struct tf_guest *g);
int tf_guest_vnc_port(const struct tf_guest *g);   /* TCP port, not a display number */
int tf_guest_spice_port(const struct tf_guest *g); /* TCP port */
void tf_guest_stop(struct tf_guest *g);            /* NULL-safe; destroys, undefines, frees */

/*
 * A second libvirt host on this machine (scripts/fixtures/libvirtd2.sh): an independent
 * system libvirtd in its own mount + UTS namespace, a migration target libvirt accepts as
 * another host. Instances @index 1-9 never collide (the script picks ports and hostname
 * from it); give each test its own indexes and @tag. Start and stop it in the unchecked
 * fixture (the parent process), so a failed test still stops it.
 */
struct tf_host2 {
    char dir[512];  /* state directory: $PORTICO_STATE/lv2-@tag-<pid>-@letter */
    char uri[1024]; /* qemu+unix:///system?socket=... */
    int ports[2];   /* display port range min, max */
};
/* tf_host2_start() - start instance @index seeing @golden at its own path (storage not
 * shared: overlays are the host's own). Cold start ~8 s, ~0.3 s with the cache. 0 or -1. */
int tf_host2_start(struct tf_host2 *h, const char *tag, int index, char letter, const char *golden,
                   struct pt_err *err);
/* tf_host2_stop() - destroy its domains, stop it by PID, remove its directory (kept with
 * PORTICO_KEEP_TMP). Safe on a host that never started or is stopped. */
void tf_host2_stop(struct tf_host2 *h);
/* tf_host2_reap_stale() - stop the @tag hosts of killed runs (a ctest timeout skips
 * teardown): their directory names a pid that is gone. */
void tf_host2_reap_stale(const char *tag);

/* --- RDP endpoints ----------------------------------------------------------------- */

struct tf_rdp;

/* Xvfb + freerdp-shadow-cli (no auth) at @width x @height; Xvfb picks its display with
 * -displayfd. Returns new (tf_rdp_stop()). */
struct tf_rdp *tf_rdp_shadow_start(int width, int height, struct pt_err *err);
/* xrdp fronting the VNC server at 127.0.0.1:@vnc_port (any user/password, AutoLogon). */
struct tf_rdp *tf_rdp_xrdp_vnc_start(int vnc_port, struct pt_err *err);
/* tf_xrdp_ini_write() - xrdp's ini at @path (0600) from scripts/fixtures/xrdp-vnc.ini.in,
 * the template the shell fixtures and the demo use too: xrdp on 127.0.0.1:@rdp_port with
 * its certificate and log in @dir, every session on 127.0.0.1:@vnc_port (@vnc_password
 * may be NULL); with @channels false xrdp joins no virtual channel. 0 or -1. */
int tf_xrdp_ini_write(const char *path, const char *dir, int rdp_port, int vnc_port,
                      const char *vnc_password, bool channels, struct pt_err *err);
int tf_rdp_port(const struct tf_rdp *r);
/* tf_rdp_display() - the X display of the shadow fixture (":N"), NULL for xrdp. */
const char *tf_rdp_display(const struct tf_rdp *r);
void tf_rdp_stop(struct tf_rdp *r); /* NULL-safe; frees */

/* --- a VNC server without libvirt -------------------------------------------------- */

/* Xvnc (tigervnc) on a free port, no auth, @width x @height; for relay tests that do
 * not need a guest. */
struct tf_proc *tf_xvnc_start(int width, int height, int *port, struct pt_err *err);
/* tf_xvnc_display() - borrowed: the X display (":N") of an Xvnc from tf_xvnc_start(),
 * to draw on it with X tools; NULL for anything else. */
const char *tf_xvnc_display(const struct tf_proc *p);
/* tf_xvnc_stop() - stop the Xvnc of tf_xvnc_start() by PID and free it. NULL-safe. */
void tf_xvnc_stop(struct tf_proc *p);

/* --- headless Chromium ------------------------------------------------------------- */

/*
 * tf_node_run() - run `node @script @args...` (@script relative to tests/e2e, or absolute;
 * @args NULL-terminated or NULL) with playwright-core from tests/e2e/node_modules and
 * /usr/bin/chromium (tests/e2e/lib/chromium.js launches it). Returns the exit status
 * (0 = passed; the log's tail is printed otherwise), or -1 with @err: PT_E_UNAVAILABLE
 * when node, chromium or node_modules (scripts/npm-deps.sh) are missing, PT_E_TIMEOUT
 * after @timeout_ms (the script is killed).
 */
int tf_node_run(const char *script, char *const args[], int timeout_ms, struct pt_err *err);

#endif
