/* winwin-bench model: per-frame latency (median, p95) and memory of the task models at a list of
 * resolutions, per backend and model size, with the PyTorch reference (tools/bench_torch.py,
 * when python3 has torch) timed on the same machine in the same run. Models get random weights:
 * speed does not depend on their values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "model.h"

#define MAX_LIST 16

typedef struct model_opts {
    const char *devices[MAX_LIST], *sizes[MAX_LIST], *res[MAX_LIST];
    ww_task tasks[3];
    int ndevices, nsizes, nres, ntasks;
    int runs;
    int torch;
    int plan_only; /* report memory without running */
    const char *python;
} model_opts;

/* PyTorch median ms for one task, size and resolution: a pair for flow, a frame otherwise; -1 if
 * torch is not there. */
static double torch_ms(const model_opts *o, ww_task task, const char *size, const char *res)
{
    if (!o->torch)
        return -1;
    /* The script lives in the source tree (WW_TOOLS_DIR, set by the build). */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s '%s/bench_torch.py' --task %s --size %s --res %s --runs %d 2>/dev/null",
             o->python, WW_TOOLS_DIR, ww_task_name(task), size, res, o->runs);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[256];
    double med = -1, p95;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "torch %*s %*s %*s %lf %lf", &med, &p95) == 2)
            break;
    pclose(p);
    return med;
}

static const ww_pixel_format bench_format = WW_FMT_RGBA;

/* Time `runs` pushes (after warm-up) of random frames; for flow also whole pairs. */
static int time_runner(ww_backend *be, ww_runner *r, int W, int H, int binocular, int runs,
                       double *frame_ms, double *frame_p95, double *pair_ms)
{
    ww_image_layout l;
    size_t bytes = ww_image_layout_packed(bench_format, W, H, &l);
    unsigned char *px = malloc(bytes);
    double *t = malloc((size_t)(runs > 0 ? runs : 1) * sizeof *t);
    if (!px || !t) {
        free(px);
        free(t);
        fprintf(stderr, "winwin-bench: out of memory\n");
        return -1;
    }
    unsigned seed = 1;
    for (size_t i = 0; i < bytes; i++) {
        seed = seed * 1664525u + 1013904223u;
        px[i] = (unsigned char)(seed >> 24);
    }
    int has, rc = 0;
    for (int w = 0; w < 1 + binocular && !rc; w++)
        rc = ww_runner_push(r, px, bytes, &l, &has) != WW_OK;
    for (int i = 0; i < runs && !rc; i++) {
        double t0 = bench_now();
        rc = ww_runner_push(r, px, bytes, &l, &has) != WW_OK;
        t[i] = (bench_now() - t0) * 1e3;
    }
    if (!rc) {
        *frame_ms = bench_percentile(t, runs, 0.5);
        *frame_p95 = bench_percentile(t, runs, 0.95);
        *pair_ms = *frame_ms;
    }
    if (!rc && binocular) {
        for (int i = 0; i < runs && !rc; i++) {
            ww_runner_reset(r);
            double t0 = bench_now();
            rc = ww_runner_push(r, px, bytes, &l, &has) != WW_OK ||
                 ww_runner_push(r, px, bytes, &l, &has) != WW_OK;
            t[i] = (bench_now() - t0) * 1e3;
        }
        if (!rc)
            *pair_ms = bench_percentile(t, runs, 0.5);
    }
    if (rc)
        fprintf(stderr, "winwin-bench: %s\n", ww_backend_error(be));
    free(px);
    free(t);
    return rc ? -1 : 0;
}

static int bench_one(ww_backend *be, const model_opts *o, ww_task task, const char *size)
{
    ww_model_config cfg;
    if (ww_model_preset(size, task, &cfg) != WW_OK) {
        fprintf(stderr, "winwin-bench: unknown model size '%s'\n", size);
        return -1;
    }
    ww_model *m;
    if (ww_model_create(be, &cfg, 1, &m) != WW_OK) {
        fprintf(stderr, "winwin-bench: %s\n", ww_backend_error(be));
        return -1;
    }
    double weights_mb = (double)ww_model_memory(m) / (1 << 20);
    const char *kind = ww_backend_kind_of(be) == WW_BACKEND_CPU ? "cpu" : "vulkan";
    int rc = 0;
    for (int i = 0; i < o->nres && !rc; i++) {
        int W, H;
        if (sscanf(o->res[i], "%dx%d", &W, &H) != 2 || W < 1 || H < 1) {
            fprintf(stderr, "winwin-bench: resolution '%s' is not WxH\n", o->res[i]);
            rc = -1;
            break;
        }
        ww_runner *r;
        if (ww_runner_create(m, W, H, bench_format, &r) != WW_OK) {
            printf("%-7s %-6s %-10s %-10s skipped: %s\n", kind, ww_task_name(task), size,
                   o->res[i], ww_backend_error(be));
            continue;
        }
        double frame = 0, p95 = 0, pair = 0;
        if (o->plan_only) {
            printf("%-7s %-6s %-10s %-10s %10s %10s %10s %9.0f %9.0f %10s %8s\n", kind,
                   ww_task_name(task), size, o->res[i], "-", "-", "-",
                   (double)ww_runner_memory(r) / (1 << 20), weights_mb, "-", "-");
            ww_runner_destroy(r);
            continue;
        }
        rc = time_runner(be, r, W, H, cfg.dec_depth > 0, o->runs, &frame, &p95, &pair);
        if (!rc) {
            double torch = torch_ms(o, task, size, o->res[i]);
            char tcol[32] = "-", ratio[32] = "-";
            if (torch > 0) {
                snprintf(tcol, sizeof tcol, "%.1f", torch);
                snprintf(ratio, sizeof ratio, "%.2fx", torch / pair);
            }
            printf("%-7s %-6s %-10s %-10s %10.1f %10.1f %10.1f %9.0f %9.0f %10s %8s\n", kind,
                   ww_task_name(task), size, o->res[i], frame, p95, pair,
                   (double)ww_runner_memory(r) / (1 << 20), weights_mb, tcol, ratio);
            fflush(stdout);
            if (getenv("WW_PROFILE"))
                ww_runner_print_profile(r, stdout);
        }
        ww_runner_destroy(r);
    }
    ww_model_destroy(m);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: winwin-bench model [--device D]... [--task flow|depth|seg]... "
               "[--size tiny|small|base|croco-flow]... [--res WxH]... [--runs N] [--no-torch]\n"
               "       [--plan-only]\n"
               "  defaults: devices cpu and vulkan, all tasks, size base, 224x224 and 512x384,\n"
               "  3 runs; PyTorch through tools/bench_torch.py with $WW_PYTHON, else\n"
               "  /usr/bin/python3 (Debian's python3-torch), else python3.\n"
               "  flow: 'ms/frame' is a streamed frame (one encoder + decoder + head),\n"
               "  'ms/pair' two fresh frames, what PyTorch's row times. WW_PROFILE=1 adds the\n"
               "  per-op breakdown of each row. --plan-only reports the memory of each row\n"
               "  (activations planned for the input size, weights) without running it.\n");
}

int bench_model_main(int argc, char **argv)
{
    model_opts o = {.runs = 3, .torch = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--device") && v && o.ndevices < MAX_LIST) {
            o.devices[o.ndevices++] = argv[++i];
        } else if (!strcmp(a, "--size") && v && o.nsizes < MAX_LIST) {
            o.sizes[o.nsizes++] = argv[++i];
        } else if (!strcmp(a, "--res") && v && o.nres < MAX_LIST) {
            o.res[o.nres++] = argv[++i];
        } else if (!strcmp(a, "--task") && v && o.ntasks < 3) {
            i++;
            if (!strcmp(v, "flow"))
                o.tasks[o.ntasks++] = WW_TASK_FLOW;
            else if (!strcmp(v, "depth"))
                o.tasks[o.ntasks++] = WW_TASK_DEPTH;
            else if (!strcmp(v, "seg"))
                o.tasks[o.ntasks++] = WW_TASK_SEG;
            else {
                fprintf(stderr, "winwin-bench: unknown task '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--runs") && v) {
            o.runs = atoi(argv[++i]);
            if (o.runs < 1) {
                fprintf(stderr, "winwin-bench: --runs must be >= 1\n");
                return 2;
            }
        } else if (!strcmp(a, "--no-torch")) {
            o.torch = 0;
        } else if (!strcmp(a, "--plan-only")) {
            o.plan_only = 1;
        } else if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "winwin-bench: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o.ndevices) {
        o.devices[o.ndevices++] = "cpu";
        o.devices[o.ndevices++] = "vulkan";
    }
    if (!o.nsizes)
        o.sizes[o.nsizes++] = "base";
    if (!o.nres) {
        o.res[o.nres++] = "224x224";
        o.res[o.nres++] = "512x384";
    }
    if (!o.ntasks) {
        o.tasks[o.ntasks++] = WW_TASK_FLOW;
        o.tasks[o.ntasks++] = WW_TASK_DEPTH;
        o.tasks[o.ntasks++] = WW_TASK_SEG;
    }
    /* Debian's python3-torch installs for /usr/bin/python3, which a python3 earlier on PATH
     * (a virtual environment, pyenv) may hide. */
    o.python = getenv("WW_PYTHON")                   ? getenv("WW_PYTHON")
               : access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                       : "python3";
    printf("%-7s %-6s %-10s %-10s %10s %10s %10s %9s %9s %10s %8s\n", "backend", "task", "size",
           "input", "ms/frame", "p95 ms", "ms/pair", "act MiB", "wt MiB", "torch ms",
           "speedup");
    int rc = 0;
    for (int d = 0; d < o.ndevices; d++) {
        ww_backend_options opt = {.device = o.devices[d]};
        ww_backend *be;
        char err[1024];
        if (ww_backend_create(&opt, &be, err, sizeof err) != WW_OK) {
            printf("%-7s skipped: %s\n", o.devices[d], err);
            continue;
        }
        printf("# %s: %s\n", o.devices[d], ww_backend_device_name(be));
        for (int t = 0; t < o.ntasks; t++)
            for (int s = 0; s < o.nsizes; s++)
                rc |= bench_one(be, &o, o.tasks[t], o.sizes[s]);
        ww_backend_destroy(be);
    }
    return rc ? 1 : 0;
}
