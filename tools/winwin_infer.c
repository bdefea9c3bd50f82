/* winwin-infer: run a model on one image (depth, seg) or a pair (flow) and write the result as
 * a standard file (.flo, KITTI flow PNG, 16-bit depth PNG, PFM, class-id PNG), optionally with a
 * colour visualisation made by the engine's colorize ops on the same device. */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "flow_io.h"
#include "image_io.h"
#include "model.h"
#include "ww.h"

enum { ERRLEN = 1024 };

typedef enum out_kind { OUT_FLO, OUT_PNG, OUT_PFM, OUT_OTHER } out_kind;

typedef struct infer_opts {
    const char *model, *device, *out, *viz, *confidence;
    char default_model[4096]; /* --task without --model */
    const char *images[2];
    int nimages;
    float max_flow;    /* --viz of flow: magnitude shown as full colour; 0 = the largest one */
    ww_colormap cmap;  /* --viz of depth */
    float depth_scale; /* depth PNG: stored value per output unit */
} infer_opts;

/* The model's output for the input, cropped to the image: channels planes of width x height. */
typedef struct result {
    ww_task task;
    int width, height, channels;
    float *data;
    uint32_t *ids; /* seg: class per pixel, from the device */
    float *conf;   /* seg: its softmax probability */
} result;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: winwin-infer --model M.safetensors | --task flow|depth|seg\n"
            "                    [--device DEV] IMAGE1 [IMAGE2] -o OUT\n"
            "                    [--viz VIZ.png] [--max-flow F] [--colormap NAME]\n"
            "                    [--depth-scale S] [--confidence CONF.png]\n"
            "\n"
            "Runs the model once on the full image (PNG, JPEG or PPM, any size). The model's\n"
            "task decides the inputs: flow takes two images (the flow from IMAGE1 to IMAGE2,\n"
            "same size), depth and seg one.\n"
            "\n"
            "  -m, --model FILE     model weights (.safetensors: convert_croco.py, the trainer)\n"
            "  -t, --task TASK      without --model: the default model of flow, depth or seg\n"
            "                       (TASK/model.safetensors in $WINWIN_MODEL_DIR, the installed\n"
            "                       models, or the source tree's models/)\n"
            "  -d, --device DEV     auto (default: the best GPU, else the CPU), cpu, vulkan,\n"
            "                       vulkan:N (device index), vulkan:NAME\n"
            "  -o, --output OUT     the result, by extension:\n"
            "                         flow  .flo  Middlebury: (u, v) float32 per pixel\n"
            "                               .png  KITTI 16-bit RGB: R = u*64 + 32768,\n"
            "                                     G = v*64 + 32768 (clamped), B = 1\n"
            "                         depth .png  16-bit gray: the model's output channel 0 times\n"
            "                                     --depth-scale, rounded and clamped to 0..65535\n"
            "                               .pfm  float32 PFM of output channel 0 (unscaled)\n"
            "                         seg   .png  class ids (argmax over the model's classes),\n"
            "                                     8-bit gray (16-bit above 256 classes)\n"
            "      --viz VIZ.png    also write a colour picture: flow on the Middlebury colour\n"
            "                       wheel, depth through a colormap (its min..max), seg with the\n"
            "                       model's palette (else Cityscapes')\n"
            "      --max-flow F     flow magnitude (pixels) drawn at full saturation; default:\n"
            "                       the largest in the result\n"
            "      --colormap NAME  turbo (default), inferno, magma, viridis or gray\n"
            "      --depth-scale S  depth PNG scale (default 256, as in KITTI disparity maps)\n"
            "      --confidence CONF.png\n"
            "                       seg: also write each pixel's class probability (softmax of\n"
            "                       the logits) as 8-bit gray, 255 = 1\n"
            "  -h, --help           this text\n");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("winwin-infer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static out_kind kind_of(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash))
        return OUT_OTHER;
    return !strcasecmp(dot, ".flo") ? OUT_FLO
         : !strcasecmp(dot, ".png") ? OUT_PNG
         : !strcasecmp(dot, ".pfm") ? OUT_PFM
                                    : OUT_OTHER;
}

static int parse_positive(const char *opt, const char *s, float *out)
{
    char *end;
    float v = strtof(s, &end);
    if (end == s || *end || !isfinite(v) || v <= 0)
        return fail("%s: '%s' is not a number > 0", opt, s);
    *out = v;
    return 0;
}

/* 0: run; 1: a usage error (reported); -1: --help was printed. */
static int parse_args(int argc, char **argv, infer_opts *o)
{
    enum { OPT_VIZ = 256, OPT_MAX_FLOW, OPT_COLORMAP, OPT_DEPTH_SCALE, OPT_CONFIDENCE };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"task", required_argument, NULL, 't'},
        {"device", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"viz", required_argument, NULL, OPT_VIZ},
        {"max-flow", required_argument, NULL, OPT_MAX_FLOW},
        {"colormap", required_argument, NULL, OPT_COLORMAP},
        {"depth-scale", required_argument, NULL, OPT_DEPTH_SCALE},
        {"confidence", required_argument, NULL, OPT_CONFIDENCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (infer_opts){.device = "auto", .cmap = WW_CMAP_TURBO, .depth_scale = 256.0f};
    const char *task = NULL;
    opterr = 0; /* our own messages, with the usage hint */
    int c;
    while ((c = getopt_long(argc, argv, ":m:t:d:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 't': task = optarg; break;
        case 'd': o->device = optarg; break;
        case 'o': o->out = optarg; break;
        case OPT_VIZ: o->viz = optarg; break;
        case OPT_CONFIDENCE: o->confidence = optarg; break;
        case OPT_MAX_FLOW:
            if (parse_positive("--max-flow", optarg, &o->max_flow))
                return 1;
            break;
        case OPT_DEPTH_SCALE:
            if (parse_positive("--depth-scale", optarg, &o->depth_scale))
                return 1;
            break;
        case OPT_COLORMAP: {
            int k = 0;
            while (k < WW_CMAP_COUNT && strcmp(optarg, ww_colormap_name((ww_colormap)k)))
                k++;
            if (k == WW_CMAP_COUNT)
                return fail("--colormap: unknown colormap '%s' (turbo, inferno, magma, viridis "
                            "or gray)", optarg);
            o->cmap = (ww_colormap)k;
            break;
        }
        case 'h': usage(stdout); return -1;
        case ':': return fail("%s needs a value (see --help)", argv[optind - 1]);
        default:
            if (optopt)
                return fail("unknown option '-%c' (see --help)", optopt);
            return fail("unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    for (; optind < argc; optind++) {
        if (o->nimages == 2)
            return fail("too many images: '%s' is a third one (at most two, see --help)",
                        argv[optind]);
        o->images[o->nimages++] = argv[optind];
    }
    if (task && !o->model) {
        int t = 0;
        while (t <= WW_TASK_SEG && strcmp(task, ww_task_name((ww_task)t)))
            t++;
        if (t > WW_TASK_SEG)
            return fail("--task: unknown task '%s' (flow, depth or seg)", task);
        o->model = ww_model_default_path((ww_task)t, o->default_model, sizeof o->default_model);
        if (!o->model)
            return fail("--task %s: no default %s model found (models/%s/model.safetensors, "
                        "or set WINWIN_MODEL_DIR)", task, task, task);
    }
    if (!o->model)
        return fail("no model: give --model M.safetensors or --task TASK (see --help)");
    if (!o->nimages)
        return fail("no input image (see --help)");
    if (!o->out)
        return fail("no output: give -o OUT (.flo, .png or .pfm, see --help)");
    if (kind_of(o->out) == OUT_OTHER)
        return fail("%s: unknown output type (.flo, .png or .pfm)", o->out);
    if (o->viz && kind_of(o->viz) != OUT_PNG)
        return fail("%s: --viz writes a PNG, name it .png", o->viz);
    if (o->confidence && kind_of(o->confidence) != OUT_PNG)
        return fail("%s: --confidence writes a PNG, name it .png", o->confidence);
    return 0;
}

/* The task's input count and output types; the message says what to give instead. */
static int check_task(const infer_opts *o, ww_task task)
{
    int want = task == WW_TASK_FLOW ? 2 : 1;
    if (o->nimages != want)
        return fail("%s is a %s model: it takes %s, not %d", o->model, ww_task_name(task),
                    want == 2 ? "two images (the flow from IMAGE1 to IMAGE2)" : "one image",
                    o->nimages);
    out_kind k = kind_of(o->out);
    int ok = task == WW_TASK_FLOW ? k == OUT_FLO || k == OUT_PNG
           : task == WW_TASK_DEPTH ? k == OUT_PNG || k == OUT_PFM
                                   : k == OUT_PNG;
    if (o->confidence && task != WW_TASK_SEG)
        return fail("--confidence: a %s model has no class probabilities", ww_task_name(task));
    if (!ok)
        return fail("%s: a %s result is written as %s", o->out, ww_task_name(task),
                    task == WW_TASK_FLOW    ? ".flo or .png (KITTI)"
                    : task == WW_TASK_DEPTH ? ".png (16-bit) or .pfm"
                                            : ".png (class ids)");
    return 0;
}

/* Push the image(s) through a runner of their size and read the cropped output into r. */
static int run_model(ww_backend *be, ww_model *m, const infer_opts *o, const ww_img *imgs,
                     result *r)
{
    const ww_model_config *c = ww_model_config_of(m);
    *r = (result){.task = c->task,
                  .width = imgs[0].width,
                  .height = imgs[0].height,
                  .channels = c->out_channels};
    ww_runner *run;
    if (ww_runner_create(m, r->width, r->height, WW_FMT_RGB, &run))
        return fail("%s: %s", o->model, ww_backend_error(be));
    ww_image_layout l;
    size_t bytes = ww_image_layout_packed(WW_FMT_RGB, r->width, r->height, &l);
    size_t n = (size_t)r->channels * (size_t)r->width * (size_t)r->height;
    int has = 0, rc = 0;
    double t0 = now_ms();
    for (int i = 0; i < o->nimages && !rc; i++)
        if (ww_runner_push(run, imgs[i].data, bytes, &l, &has))
            rc = fail("%s: %s", o->images[i], ww_backend_error(be));
    double t1 = now_ms();
    if (!rc && !(r->data = malloc(n * sizeof *r->data)))
        rc = fail("out of memory for the %dx%d result", r->width, r->height);
    if (!rc && ww_runner_output(run, r->data, n))
        rc = fail("%s", ww_backend_error(be));
    size_t hw = (size_t)r->width * (size_t)r->height;
    if (!rc && c->task == WW_TASK_SEG) {
        r->ids = malloc(hw * sizeof *r->ids);
        r->conf = malloc(hw * sizeof *r->conf);
        if (!r->ids || !r->conf)
            rc = fail("out of memory for the %dx%d label map", r->width, r->height);
        else if (ww_runner_labels(run, r->ids, r->conf, hw))
            rc = fail("%s", ww_backend_error(be));
    }
    if (!rc)
        fprintf(stderr, "winwin-infer: %s %dx%d on %s: %.1f ms\n", ww_task_name(c->task),
                r->width, r->height, ww_backend_device_name(be), t1 - t0);
    ww_runner_destroy(run);
    return rc;
}

static int write_flow(const infer_opts *o, const result *r)
{
    size_t hw = (size_t)r->width * (size_t)r->height;
    /* valid NULL: the model gives a flow everywhere */
    ww_flow fl = {.width = r->width, .height = r->height, .uv = malloc(2 * hw * sizeof(float))};
    if (!fl.uv)
        return fail("out of memory for the %dx%d flow", r->width, r->height);
    for (size_t i = 0; i < hw; i++) { /* planes u, v -> (u, v) pairs */
        fl.uv[2 * i] = r->data[i];
        fl.uv[2 * i + 1] = r->data[hw + i];
    }
    char err[ERRLEN];
    ww_status st = kind_of(o->out) == OUT_FLO ? ww_flo_write(o->out, &fl, err, sizeof err)
                                              : ww_kitti_flow_write(o->out, &fl, err, sizeof err);
    ww_flow_free(&fl);
    return st ? fail("%s", err) : 0;
}

static int write_depth(const infer_opts *o, const result *r)
{
    char err[ERRLEN];
    if (kind_of(o->out) == OUT_PFM)
        return ww_pfm_write(o->out, r->data, r->width, r->height, 1, err, sizeof err)
                   ? fail("%s", err)
                   : 0;
    size_t hw = (size_t)r->width * (size_t)r->height;
    uint16_t *p = malloc(hw * sizeof *p);
    if (!p)
        return fail("out of memory for the %dx%d depth map", r->width, r->height);
    for (size_t i = 0; i < hw; i++) {
        float v = r->data[i] * o->depth_scale;
        /* NaN fails both tests and stores 0: KITTI's "no value" */
        p[i] = v >= 65535.0f ? 65535 : v > 0.0f ? (uint16_t)lrintf(v) : 0;
    }
    ww_img img = {.width = r->width, .height = r->height, .channels = 1, .depth = 16, .data = p};
    ww_status st = ww_img_write_png(o->out, &img, err, sizeof err);
    free(p);
    return st ? fail("%s", err) : 0;
}

/* Class probabilities as 8-bit gray. */
static int write_confidence(const infer_opts *o, const result *r)
{
    size_t hw = (size_t)r->width * (size_t)r->height;
    uint8_t *p = malloc(hw);
    if (!p)
        return fail("out of memory for the %dx%d confidence map", r->width, r->height);
    for (size_t i = 0; i < hw; i++)
        p[i] = (uint8_t)(r->conf[i] * 255.0f + 0.5f);
    ww_img img = {.width = r->width, .height = r->height, .channels = 1, .depth = 8, .data = p};
    char err[ERRLEN];
    ww_status st = ww_img_write_png(o->confidence, &img, err, sizeof err);
    free(p);
    return st ? fail("%s", err) : 0;
}

static int write_seg(const infer_opts *o, const result *r, const uint32_t *ids)
{
    size_t hw = (size_t)r->width * (size_t)r->height;
    int depth = r->channels > 256 ? 16 : 8;
    void *p = malloc(hw * (size_t)(depth / 8));
    if (!p)
        return fail("out of memory for the %dx%d label map", r->width, r->height);
    for (size_t i = 0; i < hw; i++) {
        if (depth == 8)
            ((uint8_t *)p)[i] = (uint8_t)ids[i];
        else
            ((uint16_t *)p)[i] = (uint16_t)ids[i];
    }
    ww_img img = {.width = r->width, .height = r->height, .channels = 1, .depth = depth, .data = p};
    char err[ERRLEN];
    ww_status st = ww_img_write_png(o->out, &img, err, sizeof err);
    free(p);
    return st ? fail("%s", err) : 0;
}

/* Largest finite flow magnitude (at least a small positive value, for an all-zero flow). */
static float max_flow_of(const result *r)
{
    size_t hw = (size_t)r->width * (size_t)r->height;
    float m = 0;
    for (size_t i = 0; i < hw; i++) {
        float mag = hypotf(r->data[i], r->data[hw + i]);
        if (isfinite(mag) && mag > m)
            m = mag;
    }
    return m > 1e-6f ? m : 1.0f;
}

/* Finite min and max of the first plane (lo < hi, widened when flat or empty). */
static void range_of(const result *r, float *lo, float *hi)
{
    size_t hw = (size_t)r->width * (size_t)r->height;
    float a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < hw; i++) {
        if (isfinite(r->data[i])) {
            a = fminf(a, r->data[i]);
            b = fmaxf(b, r->data[i]);
        }
    }
    if (!(a <= b))
        a = b = 0;
    if (b - a < 1e-6f * fmaxf(1.0f, fabsf(a))) { /* flat: one colour, no division by 0 */
        a -= fmaxf(1.0f, fabsf(a)) * 1e-3f;
        b += fmaxf(1.0f, fabsf(b)) * 1e-3f;
    }
    *lo = a;
    *hi = b;
}

/* Colour the result with the engine's colorize ops on be: upload the cropped output (or the
 * seg ids), colorize to packed RGBA words, read them back and write an 8-bit RGB PNG. */
static int viz_write(ww_backend *be, const ww_model *m, const infer_opts *o, const result *r,
                     const uint32_t *ids)
{
    int64_t w = r->width, h = r->height;
    size_t hw = (size_t)w * (size_t)h;
    ww_arena *a = NULL;
    ww_seq *s = NULL;
    uint32_t *rgba = malloc(hw * sizeof *rgba);
    uint8_t *rgb = malloc(hw * 3), *palette = NULL;
    ww_tensor in, table, out;
    int rc = 0;
    ww_status st = !rgba || !rgb ? WW_ERR_OUT_OF_MEMORY : WW_OK;
    if (!st)
        st = ww_arena_create(be, 0, &a);
    if (!st)
        st = ww_seq_create(be, &s);
    if (!st)
        st = ww_arena_alloc(a, WW_U32, 2, (int64_t[]){w, h}, &out);
    if (!st && r->task == WW_TASK_FLOW) {
        float max_flow = o->max_flow > 0 ? o->max_flow : max_flow_of(r);
        st = ww_arena_alloc(a, WW_F32, 3, (int64_t[]){w, h, 2}, &in);
        if (!st)
            st = ww_tensor_write(be, &in, r->data, 2 * hw * sizeof(float));
        if (!st)
            st = ww_colorize_flow(s, &in, max_flow, WW_FLOW_MIDDLEBURY, &out);
    } else if (!st && r->task == WW_TASK_DEPTH) {
        float lo, hi;
        range_of(r, &lo, &hi);
        st = ww_arena_alloc(a, WW_F32, 2, (int64_t[]){w, h}, &in);
        if (!st)
            st = ww_tensor_write(be, &in, r->data, hw * sizeof(float));
        if (!st)
            st = ww_colormap_table(a, o->cmap, &table);
        if (!st)
            st = ww_colorize_scalar(s, &in, lo, hi, &table, &out);
    } else if (!st) {
        st = (palette = malloc((size_t)r->channels * 3)) ? WW_OK : WW_ERR_OUT_OF_MEMORY;
        if (!st)
            ww_model_class_colors(m, palette, r->channels);
        if (!st)
            st = ww_arena_alloc(a, WW_U32, 2, (int64_t[]){w, h}, &in);
        if (!st)
            st = ww_tensor_write(be, &in, ids, hw * sizeof *ids);
        if (!st)
            st = ww_palette_table(a, palette, r->channels, &table);
        if (!st)
            st = ww_colorize_labels(s, &in, &table, &out);
    }
    if (!st)
        st = ww_seq_run(s);
    if (!st)
        st = ww_seq_wait(s);
    if (!st)
        st = ww_tensor_read(be, &out, rgba, hw * sizeof *rgba);
    if (st) {
        rc = fail("%s: %s", o->viz,
                  st == WW_ERR_OUT_OF_MEMORY && !a ? "out of memory" : ww_backend_error(be));
    } else {
        for (size_t i = 0; i < hw; i++) { /* R is the low byte (ww.h) */
            rgb[3 * i] = (uint8_t)rgba[i];
            rgb[3 * i + 1] = (uint8_t)(rgba[i] >> 8);
            rgb[3 * i + 2] = (uint8_t)(rgba[i] >> 16);
        }
        ww_img img = {.width = r->width, .height = r->height, .channels = 3, .depth = 8,
                      .data = rgb};
        char err[ERRLEN];
        if (ww_img_write_png(o->viz, &img, err, sizeof err))
            rc = fail("%s", err);
    }
    ww_seq_destroy(s);
    ww_arena_destroy(a);
    free(palette);
    free(rgb);
    free(rgba);
    return rc;
}

/* Backend warnings go to stderr; errors come back as statuses and are printed once, there. */
static void on_log(void *user, int level, const char *msg)
{
    (void)user;
    if (level == WW_LOG_WARNING)
        fprintf(stderr, "winwin-infer: warning: %s\n", msg);
}

static int infer(const infer_opts *o)
{
    char err[ERRLEN];
    ww_img imgs[2] = {{0}};
    ww_backend *be = NULL;
    ww_model *m = NULL;
    result r = {0};
    int rc = 0;
    for (int i = 0; i < o->nimages && !rc; i++)
        if (ww_img_read_rgb8(o->images[i], &imgs[i], err, sizeof err))
            rc = fail("%s", err);
    if (!rc && o->nimages == 2 &&
        (imgs[0].width != imgs[1].width || imgs[0].height != imgs[1].height))
        rc = fail("%s is %dx%d but %s is %dx%d: the two images must have the same size",
                  o->images[0], imgs[0].width, imgs[0].height, o->images[1], imgs[1].width,
                  imgs[1].height);
    ww_backend_options bo = {.device = o->device, .log = on_log};
    if (!rc && ww_backend_create(&bo, &be, err, sizeof err))
        rc = fail("--device %s: %s", o->device, err);
    if (!rc && ww_model_load(be, o->model, &m))
        rc = fail("%s", ww_backend_error(be));
    if (!rc)
        rc = check_task(o, ww_model_config_of(m)->task);
    if (!rc)
        rc = run_model(be, m, o, imgs, &r);
    if (!rc)
        rc = r.task == WW_TASK_FLOW    ? write_flow(o, &r)
           : r.task == WW_TASK_DEPTH ? write_depth(o, &r)
                                       : write_seg(o, &r, r.ids);
    if (!rc && o->confidence)
        rc = write_confidence(o, &r);
    if (!rc && o->viz)
        rc = viz_write(be, m, o, &r, r.ids);
    free(r.ids);
    free(r.conf);
    free(r.data);
    ww_model_destroy(m);
    ww_backend_destroy(be);
    ww_img_free(&imgs[0]);
    ww_img_free(&imgs[1]);
    return rc;
}

int main(int argc, char **argv)
{
    infer_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : 1;
    return infer(&o);
}
