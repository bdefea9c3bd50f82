/* Kernel selection for the attention backward nodes (ww_attention_backward, ww.h).
 *
 * WW_SHADER_ATTENTION_BWD_DQ: spec 3 = Dh, 4 = KB (keys per block), 5 = QR (query rows per
 *   invocation); workgroup (WX, 1, 1); groups x = ceil(Nq / (WX*QR)), y*z = H * B
 *   (t = h + H * b).
 * WW_SHADER_ATTENTION_BWD_DKDV: spec 3 = Dh, 4 = QB (queries per block), 5 = KR (key rows per
 *   invocation); workgroup (WX, 1, 1); groups x = ceil(Nk / (WX*KR)), y*z = H * Bkv
 *   (t = h + H * bk).
 * The (head, batch) pairs are linear over y then z as in vk_plan_dense.c; the shaders exit for
 * t beyond the count.
 * CPU drivers: 8 lanes (one AVX2 vector), several rows per lane so that every uniform K / V
 * (Q / dO) load feeds them all. The register arrays per lane are 3 (dq) or 4 (dk/dv) x rows x Dh
 * floats, and lavapipe's compile time grows with them about linearly: rows = min(8, 256 / Dh)
 * keeps dk/dv within the forward's budget (Dh = 64: 4 rows, ~2 s per shader to compile, where 8
 * rows ran ~1.35x faster but took ~6 s). Two keys (queries) per block at Dh <= 16. GPUs: one row
 * per lane, 64 lanes, blocks of 4.
 */

#include "vk_plan.h"

ww_status ww_vk_plan_attention_backward(const ww_node *n, const ww_vk_caps *caps,
                                        ww_vk_dispatch *d, char *err, size_t errlen)
{
    const ww_attention_bwd_params *p = &n->p.attention_bwd;
    int dq = n->op == WW_OP_ATTENTION_BWD_DQ;
    const char *op = dq ? "attention_backward_dq" : "attention_backward_dkdv";
    if (p->Dh == 0 || p->Dh % 4 != 0 || p->Dh > 256)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "%s: head dim %u unsupported (needs a multiple of 4, at most 256)",
                               op, p->Dh);
    uint32_t WX, block, rows;
    if (caps->is_cpu) {
        WX = 8;
        block = p->Dh <= 16 ? 2 : 1;
        rows = p->Dh <= 32 ? 8 : 256 / p->Dh;
    } else {
        WX = 64;
        block = 4;
        rows = 1;
    }
    WW_TRY(ww_vk_check_invocations(op, WX, caps, err, errlen));
    d->shader = dq ? WW_SHADER_ATTENTION_BWD_DQ : WW_SHADER_ATTENTION_BWD_DKDV;
    d->nspec = 6;
    d->spec[0] = WX;
    d->spec[1] = 1;
    d->spec[2] = 1;
    d->spec[3] = p->Dh;
    d->spec[4] = block;
    d->spec[5] = rows;
    uint64_t own = dq ? p->Nq : p->Nk, pairs = (uint64_t)p->H * (dq ? p->B : p->Bkv);
    return ww_vk_grid(ww_vk_div_up(own, (uint64_t)WX * rows), pairs, caps, d->groups, err, errlen);
}
