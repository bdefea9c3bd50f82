/* GstWinwinBase: what winwinflow, winwindepth and winwinseg share. It loads the model in
 * start(), runs it on every frame (resized on the device to inference-width x
 * inference-height), attaches the result as GstWinwinMeta and, depending on `mode`, blends a
 * colour picture of it onto the frame, replaces the frame with it, or outputs the raw 16-bit
 * result. The subclasses say how their task's result is coloured and written raw. */
#ifndef GST_WINWIN_BASE_H
#define GST_WINWIN_BASE_H

#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>
#include <gst/vulkan/vulkan.h>

#include "gstwinwinengine.h"
#include "gstwinwinmeta.h"

G_BEGIN_DECLS

#define GST_TYPE_WINWIN_BASE (gst_winwin_base_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstWinwinBase, gst_winwin_base, GST, WINWIN_BASE, GstVideoFilter)

typedef enum {
  GST_WINWIN_MODE_META = 0,
  GST_WINWIN_MODE_OVERLAY = 1,
  GST_WINWIN_MODE_VISUALIZE = 2,
  GST_WINWIN_MODE_RAW = 3,
} GstWinwinMode;

#define GST_TYPE_WINWIN_MODE (gst_winwin_mode_get_type ())
GType gst_winwin_mode_get_type (void);

/* The last result on the host, as the subclasses see it when colouring or writing raw. */
typedef struct {
  guint width, height, channels;
  const gfloat *data;           /* channels x height x width (flow already in frame pixels) */
  const guint8 *labels;         /* seg */
  guint frame_width, frame_height;
} GstWinwinHostResult;

struct _GstWinwinBaseClass {
  GstVideoFilterClass parent_class;

  ww_task task;
  /* Format of mode=raw output (GRAY16_LE, RGBA64_LE). */
  GstVideoFormat raw_format;

  /* Called once per new result, engine locked, before colorize: a chance to update state that
   * depends on the values (auto ranges). */
  void (*observe) (GstWinwinBase * self, const GstWinwinHostResult * res);
  /* Append to seq the ops that colour the last result of runner into rgba (U32 [h, w], packed
   * R, G, B, A; A scales the overlay's alpha). arena holds tables the subclass allocates (it is
   * reset whenever the runner changes). Engine locked. */
  ww_status (*colorize) (GstWinwinBase * self, ww_runner * runner, ww_seq * seq,
      ww_arena * arena, const ww_tensor * rgba);
  /* Write the raw 16-bit picture of res into out (raw_format, the frame's size). */
  void (*write_raw) (GstWinwinBase * self, const GstWinwinHostResult * res,
      GstVideoFrame * out);
  /* The meta's class names (seg), or NULL; owned by the subclass. */
  const gchar *(*classes) (GstWinwinBase * self);
  /* Called when the model changes (engine locked): reload tables, check the model fits. Returns
   * FALSE with *error set to refuse the model. */
  gboolean (*model_changed) (GstWinwinBase * self, ww_model * model, GError ** error);
};

/* Add the sink and src pad templates: the input formats in system memory and
 * memory:VulkanBuffer, and on src also raw, the format of mode=raw. For class_init. */
void gst_winwin_base_class_add_templates (GstElementClass * element_class, GstVideoFormat raw);

/* The model in use (engine locked while using it), or NULL. */
ww_model *gst_winwin_base_model (GstWinwinBase * self);
/* The backend the model runs on (from start() to stop()). */
ww_backend *gst_winwin_base_backend (GstWinwinBase * self);

G_END_DECLS
#endif
