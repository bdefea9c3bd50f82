/* Samples -> the host arrays of one micro-batch (see batch.h). */
#include "batch.h"

#include <math.h>
#include <string.h>

#include "train_error.h"
#include "windows.h"

#define PATCH 16

static int sizes_of(const ww_batch_spec *s, int *groups, int *th, int *tw)
{
    *groups = s->windows > 0 ? s->windows : 1;
    *th = s->windows > 0 ? PATCH * s->window_size : s->height;
    *tw = s->windows > 0 ? PATCH * s->window_size : s->width;
    return ww_task_frames(s->task);
}

void ww_batch_sizes(const ww_batch_spec *s, size_t *images, size_t *windows, size_t *target,
                    size_t *weight)
{
    int groups, th, tw, frames = sizes_of(s, &groups, &th, &tw);
    size_t b = (size_t)s->batch, pixels = (size_t)th * (size_t)tw;
    *images = b * (size_t)frames * 3 * (size_t)s->width * (size_t)s->height;
    *windows = s->windows > 0 ? b * (size_t)frames * (size_t)s->windows * 2 : 0;
    *target = b * (size_t)groups * (size_t)ww_task_target_channels(s->task) * pixels;
    *weight = b * (size_t)groups * pixels;
}

ww_status ww_batch_check(const ww_batch_spec *s, char *err, size_t errlen)
{
    if (s->task != WW_TASK_FLOW && s->task != WW_TASK_DEPTH && s->task != WW_TASK_SEG)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "batch: unknown task %d",
                              (int)s->task);
    if (s->batch < 1)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "batch: batch %d < 1", s->batch);
    if (s->width < PATCH || s->height < PATCH || s->width % PATCH || s->height % PATCH)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "batch: size %dx%d is not a positive multiple of %d", s->width,
                              s->height, PATCH);
    if (s->windows < 0)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "batch: windows %d < 0", s->windows);
    if (s->task == WW_TASK_SEG && s->classes < 1)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "batch: classes %d < 1", s->classes);
    for (int c = 0; c < 3; c++)
        if (!isfinite(s->mean[c]) || !isfinite(s->std[c]) || s->std[c] == 0)
            return ww_train_error(err, errlen, WW_ERR_INVALID,
                                  "batch: normalisation of channel %d: mean %g, std %g", c,
                                  s->mean[c], s->std[c]);
    int gh = s->height / PATCH, gw = s->width / PATCH;
    if (s->windows > 0 && ww_windows_capacity(gh, gw, s->window_size) < s->windows)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "batch: %d windows of %d tokens do not fit the %dx%d token grid",
                              s->windows, s->window_size, gw, gh);
    return WW_OK;
}

static ww_status check_samples(const ww_batch_spec *s, const ww_sample *samples, char *err,
                               size_t errlen)
{
    for (int b = 0; b < s->batch; b++) {
        const ww_sample *x = &samples[b];
        if (x->width != s->width || x->height != s->height)
            return ww_train_error(err, errlen, WW_ERR_INVALID,
                                  "batch: sample %d is %dx%d, the batch is %dx%d", b, x->width,
                                  x->height, s->width, s->height);
        if (!x->image[0] || !x->target || (s->task == WW_TASK_FLOW && !x->image[1]))
            return ww_train_error(err, errlen, WW_ERR_INVALID,
                                  "batch: sample %d lacks its %s", b,
                                  !x->target ? "target" : x->image[0] ? "second frame" : "image");
    }
    return WW_OK;
}

/* The target of pixel i of a sample of `plane` pixels, as the loss wants it; 0 when invalid. */
static int convert(const ww_batch_spec *s, const float *src, size_t i, size_t plane, float *dst,
                   size_t dst_plane)
{
    float v = src[i];
    switch (s->task) {
    case WW_TASK_FLOW: {
        float u = v, w = src[plane + i];
        int ok = isfinite(u) && isfinite(w) &&
                 u * u + w * w < WW_FLOW_MAX_NORM * WW_FLOW_MAX_NORM;
        dst[0] = ok ? u : 0;
        dst[dst_plane] = ok ? w : 0;
        return ok;
    }
    case WW_TASK_DEPTH: {
        int ok = isfinite(v) && v > 0;
        dst[0] = ok ? 1 / v : 0;
        return ok;
    }
    default: {
        int ok = v >= 0 && v < (float)s->classes; /* NaN fails too; 255 is ignore */
        dst[0] = ok ? v : 0;
        return ok;
    }
    }
}

ww_status ww_batch_fill(const ww_batch_spec *s, const ww_sample *samples, ww_rng *rng,
                        float *images, uint32_t *windows, float *target, float *weight,
                        int64_t *valid_out, char *err, size_t errlen)
{
    ww_status st = ww_batch_check(s, err, errlen);
    if (st == WW_OK)
        st = check_samples(s, samples, err, errlen);
    if (st != WW_OK)
        return st;
    int groups, th, tw, frames = sizes_of(s, &groups, &th, &tw);
    int B = s->batch, n = s->windows, channels = ww_task_target_channels(s->task);
    if (n > 0 && !windows)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "batch: %d windows but no array", n);

    /* Windows first: the targets are cut from them. */
    size_t per_image = 2 * (size_t)n;
    for (int b = 0; b < B && n > 0; b++) {
        for (int f = 0; f < frames && st == WW_OK; f++) {
            uint32_t *w = windows + ((size_t)f * (size_t)B + (size_t)b) * per_image;
            if (f == 0 || s->independent_windows)
                st = ww_windows_sample(rng, s->height / PATCH, s->width / PATCH, n,
                                       s->window_size, w, err, errlen);
            else
                memcpy(w, windows + (size_t)b * per_image, per_image * sizeof *w);
        }
        if (st != WW_OK)
            return st;
    }

    /* Images through a table per channel: 256 values instead of a division per pixel. */
    size_t plane = (size_t)s->width * (size_t)s->height;
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = ((float)v / 255.0f - s->mean[c]) / s->std[c];
    for (int f = 0; f < frames; f++)
        for (int b = 0; b < B; b++) {
            const uint8_t *src = samples[b].image[f];
            float *dst = images + ((size_t)f * (size_t)B + (size_t)b) * 3 * plane;
            for (int c = 0; c < 3; c++)
                for (size_t i = 0; i < plane; i++)
                    dst[(size_t)c * plane + i] = lut[c][src[3 * i + (size_t)c]];
        }

    size_t tplane = (size_t)th * (size_t)tw;
    int64_t valid = 0;
    for (int b = 0; b < B; b++)
        for (int g = 0; g < groups; g++) {
            size_t slot = (size_t)b * (size_t)groups + (size_t)g;
            const uint32_t *w = n > 0 ? windows + (size_t)b * per_image + 2 * (size_t)g : NULL;
            size_t y0 = w ? PATCH * (size_t)w[0] : 0, x0 = w ? PATCH * (size_t)w[1] : 0;
            float *t = target + slot * (size_t)channels * tplane, *wt = weight + slot * tplane;
            for (size_t y = 0; y < (size_t)th; y++)
                for (size_t x = 0; x < (size_t)tw; x++) {
                    size_t i = y * (size_t)tw + x;
                    int ok = convert(s, samples[b].target, (y0 + y) * (size_t)s->width + x0 + x,
                                     plane, t + i, tplane);
                    wt[i] = (float)ok;
                    valid += ok;
                }
        }
    if (valid > 0) {
        float share = 1.0f / (float)valid;
        size_t nw = (size_t)B * (size_t)groups * tplane;
        for (size_t i = 0; i < nw; i++)
            weight[i] *= share;
    }
    if (valid_out)
        *valid_out = valid;
    return WW_OK;
}
