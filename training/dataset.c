/* Datasets: spec parsing and dispatch, the entry table, samples (allocation, reading, cropping)
 * (see dataset.h; list files, layouts and target formats have their own files, dataset_internal.h
 * lists them). */
#include "dataset_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image_io.h"
#include "rng.h"
#include "synth.h"

#define SYNTHETIC_DEFAULT_SIZE 1000

enum { MSG_LEN = 1024 };

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

ww_status ww_sample_alloc_occlusion(ww_sample *s, char *err, size_t errlen)
{
    uint8_t *m = calloc((size_t)s->width * (size_t)s->height, 1);
    if (!m)
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "sample",
                           "out of memory for a %dx%d occlusion mask", s->width, s->height);
    free(s->occlusion);
    s->occlusion = m;
    return WW_OK;
}

void ww_sample_free(ww_sample *s)
{
    if (!s)
        return;
    free(s->occlusion);
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

/* ---- The entry table ------------------------------------------------------------------------ */

ww_entry *ww_dataset_add_entry(ww_dataset *d)
{
    if (d->size == d->capacity) {
        int64_t cap = d->capacity ? 2 * d->capacity : 64;
        ww_entry *e = realloc(d->entries, (size_t)cap * sizeof *e);
        if (!e)
            return NULL;
        d->entries = e;
        d->capacity = cap;
    }
    ww_entry *e = &d->entries[d->size++];
    memset(e, 0, sizeof *e);
    return e;
}

ww_status ww_entry_error(const ww_dataset *d, const ww_entry *e, char *err, size_t errlen,
                         ww_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ww_text_verror(err, errlen, st, d->source, e ? e->line : 0, fmt, ap);
    va_end(ap);
    return st;
}

ww_status ww_entry_check(const ww_dataset *d, const ww_entry *e, char *err, size_t errlen)
{
    const char *paths[3] = {e->image[0], e->image[1], e->target};
    for (int k = 0; k < 3; k++) {
        if (k == 1 && ww_task_frames(d->task) == 1)
            continue;
        if (!paths[k])
            return ww_entry_error(d, e, err, errlen, WW_ERR_OUT_OF_MEMORY, "out of memory");
        struct stat sb;
        if (stat(paths[k], &sb) != 0)
            return ww_entry_error(d, e, err, errlen, WW_ERR_IO, "%s: %s", paths[k],
                                  strerror(errno));
        if (!S_ISREG(sb.st_mode))
            return ww_entry_error(d, e, err, errlen, WW_ERR_IO, "%s: not a regular file",
                                  paths[k]);
    }
    return WW_OK;
}

/* ---- Opening -------------------------------------------------------------------------------- */

/* "synthetic" or "synthetic:N". */
static ww_status open_synthetic(ww_dataset *d, const char *spec, char *err, size_t errlen)
{
    d->size = SYNTHETIC_DEFAULT_SIZE;
    if (spec[9] == ':') {
        char *end;
        errno = 0;
        long long n = strtoll(spec + 10, &end, 10);
        if (spec[10] < '0' || spec[10] > '9' || *end || errno || n < 1)
            return ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                               "the sample count must be a positive integer");
        d->size = n;
    }
    if (d->width == 0)
        return ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                           "synthetic samples need a width and height");
    return WW_OK;
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
    if (task == WW_TASK_SEG && (classes < 1 || classes > WW_SEG_IGNORE))
        return ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                           "classes %d outside 1..%d", classes, WW_SEG_IGNORE);
    ww_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, spec, "out of memory");
    d->task = task;
    d->width = width;
    d->height = height;
    d->classes = classes;
    d->seed = seed;
    ww_classes_init(&d->labels);
    int list = strncmp(spec, "list:", 5) == 0 && spec[5];
    d->source = strdup(list ? spec + 5 : spec);

    ww_status st;
    if (!d->source)
        st = ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, spec, "out of memory");
    else if (ww_dataset_spec_generated(spec))
        st = open_synthetic(d, spec, err, errlen);
    else if (list)
        st = ww_list_read(d, d->source, err, errlen);
    else
        st = ww_layout_read(d, spec, err, errlen);
    /* The model has one output per class: a dataset that names its classes must agree. */
    if (st == WW_OK && d->labels.count && d->labels.count != classes)
        st = ww_io_error(err, errlen, WW_ERR_INVALID, d->source,
                         "%s lists %d classes but the dataset was opened with %d",
                         d->labels.origin, d->labels.count, classes);
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

int ww_dataset_spec_generated(const char *spec)
{
    return strncmp(spec, "synthetic", 9) == 0 && (spec[9] == '\0' || spec[9] == ':');
}

static int synthetic_seg(const ww_dataset *d)
{
    return !d->entries && d->task == WW_TASK_SEG;
}

int ww_dataset_class_count(const ww_dataset *d)
{
    return synthetic_seg(d) ? d->classes : d->labels.count;
}

const char *ww_dataset_class_name(const ww_dataset *d, int id)
{
    if (id < 0 || id >= ww_dataset_class_count(d))
        return NULL;
    return synthetic_seg(d) ? ww_synth_seg_class_name(id) : d->labels.names[id];
}

void ww_dataset_class_color(const ww_dataset *d, int id, uint8_t rgb[3])
{
    if (id < 0 || id >= ww_dataset_class_count(d))
        memset(rgb, 0, 3);
    else if (synthetic_seg(d))
        ww_synth_seg_class_color(id, rgb);
    else
        memcpy(rgb, d->labels.colors[id], 3);
}

void ww_dataset_close(ww_dataset *d)
{
    if (!d)
        return;
    for (int64_t i = 0; i < d->size && d->entries; i++) {
        free(d->entries[i].image[0]);
        free(d->entries[i].image[1]);
        free(d->entries[i].target);
    }
    free(d->entries);
    ww_classes_free(&d->labels);
    free(d->source);
    free(d);
}

/* ---- Reading a file dataset's sample -------------------------------------------------------- */

/* Read image k of e into s->image[k]; the first image sets the sample's size, the second must
 * match it. */
static ww_status read_frame(const ww_dataset *d, const ww_entry *e, int k, ww_sample *s,
                            char *err, size_t errlen)
{
    char msg[MSG_LEN];
    ww_img img;
    ww_status st = ww_img_read_rgb8(e->image[k], &img, msg, sizeof msg);
    if (st != WW_OK)
        return ww_entry_error(d, e, err, errlen, st, "%s", msg);
    if (k > 0 && (img.width != s->width || img.height != s->height)) {
        st = ww_entry_error(d, e, err, errlen, WW_ERR_INVALID, "%s is %dx%d but %s is %dx%d",
                            e->image[k], img.width, img.height, e->image[0], s->width,
                            s->height);
        ww_img_free(&img);
        return st;
    }
    s->width = img.width;
    s->height = img.height;
    s->image[k] = img.data;
    return WW_OK;
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
    if (st == WW_OK && s->occlusion)
        st = ww_sample_alloc_occlusion(out, err, errlen);
    if (st != WW_OK) {
        ww_sample_free(out);
        return st;
    }
    size_t row = (size_t)width;
    for (int y = 0; y < height; y++) {
        size_t src = (size_t)(y0 + y) * (size_t)s->width + (size_t)x0, dst = (size_t)y * row;
        for (int f = 0; f < frames; f++)
            memcpy(out->image[f] + 3 * dst, s->image[f] + 3 * src, 3 * row);
        if (s->occlusion)
            memcpy(out->occlusion + dst, s->occlusion + src, row);
        for (int c = 0; c < channels; c++)
            memcpy(out->target + (size_t)c * row * (size_t)height + dst,
                   s->target + (size_t)c * (size_t)s->width * (size_t)s->height + src,
                   row * sizeof *out->target);
    }
    return WW_OK;
}

static ww_status get_entry(const ww_dataset *d, const ww_entry *e, ww_rng *r, ww_sample *out,
                           char *err, size_t errlen)
{
    ww_sample full = {0};
    ww_status st = WW_OK;
    for (int k = 0; k < ww_task_frames(d->task) && st == WW_OK; k++)
        st = read_frame(d, e, k, &full, err, errlen);
    if (st == WW_OK)
        st = ww_entry_read_target(d, e, &full, err, errlen);
    if (st == WW_OK && d->width && (full.width < d->width || full.height < d->height))
        st = ww_entry_error(d, e, err, errlen, WW_ERR_INVALID,
                            "%s is %dx%d, smaller than the requested %dx%d", e->image[0],
                            full.width, full.height, d->width, d->height);
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
        return ww_io_error(err, errlen, WW_ERR_INVALID, d->source, "sample %lld outside 0..%lld",
                           (long long)index, (long long)d->size - 1);
    /* Each seeding scrambles its input, so the chain keeps every (dataset seed, index, seed)
     * triple on its own stream. */
    ww_rng r;
    ww_rng_seed(&r, d->seed);
    ww_rng_seed(&r, ww_rng_next(&r) ^ (uint64_t)index);
    ww_rng_seed(&r, ww_rng_next(&r) ^ seed);
    if (d->entries)
        return get_entry(d, &d->entries[index], &r, out, err, errlen);
    switch (d->task) {
    case WW_TASK_FLOW:
        return ww_synth_flow(&r, d->width, d->height, out, err, errlen);
    case WW_TASK_DEPTH:
        return ww_synth_depth(&r, d->width, d->height, out, err, errlen);
    default:
        return ww_synth_seg(&r, d->width, d->height, d->classes, out, err, errlen);
    }
}
