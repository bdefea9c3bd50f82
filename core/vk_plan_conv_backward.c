/* Vulkan kernel selection for the backward ops of ops_conv_backward.c.
 *
 * WW_SHADER_CONV2D_BWD_INPUT: spec 3 = TM (input channels per invocation), 4 = TN (consecutive
 *   input pixels per invocation), 5 = k | stride << 8 | pad << 16 of the unrolled path (0 =
 *   generic path only), 6 = SG (lanes sharing the weight loads through subgroupBroadcast);
 *   workgroup (WX, 1, 1); groups x = ceil(W / (WX*TN)),
 *   y*z = H * ceil(Cin / TM) * B (t = iy + H * (channel tile + ceil(Cin/TM) * b)).
 * WW_SHADER_CONV2D_BWD_WEIGHT: spec 3 = TM (rows of dw, output channels, per workgroup),
 *   4 = TN (taps per workgroup); workgroup (WX, 1, 1) whose lanes split the positions and need
 *   WX * TM * TN floats of shared memory; groups x = ceil(Cin*k*k / TN), y*z = ceil(Cout / TM).
 * WW_SHADER_CHANNEL_SUM: workgroup (LX, 1, 1) with LX floats of shared memory, one workgroup
 *   per channel (the linear group index of ww_vk_groups_1d).
 * WW_SHADER_RESIZE_BWD (planes*H*W dx elements), WW_SHADER_RELU_BWD (n elements),
 *   WW_SHADER_SCATTER_ADD_ROWS (B*n*D row elements): one invocation per item, item = linear
 *   group index * LX + gl_LocalInvocationIndex; no shader-specific constants.
 * Lanes run along x: 8 on CPU drivers (one lavapipe SIMD vector), 64 / 256 on GPUs.
 */

#include "vk_plan.h"

static ww_status plan_dx(const ww_conv2d_params *p, const ww_vk_caps *caps, ww_vk_dispatch *d,
                         char *err, size_t errlen)
{
    if (p->k == 0 || p->stride == 0)
        return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "kernel %u / stride %u", p->k,
                               p->stride);
    const uint32_t WX = caps->is_cpu ? 8 : 64;
    uint32_t TM = p->Cin >= 16 && caps->is_cpu ? 16 : p->Cin >= 8 ? 8 : 4;
    uint32_t TN = p->W >= 4 * WX ? 4 : p->W >= 2 * WX ? 2 : 1;
    if (caps->is_cpu && p->W >= 8 * WX)
        TN = 8;
    /* Unrolled path for the small kernels (1, 3, 5, 7) at strides up to 4: k, stride and pad
     * compiled in, TN a multiple of the stride. The rest (patch embedding's k = 16) takes the
     * generic loop. */
    uint32_t KSP = 0;
    if (p->k < 8 && p->stride <= 4 && p->pad < p->k) {
        TN = (TN < p->stride ? 1 : TN / p->stride) * p->stride;
        KSP = p->k | p->stride << 8 | p->pad << 16;
    }
    WW_TRY(ww_vk_check_invocations(ww_op_name(WW_OP_CONV2D_BWD_INPUT), WX, caps, err, errlen));
    ww_vk_local_1d(d, WW_SHADER_CONV2D_BWD_INPUT, WX);
    d->spec[3] = TM;
    d->spec[4] = TN;
    d->spec[5] = KSP;
    d->spec[6] = 8; /* SG: weight loads shared by 8 lanes */
    d->nspec = 7;
    return ww_vk_grid(ww_vk_div_up(p->W, (uint64_t)WX * TN),
                      (uint64_t)p->H * ww_vk_div_up(p->Cin, TM) * p->B, caps, d->groups, err,
                      errlen);
}

static ww_status plan_dw(const ww_conv2d_params *p, const ww_vk_caps *caps, ww_vk_dispatch *d,
                         char *err, size_t errlen)
{
    uint64_t ntap = (uint64_t)p->Cin * p->k * p->k;
    if (ntap == 0 || ntap > 0xffffffffull)
        return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "%llu taps", (unsigned long long)ntap);
    uint32_t WX = caps->is_cpu ? 8 : 64;
    uint32_t TM = caps->is_cpu ? (p->Cout >= 8 ? 8 : 4) : 4;
    uint32_t TN = ntap >= 8 ? 8 : 4;
    /* shared memory: WX * TM * TN floats (2 KiB on CPU drivers, 8 KiB on GPUs) */
    while ((uint64_t)WX * TM * TN * 4 > caps->max_shared_bytes && WX > 8)
        WX /= 2;
    if ((uint64_t)WX * TM * TN * 4 > caps->max_shared_bytes)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "%u bytes of shared memory exceed the device limit %u",
                               WX * TM * TN * 4, caps->max_shared_bytes);
    WW_TRY(ww_vk_check_invocations(ww_op_name(WW_OP_CONV2D_BWD_WEIGHT), WX, caps, err, errlen));
    ww_vk_local_1d(d, WW_SHADER_CONV2D_BWD_WEIGHT, WX);
    d->spec[3] = TM;
    d->spec[4] = TN;
    d->nspec = 5;
    return ww_vk_grid(ww_vk_div_up(ntap, TN), ww_vk_div_up(p->Cout, TM), caps, d->groups, err,
                      errlen);
}

static ww_status plan_channel_sum(const ww_channels_params *p, const ww_vk_caps *caps,
                                  ww_vk_dispatch *d, char *err, size_t errlen)
{
    uint32_t lx = ww_vk_lanes(caps, 0, 1);
    if (lx == 0)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "device allows no workgroup with shared memory");
    ww_vk_local_1d(d, WW_SHADER_CHANNEL_SUM, lx);
    return ww_vk_groups_1d(p->C, 1, caps, d->groups, err, errlen); /* one group per channel */
}

ww_status ww_vk_plan_conv_backward(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                                   char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    switch (n->op) {
    case WW_OP_CONV2D_BWD_INPUT:
        return plan_dx(&n->p.conv2d, caps, d, err, errlen);
    case WW_OP_CONV2D_BWD_WEIGHT:
        return plan_dw(&n->p.conv2d, caps, d, err, errlen);
    case WW_OP_CHANNEL_SUM:
        return plan_channel_sum(&n->p.channels, caps, d, err, errlen);
    case WW_OP_RESIZE_BWD: {
        const ww_resize_params *p = &n->p.resize;
        return ww_vk_plan_items(WW_SHADER_RESIZE_BWD, (uint64_t)p->planes * p->H * p->W, caps, d,
                                err, errlen);
    }
    case WW_OP_RELU_BWD:
        return ww_vk_plan_items(WW_SHADER_RELU_BWD, n->p.eltwise.n, caps, d, err, errlen);
    case WW_OP_SCATTER_ADD_ROWS: {
        const ww_rows_params *p = &n->p.rows;
        return ww_vk_plan_items(WW_SHADER_SCATTER_ADD_ROWS, (uint64_t)p->B * p->n * p->D, caps, d,
                                err, errlen);
    }
    default:
        return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "op %d is not a conv backward op",
                               (int)n->op);
    }
}
