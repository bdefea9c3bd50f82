/* The loader's worker pool (see loader.h).
 *
 * A ring of prefetch + 1 slots each owns one micro-batch's arrays. A slot is given a position,
 * its samples are handed out one at a time to the workers (the lowest position first, so the
 * batch the trainer needs next is finished first), and the worker that returns the last sample
 * assembles the batch. Work goes by sample rather than by batch so that a batch of B samples is
 * ready B workers sooner, and a small batch still keeps many workers busy.
 */
#include "loader.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_error.h"

#define MAX_THREADS 256
#define MAX_DEFAULT_PREFETCH 8 /* each slot holds a whole micro-batch (100 MiB at 1080p flow) */
/* Some C libraries give new threads small stacks (musl: 128 KiB); image decoders want more. */
#define MIN_STACK_BYTES ((size_t)1 << 20)

enum { MSG_LEN = 1024 };

/* Salts keeping a sample's streams apart: its dataset seed is its key itself. */
#define AUGMENT_SALT 0xa5a5a5a5a5a5a5a5ull
#define WINDOWS_PLACE (-1) /* the "sample" whose key seeds a batch's windows */

typedef enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HELD } slot_state;

typedef struct slot {
    slot_state state;
    int64_t position;
    int next;         /* the next sample to hand out; spec.batch: all handed out */
    int working;      /* workers holding one of its samples, or assembling it */
    int cancelled;    /* its position was dropped: free it once nobody works on it */
    int skipped;
    ww_status status; /* the first failure among its samples */
    char err[MSG_LEN];
    ww_sample *samples;
    ww_loader_batch batch;
} slot;

struct ww_loader {
    ww_loader_config c;
    ww_augment augment;
    int64_t size; /* of the dataset */
    int nslots, prefetch, nthreads;
    slot *slots;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_mutex_t warn_mu; /* one warning at a time, without holding mu through the callback */
    pthread_cond_t work;     /* a sample to load, or stop */
    pthread_cond_t ready;    /* a slot became ready */
    int locks;               /* how many of the four above exist */
    int stop;
    int64_t next_position;   /* the position the next free slot gets */
    int64_t last_position;   /* positions up to this one may be prepared */
    int64_t skipped;
    slot *held;              /* the trainer's batch */
};

/* splitmix64's finaliser: nearby inputs give unrelated outputs. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Place b of the batch at `position`, after `attempt` failures there. */
static uint64_t sample_key(uint64_t seed, int64_t position, int b, int attempt)
{
    return mix(mix(mix(mix(seed) ^ (uint64_t)position) ^ (uint64_t)(int64_t)b) ^
               (uint64_t)attempt);
}

static void warn(ww_loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(ww_loader *l, const char *fmt, ...)
{
    if (!l->c.warn)
        return;
    char msg[2 * MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&l->warn_mu);
    l->c.warn(l->c.user, msg);
    pthread_mutex_unlock(&l->warn_mu);
}

/* ---- One sample (a worker, without the lock) ------------------------------------------------- */

/* out = the batch's sample b at position: augmented, or checked against the spec's size. */
static ww_status load_sample(ww_loader *l, int64_t position, int b, ww_sample *out,
                             int *skipped, char *err, size_t errlen)
{
    const ww_batch_spec *spec = &l->c.spec;
    char msg[MSG_LEN] = "";
    ww_status st = WW_OK;
    for (int attempt = 0; attempt < WW_LOADER_ATTEMPTS; attempt++) {
        uint64_t key = sample_key(l->c.seed, position, b, attempt);
        int64_t index = (int64_t)(key % (uint64_t)l->size);
        ww_sample raw;
        st = ww_dataset_get(l->c.data, index, key, &raw, msg, sizeof msg);
        if (st == WW_OK && l->c.augment) {
            ww_rng r;
            ww_rng_seed(&r, key ^ AUGMENT_SALT);
            st = ww_augment_apply(l->c.augment, spec->task, &raw, &r, out, err, errlen);
            ww_sample_free(&raw);
            return st;
        }
        if (st == WW_OK && (raw.width != spec->width || raw.height != spec->height)) {
            st = ww_train_error(err, errlen, WW_ERR_INVALID,
                                "loader: sample %lld is %dx%d, the batch %dx%d (without "
                                "augmentation the dataset must give the batch's size)",
                                (long long)index, raw.width, raw.height, spec->width,
                                spec->height);
            ww_sample_free(&raw);
            return st;
        }
        if (st == WW_OK) {
            *out = raw;
            return WW_OK;
        }
        if (st == WW_ERR_OUT_OF_MEMORY)
            return ww_train_error(err, errlen, st, "loader: sample %lld: %s", (long long)index,
                                  msg);
        ++*skipped;
        warn(l, "skipping sample %lld (position %lld, place %d): %s", (long long)index,
             (long long)position, b, msg);
    }
    return ww_train_error(err, errlen, st,
                          "loader: position %lld, place %d: %d samples in a row failed to load, "
                          "the data look unusable; the last: %s",
                          (long long)position, b, WW_LOADER_ATTEMPTS, msg);
}

/* ---- Slots (under the lock) ------------------------------------------------------------------ */

static void release(ww_loader *l, slot *s)
{
    for (int b = 0; b < l->c.spec.batch; b++)
        ww_sample_free(&s->samples[b]);
    s->state = SLOT_FREE;
    s->cancelled = 0;
}

/* Drop s's position: now, or when its last worker leaves. */
static void cancel(ww_loader *l, slot *s)
{
    s->cancelled = 1;
    s->next = l->c.spec.batch;
    if (s->working == 0)
        release(l, s);
}

/* Give the free slots the positions up to last_position. */
static void schedule(ww_loader *l)
{
    int given = 0;
    for (int i = 0; i < l->nslots && l->next_position <= l->last_position; i++) {
        slot *s = &l->slots[i];
        if (s->state != SLOT_FREE)
            continue;
        s->state = SLOT_FILLING;
        s->position = l->next_position++;
        s->next = s->working = s->skipped = 0;
        s->status = WW_OK;
        s->err[0] = 0;
        given = 1;
    }
    if (given)
        pthread_cond_broadcast(&l->work);
}

/* The filling slot of lowest position with a sample left to hand out; NULL when none. */
static slot *next_work(ww_loader *l)
{
    slot *best = NULL;
    for (int i = 0; i < l->nslots; i++) {
        slot *s = &l->slots[i];
        if (s->state == SLOT_FILLING && s->next < l->c.spec.batch &&
            (!best || s->position < best->position))
            best = s;
    }
    return best;
}

static slot *find(ww_loader *l, int64_t position)
{
    for (int i = 0; i < l->nslots; i++) {
        slot *s = &l->slots[i];
        if (s->state != SLOT_FREE && !s->cancelled && s->position == position)
            return s;
    }
    return NULL;
}

/* Every sample of s is back: assemble the batch (without the lock, s being marked busy) and
 * hand it over, or free s when its position was dropped meanwhile. */
static void finish(ww_loader *l, slot *s)
{
    if (s->status == WW_OK && !s->cancelled && !l->stop) {
        s->working = 1;
        pthread_mutex_unlock(&l->mu);
        ww_rng r;
        ww_rng_seed(&r, sample_key(l->c.seed, s->position, WINDOWS_PLACE, 0));
        ww_loader_batch *b = &s->batch;
        ww_status st = ww_batch_fill(&l->c.spec, s->samples, &r, b->images, b->windows,
                                     b->target, b->weight, &b->valid, s->err, sizeof s->err);
        for (int i = 0; i < l->c.spec.batch; i++)
            ww_sample_free(&s->samples[i]);
        pthread_mutex_lock(&l->mu);
        s->working = 0;
        s->status = st;
        b->position = s->position;
        b->skipped = s->skipped;
    }
    if (s->cancelled) {
        release(l, s);
        schedule(l);
        return;
    }
    s->state = SLOT_READY;
    pthread_cond_broadcast(&l->ready);
}

static void *worker(void *arg)
{
    ww_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        slot *s = NULL;
        while (!l->stop && !(s = next_work(l)))
            pthread_cond_wait(&l->work, &l->mu);
        if (l->stop)
            break;
        int b = s->next++, skipped = 0;
        int64_t position = s->position;
        s->working++;
        pthread_mutex_unlock(&l->mu);
        char err[MSG_LEN];
        ww_status st = load_sample(l, position, b, &s->samples[b], &skipped, err, sizeof err);
        pthread_mutex_lock(&l->mu);
        s->working--;
        s->skipped += skipped;
        l->skipped += skipped;
        if (st != WW_OK && s->status == WW_OK) {
            s->status = st;
            snprintf(s->err, sizeof s->err, "%s", err);
            s->next = l->c.spec.batch; /* the batch has failed: load no more of it */
        }
        if (s->working == 0 && s->next == l->c.spec.batch)
            finish(l, s);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- The API --------------------------------------------------------------------------------- */

static ww_status check_config(const ww_loader_config *c, char *err, size_t errlen)
{
    if (!c->data)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "loader: no dataset");
    if (ww_dataset_size(c->data) < 1)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "loader: the dataset is empty");
    ww_status st = ww_batch_check(&c->spec, err, errlen);
    if (st != WW_OK)
        return st;
    if (c->augment) {
        st = ww_augment_check(c->augment, err, errlen);
        if (st != WW_OK)
            return st;
        if (c->augment->width != c->spec.width || c->augment->height != c->spec.height)
            return ww_train_error(err, errlen, WW_ERR_INVALID,
                                  "loader: the augmentation gives %dx%d, the batch is %dx%d",
                                  c->augment->width, c->augment->height, c->spec.width,
                                  c->spec.height);
    }
    if (c->threads < 0 || c->threads > MAX_THREADS)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "loader: %d threads (want 0 for all CPUs, or 1..%d)", c->threads,
                              MAX_THREADS);
    if (c->prefetch < 0)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "loader: prefetch %d < 0",
                              c->prefetch);
    return WW_OK;
}

static ww_status alloc_slots(ww_loader *l, char *err, size_t errlen)
{
    size_t ni, nw, nt, nwt;
    ww_batch_sizes(&l->c.spec, &ni, &nw, &nt, &nwt);
    l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
    int ok = l->slots != NULL;
    for (int i = 0; ok && i < l->nslots; i++) {
        ww_loader_batch *b = &l->slots[i].batch;
        l->slots[i].samples = calloc((size_t)l->c.spec.batch, sizeof(ww_sample));
        b->images = malloc(ni * sizeof *b->images);
        b->target = malloc(nt * sizeof *b->target);
        b->weight = malloc(nwt * sizeof *b->weight);
        b->windows = nw ? malloc(nw * sizeof *b->windows) : NULL;
        ok = l->slots[i].samples && b->images && b->target && b->weight && (!nw || b->windows);
    }
    if (ok)
        return WW_OK;
    return ww_train_error(err, errlen, WW_ERR_OUT_OF_MEMORY,
                          "loader: out of memory for %d batches of %zu values", l->nslots,
                          ni + nw + nt + nwt);
}

static ww_status start_threads(ww_loader *l, char *err, size_t errlen)
{
    l->threads = calloc((size_t)l->nthreads, sizeof *l->threads);
    if (!l->threads)
        return ww_train_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "loader: out of memory");
    pthread_attr_t attr;
    int have_attr = pthread_attr_init(&attr) == 0;
    size_t stack = 0;
    if (have_attr && pthread_attr_getstacksize(&attr, &stack) == 0 && stack < MIN_STACK_BYTES)
        pthread_attr_setstacksize(&attr, MIN_STACK_BYTES);
    int started = 0;
    while (started < l->nthreads &&
           pthread_create(&l->threads[started], have_attr ? &attr : NULL, worker, l) == 0)
        started++;
    if (have_attr)
        pthread_attr_destroy(&attr);
    if (started == l->nthreads)
        return WW_OK;
    int want = l->nthreads;
    l->nthreads = started; /* destroy joins these */
    return ww_train_error(err, errlen, WW_ERR_OUT_OF_MEMORY,
                          "loader: cannot start thread %d of %d", started + 1, want);
}

ww_status ww_loader_create(const ww_loader_config *c, ww_loader **out, char *err,
                           size_t errlen)
{
    *out = NULL;
    ww_status st = check_config(c, err, errlen);
    if (st != WW_OK)
        return st;
    ww_loader *l = calloc(1, sizeof *l);
    if (!l)
        return ww_train_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "loader: out of memory");
    l->c = *c;
    if (c->augment)
        l->augment = *c->augment;
    l->c.augment = c->augment ? &l->augment : NULL;
    l->size = ww_dataset_size(c->data);
    l->nthreads = c->threads;
    if (l->nthreads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        l->nthreads = online < 1 ? 1 : online > MAX_THREADS ? MAX_THREADS : (int)online;
    }
    l->prefetch = c->prefetch;
    if (l->prefetch == 0) {
        int batches = (l->nthreads + c->spec.batch - 1) / c->spec.batch;
        l->prefetch = batches < 2                      ? 2
                      : batches > MAX_DEFAULT_PREFETCH ? MAX_DEFAULT_PREFETCH
                                                       : batches;
    }
    l->nslots = l->prefetch + 1;
    /* Made in this order, and destroy undoes the first `locks` of them. */
    if (pthread_mutex_init(&l->mu, NULL) == 0 && ++l->locks &&
        pthread_mutex_init(&l->warn_mu, NULL) == 0 && ++l->locks &&
        pthread_cond_init(&l->work, NULL) == 0 && ++l->locks &&
        pthread_cond_init(&l->ready, NULL) == 0)
        ++l->locks;
    st = l->locks == 4 ? WW_OK
                       : ww_train_error(err, errlen, WW_ERR_OUT_OF_MEMORY,
                                        "loader: cannot create its locks");
    if (st == WW_OK)
        st = alloc_slots(l, err, errlen);
    if (st == WW_OK)
        st = start_threads(l, err, errlen);
    if (st != WW_OK) {
        ww_loader_destroy(l);
        return st;
    }
    *out = l;
    return WW_OK;
}

ww_status ww_loader_get(ww_loader *l, int64_t position, const ww_loader_batch **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    if (position < 0)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "loader: position %lld < 0",
                              (long long)position);
    pthread_mutex_lock(&l->mu);
    if (l->held) {
        release(l, l->held);
        l->held = NULL;
    }
    /* Keep what was prepared for position .. position + prefetch when position is among it;
     * otherwise start again from position. */
    int kept = find(l, position) != NULL;
    for (int i = 0; i < l->nslots; i++) {
        slot *s = &l->slots[i];
        if (s->state != SLOT_FREE && !s->cancelled &&
            (!kept || s->position < position || s->position > position + l->prefetch))
            cancel(l, s);
    }
    if (!kept)
        l->next_position = position;
    l->last_position = position + l->prefetch;
    schedule(l);
    slot *s;
    while (!(s = find(l, position)) || s->state != SLOT_READY)
        pthread_cond_wait(&l->ready, &l->mu);
    ww_status st = s->status;
    if (st == WW_OK) {
        s->state = SLOT_HELD;
        l->held = s;
        *out = &s->batch;
    } else {
        ww_train_error(err, errlen, st, "%s", s->err);
        release(l, s);
        schedule(l);
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

int64_t ww_loader_skipped(ww_loader *l)
{
    pthread_mutex_lock(&l->mu);
    int64_t n = l->skipped;
    pthread_mutex_unlock(&l->mu);
    return n;
}

void ww_loader_destroy(ww_loader *l)
{
    if (!l)
        return;
    if (l->threads) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->work);
        pthread_mutex_unlock(&l->mu);
        for (int i = 0; i < l->nthreads; i++)
            pthread_join(l->threads[i], NULL);
    }
    for (int i = 0; l->slots && i < l->nslots; i++) {
        slot *s = &l->slots[i];
        for (int b = 0; s->samples && b < l->c.spec.batch; b++)
            ww_sample_free(&s->samples[b]);
        free(s->samples);
        free(s->batch.images);
        free(s->batch.target);
        free(s->batch.weight);
        free(s->batch.windows);
    }
    free(l->slots);
    free(l->threads);
    if (l->locks > 3)
        pthread_cond_destroy(&l->ready);
    if (l->locks > 2)
        pthread_cond_destroy(&l->work);
    if (l->locks > 1)
        pthread_mutex_destroy(&l->warn_mu);
    if (l->locks > 0)
        pthread_mutex_destroy(&l->mu);
    free(l);
}
