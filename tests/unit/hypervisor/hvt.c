/*
 * hvt.c - scratch dirs, test-driver node files and event waiting for hypervisor tests.
 */
#include "hvt.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/str.h"

static char tmpdir[256];

static void
rm_tmpdir(void)
{
    char cmd[300];

    if (tmpdir[0] && !getenv("PORTICO_KEEP_TMP")) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "hvt: cannot remove %s\n", tmpdir);
    }
}

const char *
hvt_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("PORTICO_TEST_TMP");

        snprintf(tmpdir, sizeof(tmpdir), "%s/pt-hv-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(rm_tmpdir);
    }
    return tmpdir;
}

static void
domain_xml(FILE *f, const char *prefix, const char *pool, int i, bool portico, int port)
{
    fprintf(f, "  <domain type='test'>\n    <name>%s-%04d</name>\n", prefix, i);
    if (portico)
        fprintf(f,
                "    <metadata><portico:desktop xmlns:portico='https://portico.dev/xmlns/desktop/1'"
                " pool='%s' id='%s-id-%04d' image='v1' overlay='' rdp_port='0'/></metadata>\n",
                pool, prefix, i);
    fprintf(f, "    <memory unit='MiB'>128</memory><vcpu>1</vcpu>\n"
               "    <os><type arch='x86_64'>hvm</type></os>\n    <devices>\n");
    fprintf(f,
            "      <graphics type='spice' port='%d' autoport='no' listen='127.0.0.1'/>\n"
            "      <graphics type='vnc' port='%d' autoport='no' listen='127.0.0.1'/>\n"
            "    </devices>\n",
            port, port + 1);
    if (i % 2 == 0)
        fprintf(f, "    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5"
                   "</test:runstate>\n");
    fprintf(f, "  </domain>\n");
}

char *
hvt_node_write(const char *prefix, const char *pool, int nportico, int nforeign)
{
    char *path = pt_xasprintf("%s/%s.xml", hvt_tmpdir(), prefix);
    FILE *f = fopen(path, "w");
    char *uri;

    if (!f) {
        perror(path);
        abort();
    }
    fprintf(f, "<node>\n");
    for (int i = 1; i <= nportico + nforeign; i++)
        domain_xml(f, prefix, pool, i, i <= nportico, 20000 + 2 * i);
    fprintf(f, "  <network><name>default</name><bridge name='virbr0'/><forward/>"
               "<ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>"
               "<range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>\n");
    fprintf(f, "  <pool type='dir'><name>golden</name><target><path>/golden</path></target>\n"
               "    <volume type='file'><name>base.qcow2</name>"
               "<capacity unit='MiB'>64</capacity>"
               "<target><format type='qcow2'/></target></volume>\n  </pool>\n</node>\n");
    fclose(f);
    uri = pt_xasprintf("test://%s", path);
    free(path);
    return uri;
}

struct hv_desktop_spec
hvt_spec(const char *name, const char *pool, const char *id)
{
    struct hv_desktop_spec s = {
        .name = name,
        .pool = pool,
        .desktop_id = id,
        .image_version = "v1",
        .golden_path = HVT_GOLDEN,
        .vcpus = 1,
        .memory_mib = 128,
        .protocols = HV_PROTO_SPICE | HV_PROTO_VNC,
    };
    return s;
}

struct want {
    enum hv_event_type type;
    const char *name;
    bool seen;
};

static void
on_event(void *opaque, const struct hv_event *ev)
{
    struct want *w = opaque;

    if (ev->type == w->type && (!w->name || strcmp(ev->name, w->name) == 0))
        w->seen = true;
}

bool
hvt_wait_event(struct hv *hv, enum hv_event_type type, const char *name, int timeout_ms)
{
    struct want w = {type, name, false};
    int64_t deadline = pt_time_mono_ms() + timeout_ms;

    while (!w.seen) {
        struct pollfd p = {.fd = hv_event_fd(hv), .events = POLLIN};
        int64_t left = deadline - pt_time_mono_ms();

        if (left <= 0)
            break;
        if (poll(&p, 1, (int)left) > 0)
            hv_events_dispatch(hv, on_event, &w);
    }
    return w.seen;
}
