/* What winwin-train's commands (winwin_train.c, train_eval.c) share in reading their command
 * lines: one wording and one exit status for every bad option, and one reading of integers. */
#ifndef WW_TRAIN_CLI_H
#define WW_TRAIN_CLI_H

/* Print "PROGRAM: OPT VAL: why" (nothing for a NULL val) to stderr and return 2, the exit status
 * of a usage error. */
int ww_cli_bad(const char *program, const char *opt, const char *val, const char *why);

/* The value s of option opt (NULL: the value is missing) as a decimal integer in lo..hi into
 * *out: 0, or else ww_cli_bad's 2 ("expected a positive integer" when lo > 0, "expected an
 * integer >= 0" otherwise) with *out untouched. */
int ww_cli_integer(const char *program, const char *opt, const char *s, long long lo,
                   long long hi, long long *out);

#endif
