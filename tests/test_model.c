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
    {"bad_models", test_bad_models, NULL},
    {"save_f16", test_save_f16, NULL},
    {"init_scale", test_init_scale, NULL},
    {"default_path", test_default_path, NULL},
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
