/* Kernel selection entry point: route a node to its op family's planner. */
#include <stdio.h>

#include "vk_plan.h"

ww_status ww_vk_plan(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                     size_t errlen)
{
    switch (n->op) {
    case WW_OP_GEMM: return ww_vk_plan_gemm(n, caps, d, err, errlen);
    case WW_OP_ATTENTION: return ww_vk_plan_attention(n, caps, d, err, errlen);
    case WW_OP_CONV2D: return ww_vk_plan_conv2d(n, caps, d, err, errlen);
    case WW_OP_CONVT: return ww_vk_plan_convt(n, caps, d, err, errlen);
    default: return ww_vk_plan_pointwise(n, caps, d, err, errlen);
    }
}
