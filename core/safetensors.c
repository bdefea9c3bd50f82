/* safetensors reader and writer (see safetensors.h).
 *
 * The reader maps the file, checks the 8-byte header length, checks that the header is UTF-8,
 * then parses it with a JSON parser that knows only the shapes the format allows (an object of
 * tensor entries and one string -> string object), so there is no recursion and no general JSON
 * value to skip. Every number from the file goes through overflow-checked arithmetic before it
 * is used as a size or an offset.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strerror_r, O_CLOEXEC, O_DIRECTORY */
#endif

#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[WW_ST_DTYPE_COUNT] = {
    [WW_ST_F32] = {"F32", 4},         [WW_ST_F16] = {"F16", 2},
    [WW_ST_BF16] = {"BF16", 2},       [WW_ST_F64] = {"F64", 8},
    [WW_ST_F8_E5M2] = {"F8_E5M2", 1}, [WW_ST_F8_E4M3] = {"F8_E4M3", 1},
    [WW_ST_BOOL] = {"BOOL", 1},       [WW_ST_U8] = {"U8", 1},
    [WW_ST_I8] = {"I8", 1},           [WW_ST_I16] = {"I16", 2},
    [WW_ST_U16] = {"U16", 2},         [WW_ST_I32] = {"I32", 4},
    [WW_ST_U32] = {"U32", 4},         [WW_ST_I64] = {"I64", 8},
    [WW_ST_U64] = {"U64", 8},         [WW_ST_F8_E8M0] = {"F8_E8M0", 1},
    [WW_ST_C64] = {"C64", 8},
};

const char *ww_st_dtype_name(ww_st_dtype t)
{
    return (unsigned)t < WW_ST_DTYPE_COUNT ? dtypes[t].name : NULL;
}

size_t ww_st_dtype_size(ww_st_dtype t)
{
    return (unsigned)t < WW_ST_DTYPE_COUNT ? dtypes[t].size : 0;
}

int ww_st_dtype_is_float(ww_st_dtype t)
{
    return t == WW_ST_F32 || t == WW_ST_F16 || t == WW_ST_BF16;
}

/* A tensor with the offsets it came with, which only the overlap check needs. */
typedef struct st_entry {
    ww_st_tensor t;
    uint64_t begin, end; /* data_offsets */
} st_entry;

typedef struct st_pair {
    const char *key, *value;
} st_pair;

struct ww_st_file {
    char *name;                 /* for messages */
    const unsigned char *bytes; /* the whole file */
    size_t size;
    void *map;                  /* bytes, when ww_st_open mapped them; NULL for memory */
    st_entry *entries;          /* header order */
    int count, cap;
    st_entry **by_name;         /* sorted by name, for ww_st_find */
    st_pair *meta;              /* "__metadata__", header order */
    int nmeta, meta_cap;
    st_pair **meta_by_key;      /* sorted by key, for ww_st_meta */
    char *pool;                 /* every decoded string of the header */
};

/* ---- Messages -------------------------------------------------------------------------------- */

enum { PRINTABLE_MAX = 120 };

/* s as it goes into a one-line message: control characters as \xNN, cut (at a UTF-8 character
 * boundary) with "..." past PRINTABLE_MAX bytes. Names come from files and may hold anything. */
static const char *printable(const char *s, char buf[PRINTABLE_MAX + 8])
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        /* a cut inside a UTF-8 character is allowed only when s is not UTF-8 */
        int cont = (*p & 0xC0) == 0x80;
        if (o >= PRINTABLE_MAX && (!cont || o >= PRINTABLE_MAX + 3)) {
            memcpy(buf + o, "...", 4);
            return buf;
        }
        if (*p < 0x20 || *p == 0x7F)
            o += (size_t)snprintf(buf + o, 5, "\\x%02x", *p);
        else
            buf[o++] = (char)*p;
    }
    buf[o] = '\0';
    return buf;
}

/* "FILE: tensor 'NAME': MESSAGE" (without the tensor part when tensor is NULL) into err. */
static ww_status st_error(char *err, size_t errlen, ww_status status, const char *file,
                          const char *tensor, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static ww_status st_error(char *err, size_t errlen, ww_status status, const char *file,
                          const char *tensor, const char *fmt, ...)
{
    if (!err || !errlen)
        return status;
    char fbuf[PRINTABLE_MAX + 8], tbuf[PRINTABLE_MAX + 8], msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    file = printable(file ? file : "(null)", fbuf);
    if (tensor)
        snprintf(err, errlen, "%s: tensor '%s': %s", file, printable(tensor, tbuf), msg);
    else
        snprintf(err, errlen, "%s: %s", file, msg);
    return status;
}

static const char *errno_text(int e, char *buf, size_t len)
{
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "error %d", e);
    return buf;
}

enum { SHAPE_TEXT = 8 * 22 + 8 };

/* "[768, 3]" from unsigned dims (as read from a file) or, when u is NULL, signed ones (as a
 * caller gives them). */
static const char *shape_text(const uint64_t *u, const int64_t *s, int n,
                              char buf[SHAPE_TEXT])
{
    size_t o = 1;
    buf[0] = '[';
    for (int i = 0; i < n; i++) {
        const char *sep = i ? ", " : "";
        o += (size_t)(u ? snprintf(buf + o, SHAPE_TEXT - o, "%s%" PRIu64, sep, u[i])
                        : snprintf(buf + o, SHAPE_TEXT - o, "%s%" PRId64, sep, s[i]));
    }
    memcpy(buf + o, "]", 2);
    return buf;
}

/* ---- Shared checks --------------------------------------------------------------------------- */

/* Offset of the first byte of s[0..n) that is not part of well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing past U+10FFFF), or n when all of it is. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* past U+10FFFF */
        } else {
            return i;
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += len;
    }
    return n;
}

/* Elements and bytes of a shape, or 0 when a dim, the element count or the byte count does not
 * fit in int64 / size_t (a dim too large for int64 is refused even next to a 0). */
static int shape_size(const uint64_t *dims, int ndim, size_t elem, int64_t *nelements,
                      size_t *nbytes)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] > (uint64_t)INT64_MAX)
            return 0;
        if (dims[i] == 0)
            n = 0;
    }
    for (int i = 0; i < ndim && n; i++) {
        if (dims[i] > (uint64_t)INT64_MAX / n)
            return 0;
        n *= dims[i];
    }
    if (n > SIZE_MAX / elem)
        return 0;
    *nelements = (int64_t)n;
    *nbytes = (size_t)n * elem;
    return 1;
}

/* ---- Header parser --------------------------------------------------------------------------- */

typedef struct parser {
    const unsigned char *start, *p, *end; /* the header */
    char *pool;                           /* decoded strings go here, see parse_string */
    size_t pool_used;
    const char *file;
    const char *tensor; /* the entry being parsed, for messages */
    char *err;
    size_t errlen;
} parser;

static ww_status perr(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A syntax error at the current position. */
static ww_status perr(parser *ps, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return st_error(ps->err, ps->errlen, WW_ERR_INVALID, ps->file, ps->tensor,
                    "header byte %zu: %s", (size_t)(ps->p - ps->start), msg);
}

/* What is at the current position, for "expected X, found Y". */
static const char *found(const parser *ps, char buf[16])
{
    if (ps->p == ps->end)
        return "the end of the header";
    unsigned c = *ps->p;
    if (c >= 0x20 && c < 0x7F)
        snprintf(buf, 16, "'%c'", (char)c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int at(const parser *ps, char c)
{
    return ps->p < ps->end && *ps->p == (unsigned char)c;
}

/* Consume c (after whitespace), or fail naming what was expected. */
static ww_status expect(parser *ps, char c, const char *what)
{
    skip_ws(ps);
    char buf[16];
    if (!at(ps, c))
        return perr(ps, "expected %s, found %s", what, found(ps, buf));
    ps->p++;
    return WW_OK;
}

/* After an object member or array element: 1 when ',' follows (consumed), 0 when close does
 * (consumed), else an error. */
static ww_status next_or_close(parser *ps, char close, int *more)
{
    skip_ws(ps);
    char buf[16];
    if (at(ps, ',')) {
        *more = 1;
    } else if (at(ps, close)) {
        *more = 0;
    } else {
        return perr(ps, "expected ',' or '%c', found %s", close, found(ps, buf));
    }
    ps->p++;
    return WW_OK;
}

static ww_status parse_hex4(parser *ps, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = ps->p < ps->end ? *ps->p : 0;
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return perr(ps, "\\u escape needs 4 hex digits");
        v = v * 16 + d;
        ps->p++;
    }
    *out = v;
    return WW_OK;
}

/* A JSON string, decoded (NUL-terminated) into the pool. The pool has as many bytes as the
 * header and never runs out: a string of k header bytes including its quotes decodes to at most
 * k - 2 bytes plus the NUL (every escape is at least as long as what it stands for), and strings
 * do not share header bytes. The header was checked to be UTF-8 and escapes are decoded to
 * UTF-8 with surrogates paired, so the result is UTF-8 too. */
static ww_status parse_string(parser *ps, const char **out, const char *what)
{
    char buf[16];
    skip_ws(ps);
    if (!at(ps, '"'))
        return perr(ps, "expected %s (a string), found %s", what, found(ps, buf));
    ps->p++;
    char *s = ps->pool + ps->pool_used, *d = s;
    for (;;) {
        if (ps->p == ps->end)
            return perr(ps, "string not terminated");
        unsigned c = *ps->p;
        if (c == '"')
            break;
        if (c < 0x20)
            return perr(ps, "control character 0x%02x in a string (JSON needs it escaped)", c);
        ps->p++;
        if (c != '\\') {
            *d++ = (char)c;
            continue;
        }
        if (ps->p == ps->end)
            return perr(ps, "string not terminated");
        c = *ps->p++;
        switch (c) {
        case '"': case '\\': case '/': *d++ = (char)c; break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            ww_status st = parse_hex4(ps, &cp);
            if (st)
                return st;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return perr(ps, "\\u%04X is a lone low surrogate", (unsigned)cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
                    return perr(ps, "\\u%04X (a high surrogate) is not followed by a low one",
                                (unsigned)cp);
                ps->p += 2;
                if ((st = parse_hex4(ps, &lo)))
                    return st;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return perr(ps, "\\u%04X (a high surrogate) is followed by \\u%04X, not a "
                                "low surrogate", (unsigned)cp, (unsigned)lo);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0)
                return perr(ps, "\\u0000 in a string (names and metadata cannot hold NUL)");
            if (cp < 0x80) {
                *d++ = (char)cp;
            } else if (cp < 0x800) {
                *d++ = (char)(0xC0 | (cp >> 6));
                *d++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *d++ = (char)(0xE0 | (cp >> 12));
                *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *d++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *d++ = (char)(0xF0 | (cp >> 18));
                *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *d++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            ps->p--;
            return perr(ps, "invalid escape '\\%c'", c >= 0x20 && c < 0x7F ? (char)c : '?');
        }
    }
    ps->p++; /* the closing quote */
    *d++ = '\0';
    ps->pool_used += (size_t)(d - s);
    *out = s;
    return WW_OK;
}

/* A non-negative JSON integer that fits in 64 bits; what names the field in messages. */
static ww_status parse_uint(parser *ps, uint64_t *out, const char *what)
{
    char buf[16];
    skip_ws(ps);
    if (at(ps, '-'))
        return perr(ps, "%s holds a negative number", what);
    if (ps->p == ps->end || *ps->p < '0' || *ps->p > '9')
        return perr(ps, "expected a number in %s, found %s", what, found(ps, buf));
    if (*ps->p == '0' && ps->end - ps->p > 1 && ps->p[1] >= '0' && ps->p[1] <= '9')
        return perr(ps, "number with a leading zero in %s", what);
    uint64_t v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        unsigned d = *ps->p - '0';
        if (v > (UINT64_MAX - d) / 10)
            return perr(ps, "number in %s is larger than 2^64 - 1", what);
        v = v * 10 + d;
        ps->p++;
    }
    if (at(ps, '.') || at(ps, 'e') || at(ps, 'E'))
        return perr(ps, "%s holds a number that is not an integer", what);
    *out = v;
    return WW_OK;
}

/* [n0, n1, ...] with at most max entries. */
static ww_status parse_uint_array(parser *ps, uint64_t *vals, int max, int *n, const char *what)
{
    char buf[16];
    ww_status st;
    skip_ws(ps);
    if (!at(ps, '['))
        return perr(ps, "expected %s (an array of integers), found %s", what, found(ps, buf));
    ps->p++;
    *n = 0;
    skip_ws(ps);
    if (at(ps, ']')) {
        ps->p++;
        return WW_OK;
    }
    for (int more = 1; more;) {
        if (*n == max)
            return perr(ps, "%s has more than %d entries", what, max);
        if ((st = parse_uint(ps, &vals[(*n)++], what)) || (st = next_or_close(ps, ']', &more)))
            return st;
    }
    return WW_OK;
}

static ww_status file_oom(parser *ps)
{
    return st_error(ps->err, ps->errlen, WW_ERR_OUT_OF_MEMORY, ps->file, NULL,
                    "out of memory for the header");
}

/* Grow an array of elem-sized items so that one more fits. */
static int grow(void **items, int *cap, int count, size_t elem)
{
    if (count < *cap)
        return 1;
    if (*cap > INT32_MAX / 2)
        return 0;
    int ncap = *cap ? 2 * *cap : 16;
    void *p = realloc(*items, (size_t)ncap * elem);
    if (!p)
        return 0;
    *items = p;
    *cap = ncap;
    return 1;
}

/* "__metadata__": {"key": "value", ...} */
static ww_status parse_metadata(parser *ps, ww_st_file *f)
{
    ww_status st = expect(ps, '{', "'{' (__metadata__ is an object of strings)");
    if (st)
        return st;
    skip_ws(ps);
    if (at(ps, '}')) {
        ps->p++;
        return WW_OK;
    }
    for (int more = 1; more;) {
        const char *key, *value;
        if ((st = parse_string(ps, &key, "a __metadata__ key")) ||
            (st = expect(ps, ':', "':' after a key")) ||
            (st = parse_string(ps, &value, "a __metadata__ value")))
            return st;
        void *items = f->meta;
        if (!grow(&items, &f->meta_cap, f->nmeta, sizeof *f->meta))
            return file_oom(ps);
        f->meta = items;
        f->meta[f->nmeta++] = (st_pair){key, value};
        if ((st = next_or_close(ps, '}', &more)))
            return st;
    }
    return WW_OK;
}

/* One tensor entry {"dtype": ..., "shape": [...], "data_offsets": [b, e]}, checked against the
 * data section of data_size bytes at data. */
static ww_status parse_tensor(parser *ps, ww_st_file *f, const char *name,
                              const unsigned char *data, uint64_t data_size)
{
    ps->tensor = name;
    const char *dtype_str = NULL;
    uint64_t dims[WW_ST_MAX_DIMS], off[2];
    int ndim = -1, noff = -1;
    ww_status st = expect(ps, '{', "'{' (a tensor entry is an object)");
    if (st)
        return st;
    skip_ws(ps);
    int more = 1;
    if (at(ps, '}')) {
        ps->p++;
        more = 0;
    }
    while (more) {
        const char *key;
        if ((st = parse_string(ps, &key, "a key")) || (st = expect(ps, ':', "':' after a key")))
            return st;
        if (!strcmp(key, "dtype")) {
            if (dtype_str)
                return perr(ps, "dtype appears twice");
            st = parse_string(ps, &dtype_str, "dtype");
        } else if (!strcmp(key, "shape")) {
            if (ndim >= 0)
                return perr(ps, "shape appears twice");
            st = parse_uint_array(ps, dims, WW_ST_MAX_DIMS, &ndim, "shape");
        } else if (!strcmp(key, "data_offsets")) {
            if (noff >= 0)
                return perr(ps, "data_offsets appears twice");
            st = parse_uint_array(ps, off, 2, &noff, "data_offsets");
        } else {
            char kbuf[PRINTABLE_MAX + 8];
            return perr(ps, "unknown key '%s' in a tensor entry (only dtype, shape, "
                        "data_offsets)", printable(key, kbuf));
        }
        if (st || (st = next_or_close(ps, '}', &more)))
            return st;
    }

    const char *file = ps->file;
    if (!dtype_str || ndim < 0 || noff < 0)
        return st_error(ps->err, ps->errlen, WW_ERR_INVALID, file, name, "entry has no %s",
                        !dtype_str ? "dtype" : ndim < 0 ? "shape" : "data_offsets");
    if (noff != 2)
        return st_error(ps->err, ps->errlen, WW_ERR_INVALID, file, name,
                        "data_offsets has %d entries, not 2 [begin, end]", noff);
    int dtype = 0;
    while (dtype < WW_ST_DTYPE_COUNT && strcmp(dtypes[dtype].name, dtype_str))
        dtype++;
    if (dtype == WW_ST_DTYPE_COUNT) {
        char dbuf[PRINTABLE_MAX + 8];
        return st_error(ps->err, ps->errlen, WW_ERR_INVALID, file, name,
                        "unknown or unsupported dtype '%s'", printable(dtype_str, dbuf));
    }
    char sbuf[SHAPE_TEXT];
    int64_t nelements;
    size_t nbytes;
    if (!shape_size(dims, ndim, dtypes[dtype].size, &nelements, &nbytes))
        return st_error(ps->err, ps->errlen, WW_ERR_INVALID, file, name,
                        "shape %s of %s is too large (the byte count overflows)",
                        shape_text(dims, NULL, ndim, sbuf), dtypes[dtype].name);
    if (off[0] > off[1])
        return st_error(ps->err, ps->errlen, WW_ERR_INVALID, file, name,
                        "data_offsets [%" PRIu64 ", %" PRIu64 "] begin after they end", off[0],
                        off[1]);
    if (off[1] > data_size)
        return st_error(ps->err, ps->errlen, WW_ERR_INVALID, file, name,
                        "data_offsets [%" PRIu64 ", %" PRIu64 "] go past the end of the data "
                        "section (%" PRIu64 " bytes; is the file truncated?)",
                        off[0], off[1], data_size);
    if (off[1] - off[0] != nbytes)
        return st_error(ps->err, ps->errlen, WW_ERR_INVALID, file, name,
                        "data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64 " bytes, shape "
                        "%s of %s needs %zu", off[0], off[1], off[1] - off[0],
                        shape_text(dims, NULL, ndim, sbuf), dtypes[dtype].name, nbytes);

    void *items = f->entries;
    if (!grow(&items, &f->cap, f->count, sizeof *f->entries))
        return file_oom(ps);
    f->entries = items;
    st_entry *e = &f->entries[f->count++];
    memset(e, 0, sizeof *e);
    e->t.name = name;
    e->t.dtype = (ww_st_dtype)dtype;
    e->t.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        e->t.shape[i] = (int64_t)dims[i]; /* shape_size checked each against INT64_MAX */
    e->t.nelements = nelements;
    e->t.nbytes = nbytes;
    e->t.data = data + off[0];
    e->begin = off[0];
    e->end = off[1];
    ps->tensor = NULL;
    return WW_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(st_entry *const *)a)->t.name, (*(st_entry *const *)b)->t.name);
}

static int cmp_offsets(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_meta_key(const void *a, const void *b)
{
    return strcmp((*(st_pair *const *)a)->key, (*(st_pair *const *)b)->key);
}

/* Unique names, unique metadata keys, no two tensors sharing a byte; builds the lookup
 * indexes. */
static ww_status check_entries(ww_st_file *f, char *err, size_t errlen)
{
    size_t n = (size_t)f->count;
    f->by_name = malloc((n ? n : 1) * sizeof *f->by_name);
    st_entry **by_off = malloc((n ? n : 1) * sizeof *by_off);
    f->meta_by_key = malloc((f->nmeta ? (size_t)f->nmeta : 1) * sizeof *f->meta_by_key);
    ww_status st = WW_OK;
    if (!f->by_name || !by_off || !f->meta_by_key) {
        st = st_error(err, errlen, WW_ERR_OUT_OF_MEMORY, f->name, NULL,
                      "out of memory for the tensor index");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        f->by_name[i] = by_off[i] = &f->entries[i];
    qsort(f->by_name, n, sizeof *f->by_name, cmp_name);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(f->by_name[i - 1]->t.name, f->by_name[i]->t.name)) {
            st = st_error(err, errlen, WW_ERR_INVALID, f->name, f->by_name[i]->t.name,
                          "the name appears twice in the header");
            goto done;
        }

    /* Sorted by (begin, end), a tensor overlaps an earlier one exactly when it begins before
     * the largest end so far; empty tensors overlap nothing. */
    qsort(by_off, n, sizeof *by_off, cmp_offsets);
    const st_entry *reach = NULL; /* the tensor with the largest end so far */
    for (size_t i = 0; i < n; i++) {
        const st_entry *e = by_off[i];
        if (e->begin == e->end)
            continue;
        if (reach && e->begin < reach->end) {
            char other[PRINTABLE_MAX + 8];
            st = st_error(err, errlen, WW_ERR_INVALID, f->name, e->t.name,
                          "data_offsets [%" PRIu64 ", %" PRIu64 "] overlap those of tensor "
                          "'%s' [%" PRIu64 ", %" PRIu64 "]", e->begin, e->end,
                          printable(reach->t.name, other), reach->begin, reach->end);
            goto done;
        }
        if (!reach || e->end > reach->end)
            reach = e;
    }

    for (int i = 0; i < f->nmeta; i++)
        f->meta_by_key[i] = &f->meta[i];
    qsort(f->meta_by_key, (size_t)f->nmeta, sizeof *f->meta_by_key, cmp_meta_key);
    for (int i = 1; i < f->nmeta; i++)
        if (!strcmp(f->meta_by_key[i - 1]->key, f->meta_by_key[i]->key)) {
            char kbuf[PRINTABLE_MAX + 8];
            st = st_error(err, errlen, WW_ERR_INVALID, f->name, NULL,
                          "__metadata__ key '%s' appears twice",
                          printable(f->meta_by_key[i]->key, kbuf));
            goto done;
        }
done:
    free(by_off);
    return st;
}

/* Parse and check f->bytes[0..f->size). */
static ww_status parse_file(ww_st_file *f, char *err, size_t errlen)
{
    const unsigned char *b = f->bytes;
    if (f->size < 8)
        return st_error(err, errlen, WW_ERR_INVALID, f->name, NULL,
                        f->size ? "file is %zu bytes, too short for the 8-byte header length"
                                : "file is empty (%zu bytes)", f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | b[i];
    if (hlen > f->size - 8)
        return st_error(err, errlen, WW_ERR_INVALID, f->name, NULL,
                        "header length %" PRIu64 " goes past the end of the file (%zu bytes; "
                        "is it truncated, or not a safetensors file?)", hlen, f->size);
    if (hlen > WW_ST_MAX_HEADER)
        return st_error(err, errlen, WW_ERR_INVALID, f->name, NULL,
                        "header length %" PRIu64 " is over the limit of %" PRIu64 " bytes", hlen,
                        WW_ST_MAX_HEADER);
    if (hlen == 0)
        return st_error(err, errlen, WW_ERR_INVALID, f->name, NULL, "header is empty");
    const unsigned char *h = b + 8;
    size_t bad = utf8_check(h, (size_t)hlen);
    if (bad != hlen)
        return st_error(err, errlen, WW_ERR_INVALID, f->name, NULL,
                        "header byte %zu: not valid UTF-8 (byte 0x%02x)", bad, h[bad]);
    f->pool = malloc((size_t)hlen);
    if (!f->pool)
        return st_error(err, errlen, WW_ERR_OUT_OF_MEMORY, f->name, NULL,
                        "out of memory for a header of %" PRIu64 " bytes", hlen);

    parser ps = {h, h, h + hlen, f->pool, 0, f->name, NULL, err, errlen};
    const unsigned char *data = h + hlen;
    uint64_t data_size = f->size - 8 - hlen;
    char buf[16];
    ww_status st = expect(&ps, '{', "'{' (the header is a JSON object)");
    if (st)
        return st;
    skip_ws(&ps);
    int more = 1, seen_meta = 0;
    if (at(&ps, '}')) {
        ps.p++;
        more = 0;
    }
    while (more) {
        const char *key;
        if ((st = parse_string(&ps, &key, "a tensor name")) ||
            (st = expect(&ps, ':', "':' after a tensor name")))
            return st;
        if (!strcmp(key, "__metadata__")) {
            if (seen_meta++)
                return perr(&ps, "__metadata__ appears twice");
            st = parse_metadata(&ps, f);
        } else {
            st = parse_tensor(&ps, f, key, data, data_size);
        }
        if (st || (st = next_or_close(&ps, '}', &more)))
            return st;
    }
    skip_ws(&ps);
    if (ps.p != ps.end)
        return perr(&ps, "%s after the header object", found(&ps, buf));
    return check_entries(f, err, errlen);
}

/* ---- Opening --------------------------------------------------------------------------------- */

static ww_status file_new(const char *name, ww_st_file **out, char *err, size_t errlen)
{
    ww_st_file *f = calloc(1, sizeof *f);
    char *copy = f ? malloc(strlen(name) + 1) : NULL;
    if (!copy) {
        free(f);
        return st_error(err, errlen, WW_ERR_OUT_OF_MEMORY, name, NULL, "out of memory");
    }
    strcpy(copy, name);
    f->name = copy;
    *out = f;
    return WW_OK;
}

ww_status ww_st_open_memory(const void *data, size_t size, const char *name, ww_st_file **out,
                            char *err, size_t errlen)
{
    if (!out)
        return st_error(err, errlen, WW_ERR_INVALID, name, NULL, "out is NULL");
    *out = NULL;
    if (!name)
        return st_error(err, errlen, WW_ERR_INVALID, "(memory)", NULL, "name is NULL");
    if (!data && size)
        return st_error(err, errlen, WW_ERR_INVALID, name, NULL, "data is NULL");
    ww_st_file *f;
    ww_status st = file_new(name, &f, err, errlen);
    if (st)
        return st;
    f->bytes = data;
    f->size = size;
    if ((st = parse_file(f, err, errlen))) {
        ww_st_close(f);
        return st;
    }
    *out = f;
    return WW_OK;
}

ww_status ww_st_open(const char *path, ww_st_file **out, char *err, size_t errlen)
{
    if (!out)
        return st_error(err, errlen, WW_ERR_INVALID, path, NULL, "out is NULL");
    *out = NULL;
    if (!path)
        return st_error(err, errlen, WW_ERR_INVALID, "(null)", NULL, "path is NULL");
    char ebuf[128];
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (fstat then refuses it) */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return st_error(err, errlen, WW_ERR_IO, path, NULL, "cannot open: %s",
                        errno_text(errno, ebuf, sizeof ebuf));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return st_error(err, errlen, WW_ERR_IO, path, NULL, "cannot stat: %s",
                        errno_text(e, ebuf, sizeof ebuf));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return st_error(err, errlen, WW_ERR_IO, path, NULL, "%s",
                        S_ISDIR(sb.st_mode) ? "is a directory, not a file"
                                            : "is not a regular file");
    }
#if SIZE_MAX < UINT64_MAX
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return st_error(err, errlen, WW_ERR_IO, path, NULL, "is too large to map");
    }
#endif
    ww_st_file *f;
    ww_status st = file_new(path, &f, err, errlen);
    if (st) {
        close(fd);
        return st;
    }
    f->size = (size_t)sb.st_size;
    if (f->size) { /* mmap of 0 bytes fails; parse_file reports the empty file */
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            ww_st_close(f);
            return st_error(err, errlen, e == ENOMEM ? WW_ERR_OUT_OF_MEMORY : WW_ERR_IO, path,
                            NULL, "cannot map %zu bytes: %s", (size_t)sb.st_size,
                            errno_text(e, ebuf, sizeof ebuf));
        }
        f->map = m;
        f->bytes = m;
    }
    close(fd); /* the mapping stays valid without the descriptor */
    if ((st = parse_file(f, err, errlen))) {
        ww_st_close(f);
        return st;
    }
    *out = f;
    return WW_OK;
}

void ww_st_close(ww_st_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->size);
    free(f->entries);
    free(f->by_name);
    free(f->meta);
    free(f->meta_by_key);
    free(f->pool);
    free(f->name);
    free(f);
}

/* ---- Lookup ---------------------------------------------------------------------------------- */

const char *ww_st_name(const ww_st_file *f)
{
    return f ? f->name : NULL;
}

int ww_st_count(const ww_st_file *f)
{
    return f ? f->count : 0;
}

const ww_st_tensor *ww_st_at(const ww_st_file *f, int i)
{
    return f && i >= 0 && i < f->count ? &f->entries[i].t : NULL;
}

const ww_st_tensor *ww_st_find(const ww_st_file *f, const char *name)
{
    int lo = 0, hi = f && name ? f->count : 0;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->by_name[mid]->t.name);
        if (!c)
            return &f->by_name[mid]->t;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *ww_st_meta(const ww_st_file *f, const char *key)
{
    int lo = 0, hi = f && key ? f->nmeta : 0;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(key, f->meta_by_key[mid]->key);
        if (!c)
            return f->meta_by_key[mid]->value;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int ww_st_meta_count(const ww_st_file *f)
{
    return f ? f->nmeta : 0;
}

int ww_st_meta_at(const ww_st_file *f, int i, const char **key, const char **value)
{
    if (!f || i < 0 || i >= f->nmeta || !key || !value)
        return 0;
    *key = f->meta[i].key;
    *value = f->meta[i].value;
    return 1;
}

/* ---- Conversion ------------------------------------------------------------------------------ */

uint16_t ww_st_f32_to_f16(float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint16_t sign = (uint16_t)(bits >> 16 & 0x8000);
    uint32_t exp = bits >> 23 & 0xFF, man = bits & 0x7FFFFF;
    if (exp == 0xFF) /* inf, NaN (kept a NaN by forcing a mantissa bit) */
        return (uint16_t)(sign | 0x7C00 | (man ? 0x200 | man >> 13 : 0));
    int e = (int)exp - 112; /* the half's biased exponent */
    if (e >= 0x1F)
        return (uint16_t)(sign | 0x7C00);
    uint32_t m = man | 0x800000; /* 24 significant bits */
    int shift = e > 0 ? 13 : 14 - e; /* bits dropped: 13 for normals, more for subnormals */
    if (shift > 24)
        return sign;
    uint32_t half = m >> shift, rest = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1)))
        half++; /* may carry into the exponent, which is the right rounding */
    if (e > 0)
        return (uint16_t)(sign | (((uint32_t)e << 10) + half - 0x400));
    return (uint16_t)(sign | half);
}

/* IEEE half to single, exactly: every half value is a single value. */
static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) { /* inf, NaN (payload kept) */
        bits = sign | 0x7F800000u | man << 13;
    } else if (exp) { /* normal: rebias 15 -> 127 */
        bits = sign | (exp + 112) << 23 | man << 13;
    } else if (!man) { /* +-0 */
        bits = sign;
    } else { /* subnormal man * 2^-24 = 1.f * 2^(p - 24) with p the top set bit of man */
        int p = 9;
        while (!(man >> p))
            p--;
        bits = sign | (uint32_t)(p + 103) << 23 | ((man << (23 - p)) & 0x7FFFFF);
    }
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

ww_status ww_st_read_f32(const ww_st_file *f, const ww_st_tensor *t, float *dst, size_t count,
                         char *err, size_t errlen)
{
    const char *file = f ? f->name : "(null)";
    if (!f || !t)
        return st_error(err, errlen, WW_ERR_INVALID, file, NULL, "file or tensor is NULL");
    if (!ww_st_dtype_is_float(t->dtype))
        return st_error(err, errlen, WW_ERR_INVALID, file, t->name,
                        "dtype %s cannot be read as float (only F32, F16, BF16)",
                        ww_st_dtype_name(t->dtype));
    if (count != (uint64_t)t->nelements)
        return st_error(err, errlen, WW_ERR_INVALID, file, t->name,
                        "has %" PRId64 " elements, the destination %zu", t->nelements, count);
    if (!dst && count)
        return st_error(err, errlen, WW_ERR_INVALID, file, t->name, "destination is NULL");
    /* Byte by byte: the data has no alignment and the format is little-endian on any host
     * (compilers turn these loads into plain ones on little-endian machines). */
    const unsigned char *s = t->data;
    uint32_t bits;
    if (t->dtype == WW_ST_F32) {
        for (size_t i = 0; i < count; i++, s += 4) {
            bits = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                   (uint32_t)s[3] << 24;
            memcpy(&dst[i], &bits, sizeof bits);
        }
    } else if (t->dtype == WW_ST_F16) {
        for (size_t i = 0; i < count; i++, s += 2)
            dst[i] = f16_to_f32((uint16_t)(s[0] | s[1] << 8));
    } else { /* BF16 is the top half of an F32 */
        for (size_t i = 0; i < count; i++, s += 2) {
            bits = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 24;
            memcpy(&dst[i], &bits, sizeof bits);
        }
    }
    return WW_OK;
}

/* ---- Loader checks --------------------------------------------------------------------------- */

ww_status ww_st_expect(const ww_st_file *f, const char *name, int ndim, const int64_t *shape,
                       char *err, size_t errlen)
{
    const char *file = f ? f->name : "(null)";
    if (!f || !name || ndim < 0 || ndim > WW_ST_MAX_DIMS || (ndim && !shape))
        return st_error(err, errlen, WW_ERR_INVALID, file, name,
                        "ww_st_expect: bad arguments (ndim %d)", ndim);
    char want[SHAPE_TEXT], got[SHAPE_TEXT];
    shape_text(NULL, shape, ndim, want);
    const ww_st_tensor *t = ww_st_find(f, name);
    if (!t)
        return st_error(err, errlen, WW_ERR_INVALID, file, name,
                        "missing (expected shape %s)", want);
    if (!ww_st_dtype_is_float(t->dtype))
        return st_error(err, errlen, WW_ERR_INVALID, file, name,
                        "has dtype %s, expected F32, F16 or BF16", ww_st_dtype_name(t->dtype));
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same)
        return st_error(err, errlen, WW_ERR_INVALID, file, name, "has shape %s, expected %s",
                        shape_text(NULL, t->shape, t->ndim, got), want);
    return WW_OK;
}

ww_status ww_st_unexpected(const ww_st_file *f, const char *const *known, int nknown, char *err,
                           size_t errlen)
{
    if (!f || nknown < 0 || (nknown && !known))
        return st_error(err, errlen, WW_ERR_INVALID, f ? f->name : "(null)", NULL,
                        "ww_st_unexpected: bad arguments");
    const char *first = NULL;
    int others = 0;
    for (int i = 0; i < f->count; i++) {
        const char *name = f->entries[i].t.name;
        int k = 0;
        while (k < nknown && (!known[k] || strcmp(known[k], name)))
            k++;
        if (k < nknown)
            continue;
        if (first)
            others++;
        else
            first = name;
    }
    if (!first)
        return WW_OK;
    return st_error(err, errlen, WW_ERR_INVALID, f->name, first,
                    "not a tensor this model uses (%d more such tensor%s)", others,
                    others == 1 ? "" : "s");
}

/* ---- Writer ---------------------------------------------------------------------------------- */

/* A growing byte buffer; failed is set on the first allocation failure. */
typedef struct strbuf {
    char *s;
    size_t len, cap;
    int failed;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n && cap <= SIZE_MAX / 2)
            cap *= 2;
        char *p = cap - b->len >= n ? realloc(b->s, cap) : NULL;
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
}

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(strbuf *b, const char *fmt, ...)
{
    char tmp[96]; /* numbers and fixed words only */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n);
}

/* A JSON string the way serde_json (huggingface's writer) spells it: '"' and '\' escaped,
 * control characters as \b \f \n \r \t or \u00xx, everything else (UTF-8 included) as is. */
static void sb_json_string(strbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        }
        if (esc)
            sb_put(b, esc, 2);
        else if (*p < 0x20)
            sb_printf(b, "\\u%04x", *p);
        else
            sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t w = write(fd, p, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0) /* no progress and no error: would loop forever */
                errno = EIO;
            return 0;
        }
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first string that appears twice among s[0], s[stride], ... (n of them), or NULL. */
static const char *find_duplicate(const char *const *s, int n, size_t stride, int *oom)
{
    const char **sorted = malloc((n ? (size_t)n : 1) * sizeof *sorted);
    *oom = !sorted;
    if (!sorted)
        return NULL;
    for (int i = 0; i < n; i++)
        sorted[i] = s[(size_t)i * stride];
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str_ptr);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (!strcmp(sorted[i - 1], sorted[i]))
            dup = sorted[i];
    free(sorted);
    return dup;
}

/* Names and strings must be UTF-8 so that the reader (ours and huggingface's) accepts them. */
static ww_status check_string(const char *s, const char *what, const char *path, char *err,
                              size_t errlen)
{
    if (!s)
        return st_error(err, errlen, WW_ERR_INVALID, path, NULL, "%s is NULL", what);
    size_t n = strlen(s), bad = utf8_check((const unsigned char *)s, n);
    if (bad != n)
        return st_error(err, errlen, WW_ERR_INVALID, path, NULL,
                        "%s is not valid UTF-8 (byte %zu)", what, bad);
    return WW_OK;
}

/* Check the arguments and build the padded header; *sizes gets each tensor's byte count. */
static ww_status build_header(const char *path, const ww_st_entry *tensors, int n,
                              const char *const *meta, int nmeta, strbuf *h, size_t *sizes,
                              char *err, size_t errlen)
{
    ww_status st;
    char what[64];
    for (int i = 0; i < 2 * nmeta; i++) {
        snprintf(what, sizeof what, "metadata %s %d", i % 2 ? "value" : "key", i / 2);
        if ((st = check_string(meta[i], what, path, err, errlen)))
            return st;
    }
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        const ww_st_entry *e = &tensors[i];
        snprintf(what, sizeof what, "name of tensor %d", i);
        if ((st = check_string(e->name, what, path, err, errlen)))
            return st;
        if (!strcmp(e->name, "__metadata__"))
            return st_error(err, errlen, WW_ERR_INVALID, path, e->name,
                            "the name is reserved for the metadata");
        if (!ww_st_dtype_name(e->dtype))
            return st_error(err, errlen, WW_ERR_INVALID, path, e->name,
                            "dtype %d is not a ww_st_dtype", (int)e->dtype);
        if (e->ndim < 0 || e->ndim > WW_ST_MAX_DIMS)
            return st_error(err, errlen, WW_ERR_INVALID, path, e->name,
                            "ndim %d is not in [0, %d]", e->ndim, WW_ST_MAX_DIMS);
        uint64_t dims[WW_ST_MAX_DIMS];
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0)
                return st_error(err, errlen, WW_ERR_INVALID, path, e->name,
                                "shape dim %d is negative (%" PRId64 ")", d, e->shape[d]);
            dims[d] = (uint64_t)e->shape[d];
        }
        int64_t nelements;
        char sbuf[SHAPE_TEXT];
        if (!shape_size(dims, e->ndim, ww_st_dtype_size(e->dtype), &nelements, &sizes[i]) ||
            sizes[i] > UINT64_MAX - total)
            return st_error(err, errlen, WW_ERR_INVALID, path, e->name,
                            "shape %s of %s is too large (the byte count overflows)",
                            shape_text(dims, NULL, e->ndim, sbuf),
                            ww_st_dtype_name(e->dtype));
        if (sizes[i] && !e->data)
            return st_error(err, errlen, WW_ERR_INVALID, path, e->name, "data is NULL");
        total += sizes[i];
    }
    int oom;
    const char *dup = find_duplicate(meta, nmeta, 2, &oom);
    if (!oom && dup)
        return st_error(err, errlen, WW_ERR_INVALID, path, NULL,
                        "metadata key '%s' appears twice", dup);
    if (!oom) {
        const char **names = malloc((n ? (size_t)n : 1) * sizeof *names);
        oom = !names;
        if (names) {
            for (int i = 0; i < n; i++)
                names[i] = tensors[i].name;
            dup = find_duplicate(names, n, 1, &oom);
            free(names);
        }
        if (!oom && dup)
            return st_error(err, errlen, WW_ERR_INVALID, path, dup,
                            "the name appears twice among the tensors to write");
    }
    if (oom)
        return st_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, NULL, "out of memory");

    sb_put(h, "{", 1);
    if (nmeta) {
        sb_put(h, "\"__metadata__\":{", 16);
        for (int i = 0; i < nmeta; i++) {
            if (i)
                sb_put(h, ",", 1);
            sb_json_string(h, meta[2 * i]);
            sb_put(h, ":", 1);
            sb_json_string(h, meta[2 * i + 1]);
        }
        sb_put(h, "}", 1);
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const ww_st_entry *e = &tensors[i];
        if (i || nmeta)
            sb_put(h, ",", 1);
        sb_json_string(h, e->name);
        sb_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", ww_st_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++)
            sb_printf(h, "%s%" PRId64, d ? "," : "", e->shape[d]);
        sb_printf(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + sizes[i]);
        off += sizes[i];
    }
    sb_put(h, "}", 1);
    while (!h->failed && h->len % 8) /* the data section starts 8-aligned */
        sb_put(h, " ", 1);
    if (h->failed)
        return st_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, NULL,
                        "out of memory for the header");
    if (h->len > WW_ST_MAX_HEADER)
        return st_error(err, errlen, WW_ERR_INVALID, path, NULL,
                        "header of %zu bytes is over the limit of %" PRIu64 " bytes", h->len,
                        WW_ST_MAX_HEADER);
    return WW_OK;
}

/* The directory entry of a rename reaches the disk only when the directory is synced. Best
 * effort: by now the new file is in place, and some file systems cannot sync a directory. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (slash) {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(len + 1);
        if (!dir)
            return;
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    int fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

ww_status ww_st_write(const char *path, const ww_st_entry *tensors, int n,
                      const char *const *meta, int nmeta_pairs, char *err, size_t errlen)
{
    if (!path)
        return st_error(err, errlen, WW_ERR_INVALID, "(null)", NULL, "path is NULL");
    if (n < 0 || (n && !tensors) || nmeta_pairs < 0 || (nmeta_pairs && !meta))
        return st_error(err, errlen, WW_ERR_INVALID, path, NULL,
                        "bad arguments (%d tensors, %d metadata pairs)", n, nmeta_pairs);
    strbuf h = {0};
    size_t *sizes = malloc((n ? (size_t)n : 1) * sizeof *sizes);
    char *tmp = malloc(strlen(path) + 5);
    ww_status st;
    int fd = -1, created = 0;
    char ebuf[128];
    if (!sizes || !tmp) {
        st = st_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, NULL, "out of memory");
        goto done;
    }
    if ((st = build_header(path, tensors, n, meta, nmeta_pairs, &h, sizes, err, errlen)))
        goto done;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));

    sprintf(tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        st = st_error(err, errlen, WW_ERR_IO, tmp, NULL, "cannot create: %s",
                      errno_text(errno, ebuf, sizeof ebuf));
        goto done;
    }
    created = 1;
    int ok = write_all(fd, len8, 8) && write_all(fd, h.s, h.len);
    for (int i = 0; ok && i < n; i++)
        ok = write_all(fd, tensors[i].data, sizes[i]);
    if (!ok || fsync(fd) != 0) {
        st = st_error(err, errlen, WW_ERR_IO, tmp, NULL, "cannot write: %s",
                      errno_text(errno, ebuf, sizeof ebuf));
        goto done;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        st = st_error(err, errlen, WW_ERR_IO, tmp, NULL, "cannot write: %s",
                      errno_text(errno, ebuf, sizeof ebuf));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        st = st_error(err, errlen, WW_ERR_IO, path, NULL, "cannot rename %s to it: %s", tmp,
                      errno_text(errno, ebuf, sizeof ebuf));
        goto done;
    }
    sync_dir(path);
done:
    if (fd >= 0)
        close(fd);
    if (st && created)
        unlink(tmp);
    free(h.s);
    free(sizes);
    free(tmp);
    return st;
}
