/* Procedural samples for the "synthetic" dataset (dataset.h): exact ground truth at any size,
 * no files. All randomness comes from r, so a sample is a function of r's state; everything is
 * drawn in units of the image, so the same state at another size gives the same scene scaled.
 * The textures (texture.h) are fractal noise, bent stripes, Voronoi cells and bricks through
 * colour palettes, with detail down to the pixel.
 *
 *  flow   3-10 layers, each drawn over the ones before it: a textured background that moves like
 *         a camera (a shift, a slight roll and zoom) and textured ellipses, rings, rounded
 *         rectangles and convex polygons from min(W, H) / 20 to / 2.5 across, each with its own
 *         affine motion: a shift of heavy-tailed length (mostly below min(W, H) / 20, at most
 *         min(W, H) / 8), a rotation, a scale and a little shear. A layer's texture is a
 *         continuous function of its own coordinates, which frame 1 samples at A1^-1 p and
 *         frame 2 at A2^-1 p, so the flow at frame-1 pixel p, A2 A1^-1 p - p for the layer on
 *         top there, is exact. The occlusion mask marks the pixels whose point leaves the image
 *         or lies under a later layer in frame 2. The frames differ by the motion alone (no
 *         change of brightness, no noise, edges not anti-aliased).
 *  depth  a ray-cast scene through a pinhole camera (horizontal field of view 50-90 degrees,
 *         1-3 m above the ground, pitch -12..4 and roll -5..5 degrees): a textured ground plane,
 *         4-16 boxes turned about the vertical (some long and thin, as walls) and spheres,
 *         standing on the ground or floating a little, textured in their own surface coordinates
 *         (perspective-correct, mipmapped), lit by a sun (Lambert plus ambient, shadows on the
 *         ground), hazier with distance, under a sky with clouds. Depth is the exact distance
 *         along the optical axis in metres; the sky and anything beyond 80 m is 0 (invalid).
 *  seg    a street (road with lane markings, pavements, rows of buildings with windows, trees,
 *         poles with signs, parked and moving cars, people) or a landscape (terrain, a lake,
 *         far hills, trees, hedges, fences, a few houses, maybe a road) seen by a level camera
 *         1.3-6 m up, sized by distance. Classes share looks on purpose (cars and buildings are
 *         painted from one set of colours, water mirrors the sky, road and pavement are both
 *         grey), so that only context tells them apart. Class ids follow
 *         ww_synth_seg_class_name: with fewer classes than the named ones only the first
 *         `classes` appear (2: sky and ground; 1: sky alone); classes beyond them are textured
 *         boxes and blobs standing beside the road, each class with its own texture. No ignore
 *         (255) labels.
 */
#ifndef WW_SYNTH_H
#define WW_SYNTH_H

#include "dataset.h"
#include "rng.h"

/* Fill out (allocated here, the caller owns it: ww_sample_free; zeroed on failure) with a
 * width x height sample; flow samples come with their occlusion mask. */
ww_status ww_synth_flow(ww_rng *r, int width, int height, ww_sample *out, char *err,
                        size_t errlen);
ww_status ww_synth_depth(ww_rng *r, int width, int height, ww_sample *out, char *err,
                         size_t errlen);
/* classes: 1..255. */
ww_status ww_synth_seg(ww_rng *r, int width, int height, int classes, ww_sample *out, char *err,
                       size_t errlen);

/* The name of segmentation class id (static string): the named classes of the street scene,
 * then "class_N"; NULL outside 0..254. */
const char *ww_synth_seg_class_name(int id);
/* A colour for class id, for pictures: the Cityscapes colour of the named classes that have one,
 * distinct colours for the rest (black outside 0..254). */
void ww_synth_seg_class_color(int id, uint8_t rgb[3]);

/* winwin-train synth (synth_dump.c, part of the tool): write synthetic samples as PNGs to look
 * at. argv[1] is "synth"; returns the exit status (2 for bad arguments, after a message). */
int ww_synth_dump(int argc, char **argv);

#endif
