/* Procedural samples for the "synthetic" dataset (dataset.h): exact ground truth at any size,
 * no files. All randomness comes from r, so a sample is a function of r's state.
 *
 *  flow   a textured background and 1-3 textured rectangles or ellipses (drawn in order, later
 *         on top), each layer translated by its own vector of up to min(W, H) / 8 pixels;
 *         frame 2 composites the layers at their moved positions, sampling each texture (a
 *         continuous function of position) at p - t, so the flow at a frame-1 pixel is exactly
 *         the translation of the layer on top there
 *  depth  a textured ground plane seen from a camera 1.2-2.5 m above it, hazier with distance,
 *         with textured fronto-parallel boxes standing on it (1.5-60 m away); depth is the
 *         exact metres along the optical axis, sky and ground beyond 80 m are 0 (invalid)
 *  seg    horizontal bands and shapes of `classes` classes; a class fixes the colour and texture
 *         of its pixels, and its vertical place: class 0 lies low, the last class high
 */
#ifndef WW_SYNTH_H
#define WW_SYNTH_H

#include "dataset.h"
#include "rng.h"

/* Fill out (allocated here; zeroed on failure) with a width x height sample. */
ww_status ww_synth_flow(ww_rng *r, int width, int height, ww_sample *out, char *err,
                        size_t errlen);
ww_status ww_synth_depth(ww_rng *r, int width, int height, ww_sample *out, char *err,
                         size_t errlen);
ww_status ww_synth_seg(ww_rng *r, int width, int height, int classes, ww_sample *out, char *err,
                       size_t errlen);

#endif
