/*
 * mem.h - allocation that aborts on exhaustion, overflow-checked sizes, secret wiping.
 *
 * Out of memory is not a condition we recover from (redis, libvirt, h2o agree), so
 * these never return NULL. Sizes that come from the network must be bounded by the
 * caller *before* they reach these functions.
 */
#ifndef PT_COMMON_MEM_H
#define PT_COMMON_MEM_H

#include <stddef.h>

void *pt_xmalloc(size_t size);
void *pt_xcalloc(size_t nmemb, size_t size); /* aborts if nmemb * size overflows */
void *pt_xrealloc(void *ptr, size_t size);
void *pt_xreallocarray(void *ptr, size_t nmemb, size_t size);
char *pt_xstrdup(const char *s);
char *pt_xstrndup(const char *s, size_t n);
char *pt_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* pt_wipe() - zero @len bytes at @p in a way the compiler may not elide. NULL-safe. */
void pt_wipe(void *p, size_t len);

/* pt_free_secret() - wipe a NUL-terminated secret string, then free it. NULL-safe. */
void pt_free_secret(char *s);

/* pt_steal() - return *pp and clear it: makes an ownership move visible at the call. */
static inline void *
pt_steal_ptr(void **pp)
{
    void *p = *pp;
    *pp = NULL;
    return p;
}
#define pt_steal(pp) pt_steal_ptr((void **)(pp))

void pt_autofree_cleanup(void *pp);
void pt_autoclose_cleanup(int *fdp);
/* Scope cleanup for locals that are only freed; never for objects handed to a thread. */
#define PT_AUTOFREE  __attribute__((cleanup(pt_autofree_cleanup)))
#define PT_AUTOCLOSE __attribute__((cleanup(pt_autoclose_cleanup)))

#endif
