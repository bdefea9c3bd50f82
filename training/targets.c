/* Reading an entry's target file into a sample, for every target kind, and KITTI calibration
 * files (see dataset_internal.h). */
#include "dataset_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow_io.h"
#include "image_io.h"

enum { MSG_LEN = 1024 };

/* s->target for a w x h target file whose pixel (step x, step y) is the sample's (x, y): the
 * frames' size, or for step 2 twice it. */
static ww_status target_alloc(const ww_dataset *d, const ww_entry *e, int w, int h, int step,
                              ww_sample *s, char *err, size_t errlen)
{
    if (w != step * s->width || h != step * s->height)
        return ww_entry_error(d, e, err, errlen, WW_ERR_INVALID, "%s is %dx%d but %s is %dx%d%s",
                              e->target, w, h, e->image[0], s->width, s->height,
                              e->kind == WW_TARGET_FLO5 ? " (a .flo5 may also be twice as large)"
                                                        : "");
    s->target = malloc((size_t)s->width * (size_t)s->height *
                       (size_t)ww_task_target_channels(d->task) * sizeof *s->target);
    if (!s->target)
        return ww_entry_error(d, e, err, errlen, WW_ERR_OUT_OF_MEMORY,
                              "%s: out of memory for %dx%d", e->target, w, h);
    return WW_OK;
}

/* Converts the values of a PFM target's n pixels (its channels interleaved) into the planes of
 * target. */
typedef void (*pfm_convert)(const float *data, size_t n, float *target);

/* Flow PFMs hold u, v and an unused channel; a pixel whose u or v is not finite has no flow. */
static void flow_from_pfm(const float *data, size_t n, float *target)
{
    for (size_t i = 0; i < n; i++) {
        float u = data[3 * i], v = data[3 * i + 1];
        int ok = isfinite(u) && isfinite(v);
        target[i] = ok ? u : NAN;
        target[n + i] = ok ? v : NAN;
    }
}

/* Depth PFMs hold metres; what is not a positive finite depth is unknown (0). */
static void depth_from_pfm(const float *data, size_t n, float *target)
{
    for (size_t i = 0; i < n; i++)
        target[i] = isfinite(data[i]) && data[i] > 0 ? data[i] : 0;
}

/* A PFM target, which must have `channels` channels (`has` words that rule for the message, e.g.
 * "depth PFM has 1 channel"), its size checked, into s->target through convert. */
static ww_status read_target_pfm(const ww_dataset *d, const ww_entry *e, int channels,
                                 const char *has, pfm_convert convert, ww_sample *s, char *err,
                                 size_t errlen)
{
    char msg[MSG_LEN];
    float *data;
    int w, h, ch;
    ww_status st = ww_pfm_read(e->target, &data, &w, &h, &ch, msg, sizeof msg);
    if (st != WW_OK)
        return ww_entry_error(d, e, err, errlen, st, "%s", msg);
    if (ch != channels)
        st = ww_entry_error(d, e, err, errlen, WW_ERR_INVALID, "%s: a %s, this one %d",
                            e->target, has, ch);
    if (st == WW_OK)
        st = target_alloc(d, e, w, h, 1, s, err, errlen);
    if (st == WW_OK)
        convert(data, (size_t)s->width * (size_t)s->height, s->target);
    free(data);
    return st;
}

/* A PNG target of one gray channel of `depth` bits, its size checked and s->target allocated. On
 * success img holds the file, for the caller to convert and free. */
static ww_status read_target_png(const ww_dataset *d, const ww_entry *e, int depth, ww_sample *s,
                                 ww_img *img, char *err, size_t errlen)
{
    char msg[MSG_LEN];
    ww_status st = ww_img_read_png(e->target, img, msg, sizeof msg);
    if (st != WW_OK)
        return ww_entry_error(d, e, err, errlen, st, "%s", msg);
    if (img->channels != 1 || img->depth != depth)
        st = ww_entry_error(d, e, err, errlen, WW_ERR_INVALID,
                            "%s: want %d-bit gray, got %d-bit with %d channels", e->target,
                            depth, img->depth, img->channels);
    if (st == WW_OK)
        st = target_alloc(d, e, img->width, img->height, 1, s, err, errlen);
    if (st != WW_OK)
        ww_img_free(img);
    return st;
}

static ww_status read_flow(const ww_dataset *d, const ww_entry *e, ww_sample *s, char *err,
                           size_t errlen)
{
    if (e->kind == WW_TARGET_FLOW_PFM)
        return read_target_pfm(d, e, 3, "flow PFM has 3 channels (u, v, unused)", flow_from_pfm,
                               s, err, errlen);
    char msg[MSG_LEN];
    ww_flow f;
    ww_status st =
        e->kind == WW_TARGET_FLO          ? ww_flo_read(e->target, &f, msg, sizeof msg)
        : e->kind == WW_TARGET_KITTI_FLOW ? ww_kitti_flow_read(e->target, &f, msg, sizeof msg)
                                          : ww_flo5_read(e->target, &f, msg, sizeof msg);
    if (st != WW_OK)
        return ww_entry_error(d, e, err, errlen, st, "%s", msg);
    /* Spring's ground truth has 2x2 values per frame pixel, in frame pixels: the top-left one
     * stands for the pixel, as in Spring's own loader (flow[::2, ::2]). */
    int step = e->kind == WW_TARGET_FLO5 && f.width == 2 * s->width &&
                       f.height == 2 * s->height
                   ? 2
                   : 1;
    st = target_alloc(d, e, f.width, f.height, step, s, err, errlen);
    size_t n = (size_t)s->width * (size_t)s->height;
    for (int y = 0; st == WW_OK && y < s->height; y++)
        for (int x = 0; x < s->width; x++) {
            size_t i = (size_t)y * (size_t)s->width + (size_t)x;
            size_t j = (size_t)(step * y) * (size_t)f.width + (size_t)(step * x);
            int ok = !f.valid || f.valid[j];
            s->target[i] = ok ? f.uv[2 * j] : NAN;
            s->target[n + i] = ok ? f.uv[2 * j + 1] : NAN;
        }
    ww_flow_free(&f);
    return st;
}

static ww_status read_depth(const ww_dataset *d, const ww_entry *e, ww_sample *s, char *err,
                            size_t errlen)
{
    if (e->kind == WW_TARGET_DEPTH_PFM)
        return read_target_pfm(d, e, 1, "depth PFM has 1 channel", depth_from_pfm, s, err,
                               errlen);
    ww_img img;
    ww_status st = read_target_png(d, e, 16, s, &img, err, errlen);
    if (st != WW_OK)
        return st;
    size_t n = (size_t)s->width * (size_t)s->height;
    const uint16_t *v = img.data;
    for (size_t i = 0; i < n; i++)
        s->target[i] = e->kind == WW_TARGET_DEPTH_PNG ? (float)v[i] / e->depth_scale
                       : v[i]                         ? e->focal_baseline * 256.0f / (float)v[i]
                                                      : 0;
    ww_img_free(&img);
    return WW_OK;
}

static ww_status read_labels(const ww_dataset *d, const ww_entry *e, ww_sample *s, char *err,
                             size_t errlen)
{
    ww_img img;
    ww_status st = read_target_png(d, e, 8, s, &img, err, errlen);
    if (st != WW_OK)
        return st;
    const uint8_t *values = img.data;
    for (int y = 0; st == WW_OK && y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            size_t i = (size_t)y * (size_t)img.width + (size_t)x;
            int id = d->labels.map[values[i]];
            if (id >= d->classes && id != WW_SEG_IGNORE) {
                st = ww_entry_error(d, e, err, errlen, WW_ERR_INVALID,
                                    "%s: label %d at (%d, %d) is not a class (0..%d) nor %d",
                                    e->target, values[i], x, y, d->classes - 1, WW_SEG_IGNORE);
                break;
            }
            s->target[i] = (float)id;
        }
    ww_img_free(&img);
    return st;
}

ww_status ww_entry_read_target(const ww_dataset *d, const ww_entry *e, ww_sample *s, char *err,
                               size_t errlen)
{
    switch (d->task) {
    case WW_TASK_FLOW:
        return read_flow(d, e, s, err, errlen);
    case WW_TASK_DEPTH:
        return read_depth(d, e, s, err, errlen);
    default:
        return read_labels(d, e, s, err, errlen);
    }
}

/* ---- KITTI calibration ---------------------------------------------------------------------- */

/* The projection matrices a calibration may hold: a left and right pair of each KITTI release. */
static const char *const calib_keys[4] = {"P0:", "P1:", "P_rect_02:", "P_rect_03:"};

static ww_status parse_calib(const char *path, char *text, double p[4][12], int have[4],
                             char *err, size_t errlen)
{
    char *cursor = text, *line;
    for (int lineno = 1; (line = ww_text_line(&cursor)); lineno++) {
        char *tok[14];
        int nt = ww_text_split(line, tok, 14);
        for (int k = 0; nt > 0 && k < 4; k++) {
            if (strcmp(tok[0], calib_keys[k]) != 0)
                continue;
            if (nt != 13)
                return ww_text_error(err, errlen, WW_ERR_INVALID, path, lineno,
                                     "%s has %d numbers, want 12 (a 3x4 projection matrix)",
                                     calib_keys[k], nt - 1);
            for (int j = 0; j < 12; j++) {
                char *end;
                errno = 0;
                p[k][j] = strtod(tok[1 + j], &end);
                if (errno || end == tok[1 + j] || *end || !isfinite(p[k][j]))
                    return ww_text_error(err, errlen, WW_ERR_INVALID, path, lineno,
                                         "%s: '%s' is not a number", calib_keys[k], tok[1 + j]);
            }
            have[k] = 1;
        }
    }
    return WW_OK;
}

static ww_status kitti_calib_read(const char *path, float *focal_baseline, char *err,
                                  size_t errlen)
{
    char *text;
    ww_status st = ww_text_read(path, &text, err, errlen);
    if (st != WW_OK)
        return st;
    double p[4][12];
    int have[4] = {0};
    st = parse_calib(path, text, p, have, err, errlen);
    free(text);
    if (st != WW_OK)
        return st;
    int left = have[0] && have[1] ? 0 : have[2] && have[3] ? 2 : -1;
    if (left < 0)
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "no stereo calibration: want the lines P0: and P1: (KITTI 2012) or "
                           "P_rect_02: and P_rect_03: (KITTI 2015)");
    /* A rectified camera's P[3] is f times its x offset from the reference camera. */
    double f = p[left][0], baseline = (p[left][3] - p[left + 1][3]) / f;
    if (!(f > 0) || !(baseline > 0))
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "%s and %s give focal length %g px and baseline %g m: not a stereo "
                           "rig",
                           calib_keys[left], calib_keys[left + 1], f, baseline);
    *focal_baseline = (float)(f * baseline);
    return WW_OK;
}

ww_status ww_entry_read_calib(const ww_dataset *d, ww_entry *e, const char *calib, char *err,
                              size_t errlen)
{
    if (!calib)
        return ww_entry_error(d, e, err, errlen, WW_ERR_OUT_OF_MEMORY, "out of memory");
    char msg[MSG_LEN];
    ww_status st = kitti_calib_read(calib, &e->focal_baseline, msg, sizeof msg);
    return st == WW_OK ? WW_OK : ww_entry_error(d, e, err, errlen, st, "%s", msg);
}
