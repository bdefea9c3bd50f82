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
#include <stdarg.h>
#include <stdio.h>

#include "vk_plan.h"

static ww_status fail(char *err, size_t errlen, ww_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ww_status fail(char *err, size_t errlen, ww_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

ww_status ww_vk_groups_1d(uint64_t total, uint32_t per_group, const ww_vk_caps *caps,
                          uint32_t groups[3], char *err, size_t errlen)
{
    groups[0] = 0;
    groups[1] = 1;
    groups[2] = 1;
    if (per_group == 0)
        return fail(err, errlen, WW_ERR_INVALID, "workgroup split: per_group is 0");
    if (total == 0)
        return WW_OK; /* nothing to dispatch: groups = {0, 1, 1} */
    uint64_t m0 = caps->max_groups[0], m1 = caps->max_groups[1], m2 = caps->max_groups[2];
    uint64_t g = div_up(total, per_group);
    uint64_t nx, ny = 1, nz = 1;
    if (m0 == 0 || m1 == 0 || m2 == 0)
        return fail(err, errlen, WW_ERR_UNSUPPORTED,
                    "workgroup split: device reports no workgroups (max %u x %u x %u)",
                    caps->max_groups[0], caps->max_groups[1], caps->max_groups[2]);
    if (g <= m0) {
        nx = g;
    } else if (g <= m0 * m1) {
        ny = div_up(g, m0);
        nx = div_up(g, ny);
    } else {
        nz = div_up(g, m0 * m1);
        if (nz > m2)
            return fail(err, errlen, WW_ERR_UNSUPPORTED,
                        "%llu workgroups of %u items exceed the device limit of %u x %u x %u",
                        (unsigned long long)g, per_group, caps->max_groups[0],
                        caps->max_groups[1], caps->max_groups[2]);
        if (g > 0xffffffffull) /* also keeps the products below from overflowing */
            return fail(err, errlen, WW_ERR_UNSUPPORTED,
                        "%llu workgroups do not fit a 32-bit group index",
                        (unsigned long long)g);
        uint64_t slice = div_up(g, nz);
        ny = div_up(slice, m0);
        nx = div_up(slice, ny);
    }
    /* The shaders rebuild the linear group index in 32 bits. */
    if (nx * ny * nz > 0xffffffffull)
        return fail(err, errlen, WW_ERR_UNSUPPORTED,
                    "%llu workgroups do not fit a 32-bit group index", (unsigned long long)g);
    groups[0] = (uint32_t)nx;
    groups[1] = (uint32_t)ny;
    groups[2] = (uint32_t)nz;
    return WW_OK;
}

/* Workgroup width for one-item-per-invocation shaders: lavapipe vectorises x (8 lanes of
 * 256-bit vectors), GPUs like a few warps per group. */
static uint32_t default_width(const ww_vk_caps *caps)
{
    uint32_t lx = caps->is_cpu ? 64 : 256;
    if (caps->max_invocations && lx > caps->max_invocations)
        lx = caps->max_invocations;
    return lx ? lx : 1;
}

static void set_local(ww_vk_dispatch *d, ww_shader_id sh, uint32_t lx)
{
    d->shader = sh;
    d->nspec = 3;
    for (int i = 0; i < WW_VK_MAX_SPEC; i++)
        d->spec[i] = 0;
    d->spec[0] = lx;
    d->spec[1] = 1;
    d->spec[2] = 1;
}

/* One item per invocation, `total` items. */
static ww_status plan_items(ww_shader_id sh, uint64_t total, const ww_vk_caps *caps,
                            ww_vk_dispatch *d, char *err, size_t errlen)
{
    uint32_t lx = default_width(caps);
    set_local(d, sh, lx);
    if (total > 0xffffffffull)
        return fail(err, errlen, WW_ERR_UNSUPPORTED,
                    "%llu items exceed the 32-bit index range of the shader",
                    (unsigned long long)total);
    ww_status st = ww_vk_groups_1d(total, lx, caps, d->groups, err, errlen);
    if (st != WW_OK)
        return st;
    uint64_t inv = (uint64_t)d->groups[0] * d->groups[1] * d->groups[2] * lx;
    if (inv > 0x100000000ull) /* linear invocation index must not wrap onto real items */
        return fail(err, errlen, WW_ERR_UNSUPPORTED,
                    "%llu items need %llu invocations, beyond a 32-bit index",
                    (unsigned long long)total, (unsigned long long)inv);
    return WW_OK;
}

static ww_status plan_layernorm(const ww_layernorm_params *p, const ww_vk_caps *caps,
                                ww_vk_dispatch *d, char *err, size_t errlen)
{
    /* Reduction width: no wider than the row (rounded to the vector / warp granule), capped by
     * the device. The shader is correct for any width. */
    uint32_t granule = caps->is_cpu ? 8 : 32;
    uint32_t lx = caps->is_cpu ? 64 : 256;
    uint64_t want = div_up(p->D ? p->D : 1, granule) * granule;
    if (want < lx)
        lx = (uint32_t)want;
    if (caps->max_invocations && lx > caps->max_invocations)
        lx = caps->max_invocations;
    if (caps->max_shared_bytes && (uint64_t)lx * 4 > caps->max_shared_bytes)
        lx = caps->max_shared_bytes / 4;
    if (lx == 0)
        return fail(err, errlen, WW_ERR_UNSUPPORTED,
                    "device allows no workgroup with shared memory");
    set_local(d, WW_SHADER_LAYERNORM, lx);
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
            return fail(err, errlen, WW_ERR_INVALID, "unknown eltwise op %u", p->op);
        return plan_items(WW_SHADER_ELTWISE, p->n, caps, d, err, errlen);
    }

    case WW_OP_ROPE: {
        const ww_rope_params *p = &n->p.rope;
        if (p->Dh == 0 || p->Dh % 4 != 0)
            return fail(err, errlen, WW_ERR_INVALID,
                        "head dim %u is not a positive multiple of 4", p->Dh);
        if (p->max_pos == 0)
            return fail(err, errlen, WW_ERR_INVALID, "empty table (max_pos 0)");
        uint64_t total = (uint64_t)p->B * p->N * p->H * 2 * (p->Dh / 4);
        return plan_items(WW_SHADER_ROPE2D, total, caps, d, err, errlen);
    }

    case WW_OP_PATCHIFY: {
        const ww_patchify_params *p = &n->p.patchify;
        if (p->p == 0)
            return fail(err, errlen, WW_ERR_INVALID, "patch size 0");
        uint64_t total = (uint64_t)p->B * (p->H / p->p) * (p->W / p->p) * p->C * p->p * p->p;
        return plan_items(WW_SHADER_PATCHIFY, total, caps, d, err, errlen);
    }

    case WW_OP_RESIZE: {
        const ww_resize_params *p = &n->p.resize;
        if ((p->H == 0 || p->W == 0) && p->planes && p->Ho && p->Wo)
            return fail(err, errlen, WW_ERR_INVALID, "empty input");
        uint64_t total = (uint64_t)p->planes * p->Ho * p->Wo;
        return plan_items(WW_SHADER_RESIZE_BILINEAR, total, caps, d, err, errlen);
    }

    case WW_OP_CHANNELS: {
        const ww_channels_params *p = &n->p.channels;
        if (p->mode > WW_CHAN_ARGMAX)
            return fail(err, errlen, WW_ERR_INVALID, "unknown channels mode %u", p->mode);
        uint64_t total = (uint64_t)p->B * p->HW;
        return plan_items(WW_SHADER_CHANNELS, total, caps, d, err, errlen);
    }

    case WW_OP_PREPROCESS: {
        const ww_preprocess_params *p = &n->p.preprocess;
        if (p->format >= WW_FMT_COUNT)
            return fail(err, errlen, WW_ERR_INVALID, "unknown pixel format %u", p->format);
        uint64_t total = (uint64_t)p->Hp * p->Wp;
        return plan_items(WW_SHADER_PREPROCESS, total, caps, d, err, errlen);
    }

    case WW_OP_ROWS: {
        const ww_rows_params *p = &n->p.rows;
        if (p->mode > WW_ROWS_SCATTER)
            return fail(err, errlen, WW_ERR_INVALID, "unknown rows mode %u", p->mode);
        uint64_t total = (uint64_t)p->B * p->n * p->D;
        return plan_items(WW_SHADER_ROWS, total, caps, d, err, errlen);
    }

    case WW_OP_PROBE:
        return plan_items(WW_SHADER_PROBE_FMA, n->p.probe.n, caps, d, err, errlen);

    case WW_OP_COLORIZE: {
        const ww_colorize_params *p = &n->p.colorize;
        if (p->mode > WW_COLORIZE_FLOW_HSV)
            return fail(err, errlen, WW_ERR_INVALID, "unknown colorize mode %u", p->mode);
        return plan_items(WW_SHADER_COLORIZE, (uint64_t)p->H * p->W, caps, d, err, errlen);
    }

    default:
        return fail(err, errlen, WW_ERR_INVALID, "op %d is not a pointwise op", (int)n->op);
    }
}
