/* Model parity with the PyTorch reference (tests/reference/croco_ref.py): tiny flow, depth and
 * segmentation models with committed weights and expected activations (tests/fixtures/, made by
 * tests/reference/make_fixtures.py), run on both backends; flow frame reuse against fresh pairs;
 * model files that are wrong in one way each.
 *
 * Usage: test_model [NAME-SUBSTRING...]; WW_FIXTURES names the fixture folder.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model.h"
#include "safetensors.h"
#include "test_util.h"

/* Compare a runner activation (or the cropped output) with the fixture's. */
static void compare(ww_backend *be, ww_runner *r, const ww_st_file *io, const char *name,
                    const char *what)
{
    size_t n = 0;
    const float *want = test_fixture_f32(io, name, &n);
    if (!want)
        return;
    float *got = test_malloc(n * sizeof *got);
    ww_status st = !strcmp(name, "output") ? ww_runner_output(r, got, n)
                                           : ww_runner_read(r, name, got, n);
    if (!TEST_OK(be, st))
        return;
    char label[1300];
    snprintf(label, sizeof label, "%s: %s", what, name);
    TEST_COMPARE_F(label, got, want, n, TEST_TOL_REDUCE);
}

/* The device's class map and confidence against the argmax and softmax of the expected logits. */
static void check_labels(ww_backend *be, ww_runner *r, const ww_st_file *io, const char *what)
{
    size_t n = 0;
    const float *logits = test_fixture_f32(io, "output", &n);
    const ww_st_tensor *out = ww_st_find(io, "output");
    if (!logits || !TEST_CHECK(out->ndim == 3, "%s: output is not [C, H, W]", what))
        return;
    size_t C = (size_t)out->shape[0], hw = n / C;
    uint32_t *ids = test_malloc(hw * sizeof *ids);
    float *conf = test_malloc(hw * sizeof *conf), *want = test_malloc(hw * sizeof *want);
    if (!TEST_OK(be, ww_runner_labels(r, ids, conf, hw)))
        return;
    int wrong = 0;
    for (size_t i = 0; i < hw; i++) {
        size_t best = 0;
        double sum = 0;
        for (size_t ch = 1; ch < C; ch++)
            if (logits[ch * hw + i] > logits[best * hw + i])
                best = ch;
        for (size_t ch = 0; ch < C; ch++)
            sum += exp((double)logits[ch * hw + i] - logits[best * hw + i]);
        want[i] = (float)(1.0 / sum);
        wrong += ids[i] != best;
    }
    TEST_CHECK(wrong == 0, "%s: %d of %zu class ids differ from the expected logits' argmax", what,
               wrong, hw);
    TEST_COMPARE_F("class confidence", conf, want, hw, TEST_TOL_REDUCE);
}

/* Push the fixture's image(s) through a runner of the fixture's size and compare everything. */
static void run_fixture(ww_backend *be, ww_model *m, const char *io_path, const char *dev)
{
    char err[512];
    ww_st_file *io;
    if (!TEST_CHECK(ww_st_open(io_path, &io, err, sizeof err) == WW_OK, "%s", err))
        return;
    const ww_st_tensor *img1 = ww_st_find(io, "image1"), *img2 = ww_st_find(io, "image2");
    if (!TEST_CHECK(img1 && img1->ndim == 3 && img1->shape[2] == 3 && img1->dtype == WW_ST_U8,
                    "%s: image1 must be uint8 [H, W, 3]", io_path)) {
        ww_st_close(io);
        return;
    }
    int H = (int)img1->shape[0], W = (int)img1->shape[1];
    const ww_model_config *c = ww_model_config_of(m);
    ww_runner *r;
    char what[1200];
    snprintf(what, sizeof what, "%s on %s", io_path, dev);
    if (TEST_OK(be, ww_runner_create(m, W, H, WW_FMT_RGB, &r))) {
        ww_image_layout l;
        size_t bytes = ww_image_layout_packed(WW_FMT_RGB, W, H, &l);
        int has = 0;
        int ok = TEST_OK(be, ww_runner_push(r, img1->data, bytes, &l, &has));
        if (ok && c->task == WW_TASK_FLOW) {
            TEST_CHECK(!has, "%s: the first flow frame gave an output", what);
            ok = TEST_CHECK(img2 != NULL, "%s: flow fixture without image2", io_path) &&
                 TEST_OK(be, ww_runner_push(r, img2->data, bytes, &l, &has));
        }
        if (ok && TEST_CHECK(has, "%s: no output", what)) {
            static const char *const names[] = {"input1", "enc1", "enc2", "dec", "hook0",
                                                "hook1", "hook2", "hook3", "act0", "act1",
                                                "act2", "act3", "path4", "path3", "path2",
                                                "path1", "output"};
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
                if (ww_st_find(io, names[i]))
                    compare(be, r, io, names[i], what);
            if (c->semseg)
                check_labels(be, r, io, what);
        }
        ww_runner_destroy(r);
    }
    ww_st_close(io);
}

/* Every io fixture of a task ("tiny_flow_*.safetensors" beside "tiny_flow.safetensors"). */
static void test_parity(const char *arg)
{
    const char *dev = strchr(arg, ':') + 1;
    char task[16];
    snprintf(task, sizeof task, "%.*s", (int)(strchr(arg, ':') - arg), arg);
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    char path[1024], prefix[64];
    snprintf(path, sizeof path, "%s/tiny_%s.safetensors", test_fixtures_dir(), task);
    ww_model *m;
    if (!TEST_OK(be, ww_model_load(be, path, &m)))
        return;
    TEST_CHECK(!strcmp(ww_task_name(ww_model_config_of(m)->task), task), "%s is a %s model",
               path, ww_task_name(ww_model_config_of(m)->task));
    snprintf(prefix, sizeof prefix, "tiny_%s_", task);
    DIR *d = opendir(test_fixtures_dir());
    int runs = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) || !strstr(e->d_name, ".safetensors"))
            continue;
        snprintf(path, sizeof path, "%s/%s", test_fixtures_dir(), e->d_name);
        run_fixture(be, m, path, dev);
        runs++;
    }
    if (d)
        closedir(d);
    TEST_CHECK(runs >= 2, "%d io fixtures for %s in %s (expected two resolutions)", runs, task,
               test_fixtures_dir());
    ww_model_destroy(m);
}

/* A stream reuses each frame's encoder output: frames A, B, C through one runner give, for
 * (B -> C), what a fresh runner gives for the pair B, C. Reset forgets the previous frame. */
static void test_flow_reuse(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/tiny_flow.safetensors", test_fixtures_dir());
    ww_model *m;
    if (!TEST_OK(be, ww_model_load(be, path, &m)))
        return;
    const int W = 45, H = 37;
    ww_image_layout l;
    size_t bytes = ww_image_layout_packed(WW_FMT_RGBA, W, H, &l);
    uint8_t *frames[3];
    test_rng rng;
    test_rng_seed(&rng, 7);
    for (int f = 0; f < 3; f++) {
        frames[f] = test_malloc(bytes);
        for (size_t i = 0; i < bytes; i++)
            frames[f][i] = (uint8_t)test_rng_below(&rng, 256);
    }
    size_t n = 3 * (size_t)W * H;
    float *stream = test_malloc(n * sizeof(float)), *fresh = test_malloc(n * sizeof(float));
    ww_runner *a = NULL, *b = NULL;
    int has[3] = {0};
    if (TEST_OK(be, ww_runner_create(m, W, H, WW_FMT_RGBA, &a)) &&
        TEST_OK(be, ww_runner_create(m, W, H, WW_FMT_RGBA, &b))) {
        for (int f = 0; f < 3; f++)
            TEST_OK(be, ww_runner_push(a, frames[f], bytes, &l, &has[f]));
        TEST_CHECK(!has[0] && has[1] && has[2], "outputs after frames: %d %d %d", has[0], has[1],
                   has[2]);
        int h1 = 0, h2 = 0;
        if (TEST_OK(be, ww_runner_output(a, stream, n)) &&
            TEST_OK(be, ww_runner_push(b, frames[1], bytes, &l, &h1)) &&
            TEST_OK(be, ww_runner_push(b, frames[2], bytes, &l, &h2)) &&
            TEST_OK(be, ww_runner_output(b, fresh, n)))
            TEST_COMPARE_F("stream (B -> C) vs fresh pair (B, C)", stream, fresh, n, TEST_TOL);
        ww_runner_reset(a);
        TEST_OK(be, ww_runner_push(a, frames[0], bytes, &l, &h1));
        TEST_CHECK(!h1, "a frame right after reset gave an output");
        TEST_STATUS(be, ww_runner_output(a, stream, n), WW_ERR_INVALID);
        ww_image_layout other;
        ww_image_layout_packed(WW_FMT_RGBA, W + 1, H, &other);
        TEST_STATUS(be, ww_runner_push(a, frames[0], bytes, &other, &h1), WW_ERR_INVALID);
    }
    ww_runner_destroy(a);
    ww_runner_destroy(b);
    ww_model_destroy(m);
}

/* ---- Frame layouts, inference sizes, device-side results ------------------------------------- */

static ww_model *load_tiny(ww_backend *be, const char *task)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tiny_%s.safetensors", test_fixtures_dir(), task);
    ww_model *m = NULL;
    return TEST_OK(be, ww_model_load(be, path, &m)) ? m : NULL;
}

static uint8_t *random_bytes(test_rng *r, size_t n)
{
    uint8_t *b = test_malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)test_rng_below(r, 256);
    return b;
}

/* Bytes per row of plane p of layout l, and its rows. */
static size_t plane_row(const ww_image_layout *l, int p, int *rows)
{
    size_t w = (size_t)l->width, cw = (w + 1) / 2;
    int yuv = l->format == WW_FMT_NV12 || l->format == WW_FMT_I420;
    *rows = p == 0 ? l->height : (l->height + 1) / 2;
    if (p == 0)
        return w * (yuv ? 1 : l->format == WW_FMT_RGB || l->format == WW_FMT_BGR ? 3 : 4);
    return l->format == WW_FMT_NV12 ? 2 * cw : cw;
}

/* A GStreamer-style layout of l's image: every row padded to 4 bytes, planes one after the
 * other; its size. */
static size_t gst_layout(const ww_image_layout *l, ww_image_layout *out)
{
    *out = *l;
    size_t at = 0;
    int planes = l->format == WW_FMT_NV12 ? 2 : l->format == WW_FMT_I420 ? 3 : 1;
    for (int p = 0; p < planes; p++) {
        int rows;
        size_t row = plane_row(l, p, &rows);
        out->offset[p] = at;
        out->stride[p] = (row + 3) / 4 * 4;
        at += out->stride[p] * (size_t)rows;
    }
    return at;
}

/* The packed frame src (layout from) copied into layout to; the padding keeps its bytes. */
static void relayout(const uint8_t *src, const ww_image_layout *from, uint8_t *dst,
                     const ww_image_layout *to)
{
    int planes = from->format == WW_FMT_NV12 ? 2 : from->format == WW_FMT_I420 ? 3 : 1;
    for (int p = 0; p < planes; p++) {
        int rows;
        size_t row = plane_row(from, p, &rows);
        for (int y = 0; y < rows; y++)
            memcpy(dst + to->offset[p] + (size_t)y * to->stride[p],
                   src + from->offset[p] + (size_t)y * from->stride[p], row);
    }
}

/* Push frames[0 .. n-1] (all in layout l, `bytes` each); 1 when the last push has an output. */
static int push_all(ww_backend *be, ww_runner *r, uint8_t *const *frames, int n, size_t bytes,
                    const ww_image_layout *l)
{
    int has = 0;
    for (int f = 0; f < n; f++)
        if (!TEST_OK(be, ww_runner_push(r, frames[f], bytes, l, &has)))
            return 0;
    return TEST_CHECK(has, "no output after %d frames", n);
}

/* A frame in a padded-stride layout gives exactly the output of the same frame packed. */
static void test_runner_layouts(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    static const struct {
        const char *task;
        ww_pixel_format format;
    } cs[] = {{"flow", WW_FMT_RGB}, {"seg", WW_FMT_I420}, {"depth", WW_FMT_NV12},
              {"depth", WW_FMT_BGRX}};
    const int W = 45, H = 37;
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        ww_model *m = load_tiny(be, cs[i].task);
        if (!m)
            continue;
        const ww_model_config *c = ww_model_config_of(m);
        ww_image_layout packed, gst;
        size_t pbytes = ww_image_layout_packed(cs[i].format, W, H, &packed);
        size_t gbytes = gst_layout(&packed, &gst) + 5; /* a little slack after the last row */
        test_rng rng;
        test_rng_seed(&rng, 300 + (uint64_t)i);
        int nf = c->task == WW_TASK_FLOW ? 2 : 1;
        uint8_t *pf[2], *gf[2];
        for (int f = 0; f < nf; f++) {
            pf[f] = random_bytes(&rng, pbytes);
            gf[f] = random_bytes(&rng, gbytes); /* the padding: anything */
            relayout(pf[f], &packed, gf[f], &gst);
        }
        char what[128];
        snprintf(what, sizeof what, "%s %dx%d %s, rows padded to 4 bytes, on %s", cs[i].task, W,
                 H, ww_pixel_format_name(cs[i].format), dev);
        ww_runner *a = NULL, *b = NULL;
        size_t n = (size_t)c->out_channels * W * H;
        float *want = test_malloc(n * sizeof *want), *got = test_malloc(n * sizeof *got);
        if (TEST_OK(be, ww_runner_create(m, W, H, cs[i].format, &a)) &&
            TEST_OK(be, ww_runner_create_for(m, &gst, gbytes, 0, 0, &b)) &&
            push_all(be, a, pf, nf, pbytes, &packed) && push_all(be, b, gf, nf, gbytes, &gst) &&
            TEST_OK(be, ww_runner_output(a, want, n)) && TEST_OK(be, ww_runner_output(b, got, n)))
            TEST_COMPARE_F(what, got, want, n, 0.0);
        if (b && c->semseg) {
            size_t hw = (size_t)W * H;
            uint32_t *ia = test_malloc(hw * sizeof *ia), *ib = test_malloc(hw * sizeof *ib);
            if (TEST_OK(be, ww_runner_labels(a, ia, NULL, hw)) &&
                TEST_OK(be, ww_runner_labels(b, ib, NULL, hw)))
                TEST_CHECK(!memcmp(ia, ib, hw * sizeof *ia), "%s: class ids differ", what);
        }
        if (b) { /* the runner takes its own layout only, and says what differs */
            int has;
            /* BGRx rows of 45 pixels need no padding: only the slack differs */
            int same_rows = packed.stride[0] == gst.stride[0] && packed.stride[1] == gst.stride[1];
            TEST_STATUS(be, ww_runner_push(b, pf[0], pbytes, &packed, &has), WW_ERR_INVALID);
            TEST_CHECK(test_contains(ww_backend_error(be), same_rows ? "bytes" : "stride"),
                       "%s: packed frame to a padded runner: '%s'", what, ww_backend_error(be));
            TEST_STATUS(be, ww_runner_push(b, gf[0], gbytes - 1, &gst, &has), WW_ERR_INVALID);
            TEST_CHECK(test_contains(ww_backend_error(be), "bytes"),
                       "%s: short frame: '%s'", what, ww_backend_error(be));
        }
        ww_runner_destroy(a);
        ww_runner_destroy(b);
        ww_model_destroy(m);
    }
}

/* The model's input after a resize to infer_w x infer_h: the bilinear reference of ww.h on
 * an RGBA frame, normalised, padded with zeros to Wp x Hp. */
static float *resized_input(const ww_model_config *c, const uint8_t *rgba, int W, int H, int w,
                            int h, int Wp, int Hp)
{
    float *y = test_malloc((size_t)3 * Wp * Hp * sizeof *y);
    for (int py = 0; py < h; py++)
        for (int px = 0; px < w; px++) {
            double sx = (px + 0.5) * (float)((double)W / w) - 0.5;
            double sy = (py + 0.5) * (float)((double)H / h) - 0.5;
            sx = sx < 0 ? 0 : sx > W - 1 ? W - 1 : sx;
            sy = sy < 0 ? 0 : sy > H - 1 ? H - 1 : sy;
            int x0 = (int)sx, y0 = (int)sy, x1 = x0 + 1 < W ? x0 + 1 : x0;
            int y1 = y0 + 1 < H ? y0 + 1 : y0;
            double fx = sx - x0, fy = sy - y0;
            for (int k = 0; k < 3; k++) {
#define PX(x, y) (double)rgba[((size_t)(y) * W + (x)) * 4 + k]
                double v = (1 - fy) * ((1 - fx) * PX(x0, y0) + fx * PX(x1, y0)) +
                           fy * ((1 - fx) * PX(x0, y1) + fx * PX(x1, y1));
#undef PX
                y[((size_t)k * Hp + py) * Wp + px] = (float)((v / 255 - c->mean[k]) / c->std[k]);
            }
        }
    return y;
}

/* A runner with an inference size other than the frame's resizes each frame on the device and
 * gives outputs of the inference size; bad sizes and short frames are refused. */
static void test_runner_infer_size(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    const int W = 45, H = 37;
    static const struct {
        const char *task;
        int w, h;
    } cs[] = {{"depth", 40, 30}, {"depth", 70, 50}, {"flow", 33, 61}, {"seg", 45, 20}};
    ww_image_layout l;
    size_t bytes = ww_image_layout_packed(WW_FMT_RGBA, W, H, &l);
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        ww_model *m = load_tiny(be, cs[i].task);
        if (!m)
            continue;
        const ww_model_config *c = ww_model_config_of(m);
        test_rng rng;
        test_rng_seed(&rng, 400 + (uint64_t)i);
        uint8_t *frames[2] = {random_bytes(&rng, bytes), random_bytes(&rng, bytes)};
        int nf = c->task == WW_TASK_FLOW ? 2 : 1, w = cs[i].w, h = cs[i].h;
        char what[128];
        snprintf(what, sizeof what, "%s: %dx%d frames run at %dx%d on %s", cs[i].task, W, H, w,
                 h, dev);
        ww_runner *r = NULL;
        if (TEST_OK(be, ww_runner_create_for(m, &l, bytes, w, h, &r))) {
            int rw = 0, rh = 0;
            ww_runner_size_of(r, &rw, &rh);
            TEST_CHECK(rw == w && rh == h, "%s: ww_runner_size_of says %dx%d", what, rw, rh);
            size_t n = (size_t)c->out_channels * w * h;
            float *out = test_malloc(n * sizeof *out);
            if (push_all(be, r, frames, nf, bytes, &l)) {
                TEST_OK(be, ww_runner_output(r, out, n));
                TEST_STATUS(be, ww_runner_output(r, out, (size_t)c->out_channels * W * H),
                            WW_ERR_INVALID);
                int Wp = (w + 31) / 32 * 32, Hp = (h + 31) / 32 * 32;
                size_t ni = (size_t)3 * Wp * Hp;
                float *in = test_malloc(ni * sizeof *in);
                /* input1 is the older frame of a flow pair */
                if (TEST_OK(be, ww_runner_read(r, "input1", in, ni)))
                    TEST_COMPARE_F(what, in, resized_input(c, frames[0], W, H, w, h, Wp, Hp), ni,
                                   TEST_TOL);
                if (c->semseg) {
                    uint32_t *ids = test_malloc((size_t)w * h * sizeof *ids);
                    TEST_OK(be, ww_runner_labels(r, ids, NULL, (size_t)w * h));
                }
            }
        }
        ww_runner_destroy(r);
        ww_model_destroy(m);
    }
    ww_model *m = load_tiny(be, "depth");
    ww_runner *r = NULL;
    if (!m)
        return;
    const ww_status bad = WW_ERR_INVALID;
    TEST_STATUS(be, ww_runner_create_for(m, &l, bytes - 1, 0, 0, &r), bad);
    TEST_CHECK(!r && test_contains(ww_backend_error(be), "reaches byte") &&
                   test_contains(ww_backend_error(be), "frame_bytes"),
               "short frame_bytes: '%s'", ww_backend_error(be));
    TEST_STATUS(be, ww_runner_create_for(m, &l, bytes, -1, 0, &r), bad);
    TEST_CHECK(test_contains(ww_backend_error(be), "inference size"), "negative width: '%s'",
               ww_backend_error(be));
    TEST_STATUS(be, ww_runner_create_for(m, &l, bytes, 0, 70000, &r), bad);
    TEST_STATUS(be, ww_runner_create_for(m, NULL, bytes, 0, 0, &r), bad);
    ww_image_layout narrow = l;
    narrow.stride[0] = 4 * W - 1;
    TEST_STATUS(be, ww_runner_create_for(m, &narrow, bytes, 0, 0, &r), bad);
    TEST_CHECK(test_contains(ww_backend_error(be), "stride"), "short row stride: '%s'",
               ww_backend_error(be));
    TEST_CHECK(!r, "a failed ww_runner_create_for left a runner");
    ww_model_destroy(m);
}

/* A [planes, H, W] view of 32-bit elements with unit stride along W, read row by row. */
static int read_view(ww_backend *be, const ww_tensor *t, void *dst)
{
    size_t row = (size_t)t->ne[0] * 4;
    int64_t ne[4] = {t->ne[0], 1, 1, 1}, nb[4] = {1, t->ne[0], t->ne[0], t->ne[0]};
    for (int64_t p = 0; p < t->ne[2]; p++)
        for (int64_t y = 0; y < t->ne[1]; y++) {
            ww_tensor v = ww_tensor_view(t, p * t->nb[2] + y * t->nb[1], ne, nb);
            char *to = (char *)dst + (size_t)(p * t->ne[1] + y) * row;
            if (!TEST_OK(be, ww_tensor_read(be, &v, to, row)))
                return 0;
        }
    return 1;
}

/* Colorize on the device from a result view and from the read-back values uploaded again: the
 * same words. kind 0: flow (first two planes, HSV), 1: labels through the Cityscapes palette. */
static void colorize_both(ww_backend *be, const ww_tensor *view, const void *host, int kind,
                          const char *what)
{
    ww_arena *a = test_arena(be);
    ww_seq *s = a ? test_seq(be) : NULL;
    int64_t W = view->ne[0], H = view->ne[1], planes = kind == 0 ? 2 : 1;
    int64_t ne[4] = {W, H, planes, 1};
    ww_tensor up, pal, rgba[2];
    if (!s || !TEST_OK(be, ww_arena_alloc(a, kind == 0 ? WW_F32 : WW_U32, 3, ne, &up)) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_U32, 2, ne, &rgba[0])) ||
        !TEST_OK(be, ww_arena_alloc(a, WW_U32, 2, ne, &rgba[1])) ||
        !TEST_OK(be, ww_tensor_write(be, &up, host, (size_t)(W * H * planes) * 4)) ||
        !TEST_OK(be, ww_palette_table(a, ww_palette_cityscapes(NULL), 19, &pal)))
        return;
    ww_tensor dev = *view;
    dev.ne[2] = planes; /* the flow's u and v planes */
    dev.nb[3] = dev.nb[2] * planes;
    for (int k = 0; k < 2; k++) {
        const ww_tensor *in = k ? &up : &dev;
        if (!TEST_OK(be, kind == 0 ? ww_colorize_flow(s, in, 2.0f, WW_FLOW_HSV, &rgba[k])
                                   : ww_colorize_labels(s, in, &pal, &rgba[k])))
            return;
    }
    size_t n = (size_t)(W * H);
    uint32_t *w0 = test_malloc(n * 4), *w1 = test_malloc(n * 4);
    if (test_run(be, s) && TEST_OK(be, ww_tensor_read(be, &rgba[0], w0, n * 4)) &&
        TEST_OK(be, ww_tensor_read(be, &rgba[1], w1, n * 4)))
        TEST_CHECK(!memcmp(w0, w1, n * 4), "%s: colours from the view differ", what);
}

/* ww_runner_result's views read back what ww_runner_output and ww_runner_labels give, and feed
 * the colorize ops; names that do not apply, and asking before any output, are refused. */
static void test_runner_result(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    const int W = 45, H = 37;
    static const struct {
        const char *task;
        int w, h;
    } cs[] = {{"flow", 0, 0}, {"seg", 40, 30}, {"depth", 50, 33}};
    ww_image_layout l;
    size_t bytes = ww_image_layout_packed(WW_FMT_RGBA, W, H, &l);
    for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
        ww_model *m = load_tiny(be, cs[i].task);
        if (!m)
            continue;
        const ww_model_config *c = ww_model_config_of(m);
        test_rng rng;
        test_rng_seed(&rng, 500 + (uint64_t)i);
        uint8_t *frames[2] = {random_bytes(&rng, bytes), random_bytes(&rng, bytes)};
        ww_runner *r = NULL;
        char what[128];
        snprintf(what, sizeof what, "%s result views on %s", cs[i].task, dev);
        if (!TEST_OK(be, ww_runner_create_for(m, &l, bytes, cs[i].w, cs[i].h, &r))) {
            ww_model_destroy(m);
            continue;
        }
        int w, h, has;
        ww_runner_size_of(r, &w, &h);
        ww_tensor t;
        TEST_STATUS(be, ww_runner_result(r, "output", &t), WW_ERR_INVALID); /* nothing yet */
        TEST_CHECK(test_contains(ww_backend_error(be), "no output"), "%s: '%s'", what,
                   ww_backend_error(be));
        TEST_OK(be, ww_runner_push(r, frames[0], bytes, &l, &has));
        if (c->task == WW_TASK_FLOW) { /* one frame is not a pair */
            TEST_STATUS(be, ww_runner_result(r, "output", &t), WW_ERR_INVALID);
            TEST_OK(be, ww_runner_push(r, frames[1], bytes, &l, &has));
        }
        size_t hw = (size_t)w * h, n = (size_t)c->out_channels * hw;
        float *want = test_malloc(n * sizeof *want), *got = test_malloc(n * sizeof *got);
        int Wp = (w + 31) / 32 * 32, Hp = (h + 31) / 32 * 32;
        if (TEST_OK(be, ww_runner_result(r, "output", &t)) &&
            TEST_CHECK(t.type == WW_F32 && t.ne[0] == w && t.ne[1] == h &&
                           t.ne[2] == c->out_channels && t.ne[3] == 1 && t.nb[0] == 1 &&
                           t.nb[1] == Wp && t.nb[2] == (int64_t)Wp * Hp,
                       "%s: output view ne {%lld, %lld, %lld, %lld} nb {%lld, %lld, %lld}", what,
                       (long long)t.ne[0], (long long)t.ne[1], (long long)t.ne[2],
                       (long long)t.ne[3], (long long)t.nb[0], (long long)t.nb[1],
                       (long long)t.nb[2]) &&
            TEST_OK(be, ww_runner_output(r, want, n)) && read_view(be, &t, got)) {
            TEST_COMPARE_F(what, got, want, n, 0.0);
            if (c->task == WW_TASK_FLOW)
                colorize_both(be, &t, want, 0, what);
        }
        if (c->semseg) {
            uint32_t *ids = test_malloc(hw * 4), *vids = test_malloc(hw * 4);
            float *conf = test_malloc(hw * 4), *vconf = test_malloc(hw * 4);
            ww_tensor ti, tc;
            if (TEST_OK(be, ww_runner_labels(r, ids, conf, hw)) &&
                TEST_OK(be, ww_runner_result(r, "labels", &ti)) &&
                TEST_OK(be, ww_runner_result(r, "conf", &tc)) &&
                TEST_CHECK(ti.type == WW_U32 && tc.type == WW_F32 && ti.ne[2] == 1 &&
                               tc.ne[0] == w && tc.ne[1] == h, "%s: label views' shapes", what) &&
                read_view(be, &ti, vids) && read_view(be, &tc, vconf)) {
                TEST_CHECK(!memcmp(ids, vids, hw * 4), "%s: labels view differs", what);
                TEST_COMPARE_F("conf view", vconf, conf, hw, 0.0);
                colorize_both(be, &ti, ids, 1, what);
            }
        } else {
            TEST_STATUS(be, ww_runner_result(r, "labels", &t), WW_ERR_INVALID);
            TEST_CHECK(test_contains(ww_backend_error(be), "labels"), "%s: '%s'", what,
                       ww_backend_error(be));
            TEST_STATUS(be, ww_runner_result(r, "conf", &t), WW_ERR_INVALID);
        }
        TEST_STATUS(be, ww_runner_result(r, "head", &t), WW_ERR_INVALID);
        TEST_STATUS(be, ww_runner_result(r, NULL, &t), WW_ERR_INVALID);
        ww_runner_destroy(r);
        ww_model_destroy(m);
    }
}

/* Write a copy of the flow fixture with one change and check the load fails naming it. */
static void broken_copy(ww_backend *be, const char *what, const char *drop, const char *reshape,
                        const char *meta_key, const char *meta_value, const char *must_say)
{
    char src[1024], err[512];
    const char *dst = test_tmp_path("broken.safetensors");
    snprintf(src, sizeof src, "%s/tiny_flow.safetensors", test_fixtures_dir());
    ww_st_file *f;
    if (!TEST_CHECK(ww_st_open(src, &f, err, sizeof err) == WW_OK, "%s", err))
        return;
    int n = ww_st_count(f), k = 0, nm = ww_st_meta_count(f), km = 0;
    ww_st_entry *e = test_malloc((size_t)n * sizeof *e);
    const char **meta = test_malloc((size_t)(2 * nm + 2) * sizeof *meta);
    for (int i = 0; i < n; i++) {
        const ww_st_tensor *t = ww_st_at(f, i);
        if (drop && !strcmp(t->name, drop))
            continue;
        e[k] = (ww_st_entry){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .data = t->data};
        memcpy(e[k].shape, t->shape, sizeof e[k].shape);
        if (reshape && !strcmp(t->name, reshape) && t->ndim == 1 && t->shape[0] % 2 == 0) {
            e[k].ndim = 2; /* same bytes, wrong shape */
            e[k].shape[0] = 2;
            e[k].shape[1] = t->shape[0] / 2;
        }
        k++;
    }
    for (int i = 0; i < nm; i++) {
        const char *key, *value;
        ww_st_meta_at(f, i, &key, &value);
        meta[2 * km] = key;
        meta[2 * km + 1] = meta_key && !strcmp(key, meta_key) ? meta_value : value;
        km++;
    }
    if (TEST_CHECK(ww_st_write(dst, e, k, meta, km, err, sizeof err) == WW_OK, "%s", err)) {
        ww_model *m = NULL;
        ww_status st = ww_model_load(be, dst, &m);
        TEST_CHECK(st != WW_OK && !m, "%s: the model loaded", what);
        TEST_CHECK(test_contains(ww_backend_error(be), must_say) &&
                       test_contains(ww_backend_error(be), dst),
                   "%s: message '%s' should name the file and say '%s'", what,
                   ww_backend_error(be), must_say);
        ww_model_destroy(m);
        remove(dst);
    }
    ww_st_close(f);
}

static void test_bad_models(const char *arg)
{
    (void)arg;
    ww_backend *be = test_backend("cpu");
    if (!be)
        return;
    broken_copy(be, "missing tensor", "dec_blocks.0.norm_y.bias", NULL, NULL, NULL,
                "dec_blocks.0.norm_y.bias");
    broken_copy(be, "wrong shape", NULL, "enc_norm.weight", NULL, NULL, "enc_norm.weight");
    broken_copy(be, "wrong task", NULL, NULL, "task", "stereo", "task");
    broken_copy(be, "bad config", NULL, NULL, "enc_depth", "two", "enc_depth");
    ww_model *m = NULL;
    TEST_STATUS(be, ww_model_load(be, "/nonexistent/model.safetensors", &m), WW_ERR_IO);
    TEST_CHECK(test_contains(ww_backend_error(be), "/nonexistent/model.safetensors"),
               "missing file: '%s'", ww_backend_error(be));
}

/* The seg fixture saved as F16: about half the file, every weight the F16 rounding of the F32
 * one, the metadata kept; the classes and palette it carries (or the fallbacks without). */
static void test_save_f16(const char *arg)
{
    (void)arg;
    ww_backend *be = test_backend("cpu");
    char src[4096];
    snprintf(src, sizeof src, "%s/tiny_seg.safetensors", test_fixtures_dir());
    ww_model *m = NULL, *h = NULL;
    if (!be || !TEST_OK(be, ww_model_load(be, src, &m)))
        return;
    const char *path = test_tmp_path("half.safetensors");
    const char *meta[] = {"classes", "sky,road,car", "palette", "1,2,3;4,5,6;7,8,9"};
    int classes = ww_model_config_of(m)->out_channels;
    if (!TEST_OK(be, ww_model_save_f16(m, path, meta, classes == 3 ? 2 : 0)) ||
        !TEST_OK(be, ww_model_load(be, path, &h))) {
        ww_model_destroy(m);
        return;
    }
    TEST_CHECK(test_file_size(path) < test_file_size(src) * 6 / 10, "F16 file %ld vs %ld bytes",
               test_file_size(path), test_file_size(src));
    size_t n = (size_t)ww_model_parameters(m);
    float *a = test_malloc(n * sizeof *a), *b = test_malloc(n * sizeof *b);
    ww_tensor pa = ww_model_params(m), pb = ww_model_params(h);
    if (TEST_OK(be, ww_tensor_read(be, &pa, a, n * sizeof *a)) &&
        TEST_OK(be, ww_tensor_read(be, &pb, b, n * sizeof *b))) {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            /* the F16 neighbours of a bracket it; b must be the nearer (or equal distance) */
            float err = fabsf(a[i] - b[i]), tol = fabsf(a[i]) * 0x1p-11f + 0x1p-25f;
            bad += !(err <= tol);
        }
        TEST_CHECK(bad == 0, "%zu of %zu weights are not their F16 rounding", bad, n);
    }
    TEST_CHECK(ww_model_metadata(h, "task") && !strcmp(ww_model_metadata(h, "task"), "seg"),
               "metadata 'task' kept");
    char name[64];
    uint8_t rgb[3 * 64];
    if (classes == 3) {
        ww_model_class_name(h, 1, name, sizeof name);
        TEST_CHECK(!strcmp(name, "road"), "class 1 is '%s'", name);
        ww_model_class_colors(h, rgb, 3);
        TEST_CHECK(rgb[3] == 4 && rgb[8] == 9, "palette from the metadata");
    }
    ww_model_class_name(m, classes + 5, name, sizeof name);
    TEST_CHECK(test_contains(name, "class"), "unnamed class is '%s'", name);
    int ncity;
    const uint8_t *city = ww_palette_cityscapes(&ncity);
    ww_model_class_colors(m, rgb, 21);
    TEST_CHECK(!memcmp(rgb, city, 3 * (size_t)ncity) && memcmp(rgb + 57, rgb + 60, 3),
               "fallback palette: Cityscapes, then distinct VOC colours");
    ww_model_destroy(m);
    ww_model_destroy(h);
}

/* Random initialisation keeps the signal through the DPT head: a fresh micro depth model's output
 * on a noise image is far from 0 (the 0.02 ViT scale on every convolution used to shrink it to
 * ~1e-4). */
static void test_init_scale(const char *arg)
{
    (void)arg;
    ww_backend *be = test_backend("cpu");
    ww_model_config cfg;
    ww_model *m = NULL;
    ww_runner *r = NULL;
    if (!be || !TEST_CHECK(ww_model_preset("micro", WW_TASK_DEPTH, &cfg) == WW_OK, "micro") ||
        !TEST_OK(be, ww_model_create(be, &cfg, 1, &m)) ||
        !TEST_OK(be, ww_runner_create(m, 64, 64, WW_FMT_RGB, &r))) {
        ww_model_destroy(m);
        return;
    }
    uint8_t *img = test_malloc(64 * 64 * 3);
    for (int i = 0; i < 64 * 64 * 3; i++)
        img[i] = (uint8_t)(i * 2654435761u >> 24);
    ww_image_layout lay;
    size_t bytes = ww_image_layout_packed(WW_FMT_RGB, 64, 64, &lay);
    float *out = test_malloc(64 * 64 * sizeof *out);
    int has = 0;
    if (TEST_OK(be, ww_runner_push(r, img, bytes, &lay, &has)) &&
        TEST_OK(be, ww_runner_output(r, out, 64 * 64))) {
        double ss = 0;
        for (int i = 0; i < 64 * 64; i++)
            ss += (double)out[i] * out[i];
        double rms = sqrt(ss / (64 * 64));
        TEST_CHECK(rms > 1e-2 && rms < 1e3, "output rms %g", rms);
    }
    ww_runner_destroy(r);
    ww_model_destroy(m);
}

/* A fresh flow decoder's cross-attention heads are offset probes (ww_model_create): with the
 * RoPE-2D of the architecture (croco-architecture.md, written out here), each head's score from
 * a frame-1 token to the frame-2 tokens around it peaks at the head's offset, which takes more
 * than half of the softmax among the 9 x 9 tokens around it; q and k do not depend on content yet
 * (weights 0). */
static void test_init_probe(const char *arg)
{
    (void)arg;
    ww_backend *be = test_backend("cpu");
    ww_model_config cfg;
    ww_model *m = NULL;
    ww_st_file *f = NULL;
    char err[512];
    const char *path = test_tmp_path("probe.safetensors");
    if (!be || !TEST_CHECK(ww_model_preset("micro", WW_TASK_FLOW, &cfg) == WW_OK, "micro") ||
        !TEST_OK(be, ww_model_create(be, &cfg, 3, &m)) ||
        !TEST_OK(be, ww_model_save(m, path, NULL, 0, NULL, 0)) ||
        !TEST_CHECK(ww_st_open(path, &f, err, sizeof err) == WW_OK, "%s", err)) {
        ww_model_destroy(m);
        return;
    }
    const int D = cfg.dec_dim, Dh = D / cfg.dec_heads, half = Dh / 2, pairs = half / 2;
    float *q = test_malloc((size_t)D * D * sizeof *q), *k = test_malloc((size_t)D * sizeof *k);
    for (int b = 0; b < cfg.dec_depth; b++) {
        char name[128];
        for (int w = 0; w < 2; w++) {
            snprintf(name, sizeof name, "dec_blocks.%d.cross_attn.proj%c.weight", b, "qk"[w]);
            const ww_st_tensor *t = ww_st_find(f, name);
            if (!TEST_CHECK(t && ww_st_read_f32(f, t, q, (size_t)D * D, err, sizeof err) == WW_OK,
                            "%s: %s", name, err))
                continue;
            double mx = 0;
            for (int i = 0; i < D * D; i++)
                mx = fmax(mx, fabs(q[i]));
            TEST_CHECK(mx == 0, "%s: |w| up to %g, not 0", name, mx);
        }
        snprintf(name, sizeof name, "dec_blocks.%d.cross_attn.projq.bias", b);
        const ww_st_tensor *tq = ww_st_find(f, name);
        snprintf(name, sizeof name, "dec_blocks.%d.cross_attn.projk.bias", b);
        const ww_st_tensor *tk = ww_st_find(f, name);
        if (!TEST_CHECK(tq && tk && ww_st_read_f32(f, tq, q, D, err, sizeof err) == WW_OK &&
                            ww_st_read_f32(f, tk, k, D, err, sizeof err) == WW_OK,
                        "block %d q, k biases: %s", b, err))
            continue;
        for (int h = 0; h < cfg.dec_heads; h++) {
            int want[2], best[2] = {0, 0};
            ww_model_probe_offset(b * cfg.dec_heads + h, &want[0], &want[1]);
            /* score(d) = (R(p) q) . (R(p + d) k), R rotating pair (j, j + pairs) of each half by
             * position * 100^(-2j / half), y on the first half and x on the second */
            double score[9][9], top = -INFINITY, sum = 0;
            for (int dy = -4; dy <= 4; dy++)
                for (int dx = -4; dx <= 4; dx++) {
                    double s = 0;
                    for (int axis = 0; axis < 2; axis++) {
                        int p = 5, pk = p + (axis ? dx : dy);
                        const float *qh = q + h * Dh + axis * half, *kh = k + h * Dh + axis * half;
                        for (int j = 0; j < pairs; j++) {
                            double th = pow(WW_ROPE_BASE, -2.0 * j / half);
                            double qa = qh[j] * cos(p * th) - qh[j + pairs] * sin(p * th);
                            double qb = qh[j + pairs] * cos(p * th) + qh[j] * sin(p * th);
                            double ka = kh[j] * cos(pk * th) - kh[j + pairs] * sin(pk * th);
                            double kb = kh[j + pairs] * cos(pk * th) + kh[j] * sin(pk * th);
                            s += qa * ka + qb * kb;
                        }
                    }
                    score[dy + 4][dx + 4] = s / sqrt((double)Dh);
                    if (score[dy + 4][dx + 4] > top) {
                        top = score[dy + 4][dx + 4];
                        best[0] = dy;
                        best[1] = dx;
                    }
                }
            for (int i = 0; i < 81; i++)
                sum += exp(score[i / 9][i % 9] - top);
            TEST_CHECK(best[0] == want[0] && best[1] == want[1] && 1 / sum > 0.5,
                       "block %d head %d: peak at (%d, %d) with p %.3f, want (%d, %d) above 0.5",
                       b, h, best[0], best[1], 1 / sum, want[0], want[1]);
        }
    }
    ww_st_close(f);
    ww_model_destroy(m);
}

/* The default model of a task: found through WINWIN_MODEL_DIR first, NULL when none exists. */
static void test_default_path(const char *arg)
{
    (void)arg;
    const char *dir = test_tmp_path("models");
    char sub[4096], file[4200], buf[4300];
    snprintf(sub, sizeof sub, "%s/depth", dir);
    snprintf(file, sizeof file, "%s/model.safetensors", sub);
    TEST_CHECK(mkdir(dir, 0755) == 0 && mkdir(sub, 0755) == 0, "mkdir %s", sub);
    TEST_CHECK(test_write_bytes(file, "x", 1), "write %s", file);
    setenv("WINWIN_MODEL_DIR", dir, 1);
    const char *p = ww_model_default_path(WW_TASK_DEPTH, buf, sizeof buf);
    TEST_CHECK(p && !strcmp(p, file), "depth default: %s", p ? p : "(none)");
    char tiny[8];
    TEST_CHECK(!ww_model_default_path(WW_TASK_DEPTH, tiny, sizeof tiny),
               "a path longer than the buffer is not returned cut");
    unsetenv("WINWIN_MODEL_DIR");
}

static const ww_test_case cases[] = {
    {"parity.flow.cpu", test_parity, "flow:cpu"},
    {"parity.flow.vulkan", test_parity, "flow:vulkan"},
    {"parity.depth.cpu", test_parity, "depth:cpu"},
    {"parity.depth.vulkan", test_parity, "depth:vulkan"},
    {"parity.seg.cpu", test_parity, "seg:cpu"},
    {"parity.seg.vulkan", test_parity, "seg:vulkan"},
    {"flow_reuse.cpu", test_flow_reuse, "cpu"},
    {"flow_reuse.vulkan", test_flow_reuse, "vulkan"},
    {"runner_layouts.cpu", test_runner_layouts, "cpu"},
    {"runner_layouts.vulkan", test_runner_layouts, "vulkan"},
    {"runner_infer_size.cpu", test_runner_infer_size, "cpu"},
    {"runner_infer_size.vulkan", test_runner_infer_size, "vulkan"},
    {"runner_result.cpu", test_runner_result, "cpu"},
    {"runner_result.vulkan", test_runner_result, "vulkan"},
    {"bad_models", test_bad_models, NULL},
    {"save_f16", test_save_f16, NULL},
    {"init_scale", test_init_scale, NULL},
    {"init_probe", test_init_probe, NULL},
    {"default_path", test_default_path, NULL},
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
