/* winwin-train bench-loader: samples per second of the data loader (read or generate, augment,
 * assemble micro-batches: loader.c) for one task, dataset and size with 1, 2, 4 ... N worker
 * threads, and, given a trainer's step time, whether it keeps that trainer fed. A benchmark: it
 * prints figures and asserts nothing.
 *
 * The trainer's side is simulated by sleeping for the step time between batches, which is what
 * the host does while a GPU computes; a CPU-backend trainer also takes the cores the loader
 * would use, so there the measured wait is a lower bound. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "train_run.h"
#include "ww_internal.h"

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1e3), (long)(1e6 * (ms - 1e3 * (double)(time_t)(ms / 1e3)))};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Batches 0 .. batches - 1 as fast as they come (samples/s, startup included), then with
 * step_ms > 0 a fresh loader's batches at the trainer's pace: the mean wait of every get after
 * the first (which has nothing prepared yet). */
static int measure(const ww_train_options *o, const ww_model_config *c, int batches,
                   double step_ms, double *rate, double *wait_ms)
{
    char err[1024];
    int status = 0;
    for (int pass = 0; pass < (step_ms > 0 ? 2 : 1) && !status; pass++) {
        ww_dataset *data;
        ww_loader *l;
        if (ww_train_loader(o, c, &data, &l, err, sizeof err) != WW_OK) {
            fprintf(stderr, "winwin-train bench-loader: %s\n", err);
            return 1;
        }
        double t0 = ww_now_ms(), waited = 0;
        for (int p = 0; p < batches && !status; p++) {
            const ww_loader_batch *b;
            double t = ww_now_ms();
            if (ww_loader_get(l, p, &b, err, sizeof err) != WW_OK) {
                fprintf(stderr, "winwin-train bench-loader: %s\n", err);
                status = 1;
            }
            if (pass == 1 && p > 0)
                waited += ww_now_ms() - t;
            if (pass == 1)
                sleep_ms(step_ms);
        }
        if (pass == 0)
            *rate = 1e3 * batches * o->batch / (ww_now_ms() - t0);
        else
            *wait_ms = batches > 1 ? waited / (batches - 1) : 0;
        ww_loader_destroy(l);
        ww_dataset_close(data);
    }
    return status;
}

int ww_loader_bench(const ww_train_options *o, int batches, double step_ms)
{
    ww_model_config c;
    /* Only the normalisation and classes matter here: a weights file's are a preset's. */
    if (ww_model_preset(o->model, o->task, &c) != WW_OK)
        ww_model_preset("tiny", o->task, &c);
    if (o->task == WW_TASK_SEG)
        c.out_channels = o->classes;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int most = o->threads ? o->threads : online > 0 ? (int)online : 1;
    ww_batch_spec spec = ww_train_spec(o, &c);
    char augment[256];
    ww_augment_describe(&o->augment, augment, sizeof augment);
    printf("Data loader (read or generate, augment, assemble) for %s, data %s at %dx%d, "
           "micro-batches of %d at %dx%d (%s), augmentation: %s; %d batches per row\n\n",
           ww_task_name(o->task), o->data, o->width, o->height, o->batch, spec.width,
           spec.height, ww_train_mode_name(o->mode), augment, batches);
    double need = step_ms > 0 ? 1e3 * o->batch / step_ms : 0;
    if (step_ms > 0)
        printf("A trainer stepping in %.1f ms needs %.1f samples/s.\n\n", step_ms, need);
    printf("| size | threads | samples/s | ms/batch | keeps up | wait ms/step |\n"
           "|---|---|---|---|---|---|\n");
    for (int n = 1;; n = 2 * n < most ? 2 * n : most) {
        ww_train_options t = *o;
        t.threads = n;
        double rate = 0, wait_ms = 0;
        if (measure(&t, &c, batches, step_ms, &rate, &wait_ms))
            return 1;
        if (step_ms > 0)
            printf("| %dx%d | %d | %.1f | %.1f | %s | %.1f |\n", o->width, o->height, n, rate,
                   1e3 * o->batch / rate, rate >= need ? "yes" : "no", wait_ms);
        else
            printf("| %dx%d | %d | %.1f | %.1f | - | - |\n", o->width, o->height, n, rate,
                   1e3 * o->batch / rate);
        fflush(stdout);
        if (n == most)
            return 0;
    }
}
