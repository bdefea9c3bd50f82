/* Vulkan kernel selection: for one node, which embedded shader runs, with which specialization
 * constants and how many workgroups.
 *
 * Shader conventions (every compute shader in shaders/ follows them):
 * - layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in; spec[0..2] give
 *   the workgroup size, spec[3..] shader-specific constants (tile sizes, head dim), all 32-bit.
 * - binding i of set 0 is node->bind[i] (a std430 storage buffer: float[] for F32, uint[] for U32
 *   and for U8 bytes read as words); the push-constant block is the op's params struct of
 *   ww_params.h, whose off[i] is the element offset of binding i's tensor inside the bound range.
 */
#ifndef WW_VK_PLAN_H
#define WW_VK_PLAN_H

#include "ww_internal.h"

typedef enum ww_shader_id {
    WW_SHADER_GEMM = 0,        /* register-tiled, no shared memory (CPU drivers) */
    WW_SHADER_GEMM_SHMEM,      /* shared-memory tiled (GPUs) */
    WW_SHADER_ATTENTION,
    WW_SHADER_CONV2D,
    WW_SHADER_CONV_TRANSPOSE2D,
    WW_SHADER_LAYERNORM,
    WW_SHADER_ELTWISE,
    WW_SHADER_ROPE2D,
    WW_SHADER_PATCHIFY,
    WW_SHADER_RESIZE_BILINEAR,
    WW_SHADER_CHANNELS,
    WW_SHADER_PREPROCESS,
    WW_SHADER_ROWS,
    WW_SHADER_PROBE_FMA,
    WW_SHADER_COLORIZE,
    WW_SHADER_LAYERNORM_BACKWARD,
    WW_SHADER_GELU_BACKWARD,
    WW_SHADER_REDUCE,
    WW_SHADER_ADAMW,
    WW_SHADER_CONV2D_BWD_INPUT, /* vk_plan_conv_backward.c */
    WW_SHADER_CONV2D_BWD_WEIGHT,
    WW_SHADER_CHANNEL_SUM,
    WW_SHADER_RESIZE_BWD,
    WW_SHADER_RELU_BWD,
    WW_SHADER_SCATTER_ADD_ROWS,
    WW_SHADER_ATTENTION_BWD_DQ,   /* vk_plan_attention_backward.c */
    WW_SHADER_ATTENTION_BWD_DKDV,
    WW_SHADER_LOSS,               /* vk_plan_loss.c */
    WW_SHADER_COUNT
} ww_shader_id;

typedef struct ww_vk_shader {
    const char *name;
    const uint32_t *code;
    size_t size; /* bytes */
} ww_vk_shader;

/* The embedded SPIR-V of every shader (vk_shaders.c), indexed by ww_shader_id. */
extern const ww_vk_shader ww_vk_shaders[WW_SHADER_COUNT];

typedef struct ww_vk_caps {
    int is_cpu;                    /* VK_PHYSICAL_DEVICE_TYPE_CPU (lavapipe) */
    uint32_t max_groups[3];        /* maxComputeWorkGroupCount */
    uint32_t max_invocations;      /* maxComputeWorkGroupInvocations */
    uint32_t max_shared_bytes;     /* maxComputeSharedMemorySize */
    int gemm_variant;              /* as ww_backend_options.gemm_variant */
} ww_vk_caps;

#define WW_VK_MAX_SPEC 8

typedef struct ww_vk_dispatch {
    ww_shader_id shader;
    uint32_t nspec;
    uint32_t spec[WW_VK_MAX_SPEC];
    uint32_t groups[3];
} ww_vk_dispatch;

/* Fill d for node n. Returns WW_ERR_UNSUPPORTED with a message in err when the device cannot run
 * it (e.g. more workgroups than maxComputeWorkGroupCount allows). */
ww_status ww_vk_plan(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                     size_t errlen);

/* Per op family (vk_plan_dense.c: gemm, attention, conv2d, conv transpose;
 * vk_plan_pointwise.c: everything else). Same contract as ww_vk_plan. */
ww_status ww_vk_plan_gemm(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                          size_t errlen);
ww_status ww_vk_plan_attention(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                               char *err, size_t errlen);
ww_status ww_vk_plan_conv2d(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                            char *err, size_t errlen);
ww_status ww_vk_plan_convt(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                           char *err, size_t errlen);
ww_status ww_vk_plan_pointwise(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                               char *err, size_t errlen);
/* vk_plan_attention_backward.c: both attention backward nodes. */
ww_status ww_vk_plan_attention_backward(const ww_node *n, const ww_vk_caps *caps,
                                        ww_vk_dispatch *d, char *err, size_t errlen);
/* vk_plan_conv_backward.c: the backward ops of ops_conv_backward.c. */
ww_status ww_vk_plan_conv_backward(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                                   char *err, size_t errlen);
/* vk_plan_train.c: layernorm / gelu backward, reduce, adamw. */
ww_status ww_vk_plan_train_basic(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                                 char *err, size_t errlen);
/* vk_plan_loss.c: the loss node. */
ww_status ww_vk_plan_loss(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                          size_t errlen);

/* Split `total` items into groups of `per_group` along x, spilling into y (and z) when x would
 * exceed the device limit; shaders rebuild the linear group index as
 * gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z).
 * Returns WW_ERR_UNSUPPORTED when even that does not fit. */
ww_status ww_vk_groups_1d(uint64_t total, uint32_t per_group, const ww_vk_caps *caps,
                          uint32_t groups[3], char *err, size_t errlen);

/* groups[0] = gx workgroups along x, and `total` further workgroups laid out over y then z
 * (shaders rebuild t = WorkGroupID.y + NumWorkGroups.y * WorkGroupID.z and skip t >= total).
 * WW_ERR_UNSUPPORTED with a message when the device limits are exceeded. */
ww_status ww_vk_grid(uint64_t gx, uint64_t total, const ww_vk_caps *caps, uint32_t groups[3],
                     char *err, size_t errlen);

/* ---- Shared by the planners (vk_plan.c) ------------------------------------------------------ */

/* Print the message into err (when err and errlen are given) and return st. */
ww_status ww_vk_plan_fail(char *err, size_t errlen, ww_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ceil(a / b) for b > 0. */
static inline uint64_t ww_vk_div_up(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

/* Lanes of a one-dimensional workgroup: 64 on CPU drivers (lavapipe vectorises x, 8 lanes of
 * 256-bit vectors), 256 on GPUs (a few warps); when want > 0, no more than a row of want items
 * rounded up to the lane granule (8 / 32); capped by maxComputeWorkGroupInvocations and, with
 * `shared`, by one float of shared memory per lane. 0 when the device allows no such group. */
uint32_t ww_vk_lanes(const ww_vk_caps *caps, uint64_t want, int shared);

/* d runs shader sh in one-dimensional workgroups of lx lanes: spec = {lx, 1, 1} and no
 * shader-specific constants. */
void ww_vk_local_1d(ww_vk_dispatch *d, ww_shader_id sh, uint32_t lx);

/* WW_ERR_UNSUPPORTED with a message naming op when a workgroup of n invocations exceeds the
 * device limit; WW_OK otherwise. */
ww_status ww_vk_check_invocations(const char *op, uint32_t n, const ww_vk_caps *caps, char *err,
                                  size_t errlen);

/* One item per invocation, `total` items: ww_vk_lanes(caps, 0, 0) lanes per workgroup, laid out
 * by ww_vk_groups_1d, so that the shader's 32-bit linear invocation index never wraps. */
ww_status ww_vk_plan_items(ww_shader_id sh, uint64_t total, const ww_vk_caps *caps,
                           ww_vk_dispatch *d, char *err, size_t errlen);

#endif
