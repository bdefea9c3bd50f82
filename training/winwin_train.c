/* winwin-train: train CroCo-family flow, depth and segmentation models with Win-Win window
 * masking (or the --full / --crop baselines) on the engine, and the tool's other commands:
 * plot, export, bench and bench-loader. This file parses the command line; the work is in
 * train_run.c, checkpoint.c, train_bench.c and loader_bench.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"
#include "synth.h"
#include "train_run.h"

static const char usage[] =
    "usage: winwin-train --task flow|depth|seg [options]     train a model\n"
    "       winwin-train plot METRICS.jsonl [-o CURVES.svg]    plot a run's metrics log\n"
    "       winwin-train synth --task T --size WxH --out DIR ... synthetic samples as PNGs\n"
    "       winwin-train export CHECKPOINT -o MODEL.safetensors [--f16]\n"
    "                          weights without optimiser state (--f16: half the size)\n"
    "       winwin-train eval --model FILE [--data SPEC] ...  metrics at full resolution\n"
    "       winwin-train bench --task T [--model SIZE] [--size WxH] [--device D ...] [--steps N]\n"
    "                          [--csv FILE]   step time and memory of --full, --crop, windows\n"
    "       winwin-train bench-loader --task T [--data SPEC] [--size WxH] [--batch B]\n"
    "                          [--threads N] [--batches K] [--step-ms X] [augmentation options]\n"
    "                          loader samples/s over K (16) batches with 1, 2, 4 .. N threads;\n"
    "                          --step-ms: the wait per step of a trainer stepping in X ms\n"
    "\n"
    "Model and data:\n"
    "  --model NAME|FILE     micro|tiny|small|base|croco-flow (random init) or a weights file,\n"
    "                        e.g. converted CroCo pretraining (default tiny)\n"
    "  --classes N           segmentation classes of a preset model (default 19)\n"
    "  --data SPEC           synthetic[:N], list:FILE or a dataset layout: chairs:, sintel:,\n"
    "                        kitti:, spring:, things:, kitti-stereo:, cityscapes:ROOT\n"
    "                        (training/dataset.h; default synthetic)\n"
    "  --val-data SPEC       validation set (default synthetic:8)\n"
    "  --size WxH            training image size, multiples of 32 (default 512x384)\n"
    "  --val-size WxH        size of synthetic validation images, any (default: --size)\n"
    "  --val-samples N       validate on at most N images (default all)\n"
    "Masking (default: 2 windows):\n"
    "  --windows N           random non-overlapping square windows per image (default 2)\n"
    "  --window-size S       window side in tokens, even (default: 2 windows cover ~27%)\n"
    "  --independent-windows flow: frame 2 draws its own windows\n"
    "  --full                the whole image, no masking (baseline)\n"
    "  --crop WxH            random WxH crops, no masking (the usual low-resolution practice)\n"
    "Data loading and augmentation (training data; validation is never augmented):\n"
    "  --threads N           loader threads preparing batches ahead (default 0: one per CPU)\n"
    "  --augment default|none  default: zoom 0.8..1.25 (seg 0.5..2), left-right mirror (flow\n"
    "                        also up-down with p 0.1), colour jitter 0.2; none: crops only\n"
    "  --scale MIN,MAX       zoom range, log-uniform (1,1: no zoom)\n"
    "  --no-flip             no mirrors\n"
    "  --jitter X            brightness, contrast and saturation jitter X, hue X/4 (0: off)\n"
    "                        Samples are zoomed, then randomly cropped to the training size\n"
    "                        (--size, or --crop's); a list's file smaller than that is zoomed\n"
    "                        in until it covers it. A corrupt sample is skipped with a warning.\n"
    "Optimisation:\n"
    "  --steps N (1000)  --batch B (2)  --accum K (1: micro-batches per step)\n"
    "  --lr X (1e-4)  --min-lr X (lr/100)  --warmup N (steps/20)  --weight-decay X (0.05)\n"
    "  --beta1 X (0.9)  --beta2 X (0.95)  --clip X (1.0, global norm; 0: off)  --seed N (0)\n"
    "Running:\n"
    "  --device D            auto|cpu|vulkan|vulkan:N|vulkan:NAME (default auto)\n"
    "  --out DIR             metrics.jsonl, checkpoint.safetensors, model.safetensors,\n"
    "                        curves.svg (default runs/TASK)\n"
    "  --resume              continue DIR's checkpoint exactly\n"
    "  --checkpoint-every N (100)  --val-every N (100; 0: at the end)  --log-every N (10)\n";

static const char program[] = "winwin-train";

static int bad(const char *opt, const char *val, const char *why)
{
    return ww_cli_bad(program, opt, val, why);
}

static int parse_int(const char *opt, const char *s, int lo, int *out)
{
    long long v;
    int r = ww_cli_integer(program, opt, s, lo, 1000000000, &v);
    if (r == 0)
        *out = (int)v;
    return r;
}

static int parse_float(const char *opt, const char *s, float *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || !isfinite(v) || v < 0)
        return bad(opt, s, "expected a number >= 0");
    *out = (float)v;
    return 0;
}

/* Training sizes are multiples of 32 (the DPT halves the token grid); validation sizes are any,
 * since the runner pads. */
static int parse_size(const char *opt, const char *s, int multiple, int *w, int *h)
{
    char *end;
    long a = s ? strtol(s, &end, 10) : 0, b = 0;
    if (s && end != s && *end == 'x')
        b = strtol(end + 1, &end, 10);
    if (!s || *end || a < 32 || b < 32 || a > 16384 || b > 16384 || a % multiple ||
        b % multiple)
        return bad(opt, s, multiple > 1 ? "expected WxH, multiples of 32 pixels"
                                        : "expected WxH, 32..16384 pixels each");
    *w = (int)a;
    *h = (int)b;
    return 0;
}

static int parse_task(const char *s, ww_task *t)
{
    if (s && !strcmp(s, "flow"))
        *t = WW_TASK_FLOW;
    else if (s && !strcmp(s, "depth"))
        *t = WW_TASK_DEPTH;
    else if (s && !strcmp(s, "seg"))
        *t = WW_TASK_SEG;
    else
        return bad("--task", s, "expected flow, depth or seg");
    return 0;
}

/* "MIN,MAX"; the range itself is ww_augment_check's to judge. */
static int parse_range(const char *opt, const char *s, float range[2])
{
    char *end = NULL;
    double lo = s ? strtod(s, &end) : 0, hi = 0;
    if (s && end != s && *end == ',')
        hi = strtod(end + 1, &end);
    if (!s || end == s || *end)
        return bad(opt, s, "expected MIN,MAX");
    range[0] = (float)lo;
    range[1] = (float)hi;
    return 0;
}

/* The command line as one string, for the weights' metadata. */
static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++)
        p += sprintf(p, i ? " %s" : "%s", argv[i]);
    *p = 0;
    return s;
}

typedef struct parsed {
    ww_train_options o;
    const char *devices[8];
    int ndevices, bench_steps, lr_set, min_lr_set, warmup_set, window_set, val_size_set;
    const char *csv;
    int batches;   /* bench-loader */
    float step_ms; /* bench-loader */
    int augment_none, no_flip, scale_set, jitter_set;
    float scale[2], jitter;
} parsed;

static int parse(int argc, char **argv, int first, parsed *p)
{
    ww_train_options *o = &p->o;
    *o = (ww_train_options){.model = "tiny", .classes = 19, .data = "synthetic",
                            .val_data = "synthetic:8", .width = 512, .height = 384,
                            .windows = 2, .batch = 2, .accum = 1, .steps = 1000, .lr = 1e-4f,
                            .weight_decay = 0.05f, .beta1 = 0.9f, .beta2 = 0.95f, .clip = 1.0f,
                            .device = "auto", .checkpoint_every = 100, .val_every = 100,
                            .log_every = 10};
    p->bench_steps = 3;
    int task_set = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0, takes = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            exit(0);
        } else if (!strcmp(a, "--task")) {
            r = parse_task(v, &o->task);
            task_set = 1;
        } else if (!strcmp(a, "--model")) {
            o->model = v;
        } else if (!strcmp(a, "--classes")) {
            r = parse_int(a, v, 2, &o->classes);
        } else if (!strcmp(a, "--data")) {
            o->data = v;
        } else if (!strcmp(a, "--val-data")) {
            o->val_data = v;
        } else if (!strcmp(a, "--size")) {
            r = parse_size(a, v, 32, &o->width, &o->height);
        } else if (!strcmp(a, "--val-size")) {
            r = parse_size(a, v, 1, &o->val_width, &o->val_height);
            p->val_size_set = 1;
        } else if (!strcmp(a, "--val-samples")) {
            r = parse_int(a, v, 1, &o->val_samples);
        } else if (!strcmp(a, "--windows")) {
            r = parse_int(a, v, 1, &o->windows);
        } else if (!strcmp(a, "--window-size")) {
            r = parse_int(a, v, 2, &o->window_size);
            p->window_set = 1;
        } else if (!strcmp(a, "--independent-windows")) {
            o->independent_windows = 1;
            takes = 0;
        } else if (!strcmp(a, "--full")) {
            o->mode = WW_MODE_FULL;
            takes = 0;
        } else if (!strcmp(a, "--crop")) {
            o->mode = WW_MODE_CROP;
            r = parse_size(a, v, 32, &o->crop_width, &o->crop_height);
        } else if (!strcmp(a, "--steps")) {
            r = parse_int(a, v, 1, &o->steps);
            p->bench_steps = o->steps;
        } else if (!strcmp(a, "--batch")) {
            r = parse_int(a, v, 1, &o->batch);
        } else if (!strcmp(a, "--accum")) {
            r = parse_int(a, v, 1, &o->accum);
        } else if (!strcmp(a, "--lr")) {
            r = parse_float(a, v, &o->lr);
            p->lr_set = 1;
        } else if (!strcmp(a, "--min-lr")) {
            r = parse_float(a, v, &o->min_lr);
            p->min_lr_set = 1;
        } else if (!strcmp(a, "--warmup")) {
            r = parse_int(a, v, 0, &o->warmup);
            p->warmup_set = 1;
        } else if (!strcmp(a, "--weight-decay")) {
            r = parse_float(a, v, &o->weight_decay);
        } else if (!strcmp(a, "--beta1")) {
            r = parse_float(a, v, &o->beta1);
        } else if (!strcmp(a, "--beta2")) {
            r = parse_float(a, v, &o->beta2);
        } else if (!strcmp(a, "--clip")) {
            r = parse_float(a, v, &o->clip);
        } else if (!strcmp(a, "--seed")) {
            int s;
            r = parse_int(a, v, 0, &s);
            o->seed = (uint64_t)s;
        } else if (!strcmp(a, "--device")) {
            o->device = v;
            if (v && p->ndevices < 8)
                p->devices[p->ndevices++] = v;
        } else if (!strcmp(a, "--out")) {
            o->out_dir = v;
        } else if (!strcmp(a, "--resume")) {
            o->resume = 1;
            takes = 0;
        } else if (!strcmp(a, "--checkpoint-every")) {
            r = parse_int(a, v, 1, &o->checkpoint_every);
        } else if (!strcmp(a, "--val-every")) {
            r = parse_int(a, v, 0, &o->val_every);
        } else if (!strcmp(a, "--log-every")) {
            r = parse_int(a, v, 1, &o->log_every);
        } else if (!strcmp(a, "--inject-nan")) {
            r = parse_int(a, v, 1, &o->inject_nan);
        } else if (!strcmp(a, "--csv")) {
            p->csv = v;
        } else if (!strcmp(a, "--threads")) {
            r = parse_int(a, v, 0, &o->threads);
        } else if (!strcmp(a, "--augment")) {
            if (v && strcmp(v, "default") && strcmp(v, "none"))
                r = bad(a, v, "expected default or none");
            p->augment_none = v && !strcmp(v, "none");
        } else if (!strcmp(a, "--scale")) {
            r = parse_range(a, v, p->scale);
            p->scale_set = 1;
        } else if (!strcmp(a, "--no-flip")) {
            p->no_flip = 1;
            takes = 0;
        } else if (!strcmp(a, "--jitter")) {
            r = parse_float(a, v, &p->jitter);
            p->jitter_set = 1;
        } else if (!strcmp(a, "--batches")) {
            r = parse_int(a, v, 1, &p->batches);
        } else if (!strcmp(a, "--step-ms")) {
            r = parse_float(a, v, &p->step_ms);
        } else {
            return bad(a, NULL, "unknown option (see --help)");
        }
        if (r)
            return r;
        if (takes && !v)
            return bad(a, NULL, "needs a value");
        i += takes;
    }
    if (!task_set)
        return bad("--task", NULL, "is required (flow, depth or seg)");
    if (!p->min_lr_set)
        o->min_lr = o->lr / 100;
    if (!p->warmup_set)
        o->warmup = o->steps / 20;
    if (!p->val_size_set) {
        o->val_width = o->width;
        o->val_height = o->height;
    }
    int gh = o->height / 16, gw = o->width / 16;
    if (!p->window_set)
        o->window_size = ww_default_window_size(gh, gw);
    if (o->mode == WW_MODE_CROP && (o->crop_width > o->width || o->crop_height > o->height))
        return bad("--crop", NULL, "the crop is larger than --size");
    /* --augment picks the base, the single options change it; the run sets the output size. */
    o->augment = p->augment_none ? (ww_augment){.scale_min = 1, .scale_max = 1}
                                 : ww_augment_default(o->task, 0, 0);
    if (p->scale_set) {
        o->augment.scale_min = p->scale[0];
        o->augment.scale_max = p->scale[1];
    }
    if (p->no_flip) {
        o->augment.flip = 0;
        o->augment.vflip = 0;
    }
    if (p->jitter_set) {
        o->augment.brightness = o->augment.contrast = o->augment.saturation = p->jitter;
        o->augment.hue = p->jitter / 4;
    }
    ww_augment check = o->augment;
    check.width = check.height = 1;
    char err[256];
    if (ww_augment_check(&check, err, sizeof err) != WW_OK) {
        fprintf(stderr, "winwin-train: %s\n", err);
        return 2;
    }
    return 0;
}

/* "COMMAND IN [-o OUT]", argv[1] being the command; *out stays NULL when not given. 0, or 2 after
 * a message: an extra argument, or IN (and OUT when need_out) missing, which says missing. */
/* IN [-o OUT] [FLAG]: flag (NULL: none) is an optional switch, *flag_set 1 when given. */
static int parse_in_out(int argc, char **argv, int need_out, const char *missing,
                        const char *flag, int *flag_set, const char **in, const char **out)
{
    *in = *out = NULL;
    for (int i = 2; i < argc; i++) {
        if (flag && !strcmp(argv[i], flag))
            *flag_set = 1;
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            *out = argv[++i];
        else if (!*in)
            *in = argv[i];
        else
            return bad(argv[i], NULL, "unexpected argument");
    }
    if (!*in || (need_out && !*out))
        return bad(argv[1], NULL, missing);
    return 0;
}

static int cmd_plot(int argc, char **argv)
{
    const char *in, *out;
    int r = parse_in_out(argc, argv, 0, "needs a metrics log (METRICS.jsonl)", NULL, NULL, &in,
                         &out);
    if (r)
        return r;
    char def[1024];
    if (!out) {
        snprintf(def, sizeof def, "%.*s.svg",
                 (int)(strstr(in, ".jsonl") ? strstr(in, ".jsonl") - in : (long)strlen(in)), in);
        out = def;
    }
    char err[1024];
    if (ww_plot_svg(in, out, err, sizeof err) != WW_OK) {
        fprintf(stderr, "winwin-train plot: %s\n", err);
        return 1;
    }
    printf("%s\n", out);
    return 0;
}

static int cmd_export(int argc, char **argv)
{
    const char *in, *out;
    int f16 = 0;
    int r = parse_in_out(argc, argv, 1,
                         "usage: winwin-train export CHECKPOINT -o MODEL.safetensors [--f16]",
                         "--f16", &f16, &in, &out);
    if (r)
        return r;
    char err[1024];
    ww_backend *be;
    ww_backend_options bo = {.device = "cpu", .cpu_threads = 1};
    if (ww_backend_create(&bo, &be, err, sizeof err) != WW_OK) {
        fprintf(stderr, "winwin-train export: %s\n", err);
        return 1;
    }
    ww_model *m = NULL;
    int status = 0;
    if (ww_model_load(be, in, &m) != WW_OK ||
        (f16 ? ww_model_save_f16(m, out, NULL, 0) : ww_model_save(m, out, NULL, 0, NULL, 0)) !=
            WW_OK) {
        fprintf(stderr, "winwin-train export: %s\n", ww_backend_error(be));
        status = 1;
    } else {
        printf("%s: %lld parameters%s\n", out, (long long)ww_model_parameters(m),
               f16 ? ", stored as F16" : "");
    }
    ww_model_destroy(m);
    ww_backend_destroy(be);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "plot"))
        return cmd_plot(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "export"))
        return cmd_export(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "synth"))
        return ww_synth_dump(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "eval"))
        return ww_train_eval_main(argc, argv);
    int bench = argc >= 2 && !strcmp(argv[1], "bench");
    int bench_loader = argc >= 2 && !strcmp(argv[1], "bench-loader");
    parsed p = {.batches = 16};
    int r = parse(argc, argv, bench || bench_loader ? 2 : 1, &p);
    if (r) {
        if (argc < 2)
            fputs(usage, stderr);
        return r;
    }
    if (bench) {
        if (!p.ndevices)
            p.devices[p.ndevices++] = "auto";
        if (!p.o.crop_width) {
            /* the crop baseline sees about as many tokens as the windows */
            int side = (int)(sqrt((double)p.o.windows) * p.o.window_size * 16 / 32) * 32;
            side = side < 32 ? 32 : side;
            p.o.crop_width = side < p.o.width ? side : p.o.width;
            p.o.crop_height = side < p.o.height ? side : p.o.height;
        }
        return ww_train_bench(&p.o, p.devices, p.ndevices, p.bench_steps, p.csv);
    }
    if (bench_loader)
        return ww_loader_bench(&p.o, p.batches, p.step_ms);
    char out[256];
    if (!p.o.out_dir) {
        snprintf(out, sizeof out, "runs/%s", ww_task_name(p.o.task));
        p.o.out_dir = out;
    }
    char *cmd = join_args(argc, argv);
    p.o.command = cmd ? cmd : "winwin-train";
    r = ww_train_run(&p.o);
    free(cmd);
    return r;
}
