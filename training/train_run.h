/* winwin-train's commands: a training run (train_run.c), checkpoints (checkpoint.c), the
 * training-step benchmark (train_bench.c) and the loader benchmark (loader_bench.c), sharing the
 * options parsed by winwin_train.c. */
#ifndef WW_TRAIN_RUN_H
#define WW_TRAIN_RUN_H

#include <stdint.h>

#include "augment.h"
#include "batch.h"
#include "dataset.h"
#include "loader.h"
#include "model.h"

typedef enum ww_train_mode { WW_MODE_WINDOWS = 0, WW_MODE_FULL, WW_MODE_CROP } ww_train_mode;

typedef struct ww_train_options {
    ww_task task;
    const char *model;     /* preset name or weights file */
    int classes;           /* seg presets */
    const char *data, *val_data;
    int width, height;     /* training images */
    int val_width, val_height; /* synthetic validation images (list data: each file's size) */
    ww_train_mode mode;
    int windows, window_size;
    int crop_width, crop_height;
    int independent_windows;
    int batch, accum, steps, warmup;
    int threads;           /* data loader workers; 0: one per online CPU */
    ww_augment augment;    /* of the training data; its output size is set by the run */
    float lr, min_lr, weight_decay, beta1, beta2, clip;
    const char *device;
    const char *out_dir;
    int resume;
    int checkpoint_every, val_every, log_every, val_samples;
    uint64_t seed;
    int inject_nan;        /* step whose batch is poisoned with NaN (tests); 0: none */
    const char *command;   /* the command line, for the metadata */
} ww_train_options;

/* The even window side (tokens) whose 2 windows cover about 27% of a gh x gw grid, the paper's
 * segmentation setting (2 x 22 x 22 of 80 x 45). */
int ww_default_window_size(int gh, int gw);
const char *ww_train_mode_name(ww_train_mode m);

/* The micro-batches o trains on with a model of configuration c: the training size (the crop
 * with --crop), the windows, c's normalisation and classes. */
ww_batch_spec ww_train_spec(const ww_train_options *o, const ww_model_config *c);
/* Open o's training data and start a loader of ww_train_spec's micro-batches, augmented as
 * o->augment says to their size, with o->threads workers, seeded by o->seed; skipped samples are
 * reported on stderr. List data is opened at each file's own size (the augmentation zooms and
 * crops it), synthetic data generated at --size. The caller owns both: ww_loader_destroy, then
 * ww_dataset_close. Errors name the option. */
ww_status ww_train_loader(const ww_train_options *o, const ww_model_config *c, ww_dataset **data,
                          ww_loader **loader, char *err, size_t errlen);

/* Train with o; returns the process exit status (0, or 1 after printing why). */
int ww_train_run(const ww_train_options *o);
/* Step time and peak memory of --full, --crop and windows per device; returns the exit status. */
int ww_train_bench(const ww_train_options *o, const char *const *devices, int ndevices,
                   int steps, const char *csv_path);
/* Samples per second of o's loader with 1, 2, 4, ... up to o->threads workers over `batches`
 * micro-batches each; with step_ms > 0 also the mean wait per step of a trainer whose step takes
 * step_ms. Returns the exit status. */
int ww_loader_bench(const ww_train_options *o, int batches, double step_ms);

/* winwin-train eval (train_eval.c): argv[1] is "eval"; returns the exit status. */
int ww_train_eval_main(int argc, char **argv);

/* Training state beside the weights in a checkpoint. The data need no state: the loader's
 * batches are a function of the seed and the step. */
typedef struct ww_checkpoint_state {
    int step; /* optimiser steps done */
} ww_checkpoint_state;

/* Write model m with the AdamW moments (nparams floats each), the state and the metadata pairs
 * (meta = key, value, ...) to path atomically. Errors go to the backend's message. */
ww_status ww_checkpoint_save(ww_model *m, const char *path, const float *adam_m,
                             const float *adam_v, const ww_checkpoint_state *st,
                             const char *const *meta, int nmeta_pairs);
/* Read the AdamW moments (caller-allocated, count floats each) and the state of the checkpoint
 * at path; errors name the file and the missing or bad entry. */
ww_status ww_checkpoint_load_state(const char *path, float *adam_m, float *adam_v, size_t count,
                                   ww_checkpoint_state *st, char *err, size_t errlen);

#endif
