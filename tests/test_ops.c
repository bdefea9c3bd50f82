/* Op tests: every op of ww.h runs on the CPU backend and on the Vulkan backend and is compared
 * against naive double-precision loops written here (obviously correct, slow), and Vulkan is also
 * compared against the CPU backend. Shapes are small but odd (not multiples of any tile), batches
 * of 2, strided views, in-place forms; every tensor lives inside guard regions that must stay
 * intact. Seeds are fixed, so a failure reproduces.
 *
 * Usage: test_ops [NAME-SUBSTRING...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "ww.h"

/* ---- Host tensors -------------------------------------------------------------------------- */

/* A host tensor: the backing array that goes to the device (one guarded device tensor), and the
 * view of it that an op sees. Several views may share one backing (q, k, v inside a fused qkv
 * buffer); the device side then shares one tensor too. Results are compared over the whole
 * backing, so elements outside an output view must keep their value. */
typedef struct hv {
    float *d;
    int64_t n; /* elements in d */
    int64_t off;
    int64_t ne[4], nb[4];
} hv;

static float nan_sentinel(void)
{
    uint32_t u = TEST_SENTINEL;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static hv hv_dense(int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)
{
    hv v = {0};
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    int64_t stride = 1;
    for (int i = 0; i < 4; i++) {
        v.ne[i] = ne[i];
        v.nb[i] = stride;
        stride *= ne[i];
    }
    v.n = stride;
    v.d = test_malloc((size_t)v.n * sizeof *v.d);
    return v;
}

/* Dense, uniform random in [lo, hi). */
static hv hv_rand(test_rng *r, float lo, float hi, int64_t ne0, int64_t ne1, int64_t ne2,
                  int64_t ne3)
{
    hv v = hv_dense(ne0, ne1, ne2, ne3);
    test_rng_fill(r, v.d, (size_t)v.n, lo, hi);
    return v;
}

/* Dense output, all NaN sentinel: an element the op does not write fails the comparison. */
static hv hv_out(int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)
{
    hv v = hv_dense(ne0, ne1, ne2, ne3);
    float s = nan_sentinel();
    for (int64_t i = 0; i < v.n; i++)
        v.d[i] = s;
    return v;
}

/* A strided view with `pad` unused elements before it, after each row, after each matrix and at
 * the end; everything random. */
static hv hv_padded(test_rng *r, float lo, float hi, int64_t ne0, int64_t ne1, int64_t ne2,
                    int64_t ne3, int64_t pad)
{
    hv v = {0};
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    memcpy(v.ne, ne, sizeof ne);
    v.nb[0] = 1;
    v.nb[1] = ne0 + pad;
    v.nb[2] = v.nb[1] * ne1 + pad;
    v.nb[3] = v.nb[2] * ne2 + pad;
    v.off = pad;
    v.n = v.off + 1 + pad;
    for (int i = 0; i < 4; i++)
        v.n += (ne[i] - 1) * v.nb[i];
    v.d = test_malloc((size_t)v.n * sizeof *v.d);
    test_rng_fill(r, v.d, (size_t)v.n, lo, hi);
    return v;
}

/* Another view of p's backing. */
static hv hv_sub(const hv *p, int64_t off, const int64_t ne[4], const int64_t nb[4])
{
    hv v = *p;
    v.off = off;
    memcpy(v.ne, ne, sizeof v.ne);
    memcpy(v.nb, nb, sizeof v.nb);
    return v;
}

static int64_t hv_idx(const hv *v, int64_t i0, int64_t i1, int64_t i2, int64_t i3)
{
    return v->off + i0 * v->nb[0] + i1 * v->nb[1] + i2 * v->nb[2] + i3 * v->nb[3];
}

static double hv_at(const hv *v, int64_t i0, int64_t i1, int64_t i2, int64_t i3)
{
    return v->d[hv_idx(v, i0, i1, i2, i3)];
}

/* The reference of an output starts as its backing as written (elements outside the view, and
 * the previous values for accumulating ops). */
static double *ref_init(const hv *v)
{
    double *r = test_malloc((size_t)v->n * sizeof *r);
    for (int64_t i = 0; i < v->n; i++)
        r[i] = v->d[i];
    return r;
}

static uint32_t *u32_sentinel(int64_t n)
{
    uint32_t *u = test_malloc((size_t)n * sizeof *u);
    for (int64_t i = 0; i < n; i++)
        u[i] = TEST_SENTINEL;
    return u;
}

/* ---- Device side of one case ----------------------------------------------------------------- */

#define SESS_MAX 12

/* One run of one case on one backend: the test's arena (emptied), a new sequence and the device
 * tensors, keyed by the host array they were made from. */
typedef struct sess {
    ww_backend *be;
    ww_arena *a;
    ww_seq *s;
    int n;
    const void *host[SESS_MAX];
    test_tensor tt[SESS_MAX];
} sess;

static int sess_begin(sess *x, ww_backend *be)
{
    memset(x, 0, sizeof *x);
    x->be = be;
    x->a = test_arena(be);
    x->s = x->a ? test_seq(be) : NULL;
    return x->s != NULL;
}

/* The guarded device tensor (1-D, n elements) made from host on first use. */
static test_tensor *sess_tensor(sess *x, const void *host, ww_dtype type, int64_t n)
{
    for (int i = 0; i < x->n; i++)
        if (x->host[i] == host)
            return &x->tt[i];
    if (!TEST_CHECK(x->n < SESS_MAX, "more than %d tensors in one case", SESS_MAX))
        return NULL;
    if (!test_tensor_new(x->be, x->a, type, 1, &n, host, &x->tt[x->n]))
        return NULL;
    x->host[x->n] = host;
    return &x->tt[x->n++];
}

static int up(sess *x, const hv *h, ww_tensor *view)
{
    test_tensor *tt = sess_tensor(x, h->d, WW_F32, h->n);
    if (!tt)
        return 0;
    *view = ww_tensor_view(&tt->t, h->off, h->ne, h->nb);
    return 1;
}

static int up_u32(sess *x, const uint32_t *data, int64_t ne0, int64_t ne1, int64_t ne2,
                  ww_tensor *view)
{
    test_tensor *tt = sess_tensor(x, data, WW_U32, ne0 * ne1 * ne2);
    if (!tt)
        return 0;
    int64_t ne[4] = {ne0, ne1, ne2, 1}, nb[4] = {1, ne0, ne0 * ne1, ne0 * ne1 * ne2};
    *view = ww_tensor_view(&tt->t, 0, ne, nb);
    return 1;
}

/* Read back the whole backing of host (guards checked). */
static int get(sess *x, const void *host, void *dst, const char *what)
{
    for (int i = 0; i < x->n; i++)
        if (x->host[i] == host)
            return test_tensor_get(x->be, &x->tt[i], dst, what);
    return TEST_FAIL("%s: no device tensor for this output", what);
}

/* ---- Running a case on a backend and on the CPU ---------------------------------------------- */

/* One output of a case, compared with tol against the reference and with tol_peer between the
 * Vulkan and the CPU backend. */
typedef struct seg {
    const char *name;
    size_t n;
    double tol, tol_peer;
} seg;

/* Runs case `in` on be and writes every output segment, in order, to out. */
typedef int (*run_fn)(ww_backend *be, const void *in, float *out, const char *what);

/* The CPU backend to compare a Vulkan backend with; NULL when be is the CPU backend. */
static ww_backend *cpu_peer(ww_backend *be)
{
    return ww_backend_kind_of(be) == WW_BACKEND_VULKAN ? test_backend("cpu") : NULL;
}

static void check_case(ww_backend *be, run_fn run, const void *in, const double *ref,
                       const seg *segs, int nseg, const char *what)
{
    size_t total = 0;
    for (int i = 0; i < nseg; i++)
        total += segs[i].n;
    float *got = test_malloc(total * sizeof *got);
    if (!run(be, in, got, what))
        return;
    char label[384];
    size_t o = 0;
    for (int i = 0; i < nseg; o += segs[i++].n) {
        snprintf(label, sizeof label, "%s: %s", what, segs[i].name);
        TEST_COMPARE(label, got + o, ref + o, segs[i].n, segs[i].tol);
    }
    ww_backend *cpu = cpu_peer(be);
    if (!cpu)
        return;
    float *want = test_malloc(total * sizeof *want);
    snprintf(label, sizeof label, "%s (on the CPU backend)", what);
    if (!run(cpu, in, want, label))
        return;
    o = 0;
    for (int i = 0; i < nseg; o += segs[i++].n) {
        snprintf(label, sizeof label, "%s: %s, Vulkan vs CPU", what, segs[i].name);
        TEST_COMPARE_F(label, got + o, want + o, segs[i].n, segs[i].tol_peer);
    }
}

/* The usual single output. */
static void check_one(ww_backend *be, run_fn run, const void *in, const double *ref, size_t n,
                      double tol, const char *what)
{
    seg s = {"output", n, tol, tol};
    check_case(be, run, in, ref, &s, 1, what);
}

static double gelu_ref(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

/* ---- gemm -------------------------------------------------------------------------------------- */

typedef struct gemm_in {
    hv a, b, bias, c;
    int has_bias;
    unsigned flags;
    int M, N, K, B;
} gemm_in;

static int gemm_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const gemm_in *g = vin;
    sess x;
    ww_tensor a, b, bias, c;
    if (!sess_begin(&x, be) || !up(&x, &g->a, &a) || !up(&x, &g->b, &b) ||
        !up(&x, &g->c, &c) || (g->has_bias && !up(&x, &g->bias, &bias)))
        return 0;
    if (!TEST_OK(be, ww_gemm(x.s, &a, &b, g->has_bias ? &bias : NULL, &c, g->flags)))
        return 0;
    return test_run(be, x.s) && get(&x, g->c.d, out, what);
}

static double *gemm_ref(const gemm_in *g)
{
    double *r = ref_init(&g->c);
    for (int b = 0; b < g->B; b++) {
        int ba = g->a.ne[2] == 1 ? 0 : b, bb = g->b.ne[2] == 1 ? 0 : b;
        for (int m = 0; m < g->M; m++) {
            for (int n = 0; n < g->N; n++) {
                double s = 0;
                if (g->has_bias)
                    s = hv_at(&g->bias, (g->flags & WW_GEMM_BIAS_ROW) ? m : n, 0, 0, 0);
                for (int k = 0; k < g->K; k++) {
                    double av = (g->flags & WW_GEMM_TRANS_A) ? hv_at(&g->a, m, k, ba, 0)
                                                             : hv_at(&g->a, k, m, ba, 0);
                    double bv = (g->flags & WW_GEMM_TRANS_B) ? hv_at(&g->b, k, n, bb, 0)
                                                             : hv_at(&g->b, n, k, bb, 0);
                    s += av * bv;
                }
                if (g->flags & WW_GEMM_GELU)
                    s = gelu_ref(s);
                int64_t i = hv_idx(&g->c, n, m, b, 0);
                r[i] = (g->flags & WW_GEMM_ACCUMULATE) ? r[i] + s : s;
            }
        }
    }
    return r;
}

static const char *gemm_flags_str(unsigned f, int has_bias, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s%s", (f & WW_GEMM_TRANS_A) ? "|TRANS_A" : "",
             (f & WW_GEMM_TRANS_B) ? "|TRANS_B" : "", has_bias ? "|bias" : "",
             (f & WW_GEMM_BIAS_ROW) ? "|BIAS_ROW" : "", (f & WW_GEMM_GELU) ? "|GELU" : "",
             (f & WW_GEMM_ACCUMULATE) ? "|ACCUMULATE" : "");
    return buf[0] ? buf + 1 : "none";
}

static void gemm_check(ww_backend *be, const gemm_in *g, const char *layout)
{
    char fl[96], what[256];
    snprintf(what, sizeof what, "gemm %s M=%d N=%d K=%d batch a=%d b=%d flags=%s", layout, g->M,
             g->N, g->K, (int)g->a.ne[2], (int)g->b.ne[2],
             gemm_flags_str(g->flags, g->has_bias, fl, sizeof fl));
    check_one(be, gemm_run, g, gemm_ref(g), (size_t)g->c.n, TEST_TOL, what);
}

/* Bias and epilogue combinations, cycled over shapes and transposes so that every combination
 * meets several shapes. */
static const struct {
    unsigned flags;
    int bias;
} gemm_modes[] = {
    {0, 0},
    {0, 1},
    {WW_GEMM_BIAS_ROW, 1},
    {WW_GEMM_GELU, 1},
    {WW_GEMM_GELU, 0},
    {WW_GEMM_ACCUMULATE, 0},
    {WW_GEMM_GELU | WW_GEMM_ACCUMULATE, 1},
    {WW_GEMM_BIAS_ROW | WW_GEMM_ACCUMULATE, 1},
};
#define N_GEMM_MODES ((int)(sizeof gemm_modes / sizeof gemm_modes[0]))

/* Build a case: a, b (and c when padded) dense or as padded strided views. */
static void gemm_make(test_rng *r, gemm_in *g, int M, int N, int K, int Ba, int Bb,
                      unsigned flags, int has_bias, int padded)
{
    memset(g, 0, sizeof *g);
    g->M = M;
    g->N = N;
    g->K = K;
    g->B = Ba > Bb ? Ba : Bb;
    g->flags = flags;
    g->has_bias = has_bias;
    int ta = !!(flags & WW_GEMM_TRANS_A), tb = !!(flags & WW_GEMM_TRANS_B);
    int64_t a0 = ta ? M : K, a1 = ta ? K : M, b0 = tb ? K : N, b1 = tb ? N : K;
    if (padded) {
        g->a = hv_padded(r, -1, 1, a0, a1, Ba, 1, 3);
        g->b = hv_padded(r, -1, 1, b0, b1, Bb, 1, 5);
        g->c = hv_padded(r, -1, 1, N, M, g->B, 1, 7);
    } else {
        g->a = hv_rand(r, -1, 1, a0, a1, Ba, 1);
        g->b = hv_rand(r, -1, 1, b0, b1, Bb, 1);
        g->c = (flags & WW_GEMM_ACCUMULATE) ? hv_rand(r, -1, 1, N, M, g->B, 1)
                                            : hv_out(N, M, g->B, 1);
    }
    g->bias = hv_rand(r, -1, 1, (flags & WW_GEMM_BIAS_ROW) ? M : N, 1, 1, 1);
}

static const int gemm_shapes[][3] = {
    {1, 1, 1},   {3, 17, 33},  {17, 33, 67}, {33, 67, 130}, {67, 130, 1},
    {130, 1, 3}, {1, 130, 17}, {130, 3, 67}, {33, 33, 33},
};
#define N_GEMM_SHAPES ((int)(sizeof gemm_shapes / sizeof gemm_shapes[0]))

/* The gemm suites take `variant`, a note appended to every case's name. */

/* Every transpose and flag combination over the shapes, batch 1. */
static void gemm_dense_suite(ww_backend *be, const char *variant)
{
    char layout[64];
    snprintf(layout, sizeof layout, "dense%s", variant);
    for (int s = 0; s < N_GEMM_SHAPES; s++) {
        for (unsigned t = 0; t < 4; t++) {
            int mode = (s * 4 + (int)t) % N_GEMM_MODES;
            test_rng r;
            test_rng_seed(&r, 1000 + (uint64_t)(s * 4 + (int)t));
            gemm_in g;
            gemm_make(&r, &g, gemm_shapes[s][0], gemm_shapes[s][1], gemm_shapes[s][2], 1, 1,
                      t | gemm_modes[mode].flags, gemm_modes[mode].bias, 0);
            gemm_check(be, &g, layout);
        }
    }
}

/* Batch 2, with either operand broadcast from batch 1. */
static void gemm_batch_suite(ww_backend *be, const char *variant)
{
    static const int shapes[][3] = {{3, 17, 33}, {17, 33, 67}, {33, 3, 130}};
    static const int batches[][2] = {{2, 2}, {2, 1}, {1, 2}};
    char layout[64];
    snprintf(layout, sizeof layout, "dense%s", variant);
    int ci = 0;
    for (int s = 0; s < 3; s++) {
        for (int bt = 0; bt < 3; bt++) {
            for (unsigned t = 0; t < 4; t++, ci++) {
                int mode = ci % N_GEMM_MODES;
                test_rng r;
                test_rng_seed(&r, 2000 + (uint64_t)ci);
                gemm_in g;
                gemm_make(&r, &g, shapes[s][0], shapes[s][1], shapes[s][2], batches[bt][0],
                          batches[bt][1], t | gemm_modes[mode].flags, gemm_modes[mode].bias, 0);
                gemm_check(be, &g, layout);
            }
        }
    }
}

/* a, b and c as strided views (row and batch strides larger than dense), so that every stride
 * parameter matters and the padding of c must stay untouched. */
static void gemm_strided_suite(ww_backend *be, const char *variant)
{
    static const int shapes[][3] = {{17, 33, 67}, {1, 130, 3}};
    char layout[64];
    snprintf(layout, sizeof layout, "padded%s", variant);
    int ci = 0;
    for (int s = 0; s < 2; s++) {
        for (int bb = 1; bb <= 2; bb++) {
            for (unsigned t = 0; t < 4; t++, ci++) {
                int mode = (ci * 3) % N_GEMM_MODES;
                test_rng r;
                test_rng_seed(&r, 3000 + (uint64_t)ci);
                gemm_in g;
                gemm_make(&r, &g, shapes[s][0], shapes[s][1], shapes[s][2], 2, bb,
                          t | gemm_modes[mode].flags, gemm_modes[mode].bias, 1);
                gemm_check(be, &g, layout);
            }
        }
    }
}

static void test_gemm(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (be)
        gemm_dense_suite(be, "");
}

static void test_gemm_batch(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (be)
        gemm_batch_suite(be, "");
}

static void test_gemm_strided(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (be)
        gemm_strided_suite(be, "");
}

/* Both Vulkan GEMM kernels whatever the device would choose: CI's CPU driver picks the
 * register-tiled one, GPUs the shared-memory one, and each must stay correct on the other. */
static void test_gemm_variants(const char *dev)
{
    static const char *variants[] = {", gemm_variant 1", ", gemm_variant 2"};
    for (int v = 1; v <= 2; v++) {
        ww_backend_options opt;
        test_backend_options(&opt, dev);
        opt.gemm_variant = v;
        ww_backend *be = test_backend_new(&opt);
        if (!be)
            return;
        gemm_dense_suite(be, variants[v - 1]);
        gemm_batch_suite(be, variants[v - 1]);
        gemm_strided_suite(be, variants[v - 1]);
        test_backend_destroy(be);
    }
}

/* The attention-shaped uses: q, k, v as views inside one fused [N, 3D] qkv buffer, heads as the
 * batch (batch stride Dh, smaller than the row stride), results written head by head into the
 * columns of [N, H*Dh]. */
static void test_gemm_qkv(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    enum { N = 17, H = 3, Dh = 16, D = H * Dh, O = 20 };
    test_rng r;
    test_rng_seed(&r, 4000);
    hv qkv = hv_rand(&r, -1, 1, 3 * D, N, 1, 1);
    int64_t heads_ne[4] = {Dh, N, H, 1}, heads_nb[4] = {1, 3 * D, Dh, 3 * D * N};
    gemm_in g;

    /* scores of every head: q_h k_h^T */
    memset(&g, 0, sizeof g);
    g.M = N, g.N = N, g.K = Dh, g.B = H;
    g.flags = WW_GEMM_TRANS_B;
    g.a = hv_sub(&qkv, 0, heads_ne, heads_nb);
    g.b = hv_sub(&qkv, D, heads_ne, heads_nb);
    g.c = hv_out(N, N, H, 1);
    gemm_check(be, &g, "q k^T per head in qkv");

    /* P_h v_h written into the head's columns of o [N, H*Dh] */
    memset(&g, 0, sizeof g);
    g.M = N, g.N = Dh, g.K = N, g.B = H;
    g.a = hv_rand(&r, 0, 1, N, N, H, 1);
    g.b = hv_sub(&qkv, 2 * D, heads_ne, heads_nb);
    hv o = hv_out(H * Dh, N, 1, 1);
    int64_t o_ne[4] = {Dh, N, H, 1}, o_nb[4] = {1, H * Dh, Dh, H * Dh * N};
    g.c = hv_sub(&o, 0, o_ne, o_nb);
    gemm_check(be, &g, "P v per head into [N, H*Dh]");

    /* a Linear layer on q alone, batch 2 images against one shared weight */
    hv qkv2 = hv_rand(&r, -1, 1, 3 * D, N, 2, 1);
    int64_t q_ne[4] = {D, N, 2, 1}, q_nb[4] = {1, 3 * D, 3 * D * N, 6 * D * N};
    memset(&g, 0, sizeof g);
    g.M = N, g.N = O, g.K = D, g.B = 2;
    g.flags = WW_GEMM_TRANS_B | WW_GEMM_GELU;
    g.has_bias = 1;
    g.a = hv_sub(&qkv2, 0, q_ne, q_nb);
    g.b = hv_rand(&r, -0.3f, 0.3f, D, O, 1, 1);
    g.bias = hv_rand(&r, -1, 1, O, 1, 1, 1);
    g.c = hv_out(O, N, 2, 1);
    gemm_check(be, &g, "Linear(q) in qkv");
}

/* ---- layernorm -------------------------------------------------------------------------------- */

typedef struct ln_in {
    hv x, w, b, y; /* y.d == x.d: in place */
    float eps;
    int D, rows;
} ln_in;

static int ln_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const ln_in *l = vin;
    sess x;
    ww_tensor tx, tw, tb, ty;
    if (!sess_begin(&x, be) || !up(&x, &l->x, &tx) || !up(&x, &l->w, &tw) ||
        !up(&x, &l->b, &tb) || !up(&x, &l->y, &ty))
        return 0;
    if (!TEST_OK(be, ww_layernorm(x.s, &tx, &tw, &tb, l->eps, &ty)))
        return 0;
    return test_run(be, x.s) && get(&x, l->y.d, out, what);
}

static double *ln_ref(const ln_in *l)
{
    double *r = test_malloc((size_t)l->y.n * sizeof *r);
    for (int row = 0; row < l->rows; row++) {
        const float *xr = l->x.d + (size_t)row * l->D;
        double mean = 0, var = 0;
        for (int i = 0; i < l->D; i++)
            mean += xr[i];
        mean /= l->D;
        for (int i = 0; i < l->D; i++)
            var += (xr[i] - mean) * (xr[i] - mean);
        var /= l->D;
        for (int i = 0; i < l->D; i++)
            r[(size_t)row * l->D + i] =
                (xr[i] - mean) / sqrt(var + l->eps) * l->w.d[i] + l->b.d[i];
    }
    return r;
}

static void test_layernorm(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int D, rows, B, inplace;
        float eps;
    } cs[] = {
        {1, 3, 1, 0, 1e-6f},  {3, 5, 2, 0, 1e-6f},   {17, 33, 1, 1, 1e-5f}, {64, 7, 2, 0, 1e-6f},
        {130, 4, 1, 1, 1e-6f}, {768, 3, 2, 0, 1e-6f}, {1000, 2, 1, 1, 1e-6f},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 5000 + (uint64_t)i);
        ln_in l;
        l.D = cs[i].D;
        l.rows = cs[i].rows * cs[i].B;
        l.eps = cs[i].eps;
        /* a mean well away from 0 punishes a one-pass E[x^2] - E[x]^2 variance */
        l.x = hv_rand(&r, 1, 3, cs[i].D, cs[i].rows, cs[i].B, 1);
        l.w = hv_rand(&r, 0.5f, 1.5f, cs[i].D, 1, 1, 1);
        l.b = hv_rand(&r, -0.5f, 0.5f, cs[i].D, 1, 1, 1);
        l.y = cs[i].inplace ? l.x : hv_out(cs[i].D, cs[i].rows, cs[i].B, 1);
        char what[160];
        snprintf(what, sizeof what, "layernorm D=%d rows=%d B=%d eps=%g%s", cs[i].D,
                 cs[i].rows, cs[i].B, (double)cs[i].eps, cs[i].inplace ? " in place" : "");
        check_one(be, ln_run, &l, ln_ref(&l), (size_t)l.y.n, TEST_TOL, what);
    }
}

/* ---- add, gelu, relu, copy --------------------------------------------------------------------- */

enum { EW_ADD, EW_GELU, EW_RELU, EW_COPY };

typedef struct ew_in {
    int op;
    hv a, b, y; /* y may share a's or b's backing: in place */
} ew_in;

static int ew_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const ew_in *e = vin;
    sess x;
    ww_tensor a, b, y;
    if (!sess_begin(&x, be) || !up(&x, &e->a, &a) || (e->op == EW_ADD && !up(&x, &e->b, &b)) ||
        !up(&x, &e->y, &y))
        return 0;
    ww_status st = e->op == EW_ADD    ? ww_add(x.s, &a, &b, &y)
                   : e->op == EW_GELU ? ww_gelu(x.s, &a, &y)
                   : e->op == EW_RELU ? ww_relu(x.s, &a, &y)
                                      : ww_copy(x.s, &a, &y);
    if (!TEST_OK(be, st))
        return 0;
    return test_run(be, x.s) && get(&x, e->y.d, out, what);
}

static double *ew_ref(const ew_in *e)
{
    double *r = test_malloc((size_t)e->y.n * sizeof *r);
    for (int64_t i = 0; i < e->y.n; i++) {
        double a = e->a.d[i];
        r[i] = e->op == EW_ADD    ? a + e->b.d[i]
               : e->op == EW_GELU ? gelu_ref(a)
               : e->op == EW_RELU ? (a > 0 ? a : 0)
                                  : a;
    }
    return r;
}

static void ew_test(const char *dev, int op)
{
    static const char *names[] = {"add", "gelu", "relu", "copy"};
    static const int64_t shapes[][4] = {{1, 1, 1, 1},   {3, 1, 1, 1},  {17, 3, 1, 1},
                                        {1000, 1, 1, 1}, {33, 5, 2, 1}, {4099, 1, 1, 1},
                                        {7, 3, 2, 2}};
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    for (int i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); i++) {
        const int64_t *ne = shapes[i];
        test_rng r;
        test_rng_seed(&r, 6000 + (uint64_t)(op * 100 + i));
        ew_in e;
        e.op = op;
        float lim = op == EW_GELU ? 6.0f : 1.0f; /* GELU's tails as well as its middle */
        e.a = hv_rand(&r, -lim, lim, ne[0], ne[1], ne[2], ne[3]);
        if (op == EW_RELU)
            for (int64_t k = 0; k < e.a.n; k += 4)
                e.a.d[k] = 0.0f;
        e.b = hv_rand(&r, -1, 1, ne[0], ne[1], ne[2], ne[3]);
        /* in place cycles through: separate output, y = a, y = b (add only) */
        int mode = i % (op == EW_ADD ? 3 : 2);
        e.y = mode == 1 ? e.a : mode == 2 ? e.b : hv_out(ne[0], ne[1], ne[2], ne[3]);
        char what[160];
        snprintf(what, sizeof what, "%s ne=[%lld,%lld,%lld,%lld]%s", names[op], (long long)ne[0],
                 (long long)ne[1], (long long)ne[2], (long long)ne[3],
                 mode == 1 ? " in place (y = a)" : mode == 2 ? " in place (y = b)" : "");
        int exact = op == EW_RELU || op == EW_COPY;
        check_one(be, ew_run, &e, ew_ref(&e), (size_t)e.y.n, exact ? 0.0 : TEST_TOL, what);
    }
}

static void test_add(const char *dev)
{
    ew_test(dev, EW_ADD);
}

static void test_gelu(const char *dev)
{
    ew_test(dev, EW_GELU);
}

static void test_relu(const char *dev)
{
    ew_test(dev, EW_RELU);
}

static void test_copy(const char *dev)
{
    ew_test(dev, EW_COPY);
}

/* ---- rope2d and its table ------------------------------------------------------------------------ */

typedef struct rope_in {
    int Dh, H, N, B, Bp, max_pos, inverse, roundtrip;
    hv x;       /* backing: x alone, or a fused qkv buffer */
    hv q, k;    /* the rotated views; k.d == NULL when only q is rotated */
    uint32_t *pos; /* [Bp, N, 2] */
} rope_in;

static int rope_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const rope_in *p = vin;
    sess x;
    ww_tensor q, k, pos, table;
    if (!sess_begin(&x, be) || !up(&x, &p->q, &q) || (p->k.d && !up(&x, &p->k, &k)) ||
        !up_u32(&x, p->pos, 2, p->N, p->Bp, &pos))
        return 0;
    if (!TEST_OK(be, ww_rope_table(x.a, p->Dh, p->max_pos, 100.0, &table)))
        return 0;
    for (int pass = 0; pass < (p->roundtrip ? 2 : 1); pass++) {
        int inv = pass ? !p->inverse : p->inverse;
        if (!TEST_OK(be, ww_rope2d(x.s, &q, &pos, &table, inv)) ||
            (p->k.d && !TEST_OK(be, ww_rope2d(x.s, &k, &pos, &table, inv))))
            return 0;
    }
    return test_run(be, x.s) && get(&x, p->x.d, out, what);
}

/* RoPE-2D as croco-architecture.md states it: the first Dh/2 values turn by the y position, the
 * second by x; in each half of d values, element j pairs with j + d/2 at frequency
 * 100^(-2j/d). */
static void rope_apply_ref(double *r, const rope_in *p, const hv *v, int inverse)
{
    int half = p->Dh / 2, quarter = p->Dh / 4;
    for (int b = 0; b < p->B; b++) {
        for (int n = 0; n < p->N; n++) {
            const uint32_t *ps = p->pos + ((size_t)(p->Bp == 1 ? 0 : b) * p->N + n) * 2;
            for (int h = 0; h < p->H; h++) {
                for (int s = 0; s < 2; s++) {
                    for (int j = 0; j < quarter; j++) {
                        double ang = ps[s] * pow(100.0, -2.0 * j / half);
                        double c = cos(ang), sn = inverse ? -sin(ang) : sin(ang);
                        int64_t i1 = hv_idx(v, s * half + j, h, n, b);
                        int64_t i2 = hv_idx(v, s * half + j + quarter, h, n, b);
                        double t1 = r[i1], t2 = r[i2];
                        r[i1] = t1 * c - t2 * sn;
                        r[i2] = t2 * c + t1 * sn;
                    }
                }
            }
        }
    }
}

static double *rope_ref(const rope_in *p)
{
    double *r = ref_init(&p->x);
    if (!p->roundtrip) {
        rope_apply_ref(r, p, &p->q, p->inverse);
        if (p->k.d)
            rope_apply_ref(r, p, &p->k, p->inverse);
    }
    return r; /* a rotation and its inverse give the input back */
}

static void test_rope2d(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int Dh, H, N, B, Bp, fused, inverse, roundtrip, max_pos;
    } cs[] = {
        {16, 3, 7, 2, 2, 0, 0, 0, 64},  {16, 3, 7, 2, 1, 1, 0, 0, 64},
        {64, 2, 19, 2, 2, 1, 1, 0, 130}, {4, 1, 5, 1, 1, 0, 0, 0, 8},
        {12, 2, 9, 1, 1, 1, 0, 0, 16},  {64, 2, 19, 2, 2, 1, 0, 1, 130},
        {16, 4, 33, 2, 1, 0, 1, 1, 64},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 7000 + (uint64_t)i);
        rope_in p;
        memset(&p, 0, sizeof p);
        p.Dh = cs[i].Dh, p.H = cs[i].H, p.N = cs[i].N, p.B = cs[i].B, p.Bp = cs[i].Bp;
        p.max_pos = cs[i].max_pos, p.inverse = cs[i].inverse, p.roundtrip = cs[i].roundtrip;
        int64_t ne[4] = {p.Dh, p.H, p.N, p.B};
        if (cs[i].fused) {
            int64_t row = 3 * (int64_t)p.H * p.Dh;
            int64_t nb[4] = {1, p.Dh, row, row * p.N};
            p.x = hv_rand(&r, -1, 1, row, p.N, p.B, 1);
            p.q = hv_sub(&p.x, 0, ne, nb);
            p.k = hv_sub(&p.x, (int64_t)p.H * p.Dh, ne, nb);
        } else {
            p.x = hv_rand(&r, -1, 1, p.Dh, p.H, p.N, p.B);
            p.q = p.x;
        }
        p.pos = test_malloc((size_t)p.Bp * p.N * 2 * sizeof *p.pos);
        for (int k = 0; k < p.Bp * p.N * 2; k++)
            p.pos[k] = k < 2 ? 0 : test_rng_below(&r, (uint32_t)p.max_pos);
        char what[200];
        snprintf(what, sizeof what, "rope2d Dh=%d H=%d N=%d B=%d pos batch=%d %s%s%s", p.Dh, p.H,
                 p.N, p.B, p.Bp, cs[i].fused ? "q and k in qkv" : "contiguous",
                 p.inverse ? " inverse" : "", p.roundtrip ? " then its inverse" : "");
        check_one(be, rope_run, &p, rope_ref(&p), (size_t)p.x.n, TEST_TOL, what);
    }
}

/* The table is computed on the host; its layout [max_pos, Dh/4, 2] is taken as (cos, sin) pairs. */
static void test_rope_table(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int Dh, max_pos;
        double base;
    } cs[] = {{16, 20, 100}, {64, 130, 100}, {12, 7, 10000}, {4, 1, 100}};
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        int q = cs[i].Dh / 4, mp = cs[i].max_pos;
        char what[128];
        snprintf(what, sizeof what, "rope_table Dh=%d max_pos=%d base=%g", cs[i].Dh, mp,
                 cs[i].base);
        ww_arena *a = test_arena(be);
        ww_tensor t;
        if (!a || !TEST_OK(be, ww_rope_table(a, cs[i].Dh, mp, cs[i].base, &t)))
            continue;
        if (!TEST_CHECK(t.type == WW_F32 && t.ne[0] == 2 && t.ne[1] == q && t.ne[2] == mp &&
                            t.ne[3] == 1 && ww_tensor_is_contiguous(&t),
                        "%s: table type %d shape [%lld,%lld,%lld,%lld], want F32 [1,%d,%d,2] "
                        "contiguous",
                        what, (int)t.type, (long long)t.ne[3], (long long)t.ne[2],
                        (long long)t.ne[1], (long long)t.ne[0], mp, q))
            continue;
        size_t n = (size_t)mp * q * 2;
        float *got = test_malloc(n * sizeof *got);
        double *ref = test_malloc(n * sizeof *ref);
        if (!TEST_OK(be, ww_tensor_read(be, &t, got, n * sizeof *got)))
            continue;
        for (int p = 0; p < mp; p++) {
            for (int j = 0; j < q; j++) {
                double ang = p * pow(cs[i].base, -2.0 * j / (cs[i].Dh / 2));
                ref[((size_t)p * q + j) * 2] = cos(ang);
                ref[((size_t)p * q + j) * 2 + 1] = sin(ang);
            }
        }
        TEST_COMPARE(what, got, ref, n, 1e-6);
    }
}

/* ---- attention ------------------------------------------------------------------------------------ */

enum { ATT_SEPARATE, ATT_QKV, ATT_KV };

typedef struct att_in {
    int B, H, Nq, Nk, Dh, Bkv, has_lse;
    float scale;
    hv q, k, v, o, lse;
} att_in;

static int att_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const att_in *t = vin;
    sess x;
    ww_tensor q, k, v, o, lse;
    if (!sess_begin(&x, be) || !up(&x, &t->q, &q) || !up(&x, &t->k, &k) || !up(&x, &t->v, &v) ||
        !up(&x, &t->o, &o) || (t->has_lse && !up(&x, &t->lse, &lse)))
        return 0;
    if (!TEST_OK(be, ww_attention(x.s, &q, &k, &v, t->scale, &o, t->has_lse ? &lse : NULL)))
        return 0;
    if (!test_run(be, x.s) || !get(&x, t->o.d, out, what))
        return 0;
    return !t->has_lse || get(&x, t->lse.d, out + t->o.n, what);
}

/* Materialised: the whole score row, its softmax, then the weighted sum of v. */
static double *att_ref(const att_in *t)
{
    double *r = test_malloc((size_t)(t->o.n + (t->has_lse ? t->lse.n : 0)) * sizeof *r);
    double *s = test_malloc((size_t)t->Nk * sizeof *s);
    for (int64_t i = 0; i < t->o.n; i++) /* o's backing as written: a strided o leaves gaps */
        r[i] = t->o.d[i];
    for (int b = 0; b < t->B; b++) {
        int bk = t->Bkv == 1 ? 0 : b;
        for (int h = 0; h < t->H; h++) {
            for (int i = 0; i < t->Nq; i++) {
                double m = -INFINITY, l = 0;
                for (int j = 0; j < t->Nk; j++) {
                    double dot = 0;
                    for (int d = 0; d < t->Dh; d++)
                        dot += hv_at(&t->q, d, h, i, b) * hv_at(&t->k, d, h, j, bk);
                    s[j] = dot * t->scale;
                    m = s[j] > m ? s[j] : m;
                }
                for (int j = 0; j < t->Nk; j++) {
                    s[j] = exp(s[j] - m);
                    l += s[j];
                }
                for (int d = 0; d < t->Dh; d++) {
                    double acc = 0;
                    for (int j = 0; j < t->Nk; j++)
                        acc += s[j] * hv_at(&t->v, d, h, j, bk);
                    r[hv_idx(&t->o, d, h, i, b)] = acc / l;
                }
                if (t->has_lse)
                    r[t->o.n + ((int64_t)b * t->H + h) * t->Nq + i] = m + log(l);
            }
        }
    }
    return r;
}

typedef struct att_case {
    int B, H, Nq, Nk, Dh, Bkv, layout, o_strided, lse;
    float scale, amp; /* scale 0: Dh^-0.5; inputs uniform in [-amp, amp] */
} att_case;

static void att_make(test_rng *r, const att_case *c, att_in *t)
{
    memset(t, 0, sizeof *t);
    t->B = c->B, t->H = c->H, t->Nq = c->Nq, t->Nk = c->Nk, t->Dh = c->Dh, t->Bkv = c->Bkv;
    t->has_lse = c->lse;
    t->scale = c->scale != 0 ? c->scale : (float)(1.0 / sqrt(c->Dh));
    int64_t hd = (int64_t)c->H * c->Dh;
    int64_t qne[4] = {c->Dh, c->H, c->Nq, c->B}, kne[4] = {c->Dh, c->H, c->Nk, c->Bkv};
    if (c->layout == ATT_QKV) {
        hv qkv = hv_rand(r, -c->amp, c->amp, 3 * hd, c->Nq, c->B, 1);
        int64_t nb[4] = {1, c->Dh, 3 * hd, 3 * hd * c->Nq};
        t->q = hv_sub(&qkv, 0, qne, nb);
        t->k = hv_sub(&qkv, hd, kne, nb);
        t->v = hv_sub(&qkv, 2 * hd, kne, nb);
    } else {
        t->q = hv_rand(r, -c->amp, c->amp, c->Dh, c->H, c->Nq, c->B);
        if (c->layout == ATT_KV) {
            hv kv = hv_rand(r, -c->amp, c->amp, 2 * hd, c->Nk, c->Bkv, 1);
            int64_t nb[4] = {1, c->Dh, 2 * hd, 2 * hd * c->Nk};
            t->k = hv_sub(&kv, 0, kne, nb);
            t->v = hv_sub(&kv, hd, kne, nb);
        } else {
            t->k = hv_rand(r, -c->amp, c->amp, c->Dh, c->H, c->Nk, c->Bkv);
            t->v = hv_rand(r, -1, 1, c->Dh, c->H, c->Nk, c->Bkv);
        }
    }
    if (c->o_strided) {
        /* o is the first half of each row of [B, Nq, 2*H*Dh]; the second half must survive */
        hv ob = hv_rand(r, -1, 1, 2 * hd, c->Nq, c->B, 1);
        int64_t nb[4] = {1, c->Dh, 2 * hd, 2 * hd * c->Nq};
        t->o = hv_sub(&ob, 0, qne, nb);
    } else {
        t->o = hv_out(c->Dh, c->H, c->Nq, c->B);
    }
    t->lse = hv_out(c->Nq, c->H, c->B, 1);
}

static void att_check(ww_backend *be, const att_case *c, uint64_t seed)
{
    static const char *layouts[] = {"q, k, v separate", "q, k, v in qkv", "k, v in kv"};
    test_rng r;
    test_rng_seed(&r, seed);
    att_in t;
    att_make(&r, c, &t);
    char what[256];
    snprintf(what, sizeof what,
             "attention B=%d H=%d Nq=%d Nk=%d Dh=%d kv batch=%d %s%s%s scale=%g amp=%g", c->B,
             c->H, c->Nq, c->Nk, c->Dh, c->Bkv, layouts[c->layout],
             c->o_strided ? ", o strided" : "", c->lse ? ", lse" : "", (double)t.scale,
             (double)c->amp);
    seg segs[2] = {{"o", (size_t)t.o.n, TEST_TOL_REDUCE, TEST_TOL_REDUCE},
                   {"lse", (size_t)t.lse.n, TEST_TOL, TEST_TOL}};
    check_case(be, att_run, &t, att_ref(&t), segs, c->lse ? 2 : 1, what);
}

static void test_attention(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const att_case cs[] = {
        /* B  H  Nq   Nk   Dh Bkv layout   ostr lse scale amp */
        {2, 2, 17, 17, 16, 2, ATT_QKV, 0, 1, 0, 1},
        {1, 3, 33, 33, 64, 1, ATT_QKV, 1, 0, 0, 1},
        {2, 2, 5, 70, 16, 2, ATT_SEPARATE, 0, 1, 0, 1},
        {2, 4, 67, 3, 64, 2, ATT_KV, 1, 1, 0, 1},
        {1, 1, 1, 1, 16, 1, ATT_SEPARATE, 0, 1, 0, 1},
        {2, 2, 9, 130, 16, 1, ATT_KV, 0, 1, 0, 1},     /* k, v broadcast over the batch */
        {1, 2, 20, 37, 64, 1, ATT_SEPARATE, 0, 1, 1, 3}, /* scores up to ~100: needs max-shift */
        {2, 1, 129, 129, 16, 2, ATT_QKV, 1, 1, 0, 1},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++)
        att_check(be, &cs[i], 8000 + (uint64_t)i);
}

static void test_attention_large(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const att_case c = {1, 4, 300, 257, 64, 1, ATT_SEPARATE, 0, 1, 0, 1};
    att_check(be, &c, 8100);
}

/* ww_attention against the same attention materialised with other ops on the device: scores^T
 * per head by gemm (heads as the batch, q pre-scaled), softmax over keys with
 * ww_softmax_channels (keys as channels), then P^T v by gemm into the heads' columns of o. */
typedef struct attc_in {
    int H, Nq, Nk, Dh;
    float scale;
    hv q, qs, k, v, o1, s, p, o2;
} attc_in;

static int attc_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const attc_in *t = vin;
    int64_t hd = (int64_t)t->H * t->Dh;
    int64_t kne[4] = {t->Dh, t->Nk, t->H, 1}, qne[4] = {t->Dh, t->Nq, t->H, 1};
    int64_t hnb[4] = {1, hd, t->Dh, hd * t->Nk}, qnb[4] = {1, hd, t->Dh, hd * t->Nq};
    int64_t chne[4] = {t->Nq, 1, t->Nk, t->H};
    int64_t chnb[4] = {1, t->Nq, t->Nq, (int64_t)t->Nq * t->Nk};
    hv kh = hv_sub(&t->k, 0, kne, hnb), vh = hv_sub(&t->v, 0, kne, hnb);
    hv qh = hv_sub(&t->qs, 0, qne, qnb), oh = hv_sub(&t->o2, 0, qne, qnb);
    hv sch = hv_sub(&t->s, 0, chne, chnb), pch = hv_sub(&t->p, 0, chne, chnb);
    sess x;
    ww_tensor q, k, v, o1, tk, tq, s, tsch, tpch, p, tv, o2;
    if (!sess_begin(&x, be) || !up(&x, &t->q, &q) || !up(&x, &t->k, &k) ||
        !up(&x, &t->v, &v) || !up(&x, &t->o1, &o1) || !up(&x, &kh, &tk) || !up(&x, &qh, &tq) ||
        !up(&x, &t->s, &s) || !up(&x, &sch, &tsch) || !up(&x, &pch, &tpch) ||
        !up(&x, &t->p, &p) || !up(&x, &vh, &tv) || !up(&x, &oh, &o2))
        return 0;
    if (!TEST_OK(be, ww_attention(x.s, &q, &k, &v, t->scale, &o1, NULL)) ||
        !TEST_OK(be, ww_gemm(x.s, &tk, &tq, NULL, &s, WW_GEMM_TRANS_B)) ||
        !TEST_OK(be, ww_softmax_channels(x.s, &tsch, &tpch)) ||
        !TEST_OK(be, ww_gemm(x.s, &p, &tv, NULL, &o2, WW_GEMM_TRANS_A)))
        return 0;
    return test_run(be, x.s) && get(&x, t->o1.d, out, what) &&
           get(&x, t->o2.d, out + t->o1.n, what);
}

static void test_attention_composed(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const int cs[][4] = {{3, 33, 33, 16}, {2, 19, 45, 64}}; /* H, Nq, Nk, Dh */
    for (int i = 0; i < 2; i++) {
        test_rng r;
        test_rng_seed(&r, 8200 + (uint64_t)i);
        attc_in t;
        t.H = cs[i][0], t.Nq = cs[i][1], t.Nk = cs[i][2], t.Dh = cs[i][3];
        t.scale = (float)(1.0 / sqrt(t.Dh));
        t.q = hv_rand(&r, -1, 1, t.Dh, t.H, t.Nq, 1);
        t.qs = hv_dense(t.Dh, t.H, t.Nq, 1);
        for (int64_t k = 0; k < t.q.n; k++)
            t.qs.d[k] = t.q.d[k] * t.scale;
        t.k = hv_rand(&r, -1, 1, t.Dh, t.H, t.Nk, 1);
        t.v = hv_rand(&r, -1, 1, t.Dh, t.H, t.Nk, 1);
        t.o1 = hv_out(t.Dh, t.H, t.Nq, 1);
        t.o2 = hv_out(t.Dh, t.H, t.Nq, 1);
        t.s = hv_out(t.Nq, t.Nk, t.H, 1);
        t.p = hv_out(t.Nq, t.Nk, t.H, 1);
        /* the reference of both outputs is the plain attention of q, k, v */
        att_in ref;
        memset(&ref, 0, sizeof ref);
        ref.B = 1, ref.H = t.H, ref.Nq = t.Nq, ref.Nk = t.Nk, ref.Dh = t.Dh, ref.Bkv = 1;
        ref.scale = t.scale, ref.q = t.q, ref.k = t.k, ref.v = t.v, ref.o = t.o1;
        double *one = att_ref(&ref);
        double *both = test_malloc(2 * (size_t)t.o1.n * sizeof *both);
        memcpy(both, one, (size_t)t.o1.n * sizeof *both);
        memcpy(both + t.o1.n, one, (size_t)t.o1.n * sizeof *both);
        char what[160];
        snprintf(what, sizeof what, "attention vs gemm+softmax+gemm H=%d Nq=%d Nk=%d Dh=%d", t.H,
                 t.Nq, t.Nk, t.Dh);
        seg segs[2] = {{"ww_attention", (size_t)t.o1.n, TEST_TOL_REDUCE, TEST_TOL_REDUCE},
                       {"composed", (size_t)t.o1.n, TEST_TOL_REDUCE, TEST_TOL_REDUCE}};
        check_case(be, attc_run, &t, both, segs, 2, what);
    }
}

/* ---- patchify and patch embedding ------------------------------------------------------------- */

typedef struct patch_in {
    int B, C, H, W, p, D;
    hv img, out, w, bias, tok; /* w, bias, tok: patch embedding only */
} patch_in;

static int patch_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const patch_in *t = vin;
    sess x;
    ww_tensor img, o;
    if (!sess_begin(&x, be) || !up(&x, &t->img, &img) || !up(&x, &t->out, &o))
        return 0;
    if (!TEST_OK(be, ww_patchify(x.s, &img, t->p, &o)))
        return 0;
    return test_run(be, x.s) && get(&x, t->out.d, out, what);
}

static double *patch_ref(const patch_in *t)
{
    int gw = t->W / t->p, gh = t->H / t->p, cols = t->C * t->p * t->p;
    double *r = test_malloc((size_t)t->out.n * sizeof *r);
    for (int b = 0; b < t->B; b++)
        for (int ty = 0; ty < gh; ty++)
            for (int tx = 0; tx < gw; tx++)
                for (int c = 0; c < t->C; c++)
                    for (int ky = 0; ky < t->p; ky++)
                        for (int kx = 0; kx < t->p; kx++)
                            r[((size_t)b * gh * gw + (size_t)ty * gw + tx) * cols +
                              ((size_t)c * t->p + ky) * t->p + kx] =
                                hv_at(&t->img, tx * t->p + kx, ty * t->p + ky, c, b);
    return r;
}

static void test_patchify(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const int cs[][5] = {{2, 3, 32, 48, 16}, {1, 5, 8, 12, 4}, {2, 2, 6, 10, 2},
                                {1, 3, 3, 5, 1}}; /* B, C, H, W, p */
    for (int i = 0; i < 4; i++) {
        test_rng r;
        test_rng_seed(&r, 9000 + (uint64_t)i);
        patch_in t;
        memset(&t, 0, sizeof t);
        t.B = cs[i][0], t.C = cs[i][1], t.H = cs[i][2], t.W = cs[i][3], t.p = cs[i][4];
        t.img = hv_rand(&r, -1, 1, t.W, t.H, t.C, t.B);
        t.out = hv_out((int64_t)t.C * t.p * t.p, (int64_t)(t.H / t.p) * (t.W / t.p), t.B, 1);
        char what[128];
        snprintf(what, sizeof what, "patchify B=%d C=%d H=%d W=%d p=%d", t.B, t.C, t.H, t.W, t.p);
        check_one(be, patch_run, &t, patch_ref(&t), (size_t)t.out.n, 0.0, what);
    }
}

static int embed_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const patch_in *t = vin;
    sess x;
    ww_tensor img, o, w, bias, tok;
    if (!sess_begin(&x, be) || !up(&x, &t->img, &img) || !up(&x, &t->out, &o) ||
        !up(&x, &t->w, &w) || !up(&x, &t->bias, &bias) || !up(&x, &t->tok, &tok))
        return 0;
    if (!TEST_OK(be, ww_patchify(x.s, &img, t->p, &o)) ||
        !TEST_OK(be, ww_gemm(x.s, &o, &w, &bias, &tok, WW_GEMM_TRANS_B)))
        return 0;
    return test_run(be, x.s) && get(&x, t->tok.d, out, what);
}

/* Conv2d(C, D, kernel p, stride p) with bias, written as a convolution; tokens row-major. */
static double *embed_ref(const patch_in *t)
{
    int gw = t->W / t->p, gh = t->H / t->p;
    double *r = test_malloc((size_t)t->tok.n * sizeof *r);
    for (int b = 0; b < t->B; b++) {
        for (int oy = 0; oy < gh; oy++) {
            for (int ox = 0; ox < gw; ox++) {
                for (int d = 0; d < t->D; d++) {
                    double s = t->bias.d[d];
                    for (int c = 0; c < t->C; c++)
                        for (int ky = 0; ky < t->p; ky++)
                            for (int kx = 0; kx < t->p; kx++)
                                s += hv_at(&t->w, ((int64_t)c * t->p + ky) * t->p + kx, d, 0,
                                           0) *
                                     hv_at(&t->img, ox * t->p + kx, oy * t->p + ky, c, b);
                    r[((size_t)b * gh * gw + (size_t)oy * gw + ox) * t->D + d] = s;
                }
            }
        }
    }
    return r;
}

static void test_patch_embed(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const int cs[][5] = {{2, 32, 48, 33}, {1, 16, 16, 7}}; /* B, H, W, D */
    for (int i = 0; i < 2; i++) {
        test_rng r;
        test_rng_seed(&r, 9100 + (uint64_t)i);
        patch_in t;
        memset(&t, 0, sizeof t);
        t.B = cs[i][0], t.C = 3, t.H = cs[i][1], t.W = cs[i][2], t.p = 16, t.D = cs[i][3];
        int64_t cols = (int64_t)t.C * t.p * t.p, ntok = (int64_t)(t.H / 16) * (t.W / 16);
        t.img = hv_rand(&r, -1, 1, t.W, t.H, t.C, t.B);
        t.out = hv_out(cols, ntok, t.B, 1);
        t.w = hv_rand(&r, -0.1f, 0.1f, cols, t.D, 1, 1);
        t.bias = hv_rand(&r, -1, 1, t.D, 1, 1, 1);
        t.tok = hv_out(t.D, ntok, t.B, 1);
        char what[128];
        snprintf(what, sizeof what, "patchify + gemm vs conv 16x16/16 B=%d H=%d W=%d D=%d", t.B,
                 t.H, t.W, t.D);
        check_one(be, embed_run, &t, embed_ref(&t), (size_t)t.tok.n, TEST_TOL, what);
    }
}

/* ---- conv2d and conv_transpose2d -------------------------------------------------------------- */

typedef struct conv_in {
    int B, Cin, H, W, Cout, k, stride, pad, Ho, Wo, has_bias;
    unsigned flags;
    hv x, w, bias, y;
} conv_in;

static int conv_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const conv_in *c = vin;
    sess x;
    ww_tensor tx, tw, tb, ty;
    if (!sess_begin(&x, be) || !up(&x, &c->x, &tx) || !up(&x, &c->w, &tw) ||
        (c->has_bias && !up(&x, &c->bias, &tb)) || !up(&x, &c->y, &ty))
        return 0;
    if (!TEST_OK(be, ww_conv2d(x.s, &tx, &tw, c->has_bias ? &tb : NULL, c->stride, c->pad, &ty,
                               c->flags)))
        return 0;
    return test_run(be, x.s) && get(&x, c->y.d, out, what);
}

static double *conv_ref(const conv_in *c)
{
    double *r = ref_init(&c->y);
    for (int b = 0; b < c->B; b++) {
        for (int co = 0; co < c->Cout; co++) {
            for (int oy = 0; oy < c->Ho; oy++) {
                for (int ox = 0; ox < c->Wo; ox++) {
                    double s = c->has_bias ? c->bias.d[co] : 0;
                    for (int ci = 0; ci < c->Cin; ci++) {
                        for (int ky = 0; ky < c->k; ky++) {
                            int iy = oy * c->stride - c->pad + ky;
                            for (int kx = 0; kx < c->k; kx++) {
                                int ix = ox * c->stride - c->pad + kx;
                                if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W)
                                    continue;
                                double xv = hv_at(&c->x, ix, iy, ci, b);
                                if ((c->flags & WW_CONV_RELU_IN) && xv < 0)
                                    xv = 0;
                                s += hv_at(&c->w, kx, ky, ci, co) * xv;
                            }
                        }
                    }
                    if ((c->flags & WW_CONV_RELU_OUT) && s < 0)
                        s = 0;
                    int64_t i = hv_idx(&c->y, ox, oy, co, b);
                    r[i] = (c->flags & WW_CONV_ACCUMULATE) ? r[i] + s : s;
                }
            }
        }
    }
    return r;
}

static void test_conv2d(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    /* RELU_OUT is not combined with ACCUMULATE: ww.h leaves open whether the relu sees the sum */
    static const struct {
        int B, Cin, Cout, H, W, k, stride, pad, bias;
        unsigned flags;
    } cs[] = {
        {2, 3, 5, 7, 9, 3, 1, 1, 1, 0},
        {2, 3, 5, 7, 9, 3, 1, 1, 0, 0},
        {1, 17, 3, 5, 6, 1, 1, 0, 1, 0},
        {2, 4, 6, 9, 7, 3, 2, 1, 1, 0},
        {1, 4, 6, 8, 10, 3, 2, 1, 1, 0},
        {1, 5, 4, 6, 6, 3, 1, 1, 1, WW_CONV_RELU_IN},
        {2, 5, 4, 6, 6, 3, 1, 1, 1, WW_CONV_RELU_OUT},
        {1, 5, 4, 6, 6, 3, 1, 1, 1, WW_CONV_ACCUMULATE},
        {2, 5, 4, 6, 6, 3, 1, 1, 0, WW_CONV_RELU_IN | WW_CONV_ACCUMULATE},
        {1, 5, 4, 6, 6, 3, 1, 1, 1, WW_CONV_RELU_IN | WW_CONV_RELU_OUT},
        {1, 33, 17, 11, 13, 3, 1, 1, 1, 0},
        {1, 3, 2, 5, 5, 3, 1, 0, 1, 0},
        {1, 1, 1, 1, 1, 3, 1, 1, 1, 0},
        {1, 130, 33, 3, 5, 1, 1, 0, 1, WW_CONV_RELU_IN},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 10000 + (uint64_t)i);
        conv_in c;
        memset(&c, 0, sizeof c);
        c.B = cs[i].B, c.Cin = cs[i].Cin, c.Cout = cs[i].Cout, c.H = cs[i].H, c.W = cs[i].W;
        c.k = cs[i].k, c.stride = cs[i].stride, c.pad = cs[i].pad, c.has_bias = cs[i].bias;
        c.flags = cs[i].flags;
        c.Ho = (c.H + 2 * c.pad - c.k) / c.stride + 1;
        c.Wo = (c.W + 2 * c.pad - c.k) / c.stride + 1;
        c.x = hv_rand(&r, -1, 1, c.W, c.H, c.Cin, c.B);
        c.w = hv_rand(&r, -0.5f, 0.5f, c.k, c.k, c.Cin, c.Cout);
        c.bias = hv_rand(&r, -1, 1, c.Cout, 1, 1, 1);
        c.y = (c.flags & WW_CONV_ACCUMULATE) ? hv_rand(&r, -1, 1, c.Wo, c.Ho, c.Cout, c.B)
                                             : hv_out(c.Wo, c.Ho, c.Cout, c.B);
        char what[200];
        snprintf(what, sizeof what,
                 "conv2d B=%d Cin=%d Cout=%d H=%d W=%d k=%d stride=%d pad=%d%s%s%s%s", c.B,
                 c.Cin, c.Cout, c.H, c.W, c.k, c.stride, c.pad, c.has_bias ? " bias" : "",
                 (c.flags & WW_CONV_RELU_IN) ? " RELU_IN" : "",
                 (c.flags & WW_CONV_RELU_OUT) ? " RELU_OUT" : "",
                 (c.flags & WW_CONV_ACCUMULATE) ? " ACCUMULATE" : "");
        check_one(be, conv_run, &c, conv_ref(&c), (size_t)c.y.n, TEST_TOL, what);
    }
}

static int convt_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const conv_in *c = vin;
    sess x;
    ww_tensor tx, tw, tb, ty;
    if (!sess_begin(&x, be) || !up(&x, &c->x, &tx) || !up(&x, &c->w, &tw) ||
        (c->has_bias && !up(&x, &c->bias, &tb)) || !up(&x, &c->y, &ty))
        return 0;
    if (!TEST_OK(be, ww_conv_transpose2d(x.s, &tx, &tw, c->has_bias ? &tb : NULL, &ty)))
        return 0;
    return test_run(be, x.s) && get(&x, c->y.d, out, what);
}

static double *convt_ref(const conv_in *c)
{
    double *r = test_malloc((size_t)c->y.n * sizeof *r);
    for (int b = 0; b < c->B; b++)
        for (int co = 0; co < c->Cout; co++)
            for (int i = 0; i < c->H; i++)
                for (int j = 0; j < c->W; j++)
                    for (int ky = 0; ky < c->k; ky++)
                        for (int kx = 0; kx < c->k; kx++) {
                            double s = c->has_bias ? c->bias.d[co] : 0;
                            for (int ci = 0; ci < c->Cin; ci++)
                                s += hv_at(&c->x, j, i, ci, b) * hv_at(&c->w, kx, ky, co, ci);
                            r[hv_idx(&c->y, j * c->k + kx, i * c->k + ky, co, b)] = s;
                        }
    return r;
}

static void test_conv_transpose2d(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const int cs[][7] = {{2, 5, 3, 3, 4, 2, 1}, {1, 3, 7, 2, 5, 4, 0},
                                {1, 33, 4, 3, 3, 2, 1}, {2, 1, 1, 1, 1, 4, 1},
                                {1, 96, 5, 2, 3, 4, 1}}; /* B, Cin, Cout, H, W, k, bias */
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 11000 + (uint64_t)i);
        conv_in c;
        memset(&c, 0, sizeof c);
        c.B = cs[i][0], c.Cin = cs[i][1], c.Cout = cs[i][2], c.H = cs[i][3], c.W = cs[i][4];
        c.k = cs[i][5], c.has_bias = cs[i][6];
        c.x = hv_rand(&r, -1, 1, c.W, c.H, c.Cin, c.B);
        c.w = hv_rand(&r, -0.5f, 0.5f, c.k, c.k, c.Cout, c.Cin);
        c.bias = hv_rand(&r, -1, 1, c.Cout, 1, 1, 1);
        c.y = hv_out((int64_t)c.W * c.k, (int64_t)c.H * c.k, c.Cout, c.B);
        char what[160];
        snprintf(what, sizeof what, "conv_transpose2d B=%d Cin=%d Cout=%d H=%d W=%d k=%d%s", c.B,
                 c.Cin, c.Cout, c.H, c.W, c.k, c.has_bias ? " bias" : "");
        check_one(be, convt_run, &c, convt_ref(&c), (size_t)c.y.n, TEST_TOL, what);
    }
}

/* ---- resize_bilinear ----------------------------------------------------------------------------- */

typedef struct rs_in {
    int B, C, H, W, Ho, Wo;
    hv x, y;
} rs_in;

static int rs_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const rs_in *t = vin;
    sess x;
    ww_tensor tx, ty;
    if (!sess_begin(&x, be) || !up(&x, &t->x, &tx) || !up(&x, &t->y, &ty))
        return 0;
    if (!TEST_OK(be, ww_resize_bilinear(x.s, &tx, &ty)))
        return 0;
    return test_run(be, x.s) && get(&x, t->y.d, out, what);
}

/* align_corners = true: output i samples input i * (in - 1) / (out - 1); a single output sample
 * takes input 0 (as PyTorch does). */
static void rs_coord(int i, int in, int out, int *i0, int *i1, double *f)
{
    double s = out > 1 ? i * (double)(in - 1) / (out - 1) : 0.0;
    *i0 = (int)floor(s);
    if (*i0 > in - 1)
        *i0 = in - 1;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *f = s - *i0;
}

static double *rs_ref(const rs_in *t)
{
    double *r = test_malloc((size_t)t->y.n * sizeof *r);
    for (int b = 0; b < t->B; b++)
        for (int c = 0; c < t->C; c++)
            for (int oy = 0; oy < t->Ho; oy++)
                for (int ox = 0; ox < t->Wo; ox++) {
                    int y0, y1, x0, x1;
                    double fy, fx;
                    rs_coord(oy, t->H, t->Ho, &y0, &y1, &fy);
                    rs_coord(ox, t->W, t->Wo, &x0, &x1, &fx);
                    double top = (1 - fx) * hv_at(&t->x, x0, y0, c, b) + fx * hv_at(&t->x, x1, y0, c, b);
                    double bot = (1 - fx) * hv_at(&t->x, x0, y1, c, b) + fx * hv_at(&t->x, x1, y1, c, b);
                    r[hv_idx(&t->y, ox, oy, c, b)] = (1 - fy) * top + fy * bot;
                }
    return r;
}

static void test_resize_bilinear(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const int cs[][6] = {{2, 3, 5, 7, 10, 14}, {1, 2, 5, 7, 3, 11}, {1, 3, 1, 1, 4, 6},
                                {2, 2, 6, 5, 1, 1},   {1, 1, 3, 4, 7, 9},  {1, 4, 17, 9, 34, 18},
                                {1, 2, 8, 8, 8, 8}}; /* B, C, H, W, Ho, Wo */
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 12000 + (uint64_t)i);
        rs_in t;
        t.B = cs[i][0], t.C = cs[i][1], t.H = cs[i][2], t.W = cs[i][3];
        t.Ho = cs[i][4], t.Wo = cs[i][5];
        t.x = hv_rand(&r, -1, 1, t.W, t.H, t.C, t.B);
        t.y = hv_out(t.Wo, t.Ho, t.C, t.B);
        char what[128];
        snprintf(what, sizeof what, "resize_bilinear B=%d C=%d %dx%d -> %dx%d", t.B, t.C, t.H,
                 t.W, t.Ho, t.Wo);
        check_one(be, rs_run, &t, rs_ref(&t), (size_t)t.y.n, TEST_TOL, what);
    }
}

/* ---- softmax_channels and argmax_channels ------------------------------------------------------ */

typedef struct ch_in {
    int B, C, H, W, with_conf;
    hv x, y, conf; /* y: softmax output; conf: argmax only */
    uint32_t *ids; /* argmax output (sentinel-filled host copy) */
} ch_in;

static int softmax_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const ch_in *t = vin;
    sess x;
    ww_tensor tx, ty;
    if (!sess_begin(&x, be) || !up(&x, &t->x, &tx) || !up(&x, &t->y, &ty))
        return 0;
    if (!TEST_OK(be, ww_softmax_channels(x.s, &tx, &ty)))
        return 0;
    return test_run(be, x.s) && get(&x, t->y.d, out, what);
}

/* Per pixel: the max over channels, its first index and sum exp(x - max). */
static void ch_stats(const ch_in *t, int b, int py, int px, double *max, int *arg, double *sum)
{
    *max = -INFINITY;
    *arg = 0;
    for (int c = 0; c < t->C; c++) {
        double v = hv_at(&t->x, px, py, c, b);
        if (v > *max) {
            *max = v;
            *arg = c;
        }
    }
    *sum = 0;
    for (int c = 0; c < t->C; c++)
        *sum += exp(hv_at(&t->x, px, py, c, b) - *max);
}

static double *softmax_ref(const ch_in *t)
{
    double *r = test_malloc((size_t)t->x.n * sizeof *r);
    for (int b = 0; b < t->B; b++)
        for (int py = 0; py < t->H; py++)
            for (int px = 0; px < t->W; px++) {
                double m, s;
                int arg;
                ch_stats(t, b, py, px, &m, &arg, &s);
                for (int c = 0; c < t->C; c++)
                    r[hv_idx(&t->x, px, py, c, b)] = exp(hv_at(&t->x, px, py, c, b) - m) / s;
            }
    return r;
}

static void test_softmax_channels(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int B, C, H, W;
        float amp; /* +-50: exp overflows without subtracting the max */
    } cs[] = {{1, 1, 3, 5, 1}, {2, 19, 5, 7, 3}, {1, 150, 3, 3, 50}, {2, 4, 1, 1, 1}};
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 13000 + (uint64_t)i);
        ch_in t;
        memset(&t, 0, sizeof t);
        t.B = cs[i].B, t.C = cs[i].C, t.H = cs[i].H, t.W = cs[i].W;
        t.x = hv_rand(&r, -cs[i].amp, cs[i].amp, t.W, t.H, t.C, t.B);
        t.y = hv_out(t.W, t.H, t.C, t.B);
        char what[128];
        snprintf(what, sizeof what, "softmax_channels B=%d C=%d H=%d W=%d amp=%g", t.B, t.C, t.H,
                 t.W, (double)cs[i].amp);
        check_one(be, softmax_run, &t, softmax_ref(&t), (size_t)t.y.n, TEST_TOL, what);
    }
}

/* Writes the ids (as floats, exact below 2^24) then conf. */
static int argmax_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const ch_in *t = vin;
    int64_t npix = (int64_t)t->B * t->H * t->W;
    sess x;
    ww_tensor tx, ids, conf;
    if (!sess_begin(&x, be) || !up(&x, &t->x, &tx) ||
        !up_u32(&x, t->ids, t->W, t->H, t->B, &ids) ||
        (t->with_conf && !up(&x, &t->conf, &conf)))
        return 0;
    if (!TEST_OK(be, ww_argmax_channels(x.s, &tx, &ids, t->with_conf ? &conf : NULL)))
        return 0;
    uint32_t *got = test_malloc((size_t)npix * sizeof *got);
    if (!test_run(be, x.s) || !get(&x, t->ids, got, what))
        return 0;
    for (int64_t i = 0; i < npix; i++)
        out[i] = (float)got[i];
    return !t->with_conf || get(&x, t->conf.d, out + npix, what);
}

static double *argmax_ref(const ch_in *t)
{
    int64_t npix = (int64_t)t->B * t->H * t->W;
    double *r = test_malloc((size_t)npix * 2 * sizeof *r);
    for (int b = 0; b < t->B; b++)
        for (int py = 0; py < t->H; py++)
            for (int px = 0; px < t->W; px++) {
                double m, s;
                int arg;
                ch_stats(t, b, py, px, &m, &arg, &s);
                int64_t i = ((int64_t)b * t->H + py) * t->W + px;
                r[i] = arg;
                r[npix + i] = 1.0 / s;
            }
    return r;
}

static void test_argmax_channels(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int B, C, H, W, conf, ties;
        float amp;
    } cs[] = {
        {2, 10, 5, 7, 1, 1, 0}, {1, 3, 4, 4, 0, 1, 0},  {1, 1, 3, 3, 1, 0, 1},
        {2, 21, 6, 9, 1, 0, 3}, {1, 150, 2, 3, 1, 0, 5}, {1, 33, 3, 5, 0, 1, 0},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 14000 + (uint64_t)i);
        ch_in t;
        memset(&t, 0, sizeof t);
        t.B = cs[i].B, t.C = cs[i].C, t.H = cs[i].H, t.W = cs[i].W, t.with_conf = cs[i].conf;
        t.x = hv_rand(&r, -cs[i].amp, cs[i].amp, t.W, t.H, t.C, t.B);
        if (cs[i].ties) /* values 0, 1, 2 only: most pixels have several channels at the max */
            for (int64_t k = 0; k < t.x.n; k++)
                t.x.d[k] = (float)test_rng_below(&r, 3);
        int64_t npix = (int64_t)t.B * t.H * t.W;
        t.ids = u32_sentinel(npix);
        t.conf = hv_out(t.W, t.H, t.B, 1);
        char what[128];
        snprintf(what, sizeof what, "argmax_channels B=%d C=%d H=%d W=%d%s%s", t.B, t.C, t.H,
                 t.W, t.with_conf ? " conf" : "", cs[i].ties ? " ties" : "");
        seg segs[2] = {{"ids", (size_t)npix, 0.0, 0.0},
                       {"conf", (size_t)npix, TEST_TOL, TEST_TOL}};
        check_case(be, argmax_run, &t, argmax_ref(&t), segs, t.with_conf ? 2 : 1, what);
    }
}

/* ---- preprocess ------------------------------------------------------------------------------------ */

typedef struct pp_in {
    ww_image_layout lay;
    unsigned char *src;
    int64_t nsrc;
    int out_w, out_h; /* the resampled size */
    int Wp, Hp;
    const float *mean, *std; /* NULL: ImageNet */
    hv y;
} pp_in;

static int pp_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const pp_in *p = vin;
    sess x;
    ww_tensor y;
    if (!sess_begin(&x, be) || !up(&x, &p->y, &y))
        return 0;
    test_tensor *src = sess_tensor(&x, p->src, WW_U8, p->nsrc);
    if (!src || !TEST_OK(be, ww_preprocess(x.s, &src->t, &p->lay, p->out_w, p->out_h, p->mean,
                                           p->std, &y)))
        return 0;
    return test_run(be, x.s) && get(&x, p->y.d, out, what);
}

static int fmt_bpp(ww_pixel_format f)
{
    return f == WW_FMT_RGB || f == WW_FMT_BGR ? 3 : f == WW_FMT_NV12 || f == WW_FMT_I420 ? 1 : 4;
}

static int is_yuv(ww_pixel_format f)
{
    return f == WW_FMT_NV12 || f == WW_FMT_I420;
}

static double clamp255(double v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* The 8-bit RGB of pixel (px, py); YUV as BT.601 limited range with chroma taken from the
 * (px/2, py/2) sample. */
static void pp_pixel(const pp_in *p, int px, int py, double rgb[3])
{
    const ww_image_layout *l = &p->lay;
    const unsigned char *s = p->src;
    ww_pixel_format f = l->format;
    if (!is_yuv(f)) {
        const unsigned char *q = s + l->offset[0] + (size_t)py * l->stride[0] + (size_t)px * fmt_bpp(f);
        int bgr = f == WW_FMT_BGRA || f == WW_FMT_BGRX || f == WW_FMT_BGR;
        rgb[0] = q[bgr ? 2 : 0];
        rgb[1] = q[1];
        rgb[2] = q[bgr ? 0 : 2];
        return;
    }
    double Y = s[l->offset[0] + (size_t)py * l->stride[0] + px], U, V;
    if (f == WW_FMT_NV12) {
        const unsigned char *uv = s + l->offset[1] + (size_t)(py / 2) * l->stride[1] + (px / 2) * 2;
        U = uv[0];
        V = uv[1];
    } else {
        U = s[l->offset[1] + (size_t)(py / 2) * l->stride[1] + px / 2];
        V = s[l->offset[2] + (size_t)(py / 2) * l->stride[2] + px / 2];
    }
    double c = 255.0 / 219.0 * (Y - 16), u = U - 128, v = V - 128;
    rgb[0] = clamp255(c + 1.596027 * v);
    rgb[1] = clamp255(c - 0.391762 * u - 0.812968 * v);
    rgb[2] = clamp255(c + 2.017232 * u);
}

/* Source coordinate of output index o along an axis of n pixels resampled to out: half-pixel
 * centres, the scale n / out rounded to float as ww.h says, clamped to the image. */
static double pp_source_coord(int o, int n, int out)
{
    double sc = (float)((double)n / out), v = (o + 0.5) * sc - 0.5;
    return v < 0 ? 0 : v > n - 1 ? n - 1 : v;
}

/* The RGB (0..255) of output pixel (px, py): the source pixel at the same size, else the
 * textbook bilinear weights (1 - f) and f over the four neighbours. */
static void pp_sample(const pp_in *p, int px, int py, double rgb[3])
{
    int W = p->lay.width, H = p->lay.height;
    if (p->out_w == W && p->out_h == H) {
        pp_pixel(p, px, py, rgb);
        return;
    }
    double sx = pp_source_coord(px, W, p->out_w), sy = pp_source_coord(py, H, p->out_h);
    int x0 = (int)floor(sx), y0 = (int)floor(sy);
    int x1 = x0 + 1 < W ? x0 + 1 : x0, y1 = y0 + 1 < H ? y0 + 1 : y0;
    double fx = sx - x0, fy = sy - y0, c00[3], c01[3], c10[3], c11[3];
    pp_pixel(p, x0, y0, c00);
    pp_pixel(p, x1, y0, c01);
    pp_pixel(p, x0, y1, c10);
    pp_pixel(p, x1, y1, c11);
    for (int c = 0; c < 3; c++)
        rgb[c] = (1 - fy) * ((1 - fx) * c00[c] + fx * c01[c]) +
                 fy * ((1 - fx) * c10[c] + fx * c11[c]);
}

/* Expected y from rgb_of(p, px, py, rgb) inside out_w x out_h, 0 in the padding. */
static double *pp_expect(const pp_in *p, void (*rgb_of)(const pp_in *, int, int, double[3]))
{
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
    static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    const float *mean = p->mean ? p->mean : imagenet_mean, *std = p->std ? p->std : imagenet_std;
    double *r = test_malloc((size_t)p->y.n * sizeof *r);
    for (int py = 0; py < p->Hp; py++)
        for (int px = 0; px < p->Wp; px++) {
            double rgb[3] = {0, 0, 0};
            int inside = px < p->out_w && py < p->out_h;
            if (inside)
                rgb_of(p, px, py, rgb);
            for (int c = 0; c < 3; c++)
                r[((size_t)c * p->Hp + py) * p->Wp + px] =
                    inside ? (rgb[c] / 255.0 - mean[c]) / std[c] : 0.0;
        }
    return r;
}

/* Plane offsets and strides with gaps: odd byte offsets and row padding. */
static int64_t pp_padded_layout(ww_pixel_format f, int w, int h, ww_image_layout *l)
{
    memset(l, 0, sizeof *l);
    l->format = f;
    l->width = w;
    l->height = h;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    l->offset[0] = 5;
    l->stride[0] = (size_t)w * fmt_bpp(f) + 7;
    size_t end = l->offset[0] + l->stride[0] * h;
    if (f == WW_FMT_NV12) {
        l->offset[1] = end + 11;
        l->stride[1] = 2 * (size_t)cw + 5;
        end = l->offset[1] + l->stride[1] * ch;
    } else if (f == WW_FMT_I420) {
        l->offset[1] = end + 11;
        l->stride[1] = (size_t)cw + 3;
        l->offset[2] = l->offset[1] + l->stride[1] * ch + 6;
        l->stride[2] = (size_t)cw + 9;
        end = l->offset[2] + l->stride[2] * ch;
    }
    return (int64_t)end + 13;
}

/* Random bytes everywhere (padding and alpha must be ignored); YUV samples are then drawn from a
 * range whose every combination maps inside [0, 255] RGB, so that the result does not depend on
 * whether the implementation clamps. */
static void pp_fill(test_rng *r, pp_in *p)
{
    for (int64_t i = 0; i < p->nsrc; i++)
        p->src[i] = (unsigned char)test_rng_u32(r);
    const ww_image_layout *l = &p->lay;
    if (!is_yuv(l->format))
        return;
    int cw = (l->width + 1) / 2, ch = (l->height + 1) / 2;
    for (int y = 0; y < l->height; y++)
        for (int x = 0; x < l->width; x++)
            p->src[l->offset[0] + (size_t)y * l->stride[0] + x] =
                (unsigned char)(56 + test_rng_below(r, 135));
    for (int plane = 1; plane <= (l->format == WW_FMT_NV12 ? 1 : 2); plane++)
        for (int y = 0; y < ch; y++)
            for (int x = 0; x < (l->format == WW_FMT_NV12 ? 2 * cw : cw); x++)
                p->src[l->offset[plane] + (size_t)y * l->stride[plane] + x] =
                    (unsigned char)(108 + test_rng_below(r, 41));
}

/* p's layout for a w x h image of format f, packed or with gaps (pp_padded_layout), its source
 * bytes allocated; 0 after recording a failure. */
static int pp_layout(pp_in *p, ww_pixel_format f, int w, int h, int padded)
{
    if (padded)
        p->nsrc = pp_padded_layout(f, w, h, &p->lay);
    else
        p->nsrc = (int64_t)ww_image_layout_packed(f, w, h, &p->lay);
    if (!TEST_CHECK(p->nsrc > 0, "ww_image_layout_packed(%s, %d, %d) returned 0",
                    ww_pixel_format_name(f), w, h))
        return 0;
    p->src = test_malloc((size_t)p->nsrc);
    return 1;
}

static void test_preprocess(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const float mean[3] = {0.5f, 0.25f, 0.125f}, std[3] = {0.5f, 1.0f, 2.0f};
    /* at the source size (no resampling), then down, up, one axis only, 2x down, and a 2x3
     * image blown up */
    static const struct {
        int w, h, ow, oh, Wp, Hp, padded, custom;
    } ls[] = {
        {37, 21, 37, 21, 48, 32, 0, 0}, {37, 21, 37, 21, 48, 32, 1, 1},
        {32, 16, 32, 16, 32, 16, 0, 0}, {37, 21, 20, 13, 32, 16, 0, 0},
        {37, 21, 61, 45, 64, 48, 1, 0}, {37, 21, 37, 30, 48, 32, 0, 1},
        {64, 48, 32, 24, 32, 32, 1, 0}, {2, 3, 9, 7, 16, 8, 0, 0},
    };
    for (int f = 0; f < WW_FMT_COUNT; f++) {
        for (int li = 0; li < (int)(sizeof ls / sizeof ls[0]); li++) {
            test_rng r;
            test_rng_seed(&r, 15000 + (uint64_t)(f * 10 + li));
            pp_in p;
            memset(&p, 0, sizeof p);
            p.out_w = ls[li].ow;
            p.out_h = ls[li].oh;
            p.Wp = ls[li].Wp;
            p.Hp = ls[li].Hp;
            if (!pp_layout(&p, (ww_pixel_format)f, ls[li].w, ls[li].h, ls[li].padded))
                continue;
            pp_fill(&r, &p);
            if (ls[li].custom) {
                p.mean = mean;
                p.std = std;
            }
            p.y = hv_out(p.Wp, p.Hp, 3, 1);
            char what[200];
            snprintf(what, sizeof what,
                     "preprocess %s %dx%d -> %dx%d in %dx%d, %s layout, %s mean/std",
                     ww_pixel_format_name((ww_pixel_format)f), ls[li].w, ls[li].h, p.out_w,
                     p.out_h, p.Wp, p.Hp, ls[li].padded ? "padded" : "packed",
                     ls[li].custom ? "custom" : "ImageNet");
            /* YUV coefficients and rounding differ slightly between correct implementations */
            seg s = {"y", (size_t)p.y.n, is_yuv((ww_pixel_format)f) ? 1e-2 : TEST_TOL,
                     is_yuv((ww_pixel_format)f) ? 1e-4 : TEST_TOL};
            check_case(be, pp_run, &p, pp_expect(&p, pp_sample), &s, 1, what);
        }
    }
}

/* Known results of the resampling, from the image's construction rather than from a bilinear
 * loop: R = 5 x + 10 and G = 3 y + 20 (B = 77) resample to 5 sx + 10 and 3 sy + 20 at the
 * (clamped) source coordinates; a constant image stays constant; 2x2 blocks of one colour
 * shrunk by 2 give the blocks' colours. */
static void pp_ramp_rgb(const pp_in *p, int px, int py, double rgb[3])
{
    double sx = (px + 0.5) * p->lay.width / p->out_w - 0.5;
    double sy = (py + 0.5) * p->lay.height / p->out_h - 0.5;
    sx = sx < 0 ? 0 : sx > p->lay.width - 1 ? p->lay.width - 1 : sx;
    sy = sy < 0 ? 0 : sy > p->lay.height - 1 ? p->lay.height - 1 : sy;
    rgb[0] = 5 * sx + 10;
    rgb[1] = 3 * sy + 20;
    rgb[2] = 77;
}

static void pp_constant_rgb(const pp_in *p, int px, int py, double rgb[3])
{
    (void)px, (void)py;
    pp_pixel(p, 0, 0, rgb);
}

/* Output (px, py) of a 2x shrink reads the block at source (2 px, 2 py). */
static void pp_block_rgb(const pp_in *p, int px, int py, double rgb[3])
{
    pp_pixel(p, 2 * px, 2 * py, rgb);
}

static void test_preprocess_resampling(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int ow, oh, Wp, Hp;
    } ramp[] = {{25, 11, 32, 16}, {97, 61, 112, 64}, {40, 7, 48, 16}};
    for (int i = 0; i < (int)(sizeof ramp / sizeof ramp[0]); i++) {
        pp_in p;
        memset(&p, 0, sizeof p);
        if (!pp_layout(&p, WW_FMT_RGB, 40, 30, 1))
            return;
        for (int y = 0; y < 30; y++)
            for (int x = 0; x < 40; x++) {
                unsigned char *q = p.src + p.lay.offset[0] + (size_t)y * p.lay.stride[0] + 3 * x;
                q[0] = (unsigned char)(5 * x + 10);
                q[1] = (unsigned char)(3 * y + 20);
                q[2] = 77;
            }
        p.out_w = ramp[i].ow, p.out_h = ramp[i].oh, p.Wp = ramp[i].Wp, p.Hp = ramp[i].Hp;
        p.y = hv_out(p.Wp, p.Hp, 3, 1);
        char what[128];
        snprintf(what, sizeof what, "preprocess RGB ramps 40x30 -> %dx%d", p.out_w, p.out_h);
        check_one(be, pp_run, &p, pp_expect(&p, pp_ramp_rgb), (size_t)p.y.n, TEST_TOL, what);
    }

    for (int f = 0; f < WW_FMT_COUNT; f++) {
        /* RGB (200, 100, 50), or YUV (120, 110, 150): RGB ~(156, 110, 85), no clamping */
        pp_in p;
        memset(&p, 0, sizeof p);
        ww_pixel_format pf = (ww_pixel_format)f;
        if (!pp_layout(&p, pf, 37, 21, 1))
            return;
        const ww_image_layout *l = &p.lay;
        for (int y = 0; y < 21; y++)
            for (int x = 0; x < 37; x++) {
                if (is_yuv(pf)) {
                    p.src[l->offset[0] + (size_t)y * l->stride[0] + x] = 120;
                    size_t c = (size_t)(y / 2) * l->stride[1];
                    if (pf == WW_FMT_NV12) {
                        p.src[l->offset[1] + c + (x / 2) * 2] = 110;
                        p.src[l->offset[1] + c + (x / 2) * 2 + 1] = 150;
                    } else {
                        p.src[l->offset[1] + c + x / 2] = 110;
                        p.src[l->offset[2] + (size_t)(y / 2) * l->stride[2] + x / 2] = 150;
                    }
                    continue;
                }
                unsigned char *q =
                    p.src + l->offset[0] + (size_t)y * l->stride[0] + (size_t)x * fmt_bpp(pf);
                int bgr = pf == WW_FMT_BGRA || pf == WW_FMT_BGRX || pf == WW_FMT_BGR;
                q[bgr ? 2 : 0] = 200;
                q[1] = 100;
                q[bgr ? 0 : 2] = 50;
            }
        for (int k = 0; k < 2; k++) {
            p.out_w = k ? 61 : 20, p.out_h = k ? 45 : 13, p.Wp = k ? 64 : 32, p.Hp = k ? 48 : 16;
            p.y = hv_out(p.Wp, p.Hp, 3, 1);
            double *want = pp_expect(&p, pp_constant_rgb);
            char what[128];
            snprintf(what, sizeof what, "preprocess constant %s 37x21 -> %dx%d",
                     ww_pixel_format_name(pf), p.out_w, p.out_h);
            seg s = {"y", (size_t)p.y.n, is_yuv(pf) ? 1e-2 : TEST_TOL, TEST_TOL};
            check_case(be, pp_run, &p, want, &s, 1, what);
        }
    }

    static const ww_pixel_format block_formats[] = {WW_FMT_RGBA, WW_FMT_BGR, WW_FMT_I420};
    for (int i = 0; i < 3; i++) {
        ww_pixel_format pf = block_formats[i];
        test_rng r;
        test_rng_seed(&r, 15500 + (uint64_t)i);
        pp_in p;
        memset(&p, 0, sizeof p);
        if (!pp_layout(&p, pf, 38, 22, i == 1))
            return;
        pp_fill(&r, &p);
        const ww_image_layout *l = &p.lay;
        /* copy each block's top-left sample over the block (I420's chroma already is one per
         * block) */
        for (int y = 0; y < 22; y++)
            for (int x = 0; x < 38; x++) {
                int bpp = fmt_bpp(pf);
                size_t row = l->offset[0] + (size_t)y * l->stride[0];
                size_t block = l->offset[0] + (size_t)(y & ~1) * l->stride[0];
                memmove(p.src + row + (size_t)x * bpp, p.src + block + (size_t)(x & ~1) * bpp,
                        (size_t)bpp);
            }
        p.out_w = 19, p.out_h = 11, p.Wp = 32, p.Hp = 16;
        p.y = hv_out(p.Wp, p.Hp, 3, 1);
        char what[128];
        snprintf(what, sizeof what, "preprocess %s 2x2 blocks 38x22 -> 19x11",
                 ww_pixel_format_name(pf));
        seg s = {"y", (size_t)p.y.n, is_yuv(pf) ? 1e-2 : TEST_TOL, TEST_TOL};
        check_case(be, pp_run, &p, pp_expect(&p, pp_block_rgb), &s, 1, what);
    }
}

/* Argument checks: the output size against y, the layout against the source. */
static void test_preprocess_errors(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return;
    ww_image_layout l, nv12;
    int64_t nsrc = (int64_t)ww_image_layout_packed(WW_FMT_RGBA, 8, 6, &l), ny[4] = {8, 8, 3, 1};
    ww_image_layout_packed(WW_FMT_NV12, 8, 6, &nv12); /* 72 bytes: fits in the same source */
    ww_tensor src, y;
    if (!TEST_OK(be, ww_arena_alloc(a, WW_U8, 1, &nsrc, &src)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 4, ny, &y)))
        return;
    const ww_status bad = WW_ERR_INVALID;
    TEST_STATUS(be, ww_preprocess(s, &src, &l, 0, 6, NULL, NULL, &y), bad);
    TEST_STATUS(be, ww_preprocess(s, &src, &l, 8, 0, NULL, NULL, &y), bad);
    TEST_STATUS(be, ww_preprocess(s, &src, &l, -8, 6, NULL, NULL, &y), bad);
    TEST_STATUS(be, ww_preprocess(s, &src, &l, 9, 6, NULL, NULL, &y), bad); /* wider than y */
    TEST_CHECK(test_contains(ww_backend_error(be), "preprocess") &&
                   test_contains(ww_backend_error(be), "Wp >= 9"),
               "out wider than y: message \"%s\"", ww_backend_error(be));
    TEST_STATUS(be, ww_preprocess(s, &src, &l, 8, 9, NULL, NULL, &y), bad); /* taller than y */
    ww_image_layout narrow = l, chroma = nv12, past = l;
    narrow.stride[0] = 31; /* < 8 RGBA pixels */
    TEST_STATUS(be, ww_preprocess(s, &src, &narrow, 8, 6, NULL, NULL, &y), bad);
    chroma.stride[1] = 7; /* < 4 UV pairs */
    TEST_STATUS(be, ww_preprocess(s, &src, &chroma, 8, 6, NULL, NULL, &y), bad);
    TEST_CHECK(test_contains(ww_backend_error(be), "plane 1"), "short chroma stride: message "
               "\"%s\"", ww_backend_error(be));
    past.offset[0] = 1; /* one byte past the source */
    TEST_STATUS(be, ww_preprocess(s, &src, &past, 8, 6, NULL, NULL, &y), bad);
    TEST_CHECK(test_contains(ww_backend_error(be), "reaches byte 193"),
               "layout past the source: message \"%s\"", ww_backend_error(be));
    TEST_CHECK(ww_seq_length(s) == 0, "failed preprocess calls appended %d ops", ww_seq_length(s));
    /* the largest output y holds, up- and downscaling, and the NV12 layout are fine */
    TEST_OK(be, ww_preprocess(s, &src, &l, 8, 8, NULL, NULL, &y));
    TEST_OK(be, ww_preprocess(s, &src, &l, 3, 2, NULL, NULL, &y));
    TEST_OK(be, ww_preprocess(s, &src, &nv12, 8, 6, NULL, NULL, &y));
    TEST_CHECK(ww_seq_length(s) == 3, "%d ops appended, want 3", ww_seq_length(s));
}

/* Backend-free: ww_image_layout_packed and ww_pixel_format_name. */
static void test_image_layout(const char *arg)
{
    (void)arg;
    enum { W = 37, H = 21, CW = 19, CH = 11 };
    for (int f = 0; f < WW_FMT_COUNT; f++) {
        ww_pixel_format pf = (ww_pixel_format)f;
        const char *name = ww_pixel_format_name(pf);
        TEST_CHECK(name && *name, "ww_pixel_format_name(%d) is empty", f);
        for (int g = 0; g < f && name; g++) {
            const char *other = ww_pixel_format_name((ww_pixel_format)g);
            TEST_CHECK(!other || strcmp(name, other) != 0, "formats %d and %d share the name %s",
                       g, f, name);
        }
        ww_image_layout l;
        memset(&l, 0, sizeof l);
        size_t size = ww_image_layout_packed(pf, W, H, &l);
        size_t want = is_yuv(pf) ? (size_t)W * H + 2 * (size_t)CW * CH : (size_t)W * H * fmt_bpp(pf);
        TEST_CHECK(size == want, "%s: packed size %zu, want %zu", name, size, want);
        TEST_CHECK(l.format == pf && l.width == W && l.height == H,
                   "%s: layout says format %d %dx%d", name, (int)l.format, l.width, l.height);
        TEST_CHECK(l.offset[0] == 0 && l.stride[0] == (size_t)W * fmt_bpp(pf),
                   "%s: plane 0 at %zu stride %zu", name, l.offset[0], l.stride[0]);
        if (pf == WW_FMT_NV12)
            TEST_CHECK(l.offset[1] == (size_t)W * H && l.stride[1] == 2 * CW,
                       "NV12: UV plane at %zu stride %zu", l.offset[1], l.stride[1]);
        if (pf == WW_FMT_I420)
            TEST_CHECK(l.offset[1] == (size_t)W * H && l.stride[1] == CW &&
                           l.offset[2] == (size_t)W * H + (size_t)CW * CH && l.stride[2] == CW,
                       "I420: U at %zu stride %zu, V at %zu stride %zu", l.offset[1], l.stride[1],
                       l.offset[2], l.stride[2]);
    }
    ww_image_layout l;
    TEST_CHECK(ww_image_layout_packed(WW_FMT_COUNT, W, H, &l) == 0, "bad format gives a size");
    TEST_CHECK(ww_image_layout_packed(WW_FMT_RGBA, 0, H, &l) == 0, "width 0 gives a size");
    TEST_CHECK(ww_image_layout_packed(WW_FMT_I420, W, -1, &l) == 0, "height -1 gives a size");
}

/* ---- gather_rows and scatter_rows ----------------------------------------------------------------- */

typedef struct rows_in {
    int scatter, B, N, D, n, Bi;
    uint32_t *idx; /* [Bi, n], distinct within a batch */
    hv x, y;
} rows_in;

static int rows_run(ww_backend *be, const void *vin, float *out, const char *what)
{
    const rows_in *t = vin;
    sess x;
    ww_tensor tx, idx, ty;
    if (!sess_begin(&x, be) || !up(&x, &t->x, &tx) || !up_u32(&x, t->idx, t->n, t->Bi, 1, &idx) ||
        !up(&x, &t->y, &ty))
        return 0;
    ww_status st = t->scatter ? ww_scatter_rows(x.s, &tx, &idx, &ty)
                              : ww_gather_rows(x.s, &tx, &idx, &ty);
    if (!TEST_OK(be, st))
        return 0;
    return test_run(be, x.s) && get(&x, t->y.d, out, what);
}

static double *rows_ref(const rows_in *t)
{
    double *r = ref_init(&t->y);
    for (int b = 0; b < t->B; b++)
        for (int i = 0; i < t->n; i++) {
            uint32_t row = t->idx[(size_t)(t->Bi == 1 ? 0 : b) * t->n + i];
            for (int d = 0; d < t->D; d++) {
                if (t->scatter)
                    r[hv_idx(&t->y, d, row, b, 0)] = hv_at(&t->x, d, i, b, 0);
                else
                    r[hv_idx(&t->y, d, i, b, 0)] = hv_at(&t->x, d, row, b, 0);
            }
        }
    return r;
}

static void rows_test(const char *dev, int scatter)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const int cs[][5] = {{2, 37, 19, 11, 2}, {2, 37, 19, 11, 1}, {1, 5, 1, 5, 1},
                                {2, 130, 64, 1, 2}, {1, 64, 768, 17, 1}}; /* B, N, D, n, Bi */
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 16000 + (uint64_t)(scatter * 100 + i));
        rows_in t;
        t.scatter = scatter;
        t.B = cs[i][0], t.N = cs[i][1], t.D = cs[i][2], t.n = cs[i][3], t.Bi = cs[i][4];
        /* the first n of a random permutation of the rows, per index batch */
        t.idx = test_malloc((size_t)t.Bi * t.n * sizeof *t.idx);
        uint32_t *perm = test_malloc((size_t)t.N * sizeof *perm);
        for (int b = 0; b < t.Bi; b++) {
            for (int k = 0; k < t.N; k++)
                perm[k] = (uint32_t)k;
            for (int k = t.N - 1; k > 0; k--) {
                uint32_t j = test_rng_below(&r, (uint32_t)k + 1), tmp = perm[k];
                perm[k] = perm[j];
                perm[j] = tmp;
            }
            memcpy(t.idx + (size_t)b * t.n, perm, (size_t)t.n * sizeof *perm);
        }
        if (scatter) {
            t.x = hv_rand(&r, -1, 1, t.D, t.n, t.B, 1);
            t.y = hv_rand(&r, -1, 1, t.D, t.N, t.B, 1); /* rows not in idx must survive */
        } else {
            t.x = hv_rand(&r, -1, 1, t.D, t.N, t.B, 1);
            t.y = hv_out(t.D, t.n, t.B, 1);
        }
        char what[128];
        snprintf(what, sizeof what, "%s B=%d N=%d D=%d n=%d idx batch=%d",
                 scatter ? "scatter_rows" : "gather_rows", t.B, t.N, t.D, t.n, t.Bi);
        check_one(be, rows_run, &t, rows_ref(&t), (size_t)t.y.n, 0.0, what);
    }
}

static void test_gather_rows(const char *dev)
{
    rows_test(dev, 0);
}

static void test_scatter_rows(const char *dev)
{
    rows_test(dev, 1);
}

/* ---- probe_fma ------------------------------------------------------------------------------------- */

/* The probe's values are not specified; they must be finite and every element written. */
static void test_probe_fma(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const int cs[][2] = {{1000, 16}, {3, 1}, {4099, 100}}; /* n, iters */
    for (int i = 0; i < 3; i++) {
        sess x;
        hv y = hv_out(cs[i][0], 1, 1, 1);
        ww_tensor ty;
        char what[64];
        snprintf(what, sizeof what, "probe_fma n=%d iters=%d", cs[i][0], cs[i][1]);
        if (!sess_begin(&x, be) || !up(&x, &y, &ty) ||
            !TEST_OK(be, ww_probe_fma(x.s, &ty, cs[i][1])))
            continue;
        float *got = test_malloc((size_t)y.n * sizeof *got);
        if (!test_run(be, x.s) || !get(&x, y.d, got, what))
            continue;
        int64_t bad = 0, first = -1;
        for (int64_t k = 0; k < y.n; k++)
            if (!isfinite(got[k]) && !bad++)
                first = k;
        TEST_CHECK(!bad, "%s: %lld values not finite, first at [%lld]", what, (long long)bad,
                   (long long)first);
    }
}

/* ---- colorize_flow, colorize_scalar, colorize_labels ------------------------------------------- */

/* A case of one colorize op. The input is a view of x (words: floats as bits, or ids) starting at
 * element xoff, row stride xrs, plane stride xps (flow: u then v); rgba is a view of y (filled
 * with the sentinel) at yoff with row stride yrs, so that row padding must survive. */
typedef struct cz_in {
    int mode; /* 0 flow, 1 scalar, 2 labels */
    ww_flow_colors colors; /* flow */
    int W, H;
    int64_t xoff, xrs, xps, nx;
    int64_t yoff, yrs, ny;
    uint32_t *x, *y;
    float max_flow, lo, hi;
    int cmap;          /* scalar: a ww_colormap, or -1 for table */
    int palette_cs;    /* labels: ww_palette_table(cityscapes) instead of table */
    uint32_t *table;   /* custom lut / palette words */
    int ntable;
} cz_in;

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t rgba_word(int r, int g, int b, int a)
{
    return (uint32_t)r | (uint32_t)g << 8 | (uint32_t)b << 16 | (uint32_t)a << 24;
}

#define CZ_BLACK 0xff000000u

/* A case with padded views: `pad` unused words before each view and after each row / plane. */
static void cz_make(cz_in *t, int mode, int W, int H, int pad)
{
    t->mode = mode;
    t->W = W;
    t->H = H;
    int planes = mode == 0 ? 2 : 1;
    t->xoff = pad;
    t->xrs = W + pad;
    t->xps = t->xrs * H + pad;
    t->nx = t->xoff + t->xps * planes + pad;
    t->x = test_malloc((size_t)t->nx * sizeof *t->x);
    for (int64_t i = 0; i < t->nx; i++)
        t->x[i] = f2u(1e30f); /* padding: finite, far out of range; must not be read */
    t->yoff = pad;
    t->yrs = W + pad;
    t->ny = t->yoff + t->yrs * H + pad;
    t->y = u32_sentinel(t->ny);
}

static uint32_t *cz_xat(const cz_in *t, int plane, int px, int py)
{
    return &t->x[t->xoff + plane * t->xps + py * t->xrs + px];
}

static int cz_run(ww_backend *be, const cz_in *t, uint32_t *out, const char *what)
{
    sess x;
    if (!sess_begin(&x, be))
        return 0;
    test_tensor *tx = sess_tensor(&x, t->x, t->mode == 2 ? WW_U32 : WW_F32, t->nx);
    test_tensor *ty = tx ? sess_tensor(&x, t->y, WW_U32, t->ny) : NULL;
    if (!ty)
        return 0;
    int planes = t->mode == 0 ? 2 : 1;
    int64_t xne[4] = {t->W, t->H, planes, 1}, xnb[4] = {1, t->xrs, t->xps, t->xps * planes};
    int64_t yne[4] = {t->W, t->H, 1, 1}, ynb[4] = {1, t->yrs, t->yrs * t->H, t->yrs * t->H};
    ww_tensor vx = ww_tensor_view(&tx->t, t->xoff, xne, xnb);
    ww_tensor vy = ww_tensor_view(&ty->t, t->yoff, yne, ynb);
    ww_tensor table = {0};
    if (t->mode == 1 && t->cmap >= 0) {
        if (!TEST_OK(be, ww_colormap_table(x.a, (ww_colormap)t->cmap, &table)))
            return 0;
    } else if (t->mode == 2 && t->palette_cs) {
        int n = 0;
        const uint8_t *rgb = ww_palette_cityscapes(&n);
        if (!TEST_OK(be, ww_palette_table(x.a, rgb, n, &table)))
            return 0;
    } else if (t->mode != 0) {
        test_tensor *tt = sess_tensor(&x, t->table, WW_U32, t->ntable);
        if (!tt)
            return 0;
        table = tt->t;
    }
    ww_status st = t->mode == 0   ? ww_colorize_flow(x.s, &vx, t->max_flow, t->colors, &vy)
                   : t->mode == 1 ? ww_colorize_scalar(x.s, &vx, t->lo, t->hi, &table, &vy)
                                  : ww_colorize_labels(x.s, &vx, &table, &vy);
    if (!TEST_OK(be, st))
        return 0;
    return test_run(be, x.s) && get(&x, t->y, out, what);
}

/* The Middlebury wheel as its reference code builds it (make_colorwheel), 0..255 per channel. */
static void cz_wheel(int w[55][3])
{
    static const int seg[6] = {15, 6, 4, 11, 13, 6}; /* RY, YG, GC, CB, BM, MR */
    int col = 0;
    for (int s = 0; s < 6; s++) {
        for (int i = 0; i < seg[s]; i++, col++) {
            int up = (int)floor(255.0 * i / seg[s]), down = 255 - up;
            int rgb[6][3] = {{255, up, 0}, {down, 255, 0}, {0, 255, up},
                             {0, down, 255}, {up, 0, 255}, {255, 0, down}};
            memcpy(w[col], rgb[s], sizeof w[col]);
        }
    }
}

static uint32_t cz_flow_ref(double u, double v, double max_flow)
{
    if (!isfinite(u) || !isfinite(v))
        return CZ_BLACK;
    int w[55][3];
    cz_wheel(w);
    double rad = sqrt(u * u + v * v) / max_flow;
    double a = v == 0 && u >= 0 ? -1.0 : atan2(-v, -u) / 3.14159265358979323846;
    double fk = (a + 1) / 2 * 54;
    int k0 = (int)floor(fk), k1 = (k0 + 1) % 55;
    double f = fk - k0;
    int out[3];
    for (int c = 0; c < 3; c++) {
        double col = ((1 - f) * w[k0][c] + f * w[k1][c]) / 255.0;
        col = rad <= 1 ? 1 - rad * (1 - col) : col * 0.75;
        out[c] = (int)floor(255 * col + 0.5);
    }
    return rgba_word(out[0], out[1], out[2], 255);
}

/* HSV with saturation 1 by the alternative textbook form: channel n (R 5, G 3, B 1) is
 * V - V max(0, min(k, 4 - k, 1)) with k = (n + 6 h) mod 6, h the direction as a turn in [0, 1). */
static uint32_t cz_flow_hsv_ref(double u, double v, double max_flow)
{
    if (!isfinite(u) || !isfinite(v))
        return CZ_BLACK;
    double val = fmin(1.0, sqrt(u * u + v * v) / max_flow);
    double h = atan2(v, u) / (2 * 3.14159265358979323846);
    h = h < 0 ? h + 1 : h;
    static const int n[3] = {5, 3, 1};
    int out[3];
    for (int c = 0; c < 3; c++) {
        double k = fmod(n[c] + 6 * h, 6.0);
        out[c] = (int)floor(255 * (val - val * fmax(0.0, fmin(fmin(k, 4 - k), 1.0))) + 0.5);
    }
    return rgba_word(out[0], out[1], out[2], 255);
}

/* Expected word of every pixel of y's backing (the sentinel outside the view); alt holds a second
 * acceptable word where the scalar's t * n sits on a table-entry boundary. */
static void cz_ref(const cz_in *t, uint32_t *ref, uint32_t *alt)
{
    uint32_t *lut = NULL;
    int n = t->ntable;
    if (t->mode == 1 && t->cmap >= 0) {
        const uint8_t *rgb = ww_colormap_rgb((ww_colormap)t->cmap);
        n = 256;
        lut = test_malloc(256 * sizeof *lut);
        for (int i = 0; i < 256; i++)
            lut[i] = rgba_word(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], 255);
    } else if (t->mode == 2 && t->palette_cs) {
        const uint8_t *rgb = ww_palette_cityscapes(&n);
        lut = test_malloc((size_t)n * sizeof *lut);
        for (int i = 0; i < n; i++)
            lut[i] = rgba_word(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], 255);
    } else {
        lut = t->table;
    }
    for (int64_t i = 0; i < t->ny; i++)
        ref[i] = alt[i] = t->y[i];
    for (int py = 0; py < t->H; py++)
        for (int px = 0; px < t->W; px++) {
            int64_t o = t->yoff + py * t->yrs + px;
            uint32_t w = *cz_xat(t, 0, px, py);
            if (t->mode == 0) {
                double u = u2f(w), v = u2f(*cz_xat(t, 1, px, py));
                ref[o] = alt[o] = t->colors == WW_FLOW_HSV ? cz_flow_hsv_ref(u, v, t->max_flow)
                                                           : cz_flow_ref(u, v, t->max_flow);
            } else if (t->mode == 2) {
                ref[o] = alt[o] = w < (uint32_t)n ? lut[w] : CZ_BLACK;
            } else if (!isfinite(u2f(w))) {
                ref[o] = alt[o] = CZ_BLACK;
            } else {
                double tt = ((double)u2f(w) - t->lo) / ((double)t->hi - t->lo);
                tt = tt < 0 ? 0 : tt > 1 ? 1 : tt;
                double e = tt * n;
                int k = (int)floor(e), k2 = (int)floor(e + (e - floor(e) < 0.5 ? -1e-4 : 1e-4));
                k = k > n - 1 ? n - 1 : k;
                k2 = k2 < 0 ? 0 : k2 > n - 1 ? n - 1 : k2;
                ref[o] = lut[k];
                alt[o] = lut[k2];
            }
        }
}

/* Flow: every channel within `tol` of ref, alpha exact; others: ref or alt exactly. */
static int cz_compare(const char *what, const cz_in *t, const uint32_t *got, const uint32_t *ref,
                      const uint32_t *alt, int tol)
{
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < t->ny; i++) {
        int ok = got[i] == ref[i] || got[i] == alt[i];
        if (!ok && t->mode == 0 && (got[i] >> 24) == (ref[i] >> 24) && ref[i] != TEST_SENTINEL) {
            ok = 1;
            for (int c = 0; c < 3; c++) {
                int d = (int)(got[i] >> (8 * c) & 255) - (int)(ref[i] >> (8 * c) & 255);
                ok &= d <= tol && d >= -tol;
            }
        }
        if (!ok && !bad++)
            first = i;
    }
    if (!bad)
        return 1;
    int64_t r = first >= t->yoff ? (first - t->yoff) / t->yrs : -1;
    int64_t c = first >= t->yoff ? (first - t->yoff) % t->yrs : -1;
    return TEST_FAIL("%s: %lld of %lld words wrong, first at [%lld] (row %lld, col %lld): got "
                     "0x%08x, want 0x%08x",
                     what, (long long)bad, (long long)t->ny, (long long)first, (long long)r,
                     (long long)c, got[first], ref[first]);
}

static void cz_check(ww_backend *be, const cz_in *t, const char *what)
{
    uint32_t *got = test_malloc((size_t)t->ny * sizeof *got);
    uint32_t *ref = test_malloc((size_t)t->ny * sizeof *ref);
    uint32_t *alt = test_malloc((size_t)t->ny * sizeof *alt);
    if (!cz_run(be, t, got, what))
        return;
    cz_ref(t, ref, alt);
    cz_compare(what, t, got, ref, alt, 1);
    ww_backend *cpu = cpu_peer(be);
    if (!cpu)
        return;
    uint32_t *want = test_malloc((size_t)t->ny * sizeof *want);
    char label[256];
    snprintf(label, sizeof label, "%s (on the CPU backend)", what);
    if (!cz_run(cpu, t, want, label))
        return;
    /* the wheel's float steps may round a .5 either way; table picks agree exactly */
    snprintf(label, sizeof label, "%s, Vulkan vs CPU", what);
    cz_compare(label, t, got, want, want, 1);
}

/* Random flow in [-2, 2] * max_flow, away from the unit circle (|rad - 1| < 1e-3 is decided by
 * float rounding) and from the wheel's seam (u > 0, v ~ 0: entry 54 jumps to entry 0); then
 * known points in the first row. */
static void cz_flow_fill(test_rng *r, cz_in *t)
{
    float m = t->max_flow;
    for (int py = 0; py < t->H; py++)
        for (int px = 0; px < t->W; px++) {
            float u, v;
            double rad;
            do {
                u = test_rng_float(r, -2 * m, 2 * m);
                v = test_rng_float(r, -2 * m, 2 * m);
                rad = sqrt((double)u * u + (double)v * v) / m;
            } while (fabs(rad - 1) < 1e-3 || (u > 0 && fabsf(v) < 1e-3f * u));
            *cz_xat(t, 0, px, py) = f2u(u);
            *cz_xat(t, 1, px, py) = f2u(v);
        }
    static const float pts[][2] = {
        {0, 0}, {1, 0}, {2, 0}, {0, 1}, {-1, 0}, {0, -1}, {0.5f, 0}, {-0.0f, -0.0f}, {1, -0.0f},
    };
    float inf = INFINITY, nan = NAN;
    const float bad[][2] = {{nan, 0}, {0, nan}, {inf, 0}, {0, -inf}, {-inf, inf}};
    int k = 0;
    for (int i = 0; i < (int)(sizeof pts / sizeof pts[0]) && k < t->W; i++, k++) {
        *cz_xat(t, 0, k, 0) = f2u(pts[i][0] * m);
        *cz_xat(t, 1, k, 0) = f2u(pts[i][1] * m);
    }
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]) && k < t->W; i++, k++) {
        *cz_xat(t, 0, k, 0) = f2u(bad[i][0]);
        *cz_xat(t, 1, k, 0) = f2u(bad[i][1]);
    }
}

/* Known Middlebury colours of cz_flow_fill's first row, exactly: zero motion white (either
 * zero), pure right (u = +max) red = wheel entry 0 (whatever the sign of v's zero), twice as far
 * 0.75 * red, half as far half-way to white, non-finite black; down and left from the wheel. */
static void cz_known_middlebury(const char *what, const uint32_t *row, int W)
{
    static const struct {
        int col;
        uint32_t want;
        const char *name;
    } known[] = {
        {0, 0xffffffffu, "zero flow"},  {1, 0xff0000ffu, "u = +max"},
        {2, 0xff0000bfu, "u = +2 max"}, {6, 0xff8080ffu, "u = +max / 2"},
        {7, 0xffffffffu, "-0, -0"},     {8, 0xff0000ffu, "u = +max, v = -0"},
        {9, CZ_BLACK, "u = NaN"},       {10, CZ_BLACK, "v = NaN"},
        {11, CZ_BLACK, "u = inf"},      {12, CZ_BLACK, "v = -inf"},
        {13, CZ_BLACK, "u = -inf, v = inf"},
    };
    for (int k = 0; k < (int)(sizeof known / sizeof known[0]); k++)
        if (known[k].col < W)
            TEST_CHECK(row[known[k].col] == known[k].want, "%s: %s gives 0x%08x, want 0x%08x",
                       what, known[k].name, row[known[k].col], known[k].want);
    if (W < 5)
        return;
    /* down (v = +max): a = -1/2, fk = 13.5: half-way between wheel entries 13 and 14 */
    int w[55][3];
    cz_wheel(w);
    uint32_t down = row[3];
    TEST_CHECK((down & 0xff) == 255 && (down >> 16 & 0xff) == 0 &&
                   abs((int)(down >> 8 & 0xff) - (w[13][1] + w[14][1] + 1) / 2) <= 1,
               "%s: v = +max gives 0x%08x, want G ~ %d", what, down,
               (w[13][1] + w[14][1] + 1) / 2);
    /* left (u = -max): a = 0, fk = 27: wheel entry 27 */
    TEST_CHECK(row[4] == rgba_word(w[27][0], w[27][1], w[27][2], 255),
               "%s: u = -max gives 0x%08x, want wheel[27] = (%d, %d, %d)", what, row[4],
               w[27][0], w[27][1], w[27][2]);
}

/* Known HSV colours of the same row: right red, down (hue 1/4) yellow-green, left cyan, up
 * (hue 3/4) violet, at full value; beyond max_flow still full value; half as far half value;
 * no motion and non-finite black. A half channel is 127.5: either rounding of the hue. */
static void cz_known_hsv(const char *what, const uint32_t *row, int W)
{
    static const struct {
        int col;
        int rgb[3]; /* -1: 127 or 128 */
        const char *name;
    } known[] = {
        {0, {0, 0, 0}, "zero flow"},          {1, {255, 0, 0}, "u = +max"},
        {2, {255, 0, 0}, "u = +2 max"},       {3, {-1, 255, 0}, "v = +max"},
        {4, {0, 255, 255}, "u = -max"},       {5, {-1, 0, 255}, "v = -max"},
        {6, {128, 0, 0}, "u = +max / 2"},     {7, {0, 0, 0}, "-0, -0"},
        {8, {255, 0, 0}, "u = +max, v = -0"}, {9, {0, 0, 0}, "u = NaN"},
        {10, {0, 0, 0}, "v = NaN"},           {11, {0, 0, 0}, "u = inf"},
        {12, {0, 0, 0}, "v = -inf"},          {13, {0, 0, 0}, "u = -inf, v = inf"},
    };
    for (int k = 0; k < (int)(sizeof known / sizeof known[0]); k++) {
        if (known[k].col >= W)
            continue;
        uint32_t got = row[known[k].col];
        int ok = got >> 24 == 255;
        for (int c = 0; c < 3; c++) {
            int b = (int)(got >> (8 * c) & 255), want = known[k].rgb[c];
            ok &= want < 0 ? b == 127 || b == 128 : b == want;
        }
        TEST_CHECK(ok, "%s: %s gives 0x%08x, want (%d, %d, %d) (-1: 127 or 128)", what,
                   known[k].name, got, known[k].rgb[0], known[k].rgb[1], known[k].rgb[2]);
    }
}

static void test_colorize_flow(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int W, H, pad;
        float max_flow;
    } cs[] = {{37, 13, 0, 4.0f}, {37, 13, 3, 10.0f}, {300, 70, 5, 3.0f}, {14, 1, 1, 0.125f}};
    for (int colors = WW_FLOW_MIDDLEBURY; colors <= WW_FLOW_HSV; colors++) {
        for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
            test_rng r;
            test_rng_seed(&r, 17000 + (uint64_t)i);
            cz_in t;
            memset(&t, 0, sizeof t);
            cz_make(&t, 0, cs[i].W, cs[i].H, cs[i].pad);
            t.colors = (ww_flow_colors)colors;
            t.max_flow = cs[i].max_flow;
            cz_flow_fill(&r, &t);
            char what[128];
            snprintf(what, sizeof what, "colorize_flow %s %dx%d pad %d max_flow %g",
                     colors == WW_FLOW_HSV ? "HSV" : "Middlebury", t.W, t.H, cs[i].pad,
                     (double)t.max_flow);
            cz_check(be, &t, what);
            uint32_t *got = test_malloc((size_t)t.ny * sizeof *got);
            if (!cz_run(be, &t, got, what))
                continue;
            if (colors == WW_FLOW_HSV)
                cz_known_hsv(what, got + t.yoff, t.W);
            else
                cz_known_middlebury(what, got + t.yoff, t.W);
        }
    }
}

static void cz_scalar_fill(test_rng *r, cz_in *t)
{
    float lo = t->lo, hi = t->hi, span = hi - lo;
    for (int py = 0; py < t->H; py++)
        for (int px = 0; px < t->W; px++)
            *cz_xat(t, 0, px, py) = f2u(test_rng_float(r, lo - 0.25f * span, hi + 0.25f * span));
    const float pts[] = {lo, hi, lo + 0.5f * span, lo - span, hi + span, NAN, INFINITY,
                         -INFINITY, 3e38f, -3e38f};
    for (int i = 0; i < (int)(sizeof pts / sizeof pts[0]) && i < t->W; i++)
        *cz_xat(t, 0, i, 0) = f2u(pts[i]);
}

static void test_colorize_scalar(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int W, H, pad, cmap;
        float lo, hi;
    } cs[] = {
        {37, 13, 0, WW_CMAP_TURBO, 0.0f, 1.0f},    {37, 13, 3, WW_CMAP_INFERNO, -3.0f, 5.0f},
        {37, 13, 2, WW_CMAP_MAGMA, 100.0f, 101.0f}, {300, 70, 5, WW_CMAP_VIRIDIS, -1e3f, 2e4f},
        {11, 4, 1, WW_CMAP_GRAY, 0.5f, 2.5f},      {23, 5, 2, -1, -1.0f, 1.0f},
    };
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 18000 + (uint64_t)i);
        cz_in t;
        memset(&t, 0, sizeof t);
        cz_make(&t, 1, cs[i].W, cs[i].H, cs[i].pad);
        t.lo = cs[i].lo;
        t.hi = cs[i].hi;
        t.cmap = cs[i].cmap;
        if (t.cmap < 0) { /* a 7-entry table of arbitrary words */
            t.ntable = 7;
            t.table = test_malloc(7 * sizeof *t.table);
            for (int k = 0; k < 7; k++)
                t.table[k] = test_rng_u32(&r);
        }
        cz_scalar_fill(&r, &t);
        char what[128];
        snprintf(what, sizeof what, "colorize_scalar %dx%d pad %d %s [%g, %g]", t.W, t.H,
                 cs[i].pad, t.cmap >= 0 ? ww_colormap_name((ww_colormap)t.cmap) : "7 entries",
                 (double)t.lo, (double)t.hi);
        cz_check(be, &t, what);
        /* lo gives entry 0, hi and above the last, below lo entry 0, non-finite black */
        uint32_t *got = test_malloc((size_t)t.ny * sizeof *got);
        uint32_t *ref = test_malloc((size_t)t.ny * sizeof *ref);
        uint32_t *alt = test_malloc((size_t)t.ny * sizeof *alt);
        if (!cz_run(be, &t, got, what))
            continue;
        cz_ref(&t, ref, alt);
        const uint32_t *row = got + t.yoff, *rrow = ref + t.yoff;
        static const int first[] = {0, 3}, last[] = {1, 4, 8};
        for (int k = 0; k < 2; k++)
            TEST_CHECK(row[first[k]] == row[0] && rrow[first[k]] == rrow[0],
                       "%s: column %d is not the first entry", what, first[k]);
        for (int k = 0; k < 3; k++)
            TEST_CHECK(row[last[k]] == rrow[1], "%s: column %d is not the last entry", what,
                       last[k]);
        for (int k = 5; k < 8; k++)
            TEST_CHECK(row[k] == CZ_BLACK, "%s: non-finite column %d gives 0x%08x", what, k,
                       row[k]);
        if (t.cmap == WW_CMAP_GRAY)
            TEST_CHECK(row[0] == 0xff000000u && row[1] == 0xffffffffu && row[2] == 0xff808080u,
                       "%s: gray gives 0x%08x 0x%08x 0x%08x at lo, hi, middle", what, row[0],
                       row[1], row[2]);
    }
}

static void test_colorize_labels(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        int W, H, pad, cityscapes, n;
    } cs[] = {{37, 13, 0, 1, 19}, {37, 13, 3, 1, 19}, {300, 70, 5, 0, 150}, {5, 2, 1, 0, 1}};
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        test_rng r;
        test_rng_seed(&r, 19000 + (uint64_t)i);
        cz_in t;
        memset(&t, 0, sizeof t);
        cz_make(&t, 2, cs[i].W, cs[i].H, cs[i].pad);
        for (int64_t k = 0; k < t.nx; k++)
            t.x[k] = 0xdeadu; /* padding: an id far out of range */
        t.palette_cs = cs[i].cityscapes;
        t.ntable = cs[i].n;
        if (!t.palette_cs) { /* arbitrary words, alpha included: copied as they are */
            t.table = test_malloc((size_t)t.ntable * sizeof *t.table);
            for (int k = 0; k < t.ntable; k++)
                t.table[k] = test_rng_u32(&r);
        }
        for (int py = 0; py < t.H; py++)
            for (int px = 0; px < t.W; px++)
                *cz_xat(&t, 0, px, py) = test_rng_below(&r, (uint32_t)t.ntable + 4);
        const uint32_t ids[] = {0, (uint32_t)t.ntable - 1, (uint32_t)t.ntable, 255, 0xffffffffu};
        for (int k = 0; k < 5 && k < t.W; k++)
            *cz_xat(&t, 0, k, 0) = ids[k];
        char what[128];
        snprintf(what, sizeof what, "colorize_labels %dx%d pad %d %s %d colours", t.W, t.H,
                 cs[i].pad, t.palette_cs ? "cityscapes" : "random", t.ntable);
        cz_check(be, &t, what);
        if (t.palette_cs) { /* road, bicycle, then out of range */
            uint32_t *got = test_malloc((size_t)t.ny * sizeof *got);
            if (!cz_run(be, &t, got, what))
                continue;
            const uint32_t *row = got + t.yoff;
            TEST_CHECK(row[0] == rgba_word(128, 64, 128, 255) &&
                           row[1] == rgba_word(119, 11, 32, 255) && row[2] == CZ_BLACK &&
                           row[3] == CZ_BLACK && row[4] == CZ_BLACK,
                       "%s: ids 0, 18, 19, 255, 2^32-1 give 0x%08x 0x%08x 0x%08x 0x%08x 0x%08x",
                       what, row[0], row[1], row[2], row[3], row[4]);
        }
    }
}

/* Argument checks of the three ops and the table helpers. */
static void test_colorize_errors(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return;
    enum { W = 9, H = 4 };
    ww_tensor flow, scalar, ids, rgba, lut, f32lut, rgba_f32, rgba_small;
    int64_t nflow[3] = {W, H, 2}, nimg[2] = {W, H}, nsmall[2] = {W - 1, H}, n256 = 256;
    if (!TEST_OK(be, ww_arena_alloc(a, WW_F32, 3, nflow, &flow)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 2, nimg, &scalar)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_U32, 2, nimg, &ids)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_U32, 2, nimg, &rgba)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 2, nimg, &rgba_f32)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_U32, 2, nsmall, &rgba_small)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 1, &n256, &f32lut)) ||
        !TEST_OK(be, ww_colormap_table(a, WW_CMAP_TURBO, &lut)))
        return;
    TEST_CHECK(lut.type == WW_U32 && ww_tensor_nelements(&lut) == 256,
               "ww_colormap_table: not U32 [256]");
    const ww_status bad = WW_ERR_INVALID;
    const ww_flow_colors mid = WW_FLOW_MIDDLEBURY, hsv = WW_FLOW_HSV;
    TEST_STATUS(be, ww_colorize_flow(s, &flow, 0.0f, mid, &rgba), bad);
    TEST_STATUS(be, ww_colorize_flow(s, &flow, -1.0f, hsv, &rgba), bad);
    TEST_STATUS(be, ww_colorize_flow(s, &flow, NAN, mid, &rgba), bad);
    TEST_STATUS(be, ww_colorize_flow(s, &flow, INFINITY, hsv, &rgba), bad);
    TEST_STATUS(be, ww_colorize_flow(s, &scalar, 1.0f, mid, &rgba), bad);     /* one plane */
    TEST_STATUS(be, ww_colorize_flow(s, &scalar, 1.0f, hsv, &rgba), bad);
    TEST_STATUS(be, ww_colorize_flow(s, &flow, 1.0f, mid, &rgba_f32), bad);   /* F32 output */
    TEST_STATUS(be, ww_colorize_flow(s, &flow, 1.0f, hsv, &rgba_small), bad); /* width */
    TEST_STATUS(be, ww_colorize_flow(s, &flow, 1.0f, mid, NULL), bad);
    TEST_STATUS(be, ww_colorize_flow(s, &flow, 1.0f, (ww_flow_colors)2, &rgba), bad);
    TEST_CHECK(test_contains(ww_backend_error(be), "colour scheme"),
               "unknown scheme: message \"%s\"", ww_backend_error(be));
    TEST_STATUS(be, ww_colorize_flow(s, &flow, 1.0f, (ww_flow_colors)-1, &rgba), bad);
    TEST_STATUS(be, ww_colorize_scalar(s, &scalar, 1.0f, 1.0f, &lut, &rgba), bad);
    TEST_STATUS(be, ww_colorize_scalar(s, &scalar, 2.0f, 1.0f, &lut, &rgba), bad);
    TEST_STATUS(be, ww_colorize_scalar(s, &scalar, NAN, 1.0f, &lut, &rgba), bad);
    TEST_STATUS(be, ww_colorize_scalar(s, &scalar, 0.0f, INFINITY, &lut, &rgba), bad);
    TEST_STATUS(be, ww_colorize_scalar(s, &scalar, 0.0f, 1e-44f, &lut, &rgba), bad); /* narrow */
    TEST_STATUS(be, ww_colorize_scalar(s, &scalar, 0.0f, 1.0f, &f32lut, &rgba), bad);
    TEST_STATUS(be, ww_colorize_scalar(s, &scalar, 0.0f, 1.0f, NULL, &rgba), bad);
    TEST_STATUS(be, ww_colorize_scalar(s, &ids, 0.0f, 1.0f, &lut, &rgba), bad); /* U32 input */
    TEST_STATUS(be, ww_colorize_scalar(s, &scalar, 0.0f, 1.0f, &lut, &scalar), bad);
    TEST_STATUS(be, ww_colorize_labels(s, &scalar, &lut, &rgba), bad); /* F32 ids */
    TEST_STATUS(be, ww_colorize_labels(s, &ids, &f32lut, &rgba), bad);
    TEST_STATUS(be, ww_colorize_labels(s, &ids, &lut, &ids), bad); /* output overlaps input */
    TEST_CHECK(ww_seq_length(s) == 0, "failed colorize calls appended %d ops", ww_seq_length(s));
    ww_tensor t;
    TEST_STATUS(be, ww_colormap_table(a, WW_CMAP_COUNT, &t), bad);
    TEST_STATUS(be, ww_colormap_table(a, (ww_colormap)-1, &t), bad);
    TEST_STATUS(be, ww_palette_table(a, NULL, 3, &t), bad);
    TEST_STATUS(be, ww_palette_table(a, ww_palette_cityscapes(NULL), 0, &t), bad);
    /* the error message names the op */
    ww_colorize_flow(s, &flow, 0.0f, mid, &rgba);
    TEST_CHECK(test_contains(ww_backend_error(be), "colorize_flow"),
               "error message \"%s\" does not name colorize_flow", ww_backend_error(be));
    /* a good call of each still works after the failures */
    TEST_OK(be, ww_colorize_flow(s, &flow, 1.0f, mid, &rgba));
    TEST_OK(be, ww_colorize_flow(s, &flow, 1.0f, hsv, &rgba));
    TEST_OK(be, ww_colorize_scalar(s, &scalar, 0.0f, 1.0f, &lut, &rgba));
    TEST_OK(be, ww_colorize_labels(s, &ids, &lut, &rgba));
}

/* Backend-free: the colour data, against the published values. */
static void test_colormap_data(const char *arg)
{
    (void)arg;
    static const struct {
        int cmap;
        const char *name;
        uint8_t first[3], mid[3], last[3]; /* entries 0, 128, 255 */
    } ref[] = {
        /* entries 0 and 255: the published colours (turbo_srgb_bytes; viridis #440154 ..
         * #FDE725, inferno #000004 .. #FCFFA4, magma #000004 .. #FCFDBF); entry 128:
         * matplotlib's float tables as round(255 v) (viridis(0.5) = #21918C) */
        {WW_CMAP_TURBO, "turbo", {48, 18, 59}, {164, 252, 60}, {122, 4, 3}},
        {WW_CMAP_INFERNO, "inferno", {0, 0, 4}, {188, 55, 84}, {252, 255, 164}},
        {WW_CMAP_MAGMA, "magma", {0, 0, 4}, {183, 55, 121}, {252, 253, 191}},
        {WW_CMAP_VIRIDIS, "viridis", {68, 1, 84}, {33, 145, 140}, {253, 231, 37}},
        {WW_CMAP_GRAY, "gray", {0, 0, 0}, {128, 128, 128}, {255, 255, 255}},
    };
    for (int i = 0; i < (int)(sizeof ref / sizeof ref[0]); i++) {
        const char *name = ww_colormap_name((ww_colormap)ref[i].cmap);
        TEST_CHECK(name && !strcmp(name, ref[i].name), "colormap %d is named %s, want %s",
                   ref[i].cmap, name ? name : "NULL", ref[i].name);
        const uint8_t *rgb = ww_colormap_rgb((ww_colormap)ref[i].cmap);
        if (!TEST_CHECK(rgb != NULL, "ww_colormap_rgb(%s) is NULL", ref[i].name))
            continue;
        const uint8_t *want[3] = {ref[i].first, ref[i].mid, ref[i].last};
        static const int at[3] = {0, 128, 255};
        for (int k = 0; k < 3; k++) {
            const uint8_t *g = rgb + 3 * at[k];
            TEST_CHECK(!memcmp(g, want[k], 3), "%s[%d] = (%d, %d, %d), want (%d, %d, %d)",
                       ref[i].name, at[k], g[0], g[1], g[2], want[k][0], want[k][1], want[k][2]);
        }
    }
    TEST_CHECK(ww_colormap_name(WW_CMAP_COUNT) == NULL && ww_colormap_rgb(WW_CMAP_COUNT) == NULL,
               "an unknown colormap has data");
    /* gray is the identity; every map is continuous (no entry jumps by more than 16 levels) */
    const uint8_t *gray = ww_colormap_rgb(WW_CMAP_GRAY);
    for (int k = 0; gray && k < 256; k++)
        if (!TEST_CHECK(gray[3 * k] == k && gray[3 * k + 1] == k && gray[3 * k + 2] == k,
                        "gray[%d] = (%d, %d, %d)", k, gray[3 * k], gray[3 * k + 1],
                        gray[3 * k + 2]))
            break;
    for (int m = 0; m < WW_CMAP_COUNT; m++) {
        const uint8_t *rgb = ww_colormap_rgb((ww_colormap)m);
        for (int k = 1; rgb && k < 256 * 3; k++)
            if (k >= 3 && !TEST_CHECK(abs(rgb[k] - rgb[k - 3]) <= 16, "%s jumps at entry %d",
                                      ww_colormap_name((ww_colormap)m), k / 3))
                break;
    }
    /* Cityscapes train ids, as in the reference conventions */
    static const uint8_t cityscapes[19][3] = {
        {128, 64, 128}, {244, 35, 232}, {70, 70, 70},   {102, 102, 156}, {190, 153, 153},
        {153, 153, 153}, {250, 170, 30}, {220, 220, 0}, {107, 142, 35},  {152, 251, 152},
        {70, 130, 180}, {220, 20, 60},  {255, 0, 0},    {0, 0, 142},     {0, 0, 70},
        {0, 60, 100},   {0, 80, 100},   {0, 0, 230},    {119, 11, 32},
    };
    int n = -1;
    const uint8_t *pal = ww_palette_cityscapes(&n);
    TEST_CHECK(n == 19 && pal && !memcmp(pal, cityscapes, sizeof cityscapes),
               "ww_palette_cityscapes: %d colours or wrong values", n);
}

#define BOTH(name, fn) {name ".cpu", fn, "cpu"}, {name ".vulkan", fn, "vulkan"}

static const ww_test_case cases[] = {
    {"image_layout", test_image_layout, NULL},
    BOTH("gemm", test_gemm),
    {"gemm_variants.vulkan", test_gemm_variants, "vulkan"},
    BOTH("gemm_batch", test_gemm_batch),
    BOTH("gemm_strided", test_gemm_strided),
    BOTH("gemm_qkv", test_gemm_qkv),
    BOTH("layernorm", test_layernorm),
    BOTH("add", test_add),
    BOTH("gelu", test_gelu),
    BOTH("relu", test_relu),
    BOTH("copy", test_copy),
    BOTH("rope_table", test_rope_table),
    BOTH("rope2d", test_rope2d),
    BOTH("attention", test_attention),
    BOTH("attention_large", test_attention_large),
    BOTH("attention_composed", test_attention_composed),
    BOTH("patchify", test_patchify),
    BOTH("patch_embed", test_patch_embed),
    BOTH("conv2d", test_conv2d),
    BOTH("conv_transpose2d", test_conv_transpose2d),
    BOTH("resize_bilinear", test_resize_bilinear),
    BOTH("softmax_channels", test_softmax_channels),
    BOTH("argmax_channels", test_argmax_channels),
    BOTH("preprocess", test_preprocess),
    BOTH("preprocess_resampling", test_preprocess_resampling),
    BOTH("preprocess_errors", test_preprocess_errors),
    BOTH("gather_rows", test_gather_rows),
    BOTH("scatter_rows", test_scatter_rows),
    BOTH("probe_fma", test_probe_fma),
    {"colormap_data", test_colormap_data, NULL},
    BOTH("colorize_flow", test_colorize_flow),
    BOTH("colorize_scalar", test_colorize_scalar),
    BOTH("colorize_labels", test_colorize_labels),
    BOTH("colorize_errors", test_colorize_errors),
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
