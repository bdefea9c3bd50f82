/* Op constructors of the basic training ops (ww.h, "Training: LayerNorm and GELU backward,
 * reductions, AdamW"): shape and type checks, then one or more nodes described by ww_params.h.
 *
 * Reductions over many terms are split into `parts` partial sums of `chunk` consecutive terms
 * (reduce_split: a function of the term count only), written to the caller's scratch and added in
 * part order by a second node, so that results are the same on every run. An op that appends
 * several nodes appends all of them or none. */
#include <math.h>
#include <string.h>

#include "ww_internal.h"

#define REDUCE_MIN_CHUNK 16
#define REDUCE_MAX_PARTS 256


/* The split of `count` terms: chunks of at least REDUCE_MIN_CHUNK terms, at most
 * REDUCE_MAX_PARTS of them. */
static void reduce_split(int64_t count, int64_t *chunk, int64_t *parts)
{
    int64_t c = (count + REDUCE_MAX_PARTS - 1) / REDUCE_MAX_PARTS;
    if (c < REDUCE_MIN_CHUNK)
        c = REDUCE_MIN_CHUNK;
    *chunk = c;
    *parts = count > 0 ? (count + c - 1) / c : 1;
}

/* ---- Argument checks beyond ww_op_check ---------------------------------------------------- */

static ww_status need_count(ww_seq *s, const char *op, const char *name, const ww_tensor *t,
                            int64_t n)
{
    if (ww_tensor_nelements(t) != n)
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: tensor '%s' has %lld elements, expected %lld",
                            op, name, (long long)ww_tensor_nelements(t), (long long)n);
    return WW_OK;
}

static ww_status need_same_shape(ww_seq *s, const char *op, const char *name, const ww_tensor *t,
                                 const ww_tensor *ref, const char *ref_name)
{
    for (int i = 0; i < 4; i++)
        if (t->ne[i] != ref->ne[i])
            return ww_set_error(s->be, WW_ERR_INVALID,
                                "%s: tensor '%s' is [%lld, %lld, %lld, %lld], '%s' is "
                                "[%lld, %lld, %lld, %lld] (slowest first)",
                                op, name, (long long)t->ne[3], (long long)t->ne[2],
                                (long long)t->ne[1], (long long)t->ne[0], ref_name,
                                (long long)ref->ne[3], (long long)ref->ne[2],
                                (long long)ref->ne[1], (long long)ref->ne[0]);
    return WW_OK;
}

/* scratch: absent only when need is 0, else F32, contiguous, at least need elements. */
static ww_status check_scratch(ww_seq *s, const char *op, const ww_tensor *scratch, int64_t need)
{
    if (need == 0)
        return ww_op_check(s, op, "scratch", scratch, WW_F32, 1);
    WW_TRY(ww_op_check(s, op, "scratch", scratch, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "scratch", scratch));
    if (ww_tensor_nelements(scratch) < need)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "%s: scratch has %lld elements, the op needs %lld", op,
                            (long long)ww_tensor_nelements(scratch), (long long)need);
    return WW_OK;
}

static ww_binding binding(const ww_tensor *t, int written)
{
    ww_binding b;
    memset(&b, 0, sizeof b);
    if (!t || !t->buf)
        return b;
    b.t = *t;
    size_t es = ww_dtype_size(t->type), last = 0;
    for (int d = 0; d < 4; d++)
        last += (size_t)(t->ne[d] - 1) * (size_t)t->nb[d];
    b.lo = t->offset;
    b.hi = t->offset + (last + 1) * es;
    b.written = written;
    return b;
}

static void bind(ww_node *n, int i, const ww_tensor *t, int written)
{
    n->bind[i] = binding(t, written);
    if (i + 1 > n->nbind)
        n->nbind = i + 1;
}

/* Every tensor of the op (not only those of one node): a written one overlaps no other, and
 * every one is addressable with 32-bit element indices in the shaders. */
static ww_status check_tensors(ww_seq *s, const char *op, const char *const *names,
                               const ww_binding *b, int n)
{
    for (int i = 0; i < n; i++) {
        if (!b[i].t.buf)
            continue;
        if ((b[i].hi - b[i].t.offset) / ww_dtype_size(b[i].t.type) > UINT32_MAX)
            return ww_set_error(s->be, WW_ERR_UNSUPPORTED,
                                "%s: tensor '%s' spans more than 2^32 elements", op, names[i]);
        if (!b[i].written)
            continue;
        for (int j = 0; j < n; j++)
            if (j != i && b[j].t.buf == b[i].t.buf && b[i].lo < b[j].hi && b[j].lo < b[i].hi)
                return ww_set_error(s->be, WW_ERR_INVALID,
                                    "%s: output tensor '%s' overlaps tensor '%s'", op, names[i],
                                    names[j]);
    }
    return WW_OK;
}

/* Append nodes[0..n) or, if one fails, none. */
static ww_status append_all(ww_seq *s, ww_node *nodes, int n)
{
    int n0 = s->n;
    for (int i = 0; i < n; i++) {
        ww_status st = ww_seq_append(s, &nodes[i]);
        if (st != WW_OK) {
            if (s->n != n0) {
                s->n = n0;
                s->be->ops->seq_invalidate(s);
            }
            return st;
        }
    }
    return WW_OK;
}

/* A contiguous 1-D view of n elements of t starting at element `at`. */
static ww_tensor flat_view(const ww_tensor *t, int64_t at, int64_t n)
{
    int64_t ne[4] = {n, 1, 1, 1}, nb[4] = {1, n, n, n};
    return ww_tensor_view(t, at, ne, nb);
}

/* A reduce node: x [outer, N, inner] (contiguous) -> y (p N + n). */
static void reduce_node(ww_node *nd, const ww_tensor *x, const ww_tensor *y, int64_t outer,
                        int64_t N, int64_t inner, int64_t chunk, int64_t parts, int square,
                        int accumulate)
{
    memset(nd, 0, sizeof *nd);
    nd->op = WW_OP_REDUCE;
    ww_reduce_params *p = &nd->p.reduce;
    p->outer = (uint32_t)outer;
    p->N = (uint32_t)N;
    p->inner = (uint32_t)inner;
    p->chunk = (uint32_t)chunk;
    p->parts = (uint32_t)parts;
    p->square = square ? 1u : 0u;
    p->accumulate = accumulate ? 1u : 0u;
    bind(nd, 0, x, 0);
    bind(nd, 1, y, 1);
    nd->params_size = sizeof *p;
}

/* Appends the nodes of y[n] (+)= sum_{o, i} f(x[o, n, i]): one node when the terms fit one part,
 * else partials into scratch and their sum. */
static ww_status reduce(ww_seq *s, const ww_tensor *x, const ww_tensor *y,
                        const ww_tensor *scratch, int64_t outer, int64_t N, int64_t inner,
                        int square, int accumulate)
{
    int64_t chunk, parts;
    reduce_split(outer * inner, &chunk, &parts);
    if ((uint64_t)outer * (uint64_t)N * (uint64_t)inner + (uint64_t)chunk > UINT32_MAX)
        return ww_set_error(s->be, WW_ERR_UNSUPPORTED,
                            "reduce: %lld terms exceed the 32-bit indices of the shader",
                            (long long)(outer * N * inner));
    ww_node nodes[2];
    if (parts == 1) {
        reduce_node(&nodes[0], x, y, outer, N, inner, chunk, 1, square, accumulate);
        return append_all(s, nodes, 1);
    }
    ww_tensor part = flat_view(scratch, 0, parts * N);
    reduce_node(&nodes[0], x, &part, outer, N, inner, chunk, parts, square, 0);
    reduce_node(&nodes[1], &part, y, parts, N, 1, parts, 1, 0, accumulate);
    return append_all(s, nodes, 2);
}

/* ---- LayerNorm backward ---------------------------------------------------------------------- */

int64_t ww_layernorm_backward_scratch(int64_t rows, int64_t D)
{
    if (rows < 1 || D < 1)
        return 0;
    int64_t chunk, parts;
    reduce_split(rows, &chunk, &parts);
    return 2 * rows + 2 * parts * D;
}

/* x is rows of D contiguous values with one row stride (dims 1..3 packed over each other). */
static int rows_view(const ww_tensor *t)
{
    return t->nb[0] == 1 && t->nb[2] == t->nb[1] * t->ne[1] && t->nb[3] == t->nb[2] * t->ne[2];
}

ww_status ww_layernorm_backward(ww_seq *s, const ww_tensor *x, const ww_tensor *w,
                                const ww_tensor *dy, const ww_tensor *dx, const ww_tensor *dw,
                                const ww_tensor *db, float eps, const ww_tensor *scratch)
{
    const char *op = "layernorm_backward";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "w", w, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "dy", dy, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "dx", dx, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "dw", dw, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "db", db, WW_F32, 0));
    int64_t D = x->ne[0], rows = x->ne[1] * x->ne[2] * x->ne[3];
    if (!rows_view(x) || !rows_view(dy) || !rows_view(dx))
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "%s: x, dy and dx must be rows of D contiguous values with one row "
                            "stride", op);
    WW_TRY(need_same_shape(s, op, "dy", dy, x, "x"));
    WW_TRY(need_same_shape(s, op, "dx", dx, x, "x"));
    const char *vec_names[3] = {"w", "dw", "db"};
    const ww_tensor *vecs[3] = {w, dw, db};
    for (int i = 0; i < 3; i++) {
        WW_TRY(ww_op_contiguous(s, op, vec_names[i], vecs[i]));
        WW_TRY(need_count(s, op, vec_names[i], vecs[i], D));
    }
    if (!(eps >= 0.0f) || !isfinite(eps))
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: eps %g is not a finite value >= 0", op,
                            (double)eps);
    int64_t need = ww_layernorm_backward_scratch(rows, D);
    WW_TRY(check_scratch(s, op, scratch, need));
    ww_tensor scr = flat_view(scratch, 0, need);

    static const char *const names[7] = {"x", "w", "dy", "dx", "dw", "db", "scratch"};
    ww_binding all[7] = {binding(x, 0), binding(w, 0),  binding(dy, 0), binding(dx, 1),
                         binding(dw, 1), binding(db, 1), binding(&scr, 1)};
    WW_TRY(check_tensors(s, op, names, all, 7));

    int64_t chunk, parts;
    reduce_split(rows, &chunk, &parts);
    ww_node nodes[4];
    memset(nodes, 0, 2 * sizeof nodes[0]);
    ww_layernorm_bwd_params p = {.D = (uint32_t)D, .rows = (uint32_t)rows,
                                 .x_rs = (uint32_t)x->nb[1], .dy_rs = (uint32_t)dy->nb[1],
                                 .dx_rs = (uint32_t)dx->nb[1], .eps = eps,
                                 .chunk = (uint32_t)chunk, .parts = (uint32_t)parts};
    for (int k = 0; k < 2; k++) {
        ww_node *nd = &nodes[k];
        nd->op = WW_OP_LAYERNORM_BWD;
        nd->p.layernorm_bwd = p;
        nd->p.layernorm_bwd.pass = k == 0 ? WW_LNB_ROWS : WW_LNB_PARTIALS;
        nd->params_size = sizeof p;
        bind(nd, 0, x, 0);
        bind(nd, 1, k == 0 ? w : NULL, 0);
        bind(nd, 2, dy, 0);
        bind(nd, 3, k == 0 ? dx : NULL, 1);
        bind(nd, 4, &scr, 1);
    }
    ww_tensor pw = flat_view(scratch, 2 * rows, parts * D);
    ww_tensor pb = flat_view(scratch, 2 * rows + parts * D, parts * D);
    reduce_node(&nodes[2], &pw, dw, parts, D, 1, parts, 1, 0, 1);
    reduce_node(&nodes[3], &pb, db, parts, D, 1, parts, 1, 0, 1);
    return append_all(s, nodes, 4);
}

/* ---- GELU backward --------------------------------------------------------------------------- */

ww_status ww_gelu_backward(ww_seq *s, const ww_tensor *x, const ww_tensor *dy,
                           const ww_tensor *dx)
{
    const char *op = "gelu_backward";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "dy", dy, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "dx", dx, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "x", x));
    WW_TRY(ww_op_contiguous(s, op, "dy", dy));
    WW_TRY(ww_op_contiguous(s, op, "dx", dx));
    WW_TRY(need_same_shape(s, op, "dy", dy, x, "x"));
    WW_TRY(need_same_shape(s, op, "dx", dx, x, "x"));
    ww_node nd;
    memset(&nd, 0, sizeof nd);
    nd.op = WW_OP_GELU_BWD;
    nd.p.gelu_bwd.n = (uint32_t)ww_tensor_nelements(x);
    nd.params_size = sizeof nd.p.gelu_bwd;
    bind(&nd, 0, x, 0);
    bind(&nd, 1, dy, 0);
    bind(&nd, 2, dx, 1);
    static const char *const names[3] = {"x", "dy", "dx"};
    WW_TRY(check_tensors(s, op, names, nd.bind, 3));
    return append_all(s, &nd, 1);
}

/* ---- Reductions ------------------------------------------------------------------------------ */

/* outer, N, inner of x around dim; 0 for a bad dim. */
static int split_dims(const int64_t ne[4], int dim, int64_t *outer, int64_t *N, int64_t *inner)
{
    if (dim < 0 || dim > 3)
        return 0;
    *outer = *inner = 1;
    for (int d = 0; d < 4; d++) {
        if (ne[d] < 1)
            return 0;
        if (d < dim)
            *inner *= ne[d];
        else if (d > dim)
            *outer *= ne[d];
    }
    *N = ne[dim];
    return 1;
}

int64_t ww_sum_rows_scratch(const int64_t ne[4], int dim)
{
    int64_t outer, N, inner, chunk, parts;
    if (!ne || !split_dims(ne, dim, &outer, &N, &inner))
        return 0;
    reduce_split(outer * inner, &chunk, &parts);
    return parts == 1 ? 0 : parts * N;
}

ww_status ww_sum_rows(ww_seq *s, const ww_tensor *x, int dim, const ww_tensor *y, int accumulate,
                      const ww_tensor *scratch)
{
    const char *op = "sum_rows";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "y", y, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "x", x));
    WW_TRY(ww_op_contiguous(s, op, "y", y));
    int64_t outer, N, inner;
    if (!split_dims(x->ne, dim, &outer, &N, &inner))
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: dim %d is not 0..3", op, dim);
    WW_TRY(need_count(s, op, "y", y, N));
    int64_t need = ww_sum_rows_scratch(x->ne, dim);
    WW_TRY(check_scratch(s, op, scratch, need));
    ww_tensor scr;
    memset(&scr, 0, sizeof scr);
    if (need)
        scr = flat_view(scratch, 0, need);
    static const char *const names[3] = {"x", "y", "scratch"};
    ww_binding all[3] = {binding(x, 0), binding(y, 1), binding(need ? &scr : NULL, 1)};
    WW_TRY(check_tensors(s, op, names, all, 3));
    return reduce(s, x, y, need ? &scr : NULL, outer, N, inner, 0, accumulate);
}

int64_t ww_sum_squares_scratch(int64_t n)
{
    int64_t chunk, parts;
    if (n < 1)
        return 0;
    reduce_split(n, &chunk, &parts);
    return parts == 1 ? 0 : parts;
}

ww_status ww_sum_squares(ww_seq *s, const ww_tensor *x, const ww_tensor *out,
                         const ww_tensor *scratch)
{
    const char *op = "sum_squares";
    WW_TRY(ww_op_check(s, op, "x", x, WW_F32, 0));
    WW_TRY(ww_op_check(s, op, "out", out, WW_F32, 0));
    WW_TRY(ww_op_contiguous(s, op, "x", x));
    WW_TRY(need_count(s, op, "out", out, 1));
    int64_t n = ww_tensor_nelements(x);
    int64_t need = ww_sum_squares_scratch(n);
    WW_TRY(check_scratch(s, op, scratch, need));
    ww_tensor scr;
    memset(&scr, 0, sizeof scr);
    if (need)
        scr = flat_view(scratch, 0, need);
    static const char *const names[3] = {"x", "out", "scratch"};
    ww_binding all[3] = {binding(x, 0), binding(out, 1), binding(need ? &scr : NULL, 1)};
    WW_TRY(check_tensors(s, op, names, all, 3));
    return reduce(s, x, out, need ? &scr : NULL, 1, 1, n, 1, 0);
}

/* ---- AdamW ----------------------------------------------------------------------------------- */

ww_status ww_adamw(ww_seq *s, const ww_tensor *params, const ww_tensor *grads, const ww_tensor *m,
                   const ww_tensor *v, const ww_adamw_hparams *h, const ww_tensor *scalars)
{
    const char *op = "adamw";
    static const char *const names[5] = {"params", "grads", "m", "v", "scalars"};
    const ww_tensor *ts[4] = {params, grads, m, v};
    for (int i = 0; i < 4; i++) {
        WW_TRY(ww_op_check(s, op, names[i], ts[i], WW_F32, 0));
        WW_TRY(ww_op_contiguous(s, op, names[i], ts[i]));
        WW_TRY(need_count(s, op, names[i], ts[i], ww_tensor_nelements(params)));
    }
    WW_TRY(ww_op_check(s, op, "scalars", scalars, WW_F32, 1));
    int has_scalars = scalars && scalars->buf;
    if (has_scalars) {
        WW_TRY(ww_op_contiguous(s, op, "scalars", scalars));
        WW_TRY(need_count(s, op, "scalars", scalars, WW_ADAMW_NSCALARS));
    }
    if (!h)
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: no hyperparameters", op);
    if (!(h->beta1 >= 0.0f && h->beta1 < 1.0f) || !(h->beta2 >= 0.0f && h->beta2 < 1.0f))
        return ww_set_error(s->be, WW_ERR_INVALID, "%s: betas %g, %g must lie in [0, 1)", op,
                            (double)h->beta1, (double)h->beta2);
    if (!(h->eps >= 0.0f) || !isfinite(h->eps) || !isfinite(h->weight_decay))
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "%s: eps %g must be finite and >= 0, weight decay %g finite", op,
                            (double)h->eps, (double)h->weight_decay);
    if (!has_scalars) {
        if (!isfinite(h->lr) || !isfinite(h->grad_scale))
            return ww_set_error(s->be, WW_ERR_INVALID, "%s: lr %g and grad_scale %g must be "
                                "finite", op, (double)h->lr, (double)h->grad_scale);
        if (!(h->bias_corr1 > 0.0f && h->bias_corr1 <= 1.0f) ||
            !(h->bias_corr2 > 0.0f && h->bias_corr2 <= 1.0f))
            return ww_set_error(s->be, WW_ERR_INVALID,
                                "%s: bias corrections %g, %g must lie in (0, 1] (1 - beta^t, "
                                "t >= 1)", op, (double)h->bias_corr1, (double)h->bias_corr2);
    }
    ww_node nd;
    memset(&nd, 0, sizeof nd);
    nd.op = WW_OP_ADAMW;
    ww_adamw_params *p = &nd.p.adamw;
    p->n = (uint32_t)ww_tensor_nelements(params);
    p->lr = h->lr;
    p->beta1 = h->beta1;
    p->beta2 = h->beta2;
    p->eps = h->eps;
    p->weight_decay = h->weight_decay;
    p->bias_corr1 = h->bias_corr1;
    p->bias_corr2 = h->bias_corr2;
    p->grad_scale = h->grad_scale;
    p->has_scalars = has_scalars ? 1u : 0u;
    nd.params_size = sizeof *p;
    bind(&nd, 0, params, 1);
    bind(&nd, 1, grads, 0);
    bind(&nd, 2, m, 1);
    bind(&nd, 3, v, 1);
    bind(&nd, 4, has_scalars ? scalars : NULL, 0);
    WW_TRY(check_tensors(s, op, names, nd.bind, 5));
    return append_all(s, &nd, 1);
}
