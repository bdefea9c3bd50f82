/**
 * SECTION:element-winwinflow
 * @title: winwinflow
 *
 * Dense optical flow between consecutive frames with a Win-Win / CroCo v2 flow model, on a GPU
 * through Vulkan or on the CPU. Every frame gets a #GstWinwinMeta (see winwinmeta.h) with the
 * flow from the previous frame to this one, in pixels of the frame; the first frame, and the
 * first after a flush, discontinuity, caps or segment change, has none (valid = FALSE). The
 * previous frame's encoder output stays on the device, so each frame costs one encoder pass.
 *
 * mode=overlay blends the flow's colours onto the frame, mode=visualize replaces the frame with
 * them (Middlebury colour wheel: no motion is white; or HSV: no motion is black), mode=raw
 * outputs RGBA64_LE as KITTI stores flow: R = 64 u + 32768, G = 64 v + 32768, B = 1 where valid,
 * A = 65535.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! winwinflow mode=overlay ! videoconvert ! autovideosink
 * gst-launch-1.0 videotestsrc pattern=smpte horizontal-speed=4 ! video/x-raw,width=640,height=360 ! winwinflow mode=visualize max-flow=8 ! videoconvert ! autovideosink
 * ]|
 */
#include "gstwinwinflow.h"

#include <math.h>

typedef enum {
  GST_WINWIN_FLOW_COLORS_MIDDLEBURY = WW_FLOW_MIDDLEBURY,
  GST_WINWIN_FLOW_COLORS_HSV = WW_FLOW_HSV,
} GstWinwinFlowColors;

struct _GstWinwinFlow {
  GstWinwinBase parent;
  GstWinwinFlowColors colors;
  gdouble max_flow;             /* frame pixels; 0 = auto */
  gdouble auto_max;             /* the smoothed largest motion */
};

enum { PROP_0, PROP_FLOW_COLORS, PROP_MAX_FLOW };

/* Weight of the newest frame in the auto max-flow: the colour scale follows the motion over
 * about half a second instead of flickering with each frame's largest vector. */
#define AUTO_SMOOTHING 0.1

G_DEFINE_TYPE (GstWinwinFlow, gst_winwin_flow, GST_TYPE_WINWIN_BASE);
GST_ELEMENT_REGISTER_DEFINE (winwinflow, "winwinflow", GST_RANK_NONE, GST_TYPE_WINWIN_FLOW);

#define GST_TYPE_WINWIN_FLOW_COLORS (gst_winwin_flow_colors_get_type ())
static GType
gst_winwin_flow_colors_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_WINWIN_FLOW_COLORS_MIDDLEBURY, "Middlebury colour wheel (no motion = white)",
        "middlebury"},
    {GST_WINWIN_FLOW_COLORS_HSV, "Hue = direction, value = speed (no motion = black)", "hsv"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstWinwinFlowColors", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void
observe (GstWinwinBase * base, const GstWinwinHostResult * res)
{
  GstWinwinFlow *self = GST_WINWIN_FLOW (base);
  gsize px = (gsize) res->width * res->height;
  gdouble largest = 0;

  for (gsize i = 0; i < px; i++) {
    gdouble m = hypot (res->data[i], res->data[px + i]);
    if (m > largest)
      largest = m;
  }
  GST_OBJECT_LOCK (self);
  self->auto_max = self->auto_max > 0 ? (1 - AUTO_SMOOTHING) * self->auto_max +
      AUTO_SMOOTHING * largest : largest;
  GST_OBJECT_UNLOCK (self);
}

static ww_status
colorize (GstWinwinBase * base, ww_runner * runner, ww_seq * seq, ww_arena * arena,
    const ww_tensor * rgba)
{
  GstWinwinFlow *self = GST_WINWIN_FLOW (base);
  ww_tensor out, uv;
  gdouble max;
  GstWinwinFlowColors colors;
  gint iw, ih;
  GstVideoInfo *info = &GST_VIDEO_FILTER (self)->in_info;

  ww_status st = ww_runner_result (runner, "output", &out);

  (void) arena;
  if (st != WW_OK)
    return st;
  int64_t ne[4] = { out.ne[0], out.ne[1], 2, 1 };
  uv = ww_tensor_view (&out, 0, ne, out.nb);
  GST_OBJECT_LOCK (self);
  max = self->max_flow > 0 ? self->max_flow : MAX (self->auto_max, 1.0);
  colors = self->colors;
  GST_OBJECT_UNLOCK (self);
  /* the device holds the model's vectors, in map pixels */
  ww_runner_size_of (runner, &iw, &ih);
  max *= (gdouble) iw / GST_VIDEO_INFO_WIDTH (info);
  return ww_colorize_flow (seq, &uv, (float) max, (ww_flow_colors) colors, rgba);
}

static guint16
kitti (gfloat f)
{
  gdouble v = f * 64.0 + 32768.0;
  return (guint16) CLAMP (lround (v), 0, 65535);
}

static void
write_raw (GstWinwinBase * base, const GstWinwinHostResult * res, GstVideoFrame * out)
{
  guint W = GST_VIDEO_FRAME_WIDTH (out), H = GST_VIDEO_FRAME_HEIGHT (out);
  guint *xs = res ? gst_winwin_render_nearest_table (res->width, W) : NULL;
  gsize plane = res ? (gsize) res->width * res->height : 0;

  (void) base;
  for (guint y = 0; y < H; y++) {
    guint16 *row = (guint16 *) ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (out, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (out, 0));
    const gfloat *u = res ? res->data + (gsize) gst_winwin_render_nearest (y, res->height,
        H) * res->width : NULL;
    for (guint x = 0; x < W; x++) {
      guint16 *px = row + 4 * x;
      px[0] = GUINT16_TO_LE (u ? kitti (u[xs[x]]) : 0);
      px[1] = GUINT16_TO_LE (u ? kitti (u[plane + xs[x]]) : 0);
      px[2] = GUINT16_TO_LE (u ? 1 : 0);
      px[3] = 0xffff;
    }
  }
  g_free (xs);
}

static void
gst_winwin_flow_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstWinwinFlow *self = GST_WINWIN_FLOW (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_FLOW_COLORS:
      self->colors = g_value_get_enum (value);
      break;
    case PROP_MAX_FLOW:
      self->max_flow = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_winwin_flow_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstWinwinFlow *self = GST_WINWIN_FLOW (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_FLOW_COLORS:
      g_value_set_enum (value, self->colors);
      break;
    case PROP_MAX_FLOW:
      g_value_set_double (value, self->max_flow);
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
  GST_WINWIN_FLOW (trans)->auto_max = 0;
  return GST_BASE_TRANSFORM_CLASS (gst_winwin_flow_parent_class)->start (trans);
}

static void
gst_winwin_flow_init (GstWinwinFlow * self)
{
  (void) self;
}

static void
gst_winwin_flow_class_init (GstWinwinFlowClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstWinwinBaseClass *base_class = GST_WINWIN_BASE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING;

  gobject_class->set_property = gst_winwin_flow_set_property;
  gobject_class->get_property = gst_winwin_flow_get_property;
  GST_BASE_TRANSFORM_CLASS (klass)->start = start;
  g_object_class_install_property (gobject_class, PROP_FLOW_COLORS,
      g_param_spec_enum ("flow-colors", "Flow colours", "Colours of mode=overlay and visualize",
          GST_TYPE_WINWIN_FLOW_COLORS, GST_WINWIN_FLOW_COLORS_MIDDLEBURY, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_FLOW,
      g_param_spec_double ("max-flow", "Max flow",
          "Motion in frame pixels shown at full colour; 0: the largest motion, smoothed over "
          "time", 0, G_MAXFLOAT, 0, rw));

  gst_element_class_set_static_metadata (element_class, "winwin optical flow",
      "Filter/Analyzer/Video", "Dense optical flow from the previous frame to the current one "
      "with a Win-Win vision transformer (Vulkan or CPU)", "winwin developers");
  gst_winwin_base_class_add_templates (element_class, GST_VIDEO_FORMAT_RGBA64_LE);
  base_class->task = WW_TASK_FLOW;
  base_class->raw_format = GST_VIDEO_FORMAT_RGBA64_LE;
  base_class->observe = observe;
  base_class->colorize = colorize;
  base_class->write_raw = write_raw;
  gst_type_mark_as_plugin_api (GST_TYPE_WINWIN_FLOW_COLORS, 0);
}
