/* Op constructor of the per-pixel training losses (ww.h, "Losses"): shape and type checks, then
 * one WW_OP_LOSS node (ww_loss_params; bindings pred, target, weight, dpred, loss_px) that
 * writes both outputs in one pass over the pixels.
 *
 * Cross-entropy takes a class id only when it is an exact integer in [0, C); anything else (an
 * ignore label such as 255 or -1, a fraction, NaN) counts as outside and gives no loss, so that a
 * label map with ignore values needs no separate mask. */
#include <string.h>

#include "ww_internal.h"

static const char *kind_name(ww_loss_kind kind)
{
    switch (kind) {
    case WW_LOSS_LAPLACIAN: return "laplacian";
    case WW_LOSS_L1: return "l1";
    case WW_LOSS_CROSS_ENTROPY: return "cross_entropy";
    }
    return "unknown";
}

ww_status ww_loss(ww_seq *s, ww_loss_kind kind, const ww_tensor *pred, const ww_tensor *target,
                  const ww_tensor *weight, const ww_tensor *dpred, const ww_tensor *loss_px)
{
    const char *op = "loss";
    static const char *const names[5] = {"pred", "target", "weight", "dpred", "loss_px"};
    const ww_tensor *ts[5] = {pred, target, weight, dpred, loss_px};
    for (int i = 0; i < 5; i++) {
        WW_TRY(ww_op_check(s, op, names[i], ts[i], WW_F32, 0));
        WW_TRY(ww_op_contiguous(s, op, names[i], ts[i]));
    }
    int64_t W = pred->ne[0], H = pred->ne[1], C = pred->ne[2], B = pred->ne[3], Ct;
    switch (kind) {
    case WW_LOSS_LAPLACIAN:
        if (C < 2)
            return ww_set_error(s->be, WW_ERR_INVALID,
                                "%s: laplacian needs pred with the target's channels plus the "
                                "confidence, got %lld channel", op, (long long)C);
        Ct = C - 1;
        break;
    case WW_LOSS_L1:
        Ct = C;
        break;
    case WW_LOSS_CROSS_ENTROPY:
        Ct = 1;
        break;
    default:
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: unknown kind %d", op, (int)kind);
    }
    if (target->ne[2] != Ct)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "%s: %s with pred of %lld channels needs a target of %lld, got %lld",
                            op, kind_name(kind), (long long)C, (long long)Ct,
                            (long long)target->ne[2]);
    WW_TRY(ww_op_shape(s, op, "target", target, W, H, Ct, B));
    WW_TRY(ww_op_shape(s, op, "weight", weight, W, H, 1, B));
    WW_TRY(ww_op_shape(s, op, "dpred", dpred, W, H, C, B));
    WW_TRY(ww_op_shape(s, op, "loss_px", loss_px, W, H, 1, B));
    if (ww_tensor_nelements(pred) > UINT32_MAX)
        return ww_set_error(s->be, WW_ERR_UNSUPPORTED,
                            "%s: pred of %lld elements exceeds the 32-bit indices of the shader",
                            op, (long long)ww_tensor_nelements(pred));

    ww_node n;
    memset(&n, 0, sizeof n);
    n.op = WW_OP_LOSS;
    n.p.loss = (ww_loss_params){.kind = (uint32_t)kind, .C = (uint32_t)C, .Ct = (uint32_t)Ct,
                                .HW = (uint32_t)(W * H), .B = (uint32_t)B};
    n.params_size = sizeof n.p.loss;
    for (int i = 0; i < 5; i++)
        ww_op_bind(&n, i, ts[i], i >= 3);
    /* The kernels read a pixel's pred again while they write its dpred: no in-place form, and
     * the two outputs share no byte either. */
    for (int i = 3; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            const ww_binding *a = &n.bind[i], *b = &n.bind[j];
            if (j != i && a->t.buf == b->t.buf && a->lo < b->hi && b->lo < a->hi)
                return ww_set_error(s->be, WW_ERR_INVALID, "%s: output '%s' overlaps '%s'", op,
                                    names[i], names[j]);
        }
    return ww_seq_append(s, &n);
}
