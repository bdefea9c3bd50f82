/* Training and evaluation samples for winwin-train: procedural ones generated on the fly, files
 * named by a list, or public datasets in their published directory layouts.
 *
 * A dataset is opened from a spec string:
 *   "synthetic" or "synthetic:N"  N procedural samples (default 1000), no files; every sample is
 *                                 generated from (the dataset's seed, index, the get's seed) at
 *                                 the requested size (synth.h says what they show)
 *   "list:FILE"                   a text file, one sample per line: whitespace-separated paths,
 *                                 relative to FILE's directory unless absolute; '#' starts a
 *                                 comment, blank lines are skipped
 *       flow   frame1 frame2 flow    flow: .flo, KITTI 16-bit PNG (B = 0: invalid), 3-channel
 *                                    .pfm (u, v, ignored) or Spring .flo5 (below)
 *       depth  image depth           depth: 1-channel .pfm in metres, or 16-bit gray PNG in
 *                                    millimetres (NYU style); 0 = invalid in every format
 *              image depth.png scale=S   16-bit gray PNG, metres = value / S (KITTI depth: 256)
 *              image disparity.png calib.txt   KITTI disparity (px = value / 256) with its
 *                                    calibration: metres = f * B / px (f, B as for kitti-stereo)
 *       seg    image label           label: 8-bit gray PNG of class ids, 255 = ignore
 *     A seg list may name its classes in a line "classes FILE" before the samples (so an image
 *     cannot be called "classes"): FILE has one class per line "ID NAME R G B" (ids 0..N-1, the
 *     name may hold spaces, '#' comments); the dataset then has N classes, with names and
 *     colours (ww_dataset_class_*), and label values that are no class become 255 (ignore).
 *   Directory layouts "NAME:ROOT[:OPTION]" (the option after the last ':'):
 *     "chairs:ROOT[:train|val]"     FlyingChairs: ROOT/data/NNNNN_img1.ppm, NNNNN_img2.ppm and
 *                                   NNNNN_flow.flo (ROOT may be the data directory itself); a
 *                                   split takes the samples whose line NNNNN of
 *                                   ROOT/FlyingChairs_train_val.txt says 1 (train) or 2 (val),
 *                                   no split takes all
 *     "sintel:ROOT[:clean|final]"   MPI-Sintel, clean by default: ROOT/training/PASS/SCENE/
 *                                   frame_NNNN.png and frame_NNNN+1.png with
 *                                   ROOT/training/flow/SCENE/frame_NNNN.flo
 *     "kitti:ROOT"                  KITTI 2015 flow: ROOT/training/image_2/NNNNNN_10.png and
 *                                   NNNNNN_11.png with ROOT/training/flow_occ/NNNNNN_10.png
 *     "spring:ROOT"                 Spring (builds with HDF5 only; without it WW_ERR_UNSUPPORTED):
 *                                   ROOT/train/SCENE/frame_left/frame_left_NNNN.png and NNNN+1
 *                                   with ROOT/train/SCENE/flow_FW_left/flow_FW_left_NNNN.flo5.
 *                                   Spring's ground truth has 2x2 values per frame pixel (in
 *                                   frame pixels): the top-left one of each block is the pixel's,
 *                                   as in Spring's own loader. A .flo5 of the frames' size is
 *                                   taken as it is.
 *     "things:ROOT[:clean|final]"   FlyingThings3D, clean by default: ROOT/frames_PASSpass/TRAIN/
 *                                   SET/SEQ/left/NNNN.png and NNNN+1 with ROOT/optical_flow/TRAIN/
 *                                   SET/SEQ/into_future/left/OpticalFlowIntoFuture_NNNN_L.pfm
 *     "kitti-stereo:ROOT"           depth from KITTI stereo disparity (0 = invalid): KITTI 2012
 *                                   ROOT/training/colored_0/NNNNNN_10.png,
 *                                   disp_noc/NNNNNN_10.png and calib/NNNNNN.txt (f = P0[0],
 *                                   B = (P0[3] - P1[3]) / f), or, without colored_0, KITTI 2015
 *                                   image_2, disp_noc_0 and calib_cam_to_cam (P_rect_02 and
 *                                   P_rect_03 in place of P0 and P1)
 *     "cityscapes:ROOT[:train|val]" train by default: ROOT/leftImg8bit/SPLIT/CITY/
 *                                   X_leftImg8bit.png with ROOT/gtFine/SPLIT/CITY/
 *                                   X_gtFine_labelIds.png; labelIds become the 19 trainIds
 *                                   (others 255), with their names and colours
 *     A layout's samples are sorted by file name; sequences pair each frame with the next number
 *     (the last frame starts no sample). Occlusion masks are not read (ww_sample.occlusion stays
 *     NULL). A layout is for its task only (seg for cityscapes, depth
 *     for kitti-stereo, flow for the others).
 *   Images are PNG, JPEG or PPM (tools/image_io.h). Every file a list names or a layout finds must
 *   exist when the dataset opens (calibration and classes files are read then); an empty list or
 *   layout is an error. The images and targets are read by ww_dataset_get.
 *
 * Errors: every fallible call returns a ww_status and writes a message into err (at most errlen
 * bytes) that names what is wrong: "SPEC: ..." (a layout's spec), or "LIST:LINE: ..." for a
 * list's line, then the file and the problem.
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
    uint8_t *occlusion; /* flow, optional (NULL: unknown): [H, W], 1 where frame 1's pixel is
                         * hidden or outside the image in frame 2; the flow is valid there too */
} ww_sample;

/* Images per sample (2 for flow, else 1) and target planes (flow 2: u, v; else 1). */
int ww_task_frames(ww_task t);
int ww_task_target_channels(ww_task t);

/* Allocate a zeroed width x height sample: `frames` images (1, or 2 for flow) and `channels`
 * target planes. On failure *s is zeroed. */
ww_status ww_sample_alloc(ww_sample *s, int width, int height, int frames, int channels,
                          char *err, size_t errlen);
/* Allocate s->occlusion (zeroed) for s's size; WW_ERR_OUT_OF_MEMORY leaves s as it was. */
ww_status ww_sample_alloc_occlusion(ww_sample *s, char *err, size_t errlen);
/* Free the arrays and zero *s. */
void ww_sample_free(ww_sample *s);
/* *out = the width x height region of s at (x0, y0), images, target and occlusion alike (random
 * crops of datasets and of the trainer's --crop baseline). The caller owns *out (ww_sample_free);
 * WW_ERR_INVALID when the region leaves s. */
ww_status ww_sample_crop(const ww_sample *s, ww_task task, int x0, int y0, int width, int height,
                         ww_sample *out, char *err, size_t errlen);

typedef struct ww_dataset ww_dataset;

/* Open a dataset of `task` from spec (above). width x height is the size of the samples `get`
 * returns: a random crop of larger files, a generation size for synthetic ones; 0, 0 keeps each
 * file's own size (not for synthetic datasets). A file smaller than the request is an error
 * naming it. classes (seg only, 1..255): labels >= classes other than 255 are an error naming
 * the label file; a dataset that names its classes (a list's classes file, cityscapes) must have
 * exactly `classes` of them. The caller owns *out (ww_dataset_close). */
ww_status ww_dataset_open(const char *spec, ww_task task, int width, int height, int classes,
                          uint64_t seed, ww_dataset **out, char *err, size_t errlen);
int64_t ww_dataset_size(const ww_dataset *d);
/* Sample `index` (0 .. size - 1), its crop or generation randomness drawn from seed: the same
 * index and seed give the same bytes. On failure *out is zeroed. The caller owns *out
 * (ww_sample_free). */
ww_status ww_dataset_get(ww_dataset *d, int64_t index, uint64_t seed, ww_sample *out, char *err,
                         size_t errlen);
void ww_dataset_close(ww_dataset *d);

/* 1 when spec names generated samples (synthetic[:N]), which need a generation size; file
 * datasets can be opened at 0x0 (each file's own size). */
int ww_dataset_spec_generated(const char *spec);

/* The classes a seg dataset names (a list's classes file, cityscapes' trainIds, the synthetic
 * generator's classes), for the model's metadata: their count (0 when it names none), the name of class id (owned by d; NULL outside
 * 0..count - 1) and its colour (0, 0, 0 outside). */
int ww_dataset_class_count(const ww_dataset *d);
const char *ww_dataset_class_name(const ww_dataset *d, int id);
void ww_dataset_class_color(const ww_dataset *d, int id, uint8_t rgb[3]);

#endif
