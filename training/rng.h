/* Deterministic random numbers for the trainer: xoshiro256** seeded through splitmix64.
 *
 * The whole state is four 64-bit words. The sequence depends only on the seed (no global state,
 * no platform-specific generator), so the same seed gives the same windows, crops and
 * augmentations on every machine; the loader seeds one generator per sample and batch from a hash
 * of the run's seed and the batch's position, so a resumed run draws exactly the numbers the
 * uninterrupted run would have drawn.
 *
 * Threads: a ww_rng is plain data; give each thread its own.
 */
#ifndef WW_TRAIN_RNG_H
#define WW_TRAIN_RNG_H

#include <stdint.h>

typedef struct ww_rng {
    uint64_t s[4]; /* never all zero after ww_rng_seed */
} ww_rng;

/* Any seed, 0 included, gives a valid state. */
void ww_rng_seed(ww_rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t ww_rng_next(ww_rng *r);
/* Uniform in [0, 1), with 53 random bits. */
double ww_rng_uniform(ww_rng *r);
/* Uniform in [0, n) without modulo bias; 0 when n == 0. */
uint32_t ww_rng_below(ww_rng *r, uint32_t n);

#endif
