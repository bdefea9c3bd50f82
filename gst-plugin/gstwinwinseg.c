/**
 * SECTION:element-winwinseg
 * @title: winwinseg
 *
 * Semantic segmentation of every frame with a Win-Win / CroCo v2 segmentation model, on a GPU
 * through Vulkan or on the CPU. Every frame gets a #GstWinwinMeta (see winwinmeta.h) with the
 * class id of each pixel (the argmax, 255 = none), its softmax probability, and the class names.
 *
 * mode=overlay blends the class colours onto the frame with `alpha`, mode=visualize replaces the
 * frame with them; `class-filter` limits the colours to some classes. The colours are the
 * model's own palette (its "palette" metadata, else Cityscapes') or Cityscapes'. mode=raw
 * outputs GRAY16_LE class ids (255 = none).
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! winwinseg mode=overlay alpha=0.6 ! videoconvert ! autovideosink
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! winwinseg mode=meta ! appsink
 * ]|
 */
#include "gstwinwinseg.h"

#include <string.h>

typedef enum {
  GST_WINWIN_PALETTE_MODEL = 0,
  GST_WINWIN_PALETTE_CITYSCAPES = 1,
} GstWinwinPalette;

struct _GstWinwinSeg {
  GstWinwinBase parent;
  GstWinwinPalette palette;
  gchar *class_filter;          /* comma-separated ids or names; NULL = every class */
  gchar *labels_file;
  /* of the model in use (engine lock) */
  gint classes;
  gchar *class_names;           /* comma-separated */
  guint8 *colors;               /* 3 x classes */
};

enum { PROP_0, PROP_PALETTE, PROP_CLASS_FILTER, PROP_LABELS_FILE };

G_DEFINE_TYPE (GstWinwinSeg, gst_winwin_seg, GST_TYPE_WINWIN_BASE);
GST_ELEMENT_REGISTER_DEFINE (winwinseg, "winwinseg", GST_RANK_NONE, GST_TYPE_WINWIN_SEG);

#define GST_TYPE_WINWIN_PALETTE (gst_winwin_palette_get_type ())
static GType
gst_winwin_palette_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_WINWIN_PALETTE_MODEL, "The model's palette (else Cityscapes, then PASCAL VOC)",
        "model"},
    {GST_WINWIN_PALETTE_CITYSCAPES, "Cityscapes train ids (then PASCAL VOC)", "cityscapes"},
    {0, NULL, NULL}
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstWinwinPalette", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* Class names from a labels file (one per line, blank lines and '#' lines skipped), joined by
 * commas; NULL with *error when it cannot be read or does not name n classes. */
static gchar *
read_labels (const gchar * path, gint n, GError ** error)
{
  gchar *text = NULL, **lines;
  GString *names = g_string_new (NULL);
  gint count = 0;

  if (!g_file_get_contents (path, &text, NULL, error)) {
    g_string_free (names, TRUE);
    return NULL;
  }
  lines = g_strsplit (text, "\n", -1);
  for (gchar ** l = lines; *l; l++) {
    gchar *name = g_strstrip (*l);
    if (!*name || *name == '#')
      continue;
    g_string_append_printf (names, "%s%s", count ? "," : "", name);
    count++;
  }
  g_strfreev (lines);
  g_free (text);
  if (count != n) {
    g_set_error (error, GST_WINWIN_ERROR, 0, "labels-file '%s' names %d classes; the model has "
        "%d", path, count, n);
    g_string_free (names, TRUE);
    return NULL;
  }
  return g_string_free (names, FALSE);
}

static gboolean
model_changed (GstWinwinBase * base, ww_model * m, GError ** error)
{
  GstWinwinSeg *self = GST_WINWIN_SEG (base);
  gint n = ww_model_config_of (m)->out_channels;
  gchar *labels_file, *names;
  GString *s;

  if (n > 255) {
    g_set_error (error, GST_WINWIN_ERROR, 0, "the model has %d classes; at most 255 fit the "
        "meta's 8-bit ids", n);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  labels_file = g_strdup (self->labels_file);
  GST_OBJECT_UNLOCK (self);
  if (labels_file) {
    names = read_labels (labels_file, n, error);
    g_free (labels_file);
    if (!names)
      return FALSE;
  } else {
    s = g_string_new (NULL);
    for (gint i = 0; i < n; i++) {
      char buf[256];
      ww_model_class_name (m, i, buf, sizeof buf);
      g_string_append_printf (s, "%s%s", i ? "," : "", buf);
    }
    names = g_string_free (s, FALSE);
  }
  g_free (self->class_names);
  self->class_names = names;
  self->classes = n;
  self->colors = g_renew (guint8, self->colors, 3 * n);
  ww_model_class_colors (m, self->colors, n);
  return TRUE;
}

static const gchar *
classes (GstWinwinBase * base)
{
  return GST_WINWIN_SEG (base)->class_names;
}

/* Is class id (named name) shown under the filter (comma-separated ids or names; NULL: all)? */
static gboolean
shown (gchar ** filter, gint id, const gchar * name)
{
  if (!filter)
    return TRUE;
  for (gchar ** f = filter; *f; f++) {
    gchar *end, *tok = g_strstrip (*f);
    glong v = strtol (tok, &end, 10);
    if ((*tok && !*end) ? v == id : (name && !g_ascii_strcasecmp (tok, name)))
      return TRUE;
  }
  return FALSE;
}

static ww_status
colorize (GstWinwinBase * base, ww_runner * runner, ww_seq * seq, ww_arena * arena,
    const ww_tensor * rgba)
{
  GstWinwinSeg *self = GST_WINWIN_SEG (base);
  ww_backend *be = gst_winwin_base_backend (base);
  ww_tensor ids, palette;
  int64_t n = self->classes;
  guint32 *words = g_new (guint32, n);
  const guint8 *rgb = self->colors;
  gchar **filter = NULL, **names = g_strsplit (self->class_names, ",", -1);
  guint nnames = g_strv_length (names);
  ww_status st;
  int ncity;

  GST_OBJECT_LOCK (self);
  if (self->class_filter && *self->class_filter)
    filter = g_strsplit (self->class_filter, ",", -1);
  if (self->palette == GST_WINWIN_PALETTE_CITYSCAPES && n <= 19)
    rgb = ww_palette_cityscapes (&ncity);
  GST_OBJECT_UNLOCK (self);
  for (int64_t i = 0; i < n; i++)
    words[i] = WW_RGBA (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2],
        shown (filter, (gint) i, (guint) i < nnames ? names[i] : NULL) ? 255 : 0);
  g_strfreev (filter);
  g_strfreev (names);
  st = ww_runner_result (runner, "labels", &ids);
  if (st == WW_OK)
    st = ww_arena_alloc (arena, WW_U32, 1, &n, &palette);
  if (st == WW_OK)
    st = ww_tensor_write (be, &palette, words, n * sizeof *words);
  g_free (words);
  return st == WW_OK ? ww_colorize_labels (seq, &ids, &palette, rgba) : st;
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
    const guint8 *ids = res ? res->labels + (gsize) gst_winwin_render_nearest (y, res->height,
        H) * res->width : NULL;
    for (guint x = 0; x < W; x++)
      row[x] = GUINT16_TO_LE (ids ? ids[xs[x]] : 255);
  }
  g_free (xs);
}

static void
gst_winwin_seg_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstWinwinSeg *self = GST_WINWIN_SEG (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_PALETTE:
      self->palette = g_value_get_enum (value);
      break;
    case PROP_CLASS_FILTER:
      g_free (self->class_filter);
      self->class_filter = g_value_dup_string (value);
      break;
    case PROP_LABELS_FILE:
      g_free (self->labels_file);
      self->labels_file = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_winwin_seg_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstWinwinSeg *self = GST_WINWIN_SEG (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_PALETTE:
      g_value_set_enum (value, self->palette);
      break;
    case PROP_CLASS_FILTER:
      g_value_set_string (value, self->class_filter);
      break;
    case PROP_LABELS_FILE:
      g_value_set_string (value, self->labels_file);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_winwin_seg_finalize (GObject * object)
{
  GstWinwinSeg *self = GST_WINWIN_SEG (object);
  g_free (self->class_filter);
  g_free (self->labels_file);
  g_free (self->class_names);
  g_free (self->colors);
  G_OBJECT_CLASS (gst_winwin_seg_parent_class)->finalize (object);
}

static void
gst_winwin_seg_init (GstWinwinSeg * self)
{
  self->palette = GST_WINWIN_PALETTE_MODEL;
}

static void
gst_winwin_seg_class_init (GstWinwinSegClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstWinwinBaseClass *base_class = GST_WINWIN_BASE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  gobject_class->set_property = gst_winwin_seg_set_property;
  gobject_class->get_property = gst_winwin_seg_get_property;
  gobject_class->finalize = gst_winwin_seg_finalize;
  g_object_class_install_property (gobject_class, PROP_PALETTE,
      g_param_spec_enum ("palette", "Palette", "Class colours of mode=overlay and visualize",
          GST_TYPE_WINWIN_PALETTE, GST_WINWIN_PALETTE_MODEL, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_CLASS_FILTER,
      g_param_spec_string ("class-filter", "Class filter",
          "Colour only these classes: ids or names, comma-separated (NULL: all)", NULL,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_LABELS_FILE,
      g_param_spec_string ("labels-file", "Labels file",
          "Class names, one per line, for the meta and class-filter (NULL: the model's)", NULL,
          rw | GST_PARAM_MUTABLE_READY));

  gst_element_class_set_static_metadata (element_class, "winwin semantic segmentation",
      "Filter/Analyzer/Video", "Class of every pixel with a Win-Win vision transformer (Vulkan "
      "or CPU)", "winwin developers");
  gst_winwin_base_class_add_templates (element_class, GST_VIDEO_FORMAT_GRAY16_LE);
  base_class->task = WW_TASK_SEG;
  base_class->raw_format = GST_VIDEO_FORMAT_GRAY16_LE;
  base_class->colorize = colorize;
  base_class->write_raw = write_raw;
  base_class->classes = classes;
  base_class->model_changed = model_changed;
  gst_type_mark_as_plugin_api (GST_TYPE_WINWIN_PALETTE, 0);
}
