/* Vulkan kernel selection for the loss node (ops_loss.c builds it, shaders/loss.comp runs it).
 *
 * Dispatch contract: one invocation per pixel of B * HW, pixel = linear group index of
 * ww_vk_groups_1d * L + gl_LocalInvocationIndex, L = local_size_x (spec = {L, 1, 1}, no
 * shader-specific constants); invocations past the last pixel return at once. Each invocation
 * loops over its pixel's few channels, so the lanes of a workgroup read and write consecutive
 * pixels of one channel plane at a time.
 */
#include <stdio.h>

#include "vk_plan.h"

ww_status ww_vk_plan_loss(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                          size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (n->op != WW_OP_LOSS) {
        snprintf(err, errlen, "op %d is not the loss op", (int)n->op);
        return WW_ERR_INVALID;
    }
    const ww_loss_params *p = &n->p.loss;
    /* lavapipe runs 8 lanes per SIMD vector; GPUs want a few warps per workgroup */
    uint32_t lx = caps->is_cpu ? 64 : 256;
    if (caps->max_invocations && lx > caps->max_invocations)
        lx = caps->max_invocations;
    d->shader = WW_SHADER_LOSS;
    for (int i = 0; i < WW_VK_MAX_SPEC; i++)
        d->spec[i] = 0;
    d->spec[0] = lx;
    d->spec[1] = 1;
    d->spec[2] = 1;
    d->nspec = 3;
    uint64_t total = (uint64_t)p->B * p->HW;
    ww_status st = ww_vk_groups_1d(total, lx, caps, d->groups, err, errlen);
    if (st != WW_OK)
        return st;
    /* the shader's linear invocation index must not wrap onto real pixels */
    uint64_t inv = (uint64_t)d->groups[0] * d->groups[1] * d->groups[2] * lx;
    if (inv > 0x100000000ull) {
        snprintf(err, errlen, "%llu pixels need %llu invocations, beyond a 32-bit index",
                 (unsigned long long)total, (unsigned long long)inv);
        return WW_ERR_UNSUPPORTED;
    }
    return WW_OK;
}
