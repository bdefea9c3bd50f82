/* A training run: data -> micro-batches -> the recorded step (train_graph.c) -> AdamW, with the
 * learning-rate schedule, a JSONL metrics log, a progress line, validation at full resolution
 * through the inference runner, atomic checkpoints every N steps, exact resume, and a clean stop
 * on a non-finite loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "dataset.h"
#include "metrics.h"
#include "plot.h"
#include "schedule.h"
#include "train_graph.h"
#include "train_run.h"

typedef struct run {
    const ww_train_options *o;
    ww_backend *be;
    ww_model *m;
    ww_train_graph *g;
    ww_dataset *data, *val;
    ww_batch_spec spec;
    ww_sample *samples, *crops;
    float *images, *target, *weight;
    uint32_t *windows;
    float *adam_m, *adam_v;
    ww_rng rng;
    int step, saved_step; /* optimiser steps done; the step of the checkpoint on disk */
    FILE *log;
    char path_ckpt[1024], path_log[1024], path_model[1024], path_svg[1024];
    char last_val[512]; /* JSON fragment of the last validation */
    double t0;
    int tty;
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "winwin-train: %s: %s\n", what, msg);
    return 1;
}

int ww_default_window_size(int gh, int gw)
{
    int s = (int)floor(sqrt(0.135 * gh * gw));
    s -= s % 2;
    int lim = gh < gw ? gh : gw;
    if (s > lim)
        s = lim - lim % 2;
    return s < 2 ? 2 : s;
}

const char *ww_train_mode_name(ww_train_mode m)
{
    return m == WW_MODE_FULL ? "full" : m == WW_MODE_CROP ? "crop" : "windows";
}

/* ---- Data ------------------------------------------------------------------------------------ */

/* Sample b of optimiser step `step`, micro-batch `micro`: index and seed depend only on the run
 * seed and the position, so a resumed run reads what the uninterrupted one would have. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int load_batch(run *r, int micro)
{
    const ww_train_options *o = r->o;
    char err[1024];
    int64_t size = ww_dataset_size(r->data);
    for (int b = 0; b < o->batch; b++) {
        uint64_t key = mix(mix(o->seed) ^ ((uint64_t)r->step << 20) ^ ((uint64_t)micro << 10) ^
                           (uint64_t)b);
        ww_sample_free(&r->samples[b]);
        if (ww_dataset_get(r->data, (int64_t)(key % (uint64_t)size), mix(key), &r->samples[b], err,
                           sizeof err) != WW_OK)
            return fail("data", err);
        if (o->mode == WW_MODE_CROP) {
            const ww_sample *s = &r->samples[b];
            int x0 = (int)ww_rng_below(&r->rng, (uint32_t)(s->width - o->crop_width + 1));
            int y0 = (int)ww_rng_below(&r->rng, (uint32_t)(s->height - o->crop_height + 1));
            ww_sample_free(&r->crops[b]);
            if (ww_sample_crop(s, o->task, x0, y0, o->crop_width, o->crop_height, &r->crops[b],
                               err, sizeof err) != WW_OK)
                return fail("crop", err);
        }
    }
    const ww_sample *src = o->mode == WW_MODE_CROP ? r->crops : r->samples;
    if (ww_batch_fill(&r->spec, src, &r->rng, r->images, r->windows, r->target, r->weight, NULL,
                      err, sizeof err) != WW_OK)
        return fail("batch", err);
    if (o->inject_nan == r->step + 1) {
        size_t n, unused;
        ww_batch_sizes(&r->spec, &n, &unused, &unused, &unused);
        for (size_t i = 0; i < n; i++)
            r->images[i] = NAN;
    }
    return 0;
}

/* ---- Validation at full resolution ----------------------------------------------------------- */

static int validate(run *r)
{
    const ww_train_options *o = r->o;
    const ww_model_config *c = ww_model_config_of(r->m);
    char err[1024];
    ww_flow_metrics fm;
    ww_depth_metrics dm;
    ww_seg_metrics *sm = NULL;
    ww_flow_metrics_reset(&fm);
    ww_depth_metrics_reset(&dm);
    if (c->semseg && ww_seg_metrics_create(c->out_channels, &sm, err, sizeof err) != WW_OK)
        return fail("validation", err);
    ww_runner *run_ = NULL;
    int rw = 0, rh = 0, status = 0;
    int64_t n = ww_dataset_size(r->val);
    if (o->val_samples > 0 && n > o->val_samples)
        n = o->val_samples;
    float *out = NULL, *depth = NULL;
    uint32_t *ids = NULL, *gt = NULL;
    for (int64_t i = 0; i < n && !status; i++) {
        ww_sample s = {0};
        if (ww_dataset_get(r->val, i, mix(o->seed ^ 0x5eed), &s, err, sizeof err) != WW_OK) {
            status = fail("validation data", err);
            break;
        }
        size_t px = (size_t)s.width * (size_t)s.height;
        if (!run_ || s.width != rw || s.height != rh) {
            ww_runner_destroy(run_);
            run_ = NULL;
            rw = s.width;
            rh = s.height;
            free(out);
            free(depth);
            free(ids);
            free(gt);
            out = malloc(px * (size_t)c->out_channels * sizeof *out);
            depth = malloc(px * sizeof *depth);
            ids = malloc(px * sizeof *ids);
            gt = malloc(px * sizeof *gt);
            if (!out || !depth || !ids || !gt) {
                status = fail("validation", "out of host memory");
            } else if (ww_runner_create(r->m, rw, rh, WW_FMT_RGB, &run_) != WW_OK) {
                status = fail("validation", ww_backend_error(r->be));
            }
        }
        ww_image_layout lay;
        size_t bytes = ww_image_layout_packed(WW_FMT_RGB, rw, rh, &lay);
        int has = 0;
        for (int f = 0; f < ww_task_frames(o->task) && !status; f++) {
            if (f == 0)
                ww_runner_reset(run_);
            if (ww_runner_push(run_, s.image[f], bytes, &lay, &has) != WW_OK)
                status = fail("validation", ww_backend_error(r->be));
        }
        if (!status && c->semseg) {
            if (ww_runner_labels(run_, ids, NULL, px) != WW_OK)
                status = fail("validation", ww_backend_error(r->be));
            for (size_t p = 0; p < px; p++)
                gt[p] = isfinite(s.target[p]) && s.target[p] >= 0 ? (uint32_t)s.target[p] : 255u;
            ww_seg_metrics_add(sm, ids, gt, px);
        } else if (!status) {
            if (ww_runner_output(run_, out, px * (size_t)c->out_channels) != WW_OK)
                status = fail("validation", ww_backend_error(r->be));
            if (o->task == WW_TASK_FLOW) {
                ww_flow_metrics_add(&fm, out, s.target, rw, rh);
            } else {
                /* the depth model predicts inverse depth */
                for (size_t p = 0; p < px; p++)
                    depth[p] = out[p] > 0 ? 1.0f / out[p] : 0.0f;
                ww_depth_metrics_add(&dm, depth, s.target, px);
            }
        }
        ww_sample_free(&s);
    }
    ww_runner_destroy(run_);
    free(out);
    free(depth);
    free(ids);
    free(gt);
    if (!status) {
        char text[256];
        if (o->task == WW_TASK_FLOW) {
            ww_flow_metrics_format(&fm, text, sizeof text);
            ww_flow_metrics_json(&fm, r->last_val, sizeof r->last_val);
        } else if (c->semseg) {
            ww_seg_metrics_format(sm, text, sizeof text);
            ww_seg_metrics_json(sm, r->last_val, sizeof r->last_val);
        } else {
            ww_depth_metrics_format(&dm, text, sizeof text);
            ww_depth_metrics_json(&dm, r->last_val, sizeof r->last_val);
        }
        fprintf(stderr, "%sstep %d validation (%lld images at full resolution): %s\n",
                r->tty ? "\r\033[K" : "", r->step, (long long)n, text);
        fprintf(r->log, "{\"step\": %d, \"val\": 1, %s}\n", r->step, r->last_val);
        fflush(r->log);
    }
    ww_seg_metrics_destroy(sm);
    return status;
}

/* ---- Checkpoints and the log ----------------------------------------------------------------- */

static int save_checkpoint(run *r)
{
    size_t n = (size_t)ww_model_parameters(r->m);
    if (ww_train_graph_read_moments(r->g, r->adam_m, r->adam_v, n) != WW_OK)
        return fail("checkpoint", ww_backend_error(r->be));
    ww_checkpoint_state st = {r->step, r->rng};
    const char *meta[] = {"train.command", r->o->command, "train.data", r->o->data,
                          "train.mode", ww_train_mode_name(r->o->mode),
                          "train.metrics", r->last_val};
    if (ww_checkpoint_save(r->m, r->path_ckpt, r->adam_m, r->adam_v, &st, meta, 4) != WW_OK)
        return fail("checkpoint", ww_backend_error(r->be));
    r->saved_step = r->step;
    return 0;
}

/* After a resume, drop the log lines of steps the checkpoint does not hold (written by the run
 * that was killed), so the log reads as one uninterrupted run. */
static int trim_log(run *r)
{
    FILE *f = fopen(r->path_log, "r");
    if (!f)
        return 0;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", r->path_log);
    FILE *w = fopen(tmp, "w");
    if (!w) {
        fclose(f);
        return fail(tmp, "cannot write");
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"step\": ");
        if (!p || atol(p + 8) <= r->step)
            fputs(line, w);
    }
    fclose(f);
    int bad = fclose(w) != 0 || rename(tmp, r->path_log) != 0;
    return bad ? fail(r->path_log, "cannot rewrite the metrics log") : 0;
}

static void progress(run *r, float loss, float lr, double rate)
{
    const ww_train_options *o = r->o;
    double eta = rate > 0 ? (o->steps - r->step) * o->batch * o->accum / rate : 0;
    int width = 24, done = (int)((double)r->step / o->steps * width);
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < done ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "%sstep %d/%d [%s] loss %.4f lr %.2e %.2f samples/s ETA %02d:%02d:%02d%s",
            r->tty ? "\r\033[K" : "", r->step, o->steps, bar, loss, lr, rate, (int)(eta / 3600),
            (int)(eta / 60) % 60, (int)eta % 60, r->tty ? "" : "\n");
}

/* ---- Set-up ---------------------------------------------------------------------------------- */

static int open_model(run *r)
{
    const ww_train_options *o = r->o;
    const char *src = o->resume ? r->path_ckpt : o->model;
    ww_model_config cfg;
    if (!o->resume && ww_model_preset(o->model, o->task, &cfg) == WW_OK) {
        if (o->task == WW_TASK_SEG && o->classes > 0)
            cfg.out_channels = o->classes;
        if (ww_model_create(r->be, &cfg, o->seed, &r->m) != WW_OK)
            return fail(o->model, ww_backend_error(r->be));
    } else if (ww_model_load(r->be, src, &r->m) != WW_OK) {
        return fail("model", ww_backend_error(r->be));
    }
    if (ww_model_config_of(r->m)->task != o->task)
        return fail(src, "the model is for another task");
    return 0;
}

static int open_data(run *r)
{
    const ww_train_options *o = r->o;
    const ww_model_config *c = ww_model_config_of(r->m);
    char err[1024];
    int classes = c->semseg ? c->out_channels : 0;
    if (ww_dataset_open(o->data, o->task, o->width, o->height, classes, o->seed, &r->data, err,
                        sizeof err) != WW_OK)
        return fail("--data", err);
    if (ww_dataset_size(r->data) < 1)
        return fail(o->data, "the dataset is empty");
    if (ww_dataset_open(o->val_data, o->task, o->val_width, o->val_height, classes,
                        o->seed ^ 0x7a11da7eull, &r->val, err, sizeof err) != WW_OK)
        return fail("--val-data", err);
    int crop = o->mode == WW_MODE_CROP;
    r->spec = (ww_batch_spec){.task = o->task, .batch = o->batch,
                              .width = crop ? o->crop_width : o->width,
                              .height = crop ? o->crop_height : o->height,
                              .windows = o->mode == WW_MODE_WINDOWS ? o->windows : 0,
                              .window_size = o->window_size,
                              .independent_windows = o->independent_windows,
                              .classes = classes};
    memcpy(r->spec.mean, c->mean, sizeof c->mean);
    memcpy(r->spec.std, c->std, sizeof c->std);
    size_t ni, nw, nt, nwt;
    ww_batch_sizes(&r->spec, &ni, &nw, &nt, &nwt);
    size_t gi, gw, gt, gwt;
    ww_train_graph_sizes(r->g, &gi, &gw, &gt, &gwt);
    if (ni != gi || nw != gw || nt != gt || nwt != gwt)
        return fail("batch", "the batch layout does not match the training graph's");
    r->images = malloc(ni * sizeof *r->images);
    r->windows = malloc((nw ? nw : 1) * sizeof *r->windows);
    r->target = malloc(nt * sizeof *r->target);
    r->weight = malloc(nwt * sizeof *r->weight);
    r->samples = calloc((size_t)o->batch, sizeof *r->samples);
    r->crops = calloc((size_t)o->batch, sizeof *r->crops);
    if (!r->images || !r->windows || !r->target || !r->weight || !r->samples || !r->crops)
        return fail("batch", "out of host memory");
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        mkdir(p, 0777);
        *s = '/';
    }
    mkdir(p, 0777);
    return access(p, W_OK);
}

static int setup(run *r)
{
    const ww_train_options *o = r->o;
    char err[1024];
    if (make_dirs(o->out_dir))
        return fail(o->out_dir, "cannot create the output folder");
    snprintf(r->path_ckpt, sizeof r->path_ckpt, "%s/checkpoint.safetensors", o->out_dir);
    snprintf(r->path_log, sizeof r->path_log, "%s/metrics.jsonl", o->out_dir);
    snprintf(r->path_model, sizeof r->path_model, "%s/model.safetensors", o->out_dir);
    snprintf(r->path_svg, sizeof r->path_svg, "%s/curves.svg", o->out_dir);
    ww_backend_options bo = {.device = o->device};
    if (ww_backend_create(&bo, &r->be, err, sizeof err) != WW_OK)
        return fail("--device", err);
    if (open_model(r))
        return 1;
    int crop = o->mode == WW_MODE_CROP;
    ww_train_shape shape = {.batch = o->batch, .width = crop ? o->crop_width : o->width,
                            .height = crop ? o->crop_height : o->height,
                            .windows = o->mode == WW_MODE_WINDOWS ? o->windows : 0,
                            .window_size = o->window_size};
    ww_optim_config opt = {o->beta1, o->beta2, 1e-8f, o->weight_decay, o->clip};
    if (ww_train_graph_create(r->m, &shape, &opt, &r->g) != WW_OK)
        return fail("training graph", ww_backend_error(r->be));
    size_t n = (size_t)ww_model_parameters(r->m);
    r->adam_m = malloc(n * sizeof *r->adam_m);
    r->adam_v = malloc(n * sizeof *r->adam_v);
    if (!r->adam_m || !r->adam_v)
        return fail("optimiser", "out of host memory");
    ww_rng_seed(&r->rng, o->seed);
    if (o->resume) {
        ww_checkpoint_state st;
        if (ww_checkpoint_load_state(r->path_ckpt, r->adam_m, r->adam_v, n, &st, err,
                                     sizeof err) != WW_OK)
            return fail("--resume", err);
        if (ww_train_graph_write_moments(r->g, r->adam_m, r->adam_v, n) != WW_OK)
            return fail("--resume", ww_backend_error(r->be));
        r->step = r->saved_step = st.step;
        r->rng = st.rng;
        if (trim_log(r))
            return 1;
    }
    if (open_data(r))
        return 1;
    r->log = fopen(r->path_log, o->resume ? "a" : "w");
    if (!r->log)
        return fail(r->path_log, "cannot write the metrics log");
    const ww_model_config *c = ww_model_config_of(r->m);
    fprintf(r->log,
            "{\"run\": \"%s\", \"task\": \"%s\", \"mode\": \"%s\", \"device\": \"%s\", "
            "\"parameters\": %lld, \"resumed_at\": %d}\n",
            o->command, ww_task_name(o->task), ww_train_mode_name(o->mode),
            ww_backend_device_name(r->be), (long long)ww_model_parameters(r->m), r->step);
    fflush(r->log);
    fprintf(stderr,
            "winwin-train: %s, %s (%lld parameters, enc %d x %d%s), %s on %dx%d%s, batch %d x %d, "
            "%s; training state %.1f MiB\n",
            ww_task_name(o->task), o->resume ? r->path_ckpt : o->model,
            (long long)ww_model_parameters(r->m), c->enc_dim, c->enc_depth,
            c->dec_depth ? " + decoder" : "", ww_train_mode_name(o->mode), shape.width,
            shape.height, "", o->batch, o->accum, ww_backend_device_name(r->be),
            (double)ww_train_graph_memory(r->g) / (1 << 20));
    if (o->mode == WW_MODE_WINDOWS)
        fprintf(stderr, "winwin-train: %d windows of %dx%d tokens of the %dx%d grid\n", o->windows,
                o->window_size, o->window_size, o->width / 16, o->height / 16);
    return 0;
}

static void teardown(run *r)
{
    if (r->log)
        fclose(r->log);
    for (int b = 0; r->samples && b < r->o->batch; b++)
        ww_sample_free(&r->samples[b]);
    for (int b = 0; r->crops && b < r->o->batch; b++)
        ww_sample_free(&r->crops[b]);
    free(r->samples);
    free(r->crops);
    free(r->images);
    free(r->windows);
    free(r->target);
    free(r->weight);
    free(r->adam_m);
    free(r->adam_v);
    ww_dataset_close(r->data);
    ww_dataset_close(r->val);
    ww_train_graph_destroy(r->g);
    ww_model_destroy(r->m);
    ww_backend_destroy(r->be);
}

/* ---- The loop -------------------------------------------------------------------------------- */

static int train(run *r)
{
    const ww_train_options *o = r->o;
    ww_lr_schedule sched = {o->lr, o->min_lr, o->warmup, o->steps};
    double t_log = now();
    int steps_logged = 0;
    while (r->step < o->steps) {
        float lr = ww_lr_at(&sched, r->step + 1), loss_sum = 0;
        for (int k = 0; k < o->accum; k++) {
            if (load_batch(r, k))
                return 1;
            ww_train_batch b = {r->images, r->windows, r->target, r->weight};
            ww_step_scalars sc = {lr, r->step + 1, 1.0f / (float)o->accum};
            float loss;
            if (ww_train_graph_step(r->g, &b, k == o->accum - 1, &sc, &loss) != WW_OK)
                return fail("training step", ww_backend_error(r->be));
            loss_sum += loss;
        }
        float loss = loss_sum / (float)o->accum, norm = ww_train_graph_grad_norm(r->g);
        /* A ReLU can hide a NaN from the loss but not from the gradient. */
        if (!isfinite(loss) || !isfinite(norm)) {
            float bad = isfinite(loss) ? norm : loss;
            fprintf(stderr,
                    "%swinwin-train: the %s is %s at step %d: stopping without saving this "
                    "step. The last good checkpoint is %s (step %d); lower --lr or check the "
                    "data, then --resume.\n",
                    r->tty ? "\r\033[K" : "", isfinite(loss) ? "gradient norm" : "loss",
                    isnan(bad) ? "NaN" : "infinite", r->step + 1,
                    r->saved_step ? r->path_ckpt : "none", r->saved_step);
            fprintf(r->log, "{\"step\": %d, \"error\": \"non-finite loss\"}\n", r->step + 1);
            return 1;
        }
        r->step++;
        steps_logged++;
        int last = r->step == o->steps;
        if (r->step % o->log_every == 0 || last) {
            double t = now(), rate = steps_logged * o->batch * o->accum / (t - t_log);
            fprintf(r->log,
                    "{\"step\": %d, \"loss\": %.6g, \"lr\": %.6g, \"grad_norm\": %.6g, "
                    "\"samples_per_s\": %.4g, \"elapsed_s\": %.1f}\n",
                    r->step, loss, lr, norm, rate, t - r->t0);
            fflush(r->log);
            progress(r, loss, lr, rate);
            t_log = t;
            steps_logged = 0;
        }
        if ((o->val_every > 0 && r->step % o->val_every == 0) || last)
            if (validate(r))
                return 1;
        if (r->step % o->checkpoint_every == 0 || last)
            if (save_checkpoint(r))
                return 1;
    }
    return 0;
}

static int finish(run *r)
{
    char err[1024];
    const char *meta[] = {"train.command", r->o->command, "train.data", r->o->data,
                          "train.mode", ww_train_mode_name(r->o->mode),
                          "train.metrics", r->last_val};
    char step[32];
    snprintf(step, sizeof step, "%d", r->step);
    const char *all[10];
    memcpy(all, meta, sizeof meta);
    all[8] = "train.step";
    all[9] = step;
    if (ww_model_save(r->m, r->path_model, all, 5, NULL, 0) != WW_OK)
        return fail("export", ww_backend_error(r->be));
    fclose(r->log);
    r->log = NULL;
    if (ww_plot_svg(r->path_log, r->path_svg, err, sizeof err) != WW_OK)
        return fail("plot", err);
    fprintf(stderr, "%swinwin-train: done: %s (weights), %s, %s, %s\n", r->tty ? "\r\033[K" : "",
            r->path_model, r->path_ckpt, r->path_log, r->path_svg);
    return 0;
}

int ww_train_run(const ww_train_options *o)
{
    run r = {.o = o, .t0 = now(), .tty = isatty(2)};
    int status = setup(&r);
    if (!status && r.step >= o->steps)
        fprintf(stderr, "winwin-train: the checkpoint is already at step %d of %d\n", r.step,
                o->steps);
    if (!status)
        status = train(&r);
    if (!status)
        status = finish(&r);
    teardown(&r);
    return status;
}
