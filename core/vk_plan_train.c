/* Vulkan kernel selection for the basic training ops: layernorm backward, gelu backward, reduce
 * and adamw (ops_train.c builds the nodes).
 *
 * Dispatch contract (no shader-specific specialization constants: spec = {local_size_x, 1, 1});
 * g is the linear group index of ww_vk_groups_1d, L = local_size_x:
 * - layernorm_backward ROWS: one workgroup per row (g = row), L a reduction width the shader
 *   handles for any value (L floats of shared memory). PARTIALS: g = part * ceil(D / L) + column
 *   block, one column per invocation.
 * - reduce: inner == 1: g = part * ceil(N / L) + column block, one output column per invocation,
 *   summing its part's rows in order; inner > 1: g = part * N + n, the workgroup's invocations
 *   stride over the part's terms and a shared-memory tree adds them (L floats of shared memory).
 * - gelu_backward, adamw: one invocation per element, element = g * L + local index.
 * Groups past the work (the x / y split of ww_vk_groups_1d rounds up) return at once.
 */

#include "vk_plan.h"

static ww_status groups(uint64_t count, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                        size_t errlen)
{
    if (count > 0xffffffffull)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "%llu workgroups exceed a 32-bit index", (unsigned long long)count);
    return ww_vk_groups_1d(count, 1, caps, d->groups, err, errlen);
}

ww_status ww_vk_plan_train_basic(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                                 char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    switch (n->op) {
    case WW_OP_LAYERNORM_BWD: {
        const ww_layernorm_bwd_params *p = &n->p.layernorm_bwd;
        if (p->D == 0 || p->chunk == 0)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "empty rows or chunks");
        uint32_t lx = ww_vk_lanes(caps, p->D, 1);
        if (lx == 0)
            return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                                   "device allows no workgroup with shared memory");
        ww_vk_local_1d(d, WW_SHADER_LAYERNORM_BACKWARD, lx);
        if (p->pass == WW_LNB_ROWS)
            return groups(p->rows, caps, d, err, errlen);
        if (p->pass != WW_LNB_PARTIALS)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "unknown pass %u", p->pass);
        return groups((uint64_t)p->parts * ww_vk_div_up(p->D, lx), caps, d, err, errlen);
    }

    case WW_OP_REDUCE: {
        const ww_reduce_params *p = &n->p.reduce;
        if (p->N == 0 || p->inner == 0 || p->chunk == 0)
            return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID, "empty reduction");
        if (p->inner == 1) {
            uint32_t lx = ww_vk_lanes(caps, p->N, 0);
            if (lx == 0)
                return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                                       "device allows no workgroup");
            ww_vk_local_1d(d, WW_SHADER_REDUCE, lx);
            return groups((uint64_t)p->parts * ww_vk_div_up(p->N, lx), caps, d, err, errlen);
        }
        uint32_t lx = ww_vk_lanes(caps, p->chunk, 1);
        if (lx == 0)
            return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                                   "device allows no workgroup with shared memory");
        ww_vk_local_1d(d, WW_SHADER_REDUCE, lx);
        return groups((uint64_t)p->parts * p->N, caps, d, err, errlen);
    }

    case WW_OP_GELU_BWD:
        return ww_vk_plan_items(WW_SHADER_GELU_BACKWARD, n->p.gelu_bwd.n, caps, d, err, errlen);

    case WW_OP_ADAMW: return ww_vk_plan_items(WW_SHADER_ADAMW, n->p.adamw.n, caps, d, err, errlen);

    default:
        return ww_vk_plan_fail(err, errlen, WW_ERR_INVALID,
                               "op %d is not a training op of this planner", (int)n->op);
    }
}
