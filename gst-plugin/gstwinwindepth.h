/* winwindepth: monocular depth of every frame. */
#ifndef GST_WINWIN_DEPTH_H
#define GST_WINWIN_DEPTH_H

#include "gstwinwinbase.h"
#include "gstwinwinrender.h"

G_BEGIN_DECLS
#define GST_TYPE_WINWIN_DEPTH (gst_winwin_depth_get_type ())
G_DECLARE_FINAL_TYPE (GstWinwinDepth, gst_winwin_depth, GST, WINWIN_DEPTH, GstWinwinBase)
GST_ELEMENT_REGISTER_DECLARE (winwindepth);
G_END_DECLS
#endif
