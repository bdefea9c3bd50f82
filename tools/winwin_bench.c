/* winwin-bench: benchmarks (not tests: they assert nothing). `ops`: op throughput against each
 * device's measured peak; `model`: per-frame latency and memory of the task models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_percentile(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    int i = (int)(q * (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "ops"))
        return bench_ops_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "model"))
        return bench_model_main(argc - 1, argv + 1);
    fprintf(stderr, "usage: winwin-bench ops|model [--help | options]\n");
    return 2;
}
