/* The winwin plugin: winwinflow, winwindepth, winwinseg. */
#include "gstwinwindepth.h"
#include "gstwinwinflow.h"
#include "gstwinwinseg.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER (winwinflow, plugin);
  ok |= GST_ELEMENT_REGISTER (winwindepth, plugin);
  ok |= GST_ELEMENT_REGISTER (winwinseg, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, winwin,
    "Win-Win vision transformers on video: optical flow, depth, segmentation (Vulkan or CPU)",
    plugin_init, WW_VERSION, "MIT", "winwin", "https://github.com/winwin/winwin")
