/* Error messages of the trainer's host-side utilities (rng, windows, schedule, metrics, plot).
 *
 * Every fallible function of those modules returns a ww_status and, when err is not NULL and
 * errlen > 0, writes a NUL-terminated message of at most errlen bytes that names the value or
 * file and the problem. Nothing aborts or prints.
 */
#ifndef WW_TRAIN_ERROR_H
#define WW_TRAIN_ERROR_H

#include <stddef.h>

#include "ww.h"

/* printf-style message into err (when err is not NULL and errlen > 0); returns status so that a
 * caller can write `return ww_train_error(err, errlen, WW_ERR_INVALID, "...", ...);`. */
ww_status ww_train_error(char *err, size_t errlen, ww_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
