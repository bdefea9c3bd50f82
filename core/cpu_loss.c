/* CPU reference kernel of the loss node (ops_loss.c, ww_loss_params): one pixel at a time, in
 * fp32 like shaders/loss.comp, so that both backends round the same way up to exp / log. A
 * pixel of weight 0 reads nothing but its weight, so NaN or Inf in its pred or target never
 * reaches the outputs. */
#include <math.h>
#include <stdint.h>

#include "ww_internal.h"

/* LaplacianLossBounded's confidence c = (b - a) sigmoid(r) + a */
#define LAP_A 0.25f
#define LAP_B 4.0f

typedef struct loss_job {
    const ww_loss_params *p;
    const float *pred, *target, *weight;
    float *dpred, *loss;
} loss_job;

static float sign_of(float x)
{
    return (float)((x > 0.0f) - (x < 0.0f));
}

/* x, t, dx: the pixel's channel 0, channels HW apart. Returns l; dx = w dl/dx. */
static float laplacian(const float *x, const float *t, float *dx, uint32_t Ct, uint32_t HW,
                       float w)
{
    float r = x[(size_t)Ct * HW];
    /* sigmoid from e = exp(-|r|) <= 1: no overflow, and s (1 - s) = e q^2 without cancellation */
    float e = expf(-fabsf(r)), q = 1.0f / (1.0f + e);
    float s = r >= 0.0f ? q : e * q;
    float c = (LAP_B - LAP_A) * s + LAP_A, inv_c = 1.0f / c;
    float sum = 0.0f;
    for (uint32_t k = 0; k < Ct; k++) {
        float d = x[(size_t)k * HW] - t[(size_t)k * HW];
        sum += fabsf(d);
        dx[(size_t)k * HW] = w * sign_of(d) * inv_c;
    }
    dx[(size_t)Ct * HW] = w * (inv_c - sum * inv_c * inv_c) * (LAP_B - LAP_A) * (e * q * q);
    return sum * inv_c + logf(c);
}

static float l1(const float *x, const float *t, float *dx, uint32_t C, uint32_t HW, float w)
{
    float sum = 0.0f;
    for (uint32_t k = 0; k < C; k++) {
        float d = x[(size_t)k * HW] - t[(size_t)k * HW];
        sum += fabsf(d);
        dx[(size_t)k * HW] = w * sign_of(d);
    }
    return sum;
}

static float cross_entropy(const float *x, const float *t, float *dx, uint32_t C, uint32_t HW,
                           float w)
{
    float id = t[0];
    if (!(id >= 0.0f && id < (float)C && id == floorf(id))) {
        for (uint32_t k = 0; k < C; k++)
            dx[(size_t)k * HW] = 0.0f;
        return 0.0f;
    }
    uint32_t cls = (uint32_t)id;
    float m = x[0];
    for (uint32_t k = 1; k < C; k++)
        m = fmaxf(m, x[(size_t)k * HW]);
    float sum = 0.0f;
    for (uint32_t k = 0; k < C; k++)
        sum += expf(x[(size_t)k * HW] - m);
    float inv = 1.0f / sum;
    for (uint32_t k = 0; k < C; k++)
        dx[(size_t)k * HW] = w * (expf(x[(size_t)k * HW] - m) * inv - (k == cls ? 1.0f : 0.0f));
    return m + logf(sum) - x[(size_t)cls * HW];
}

static void loss_range(const void *ctx, int64_t i0, int64_t i1)
{
    const loss_job *j = ctx;
    const ww_loss_params *p = j->p;
    size_t HW = p->HW;
    for (int64_t i = i0; i < i1; i++) {
        size_t b = (size_t)i / HW, px = (size_t)i % HW;
        float *dx = j->dpred + b * p->C * HW + px;
        float w = j->weight[i];
        if (w == 0.0f) {
            for (uint32_t k = 0; k < p->C; k++)
                dx[k * HW] = 0.0f;
            j->loss[i] = 0.0f;
            continue;
        }
        const float *x = j->pred + b * p->C * HW + px, *t = j->target + b * p->Ct * HW + px;
        float l = 0.0f;
        switch (p->kind) {
        case WW_LOSS_LAPLACIAN:
            l = laplacian(x, t, dx, p->Ct, p->HW, w);
            break;
        case WW_LOSS_L1:
            l = l1(x, t, dx, p->C, p->HW, w);
            break;
        case WW_LOSS_CROSS_ENTROPY:
            l = cross_entropy(x, t, dx, p->C, p->HW, w);
            break;
        }
        j->loss[i] = w * l;
    }
}

void ww_cpu_run_loss(const ww_node *n, void *const *ptr, ww_threads *pool)
{
    const ww_loss_params *p = &n->p.loss;
    loss_job j = {p, ptr[0], ptr[1], ptr[2], ptr[3], ptr[4]};
    ww_parallel_ranges(pool, (int64_t)p->B * p->HW, (int64_t)p->C * 16, loss_range, &j);
}
