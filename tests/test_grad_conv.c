/* Gradient checks of the backward ops of the DPT head and of the token gather: conv2d (to the
 * input and to the weights, with and without WW_CONV_RELU_IN), ConvTranspose2d, bilinear resize,
 * ReLU, scatter-add of rows.
 *
 * On the CPU backend every gradient is compared with central finite differences, in double
 * precision, of a double-precision forward written here, of the loss L = sum(dy * forward) (dy
 * random): dL/dinput is what the backward op must add. Gradients start non-zero, so the ops are
 * also checked to accumulate (+=). Shapes are small and odd. The Vulkan backend is compared with
 * the CPU backend on the same cases and on one realistic size, with the validation layer on.
 * Every tensor lives inside guard words that must stay intact. Seeds are fixed.
 *
 * Usage: test_grad_conv [NAME-SUBSTRING...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "ww.h"

#define FD_STEP 1e-3 /* the forwards are linear (piecewise linear with relu) in each input */

/* ---- Host data ----------------------------------------------------------------------------- */

static float *frand(test_rng *r, int64_t n, float lo, float hi)
{
    float *p = test_malloc((size_t)(n ? n : 1) * sizeof *p);
    test_rng_fill(r, p, (size_t)n, lo, hi);
    return p;
}

/* Random values in [-1, 1) at least 0.05 away from 0 (the relu kink stays beyond the finite
 * difference step). */
static float *frand_away(test_rng *r, int64_t n)
{
    float *p = frand(r, n, -1, 1);
    for (int64_t i = 0; i < n; i++)
        if (fabsf(p[i]) < 0.05f)
            p[i] = p[i] < 0 ? -0.05f - p[i] : 0.05f + p[i];
    return p;
}

static double *to_double(const float *x, int64_t n)
{
    double *d = test_malloc((size_t)(n ? n : 1) * sizeof *d);
    for (int64_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

/* loss(ctx, in) = sum(dy * forward(in)); fd[i] = central difference of loss along in[i].
 * in is modified and restored. */
typedef double (*loss_fn)(const void *ctx, const double *const *in);

static double *finite_diff(loss_fn loss, const void *ctx, double **in, int which, int64_t n)
{
    double *g = test_malloc((size_t)(n ? n : 1) * sizeof *g);
    for (int64_t i = 0; i < n; i++) {
        double v = in[which][i];
        in[which][i] = v + FD_STEP;
        double lp = loss(ctx, (const double *const *)in);
        in[which][i] = v - FD_STEP;
        double lm = loss(ctx, (const double *const *)in);
        in[which][i] = v;
        g[i] = (lp - lm) / (2 * FD_STEP);
    }
    return g;
}

/* init + grad: what an accumulating op must leave. */
static double *plus(const float *init, const double *grad, int64_t n)
{
    double *r = test_malloc((size_t)(n ? n : 1) * sizeof *r);
    for (int64_t i = 0; i < n; i++)
        r[i] = (double)init[i] + grad[i];
    return r;
}

/* ---- Device side ----------------------------------------------------------------------------- */

#define DEV_MAX 10

/* One run on one backend: the test's arena (emptied), a new sequence, guarded tensors keyed by
 * the host array they were made from. */
typedef struct dev {
    ww_backend *be;
    ww_arena *a;
    ww_seq *s;
    int n;
    const void *host[DEV_MAX];
    test_tensor tt[DEV_MAX];
} dev;

static int dev_begin(dev *d, ww_backend *be)
{
    memset(d, 0, sizeof *d);
    d->be = be;
    d->a = test_arena(be);
    d->s = d->a ? test_seq(be) : NULL;
    return d->s != NULL;
}

/* A guarded tensor [n3, n2, n1, n0] holding host; *t is its view. */
static int dev_up(dev *d, const void *host, ww_dtype type, int64_t n0, int64_t n1, int64_t n2,
                  int64_t n3, ww_tensor *t)
{
    if (!TEST_CHECK(d->n < DEV_MAX, "more than %d tensors", DEV_MAX))
        return 0;
    int64_t ne[4] = {n0, n1, n2, n3};
    if (!test_tensor_new(d->be, d->a, type, 4, ne, host, &d->tt[d->n]))
        return 0;
    d->host[d->n] = host;
    *t = d->tt[d->n++].t;
    return 1;
}

static int dev_get(dev *d, const void *host, float *dst, const char *what)
{
    for (int i = 0; i < d->n; i++)
        if (d->host[i] == host)
            return test_tensor_get(d->be, &d->tt[i], dst, what);
    return TEST_FAIL("%s: no device tensor", what);
}

/* A case runs on a backend and writes its outputs, one after the other, to out. */
typedef int (*run_fn)(ww_backend *be, const void *c, float *out, const char *what);

/* Vulkan: the case on Vulkan and on the CPU backend, each output segment compared. */
static void vs_cpu(ww_backend *be, run_fn run, const void *c, const int64_t *segn,
                   const char *const *segname, int nseg, double tol, const char *what)
{
    int64_t total = 0;
    for (int i = 0; i < nseg; i++)
        total += segn[i];
    float *got = test_malloc((size_t)total * sizeof *got);
    float *want = test_malloc((size_t)total * sizeof *want);
    char label[320];
    ww_backend *cpu = test_backend("cpu");
    if (!cpu || !run(be, c, got, what))
        return;
    snprintf(label, sizeof label, "%s (on the CPU backend)", what);
    if (!run(cpu, c, want, label))
        return;
    int64_t o = 0;
    for (int i = 0; i < nseg; o += segn[i++]) {
        snprintf(label, sizeof label, "%s: %s, Vulkan vs CPU", what, segname[i]);
        TEST_COMPARE_F(label, got + o, want + o, (size_t)segn[i], tol);
    }
}

/* ---- conv2d ------------------------------------------------------------------------------------ */

typedef struct conv_case {
    int B, Cin, Cout, H, W, k, stride, pad, bias;
    unsigned flags;
} conv_case;

typedef struct conv_data {
    conv_case c;
    int Ho, Wo;
    int64_t nx, nw, ny;
    float *x, *w, *dy;      /* the forward's input and weights, the output gradient */
    float *dx0, *dw0, *db0; /* gradients before the op (non-zero) */
} conv_data;

static void conv_make(const conv_case *c, uint64_t seed, conv_data *d)
{
    test_rng r;
    test_rng_seed(&r, seed);
    memset(d, 0, sizeof *d);
    d->c = *c;
    d->Ho = (c->H + 2 * c->pad - c->k) / c->stride + 1;
    d->Wo = (c->W + 2 * c->pad - c->k) / c->stride + 1;
    d->nx = (int64_t)c->B * c->Cin * c->H * c->W;
    d->nw = (int64_t)c->Cout * c->Cin * c->k * c->k;
    d->ny = (int64_t)c->B * c->Cout * d->Ho * d->Wo;
    d->x = frand_away(&r, d->nx);
    d->w = frand(&r, d->nw, -0.5f, 0.5f);
    d->dy = frand(&r, d->ny, -1, 1);
    d->dx0 = frand(&r, d->nx, -1, 1);
    d->dw0 = frand(&r, d->nw, -1, 1);
    d->db0 = frand(&r, c->Cout, -1, 1);
}

/* in: x, w, bias (may be NULL); sum over outputs of dy * conv2d(relu?(x), w) + bias. */
static double conv_loss(const void *ctx, const double *const *in)
{
    const conv_data *d = ctx;
    const conv_case *c = &d->c;
    const double *x = in[0], *w = in[1], *bias = in[2];
    double L = 0;
    for (int b = 0; b < c->B; b++)
        for (int co = 0; co < c->Cout; co++)
            for (int oy = 0; oy < d->Ho; oy++)
                for (int ox = 0; ox < d->Wo; ox++) {
                    double s = bias ? bias[co] : 0;
                    for (int ci = 0; ci < c->Cin; ci++)
                        for (int ky = 0; ky < c->k; ky++) {
                            int iy = oy * c->stride - c->pad + ky;
                            if (iy < 0 || iy >= c->H)
                                continue;
                            for (int kx = 0; kx < c->k; kx++) {
                                int ix = ox * c->stride - c->pad + kx;
                                if (ix < 0 || ix >= c->W)
                                    continue;
                                double v = x[((b * c->Cin + ci) * c->H + iy) * c->W + ix];
                                if ((c->flags & WW_CONV_RELU_IN) && v < 0)
                                    v = 0;
                                s += w[((co * c->Cin + ci) * c->k + ky) * c->k + kx] * v;
                            }
                        }
                    L += d->dy[((b * c->Cout + co) * d->Ho + oy) * d->Wo + ox] * s;
                }
    return L;
}

/* Outputs: dx, dw, db (db only with bias). With RELU_IN the input gradient is
 * ww_relu_backward(x, conv2d_backward_input(dy)), the trainer's composition. */
static int conv_run(ww_backend *be, const void *vc, float *out, const char *what)
{
    const conv_data *d = vc;
    const conv_case *c = &d->c;
    dev v;
    ww_tensor x, w, dy, dx, dw, db, tmp;
    float *zeros = test_malloc((size_t)d->nx * sizeof *zeros);
    int relu = (c->flags & WW_CONV_RELU_IN) != 0;
    if (!dev_begin(&v, be) || !dev_up(&v, d->x, WW_F32, c->W, c->H, c->Cin, c->B, &x) ||
        !dev_up(&v, d->w, WW_F32, c->k, c->k, c->Cin, c->Cout, &w) ||
        !dev_up(&v, d->dy, WW_F32, d->Wo, d->Ho, c->Cout, c->B, &dy) ||
        !dev_up(&v, d->dx0, WW_F32, c->W, c->H, c->Cin, c->B, &dx) ||
        !dev_up(&v, d->dw0, WW_F32, c->k, c->k, c->Cin, c->Cout, &dw) ||
        !dev_up(&v, d->db0, WW_F32, c->Cout, 1, 1, 1, &db) ||
        (relu && !dev_up(&v, zeros, WW_F32, c->W, c->H, c->Cin, c->B, &tmp)))
        return 0;
    if (relu) {
        if (!TEST_OK(be, ww_conv2d_backward_input(v.s, &dy, &w, c->stride, c->pad, &tmp)) ||
            !TEST_OK(be, ww_relu_backward(v.s, &x, &tmp, &dx)))
            return 0;
    } else if (!TEST_OK(be, ww_conv2d_backward_input(v.s, &dy, &w, c->stride, c->pad, &dx))) {
        return 0;
    }
    if (!TEST_OK(be, ww_conv2d_backward_weight(v.s, &x, &dy, c->stride, c->pad, &dw,
                                               c->bias ? &db : NULL, c->flags)))
        return 0;
    if (!test_run(be, v.s))
        return 0;
    char label[300];
    snprintf(label, sizeof label, "%s: dx", what);
    if (!dev_get(&v, d->dx0, out, label))
        return 0;
    snprintf(label, sizeof label, "%s: dw", what);
    if (!dev_get(&v, d->dw0, out + d->nx, label))
        return 0;
    snprintf(label, sizeof label, "%s: db", what);
    return dev_get(&v, d->db0, out + d->nx + d->nw, label);
}

static void conv_name(const conv_case *c, char *buf, size_t len)
{
    snprintf(buf, len, "conv2d backward B=%d Cin=%d Cout=%d %dx%d k=%d stride=%d pad=%d%s%s",
             c->B, c->Cin, c->Cout, c->H, c->W, c->k, c->stride, c->pad, c->bias ? " bias" : "",
             (c->flags & WW_CONV_RELU_IN) ? " RELU_IN" : "");
}

static const conv_case conv_cases[] = {
    /* B, Cin, Cout, H, W, k, stride, pad, bias, flags */
    {1, 1, 1, 1, 1, 1, 1, 0, 1, 0},
    {2, 3, 5, 7, 7, 3, 1, 1, 1, 0},
    {1, 5, 3, 4, 7, 3, 2, 1, 0, 0},
    {2, 3, 1, 7, 4, 1, 1, 0, 1, 0},
    {1, 5, 5, 7, 7, 3, 2, 0, 1, 0},
    {2, 1, 3, 4, 4, 3, 1, 0, 0, 0},
    {1, 3, 5, 1, 7, 3, 1, 1, 1, 0},
    {2, 5, 3, 7, 1, 1, 2, 0, 0, 0},
    {1, 1, 3, 1, 1, 3, 2, 1, 1, 0},
    {1, 3, 3, 4, 7, 3, 2, 1, 1, WW_CONV_RELU_IN},
    {2, 3, 5, 7, 7, 3, 1, 1, 0, WW_CONV_RELU_IN},
    {1, 5, 1, 7, 4, 3, 1, 1, 1, WW_CONV_RELU_IN},
    {2, 5, 3, 4, 7, 1, 1, 0, 1, WW_CONV_RELU_IN},
    {1, 3, 2, 8, 10, 5, 3, 2, 1, 0},
    {1, 2, 3, 9, 10, 9, 2, 4, 0, 0},    /* k >= 8: the shader's generic path */
    {1, 3, 2, 9, 11, 7, 5, 3, 1, 0},    /* stride > 4: the generic path */
    {1, 3, 4, 16, 32, 16, 16, 0, 1, 0}, /* patch embedding */
};

static void test_conv2d_grad(const char *devname)
{
    ww_backend *be = test_backend(devname);
    if (!be)
        return;
    int vulkan = ww_backend_kind_of(be) == WW_BACKEND_VULKAN;
    for (int i = 0; i < (int)(sizeof conv_cases / sizeof conv_cases[0]); i++) {
        const conv_case *c = &conv_cases[i];
        conv_data d;
        conv_make(c, 40000 + (uint64_t)i, &d);
        char what[200];
        conv_name(c, what, sizeof what);
        int64_t segn[3] = {d.nx, d.nw, c->Cout};
        static const char *const segname[3] = {"dx", "dw", "db"};
        if (vulkan) {
            vs_cpu(be, conv_run, &d, segn, segname, 3, TEST_TOL, what);
            continue;
        }
        float *got = test_malloc((size_t)(d.nx + d.nw + c->Cout) * sizeof *got);
        if (!conv_run(be, &d, got, what))
            continue;
        double *in[3] = {to_double(d.x, d.nx), to_double(d.w, d.nw),
                         c->bias ? to_double(d.db0, c->Cout) : NULL};
        char label[260];
        snprintf(label, sizeof label, "%s: dx vs finite differences", what);
        TEST_COMPARE(label, got, plus(d.dx0, finite_diff(conv_loss, &d, in, 0, d.nx), d.nx),
                     (size_t)d.nx, TEST_TOL);
        snprintf(label, sizeof label, "%s: dw vs finite differences", what);
        TEST_COMPARE(label, got + d.nx,
                     plus(d.dw0, finite_diff(conv_loss, &d, in, 1, d.nw), d.nw), (size_t)d.nw,
                     TEST_TOL);
        if (c->bias) {
            snprintf(label, sizeof label, "%s: db vs finite differences", what);
            TEST_COMPARE(label, got + d.nx + d.nw,
                         plus(d.db0, finite_diff(conv_loss, &d, in, 2, c->Cout), c->Cout),
                         (size_t)c->Cout, TEST_TOL);
        } else {
            snprintf(label, sizeof label, "%s: db untouched without bias", what);
            TEST_COMPARE_F(label, got + d.nx + d.nw, d.db0, (size_t)c->Cout, 0);
        }
    }
}

/* The analytic gradients in double, for the realistic size (finite differences would take
 * minutes there), as conv_run computes them (dx through the relu with RELU_IN, db with bias). */
static double *conv_grad_ref(const conv_data *d)
{
    const conv_case *c = &d->c;
    double *g = test_malloc((size_t)(d->nx + d->nw + c->Cout) * sizeof *g);
    double *gx = g, *gw = g + d->nx, *gb = gw + d->nw;
    for (int b = 0; b < c->B; b++)
        for (int co = 0; co < c->Cout; co++)
            for (int oy = 0; oy < d->Ho; oy++)
                for (int ox = 0; ox < d->Wo; ox++) {
                    double gy = d->dy[((b * c->Cout + co) * d->Ho + oy) * d->Wo + ox];
                    if (c->bias)
                        gb[co] += gy;
                    for (int ci = 0; ci < c->Cin; ci++)
                        for (int ky = 0; ky < c->k; ky++) {
                            int iy = oy * c->stride - c->pad + ky;
                            if (iy < 0 || iy >= c->H)
                                continue;
                            for (int kx = 0; kx < c->k; kx++) {
                                int ix = ox * c->stride - c->pad + kx;
                                if (ix < 0 || ix >= c->W)
                                    continue;
                                int64_t xi = ((b * c->Cin + ci) * c->H + iy) * c->W + ix;
                                int64_t wi = ((co * c->Cin + ci) * c->k + ky) * c->k + kx;
                                int relu = (c->flags & WW_CONV_RELU_IN) != 0;
                                if (!relu || d->x[xi] > 0) {
                                    gx[xi] += d->w[wi] * gy;
                                    gw[wi] += d->x[xi] * gy;
                                }
                            }
                        }
                }
    for (int64_t i = 0; i < d->nx; i++)
        g[i] += d->dx0[i];
    for (int64_t i = 0; i < d->nw; i++)
        gw[i] += d->dw0[i];
    for (int i = 0; i < c->Cout; i++)
        gb[i] += d->db0[i];
    return g;
}

/* conv 3x3 32 -> 32 at 24x20, B = 2 (and its stride-2 form), and rows wide enough for the
 * shaders' widest tiles: against the analytic double gradients on the CPU, against the CPU on
 * Vulkan; two runs give the same bits. */
static void test_conv2d_grad_large(const char *devname)
{
    ww_backend *be = test_backend(devname);
    if (!be)
        return;
    static const conv_case cs[] = {
        {2, 32, 32, 24, 20, 3, 1, 1, 1, 0}, {2, 32, 32, 24, 20, 3, 2, 1, 1, 0},
        {1, 9, 7, 5, 70, 3, 2, 1, 1, 0},    {1, 5, 3, 6, 67, 5, 3, 2, 0, 0},
        {1, 17, 5, 3, 130, 3, 1, 1, 1, WW_CONV_RELU_IN},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        conv_data d;
        conv_make(&cs[i], 41000 + (uint64_t)i, &d);
        char what[200];
        conv_name(&cs[i], what, sizeof what);
        int64_t n = d.nx + d.nw + cs[i].Cout;
        int64_t segn[3] = {d.nx, d.nw, cs[i].Cout};
        static const char *const segname[3] = {"dx", "dw", "db"};
        if (ww_backend_kind_of(be) == WW_BACKEND_VULKAN) {
            vs_cpu(be, conv_run, &d, segn, segname, 3, TEST_TOL, what);
        } else {
            float *got = test_malloc((size_t)n * sizeof *got);
            if (!conv_run(be, &d, got, what))
                continue;
            const double *ref = conv_grad_ref(&d);
            char label[260];
            for (int s = 0, o = 0; s < 3; o += (int)segn[s++]) {
                snprintf(label, sizeof label, "%s: %s vs double", what, segname[s]);
                TEST_COMPARE(label, got + o, ref + o, (size_t)segn[s], TEST_TOL);
            }
        }
        float *a = test_malloc((size_t)n * sizeof *a), *b = test_malloc((size_t)n * sizeof *b);
        if (conv_run(be, &d, a, what) && conv_run(be, &d, b, what))
            TEST_CHECK(!memcmp(a, b, (size_t)n * sizeof *a), "%s: two runs differ", what);
    }
}

/* ---- conv_transpose2d ---------------------------------------------------------------------------- */

typedef struct convt_case {
    int B, Cin, Cout, H, W, k, bias;
    int want; /* bit 0 dx, 1 dw, 2 db (db only with bias) */
} convt_case;

typedef struct convt_data {
    convt_case c;
    int64_t nx, nw, ny;
    float *x, *w, *dy, *dx0, *dw0, *db0;
} convt_data;

static double convt_loss(const void *ctx, const double *const *in)
{
    const convt_data *d = ctx;
    const convt_case *c = &d->c;
    const double *x = in[0], *w = in[1], *bias = in[2];
    int k = c->k, Ho = c->H * k, Wo = c->W * k;
    double L = 0;
    for (int b = 0; b < c->B; b++)
        for (int co = 0; co < c->Cout; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    int iy = oy / k, ix = ox / k, ky = oy % k, kx = ox % k;
                    double s = bias ? bias[co] : 0;
                    for (int ci = 0; ci < c->Cin; ci++)
                        s += x[((b * c->Cin + ci) * c->H + iy) * c->W + ix] *
                             w[((ci * c->Cout + co) * k + ky) * k + kx];
                    L += d->dy[((b * c->Cout + co) * Ho + oy) * Wo + ox] * s;
                }
    return L;
}

static int convt_run(ww_backend *be, const void *vc, float *out, const char *what)
{
    const convt_data *d = vc;
    const convt_case *c = &d->c;
    dev v;
    ww_tensor x, w, dy, dx, dw, db;
    if (!dev_begin(&v, be) || !dev_up(&v, d->x, WW_F32, c->W, c->H, c->Cin, c->B, &x) ||
        !dev_up(&v, d->w, WW_F32, c->k, c->k, c->Cout, c->Cin, &w) ||
        !dev_up(&v, d->dy, WW_F32, c->W * c->k, c->H * c->k, c->Cout, c->B, &dy) ||
        !dev_up(&v, d->dx0, WW_F32, c->W, c->H, c->Cin, c->B, &dx) ||
        !dev_up(&v, d->dw0, WW_F32, c->k, c->k, c->Cout, c->Cin, &dw) ||
        !dev_up(&v, d->db0, WW_F32, c->Cout, 1, 1, 1, &db))
        return 0;
    /* the inputs an output does not need are left out */
    if (!TEST_OK(be, ww_conv_transpose2d_backward(v.s, (c->want & 2) ? &x : NULL,
                                                  (c->want & 1) ? &w : NULL, &dy,
                                                  (c->want & 1) ? &dx : NULL,
                                                  (c->want & 2) ? &dw : NULL,
                                                  (c->want & 4) ? &db : NULL)))
        return 0;
    return test_run(be, v.s) && dev_get(&v, d->dx0, out, what) &&
           dev_get(&v, d->dw0, out + d->nx, what) && dev_get(&v, d->db0, out + d->nx + d->nw, what);
}

static void test_convt_grad(const char *devname)
{
    ww_backend *be = test_backend(devname);
    if (!be)
        return;
    static const convt_case cs[] = {
        /* B, Cin, Cout, H, W, k, bias, want */
        {2, 3, 5, 3, 4, 2, 1, 7}, {1, 5, 1, 1, 1, 4, 0, 3}, {1, 1, 3, 4, 3, 4, 1, 7},
        {2, 5, 3, 1, 4, 2, 1, 7}, {1, 3, 5, 3, 3, 2, 1, 6}, {2, 3, 2, 2, 3, 4, 0, 1},
        {1, 17, 9, 3, 5, 2, 1, 7}, {2, 3, 4, 3, 5, 1, 1, 7}, {1, 4, 3, 2, 70, 2, 1, 7},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        const convt_case *c = &cs[i];
        test_rng r;
        test_rng_seed(&r, 42000 + (uint64_t)i);
        convt_data d = {.c = *c};
        d.nx = (int64_t)c->B * c->Cin * c->H * c->W;
        d.nw = (int64_t)c->Cin * c->Cout * c->k * c->k;
        d.ny = d.nx / c->Cin * c->Cout * c->k * c->k;
        d.x = frand(&r, d.nx, -1, 1);
        d.w = frand(&r, d.nw, -0.5f, 0.5f);
        d.dy = frand(&r, d.ny, -1, 1);
        d.dx0 = frand(&r, d.nx, -1, 1);
        d.dw0 = frand(&r, d.nw, -1, 1);
        d.db0 = frand(&r, c->Cout, -1, 1);
        char what[200];
        snprintf(what, sizeof what, "conv_transpose2d backward B=%d Cin=%d Cout=%d %dx%d k=%d%s%s%s%s",
                 c->B, c->Cin, c->Cout, c->H, c->W, c->k, c->bias ? " bias" : "",
                 (c->want & 1) ? " dx" : "", (c->want & 2) ? " dw" : "",
                 (c->want & 4) ? " db" : "");
        int64_t segn[3] = {d.nx, d.nw, c->Cout};
        static const char *const segname[3] = {"dx", "dw", "db"};
        if (ww_backend_kind_of(be) == WW_BACKEND_VULKAN) {
            vs_cpu(be, convt_run, &d, segn, segname, 3, TEST_TOL, what);
            continue;
        }
        float *got = test_malloc((size_t)(d.nx + d.nw + c->Cout) * sizeof *got);
        if (!convt_run(be, &d, got, what))
            continue;
        double *in[3] = {to_double(d.x, d.nx), to_double(d.w, d.nw),
                         c->bias ? to_double(d.db0, c->Cout) : NULL};
        const float *init[3] = {d.dx0, d.dw0, d.db0};
        char label[260];
        for (int s = 0, o = 0; s < 3; o += (int)segn[s++]) {
            if ((c->want >> s) & 1 && (s < 2 || c->bias)) {
                snprintf(label, sizeof label, "%s: %s vs finite differences", what, segname[s]);
                TEST_COMPARE(label, got + o,
                             plus(init[s], finite_diff(convt_loss, &d, in, s, segn[s]), segn[s]),
                             (size_t)segn[s], TEST_TOL);
            } else {
                snprintf(label, sizeof label, "%s: %s untouched", what, segname[s]);
                TEST_COMPARE_F(label, got + o, init[s], (size_t)segn[s], 0);
            }
        }
    }
}

/* ---- resize_bilinear ------------------------------------------------------------------------------ */

typedef struct rs_data {
    int B, C, H, W, Ho, Wo;
    int64_t nx, ny;
    float *dy, *dx0;
} rs_data;

/* align_corners = true: output i samples input i * (in - 1) / (out - 1); a single output sample
 * takes input 0. */
static void rs_coord(int i, int in, int out, int *i0, int *i1, double *f)
{
    double s = out > 1 ? i * (double)(in - 1) / (out - 1) : 0.0;
    *i0 = (int)floor(s);
    if (*i0 > in - 1)
        *i0 = in - 1;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *f = s - *i0;
}

static double rs_loss(const void *ctx, const double *const *in)
{
    const rs_data *d = ctx;
    const double *x = in[0];
    double L = 0;
    for (int p = 0; p < d->B * d->C; p++)
        for (int oy = 0; oy < d->Ho; oy++)
            for (int ox = 0; ox < d->Wo; ox++) {
                int y0, y1, x0, x1;
                double fy, fx;
                rs_coord(oy, d->H, d->Ho, &y0, &y1, &fy);
                rs_coord(ox, d->W, d->Wo, &x0, &x1, &fx);
                const double *pl = x + (int64_t)p * d->H * d->W;
                double top = (1 - fx) * pl[y0 * d->W + x0] + fx * pl[y0 * d->W + x1];
                double bot = (1 - fx) * pl[y1 * d->W + x0] + fx * pl[y1 * d->W + x1];
                L += d->dy[((int64_t)p * d->Ho + oy) * d->Wo + ox] * ((1 - fy) * top + fy * bot);
            }
    return L;
}

static int rs_run(ww_backend *be, const void *vc, float *out, const char *what)
{
    const rs_data *d = vc;
    dev v;
    ww_tensor dy, dx;
    if (!dev_begin(&v, be) || !dev_up(&v, d->dy, WW_F32, d->Wo, d->Ho, d->C, d->B, &dy) ||
        !dev_up(&v, d->dx0, WW_F32, d->W, d->H, d->C, d->B, &dx))
        return 0;
    if (!TEST_OK(be, ww_resize_bilinear_backward(v.s, &dy, &dx)))
        return 0;
    return test_run(be, v.s) && dev_get(&v, d->dx0, out, what);
}

static void test_resize_grad(const char *devname)
{
    ww_backend *be = test_backend(devname);
    if (!be)
        return;
    static const int cs[][6] = {
        /* B, C, H, W, Ho, Wo */
        {2, 3, 3, 5, 6, 10}, {1, 2, 1, 1, 2, 2}, {1, 1, 4, 4, 8, 8}, {2, 2, 5, 3, 3, 7},
        {1, 3, 4, 1, 1, 4},  {1, 1, 6, 5, 1, 1}, {1, 2, 7, 9, 7, 9}, {1, 1, 3, 4, 17, 9},
        {1, 2, 17, 9, 34, 18},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 43000 + (uint64_t)i);
        rs_data d = {cs[i][0], cs[i][1], cs[i][2], cs[i][3], cs[i][4], cs[i][5], 0, 0, NULL, NULL};
        d.nx = (int64_t)d.B * d.C * d.H * d.W;
        d.ny = (int64_t)d.B * d.C * d.Ho * d.Wo;
        d.dy = frand(&r, d.ny, -1, 1);
        d.dx0 = frand(&r, d.nx, -1, 1);
        char what[160];
        snprintf(what, sizeof what, "resize_bilinear backward B=%d C=%d %dx%d -> %dx%d", d.B,
                 d.C, d.H, d.W, d.Ho, d.Wo);
        if (ww_backend_kind_of(be) == WW_BACKEND_VULKAN) {
            static const char *const name = "dx";
            vs_cpu(be, rs_run, &d, &d.nx, &name, 1, TEST_TOL, what);
            continue;
        }
        float *got = test_malloc((size_t)d.nx * sizeof *got);
        if (!rs_run(be, &d, got, what))
            continue;
        double *in[1] = {test_malloc((size_t)d.nx * sizeof(double))}; /* linear: any point */
        char label[200];
        snprintf(label, sizeof label, "%s: dx vs finite differences", what);
        TEST_COMPARE(label, got, plus(d.dx0, finite_diff(rs_loss, &d, in, 0, d.nx), d.nx),
                     (size_t)d.nx, TEST_TOL);
    }
}

/* ---- relu ------------------------------------------------------------------------------------------ */

typedef struct relu_data {
    int64_t n;
    float *x, *dy, *dx0;
} relu_data;

static double relu_loss(const void *ctx, const double *const *in)
{
    const relu_data *d = ctx;
    double L = 0;
    for (int64_t i = 0; i < d->n; i++)
        L += d->dy[i] * (in[0][i] > 0 ? in[0][i] : 0);
    return L;
}

static int relu_run(ww_backend *be, const void *vc, float *out, const char *what)
{
    const relu_data *d = vc;
    dev v;
    ww_tensor x, dy, dx;
    if (!dev_begin(&v, be) || !dev_up(&v, d->x, WW_F32, d->n, 1, 1, 1, &x) ||
        !dev_up(&v, d->dy, WW_F32, d->n, 1, 1, 1, &dy) ||
        !dev_up(&v, d->dx0, WW_F32, d->n, 1, 1, 1, &dx))
        return 0;
    if (!TEST_OK(be, ww_relu_backward(v.s, &x, &dy, &dx)))
        return 0;
    return test_run(be, v.s) && dev_get(&v, d->dx0, out, what);
}

static void test_relu_grad(const char *devname)
{
    ww_backend *be = test_backend(devname);
    if (!be)
        return;
    static const int64_t ns[] = {1, 7, 1000};
    for (int i = 0; i < 3; i++) {
        test_rng r;
        test_rng_seed(&r, 44000 + (uint64_t)i);
        relu_data d = {ns[i], frand_away(&r, ns[i]), NULL, NULL};
        d.dy = frand(&r, d.n, -1, 1);
        d.dx0 = frand(&r, d.n, -1, 1);
        for (int64_t j = 3; j < d.n; j += 5) /* exact zeros: relu'(0) = 0 by convention */
            d.x[j] = 0.0f;
        char what[80];
        snprintf(what, sizeof what, "relu backward n=%lld", (long long)d.n);
        if (ww_backend_kind_of(be) == WW_BACKEND_VULKAN) {
            static const char *const name = "dx";
            vs_cpu(be, relu_run, &d, &d.n, &name, 1, 0, what);
            continue;
        }
        float *got = test_malloc((size_t)d.n * sizeof *got);
        if (!relu_run(be, &d, got, what))
            continue;
        double *in[1] = {to_double(d.x, d.n)};
        double *ref = plus(d.dx0, finite_diff(relu_loss, &d, in, 0, d.n), d.n);
        for (int64_t j = 0; j < d.n; j++)
            if (d.x[j] == 0.0f)
                ref[j] = d.dx0[j];
        char label[120];
        snprintf(label, sizeof label, "%s: dx vs finite differences", what);
        TEST_COMPARE(label, got, ref, (size_t)d.n, TEST_TOL);
    }
}

/* ---- scatter_add_rows --------------------------------------------------------------------------- */

typedef struct rows_data {
    int B, N, n, D, idx_b; /* idx_b: idx has B rows, else one shared row */
    uint32_t *idx;
    float *dg, *dX0; /* gradient of the gathered rows [B, n, D]; of the full rows [B, N, D] */
} rows_data;

/* loss = sum(dg * gather_rows(X, idx)): the gathered rows' forward. */
static double rows_loss(const void *ctx, const double *const *in)
{
    const rows_data *d = ctx;
    double L = 0;
    for (int b = 0; b < d->B; b++)
        for (int i = 0; i < d->n; i++) {
            uint32_t id = d->idx[(d->idx_b ? b * d->n : 0) + i];
            if (id >= (uint32_t)d->N)
                continue;
            for (int e = 0; e < d->D; e++)
                L += d->dg[((int64_t)b * d->n + i) * d->D + e] *
                     in[0][((int64_t)b * d->N + id) * d->D + e];
        }
    return L;
}

static int rows_run(ww_backend *be, const void *vc, float *out, const char *what)
{
    const rows_data *d = vc;
    dev v;
    ww_tensor dg, idx, dX;
    if (!dev_begin(&v, be) || !dev_up(&v, d->dg, WW_F32, d->D, d->n, d->B, 1, &dg) ||
        !dev_up(&v, d->idx, WW_U32, d->n, d->idx_b ? d->B : 1, 1, 1, &idx) ||
        !dev_up(&v, d->dX0, WW_F32, d->D, d->N, d->B, 1, &dX))
        return 0;
    if (!TEST_OK(be, ww_scatter_add_rows(v.s, &dg, &idx, &dX)))
        return 0;
    return test_run(be, v.s) && dev_get(&v, d->dX0, out, what);
}

static void test_scatter_add_grad(const char *devname)
{
    ww_backend *be = test_backend(devname);
    if (!be)
        return;
    static const int cs[][6] = {
        /* B, N, n, D, idx per batch, an index >= N */
        {1, 7, 3, 5, 0, 0}, {2, 9, 4, 3, 1, 0}, {2, 5, 5, 1, 0, 0},
        {1, 4, 2, 8, 0, 1}, {2, 6, 3, 7, 1, 1}, {1, 300, 37, 64, 0, 0},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 45000 + (uint64_t)i);
        rows_data d = {cs[i][0], cs[i][1], cs[i][2], cs[i][3], cs[i][4], NULL, NULL, NULL};
        int rows = d.idx_b ? d.B : 1;
        d.idx = test_malloc((size_t)rows * d.n * sizeof *d.idx);
        uint32_t *perm = test_malloc((size_t)d.N * sizeof *perm);
        for (int b = 0; b < rows; b++) { /* distinct indices: the start of a shuffle */
            for (int j = 0; j < d.N; j++)
                perm[j] = (uint32_t)j;
            for (int j = d.N - 1; j > 0; j--) {
                uint32_t k = test_rng_below(&r, (uint32_t)j + 1), t = perm[j];
                perm[j] = perm[k];
                perm[k] = t;
            }
            memcpy(d.idx + (size_t)b * d.n, perm, (size_t)d.n * sizeof *perm);
            if (cs[i][5])
                d.idx[(size_t)b * d.n + (size_t)b % (size_t)d.n] = (uint32_t)d.N + (uint32_t)b * 1000u;
        }
        int64_t ng = (int64_t)d.B * d.n * d.D, nX = (int64_t)d.B * d.N * d.D;
        d.dg = frand(&r, ng, -1, 1);
        d.dX0 = frand(&r, nX, -1, 1);
        char what[160];
        snprintf(what, sizeof what, "scatter_add_rows B=%d N=%d n=%d D=%d idx %s%s", d.B, d.N,
                 d.n, d.D, d.idx_b ? "per batch" : "shared", cs[i][5] ? ", one >= N" : "");
        if (ww_backend_kind_of(be) == WW_BACKEND_VULKAN) {
            static const char *const name = "y";
            vs_cpu(be, rows_run, &d, &nX, &name, 1, 0, what);
            continue;
        }
        float *got = test_malloc((size_t)nX * sizeof *got);
        if (!rows_run(be, &d, got, what))
            continue;
        double *in[1] = {to_double(d.dX0, nX)};
        char label[220];
        snprintf(label, sizeof label, "%s: vs finite differences of the gather", what);
        TEST_COMPARE(label, got, plus(d.dX0, finite_diff(rows_loss, &d, in, 0, nX), nX),
                     (size_t)nX, TEST_TOL);
    }
}

/* ---- Argument checks ------------------------------------------------------------------------------ */

static void test_grad_errors(const char *devname)
{
    ww_backend *be = test_backend(devname);
    if (!be)
        return;
    ww_arena *a = test_arena(be);
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return;
    ww_tensor x, w, y, y2, wrong, db, dbw, idx, idx2, rows, big;
    int64_t nx[4] = {6, 5, 3, 2}, nw[4] = {3, 3, 3, 4}, ny[4] = {6, 5, 4, 2};
    int64_t ny2[4] = {3, 3, 4, 2}, nwrong[4] = {5, 5, 4, 2}, nb[1] = {4}, nbw[1] = {3};
    int64_t ni[2] = {3, 1}, ni2[2] = {3, 3}, nrows[3] = {5, 3, 2}, nbig[3] = {5, 10, 2};
    if (!TEST_OK(be, ww_arena_alloc(a, WW_F32, 4, nx, &x)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 4, nw, &w)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 4, ny, &y)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 4, ny2, &y2)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 4, nwrong, &wrong)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 1, nb, &db)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 1, nbw, &dbw)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_U32, 2, ni, &idx)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_U32, 2, ni2, &idx2)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 3, nrows, &rows)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 3, nbig, &big)))
        return;
    /* conv2d 3 -> 4, 3x3: x [2, 3, 5, 6], w [4, 3, 3, 3], stride 1 pad 1: y [2, 4, 5, 6],
     * stride 2 pad 1: y2 [2, 4, 3, 3] */
    TEST_OK(be, ww_conv2d_backward_input(s, &y, &w, 1, 1, &x));
    TEST_OK(be, ww_conv2d_backward_input(s, &y2, &w, 2, 1, &x));
    TEST_OK(be, ww_conv2d_backward_weight(s, &x, &y, 1, 1, &w, &db, WW_CONV_RELU_IN));
    TEST_OK(be, ww_conv2d_backward_weight(s, &x, &y2, 2, 1, &w, NULL, 0));
    TEST_STATUS(be, ww_conv2d_backward_input(s, &wrong, &w, 1, 1, &x), WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv2d_backward_input(s, &y, &w, 1, 3, &x), WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv2d_backward_input(s, &y, &w, 0, 1, &x), WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv2d_backward_input(s, &y, &w, 1, 1, NULL), WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv2d_backward_weight(s, &x, &y, 1, 1, &w, &db, WW_CONV_RELU_OUT),
                WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv2d_backward_weight(s, &x, &y, 1, 1, &w, &dbw, 0), WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv2d_backward_weight(s, &x, &x, 1, 1, &w, NULL, 0), WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv2d_backward_weight(s, &x, &y, 2, 1, &w, NULL, 0), WW_ERR_INVALID);
    /* outputs overlapping other tensors */
    ww_tensor wdb = ww_tensor_view(&w, 0, (int64_t[4]){4, 1, 1, 1}, (int64_t[4]){1, 4, 4, 4});
    ww_tensor xv = ww_tensor_view(&y, 0, nx, (int64_t[4]){1, 6, 30, 90}); /* x-shaped, in y */
    TEST_STATUS(be, ww_conv2d_backward_weight(s, &x, &y, 1, 1, &w, &wdb, 0), WW_ERR_INVALID);
    TEST_STATUS(be, ww_relu_backward(s, &y, &y, &y), WW_ERR_INVALID);
    TEST_STATUS(be, ww_relu_backward(s, &x, &xv, &xv), WW_ERR_INVALID);
    TEST_STATUS(be, ww_relu_backward(s, &xv, &x, &x), WW_ERR_INVALID);
    TEST_STATUS(be, ww_relu_backward(s, &x, &y, &x), WW_ERR_INVALID);
    /* conv transpose: y [2, 4, 5, 6] as dy of x [2, 3, 5, 6] needs k = 1, w [3, 4, 1, 1] */
    TEST_STATUS(be, ww_conv_transpose2d_backward(s, &x, &w, &y, NULL, NULL, NULL),
                WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv_transpose2d_backward(s, NULL, &w, &y, &x, NULL, NULL),
                WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv_transpose2d_backward(s, NULL, NULL, &y, &x, NULL, NULL),
                WW_ERR_INVALID);
    TEST_STATUS(be, ww_conv_transpose2d_backward(s, NULL, NULL, &y, NULL, NULL, &dbw),
                WW_ERR_INVALID);
    TEST_OK(be, ww_conv_transpose2d_backward(s, NULL, NULL, &y, NULL, NULL, &db));
    /* resize: the planes must match */
    TEST_OK(be, ww_resize_bilinear_backward(s, &wrong, &y));
    TEST_STATUS(be, ww_resize_bilinear_backward(s, &y, &x), WW_ERR_INVALID);
    /* scatter-add: x [2, 3, 5] into big [2, 10, 5] through idx [1, 3] */
    TEST_OK(be, ww_scatter_add_rows(s, &rows, &idx, &big));
    TEST_STATUS(be, ww_scatter_add_rows(s, &dbw, &idx, &big), WW_ERR_INVALID);
    TEST_STATUS(be, ww_scatter_add_rows(s, &rows, &idx2, &big), WW_ERR_INVALID);
    TEST_STATUS(be, ww_scatter_add_rows(s, &rows, &rows, &big), WW_ERR_INVALID);
    TEST_CHECK(ww_seq_length(s) == 8, "%d nodes appended, want 8 (a failed call appends nothing)",
               ww_seq_length(s));
}

#define BOTH(name, fn) {name ".cpu", fn, "cpu"}, {name ".vulkan", fn, "vulkan"}

static const ww_test_case cases[] = {
    BOTH("conv2d_grad", test_conv2d_grad),
    BOTH("conv2d_grad_large", test_conv2d_grad_large),
    BOTH("conv_transpose2d_grad", test_convt_grad),
    BOTH("resize_bilinear_grad", test_resize_grad),
    BOTH("relu_grad", test_relu_grad),
    BOTH("scatter_add_rows_grad", test_scatter_add_grad),
    BOTH("grad_errors", test_grad_errors),
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
