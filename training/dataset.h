/* Training and evaluation samples for winwin-train: procedural ones generated on the fly, or
 * files named by a list.
 *
 * A dataset is opened from a spec string:
 *   "synthetic" or "synthetic:N"  N procedural samples (default 1000), no files; every sample is
 *                                 generated from (the dataset's seed, index, the get's seed) at
 *                                 the requested size (synth.h says what they show)
 *   "list:FILE"                   a text file, one sample per line: whitespace-separated paths,
 *                                 relative to FILE's directory unless absolute; '#' starts a
 *                                 comment, blank lines are skipped
 *       flow   frame1 frame2 flow    flow: .flo, KITTI 16-bit PNG (B = 0: invalid) or 3-channel
 *                                    .pfm (u, v, ignored)
 *       depth  image depth           depth: 1-channel .pfm in metres, or 16-bit gray PNG in
 *                                    millimetres (NYU style; 0 = invalid)
 *       seg    image label           label: 8-bit gray PNG of class ids, 255 = ignore
 *     Images are PNG or JPEG (tools/image_io.h). Every referenced file must exist when the list is
 *     opened; the files are read by ww_dataset_get.
 *
 * Errors: every fallible call returns a ww_status and writes a message into err (at most errlen
 * bytes) that names what is wrong: the spec, or "LIST:LINE: FILE: problem" for a list's sample.
 * A corrupt or unexpected file is an error, never a crash.
 *
 * Threads: ww_dataset_get only reads the dataset, so calls on one dataset may run at once.
 */
#ifndef WW_DATASET_H
#define WW_DATASET_H

#include <stdint.h>

#include "model.h"

typedef struct ww_sample {
    int width, height;
    uint8_t *image[2]; /* RGB8 interleaved, width * height * 3; image[1] (frame 2) only for flow */
    float *target;     /* flow: [2, H, W], the u plane then the v plane, in pixels, from frame 1
                        * to frame 2, NaN = invalid;
                        * depth: [1, H, W] in metres, 0 = invalid (sky, no measurement);
                        * seg: [1, H, W] class ids as floats, 255 = ignore */
} ww_sample;

/* Images per sample (2 for flow, else 1) and target planes (flow 2: u, v; else 1). */
int ww_task_frames(ww_task t);
int ww_task_target_channels(ww_task t);

/* Allocate a zeroed width x height sample: `frames` images (1, or 2 for flow) and `channels`
 * target planes. On failure *s is zeroed. */
ww_status ww_sample_alloc(ww_sample *s, int width, int height, int frames, int channels,
                          char *err, size_t errlen);
/* Free the arrays and zero *s. */
void ww_sample_free(ww_sample *s);
/* *out = the width x height region of s at (x0, y0), images and target alike (random crops of
 * datasets and of the trainer's --crop baseline). The caller owns *out (ww_sample_free);
 * WW_ERR_INVALID when the region leaves s. */
ww_status ww_sample_crop(const ww_sample *s, ww_task task, int x0, int y0, int width, int height,
                         ww_sample *out, char *err, size_t errlen);

typedef struct ww_dataset ww_dataset;

/* Open a dataset of `task` from spec (above). width x height is the size of the samples `get`
 * returns: a random crop of larger files, a generation size for synthetic ones; 0, 0 keeps each
 * file's own size (not for synthetic datasets). A file smaller than the request is an error
 * naming it. classes (seg only, 1..255): labels >= classes other than 255 are an error naming
 * the label file. The caller owns *out (ww_dataset_close). */
ww_status ww_dataset_open(const char *spec, ww_task task, int width, int height, int classes,
                          uint64_t seed, ww_dataset **out, char *err, size_t errlen);
int64_t ww_dataset_size(const ww_dataset *d);
/* Sample `index` (0 .. size - 1), its crop or generation randomness drawn from seed: the same
 * index and seed give the same bytes. On failure *out is zeroed. The caller owns *out
 * (ww_sample_free). */
ww_status ww_dataset_get(ww_dataset *d, int64_t index, uint64_t seed, ww_sample *out, char *err,
                         size_t errlen);
void ww_dataset_close(ww_dataset *d);

#endif
