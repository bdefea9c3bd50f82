/* Kernel selection entry point: route a node to its op family's planner. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vk_plan.h"

ww_status ww_vk_plan(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                     size_t errlen)
{
    switch (n->op) {
    case WW_OP_GEMM: return ww_vk_plan_gemm(n, caps, d, err, errlen);
    case WW_OP_ATTENTION: return ww_vk_plan_attention(n, caps, d, err, errlen);
    case WW_OP_CONV2D: return ww_vk_plan_conv2d(n, caps, d, err, errlen);
    case WW_OP_CONVT: return ww_vk_plan_convt(n, caps, d, err, errlen);
    case WW_OP_CONV2D_BWD_INPUT: return ww_vk_plan_conv_backward(n, caps, d, err, errlen);
    case WW_OP_CONV2D_BWD_WEIGHT: return ww_vk_plan_conv_backward(n, caps, d, err, errlen);
    case WW_OP_CHANNEL_SUM: return ww_vk_plan_conv_backward(n, caps, d, err, errlen);
    case WW_OP_RESIZE_BWD: return ww_vk_plan_conv_backward(n, caps, d, err, errlen);
    case WW_OP_RELU_BWD: return ww_vk_plan_conv_backward(n, caps, d, err, errlen);
    case WW_OP_SCATTER_ADD_ROWS: return ww_vk_plan_conv_backward(n, caps, d, err, errlen);
    case WW_OP_LAYERNORM_BWD:
    case WW_OP_GELU_BWD:
    case WW_OP_REDUCE:
    case WW_OP_ADAMW: return ww_vk_plan_train_basic(n, caps, d, err, errlen);
    case WW_OP_ATTENTION_BWD_DQ:
    case WW_OP_ATTENTION_BWD_DKDV: return ww_vk_plan_attention_backward(n, caps, d, err, errlen);
    case WW_OP_LOSS: return ww_vk_plan_loss(n, caps, d, err, errlen);
    default: return ww_vk_plan_pointwise(n, caps, d, err, errlen);
    }
}

ww_status ww_vk_groups_1d(uint64_t total, uint32_t per_group, const ww_vk_caps *caps,
                          uint32_t groups[3], char *err, size_t errlen)
{
    groups[0] = 0;
    groups[1] = 1;
    groups[2] = 1;
    if (per_group == 0)
        return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "workgroup split: per_group is 0");
    if (total == 0)
        return WW_OK; /* nothing to dispatch: groups = {0, 1, 1} */
    uint64_t m0 = caps->max_groups[0], m1 = caps->max_groups[1], m2 = caps->max_groups[2];
    uint64_t g = ww_vk_div_up(total, per_group);
    uint64_t nx, ny = 1, nz = 1;
    if (m0 == 0 || m1 == 0 || m2 == 0)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "workgroup split: device reports no workgroups (max %u x %u x %u)",
                               caps->max_groups[0], caps->max_groups[1], caps->max_groups[2]);
    if (g <= m0) {
        nx = g;
    } else if (g <= m0 * m1) {
        ny = ww_vk_div_up(g, m0);
        nx = ww_vk_div_up(g, ny);
    } else {
        nz = ww_vk_div_up(g, m0 * m1);
        if (nz > m2)
            return ww_vk_plan_fail(
                err, errlen, WW_ERR_UNSUPPORTED,
                "%llu workgroups of %u items exceed the device limit of %u x %u x %u",
                (unsigned long long)g, per_group, caps->max_groups[0], caps->max_groups[1],
                caps->max_groups[2]);
        if (g > 0xffffffffull) /* also keeps the products below from overflowing */
            return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                                   "%llu workgroups do not fit a 32-bit group index",
                                   (unsigned long long)g);
        uint64_t slice = ww_vk_div_up(g, nz);
        ny = ww_vk_div_up(slice, m0);
        nx = ww_vk_div_up(slice, ny);
    }
    /* The shaders rebuild the linear group index in 32 bits. */
    if (nx * ny * nz > 0xffffffffull)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "%llu workgroups do not fit a 32-bit group index",
                               (unsigned long long)g);
    groups[0] = (uint32_t)nx;
    groups[1] = (uint32_t)ny;
    groups[2] = (uint32_t)nz;
    return WW_OK;
}

ww_status ww_vk_grid(uint64_t gx, uint64_t total, const ww_vk_caps *caps, uint32_t groups[3],
                     char *err, size_t errlen)
{
    if (gx == 0)
        gx = 1;
    if (total == 0)
        total = 1;
    if (gx > caps->max_groups[0])
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "%llu workgroups along x exceed the device limit %u",
                               (unsigned long long)gx, caps->max_groups[0]);
    uint64_t y = total < caps->max_groups[1] ? total : caps->max_groups[1];
    uint64_t z = y ? (total + y - 1) / y : 0;
    if (y == 0 || z > caps->max_groups[2])
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "%llu workgroups along y*z exceed the device limits %u x %u",
                               (unsigned long long)total, caps->max_groups[1],
                               caps->max_groups[2]);
    groups[0] = (uint32_t)gx;
    groups[1] = (uint32_t)y;
    groups[2] = (uint32_t)z;
    return WW_OK;
}

ww_status ww_vk_plan_fail(char *err, size_t errlen, ww_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

uint32_t ww_vk_lanes(const ww_vk_caps *caps, uint64_t want, int shared)
{
    uint32_t granule = caps->is_cpu ? 8 : 32;
    uint32_t lx = caps->is_cpu ? 64 : 256;
    uint64_t row = ww_vk_div_up(want, granule) * granule;
    if (want && row < lx)
        lx = (uint32_t)row;
    if (caps->max_invocations && lx > caps->max_invocations)
        lx = caps->max_invocations;
    if (shared && caps->max_shared_bytes && (uint64_t)lx * 4 > caps->max_shared_bytes)
        lx = caps->max_shared_bytes / 4;
    return lx;
}

void ww_vk_local_1d(ww_vk_dispatch *d, ww_shader_id sh, uint32_t lx)
{
    d->shader = sh;
    d->nspec = 3;
    for (int i = 0; i < WW_VK_MAX_SPEC; i++)
        d->spec[i] = 0;
    d->spec[0] = lx;
    d->spec[1] = 1;
    d->spec[2] = 1;
}

ww_status ww_vk_check_invocations(const char *op, uint32_t n, const ww_vk_caps *caps, char *err,
                                  size_t errlen)
{
    if (caps->max_invocations && n > caps->max_invocations)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "%s: workgroup of %u invocations exceeds the device limit %u", op, n,
                               caps->max_invocations);
    return WW_OK;
}

ww_status ww_vk_plan_items(ww_shader_id sh, uint64_t total, const ww_vk_caps *caps,
                           ww_vk_dispatch *d, char *err, size_t errlen)
{
    uint32_t lx = ww_vk_lanes(caps, 0, 0);
    ww_vk_local_1d(d, sh, lx);
    if (total > 0xffffffffull)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "%llu items exceed the 32-bit index range of the shader",
                               (unsigned long long)total);
    WW_TRY(ww_vk_groups_1d(total, lx, caps, d->groups, err, errlen));
    uint64_t inv = (uint64_t)d->groups[0] * d->groups[1] * d->groups[2] * lx;
    if (inv > 0x100000000ull) /* the linear invocation index must not wrap onto real items */
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "%llu items need %llu invocations, beyond a 32-bit index",
                               (unsigned long long)total, (unsigned long long)inv);
    return WW_OK;
}
