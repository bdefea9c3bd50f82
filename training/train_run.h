/* winwin-train's commands: a training run (train_run.c), checkpoints (checkpoint.c) and the
 * training-step benchmark (train_bench.c), sharing the options parsed by winwin_train.c. */
#ifndef WW_TRAIN_RUN_H
#define WW_TRAIN_RUN_H

#include <stdint.h>

#include "model.h"
#include "rng.h"

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

/* Train with o; returns the process exit status (0, or 1 after printing why). */
int ww_train_run(const ww_train_options *o);
/* Step time and peak memory of --full, --crop and windows per device; returns the exit status. */
int ww_train_bench(const ww_train_options *o, const char *const *devices, int ndevices,
                   int steps, const char *csv_path);

/* Training state beside the weights in a checkpoint. */
typedef struct ww_checkpoint_state {
    int step;   /* optimiser steps done */
    ww_rng rng; /* the run's random state after that step */
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
