#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "train_error.h"

/* items (n of them used, *cap allocated, elem bytes each) with room for one more: items itself,
 * or a copy with the capacity doubled (first when there was none). NULL on out of memory, items
 * and *cap then unchanged. */
static void *grow(void *items, size_t n, size_t *cap, size_t elem, size_t first)
{
    if (n < *cap)
        return items;
    size_t c = *cap ? 2 * *cap : first;
    void *p = realloc(items, c * elem);
    if (p)
        *cap = c;
    return p;
}

/* ---- Flat JSON objects ------------------------------------------------------------------------
 * Only what a metrics line can hold: one object of string keys to numbers, strings, booleans or
 * null. Strings are decoded (escapes, \uXXXX with surrogate pairs, as UTF-8) into a scratch
 * buffer as long as the line: a decoded string plus its NUL is never longer than its quoted
 * source, so the scratch never overflows. */

typedef enum json_type { JSON_NUMBER, JSON_STRING, JSON_BOOL, JSON_NULL } json_type;

typedef struct json_field {
    const char *key; /* in the parser's scratch */
    json_type type;
    double num; /* JSON_NUMBER: the value; JSON_BOOL: 0 or 1 */
} json_field;

typedef struct json_parser {
    const char *s;
    size_t len, pos;
    char *scratch;
    size_t used;
    json_field *fields;
    size_t n, cap;
    const char *why; /* the syntax error, with pos at its column */
} json_parser;

static int fail(json_parser *p, const char *why)
{
    p->why = why;
    return 0;
}

static void skip_ws(json_parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\r' || p->s[p->pos] == '\n'))
        p->pos++;
}

static int starts_with(const json_parser *p, const char *word)
{
    size_t k = strlen(word);
    return p->len - p->pos >= k && memcmp(p->s + p->pos, word, k) == 0;
}

static int hex4(json_parser *p, uint32_t *out)
{
    if (p->len - p->pos < 4)
        return fail(p, "\\u needs 4 hex digits");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos + i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return fail(p, "\\u needs 4 hex digits");
        v = v * 16 + (uint32_t)d;
    }
    p->pos += 4;
    *out = v;
    return 1;
}

static void put_utf8(json_parser *p, uint32_t cp)
{
    char *o = p->scratch + p->used;
    if (cp < 0x80) {
        o[0] = (char)cp;
        p->used += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        p->used += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        p->used += 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        p->used += 4;
    }
}

/* At an opening quote; *out points into the scratch. */
static int parse_string(json_parser *p, const char **out)
{
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return fail(p, "expected a string");
    p->pos++;
    *out = p->scratch + p->used;
    for (;;) {
        if (p->pos >= p->len)
            return fail(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            p->scratch[p->used++] = '\0';
            return 1;
        }
        if (c < 0x20)
            return fail(p, "control character in a string");
        if (c != '\\') {
            p->scratch[p->used++] = (char)c;
            p->pos++;
            continue;
        }
        if (++p->pos >= p->len)
            return fail(p, "unterminated string");
        char e = p->s[p->pos++];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *hit = e ? strchr(from, e) : NULL;
        if (hit) {
            p->scratch[p->used++] = to[hit - from];
            continue;
        }
        if (e != 'u') {
            p->pos--;
            return fail(p, "unknown escape");
        }
        uint32_t cp;
        if (!hex4(p, &cp))
            return 0;
        if (cp >= 0xD800 && cp < 0xDC00) {
            uint32_t lo;
            if (!starts_with(p, "\\u"))
                return fail(p, "lone UTF-16 surrogate");
            p->pos += 2;
            if (!hex4(p, &lo))
                return 0;
            if (lo < 0xDC00 || lo >= 0xE000)
                return fail(p, "lone UTF-16 surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            return fail(p, "lone UTF-16 surrogate");
        } else if (cp == 0) {
            return fail(p, "\\u0000 in a string");
        }
        put_utf8(p, cp);
    }
}

static int digits(json_parser *p)
{
    size_t start = p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        p->pos++;
    return p->pos > start;
}

/* JSON's number grammar, checked before strtod converts the span (strtod alone would also take
 * hex, "inf" and a leading '+'). The line is NUL-terminated, so strtod stops inside it. */
static int parse_number(json_parser *p, double *out)
{
    size_t start = p->pos;
    if (p->s[p->pos] == '-')
        p->pos++;
    if (starts_with(p, "Infinity")) {
        p->pos += 8;
        *out = p->s[start] == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    if (p->pos < p->len && p->s[p->pos] == '0')
        p->pos++;
    else if (!digits(p))
        return fail(p, "expected a value");
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (!digits(p))
            return fail(p, "expected digits after '.'");
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (!digits(p))
            return fail(p, "expected digits in the exponent");
    }
    char *end;
    *out = strtod(p->s + start, &end);
    if (end != p->s + p->pos)
        return fail(p, "malformed number");
    return 1;
}

static int parse_value(json_parser *p, json_field *f)
{
    if (p->pos >= p->len)
        return fail(p, "expected a value");
    char c = p->s[p->pos];
    struct { const char *word; json_type type; double num; } words[] = {
        {"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0},
        {"NaN", JSON_NUMBER, NAN},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (starts_with(p, words[i].word)) {
            p->pos += strlen(words[i].word);
            f->type = words[i].type;
            f->num = words[i].num;
            return 1;
        }
    }
    if (c == '"') {
        const char *ignored;
        f->type = JSON_STRING;
        return parse_string(p, &ignored);
    }
    if (c == '{' || c == '[')
        return fail(p, "nested objects and arrays are not supported");
    f->type = JSON_NUMBER;
    return parse_number(p, &f->num);
}

/* 1: parsed; 0: syntax error (p->why, column p->pos + 1); -1: out of memory. */
static int parse_object(json_parser *p)
{
    p->n = 0;
    p->used = 0;
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '{')
        return fail(p, "expected '{'");
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            json_field *fields = grow(p->fields, p->n, &p->cap, sizeof *fields, 16);
            if (!fields)
                return -1;
            p->fields = fields;
            json_field *f = &p->fields[p->n];
            if (!parse_string(p, &f->key))
                return 0;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return fail(p, "expected ':'");
            p->pos++;
            skip_ws(p);
            if (!parse_value(p, f))
                return 0;
            p->n++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                skip_ws(p);
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == '}') {
                p->pos++;
                break;
            }
            return fail(p, "expected ',' or '}'");
        }
    }
    skip_ws(p);
    if (p->pos != p->len)
        return fail(p, "text after the object");
    return 1;
}

/* ---- Series ---------------------------------------------------------------------------------- */

typedef struct point {
    double x, y;
    size_t order; /* position in the log: keeps the sort stable */
} point;

typedef struct series {
    char *key;
    int val; /* from validation lines */
    point *pts;
    size_t n, cap;
} series;

typedef struct plot_data {
    series *s;
    size_t n, cap;
    size_t points; /* over all series */
} plot_data;

static void plot_data_free(plot_data *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->s[i].key);
        free(d->s[i].pts);
    }
    free(d->s);
}

/* 0 on out of memory. */
static int add_point(plot_data *d, const char *key, int val, double x, double y)
{
    series *s = NULL;
    for (size_t i = 0; i < d->n && !s; i++)
        if (d->s[i].val == val && strcmp(d->s[i].key, key) == 0)
            s = &d->s[i];
    if (!s) {
        series *ns = grow(d->s, d->n, &d->cap, sizeof *ns, 8);
        if (!ns)
            return 0;
        d->s = ns;
        size_t klen = strlen(key) + 1;
        char *k = malloc(klen);
        if (!k)
            return 0;
        memcpy(k, key, klen);
        s = &d->s[d->n++];
        *s = (series){.key = k, .val = val};
    }
    point *np = grow(s->pts, s->n, &s->cap, sizeof *np, 64);
    if (!np)
        return 0;
    s->pts = np;
    s->pts[s->n++] = (point){x, y, d->points++};
    return 1;
}

/* The points of one parsed line; 0 on out of memory. */
static int add_line(plot_data *d, const json_field *f, size_t n)
{
    double step = NAN;
    int val = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].key, "step") == 0 && f[i].type == JSON_NUMBER)
            step = f[i].num;
        else if (strcmp(f[i].key, "val") == 0 && (f[i].type == JSON_NUMBER ||
                                                 f[i].type == JSON_BOOL))
            val = f[i].num != 0;
    }
    if (!isfinite(step))
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (f[i].type != JSON_NUMBER || !isfinite(f[i].num) || strcmp(f[i].key, "step") == 0 ||
            strcmp(f[i].key, "val") == 0)
            continue;
        if (!add_point(d, f[i].key, val, step, f[i].num))
            return 0;
    }
    return 1;
}

static ww_status read_log(const char *path, plot_data *d, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ww_train_error(err, errlen, WW_ERR_IO, "%s: cannot open: %s", path,
                              strerror(errno));
    ww_status st = WW_OK;
    json_parser p = {0};
    char *line = NULL;
    size_t line_cap = 0, scratch_cap = 0;
    ssize_t got;
    for (size_t lineno = 1; (got = getline(&line, &line_cap, f)) >= 0; lineno++) {
        if ((size_t)got + 1 > scratch_cap) {
            char *s = realloc(p.scratch, (size_t)got + 1);
            if (!s) {
                st = WW_ERR_OUT_OF_MEMORY;
                break;
            }
            p.scratch = s;
            scratch_cap = (size_t)got + 1;
        }
        /* The line ending is no part of the object: without it, a string left open reads as
         * unterminated rather than as holding a newline. */
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        p.s = line;
        p.len = len;
        p.pos = 0;
        skip_ws(&p);
        if (p.pos == p.len)
            continue;
        p.pos = 0;
        int r = parse_object(&p);
        if (r == 0) {
            st = ww_train_error(err, errlen, WW_ERR_INVALID, "%s: line %zu: column %zu: %s", path,
                                lineno, p.pos + 1, p.why);
            break;
        }
        if (r < 0 || !add_line(d, p.fields, p.n)) {
            st = WW_ERR_OUT_OF_MEMORY;
            break;
        }
    }
    if (st == WW_ERR_OUT_OF_MEMORY)
        ww_train_error(err, errlen, st, "%s: out of memory reading the log", path);
    else if (st == WW_OK && ferror(f))
        st = ww_train_error(err, errlen, WW_ERR_IO, "%s: cannot read: %s", path,
                            strerror(errno));
    free(line);
    free(p.scratch);
    free(p.fields);
    fclose(f);
    return st;
}

/* ---- SVG ------------------------------------------------------------------------------------- */

enum {
    COLS = 2,
    PANEL_W = 520,
    PANEL_H = 300,
    HEADER_H = 40,
    /* plot area inside a panel */
    PAD_L = 72,
    PAD_R = 20,
    PAD_T = 34,
    PAD_B = 42,
    TICKS = 5,
    /* A panel draws at most this many points: beyond it, buckets of consecutive points are
     * averaged, which keeps the file small for long runs and smooths noisy training loss. */
    MAX_DRAWN = 1000,
    /* Few points (validation) also get a marker, so a lone point is visible. */
    MARKER_MAX = 60,
};

static int cmp_point(const void *a, const void *b)
{
    const point *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    return p->order < q->order ? -1 : p->order > q->order;
}

/* Text for SVG: XML's special characters escaped; bytes outside printable ASCII become '?'
 * (a key is user data, and a stray byte must not make the whole file unreadable). */
static void put_xml(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '&')
            fputs("&amp;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else
            fputc(c >= 0x20 && c < 0x7F ? c : '?', f);
    }
}

/* A round tick spacing (1, 2 or 5 times a power of ten) giving about TICKS ticks over range. */
static double tick_step(double range)
{
    double raw = range / TICKS;
    double mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    return (r < 1.5 ? 1.0 : r < 3.0 ? 2.0 : r < 7.0 ? 5.0 : 10.0) * mag;
}

/* Widen [lo, hi] when it is empty or too thin for doubles to place ticks in, so that the mapping
 * to pixels stays defined. */
static void widen(double *lo, double *hi)
{
    double scale = fmax(fabs(*lo), fabs(*hi));
    if (*hi - *lo > scale * 1e-9)
        return;
    double d = scale * 0.1;
    if (!(d > 0.0))
        d = 1.0;
    *lo -= d;
    *hi += d;
}

static void axis_ticks(FILE *f, int vertical, double lo, double hi, double x0, double y0,
                       double w, double h)
{
    double range = hi - lo, step = tick_step(range);
    if (!isfinite(range) || !(step > 0.0) || !isfinite(step))
        return;
    double k0 = ceil(lo / step), count = floor(hi / step) - k0;
    if (!(count >= 0.0 && count <= 4 * TICKS))
        return;
    for (int i = 0; i <= (int)count; i++) {
        double v = (k0 + i) * step;
        if (fabs(v) < step * 1e-9)
            v = 0.0; /* no "-2.7e-17" labels from rounding */
        if (vertical) {
            double py = y0 + h - (v - lo) / range * h;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                       "stroke=\"#e4e4e4\"/>\n", x0, py, x0 + w, py);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                       "dominant-baseline=\"middle\">%.4g</text>\n", x0 - 6, py, v);
        } else {
            double px = x0 + (v - lo) / range * w;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n",
                    px, y0 + h, px, y0 + h + 4);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.6g</text>\n", px,
                    y0 + h + 17, v);
        }
    }
}

static void write_panel(FILE *f, series *s, int index)
{
    qsort(s->pts, s->n, sizeof *s->pts, cmp_point);
    /* Average buckets of consecutive points in place (the series is not used afterwards). */
    size_t bucket = (s->n + MAX_DRAWN - 1) / MAX_DRAWN, n = 0;
    for (size_t i = 0; i < s->n; i += bucket) {
        size_t end = i + bucket < s->n ? i + bucket : s->n;
        double sx = 0.0, sy = 0.0;
        for (size_t j = i; j < end; j++) {
            sx += s->pts[j].x;
            sy += s->pts[j].y;
        }
        s->pts[n].x = sx / (double)(end - i);
        s->pts[n].y = sy / (double)(end - i);
        n++;
    }
    double xlo = s->pts[0].x, xhi = s->pts[n - 1].x, ylo = s->pts[0].y, yhi = ylo;
    for (size_t i = 1; i < n; i++) {
        ylo = fmin(ylo, s->pts[i].y);
        yhi = fmax(yhi, s->pts[i].y);
    }
    widen(&xlo, &xhi);
    double pad = (yhi - ylo) * 0.05;
    ylo -= pad;
    yhi += pad;
    widen(&ylo, &yhi);

    double ox = (index % COLS) * PANEL_W, oy = HEADER_H + (index / COLS) * PANEL_H;
    double x0 = ox + PAD_L, y0 = oy + PAD_T;
    double w = PANEL_W - PAD_L - PAD_R, h = PANEL_H - PAD_T - PAD_B;
    const char *color = s->val ? "#d62728" : "#1f77b4";

    fprintf(f, "<g class=\"panel\">\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
               "font-size=\"14\" font-weight=\"bold\">%s: ", x0 + w / 2, oy + 22,
            s->val ? "val" : "train");
    put_xml(f, s->key);
    fputs("</text>\n", f);
    axis_ticks(f, 1, ylo, yhi, x0, y0, w, h);
    axis_ticks(f, 0, xlo, xhi, x0, y0, w, h);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#888\"/>\n", x0, y0, w, h);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">step</text>\n",
            x0 + w / 2, y0 + h + 34);
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s%.1f,%.1f", i ? " " : "", x0 + (s->pts[i].x - xlo) / (xhi - xlo) * w,
                y0 + h - (s->pts[i].y - ylo) / (yhi - ylo) * h);
    }
    fputs("\"/>\n", f);
    if (n <= MARKER_MAX) {
        for (size_t i = 0; i < n; i++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                    x0 + (s->pts[i].x - xlo) / (xhi - xlo) * w,
                    y0 + h - (s->pts[i].y - ylo) / (yhi - ylo) * h, color);
    }
    fputs("</g>\n", f);
}

static void write_svg(FILE *f, const char *title, plot_data *d)
{
    int panels = (int)d->n;
    int rows = panels ? (panels + COLS - 1) / COLS : 1;
    int width = COLS * PANEL_W, height = HEADER_H + rows * PANEL_H;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"12\" y=\"26\" font-size=\"16\">",
            width, height, width, height);
    put_xml(f, title);
    fputs("</text>\n", f);
    if (!panels)
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">no data yet"
                   "</text>\n", width / 2, HEADER_H + PANEL_H / 2);
    /* Training series first, then validation, each in the order their keys first appear. */
    int index = 0;
    for (int val = 0; val <= 1; val++)
        for (size_t i = 0; i < d->n; i++)
            if (d->s[i].val == val)
                write_panel(f, &d->s[i], index++);
    fputs("</svg>\n", f);
}

ww_status ww_plot_svg(const char *jsonl_path, const char *svg_path, char *err, size_t errlen)
{
    if (!jsonl_path || !svg_path)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "plot: a path is NULL");
    plot_data d = {0};
    ww_status st = read_log(jsonl_path, &d, err, errlen);
    if (st != WW_OK) {
        plot_data_free(&d);
        return st;
    }
    size_t tlen = strlen(svg_path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        plot_data_free(&d);
        return ww_train_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "%s: out of memory", svg_path);
    }
    /* The PID keeps two processes plotting to the same file from writing one temporary. A plot
     * is rebuilt from the log at will, so it is not fsync'ed: the rename only has to keep
     * readers from seeing half a file. */
    snprintf(tmp, tlen, "%s.tmp.%ld", svg_path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = ww_train_error(err, errlen, WW_ERR_IO, "%s: cannot create: %s", tmp,
                            strerror(errno));
    } else {
        write_svg(f, jsonl_path, &d);
        int bad = ferror(f);
        if (fclose(f) != 0 || bad)
            st = ww_train_error(err, errlen, WW_ERR_IO, "%s: cannot write: %s", tmp,
                                strerror(errno));
        else if (rename(tmp, svg_path) != 0)
            st = ww_train_error(err, errlen, WW_ERR_IO, "%s: cannot rename %s to it: %s",
                                svg_path, tmp, strerror(errno));
        if (st != WW_OK)
            unlink(tmp);
    }
    free(tmp);
    plot_data_free(&d);
    return st;
}
