/* GstWinwinBase (gstwinwinbase.h): model loading, device, per-frame inference, the result meta,
 * modes, QoS, latency and stats shared by the three elements. */
#include "gstwinwinbase.h"
#include "gstwinwinrender.h"

#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY (gst_winwin_base_debug);
#define GST_CAT_DEFAULT gst_winwin_base_debug

#define TIMING_WINDOW 128       /* frames the mean and p95 cover */
#define LATENCY_GROWTH 1.25     /* post a latency message when p95 grows by this */

enum {
  PROP_0,
  PROP_MODEL_FILE,
  PROP_DEVICE,
  PROP_DEVICE_INDEX,
  PROP_MODE,
  PROP_INFERENCE_WIDTH,
  PROP_INFERENCE_HEIGHT,
  PROP_INFERENCE_INTERVAL,
  PROP_ALPHA,
  PROP_DEVICE_NAME,
  PROP_VULKAN_DEVICE,
  PROP_STATS,
};

typedef struct {
  gdouble ms[TIMING_WINDOW];
  guint n, next;
} Timing;

typedef struct {
  /* properties, under the object lock */
  gchar *model_file;
  gchar *device;
  gint device_index;
  GstWinwinMode mode;
  gint inference_width, inference_height;
  guint interval;
  gdouble alpha;
  gboolean model_pending;       /* model-file set while running: swap at the next frame */

  /* streaming state */
  GstVulkanInstance *instance;
  GstVulkanDevice *vk_device;
  GstWinwinEngine *engine;
  ww_model *model;
  gchar *model_path;            /* the file model came from */
  ww_runner *runner;
  ww_arena *viz_arena;
  ww_seq *viz_seq;
  GstVideoInfo info;            /* input */
  ww_image_layout layout;       /* of info, as the runner reads it */
  guint64 count;                /* frames since the last reset, for inference-interval */
  GstClockTime last_pushed_pts; /* flow: the frame the runner holds */

  /* the last result */
  GstWinwinMetaFields result;
  guint32 *rgba;                /* its colour picture, result.width x result.height */
  gboolean have_rgba;
  GstVideoOverlayComposition *composition;      /* of rgba, made when first needed */
  gdouble composition_alpha;    /* the alpha it was made with */
  gboolean downstream_composes; /* downstream takes GstVideoOverlayCompositionMeta */

  /* stats, under the object lock */
  guint64 received, processed, inferred, stale;
  Timing infer, readback, render;
  gdouble reported_latency_ms;
  gint64 first_frame_us, last_frame_us;
} GstWinwinBasePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (GstWinwinBase, gst_winwin_base, GST_TYPE_VIDEO_FILTER,
    G_ADD_PRIVATE (GstWinwinBase)
    GST_DEBUG_CATEGORY_INIT (gst_winwin_base_debug, "winwin", 0, "winwin elements"));

#define PRIV(self) ((GstWinwinBasePrivate *) gst_winwin_base_get_instance_private (self))

GType
gst_winwin_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_WINWIN_MODE_META, "Pass the frame through with the result as GstWinwinMeta", "meta"},
    {GST_WINWIN_MODE_OVERLAY, "Blend the result's colour picture onto the frame (and meta)",
        "overlay"},
    {GST_WINWIN_MODE_VISUALIZE, "Replace the frame with the result's colour picture (and meta)",
        "visualize"},
    {GST_WINWIN_MODE_RAW,
        "Output the raw result as 16-bit video: depth GRAY16_LE in mm, classes GRAY16_LE ids, "
          "flow RGBA64_LE as KITTI (R, G = 64 u, 64 v + 32768, B = valid)", "raw"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstWinwinMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ---- Formats ------------------------------------------------------------------------------ */

#define INPUT_FORMATS "{ RGBA, BGRA, RGBx, BGRx, RGB, BGR, NV12, I420 }"

static gboolean
ww_format_of (GstVideoFormat f, ww_pixel_format * out)
{
  static const struct {
    GstVideoFormat g;
    ww_pixel_format w;
  } map[] = {
    {GST_VIDEO_FORMAT_RGBA, WW_FMT_RGBA}, {GST_VIDEO_FORMAT_BGRA, WW_FMT_BGRA},
    {GST_VIDEO_FORMAT_RGBx, WW_FMT_RGBX}, {GST_VIDEO_FORMAT_BGRx, WW_FMT_BGRX},
    {GST_VIDEO_FORMAT_RGB, WW_FMT_RGB}, {GST_VIDEO_FORMAT_BGR, WW_FMT_BGR},
    {GST_VIDEO_FORMAT_NV12, WW_FMT_NV12}, {GST_VIDEO_FORMAT_I420, WW_FMT_I420},
  };
  for (gsize i = 0; i < G_N_ELEMENTS (map); i++)
    if (map[i].g == f) {
      *out = map[i].w;
      return TRUE;
    }
  return FALSE;
}

/* ---- Timing ------------------------------------------------------------------------------- */

static void
timing_add (Timing * t, gdouble ms)
{
  t->ms[t->next] = ms;
  t->next = (t->next + 1) % TIMING_WINDOW;
  if (t->n < TIMING_WINDOW)
    t->n++;
}

static gint
cmp_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

static void
timing_summary (const Timing * t, gdouble * mean, gdouble * p95)
{
  gdouble v[TIMING_WINDOW], sum = 0;
  *mean = *p95 = 0;
  if (!t->n)
    return;
  memcpy (v, t->ms, t->n * sizeof *v);
  for (guint i = 0; i < t->n; i++)
    sum += v[i];
  qsort (v, t->n, sizeof *v, cmp_double);
  *mean = sum / t->n;
  *p95 = v[(guint) ceil (0.95 * t->n) - 1];
}

static gdouble
ms_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1000.0;
}

/* ---- Result state ----------------------------------------------------------------------- */

static void
clear_result (GstWinwinBasePrivate * p)
{
  g_clear_pointer (&p->result.data, g_bytes_unref);
  g_clear_pointer (&p->result.labels, g_bytes_unref);
  g_clear_pointer (&p->result.scores, g_bytes_unref);
  memset (&p->result, 0, sizeof p->result);
  p->result.result_pts = p->result.ref_pts = GST_CLOCK_TIME_NONE;
  p->have_rgba = FALSE;
  g_clear_pointer (&p->composition, gst_video_overlay_composition_unref);
}

/* Forget the previous frame: the next flow starts a new pair. */
static void
reset_stream (GstWinwinBase * self, const gchar * why)
{
  GstWinwinBasePrivate *p = PRIV (self);
  GST_DEBUG_OBJECT (self, "reset (%s)", why);
  if (p->runner) {
    gst_winwin_engine_lock (p->engine);
    ww_runner_reset (p->runner);
    gst_winwin_engine_unlock (p->engine);
  }
  p->count = 0;
  p->last_pushed_pts = GST_CLOCK_TIME_NONE;
  clear_result (p);
}

ww_model *
gst_winwin_base_model (GstWinwinBase * self)
{
  return PRIV (self)->model;
}

ww_backend *
gst_winwin_base_backend (GstWinwinBase * self)
{
  return gst_winwin_engine_backend (PRIV (self)->engine);
}

/* ---- Model and runner --------------------------------------------------------------------- */

/* Load path on the engine and check it fits this element; NULL with *error on failure. */
static ww_model *
load_model (GstWinwinBase * self, const gchar * path, GError ** error)
{
  GstWinwinBasePrivate *p = PRIV (self);
  GstWinwinBaseClass *klass = GST_WINWIN_BASE_GET_CLASS (self);
  ww_model *m;
  ww_task task;

  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_set_error (error, GST_WINWIN_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "model file '%s' does not exist", path);
    return NULL;
  }
  m = gst_winwin_engine_get_model (p->engine, path, error);
  if (!m)
    return NULL;
  task = ww_model_config_of (m)->task;
  if (task != klass->task) {
    g_set_error (error, GST_WINWIN_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "model file '%s' holds a %s model; %s needs a %s model", path, ww_task_name (task),
        GST_ELEMENT_NAME (self), ww_task_name (klass->task));
    gst_winwin_engine_release_model (p->engine, m);
    return NULL;
  }
  if (klass->model_changed) {
    gboolean ok;
    gst_winwin_engine_lock (p->engine);
    ok = klass->model_changed (self, m, error);
    gst_winwin_engine_unlock (p->engine);
    if (!ok) {
      gst_winwin_engine_release_model (p->engine, m);
      return NULL;
    }
  }
  return m;
}

static void
destroy_runner (GstWinwinBasePrivate * p)
{
  if (!p->engine)
    return;
  gst_winwin_engine_lock (p->engine);
  g_clear_pointer (&p->viz_seq, ww_seq_destroy);
  g_clear_pointer (&p->viz_arena, ww_arena_destroy);
  g_clear_pointer (&p->runner, ww_runner_destroy);
  gst_winwin_engine_unlock (p->engine);
}

/* A runner of model m for the negotiated input; NULL with *error on failure. Engine unlocked. */
static ww_runner *
create_runner (GstWinwinBase * self, ww_model * m, GError ** error)
{
  GstWinwinBasePrivate *p = PRIV (self);
  const GstVideoInfo *in = &p->info;
  ww_image_layout layout = { 0 };
  ww_runner *r = NULL;
  gint iw, ih;

  if (!ww_format_of (GST_VIDEO_INFO_FORMAT (in), &layout.format)) {
    g_set_error (error, GST_WINWIN_ERROR, 0, "format %s is not supported",
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (in)));
    return NULL;
  }
  layout.width = GST_VIDEO_INFO_WIDTH (in);
  layout.height = GST_VIDEO_INFO_HEIGHT (in);
  for (guint i = 0; i < GST_VIDEO_INFO_N_PLANES (in); i++) {
    layout.offset[i] = GST_VIDEO_INFO_PLANE_OFFSET (in, i);
    layout.stride[i] = GST_VIDEO_INFO_PLANE_STRIDE (in, i);
  }
  p->layout = layout;
  GST_OBJECT_LOCK (self);
  iw = p->inference_width ? p->inference_width : layout.width;
  ih = p->inference_height ? p->inference_height : layout.height;
  GST_OBJECT_UNLOCK (self);
  gst_winwin_engine_lock (p->engine);
  if (ww_runner_create_for (m, &layout, GST_VIDEO_INFO_SIZE (in), iw, ih, &r) != WW_OK)
    g_set_error (error, GST_WINWIN_ERROR, 0, "cannot run the model on %dx%d %s frames at "
        "%dx%d: %s", layout.width, layout.height, ww_pixel_format_name (layout.format), iw, ih,
        ww_backend_error (gst_winwin_engine_backend (p->engine)));
  else
    GST_INFO_OBJECT (self, "%dx%d %s frames, inference at %dx%d, %.1f MB of activations",
        layout.width, layout.height, ww_pixel_format_name (layout.format), iw, ih,
        ww_runner_memory (r) / 1e6);
  gst_winwin_engine_unlock (p->engine);
  return r;
}

static gboolean
ensure_viz (GstWinwinBasePrivate * p)
{
  ww_backend *be = gst_winwin_engine_backend (p->engine);
  if (!p->viz_arena && ww_arena_create (be, 0, &p->viz_arena) != WW_OK)
    return FALSE;
  return p->viz_seq || ww_seq_create (be, &p->viz_seq) == WW_OK;
}

/* The file model-file names, else the task's installed default model; NULL when neither exists.
 * Clears the pending swap it answers. The caller owns the string. */
static gchar *
wanted_model (GstWinwinBase * self)
{
  GstWinwinBasePrivate *p = PRIV (self);
  char buf[4096];
  gchar *path;

  GST_OBJECT_LOCK (self);
  path = g_strdup (p->model_file);
  p->model_pending = FALSE;
  GST_OBJECT_UNLOCK (self);
  if (!path && ww_model_default_path (GST_WINWIN_BASE_GET_CLASS (self)->task, buf, sizeof buf))
    path = g_strdup (buf);
  return path;
}

/* Swap to the model-file set while running, at this frame boundary; the old model stays on
 * failure. The application hears of it through an element message "winwin-model". */
static void
swap_model (GstWinwinBase * self)
{
  GstWinwinBasePrivate *p = PRIV (self);
  GError *error = NULL;
  gchar *path;
  ww_model *m;
  ww_runner *r = NULL;
  GstStructure *s;

  path = wanted_model (self);
  m = path ? load_model (self, path, &error) : NULL;
  if (!path)
    g_set_error (&error, GST_WINWIN_ERROR, 0, "no default model is installed");
  if (m && !(r = create_runner (self, m, &error))) {
    gst_winwin_engine_release_model (p->engine, m);
    m = NULL;
  }
  if (m) {
    destroy_runner (p);
    gst_winwin_engine_release_model (p->engine, p->model);
    p->model = m;
    p->runner = r;
    g_free (p->model_path);
    p->model_path = g_strdup (path);
    reset_stream (self, "model swap");
    GST_INFO_OBJECT (self, "now running %s", path);
  } else {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("%s", error->message),
        ("keeping the model in use, %s", p->model_path));
  }
  s = gst_structure_new ("winwin-model", "model-file", G_TYPE_STRING, path ? path : "",
      "loaded", G_TYPE_BOOLEAN, m != NULL, "error", G_TYPE_STRING,
      error ? error->message : "", NULL);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
  g_clear_error (&error);
  g_free (path);
}

/* ---- GstBaseTransform / GstVideoFilter ---------------------------------------------------- */

static gboolean
gst_winwin_base_start (GstBaseTransform * trans)
{
  GstWinwinBase *self = GST_WINWIN_BASE (trans);
  GstWinwinBasePrivate *p = PRIV (self);
  GstWinwinBaseClass *klass = GST_WINWIN_BASE_GET_CLASS (self);
  GError *error = NULL;
  gchar *path, *device;
  gint index;

  path = wanted_model (self);
  GST_OBJECT_LOCK (self);
  device = g_strdup (p->device);
  index = p->device_index;
  p->received = p->processed = p->inferred = p->stale = 0;
  memset (&p->infer, 0, sizeof p->infer);
  memset (&p->readback, 0, sizeof p->readback);
  memset (&p->render, 0, sizeof p->render);
  p->reported_latency_ms = 0;
  p->first_frame_us = p->last_frame_us = 0;
  GST_OBJECT_UNLOCK (self);

  if (!path) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No %s model: model-file is not set and no "
            "default model is installed", ww_task_name (klass->task)),
        ("looked for %s/model.safetensors in $WINWIN_MODEL_DIR and the installed models",
            ww_task_name (klass->task)));
    goto fail;
  }
  p->engine = gst_winwin_engine_open (GST_ELEMENT (self), device, index, &p->instance,
      &p->vk_device, &error);
  if (!p->engine) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT, ("Cannot open device '%s': %s",
            device ? device : "auto", error->message), (NULL));
    goto fail;
  }
  p->model = load_model (self, path, &error);
  if (!p->model) {
    if (error->code == GST_RESOURCE_ERROR_NOT_FOUND)
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error->message), (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot use model file '%s': %s", path,
              error->message), (NULL));
    goto fail;
  }
  p->model_path = path;
  g_free (device);
  GST_INFO_OBJECT (self, "model %s on %s", path,
      gst_winwin_engine_device_name (p->engine));
  g_object_notify (G_OBJECT (self), "device-name");
  return TRUE;

fail:
  g_clear_error (&error);
  g_free (path);
  g_free (device);
  g_clear_pointer (&p->engine, gst_winwin_engine_unref);
  gst_clear_object (&p->vk_device);
  gst_clear_object (&p->instance);
  return FALSE;
}

static gboolean
gst_winwin_base_stop (GstBaseTransform * trans)
{
  GstWinwinBase *self = GST_WINWIN_BASE (trans);
  GstWinwinBasePrivate *p = PRIV (self);

  destroy_runner (p);
  if (p->model)
    gst_winwin_engine_release_model (p->engine, p->model);
  p->model = NULL;
  g_clear_pointer (&p->model_path, g_free);
  g_clear_pointer (&p->engine, gst_winwin_engine_unref);
  clear_result (p);
  g_clear_pointer (&p->rgba, g_free);
  gst_clear_object (&p->vk_device);
  gst_clear_object (&p->instance);
  return TRUE;
}

/* Run the new runner on black frames (two for flow: encoder, then decoder and head) so that
 * Vulkan pipelines are created and memory is touched before the first real frame, whose
 * latency would otherwise carry all of it. */
static void
warm_up (GstWinwinBase * self)
{
  GstWinwinBasePrivate *p = PRIV (self);
  gsize size = GST_VIDEO_INFO_SIZE (&p->info);
  guint8 *black = g_malloc0 (size);
  gint has = 0;
  gint64 t0 = g_get_monotonic_time ();

  gst_winwin_engine_lock (p->engine);
  for (int i = 0; i < 2 && !has; i++)
    if (ww_runner_push (p->runner, black, size, &p->layout, &has) != WW_OK) {
      GST_WARNING_OBJECT (self, "warm-up failed: %s",
          ww_backend_error (gst_winwin_engine_backend (p->engine)));
      break;
    }
  gst_winwin_engine_unlock (p->engine);
  g_free (black);
  GST_INFO_OBJECT (self, "warm-up: %.1f ms", ms_since (t0));
}

static gboolean
gst_winwin_base_set_info (GstVideoFilter * filter, GstCaps * incaps, GstVideoInfo * in_info,
    GstCaps * outcaps, GstVideoInfo * out_info)
{
  GstWinwinBase *self = GST_WINWIN_BASE (filter);
  GstWinwinBasePrivate *p = PRIV (self);
  GError *error = NULL;

  (void) incaps;
  (void) outcaps;
  (void) out_info;
  if (!p->model)
    return FALSE;
  destroy_runner (p);
  p->info = *in_info;
  p->runner = create_runner (self, p->model, &error);
  if (!p->runner) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    g_clear_error (&error);
    return FALSE;
  }
  if (ww_backend_kind_of (gst_winwin_engine_backend (p->engine)) == WW_BACKEND_VULKAN)
    warm_up (self);
  reset_stream (self, "caps");
  return TRUE;
}

/* GstVideoFilter makes a filter without transform_frame in-place; mode=raw writes a new buffer
 * and the other modes write into the frame, so neither is passthrough. */
static gboolean
gst_winwin_base_set_caps (GstBaseTransform * trans, GstCaps * incaps, GstCaps * outcaps)
{
  GstWinwinBase *self = GST_WINWIN_BASE (trans);
  GstWinwinMode mode;

  if (!GST_BASE_TRANSFORM_CLASS (gst_winwin_base_parent_class)->set_caps (trans, incaps,
          outcaps))
    return FALSE;
  GST_OBJECT_LOCK (self);
  mode = PRIV (self)->mode;
  GST_OBJECT_UNLOCK (self);
  gst_base_transform_set_in_place (trans, mode != GST_WINWIN_MODE_RAW);
  gst_base_transform_set_passthrough (trans, FALSE);
  /* GstBaseTransform runs no allocation query for an in-place element: ask downstream
   * whether it blends overlay compositions itself. */
  PRIV (self)->downstream_composes = FALSE;
  if (mode == GST_WINWIN_MODE_OVERLAY) {
    GstQuery *q = gst_query_new_allocation (outcaps, FALSE);
    PRIV (self)->downstream_composes =
        gst_pad_peer_query (GST_BASE_TRANSFORM_SRC_PAD (trans), q) &&
        gst_query_find_allocation_meta (q, GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE, NULL);
    gst_query_unref (q);
  }
  return TRUE;
}

/* The list of INPUT_FORMATS as a caps field value, made once. */
static const GValue *
input_formats (void)
{
  static GstCaps *caps;
  if (g_once_init_enter (&caps)) {
    GstCaps *c = gst_caps_from_string ("video/x-raw, format=(string)" INPUT_FORMATS);
    GST_MINI_OBJECT_FLAG_SET (c, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&caps, c);
  }
  return gst_structure_get_value (gst_caps_get_structure (caps, 0), "format");
}

static GstCaps *
gst_winwin_base_transform_caps (GstBaseTransform * trans, GstPadDirection direction,
    GstCaps * caps, GstCaps * filter)
{
  GstWinwinBase *self = GST_WINWIN_BASE (trans);
  GstWinwinBaseClass *klass = GST_WINWIN_BASE_GET_CLASS (self);
  GstWinwinMode mode;
  GstCaps *out;

  GST_OBJECT_LOCK (self);
  mode = PRIV (self)->mode;
  GST_OBJECT_UNLOCK (self);
  if (mode != GST_WINWIN_MODE_RAW) {
    out = gst_caps_ref (caps);
  } else {
    /* raw: the same frame size in the task's 16-bit format, in system memory */
    out = gst_caps_new_empty ();
    for (guint i = 0; i < gst_caps_get_size (caps); i++) {
      GstStructure *s = gst_structure_copy (gst_caps_get_structure (caps, i));
      if (direction == GST_PAD_SINK) {
        gst_structure_set (s, "format", G_TYPE_STRING,
            gst_video_format_to_string (klass->raw_format), NULL);
        out = gst_caps_merge_structure_full (out, s, NULL);
      } else {
        gst_structure_set_value (s, "format", input_formats ());
        out = gst_caps_merge_structure_full (out, gst_structure_copy (s),
            gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER, NULL));
        out = gst_caps_merge_structure_full (out, s, NULL);
      }
    }
  }
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, out, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (out);
    out = tmp;
  }
  return out;
}

/* Run the model on the frame in map (engine unlocked). Returns FALSE with *error on failure. */
static gboolean
infer (GstWinwinBase * self, const guint8 * data, GstClockTime pts, gboolean prime,
    GError ** error)
{
  GstWinwinBasePrivate *p = PRIV (self);
  GstWinwinBaseClass *klass = GST_WINWIN_BASE_GET_CLASS (self);
  ww_backend *be = gst_winwin_engine_backend (p->engine);
  const ww_model_config *c = ww_model_config_of (p->model);
  GstWinwinMode mode;
  gint has = 0, iw, ih;
  gint64 t0 = g_get_monotonic_time ();
  gsize px;
  ww_status st;
  GstWinwinHostResult host;

  GST_OBJECT_LOCK (self);
  mode = p->mode;
  GST_OBJECT_UNLOCK (self);
  gst_winwin_engine_lock (p->engine);
  if (prime)
    ww_runner_reset (p->runner);
  st = ww_runner_push (p->runner, data, GST_VIDEO_INFO_SIZE (&p->info), &p->layout, &has);
  if (st != WW_OK)
    goto failed;
  {
    GstClockTime ref = p->last_pushed_pts;
    p->last_pushed_pts = pts;
    if (prime || !has) {
      gst_winwin_engine_unlock (p->engine);
      return TRUE;
    }
    clear_result (p);
    p->result.ref_pts = klass->task == WW_TASK_FLOW ? ref : GST_CLOCK_TIME_NONE;
  }
  GST_OBJECT_LOCK (self);
  timing_add (&p->infer, ms_since (t0));
  GST_OBJECT_UNLOCK (self);

  t0 = g_get_monotonic_time ();
  ww_runner_size_of (p->runner, &iw, &ih);
  px = (gsize) iw * ih;
  p->result.task = (GstWinwinTask) klass->task;
  p->result.width = iw;
  p->result.height = ih;
  p->result.frame_width = GST_VIDEO_INFO_WIDTH (&p->info);
  p->result.frame_height = GST_VIDEO_INFO_HEIGHT (&p->info);
  p->result.valid = TRUE;
  p->result.result_pts = pts;
  p->result.classes = klass->classes ? klass->classes (self) : NULL;
  host = (GstWinwinHostResult) {
  .width = iw,.height = ih,.frame_width = p->result.frame_width,.frame_height =
        p->result.frame_height};
  if (c->semseg) {
    guint32 *ids = g_new (guint32, px);
    gfloat *conf = g_new (gfloat, px);
    guint8 *labels = g_new (guint8, px);
    st = ww_runner_labels (p->runner, ids, conf, px);
    for (gsize i = 0; i < px; i++)
      labels[i] = ids[i] < 255 ? (guint8) ids[i] : 255;
    g_free (ids);
    p->result.labels = g_bytes_new_take (labels, px);
    p->result.scores = g_bytes_new_take (conf, px * sizeof (gfloat));
    host.labels = labels;
  } else {
    gint C = c->out_channels;
    gfloat *out = g_new (gfloat, C * px);
    st = ww_runner_output (p->runner, out, C * px);
    if (klass->task == WW_TASK_FLOW) {
      /* the model's vectors are in map pixels; the meta's are in frame pixels */
      gfloat sx = (gfloat) p->result.frame_width / iw, sy = (gfloat) p->result.frame_height / ih;
      for (gsize i = 0; i < px; i++) {
        out[i] *= sx;
        out[px + i] *= sy;
      }
    }
    p->result.channels = C;
    p->result.data = g_bytes_new_take (out, C * px * sizeof (gfloat));
    host.channels = C;
    host.data = out;
  }
  if (st != WW_OK)
    goto failed;
  GST_OBJECT_LOCK (self);
  timing_add (&p->readback, ms_since (t0));
  GST_OBJECT_UNLOCK (self);

  if (klass->observe)
    klass->observe (self, &host);
  if (mode == GST_WINWIN_MODE_OVERLAY || mode == GST_WINWIN_MODE_VISUALIZE) {
    int64_t ne[2] = { iw, ih };
    ww_tensor rgba;
    t0 = g_get_monotonic_time ();
    if (!ensure_viz (p)) {
      st = WW_ERR_OUT_OF_MEMORY;
      goto failed;
    }
    ww_arena_reset (p->viz_arena);
    ww_seq_clear (p->viz_seq);
    if ((st = ww_arena_alloc (p->viz_arena, WW_U32, 2, ne, &rgba)) != WW_OK ||
        (st = klass->colorize (self, p->runner, p->viz_seq, p->viz_arena, &rgba)) != WW_OK ||
        (st = ww_seq_run (p->viz_seq)) != WW_OK || (st = ww_seq_wait (p->viz_seq)) != WW_OK)
      goto failed;
    p->rgba = g_renew (guint32, p->rgba, px);
    if ((st = ww_tensor_read (be, &rgba, p->rgba, px * 4)) != WW_OK)
      goto failed;
    p->have_rgba = TRUE;
    GST_OBJECT_LOCK (self);
    timing_add (&p->render, ms_since (t0));
    GST_OBJECT_UNLOCK (self);
  }
  gst_winwin_engine_unlock (p->engine);
  return TRUE;

failed:
  g_set_error (error, GST_WINWIN_ERROR, st, "%s", ww_backend_error (be));
  gst_winwin_engine_unlock (p->engine);
  clear_result (p);
  return FALSE;
}

/* The colour picture as an overlay composition over the whole frame, for a downstream that
 * blends it itself (a video sink, a compositor): the frame stays untouched. */
static GstVideoOverlayComposition *
composition_of (GstWinwinBasePrivate * p, gdouble alpha)
{
  guint w = p->result.width, h = p->result.height;
  GstBuffer *buf;
  GstMapInfo map;
  GstVideoOverlayRectangle *rect;

  if (p->composition && p->composition_alpha == alpha)
    return p->composition;
  g_clear_pointer (&p->composition, gst_video_overlay_composition_unref);
  p->composition_alpha = alpha;
  buf = gst_buffer_new_allocate (NULL, (gsize) w * h * 4, NULL);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < (gsize) w * h; i++) {
    guint32 c = p->rgba[i];
    /* GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB: BGRA bytes, not premultiplied */
    map.data[4 * i] = (c >> 16) & 0xff;
    map.data[4 * i + 1] = (c >> 8) & 0xff;
    map.data[4 * i + 2] = c & 0xff;
    map.data[4 * i + 3] = (guint8) ((c >> 24) * alpha + 0.5);
  }
  gst_buffer_unmap (buf, &map);
  gst_buffer_add_video_meta (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, w, h);
  rect = gst_video_overlay_rectangle_new_raw (buf, 0, 0, p->result.frame_width,
      p->result.frame_height, GST_VIDEO_OVERLAY_FORMAT_FLAG_NONE);
  p->composition = gst_video_overlay_composition_new (rect);
  gst_video_overlay_rectangle_unref (rect);
  gst_buffer_unref (buf);
  return p->composition;
}

/* Upstream writing Vulkan buffers (vulkanupload) gets a pool of them on our device when nobody
 * downstream offered one: the frames are then mapped straight from that memory. */
static gboolean
gst_winwin_base_propose_allocation (GstBaseTransform * trans, GstQuery * decide_query,
    GstQuery * query)
{
  GstWinwinBasePrivate *p = PRIV (GST_WINWIN_BASE (trans));
  GstCaps *caps = NULL;
  GstVideoInfo info;
  GstBufferPool *pool;
  GstStructure *config;
  /* in place, the parent asks downstream, which may have nothing to say (fakesink) */
  gboolean ret = GST_BASE_TRANSFORM_CLASS (gst_winwin_base_parent_class)->propose_allocation
      (trans, decide_query, query);

  gst_query_parse_allocation (query, &caps, NULL);
  if (!caps || !p->vk_device || gst_query_get_n_allocation_pools (query) > 0 ||
      !gst_caps_features_contains (gst_caps_get_features (caps, 0),
          GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER) || !gst_video_info_from_caps (&info, caps))
    return ret;
  pool = gst_vulkan_buffer_pool_new (p->vk_device);
  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, GST_VIDEO_INFO_SIZE (&info), 1, 0);
  if (gst_buffer_pool_set_config (pool, config)) {
    gst_query_add_allocation_pool (query, pool, GST_VIDEO_INFO_SIZE (&info), 1, 0);
    ret = TRUE;
  }
  gst_object_unref (pool);
  return ret;
}

/* Post a latency message when the p95 inference time grew past what was reported. */
static void
check_latency (GstWinwinBase * self)
{
  GstWinwinBasePrivate *p = PRIV (self);
  gdouble mean, p95;
  gboolean post = FALSE;

  GST_OBJECT_LOCK (self);
  timing_summary (&p->infer, &mean, &p95);
  if (p->infer.n >= 4 && p95 > p->reported_latency_ms * LATENCY_GROWTH) {
    p->reported_latency_ms = p95;
    post = TRUE;
  }
  GST_OBJECT_UNLOCK (self);
  if (post) {
    GST_DEBUG_OBJECT (self, "inference p95 now %.2f ms: latency message", p95);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_latency (GST_OBJECT (self)));
  }
}

static GstFlowReturn
process (GstWinwinBase * self, GstBuffer * inbuf, GstBuffer * outbuf)
{
  GstWinwinBasePrivate *p = PRIV (self);
  GstWinwinBaseClass *klass = GST_WINWIN_BASE_GET_CLASS (self);
  GstWinwinMode mode;
  guint interval;
  gdouble alpha;
  gboolean run, prime, pending;
  GstMapInfo map;
  GError *error = NULL;
  GstClockTime pts = GST_BUFFER_PTS (inbuf);

  GST_OBJECT_LOCK (self);
  mode = p->mode;
  interval = p->interval;
  alpha = p->alpha;
  pending = p->model_pending;
  GST_OBJECT_UNLOCK (self);
  if (pending)
    swap_model (self);
  if (GST_BUFFER_IS_DISCONT (inbuf) && p->count)
    reset_stream (self, "discont");

  /* inference-interval k: run on frames 0, k, 2k, ...; flow also encodes the frame before
   * each of them, so that its flow is still between consecutive frames. */
  run = p->count % interval == 0;
  prime = klass->task == WW_TASK_FLOW && interval > 1 && p->count % interval == interval - 1;
  p->count++;
  if (run || prime) {
    gboolean ok;
    if (!gst_buffer_map (inbuf, &map, GST_MAP_READ)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot map the input frame"), (NULL));
      return GST_FLOW_ERROR;
    }
    ok = map.size >= GST_VIDEO_INFO_SIZE (&p->info) &&
        infer (self, map.data, pts, prime, &error);
    gst_buffer_unmap (inbuf, &map);
    if (!ok) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Inference failed: %s",
              error ? error->message : "the frame is smaller than its caps say"), (NULL));
      g_clear_error (&error);
      return GST_FLOW_ERROR;
    }
    if (run)
      check_latency (self);
  }

  {
    GstWinwinMetaFields f = p->result;
    f.task = (GstWinwinTask) klass->task;
    f.frame_width = GST_VIDEO_INFO_WIDTH (&p->info);
    f.frame_height = GST_VIDEO_INFO_HEIGHT (&p->info);
    f.stale = f.valid && !run;
    gst_winwin_meta_add (outbuf, &f);
  }

  if (mode == GST_WINWIN_MODE_OVERLAY && p->downstream_composes) {
    if (p->have_rgba)
      gst_buffer_add_video_overlay_composition_meta (outbuf, composition_of (p, alpha));
  } else if (mode != GST_WINWIN_MODE_META) {
    GstVideoFrame frame;
    GstVideoInfo *out_info = &GST_VIDEO_FILTER (self)->out_info;
    if (!gst_video_frame_map (&frame, out_info, outbuf, GST_MAP_READWRITE)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot map the output frame"), (NULL));
      return GST_FLOW_ERROR;
    }
    if (mode == GST_WINWIN_MODE_RAW) {
      GstWinwinHostResult host = {.width = p->result.width,.height = p->result.height,
        .channels = p->result.channels,.frame_width = GST_VIDEO_FRAME_WIDTH (&frame),
        .frame_height = GST_VIDEO_FRAME_HEIGHT (&frame)
      };
      host.data = p->result.data ? g_bytes_get_data (p->result.data, NULL) : NULL;
      host.labels = p->result.labels ? g_bytes_get_data (p->result.labels, NULL) : NULL;
      klass->write_raw (self, p->result.valid ? &host : NULL, &frame);
    } else if (p->have_rgba) {
      gst_winwin_render_blend (&frame, p->rgba, p->result.width, p->result.height, alpha,
          mode == GST_WINWIN_MODE_VISUALIZE);
    } else if (mode == GST_WINWIN_MODE_VISUALIZE) {
      /* no result yet (the first flow frame): black */
      guint32 black = 0xff000000u;
      gst_winwin_render_blend (&frame, &black, 1, 1, 1.0, TRUE);
    }
    gst_video_frame_unmap (&frame);
  }

  GST_OBJECT_LOCK (self);
  p->processed++;
  p->inferred += run;
  p->stale += !run && p->result.valid;
  p->last_frame_us = g_get_monotonic_time ();
  if (!p->first_frame_us)
    p->first_frame_us = p->last_frame_us;
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_winwin_base_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  return process (GST_WINWIN_BASE (trans), buf, buf);
}

static GstFlowReturn
gst_winwin_base_transform (GstBaseTransform * trans, GstBuffer * inbuf, GstBuffer * outbuf)
{
  return process (GST_WINWIN_BASE (trans), inbuf, outbuf);
}

static GstFlowReturn
gst_winwin_base_submit_input_buffer (GstBaseTransform * trans, gboolean is_discont,
    GstBuffer * input)
{
  GstWinwinBase *self = GST_WINWIN_BASE (trans);
  GST_OBJECT_LOCK (self);
  PRIV (self)->received++;
  GST_OBJECT_UNLOCK (self);
  return GST_BASE_TRANSFORM_CLASS (gst_winwin_base_parent_class)->submit_input_buffer (trans,
      is_discont, input);
}

static gboolean
gst_winwin_base_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstWinwinBase *self = GST_WINWIN_BASE (trans);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_SEGMENT:
    case GST_EVENT_STREAM_START:
      reset_stream (self, GST_EVENT_TYPE_NAME (event));
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (gst_winwin_base_parent_class)->sink_event (trans, event);
}

static gboolean
gst_winwin_base_query (GstBaseTransform * trans, GstPadDirection direction, GstQuery * query)
{
  GstWinwinBase *self = GST_WINWIN_BASE (trans);
  GstWinwinBasePrivate *p = PRIV (self);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CONTEXT) {
    if (gst_vulkan_handle_context_query (GST_ELEMENT (self), query, NULL, p->instance,
            p->vk_device))
      return TRUE;
  }
  if (!GST_BASE_TRANSFORM_CLASS (gst_winwin_base_parent_class)->query (trans, direction, query))
    return FALSE;
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max, ours;
    gdouble mean, p95;
    GST_OBJECT_LOCK (self);
    timing_summary (&p->infer, &mean, &p95);
    if (p95 > p->reported_latency_ms)
      p->reported_latency_ms = p95;
    GST_OBJECT_UNLOCK (self);
    gst_query_parse_latency (query, &live, &min, &max);
    ours = (GstClockTime) (p95 * GST_MSECOND);
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += ours;
    gst_query_set_latency (query, live, min, max);
    GST_DEBUG_OBJECT (self, "latency: + %.2f ms (p95 of inference)", p95);
  }
  return TRUE;
}

static void
gst_winwin_base_set_context (GstElement * element, GstContext * context)
{
  GstWinwinBasePrivate *p = PRIV (GST_WINWIN_BASE (element));
  GstVulkanDevice *device = NULL;

  gst_vulkan_handle_set_context (element, context, NULL, &p->instance);
  if (gst_context_has_context_type (context, GST_VULKAN_DEVICE_CONTEXT_TYPE_STR) &&
      !p->vk_device && gst_context_get_vulkan_device (context, &device))
    p->vk_device = device;
  else
    gst_clear_object (&device);
  GST_ELEMENT_CLASS (gst_winwin_base_parent_class)->set_context (element, context);
}

/* ---- Properties --------------------------------------------------------------------------- */

static GstStructure *
make_stats (GstWinwinBase * self)
{
  GstWinwinBasePrivate *p = PRIV (self);
  gdouble im, ip, rm, rp, vm, vp, secs, fps;
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  timing_summary (&p->infer, &im, &ip);
  timing_summary (&p->readback, &rm, &rp);
  timing_summary (&p->render, &vm, &vp);
  secs = (p->last_frame_us - p->first_frame_us) / 1e6;
  fps = secs > 0 ? (p->processed - 1) / secs : 0;
  s = gst_structure_new ("winwin-stats",
      "frames", G_TYPE_UINT64, p->processed,
      "inferred", G_TYPE_UINT64, p->inferred,
      "stale", G_TYPE_UINT64, p->stale,
      "dropped", G_TYPE_UINT64, p->received - p->processed,
      "fps", G_TYPE_DOUBLE, fps,
      "infer-mean-ms", G_TYPE_DOUBLE, im, "infer-p95-ms", G_TYPE_DOUBLE, ip,
      "readback-mean-ms", G_TYPE_DOUBLE, rm, "readback-p95-ms", G_TYPE_DOUBLE, rp,
      "render-mean-ms", G_TYPE_DOUBLE, vm, "render-p95-ms", G_TYPE_DOUBLE, vp, NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

static void
gst_winwin_base_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstWinwinBase *self = GST_WINWIN_BASE (object);
  GstWinwinBasePrivate *p = PRIV (self);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL_FILE:
      g_free (p->model_file);
      p->model_file = g_value_dup_string (value);
      p->model_pending = p->engine != NULL;
      break;
    case PROP_DEVICE:
      g_free (p->device);
      p->device = g_value_dup_string (value);
      break;
    case PROP_DEVICE_INDEX:
      p->device_index = g_value_get_int (value);
      break;
    case PROP_MODE:
      p->mode = g_value_get_enum (value);
      break;
    case PROP_INFERENCE_WIDTH:
      p->inference_width = g_value_get_int (value);
      break;
    case PROP_INFERENCE_HEIGHT:
      p->inference_height = g_value_get_int (value);
      break;
    case PROP_INFERENCE_INTERVAL:
      p->interval = g_value_get_uint (value);
      break;
    case PROP_ALPHA:
      p->alpha = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  if (prop_id == PROP_MODE)
    gst_base_transform_reconfigure_src (GST_BASE_TRANSFORM (self));
}

static void
gst_winwin_base_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstWinwinBase *self = GST_WINWIN_BASE (object);
  GstWinwinBasePrivate *p = PRIV (self);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, make_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL_FILE:
      g_value_set_string (value, p->model_file);
      break;
    case PROP_DEVICE:
      g_value_set_string (value, p->device);
      break;
    case PROP_DEVICE_INDEX:
      g_value_set_int (value, p->device_index);
      break;
    case PROP_MODE:
      g_value_set_enum (value, p->mode);
      break;
    case PROP_INFERENCE_WIDTH:
      g_value_set_int (value, p->inference_width);
      break;
    case PROP_INFERENCE_HEIGHT:
      g_value_set_int (value, p->inference_height);
      break;
    case PROP_INFERENCE_INTERVAL:
      g_value_set_uint (value, p->interval);
      break;
    case PROP_ALPHA:
      g_value_set_double (value, p->alpha);
      break;
    case PROP_DEVICE_NAME:
      g_value_set_string (value, p->engine ? gst_winwin_engine_device_name (p->engine) : NULL);
      break;
    case PROP_VULKAN_DEVICE:
      g_value_set_object (value, p->vk_device);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_winwin_base_finalize (GObject * object)
{
  GstWinwinBasePrivate *p = PRIV (GST_WINWIN_BASE (object));
  g_free (p->model_file);
  g_free (p->device);
  /* a context set on an element that never started */
  gst_clear_object (&p->vk_device);
  gst_clear_object (&p->instance);
  G_OBJECT_CLASS (gst_winwin_base_parent_class)->finalize (object);
}

static void
gst_winwin_base_init (GstWinwinBase * self)
{
  GstWinwinBasePrivate *p = PRIV (self);
  p->device = g_strdup ("auto");
  p->device_index = -1;
  p->mode = GST_WINWIN_MODE_META;
  p->interval = 1;
  p->alpha = 0.5;
  p->last_pushed_pts = GST_CLOCK_TIME_NONE;
  clear_result (p);
}

static void
gst_winwin_base_class_init (GstWinwinBaseClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  gobject_class->set_property = gst_winwin_base_set_property;
  gobject_class->get_property = gst_winwin_base_get_property;
  gobject_class->finalize = gst_winwin_base_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL_FILE,
      g_param_spec_string ("model-file", "Model file",
          "winwin model (.safetensors) to run; NULL: the installed default model of the "
          "element's task. Set while playing, the new model is loaded at the next frame and the "
          "old one kept if that fails (element message \"winwin-model\")", NULL,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "auto (a GPU, else the CPU backend; never a CPU Vulkan driver), cpu, vulkan (any "
          "Vulkan device, CPU drivers last), vulkan:N, vulkan:UUID or vulkan:NAME. A Vulkan "
          "device shared by the pipeline (GstContext) wins", "auto",
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_DEVICE_INDEX,
      g_param_spec_int ("device-index", "Device index",
          "Vulkan device number (-1: as `device` says)", -1, G_MAXINT, -1,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode", "What the element outputs", GST_TYPE_WINWIN_MODE,
          GST_WINWIN_MODE_META, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_WIDTH,
      g_param_spec_int ("inference-width", "Inference width",
          "Width the model runs at, the frame resized on the device (0: the frame's)", 0, 16384,
          0, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_HEIGHT,
      g_param_spec_int ("inference-height", "Inference height",
          "Height the model runs at (0: the frame's)", 0, 16384, 0,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_INTERVAL,
      g_param_spec_uint ("inference-interval", "Inference interval",
          "Run the model on every k-th frame; the others carry the last result, marked stale",
          1, G_MAXUINT, 1, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ALPHA,
      g_param_spec_double ("alpha", "Alpha", "Opacity of the picture in mode=overlay", 0.0,
          1.0, 0.5, rw | GST_PARAM_MUTABLE_PLAYING | GST_PARAM_CONTROLLABLE));
  g_object_class_install_property (gobject_class, PROP_DEVICE_NAME,
      g_param_spec_string ("device-name", "Device name",
          "The device the model runs on (from PAUSED on)", NULL,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_VULKAN_DEVICE,
      g_param_spec_object ("vulkan-device", "Vulkan device",
          "The GstVulkanDevice in use (NULL on the CPU backend)", GST_TYPE_VULKAN_DEVICE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "winwin-stats: frames, inferred, stale, dropped (QoS), fps, and the mean and p95 in ms "
          "of infer (upload + model), readback and render over the last 128 frames",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  element_class->set_context = gst_winwin_base_set_context;
  trans_class->start = gst_winwin_base_start;
  trans_class->stop = gst_winwin_base_stop;
  trans_class->transform_caps = gst_winwin_base_transform_caps;
  trans_class->set_caps = gst_winwin_base_set_caps;
  trans_class->propose_allocation = gst_winwin_base_propose_allocation;
  trans_class->transform = gst_winwin_base_transform;
  trans_class->transform_ip = gst_winwin_base_transform_ip;
  trans_class->submit_input_buffer = gst_winwin_base_submit_input_buffer;
  trans_class->sink_event = gst_winwin_base_sink_event;
  trans_class->query = gst_winwin_base_query;
  trans_class->transform_ip_on_passthrough = FALSE;
  filter_class->set_info = gst_winwin_base_set_info;

  gst_type_mark_as_plugin_api (GST_TYPE_WINWIN_BASE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_WINWIN_MODE, 0);
  gst_winwin_meta_register ();
}

void
gst_winwin_base_class_add_templates (GstElementClass * element_class, GstVideoFormat raw)
{
  GstCaps *in = gst_caps_from_string ("video/x-raw, format=(string)" INPUT_FORMATS "; "
      "video/x-raw(" GST_CAPS_FEATURE_MEMORY_VULKAN_BUFFER "), format=(string)" INPUT_FORMATS);
  GstCaps *out = gst_caps_copy (in);
  GstPadTemplate *t;

  gst_caps_append (out, gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING,
          gst_video_format_to_string (raw), NULL));
  t = gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, in);
  gst_pad_template_set_documentation_caps (t, gst_caps_ref (in));
  gst_element_class_add_pad_template (element_class, t);
  t = gst_pad_template_new ("src", GST_PAD_SRC, GST_PAD_ALWAYS, out);
  gst_pad_template_set_documentation_caps (t, gst_caps_ref (out));
  gst_element_class_add_pad_template (element_class, t);
  gst_caps_unref (in);
  gst_caps_unref (out);
}
