/* The SPIR-V of every shader, compiled at build time by glslangValidator -x (shaders/meson.build)
 * into files of bare hex words, embedded here. */
#include "vk_plan.h"

static const uint32_t gemm_spv[] = {
#include "gemm.spv.h"
};
static const uint32_t gemm_shmem_spv[] = {
#include "gemm_shmem.spv.h"
};
static const uint32_t attention_spv[] = {
#include "attention.spv.h"
};
static const uint32_t conv2d_spv[] = {
#include "conv2d.spv.h"
};
static const uint32_t conv_transpose2d_spv[] = {
#include "conv_transpose2d.spv.h"
};
static const uint32_t layernorm_spv[] = {
#include "layernorm.spv.h"
};
static const uint32_t eltwise_spv[] = {
#include "eltwise.spv.h"
};
static const uint32_t rope2d_spv[] = {
#include "rope2d.spv.h"
};
static const uint32_t patchify_spv[] = {
#include "patchify.spv.h"
};
static const uint32_t resize_bilinear_spv[] = {
#include "resize_bilinear.spv.h"
};
static const uint32_t channels_spv[] = {
#include "channels.spv.h"
};
static const uint32_t preprocess_spv[] = {
#include "preprocess.spv.h"
};
static const uint32_t rows_spv[] = {
#include "rows.spv.h"
};
static const uint32_t probe_fma_spv[] = {
#include "probe_fma.spv.h"
};
static const uint32_t colorize_spv[] = {
#include "colorize.spv.h"
};
static const uint32_t layernorm_backward_spv[] = {
#include "layernorm_backward.spv.h"
};
static const uint32_t gelu_backward_spv[] = {
#include "gelu_backward.spv.h"
};
static const uint32_t reduce_spv[] = {
#include "reduce.spv.h"
};
static const uint32_t adamw_spv[] = {
#include "adamw.spv.h"
};
static const uint32_t conv2d_backward_input_spv[] = {
#include "conv2d_backward_input.spv.h"
};
static const uint32_t conv2d_backward_weight_spv[] = {
#include "conv2d_backward_weight.spv.h"
};
static const uint32_t channel_sum_spv[] = {
#include "channel_sum.spv.h"
};
static const uint32_t resize_bilinear_backward_spv[] = {
#include "resize_bilinear_backward.spv.h"
};
static const uint32_t relu_backward_spv[] = {
#include "relu_backward.spv.h"
};
static const uint32_t scatter_add_rows_spv[] = {
#include "scatter_add_rows.spv.h"
};
static const uint32_t attention_backward_dq_spv[] = {
#include "attention_backward_dq.spv.h"
};
static const uint32_t attention_backward_dkdv_spv[] = {
#include "attention_backward_dkdv.spv.h"
};
static const uint32_t loss_spv[] = {
#include "loss.spv.h"
};

#define SHADER(id, name) [WW_SHADER_##id] = {#name, name##_spv, sizeof name##_spv}

const ww_vk_shader ww_vk_shaders[WW_SHADER_COUNT] = {
    SHADER(GEMM, gemm),
    SHADER(GEMM_SHMEM, gemm_shmem),
    SHADER(ATTENTION, attention),
    SHADER(CONV2D, conv2d),
    SHADER(CONV_TRANSPOSE2D, conv_transpose2d),
    SHADER(LAYERNORM, layernorm),
    SHADER(ELTWISE, eltwise),
    SHADER(ROPE2D, rope2d),
    SHADER(PATCHIFY, patchify),
    SHADER(RESIZE_BILINEAR, resize_bilinear),
    SHADER(CHANNELS, channels),
    SHADER(PREPROCESS, preprocess),
    SHADER(ROWS, rows),
    SHADER(PROBE_FMA, probe_fma),
    SHADER(COLORIZE, colorize),
    SHADER(CONV2D_BWD_INPUT, conv2d_backward_input),
    SHADER(CONV2D_BWD_WEIGHT, conv2d_backward_weight),
    SHADER(CHANNEL_SUM, channel_sum),
    SHADER(RESIZE_BWD, resize_bilinear_backward),
    SHADER(RELU_BWD, relu_backward),
    SHADER(SCATTER_ADD_ROWS, scatter_add_rows),
    SHADER(LAYERNORM_BACKWARD, layernorm_backward),
    SHADER(GELU_BACKWARD, gelu_backward),
    SHADER(REDUCE, reduce),
    SHADER(ADAMW, adamw),
    SHADER(ATTENTION_BWD_DQ, attention_backward_dq),
    SHADER(ATTENTION_BWD_DKDV, attention_backward_dkdv),
    SHADER(LOSS, loss),
};
