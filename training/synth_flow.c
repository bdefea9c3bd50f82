/* Procedural optical flow pairs (see synth.h): textured layers with their own affine motions,
 * composited in order, with exact flow and occlusion. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_io.h"
#include "synth.h"
#include "texture.h"

#define PI_F 3.14159265358979f
/* Frame-1 pixels per texel of a layer's raster: fine enough for pixel-scale detail, coarse
 * enough that the rasters cost less than the frames. */
#define TEXEL 1.5f

enum { MIN_LAYERS = 3, MAX_LAYERS = 10, MAX_VERTS = 8 };

/* (x, y) -> (a x + b y + tx, c x + d y + ty). */
typedef struct affine {
    float a, b, c, d, tx, ty;
} affine;

static affine aff_mul(affine m, affine n) /* m after n */
{
    return (affine){m.a * n.a + m.b * n.c,          m.a * n.b + m.b * n.d,
                    m.c * n.a + m.d * n.c,          m.c * n.b + m.d * n.d,
                    m.a * n.tx + m.b * n.ty + m.tx, m.c * n.tx + m.d * n.ty + m.ty};
}

static affine aff_inv(affine m)
{
    float det = m.a * m.d - m.b * m.c, a = m.d / det, b = -m.b / det, c = -m.c / det,
          d = m.a / det;
    return (affine){a, b, c, d, -(a * m.tx + b * m.ty), -(c * m.tx + d * m.ty)};
}

static void aff_apply(const affine *m, float x, float y, float *ox, float *oy)
{
    *ox = m->a * x + m->b * y + m->tx;
    *oy = m->c * x + m->d * y + m->ty;
}

/* Rotation by angle, then (x, y) scaled by (sx, sy) first and sheared along x by k. */
static affine aff_linear(float angle, float sx, float sy, float k)
{
    float cs = cosf(angle), sn = sinf(angle);
    affine shape = {sx, k * sy, 0, sy, 0, 0}, rot = {cs, -sn, sn, cs, 0, 0};
    return aff_mul(rot, shape);
}

/* The affine map that applies linear part l about pivot (px, py), then moves by (tx, ty). */
static affine aff_about(affine l, float px, float py, float tx, float ty)
{
    l.tx = px + tx - (l.a * px + l.b * py);
    l.ty = py + ty - (l.c * px + l.d * py);
    return l;
}

enum { SHAPE_PLANE, SHAPE_ELLIPSE, SHAPE_RING, SHAPE_ROUNDRECT, SHAPE_POLYGON };

typedef struct layer {
    int shape;
    float cx, cy, hx, hy; /* centre and half extents in the layer's raster, texels */
    float round;          /* rounded rectangle: corner radius; ring: the hole's radius share */
    int nv;               /* polygon: inside where nx dx + ny dy <= nd for every edge */
    float nx[MAX_VERTS], ny[MAX_VERTS], nd[MAX_VERTS];
    affine place;       /* raster texels -> frame-1 pixels */
    affine motion;      /* frame-1 pixels -> frame-2 pixels */
    affine to_layer[2]; /* frame-f pixels -> raster texels */
    float box[2][4];    /* frame f: x0, y0, x1, y1 of the layer, pixels (unclipped) */
    ww_tex_params look;
    uint64_t seed;
    ww_tex tex;
} layer;

static int covers(const layer *l, float x, float y)
{
    float dx = x - l->cx, dy = y - l->cy;
    switch (l->shape) {
    case SHAPE_ELLIPSE:
    case SHAPE_RING: {
        float u = dx / l->hx, v = dy / l->hy, r2 = u * u + v * v;
        return r2 <= 1 && (l->shape == SHAPE_ELLIPSE || r2 >= l->round * l->round);
    }
    case SHAPE_ROUNDRECT: {
        float qx = fabsf(dx) - (l->hx - l->round), qy = fabsf(dy) - (l->hy - l->round);
        if (qx > l->round || qy > l->round)
            return 0;
        return qx <= 0 || qy <= 0 || qx * qx + qy * qy <= l->round * l->round;
    }
    case SHAPE_POLYGON:
        for (int k = 0; k < l->nv; k++)
            if (l->nx[k] * dx + l->ny[k] * dy > l->nd[k])
                return 0;
        return 1;
    default:
        return 1;
    }
}

/* A translation of heavy-tailed length: most below side / 20, a few up to side / 8. */
static void random_shift(ww_rng *r, float side, float *tx, float *ty)
{
    float u = (float)ww_rng_uniform(r), m = side / 8 * u * u * u;
    float a = ww_tex_uniform(r, 0, 2 * PI_F);
    *tx = m * cosf(a);
    *ty = m * sinf(a);
}

/* Mostly small, now and then up to +-limit. */
static float heavy(ww_rng *r, float limit)
{
    float u = ww_tex_uniform(r, -1, 1);
    return limit * u * u * u;
}

/* A convex polygon of n vertices at jittered angles and radii inside the half extents. */
static void random_polygon(ww_rng *r, layer *l)
{
    l->nv = 3 + (int)ww_rng_below(r, MAX_VERTS - 2);
    float vx[MAX_VERTS], vy[MAX_VERTS], step = 2 * PI_F / (float)l->nv;
    float start = ww_tex_uniform(r, 0, step);
    for (int k = 0; k < MAX_VERTS; k++) { /* every vertex drawn, so the count of draws is fixed */
        /* Jitter below a fifth of a step keeps consecutive vertices less than pi apart, so
         * every edge's half-plane holds the centre. */
        float a = start + step * ((float)k + ww_tex_uniform(r, -0.2f, 0.2f));
        float rad = ww_tex_uniform(r, 0.75f, 1);
        vx[k] = rad * l->hx * cosf(a);
        vy[k] = rad * l->hy * sinf(a);
    }
    for (int k = 0; k < l->nv; k++) { /* counter-clockwise: outward normal (dy, -dx) */
        int n = (k + 1) % l->nv;
        float ex = vx[n] - vx[k], ey = vy[n] - vy[k];
        l->nx[k] = ey;
        l->ny[k] = -ex;
        l->nd[k] = ey * vx[k] - ex * vy[k];
    }
}

/* The pixel box of layer l's raster rectangle [cx -+ hx] x [cy -+ hy] under m. */
static void shape_box(const layer *l, const affine *m, float box[4])
{
    box[0] = box[1] = INFINITY;
    box[2] = box[3] = -INFINITY;
    for (int k = 0; k < 4; k++) {
        float x, y;
        aff_apply(m, l->cx + (k & 1 ? l->hx : -l->hx), l->cy + (k & 2 ? l->hy : -l->hy), &x, &y);
        box[0] = fminf(box[0], x);
        box[1] = fminf(box[1], y);
        box[2] = fmaxf(box[2], x);
        box[3] = fmaxf(box[3], y);
    }
}

/* Draw every random number of the pair first (the count does not depend on the size), in
 * units of the image so that the same draws at another size give the same scene scaled. */
static int random_layers(ww_rng *r, int width, int height, layer *layers)
{
    float w = (float)width, h = (float)height, side = fminf(w, h);
    int n = MIN_LAYERS + (int)ww_rng_below(r, MAX_LAYERS - MIN_LAYERS + 1);
    for (int i = 0; i < n; i++) {
        layer *l = &layers[i];
        memset(l, 0, sizeof *l);
        float tx, ty;
        random_shift(r, side, &tx, &ty);
        if (i == 0) { /* the background moves like a camera: a small roll and zoom */
            l->shape = SHAPE_PLANE;
            float zoom = expf(heavy(r, 0.1f));
            affine lin = aff_linear(heavy(r, 0.06f), zoom, zoom, ww_tex_uniform(r, -0.01f, 0.01f));
            l->motion = aff_about(lin, ww_tex_uniform(r, 0.2f, 0.8f) * w,
                                  ww_tex_uniform(r, 0.2f, 0.8f) * h, tx, ty);
            ww_tex_random(r, ww_tex_uniform(r, 0.04f, 0.25f) * side / TEXEL, &l->look);
        } else {
            uint32_t pick = ww_rng_below(r, 20);
            l->shape = pick < 6 ? SHAPE_ELLIPSE : pick < 8 ? SHAPE_RING
                     : pick < 13 ? SHAPE_ROUNDRECT : SHAPE_POLYGON;
            float radius = side * expf(ww_tex_uniform(r, logf(1 / 20.0f), logf(1 / 2.5f)));
            l->hx = radius * ww_tex_uniform(r, 0.6f, 1) / TEXEL;
            l->hy = radius * ww_tex_uniform(r, 0.3f, 1) / TEXEL;
            float cut = ww_tex_uniform(r, 0.1f, 0.6f);
            l->round = l->shape == SHAPE_RING ? ww_tex_uniform(r, 0.3f, 0.7f)
                                              : cut * fminf(l->hx, l->hy);
            random_polygon(r, l);
            l->cx = l->hx + 2;
            l->cy = l->hy + 2;
            float px = ww_tex_uniform(r, -0.1f, 1.1f) * w, py = ww_tex_uniform(r, -0.1f, 1.1f) * h;
            affine at = aff_linear(ww_tex_uniform(r, 0, 2 * PI_F), TEXEL, TEXEL, 0);
            l->place = aff_about(at, l->cx, l->cy, px - l->cx, py - l->cy);
            float zoom = expf(heavy(r, 0.25f));
            affine lin = aff_linear(heavy(r, 0.35f), zoom * expf(ww_tex_uniform(r, -0.05f, 0.05f)),
                                    zoom, ww_tex_uniform(r, -0.06f, 0.06f));
            l->motion = aff_about(lin, px, py, tx, ty);
            ww_tex_random(r, ww_tex_uniform(r, 0.15f, 0.7f) * radius / TEXEL, &l->look);
        }
        l->seed = ww_rng_next(r);
    }
    return n;
}

/* The background's raster: whatever of it either frame shows, with a margin, at TEXEL pixels
 * per texel. */
static void place_background(layer *l, int width, int height)
{
    float lo[2] = {-1, -1}, hi[2] = {(float)width, (float)height};
    affine back = aff_inv(l->motion);
    for (int k = 0; k < 4; k++) {
        float x, y;
        aff_apply(&back, k & 1 ? (float)width : -1, k & 2 ? (float)height : -1, &x, &y);
        lo[0] = fminf(lo[0], x);
        lo[1] = fminf(lo[1], y);
        hi[0] = fmaxf(hi[0], x);
        hi[1] = fmaxf(hi[1], y);
    }
    l->hx = 0.5f * (hi[0] - lo[0]) / TEXEL + 1;
    l->hy = 0.5f * (hi[1] - lo[1]) / TEXEL + 1;
    l->cx = l->hx + 1;
    l->cy = l->hy + 1;
    l->place = (affine){TEXEL, 0, 0, TEXEL, lo[0] - TEXEL * 2, lo[1] - TEXEL * 2};
}

/* Frame f's top layer at every pixel, the layers painted in order over their boxes. */
static void paint_ids(const layer *layers, int n, int f, int width, int height, uint8_t *ids)
{
    memset(ids, 0, (size_t)width * (size_t)height);
    for (int i = 1; i < n; i++) {
        const layer *l = &layers[i];
        const affine *m = &l->to_layer[f];
        int x0 = (int)fmaxf(0, floorf(l->box[f][0])), y0 = (int)fmaxf(0, floorf(l->box[f][1]));
        int x1 = (int)fminf((float)width - 1, ceilf(l->box[f][2]));
        int y1 = (int)fminf((float)height - 1, ceilf(l->box[f][3]));
        for (int y = y0; y <= y1; y++) {
            uint8_t *row = ids + (size_t)y * (size_t)width;
            for (int x = x0; x <= x1; x++) {
                float u, v;
                aff_apply(m, (float)x, (float)y, &u, &v);
                if (covers(l, u, v))
                    row[x] = (uint8_t)i;
            }
        }
    }
}

static void shade_frame(const layer *layers, int f, int width, int height, const uint8_t *ids,
                        uint8_t *rgb)
{
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            size_t i = (size_t)y * (size_t)width + (size_t)x;
            const layer *l = &layers[ids[i]];
            float u, v;
            aff_apply(&l->to_layer[f], (float)x, (float)y, &u, &v);
            uint32_t c = ww_tex_sample(&l->tex, u, v);
            rgb[3 * i] = (uint8_t)c;
            rgb[3 * i + 1] = (uint8_t)(c >> 8);
            rgb[3 * i + 2] = (uint8_t)(c >> 16);
        }
}

/* Flow of every frame-1 pixel from its top layer's motion, and whether the point is hidden in
 * frame 2: outside the image, or under a later layer there. */
static void flow_and_occlusion(const layer *layers, int n, int width, int height,
                               const uint8_t *ids, ww_sample *out)
{
    size_t plane = (size_t)width * (size_t)height;
    float xmax = (float)width - 0.5f, ymax = (float)height - 0.5f;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            size_t i = (size_t)y * (size_t)width + (size_t)x;
            int top = ids[i];
            float qx, qy;
            aff_apply(&layers[top].motion, (float)x, (float)y, &qx, &qy);
            out->target[i] = qx - (float)x;
            out->target[plane + i] = qy - (float)y;
            int hidden = !(qx >= -0.5f && qx < xmax && qy >= -0.5f && qy < ymax);
            for (int k = top + 1; k < n && !hidden; k++) {
                const layer *l = &layers[k];
                if (qx < l->box[1][0] || qx > l->box[1][2] || qy < l->box[1][1] ||
                    qy > l->box[1][3])
                    continue;
                float u, v;
                aff_apply(&l->to_layer[1], qx, qy, &u, &v);
                hidden = covers(l, u, v);
            }
            out->occlusion[i] = (uint8_t)hidden;
        }
}

ww_status ww_synth_flow(ww_rng *r, int width, int height, ww_sample *out, char *err,
                        size_t errlen)
{
    ww_status st = ww_sample_alloc(out, width, height, 2, 2, err, errlen);
    if (st == WW_OK)
        st = ww_sample_alloc_occlusion(out, err, errlen);
    if (st != WW_OK) {
        ww_sample_free(out);
        return st;
    }
    layer layers[MAX_LAYERS];
    int n = random_layers(r, width, height, layers);
    place_background(&layers[0], width, height);
    for (int i = 0; i < n && st == WW_OK; i++) {
        layer *l = &layers[i];
        l->to_layer[0] = aff_inv(l->place);
        l->to_layer[1] = aff_inv(aff_mul(l->motion, l->place));
        shape_box(l, &l->place, l->box[0]);
        affine moved = aff_mul(l->motion, l->place);
        shape_box(l, &moved, l->box[1]);
        st = ww_tex_make(&l->tex, (int)ceilf(2 * l->cx), (int)ceilf(2 * l->cy), 0, &l->look,
                         l->seed, err, errlen);
    }
    uint8_t *ids = st == WW_OK ? malloc(2 * (size_t)width * (size_t)height) : NULL;
    if (st == WW_OK && !ids)
        st = ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "synthetic",
                         "out of memory for the layer maps of %dx%d", width, height);
    if (st == WW_OK) {
        size_t plane = (size_t)width * (size_t)height;
        for (int f = 0; f < 2; f++) {
            paint_ids(layers, n, f, width, height, ids + (size_t)f * plane);
            shade_frame(layers, f, width, height, ids + (size_t)f * plane, out->image[f]);
        }
        flow_and_occlusion(layers, n, width, height, ids, out);
    }
    free(ids);
    for (int i = 0; i < n; i++)
        ww_tex_free(&layers[i].tex);
    if (st != WW_OK)
        ww_sample_free(out);
    return st;
}
