/* Datasets: spec parsing, list files, reading and cropping samples (see dataset.h). */
#include "dataset.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "flow_io.h"
#include "image_io.h"
#include "rng.h"
#include "synth.h"

#define SYNTHETIC_DEFAULT_SIZE 1000
#define SEG_IGNORE 255

enum { MAX_PATHS = 3, MSG_LEN = 1024 };

typedef struct list_entry {
    int line;
    char *path[MAX_PATHS]; /* images first, the target last */
} list_entry;

struct ww_dataset {
    ww_task task;
    int width, height, classes;
    uint64_t seed;
    int64_t size;
    char *list; /* the list file; NULL for a synthetic dataset */
    list_entry *entries;
};

ww_status ww_sample_alloc(ww_sample *s, int width, int height, int frames, int channels,
                          char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (width < 1 || height < 1 || width > WW_IMG_MAX_SIDE || height > WW_IMG_MAX_SIDE ||
        (int64_t)width * height > WW_IMG_MAX_PIXELS || frames < 1 || frames > 2 ||
        channels < 1 || channels > 2)
        return ww_io_error(err, errlen, WW_ERR_INVALID, "sample",
                           "bad size %dx%d, %d frames, %d channels", width, height, frames,
                           channels);
    size_t n = (size_t)width * (size_t)height;
    s->width = width;
    s->height = height;
    for (int f = 0; f < frames; f++)
        s->image[f] = calloc(n, 3);
    s->target = calloc(n * (size_t)channels, sizeof *s->target);
    if (!s->image[0] || (frames == 2 && !s->image[1]) || !s->target) {
        ww_sample_free(s);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "sample",
                           "out of memory for %dx%d pixels", width, height);
    }
    return WW_OK;
}

void ww_sample_free(ww_sample *s)
{
    if (!s)
        return;
    free(s->image[0]);
    free(s->image[1]);
    free(s->target);
    memset(s, 0, sizeof *s);
}

int ww_task_frames(ww_task t)
{
    return t == WW_TASK_FLOW ? 2 : 1;
}

int ww_task_target_channels(ww_task t)
{
    return t == WW_TASK_FLOW ? 2 : 1;
}

/* "LIST:LINE: message". */
static ww_status line_error(char *err, size_t errlen, ww_status st, const ww_dataset *d,
                            int line, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static ww_status line_error(char *err, size_t errlen, ww_status st, const ww_dataset *d,
                            int line, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "%s:%d: ", d->list, line);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return st;
}

/* ---- Opening --------------------------------------------------------------------------------- */

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

/* What a list line holds for each task, and the target formats by extension. */
static const struct {
    const char *line;
    const char *ext[3];
    const char *exts;
} task_files[] = {
    [WW_TASK_FLOW] = {"frame1 frame2 flow", {".flo", ".png", ".pfm"}, ".flo, .png or .pfm"},
    [WW_TASK_DEPTH] = {"image depth", {".pfm", ".png", NULL}, ".pfm or .png"},
    [WW_TASK_SEG] = {"image label", {".png", NULL, NULL}, ".png"},
};

static int target_known(ww_task t, const char *path)
{
    for (int k = 0; k < 3; k++)
        if (task_files[t].ext[k] && has_ext(path, task_files[t].ext[k]))
            return 1;
    return 0;
}

/* One line's tokens (the line is modified in place), '#' to the end being a comment. */
static int split_line(char *line, char **tok, int max)
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

/* token relative to dir (the list's directory, "" for the working directory) unless absolute. */
static char *join_path(const char *dir, const char *token)
{
    size_t nd = token[0] == '/' ? 0 : strlen(dir), nt = strlen(token);
    char *p = malloc(nd + nt + 1);
    if (p) {
        memcpy(p, dir, nd);
        memcpy(p + nd, token, nt + 1);
    }
    return p;
}

static ww_status add_entry(ww_dataset *d, char *line, int lineno, const char *dir,
                           int64_t *capacity, char *err, size_t errlen)
{
    int want = ww_task_frames(d->task) + 1;
    char *tok[MAX_PATHS];
    int n = split_line(line, tok, MAX_PATHS);
    if (n == 0)
        return WW_OK;
    if (n != want)
        return line_error(err, errlen, WW_ERR_INVALID, d, lineno,
                          "expected %d paths (%s), got %d", want, task_files[d->task].line, n);
    if (d->size == *capacity) {
        int64_t cap = *capacity ? 2 * *capacity : 64;
        list_entry *e = realloc(d->entries, (size_t)cap * sizeof *e);
        if (!e)
            return line_error(err, errlen, WW_ERR_OUT_OF_MEMORY, d, lineno, "out of memory");
        d->entries = e;
        *capacity = cap;
    }
    list_entry *e = &d->entries[d->size++];
    memset(e, 0, sizeof *e);
    e->line = lineno;
    for (int k = 0; k < want; k++) {
        e->path[k] = join_path(dir, tok[k]);
        if (!e->path[k])
            return line_error(err, errlen, WW_ERR_OUT_OF_MEMORY, d, lineno, "out of memory");
        struct stat sb;
        if (stat(e->path[k], &sb) != 0)
            return line_error(err, errlen, WW_ERR_IO, d, lineno, "%s: %s", e->path[k],
                              strerror(errno));
        if (!S_ISREG(sb.st_mode))
            return line_error(err, errlen, WW_ERR_IO, d, lineno, "%s: not a regular file",
                              e->path[k]);
    }
    const char *target = e->path[want - 1];
    if (!target_known(d->task, target))
        return line_error(err, errlen, WW_ERR_UNSUPPORTED, d, lineno,
                          "%s: unknown %s target format (want %s)", target,
                          ww_task_name(d->task), task_files[d->task].exts);
    return WW_OK;
}

static ww_status read_list(ww_dataset *d, char *err, size_t errlen)
{
    FILE *f;
    uint64_t size;
    ww_status st = ww_io_open_read(d->list, &f, &size, err, errlen);
    if (st != WW_OK)
        return st;
    char *text = size < SIZE_MAX ? malloc((size_t)size + 1) : NULL;
    if (!text) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, d->list, "out of memory");
    }
    size_t got = fread(text, 1, (size_t)size, f);
    int read_err = ferror(f);
    fclose(f);
    if (read_err || got != size) {
        free(text);
        return ww_io_error(err, errlen, WW_ERR_IO, d->list, "cannot read the list");
    }
    text[size] = '\0';
    if (memchr(text, '\0', (size_t)size)) {
        free(text);
        return ww_io_error(err, errlen, WW_ERR_INVALID, d->list, "not a text file (NUL byte)");
    }
    /* The directory part of the list's path, slash included. */
    const char *slash = strrchr(d->list, '/');
    size_t ndir = slash ? (size_t)(slash - d->list) + 1 : 0;
    char *dir = malloc(ndir + 1);
    if (!dir) {
        free(text);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, d->list, "out of memory");
    }
    memcpy(dir, d->list, ndir);
    dir[ndir] = '\0';

    int64_t capacity = 0;
    int lineno = 0;
    for (char *line = text; line && st == WW_OK;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        st = add_entry(d, line, ++lineno, dir, &capacity, err, errlen);
        line = next;
    }
    free(dir);
    free(text);
    if (st == WW_OK && d->size == 0)
        st = ww_io_error(err, errlen, WW_ERR_INVALID, d->list, "no samples in the list");
    return st;
}

ww_status ww_dataset_open(const char *spec, ww_task task, int width, int height, int classes,
                          uint64_t seed, ww_dataset **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!spec)
        return ww_io_error(err, errlen, WW_ERR_INVALID, "dataset", "no spec");
    if (task != WW_TASK_FLOW && task != WW_TASK_DEPTH && task != WW_TASK_SEG)
        return ww_io_error(err, errlen, WW_ERR_INVALID, spec, "unknown task %d", (int)task);
    if ((width == 0) != (height == 0) || width < 0 || height < 0 || width > WW_IMG_MAX_SIDE ||
        height > WW_IMG_MAX_SIDE || (int64_t)width * height > WW_IMG_MAX_PIXELS)
        return ww_io_error(err, errlen, WW_ERR_INVALID, spec, "bad sample size %dx%d", width,
                           height);
    if (task == WW_TASK_SEG && (classes < 1 || classes > SEG_IGNORE))
        return ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                           "classes %d outside 1..%d", classes, SEG_IGNORE);
    ww_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, spec, "out of memory");
    d->task = task;
    d->width = width;
    d->height = height;
    d->classes = classes;
    d->seed = seed;

    ww_status st = WW_OK;
    if (strncmp(spec, "synthetic", 9) == 0 && (spec[9] == '\0' || spec[9] == ':')) {
        d->size = SYNTHETIC_DEFAULT_SIZE;
        if (spec[9] == ':') {
            char *end;
            errno = 0;
            long long n = strtoll(spec + 10, &end, 10);
            if (spec[10] < '0' || spec[10] > '9' || *end || errno || n < 1)
                st = ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                                 "the sample count must be a positive integer");
            d->size = n;
        }
        if (st == WW_OK && width == 0)
            st = ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                             "synthetic samples need a width and height");
    } else if (strncmp(spec, "list:", 5) == 0 && spec[5]) {
        d->list = strdup(spec + 5);
        st = d->list ? read_list(d, err, errlen)
                     : ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, spec, "out of memory");
    } else {
        st = ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                         "unknown dataset (want synthetic, synthetic:N or list:FILE)");
    }
    if (st != WW_OK) {
        ww_dataset_close(d);
        return st;
    }
    *out = d;
    return WW_OK;
}

int64_t ww_dataset_size(const ww_dataset *d)
{
    return d->size;
}

void ww_dataset_close(ww_dataset *d)
{
    if (!d)
        return;
    for (int64_t i = 0; i < d->size; i++)
        for (int k = 0; k < MAX_PATHS; k++)
            free(d->entries ? d->entries[i].path[k] : NULL);
    free(d->entries);
    free(d->list);
    free(d);
}

/* ---- Reading a list's sample ----------------------------------------------------------------- */

/* Read image k of e into s->image[k]; the first image sets the sample's size, the second must
 * match it. */
static ww_status read_frame(const ww_dataset *d, const list_entry *e, int k, ww_sample *s,
                            char *err, size_t errlen)
{
    char msg[MSG_LEN];
    ww_img img;
    ww_status st = ww_img_read_rgb8(e->path[k], &img, msg, sizeof msg);
    if (st != WW_OK)
        return line_error(err, errlen, st, d, e->line, "%s", msg);
    if (k > 0 && (img.width != s->width || img.height != s->height)) {
        st = line_error(err, errlen, WW_ERR_INVALID, d, e->line, "%s is %dx%d but %s is %dx%d",
                        e->path[k], img.width, img.height, e->path[0], s->width, s->height);
        ww_img_free(&img);
        return st;
    }
    s->width = img.width;
    s->height = img.height;
    s->image[k] = img.data;
    return WW_OK;
}

/* The target file's size against the first image's; allocates s->target when they agree. */
static ww_status target_size(const ww_dataset *d, const list_entry *e, const char *path, int w,
                             int h, ww_sample *s, char *err, size_t errlen)
{
    if (w != s->width || h != s->height)
        return line_error(err, errlen, WW_ERR_INVALID, d, e->line, "%s is %dx%d but %s is %dx%d",
                          path, w, h, e->path[0], s->width, s->height);
    s->target = malloc((size_t)w * (size_t)h * (size_t)ww_task_target_channels(d->task) *
                       sizeof *s->target);
    if (!s->target)
        return line_error(err, errlen, WW_ERR_OUT_OF_MEMORY, d, e->line,
                          "%s: out of memory for %dx%d", path, w, h);
    return WW_OK;
}

/* A PFM target, which must have channels channels (has words that rule for the message, e.g.
 * "depth PFM has 1 channel"), its size checked and s->target allocated by target_size. On success
 * *data holds the file's values, for the caller to convert and free. */
static ww_status read_target_pfm(const ww_dataset *d, const list_entry *e, const char *path,
                                 int channels, const char *has, ww_sample *s, float **data,
                                 char *err, size_t errlen)
{
    char msg[MSG_LEN];
    int w, h, ch;
    ww_status st = ww_pfm_read(path, data, &w, &h, &ch, msg, sizeof msg);
    if (st != WW_OK)
        return line_error(err, errlen, st, d, e->line, "%s", msg);
    if (ch != channels)
        st = line_error(err, errlen, WW_ERR_INVALID, d, e->line, "%s: a %s, this one %d", path,
                        has, ch);
    if (st == WW_OK)
        st = target_size(d, e, path, w, h, s, err, errlen);
    if (st != WW_OK) {
        free(*data);
        *data = NULL;
    }
    return st;
}

static ww_status read_flow(const ww_dataset *d, const list_entry *e, ww_sample *s, char *err,
                           size_t errlen)
{
    const char *path = e->path[2];
    char msg[MSG_LEN];
    ww_status st;
    if (has_ext(path, ".pfm")) {
        float *data;
        st = read_target_pfm(d, e, path, 3, "flow PFM has 3 channels (u, v, unused)", s, &data,
                             err, errlen);
        if (st != WW_OK)
            return st;
        size_t n = (size_t)s->width * (size_t)s->height;
        for (size_t i = 0; i < n; i++) {
            float u = data[3 * i], v = data[3 * i + 1];
            int ok = isfinite(u) && isfinite(v);
            s->target[i] = ok ? u : NAN;
            s->target[n + i] = ok ? v : NAN;
        }
        free(data);
        return WW_OK;
    }
    ww_flow f;
    st = has_ext(path, ".flo") ? ww_flo_read(path, &f, msg, sizeof msg)
                               : ww_kitti_flow_read(path, &f, msg, sizeof msg);
    if (st != WW_OK)
        return line_error(err, errlen, st, d, e->line, "%s", msg);
    st = target_size(d, e, path, f.width, f.height, s, err, errlen);
    if (st == WW_OK) {
        size_t n = (size_t)f.width * (size_t)f.height;
        for (size_t i = 0; i < n; i++) {
            int ok = !f.valid || f.valid[i];
            s->target[i] = ok ? f.uv[2 * i] : NAN;
            s->target[n + i] = ok ? f.uv[2 * i + 1] : NAN;
        }
    }
    ww_flow_free(&f);
    return st;
}

/* A PNG target of one 8- or 16-bit gray channel (depth in mm, label ids), its size checked and
 * s->target allocated by target_size. On success img holds the file, for the caller to convert
 * and free. */
static ww_status read_target_png(const ww_dataset *d, const list_entry *e, const char *path,
                                 int depth, ww_sample *s, ww_img *img, char *err, size_t errlen)
{
    char msg[MSG_LEN];
    ww_status st = ww_img_read_png(path, img, msg, sizeof msg);
    if (st != WW_OK)
        return line_error(err, errlen, st, d, e->line, "%s", msg);
    if (img->channels != 1 || img->depth != depth)
        st = line_error(err, errlen, WW_ERR_INVALID, d, e->line,
                        "%s: want %d-bit gray, got %d-bit with %d channels", path, depth,
                        img->depth, img->channels);
    if (st == WW_OK)
        st = target_size(d, e, path, img->width, img->height, s, err, errlen);
    if (st != WW_OK)
        ww_img_free(img);
    return st;
}

static ww_status read_depth(const ww_dataset *d, const list_entry *e, ww_sample *s, char *err,
                            size_t errlen)
{
    const char *path = e->path[1];
    ww_status st;
    if (has_ext(path, ".pfm")) {
        float *data;
        st = read_target_pfm(d, e, path, 1, "depth PFM has 1 channel", s, &data, err, errlen);
        if (st != WW_OK)
            return st;
        size_t n = (size_t)s->width * (size_t)s->height;
        for (size_t i = 0; i < n; i++)
            s->target[i] = isfinite(data[i]) && data[i] > 0 ? data[i] : 0;
        free(data);
        return WW_OK;
    }
    ww_img img;
    st = read_target_png(d, e, path, 16, s, &img, err, errlen);
    if (st != WW_OK)
        return st;
    const uint16_t *mm = img.data;
    size_t n = (size_t)img.width * (size_t)img.height;
    for (size_t i = 0; i < n; i++)
        s->target[i] = (float)mm[i] / 1000.0f;
    ww_img_free(&img);
    return WW_OK;
}

static ww_status read_labels(const ww_dataset *d, const list_entry *e, ww_sample *s, char *err,
                             size_t errlen)
{
    const char *path = e->path[1];
    ww_img img;
    ww_status st = read_target_png(d, e, path, 8, s, &img, err, errlen);
    if (st != WW_OK)
        return st;
    const uint8_t *ids = img.data;
    for (int y = 0; st == WW_OK && y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            size_t i = (size_t)y * (size_t)img.width + (size_t)x;
            if (ids[i] >= d->classes && ids[i] != SEG_IGNORE) {
                st = line_error(err, errlen, WW_ERR_INVALID, d, e->line,
                                "%s: label %d at (%d, %d) is not a class (0..%d) nor %d", path,
                                ids[i], x, y, d->classes - 1, SEG_IGNORE);
                break;
            }
            s->target[i] = ids[i];
        }
    ww_img_free(&img);
    return st;
}

static ww_status read_entry(const ww_dataset *d, const list_entry *e, ww_sample *s, char *err,
                            size_t errlen)
{
    ww_status st = WW_OK;
    for (int k = 0; k < ww_task_frames(d->task) && st == WW_OK; k++)
        st = read_frame(d, e, k, s, err, errlen);
    if (st == WW_OK)
        st = d->task == WW_TASK_FLOW    ? read_flow(d, e, s, err, errlen)
             : d->task == WW_TASK_DEPTH ? read_depth(d, e, s, err, errlen)
                                        : read_labels(d, e, s, err, errlen);
    return st;
}

ww_status ww_sample_crop(const ww_sample *s, ww_task task, int x0, int y0, int width, int height,
                         ww_sample *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (x0 < 0 || y0 < 0 || width < 1 || height < 1 || x0 + width > s->width ||
        y0 + height > s->height)
        return ww_io_error(err, errlen, WW_ERR_INVALID, "crop",
                           "%dx%d at (%d, %d) is not inside the %dx%d sample", width, height, x0,
                           y0, s->width, s->height);
    int frames = ww_task_frames(task), channels = ww_task_target_channels(task);
    ww_status st = ww_sample_alloc(out, width, height, frames, channels, err, errlen);
    if (st != WW_OK)
        return st;
    size_t row = (size_t)width;
    for (int y = 0; y < height; y++) {
        size_t src = (size_t)(y0 + y) * (size_t)s->width + (size_t)x0, dst = (size_t)y * row;
        for (int f = 0; f < frames; f++)
            memcpy(out->image[f] + 3 * dst, s->image[f] + 3 * src, 3 * row);
        for (int c = 0; c < channels; c++)
            memcpy(out->target + (size_t)c * row * (size_t)height + dst,
                   s->target + (size_t)c * (size_t)s->width * (size_t)s->height + src,
                   row * sizeof *out->target);
    }
    return WW_OK;
}

static ww_status get_listed(const ww_dataset *d, const list_entry *e, ww_rng *r, ww_sample *out,
                            char *err, size_t errlen)
{
    ww_sample full = {0};
    ww_status st = read_entry(d, e, &full, err, errlen);
    if (st == WW_OK && d->width && (full.width < d->width || full.height < d->height))
        st = line_error(err, errlen, WW_ERR_INVALID, d, e->line,
                        "%s is %dx%d, smaller than the requested %dx%d", e->path[0], full.width,
                        full.height, d->width, d->height);
    if (st != WW_OK || !d->width || (full.width == d->width && full.height == d->height)) {
        if (st == WW_OK)
            *out = full;
        else
            ww_sample_free(&full);
        return st;
    }
    int x0 = (int)ww_rng_below(r, (uint32_t)(full.width - d->width + 1));
    int y0 = (int)ww_rng_below(r, (uint32_t)(full.height - d->height + 1));
    st = ww_sample_crop(&full, d->task, x0, y0, d->width, d->height, out, err, errlen);
    ww_sample_free(&full);
    return st;
}

ww_status ww_dataset_get(ww_dataset *d, int64_t index, uint64_t seed, ww_sample *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (index < 0 || index >= d->size)
        return ww_io_error(err, errlen, WW_ERR_INVALID, d->list ? d->list : "synthetic",
                           "sample %lld outside 0..%lld", (long long)index,
                           (long long)d->size - 1);
    /* Each seeding scrambles its input, so the chain keeps every (dataset seed, index, seed)
     * triple on its own stream. */
    ww_rng r;
    ww_rng_seed(&r, d->seed);
    ww_rng_seed(&r, ww_rng_next(&r) ^ (uint64_t)index);
    ww_rng_seed(&r, ww_rng_next(&r) ^ seed);
    if (d->list)
        return get_listed(d, &d->entries[index], &r, out, err, errlen);
    switch (d->task) {
    case WW_TASK_FLOW:
        return ww_synth_flow(&r, d->width, d->height, out, err, errlen);
    case WW_TASK_DEPTH:
        return ww_synth_depth(&r, d->width, d->height, out, err, errlen);
    default:
        return ww_synth_seg(&r, d->width, d->height, d->classes, out, err, errlen);
    }
}
