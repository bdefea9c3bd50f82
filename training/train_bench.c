/* winwin-train bench: time per training step (forward, loss, backward, AdamW) and peak memory of
 * --full, --crop and Win-Win windows at one image size and model, per device. A benchmark: it
 * prints figures and asserts nothing. Each row gets a fresh backend so that its peak memory is
 * its own (weights, gradients, moments, activations). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "train_graph.h"
#include "train_run.h"
#include "windows.h"

typedef struct bench_row {
    const char *device_name;
    ww_train_mode mode;
    int width, height, tokens;
    double ms, ms_min;
    double peak_mib, graph_mib;
} bench_row;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Random inputs of the right layout: the step's cost does not depend on the values. */
static int fill_batch(ww_train_graph *g, const ww_train_shape *sh, ww_rng *rng, float **bufs,
                      uint32_t **win)
{
    size_t n[4];
    ww_train_graph_sizes(g, &n[0], &n[1], &n[2], &n[3]);
    bufs[0] = malloc(n[0] * sizeof(float));
    bufs[1] = malloc(n[2] * sizeof(float));
    bufs[2] = malloc(n[3] * sizeof(float));
    *win = malloc((n[1] ? n[1] : 1) * sizeof(uint32_t));
    if (!bufs[0] || !bufs[1] || !bufs[2] || !*win)
        return 1;
    for (size_t i = 0; i < n[0]; i++)
        bufs[0][i] = (float)(2 * ww_rng_uniform(rng) - 1);
    for (size_t i = 0; i < n[2]; i++)
        bufs[1][i] = (float)ww_rng_below(rng, 4);
    for (size_t i = 0; i < n[3]; i++)
        bufs[2][i] = 1.0f / (float)n[3];
    char err[256];
    size_t per = 2 * (size_t)sh->windows;
    for (size_t at = 0; per && at < n[1]; at += per)
        if (ww_windows_sample(rng, sh->height / 16, sh->width / 16, sh->windows, sh->window_size,
                              *win + at, err, sizeof err) != WW_OK)
            return 1;
    return 0;
}

static int bench_one(const ww_train_options *o, const char *device, ww_train_mode mode, int steps,
                     bench_row *row)
{
    char err[1024];
    ww_backend *be = NULL;
    ww_backend_options bo = {.device = device};
    if (ww_backend_create(&bo, &be, err, sizeof err) != WW_OK) {
        fprintf(stderr, "winwin-train bench: --device %s: %s\n", device, err);
        return 1;
    }
    ww_model_config cfg;
    ww_model *m = NULL;
    ww_train_graph *g = NULL;
    float *bufs[3] = {0};
    uint32_t *win = NULL;
    int status = 1;
    ww_train_shape sh = {.batch = o->batch, .width = o->width, .height = o->height};
    if (mode == WW_MODE_CROP) {
        sh.width = o->crop_width;
        sh.height = o->crop_height;
    } else if (mode == WW_MODE_WINDOWS) {
        sh.windows = o->windows;
        sh.window_size = o->window_size;
    }
    ww_optim_config opt = {0.9f, 0.95f, 1e-8f, 0.05f, 1.0f};
    ww_rng rng;
    ww_rng_seed(&rng, 1);
    if (ww_model_preset(o->model, o->task, &cfg) != WW_OK) {
        fprintf(stderr, "winwin-train bench: --model %s is not a preset\n", o->model);
    } else if (ww_model_create(be, &cfg, 1, &m) != WW_OK ||
               ww_train_graph_create(m, &sh, &opt, &g) != WW_OK) {
        fprintf(stderr, "winwin-train bench: %s %s: %s\n", device, ww_train_mode_name(mode),
                ww_backend_error(be));
    } else if (fill_batch(g, &sh, &rng, bufs, &win)) {
        fprintf(stderr, "winwin-train bench: cannot make the inputs\n");
    } else {
        ww_train_batch b = {bufs[0], win, bufs[1], bufs[2]};
        double total = 0, best = 1e30;
        status = 0;
        for (int i = 0; i <= steps && !status; i++) {
            ww_step_scalars sc = {1e-4f, i + 1, 1.0f};
            float loss;
            double t = now();
            if (ww_train_graph_step(g, &b, 1, &sc, &loss) != WW_OK) {
                fprintf(stderr, "winwin-train bench: %s\n", ww_backend_error(be));
                status = 1;
            }
            t = now() - t;
            if (i > 0) { /* the first step is a warm-up (pipeline creation, first touch) */
                total += t;
                best = t < best ? t : best;
            }
        }
        if (getenv("WW_PROFILE"))
            ww_train_graph_print_profile(g, stderr);
        *row = (bench_row){.device_name = NULL, .mode = mode, .width = sh.width,
                           .height = sh.height,
                           .tokens = sh.windows ? sh.windows * sh.window_size * sh.window_size
                                                : (sh.width / 16) * (sh.height / 16),
                           .ms = 1e3 * total / steps, .ms_min = 1e3 * best,
                           .peak_mib = (double)ww_backend_memory_peak(be) / (1 << 20),
                           .graph_mib = (double)ww_train_graph_memory(g) / (1 << 20)};
        row->device_name = strdup(ww_backend_device_name(be));
    }
    for (int i = 0; i < 3; i++)
        free(bufs[i]);
    free(win);
    ww_train_graph_destroy(g);
    ww_model_destroy(m);
    ww_backend_destroy(be);
    return status;
}

int ww_train_bench(const ww_train_options *o, const char *const *devices, int ndevices,
                   int steps, const char *csv_path)
{
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv_path && !csv) {
        fprintf(stderr, "winwin-train bench: cannot write %s\n", csv_path);
        return 1;
    }
    if (csv)
        fprintf(csv, "device,task,model,mode,input,train_res,tokens,batch,ms_per_step,"
                     "ms_min,peak_mib,graph_mib,speedup_vs_full,memory_vs_full\n");
    printf("Training step (forward, loss, backward, AdamW), %s model '%s', batch %d, images "
           "%dx%d, mean of %d steps after 1 warm-up\n\n",
           ww_task_name(o->task), o->model, o->batch, o->width, o->height, steps);
    printf("| device | mode | trained on | tokens | ms/step | min ms | peak MiB | speedup vs full "
           "| memory vs full |\n|---|---|---|---|---|---|---|---|---|\n");
    int status = 0;
    for (int d = 0; d < ndevices; d++) {
        bench_row full = {0};
        static const ww_train_mode modes[3] = {WW_MODE_FULL, WW_MODE_CROP, WW_MODE_WINDOWS};
        for (int k = 0; k < 3; k++) {
            bench_row row;
            if (bench_one(o, devices[d], modes[k], steps, &row)) {
                status = 1;
                continue;
            }
            if (modes[k] == WW_MODE_FULL)
                full = row;
            char what[64];
            if (modes[k] == WW_MODE_WINDOWS)
                snprintf(what, sizeof what, "%d windows of %dx%d tokens", o->windows,
                         o->window_size, o->window_size);
            else
                snprintf(what, sizeof what, "%dx%d", row.width, row.height);
            double sp = full.ms > 0 ? full.ms / row.ms : NAN;
            double mem = full.peak_mib > 0 ? row.peak_mib / full.peak_mib : NAN;
            printf("| %s | %s | %s | %d | %.1f | %.1f | %.1f | %.2fx | %.2f |\n", row.device_name,
                   ww_train_mode_name(row.mode), what, row.tokens, row.ms, row.ms_min,
                   row.peak_mib, sp, mem);
            if (csv)
                fprintf(csv, "\"%s\",%s,%s,%s,%dx%d,%dx%d,%d,%d,%.3f,%.3f,%.2f,%.2f,%.3f,%.3f\n",
                        row.device_name, ww_task_name(o->task), o->model,
                        ww_train_mode_name(row.mode), o->width, o->height, row.width, row.height,
                        row.tokens, o->batch, row.ms, row.ms_min, row.peak_mib, row.graph_mib, sp,
                        mem);
            fflush(stdout);
            free((char *)row.device_name);
        }
    }
    if (csv)
        fclose(csv);
    return status;
}
