/* Op constructor of the attention backward (ww.h: ww_attention_backward): shape, stride and
 * overlap checks, then two nodes sharing one ww_attention_bwd_params (ww_params.h):
 *   WW_OP_ATTENTION_BWD_DQ   (q, k, v, o, do, lse, D, dq): D = rowsum(do * o), dq += dL/dq;
 *   WW_OP_ATTENTION_BWD_DKDV (q, k, v, do, lse, D, dk, dv): dk += dL/dk, dv += dL/dv.
 * The second reads the D the first wrote, so the sequence puts a barrier between them.
 */
#include <math.h>
#include <string.h>

#include "ww_internal.h"

#define OP "attention_backward"

static ww_status need_f32(ww_seq *s, const char *name, const ww_tensor *t)
{
    if (!t || !t->buf)
        return ww_set_error(s->be, WW_ERR_INVALID, OP ": tensor '%s' is NULL", name);
    if (t->type != WW_F32)
        return ww_set_error(s->be, WW_ERR_INVALID, OP ": tensor '%s' must be F32", name);
    for (int i = 0; i < 4; i++)
        if (t->ne[i] < 1 || t->nb[i] < 0 || t->ne[i] > UINT32_MAX || t->nb[i] > UINT32_MAX)
            return ww_set_error(s->be, WW_ERR_INVALID,
                                OP ": tensor '%s' has size %lld / stride %lld in dim %d", name,
                                (long long)t->ne[i], (long long)t->nb[i], i);
    return WW_OK;
}

/* A [batch, N, H, Dh] view with unit stride on the head dim: its token, head and batch strides
 * (batch stride 0 for a single batch). */
static ww_status head_view(ww_seq *s, const char *name, const ww_tensor *t, int64_t Dh, int64_t H,
                           int64_t N, int64_t batch, uint32_t st[3])
{
    WW_TRY(need_f32(s, name, t));
    if (t->nb[0] != 1)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            OP ": tensor '%s' needs unit stride along the head dim", name);
    if (t->ne[0] != Dh || t->ne[1] != H || t->ne[2] != N || t->ne[3] != batch)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            OP ": tensor '%s' is [%lld, %lld, %lld, %lld], expected "
                            "[%lld, %lld, %lld, %lld] (slowest first)",
                            name, (long long)t->ne[3], (long long)t->ne[2], (long long)t->ne[1],
                            (long long)t->ne[0], (long long)batch, (long long)N, (long long)H,
                            (long long)Dh);
    st[0] = (uint32_t)t->nb[2];
    st[1] = (uint32_t)t->nb[1];
    st[2] = t->ne[3] == 1 ? 0 : (uint32_t)t->nb[3];
    return WW_OK;
}

/* A gradient has its tensor's shape and, wherever a size exceeds 1, its strides. */
static ww_status mirror(ww_seq *s, const char *gname, const ww_tensor *g, const char *name,
                        const ww_tensor *t)
{
    WW_TRY(need_f32(s, gname, g));
    for (int i = 0; i < 4; i++) {
        if (g->ne[i] != t->ne[i])
            return ww_set_error(s->be, WW_ERR_INVALID,
                                OP ": tensor '%s' is [%lld, %lld, %lld, %lld], expected the "
                                "shape of '%s' [%lld, %lld, %lld, %lld]",
                                gname, (long long)g->ne[3], (long long)g->ne[2],
                                (long long)g->ne[1], (long long)g->ne[0], name,
                                (long long)t->ne[3], (long long)t->ne[2], (long long)t->ne[1],
                                (long long)t->ne[0]);
        if ((i == 0 || t->ne[i] > 1) && g->nb[i] != t->nb[i])
            return ww_set_error(s->be, WW_ERR_INVALID,
                                OP ": tensor '%s' has stride %lld in dim %d where '%s' has %lld "
                                "(gradients need the strides of their tensors)",
                                gname, (long long)g->nb[i], i, name, (long long)t->nb[i]);
    }
    return WW_OK;
}

static ww_status rows_tensor(ww_seq *s, const char *name, const ww_tensor *t, int64_t Nq,
                             int64_t H, int64_t B)
{
    WW_TRY(need_f32(s, name, t));
    if (!ww_tensor_is_contiguous(t))
        return ww_set_error(s->be, WW_ERR_INVALID, OP ": tensor '%s' must be contiguous", name);
    if (t->ne[0] != Nq || t->ne[1] != H || t->ne[2] != B || t->ne[3] != 1)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            OP ": tensor '%s' is [%lld, %lld, %lld, %lld], expected "
                            "[1, %lld, %lld, %lld] (slowest first)",
                            name, (long long)t->ne[3], (long long)t->ne[2], (long long)t->ne[1],
                            (long long)t->ne[0], (long long)B, (long long)H, (long long)Nq);
    return WW_OK;
}

/* Byte range [lo, hi) of a view inside its buffer. */
static void byte_range(const ww_tensor *t, size_t *lo, size_t *hi)
{
    size_t last = 0;
    for (int d = 0; d < 4; d++)
        last += (size_t)(t->ne[d] - 1) * (size_t)t->nb[d];
    *lo = t->offset;
    *hi = t->offset + (last + 1) * ww_dtype_size(t->type);
}

static int ranges_overlap(const ww_tensor *a, const ww_tensor *b)
{
    size_t alo, ahi, blo, bhi;
    byte_range(a, &alo, &ahi);
    byte_range(b, &blo, &bhi);
    return a->buf == b->buf && alo < bhi && blo < ahi;
}

/* No element in common: disjoint byte ranges, or the fused layout (dq, dk, dv inside one dqkv
 * buffer): equal token stride st and head stride, every token row of H heads spanning
 * span <= st elements, batch strides multiples of st, so that every element sits at
 * offset + r (mod st) with 0 <= r < span; the two spans are then disjoint modulo st. */
static int elements_disjoint(const ww_tensor *a, const ww_tensor *b)
{
    if (!ranges_overlap(a, b))
        return 1;
    if (a->ne[0] != b->ne[0] || a->ne[1] != b->ne[1] || a->nb[0] != 1 || b->nb[0] != 1)
        return 0;
    int64_t st = a->nb[2], sh = a->nb[1];
    if (b->nb[2] != st || (a->ne[1] > 1 && b->nb[1] != sh) || st <= 0)
        return 0;
    int64_t span = (a->ne[1] - 1) * (a->ne[1] > 1 ? sh : 0) + a->ne[0];
    if (span > st || (a->ne[3] > 1 && a->nb[3] % st) || (b->ne[3] > 1 && b->nb[3] % st))
        return 0;
    if (a->offset % sizeof(float) || b->offset % sizeof(float))
        return 0;
    int64_t d = ((int64_t)(b->offset / sizeof(float)) - (int64_t)(a->offset / sizeof(float))) % st;
    if (d < 0)
        d += st;
    return d >= span && st - d >= span;
}

static void bind(ww_node *n, int i, const ww_tensor *t, int written)
{
    ww_binding *b = &n->bind[i];
    memset(b, 0, sizeof *b);
    if (i + 1 > n->nbind)
        n->nbind = i + 1;
    b->t = *t;
    byte_range(t, &b->lo, &b->hi);
    b->written = written;
}

ww_status ww_attention_backward(ww_seq *s, const ww_tensor *q, const ww_tensor *k,
                                const ww_tensor *v, const ww_tensor *o, const ww_tensor *lse,
                                const ww_tensor *do_, float scale, const ww_tensor *dq,
                                const ww_tensor *dk, const ww_tensor *dv,
                                const ww_tensor *scratch_D)
{
    WW_TRY(need_f32(s, "q", q));
    WW_TRY(need_f32(s, "k", k));
    int64_t Dh = q->ne[0], H = q->ne[1], Nq = q->ne[2], B = q->ne[3];
    int64_t Nk = k->ne[2], Bkv = k->ne[3];
    if (Bkv != B && Bkv != 1)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            OP ": k has batch %lld, expected 1 or %lld (that of q)",
                            (long long)Bkv, (long long)B);
    if (Dh % 4 || Dh > 256)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            OP ": head dim %lld must be a multiple of 4 up to 256", (long long)Dh);
    if (!isfinite(scale))
        return ww_set_error(s->be, WW_ERR_INVALID, OP ": scale is not finite");

    ww_node n = {.op = WW_OP_ATTENTION_BWD_DQ};
    ww_attention_bwd_params *p = &n.p.attention_bwd;
    uint32_t st[3];
    WW_TRY(head_view(s, "q", q, Dh, H, Nq, B, st));
    p->q_st = st[0], p->q_sh = st[1], p->q_sb = st[2];
    WW_TRY(head_view(s, "k", k, Dh, H, Nk, Bkv, st));
    p->k_st = st[0], p->k_sh = st[1], p->k_sb = st[2];
    WW_TRY(head_view(s, "v", v, Dh, H, Nk, Bkv, st));
    p->v_st = st[0], p->v_sh = st[1], p->v_sb = st[2];
    WW_TRY(head_view(s, "o", o, Dh, H, Nq, B, st));
    p->o_st = st[0], p->o_sh = st[1], p->o_sb = st[2];
    WW_TRY(head_view(s, "do", do_, Dh, H, Nq, B, st));
    p->do_st = st[0], p->do_sh = st[1], p->do_sb = st[2];
    WW_TRY(rows_tensor(s, "lse", lse, Nq, H, B));
    WW_TRY(rows_tensor(s, "scratch_D", scratch_D, Nq, H, B));
    WW_TRY(mirror(s, "dq", dq, "q", q));
    WW_TRY(mirror(s, "dk", dk, "k", k));
    WW_TRY(mirror(s, "dv", dv, "v", v));

    const ww_tensor *in[6] = {q, k, v, o, do_, lse};
    const ww_tensor *out[4] = {dq, dk, dv, scratch_D};
    static const char *const in_names[6] = {"q", "k", "v", "o", "do", "lse"};
    static const char *const out_names[4] = {"dq", "dk", "dv", "scratch_D"};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 6; j++)
            if (ranges_overlap(out[i], in[j]))
                return ww_set_error(s->be, WW_ERR_INVALID,
                                    OP ": output '%s' overlaps input '%s'", out_names[i],
                                    in_names[j]);
        for (int j = 0; j < i; j++)
            if (i == 3 ? ranges_overlap(out[i], out[j]) : !elements_disjoint(out[i], out[j]))
                return ww_set_error(s->be, WW_ERR_INVALID,
                                    OP ": outputs '%s' and '%s' share elements", out_names[i],
                                    out_names[j]);
    }

    p->Dh = (uint32_t)Dh;
    p->H = (uint32_t)H;
    p->Nq = (uint32_t)Nq;
    p->Nk = (uint32_t)Nk;
    p->B = (uint32_t)B;
    p->Bkv = (uint32_t)Bkv;
    p->scale = scale;
    n.params_size = sizeof *p;

    /* dq and D */
    bind(&n, 0, q, 0);
    bind(&n, 1, k, 0);
    bind(&n, 2, v, 0);
    bind(&n, 3, o, 0);
    bind(&n, 4, do_, 0);
    bind(&n, 5, lse, 0);
    bind(&n, 6, scratch_D, 1);
    bind(&n, 7, dq, 1);
    WW_TRY(ww_seq_append(s, &n));

    /* dk and dv */
    n.op = WW_OP_ATTENTION_BWD_DKDV;
    n.nbind = 0;
    bind(&n, 0, q, 0);
    bind(&n, 1, k, 0);
    bind(&n, 2, v, 0);
    bind(&n, 3, do_, 0);
    bind(&n, 4, lse, 0);
    bind(&n, 5, scratch_D, 0);
    bind(&n, 6, dk, 1);
    bind(&n, 7, dv, 1);
    ww_status status = ww_seq_append(s, &n);
    if (status != WW_OK) {
        /* No half op: take the dq node back out. */
        s->n--;
        s->be->ops->seq_invalidate(s);
    }
    return status;
}
