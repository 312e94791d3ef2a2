/*
 * gw_alloc.c - the allocator lws uses: the C library's, except for WebSocket receive
 * buffers, which get fresh pages, a place of their own on the heap, and are kept for the
 * next WebSocket when one closes.
 *
 * Why: every WebSocket gets a receive buffer of rx_buffer_size (64 KiB). lws hands data
 * frames to the callback straight from its per-loop read buffer and collects only control
 * frames (a browser's pong, a close) at the start of this one, so a tunnel touches at
 * most its first LWS_PRE + 125 bytes (measured: 64, 1,000 and 20,000-byte messages left
 * its pages untouched; an 8-byte pong wrote to its first page).
 *
 * 1. Fresh pages. malloc carves the buffer out of memory that earlier, short-lived
 *    allocations have touched (a TLS handshake's 16 KiB record buffers, certificate
 *    parsing), and those pages stayed resident for the tunnel's whole life: an idle wss
 *    tunnel cost ~30 KiB more than a ws one. So the whole pages inside a receive buffer
 *    are handed back to the kernel (MADV_DONTNEED: they read as zero and cost nothing
 *    until written).
 * 2. Placement. Left where malloc puts it, the buffer starts and ends inside pages it
 *    shares with other allocations: those pages are resident anyway, and the buffer's
 *    part of them (on average half a page at each end) is resident memory that holds
 *    nothing. rx_place() puts it so that only its first GW_RX_HEAD bytes (room for a
 *    control frame) share a page with what lies before it, and it ends on a page
 *    boundary. Page-aligning the start instead was no better: the first pong then wrote
 *    to a page of its own.
 * 3. Reuse. When a tunnel closes, free() merges its buffer with free neighbours, and the
 *    next buffer is served from such a merged block, misplaced (measured: over half of
 *    them after tunnels came and went). So placed buffers are kept on a stack and handed
 *    out first; gw_alloc_trim() (every 10 s) frees those that no WebSocket took since the
 *    previous call.
 *
 * Measured (BENCH_PROFILE=scale, 2,000 idle wss tunnels, RSS of the gateway): 21.6 ->
 * 17.8 KiB per tunnel fresh, also after a message or a pong on each; with half of the
 * tunnels closed and reopened three times, 21.7 -> 18.0 (20.5-20.8 with placement but no
 * reuse). Plain ws: 7.7 -> 4.2. (docs/gateway.md, "Memory per idle tunnel".)
 *
 * Placement leans on glibc's heap layout (a 16-byte header before each block; a block
 * shrunk with realloc() stays in place and what it gave up is free right behind it).
 * Where that does not hold the buffer lands wherever malloc puts it, as before:
 * correctness never depends on it, only the saving.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/mem.h"
#include "gw_priv.h"

/* Only the WebSocket receive buffers (lws 4.1.6 allocates them as "rx_ubuf"): not lws's
 * buffers for partial writes, which are filled at once and would only pay page faults
 * for fresh pages. */
#define GW_ALLOC_FRESH_REASON "rx_ubuf"
#define GW_ALLOC_FRESH_MIN    (16 * 1024)

/* The receive buffer's bytes that share a page with other allocations: lws collects a
 * control frame's payload (at most 125 bytes) after LWS_PRE bytes of padding. */
#define GW_RX_HEAD (LWS_PRE + 128)
/* glibc: the header in front of each block, and the smallest block. */
#define GW_CHUNK_HDR 16
#define GW_CHUNK_MIN 32

/* Placed receive buffers: every one in use or kept (an open-addressing set, to tell
 * them from lws's other blocks when lws frees one), and the kept ones, newest last. */
static struct {
    pthread_mutex_t lock;
    void **set;
    size_t set_cap, set_len;
    void **kept;
    size_t n_kept, kept_cap, kept_low; /* kept_low: fewest kept since the last trim */
    size_t span;                       /* the size of each (lws asks for one size) */
} rx = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uintptr_t page_size_v = 4096; /* set once, by gw_alloc_install() */

static uintptr_t
page_size(void)
{
    return page_size_v;
}

static void
drop_pages(void *p, size_t size)
{
    /* Once per large block (a WebSocket's receive buffer): the system call is cheap here. */
    uintptr_t page = page_size(), start = ((uintptr_t)p + page - 1) & ~(page - 1),
              end = ((uintptr_t)p + size) & ~(page - 1);

    if (end > start)
        (void)madvise((void *)start, end - start, MADV_DONTNEED);
}

/* A placed buffer's first GW_RX_HEAD bytes end on a page boundary: a cheap test before
 * the set, which only one in 256 of lws's other blocks passes. */
static bool
rx_aligned(const void *p)
{
    return ((uintptr_t)p + GW_RX_HEAD) % page_size() == 0;
}

static size_t
set_slot(const void *p, size_t cap)
{
    return (size_t)(((uintptr_t)p / 16) * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static bool
set_has(const void *p)
{
    if (!rx.set_cap)
        return false;
    for (size_t i = set_slot(p, rx.set_cap); rx.set[i]; i = (i + 1) & (rx.set_cap - 1))
        if (rx.set[i] == p)
            return true;
    return false;
}

static void
set_put(void *p)
{
    size_t i;

    if (2 * (rx.set_len + 1) > rx.set_cap) { /* at most half full */
        size_t old_cap = rx.set_cap, cap = old_cap ? 2 * old_cap : 1024;
        void **old = rx.set;

        rx.set = pt_xcalloc(cap, sizeof(*rx.set));
        rx.set_cap = cap;
        rx.set_len = 0;
        for (i = 0; i < old_cap; i++)
            if (old[i])
                set_put(old[i]);
        free(old);
    }
    for (i = set_slot(p, rx.set_cap); rx.set[i]; i = (i + 1) & (rx.set_cap - 1))
        ;
    rx.set[i] = p;
    rx.set_len++;
}

/* Linear probing without tombstones: the entries after the hole move up if their home
 * slot allows it. */
static void
set_del(const void *p)
{
    size_t mask = rx.set_cap - 1, i = set_slot(p, rx.set_cap), j;

    while (rx.set[i] != p)
        i = (i + 1) & mask;
    rx.set[i] = NULL;
    rx.set_len--;
    for (j = (i + 1) & mask; rx.set[j]; j = (j + 1) & mask) {
        size_t home = set_slot(rx.set[j], rx.set_cap);

        if (((j - home) & mask) >= ((j - i) & mask)) {
            rx.set[i] = rx.set[j];
            rx.set[j] = NULL;
            i = j;
        }
    }
}

/* A block of rx.span bytes whose first GW_RX_HEAD bytes end on a page boundary and whose
 * end is one too, so that it shares no page but the first with anything else. A spare
 * block is taken from where the heap would serve the buffer and shrunk in place so that
 * the buffer's block starts right behind it at the chosen address; then it is freed, and
 * other small allocations fill it. NULL if placing failed (the caller mallocs). */
static void *
rx_place(void)
{
    uintptr_t page = page_size(), c0, c;
    void *spare, *lead, *p;

    spare = malloc(rx.span + page + 2 * GW_CHUNK_MIN);
    if (!spare)
        return NULL;
    c0 = (uintptr_t)spare - GW_CHUNK_HDR;
    c = ((c0 + GW_CHUNK_MIN + GW_CHUNK_HDR + GW_RX_HEAD + page - 1) & ~(page - 1)) - GW_RX_HEAD -
        GW_CHUNK_HDR;
    lead = realloc(spare, c - c0 - GW_CHUNK_HDR); /* shrinks in place: the rest is free */
    if (!lead)
        lead = spare;
    /* A request of span bytes is a block of span + GW_CHUNK_HDR: it ends on a page. */
    p = malloc(rx.span);
    free(lead);
    if (p && !rx_aligned(p)) {
        free(p);
        p = NULL;
    }
    return p;
}

static void *
rx_get(size_t size)
{
    uintptr_t page = page_size();
    void *p = NULL;

    pthread_mutex_lock(&rx.lock);
    if (!rx.span)
        rx.span = GW_RX_HEAD + ((size - GW_RX_HEAD + page - 1) & ~(page - 1));
    if (size <= rx.span) {
        if (rx.n_kept) {
            p = rx.kept[--rx.n_kept];
            if (rx.n_kept < rx.kept_low)
                rx.kept_low = rx.n_kept;
        } else {
            p = rx_place();
            if (p) {
                set_put(p);
                drop_pages((char *)p + GW_RX_HEAD, rx.span - GW_RX_HEAD);
            }
        }
    }
    pthread_mutex_unlock(&rx.lock);
    if (!p) { /* not placed (or an odd size): where malloc has it, fresh pages inside */
        p = malloc(size);
        if (p)
            drop_pages(p, size);
    }
    return p;
}

/* Whether @p is a placed buffer; if so it is kept (its pages given back) for the next. */
static bool
rx_put(void *p)
{
    bool mine;

    if (!p || !rx_aligned(p))
        return false;
    pthread_mutex_lock(&rx.lock);
    mine = set_has(p);
    if (mine) {
        if (rx.n_kept == rx.kept_cap) {
            rx.kept_cap = rx.kept_cap ? 2 * rx.kept_cap : 256;
            rx.kept = pt_xrealloc(rx.kept, rx.kept_cap * sizeof(*rx.kept));
        }
        rx.kept[rx.n_kept++] = p;
        drop_pages((char *)p + GW_RX_HEAD, rx.span - GW_RX_HEAD);
    }
    pthread_mutex_unlock(&rx.lock);
    return mine;
}

void
gw_alloc_trim(void)
{
    size_t n;

    pthread_mutex_lock(&rx.lock);
    /* The oldest kept_low were not taken since the last call: free them. */
    n = rx.kept_low;
    for (size_t i = 0; i < n; i++) {
        set_del(rx.kept[i]);
        free(rx.kept[i]);
    }
    if (n) {
        memmove(rx.kept, rx.kept + n, (rx.n_kept - n) * sizeof(*rx.kept));
        rx.n_kept -= n;
    }
    rx.kept_low = rx.n_kept;
    pthread_mutex_unlock(&rx.lock);
}

static void *
lws_alloc(void *ptr, size_t size, const char *reason)
{
    void *p;

    if (!size) {
        if (!rx_put(ptr))
            free(ptr);
        return NULL;
    }
    if (!ptr && size >= GW_ALLOC_FRESH_MIN && reason && strcmp(reason, GW_ALLOC_FRESH_REASON) == 0)
        return rx_get(size);
    if (ptr && rx_aligned(ptr)) { /* lws does not resize its receive buffers; if it did */
        pthread_mutex_lock(&rx.lock);
        bool mine = set_has(ptr);
        size_t span = rx.span;
        pthread_mutex_unlock(&rx.lock);
        if (mine) {
            p = malloc(size);
            if (!p)
                return NULL;
            memcpy(p, ptr, size < span ? size : span);
            rx_put(ptr);
            return p;
        }
    }
    return realloc(ptr, size);
}

void
gw_alloc_install(void)
{
    long ps = sysconf(_SC_PAGESIZE);

    if (ps > 0)
        page_size_v = (uintptr_t)ps;
    lws_set_allocator(lws_alloc);
}
