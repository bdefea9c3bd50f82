/* A training step of a CroCo-family model, recorded once per input shape and re-submitted:
 * forward (keeping what backward needs, llm.c style), loss, backward (accumulating into one flat
 * gradient array zeroed once per optimiser step) and AdamW over the flat parameter array.
 *
 * Win-Win masking: with windows > 0 each image keeps `windows` squares of window_size x
 * window_size tokens; the kept tokens go through the transformer in window order, row-major
 * inside a window, each with its true (y, x) grid position for RoPE; the rest are dropped from
 * the sequence. The DPT head runs on each window's own grid, so the output and the targets are
 * per window: [B * windows, C, 16 * window_size, 16 * window_size]. With windows = 0 every
 * token is kept and the output covers the whole image ([B, C, H, W]): the --full baseline, and
 * the --crop baseline on a smaller image.
 */
#ifndef WW_TRAIN_GRAPH_H
#define WW_TRAIN_GRAPH_H

#include "model.h"

typedef struct ww_train_shape {
    int batch;         /* images (flow: frame pairs) per micro-batch */
    int width, height; /* input size in pixels, multiples of 32 */
    int windows;       /* 0: every token; else windows per image */
    int window_size;   /* window side in tokens: even, at most the token grid */
} ww_train_shape;

typedef struct ww_optim_config {
    float beta1, beta2, eps; /* AdamW */
    float weight_decay;      /* on weight matrices and kernels only, not on norms and biases */
    float max_norm;          /* clip the global gradient norm to this; <= 0: no clipping */
} ww_optim_config;

/* What one micro-batch brings, host side, in the layouts the graph uploads as they are:
 *   images  [B * F, 3, H, W] F32, normalised (F = 2 frames for flow: every first frame of the
 *           batch, then every second frame), as ww_preprocess would make them
 *   windows U32 [B * F, windows, 2]: (y, x) of each window's top-left token, for frame
 *           f * B + b; NULL when the shape has no windows
 *   target  [B * G, Ct, h, w] F32 with G = windows (or 1) and h x w = 16 window_size squared
 *           (or H x W): flow (u, v) in pixels (Ct 2), depth as inverse depth in 1/m (Ct 1),
 *           segmentation class ids as floats (Ct 1); the window's pixels for G = windows
 *   weight  [B * G, 1, h, w] F32: each pixel's share of the loss (ww_loss), 0 for invalid */
typedef struct ww_train_batch {
    const float *images;
    const uint32_t *windows;
    const float *target;
    const float *weight;
} ww_train_batch;

/* Per-step values that change while the recorded sequences stay the same. */
typedef struct ww_step_scalars {
    float lr;
    int step;         /* optimiser step, 1-based (bias corrections) */
    float grad_scale; /* 1 / micro-batches per optimiser step */
} ww_step_scalars;

typedef struct ww_train_graph ww_train_graph;

/* Record the step for model m (whose parameters must be one flat array, as ww_model_load and
 * ww_model_create make them) at this shape. Allocates the gradients, the AdamW state (zero) and
 * the activations. Errors name the bad shape value. The model must outlive the graph; the caller
 * owns *out. */
ww_status ww_train_graph_create(ww_model *m, const ww_train_shape *shape,
                                const ww_optim_config *opt, ww_train_graph **out);
void ww_train_graph_destroy(ww_train_graph *g);

/* Upload one micro-batch and run forward, loss and backward (gradients accumulate); when
 * `update` is set, then clip, run AdamW with sc and zero the gradients. *loss receives the
 * micro-batch's loss (the sum of weight * per-pixel loss). Waits for the device. */
ww_status ww_train_graph_step(ww_train_graph *g, const ww_train_batch *b, int update,
                              const ww_step_scalars *sc, float *loss);

/* Elements of the per-micro-batch arrays of ww_train_batch (images, windows, target, weight). */
void ww_train_graph_sizes(const ww_train_graph *g, size_t *images, size_t *windows,
                          size_t *target, size_t *weight);
/* The global gradient norm before clipping of the last update (for the log). */
float ww_train_graph_grad_norm(const ww_train_graph *g);

/* Read the flat gradient array (ww_model_parameters floats) as it stands: after a step without
 * update, the accumulated gradient of the micro-batches since the last update (unscaled). */
ww_status ww_train_graph_read_grads(ww_train_graph *g, float *grads, size_t count);
/* AdamW moments, ww_model_parameters floats each: read for checkpoints, written on resume. */
ww_status ww_train_graph_read_moments(ww_train_graph *g, float *m, float *v, size_t count);
ww_status ww_train_graph_write_moments(ww_train_graph *g, const float *m, const float *v,
                                       size_t count);
/* With WW_PROFILE=1 set before ww_train_graph_create: per-op times of the last step, printed to
 * f (a FILE*). */
ww_status ww_train_graph_print_profile(ww_train_graph *g, void *f);
/* Bytes of backend memory the graph holds (activations, gradients, moments). */
size_t ww_train_graph_memory(const ww_train_graph *g);

#endif
