/* Tests of the basic training ops (ww.h, "Training"): LayerNorm and GELU backward against
 * central finite differences of double-precision forwards written here (loss = sum(dy * y) with
 * random dy), at odd shapes, with gradients that start non-zero (backward ops accumulate);
 * ww_sum_rows and ww_sum_squares against double sums; AdamW against a double-precision
 * reference of the update over 3 steps, with and without weight decay, with host values and
 * with the per-step scalars buffer (on-device clipping included). On Vulkan every case is also
 * compared with the CPU backend, and the reductions must give the same bits when run again.
 * Every device tensor lies inside guard words (test_tensor_new) that must stay intact; scratch
 * tensors start as NaN.
 *
 * Usage: test_grad_basic [NAME-SUBSTRING...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "ww.h"

#define GRAD_TOL 1e-5  /* fp32 backward against double central differences (seen: <= 3e-7) */
#define DELTA_TOL 5e-5 /* AdamW's parameter change, from fp32 parameters near 1 (seen: 2e-6) */

/* ---- Helpers ---------------------------------------------------------------------------------- */

typedef struct ctx {
    ww_backend *be;
    ww_arena *a;
    ww_seq *s;
} ctx;

static int ctx_begin(ctx *c, ww_backend *be)
{
    c->be = be;
    c->a = test_arena(be);
    c->s = c->a ? test_seq(be) : NULL;
    return c->s != NULL;
}

/* A guarded 1-D tensor of n floats, init or NaN guard words when init is NULL. */
static int tensor(ctx *c, const float *init, int64_t n, test_tensor *tt)
{
    return test_tensor_new(c->be, c->a, WW_F32, 1, &n, init, tt);
}

/* The scratch an op needs: NULL when need is 0, else a tensor of need NaNs. */
static int scratch(ctx *c, int64_t need, test_tensor *tt, const ww_tensor **t)
{
    *t = NULL;
    if (need == 0)
        return 1;
    if (!TEST_CHECK(need > 0, "negative scratch size %lld", (long long)need) ||
        !tensor(c, NULL, need, tt))
        return 0;
    *t = &tt->t;
    return 1;
}

static ww_tensor view4(const test_tensor *tt, int64_t off, const int64_t ne[4],
                       const int64_t nb[4])
{
    return ww_tensor_view(&tt->t, off, ne, nb);
}

static float *frand(test_rng *r, int64_t n, float lo, float hi)
{
    float *p = test_malloc((size_t)(n ? n : 1) * sizeof *p);
    test_rng_fill(r, p, (size_t)n, lo, hi);
    return p;
}

/* The CPU backend to compare a Vulkan backend with; NULL when be is the CPU backend. */
static ww_backend *cpu_peer(ww_backend *be)
{
    return ww_backend_kind_of(be) == WW_BACKEND_VULKAN ? test_backend("cpu") : NULL;
}

static int same_bits(const char *what, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]))
            return TEST_FAIL("%s: run again gives a different result at [%lld]: %.9g, then %.9g",
                             what, (long long)i, (double)a[i], (double)b[i]);
    return 1;
}

/* ---- LayerNorm backward --------------------------------------------------------------------- */

typedef struct lnb_case {
    int D, rows1, rows2, pad; /* x [rows2, rows1, D], row stride D + pad */
    float eps;
} lnb_case;

typedef struct lnb_data {
    lnb_case c;
    int64_t rows, rs, nx;       /* rows, row stride, elements of the x / dy / dx backings */
    float *x, *w, *dy;          /* inputs */
    float *dx0, *dw0, *db0;     /* initial gradients (accumulated into) */
} lnb_data;

/* Runs the op (twice when `again`, from the same initial gradients, into dx2 / dw2 / db2). */
static int lnb_run(ww_backend *be, const lnb_data *d, float *dx, float *dw, float *db,
                   float *dx2, float *dw2, float *db2, const char *what)
{
    ctx c;
    test_tensor tx, tw, tdy, tdx, tdw, tdb, tsc;
    const ww_tensor *sc;
    int64_t D = d->c.D;
    if (!ctx_begin(&c, be) || !tensor(&c, d->x, d->nx, &tx) || !tensor(&c, d->w, D, &tw) ||
        !tensor(&c, d->dy, d->nx, &tdy) || !tensor(&c, d->dx0, d->nx, &tdx) ||
        !tensor(&c, d->dw0, D, &tdw) || !tensor(&c, d->db0, D, &tdb) ||
        !scratch(&c, ww_layernorm_backward_scratch(d->rows, D), &tsc, &sc))
        return 0;
    int64_t ne[4] = {D, d->c.rows1, d->c.rows2, 1};
    int64_t nb[4] = {1, d->rs, d->rs * d->c.rows1, d->rs * d->rows};
    ww_tensor x = view4(&tx, 0, ne, nb), dy = view4(&tdy, 0, ne, nb), dx_ = view4(&tdx, 0, ne, nb);
    if (!TEST_OK(be, ww_layernorm_backward(c.s, &x, &tw.t, &dy, &dx_, &tdw.t, &tdb.t, d->c.eps,
                                           sc)))
        return 0;
    char label[256];
    snprintf(label, sizeof label, "%s: scratch", what);
    float *scr = sc ? test_malloc((size_t)tsc.n * sizeof *scr) : NULL;
    if (!test_run(be, c.s) || !test_tensor_get(be, &tdx, dx, what) ||
        !test_tensor_get(be, &tdw, dw, what) || !test_tensor_get(be, &tdb, db, what) ||
        (sc && !test_tensor_get(be, &tsc, scr, label)))
        return 0;
    if (!dx2)
        return 1;
    /* again from the same start: the recorded work re-submitted */
    if (!TEST_OK(be, ww_tensor_write(be, &tdx.t, d->dx0, (size_t)d->nx * sizeof(float))) ||
        !TEST_OK(be, ww_tensor_write(be, &tdw.t, d->dw0, (size_t)D * sizeof(float))) ||
        !TEST_OK(be, ww_tensor_write(be, &tdb.t, d->db0, (size_t)D * sizeof(float))))
        return 0;
    return test_run(be, c.s) && test_tensor_get(be, &tdx, dx2, what) &&
           test_tensor_get(be, &tdw, dw2, what) && test_tensor_get(be, &tdb, db2, what);
}

/* sum over the row of dy * layernorm(x) in double */
static double ln_row_loss(const double *x, const double *w, const double *b, const float *dy,
                          int D, double eps)
{
    double mean = 0, var = 0, l = 0;
    for (int i = 0; i < D; i++)
        mean += x[i];
    mean /= D;
    for (int i = 0; i < D; i++)
        var += (x[i] - mean) * (x[i] - mean);
    double rstd = 1.0 / sqrt(var / D + eps);
    for (int i = 0; i < D; i++)
        l += dy[i] * ((x[i] - mean) * rstd * w[i] + b[i]);
    return l;
}

/* Initial gradients + central differences of the loss: rdx over the x backing (pads keep their
 * value), rdw, rdb. */
static void lnb_ref(const lnb_data *d, const float *b, double *rdx, double *rdw, double *rdb)
{
    int D = d->c.D;
    double eps = d->c.eps;
    double *w = test_malloc((size_t)D * sizeof *w), *bb = test_malloc((size_t)D * sizeof *bb);
    double *xr = test_malloc((size_t)D * sizeof *xr);
    for (int i = 0; i < D; i++) {
        w[i] = d->w[i];
        bb[i] = b[i];
    }
    for (int64_t i = 0; i < d->nx; i++)
        rdx[i] = d->dx0[i];
    for (int i = 0; i < D; i++) {
        rdw[i] = d->dw0[i];
        rdb[i] = d->db0[i];
    }
    for (int64_t r = 0; r < d->rows; r++) {
        const float *xs = d->x + r * d->rs, *dy = d->dy + r * d->rs;
        for (int i = 0; i < D; i++)
            xr[i] = xs[i];
        for (int i = 0; i < D; i++) {
            double h = 1e-4 * (1.0 + fabs(xr[i])), v = xr[i];
            xr[i] = v + h;
            double lp = ln_row_loss(xr, w, bb, dy, D, eps);
            xr[i] = v - h;
            double lm = ln_row_loss(xr, w, bb, dy, D, eps);
            xr[i] = v;
            rdx[r * d->rs + i] += (lp - lm) / (2 * h);
        }
        for (int i = 0; i < D; i++) { /* w and b: each row's share of the loss */
            double h = 1e-4, v = w[i];
            w[i] = v + h;
            double lp = ln_row_loss(xr, w, bb, dy, D, eps);
            w[i] = v - h;
            double lm = ln_row_loss(xr, w, bb, dy, D, eps);
            w[i] = v;
            rdw[i] += (lp - lm) / (2 * h);
            v = bb[i];
            bb[i] = v + h;
            lp = ln_row_loss(xr, w, bb, dy, D, eps);
            bb[i] = v - h;
            lm = ln_row_loss(xr, w, bb, dy, D, eps);
            bb[i] = v;
            rdb[i] += (lp - lm) / (2 * h);
        }
    }
}

static void test_layernorm_backward(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const lnb_case cs[] = {
        {1, 1, 1, 0, 1e-5f},   {5, 1, 1, 0, 1e-5f},   {130, 1, 1, 0, 1e-5f},
        {1, 7, 1, 0, 1e-5f},   {5, 7, 1, 0, 1e-6f},   {130, 7, 1, 0, 1e-5f},
        {1, 33, 1, 0, 1e-5f},  {5, 33, 1, 0, 1e-5f},  {130, 33, 1, 0, 1e-5f},
        {130, 7, 1, 3, 1e-5f}, {5, 17, 2, 2, 1e-5f},  {64, 1000, 1, 0, 1e-6f},
        {300, 40, 1, 0, 1e-5f},
    };
    for (int k = 0; k < (int)(sizeof cs / sizeof cs[0]); k++) {
        lnb_data d;
        memset(&d, 0, sizeof d);
        d.c = cs[k];
        d.rows = (int64_t)cs[k].rows1 * cs[k].rows2;
        d.rs = cs[k].D + cs[k].pad;
        d.nx = d.rows * d.rs;
        test_rng r;
        test_rng_seed(&r, 100 + (uint64_t)k);
        d.x = frand(&r, d.nx, -1.0f, 3.0f);
        d.w = frand(&r, cs[k].D, 0.5f, 1.5f);
        float *b = frand(&r, cs[k].D, -0.5f, 0.5f);
        d.dy = frand(&r, d.nx, -1.0f, 1.0f);
        d.dx0 = frand(&r, d.nx, -1.0f, 1.0f);
        d.dw0 = frand(&r, cs[k].D, -1.0f, 1.0f);
        d.db0 = frand(&r, cs[k].D, -1.0f, 1.0f);
        char what[160];
        snprintf(what, sizeof what, "layernorm_backward D=%d rows=%dx%d pad=%d", cs[k].D,
                 cs[k].rows2, cs[k].rows1, cs[k].pad);
        int64_t D = cs[k].D;
        float *dx = test_malloc((size_t)d.nx * sizeof *dx), *dw = test_malloc((size_t)D * 4),
              *db = test_malloc((size_t)D * 4);
        float *dx2 = test_malloc((size_t)d.nx * sizeof *dx), *dw2 = test_malloc((size_t)D * 4),
              *db2 = test_malloc((size_t)D * 4);
        if (!lnb_run(be, &d, dx, dw, db, dx2, dw2, db2, what))
            continue;
        double *rdx = test_malloc((size_t)d.nx * sizeof *rdx);
        double *rdw = test_malloc((size_t)D * sizeof *rdw), *rdb = test_malloc((size_t)D * 8);
        lnb_ref(&d, b, rdx, rdw, rdb);
        char label[256];
        snprintf(label, sizeof label, "%s: dx", what);
        TEST_COMPARE(label, dx, rdx, (size_t)d.nx, GRAD_TOL);
        snprintf(label, sizeof label, "%s: dw", what);
        TEST_COMPARE(label, dw, rdw, (size_t)D, GRAD_TOL);
        snprintf(label, sizeof label, "%s: db", what);
        TEST_COMPARE(label, db, rdb, (size_t)D, GRAD_TOL);
        snprintf(label, sizeof label, "%s: dx", what);
        same_bits(label, dx, dx2, d.nx);
        snprintf(label, sizeof label, "%s: dw", what);
        same_bits(label, dw, dw2, D);
        snprintf(label, sizeof label, "%s: db", what);
        same_bits(label, db, db2, D);
        /* the gradient alone, against the CPU backend's */
        ww_backend *cpu = cpu_peer(be);
        if (!cpu)
            continue;
        float *cx = test_malloc((size_t)d.nx * sizeof *cx), *cw = test_malloc((size_t)D * 4),
              *cb = test_malloc((size_t)D * 4);
        snprintf(label, sizeof label, "%s (on the CPU backend)", what);
        if (!lnb_run(cpu, &d, cx, cw, cb, NULL, NULL, NULL, label))
            continue;
        for (int64_t i = 0; i < d.nx; i++) {
            cx[i] -= d.dx0[i];
            dx[i] -= d.dx0[i];
        }
        for (int64_t i = 0; i < D; i++) {
            cw[i] -= d.dw0[i];
            dw[i] -= d.dw0[i];
            cb[i] -= d.db0[i];
            db[i] -= d.db0[i];
        }
        snprintf(label, sizeof label, "%s: dx, Vulkan vs CPU", what);
        TEST_COMPARE_F(label, dx, cx, (size_t)d.nx, GRAD_TOL);
        snprintf(label, sizeof label, "%s: dw, Vulkan vs CPU", what);
        TEST_COMPARE_F(label, dw, cw, (size_t)D, GRAD_TOL);
        snprintf(label, sizeof label, "%s: db, Vulkan vs CPU", what);
        TEST_COMPARE_F(label, db, cb, (size_t)D, GRAD_TOL);
    }
}

/* ---- GELU backward ---------------------------------------------------------------------------- */

static double gelu_ref(double x)
{
    return 0.5 * x * erfc(-x / sqrt(2.0)); /* no cancellation in the left tail */
}

static int gelub_run(ww_backend *be, const float *x, const float *dy, const float *dx0, int64_t n,
                     float *dx, const char *what)
{
    ctx c;
    test_tensor tx, tdy, tdx;
    if (!ctx_begin(&c, be) || !tensor(&c, x, n, &tx) || !tensor(&c, dy, n, &tdy) ||
        !tensor(&c, dx0, n, &tdx))
        return 0;
    /* a 2-D view when n allows it: shapes only need to agree */
    int64_t ne[4] = {n % 2 ? n : n / 2, n % 2 ? 1 : 2, 1, 1};
    int64_t nb[4] = {1, ne[0], n, n};
    ww_tensor vx = view4(&tx, 0, ne, nb), vdy = view4(&tdy, 0, ne, nb), vdx = view4(&tdx, 0, ne, nb);
    return TEST_OK(be, ww_gelu_backward(c.s, &vx, &vdy, &vdx)) && test_run(be, c.s) &&
           test_tensor_get(be, &tdx, dx, what);
}

static void test_gelu_backward(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const int64_t sizes[] = {1, 5, 7, 33, 130, 231, 4290, 65537};
    for (int k = 0; k < (int)(sizeof sizes / sizeof sizes[0]); k++) {
        int64_t n = sizes[k];
        test_rng r;
        test_rng_seed(&r, 200 + (uint64_t)k);
        float *x = frand(&r, n, -6.0f, 6.0f); /* both tails and the middle */
        static const float pts[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.6f, -0.6f, 3.0f, -3.0f, -7.5f, 9.0f};
        for (int i = 0; i < (int)(sizeof pts / sizeof pts[0]) && i < n; i++)
            x[i] = pts[i];
        float *dy = frand(&r, n, -1.0f, 1.0f), *dx0 = frand(&r, n, -1.0f, 1.0f);
        double *ref = test_malloc((size_t)n * sizeof *ref);
        for (int64_t i = 0; i < n; i++) {
            double v = x[i], h = 1e-5;
            ref[i] = dx0[i] + dy[i] * (gelu_ref(v + h) - gelu_ref(v - h)) / (2 * h);
        }
        char what[96];
        snprintf(what, sizeof what, "gelu_backward n=%lld", (long long)n);
        float *dx = test_malloc((size_t)n * sizeof *dx);
        if (!gelub_run(be, x, dy, dx0, n, dx, what))
            continue;
        TEST_COMPARE(what, dx, ref, (size_t)n, GRAD_TOL);
        /* the gradient alone, finer: against the analytic form in double */
        double *g = test_malloc((size_t)n * sizeof *g);
        float *gd = test_malloc((size_t)n * sizeof *gd);
        for (int64_t i = 0; i < n; i++) {
            double v = x[i];
            g[i] = dy[i] * (0.5 * erfc(-v / sqrt(2.0)) + v * exp(-0.5 * v * v) / sqrt(2 * 3.14159265358979323846));
            gd[i] = dx[i] - dx0[i];
        }
        char label[160];
        snprintf(label, sizeof label, "%s: gradient alone", what);
        TEST_COMPARE(label, gd, g, (size_t)n, GRAD_TOL);
        ww_backend *cpu = cpu_peer(be);
        float *want = test_malloc((size_t)n * sizeof *want);
        snprintf(label, sizeof label, "%s (on the CPU backend)", what);
        if (!cpu || !gelub_run(cpu, x, dy, dx0, n, want, label))
            continue;
        snprintf(label, sizeof label, "%s, Vulkan vs CPU", what);
        TEST_COMPARE_F(label, dx, want, (size_t)n, TEST_TOL);
    }
}

/* ---- sum_rows ---------------------------------------------------------------------------------- */

/* y (y0 when accumulating) after ww_sum_rows; twice when y2 is given (same bits expected). */
static int sr_run(ww_backend *be, const float *x, const int64_t ne[4], int dim, const float *y0,
                  int acc, float *y, float *y2, const char *what)
{
    ctx c;
    test_tensor tx, ty, tsc;
    const ww_tensor *sc;
    int64_t n = ne[0] * ne[1] * ne[2] * ne[3], N = ne[dim];
    if (!ctx_begin(&c, be) || !tensor(&c, x, n, &tx) || !tensor(&c, acc ? y0 : NULL, N, &ty) ||
        !scratch(&c, ww_sum_rows_scratch(ne, dim), &tsc, &sc))
        return 0;
    int64_t nb[4] = {1, ne[0], ne[0] * ne[1], ne[0] * ne[1] * ne[2]};
    ww_tensor vx = view4(&tx, 0, ne, nb);
    if (!TEST_OK(be, ww_sum_rows(c.s, &vx, dim, &ty.t, acc, sc)) || !test_run(be, c.s) ||
        !test_tensor_get(be, &ty, y, what))
        return 0;
    if (!y2)
        return 1;
    if (acc && !TEST_OK(be, ww_tensor_write(be, &ty.t, y0, (size_t)N * sizeof(float))))
        return 0;
    return test_run(be, c.s) && test_tensor_get(be, &ty, y2, what);
}

static void test_sum_rows(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int64_t ne[4];
        int dim, acc;
    } cs[] = {
        /* Linear bias gradients: dy [rows, N], dim 0 */
        {{5, 1, 1, 1}, 0, 1},    {{130, 7, 1, 1}, 0, 0},  {{1, 33, 1, 1}, 0, 1},
        {{130, 33, 1, 1}, 0, 1}, {{5, 300, 2, 1}, 0, 0},  {{7, 17, 3, 2}, 0, 1},
        {{1000, 1, 1, 1}, 0, 1}, {{3, 5000, 1, 1}, 0, 1},
        /* convolution bias gradients: dy [B, C, H, W], dim 2 */
        {{7, 5, 3, 2}, 2, 1},    {{64, 64, 4, 2}, 2, 0},  {{1, 1, 6, 1}, 2, 1},
        /* the other dims */
        {{3, 4, 5, 6}, 1, 1},    {{3, 4, 5, 6}, 3, 0},    {{70, 4, 3, 2}, 3, 1},
        {{2, 3, 4, 5}, 1, 0},
    };
    for (int k = 0; k < (int)(sizeof cs / sizeof cs[0]); k++) {
        const int64_t *ne = cs[k].ne;
        int dim = cs[k].dim, acc = cs[k].acc;
        int64_t n = ne[0] * ne[1] * ne[2] * ne[3], N = ne[dim];
        test_rng r;
        test_rng_seed(&r, 300 + (uint64_t)k);
        float *x = frand(&r, n, -1.0f, 1.0f), *y0 = frand(&r, N, -1.0f, 1.0f);
        double *ref = test_malloc((size_t)N * sizeof *ref);
        for (int64_t i = 0; i < N; i++)
            ref[i] = acc ? y0[i] : 0.0;
        for (int64_t i3 = 0; i3 < ne[3]; i3++)
            for (int64_t i2 = 0; i2 < ne[2]; i2++)
                for (int64_t i1 = 0; i1 < ne[1]; i1++)
                    for (int64_t i0 = 0; i0 < ne[0]; i0++) {
                        int64_t idx[4] = {i0, i1, i2, i3};
                        ref[idx[dim]] += x[((i3 * ne[2] + i2) * ne[1] + i1) * ne[0] + i0];
                    }
        char what[160];
        snprintf(what, sizeof what, "sum_rows [%lld, %lld, %lld, %lld] dim %d%s",
                 (long long)ne[3], (long long)ne[2], (long long)ne[1], (long long)ne[0], dim,
                 acc ? " accumulate" : "");
        float *y = test_malloc((size_t)N * sizeof *y), *y2 = test_malloc((size_t)N * sizeof *y);
        if (!sr_run(be, x, ne, dim, y0, acc, y, y2, what))
            continue;
        TEST_COMPARE(what, y, ref, (size_t)N, TEST_TOL);
        same_bits(what, y, y2, N);
        ww_backend *cpu = cpu_peer(be);
        float *want = test_malloc((size_t)N * sizeof *want);
        char label[256];
        snprintf(label, sizeof label, "%s (on the CPU backend)", what);
        if (!cpu || !sr_run(cpu, x, ne, dim, y0, acc, want, NULL, label))
            continue;
        snprintf(label, sizeof label, "%s, Vulkan vs CPU", what);
        TEST_COMPARE_F(label, y, want, (size_t)N, TEST_TOL);
    }
}

/* ---- sum_squares ------------------------------------------------------------------------------- */

/* out, written into element 3 of a 6-element tensor (a view), twice. */
static int ss_run(ww_backend *be, const float *x, int64_t n, float out[2], const char *what)
{
    ctx c;
    test_tensor tx, to, tsc;
    const ww_tensor *sc;
    float init[6] = {10, 11, 12, 13, 14, 15};
    if (!ctx_begin(&c, be) || !tensor(&c, x, n, &tx) || !tensor(&c, init, 6, &to) ||
        !scratch(&c, ww_sum_squares_scratch(n), &tsc, &sc))
        return 0;
    int64_t ne[4] = {1, 1, 1, 1}, nb[4] = {1, 1, 1, 1};
    ww_tensor o = view4(&to, 3, ne, nb);
    float got[6];
    if (!TEST_OK(be, ww_sum_squares(c.s, &tx.t, &o, sc)) || !test_run(be, c.s) ||
        !test_tensor_get(be, &to, got, what))
        return 0;
    out[0] = got[3];
    got[3] = init[3];
    if (!TEST_CHECK(!memcmp(got, init, sizeof got), "%s: elements beside out changed", what))
        return 0;
    if (!test_run(be, c.s) || !test_tensor_get(be, &to, got, what))
        return 0;
    out[1] = got[3];
    return 1;
}

static void test_sum_squares(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const int64_t sizes[] = {1, 7, 16, 17, 33, 1000, 4290, 100003, 1 << 20};
    for (int k = 0; k < (int)(sizeof sizes / sizeof sizes[0]); k++) {
        int64_t n = sizes[k];
        test_rng r;
        test_rng_seed(&r, 400 + (uint64_t)k);
        float *x = frand(&r, n, -2.0f, 2.0f);
        double ref = 0.0;
        for (int64_t i = 0; i < n; i++)
            ref += (double)x[i] * x[i];
        char what[96];
        snprintf(what, sizeof what, "sum_squares n=%lld", (long long)n);
        float got[2];
        if (!ss_run(be, x, n, got, what))
            continue;
        TEST_COMPARE(what, got, &ref, 1, TEST_TOL);
        same_bits(what, &got[0], &got[1], 1);
        ww_backend *cpu = cpu_peer(be);
        float want[2];
        char label[160];
        snprintf(label, sizeof label, "%s (on the CPU backend)", what);
        if (!cpu || !ss_run(cpu, x, n, want, label))
            continue;
        snprintf(label, sizeof label, "%s, Vulkan vs CPU", what);
        TEST_COMPARE_F(label, got, want, 1, TEST_TOL);
    }
}

/* ---- AdamW --------------------------------------------------------------------------------------- */

#define ADAM_STEPS 3

typedef struct adam_case {
    int64_t n;
    float wd;
    int device_scalars; /* per-step values through the scalars tensor, clipping on the device */
} adam_case;

/* Per-step values: host hyperparameters, and the scalars tensor's contents. */
typedef struct adam_step {
    ww_adamw_hparams h;
    float scal[WW_ADAMW_NSCALARS];
} adam_step;

static void adam_steps(const adam_case *ac, adam_step st[ADAM_STEPS])
{
    for (int t = 1; t <= ADAM_STEPS; t++) {
        adam_step *s = &st[t - 1];
        ww_adamw_hparams *h = &s->h;
        h->lr = 1e-2f * (float)(4 - t) / 3.0f; /* a schedule: lr changes every step */
        h->beta1 = 0.9f;
        h->beta2 = 0.999f;
        h->eps = 1e-8f;
        h->weight_decay = ac->wd;
        h->bias_corr1 = (float)(1.0 - pow(0.9, t));
        h->bias_corr2 = (float)(1.0 - pow(0.999, t));
        h->grad_scale = t == 2 ? 0.25f : 0.5f;
        s->scal[WW_ADAMW_LR] = h->lr;
        s->scal[WW_ADAMW_BIAS_CORR1] = h->bias_corr1;
        s->scal[WW_ADAMW_BIAS_CORR2] = h->bias_corr2;
        s->scal[WW_ADAMW_GRAD_SCALE] = h->grad_scale;
        /* step 1 clips hard, step 2 does not reach the bound, step 3 has no bound */
        s->scal[WW_ADAMW_MAX_NORM] = t == 1 ? 0.05f : t == 2 ? 1e6f : 0.0f;
        s->scal[WW_ADAMW_SUMSQ] = NAN; /* ww_sum_squares writes it */
    }
}

/* Runs the 3 steps; params, m, v after each step go to out[(t * 3 + k) * n]. */
static int adam_run(ww_backend *be, const adam_case *ac, const float *p0, float *const *grads,
                    float *out, const char *what)
{
    int64_t n = ac->n;
    adam_step st[ADAM_STEPS];
    adam_steps(ac, st);
    ctx c;
    test_tensor tp, tg, tm, tv, ts, tsc;
    const ww_tensor *sc;
    if (!ctx_begin(&c, be) || !tensor(&c, p0, n, &tp) || !tensor(&c, grads[0], n, &tg))
        return 0;
    float *zero = test_malloc((size_t)n * sizeof *zero);
    if (!tensor(&c, zero, n, &tm) || !tensor(&c, zero, n, &tv) ||
        !tensor(&c, st[0].scal, WW_ADAMW_NSCALARS, &ts) ||
        !scratch(&c, ww_sum_squares_scratch(n), &tsc, &sc))
        return 0;
    if (ac->device_scalars) { /* recorded once, re-submitted with new scalars and gradients */
        int64_t one = 1, nb1[4] = {1, 1, 1, 1}, ne1[4] = {one, 1, 1, 1};
        ww_tensor sumsq = view4(&ts, WW_ADAMW_SUMSQ, ne1, nb1);
        ww_adamw_hparams junk = st[0].h;
        junk.lr = NAN; /* ignored when scalars are given */
        junk.bias_corr1 = junk.bias_corr2 = junk.grad_scale = NAN;
        if (!TEST_OK(be, ww_sum_squares(c.s, &tg.t, &sumsq, sc)) ||
            !TEST_OK(be, ww_adamw(c.s, &tp.t, &tg.t, &tm.t, &tv.t, &junk, &ts.t)))
            return 0;
    }
    for (int t = 0; t < ADAM_STEPS; t++) {
        if (!TEST_OK(be, ww_tensor_write(be, &tg.t, grads[t], (size_t)n * sizeof(float))))
            return 0;
        if (ac->device_scalars) {
            if (!TEST_OK(be, ww_tensor_write(be, &ts.t, st[t].scal, sizeof st[t].scal)))
                return 0;
        } else {
            ww_seq_clear(c.s);
            if (!TEST_OK(be, ww_adamw(c.s, &tp.t, &tg.t, &tm.t, &tv.t, &st[t].h, NULL)))
                return 0;
        }
        if (!test_run(be, c.s) || !test_tensor_get(be, &tp, out + (t * 3 + 0) * n, what) ||
            !test_tensor_get(be, &tm, out + (t * 3 + 1) * n, what) ||
            !test_tensor_get(be, &tv, out + (t * 3 + 2) * n, what))
            return 0;
    }
    float g[WW_ADAMW_NSCALARS]; /* the gradients are only read */
    float *gl = test_malloc((size_t)n * sizeof *gl);
    return test_tensor_get(be, &tg, gl, what) && test_tensor_get(be, &ts, g, what) &&
           TEST_CHECK(!memcmp(gl, grads[ADAM_STEPS - 1], (size_t)n * sizeof *gl),
                      "%s: grads changed", what);
}

static void adam_ref(const adam_case *ac, const float *p0, float *const *grads, double *ref)
{
    int64_t n = ac->n;
    adam_step st[ADAM_STEPS];
    adam_steps(ac, st);
    double *p = test_malloc((size_t)n * sizeof *p), *m = test_malloc((size_t)n * sizeof *m),
           *v = test_malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        p[i] = p0[i];
        m[i] = v[i] = 0.0;
    }
    for (int t = 0; t < ADAM_STEPS; t++) {
        const ww_adamw_hparams *h = &st[t].h;
        double scale = h->grad_scale;
        if (ac->device_scalars && st[t].scal[WW_ADAMW_MAX_NORM] > 0) {
            double ss = 0.0;
            for (int64_t i = 0; i < n; i++)
                ss += (double)grads[t][i] * grads[t][i];
            double norm = sqrt(ss) * fabs(scale);
            double clip = st[t].scal[WW_ADAMW_MAX_NORM] / (norm + 1e-6);
            if (clip < 1.0)
                scale *= clip;
        }
        double b1 = h->beta1, b2 = h->beta2;
        for (int64_t i = 0; i < n; i++) {
            double g = grads[t][i] * scale;
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double mh = m[i] / h->bias_corr1, vh = v[i] / h->bias_corr2;
            p[i] -= (double)h->lr * (mh / (sqrt(vh) + h->eps) + (double)h->weight_decay * p[i]);
            ref[(t * 3 + 0) * n + i] = p[i];
            ref[(t * 3 + 1) * n + i] = m[i];
            ref[(t * 3 + 2) * n + i] = v[i];
        }
    }
}

static void test_adamw(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const adam_case cs[] = {
        {1, 0.0f, 0},    {7, 0.1f, 0},    {1000, 0.0f, 0}, {4099, 0.1f, 0},
        {7, 0.0f, 1},    {1000, 0.1f, 1}, {4099, 0.0f, 1}, {100003, 0.05f, 1},
    };
    static const char *const names[3] = {"params", "m", "v"};
    for (int k = 0; k < (int)(sizeof cs / sizeof cs[0]); k++) {
        const adam_case *ac = &cs[k];
        int64_t n = ac->n;
        test_rng r;
        test_rng_seed(&r, 500 + (uint64_t)k);
        float *p0 = frand(&r, n, -1.0f, 1.0f);
        float *grads[ADAM_STEPS];
        for (int t = 0; t < ADAM_STEPS; t++) {
            grads[t] = frand(&r, n, -1.0f, 1.0f);
            if (t == 0)
                for (int64_t i = 1; i < n; i += 5)
                    grads[t][i] = 0.0f; /* m = v = 0: the update is eps-limited */
        }
        double *ref = test_malloc((size_t)(9 * n) * sizeof *ref);
        float *got = test_malloc((size_t)(9 * n) * sizeof *got);
        adam_ref(ac, p0, grads, ref);
        char what[160];
        snprintf(what, sizeof what, "adamw n=%lld wd=%g %s", (long long)n, (double)ac->wd,
                 ac->device_scalars ? "scalars on the device, clipping" : "host values");
        if (!adam_run(be, ac, p0, grads, got, what))
            continue;
        char label[256];
        double *rd = test_malloc((size_t)n * sizeof *rd);
        float *gd = test_malloc((size_t)n * sizeof *gd);
        for (int t = 0; t < ADAM_STEPS; t++) {
            for (int j = 0; j < 3; j++) {
                const float *g = got + (t * 3 + j) * n;
                const double *rf = ref + (t * 3 + j) * n;
                snprintf(label, sizeof label, "%s: %s after step %d", what, names[j], t + 1);
                TEST_COMPARE(label, g, rf, (size_t)n, TEST_TOL);
            }
            /* what the steps moved the parameters by, which the values above hide */
            for (int64_t i = 0; i < n; i++) {
                gd[i] = (float)((double)got[(t * 3) * n + i] - p0[i]);
                rd[i] = ref[(t * 3) * n + i] - p0[i];
            }
            snprintf(label, sizeof label, "%s: params - params0 after step %d", what, t + 1);
            TEST_COMPARE(label, gd, rd, (size_t)n, DELTA_TOL);
        }
        ww_backend *cpu = cpu_peer(be);
        float *want = test_malloc((size_t)(9 * n) * sizeof *want);
        snprintf(label, sizeof label, "%s (on the CPU backend)", what);
        if (!cpu || !adam_run(cpu, ac, p0, grads, want, label))
            continue;
        snprintf(label, sizeof label, "%s, Vulkan vs CPU", what);
        TEST_COMPARE_F(label, got, want, (size_t)(9 * n), TEST_TOL);
    }
}

/* ---- One scratch for a chain of ops ------------------------------------------------------------- */

/* LayerNorm backward, sum_rows and sum_squares in one sequence sharing one scratch tensor (each
 * op's partials overwrite the previous one's, which Vulkan must order), against the same ops
 * run one per sequence. */
static int chain_run(ww_backend *be, int chained, const float *x, const float *w,
                     const float *dy, int rows, int D, float *out, const char *what)
{
    ctx c;
    test_tensor tx, tw, tdy, tdx, tdw, tdb, tbias, tss, tsc;
    float *zero = test_malloc((size_t)rows * D * sizeof *zero);
    int64_t ne[4] = {D, rows, 1, 1};
    int64_t need = ww_layernorm_backward_scratch(rows, D);
    int64_t n2 = ww_sum_rows_scratch(ne, 0), n3 = ww_sum_squares_scratch((int64_t)rows * D);
    need = need > n2 ? need : n2;
    need = need > n3 ? need : n3;
    if (!ctx_begin(&c, be) || !tensor(&c, x, (int64_t)rows * D, &tx) || !tensor(&c, w, D, &tw) ||
        !tensor(&c, dy, (int64_t)rows * D, &tdy) || !tensor(&c, zero, (int64_t)rows * D, &tdx) ||
        !tensor(&c, zero, D, &tdw) || !tensor(&c, zero, D, &tdb) || !tensor(&c, zero, D, &tbias) ||
        !tensor(&c, zero, 1, &tss) || !tensor(&c, NULL, need, &tsc))
        return 0;
    int64_t nb[4] = {1, D, (int64_t)D * rows, (int64_t)D * rows};
    ww_tensor vx = view4(&tx, 0, ne, nb), vdy = view4(&tdy, 0, ne, nb), vdx = view4(&tdx, 0, ne, nb);
    for (int op = 0; op < 3; op++) {
        ww_status st = op == 0 ? ww_layernorm_backward(c.s, &vx, &tw.t, &vdy, &vdx, &tdw.t,
                                                       &tdb.t, 1e-5f, &tsc.t)
                       : op == 1 ? ww_sum_rows(c.s, &vdy, 0, &tbias.t, 1, &tsc.t)
                                 : ww_sum_squares(c.s, &vdx, &tss.t, &tsc.t);
        if (!TEST_OK(be, st))
            return 0;
        if (!chained && !test_run(be, c.s))
            return 0;
        if (!chained)
            ww_seq_clear(c.s);
    }
    if (chained && !test_run(be, c.s))
        return 0;
    float *o = out;
    return test_tensor_get(be, &tdx, o, what) &&
           test_tensor_get(be, &tdw, o + (int64_t)rows * D, what) &&
           test_tensor_get(be, &tdb, o + (int64_t)rows * D + D, what) &&
           test_tensor_get(be, &tbias, o + (int64_t)rows * D + 2 * D, what) &&
           test_tensor_get(be, &tss, o + (int64_t)rows * D + 3 * D, what);
}

static void test_shared_scratch(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    int rows = 300, D = 70;
    test_rng r;
    test_rng_seed(&r, 600);
    float *x = frand(&r, (int64_t)rows * D, -1, 1), *w = frand(&r, D, 0.5f, 1.5f),
          *dy = frand(&r, (int64_t)rows * D, -1, 1);
    int64_t n = (int64_t)rows * D + 3 * D + 1;
    float *a = test_malloc((size_t)n * sizeof *a), *b = test_malloc((size_t)n * sizeof *b);
    if (!chain_run(be, 1, x, w, dy, rows, D, a, "chained") ||
        !chain_run(be, 0, x, w, dy, rows, D, b, "one op per run"))
        return;
    same_bits("layernorm_backward, sum_rows, sum_squares sharing one scratch", a, b, n);
}

/* ---- Argument errors --------------------------------------------------------------------------- */

static void test_errors(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ctx c;
    if (!be || !ctx_begin(&c, be))
        return;
    test_tensor x, w, dy, dx, dw, db, sc, small, u, v;
    int64_t R = 40, D = 6;
    if (!tensor(&c, NULL, R * D, &x) || !tensor(&c, NULL, D, &w) || !tensor(&c, NULL, R * D, &dy) ||
        !tensor(&c, NULL, R * D, &dx) || !tensor(&c, NULL, D, &dw) || !tensor(&c, NULL, D, &db) ||
        !tensor(&c, NULL, ww_layernorm_backward_scratch(R, D), &sc) ||
        !tensor(&c, NULL, ww_layernorm_backward_scratch(R, D) - 1, &small) ||
        !tensor(&c, NULL, R * D, &v) || !test_tensor_new(be, c.a, WW_U32, 1, &D, NULL, &u))
        return;
    int64_t ne[4] = {D, R, 1, 1}, nb[4] = {1, D, D * R, D * R};
    ww_tensor vx = view4(&x, 0, ne, nb), vdy = view4(&dy, 0, ne, nb), vdx = view4(&dx, 0, ne, nb);
    TEST_OK(be, ww_layernorm_backward(c.s, &vx, &w.t, &vdy, &vdx, &dw.t, &db.t, 1e-5f, &sc.t));
    int len = ww_seq_length(c.s);
    TEST_CHECK(len == 4, "layernorm_backward appended %d nodes, expected 4", len);
    /* nothing is appended by a call that fails */
    TEST_STATUS(be, ww_layernorm_backward(c.s, &vx, &w.t, &vdy, &vdx, &dw.t, &db.t, 1e-5f,
                                          &small.t), WW_ERR_INVALID);
    TEST_CHECK(test_contains(ww_backend_error(be), "scratch"), "message: %s",
               ww_backend_error(be));
    TEST_STATUS(be, ww_layernorm_backward(c.s, &vx, &w.t, &vdy, &vdx, &dw.t, &db.t, 1e-5f, NULL),
                WW_ERR_INVALID);
    TEST_STATUS(be, ww_layernorm_backward(c.s, &vx, &w.t, &vdy, &vdy, &dw.t, &db.t, 1e-5f, &sc.t),
                WW_ERR_INVALID); /* dx overlaps dy */
    TEST_STATUS(be, ww_layernorm_backward(c.s, &vx, &w.t, &vdy, &vdx, &dw.t, &dw.t, 1e-5f, &sc.t),
                WW_ERR_INVALID); /* dw is db */
    TEST_STATUS(be, ww_layernorm_backward(c.s, &vx, &w.t, &vdy, &vdx, &dw.t, &db.t, -1.0f, &sc.t),
                WW_ERR_INVALID);
    TEST_STATUS(be, ww_layernorm_backward(c.s, &vx, &u.t, &vdy, &vdx, &dw.t, &db.t, 1e-5f, &sc.t),
                WW_ERR_INVALID); /* w is U32 */
    TEST_STATUS(be, ww_gelu_backward(c.s, &x.t, &dy.t, &dy.t), WW_ERR_INVALID);
    TEST_STATUS(be, ww_gelu_backward(c.s, &x.t, &dy.t, &w.t), WW_ERR_INVALID);
    TEST_STATUS(be, ww_sum_rows(c.s, &vx, 4, &dw.t, 0, &sc.t), WW_ERR_INVALID);
    TEST_STATUS(be, ww_sum_rows(c.s, &vx, 1, &dw.t, 0, &sc.t), WW_ERR_INVALID); /* y needs 40 */
    TEST_STATUS(be, ww_sum_rows(c.s, &vx, 0, &dw.t, 0, NULL), WW_ERR_INVALID); /* 40 rows */
    TEST_STATUS(be, ww_sum_squares(c.s, &x.t, &dw.t, &sc.t), WW_ERR_INVALID);  /* out has 6 */
    ww_adamw_hparams h = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                          .bias_corr1 = 0.1f, .bias_corr2 = 0.001f, .grad_scale = 1.0f};
    TEST_STATUS(be, ww_adamw(c.s, &x.t, &dy.t, &dx.t, &w.t, &h, NULL), WW_ERR_INVALID);
    TEST_STATUS(be, ww_adamw(c.s, &x.t, &dy.t, &dx.t, &dx.t, &h, NULL), WW_ERR_INVALID);
    TEST_STATUS(be, ww_adamw(c.s, &x.t, &dy.t, &dx.t, &sc.t, &h, &w.t), WW_ERR_INVALID);
    TEST_STATUS(be, ww_adamw(c.s, &x.t, &dy.t, &dx.t, &vdx, &h, NULL), WW_ERR_INVALID);
    h.bias_corr1 = 0.0f; /* step 0 */
    TEST_STATUS(be, ww_adamw(c.s, &x.t, &dy.t, &dx.t, &v.t, &h, NULL), WW_ERR_INVALID);
    h.bias_corr1 = 0.1f;
    TEST_OK(be, ww_adamw(c.s, &x.t, &dy.t, &dx.t, &v.t, &h, NULL));
    len++;
    TEST_CHECK(ww_seq_length(c.s) == len, "failed calls appended nodes: %d, expected %d",
               ww_seq_length(c.s), len);
    TEST_CHECK(ww_sum_rows_scratch(ne, 0) == 3 * D && ww_sum_rows_scratch(ne, 1) == 0 &&
                   ww_sum_squares_scratch(16) == 0 && ww_sum_squares_scratch(17) == 2 &&
                   ww_layernorm_backward_scratch(R, D) == 2 * R + 2 * 3 * D,
               "scratch sizes: %lld %lld %lld %lld %lld", (long long)ww_sum_rows_scratch(ne, 0),
               (long long)ww_sum_rows_scratch(ne, 1), (long long)ww_sum_squares_scratch(16),
               (long long)ww_sum_squares_scratch(17),
               (long long)ww_layernorm_backward_scratch(R, D));
}

#define BOTH(name, fn) {name ".cpu", fn, "cpu"}, {name ".vulkan", fn, "vulkan"}

static const ww_test_case cases[] = {
    BOTH("layernorm_backward", test_layernorm_backward),
    BOTH("gelu_backward", test_gelu_backward),
    BOTH("sum_rows", test_sum_rows),
    BOTH("sum_squares", test_sum_squares),
    BOTH("adamw", test_adamw),
    BOTH("shared_scratch", test_shared_scratch),
    {"errors", test_errors, "cpu"},
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
