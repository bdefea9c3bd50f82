/* A training run: the loader's micro-batches (loader.c) -> the recorded step (train_graph.c) ->
 * AdamW, with the learning-rate schedule, a JSONL metrics log, a progress line, validation at
 * full resolution through the inference runner, atomic checkpoints every N steps, exact resume,
 * and a clean stop on a non-finite loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "dataset.h"
#include "evaluate.h"
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
    ww_loader *loader;
    double wait_s; /* waiting for the loader since the last log line */
    float *adam_m, *adam_v;
    int step, saved_step; /* optimiser steps done; the step of the checkpoint on disk */
    FILE *log;
    char path_ckpt[1024], path_log[1024], path_model[1024], path_svg[1024];
    char last_val[1024]; /* JSON fragment of the last validation */
    char meta_step[32], meta_names[8192], meta_palette[8192]; /* metadata() */
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

/* splitmix64's finaliser: seeds derived from the run's seed. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

ww_batch_spec ww_train_spec(const ww_train_options *o, const ww_model_config *c)
{
    int crop = o->mode == WW_MODE_CROP;
    ww_batch_spec spec = {.task = o->task, .batch = o->batch,
                          .width = crop ? o->crop_width : o->width,
                          .height = crop ? o->crop_height : o->height,
                          .windows = o->mode == WW_MODE_WINDOWS ? o->windows : 0,
                          .window_size = o->window_size,
                          .independent_windows = o->independent_windows,
                          .classes = c->semseg ? c->out_channels : 0};
    memcpy(spec.mean, c->mean, sizeof c->mean);
    memcpy(spec.std, c->std, sizeof c->std);
    return spec;
}

static void warn_data(void *user, const char *msg)
{
    (void)user;
    fprintf(stderr, "%swinwin-train: warning: %s\n", isatty(2) ? "\r\033[K" : "", msg);
}

ww_status ww_train_loader(const ww_train_options *o, const ww_model_config *c, ww_dataset **data,
                          ww_loader **loader, char *err, size_t errlen)
{
    *loader = NULL;
    ww_batch_spec spec = ww_train_spec(o, c);
    /* The augmentation zooms out as well as in, so it needs a list's files whole; synthetic
     * samples have no size of their own and are generated at the training size. */
    int synthetic = ww_dataset_spec_generated(o->data);
    ww_status st = ww_dataset_open(o->data, o->task, synthetic ? o->width : 0,
                                   synthetic ? o->height : 0, spec.classes, o->seed, data, err,
                                   errlen);
    if (st != WW_OK)
        return st;
    ww_augment augment = o->augment;
    augment.width = spec.width;
    augment.height = spec.height;
    ww_loader_config lc = {.data = *data, .spec = spec, .augment = &augment,
                           .threads = o->threads, .seed = o->seed, .warn = warn_data};
    st = ww_loader_create(&lc, loader, err, errlen);
    if (st != WW_OK) {
        ww_dataset_close(*data);
        *data = NULL;
    }
    return st;
}

/* Micro-batch `micro` of the coming step: position step * accum + micro of the loader, which
 * makes a resumed run read what the uninterrupted one would have. */
static int next_batch(run *r, int micro, const ww_loader_batch **out)
{
    const ww_train_options *o = r->o;
    char err[1024];
    double t = now();
    ww_status st = ww_loader_get(r->loader, (int64_t)r->step * o->accum + micro, out, err,
                                 sizeof err);
    r->wait_s += now() - t;
    if (st != WW_OK)
        return fail("data", err);
    if (o->inject_nan == r->step + 1) {
        size_t n, unused;
        ww_batch_sizes(&r->spec, &n, &unused, &unused, &unused);
        for (size_t i = 0; i < n; i++)
            (*out)->images[i] = NAN;
    }
    return 0;
}

/* ---- Validation at full resolution ----------------------------------------------------------- */

static int validate(run *r)
{
    const ww_train_options *o = r->o;
    char err[1024];
    ww_eval e;
    if (ww_evaluate(r->be, r->m, r->val, o->val_samples, mix(o->seed ^ 0x5eed), &e, err,
                    sizeof err) != WW_OK)
        return fail("validation", err);
    char text[1024];
    ww_eval_format(&e, text, sizeof text);
    ww_eval_json(&e, r->last_val, sizeof r->last_val);
    fprintf(stderr, "%sstep %d validation (%lld images at full resolution): %s\n",
            r->tty ? "\r\033[K" : "", r->step, (long long)e.images, text);
    fprintf(r->log, "{\"step\": %d, \"val\": 1, %s}\n", r->step, r->last_val);
    fflush(r->log);
    ww_eval_free(&e);
    return 0;
}

/* ---- Checkpoints and the log ----------------------------------------------------------------- */

enum { META_PAIRS = 7 };

/* The run's provenance for the weights' metadata (pairs = key, value, ...; at most
 * META_PAIRS - 1 pairs, leaving room for the step; the strings live in r): the command, data,
 * mode and last validation, and for segmentation the training data's class names and palette in
 * convert_croco.py's format. */
static int metadata(run *r, const char **pairs)
{
    const char *fixed[] = {"train.command", r->o->command, "train.data", r->o->data,
                           "train.mode", ww_train_mode_name(r->o->mode),
                           "train.metrics", r->last_val};
    int n = (int)(sizeof fixed / sizeof fixed[0]) / 2;
    memcpy(pairs, fixed, sizeof fixed);
    const ww_model_config *c = ww_model_config_of(r->m);
    int classes = ww_dataset_class_count(r->data);
    if (!c->semseg || classes != c->out_channels)
        return n;
    size_t nn = 0, np = 0;
    r->meta_names[0] = r->meta_palette[0] = '\0';
    for (int i = 0; i < classes; i++) {
        uint8_t rgb[3];
        ww_dataset_class_color(r->data, i, rgb);
        if (nn < sizeof r->meta_names)
            nn += (size_t)snprintf(r->meta_names + nn, sizeof r->meta_names - nn,
                                   i ? ",%s" : "%s", ww_dataset_class_name(r->data, i));
        if (np < sizeof r->meta_palette)
            np += (size_t)snprintf(r->meta_palette + np, sizeof r->meta_palette - np,
                                   i ? ";%d,%d,%d" : "%d,%d,%d", rgb[0], rgb[1], rgb[2]);
    }
    if (nn >= sizeof r->meta_names || np >= sizeof r->meta_palette)
        return n; /* too many classes to name: the metadata stays without them */
    pairs[2 * n] = "classes";
    pairs[2 * n + 1] = r->meta_names;
    pairs[2 * n + 2] = "palette";
    pairs[2 * n + 3] = r->meta_palette;
    return n + 2;
}

static int save_checkpoint(run *r)
{
    size_t n = (size_t)ww_model_parameters(r->m);
    if (ww_train_graph_read_moments(r->g, r->adam_m, r->adam_v, n) != WW_OK)
        return fail("checkpoint", ww_backend_error(r->be));
    ww_checkpoint_state st = {r->step};
    const char *meta[2 * META_PAIRS];
    if (ww_checkpoint_save(r->m, r->path_ckpt, r->adam_m, r->adam_v, &st, meta,
                           metadata(r, meta)) != WW_OK)
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

static void progress(run *r, float loss, float lr, double rate, double wait_ms)
{
    const ww_train_options *o = r->o;
    double eta = rate > 0 ? (o->steps - r->step) * o->batch * o->accum / rate : 0;
    int width = 24, done = (int)((double)r->step / o->steps * width);
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < done ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr,
            "%sstep %d/%d [%s] loss %.4f lr %.2e %.2f samples/s data wait %.0f ms/step ETA "
            "%02d:%02d:%02d%s",
            r->tty ? "\r\033[K" : "", r->step, o->steps, bar, loss, lr, rate, wait_ms,
            (int)(eta / 3600), (int)(eta / 60) % 60, (int)eta % 60, r->tty ? "" : "\n");
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
    r->spec = ww_train_spec(o, c);
    size_t ni, nw, nt, nwt;
    ww_batch_sizes(&r->spec, &ni, &nw, &nt, &nwt);
    size_t gi, gw, gt, gwt;
    ww_train_graph_sizes(r->g, &gi, &gw, &gt, &gwt);
    if (ni != gi || nw != gw || nt != gt || nwt != gwt)
        return fail("batch", "the batch layout does not match the training graph's");
    if (ww_train_loader(o, c, &r->data, &r->loader, err, sizeof err) != WW_OK)
        return fail("--data", err);
    if (ww_dataset_open(o->val_data, o->task, o->val_width, o->val_height, r->spec.classes,
                        o->seed ^ 0x7a11da7eull, &r->val, err, sizeof err) != WW_OK)
        return fail("--val-data", err);
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
    if (o->resume) {
        ww_checkpoint_state st;
        if (ww_checkpoint_load_state(r->path_ckpt, r->adam_m, r->adam_v, n, &st, err,
                                     sizeof err) != WW_OK)
            return fail("--resume", err);
        if (ww_train_graph_write_moments(r->g, r->adam_m, r->adam_v, n) != WW_OK)
            return fail("--resume", ww_backend_error(r->be));
        r->step = r->saved_step = st.step;
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
    char augment[256];
    ww_augment_describe(&o->augment, augment, sizeof augment);
    char threads[32] = "one per CPU";
    if (o->threads)
        snprintf(threads, sizeof threads, "%d", o->threads);
    fprintf(stderr, "winwin-train: data %s, augmentation: %s; loader threads: %s\n", o->data,
            augment, threads);
    return 0;
}

static void teardown(run *r)
{
    if (r->log)
        fclose(r->log);
    free(r->adam_m);
    free(r->adam_v);
    ww_loader_destroy(r->loader);
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
            const ww_loader_batch *data;
            if (next_batch(r, k, &data))
                return 1;
            ww_train_batch b = {data->images, data->windows, data->target, data->weight};
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
            double wait_ms = 1e3 * r->wait_s / steps_logged;
            fprintf(r->log,
                    "{\"step\": %d, \"loss\": %.6g, \"lr\": %.6g, \"grad_norm\": %.6g, "
                    "\"samples_per_s\": %.4g, \"data_wait_ms\": %.4g, \"elapsed_s\": %.1f}\n",
                    r->step, loss, lr, norm, rate, wait_ms, t - r->t0);
            fflush(r->log);
            progress(r, loss, lr, rate, wait_ms);
            t_log = t;
            steps_logged = 0;
            r->wait_s = 0;
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
    const char *meta[2 * META_PAIRS];
    int n = metadata(r, meta);
    snprintf(r->meta_step, sizeof r->meta_step, "%d", r->step);
    meta[2 * n] = "train.step";
    meta[2 * n + 1] = r->meta_step;
    if (ww_model_save(r->m, r->path_model, meta, n + 1, NULL, 0) != WW_OK)
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
