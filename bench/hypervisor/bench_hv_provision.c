/*
 * bench_hv_provision.c - provisioning N desktops on the real libvirtd: one at a time
 * versus in parallel with a per-host bound, side by side in one run, plus the two ways
 * to return a running desktop to golden (fresh overlay vs internal snapshot) and the
 * park/resume pair.
 *
 *   bench_hv_provision [N=8] [BOUND=4] [REPS=3]
 *
 * "Provisioned" means hv_desktop_create() (overlay through the storage API + define) and
 * hv_desktop_start() both returned and the VNC port answers "RFB 003.008": a desktop a
 * user could be handed. Every desktop made here is deleted before exit.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/str.h"
#include "hv_priv.h"
#include "tsupport/fixture.h"

#define MAXN 64

struct run {
    struct hv *hv;
    const char *golden;
    const char *prefix;
    int n;
    atomic_int next;
    int64_t took[MAXN];
    int failed;
    pthread_mutex_t lock;
};

static int
rfb_answers(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {5, 0};
    char b[12];
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        recv(fd, b, sizeof(b), MSG_WAITALL) == (ssize_t)sizeof(b))
        ok = memcmp(b, "RFB 003.008\n", 12) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void
name_of(const struct run *r, int i, char *out, size_t n)
{
    snprintf(out, n, "bench-%s-%d-%02d", r->prefix, (int)getpid(), i);
}

static int
provision_one(struct run *r, int i)
{
    char name[64];
    struct pt_err err = {0};
    struct hv_display d;
    struct hv_desktop_spec s = {
        .pool = "bench",
        .image_version = "base",
        .golden_path = r->golden,
        .vcpus = 1,
        .memory_mib = 64,
        .protocols = HV_PROTO_VNC | HV_PROTO_SPICE,
        .domain_type = tf_guest_domain_type(),
    };
    int64_t t0 = pt_time_mono_ms();

    name_of(r, i, name, sizeof(name));
    s.name = name;
    s.desktop_id = name;
    if (hv_desktop_create(r->hv, "local", &s, &err) < 0 ||
        hv_desktop_start(r->hv, "local", name, &err) < 0 ||
        hv_desktop_display(r->hv, "local", name, &d, &err) < 0 || !rfb_answers(d.vnc_port)) {
        fprintf(stderr, "bench: %s: %s\n", name, err.msg[0] ? err.msg : "VNC did not answer");
        return -1;
    }
    r->took[i] = pt_time_mono_ms() - t0;
    return 0;
}

static void *
worker(void *arg)
{
    struct run *r = arg;
    int i;

    while ((i = atomic_fetch_add(&r->next, 1)) < r->n) {
        if (provision_one(r, i) < 0) {
            pthread_mutex_lock(&r->lock);
            r->failed++;
            pthread_mutex_unlock(&r->lock);
        }
    }
    return NULL;
}

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int64_t
median(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp64);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Provision r->n desktops with @bound workers; returns wall time to all running. */
static int64_t
provision(struct run *r, int bound)
{
    pthread_t th[MAXN];
    int64_t t0 = pt_time_mono_ms();

    atomic_store(&r->next, 0);
    for (int i = 0; i < bound; i++)
        pthread_create(&th[i], NULL, worker, r);
    for (int i = 0; i < bound; i++)
        pthread_join(th[i], NULL);
    return pt_time_mono_ms() - t0;
}

static void
cleanup(struct run *r)
{
    char name[64];
    struct pt_err err = {0};

    for (int i = 0; i < r->n; i++) {
        name_of(r, i, name, sizeof(name));
        if (hv_desktop_delete(r->hv, "local", name, &err) < 0)
            fprintf(stderr, "bench: cleanup %s: %s\n", name, err.msg);
    }
}

/* Revert a running desktop @reps times in @mode; median ms (the desktop must answer). */
static int64_t
revert_median(struct hv *hv, const char *golden, enum hv_revert_mode mode, int reps)
{
    struct run r = {
        .hv = hv, .golden = golden, .prefix = mode == HV_REVERT_SNAPSHOT ? "rs" : "ro", .n = 1};
    int64_t t[16];
    struct pt_err err = {0};
    struct hv_display d;
    char name[64];
    int ok = 0;

    hv_set_revert_mode(hv, mode);
    name_of(&r, 0, name, sizeof(name));
    if (provision_one(&r, 0) == 0) {
        for (int i = 0; i < reps && i < 16; i++) {
            int64_t t0 = pt_time_mono_ms();

            if (hv_desktop_revert(hv, "local", name, &err) < 0 ||
                hv_desktop_display(hv, "local", name, &d, &err) < 0 || !rfb_answers(d.vnc_port)) {
                fprintf(stderr, "bench: revert %s: %s\n", name, err.msg);
                break;
            }
            t[ok++] = pt_time_mono_ms() - t0;
        }
    }
    cleanup(&r);
    hv_set_revert_mode(hv, HV_REVERT_OVERLAY);
    return ok == reps ? median(t, ok) : -1;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 8, bound = argc > 2 ? atoi(argv[2]) : 4;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    struct pt_err err = {0};
    struct hv_host_conf c = {.name = "local", .uri = "qemu:///system"};
    struct run seq = {.prefix = "seq"}, par = {.prefix = "par"};
    int64_t t_seq, t_par, m_seq, m_par, rv_o, rv_s, t0, t_park, t_resume;
    struct hv *hv;
    const char *golden;
    struct run pr = {.prefix = "pk", .n = 1};
    char pname[64];

    pt_log_init("bench_hv", PT_LOG_STDERR, LOG_WARNING);
    if (n < 1 || n > MAXN || bound < 1 || bound > MAXN || reps < 1 || reps > 16) {
        fprintf(stderr, "usage: bench_hv_provision [N 1-64] [BOUND 1-64] [REPS 1-16]\n");
        return 2;
    }
    if (tf_libvirtd_ensure(&err) < 0 || !(golden = tf_guest_base_image(&err)) ||
        !(hv = hv_new(&err)) || hv_host_add(hv, &c, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    seq.hv = par.hv = pr.hv = hv;
    seq.golden = par.golden = pr.golden = golden;
    seq.n = par.n = n;
    pthread_mutex_init(&seq.lock, NULL);
    pthread_mutex_init(&par.lock, NULL);

    t_seq = provision(&seq, 1);
    cleanup(&seq);
    t_par = provision(&par, bound);
    cleanup(&par);
    if (seq.failed || par.failed) {
        fprintf(stderr, "bench: %d sequential and %d parallel provisions failed\n", seq.failed,
                par.failed);
        hv_free(hv);
        return 1;
    }
    m_seq = median(seq.took, n);
    m_par = median(par.took, n);

    rv_o = revert_median(hv, golden, HV_REVERT_OVERLAY, reps);
    rv_s = revert_median(hv, golden, HV_REVERT_SNAPSHOT, reps);

    name_of(&pr, 0, pname, sizeof(pname));
    t_park = t_resume = -1;
    if (provision_one(&pr, 0) == 0) {
        t0 = pt_time_mono_ms();
        if (hv_desktop_park(hv, "local", pname, &err) == 0) {
            t_park = pt_time_mono_ms() - t0;
            t0 = pt_time_mono_ms();
            if (hv_desktop_resume(hv, "local", pname, &err) == 0)
                t_resume = pt_time_mono_ms() - t0;
        }
    }
    cleanup(&pr);

    printf("hypervisor provisioning on qemu:///system, domain type %s, 64 MiB guests\n",
           tf_guest_domain_type());
    printf("%-34s %12s %12s\n", "", "one-at-a-time", "parallel");
    printf("%-34s %12d %12d\n", "workers (per-host bound)", 1, bound);
    printf("%-34s %12lld %12lld\n", "time to N running + RFB (ms)", (long long)t_seq,
           (long long)t_par);
    printf("%-34s %12lld %12lld\n", "per-desktop median (ms)", (long long)m_seq, (long long)m_par);
    printf("N=%d  speed-up (time to N, one-at-a-time / parallel): %.2fx\n", n,
           (double)t_seq / (double)(t_par ? t_par : 1));
    printf("revert of a running desktop, median of %d: fresh overlay %lld ms, internal "
           "snapshot %lld ms (ratio overlay/snapshot %.2f)\n",
           reps, (long long)rv_o, (long long)rv_s, rv_s > 0 ? (double)rv_o / (double)rv_s : 0.0);
    printf("park (managed save) %lld ms, resume %lld ms\n", (long long)t_park, (long long)t_resume);
    hv_free(hv);
    return 0;
}
