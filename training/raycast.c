/* Vectors, pinhole camera and turned boxes for the ray-cast generators (see raycast.h). */
#include "raycast.h"

#include <math.h>
#include <string.h>

#define PI_F 3.14159265358979f
#define NEAR_Z 0.05f /* points closer than this to the camera plane count as behind it */

void ww_camera_look(ww_camera *c, int width, int height, float focal, float cx, float cy,
                    ww_vec3 eye, float pitch, float roll)
{
    ww_vec3 up = ww_v3(0, cosf(pitch), -sinf(pitch)), x = ww_v3(1, 0, 0);
    c->width = width;
    c->height = height;
    c->focal = focal;
    c->cx = cx;
    c->cy = cy;
    c->eye = eye;
    c->forward = ww_v3(0, sinf(pitch), cosf(pitch));
    c->right = ww_v3_add(ww_v3_scale(x, cosf(roll)), ww_v3_scale(up, sinf(roll)));
    c->up = ww_v3_add(ww_v3_scale(x, -sinf(roll)), ww_v3_scale(up, cosf(roll)));
}

ww_vec3 ww_camera_row(const ww_camera *c, int y, ww_vec3 *step)
{
    *step = ww_v3_scale(c->right, 1 / c->focal);
    return ww_v3_add(c->forward,
                     ww_v3_add(ww_v3_scale(c->right, (0.5f - c->cx) / c->focal),
                               ww_v3_scale(c->up, (c->cy - (float)y - 0.5f) / c->focal)));
}

int ww_camera_project(const ww_camera *c, ww_vec3 p, float *x, float *y)
{
    ww_vec3 q = ww_v3_sub(p, c->eye);
    float z = ww_v3_dot(q, c->forward);
    if (z < NEAR_Z)
        return 0;
    *x = c->cx + c->focal * ww_v3_dot(q, c->right) / z;
    *y = c->cy - c->focal * ww_v3_dot(q, c->up) / z;
    return 1;
}

ww_vec3 ww_box3_corner(const ww_box3 *b, int k)
{
    float lx = k & 1 ? b->h.x : -b->h.x, ly = k & 2 ? b->h.y : -b->h.y;
    float lz = k & 4 ? b->h.z : -b->h.z;
    return ww_v3_add(b->c, ww_v3(b->cs * lx - b->sn * lz, ly, b->sn * lx + b->cs * lz));
}

float ww_box3_hit(const ww_box3 *b, ww_vec3 o, ww_vec3 d, int *face)
{
    ww_vec3 q = ww_v3_sub(o, b->c);
    float lo[3] = {b->cs * q.x + b->sn * q.z, q.y, b->cs * q.z - b->sn * q.x};
    float ld[3] = {b->cs * d.x + b->sn * d.z, d.y, b->cs * d.z - b->sn * d.x};
    float half[3] = {b->h.x, b->h.y, b->h.z}, near = -INFINITY, far = INFINITY;
    for (int k = 0; k < 3; k++) {
        float inv = 1 / ld[k], t0 = (-half[k] - lo[k]) * inv, t1 = (half[k] - lo[k]) * inv;
        if (t0 > t1) {
            float t = t0;
            t0 = t1;
            t1 = t;
        }
        if (t0 > near) {
            near = t0;
            *face = k;
        }
        far = t1 < far ? t1 : far;
    }
    return near <= far && near > 0 ? near : -1;
}

ww_vec3 ww_box3_surface(const ww_box3 *b, ww_vec3 p, int face, float *u, float *v)
{
    ww_vec3 q = ww_v3_sub(p, b->c);
    float lx = b->cs * q.x + b->sn * q.z, ly = q.y, lz = b->cs * q.z - b->sn * q.x;
    if (face == 0) {
        float sign = lx > 0 ? 1 : -1;
        *u = sign * lz;
        *v = ly;
        return ww_v3(sign * b->cs, 0, sign * b->sn);
    }
    if (face == 1) {
        *u = lx;
        *v = lz;
        return ww_v3(0, ly > 0 ? 1 : -1, 0);
    }
    float sign = lz > 0 ? 1 : -1;
    *u = -sign * lx;
    *v = ly;
    return ww_v3(-sign * b->sn, 0, sign * b->cs);
}

void ww_box3_pixels(const ww_box3 *b, const ww_camera *c, int box[4])
{
    float x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    /* The box cut at the near plane: its corners in front, and where its 12 edges (corners
     * differing in one bit) cross the plane. */
    ww_vec3 p[8];
    float z[8];
    for (int k = 0; k < 8; k++) {
        p[k] = ww_box3_corner(b, k);
        z[k] = ww_v3_dot(ww_v3_sub(p[k], c->eye), c->forward) - NEAR_Z;
    }
    for (int k = 0; k < 8; k++)
        for (int bit = 0; bit < 8; bit = bit ? 2 * bit : 1) { /* the corner, then its 3 edges */
            int j = k ^ bit;
            ww_vec3 q = p[k];
            if (bit == 0 ? z[k] < 0 : !(z[k] < 0 && z[j] >= 0))
                continue;
            if (bit) /* an edge from k, behind, to j, in front: where it crosses */
                q = ww_v3_add(p[k], ww_v3_scale(ww_v3_sub(p[j], p[k]), z[k] / (z[k] - z[j])));
            /* A hair in front of the plane, so that rounding keeps the point projectable. */
            float x, y;
            if (!ww_camera_project(c, ww_v3_add(q, ww_v3_scale(c->forward, 1e-4f)), &x, &y))
                continue;
            x0 = fminf(x0, x);
            y0 = fminf(y0, y);
            x1 = fmaxf(x1, x);
            y1 = fmaxf(y1, y);
        }
    /* A pixel may be hit when its square meets the projected box; NaN-free, so an empty box
     * (nothing in front) stays x0 > x1. */
    box[0] = (int)fmaxf(0, fminf((float)c->width, floorf(x0 - 1)));
    box[1] = (int)fmaxf(0, fminf((float)c->height, floorf(y0 - 1)));
    box[2] = (int)fminf((float)c->width - 1, fmaxf(-1, ceilf(x1)));
    box[3] = (int)fminf((float)c->height - 1, fmaxf(-1, ceilf(y1)));
}

ww_vec3 ww_sun_random(ww_rng *r)
{
    float elevation = ww_tex_uniform(r, 15, 70) * PI_F / 180;
    float azimuth = ww_tex_uniform(r, 0, 2 * PI_F);
    return ww_v3(cosf(elevation) * sinf(azimuth), sinf(elevation),
                 cosf(elevation) * cosf(azimuth));
}

void ww_sky_random(ww_rng *r, int tile, ww_sky *s)
{
    memset(s, 0, sizeof *s);
    s->overcast = ww_rng_below(r, 4) == 0;
    float grey = ww_tex_uniform(r, 150, 215);
    for (int c = 0; c < 3; c++) {
        float blue = (float)c * 0.5f; /* 0, 0.5, 1: how much a clear sky adds to R, G, B */
        float horizon = ww_tex_uniform(r, 175, 215) + 20 * blue;
        float zenith = ww_tex_uniform(r, 40, 90) + 110 * blue;
        s->horizon[c] = s->overcast ? grey : horizon;
        s->zenith[c] = s->overcast ? grey * 0.8f : zenith;
    }
    float haze_dist = ww_tex_uniform(r, 60, 250);
    /* The table reaches 6 haze distances (99.75% haze). */
    s->haze_scale = WW_HAZE_STEPS / (6 * haze_dist);
    for (int i = 0; i <= WW_HAZE_STEPS; i++)
        s->haze[i] = 1 - expf(-(float)i * 6 / WW_HAZE_STEPS);
    ww_tex_params *p = &s->look;
    ww_tex_random(r, 0.5f * (float)tile, p);
    p->kind = WW_TEX_NOISE;
    p->ncolors = 2;
    p->roughness = ww_tex_uniform(r, 0.5f, 0.65f);
    p->contrast = ww_tex_uniform(r, 1, 2);
    p->shade = p->grain = 0;
    for (int c = 0; c < 3; c++) {
        p->colors[0][c] = 0;
        p->colors[1][c] = 255;
    }
    s->seed = ww_rng_next(r);
}

ww_status ww_sky_make(ww_sky *s, int tile, char *err, size_t errlen)
{
    return ww_tex_make(&s->clouds, tile, tile, 1, &s->look, s->seed, err, errlen);
}

void ww_sky_free(ww_sky *s)
{
    ww_tex_free(&s->clouds);
}

void ww_sky_prepare(const ww_sky *s, float dy, float len, float focal, ww_sky_ray *out)
{
    float e = dy / len, k = sqrtf(ww_tex_min(1, ww_tex_max(0, 2.5f * e)));
    for (int c = 0; c < 3; c++)
        out->rgb[c] = s->horizon[c] + (s->zenith[c] - s->horizon[c]) * k;
    out->scale = 0;
    if (e < 0.01f)
        return;
    /* Clouds on a plane 1 km up, one tile every 4 km, fading towards the horizon; the mip level
     * from the footprint, height * len / focal texels across, stretched by 1 / sqrt(e). */
    float texels = (float)s->clouds.width[0] / 4000, height = 1000 / dy;
    out->scale = height * texels;
    out->lod = ww_tex_log2(out->scale * len / focal) - 0.5f * ww_tex_log2(e);
    out->fade = ww_tex_min(1, 6 * e);
}

void ww_sky_shade(const ww_sky *s, const ww_sky_ray *ray, ww_vec3 d, float dither, float rgb[3])
{
    memcpy(rgb, ray->rgb, sizeof ray->rgb);
    if (ray->scale == 0)
        return;
    uint32_t q = ww_tex_sample_lod(&s->clouds, d.x * ray->scale, d.z * ray->scale, ray->lod,
                                   dither);
    float density = ww_tex_min(1, ww_tex_max(0, (float)(q & 255) * (2.0f / 255) - 0.7f));
    density *= ray->fade;
    for (int c = 0; c < 3; c++)
        rgb[c] += (0.92f * s->horizon[c] + 25 - rgb[c]) * density;
}

void ww_sky_color(const ww_sky *s, ww_vec3 d, float len, float focal, float dither, float rgb[3])
{
    ww_sky_ray ray;
    ww_sky_prepare(s, d.y, len, focal, &ray);
    ww_sky_shade(s, &ray, d, dither, rgb);
}
