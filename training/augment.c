/* Augmentation of one sample (see augment.h). */
#include "augment.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "train_error.h"

#define MAX_SCALE 16.0f

ww_augment ww_augment_default(ww_task task, int width, int height)
{
    int seg = task == WW_TASK_SEG;
    return (ww_augment){.scale_min = seg ? 0.5f : 0.8f, .scale_max = seg ? 2.0f : 1.25f,
                        .flip = 1, .vflip = task == WW_TASK_FLOW ? 0.1f : 0.0f,
                        .brightness = 0.2f, .contrast = 0.2f, .saturation = 0.2f, .hue = 0.05f,
                        .width = width, .height = height};
}

/* printf at text's end, within len bytes in all. */
static void append(char *text, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *text, size_t len, const char *fmt, ...)
{
    size_t n = strlen(text);
    if (n + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + n, len - n, fmt, ap);
    va_end(ap);
}

void ww_augment_describe(const ww_augment *a, char *text, size_t len)
{
    if (!len)
        return;
    int jitter = a->brightness > 0 || a->contrast > 0 || a->saturation > 0 || a->hue > 0;
    if (a->scale_min == 1 && a->scale_max == 1 && !a->flip && !(a->vflip > 0) && !jitter) {
        snprintf(text, len, "none (random crops only)");
        return;
    }
    snprintf(text, len, "zoom %.3g..%.3g", a->scale_min, a->scale_max);
    if (a->flip)
        append(text, len, ", left-right mirror");
    if (a->vflip > 0)
        append(text, len, ", up-down mirror p %.2g", a->vflip);
    if (jitter)
        append(text, len, ", jitter brightness %.2g contrast %.2g saturation %.2g hue %.2g",
               a->brightness, a->contrast, a->saturation, a->hue);
}

/* NaN is in no range. */
static int within(float v, float lo, float hi)
{
    return v >= lo && v <= hi;
}

ww_status ww_augment_check(const ww_augment *a, char *err, size_t errlen)
{
    if (!(a->scale_min > 0) || !within(a->scale_max, a->scale_min, MAX_SCALE))
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "augment: scale %g..%g is not within 0 < min <= max <= %g",
                              a->scale_min, a->scale_max, MAX_SCALE);
    if (!within(a->vflip, 0, 1))
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "augment: up-down mirror probability %g is not within 0..1",
                              a->vflip);
    const float strength[3] = {a->brightness, a->contrast, a->saturation};
    static const char *const names[3] = {"brightness", "contrast", "saturation"};
    for (int k = 0; k < 3; k++)
        if (!within(strength[k], 0, 1))
            return ww_train_error(err, errlen, WW_ERR_INVALID,
                                  "augment: %s jitter %g is not within 0..1", names[k],
                                  strength[k]);
    if (!within(a->hue, 0, 0.5f))
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "augment: hue jitter %g is not within 0..0.5 turns", a->hue);
    if (a->width < 1 || a->height < 1)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "augment: output size %dx%d",
                              a->width, a->height);
    return WW_OK;
}

/* ---- Geometry -------------------------------------------------------------------------------- */

/* Where one output column (or row) reads: the source pixels either side of its position, the
 * weight of the second (w, and w8 in 1/256 for the images' fixed-point blend), the nearest. */
typedef struct tap {
    int lo, hi, near;
    float w;
    int w8;
} tap;

static void make_taps(tap *t, int n, int src_n, double s, int offset, int mirror)
{
    for (int i = 0; i < n; i++) {
        int o = mirror ? n - 1 - i : i;
        double p = ((double)(o + offset) + 0.5) / s - 0.5;
        /* Positions past the outer pixel centres (half a pixel at most) read the edge. */
        p = p < 0 ? 0 : p > src_n - 1 ? src_n - 1 : p;
        int lo = (int)p;
        double w = p - lo;
        t[i] = (tap){.lo = lo, .hi = lo + 1 < src_n ? lo + 1 : lo, .w = (float)w,
                     .w8 = (int)(w * 256 + 0.5)};
        t[i].near = w < 0.5 ? t[i].lo : t[i].hi;
    }
}

static void resample_rgb(const uint8_t *src, int src_w, const tap *tx, int w, const tap *ty,
                         int h, uint8_t *dst)
{
    for (int y = 0; y < h; y++) {
        const uint8_t *a = src + (size_t)ty[y].lo * (size_t)src_w * 3;
        const uint8_t *b = src + (size_t)ty[y].hi * (size_t)src_w * 3;
        uint32_t wy = (uint32_t)ty[y].w8;
        uint8_t *out = dst + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++) {
            size_t lo = 3 * (size_t)tx[x].lo, hi = 3 * (size_t)tx[x].hi;
            uint32_t wx = (uint32_t)tx[x].w8;
            for (int k = 0; k < 3; k++) {
                uint32_t top = a[lo + k] * (256 - wx) + a[hi + k] * wx;
                uint32_t bottom = b[lo + k] * (256 - wx) + b[hi + k] * wx;
                out[3 * x + k] = (uint8_t)((top * (256 - wy) + bottom * wy + 32768) >> 16);
            }
        }
    }
}

static int flow_valid(float u, float v)
{
    return isfinite(u) && isfinite(v) && u * u + v * v < WW_FLOW_MAX_NORM * WW_FLOW_MAX_NORM;
}

/* Flow at the output pixels: valid where the nearest source pixel is, then the weighted mean of
 * the valid ones around, times the zoom and the mirrors' signs (fu, fv). */
static void resample_flow(const ww_sample *in, const tap *tx, const tap *ty, float fu, float fv,
                          ww_sample *out)
{
    size_t sn = (size_t)in->width * (size_t)in->height;
    size_t on = (size_t)out->width * (size_t)out->height;
    const float *su = in->target, *sv = in->target + sn;
    for (int y = 0; y < out->height; y++) {
        size_t rows[2] = {(size_t)ty[y].lo * (size_t)in->width,
                          (size_t)ty[y].hi * (size_t)in->width};
        float wr[2] = {1 - ty[y].w, ty[y].w};
        size_t near_row = (size_t)ty[y].near * (size_t)in->width;
        for (int x = 0; x < out->width; x++) {
            size_t o = (size_t)y * (size_t)out->width + (size_t)x;
            size_t n = near_row + (size_t)tx[x].near;
            out->target[o] = out->target[on + o] = NAN;
            if (!flow_valid(su[n], sv[n]))
                continue;
            size_t cols[2] = {(size_t)tx[x].lo, (size_t)tx[x].hi};
            float wc[2] = {1 - tx[x].w, tx[x].w}, u = 0, v = 0, sum = 0;
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) {
                    size_t p = rows[i] + cols[j];
                    if (!flow_valid(su[p], sv[p]))
                        continue;
                    float wt = wr[i] * wc[j];
                    u += wt * su[p];
                    v += wt * sv[p];
                    sum += wt;
                }
            out->target[o] = u / sum * fu;
            out->target[on + o] = v / sum * fv;
        }
    }
}

/* Depth divided by the zoom (0 stays 0), ids and the occlusion mask as they are: each output
 * pixel takes its nearest source pixel's value. */
static void resample_nearest(const ww_sample *in, ww_task task, const tap *tx, const tap *ty,
                             float zoom, ww_sample *out)
{
    for (int y = 0; y < out->height; y++) {
        size_t row = (size_t)ty[y].near * (size_t)in->width;
        for (int x = 0; x < out->width; x++) {
            size_t o = (size_t)y * (size_t)out->width + (size_t)x, n = row + (size_t)tx[x].near;
            if (task == WW_TASK_DEPTH)
                out->target[o] = in->target[n] / zoom;
            else if (task == WW_TASK_SEG)
                out->target[o] = in->target[n];
            if (out->occlusion)
                out->occlusion[o] = in->occlusion[n];
        }
    }
}

/* ---- Colour ---------------------------------------------------------------------------------- */

typedef struct colour_map {
    float m[3][3], o[3]; /* rgb' = m rgb + o, on 0..255 */
} colour_map;

static const float luma[3] = {0.299f, 0.587f, 0.114f};

/* map = a after map. */
static void compose(colour_map *map, const float a[3][3])
{
    colour_map r = {0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            for (int k = 0; k < 3; k++)
                r.m[i][j] += a[i][k] * map->m[k][j];
            r.o[i] += a[i][j] * map->o[j];
        }
    *map = r;
}

static float mean_gray(const uint8_t *rgb, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += luma[0] * rgb[3 * i] + luma[1] * rgb[3 * i + 1] + luma[2] * rgb[3 * i + 2];
    return n ? (float)(sum / (double)n) : 0;
}

/* The jitter's affine map for factors b, c, t and a hue turn of `turn`; gray is the image's mean
 * gray before the jitter. */
static colour_map jitter_map(float b, float c, float t, float turn, float gray)
{
    colour_map map = {.m = {{b, 0, 0}, {0, b, 0}, {0, 0, b}}};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            map.m[i][j] *= c;
        map.o[i] = (1 - c) * b * gray;
    }
    float sat[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            sat[i][j] = (1 - t) * luma[j] + (i == j ? t : 0);
    compose(&map, sat);
    /* Hue: rotate (I, Q) of YIQ, which leaves gray (Y) alone. */
    static const float to_yiq[3][3] = {
        {0.299f, 0.587f, 0.114f}, {0.596f, -0.274f, -0.322f}, {0.211f, -0.523f, 0.312f}};
    static const float from_yiq[3][3] = {
        {1.0f, 0.956f, 0.621f}, {1.0f, -0.272f, -0.647f}, {1.0f, -1.106f, 1.703f}};
    if (turn != 0) {
        float cs = cosf(6.2831853f * turn), sn = sinf(6.2831853f * turn);
        const float rot[3][3] = {{1, 0, 0}, {0, cs, -sn}, {0, sn, cs}};
        compose(&map, to_yiq);
        compose(&map, rot);
        compose(&map, from_yiq);
    }
    return map;
}

/* Per pixel in fixed point (1/4096): exact integer sums, and cheaper than floats. */
static void apply_colour(const colour_map *map, uint8_t *rgb, size_t n)
{
    int32_t m[3][3], o[3];
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < 3; j++)
            m[k][j] = (int32_t)lrintf(4096 * map->m[k][j]);
        o[k] = (int32_t)lrintf(4096 * map->o[k]) + 2048;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t p[3] = {rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]};
        for (int k = 0; k < 3; k++) {
            int32_t v = m[k][0] * p[0] + m[k][1] * p[1] + m[k][2] * p[2] + o[k];
            rgb[3 * i + (size_t)k] = (uint8_t)(v <= 0 ? 0 : v >= 255 * 4096 ? 255 : v >> 12);
        }
    }
}

/* A factor uniform in [1 - x, 1 + x], drawn only when x is on. */
static float factor(ww_rng *r, float x)
{
    return x > 0 ? 1 + x * (float)(2 * ww_rng_uniform(r) - 1) : 1;
}

/* ---- The whole augmentation ------------------------------------------------------------------ */

ww_status ww_augment_apply(const ww_augment *a, ww_task task, const ww_sample *in, ww_rng *r,
                           ww_sample *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    ww_status st = ww_augment_check(a, err, errlen);
    if (st != WW_OK)
        return st;
    if (task != WW_TASK_FLOW && task != WW_TASK_DEPTH && task != WW_TASK_SEG)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "augment: unknown task %d",
                              (int)task);
    int frames = ww_task_frames(task);
    if (in->width < 1 || in->height < 1 || !in->image[0] || !in->target ||
        (frames == 2 && !in->image[1]))
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "augment: the %dx%d %s sample lacks arrays", in->width, in->height,
                              ww_task_name(task));

    /* Draws in a fixed order: zoom, crop, mirrors, jitter. */
    double s = a->scale_min;
    if (a->scale_max > a->scale_min) {
        double lo = log(a->scale_min), hi = log(a->scale_max);
        s = exp(lo + (hi - lo) * ww_rng_uniform(r));
    }
    s = fmax(s, fmax((double)a->width / in->width, (double)a->height / in->height));
    /* The 1e-6 absorbs rounding when s was raised to fit exactly. */
    int span_x = (int)fmax(0, floor(in->width * s - a->width + 1e-6));
    int span_y = (int)fmax(0, floor(in->height * s - a->height + 1e-6));
    int x0 = (int)ww_rng_below(r, (uint32_t)span_x + 1);
    int y0 = (int)ww_rng_below(r, (uint32_t)span_y + 1);
    int hflip = a->flip && ww_rng_uniform(r) < 0.5;
    int vflip = task == WW_TASK_FLOW && a->vflip > 0 && ww_rng_uniform(r) < a->vflip;
    float b = factor(r, a->brightness), c = factor(r, a->contrast), t = factor(r, a->saturation);
    float turn = a->hue > 0 ? a->hue * (float)(2 * ww_rng_uniform(r) - 1) : 0;

    st = ww_sample_alloc(out, a->width, a->height, frames, ww_task_target_channels(task), err,
                         errlen);
    if (st == WW_OK && task == WW_TASK_FLOW && in->occlusion)
        st = ww_sample_alloc_occlusion(out, err, errlen);
    tap *tx = st == WW_OK ? malloc(((size_t)a->width + (size_t)a->height) * sizeof *tx) : NULL;
    if (st == WW_OK && !tx)
        st = ww_train_error(err, errlen, WW_ERR_OUT_OF_MEMORY,
                            "augment: out of memory for a %dx%d sample", a->width, a->height);
    if (st != WW_OK) {
        ww_sample_free(out);
        return st;
    }
    tap *ty = tx + a->width;
    make_taps(tx, a->width, in->width, s, x0, hflip);
    make_taps(ty, a->height, in->height, s, y0, vflip);

    size_t n = (size_t)a->width * (size_t)a->height;
    for (int f = 0; f < frames; f++)
        resample_rgb(in->image[f], in->width, tx, a->width, ty, a->height, out->image[f]);
    if (a->brightness > 0 || a->contrast > 0 || a->saturation > 0 || a->hue > 0) {
        colour_map map = jitter_map(b, c, t, turn, mean_gray(out->image[0], n));
        for (int f = 0; f < frames; f++)
            apply_colour(&map, out->image[f], n);
    }
    if (task == WW_TASK_FLOW)
        resample_flow(in, tx, ty, (float)s * (hflip ? -1.0f : 1.0f),
                      (float)s * (vflip ? -1.0f : 1.0f), out);
    if (task != WW_TASK_FLOW || out->occlusion)
        resample_nearest(in, task, tx, ty, (float)s, out);
    free(tx);
    return WW_OK;
}
