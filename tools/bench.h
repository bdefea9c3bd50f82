/* winwin-bench: shared pieces of its subcommands. */
#ifndef WW_BENCH_H
#define WW_BENCH_H

/* Monotonic seconds. */
double bench_now(void);
/* The q-quantile (0.5 = median, 0.95 = p95) of n values; sorts v in place. */
double bench_percentile(double *v, int n, double q);

/* Subcommands: argv[0] is the subcommand's name. */
int bench_ops_main(int argc, char **argv);
int bench_model_main(int argc, char **argv);

#endif
