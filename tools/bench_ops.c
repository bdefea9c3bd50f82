/* winwin-bench ops: throughput of the engine's ops on every backend, against each device's
 * measured peak (an FMA-chain probe). A benchmark, not a test: it asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ww.h"

typedef struct bench_opts {
    const char *devices[8];
    int ndevices;
    int quick;     /* smaller shapes, for a smoke run */
    double budget; /* seconds of repeated runs per row after the warm-up */
    FILE *csv;
} bench_opts;

/* Median seconds of one run of s: one warm-up (pipeline creation, first touch), then repeats
 * until the budget is spent (at least 1, at most 15). */
static int time_seq(ww_backend *be, ww_seq *s, double budget, double *median)
{
    double t[15];
    int n = 0;
    if (ww_seq_run(s) != WW_OK || ww_seq_wait(s) != WW_OK)
        goto fail;
    double start = bench_now();
    while (n < 15 && (n == 0 || bench_now() - start < budget)) {
        double t0 = bench_now();
        if (ww_seq_run(s) != WW_OK || ww_seq_wait(s) != WW_OK)
            goto fail;
        t[n++] = bench_now() - t0;
    }
    *median = bench_percentile(t, n, 0.5);
    return 0;
fail:
    fprintf(stderr, "winwin-bench: %s\n", ww_backend_error(be));
    return -1;
}

static void fill_random(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

static int upload_random(ww_backend *be, const ww_tensor *t, unsigned seed)
{
    size_t n = (size_t)ww_tensor_nelements(t);
    float *h = malloc(n * sizeof *h);
    if (!h)
        return -1;
    fill_random(h, n, seed);
    int rc = ww_tensor_write(be, t, h, n * sizeof *h) == WW_OK ? 0 : -1;
    free(h);
    if (rc)
        fprintf(stderr, "winwin-bench: %s\n", ww_backend_error(be));
    return rc;
}

static void row(const bench_opts *o, const char *backend, const char *device, const char *name,
                const char *shape, double sec, double gflop, double peak)
{
    double rate = gflop / sec;
    char pct[16] = "-";
    if (peak > 0)
        snprintf(pct, sizeof pct, "%.0f%%", 100.0 * rate / peak);
    printf("%-8s %-30.30s %-16s %-24s %10.2f %10.1f %6s\n", backend, device, name, shape,
           sec * 1e3, rate, pct);
    if (o->csv)
        fprintf(o->csv, "%s,%s,%s,%s,%.4f,%.2f,%s\n", backend, device, name, shape, sec * 1e3,
                rate, pct);
    fflush(stdout);
}

static int bench_peak(ww_backend *be, ww_arena *a, const bench_opts *o, const char *kind,
                      double *peak)
{
    int64_t n = ww_backend_kind_of(be) == WW_BACKEND_CPU ? 1 << 14 : 1 << 20;
    if (o->quick)
        n /= 16;
    ww_tensor y;
    ww_seq *s = NULL;
    if (ww_arena_alloc(a, WW_F32, 1, &n, &y) != WW_OK || ww_seq_create(be, &s) != WW_OK)
        goto fail;
    /* Grow the chain length until one run takes long enough to time reliably. */
    int iters = 64;
    double sec = 0;
    for (;;) {
        ww_seq_clear(s);
        if (ww_probe_fma(s, &y, iters) != WW_OK || time_seq(be, s, 0.0, &sec))
            goto fail;
        if (sec > 0.1 || iters >= (1 << 24))
            break;
        iters *= sec > 0.01 ? 4 : 16;
    }
    if (time_seq(be, s, o->budget, &sec))
        goto fail;
    double gflop = 16.0 * (double)n * iters * 1e-9;
    *peak = gflop / sec;
    char shape[64];
    snprintf(shape, sizeof shape, "%lld x %d", (long long)n, iters);
    row(o, kind, ww_backend_device_name(be), "peak fma", shape, sec, gflop, *peak);
    ww_seq_destroy(s);
    return 0;
fail:
    fprintf(stderr, "winwin-bench: peak probe: %s\n", ww_backend_error(be));
    ww_seq_destroy(s);
    return -1;
}

static int bench_gemm(ww_backend *be, ww_arena *a, const bench_opts *o, const char *kind,
                      double peak, int64_t M, int64_t K, int64_t N, double *rate)
{
    ww_tensor x, w, bias, y;
    int64_t xs[2] = {K, M}, ws[2] = {K, N}, bs[1] = {N}, ys[2] = {N, M};
    ww_seq *s = NULL;
    double sec;
    if (ww_arena_alloc(a, WW_F32, 2, xs, &x) || ww_arena_alloc(a, WW_F32, 2, ws, &w) ||
        ww_arena_alloc(a, WW_F32, 1, bs, &bias) || ww_arena_alloc(a, WW_F32, 2, ys, &y) ||
        upload_random(be, &x, 1) || upload_random(be, &w, 2) || upload_random(be, &bias, 3) ||
        ww_seq_create(be, &s) || ww_gemm(s, &x, &w, &bias, &y, WW_GEMM_TRANS_B) ||
        time_seq(be, s, o->budget, &sec)) {
        fprintf(stderr, "winwin-bench: gemm: %s\n", ww_backend_error(be));
        ww_seq_destroy(s);
        return -1;
    }
    char shape[64];
    snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)M, (long long)K, (long long)N);
    double gflop = 2.0 * (double)M * (double)N * (double)K * 1e-9;
    row(o, kind, ww_backend_device_name(be), "gemm", shape, sec, gflop, peak);
    *rate = gflop / sec;
    ww_seq_destroy(s);
    return 0;
}

static int bench_attention(ww_backend *be, ww_arena *a, const bench_opts *o, const char *kind,
                           double peak, int64_t N, double gemm_rate)
{
    const int64_t H = 12, Dh = 64;
    ww_tensor qkv, out;
    int64_t qs[2] = {3 * H * Dh, N}, os[3] = {Dh, H, N};
    ww_seq *s = NULL;
    double sec;
    if (ww_arena_alloc(a, WW_F32, 2, qs, &qkv) || ww_arena_alloc(a, WW_F32, 3, os, &out) ||
        upload_random(be, &qkv, 4)) {
        fprintf(stderr, "winwin-bench: attention: %s\n", ww_backend_error(be));
        return -1;
    }
    /* q, k and v as views into one fused [N, 3, H, Dh] buffer, as the encoder produces them. */
    int64_t ne[4] = {Dh, H, N, 1}, nb[4] = {1, Dh, 3 * H * Dh, 3 * H * Dh * N};
    ww_tensor q = ww_tensor_view(&qkv, 0, ne, nb), k = ww_tensor_view(&qkv, H * Dh, ne, nb),
              v = ww_tensor_view(&qkv, 2 * H * Dh, ne, nb);
    if (ww_seq_create(be, &s) || ww_attention(s, &q, &k, &v, 0.125f, &out, NULL) ||
        time_seq(be, s, o->budget, &sec)) {
        fprintf(stderr, "winwin-bench: attention: %s\n", ww_backend_error(be));
        ww_seq_destroy(s);
        return -1;
    }
    char shape[64];
    snprintf(shape, sizeof shape, "%lld tok %lldx%lld", (long long)N, (long long)H, (long long)Dh);
    double gflop = 4.0 * (double)N * (double)N * (double)Dh * (double)H * 1e-9;
    row(o, kind, ww_backend_device_name(be), "attention", shape, sec, gflop, peak);
    if (gemm_rate > 0)
        printf("%-8s %-30.30s %-16s %-24s %10s %9.0f%% of the mean GEMM rate\n", kind, "",
               "attention/gemm", shape, "", 100.0 * gflop / sec / gemm_rate);
    ww_seq_destroy(s);
    return 0;
}

static int bench_device(const char *device, const bench_opts *o)
{
    ww_backend_options opt = {.device = device};
    ww_backend *be;
    char err[1024];
    if (ww_backend_create(&opt, &be, err, sizeof err) != WW_OK) {
        printf("%-8s skipped: %s\n", device, err);
        return 0;
    }
    const char *kind = ww_backend_kind_of(be) == WW_BACKEND_CPU ? "cpu" : "vulkan";
    ww_arena *a;
    if (ww_arena_create(be, 0, &a) != WW_OK) {
        fprintf(stderr, "winwin-bench: %s\n", ww_backend_error(be));
        ww_backend_destroy(be);
        return -1;
    }
    int rc = 0;
    double peak = 0, rate, sum = 0;
    const int64_t M = o->quick ? 1024 : 8160;
    const int64_t shapes[4][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};
    rc |= bench_peak(be, a, o, kind, &peak);
    for (int i = 0; i < 4 && !rc; i++) {
        ww_arena_reset(a);
        rc |= bench_gemm(be, a, o, kind, peak, M, shapes[i][0], shapes[i][1], &rate);
        sum += rate;
    }
    const int64_t tokens[2] = {1024, o->quick ? 2048 : 8160};
    for (int i = 0; i < 2 && !rc; i++) {
        ww_arena_reset(a);
        rc |= bench_attention(be, a, o, kind, peak, tokens[i], sum / 4);
    }
    ww_arena_destroy(a);
    ww_backend_destroy(be);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: winwin-bench ops [--device D]... [--quick] [--budget SECONDS] [--csv FILE]\n"
            "  D: cpu, vulkan, vulkan:N, vulkan:NAME, auto (default: cpu and vulkan)\n");
}

int bench_ops_main(int argc, char **argv)
{
    bench_opts o = {.budget = 2.0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc && o.ndevices < 8) {
            o.devices[o.ndevices++] = argv[++i];
        } else if (!strcmp(argv[i], "--quick")) {
            o.quick = 1;
            o.budget = 0.2;
        } else if (!strcmp(argv[i], "--budget") && i + 1 < argc) {
            o.budget = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            o.csv = fopen(argv[++i], "w");
            if (!o.csv) {
                fprintf(stderr, "winwin-bench: cannot write %s\n", argv[i]);
                return 1;
            }
        } else if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "winwin-bench: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!o.ndevices) {
        o.devices[o.ndevices++] = "cpu";
        o.devices[o.ndevices++] = "vulkan";
    }
    printf("%-8s %-30s %-16s %-24s %10s %10s %6s\n", "backend", "device", "op", "shape",
           "ms", "GFLOP/s", "%peak");
    if (o.csv)
        fprintf(o.csv, "backend,device,op,shape,ms,gflops,pct_peak\n");
    int rc = 0;
    for (int i = 0; i < o.ndevices; i++)
        rc |= bench_device(o.devices[i], &o);
    if (o.csv)
        fclose(o.csv);
    return rc ? 1 : 0;
}
