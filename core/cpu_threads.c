/* Thread pool of the CPU backend and the monotonic clock.
 *
 * Workers are created once and sleep on a condition variable between jobs. A job is one
 * ww_threads_parallel_for call: its items are handed out in small chunks from an atomic counter
 * (so uneven items balance out) and the calling thread takes chunks too.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ww_internal.h"

/* More threads than this is a caller error, not a machine. */
#define MAX_THREADS 1024
/* Some C libraries give new threads small stacks (musl: 128 KiB); workers also run BLAS calls,
 * whose stack use is not ours to bound. */
#define MIN_STACK_BYTES ((size_t)1 << 20)

struct ww_threads {
    int nthreads; /* workers + the calling thread */
    pthread_t *workers;
    int nworkers;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* a new job or stop */
    pthread_cond_t done; /* the last worker left the job */
    uint64_t generation; /* incremented per job; workers run each generation once */
    int pending;         /* workers that have not finished the current job */
    int stop;

    /* Held for the whole of a job: a parallel_for issued while another runs (a nested call from
     * inside fn, or a second thread) cannot take it and runs serially instead of deadlocking. */
    pthread_mutex_t busy;

    /* The current job; written under mu before generation moves. */
    void (*fn)(int64_t i, void *user);
    void *user;
    int64_t n, chunk;
    atomic_int_fast64_t next;
};

static void run_items(ww_threads *t)
{
    for (;;) {
        int64_t i0 = (int64_t)atomic_fetch_add_explicit(&t->next, t->chunk, memory_order_relaxed);
        if (i0 >= t->n)
            return;
        int64_t i1 = i0 + t->chunk < t->n ? i0 + t->chunk : t->n;
        for (int64_t i = i0; i < i1; i++)
            t->fn(i, t->user);
    }
}

static void *worker_main(void *arg)
{
    ww_threads *t = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (t->generation == seen && !t->stop)
            pthread_cond_wait(&t->wake, &t->mu);
        if (t->stop)
            break;
        seen = t->generation;
        pthread_mutex_unlock(&t->mu);
        run_items(t);
        pthread_mutex_lock(&t->mu);
        if (--t->pending == 0)
            pthread_cond_signal(&t->done);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static void stop_workers(ww_threads *t, int started)
{
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < started; i++)
        pthread_join(t->workers[i], NULL);
}

ww_status ww_threads_create(int nthreads, ww_threads **out)
{
    if (!out)
        return WW_ERR_INVALID;
    *out = NULL;
    if (nthreads <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = online > 0 ? (online < MAX_THREADS ? (int)online : MAX_THREADS) : 1;
    }
    if (nthreads > MAX_THREADS)
        return WW_ERR_INVALID;

    ww_threads *t = calloc(1, sizeof(*t));
    if (!t)
        return WW_ERR_OUT_OF_MEMORY;
    t->nthreads = nthreads;
    t->nworkers = nthreads - 1;
    atomic_init(&t->next, 0);
    if (t->nworkers > 0) {
        t->workers = calloc((size_t)t->nworkers, sizeof(*t->workers));
        if (!t->workers)
            goto fail_mu;
    }
    if (pthread_mutex_init(&t->mu, NULL) != 0)
        goto fail_mu;
    if (pthread_mutex_init(&t->busy, NULL) != 0)
        goto fail_busy;
    if (pthread_cond_init(&t->wake, NULL) != 0)
        goto fail_wake;
    if (pthread_cond_init(&t->done, NULL) != 0)
        goto fail_done;

    pthread_attr_t attr;
    int have_attr = pthread_attr_init(&attr) == 0;
    if (have_attr) {
        size_t stack = 0;
        if (pthread_attr_getstacksize(&attr, &stack) == 0 && stack < MIN_STACK_BYTES)
            pthread_attr_setstacksize(&attr, MIN_STACK_BYTES);
    }
    int started = 0;
    for (; started < t->nworkers; started++) {
        if (pthread_create(&t->workers[started], have_attr ? &attr : NULL, worker_main, t) != 0)
            break;
    }
    if (have_attr)
        pthread_attr_destroy(&attr);
    if (started < t->nworkers) {
        /* pthread_create only fails for lack of resources (EAGAIN) or memory. */
        t->nworkers = started;
        ww_threads_destroy(t);
        return WW_ERR_OUT_OF_MEMORY;
    }
    *out = t;
    return WW_OK;

fail_done:
    pthread_cond_destroy(&t->wake);
fail_wake:
    pthread_mutex_destroy(&t->busy);
fail_busy:
    pthread_mutex_destroy(&t->mu);
fail_mu:
    free(t->workers);
    free(t);
    return WW_ERR_OUT_OF_MEMORY;
}

void ww_threads_destroy(ww_threads *t)
{
    if (!t)
        return;
    stop_workers(t, t->nworkers);
    pthread_cond_destroy(&t->done);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->busy);
    pthread_mutex_destroy(&t->mu);
    free(t->workers);
    free(t);
}

int ww_threads_count(const ww_threads *t)
{
    return t ? t->nthreads : 1;
}

void ww_threads_parallel_for(ww_threads *t, int64_t n, void (*fn)(int64_t i, void *user),
                             void *user)
{
    if (n <= 0)
        return;
    if (!t || t->nworkers == 0 || n == 1 || pthread_mutex_trylock(&t->busy) != 0) {
        for (int64_t i = 0; i < n; i++)
            fn(i, user);
        return;
    }
    /* Chunks small enough that the last ones even out uneven items, large enough that the
     * shared counter is not touched per item when items are tiny. */
    int64_t chunk = n / ((int64_t)t->nthreads * 32);

    pthread_mutex_lock(&t->mu);
    t->fn = fn;
    t->user = user;
    t->n = n;
    t->chunk = chunk > 0 ? chunk : 1;
    atomic_store_explicit(&t->next, 0, memory_order_relaxed);
    t->pending = t->nworkers;
    t->generation++;
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->mu);

    run_items(t);

    pthread_mutex_lock(&t->mu);
    while (t->pending > 0)
        pthread_cond_wait(&t->done, &t->mu);
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_unlock(&t->busy);
}

double ww_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

typedef struct range_job {
    ww_range_fn fn;
    const void *ctx;
    int64_t n, grain;
} range_job;

static void range_task(int64_t t, void *user)
{
    const range_job *j = user;
    int64_t i0 = t * j->grain, i1 = i0 + j->grain;
    j->fn(j->ctx, i0, i1 < j->n ? i1 : j->n);
}

void ww_parallel_ranges(ww_threads *pool, int64_t n, int64_t cost, ww_range_fn fn, const void *ctx)
{
    if (n <= 0)
        return;
    int64_t grain = 65536 / (cost > 1 ? cost : 1);
    range_job j = {fn, ctx, n, grain > 1 ? grain : 1};
    ww_threads_parallel_for(pool, (n + j.grain - 1) / j.grain, range_task, &j);
}
