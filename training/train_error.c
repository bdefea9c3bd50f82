#include "train_error.h"

#include <stdarg.h>
#include <stdio.h>

ww_status ww_train_error(char *err, size_t errlen, ww_status status, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}
