/*
 * gw_shared.c - what a gateway's worker processes (`workers = N`) must agree on, in one
 * MAP_SHARED anonymous mapping the supervisor makes before it forks them:
 *
 *  - the ticket ledger (auth_ledger_new_shared(): its own mapping and lock), so a ticket's
 *    max_conns is counted once, not once per worker;
 *  - connections per source address: an open-addressing table whose entries keep one
 *    count per worker, so the supervisor can drop a dead worker's share (its tunnels died
 *    with it) without knowing which addresses it held;
 *  - each worker's metrics, copied into its slot on every loop tick (200 ms) under a
 *    sequence counter, so /metrics, answered by whichever worker the kernel hands the
 *    request to, sums all of them; a dead worker's counters are folded into `retired`
 *    (totals stay monotonic) and its gauges dropped;
 *  - each worker's tunnel count, for max_tunnels across the gateway (as fresh as a tick).
 *
 * The address table is guarded by a process-shared robust mutex: a worker that dies
 * holding it leaves at worst one half-updated entry, which the supervisor's reset of that
 * worker's column then cleans. Single process (workers = 1): none of this exists.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/shm.h"
#include "common/str.h"
#include "gw_priv.h"
#include "rdp.h" /* struct gw_rdp_metrics only */

struct addr_entry {
    char addr[64]; /* "" = empty slot */
    int32_t count[GW_WORKERS_MAX];
};

struct worker_slot {
    atomic_uint seq; /* odd while the worker writes */
    atomic_int tunnels;
    struct gw_metrics m;
    struct gw_rdp_metrics rdp;
};

struct shared_hdr {
    pthread_mutex_t lock; /* the address table and `retired` */
    int workers;
    size_t addr_cap, addr_count;
    struct gw_metrics retired;
    struct gw_rdp_metrics retired_rdp;
    struct worker_slot slot[GW_WORKERS_MAX];
    struct addr_entry addrs[];
};

struct gw_shared {
    struct shared_hdr *h;
    size_t bytes;
    struct auth_ledger *ledger;
};

struct gw_shared *
gw_shared_new(int workers, int max_tunnels, struct pt_err *err)
{
    size_t cap = 64, bytes;
    struct gw_shared *s;
    void *m;

    if (workers < 1 || workers > GW_WORKERS_MAX) {
        pt_err_set(err, PT_E_INVALID, "workers must be 1..%d", GW_WORKERS_MAX);
        return NULL;
    }
    while (cap < 2 * (size_t)max_tunnels + 2 * GW_WORKERS_MAX)
        cap *= 2;
    bytes = sizeof(struct shared_hdr) + cap * sizeof(struct addr_entry);
    m = pt_shm_map(bytes, "the state the workers share", err);
    if (!m)
        return NULL;
    s = pt_xcalloc(1, sizeof(*s));
    s->h = m;
    s->bytes = bytes;
    s->h->workers = workers;
    s->h->addr_cap = cap;
    pt_shm_mutex_init(&s->h->lock);
    s->ledger = auth_ledger_new_shared((size_t)max_tunnels * 4 + 1024, err);
    if (!s->ledger) {
        gw_shared_free(s);
        return NULL;
    }
    return s;
}

void
gw_shared_free(struct gw_shared *s)
{
    if (!s)
        return;
    auth_ledger_free(s->ledger);
    munmap(s->h, s->bytes); /* this process's view only */
    free(s);
}

struct auth_ledger *
gw_shared_ledger(struct gw_shared *s)
{
    return s->ledger;
}

static void
shared_lock(struct gw_shared *s)
{
    pt_shm_mutex_lock(&s->h->lock, "the workers' address table");
}

/* ---- connections per source address ---------------------------------------------------- */

static size_t
addr_home(const struct shared_hdr *h, const char *s)
{
    uint64_t x = 1469598103934665603ull; /* FNV-1a */

    for (; *s; s++)
        x = (x ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)x & (h->addr_cap - 1);
}

static size_t
addr_find(const struct shared_hdr *h, const char *addr)
{
    size_t i = addr_home(h, addr);

    while (h->addrs[i].addr[0] && strcmp(h->addrs[i].addr, addr) != 0)
        i = (i + 1) & (h->addr_cap - 1);
    return i;
}

static int
addr_total(const struct shared_hdr *h, const struct addr_entry *e)
{
    int n = 0;

    for (int w = 0; w < h->workers; w++)
        n += e->count[w];
    return n;
}

/* Linear probing's deletion: pull later entries of the same run back into the hole. */
static void
addr_remove(struct shared_hdr *h, size_t i)
{
    size_t mask = h->addr_cap - 1, j = i;

    for (;;) {
        j = (j + 1) & mask;
        if (!h->addrs[j].addr[0])
            break;
        size_t k = addr_home(h, h->addrs[j].addr);
        /* Entry j may move to i unless its home k lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            h->addrs[i] = h->addrs[j];
            i = j;
        }
    }
    memset(&h->addrs[i], 0, sizeof(h->addrs[i]));
    h->addr_count--;
}

int
gw_shared_addr_acquire(struct gw_shared *s, int worker, const char *addr, int limit)
{
    struct shared_hdr *h = s->h;
    int rc = -1;

    shared_lock(s);
    size_t i = addr_find(h, addr);
    struct addr_entry *e = &h->addrs[i];
    if (!e->addr[0]) {
        if (h->addr_count + 1 >= h->addr_cap / 2)
            goto out; /* more addresses than tunnels can exist: refuse, never overflow */
        pt_strlcpy(e->addr, addr, sizeof(e->addr));
        h->addr_count++;
    }
    int total = addr_total(h, e);
    if (total >= limit)
        goto out;
    e->count[worker]++;
    rc = total + 1;
out:
    pthread_mutex_unlock(&h->lock);
    return rc;
}

void
gw_shared_addr_release(struct gw_shared *s, int worker, const char *addr)
{
    struct shared_hdr *h = s->h;

    shared_lock(s);
    size_t i = addr_find(h, addr);
    if (h->addrs[i].addr[0] && h->addrs[i].count[worker] > 0) {
        h->addrs[i].count[worker]--;
        if (addr_total(h, &h->addrs[i]) == 0)
            addr_remove(h, i);
    }
    pthread_mutex_unlock(&h->lock);
}

int
gw_shared_addr_count(struct gw_shared *s, const char *addr)
{
    struct shared_hdr *h = s->h;
    int n = 0;

    shared_lock(s);
    size_t i = addr_find(h, addr);
    if (h->addrs[i].addr[0])
        n = addr_total(h, &h->addrs[i]);
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* ---- metrics and tunnel counts ------------------------------------------------------- */

/* @to += @from; gauges too unless @counters_only (a dead worker's gauges died with it). */
static void
metrics_add(struct gw_metrics *to, const struct gw_metrics *from, bool counters_only)
{
    for (int p = 0; p < 3; p++) {
        to->tunnels_total[p] += from->tunnels_total[p];
        to->bytes_down[p] += from->bytes_down[p];
        to->bytes_up[p] += from->bytes_up[p];
        if (!counters_only)
            to->tunnels_open[p] += from->tunnels_open[p];
    }
    for (int r = 0; r < GW_REFUSE_COUNT_; r++)
        to->refusals[r] += from->refusals[r];
    to->backpressure_pauses += from->backpressure_pauses;
    to->reports_sent += from->reports_sent;
    to->reports_failed += from->reports_failed;
    to->reports_dropped += from->reports_dropped;
    to->reloads_ok += from->reloads_ok;
    to->reloads_failed += from->reloads_failed;
    if (!counters_only) {
        to->queue_down_bytes += from->queue_down_bytes;
        to->queue_up_bytes += from->queue_up_bytes;
        to->reports_pending += from->reports_pending;
    }
    if (from->started_ms && (!to->started_ms || from->started_ms < to->started_ms))
        to->started_ms = from->started_ms;
}

/* Every field is summed except the gauges (dropped with @counters_only) and the worst lag
 * (a maximum). A new field in struct gw_rdp_metrics breaks the size check: add it here. */
static void
rdp_add(struct gw_rdp_metrics *to, const struct gw_rdp_metrics *from, bool counters_only)
{
    _Static_assert(sizeof(struct gw_rdp_metrics) ==
                       (12 + GW_RDP_ENCODE_BUCKETS) * sizeof(unsigned long long) +
                           sizeof(long long),
                   "struct gw_rdp_metrics changed: update rdp_add()");
    to->frames += from->frames;
    to->frames_held += from->frames_held;
    to->bytes += from->bytes;
    to->changed_px += from->changed_px;
    to->encode_us += from->encode_us;
    for (int i = 0; i < GW_RDP_ENCODE_BUCKETS; i++)
        to->encode_hist[i] += from->encode_hist[i];
    to->sessions_failed += from->sessions_failed;
    to->audio_streams += from->audio_streams;
    to->audio_bytes += from->audio_bytes;
    to->audio_drops += from->audio_drops;
    to->channel_retries += from->channel_retries;
    if (!counters_only) {
        to->sessions_connecting += from->sessions_connecting;
        to->sessions_connected += from->sessions_connected;
    }
    if (from->lag_ms_max > to->lag_ms_max)
        to->lag_ms_max = from->lag_ms_max;
}

void
gw_shared_publish(struct gw_shared *s, int worker, const struct gw_metrics *m,
                  const struct gw_rdp_metrics *rdp, int tunnels)
{
    struct worker_slot *w = &s->h->slot[worker];

    atomic_store_explicit(&w->tunnels, tunnels, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->seq, 1, memory_order_acq_rel); /* odd: writing */
    atomic_thread_fence(memory_order_release);
    w->m = *m;
    if (rdp)
        w->rdp = *rdp;
    atomic_thread_fence(memory_order_release);
    atomic_fetch_add_explicit(&w->seq, 1, memory_order_release); /* even: done */
}

/* A consistent copy of a slot. Bounded: a worker killed in the middle of its copy leaves
 * the sequence odd for good, and then a torn copy (until the supervisor resets the slot)
 * beats waiting for ever. */
static void
slot_read(struct worker_slot *w, struct gw_metrics *m, struct gw_rdp_metrics *rdp)
{
    for (int tries = 0; tries < 1000; tries++) {
        unsigned a = atomic_load_explicit(&w->seq, memory_order_acquire);
        if (a & 1)
            continue;
        *m = w->m;
        *rdp = w->rdp;
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&w->seq, memory_order_relaxed) == a)
            return;
    }
    *m = w->m;
    *rdp = w->rdp;
}

void
gw_shared_sum(struct gw_shared *s, int worker, const struct gw_metrics *own,
              const struct gw_rdp_metrics *own_rdp, struct gw_metrics *out,
              struct gw_rdp_metrics *out_rdp)
{
    struct shared_hdr *h = s->h;
    struct gw_metrics m;
    struct gw_rdp_metrics r;

    memset(out, 0, sizeof(*out));
    memset(out_rdp, 0, sizeof(*out_rdp));
    shared_lock(s);
    metrics_add(out, &h->retired, true);
    rdp_add(out_rdp, &h->retired_rdp, true);
    pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < h->workers; i++) {
        if (i == worker) {
            metrics_add(out, own, false);
            if (own_rdp)
                rdp_add(out_rdp, own_rdp, false);
            continue;
        }
        slot_read(&h->slot[i], &m, &r);
        metrics_add(out, &m, false);
        rdp_add(out_rdp, &r, false);
    }
}

int
gw_shared_tunnels(struct gw_shared *s, int worker, int own)
{
    int n = own;

    for (int i = 0; i < s->h->workers; i++)
        if (i != worker)
            n += atomic_load_explicit(&s->h->slot[i].tunnels, memory_order_relaxed);
    return n;
}

void
gw_shared_worker_gone(struct gw_shared *s, int worker)
{
    struct shared_hdr *h = s->h;
    struct worker_slot *w = &h->slot[worker];
    struct gw_metrics m;
    struct gw_rdp_metrics r;
    struct addr_entry *live;
    size_t n = 0;

    /* The worker is reaped: nobody writes its slot any more. */
    m = w->m;
    r = w->rdp;
    shared_lock(s);
    metrics_add(&h->retired, &m, true);
    rdp_add(&h->retired_rdp, &r, true);
    memset(&w->m, 0, sizeof(w->m));
    memset(&w->rdp, 0, sizeof(w->rdp));
    atomic_store(&w->tunnels, 0);
    atomic_store(&w->seq, 0);
    /* Its column of the address table goes; rebuild what is left (rare: O(table)). */
    live = pt_xreallocarray(NULL, h->addr_count ? h->addr_count : 1, sizeof(*live));
    for (size_t i = 0, seen = 0; i < h->addr_cap && seen < h->addr_count; i++) {
        if (!h->addrs[i].addr[0])
            continue;
        seen++;
        h->addrs[i].count[worker] = 0;
        if (addr_total(h, &h->addrs[i]) > 0)
            live[n++] = h->addrs[i];
        /* entry by entry: a memset of the whole table would make every page resident */
        memset(&h->addrs[i], 0, sizeof(h->addrs[i]));
    }
    for (size_t i = 0; i < n; i++)
        h->addrs[addr_find(h, live[i].addr)] = live[i];
    h->addr_count = n;
    pthread_mutex_unlock(&h->lock);
    free(live);
}
