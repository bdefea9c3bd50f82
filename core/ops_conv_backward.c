/* Op constructors of the backward ops of the DPT head and of the token gather (ww.h, "Backward:
 * DPT head ops and the token gather"): conv2d to the input and to the weights, ConvTranspose2d,
 * bilinear resize, ReLU, scatter-add of rows. Every gradient accumulates (+=).
 *
 * The nodes reuse the forward ops' parameter structs (ww_params.h), with their own bindings:
 *   WW_OP_CONV2D_BWD_INPUT   ww_conv2d_params    dy, w, dx  (the forward's geometry; flags 0)
 *   WW_OP_CONV2D_BWD_WEIGHT  ww_conv2d_params    x, dy, dw  (flags: WW_CONV_RELU_IN or 0)
 *   WW_OP_CHANNEL_SUM        ww_channels_params  t, sum     (C, HW, B: sum[c] += sum of
 *                                                           t[b, c, :] over b; mode 0)
 *   WW_OP_RESIZE_BWD         ww_resize_params    dy, dx     (W, H of dx; Wo, Ho of dy)
 *   WW_OP_RELU_BWD           ww_eltwise_params   x, dy, dx  (n; op 0)
 *   WW_OP_SCATTER_ADD_ROWS   ww_rows_params      x, idx, y  (mode WW_ROWS_SCATTER_ADD)
 * ConvTranspose2d with kernel == stride is a conv2d seen from the other side, so its backward is
 * three of the nodes above: dx += conv2d(dy, w, stride k) (the forward conv2d node with
 * WW_CONV_ACCUMULATE), dw through WW_OP_CONV2D_BWD_WEIGHT with the roles of x and dy swapped,
 * db through WW_OP_CHANNEL_SUM of dy. */
#include <string.h>

#include "ww_internal.h"

/* A tensor argument (ww_op_check) that must also be contiguous. */
static ww_status arg(ww_seq *s, const char *op, const char *name, const ww_tensor *t,
                     ww_dtype type, int optional)
{
    WW_TRY(ww_op_check(s, op, name, t, type, optional));
    return t && t->buf ? ww_op_contiguous(s, op, name, t) : WW_OK;
}

static int present(const ww_tensor *t)
{
    return t && t->buf;
}

/* a and b (NULL or absent: never) share a byte. */
static int overlap(const ww_tensor *a, const ww_tensor *b)
{
    if (!present(a) || !present(b) || a->buf != b->buf)
        return 0;
    ww_node n = {.op = WW_OP_CONVT};
    ww_op_bind(&n, 0, a, 0);
    ww_op_bind(&n, 1, b, 0);
    return n.bind[0].lo < n.bind[1].hi && n.bind[1].lo < n.bind[0].hi;
}

/* Outputs may not overlap any other binding (gradients are read and written: no in-place form). */
static ww_status append(ww_seq *s, ww_node *n, uint32_t params_size)
{
    n->params_size = params_size;
    for (int i = 0; i < n->nbind; i++) {
        const ww_binding *a = &n->bind[i];
        if (!a->written)
            continue;
        for (int j = 0; j < n->nbind; j++) {
            const ww_binding *b = &n->bind[j];
            if (j != i && b->t.buf && b->t.buf == a->t.buf && a->lo < b->hi && b->lo < a->hi)
                return ww_set_error(s->be, WW_ERR_INVALID,
                                    "%s: output tensor %d overlaps tensor %d", ww_op_name(n->op),
                                    i, j);
        }
    }
    return ww_seq_append(s, n);
}

/* The conv2d geometry of x [B, Cin, H, W], w-shaped [Cout, Cin, k, k] and y [B, Cout, Ho, Wo]
 * given by sizes (the tensors themselves are checked by the callers). */
static ww_status conv_geometry(ww_seq *s, const char *op, int64_t B, int64_t Cin, int64_t H,
                               int64_t W, int64_t Cout, int64_t k, int stride, int pad,
                               ww_conv2d_params *p)
{
    if (stride < 1 || pad < 0 || pad >= k || H + 2 * pad < k || W + 2 * pad < k)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "%s: stride %d / pad %d do not fit kernel %lld on %lldx%lld", op,
                            stride, pad, (long long)k, (long long)W, (long long)H);
    memset(p, 0, sizeof *p);
    p->Cin = (uint32_t)Cin;
    p->H = (uint32_t)H;
    p->W = (uint32_t)W;
    p->Cout = (uint32_t)Cout;
    p->Ho = (uint32_t)((H + 2 * pad - k) / stride + 1);
    p->Wo = (uint32_t)((W + 2 * pad - k) / stride + 1);
    p->k = (uint32_t)k;
    p->stride = (uint32_t)stride;
    p->pad = (uint32_t)pad;
    p->B = (uint32_t)B;
    return WW_OK;
}

ww_status ww_conv2d_backward_input(ww_seq *s, const ww_tensor *dy, const ww_tensor *w,
                                   int stride, int pad, const ww_tensor *dx)
{
    const char *op = "conv2d_backward_input";
    WW_TRY(arg(s, op, "dy", dy, WW_F32, 0));
    WW_TRY(arg(s, op, "w", w, WW_F32, 0));
    WW_TRY(arg(s, op, "dx", dx, WW_F32, 0));
    int64_t W = dx->ne[0], H = dx->ne[1], Cin = dx->ne[2], B = dx->ne[3];
    int64_t k = w->ne[0], Cout = w->ne[3];
    if (w->ne[1] != k || w->ne[2] != Cin)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "%s: weight must be [Cout, %lld, k, k] (square kernel)", op,
                            (long long)Cin);
    ww_node n = {.op = WW_OP_CONV2D_BWD_INPUT};
    ww_conv2d_params *p = &n.p.conv2d;
    WW_TRY(conv_geometry(s, op, B, Cin, H, W, Cout, k, stride, pad, p));
    WW_TRY(ww_op_shape(s, op, "dy", dy, p->Wo, p->Ho, Cout, B));
    ww_op_bind(&n, 0, dy, 0);
    ww_op_bind(&n, 1, w, 0);
    ww_op_bind(&n, 2, dx, 1);
    return append(s, &n, sizeof *p);
}

/* sum[c] += sum over (b, pixels) of t[b, c, pixels]: the bias gradients. */
static ww_status channel_sum(ww_seq *s, const ww_tensor *t, const ww_tensor *sum)
{
    ww_node n = {.op = WW_OP_CHANNEL_SUM};
    n.p.channels = (ww_channels_params){.C = (uint32_t)t->ne[2],
                                        .HW = (uint32_t)(t->ne[0] * t->ne[1]),
                                        .B = (uint32_t)t->ne[3]};
    ww_op_bind(&n, 0, t, 0);
    ww_op_bind(&n, 1, sum, 1);
    return append(s, &n, sizeof n.p.channels);
}

/* Checks everything of a weight gradient (and db) before anything is appended. */
static ww_status weight_node(ww_seq *s, const char *op, const ww_tensor *x, const ww_tensor *dy,
                             int stride, int pad, const ww_tensor *dw, const ww_tensor *db,
                             unsigned flags, const char *xname, const char *dyname,
                             const char *dwname, const char *dbname, ww_node *n)
{
    WW_TRY(arg(s, op, xname, x, WW_F32, 0));
    WW_TRY(arg(s, op, dyname, dy, WW_F32, 0));
    WW_TRY(arg(s, op, dwname, dw, WW_F32, 0));
    WW_TRY(arg(s, op, dbname, db, WW_F32, 1));
    if (flags & ~(unsigned)WW_CONV_RELU_IN)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "%s: flags 0x%x not accepted (only WW_CONV_RELU_IN)", op,
                            flags & ~(unsigned)WW_CONV_RELU_IN);
    int64_t W = x->ne[0], H = x->ne[1], Cin = x->ne[2], B = x->ne[3];
    int64_t k = dw->ne[0], Cout = dw->ne[3];
    if (dw->ne[1] != k || dw->ne[2] != Cin)
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: %s must be [Cout, %lld, k, k]", op,
                            dwname, (long long)Cin);
    memset(n, 0, sizeof *n);
    n->op = WW_OP_CONV2D_BWD_WEIGHT;
    ww_conv2d_params *p = &n->p.conv2d;
    WW_TRY(conv_geometry(s, op, B, Cin, H, W, Cout, k, stride, pad, p));
    WW_TRY(ww_op_shape(s, op, dyname, dy, p->Wo, p->Ho, Cout, B));
    if (present(db))
        WW_TRY(ww_op_shape(s, op, dbname, db, Cout, 1, 1, 1));
    p->flags = flags;
    ww_op_bind(n, 0, x, 0);
    ww_op_bind(n, 1, dy, 0);
    ww_op_bind(n, 2, dw, 1);
    /* db is written by a second node: it must not overlap this one's tensors either */
    const ww_tensor *t[3] = {x, dy, dw};
    const char *names[3] = {xname, dyname, dwname};
    for (int i = 0; i < 3; i++)
        if (overlap(db, t[i]))
            return ww_set_error(s->be, WW_ERR_INVALID, "%s: %s overlaps %s", op, dbname,
                                names[i]);
    return WW_OK;
}

ww_status ww_conv2d_backward_weight(ww_seq *s, const ww_tensor *x, const ww_tensor *dy,
                                    int stride, int pad, const ww_tensor *dw,
                                    const ww_tensor *db, unsigned flags)
{
    const char *op = "conv2d_backward_weight";
    ww_node n;
    WW_TRY(weight_node(s, op, x, dy, stride, pad, dw, db, flags, "x", "dy", "dw", "db", &n));
    WW_TRY(append(s, &n, sizeof n.p.conv2d));
    return present(db) ? channel_sum(s, dy, db) : WW_OK;
}

ww_status ww_conv_transpose2d_backward(ww_seq *s, const ww_tensor *x, const ww_tensor *w,
                                       const ww_tensor *dy, const ww_tensor *dx,
                                       const ww_tensor *dw, const ww_tensor *db)
{
    const char *op = "conv_transpose2d_backward";
    WW_TRY(arg(s, op, "dy", dy, WW_F32, 0));
    WW_TRY(arg(s, op, "dx", dx, WW_F32, 1));
    WW_TRY(arg(s, op, "dw", dw, WW_F32, 1));
    WW_TRY(arg(s, op, "db", db, WW_F32, 1));
    if (!present(dx) && !present(dw) && !present(db))
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: dx, dw and db are all NULL", op);
    if (present(dx)) /* dx needs w, dw needs x */
        WW_TRY(arg(s, op, "w", w, WW_F32, 0));
    if (present(dw))
        WW_TRY(arg(s, op, "x", x, WW_F32, 0));
    int64_t Cout = dy->ne[2];
    if (present(dx) || present(dw)) {
        const ww_tensor *xs = present(dx) ? dx : x, *ws = present(dx) ? w : dw;
        int64_t k = ws->ne[0], Cin = xs->ne[2];
        if (ws->ne[1] != k || ws->ne[2] != Cout || ws->ne[3] != Cin)
            return ww_set_error(s->be, WW_ERR_INVALID,
                                "%s: weight must be [%lld, %lld, k, k] (Cin, Cout of dy)", op,
                                (long long)Cin, (long long)Cout);
        WW_TRY(ww_op_shape(s, op, "dy", dy, xs->ne[0] * k, xs->ne[1] * k, Cout, xs->ne[3]));
        if (present(dx) && present(dw)) {
            WW_TRY(ww_op_shape(s, op, "x", x, dx->ne[0], dx->ne[1], dx->ne[2], dx->ne[3]));
            WW_TRY(ww_op_shape(s, op, "dw", dw, k, k, Cout, Cin));
        }
    }
    if (present(db))
        WW_TRY(ww_op_shape(s, op, "db", db, Cout, 1, 1, 1));
    const ww_tensor *all[6] = {x, w, dy, dx, dw, db};
    static const char *const names[6] = {"x", "w", "dy", "dx", "dw", "db"};
    for (int i = 3; i < 6; i++)
        for (int j = 0; j < 6; j++)
            if (j != i && overlap(all[i], all[j]))
                return ww_set_error(s->be, WW_ERR_INVALID, "%s: %s overlaps %s", op, names[i],
                                    names[j]);

    /* Everything is checked before the first append. dw: the weight gradient of the conv2d
     * whose input is dy and whose output gradient is x (stride k, no padding). */
    ww_node wn;
    if (present(dw))
        WW_TRY(weight_node(s, op, dy, x, (int)dw->ne[0], 0, dw, NULL, 0, "dy", "x", "dw", "db",
                           &wn));
    if (present(dx))
        WW_TRY(ww_conv2d(s, dy, w, NULL, (int)w->ne[0], 0, dx, WW_CONV_ACCUMULATE));
    if (present(dw))
        WW_TRY(append(s, &wn, sizeof wn.p.conv2d));
    if (present(db))
        WW_TRY(channel_sum(s, dy, db));
    return WW_OK;
}

ww_status ww_resize_bilinear_backward(ww_seq *s, const ww_tensor *dy, const ww_tensor *dx)
{
    const char *op = "resize_bilinear_backward";
    WW_TRY(arg(s, op, "dy", dy, WW_F32, 0));
    WW_TRY(arg(s, op, "dx", dx, WW_F32, 0));
    WW_TRY(ww_op_shape(s, op, "dy", dy, dy->ne[0], dy->ne[1], dx->ne[2], dx->ne[3]));
    ww_node n = {.op = WW_OP_RESIZE_BWD};
    n.p.resize = (ww_resize_params){.W = (uint32_t)dx->ne[0], .H = (uint32_t)dx->ne[1],
                                    .Wo = (uint32_t)dy->ne[0], .Ho = (uint32_t)dy->ne[1],
                                    .planes = (uint32_t)(dx->ne[2] * dx->ne[3])};
    ww_op_bind(&n, 0, dy, 0);
    ww_op_bind(&n, 1, dx, 1);
    return append(s, &n, sizeof n.p.resize);
}

ww_status ww_relu_backward(ww_seq *s, const ww_tensor *x, const ww_tensor *dy,
                           const ww_tensor *dx)
{
    const char *op = "relu_backward";
    WW_TRY(arg(s, op, "x", x, WW_F32, 0));
    WW_TRY(arg(s, op, "dy", dy, WW_F32, 0));
    WW_TRY(arg(s, op, "dx", dx, WW_F32, 0));
    WW_TRY(ww_op_shape(s, op, "dy", dy, x->ne[0], x->ne[1], x->ne[2], x->ne[3]));
    WW_TRY(ww_op_shape(s, op, "dx", dx, x->ne[0], x->ne[1], x->ne[2], x->ne[3]));
    ww_node n = {.op = WW_OP_RELU_BWD};
    n.p.eltwise.n = (uint32_t)ww_tensor_nelements(x);
    ww_op_bind(&n, 0, x, 0);
    ww_op_bind(&n, 1, dy, 0);
    ww_op_bind(&n, 2, dx, 1);
    return append(s, &n, sizeof n.p.eltwise);
}

ww_status ww_scatter_add_rows(ww_seq *s, const ww_tensor *x, const ww_tensor *idx,
                              const ww_tensor *y)
{
    const char *op = "scatter_add_rows";
    WW_TRY(arg(s, op, "x", x, WW_F32, 0));
    WW_TRY(arg(s, op, "idx", idx, WW_U32, 0));
    WW_TRY(arg(s, op, "y", y, WW_F32, 0));
    int64_t D = y->ne[0], N = y->ne[1], B = y->ne[2], nsel = idx->ne[0];
    if (y->ne[3] != 1 || idx->ne[2] != 1 || idx->ne[3] != 1 ||
        (idx->ne[1] != 1 && idx->ne[1] != B))
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: idx must be [B or 1, n], y [B, N, D]",
                            op);
    WW_TRY(ww_op_shape(s, op, "x", x, D, nsel, B, 1));
    ww_node n = {.op = WW_OP_SCATTER_ADD_ROWS};
    n.p.rows = (ww_rows_params){.D = (uint32_t)D, .n = (uint32_t)nsel, .N = (uint32_t)N,
                                .B = (uint32_t)B,
                                .idx_sb = idx->ne[1] == 1 ? 0 : (uint32_t)idx->nb[1],
                                .mode = WW_ROWS_SCATTER_ADD};
    ww_op_bind(&n, 0, x, 0);
    ww_op_bind(&n, 1, idx, 0);
    ww_op_bind(&n, 2, y, 1);
    return append(s, &n, sizeof n.p.rows);
}
