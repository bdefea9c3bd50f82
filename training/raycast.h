/* Small 3D pieces shared by the ray-cast generators (synth_depth.c, synth_seg.c): vectors, a
 * pinhole camera, boxes turned about the vertical, and the sky with its haze.
 *
 * World: x to the right, y up, z ahead; the ground is y = 0. A camera's rays have a forward
 * component of 1, so the distance t along a ray is the depth of the point it reaches.
 */
#ifndef WW_RAYCAST_H
#define WW_RAYCAST_H

#include "texture.h"

typedef struct ww_vec3 {
    float x, y, z;
} ww_vec3;

static inline ww_vec3 ww_v3(float x, float y, float z)
{
    return (ww_vec3){x, y, z};
}

static inline ww_vec3 ww_v3_add(ww_vec3 a, ww_vec3 b)
{
    return ww_v3(a.x + b.x, a.y + b.y, a.z + b.z);
}

static inline ww_vec3 ww_v3_sub(ww_vec3 a, ww_vec3 b)
{
    return ww_v3(a.x - b.x, a.y - b.y, a.z - b.z);
}

static inline ww_vec3 ww_v3_scale(ww_vec3 a, float s)
{
    return ww_v3(a.x * s, a.y * s, a.z * s);
}

static inline float ww_v3_dot(ww_vec3 a, ww_vec3 b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}

typedef struct ww_camera {
    int width, height;
    float focal, cx, cy;              /* pixels; the principal point may lie off the centre */
    ww_vec3 eye, right, up, forward;  /* position and unit axes in the world */
} ww_camera;

/* A width x height camera at eye looking along +z, pitched up by pitch, then rolled about its
 * axis by roll (radians); focal length and principal point in pixels. */
void ww_camera_look(ww_camera *c, int width, int height, float focal, float cx, float cy,
                    ww_vec3 eye, float pitch, float roll);
/* The ray through pixel centre (x, y) is row + x * step. */
ww_vec3 ww_camera_row(const ww_camera *c, int y, ww_vec3 *step);
/* Where world point p lands in the image (pixel coordinates, centres at +0.5); 0 when it lies
 * (nearly) behind the camera. */
int ww_camera_project(const ww_camera *c, ww_vec3 p, float *x, float *y);

/* A box turned about the vertical: its own x axis is (cs, 0, sn), its z axis (-sn, 0, cs). */
typedef struct ww_box3 {
    ww_vec3 c, h; /* centre and half sizes along its own axes */
    float cs, sn;
} ww_box3;

/* Corner k (0..7) in the world. */
ww_vec3 ww_box3_corner(const ww_box3 *b, int k);
/* Distance along d (any length) from o, outside the box, to its surface; negative for a miss.
 * *face gets the axis (0..2) of the face hit. */
float ww_box3_hit(const ww_box3 *b, ww_vec3 o, ww_vec3 d, int *face);
/* The outward unit normal at surface point p on face `face` (from ww_box3_hit), and the point's
 * coordinates across the face in metres: *u horizontal (or along x on the top and bottom), *v
 * up (or along z). */
ww_vec3 ww_box3_surface(const ww_box3 *b, ww_vec3 p, int face, float *u, float *v);
/* The pixels (x0, y0, x1, y1, inclusive) that the box may cover in camera c: the projection of
 * the box cut at a plane 5 cm in front of the camera; x0 > x1 (or y0 > y1) when none. */
void ww_box3_pixels(const ww_box3 *b, const ww_camera *c, int box[4]);

/* A unit vector towards a sun 15 to 70 degrees above the horizon, from any side. */
ww_vec3 ww_sun_random(ww_rng *r);

/* ---- Sky and haze ---------------------------------------------------------------------------- */

enum { WW_HAZE_STEPS = 1024 };

typedef struct ww_sky {
    int overcast;
    float horizon[3], zenith[3]; /* RGB 0..255; haze fades everything towards horizon */
    float haze[WW_HAZE_STEPS + 1]; /* haze share by distance * haze_scale */
    float haze_scale;
    ww_tex_params look; /* the clouds */
    uint64_t seed;
    ww_tex clouds;
} ww_sky;

/* Draw a clear or (one in four) overcast sky with haze, and clouds for a tile of `tile` texels.
 * Draws the same count of numbers from r whatever it picks. */
void ww_sky_random(ww_rng *r, int tile, ww_sky *s);
/* Make the cloud tile (tile x tile, mipmapped; see ww_tex_make for the errors). */
ww_status ww_sky_make(ww_sky *s, int tile, char *err, size_t errlen);
void ww_sky_free(ww_sky *s);
/* What the sky's colour along a ray depends on besides its direction across: its height. */
typedef struct ww_sky_ray {
    float rgb[3];      /* the colour without clouds */
    float scale;       /* ray -> cloud tile texels; 0: no clouds */
    float lod, fade;   /* the clouds' mip level and visibility */
} ww_sky_ray;

/* Prepare the rays with height dy (y component) and length len, seen by a camera of focal length
 * focal (pixels): for a level camera, a whole row of pixels. */
void ww_sky_prepare(const ww_sky *s, float dy, float len, float focal, ww_sky_ray *out);
/* The sky's colour along a prepared ray d (only d.x and d.z are read); dither picks the cloud
 * tile's mip level (ww_tex_sample_lod). */
void ww_sky_shade(const ww_sky *s, const ww_sky_ray *ray, ww_vec3 d, float dither, float rgb[3]);
/* Both, for any ray d of length len. */
void ww_sky_color(const ww_sky *s, ww_vec3 d, float len, float focal, float dither, float rgb[3]);
/* How much of the horizon's colour dist metres of haze mix in, 0..1. */
static inline float ww_sky_haze_share(const ww_sky *s, float dist)
{
    float at = dist * s->haze_scale;
    return at >= WW_HAZE_STEPS ? 1 : s->haze[(int)at];
}

/* rgb seen through dist metres of haze. */
static inline void ww_sky_haze(const ww_sky *s, float dist, float rgb[3])
{
    float k = ww_sky_haze_share(s, dist);
    for (int c = 0; c < 3; c++)
        rgb[c] += (s->horizon[c] - rgb[c]) * k;
}

#endif
