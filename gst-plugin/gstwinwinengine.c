/* Engines shared per device (see gstwinwinengine.h) and the choice of the Vulkan device, which
 * follows the peers' GstContext like gstvkvideofilter.c does. */
#include "gstwinwinengine.h"

#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_winwin_base_debug);
#define GST_CAT_DEFAULT gst_winwin_base_debug

typedef struct {
  ww_model *model;
  gint refs;
} ModelEntry;

struct _GstWinwinEngine {
  gint refs;                    /* under registry_lock */
  GstVulkanDevice *device;      /* NULL: the CPU backend */
  GstVulkanQueue *queue;
  ww_backend *be;
  GMutex lock;                  /* around every use of be */
  GHashTable *models;           /* path -> ModelEntry, under lock */
};

static GMutex registry_lock;
static GList *engines;          /* GstWinwinEngine *, under registry_lock */

static void
engine_free (GstWinwinEngine * e)
{
  g_hash_table_destroy (e->models);
  ww_backend_destroy (e->be);
  if (e->queue)
    gst_object_unref (e->queue);
  if (e->device)
    gst_object_unref (e->device);
  g_mutex_clear (&e->lock);
  g_free (e);
}
G_DEFINE_QUARK (gst-winwin-error-quark, gst_winwin_error);

static void
queue_lock (void *user)
{
  gst_vulkan_queue_submit_lock ((GstVulkanQueue *) user);
}

static void
queue_unlock (void *user)
{
  gst_vulkan_queue_submit_unlock ((GstVulkanQueue *) user);
}

/* The first queue of a family with compute (GStreamer 1.22 has no select_queue). */
static gboolean
find_compute_queue (GstVulkanDevice * device, GstVulkanQueue * queue, gpointer user_data)
{
  GstVulkanQueue **out = user_data;
  if (device->physical_device->queue_family_props[queue->family].queueFlags &
      VK_QUEUE_COMPUTE_BIT) {
    *out = gst_object_ref (queue);
    return FALSE;
  }
  return TRUE;
}

static void
engine_log (void *user, int level, const char *msg)
{
  GstDebugLevel l = level == WW_LOG_ERROR ? GST_LEVEL_ERROR : level == WW_LOG_WARNING
      ? GST_LEVEL_WARNING : level == WW_LOG_INFO ? GST_LEVEL_INFO : GST_LEVEL_DEBUG;
  (void) user;
  GST_CAT_LEVEL_LOG (gst_winwin_base_debug, l, NULL, "%s", msg);
}

static void
free_entry (gpointer p)
{
  ModelEntry *e = p;
  ww_model_destroy (e->model);
  g_free (e);
}

/* The engine of device (NULL: CPU), created on first use; registry_lock held. */
static GstWinwinEngine *
engine_for (GstVulkanDevice * device, GError ** error)
{
  GstWinwinEngine *e;
  GList *l;
  char err[512] = "";
  ww_backend_options opt = {.device = "cpu",.log = engine_log };
  ww_vk_external ext;
  ww_status st;
  gchar *cache_dir = NULL, *cache = NULL;

  for (l = engines; l; l = l->next) {
    e = l->data;
    if (e->device == device) {
      e->refs++;
      return e;
    }
  }
  e = g_new0 (GstWinwinEngine, 1);
  e->refs = 1;
  g_mutex_init (&e->lock);
  e->models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_entry);
  if (device) {
    e->device = gst_object_ref (device);
    gst_vulkan_device_foreach_queue (device, find_compute_queue, &e->queue);
    if (!e->queue) {
      g_set_error (error, GST_WINWIN_ERROR, 0, "Vulkan device %s has no compute queue",
          device->physical_device->properties.deviceName);
      engine_free (e);
      return NULL;
    }
    ext = (ww_vk_external) {
    .instance = (void *) device->instance->instance,.physical_device =
          (void *) device->physical_device->device,.device = (void *) device->device,.queue =
          (void *) e->queue->queue,.queue_family = e->queue->family,.queue_lock =
          queue_lock,.queue_unlock = queue_unlock,.queue_lock_user = e->queue};
    opt.device = "vulkan";
    opt.external = &ext;
    /* Compiled pipelines survive the process: the next start skips the shader compiles. */
    cache_dir = g_build_filename (g_get_user_cache_dir (), "winwin", NULL);
    if (g_mkdir_with_parents (cache_dir, 0755) == 0)
      cache = g_build_filename (cache_dir, "vulkan-pipeline-cache.bin", NULL);
    opt.pipeline_cache_path = cache;
  }
  st = ww_backend_create (&opt, &e->be, err, sizeof err);
  g_free (cache_dir);
  g_free (cache);
  if (st != WW_OK) {
    g_set_error (error, GST_WINWIN_ERROR, st, "%s", err);
    engine_free (e);
    return NULL;
  }
  engines = g_list_prepend (engines, e);
  return e;
}

void
gst_winwin_engine_unref (GstWinwinEngine * e)
{
  gboolean last;
  if (!e)
    return;
  g_mutex_lock (&registry_lock);
  last = --e->refs == 0;
  if (last)
    engines = g_list_remove (engines, e);
  g_mutex_unlock (&registry_lock);
  if (last)
    engine_free (e);
}

void
gst_winwin_engine_lock (GstWinwinEngine * e)
{
  g_mutex_lock (&e->lock);
}

void
gst_winwin_engine_unlock (GstWinwinEngine * e)
{
  g_mutex_unlock (&e->lock);
}

ww_backend *
gst_winwin_engine_backend (GstWinwinEngine * e)
{
  return e->be;
}

const gchar *
gst_winwin_engine_device_name (GstWinwinEngine * e)
{
  return ww_backend_device_name (e->be);
}

ww_model *
gst_winwin_engine_get_model (GstWinwinEngine * e, const gchar * path, GError ** error)
{
  ModelEntry *entry;
  ww_model *m = NULL;

  g_mutex_lock (&e->lock);
  entry = g_hash_table_lookup (e->models, path);
  if (entry) {
    entry->refs++;
    m = entry->model;
  } else if (ww_model_load (e->be, path, &m) == WW_OK) {
    entry = g_new0 (ModelEntry, 1);
    entry->model = m;
    entry->refs = 1;
    g_hash_table_insert (e->models, g_strdup (path), entry);
  } else {
    /* the loader's messages name the file already */
    g_set_error (error, GST_WINWIN_ERROR, 0, "%s", ww_backend_error (e->be));
  }
  g_mutex_unlock (&e->lock);
  return m;
}

void
gst_winwin_engine_release_model (GstWinwinEngine * e, ww_model * model)
{
  GHashTableIter it;
  gpointer key, value;

  g_mutex_lock (&e->lock);
  g_hash_table_iter_init (&it, e->models);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    ModelEntry *entry = value;
    if (entry->model == model && --entry->refs == 0) {
      g_hash_table_iter_remove (&it);
      break;
    }
  }
  g_mutex_unlock (&e->lock);
}

/* ---- Choosing the Vulkan device ---------------------------------------------------------- */

static gint
type_rank (VkPhysicalDeviceType t, gboolean allow_cpu)
{
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return allow_cpu ? 1 : 0;
    default:
      return allow_cpu ? 1 : 0;
  }
}

static void
uuid_hex (const VkPhysicalDeviceProperties * p, gchar out[2 * VK_UUID_SIZE + 1])
{
  for (guint i = 0; i < VK_UUID_SIZE; i++)
    g_snprintf (out + 2 * i, 3, "%02x", p->pipelineCacheUUID[i]);
}

/* The index of the physical device that `what` names ("" = the best by type), or -1. */
static gint
pick_physical (GstVulkanInstance * instance, const gchar * what, gboolean allow_cpu)
{
  gint best = -1, best_rank = 0;
  gchar *end = NULL;
  glong n;

  if (what[0]) {
    n = strtol (what, &end, 10);
    if (end && !*end)
      return n >= 0 && (guint) n < instance->n_physical_devices ? (gint) n : -1;
  }
  for (guint i = 0; i < instance->n_physical_devices; i++) {
    VkPhysicalDeviceProperties p;
    gchar uuid[2 * VK_UUID_SIZE + 1];
    gint rank;

    vkGetPhysicalDeviceProperties (instance->physical_devices[i], &p);
    if (what[0]) {
      gchar *lname = g_ascii_strdown (p.deviceName, -1), *lwhat = g_ascii_strdown (what, -1);
      gboolean match;
      uuid_hex (&p, uuid);
      match = !g_ascii_strcasecmp (uuid, what) || strstr (lname, lwhat) != NULL;
      g_free (lname);
      g_free (lwhat);
      if (match)
        return (gint) i;
      continue;
    }
    rank = type_rank (p.deviceType, allow_cpu);
    if (rank > best_rank) {
      best_rank = rank;
      best = (gint) i;
    }
  }
  return best;
}

static void
post_device_context (GstElement * element, GstVulkanDevice * device)
{
  GstContext *context = gst_context_new (GST_VULKAN_DEVICE_CONTEXT_TYPE_STR, TRUE);
  gst_context_set_vulkan_device (context, device);
  gst_element_set_context (element, context);
  gst_element_post_message (element, gst_message_new_have_context (GST_OBJECT (element),
          context));
}

GstWinwinEngine *
gst_winwin_engine_open (GstElement * element, const gchar * device, gint index,
    GstVulkanInstance ** instance, GstVulkanDevice ** vk_device, GError ** error)
{
  gchar *what = NULL;
  gboolean is_auto, allow_cpu;
  GstWinwinEngine *e = NULL;
  GError *err = NULL;
  gint chosen;

  if (!device || !*device)
    device = "auto";
  if (index >= 0)
    what = g_strdup_printf ("%d", index);
  else if (g_str_has_prefix (device, "vulkan:"))
    what = g_strdup (device + 7);
  else if (!strcmp (device, "vulkan"))
    what = g_strdup ("");
  else if (strcmp (device, "auto") && strcmp (device, "cpu")) {
    g_set_error (error, GST_WINWIN_ERROR, 0, "device '%s' is not one of auto, cpu, vulkan, "
        "vulkan:N, vulkan:UUID, vulkan:NAME", device);
    return NULL;
  }
  is_auto = !what && !strcmp (device, "auto");
  allow_cpu = !is_auto;
  if (!what && !is_auto) {
    /* device=cpu: a Vulkan context the pipeline shares does not apply */
    gst_clear_object (vk_device);
    gst_clear_object (instance);
  }

  if (what || is_auto) {
    if (!gst_vulkan_ensure_element_data (element, NULL, instance) ||
        !gst_vulkan_instance_open (*instance, &err)) {
      if (is_auto) {
        GST_INFO_OBJECT (element, "no Vulkan instance (%s): the CPU backend",
            err ? err->message : "none");
        g_clear_error (&err);
        gst_clear_object (instance);
      } else {
        g_set_error (error, GST_WINWIN_ERROR, 0, "no Vulkan instance for device '%s': %s",
            device, err ? err->message : "gst_vulkan_ensure_element_data failed");
        g_clear_error (&err);
        goto out;
      }
    }
  }
  if (*instance) {
    /* A peer's device wins, as long as it is what auto may use. */
    if (!*vk_device)
      gst_vulkan_device_run_context_query (element, vk_device);
    if (*vk_device) {
      VkPhysicalDeviceType t = (*vk_device)->physical_device->properties.deviceType;
      if (is_auto && !type_rank (t, FALSE)) {
        GST_INFO_OBJECT (element, "the peers' device %s is a CPU driver: not used by auto",
            (*vk_device)->physical_device->properties.deviceName);
        gst_clear_object (vk_device);
      } else if (what && what[0]) {
        chosen = pick_physical (*instance, what, TRUE);
        if (chosen < 0 || (*instance)->physical_devices[chosen] !=
            (*vk_device)->physical_device->device)
          GST_ELEMENT_WARNING (element, RESOURCE, SETTINGS,
              ("Vulkan device '%s' was asked for; the pipeline shares %s, which is used", what,
                  (*vk_device)->physical_device->properties.deviceName), (NULL));
      }
    }
    if (!*vk_device) {
      chosen = pick_physical (*instance, what ? what : "", allow_cpu);
      if (chosen >= 0) {
        *vk_device = gst_vulkan_device_new_with_index (*instance, (guint) chosen);
        if (!gst_vulkan_device_open (*vk_device, &err)) {
          g_set_error (error, GST_WINWIN_ERROR, 0, "cannot open Vulkan device %d: %s", chosen,
              err ? err->message : "unknown error");
          g_clear_error (&err);
          gst_clear_object (vk_device);
          goto out;
        }
        post_device_context (element, *vk_device);
      } else if (!is_auto) {
        g_set_error (error, GST_WINWIN_ERROR, 0, "no Vulkan device matches '%s' (%u devices)",
            what, (*instance)->n_physical_devices);
        goto out;
      }
    }
  }
  if (!*vk_device)
    gst_clear_object (instance);
  g_mutex_lock (&registry_lock);
  e = engine_for (*vk_device, error);
  g_mutex_unlock (&registry_lock);
  if (e)
    GST_INFO_OBJECT (element, "running on %s", ww_backend_device_name (e->be));
out:
  g_free (what);
  return e;
}
