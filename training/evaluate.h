/* Evaluation of a model at full resolution: every image of a dataset goes once through the
 * inference runner (the path the elements and winwin-infer take), and its metrics are
 * accumulated next to those of the trivial baseline the model has to beat:
 *   flow   zero flow
 *   depth  one depth everywhere: the mean of every valid ground-truth depth of the evaluated
 *          images (a constant taken from the answers themselves)
 *   seg    one class everywhere: the most frequent labelled class of the evaluated images
 * Used by the trainer's validation and by `winwin-train eval` (the model cards' figures).
 *
 * Depth predictions (1 / the model's inverse depth) are capped at WW_EVAL_MAX_DEPTH metres, as
 * the KITTI / Eigen protocol caps them at 80 m: a near-zero inverse depth on a far surface
 * would otherwise give an unbounded error that says nothing about the rest of the image.
 */
#ifndef WW_EVALUATE_H
#define WW_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "metrics.h"

#define WW_EVAL_MAX_DEPTH 80.0f

typedef struct ww_eval {
    ww_task task;
    int64_t images;
    ww_flow_metrics flow, flow_base;
    ww_depth_metrics depth, depth_base;
    ww_seg_metrics *seg, *seg_base; /* seg only */
    double base_depth;              /* depth baseline's constant (m) */
    int base_class;                 /* seg baseline's class */
} ww_eval;

/* Run m (of d's task, on backend be) on images 0 .. min(size, max_images) - 1 (max_images <= 0: all) of d, each
 * read with seed, into *out (zeroed first; release with ww_eval_free). Errors name the sample or
 * the backend's problem in err. */
ww_status ww_evaluate(ww_backend *be, ww_model *m, ww_dataset *d, int64_t max_images,
                      uint64_t seed, ww_eval *out, char *err, size_t errlen);
void ww_eval_free(ww_eval *e);

/* "EPE 1.23  1px 12.3%  3px 4.5% (zero flow: EPE 9.87 ...)", snprintf-style. */
int ww_eval_format(const ww_eval *e, char *buf, size_t n);
/* JSON members without braces: the model's metrics, "baseline": its name, then the baseline's
 * metrics prefixed "baseline_" (e.g. "epe": 1.2, "baseline": "zero flow", "baseline_epe": 9.8). */
int ww_eval_json(const ww_eval *e, char *buf, size_t n);

#endif
