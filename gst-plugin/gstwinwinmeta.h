/* The elements' side of the result meta: registration and attaching (the public reading side is
 * winwinmeta.h). */
#ifndef GST_WINWIN_META_H
#define GST_WINWIN_META_H

#include "winwinmeta.h"

G_BEGIN_DECLS

/* A result as the elements hold it: the GBytes are shared (referenced) by every meta made from
 * it, so a stale frame costs no copy. */
typedef struct {
  GstWinwinTask task;
  guint width, height, frame_width, frame_height, channels;
  gboolean valid, stale;
  GstClockTime result_pts, ref_pts;
  GBytes *data, *labels, *scores; /* NULL: absent */
  const gchar *classes;
} GstWinwinMetaFields;

/* Register GstWinwinMeta (idempotent, thread-safe). */
void gst_winwin_meta_register (void);
/* Attach a meta holding f to buffer (writable); the meta takes references to f's GBytes. */
void gst_winwin_meta_add (GstBuffer * buffer, const GstWinwinMetaFields * f);

G_END_DECLS
#endif
