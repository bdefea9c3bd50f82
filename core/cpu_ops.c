/* CPU reference kernels: one function per op, driven by the parameter structs of ww_params.h
 * (the same words the shaders read as push constants), so both backends read one description of
 * every op. ptr[i] is the host address of binding i's element 0; off[] is ignored here.
 *
 * Shapes in comments are slowest dimension first. Heavy products (gemm, convolutions, attention
 * blocks) go to CBLAS when WW_HAVE_CBLAS is defined and to a packed, register-tiled C kernel
 * otherwise. Work is split over the pool with ww_threads_parallel_for.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef WW_HAVE_CBLAS
#include <cblas.h>
#endif

#include "cpu_gemm.h"
#include "ww_internal.h"

/* ---- Small helpers ------------------------------------------------------------------------ */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* GNU C vector extension (GCC and Clang): 4 floats, lowered to SSE2 on x86-64 and NEON on arm64.
 * At -O2 GCC's vectoriser skips loops with selects and unknown trip counts, which is what the
 * hot loops (gemm micro-kernel, softmax, probe) are, so they say the SIMD width themselves. */
typedef float v4f __attribute__((vector_size(16)));

static v4f v4_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void v4_store(float *p, v4f v) { memcpy(p, &v, sizeof(v)); }

static v4f v4_splat(float x) { return (v4f){x, x, x, x}; }

static float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* y[i] = x[i] > 0 ? x[i] : 0 (NaN gives 0); y may be x. Spelled per lane of a vector because
 * GCC turns exactly that into maxps, where the plain loop stays scalar and branchy at -O2. */
static void relu_span(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4f v = v4_load(x + i), r;
        for (int l = 0; l < 4; l++)
            r[l] = v[l] > 0.0f ? v[l] : 0.0f;
        v4_store(y + i, r);
    }
    for (; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* ---- Matrix products ------------------------------------------------------------------------
 * One description (gemm_desc, cpu_gemm.h) serves gemm, the convolutions in both directions and
 * the attention blocks. */

/* c[j] (=|+=) epi(v[j] + bias) for row m, columns n0 + j, j < nn. v == NULL reads zeros; v may
 * be c. Each step is its own loop over a chunk so that the flags are not tested per element. */
static void epilogue_row(const epilogue *ep, int64_t m, int64_t n0, int64_t nn, const float *v,
                         float *c)
{
    float t[256];
    for (int64_t j0 = 0; j0 < nn; j0 += 256) {
        int64_t len = min64(256, nn - j0);
        if (v)
            memcpy(t, v + j0, (size_t)len * sizeof(float));
        else
            memset(t, 0, (size_t)len * sizeof(float));
        if (ep->bias && ep->bias_per_row)
            for (int64_t j = 0; j < len; j++)
                t[j] += ep->bias[m];
        else if (ep->bias)
            for (int64_t j = 0; j < len; j++)
                t[j] += ep->bias[n0 + j0 + j];
        if (ep->gelu)
            for (int64_t j = 0; j < len; j++)
                t[j] = gelu(t[j]);
        if (ep->relu)
            relu_span(t, t, len);
        if (ep->accumulate)
            for (int64_t j = 0; j < len; j++)
                c[j0 + j] += t[j];
        else
            memcpy(c + j0, t, (size_t)len * sizeof(float));
    }
}

/* Plain C product. A region of at most MT x NT outputs accumulates in a private tile; K goes in
 * steps of KC with B packed into NR-column panels (KC x NT, L2-sized) and A into MR-row panels
 * (MC x KC, L1/L2-sized), which the MR x NR micro-kernel streams. */
enum { MR = 4, NR = 8, MC = 64, KC = 256, MT = 256, NT = 128 };

static int64_t region_a_floats(int64_t mt) { return min64(round_up(mt, MR), MC) * KC; }

/* Scratch floats gemm_region needs for regions of up to mt x nt. */
static int64_t region_scratch_floats(int64_t mt, int64_t nt)
{
    int64_t np = round_up(nt, NR);
    return region_a_floats(mt) + KC * np + round_up(mt, MR) * np;
}

/* ap[(i / MR) * kc * MR + k * MR + i % MR] = A(i, k), rows >= mc zero. */
static void pack_a(const float *a, int64_t rs, int64_t cs, int64_t mc, int64_t kc, float *ap)
{
    for (int64_t i0 = 0; i0 < mc; i0 += MR)
        for (int64_t k = 0; k < kc; k++)
            for (int64_t i = i0; i < i0 + MR; i++)
                *ap++ = i < mc ? a[i * rs + k * cs] : 0.0f;
}

/* bp[(j / NR) * kc * NR + k * NR + j % NR] = B(k, j), columns >= nc zero. */
static void pack_b(const float *b, int64_t rs, int64_t cs, int64_t kc, int64_t nc, float *bp)
{
    for (int64_t j0 = 0; j0 < nc; j0 += NR)
        for (int64_t k = 0; k < kc; k++)
            for (int64_t j = j0; j < j0 + NR; j++)
                *bp++ = j < nc ? b[k * rs + j * cs] : 0.0f;
}

/* c[4][8] (row stride ldc) += ap panel (kc x 4) x bp panel (kc x 8). Eight accumulators of 4
 * lanes: enough independent adds to cover the add latency with SSE2's 16 registers. */
static void micro_4x8(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc)
{
    v4f c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    for (int64_t k = 0; k < kc; k++, ap += MR, bp += NR) {
        v4f b0 = v4_load(bp), b1 = v4_load(bp + 4), a;
        a = v4_splat(ap[0]);
        c00 += a * b0;
        c01 += a * b1;
        a = v4_splat(ap[1]);
        c10 += a * b0;
        c11 += a * b1;
        a = v4_splat(ap[2]);
        c20 += a * b0;
        c21 += a * b1;
        a = v4_splat(ap[3]);
        c30 += a * b0;
        c31 += a * b1;
    }
    v4_store(c, v4_load(c) + c00);
    v4_store(c + 4, v4_load(c + 4) + c01);
    v4_store(c + ldc, v4_load(c + ldc) + c10);
    v4_store(c + ldc + 4, v4_load(c + ldc + 4) + c11);
    v4_store(c + 2 * ldc, v4_load(c + 2 * ldc) + c20);
    v4_store(c + 2 * ldc + 4, v4_load(c + 2 * ldc + 4) + c21);
    v4_store(c + 3 * ldc, v4_load(c + 3 * ldc) + c30);
    v4_store(c + 3 * ldc + 4, v4_load(c + 3 * ldc + 4) + c31);
}

/* Outputs [m0, m0+mt) x [n0, n0+nt) of batch bi, mt <= MT, nt <= NT, with
 * region_scratch_floats(mt, nt) floats of scratch. */
static void gemm_region(const gemm_desc *g, int64_t bi, int64_t m0, int64_t mt, int64_t n0,
                        int64_t nt, float *scratch)
{
    const float *a = g->a.p + bi * g->a.bs + m0 * g->a.rs;
    const float *b = g->b.p + bi * g->b.bs + n0 * g->b.cs;
    int64_t np = round_up(nt, NR);
    float *ap = scratch, *bp = ap + region_a_floats(mt), *tile = bp + KC * np;
    memset(tile, 0, (size_t)(round_up(mt, MR) * np) * sizeof(float));
    for (int64_t k0 = 0; k0 < g->K; k0 += KC) {
        int64_t kc = min64(KC, g->K - k0);
        pack_b(b + k0 * g->b.rs, g->b.rs, g->b.cs, kc, nt, bp);
        for (int64_t i0 = 0; i0 < mt; i0 += MC) {
            int64_t mc = min64(MC, mt - i0);
            pack_a(a + i0 * g->a.rs + k0 * g->a.cs, g->a.rs, g->a.cs, mc, kc, ap);
            for (int64_t i = 0; i < mc; i += MR)
                for (int64_t j = 0; j < nt; j += NR)
                    micro_4x8(kc, ap + i * kc, bp + j * kc, tile + (i0 + i) * np + j, np);
        }
    }
    float *c = g->c + bi * g->c_bs + m0 * g->c_rs + n0;
    for (int64_t i = 0; i < mt; i++)
        epilogue_row(&g->ep, m0 + i, n0, nt, tile + i * np, c + i * g->c_rs);
}

/* The same region with no scratch at all: the fallback when scratch cannot be allocated. */
static void gemm_region_direct(const gemm_desc *g, int64_t bi, int64_t m0, int64_t mt,
                               int64_t n0, int64_t nt)
{
    const float *a = g->a.p + bi * g->a.bs, *b = g->b.p + bi * g->b.bs;
    float *c = g->c + bi * g->c_bs;
    for (int64_t m = m0; m < m0 + mt; m++)
        for (int64_t n = n0; n < n0 + nt; n++) {
            float s = 0.0f;
            for (int64_t k = 0; k < g->K; k++)
                s += a[m * g->a.rs + k * g->a.cs] * b[k * g->b.rs + n * g->b.cs];
            epilogue_row(&g->ep, m, n, 1, &s, c + m * g->c_rs + n);
        }
}

/* The whole product on the calling thread (attention blocks); scratch as for regions of
 * min(M, MT) x min(N, NT). */
static void gemm_serial(const gemm_desc *g, float *scratch)
{
    for (int64_t bi = 0; bi < g->batch; bi++)
        for (int64_t m0 = 0; m0 < g->M; m0 += MT)
            for (int64_t n0 = 0; n0 < g->N; n0 += NT)
                gemm_region(g, bi, m0, min64(MT, g->M - m0), n0, min64(NT, g->N - n0), scratch);
}

typedef struct plain_job {
    const gemm_desc *g;
    int64_t mtiles, ntiles;
} plain_job;

static void gemm_plain_task(int64_t t, void *user)
{
    const plain_job *j = user;
    const gemm_desc *g = j->g;
    int64_t bi = t / (j->mtiles * j->ntiles), r = t % (j->mtiles * j->ntiles);
    int64_t m0 = r / j->ntiles * MT, n0 = r % j->ntiles * NT;
    int64_t mt = min64(MT, g->M - m0), nt = min64(NT, g->N - n0);
    float *scratch = malloc((size_t)region_scratch_floats(mt, nt) * sizeof(float));
    if (!scratch) {
        gemm_region_direct(g, bi, m0, mt, n0, nt);
        return;
    }
    gemm_region(g, bi, m0, mt, n0, nt, scratch);
    free(scratch);
}

static void gemm_plain(ww_threads *pool, const gemm_desc *g)
{
    plain_job j = {g, (g->M + MT - 1) / MT, (g->N + NT - 1) / NT};
    ww_threads_parallel_for(pool, g->batch * j.mtiles * j.ntiles, gemm_plain_task, &j);
}

#ifdef WW_HAVE_CBLAS
/* A rows x cols operand with strides (rs, cs) as a row-major CBLAS matrix: whether it is
 * transposed and its leading dimension. 0 when CBLAS cannot describe it (no unit stride,
 * overlapping rows, an int overflow). A dimension of 1 makes its stride irrelevant. */
static int blas_operand(int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                        enum CBLAS_TRANSPOSE *tr, int *ld)
{
    if (rows > INT_MAX || cols > INT_MAX)
        return 0;
    if (cs == 1 || cols == 1) {
        int64_t l = rows == 1 ? cols : rs;
        if (l >= cols && l <= INT_MAX) {
            *tr = CblasNoTrans;
            *ld = (int)l;
            return 1;
        }
    }
    if (rs == 1 || rows == 1) {
        int64_t l = cols == 1 ? rows : cs;
        if (l >= rows && l <= INT_MAX) {
            *tr = CblasTrans;
            *ld = (int)l;
            return 1;
        }
    }
    return 0;
}

typedef struct epi_job {
    const epilogue *ep;
    const float *v; /* NULL: zeros */
    int64_t v_rs, m0, N;
    float *c;
    int64_t c_rs;
} epi_job;

static void epi_rows(const void *ctx, int64_t r0, int64_t r1)
{
    const epi_job *e = ctx;
    for (int64_t r = r0; r < r1; r++)
        epilogue_row(e->ep, e->m0 + r, 0, e->N, e->v ? e->v + r * e->v_rs : NULL,
                     e->c + r * e->c_rs);
}

/* Rows x N epilogue pass on the pool. */
static void epilogue_pass(ww_threads *pool, const epilogue *ep, const float *v, int64_t v_rs,
                          int64_t m0, int64_t rows, int64_t N, float *c, int64_t c_rs)
{
    epi_job e = {ep, v, v_rs, m0, N, c, c_rs};
    ww_parallel_ranges(pool, rows, N * 4, epi_rows, &e);
}

/* The product through one cblas_sgemm per batch (OpenBLAS threads it itself, so it is called
 * from this thread only) with the epilogue around it. Returns 0, having done nothing, when CBLAS
 * cannot take these strides or scratch is missing. */
static int gemm_blas(ww_threads *pool, const gemm_desc *g)
{
    enum CBLAS_TRANSPOSE ta, tb;
    int lda, ldb;
    int64_t ldc = g->M == 1 ? g->N : g->c_rs;
    if (g->K == 0 || g->N > INT_MAX || ldc < g->N || ldc > INT_MAX ||
        !blas_operand(g->M, g->K, g->a.rs, g->a.cs, &ta, &lda) ||
        !blas_operand(g->K, g->N, g->b.rs, g->b.cs, &tb, &ldb))
        return 0;
    const epilogue *ep = &g->ep;
    int nonlinear = ep->gelu || ep->relu;
    /* A nonlinearity before an accumulate needs the raw product apart from c: bands of rows. */
    int64_t band = 0;
    float *tmp = NULL;
    if (nonlinear && ep->accumulate) {
        band = min64(g->M, max64(1, ((int64_t)1 << 20) / g->N));
        tmp = malloc((size_t)(band * g->N) * sizeof(float));
        if (!tmp)
            return 0;
    }
    for (int64_t bi = 0; bi < g->batch; bi++) {
        const float *a = g->a.p + bi * g->a.bs, *b = g->b.p + bi * g->b.bs;
        float *c = g->c + bi * g->c_bs;
        if (!nonlinear) {
            float beta = ep->accumulate ? 1.0f : 0.0f;
            if (ep->bias) {
                epilogue_pass(pool, ep, NULL, 0, 0, g->M, g->N, c, g->c_rs);
                beta = 1.0f;
            }
            cblas_sgemm(CblasRowMajor, ta, tb, (int)g->M, (int)g->N, (int)g->K, 1.0f, a, lda, b,
                        ldb, beta, c, (int)ldc);
        } else if (!ep->accumulate) {
            cblas_sgemm(CblasRowMajor, ta, tb, (int)g->M, (int)g->N, (int)g->K, 1.0f, a, lda, b,
                        ldb, 0.0f, c, (int)ldc);
            epilogue_pass(pool, ep, c, g->c_rs, 0, g->M, g->N, c, g->c_rs);
        } else {
            for (int64_t m0 = 0; m0 < g->M; m0 += band) {
                int64_t rows = min64(band, g->M - m0);
                cblas_sgemm(CblasRowMajor, ta, tb, (int)rows, (int)g->N, (int)g->K, 1.0f,
                            a + m0 * g->a.rs, lda, b, ldb, 0.0f, tmp, (int)g->N);
                epilogue_pass(pool, ep, tmp, g->N, m0, rows, g->N, c + m0 * g->c_rs, g->c_rs);
            }
        }
    }
    free(tmp);
    return 1;
}
#endif

void ww_cpu_gemm(ww_threads *pool, const gemm_desc *g)
{
    if (g->M <= 0 || g->N <= 0 || g->batch <= 0)
        return;
#ifdef WW_HAVE_CBLAS
    if (gemm_blas(pool, g))
        return;
#endif
    gemm_plain(pool, g);
}

/* ---- GEMM ------------------------------------------------------------------------------------
 * c[batch, M, N] (=|+=) gelu?(a[batch, M, K] b[batch, K, N] + bias); the TRANS flags are already
 * in the strides. */
static void gemm_forward(const ww_gemm_params *p, void *const *ptr, ww_threads *pool)
{
    gemm_desc g = {
        .M = p->M, .N = p->N, .K = p->K, .batch = p->batch,
        .a = {ptr[0], p->a_sm, p->a_sk, p->a_sb},
        .b = {ptr[1], p->b_sk, p->b_sn, p->b_sb},
        .c = ptr[3], .c_rs = p->c_sm, .c_bs = p->c_sb,
        .ep = {
            .bias = (p->flags & WW_HAS_BIAS) ? ptr[2] : NULL,
            .bias_per_row = (p->flags & WW_GEMM_BIAS_ROW) != 0,
            .gelu = (p->flags & WW_GEMM_GELU) != 0,
            .accumulate = (p->flags & WW_GEMM_ACCUMULATE) != 0,
        },
    };
    ww_cpu_gemm(pool, &g);
}

/* ---- LAYERNORM -------------------------------------------------------------------------------
 * y[rows, D] = (x - mean) / sqrt(var + eps) * w + b; y may be x. */
typedef struct layernorm_job {
    const ww_layernorm_params *p;
    const float *x, *w, *b;
    float *y;
} layernorm_job;

static void layernorm_rows(const void *ctx, int64_t r0, int64_t r1)
{
    const layernorm_job *j = ctx;
    int64_t D = j->p->D;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * (int64_t)j->p->x_rs;
        float *y = j->y + r * (int64_t)j->p->y_rs;
        /* Double sums: one pass of float would lose digits on rows with a large mean. */
        double sum = 0.0;
        for (int64_t d = 0; d < D; d++)
            sum += x[d];
        double mean = sum / (double)D, sq = 0.0;
        for (int64_t d = 0; d < D; d++)
            sq += ((double)x[d] - mean) * ((double)x[d] - mean);
        float mu = (float)mean, rstd = (float)(1.0 / sqrt(sq / (double)D + (double)j->p->eps));
        for (int64_t d = 0; d < D; d++)
            y[d] = (x[d] - mu) * rstd * j->w[d] + j->b[d];
    }
}

static void layernorm_forward(const ww_layernorm_params *p, void *const *ptr, ww_threads *pool)
{
    if (p->D == 0)
        return;
    layernorm_job j = {p, ptr[0], ptr[1], ptr[2], ptr[3]};
    ww_parallel_ranges(pool, p->rows, (int64_t)p->D * 8, layernorm_rows, &j);
}

/* ---- ELTWISE ---------------------------------------------------------------------------------
 * y[n] = a + b | gelu(a) | relu(a) | a; y may be a or b. */
typedef struct eltwise_job {
    const ww_eltwise_params *p;
    const float *a, *b;
    float *y;
} eltwise_job;

static void eltwise_range(const void *ctx, int64_t i0, int64_t i1)
{
    const eltwise_job *j = ctx;
    const float *a = j->a, *b = j->b;
    float *y = j->y;
    switch (j->p->op) {
    case WW_ELT_ADD:
        for (int64_t i = i0; i < i1; i++)
            y[i] = a[i] + b[i];
        break;
    case WW_ELT_GELU:
        for (int64_t i = i0; i < i1; i++)
            y[i] = gelu(a[i]);
        break;
    case WW_ELT_RELU:
        relu_span(y + i0, a + i0, i1 - i0);
        break;
    case WW_ELT_COPY:
        if (y != a)
            memmove(y + i0, a + i0, (size_t)(i1 - i0) * sizeof(float));
        break;
    case WW_ELT_ZERO:
        memset(y + i0, 0, (size_t)(i1 - i0) * sizeof(float));
        break;
    }
}

static void eltwise_forward(const ww_eltwise_params *p, void *const *ptr, ww_threads *pool)
{
    eltwise_job j = {p, ptr[0], ptr[1], ptr[2]};
    ww_parallel_ranges(pool, p->n, p->op == WW_ELT_GELU ? 16 : 2, eltwise_range, &j);
}

/* ---- ROPE ------------------------------------------------------------------------------------
 * x[B, N, H, Dh] rotated in place: the first half of each head by the token's y, the second by
 * its x; table[max_pos, Dh/4, 2] holds (cos, sin). */
typedef struct rope_job {
    const ww_rope_params *p;
    float *x;
    const uint32_t *pos;
    const float *table;
} rope_job;

static void rope_tokens(const void *ctx, int64_t r0, int64_t r1)
{
    const rope_job *j = ctx;
    const ww_rope_params *p = j->p;
    int64_t q = p->Dh / 4, half = p->Dh / 2;
    float sign = p->inverse ? -1.0f : 1.0f;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / p->N, t = r % p->N;
        const uint32_t *pos = j->pos + b * (int64_t)p->pos_sb + t * 2;
        uint32_t yx[2] = {pos[0], pos[1]};
        for (int s = 0; s < 2; s++)
            if (yx[s] > p->max_pos - 1)
                yx[s] = p->max_pos - 1;
        for (int64_t h = 0; h < p->H; h++) {
            float *base = j->x + b * (int64_t)p->x_sb + t * (int64_t)p->x_st + h * (int64_t)p->x_sh;
            for (int s = 0; s < 2; s++) {
                float *xs = base + s * half;
                const float *cs = j->table + (int64_t)yx[s] * q * 2;
                for (int64_t i = 0; i < q; i++) {
                    float c = cs[2 * i], sn = sign * cs[2 * i + 1];
                    float u = xs[i], w = xs[i + q];
                    xs[i] = u * c - w * sn;
                    xs[i + q] = w * c + u * sn;
                }
            }
        }
    }
}

static void rope_forward(const ww_rope_params *p, void *const *ptr, ww_threads *pool)
{
    if (p->max_pos == 0 || p->N == 0)
        return;
    rope_job j = {p, ptr[0], ptr[1], ptr[2]};
    ww_parallel_ranges(pool, (int64_t)p->B * p->N, (int64_t)p->H * p->Dh * 6, rope_tokens, &j);
}

/* ---- ATTENTION -------------------------------------------------------------------------------
 * o[B, Nq, H, Dh] = softmax(q k^T * scale) v per batch and head, lse[B, H, Nq] = log-sum-exp of
 * each score row. Flash style: a task owns ATT_BQ queries of one (batch, head) and streams the
 * keys in blocks of bk, keeping a running max, sum and output accumulator per query, so only an
 * ATT_BQ x bk score tile exists at a time. */
enum { ATT_BQ = 64 };

/* 8 floats: two SSE2 registers, or one in the AVX2 variant of the softmax below. No 8-float
 * vector crosses a function boundary (its ABI differs with AVX), hence one self-contained body. */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));

/* One row of scores s[bk] (bk a multiple of 8, missing keys at -inf) against the running max *m:
 * raises *m to the row's max, replaces s by exp(s - *m) and returns their sum.
 * The exp is Cephes expf for x <= 0 (x = n ln2 + r, degree-6 polynomial for e^r; ~2 ulp); lanes
 * below -87, -inf included, give e^-87 (~1.6e-38, where 2^n leaves the normal range). Maxima are
 * spelled a > b ? a : b per lane because GCC turns exactly that into maxps. */
static inline __attribute__((always_inline)) float softmax_row_body(float *s, int64_t bk,
                                                                    float *m)
{
    v8f x, mx;
    for (int i = 0; i < 8; i++)
        mx[i] = *m;
    for (int64_t j = 0; j < bk; j += 8) {
        memcpy(&x, s + j, sizeof(x));
        for (int i = 0; i < 8; i++)
            mx[i] = mx[i] > x[i] ? mx[i] : x[i];
    }
    float top = mx[0];
    for (int i = 1; i < 8; i++)
        top = top > mx[i] ? top : mx[i];

    v8f sum = {0};
    for (int64_t j = 0; j < bk; j += 8) {
        memcpy(&x, s + j, sizeof(x));
        x -= top;
        for (int i = 0; i < 8; i++)
            x[i] = -87.0f > x[i] ? -87.0f : x[i];
        /* Round to nearest without a rounding instruction: SSE2 has none. */
        v8f n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
        v8f r = x - n * 0.693359375f + n * 2.12194440e-4f;
        v8f poly = r * 1.9875691500e-4f + 1.3981999507e-3f;
        poly = poly * r + 8.3334519073e-3f;
        poly = poly * r + 4.1665795894e-2f;
        poly = poly * r + 1.6666665459e-1f;
        poly = poly * r + 5.0000001201e-1f;
        poly = poly * r * r + r + 1.0f;
        /* 2^n built in the exponent bits (unsigned: a NaN lane must not shift a negative) */
        v8u e = (v8u)(__builtin_convertvector(n, v8i) + 127) << 23;
        x = poly * (v8f)e;
        memcpy(s + j, &x, sizeof(x));
        sum += x;
    }
    *m = top;
    float total = 0.0f;
    for (int i = 0; i < 8; i++)
        total += sum[i];
    return total;
}

typedef float (*softmax_row_fn)(float *s, int64_t bk, float *m);

static float softmax_row(float *s, int64_t bk, float *m) { return softmax_row_body(s, bk, m); }

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_SOFTMAX_AVX2 1
/* The same operations in the same order, so the same bits as the SSE2 build, at twice the width:
 * at SSE2 width the exp takes about a third of the attention time. */
__attribute__((target("avx2"))) static float softmax_row_avx2(float *s, int64_t bk, float *m)
{
    return softmax_row_body(s, bk, m);
}
#endif

typedef struct attention_job {
    const ww_attention_params *p;
    const float *q, *k, *v;
    float *o, *lse;
    int64_t nqb, nkb; /* query blocks, key blocks per (batch, head) */
    int64_t bk;       /* keys per block, a multiple of 8 */
    /* k transposed per key block, [B*H, nkb, Dh, bk] zero-padded, or NULL: products with it
     * need no packing, and it is made once instead of once per query block. */
    float *kt;
    softmax_row_fn softmax_row;
    int use_blas;
#ifdef WW_HAVE_CBLAS
    int ldq, ldk, ldv;
#endif
} attention_job;

static void transpose_k_task(int64_t t, void *user) /* t = (b * H + h) * nkb + key block */
{
    const attention_job *j = user;
    const ww_attention_params *p = j->p;
    int64_t bh = t / j->nkb, n0 = t % j->nkb * j->bk, nk = min64(j->bk, (int64_t)p->Nk - n0);
    const float *k = j->k + bh / p->H * (int64_t)p->k_sb + bh % p->H * (int64_t)p->k_sh +
                     n0 * (int64_t)p->k_st;
    float *kt = j->kt + t * (int64_t)p->Dh * j->bk;
    for (int64_t d = 0; d < p->Dh; d++)
        for (int64_t i = 0; i < j->bk; i++)
            kt[d * j->bk + i] = i < nk ? k[i * (int64_t)p->k_st + d] : 0.0f;
}

/* One query at a time with the output row as the accumulator: the path that needs no memory. */
static void attention_direct(const attention_job *j, int64_t b, int64_t h, int64_t t0,
                             int64_t nq)
{
    const ww_attention_params *p = j->p;
    int64_t Dh = p->Dh;
    const float *kb = j->k + b * (int64_t)p->k_sb + h * (int64_t)p->k_sh;
    const float *vb = j->v + b * (int64_t)p->v_sb + h * (int64_t)p->v_sh;
    for (int64_t t = t0; t < t0 + nq; t++) {
        const float *q = j->q + b * (int64_t)p->q_sb + h * (int64_t)p->q_sh + t * (int64_t)p->q_st;
        float *o = j->o + b * (int64_t)p->o_sb + h * (int64_t)p->o_sh + t * (int64_t)p->o_st;
        float m = -INFINITY, l = 0.0f;
        memset(o, 0, (size_t)Dh * sizeof(float));
        for (int64_t n = 0; n < p->Nk; n++) {
            const float *k = kb + n * (int64_t)p->k_st, *v = vb + n * (int64_t)p->v_st;
            float s = 0.0f;
            for (int64_t d = 0; d < Dh; d++)
                s += q[d] * k[d];
            s *= p->scale;
            if (s > m) {
                float alpha = expf(m - s);
                l *= alpha;
                for (int64_t d = 0; d < Dh; d++)
                    o[d] *= alpha;
                m = s;
            }
            float e = expf(s - m);
            l += e;
            for (int64_t d = 0; d < Dh; d++)
                o[d] += e * v[d];
        }
        float inv = l > 0.0f ? 1.0f / l : 0.0f;
        for (int64_t d = 0; d < Dh; d++)
            o[d] *= inv;
        if (p->has_lse)
            j->lse[(b * p->H + h) * (int64_t)p->Nq + t] = m + logf(l);
    }
}

static void attention_task(int64_t task, void *user) /* task = (b * H + h) * nqb + query block */
{
    const attention_job *j = user;
    const ww_attention_params *p = j->p;
    int64_t Dh = p->Dh, bk = j->bk;
    int64_t bh = task / j->nqb, b = bh / p->H, h = bh % p->H;
    int64_t t0 = task % j->nqb * ATT_BQ, nq = min64(ATT_BQ, (int64_t)p->Nq - t0);

    int64_t gemm_floats = j->use_blas ? 0 : region_scratch_floats(ATT_BQ, max64(bk, min64(Dh, NT)));
    float *s = malloc((size_t)(ATT_BQ * (bk + Dh + 2) + gemm_floats) * sizeof(float));
    if (!s) {
        attention_direct(j, b, h, t0, nq);
        return;
    }
    float *acc = s + ATT_BQ * bk, *mrow = acc + ATT_BQ * Dh, *lrow = mrow + ATT_BQ;
    float *gemm_scratch = lrow + ATT_BQ;
    memset(acc, 0, (size_t)(nq * Dh) * sizeof(float));
    for (int64_t i = 0; i < nq; i++) {
        mrow[i] = -INFINITY;
        lrow[i] = 0.0f;
    }

    const float *q = j->q + b * (int64_t)p->q_sb + h * (int64_t)p->q_sh + t0 * (int64_t)p->q_st;
    const float *kb = j->k + b * (int64_t)p->k_sb + h * (int64_t)p->k_sh;
    const float *vb = j->v + b * (int64_t)p->v_sb + h * (int64_t)p->v_sh;
    for (int64_t n0 = 0; n0 < p->Nk; n0 += bk) {
        int64_t nk = min64(bk, (int64_t)p->Nk - n0);
        const float *v = vb + n0 * (int64_t)p->v_st;
        /* K(d, n) of this block, from kt or from k itself */
        mat kmat = j->kt ? (mat){j->kt + (bh * j->nkb + n0 / bk) * Dh * bk, bk, 1, 0}
                         : (mat){kb + n0 * (int64_t)p->k_st, 1, p->k_st, 0};

        /* s[nq, nk] = q[nq, Dh] k[nk, Dh]^T * scale */
#ifdef WW_HAVE_CBLAS
        if (j->use_blas)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, j->kt ? CblasNoTrans : CblasTrans, (int)nq,
                        (int)nk, (int)Dh, p->scale, q, j->ldq, kmat.p, j->kt ? (int)bk : j->ldk,
                        0.0f, s, (int)bk);
        else
#endif
        {
            gemm_desc g = {.M = nq, .N = nk, .K = Dh, .batch = 1,
                           .a = {q, p->q_st, 1, 0}, .b = kmat, .c = s, .c_rs = bk};
            gemm_serial(&g, gemm_scratch);
            for (int64_t i = 0; i < nq; i++)
                for (int64_t n = 0; n < nk; n++)
                    s[i * bk + n] *= p->scale;
        }

        for (int64_t i = 0; i < nq; i++) {
            float *row = s + i * bk;
            /* The last block's missing keys: exp makes them ~0 and the product skips them. */
            for (int64_t n = nk; n < bk; n++)
                row[n] = -INFINITY;
            float m_old = mrow[i];
            float sum = j->softmax_row(row, bk, &mrow[i]);
            float alpha = mrow[i] == m_old ? 1.0f : expf(m_old - mrow[i]);
            lrow[i] = lrow[i] * alpha + sum;
            if (alpha != 1.0f)
                for (int64_t d = 0; d < Dh; d++)
                    acc[i * Dh + d] *= alpha;
        }

        /* acc[nq, Dh] += s[nq, nk] v[nk, Dh] */
#ifdef WW_HAVE_CBLAS
        if (j->use_blas)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)Dh, (int)nk,
                        1.0f, s, (int)bk, v, j->ldv, 1.0f, acc, (int)Dh);
        else
#endif
        {
            gemm_desc g = {.M = nq, .N = Dh, .K = nk, .batch = 1,
                           .a = {s, bk, 1, 0}, .b = {v, p->v_st, 1, 0},
                           .c = acc, .c_rs = Dh, .ep = {.accumulate = 1}};
            gemm_serial(&g, gemm_scratch);
        }
    }

    for (int64_t i = 0; i < nq; i++) {
        float *o = j->o + b * (int64_t)p->o_sb + h * (int64_t)p->o_sh +
                   (t0 + i) * (int64_t)p->o_st;
        float inv = lrow[i] > 0.0f ? 1.0f / lrow[i] : 0.0f;
        for (int64_t d = 0; d < Dh; d++)
            o[d] = acc[i * Dh + d] * inv;
        if (p->has_lse)
            j->lse[bh * (int64_t)p->Nq + t0 + i] = mrow[i] + logf(lrow[i]);
    }
    free(s);
}

static void attention_forward(const ww_attention_params *p, void *const *ptr, ww_threads *pool)
{
    if (p->B == 0 || p->H == 0 || p->Nq == 0 || p->Dh == 0)
        return;
    attention_job j = {
        .p = p, .q = ptr[0], .k = ptr[1], .v = ptr[2], .o = ptr[3],
        .lse = p->has_lse ? ptr[4] : NULL,
        .nqb = ((int64_t)p->Nq + ATT_BQ - 1) / ATT_BQ,
        /* 64 x 64 x 64 products for Dh = 64: OpenBLAS runs products of up to 2^18
         * multiply-adds on the calling thread; above that every pool thread would queue for
         * OpenBLAS's own threads (measured: 50x slower). Also an L1-sized score tile. */
        .bk = max64(8, min64(64, ((int64_t)1 << 18) / ((int64_t)ATT_BQ * p->Dh)) / 8 * 8),
        .softmax_row = softmax_row,
    };
#ifdef HAVE_SOFTMAX_AVX2
    if (__builtin_cpu_supports("avx2"))
        j.softmax_row = softmax_row_avx2;
#endif
    j.nkb = ((int64_t)p->Nk + j.bk - 1) / j.bk;
    /* With one query block per head, k would be read once anyway. */
    if (j.nqb > 1)
        j.kt = malloc((size_t)((int64_t)p->B * p->H * j.nkb * p->Dh * j.bk) * sizeof(float));
    if (j.kt)
        ww_threads_parallel_for(pool, (int64_t)p->B * p->H * j.nkb, transpose_k_task, &j);
#ifdef WW_HAVE_CBLAS
    enum CBLAS_TRANSPOSE tq, tk, tv;
    j.use_blas = blas_operand(p->Nq, p->Dh, p->q_st, 1, &tq, &j.ldq) && tq == CblasNoTrans &&
                 blas_operand(p->Nk, p->Dh, p->v_st, 1, &tv, &j.ldv) && tv == CblasNoTrans &&
                 (j.kt || (blas_operand(p->Dh, p->Nk, 1, p->k_st, &tk, &j.ldk) &&
                           tk == CblasTrans));
#endif
    ww_threads_parallel_for(pool, (int64_t)p->B * p->H * j.nqb, attention_task, &j);
    free(j.kt);
}

/* ---- PATCHIFY --------------------------------------------------------------------------------
 * img[B, C, H, W] -> out[B, (H/p)*(W/p), C*p*p], columns ordered (c, ky, kx). */
typedef struct patchify_job {
    const ww_patchify_params *p;
    const float *img;
    float *out;
} patchify_job;

static void patchify_rows(const void *ctx, int64_t r0, int64_t r1)
{
    const patchify_job *j = ctx;
    const ww_patchify_params *p = j->p;
    int64_t P = p->p, C = p->C, H = p->H, W = p->W, gh = H / P, gw = W / P;
    for (int64_t r = r0; r < r1; r++) { /* r = b * gh + gy */
        int64_t b = r / gh, gy = r % gh;
        for (int64_t gx = 0; gx < gw; gx++) {
            float *o = j->out + (r * gw + gx) * C * P * P;
            for (int64_t c = 0; c < C; c++)
                for (int64_t ky = 0; ky < P; ky++)
                    memcpy(o + (c * P + ky) * P,
                           j->img + ((b * C + c) * H + gy * P + ky) * W + gx * P,
                           (size_t)P * sizeof(float));
        }
    }
}

static void patchify_forward(const ww_patchify_params *p, void *const *ptr, ww_threads *pool)
{
    if (p->p == 0 || p->H < p->p)
        return;
    patchify_job j = {p, ptr[0], ptr[1]};
    ww_parallel_ranges(pool, (int64_t)p->B * (p->H / p->p), (int64_t)p->W * p->C * p->p, patchify_rows,
                    &j);
}

/* ---- CONV2D ----------------------------------------------------------------------------------
 * y[B, Cout, Ho, Wo] (=|+=) relu?(bias + w[Cout, Cin, k, k] * relu?(x[B, Cin, H, W])): a gemm of
 * w [Cout, Cin*k*k] with the im2col matrix [Cin*k*k, pixels], built a band of output pixels at a
 * time so that it stays bounded; 1x1 stride-1 convolutions read x directly. */
typedef struct im2col_job {
    const ww_conv2d_params *p;
    const float *x; /* batch b */
    float *col;     /* [Cin*k*k, nb] */
    int64_t p0, nb;
} im2col_job;

/* Rows r = (ci * k + ky) * k + kx of the band: one output row segment at a time, whose taps
 * inside the image form one contiguous run (strided by `stride` in x). */
static void im2col_rows(const void *ctx, int64_t r0, int64_t r1)
{
    const im2col_job *j = ctx;
    const ww_conv2d_params *p = j->p;
    int64_t k = p->k, H = p->H, W = p->W, Wo = p->Wo, st = p->stride, pad = p->pad;
    for (int64_t r = r0; r < r1; r++) {
        int64_t ci = r / (k * k), ky = r / k % k, kx = r % k;
        const float *x = j->x + ci * H * W;
        float *col = j->col + r * j->nb;
        int64_t ox_lo, ox_hi;
        ww_conv_taps(kx - pad, st, W, Wo, &ox_lo, &ox_hi);
        int64_t oy = j->p0 / Wo, ox = j->p0 % Wo;
        for (int64_t i = 0; i < j->nb; oy++, ox = 0) {
            int64_t run = min64(Wo - ox, j->nb - i), iy = oy * st + ky - pad;
            float *dst = col + i;
            i += run;
            if (iy < 0 || iy >= H) {
                memset(dst, 0, (size_t)run * sizeof(float));
                continue;
            }
            int64_t lo = min64(run, max64(0, ox_lo - ox)), hi = max64(lo, min64(run, ox_hi - ox));
            const float *xr = x + iy * W;
            memset(dst, 0, (size_t)lo * sizeof(float));
            if (st == 1 && hi > lo)
                memcpy(dst + lo, xr + ox + lo + kx - pad, (size_t)(hi - lo) * sizeof(float));
            else
                for (int64_t t = lo; t < hi; t++)
                    dst[t] = xr[(ox + t) * st + kx - pad];
            memset(dst + hi, 0, (size_t)(run - hi) * sizeof(float));
            if (p->flags & WW_CONV_RELU_IN)
                relu_span(dst + lo, dst + lo, hi - lo);
        }
    }
}

void ww_cpu_im2col(ww_threads *pool, const ww_conv2d_params *p, const float *x, int64_t p0,
                   int64_t nb, float *col)
{
    im2col_job j = {p, x, col, p0, nb};
    ww_parallel_ranges(pool, (int64_t)p->Cin * p->k * p->k, nb, im2col_rows, &j);
}

typedef struct conv_direct_job {
    const ww_conv2d_params *p;
    const float *x, *w, *bias;
    float *y;
} conv_direct_job;

/* One output plane (b, co) per item with no scratch: the fallback when im2col memory is
 * missing. */
static void conv_direct_planes(const void *ctx, int64_t r0, int64_t r1)
{
    const conv_direct_job *j = ctx;
    const ww_conv2d_params *p = j->p;
    int64_t Cin = p->Cin, H = p->H, W = p->W, k = p->k;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / p->Cout, co = r % p->Cout;
        float *y = j->y + r * p->Ho * p->Wo;
        for (int64_t oy = 0; oy < p->Ho; oy++)
            for (int64_t ox = 0; ox < p->Wo; ox++) {
                float v = j->bias ? j->bias[co] : 0.0f;
                for (int64_t ci = 0; ci < Cin; ci++)
                    for (int64_t ky = 0; ky < k; ky++) {
                        int64_t iy = oy * p->stride + ky - p->pad;
                        if (iy < 0 || iy >= H)
                            continue;
                        for (int64_t kx = 0; kx < k; kx++) {
                            int64_t ix = ox * p->stride + kx - p->pad;
                            if (ix < 0 || ix >= W)
                                continue;
                            float xv = j->x[((b * Cin + ci) * H + iy) * W + ix];
                            if ((p->flags & WW_CONV_RELU_IN) && xv < 0.0f)
                                xv = 0.0f;
                            v += xv * j->w[((co * Cin + ci) * k + ky) * k + kx];
                        }
                    }
                if ((p->flags & WW_CONV_RELU_OUT) && v < 0.0f)
                    v = 0.0f;
                float *dst = y + oy * p->Wo + ox;
                *dst = (p->flags & WW_CONV_ACCUMULATE) ? *dst + v : v;
            }
    }
}

static void conv2d_forward(const ww_conv2d_params *p, void *const *ptr, ww_threads *pool)
{
    const float *x = ptr[0], *w = ptr[1];
    float *y = ptr[3];
    int64_t HWo = (int64_t)p->Ho * p->Wo, HWi = (int64_t)p->H * p->W;
    int64_t K = (int64_t)p->Cin * p->k * p->k;
    gemm_desc g = {
        .M = p->Cout, .K = K, .batch = 1,
        .a = {w, K, 1, 0},
        .c_rs = HWo,
        .ep = {
            .bias = (p->flags & WW_HAS_BIAS) ? ptr[2] : NULL,
            .bias_per_row = 1,
            .relu = (p->flags & WW_CONV_RELU_OUT) != 0,
            .accumulate = (p->flags & WW_CONV_ACCUMULATE) != 0,
        },
    };
    if (p->Cout == 0 || HWo == 0)
        return;
    if (ww_conv_pointwise(p)) {
        g.N = HWo;
        g.batch = p->B;
        g.b = (mat){x, HWi, 1, (int64_t)p->Cin * HWi};
        g.c = y;
        g.c_bs = (int64_t)p->Cout * HWo;
        ww_cpu_gemm(pool, &g);
        return;
    }
    int64_t nb = ww_conv_band(K, HWo);
    float *col = malloc((size_t)(K * nb) * sizeof(float));
    if (!col) {
        conv_direct_job d = {p, x, w, g.ep.bias, y};
        ww_parallel_ranges(pool, (int64_t)p->B * p->Cout, HWo * K * 2, conv_direct_planes, &d);
        return;
    }
    for (int64_t b = 0; b < p->B; b++)
        for (int64_t p0 = 0; p0 < HWo; p0 += nb) {
            g.N = min64(nb, HWo - p0);
            ww_cpu_im2col(pool, p, x + b * (int64_t)p->Cin * HWi, p0, g.N, col);
            g.b = (mat){col, g.N, 1, 0};
            g.c = y + b * (int64_t)p->Cout * HWo + p0;
            ww_cpu_gemm(pool, &g);
        }
    free(col);
}

/* ---- CONVT -----------------------------------------------------------------------------------
 * ConvTranspose2d with kernel == stride == k: y[B, Cout, H*k, W*k] = bias + w[Cin, Cout, k, k]
 * applied to each input pixel. As a gemm: t[(co, ky, kx), pixel] = w^T x, then each t value
 * lands on its own output pixel. */
typedef struct convt_job {
    const ww_convt_params *p;
    const float *x, *w, *bias;
    float *y;
    const float *t; /* [Cout*k*k, nb] */
    int64_t b, p0, nb;
} convt_job;

/* Scatter rows (co, ky, kx) of t into y, adding the bias. */
static void convt_scatter(const void *ctx, int64_t r0, int64_t r1)
{
    const convt_job *j = ctx;
    const ww_convt_params *p = j->p;
    int64_t k = p->k, W = p->W, Wo = W * k, Ho = (int64_t)p->H * k;
    for (int64_t r = r0; r < r1; r++) {
        int64_t co = r / (k * k), ky = r / k % k, kx = r % k;
        float bias = j->bias ? j->bias[co] : 0.0f;
        float *y = j->y + (j->b * p->Cout + co) * Ho * Wo;
        const float *t = j->t + r * j->nb;
        for (int64_t i = 0; i < j->nb; i++) {
            int64_t pix = j->p0 + i, iy = pix / W, ix = pix % W;
            y[(iy * k + ky) * Wo + ix * k + kx] = t[i] + bias;
        }
    }
}

/* One output plane (b, co) per item with no scratch. */
static void convt_direct_planes(const void *ctx, int64_t r0, int64_t r1)
{
    const convt_job *j = ctx;
    const ww_convt_params *p = j->p;
    int64_t k = p->k, H = p->H, W = p->W, Cin = p->Cin, Cout = p->Cout;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / Cout, co = r % Cout;
        float *y = j->y + r * H * k * W * k;
        for (int64_t iy = 0; iy < H; iy++)
            for (int64_t ix = 0; ix < W; ix++)
                for (int64_t ky = 0; ky < k; ky++)
                    for (int64_t kx = 0; kx < k; kx++) {
                        float v = j->bias ? j->bias[co] : 0.0f;
                        for (int64_t ci = 0; ci < Cin; ci++)
                            v += j->x[((b * Cin + ci) * H + iy) * W + ix] *
                                 j->w[((ci * Cout + co) * k + ky) * k + kx];
                        y[(iy * k + ky) * W * k + ix * k + kx] = v;
                    }
    }
}

static void convt_forward(const ww_convt_params *p, void *const *ptr, ww_threads *pool)
{
    int64_t M = (int64_t)p->Cout * p->k * p->k, HW = (int64_t)p->H * p->W;
    if (M == 0 || HW == 0)
        return;
    convt_job j = {
        .p = p, .x = ptr[0], .w = ptr[1], .y = ptr[3],
        .bias = (p->flags & WW_HAS_BIAS) ? ptr[2] : NULL,
    };
    int64_t nb = ww_conv_band(M, HW);
    float *t = malloc((size_t)(M * nb) * sizeof(float));
    if (!t) {
        ww_parallel_ranges(pool, (int64_t)p->B * p->Cout, HW * p->k * p->k * p->Cin * 2,
                        convt_direct_planes, &j);
        return;
    }
    j.t = t;
    for (j.b = 0; j.b < p->B; j.b++)
        for (j.p0 = 0; j.p0 < HW; j.p0 += nb) {
            j.nb = min64(nb, HW - j.p0);
            gemm_desc g = {
                .M = M, .N = j.nb, .K = p->Cin, .batch = 1,
                .a = {j.w, 1, M, 0},
                .b = {j.x + j.b * (int64_t)p->Cin * HW + j.p0, HW, 1, 0},
                .c = t, .c_rs = j.nb,
            };
            ww_cpu_gemm(pool, &g);
            ww_parallel_ranges(pool, M, j.nb, convt_scatter, &j);
        }
    free(t);
}

/* ---- RESIZE ----------------------------------------------------------------------------------
 * Bilinear, align_corners = true: x[planes, H, W] -> y[planes, Ho, Wo]. */
typedef struct resize_job {
    const ww_resize_params *p;
    const float *x;
    float *y;
} resize_job;

static void resize_rows(const void *ctx, int64_t r0, int64_t r1)
{
    const resize_job *j = ctx;
    const ww_resize_params *p = j->p;
    int64_t H = p->H, W = p->W, Ho = p->Ho, Wo = p->Wo;
    for (int64_t r = r0; r < r1; r++) { /* r = plane * Ho + oy */
        int64_t plane = r / Ho, oy = r % Ho;
        float sy = Ho > 1 ? (float)(oy * (H - 1)) / (float)(Ho - 1) : 0.0f;
        int64_t y0 = (int64_t)sy, y1 = min64(y0 + 1, H - 1);
        float fy = sy - (float)y0;
        const float *x0 = j->x + (plane * H + y0) * W, *x1 = j->x + (plane * H + y1) * W;
        float *y = j->y + r * Wo;
        for (int64_t ox = 0; ox < Wo; ox++) {
            float sx = Wo > 1 ? (float)(ox * (W - 1)) / (float)(Wo - 1) : 0.0f;
            int64_t xa = (int64_t)sx, xb = min64(xa + 1, W - 1);
            float fx = sx - (float)xa;
            float top = x0[xa] * (1.0f - fx) + x0[xb] * fx;
            float bottom = x1[xa] * (1.0f - fx) + x1[xb] * fx;
            y[ox] = top * (1.0f - fy) + bottom * fy;
        }
    }
}

static void resize_forward(const ww_resize_params *p, void *const *ptr, ww_threads *pool)
{
    if (p->H == 0 || p->W == 0 || p->Ho == 0)
        return;
    resize_job j = {p, ptr[0], ptr[1]};
    ww_parallel_ranges(pool, (int64_t)p->planes * p->Ho, (int64_t)p->Wo * 12, resize_rows, &j);
}

/* ---- CHANNELS --------------------------------------------------------------------------------
 * Over the C dim of x[B, C, HW]: softmax into y[B, C, HW], or argmax ids[B, HW] (lowest index on
 * ties) with conf[B, HW] = the winner's softmax probability. Pixels go in strips so that each
 * channel row is read contiguously. */
enum { CHAN_STRIP = 256 };

typedef struct channels_job {
    const ww_channels_params *p;
    const float *x;
    void *y;
    float *conf;
    int64_t strips; /* per batch */
} channels_job;

static void channels_strips(const void *ctx, int64_t s0, int64_t s1)
{
    const channels_job *j = ctx;
    const ww_channels_params *p = j->p;
    int64_t C = p->C, HW = p->HW;
    float mx[CHAN_STRIP], sum[CHAN_STRIP];
    uint32_t arg[CHAN_STRIP];
    for (int64_t s = s0; s < s1; s++) {
        int64_t b = s / j->strips, i0 = s % j->strips * CHAN_STRIP;
        int64_t n = min64(CHAN_STRIP, HW - i0);
        const float *x = j->x + b * C * HW + i0;
        for (int64_t i = 0; i < n; i++) {
            mx[i] = x[i];
            arg[i] = 0;
            sum[i] = 0.0f;
        }
        for (int64_t c = 1; c < C; c++)
            for (int64_t i = 0; i < n; i++)
                if (x[c * HW + i] > mx[i]) {
                    mx[i] = x[c * HW + i];
                    arg[i] = (uint32_t)c;
                }
        if (p->mode == WW_CHAN_SOFTMAX) {
            float *y = (float *)j->y + b * C * HW + i0;
            for (int64_t c = 0; c < C; c++)
                for (int64_t i = 0; i < n; i++) {
                    y[c * HW + i] = expf(x[c * HW + i] - mx[i]);
                    sum[i] += y[c * HW + i];
                }
            for (int64_t i = 0; i < n; i++)
                sum[i] = 1.0f / sum[i];
            for (int64_t c = 0; c < C; c++)
                for (int64_t i = 0; i < n; i++)
                    y[c * HW + i] *= sum[i];
        } else {
            memcpy((uint32_t *)j->y + b * HW + i0, arg, (size_t)n * sizeof(uint32_t));
            if (j->conf) {
                for (int64_t c = 0; c < C; c++)
                    for (int64_t i = 0; i < n; i++)
                        sum[i] += expf(x[c * HW + i] - mx[i]);
                for (int64_t i = 0; i < n; i++)
                    j->conf[b * HW + i0 + i] = 1.0f / sum[i];
            }
        }
    }
}

static void channels_forward(const ww_channels_params *p, void *const *ptr, ww_threads *pool)
{
    if (p->C == 0 || p->HW == 0)
        return;
    channels_job j = {
        .p = p, .x = ptr[0], .y = ptr[1],
        .conf = p->mode == WW_CHAN_ARGMAX && p->has_conf ? ptr[2] : NULL,
        .strips = ((int64_t)p->HW + CHAN_STRIP - 1) / CHAN_STRIP,
    };
    ww_parallel_ranges(pool, (int64_t)p->B * j.strips, (int64_t)p->C * CHAN_STRIP * 16,
                    channels_strips, &j);
}

/* ---- PREPROCESS ------------------------------------------------------------------------------
 * 8-bit image -> y[3, Hp, Wp] = (rgb / 255 - mean) * inv_std, zero outside out_w x out_h; rgb is
 * the source pixel, or at another size the bilinear blend of four (ww.h). The resampling's float
 * steps are spelled as in shaders/preprocess.comp so that both backends pick the same pixels. */
typedef struct preprocess_job {
    const ww_preprocess_params *p;
    const uint8_t *src;
    float *y;
} preprocess_job;

static float clamp255(float v) { return v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v; }

/* Pixel (x, y) as R, G, B in [0, 255]. YUV is BT.601 limited range. */
static void fetch_rgb(const ww_preprocess_params *p, const uint8_t *src, int64_t x, int64_t y,
                      float rgb[3])
{
    const uint8_t *s;
    float Y, U, V;
    switch (p->format) {
    case WW_FMT_RGBA:
    case WW_FMT_RGBX:
    case WW_FMT_RGB:
    case WW_FMT_BGRA:
    case WW_FMT_BGRX:
    case WW_FMT_BGR: {
        int bpp = p->format == WW_FMT_RGB || p->format == WW_FMT_BGR ? 3 : 4;
        int bgr = p->format == WW_FMT_BGRA || p->format == WW_FMT_BGRX || p->format == WW_FMT_BGR;
        s = src + p->plane_off[0] + y * (int64_t)p->plane_stride[0] + x * bpp;
        rgb[0] = s[bgr ? 2 : 0];
        rgb[1] = s[1];
        rgb[2] = s[bgr ? 0 : 2];
        return;
    }
    case WW_FMT_NV12:
        s = src + p->plane_off[1] + y / 2 * (int64_t)p->plane_stride[1] + x / 2 * 2;
        U = s[0];
        V = s[1];
        break;
    case WW_FMT_I420:
        U = src[p->plane_off[1] + y / 2 * (int64_t)p->plane_stride[1] + x / 2];
        V = src[p->plane_off[2] + y / 2 * (int64_t)p->plane_stride[2] + x / 2];
        break;
    default:
        rgb[0] = rgb[1] = rgb[2] = 0.0f;
        return;
    }
    Y = 1.164383f * ((float)src[p->plane_off[0] + y * (int64_t)p->plane_stride[0] + x] - 16.0f);
    U -= 128.0f;
    V -= 128.0f;
    rgb[0] = clamp255(Y + 1.596027f * V);
    rgb[1] = clamp255(Y - 0.812968f * V - 0.391762f * U);
    rgb[2] = clamp255(Y + 2.017232f * U);
}

/* Along one axis of n source pixels: output index o reads i0 and i1 with weight *f on i1. */
static void bilinear_axis(int64_t o, float scale, uint32_t n, int64_t *i0, int64_t *i1, float *f)
{
    float s = ((float)o + 0.5f) * scale - 0.5f, last = (float)(n - 1);
    s = s < 0.0f ? 0.0f : s > last ? last : s;
    *i0 = (int64_t)s;
    *i1 = *i0 + 1 < (int64_t)n ? *i0 + 1 : *i0;
    *f = s - (float)*i0;
}

/* Output pixel (x, y) before normalisation: R, G, B in [0, 255]. */
static void sample_rgb(const ww_preprocess_params *p, const uint8_t *src, int64_t x, int64_t y,
                       float rgb[3])
{
    if (p->out_w == p->width && p->out_h == p->height) {
        fetch_rgb(p, src, x, y, rgb);
        return;
    }
    int64_t x0, x1, y0, y1;
    float fx, fy, p00[3], p01[3], p10[3], p11[3];
    bilinear_axis(x, p->scale_x, p->width, &x0, &x1, &fx);
    bilinear_axis(y, p->scale_y, p->height, &y0, &y1, &fy);
    fetch_rgb(p, src, x0, y0, p00);
    fetch_rgb(p, src, x1, y0, p01);
    fetch_rgb(p, src, x0, y1, p10);
    fetch_rgb(p, src, x1, y1, p11);
    for (int c = 0; c < 3; c++) {
        float top = p00[c] + fx * (p01[c] - p00[c]);
        float bottom = p10[c] + fx * (p11[c] - p10[c]);
        rgb[c] = top + fy * (bottom - top);
    }
}

static void preprocess_rows(const void *ctx, int64_t r0, int64_t r1)
{
    const preprocess_job *j = ctx;
    const ww_preprocess_params *p = j->p;
    int64_t plane = (int64_t)p->Hp * p->Wp;
    for (int64_t yy = r0; yy < r1; yy++) {
        float *y = j->y + yy * p->Wp;
        for (int64_t xx = 0; xx < p->Wp; xx++) {
            float rgb[3] = {0};
            int inside = xx < p->out_w && yy < p->out_h;
            if (inside)
                sample_rgb(p, j->src, xx, yy, rgb);
            for (int c = 0; c < 3; c++)
                y[c * plane + xx] =
                    inside ? (rgb[c] * (1.0f / 255.0f) - p->mean[c]) * p->inv_std[c] : 0.0f;
        }
    }
}

static void preprocess_forward(const ww_preprocess_params *p, void *const *ptr, ww_threads *pool)
{
    preprocess_job j = {p, ptr[0], ptr[1]};
    int resampled = p->out_w != p->width || p->out_h != p->height;
    ww_parallel_ranges(pool, p->Hp, (int64_t)p->Wp * (resampled ? 96 : 24), preprocess_rows, &j);
}

/* ---- ROWS ------------------------------------------------------------------------------------
 * gather: y[B, n, D] = x[B, N, D] rows idx[B|1, n]; scatter: y[B, N, D] rows idx = x[B, n, D];
 * scatter-add (the gather's backward): y rows idx += x. Indices >= N are skipped. */
typedef struct rows_job {
    const ww_rows_params *p;
    const float *x;
    const uint32_t *idx;
    float *y;
} rows_job;

static void rows_range(const void *ctx, int64_t r0, int64_t r1)
{
    const rows_job *j = ctx;
    const ww_rows_params *p = j->p;
    int64_t D = p->D;
    for (int64_t r = r0; r < r1; r++) { /* r = b * n + i */
        int64_t b = r / p->n, i = r % p->n;
        uint32_t id = j->idx[b * (int64_t)p->idx_sb + i];
        if (id >= p->N)
            continue;
        int64_t big = (b * (int64_t)p->N + id) * D, small = r * D;
        if (p->mode == WW_ROWS_GATHER)
            memcpy(j->y + small, j->x + big, (size_t)D * sizeof(float));
        else if (p->mode == WW_ROWS_SCATTER)
            memcpy(j->y + big, j->x + small, (size_t)D * sizeof(float));
        else
            for (int64_t d = 0; d < D; d++)
                j->y[big + d] += j->x[small + d];
    }
}

static void rows_forward(const ww_rows_params *p, void *const *ptr, ww_threads *pool)
{
    if (p->n == 0)
        return;
    rows_job j = {p, ptr[0], ptr[1], ptr[2]};
    ww_parallel_ranges(pool, (int64_t)p->B * p->n, (int64_t)p->D * 2, rows_range, &j);
}

/* ---- PROBE -----------------------------------------------------------------------------------
 * y[n]: element i runs 8 chains a_c = a_c * 0.999 + 0.001 (16 FLOP per iteration) from
 * a_c = c + (i mod 1024) / 1024 and stores their sum. m + k = 1 keeps every chain finite for any
 * iteration count. 16 elements share one vector and the multiply-add is contracted to an FMA, in
 * a clone per x86 vector width picked at run time, so that the probe measures the machine's real
 * peak rather than the baseline SSE2 the library is compiled for. */
typedef float v16f __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__GNUC__)
#define PROBE_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define PROBE_CLONES
#endif

/* Contraction to FMA: GCC takes it per function; clang has no optimize attribute but a pragma. */
#if defined(__clang__)
#define PROBE_CONTRACT
#else
#define PROBE_CONTRACT __attribute__((optimize("fp-contract=fast")))
#endif

PROBE_CLONES PROBE_CONTRACT static void
probe_chains(float *y, int64_t e, int64_t n, uint32_t iters)
{
#if defined(__clang__)
#pragma clang fp contract(fast)
#endif
    v16f base, m = {0}, k = {0};
    for (int l = 0; l < 16; l++)
        base[l] = (float)((e + l) % 1024) * (1.0f / 1024.0f);
    m += 0.999f;
    k += 0.001f;
    v16f a0 = base, a1 = base + 1.0f, a2 = base + 2.0f, a3 = base + 3.0f;
    v16f a4 = base + 4.0f, a5 = base + 5.0f, a6 = base + 6.0f, a7 = base + 7.0f;
    for (uint32_t it = 0; it < iters; it++) {
        a0 = a0 * m + k;
        a1 = a1 * m + k;
        a2 = a2 * m + k;
        a3 = a3 * m + k;
        a4 = a4 * m + k;
        a5 = a5 * m + k;
        a6 = a6 * m + k;
        a7 = a7 * m + k;
    }
    v16f sum = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
    for (int64_t l = 0; l < 16 && e + l < n; l++)
        y[e + l] = sum[l];
}

typedef struct probe_job {
    const ww_probe_params *p;
    float *y;
} probe_job;

static void probe_blocks(const void *ctx, int64_t b0, int64_t b1)
{
    const probe_job *j = ctx;
    for (int64_t blk = b0; blk < b1; blk++)
        probe_chains(j->y, blk * 16, (int64_t)j->p->n, j->p->iters);
}

static void probe_forward(const ww_probe_params *p, void *const *ptr, ww_threads *pool)
{
    probe_job j = {p, ptr[0]};
    ww_parallel_ranges(pool, ((int64_t)p->n + 15) / 16, (int64_t)p->iters * 256 + 1, probe_blocks,
                    &j);
}

/* ---- COLORIZE --------------------------------------------------------------------------------
 * rgba[H, W] packed R | G << 8 | B << 16 | A << 24 from: the flow's Middlebury colour wheel or
 * HSV, a scalar through a lookup table, or class ids through a palette (ww.h gives the formulas).
 * The float steps are spelled as in shaders/colorize.comp (same products, same order) so that
 * both backends pick the same wheel side and table entry. */
#define CZ_BLACK 0xff000000u

typedef struct colorize_job {
    const ww_colorize_params *p;
    const uint32_t *x; /* F32 or U32 words */
    const uint32_t *table;
    uint32_t *y;
} colorize_job;

/* Entry k (0..54) of the Middlebury wheel, channel values 0..255. */
static void wheel_rgb(uint32_t k, float rgb[3])
{
    uint32_t r, g, b;
    if (k < 15) { /* RY */
        r = 255, g = 255 * k / 15, b = 0;
    } else if ((k -= 15) < 6) { /* YG */
        r = 255 - 255 * k / 6, g = 255, b = 0;
    } else if ((k -= 6) < 4) { /* GC */
        r = 0, g = 255, b = 255 * k / 4;
    } else if ((k -= 4) < 11) { /* CB */
        r = 0, g = 255 - 255 * k / 11, b = 255;
    } else if ((k -= 11) < 13) { /* BM */
        r = 255 * k / 13, g = 0, b = 255;
    } else { /* MR */
        k -= 13;
        r = 255, g = 0, b = 255 - 255 * k / 6;
    }
    rgb[0] = (float)r;
    rgb[1] = (float)g;
    rgb[2] = (float)b;
}

/* One channel 0..1 as a byte, rounded half up. */
static uint32_t unit_byte(float col)
{
    float byte = floorf(col * 255.0f + 0.5f);
    return (uint32_t)(byte < 0.0f ? 0.0f : byte > 255.0f ? 255.0f : byte);
}

static uint32_t flow_pixel(float u, float v, float inv_max)
{
    if (!isfinite(u) || !isfinite(v))
        return CZ_BLACK;
    float un = u * inv_max, vn = v * inv_max;
    float r2 = un * un + vn * vn;
    float a = v == 0.0f && u >= 0.0f ? -1.0f : atan2f(-v, -u) * 0.318309886f;
    float fk = (a + 1.0f) * 0.5f * 54.0f;
    fk = fk < 0.0f ? 0.0f : fk > 54.0f ? 54.0f : fk;
    uint32_t k0 = (uint32_t)fk, k1 = k0 + 1 == 55 ? 0 : k0 + 1;
    float f = fk - (float)k0, c0[3], c1[3];
    wheel_rgb(k0, c0);
    wheel_rgb(k1, c1);
    uint32_t px = CZ_BLACK;
    for (int c = 0; c < 3; c++) {
        float col = ((1.0f - f) * c0[c] + f * c1[c]) * (1.0f / 255.0f);
        col = r2 <= 1.0f ? 1.0f - sqrtf(r2) * (1.0f - col) : col * 0.75f;
        px |= unit_byte(col) << (8 * c);
    }
    return px;
}

static uint32_t flow_pixel_hsv(float u, float v, float inv_max)
{
    if (!isfinite(u) || !isfinite(v))
        return CZ_BLACK;
    float un = u * inv_max, vn = v * inv_max;
    float r2 = un * un + vn * vn;
    if (!(r2 > 0.0f)) /* no motion: value 0 whatever the hue (atan2(0, 0) is left undefined) */
        return CZ_BLACK;
    float val = fminf(sqrtf(r2), 1.0f);
    float h = atan2f(v, u) * 0.159154943f;
    h = h < 0.0f ? h + 1.0f : h;
    h = h >= 1.0f ? 0.0f : h;
    float h6 = h * 6.0f;
    uint32_t i = (uint32_t)h6;
    i = i > 5 ? 5 : i;
    float f = h6 - (float)i;
    float q = val * (1.0f - f), t = val * f;
    float rgb[6][3] = {{val, t, 0}, {q, val, 0}, {0, val, t},
                       {0, q, val}, {t, 0, val}, {val, 0, q}};
    return unit_byte(rgb[i][0]) | unit_byte(rgb[i][1]) << 8 | unit_byte(rgb[i][2]) << 16 |
           CZ_BLACK;
}

static void colorize_rows(const void *ctx, int64_t r0, int64_t r1)
{
    const colorize_job *j = ctx;
    const ww_colorize_params *p = j->p;
    for (int64_t yy = r0; yy < r1; yy++) {
        const uint32_t *x = j->x + yy * (int64_t)p->x_rs;
        uint32_t *y = j->y + yy * (int64_t)p->y_rs;
        for (int64_t xx = 0; xx < p->W; xx++) {
            float u, v;
            switch (p->mode) {
            case WW_COLORIZE_FLOW:
            case WW_COLORIZE_FLOW_HSV:
                memcpy(&u, x + xx, sizeof u);
                memcpy(&v, x + p->x_ps + xx, sizeof v);
                y[xx] = p->mode == WW_COLORIZE_FLOW ? flow_pixel(u, v, p->a)
                                                    : flow_pixel_hsv(u, v, p->a);
                break;
            case WW_COLORIZE_SCALAR: {
                memcpy(&u, x + xx, sizeof u);
                if (!isfinite(u)) {
                    y[xx] = CZ_BLACK;
                    break;
                }
                float t = (u - p->a) * p->b; /* t * n */
                uint32_t k = !(t > 0.0f) ? 0 : t >= (float)p->n ? p->n - 1 : (uint32_t)t;
                y[xx] = j->table[k < p->n ? k : p->n - 1];
                break;
            }
            default: /* WW_COLORIZE_LABELS */
                y[xx] = x[xx] < p->n ? j->table[x[xx]] : CZ_BLACK;
                break;
            }
        }
    }
}

static void colorize_forward(const ww_colorize_params *p, void *const *ptr, ww_threads *pool)
{
    int flow = p->mode == WW_COLORIZE_FLOW || p->mode == WW_COLORIZE_FLOW_HSV;
    if (p->W == 0 || (!flow && p->n == 0))
        return;
    colorize_job j = {p, ptr[0], ptr[1], ptr[2]};
    ww_parallel_ranges(pool, p->H, (int64_t)p->W * (flow ? 64 : 4), colorize_rows, &j);
}

void ww_cpu_run_node(const ww_node *n, void *const *ptr, ww_threads *pool)
{
    switch (n->op) {
    case WW_OP_GEMM:
        gemm_forward(&n->p.gemm, ptr, pool);
        break;
    case WW_OP_LAYERNORM:
        layernorm_forward(&n->p.layernorm, ptr, pool);
        break;
    case WW_OP_ELTWISE:
        eltwise_forward(&n->p.eltwise, ptr, pool);
        break;
    case WW_OP_ROPE:
        rope_forward(&n->p.rope, ptr, pool);
        break;
    case WW_OP_ATTENTION:
        attention_forward(&n->p.attention, ptr, pool);
        break;
    case WW_OP_PATCHIFY:
        patchify_forward(&n->p.patchify, ptr, pool);
        break;
    case WW_OP_CONV2D:
        conv2d_forward(&n->p.conv2d, ptr, pool);
        break;
    case WW_OP_CONVT:
        convt_forward(&n->p.convt, ptr, pool);
        break;
    case WW_OP_RESIZE:
        resize_forward(&n->p.resize, ptr, pool);
        break;
    case WW_OP_CHANNELS:
        channels_forward(&n->p.channels, ptr, pool);
        break;
    case WW_OP_PREPROCESS:
        preprocess_forward(&n->p.preprocess, ptr, pool);
        break;
    case WW_OP_ROWS:
    case WW_OP_SCATTER_ADD_ROWS: /* mode WW_ROWS_SCATTER_ADD */
        rows_forward(&n->p.rows, ptr, pool);
        break;
    case WW_OP_PROBE:
        probe_forward(&n->p.probe, ptr, pool);
        break;
    case WW_OP_COLORIZE:
        colorize_forward(&n->p.colorize, ptr, pool);
        break;
    case WW_OP_ATTENTION_BWD_DQ:
    case WW_OP_ATTENTION_BWD_DKDV:
        ww_cpu_attention_backward(n, ptr, pool);
        break;
    case WW_OP_LAYERNORM_BWD:
    case WW_OP_GELU_BWD:
    case WW_OP_REDUCE:
    case WW_OP_ADAMW:
        ww_cpu_run_train_basic(n, ptr, pool);
        break;
    case WW_OP_CONV2D_BWD_INPUT:
    case WW_OP_CONV2D_BWD_WEIGHT:
    case WW_OP_CHANNEL_SUM:
    case WW_OP_RESIZE_BWD:
    case WW_OP_RELU_BWD:
        ww_cpu_run_conv_backward(n, ptr, pool);
        break;
    case WW_OP_LOSS:
        ww_cpu_run_loss(n, ptr, pool);
        break;
    case WW_OP_COUNT:
        break;
    }
}
