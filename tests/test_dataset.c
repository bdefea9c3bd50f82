/* The trainer's data (training/dataset.h, training/batch.h): synthetic samples (deterministic,
 * any size, exact flow and occlusion checked by warping, flow scaling with the size, depth
 * geometry, segmentation laid out by context, the textures), list datasets of every task and
 * target format, classes files, every directory layout on small generated trees
 * (and the real samples linked into them), the real samples of the shared data folder, errors
 * that name the file and line or spec, and micro-batch assembly (layouts, normalisation, window
 * crops, weights).
 *
 * The shared data folder comes from the environment variable WW_TEST_DATA (set by meson to
 * ../shared/data beside the repository); the tests that need it are skipped when it is absent.
 *
 * Usage: test_dataset [NAME-SUBSTRING...]
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "dataset.h"
#include "flow_io.h"
#include "image_io.h"
#include "synth.h"
#include "test_hdf5.h"
#include "test_samples.h"
#include "test_util.h"
#include "texture.h"

enum { ERRLEN = 1024 };

static const char *const task_names[] = {"flow", "depth", "seg"};

/* ---- Helpers --------------------------------------------------------------------------------- */

#define EXPECT_ERROR(expr, want, n1, n2) \
    expect_error_(__FILE__, __LINE__, #expr, (expr), (want), err, (n1), (n2))

/* The call failed with status want and a message holding n1 and n2 (either may be NULL). */
static int expect_error_(const char *file, int line, const char *what, ww_status got,
                         ww_status want, const char *err, const char *n1, const char *n2)
{
    if (!test_check_(got == want, file, line, "%s: %s, want %s (%s)", what, ww_status_str(got),
                     ww_status_str(want), got == WW_OK ? "no message" : err))
        return 0;
    const char *need[2] = {n1, n2};
    for (int k = 0; k < 2; k++)
        if (need[k] && !test_check_(test_contains(err, need[k]), file, line,
                                    "%s: message \"%s\" does not name \"%s\"", what, err,
                                    need[k]))
            return 0;
    return 1;
}

/* ww_dataset_open that must fail; closes what opens by mistake. */
#define EXPECT_OPEN_ERROR(spec, task, w, h, classes, want, n1, n2)                              \
    do {                                                                                        \
        ww_dataset *bad_ = NULL;                                                                \
        EXPECT_ERROR(ww_dataset_open((spec), (task), (w), (h), (classes), 1, &bad_, err,        \
                                     sizeof err),                                               \
                     (want), (n1), (n2));                                                       \
        ww_dataset_close(bad_);                                                                 \
    } while (0)

/* With the file rel of the test directory removed, spec fails to open with an I/O error naming
 * its path. */
#define EXPECT_MISSING_FILE(rel, spec, task, classes)                           \
    do {                                                                        \
        const char *missing_ = test_tmp_path(rel);                              \
        unlink(missing_);                                                       \
        EXPECT_OPEN_ERROR((spec), (task), 0, 0, (classes), WW_ERR_IO, missing_, \
                          "No such file");                                      \
    } while (0)

/* Sample index of spec, opened at its files' size, fails to read with status want and a message
 * (left in err, of ERRLEN bytes) holding n1 and n2 (either may be NULL); 1 when it did. */
#define EXPECT_GET_ERROR(spec, task, classes, index, want, n1, n2)                         \
    expect_get_error_(__FILE__, __LINE__, (spec), (task), (classes), (index), (want), err, \
                      (n1), (n2))

static int expect_get_error_(const char *file, int line, const char *spec, ww_task task,
                             int classes, int64_t index, ww_status want, char *err,
                             const char *n1, const char *n2)
{
    ww_dataset *d = test_open_ok(spec, task, 0, 0, classes, 1);
    ww_sample s;
    int ok = d && expect_error_(file, line, spec, ww_dataset_get(d, index, 0, &s, err, ERRLEN),
                                want, err, n1, n2);
    ww_dataset_close(d);
    return ok;
}

static int get_ok(ww_dataset *d, int64_t index, uint64_t seed, ww_sample *s)
{
    char err[ERRLEN];
    return TEST_CHECK(ww_dataset_get(d, index, seed, s, err, sizeof err) == WW_OK,
                      "get %lld: %s", (long long)index, err);
}

/* "list:PATH" for a list file written into the test directory. */
static const char *write_list(const char *name, const char *text)
{
    if (!test_write_bytes(test_tmp_path(name), text, strlen(text)))
        return "list:/nonexistent";
    return test_list_spec(name);
}

/* test_tmp_path(rel) with the directories on its way made, for trees of dataset layouts. */
static const char *tree_path(const char *rel)
{
    const char *path = test_tmp_path(rel);
    char *p = test_malloc(strlen(path) + 1);
    strcpy(p, path);
    for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(p, 0755); /* EEXIST is fine; any other failure shows when the file is written */
        *slash = '/';
    }
    return path;
}

/* Random RGB8 pixels (test memory). */
static uint8_t *random_rgb(int w, int h, test_rng *r)
{
    uint8_t *px = test_malloc((size_t)w * (size_t)h * 3);
    for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++)
        px[i] = (uint8_t)test_rng_below(r, 256);
    return px;
}

/* A random RGB8 image written as PNG at rel in the test directory; its bytes (test memory). */
static uint8_t *write_rgb(const char *rel, int w, int h, test_rng *r)
{
    char err[ERRLEN];
    uint8_t *px = random_rgb(w, h, r);
    ww_img img = {.width = w, .height = h, .channels = 3, .depth = 8, .data = px};
    TEST_CHECK(ww_img_write_png(tree_path(rel), &img, err, sizeof err) == WW_OK, "%s", err);
    return px;
}

static int write_gray(const char *rel, int w, int h, int depth, const void *data)
{
    char err[ERRLEN];
    ww_img img = {.width = w, .height = h, .channels = 1, .depth = depth, .data = (void *)data};
    return TEST_CHECK(ww_img_write_png(tree_path(rel), &img, err, sizeof err) == WW_OK, "%s",
                      err);
}

/* Text written at rel in the test directory. */
static int write_text(const char *rel, const char *text)
{
    return test_write_bytes(tree_path(rel), text, strlen(text));
}

typedef struct warp_stats {
    double e_warp, e_id; /* mean abs error (levels) along the flow, and without moving */
    size_t used;         /* pixels compared: valid flow landing inside frame 2 */
} warp_stats;

/* Frame 2 sampled at p + flow(p) against frame 1 at p, over the pixels whose flow is valid and
 * lands inside frame 2 (occluded ones included, so that error is not zero). */
static void warp_check(const ww_sample *s, warp_stats *w)
{
    size_t n = test_pixels(s);
    memset(w, 0, sizeof *w);
    for (int y = 0; y < s->height; y++)
        for (int x = 0; x < s->width; x++) {
            size_t i = (size_t)y * (size_t)s->width + (size_t)x;
            double u = s->target[i], v = s->target[n + i], tx = x + u, ty = y + v;
            if (!isfinite(u) || !isfinite(v) || tx < 0 || ty < 0 || tx > s->width - 1 ||
                ty > s->height - 1)
                continue;
            w->used++;
            for (int k = 0; k < 3; k++) {
                double a = s->image[0][3 * i + (size_t)k];
                w->e_warp += fabs(test_bilinear_rgb8(s->image[1], s->width, tx, ty, k) - a);
                w->e_id += fabs((double)s->image[1][3 * i + (size_t)k] - a);
            }
        }
    if (w->used) {
        w->e_warp /= 3.0 * (double)w->used;
        w->e_id /= 3.0 * (double)w->used;
    }
}

/* A real sample's flow explains its frames: frame 2 along it is at most half as far from frame 1
 * as frame 2 unmoved. what names the sample in the log and the messages. */
static void expect_warp(const ww_sample *s, const char *what)
{
    warp_stats w;
    warp_check(s, &w);
    printf("# %s: mean abs error %.2f levels along the flow, %.2f without it\n", what, w.e_warp,
           w.e_id);
    TEST_CHECK(w.e_warp < 0.5 * w.e_id, "%s: warp error %.2f levels, identity %.2f", what,
               w.e_warp, w.e_id);
}

/* ---- Specs ----------------------------------------------------------------------------------- */

static void test_specs(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    EXPECT_OPEN_ERROR("bogus", WW_TASK_FLOW, 64, 64, 0, WW_ERR_INVALID, "bogus", "synthetic");
    EXPECT_OPEN_ERROR(NULL, WW_TASK_FLOW, 64, 64, 0, WW_ERR_INVALID, "spec", NULL);
    EXPECT_OPEN_ERROR("synthetic:0", WW_TASK_FLOW, 64, 64, 0, WW_ERR_INVALID, "synthetic:0",
                      "positive");
    EXPECT_OPEN_ERROR("synthetic:12x", WW_TASK_FLOW, 64, 64, 0, WW_ERR_INVALID, "synthetic:12x",
                      NULL);
    EXPECT_OPEN_ERROR("synthetic:", WW_TASK_FLOW, 64, 64, 0, WW_ERR_INVALID, "synthetic:", NULL);
    EXPECT_OPEN_ERROR("synthetic:-3", WW_TASK_FLOW, 64, 64, 0, WW_ERR_INVALID, "synthetic:-3",
                      NULL);
    EXPECT_OPEN_ERROR("synthetics", WW_TASK_FLOW, 64, 64, 0, WW_ERR_INVALID, "synthetics", NULL);
    EXPECT_OPEN_ERROR("synthetic", WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID, "synthetic",
                      "width and height");
    EXPECT_OPEN_ERROR("synthetic", WW_TASK_DEPTH, 64, 0, 0, WW_ERR_INVALID, "64x0", NULL);
    EXPECT_OPEN_ERROR("synthetic", WW_TASK_DEPTH, -64, 64, 0, WW_ERR_INVALID, "-64x64", NULL);
    EXPECT_OPEN_ERROR("synthetic", WW_TASK_SEG, 64, 64, 0, WW_ERR_INVALID, "classes 0", NULL);
    EXPECT_OPEN_ERROR("synthetic", WW_TASK_SEG, 64, 64, 256, WW_ERR_INVALID, "classes 256",
                      NULL);
    EXPECT_OPEN_ERROR("synthetic", (ww_task)7, 64, 64, 0, WW_ERR_INVALID, "task 7", NULL);
    EXPECT_OPEN_ERROR("list:", WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID, "list:", NULL);

    ww_dataset *d = test_open_ok("synthetic", WW_TASK_FLOW, 64, 32, 0, 1);
    if (d) {
        TEST_CHECK(ww_dataset_size(d) == 1000, "default size %lld, want 1000",
                   (long long)ww_dataset_size(d));
        ww_dataset_close(d);
    }
    d = test_open_ok("synthetic:7", WW_TASK_SEG, 64, 32, 3, 1);
    if (d) {
        TEST_CHECK(ww_dataset_size(d) == 7, "size %lld, want 7", (long long)ww_dataset_size(d));
        ww_sample s;
        EXPECT_ERROR(ww_dataset_get(d, 7, 0, &s, err, sizeof err), WW_ERR_INVALID, "7", "0..6");
        EXPECT_ERROR(ww_dataset_get(d, -1, 0, &s, err, sizeof err), WW_ERR_INVALID, "-1", NULL);
        TEST_CHECK(s.image[0] == NULL && s.target == NULL, "failed get left arrays");
        ww_dataset_close(d);
    }
}

/* ---- Synthetic samples ----------------------------------------------------------------------- */

static void test_synth_determinism(const char *arg)
{
    (void)arg;
    for (int t = 0; t < 3; t++) {
        ww_task task = (ww_task)t;
        ww_dataset *d = test_open_ok("synthetic:10", task, 80, 48, 5, 11);
        ww_dataset *e = test_open_ok("synthetic:10", task, 80, 48, 5, 12);
        ww_sample a = {0}, b = {0}, c = {0}, x = {0}, y = {0};
        if (d && e && get_ok(d, 3, 7, &a) && get_ok(d, 3, 7, &b) && get_ok(d, 4, 7, &c) &&
            get_ok(d, 3, 8, &x) && get_ok(e, 3, 7, &y)) {
            TEST_CHECK(a.width == 80 && a.height == 48, "%s: %dx%d, want 80x48", task_names[t],
                       a.width, a.height);
            TEST_CHECK((a.image[1] != NULL) == (task == WW_TASK_FLOW), "%s: image[1] %p",
                       task_names[t], (void *)a.image[1]);
            TEST_CHECK(test_samples_equal(&a, &b, task), "%s: same index and seed, other bytes",
                       task_names[t]);
            TEST_CHECK((a.occlusion != NULL) == (task == WW_TASK_FLOW) &&
                           (!a.occlusion || !memcmp(a.occlusion, b.occlusion, test_pixels(&a))),
                       "%s: occlusion mask missing or not repeated", task_names[t]);
            TEST_CHECK(!test_samples_equal(&a, &c, task), "%s: index 3 and 4 give the same sample",
                       task_names[t]);
            TEST_CHECK(!test_samples_equal(&a, &x, task), "%s: seeds 7 and 8 give the same sample",
                       task_names[t]);
            TEST_CHECK(!test_samples_equal(&a, &y, task),
                       "%s: dataset seeds 11 and 12 give the same sample", task_names[t]);
        }
        ww_sample_free(&a);
        ww_sample_free(&b);
        ww_sample_free(&c);
        ww_sample_free(&x);
        ww_sample_free(&y);
        ww_dataset_close(d);
        ww_dataset_close(e);
    }
}

/* Sizes down to one pixel: whole samples, finite flow with its mask, depths and labels in
 * range. */
static void test_synth_sizes(const char *arg)
{
    (void)arg;
    static const int sizes[][2] = {{1, 1}, {1, 9}, {9, 1}, {3, 2}, {33, 17}};
    for (int t = 0; t < 3; t++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            int w = sizes[k][0], h = sizes[k][1];
            ww_dataset *d = test_open_ok("synthetic:4", (ww_task)t, w, h, 12, 3);
            for (int i = 0; d && i < 4; i++) {
                ww_sample s;
                if (!get_ok(d, i, 0, &s))
                    break;
                size_t n = test_pixels(&s), bad = 0;
                for (size_t j = 0; j < n * (size_t)ww_task_target_channels((ww_task)t); j++) {
                    float v = s.target[j];
                    bad += t == WW_TASK_FLOW    ? !isfinite(v)
                           : t == WW_TASK_DEPTH ? !(v >= 0 && v <= 80)
                                                : !(v >= 0 && v < 12 && v == floorf(v));
                }
                TEST_CHECK(s.width == w && s.height == h && bad == 0 &&
                               (t != WW_TASK_FLOW || s.occlusion),
                           "%s %dx%d sample %d: %dx%d, %zu bad targets, mask %p", task_names[t],
                           w, h, i, s.width, s.height, bad, (void *)s.occlusion);
                ww_sample_free(&s);
            }
            ww_dataset_close(d);
        }
}

typedef struct occlusion_stats {
    size_t total, marked;   /* pixels, and those marked occluded */
    size_t outside, missed; /* pixels whose flow leaves frame 2, and those not marked */
    size_t visible, hidden; /* compared pixels: surely visible, marked occluded */
    double e_visible, e_hidden; /* their mean abs error (levels) along the flow */
    double sum_mag, max_mag;
    size_t small;           /* pixels moving less than min(W, H) / 20 */
} occlusion_stats;

/* Frame 2 sampled at p + flow(p) against frame 1 at p, over the pixels whose flow lands inside
 * frame 2: those marked occluded, and those surely visible (unmarked, and their 3 x 3
 * neighbourhood unmarked and moving alike, so that p + flow's neighbourhood in frame 2 shows the
 * same surface). Sums into o; the caller divides. */
static void occlusion_check(const ww_sample *s, occlusion_stats *o)
{
    int w = s->width, h = s->height;
    size_t n = test_pixels(s);
    double side = w < h ? w : h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            double u = s->target[i], v = s->target[n + i], tx = x + u, ty = y + v;
            double mag = hypot(u, v);
            o->total++;
            o->marked += s->occlusion[i];
            o->sum_mag += mag;
            o->max_mag = fmax(o->max_mag, mag);
            o->small += mag < side / 20;
            if (tx < -0.5 || ty < -0.5 || tx >= w - 0.5 || ty >= h - 0.5) {
                o->outside++;
                o->missed += !s->occlusion[i];
                continue;
            }
            if (tx < 0 || ty < 0 || tx > w - 1 || ty > h - 1)
                continue;
            double e = 0;
            for (int k = 0; k < 3; k++)
                e += fabs(test_bilinear_rgb8(s->image[1], w, tx, ty, k) -
                          s->image[0][3 * i + (size_t)k]) / 3;
            if (s->occlusion[i]) {
                o->e_hidden += e;
                o->hidden++;
                continue;
            }
            int sure = x > 0 && y > 0 && x + 1 < w && y + 1 < h;
            for (int dy = -1; dy <= 1 && sure; dy++)
                for (int dx = -1; dx <= 1 && sure; dx++) {
                    size_t j = (size_t)((int64_t)i + dy * w + dx);
                    sure = !s->occlusion[j] &&
                           fabs(s->target[j] - u) + fabs(s->target[n + j] - v) < 1;
                }
            if (sure) {
                o->e_visible += e;
                o->visible++;
            }
        }
}

/* Frame 2 along the ground truth reproduces frame 1 wherever the mask says the point stays
 * visible; the mask covers every point that leaves the image, and the points it marks inside
 * the image do not match. */
static void test_synth_flow_warp(const char *arg)
{
    (void)arg;
    enum { W = 192, H = 128, N = 16 };
    ww_dataset *d = test_open_ok("synthetic:100", WW_TASK_FLOW, W, H, 0, 5);
    if (!d)
        return;
    occlusion_stats o = {0};
    int varied = 0;
    for (int k = 0; k < N; k++) {
        ww_sample s;
        if (!get_ok(d, k, 0, &s))
            break;
        size_t n = test_pixels(&s), finite = 0;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            finite += isfinite(s.target[i]) && isfinite(s.target[n + i]);
            lo = fminf(lo, s.target[i]);
            hi = fmaxf(hi, s.target[i]);
        }
        TEST_CHECK(finite == n, "sample %d: %zu of %zu flow values not finite", k, n - finite, n);
        varied += hi - lo > 1;
        if (TEST_CHECK(s.occlusion != NULL, "sample %d: no occlusion mask", k))
            occlusion_check(&s, &o);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    if (!TEST_CHECK(o.visible && o.hidden, "%zu pixels surely visible, %zu marked occluded",
                    o.visible, o.hidden))
        return;
    double e_visible = o.e_visible / (double)o.visible, e_hidden = o.e_hidden / (double)o.hidden;
    double marked = (double)o.marked / (double)o.total;
    printf("# synthetic flow %dx%d, %d samples: %.2f levels along the flow on the %.1f%% surely "
           "visible, %.2f on the %.1f%% marked occluded (%.1f%% of them leave the image); "
           "largest flow %.1f px\n",
           W, H, N, e_visible, 100.0 * (double)o.visible / (double)o.total, e_hidden,
           100 * marked, 100.0 * (double)o.outside / (double)(o.marked ? o.marked : 1),
           o.max_mag);
    TEST_CHECK(o.missed == 0, "%zu of %zu pixels leave frame 2 unmarked", o.missed, o.outside);
    TEST_CHECK(o.visible > o.total / 2 && e_visible < 1.5,
               "%zu of %zu pixels surely visible, warp error %.2f levels there", o.visible,
               o.total, e_visible);
    TEST_CHECK(e_hidden > 4 * e_visible, "occluded pixels warp with %.2f levels, visible %.2f",
               e_hidden, e_visible);
    TEST_CHECK(marked > 0.005 && marked < 0.5, "%.2f%% of pixels marked occluded", 100 * marked);
    TEST_CHECK(o.max_mag <= H / 4.0 && o.max_mag > H / 16.0, "largest flow %.2f px for %dx%d",
               o.max_mag, W, H);
    TEST_CHECK(varied >= N - 1, "only %d of %d samples have a varied flow", varied, N);
}

/* The same draws at four times the size give the same scene scaled: four times the flow. Most
 * motion is small against the image, some large. */
static void test_synth_flow_scale(const char *arg)
{
    (void)arg;
    enum { N = 8 };
    ww_dataset *small = test_open_ok("synthetic", WW_TASK_FLOW, 96, 64, 0, 8);
    ww_dataset *large = test_open_ok("synthetic", WW_TASK_FLOW, 384, 256, 0, 8);
    occlusion_stats o[2] = {{0}};
    for (int k = 0; small && large && k < N; k++) {
        ww_sample a, b;
        if (!get_ok(small, k, 0, &a))
            break;
        if (get_ok(large, k, 0, &b)) {
            occlusion_stats pa = {0}, pb = {0};
            occlusion_check(&a, &pa);
            occlusion_check(&b, &pb);
            double ratio = (pb.sum_mag / (double)pb.total) / (pa.sum_mag / (double)pa.total);
            TEST_CHECK(ratio > 3.6 && ratio < 4.4, "sample %d: mean flow %.3f px at 96x64, %.3f "
                       "at 384x256 (ratio %.2f, want 4)", k, pa.sum_mag / (double)pa.total,
                       pb.sum_mag / (double)pb.total, ratio);
            ww_sample_free(&b);
        }
        occlusion_check(&a, &o[0]);
        ww_sample_free(&a);
    }
    ww_dataset_close(small);
    ww_dataset_close(large);
    /* Over more samples: most pixels move less than min(W, H) / 20, some much more. */
    ww_dataset *d = test_open_ok("synthetic", WW_TASK_FLOW, 160, 120, 0, 9);
    for (int k = 0; d && k < 48; k++) {
        ww_sample s;
        if (!get_ok(d, k, 0, &s))
            break;
        occlusion_check(&s, &o[1]);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    double small_share = (double)o[1].small / (double)(o[1].total ? o[1].total : 1);
    printf("# synthetic flow 160x120: %.1f%% of pixels move less than 6 px, largest %.1f px\n",
           100 * small_share, o[1].max_mag);
    TEST_CHECK(small_share > 0.5 && o[1].max_mag > 120 / 10.0,
               "%.1f%% of pixels below 6 px, largest flow %.1f px", 100 * small_share,
               o[1].max_mag);
}

static void test_synth_depth(const char *arg)
{
    (void)arg;
    enum { W = 128, H = 96, N = 8 };
    ww_dataset *d = test_open_ok("synthetic", WW_TASK_DEPTH, W, H, 0, 2);
    if (!d)
        return;
    size_t valid = 0, invalid = 0, bad = 0, top_invalid = 0, flat = 0;
    size_t triples = 0, planar = 0, patches = 0, textured = 0;
    double near_sum = 0, far_sum = 0, zmin = 1e9, zmax = 0;
    size_t near_n = 0, far_n = 0;
    for (int k = 0; k < N; k++) {
        ww_sample s;
        if (!get_ok(d, k, 3, &s))
            break;
        TEST_CHECK(s.image[1] == NULL && s.occlusion == NULL, "depth sample has flow's arrays");
        double mean = 0, var = 0;
        for (size_t i = 0; i < test_pixels(&s) * 3; i++)
            mean += s.image[0][i];
        mean /= (double)(test_pixels(&s) * 3);
        for (size_t i = 0; i < test_pixels(&s) * 3; i++)
            var += (s.image[0][i] - mean) * (s.image[0][i] - mean);
        flat += sqrt(var / (double)(test_pixels(&s) * 3)) < 10;
        const float *z = s.target;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                size_t i = (size_t)y * W + (size_t)x;
                if (z[i] == 0) {
                    invalid++;
                    top_invalid += y == 0;
                    continue;
                }
                if (!(z[i] >= 0.3f && z[i] <= 80)) {
                    bad++;
                    continue;
                }
                valid++;
                zmin = fmin(zmin, z[i]);
                zmax = fmax(zmax, z[i]);
                if (y >= H * 9 / 10) {
                    near_sum += z[i];
                    near_n++;
                } else if (y >= H / 2 && y < H * 6 / 10) {
                    far_sum += z[i];
                    far_n++;
                }
                /* Planes (the ground, boxes' faces) have inverse depth affine in the pixel
                 * position: zero second differences down the columns. */
                if (y > 0 && y + 1 < H && z[i - W] > 0 && z[i + W] > 0) {
                    double d2 = 1 / z[i - W] - 2 / z[i] + 1 / z[i + W];
                    triples++;
                    planar += fabs(d2) < 1e-3 / z[i];
                }
                /* Texture where the surface is smooth: the 3 x 3 patch is not one colour. */
                if (x > 0 && y > 0 && x + 1 < W && y + 1 < H && x % 3 == 0 && y % 3 == 0) {
                    int lo = 255, hi = 0, smooth = 1;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++) {
                            size_t j = (size_t)((int64_t)i + dy * W + dx);
                            smooth &= fabsf(z[j] - z[i]) < 0.05f * z[i];
                            lo = s.image[0][3 * j + 1] < lo ? s.image[0][3 * j + 1] : lo;
                            hi = s.image[0][3 * j + 1] > hi ? s.image[0][3 * j + 1] : hi;
                        }
                    patches += smooth;
                    textured += smooth && hi > lo;
                }
            }
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    size_t all = (size_t)N * W * H;
    printf("# synthetic depth %dx%d: %.1f%% valid, %.2f .. %.2f m, %.1f%% of column triples "
           "planar, %.1f%% of smooth patches textured\n",
           W, H, 100.0 * (double)valid / (double)all, zmin, zmax,
           100.0 * (double)planar / (double)(triples ? triples : 1),
           100.0 * (double)textured / (double)(patches ? patches : 1));
    TEST_CHECK(bad == 0, "%zu depths outside 0.3..80 m and not 0", bad);
    TEST_CHECK(invalid > all / 50 && valid > all / 2, "%zu valid, %zu invalid (sky) of %zu",
               valid, invalid, all);
    TEST_CHECK(top_invalid > (size_t)N * W / 2, "only %zu of the top rows' %d pixels are sky",
               top_invalid, N * W);
    TEST_CHECK(zmin < 5 && zmax > 30, "depths span %.2f .. %.2f m", zmin, zmax);
    TEST_CHECK(flat == 0, "%zu images without texture", flat);
    TEST_CHECK(planar > triples * 85 / 100, "%zu of %zu column triples planar", planar, triples);
    TEST_CHECK(textured > patches * 8 / 10, "%zu of %zu smooth patches textured", textured,
               patches);
    if (TEST_CHECK(near_n && far_n, "no valid depth at the bottom or the middle"))
        TEST_CHECK(near_sum / (double)near_n < 0.5 * far_sum / (double)far_n,
                   "bottom rows at %.1f m, middle rows at %.1f m: the ground does not recede",
                   near_sum / (double)near_n, far_sum / (double)far_n);
}

typedef struct seg_stats {
    double row[256], count[256];
    size_t bad;
    size_t patches, textured; /* 3 x 3 patches of one class, and those not of one colour */
} seg_stats;

/* Label statistics of `samples` seg samples of dataset spec with classes classes. */
static void seg_collect(int w, int h, int classes, int samples, seg_stats *st)
{
    memset(st, 0, sizeof *st);
    ww_dataset *d = test_open_ok("synthetic", WW_TASK_SEG, w, h, classes, 4);
    for (int k = 0; d && k < samples; k++) {
        ww_sample s;
        if (!get_ok(d, k, 9, &s))
            break;
        const float *l = s.target;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * (size_t)w + (size_t)x;
                int c = (int)l[i];
                if (!(l[i] >= 0 && l[i] < classes && l[i] == (float)c)) {
                    st->bad++;
                    continue;
                }
                st->row[c] += y;
                st->count[c]++;
                if (x == 0 || y == 0 || x + 1 == w || y + 1 == h || (x + y) % 2)
                    continue;
                int lo = 255, hi = 0, one = 1;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        size_t j = (size_t)((int64_t)i + dy * w + dx);
                        int g = s.image[0][3 * j + 1];
                        one &= l[j] == l[i];
                        lo = g < lo ? g : lo;
                        hi = g > hi ? g : hi;
                    }
                st->patches += one;
                st->textured += one && hi > lo;
            }
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    for (int c = 0; c < classes; c++)
        st->row[c] /= st->count[c] ? st->count[c] : 1;
}

static const char *class_name(int id)
{
    const char *name = ww_synth_seg_class_name(id);
    return name ? name : "?";
}

/* Street scenes: the classes' places follow context (sky above, road below, cars on the road),
 * textures vary inside a class, fewer classes keep the first ones, more add generic ones. */
static void test_synth_seg(const char *arg)
{
    (void)arg;
    enum { W = 160, H = 96, N = 24 };
    enum { SKY, TERRAIN, ROAD, BUILDING, VEGETATION, CAR, PERSON, NAMED = 12 };
    seg_stats *st = test_malloc(sizeof *st);
    seg_collect(W, H, NAMED, N, st);
    int seen = 0;
    for (int c = 0; c < NAMED; c++)
        seen += st->count[c] > 0;
    printf("# synthetic seg %dx%d, %d classes, %d samples: %d classes seen; mean rows: sky "
           "%.1f, building %.1f, car %.1f, road %.1f; %.1f%% of one-class patches textured\n",
           W, H, NAMED, N, seen, st->row[SKY], st->row[BUILDING], st->row[CAR], st->row[ROAD],
           100.0 * (double)st->textured / (double)(st->patches ? st->patches : 1));
    TEST_CHECK(st->bad == 0, "%zu labels not an integer in 0..%d", st->bad, NAMED - 1);
    TEST_CHECK(seen >= NAMED - 2, "only %d of %d classes seen", seen, NAMED);
    for (int c = SKY; c <= PERSON; c++)
        TEST_CHECK(st->count[c] > 0, "class %d (%s) never appears", c, class_name(c));
    TEST_CHECK(st->row[SKY] + H / 4.0 < st->row[ROAD] && st->row[SKY] < st->row[TERRAIN] &&
                   st->row[SKY] < st->row[CAR] && st->row[BUILDING] < st->row[ROAD],
               "mean rows: sky %.1f, terrain %.1f, car %.1f, building %.1f, road %.1f",
               st->row[SKY], st->row[TERRAIN], st->row[CAR], st->row[BUILDING], st->row[ROAD]);
    TEST_CHECK(st->textured > st->patches * 8 / 10, "%zu of %zu one-class patches textured",
               st->textured, st->patches);

    seg_collect(W, H, 2, 8, st); /* two classes: sky and ground */
    TEST_CHECK(st->bad == 0 && st->count[0] > 0 && st->count[1] > 0 &&
                   st->row[0] < st->row[1],
               "2 classes: %zu bad labels, sky %.0f px at row %.1f, ground %.0f px at row %.1f",
               st->bad, st->count[0], st->row[0], st->count[1], st->row[1]);
    seg_collect(W, H, 1, 2, st);
    TEST_CHECK(st->bad == 0 && st->count[0] == 2.0 * W * H, "1 class: %zu bad labels", st->bad);
    seg_collect(W, H, 40, 16, st); /* generic classes after the named ones */
    int generic = 0;
    for (int c = NAMED; c < 40; c++)
        generic += st->count[c] > 0;
    TEST_CHECK(st->bad == 0 && generic >= 5, "40 classes: %zu bad labels, %d generic classes seen",
               st->bad, generic);

    uint8_t rgb[3];
    ww_synth_seg_class_color(ROAD, rgb);
    TEST_CHECK(!strcmp(class_name(SKY), "sky") && !strcmp(class_name(ROAD), "road") &&
                   !strcmp(class_name(12), "class_12") && !strcmp(class_name(254), "class_254") &&
                   ww_synth_seg_class_name(255) == NULL && ww_synth_seg_class_name(-1) == NULL,
               "class names: %s, %s, %s, %s", class_name(SKY), class_name(ROAD), class_name(12),
               class_name(254));
    TEST_CHECK(rgb[0] == 128 && rgb[1] == 64 && rgb[2] == 128,
               "road's colour (%d, %d, %d), want Cityscapes' (128, 64, 128)", rgb[0], rgb[1],
               rgb[2]);
    int distinct = 1;
    uint8_t other[3];
    for (int c = 0; c < 255 && distinct; c++)
        for (int e = c + 1; e < 255 && distinct; e++) {
            ww_synth_seg_class_color(c, rgb);
            ww_synth_seg_class_color(e, other);
            distinct = c >= NAMED || e < NAMED || memcmp(rgb, other, 3) != 0;
        }
    TEST_CHECK(distinct, "a generic class shares a named class's colour");
}

/* Textures: deterministic by seed, not flat, periodic over the raster, errors naming the size. */
static void test_synth_texture(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    ww_rng r;
    ww_rng_seed(&r, 1);
    for (int kind = WW_TEX_NOISE; kind <= WW_TEX_BRICKS; kind++) {
        ww_tex_params p;
        ww_tex_random(&r, 12, &p);
        p.kind = (ww_tex_kind)kind;
        ww_tex a, b;
        if (!TEST_CHECK(ww_tex_make(&a, 64, 64, 1, &p, 5, err, sizeof err) == WW_OK, "%s", err))
            return;
        TEST_CHECK(ww_tex_make(&b, 64, 64, 1, &p, 5, err, sizeof err) == WW_OK &&
                       !memcmp(a.texel[0], b.texel[0], 64 * 64 * 4),
                   "kind %d: same seed, other texels", kind);
        double sum = 0, sq = 0;
        for (int i = 0; i < 64 * 64; i++) {
            double g = a.texel[0][i] >> 8 & 255;
            sum += g;
            sq += g * g;
        }
        double sd = sqrt(sq / 4096 - (sum / 4096) * (sum / 4096));
        TEST_CHECK(sd > 3 && a.levels == 7 && (a.texel[6][0] >> 8 & 255) > 0,
                   "kind %d: deviation %.1f, %d levels", kind, sd, a.levels);
        /* Wrapping: a whole raster further along reads the same. */
        int same = 1;
        for (float u = 0.25f; u < 64; u += 3.7f)
            same &= ww_tex_sample_level(&a, 0, u, 2 * u) ==
                    ww_tex_sample_level(&a, 0, u + 64, 2 * u - 128);
        TEST_CHECK(same, "kind %d: the raster does not wrap", kind);
        ww_tex_free(&a);
        ww_tex_free(&b);
    }
    ww_tex_params p;
    ww_tex_random(&r, 12, &p);
    ww_tex t;
    EXPECT_ERROR(ww_tex_make(&t, 0, 5, 0, &p, 1, err, sizeof err), WW_ERR_INVALID, "0x5", NULL);
    EXPECT_ERROR(ww_tex_make(&t, 48, 48, 1, &p, 1, err, sizeof err), WW_ERR_INVALID, "48x48",
                 "power of two");
    TEST_CHECK(t.texel[0] == NULL, "failed make left a raster");
}

/* ---- List datasets on generated files -------------------------------------------------------- */

/* Find where crop c lies in full (by its first target plane and image); -1 if nowhere. */
static int find_crop(const ww_sample *full, const ww_sample *c, ww_task task, int *x0, int *y0)
{
    int channels = ww_task_target_channels(task), frames = ww_task_frames(task);
    size_t nf = test_pixels(full), nc = test_pixels(c);
    for (int oy = 0; oy + c->height <= full->height; oy++)
        for (int ox = 0; ox + c->width <= full->width; ox++) {
            int same = 1;
            for (int y = 0; y < c->height && same; y++) {
                size_t sf = (size_t)(oy + y) * (size_t)full->width + (size_t)ox;
                size_t sc = (size_t)y * (size_t)c->width;
                for (int f = 0; f < frames && same; f++)
                    same = !memcmp(full->image[f] + 3 * sf, c->image[f] + 3 * sc,
                                   3 * (size_t)c->width);
                for (int k = 0; k < channels && same; k++)
                    same = !memcmp(full->target + (size_t)k * nf + sf,
                                   c->target + (size_t)k * nc + sc,
                                   (size_t)c->width * sizeof(float));
            }
            if (same) {
                *x0 = ox;
                *y0 = oy;
                return 1;
            }
        }
    return 0;
}

/* Crops of a list dataset: every array cut at the same place, the same place for the same
 * (index, seed), more than one place over seeds. */
static void check_crops(const char *spec, ww_task task, int classes, int64_t index, int cw,
                        int ch)
{
    ww_dataset *full_d = test_open_ok(spec, task, 0, 0, classes, 3);
    ww_dataset *d = test_open_ok(spec, task, cw, ch, classes, 3);
    ww_sample full = {0};
    if (full_d && d && get_ok(full_d, index, 0, &full)) {
        int places = 0, first_x = -1, first_y = -1;
        for (uint64_t seed = 0; seed < 12; seed++) {
            ww_sample a, b;
            if (!get_ok(d, index, seed, &a))
                break;
            int x0 = -1, y0 = -1;
            if (TEST_CHECK(a.width == cw && a.height == ch, "crop %dx%d, want %dx%d", a.width,
                           a.height, cw, ch) &&
                TEST_CHECK(find_crop(&full, &a, task, &x0, &y0),
                           "%s crop (seed %llu) is not a region of the sample", spec,
                           (unsigned long long)seed)) {
                if (seed == 0) {
                    first_x = x0;
                    first_y = y0;
                }
                places += x0 != first_x || y0 != first_y;
            }
            if (get_ok(d, index, seed, &b))
                TEST_CHECK(test_samples_equal(&a, &b, task), "same index and seed, other crop");
            ww_sample_free(&a);
            ww_sample_free(&b);
        }
        TEST_CHECK(places > 0, "%s: every seed crops at the same place", spec);
    }
    ww_sample_free(&full);
    ww_dataset_close(full_d);
    ww_dataset_close(d);
}

static void test_list_flow(const char *arg)
{
    (void)arg;
    enum { W = 40, H = 30 };
    char err[ERRLEN];
    test_rng r;
    test_rng_seed(&r, 1);
    uint8_t *f1 = write_rgb("lf_a.png", W, H, &r), *f2 = write_rgb("lf_b.png", W, H, &r);
    size_t n = (size_t)W * H;
    /* Flow in multiples of 1/64 so the KITTI file holds it exactly. */
    ww_flow f;
    if (!TEST_CHECK(ww_flow_alloc(&f, W, H, err, sizeof err) == WW_OK, "%s", err))
        return;
    for (size_t i = 0; i < 2 * n; i++)
        f.uv[i] = (float)((int)test_rng_below(&r, 4001) - 2000) / 64.0f;
    f.valid[5] = 0;
    f.valid[n - 1] = 0;
    float *pfm = test_malloc(3 * n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        pfm[3 * i] = f.uv[2 * i];
        pfm[3 * i + 1] = f.uv[2 * i + 1];
        pfm[3 * i + 2] = 0;
    }
    pfm[3 * 7] = NAN;
    pfm[3 * 9 + 1] = INFINITY;
    int ok = TEST_CHECK(ww_flo_write(test_tmp_path("lf.flo"), &f, err, sizeof err) == WW_OK,
                        "%s", err) &&
             TEST_CHECK(ww_kitti_flow_write(test_tmp_path("lf_kitti.png"), &f, err, sizeof err) ==
                            WW_OK,
                        "%s", err) &&
             TEST_CHECK(ww_pfm_write(test_tmp_path("lf.pfm"), pfm, W, H, 3, err, sizeof err) ==
                            WW_OK,
                        "%s", err);
    const char *spec = write_list("flow.txt", "# frame1 frame2 flow\n"
                                              "\n"
                                              "lf_a.png lf_b.png lf.flo   # Middlebury\r\n"
                                              "  lf_a.png\tlf_b.png  lf_kitti.png\n"
                                              "lf_a.png lf_b.png lf.pfm");
    ww_dataset *d = ok ? test_open_ok(spec, WW_TASK_FLOW, 0, 0, 0, 1) : NULL;
    if (d && TEST_CHECK(ww_dataset_size(d) == 3, "%lld samples, want 3",
                        (long long)ww_dataset_size(d))) {
        for (int k = 0; k < 3; k++) {
            ww_sample s;
            if (!get_ok(d, k, 0, &s))
                continue;
            if (TEST_CHECK(s.width == W && s.height == H, "sample %d: %dx%d", k, s.width,
                           s.height)) {
                TEST_CHECK(!memcmp(s.image[0], f1, 3 * n) && !memcmp(s.image[1], f2, 3 * n),
                           "sample %d: frames differ from the files", k);
                size_t wrong = 0;
                for (size_t i = 0; i < n; i++)
                    for (int c = 0; c < 2; c++) {
                        float got = s.target[(size_t)c * n + i];
                        /* The PFM holds every pixel's values: only NaN and inf are unknown. */
                        int invalid = k == 2 ? i == 7 || i == 9 : !f.valid[i];
                        wrong += invalid ? !isnan(got) : got != f.uv[2 * i + (size_t)c];
                    }
                TEST_CHECK(wrong == 0, "sample %d: %zu flow values wrong", k, wrong);
            }
            ww_sample_free(&s);
        }
    }
    ww_dataset_close(d);
    if (d)
        check_crops(spec, WW_TASK_FLOW, 0, 1, 24, 16);
    ww_flow_free(&f);
}

static void test_list_depth(const char *arg)
{
    (void)arg;
    enum { W = 36, H = 20 };
    char err[ERRLEN];
    test_rng r;
    test_rng_seed(&r, 2);
    size_t n = (size_t)W * H;
    uint8_t *img = write_rgb("ld.png", W, H, &r);
    float *z = test_malloc(n * sizeof(float));
    uint16_t *mm = test_malloc(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) {
        z[i] = test_rng_float(&r, 0.5f, 90.0f);
        mm[i] = (uint16_t)test_rng_below(&r, 65536);
    }
    z[1] = 0;
    z[2] = NAN;
    z[3] = -4;
    z[4] = INFINITY;
    mm[0] = 0;
    int ok = TEST_CHECK(ww_pfm_write(test_tmp_path("ld.pfm"), z, W, H, 1, err, sizeof err) ==
                            WW_OK,
                        "%s", err) &&
             write_gray("ld_mm.png", W, H, 16, mm);
    const char *spec = write_list("depth.txt", "ld.png ld.pfm\nld.png ld_mm.png\n");
    ww_dataset *d = ok ? test_open_ok(spec, WW_TASK_DEPTH, 0, 0, 0, 1) : NULL;
    for (int k = 0; d && k < 2; k++) {
        ww_sample s;
        if (!get_ok(d, k, 0, &s))
            continue;
        TEST_CHECK(!memcmp(s.image[0], img, 3 * n) && s.image[1] == NULL,
                   "sample %d: image differs", k);
        size_t wrong = 0;
        for (size_t i = 0; i < n; i++) {
            float want = k == 1 ? (float)mm[i] / 1000.0f : i >= 1 && i <= 4 ? 0 : z[i];
            wrong += s.target[i] != want;
        }
        TEST_CHECK(wrong == 0, "sample %d: %zu depths wrong", k, wrong);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    if (d)
        check_crops(spec, WW_TASK_DEPTH, 0, 0, 20, 12);
}

static void test_list_seg(const char *arg)
{
    (void)arg;
    enum { W = 30, H = 22, C = 7 };
    char err[ERRLEN];
    test_rng r;
    test_rng_seed(&r, 3);
    size_t n = (size_t)W * H;
    uint8_t *img = write_rgb("ls.png", W, H, &r);
    uint8_t *ids = test_malloc(n);
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint8_t)test_rng_below(&r, C);
    ids[10] = 255;
    if (!write_gray("ls_label.png", W, H, 8, ids))
        return;
    const char *spec = write_list("seg.txt", "# image label\nls.png ls_label.png\n");
    ww_dataset *d = test_open_ok(spec, WW_TASK_SEG, 0, 0, C, 1);
    ww_sample s;
    if (d && get_ok(d, 0, 0, &s)) {
        TEST_CHECK(!memcmp(s.image[0], img, 3 * n), "image differs");
        size_t wrong = 0;
        for (size_t i = 0; i < n; i++)
            wrong += s.target[i] != (float)ids[i];
        TEST_CHECK(wrong == 0, "%zu labels wrong", wrong);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    if (d)
        check_crops(spec, WW_TASK_SEG, C, 0, 16, 16);
    /* A label at the class count is neither a class nor ignore: the file and line are named. */
    if (EXPECT_GET_ERROR(spec, WW_TASK_SEG, C - 1, 0, WW_ERR_INVALID, "seg.txt:2:",
                         "ls_label.png"))
        TEST_CHECK(test_contains(err, "label 6"), "message \"%s\" lacks the label", err);
}

/* ---- List errors ----------------------------------------------------------------------------- */

static void test_list_errors(const char *arg)
{
    (void)arg;
    enum { W = 24, H = 16 };
    char err[ERRLEN];
    test_rng r;
    test_rng_seed(&r, 4);
    size_t n = (size_t)W * H;
    write_rgb("le_a.png", W, H, &r);
    write_rgb("le_b.png", W, H, &r);
    write_rgb("le_small.png", W - 8, H, &r);
    ww_flow f;
    if (!TEST_CHECK(ww_flow_alloc(&f, W, H, err, sizeof err) == WW_OK, "%s", err))
        return;
    TEST_CHECK(ww_flo_write(test_tmp_path("le.flo"), &f, err, sizeof err) == WW_OK, "%s", err);
    ww_flow_free(&f);
    if (TEST_CHECK(ww_flow_alloc(&f, W + 1, H, err, sizeof err) == WW_OK, "%s", err)) {
        TEST_CHECK(ww_flo_write(test_tmp_path("le_wide.flo"), &f, err, sizeof err) == WW_OK,
                   "%s", err);
        ww_flow_free(&f);
    }
    float *zero = test_malloc(3 * n * sizeof(float));
    TEST_CHECK(ww_pfm_write(test_tmp_path("le1.pfm"), zero, W, H, 1, err, sizeof err) == WW_OK,
               "%s", err);
    TEST_CHECK(ww_pfm_write(test_tmp_path("le3.pfm"), zero, W, H, 3, err, sizeof err) == WW_OK,
               "%s", err);
    uint8_t *gray8 = test_malloc(n);
    write_gray("le_gray8.png", W, H, 8, gray8);
    uint16_t *gray16 = test_malloc(n * 2);
    write_gray("le_gray16.png", W, H, 16, gray16);
    /* A PNG cut in half, and one with its header damaged. */
    size_t len = 0;
    unsigned char *buf = test_read_bytes(test_tmp_path("le_a.png"), &len);
    if (buf) {
        test_write_bytes(test_tmp_path("le_cut.png"), buf, len / 2);
        buf[12] ^= 0x55;
        test_write_bytes(test_tmp_path("le_bad.png"), buf, len);
    }
    test_write_bytes(test_tmp_path("le_nul.txt"), "le_a.png le_b.png\0le.flo\n", 25);

    /* Open-time errors: the list, its line, the file. */
    EXPECT_OPEN_ERROR("list:/nonexistent/list.txt", WW_TASK_FLOW, 0, 0, 0, WW_ERR_IO,
                      "/nonexistent/list.txt", NULL);
    EXPECT_OPEN_ERROR(write_list("le_dir.txt", "le_a.png /tmp le.flo\n"), WW_TASK_FLOW, 0, 0, 0,
                      WW_ERR_IO, "le_dir.txt:1:", "/tmp");
    EXPECT_OPEN_ERROR(write_list("le_count.txt", "le_a.png le_b.png le.flo\n\nle_a.png le.flo\n"),
                      WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID, "le_count.txt:3:",
                      "expected 3 paths");
    EXPECT_OPEN_ERROR(write_list("le_extra.txt", "le_a.png le_b.png extra.png more.png\n"),
                      WW_TASK_DEPTH, 0, 0, 0, WW_ERR_INVALID, "le_extra.txt:1:", "got 4");
    EXPECT_OPEN_ERROR(write_list("le_missing.txt", "# ok\nle_a.png le_b.png le.flo\n"
                                                   "le_a.png nothere.png le.flo\n"),
                      WW_TASK_FLOW, 0, 0, 0, WW_ERR_IO, "le_missing.txt:3:", "nothere.png");
    EXPECT_OPEN_ERROR(write_list("le_ext.txt", "le_a.png le_b.png le_nul.txt\n"), WW_TASK_FLOW, 0,
                      0, 0, WW_ERR_UNSUPPORTED, "le_ext.txt:1:", "le_nul.txt");
    EXPECT_OPEN_ERROR(write_list("le_segext.txt", "le_a.png le1.pfm\n"), WW_TASK_SEG, 0, 0, 5,
                      WW_ERR_UNSUPPORTED, "le_segext.txt:1:", "le1.pfm");
    EXPECT_OPEN_ERROR(write_list("le_empty.txt", "# nothing\n\n   \n"), WW_TASK_FLOW, 0, 0, 0,
                      WW_ERR_INVALID, "le_empty.txt", "no samples");
    EXPECT_OPEN_ERROR(test_list_spec("le_nul.txt"), WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID,
                      "le_nul.txt", "NUL");

    /* Read-time errors: the list's line and the file. */
    static const struct {
        const char *name, *text;
        ww_task task;
        int width, height;
        ww_status want;
        const char *needle;
    } cases[] = {
        {"le_cut.txt", "le_a.png le_b.png le.flo\nle_cut.png le_b.png le.flo\n", WW_TASK_FLOW, 0,
         0, WW_ERR_INVALID, "le_cut.png"},
        {"le_bad.txt", "le_a.png le_bad.png le.flo\n", WW_TASK_FLOW, 0, 0, WW_ERR_INVALID,
         "le_bad.png"},
        {"le_frames.txt", "le_a.png le_small.png le.flo\n", WW_TASK_FLOW, 0, 0, WW_ERR_INVALID,
         "le_small.png"},
        {"le_wide.txt", "le_a.png le_b.png le_wide.flo\n", WW_TASK_FLOW, 0, 0, WW_ERR_INVALID,
         "le_wide.flo"},
        {"le_flow1.txt", "le_a.png le_b.png le1.pfm\n", WW_TASK_FLOW, 0, 0, WW_ERR_INVALID,
         "le1.pfm"},
        {"le_flowpng.txt", "le_a.png le_b.png le_gray8.png\n", WW_TASK_FLOW, 0, 0,
         WW_ERR_INVALID, "le_gray8.png"},
        {"le_depth3.txt", "le_a.png le3.pfm\n", WW_TASK_DEPTH, 0, 0, WW_ERR_INVALID, "le3.pfm"},
        {"le_depth8.txt", "le_a.png le_gray8.png\n", WW_TASK_DEPTH, 0, 0, WW_ERR_INVALID,
         "le_gray8.png"},
        {"le_seg16.txt", "le_a.png le_gray16.png\n", WW_TASK_SEG, 0, 0, WW_ERR_INVALID,
         "le_gray16.png"},
        {"le_segrgb.txt", "le_a.png le_b.png\n", WW_TASK_SEG, 0, 0, WW_ERR_INVALID, "le_b.png"},
        {"le_segsize.txt", "le_small.png le_gray8.png\n", WW_TASK_SEG, 0, 0, WW_ERR_INVALID,
         "le_gray8.png"},
        {"le_crop.txt", "le_a.png le_b.png le.flo\n", WW_TASK_FLOW, W, H + 2, WW_ERR_INVALID,
         "smaller than the requested"},
        {"le_text.txt", "le_a.png le_nul.txt.png\n", WW_TASK_SEG, 0, 0, WW_ERR_INVALID,
         "le_nul.txt.png"},
    };
    test_write_bytes(test_tmp_path("le_nul.txt.png"), "hello", 5);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *spec = write_list(cases[k].name, cases[k].text);
        ww_dataset *d =
            test_open_ok(spec, cases[k].task, cases[k].width, cases[k].height, 5, 1);
        if (!d)
            continue;
        int64_t last = ww_dataset_size(d) - 1;
        char where[64];
        snprintf(where, sizeof where, "%s:%lld:", cases[k].name, (long long)last + 1);
        ww_sample s;
        EXPECT_ERROR(ww_dataset_get(d, last, 0, &s, err, sizeof err), cases[k].want, where,
                     cases[k].needle);
        TEST_CHECK(s.image[0] == NULL && s.image[1] == NULL && s.target == NULL,
                   "%s: failed get left arrays", cases[k].name);
        ww_dataset_close(d);
    }
}

/* ---- The real samples ------------------------------------------------------------------------ */

static void test_real_flow(const char *arg)
{
    (void)arg;
    const char *sintel = test_data_path("flow/sintel-alley_1");
    if (!sintel)
        return;
    const char *kitti = test_data_path("flow/kitti");
    char text[2048];
    snprintf(text, sizeof text,
             "%s/frame_0002.png %s/frame_0003.png %s/frame_0002.flo\n"
             "%s/frame1.png %s/frame2.png %s/flow_gt.png\n",
             sintel, sintel, sintel, kitti, kitti, kitti);
    const char *spec = write_list("real_flow.txt", text);
    ww_dataset *d = test_open_ok(spec, WW_TASK_FLOW, 0, 0, 0, 1);
    ww_sample s;
    if (d && get_ok(d, 0, 0, &s)) {
        TEST_CHECK(s.width == 1024 && s.height == 436, "Sintel %dx%d", s.width, s.height);
        size_t nan = 0;
        for (size_t i = 0; i < 2 * test_pixels(&s); i++)
            nan += !isfinite(s.target[i]);
        TEST_CHECK(nan == 0, "Sintel: %zu flow values invalid", nan);
        expect_warp(&s, "Sintel alley_1 through the list");
        ww_sample_free(&s);
    }
    if (d && get_ok(d, 1, 0, &s)) {
        TEST_CHECK(s.width == 1242 && s.height == 375, "KITTI %dx%d", s.width, s.height);
        size_t n = test_pixels(&s), valid = 0, both = 0;
        for (size_t i = 0; i < n; i++) {
            int vu = !isnan(s.target[i]), vv = !isnan(s.target[n + i]);
            valid += vu;
            both += vu == vv;
        }
        TEST_CHECK(both == n, "KITTI: u and v disagree on validity");
        TEST_CHECK(valid > n / 20 && valid < n, "KITTI: %zu of %zu pixels valid", valid, n);
        printf("# KITTI flow through the list: %.1f%% valid\n", 100.0 * (double)valid / (double)n);
        expect_warp(&s, "KITTI flow through the list");
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    if (d)
        check_crops(spec, WW_TASK_FLOW, 0, 0, 1000, 430);
}

/* KITTI 2012 disparity as depth (f * B / disparity) in both depth formats. */
static void test_real_depth(const char *arg)
{
    (void)arg;
    const char *disp = test_data_path("depth/kitti2012/disp_noc_000070_10.png");
    if (!disp)
        return;
    const char *left = test_data_path("depth/kitti2012/left_000070_10.png");
    char err[ERRLEN];
    ww_img img;
    if (!TEST_CHECK(ww_img_read_png(disp, &img, err, sizeof err) == WW_OK, "%s", err))
        return;
    size_t n = (size_t)img.width * (size_t)img.height, known = 0;
    float *z = test_malloc(n * sizeof(float));
    uint16_t *mm = test_malloc(n * sizeof(uint16_t));
    const uint16_t *dv = img.data;
    for (size_t i = 0; i < n; i++) {
        z[i] = dv[i] ? 718.856f * 0.5372f / ((float)dv[i] / 256.0f) : 0;
        mm[i] = (uint16_t)fminf(65535, lrintf(z[i] * 1000));
        known += dv[i] != 0;
    }
    int ok = TEST_CHECK(ww_pfm_write(test_tmp_path("kd.pfm"), z, img.width, img.height, 1, err,
                                     sizeof err) == WW_OK,
                        "%s", err) &&
             write_gray("kd_mm.png", img.width, img.height, 16, mm);
    char text[1024];
    snprintf(text, sizeof text, "%s kd.pfm\n%s kd_mm.png\n", left, left);
    const char *spec = write_list("real_depth.txt", text);
    ww_dataset *d = ok ? test_open_ok(spec, WW_TASK_DEPTH, 0, 0, 0, 1) : NULL;
    for (int k = 0; d && k < 2; k++) {
        ww_sample s;
        if (!get_ok(d, k, 0, &s))
            continue;
        size_t valid = 0, far = 0;
        for (size_t i = 0; i < test_pixels(&s); i++) {
            valid += s.target[i] > 0;
            far += s.target[i] > 0 && (s.target[i] < 1 || s.target[i] > 400);
        }
        TEST_CHECK(test_pixels(&s) == n && valid == known, "sample %d: %zu valid depths, want %zu",
                   k, valid, known);
        TEST_CHECK(far == 0, "sample %d: %zu depths outside 1..400 m", k, far);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    ww_img_free(&img);
}

/* CamVid's labels are 0..10 with 11 = void: 12 classes take it, 11 make it an error. */
static void test_real_seg(const char *arg)
{
    (void)arg;
    const char *image = test_data_path("seg/camvid/image_0001TP_006690.png");
    if (!image)
        return;
    const char *label = test_data_path("seg/camvid/label_0001TP_006690.png");
    char err[ERRLEN], text[1024];
    snprintf(text, sizeof text, "%s %s\n", image, label);
    const char *spec = write_list("real_seg.txt", text);
    ww_dataset *d = test_open_ok(spec, WW_TASK_SEG, 0, 0, 12, 1);
    ww_sample s;
    if (d && get_ok(d, 0, 0, &s)) {
        TEST_CHECK(s.width == 480 && s.height == 360, "CamVid %dx%d", s.width, s.height);
        int seen = 0;
        size_t bad = 0;
        for (size_t i = 0; i < test_pixels(&s); i++) {
            int c = (int)s.target[i];
            bad += c < 0 || c > 11 || (float)c != s.target[i];
            seen |= c >= 0 && c < 12 ? 1 << c : 0;
        }
        TEST_CHECK(bad == 0, "%zu labels outside 0..11", bad);
        TEST_CHECK(__builtin_popcount((unsigned)seen) >= 5, "only classes %#x", seen);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    if (d)
        check_crops(spec, WW_TASK_SEG, 12, 0, 320, 256);
    EXPECT_GET_ERROR(spec, WW_TASK_SEG, 11, 0, WW_ERR_INVALID, "real_seg.txt:1:",
                     "label_0001TP_006690.png");
}

/* ---- Target formats and classes of lists ----------------------------------------------------- */

/* A 16-bit PNG depth with its scale, KITTI disparity with either release's calibration, and the
 * open-time errors of those lines. */
static void test_list_depth_formats(const char *arg)
{
    (void)arg;
    enum { W = 20, H = 12 };
    char err[ERRLEN];
    test_rng r;
    test_rng_seed(&r, 21);
    size_t n = (size_t)W * H;
    write_rgb("dd.png", W, H, &r);
    uint16_t *v = test_malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint16_t)(i % 9 == 0 ? 0 : 256 + test_rng_below(&r, 30000));
    write_gray("dd16.png", W, H, 16, v);
    /* f = 700 px; B = 0.5 m (2012: P1[3] = -f B) and 0.25 m (2015: P_rect_02[3] - P_rect_03[3]). */
    write_text("dd2012.txt", "P0: 700 0 600 0 0 700 180 0 0 0 1 0\n"
                             "P1: 700 0 600 -350 0 700 180 0 0 0 1 0\n"
                             "P2: 700 0 600 45 0 700 180 0 0 0 1 0\n");
    write_text("dd2015.txt", "calib_time: 09-Jan-2012 13:57:47\n"
                             "P_rect_02: 7.0e+02 0 6.0e+02 4.5e+01 0 7.0e+02 1.8e+02 0 0 0 1 0\n"
                             "P_rect_03: 7.0e+02 0 6.0e+02 -1.3e+02 0 7.0e+02 1.8e+02 0 0 0 1 0\n");
    const char *spec = write_list("dd.txt", "dd.png dd16.png scale=256\n"
                                            "dd.png dd16.png dd2012.txt\n"
                                            "dd.png dd16.png dd2015.txt\n");
    ww_dataset *d = test_open_ok(spec, WW_TASK_DEPTH, 0, 0, 0, 1);
    static const float fb[3] = {0, 350, 175};
    for (int k = 0; d && k < 3; k++) {
        ww_sample s;
        if (!get_ok(d, k, 0, &s))
            continue;
        size_t wrong = 0;
        for (size_t i = 0; i < n; i++) {
            float want = k == 0 ? (float)v[i] / 256.0f
                         : v[i] ? fb[k] * 256.0f / (float)v[i]
                                : 0;
            wrong += fabsf(s.target[i] - want) > 1e-5f * want;
        }
        TEST_CHECK(wrong == 0, "line %d: %zu depths wrong", k + 1, wrong);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);

    write_text("dd_none.txt", "P2: 700 0 600 45 0 700 180 0 0 0 1 0\n");
    write_text("dd_short.txt", "P0: 700 0 600 0 0 700 180 0 0 0 1\nP1: 1 2\n");
    write_text("dd_nan.txt", "P0: 700 0 600 0 0 700 180 0 0 0 1 0\n"
                             "P1: 700 x 0 0 0 0 0 0 0 0 0 0\n");
    write_text("dd_flip.txt", "P0: 700 0 600 0 0 700 180 0 0 0 1 0\n"
                              "P1: 700 0 600 350 0 700 180 0 0 0 1 0\n");
    float *z = test_malloc(n * sizeof(float));
    TEST_CHECK(ww_pfm_write(tree_path("dd.pfm"), z, W, H, 1, err, sizeof err) == WW_OK, "%s",
               err);
    static const struct {
        const char *name, *text;
        ww_status want;
        const char *n1, *n2;
    } bad[] = {
        {"dd_b1.txt", "dd.png dd16.png scale=abc\n", WW_ERR_INVALID, "dd_b1.txt:1:", "scale"},
        {"dd_b2.txt", "dd.png dd16.png scale=0\n", WW_ERR_INVALID, "dd_b2.txt:1:", "positive"},
        {"dd_b3.txt", "dd.png dd.pfm scale=2\n", WW_ERR_INVALID, "dd_b3.txt:1:", ".png depth only"},
        {"dd_b4.txt", "dd.png dd16.png nothere.txt\n", WW_ERR_IO, "dd_b4.txt:1:", "nothere.txt"},
        {"dd_b5.txt", "dd.png dd16.png dd_none.txt\n", WW_ERR_INVALID, "dd_none.txt",
         "no stereo calibration"},
        {"dd_b6.txt", "dd.png dd16.png dd_short.txt\n", WW_ERR_INVALID, "dd_short.txt:1:",
         "11 numbers"},
        {"dd_b7.txt", "dd.png dd16.png dd_nan.txt\n", WW_ERR_INVALID, "dd_nan.txt:2:",
         "'x' is not a number"},
        {"dd_b8.txt", "dd.png dd16.png dd_flip.txt\n", WW_ERR_INVALID, "dd_flip.txt",
         "not a stereo rig"},
        {"dd_b9.txt", "dd.png dd16.png dd.png\n", WW_ERR_INVALID, "dd_b9.txt:1:", "dd.png"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        EXPECT_OPEN_ERROR(write_list(bad[k].name, bad[k].text), WW_TASK_DEPTH, 0, 0, 0,
                          bad[k].want, bad[k].n1, bad[k].n2);
    /* A disparity PNG of 8 bits is refused when read. */
    uint8_t *g8 = test_malloc(n);
    write_gray("dd8.png", W, H, 8, g8);
    EXPECT_GET_ERROR(write_list("dd_8.txt", "dd.png dd8.png dd2012.txt\n"), WW_TASK_DEPTH, 0, 0,
                     WW_ERR_INVALID, "dd_8.txt:1:", "16-bit gray");
}

/* A seg list's classes file: names (with spaces), colours, ids in any order, values that are no
 * class ignored; the class count must match; malformed files name their line. */
static void test_list_classes(const char *arg)
{
    (void)arg;
    enum { W = 16, H = 10 };
    char err[ERRLEN];
    test_rng r;
    test_rng_seed(&r, 22);
    size_t n = (size_t)W * H;
    write_rgb("lc.png", W, H, &r);
    uint8_t *ids = test_malloc(n);
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint8_t)(i % 5 == 4 ? 200 : i % 5); /* 0..3 and 200: 3 and 200 are no class */
    write_gray("lc_label.png", W, H, 8, ids);
    write_text("lc_classes.txt", "# id name r g b\n"
                                 "0 sky 128 128 128\n"
                                 "2   traffic light\t250 170 30   # two words\n"
                                 "1 road 128 64 128\n");
    const char *spec = write_list("lc.txt", "# a classes file first\n"
                                            "classes lc_classes.txt\n"
                                            "lc.png lc_label.png\n");
    ww_dataset *d = test_open_ok(spec, WW_TASK_SEG, 0, 0, 3, 1);
    if (d) {
        uint8_t rgb[3];
        TEST_CHECK(ww_dataset_class_count(d) == 3, "%d classes", ww_dataset_class_count(d));
        const char *names[3] = {"sky", "road", "traffic light"};
        for (int c = 0; c < 3; c++) {
            const char *got = ww_dataset_class_name(d, c);
            TEST_CHECK(got && !strcmp(got, names[c]), "class %d named '%s', want '%s'", c,
                       got ? got : "(null)", names[c]);
        }
        ww_dataset_class_color(d, 2, rgb);
        TEST_CHECK(rgb[0] == 250 && rgb[1] == 170 && rgb[2] == 30, "class 2 colour %d %d %d",
                   rgb[0], rgb[1], rgb[2]);
        ww_dataset_class_color(d, 3, rgb);
        TEST_CHECK(!rgb[0] && !rgb[1] && !rgb[2] && !ww_dataset_class_name(d, 3) &&
                       !ww_dataset_class_name(d, -1),
                   "class 3 has a name or colour");
        ww_sample s;
        if (get_ok(d, 0, 0, &s)) {
            size_t wrong = 0;
            for (size_t i = 0; i < n; i++)
                wrong += s.target[i] != (ids[i] < 3 ? (float)ids[i] : 255.0f);
            TEST_CHECK(wrong == 0, "%zu labels wrong", wrong);
            ww_sample_free(&s);
        }
        ww_dataset_close(d);
    }
    /* Without a classes file: no names, and 200 is an error. */
    d = test_open_ok(write_list("lc_plain.txt", "lc.png lc_label.png\n"), WW_TASK_SEG, 0, 0, 4, 1);
    if (d) {
        ww_sample s;
        TEST_CHECK(ww_dataset_class_count(d) == 0 && !ww_dataset_class_name(d, 0),
                   "a list without classes names some");
        EXPECT_ERROR(ww_dataset_get(d, 0, 0, &s, err, sizeof err), WW_ERR_INVALID,
                     "lc_plain.txt:1:", "label 200");
        ww_dataset_close(d);
    }
    EXPECT_OPEN_ERROR(spec, WW_TASK_SEG, 0, 0, 4, WW_ERR_INVALID, "lc_classes.txt",
                      "lists 3 classes but the dataset was opened with 4");

    static const struct {
        const char *classes; /* NULL: the list names a missing file */
        const char *n1, *n2;
    } bad[] = {
        {"0 sky 1 2 3\n0 road 4 5 6\n", "lc_bad.txt:2:", "listed twice"},
        {"0 sky 1 2 3\n2 road 4 5 6\n", "lc_bad.txt:2:", "ids 0..1"},
        {"0 sky 1 2 256\n", "lc_bad.txt:1:", "'256'"},
        {"0 sky 1 2\n", "lc_bad.txt:1:", "ID NAME R G B"},
        {"x sky 1 2 3\n", "lc_bad.txt:1:", "class id 'x'"},
        {"# nothing\n", "lc_bad.txt", "no classes"},
        {NULL, "lc_missing.txt", "No such file"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        if (bad[k].classes)
            write_text("lc_bad.txt", bad[k].classes);
        const char *list = bad[k].classes ? "classes lc_bad.txt\nlc.png lc_label.png\n"
                                          : "classes lc_missing.txt\n";
        EXPECT_OPEN_ERROR(write_list("lc_list.txt", list), WW_TASK_SEG, 0, 0, 1,
                          bad[k].classes ? WW_ERR_INVALID : WW_ERR_IO, bad[k].n1, bad[k].n2);
    }
    EXPECT_OPEN_ERROR(write_list("lc_late.txt", "lc.png lc_label.png\nclasses lc_classes.txt\n"),
                      WW_TASK_SEG, 0, 0, 3, WW_ERR_INVALID, "lc_late.txt:2:", "before the samples");
    EXPECT_OPEN_ERROR(write_list("lc_flow.txt", "classes lc_classes.txt\n"), WW_TASK_FLOW, 0, 0, 0,
                      WW_ERR_INVALID, "lc_flow.txt:1:", "seg list");
}

/* Values of a .flo5 test file: pixel (x, y) of a gt of width w is (x + 100 y, -x), NaN at x = 3. */
static float *flo5_values(int w, int h)
{
    float *v = test_malloc((size_t)w * (size_t)h * 2 * sizeof *v);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            v[2 * i] = x == 3 ? NAN : (float)(x + 100 * y);
            v[2 * i + 1] = (float)-x;
        }
    return v;
}

/* The sample's flow against flo5_values of a gt step times its size: the top-left value of each
 * step x step block. Returns the count of wrong values. */
static size_t flo5_wrong(const ww_sample *s, int step)
{
    size_t n = test_pixels(s), wrong = 0;
    for (int y = 0; y < s->height; y++)
        for (int x = 0; x < s->width; x++) {
            size_t i = (size_t)y * (size_t)s->width + (size_t)x;
            int gx = step * x, gy = step * y;
            float u = s->target[i], v = s->target[n + i];
            wrong += gx == 3 ? !isnan(u) || !isnan(v)
                             : u != (float)(gx + 100 * gy) || v != (float)-gx;
        }
    return wrong;
}

/* .flo5 in a list: twice the frames' size (Spring) or the same; another size is an error. Without
 * HDF5 the list is refused when opened. */
static void test_list_flo5(const char *arg)
{
    (void)arg;
    enum { W = 8, H = 6 };
    char err[ERRLEN];
    test_rng r;
    test_rng_seed(&r, 23);
    write_rgb("lf5_a.png", W, H, &r);
    write_rgb("lf5_b.png", W, H, &r);
    const char *spec = write_list("lf5.txt", "lf5_a.png lf5_b.png lf5_2x.flo5\n"
                                             "lf5_a.png lf5_b.png lf5_1x.flo5\n"
                                             "lf5_a.png lf5_b.png lf5_3x.flo5\n");
    if (!ww_flo5_supported()) {
        write_text("lf5_2x.flo5", "x");
        write_text("lf5_1x.flo5", "x");
        write_text("lf5_3x.flo5", "x");
        EXPECT_OPEN_ERROR(spec, WW_TASK_FLOW, 0, 0, 0, WW_ERR_UNSUPPORTED, "lf5.txt:1:",
                          "no HDF5");
        TEST_SKIP("this build has no HDF5: only the refusal is tested");
        return;
    }
    if (!test_write_h5(tree_path("lf5_2x.flo5"), "flow", flo5_values(2 * W, 2 * H), 2 * H,
                       2 * W, 2, 0) ||
        !test_write_h5(tree_path("lf5_1x.flo5"), "flow", flo5_values(W, H), H, W, 2, 0) ||
        !test_write_h5(tree_path("lf5_3x.flo5"), "flow", flo5_values(3 * W, 3 * H), 3 * H,
                       3 * W, 2, 0))
        return;
    ww_dataset *d = test_open_ok(spec, WW_TASK_FLOW, 0, 0, 0, 1);
    for (int k = 0; d && k < 2; k++) {
        ww_sample s;
        if (!get_ok(d, k, 0, &s))
            continue;
        TEST_CHECK(s.width == W && s.height == H, "sample %d: %dx%d", k, s.width, s.height);
        size_t wrong = flo5_wrong(&s, 2 - k);
        TEST_CHECK(wrong == 0, "sample %d: %zu flow values wrong", k, wrong);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    EXPECT_GET_ERROR(spec, WW_TASK_FLOW, 0, 2, WW_ERR_INVALID, "lf5.txt:3:", "twice as large");
}

/* ---- Directory layouts on generated trees ---------------------------------------------------- */

/* "NAME:TMP/root" with ":option" when not NULL, in test memory. */
static const char *layout_spec(const char *name, const char *root, const char *option)
{
    const char *path = test_tmp_path(root);
    size_t n = strlen(name) + strlen(path) + (option ? strlen(option) : 0) + 3;
    char *spec = test_malloc(n);
    snprintf(spec, n, "%s:%s%s%s", name, path, option ? ":" : "", option ? option : "");
    return spec;
}

/* A flow of w x h in multiples of 1/64 (a KITTI PNG holds it exactly), every 7th pixel unknown
 * when sparse; arrays in test memory. */
static ww_flow random_flow(int w, int h, int sparse, test_rng *r)
{
    size_t n = (size_t)w * (size_t)h;
    ww_flow f = {.width = w, .height = h, .uv = test_malloc(2 * n * sizeof(float))};
    for (size_t i = 0; i < 2 * n; i++)
        f.uv[i] = (float)((int)test_rng_below(r, 4001) - 2000) / 64.0f;
    if (sparse) {
        f.valid = test_malloc(n);
        for (size_t i = 0; i < n; i++)
            f.valid[i] = i % 7 != 3;
    }
    return f;
}

/* Write f at rel as .flo, KITTI .png or 3-channel .pfm, by the name's extension. */
static int write_flow(const char *rel, const ww_flow *f)
{
    char err[ERRLEN];
    const char *path = tree_path(rel);
    size_t n = (size_t)f->width * (size_t)f->height, len = strlen(rel);
    ww_status st;
    if (len > 4 && !strcmp(rel + len - 4, ".pfm")) {
        float *p = test_malloc(3 * n * sizeof *p);
        for (size_t i = 0; i < n; i++) {
            p[3 * i] = f->uv[2 * i];
            p[3 * i + 1] = f->uv[2 * i + 1];
        }
        st = ww_pfm_write(path, p, f->width, f->height, 3, err, sizeof err);
    } else {
        st = len > 4 && !strcmp(rel + len - 4, ".png")
                 ? ww_kitti_flow_write(path, f, err, sizeof err)
                 : ww_flo_write(path, f, err, sizeof err);
    }
    return TEST_CHECK(st == WW_OK, "%s", err);
}

/* Flow values of s that differ from f (NaN where f is unknown). */
static size_t flow_wrong(const ww_sample *s, const ww_flow *f)
{
    size_t n = test_pixels(s), wrong = 0;
    if (s->width != f->width || s->height != f->height)
        return n;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 2; c++) {
            float got = s->target[(size_t)c * n + i];
            wrong += f->valid && !f->valid[i] ? !isnan(got) : got != f->uv[2 * i + (size_t)c];
        }
    return wrong;
}

/* Sample k of d: frames a and b (b NULL for one frame) and the flow f (NULL: not checked). */
static void expect_sample(ww_dataset *d, int64_t k, const uint8_t *a, const uint8_t *b,
                          const ww_flow *f)
{
    ww_sample s;
    if (!get_ok(d, k, 0, &s))
        return;
    size_t n = test_pixels(&s);
    TEST_CHECK(!memcmp(s.image[0], a, 3 * n) && (!b || !memcmp(s.image[1], b, 3 * n)),
               "sample %lld: frames differ from the files", (long long)k);
    if (f)
        TEST_CHECK(flow_wrong(&s, f) == 0, "sample %lld: %zu flow values wrong", (long long)k,
                   flow_wrong(&s, f));
    ww_sample_free(&s);
}

/* The layout name's dataset at root of the test directory (option may be NULL), at its files'
 * size; NULL after recording a failure when it does not open or holds other than n samples. */
static ww_dataset *open_layout(const char *name, const char *root, const char *option,
                               ww_task task, int classes, int64_t n)
{
    const char *spec = layout_spec(name, root, option);
    ww_dataset *d = test_open_ok(spec, task, 0, 0, classes, 1);
    if (d && !TEST_CHECK(ww_dataset_size(d) == n, "%s: %lld samples, want %lld", spec,
                         (long long)ww_dataset_size(d), (long long)n)) {
        ww_dataset_close(d);
        return NULL;
    }
    return d;
}

/* Specs that name no layout, the wrong task or option; missing roots and empty layouts. */
static void test_layout_specs(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    EXPECT_OPEN_ERROR("bogus:/x", WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID, "bogus:/x",
                      "chairs:ROOT");
    EXPECT_OPEN_ERROR("kitti:/x", WW_TASK_DEPTH, 0, 0, 0, WW_ERR_INVALID, "kitti:/x",
                      "flow samples, not depth");
    EXPECT_OPEN_ERROR("cityscapes:/x", WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID, "cityscapes",
                      "seg samples");
    EXPECT_OPEN_ERROR("sintel:/x:dirty", WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID, "'dirty'",
                      "clean or final");
    EXPECT_OPEN_ERROR("chairs:/x:test", WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID, "'test'",
                      "train or val");
    EXPECT_OPEN_ERROR("kitti:", WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID, "kitti:", "no ROOT");
    EXPECT_OPEN_ERROR("sintel::final", WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID, "sintel::final",
                      "no ROOT");
    static const struct {
        const char *name;
        ww_task task;
        const char *empty_dir; /* made under the empty root */
    } all[] = {
        {"chairs", WW_TASK_FLOW, "data"},
        {"sintel", WW_TASK_FLOW, "training/clean/alley_1"},
        {"kitti", WW_TASK_FLOW, "training/flow_occ"},
        {"spring", WW_TASK_FLOW, "train/0001/frame_left"},
        {"things", WW_TASK_FLOW, "frames_cleanpass/TRAIN/A/0000/left"},
        {"kitti-stereo", WW_TASK_DEPTH, "training/disp_noc_0"},
        {"cityscapes", WW_TASK_SEG, "leftImg8bit/train/aachen"},
    };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        char rel[128], want[64];
        int classes = all[k].task == WW_TASK_SEG ? 19 : 0;
        int hdf5 = strcmp(all[k].name, "spring") != 0 || ww_flo5_supported();
        snprintf(want, sizeof want, "a %s dataset is", all[k].name);
        EXPECT_OPEN_ERROR(layout_spec(all[k].name, "no-such-root", NULL), all[k].task, 0, 0,
                          classes, hdf5 ? WW_ERR_IO : WW_ERR_UNSUPPORTED,
                          hdf5 ? "no-such-root" : "spring", hdf5 ? want : "no HDF5");
        snprintf(rel, sizeof rel, "empty_%s/%s/x", all[k].name, all[k].empty_dir);
        tree_path(rel);
        snprintf(rel, sizeof rel, "empty_%s", all[k].name);
        EXPECT_OPEN_ERROR(layout_spec(all[k].name, rel, NULL), all[k].task, 0, 0, classes,
                          hdf5 ? WW_ERR_INVALID : WW_ERR_UNSUPPORTED,
                          hdf5 ? "no samples found" : "no HDF5", hdf5 ? want : NULL);
    }
}

/* FlyingChairs: PPM frames, .flo flow, the train/val split file, the data directory as ROOT. */
static void test_layout_chairs(const char *arg)
{
    (void)arg;
    enum { W = 12, H = 8, N = 3 };
    char err[ERRLEN], rel[128];
    test_rng r;
    test_rng_seed(&r, 24);
    uint8_t *img[N][2];
    ww_flow flow[N];
    for (int k = 0; k < N; k++) {
        for (int f = 0; f < 2; f++) {
            img[k][f] = random_rgb(W, H, &r);
            char header[32];
            int hl = snprintf(header, sizeof header, "P6\n%d %d\n255\n", W, H);
            uint8_t *file = test_malloc((size_t)hl + 3 * W * H);
            memcpy(file, header, (size_t)hl);
            memcpy(file + hl, img[k][f], 3 * W * H);
            snprintf(rel, sizeof rel, "chairs/data/%05d_img%d.ppm", k + 1, f + 1);
            test_write_bytes(tree_path(rel), file, (size_t)hl + 3 * W * H);
        }
        flow[k] = random_flow(W, H, 0, &r);
        snprintf(rel, sizeof rel, "chairs/data/%05d_flow.flo", k + 1);
        write_flow(rel, &flow[k]);
    }
    write_text("chairs/FlyingChairs_train_val.txt", "1\n2\n1\n");
    ww_dataset *d = open_layout("chairs", "chairs", NULL, WW_TASK_FLOW, 0, N);
    for (int k = 0; d && k < N; k++)
        expect_sample(d, k, img[k][0], img[k][1], &flow[k]);
    ww_dataset_close(d);
    d = open_layout("chairs", "chairs", "train", WW_TASK_FLOW, 0, 2);
    if (d)
        expect_sample(d, 1, img[2][0], img[2][1], &flow[2]);
    ww_dataset_close(d);
    d = open_layout("chairs", "chairs", "val", WW_TASK_FLOW, 0, 1);
    if (d)
        expect_sample(d, 0, img[1][0], img[1][1], &flow[1]);
    ww_dataset_close(d);
    /* The data directory itself, crops included. */
    d = open_layout("chairs", "chairs/data", NULL, WW_TASK_FLOW, 0, N);
    ww_dataset_close(d);
    if (d)
        check_crops(layout_spec("chairs", "chairs/data", NULL), WW_TASK_FLOW, 0, 2, 8, 5);
    EXPECT_OPEN_ERROR(layout_spec("chairs", "chairs/data", "train"), WW_TASK_FLOW, 0, 0, 0,
                      WW_ERR_IO, "FlyingChairs_train_val.txt", "No such file");
    /* A bad split file, one too short, a missing frame, a cut frame. */
    write_text("chairs/FlyingChairs_train_val.txt", "1\n3\n1\n");
    EXPECT_OPEN_ERROR(layout_spec("chairs", "chairs", "val"), WW_TASK_FLOW, 0, 0, 0,
                      WW_ERR_INVALID, "FlyingChairs_train_val.txt:2:", "1 (train) or 2 (val)");
    write_text("chairs/FlyingChairs_train_val.txt", "1\n2\n");
    EXPECT_OPEN_ERROR(layout_spec("chairs", "chairs", "train"), WW_TASK_FLOW, 0, 0, 0,
                      WW_ERR_INVALID, "00003_img1.ppm", "2 lines");
    EXPECT_MISSING_FILE("chairs/data/00002_img2.ppm", layout_spec("chairs", "chairs", NULL),
                        WW_TASK_FLOW, 0);
    test_write_bytes(test_tmp_path("chairs/data/00002_img2.ppm"), "P6\n12 8\n255\nabc", 15);
    const char *spec = layout_spec("chairs", "chairs", NULL);
    EXPECT_GET_ERROR(spec, WW_TASK_FLOW, 0, 1, WW_ERR_INVALID, "00002_img2.ppm: file is truncated",
                     spec);
}

/* MPI-Sintel: scenes in name order, frame pairs, the final pass, a missing flow. */
static void test_layout_sintel(const char *arg)
{
    (void)arg;
    enum { W = 10, H = 6 };
    char err[ERRLEN], rel[128];
    test_rng r;
    test_rng_seed(&r, 25);
    static const struct {
        const char *scene;
        int frames;
    } scenes[] = {{"bamboo_1", 2}, {"alley_1", 3}};
    uint8_t *clean[2][3], *final[2][3];
    ww_flow flow[2][2];
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < scenes[s].frames; k++) {
            snprintf(rel, sizeof rel, "sintel/training/clean/%s/frame_%04d.png", scenes[s].scene,
                     k + 1);
            clean[s][k] = write_rgb(rel, W, H, &r);
            snprintf(rel, sizeof rel, "sintel/training/final/%s/frame_%04d.png", scenes[s].scene,
                     k + 1);
            final[s][k] = write_rgb(rel, W, H, &r);
            if (k + 1 < scenes[s].frames) {
                flow[s][k] = random_flow(W, H, 0, &r);
                snprintf(rel, sizeof rel, "sintel/training/flow/%s/frame_%04d.flo",
                         scenes[s].scene, k + 1);
                write_flow(rel, &flow[s][k]);
            }
        }
    /* alley_1 sorts first: its pairs (1, 2), (2, 3), then bamboo_1's (1, 2). */
    ww_dataset *d = open_layout("sintel", "sintel", NULL, WW_TASK_FLOW, 0, 3);
    if (d) {
        expect_sample(d, 0, clean[1][0], clean[1][1], &flow[1][0]);
        expect_sample(d, 1, clean[1][1], clean[1][2], &flow[1][1]);
        expect_sample(d, 2, clean[0][0], clean[0][1], &flow[0][0]);
    }
    ww_dataset_close(d);
    d = open_layout("sintel", "sintel", "final", WW_TASK_FLOW, 0, 3);
    if (d)
        expect_sample(d, 1, final[1][1], final[1][2], &flow[1][1]);
    ww_dataset_close(d);
    EXPECT_MISSING_FILE("sintel/training/flow/alley_1/frame_0002.flo",
                        layout_spec("sintel", "sintel", "clean"), WW_TASK_FLOW, 0);
}

/* KITTI 2015 flow: sparse ground truth, a missing second frame. */
static void test_layout_kitti(const char *arg)
{
    (void)arg;
    enum { W = 14, H = 9 };
    char err[ERRLEN], rel[128];
    test_rng r;
    test_rng_seed(&r, 26);
    uint8_t *img[2][2];
    ww_flow flow[2];
    for (int k = 0; k < 2; k++) {
        for (int f = 0; f < 2; f++) {
            snprintf(rel, sizeof rel, "kitti/training/image_2/%06d_1%d.png", k, f);
            img[k][f] = write_rgb(rel, W, H, &r);
        }
        flow[k] = random_flow(W, H, 1, &r);
        snprintf(rel, sizeof rel, "kitti/training/flow_occ/%06d_10.png", k);
        write_flow(rel, &flow[k]);
    }
    ww_dataset *d = open_layout("kitti", "kitti", NULL, WW_TASK_FLOW, 0, 2);
    for (int k = 0; d && k < 2; k++)
        expect_sample(d, k, img[k][0], img[k][1], &flow[k]);
    ww_dataset_close(d);
    EXPECT_MISSING_FILE("kitti/training/image_2/000001_11.png", layout_spec("kitti", "kitti", NULL),
                        WW_TASK_FLOW, 0);
}

/* FlyingThings3D: sets and sequences in name order, PFM flow, the last frame starts no pair. */
static void test_layout_things(const char *arg)
{
    (void)arg;
    enum { W = 9, H = 7 };
    char err[ERRLEN], rel[160];
    test_rng r;
    test_rng_seed(&r, 27);
    static const struct {
        const char *seq;
        int first, count;
    } seqs[] = {{"A/0000", 6, 3}, {"B/0001", 9, 2}};
    uint8_t *img[2][3];
    ww_flow flow[2][3];
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < seqs[s].count; k++) {
            int frame = seqs[s].first + k;
            snprintf(rel, sizeof rel, "things/frames_cleanpass/TRAIN/%s/left/%04d.png",
                     seqs[s].seq, frame);
            img[s][k] = write_rgb(rel, W, H, &r);
            flow[s][k] = random_flow(W, H, 0, &r);
            snprintf(rel, sizeof rel,
                     "things/optical_flow/TRAIN/%s/into_future/left/"
                     "OpticalFlowIntoFuture_%04d_L.pfm",
                     seqs[s].seq, frame);
            write_flow(rel, &flow[s][k]);
        }
    ww_dataset *d = open_layout("things", "things", NULL, WW_TASK_FLOW, 0, 3);
    if (d) {
        expect_sample(d, 0, img[0][0], img[0][1], &flow[0][0]);
        expect_sample(d, 1, img[0][1], img[0][2], &flow[0][1]);
        expect_sample(d, 2, img[1][0], img[1][1], &flow[1][0]);
    }
    ww_dataset_close(d);
    EXPECT_OPEN_ERROR(layout_spec("things", "things", "final"), WW_TASK_FLOW, 0, 0, 0, WW_ERR_IO,
                      "frames_finalpass/TRAIN", "a things dataset is");
    EXPECT_MISSING_FILE("things/optical_flow/TRAIN/B/0001/into_future/left/"
                        "OpticalFlowIntoFuture_0009_L.pfm",
                        layout_spec("things", "things", "clean"), WW_TASK_FLOW, 0);
}

/* Spring: .flo5 ground truth at twice the frames' size, its top-left values taken. */
static void test_layout_spring(const char *arg)
{
    (void)arg;
    enum { W = 8, H = 5 };
    char err[ERRLEN], rel[160];
    test_rng r;
    test_rng_seed(&r, 28);
    uint8_t *img[3];
    for (int k = 0; k < 3; k++) {
        snprintf(rel, sizeof rel, "spring/train/0004/frame_left/frame_left_%04d.png", k + 1);
        img[k] = write_rgb(rel, W, H, &r);
    }
    const char *spec = layout_spec("spring", "spring", NULL);
    if (!ww_flo5_supported()) {
        EXPECT_OPEN_ERROR(spec, WW_TASK_FLOW, 0, 0, 0, WW_ERR_UNSUPPORTED, "spring:",
                          "no HDF5");
        TEST_SKIP("this build has no HDF5: only the refusal is tested");
        return;
    }
    for (int k = 0; k < 2; k++) {
        snprintf(rel, sizeof rel, "spring/train/0004/flow_FW_left/flow_FW_left_%04d.flo5", k + 1);
        if (!test_write_h5(tree_path(rel), "flow", flo5_values(2 * W, 2 * H), 2 * H, 2 * W, 2, 0))
            return;
    }
    ww_dataset *d = open_layout("spring", "spring", NULL, WW_TASK_FLOW, 0, 2);
    if (d) {
        expect_sample(d, 1, img[1], img[2], NULL);
        ww_sample s;
        if (get_ok(d, 0, 0, &s)) {
            TEST_CHECK(flo5_wrong(&s, 2) == 0, "%zu flow values wrong", flo5_wrong(&s, 2));
            ww_sample_free(&s);
        }
    }
    ww_dataset_close(d);
    /* A corrupt .flo5 fails when read, naming it and HDF5's reason. */
    test_write_bytes(tree_path(rel), "not HDF5", 8);
    EXPECT_GET_ERROR(spec, WW_TASK_FLOW, 0, 1, WW_ERR_INVALID, "flow_FW_left_0002.flo5", "HDF5");
}

/* KITTI 2015 stereo: disparity with calib_cam_to_cam (KITTI 2012 is tested on its real sample). */
static void test_layout_kitti_stereo(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    enum { W = 11, H = 7 };
    test_rng r;
    test_rng_seed(&r, 29);
    size_t n = (size_t)W * H;
    uint8_t *img = write_rgb("ks/training/image_2/000003_10.png", W, H, &r);
    uint16_t *v = test_malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint16_t)(i % 4 == 0 ? 0 : 512 + test_rng_below(&r, 20000));
    write_gray("ks/training/disp_noc_0/000003_10.png", W, H, 16, v);
    /* f = 721.5377, B = (44.85728 + 339.5242) / f: KITTI 2015's usual rig. */
    write_text("ks/training/calib_cam_to_cam/000003.txt",
               "P_rect_02: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 "
               "7.215377e+02 1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 "
               "2.745884e-03\n"
               "P_rect_03: 7.215377e+02 0.000000e+00 6.095593e+02 -3.395242e+02 0.000000e+00 "
               "7.215377e+02 1.728540e+02 2.199936e+00 0.000000e+00 0.000000e+00 1.000000e+00 "
               "2.729905e-03\n");
    ww_dataset *d = open_layout("kitti-stereo", "ks", NULL, WW_TASK_DEPTH, 0, 1);
    ww_sample s;
    if (d && get_ok(d, 0, 0, &s)) {
        TEST_CHECK(!memcmp(s.image[0], img, 3 * n), "image differs");
        double fb = 44.85728 + 339.5242;
        size_t wrong = 0;
        for (size_t i = 0; i < n; i++) {
            double want = v[i] ? fb * 256.0 / v[i] : 0;
            wrong += fabs(s.target[i] - want) > 1e-5 * want;
        }
        TEST_CHECK(wrong == 0, "%zu depths wrong", wrong);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    EXPECT_MISSING_FILE("ks/training/calib_cam_to_cam/000003.txt",
                        layout_spec("kitti-stereo", "ks", NULL), WW_TASK_DEPTH, 0);
}

/* Cityscapes: labelIds to trainIds, the 19 names and colours, splits, the class count. */
static void test_layout_cityscapes(const char *arg)
{
    (void)arg;
    enum { W = 12, H = 6 };
    char err[ERRLEN], rel[192];
    test_rng r;
    test_rng_seed(&r, 30);
    size_t n = (size_t)W * H;
    /* labelId -> trainId: road 7 -> 0, car 26 -> 13, bicycle 33 -> 18, unlabeled 0, ego vehicle
     * 1, parking 9, license plate's 255 and a stray 40 -> ignore. */
    static const uint8_t label_ids[] = {7, 26, 33, 0, 1, 9, 255, 40, 24};
    static const float train_ids[] = {0, 13, 18, 255, 255, 255, 255, 255, 11};
    uint8_t *labels = test_malloc(n);
    for (size_t i = 0; i < n; i++)
        labels[i] = label_ids[i % sizeof label_ids];
    static const char *const samples[][2] = {
        {"train", "bochum/bochum_000000_000313"},
        {"train", "aachen/aachen_000000_000019"},
        {"train", "aachen/aachen_000001_000019"},
        {"val", "lindau/lindau_000000_000019"},
    };
    uint8_t *img[4];
    for (int k = 0; k < 4; k++) {
        snprintf(rel, sizeof rel, "cs/leftImg8bit/%s/%s_leftImg8bit.png", samples[k][0],
                 samples[k][1]);
        img[k] = write_rgb(rel, W, H, &r);
        snprintf(rel, sizeof rel, "cs/gtFine/%s/%s_gtFine_labelIds.png", samples[k][0],
                 samples[k][1]);
        write_gray(rel, W, H, 8, labels);
    }
    ww_dataset *d = open_layout("cityscapes", "cs", NULL, WW_TASK_SEG, 19, 3);
    if (d) {
        uint8_t rgb[3];
        ww_dataset_class_color(d, 13, rgb);
        const char *road = ww_dataset_class_name(d, 0), *bike = ww_dataset_class_name(d, 18);
        TEST_CHECK(ww_dataset_class_count(d) == 19 && road && !strcmp(road, "road") && bike &&
                       !strcmp(bike, "bicycle") && rgb[0] == 0 && rgb[1] == 0 && rgb[2] == 142,
                   "class table: %d classes, 0 '%s', 18 '%s', car %d %d %d",
                   ww_dataset_class_count(d), road ? road : "(null)", bike ? bike : "(null)",
                   rgb[0], rgb[1], rgb[2]);
        /* aachen sorts before bochum. */
        ww_sample s;
        if (get_ok(d, 2, 0, &s)) {
            size_t wrong = 0;
            for (size_t i = 0; i < n; i++)
                wrong += s.target[i] != train_ids[i % sizeof label_ids];
            TEST_CHECK(!memcmp(s.image[0], img[0], 3 * n), "sample 2 is not bochum's");
            TEST_CHECK(wrong == 0, "%zu trainIds wrong", wrong);
            ww_sample_free(&s);
        }
    }
    ww_dataset_close(d);
    d = open_layout("cityscapes", "cs", "val", WW_TASK_SEG, 19, 1);
    if (d)
        expect_sample(d, 0, img[3], NULL, NULL);
    ww_dataset_close(d);
    EXPECT_OPEN_ERROR(layout_spec("cityscapes", "cs", "val"), WW_TASK_SEG, 0, 0, 20,
                      WW_ERR_INVALID, "trainId table lists 19 classes", "opened with 20");
    EXPECT_MISSING_FILE("cs/gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png",
                        layout_spec("cityscapes", "cs", "train"), WW_TASK_SEG, 19);
}

/* ---- Real samples through the layouts and the new list lines --------------------------------- */

/* A symbolic link at rel in the test directory to the shared data's file data_rel; 0 after a
 * skip (no shared data) or a failure. */
static int link_data(const char *rel, const char *data_rel)
{
    const char *target = test_data_path(data_rel);
    if (!target)
        return 0;
    return TEST_CHECK(symlink(target, tree_path(rel)) == 0, "cannot link %s to %s", rel, target);
}

static int by_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* KITTI 2012 #000070 through kitti-stereo and through a list line with its calibration: depth
 * f * B / disparity with the shared README's f = 718.856 px and B = 0.5372 m, at the pixels with
 * ground truth only, and a street scene's range of depths. */
static void test_real_kitti_stereo(const char *arg)
{
    (void)arg;
    if (!link_data("rks/training/colored_0/000070_10.png", "depth/kitti2012/left_000070_10.png") ||
        !link_data("rks/training/disp_noc/000070_10.png",
                   "depth/kitti2012/disp_noc_000070_10.png") ||
        !link_data("rks/training/calib/000070.txt", "depth/kitti2012/calib_000070.txt"))
        return;
    char err[ERRLEN];
    ww_img disp;
    if (!TEST_CHECK(ww_img_read_png(test_tmp_path("rks/training/disp_noc/000070_10.png"), &disp,
                                    err, sizeof err) == WW_OK,
                    "%s", err))
        return;
    const uint16_t *v = disp.data;
    size_t n = (size_t)disp.width * (size_t)disp.height;
    ww_dataset *d = open_layout("kitti-stereo", "rks", NULL, WW_TASK_DEPTH, 0, 1);
    char text[1024];
    snprintf(text, sizeof text,
             "rks/training/colored_0/000070_10.png rks/training/disp_noc/000070_10.png "
             "rks/training/calib/000070.txt\n");
    ww_dataset *l = test_open_ok(write_list("rks.txt", text), WW_TASK_DEPTH, 0, 0, 0, 1);
    ww_sample s = {0}, t = {0};
    if (d && l && get_ok(d, 0, 0, &s) && get_ok(l, 0, 0, &t) &&
        TEST_CHECK(s.width == disp.width && s.height == disp.height, "%dx%d, disparity %dx%d",
                   s.width, s.height, disp.width, disp.height)) {
        TEST_CHECK(test_samples_equal(&s, &t, WW_TASK_DEPTH), "the layout and the list differ");
        float *z = test_malloc(n * sizeof *z);
        size_t valid = 0, wrong = 0;
        for (size_t i = 0; i < n; i++) {
            double want = v[i] ? 718.856 * 0.5372 * 256.0 / v[i] : 0;
            wrong += v[i] ? fabs(s.target[i] - want) > 1e-3 * want : s.target[i] != 0;
            if (v[i])
                z[valid++] = s.target[i];
        }
        qsort(z, valid, sizeof *z, by_float);
        double median = valid ? z[valid / 2] : 0;
        printf("# KITTI 2012 #000070 through kitti-stereo: %.1f%% of pixels with depth, median "
               "%.1f m, %.1f .. %.1f m\n",
               100.0 * (double)valid / (double)n, median, valid ? z[0] : 0,
               valid ? z[valid - 1] : 0);
        TEST_CHECK(wrong == 0, "%zu depths differ from 718.856 * 0.5372 / disparity", wrong);
        TEST_CHECK(valid > n / 10 && valid < n, "%zu of %zu pixels with depth", valid, n);
        TEST_CHECK(median > 5 && median < 60, "median depth %.1f m", median);
    }
    ww_sample_free(&s);
    ww_sample_free(&t);
    ww_dataset_close(d);
    ww_dataset_close(l);
    ww_img_free(&disp);
}

/* The real flow samples through their layouts: Sintel's pair passes the warp check, KITTI's
 * validity mask is sparse with u and v agreeing. */
static void test_real_layouts(const char *arg)
{
    (void)arg;
    if (!link_data("rs/training/clean/alley_1/frame_0002.png",
                   "flow/sintel-alley_1/frame_0002.png") ||
        !link_data("rs/training/clean/alley_1/frame_0003.png",
                   "flow/sintel-alley_1/frame_0003.png") ||
        !link_data("rs/training/flow/alley_1/frame_0002.flo",
                   "flow/sintel-alley_1/frame_0002.flo") ||
        !link_data("rk/training/image_2/000000_10.png", "flow/kitti/frame1.png") ||
        !link_data("rk/training/image_2/000000_11.png", "flow/kitti/frame2.png") ||
        !link_data("rk/training/flow_occ/000000_10.png", "flow/kitti/flow_gt.png"))
        return;
    ww_dataset *d = open_layout("sintel", "rs", NULL, WW_TASK_FLOW, 0, 1);
    ww_sample s;
    if (d && get_ok(d, 0, 0, &s)) {
        expect_warp(&s, "Sintel alley_1 through the sintel layout");
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    d = open_layout("kitti", "rk", NULL, WW_TASK_FLOW, 0, 1);
    if (d && get_ok(d, 0, 0, &s)) {
        size_t n = test_pixels(&s), valid = 0, bad = 0;
        for (size_t i = 0; i < n; i++) {
            float u = s.target[i], v = s.target[n + i];
            valid += !isnan(u);
            bad += isnan(u) != isnan(v) || (!isnan(u) && !(fabsf(u) < 512 && fabsf(v) < 512));
        }
        printf("# KITTI flow through the kitti layout: %zu of %zu pixels valid\n", valid, n);
        TEST_CHECK(bad == 0, "%zu pixels with one component or out of range", bad);
        TEST_CHECK(valid > n / 20 && valid < n * 6 / 10, "%zu of %zu pixels valid: not sparse",
                   valid, n);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
}

/* CamVid through a list with its 11 classes: the void label 11 becomes ignore. */
static void test_real_camvid_classes(const char *arg)
{
    (void)arg;
    const char *image = test_data_path("seg/camvid/image_0001TP_006690.png");
    if (!image)
        return;
    const char *label = test_data_path("seg/camvid/label_0001TP_006690.png");
    char err[ERRLEN], text[1024];
    write_text("camvid_classes.txt", "# SegNet's CamVid classes; 11 (void) is not one\n"
                                     "0 Sky 128 128 128\n1 Building 128 0 0\n"
                                     "2 Pole 192 192 128\n3 Road 128 64 128\n"
                                     "4 Pavement 60 40 222\n5 Tree 128 128 0\n"
                                     "6 SignSymbol 192 128 128\n7 Fence 64 64 128\n"
                                     "8 Car 64 0 128\n9 Pedestrian 64 64 0\n"
                                     "10 Bicyclist 0 128 192\n");
    snprintf(text, sizeof text, "classes camvid_classes.txt\n%s %s\n", image, label);
    ww_img raw;
    if (!TEST_CHECK(ww_img_read_png(label, &raw, err, sizeof err) == WW_OK, "%s", err))
        return;
    ww_dataset *d = test_open_ok(write_list("camvid.txt", text), WW_TASK_SEG, 0, 0, 11, 1);
    ww_sample s;
    if (d && get_ok(d, 0, 0, &s)) {
        const uint8_t *ids = raw.data;
        size_t voids = 0, wrong = 0;
        for (size_t i = 0; i < test_pixels(&s); i++) {
            voids += ids[i] == 11;
            wrong += s.target[i] != (ids[i] == 11 ? 255.0f : (float)ids[i]);
        }
        const char *bike = ww_dataset_class_name(d, 10);
        TEST_CHECK(ww_dataset_class_count(d) == 11 && bike && !strcmp(bike, "Bicyclist"),
                   "%d classes, class 10 '%s'", ww_dataset_class_count(d),
                   bike ? bike : "(null)");
        TEST_CHECK(wrong == 0, "%zu labels wrong", wrong);
        printf("# CamVid through a classes file: %zu void pixels ignored\n", voids);
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    ww_img_free(&raw);
}

/* ---- Batches --------------------------------------------------------------------------------- */

static ww_batch_spec batch_spec(ww_task task, int batch, int w, int h, int windows, int ws)
{
    return (ww_batch_spec){.task = task, .batch = batch, .width = w, .height = h,
                           .windows = windows, .window_size = ws,
                           .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f},
                           .classes = 5};
}

static void test_batch_sizes(const char *arg)
{
    (void)arg;
    size_t im, wi, ta, we;
    ww_batch_spec s = batch_spec(WW_TASK_FLOW, 3, 128, 96, 2, 3);
    ww_batch_sizes(&s, &im, &wi, &ta, &we);
    TEST_CHECK(im == 3u * 2 * 3 * 128 * 96 && wi == 3u * 2 * 2 * 2 && ta == 3u * 2 * 2 * 48 * 48 &&
                   we == 3u * 2 * 48 * 48,
               "flow windows: %zu %zu %zu %zu", im, wi, ta, we);
    s.windows = 0;
    ww_batch_sizes(&s, &im, &wi, &ta, &we);
    TEST_CHECK(im == 3u * 2 * 3 * 128 * 96 && wi == 0 && ta == 3u * 2 * 128 * 96 &&
                   we == 3u * 128 * 96,
               "flow whole: %zu %zu %zu %zu", im, wi, ta, we);
    s = batch_spec(WW_TASK_SEG, 2, 64, 32, 4, 1);
    ww_batch_sizes(&s, &im, &wi, &ta, &we);
    TEST_CHECK(im == 2u * 3 * 64 * 32 && wi == 2u * 4 * 2 && ta == 2u * 4 * 16 * 16 &&
                   we == 2u * 4 * 16 * 16,
               "seg windows: %zu %zu %zu %zu", im, wi, ta, we);
}

typedef struct batch_arrays {
    float *images, *target, *weight;
    uint32_t *windows;
    size_t n_images, n_windows, n_target, n_weight;
} batch_arrays;

static void batch_alloc(const ww_batch_spec *s, batch_arrays *a)
{
    ww_batch_sizes(s, &a->n_images, &a->n_windows, &a->n_target, &a->n_weight);
    a->images = test_malloc(a->n_images * sizeof(float));
    a->windows = a->n_windows ? test_malloc(a->n_windows * sizeof(uint32_t)) : NULL;
    a->target = test_malloc(a->n_target * sizeof(float));
    a->weight = test_malloc(a->n_weight * sizeof(float));
}

/* Every array of a filled batch against the samples, from the definitions in batch.h. */
static void check_batch(const ww_batch_spec *s, const ww_sample *samples, const batch_arrays *a,
                        int64_t valid)
{
    int B = s->batch, F = ww_task_frames(s->task), n = s->windows;
    int C = ww_task_target_channels(s->task), G = n ? n : 1;
    int th = n ? 16 * s->window_size : s->height, tw = n ? 16 * s->window_size : s->width;
    size_t plane = (size_t)s->width * (size_t)s->height, tplane = (size_t)th * (size_t)tw;
    size_t wrong = 0;
    for (int f = 0; f < F; f++)
        for (int b = 0; b < B; b++)
            for (int c = 0; c < 3; c++)
                for (size_t i = 0; i < plane; i++) {
                    float want =
                        ((float)samples[b].image[f][3 * i + (size_t)c] / 255.0f - s->mean[c]) /
                        s->std[c];
                    wrong += a->images[(((size_t)f * (size_t)B + (size_t)b) * 3 + (size_t)c) *
                                           plane +
                                       i] != want;
                }
    TEST_CHECK(wrong == 0, "%zu normalised image values wrong", wrong);

    int64_t count = 0;
    double sum = 0;
    size_t bad_target = 0, bad_weight = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < G; g++) {
                size_t slot = (size_t)b * (size_t)G + (size_t)g;
                int y0 = n ? 16 * (int)a->windows[2 * slot] : 0;
                int x0 = n ? 16 * (int)a->windows[2 * slot + 1] : 0;
                for (int y = 0; y < th; y++)
                    for (int x = 0; x < tw; x++) {
                        size_t src = (size_t)(y0 + y) * (size_t)s->width + (size_t)(x0 + x);
                        size_t i = (size_t)y * (size_t)tw + (size_t)x;
                        float want[2] = {0, 0};
                        const float *t = samples[b].target;
                        int ok;
                        if (s->task == WW_TASK_FLOW) {
                            ok = isfinite(t[src]) && isfinite(t[plane + src]) &&
                                 hypot(t[src], t[plane + src]) < 1e4;
                            want[0] = ok ? t[src] : 0;
                            want[1] = ok ? t[plane + src] : 0;
                        } else if (s->task == WW_TASK_DEPTH) {
                            ok = isfinite(t[src]) && t[src] > 0;
                            want[0] = ok ? 1 / t[src] : 0;
                        } else {
                            ok = t[src] >= 0 && t[src] < s->classes;
                            want[0] = ok ? t[src] : 0;
                        }
                        if (pass == 0) {
                            count += ok;
                            continue;
                        }
                        float w = a->weight[slot * tplane + i];
                        sum += w;
                        bad_weight += w != (ok ? 1.0f / (float)count : 0.0f);
                        for (int c = 0; c < C; c++)
                            bad_target +=
                                a->target[(slot * (size_t)C + (size_t)c) * tplane + i] !=
                                want[c];
                    }
            }
    TEST_CHECK(count == valid, "valid count %lld, want %lld", (long long)valid,
               (long long)count);
    TEST_CHECK(bad_target == 0, "%zu target values differ from the samples' pixels",
               bad_target);
    TEST_CHECK(bad_weight == 0, "%zu weights wrong", bad_weight);
    TEST_CHECK(count ? fabs(sum - 1) < 1e-4 : sum == 0, "weights sum to %.6f", sum);
    for (size_t k = 0; k < a->n_windows; k += 2)
        wrong += a->windows[k] + (uint32_t)s->window_size > (uint32_t)s->height / 16 ||
                 a->windows[k + 1] + (uint32_t)s->window_size > (uint32_t)s->width / 16;
    TEST_CHECK(wrong == 0, "%zu windows outside the token grid", wrong);
}

/* ww_batch_fill into a's arrays; err holds ERRLEN bytes. */
static ww_status batch_fill(const ww_batch_spec *s, const ww_sample *samples, ww_rng *r,
                            const batch_arrays *a, int64_t *valid, char *err)
{
    return ww_batch_fill(s, samples, r, a->images, a->windows, a->target, a->weight, valid, err,
                         ERRLEN);
}

/* A batch_fill that must succeed, checked by check_batch; *valid its valid-pixel count. 1 when
 * it filled. */
static int fill_ok(const ww_batch_spec *s, const ww_sample *samples, ww_rng *r,
                   const batch_arrays *a, int64_t *valid)
{
    char err[ERRLEN];
    *valid = -1;
    if (!TEST_CHECK(batch_fill(s, samples, r, a, valid, err) == WW_OK, "%s, %d windows: %s",
                    task_names[s->task], s->windows, err))
        return 0;
    check_batch(s, samples, a, *valid);
    return 1;
}

static void test_batch_flow(const char *arg)
{
    (void)arg;
    enum { B = 3, W = 128, H = 96 };
    char err[ERRLEN];
    ww_dataset *d = test_open_ok("synthetic:8", WW_TASK_FLOW, W, H, 0, 1);
    ww_sample samples[B] = {{0}};
    for (int b = 0; d && b < B; b++)
        if (!get_ok(d, b, 0, &samples[b])) {
            ww_dataset_close(d);
            d = NULL;
        }
    if (d) {
        /* Unknown flow: NaN, infinite, and the huge value of an unknown .flo pixel. */
        size_t n = (size_t)W * H;
        for (size_t i = 0; i < n; i += 7)
            samples[0].target[i] = NAN;
        for (size_t i = 0; i < n; i += 5)
            samples[1].target[n + i] = 1e5f;
        samples[2].target[3] = INFINITY;
        ww_batch_spec s = batch_spec(WW_TASK_FLOW, B, W, H, 2, 2);
        batch_arrays a;
        batch_alloc(&s, &a);
        ww_rng r;
        ww_rng_seed(&r, 9);
        int64_t valid;
        if (fill_ok(&s, samples, &r, &a, &valid))
            TEST_CHECK(!memcmp(a.windows, a.windows + a.n_windows / 2,
                               a.n_windows / 2 * sizeof(uint32_t)),
                       "frame 2 has other windows than frame 1");
        s.independent_windows = 1;
        int differ = 0;
        for (int k = 0; k < 4; k++)
            if (fill_ok(&s, samples, &r, &a, &valid))
                differ += memcmp(a.windows, a.windows + a.n_windows / 2,
                                 a.n_windows / 2 * sizeof(uint32_t)) != 0;
        TEST_CHECK(differ > 0, "independent windows: frame 2 always copies frame 1");
        /* The whole image, no windows array. */
        s = batch_spec(WW_TASK_FLOW, B, W, H, 0, 0);
        batch_alloc(&s, &a);
        fill_ok(&s, samples, &r, &a, &valid);

        /* Wrong samples and specs name the value. */
        s = batch_spec(WW_TASK_FLOW, B, W, H, 2, 2);
        batch_alloc(&s, &a);
        uint8_t *second = samples[1].image[1];
        samples[1].image[1] = NULL;
        EXPECT_ERROR(batch_fill(&s, samples, &r, &a, NULL, err),
                     WW_ERR_INVALID, "sample 1", "second frame");
        samples[1].image[1] = second;
        samples[2].width = W / 2;
        EXPECT_ERROR(batch_fill(&s, samples, &r, &a, NULL, err),
                     WW_ERR_INVALID, "sample 2", "64x96");
        samples[2].width = W;
        s.window_size = 7;
        EXPECT_ERROR(batch_fill(&s, samples, &r, &a, NULL, err), WW_ERR_INVALID, "7", NULL);
        s = batch_spec(WW_TASK_FLOW, B, W - 8, H, 2, 2);
        EXPECT_ERROR(batch_fill(&s, samples, &r, &a, NULL, err), WW_ERR_INVALID, "120x96", "16");
        s = batch_spec(WW_TASK_FLOW, B, W, H, 2, 2);
        s.std[1] = 0;
        EXPECT_ERROR(batch_fill(&s, samples, &r, &a, NULL, err), WW_ERR_INVALID, "channel 1", NULL);
        ww_dataset_close(d);
    }
    for (int b = 0; b < B; b++)
        ww_sample_free(&samples[b]);
}

static void test_batch_depth_seg(const char *arg)
{
    (void)arg;
    enum { B = 2, W = 96, H = 64 };
    char err[ERRLEN];
    for (int t = WW_TASK_DEPTH; t <= WW_TASK_SEG; t++) {
        ww_task task = (ww_task)t;
        ww_dataset *d = test_open_ok("synthetic:4", task, W, H, 5, 2);
        ww_sample samples[B] = {{0}};
        int ok = d != NULL;
        for (int b = 0; ok && b < B; b++)
            ok = get_ok(d, b, 1, &samples[b]);
        ww_dataset_close(d);
        if (ok) {
            size_t n = (size_t)W * H;
            for (size_t i = 0; i < n; i += 3)
                samples[0].target[i] = task == WW_TASK_DEPTH ? (i % 2 ? NAN : -1.0f) : 255.0f;
            for (size_t i = 1; i < n; i += 11)
                samples[1].target[i] = task == WW_TASK_DEPTH ? 0.0f : 5.0f;
            for (int windows = 0; windows <= 3; windows += 3) {
                ww_batch_spec s = batch_spec(task, B, W, H, windows, 2);
                batch_arrays a;
                batch_alloc(&s, &a);
                ww_rng r;
                ww_rng_seed(&r, (uint64_t)t);
                int64_t valid;
                fill_ok(&s, samples, &r, &a, &valid);
            }
            /* Nothing valid: every weight 0. */
            for (int b = 0; b < B; b++)
                for (size_t i = 0; i < n; i++)
                    samples[b].target[i] = task == WW_TASK_DEPTH ? 0.0f : 255.0f;
            ww_batch_spec s = batch_spec(task, B, W, H, 2, 3);
            batch_arrays a;
            batch_alloc(&s, &a);
            ww_rng r;
            ww_rng_seed(&r, 5);
            int64_t valid;
            if (fill_ok(&s, samples, &r, &a, &valid))
                TEST_CHECK(valid == 0, "%lld valid pixels, want 0", (long long)valid);
            s.classes = 0;
            if (task == WW_TASK_SEG)
                EXPECT_ERROR(batch_fill(&s, samples, &r, &a, NULL, err),
                             WW_ERR_INVALID, "classes 0", NULL);
        }
        for (int b = 0; b < B; b++)
            ww_sample_free(&samples[b]);
    }
}

int main(int argc, char **argv)
{
    static const ww_test_case cases[] = {
        {"specs", test_specs, NULL},
        {"synth_determinism", test_synth_determinism, NULL},
        {"synth_sizes", test_synth_sizes, NULL},
        {"synth_flow_warp", test_synth_flow_warp, NULL},
        {"synth_flow_scale", test_synth_flow_scale, NULL},
        {"synth_depth", test_synth_depth, NULL},
        {"synth_seg", test_synth_seg, NULL},
        {"synth_texture", test_synth_texture, NULL},
        {"list_flow", test_list_flow, NULL},
        {"list_depth", test_list_depth, NULL},
        {"list_seg", test_list_seg, NULL},
        {"list_errors", test_list_errors, NULL},
        {"real_flow", test_real_flow, NULL},
        {"real_depth", test_real_depth, NULL},
        {"real_seg", test_real_seg, NULL},
        {"list_depth_formats", test_list_depth_formats, NULL},
        {"list_classes", test_list_classes, NULL},
        {"list_flo5", test_list_flo5, NULL},
        {"layout_specs", test_layout_specs, NULL},
        {"layout_chairs", test_layout_chairs, NULL},
        {"layout_sintel", test_layout_sintel, NULL},
        {"layout_kitti", test_layout_kitti, NULL},
        {"layout_things", test_layout_things, NULL},
        {"layout_spring", test_layout_spring, NULL},
        {"layout_kitti_stereo", test_layout_kitti_stereo, NULL},
        {"layout_cityscapes", test_layout_cityscapes, NULL},
        {"real_kitti_stereo", test_real_kitti_stereo, NULL},
        {"real_layouts", test_real_layouts, NULL},
        {"real_camvid_classes", test_real_camvid_classes, NULL},
        {"batch_sizes", test_batch_sizes, NULL},
        {"batch_flow", test_batch_flow, NULL},
        {"batch_depth_seg", test_batch_depth_seg, NULL},
    };
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
