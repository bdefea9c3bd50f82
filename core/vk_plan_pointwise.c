/* Vulkan kernel selection for the non-matmul ops: layernorm, eltwise, rope2d, patchify, resize,
 * channels, preprocess, rows, the FMA probe and colorize.
 *
 * Dispatch contract (every shader here has no shader-specific specialization constants:
 * spec = {local_size_x, 1, 1}, nspec = 3):
 * - layernorm: one workgroup per row; the linear group index (see ww_vk_groups_1d) is the row.
 *   local_size_x is a reduction width that the shader handles for any value; it needs
 *   local_size_x floats of shared memory.
 * - every other op: one invocation per item, item = linear group index * local_size_x +
 *   gl_LocalInvocationIndex; items at or beyond the count do nothing. Items are
 *   eltwise: n elements; rope2d: B*N*H*2*(Dh/4) rotation pairs; patchify: B*N*C*p*p output
 *   elements; resize: planes*Ho*Wo output elements; channels: B*HW pixels; preprocess: Hp*Wp
 *   output pixels; rows: B*n*D row elements; probe: n elements; colorize: H*W output pixels
 *   (consecutive items along x).
 * Indices are 32-bit in the shaders: a dispatch whose invocation count would not fit in 32 bits
 * is refused with WW_ERR_UNSUPPORTED.
 */

#include "vk_plan.h"

static ww_status plan_layernorm(const ww_layernorm_params *p, const ww_vk_caps *caps,
                                ww_vk_dispatch *d, char *err, size_t errlen)
{
    /* Reduction width: no wider than the row. The shader is correct for any width. */
    uint32_t lx = ww_vk_lanes(caps, p->D ? p->D : 1, 1);
    if (lx == 0)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "device allows no workgroup with shared memory");
    ww_vk_local_1d(d, WW_SHADER_LAYERNORM, lx);
    return ww_vk_groups_1d(p->rows, 1, caps, d->groups, err, errlen); /* one group per row */
}

ww_status ww_vk_plan_pointwise(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                               char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    switch (n->op) {
    case WW_OP_LAYERNORM:
        return plan_layernorm(&n->p.layernorm, caps, d, err, errlen);

    case WW_OP_ELTWISE: {
        const ww_eltwise_params *p = &n->p.eltwise;
        if (p->op > WW_ELT_ZERO)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "unknown eltwise op %u", p->op);
        return ww_vk_plan_items(WW_SHADER_ELTWISE, p->n, caps, d, err, errlen);
    }

    case WW_OP_ROPE: {
        const ww_rope_params *p = &n->p.rope;
        if (p->Dh == 0 || p->Dh % 4 != 0)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID,
                                   "head dim %u is not a positive multiple of 4", p->Dh);
        if (p->max_pos == 0)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "empty table (max_pos 0)");
        uint64_t total = (uint64_t)p->B * p->N * p->H * 2 * (p->Dh / 4);
        return ww_vk_plan_items(WW_SHADER_ROPE2D, total, caps, d, err, errlen);
    }

    case WW_OP_PATCHIFY: {
        const ww_patchify_params *p = &n->p.patchify;
        if (p->p == 0)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "patch size 0");
        uint64_t total = (uint64_t)p->B * (p->H / p->p) * (p->W / p->p) * p->C * p->p * p->p;
        return ww_vk_plan_items(WW_SHADER_PATCHIFY, total, caps, d, err, errlen);
    }

    case WW_OP_RESIZE: {
        const ww_resize_params *p = &n->p.resize;
        if ((p->H == 0 || p->W == 0) && p->planes && p->Ho && p->Wo)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "empty input");
        uint64_t total = (uint64_t)p->planes * p->Ho * p->Wo;
        return ww_vk_plan_items(WW_SHADER_RESIZE_BILINEAR, total, caps, d, err, errlen);
    }

    case WW_OP_CHANNELS: {
        const ww_channels_params *p = &n->p.channels;
        if (p->mode > WW_CHAN_ARGMAX)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "unknown channels mode %u",
                                   p->mode);
        uint64_t total = (uint64_t)p->B * p->HW;
        return ww_vk_plan_items(WW_SHADER_CHANNELS, total, caps, d, err, errlen);
    }

    case WW_OP_PREPROCESS: {
        const ww_preprocess_params *p = &n->p.preprocess;
        if (p->format >= WW_FMT_COUNT)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "unknown pixel format %u",
                                   p->format);
        uint64_t total = (uint64_t)p->Hp * p->Wp;
        return ww_vk_plan_items(WW_SHADER_PREPROCESS, total, caps, d, err, errlen);
    }

    case WW_OP_ROWS: {
        const ww_rows_params *p = &n->p.rows;
        if (p->mode > WW_ROWS_SCATTER)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "unknown rows mode %u", p->mode);
        uint64_t total = (uint64_t)p->B * p->n * p->D;
        return ww_vk_plan_items(WW_SHADER_ROWS, total, caps, d, err, errlen);
    }

    case WW_OP_PROBE:
        return ww_vk_plan_items(WW_SHADER_PROBE_FMA, n->p.probe.n, caps, d, err, errlen);

    case WW_OP_COLORIZE: {
        const ww_colorize_params *p = &n->p.colorize;
        if (p->mode > WW_COLORIZE_FLOW_HSV)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "unknown colorize mode %u",
                                   p->mode);
        return ww_vk_plan_items(WW_SHADER_COLORIZE, (uint64_t)p->H * p->W, caps, d, err, errlen);
    }

    default:
        return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "op %d is not a pointwise op",
                               (int)n->op);
    }
}
