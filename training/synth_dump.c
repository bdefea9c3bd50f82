/* winwin-train synth: synthetic samples written as PNGs, to look at (see synth.h). The samples
 * come through the dataset (dataset.h), as training sees them; the pictures of their targets
 * are made by the engine's colorize ops on the CPU backend, as winwin-infer's --viz. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dataset.h"
#include "image_io.h"
#include "synth.h"

#define DEPTH_FAR 80.0f /* the depths' colours run over inverse depth from here to the nearest */

static const char usage[] =
    "usage: winwin-train synth --task flow|depth|seg --size WxH --out DIR [--count N (4)]\n"
    "                          [--seed S (0)] [--classes C (seg, 19)]\n"
    "Writes DIR/TASK_K_*.png for samples K = 0 .. N-1 of the synthetic dataset with seed S:\n"
    "  flow   frame1, frame2, flow (Middlebury colour wheel up to the largest motion),\n"
    "         occlusion (white: hidden or outside the image in frame 2)\n"
    "  depth  image, depth (turbo over inverse depth, nearest red; invalid black)\n"
    "  seg    image, labels (one colour per class, ww_synth_seg_class_color)\n";

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("winwin-train synth: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* A positive integer option of at most max; 0 after a message. */
static int positive(const char *opt, const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end || errno || v < 1 || v > max) {
        fprintf(stderr, "winwin-train synth: %s %s: expected an integer in 1..%ld\n", opt,
                s ? s : "", max);
        return 0;
    }
    *out = v;
    return 1;
}

/* The engine objects that colour the targets. */
typedef struct painter {
    ww_backend *be;
    ww_arena *a;
    ww_seq *s;
} painter;

/* The picture of s's target (RGB8, width * height * 3) into rgb. */
static ww_status paint(painter *p, ww_task task, const ww_sample *s, int classes, uint8_t *rgb)
{
    int64_t w = s->width, h = s->height;
    size_t hw = (size_t)w * (size_t)h;
    uint32_t *words = malloc(hw * sizeof *words);
    uint8_t *palette = NULL;
    ww_tensor in, table, out;
    ww_arena_reset(p->a);
    ww_seq_clear(p->s);
    ww_status st = words ? ww_arena_alloc(p->a, WW_U32, 2, (int64_t[]){w, h}, &out)
                         : WW_ERR_OUT_OF_MEMORY;
    if (st == WW_OK && task == WW_TASK_FLOW) {
        float largest = 0;
        for (size_t i = 0; i < hw; i++) {
            float m = hypotf(s->target[i], s->target[hw + i]);
            largest = isfinite(m) && m > largest ? m : largest;
        }
        st = ww_arena_alloc(p->a, WW_F32, 3, (int64_t[]){w, h, 2}, &in);
        if (st == WW_OK)
            st = ww_tensor_write(p->be, &in, s->target, 2 * hw * sizeof(float));
        if (st == WW_OK)
            st = ww_colorize_flow(p->s, &in, largest > 1e-3f ? largest : 1, WW_FLOW_MIDDLEBURY,
                                  &out);
    } else if (st == WW_OK && task == WW_TASK_DEPTH) {
        /* Inverse depth (invalid: NaN, black) from the far limit to the nearest point. */
        float *inverse = (float *)words, nearest = 1 / DEPTH_FAR;
        for (size_t i = 0; i < hw; i++) {
            inverse[i] = s->target[i] > 0 ? 1 / s->target[i] : NAN;
            nearest = inverse[i] > nearest ? inverse[i] : nearest;
        }
        st = ww_arena_alloc(p->a, WW_F32, 2, (int64_t[]){w, h}, &in);
        if (st == WW_OK)
            st = ww_tensor_write(p->be, &in, inverse, hw * sizeof(float));
        if (st == WW_OK)
            st = ww_colormap_table(p->a, WW_CMAP_TURBO, &table);
        if (st == WW_OK)
            st = ww_colorize_scalar(p->s, &in, 1 / DEPTH_FAR, fmaxf(nearest, 1.01f / DEPTH_FAR),
                                    &table, &out);
    } else if (st == WW_OK) {
        palette = malloc((size_t)classes * 3);
        st = palette ? WW_OK : WW_ERR_OUT_OF_MEMORY;
        for (int c = 0; c < classes && palette; c++)
            ww_synth_seg_class_color(c, palette + 3 * c);
        for (size_t i = 0; i < hw && st == WW_OK; i++) /* 255 (ignore) is past the palette: black */
            words[i] = (uint32_t)s->target[i];
        if (st == WW_OK)
            st = ww_arena_alloc(p->a, WW_U32, 2, (int64_t[]){w, h}, &in);
        if (st == WW_OK)
            st = ww_tensor_write(p->be, &in, words, hw * sizeof *words);
        if (st == WW_OK)
            st = ww_palette_table(p->a, palette, classes, &table);
        if (st == WW_OK)
            st = ww_colorize_labels(p->s, &in, &table, &out);
    }
    if (st == WW_OK)
        st = ww_seq_run(p->s);
    if (st == WW_OK)
        st = ww_seq_wait(p->s);
    if (st == WW_OK)
        st = ww_tensor_read(p->be, &out, words, hw * sizeof *words);
    for (size_t i = 0; st == WW_OK && i < hw; i++) /* R is the low byte (ww.h) */
        for (int c = 0; c < 3; c++)
            rgb[3 * i + (size_t)c] = (uint8_t)(words[i] >> (8 * c));
    free(palette);
    free(words);
    return st;
}

/* Write DIR/TASK_K_WHAT.png; 0 after a message. */
static int write_png(const char *dir, ww_task task, int k, const char *what, int width,
                     int height, int channels, const uint8_t *data)
{
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/%s_%03d_%s.png", dir, ww_task_name(task), k, what);
    ww_img img = {.width = width, .height = height, .channels = channels, .depth = 8,
                  .data = (void *)data};
    if (ww_img_write_png(path, &img, err, sizeof err) != WW_OK) {
        fail("%s", err);
        return 0;
    }
    return 1;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Generate and write sample k; 0 after a message. */
static int dump_sample(ww_dataset *d, painter *p, ww_task task, int classes, int k,
                       const char *dir)
{
    char err[1024];
    ww_sample s;
    double start = seconds();
    if (ww_dataset_get(d, k, 0, &s, err, sizeof err) != WW_OK)
        return !fail("%s", err);
    double ms = 1e3 * (seconds() - start);
    size_t hw = (size_t)s.width * (size_t)s.height;
    uint8_t *picture = malloc(3 * hw);
    int ok = picture != NULL;
    if (!ok)
        fail("out of memory for a %dx%d picture", s.width, s.height);
    ww_status st = ok ? paint(p, task, &s, classes, picture) : WW_OK;
    if (ok && st != WW_OK)
        ok = !fail("colouring sample %d: %s", k, ww_backend_error(p->be));
    static const char *const first[] = {"frame1", "image", "image"};
    static const char *const target[] = {"flow", "depth", "labels"};
    ok = ok && write_png(dir, task, k, first[task], s.width, s.height, 3, s.image[0]) &&
         (task != WW_TASK_FLOW ||
          write_png(dir, task, k, "frame2", s.width, s.height, 3, s.image[1])) &&
         write_png(dir, task, k, target[task], s.width, s.height, 3, picture);
    if (ok && s.occlusion) {
        for (size_t i = 0; i < hw; i++)
            picture[i] = s.occlusion[i] ? 255 : 0;
        ok = write_png(dir, task, k, "occlusion", s.width, s.height, 1, picture);
    }
    if (ok)
        printf("%s/%s_%03d_*.png: %dx%d, generated in %.1f ms\n", dir, ww_task_name(task), k,
               s.width, s.height, ms);
    free(picture);
    ww_sample_free(&s);
    return ok;
}

int ww_synth_dump(int argc, char **argv)
{
    ww_task task = WW_TASK_FLOW;
    long width = 0, height = 0, count = 4, seed = 0, classes = 19;
    const char *dir = NULL;
    int task_set = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = v != NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--task")) {
            task_set = 1;
            ok = v && (!strcmp(v, "flow") || !strcmp(v, "depth") || !strcmp(v, "seg"));
            task = !ok || !strcmp(v, "flow") ? WW_TASK_FLOW
                   : !strcmp(v, "depth")     ? WW_TASK_DEPTH
                                             : WW_TASK_SEG;
        } else if (!strcmp(a, "--size")) {
            char *end;
            width = v ? strtol(v, &end, 10) : 0;
            ok = v && end != v && *end == 'x';
            if (ok) {
                const char *hs = end + 1;
                height = strtol(hs, &end, 10);
                ok = end != hs && !*end && width >= 1 && height >= 1 &&
                     width <= WW_IMG_MAX_SIDE && height <= WW_IMG_MAX_SIDE;
            }
        } else if (!strcmp(a, "--count")) {
            ok = positive(a, v, 100000, &count);
        } else if (!strcmp(a, "--seed")) {
            ok = v && (!strcmp(v, "0") || positive(a, v, 1000000000, &seed));
        } else if (!strcmp(a, "--classes")) {
            ok = positive(a, v, 255, &classes);
        } else if (!strcmp(a, "--out")) {
            dir = v;
        } else {
            fprintf(stderr, "winwin-train synth: unknown option %s\n%s", a, usage);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "winwin-train synth: %s %s: bad value\n%s", a, v ? v : "(missing)",
                    usage);
            return 2;
        }
        i++;
    }
    if (!task_set || !width || !dir) {
        fprintf(stderr, "winwin-train synth: --task, --size and --out are required\n%s", usage);
        return 2;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return fail("%s: %s", dir, strerror(errno));

    char spec[64], err[1024];
    snprintf(spec, sizeof spec, "synthetic:%ld", count);
    int nclasses = task == WW_TASK_SEG ? (int)classes : 0;
    ww_dataset *d = NULL;
    if (ww_dataset_open(spec, task, (int)width, (int)height, nclasses, (uint64_t)seed, &d, err,
                        sizeof err) != WW_OK)
        return fail("%s", err);
    painter p = {0};
    ww_backend_options bo = {.device = "cpu", .cpu_threads = 1};
    int ok = 1;
    if (ww_backend_create(&bo, &p.be, err, sizeof err) != WW_OK)
        ok = !fail("%s", err);
    else if (ww_arena_create(p.be, 0, &p.a) != WW_OK || ww_seq_create(p.be, &p.s) != WW_OK)
        ok = !fail("%s", ww_backend_error(p.be));
    for (int k = 0; ok && k < count; k++)
        ok = dump_sample(d, &p, task, nclasses, k, dir);
    ww_seq_destroy(p.s);
    ww_arena_destroy(p.a);
    ww_backend_destroy(p.be);
    ww_dataset_close(d);
    return ok ? 0 : 1;
}
