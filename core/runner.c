/* Runners: a model recorded for one input size. Activations are allocated once; the encoder of
 * each frame slot and the decoder + DPT head of each slot order are op sequences recorded once
 * and re-submitted per frame. Token matrices are [rows, cols] = [N, dim], maps [C, H, W]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "ww_internal.h"

#define LN_EPS 1e-6f

struct ww_runner {
    ww_model *m;
    ww_backend *be;
    ww_arena *arena;
    int W, H, Wp, Hp, gw, gh, N; /* W x H: the inference size, padded to Wp x Hp */
    ww_image_layout layout;      /* frames as pushed, resized to W x H by the preprocess */
    size_t src_bytes;
    int binocular;
    ww_tensor src[2], img[2], enc_out[2];
    ww_tensor pos, table_enc, table_dec;
    ww_tensor patches, x, ln, qkv, att, h, f2, yln, dec_out;
    ww_tensor hook_copy[4];    /* decoder blocks (and encoder blocks of monocular models) */
    ww_tensor enc_hook[2][4];  /* encoder blocks of binocular models, per frame slot */
    ww_tensor hooks[2][4];  /* per slot order: the tensors the DPT reads */
    ww_tensor act[4], res[4], lay[4], tmp[4], up[4], path[4];
    ww_tensor head1, head2, head3, out;
    ww_tensor ids, conf; /* segmentation: argmax class and its softmax probability */
    ww_seq *enc_seq[2], *dec_seq[2];
    int cur;        /* slot of the newest frame */
    int have_prev;  /* flow: a frame is waiting to be paired */
    int have_output;
};

static ww_tensor view(const ww_tensor *t, int64_t off, int64_t n0, int64_t n1, int64_t n2,
                      int64_t s1, int64_t s2)
{
    int64_t ne[4] = {n0, n1, n2, 1}, nb[4] = {1, s1, s2, s2 * n2};
    return ww_tensor_view(t, off, ne, nb);
}

/* Contiguous [rows, cols] matrix at the start of t. */
static ww_tensor mat(const ww_tensor *t, int64_t rows, int64_t cols)
{
    return view(t, 0, cols, rows, 1, cols, rows * cols);
}

/* Contiguous [C, H, W] map at the start of t. */
static ww_tensor map(const ww_tensor *t, int64_t C, int64_t H, int64_t W)
{
    return view(t, 0, W, H, C, W, W * H);
}

static ww_status alloc(ww_runner *r, ww_tensor *t, int64_t count)
{
    return ww_arena_alloc(r->arena, WW_F32, 1, &count, t);
}

/* ---- Transformer pieces ---------------------------------------------------------------------- */

/* x [N, dim] += proj(attention(rope(q), rope(k), v)) with q, k, v from qkv(LN(x)). */
static ww_status self_attention(ww_runner *r, ww_seq *s, const lin *n1, const lin *qkv,
                                const lin *proj, int dim, int heads, const ww_tensor *table)
{
    int64_t N = r->N, Dh = dim / heads;
    ww_tensor x = mat(&r->x, N, dim), ln = mat(&r->ln, N, dim), q3 = mat(&r->qkv, N, 3 * dim);
    ww_tensor att = mat(&r->att, N, dim);
    WW_TRY(ww_layernorm(s, &x, &n1->w, &n1->b, LN_EPS, &ln));
    WW_TRY(ww_gemm(s, &ln, &qkv->w, &qkv->b, &q3, WW_GEMM_TRANS_B));
    ww_tensor q = view(&r->qkv, 0, Dh, heads, N, Dh, 3 * dim);
    ww_tensor k = view(&r->qkv, dim, Dh, heads, N, Dh, 3 * dim);
    ww_tensor v = view(&r->qkv, 2 * dim, Dh, heads, N, Dh, 3 * dim);
    ww_tensor o = view(&r->att, 0, Dh, heads, N, Dh, dim);
    WW_TRY(ww_rope2d(s, &q, &r->pos, table, 0));
    WW_TRY(ww_rope2d(s, &k, &r->pos, table, 0));
    WW_TRY(ww_attention(s, &q, &k, &v, 1.0f / sqrtf((float)Dh), &o, NULL));
    return ww_gemm(s, &att, &proj->w, &proj->b, &x, WW_GEMM_TRANS_B | WW_GEMM_ACCUMULATE);
}

/* x [N, dim] += fc2(gelu(fc1(LN(x)))). */
static ww_status mlp(ww_runner *r, ww_seq *s, const lin *n, const lin *fc1, const lin *fc2,
                     int dim)
{
    int64_t N = r->N;
    ww_tensor x = mat(&r->x, N, dim), ln = mat(&r->ln, N, dim), h = mat(&r->h, N, 4 * dim);
    WW_TRY(ww_layernorm(s, &x, &n->w, &n->b, LN_EPS, &ln));
    WW_TRY(ww_gemm(s, &ln, &fc1->w, &fc1->b, &h, WW_GEMM_TRANS_B | WW_GEMM_GELU));
    return ww_gemm(s, &h, &fc2->w, &fc2->b, &x, WW_GEMM_TRANS_B | WW_GEMM_ACCUMULATE);
}

/* x [N, dim] += proj(attention(rope(projq(LN2(x))), rope(projk(y_)), projv(y_))), y_ = LN_y(f2). */
static ww_status cross_attention(ww_runner *r, ww_seq *s, const dec_block *b, int dim, int heads)
{
    int64_t N = r->N, Dh = dim / heads;
    ww_tensor x = mat(&r->x, N, dim), ln = mat(&r->ln, N, dim), f2 = mat(&r->f2, N, dim);
    ww_tensor yln = mat(&r->yln, N, dim), att = mat(&r->att, N, dim);
    WW_TRY(ww_layernorm(s, &f2, &b->ny.w, &b->ny.b, LN_EPS, &yln));
    WW_TRY(ww_layernorm(s, &x, &b->n2.w, &b->n2.b, LN_EPS, &ln));
    ww_tensor q = view(&r->qkv, 0, dim, N, 1, 3 * dim, 3 * dim * N);
    ww_tensor k = view(&r->qkv, dim, dim, N, 1, 3 * dim, 3 * dim * N);
    ww_tensor v = view(&r->qkv, 2 * dim, dim, N, 1, 3 * dim, 3 * dim * N);
    WW_TRY(ww_gemm(s, &ln, &b->q.w, &b->q.b, &q, WW_GEMM_TRANS_B));
    WW_TRY(ww_gemm(s, &yln, &b->k.w, &b->k.b, &k, WW_GEMM_TRANS_B));
    WW_TRY(ww_gemm(s, &yln, &b->v.w, &b->v.b, &v, WW_GEMM_TRANS_B));
    ww_tensor qh = view(&r->qkv, 0, Dh, heads, N, Dh, 3 * dim);
    ww_tensor kh = view(&r->qkv, dim, Dh, heads, N, Dh, 3 * dim);
    ww_tensor vh = view(&r->qkv, 2 * dim, Dh, heads, N, Dh, 3 * dim);
    ww_tensor o = view(&r->att, 0, Dh, heads, N, Dh, dim);
    WW_TRY(ww_rope2d(s, &qh, &r->pos, &r->table_dec, 0));
    WW_TRY(ww_rope2d(s, &kh, &r->pos, &r->table_dec, 0));
    WW_TRY(ww_attention(s, &qh, &kh, &vh, 1.0f / sqrtf((float)Dh), &o, NULL));
    return ww_gemm(s, &att, &b->cproj.w, &b->cproj.b, &x, WW_GEMM_TRANS_B | WW_GEMM_ACCUMULATE);
}

/* Which hook (0..3) block `index` feeds, or -1. */
static int hook_of(const ww_model_config *c, int index)
{
    for (int i = 0; i < 4; i++)
        if (c->hooks[i] == index)
            return i;
    return -1;
}

/* Frame in slot -> enc_out[slot] [N, enc_dim]. Monocular runners also keep the hooked blocks. */
static ww_status record_encoder(ww_runner *r, ww_seq *s, int slot)
{
    ww_model *m = r->m;
    const ww_model_config *c = &m->cfg;
    int64_t N = r->N, D = c->enc_dim, P = c->patch;
    ww_tensor img = map(&r->img[slot], 3, r->Hp, r->Wp);
    WW_TRY(ww_preprocess(s, &r->src[slot], &r->layout, r->W, r->H, c->mean, c->std, &img));
    ww_tensor patches = mat(&r->patches, N, 3 * P * P), x = mat(&r->x, N, D);
    ww_tensor w = mat(&m->patch.w, D, 3 * P * P);
    WW_TRY(ww_patchify(s, &img, (int)P, &patches));
    WW_TRY(ww_gemm(s, &patches, &w, &m->patch.b, &x, WW_GEMM_TRANS_B));
    for (int i = 0; i < c->enc_depth; i++) {
        const enc_block *b = &m->enc[i];
        WW_TRY(self_attention(r, s, &b->n1, &b->qkv, &b->proj, (int)D, c->enc_heads, &r->table_enc));
        WW_TRY(mlp(r, s, &b->n2, &b->fc1, &b->fc2, (int)D));
        int hk = hook_of(c, i);
        if (hk >= 0 && i < c->enc_depth - 1) {
            ww_tensor dst = mat(r->binocular ? &r->enc_hook[slot][hk] : &r->hook_copy[hk], N, D);
            WW_TRY(ww_copy(s, &x, &dst));
        }
    }
    ww_tensor out = mat(&r->enc_out[slot], N, D);
    return ww_layernorm(s, &x, &m->enc_norm.w, &m->enc_norm.b, LN_EPS, &out);
}

/* enc_out[f1], enc_out[f2] -> dec_out [N, dec_dim], keeping the hooked blocks. */
static ww_status record_decoder(ww_runner *r, ww_seq *s, int f1, int f2)
{
    ww_model *m = r->m;
    const ww_model_config *c = &m->cfg;
    int64_t N = r->N, D = c->enc_dim, Dd = c->dec_dim;
    ww_tensor e1 = mat(&r->enc_out[f1], N, D), e2 = mat(&r->enc_out[f2], N, D);
    ww_tensor x = mat(&r->x, N, Dd), y = mat(&r->f2, N, Dd);
    WW_TRY(ww_gemm(s, &e1, &m->dec_embed.w, &m->dec_embed.b, &x, WW_GEMM_TRANS_B));
    WW_TRY(ww_gemm(s, &e2, &m->dec_embed.w, &m->dec_embed.b, &y, WW_GEMM_TRANS_B));
    for (int i = 0; i < c->dec_depth; i++) {
        const dec_block *b = &m->dec[i];
        WW_TRY(self_attention(r, s, &b->n1, &b->qkv, &b->proj, (int)Dd, c->dec_heads,
                           &r->table_dec));
        WW_TRY(cross_attention(r, s, b, (int)Dd, c->dec_heads));
        WW_TRY(mlp(r, s, &b->n3, &b->fc1, &b->fc2, (int)Dd));
        int hk = hook_of(c, c->enc_depth + i);
        if (hk >= 0 && i < c->dec_depth - 1) {
            ww_tensor dst = mat(&r->hook_copy[hk], N, Dd);
            WW_TRY(ww_copy(s, &x, &dst));
        }
    }
    ww_tensor out = mat(&r->dec_out, N, Dd);
    return ww_layernorm(s, &x, &m->dec_norm.w, &m->dec_norm.b, LN_EPS, &out);
}

/* ---- DPT head -------------------------------------------------------------------------------- */

/* Map side lengths of DPT level i (0: x4 the token grid, 1: x2, 2: x1, 3: /2). */
static void level_size(const ww_runner *r, int i, int64_t *h, int64_t *w)
{
    static const int num[4] = {4, 2, 1, 1}, den[4] = {1, 1, 1, 2};
    *h = r->gh * num[i] / den[i];
    *w = r->gw * num[i] / den[i];
}

/* x [F, h, w] += conv2(relu(conv1(relu(x)))), with tmp [F, h, w]. */
static ww_status rcu(ww_seq *s, const lin *c1, const lin *c2, const ww_tensor *x,
                     const ww_tensor *tmp)
{
    WW_TRY(ww_conv2d(s, x, &c1->w, &c1->b, 1, 1, tmp, WW_CONV_RELU_IN));
    return ww_conv2d(s, tmp, &c2->w, &c2->b, 1, 1, x, WW_CONV_RELU_IN | WW_CONV_ACCUMULATE);
}

static ww_status record_dpt(ww_runner *r, ww_seq *s, const ww_tensor hooks[4])
{
    ww_model *m = r->m;
    const ww_model_config *c = &m->cfg;
    const dpt *d = &m->dpt;
    int64_t N = r->N, F = c->feature_dim;
    for (int i = 0; i < 4; i++) {
        int64_t l = c->layer_dims[i], h, w;
        int64_t in = c->hooks[i] < c->enc_depth ? c->enc_dim : c->dec_dim;
        level_size(r, i, &h, &w);
        /* Conv1x1 over the token grid: [l, C] x [N, C]^T = [l, N], i.e. the map [l, gh, gw]. */
        ww_tensor tokens = mat(&hooks[i], N, in), wpost = mat(&d->post[i].w, l, in);
        ww_tensor a = map(&r->act[i], l, r->gh, r->gw), am = mat(&r->act[i], l, N);
        WW_TRY(ww_gemm(s, &wpost, &tokens, &d->post[i].b, &am, WW_GEMM_TRANS_B | WW_GEMM_BIAS_ROW));
        ww_tensor lay = map(&r->lay[i], F, h, w);
        if (i == 2) {
            WW_TRY(ww_conv2d(s, &a, &d->rn[i].w, NULL, 1, 1, &lay, 0));
            continue;
        }
        ww_tensor resized = map(&r->res[i], l, h, w);
        if (i < 2)
            WW_TRY(ww_conv_transpose2d(s, &a, &d->resize[i].w, &d->resize[i].b, &resized));
        else
            WW_TRY(ww_conv2d(s, &a, &d->resize[i].w, &d->resize[i].b, 2, 1, &resized, 0));
        WW_TRY(ww_conv2d(s, &resized, &d->rn[i].w, NULL, 1, 1, &lay, 0));
    }
    /* path4 = refinenet4(layer4); path_i = refinenet_i(path_{i+1}, layer_i). */
    for (int i = 3; i >= 0; i--) {
        const refine *rf = &d->ref[i];
        int64_t h, w;
        level_size(r, i, &h, &w);
        ww_tensor lay = map(&r->lay[i], F, h, w), tmp = map(&r->tmp[i], F, h, w);
        if (i < 3) {
            ww_tensor prev = map(&r->path[i + 1], F, h, w);
            WW_TRY(rcu(s, &rf->rcu1_c1, &rf->rcu1_c2, &lay, &tmp));
            WW_TRY(ww_add(s, &lay, &prev, &lay));
        }
        WW_TRY(rcu(s, &rf->rcu2_c1, &rf->rcu2_c2, &lay, &tmp));
        ww_tensor up = map(&r->up[i], F, 2 * h, 2 * w), path = map(&r->path[i], F, 2 * h, 2 * w);
        WW_TRY(ww_resize_bilinear(s, &lay, &up));
        WW_TRY(ww_conv2d(s, &up, &rf->out.w, &rf->out.b, 1, 0, &path, 0));
    }
    int64_t h2 = r->Hp / 2, w2 = r->Wp / 2, C = c->out_channels;
    ww_tensor p1 = map(&r->path[0], F, h2, w2), out = map(&r->out, C, r->Hp, r->Wp);
    if (c->semseg) {
        ww_tensor h1 = map(&r->head1, F, h2, w2), h2m = map(&r->head2, C, h2, w2);
        WW_TRY(ww_conv2d(s, &p1, &d->head[0].w, NULL, 1, 1, &h1, WW_CONV_RELU_OUT));
        WW_TRY(ww_conv2d(s, &h1, &d->head[1].w, &d->head[1].b, 1, 0, &h2m, 0));
        WW_TRY(ww_resize_bilinear(s, &h2m, &out));
        return ww_argmax_channels(s, &out, &r->ids, &r->conf);
    }
    ww_tensor h1 = map(&r->head1, F / 2, h2, w2), up = map(&r->head2, F / 2, r->Hp, r->Wp);
    ww_tensor h3 = map(&r->head3, c->head_hidden, r->Hp, r->Wp);
    WW_TRY(ww_conv2d(s, &p1, &d->head[0].w, &d->head[0].b, 1, 1, &h1, 0));
    WW_TRY(ww_resize_bilinear(s, &h1, &up));
    WW_TRY(ww_conv2d(s, &up, &d->head[1].w, &d->head[1].b, 1, 1, &h3, WW_CONV_RELU_OUT));
    return ww_conv2d(s, &h3, &d->head[2].w, &d->head[2].b, 1, 0, &out, 0);
}

/* ---- Runner ---------------------------------------------------------------------------------- */

static ww_status plan(ww_runner *r)
{
    const ww_model_config *c = &r->m->cfg;
    int64_t N = r->N, dmax = c->enc_dim > c->dec_dim ? c->enc_dim : c->dec_dim, F = c->feature_dim;
    int slots = r->binocular ? 2 : 1;
    for (int i = 0; i < slots; i++) {
        int64_t bytes = (int64_t)r->src_bytes;
        WW_TRY(ww_arena_alloc(r->arena, WW_U8, 1, &bytes, &r->src[i]));
        WW_TRY(alloc(r, &r->img[i], 3 * (int64_t)r->Hp * r->Wp));
        WW_TRY(alloc(r, &r->enc_out[i], N * c->enc_dim));
        for (int k = 0; k < 4 && r->binocular; k++)
            if (c->hooks[k] < c->enc_depth - 1)
                WW_TRY(alloc(r, &r->enc_hook[i][k], N * c->enc_dim));
    }
    WW_TRY(alloc(r, &r->patches, N * 3 * c->patch * c->patch));
    WW_TRY(alloc(r, &r->x, N * dmax));
    WW_TRY(alloc(r, &r->ln, N * dmax));
    WW_TRY(alloc(r, &r->qkv, N * 3 * dmax));
    WW_TRY(alloc(r, &r->att, N * dmax));
    WW_TRY(alloc(r, &r->h, N * 4 * dmax));
    if (r->binocular) {
        WW_TRY(alloc(r, &r->f2, N * c->dec_dim));
        WW_TRY(alloc(r, &r->yln, N * c->dec_dim));
        WW_TRY(alloc(r, &r->dec_out, N * c->dec_dim));
    }
    for (int i = 0; i < 4; i++) {
        int64_t h, w, l = c->layer_dims[i];
        level_size(r, i, &h, &w);
        WW_TRY(alloc(r, &r->hook_copy[i], N * dmax));
        WW_TRY(alloc(r, &r->act[i], l * N));
        WW_TRY(alloc(r, &r->lay[i], F * h * w));
        WW_TRY(alloc(r, &r->res[i], l * h * w));
        WW_TRY(alloc(r, &r->tmp[i], F * h * w));
        WW_TRY(alloc(r, &r->up[i], F * 4 * h * w));
        WW_TRY(alloc(r, &r->path[i], F * 4 * h * w));
    }
    int64_t HW = (int64_t)r->Hp * r->Wp, C = c->out_channels;
    WW_TRY(alloc(r, &r->head1, F * HW / 4));
    WW_TRY(alloc(r, &r->head2, (c->semseg ? C * HW / 4 : F / 2 * HW)));
    WW_TRY(alloc(r, &r->head3, c->head_hidden * HW));
    WW_TRY(alloc(r, &r->out, C * HW));
    if (c->semseg) {
        int64_t ne[2] = {r->Wp, r->Hp};
        WW_TRY(ww_arena_alloc(r->arena, WW_U32, 2, ne, &r->ids));
        WW_TRY(ww_arena_alloc(r->arena, WW_F32, 2, ne, &r->conf));
    }

    /* Token positions (y, x) in row-major grid order, and the RoPE tables. */
    int64_t pne[2] = {2, N};
    WW_TRY(ww_arena_alloc(r->arena, WW_U32, 2, pne, &r->pos));
    uint32_t *pos = malloc((size_t)N * 2 * sizeof *pos);
    if (!pos)
        return ww_set_error(r->be, WW_ERR_OUT_OF_MEMORY, "runner: out of host memory");
    for (int64_t t = 0; t < N; t++) {
        pos[2 * t] = (uint32_t)(t / r->gw);
        pos[2 * t + 1] = (uint32_t)(t % r->gw);
    }
    ww_status st = ww_tensor_write(r->be, &r->pos, pos, (size_t)N * 2 * sizeof *pos);
    free(pos);
    WW_TRY(st);
    int max_pos = r->gh > r->gw ? r->gh : r->gw;
    WW_TRY(ww_rope_table(r->arena, c->enc_dim / c->enc_heads, max_pos, WW_ROPE_BASE, &r->table_enc));
    if (r->binocular)
        WW_TRY(ww_rope_table(r->arena, c->dec_dim / c->dec_heads, max_pos, WW_ROPE_BASE,
                          &r->table_dec));

    /* Hooks per slot order; a hook on the last encoder or decoder block reads its normed output. */
    for (int order = 0; order < slots; order++) {
        int f1 = r->binocular ? order ^ 1 : 0;
        for (int i = 0; i < 4; i++) {
            int b = c->hooks[i];
            r->hooks[order][i] = b == c->enc_depth - 1                 ? r->enc_out[f1]
                                 : b == c->enc_depth + c->dec_depth - 1 ? r->dec_out
                                 : b < c->enc_depth && r->binocular     ? r->enc_hook[f1][i]
                                                                        : r->hook_copy[i];
        }
    }
    for (int slot = 0; slot < slots; slot++) {
        WW_TRY(ww_seq_create(r->be, &r->enc_seq[slot]));
        WW_TRY(record_encoder(r, r->enc_seq[slot], slot));
        if (!r->binocular) {
            WW_TRY(record_dpt(r, r->enc_seq[slot], r->hooks[0]));
            continue;
        }
        /* dec_seq[slot]: the pair (other slot -> this slot), this slot holding the newer frame. */
        WW_TRY(ww_seq_create(r->be, &r->dec_seq[slot]));
        WW_TRY(record_decoder(r, r->dec_seq[slot], slot ^ 1, slot));
        WW_TRY(record_dpt(r, r->dec_seq[slot], r->hooks[slot]));
    }
    return WW_OK;
}

ww_status ww_runner_create_for(ww_model *m, const ww_image_layout *layout, size_t frame_bytes,
                               int infer_width, int infer_height, ww_runner **out)
{
    *out = NULL;
    WW_TRY(ww_image_layout_check(m->be, "runner", layout, frame_bytes, "the frame (frame_bytes)"));
    if (infer_width < 0 || infer_height < 0 || infer_width > 65536 || infer_height > 65536)
        return ww_set_error(m->be, WW_ERR_INVALID,
                            "runner: inference size %dx%d is not within 1..65536 (0: the frame's)",
                            infer_width, infer_height);
    ww_runner *r = calloc(1, sizeof *r);
    if (!r)
        return ww_set_error(m->be, WW_ERR_OUT_OF_MEMORY, "runner: out of host memory");
    r->m = m;
    r->be = m->be;
    r->W = infer_width ? infer_width : layout->width;
    r->H = infer_height ? infer_height : layout->height;
    /* The token grid must be even (the DPT goes down by 2 and back up): pad to 32 pixels. */
    r->Wp = (r->W + 31) / 32 * 32;
    r->Hp = (r->H + 31) / 32 * 32;
    r->gw = r->Wp / m->cfg.patch;
    r->gh = r->Hp / m->cfg.patch;
    r->N = r->gw * r->gh;
    r->layout = *layout;
    r->src_bytes = frame_bytes;
    r->binocular = m->cfg.dec_depth > 0;
    ww_status st = ww_arena_create(m->be, 0, &r->arena);
    if (st == WW_OK)
        st = plan(r);
    if (st != WW_OK) {
        ww_runner_destroy(r);
        return st;
    }
    *out = r;
    return WW_OK;
}

ww_status ww_runner_create(ww_model *m, int width, int height, ww_pixel_format format,
                           ww_runner **out)
{
    *out = NULL;
    ww_image_layout layout;
    size_t bytes = ww_image_layout_packed(format, width, height, &layout);
    if (!bytes)
        return ww_set_error(m->be, WW_ERR_INVALID, "runner: cannot run %dx%d %s frames", width,
                            height, ww_pixel_format_name(format));
    return ww_runner_create_for(m, &layout, bytes, 0, 0, out);
}

void ww_runner_size_of(const ww_runner *r, int *infer_width, int *infer_height)
{
    if (infer_width)
        *infer_width = r->W;
    if (infer_height)
        *infer_height = r->H;
}

void ww_runner_destroy(ww_runner *r)
{
    if (!r)
        return;
    for (int i = 0; i < 2; i++) {
        ww_seq_destroy(r->enc_seq[i]);
        ww_seq_destroy(r->dec_seq[i]);
    }
    ww_arena_destroy(r->arena);
    free(r);
}

void ww_runner_reset(ww_runner *r)
{
    r->have_prev = 0;
    r->have_output = 0;
}

ww_status ww_runner_push(ww_runner *r, const void *pixels, size_t bytes,
                         const ww_image_layout *layout, int *has_output)
{
    *has_output = 0;
    const ww_image_layout *want = &r->layout;
    const char *fmt = ww_pixel_format_name(want->format);
    if (!layout || layout->format != want->format || layout->width != want->width ||
        layout->height != want->height)
        return ww_set_error(r->be, WW_ERR_INVALID,
                            "runner: frame layout differs from the runner's %dx%d %s", want->width,
                            want->height, fmt);
    for (int p = 0; p < ww_pixel_format_planes(want->format); p++)
        if (layout->offset[p] != want->offset[p] || layout->stride[p] != want->stride[p])
            return ww_set_error(r->be, WW_ERR_INVALID,
                                "runner: frame plane %d at offset %zu with row stride %zu, the "
                                "runner's %dx%d %s layout has offset %zu, stride %zu", p,
                                layout->offset[p], layout->stride[p], want->width, want->height,
                                fmt, want->offset[p], want->stride[p]);
    if (bytes != r->src_bytes)
        return ww_set_error(r->be, WW_ERR_INVALID,
                            "runner: frame of %zu bytes, the runner takes %dx%d %s frames of "
                            "%zu bytes", bytes, want->width, want->height, fmt, r->src_bytes);
    int slot = r->binocular && r->have_prev ? r->cur ^ 1 : r->cur;
    WW_TRY(ww_tensor_write(r->be, &r->src[slot], pixels, bytes));
    WW_TRY(ww_seq_run(r->enc_seq[slot]));
    int pair = r->binocular && r->have_prev;
    if (pair)
        WW_TRY(ww_seq_run(r->dec_seq[slot]));
    WW_TRY(ww_seq_wait(r->enc_seq[slot]));
    if (pair)
        WW_TRY(ww_seq_wait(r->dec_seq[slot]));
    r->cur = slot;
    r->have_prev = r->binocular;
    r->have_output = !r->binocular || pair;
    *has_output = r->have_output;
    return WW_OK;
}

/* The tensor behind a name for the last run; NULL if none. */
static const ww_tensor *named(const ww_runner *r, const char *name)
{
    int f2 = r->cur, f1 = r->binocular ? r->cur ^ 1 : r->cur, order = r->binocular ? r->cur : 0;
    if (!strcmp(name, "input1"))
        return &r->img[f1];
    if (!strcmp(name, "enc1"))
        return &r->enc_out[f1];
    if (r->binocular && !strcmp(name, "enc2"))
        return &r->enc_out[f2];
    if (r->binocular && !strcmp(name, "dec"))
        return &r->dec_out;
    if (!strcmp(name, "head"))
        return &r->out;
    if (strlen(name) == 5 && !strncmp(name, "hook", 4) && name[4] >= '0' && name[4] <= '3')
        return &r->hooks[order][name[4] - '0'];
    if (strlen(name) == 4 && !strncmp(name, "act", 3) && name[3] >= '0' && name[3] <= '3') {
        int i = name[3] - '0';
        return i == 2 ? &r->act[2] : &r->res[i];
    }
    if (strlen(name) == 5 && !strncmp(name, "path", 4) && name[4] >= '1' && name[4] <= '4')
        return &r->path[name[4] - '1'];
    return NULL;
}

/* Elements a named activation holds (its buffers may be larger: they are shared scratch). */
static int64_t named_count(const ww_runner *r, const char *name)
{
    const ww_model_config *c = &r->m->cfg;
    int64_t N = r->N;
    if (!named(r, name))
        return -1;
    if (!strcmp(name, "input1"))
        return 3 * (int64_t)r->Hp * r->Wp;
    if (!strncmp(name, "enc", 3))
        return N * c->enc_dim;
    if (!strcmp(name, "dec"))
        return N * c->dec_dim;
    if (!strcmp(name, "head"))
        return c->out_channels * (int64_t)r->Hp * r->Wp;
    int i = name[strlen(name) - 1] - '0';
    int64_t h, w;
    if (!strncmp(name, "hook", 4))
        return N * (c->hooks[i] < c->enc_depth ? c->enc_dim : c->dec_dim);
    if (!strncmp(name, "act", 3)) {
        level_size(r, i, &h, &w);
        return c->layer_dims[i] * h * w;
    }
    level_size(r, i - 1, &h, &w);
    return c->feature_dim * 4 * h * w;
}

int64_t ww_runner_size(const ww_runner *r, const char *name)
{
    return named_count(r, name);
}

ww_status ww_runner_read(ww_runner *r, const char *name, float *dst, size_t count)
{
    const ww_tensor *t = named(r, name);
    if (!t)
        return ww_set_error(r->be, WW_ERR_INVALID, "runner: no activation named '%s'", name);
    int64_t n = named_count(r, name);
    if ((int64_t)count != n)
        return ww_set_error(r->be, WW_ERR_INVALID, "runner: '%s' holds %lld values, not %zu",
                            name, (long long)n, count);
    ww_tensor v = mat(t, 1, n);
    return ww_tensor_read(r->be, &v, dst, count * sizeof *dst);
}

/* Read planes of a padded [planes, Hp, Wp] map cropped to [planes, H, W] into dst. */
static ww_status read_cropped(ww_runner *r, const ww_tensor *t, int planes, void *dst)
{
    size_t es = ww_dtype_size(t->type), row_bytes = (size_t)r->W * es;
    for (int p = 0; p < planes; p++) {
        for (int y = 0; y < r->H; y++) {
            ww_tensor row = view(t, ((int64_t)p * r->Hp + y) * r->Wp, r->W, 1, 1, r->W, r->W);
            char *to = (char *)dst + ((size_t)p * r->H + y) * row_bytes;
            WW_TRY(ww_tensor_read(r->be, &row, to, row_bytes));
        }
    }
    return WW_OK;
}

static ww_status need_output(ww_runner *r)
{
    if (!r->have_output)
        return ww_set_error(r->be, WW_ERR_INVALID, "runner: no output yet (flow needs two frames)");
    return WW_OK;
}

static ww_status check_output(ww_runner *r, size_t want, size_t count, const char *what)
{
    WW_TRY(need_output(r));
    if (count != want)
        return ww_set_error(r->be, WW_ERR_INVALID, "runner: %s holds %zu values, not %zu", what,
                            want, count);
    return WW_OK;
}

ww_status ww_runner_output(ww_runner *r, float *dst, size_t count)
{
    int C = r->m->cfg.out_channels;
    WW_TRY(check_output(r, (size_t)C * (size_t)r->H * (size_t)r->W, count, "the output"));
    return read_cropped(r, &r->out, C, dst);
}

ww_status ww_runner_labels(ww_runner *r, uint32_t *ids, float *conf, size_t count)
{
    if (!r->m->cfg.semseg)
        return ww_set_error(r->be, WW_ERR_INVALID, "runner: a %s model has no class labels",
                            ww_task_name(r->m->cfg.task));
    WW_TRY(check_output(r, (size_t)r->H * (size_t)r->W, count, "the label map"));
    WW_TRY(read_cropped(r, &r->ids, 1, ids));
    return conf ? read_cropped(r, &r->conf, 1, conf) : WW_OK;
}

ww_status ww_runner_result(ww_runner *r, const char *what, ww_tensor *out)
{
    memset(out, 0, sizeof *out);
    int seg = r->m->cfg.semseg;
    const ww_tensor *t = !what                            ? NULL
                         : !strcmp(what, "output")        ? &r->out
                         : seg && !strcmp(what, "labels") ? &r->ids
                         : seg && !strcmp(what, "conf")   ? &r->conf
                                                          : NULL;
    if (!t)
        return ww_set_error(r->be, WW_ERR_INVALID,
                            "runner: no result '%s' for a %s model (\"output\"%s)",
                            what ? what : "(null)", ww_task_name(r->m->cfg.task),
                            seg ? ", \"labels\", \"conf\"" : "");
    WW_TRY(need_output(r));
    /* The W x H corner of the padded [planes, Hp, Wp] map, in place. */
    int64_t planes = t == &r->out ? r->m->cfg.out_channels : 1, plane = (int64_t)r->Hp * r->Wp;
    int64_t ne[4] = {r->W, r->H, planes, 1}, nb[4] = {1, r->Wp, plane, plane * planes};
    *out = ww_tensor_view(t, 0, ne, nb);
    return WW_OK;
}

ww_status ww_runner_print_profile(ww_runner *r, void *f)
{
    WW_TRY(ww_seq_print_profile(r->enc_seq[r->cur], f));
    return r->binocular ? ww_seq_print_profile(r->dec_seq[r->cur], f) : WW_OK;
}

size_t ww_runner_memory(const ww_runner *r)
{
    return ww_arena_used(r->arena);
}
