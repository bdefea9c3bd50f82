/* Procedural textures (see texture.h). Rasters are made row by row: each noise octave keeps the
 * two lattice rows around the current texel row, so a texel costs a load and a blend per octave
 * and every working array stays the size of a row. */
#include "texture.h"

#include <stdlib.h>

#include "image_io.h"

#define TWO_PI 6.28318530718f
/* Standard deviation of one octave of value noise (lattice values uniform in [-0.5, 0.5),
 * smoothstep blends, averaged over positions): fBm is scaled by it to unit deviation. */
#define OCTAVE_SIGMA 0.2144f

enum { MAX_OCTAVES = 9, SINE_STEPS = 1024, LUT_STEPS = 256 };

void ww_tex_hsv(float h, float s, float v, float rgb[3])
{
    h = (h - floorf(h)) * 6;
    int sector = (int)h % 6;
    float f = h - floorf(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    const float c[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    for (int k = 0; k < 3; k++)
        rgb[k] = 255 * c[sector][k];
}

static float clampf(float x, float lo, float hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

void ww_tex_palette_around(ww_rng *r, const float base[3], float spread, int n, ww_tex_params *p)
{
    p->ncolors = n < 1 ? 1 : n > WW_TEX_MAX_COLORS ? WW_TEX_MAX_COLORS : n;
    for (int i = 0; i < p->ncolors; i++) {
        float f = 1 + spread * ww_tex_uniform(r, -1, 1);
        for (int c = 0; c < 3; c++)
            p->colors[i][c] =
                clampf(base[c] * f + 25 * spread * ww_tex_uniform(r, -1, 1), 0, 255);
    }
    float dark = ww_tex_uniform(r, 0.3f, 0.6f);
    for (int c = 0; c < 3; c++)
        p->joint_color[c] = base[c] * dark;
}

void ww_tex_random(ww_rng *r, float feature, ww_tex_params *p)
{
    memset(p, 0, sizeof *p);
    uint32_t pick = ww_rng_below(r, 100);
    p->kind = pick < 35 ? WW_TEX_NOISE : pick < 55 ? WW_TEX_VEINS : pick < 80 ? WW_TEX_CELLS
                                                                               : WW_TEX_BRICKS;
    /* Mostly muted colours, as in nature: saturation skewed low. */
    float hue = ww_tex_uniform(r, 0, 1), sat = ww_tex_uniform(r, 0.25f, 1);
    float val = ww_tex_uniform(r, 0.3f, 0.9f);
    sat = 0.75f * sat * sat;
    p->ncolors = 2 + (int)ww_rng_below(r, 3);
    for (int i = 0; i < WW_TEX_MAX_COLORS; i++) {
        /* Neighbouring hues, now and then a complementary accent. */
        float h = hue + ww_tex_uniform(r, -0.05f, 0.05f);
        h += ww_rng_below(r, 12) == 0 ? 0.5f : 0;
        ww_tex_hsv(h, clampf(sat * ww_tex_uniform(r, 0.6f, 1.2f), 0, 1),
                   clampf(val * ww_tex_uniform(r, 0.55f, 1.25f), 0.05f, 1), p->colors[i]);
    }
    p->feature = feature * ww_tex_uniform(r, 0.7f, 1.4f);
    float stretch = ww_tex_uniform(r, 1, 4);
    int stretched = ww_rng_below(r, 3) == 0;
    p->aspect = p->kind == WW_TEX_VEINS || p->kind == WW_TEX_BRICKS ? stretch
                : stretched                                         ? sqrtf(stretch)
                                                                    : 1;
    p->roughness = ww_tex_uniform(r, 0.45f, 0.7f);
    p->contrast = ww_tex_uniform(r, 0.8f, 1.6f);
    p->shade = ww_tex_uniform(r, 0.08f, 0.3f);
    p->grain = ww_tex_uniform(r, 0.06f, 0.16f);
    p->warp = ww_tex_uniform(r, 0.5f, 3);
    p->joint = ww_tex_uniform(r, 0.04f, 0.12f);
    /* Dark seams, or light mortar. */
    int light = ww_rng_below(r, 10) < 3;
    float mortar = ww_tex_uniform(r, 170, 230), dark = ww_tex_uniform(r, 0.25f, 0.55f);
    for (int c = 0; c < 3; c++)
        p->joint_color[c] = light ? mortar : p->colors[0][c] * dark;
}

/* ---- Value noise, row by row ----------------------------------------------------------------- */

typedef struct octave {
    int nx, ny;     /* lattice cells across the raster: the pattern's period */
    float amp;
    uint32_t seed;
    float oy;       /* lattice offset, cells */
    int64_t row;    /* lattice row held in lo (hi holds the next); INT64_MIN: none yet */
    float *lo, *hi; /* lattice rows, nx + 1 values: the last repeats the first (the wrap) */
    float *mix;     /* lo and hi blended for the current texel row */
    int *ix;        /* per texel column: its lattice cell */
    float *wx;      /* and the smoothstep weight of the next one */
} octave;

typedef struct fbm {
    int count;
    octave o[MAX_OCTAVES];
    void *mem;
} fbm;

static float smooth(float t)
{
    return t * t * (3 - 2 * t);
}

static float lattice(uint32_t seed, uint32_t i, uint32_t j)
{
    uint32_t h = ww_tex_hash(seed ^ ww_tex_hash(i + ww_tex_hash(j + 0x9e3779b9u)));
    return (float)(h >> 8) * (1.0f / 16777216.0f) - 0.5f;
}

static void lattice_row(const octave *o, int64_t j, float *dst)
{
    uint32_t jw = (uint32_t)(((j % o->ny) + o->ny) % o->ny);
    for (int i = 0; i < o->nx; i++)
        dst[i] = lattice(o->seed, (uint32_t)i, jw);
    dst[o->nx] = dst[0];
}

/* Octaves of cells from feature (texels) down to min_cell, each `roughness` times weaker,
 * stretched `aspect` times along x, scaled so that the sum has unit deviation. 0 when out of
 * memory. */
static int fbm_init(fbm *f, int w, int h, float feature, float aspect, float roughness,
                    float min_cell, int max_octaves, uint32_t seed)
{
    memset(f, 0, sizeof *f);
    float sx = feature * sqrtf(aspect), sy = feature / sqrtf(aspect), amp = 1, power = 0;
    size_t floats = 0;
    for (int k = 0; k < max_octaves && (k == 0 || fminf(sx, sy) >= min_cell); k++) {
        octave *o = &f->o[f->count++];
        o->nx = (int)fmaxf(1, fminf((float)w, roundf((float)w / sx)));
        o->ny = (int)fmaxf(1, fminf((float)h, roundf((float)h / sy)));
        o->amp = amp;
        power += amp * amp;
        amp *= roughness;
        sx *= 0.5f;
        sy *= 0.5f;
        floats += 3 * ((size_t)o->nx + 1) + 2 * (size_t)w;
    }
    f->mem = malloc(floats * sizeof(float));
    if (!f->mem)
        return 0;
    float *m = f->mem, norm = 1 / (OCTAVE_SIGMA * sqrtf(power));
    for (int k = 0; k < f->count; k++) {
        octave *o = &f->o[k];
        o->amp *= norm;
        o->seed = ww_tex_hash(seed + 0x632be5abu * (uint32_t)(k + 1));
        uint32_t offsets = ww_tex_hash(o->seed ^ 0x5bd1e995u);
        float ox = (float)(offsets & 0xffff) / 65536.0f;
        o->oy = (float)(offsets >> 16) / 65536.0f;
        o->row = INT64_MIN;
        o->lo = m;
        o->hi = o->lo + o->nx + 1;
        o->mix = o->hi + o->nx + 1;
        o->wx = o->mix + o->nx + 1;
        o->ix = (int *)(void *)(o->wx + w); /* int and float share a size (checked in make) */
        m = (float *)(void *)(o->ix + w);
        for (int x = 0; x < w; x++) {
            float fx = ((float)x + 0.5f) * (float)o->nx / (float)w + ox, i = floorf(fx);
            o->ix[x] = (int)i % o->nx;
            o->wx[x] = smooth(fx - i);
        }
    }
    return 1;
}

/* out[0..w) = the noise of texel row y. */
static void fbm_row(fbm *f, int y, int w, int h, float *out)
{
    memset(out, 0, (size_t)w * sizeof *out);
    for (int k = 0; k < f->count; k++) {
        octave *o = &f->o[k];
        float fy = ((float)y + 0.5f) * (float)o->ny / (float)h + o->oy, j = floorf(fy);
        int64_t row = (int64_t)j;
        if (row != o->row) {
            if (row == o->row + 1) {
                float *t = o->lo;
                o->lo = o->hi;
                o->hi = t;
            } else {
                lattice_row(o, row, o->lo);
            }
            lattice_row(o, row + 1, o->hi);
            o->row = row;
        }
        float ty = smooth(fy - j);
        for (int i = 0; i <= o->nx; i++)
            o->mix[i] = o->amp * (o->lo[i] + (o->hi[i] - o->lo[i]) * ty);
        const float *mix = o->mix, *wx = o->wx;
        const int *ix = o->ix;
        for (int x = 0; x < w; x++) {
            float a = mix[ix[x]], b = mix[ix[x] + 1];
            out[x] += a + (b - a) * wx[x];
        }
    }
}

/* ---- Patterns -------------------------------------------------------------------------------- */

typedef struct maker {
    const ww_tex_params *p;
    int w, h;
    uint32_t seed;
    float lut[LUT_STEPS][3]; /* the palette from t = 0 to 1 */
    float sine[SINE_STEPS + 1];
    /* veins: integer stripe counts across the raster, so the stripes wrap */
    float kx, ky;
    /* cells and bricks: counts across the raster, and the cells' points around the texel row */
    int nx, ny;
    int64_t cell_row;
    float *px[3], *py[3]; /* rows j - 1 .. j + 1, columns -1 .. nx: the points' positions */
    uint32_t *id[3];
} maker;

static void palette_lut(maker *m)
{
    const ww_tex_params *p = m->p;
    int n = p->ncolors < 1 ? 1 : p->ncolors > WW_TEX_MAX_COLORS ? WW_TEX_MAX_COLORS : p->ncolors;
    for (int i = 0; i < LUT_STEPS; i++) {
        float t = (float)i / (LUT_STEPS - 1) * (float)(n - 1);
        int a = (int)t, b = a + 1 < n ? a + 1 : a;
        float f = smooth(t - (float)a);
        for (int c = 0; c < 3; c++)
            m->lut[i][c] = p->colors[a][c] + (p->colors[b][c] - p->colors[a][c]) * f;
    }
}

static float hash01(uint32_t x)
{
    return (float)(ww_tex_hash(x) >> 8) * (1.0f / 16777216.0f);
}

/* The jittered points of cell row j (wrapped for the hash, not for the position). */
static void cell_points(maker *m, int64_t j, int slot)
{
    uint32_t jw = (uint32_t)(((j % m->ny) + m->ny) % m->ny);
    for (int i = -1; i <= m->nx; i++) {
        uint32_t iw = (uint32_t)((i + m->nx) % m->nx);
        uint32_t id = ww_tex_hash(m->seed ^ ww_tex_hash(iw + ww_tex_hash(jw + 0x85ebca6bu)));
        m->id[slot][i + 1] = id;
        m->px[slot][i + 1] = (float)i + (float)(id & 0xffff) / 65536.0f;
        m->py[slot][i + 1] = (float)j + (float)(id >> 16) / 65536.0f;
    }
}

/* Per texel of a row: palette position t, brightness factor and seam weight (0..1). */
typedef struct texel_row {
    float *t, *bright, *seam;
} texel_row;

static void cells_row(maker *m, float cy, const float *z, texel_row *o)
{
    float scale = (float)m->nx / (float)m->w, jitter = 0.08f * m->p->contrast;
    float inv_joint = 1 / (m->p->joint + 1e-6f);
    for (int x = 0; x < m->w; x++) {
        float cx = ((float)x + 0.5f) * scale;
        int i = (int)cx;
        float f1 = 1e9f, f2 = 1e9f;
        uint32_t id = 0;
        for (int s = 0; s < 3; s++)
            for (int di = 0; di < 3; di++) {
                float dx = m->px[s][i + di] - cx, dy = m->py[s][i + di] - cy;
                float d = dx * dx + dy * dy;
                id = d < f1 ? m->id[s][i + di] : id;
                f2 = ww_tex_min(f2, ww_tex_max(f1, d));
                f1 = ww_tex_min(f1, d);
            }
        o->t[x] = hash01(id ^ 0x27d4eb2du) + jitter * z[x];
        o->bright[x] = 1 - 0.35f * ww_tex_min(f1, 1); /* domed: each cell darkens towards its rim */
        float e = ww_tex_min((sqrtf(f2) - sqrtf(f1)) * inv_joint, 1);
        o->seam[x] = (1 - e) * (1 - e);
    }
}

static void bricks_row(const maker *m, float v, const float *z, texel_row *o)
{
    float bw = (float)m->w / (float)m->nx, bh = (float)m->h / (float)m->ny, inv_bw = 1 / bw;
    int row = (int)(v / bh);
    float shift = row & 1 ? 0.5f * bw : 0, lv = v - (float)row * bh;
    float jw = m->p->joint * bh + 0.5f, dv = ww_tex_min(lv, bh - lv);
    float jitter = 0.08f * m->p->contrast;
    uint32_t base = m->seed ^ (uint32_t)(row * m->nx);
    for (int x = 0; x < m->w; x++) {
        float shifted = (float)x + 0.5f + shift;
        int col = (int)(shifted * inv_bw);
        float lu = shifted - (float)col * bw, d = ww_tex_min(ww_tex_min(lu, bw - lu), dv);
        col -= col >= m->nx ? m->nx : 0;
        o->t[x] = 0.1f + 0.8f * hash01(base + (uint32_t)col) + jitter * z[x];
        o->bright[x] = d < 2 * jw ? 0.85f + 0.15f * d / (2 * jw) : 1; /* bevelled edges */
        o->seam[x] = d < jw ? 1 : d < 1.5f * jw ? 3 - 2 * d / jw : 0;
    }
}

static void veins_row(const maker *m, float v, const float *z, texel_row *o)
{
    const ww_tex_params *p = m->p;
    float kx = m->kx * (SINE_STEPS / (float)m->w), base = m->ky * v * (SINE_STEPS / (float)m->h);
    float warp = p->warp * (SINE_STEPS / TWO_PI);
    for (int x = 0; x < m->w; x++) {
        float s = kx * ((float)x + 0.5f) + base + warp * z[x], f = floorf(s);
        int i = (int)((int64_t)f & (SINE_STEPS - 1));
        float sine = m->sine[i] + (m->sine[i + 1] - m->sine[i]) * (s - f);
        o->t[x] = 0.5f + 0.5f * ww_tex_min(ww_tex_max(p->contrast * sine, -1), 1);
        o->bright[x] = 1;
        o->seam[x] = 0;
    }
}

static void noise_row(const maker *m, const float *z, texel_row *o)
{
    for (int x = 0; x < m->w; x++) {
        o->t[x] = 0.5f + 0.25f * m->p->contrast * z[x];
        o->bright[x] = 1;
        o->seam[x] = 0;
    }
}

static void pattern_row(maker *m, int y, const float *z, const float *g, texel_row *o,
                        uint32_t *out)
{
    const ww_tex_params *p = m->p;
    float v = (float)y + 0.5f;
    switch (p->kind) {
    case WW_TEX_CELLS: {
        float cy = v * (float)m->ny / (float)m->h;
        int64_t j = (int64_t)floorf(cy);
        if (j != m->cell_row) {
            for (int s = 0; s < 3; s++)
                cell_points(m, j - 1 + s, s);
            m->cell_row = j;
        }
        cells_row(m, cy, z, o);
        break;
    }
    case WW_TEX_BRICKS:
        bricks_row(m, v, z, o);
        break;
    case WW_TEX_VEINS:
        veins_row(m, v, z, o);
        break;
    default:
        noise_row(m, z, o);
        break;
    }
    const float *jc = p->joint_color;
    for (int x = 0; x < m->w; x++) {
        float at = ww_tex_min(ww_tex_max(o->t[x], 0), 1) * (LUT_STEPS - 1);
        const float *c = m->lut[(int)(at + 0.5f)];
        float bright = o->bright[x] * (1 + p->shade * z[x] + p->grain * g[x]), seam = o->seam[x];
        uint32_t texel = 0;
        for (int k = 0; k < 3; k++) {
            float col = (c[k] + (jc[k] - c[k]) * seam) * bright;
            texel |= (uint32_t)(ww_tex_min(ww_tex_max(col, 0), 255) + 0.5f) << (8 * k);
        }
        out[x] = texel;
    }
}

/* Set up the pattern's counts and buffers; 0 when out of memory. */
static int pattern_init(maker *m)
{
    const ww_tex_params *p = m->p;
    float feature = fmaxf(p->feature, 2), aspect = p->aspect > 0 ? p->aspect : 1;
    palette_lut(m);
    for (int i = 0; i <= SINE_STEPS; i++)
        m->sine[i] = sinf(TWO_PI * (float)i / SINE_STEPS);
    /* Veins: the stripe direction from the seed, rounded to whole stripes across the raster. */
    float angle = TWO_PI * hash01(m->seed ^ 0x9e3779b9u);
    m->kx = roundf((float)m->w * cosf(angle) / feature);
    m->ky = roundf((float)m->h * sinf(angle) / feature);
    if (m->kx == 0 && m->ky == 0)
        m->kx = 1;
    /* Cells: about feature texels across; bricks: feature long, feature / aspect high, in an
     * even count of rows so that the half-brick offset of odd rows wraps. */
    if (p->kind == WW_TEX_BRICKS) {
        m->nx = (int)fmaxf(1, roundf((float)m->w / feature));
        m->ny = 2 * (int)fmaxf(1, roundf((float)m->h * aspect / (2 * feature)));
    } else {
        m->nx = (int)fmaxf(1, roundf((float)m->w / (feature * sqrtf(aspect))));
        m->ny = (int)fmaxf(1, roundf((float)m->h * sqrtf(aspect) / feature));
    }
    m->cell_row = INT64_MIN;
    if (p->kind != WW_TEX_CELLS)
        return 1;
    size_t cols = (size_t)m->nx + 2;
    m->px[0] = malloc(3 * cols * (2 * sizeof(float) + sizeof(uint32_t)));
    if (!m->px[0])
        return 0;
    for (int s = 0; s < 3; s++) {
        m->px[s] = m->px[0] + (size_t)s * cols;
        m->py[s] = m->px[0] + (3 + (size_t)s) * cols;
        m->id[s] = (uint32_t *)(void *)(m->px[0] + 6 * cols) + (size_t)s * cols;
    }
    return 1;
}

/* Level k + 1 of a square power-of-two raster: 2 x 2 means of level k. */
static void mip_down(const uint32_t *src, int side, uint32_t *dst)
{
    int half = side / 2;
    for (int y = 0; y < half; y++)
        for (int x = 0; x < half; x++) {
            const uint32_t *a = src + (size_t)(2 * y) * (size_t)side + 2 * (size_t)x;
            const uint32_t *b = a + side;
            uint32_t texel = 0;
            for (int c = 0; c < 3; c++) {
                int sh = 8 * c;
                uint32_t sum = (a[0] >> sh & 255) + (a[1] >> sh & 255) + (b[0] >> sh & 255) +
                               (b[1] >> sh & 255);
                texel |= ((sum + 2) >> 2) << sh;
            }
            dst[(size_t)y * (size_t)half + (size_t)x] = texel;
        }
}

void ww_tex_free(ww_tex *t)
{
    if (!t)
        return;
    for (int l = 0; l < WW_TEX_MAX_LEVELS; l++)
        free(t->texel[l]);
    memset(t, 0, sizeof *t);
}

ww_status ww_tex_make(ww_tex *t, int width, int height, int mips, const ww_tex_params *p,
                      uint64_t seed, char *err, size_t errlen)
{
    _Static_assert(sizeof(int) == sizeof(float), "octave rows share one float block");
    memset(t, 0, sizeof *t);
    if (width < 1 || height < 1 ||
        (mips && (width != height || (width & (width - 1)) || width > 1 << 15)))
        return ww_io_error(err, errlen, WW_ERR_INVALID, "texture",
                           "bad raster %dx%d%s", width, height,
                           mips ? " (mipmaps want a square power of two up to 32768)" : "");
    maker m = {.p = p, .w = width, .h = height,
               .seed = ww_tex_hash((uint32_t)seed ^ ww_tex_hash((uint32_t)(seed >> 32)))};
    fbm shape, grain;
    float aspect = p->aspect > 0 ? p->aspect : 1;
    int ok = fbm_init(&shape, width, height, fmaxf(p->feature, 2), aspect, p->roughness, 4,
                      MAX_OCTAVES, m.seed ^ 0x1b873593u);
    ok = fbm_init(&grain, width, height, 4, 1, 0.7f, 2, 2, m.seed ^ 0xcc9e2d51u) && ok;
    ok = pattern_init(&m) && ok;
    /* Rows of the shape noise, the grain, and the pattern's t, brightness and seam. */
    float *z = malloc(5 * (size_t)width * sizeof *z);
    t->levels = 1;
    t->width[0] = width;
    t->height[0] = height;
    t->texel[0] = malloc((size_t)width * (size_t)height * sizeof(uint32_t));
    for (int l = 1; mips && (width >> (l - 1)) > 1; l++) {
        t->width[l] = t->height[l] = width >> l;
        t->texel[l] = malloc((size_t)t->width[l] * (size_t)t->width[l] * sizeof(uint32_t));
        ok = ok && t->texel[l];
        t->levels = l + 1;
    }
    ok = ok && z && t->texel[0];
    if (ok) {
        texel_row row = {z + 2 * width, z + 3 * width, z + 4 * width};
        for (int y = 0; y < height; y++) {
            fbm_row(&shape, y, width, height, z);
            fbm_row(&grain, y, width, height, z + width);
            pattern_row(&m, y, z, z + width, &row, t->texel[0] + (size_t)y * (size_t)width);
        }
        for (int l = 1; l < t->levels; l++)
            mip_down(t->texel[l - 1], t->width[l - 1], t->texel[l]);
    }
    free(z);
    free(shape.mem);
    free(grain.mem);
    free(m.px[0]);
    if (!ok) {
        ww_tex_free(t);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "texture",
                           "out of memory for a %dx%d raster", width, height);
    }
    return WW_OK;
}
