/* winwin core engine: public API.
 *
 * One API over two backends: a plain-C CPU backend (the reference for every shader and the
 * fallback where no GPU exists) and a Vulkan compute backend. Work is expressed as a sequence of
 * ops on tensors; a sequence is recorded once and can be run many times (on Vulkan, one command
 * buffer re-submitted while shapes stay the same).
 *
 * Errors: every function that can fail returns a ww_status. The message that goes with the last
 * failure of a backend (and of everything created from it) is read with ww_backend_error(); the
 * library never aborts and never prints unless a log callback or WW_PROFILE asks it to.
 *
 * Threads: a backend and everything created from it is used from one thread at a time.
 */
#ifndef WW_H
#define WW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ww_status {
    WW_OK = 0,
    WW_ERR_INVALID,       /* bad argument: shape, type, flag, option string */
    WW_ERR_NO_DEVICE,     /* no device matches the request */
    WW_ERR_UNSUPPORTED,   /* the device lacks a feature or a limit is too small */
    WW_ERR_OUT_OF_MEMORY, /* host or device allocation failed */
    WW_ERR_DEVICE_LOST,   /* the Vulkan device was lost; the backend must be destroyed */
    WW_ERR_VULKAN,        /* any other Vulkan failure */
    WW_ERR_IO,            /* file read/write failure */
} ww_status;

/* A static English name for a status ("out of memory", ...). */
const char *ww_status_str(ww_status s);

typedef struct ww_backend ww_backend;
typedef struct ww_arena ww_arena;
typedef struct ww_buffer ww_buffer;
typedef struct ww_seq ww_seq;

typedef enum ww_backend_kind {
    WW_BACKEND_CPU = 0,
    WW_BACKEND_VULKAN = 1,
} ww_backend_kind;

enum { WW_LOG_ERROR = 0, WW_LOG_WARNING = 1, WW_LOG_INFO = 2, WW_LOG_DEBUG = 3 };
typedef void (*ww_log_fn)(void *user, int level, const char *msg);

/* Vulkan objects created by someone else (a GStreamer element's device). Handles are passed as
 * void* / uint64_t so this header needs no Vulkan headers. The caller keeps ownership: the
 * backend never destroys them and the caller keeps them alive until ww_backend_destroy(). */
typedef struct ww_vk_external {
    void *instance;        /* VkInstance */
    void *physical_device; /* VkPhysicalDevice */
    void *device;          /* VkDevice */
    void *queue;           /* VkQueue with compute support */
    uint32_t queue_family;
    /* Optional: called around vkQueueSubmit when the queue is shared (GStreamer's
     * gst_vulkan_queue_submit_lock / unlock). */
    void (*queue_lock)(void *user);
    void (*queue_unlock)(void *user);
    void *queue_lock_user;
} ww_vk_external;

typedef struct ww_backend_options {
    /* Which device. NULL or "auto": the best GPU (discrete, then integrated, then virtual), else
     * the CPU backend; a Vulkan CPU driver (lavapipe) is never chosen by "auto".
     * "cpu": the CPU backend. "vulkan": the best Vulkan device, CPU drivers included last.
     * "vulkan:N": Vulkan device number N in enumeration order. "vulkan:UUID": by the 32 hex
     * digit pipeline-cache / device UUID. "vulkan:TEXT": first device whose name contains TEXT
     * (case-insensitive). */
    const char *device;
    int cpu_threads;          /* CPU backend worker threads; 0 = number of online cores */
    int validation;           /* enable VK_LAYER_KHRONOS_validation (also: env WW_VALIDATION=1) */
    const char *pipeline_cache_path; /* load/save the Vulkan pipeline cache here; NULL = none */
    int gemm_variant;         /* 0 = chosen per device, 1 = register-tiled, 2 = shared-memory tiled */
    const ww_vk_external *external; /* use these Vulkan objects instead of creating them */
    ww_log_fn log;            /* NULL = no logging */
    void *log_user;
} ww_backend_options;

/* Create a backend. On failure *out is NULL and, if err is not NULL, a message is written to
 * err (at most errlen bytes, NUL-terminated). The caller owns *out (ww_backend_destroy). */
ww_status ww_backend_create(const ww_backend_options *opt, ww_backend **out, char *err,
                            size_t errlen);
void ww_backend_destroy(ww_backend *be);
ww_backend_kind ww_backend_kind_of(const ww_backend *be);
/* Human-readable name of the device in use ("CPU (OpenBLAS, 2 threads)", "NVIDIA H200"). */
const char *ww_backend_device_name(const ww_backend *be);
/* Message of the last failure; "" if none. Owned by the backend, valid until the next call. */
const char *ww_backend_error(const ww_backend *be);
/* Number of Khronos validation messages (warnings and errors) seen so far; 0 when validation is
 * off. Tests fail on any. */
uint64_t ww_backend_validation_messages(const ww_backend *be);
/* Bytes of device (or host, for the CPU backend) memory currently held by buffers, and the peak. */
size_t ww_backend_memory_in_use(const ww_backend *be);
size_t ww_backend_memory_peak(const ww_backend *be);

/* Enumerate Vulkan devices without creating a backend: writes up to max lines
 * "N: NAME (TYPE) UUID" into names (each entry is a buffer of 256 bytes). Returns the count in
 * *count; WW_ERR_NO_DEVICE if no Vulkan loader or driver is present. */
ww_status ww_vulkan_list_devices(char (*names)[256], int max, int *count, char *err,
                                 size_t errlen);

/* ---- Tensors ------------------------------------------------------------------------------
 * A tensor is a strided view into a buffer. ne[0] is the fastest-varying dimension; nb[] are
 * strides in elements. A matrix of M rows and K columns is ne = {K, M, 1, 1}. Tensors are plain
 * values: copying one copies the view, not the data. The buffer is owned by the arena it came
 * from. */
typedef enum ww_dtype { WW_F32 = 0, WW_U32 = 1, WW_U8 = 2 } ww_dtype;

typedef struct ww_tensor {
    ww_buffer *buf;
    size_t offset; /* bytes from the start of buf to element (0,0,0,0) */
    ww_dtype type;
    int64_t ne[4];
    int64_t nb[4];
} ww_tensor;

size_t ww_dtype_size(ww_dtype t);
int64_t ww_tensor_nelements(const ww_tensor *t);
/* True when the elements are densely packed in ne order. */
int ww_tensor_is_contiguous(const ww_tensor *t);
/* A view of t starting at element offset elem_offset with the given sizes and strides (in
 * elements). Does not check bounds; ops check that every view lies inside its buffer. */
ww_tensor ww_tensor_view(const ww_tensor *t, int64_t elem_offset, const int64_t ne[4],
                         const int64_t nb[4]);

/* Arenas hand out tensors from a few large device allocations (chunks), aligned for binding.
 * chunk_bytes = 0 chooses a size from the device limits. Tensors live until ww_arena_reset() or
 * ww_arena_destroy(); the chunks are kept across resets so planning the same shapes again
 * allocates nothing. */
ww_status ww_arena_create(ww_backend *be, size_t chunk_bytes, ww_arena **out);
void ww_arena_destroy(ww_arena *a);
void ww_arena_reset(ww_arena *a);
/* Bytes the arena's tensors occupy (alignment included), which is what a plan needs; the chunks
 * behind them may be larger. */
size_t ww_arena_used(const ww_arena *a);
/* Allocate a contiguous tensor of n dims (1..4, missing sizes are 1). */
ww_status ww_arena_alloc(ww_arena *a, ww_dtype type, int n, const int64_t *ne, ww_tensor *out);
/* Allocate a 1-D tensor of count elements that may be larger than the range one op can bind
 * (maxStorageBufferRange, 128 MiB on some drivers): a flat array (a model's parameters, their
 * gradients) that ops only ever see through views of at most that size. It gets a buffer of its
 * own; ww_tensor_read / write / fill take it whole. */
ww_status ww_arena_alloc_flat(ww_arena *a, ww_dtype type, int64_t count, ww_tensor *out);
/* Largest number of bytes one op may bind on this backend (views handed to ops stay within it). */
size_t ww_backend_max_binding(const ww_backend *be);

/* Copy between host memory and a contiguous tensor. bytes must equal the tensor's size. These
 * wait for the device: do not call them while a sequence that uses the tensor is running. */
ww_status ww_tensor_write(ww_backend *be, const ww_tensor *t, const void *src, size_t bytes);
ww_status ww_tensor_read(ww_backend *be, const ww_tensor *t, void *dst, size_t bytes);
/* Fill a contiguous tensor with a 32-bit pattern (0.0f, 0u, ...) on the device. */
ww_status ww_tensor_fill(ww_backend *be, const ww_tensor *t, uint32_t pattern);

/* ---- Sequences ----------------------------------------------------------------------------
 * Ops are appended to a sequence; nothing runs until ww_seq_run(). Appending checks shapes and
 * returns WW_ERR_INVALID with a message naming the op and the problem. Running the same sequence
 * again re-submits the recorded work; appending after a run starts a new recording at the next
 * run. Ops within a sequence run in order: each sees what the earlier ones wrote. */
ww_status ww_seq_create(ww_backend *be, ww_seq **out);
void ww_seq_destroy(ww_seq *s);
void ww_seq_clear(ww_seq *s);
int ww_seq_length(const ww_seq *s);
/* Memory barriers the last recording needed (Vulkan; always 0 on the CPU backend). A barrier is
 * recorded only before an op that touches memory an earlier op wrote since the last barrier. */
int ww_seq_barriers(const ww_seq *s);
ww_status ww_seq_run(ww_seq *s);  /* submit; returns before the device is done */
ww_status ww_seq_wait(ww_seq *s); /* wait for the last run to finish */

/* Per-op timing (GPU timestamps on Vulkan, wall clock on CPU), on when the environment variable
 * WW_PROFILE=1 is set when the sequence is created. After ww_seq_wait(), prints a table of the
 * last run (op, count, total ms, share) to f (a FILE*), or returns WW_ERR_INVALID when
 * profiling is off. */
ww_status ww_seq_print_profile(ww_seq *s, void *f);

/* ---- Ops ----------------------------------------------------------------------------------
 * Shapes in the comments are written [ne3, ne2, ne1, ne0] (slowest first, like PyTorch) with B
 * the batch. Unless stated otherwise, tensors are F32 and contiguous, inputs and outputs must
 * not overlap, and batch dims of inputs may be 1 to broadcast. */

enum {
    WW_GEMM_TRANS_A = 1u << 0,   /* a is [B, K, M] instead of [B, M, K] */
    WW_GEMM_TRANS_B = 1u << 1,   /* b is [B, N, K] (a PyTorch Linear weight) instead of [B, K, N] */
    WW_GEMM_BIAS_ROW = 1u << 2,  /* bias has M values (one per row) instead of N */
    WW_GEMM_GELU = 1u << 3,      /* apply exact GELU after the bias */
    WW_GEMM_ACCUMULATE = 1u << 4 /* c += result instead of c = result */
};
/* c[B, M, N] (+)= gelu?(a x b + bias). a and b may be strided views with unit stride on ne[0]
 * (e.g. q, k, v inside a fused qkv buffer); c must have unit stride on ne[0]. */
ww_status ww_gemm(ww_seq *s, const ww_tensor *a, const ww_tensor *b, const ww_tensor *bias,
                  const ww_tensor *c, unsigned flags);

/* y[rows, D] = (x - mean) / sqrt(var + eps) * w + b over the last dim; y may equal x. */
ww_status ww_layernorm(ww_seq *s, const ww_tensor *x, const ww_tensor *w, const ww_tensor *b,
                       float eps, const ww_tensor *y);

/* Elementwise, same shapes, contiguous; y may equal an input. */
ww_status ww_add(ww_seq *s, const ww_tensor *a, const ww_tensor *b, const ww_tensor *y);
ww_status ww_gelu(ww_seq *s, const ww_tensor *x, const ww_tensor *y); /* exact, erf-based */
ww_status ww_relu(ww_seq *s, const ww_tensor *x, const ww_tensor *y);
ww_status ww_copy(ww_seq *s, const ww_tensor *x, const ww_tensor *y);
/* y = 0, as an op of the sequence (re-zeroing gradients every time a recorded step runs). */
ww_status ww_zero(ww_seq *s, const ww_tensor *y);

/* RoPE-2D, in place, on x [B, N, H, Dh] (a strided view with unit stride on ne[0], Dh a multiple
 * of 4). pos is U32 [B or 1, N, 2] holding (y, x) grid positions. table comes from
 * ww_rope_table() for this Dh. inverse rotates by the negative angle. */
ww_status ww_rope2d(ww_seq *s, const ww_tensor *x, const ww_tensor *pos, const ww_tensor *table,
                    int inverse);
/* Allocate from arena and fill the cos/sin table [max_pos, Dh/4, 2] for RoPE base `base`
 * (100 for CroCo), computed in double precision on the host. */
ww_status ww_rope_table(ww_arena *a, int head_dim, int max_pos, double base, ww_tensor *table);

/* Multi-head attention, streamed (flash style: no Nq x Nk matrix is stored).
 * q [B, Nq, H, Dh], k and v [B, Nk, H, Dh], o [B, Nq, H, Dh]: strided views with unit stride on
 * ne[0]. o = softmax(q k^T * scale) v per batch and head. lse, if not NULL, is F32 [B, H, Nq]
 * and receives the log-sum-exp of each score row (kept for the backward pass). */
ww_status ww_attention(ww_seq *s, const ww_tensor *q, const ww_tensor *k, const ww_tensor *v,
                       float scale, const ww_tensor *o, const ww_tensor *lse);

/* Backward of ww_attention, streamed like the forward (no Nq x Nk matrix is stored) and
 * deterministic: no atomics, every gradient row is summed by one thread in a fixed order, so
 * the same inputs give the same bits on every run.
 * q, k, v, scale: as given to the forward (same shapes and rules: Dh a multiple of 4 up to 256,
 * unit stride on ne[0]); o, lse: what the forward wrote (pass lse to the forward to keep it);
 * do_: dL/do, [B, Nq, H, Dh], unit stride on ne[0]. P = exp(q k^T * scale - lse) is recomputed
 * block by block.
 * dq, dk, dv ACCUMULATE: dq += dL/dq, dk += dL/dk, dv += dL/dv (zero them once per step). Each
 * has the shape and strides of q, k, v respectively (e.g. the views of a dqkv buffer laid out
 * like qkv); offsets and buffers are free. They may share a buffer, and even a byte range as in
 * a fused dqkv, as long as no element is shared (checked: equal token and head strides and the
 * heads of one token row not overlapping); they must not touch the inputs.
 * k and v may broadcast batch 1 over B query batches (both, or neither); dk and dv are then
 * [1, Nk, H, Dh] and receive the sum over the query batches, added in batch order.
 * scratch_D: F32 [B, H, Nq], contiguous, caller-allocated; receives D = rowsum(do * o).
 * Appends two nodes: dq (which also writes D), then dk and dv (which read D). */
ww_status ww_attention_backward(ww_seq *s, const ww_tensor *q, const ww_tensor *k,
                                const ww_tensor *v, const ww_tensor *o, const ww_tensor *lse,
                                const ww_tensor *do_, float scale, const ww_tensor *dq,
                                const ww_tensor *dk, const ww_tensor *dv,
                                const ww_tensor *scratch_D);

/* Patches of img [B, C, H, W] (H and W multiples of p) as rows: out [B, N, C*p*p] with
 * N = (H/p)*(W/p) in row-major grid order and columns ordered (c, ky, kx) as in a flattened
 * Conv2d weight, so that patch embedding is ww_patchify + ww_gemm(TRANS_B). */
ww_status ww_patchify(ww_seq *s, const ww_tensor *img, int p, const ww_tensor *out);

enum {
    WW_CONV_RELU_IN = 1u << 0,   /* relu applied to the input as it is read */
    WW_CONV_RELU_OUT = 1u << 1,  /* relu applied to the result */
    WW_CONV_ACCUMULATE = 1u << 2 /* out += result */
};
/* Conv2d: x [B, Cin, H, W], w [Cout, Cin, k, k], bias [Cout] or NULL, square kernel k, stride,
 * zero padding pad; y [B, Cout, Ho, Wo] with Ho = (H + 2 pad - k) / stride + 1. */
ww_status ww_conv2d(ww_seq *s, const ww_tensor *x, const ww_tensor *w, const ww_tensor *bias,
                    int stride, int pad, const ww_tensor *y, unsigned flags);
/* ConvTranspose2d with kernel == stride == k (no overlap): x [B, Cin, H, W], w [Cin, Cout, k, k]
 * (PyTorch layout), bias [Cout] or NULL; y [B, Cout, H*k, W*k]. */
ww_status ww_conv_transpose2d(ww_seq *s, const ww_tensor *x, const ww_tensor *w,
                              const ww_tensor *bias, const ww_tensor *y);

/* Bilinear resize with align_corners = true: x [B, C, H, W] -> y [B, C, Ho, Wo] (x2 upsampling
 * is Ho = 2H, Wo = 2W). */
ww_status ww_resize_bilinear(ww_seq *s, const ww_tensor *x, const ww_tensor *y);

/* Over the channel dim of x [B, C, H, W]: softmax into y [B, C, H, W]. */
ww_status ww_softmax_channels(ww_seq *s, const ww_tensor *x, const ww_tensor *y);
/* Per pixel argmax over channels: ids U32 [B, H, W]; conf (F32 [B, H, W] or NULL) receives the
 * softmax probability of the winning class. Ties go to the lowest index. */
ww_status ww_argmax_channels(ww_seq *s, const ww_tensor *x, const ww_tensor *ids,
                             const ww_tensor *conf);

/* 8-bit image layouts accepted by ww_preprocess. */
typedef enum ww_pixel_format {
    WW_FMT_RGBA = 0, WW_FMT_BGRA, WW_FMT_RGBX, WW_FMT_BGRX, WW_FMT_RGB, WW_FMT_BGR,
    WW_FMT_NV12, WW_FMT_I420, WW_FMT_COUNT
} ww_pixel_format;

typedef struct ww_image_layout {
    ww_pixel_format format;
    int width, height;
    size_t offset[3]; /* byte offset of each plane in the source buffer */
    size_t stride[3]; /* bytes per row of each plane */
} ww_image_layout;

/* The tightly packed layout of a w x h image (chroma of NV12 / I420 rounded up). Returns the
 * total size in bytes, or 0 for a bad format or size. */
size_t ww_image_layout_packed(ww_pixel_format f, int w, int h, ww_image_layout *out);
const char *ww_pixel_format_name(ww_pixel_format f);

/* Convert an 8-bit image held in src (U8, contiguous, at least as many bytes as the layout
 * reaches) to normalised planar RGB at out_width x out_height: y [1, 3, Hp, Wp] with
 * Hp >= out_height, Wp >= out_width; pixels at x < out_width, y < out_height receive
 * (v / 255 - mean) / std, the others 0 (padding to the patch grid). YUV is BT.601 limited range,
 * each pixel with the chroma sample of its 2x2 block. mean and std may be NULL for the ImageNet
 * statistics.
 * When out_width x out_height is the layout's size, v is the pixel itself. Otherwise the image is
 * resampled bilinearly with half-pixel centres (OpenCV's INTER_LINEAR, PyTorch's interpolate with
 * align_corners = False and no antialiasing): with sx = (x + 0.5) * s_x - 0.5 where
 * s_x = width / out_width rounded to float once, and sy likewise, both clamped to
 * [0, width - 1] and [0, height - 1], x0 = floor(sx), x1 = min(x0 + 1, width - 1),
 * fx = sx - x0 (y0, y1, fy likewise), each of the four source pixels is converted to R, G, B
 * (0..255) first, then blended as top = p00 + fx (p01 - p00), bottom = p10 + fx (p11 - p10),
 * v = top + fy (bottom - top), and v is normalised. A downscale averages only those four pixels
 * (no antialiasing filter). */
ww_status ww_preprocess(ww_seq *s, const ww_tensor *src, const ww_image_layout *layout,
                        int out_width, int out_height, const float mean[3], const float std[3],
                        const ww_tensor *y);

/* Token subsets (the Win-Win windows). idx is U32 [B or 1, n].
 * gather: y [B, n, D] = x [B, N, D] rows idx. scatter: y [B, N, D] rows idx = x [B, n, D]
 * (other rows untouched; indices must be distinct, else the result is undefined). */
ww_status ww_gather_rows(ww_seq *s, const ww_tensor *x, const ww_tensor *idx, const ww_tensor *y);
ww_status ww_scatter_rows(ww_seq *s, const ww_tensor *x, const ww_tensor *idx,
                          const ww_tensor *y);

/* ---- Backward: DPT head ops and the token gather --------------------------------------------
 * Every gradient ACCUMULATES (+=) into its output, which the caller zeroes once per step; no
 * output may overlap an input. Reductions run in a fixed order on both backends (no float
 * atomics), so a result is the same from run to run on one device. The forward flags are the
 * caller's business: RELU_OUT is ww_relu_backward on the forward's output, ACCUMULATE changes
 * nothing, and the bias gradient of the conv2d forward comes with the weight gradient. */

/* Conv2d backward to the input: dx [B, Cin, H, W] += the gradient through
 * y = conv2d(x, w, stride, pad) of dy [B, Cout, Ho, Wo]; w [Cout, Cin, k, k]; Ho and Wo as in
 * ww_conv2d. Inputs the forward read through WW_CONV_RELU_IN get the gradient with respect to
 * relu(x): follow with ww_relu_backward. */
ww_status ww_conv2d_backward_input(ww_seq *s, const ww_tensor *dy, const ww_tensor *w,
                                   int stride, int pad, const ww_tensor *dx);
/* Conv2d backward to the weights: dw [Cout, Cin, k, k] += sum over (b, oy, ox) of
 * dy[b, co, oy, ox] * x'[b, ci, oy*stride - pad + ky, ox*stride - pad + kx] (zero outside the
 * image), with x' = relu(x) when flags holds WW_CONV_RELU_IN (the forward read relu(x); no other
 * flag is accepted), else x; db [Cout] (NULL: none) += the sum of dy over (b, oy, ox). */
ww_status ww_conv2d_backward_weight(ww_seq *s, const ww_tensor *x, const ww_tensor *dy,
                                    int stride, int pad, const ww_tensor *dw,
                                    const ww_tensor *db, unsigned flags);
/* ConvTranspose2d (kernel == stride == k) backward: x [B, Cin, H, W] and w [Cin, Cout, k, k] as
 * in the forward, dy [B, Cout, H*k, W*k]; dx [B, Cin, H, W], dw [Cin, Cout, k, k] and db [Cout]
 * accumulate the gradients; any of the three may be NULL (not computed), x is needed only for
 * dw and w only for dx. */
ww_status ww_conv_transpose2d_backward(ww_seq *s, const ww_tensor *x, const ww_tensor *w,
                                       const ww_tensor *dy, const ww_tensor *dx,
                                       const ww_tensor *dw, const ww_tensor *db);
/* Bilinear resize (align_corners = true) backward: dx [B, C, H, W] += the gradient through
 * y = resize(x) of dy [B, C, Ho, Wo]. Each input pixel sums, in a fixed order, what the output
 * pixels that read it send back (a gather: no two invocations write one element). */
ww_status ww_resize_bilinear_backward(ww_seq *s, const ww_tensor *dy, const ww_tensor *dx);
/* ReLU backward, elementwise over same-shaped contiguous tensors: dx += x > 0 ? dy : 0. x may be
 * the forward's input or its output (both are > 0 at the same places); a NaN x passes nothing. */
ww_status ww_relu_backward(ww_seq *s, const ww_tensor *x, const ww_tensor *dy,
                           const ww_tensor *dx);
/* Scatter-add of token rows, the backward of ww_gather_rows: y [B, N, D] rows idx[b, i] +=
 * x [B, n, D] row i; idx U32 [B or 1, n]. Indices must be distinct (as in ww_scatter_rows, whose
 * backward is ww_gather_rows); an index >= N is skipped. */
ww_status ww_scatter_add_rows(ww_seq *s, const ww_tensor *x, const ww_tensor *idx,
                              const ww_tensor *y);

/* ---- Training: LayerNorm and GELU backward, reductions, AdamW (core/ops_train.c) ------------
 * As in llm.c, a backward op ACCUMULATES into its gradients (dx += ...), so a tensor the forward
 * used twice collects both contributions; the caller zeroes the gradients once per step
 * (ww_tensor_fill with 0). Gradient outputs overlap no other tensor of the op.
 *
 * Determinism: a result does not depend on timing (no float atomics, no subgroup operations, no
 * assumption about the subgroup size). A reduction over many rows is split into partial sums
 * over fixed chunks whose layout depends only on the shape (chunks of at least 16 terms, at most
 * 256 of them); the partials go to `scratch` and a second dispatch adds them in a fixed order.
 * scratch: F32, contiguous, at least as many elements as the op's *_scratch function returns
 * (NULL allowed when it returns 0), overlapping no other tensor of the op; its contents on entry
 * do not matter and are unspecified afterwards, so one scratch tensor as large as the largest
 * need serves every op of a sequence. The two backends agree to fp32 rounding, not bit for bit. */

/* LayerNorm backward of y = (x - mean) * rstd * w + b (ww_layernorm, same eps): x, dy, dx
 * [rows, D] (rows of D contiguous values with one row stride each, as ww_layernorm allows),
 * w, dw, db [D] contiguous. With xhat = (x - mean) * rstd and g = dy * w, means over the row:
 *   dx += rstd * (g - mean(g) - xhat * mean(g * xhat))
 *   dw += sum over rows of dy * xhat        db += sum over rows of dy
 * mean and rstd are recomputed from x (the forward saves no statistics). scratch holds them
 * (2 * rows floats) and the partial sums of dw and db: ww_layernorm_backward_scratch(rows, D)
 * elements (never 0). Appends 4 dispatches. */
int64_t ww_layernorm_backward_scratch(int64_t rows, int64_t D);
ww_status ww_layernorm_backward(ww_seq *s, const ww_tensor *x, const ww_tensor *w,
                                const ww_tensor *dy, const ww_tensor *dx, const ww_tensor *dw,
                                const ww_tensor *db, float eps, const ww_tensor *scratch);

/* GELU backward (exact, erf): dx += dy * gelu'(x) with
 *   gelu'(x) = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi),
 * x the GELU's input (the pre-activation); x, dy, dx of one shape, contiguous.
 * ww_gemm with WW_GEMM_GELU keeps no pre-activation, so a layer that is trained runs its GEMM
 * without WW_GEMM_GELU into a buffer h that the backward keeps, then ww_gelu(h, a); backward:
 * ww_gelu_backward(h, da, dh), then the GEMM's backward from dh. */
ww_status ww_gelu_backward(ww_seq *s, const ww_tensor *x, const ww_tensor *dy,
                           const ww_tensor *dx);

/* Sum over every dim except one (bias gradients): x contiguous, seen as [outer, N, inner] with
 * N = x->ne[dim] (dim counts ne[], 0 = the fastest, last dim in the slowest-first notation),
 * y contiguous with N elements: y[n] (+)= sum over o, i of x[o, n, i] (accumulate: y += sum,
 * else y = sum). A Linear layer's bias gradient from dy [B, T, N] is dim 0 (db += the sum over B
 * and T); a convolution's from dy [B, C, H, W] is dim 2. scratch: ww_sum_rows_scratch(x->ne, dim)
 * elements (0 when outer * inner <= 16: one dispatch, no scratch). */
int64_t ww_sum_rows_scratch(const int64_t ne[4], int dim);
ww_status ww_sum_rows(ww_seq *s, const ww_tensor *x, int dim, const ww_tensor *y, int accumulate,
                      const ww_tensor *scratch);

/* out[0] = sum of x^2 over all of x (contiguous): the squared global norm of a flat gradient
 * array, for clipping (the host takes the square root, or ww_adamw does with WW_ADAMW_SUMSQ).
 * out: F32, one element, may be a view into a larger tensor. scratch: ww_sum_squares_scratch(n)
 * elements with n = x's element count (0 when n <= 16). */
int64_t ww_sum_squares_scratch(int64_t n);
ww_status ww_sum_squares(ww_seq *s, const ww_tensor *x, const ww_tensor *out,
                         const ww_tensor *scratch);

typedef struct ww_adamw_hparams {
    float lr;           /* learning rate */
    float beta1, beta2; /* e.g. 0.9, 0.999 */
    float eps;          /* e.g. 1e-8 */
    float weight_decay; /* decoupled (AdamW), e.g. 0.05; 0 for norms and biases */
    float bias_corr1;   /* 1 - beta1^t at step t = 1, 2, ... (computed on the host) */
    float bias_corr2;   /* 1 - beta2^t */
    float grad_scale;   /* multiplies the gradient first: 1 / accumulation steps, clipping */
} ww_adamw_hparams;

/* Elements of ww_adamw's `scalars` tensor. */
enum {
    WW_ADAMW_LR = 0,
    WW_ADAMW_BIAS_CORR1,
    WW_ADAMW_BIAS_CORR2,
    WW_ADAMW_GRAD_SCALE,
    WW_ADAMW_MAX_NORM, /* > 0: clip the gradient to this global norm; <= 0: no clipping */
    WW_ADAMW_SUMSQ,    /* sum of squares of the (unscaled) gradient: ww_sum_squares writes it */
    WW_ADAMW_NSCALARS
};

/* AdamW step (PyTorch's AdamW, llm.c's update), one dispatch over flat arrays: params, grads,
 * m, v F32, contiguous, the same element count; m and v start at 0; grads is only read.
 *   g = grads * scale
 *   m = beta1 m + (1 - beta1) g        v = beta2 v + (1 - beta2) g^2
 *   params -= lr * ((m / bias_corr1) / (sqrt(v / bias_corr2) + eps) + weight_decay * params)
 * Weight decay applies to every element given: lay the flat arrays out with the decayed tensors
 * (weight matrices) in one range and the others (norms, biases) in another, and call ww_adamw
 * once per range on views, the second time with weight_decay 0.
 * scalars NULL: every value comes from h when the op is appended and scale = h->grad_scale.
 * scalars F32 [WW_ADAMW_NSCALARS] (contiguous, may be written between runs with
 * ww_tensor_write): lr, bias_corr1, bias_corr2 and grad_scale are read from it when the sequence
 * runs (h's are ignored), so a recorded training step is re-submitted with new per-step values,
 * and the global-norm clipping of PyTorch's clip_grad_norm_ happens on the device:
 * norm = sqrt(scalars[WW_ADAMW_SUMSQ]) * |grad_scale| (ww_sum_squares of the gradient written
 * there earlier in the sequence) and, when max_norm = scalars[WW_ADAMW_MAX_NORM] > 0,
 * scale = grad_scale * min(1, max_norm / (norm + 1e-6)); otherwise scale = grad_scale. */
ww_status ww_adamw(ww_seq *s, const ww_tensor *params, const ww_tensor *grads, const ww_tensor *m,
                   const ww_tensor *v, const ww_adamw_hparams *h, const ww_tensor *scalars);

/* ---- Losses (core/ops_loss.c) ----------------------------------------------------------------
 * Per-pixel training losses with their gradient, in one dispatch. pred [B, C, H, W] is the
 * model's output, target [B, Ct, H, W] and weight [B, 1, H, W] come from the data. A pixel's
 * loss is weight * l(pred, target); the weight carries everything the data knows: 0 for invalid
 * or ignored pixels (their pred and target are not read, so NaN or Inf there is harmless) and
 * 1 / (number of valid pixels) for a mean. Outputs, all written (=, not accumulated):
 *   dpred [B, C, H, W] = weight * dl/dpred (0 where weight is 0)
 *   loss_px [B, 1, H, W] = weight * l (0 where weight is 0); ww_sum_rows gives the total.
 * Kinds:
 *   WW_LOSS_LAPLACIAN (flow, CroCo-Flow's LaplacianLossBounded): C = Ct + 1, the last channel of
 *     pred is the raw confidence r; c = (b - a) * sigmoid(r) + a with a = 0.25, b = 4;
 *     l = sum over k < Ct of |pred_k - target_k| / c + log c. d|x|/dx at 0 is 0 (as torch.sign).
 *   WW_LOSS_L1 (depth, on inverse depth): C = Ct; l = sum over k of |pred_k - target_k|.
 *   WW_LOSS_CROSS_ENTROPY (segmentation): Ct = 1, target holds the class id as a float (an exact
 *     integer in [0, C)); l = logsumexp_k(pred_k) - pred_target; dl/dpred_k = softmax_k - [k ==
 *     target]; an id outside [0, C) gives l = 0 and no gradient (the caller checks its labels). */
typedef enum ww_loss_kind { WW_LOSS_LAPLACIAN = 0, WW_LOSS_L1, WW_LOSS_CROSS_ENTROPY } ww_loss_kind;
ww_status ww_loss(ww_seq *s, ww_loss_kind kind, const ww_tensor *pred, const ww_tensor *target,
                  const ww_tensor *weight, const ww_tensor *dpred, const ww_tensor *loss_px);

/* ---- Visualisation ------------------------------------------------------------------------
 * Every colorize op writes rgba, U32 [H, W]: one packed pixel per word, R in the low byte, so
 * the bytes in memory are R, G, B, A (the RGBA video format); A = 255 unless a palette word says
 * otherwise. Inputs and rgba need unit stride along W; their rows (and the flow's two planes)
 * may be strided views, e.g. the image-sized corner of an output padded to the patch grid.
 * Black is WW_RGBA(0, 0, 0, 255). */
#define WW_RGBA(r, g, b, a)                                                                        \
    ((uint32_t)(r) | (uint32_t)(g) << 8 | (uint32_t)(b) << 16 | (uint32_t)(a) << 24)

typedef enum ww_colormap {
    WW_CMAP_TURBO = 0, WW_CMAP_INFERNO, WW_CMAP_MAGMA, WW_CMAP_VIRIDIS, WW_CMAP_GRAY,
    WW_CMAP_COUNT
} ww_colormap;

/* "turbo", "inferno", "magma", "viridis", "gray"; NULL for an unknown colormap. */
const char *ww_colormap_name(ww_colormap cmap);
/* The colormap's 256 entries as R, G, B bytes (768 bytes, static); NULL for an unknown one.
 * turbo: Google's published table; inferno, magma, viridis: matplotlib's; gray: (i, i, i). */
const uint8_t *ww_colormap_rgb(ww_colormap cmap);
/* Allocate from arena and fill the lookup table of ww_colorize_scalar: U32 [256] packed RGBA
 * words (A = 255). Upload once, use in every frame. */
ww_status ww_colormap_table(ww_arena *a, ww_colormap cmap, ww_tensor *lut);
/* The 19 Cityscapes train-id colours as R, G, B bytes (static); *n (if not NULL) = 19. */
const uint8_t *ww_palette_cityscapes(int *n);
/* Allocate from arena and fill U32 [n] with the packed RGBA words (A = 255) of n R, G, B byte
 * triplets: the palette of ww_colorize_labels. */
ww_status ww_palette_table(ww_arena *a, const uint8_t *rgb, int n, ww_tensor *palette);

/* How ww_colorize_flow colours a motion. */
typedef enum ww_flow_colors { WW_FLOW_MIDDLEBURY = 0, WW_FLOW_HSV } ww_flow_colors;

/* Optical flow as colours: flow F32 [2, H, W] (u plane, then v plane; +u right, +v down). Both
 * schemes compute un = u * (1 / max_flow), vn = v * (1 / max_flow) and rad = sqrt(un^2 + vn^2),
 * and write byte = round(255 * col) per channel. A non-finite u or v gives black. max_flow must
 * be finite and > 0 (1 / max_flow a finite float).
 * WW_FLOW_MIDDLEBURY, the Middlebury colour wheel: 55 colours (RY 15, YG 6, GC 4, CB 11, BM 13,
 * MR 6); a = atan2(-v, -u) / pi (v = 0 with u >= 0 counts as a = -1, whatever the sign of the
 * zero), fk = (a + 1) / 2 * 54, k0 = floor(fk), k1 = (k0 + 1) % 55, f = fk - k0,
 * col = ((1 - f) * wheel[k0] + f * wheel[k1]) / 255 per channel; rad <= 1:
 * col = 1 - rad * (1 - col) (zero motion is white), beyond: col * 0.75.
 * WW_FLOW_HSV, hue for the direction and brightness for the speed (as NVIDIA's nvofvisual;
 * zero motion is black): h = atan2(v, u) / (2 pi), plus 1 when negative, and 0 when that gives
 * 1 (u > 0, v = 0 is h = 0, red; +v is 0.25, yellow-green; -u 0.5, cyan; -v 0.75, violet);
 * saturation 1; value V = min(1, rad). With h6 = 6 h, i = floor(h6), f = h6 - i,
 * q = V (1 - f), t = V f: (R, G, B) = (V, t, 0), (q, V, 0), (0, V, t), (0, q, V), (t, 0, V),
 * (V, 0, q) for i = 0 .. 5. rad = 0 is black (h does not matter). */
ww_status ww_colorize_flow(ww_seq *s, const ww_tensor *flow, float max_flow,
                           ww_flow_colors colors, const ww_tensor *rgba);
/* A scalar field through a colour lookup table: x F32 [H, W], lut U32 [n] packed RGBA words
 * (ww_colormap_table: n = 256). t = clamp((x - lo) / (hi - lo), 0, 1) (computed as
 * (x - lo) * (n / (hi - lo))), entry min(floor(t * n), n - 1) (matplotlib's indexing).
 * A non-finite x gives black. lo < hi, both finite. */
ww_status ww_colorize_scalar(ww_seq *s, const ww_tensor *x, float lo, float hi,
                             const ww_tensor *lut, const ww_tensor *rgba);
/* Class ids through a palette: ids U32 [H, W], palette U32 [n] packed RGBA words (copied as they
 * are); ids >= n (255 = ignore, for instance) give black. */
ww_status ww_colorize_labels(ww_seq *s, const ww_tensor *ids, const ww_tensor *palette,
                             const ww_tensor *rgba);

/* Peak-throughput probe for benchmarks: each of y's n elements runs `iters` chains of
 * dependent fused multiply-adds (8 independent chains per element), 16 * iters FLOP per
 * element. */
ww_status ww_probe_fma(ww_seq *s, const ww_tensor *y, int iters);

#ifdef __cplusplus
}
#endif
#endif
