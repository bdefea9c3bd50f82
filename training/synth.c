/* Procedural flow, depth and segmentation samples (see synth.h). */
#include "synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_io.h"

#define PI_F 3.14159265358979f

static float uniform(ww_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)ww_rng_uniform(r);
}

static uint8_t to_u8(float v)
{
    return (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : lrintf(v));
}

/* ---- Textures --------------------------------------------------------------------------------
 * A texture is a continuous function of position (value noise and a sinusoid), so a layer can
 * be sampled at any sub-pixel offset exactly: no resampling of a raster, hence exact warps. */

/* Integer hash (Wellons' lowbias32): lattice values of the noise, unbounded in x and y so a
 * texture can be sampled wherever a moved layer lands. */
static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static float lattice(uint32_t seed, int32_t x, int32_t y)
{
    uint32_t h = hash32(seed ^ hash32((uint32_t)x ^ hash32((uint32_t)y + 0x9e3779b9u)));
    return (float)(h >> 8) * (1.0f / 16777216.0f) - 0.5f;
}

/* Value noise in [-0.5, 0.5): lattice values blended with smoothstep weights. */
static float value_noise(uint32_t seed, float x, float y)
{
    float fx = floorf(x), fy = floorf(y);
    int32_t ix = (int32_t)fx, iy = (int32_t)fy;
    float tx = x - fx, ty = y - fy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    float a = lattice(seed, ix, iy), b = lattice(seed, ix + 1, iy);
    float c = lattice(seed, ix, iy + 1), d = lattice(seed, ix + 1, iy + 1);
    float top = a + (b - a) * tx, bottom = c + (d - c) * tx;
    return top + (bottom - top) * ty;
}

enum { OCTAVES = 3 };

typedef struct texture {
    float base[3];
    uint32_t seed[OCTAVES];
    float cell[OCTAVES];       /* feature size of each octave, in the caller's units */
    float colour[OCTAVES][3];  /* the colour each octave's noise moves along */
    float wave[2], phase;      /* one sinusoid: wave vector (radians per unit) and phase */
    float wave_colour[3];
} texture;

static void texture_eval(const texture *t, float x, float y, float rgb[3])
{
    float s = sinf(t->wave[0] * x + t->wave[1] * y + t->phase);
    for (int c = 0; c < 3; c++)
        rgb[c] = t->base[c] + t->wave_colour[c] * s;
    for (int o = 0; o < OCTAVES; o++) {
        float n = value_noise(t->seed[o], x / t->cell[o], y / t->cell[o]);
        for (int c = 0; c < 3; c++)
            rgb[c] += t->colour[o][c] * n;
    }
}

/* A texture around colour base (0..255) with features of about `feature` units: octaves at
 * feature, feature / 2, feature / 4, their colours random directions of shrinking amplitude. */
static void texture_random(ww_rng *r, const float base[3], float feature, float amplitude,
                           texture *t)
{
    memcpy(t->base, base, sizeof t->base);
    float cell = feature * uniform(r, 0.7f, 1.4f), amp = amplitude;
    for (int o = 0; o < OCTAVES; o++, cell *= 0.5f, amp *= 0.55f) {
        t->seed[o] = (uint32_t)ww_rng_next(r);
        t->cell[o] = cell;
        for (int c = 0; c < 3; c++)
            t->colour[o][c] = amp * uniform(r, -1, 1);
    }
    float angle = uniform(r, 0, PI_F), k = 2 * PI_F / (feature * uniform(r, 0.5f, 2.0f));
    t->wave[0] = k * cosf(angle);
    t->wave[1] = k * sinf(angle);
    t->phase = uniform(r, 0, 2 * PI_F);
    for (int c = 0; c < 3; c++)
        t->wave_colour[c] = amplitude * uniform(r, -0.3f, 0.3f);
}

static void random_colour(ww_rng *r, float lo, float hi, float rgb[3])
{
    for (int c = 0; c < 3; c++)
        rgb[c] = uniform(r, lo, hi);
}

/* ---- Shapes ---------------------------------------------------------------------------------- */

enum { SHAPE_PLANE, SHAPE_RECT, SHAPE_ELLIPSE };

typedef struct shape {
    int kind;
    float cx, cy, hx, hy; /* centre and half extents along the shape's own axes */
    float cosa, sina;     /* orientation */
} shape;

static void shape_random(ww_rng *r, float cx, float cy, float min_half, float max_half,
                         shape *s)
{
    s->kind = ww_rng_below(r, 2) ? SHAPE_RECT : SHAPE_ELLIPSE;
    s->cx = cx;
    s->cy = cy;
    s->hx = uniform(r, min_half, max_half);
    s->hy = uniform(r, min_half, max_half);
    float a = uniform(r, 0, PI_F);
    s->cosa = cosf(a);
    s->sina = sinf(a);
}

static int shape_covers(const shape *s, float x, float y)
{
    if (s->kind == SHAPE_PLANE)
        return 1;
    float dx = x - s->cx, dy = y - s->cy;
    float u = (dx * s->cosa + dy * s->sina) / s->hx, v = (dy * s->cosa - dx * s->sina) / s->hy;
    if (s->kind == SHAPE_RECT)
        return fabsf(u) <= 1 && fabsf(v) <= 1;
    return u * u + v * v <= 1;
}

/* ---- Flow ------------------------------------------------------------------------------------ */

enum { MAX_LAYERS = 4 };

typedef struct layer {
    shape shape; /* where the layer is in frame 1 */
    texture tex; /* in frame-1 pixel coordinates of the layer */
    float t[2];  /* translation from frame 1 to frame 2, pixels */
} layer;

ww_status ww_synth_flow(ww_rng *r, int width, int height, ww_sample *out, char *err,
                        size_t errlen)
{
    ww_status st = ww_sample_alloc(out, width, height, 2, 2, err, errlen);
    if (st != WW_OK)
        return st;
    float side = (float)(width < height ? width : height), max_t = side / 8;
    int nlayers = 2 + (int)ww_rng_below(r, 3);
    layer layers[MAX_LAYERS];
    for (int l = 0; l < nlayers; l++) {
        layer *ly = &layers[l];
        if (l == 0)
            ly->shape = (shape){.kind = SHAPE_PLANE};
        else
            shape_random(r, uniform(r, 0, (float)width), uniform(r, 0, (float)height),
                         side / 12, side / 4, &ly->shape);
        float base[3];
        random_colour(r, 40, 215, base);
        texture_random(r, base, uniform(r, 8, 32), 140, &ly->tex);
        /* Uniform over the disc of radius max_t. */
        float m = max_t * sqrtf((float)ww_rng_uniform(r)), a = uniform(r, 0, 2 * PI_F);
        ly->t[0] = m * cosf(a);
        ly->t[1] = m * sinf(a);
    }
    size_t plane = (size_t)width * (size_t)height;
    for (int f = 0; f < 2; f++)
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                size_t i = (size_t)y * (size_t)width + (size_t)x;
                for (int l = nlayers - 1; l >= 0; l--) {
                    const layer *ly = &layers[l];
                    /* The point of the layer that frame f shows here. */
                    float qx = (float)x + 0.5f - (float)f * ly->t[0];
                    float qy = (float)y + 0.5f - (float)f * ly->t[1];
                    if (!shape_covers(&ly->shape, qx, qy))
                        continue;
                    float rgb[3];
                    texture_eval(&ly->tex, qx, qy, rgb);
                    for (int c = 0; c < 3; c++)
                        out->image[f][3 * i + (size_t)c] = to_u8(rgb[c]);
                    if (f == 0) {
                        out->target[i] = ly->t[0];
                        out->target[plane + i] = ly->t[1];
                    }
                    break;
                }
            }
    return WW_OK;
}

/* ---- Depth ----------------------------------------------------------------------------------- */

#define DEPTH_MAX 80.0f /* ground farther than this is left invalid, like the sky */

enum { MAX_BOXES = 8 };

typedef struct box {
    float z;              /* distance along the optical axis, metres */
    float x0, x1, y0, y1; /* image extent, pixels */
    float left;           /* world x of the left edge, metres: texture origin */
    texture tex;          /* in metres on the box's face */
} box;

static void mix(float rgb[3], const float to[3], float a)
{
    for (int c = 0; c < 3; c++)
        rgb[c] += (to[c] - rgb[c]) * a;
}

ww_status ww_synth_depth(ww_rng *r, int width, int height, ww_sample *out, char *err,
                         size_t errlen)
{
    ww_status st = ww_sample_alloc(out, width, height, 1, 1, err, errlen);
    if (st != WW_OK)
        return st;
    /* Camera: focal length from the longer side, so the bottom row stays beyond ~1 m. */
    float focal = uniform(r, 0.7f, 1.1f) * (float)(width > height ? width : height);
    float cx = 0.5f * (float)width, horizon = uniform(r, 0.3f, 0.5f) * (float)height;
    float cam_h = uniform(r, 1.2f, 2.5f), haze_dist = uniform(r, 30, 90);
    float horizon_rgb[3], zenith_rgb[3], ground_rgb[3], cloud_base[3] = {0, 0, 0};
    random_colour(r, 170, 235, horizon_rgb);
    zenith_rgb[0] = uniform(r, 30, 110);
    zenith_rgb[1] = uniform(r, 70, 150);
    zenith_rgb[2] = uniform(r, 150, 240);
    random_colour(r, 50, 170, ground_rgb);
    texture clouds, ground;
    texture_random(r, cloud_base, 0.25f * (float)width, 80, &clouds);
    texture_random(r, ground_rgb, uniform(r, 0.4f, 2.0f), 150, &ground);

    box boxes[MAX_BOXES];
    int nboxes = 3 + (int)ww_rng_below(r, MAX_BOXES - 2);
    for (int b = 0; b < nboxes; b++) {
        box *bx = &boxes[b];
        bx->z = expf(uniform(r, logf(1.5f), logf(60.0f)));
        float u = uniform(r, 0, (float)width), s = focal / bx->z;
        /* Near boxes are kept small enough not to fill the view. */
        float w = fminf(uniform(r, 0.5f, 4.0f), 0.35f * (float)width / s);
        float h = fminf(uniform(r, 0.5f, 3.0f), 0.6f * (float)height / s);
        bx->x0 = u - 0.5f * w * s;
        bx->x1 = u + 0.5f * w * s;
        bx->y1 = horizon + cam_h * s; /* standing on the ground */
        bx->y0 = horizon + (cam_h - h) * s;
        bx->left = (bx->x0 - cx) / s;
        float base[3];
        random_colour(r, 30, 225, base);
        texture_random(r, base, uniform(r, 0.1f, 0.6f), 150, &bx->tex);
    }

    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            size_t i = (size_t)y * (size_t)width + (size_t)x;
            float px = (float)x + 0.5f, py = (float)y + 0.5f, rgb[3], z = 0;
            /* Sky first, then the ground where it is near enough, then the nearest box. */
            float up = (horizon - py) / (float)height;
            memcpy(rgb, horizon_rgb, sizeof rgb);
            mix(rgb, zenith_rgb, up > 0 ? fminf(1, 2 * up) : 0);
            float cloud[3];
            texture_eval(&clouds, px, py, cloud);
            for (int c = 0; c < 3; c++)
                rgb[c] += cloud[c];
            if (py > horizon) {
                float zg = focal * cam_h / (py - horizon);
                if (zg <= DEPTH_MAX) {
                    z = zg;
                    texture_eval(&ground, (px - cx) * zg / focal, zg, rgb);
                }
            }
            const box *front = NULL;
            for (int b = 0; b < nboxes; b++) {
                const box *bx = &boxes[b];
                if (px >= bx->x0 && px < bx->x1 && py >= bx->y0 && py < bx->y1 &&
                    (!front || bx->z < front->z))
                    front = bx;
            }
            if (front) {
                z = front->z;
                float s = focal / z;
                texture_eval(&front->tex, (px - cx) / s - front->left, (py - front->y0) / s,
                             rgb);
            }
            if (z > 0)
                mix(rgb, horizon_rgb, 1 - expf(-z / haze_dist));
            for (int c = 0; c < 3; c++)
                out->image[0][3 * i + (size_t)c] = to_u8(rgb[c]);
            out->target[i] = z;
        }
    return WW_OK;
}

/* ---- Segmentation ---------------------------------------------------------------------------- */

enum { MAX_BANDS = 4, MAX_SEG_SHAPES = 6 };

/* The look of class c, the same in every sample up to a brightness jitter and the noise seeds:
 * hue by the golden ratio (neighbouring ids far apart), saturation and value by id, feature size
 * and stripe direction by id. */
static void class_texture(ww_rng *r, int c, texture *t)
{
    float h = fmodf(0.1f + 0.61803398875f * (float)c, 1.0f) * 6;
    float s = c % 3 == 0 ? 0.8f : c % 3 == 1 ? 0.55f : 0.3f, v = c % 2 ? 0.85f : 0.6f;
    v *= uniform(r, 0.9f, 1.1f);
    float f = h - floorf(h), p = v * (1 - s), q = v * (1 - s * f), u = v * (1 - s * (1 - f));
    float rgb[6][3] = {{v, u, p}, {q, v, p}, {p, v, u}, {p, q, v}, {u, p, v}, {v, p, q}};
    int sector = (int)h % 6;
    float feature = 3 + 3 * (float)(c % 5);
    for (int o = 0; o < OCTAVES; o++) {
        t->seed[o] = (uint32_t)ww_rng_next(r);
        t->cell[o] = feature / (float)(1 << o);
    }
    for (int k = 0; k < 3; k++) {
        t->base[k] = 255 * rgb[sector][k];
        /* Noise and stripes change brightness along the class colour, keeping its hue. */
        for (int o = 0; o < OCTAVES; o++)
            t->colour[o][k] = 0.6f * t->base[k] / (float)(1 << o);
        t->wave_colour[k] = (0.15f + 0.1f * (float)(c % 3)) * t->base[k];
    }
    float angle = 2.39996323f * (float)c, k = 2 * PI_F / (4 + 2 * (float)(c % 7));
    t->wave[0] = k * cosf(angle);
    t->wave[1] = k * sinf(angle);
    t->phase = uniform(r, 0, 2 * PI_F);
}

typedef struct seg_shape {
    shape shape;
    int cls;
} seg_shape;

ww_status ww_synth_seg(ww_rng *r, int width, int height, int classes, ww_sample *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (classes < 1 || classes > 255) /* ids are bytes, 255 being ignore */
        return ww_io_error(err, errlen, WW_ERR_INVALID, "synthetic", "classes %d outside 1..255",
                           classes);
    ww_status st = ww_sample_alloc(out, width, height, 1, 1, err, errlen);
    if (st != WW_OK)
        return st;
    texture *looks = malloc((size_t)classes * sizeof *looks);
    if (!looks) {
        ww_sample_free(out);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "synthetic",
                           "out of memory for %d class textures", classes);
    }
    for (int c = 0; c < classes; c++)
        class_texture(r, c, &looks[c]);

    /* Bands: distinct classes, the lowest id at the bottom, with wavy borders. */
    int ids[256];
    for (int c = 0; c < classes; c++)
        ids[c] = c;
    int nbands = 2 + (int)ww_rng_below(r, MAX_BANDS - 1);
    if (nbands > classes)
        nbands = classes;
    for (int b = 0; b < nbands; b++) { /* partial Fisher-Yates */
        int j = b + (int)ww_rng_below(r, (uint32_t)(classes - b)), tmp = ids[b];
        ids[b] = ids[j];
        ids[j] = tmp;
    }
    for (int b = 1; b < nbands; b++) /* sort the chosen few, highest id first (top band) */
        for (int j = b; j > 0 && ids[j - 1] < ids[j]; j--) {
            int tmp = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = tmp;
        }
    float cut[MAX_BANDS], amp[MAX_BANDS], freq[MAX_BANDS], phase[MAX_BANDS];
    for (int b = 0; b + 1 < nbands; b++) {
        float lo = (float)height * (0.15f + 0.7f * (float)b / (float)(nbands - 1));
        float hi = (float)height * (0.15f + 0.7f * (float)(b + 1) / (float)(nbands - 1));
        cut[b] = uniform(r, lo, hi);
        amp[b] = uniform(r, 0, (float)height / 20);
        freq[b] = 2 * PI_F / uniform(r, 0.3f * (float)width, 2.0f * (float)width);
        phase[b] = uniform(r, 0, 2 * PI_F);
    }

    /* Shapes: a class's shapes sit at its height, class 0 near the bottom. */
    seg_shape shapes[MAX_SEG_SHAPES];
    int nshapes = 1 + (int)ww_rng_below(r, MAX_SEG_SHAPES);
    float side = (float)(width < height ? width : height);
    for (int s = 0; s < nshapes; s++) {
        int c = (int)ww_rng_below(r, (uint32_t)classes);
        float cy = (float)height * (1 - ((float)c + 0.5f) / (float)classes) +
                   uniform(r, -0.15f, 0.15f) * (float)height;
        shape_random(r, uniform(r, 0, (float)width), cy, side / 16, side / 5, &shapes[s].shape);
        shapes[s].cls = c;
    }

    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            float px = (float)x + 0.5f, py = (float)y + 0.5f;
            int band = 0;
            for (int b = 0; b + 1 < nbands; b++)
                band += py > cut[b] + amp[b] * sinf(freq[b] * px + phase[b]);
            int cls = ids[band];
            for (int s = nshapes - 1; s >= 0; s--)
                if (shape_covers(&shapes[s].shape, px, py)) {
                    cls = shapes[s].cls;
                    break;
                }
            float rgb[3];
            texture_eval(&looks[cls], px, py, rgb);
            size_t i = (size_t)y * (size_t)width + (size_t)x;
            for (int c = 0; c < 3; c++)
                out->image[0][3 * i + (size_t)c] = to_u8(rgb[c]);
            out->target[i] = (float)cls;
        }
    free(looks);
    return WW_OK;
}
