/* The small text files of datasets (lists, classes, calibrations) and path strings (see
 * dataset_internal.h). */
#include "dataset_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "image_io.h"

ww_status ww_text_verror(char *err, size_t errlen, ww_status st, const char *path, int line,
                         const char *fmt, va_list ap)
{
    if (err && errlen) {
        int n = line > 0 ? snprintf(err, errlen, "%s:%d: ", path, line)
                         : snprintf(err, errlen, "%s: ", path);
        if (n >= 0 && (size_t)n < errlen)
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    }
    return st;
}

ww_status ww_text_error(char *err, size_t errlen, ww_status st, const char *path, int line,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ww_text_verror(err, errlen, st, path, line, fmt, ap);
    va_end(ap);
    return st;
}

ww_status ww_text_read(const char *path, char **text, char *err, size_t errlen)
{
    *text = NULL;
    FILE *f;
    uint64_t size;
    ww_status st = ww_io_open_read(path, &f, &size, err, errlen);
    if (st != WW_OK)
        return st;
    char *t = size < SIZE_MAX ? malloc((size_t)size + 1) : NULL;
    if (!t) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
    }
    size_t got = fread(t, 1, (size_t)size, f);
    int read_err = ferror(f);
    fclose(f);
    if (read_err || got != size) {
        free(t);
        return ww_io_error(err, errlen, WW_ERR_IO, path, "cannot read the file");
    }
    t[size] = '\0';
    if (memchr(t, '\0', (size_t)size)) {
        free(t);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path, "not a text file (NUL byte)");
    }
    *text = t;
    return WW_OK;
}

char *ww_text_line(char **cursor)
{
    char *line = *cursor;
    if (!line)
        return NULL;
    char *next = strchr(line, '\n');
    if (next)
        *next++ = '\0';
    else if (!*line)
        line = NULL; /* the text ended with '\n' (or was empty): no further line */
    *cursor = next;
    return line;
}

int ww_text_split(char *line, char **tok, int max)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    int n = 0;
    for (char *p = line;;) {
        p += strspn(p, " \t\r\v\f");
        if (!*p)
            return n;
        char *end = p + strcspn(p, " \t\r\v\f");
        if (n < max)
            tok[n] = p;
        n++;
        if (!*end)
            return n;
        *end = '\0';
        p = end + 1;
    }
}

char *ww_path_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p) {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

int ww_path_has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}
