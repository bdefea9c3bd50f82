/* The learning-rate schedule of the trainer: linear warmup, then cosine decay to a floor. */
#ifndef WW_TRAIN_SCHEDULE_H
#define WW_TRAIN_SCHEDULE_H

typedef struct ww_lr_schedule {
    float lr;     /* peak, reached at the end of warmup */
    float min_lr; /* floor, reached at `steps` and kept after it */
    int warmup;   /* warmup steps; <= 0: none */
    int steps;    /* total optimiser steps */
} ww_lr_schedule;

/* The learning rate of optimiser step `step` (1-based; a step below 1 counts as 1):
 *   step <= warmup:  lr * step / warmup
 *   after warmup:    min_lr + 0.5 (lr - min_lr) (1 + cos(pi t)),
 *                    t = (step - warmup) / max(1, steps - warmup)
 *   step >= steps:   min_lr (when steps <= warmup, warmup hands over straight to min_lr) */
float ww_lr_at(const ww_lr_schedule *s, int step);

#endif
