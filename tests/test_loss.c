/* Tests of the per-pixel training losses (ww.h, "Losses"): for each kind, at odd shapes, loss_px
 * against a double-precision reference of weight * l, dpred against central finite differences
 * of that reference, and on Vulkan both against the CPU backend. The data hold what training
 * meets: pixels of weight 0 whose pred and target are NaN / Inf (their outputs must be exactly
 * 0), confidences far in both tails of the sigmoid, pixels where pred equals target (d|x|/dx = 0
 * there), and for cross-entropy ids outside [0, C) or not integers (no loss, no gradient). The
 * outputs start as NaN guard words, so an element the op forgets to write shows up, and running
 * the sequence again must give the same bits (written, not accumulated).
 *
 * Usage: test_loss [NAME-SUBSTRING...]
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "ww.h"

#define LOSS_TOL 1e-5 /* fp32 loss against the double reference (seen: <= 9e-8) */
#define GRAD_TOL 1e-5 /* fp32 gradient against double central differences (seen: <= 9e-8) */
/* Vulkan against the CPU backend: the same fp32 steps but the driver's exp / log, which GPUs
 * approximate more loosely than lavapipe (seen there: <= 9e-8) */
#define PEER_TOL 1e-5
#define FD_STEP 1e-4  /* well below the smallest |pred - target| away from 0 in the data (0.05) */

typedef struct loss_case {
    ww_loss_kind kind;
    int B, H, W, C;
} loss_case;

typedef struct loss_data {
    loss_case c;
    int Ct;
    int64_t HW, npix, np, nt; /* pixels per image, all pixels, elements of pred, of target */
    float *pred, *target, *weight;
} loss_data;

static const char *kind_name(ww_loss_kind kind)
{
    return kind == WW_LOSS_LAPLACIAN ? "laplacian" : kind == WW_LOSS_L1 ? "l1" : "cross_entropy";
}

static int target_channels(ww_loss_kind kind, int C)
{
    return kind == WW_LOSS_LAPLACIAN ? C - 1 : kind == WW_LOSS_L1 ? C : 1;
}

/* ---- Data ------------------------------------------------------------------------------------ */

/* Element of channel k of pixel i (= b HW + p) in a [B, n, H, W] tensor. */
static int64_t at(const loss_data *d, int64_t i, int n, int k)
{
    return (i / d->HW * n + k) * d->HW + i % d->HW;
}

static void make_data(loss_data *d, const loss_case *c, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    d->c = *c;
    d->Ct = target_channels(c->kind, c->C);
    d->HW = (int64_t)c->H * c->W;
    d->npix = d->HW * c->B;
    d->np = d->npix * c->C;
    d->nt = d->npix * d->Ct;
    d->pred = test_malloc((size_t)d->np * sizeof(float));
    d->target = test_malloc((size_t)d->nt * sizeof(float));
    d->weight = test_malloc((size_t)d->npix * sizeof(float));
    test_rng r;
    test_rng_seed(&r, seed);
    int C = c->C, Ct = d->Ct;
    for (int64_t i = 0; i < d->npix; i++) {
        d->weight[i] = test_rng_below(&r, 5) == 0 ? 0.0f : test_rng_float(&r, 0.2f, 1.5f);
        for (int k = 0; k < C; k++)
            d->pred[at(d, i, C, k)] = test_rng_float(&r, -2.0f, 2.0f);
        if (c->kind == WW_LOSS_CROSS_ENTROPY) {
            d->target[at(d, i, 1, 0)] = (float)test_rng_below(&r, (uint32_t)C);
            continue;
        }
        /* |pred - target| >= 0.05: finite differences stay clear of the kink of |x| */
        for (int k = 0; k < Ct; k++) {
            float mag = test_rng_float(&r, 0.05f, 1.5f);
            float x = d->pred[at(d, i, C, k)];
            d->target[at(d, i, Ct, k)] = test_rng_below(&r, 2) ? x + mag : x - mag;
        }
        if (c->kind == WW_LOSS_LAPLACIAN)
            d->pred[at(d, i, C, Ct)] = test_rng_float(&r, -4.0f, 4.0f);
    }
    /* Special pixels, weighted, at fixed places (every case has more than 16 pixels). */
    d->weight[0] = 0.0f;
    for (int64_t i = 1; i <= 8; i++)
        d->weight[i] = 0.75f;
    if (c->kind == WW_LOSS_LAPLACIAN) {
        static const float conf[4] = {30.0f, -30.0f, 0.0f, -89.0f}; /* both tails of the sigmoid */
        for (int64_t i = 1; i <= 4; i++)
            d->pred[at(d, i, C, Ct)] = conf[i - 1];
    }
    if (c->kind == WW_LOSS_CROSS_ENTROPY) {
        static const float bad[4] = {-1.0f, 255.0f, 0.5f, -0.25f};
        for (int64_t i = 1; i <= 4; i++)
            d->target[at(d, i, 1, 0)] = bad[i - 1];
        d->target[at(d, 5, 1, 0)] = (float)C; /* one past the last class */
        d->target[at(d, 6, 1, 0)] = (float)(C - 1);
        d->target[at(d, 7, 1, 0)] = 0.0f;
    } else {
        for (int k = 0; k < Ct; k++) /* pred == target: zero gradient in those channels */
            d->target[at(d, 6, Ct, k)] = d->pred[at(d, 6, C, k)];
    }
    /* Pixels of weight 0 hold NaN and Inf everywhere: they must not be read. */
    static const float junk[3] = {NAN, INFINITY, -INFINITY};
    for (int64_t i = 0; i < d->npix; i++) {
        if (d->weight[i] != 0.0f)
            continue;
        for (int k = 0; k < C; k++)
            d->pred[at(d, i, C, k)] = junk[(i + k) % 3];
        for (int k = 0; k < Ct; k++)
            d->target[at(d, i, Ct, k)] = junk[(i + k + 1) % 3];
    }
}

/* ---- Reference ------------------------------------------------------------------------------- */

/* l of one pixel in double: x its C pred channels, t its Ct target channels. */
static double ref_l(ww_loss_kind kind, const double *x, const double *t, int C, int Ct)
{
    double sum = 0.0;
    switch (kind) {
    case WW_LOSS_LAPLACIAN: {
        double s = 1.0 / (1.0 + exp(-x[Ct])), c = 3.75 * s + 0.25;
        for (int k = 0; k < Ct; k++)
            sum += fabs(x[k] - t[k]);
        return sum / c + log(c);
    }
    case WW_LOSS_L1:
        for (int k = 0; k < C; k++)
            sum += fabs(x[k] - t[k]);
        return sum;
    case WW_LOSS_CROSS_ENTROPY: {
        double id = t[0];
        if (!(id >= 0.0 && id < C && id == floor(id)))
            return 0.0;
        double m = x[0];
        for (int k = 1; k < C; k++)
            m = fmax(m, x[k]);
        for (int k = 0; k < C; k++)
            sum += exp(x[k] - m);
        return m + log(sum) - x[(int)id];
    }
    }
    return NAN;
}

/* rloss = weight * l, rdpred = weight * central differences of l (0 at weight 0). */
static void reference(const loss_data *d, double *rloss, double *rdpred)
{
    int C = d->c.C, Ct = d->Ct;
    double x[64], t[64];
    for (int64_t i = 0; i < d->npix; i++) {
        double w = d->weight[i];
        if (w == 0.0) {
            rloss[i] = 0.0;
            for (int k = 0; k < C; k++)
                rdpred[at(d, i, C, k)] = 0.0;
            continue;
        }
        for (int k = 0; k < C; k++)
            x[k] = d->pred[at(d, i, C, k)];
        for (int k = 0; k < Ct; k++)
            t[k] = d->target[at(d, i, Ct, k)];
        rloss[i] = w * ref_l(d->c.kind, x, t, C, Ct);
        for (int k = 0; k < C; k++) {
            double v = x[k];
            x[k] = v + FD_STEP;
            double lp = ref_l(d->c.kind, x, t, C, Ct);
            x[k] = v - FD_STEP;
            double lm = ref_l(d->c.kind, x, t, C, Ct);
            x[k] = v;
            rdpred[at(d, i, C, k)] = w * (lp - lm) / (2 * FD_STEP);
        }
    }
}

/* ---- Running the op -------------------------------------------------------------------------- */

/* ww_loss on be into dpred / loss; then again on the same outputs, which must not change. */
static int loss_run(ww_backend *be, const loss_data *d, float *dpred, float *loss,
                    const char *what)
{
    ww_arena *a = test_arena(be);
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return 0;
    int64_t B = d->c.B, H = d->c.H, W = d->c.W;
    int64_t ne_p[4] = {W, H, d->c.C, B}, ne_t[4] = {W, H, d->Ct, B}, ne_1[4] = {W, H, 1, B};
    test_tensor tp, tt, tw, tdp, tl;
    if (!test_tensor_new(be, a, WW_F32, 4, ne_p, d->pred, &tp) ||
        !test_tensor_new(be, a, WW_F32, 4, ne_t, d->target, &tt) ||
        !test_tensor_new(be, a, WW_F32, 4, ne_1, d->weight, &tw) ||
        !test_tensor_new(be, a, WW_F32, 4, ne_p, NULL, &tdp) ||
        !test_tensor_new(be, a, WW_F32, 4, ne_1, NULL, &tl))
        return 0;
    if (!TEST_OK(be, ww_loss(s, d->c.kind, &tp.t, &tt.t, &tw.t, &tdp.t, &tl.t)) ||
        !test_run(be, s) || !test_tensor_get(be, &tdp, dpred, what) ||
        !test_tensor_get(be, &tl, loss, what))
        return 0;
    float *dpred2 = test_malloc((size_t)d->np * sizeof *dpred2);
    float *loss2 = test_malloc((size_t)d->npix * sizeof *loss2);
    if (!test_run(be, s) || !test_tensor_get(be, &tdp, dpred2, what) ||
        !test_tensor_get(be, &tl, loss2, what))
        return 0;
    if (!TEST_CHECK(!memcmp(dpred, dpred2, (size_t)d->np * sizeof *dpred) &&
                        !memcmp(loss, loss2, (size_t)d->npix * sizeof *loss),
                    "%s: running again changed the outputs (accumulated?)", what))
        return 0;
    return 1;
}

/* Every output of a weight-0 pixel is exactly 0 (not NaN, which compares unequal). */
static int check_masked(const loss_data *d, const float *dpred, const float *loss,
                        const char *what)
{
    int C = d->c.C;
    for (int64_t i = 0; i < d->npix; i++) {
        if (d->weight[i] != 0.0f)
            continue;
        if (loss[i] != 0.0f)
            return TEST_FAIL("%s: loss_px of weight-0 pixel %lld is %g", what, (long long)i,
                             (double)loss[i]);
        for (int k = 0; k < C; k++)
            if (dpred[at(d, i, C, k)] != 0.0f)
                return TEST_FAIL("%s: dpred of weight-0 pixel %lld, channel %d is %g", what,
                                 (long long)i, k, (double)dpred[at(d, i, C, k)]);
    }
    return 1;
}

static void test_values(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const loss_case cs[] = {
        {WW_LOSS_LAPLACIAN, 2, 5, 7, 3},     {WW_LOSS_LAPLACIAN, 1, 3, 11, 5},
        {WW_LOSS_LAPLACIAN, 1, 5, 7, 2},     {WW_LOSS_LAPLACIAN, 3, 33, 65, 3},
        {WW_LOSS_L1, 2, 5, 7, 3},            {WW_LOSS_L1, 1, 3, 11, 1},
        {WW_LOSS_L1, 3, 33, 65, 2},          {WW_LOSS_CROSS_ENTROPY, 2, 5, 7, 5},
        {WW_LOSS_CROSS_ENTROPY, 1, 3, 11, 3}, {WW_LOSS_CROSS_ENTROPY, 2, 5, 7, 1},
        {WW_LOSS_CROSS_ENTROPY, 3, 33, 65, 19},
    };
    ww_backend *cpu = ww_backend_kind_of(be) == WW_BACKEND_VULKAN ? test_backend("cpu") : NULL;
    for (int n = 0; n < (int)(sizeof cs / sizeof cs[0]); n++) {
        loss_data d;
        make_data(&d, &cs[n], 700 + (uint64_t)n);
        char what[128], label[192];
        snprintf(what, sizeof what, "loss %s B=%d C=%d H=%d W=%d", kind_name(cs[n].kind),
                 cs[n].B, cs[n].C, cs[n].H, cs[n].W);
        float *dpred = test_malloc((size_t)d.np * sizeof *dpred);
        float *loss = test_malloc((size_t)d.npix * sizeof *loss);
        if (!loss_run(be, &d, dpred, loss, what))
            continue;
        check_masked(&d, dpred, loss, what);
        double *rdpred = test_malloc((size_t)d.np * sizeof *rdpred);
        double *rloss = test_malloc((size_t)d.npix * sizeof *rloss);
        reference(&d, rloss, rdpred);
        snprintf(label, sizeof label, "%s: loss_px", what);
        TEST_COMPARE(label, loss, rloss, (size_t)d.npix, LOSS_TOL);
        snprintf(label, sizeof label, "%s: dpred vs finite differences", what);
        TEST_COMPARE(label, dpred, rdpred, (size_t)d.np, GRAD_TOL);
        if (!cpu)
            continue;
        float *cdpred = test_malloc((size_t)d.np * sizeof *cdpred);
        float *closs = test_malloc((size_t)d.npix * sizeof *closs);
        snprintf(label, sizeof label, "%s (on the CPU backend)", what);
        if (!loss_run(cpu, &d, cdpred, closs, label))
            continue;
        snprintf(label, sizeof label, "%s: loss_px, Vulkan vs CPU", what);
        TEST_COMPARE_F(label, loss, closs, (size_t)d.npix, PEER_TOL);
        snprintf(label, sizeof label, "%s: dpred, Vulkan vs CPU", what);
        TEST_COMPARE_F(label, dpred, cdpred, (size_t)d.np, PEER_TOL);
    }
}

/* ---- Argument errors ------------------------------------------------------------------------- */

static void test_errors(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return;
    const int64_t B = 2, H = 5, W = 7;
    int64_t ne3[4] = {W, H, 3, B}, ne2[4] = {W, H, 2, B}, ne1[4] = {W, H, 1, B};
    int64_t ne_h[4] = {W, H + 1, 1, B}, ne_big[4] = {W, H, 8, B};
    test_tensor p3, p2, t3, t2, t1, w1, dp3, dp2, l1, o1, wh, u1, big;
    if (!test_tensor_new(be, a, WW_F32, 4, ne3, NULL, &p3) ||
        !test_tensor_new(be, a, WW_F32, 4, ne2, NULL, &p2) ||
        !test_tensor_new(be, a, WW_F32, 4, ne3, NULL, &t3) ||
        !test_tensor_new(be, a, WW_F32, 4, ne2, NULL, &t2) ||
        !test_tensor_new(be, a, WW_F32, 4, ne1, NULL, &t1) ||
        !test_tensor_new(be, a, WW_F32, 4, ne1, NULL, &w1) ||
        !test_tensor_new(be, a, WW_F32, 4, ne3, NULL, &dp3) ||
        !test_tensor_new(be, a, WW_F32, 4, ne2, NULL, &dp2) ||
        !test_tensor_new(be, a, WW_F32, 4, ne1, NULL, &l1) ||
        !test_tensor_new(be, a, WW_F32, 4, ne1, NULL, &o1) ||
        !test_tensor_new(be, a, WW_F32, 4, ne_h, NULL, &wh) ||
        !test_tensor_new(be, a, WW_U32, 4, ne1, NULL, &u1) ||
        !test_tensor_new(be, a, WW_F32, 4, ne_big, NULL, &big))
        return;
    /* the valid forms, one node each */
    TEST_OK(be, ww_loss(s, WW_LOSS_LAPLACIAN, &p3.t, &t2.t, &w1.t, &dp3.t, &l1.t));
    TEST_OK(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t3.t, &w1.t, &dp3.t, &l1.t));
    TEST_OK(be, ww_loss(s, WW_LOSS_CROSS_ENTROPY, &p3.t, &t1.t, &w1.t, &dp3.t, &l1.t));
    int len = ww_seq_length(s);
    TEST_CHECK(len == 3, "3 calls appended %d nodes", len);

    /* target channels that do not fit the kind */
    TEST_STATUS(be, ww_loss(s, WW_LOSS_LAPLACIAN, &p3.t, &t3.t, &w1.t, &dp3.t, &l1.t),
                WW_ERR_INVALID);
    TEST_CHECK(test_contains(ww_backend_error(be), "laplacian") &&
                   test_contains(ww_backend_error(be), "target"),
               "message: %s", ww_backend_error(be));
    TEST_STATUS(be, ww_loss(s, WW_LOSS_LAPLACIAN, &t1.t, &t1.t, &w1.t, &o1.t, &l1.t),
                WW_ERR_INVALID); /* C = 1: no room for the confidence channel */
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t2.t, &w1.t, &dp3.t, &l1.t), WW_ERR_INVALID);
    TEST_STATUS(be, ww_loss(s, WW_LOSS_CROSS_ENTROPY, &p3.t, &t3.t, &w1.t, &dp3.t, &l1.t),
                WW_ERR_INVALID);
    TEST_CHECK(test_contains(ww_backend_error(be), "cross_entropy"), "message: %s",
               ww_backend_error(be));
    TEST_STATUS(be, ww_loss(s, (ww_loss_kind)3, &p3.t, &t1.t, &w1.t, &dp3.t, &l1.t),
                WW_ERR_INVALID);
    /* shapes */
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t3.t, &wh.t, &dp3.t, &l1.t), WW_ERR_INVALID);
    TEST_CHECK(test_contains(ww_backend_error(be), "weight"), "message: %s",
               ww_backend_error(be));
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t3.t, &w1.t, &dp2.t, &l1.t), WW_ERR_INVALID);
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t3.t, &w1.t, &dp3.t, &t2.t), WW_ERR_INVALID);
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &p2.t, &t2.t, &w1.t, &dp2.t, &wh.t), WW_ERR_INVALID);
    /* types, missing and strided tensors */
    TEST_STATUS(be, ww_loss(s, WW_LOSS_CROSS_ENTROPY, &p3.t, &u1.t, &w1.t, &dp3.t, &l1.t),
                WW_ERR_INVALID);
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t3.t, NULL, &dp3.t, &l1.t), WW_ERR_INVALID);
    int64_t nb_s[4] = {1, W, W * H * 2, W * H * 6}; /* every other channel plane of big */
    ww_tensor strided = ww_tensor_view(&big.t, 0, ne3, nb_s);
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &strided, &t3.t, &w1.t, &dp3.t, &l1.t),
                WW_ERR_INVALID);
    /* outputs overlapping an input or each other */
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t3.t, &w1.t, &p3.t, &l1.t), WW_ERR_INVALID);
    TEST_CHECK(test_contains(ww_backend_error(be), "overlaps"), "message: %s",
               ww_backend_error(be));
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t3.t, &w1.t, &dp3.t, &w1.t), WW_ERR_INVALID);
    int64_t nb3[4] = {1, W, W * H, W * H * 3}, nb1[4] = {1, W, W * H, W * H};
    ww_tensor dp_in = ww_tensor_view(&big.t, 0, ne3, nb3);
    ww_tensor l_in = ww_tensor_view(&big.t, W * H * 5, ne1, nb1); /* inside dp_in's range */
    ww_tensor l_out = ww_tensor_view(&big.t, W * H * 6, ne1, nb1); /* past dp_in's range */
    TEST_STATUS(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t3.t, &w1.t, &dp_in, &l_in), WW_ERR_INVALID);
    TEST_OK(be, ww_loss(s, WW_LOSS_L1, &p3.t, &t3.t, &w1.t, &dp_in, &l_out)); /* one buffer */
    len++;
    TEST_CHECK(ww_seq_length(s) == len, "failed calls appended nodes: %d, expected %d",
               ww_seq_length(s), len);
}

#define BOTH(name, fn) {name ".cpu", fn, "cpu"}, {name ".vulkan", fn, "vulkan"}

static const ww_test_case cases[] = {
    BOTH("values", test_values),
    {"errors", test_errors, "cpu"},
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
