#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int ww_cli_bad(const char *program, const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "%s: %s %s: %s\n", program, opt, val ? val : "", why);
    return 2;
}

int ww_cli_integer(const char *program, const char *opt, const char *s, long long lo,
                   long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || end == s || *end || errno || v < lo || v > hi)
        return ww_cli_bad(program, opt, s,
                          lo > 0 ? "expected a positive integer" : "expected an integer >= 0");
    *out = v;
    return 0;
}
