#include "metrics.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_error.h"

/* ---- snprintf-style text building ------------------------------------------------------------ */

typedef struct text {
    char *buf;
    size_t cap;
    size_t len; /* what the whole text needs, even past cap */
} text;

static void text_put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = t->len < t->cap ? vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap)
                            : vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k > 0)
        t->len += (size_t)k;
}

static text text_init(char *buf, size_t n)
{
    text t = {buf, buf ? n : 0, 0};
    if (t.cap)
        buf[0] = '\0';
    return t;
}

static int text_end(const text *t)
{
    return t->len > INT_MAX ? INT_MAX : (int)t->len;
}

/* One reported result: how the log line and the JSON fragment show it. Each task lists its
 * results once, so that its log line and its JSON always carry the same ones in the same order. */
typedef struct field {
    const char *label, *fmt, *unit; /* log: "label value-in-fmt unit" */
    const char *key;                /* JSON member name */
    double v;
} field;

enum { MAX_FIELDS = 3 };

/* The log line: fields two spaces apart; "n/a" for NaN (nothing measured), "inf" for infinity. */
static int format_log(const field *f, int n, char *buf, size_t len)
{
    text t = text_init(buf, len);
    for (int i = 0; i < n; i++) {
        const char *sep = i ? "  " : "";
        if (isnan(f[i].v))
            text_put(&t, "%s%s n/a", sep, f[i].label);
        else if (isinf(f[i].v))
            text_put(&t, "%s%s inf", sep, f[i].label);
        else {
            text_put(&t, "%s%s ", sep, f[i].label);
            text_put(&t, f[i].fmt, f[i].v);
            text_put(&t, "%s", f[i].unit);
        }
    }
    return text_end(&t);
}

/* JSON has no NaN or infinity: those become null, which JSON readers take as "no value". */
static int format_json(const field *f, int n, char *buf, size_t len)
{
    text t = text_init(buf, len);
    for (int i = 0; i < n; i++) {
        const char *sep = i ? ", " : "";
        if (isfinite(f[i].v))
            text_put(&t, "%s\"%s\": %.6g", sep, f[i].key, f[i].v);
        else
            text_put(&t, "%s\"%s\": null", sep, f[i].key);
    }
    return text_end(&t);
}

static double ratio(double num, uint64_t den)
{
    return den ? num / (double)den : NAN;
}

/* ---- Optical flow ---------------------------------------------------------------------------- */

void ww_flow_metrics_reset(ww_flow_metrics *m)
{
    memset(m, 0, sizeof *m);
}

void ww_flow_metrics_add(ww_flow_metrics *m, const float *pred, const float *gt, int w, int h)
{
    if (w <= 0 || h <= 0)
        return;
    size_t plane = (size_t)w * (size_t)h;
    for (size_t i = 0; i < plane; i++) {
        double gu = gt[i], gv = gt[plane + i];
        if (!isfinite(gu) || !isfinite(gv) || sqrt(gu * gu + gv * gv) >= WW_FLOW_INVALID_NORM)
            continue;
        double du = (double)pred[i] - gu, dv = (double)pred[plane + i] - gv;
        double e = sqrt(du * du + dv * dv);
        if (!isfinite(e))
            e = INFINITY;
        m->valid++;
        m->epe_sum += e;
        m->over1 += e > 1.0;
        m->over3 += e > 3.0;
    }
}

double ww_flow_metrics_epe(const ww_flow_metrics *m)
{
    return ratio(m->epe_sum, m->valid);
}

double ww_flow_metrics_px1(const ww_flow_metrics *m)
{
    return ratio(100.0 * (double)m->over1, m->valid);
}

double ww_flow_metrics_px3(const ww_flow_metrics *m)
{
    return ratio(100.0 * (double)m->over3, m->valid);
}

static int flow_fields(const ww_flow_metrics *m, field *f)
{
    f[0] = (field){"EPE", "%.4f", "", "epe", ww_flow_metrics_epe(m)};
    f[1] = (field){"1px", "%.2f", "%", "px1", ww_flow_metrics_px1(m)};
    f[2] = (field){"3px", "%.2f", "%", "px3", ww_flow_metrics_px3(m)};
    return 3;
}

int ww_flow_metrics_format(const ww_flow_metrics *m, char *buf, size_t n)
{
    field f[MAX_FIELDS];
    return format_log(f, flow_fields(m, f), buf, n);
}

int ww_flow_metrics_json(const ww_flow_metrics *m, char *buf, size_t n)
{
    field f[MAX_FIELDS];
    return format_json(f, flow_fields(m, f), buf, n);
}

/* ---- Depth ----------------------------------------------------------------------------------- */

void ww_depth_metrics_reset(ww_depth_metrics *m)
{
    memset(m, 0, sizeof *m);
}

void ww_depth_metrics_add(ww_depth_metrics *m, const float *pred_depth, const float *gt_depth,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double g = gt_depth[i];
        if (!isfinite(g) || g <= 0.0)
            continue;
        double p = pred_depth[i];
        if (!isfinite(p) || p <= 0.0)
            p = WW_DEPTH_EPS;
        double d = p - g;
        m->valid++;
        m->absrel_sum += fabs(d) / g;
        m->sq_sum += d * d;
        m->delta1 += (p > g ? p / g : g / p) < 1.25;
    }
}

double ww_depth_metrics_absrel(const ww_depth_metrics *m)
{
    return ratio(m->absrel_sum, m->valid);
}

double ww_depth_metrics_rmse(const ww_depth_metrics *m)
{
    return sqrt(ratio(m->sq_sum, m->valid));
}

double ww_depth_metrics_delta1(const ww_depth_metrics *m)
{
    return ratio(100.0 * (double)m->delta1, m->valid);
}

static int depth_fields(const ww_depth_metrics *m, field *f)
{
    f[0] = (field){"AbsRel", "%.4f", "", "absrel", ww_depth_metrics_absrel(m)};
    f[1] = (field){"RMSE", "%.4f", "", "rmse", ww_depth_metrics_rmse(m)};
    f[2] = (field){"d1", "%.2f", "%", "delta1", ww_depth_metrics_delta1(m)};
    return 3;
}

int ww_depth_metrics_format(const ww_depth_metrics *m, char *buf, size_t n)
{
    field f[MAX_FIELDS];
    return format_log(f, depth_fields(m, f), buf, n);
}

int ww_depth_metrics_json(const ww_depth_metrics *m, char *buf, size_t n)
{
    field f[MAX_FIELDS];
    return format_json(f, depth_fields(m, f), buf, n);
}

/* ---- Semantic segmentation ------------------------------------------------------------------- */

struct ww_seg_metrics {
    int classes;
    /* conf[g * (classes + 1) + p]: labelled pixels of class g predicted as p; the extra last
     * column holds predictions outside [0, classes), which are wrong for every class. */
    uint64_t *conf;
};

ww_status ww_seg_metrics_create(int num_classes, ww_seg_metrics **out, char *err, size_t errlen)
{
    if (!out)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "seg metrics: output pointer is NULL");
    *out = NULL;
    if (num_classes < 1 || num_classes > WW_SEG_MAX_CLASSES)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "seg metrics: class count %d is outside [1, %d]", num_classes,
                              WW_SEG_MAX_CLASSES);
    ww_seg_metrics *m = calloc(1, sizeof *m);
    size_t cells = (size_t)num_classes * (size_t)(num_classes + 1);
    uint64_t *conf = calloc(cells, sizeof *conf);
    if (!m || !conf) {
        free(m);
        free(conf);
        return ww_train_error(err, errlen, WW_ERR_OUT_OF_MEMORY,
                              "seg metrics: out of memory for a %d-class confusion matrix",
                              num_classes);
    }
    m->classes = num_classes;
    m->conf = conf;
    *out = m;
    return WW_OK;
}

void ww_seg_metrics_destroy(ww_seg_metrics *m)
{
    if (!m)
        return;
    free(m->conf);
    free(m);
}

void ww_seg_metrics_reset(ww_seg_metrics *m)
{
    memset(m->conf, 0, (size_t)m->classes * (size_t)(m->classes + 1) * sizeof *m->conf);
}

void ww_seg_metrics_add(ww_seg_metrics *m, const uint32_t *pred, const uint32_t *gt, size_t n)
{
    uint32_t c = (uint32_t)m->classes;
    for (size_t i = 0; i < n; i++) {
        if (gt[i] >= c)
            continue;
        uint32_t p = pred[i] < c ? pred[i] : c;
        m->conf[(size_t)gt[i] * (c + 1) + p]++;
    }
}

/* TP and union (TP + FP + FN) of class cls. */
static void seg_class(const ww_seg_metrics *m, int cls, uint64_t *tp, uint64_t *uni)
{
    size_t stride = (size_t)m->classes + 1;
    uint64_t row = 0, col = 0;
    for (size_t p = 0; p < stride; p++)
        row += m->conf[(size_t)cls * stride + p];
    for (int g = 0; g < m->classes; g++)
        col += m->conf[(size_t)g * stride + (size_t)cls];
    *tp = m->conf[(size_t)cls * stride + (size_t)cls];
    *uni = row + col - *tp;
}

double ww_seg_metrics_iou(const ww_seg_metrics *m, int cls)
{
    if (cls < 0 || cls >= m->classes)
        return NAN;
    uint64_t tp, uni;
    seg_class(m, cls, &tp, &uni);
    return ratio(100.0 * (double)tp, uni);
}

double ww_seg_metrics_miou(const ww_seg_metrics *m)
{
    double sum = 0.0;
    uint64_t present = 0;
    for (int c = 0; c < m->classes; c++) {
        uint64_t tp, uni;
        seg_class(m, c, &tp, &uni);
        if (uni > 0) {
            sum += 100.0 * (double)tp / (double)uni;
            present++;
        }
    }
    return ratio(sum, present);
}

double ww_seg_metrics_pixel_acc(const ww_seg_metrics *m)
{
    size_t stride = (size_t)m->classes + 1;
    uint64_t right = 0, labelled = 0;
    for (int g = 0; g < m->classes; g++) {
        for (size_t p = 0; p < stride; p++)
            labelled += m->conf[(size_t)g * stride + p];
        right += m->conf[(size_t)g * stride + (size_t)g];
    }
    return ratio(100.0 * (double)right, labelled);
}

static int seg_fields(const ww_seg_metrics *m, field *f)
{
    f[0] = (field){"mIoU", "%.2f", "%", "miou", ww_seg_metrics_miou(m)};
    f[1] = (field){"acc", "%.2f", "%", "pixel_acc", ww_seg_metrics_pixel_acc(m)};
    return 2;
}

int ww_seg_metrics_format(const ww_seg_metrics *m, char *buf, size_t n)
{
    field f[MAX_FIELDS];
    return format_log(f, seg_fields(m, f), buf, n);
}

int ww_seg_metrics_json(const ww_seg_metrics *m, char *buf, size_t n)
{
    field f[MAX_FIELDS];
    return format_json(f, seg_fields(m, f), buf, n);
}
