/*
 * gw_alloc.c - the allocator lws uses: the C library's, except that WebSocket receive
 * buffers get fresh pages.
 *
 * Why: every WebSocket gets a receive buffer of rx_buffer_size (64 KiB) that lws reads
 * into only for control frames; an idle tunnel touches one page of it. But malloc carves
 * it out of memory that earlier, short-lived allocations have touched (a TLS handshake's
 * 16 KiB record buffers, certificate parsing), and those pages stay resident for the
 * tunnel's whole life: measured, an idle wss tunnel cost ~30 KiB more than a ws one. So
 * the whole pages inside a new receive buffer are handed back to the kernel at once
 * (MADV_DONTNEED: they read as zero and cost nothing until written). malloc's own
 * headers sit outside those pages and are untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gw_priv.h"

/* Only the WebSocket receive buffers (lws 4.1.6 allocates them as "rx_ubuf"): not lws's
 * buffers for partial writes, which are filled at once and would only pay page faults
 * for fresh pages. */
#define GW_ALLOC_FRESH_REASON "rx_ubuf"
#define GW_ALLOC_FRESH_MIN    (16 * 1024)

static void
drop_pages(void *p, size_t size)
{
    /* Once per large block (a WebSocket's receive buffer): the system call is cheap here. */
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096, start = ((uintptr_t)p + page - 1) & ~(page - 1),
              end = ((uintptr_t)p + size) & ~(page - 1);

    if (end > start)
        (void)madvise((void *)start, end - start, MADV_DONTNEED);
}

static void *
lws_alloc(void *ptr, size_t size, const char *reason)
{
    void *p;

    if (!size) {
        free(ptr);
        return NULL;
    }
    p = realloc(ptr, size);
    if (p && !ptr && size >= GW_ALLOC_FRESH_MIN && reason &&
        strcmp(reason, GW_ALLOC_FRESH_REASON) == 0)
        drop_pages(p, size);
    return p;
}

void
gw_alloc_install(void)
{
    lws_set_allocator(lws_alloc);
}
