/* Training-time augmentation of one sample: a random zoom, a random crop to the training size,
 * mirrors and colour jitter, with the target transformed to stay true to the images.
 *
 * Geometry. The sample is zoomed by s, drawn log-uniformly in [scale_min, scale_max], and a
 * width x height window of the zoomed sample at a random whole-pixel offset is the output. Output
 * pixel (x, y) reads source position ((x + x0 + 1/2) / s - 1/2, (y + y0 + 1/2) / s - 1/2), pixel
 * centres mapping to pixel centres, so s = 1 is an exact crop. When the zoomed sample would be
 * smaller than the output, s is raised to the smallest zoom that covers it, max(width / W,
 * height / H) for a W x H sample: the crop must be filled with real pixels, never padding, and
 * the smallest such zoom changes the sample least. A mirror then flips the output left-right
 * (probability 1/2 when flip is on) and, for flow only, up-down (probability vflip).
 *
 * Per task (images are always bilinear):
 *  flow  both frames get the same geometry, so the motion stays a motion between them; the
 *        vectors are multiplied by s (distances grow with the zoom), u is negated by a
 *        left-right mirror and v by an up-down one. An output pixel is valid only when the
 *        source pixel nearest to where it reads is valid, and its vector is the bilinear blend
 *        of the valid ones among the 4 around it: dense flow is interpolated as usual, and a
 *        sparse field (KITTI's measured points, NaN elsewhere) never gains a value where no
 *        measurement lies. The occlusion mask (optional) follows its nearest source pixel.
 *  depth nearest source pixel, so depths of two surfaces are never blended into a point lying
 *        on neither and 0 (invalid) stays 0; the depth is divided by s. Zooming in by s is
 *        what a focal length s times longer sees: an object of size L at depth Z then spans
 *        s f L / Z pixels, which a model that reads scale for distance (monocular depth, with
 *        the intrinsics fixed) must take for depth Z / s.
 *  seg   nearest source pixel: class ids and the ignore label 255 are copied, never blended.
 *
 * Colour jitter (brightness, contrast, saturation, hue, in that order) is one affine map of RGB:
 * brightness multiplies by b, contrast blends with the mean gray of the (first) image by c,
 * saturation blends each pixel with its gray by t (b, c, t uniform in [1 - x, 1 + x] for
 * strength x), hue rotates the chroma (YIQ's I, Q plane) by a uniform angle in [-hue, hue]
 * turns. Both frames of a flow pair get the same map: flow is found by matching colours, and a
 * frame-to-frame colour change would teach it to ignore the very cue it relies on. Targets are
 * never touched by the jitter.
 *
 * All randomness comes from r, in a fixed order, so the same input, configuration and r state
 * give the same bytes.
 */
#ifndef WW_AUGMENT_H
#define WW_AUGMENT_H

#include <stddef.h>

#include "dataset.h"
#include "rng.h"

typedef struct ww_augment {
    float scale_min, scale_max; /* zoom range, 0 < min <= max <= 16; 1, 1: no zoom */
    int flip;                   /* 1: mirror left-right with probability 1/2 */
    float vflip;                /* flow: probability of an up-down mirror, 0..1 (0: never) */
    float brightness, contrast, saturation; /* jitter strengths 0..1 (0: off) */
    float hue;                  /* largest hue rotation in turns, 0..0.5 (0: off) */
    int width, height;          /* the output (the random crop), >= 1 */
} ww_augment;

/* The defaults for a task with a width x height output: zoom 0.8..1.25 (segmentation
 * 0.5..2, the usual range for semantic segmentation), left-right mirror, flow also up-down with
 * probability 0.1, jitter 0.2 (hue 0.05). */
ww_augment ww_augment_default(ww_task task, int width, int height);

/* a in words for logs ("zoom 0.8..1.25, left-right mirror, jitter brightness 0.2 ...") into text
 * (at most len bytes). */
void ww_augment_describe(const ww_augment *a, char *text, size_t len);

/* WW_ERR_INVALID with a message naming the field and value when a is out of range. */
ww_status ww_augment_check(const ww_augment *a, char *err, size_t errlen);

/* out (allocated here, owned by the caller: ww_sample_free; zeroed on failure) = in augmented
 * for task as above; in is only read, so one input may feed several calls at once with
 * different r. in needs its task's arrays; its occlusion mask is optional. WW_ERR_INVALID for a
 * bad configuration or sample, WW_ERR_OUT_OF_MEMORY. */
ww_status ww_augment_apply(const ww_augment *a, ww_task task, const ww_sample *in, ww_rng *r,
                           ww_sample *out, char *err, size_t errlen);

#endif
