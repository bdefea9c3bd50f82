/* CPU kernels of the backward ops of ops_conv_backward.c. Every op accumulates (+=) into its
 * output, deterministically: each output element is written by one task (or by one product,
 * whose threads split the outputs, never a sum) in a fixed order. The conv2d gradients are
 * matrix products over the forward's im2col layout (cpu_gemm.h); the other ops are loops spread
 * over the pool where the work splits without sharing an output. Bindings and parameters as
 * listed in ops_conv_backward.c; ptr[i] is binding i's element 0. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_gemm.h"
#include "ww_internal.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* 4-float vectors (GNU C vector extension, as in cpu_ops.c): GCC's -O2 vectoriser leaves the
 * inner loops below scalar. */
typedef float v4f __attribute__((vector_size(16)));

static v4f v4_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* y[i] += a * x[i], i < n */
static void axpy(float *restrict y, const float *restrict x, float a, int64_t n)
{
    v4f va = {a, a, a, a};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f v = v4_load(y + i) + va * v4_load(x + i);
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* sum of a[i] * b[i], i < n, in four interleaved partial sums (a fixed order) */
static float dot(const float *a, const float *b, int64_t n)
{
    v4f acc = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        acc += v4_load(a + i) * v4_load(b + i);
    float s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* the same with relu(b[i]) (NaN gives 0) */
static float dot_relu(const float *a, const float *b, int64_t n)
{
    v4f acc = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f v = v4_load(b + i), r;
        for (int l = 0; l < 4; l++)
            r[l] = v[l] > 0.0f ? v[l] : 0.0f;
        acc += v4_load(a + i) * r;
    }
    float s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (; i < n; i++)
        s += a[i] * (b[i] > 0.0f ? b[i] : 0.0f);
    return s;
}

/* ---- conv2d backward ---------------------------------------------------------------------------
 * With col(x') the forward's im2col matrix [K = Cin*k*k, Ho*Wo] of one image (x' = relu(x) under
 * WW_CONV_RELU_IN):
 *   dw [Cout, K] += dy[b] [Cout, Ho*Wo] col(x'[b])^T, batch items in order;
 *   dx[b] [Cin, H, W] += col2im(w^T [K, Cout] dy[b]), col2im adding every column entry onto the
 *   input element im2col read it from.
 * Pixels go in bands (ww_conv_band) so that the column scratch stays bounded; a pointwise conv's
 * column matrix is the image itself, which the products read and write in place. */
typedef struct col2im_job {
    const ww_conv2d_params *p;
    const float *col; /* [K, nb]: pixels [p0, p0 + nb) */
    float *dx;        /* one image [Cin, H, W] */
    int64_t p0, nb;
} col2im_job;

/* The transpose of im2col_rows (cpu_ops.c), row segment by row segment. Whole channels per item
 * so that no two threads write one element of dx; rows (ky, kx) in order. */
static void col2im_channels(const void *ctx, int64_t c0, int64_t c1)
{
    const col2im_job *j = ctx;
    const ww_conv2d_params *p = j->p;
    int64_t k = p->k, H = p->H, W = p->W, Wo = p->Wo, st = p->stride, pad = p->pad;
    for (int64_t r = c0 * k * k; r < c1 * k * k; r++) {
        int64_t ci = r / (k * k), ky = r / k % k, kx = r % k;
        float *dx = j->dx + ci * H * W;
        const float *col = j->col + r * j->nb;
        int64_t ox_lo, ox_hi;
        ww_conv_taps(kx - pad, st, W, Wo, &ox_lo, &ox_hi);
        int64_t oy = j->p0 / Wo, ox = j->p0 % Wo;
        for (int64_t i = 0; i < j->nb; oy++, ox = 0) {
            int64_t run = min64(Wo - ox, j->nb - i), iy = oy * st + ky - pad;
            const float *src = col + i;
            i += run;
            if (iy < 0 || iy >= H)
                continue;
            int64_t lo = min64(run, max64(0, ox_lo - ox)), hi = max64(lo, min64(run, ox_hi - ox));
            /* src[t] came from dr[at + t * st] */
            float *dr = dx + iy * W;
            int64_t at = ox * st + kx - pad;
            if (st == 1)
                axpy(dr + (at + lo), src + lo, 1.0f, hi - lo);
            else
                for (int64_t t = lo; t < hi; t++)
                    dr[at + t * st] += src[t];
        }
    }
}

/* The direct loops below need no scratch: the fallback when the column matrix cannot be
 * allocated. */
typedef struct conv_job {
    const ww_conv2d_params *p;
    const float *a, *b; /* dx: dy, w; dw: x, dy */
    float *out;
} conv_job;

/* dx[b, ci, iy, ix] += sum over (co, ky, kx) of w[co, ci, ky, kx] * dy[b, co, oy, ox] where
 * iy = oy * stride - pad + ky, ix = ox * stride - pad + kx: scattered from dy within one input
 * plane (b, ci), which is one task. */
static void conv_dx_planes(const void *ctx, int64_t r0, int64_t r1)
{
    const conv_job *j = ctx;
    const ww_conv2d_params *p = j->p;
    int64_t Cin = p->Cin, Cout = p->Cout, H = p->H, W = p->W, Ho = p->Ho, Wo = p->Wo, k = p->k;
    int64_t s = p->stride, pad = p->pad;
    for (int64_t r = r0; r < r1; r++) { /* r = b * Cin + ci */
        int64_t b = r / Cin, ci = r % Cin;
        float *restrict dx = j->out + r * H * W;
        for (int64_t co = 0; co < Cout; co++) {
            const float *restrict dy = j->a + (b * Cout + co) * Ho * Wo;
            const float *wk = j->b + (co * Cin + ci) * k * k;
            for (int64_t ky = 0; ky < k; ky++) {
                int64_t oy0, oy1, ox0, ox1;
                ww_conv_taps(ky - pad, s, H, Ho, &oy0, &oy1);
                for (int64_t kx = 0; kx < k; kx++) {
                    float wv = wk[ky * k + kx];
                    ww_conv_taps(kx - pad, s, W, Wo, &ox0, &ox1);
                    for (int64_t oy = oy0; oy < oy1; oy++) {
                        /* element (iy, ix) of output pixel ox is dx[at + ox * s] */
                        int64_t at = (oy * s + ky - pad) * W + kx - pad;
                        const float *restrict g = dy + oy * Wo;
                        if (s == 1)
                            axpy(dx + at + ox0, g + ox0, wv, ox1 - ox0);
                        else
                            for (int64_t ox = ox0; ox < ox1; ox++)
                                dx[at + ox * s] += wv * g[ox];
                    }
                }
            }
        }
    }
}

/* dw[co, ci, ky, kx] += sum over (b, oy, ox) of dy[b, co, oy, ox] * x'[b, ci, iy, ix]. One
 * (co, ci) pair per item: its k * k sums run over the positions in a fixed order. */
static void conv_dw_pairs(const void *ctx, int64_t r0, int64_t r1)
{
    const conv_job *j = ctx;
    const ww_conv2d_params *p = j->p;
    int64_t Cin = p->Cin, Cout = p->Cout, H = p->H, W = p->W, Ho = p->Ho, Wo = p->Wo, k = p->k;
    int64_t s = p->stride, pad = p->pad;
    int relu = (p->flags & WW_CONV_RELU_IN) != 0;
    for (int64_t r = r0; r < r1; r++) { /* r = co * Cin + ci */
        int64_t co = r / Cin, ci = r % Cin;
        float *dw = j->out + r * k * k;
        for (int64_t ky = 0; ky < k; ky++) {
            int64_t oy0, oy1;
            ww_conv_taps(ky - pad, s, H, Ho, &oy0, &oy1);
            for (int64_t kx = 0; kx < k; kx++) {
                int64_t ox0, ox1;
                ww_conv_taps(kx - pad, s, W, Wo, &ox0, &ox1);
                float acc = 0.0f;
                for (int64_t b = 0; b < p->B; b++) {
                    const float *x = j->a + (b * Cin + ci) * H * W;
                    const float *dy = j->b + (b * Cout + co) * Ho * Wo;
                    for (int64_t oy = oy0; oy < oy1; oy++) {
                        int64_t at = (oy * s + ky - pad) * W + kx - pad;
                        const float *g = dy + oy * Wo;
                        if (s == 1) {
                            acc += relu ? dot_relu(g + ox0, x + at + ox0, ox1 - ox0)
                                        : dot(g + ox0, x + at + ox0, ox1 - ox0);
                            continue;
                        }
                        for (int64_t ox = ox0; ox < ox1; ox++) {
                            float v = x[at + ox * s];
                            if (relu && !(v > 0.0f))
                                v = 0.0f;
                            acc += g[ox] * v;
                        }
                    }
                }
                dw[ky * k + kx] += acc;
            }
        }
    }
}

/* Pixels per band and the column scratch for them (*col NULL for a pointwise conv, which needs
 * none). 0 when the scratch cannot be allocated. */
static int conv_scratch(const ww_conv2d_params *p, int64_t *nb, float **col)
{
    int64_t HWo = (int64_t)p->Ho * p->Wo, K = (int64_t)p->Cin * p->k * p->k;
    *col = NULL;
    if (ww_conv_pointwise(p)) {
        *nb = HWo;
        return 1;
    }
    *nb = ww_conv_band(K, HWo);
    *col = malloc((size_t)(K * *nb) * sizeof(float));
    return *col != NULL;
}

/* dx += the gradient of dy [B, Cout, Ho*Wo] through w [Cout, K]. */
static void conv_backward_input(const ww_conv2d_params *p, const float *dy, const float *w,
                                float *dx, ww_threads *pool)
{
    int64_t HWo = (int64_t)p->Ho * p->Wo, HWi = (int64_t)p->H * p->W;
    int64_t K = (int64_t)p->Cin * p->k * p->k, nb;
    float *col;
    if (p->Cout == 0 || K == 0 || HWo == 0)
        return;
    if (!conv_scratch(p, &nb, &col)) {
        conv_job j = {p, dy, w, dx};
        ww_parallel_ranges(pool, (int64_t)p->B * p->Cin, (int64_t)p->Cout * p->k * p->k * HWo * 2,
                           conv_dx_planes, &j);
        return;
    }
    int pointwise = col == NULL;
    /* col = w^T dy band; a pointwise conv adds it straight onto dx */
    gemm_desc g = {.M = K, .K = p->Cout, .batch = 1, .a = {w, 1, K, 0},
                   .ep = {.accumulate = pointwise}};
    for (int64_t b = 0; b < p->B; b++)
        for (int64_t p0 = 0; p0 < HWo; p0 += nb) {
            float *dxb = dx + b * (int64_t)p->Cin * HWi;
            g.N = min64(nb, HWo - p0);
            g.b = (mat){dy + b * (int64_t)p->Cout * HWo + p0, HWo, 1, 0};
            g.c = pointwise ? dxb + p0 : col;
            g.c_rs = pointwise ? HWi : g.N;
            ww_cpu_gemm(pool, &g);
            if (pointwise)
                continue;
            col2im_job cj = {p, col, dxb, p0, g.N};
            ww_parallel_ranges(pool, p->Cin, (int64_t)p->k * p->k * g.N, col2im_channels, &cj);
        }
    free(col);
}

/* dw [Cout, K] += the gradient of dy [B, Cout, Ho*Wo] through the input x. */
static void conv_backward_weight(const ww_conv2d_params *p, const float *x, const float *dy,
                                 float *dw, ww_threads *pool)
{
    int64_t HWo = (int64_t)p->Ho * p->Wo, HWi = (int64_t)p->H * p->W;
    int64_t K = (int64_t)p->Cin * p->k * p->k, nb;
    float *col;
    if (p->Cout == 0 || K == 0 || HWo == 0)
        return;
    if (!conv_scratch(p, &nb, &col)) {
        conv_job j = {p, x, dy, dw};
        ww_parallel_ranges(pool, (int64_t)p->Cout * p->Cin,
                           (int64_t)p->B * p->k * p->k * HWo * 2, conv_dw_pairs, &j);
        return;
    }
    /* dw += dy band [Cout, n] times the band's column matrix transposed [n, K] */
    gemm_desc g = {.M = p->Cout, .N = K, .batch = 1, .c = dw, .c_rs = K,
                   .ep = {.accumulate = 1}};
    for (int64_t b = 0; b < p->B; b++)
        for (int64_t p0 = 0; p0 < HWo; p0 += nb) {
            const float *xb = x + b * (int64_t)p->Cin * HWi;
            g.K = min64(nb, HWo - p0);
            g.a = (mat){dy + b * (int64_t)p->Cout * HWo + p0, HWo, 1, 0};
            if (col) {
                ww_cpu_im2col(pool, p, xb, p0, g.K, col);
                g.b = (mat){col, 1, g.K, 0};
            } else {
                g.b = (mat){xb + p0, 1, HWi, 0};
            }
            ww_cpu_gemm(pool, &g);
        }
    free(col);
}

/* ---- channel sums (bias gradients) -------------------------------------------------------------
 * sum[c] += sum over (b, i) of t[b, c, i], one channel per item. */
typedef struct chan_job {
    const ww_channels_params *p;
    const float *t;
    float *sum;
} chan_job;

static void chan_sums(const void *ctx, int64_t c0, int64_t c1)
{
    const chan_job *j = ctx;
    int64_t C = j->p->C, HW = j->p->HW;
    for (int64_t c = c0; c < c1; c++) {
        float acc = 0.0f;
        for (int64_t b = 0; b < j->p->B; b++) {
            const float *t = j->t + (b * C + c) * HW;
            for (int64_t i = 0; i < HW; i++)
                acc += t[i];
        }
        j->sum[c] += acc;
    }
}

/* ---- bilinear resize backward ------------------------------------------------------------------
 * The forward's transpose, one plane per item: every output pixel sends (1 - f) and f of its
 * gradient to the two input rows (columns) it read, with the sample position of the shader:
 * n = o * (in - 1), i0 = n / (out - 1), f = (n - i0 * (out - 1)) / (out - 1) (integers, exact);
 * one output sample reads input 0. */
typedef struct resize_job {
    const ww_resize_params *p;
    const float *dy;
    float *dx;
} resize_job;

static void resize_coord(int64_t o, int64_t in, int64_t out, int64_t *i0, int64_t *i1, float *f)
{
    *i0 = 0;
    *f = 0.0f;
    if (out > 1) {
        int64_t n = o * (in - 1);
        *i0 = n / (out - 1);
        *f = (float)(n - *i0 * (out - 1)) / (float)(out - 1);
    }
    *i1 = min64(*i0 + 1, in - 1);
}

static void resize_planes(const void *ctx, int64_t r0, int64_t r1)
{
    const resize_job *j = ctx;
    int64_t H = j->p->H, W = j->p->W, Ho = j->p->Ho, Wo = j->p->Wo;
    for (int64_t r = r0; r < r1; r++) {
        const float *dy = j->dy + r * Ho * Wo;
        float *dx = j->dx + r * H * W;
        for (int64_t oy = 0; oy < Ho; oy++) {
            int64_t y0, y1;
            float fy;
            resize_coord(oy, H, Ho, &y0, &y1, &fy);
            for (int64_t ox = 0; ox < Wo; ox++) {
                int64_t x0, x1;
                float fx, g = dy[oy * Wo + ox];
                resize_coord(ox, W, Wo, &x0, &x1, &fx);
                float top = (1.0f - fy) * g, bottom = fy * g;
                dx[y0 * W + x0] += (1.0f - fx) * top;
                dx[y0 * W + x1] += fx * top;
                dx[y1 * W + x0] += (1.0f - fx) * bottom;
                dx[y1 * W + x1] += fx * bottom;
            }
        }
    }
}

/* ---- relu backward ---------------------------------------------------------------------------- */
typedef struct elt_job {
    const float *x, *dy;
    float *dx;
} elt_job;

static void relu_bwd_range(const void *ctx, int64_t i0, int64_t i1)
{
    const elt_job *j = ctx;
    for (int64_t i = i0; i < i1; i++)
        j->dx[i] += j->x[i] > 0.0f ? j->dy[i] : 0.0f;
}

void ww_cpu_run_conv_backward(const ww_node *n, void *const *ptr, ww_threads *pool)
{
    switch (n->op) {
    case WW_OP_CONV2D_BWD_INPUT:
        conv_backward_input(&n->p.conv2d, ptr[0], ptr[1], ptr[2], pool);
        break;
    case WW_OP_CONV2D_BWD_WEIGHT:
        conv_backward_weight(&n->p.conv2d, ptr[0], ptr[1], ptr[2], pool);
        break;
    case WW_OP_CHANNEL_SUM: {
        chan_job j = {&n->p.channels, ptr[0], ptr[1]};
        ww_parallel_ranges(pool, n->p.channels.C, (int64_t)n->p.channels.B * n->p.channels.HW, chan_sums,
               &j);
        break;
    }
    case WW_OP_RESIZE_BWD: {
        const ww_resize_params *p = &n->p.resize;
        if (p->H == 0 || p->W == 0)
            break;
        resize_job j = {p, ptr[0], ptr[1]};
        ww_parallel_ranges(pool, p->planes, (int64_t)p->Ho * p->Wo * 16, resize_planes, &j);
        break;
    }
    case WW_OP_RELU_BWD: {
        elt_job j = {ptr[0], ptr[1], ptr[2]};
        ww_parallel_ranges(pool, n->p.eltwise.n, 2, relu_bwd_range, &j);
        break;
    }
    default:
        break;
    }
}
