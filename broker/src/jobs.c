/*
 * jobs.c - a few worker threads for the calls that block (LDAP binds, pool actions that
 * reach libvirt), in the style of redis' bio.c.
 *
 * How it works. The loop thread pushes a job (work, done, arg) on the todo queue and
 * signals a condition variable. A worker pops it, runs work(arg) with no loop state in
 * reach, pushes the job on the done queue and calls wake() (lws_cancel_service() in the
 * daemon), which makes the loop wake up with LWS_CALLBACK_EVENT_WAIT_CANCELLED; the loop
 * then calls broker_jobs_drain(), which runs done(arg) on the loop thread, where it may
 * touch broker state and reply to the request. Both queues are FIFO lists guarded by one
 * mutex; a job is only ever owned by one queue or one thread at a time, so the job struct
 * needs no lock of its own. Shutdown lets the workers finish what was queued, then joins.
 */
#include <pthread.h>
#include <stdlib.h>

#include "broker_priv.h"
#include "common/mem.h"

struct job {
    broker_job_work_fn *work;
    broker_job_done_fn *done;
    void *arg;
    struct job *next;
};

struct jobq {
    struct job *head, *tail;
};

struct broker_jobs {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct jobq todo, done;
    bool stopping;
    int nworkers;
    pthread_t *threads;
    void (*wake)(void *);
    void *wake_arg;
    int pending; /* loop thread only */
};

static void
jobq_push(struct jobq *q, struct job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

static struct job *
jobq_pop(struct jobq *q)
{
    struct job *j = q->head;

    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
    }
    return j;
}

static void *
worker_main(void *opaque)
{
    struct broker_jobs *js = opaque;
    struct job *j;

    for (;;) {
        pthread_mutex_lock(&js->lock);
        while (!js->todo.head && !js->stopping)
            pthread_cond_wait(&js->cond, &js->lock);
        j = jobq_pop(&js->todo);
        pthread_mutex_unlock(&js->lock);
        if (!j)
            break; /* stopping and nothing left */
        if (j->work)
            j->work(j->arg);
        pthread_mutex_lock(&js->lock);
        jobq_push(&js->done, j);
        pthread_mutex_unlock(&js->lock);
        if (js->wake)
            js->wake(js->wake_arg);
    }
    return NULL;
}

struct broker_jobs *
broker_jobs_new(int nworkers, void (*wake)(void *), void *wake_arg)
{
    struct broker_jobs *js = pt_xcalloc(1, sizeof(*js));

    pthread_mutex_init(&js->lock, NULL);
    pthread_cond_init(&js->cond, NULL);
    js->wake = wake;
    js->wake_arg = wake_arg;
    js->threads = pt_xcalloc((size_t)nworkers, sizeof(pthread_t));
    for (int i = 0; i < nworkers; i++) {
        if (pthread_create(&js->threads[i], NULL, worker_main, js) != 0)
            pt_fatal("%s: cannot start worker %d", __func__, i);
        js->nworkers++;
    }
    return js;
}

void
broker_jobs_submit(struct broker_jobs *js, broker_job_work_fn *work, broker_job_done_fn *done,
                   void *arg)
{
    struct job *j = pt_xcalloc(1, sizeof(*j));

    j->work = work;
    j->done = done;
    j->arg = arg;
    js->pending++;
    pthread_mutex_lock(&js->lock);
    jobq_push(&js->todo, j);
    pthread_cond_signal(&js->cond);
    pthread_mutex_unlock(&js->lock);
}

int
broker_jobs_drain(struct broker_jobs *js)
{
    struct job *list, *j;
    int n = 0;

    /* Take the whole list at once so completions that submit new jobs cannot starve us. */
    pthread_mutex_lock(&js->lock);
    list = js->done.head;
    js->done.head = js->done.tail = NULL;
    pthread_mutex_unlock(&js->lock);
    while ((j = list)) {
        list = j->next;
        js->pending--;
        if (j->done)
            j->done(j->arg);
        free(j);
        n++;
    }
    return n;
}

int
broker_jobs_pending(const struct broker_jobs *js)
{
    return js->pending;
}

void
broker_jobs_free(struct broker_jobs *js)
{
    if (!js)
        return;
    pthread_mutex_lock(&js->lock);
    js->stopping = true;
    pthread_cond_broadcast(&js->cond);
    pthread_mutex_unlock(&js->lock);
    for (int i = 0; i < js->nworkers; i++)
        pthread_join(js->threads[i], NULL);
    broker_jobs_drain(js);
    pthread_mutex_destroy(&js->lock);
    pthread_cond_destroy(&js->cond);
    free(js->threads);
    free(js);
}
