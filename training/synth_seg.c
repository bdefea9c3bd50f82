/* Procedural segmentation samples (see synth.h): a street or a landscape seen from eye height,
 * ray-cast like the depth scenes (raycast.h), every surface labelled with its class. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_io.h"
#include "raycast.h"
#include "synth.h"
#include "texture.h"

#define PI_F 3.14159265358979f
#define HILLS_T 3000.0f /* distance given to the far hills: all haze */

/* The named classes, in the order that fewer classes keep. */
enum {
    CLS_SKY, CLS_TERRAIN, CLS_ROAD, CLS_BUILDING, CLS_VEGETATION, CLS_CAR, CLS_PERSON,
    CLS_SIDEWALK, CLS_WATER, CLS_POLE, CLS_SIGN, CLS_FENCE, NAMED
};

static const char *const class_names[NAMED] = {
    "sky", "terrain", "road", "building", "vegetation", "car", "person", "sidewalk", "water",
    "pole", "sign", "fence"};
/* Their Cityscapes train ids, for the palette; -1: none (water). */
static const int cityscapes_id[NAMED] = {10, 9, 0, 2, 8, 13, 11, 1, -1, 5, 7, 4};

static char generic_names[255][10]; /* "class_N" for N >= NAMED; written once */
static pthread_once_t generic_once = PTHREAD_ONCE_INIT;

static void name_generic(void)
{
    for (int id = NAMED; id < 255; id++)
        snprintf(generic_names[id], sizeof generic_names[id], "class_%d", id);
}

const char *ww_synth_seg_class_name(int id)
{
    if (id < 0 || id > 254)
        return NULL;
    if (id < NAMED)
        return class_names[id];
    pthread_once(&generic_once, name_generic);
    return generic_names[id];
}

void ww_synth_seg_class_color(int id, uint8_t rgb[3])
{
    memset(rgb, 0, 3);
    if (id < 0 || id > 254)
        return;
    if (id < NAMED && cityscapes_id[id] >= 0) {
        memcpy(rgb, ww_palette_cityscapes(NULL) + 3 * cityscapes_id[id], 3);
    } else if (id < NAMED) { /* water */
        rgb[1] = 150;
        rgb[2] = 200;
    } else { /* spread over the turbo map: 167 is odd, so ids map to distinct entries */
        memcpy(rgb, ww_colormap_rgb(WW_CMAP_TURBO) + 3 * ((id * 167) & 255), 3);
    }
}

/* ---- The world --------------------------------------------------------------------------------
 * Objects are boxes (buildings, car bodies, poles, hedges, fences) or boards: flat cut-outs
 * facing the camera (people, tree crowns, signs, generic things), made of ellipses and
 * rectangles. The ground's class comes from where a ray meets it: the road and its pavements
 * along a straight line, a lake, terrain elsewhere. */

enum { MAX_OBJECTS = 220, MAX_PARTS = 6 };
enum { OBJ_BOX, OBJ_BOARD };
/* A pixel's code: 8 * object + its face or part; CODE_NONE where no object is hit (the ground,
 * hills or sky; objects stand on the ground, so it never hides them). */
enum { CODE_NONE = 0xffff };
/* Surface patterns drawn over a box's texture. */
enum { DETAIL_NONE, DETAIL_WINDOWS, DETAIL_SLATS, DETAIL_GLASS };

typedef struct part {
    int ellipse;        /* else a rectangle */
    float x, y, hx, hy; /* centre (x across, y up from the ground) and half sizes, metres */
    float tint[3];
} part;

typedef struct object {
    int kind, cls, detail;
    ww_box3 box;  /* a box; a board: its centre (on the ground) and the extent of its parts */
    float tint[3];
    float grid[4]; /* windows: cell width, floor height, window shares across and up; slats:
                    * period and gap share */
    int nparts;
    part parts[MAX_PARTS];
    int pixels[4];
    float near; /* the least depth any of it can have */
} object;

/* A class's texture: one tile per sample, tinted per object. */
typedef struct look {
    ww_tex_params params;
    uint64_t seed;
    float metres; /* the tile's size in the world */
    int used;
    ww_tex tex;
    float texels, lod; /* texels per metre and its log2 */
} look;

typedef struct world {
    ww_camera cam;
    int classes;
    ww_sky sky;
    ww_vec3 sun;
    float light[3]; /* the sun's strength on R, G, B; the ambient light is 1 - light */
    /* The road frame on the ground: lateral = (x - x0) cs - z sn, along = (x - x0) sn + z cs. */
    float x0, cs, sn;
    float road, walk;       /* half widths: the road's, and to the pavements' outer edge */
    float lake[4];          /* centre x, z and half axes of the lake ellipse; 0 axes: none */
    /* Far hills: elevation (y / z of a ray) = hills[3][0] + sum over k < 3 of
     * a sin(f azimuth + p), (a, f, p) = hills[k], azimuth = x / z; hills[3][0] = 0: none. */
    float hills[4][3];
    float grass[3], water[3];
    int nobj;
    object obj[MAX_OBJECTS];
    look looks[255];
} world;

/* The colours shared by car paint and building fronts: only context tells those apart. */
static const float paints[12][3] = {
    {235, 235, 230}, {200, 200, 200}, {150, 150, 155}, {90, 90, 95},  {40, 40, 45},
    {190, 175, 150}, {170, 60, 50},   {110, 30, 35},   {60, 80, 140}, {35, 45, 80},
    {90, 110, 80},   {200, 170, 90}};

static void tint_around(ww_rng *r, const float base[3], float spread, float tint[3])
{
    float k = ww_tex_uniform(r, 1 - spread, 1 + spread);
    for (int c = 0; c < 3; c++)
        tint[c] = base[c] * k * ww_tex_uniform(r, 1 - spread / 3, 1 + spread / 3) / 255;
}

static void paint(ww_rng *r, float tint[3])
{
    tint_around(r, paints[ww_rng_below(r, 12)], 0.12f, tint);
}

/* A point of the road frame on the ground, in the world. */
static ww_vec3 road_point(const world *w, float lateral, float along)
{
    return ww_v3(w->x0 + lateral * w->cs + along * w->sn, 0, along * w->cs - lateral * w->sn);
}

/* A new object of class cls, or NULL when the class is not in use or the world is full. */
static object *add(world *w, int cls, int kind)
{
    if (cls >= w->classes || w->nobj == MAX_OBJECTS)
        return NULL;
    object *o = &w->obj[w->nobj++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->cls = cls;
    for (int c = 0; c < 3; c++)
        o->tint[c] = 1;
    w->looks[cls].used = 1;
    return o;
}

/* A box aligned with the road: lateral, along its centre; y0 its bottom; sizes in metres. */
static object *road_box(world *w, int cls, float lateral, float along, float y0, float across,
                        float length, float height)
{
    object *o = add(w, cls, OBJ_BOX);
    if (o) {
        o->box.c = ww_v3_add(road_point(w, lateral, along), ww_v3(0, y0 + height / 2, 0));
        o->box.h = ww_v3(across / 2, height / 2, length / 2);
        o->box.cs = w->cs;
        o->box.sn = -w->sn;
    }
    return o;
}

/* A board standing on the ground at (lateral, along); its parts follow. */
static object *board(world *w, int cls, float lateral, float along)
{
    object *o = add(w, cls, OBJ_BOARD);
    if (o) {
        o->box.c = road_point(w, lateral, along);
        o->box.cs = 1; /* facing the camera */
    }
    return o;
}

static void add_part(object *o, int ellipse, float x, float y, float hx, float hy,
                     const float tint[3])
{
    if (!o || o->nparts == MAX_PARTS)
        return;
    part *p = &o->parts[o->nparts++];
    *p = (part){ellipse, x, y, hx, hy, {tint[0], tint[1], tint[2]}};
    /* The board's extent (for its pixels) grows with its parts. */
    o->box.h.x = fmaxf(o->box.h.x, fabsf(x) + hx);
    o->box.h.y = fmaxf(o->box.h.y, y + hy);
}

static void tree(ww_rng *r, world *w, float lateral, float along)
{
    float height = ww_tex_uniform(r, 4, 11), crown = height * ww_tex_uniform(r, 0.25f, 0.4f);
    float trunk = ww_tex_uniform(r, 0.15f, 0.35f), tint[3], bark[3];
    static const float greens[3][3] = {{70, 120, 50}, {40, 90, 40}, {120, 130, 50}};
    tint_around(r, greens[ww_rng_below(r, 3)], 0.25f, tint);
    tint_around(r, (const float[3]){90, 70, 55}, 0.2f, bark);
    object *t = road_box(w, CLS_VEGETATION, lateral, along, 0, trunk, trunk, height - crown);
    if (t)
        memcpy(t->tint, bark, sizeof bark);
    object *c = board(w, CLS_VEGETATION, lateral, along);
    for (int k = 0; k < 5; k++) { /* the crown: overlapping blobs */
        float x = ww_tex_uniform(r, -0.5f, 0.5f) * crown;
        float y = ww_tex_uniform(r, -0.4f, 0.4f) * crown;
        float size = ww_tex_uniform(r, 0.5f, 0.8f) * crown, shade = ww_tex_uniform(r, 0.8f, 1.1f);
        float leaf[3] = {tint[0] * shade, tint[1] * shade, tint[2] * shade};
        add_part(c, 1, x, height - crown + y, size, size * ww_tex_uniform(r, 0.8f, 1.1f), leaf);
    }
}

static void person(ww_rng *r, world *w, float lateral, float along)
{
    static const float skins[4][3] = {{235, 200, 170}, {200, 150, 110}, {140, 95, 65},
                                      {90, 60, 45}};
    float h = ww_tex_uniform(r, 1.5f, 1.9f), skin[3], shirt[3], legs[3];
    tint_around(r, skins[ww_rng_below(r, 4)], 0.08f, skin);
    float c1[3], c2[3];
    float hue = ww_tex_uniform(r, 0, 1), sat = ww_tex_uniform(r, 0.1f, 0.7f);
    ww_tex_hsv(hue, sat, ww_tex_uniform(r, 0.2f, 0.9f), c1);
    hue = ww_tex_uniform(r, 0, 1);
    sat = ww_tex_uniform(r, 0.1f, 0.5f);
    ww_tex_hsv(hue, sat, ww_tex_uniform(r, 0.1f, 0.6f), c2);
    tint_around(r, c1, 0.05f, shirt);
    tint_around(r, c2, 0.05f, legs);
    float wide = ww_tex_uniform(r, 0.85f, 1.15f);
    object *o = board(w, CLS_PERSON, lateral, along);
    add_part(o, 0, -0.09f * wide, 0.24f * h, 0.075f * wide, 0.24f * h, legs);
    add_part(o, 0, 0.09f * wide, 0.24f * h, 0.075f * wide, 0.24f * h, legs);
    add_part(o, 1, 0, 0.63f * h, 0.19f * wide, 0.19f * h, shirt);
    add_part(o, 0, -0.2f * wide, 0.6f * h, 0.045f, 0.15f * h, shirt);
    add_part(o, 0, 0.2f * wide, 0.6f * h, 0.045f, 0.15f * h, shirt);
    add_part(o, 1, 0, 0.9f * h, 0.065f * h, 0.075f * h, skin);
}

static void car(ww_rng *r, world *w, float lateral, float along)
{
    float length = ww_tex_uniform(r, 3.8f, 4.9f), width = ww_tex_uniform(r, 1.65f, 1.9f);
    float body = ww_tex_uniform(r, 0.6f, 0.85f), cabin = ww_tex_uniform(r, 0.4f, 0.6f);
    float wheel = ww_tex_uniform(r, 0.55f, 0.7f), tint[3];
    paint(r, tint);
    object *o = road_box(w, CLS_CAR, lateral, along, 0.5f * wheel, width, length, body);
    object *c = road_box(w, CLS_CAR, lateral, along - 0.08f * length, 0.5f * wheel + body,
                         width * 0.88f, length * 0.55f, cabin);
    if (o)
        memcpy(o->tint, tint, sizeof tint);
    if (c) {
        memcpy(c->tint, tint, sizeof tint);
        c->detail = DETAIL_GLASS;
    }
    for (int k = 0; k < 4; k++) {
        object *wh = road_box(w, CLS_CAR, lateral + (k & 1 ? 0.42f : -0.42f) * width,
                              along + (k & 2 ? 0.32f : -0.32f) * length, 0, 0.22f, wheel, wheel);
        if (wh)
            for (int ch = 0; ch < 3; ch++)
                wh->tint[ch] = 0.12f;
    }
}

/* A row of buildings on one side (+1 right, -1 left) from the pavement's edge. */
static void buildings(ww_rng *r, world *w, float side)
{
    float along = ww_tex_uniform(r, -10, 15);
    for (int k = 0; k < 10 && along < 160; k++) {
        float length = ww_tex_uniform(r, 8, 30), depth = ww_tex_uniform(r, 8, 16);
        float height = expf(ww_tex_uniform(r, logf(5), logf(35)));
        float setback = ww_rng_below(r, 3) == 0 ? ww_tex_uniform(r, 1, 6) : 0;
        float gap = ww_rng_below(r, 3) == 0 ? ww_tex_uniform(r, 2, 8) : 0, tint[3];
        paint(r, tint);
        float grid[4] = {ww_tex_uniform(r, 2.5f, 4.5f), ww_tex_uniform(r, 2.8f, 3.8f),
                         ww_tex_uniform(r, 0.35f, 0.7f), ww_tex_uniform(r, 0.4f, 0.65f)};
        float lateral = side * (w->walk + setback + depth / 2);
        object *o = road_box(w, CLS_BUILDING, lateral, along + length / 2, 0, depth, length,
                             height);
        if (o) {
            memcpy(o->tint, tint, sizeof tint);
            memcpy(o->grid, grid, sizeof grid);
            o->detail = DETAIL_WINDOWS;
        }
        along += length + gap;
    }
}

/* Poles at the curb, some with a sign. */
static void poles(ww_rng *r, world *w, float side)
{
    static const float signs[4][3] = {{200, 30, 30}, {30, 70, 170}, {230, 190, 30},
                                      {235, 235, 235}};
    float along = ww_tex_uniform(r, 3, 20);
    for (int k = 0; k < 5 && along < 90; k++) {
        float height = ww_tex_uniform(r, 3, 7), tint[3], plate[3];
        tint_around(r, paints[2 + ww_rng_below(r, 3)], 0.1f, tint);
        tint_around(r, signs[ww_rng_below(r, 4)], 0.1f, plate);
        int with_sign = ww_rng_below(r, 2), round = ww_rng_below(r, 2);
        float size = ww_tex_uniform(r, 0.25f, 0.4f), at = ww_tex_uniform(r, 2, 2.6f);
        float lateral = side * (w->road + 0.4f);
        object *o = road_box(w, CLS_POLE, lateral, along, 0, 0.12f, 0.12f, height);
        if (o)
            memcpy(o->tint, tint, sizeof tint);
        if (with_sign && o) {
            object *s = board(w, CLS_SIGN, lateral, along - 0.1f);
            const float white[3] = {0.95f, 0.95f, 0.95f};
            add_part(s, round, 0, at, size, size, white);
            add_part(s, round, 0, at, size * 0.82f, size * 0.82f, plate);
        }
        along += ww_tex_uniform(r, 12, 30);
    }
}

/* A fence or a hedge along one side, beyond the pavement. */
static void border(ww_rng *r, world *w, float side)
{
    int hedge = ww_rng_below(r, 2);
    float along = ww_tex_uniform(r, -5, 20), length = ww_tex_uniform(r, 10, 60);
    float height = hedge ? ww_tex_uniform(r, 0.8f, 1.8f) : ww_tex_uniform(r, 0.9f, 1.6f);
    float tint[3], period = ww_tex_uniform(r, 0.12f, 0.3f), gap = ww_tex_uniform(r, 0.2f, 0.6f);
    tint_around(r, hedge ? (const float[3]){60, 100, 45} : paints[5 + ww_rng_below(r, 4)], 0.2f,
                tint);
    float thick = hedge ? ww_tex_uniform(r, 0.6f, 1.2f) : 0.06f;
    object *o = road_box(w, hedge ? CLS_VEGETATION : CLS_FENCE,
                         side * (w->walk + 0.5f + thick / 2), along + length / 2, 0, thick,
                         length, height);
    if (o) {
        memcpy(o->tint, tint, sizeof tint);
        if (!hedge) {
            o->detail = DETAIL_SLATS;
            o->grid[0] = period;
            o->grid[1] = gap;
        }
    }
}

/* Things of the classes beyond the named ones: boxes or blobs on the ground, anywhere off the
 * road. */
static void generic(ww_rng *r, world *w)
{
    int n = w->classes > NAMED ? 1 + (int)ww_rng_below(r, 6) : 0;
    for (int k = 0; k < n; k++) {
        int cls = NAMED + (int)ww_rng_below(r, (uint32_t)(w->classes - NAMED));
        float side = ww_rng_below(r, 2) ? 1 : -1, along = ww_tex_uniform(r, 4, 50);
        float lateral = side * (w->road + ww_tex_uniform(r, 0.5f, 12));
        float a = ww_tex_uniform(r, 0.3f, 2.5f), b = ww_tex_uniform(r, 0.3f, 2.5f);
        int blob = ww_rng_below(r, 2);
        float length = a * ww_tex_uniform(r, 0.5f, 2);
        if (blob) {
            object *o = board(w, cls, lateral, along);
            const float one[3] = {1, 1, 1};
            add_part(o, 1, 0, b, a, b, one);
            add_part(o, 1, a * 0.4f, b * 1.4f, a * 0.6f, b * 0.6f, one);
        } else {
            road_box(w, cls, lateral, along, 0, a, length, b);
        }
    }
}

/* ---- Looks ----------------------------------------------------------------------------------- */

/* Class cls's texture for a tile of `tile` texels: a pattern family and colours of its own,
 * near white where objects tint it (cars, buildings, people, signs). Classes beyond the named
 * ones get a look that depends on the id alone, the sample choosing only the noise. */
static void class_look(ww_rng *r, const world *w, int cls, float tile, look *l)
{
    ww_tex_params *p = &l->params;
    ww_rng own;
    ww_rng_seed(&own, 0x5e95eed0u + (uint64_t)cls);
    ww_tex_random(cls < NAMED ? r : &own, tile * 0.15f, p);
    l->seed = ww_rng_next(r);
    l->metres = cls < NAMED ? 2 : 0.5f + (float)(cls % 5);
    float base[3] = {225, 225, 225}, spread = 0.15f;
    switch (cls) {
    case CLS_TERRAIN:
        memcpy(base, w->grass, sizeof base);
        p->kind = WW_TEX_NOISE;
        p->grain = 0.18f;
        spread = 0.35f;
        l->metres = 4;
        break;
    case CLS_ROAD:
        base[0] = base[1] = base[2] = ww_tex_uniform(r, 70, 110);
        p->kind = WW_TEX_NOISE;
        p->feature = tile * 0.1f;
        p->contrast = 0.3f;
        p->shade = 0.06f;
        p->grain = 0.08f;
        l->metres = 2;
        break;
    case CLS_SIDEWALK:
        base[0] = ww_tex_uniform(r, 150, 200);
        base[1] = base[0] * 0.97f;
        base[2] = base[0] * ww_tex_uniform(r, 0.88f, 1);
        p->kind = WW_TEX_BRICKS;
        p->aspect = ww_tex_uniform(r, 1, 2);
        p->feature = tile * 0.25f;
        p->joint = 0.05f;
        l->metres = 2.5f;
        break;
    case CLS_BUILDING:
        p->kind = ww_rng_below(r, 2) ? WW_TEX_BRICKS : WW_TEX_NOISE;
        p->aspect = ww_tex_uniform(r, 2.5f, 4);
        p->feature = tile * 0.1f;
        p->contrast = 0.5f;
        l->metres = 5;
        break;
    case CLS_VEGETATION:
        base[0] = 190;
        base[2] = 170;
        p->kind = WW_TEX_CELLS;
        p->feature = tile * 0.07f;
        p->joint = 0.3f;
        spread = 0.45f;
        l->metres = 1.5f;
        break;
    case CLS_CAR:
    case CLS_SIGN:
        p->kind = WW_TEX_NOISE;
        p->feature = tile * 0.5f;
        p->contrast = 0.3f;
        p->grain = 0.03f;
        spread = 0.05f;
        l->metres = 3;
        break;
    case CLS_PERSON:
        p->kind = ww_rng_below(r, 2) ? WW_TEX_VEINS : WW_TEX_NOISE;
        p->contrast = 0.6f;
        p->feature = tile * 0.1f;
        l->metres = 0.6f;
        break;
    case CLS_WATER:
        memcpy(base, w->water, sizeof base);
        p->kind = WW_TEX_NOISE;
        p->aspect = 8;
        p->contrast = 0.7f;
        l->metres = 6;
        break;
    case CLS_POLE:
        p->kind = WW_TEX_NOISE;
        p->feature = tile * 0.05f;
        p->contrast = 0.4f;
        l->metres = 1;
        break;
    case CLS_FENCE:
        p->kind = WW_TEX_VEINS;
        p->aspect = 4;
        l->metres = 1;
        break;
    default:
        break;
    }
    if (cls < NAMED)
        ww_tex_palette_around(r, base, spread, 3, p);
}

/* ---- Scenes ---------------------------------------------------------------------------------- */

static void street(ww_rng *r, world *w)
{
    for (int s = 0; s < 2; s++) {
        float side = s ? 1 : -1;
        int built = ww_rng_below(r, 5) != 0, trees = ww_rng_below(r, 5) < 3;
        if (built)
            buildings(r, w, side);
        else
            border(r, w, side);
        float along = ww_tex_uniform(r, 2, 12);
        for (int k = 0; k < 8 && trees; k++, along += ww_tex_uniform(r, 7, 16))
            tree(r, w, side * (w->walk > w->road + 1.5f ? w->walk - 0.8f : w->walk + 1.5f),
                 along);
        poles(r, w, side);
    }
    int cars = (int)ww_rng_below(r, 9);
    float along[2] = {ww_tex_uniform(r, 4, 12), ww_tex_uniform(r, 4, 12)};
    for (int k = 0; k < cars; k++) {
        int lane = (int)ww_rng_below(r, 2), parked = ww_rng_below(r, 3) == 0;
        float side = lane ? 1 : -1;
        car(r, w, side * (parked ? w->road - 1.1f : w->road / 2), along[lane]);
        along[lane] += ww_tex_uniform(r, 6, 25);
    }
    int people = (int)ww_rng_below(r, 11);
    for (int k = 0; k < people; k++) {
        float side = ww_rng_below(r, 2) ? 1 : -1, u = ww_tex_uniform(r, 0, 1);
        float lateral = w->walk > w->road + 0.8f ? w->road + 0.4f + u * (w->walk - w->road - 0.7f)
                                                 : w->walk + 0.5f + u * 3;
        person(r, w, side * lateral, ww_tex_uniform(r, 3, 50));
    }
}

static void landscape(ww_rng *r, world *w)
{
    int trees = 3 + (int)ww_rng_below(r, 12);
    for (int k = 0; k < trees; k++) {
        float side = ww_rng_below(r, 2) ? 1 : -1;
        tree(r, w, side * (w->road + ww_tex_uniform(r, 2, 40)), ww_tex_uniform(r, 5, 120));
    }
    for (int s = 0; s < 2; s++)
        if (ww_rng_below(r, 2))
            border(r, w, s ? 1 : -1);
    int houses = (int)ww_rng_below(r, 4);
    for (int k = 0; k < houses; k++) {
        float tint[3], side = ww_rng_below(r, 2) ? 1 : -1, size = ww_tex_uniform(r, 6, 14);
        paint(r, tint);
        object *o = road_box(w, CLS_BUILDING, side * (w->road + ww_tex_uniform(r, 8, 50)),
                             ww_tex_uniform(r, 20, 150), 0, size, size * ww_tex_uniform(r, 1, 2),
                             ww_tex_uniform(r, 4, 9));
        if (o) {
            memcpy(o->tint, tint, sizeof tint);
            o->detail = DETAIL_WINDOWS;
            o->grid[0] = 3;
            o->grid[1] = 3;
            o->grid[2] = 0.4f;
            o->grid[3] = 0.45f;
        }
    }
    int people = (int)ww_rng_below(r, 4), cars = w->road > 0 ? (int)ww_rng_below(r, 4) : 0;
    for (int k = 0; k < people; k++)
        person(r, w, (ww_rng_below(r, 2) ? 1 : -1) * (w->road + ww_tex_uniform(r, 0.5f, 10)),
               ww_tex_uniform(r, 4, 40));
    for (int k = 0; k < cars; k++)
        car(r, w, (ww_rng_below(r, 2) ? 1 : -1) * w->road / 2, ww_tex_uniform(r, 6, 80));
}

/* Draw the whole world from r first (the count of draws does not depend on the size). */
static void random_world(ww_rng *r, int width, int height, int classes, int tile, world *w)
{
    memset(w, 0, sizeof *w);
    w->classes = classes;
    int street_scene = classes > CLS_ROAD && ww_rng_below(r, 10) < 7;
    float focal = (float)width * ww_tex_uniform(r, 0.55f, 0.95f);
    /* With the sky alone, the horizon lies below the image. */
    float horizon = classes > CLS_TERRAIN ? ww_tex_uniform(r, 0.3f, 0.55f) : 2;
    float eye = street_scene ? ww_tex_uniform(r, 1.3f, 2.2f) : ww_tex_uniform(r, 1.5f, 6);
    /* A level camera (the horizon set by the principal point): every ray of a row has the same
     * height, which the rendering uses. */
    ww_camera_look(&w->cam, width, height, focal, 0.5f * (float)width, horizon * (float)height,
                   ww_v3(0, eye, 0), 0, 0);
    ww_sky_random(r, tile, &w->sky);
    w->sun = ww_sun_random(r);
    float sun = w->sky.overcast ? ww_tex_uniform(r, 0.1f, 0.25f) : ww_tex_uniform(r, 0.4f, 0.6f);
    for (int c = 0; c < 3; c++)
        w->light[c] = sun * (1 - 0.05f * (float)c);
    static const float grass[3][3] = {{85, 120, 55}, {130, 125, 75}, {105, 90, 65}};
    tint_around(r, grass[ww_rng_below(r, 3)], 0.15f, w->grass);
    for (int c = 0; c < 3; c++) { /* water: the sky's colours, darker */
        w->grass[c] *= 255;
        w->water[c] = 0.55f * w->sky.horizon[c] + 0.25f * w->sky.zenith[c];
    }

    int has_road = street_scene || (classes > CLS_ROAD && ww_rng_below(r, 2));
    w->x0 = ww_tex_uniform(r, -3, 3);
    float turn = ww_tex_uniform(r, -0.35f, 0.35f);
    w->cs = cosf(turn);
    w->sn = sinf(turn);
    w->road = has_road ? street_scene ? ww_tex_uniform(r, 3, 7.5f) : ww_tex_uniform(r, 2, 3.5f) : 0;
    float walk = ww_tex_uniform(r, 1.5f, 4.5f);
    w->walk = w->road + (street_scene && classes > CLS_SIDEWALK ? walk : 0);
    if (classes > CLS_WATER && ww_rng_below(r, 10) < (street_scene ? 2u : 6u)) {
        float side = ww_rng_below(r, 2) ? 1 : -1, ax = ww_tex_uniform(r, 15, 80);
        w->lake[0] = w->x0 + side * (w->walk + 5 + ax);
        w->lake[1] = ww_tex_uniform(r, 25, 150);
        w->lake[2] = ax;
        w->lake[3] = ww_tex_uniform(r, 8, 40);
    }
    if (classes > CLS_TERRAIN && ww_rng_below(r, 10) < (street_scene ? 3u : 8u)) {
        float top = ww_tex_uniform(r, 0.02f, 0.12f);
        for (int k = 0; k < 3; k++) {
            w->hills[k][0] = top * ww_tex_uniform(r, 0.2f, 0.5f) / (float)(k + 1);
            w->hills[k][1] = ww_tex_uniform(r, 1, 3) * (float)(2 * k + 1);
            w->hills[k][2] = ww_tex_uniform(r, 0, 2 * PI_F);
        }
        w->hills[3][0] = top * 0.5f; /* the mean elevation */
    }
    if (street_scene)
        street(r, w);
    else
        landscape(r, w);
    generic(r, w);
    for (int c = 0; c < classes; c++)
        class_look(r, w, c, (float)tile, &w->looks[c]);
}

/* ---- Rendering ------------------------------------------------------------------------------- */

enum { HILL_STEPS = 2048 };
#define HILL_RANGE 4.0f /* azimuths (x / z of a ray) the hills table covers, either side */

typedef struct frame {
    const world *w;
    int order[MAX_OBJECTS];      /* the objects nearest first, so that far ones skip early */
    float hills[HILL_STEPS + 1]; /* elevation (y / z of a ray) of the hills by azimuth */
    float hills_dist;            /* how far the hills' haze puts them */
    float inv_focal;
    float ambient[3], direct[3]; /* light: ambient + direct * cos(angle to the sun) */
} frame;

static float hills_at(const frame *f, float azimuth)
{
    float at = (ww_tex_min(ww_tex_max(azimuth, -HILL_RANGE), HILL_RANGE) / HILL_RANGE + 1) *
               (HILL_STEPS / 2);
    int i = (int)at;
    i = i < HILL_STEPS ? i : HILL_STEPS - 1;
    return f->hills[i] + (f->hills[i + 1] - f->hills[i]) * (at - (float)i);
}

/* Whether a board's part covers (x, y) of its plane (metres from its foot); the part's index. */
static int board_part(const object *o, float x, float y)
{
    for (int k = o->nparts - 1; k >= 0; k--) {
        const part *p = &o->parts[k];
        float u = (x - p->x) / p->hx, v = (y - p->y) / p->hy;
        if (p->ellipse ? u * u + v * v <= 1 : fabsf(u) <= 1 && fabsf(v) <= 1)
            return k;
    }
    return -1;
}

/* The nearest object of every pixel: its distance t into depth (where code is not CODE_NONE)
 * and code. */
static void cast(const frame *f, float *depth, uint16_t *code)
{
    const world *w = f->w;
    const ww_camera *cam = &w->cam;
    int width = cam->width;
    memset(code, 0xff, (size_t)width * (size_t)cam->height * sizeof *code);
    ww_vec3 step;
    for (int j = 0; j < w->nobj; j++) {
        int k = f->order[j];
        const object *o = &w->obj[k];
        for (int y = o->pixels[1]; y <= o->pixels[3]; y++) {
            ww_vec3 row = ww_camera_row(cam, y, &step);
            for (int x = o->pixels[0]; x <= o->pixels[2]; x++) {
                size_t i = (size_t)y * (size_t)width + (size_t)x;
                int hit = code[i] != CODE_NONE;
                if (hit && depth[i] <= o->near) /* hidden whatever it shows here */
                    continue;
                ww_vec3 d = ww_v3_add(row, ww_v3_scale(step, (float)x));
                int sub = 0;
                float t;
                if (o->kind == OBJ_BOARD) { /* rays have z = 1: the board's plane is at t = z */
                    t = o->box.c.z;
                    sub = board_part(o, cam->eye.x + d.x * t - o->box.c.x, cam->eye.y + d.y * t);
                    if (sub < 0)
                        continue;
                } else {
                    t = ww_box3_hit(&o->box, cam->eye, d, &sub);
                    if (o->detail == DETAIL_SLATS && t > 0) { /* see through the gaps */
                        float u, v;
                        ww_box3_surface(&o->box, ww_v3_add(cam->eye, ww_v3_scale(d, t)), sub, &u,
                                        &v);
                        float at = u / o->grid[0];
                        if (sub != 1 && at - floorf(at) < o->grid[1])
                            continue;
                    }
                }
                if (t > 0 && (!hit || t < depth[i])) {
                    depth[i] = t;
                    code[i] = (uint16_t)(8 * k + sub);
                }
            }
        }
    }
}

/* The ground's class at (x, z), with texture coordinates (u, v) in metres. */
static int ground_class(const world *w, float x, float z, float *u, float *v)
{
    float lateral = (x - w->x0) * w->cs - z * w->sn, along = (x - w->x0) * w->sn + z * w->cs;
    float side = fabsf(lateral);
    *u = lateral;
    *v = along;
    if (side < w->road)
        return CLS_ROAD;
    if (side < w->walk)
        return CLS_SIDEWALK;
    *u = x;
    *v = z;
    if (w->lake[2] > 0) {
        float a = (x - w->lake[0]) / w->lake[2], b = (z - w->lake[1]) / w->lake[3];
        if (a * a + b * b < 1)
            return CLS_WATER;
    }
    return CLS_TERRAIN;
}

/* White paint on the road: solid lines along its edges, dashed ones between 3.5 m lanes. */
static int marking(const world *w, float lateral, float along)
{
    float side = fabsf(lateral), edge = w->road - 0.35f;
    if (fabsf(side - edge) < 0.08f)
        return 1;
    int lanes = (int)(2 * w->road / 3.5f);
    if (lanes < 2)
        return 0;
    float lane = 2 * w->road / (float)lanes, at = (lateral + w->road) / lane;
    float line = fabsf(at - floorf(at + 0.5f)) * lane, dash = along / 9;
    return line < 0.07f && dash - floorf(dash) < 0.4f && side < edge;
}

/* A texture lookup of class cls's look at (u, v) metres, where a pixel covers 2^lod metres. */
static void texel(const world *w, int cls, float u, float v, float lod, float dither, float rgb[3])
{
    const look *l = &w->looks[cls];
    ww_tex_unpack(ww_tex_sample_lod(&l->tex, u * l->texels, v * l->texels, lod + l->lod, dither),
                  rgb);
}

/* Windows on a building's walls (not its roof): dark glass in a grid of floors, or nothing. */
static int window(const object *o, int face, float u, float v)
{
    float y = v + o->box.c.y, top = o->box.c.y + o->box.h.y;
    if (face == 1 || y < o->grid[1] || y > top - 0.6f)
        return 0;
    float a = u / o->grid[0], b = y / o->grid[1];
    return fabsf(a - floorf(a) - 0.5f) < o->grid[2] / 2 &&
           fabsf(b - floorf(b) - 0.55f) < o->grid[3] / 2;
}

/* The colour and class of object code c (cast) seen along ray d at depth t. */
static int shade_object(const frame *f, ww_vec3 d, float t, int c, float dither, float rgb[3])
{
    const world *w = f->w;
    const object *o = &w->obj[c >> 3];
    ww_vec3 n = ww_v3(0, 0, -1), g = ww_v3_add(w->cam.eye, ww_v3_scale(d, t));
    float tint[3], u, v, slant = 1;
    memcpy(tint, o->tint, sizeof tint);
    if (o->kind == OBJ_BOARD) {
        const part *p = &o->parts[c & 7];
        u = g.x - o->box.c.x;
        v = g.y;
        for (int k = 0; k < 3; k++)
            tint[k] *= p->tint[k];
    } else {
        n = ww_box3_surface(&o->box, g, c & 7, &u, &v);
        slant = fabsf(ww_v3_dot(n, d)) / sqrtf(ww_v3_dot(d, d));
        if ((o->detail == DETAIL_WINDOWS && window(o, c & 7, u, v)) ||
            (o->detail == DETAIL_GLASS && (c & 7) != 1)) {
            /* Glass: dark, with a little of the sky in it. */
            for (int k = 0; k < 3; k++)
                tint[k] = (0.15f * w->sky.zenith[k] + 20) / 255;
        }
    }
    float lod = ww_tex_log2(t * f->inv_focal) - 0.5f * ww_tex_log2(ww_tex_max(slant, 0.02f));
    texel(w, o->cls, u, v, lod, dither, rgb);
    float sun = ww_tex_max(0, ww_v3_dot(n, w->sun));
    for (int k = 0; k < 3; k++)
        rgb[k] *= tint[k] * (f->ambient[k] + f->direct[k] * sun);
    ww_sky_haze(&w->sky, t, rgb);
    return o->cls;
}

/* Shade and label row y: the objects cast found, else the ground, the hills or the sky. The
 * camera is level, so the row's rays share their height: the ground's distance, mip level,
 * light and haze are the row's. */
static void shade_row(const frame *f, int y, const float *depth, const uint16_t *code,
                      uint8_t *rgb, float *labels)
{
    const world *w = f->w;
    const ww_camera *cam = &w->cam;
    ww_vec3 step, row = ww_camera_row(cam, y, &step);
    float dy = row.y, t = dy < 0 ? -cam->eye.y / dy : f->hills_dist;
    float lod = dy < 0 ? ww_tex_log2(t * f->inv_focal) -
                             0.5f * ww_tex_log2(ww_tex_max(-dy / sqrtf(1 + dy * dy), 0.02f))
                       : ww_tex_log2(300 * f->inv_focal);
    float haze = ww_sky_haze_share(&w->sky, t), light[3], keep[3];
    ww_sky_ray sky;
    ww_sky_prepare(&w->sky, dy, sqrtf(1 + dy * dy), cam->focal, &sky);
    for (int k = 0; k < 3; k++) { /* lit from above, then hazy: c * keep + horizon share */
        light[k] = f->ambient[k] + f->direct[k] * w->sun.y;
        keep[k] = light[k] * (1 - haze);
    }
    for (int x = 0; x < cam->width; x++) {
        ww_vec3 d = ww_v3_add(row, ww_v3_scale(step, (float)x));
        size_t i = (size_t)y * (size_t)cam->width + (size_t)x;
        float dither = ww_tex_dither(i), c[3];
        int cls;
        if (code[i] != CODE_NONE) {
            cls = shade_object(f, d, depth[i], code[i], dither, c);
        } else if (dy < 0 || dy < hills_at(f, d.x)) {
            float u = d.x * 300, v = dy * 300; /* the hills: a texture across the view */
            cls = dy < 0 ? ground_class(w, cam->eye.x + d.x * t, t, &u, &v) : CLS_TERRAIN;
            texel(w, cls, u, v, lod, dither, c);
            if (cls == CLS_TERRAIN) { /* patches 9 times larger, turned: no visible tiling */
                const look *l = &w->looks[cls];
                float patch[3], mean = (float)(l->tex.texel[l->tex.levels - 1][0] >> 8 & 255);
                texel(w, cls, v * 0.11f, u * 0.11f, lod - 3.18f, dither, patch);
                for (int k = 0; k < 3; k++)
                    c[k] *= 0.6f + 0.4f * patch[1] / (mean + 1);
            }
            if (cls == CLS_ROAD && marking(w, u, v))
                for (int k = 0; k < 3; k++)
                    c[k] = 0.4f * c[k] + 0.6f * 235;
            if (cls == CLS_WATER) { /* the sky, mirrored, through the ripples; unlit */
                float mirror[3];
                ww_sky_color(&w->sky, ww_v3(d.x, -dy, 1), sqrtf(ww_v3_dot(d, d)), cam->focal,
                             dither, mirror);
                for (int k = 0; k < 3; k++)
                    c[k] = (0.6f * mirror[k] * c[k] / 200 + 0.3f * w->water[k]) / light[k];
            }
            /* Grain finer than the texture, which the ground near by magnifies. */
            float grain = (float)((uint32_t)i * 2246822519u >> 28) - 7.5f;
            for (int k = 0; k < 3; k++)
                c[k] = (c[k] + grain) * keep[k] + w->sky.horizon[k] * haze;
        } else { /* the sky's colour by the row's height (as if straight ahead) */
            ww_sky_shade(&w->sky, &sky, d, dither, c);
            cls = CLS_SKY;
        }
        for (int k = 0; k < 3; k++)
            rgb[3 * i + (size_t)k] = ww_tex_u8(c[k]);
        labels[i] = (float)cls;
    }
}

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
    int tile = ww_tex_tile_side(width > height ? width : height, 16);
    world *w = malloc(sizeof *w);
    frame *f = malloc(sizeof *f);
    uint16_t *code = malloc((size_t)width * (size_t)height * sizeof *code);
    if (!w || !f || !code) {
        free(w);
        free(f);
        free(code);
        ww_sample_free(out);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "synthetic",
                           "out of memory for a %dx%d segmentation scene", width, height);
    }
    random_world(r, width, height, classes, tile, w);
    f->w = w;
    f->hills_dist = 200 / w->sky.haze_scale; /* two thirds hazy */
    f->inv_focal = 1 / w->cam.focal;
    for (int k = 0; k < 3; k++) {
        f->ambient[k] = 1 - w->light[k];
        f->direct[k] = 1.6f * w->light[k];
    }
    for (int k = 0; k <= HILL_STEPS; k++) {
        float azimuth = ((float)k / (HILL_STEPS / 2) - 1) * HILL_RANGE, e = w->hills[3][0];
        for (int j = 0; j < 3; j++)
            e += w->hills[j][0] * sinf(w->hills[j][1] * azimuth + w->hills[j][2]);
        f->hills[k] = w->hills[3][0] > 0 ? e : 0;
    }
    for (int k = 0; k < w->nobj; k++) {
        object *o = &w->obj[k];
        ww_box3_pixels(&o->box, &w->cam, o->pixels);
        o->near = INFINITY;
        for (int c = 0; c < 8; c++) /* rays have z = 1: depth is z */
            o->near = fminf(o->near, ww_box3_corner(&o->box, c).z);
        f->order[k] = k;
    }
    for (int k = 1; k < w->nobj; k++) /* insertion sort: a stable order, the nearest first */
        for (int j = k; j > 0 && w->obj[f->order[j - 1]].near > w->obj[f->order[j]].near; j--) {
            int t = f->order[j];
            f->order[j] = f->order[j - 1];
            f->order[j - 1] = t;
        }
    /* The ground's classes show wherever there is ground. */
    for (int c = CLS_TERRAIN; c < classes && c < NAMED; c++)
        w->looks[c].used |= c == CLS_TERRAIN || (c == CLS_ROAD && w->road > 0) ||
                            (c == CLS_SIDEWALK && w->walk > w->road) ||
                            (c == CLS_WATER && w->lake[2] > 0);
    st = ww_sky_make(&w->sky, tile, err, errlen);
    for (int c = 0; c < classes && st == WW_OK; c++) {
        look *l = &w->looks[c];
        l->texels = (float)tile / l->metres;
        l->lod = ww_tex_log2(l->texels);
        if (l->used)
            st = ww_tex_make(&l->tex, tile, tile, 1, &l->params, l->seed, err, errlen);
    }
    if (st == WW_OK) {
        cast(f, out->target, code); /* depths first, into the labels' plane */
        for (int y = 0; y < height; y++)
            shade_row(f, y, out->target, code, out->image[0], out->target);
    }
    ww_sky_free(&w->sky);
    for (int c = 0; c < classes; c++)
        ww_tex_free(&w->looks[c].tex);
    free(w);
    free(f);
    free(code);
    if (st != WW_OK)
        ww_sample_free(out);
    return st;
}
