/* The trainer's data loader: a pool of worker threads that reads, augments and assembles
 * micro-batches ahead of the one the trainer is computing, so the device need not wait for data.
 *
 * Reproducibility. The batch at position p (a run's micro-batches counted from 0: step * accum +
 * micro) is a function of (seed, p) alone: sample b's dataset index, its dataset seed (crop or
 * generation) and its augmentation's random numbers come from hashes of (seed, p, b, attempt),
 * the batch's windows from a hash of (seed, p). A resumed run, any thread count and any timing
 * give the same bytes.
 *
 * Bad data. A sample whose ww_dataset_get fails (a corrupt, truncated or unreadable file) is
 * skipped: the warning callback receives a message naming the sample and the dataset's error,
 * the loader's count of skipped samples grows, and attempt + 1 draws another index for the same
 * place. After WW_LOADER_ATTEMPTS consecutive failures for one place the data are taken for
 * unusable and the batch's get fails. Out of memory and a sample of the wrong size without
 * augmentation are errors, not skips.
 *
 * Threads. One thread owns the loader (create, get, skipped, destroy); the workers only read the
 * dataset, which dataset.h allows. The trainer waits only inside ww_loader_get, and only when its
 * batch is not ready yet.
 */
#ifndef WW_LOADER_H
#define WW_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "batch.h"
#include "dataset.h"

#define WW_LOADER_ATTEMPTS 32

typedef struct ww_loader_config {
    ww_dataset *data;          /* read by the workers; the caller closes it after destroy */
    ww_batch_spec spec;        /* the micro-batches (task, size, windows, normalisation) */
    const ww_augment *augment; /* copied; its output size must be spec's. NULL: the samples as
                                * the dataset gives them, which must be spec's size */
    int threads;               /* workers; 0: one per online CPU */
    int prefetch;              /* batches prepared beyond the one asked for; 0: enough to give
                                * every worker a sample, at least 2 */
    uint64_t seed;
    /* A skipped sample's message; NULL: none. Called from the workers, one call at a time. */
    void (*warn)(void *user, const char *msg);
    void *user;
} ww_loader_config;

/* One micro-batch in ww_batch_fill's layout (sizes: ww_batch_sizes of the spec). The arrays
 * belong to the loader and stay valid until the next get or destroy; the caller may write into
 * them (the loader refills them from scratch). */
typedef struct ww_loader_batch {
    int64_t position;
    float *images, *target, *weight;
    uint32_t *windows; /* NULL without windows */
    int64_t valid;     /* supervised pixels (ww_batch_fill's count) */
    int skipped;       /* samples of this batch drawn again after a failure */
} ww_loader_batch;

typedef struct ww_loader ww_loader;

/* Start the workers. WW_ERR_INVALID with a message naming the value for a bad configuration, an
 * empty dataset or a size mismatch between the augmentation and the spec; WW_ERR_OUT_OF_MEMORY
 * when the batches or the threads cannot be had. The caller owns *out (ww_loader_destroy). */
ww_status ww_loader_create(const ww_loader_config *c, ww_loader **out, char *err,
                           size_t errlen);

/* *out = the batch at position (>= 0), waiting until it is ready; the positions after it, up to
 * the prefetch depth, are prepared meanwhile. Positions are meant to be asked in increasing order
 * (each the last + 1 in training); any other order works, at the cost of dropping the batches
 * prepared for the positions skipped. The previous batch is released. On failure (the data are
 * unusable, out of memory) the message says why and names the last sample tried. */
ww_status ww_loader_get(ww_loader *l, int64_t position, const ww_loader_batch **out, char *err,
                        size_t errlen);

/* Samples skipped since create, those of batches being prepared included. */
int64_t ww_loader_skipped(ww_loader *l);

/* Stop the workers (each finishes the sample in its hands) and free everything; NULL is a no-op. */
void ww_loader_destroy(ww_loader *l);

#endif
