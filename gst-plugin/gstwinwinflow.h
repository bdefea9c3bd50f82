/* winwinflow: optical flow between consecutive frames. */
#ifndef GST_WINWIN_FLOW_H
#define GST_WINWIN_FLOW_H

#include "gstwinwinbase.h"
#include "gstwinwinrender.h"

G_BEGIN_DECLS
#define GST_TYPE_WINWIN_FLOW (gst_winwin_flow_get_type ())
G_DECLARE_FINAL_TYPE (GstWinwinFlow, gst_winwin_flow, GST, WINWIN_FLOW, GstWinwinBase)
GST_ELEMENT_REGISTER_DECLARE (winwinflow);
G_END_DECLS
#endif
