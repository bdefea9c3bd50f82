/* Gradient checks of ww_attention_backward.
 *
 * The reference is written here in double precision: the loss L = sum(do * o) of a naive
 * attention (whole score rows, softmax, o . do evaluated as sum_j P_ij (do_i . v_j)),
 * differentiated by central finite differences for every element of q, k and v. The CPU backend
 * is checked against those differences; a closed-form backward in double precision is checked
 * against them too and is the reference where differencing would be slow. Vulkan is checked
 * against the same references and against the CPU backend, at the same odd shapes and at a
 * larger one. On the device, the forward (ww_attention with lse) and the backward run in one
 * sequence, as a trainer would run them. Also: two runs give the same bits (no atomics), and bad
 * arguments are refused with a message.
 *
 * q, k and v are strided views inside one fused qkv buffer [B, N, lead + 3*H*Dh + pad] with
 * N = max(Nq, Nk) (q the first Nq rows of its columns, k and v the first Nk rows of theirs), and
 * dq, dk, dv the same views of a dqkv buffer that starts with random values: the backward must
 * add to them (accumulate) and leave every element outside the views alone. lead and pad of 0
 * mod 4 take the shaders' vec4 paths, others their scalar paths; do is sometimes a strided view.
 * Every device tensor has guard words; Vulkan runs with the validation layer.
 *
 * Usage: test_grad_attention [NAME-SUBSTRING...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "ww.h"

typedef struct gcase {
    int B, H, Nq, Nk, Dh, Bkv;
    int lead, pad;  /* elements before q and after v in each fused row */
    int do_pad;     /* do rows padded by this many elements (0: contiguous) */
    int cpu_only;   /* not run on Vulkan (each new head dim costs lavapipe seconds to compile) */
} gcase;

/* One case: host data and the layout of every view. */
typedef struct ginst {
    gcase c;
    float scale;
    int64_t N, rs, nqkv; /* rows per batch, row stride, elements of the fused buffer */
    int64_t off[3];      /* element offset of q, k, v in the fused buffer */
    int64_t do_rs, ndo;  /* do: row stride and elements */
    float *qkv, *g0, *dO;
} ginst;

static int64_t idx_qkv(const ginst *g, int which, int64_t b, int64_t i, int64_t h, int64_t d)
{
    return g->off[which] + b * g->N * g->rs + i * g->rs + h * g->c.Dh + d;
}

static int64_t idx_do(const ginst *g, int64_t b, int64_t i, int64_t h, int64_t d)
{
    return (b * g->c.Nq + i) * g->do_rs + h * g->c.Dh + d;
}

static void make(const gcase *c, uint64_t seed, ginst *g)
{
    test_rng r;
    test_rng_seed(&r, seed);
    memset(g, 0, sizeof *g);
    g->c = *c;
    g->scale = (float)(1.0 / sqrt(c->Dh));
    int64_t hd = (int64_t)c->H * c->Dh;
    g->N = c->Nq > c->Nk ? c->Nq : c->Nk;
    g->rs = c->lead + 3 * hd + c->pad;
    g->nqkv = (int64_t)c->B * g->N * g->rs;
    g->off[0] = c->lead;
    g->off[1] = c->lead + hd;
    g->off[2] = c->lead + 2 * hd;
    g->do_rs = hd + c->do_pad;
    g->ndo = (int64_t)c->B * c->Nq * g->do_rs;
    g->qkv = test_malloc((size_t)g->nqkv * sizeof(float));
    g->g0 = test_malloc((size_t)g->nqkv * sizeof(float));
    g->dO = test_malloc((size_t)g->ndo * sizeof(float));
    test_rng_fill(&r, g->qkv, (size_t)g->nqkv, -1.5f, 1.5f);
    test_rng_fill(&r, g->g0, (size_t)g->nqkv, -0.5f, 0.5f);
    test_rng_fill(&r, g->dO, (size_t)g->ndo, -1.0f, 1.0f);
}

/* ---- Double-precision reference ------------------------------------------------------------- */

/* Key batch of query batch b. */
static int64_t kvb(const ginst *g, int64_t b) { return g->c.Bkv == 1 ? 0 : b; }

/* The loss of one query row, sum_d do_d o_d with o = softmax(s) v, written as
 * sum_j softmax(s)_j w_j from the row's scores s_j = q . k_j * scale and w_j = do . v_j, so that
 * perturbing one element of q, k or v changes one or all of these n numbers. */
static double row_loss(const double *s, const double *w, int64_t n)
{
    double m = -INFINITY, l = 0, acc = 0;
    for (int64_t j = 0; j < n; j++)
        m = s[j] > m ? s[j] : m;
    for (int64_t j = 0; j < n; j++) {
        double e = exp(s[j] - m);
        l += e;
        acc += e * w[j];
    }
    return acc / l;
}

/* Central differences of L = sum(do * o) for every element of the q, k, v views: grad[e] for
 * element e of the fused buffer (0 outside the views). Per (batch, head), the scores S and
 * W = do v^T are formed once in double precision; a perturbation of q_i[d] by +-step moves row i
 * of S by +-step * scale * k_j[d], one of k_j[d] moves column j of S by +-step * scale * q_i[d],
 * one of v_j[d] column j of W by +-step * do_i[d]; the affected rows' losses are evaluated again
 * and differenced. */
static double *fd_grad(const ginst *g)
{
    const gcase *c = &g->c;
    int64_t Nq = c->Nq, Nk = c->Nk, Dh = c->Dh;
    const double step = 1e-5;
    double *grad = test_malloc((size_t)g->nqkv * sizeof *grad);
    double *S = test_malloc((size_t)(c->B * Nq * Nk) * sizeof *S);
    double *W = test_malloc((size_t)(c->B * Nq * Nk) * sizeof *W);
    double *row = test_malloc((size_t)Nk * sizeof *row);
    const float *x = g->qkv;
    for (int64_t h = 0; h < c->H; h++) {
        /* S and W of every query batch for head h */
        for (int64_t b = 0; b < c->B; b++)
            for (int64_t i = 0; i < Nq; i++)
                for (int64_t j = 0; j < Nk; j++) {
                    double dot = 0, dw = 0;
                    for (int64_t d = 0; d < Dh; d++) {
                        dot += (double)x[idx_qkv(g, 0, b, i, h, d)] *
                               x[idx_qkv(g, 1, kvb(g, b), j, h, d)];
                        dw += (double)g->dO[idx_do(g, b, i, h, d)] *
                              x[idx_qkv(g, 2, kvb(g, b), j, h, d)];
                    }
                    S[(b * Nq + i) * Nk + j] = dot * g->scale;
                    W[(b * Nq + i) * Nk + j] = dw;
                }
        /* q */
        for (int64_t b = 0; b < c->B; b++)
            for (int64_t i = 0; i < Nq; i++)
                for (int64_t d = 0; d < Dh; d++) {
                    const double *s0 = S + (b * Nq + i) * Nk, *w = W + (b * Nq + i) * Nk;
                    double diff = 0;
                    for (int sign = 1; sign >= -1; sign -= 2) {
                        for (int64_t j = 0; j < Nk; j++)
                            row[j] = s0[j] + sign * step * g->scale *
                                                 x[idx_qkv(g, 1, kvb(g, b), j, h, d)];
                        diff += sign * row_loss(row, w, Nk);
                    }
                    grad[idx_qkv(g, 0, b, i, h, d)] = diff / (2 * step);
                }
        /* k and v */
        for (int64_t bk = 0; bk < c->Bkv; bk++)
            for (int64_t j = 0; j < Nk; j++)
                for (int64_t d = 0; d < Dh; d++) {
                    double dk = 0, dv = 0;
                    for (int64_t b = 0; b < c->B; b++) {
                        if (kvb(g, b) != bk)
                            continue;
                        for (int64_t i = 0; i < Nq; i++) {
                            double *s = S + (b * Nq + i) * Nk, *w = W + (b * Nq + i) * Nk;
                            double s0 = s[j], w0 = w[j];
                            for (int sign = 1; sign >= -1; sign -= 2) {
                                s[j] = s0 + sign * step * g->scale * x[idx_qkv(g, 0, b, i, h, d)];
                                dk += sign * row_loss(s, w, Nk);
                                s[j] = s0;
                                w[j] = w0 + sign * step * g->dO[idx_do(g, b, i, h, d)];
                                dv += sign * row_loss(s, w, Nk);
                                w[j] = w0;
                            }
                        }
                    }
                    grad[idx_qkv(g, 1, bk, j, h, d)] = dk / (2 * step);
                    grad[idx_qkv(g, 2, bk, j, h, d)] = dv / (2 * step);
                }
    }
    return grad;
}

/* The closed form: P = softmax(S), dP = do v^T, D = rowsum(do * o) = rowsum(P * dP),
 * dS = P * (dP - D); dq = scale dS k, dk = scale dS^T q, dv = P^T do. Also D [B, H, Nq]. */
static double *exact_grad(const ginst *g, double *D)
{
    const gcase *c = &g->c;
    double *grad = test_malloc((size_t)g->nqkv * sizeof *grad);
    double *p = test_malloc((size_t)c->Nk * sizeof *p);
    double *dp = test_malloc((size_t)c->Nk * sizeof *dp);
    const float *x = g->qkv;
    for (int64_t b = 0; b < c->B; b++) {
        int64_t bk = kvb(g, b);
        for (int64_t h = 0; h < c->H; h++)
            for (int64_t i = 0; i < c->Nq; i++) {
                double m = -INFINITY, l = 0, Di = 0;
                for (int64_t j = 0; j < c->Nk; j++) {
                    double dot = 0, dpd = 0;
                    for (int64_t d = 0; d < c->Dh; d++) {
                        dot += (double)x[idx_qkv(g, 0, b, i, h, d)] * x[idx_qkv(g, 1, bk, j, h, d)];
                        dpd += (double)g->dO[idx_do(g, b, i, h, d)] * x[idx_qkv(g, 2, bk, j, h, d)];
                    }
                    p[j] = dot * g->scale;
                    dp[j] = dpd;
                    m = p[j] > m ? p[j] : m;
                }
                for (int64_t j = 0; j < c->Nk; j++) {
                    p[j] = exp(p[j] - m);
                    l += p[j];
                }
                for (int64_t j = 0; j < c->Nk; j++) {
                    p[j] /= l;
                    Di += p[j] * dp[j];
                }
                D[(b * c->H + h) * c->Nq + i] = Di;
                for (int64_t j = 0; j < c->Nk; j++) {
                    double ds = p[j] * (dp[j] - Di);
                    for (int64_t d = 0; d < c->Dh; d++) {
                        grad[idx_qkv(g, 0, b, i, h, d)] +=
                            g->scale * ds * x[idx_qkv(g, 1, bk, j, h, d)];
                        grad[idx_qkv(g, 1, bk, j, h, d)] +=
                            g->scale * ds * x[idx_qkv(g, 0, b, i, h, d)];
                        grad[idx_qkv(g, 2, bk, j, h, d)] += p[j] * g->dO[idx_do(g, b, i, h, d)];
                    }
                }
            }
    }
    return grad;
}

/* ---- Running on a backend ------------------------------------------------------------------- */

static void views(const ginst *g, const ww_tensor *base, ww_tensor v[3])
{
    const gcase *c = &g->c;
    for (int w = 0; w < 3; w++) {
        int64_t ne[4] = {c->Dh, c->H, w == 0 ? c->Nq : c->Nk, w == 0 ? c->B : c->Bkv};
        int64_t nb[4] = {1, c->Dh, g->rs, g->N * g->rs};
        v[w] = ww_tensor_view(base, g->off[w], ne, nb);
    }
}

/* Forward then backward on be: the whole dqkv buffer into dqkv, D into D. */
static int run(ww_backend *be, const ginst *g, float *dqkv, float *D, const char *what)
{
    const gcase *c = &g->c;
    ww_arena *a = test_arena(be);
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return 0;
    test_tensor tqkv, tdqkv, tdo, to, tlse, tD;
    int64_t ndo = g->ndo, o_ne[4] = {c->Dh, c->H, c->Nq, c->B}, r_ne[3] = {c->Nq, c->H, c->B};
    if (!test_tensor_new(be, a, WW_F32, 1, &g->nqkv, g->qkv, &tqkv) ||
        !test_tensor_new(be, a, WW_F32, 1, &g->nqkv, g->g0, &tdqkv) ||
        !test_tensor_new(be, a, WW_F32, 1, &ndo, g->dO, &tdo) ||
        !test_tensor_new(be, a, WW_F32, 4, o_ne, NULL, &to) ||
        !test_tensor_new(be, a, WW_F32, 3, r_ne, NULL, &tlse) ||
        !test_tensor_new(be, a, WW_F32, 3, r_ne, NULL, &tD))
        return 0;
    ww_tensor x[3], dx[3];
    views(g, &tqkv.t, x);
    views(g, &tdqkv.t, dx);
    int64_t do_nb[4] = {1, c->Dh, g->do_rs, g->do_rs * c->Nq};
    ww_tensor dO = ww_tensor_view(&tdo.t, 0, o_ne, do_nb);
    if (!TEST_OK(be, ww_attention(s, &x[0], &x[1], &x[2], g->scale, &to.t, &tlse.t)) ||
        !TEST_OK(be, ww_attention_backward(s, &x[0], &x[1], &x[2], &to.t, &tlse.t, &dO, g->scale,
                                           &dx[0], &dx[1], &dx[2], &tD.t)))
        return 0;
    return test_run(be, s) && test_tensor_get(be, &tdqkv, dqkv, what) &&
           test_tensor_get(be, &tD, D, what);
}

static const char *const view_names[3] = {"dq", "dk", "dv"};

/* got (the dqkv buffer after the backward) against g0 + ref inside the views, with tol on the
 * increments got - g0; elements outside the views must still hold g0, bit for bit. */
static void check_grads(const ginst *g, const float *got, const double *ref, double tol,
                        const char *what)
{
    const gcase *c = &g->c;
    char *in = test_malloc((size_t)g->nqkv);
    for (int w = 0; w < 3; w++) {
        int64_t nb = w == 0 ? c->B : c->Bkv, nr = w == 0 ? c->Nq : c->Nk;
        size_t n = (size_t)(nb * nr * c->H * c->Dh), k = 0;
        float *inc = test_malloc(n * sizeof *inc);
        double *want = test_malloc(n * sizeof *want);
        for (int64_t b = 0; b < nb; b++)
            for (int64_t i = 0; i < nr; i++)
                for (int64_t h = 0; h < c->H; h++)
                    for (int64_t d = 0; d < c->Dh; d++, k++) {
                        int64_t e = idx_qkv(g, w, b, i, h, d);
                        in[e] = 1;
                        inc[k] = got[e] - g->g0[e];
                        want[k] = ref[e];
                    }
        char label[384];
        snprintf(label, sizeof label, "%s: %s", what, view_names[w]);
        TEST_COMPARE(label, inc, want, n, tol);
    }
    int64_t bad = 0, first = -1;
    for (int64_t e = 0; e < g->nqkv; e++)
        if (!in[e] && memcmp(&got[e], &g->g0[e], sizeof(float))) {
            if (first < 0)
                first = e;
            bad++;
        }
    TEST_CHECK(bad == 0, "%s: %lld elements of dqkv outside dq, dk, dv changed, first [%lld]",
               what, (long long)bad, (long long)first);
}

static void describe(const gcase *c, char *buf, size_t len)
{
    snprintf(buf, len, "B=%d H=%d Nq=%d Nk=%d Dh=%d kv batch=%d lead=%d pad=%d do pad=%d", c->B,
             c->H, c->Nq, c->Nk, c->Dh, c->Bkv, c->lead, c->pad, c->do_pad);
}

/* Odd shapes: every (Nq, Nk) in {1, 5, 17} x {1, 7, 33}, batches 1 and 2 (k, v broadcast in
 * some), heads 1 to 3, Dh 8 and 16, aligned and misaligned layouts; then Dh 12, 32 and 128. */
static const gcase small_cases[] = {
    /* B H  Nq  Nk Dh Bkv lead pad dopad */
    {1, 1, 1, 1, 8, 1, 0, 4, 0, 0},
    {2, 2, 1, 7, 16, 2, 1, 2, 0, 0},
    {2, 3, 1, 33, 8, 1, 0, 0, 3, 0},
    {2, 2, 5, 1, 16, 2, 4, 4, 0, 0},
    {1, 3, 5, 7, 8, 1, 3, 1, 0, 0},
    {2, 2, 5, 33, 16, 1, 0, 4, 4, 0},
    {2, 1, 17, 1, 8, 1, 0, 0, 0, 0},
    {1, 2, 17, 7, 16, 1, 2, 2, 1, 0},
    {2, 3, 17, 33, 16, 2, 0, 4, 0, 0},
    {2, 2, 17, 17, 8, 2, 1, 0, 0, 0}, /* self-attention shape */
    /* the other head dims: an odd multiple of 4, 32, 128 */
    {2, 1, 5, 7, 12, 1, 0, 0, 0, 1},
    {1, 2, 7, 5, 32, 1, 1, 3, 2, 0},
    {2, 1, 5, 9, 128, 1, 0, 4, 0, 0},
};
#define NSMALL ((int)(sizeof small_cases / sizeof small_cases[0]))

/* CPU backend against central differences (and the closed form against both). */
static void test_grad_cpu(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    for (int ci = 0; ci < NSMALL; ci++) {
        const gcase *c = &small_cases[ci];
        ginst g;
        make(c, 9000 + (uint64_t)ci, &g);
        char desc[160], what[256];
        describe(c, desc, sizeof desc);
        double *fd = fd_grad(&g);
        double *Dref = test_malloc((size_t)c->B * c->H * c->Nq * sizeof *Dref);
        double *ex = exact_grad(&g, Dref);
        /* the test's own two references agree (the differences are exact to ~1e-9) */
        float *exf = test_malloc((size_t)g.nqkv * sizeof *exf);
        for (int64_t e = 0; e < g.nqkv; e++)
            exf[e] = (float)ex[e];
        snprintf(what, sizeof what, "closed form vs differences %s", desc);
        TEST_COMPARE(what, exf, fd, (size_t)g.nqkv, 1e-6);

        float *got = test_malloc((size_t)g.nqkv * sizeof *got);
        float *D = test_malloc((size_t)c->B * c->H * c->Nq * sizeof *D);
        snprintf(what, sizeof what, "attention backward (%s) %s", dev, desc);
        if (!run(be, &g, got, D, what))
            continue;
        check_grads(&g, got, fd, 1e-5, what);
        snprintf(what, sizeof what, "attention backward (%s) %s: D", dev, desc);
        TEST_COMPARE(what, D, Dref, (size_t)c->B * c->H * c->Nq, 1e-5);
    }
}

/* Vulkan against the CPU backend and the references. */
static void vulkan_case(ww_backend *be, ww_backend *cpu, const gcase *c, uint64_t seed,
                        int with_fd)
{
    ginst g;
    make(c, seed, &g);
    char desc[160], what[256];
    describe(c, desc, sizeof desc);
    size_t nD = (size_t)c->B * c->H * c->Nq;
    double *Dref = test_malloc(nD * sizeof *Dref);
    double *ref = exact_grad(&g, Dref);
    if (with_fd)
        ref = fd_grad(&g);
    float *got = test_malloc((size_t)g.nqkv * sizeof *got), *D = test_malloc(nD * sizeof *D);
    float *want = test_malloc((size_t)g.nqkv * sizeof *want), *Dc = test_malloc(nD * sizeof *Dc);
    snprintf(what, sizeof what, "attention backward (vulkan) %s", desc);
    if (!run(be, &g, got, D, what))
        return;
    check_grads(&g, got, ref, 2e-5, what);
    snprintf(what, sizeof what, "attention backward (vulkan) %s: D", desc);
    TEST_COMPARE(what, D, Dref, nD, 1e-5);
    snprintf(what, sizeof what, "attention backward (cpu) %s", desc);
    if (!run(cpu, &g, want, Dc, what))
        return;
    snprintf(what, sizeof what, "attention backward, Vulkan vs CPU, %s: dqkv", desc);
    TEST_COMPARE_F(what, got, want, (size_t)g.nqkv, 1e-5);
    snprintf(what, sizeof what, "attention backward, Vulkan vs CPU, %s: D", desc);
    TEST_COMPARE_F(what, D, Dc, nD, 1e-5);
}

static void test_grad_vulkan(const char *dev)
{
    ww_backend *be = test_backend(dev), *cpu = be ? test_backend("cpu") : NULL;
    if (!cpu)
        return;
    for (int ci = 0; ci < NSMALL; ci++)
        if (!small_cases[ci].cpu_only)
            vulkan_case(be, cpu, &small_cases[ci], 9000 + (uint64_t)ci, 1);
}

/* The larger shape, against the closed form (on both backends) and Vulkan against the CPU. */
static const gcase large_case = {1, 4, 130, 97, 64, 1, 0, 0, 0, 0};

static void test_grad_large(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    ww_backend *cpu = ww_backend_kind_of(be) == WW_BACKEND_VULKAN ? test_backend("cpu") : NULL;
    if (cpu) {
        vulkan_case(be, cpu, &large_case, 9100, 0);
        return;
    }
    ginst g;
    make(&large_case, 9100, &g);
    char desc[160], what[256];
    describe(&large_case, desc, sizeof desc);
    size_t nD = (size_t)large_case.B * large_case.H * large_case.Nq;
    double *Dref = test_malloc(nD * sizeof *Dref);
    double *ref = exact_grad(&g, Dref);
    float *got = test_malloc((size_t)g.nqkv * sizeof *got), *D = test_malloc(nD * sizeof *D);
    snprintf(what, sizeof what, "attention backward (cpu) %s", desc);
    if (!run(be, &g, got, D, what))
        return;
    check_grads(&g, got, ref, 2e-5, what);
    snprintf(what, sizeof what, "attention backward (cpu) %s: D", desc);
    TEST_COMPARE(what, D, Dref, nD, 1e-5);
}

/* No atomics: running the same work again gives the same bits (threads on the CPU, workgroups on
 * Vulkan), here with k and v broadcast over two query batches so that dk and dv sum batches. */
static void test_grad_deterministic(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const gcase c = {2, 3, 70, 45, 32, 1, 0, 0, 0, 0};
    ginst g;
    make(&c, 9200, &g);
    size_t nD = (size_t)c.B * c.H * c.Nq;
    float *r1 = test_malloc((size_t)g.nqkv * sizeof *r1);
    float *r2 = test_malloc((size_t)g.nqkv * sizeof *r2);
    float *D1 = test_malloc(nD * sizeof *D1), *D2 = test_malloc(nD * sizeof *D2);
    if (!run(be, &g, r1, D1, "first run") || !run(be, &g, r2, D2, "second run"))
        return;
    TEST_CHECK(!memcmp(r1, r2, (size_t)g.nqkv * sizeof *r1) && !memcmp(D1, D2, nD * sizeof *D1),
               "attention backward (%s): two runs of the same work differ", dev);
    double *Dref = test_malloc(nD * sizeof *Dref);
    double *ref = exact_grad(&g, Dref);
    check_grads(&g, r1, ref, 2e-5, "attention backward, k and v broadcast, Dh=32");
}

/* Argument checks: each bad call names the problem and appends nothing. */
static void test_grad_errors(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    ww_arena *a = test_arena(be);
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return;
    enum { B = 2, N = 5, H = 2, Dh = 8, HD = H * Dh };
    ww_tensor qkv, dqkv, o, lse, D, Dbad, other;
    int64_t fused[3] = {3 * HD, N, B}, head[4] = {Dh, H, N, B}, rows[3] = {N, H, B};
    int64_t rows_bad[3] = {N + 1, H, B};
    if (!TEST_OK(be, ww_arena_alloc(a, WW_F32, 3, fused, &qkv)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 3, fused, &dqkv)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 4, head, &o)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 4, head, &other)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 3, rows, &lse)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 3, rows, &D)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_F32, 3, rows_bad, &Dbad)))
        return;
    int64_t nb[4] = {1, Dh, 3 * HD, 3 * HD * N};
    ww_tensor q = ww_tensor_view(&qkv, 0, head, nb), k = ww_tensor_view(&qkv, HD, head, nb);
    ww_tensor v = ww_tensor_view(&qkv, 2 * HD, head, nb);
    ww_tensor dq = ww_tensor_view(&dqkv, 0, head, nb), dk = ww_tensor_view(&dqkv, HD, head, nb);
    ww_tensor dv = ww_tensor_view(&dqkv, 2 * HD, head, nb);
    float sc = 0.35f;
    /* the good call works */
    TEST_OK(be, ww_attention_backward(s, &q, &k, &v, &o, &lse, &other, sc, &dq, &dk, &dv, &D));
    int len = ww_seq_length(s);
    TEST_CHECK(len == 2, "attention backward appends %d nodes, expected 2", len);

    struct {
        const char *why, *msg;
        const ww_tensor *dq, *dk, *dv, *D, *k;
        float scale;
    } bad[] = {
        {"dq with other strides than q", "stride", &other, &dk, &dv, &D, &k, sc},
        {"dk is dv", "share elements", &dq, &dv, &dv, &D, &k, sc},
        {"dq inside the inputs", "overlaps input", &v, &dk, &dv, &D, &k, sc},
        {"D of the wrong shape", "scratch_D", &dq, &dk, &dv, &Dbad, &k, sc},
        {"D is lse", "overlaps input", &dq, &dk, &dv, &lse, &k, sc},
        {"scale not finite", "scale", &dq, &dk, &dv, &D, &k, INFINITY},
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        ww_status st = ww_attention_backward(s, &q, bad[i].k, &v, &o, &lse, &other, bad[i].scale,
                                             bad[i].dq, bad[i].dk, bad[i].dv, bad[i].D);
        TEST_CHECK(st == WW_ERR_INVALID && test_contains(ww_backend_error(be), bad[i].msg),
                   "%s: status %d, message '%s' (expected one with '%s')", bad[i].why, (int)st,
                   ww_backend_error(be), bad[i].msg);
    }
    /* k broadcast (batch 1) but v not */
    int64_t ne1[4] = {Dh, H, N, 1};
    ww_tensor k1 = ww_tensor_view(&qkv, HD, ne1, nb), dk1 = ww_tensor_view(&dqkv, HD, ne1, nb);
    ww_status st = ww_attention_backward(s, &q, &k1, &v, &o, &lse, &other, sc, &dq, &dk1, &dv, &D);
    TEST_CHECK(st == WW_ERR_INVALID, "k of batch 1 with v of batch 2: status %d", (int)st);
    TEST_CHECK(ww_seq_length(s) == len, "failed calls appended nodes: %d, expected %d",
               ww_seq_length(s), len);
}

#define BOTH(name, fn) {name ".cpu", fn, "cpu"}, {name ".vulkan", fn, "vulkan"}

static const ww_test_case cases[] = {
    {"grad_attention.cpu", test_grad_cpu, "cpu"},
    {"grad_attention.vulkan", test_grad_vulkan, "vulkan"},
    BOTH("grad_attention_large", test_grad_large),
    BOTH("grad_attention_deterministic", test_grad_deterministic),
    {"grad_attention_errors", test_grad_errors, "cpu"},
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
