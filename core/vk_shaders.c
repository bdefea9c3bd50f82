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
};
