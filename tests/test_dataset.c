/* The trainer's data (training/dataset.h, training/batch.h): synthetic samples (deterministic,
 * exact flow checked by warping, depth ranges, class-dependent segmentation), list datasets of
 * every task on generated files and on the real samples of the shared data folder, errors that
 * name the file and line, and micro-batch assembly (layouts, normalisation, window crops,
 * weights).
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

#include "batch.h"
#include "dataset.h"
#include "flow_io.h"
#include "image_io.h"
#include "test_util.h"

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

static ww_dataset *open_ok(const char *spec, ww_task task, int w, int h, int classes,
                           uint64_t seed)
{
    char err[ERRLEN];
    ww_dataset *d = NULL;
    TEST_CHECK(ww_dataset_open(spec, task, w, h, classes, seed, &d, err, sizeof err) == WW_OK,
               "open %s (%s): %s", spec, task_names[task], err);
    return d;
}

static int get_ok(ww_dataset *d, int64_t index, uint64_t seed, ww_sample *s)
{
    char err[ERRLEN];
    return TEST_CHECK(ww_dataset_get(d, index, seed, s, err, sizeof err) == WW_OK,
                      "get %lld: %s", (long long)index, err);
}

static size_t pixels(const ww_sample *s)
{
    return (size_t)s->width * (size_t)s->height;
}

/* Same size and bytes (NaN targets compare as bits, so exact copies of NaN are equal). */
static int samples_equal(const ww_sample *a, const ww_sample *b, ww_task task)
{
    if (a->width != b->width || a->height != b->height)
        return 0;
    size_t n = pixels(a);
    for (int f = 0; f < ww_task_frames(task); f++)
        if (memcmp(a->image[f], b->image[f], 3 * n) != 0)
            return 0;
    return memcmp(a->target, b->target, n * (size_t)ww_task_target_channels(task) *
                                            sizeof(float)) == 0;
}

/* "list:PATH" for the file name of the test directory (test memory). */
static const char *list_spec(const char *name)
{
    const char *path = test_tmp_path(name);
    size_t n = strlen(path) + 6;
    char *spec = test_malloc(n);
    snprintf(spec, n, "list:%s", path);
    return spec;
}

/* "list:PATH" for a list file written into the test directory. */
static const char *write_list(const char *name, const char *text)
{
    if (!test_write_bytes(test_tmp_path(name), text, strlen(text)))
        return "list:/nonexistent";
    return list_spec(name);
}

/* A random RGB8 image written as PNG in the test directory; its bytes (test memory). */
static uint8_t *write_rgb(const char *name, int w, int h, test_rng *r)
{
    char err[ERRLEN];
    uint8_t *px = test_malloc((size_t)w * (size_t)h * 3);
    for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++)
        px[i] = (uint8_t)test_rng_below(r, 256);
    ww_img img = {.width = w, .height = h, .channels = 3, .depth = 8, .data = px};
    TEST_CHECK(ww_img_write_png(test_tmp_path(name), &img, err, sizeof err) == WW_OK, "%s", err);
    return px;
}

static int write_gray(const char *name, int w, int h, int depth, const void *data)
{
    char err[ERRLEN];
    ww_img img = {.width = w, .height = h, .channels = 1, .depth = depth, .data = (void *)data};
    return TEST_CHECK(ww_img_write_png(test_tmp_path(name), &img, err, sizeof err) == WW_OK,
                      "%s", err);
}

typedef struct warp_stats {
    double e_warp, e_id; /* mean abs error (levels) along the flow, and without moving */
    double within;       /* share of the compared pixels within 8 levels along the flow */
    size_t used;         /* pixels compared: valid flow landing inside frame 2 */
    double e_visible;    /* mean abs error along the flow on the pixels surely not occluded */
    size_t visible;      /* how many */
} warp_stats;

static int same_flow(const ww_sample *s, size_t i, size_t j)
{
    size_t n = pixels(s);
    return s->target[i] == s->target[j] && s->target[n + i] == s->target[n + j];
}

/* Frame 2 sampled at p + flow(p) against frame 1 at p, over the pixels whose flow is valid and
 * lands inside frame 2 (occluded ones included, so that error is not zero), and separately over
 * the pixels surely visible in both frames: their 3 x 3 neighbourhood moves as one, and no frame-1
 * pixel of another motion lands within a pixel of their destination (what would cover them). */
static void warp_check(const ww_sample *s, warp_stats *w)
{
    size_t n = pixels(s), within = 0;
    memset(w, 0, sizeof *w);
    /* Frame-2 pixels that frame-1 pixels of two different motions land next to. */
    int64_t *first = test_malloc(n * sizeof *first);
    uint8_t *conflict = test_malloc(n);
    for (size_t i = 0; i < n; i++)
        first[i] = -1;
    for (int y = 0; y < s->height; y++)
        for (int x = 0; x < s->width; x++) {
            size_t i = (size_t)y * (size_t)s->width + (size_t)x;
            double tx = x + s->target[i], ty = y + s->target[n + i];
            if (!isfinite(tx) || !isfinite(ty))
                continue;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    double qx = floor(tx) + dx, qy = floor(ty) + dy;
                    if (qx < 0 || qy < 0 || qx >= s->width || qy >= s->height)
                        continue;
                    size_t q = (size_t)qy * (size_t)s->width + (size_t)qx;
                    if (first[q] < 0)
                        first[q] = (int64_t)i;
                    else if (!same_flow(s, (size_t)first[q], i))
                        conflict[q] = 1;
                }
        }
    for (int y = 0; y < s->height; y++)
        for (int x = 0; x < s->width; x++) {
            size_t i = (size_t)y * (size_t)s->width + (size_t)x;
            double u = s->target[i], v = s->target[n + i], tx = x + u, ty = y + v;
            if (!isfinite(u) || !isfinite(v) || tx < 0 || ty < 0 || tx > s->width - 1 ||
                ty > s->height - 1)
                continue;
            w->used++;
            double e = 0;
            for (int k = 0; k < 3; k++) {
                double a = s->image[0][3 * i + (size_t)k];
                e += fabs(test_bilinear_rgb8(s->image[1], s->width, tx, ty, k) - a);
                w->e_id += fabs((double)s->image[1][3 * i + (size_t)k] - a);
            }
            w->e_warp += e;
            within += e / 3 <= 8;
            int visible = x > 0 && y > 0 && x + 1 < s->width && y + 1 < s->height;
            for (int dy = -1; dy <= 1 && visible; dy++)
                for (int dx = -1; dx <= 1 && visible; dx++)
                    visible = same_flow(s, i, (size_t)((int64_t)i + dy * s->width + dx));
            for (int dy = 0; dy < 2 && visible; dy++)
                for (int dx = 0; dx < 2 && visible; dx++) {
                    int qx = (int)floor(tx) + dx, qy = (int)floor(ty) + dy;
                    visible = qx >= s->width || qy >= s->height ||
                              !conflict[(size_t)qy * (size_t)s->width + (size_t)qx];
                }
            if (visible) {
                w->e_visible += e;
                w->visible++;
            }
        }
    if (w->used) {
        w->e_warp /= 3.0 * (double)w->used;
        w->e_id /= 3.0 * (double)w->used;
        w->within = (double)within / (double)w->used;
    }
    if (w->visible)
        w->e_visible /= 3.0 * (double)w->visible;
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

    ww_dataset *d = open_ok("synthetic", WW_TASK_FLOW, 64, 32, 0, 1);
    if (d) {
        TEST_CHECK(ww_dataset_size(d) == 1000, "default size %lld, want 1000",
                   (long long)ww_dataset_size(d));
        ww_dataset_close(d);
    }
    d = open_ok("synthetic:7", WW_TASK_SEG, 64, 32, 3, 1);
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
        ww_dataset *d = open_ok("synthetic:10", task, 80, 48, 5, 11);
        ww_dataset *e = open_ok("synthetic:10", task, 80, 48, 5, 12);
        ww_sample a = {0}, b = {0}, c = {0}, x = {0}, y = {0};
        if (d && e && get_ok(d, 3, 7, &a) && get_ok(d, 3, 7, &b) && get_ok(d, 4, 7, &c) &&
            get_ok(d, 3, 8, &x) && get_ok(e, 3, 7, &y)) {
            TEST_CHECK(a.width == 80 && a.height == 48, "%s: %dx%d, want 80x48", task_names[t],
                       a.width, a.height);
            TEST_CHECK((a.image[1] != NULL) == (task == WW_TASK_FLOW), "%s: image[1] %p",
                       task_names[t], (void *)a.image[1]);
            TEST_CHECK(samples_equal(&a, &b, task), "%s: same index and seed, other bytes",
                       task_names[t]);
            TEST_CHECK(!samples_equal(&a, &c, task), "%s: index 3 and 4 give the same sample",
                       task_names[t]);
            TEST_CHECK(!samples_equal(&a, &x, task), "%s: seeds 7 and 8 give the same sample",
                       task_names[t]);
            TEST_CHECK(!samples_equal(&a, &y, task),
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

/* Frame 2 sampled along the ground truth reproduces frame 1 wherever the point stays visible;
 * the remaining error is occlusion and bilinear interpolation of the texture. */
static void test_synth_flow_warp(const char *arg)
{
    (void)arg;
    enum { W = 192, H = 128, N = 16 };
    ww_dataset *d = open_ok("synthetic:100", WW_TASK_FLOW, W, H, 0, 5);
    if (!d)
        return;
    double e_warp = 0, e_id = 0, within = 0, max_mag = 0, e_visible = 0;
    size_t used = 0, visible = 0;
    int moving = 0;
    for (int k = 0; k < N; k++) {
        ww_sample s;
        if (!get_ok(d, k, 0, &s))
            break;
        size_t n = pixels(&s), finite = 0;
        float u0 = s.target[0], v0 = s.target[n];
        int layers = 0;
        for (size_t i = 0; i < n; i++) {
            double u = s.target[i], v = s.target[n + i];
            finite += isfinite(u) && isfinite(v);
            max_mag = fmax(max_mag, hypot(u, v));
            layers |= s.target[i] != u0 || s.target[n + i] != v0;
        }
        TEST_CHECK(finite == n, "sample %d: %zu of %zu flow values not finite", k, n - finite, n);
        moving += layers;
        warp_stats w;
        warp_check(&s, &w);
        e_warp += w.e_warp * (double)w.used;
        e_id += w.e_id * (double)w.used;
        within += w.within * (double)w.used;
        used += w.used;
        e_visible += w.e_visible * (double)w.visible;
        visible += w.visible;
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    if (!TEST_CHECK(used > (size_t)N * W * H / 2, "only %zu pixels land inside frame 2", used))
        return;
    e_warp /= (double)used;
    e_id /= (double)used;
    within /= (double)used;
    e_visible /= (double)(visible ? visible : 1);
    printf("# synthetic flow %dx%d, %d samples: mean abs error %.2f levels along the flow, "
           "%.2f without it; %.1f%% of pixels within 8 levels; %.2f levels on the %.1f%% surely "
           "visible; largest flow %.1f px\n",
           W, H, N, e_warp, e_id, 100 * within, e_visible, 100.0 * (double)visible / (double)used,
           max_mag);
    TEST_CHECK(visible > used / 2 && e_visible < 1.0,
               "%zu of %zu pixels surely visible, warp error %.2f levels there", visible, used,
               e_visible);
    TEST_CHECK(e_warp < 0.15 * e_id, "warp error %.2f levels, identity %.2f", e_warp, e_id);
    TEST_CHECK(within > 0.85, "only %.1f%% of pixels within 8 levels along the flow",
               100 * within);
    TEST_CHECK(max_mag <= H / 8.0 + 1e-3 && max_mag > 2, "largest flow %.2f px, limit %.2f",
               max_mag, H / 8.0);
    TEST_CHECK(moving >= N - 1, "only %d of %d samples have more than one motion", moving, N);
}

static void test_synth_depth(const char *arg)
{
    (void)arg;
    enum { W = 128, H = 96, N = 8 };
    ww_dataset *d = open_ok("synthetic", WW_TASK_DEPTH, W, H, 0, 2);
    if (!d)
        return;
    size_t valid = 0, invalid = 0, bad = 0;
    double near_sum = 0, far_sum = 0, zmin = 1e9, zmax = 0;
    size_t near_n = 0, far_n = 0, flat = 0;
    for (int k = 0; k < N; k++) {
        ww_sample s;
        if (!get_ok(d, k, 3, &s))
            break;
        TEST_CHECK(s.image[1] == NULL, "depth sample has a second frame");
        double mean = 0, var = 0;
        for (size_t i = 0; i < pixels(&s) * 3; i++)
            mean += s.image[0][i];
        mean /= (double)(pixels(&s) * 3);
        for (size_t i = 0; i < pixels(&s) * 3; i++)
            var += (s.image[0][i] - mean) * (s.image[0][i] - mean);
        flat += sqrt(var / (double)(pixels(&s) * 3)) < 10;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float z = s.target[y * W + x];
                if (z == 0) {
                    invalid++;
                    continue;
                }
                if (!(z >= 1 && z <= 80)) {
                    bad++;
                    continue;
                }
                valid++;
                zmin = fmin(zmin, z);
                zmax = fmax(zmax, z);
                if (y >= H * 9 / 10) {
                    near_sum += z;
                    near_n++;
                } else if (y >= H / 2 && y < H * 6 / 10) {
                    far_sum += z;
                    far_n++;
                }
            }
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    size_t all = (size_t)N * W * H;
    TEST_CHECK(bad == 0, "%zu depths outside 1..80 m and not 0", bad);
    TEST_CHECK(invalid > all / 50 && valid > all / 2, "%zu valid, %zu invalid (sky) of %zu",
               valid, invalid, all);
    TEST_CHECK(zmin < 5 && zmax > 30, "depths span %.2f .. %.2f m", zmin, zmax);
    TEST_CHECK(flat == 0, "%zu images without texture", flat);
    if (TEST_CHECK(near_n && far_n, "no valid depth at the bottom or the middle"))
        TEST_CHECK(near_sum / (double)near_n < 0.5 * far_sum / (double)far_n,
                   "bottom rows at %.1f m, middle rows at %.1f m: the ground does not recede",
                   near_sum / (double)near_n, far_sum / (double)far_n);
}

static void test_synth_seg(const char *arg)
{
    (void)arg;
    enum { W = 128, H = 96, N = 16, C = 6 };
    ww_dataset *d = open_ok("synthetic", WW_TASK_SEG, W, H, C, 4);
    if (!d)
        return;
    /* Mean colour and row of each class, over all samples and per sample. */
    double rgb[C][3] = {{0}}, row[C] = {0}, count[C] = {0};
    double srgb[N][C][3] = {{{0}}}, scount[N][C] = {{0}};
    size_t bad = 0, few = 0;
    for (int k = 0; k < N; k++) {
        ww_sample s;
        if (!get_ok(d, k, 9, &s))
            break;
        int seen = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                size_t i = (size_t)y * W + (size_t)x;
                float v = s.target[i];
                int c = (int)v;
                if (!(v >= 0 && v < C && v == (float)c)) {
                    bad++;
                    continue;
                }
                seen |= 1 << c;
                count[c]++;
                scount[k][c]++;
                row[c] += y;
                for (int j = 0; j < 3; j++) {
                    rgb[c][j] += s.image[0][3 * i + (size_t)j];
                    srgb[k][c][j] += s.image[0][3 * i + (size_t)j];
                }
            }
        few += __builtin_popcount((unsigned)seen) < 2;
        ww_sample_free(&s);
    }
    ww_dataset_close(d);
    TEST_CHECK(bad == 0, "%zu labels not an integer in 0..%d", bad, C - 1);
    TEST_CHECK(few == 0, "%zu samples show fewer than 2 classes", few);
    for (int c = 0; c < C; c++) {
        if (!TEST_CHECK(count[c] > 0, "class %d never appears", c))
            return;
        for (int j = 0; j < 3; j++)
            rgb[c][j] /= count[c];
        row[c] /= count[c];
    }
    /* Class-dependent look: a class's mean colour in one sample stays near its overall mean,
     * farther from every other class's. */
    double within = 0, between = 1e9;
    for (int k = 0; k < N; k++)
        for (int c = 0; c < C; c++) {
            if (scount[k][c] < 200)
                continue;
            double dist = 0;
            for (int j = 0; j < 3; j++)
                dist += fabs(srgb[k][c][j] / scount[k][c] - rgb[c][j]);
            within = fmax(within, dist);
        }
    for (int a = 0; a < C; a++)
        for (int b = a + 1; b < C; b++) {
            double dist = 0;
            for (int j = 0; j < 3; j++)
                dist += fabs(rgb[a][j] - rgb[b][j]);
            between = fmin(between, dist);
        }
    printf("# synthetic seg, %d classes: closest class colours %.1f apart (L1 of means), "
           "a class's colour varies by up to %.1f between samples; mean row of class 0 %.1f, "
           "of class %d %.1f\n",
           C, between, within, row[0], C - 1, row[C - 1]);
    TEST_CHECK(between > within, "classes %.1f apart, a class varies by %.1f", between, within);
    TEST_CHECK(row[0] > row[C - 1] + H / 4.0, "class 0 at mean row %.1f, class %d at %.1f",
               row[0], C - 1, row[C - 1]);
}

/* ---- List datasets on generated files -------------------------------------------------------- */

/* Find where crop c lies in full (by its first target plane and image); -1 if nowhere. */
static int find_crop(const ww_sample *full, const ww_sample *c, ww_task task, int *x0, int *y0)
{
    int channels = ww_task_target_channels(task), frames = ww_task_frames(task);
    size_t nf = pixels(full), nc = pixels(c);
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
    ww_dataset *full_d = open_ok(spec, task, 0, 0, classes, 3);
    ww_dataset *d = open_ok(spec, task, cw, ch, classes, 3);
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
                TEST_CHECK(samples_equal(&a, &b, task), "same index and seed, other crop");
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
    ww_dataset *d = ok ? open_ok(spec, WW_TASK_FLOW, 0, 0, 0, 1) : NULL;
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
    ww_dataset *d = ok ? open_ok(spec, WW_TASK_DEPTH, 0, 0, 0, 1) : NULL;
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
    ww_dataset *d = open_ok(spec, WW_TASK_SEG, 0, 0, C, 1);
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
    d = open_ok(spec, WW_TASK_SEG, 0, 0, C - 1, 1);
    if (d) {
        EXPECT_ERROR(ww_dataset_get(d, 0, 0, &s, err, sizeof err), WW_ERR_INVALID,
                     "seg.txt:2:", "ls_label.png");
        TEST_CHECK(test_contains(err, "label 6"), "message \"%s\" lacks the label", err);
        ww_dataset_close(d);
    }
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
    EXPECT_OPEN_ERROR(write_list("le_extra.txt", "le_a.png le_b.png extra.png\n"), WW_TASK_DEPTH,
                      0, 0, 0, WW_ERR_INVALID, "le_extra.txt:1:", "got 3");
    EXPECT_OPEN_ERROR(write_list("le_missing.txt", "# ok\nle_a.png le_b.png le.flo\n"
                                                   "le_a.png nothere.png le.flo\n"),
                      WW_TASK_FLOW, 0, 0, 0, WW_ERR_IO, "le_missing.txt:3:", "nothere.png");
    EXPECT_OPEN_ERROR(write_list("le_ext.txt", "le_a.png le_b.png le_nul.txt\n"), WW_TASK_FLOW, 0,
                      0, 0, WW_ERR_UNSUPPORTED, "le_ext.txt:1:", "le_nul.txt");
    EXPECT_OPEN_ERROR(write_list("le_segext.txt", "le_a.png le1.pfm\n"), WW_TASK_SEG, 0, 0, 5,
                      WW_ERR_UNSUPPORTED, "le_segext.txt:1:", "le1.pfm");
    EXPECT_OPEN_ERROR(write_list("le_empty.txt", "# nothing\n\n   \n"), WW_TASK_FLOW, 0, 0, 0,
                      WW_ERR_INVALID, "le_empty.txt", "no samples");
    EXPECT_OPEN_ERROR(list_spec("le_nul.txt"), WW_TASK_FLOW, 0, 0, 0, WW_ERR_INVALID,
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
            open_ok(spec, cases[k].task, cases[k].width, cases[k].height, 5, 1);
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
    ww_dataset *d = open_ok(spec, WW_TASK_FLOW, 0, 0, 0, 1);
    ww_sample s;
    if (d && get_ok(d, 0, 0, &s)) {
        TEST_CHECK(s.width == 1024 && s.height == 436, "Sintel %dx%d", s.width, s.height);
        size_t nan = 0;
        for (size_t i = 0; i < 2 * pixels(&s); i++)
            nan += !isfinite(s.target[i]);
        TEST_CHECK(nan == 0, "Sintel: %zu flow values invalid", nan);
        warp_stats w;
        warp_check(&s, &w);
        printf("# Sintel alley_1 through the list: mean abs error %.2f levels along the flow, "
               "%.2f without it\n",
               w.e_warp, w.e_id);
        TEST_CHECK(w.e_warp < 0.5 * w.e_id, "Sintel warp error %.2f levels, identity %.2f",
                   w.e_warp, w.e_id);
        ww_sample_free(&s);
    }
    if (d && get_ok(d, 1, 0, &s)) {
        TEST_CHECK(s.width == 1242 && s.height == 375, "KITTI %dx%d", s.width, s.height);
        size_t n = pixels(&s), valid = 0, both = 0;
        for (size_t i = 0; i < n; i++) {
            int vu = !isnan(s.target[i]), vv = !isnan(s.target[n + i]);
            valid += vu;
            both += vu == vv;
        }
        TEST_CHECK(both == n, "KITTI: u and v disagree on validity");
        TEST_CHECK(valid > n / 20 && valid < n, "KITTI: %zu of %zu pixels valid", valid, n);
        warp_stats w;
        warp_check(&s, &w);
        printf("# KITTI flow through the list: %.1f%% valid, mean abs error %.2f levels along "
               "the flow, %.2f without it\n",
               100.0 * (double)valid / (double)n, w.e_warp, w.e_id);
        TEST_CHECK(w.e_warp < 0.5 * w.e_id, "KITTI warp error %.2f levels, identity %.2f",
                   w.e_warp, w.e_id);
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
    ww_dataset *d = ok ? open_ok(spec, WW_TASK_DEPTH, 0, 0, 0, 1) : NULL;
    for (int k = 0; d && k < 2; k++) {
        ww_sample s;
        if (!get_ok(d, k, 0, &s))
            continue;
        size_t valid = 0, far = 0;
        for (size_t i = 0; i < pixels(&s); i++) {
            valid += s.target[i] > 0;
            far += s.target[i] > 0 && (s.target[i] < 1 || s.target[i] > 400);
        }
        TEST_CHECK(pixels(&s) == n && valid == known, "sample %d: %zu valid depths, want %zu",
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
    ww_dataset *d = open_ok(spec, WW_TASK_SEG, 0, 0, 12, 1);
    ww_sample s;
    if (d && get_ok(d, 0, 0, &s)) {
        TEST_CHECK(s.width == 480 && s.height == 360, "CamVid %dx%d", s.width, s.height);
        int seen = 0;
        size_t bad = 0;
        for (size_t i = 0; i < pixels(&s); i++) {
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
    d = open_ok(spec, WW_TASK_SEG, 0, 0, 11, 1);
    if (d) {
        EXPECT_ERROR(ww_dataset_get(d, 0, 0, &s, err, sizeof err), WW_ERR_INVALID,
                     "real_seg.txt:1:", "label_0001TP_006690.png");
        ww_dataset_close(d);
    }
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
    ww_dataset *d = open_ok("synthetic:8", WW_TASK_FLOW, W, H, 0, 1);
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
        ww_dataset *d = open_ok("synthetic:4", task, W, H, 5, 2);
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
        {"synth_flow_warp", test_synth_flow_warp, NULL},
        {"synth_depth", test_synth_depth, NULL},
        {"synth_seg", test_synth_seg, NULL},
        {"list_flow", test_list_flow, NULL},
        {"list_depth", test_list_depth, NULL},
        {"list_seg", test_list_seg, NULL},
        {"list_errors", test_list_errors, NULL},
        {"real_flow", test_real_flow, NULL},
        {"real_depth", test_real_depth, NULL},
        {"real_seg", test_real_seg, NULL},
        {"batch_sizes", test_batch_sizes, NULL},
        {"batch_flow", test_batch_flow, NULL},
        {"batch_depth_seg", test_batch_depth_seg, NULL},
    };
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
