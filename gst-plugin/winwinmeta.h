/* winwin result meta: what winwinflow, winwindepth and winwinseg attach to every frame.
 *
 * The meta is a GstCustomMeta named "GstWinwinMeta" (GStreamer >= 1.20): applications read it
 * through the inline accessors below and need no library of ours, only gstreamer-1.0.
 *
 * Layout. A result is a map of width x height values (the size the model ran at: the element's
 * inference-width x inference-height, by default the frame's size) that covers the whole frame
 * of frame_width x frame_height pixels; map pixel (mx, my) covers frame pixel
 * (mx * frame_width / width, my * frame_height / height). data holds channels planes of
 * height x width floats, row-major, plane after plane.
 *
 *   flow  (winwinflow)  channels 3: u, v, confidence. (u, v) is the motion of the pixel from the
 *         previous frame to this frame, in pixels of the frame (already scaled from the map),
 *         x to the right, y down: a point at (x, y) in the previous frame is at (x + u, y + v)
 *         here. The flow is attached to the newer of the two frames (no added latency); ref_pts
 *         is the PTS of the older one (the last frame the element ran on before this one, which
 *         is the previous frame unless frames were dropped by QoS). confidence is the model's
 *         Laplacian scale (>= 0.25; lower = more certain). The first frame, and the first after a
 *         reset (flush, discontinuity, caps or segment change, model swap), has valid = FALSE and
 *         no data.
 *   depth (winwindepth) channels 1: inverse depth in 1/metre (the model's output; larger =
 *         nearer). gst_winwin_result_depth_at() gives metres.
 *   seg   (winwinseg)   channels 0; labels holds height x width class ids (255 = no class) and
 *         scores their softmax probability; classes names them, comma-separated.
 *
 * stale is TRUE when the element skipped inference on this frame (inference-interval) and the
 * result is the last one computed, from the frame whose PTS is result_pts.
 * The pointers stay valid as long as the buffer holds the meta. Elements that scale, crop or
 * rotate video drop the meta (it carries the video, size and orientation tags); copies keep it.
 */
#ifndef WINWIN_META_H
#define WINWIN_META_H

#include <gst/gst.h>
#include <math.h>

G_BEGIN_DECLS

#define GST_WINWIN_META_NAME "GstWinwinMeta"

typedef enum {
  GST_WINWIN_TASK_FLOW = 0,
  GST_WINWIN_TASK_DEPTH = 1,
  GST_WINWIN_TASK_SEG = 2,
} GstWinwinTask;

typedef struct {
  GstWinwinTask task;
  guint width, height;             /* the map */
  guint frame_width, frame_height; /* the frame it covers */
  guint channels;                  /* planes in data */
  gboolean valid;                  /* FALSE: no result (first flow frame) */
  gboolean stale;                  /* the last result, reused (inference-interval) */
  GstClockTime result_pts;         /* PTS of the frame the result was computed on */
  GstClockTime ref_pts;            /* flow: PTS of the older frame; else GST_CLOCK_TIME_NONE */
  const gfloat *data;              /* channels x height x width, or NULL */
  const guint8 *labels;            /* seg: height x width ids, or NULL */
  const gfloat *scores;            /* seg: height x width probabilities, or NULL */
  const gchar *classes;            /* seg: class names, comma-separated, or NULL */
} GstWinwinResult;

static inline gconstpointer
_gst_winwin_meta_bytes (const GstStructure * s, const gchar * field, gsize want)
{
  const GValue *v = gst_structure_get_value (s, field);
  GBytes *b;
  gsize n = 0;
  gconstpointer p;

  if (!v || !G_VALUE_HOLDS (v, G_TYPE_BYTES))
    return NULL;
  b = (GBytes *) g_value_get_boxed (v);
  p = b ? g_bytes_get_data (b, &n) : NULL;
  return n == want ? p : NULL;
}

/* Fill *r from one winwin meta (meta is a GstCustomMeta named GST_WINWIN_META_NAME). Returns
 * FALSE (and leaves *r zeroed) when it is malformed. */
static inline gboolean
gst_winwin_meta_parse (GstCustomMeta * meta, GstWinwinResult * r)
{
  const GstStructure *s = gst_custom_meta_get_structure (meta);
  guint task = 0;
  gsize px;

  memset (r, 0, sizeof *r);
  if (!gst_structure_get_uint (s, "task", &task) || task > GST_WINWIN_TASK_SEG ||
      !gst_structure_get (s, "width", G_TYPE_UINT, &r->width, "height", G_TYPE_UINT, &r->height,
          "frame-width", G_TYPE_UINT, &r->frame_width, "frame-height", G_TYPE_UINT,
          &r->frame_height, "channels", G_TYPE_UINT, &r->channels, "valid", G_TYPE_BOOLEAN,
          &r->valid, "stale", G_TYPE_BOOLEAN, &r->stale, "result-pts", G_TYPE_UINT64,
          &r->result_pts, "ref-pts", G_TYPE_UINT64, &r->ref_pts, NULL))
    return FALSE;
  r->task = (GstWinwinTask) task;
  px = (gsize) r->width * r->height;
  r->data = (const gfloat *) _gst_winwin_meta_bytes (s, "data", r->channels * px * 4);
  r->labels = (const guint8 *) _gst_winwin_meta_bytes (s, "labels", px);
  r->scores = (const gfloat *) _gst_winwin_meta_bytes (s, "scores", px * 4);
  r->classes = gst_structure_get_string (s, "classes");
  if (r->valid && ((r->task != GST_WINWIN_TASK_SEG && !r->data) ||
          (r->task == GST_WINWIN_TASK_SEG && !r->labels))) {
    memset (r, 0, sizeof *r);
    return FALSE;
  }
  return TRUE;
}

/* Fill *r from the buffer's winwin meta of task (winwinflow ! winwindepth leaves one of each on
 * a frame). Returns FALSE (and leaves *r zeroed) when the buffer has none or it is malformed. */
static inline gboolean
gst_winwin_meta_get_result (GstBuffer * buffer, GstWinwinTask task, GstWinwinResult * r)
{
  gpointer state = NULL;
  GstMeta *meta;

  memset (r, 0, sizeof *r);
  while ((meta = gst_buffer_iterate_meta (buffer, &state))) {
    if (gst_meta_info_is_custom (meta->info) &&
        gst_custom_meta_has_name ((GstCustomMeta *) meta, GST_WINWIN_META_NAME) &&
        gst_winwin_meta_parse ((GstCustomMeta *) meta, r) && r->task == task)
      return TRUE;
  }
  memset (r, 0, sizeof *r);
  return FALSE;
}

/* Index into the map of frame pixel (x, y); x < frame_width, y < frame_height. */
static inline gsize
gst_winwin_result_index (const GstWinwinResult * r, guint x, guint y)
{
  guint mx = (guint) ((guint64) x * r->width / r->frame_width);
  guint my = (guint) ((guint64) y * r->height / r->frame_height);
  return (gsize) my * r->width + mx;
}

/* Flow at frame pixel (x, y) in frame pixels; FALSE when there is none. */
static inline gboolean
gst_winwin_result_flow_at (const GstWinwinResult * r, guint x, guint y, gfloat * u, gfloat * v)
{
  gsize i, px;
  if (r->task != GST_WINWIN_TASK_FLOW || !r->valid || !r->data || x >= r->frame_width ||
      y >= r->frame_height)
    return FALSE;
  i = gst_winwin_result_index (r, x, y);
  px = (gsize) r->width * r->height;
  *u = r->data[i];
  *v = r->data[px + i];
  return TRUE;
}

/* Depth in metres at frame pixel (x, y); NAN when there is none (or the model says infinity). */
static inline gfloat
gst_winwin_result_depth_at (const GstWinwinResult * r, guint x, guint y)
{
  gfloat inv;
  if (r->task != GST_WINWIN_TASK_DEPTH || !r->valid || !r->data || x >= r->frame_width ||
      y >= r->frame_height)
    return NAN;
  inv = r->data[gst_winwin_result_index (r, x, y)];
  return inv > 0.0f ? 1.0f / inv : NAN;
}

/* Class id at frame pixel (x, y); 255 when there is none. */
static inline guint
gst_winwin_result_class_at (const GstWinwinResult * r, guint x, guint y)
{
  if (r->task != GST_WINWIN_TASK_SEG || !r->valid || !r->labels || x >= r->frame_width ||
      y >= r->frame_height)
    return 255;
  return r->labels[gst_winwin_result_index (r, x, y)];
}

G_END_DECLS
#endif
