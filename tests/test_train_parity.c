/* Training parity with the PyTorch reference (tests/reference/train_ref.py): for each committed
 * fixture tests/fixtures/train_<task>_<mode>.safetensors (made by
 * tests/reference/make_train_fixtures.py, float64) and each backend, the training graph of
 * training/train_graph.h on the tiny model of that task must give
 *   - at the stored weights (a step without update): the micro-batch loss and the gradient of
 *     every parameter tensor ("loss0", "grad.<name>"; normalised error 1e-4 per tensor);
 *   - over 10 optimiser steps on the same micro-batch (a fresh model and graph, update set,
 *     lr from "lrs"): each step's loss and pre-clip gradient norm ("losses", "grad_norms"; 1e-3
 *     relative), then the parameters ("final.<name>"; normalised 1e-3 per tensor) and, more
 *     sharply, what the 10 steps changed (final - initial; normalised 1e-2 per tensor, which sees
 *     weight decay on the wrong tensors or a wrong bias correction).
 * Modes: full (every token), windows (2 windows of 2 x 2 tokens per image; flow: frame 2 has
 * frame 1's windows), windows_indep (flow, frame 2's windows differ).
 *
 * Each case prints one line to stderr with the loss errors and the worst tensor of each
 * comparison. Usage: test_train_parity [NAME-SUBSTRING...]; WW_FIXTURES names the fixture folder.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "safetensors.h"
#include "test_util.h"
#include "train_graph.h"

#define TOL_GRAD 1e-4   /* normalised, per tensor, and the step-0 loss (relative) */
#define TOL_STEP 1e-3   /* losses and gradient norms over the steps (relative) */
#define TOL_FINAL 1e-3  /* parameters after the steps (normalised, per tensor) */
#define TOL_UPDATE 1e-2 /* final - initial (normalised, per tensor) */

/* One training fixture, its arrays in test-owned memory. */
typedef struct train_fixture {
    ww_st_file *f;
    char path[1024], weights[1024];
    ww_train_shape shape;
    ww_optim_config opt;
    int steps;
    float *images, *target, *weight;
    uint32_t *windows; /* NULL without windows */
    size_t n_images, n_windows, n_target, n_weight;
    float loss0;
    float *losses, *grad_norms, *lrs;
} train_fixture;

static int meta_int(const ww_st_file *f, const char *key, int *out)
{
    const char *v = ww_st_meta(f, key);
    char *end = NULL;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!TEST_CHECK(v && end != v && !*end && x >= 0 && x < 1000000,
                    "%s: metadata '%s' is '%s', not a count", ww_st_name(f), key, v ? v : "(none)"))
        return 0;
    *out = (int)x;
    return 1;
}

static int meta_float(const ww_st_file *f, const char *key, float *out)
{
    const char *v = ww_st_meta(f, key);
    char *end = NULL;
    double x = v ? strtod(v, &end) : 0;
    if (!TEST_CHECK(v && end != v && !*end && isfinite(x),
                    "%s: metadata '%s' is '%s', not a number", ww_st_name(f), key,
                    v ? v : "(none)"))
        return 0;
    *out = (float)x;
    return 1;
}

/* Open tests/fixtures/train_<name>.safetensors and read everything but the per-tensor values. */
static int fixture_open(const char *name, train_fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->path, sizeof fx->path, "%s/train_%s.safetensors", test_fixtures_dir(), name);
    char err[512];
    if (!TEST_CHECK(ww_st_open(fx->path, &fx->f, err, sizeof err) == WW_OK, "%s", err))
        return 0;
    const ww_st_file *f = fx->f;
    const char *w = ww_st_meta(f, "weights");
    if (!TEST_CHECK(w && !strchr(w, '/'), "%s: no 'weights' file name in the metadata", fx->path))
        return 0;
    snprintf(fx->weights, sizeof fx->weights, "%s/%s", test_fixtures_dir(), w);
    ww_train_shape *s = &fx->shape;
    ww_optim_config *o = &fx->opt;
    if (!meta_int(f, "batch", &s->batch) || !meta_int(f, "width", &s->width) ||
        !meta_int(f, "height", &s->height) || !meta_int(f, "windows", &s->windows) ||
        !meta_int(f, "window_size", &s->window_size) || !meta_int(f, "steps", &fx->steps) ||
        !meta_float(f, "beta1", &o->beta1) || !meta_float(f, "beta2", &o->beta2) ||
        !meta_float(f, "eps", &o->eps) || !meta_float(f, "weight_decay", &o->weight_decay) ||
        !meta_float(f, "max_norm", &o->max_norm))
        return 0;
    size_t n1 = 0;
    float *l0;
    if (!(fx->images = test_fixture_f32(f, "images", &fx->n_images)) ||
        !(fx->target = test_fixture_f32(f, "target", &fx->n_target)) ||
        !(fx->weight = test_fixture_f32(f, "weight", &fx->n_weight)) ||
        !(l0 = test_fixture_f32(f, "loss0", &n1)) ||
        !TEST_CHECK(n1 == 1, "%s: loss0 has %zu values", fx->path, n1))
        return 0;
    fx->loss0 = l0[0];
    size_t nl = 0, nn = 0, nr = 0;
    if (!(fx->losses = test_fixture_f32(f, "losses", &nl)) ||
        !(fx->grad_norms = test_fixture_f32(f, "grad_norms", &nn)) ||
        !(fx->lrs = test_fixture_f32(f, "lrs", &nr)))
        return 0;
    if (!TEST_CHECK(nl == (size_t)fx->steps && nn == nl && nr == nl,
                    "%s: losses, grad_norms, lrs hold %zu, %zu, %zu values for %d steps", fx->path,
                    nl, nn, nr, fx->steps))
        return 0;
    const ww_st_tensor *wt = ww_st_find(f, "windows");
    if (s->windows) {
        if (!TEST_CHECK(wt && wt->dtype == WW_ST_U32 && wt->ndim == 3 && wt->shape[2] == 2,
                        "%s: windows must be U32 [images, windows, 2]", fx->path))
            return 0;
        fx->n_windows = (size_t)wt->nelements;
        fx->windows = test_malloc(wt->nbytes);
        memcpy(fx->windows, wt->data, wt->nbytes); /* no alignment promised in the file */
    } else if (!TEST_CHECK(wt == NULL, "%s: windows tensor in a file without windows", fx->path)) {
        return 0;
    }
    return 1;
}

/* Normalised error as test_compare_ measures it (infinite for a non-finite value). */
static double norm_err(const float *got, const float *ref, size_t n)
{
    double d2 = 0, r2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]))
            return INFINITY;
        double e = (double)got[i] - ref[i];
        d2 += e * e;
        r2 += (double)ref[i] * ref[i];
    }
    return r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
}

static double rel_err(double got, double ref)
{
    if (!isfinite(got))
        return INFINITY;
    return ref != 0 ? fabs(got - ref) / fabs(ref) : fabs(got);
}

typedef struct worst {
    double err;
    char name[256];
} worst;

/* Compare the flat array got (ww_model_parameters floats, in the model's layout) tensor by tensor
 * with the fixture's "<prefix><name>" arrays; with base, compare got - base with ref - base.
 * Each tensor over tol is a failure with its details; the worst goes to *w. */
static void compare_flat(ww_model *m, const train_fixture *fx, const char *prefix,
                         const float *got, const float *base, double tol, const char *what,
                         worst *w)
{
    w->err = 0;
    w->name[0] = '\0';
    int nt = ww_model_tensor_count(m), compared = 0;
    int64_t total = ww_model_parameters(m), covered = 0;
    for (int i = 0; i < nt; i++) {
        const char *name;
        int ndim;
        int64_t shape[4], off;
        if (!TEST_OK(NULL, ww_model_tensor_info(m, i, &name, &ndim, shape, &off)))
            return;
        char key[512], label[700];
        snprintf(key, sizeof key, "%s%s", prefix, name);
        size_t n = 0;
        float *ref = test_fixture_f32(fx->f, key, &n);
        if (!ref)
            continue;
        const ww_st_tensor *t = ww_st_find(fx->f, key);
        int same = t->ndim == ndim;
        for (int d = 0; same && d < ndim; d++)
            same = t->shape[d] == shape[d];
        if (!TEST_CHECK(same && off >= 0 && off + (int64_t)n <= total,
                        "%s: '%s' has another shape in the fixture, or offset %lld + %zu is "
                        "outside the %lld parameters", what, key, (long long)off, n,
                        (long long)total))
            continue;
        const float *g = got + off;
        float *dg = NULL;
        if (base) { /* updates: got - base against ref - base */
            dg = test_malloc(n * sizeof *dg);
            for (size_t k = 0; k < n; k++) {
                dg[k] = got[off + (int64_t)k] - base[off + (int64_t)k];
                ref[k] -= base[off + (int64_t)k];
            }
            g = dg;
        }
        double e = norm_err(g, ref, n);
        if (e > w->err || !w->name[0]) {
            w->err = e;
            snprintf(w->name, sizeof w->name, "%s", name);
        }
        if (!(e <= tol)) {
            snprintf(label, sizeof label, "%s: %s", what, key);
            TEST_COMPARE_F(label, g, ref, n, tol);
        }
        covered += (int64_t)n;
        compared++;
    }
    TEST_CHECK(compared == nt && covered == total,
               "%s: %d of %d tensors compared, %lld of %lld parameters", what, compared, nt,
               (long long)covered, (long long)total);
    /* the fixture must not hold tensors the model lacks */
    int extra = 0;
    size_t plen = strlen(prefix);
    for (int i = 0; i < ww_st_count(fx->f); i++)
        extra += !strncmp(ww_st_at(fx->f, i)->name, prefix, plen);
    TEST_CHECK(extra == nt, "%s: the fixture has %d '%s*' tensors, the model %d", what, extra,
               prefix, nt);
}

static int check_sizes(ww_train_graph *g, const train_fixture *fx)
{
    size_t ni, nw, nt, nwt;
    ww_train_graph_sizes(g, &ni, &nw, &nt, &nwt);
    return TEST_CHECK(ni == fx->n_images && nw == fx->n_windows && nt == fx->n_target &&
                          nwt == fx->n_weight,
                      "%s: the graph wants images %zu, windows %zu, target %zu, weight %zu "
                      "elements; the fixture has %zu, %zu, %zu, %zu",
                      fx->path, ni, nw, nt, nwt, fx->n_images, fx->n_windows, fx->n_target,
                      fx->n_weight);
}

/* arg: "<task>_<mode>:<device>", e.g. "flow_windows:vulkan". */
static void test_train(const char *arg)
{
    const char *colon = strchr(arg, ':');
    const char *dev = colon + 1;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(colon - arg), arg);
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    train_fixture fx;
    if (!fixture_open(name, &fx)) {
        ww_st_close(fx.f);
        return;
    }
    char what[1200];
    snprintf(what, sizeof what, "%s on %s", fx.path, dev);
    ww_train_batch batch = {fx.images, fx.windows, fx.target, fx.weight};

    /* 1. Loss and gradients at the stored weights. */
    ww_model *m = NULL;
    ww_train_graph *g = NULL;
    double loss0_err = NAN;
    worst wg = {0}, wf = {0}, wu = {0};
    if (TEST_OK(be, ww_model_load(be, fx.weights, &m)) &&
        TEST_OK(be, ww_train_graph_create(m, &fx.shape, &fx.opt, &g)) && check_sizes(g, &fx)) {
        ww_step_scalars sc = {.lr = 0, .step = 1, .grad_scale = 1};
        float loss = NAN;
        if (TEST_OK(be, ww_train_graph_step(g, &batch, 0, &sc, &loss))) {
            loss0_err = rel_err(loss, fx.loss0);
            TEST_CHECK(loss0_err <= TOL_GRAD, "%s: loss %.9g, want %.9g (relative error %.3g)",
                       what, (double)loss, (double)fx.loss0, loss0_err);
            size_t np = (size_t)ww_model_parameters(m);
            float *grads = test_malloc(np * sizeof *grads);
            char w2[1300];
            snprintf(w2, sizeof w2, "%s, gradients", what);
            if (TEST_OK(be, ww_train_graph_read_grads(g, grads, np)))
                compare_flat(m, &fx, "grad.", grads, NULL, TOL_GRAD, w2, &wg);
        }
    }
    ww_train_graph_destroy(g);
    ww_model_destroy(m);
    g = NULL;
    m = NULL;

    /* 2. steps optimiser steps on the same micro-batch, from a fresh model. */
    double worst_loss = 0, worst_norm = 0;
    if (TEST_OK(be, ww_model_load(be, fx.weights, &m)) &&
        TEST_OK(be, ww_train_graph_create(m, &fx.shape, &fx.opt, &g)) && check_sizes(g, &fx)) {
        size_t np = (size_t)ww_model_parameters(m);
        ww_tensor params = ww_model_params(m);
        float *init = test_malloc(np * sizeof *init), *fin = test_malloc(np * sizeof *fin);
        int ok = TEST_OK(be, ww_tensor_read(be, &params, init, np * sizeof *init));
        for (int t = 1; ok && t <= fx.steps; t++) {
            ww_step_scalars sc = {.lr = fx.lrs[t - 1], .step = t, .grad_scale = 1};
            float loss = NAN;
            ok = TEST_OK(be, ww_train_graph_step(g, &batch, 1, &sc, &loss));
            if (!ok)
                break;
            double el = rel_err(loss, fx.losses[t - 1]);
            double en = rel_err(ww_train_graph_grad_norm(g), fx.grad_norms[t - 1]);
            worst_loss = el > worst_loss || isnan(el) ? el : worst_loss;
            worst_norm = en > worst_norm || isnan(en) ? en : worst_norm;
            TEST_CHECK(el <= TOL_STEP, "%s: step %d: loss %.9g, want %.9g (relative error %.3g)",
                       what, t, (double)loss, (double)fx.losses[t - 1], el);
            TEST_CHECK(en <= TOL_STEP,
                       "%s: step %d: gradient norm %.9g, want %.9g (relative error %.3g)", what, t,
                       (double)ww_train_graph_grad_norm(g), (double)fx.grad_norms[t - 1], en);
        }
        if (ok && TEST_OK(be, ww_tensor_read(be, &params, fin, np * sizeof *fin))) {
            char w2[1300];
            snprintf(w2, sizeof w2, "%s, parameters after %d steps", what, fx.steps);
            compare_flat(m, &fx, "final.", fin, NULL, TOL_FINAL, w2, &wf);
            snprintf(w2, sizeof w2, "%s, update (final - initial) of %d steps", what, fx.steps);
            compare_flat(m, &fx, "final.", fin, init, TOL_UPDATE, w2, &wu);
        }
    }
    ww_train_graph_destroy(g);
    ww_model_destroy(m);
    fprintf(stderr,
            "%s: loss0 rel %.2e; gradients worst %.2e (%s); %d steps: loss rel %.2e, norm rel "
            "%.2e; final worst %.2e (%s); update worst %.2e (%s)\n",
            what, loss0_err, wg.err, wg.name, fx.steps, worst_loss, worst_norm, wf.err, wf.name,
            wu.err, wu.name);
    ww_st_close(fx.f);
}

#define CASES(n)                                                                                   \
    {"train." #n ".cpu", test_train, #n ":cpu"}, {"train." #n ".vulkan", test_train, #n ":vulkan"}

static const ww_test_case cases[] = {
    CASES(flow_full),  CASES(flow_windows), CASES(flow_windows_indep),
    CASES(depth_full), CASES(depth_windows), CASES(seg_full),
    CASES(seg_windows),
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
