/* CPU reference kernels of the basic training ops: LayerNorm backward (two passes), GELU
 * backward, the reduce node (partial and final sums of ww_sum_rows, ww_sum_squares and the
 * LayerNorm weight gradients) and AdamW. Plain loops over the parameter structs of ww_params.h,
 * the same words the shaders read; sums run in double and are rounded once. Work is split over
 * the pool in fixed pieces, and every output element is computed by one piece in a fixed order,
 * so results do not depend on the thread count. */
#include <math.h>
#include <stdint.h>

#include "ww_internal.h"


/* ---- LayerNorm backward --------------------------------------------------------------------- */

typedef struct lnb_job {
    const ww_layernorm_bwd_params *p;
    const float *x, *w, *dy;
    float *dx, *scratch;
} lnb_job;

/* Rows r0..r1: mean and rstd as the forward computes them, stored in the scratch, and
 * dx += rstd * (g - mean(g) - xhat * mean(g * xhat)). */
static void lnb_rows(const void *ctx, int64_t r0, int64_t r1)
{
    const lnb_job *j = ctx;
    const ww_layernorm_bwd_params *p = j->p;
    int64_t D = p->D;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * (int64_t)p->x_rs, *dy = j->dy + r * (int64_t)p->dy_rs;
        float *dx = j->dx + r * (int64_t)p->dx_rs;
        double sum = 0.0;
        for (int64_t d = 0; d < D; d++)
            sum += x[d];
        double mean = sum / (double)D, sq = 0.0;
        for (int64_t d = 0; d < D; d++)
            sq += ((double)x[d] - mean) * ((double)x[d] - mean);
        float mu = (float)mean, rstd = (float)(1.0 / sqrt(sq / (double)D + (double)p->eps));
        double sg = 0.0, sgx = 0.0;
        for (int64_t d = 0; d < D; d++) {
            double xh = ((double)x[d] - mu) * rstd, g = (double)dy[d] * j->w[d];
            sg += g;
            sgx += g * xh;
        }
        double mg = sg / (double)D, mgx = sgx / (double)D;
        for (int64_t d = 0; d < D; d++) {
            double xh = ((double)x[d] - mu) * rstd, g = (double)dy[d] * j->w[d];
            dx[d] = (float)((double)dx[d] + rstd * (g - mg - xh * mgx));
        }
        j->scratch[2 * r] = mu;
        j->scratch[2 * r + 1] = rstd;
    }
}

/* Items (part, column): the part's sums of dy * xhat and dy. */
static void lnb_partials(const void *ctx, int64_t i0, int64_t i1)
{
    const lnb_job *j = ctx;
    const ww_layernorm_bwd_params *p = j->p;
    int64_t D = p->D, rows = p->rows;
    const float *stats = j->scratch;
    float *pw = j->scratch + 2 * rows, *pb = pw + (int64_t)p->parts * D;
    for (int64_t it = i0; it < i1; it++) {
        int64_t part = it / D, d = it % D;
        int64_t r0 = part * (int64_t)p->chunk, r1 = r0 + p->chunk;
        if (r1 > rows)
            r1 = rows;
        double sw = 0.0, sb = 0.0;
        for (int64_t r = r0; r < r1; r++) {
            double g = j->dy[r * (int64_t)p->dy_rs + d];
            double xh = ((double)j->x[r * (int64_t)p->x_rs + d] - stats[2 * r]) * stats[2 * r + 1];
            sw += g * xh;
            sb += g;
        }
        pw[part * D + d] = (float)sw;
        pb[part * D + d] = (float)sb;
    }
}

static void layernorm_backward(const ww_layernorm_bwd_params *p, void *const *ptr,
                               ww_threads *pool)
{
    lnb_job j = {p, ptr[0], ptr[1], ptr[2], ptr[3], ptr[4]};
    if (p->pass == WW_LNB_ROWS)
        ww_parallel_ranges(pool, p->rows, (int64_t)p->D * 12, lnb_rows, &j);
    else
        ww_parallel_ranges(pool, (int64_t)p->parts * p->D, (int64_t)p->chunk * 4, lnb_partials, &j);
}

/* ---- GELU backward ---------------------------------------------------------------------------- */

typedef struct gelub_job {
    const float *x, *dy;
    float *dx;
} gelub_job;

static void gelub_range(const void *ctx, int64_t i0, int64_t i1)
{
    const gelub_job *j = ctx;
    for (int64_t i = i0; i < i1; i++) {
        float x = j->x[i];
        /* Phi(x) through erfc keeps its relative accuracy in the left tail */
        float d = 0.5f * erfcf(-x * 0.70710678118654752f) +
                  x * expf(-0.5f * x * x) * 0.39894228040143268f;
        j->dx[i] += j->dy[i] * d;
    }
}

static void gelu_backward(const ww_gelu_bwd_params *p, void *const *ptr, ww_threads *pool)
{
    gelub_job j = {ptr[0], ptr[1], ptr[2]};
    ww_parallel_ranges(pool, p->n, 24, gelub_range, &j);
}

/* ---- Reduce ----------------------------------------------------------------------------------- */

typedef struct reduce_job {
    const ww_reduce_params *p;
    const float *x;
    float *y;
} reduce_job;

/* Items (part, n): the sum over the part's terms r = o * inner + i, in order. */
static void reduce_range(const void *ctx, int64_t i0, int64_t i1)
{
    const reduce_job *j = ctx;
    const ww_reduce_params *p = j->p;
    int64_t N = p->N, inner = p->inner, count = (int64_t)p->outer * inner;
    for (int64_t it = i0; it < i1; it++) {
        int64_t part = it / N, n = it % N;
        int64_t r0 = part * (int64_t)p->chunk, r1 = r0 + p->chunk;
        if (r1 > count)
            r1 = count;
        double acc = 0.0;
        if (r0 < r1) {
            int64_t o = r0 / inner, i = r0 % inner;
            for (int64_t r = r0; r < r1; r++) {
                double v = j->x[(o * N + n) * inner + i];
                acc += p->square ? v * v : v;
                if (++i == inner) {
                    i = 0;
                    o++;
                }
            }
        }
        float *y = &j->y[part * N + n];
        *y = p->accumulate ? (float)((double)*y + acc) : (float)acc;
    }
}

static void reduce(const ww_reduce_params *p, void *const *ptr, ww_threads *pool)
{
    reduce_job j = {p, ptr[0], ptr[1]};
    ww_parallel_ranges(pool, (int64_t)p->parts * p->N, (int64_t)p->chunk * 2, reduce_range, &j);
}

/* ---- AdamW ------------------------------------------------------------------------------------ */

typedef struct adamw_job {
    const ww_adamw_params *p;
    float *param;
    const float *grad;
    float *m, *v;
    float lr, bc1, bc2, scale;
} adamw_job;

static void adamw_range(const void *ctx, int64_t i0, int64_t i1)
{
    const adamw_job *j = ctx;
    const ww_adamw_params *p = j->p;
    for (int64_t i = i0; i < i1; i++) {
        float g = j->grad[i] * j->scale;
        float m = p->beta1 * j->m[i] + (1.0f - p->beta1) * g;
        float v = p->beta2 * j->v[i] + (1.0f - p->beta2) * (g * g);
        j->m[i] = m;
        j->v[i] = v;
        float mhat = m / j->bc1, vhat = v / j->bc2;
        float w = j->param[i];
        j->param[i] = w - j->lr * (mhat / (sqrtf(vhat) + p->eps) + p->weight_decay * w);
    }
}

static void adamw(const ww_adamw_params *p, void *const *ptr, ww_threads *pool)
{
    adamw_job j = {p, ptr[0], ptr[1], ptr[2], ptr[3], p->lr, p->bias_corr1, p->bias_corr2,
                   p->grad_scale};
    if (p->has_scalars) {
        const float *s = ptr[4];
        j.lr = s[WW_ADAMW_LR];
        j.bc1 = s[WW_ADAMW_BIAS_CORR1];
        j.bc2 = s[WW_ADAMW_BIAS_CORR2];
        j.scale = s[WW_ADAMW_GRAD_SCALE];
        float max_norm = s[WW_ADAMW_MAX_NORM];
        if (max_norm > 0.0f) {
            float norm = sqrtf(s[WW_ADAMW_SUMSQ]) * fabsf(j.scale);
            float clip = max_norm / (norm + 1e-6f);
            if (clip < 1.0f)
                j.scale *= clip;
        }
    }
    ww_parallel_ranges(pool, p->n, 16, adamw_range, &j);
}

void ww_cpu_run_train_basic(const ww_node *n, void *const *ptr, ww_threads *pool)
{
    switch (n->op) {
    case WW_OP_LAYERNORM_BWD:
        layernorm_backward(&n->p.layernorm_bwd, ptr, pool);
        break;
    case WW_OP_GELU_BWD:
        gelu_backward(&n->p.gelu_bwd, ptr, pool);
        break;
    case WW_OP_REDUCE:
        reduce(&n->p.reduce, ptr, pool);
        break;
    case WW_OP_ADAMW:
        adamw(&n->p.adamw, ptr, pool);
        break;
    default:
        break;
    }
}
