/*
 * mem.c - aborting allocators. Abort with a message rather than return NULL: every
 * caller would otherwise need an error path that is never tested.
 */
#include "common/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((noreturn)) oom(size_t size)
{
    fprintf(stderr, "portico: out of memory allocating %zu bytes\n", size);
    abort();
}

void *
pt_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        oom(size);
    return p;
}

void *
pt_xcalloc(size_t nmemb, size_t size)
{
    void *p;

    if (size && nmemb > ((size_t)-1) / size)
        oom((size_t)-1);
    p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *
pt_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (!p)
        oom(size);
    return p;
}

void *
pt_xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size && nmemb > ((size_t)-1) / size)
        oom((size_t)-1);
    return pt_xrealloc(ptr, nmemb * size);
}

char *
pt_xstrdup(const char *s)
{
    char *p = strdup(s);

    if (!p)
        oom(strlen(s) + 1);
    return p;
}

char *
pt_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);

    if (!p)
        oom(n + 1);
    return p;
}

char *
pt_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return s;
}

void
pt_wipe(void *p, size_t len)
{
    if (p)
        explicit_bzero(p, len);
}

void
pt_free_secret(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void
pt_autofree_cleanup(void *pp)
{
    void **p = pp;

    free(*p);
    *p = NULL;
}

void
pt_autoclose_cleanup(int *fdp)
{
    if (*fdp >= 0)
        close(*fdp);
    *fdp = -1;
}
