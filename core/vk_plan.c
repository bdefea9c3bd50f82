/* Kernel selection entry point: route a node to its op family's planner. */
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

ww_status ww_vk_grid(uint64_t gx, uint64_t total, const ww_vk_caps *caps, uint32_t groups[3],
                     char *err, size_t errlen)
{
    if (gx == 0)
        gx = 1;
    if (total == 0)
        total = 1;
    if (gx > caps->max_groups[0]) {
        snprintf(err, errlen, "%llu workgroups along x exceed the device limit %u",
                 (unsigned long long)gx, caps->max_groups[0]);
        return WW_ERR_UNSUPPORTED;
    }
    uint64_t y = total < caps->max_groups[1] ? total : caps->max_groups[1];
    uint64_t z = y ? (total + y - 1) / y : 0;
    if (y == 0 || z > caps->max_groups[2]) {
        snprintf(err, errlen, "%llu workgroups along y*z exceed the device limits %u x %u",
                 (unsigned long long)total, caps->max_groups[1], caps->max_groups[2]);
        return WW_ERR_UNSUPPORTED;
    }
    groups[0] = (uint32_t)gx;
    groups[1] = (uint32_t)y;
    groups[2] = (uint32_t)z;
    return WW_OK;
}
