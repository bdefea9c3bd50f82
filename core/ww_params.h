/* Op parameters. Each struct is, byte for byte, the push-constant block of its shader (all
 * members 32-bit, std430), and the same struct drives the CPU reference kernel, so both backends
 * read one description of every op.
 *
 * Every block starts with off[WW_MAX_BINDINGS]: the element offset of each bound tensor inside
 * its descriptor range (Vulkan binds at an aligned byte offset below the tensor; the CPU backend
 * passes pointers to element 0 and leaves off[] at 0). Strides are in elements. Binding i is the
 * i-th tensor of the op in the order listed next to each struct; an optional tensor that is
 * absent is still bound (to a dummy) and its flag says it is absent.
 */
#ifndef WW_PARAMS_H
#define WW_PARAMS_H

#include <stdint.h>

#define WW_MAX_BINDINGS 5
/* Bindings one node may have. Nodes with more than WW_MAX_BINDINGS use a params struct that
 * starts with off[WW_MAX_NODE_BINDINGS] instead (the backward ops). */
#define WW_MAX_NODE_BINDINGS 8

/* Bindings: a, b, bias, c */
typedef struct ww_gemm_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t M, N, K, batch;
    uint32_t a_sm, a_sk, a_sb; /* A(m, k) of batch i = a[i*a_sb + m*a_sm + k*a_sk] */
    uint32_t b_sk, b_sn, b_sb; /* B(k, n) of batch i = b[i*b_sb + k*b_sk + n*b_sn] */
    uint32_t c_sm, c_sb;       /* C(m, n) of batch i = c[i*c_sb + m*c_sm + n] */
    uint32_t flags;            /* WW_GEMM_* plus WW_HAS_BIAS */
} ww_gemm_params;

/* Bindings: x, w, b, y */
typedef struct ww_layernorm_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t D, rows;
    uint32_t x_rs, y_rs; /* row strides */
    float eps;
} ww_layernorm_params;

enum { WW_ELT_ADD = 0, WW_ELT_GELU = 1, WW_ELT_RELU = 2, WW_ELT_COPY = 3, WW_ELT_ZERO = 4 };
/* Bindings: a, b (a again for unary ops), y */
typedef struct ww_eltwise_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t n, op;
} ww_eltwise_params;

/* Bindings: x (in place), pos, table */
typedef struct ww_rope_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t Dh, H, N, B;
    uint32_t x_st, x_sh, x_sb; /* token, head, batch strides of x */
    uint32_t pos_sb;           /* batch stride of pos (0 = shared) */
    uint32_t max_pos;          /* rows of the table; positions are clamped below it */
    uint32_t inverse;
} ww_rope_params;

/* Bindings: q, k, v, o, lse */
typedef struct ww_attention_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t Dh, H, Nq, Nk, B;
    uint32_t q_st, q_sh, q_sb;
    uint32_t k_st, k_sh, k_sb;
    uint32_t v_st, v_sh, v_sb;
    uint32_t o_st, o_sh, o_sb;
    float scale;
    uint32_t has_lse;
} ww_attention_params;

/* Bindings: img, out */
typedef struct ww_patchify_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t C, H, W, p, B;
} ww_patchify_params;

/* Bindings: x, w, bias, y */
typedef struct ww_conv2d_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t Cin, H, W, Cout, Ho, Wo, k, stride, pad, B;
    uint32_t flags; /* WW_CONV_* plus WW_HAS_BIAS */
} ww_conv2d_params;

/* Bindings: x, w, bias, y */
typedef struct ww_convt_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t Cin, H, W, Cout, k, B;
    uint32_t flags; /* WW_HAS_BIAS */
} ww_convt_params;

/* Bindings: x, y */
typedef struct ww_resize_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t W, H, Wo, Ho, planes;
} ww_resize_params;

enum { WW_CHAN_SOFTMAX = 0, WW_CHAN_ARGMAX = 1 };
/* Bindings: x, y (softmax output, or the ids), conf */
typedef struct ww_channels_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t C, HW, B;
    uint32_t mode;
    uint32_t has_conf;
} ww_channels_params;

/* Bindings: src (U8 bytes, read as 32-bit words by the shader), y */
typedef struct ww_preprocess_params {
    uint32_t off[WW_MAX_BINDINGS]; /* for a U8 tensor an element offset is a byte offset */
    uint32_t format, width, height; /* the source image */
    uint32_t plane_off[3], plane_stride[3]; /* bytes, plane_off relative to src element 0 */
    uint32_t Wp, Hp;
    uint32_t out_w, out_h;  /* the resampled image in y's corner */
    float scale_x, scale_y; /* width / out_w, height / out_h, rounded once on the host */
    float mean[3], inv_std[3];
} ww_preprocess_params;

enum { WW_ROWS_GATHER = 0, WW_ROWS_SCATTER = 1, WW_ROWS_SCATTER_ADD = 2 };
/* Bindings: x, idx, y */
typedef struct ww_rows_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t D, n, N, B;
    uint32_t idx_sb; /* batch stride of idx (0 = shared) */
    uint32_t mode;
} ww_rows_params;

/* Bindings: y */
typedef struct ww_probe_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t n, iters;
} ww_probe_params;

enum {
    WW_COLORIZE_FLOW = 0, /* Middlebury wheel */
    WW_COLORIZE_SCALAR = 1,
    WW_COLORIZE_LABELS = 2,
    WW_COLORIZE_FLOW_HSV = 3
};
/* Bindings: x (flow F32 [2, H, W], scalar F32 [H, W] or ids U32 [H, W]; read as 32-bit words by
 * the shader), table (scalar: lut, labels: palette, U32 [n]; flow: absent), rgba (U32 [H, W]) */
typedef struct ww_colorize_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t W, H, mode;
    uint32_t x_rs, x_ps; /* row stride of x, plane stride of x (flow: u to v) */
    uint32_t y_rs;       /* row stride of rgba */
    uint32_t n;          /* entries of the table */
    float a, b;          /* flow: a = 1 / max_flow; scalar: a = lo, b = n / (hi - lo) */
} ww_colorize_params;

/* Attention backward, two nodes sharing this struct (ww_attention_backward, ww.h):
 *   WW_OP_ATTENTION_BWD_DQ, bindings q, k, v, o, do, lse, D, dq: D = rowsum(do * o) (written),
 *     dq += dL/dq;
 *   WW_OP_ATTENTION_BWD_DKDV, bindings q, k, v, do, lse, D, dk, dv: dk += dL/dk, dv += dL/dv.
 * dq, dk, dv have the strides of q, k, v. k, v (and dk, dv) have Bkv batches: B, or 1 shared by
 * every query batch (dk, dv then sum over the query batches). lse and D are [B, H, Nq]. */
typedef struct ww_attention_bwd_params {
    uint32_t off[WW_MAX_NODE_BINDINGS];
    uint32_t Dh, H, Nq, Nk, B, Bkv;
    uint32_t q_st, q_sh, q_sb;    /* q and dq: token, head, batch strides */
    uint32_t k_st, k_sh, k_sb;    /* k and dk (batch stride 0 when Bkv = 1) */
    uint32_t v_st, v_sh, v_sb;    /* v and dv */
    uint32_t o_st, o_sh, o_sb;    /* o */
    uint32_t do_st, do_sh, do_sb; /* do */
    float scale;
} ww_attention_bwd_params;

/* ---- LayerNorm / GELU backward, reductions, AdamW (core/ops_train.c) ---- */
enum { WW_LNB_ROWS = 0, WW_LNB_PARTIALS = 1 };
/* Bindings: x, w, dy, dx, scratch. scratch holds stats[rows][2] = (mean, rstd), then the
 * partials pw[parts][D] and pb[parts][D].
 * ROWS: one row each: stats and dx += ... PARTIALS (w, dx absent): for part p (rows
 * [p chunk, min(rows, (p + 1) chunk))) pw[p][d] = sum dy xhat, pb[p][d] = sum dy. */
typedef struct ww_layernorm_bwd_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t D, rows;
    uint32_t x_rs, dy_rs, dx_rs; /* row strides */
    float eps;
    uint32_t pass;        /* WW_LNB_* */
    uint32_t chunk, parts;
} ww_layernorm_bwd_params;

/* Bindings: x, dy, dx. dx[i] += dy[i] * gelu'(x[i]). */
typedef struct ww_gelu_bwd_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t n;
} ww_gelu_bwd_params;

/* Bindings: x, y. x is [outer, N, inner]; with count = outer * inner terms r = o * inner + i,
 * for p < parts and n < N: y[p N + n] (+)= sum over r in [p chunk, min(count, (p + 1) chunk))
 * of f(x[(o N + n) inner + i]), f(v) = v or v * v. */
typedef struct ww_reduce_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t outer, N, inner;
    uint32_t chunk, parts;
    uint32_t square, accumulate;
} ww_reduce_params;

/* Bindings: params, grads, m, v, scalars (F32 [WW_ADAMW_NSCALARS], when has_scalars). */
typedef struct ww_adamw_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t n;
    float lr, beta1, beta2, eps, weight_decay, bias_corr1, bias_corr2, grad_scale;
    uint32_t has_scalars;
} ww_adamw_params;

/* ---- Losses (core/ops_loss.c) ---- */
/* Bindings: pred, target, weight, dpred, loss_px. kind is a ww_loss_kind (ww.h). Pixel
 * i = b HW + p of B * HW reads weight[i], then pred[(b C + k) HW + p] and
 * target[(b Ct + k) HW + p] only when weight[i] != 0, and writes dpred[(b C + k) HW + p] for
 * every k < C and loss_px[i]. */
typedef struct ww_loss_params {
    uint32_t off[WW_MAX_BINDINGS];
    uint32_t kind, C, Ct, HW, B;
} ww_loss_params;

/* Set in the flags of ops whose bias is optional. */
#define WW_HAS_BIAS (1u << 16)

#endif
