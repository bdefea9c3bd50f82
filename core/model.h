/* CroCo-family models on the engine: ViT encoder with RoPE-2D, binocular cross-attention decoder,
 * DPT head; weights from safetensors; inference at any resolution in one pass.
 *
 * A model holds the configuration and the weights on one backend. A runner holds everything for
 * one input size and pixel layout: activations allocated once, the op sequences recorded once and
 * re-submitted for every frame. For flow, a runner keeps the previous frame's encoder output, so a
 * stream costs one encoder pass per frame.
 */
#ifndef WW_MODEL_H
#define WW_MODEL_H

#include "ww.h"

typedef enum ww_task { WW_TASK_FLOW = 0, WW_TASK_DEPTH, WW_TASK_SEG } ww_task;

/* CroCo v2's RoPE-2D base frequency (pos_embed 'RoPE100'). */
#define WW_ROPE_BASE 100.0

typedef struct ww_model_config {
    ww_task task;
    int patch;                            /* 16 */
    int enc_dim, enc_depth, enc_heads;
    int dec_dim, dec_depth, dec_heads;    /* dec_depth 0: monocular (encoder only) */
    int layer_dims[4];                    /* DPT act_postprocess widths (CroCo: 96 192 384 768) */
    int feature_dim;                      /* DPT fusion width (CroCo: 256) */
    int head_hidden;                      /* regression head's last hidden width (CroCo: 32) */
    int semseg;                           /* head: 0 regression, 1 semseg */
    int out_channels;                     /* flow 3 (u, v, confidence), depth 1 or 2, seg classes */
    int hooks[4];                         /* block indices the DPT reads (derived) */
    float mean[3], std[3];
} ww_model_config;

typedef struct ww_model ww_model;
typedef struct ww_runner ww_runner;

const char *ww_task_name(ww_task t);

/* Load a safetensors model file onto be. Every tensor is checked (name, dtype, shape) against the
 * configuration in the file's metadata before anything is uploaded; errors name the file, the
 * tensor or key, and the problem (ww_backend_error). The caller owns *out. */
ww_status ww_model_load(ww_backend *be, const char *path, ww_model **out);
/* A model of configuration cfg (hooks are derived) with random weights from seed: for benchmarks
 * and training from scratch. A flow decoder's cross-attention heads start as fixed-offset
 * probes: head h of block b (j = b * dec_heads + h) looks at the frame-2 token at offset
 * ww_model_probe_offset(j) from its frame-1 token (model.c says why). The caller owns *out. */
ww_status ww_model_create(ww_backend *be, const ww_model_config *cfg, uint64_t seed,
                          ww_model **out);
/* The configuration of a named size for a task: "micro" (128-wide, 6 encoder and 4 decoder
 * blocks, a narrow DPT: the shipped default models), "tiny" (ViT-Ti/16), "small" (ViT-S/16), "base"
 * (ViT-B/16 encoder and decoder: the Win-Win flow model) or "croco-flow" (ViT-L encoder, ViT-B
 * decoder); monocular tasks use the encoder only, seg has 19 classes. WW_ERR_INVALID for an
 * unknown name. */
/* The token offset (dy, dx) that cross-attention head j (b * dec_heads + h) of a randomly
 * initialised flow decoder starts looking at: the token itself, its 8 neighbours, then 2 tokens
 * away along the axes and diagonals, repeating after 17. */
void ww_model_probe_offset(int j, int *dy, int *dx);
ww_status ww_model_preset(const char *size, ww_task task, ww_model_config *out);
void ww_model_destroy(ww_model *m);
const ww_model_config *ww_model_config_of(const ww_model *m);
/* Number of parameters, and the bytes of backend memory the weights hold. */
int64_t ww_model_parameters(const ww_model *m);
size_t ww_model_memory(const ww_model *m);

/* The parameters live in one flat F32 array (ww_arena_alloc_flat) of ww_model_parameters
 * elements; every weight is a view into it. Weight matrices and convolution kernels (the tensors
 * weight decay applies to) come first, ww_model_decayed elements of them, then norms and biases.
 * Training updates the array in place; runners of the model see the new values. */
ww_tensor ww_model_params(const ww_model *m);
int64_t ww_model_decayed(const ww_model *m);

/* The named tensors in file order: i in [0, ww_model_tensor_count). *name (owned by the model),
 * the PyTorch shape (slowest dim first, ndim values) and the element offset in the flat array.
 * WW_ERR_INVALID for another i. */
int ww_model_tensor_count(const ww_model *m);
ww_status ww_model_tensor_info(const ww_model *m, int i, const char **name, int *ndim,
                               int64_t shape[4], int64_t *offset);

/* The value of metadata key in the loaded file (owned by m), or NULL: the trainer's provenance
 * ("train.command", "train.metrics", ...), a seg model's "classes" (comma-separated names) and
 * "palette" ("r,g,b;r,g,b;..."). */
const char *ww_model_metadata(const ww_model *m, const char *key);
/* The colours of classes 0 .. n - 1 as R, G, B bytes into rgb (3 n bytes): the file's "palette"
 * when it has one for exactly the model's classes, else the Cityscapes colours, then the PASCAL
 * VOC scheme beyond 19 classes. */
void ww_model_class_colors(const ww_model *m, uint8_t *rgb, int n);
/* The name of class id ("classes" metadata, else "class N") into buf, snprintf-style. */
int ww_model_class_name(const ww_model *m, int id, char *buf, size_t n);
/* The default model file of task t: TASK/model.safetensors in the first directory that has it of
 * $WINWIN_MODEL_DIR, the installed models (DATADIR/winwin/models) and the source tree's models/;
 * written into buf and returned, or NULL when none exists. */
const char *ww_model_default_path(ww_task t, char *buf, size_t n);

/* A 1-D F32 array saved beside the weights (optimiser state in checkpoints). */
typedef struct ww_named_array {
    const char *name;
    const float *data;
    int64_t count;
} ww_named_array;

/* Write the model to path as safetensors, atomically (a temporary file renamed over path): the
 * configuration as metadata (what ww_model_load reads back), then the nmeta_pairs extra
 * metadata pairs (meta = key0, value0, ...: the training command, data and metrics), the weights
 * by name, and the extra arrays, whose names must start with "train." (ww_model_load skips those,
 * so a checkpoint is also a model file). */
ww_status ww_model_save(ww_model *m, const char *path, const char *const *meta, int nmeta_pairs,
                        const ww_named_array *extra, int nextra);
/* ww_model_save without extra arrays, the weights stored as F16 (rounded to nearest even): half
 * the file for distribution. ww_model_load widens them back to F32. */
ww_status ww_model_save_f16(ww_model *m, const char *path, const char *const *meta,
                            int nmeta_pairs);

/* A runner for frames of frame_bytes bytes laid out as *layout (any plane offsets and row
 * strides, e.g. GStreamer's rows padded to 4 bytes; copied), that runs the model at
 * infer_width x infer_height (0: the frame's width or height). Each frame is resized to the
 * inference size on the device by ww_preprocess (bilinear; no resampling when the sizes are
 * equal), and every output (ww_runner_output, ww_runner_labels, ww_runner_result) has the
 * inference size (a flow's vectors are in its pixels). Any size works: the runner pads to a
 * multiple of 32 pixels and crops outputs back. WW_ERR_INVALID, with a message naming the
 * problem, for a bad layout, a layout that reaches past frame_bytes, or a bad inference size.
 * The model must outlive the runner; the caller owns *out (ww_runner_destroy). */
ww_status ww_runner_create_for(ww_model *m, const ww_image_layout *layout, size_t frame_bytes,
                               int infer_width, int infer_height, ww_runner **out);
/* ww_runner_create_for tightly packed width x height frames in `format`
 * (ww_image_layout_packed), run at their own size. */
ww_status ww_runner_create(ww_model *m, int width, int height, ww_pixel_format format,
                           ww_runner **out);
void ww_runner_destroy(ww_runner *r);
/* The size the model runs at, which is the size of every output; either pointer may be NULL. */
void ww_runner_size_of(const ww_runner *r, int *infer_width, int *infer_height);

/* Feed one frame: `bytes` bytes laid out as `layout`, which must be the runner's layout exactly
 * (format, size, plane offsets and row strides) with bytes its frame_bytes; the message says
 * which differs. Monocular models always produce an output; flow produces the flow from the
 * previous frame to this one, so *has_output is 0 for the first frame after creation or
 * ww_runner_reset(). */
ww_status ww_runner_push(ww_runner *r, const void *pixels, size_t bytes,
                         const ww_image_layout *layout, int *has_output);
/* Forget the previous frame (flow): the next push starts a new pair. */
void ww_runner_reset(ww_runner *r);

/* Read the last output, out_channels x height x width floats (cropped; the inference size). */
ww_status ww_runner_output(ww_runner *r, float *dst, size_t count);
/* Segmentation models: the class of each pixel (the argmax of the logits, ties to the lowest id)
 * and, if conf is not NULL, its softmax probability; height x width each (cropped). Computed on
 * the device with the rest of the frame. */
ww_status ww_runner_labels(ww_runner *r, uint32_t *ids, float *conf, size_t count);
/* A device-side view of the last result, for clients that keep working on the device (colorize
 * without reading back): what = "output": F32 [C, H, W], ne = {W, H, C, 1},
 * nb = {1, Wp, Wp * Hp, Wp * Hp * C}, the H x W corner of the output padded to Wp x Hp (rows
 * and planes strided; the first two planes of a flow, as a view, go to ww_colorize_flow, one
 * plane to ww_colorize_scalar); segmentation models also "labels": U32 [H, W] class ids (for
 * ww_colorize_labels) and "conf": F32 [H, W] their probabilities, same strides. H x W is the
 * inference size. The tensor is a view into the runner's memory, which the runner owns: valid
 * until the next push or destroy, and not to be written. WW_ERR_INVALID with a message
 * when there is no output yet or the model has no result by that name. */
ww_status ww_runner_result(ww_runner *r, const char *what, ww_tensor *out);
/* Read a named activation of the last run (for parity tests and debugging): "input1", "enc1",
 * "enc2", "dec", "hook0".."hook3", "act0".."act3", "path4".."path1", "head" (uncropped). The
 * element count must match. */
ww_status ww_runner_read(ww_runner *r, const char *name, float *dst, size_t count);
/* Elements of a named activation, or -1 if the runner has none by that name. */
int64_t ww_runner_size(const ww_runner *r, const char *name);
/* With WW_PROFILE=1 set before ww_runner_create: per-op times of the last push (encoder, then
 * decoder and head for flow) printed to f (a FILE*). */
ww_status ww_runner_print_profile(ww_runner *r, void *f);
/* Bytes of backend memory the runner's activations hold. */
size_t ww_runner_memory(const ww_runner *r);

#endif
