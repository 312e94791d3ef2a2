/*
 * shm.h - memory shared with processes forked later, and the robust mutex that guards it
 * (the gateway's workers share a ticket ledger and an address table this way).
 */
#ifndef PT_COMMON_SHM_H
#define PT_COMMON_SHM_H

#include <pthread.h>
#include <stddef.h>

#include "common/err.h"

/* pt_shm_map() - @bytes of zeroed memory (MAP_SHARED | MAP_ANONYMOUS) that processes
 * forked after this call share; pages cost nothing until touched. Release each process's
 * view with munmap(). NULL with @err (PT_E_LIMIT) naming @what. */
void *pt_shm_map(size_t bytes, const char *what, struct pt_err *err);
/* pt_shm_mutex_init() - a process-shared, robust mutex in such memory. */
void pt_shm_mutex_init(pthread_mutex_t *m);
/* pt_shm_mutex_lock() - lock @m; if a process died holding it, log that (naming @what)
 * and make it consistent: what it guards is kept as the dead holder left it, which the
 * callers' updates (single stores under the lock) tolerate. */
void pt_shm_mutex_lock(pthread_mutex_t *m, const char *what);

#endif
