/* Blending of the colour pictures into frames (gstwinwinrender.h). */
#include "gstwinwinrender.h"

static inline guint8
mix (guint8 dst, gint src, gint a256)
{
  return (guint8) ((dst * (256 - a256) + src * a256 + 128) >> 8);
}

/* BT.601 limited range, as the engine's preprocessing reads YUV. */
static inline void
rgb_to_yuv (gint r, gint g, gint b, gint * y, gint * u, gint * v)
{
  *y = (66 * r + 129 * g + 25 * b + 128) / 256 + 16;
  *u = (-38 * r - 74 * g + 112 * b + 128) / 256 + 128;
  *v = (112 * r - 94 * g - 18 * b + 128) / 256 + 128;
}

static inline gint
weight (guint32 w, gdouble alpha, gboolean replace)
{
  return replace ? 256 : (gint) (alpha * (w >> 24) * 256.0 / 255.0 + 0.5);
}

/* Replacing, a colour is shown over black: its channels scaled by its A (a class outside
 * seg's class-filter has A = 0 and comes out black). */
static inline guint32
over_black (guint32 w, gboolean replace)
{
  guint a = w >> 24;
  if (!replace || a == 255)
    return w;
  return ((w & 0xff) * a / 255) | (((w >> 8) & 0xff) * a / 255) << 8 |
      (((w >> 16) & 0xff) * a / 255) << 16 | 0xff000000u;
}

guint *
gst_winwin_render_nearest_table (guint n, guint frame_n)
{
  guint *t = g_new (guint, frame_n);
  for (guint x = 0; x < frame_n; x++)
    t[x] = gst_winwin_render_nearest (x, n, frame_n);
  return t;
}

void
gst_winwin_render_blend (GstVideoFrame * frame, const guint32 * rgba, guint width,
    guint height, gdouble alpha, gboolean replace)
{
  GstVideoFormat f = GST_VIDEO_FRAME_FORMAT (frame);
  guint W = GST_VIDEO_FRAME_WIDTH (frame), H = GST_VIDEO_FRAME_HEIGHT (frame);
  guint *xs = gst_winwin_render_nearest_table (width, W);

  if (f == GST_VIDEO_FORMAT_NV12 || f == GST_VIDEO_FORMAT_I420) {
    gboolean nv12 = f == GST_VIDEO_FORMAT_NV12;
    for (guint y = 0; y < H; y++) {
      const guint32 *row = rgba + (gsize) gst_winwin_render_nearest (y, height, H) * width;
      guint8 *Y = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0) +
          (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
      guint8 *U = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 1) +
          (gsize) (y / 2) * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 1);
      guint8 *V = nv12 ? U + 1 : (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 2) +
          (gsize) (y / 2) * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 2);
      for (guint x = 0; x < W; x++) {
        guint32 w = over_black (row[xs[x]], replace);
        gint a = weight (w, alpha, replace), yy, uu, vv;
        rgb_to_yuv (w & 0xff, (w >> 8) & 0xff, (w >> 16) & 0xff, &yy, &uu, &vv);
        Y[x] = mix (Y[x], yy, a);
        if (!(y & 1) && !(x & 1)) {
          gsize c = nv12 ? x : x / 2;
          U[c] = mix (U[c], uu, a);
          V[c] = mix (V[c], vv, a);
        }
      }
    }
  } else {
    gint bpp = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);
    gint ro = GST_VIDEO_FRAME_COMP_OFFSET (frame, 0), go = GST_VIDEO_FRAME_COMP_OFFSET (frame, 1),
        bo = GST_VIDEO_FRAME_COMP_OFFSET (frame, 2);
    for (guint y = 0; y < H; y++) {
      const guint32 *row = rgba + (gsize) gst_winwin_render_nearest (y, height, H) * width;
      guint8 *p = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0) +
          (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
      for (guint x = 0; x < W; x++, p += bpp) {
        guint32 w = over_black (row[xs[x]], replace);
        gint a = weight (w, alpha, replace);
        p[ro] = mix (p[ro], w & 0xff, a);
        p[go] = mix (p[go], (w >> 8) & 0xff, a);
        p[bo] = mix (p[bo], (w >> 16) & 0xff, a);
      }
    }
  }
  g_free (xs);
}
