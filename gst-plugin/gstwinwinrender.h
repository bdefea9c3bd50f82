/* Pictures into video frames on the host: a colour picture of a result (packed RGBA words, the
 * map's size) blended onto or replacing a frame of any input format, scaled to the frame by
 * nearest neighbour, and the nearest map pixel of a frame pixel for the raw writers. */
#ifndef GST_WINWIN_RENDER_H
#define GST_WINWIN_RENDER_H

#include <gst/video/video.h>

G_BEGIN_DECLS

/* out = (1 - a) * frame + a * colour with a = alpha * A / 255 of each word (replace: a = 1, the
 * colour scaled by A / 255, i.e. shown over black). frame is RGBA/BGRA/RGBx/BGRx/RGB/BGR/NV12/
 * I420 (YUV as BT.601 limited range; chroma takes the colour of the block's top-left pixel). */
void gst_winwin_render_blend (GstVideoFrame * frame, const guint32 * rgba, guint width,
    guint height, gdouble alpha, gboolean replace);

/* The nearest map column (or row) of frame column x for a map of n columns over a frame of
 * frame_n: pixel centres aligned. */
static inline guint
gst_winwin_render_nearest (guint x, guint n, guint frame_n)
{
  guint m = (guint) (((guint64) x * 2 + 1) * n / ((guint64) frame_n * 2));
  return m < n ? m : n - 1;
}

/* gst_winwin_render_nearest of every x < frame_n, computed once per frame instead of once per
 * pixel (g_free it). */
guint *gst_winwin_render_nearest_table (guint n, guint frame_n);

G_END_DECLS
#endif
