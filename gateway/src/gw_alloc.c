/*
 * gw_alloc.c - the allocator lws uses: the C library's, except that a large block gets
 * fresh pages.
 *
 * Why: every WebSocket gets a receive buffer of rx_buffer_size (64 KiB) that lws reads
 * into only for control frames; an idle tunnel touches one page of it. But malloc carves
 * it out of memory that earlier, short-lived allocations have touched (a TLS handshake's
 * 16 KiB record buffers, certificate parsing), and those pages stay resident for the
 * tunnel's whole life: measured, an idle wss tunnel cost ~30 KiB more than a ws one. So
 * the whole pages inside a new large block are handed back to the kernel at once
 * (MADV_DONTNEED: they read as zero and cost nothing until written). malloc's own
 * headers sit outside those pages and are untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gw_priv.h"

/* Blocks from this size up get fresh pages: the WebSocket receive buffers, never the
 * small per-connection structs. */
#define GW_ALLOC_FRESH_MIN (32 * 1024)

static void
drop_pages(void *p, size_t size)
{
    uintptr_t page = 4096, start = ((uintptr_t)p + page - 1) & ~(page - 1),
              end = ((uintptr_t)p + size) & ~(page - 1);

    if (end > start)
        (void)madvise((void *)start, end - start, MADV_DONTNEED);
}

static void *
lws_alloc(void *ptr, size_t size, const char *reason)
{
    void *p;

    (void)reason;
    if (!size) {
        free(ptr);
        return NULL;
    }
    p = realloc(ptr, size);
    if (p && !ptr && size >= GW_ALLOC_FRESH_MIN)
        drop_pages(p, size);
    return p;
}

void
gw_alloc_install(void)
{
    lws_set_allocator(lws_alloc);
}
