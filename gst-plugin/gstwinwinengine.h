/* Engines: one winwin backend per device, shared by every element of the process that runs on
 * that device, with the models loaded on it (one copy per file, whoever asks).
 *
 * A backend is used by one thread at a time (core/ww.h), so an element holds the engine's lock
 * around everything it does with the backend: running a frame, reading results, loading. */
#ifndef GST_WINWIN_ENGINE_H
#define GST_WINWIN_ENGINE_H

#include <gst/gst.h>
#include <gst/vulkan/vulkan.h>

#include "model.h"

G_BEGIN_DECLS

typedef struct _GstWinwinEngine GstWinwinEngine;

#define GST_WINWIN_ERROR (gst_winwin_error_quark ())
GQuark gst_winwin_error_quark (void);

/* The engine of the element's device request, opened or shared; the caller owns a reference
 * (gst_winwin_engine_unref).
 * device: "auto" (a peer's GPU, else the best GPU, else the CPU backend: never Mesa's CPU
 * Vulkan driver), "cpu", "vulkan" (a peer's device, else the best Vulkan device, CPU drivers
 * last), "vulkan:N", "vulkan:UUID" or "vulkan:NAME" (a peer's device wins over these, with a
 * warning); index >= 0 means "vulkan:INDEX". *instance and *vk_device receive the GStreamer
 * Vulkan objects in use (owned by the caller; NULL on the CPU backend), which the element shares
 * with its peers through GstContext. On failure NULL with *error set. */
GstWinwinEngine *gst_winwin_engine_open (GstElement * element, const gchar * device,
    gint index, GstVulkanInstance ** instance, GstVulkanDevice ** vk_device, GError ** error);
void gst_winwin_engine_unref (GstWinwinEngine * engine);

void gst_winwin_engine_lock (GstWinwinEngine * engine);
void gst_winwin_engine_unlock (GstWinwinEngine * engine);
ww_backend *gst_winwin_engine_backend (GstWinwinEngine * engine);
/* "CPU (OpenBLAS, 2 threads)", "NVIDIA H200", ... */
const gchar *gst_winwin_engine_device_name (GstWinwinEngine * engine);

/* The model in path on this engine, loaded once and shared: each call takes a reference that
 * gst_winwin_engine_release_model gives back. Call with the engine unlocked. On failure NULL with
 * *error naming the file and the problem. */
ww_model *gst_winwin_engine_get_model (GstWinwinEngine * engine, const gchar * path,
    GError ** error);
void gst_winwin_engine_release_model (GstWinwinEngine * engine, ww_model * model);

G_END_DECLS
#endif
