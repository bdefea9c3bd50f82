/* The trainer's augmentation (training/augment.h) and data loader (training/loader.h).
 *
 * Augmentation on constructed samples: a zoom of 1 without mirrors is an exact crop; mirrors
 * reverse the pixels and negate the flow's component; a zoom of s multiplies flow by s, divides
 * depth by s and resamples the images bilinearly; sparse flow gains no value where the nearest
 * source pixel has none; segmentation ids and 255 survive; the jitter changes colours, both
 * frames alike, and no target; a small sample is zoomed in until it covers the output; the same
 * rng state gives the same bytes.
 *
 * The loader: the same seed and position give the same batch bytes with 1 and 4 threads, in two
 * instances and in any order of requests; a corrupt file is skipped with a warning naming it;
 * unusable data end in a clean error; destroying a loader whose workers are busy.
 *
 * Usage: test_loader [NAME-SUBSTRING...]
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "image_io.h"
#include "loader.h"
#include "test_samples.h"
#include "test_util.h"

enum { ERRLEN = 1024, CLASSES = 5 };

static const char *const task_names[] = {"flow", "depth", "seg"};

/* ---- Constructed samples ----------------------------------------------------------------------- */

/* Linear flow (bilinear resampling reproduces it exactly), depth 1 + (x + y) / 10 m with a
 * block of invalid 0, ids 0 .. CLASSES - 1 with some 255; random images; for flow an occlusion
 * mask and frame 2 = frame 1 when same_frames. */
static int make_sample(ww_task task, int w, int h, uint64_t seed, int same_frames, ww_sample *s)
{
    char err[ERRLEN];
    int frames = ww_task_frames(task);
    if (!TEST_CHECK(ww_sample_alloc(s, w, h, frames, ww_task_target_channels(task), err,
                                    sizeof err) == WW_OK,
                    "%s", err))
        return 0;
    if (task == WW_TASK_FLOW &&
        !TEST_CHECK(ww_sample_alloc_occlusion(s, err, sizeof err) == WW_OK, "%s", err)) {
        ww_sample_free(s);
        return 0;
    }
    test_rng r;
    test_rng_seed(&r, seed);
    size_t n = (size_t)w * (size_t)h;
    for (int f = 0; f < frames; f++)
        for (size_t i = 0; i < 3 * n; i++)
            s->image[f][i] = f == 1 && same_frames ? s->image[0][i]
                                                   : (uint8_t)test_rng_below(&r, 256);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            if (task == WW_TASK_FLOW) {
                s->target[i] = 0.25f * (float)x - 3;
                s->target[n + i] = 0.5f * (float)y + 1;
                s->occlusion[i] = (uint8_t)test_rng_below(&r, 2);
            } else if (task == WW_TASK_DEPTH) {
                s->target[i] = x < w / 4 && y < h / 4 ? 0 : 1 + (float)(x + y) / 10;
            } else {
                uint32_t id = test_rng_below(&r, CLASSES + 1);
                s->target[i] = id == CLASSES ? 255.0f : (float)id;
            }
        }
    return 1;
}

static ww_augment plain(int w, int h)
{
    return (ww_augment){.scale_min = 1, .scale_max = 1, .width = w, .height = h};
}

static int augment_ok(const ww_augment *a, ww_task task, const ww_sample *in, uint64_t seed,
                      ww_sample *out)
{
    char err[ERRLEN];
    ww_rng r;
    ww_rng_seed(&r, seed);
    return TEST_CHECK(ww_augment_apply(a, task, in, &r, out, err, sizeof err) == WW_OK,
                      "augment %s: %s", task_names[task], err);
}

/* ---- Augmentation -------------------------------------------------------------------------- */

/* Zoom 1, no mirror, no jitter: the output is the input's region at some offset, bit for bit. */
static void test_augment_crop(const char *arg)
{
    (void)arg;
    enum { W = 40, H = 30, CW = 32, CH = 16 };
    char err[ERRLEN];
    for (int t = 0; t < 3; t++) {
        ww_task task = (ww_task)t;
        ww_sample in = {0}, whole = {0}, out = {0};
        if (!make_sample(task, W, H, 1 + (uint64_t)t, 0, &in))
            return;
        ww_augment same = plain(W, H), crop = plain(CW, CH);
        if (augment_ok(&same, task, &in, 5, &whole))
            TEST_CHECK(test_samples_equal(&in, &whole, task),
                       "%s: zoom 1 at full size changed bytes", task_names[t]);
        int places = 0;
        for (uint64_t seed = 0; seed < 8; seed++) {
            if (!augment_ok(&crop, task, &in, seed, &out))
                break;
            int found = 0;
            for (int y0 = 0; y0 + CH <= H && !found; y0++)
                for (int x0 = 0; x0 + CW <= W && !found; x0++) {
                    ww_sample ref;
                    if (ww_sample_crop(&in, task, x0, y0, CW, CH, &ref, err, sizeof err) != WW_OK)
                        continue;
                    found = test_samples_equal(&ref, &out, task);
                    places += found && (x0 || y0);
                    ww_sample_free(&ref);
                }
            TEST_CHECK(found, "%s seed %llu: the output is no crop of the input", task_names[t],
                       (unsigned long long)seed);
            ww_sample_free(&out);
        }
        TEST_CHECK(places > 0, "%s: every crop at (0, 0)", task_names[t]);
        ww_sample_free(&in);
        ww_sample_free(&whole);
    }
}

/* Mirrors reverse columns (rows), negate u (v), and carry the mask and the other targets. */
static void test_augment_flip(const char *arg)
{
    (void)arg;
    enum { W = 24, H = 14 };
    for (int t = 0; t < 3; t++) {
        ww_task task = (ww_task)t;
        ww_sample in = {0};
        if (!make_sample(task, W, H, 11, 0, &in))
            return;
        size_t n = test_pixels(&in);
        int seen[2] = {0, 0};
        for (uint64_t seed = 0; seed < 16; seed++) {
            ww_augment a = plain(W, H);
            a.flip = 1;
            ww_sample out;
            if (!augment_ok(&a, task, &in, seed, &out))
                break;
            int mirrored = out.image[0][0] == in.image[0][3 * (W - 1)] &&
                           memcmp(out.image[0], in.image[0], 3 * n) != 0;
            seen[mirrored] = 1;
            if (!mirrored) {
                TEST_CHECK(test_samples_equal(&in, &out, task), "%s: unmirrored output differs",
                           task_names[t]);
                ww_sample_free(&out);
                continue;
            }
            size_t wrong = 0;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    size_t o = (size_t)y * W + (size_t)x, i = (size_t)y * W + (size_t)(W - 1 - x);
                    for (int f = 0; f < ww_task_frames(task); f++)
                        wrong += memcmp(out.image[f] + 3 * o, in.image[f] + 3 * i, 3) != 0;
                    if (task == WW_TASK_FLOW)
                        wrong += out.target[o] != -in.target[i] ||
                                 out.target[n + o] != in.target[n + i] ||
                                 out.occlusion[o] != in.occlusion[i];
                    else
                        wrong += out.target[o] != in.target[i];
                }
            TEST_CHECK(wrong == 0, "%s: %zu pixels not mirrored right", task_names[t], wrong);
            ww_sample_free(&out);
        }
        TEST_CHECK(seen[0] && seen[1], "%s: 16 draws, mirrored %d unmirrored %d", task_names[t],
                   seen[1], seen[0]);
        ww_sample_free(&in);
    }

    /* Flow's up-down mirror, on every time at probability 1. */
    ww_sample in = {0}, out;
    if (!make_sample(WW_TASK_FLOW, W, H, 12, 0, &in))
        return;
    ww_augment a = plain(W, H);
    a.vflip = 1;
    size_t n = test_pixels(&in), wrong = 0;
    if (augment_ok(&a, WW_TASK_FLOW, &in, 3, &out)) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                size_t o = (size_t)y * W + (size_t)x, i = (size_t)(H - 1 - y) * W + (size_t)x;
                wrong += memcmp(out.image[1] + 3 * o, in.image[1] + 3 * i, 3) != 0 ||
                         out.target[o] != in.target[i] || out.target[n + o] != -in.target[n + i];
            }
        TEST_CHECK(wrong == 0, "up-down mirror: %zu pixels wrong", wrong);
        ww_sample_free(&out);
    }
    ww_sample_free(&in);
}

/* Where output pixel x reads for a zoom s with the crop at 0: the source position, clamped. */
static double source_of(int x, double s, int n)
{
    double p = (x + 0.5) / s - 0.5;
    return p < 0 ? 0 : p > n - 1 ? n - 1 : p;
}

/* A zoom of s at offset 0: flow times s (exactly, the field being linear), depth over s, images
 * bilinear, ids copied. */
static void test_augment_scale(const char *arg)
{
    (void)arg;
    static const struct {
        int w, h;
        float s;
    } cases[] = {{64, 48, 0.5f}, {32, 24, 2.0f}, {40, 30, 1.6f}};
    for (int k = 0; k < 3; k++) {
        float s = cases[k].s;
        int ow = (int)floorf(cases[k].w * s), oh = (int)floorf(cases[k].h * s);
        for (int t = 0; t < 3; t++) {
            ww_task task = (ww_task)t;
            ww_sample in = {0}, out;
            if (!make_sample(task, cases[k].w, cases[k].h, 20 + (uint64_t)k, 0, &in))
                return;
            ww_augment a = {.scale_min = s, .scale_max = s, .width = ow, .height = oh};
            if (!augment_ok(&a, task, &in, 1, &out)) {
                ww_sample_free(&in);
                return;
            }
            size_t on = test_pixels(&out), wrong = 0, blur = 0;
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    size_t o = (size_t)y * (size_t)ow + (size_t)x;
                    double px = source_of(x, s, in.width), py = source_of(y, s, in.height);
                    size_t near = (size_t)floor(py + 0.5) * (size_t)in.width +
                                  (size_t)floor(px + 0.5);
                    for (int c = 0; c < 3; c++)
                        blur += fabs(test_bilinear_rgb8(in.image[0], in.width, px, py, c) -
                                     out.image[0][3 * o + (size_t)c]) > 1.5;
                    if (task == WW_TASK_FLOW)
                        wrong += fabs(out.target[o] - s * (0.25 * px - 3)) > 1e-3 ||
                                 fabs(out.target[on + o] - s * (0.5 * py + 1)) > 1e-3;
                    else if (task == WW_TASK_DEPTH)
                        wrong += out.target[o] != in.target[near] / s;
                    else
                        wrong += out.target[o] != in.target[near];
                }
            TEST_CHECK(out.width == ow && out.height == oh, "%s zoom %g: %dx%d, want %dx%d",
                       task_names[t], s, out.width, out.height, ow, oh);
            TEST_CHECK(wrong == 0, "%s zoom %g: %zu of %zu targets wrong", task_names[t], s,
                       wrong, on);
            TEST_CHECK(blur == 0, "%s zoom %g: %zu values off the bilinear image", task_names[t],
                       s, blur);
            if (task == WW_TASK_DEPTH) {
                size_t zeros = 0;
                for (size_t i = 0; i < on; i++)
                    zeros += out.target[i] == 0;
                TEST_CHECK(zeros > 0, "depth zoom %g: the invalid block vanished", s);
            }
            ww_sample_free(&out);
            ww_sample_free(&in);
        }
    }
}

/* Sparse flow: an output pixel is valid exactly when the source pixel nearest to where it reads
 * is, and its vector lies within the valid neighbours' range times the zoom. */
static void test_augment_sparse_flow(const char *arg)
{
    (void)arg;
    enum { W = 50, H = 40 };
    ww_sample in = {0};
    if (!make_sample(WW_TASK_FLOW, W, H, 30, 0, &in))
        return;
    test_rng r;
    test_rng_seed(&r, 31);
    size_t n = test_pixels(&in);
    for (size_t i = 0; i < n; i++)
        if (test_rng_below(&r, 10) >= 2) { /* 20% measured, as LiDAR-based ground truth */
            in.target[i] = NAN;
            in.target[n + i] = NAN;
        } else {
            in.target[i] = test_rng_float(&r, -20, 20);
            in.target[n + i] = test_rng_float(&r, -20, 20);
        }
    in.target[7] = 1e9f; /* a .flo "unknown" marker is invalid too */
    static const float zooms[] = {0.5f, 0.8f, 1.0f, 1.3f, 2.0f, 3.0f};
    for (int k = 0; k < 6; k++) {
        float s = zooms[k];
        int ow = (int)floorf(W * s), oh = (int)floorf(H * s);
        ww_augment a = {.scale_min = s, .scale_max = s, .width = ow, .height = oh};
        ww_sample out;
        if (!augment_ok(&a, WW_TASK_FLOW, &in, 2, &out))
            break;
        size_t on = test_pixels(&out), invented = 0, lost = 0, outside = 0, valid = 0;
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                size_t o = (size_t)y * (size_t)ow + (size_t)x;
                double px = source_of(x, s, W), py = source_of(y, s, H);
                int x0 = (int)px, y0 = (int)py;
                size_t near = (size_t)floor(py + 0.5) * W + (size_t)floor(px + 0.5);
                int src_ok = isfinite(in.target[near]) && fabsf(in.target[near]) < 1e4f;
                int out_ok = isfinite(out.target[o]) && isfinite(out.target[on + o]);
                invented += out_ok && !src_ok;
                lost += src_ok && !out_ok;
                valid += out_ok;
                if (!out_ok)
                    continue;
                double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int xx = x0 + dx < W ? x0 + dx : x0, yy = y0 + dy < H ? y0 + dy : y0;
                        size_t i = (size_t)yy * W + (size_t)xx;
                        if (!isfinite(in.target[i]) || fabsf(in.target[i]) >= 1e4f)
                            continue;
                        for (int c = 0; c < 2; c++) {
                            lo[c] = fmin(lo[c], s * in.target[(size_t)c * n + i]);
                            hi[c] = fmax(hi[c], s * in.target[(size_t)c * n + i]);
                        }
                    }
                for (int c = 0; c < 2; c++)
                    outside += out.target[(size_t)c * on + o] < lo[c] - 1e-3 ||
                               out.target[(size_t)c * on + o] > hi[c] + 1e-3;
            }
        TEST_CHECK(invented == 0 && lost == 0 && outside == 0 && valid > 0,
                   "zoom %g: %zu invented, %zu lost, %zu outside their neighbours, %zu valid",
                   s, invented, lost, outside, valid);
        ww_sample_free(&out);
    }
    ww_sample_free(&in);
}

/* Jitter: colours change, both frames the same way, targets and mask do not. */
static void test_augment_jitter(const char *arg)
{
    (void)arg;
    enum { W = 32, H = 24 };
    for (int t = 0; t < 3; t++) {
        ww_task task = (ww_task)t;
        ww_sample in = {0}, out;
        if (!make_sample(task, W, H, 40, 1, &in))
            return;
        size_t n = test_pixels(&in);
        ww_augment a = plain(W, H);
        a.brightness = a.contrast = a.saturation = 0.4f;
        a.hue = 0.1f;
        int changed = 0;
        for (uint64_t seed = 0; seed < 4; seed++) {
            if (!augment_ok(&a, task, &in, seed, &out))
                break;
            changed += memcmp(out.image[0], in.image[0], 3 * n) != 0;
            size_t tb = n * (size_t)ww_task_target_channels(task) * sizeof(float);
            TEST_CHECK(!memcmp(out.target, in.target, tb), "%s: the jitter changed the target",
                       task_names[t]);
            if (task == WW_TASK_FLOW) {
                TEST_CHECK(!memcmp(out.image[0], out.image[1], 3 * n),
                           "identical frames jittered differently");
                TEST_CHECK(!memcmp(out.occlusion, in.occlusion, n),
                           "the jitter changed the mask");
            }
            ww_sample_free(&out);
        }
        TEST_CHECK(changed == 4, "%s: %d of 4 jitters changed the colours", task_names[t],
                   changed);
        ww_sample_free(&in);
    }
}

/* A sample smaller than the output is zoomed in to cover it: max(48 / 20, 32 / 16) = 2.4. */
static void test_augment_small(const char *arg)
{
    (void)arg;
    ww_sample in = {0}, out;
    if (!make_sample(WW_TASK_FLOW, 20, 16, 50, 0, &in))
        return;
    for (size_t i = 0; i < 2 * test_pixels(&in); i++)
        in.target[i] = 1;
    ww_augment a = plain(48, 32);
    if (augment_ok(&a, WW_TASK_FLOW, &in, 1, &out)) {
        size_t wrong = 0;
        for (size_t i = 0; i < 2 * test_pixels(&out); i++)
            wrong += fabsf(out.target[i] - 2.4f) > 1e-5f;
        TEST_CHECK(out.width == 48 && out.height == 32 && wrong == 0,
                   "%dx%d, %zu vectors not 2.4 (first %g)", out.width, out.height, wrong,
                   out.target[0]);
        ww_sample_free(&out);
    }
    ww_sample_free(&in);
}

/* The default augmentation is a function of the rng state. */
static void test_augment_determinism(const char *arg)
{
    (void)arg;
    for (int t = 0; t < 3; t++) {
        ww_task task = (ww_task)t;
        ww_sample in = {0}, a = {0}, b = {0}, c = {0};
        if (!make_sample(task, 64, 48, 60, 0, &in))
            return;
        ww_augment cfg = ww_augment_default(task, 48, 32);
        if (augment_ok(&cfg, task, &in, 7, &a) && augment_ok(&cfg, task, &in, 7, &b) &&
            augment_ok(&cfg, task, &in, 8, &c)) {
            TEST_CHECK(test_samples_equal(&a, &b, task), "%s: same rng, other bytes",
                       task_names[t]);
            TEST_CHECK(!test_samples_equal(&a, &c, task), "%s: rng seeds 7 and 8 agree",
                       task_names[t]);
        }
        ww_sample_free(&a);
        ww_sample_free(&b);
        ww_sample_free(&c);
        ww_sample_free(&in);
    }
}

#define EXPECT_INVALID(expr, name)                                                             \
    do {                                                                                       \
        ww_status st_ = (expr);                                                                \
        TEST_CHECK(st_ == WW_ERR_INVALID && test_contains(err, (name)),                        \
                   "%s: %s \"%s\", want invalid naming \"%s\"", #expr, ww_status_str(st_),     \
                   err, (name));                                                               \
    } while (0)

static void test_augment_errors(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    ww_augment a = plain(16, 16);
    a.scale_min = 0;
    EXPECT_INVALID(ww_augment_check(&a, err, sizeof err), "scale 0..1");
    a = plain(16, 16);
    a.scale_max = 0.5f;
    EXPECT_INVALID(ww_augment_check(&a, err, sizeof err), "scale 1..0.5");
    a = plain(16, 16);
    a.contrast = 2;
    EXPECT_INVALID(ww_augment_check(&a, err, sizeof err), "contrast jitter 2");
    a = plain(16, 16);
    a.hue = NAN;
    EXPECT_INVALID(ww_augment_check(&a, err, sizeof err), "hue");
    a = plain(0, 16);
    EXPECT_INVALID(ww_augment_check(&a, err, sizeof err), "0x16");
    ww_sample in = {0}, out;
    if (!make_sample(WW_TASK_FLOW, 16, 16, 1, 0, &in))
        return;
    a = plain(16, 16);
    ww_rng r;
    ww_rng_seed(&r, 1);
    float *target = in.target;
    in.target = NULL;
    EXPECT_INVALID(ww_augment_apply(&a, WW_TASK_FLOW, &in, &r, &out, err, sizeof err), "lacks");
    TEST_CHECK(out.image[0] == NULL, "a failed augmentation left arrays");
    in.target = target;
    ww_sample_free(&in);
}

/* ---- The loader ------------------------------------------------------------------------------ */

typedef struct warnings {
    int count;
    char first[ERRLEN];
} warnings;

static void collect(void *user, const char *msg)
{
    warnings *w = user;
    if (w->count++ == 0)
        snprintf(w->first, sizeof w->first, "%s", msg);
}

static ww_batch_spec spec_of(ww_task task, int batch, int w, int h, int windows)
{
    ww_batch_spec s = {.task = task, .batch = batch, .width = w, .height = h,
                       .windows = windows, .window_size = 2, .classes = CLASSES,
                       .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
    return s;
}

static ww_loader *loader_ok(ww_dataset *d, const ww_batch_spec *spec, const ww_augment *a,
                            int threads, int prefetch, uint64_t seed, warnings *w)
{
    char err[ERRLEN];
    ww_loader_config c = {.data = d, .spec = *spec, .augment = a, .threads = threads,
                          .prefetch = prefetch, .seed = seed, .warn = w ? collect : NULL,
                          .user = w};
    ww_loader *l = NULL;
    TEST_CHECK(ww_loader_create(&c, &l, err, sizeof err) == WW_OK, "create: %s", err);
    return l;
}

/* A copy of batch p's arrays (test memory), to compare with another loader's. */
typedef struct batch_copy {
    float *images, *target, *weight;
    uint32_t *windows;
    int64_t valid;
} batch_copy;

static int get_copy(ww_loader *l, const ww_batch_spec *spec, int64_t p, batch_copy *out)
{
    char err[ERRLEN];
    const ww_loader_batch *b;
    if (!TEST_CHECK(ww_loader_get(l, p, &b, err, sizeof err) == WW_OK, "get %lld: %s",
                    (long long)p, err))
        return 0;
    TEST_CHECK(b->position == p, "asked %lld, got the batch of %lld", (long long)p,
               (long long)b->position);
    size_t ni, nw, nt, nwt;
    ww_batch_sizes(spec, &ni, &nw, &nt, &nwt);
    out->images = test_malloc(ni * sizeof(float));
    out->target = test_malloc(nt * sizeof(float));
    out->weight = test_malloc(nwt * sizeof(float));
    out->windows = test_malloc((nw ? nw : 1) * sizeof(uint32_t));
    memcpy(out->images, b->images, ni * sizeof(float));
    memcpy(out->target, b->target, nt * sizeof(float));
    memcpy(out->weight, b->weight, nwt * sizeof(float));
    if (nw)
        memcpy(out->windows, b->windows, nw * sizeof(uint32_t));
    out->valid = b->valid;
    return 1;
}

static int copies_equal(const ww_batch_spec *spec, const batch_copy *a, const batch_copy *b)
{
    size_t ni, nw, nt, nwt;
    ww_batch_sizes(spec, &ni, &nw, &nt, &nwt);
    return a->valid == b->valid && !memcmp(a->images, b->images, ni * sizeof(float)) &&
           !memcmp(a->target, b->target, nt * sizeof(float)) &&
           !memcmp(a->weight, b->weight, nwt * sizeof(float)) &&
           !memcmp(a->windows, b->windows, nw * sizeof(uint32_t));
}

/* What the trainer receives is coherent: in augmented flow batches (full image and windows), frame
 * 2 sampled at p + flow(p) matches frame 1 at p, on the normalised planes, to within a small
 * mean error (occlusions and borders make a few pixels differ), far below the unwarped
 * difference; window targets are the flow at the window's pixels. */
static double plane_at(const float *plane, int w, int h, double x, double y, int *ok)
{
    if (x < 0 || y < 0 || x > w - 1 || y > h - 1) {
        *ok = 0;
        return 0;
    }
    int x0 = (int)x, y0 = (int)y, x1 = x0 + (x0 < w - 1), y1 = y0 + (y0 < h - 1);
    double fx = x - x0, fy = y - y0;
    *ok = 1;
    return (1 - fy) * ((1 - fx) * plane[y0 * w + x0] + fx * plane[y0 * w + x1]) +
           fy * ((1 - fx) * plane[y1 * w + x0] + fx * plane[y1 * w + x1]);
}

static void test_loader_flow_warp(const char *arg)
{
    (void)arg;
    enum { W = 256, H = 192, B = 2 };
    ww_dataset *d = test_open_ok("synthetic:16", WW_TASK_FLOW, W, H, CLASSES, 5);
    for (int windows = 0; d && windows <= 2; windows += 2) {
        ww_batch_spec spec = spec_of(WW_TASK_FLOW, B, W, H, windows);
        spec.window_size = 4;
        ww_augment a = ww_augment_default(WW_TASK_FLOW, W, H);
        ww_loader *l = loader_ok(d, &spec, &a, 2, 0, 11, NULL);
        batch_copy c;
        for (int64_t p = 0; l && p < 3 && get_copy(l, &spec, p, &c); p++) {
            size_t hw = (size_t)W * H;
            int G = windows ? windows : 1, S = windows ? 4 * 16 : 0;
            int th = windows ? S : H, tw = windows ? S : W;
            double warped = 0, still = 0;
            long n = 0;
            for (int b = 0; b < B; b++)
                for (int g = 0; g < G; g++) {
                    int oy = windows ? 16 * (int)c.windows[(b * G + g) * 2] : 0;
                    int ox = windows ? 16 * (int)c.windows[(b * G + g) * 2 + 1] : 0;
                    const float *t = c.target + (size_t)(b * G + g) * 2 * th * tw;
                    for (int y = 0; y < th; y++)
                        for (int x = 0; x < tw; x++) {
                            float u = t[y * tw + x], v = t[th * tw + y * tw + x];
                            int ok = 1;
                            double e = 0, e0 = 0;
                            for (int ch = 0; ch < 3 && ok; ch++) {
                                const float *f1 = c.images + ((size_t)b * 3 + ch) * hw;
                                const float *f2 = c.images + ((size_t)(B + b) * 3 + ch) * hw;
                                double p1 = f1[(oy + y) * W + ox + x];
                                double p2 = plane_at(f2, W, H, ox + x + u, oy + y + v, &ok);
                                e += fabs(p2 - p1);
                                e0 += fabs(f2[(oy + y) * W + ox + x] - p1);
                            }
                            if (ok) {
                                warped += e;
                                still += e0;
                                n++;
                            }
                        }
                }
            TEST_CHECK(n > 0 && warped / n < 0.25 * still / n,
                       "windows %d, batch %lld: warped error %.4f vs unwarped %.4f over %ld px",
                       windows, (long long)p, n ? warped / n : 0.0, n ? still / n : 0.0, n);
        }
        ww_loader_destroy(l);
    }
    ww_dataset_close(d);
}

/* The same seed and position give the same bytes with 1 or 4 threads, in two instances, in any
 * order of requests and with any prefetch depth; another seed gives other batches. */
static void test_loader_determinism(const char *arg)
{
    (void)arg;
    enum { W = 64, H = 48, B = 3, P = 5 };
    for (int t = 0; t < 3; t++) {
        ww_task task = (ww_task)t;
        ww_dataset *d = test_open_ok("synthetic:40", task, W, H, CLASSES, 3);
        if (!d)
            return;
        ww_batch_spec spec = spec_of(task, B, W, H, 2);
        ww_augment a = ww_augment_default(task, W, H);
        ww_loader *one = loader_ok(d, &spec, &a, 1, 0, 9, NULL);
        ww_loader *four = loader_ok(d, &spec, &a, 4, 0, 9, NULL);
        ww_loader *jumpy = loader_ok(d, &spec, &a, 4, 1, 9, NULL);
        ww_loader *other = loader_ok(d, &spec, &a, 2, 0, 10, NULL);
        batch_copy x[P], y[P], z[P], o;
        int ok = one && four && jumpy && other;
        for (int p = 0; ok && p < P; p++)
            ok = get_copy(one, &spec, p, &x[p]) && get_copy(four, &spec, p, &y[p]);
        static const int order[P] = {3, 0, 4, 2, 1};
        for (int k = 0; ok && k < P; k++)
            ok = get_copy(jumpy, &spec, order[k], &z[order[k]]);
        for (int p = 0; ok && p < P; p++) {
            TEST_CHECK(copies_equal(&spec, &x[p], &y[p]), "%s position %d: 1 and 4 threads differ",
                       task_names[t], p);
            TEST_CHECK(copies_equal(&spec, &x[p], &z[p]),
                       "%s position %d: out of order, another instance differs", task_names[t],
                       p);
            TEST_CHECK(x[p].valid > 0, "%s position %d: nothing supervised", task_names[t], p);
        }
        if (ok && get_copy(other, &spec, 0, &o))
            TEST_CHECK(!copies_equal(&spec, &x[0], &o), "%s: seeds 9 and 10 agree",
                       task_names[t]);
        if (ok)
            TEST_CHECK(!copies_equal(&spec, &x[0], &x[1]), "%s: positions 0 and 1 agree",
                       task_names[t]);
        TEST_CHECK(!one || ww_loader_skipped(one) == 0, "good data skipped");
        ww_loader_destroy(one);
        ww_loader_destroy(four);
        ww_loader_destroy(jumpy);
        ww_loader_destroy(other);
        ww_dataset_close(d);
    }
}

/* Positions in order come back in order, each its own, without augmentation too; asking one
 * again, or going back, works. */
static void test_loader_order(const char *arg)
{
    (void)arg;
    enum { W = 32, H = 32, B = 2 };
    char err[ERRLEN];
    ww_dataset *d = test_open_ok("synthetic:9", WW_TASK_DEPTH, W, H, CLASSES, 4);
    if (!d)
        return;
    ww_batch_spec spec = spec_of(WW_TASK_DEPTH, B, W, H, 0);
    ww_loader *l = loader_ok(d, &spec, NULL, 2, 3, 1, NULL);
    batch_copy first, again, back;
    if (l && get_copy(l, &spec, 0, &first)) {
        for (int p = 1; p < 12; p++) {
            const ww_loader_batch *b;
            if (!TEST_CHECK(ww_loader_get(l, p, &b, err, sizeof err) == WW_OK, "get %d: %s", p,
                            err))
                break;
            TEST_CHECK(b->position == p && b->windows == NULL && b->skipped == 0,
                       "position %d: got %lld, windows %p, skipped %d", p,
                       (long long)b->position, (void *)b->windows, b->skipped);
        }
        if (get_copy(l, &spec, 11, &again) && get_copy(l, &spec, 0, &back))
            TEST_CHECK(copies_equal(&spec, &first, &back), "position 0 differs the second time");
    }
    ww_loader_destroy(l);
    ww_dataset_close(d);
}

/* A PNG written as `name`, its first `keep` bytes only when keep > 0 (a truncated file). */
static int write_png(const char *name, int w, int h, int channels, int keep, test_rng *r)
{
    char err[ERRLEN];
    size_t n = (size_t)w * (size_t)h * (size_t)channels;
    uint8_t *px = test_malloc(n);
    for (size_t i = 0; i < n; i++)
        px[i] = (uint8_t)test_rng_below(r, channels == 1 ? CLASSES : 256);
    ww_img img = {.width = w, .height = h, .channels = channels, .depth = 8, .data = px};
    const char *path = test_tmp_path(name);
    if (!TEST_CHECK(ww_img_write_png(path, &img, err, sizeof err) == WW_OK, "%s", err))
        return 0;
    if (keep <= 0)
        return 1;
    size_t size;
    unsigned char *bytes = test_read_bytes(path, &size);
    return bytes && test_write_bytes(path, bytes, (size_t)keep < size ? (size_t)keep : size);
}

/* A seg list of `good` intact samples and `bad` truncated images, opened; NULL after a
 * failure. */
static ww_dataset *open_seg_list(const char *name, int good, int bad, int w, int h)
{
    test_rng r;
    test_rng_seed(&r, 77);
    size_t cap = 32 * (size_t)(good + bad) + 1;
    char *text = test_malloc(cap);
    int ok = write_png("label.png", w, h, 1, 0, &r);
    for (int i = 0; i < good + bad && ok; i++) {
        char img[16];
        snprintf(img, sizeof img, i < good ? "good%d.png" : "bad%d.png", i % 100);
        ok = write_png(img, w, h, 3, i < good ? 0 : 60, &r);
        size_t used = strlen(text);
        snprintf(text + used, cap - used, "%s label.png\n", img);
    }
    if (!ok || !test_write_bytes(test_tmp_path(name), text, strlen(text)))
        return NULL;
    return test_open_ok(test_list_spec(name), WW_TASK_SEG, 0, 0, CLASSES, 1);
}

/* One truncated image among good ones: its batch still comes, a warning names the file, the
 * counts agree, and the replacement is as reproducible as the rest. */
static void test_loader_corrupt(const char *arg)
{
    (void)arg;
    enum { W = 32, H = 32 };
    ww_dataset *d = open_seg_list("mixed.txt", 7, 1, W, H);
    if (!d)
        return;
    ww_batch_spec spec = spec_of(WW_TASK_SEG, 1, W, H, 0);
    warnings w = {0};
    ww_loader *l = loader_ok(d, &spec, NULL, 2, 1, 5, &w);
    char err[ERRLEN];
    int64_t hit = -1;
    for (int64_t p = 0; l && p < 64 && hit < 0; p++) {
        const ww_loader_batch *b;
        if (!TEST_CHECK(ww_loader_get(l, p, &b, err, sizeof err) == WW_OK, "get %lld: %s",
                        (long long)p, err))
            break;
        if (b->skipped) {
            hit = p;
            TEST_CHECK(b->skipped == 1 && b->valid > 0, "position %lld: %d skipped, %lld valid",
                       (long long)p, b->skipped, (long long)b->valid);
        }
    }
    if (TEST_CHECK(hit >= 0, "64 batches of 1 from 8 samples never met the bad one")) {
        int64_t skipped = ww_loader_skipped(l);
        ww_loader_destroy(l);
        l = NULL;
        TEST_CHECK(w.count >= 1 && skipped == w.count, "%d warnings, %lld skipped", w.count,
                   (long long)skipped);
        TEST_CHECK(test_contains(w.first, "bad7.png") && test_contains(w.first, "skipping"),
                   "the warning \"%s\" does not name bad7.png", w.first);
        printf("# position %lld: %s\n", (long long)hit, w.first);
        /* Another loader, without a callback, replaces the sample the same way. */
        ww_loader *a = loader_ok(d, &spec, NULL, 1, 1, 5, NULL);
        ww_loader *b = loader_ok(d, &spec, NULL, 3, 2, 5, NULL);
        batch_copy x, y;
        if (a && b && get_copy(a, &spec, hit, &x) && get_copy(b, &spec, hit, &y))
            TEST_CHECK(copies_equal(&spec, &x, &y), "the replaced batch differs between loaders");
        ww_loader_destroy(a);
        ww_loader_destroy(b);
    }
    ww_loader_destroy(l);
    ww_dataset_close(d);
}

/* Nothing readable: a clean error naming the failures and a file, never a hang or a crash. */
static void test_loader_all_corrupt(const char *arg)
{
    (void)arg;
    enum { W = 32, H = 32 };
    ww_dataset *d = open_seg_list("broken.txt", 0, 3, W, H);
    if (!d)
        return;
    ww_batch_spec spec = spec_of(WW_TASK_SEG, 2, W, H, 0);
    warnings w = {0};
    ww_loader *l = loader_ok(d, &spec, NULL, 2, 2, 5, &w);
    char err[ERRLEN] = "";
    const ww_loader_batch *b = NULL;
    if (l) {
        ww_status st = ww_loader_get(l, 0, &b, err, sizeof err);
        TEST_CHECK(st != WW_OK && b == NULL, "get on broken data: %s", ww_status_str(st));
        TEST_CHECK(test_contains(err, "in a row") && test_contains(err, "bad"),
                   "message \"%s\" lacks the count or the file", err);
        TEST_CHECK(ww_loader_skipped(l) >= WW_LOADER_ATTEMPTS, "%lld skipped",
                   (long long)ww_loader_skipped(l));
        /* The next position fails the same way rather than hanging. */
        st = ww_loader_get(l, 1, &b, err, sizeof err);
        TEST_CHECK(st != WW_OK, "position 1 on broken data: %s", ww_status_str(st));
    }
    ww_loader_destroy(l);
    /* The workers warn until destroy has joined them. */
    TEST_CHECK(w.count >= 2 * WW_LOADER_ATTEMPTS, "%d warnings", w.count);
    ww_dataset_close(d);
}

/* Destroy while the workers are busy with prefetched batches, and before any work. */
static void test_loader_destroy_busy(const char *arg)
{
    (void)arg;
    ww_dataset *d = test_open_ok("synthetic:50", WW_TASK_FLOW, 320, 240, CLASSES, 2);
    if (!d)
        return;
    ww_batch_spec spec = spec_of(WW_TASK_FLOW, 4, 320, 240, 0);
    ww_augment a = ww_augment_default(WW_TASK_FLOW, 320, 240);
    ww_loader *idle = loader_ok(d, &spec, &a, 3, 0, 1, NULL);
    ww_loader_destroy(idle);
    char err[ERRLEN];
    for (int round = 0; round < 2; round++) {
        ww_loader *l = loader_ok(d, &spec, &a, 2, 4, 1, NULL);
        const ww_loader_batch *b;
        if (l && round == 1)
            TEST_CHECK(ww_loader_get(l, 0, &b, err, sizeof err) == WW_OK, "get: %s", err);
        /* round 0: destroy with the first batch in the workers' hands */
        if (l && round == 0)
            TEST_CHECK(ww_loader_get(l, 3, &b, err, sizeof err) == WW_OK, "get: %s", err);
        ww_loader_destroy(l);
    }
    ww_dataset_close(d);
}

static void test_loader_errors(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    ww_dataset *d = test_open_ok("synthetic:4", WW_TASK_FLOW, 64, 48, CLASSES, 1);
    if (!d)
        return;
    ww_batch_spec spec = spec_of(WW_TASK_FLOW, 2, 64, 48, 0);
    ww_augment a = ww_augment_default(WW_TASK_FLOW, 32, 32);
    ww_loader *l = NULL;
    ww_loader_config c = {.data = d, .spec = spec, .augment = &a};
    EXPECT_INVALID(ww_loader_create(&c, &l, err, sizeof err), "32x32");
    c.augment = NULL;
    c.threads = -1;
    EXPECT_INVALID(ww_loader_create(&c, &l, err, sizeof err), "-1 threads");
    c.threads = 1;
    c.spec.windows = 20;
    EXPECT_INVALID(ww_loader_create(&c, &l, err, sizeof err), "do not fit");
    c.spec = spec;
    c.data = NULL;
    EXPECT_INVALID(ww_loader_create(&c, &l, err, sizeof err), "dataset");
    TEST_CHECK(l == NULL, "a failed create left a loader");

    /* Without augmentation the samples must have the batch's size: an error, not a skip. */
    c.data = d;
    c.spec = spec_of(WW_TASK_FLOW, 2, 32, 48, 0);
    l = loader_ok(d, &c.spec, NULL, 1, 0, 1, NULL);
    const ww_loader_batch *b;
    if (l) {
        EXPECT_INVALID(ww_loader_get(l, 0, &b, err, sizeof err), "64x48");
        TEST_CHECK(ww_loader_skipped(l) == 0, "a size mismatch counted as skipped");
        EXPECT_INVALID(ww_loader_get(l, -1, &b, err, sizeof err), "-1");
    }
    ww_loader_destroy(l);
    ww_dataset_close(d);
}

int main(int argc, char **argv)
{
    static const ww_test_case cases[] = {
        {"augment_crop", test_augment_crop, NULL},
        {"augment_flip", test_augment_flip, NULL},
        {"augment_scale", test_augment_scale, NULL},
        {"augment_sparse_flow", test_augment_sparse_flow, NULL},
        {"augment_jitter", test_augment_jitter, NULL},
        {"augment_small", test_augment_small, NULL},
        {"augment_determinism", test_augment_determinism, NULL},
        {"augment_errors", test_augment_errors, NULL},
        {"loader_determinism", test_loader_determinism, NULL},
        {"loader_order", test_loader_order, NULL},
        {"loader_flow_warp", test_loader_flow_warp, NULL},
        {"loader_corrupt", test_loader_corrupt, NULL},
        {"loader_all_corrupt", test_loader_all_corrupt, NULL},
        {"loader_destroy_busy", test_loader_destroy_busy, NULL},
        {"loader_errors", test_loader_errors, NULL},
    };
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
