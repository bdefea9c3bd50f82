/* Validation metrics at full resolution, accumulated over any number of images: reset, add each
 * image (or batch of pixels), then read the results or format them for the log.
 *
 * Sums are kept in double and counts in 64 bits, so a whole validation set (billions of pixels)
 * accumulates without losing precision. A result over no valid pixel is NaN; the formatters
 * write it as "n/a" (log line) and null (JSON), since JSON has no NaN.
 *
 * Formatters follow snprintf: they write at most n bytes (NUL included) into buf and return the
 * length the whole text needs, so a return >= n means it was cut. The JSON fragment is a list
 * of members without braces, e.g. `"epe": 1.23, "px1": 12.3, "px3": 4.5`, for the trainer to
 * splice into its JSONL lines.
 *
 * Threads: accumulators are plain data; one thread at a time per accumulator.
 */
#ifndef WW_TRAIN_METRICS_H
#define WW_TRAIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ww.h"

/* ---- Optical flow --------------------------------------------------------------------------
 * Spring's / Sintel's definitions: EPE is the mean over valid pixels of |pred - gt| (Euclidean),
 * 1px and 3px are the % of valid pixels whose error exceeds 1 and 3 pixels. Ground truth is
 * invalid where u or v is not finite or |gt| >= 1e4 (the .flo "unknown" value is 1e9). A non-
 * finite prediction at a valid pixel is an infinite error: an outlier for 1px and 3px, and the
 * EPE becomes infinite, so a diverged model cannot look good. */
typedef struct ww_flow_metrics {
    double epe_sum;          /* sum of end-point errors */
    uint64_t valid;          /* pixels with valid ground truth */
    uint64_t over1, over3;   /* pixels with error > 1 px, > 3 px */
} ww_flow_metrics;

#define WW_FLOW_INVALID_NORM 1e4f

void ww_flow_metrics_reset(ww_flow_metrics *m);
/* pred and gt: [2, h, w] F32, the u plane then the v plane. w or h <= 0 adds nothing. */
void ww_flow_metrics_add(ww_flow_metrics *m, const float *pred, const float *gt, int w, int h);
double ww_flow_metrics_epe(const ww_flow_metrics *m);
double ww_flow_metrics_px1(const ww_flow_metrics *m); /* % */
double ww_flow_metrics_px3(const ww_flow_metrics *m); /* % */
/* "EPE 1.234  1px 12.34%  3px 4.50%" */
int ww_flow_metrics_format(const ww_flow_metrics *m, char *buf, size_t n);
/* "\"epe\": 1.234, \"px1\": 12.34, \"px3\": 4.5" */
int ww_flow_metrics_json(const ww_flow_metrics *m, char *buf, size_t n);

/* ---- Depth ---------------------------------------------------------------------------------
 * Over pixels whose ground truth is finite and > 0: AbsRel = mean |p - g| / g,
 * RMSE = sqrt(mean (p - g)^2) (in the unit of the depths), delta1 = % of pixels with
 * max(p / g, g / p) < 1.25. A prediction that is <= 0 or not finite is taken as WW_DEPTH_EPS:
 * the ratios stay defined and such a pixel counts as (nearly) maximally wrong instead of
 * poisoning every mean with NaN. */
typedef struct ww_depth_metrics {
    double absrel_sum; /* sum of |p - g| / g */
    double sq_sum;     /* sum of (p - g)^2 */
    uint64_t valid;    /* pixels with valid ground truth */
    uint64_t delta1;   /* pixels with max(p / g, g / p) < 1.25 */
} ww_depth_metrics;

#define WW_DEPTH_EPS 1e-6f

void ww_depth_metrics_reset(ww_depth_metrics *m);
/* pred_depth and gt_depth: n depths each (same unit, e.g. metres). */
void ww_depth_metrics_add(ww_depth_metrics *m, const float *pred_depth, const float *gt_depth,
                          size_t n);
double ww_depth_metrics_absrel(const ww_depth_metrics *m);
double ww_depth_metrics_rmse(const ww_depth_metrics *m);
double ww_depth_metrics_delta1(const ww_depth_metrics *m); /* % */
/* "AbsRel 0.1234  RMSE 1.234  d1 87.65%" */
int ww_depth_metrics_format(const ww_depth_metrics *m, char *buf, size_t n);
/* "\"absrel\": 0.1234, \"rmse\": 1.234, \"delta1\": 87.65" */
int ww_depth_metrics_json(const ww_depth_metrics *m, char *buf, size_t n);

/* ---- Semantic segmentation -----------------------------------------------------------------
 * A confusion matrix over num_classes classes. Ground-truth ids >= num_classes (255 in
 * Cityscapes / BDD100k) are ignored. A predicted id >= num_classes at a labelled pixel is wrong
 * for every class: it counts against its ground-truth class (in that class's union) and is not
 * a true positive of any. IoU_c = TP / (TP + FP + FN); mIoU averages IoU over the classes whose
 * union is > 0 (classes absent from both ground truth and predictions do not count); pixel
 * accuracy = % of labelled pixels predicted right. */
typedef struct ww_seg_metrics ww_seg_metrics;

#define WW_SEG_MAX_CLASSES 1024

/* *out is owned by the caller and released with ww_seg_metrics_destroy. WW_ERR_INVALID when
 * num_classes is outside [1, WW_SEG_MAX_CLASSES]. */
ww_status ww_seg_metrics_create(int num_classes, ww_seg_metrics **out, char *err, size_t errlen);
void ww_seg_metrics_destroy(ww_seg_metrics *m); /* NULL is fine */
void ww_seg_metrics_reset(ww_seg_metrics *m);
/* pred and gt: n class ids each. */
void ww_seg_metrics_add(ww_seg_metrics *m, const uint32_t *pred, const uint32_t *gt, size_t n);
double ww_seg_metrics_iou(const ww_seg_metrics *m, int cls); /* %; NaN when its union is 0 */
double ww_seg_metrics_miou(const ww_seg_metrics *m);         /* % */
double ww_seg_metrics_pixel_acc(const ww_seg_metrics *m);    /* % */
/* "mIoU 65.43%  acc 92.10%" */
int ww_seg_metrics_format(const ww_seg_metrics *m, char *buf, size_t n);
/* "\"miou\": 65.43, \"pixel_acc\": 92.1" */
int ww_seg_metrics_json(const ww_seg_metrics *m, char *buf, size_t n);

#endif
