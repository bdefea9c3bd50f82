/* The training step: forward with saved activations, loss, backward and AdamW, recorded as op
 * sequences once per shape (llm.c's layer-by-layer structure on the engine's ops).
 *
 * Token matrices are [rows, dim] with rows = images x kept tokens; maps are [batch, C, H, W].
 * The encoder runs every frame of the micro-batch as one batch (flow: all first frames, then all
 * second frames); the DPT head runs on Bd = batch x windows maps of one window each (or on the
 * whole images). Backward ops accumulate: an activation gradient that receives more than one
 * contribution is zeroed in the sequence first; parameter gradients accumulate over the
 * micro-batches of a step and are zeroed after the update. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "train_graph.h"
#include "ww_internal.h"

#define LN_EPS 1e-6f

/* One transformer block's saved activations (decoder-only members unused in the encoder). */
typedef struct block_acts {
    ww_tensor xin, ln1, qkv, att, lse, mid1;     /* self-attention */
    ww_tensor yln, ln2, cq, ck, cv, catt, clse, mid2; /* cross-attention (decoder) */
    ww_tensor lnm, hpre, hact, xout;              /* MLP */
} block_acts;

/* A stack of blocks over `images` sequences of n tokens of width dim. */
typedef struct stack {
    int images, n, dim, heads;
    int64_t rows;
    ww_tensor table, pos, pos_mem; /* pos [images, n, 2]; pos_mem: the cross-attention memory's */
    block_acts *b;
    int depth;
} stack;

typedef struct level_acts {
    ww_tensor act, res, lay;      /* act_postprocess conv1x1 out, resize out (levels 0, 1, 3), layer_rn out */
    ww_tensor t1, r1, s, t2, r2;  /* refinenet: RCU1 (levels 0-2), sum with the path, RCU2 */
    ww_tensor up, path;
    /* gradients */
    ww_tensor dact, dres, dlay, dt, dtr, ds, dup, dpath;
} level_acts;

struct ww_train_graph {
    ww_model *m;
    ww_model g; /* the gradients: views into grad laid out like m's parameters */
    ww_backend *be;
    ww_arena *arena;
    ww_train_shape shape;
    ww_optim_config opt;
    int frames, binocular, full;
    int gh, gw, N;   /* the whole image's token grid */
    int n;           /* kept tokens per image */
    int Bd, dgh, dgw; /* DPT batch and grid */
    int64_t chunk;   /* elements of the flat arrays one op may take */
    ww_tensor grad, adam_m, adam_v, scalars, partials, loss, scratch;
    ww_tensor images, patches_full, patches, idx, pos;
    ww_tensor target, weight, out, dout, loss_px;
    stack enc, dec;
    ww_tensor enc_out, dec_in, y, dec_out;
    ww_tensor denc_out, dres_e, dres_d, dy, dln, dqkv, dh, dh2, scratch_D;
    ww_tensor hooks[4], dhooks[4];
    level_acts lv[4];
    ww_tensor h1, hup, h3, h2, dh1, dhup, dh3, dh3r, dh2m, dh1r;
    ww_seq *seq_acc, *seq_upd, *last;
    int64_t counts[4]; /* images, windows, target, weight elements */
    uint32_t *host_idx;
    float grad_norm;
};

/* ---- Views ----------------------------------------------------------------------------------- */

static ww_tensor view4(const ww_tensor *t, int64_t off, int64_t n0, int64_t n1, int64_t n2,
                       int64_t n3)
{
    int64_t ne[4] = {n0, n1, n2, n3}, nb[4] = {1, n0, n0 * n1, n0 * n1 * n2};
    return ww_tensor_view(t, off, ne, nb);
}

/* Contiguous [rows, cols] at element off of t. */
static ww_tensor mat(const ww_tensor *t, int64_t off, int64_t rows, int64_t cols)
{
    return view4(t, off, cols, rows, 1, 1);
}

/* Columns [c0, c0 + H * Dh) of a [images * n, rs] matrix as [images, n, H, Dh]. */
static ww_tensor heads(const ww_tensor *t, int64_t c0, int images, int n, int H, int64_t Dh,
                       int64_t rs)
{
    int64_t ne[4] = {Dh, H, n, images}, nb[4] = {1, Dh, rs, rs * n};
    return ww_tensor_view(t, c0, ne, nb);
}

static ww_status alloc(ww_train_graph *g, ww_tensor *t, int64_t n0, int64_t n1, int64_t n2,
                       int64_t n3)
{
    int64_t ne[4] = {n0, n1, n2, n3};
    return ww_arena_alloc(g->arena, WW_F32, 4, ne, t);
}

/* ---- Linear layers --------------------------------------------------------------------------- */

/* y [R, N] (+)= x [R, K] w^T + b. */
static ww_status linear(ww_seq *s, const ww_tensor *x, const lin *l, const ww_tensor *y,
                        unsigned flags)
{
    return ww_gemm(s, x, &l->w, l->b.buf ? &l->b : NULL, y, WW_GEMM_TRANS_B | flags);
}

/* Backward of y = x w^T + b: dx (=, or += with acc; NULL: none) = dy w, dw += dy^T x,
 * db += the column sums of dy. */
static ww_status linear_backward(ww_train_graph *g, ww_seq *s, const ww_tensor *x, const lin *l,
                                 const lin *gl, const ww_tensor *dy, const ww_tensor *dx, int acc)
{
    if (dx)
        WW_TRY(ww_gemm(s, dy, &l->w, NULL, dx, acc ? WW_GEMM_ACCUMULATE : 0));
    WW_TRY(ww_gemm(s, dy, x, NULL, &gl->w, WW_GEMM_TRANS_A | WW_GEMM_ACCUMULATE));
    return gl->b.buf ? ww_sum_rows(s, dy, 0, &gl->b, 1, &g->scratch) : WW_OK;
}

static ww_status ln_backward(ww_train_graph *g, ww_seq *s, const ww_tensor *x, const lin *n,
                             const lin *gn, const ww_tensor *dy, const ww_tensor *dx)
{
    return ww_layernorm_backward(s, x, &n->w, dy, dx, &gn->w, &gn->b, LN_EPS, &g->scratch);
}

/* ---- Transformer blocks ---------------------------------------------------------------------- */

static ww_status alloc_block(ww_train_graph *g, const stack *st, block_acts *a, int cross,
                             const ww_tensor *xin)
{
    int64_t R = st->rows, D = st->dim;
    a->xin = *xin;
    WW_TRY(alloc(g, &a->ln1, D, R, 1, 1));
    WW_TRY(alloc(g, &a->qkv, 3 * D, R, 1, 1));
    WW_TRY(alloc(g, &a->att, D, R, 1, 1));
    WW_TRY(alloc(g, &a->lse, st->n, st->heads, st->images, 1));
    WW_TRY(alloc(g, &a->mid1, D, R, 1, 1));
    if (cross) {
        WW_TRY(alloc(g, &a->yln, D, R, 1, 1));
        WW_TRY(alloc(g, &a->ln2, D, R, 1, 1));
        WW_TRY(alloc(g, &a->cq, D, R, 1, 1));
        WW_TRY(alloc(g, &a->ck, D, R, 1, 1));
        WW_TRY(alloc(g, &a->cv, D, R, 1, 1));
        WW_TRY(alloc(g, &a->catt, D, R, 1, 1));
        WW_TRY(alloc(g, &a->clse, st->n, st->heads, st->images, 1));
        WW_TRY(alloc(g, &a->mid2, D, R, 1, 1));
    }
    WW_TRY(alloc(g, &a->lnm, D, R, 1, 1));
    WW_TRY(alloc(g, &a->hpre, 4 * D, R, 1, 1));
    WW_TRY(alloc(g, &a->hact, 4 * D, R, 1, 1));
    return alloc(g, &a->xout, D, R, 1, 1);
}

/* out = x + proj(attention(rope(q), rope(k), v)), qkv = linear(LN(x)); keeps ln1, qkv (rotated),
 * att, lse. */
static ww_status self_attention(ww_seq *s, const stack *st, block_acts *a, const lin *n1,
                                const lin *qkv, const lin *proj, const ww_tensor *out)
{
    int64_t D = st->dim, Dh = D / st->heads;
    WW_TRY(ww_layernorm(s, &a->xin, &n1->w, &n1->b, LN_EPS, &a->ln1));
    WW_TRY(linear(s, &a->ln1, qkv, &a->qkv, 0));
    ww_tensor q = heads(&a->qkv, 0, st->images, st->n, st->heads, Dh, 3 * D);
    ww_tensor k = heads(&a->qkv, D, st->images, st->n, st->heads, Dh, 3 * D);
    ww_tensor v = heads(&a->qkv, 2 * D, st->images, st->n, st->heads, Dh, 3 * D);
    ww_tensor o = heads(&a->att, 0, st->images, st->n, st->heads, Dh, D);
    WW_TRY(ww_rope2d(s, &q, &st->pos, &st->table, 0));
    WW_TRY(ww_rope2d(s, &k, &st->pos, &st->table, 0));
    WW_TRY(ww_attention(s, &q, &k, &v, 1.0f / sqrtf((float)Dh), &o, &a->lse));
    WW_TRY(ww_copy(s, &a->xin, out));
    return linear(s, &a->att, proj, out, WW_GEMM_ACCUMULATE);
}

/* out = x + fc2(gelu(fc1(LN(x)))), the pre-activation kept for the backward. */
static ww_status mlp(ww_seq *s, block_acts *a, const ww_tensor *x, const lin *n, const lin *fc1,
                     const lin *fc2)
{
    WW_TRY(ww_layernorm(s, x, &n->w, &n->b, LN_EPS, &a->lnm));
    WW_TRY(linear(s, &a->lnm, fc1, &a->hpre, 0));
    WW_TRY(ww_gelu(s, &a->hpre, &a->hact));
    WW_TRY(ww_copy(s, x, &a->xout));
    return linear(s, &a->hact, fc2, &a->xout, WW_GEMM_ACCUMULATE);
}

/* mid2 = mid1 + proj(attention(rope(q(LN2(mid1))), rope(k(LN_y(y))), v(LN_y(y)))). */
static ww_status cross_attention(ww_seq *s, const stack *st, block_acts *a, const dec_block *b,
                                 const ww_tensor *y)
{
    int64_t D = st->dim, Dh = D / st->heads;
    WW_TRY(ww_layernorm(s, y, &b->ny.w, &b->ny.b, LN_EPS, &a->yln));
    WW_TRY(ww_layernorm(s, &a->mid1, &b->n2.w, &b->n2.b, LN_EPS, &a->ln2));
    WW_TRY(linear(s, &a->ln2, &b->q, &a->cq, 0));
    WW_TRY(linear(s, &a->yln, &b->k, &a->ck, 0));
    WW_TRY(linear(s, &a->yln, &b->v, &a->cv, 0));
    ww_tensor q = heads(&a->cq, 0, st->images, st->n, st->heads, Dh, D);
    ww_tensor k = heads(&a->ck, 0, st->images, st->n, st->heads, Dh, D);
    ww_tensor v = heads(&a->cv, 0, st->images, st->n, st->heads, Dh, D);
    ww_tensor o = heads(&a->catt, 0, st->images, st->n, st->heads, Dh, D);
    WW_TRY(ww_rope2d(s, &q, &st->pos, &st->table, 0));
    WW_TRY(ww_rope2d(s, &k, &st->pos_mem, &st->table, 0));
    WW_TRY(ww_attention(s, &q, &k, &v, 1.0f / sqrtf((float)Dh), &o, &a->clse));
    WW_TRY(ww_copy(s, &a->mid1, &a->mid2));
    return linear(s, &a->catt, &b->cproj, &a->mid2, WW_GEMM_ACCUMULATE);
}

/* MLP backward: dres holds d out on entry and d x on exit (the residual passes through). */
static ww_status mlp_backward(ww_train_graph *g, ww_seq *s, const stack *st, const block_acts *a,
                              const ww_tensor *x, const lin *n, const lin *fc1, const lin *fc2,
                              const lin *gn, const lin *gfc1, const lin *gfc2,
                              const ww_tensor *dres)
{
    int64_t R = st->rows, D = st->dim;
    ww_tensor dact = mat(&g->dh, 0, R, 4 * D), dpre = mat(&g->dh2, 0, R, 4 * D);
    ww_tensor dln = mat(&g->dln, 0, R, D);
    WW_TRY(linear_backward(g, s, &a->hact, fc2, gfc2, dres, &dact, 0));
    WW_TRY(ww_zero(s, &dpre));
    WW_TRY(ww_gelu_backward(s, &a->hpre, &dact, &dpre));
    WW_TRY(linear_backward(g, s, &a->lnm, fc1, gfc1, &dpre, &dln, 0));
    return ln_backward(g, s, x, n, gn, &dln, dres);
}

/* Self-attention backward: dres holds d out on entry and d xin on exit. */
static ww_status self_attention_backward(ww_train_graph *g, ww_seq *s, const stack *st,
                                         const block_acts *a, const lin *n1, const lin *qkv,
                                         const lin *proj, const lin *gn1, const lin *gqkv,
                                         const lin *gproj, const ww_tensor *dres)
{
    int64_t R = st->rows, D = st->dim, Dh = D / st->heads;
    int images = st->images, n = st->n, H = st->heads;
    ww_tensor datt = mat(&g->dln, 0, R, D), dqkv = mat(&g->dqkv, 0, R, 3 * D);
    WW_TRY(linear_backward(g, s, &a->att, proj, gproj, dres, &datt, 0));
    ww_tensor q = heads(&a->qkv, 0, images, n, H, Dh, 3 * D);
    ww_tensor k = heads(&a->qkv, D, images, n, H, Dh, 3 * D);
    ww_tensor v = heads(&a->qkv, 2 * D, images, n, H, Dh, 3 * D);
    ww_tensor o = heads(&a->att, 0, images, n, H, Dh, D);
    ww_tensor dq = heads(&g->dqkv, 0, images, n, H, Dh, 3 * D);
    ww_tensor dk = heads(&g->dqkv, D, images, n, H, Dh, 3 * D);
    ww_tensor dv = heads(&g->dqkv, 2 * D, images, n, H, Dh, 3 * D);
    ww_tensor dout = heads(&g->dln, 0, images, n, H, Dh, D);
    ww_tensor sD = view4(&g->scratch_D, 0, n, H, images, 1);
    WW_TRY(ww_zero(s, &dqkv));
    WW_TRY(ww_attention_backward(s, &q, &k, &v, &o, &a->lse, &dout, 1.0f / sqrtf((float)Dh), &dq,
                                 &dk, &dv, &sD));
    /* RoPE is a rotation: its backward rotates the gradient back. */
    WW_TRY(ww_rope2d(s, &dq, &st->pos, &st->table, 1));
    WW_TRY(ww_rope2d(s, &dk, &st->pos, &st->table, 1));
    ww_tensor dln = mat(&g->dln, 0, R, D);
    WW_TRY(linear_backward(g, s, &a->ln1, qkv, gqkv, &dqkv, &dln, 0));
    return ln_backward(g, s, &a->xin, n1, gn1, &dln, dres);
}

/* Cross-attention backward: dres holds d mid2 on entry and d mid1 on exit; dy += d y. */
static ww_status cross_attention_backward(ww_train_graph *g, ww_seq *s, const stack *st,
                                          const block_acts *a, const dec_block *b,
                                          const dec_block *gb, const ww_tensor *y,
                                          const ww_tensor *dres, const ww_tensor *dy)
{
    int64_t R = st->rows, D = st->dim, Dh = D / st->heads;
    int images = st->images, n = st->n, H = st->heads;
    ww_tensor datt = mat(&g->dln, 0, R, D);
    WW_TRY(linear_backward(g, s, &a->catt, &b->cproj, &gb->cproj, dres, &datt, 0));
    ww_tensor dq = mat(&g->dqkv, 0, R, D), dk = mat(&g->dqkv, R * D, R, D);
    ww_tensor dv = mat(&g->dqkv, 2 * R * D, R, D);
    ww_tensor q = heads(&a->cq, 0, images, n, H, Dh, D), k = heads(&a->ck, 0, images, n, H, Dh, D);
    ww_tensor v = heads(&a->cv, 0, images, n, H, Dh, D);
    ww_tensor o = heads(&a->catt, 0, images, n, H, Dh, D);
    ww_tensor dqh = heads(&dq, 0, images, n, H, Dh, D), dkh = heads(&dk, 0, images, n, H, Dh, D);
    ww_tensor dvh = heads(&dv, 0, images, n, H, Dh, D);
    ww_tensor dout = heads(&g->dln, 0, images, n, H, Dh, D);
    ww_tensor sD = view4(&g->scratch_D, 0, n, H, images, 1);
    ww_tensor dqkv = mat(&g->dqkv, 0, 3 * R, D);
    WW_TRY(ww_zero(s, &dqkv));
    WW_TRY(ww_attention_backward(s, &q, &k, &v, &o, &a->clse, &dout, 1.0f / sqrtf((float)Dh), &dqh,
                                 &dkh, &dvh, &sD));
    WW_TRY(ww_rope2d(s, &dqh, &st->pos, &st->table, 1));
    WW_TRY(ww_rope2d(s, &dkh, &st->pos_mem, &st->table, 1));
    /* q from LN2(mid1); k and v from LN_y(y): their input gradients add up in dyln. */
    ww_tensor dln = mat(&g->dln, 0, R, D), dyln = mat(&g->dh, 0, R, D);
    WW_TRY(linear_backward(g, s, &a->ln2, &b->q, &gb->q, &dq, &dln, 0));
    WW_TRY(ln_backward(g, s, &a->mid1, &b->n2, &gb->n2, &dln, dres));
    WW_TRY(linear_backward(g, s, &a->yln, &b->k, &gb->k, &dk, &dyln, 0));
    WW_TRY(linear_backward(g, s, &a->yln, &b->v, &gb->v, &dv, &dyln, 1));
    return ln_backward(g, s, y, &b->ny, &gb->ny, &dyln, dy);
}

/* ---- Stacks ---------------------------------------------------------------------------------- */

/* The DPT hook (0..3) that block `index` of the whole network feeds, or -1. */
static int hook_of(const ww_model_config *c, int index)
{
    for (int i = 0; i < 4; i++)
        if (c->hooks[i] == index)
            return i;
    return -1;
}

/* Hooked token rows of a block output: the first frame's images only (the DPT reads frame 1). */
static ww_tensor hook_rows(const ww_train_graph *g, const ww_tensor *x, int dim)
{
    return mat(x, 0, (int64_t)g->shape.batch * g->n, dim);
}

static ww_status encoder_forward(ww_train_graph *g, ww_seq *s)
{
    const ww_model *m = g->m;
    const ww_model_config *c = &m->cfg;
    stack *st = &g->enc;
    int64_t P = c->patch;
    ww_tensor img = view4(&g->images, 0, g->shape.width, g->shape.height, 3, st->images);
    WW_TRY(ww_patchify(s, &img, (int)P, &g->patches_full));
    if (!g->full)
        WW_TRY(ww_gather_rows(s, &g->patches_full, &g->idx, &g->patches));
    ww_tensor patches = mat(&g->patches, 0, st->rows, 3 * P * P);
    ww_tensor w = mat(&m->patch.w, 0, c->enc_dim, 3 * P * P);
    lin pe = {w, m->patch.b};
    WW_TRY(linear(s, &patches, &pe, &st->b[0].xin, 0));
    for (int i = 0; i < c->enc_depth; i++) {
        const enc_block *b = &m->enc[i];
        block_acts *a = &st->b[i];
        WW_TRY(self_attention(s, st, a, &b->n1, &b->qkv, &b->proj, &a->mid1));
        WW_TRY(mlp(s, a, &a->mid1, &b->n2, &b->fc1, &b->fc2));
    }
    return ww_layernorm(s, &st->b[c->enc_depth - 1].xout, &m->enc_norm.w, &m->enc_norm.b, LN_EPS,
                        &g->enc_out);
}

static ww_status decoder_forward(ww_train_graph *g, ww_seq *s)
{
    const ww_model *m = g->m;
    const ww_model_config *c = &m->cfg;
    stack *st = &g->dec;
    int64_t R = st->rows, D = c->enc_dim;
    ww_tensor e1 = mat(&g->enc_out, 0, R, D), e2 = mat(&g->enc_out, R * D, R, D);
    WW_TRY(linear(s, &e1, &m->dec_embed, &st->b[0].xin, 0));
    WW_TRY(linear(s, &e2, &m->dec_embed, &g->y, 0));
    for (int i = 0; i < c->dec_depth; i++) {
        const dec_block *b = &m->dec[i];
        block_acts *a = &st->b[i];
        WW_TRY(self_attention(s, st, a, &b->n1, &b->qkv, &b->proj, &a->mid1));
        WW_TRY(cross_attention(s, st, a, b, &g->y));
        WW_TRY(mlp(s, a, &a->mid2, &b->n3, &b->fc1, &b->fc2));
    }
    return ww_layernorm(s, &st->b[c->dec_depth - 1].xout, &m->dec_norm.w, &m->dec_norm.b, LN_EPS,
                        &g->dec_out);
}

/* Decoder backward from the DPT's hook gradients: ends with denc_out holding d enc_out. */
static ww_status decoder_backward(ww_train_graph *g, ww_seq *s)
{
    const ww_model *m = g->m;
    const ww_model_config *c = &m->cfg;
    const stack *st = &g->dec;
    int64_t R = st->rows, D = c->enc_dim;
    ww_tensor dres = g->dres_d;
    WW_TRY(ww_zero(s, &dres));
    WW_TRY(ww_zero(s, &g->dy));
    WW_TRY(ln_backward(g, s, &st->b[c->dec_depth - 1].xout, &m->dec_norm, &g->g.dec_norm,
                       &g->dhooks[3], &dres));
    for (int i = c->dec_depth - 1; i >= 0; i--) {
        const dec_block *b = &m->dec[i], *gb = &g->g.dec[i];
        const block_acts *a = &st->b[i];
        int hk = hook_of(c, c->enc_depth + i);
        if (hk >= 0 && hk < 3)
            WW_TRY(ww_add(s, &dres, &g->dhooks[hk], &dres));
        WW_TRY(mlp_backward(g, s, st, a, &a->mid2, &b->n3, &b->fc1, &b->fc2, &gb->n3, &gb->fc1,
                            &gb->fc2, &dres));
        WW_TRY(cross_attention_backward(g, s, st, a, b, gb, &g->y, &dres, &g->dy));
        WW_TRY(self_attention_backward(g, s, st, a, &b->n1, &b->qkv, &b->proj, &gb->n1, &gb->qkv,
                                       &gb->proj, &dres));
    }
    ww_tensor e1 = mat(&g->enc_out, 0, R, D), e2 = mat(&g->enc_out, R * D, R, D);
    ww_tensor de1 = mat(&g->denc_out, 0, R, D), de2 = mat(&g->denc_out, R * D, R, D);
    WW_TRY(linear_backward(g, s, &e1, &m->dec_embed, &g->g.dec_embed, &dres, &de1, 0));
    return linear_backward(g, s, &e2, &m->dec_embed, &g->g.dec_embed, &g->dy, &de2, 0);
}

static ww_status encoder_backward(ww_train_graph *g, ww_seq *s)
{
    const ww_model *m = g->m;
    const ww_model_config *c = &m->cfg;
    const stack *st = &g->enc;
    int64_t P = c->patch;
    ww_tensor dres = g->dres_e;
    /* Hooks on encoder blocks read frame 1's rows; the last block's hook reads enc_out. */
    int last = hook_of(c, c->enc_depth - 1);
    if (g->binocular) {
        if (last >= 0) {
            ww_tensor d1 = hook_rows(g, &g->denc_out, c->enc_dim);
            WW_TRY(ww_add(s, &d1, &g->dhooks[last], &d1));
        }
    } else {
        WW_TRY(ww_copy(s, &g->dhooks[last], &g->denc_out));
    }
    WW_TRY(ww_zero(s, &dres));
    WW_TRY(ln_backward(g, s, &st->b[c->enc_depth - 1].xout, &m->enc_norm, &g->g.enc_norm,
                       &g->denc_out, &dres));
    for (int i = c->enc_depth - 1; i >= 0; i--) {
        const enc_block *b = &m->enc[i], *gb = &g->g.enc[i];
        const block_acts *a = &st->b[i];
        int hk = hook_of(c, i);
        if (hk >= 0 && i < c->enc_depth - 1) {
            ww_tensor d1 = hook_rows(g, &dres, c->enc_dim);
            WW_TRY(ww_add(s, &d1, &g->dhooks[hk], &d1));
        }
        WW_TRY(mlp_backward(g, s, st, a, &a->mid1, &b->n2, &b->fc1, &b->fc2, &gb->n2, &gb->fc1,
                            &gb->fc2, &dres));
        WW_TRY(self_attention_backward(g, s, st, a, &b->n1, &b->qkv, &b->proj, &gb->n1, &gb->qkv,
                                       &gb->proj, &dres));
    }
    ww_tensor patches = mat(&g->patches, 0, st->rows, 3 * P * P);
    lin pe = {mat(&m->patch.w, 0, c->enc_dim, 3 * P * P), m->patch.b};
    lin gpe = {mat(&g->g.patch.w, 0, c->enc_dim, 3 * P * P), g->g.patch.b};
    return linear_backward(g, s, &patches, &pe, &gpe, &dres, NULL, 0);
}

/* ---- DPT head -------------------------------------------------------------------------------- */

/* Side lengths of DPT level i over the DPT grid (0: x4, 1: x2, 2: x1, 3: /2). */
static void level_size(const ww_train_graph *g, int i, int64_t *h, int64_t *w)
{
    static const int num[4] = {4, 2, 1, 1}, den[4] = {1, 1, 1, 2};
    *h = (int64_t)g->dgh * num[i] / den[i];
    *w = (int64_t)g->dgw * num[i] / den[i];
}

/* Map [Bd, C, h, w] at the start of t. */
static ww_tensor map(const ww_train_graph *g, const ww_tensor *t, int64_t C, int64_t h, int64_t w)
{
    return view4(t, 0, w, h, C, g->Bd);
}

static ww_status alloc_map(ww_train_graph *g, ww_tensor *t, int64_t C, int64_t h, int64_t w)
{
    return alloc(g, t, w, h, C, g->Bd);
}

static ww_status plan_dpt(ww_train_graph *g)
{
    const ww_model_config *c = &g->m->cfg;
    int64_t F = c->feature_dim, T = (int64_t)g->dgh * g->dgw;
    for (int i = 0; i < 4; i++) {
        level_acts *L = &g->lv[i];
        int64_t h, w, l = c->layer_dims[i];
        level_size(g, i, &h, &w);
        WW_TRY(alloc(g, &L->act, T, l, g->Bd, 1));
        WW_TRY(alloc(g, &L->dact, T, l, g->Bd, 1));
        if (i != 2) {
            WW_TRY(alloc_map(g, &L->res, l, h, w));
            WW_TRY(alloc_map(g, &L->dres, l, h, w));
        }
        ww_tensor *maps[] = {&L->lay, &L->t2, &L->r2, &L->dlay, &L->dt, &L->dtr, &L->ds};
        for (size_t k = 0; k < sizeof maps / sizeof *maps; k++)
            WW_TRY(alloc_map(g, maps[k], F, h, w));
        if (i < 3) {
            WW_TRY(alloc_map(g, &L->t1, F, h, w));
            WW_TRY(alloc_map(g, &L->r1, F, h, w));
            WW_TRY(alloc_map(g, &L->s, F, h, w));
        } else {
            L->s = L->lay;
        }
        WW_TRY(alloc_map(g, &L->up, F, 2 * h, 2 * w));
        WW_TRY(alloc_map(g, &L->dup, F, 2 * h, 2 * w));
        WW_TRY(alloc_map(g, &L->path, F, 2 * h, 2 * w));
        if (i == 0)
            WW_TRY(alloc_map(g, &L->dpath, F, 2 * h, 2 * w));
    }
    /* refinenet i's input gradient from the sum s = r1 + path_{i+1} is ds_i itself */
    for (int i = 1; i < 4; i++)
        g->lv[i].dpath = g->lv[i - 1].ds;
    int64_t Hd = 16 * (int64_t)g->dgh, Wd = 16 * (int64_t)g->dgw, C = c->out_channels;
    if (c->semseg) {
        WW_TRY(alloc_map(g, &g->h1, F, Hd / 2, Wd / 2));
        WW_TRY(alloc_map(g, &g->dh1, F, Hd / 2, Wd / 2));
        WW_TRY(alloc_map(g, &g->dh1r, F, Hd / 2, Wd / 2));
        WW_TRY(alloc_map(g, &g->h2, C, Hd / 2, Wd / 2));
        WW_TRY(alloc_map(g, &g->dh2m, C, Hd / 2, Wd / 2));
    } else {
        WW_TRY(alloc_map(g, &g->h1, F / 2, Hd / 2, Wd / 2));
        WW_TRY(alloc_map(g, &g->dh1, F / 2, Hd / 2, Wd / 2));
        WW_TRY(alloc_map(g, &g->hup, F / 2, Hd, Wd));
        WW_TRY(alloc_map(g, &g->dhup, F / 2, Hd, Wd));
        WW_TRY(alloc_map(g, &g->h3, c->head_hidden, Hd, Wd));
        WW_TRY(alloc_map(g, &g->dh3, c->head_hidden, Hd, Wd));
        WW_TRY(alloc_map(g, &g->dh3r, c->head_hidden, Hd, Wd));
    }
    WW_TRY(alloc_map(g, &g->out, C, Hd, Wd));
    WW_TRY(alloc_map(g, &g->dout, C, Hd, Wd));
    WW_TRY(alloc_map(g, &g->loss_px, 1, Hd, Wd));
    WW_TRY(alloc_map(g, &g->target, c->task == WW_TASK_FLOW ? 2 : 1, Hd, Wd));
    return alloc_map(g, &g->weight, 1, Hd, Wd);
}

/* The hook's tokens as [Bd, T, C]: window-major rows make each window's grid one batch item. */
static ww_tensor hook_tokens(const ww_train_graph *g, const ww_tensor *t, int64_t C)
{
    return view4(t, 0, C, (int64_t)g->dgh * g->dgw, g->Bd, 1);
}

static int hook_dim(const ww_model_config *c, int i)
{
    return c->hooks[i] < c->enc_depth ? c->enc_dim : c->dec_dim;
}

/* x += conv2(relu(conv1(relu(x)))) out of place: r = x + conv2(relu(t)), t = conv1(relu(x)). */
static ww_status rcu(ww_seq *s, const lin *c1, const lin *c2, const ww_tensor *x,
                     const ww_tensor *t, const ww_tensor *r)
{
    WW_TRY(ww_conv2d(s, x, &c1->w, &c1->b, 1, 1, t, WW_CONV_RELU_IN));
    WW_TRY(ww_copy(s, x, r));
    return ww_conv2d(s, t, &c2->w, &c2->b, 1, 1, r, WW_CONV_RELU_IN | WW_CONV_ACCUMULATE);
}

/* Backward of rcu: dx += dr + the gradient through the two convolutions (dx may be dr itself,
 * once dr has been used); dt and dtr are scratch maps like x. */
static ww_status rcu_backward(ww_seq *s, const lin *c1, const lin *c2, const lin *g1,
                              const lin *g2, const ww_tensor *x, const ww_tensor *t,
                              const ww_tensor *dr, const ww_tensor *dx, const ww_tensor *dt,
                              const ww_tensor *dtr)
{
    WW_TRY(ww_conv2d_backward_weight(s, t, dr, 1, 1, &g2->w, &g2->b, WW_CONV_RELU_IN));
    WW_TRY(ww_zero(s, dtr));
    WW_TRY(ww_conv2d_backward_input(s, dr, &c2->w, 1, 1, dtr));
    WW_TRY(ww_zero(s, dt));
    WW_TRY(ww_relu_backward(s, t, dtr, dt));
    WW_TRY(ww_conv2d_backward_weight(s, x, dt, 1, 1, &g1->w, &g1->b, WW_CONV_RELU_IN));
    WW_TRY(ww_zero(s, dtr));
    WW_TRY(ww_conv2d_backward_input(s, dt, &c1->w, 1, 1, dtr));
    if (dx != dr)
        WW_TRY(ww_add(s, dx, dr, dx));
    return ww_relu_backward(s, x, dtr, dx);
}

static ww_status dpt_forward(ww_train_graph *g, ww_seq *s)
{
    const ww_model_config *c = &g->m->cfg;
    const dpt *d = &g->m->dpt;
    int64_t F = c->feature_dim;
    for (int i = 0; i < 4; i++) {
        level_acts *L = &g->lv[i];
        int64_t l = c->layer_dims[i], h, w, C = hook_dim(c, i);
        level_size(g, i, &h, &w);
        ww_tensor tokens = hook_tokens(g, &g->hooks[i], C), wpost = mat(&d->post[i].w, 0, l, C);
        ww_tensor act = view4(&L->act, 0, (int64_t)g->dgh * g->dgw, l, g->Bd, 1);
        WW_TRY(ww_gemm(s, &wpost, &tokens, &d->post[i].b, &act, WW_GEMM_TRANS_B | WW_GEMM_BIAS_ROW));
        ww_tensor a = map(g, &L->act, l, g->dgh, g->dgw);
        ww_tensor lay = map(g, &L->lay, F, h, w);
        if (i == 2) {
            WW_TRY(ww_conv2d(s, &a, &d->rn[i].w, NULL, 1, 1, &lay, 0));
            continue;
        }
        ww_tensor res = map(g, &L->res, l, h, w);
        if (i < 2)
            WW_TRY(ww_conv_transpose2d(s, &a, &d->resize[i].w, &d->resize[i].b, &res));
        else
            WW_TRY(ww_conv2d(s, &a, &d->resize[i].w, &d->resize[i].b, 2, 1, &res, 0));
        WW_TRY(ww_conv2d(s, &res, &d->rn[i].w, NULL, 1, 1, &lay, 0));
    }
    for (int i = 3; i >= 0; i--) {
        level_acts *L = &g->lv[i];
        const refine *rf = &d->ref[i];
        int64_t h, w;
        level_size(g, i, &h, &w);
        ww_tensor lay = map(g, &L->lay, F, h, w), sm = map(g, &L->s, F, h, w);
        if (i < 3) {
            ww_tensor t1 = map(g, &L->t1, F, h, w), r1 = map(g, &L->r1, F, h, w);
            ww_tensor prev = map(g, &g->lv[i + 1].path, F, h, w);
            WW_TRY(rcu(s, &rf->rcu1_c1, &rf->rcu1_c2, &lay, &t1, &r1));
            WW_TRY(ww_add(s, &r1, &prev, &sm));
        }
        ww_tensor t2 = map(g, &L->t2, F, h, w), r2 = map(g, &L->r2, F, h, w);
        WW_TRY(rcu(s, &rf->rcu2_c1, &rf->rcu2_c2, &sm, &t2, &r2));
        ww_tensor up = map(g, &L->up, F, 2 * h, 2 * w), path = map(g, &L->path, F, 2 * h, 2 * w);
        WW_TRY(ww_resize_bilinear(s, &r2, &up));
        WW_TRY(ww_conv2d(s, &up, &rf->out.w, &rf->out.b, 1, 0, &path, 0));
    }
    ww_tensor p1 = map(g, &g->lv[0].path, F, 8 * g->dgh, 8 * g->dgw);
    if (c->semseg) {
        WW_TRY(ww_conv2d(s, &p1, &d->head[0].w, NULL, 1, 1, &g->h1, WW_CONV_RELU_OUT));
        WW_TRY(ww_conv2d(s, &g->h1, &d->head[1].w, &d->head[1].b, 1, 0, &g->h2, 0));
        return ww_resize_bilinear(s, &g->h2, &g->out);
    }
    WW_TRY(ww_conv2d(s, &p1, &d->head[0].w, &d->head[0].b, 1, 1, &g->h1, 0));
    WW_TRY(ww_resize_bilinear(s, &g->h1, &g->hup));
    WW_TRY(ww_conv2d(s, &g->hup, &d->head[1].w, &d->head[1].b, 1, 1, &g->h3, WW_CONV_RELU_OUT));
    return ww_conv2d(s, &g->h3, &d->head[2].w, &d->head[2].b, 1, 0, &g->out, 0);
}

/* From dout to the hooks' token gradients dhooks[i] (written). */
static ww_status dpt_backward(ww_train_graph *g, ww_seq *s)
{
    const ww_model_config *c = &g->m->cfg;
    const dpt *d = &g->m->dpt, *gd = &g->g.dpt;
    int64_t F = c->feature_dim;
    ww_tensor dp1 = map(g, &g->lv[0].dpath, F, 8 * g->dgh, 8 * g->dgw);
    ww_tensor p1 = map(g, &g->lv[0].path, F, 8 * g->dgh, 8 * g->dgw);
    WW_TRY(ww_zero(s, &dp1));
    if (c->semseg) {
        WW_TRY(ww_zero(s, &g->dh2m));
        WW_TRY(ww_resize_bilinear_backward(s, &g->dout, &g->dh2m));
        WW_TRY(ww_conv2d_backward_weight(s, &g->h1, &g->dh2m, 1, 0, &gd->head[1].w, &gd->head[1].b, 0));
        WW_TRY(ww_zero(s, &g->dh1));
        WW_TRY(ww_conv2d_backward_input(s, &g->dh2m, &d->head[1].w, 1, 0, &g->dh1));
        WW_TRY(ww_zero(s, &g->dh1r));
        WW_TRY(ww_relu_backward(s, &g->h1, &g->dh1, &g->dh1r));
        WW_TRY(ww_conv2d_backward_weight(s, &p1, &g->dh1r, 1, 1, &gd->head[0].w, NULL, 0));
        WW_TRY(ww_conv2d_backward_input(s, &g->dh1r, &d->head[0].w, 1, 1, &dp1));
    } else {
        WW_TRY(ww_conv2d_backward_weight(s, &g->h3, &g->dout, 1, 0, &gd->head[2].w, &gd->head[2].b, 0));
        WW_TRY(ww_zero(s, &g->dh3));
        WW_TRY(ww_conv2d_backward_input(s, &g->dout, &d->head[2].w, 1, 0, &g->dh3));
        WW_TRY(ww_zero(s, &g->dh3r));
        WW_TRY(ww_relu_backward(s, &g->h3, &g->dh3, &g->dh3r));
        WW_TRY(ww_conv2d_backward_weight(s, &g->hup, &g->dh3r, 1, 1, &gd->head[1].w, &gd->head[1].b, 0));
        WW_TRY(ww_zero(s, &g->dhup));
        WW_TRY(ww_conv2d_backward_input(s, &g->dh3r, &d->head[1].w, 1, 1, &g->dhup));
        WW_TRY(ww_zero(s, &g->dh1));
        WW_TRY(ww_resize_bilinear_backward(s, &g->dhup, &g->dh1));
        WW_TRY(ww_conv2d_backward_weight(s, &p1, &g->dh1, 1, 1, &gd->head[0].w, &gd->head[0].b, 0));
        WW_TRY(ww_conv2d_backward_input(s, &g->dh1, &d->head[0].w, 1, 1, &dp1));
    }
    for (int i = 0; i < 4; i++) {
        level_acts *L = &g->lv[i];
        const refine *rf = &d->ref[i], *gr = &gd->ref[i];
        int64_t h, w;
        level_size(g, i, &h, &w);
        ww_tensor up = map(g, &L->up, F, 2 * h, 2 * w), dup = map(g, &L->dup, F, 2 * h, 2 * w);
        ww_tensor dpath = map(g, &L->dpath, F, 2 * h, 2 * w);
        WW_TRY(ww_conv2d_backward_weight(s, &up, &dpath, 1, 0, &gr->out.w, &gr->out.b, 0));
        WW_TRY(ww_zero(s, &dup));
        WW_TRY(ww_conv2d_backward_input(s, &dpath, &rf->out.w, 1, 0, &dup));
        ww_tensor ds = map(g, &L->ds, F, h, w), dt = map(g, &L->dt, F, h, w);
        ww_tensor dtr = map(g, &L->dtr, F, h, w), sm = map(g, &L->s, F, h, w);
        ww_tensor t2 = map(g, &L->t2, F, h, w), dlay = map(g, &L->dlay, F, h, w);
        /* ds first collects d r2 (the resize's), then d s through RCU2 */
        WW_TRY(ww_zero(s, &ds));
        WW_TRY(ww_resize_bilinear_backward(s, &dup, &ds));
        WW_TRY(rcu_backward(s, &rf->rcu2_c1, &rf->rcu2_c2, &gr->rcu2_c1, &gr->rcu2_c2, &sm, &t2,
                            &ds, &ds, &dt, &dtr));
        if (i < 3) {
            /* s = r1 + path_{i+1}: ds is also d path_{i+1} (lv[i + 1].dpath aliases it) */
            ww_tensor lay = map(g, &L->lay, F, h, w), t1 = map(g, &L->t1, F, h, w);
            WW_TRY(ww_zero(s, &dlay));
            WW_TRY(rcu_backward(s, &rf->rcu1_c1, &rf->rcu1_c2, &gr->rcu1_c1, &gr->rcu1_c2, &lay,
                                &t1, &ds, &dlay, &dt, &dtr));
        } else {
            WW_TRY(ww_copy(s, &ds, &dlay));
        }
    }
    /* The entry convolutions, then the token gradients. ds of level 3 (= dlay's source) is
     * no longer needed, so the levels can be done in any order. */
    for (int i = 0; i < 4; i++) {
        level_acts *L = &g->lv[i];
        int64_t l = c->layer_dims[i], h, w, C = hook_dim(c, i), T = (int64_t)g->dgh * g->dgw;
        level_size(g, i, &h, &w);
        ww_tensor a = map(g, &L->act, l, g->dgh, g->dgw), da = map(g, &L->dact, l, g->dgh, g->dgw);
        ww_tensor dlay = map(g, &L->dlay, F, h, w);
        WW_TRY(ww_zero(s, &da));
        if (i == 2) {
            WW_TRY(ww_conv2d_backward_weight(s, &a, &dlay, 1, 1, &gd->rn[i].w, NULL, 0));
            WW_TRY(ww_conv2d_backward_input(s, &dlay, &d->rn[i].w, 1, 1, &da));
        } else {
            ww_tensor res = map(g, &L->res, l, h, w), dres = map(g, &L->dres, l, h, w);
            WW_TRY(ww_conv2d_backward_weight(s, &res, &dlay, 1, 1, &gd->rn[i].w, NULL, 0));
            WW_TRY(ww_zero(s, &dres));
            WW_TRY(ww_conv2d_backward_input(s, &dlay, &d->rn[i].w, 1, 1, &dres));
            if (i < 2) {
                WW_TRY(ww_conv_transpose2d_backward(s, &a, &d->resize[i].w, &dres, &da,
                                                    &gd->resize[i].w, &gd->resize[i].b));
            } else {
                WW_TRY(ww_conv2d_backward_weight(s, &a, &dres, 2, 1, &gd->resize[i].w,
                                                 &gd->resize[i].b, 0));
                WW_TRY(ww_conv2d_backward_input(s, &dres, &d->resize[i].w, 2, 1, &da));
            }
        }
        /* act [Bd, l, T] = wpost [l, C] x tokens [Bd, T, C]^T + b: per map, since the weight
         * gradient sums over the maps and a GEMM's batch cannot be reduced into one output. */
        ww_tensor dtok = hook_tokens(g, &g->dhooks[i], C);
        ww_tensor wpost = mat(&d->post[i].w, 0, l, C), gw = mat(&gd->post[i].w, 0, l, C);
        ww_tensor dact = view4(&L->dact, 0, T, l, g->Bd, 1);
        WW_TRY(ww_gemm(s, &dact, &wpost, NULL, &dtok, WW_GEMM_TRANS_A));
        for (int b = 0; b < g->Bd; b++) {
            ww_tensor db = mat(&L->dact, (int64_t)b * l * T, l, T);
            ww_tensor tb = mat(&g->hooks[i], (int64_t)b * T * C, T, C);
            WW_TRY(ww_gemm(s, &db, &tb, NULL, &gw, WW_GEMM_ACCUMULATE));
        }
        WW_TRY(ww_sum_rows(s, &dact, 1, &gd->post[i].b, 1, &g->scratch));
    }
    return WW_OK;
}

/* ---- Planning -------------------------------------------------------------------------------- */

static ww_status plan_stack(ww_train_graph *g, stack *st, int depth, int images, int dim,
                            int heads, int cross, const ww_tensor *x0)
{
    st->images = images;
    st->n = g->n;
    st->dim = dim;
    st->heads = heads;
    st->rows = (int64_t)images * g->n;
    st->depth = depth;
    st->b = calloc((size_t)depth, sizeof *st->b);
    if (!st->b)
        return ww_set_error(g->be, WW_ERR_OUT_OF_MEMORY, "train: out of host memory");
    int max_pos = g->gh > g->gw ? g->gh : g->gw;
    WW_TRY(ww_rope_table(g->arena, dim / heads, max_pos, WW_ROPE_BASE, &st->table));
    for (int i = 0; i < depth; i++)
        WW_TRY(alloc_block(g, st, &st->b[i], cross, i ? &st->b[i - 1].xout : x0));
    return WW_OK;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static ww_status plan(ww_train_graph *g)
{
    const ww_model_config *c = &g->m->cfg;
    const ww_train_shape *sh = &g->shape;
    int64_t E = (int64_t)sh->batch * g->frames, n = g->n, P = c->patch;
    int64_t D = c->enc_dim, Dd = c->dec_dim, Dmax = max64(D, Dd);
    int64_t R = E * n;

    WW_TRY(ww_arena_alloc_flat(g->arena, WW_F32, g->m->nparams, &g->grad));
    WW_TRY(ww_arena_alloc_flat(g->arena, WW_F32, g->m->nparams, &g->adam_m));
    WW_TRY(ww_arena_alloc_flat(g->arena, WW_F32, g->m->nparams, &g->adam_v));
    WW_TRY(ww_model_shadow(g->m, &g->grad, &g->g));
    WW_TRY(alloc(g, &g->scalars, WW_ADAMW_NSCALARS, 1, 1, 1));
    int64_t nchunks = (g->m->nparams + g->chunk - 1) / g->chunk;
    WW_TRY(alloc(g, &g->partials, nchunks, 1, 1, 1));
    WW_TRY(alloc(g, &g->loss, 1, 1, 1, 1));

    WW_TRY(alloc(g, &g->images, sh->width, sh->height, 3, E));
    WW_TRY(alloc(g, &g->patches_full, 3 * P * P, g->N, E, 1));
    if (g->full) {
        g->patches = g->patches_full;
    } else {
        WW_TRY(alloc(g, &g->patches, 3 * P * P, n, E, 1));
        int64_t ne[2] = {n, E};
        WW_TRY(ww_arena_alloc(g->arena, WW_U32, 2, ne, &g->idx));
    }
    int64_t pne[3] = {2, n, E};
    WW_TRY(ww_arena_alloc(g->arena, WW_U32, 3, pne, &g->pos));

    ww_tensor x0;
    WW_TRY(alloc(g, &x0, D, R, 1, 1));
    WW_TRY(plan_stack(g, &g->enc, c->enc_depth, (int)E, (int)D, c->enc_heads, 0, &x0));
    g->enc.pos = g->pos;
    WW_TRY(alloc(g, &g->enc_out, D, R, 1, 1));
    WW_TRY(alloc(g, &g->denc_out, D, R, 1, 1));
    WW_TRY(alloc(g, &g->dres_e, D, R, 1, 1));
    if (g->binocular) {
        int64_t Rd = (int64_t)sh->batch * n;
        ww_tensor x0d;
        WW_TRY(alloc(g, &x0d, Dd, Rd, 1, 1));
        WW_TRY(plan_stack(g, &g->dec, c->dec_depth, sh->batch, (int)Dd, c->dec_heads, 1, &x0d));
        int64_t half = (int64_t)sh->batch * n * 2;
        int64_t ne[4] = {2, n, sh->batch, 1}, nb[4] = {1, 2, 2 * n, 2 * n * sh->batch};
        g->dec.pos = ww_tensor_view(&g->pos, 0, ne, nb);
        g->dec.pos_mem = ww_tensor_view(&g->pos, half, ne, nb);
        WW_TRY(alloc(g, &g->y, Dd, Rd, 1, 1));
        WW_TRY(alloc(g, &g->dy, Dd, Rd, 1, 1));
        WW_TRY(alloc(g, &g->dec_out, Dd, Rd, 1, 1));
        WW_TRY(alloc(g, &g->dres_d, Dd, Rd, 1, 1));
    }
    /* Scratch shared by both stacks: sized for the larger one. */
    WW_TRY(alloc(g, &g->dln, Dmax, R, 1, 1));
    WW_TRY(alloc(g, &g->dqkv, 3 * Dmax, R, 1, 1));
    WW_TRY(alloc(g, &g->dh, 4 * Dmax, R, 1, 1));
    WW_TRY(alloc(g, &g->dh2, 4 * Dmax, R, 1, 1));
    int Hmax = c->enc_heads > c->dec_heads ? c->enc_heads : c->dec_heads;
    WW_TRY(alloc(g, &g->scratch_D, n, Hmax, E, 1));

    /* Hooks: block outputs (frame 1's rows), the normed output for the last block of a stack. */
    for (int i = 0; i < 4; i++) {
        int b = c->hooks[i];
        int64_t rows = (int64_t)sh->batch * n;
        if (b < c->enc_depth)
            g->hooks[i] = b == c->enc_depth - 1 ? mat(&g->enc_out, 0, rows, D)
                                                : mat(&g->enc.b[b].xout, 0, rows, D);
        else
            g->hooks[i] = b == c->enc_depth + c->dec_depth - 1
                              ? g->dec_out
                              : g->dec.b[b - c->enc_depth].xout;
        WW_TRY(alloc(g, &g->dhooks[i], hook_dim(c, i), rows, 1, 1));
    }
    WW_TRY(plan_dpt(g));

    /* One reduction scratch for every op: layernorm backward over the most rows, column sums
     * of at most 4 Dmax (or a DPT width) columns, the sums of squares of one chunk. */
    int64_t widest = max64(4 * Dmax, max64(c->feature_dim, c->out_channels));
    for (int i = 0; i < 4; i++)
        widest = max64(widest, c->layer_dims[i]);
    int64_t need = max64(ww_layernorm_backward_scratch(R, Dmax), 256 * widest);
    need = max64(need, ww_sum_squares_scratch(g->chunk));
    WW_TRY(alloc(g, &g->scratch, need, 1, 1, 1));
    return WW_OK;
}

/* The flat array t's elements [lo, hi) as views of at most g->chunk elements: fn on each. */
typedef ww_status (*chunk_fn)(ww_train_graph *g, ww_seq *s, int64_t lo, int64_t n, void *ctx);
static ww_status for_chunks(ww_train_graph *g, ww_seq *s, int64_t lo, int64_t hi, chunk_fn fn,
                            void *ctx)
{
    for (int64_t at = lo; at < hi; at += g->chunk)
        WW_TRY(fn(g, s, at, hi - at < g->chunk ? hi - at : g->chunk, ctx));
    return WW_OK;
}

static ww_status zero_chunk(ww_train_graph *g, ww_seq *s, int64_t lo, int64_t n, void *ctx)
{
    (void)ctx;
    ww_tensor v = mat(&g->grad, lo, 1, n);
    return ww_zero(s, &v);
}

static ww_status sumsq_chunk(ww_train_graph *g, ww_seq *s, int64_t lo, int64_t n, void *ctx)
{
    (void)ctx;
    ww_tensor v = mat(&g->grad, lo, 1, n), out = mat(&g->partials, lo / g->chunk, 1, 1);
    return ww_sum_squares(s, &v, &out, &g->scratch);
}

static ww_status adamw_chunk(ww_train_graph *g, ww_seq *s, int64_t lo, int64_t n, void *ctx)
{
    const ww_adamw_hparams *h = ctx;
    ww_tensor p = mat(&g->m->flat, lo, 1, n), gr = mat(&g->grad, lo, 1, n);
    ww_tensor mm = mat(&g->adam_m, lo, 1, n), vv = mat(&g->adam_v, lo, 1, n);
    return ww_adamw(s, &p, &gr, &mm, &vv, h, &g->scalars);
}

/* Global norm, clipping and AdamW (decayed range, then the rest), then zero the gradients. */
static ww_status record_update(ww_train_graph *g, ww_seq *s)
{
    int64_t P = g->m->nparams, Dc = g->m->ndecay;
    WW_TRY(for_chunks(g, s, 0, P, sumsq_chunk, NULL));
    ww_tensor parts = mat(&g->partials, 0, 1, g->partials.ne[0]);
    ww_tensor sumsq = mat(&g->scalars, WW_ADAMW_SUMSQ, 1, 1);
    WW_TRY(ww_sum_rows(s, &parts, 1, &sumsq, 0, &g->scratch));
    ww_adamw_hparams h = {.beta1 = g->opt.beta1, .beta2 = g->opt.beta2, .eps = g->opt.eps,
                          .weight_decay = g->opt.weight_decay};
    WW_TRY(for_chunks(g, s, 0, Dc, adamw_chunk, &h));
    h.weight_decay = 0;
    WW_TRY(for_chunks(g, s, Dc, P, adamw_chunk, &h));
    return for_chunks(g, s, 0, P, zero_chunk, NULL);
}

static ww_status record_step(ww_train_graph *g, ww_seq *s, int update)
{
    const ww_model_config *c = &g->m->cfg;
    WW_TRY(encoder_forward(g, s));
    if (g->binocular)
        WW_TRY(decoder_forward(g, s));
    WW_TRY(dpt_forward(g, s));
    ww_loss_kind kind = c->task == WW_TASK_FLOW   ? WW_LOSS_LAPLACIAN
                        : c->task == WW_TASK_SEG ? WW_LOSS_CROSS_ENTROPY
                                                 : WW_LOSS_L1;
    WW_TRY(ww_loss(s, kind, &g->out, &g->target, &g->weight, &g->dout, &g->loss_px));
    ww_tensor px = view4(&g->loss_px, 0, ww_tensor_nelements(&g->loss_px), 1, 1, 1);
    WW_TRY(ww_sum_rows(s, &px, 1, &g->loss, 0, &g->scratch));
    WW_TRY(dpt_backward(g, s));
    if (g->binocular)
        WW_TRY(decoder_backward(g, s));
    WW_TRY(encoder_backward(g, s));
    return update ? record_update(g, s) : WW_OK;
}

/* ---- Public ---------------------------------------------------------------------------------- */

static ww_status check_shape(ww_backend *be, const ww_model_config *c, const ww_train_shape *sh)
{
    if (sh->batch < 1)
        return ww_set_error(be, WW_ERR_INVALID, "train: batch %d (at least 1)", sh->batch);
    if (sh->width < 32 || sh->height < 32 || sh->width % 32 || sh->height % 32)
        return ww_set_error(be, WW_ERR_INVALID,
                            "train: image size %dx%d must be multiples of 32 pixels", sh->width,
                            sh->height);
    int gh = sh->height / c->patch, gw = sh->width / c->patch;
    if (sh->windows < 0)
        return ww_set_error(be, WW_ERR_INVALID, "train: %d windows", sh->windows);
    if (sh->windows) {
        int S = sh->window_size;
        if (S < 2 || S % 2)
            return ww_set_error(be, WW_ERR_INVALID,
                                "train: window size %d tokens (must be even and at least 2: the "
                                "DPT halves the grid)", S);
        if (S > gh || S > gw || (int64_t)sh->windows * S * S > (int64_t)gh * gw)
            return ww_set_error(be, WW_ERR_INVALID,
                                "train: %d windows of %dx%d tokens do not fit the %dx%d token "
                                "grid of %dx%d images", sh->windows, S, S, gw, gh, sh->width,
                                sh->height);
    }
    return WW_OK;
}

ww_status ww_train_graph_create(ww_model *m, const ww_train_shape *shape,
                                const ww_optim_config *opt, ww_train_graph **out)
{
    *out = NULL;
    const ww_model_config *c = &m->cfg;
    WW_TRY(check_shape(m->be, c, shape));
    ww_train_graph *g = calloc(1, sizeof *g);
    if (!g)
        return ww_set_error(m->be, WW_ERR_OUT_OF_MEMORY, "train: out of host memory");
    g->m = m;
    g->be = m->be;
    g->shape = *shape;
    g->opt = *opt;
    g->binocular = c->dec_depth > 0;
    g->frames = g->binocular ? 2 : 1;
    g->full = shape->windows == 0;
    g->gh = shape->height / c->patch;
    g->gw = shape->width / c->patch;
    g->N = g->gh * g->gw;
    int S = shape->window_size;
    g->n = g->full ? g->N : shape->windows * S * S;
    g->Bd = shape->batch * (g->full ? 1 : shape->windows);
    g->dgh = g->full ? g->gh : S;
    g->dgw = g->full ? g->gw : S;
    g->chunk = (int64_t)(ww_backend_max_binding(m->be) / sizeof(float)) / 64 * 64;
    int64_t E = (int64_t)shape->batch * g->frames;
    g->counts[0] = E * 3 * shape->width * shape->height;
    g->counts[1] = g->full ? 0 : E * shape->windows * 2;
    g->counts[2] = (int64_t)g->Bd * (c->task == WW_TASK_FLOW ? 2 : 1) * 256 * g->dgh * g->dgw;
    g->counts[3] = (int64_t)g->Bd * 256 * g->dgh * g->dgw;
    g->host_idx = malloc((size_t)E * (size_t)g->n * 3 * sizeof *g->host_idx);
    ww_status st = g->host_idx ? ww_arena_create(m->be, 0, &g->arena)
                               : ww_set_error(m->be, WW_ERR_OUT_OF_MEMORY, "train: out of host memory");
    if (st == WW_OK)
        st = plan(g);
    if (st == WW_OK)
        st = ww_tensor_fill(g->be, &g->grad, 0);
    if (st == WW_OK)
        st = ww_tensor_fill(g->be, &g->adam_m, 0);
    if (st == WW_OK)
        st = ww_tensor_fill(g->be, &g->adam_v, 0);
    if (st == WW_OK && g->full) {
        /* Every token, in grid order: positions are fixed. */
        uint32_t *pos = g->host_idx;
        for (int64_t e = 0; e < E; e++)
            for (int t = 0; t < g->N; t++) {
                pos[2 * (e * g->N + t)] = (uint32_t)(t / g->gw);
                pos[2 * (e * g->N + t) + 1] = (uint32_t)(t % g->gw);
            }
        st = ww_tensor_write(g->be, &g->pos, pos, (size_t)E * g->N * 2 * sizeof *pos);
    }
    if (st == WW_OK)
        st = ww_seq_create(g->be, &g->seq_acc);
    if (st == WW_OK)
        st = ww_seq_create(g->be, &g->seq_upd);
    if (st == WW_OK)
        st = record_step(g, g->seq_acc, 0);
    if (st == WW_OK)
        st = record_step(g, g->seq_upd, 1);
    if (st != WW_OK) {
        ww_train_graph_destroy(g);
        return st;
    }
    *out = g;
    return WW_OK;
}

void ww_train_graph_destroy(ww_train_graph *g)
{
    if (!g)
        return;
    ww_seq_destroy(g->seq_acc);
    ww_seq_destroy(g->seq_upd);
    free(g->enc.b);
    free(g->dec.b);
    ww_model_shadow_free(&g->g);
    ww_arena_destroy(g->arena);
    free(g->host_idx);
    free(g);
}

void ww_train_graph_sizes(const ww_train_graph *g, size_t *images, size_t *windows,
                          size_t *target, size_t *weight)
{
    *images = (size_t)g->counts[0];
    *windows = (size_t)g->counts[1];
    *target = (size_t)g->counts[2];
    *weight = (size_t)g->counts[3];
}

/* Token indices and positions of every image's windows, after checking them. */
static ww_status upload_windows(ww_train_graph *g, const uint32_t *win)
{
    int S = g->shape.window_size, nw = g->shape.windows;
    int64_t E = (int64_t)g->shape.batch * g->frames, n = g->n;
    uint32_t *idx = g->host_idx, *pos = g->host_idx + E * n;
    for (int64_t e = 0; e < E; e++) {
        for (int w = 0; w < nw; w++) {
            uint32_t y0 = win[2 * (e * nw + w)], x0 = win[2 * (e * nw + w) + 1];
            if (y0 + (uint32_t)S > (uint32_t)g->gh || x0 + (uint32_t)S > (uint32_t)g->gw)
                return ww_set_error(g->be, WW_ERR_INVALID,
                                    "train: window %d of image %lld at token (%u, %u) leaves the "
                                    "%dx%d grid", w, (long long)e, y0, x0, g->gw, g->gh);
            for (int v = 0; v < w; v++) {
                uint32_t y1 = win[2 * (e * nw + v)], x1 = win[2 * (e * nw + v) + 1];
                if (y0 < y1 + (uint32_t)S && y1 < y0 + (uint32_t)S && x0 < x1 + (uint32_t)S &&
                    x1 < x0 + (uint32_t)S)
                    return ww_set_error(g->be, WW_ERR_INVALID,
                                        "train: windows %d and %d of image %lld overlap", v, w,
                                        (long long)e);
            }
            for (int t = 0; t < S * S; t++) {
                int64_t k = e * n + (int64_t)w * S * S + t;
                uint32_t y = y0 + (uint32_t)(t / S), x = x0 + (uint32_t)(t % S);
                idx[k] = y * (uint32_t)g->gw + x;
                pos[2 * k] = y;
                pos[2 * k + 1] = x;
            }
        }
    }
    WW_TRY(ww_tensor_write(g->be, &g->idx, idx, (size_t)(E * n) * sizeof *idx));
    return ww_tensor_write(g->be, &g->pos, pos, (size_t)(E * n) * 2 * sizeof *pos);
}

ww_status ww_train_graph_step(ww_train_graph *g, const ww_train_batch *b, int update,
                              const ww_step_scalars *sc, float *loss)
{
    if (!g->full) {
        if (!b->windows)
            return ww_set_error(g->be, WW_ERR_INVALID, "train: the batch has no windows");
        WW_TRY(upload_windows(g, b->windows));
    }
    WW_TRY(ww_tensor_write(g->be, &g->images, b->images, (size_t)g->counts[0] * sizeof(float)));
    WW_TRY(ww_tensor_write(g->be, &g->target, b->target, (size_t)g->counts[2] * sizeof(float)));
    WW_TRY(ww_tensor_write(g->be, &g->weight, b->weight, (size_t)g->counts[3] * sizeof(float)));
    ww_seq *s = g->seq_acc;
    if (update) {
        if (sc->step < 1)
            return ww_set_error(g->be, WW_ERR_INVALID, "train: optimiser step %d (from 1)",
                                sc->step);
        float v[WW_ADAMW_NSCALARS] = {0};
        v[WW_ADAMW_LR] = sc->lr;
        v[WW_ADAMW_BIAS_CORR1] = (float)(1.0 - pow(g->opt.beta1, sc->step));
        v[WW_ADAMW_BIAS_CORR2] = (float)(1.0 - pow(g->opt.beta2, sc->step));
        v[WW_ADAMW_GRAD_SCALE] = sc->grad_scale;
        v[WW_ADAMW_MAX_NORM] = g->opt.max_norm;
        WW_TRY(ww_tensor_write(g->be, &g->scalars, v, sizeof v));
        s = g->seq_upd;
    }
    g->last = s;
    WW_TRY(ww_seq_run(s));
    WW_TRY(ww_seq_wait(s));
    WW_TRY(ww_tensor_read(g->be, &g->loss, loss, sizeof *loss));
    if (update) {
        float v[WW_ADAMW_NSCALARS];
        WW_TRY(ww_tensor_read(g->be, &g->scalars, v, sizeof v));
        g->grad_norm = sqrtf(v[WW_ADAMW_SUMSQ]) * fabsf(sc->grad_scale);
    }
    return WW_OK;
}

float ww_train_graph_grad_norm(const ww_train_graph *g)
{
    return g->grad_norm;
}

static ww_status check_count(ww_train_graph *g, size_t count, const char *what)
{
    if ((int64_t)count != g->m->nparams)
        return ww_set_error(g->be, WW_ERR_INVALID, "train: %s holds %lld values, not %zu", what,
                            (long long)g->m->nparams, count);
    return WW_OK;
}

ww_status ww_train_graph_read_grads(ww_train_graph *g, float *grads, size_t count)
{
    WW_TRY(check_count(g, count, "the gradient"));
    return ww_tensor_read(g->be, &g->grad, grads, count * sizeof *grads);
}

ww_status ww_train_graph_read_moments(ww_train_graph *g, float *m, float *v, size_t count)
{
    WW_TRY(check_count(g, count, "each AdamW moment"));
    WW_TRY(ww_tensor_read(g->be, &g->adam_m, m, count * sizeof *m));
    return ww_tensor_read(g->be, &g->adam_v, v, count * sizeof *v);
}

ww_status ww_train_graph_write_moments(ww_train_graph *g, const float *m, const float *v,
                                       size_t count)
{
    WW_TRY(check_count(g, count, "each AdamW moment"));
    WW_TRY(ww_tensor_write(g->be, &g->adam_m, m, count * sizeof *m));
    return ww_tensor_write(g->be, &g->adam_v, v, count * sizeof *v);
}

ww_status ww_train_graph_print_profile(ww_train_graph *g, void *f)
{
    return ww_seq_print_profile(g->last, f);
}

size_t ww_train_graph_memory(const ww_train_graph *g)
{
    return ww_arena_used(g->arena);
}
