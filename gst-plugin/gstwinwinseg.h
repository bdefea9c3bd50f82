/* winwinseg: semantic segmentation of every frame. */
#ifndef GST_WINWIN_SEG_H
#define GST_WINWIN_SEG_H

#include "gstwinwinbase.h"
#include "gstwinwinrender.h"

G_BEGIN_DECLS
#define GST_TYPE_WINWIN_SEG (gst_winwin_seg_get_type ())
G_DECLARE_FINAL_TYPE (GstWinwinSeg, gst_winwin_seg, GST, WINWIN_SEG, GstWinwinBase)
GST_ELEMENT_REGISTER_DECLARE (winwinseg);
G_END_DECLS
#endif
