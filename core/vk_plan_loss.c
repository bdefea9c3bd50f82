/* Vulkan kernel selection for the loss node (ops_loss.c builds it, shaders/loss.comp runs it).
 *
 * Dispatch contract: one invocation per pixel of B * HW, pixel = linear group index of
 * ww_vk_groups_1d * L + gl_LocalInvocationIndex, L = local_size_x (spec = {L, 1, 1}, no
 * shader-specific constants); invocations past the last pixel return at once. Each invocation
 * loops over its pixel's few channels, so the lanes of a workgroup read and write consecutive
 * pixels of one channel plane at a time.
 */

#include "vk_plan.h"

ww_status ww_vk_plan_loss(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                          size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (n->op != WW_OP_LOSS)
        return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "op %d is not the loss op", (int)n->op);
    const ww_loss_params *p = &n->p.loss;
    return ww_vk_plan_items(WW_SHADER_LOSS, (uint64_t)p->B * p->HW, caps, d, err, errlen);
}
