/* Procedural depth samples (see synth.h): a pinhole camera ray-casts a ground plane, boxes and
 * spheres, textured in their own surface coordinates, lit by a sun, under a cloudy sky. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_io.h"
#include "raycast.h"
#include "synth.h"
#include "texture.h"

#define PI_F 3.14159265358979f
#define DEPTH_MAX 80.0f /* anything farther is invalid, like the sky */

enum { MAX_PRIMS = 16, MATERIALS = 3 };
enum { PRIM_BOX, PRIM_SPHERE };
/* Per-pixel surface codes besides 4 * primitive + face (cast). */
enum { HIT_GROUND = MAX_PRIMS, HIT_SKY, HIT_NONE = 255 };

typedef struct prim {
    int kind;
    ww_box3 box;      /* a box; a sphere's centre, radius (h.x) and bounding cube */
    int material;
    float tint[3];    /* the material's colour, scaled per object */
    float offset[2];  /* texture origin, metres */
    int pixels[4];    /* x0, y0, x1, y1: the pixels it may cover (ww_box3_pixels) */
    float shadow[4];  /* its shadow's extent on the ground: x0, z0, x1, z1 */
} prim;

typedef struct scene {
    ww_camera cam;
    float inv_focal;
    ww_vec3 sun;                  /* towards the sun, unit */
    float sun_rgb[3], ambient[3];
    ww_sky sky;
    float ground_m, object_m;     /* metres per texture tile: the ground's, the objects' */
    int nprims;
    prim prims[MAX_PRIMS];
    ww_tex_params looks[MATERIALS + 1]; /* the objects' materials, then the ground */
    uint64_t seeds[MATERIALS + 1];
    ww_tex tex[MATERIALS + 1];
} scene;

enum { TEX_GROUND = MATERIALS };

/* Distance along d (any length) from o to p's surface, negative for a miss; *face: a box's. */
static float intersect(const prim *p, ww_vec3 o, ww_vec3 d, int *face)
{
    if (p->kind == PRIM_BOX)
        return ww_box3_hit(&p->box, o, d, face);
    ww_vec3 q = ww_v3_sub(o, p->box.c);
    float r = p->box.h.x, a = ww_v3_dot(d, d), b = ww_v3_dot(d, q);
    float disc = b * b - a * (ww_v3_dot(q, q) - r * r);
    return disc < 0 ? -1 : (-b - sqrtf(disc)) / a;
}

/* The unit normal at surface point x of p and its texture coordinates in metres. */
static ww_vec3 surface(const prim *p, ww_vec3 x, int face, float *u, float *v)
{
    if (p->kind == PRIM_BOX)
        return ww_box3_surface(&p->box, x, face, u, v);
    float r = p->box.h.x;
    ww_vec3 n = ww_v3_scale(ww_v3_sub(x, p->box.c), 1 / r);
    /* The sphere's cube projection: continuous within each sixth. */
    float ax = fabsf(n.x), ay = fabsf(n.y), az = fabsf(n.z);
    if (ax >= ay && ax >= az) {
        *u = r * n.z / ax;
        *v = r * n.y / ax;
    } else if (ay >= az) {
        *u = r * n.x / ay;
        *v = r * n.z / ay;
    } else {
        *u = r * n.x / az;
        *v = r * n.y / az;
    }
    return n;
}

/* A random natural ground: grass, soil, sand, gravel or asphalt, as noise, cobbles or paving. */
static void ground_look(ww_rng *r, float tile, ww_tex_params *p)
{
    static const float bases[5][3] = {
        {70, 105, 45}, {115, 90, 65}, {190, 170, 130}, {125, 120, 112}, {75, 75, 78}};
    float base[3];
    int which = (int)ww_rng_below(r, 5);
    for (int c = 0; c < 3; c++)
        base[c] = bases[which][c] * ww_tex_uniform(r, 0.85f, 1.15f);
    ww_tex_random(r, tile * ww_tex_uniform(r, 0.05f, 0.2f), p);
    ww_tex_palette_around(r, base, 0.35f, 2 + (int)ww_rng_below(r, 3), p);
    uint32_t kind = ww_rng_below(r, 10);
    p->kind = kind < 6 ? WW_TEX_NOISE : kind < 8 ? WW_TEX_CELLS : WW_TEX_BRICKS;
    p->aspect = p->kind == WW_TEX_BRICKS ? ww_tex_uniform(r, 1, 2.5f) : 1;
}

/* Draw the whole scene from r first (the count of draws does not depend on the size). */
static void random_scene(ww_rng *r, int width, int height, int tile, scene *s)
{
    memset(s, 0, sizeof *s);
    float tan_half = tanf(ww_tex_uniform(r, 50, 90) * PI_F / 360);
    float pitch = ww_tex_uniform(r, -12, 4) * PI_F / 180;
    float roll = ww_tex_uniform(r, -5, 5) * PI_F / 180;
    ww_camera_look(&s->cam, width, height, 0.5f * (float)width / tan_half, 0.5f * (float)width,
                   0.5f * (float)height, ww_v3(0, ww_tex_uniform(r, 1, 3), 0), pitch, roll);
    s->inv_focal = 1 / s->cam.focal;

    s->sun = ww_sun_random(r);
    ww_sky_random(r, tile / 2, &s->sky); /* smooth clouds need fewer texels */
    int overcast = s->sky.overcast;
    float sun = overcast ? ww_tex_uniform(r, 0.1f, 0.3f) : ww_tex_uniform(r, 0.6f, 0.9f);
    float warm = ww_tex_uniform(r, 0, 0.15f), ambient = ww_tex_uniform(r, 0.3f, 0.5f);
    s->sun_rgb[0] = sun;
    s->sun_rgb[1] = sun * (1 - 0.4f * warm);
    s->sun_rgb[2] = sun * (1 - warm);
    for (int c = 0; c < 3; c++) /* bluish from a clear sky, plain under clouds */
        s->ambient[c] = ambient * (overcast ? 1.4f : 0.85f + 0.075f * (float)c);

    float texels = (float)tile;
    s->ground_m = ww_tex_uniform(r, 3, 10);
    s->object_m = ww_tex_uniform(r, 1, 4);
    for (int m = 0; m < MATERIALS; m++)
        ww_tex_random(r, texels * ww_tex_uniform(r, 0.06f, 0.25f), &s->looks[m]);
    ground_look(r, texels, &s->looks[TEX_GROUND]);
    for (int m = 0; m <= MATERIALS; m++)
        s->seeds[m] = ww_rng_next(r);

    s->nprims = 4 + (int)ww_rng_below(r, MAX_PRIMS - 3);
    for (int i = 0; i < s->nprims; i++) {
        prim *p = &s->prims[i];
        ww_box3 *b = &p->box;
        uint32_t pick = ww_rng_below(r, 20);
        float z = expf(ww_tex_uniform(r, logf(3), logf(60)));
        float x = ww_tex_uniform(r, -1.3f, 1.3f) * z * tan_half;
        float yaw = ww_tex_uniform(r, 0, 2 * PI_F), a = ww_tex_uniform(r, 0, 1);
        float wide = ww_tex_uniform(r, 0, 1), deep = ww_tex_uniform(r, 0, 1);
        float lift = ww_rng_below(r, 4) == 0 ? ww_tex_uniform(r, 0, 2) : 0;
        /* Near things small, so that they rarely fill the view. */
        float most = 0.2f + 0.12f * z;
        p->kind = pick < 13 ? PRIM_BOX : PRIM_SPHERE;
        if (pick < 9) { /* a box */
            b->h = ww_v3(0.25f + (most - 0.25f) * a, 0.25f + 2.75f * wide,
                         0.25f + (most - 0.25f) * deep);
        } else if (pick < 13) { /* a wall: long, thin, farther away, mostly facing the camera */
            z += 8;
            b->h = ww_v3(3 + 12 * a, 0.8f + 2.2f * wide, 0.1f + 0.2f * deep);
            yaw = (yaw - PI_F) / 3;
            lift = 0;
        } else {
            float radius = 0.2f + (ww_tex_min(most, 1.8f) - 0.2f) * a;
            b->h = ww_v3(radius, radius, radius);
            yaw = 0; /* the bounding cube stays upright */
        }
        b->cs = cosf(yaw);
        b->sn = sinf(yaw);
        /* Keep the camera 1 m clear of the footprint: push what would come nearer away. */
        for (int k = 0; k < 8; k++) {
            float lx = -(b->cs * x + b->sn * z), lz = -(b->cs * z - b->sn * x);
            if (hypotf(fmaxf(fabsf(lx) - b->h.x, 0), fmaxf(fabsf(lz) - b->h.z, 0)) >= 1)
                break;
            x *= 1.5f;
            z *= 1.5f;
        }
        b->c = ww_v3(x, b->h.y + lift, z);
        p->material = (int)ww_rng_below(r, MATERIALS);
        for (int k = 0; k < 3; k++)
            p->tint[k] = ww_tex_uniform(r, 0.75f, 1.2f);
        p->offset[0] = ww_tex_uniform(r, 0, 100);
        p->offset[1] = ww_tex_uniform(r, 0, 100);
    }
}

/* Each primitive's pixels and its shadow's extent on the ground (its corners and theirs). */
static void bound_prims(scene *s)
{
    for (int i = 0; i < s->nprims; i++) {
        prim *p = &s->prims[i];
        ww_box3_pixels(&p->box, &s->cam, p->pixels);
        p->shadow[0] = p->shadow[1] = INFINITY;
        p->shadow[2] = p->shadow[3] = -INFINITY;
        for (int k = 0; k < 8; k++) {
            ww_vec3 q = ww_box3_corner(&p->box, k);
            ww_vec3 g = ww_v3_add(q, ww_v3_scale(s->sun, -q.y / s->sun.y));
            p->shadow[0] = fminf(p->shadow[0], fminf(q.x, g.x));
            p->shadow[1] = fminf(p->shadow[1], fminf(q.z, g.z));
            p->shadow[2] = fmaxf(p->shadow[2], fmaxf(q.x, g.x));
            p->shadow[3] = fmaxf(p->shadow[3], fmaxf(q.z, g.z));
        }
    }
}

/* The nearest primitive of every pixel: t (its depth) into depth, and into hit the primitive
 * times 4 plus a box's face axis; HIT_NONE (depth unset) where none is hit. Everything stands on
 * or above the ground, so the ground never hides a primitive. */
static void cast(const scene *s, float *depth, uint8_t *hit)
{
    const ww_camera *cam = &s->cam;
    int w = cam->width;
    ww_vec3 step;
    memset(hit, HIT_NONE, (size_t)w * (size_t)cam->height);
    for (int k = 0; k < s->nprims; k++) {
        const prim *p = &s->prims[k];
        for (int y = p->pixels[1]; y <= p->pixels[3]; y++) {
            ww_vec3 row = ww_camera_row(cam, y, &step);
            for (int x = p->pixels[0]; x <= p->pixels[2]; x++) {
                size_t i = (size_t)y * (size_t)w + (size_t)x;
                int face = 0;
                float t = intersect(p, cam->eye, ww_v3_add(row, ww_v3_scale(step, (float)x)),
                                    &face);
                if (t > 0 && (hit[i] == HIT_NONE || t < depth[i])) {
                    depth[i] = t;
                    hit[i] = (uint8_t)(4 * k + face);
                }
            }
        }
    }
}

/* Whether ground point g lies in a primitive's shadow. */
static int shadowed(const scene *s, ww_vec3 g)
{
    for (int k = 0; k < s->nprims; k++) {
        const prim *p = &s->prims[k];
        int face;
        if (g.x >= p->shadow[0] && g.x <= p->shadow[2] && g.z >= p->shadow[1] &&
            g.z <= p->shadow[3] && intersect(p, g, s->sun, &face) > 0)
            return 1;
    }
    return 0;
}

/* The lit, hazy colour of the surface along ray d, the primitive hit at depth t (code: cast's
 * hit), or beyond the primitives the ground or the sky; dither: the pixel's noise for the choice
 * of mip levels (ww_tex_sample_lod). Returns the depth. */
static float shade(const scene *s, ww_vec3 d, float t, int code, float dither, float rgb[3])
{
    float len = sqrtf(ww_v3_dot(d, d));
    if (code == HIT_NONE) {
        code = 4 * (d.y < 0 ? HIT_GROUND : HIT_SKY);
        t = d.y < 0 ? -s->cam.eye.y / d.y : INFINITY;
    }
    int what = code >> 2;
    if (what == HIT_SKY) {
        ww_sky_color(&s->sky, d, len, s->cam.focal, dither, rgb);
        return t;
    }
    ww_vec3 g = ww_v3_add(s->cam.eye, ww_v3_scale(d, t)), n;
    const ww_tex *tex;
    float u, v, metres, tint[3] = {1, 1, 1};
    int in_shadow = 0;
    if (what == HIT_GROUND) {
        n = ww_v3(0, 1, 0);
        u = g.x;
        v = g.z;
        tex = &s->tex[TEX_GROUND];
        metres = s->ground_m;
        in_shadow = shadowed(s, g);
    } else {
        const prim *p = &s->prims[what];
        n = surface(p, g, code & 3, &u, &v);
        u += p->offset[0];
        v += p->offset[1];
        tex = &s->tex[p->material];
        metres = s->object_m;
        memcpy(tint, p->tint, sizeof tint);
    }
    /* Mip level: the pixel's footprint in texels, stretched by the slant of the surface. */
    float texels = (float)tex->width[0] / metres, dist = t * len;
    float slant = ww_tex_max(0.02f, fabsf(ww_v3_dot(n, d)) / len);
    float lod = ww_tex_log2(ww_tex_max(1e-6f, dist * s->inv_focal * texels)) -
                0.5f * ww_tex_log2(slant);
    float albedo[3];
    ww_tex_unpack(ww_tex_sample_lod(tex, u * texels, v * texels, lod, dither), albedo);
    float detail_lod = lod + 2.87f; /* log2 of the detail's scale, 7.3 */
    if (what == HIT_GROUND && detail_lod < (float)(tex->levels - 1)) {
        /* Finer detail of the same texture, turned, for the ground near by. */
        float detail[3], k = 7.3f;
        ww_tex_unpack(ww_tex_sample_lod(tex, v * texels * k, u * texels * k, detail_lod, dither),
                      detail);
        float mod = 0.7f + 0.6f * (detail[0] + detail[1] + detail[2]) /
                               (albedo[0] + albedo[1] + albedo[2] + 1);
        for (int c = 0; c < 3; c++)
            albedo[c] *= ww_tex_min(mod, 1.6f);
    }
    float sun = in_shadow ? 0 : ww_tex_max(0, ww_v3_dot(n, s->sun)), sky_light = 0.8f + 0.2f * n.y;
    for (int c = 0; c < 3; c++)
        rgb[c] = albedo[c] * tint[c] * (s->ambient[c] * sky_light + s->sun_rgb[c] * sun);
    ww_sky_haze(&s->sky, dist, rgb);
    return t;
}

ww_status ww_synth_depth(ww_rng *r, int width, int height, ww_sample *out, char *err,
                         size_t errlen)
{
    ww_status st = ww_sample_alloc(out, width, height, 1, 1, err, errlen);
    if (st != WW_OK)
        return st;
    int tile = ww_tex_tile_side(width > height ? width : height, 8);
    scene *s = malloc(sizeof *s);
    uint8_t *hit = malloc((size_t)width * (size_t)height);
    if (!s || !hit) {
        free(s);
        free(hit);
        ww_sample_free(out);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "synthetic",
                           "out of memory for a %dx%d depth scene", width, height);
    }
    random_scene(r, width, height, tile, s);
    bound_prims(s);
    st = ww_sky_make(&s->sky, tile / 2, err, errlen);
    for (int m = 0; m <= MATERIALS && st == WW_OK; m++)
        st = ww_tex_make(&s->tex[m], tile, tile, 1, &s->looks[m], s->seeds[m], err, errlen);
    if (st == WW_OK) {
        cast(s, out->target, hit);
        ww_vec3 step;
        for (int y = 0; y < height; y++) {
            ww_vec3 row = ww_camera_row(&s->cam, y, &step);
            for (int x = 0; x < width; x++) {
                size_t i = (size_t)y * (size_t)width + (size_t)x;
                float rgb[3];
                float t = shade(s, ww_v3_add(row, ww_v3_scale(step, (float)x)), out->target[i],
                                hit[i], ww_tex_dither(i), rgb);
                for (int c = 0; c < 3; c++)
                    out->image[0][3 * i + (size_t)c] = ww_tex_u8(rgb[c]);
                out->target[i] = t <= DEPTH_MAX ? t : 0;
            }
        }
    }
    ww_sky_free(&s->sky);
    for (int m = 0; m <= MATERIALS; m++)
        ww_tex_free(&s->tex[m]);
    free(s);
    free(hit);
    if (st != WW_OK)
        ww_sample_free(out);
    return st;
}
