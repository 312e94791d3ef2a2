/*
 * tf_libvirt.c - libvirt for tests: the shared system libvirtd, guest images, and node
 * files for libvirt's in-process test:/// driver.
 *
 * The system libvirtd is one per machine (it owns /run/libvirt), so it is not a
 * per-test child: scripts/libvirtd.sh starts it once (under an flock) and scripts/test.sh
 * stops it after ctest. Tests only ensure it answers. Guests that tests start must carry
 * unique names and be destroyed by the test; libvirtd.sh stop destroys stragglers.
 *
 * The base image is a blank 64 MiB qcow2: SeaBIOS prints "No bootable device" on the
 * guest's screen, which is all the display path needs. It is created once per machine
 * under ${PORTICO_STATE:-/var/tmp/portico}/images and renamed into place, so parallel
 * tests never see a half-written file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/str.h"
#include "tf_priv.h"
#include "tsupport/fixture.h"

int
tf_libvirtd_ensure(struct pt_err *err)
{
    PT_AUTOFREE char *script = NULL;
    char *argv[4];

    if (geteuid() != 0)
        return pt_err_set(err, PT_E_UNAVAILABLE,
                          "a system libvirtd needs root: run the tests as root (scripts/test.sh)");
    if (tf_need(err, "libvirtd", "libvirt-daemon libvirt-daemon-driver-qemu") < 0 ||
        tf_need(err, "virsh", "libvirt-clients") < 0)
        return -1;
    script = pt_xasprintf("%s/scripts/libvirtd.sh", tf_source_dir());
    argv[0] = (char *)"sh";
    argv[1] = script;
    argv[2] = (char *)"start";
    argv[3] = NULL;
    /* cold start ~8 s; the script waits on a lock while another caller starts it */
    if (tf_run("libvirtd-start", argv, NULL, 150000, err) < 0)
        return pt_err_prefix(err, "libvirtd did not start (scripts/libvirtd.sh start)");
    return 0;
}

bool
tf_kvm_usable(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return false;
    close(fd);
    return true;
}

const char *
tf_guest_domain_type(void)
{
    const char *env = getenv("PORTICO_GUEST_DOMAIN_TYPE");

    /* an override for machines where /dev/kvm opens but KVM misbehaves */
    if (env && (strcmp(env, "qemu") == 0 || strcmp(env, "kvm") == 0))
        return env;
    return tf_kvm_usable() ? "kvm" : "qemu";
}

const char *
tf_guest_base_image(struct pt_err *err)
{
    static char path[600];
    char dir[512], tmp[700], hex[9];
    char *argv[7];
    struct stat st;

    snprintf(dir, sizeof(dir), "%s/images", tf_state_dir());
    snprintf(path, sizeof(path), "%s/base-64M.qcow2", dir);
    if (stat(path, &st) == 0 && st.st_size > 0)
        return path;
    if (tf_need(err, "qemu-img", "qemu-utils") < 0 || tf_mkdir_p(dir, err) < 0)
        return NULL;
    tf_random_hex(hex, sizeof(hex));
    snprintf(tmp, sizeof(tmp), "%s/.base-64M.qcow2.%s", dir, hex);
    argv[0] = (char *)"qemu-img";
    argv[1] = (char *)"create";
    argv[2] = (char *)"-q";
    argv[3] = (char *)"-fqcow2";
    argv[4] = tmp;
    argv[5] = (char *)"64M";
    argv[6] = NULL;
    if (tf_run("qemu-img", argv, NULL, 30000, err) < 0) {
        unlink(tmp);
        return NULL;
    }
    chmod(tmp, 0644);
    if (rename(tmp, path) < 0) {
        unlink(tmp);
        pt_err_set(err, PT_E_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        return NULL;
    }
    return path;
}

char *
tf_test_node_write(const char *prefix, int ndomains, struct pt_err *err)
{
    struct pt_buf b = PT_BUF_INIT;
    PT_AUTOFREE char *pooldir = NULL;
    unsigned hash = 2166136261u; /* FNV-1a of the prefix makes UUIDs differ per prefix */
    char *path;

    if (!prefix || !*prefix || strlen(prefix) > 40 || strpbrk(prefix, "<>&'\"/ ")) {
        pt_err_set(err, PT_E_INVALID, "test node prefix must be 1-40 plain characters");
        return NULL;
    }
    if (ndomains < 0 || ndomains > 100000) {
        pt_err_set(err, PT_E_INVALID, "test node: %d domains is out of range 0-100000", ndomains);
        return NULL;
    }
    for (const char *c = prefix; *c; c++)
        hash = (hash ^ (unsigned char)*c) * 16777619u;
    pooldir = tf_subdir("testpool", err);
    if (!pooldir)
        return NULL;
    pt_buf_appends(&b, "<node>\n");
    for (int i = 1; i <= ndomains; i++) {
        /* the test driver allocates no autoports: give each domain its own pair */
        int spice = 5900 + 2 * ((i - 1) % 29000) + 2, vnc = spice + 1;

        pt_buf_appendf(&b,
                       "  <domain type='test'>\n"
                       "    <name>%s-%04d</name>\n"
                       "    <uuid>%08x-0000-4000-8000-%012d</uuid>\n"
                       "    <memory unit='MiB'>128</memory>\n"
                       "    <vcpu>1</vcpu>\n"
                       "    <os><type arch='x86_64'>hvm</type></os>\n"
                       "    <devices>\n"
                       "      <graphics type='spice' port='%d' autoport='no' listen='127.0.0.1'>"
                       "<listen type='address' address='127.0.0.1'/></graphics>\n"
                       "      <graphics type='vnc' port='%d' autoport='no' listen='127.0.0.1'>"
                       "<listen type='address' address='127.0.0.1'/></graphics>\n"
                       "    </devices>\n",
                       prefix, i, hash, i, spice, vnc);
        /* odd domains run, even ones are shut off (runstate 5) */
        if (i % 2 == 0)
            pt_buf_appends(&b, "    <test:runstate "
                               "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5"
                               "</test:runstate>\n");
        pt_buf_appends(&b, "  </domain>\n");
    }
    pt_buf_appendf(&b,
                   "  <pool type='dir'><name>default-pool</name>"
                   "<target><path>%s</path></target></pool>\n"
                   "</node>\n",
                   pooldir);
    path = pt_xasprintf("%s/%s-node.xml", pooldir, prefix);
    if (tf_file_write(path, b.data, 0644, err) < 0) {
        free(path);
        path = NULL;
    }
    pt_buf_fini(&b);
    return path;
}

char *
tf_golden_node_write(const char *tag, struct pt_err *err)
{
    char path[700];
    FILE *f;

    snprintf(path, sizeof(path), "%s/node-%s-%d.xml", tf_tmpdir(), tag, (int)getpid());
    f = fopen(path, "w");
    if (!f) {
        pt_err_set(err, PT_E_IO, "cannot write %s", path);
        return NULL;
    }
    fputs("<node>\n  <pool type='dir'><name>golden</name><target><path>/golden</path></target>\n"
          "    <volume type='file'><name>base.qcow2</name><capacity unit='MiB'>64</capacity>"
          "<target><format type='qcow2'/></target></volume>\n  </pool>\n</node>\n",
          f);
    if (fclose(f) != 0) {
        pt_err_set(err, PT_E_IO, "cannot write %s", path);
        return NULL;
    }
    return pt_xstrdup(path);
}
