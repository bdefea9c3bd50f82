/* Op constructors: check shapes and types, describe the op once (ww_params.h) for both backends,
 * and append it to the sequence. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ww_internal.h"

static const char *const op_names[WW_OP_COUNT] = {
    [WW_OP_GEMM] = "gemm",         [WW_OP_LAYERNORM] = "layernorm",
    [WW_OP_ELTWISE] = "eltwise",   [WW_OP_ROPE] = "rope2d",
    [WW_OP_ATTENTION] = "attention", [WW_OP_PATCHIFY] = "patchify",
    [WW_OP_CONV2D] = "conv2d",     [WW_OP_CONVT] = "conv_transpose2d",
    [WW_OP_RESIZE] = "resize",     [WW_OP_CHANNELS] = "channels",
    [WW_OP_PREPROCESS] = "preprocess", [WW_OP_ROWS] = "rows",
    [WW_OP_PROBE] = "probe_fma",   [WW_OP_COLORIZE] = "colorize",
    [WW_OP_CONV2D_BWD_INPUT] = "conv2d_backward_input",
    [WW_OP_CONV2D_BWD_WEIGHT] = "conv2d_backward_weight",
    [WW_OP_CHANNEL_SUM] = "channel_sum",
    [WW_OP_RESIZE_BWD] = "resize_backward",
    [WW_OP_RELU_BWD] = "relu_backward",
    [WW_OP_SCATTER_ADD_ROWS] = "scatter_add_rows",
    [WW_OP_LOSS] = "loss",
    [WW_OP_ATTENTION_BWD_DQ] = "attention_backward_dq",
    [WW_OP_ATTENTION_BWD_DKDV] = "attention_backward_dkdv",
    [WW_OP_LAYERNORM_BWD] = "layernorm_backward", [WW_OP_GELU_BWD] = "gelu_backward",
    [WW_OP_REDUCE] = "reduce",     [WW_OP_ADAMW] = "adamw",
};

const char *ww_op_name(ww_op op)
{
    return op < WW_OP_COUNT ? op_names[op] : "unknown op";
}

static const char *const dtype_names[] = {"F32", "U32", "U8"};

ww_status ww_op_check(ww_seq *s, const char *op, const char *name, const ww_tensor *t,
                      ww_dtype type, int optional)
{
    ww_backend *be = s->be;
    if (!t || !t->buf) {
        if (optional)
            return WW_OK;
        return ww_set_error(be, WW_ERR_INVALID, "%s: tensor '%s' is NULL", op, name);
    }
    if (t->type != type)
        return ww_set_error(be, WW_ERR_INVALID, "%s: tensor '%s' is %s, expected %s", op, name,
                            t->type <= WW_U8 ? dtype_names[t->type] : "?", dtype_names[type]);
    for (int i = 0; i < 4; i++) {
        if (t->ne[i] < 1 || t->nb[i] < 0 || t->ne[i] > UINT32_MAX || t->nb[i] > UINT32_MAX)
            return ww_set_error(be, WW_ERR_INVALID,
                                "%s: tensor '%s' has size %lld / stride %lld in dim %d", op, name,
                                (long long)t->ne[i], (long long)t->nb[i], i);
    }
    return WW_OK;
}

ww_status ww_op_contiguous(ww_seq *s, const char *op, const char *name, const ww_tensor *t)
{
    if (!ww_tensor_is_contiguous(t))
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: tensor '%s' must be contiguous", op,
                            name);
    return WW_OK;
}

ww_status ww_op_shape(ww_seq *s, const char *op, const char *name, const ww_tensor *t,
                      int64_t n0, int64_t n1, int64_t n2, int64_t n3)
{
    if (t->ne[0] != n0 || t->ne[1] != n1 || t->ne[2] != n2 || t->ne[3] != n3)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "%s: tensor '%s' is [%lld, %lld, %lld, %lld], expected "
                            "[%lld, %lld, %lld, %lld] (slowest first)",
                            op, name, (long long)t->ne[3], (long long)t->ne[2],
                            (long long)t->ne[1], (long long)t->ne[0], (long long)n3,
                            (long long)n2, (long long)n1, (long long)n0);
    return WW_OK;
}

void ww_op_bind(ww_node *n, int i, const ww_tensor *t, int written)
{
    ww_binding *b = &n->bind[i];
    memset(b, 0, sizeof *b);
    if (i + 1 > n->nbind)
        n->nbind = i + 1;
    if (!t || !t->buf)
        return;
    b->t = *t;
    size_t es = ww_dtype_size(t->type);
    size_t last = 0;
    for (int d = 0; d < 4; d++)
        last += (size_t)(t->ne[d] - 1) * (size_t)t->nb[d];
    b->lo = t->offset;
    b->hi = t->offset + (last + 1) * es;
    b->written = written;
}

static int overlaps(const ww_binding *a, const ww_binding *b)
{
    return a->t.buf && a->t.buf == b->t.buf && a->lo < b->hi && b->lo < a->hi;
}

/* Outputs may not overlap inputs, except the exact same view where `in_place` allows it. */
static ww_status check_overlap(ww_seq *s, const ww_node *n, int in_place)
{
    for (int i = 0; i < n->nbind; i++) {
        if (!n->bind[i].written)
            continue;
        for (int j = 0; j < n->nbind; j++) {
            if (j == i || !overlaps(&n->bind[i], &n->bind[j]))
                continue;
            if (in_place && !memcmp(&n->bind[i].t, &n->bind[j].t, sizeof(ww_tensor)))
                continue;
            return ww_set_error(s->be, WW_ERR_INVALID,
                                "%s: output tensor %d overlaps tensor %d", ww_op_name(n->op), i,
                                j);
        }
    }
    return WW_OK;
}

static ww_status finish(ww_seq *s, ww_node *n, uint32_t params_size, int in_place)
{
    n->params_size = params_size;
    ww_status st = check_overlap(s, n, in_place);
    if (st != WW_OK)
        return st;
    return ww_seq_append(s, n);
}

/* Batch of an input that may broadcast: its size must be 1 or the output's. */
static ww_status batch_stride(ww_seq *s, const char *op, const char *name, const ww_tensor *t,
                              int dim, int64_t batch, uint32_t *stride)
{
    if (t->ne[dim] == batch) {
        *stride = batch == 1 ? 0 : (uint32_t)t->nb[dim];
        return WW_OK;
    }
    if (t->ne[dim] == 1) {
        *stride = 0;
        return WW_OK;
    }
    return ww_set_error(s->be, WW_ERR_INVALID, "%s: tensor '%s' has batch %lld, expected 1 or %lld",
                        op, name, (long long)t->ne[dim], (long long)batch);
}

ww_status ww_gemm(ww_seq *s, const ww_tensor *a, const ww_tensor *b, const ww_tensor *bias,
                  const ww_tensor *c, unsigned flags)
{
    const char *op = "gemm";
    WW_TRY(ww_op_check(s, op, "a", a, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "b", b, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "c", c, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "bias", bias, WW_F32, 1));
    const unsigned known = WW_GEMM_TRANS_A | WW_GEMM_TRANS_B | WW_GEMM_BIAS_ROW | WW_GEMM_GELU |
                           WW_GEMM_ACCUMULATE;
    if (flags & ~known)
        return ww_set_error(s->be, WW_ERR_INVALID, "gemm: unknown flags 0x%x", flags & ~known);
    if (a->nb[0] != 1 || b->nb[0] != 1 || c->nb[0] != 1)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "gemm: a, b and c need unit stride along their last dimension");
    if (a->ne[3] != 1 || b->ne[3] != 1 || c->ne[3] != 1)
        return ww_set_error(s->be, WW_ERR_INVALID, "gemm: tensors have at most 3 dimensions");

    ww_node n = {.op = WW_OP_GEMM};
    ww_gemm_params *p = &n.p.gemm;
    int ta = !!(flags & WW_GEMM_TRANS_A), tb = !!(flags & WW_GEMM_TRANS_B);
    int64_t M = ta ? a->ne[0] : a->ne[1], K = ta ? a->ne[1] : a->ne[0];
    int64_t Kb = tb ? b->ne[0] : b->ne[1], N = tb ? b->ne[1] : b->ne[0];
    if (K != Kb)
        return ww_set_error(s->be, WW_ERR_INVALID, "gemm: a has K = %lld but b has K = %lld",
                            (long long)K, (long long)Kb);
    int64_t batch = c->ne[2];
    WW_TRY(ww_op_shape(s, op, "c", c, N, M, batch, 1));
    p->M = (uint32_t)M;
    p->N = (uint32_t)N;
    p->K = (uint32_t)K;
    p->batch = (uint32_t)batch;
    p->a_sm = (uint32_t)(ta ? a->nb[0] : a->nb[1]);
    p->a_sk = (uint32_t)(ta ? a->nb[1] : a->nb[0]);
    p->b_sk = (uint32_t)(tb ? b->nb[0] : b->nb[1]);
    p->b_sn = (uint32_t)(tb ? b->nb[1] : b->nb[0]);
    WW_TRY(batch_stride(s, op, "a", a, 2, batch, &p->a_sb));
    WW_TRY(batch_stride(s, op, "b", b, 2, batch, &p->b_sb));
    p->c_sm = (uint32_t)c->nb[1];
    p->c_sb = (uint32_t)c->nb[2];
    p->flags = flags;
    if (bias && bias->buf) {
        int64_t want = (flags & WW_GEMM_BIAS_ROW) ? M : N;
        WW_TRY(ww_op_contiguous(s, op, "bias", bias));
        if (ww_tensor_nelements(bias) != want)
            return ww_set_error(s->be, WW_ERR_INVALID, "gemm: bias has %lld values, expected %lld",
                                (long long)ww_tensor_nelements(bias), (long long)want);
        p->flags |= WW_HAS_BIAS;
    }
    ww_op_bind(&n, 0, a, 0);
    ww_op_bind(&n, 1, b, 0);
    ww_op_bind(&n, 2, bias, 0);
    ww_op_bind(&n, 3, c, 1);
    return finish(s, &n, sizeof *p, 0);
}

ww_status ww_layernorm(ww_seq *s, const ww_tensor *x, const ww_tensor *w, const ww_tensor *b,
                       float eps, const ww_tensor *y)
{
    const char *op = "layernorm";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "w", w, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "b", b, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "y", y, WW_F32, 0));
    int64_t D = x->ne[0], rows = x->ne[1] * x->ne[2] * x->ne[3];
    /* Rows are addressed with one stride: dims 1..3 must be packed over each other. */
    if (x->nb[0] != 1 || y->nb[0] != 1 || x->nb[2] != x->nb[1] * x->ne[1] ||
        x->nb[3] != x->nb[2] * x->ne[2] || y->nb[2] != y->nb[1] * y->ne[1] ||
        y->nb[3] != y->nb[2] * y->ne[2])
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "layernorm: x and y must be rows of D contiguous values with one "
                            "row stride");
    WW_TRY(ww_op_shape(s, op, "y", y, x->ne[0], x->ne[1], x->ne[2], x->ne[3]));
    WW_TRY(ww_op_contiguous(s, op, "w", w));
    WW_TRY(ww_op_contiguous(s, op, "b", b));
    if (ww_tensor_nelements(w) != D || ww_tensor_nelements(b) != D)
        return ww_set_error(s->be, WW_ERR_INVALID, "layernorm: w and b need %lld values",
                            (long long)D);
    if (!(eps >= 0.0f) || !isfinite(eps))
        return ww_set_error(s->be, WW_ERR_INVALID, "layernorm: eps %g is not a finite value >= 0",
                            (double)eps);
    ww_node n = {.op = WW_OP_LAYERNORM};
    ww_layernorm_params *p = &n.p.layernorm;
    p->D = (uint32_t)D;
    p->rows = (uint32_t)rows;
    p->x_rs = (uint32_t)x->nb[1];
    p->y_rs = (uint32_t)y->nb[1];
    p->eps = eps;
    ww_op_bind(&n, 0, x, 0);
    ww_op_bind(&n, 1, w, 0);
    ww_op_bind(&n, 2, b, 0);
    ww_op_bind(&n, 3, y, 1);
    return finish(s, &n, sizeof *p, 1);
}

static ww_status eltwise(ww_seq *s, const char *op, uint32_t code, const ww_tensor *a,
                         const ww_tensor *b, const ww_tensor *y)
{
    WW_TRY(ww_op_check(s, op, "a", a, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "b", b, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "y", y, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "a", a));
    WW_TRY(ww_op_contiguous(s, op, "b", b));
    WW_TRY(ww_op_contiguous(s, op, "y", y));
    WW_TRY(ww_op_shape(s, op, "y", y, a->ne[0], a->ne[1], a->ne[2], a->ne[3]));
    WW_TRY(ww_op_shape(s, op, "b", b, a->ne[0], a->ne[1], a->ne[2], a->ne[3]));
    ww_node n = {.op = WW_OP_ELTWISE};
    n.p.eltwise.n = (uint32_t)ww_tensor_nelements(a);
    n.p.eltwise.op = code;
    ww_op_bind(&n, 0, a, 0);
    ww_op_bind(&n, 1, b, 0);
    ww_op_bind(&n, 2, y, 1);
    return finish(s, &n, sizeof n.p.eltwise, 1);
}

ww_status ww_add(ww_seq *s, const ww_tensor *a, const ww_tensor *b, const ww_tensor *y)
{
    return eltwise(s, "add", WW_ELT_ADD, a, b, y);
}

ww_status ww_gelu(ww_seq *s, const ww_tensor *x, const ww_tensor *y)
{
    return eltwise(s, "gelu", WW_ELT_GELU, x, x, y);
}

ww_status ww_relu(ww_seq *s, const ww_tensor *x, const ww_tensor *y)
{
    return eltwise(s, "relu", WW_ELT_RELU, x, x, y);
}

ww_status ww_copy(ww_seq *s, const ww_tensor *x, const ww_tensor *y)
{
    return eltwise(s, "copy", WW_ELT_COPY, x, x, y);
}

ww_status ww_zero(ww_seq *s, const ww_tensor *y)
{
    return eltwise(s, "zero", WW_ELT_ZERO, y, y, y);
}

ww_status ww_rope2d(ww_seq *s, const ww_tensor *x, const ww_tensor *pos, const ww_tensor *table,
                    int inverse)
{
    const char *op = "rope2d";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "pos", pos, WW_U32, 0));
    WW_TRY(ww_op_check(s, op, "table", table, WW_F32, 0));
    int64_t Dh = x->ne[0], H = x->ne[1], N = x->ne[2], B = x->ne[3];
    if (x->nb[0] != 1 || Dh % 4)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "rope2d: head dim %lld must be a multiple of 4 with unit stride",
                            (long long)Dh);
    WW_TRY(ww_op_contiguous(s, op, "pos", pos));
    if (pos->ne[0] != 2 || pos->ne[1] != N || pos->ne[3] != 1 ||
        (pos->ne[2] != 1 && pos->ne[2] != B))
        return ww_set_error(s->be, WW_ERR_INVALID, "rope2d: pos must be [B or 1, %lld, 2]",
                            (long long)N);
    WW_TRY(ww_op_contiguous(s, op, "table", table));
    if (table->ne[0] != 2 || table->ne[1] != Dh / 4 || table->ne[3] != 1 || table->ne[2] < 1)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "rope2d: table must be [max_pos, %lld, 2] (from ww_rope_table)",
                            (long long)Dh / 4);
    ww_node n = {.op = WW_OP_ROPE};
    ww_rope_params *p = &n.p.rope;
    p->Dh = (uint32_t)Dh;
    p->H = (uint32_t)H;
    p->N = (uint32_t)N;
    p->B = (uint32_t)B;
    p->x_sh = (uint32_t)x->nb[1];
    p->x_st = (uint32_t)x->nb[2];
    p->x_sb = (uint32_t)x->nb[3];
    p->pos_sb = pos->ne[2] == 1 ? 0 : (uint32_t)pos->nb[2];
    p->max_pos = (uint32_t)table->ne[2];
    p->inverse = inverse ? 1 : 0;
    ww_op_bind(&n, 0, x, 1);
    ww_op_bind(&n, 1, pos, 0);
    ww_op_bind(&n, 2, table, 0);
    return finish(s, &n, sizeof *p, 0);
}

ww_status ww_rope_table(ww_arena *a, int head_dim, int max_pos, double base, ww_tensor *table)
{
    ww_backend *be = ww_arena_backend(a);
    memset(table, 0, sizeof *table);
    if (head_dim < 4 || head_dim % 4 || max_pos < 1 || !(base > 1.0))
        return ww_set_error(be, WW_ERR_INVALID,
                            "ww_rope_table: head dim %d must be a positive multiple of 4, "
                            "max_pos %d >= 1 and base %g > 1",
                            head_dim, max_pos, base);
    int q = head_dim / 4, d = head_dim / 2;
    int64_t ne[3] = {2, q, max_pos};
    ww_status st = ww_arena_alloc(a, WW_F32, 3, ne, table);
    if (st != WW_OK)
        return st;
    size_t count = (size_t)max_pos * (size_t)q * 2;
    float *host = malloc(count * sizeof *host);
    if (!host)
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "ww_rope_table: out of host memory");
    for (int p = 0; p < max_pos; p++) {
        for (int j = 0; j < q; j++) {
            double inv_freq = 1.0 / pow(base, 2.0 * j / d);
            double angle = p * inv_freq;
            host[((size_t)p * q + j) * 2 + 0] = (float)cos(angle);
            host[((size_t)p * q + j) * 2 + 1] = (float)sin(angle);
        }
    }
    st = ww_tensor_write(be, table, host, count * sizeof *host);
    free(host);
    return st;
}

static ww_status attention_view(ww_seq *s, const char *name, const ww_tensor *t, int64_t Dh,
                                int64_t H, int64_t Ntok, int64_t B, int broadcast, uint32_t st[3])
{
    WW_TRY(ww_op_check(s, "attention", name, t, WW_F32, 0));
    if (t->nb[0] != 1)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "attention: tensor '%s' needs unit stride along the head dim", name);
    /* k and v may broadcast one batch over all queries' batches (written 1 here). */
    int batch_ok = t->ne[3] == B || (broadcast && t->ne[3] == 1);
    if (t->ne[0] != Dh || t->ne[1] != H || (Ntok && t->ne[2] != Ntok) || !batch_ok)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "attention: tensor '%s' is [%lld, %lld, %lld, %lld], expected "
                            "[%lld, N, %lld, %lld]",
                            name, (long long)t->ne[3], (long long)t->ne[2], (long long)t->ne[1],
                            (long long)t->ne[0], (long long)B, (long long)H, (long long)Dh);
    st[0] = (uint32_t)t->nb[2];
    st[1] = (uint32_t)t->nb[1];
    st[2] = t->ne[3] == 1 ? 0 : (uint32_t)t->nb[3];
    return WW_OK;
}

ww_status ww_attention(ww_seq *s, const ww_tensor *q, const ww_tensor *k, const ww_tensor *v,
                       float scale, const ww_tensor *o, const ww_tensor *lse)
{
    WW_TRY(ww_op_check(s, "attention", "q", q, WW_F32, 0));
    int64_t Dh = q->ne[0], H = q->ne[1], Nq = q->ne[2], B = q->ne[3];
    ww_node n = {.op = WW_OP_ATTENTION};
    ww_attention_params *p = &n.p.attention;
    uint32_t st[3];
    WW_TRY(attention_view(s, "q", q, Dh, H, Nq, B, 0, st));
    p->q_st = st[0], p->q_sh = st[1], p->q_sb = st[2];
    WW_TRY(attention_view(s, "k", k, Dh, H, 0, B, 1, st));
    p->k_st = st[0], p->k_sh = st[1], p->k_sb = st[2];
    int64_t Nk = k->ne[2];
    WW_TRY(attention_view(s, "v", v, Dh, H, Nk, B, 1, st));
    p->v_st = st[0], p->v_sh = st[1], p->v_sb = st[2];
    WW_TRY(attention_view(s, "o", o, Dh, H, Nq, B, 0, st));
    p->o_st = st[0], p->o_sh = st[1], p->o_sb = st[2];
    if (Dh % 4 || Dh > 256)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "attention: head dim %lld must be a multiple of 4 up to 256",
                            (long long)Dh);
    if (!isfinite(scale))
        return ww_set_error(s->be, WW_ERR_INVALID, "attention: scale is not finite");
    WW_TRY(ww_op_check(s, "attention", "lse", lse, WW_F32, 1));
    if (lse && lse->buf) {
        WW_TRY(ww_op_contiguous(s, "attention", "lse", lse));
        WW_TRY(ww_op_shape(s, "attention", "lse", lse, Nq, H, B, 1));
        p->has_lse = 1;
    }
    p->Dh = (uint32_t)Dh;
    p->H = (uint32_t)H;
    p->Nq = (uint32_t)Nq;
    p->Nk = (uint32_t)Nk;
    p->B = (uint32_t)B;
    p->scale = scale;
    ww_op_bind(&n, 0, q, 0);
    ww_op_bind(&n, 1, k, 0);
    ww_op_bind(&n, 2, v, 0);
    ww_op_bind(&n, 3, o, 1);
    ww_op_bind(&n, 4, lse, 1);
    return finish(s, &n, sizeof *p, 0);
}

ww_status ww_patchify(ww_seq *s, const ww_tensor *img, int patch, const ww_tensor *out)
{
    const char *op = "patchify";
    WW_TRY(ww_op_check(s, op, "img", img, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "out", out, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "img", img));
    WW_TRY(ww_op_contiguous(s, op, "out", out));
    int64_t W = img->ne[0], H = img->ne[1], C = img->ne[2], B = img->ne[3];
    if (patch < 1 || H % patch || W % patch)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "patchify: image %lldx%lld is not a multiple of the patch size %d",
                            (long long)W, (long long)H, patch);
    WW_TRY(ww_op_shape(s, op, "out", out, C * patch * patch, (H / patch) * (W / patch), B, 1));
    ww_node n = {.op = WW_OP_PATCHIFY};
    n.p.patchify = (ww_patchify_params){.C = (uint32_t)C, .H = (uint32_t)H, .W = (uint32_t)W,
                                        .p = (uint32_t)patch, .B = (uint32_t)B};
    ww_op_bind(&n, 0, img, 0);
    ww_op_bind(&n, 1, out, 1);
    return finish(s, &n, sizeof n.p.patchify, 0);
}

ww_status ww_conv2d(ww_seq *s, const ww_tensor *x, const ww_tensor *w, const ww_tensor *bias,
                    int stride, int pad, const ww_tensor *y, unsigned flags)
{
    const char *op = "conv2d";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "w", w, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "y", y, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "bias", bias, WW_F32, 1));
    WW_TRY(ww_op_contiguous(s, op, "x", x));
    WW_TRY(ww_op_contiguous(s, op, "w", w));
    WW_TRY(ww_op_contiguous(s, op, "y", y));
    const unsigned known = WW_CONV_RELU_IN | WW_CONV_RELU_OUT | WW_CONV_ACCUMULATE;
    if (flags & ~known)
        return ww_set_error(s->be, WW_ERR_INVALID, "conv2d: unknown flags 0x%x", flags & ~known);
    int64_t W = x->ne[0], H = x->ne[1], Cin = x->ne[2], B = x->ne[3];
    int64_t k = w->ne[0], Cout = w->ne[3];
    if (w->ne[1] != k || w->ne[2] != Cin)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "conv2d: weight must be [Cout, %lld, k, k] (square kernel)",
                            (long long)Cin);
    if (stride < 1 || pad < 0 || pad >= k || H + 2 * pad < k || W + 2 * pad < k)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "conv2d: stride %d / pad %d do not fit kernel %lld on %lldx%lld",
                            stride, pad, (long long)k, (long long)W, (long long)H);
    int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    WW_TRY(ww_op_shape(s, op, "y", y, Wo, Ho, Cout, B));
    ww_node n = {.op = WW_OP_CONV2D};
    ww_conv2d_params *p = &n.p.conv2d;
    *p = (ww_conv2d_params){.Cin = (uint32_t)Cin, .H = (uint32_t)H, .W = (uint32_t)W,
                            .Cout = (uint32_t)Cout, .Ho = (uint32_t)Ho, .Wo = (uint32_t)Wo,
                            .k = (uint32_t)k, .stride = (uint32_t)stride, .pad = (uint32_t)pad,
                            .B = (uint32_t)B, .flags = flags};
    if (bias && bias->buf) {
        WW_TRY(ww_op_contiguous(s, op, "bias", bias));
        if (ww_tensor_nelements(bias) != Cout)
            return ww_set_error(s->be, WW_ERR_INVALID, "conv2d: bias needs %lld values",
                                (long long)Cout);
        p->flags |= WW_HAS_BIAS;
    }
    ww_op_bind(&n, 0, x, 0);
    ww_op_bind(&n, 1, w, 0);
    ww_op_bind(&n, 2, bias, 0);
    ww_op_bind(&n, 3, y, 1);
    return finish(s, &n, sizeof *p, 0);
}

ww_status ww_conv_transpose2d(ww_seq *s, const ww_tensor *x, const ww_tensor *w,
                              const ww_tensor *bias, const ww_tensor *y)
{
    const char *op = "conv_transpose2d";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "w", w, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "y", y, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "bias", bias, WW_F32, 1));
    WW_TRY(ww_op_contiguous(s, op, "x", x));
    WW_TRY(ww_op_contiguous(s, op, "w", w));
    WW_TRY(ww_op_contiguous(s, op, "y", y));
    int64_t W = x->ne[0], H = x->ne[1], Cin = x->ne[2], B = x->ne[3];
    int64_t k = w->ne[0], Cout = w->ne[2];
    if (w->ne[1] != k || w->ne[3] != Cin)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "conv_transpose2d: weight must be [%lld, Cout, k, k]",
                            (long long)Cin);
    WW_TRY(ww_op_shape(s, op, "y", y, W * k, H * k, Cout, B));
    ww_node n = {.op = WW_OP_CONVT};
    ww_convt_params *p = &n.p.convt;
    *p = (ww_convt_params){.Cin = (uint32_t)Cin, .H = (uint32_t)H, .W = (uint32_t)W,
                           .Cout = (uint32_t)Cout, .k = (uint32_t)k, .B = (uint32_t)B};
    if (bias && bias->buf) {
        WW_TRY(ww_op_contiguous(s, op, "bias", bias));
        if (ww_tensor_nelements(bias) != Cout)
            return ww_set_error(s->be, WW_ERR_INVALID, "conv_transpose2d: bias needs %lld values",
                                (long long)Cout);
        p->flags |= WW_HAS_BIAS;
    }
    ww_op_bind(&n, 0, x, 0);
    ww_op_bind(&n, 1, w, 0);
    ww_op_bind(&n, 2, bias, 0);
    ww_op_bind(&n, 3, y, 1);
    return finish(s, &n, sizeof *p, 0);
}

ww_status ww_resize_bilinear(ww_seq *s, const ww_tensor *x, const ww_tensor *y)
{
    const char *op = "resize";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "y", y, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "x", x));
    WW_TRY(ww_op_contiguous(s, op, "y", y));
    WW_TRY(ww_op_shape(s, op, "y", y, y->ne[0], y->ne[1], x->ne[2], x->ne[3]));
    ww_node n = {.op = WW_OP_RESIZE};
    n.p.resize = (ww_resize_params){.W = (uint32_t)x->ne[0], .H = (uint32_t)x->ne[1],
                                    .Wo = (uint32_t)y->ne[0], .Ho = (uint32_t)y->ne[1],
                                    .planes = (uint32_t)(x->ne[2] * x->ne[3])};
    ww_op_bind(&n, 0, x, 0);
    ww_op_bind(&n, 1, y, 1);
    return finish(s, &n, sizeof n.p.resize, 0);
}

ww_status ww_softmax_channels(ww_seq *s, const ww_tensor *x, const ww_tensor *y)
{
    const char *op = "softmax_channels";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "y", y, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "x", x));
    WW_TRY(ww_op_contiguous(s, op, "y", y));
    WW_TRY(ww_op_shape(s, op, "y", y, x->ne[0], x->ne[1], x->ne[2], x->ne[3]));
    ww_node n = {.op = WW_OP_CHANNELS};
    n.p.channels = (ww_channels_params){.C = (uint32_t)x->ne[2],
                                        .HW = (uint32_t)(x->ne[0] * x->ne[1]),
                                        .B = (uint32_t)x->ne[3], .mode = WW_CHAN_SOFTMAX};
    ww_op_bind(&n, 0, x, 0);
    ww_op_bind(&n, 1, y, 1);
    ww_op_bind(&n, 2, NULL, 0);
    return finish(s, &n, sizeof n.p.channels, 0);
}

ww_status ww_argmax_channels(ww_seq *s, const ww_tensor *x, const ww_tensor *ids,
                             const ww_tensor *conf)
{
    const char *op = "argmax_channels";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "ids", ids, WW_U32, 0));
    WW_TRY(ww_op_check(s, op, "conf", conf, WW_F32, 1));
    WW_TRY(ww_op_contiguous(s, op, "x", x));
    WW_TRY(ww_op_contiguous(s, op, "ids", ids));
    WW_TRY(ww_op_shape(s, op, "ids", ids, x->ne[0], x->ne[1], x->ne[3], 1));
    ww_node n = {.op = WW_OP_CHANNELS};
    n.p.channels = (ww_channels_params){.C = (uint32_t)x->ne[2],
                                        .HW = (uint32_t)(x->ne[0] * x->ne[1]),
                                        .B = (uint32_t)x->ne[3], .mode = WW_CHAN_ARGMAX};
    if (conf && conf->buf) {
        WW_TRY(ww_op_contiguous(s, op, "conf", conf));
        WW_TRY(ww_op_shape(s, op, "conf", conf, x->ne[0], x->ne[1], x->ne[3], 1));
        n.p.channels.has_conf = 1;
    }
    ww_op_bind(&n, 0, x, 0);
    ww_op_bind(&n, 1, ids, 1);
    ww_op_bind(&n, 2, conf, 1);
    return finish(s, &n, sizeof n.p.channels, 0);
}

const char *ww_pixel_format_name(ww_pixel_format f)
{
    static const char *const names[WW_FMT_COUNT] = {"RGBA", "BGRA", "RGBx", "BGRx",
                                                    "RGB",  "BGR",  "NV12", "I420"};
    return (unsigned)f < WW_FMT_COUNT ? names[f] : "unknown";
}

size_t ww_image_layout_packed(ww_pixel_format f, int w, int h, ww_image_layout *out)
{
    memset(out, 0, sizeof *out);
    if ((unsigned)f >= WW_FMT_COUNT || w < 1 || h < 1 || w > 65536 || h > 65536)
        return 0;
    out->format = f;
    out->width = w;
    out->height = h;
    size_t cw = (size_t)(w + 1) / 2, ch = (size_t)(h + 1) / 2;
    switch (f) {
    case WW_FMT_RGB:
    case WW_FMT_BGR:
        out->stride[0] = (size_t)w * 3;
        return out->stride[0] * (size_t)h;
    case WW_FMT_NV12:
        out->stride[0] = (size_t)w;
        out->offset[1] = (size_t)w * (size_t)h;
        out->stride[1] = cw * 2;
        return out->offset[1] + out->stride[1] * ch;
    case WW_FMT_I420:
        out->stride[0] = (size_t)w;
        out->offset[1] = (size_t)w * (size_t)h;
        out->stride[1] = cw;
        out->offset[2] = out->offset[1] + cw * ch;
        out->stride[2] = cw;
        return out->offset[2] + cw * ch;
    default:
        out->stride[0] = (size_t)w * 4;
        return out->stride[0] * (size_t)h;
    }
}

/* Bytes per pixel of plane 0: the packed pixels, or the luma. */
static const int luma_bpp[WW_FMT_COUNT] = {4, 4, 4, 4, 3, 3, 1, 1};

int ww_pixel_format_planes(ww_pixel_format f)
{
    return f == WW_FMT_NV12 ? 2 : f == WW_FMT_I420 ? 3 : 1;
}

/* Bytes the layout reaches past src element 0: the end of the last row of each plane. The
 * layout's numbers are bounded first (ww_image_layout_check), so nothing here overflows. */
static size_t layout_extent(const ww_image_layout *l)
{
    size_t w = (size_t)l->width, h = (size_t)l->height;
    size_t end = l->offset[0] + (h - 1) * l->stride[0] + w * (size_t)luma_bpp[l->format];
    int planes = ww_pixel_format_planes(l->format);
    size_t cw = (w + 1) / 2, ch = (h + 1) / 2;
    for (int p = 1; p < planes; p++) {
        size_t row = l->format == WW_FMT_NV12 ? cw * 2 : cw;
        size_t e = l->offset[p] + (ch - 1) * l->stride[p] + row;
        if (e > end)
            end = e;
    }
    return end;
}

ww_status ww_image_layout_check(ww_backend *be, const char *who, const ww_image_layout *l,
                                size_t bytes, const char *holder)
{
    if (!l || (unsigned)l->format >= WW_FMT_COUNT || l->width < 1 || l->height < 1 ||
        l->width > 65536 || l->height > 65536)
        return ww_set_error(be, WW_ERR_INVALID, "%s: bad image layout (format %d, %dx%d)", who,
                            l ? (int)l->format : -1, l ? l->width : 0, l ? l->height : 0);
    const char *fmt = ww_pixel_format_name(l->format);
    int planes = ww_pixel_format_planes(l->format);
    size_t cw = ((size_t)l->width + 1) / 2;
    for (int p = 0; p < planes; p++) {
        size_t row = p == 0 ? (size_t)l->width * (size_t)luma_bpp[l->format]
                     : l->format == WW_FMT_NV12 ? 2 * cw
                                                : cw;
        /* 32-bit byte offsets reach the shader; bounding them here also keeps the extent's
         * arithmetic far from overflow */
        if (l->offset[p] > UINT32_MAX || l->stride[p] > UINT32_MAX)
            return ww_set_error(be, WW_ERR_INVALID,
                                "%s: %s plane %d offset %zu / row stride %zu beyond 4 GiB", who,
                                fmt, p, l->offset[p], l->stride[p]);
        if (l->stride[p] < row)
            return ww_set_error(be, WW_ERR_INVALID,
                                "%s: %s plane %d row stride %zu < %zu bytes of a %d pixel row",
                                who, fmt, p, l->stride[p], row, l->width);
    }
    size_t extent = layout_extent(l);
    if (extent > bytes)
        return ww_set_error(be, WW_ERR_INVALID,
                            "%s: a %dx%d %s image reaches byte %zu, %s holds %zu", who, l->width,
                            l->height, fmt, extent, holder, bytes);
    if (extent > UINT32_MAX)
        return ww_set_error(be, WW_ERR_INVALID,
                            "%s: a %dx%d %s image reaches byte %zu, beyond 4 GiB", who, l->width,
                            l->height, fmt, extent);
    return WW_OK;
}

ww_status ww_preprocess(ww_seq *s, const ww_tensor *src, const ww_image_layout *l,
                        int out_width, int out_height, const float mean[3], const float std[3],
                        const ww_tensor *y)
{
    const char *op = "preprocess";
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
    static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    WW_TRY(ww_op_check(s, op, "src", src, WW_U8, 0));
    WW_TRY(ww_op_check(s, op, "y", y, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "src", src));
    WW_TRY(ww_op_contiguous(s, op, "y", y));
    WW_TRY(ww_image_layout_check(s->be, op, l, (size_t)ww_tensor_nelements(src), "the source"));
    if (out_width < 1 || out_height < 1 || out_width > 65536 || out_height > 65536)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "preprocess: output size %dx%d is not within 1..65536", out_width,
                            out_height);
    int64_t Wp = y->ne[0], Hp = y->ne[1];
    if (y->ne[2] != 3 || y->ne[3] != 1 || Wp < out_width || Hp < out_height)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "preprocess: output must be [1, 3, Hp >= %d, Wp >= %d], is [%lld, "
                            "%lld, %lld, %lld]", out_height, out_width, (long long)y->ne[3],
                            (long long)y->ne[2], (long long)Hp, (long long)Wp);
    ww_node n = {.op = WW_OP_PREPROCESS};
    ww_preprocess_params *p = &n.p.preprocess;
    p->format = (uint32_t)l->format;
    p->width = (uint32_t)l->width;
    p->height = (uint32_t)l->height;
    p->out_w = (uint32_t)out_width;
    p->out_h = (uint32_t)out_height;
    p->scale_x = (float)((double)l->width / out_width);
    p->scale_y = (float)((double)l->height / out_height);
    for (int i = 0; i < 3; i++) {
        p->plane_off[i] = (uint32_t)l->offset[i];
        p->plane_stride[i] = (uint32_t)l->stride[i];
        float sd = std ? std[i] : imagenet_std[i];
        if (!(sd > 0.0f))
            return ww_set_error(s->be, WW_ERR_INVALID, "preprocess: std[%d] = %g is not > 0", i,
                                (double)sd);
        p->mean[i] = mean ? mean[i] : imagenet_mean[i];
        p->inv_std[i] = 1.0f / sd;
    }
    p->Wp = (uint32_t)Wp;
    p->Hp = (uint32_t)Hp;
    ww_op_bind(&n, 0, src, 0);
    ww_op_bind(&n, 1, y, 1);
    return finish(s, &n, sizeof *p, 0);
}

static ww_status rows(ww_seq *s, const char *op, uint32_t mode, const ww_tensor *x,
                      const ww_tensor *idx, const ww_tensor *y)
{
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "idx", idx, WW_U32, 0));
    WW_TRY(ww_op_check(s, op, "y", y, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "x", x));
    WW_TRY(ww_op_contiguous(s, op, "idx", idx));
    WW_TRY(ww_op_contiguous(s, op, "y", y));
    const ww_tensor *sel = mode == WW_ROWS_GATHER ? y : x, *all = mode == WW_ROWS_GATHER ? x : y;
    int64_t D = all->ne[0], N = all->ne[1], B = all->ne[2], nsel = idx->ne[0];
    if (all->ne[3] != 1 || idx->ne[2] != 1 || idx->ne[3] != 1 || (idx->ne[1] != 1 && idx->ne[1] != B))
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: idx must be [B or 1, n], rows [B, N, D]",
                            op);
    WW_TRY(ww_op_shape(s, op, mode == WW_ROWS_GATHER ? "y" : "x", sel, D, nsel, B, 1));
    ww_node n = {.op = WW_OP_ROWS};
    n.p.rows = (ww_rows_params){.D = (uint32_t)D, .n = (uint32_t)nsel, .N = (uint32_t)N,
                                .B = (uint32_t)B,
                                .idx_sb = idx->ne[1] == 1 ? 0 : (uint32_t)idx->nb[1],
                                .mode = mode};
    ww_op_bind(&n, 0, x, 0);
    ww_op_bind(&n, 1, idx, 0);
    ww_op_bind(&n, 2, y, 1);
    return finish(s, &n, sizeof n.p.rows, 0);
}

ww_status ww_gather_rows(ww_seq *s, const ww_tensor *x, const ww_tensor *idx, const ww_tensor *y)
{
    return rows(s, "gather_rows", WW_ROWS_GATHER, x, idx, y);
}

ww_status ww_scatter_rows(ww_seq *s, const ww_tensor *x, const ww_tensor *idx, const ww_tensor *y)
{
    return rows(s, "scatter_rows", WW_ROWS_SCATTER, x, idx, y);
}

ww_status ww_probe_fma(ww_seq *s, const ww_tensor *y, int iters)
{
    WW_TRY(ww_op_check(s, "probe_fma", "y", y, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, "probe_fma", "y", y));
    if (iters < 1)
        return ww_set_error(s->be, WW_ERR_INVALID, "probe_fma: iters %d < 1", iters);
    ww_node n = {.op = WW_OP_PROBE};
    n.p.probe.n = (uint32_t)ww_tensor_nelements(y);
    n.p.probe.iters = (uint32_t)iters;
    ww_op_bind(&n, 0, y, 1);
    return finish(s, &n, sizeof n.p.probe, 0);
}

/* Shared checks of the colorize family: x [planes, H, W] of type xtype and rgba U32 [H, W], both
 * with unit stride along W; table U32 [n] contiguous, or NULL for the flow. */
static ww_status colorize(ww_seq *s, const char *op, uint32_t mode, const ww_tensor *x,
                          ww_dtype xtype, int64_t planes, const char *table_name,
                          const ww_tensor *table, const ww_tensor *rgba, ww_node *n)
{
    WW_TRY(ww_op_check(s, op, planes == 2 ? "flow" : mode == WW_COLORIZE_LABELS ? "ids" : "x", x,
                       xtype, 0));
    WW_TRY(ww_op_check(s, op, "rgba", rgba, WW_U32, 0));
    if (table_name) {
        WW_TRY(ww_op_check(s, op, table_name, table, WW_U32, 0));
        WW_TRY(ww_op_contiguous(s, op, table_name, table));
    }
    int64_t W = x->ne[0], H = x->ne[1];
    if (x->ne[2] != planes || x->ne[3] != 1)
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: input must be [%sH, W], is [%lld, %lld, "
                            "%lld, %lld] (slowest first)", op, planes == 2 ? "2, " : "",
                            (long long)x->ne[3], (long long)x->ne[2], (long long)x->ne[1],
                            (long long)W);
    WW_TRY(ww_op_shape(s, op, "rgba", rgba, W, H, 1, 1));
    if (x->nb[0] != 1 || rgba->nb[0] != 1)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "%s: the input and rgba need unit stride along W", op);
    memset(n, 0, sizeof *n);
    n->op = WW_OP_COLORIZE;
    ww_colorize_params *p = &n->p.colorize;
    p->W = (uint32_t)W;
    p->H = (uint32_t)H;
    p->mode = mode;
    p->x_rs = (uint32_t)x->nb[1];
    p->x_ps = planes > 1 ? (uint32_t)x->nb[2] : 0;
    p->y_rs = (uint32_t)rgba->nb[1];
    p->n = table_name ? (uint32_t)ww_tensor_nelements(table) : 0;
    ww_op_bind(n, 0, x, 0);
    ww_op_bind(n, 1, table_name ? table : NULL, 0);
    ww_op_bind(n, 2, rgba, 1);
    return WW_OK;
}

ww_status ww_colorize_flow(ww_seq *s, const ww_tensor *flow, float max_flow,
                           ww_flow_colors colors, const ww_tensor *rgba)
{
    ww_node n;
    if (colors != WW_FLOW_MIDDLEBURY && colors != WW_FLOW_HSV)
        return ww_set_error(s->be, WW_ERR_INVALID, "colorize_flow: unknown colour scheme %d",
                            (int)colors);
    WW_TRY(colorize(s, "colorize_flow",
                    colors == WW_FLOW_HSV ? WW_COLORIZE_FLOW_HSV : WW_COLORIZE_FLOW, flow, WW_F32,
                    2, NULL, NULL, rgba, &n));
    float inv = (float)(1.0 / (double)max_flow);
    if (!(max_flow > 0.0f) || !isfinite(max_flow) || !isfinite(inv) || !(inv > 0.0f))
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "colorize_flow: max_flow %g is not a finite value > 0 (with a "
                            "finite non-zero reciprocal)", (double)max_flow);
    n.p.colorize.a = inv;
    return finish(s, &n, sizeof n.p.colorize, 0);
}

ww_status ww_colorize_scalar(ww_seq *s, const ww_tensor *x, float lo, float hi,
                             const ww_tensor *lut, const ww_tensor *rgba)
{
    ww_node n;
    WW_TRY(colorize(s, "colorize_scalar", WW_COLORIZE_SCALAR, x, WW_F32, 1, "lut", lut, rgba, &n));
    if (n.p.colorize.n > (1u << 24)) /* entries are picked through a float */
        return ww_set_error(s->be, WW_ERR_INVALID, "colorize_scalar: lut has %u entries, at most "
                            "2^24 allowed", n.p.colorize.n);
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "colorize_scalar: range [%g, %g] is not finite with lo < hi",
                            (double)lo, (double)hi);
    float scale = (float)((double)n.p.colorize.n / ((double)hi - (double)lo));
    if (!isfinite(scale))
        return ww_set_error(s->be, WW_ERR_INVALID, "colorize_scalar: range [%g, %g] is too narrow",
                            (double)lo, (double)hi);
    n.p.colorize.a = lo;
    n.p.colorize.b = scale;
    return finish(s, &n, sizeof n.p.colorize, 0);
}

ww_status ww_colorize_labels(ww_seq *s, const ww_tensor *ids, const ww_tensor *palette,
                             const ww_tensor *rgba)
{
    ww_node n;
    WW_TRY(colorize(s, "colorize_labels", WW_COLORIZE_LABELS, ids, WW_U32, 1, "palette", palette,
                 rgba, &n));
    return finish(s, &n, sizeof n.p.colorize, 0);
}
