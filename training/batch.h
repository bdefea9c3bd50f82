/* One micro-batch of samples as the host arrays the training graph uploads (ww_train_batch in
 * train_graph.h): normalised planar images, the Win-Win windows of each image, and the targets
 * and loss weights of the supervised pixels.
 */
#ifndef WW_BATCH_H
#define WW_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "rng.h"

/* Flow of this norm or more is a file's "unknown" marker (e.g. .flo's 1e9), never real motion. */
#define WW_FLOW_MAX_NORM 1e4f

typedef struct ww_batch_spec {
    ww_task task;
    int batch, width, height;  /* samples must be width x height, multiples of 16 */
    int windows, window_size;  /* windows per image (0: the whole image), side in tokens */
    int independent_windows;   /* flow: frame 2 draws its own windows instead of frame 1's */
    float mean[3], std[3];     /* normalisation of the model (ww_model_config) */
    int classes;               /* seg: ids >= classes are not supervised */
} ww_batch_spec;

/* Elements of the four arrays of ww_train_batch for this spec (windows: 0 without windows). */
void ww_batch_sizes(const ww_batch_spec *s, size_t *images, size_t *windows, size_t *target,
                    size_t *weight);

/* WW_ERR_INVALID with a message naming the value for a bad spec: unknown task, batch < 1, a size
 * that is not a positive multiple of 16, windows < 0 or more than fit the token grid, seg
 * without classes, a non-finite normalisation or a zero std. */
ww_status ww_batch_check(const ww_batch_spec *s, char *err, size_t errlen);

/* Fill the caller's arrays (sizes from ww_batch_sizes) from samples[0 .. batch).
 *
 * Windows: ww_windows_sample(rng, H / 16, W / 16, windows, window_size) per image, in sample
 * order; flow's second frames reuse their first frame's windows unless independent_windows, in
 * which case each pair draws frame 1's then frame 2's. windows may be NULL without windows.
 * Images: (v / 255 - mean) / std, planar, [B * F, 3, H, W], every first frame then every second.
 * Targets: the pixels of frame 1's windows (window g of sample b is [b * G + g]: token rows
 * y .. y + window_size - 1 are pixel rows 16 y .. 16 (y + window_size) - 1, columns likewise), or
 * the whole image. Flow is copied in pixels, depth becomes inverse depth 1 / d, segmentation ids
 * stay ids. Invalid pixels get target 0 and weight 0: flow not finite or of norm >=
 * WW_FLOW_MAX_NORM, depth not finite or <= 0, ids outside 0 .. classes - 1 (255 included).
 * Weights: 1 / (valid pixels of the whole micro-batch) on every valid pixel, so they sum to 1;
 * all 0 when nothing is valid. *valid_out (may be NULL) receives the count.
 * WW_ERR_INVALID with a message naming the value for a bad spec or a sample of the wrong size or
 * without its arrays; the outputs are then unspecified. */
ww_status ww_batch_fill(const ww_batch_spec *s, const ww_sample *samples, ww_rng *rng,
                        float *images, uint32_t *windows, float *target, float *weight,
                        int64_t *valid_out, char *err, size_t errlen);

#endif
