/**
 * SECTION:element-winwindepth
 * @title: winwindepth
 *
 * Monocular depth of every frame with a Win-Win / CroCo v2 depth model, on a GPU through Vulkan
 * or on the CPU. Every frame gets a #GstWinwinMeta (see winwinmeta.h) holding the model's
 * inverse depth in 1/metre; gst_winwin_result_depth_at() gives metres.
 *
 * mode=overlay and mode=visualize colour the inverse depth (near = the colormap's bright end)
 * over a range that is the frame's min-max, its 2nd-98th percentile (both smoothed over time)
 * or fixed by min-depth and max-depth. mode=raw outputs GRAY16_LE depth in millimetres (the
 * RealSense z16 convention; 0 = no depth, 65535 = 65.5 m or more).
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! winwindepth mode=visualize ! videoconvert ! x264enc ! mp4mux ! filesink location=depth.mp4
 * gst-launch-1.0 v4l2src ! videoconvert ! winwindepth mode=raw ! fakesink
 * ]|
 */
#include "gstwinwindepth.h"

#include <math.h>
#include <stdlib.h>

typedef enum {
  GST_WINWIN_DEPTH_RANGE_MINMAX = 0,
  GST_WINWIN_DEPTH_RANGE_PERCENTILE = 1,
  GST_WINWIN_DEPTH_RANGE_FIXED = 2,
} GstWinwinDepthRange;

struct _GstWinwinDepth {
  GstWinwinBase parent;
  ww_colormap colormap;
  GstWinwinDepthRange range;
  gdouble min_depth, max_depth; /* metres, for range=fixed */
  gdouble lo, hi;               /* the smoothed inverse-depth range; hi <= lo: none yet */
};

enum { PROP_0, PROP_COLORMAP, PROP_DEPTH_RANGE, PROP_MIN_DEPTH, PROP_MAX_DEPTH };

/* Weight of the newest frame in the automatic ranges (per-frame ranges flicker). */
#define RANGE_SMOOTHING 0.1
/* Values the percentiles are taken from: a strided sample is enough for a colour scale. */
#define PERCENTILE_SAMPLES 65536

G_DEFINE_TYPE (GstWinwinDepth, gst_winwin_depth, GST_TYPE_WINWIN_BASE);
GST_ELEMENT_REGISTER_DEFINE (winwindepth, "winwindepth", GST_RANK_NONE, GST_TYPE_WINWIN_DEPTH);

#define GST_TYPE_WINWIN_COLORMAP (gst_winwin_colormap_get_type ())
static GType
gst_winwin_colormap_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {WW_CMAP_TURBO, "Turbo (Google)", "turbo"},
    {WW_CMAP_INFERNO, "Inferno (matplotlib)", "inferno"},
    {WW_CMAP_MAGMA, "Magma (matplotlib)", "magma"},
    {WW_CMAP_VIRIDIS, "Viridis (matplotlib)", "viridis"},
    {WW_CMAP_GRAY, "Gray", "gray"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstWinwinColormap", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_WINWIN_DEPTH_RANGE (gst_winwin_depth_range_get_type ())
static GType
gst_winwin_depth_range_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_WINWIN_DEPTH_RANGE_MINMAX, "The frame's nearest to farthest, smoothed", "minmax"},
    {GST_WINWIN_DEPTH_RANGE_PERCENTILE, "The frame's 2nd to 98th percentile, smoothed",
        "percentile"},
    {GST_WINWIN_DEPTH_RANGE_FIXED, "min-depth to max-depth", "fixed"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstWinwinDepthRange", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return x < y ? -1 : x > y;
}

static void
observe (GstWinwinBase * base, const GstWinwinHostResult * res)
{
  GstWinwinDepth *self = GST_WINWIN_DEPTH (base);
  gsize px = (gsize) res->width * res->height, step = px / PERCENTILE_SAMPLES + 1, n = 0;
  gfloat *v = g_new (gfloat, px / step + 1);
  gdouble lo, hi;
  GstWinwinDepthRange range;

  GST_OBJECT_LOCK (self);
  range = self->range;
  GST_OBJECT_UNLOCK (self);
  if (range == GST_WINWIN_DEPTH_RANGE_FIXED) {
    g_free (v);
    return;
  }
  for (gsize i = 0; i < px; i += step)
    if (isfinite (res->data[i]))
      v[n++] = res->data[i];
  if (!n) {
    g_free (v);
    return;
  }
  qsort (v, n, sizeof *v, cmp_float);
  if (range == GST_WINWIN_DEPTH_RANGE_PERCENTILE) {
    lo = v[(gsize) (0.02 * (n - 1))];
    hi = v[(gsize) (0.98 * (n - 1))];
  } else {
    lo = v[0];
    hi = v[n - 1];
  }
  g_free (v);
  GST_OBJECT_LOCK (self);
  if (self->hi > self->lo) {
    self->lo = (1 - RANGE_SMOOTHING) * self->lo + RANGE_SMOOTHING * lo;
    self->hi = (1 - RANGE_SMOOTHING) * self->hi + RANGE_SMOOTHING * hi;
  } else {
    self->lo = lo;
    self->hi = hi;
  }
  GST_OBJECT_UNLOCK (self);
}

static ww_status
colorize (GstWinwinBase * base, ww_runner * runner, ww_seq * seq, ww_arena * arena,
    const ww_tensor * rgba)
{
  GstWinwinDepth *self = GST_WINWIN_DEPTH (base);
  ww_tensor out, x, lut;
  gdouble lo, hi;
  ww_colormap cmap;

  ww_status st = ww_runner_result (runner, "output", &out);

  if (st != WW_OK)
    return st;
  int64_t ne[4] = { out.ne[0], out.ne[1], 1, 1 };
  x = ww_tensor_view (&out, 0, ne, out.nb);
  GST_OBJECT_LOCK (self);
  cmap = self->colormap;
  if (self->range == GST_WINWIN_DEPTH_RANGE_FIXED) {
    lo = 1.0 / self->max_depth;
    hi = 1.0 / self->min_depth;
  } else {
    lo = self->lo;
    hi = self->hi;
  }
  GST_OBJECT_UNLOCK (self);
  if (!(hi > lo))               /* a flat picture: any range that contains it */
    hi = lo + 1e-3;
  st = ww_colormap_table (arena, cmap, &lut);
  return st != WW_OK ? st : ww_colorize_scalar (seq, &x, (float) lo, (float) hi, &lut, rgba);
}

static void
write_raw (GstWinwinBase * base, const GstWinwinHostResult * res, GstVideoFrame * out)
{
  guint W = GST_VIDEO_FRAME_WIDTH (out), H = GST_VIDEO_FRAME_HEIGHT (out);
  guint *xs = res ? gst_winwin_render_nearest_table (res->width, W) : NULL;

  (void) base;
  for (guint y = 0; y < H; y++) {
    guint16 *row = (guint16 *) ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (out, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (out, 0));
    const gfloat *inv = res ? res->data + (gsize) gst_winwin_render_nearest (y, res->height,
        H) * res->width : NULL;
    for (guint x = 0; x < W; x++) {
      guint16 mm = 0;
      if (inv && inv[xs[x]] > 0 && isfinite (inv[xs[x]]))
        mm = (guint16) MIN (lround (1000.0 / inv[xs[x]]), 65535);
      row[x] = GUINT16_TO_LE (mm);
    }
  }
  g_free (xs);
}

static void
gst_winwin_depth_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstWinwinDepth *self = GST_WINWIN_DEPTH (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_COLORMAP:
      self->colormap = g_value_get_enum (value);
      break;
    case PROP_DEPTH_RANGE:
      self->range = g_value_get_enum (value);
      self->lo = self->hi = 0;
      break;
    case PROP_MIN_DEPTH:
      self->min_depth = g_value_get_double (value);
      break;
    case PROP_MAX_DEPTH:
      self->max_depth = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_winwin_depth_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstWinwinDepth *self = GST_WINWIN_DEPTH (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_COLORMAP:
      g_value_set_enum (value, self->colormap);
      break;
    case PROP_DEPTH_RANGE:
      g_value_set_enum (value, self->range);
      break;
    case PROP_MIN_DEPTH:
      g_value_set_double (value, self->min_depth);
      break;
    case PROP_MAX_DEPTH:
      g_value_set_double (value, self->max_depth);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static gboolean
start (GstBaseTransform * trans)
{
  GstWinwinDepth *self = GST_WINWIN_DEPTH (trans);
  if (self->min_depth >= self->max_depth) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("min-depth %g m is not below max-depth %g m",
            self->min_depth, self->max_depth), (NULL));
    return FALSE;
  }
  self->lo = self->hi = 0;
  return GST_BASE_TRANSFORM_CLASS (gst_winwin_depth_parent_class)->start (trans);
}

static void
gst_winwin_depth_init (GstWinwinDepth * self)
{
  self->colormap = WW_CMAP_TURBO;
  self->range = GST_WINWIN_DEPTH_RANGE_PERCENTILE;
  self->min_depth = 0.5;
  self->max_depth = 80.0;
}

static void
gst_winwin_depth_class_init (GstWinwinDepthClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstWinwinBaseClass *base_class = GST_WINWIN_BASE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING;

  gobject_class->set_property = gst_winwin_depth_set_property;
  gobject_class->get_property = gst_winwin_depth_get_property;
  GST_BASE_TRANSFORM_CLASS (klass)->start = start;
  g_object_class_install_property (gobject_class, PROP_COLORMAP,
      g_param_spec_enum ("colormap", "Colormap", "Colours of mode=overlay and visualize",
          GST_TYPE_WINWIN_COLORMAP, WW_CMAP_TURBO, rw));
  g_object_class_install_property (gobject_class, PROP_DEPTH_RANGE,
      g_param_spec_enum ("depth-range", "Depth range", "The depths the colormap spans",
          GST_TYPE_WINWIN_DEPTH_RANGE, GST_WINWIN_DEPTH_RANGE_PERCENTILE, rw));
  g_object_class_install_property (gobject_class, PROP_MIN_DEPTH,
      g_param_spec_double ("min-depth", "Min depth", "Nearest depth in metres (depth-range=fixed)",
          1e-3, 1e6, 0.5, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_DEPTH,
      g_param_spec_double ("max-depth", "Max depth",
          "Farthest depth in metres (depth-range=fixed)", 1e-3, 1e6, 80.0, rw));

  gst_element_class_set_static_metadata (element_class, "winwin monocular depth",
      "Filter/Analyzer/Video", "Depth of every frame with a Win-Win vision transformer (Vulkan "
      "or CPU)", "winwin developers");
  gst_winwin_base_class_add_templates (element_class, GST_VIDEO_FORMAT_GRAY16_LE);
  base_class->task = WW_TASK_DEPTH;
  base_class->raw_format = GST_VIDEO_FORMAT_GRAY16_LE;
  base_class->observe = observe;
  base_class->colorize = colorize;
  base_class->write_raw = write_raw;
  gst_type_mark_as_plugin_api (GST_TYPE_WINWIN_COLORMAP, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_WINWIN_DEPTH_RANGE, 0);
}
