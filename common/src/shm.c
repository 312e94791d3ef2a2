/*
 * shm.c - shared memory and robust process-shared mutexes (see shm.h).
 */
#include "common/shm.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"

void *
pt_shm_map(size_t bytes, const char *what, struct pt_err *err)
{
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (m == MAP_FAILED) {
        pt_err_set(err, PT_E_LIMIT, "cannot map %zu bytes for %s: %s", bytes, what,
                   strerror(errno));
        return NULL;
    }
    return m;
}

void
pt_shm_mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t ma;

    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(m, &ma);
    pthread_mutexattr_destroy(&ma);
}

void
pt_shm_mutex_lock(pthread_mutex_t *m, const char *what)
{
    if (pthread_mutex_lock(m) == EOWNERDEAD) {
        pt_log(LOG_WARNING, "event=shared_owner_died a process died holding %s; it stays in use",
               what);
        pthread_mutex_consistent(m);
    }
}
