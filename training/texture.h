/* Procedural textures shared by the synthetic generators (synth_flow.c, synth_depth.c,
 * synth_seg.c), with the small random and colour helpers they all use.
 *
 * A texture is a raster made once per sample and read with bilinear interpolation, so it is a
 * continuous function of position (the frames of a flow pair stay exactly consistent with their
 * ground truth) and costs a few loads per pixel instead of noise evaluated per pixel. Every raster
 * is periodic: its pattern repeats with the raster's width and height, so a tile can cover a
 * ground plane without seams; square tiles can carry mipmaps for surfaces seen from afar.
 *
 * Patterns (ww_tex_kind), each run through a palette of 1..4 colours:
 *   noise   fractal value noise (fBm): clouds, grass, soil, plaster, paint
 *   veins   stripes bent by the noise: wood, marble, ripples
 *   cells   Voronoi cells of palette colours, domed, with seams: stones, foliage, cobbles
 *   bricks  rows of offset bricks (or tiles) with mortar joints: walls, paving
 * On top of the pattern, brightness varies with large-scale noise (shade) and with texel-scale
 * grain, so that there is something to match at every scale.
 */
#ifndef WW_TEXTURE_H
#define WW_TEXTURE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rng.h"
#include "ww.h"

/* ---- Random draws and colours ------------------------------------------------------------- */

/* Uniform in [lo, hi). */
static inline float ww_tex_uniform(ww_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)ww_rng_uniform(r);
}

/* min and max that compile to one instruction (fminf and fmaxf are library calls, for their NaN
 * rules): for the per-pixel loops. */
static inline float ww_tex_min(float a, float b)
{
    return a < b ? a : b;
}

static inline float ww_tex_max(float a, float b)
{
    return a > b ? a : b;
}

/* Round and clamp to a byte. */
static inline uint8_t ww_tex_u8(float v)
{
    return (uint8_t)(int)(ww_tex_min(ww_tex_max(v, 0), 255) + 0.5f);
}

/* rgb (0..255) of hue h (turns, any value), saturation s and value v (0..1). */
void ww_tex_hsv(float h, float s, float v, float rgb[3]);

/* Integer hash (Wellons' lowbias32): seeds, lattice values and per-cell choices. */
static inline uint32_t ww_tex_hash(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* Noise in [0, 1) for pixel i, for ww_tex_sample_lod: multiplicative hashing of the index, cheap
 * and well spread along rows. */
static inline float ww_tex_dither(size_t i)
{
    return (float)((uint32_t)i * 2654435761u >> 8) * 0x1p-24f;
}

/* The side of a square tile, a power of two from 32 to 1024, near longer / fraction: tiles that
 * cover the same share of the image at every size. */
static inline int ww_tex_tile_side(int longer, int fraction)
{
    int side = 32;
    while (side < 1024 && side * fraction <= longer)
        side *= 2;
    return side;
}

/* log2(x) for x > 0 within 0.09 (exponent bits plus the linear mantissa): mip levels. */
static inline float ww_tex_log2(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return (float)(int32_t)(b >> 23) - 127.0f + (float)(b & 0x7fffff) * (1.0f / 8388608.0f);
}

/* ---- Patterns ------------------------------------------------------------------------------ */

typedef enum ww_tex_kind { WW_TEX_NOISE, WW_TEX_VEINS, WW_TEX_CELLS, WW_TEX_BRICKS } ww_tex_kind;

enum { WW_TEX_MAX_COLORS = 4, WW_TEX_MAX_LEVELS = 16 };

typedef struct ww_tex_params {
    ww_tex_kind kind;
    float feature;   /* texels: the largest structures (noise, stripe period, cell, brick length) */
    float aspect;    /* structures this many times longer along x than along y (1: isotropic) */
    float roughness; /* amplitude ratio of successive noise octaves, 0.3 (smooth) .. 0.8 (rough) */
    float contrast;  /* how far the pattern runs through the palette, ~0.5 .. 2 */
    float shade;     /* brightness variation of the large-scale noise, 0 .. 0.5 */
    float grain;     /* brightness variation of the texel-scale detail, 0 .. 0.3 */
    float warp;      /* veins: how far the noise bends the stripes, radians per noise sigma */
    float joint;     /* cells, bricks: seam width, a fraction of the feature */
    int ncolors;     /* palette stops, 1 .. WW_TEX_MAX_COLORS */
    float colors[WW_TEX_MAX_COLORS][3]; /* 0..255, the pattern runs from the first to the last */
    float joint_color[3];               /* seams and mortar */
} ww_tex_params;

/* A random natural-looking texture: any kind, a palette of related colours around a random one,
 * structures of about `feature` texels. Draws the same count of numbers from r whatever it
 * picks, so the draws after it do not depend on the choice. */
void ww_tex_random(ww_rng *r, float feature, ww_tex_params *p);
/* A palette of n (1..WW_TEX_MAX_COLORS) stops scattered around base (0..255): brightness by up
 * to a factor (1 +- spread), each channel by up to spread * 25 levels; the joint colour a darker
 * shade of base. */
void ww_tex_palette_around(ww_rng *r, const float base[3], float spread, int n, ww_tex_params *p);

/* ---- Rasters ------------------------------------------------------------------------------- */

typedef struct ww_tex {
    int levels;                          /* mip levels; 1 for a plain raster */
    int width[WW_TEX_MAX_LEVELS];        /* texels of each level */
    int height[WW_TEX_MAX_LEVELS];
    uint32_t *texel[WW_TEX_MAX_LEVELS];  /* R | G << 8 | B << 16, rows of width texels */
} ww_tex;

/* Make a width x height raster of pattern p, its noise drawn from seed (the same seed and
 * parameters give the same texels). mips: also make the mip chain down to 1 x 1, for
 * ww_tex_sample_lod; the raster must then be square, its side a power of two. The caller owns
 * *t (ww_tex_free); on failure *t is zeroed and err names the size. */
ww_status ww_tex_make(ww_tex *t, int width, int height, int mips, const ww_tex_params *p,
                      uint64_t seed, char *err, size_t errlen);
void ww_tex_free(ww_tex *t);

/* R and B of texel q in the low 32-bit lanes of a 64-bit word, for blending both at once. */
static inline uint64_t ww_tex_rb_(uint32_t q)
{
    return (uint64_t)(q & 0xff) | (uint64_t)(q & 0xff0000) << 16;
}

/* Bilinear blend of texels a, b (next column), c, d (next row) at fractions (fx, fy) in
 * [0, 1], rounded and packed as the texels are. Integer lanes with weights in 1/256 steps:
 * no float conversions per channel, within one level of the exact blend. */
static inline uint32_t ww_tex_blend_(uint32_t a, uint32_t b, uint32_t c, uint32_t d, float fx,
                                     float fy)
{
    uint64_t wx = (uint64_t)(int)(fx * 256 + 0.5f), wy = (uint64_t)(int)(fy * 256 + 0.5f);
    uint64_t vx = 256 - wx, vy = 256 - wy;
    uint64_t rb = (ww_tex_rb_(a) * vx + ww_tex_rb_(b) * wx) * vy +
                  (ww_tex_rb_(c) * vx + ww_tex_rb_(d) * wx) * wy + 0x0000800000008000ull;
    uint64_t g = (((a >> 8 & 255) * vx + (b >> 8 & 255) * wx) * vy +
                  ((c >> 8 & 255) * vx + (d >> 8 & 255) * wx) * wy + 0x8000) >> 16;
    return (uint32_t)(rb >> 16 & 255) | (uint32_t)g << 8 | (uint32_t)(rb >> 48 & 255) << 16;
}

/* floor(x) as an integer (floorf is a slow call without SSE4.1). */
static inline int64_t ww_tex_floor_(float x)
{
    int64_t i = (int64_t)x;
    return i - (x < (float)i);
}

/* A packed texel's channels as floats. */
static inline void ww_tex_unpack(uint32_t q, float rgb[3])
{
    rgb[0] = (float)(q & 255);
    rgb[1] = (float)(q >> 8 & 255);
    rgb[2] = (float)(q >> 16 & 255);
}

/* Bilinear at (u, v) in texels (texel centres at integers) of level 0, clamped to the raster's
 * edge, packed as the texels are: for rasters made to cover everything they are asked for
 * (flow layers). */
static inline uint32_t ww_tex_sample(const ww_tex *t, float u, float v)
{
    int w = t->width[0], h = t->height[0];
    u = ww_tex_min(ww_tex_max(u, 0), (float)(w - 1));
    v = ww_tex_min(ww_tex_max(v, 0), (float)(h - 1));
    int x0 = (int)u, y0 = (int)v;
    const uint32_t *p = t->texel[0] + (size_t)y0 * (size_t)w + (size_t)x0;
    size_t dx = x0 + 1 < w, dy = y0 + 1 < h ? (size_t)w : 0;
    return ww_tex_blend_(p[0], p[dx], p[dy], p[dy + dx], u - (float)x0, v - (float)y0);
}

/* Bilinear at (u, v) in level-0 texels on level `level` of a mipmapped raster, wrapping
 * around; packed as the texels are. */
static inline uint32_t ww_tex_sample_level(const ww_tex *t, int level, float u, float v)
{
    static const float scales[WW_TEX_MAX_LEVELS] = {
        1.0f, 0x1p-1f, 0x1p-2f, 0x1p-3f, 0x1p-4f, 0x1p-5f, 0x1p-6f, 0x1p-7f,
        0x1p-8f, 0x1p-9f, 0x1p-10f, 0x1p-11f, 0x1p-12f, 0x1p-13f, 0x1p-14f, 0x1p-15f};
    float scale = scales[level]; /* 2^-level, without a division */
    /* Level l's texel centres sit at level-0 position (i + 0.5) * 2^l - 0.5. */
    u = (u + 0.5f) * scale - 0.5f;
    v = (v + 0.5f) * scale - 0.5f;
    int64_t mask = t->width[level] - 1, w = mask + 1, iu = ww_tex_floor_(u), iv = ww_tex_floor_(v);
    float fx = u - (float)iu, fy = v - (float)iv;
    int64_t x0 = iu & mask, y0 = iv & mask, x1 = (x0 + 1) & mask, y1 = (y0 + 1) & mask;
    const uint32_t *p = t->texel[level];
    return ww_tex_blend_(p[y0 * w + x0], p[y0 * w + x1], p[y1 * w + x0], p[y1 * w + x1], fx, fy);
}

/* (u, v) in level-0 texels on a mipmapped raster, wrapping around, where a pixel covers 2^lod
 * texels. Magnified (lod + dither < 1): bilinear on level 0. Minified: the nearest texel of level
 * floor(lod + dither), dither being per-pixel noise in [0, 1) so that between two levels each is
 * picked in proportion and the change of sharpness shows as fine noise instead of a seam; its
 * texels are at most two pixels wide and already the means of what they cover, so the nearest
 * one does as well as a blend at a quarter of the cost. Beyond the last level: its single texel,
 * the raster's mean colour. Packed as the texels are. */
static inline uint32_t ww_tex_sample_lod(const ww_tex *t, float u, float v, float lod,
                                         float dither)
{
    float at = lod + dither;
    if (!(at >= 1))
        return ww_tex_sample_level(t, 0, u, v);
    int top = t->levels - 1, level = (int)ww_tex_min(at, (float)top);
    if (level == top)
        return t->texel[top][0];
    /* Level l's texel i covers level-0 positions [i 2^l - 0.5, (i + 1) 2^l - 0.5): floor of
     * u + 0.5, shifted as unsigned (two's complement wraps like the raster), masked. */
    uint64_t x = (uint64_t)ww_tex_floor_(u + 0.5f), y = (uint64_t)ww_tex_floor_(v + 0.5f);
    uint64_t mask = (uint64_t)t->width[level] - 1;
    return t->texel[level][(y >> level & mask) * (mask + 1) + (x >> level & mask)];
}

#endif
