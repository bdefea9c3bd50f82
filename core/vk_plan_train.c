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

/* Workgroup width: lavapipe vectorises x in 8 lanes, GPUs like a few warps; no wider than
 * `want` items rounded up to that granule; within the device's limits, shared memory included
 * when the shader keeps one float per invocation. */
static uint32_t width(const ww_vk_caps *caps, uint64_t want, int shared)
{
    uint32_t granule = caps->is_cpu ? 8 : 32;
    uint32_t lx = caps->is_cpu ? 64 : 256;
    uint64_t w = div_up(want ? want : 1, granule) * granule;
    if (w < lx)
        lx = (uint32_t)w;
    if (caps->max_invocations && lx > caps->max_invocations)
        lx = caps->max_invocations;
    if (shared && caps->max_shared_bytes && (uint64_t)lx * 4 > caps->max_shared_bytes)
        lx = caps->max_shared_bytes / 4;
    return lx;
}

static ww_status groups(uint64_t count, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                        size_t errlen)
{
    if (count > 0xffffffffull)
        return fail(err, errlen, WW_ERR_UNSUPPORTED, "%llu workgroups exceed a 32-bit index",
                    (unsigned long long)count);
    return ww_vk_groups_1d(count, 1, caps, d->groups, err, errlen);
}

/* One invocation per element. */
static ww_status plan_items(ww_shader_id sh, uint64_t total, const ww_vk_caps *caps,
                            ww_vk_dispatch *d, char *err, size_t errlen)
{
    uint32_t lx = width(caps, 1u << 16, 0);
    if (lx == 0)
        return fail(err, errlen, WW_ERR_UNSUPPORTED, "device allows no workgroup");
    set_local(d, sh, lx);
    ww_status st = ww_vk_groups_1d(total, lx, caps, d->groups, err, errlen);
    if (st != WW_OK)
        return st;
    uint64_t inv = (uint64_t)d->groups[0] * d->groups[1] * d->groups[2] * lx;
    if (inv > 0x100000000ull) /* the linear invocation index must not wrap onto real items */
        return fail(err, errlen, WW_ERR_UNSUPPORTED,
                    "%llu items need %llu invocations, beyond a 32-bit index",
                    (unsigned long long)total, (unsigned long long)inv);
    return WW_OK;
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
            return fail(err, errlen, WW_ERR_INVALID, "empty rows or chunks");
        uint32_t lx = width(caps, p->D, 1);
        if (lx == 0)
            return fail(err, errlen, WW_ERR_UNSUPPORTED,
                        "device allows no workgroup with shared memory");
        set_local(d, WW_SHADER_LAYERNORM_BACKWARD, lx);
        if (p->pass == WW_LNB_ROWS)
            return groups(p->rows, caps, d, err, errlen);
        if (p->pass != WW_LNB_PARTIALS)
            return fail(err, errlen, WW_ERR_INVALID, "unknown pass %u", p->pass);
        return groups((uint64_t)p->parts * div_up(p->D, lx), caps, d, err, errlen);
    }

    case WW_OP_REDUCE: {
        const ww_reduce_params *p = &n->p.reduce;
        if (p->N == 0 || p->inner == 0 || p->chunk == 0)
            return fail(err, errlen, WW_ERR_INVALID, "empty reduction");
        if (p->inner == 1) {
            uint32_t lx = width(caps, p->N, 0);
            if (lx == 0)
                return fail(err, errlen, WW_ERR_UNSUPPORTED, "device allows no workgroup");
            set_local(d, WW_SHADER_REDUCE, lx);
            return groups((uint64_t)p->parts * div_up(p->N, lx), caps, d, err, errlen);
        }
        uint32_t lx = width(caps, p->chunk, 1);
        if (lx == 0)
            return fail(err, errlen, WW_ERR_UNSUPPORTED,
                        "device allows no workgroup with shared memory");
        set_local(d, WW_SHADER_REDUCE, lx);
        return groups((uint64_t)p->parts * p->N, caps, d, err, errlen);
    }

    case WW_OP_GELU_BWD:
        return plan_items(WW_SHADER_GELU_BACKWARD, n->p.gelu_bwd.n, caps, d, err, errlen);

    case WW_OP_ADAMW:
        return plan_items(WW_SHADER_ADAMW, n->p.adamw.n, caps, d, err, errlen);

    default:
        return fail(err, errlen, WW_ERR_INVALID, "op %d is not a training op of this planner",
                    (int)n->op);
    }
}
