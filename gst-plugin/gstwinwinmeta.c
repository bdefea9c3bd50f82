/* Registration of the result meta (winwinmeta.h) and the one function the elements attach it
 * with. */
#include "gstwinwinmeta.h"

#include <gst/video/video.h>

static gpointer
register_meta (gpointer unused)
{
  static const gchar *tags[] = { GST_META_TAG_VIDEO_STR, GST_META_TAG_VIDEO_SIZE_STR,
    GST_META_TAG_VIDEO_ORIENTATION_STR, NULL
  };
  (void) unused;
  /* No transform function: GStreamer then copies the meta on buffer copies and drops it on
   * every other transformation (a scaled or flipped frame no longer matches the map). */
  return (gpointer) gst_meta_register_custom (GST_WINWIN_META_NAME, tags, NULL, NULL, NULL);
}

void
gst_winwin_meta_register (void)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, register_meta, NULL);
}

void
gst_winwin_meta_add (GstBuffer * buffer, const GstWinwinMetaFields * f)
{
  GstCustomMeta *meta = gst_buffer_add_custom_meta (buffer, GST_WINWIN_META_NAME);
  GstStructure *s = gst_custom_meta_get_structure (meta);

  gst_structure_set (s, "task", G_TYPE_UINT, (guint) f->task, "width", G_TYPE_UINT, f->width,
      "height", G_TYPE_UINT, f->height, "frame-width", G_TYPE_UINT, f->frame_width,
      "frame-height", G_TYPE_UINT, f->frame_height, "channels", G_TYPE_UINT, f->channels,
      "valid", G_TYPE_BOOLEAN, f->valid, "stale", G_TYPE_BOOLEAN, f->stale,
      "result-pts", G_TYPE_UINT64, (guint64) f->result_pts, "ref-pts", G_TYPE_UINT64,
      (guint64) f->ref_pts, NULL);
  if (f->data)
    gst_structure_set (s, "data", G_TYPE_BYTES, f->data, NULL);
  if (f->labels)
    gst_structure_set (s, "labels", G_TYPE_BYTES, f->labels, NULL);
  if (f->scores)
    gst_structure_set (s, "scores", G_TYPE_BYTES, f->scores, NULL);
  if (f->classes)
    gst_structure_set (s, "classes", G_TYPE_STRING, f->classes, NULL);
}
