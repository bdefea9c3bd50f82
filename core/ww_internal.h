/* Internals shared by the backend-independent core and the two backends. */
#ifndef WW_INTERNAL_H
#define WW_INTERNAL_H

#include <stdarg.h>

#include "ww.h"
#include "ww_params.h"

typedef enum ww_op {
    WW_OP_GEMM = 0,
    WW_OP_LAYERNORM,
    WW_OP_ELTWISE,
    WW_OP_ROPE,
    WW_OP_ATTENTION,
    WW_OP_PATCHIFY,
    WW_OP_CONV2D,
    WW_OP_CONVT,
    WW_OP_RESIZE,
    WW_OP_CHANNELS,
    WW_OP_PREPROCESS,
    WW_OP_ROWS,
    WW_OP_PROBE,
    WW_OP_COLORIZE,
    WW_OP_ATTENTION_BWD_DQ,
    WW_OP_ATTENTION_BWD_DKDV,
    WW_OP_LAYERNORM_BWD,
    WW_OP_GELU_BWD,
    WW_OP_REDUCE,
    WW_OP_ADAMW,
    WW_OP_CONV2D_BWD_INPUT,  /* conv2d params; bindings dy, w, dx (ops_conv_backward.c) */
    WW_OP_CONV2D_BWD_WEIGHT, /* conv2d params; bindings x, dy, dw */
    WW_OP_CHANNEL_SUM,       /* channels params (C, HW, B); bindings t, sum */
    WW_OP_RESIZE_BWD,        /* resize params; bindings dy, dx */
    WW_OP_RELU_BWD,          /* eltwise params (n); bindings x, dy, dx */
    WW_OP_SCATTER_ADD_ROWS,  /* rows params; bindings x, idx, y */
    WW_OP_LOSS,              /* loss params; bindings pred, target, weight, dpred, loss_px */
    WW_OP_COUNT
} ww_op;

/* Static name of an op for errors and profiles ("gemm", ...). */
const char *ww_op_name(ww_op op);

/* One binding: the tensor, and the byte range of its buffer that the op touches. */
typedef struct ww_binding {
    ww_tensor t;     /* t.buf == NULL: absent optional tensor */
    size_t lo, hi;   /* byte range [lo, hi) inside t.buf that the op reads or writes */
    int written;     /* the op writes this binding */
} ww_binding;

typedef union ww_op_params {
    ww_gemm_params gemm;
    ww_layernorm_params layernorm;
    ww_eltwise_params eltwise;
    ww_rope_params rope;
    ww_attention_params attention;
    ww_patchify_params patchify;
    ww_conv2d_params conv2d;
    ww_convt_params convt;
    ww_resize_params resize;
    ww_channels_params channels;
    ww_preprocess_params preprocess;
    ww_rows_params rows;
    ww_probe_params probe;
    ww_colorize_params colorize;
    ww_attention_bwd_params attention_bwd;
    ww_layernorm_bwd_params layernorm_bwd;
    ww_gelu_bwd_params gelu_bwd;
    ww_reduce_params reduce;
    ww_adamw_params adamw;
    ww_loss_params loss;
    uint32_t words[32];
} ww_op_params;

typedef struct ww_node {
    ww_op op;
    int nbind;
    ww_binding bind[WW_MAX_NODE_BINDINGS];
    ww_op_params p;
    uint32_t params_size; /* bytes of p that the shader's push-constant block holds */
} ww_node;

/* What a backend implements. The CPU backend runs nodes directly; Vulkan records them. */
typedef struct ww_backend_ops {
    void (*destroy)(ww_backend *be);
    ww_status (*buffer_create)(ww_backend *be, size_t bytes, ww_buffer **out);
    void (*buffer_destroy)(ww_backend *be, ww_buffer *b);
    ww_status (*write)(ww_backend *be, ww_buffer *b, size_t off, const void *src, size_t n);
    ww_status (*read)(ww_backend *be, ww_buffer *b, size_t off, void *dst, size_t n);
    ww_status (*fill)(ww_backend *be, ww_buffer *b, size_t off, size_t n, uint32_t pattern);
    /* Sequences: private state per sequence. */
    ww_status (*seq_init)(ww_seq *s);
    void (*seq_fini)(ww_seq *s);
    void (*seq_invalidate)(ww_seq *s); /* the node list changed: drop recorded work */
    ww_status (*seq_run)(ww_seq *s);
    ww_status (*seq_wait)(ww_seq *s);
} ww_backend_ops;

struct ww_buffer {
    size_t size;
    void *host; /* CPU backend: the memory; Vulkan: the mapping when host-visible, else NULL */
};

struct ww_backend {
    const ww_backend_ops *ops;
    ww_backend_kind kind;
    char device_name[256];
    char err[1024];
    ww_log_fn log;
    void *log_user;
    size_t mem_in_use, mem_peak;
    size_t max_binding_bytes;  /* largest range one op may bind (maxStorageBufferRange) */
    size_t max_buffer_bytes;   /* largest single buffer (maxMemoryAllocationSize) */
    size_t binding_alignment;  /* alignment of tensor starts inside a chunk */
    uint64_t validation_messages;
};

struct ww_seq {
    ww_backend *be;
    ww_node *nodes;
    int n, cap;
    int profile; /* WW_PROFILE was set */
    double *op_ms; /* per node, last run; filled by the backend when profiling */
    int barriers;  /* memory barriers in the last recording (Vulkan) */
    void *priv;    /* backend state */
};

/* Return from the calling function when x fails. */
#define WW_TRY(x)                                                                                  \
    do {                                                                                           \
        ww_status st_ = (x);                                                                       \
        if (st_ != WW_OK)                                                                          \
            return st_;                                                                            \
    } while (0)

/* Record an error message on the backend and return status. printf-style. */
ww_status ww_set_error(ww_backend *be, ww_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ww_log(ww_backend *be, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The backend an arena allocates from. */
ww_backend *ww_arena_backend(const ww_arena *a);

/* Account for buffer allocation (peak memory). */
void ww_mem_account(ww_backend *be, long long delta);

/* Argument checks shared by the op constructors (ops*.c); each sets the backend's error naming
 * the op and the tensor. ww_op_check: present (unless optional), of the type, with sizes and
 * strides that fit the shaders' 32-bit indices. */
ww_status ww_op_check(ww_seq *s, const char *op, const char *name, const ww_tensor *t,
                      ww_dtype type, int optional);
ww_status ww_op_contiguous(ww_seq *s, const char *op, const char *name, const ww_tensor *t);
/* Sizes given fastest first (ne order); the message prints them slowest first. */
ww_status ww_op_shape(ww_seq *s, const char *op, const char *name, const ww_tensor *t,
                      int64_t n0, int64_t n1, int64_t n2, int64_t n3);
/* Binding i of node n: the tensor (NULL or absent: an unbound optional) and its byte range. */
void ww_op_bind(ww_node *n, int i, const ww_tensor *t, int written);

/* Planes of a pixel format: 1 (packed RGB(A)), 2 (NV12) or 3 (I420). */
int ww_pixel_format_planes(ww_pixel_format f);
/* Check that l describes an image ww_preprocess can read (a known format, 1..65536 pixels a
 * side, row strides that hold a row, offsets and strides below 4 GiB) and that every plane ends
 * within `bytes` bytes. Otherwise sets be's error, "WHO: PROBLEM" with the byte counts named as
 * "HOLDER holds N" ("the source", "the frame"), and returns WW_ERR_INVALID. */
ww_status ww_image_layout_check(ww_backend *be, const char *who, const ww_image_layout *l,
                                size_t bytes, const char *holder);

/* Append a node (copied) to a sequence; checks that bindings stay inside their buffers. */
ww_status ww_seq_append(ww_seq *s, const ww_node *n);

/* Backend constructors (cpu_backend.c, vk_backend.c). */
ww_status ww_cpu_backend_create(const ww_backend_options *opt, ww_backend **out, char *err,
                                size_t errlen);
/* Returns WW_ERR_NO_DEVICE with a message when Vulkan was asked by "auto" and only CPU drivers
 * (or none) exist, so that the caller can fall back to the CPU backend. */
ww_status ww_vk_backend_create(const ww_backend_options *opt, int auto_mode, ww_backend **out,
                               char *err, size_t errlen);

/* CPU reference: run one node with ptr[i] = host address of binding i's element 0 (NULL for an
 * absent optional binding). The CPU backend calls it with its thread pool (cpu_threads.c). */
typedef struct ww_threads ww_threads;
void ww_cpu_run_node(const ww_node *n, void *const *ptr, ww_threads *pool);
/* The same for the backward ops of ops_conv_backward.c (cpu_conv_backward.c). */
void ww_cpu_run_conv_backward(const ww_node *n, void *const *ptr, ww_threads *pool);
/* The attention backward nodes (cpu_attention_backward.c), called by ww_cpu_run_node. */
void ww_cpu_attention_backward(const ww_node *n, void *const *ptr, ww_threads *pool);
/* LayerNorm / GELU backward, reductions, AdamW (cpu_train.c), called by ww_cpu_run_node. */
void ww_cpu_run_train_basic(const ww_node *n, void *const *ptr, ww_threads *pool);
/* The loss node (cpu_loss.c), called by ww_cpu_run_node. */
void ww_cpu_run_loss(const ww_node *n, void *const *ptr, ww_threads *pool);

/* Thread pool: run fn(i, user) for i in [0, n) on the pool's threads and wait. pool may be NULL
 * (run on the caller's thread). */
ww_status ww_threads_create(int nthreads, ww_threads **out);
void ww_threads_destroy(ww_threads *t);
int ww_threads_count(const ww_threads *t);
void ww_threads_parallel_for(ww_threads *t, int64_t n, void (*fn)(int64_t i, void *user),
                             void *user);

/* Items [0, n) in contiguous pieces, fn(ctx, i0, i1) per piece on the pool. cost: rough work per
 * item (flops or bytes); pieces get ~64k of it so that waking the pool is worth it and tiny ops
 * stay on the calling thread. */
typedef void (*ww_range_fn)(const void *ctx, int64_t i0, int64_t i1);
void ww_parallel_ranges(ww_threads *pool, int64_t n, int64_t cost, ww_range_fn fn,
                        const void *ctx);

/* Monotonic clock in milliseconds. */
double ww_now_ms(void);

#endif
