/* Full-resolution evaluation through the inference runner, with the trivial baselines (see
 * evaluate.h). */
#include "evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_io.h"

static ww_status fail(char *err, size_t errlen, ww_status st, const char *what, const char *msg)
{
    return ww_io_error(err, errlen, st, what, "%s", msg);
}

/* The baselines' constants over the first n images of d (a first pass over the ground truth
 * only): the mean of every valid depth, the most frequent labelled class. */
static ww_status baseline_constants(ww_eval *e, ww_dataset *d, int64_t n, uint64_t seed,
                                    int classes, char *err, size_t errlen)
{
    double sum = 0;
    uint64_t valid = 0, *counts = calloc((size_t)(classes > 0 ? classes : 1), sizeof *counts);
    if (!counts)
        return fail(err, errlen, WW_ERR_OUT_OF_MEMORY, "evaluation", "out of host memory");
    ww_status st = WW_OK;
    for (int64_t i = 0; i < n && st == WW_OK; i++) {
        ww_sample s;
        st = ww_dataset_get(d, i, seed, &s, err, errlen);
        if (st != WW_OK)
            break;
        size_t px = (size_t)s.width * (size_t)s.height;
        for (size_t p = 0; p < px; p++) {
            float g = s.target[p];
            if (e->task == WW_TASK_DEPTH && isfinite(g) && g > 0) {
                sum += g;
                valid++;
            } else if (e->task == WW_TASK_SEG && g >= 0 && g < (float)classes) {
                counts[(int)g]++;
            }
        }
        ww_sample_free(&s);
    }
    e->base_depth = valid ? sum / (double)valid : 1.0;
    e->base_class = 0;
    for (int c = 1; c < classes; c++)
        if (counts[c] > counts[e->base_class])
            e->base_class = c;
    free(counts);
    return st;
}

typedef struct buffers {
    float *out, *base;      /* model output (C planes), baseline prediction */
    uint32_t *ids, *gt, *base_ids;
} buffers;

static void buffers_free(buffers *b)
{
    free(b->out);
    free(b->base);
    free(b->ids);
    free(b->gt);
    free(b->base_ids);
    memset(b, 0, sizeof *b);
}

static int buffers_alloc(buffers *b, size_t px, int channels)
{
    buffers_free(b);
    b->out = malloc(px * (size_t)channels * sizeof *b->out);
    b->base = calloc(px * 2, sizeof *b->base);
    b->ids = malloc(px * sizeof *b->ids);
    b->gt = malloc(px * sizeof *b->gt);
    b->base_ids = malloc(px * sizeof *b->base_ids);
    return b->out && b->base && b->ids && b->gt && b->base_ids;
}

/* One sample through the runner into the accumulators. */
static ww_status add_sample(ww_eval *e, ww_backend *be, ww_model *m, ww_runner *run,
                            const ww_sample *s, buffers *b, char *err, size_t errlen)
{
    const ww_model_config *c = ww_model_config_of(m);
    size_t px = (size_t)s->width * (size_t)s->height;
    ww_image_layout lay;
    size_t bytes = ww_image_layout_packed(WW_FMT_RGB, s->width, s->height, &lay);
    int has = 0;
    ww_runner_reset(run);
    for (int f = 0; f < ww_task_frames(e->task); f++)
        if (ww_runner_push(run, s->image[f], bytes, &lay, &has) != WW_OK)
            goto backend;
    if (c->semseg) {
        if (ww_runner_labels(run, b->ids, NULL, px) != WW_OK)
            goto backend;
        for (size_t p = 0; p < px; p++)
            b->gt[p] = isfinite(s->target[p]) && s->target[p] >= 0 ? (uint32_t)s->target[p]
                                                                    : 255u;
        ww_seg_metrics_add(e->seg, b->ids, b->gt, px);
        for (size_t p = 0; p < px; p++)
            b->base_ids[p] = (uint32_t)e->base_class;
        ww_seg_metrics_add(e->seg_base, b->base_ids, b->gt, px);
        return WW_OK;
    }
    if (ww_runner_output(run, b->out, px * (size_t)c->out_channels) != WW_OK)
        goto backend;
    if (e->task == WW_TASK_FLOW) {
        ww_flow_metrics_add(&e->flow, b->out, s->target, s->width, s->height);
        ww_flow_metrics_add(&e->flow_base, b->base, s->target, s->width, s->height);
        return WW_OK;
    }
    /* the depth model predicts inverse depth; depths are capped as in the KITTI protocol */
    for (size_t p = 0; p < px; p++)
        b->out[p] = b->out[p] > 1.0f / WW_EVAL_MAX_DEPTH ? 1.0f / b->out[p] : WW_EVAL_MAX_DEPTH;
    ww_depth_metrics_add(&e->depth, b->out, s->target, px);
    for (size_t p = 0; p < px; p++)
        b->base[p] = (float)e->base_depth;
    ww_depth_metrics_add(&e->depth_base, b->base, s->target, px);
    return WW_OK;
backend:
    return fail(err, errlen, WW_ERR_INVALID, "evaluation", ww_backend_error(be));
}

ww_status ww_evaluate(ww_backend *be, ww_model *m, ww_dataset *d, int64_t max_images,
                      uint64_t seed, ww_eval *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const ww_model_config *c = ww_model_config_of(m);
    out->task = c->task;
    if (c->semseg && (ww_seg_metrics_create(c->out_channels, &out->seg, err, errlen) != WW_OK ||
                      ww_seg_metrics_create(c->out_channels, &out->seg_base, err, errlen) != WW_OK))
        return WW_ERR_INVALID;
    ww_flow_metrics_reset(&out->flow);
    ww_flow_metrics_reset(&out->flow_base);
    ww_depth_metrics_reset(&out->depth);
    ww_depth_metrics_reset(&out->depth_base);
    int64_t n = ww_dataset_size(d);
    if (max_images > 0 && n > max_images)
        n = max_images;
    ww_runner *run = NULL;
    buffers b = {0};
    int rw = 0, rh = 0;
    ww_status st = c->task == WW_TASK_FLOW
                       ? WW_OK
                       : baseline_constants(out, d, n, seed, c->out_channels, err, errlen);
    for (int64_t i = 0; i < n && st == WW_OK; i++) {
        ww_sample s;
        st = ww_dataset_get(d, i, seed, &s, err, errlen);
        if (st != WW_OK)
            break;
        if (!run || s.width != rw || s.height != rh) {
            ww_runner_destroy(run);
            run = NULL;
            rw = s.width;
            rh = s.height;
            if (!buffers_alloc(&b, (size_t)rw * (size_t)rh, c->out_channels))
                st = fail(err, errlen, WW_ERR_OUT_OF_MEMORY, "evaluation", "out of host memory");
            else if (ww_runner_create(m, rw, rh, WW_FMT_RGB, &run) != WW_OK)
                st = fail(err, errlen, WW_ERR_INVALID, "evaluation",
                          ww_backend_error(be));
        }
        if (st == WW_OK)
            st = add_sample(out, be, m, run, &s, &b, err, errlen);
        ww_sample_free(&s);
        out->images += st == WW_OK;
    }
    ww_runner_destroy(run);
    buffers_free(&b);
    if (st != WW_OK)
        ww_eval_free(out);
    return st;
}

void ww_eval_free(ww_eval *e)
{
    ww_seg_metrics_destroy(e->seg);
    ww_seg_metrics_destroy(e->seg_base);
    e->seg = e->seg_base = NULL;
}

static const char *baseline_name(ww_task t)
{
    return t == WW_TASK_FLOW ? "zero flow" : t == WW_TASK_DEPTH ? "mean depth" : "majority class";
}

/* The model's and the baseline's metrics as text (json 0) or JSON members (json 1). */
static void metrics_text(const ww_eval *e, int json, char *model, char *base, size_t n)
{
    if (e->task == WW_TASK_FLOW) {
        (json ? ww_flow_metrics_json : ww_flow_metrics_format)(&e->flow, model, n);
        (json ? ww_flow_metrics_json : ww_flow_metrics_format)(&e->flow_base, base, n);
    } else if (e->task == WW_TASK_DEPTH) {
        (json ? ww_depth_metrics_json : ww_depth_metrics_format)(&e->depth, model, n);
        (json ? ww_depth_metrics_json : ww_depth_metrics_format)(&e->depth_base, base, n);
    } else {
        (json ? ww_seg_metrics_json : ww_seg_metrics_format)(e->seg, model, n);
        (json ? ww_seg_metrics_json : ww_seg_metrics_format)(e->seg_base, base, n);
    }
}

int ww_eval_format(const ww_eval *e, char *buf, size_t n)
{
    char model[256], base[256];
    metrics_text(e, 0, model, base, sizeof model);
    return snprintf(buf, n, "%s (%s: %s)", model, baseline_name(e->task), base);
}

/* "a": 1, "b": 2 -> "baseline_a": 1, "baseline_b": 2, so the log stays one flat object. */
static void prefix_keys(const char *members, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = members; *p && k + 1 < n; p++) {
        if (*p == '"' && (p == members || (p - members >= 2 && p[-2] == ',' && p[-1] == ' '))) {
            int w = snprintf(out + k, n - k, "\"baseline_");
            k += w > 0 && (size_t)w < n - k ? (size_t)w : n - k - 1;
            continue;
        }
        out[k++] = *p;
    }
    out[k < n ? k : n - 1] = '\0';
}

int ww_eval_json(const ww_eval *e, char *buf, size_t n)
{
    char model[256], base[256], prefixed[512];
    metrics_text(e, 1, model, base, sizeof model);
    prefix_keys(base, prefixed, sizeof prefixed);
    return snprintf(buf, n, "%s, \"baseline\": \"%s\", %s", model, baseline_name(e->task),
                    prefixed);
}
