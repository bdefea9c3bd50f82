/* The CPU matrix product and im2col of cpu_ops.c, shared with the convolution backward kernels
 * (cpu_conv_backward.c) so that both directions run on one GEMM and one column layout. */
#ifndef WW_CPU_GEMM_H
#define WW_CPU_GEMM_H

#include <stdint.h>

#include "ww_internal.h"

/* C(m, n) of batch i (=|+=) epi(sum_k A(m, k) B(k, n)), all strides in elements. */
typedef struct mat {
    const float *p;
    int64_t rs, cs; /* element (r, c) = p[r*rs + c*cs] */
    int64_t bs;     /* batch stride, 0 = shared */
} mat;

typedef struct epilogue {
    const float *bias; /* NULL: none */
    int bias_per_row;  /* bias[m] instead of bias[n] */
    int gelu, relu, accumulate;
} epilogue;

typedef struct gemm_desc {
    int64_t M, N, K, batch;
    mat a, b;
    float *c;
    int64_t c_rs, c_bs;
    epilogue ep;
} gemm_desc;

/* The whole product, threaded (by OpenBLAS or by the pool). The batches run in parallel, so
 * they must not share an output; the result does not depend on thread timing. */
void ww_cpu_gemm(ww_threads *pool, const gemm_desc *g);

/* Column scratch of a convolution is capped at this many floats (16 MiB): longer pixel ranges
 * go in bands. */
#define IM2COL_BUDGET_FLOATS ((int64_t)1 << 22)

/* Pixels per band of a [rows, pixels] column matrix kept within IM2COL_BUDGET_FLOATS: at most
 * pixels, at least one however many rows there are. */
static inline int64_t ww_conv_band(int64_t rows, int64_t pixels)
{
    int64_t nb = IM2COL_BUDGET_FLOATS / (rows > 1 ? rows : 1);
    if (nb < 1)
        nb = 1;
    return nb < pixels ? nb : pixels;
}

/* Whether the im2col matrix of p is the image itself (1x1, stride 1, no padding, no relu), so
 * that the products read x [Cin, H*W] in place. */
static inline int ww_conv_pointwise(const ww_conv2d_params *p)
{
    return p->k == 1 && p->stride == 1 && p->pad == 0 && !(p->flags & WW_CONV_RELU_IN);
}

/* The output positions o in [0, count) whose tap o * stride + off (off may be negative) lies in
 * [0, n): [*lo, *hi), empty when lo == hi. */
static inline void ww_conv_taps(int64_t off, int64_t stride, int64_t n, int64_t count,
                                int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = n - off <= 0 ? 0 : (n - off + stride - 1) / stride;
    *lo = a < count ? a : count;
    *hi = b < count ? b : count;
    if (*hi < *lo)
        *hi = *lo;
}

/* col [Cin*k*k, nb] = the im2col matrix of one image x [Cin, H, W] (relu applied when p->flags
 * holds WW_CONV_RELU_IN) for output pixels [p0, p0 + nb) in row-major order: row
 * (ci * k + ky) * k + kx, column i holds the tap (ky, kx) of channel ci read by pixel p0 + i,
 * zero outside the image. Rows are spread over the pool. */
void ww_cpu_im2col(ww_threads *pool, const ww_conv2d_params *p, const float *x, int64_t p0,
                   int64_t nb, float *col);

#endif
