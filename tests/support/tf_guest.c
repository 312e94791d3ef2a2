/*
 * tf_guest.c - a real QEMU guest under the system libvirtd for display tests: a qcow2
 * overlay of tf_guest_base_image() (SeaBIOS "No bootable device" on screen), SPICE and
 * VNC on 127.0.0.1 autoports, KVM or TCG per tf_guest_domain_type().
 *
 * Guests are children of libvirtd, not of the test, so PR_SET_PDEATHSIG cannot take them
 * down. Instead their names carry the test's pid (tf-<prefix>-<pid>-<random>) and every
 * tf_guest_start() first destroys tf-* guests whose test process is gone; scripts/
 * libvirtd.sh stop destroys whatever is left. libvirt is driven through virsh: the
 * support library links nothing but common/.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/str.h"
#include "tf_priv.h"
#include "tsupport/fixture.h"

#define URI "qemu:///system"

struct tf_guest {
    char name[96];
    char *overlay;
    char *xml;
    int vnc_port;
    int spice_port;
};

/* Run virsh with @args (a NULL-terminated list after "-q -c URI"); the output (stdout and
 * stderr) goes to *@out when it is not NULL (returns new). Returns the exit status or -1. */
static int
virsh(char **out, struct pt_err *err, ...)
{
    char *argv[16];
    int n = 0, status = -1;
    va_list ap;

    argv[n++] = (char *)"virsh";
    argv[n++] = (char *)"-q";
    argv[n++] = (char *)"-c";
    argv[n++] = (char *)URI;
    va_start(ap, err);
    for (char *a; n < 15 && (a = va_arg(ap, char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    if (tf_run_capture("virsh", argv, 60000, &status, out, err) < 0)
        return -1;
    return status;
}

/* Destroy and undefine tf-*-<pid>-* guests whose pid is no longer running. */
static void
reap_stale(void)
{
    PT_AUTOFREE char *list = NULL;
    char *save = NULL;

    if (virsh(&list, NULL, "list", "--all", "--name", NULL) != 0 || !list)
        return;
    for (char *name = strtok_r(list, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
        char *last, *prev;
        long pid;

        name = pt_str_trim(name);
        if (!pt_str_has_prefix(name, "tf-"))
            continue;
        last = strrchr(name, '-');
        if (!last || last == name)
            continue;
        *last = '\0';
        prev = strrchr(name, '-');
        pid = prev ? strtol(prev + 1, NULL, 10) : 0;
        *last = '-';
        if (pid <= 1 || tf_pid_running(pid))
            continue;
        virsh(NULL, NULL, "destroy", name, NULL);
        virsh(NULL, NULL, "undefine", "--snapshots-metadata", name, NULL);
    }
}

static int
port_from(const char *out, const char *prefix, int add)
{
    const char *p = out ? strstr(out, prefix) : NULL;

    if (!p)
        return 0;
    return atoi(p + strlen(prefix)) + add;
}

struct tf_guest *
tf_guest_start(const char *prefix, int mem_mib, struct pt_err *err)
{
    struct tf_guest *g = pt_xcalloc(1, sizeof(*g));
    struct pt_err local = {0};
    PT_AUTOFREE char *xml = NULL;
    PT_AUTOFREE char *out = NULL;
    const char *base;
    char hex[7], size[16];
    bool defined = false;
    int rc = -1;

    if (!err)
        err = &local;
    if (!prefix || !*prefix || strlen(prefix) > 40 || strpbrk(prefix, "<>&'\"/ \n")) {
        pt_err_set(err, PT_E_INVALID, "guest prefix must be 1-40 plain characters");
        goto out;
    }
    if (mem_mib <= 0)
        mem_mib = 64;
    if (tf_libvirtd_ensure(err) < 0 || !(base = tf_guest_base_image(err)))
        goto out;
    reap_stale();
    tf_random_hex(hex, sizeof(hex));
    snprintf(g->name, sizeof(g->name), "tf-%s-%ld-%s", prefix, (long)getpid(), hex);
    g->overlay = pt_xasprintf("%s/%s.qcow2", tf_tmpdir(), g->name);
    g->xml = pt_xasprintf("%s/%s.xml", tf_tmpdir(), g->name);
    {
        char *argv[] = {(char *)"qemu-img", (char *)"create", (char *)"-q", (char *)"-f",
                        (char *)"qcow2",    (char *)"-b",     (char *)base, (char *)"-F",
                        (char *)"qcow2",    g->overlay,       NULL};

        if (tf_run("qemu-img", argv, NULL, 30000, err) < 0)
            goto out;
    }
    snprintf(size, sizeof(size), "%d", mem_mib);
    xml = pt_xasprintf("<domain type='%s'>\n"
                       "  <name>%s</name>\n"
                       "  <memory unit='MiB'>%s</memory>\n"
                       "  <vcpu>1</vcpu>\n"
                       "  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>\n"
                       "  <features><acpi/></features>\n"
                       "  <on_poweroff>destroy</on_poweroff>\n"
                       "  <devices>\n"
                       "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\n"
                       "      <source file='%s'/><target dev='vda' bus='virtio'/></disk>\n"
                       "    <graphics type='spice' autoport='yes' listen='127.0.0.1'>"
                       "<listen type='address' address='127.0.0.1'/></graphics>\n"
                       "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'>"
                       "<listen type='address' address='127.0.0.1'/></graphics>\n"
                       "    <video><model type='qxl' vram='16384' heads='1'/></video>\n"
                       "    <memballoon model='none'/>\n"
                       "  </devices>\n"
                       "</domain>\n",
                       tf_guest_domain_type(), g->name, size, g->overlay);
    if (tf_file_write(g->xml, xml, 0644, err) < 0)
        goto out;
    if (virsh(NULL, err, "define", g->xml, NULL) != 0) {
        pt_err_set(err, PT_E_UNAVAILABLE, "virsh define %s failed (log above)", g->xml);
        goto out;
    }
    defined = true;
    if (virsh(NULL, err, "start", g->name, NULL) != 0) {
        pt_err_set(err, PT_E_UNAVAILABLE, "virsh start %s failed (log above)", g->name);
        goto out;
    }
    if (virsh(&out, err, "domdisplay", "--type", "spice", g->name, NULL) == 0)
        g->spice_port = port_from(out, "spice://127.0.0.1:", 0);
    free(out);
    out = NULL;
    if (virsh(&out, err, "vncdisplay", g->name, NULL) == 0)
        g->vnc_port = port_from(out, "127.0.0.1:", 5900);
    if (g->vnc_port <= 5900 - 1 || g->spice_port <= 0) {
        pt_err_set(err, PT_E_INTERNAL, "guest %s has no SPICE/VNC port (vncdisplay: %s)", g->name,
                   out ? out : "");
        goto out;
    }
    if (tf_wait_port(g->vnc_port, 10000) < 0 || tf_wait_port(g->spice_port, 10000) < 0) {
        pt_err_set(err, PT_E_TIMEOUT, "guest %s: display ports %d/%d do not answer", g->name,
                   g->spice_port, g->vnc_port);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        pt_err_prefix(err, "QEMU guest fixture");
        if (defined)
            tf_guest_stop(g);
        else {
            if (g->overlay)
                unlink(g->overlay);
            free(g->overlay);
            free(g->xml);
            free(g);
        }
        return NULL;
    }
    return g;
}

const char *
tf_guest_name(const struct tf_guest *g)
{
    return g->name;
}

int
tf_guest_vnc_port(const struct tf_guest *g)
{
    return g->vnc_port;
}

int
tf_guest_spice_port(const struct tf_guest *g)
{
    return g->spice_port;
}

void
tf_guest_stop(struct tf_guest *g)
{
    if (!g)
        return;
    virsh(NULL, NULL, "destroy", g->name, NULL);
    virsh(NULL, NULL, "undefine", "--snapshots-metadata", g->name, NULL);
    if (g->overlay)
        unlink(g->overlay);
    if (g->xml)
        unlink(g->xml);
    free(g->overlay);
    free(g->xml);
    free(g);
}
