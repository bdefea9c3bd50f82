/* The GStreamer elements winwinflow, winwindepth and winwinseg (gst-plugin/) through GstCheck
 * and GstHarness: caps, modes, the result meta (winwinmeta.h, read the way applications read
 * it), the flow's reset rules, mid-stream changes of caps and properties, EOS and flushes, model
 * errors and swaps, QoS, latency, memory over a long run and, where a Vulkan device exists,
 * device sharing and Vulkan memory input.
 *
 * Each test is one GstCheck test in a test case of its own name, run in a child process (check's
 * default fork mode) so that a crash stops only that test. Tests run on the CPU backend
 * (device=cpu) unless they are about Vulkan, on small frames, so that the whole program takes
 * well under three minutes on two cores. Run uninstalled with GST_PLUGIN_PATH_1_0 pointing at
 * the build's gst-plugin folder (tests/meson.build sets it); GST_CHECKS=test_name selects tests.
 *
 * Output like the other test programs (tests/test_util.h): "ok NAME", "FAIL NAME: where: why",
 * "skip NAME: reason", then "N passed, N failed, N skipped". A skipped test reports its name
 * through a pipe to the parent, since it runs in a child. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/vulkan/vulkan.h>
#include <glib/gstdio.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "winwinmeta.h"

#define W 64
#define H 48
#define FRAME_NS (GST_SECOND / 30)

static int skip_fd = -1;

/* ---- Helpers ------------------------------------------------------------------------------ */

static void
report_skip (const gchar * test, const gchar * why)
{
  gchar *line = g_strdup_printf ("%s\n", test);
  g_print ("skip %s: %s\n", test, why);
  if (skip_fd >= 0 && write (skip_fd, line, strlen (line)) < 0)
    g_printerr ("cannot report the skip of %s\n", test);
  g_free (line);
}

static gchar *
model_path (const gchar * task)
{
  return g_build_filename (WW_SOURCE_ROOT, "models", task, "model.safetensors", NULL);
}

/* An element with properties from "name=value name=value" (gst_util_set_object_arg). */
static GstElement *
make_element (const gchar * factory, const gchar * props)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  gchar **kv;

  fail_unless (e != NULL, "no element %s (is GST_PLUGIN_PATH_1_0 the build's gst-plugin?)",
      factory);
  kv = g_strsplit (props ? props : "", " ", -1);
  for (gchar ** p = kv; *p; p++) {
    gchar *eq = strchr (*p, '=');
    if (!**p)
      continue;
    fail_unless (eq != NULL, "bad property '%s'", *p);
    *eq = 0;
    gst_util_set_object_arg (G_OBJECT (e), *p, eq + 1);
  }
  g_strfreev (kv);
  return e;
}

/* A harness around e (which it takes); bus, when given, is set on e first. The element is
 * PLAYING when this returns. */
static GstHarness *
harness_for (GstElement * e, GstBus * bus)
{
  GstHarness *h;
  if (bus)
    gst_element_set_bus (e, bus);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  return h;
}

static GstHarness *
harness_new (const gchar * factory, const gchar * props)
{
  return harness_for (make_element (factory, props), NULL);
}

/* Set the harness's input caps to format at w x h, 30 fps; returns them (owned by caller). */
static GstCaps *
set_caps (GstHarness * h, GstVideoInfo * info, GstVideoFormat format, guint w, guint hh)
{
  GstCaps *caps;
  fail_unless (gst_video_info_set_format (info, format, w, hh));
  GST_VIDEO_INFO_FPS_N (info) = 30;
  GST_VIDEO_INFO_FPS_D (info) = 1;
  caps = gst_video_info_to_caps (info);
  gst_harness_set_src_caps (h, gst_caps_ref (caps));
  return caps;
}

/* A textured test picture; seed moves the texture right by seed pixels. */
static guint8
texel (guint x, guint y, guint c, guint seed)
{
  gdouble xs = (gdouble) x - seed;
  gdouble v = 128 + 80 * sin (xs * 0.35 + c * 1.7) * cos (y * 0.27 + c) +
      ((((gint) floor (xs / 8) ^ (gint) (y / 8)) & 1) ? 35 : -35);
  return (guint8) CLAMP (v, 0, 255);
}

static GstBuffer *
make_frame (const GstVideoInfo * info, guint seed, GstClockTime pts)
{
  GstBuffer *buf = gst_buffer_new_and_alloc (GST_VIDEO_INFO_SIZE (info));
  GstVideoFrame f;
  guint fw = GST_VIDEO_INFO_WIDTH (info), fh = GST_VIDEO_INFO_HEIGHT (info);

  gst_buffer_memset (buf, 0, 0x80, GST_VIDEO_INFO_SIZE (info));
  fail_unless (gst_video_frame_map (&f, (GstVideoInfo *) info, buf, GST_MAP_WRITE));
  for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (&f); c++) {
    guint cw = GST_VIDEO_FRAME_COMP_WIDTH (&f, c), ch = GST_VIDEO_FRAME_COMP_HEIGHT (&f, c);
    gint ps = GST_VIDEO_FRAME_COMP_PSTRIDE (&f, c), st = GST_VIDEO_FRAME_COMP_STRIDE (&f, c);
    guint8 *d = GST_VIDEO_FRAME_COMP_DATA (&f, c);
    gboolean alpha = GST_VIDEO_INFO_HAS_ALPHA (info) && c == GST_VIDEO_COMP_A;
    for (guint y = 0; y < ch; y++)
      for (guint x = 0; x < cw; x++)
        d[(gsize) y * st + (gsize) x * ps] = alpha ? 255 : texel (x * fw / cw, y * fh / ch, c,
            seed);
  }
  gst_video_frame_unmap (&f);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = FRAME_NS;
  return buf;
}

/* Push a frame and return what came out (NULL: nothing, e.g. dropped). *input, when given,
 * receives a copy of the input bytes (freed by the caller). */
static GstBuffer *
push_frame_full (GstHarness * h, const GstVideoInfo * info, guint seed, GstClockTime pts,
    gboolean discont, guint8 ** input)
{
  GstBuffer *in = make_frame (info, seed, pts);
  GstFlowReturn ret;
  if (discont)
    GST_BUFFER_FLAG_SET (in, GST_BUFFER_FLAG_DISCONT);
  if (input) {
    gsize n;
    gst_buffer_extract_dup (in, 0, gst_buffer_get_size (in), (gpointer *) input, &n);
  }
  ret = gst_harness_push (h, in);
  fail_unless_equals_int (ret, GST_FLOW_OK);
  return gst_harness_try_pull (h);
}

static GstBuffer *
push_frame (GstHarness * h, const GstVideoInfo * info, guint i)
{
  GstBuffer *out = push_frame_full (h, info, i, i * FRAME_NS, FALSE, NULL);
  fail_unless (out != NULL, "no output for frame %u", i);
  return out;
}

/* The buffer's winwin result, whichever element made it (the tests run one element). */
static gboolean
any_result (GstBuffer * buf, GstWinwinResult * r)
{
  for (int t = GST_WINWIN_TASK_FLOW; t <= GST_WINWIN_TASK_SEG; t++)
    if (gst_winwin_meta_get_result (buf, (GstWinwinTask) t, r))
      return TRUE;
  return FALSE;
}

static void
get_result (GstBuffer * buf, GstWinwinResult * r)
{
  fail_unless (any_result (buf, r), "no (well-formed) winwin meta on the buffer");
}

static gboolean
same_bytes (GstBuffer * buf, const guint8 * data, gsize size)
{
  return gst_buffer_get_size (buf) == size && gst_buffer_memcmp (buf, 0, data, size) == 0;
}

static void
check_caps_equal (GstHarness * h, GstCaps * want)
{
  GstCaps *got = gst_pad_get_current_caps (h->sinkpad);
  gchar *a, *b;
  fail_unless (got != NULL, "no output caps");
  a = gst_caps_to_string (got);
  b = gst_caps_to_string (want);
  fail_unless (gst_caps_is_equal (got, want), "output caps %s, input caps %s", a, b);
  g_free (a);
  g_free (b);
  gst_caps_unref (got);
}

static GstStructure *
get_stats (GstElement * e)
{
  GstStructure *s = NULL;
  g_object_get (e, "stats", &s, NULL);
  fail_unless (s != NULL && gst_structure_has_name (s, "winwin-stats"));
  return s;
}

static guint64
stat_u64 (GstElement * e, const gchar * field)
{
  GstStructure *s = get_stats (e);
  guint64 v = 0;
  fail_unless (gst_structure_get_uint64 (s, field, &v), "stats have no %s", field);
  gst_structure_free (s);
  return v;
}

/* The first message of type on bus from src (any when src is NULL); NULL if none. */
static GstMessage *
pop_message (GstBus * bus, GstMessageType type, GstObject * src)
{
  GstMessage *m;
  while ((m = gst_bus_pop_filtered (bus, type))) {
    if (!src || GST_MESSAGE_SRC (m) == src)
      return m;
    gst_message_unref (m);
  }
  return NULL;
}

/* The element message "winwin-model" from bus, or NULL. */
static GstMessage *
pop_model_message (GstBus * bus)
{
  GstMessage *m;
  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    if (gst_message_has_name (m, "winwin-model"))
      return m;
    gst_message_unref (m);
  }
  return NULL;
}

static void
drop_bus (GstElement * e, GstBus * bus)
{
  gst_bus_set_flushing (bus, TRUE);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
}

/* Winwin metas on buf by task (a buffer through two elements carries two). */
static guint
count_metas (GstBuffer * buf, guint per_task[3], guint valid_per_task[3])
{
  gpointer state = NULL;
  GstMeta *m;
  guint n = 0;
  for (guint i = 0; i < 3; i++)
    per_task[i] = valid_per_task[i] = 0;
  while ((m = gst_buffer_iterate_meta (buf, &state))) {
    const GstStructure *s;
    guint task = 99;
    gboolean valid = FALSE;
    if (!gst_meta_info_is_custom (m->info) ||
        !gst_custom_meta_has_name ((GstCustomMeta *) m, GST_WINWIN_META_NAME))
      continue;
    s = gst_custom_meta_get_structure ((GstCustomMeta *) m);
    n++;
    if (gst_structure_get_uint (s, "task", &task) && task < 3) {
      per_task[task]++;
      if (gst_structure_get_boolean (s, "valid", &valid) && valid)
        valid_per_task[task]++;
    }
  }
  return n;
}

static void
read_rgb (const GstVideoFrame * f, guint x, guint y, guint8 rgb[3])
{
  for (guint c = 0; c < 3; c++)
    rgb[c] = *((const guint8 *) GST_VIDEO_FRAME_COMP_DATA (f, c) +
        (gsize) y * GST_VIDEO_FRAME_COMP_STRIDE (f, c) +
        (gsize) x * GST_VIDEO_FRAME_COMP_PSTRIDE (f, c));
}

/* The least frequent class present on a seg result (so that both it and others have pixels);
 * fails unless at least two classes are present. */
static guint
rare_class (const GstWinwinResult * r)
{
  guint count[256] = { 0 }, pick = 256, present = 0;
  for (guint i = 0; i < r->width * r->height; i++)
    count[r->labels[i]]++;
  for (guint i = 0; i < 255; i++)
    if (count[i]) {
      present++;
      if (pick == 256 || count[i] < count[pick])
        pick = i;
    }
  fail_unless (present >= 2, "one class covers the whole test frame");
  return pick;
}

/* The memory the process holds. Under AddressSanitizer, RSS also counts the quarantine of
 * freed blocks (up to 256 MB), which fills over a long run whatever the code does and made the
 * RSS check fail by chance; there the live heap that ASan tracks is the honest measure. */
#if defined(__SANITIZE_ADDRESS__)
#define WW_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WW_TEST_UNDER_ASAN 1
#endif
#endif

#ifdef WW_TEST_UNDER_ASAN
/* From libasan; GCC ships no header for it (Clang's sanitizer/allocator_interface.h). */
size_t __sanitizer_get_current_allocated_bytes (void);
#define MEMORY_MEASURE "live heap"
static gsize
memory_in_use (void)
{
  return __sanitizer_get_current_allocated_bytes ();
}
#else
#define MEMORY_MEASURE "RSS"
static gsize
memory_in_use (void)
{
  gchar *text = NULL;
  unsigned long size = 0, resident = 0;
  if (g_file_get_contents ("/proc/self/statm", &text, NULL, NULL))
    sscanf (text, "%lu %lu", &size, &resident);
  g_free (text);
  return (gsize) resident * (gsize) sysconf (_SC_PAGESIZE);
}
#endif

static gboolean
vulkan_available (gchar ** why)
{
  GstVulkanInstance *inst = gst_vulkan_instance_new ();
  GError *err = NULL;
  gboolean ok = gst_vulkan_instance_open (inst, &err);
  if (!ok)
    *why = g_strdup_printf ("no Vulkan instance: %s", err ? err->message : "unknown error");
  else if (inst->n_physical_devices == 0) {
    ok = FALSE;
    *why = g_strdup ("no Vulkan physical device");
  }
  g_clear_error (&err);
  gst_object_unref (inst);
  return ok;
}

/* Run pipeline to EOS (or ERROR, which fails the test) within timeout_s. */
static void
run_to_eos (GstElement * pipeline, guint timeout_s)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *m;
  GstStateChangeReturn ret = gst_element_set_state (pipeline, GST_STATE_PLAYING);

  fail_if (ret == GST_STATE_CHANGE_FAILURE, "the pipeline does not start");
  m = gst_bus_timed_pop_filtered (bus, timeout_s * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (m != NULL, "no EOS within %u s", timeout_s);
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error (m, &err, &dbg);
    fail ("error from %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), err->message,
        dbg ? dbg : "");
  }
  gst_message_unref (m);
  gst_object_unref (bus);
}

static const GstVideoFormat all_formats[] = {
  GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRA, GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx,
  GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_I420,
};

static const gchar *const elements[] = { "winwinflow", "winwindepth", "winwinseg" };

/* ---- Caps --------------------------------------------------------------------------------- */

/* Every input format in meta, overlay and visualize: output caps equal the input caps, the
 * output has the input's size, and the meta is there (the second flow frame valid). */
GST_START_TEST (test_caps_formats_flow)
{
  static const gchar *const modes[] = { "meta", "overlay", "visualize" };
  for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++)
    for (guint m = 0; m < G_N_ELEMENTS (modes); m++) {
      gchar *props = g_strdup_printf ("device=cpu mode=%s", modes[m]);
      GstHarness *h = harness_new ("winwinflow", props);
      GstVideoInfo info;
      GstCaps *caps = set_caps (h, &info, all_formats[f], W, H);
      for (guint i = 0; i < 2; i++) {
        GstBuffer *out = push_frame (h, &info, i);
        GstWinwinResult r;
        get_result (out, &r);
        fail_unless_equals_int (gst_buffer_get_size (out), GST_VIDEO_INFO_SIZE (&info));
        fail_unless_equals_int (r.frame_width, W);
        fail_unless_equals_int (r.frame_height, H);
        fail_unless_equals_int (r.valid, i == 1);
        gst_buffer_unref (out);
      }
      check_caps_equal (h, caps);
      gst_caps_unref (caps);
      gst_harness_teardown (h);
      g_free (props);
    }
}

GST_END_TEST;

GST_START_TEST (test_caps_formats_depth_seg)
{
  static const GstVideoFormat some[] = { GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRx,
    GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_I420
  };
  for (guint e = 1; e < 3; e++)
    for (guint f = 0; f < G_N_ELEMENTS (some); f++) {
      GstHarness *h = harness_new (elements[e], "device=cpu mode=overlay");
      GstVideoInfo info;
      GstCaps *caps = set_caps (h, &info, some[f], W, H);
      guint8 *in = NULL;
      GstBuffer *out = push_frame_full (h, &info, 0, 0, FALSE, &in);
      GstWinwinResult r;
      fail_unless (out != NULL);
      get_result (out, &r);
      fail_unless (r.valid);
      fail_unless_equals_int (r.frame_width, W);
      fail_if (same_bytes (out, in, GST_VIDEO_INFO_SIZE (&info)),
          "%s overlay on %s left the frame as it was", elements[e],
          gst_video_format_to_string (some[f]));
      check_caps_equal (h, caps);
      g_free (in);
      gst_buffer_unref (out);
      gst_caps_unref (caps);
      gst_harness_teardown (h);
    }
}

GST_END_TEST;

/* The sink pad takes the 8 formats in system and Vulkan memory, and nothing else. */
GST_START_TEST (test_caps_accept)
{
  for (guint e = 0; e < 3; e++) {
    GstElement *el = make_element (elements[e], NULL);
    GstPad *sink = gst_element_get_static_pad (el, "sink");
    for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++) {
      const gchar *fmt = gst_video_format_to_string (all_formats[f]);
      gchar *sys = g_strdup_printf ("video/x-raw,format=%s,width=64,height=48,framerate=30/1",
          fmt);
      gchar *vk = g_strdup_printf ("video/x-raw(memory:VulkanBuffer),format=%s,width=64,"
          "height=48,framerate=30/1", fmt);
      GstCaps *a = gst_caps_from_string (sys), *b = gst_caps_from_string (vk);
      fail_unless (gst_pad_query_accept_caps (sink, a), "%s refuses %s", elements[e], sys);
      fail_unless (gst_pad_query_accept_caps (sink, b), "%s refuses %s", elements[e], vk);
      gst_caps_unref (a);
      gst_caps_unref (b);
      g_free (sys);
      g_free (vk);
    }
    {
      GstCaps *gray = gst_caps_from_string ("video/x-raw,format=GRAY8,width=64,height=48");
      GstCaps *yuy2 = gst_caps_from_string ("video/x-raw,format=YUY2,width=64,height=48");
      fail_if (gst_pad_query_accept_caps (sink, gray), "%s accepts GRAY8", elements[e]);
      fail_if (gst_pad_query_accept_caps (sink, yuy2), "%s accepts YUY2", elements[e]);
      gst_caps_unref (gray);
      gst_caps_unref (yuy2);
    }
    gst_object_unref (sink);
    gst_object_unref (el);
  }
}

GST_END_TEST;

/* mode=raw: the frame's size in GRAY16_LE (depth, seg) or RGBA64_LE (flow), system memory. */
GST_START_TEST (test_caps_raw)
{
  static const GstVideoFormat raw[] = { GST_VIDEO_FORMAT_RGBA64_LE, GST_VIDEO_FORMAT_GRAY16_LE,
    GST_VIDEO_FORMAT_GRAY16_LE
  };
  static const struct {
    GstVideoFormat f;
    guint w, h;
  } inputs[] = { {GST_VIDEO_FORMAT_RGBA, W, H}, {GST_VIDEO_FORMAT_NV12, 33, 17} };
  for (guint e = 0; e < 3; e++)
    for (guint k = 0; k < G_N_ELEMENTS (inputs); k++) {
      GstHarness *h = harness_new (elements[e], "device=cpu mode=raw");
      GstVideoInfo info, out_info;
      GstCaps *caps = set_caps (h, &info, inputs[k].f, inputs[k].w, inputs[k].h), *oc;
      GstBuffer *out = push_frame (h, &info, 0);
      GstWinwinResult r;
      gint fn = 0, fd = 0;

      oc = gst_pad_get_current_caps (h->sinkpad);
      fail_unless (oc != NULL);
      fail_unless (gst_video_info_from_caps (&out_info, oc));
      fail_unless_equals_string (gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&out_info)),
          gst_video_format_to_string (raw[e]));
      fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&out_info), inputs[k].w);
      fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&out_info), inputs[k].h);
      fail_unless (gst_structure_get_fraction (gst_caps_get_structure (oc, 0), "framerate", &fn,
              &fd));
      fail_unless (fn == 30 && fd == 1, "framerate %d/%d", fn, fd);
      fail_unless (gst_caps_features_is_equal (gst_caps_get_features (oc, 0),
              GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY));
      fail_unless_equals_int (gst_buffer_get_size (out), GST_VIDEO_INFO_SIZE (&out_info));
      get_result (out, &r);
      fail_unless_equals_int (r.frame_width, inputs[k].w);
      gst_buffer_unref (out);
      gst_caps_unref (oc);
      gst_caps_unref (caps);
      gst_harness_teardown (h);
    }
}

GST_END_TEST;

/* ---- Sizes -------------------------------------------------------------------------------- */

GST_START_TEST (test_odd_sizes)
{
  static const struct {
    GstVideoFormat f;
    guint w, h;
  } cases[] = {
    {GST_VIDEO_FORMAT_RGBA, 33, 17}, {GST_VIDEO_FORMAT_NV12, 33, 17},
    {GST_VIDEO_FORMAT_I420, 33, 17}, {GST_VIDEO_FORMAT_RGB, 1, 1}, {GST_VIDEO_FORMAT_NV12, 1, 1},
  };
  for (guint e = 0; e < 3; e++)
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
      GstHarness *h = harness_new (elements[e], "device=cpu mode=overlay");
      GstVideoInfo info;
      GstCaps *caps = set_caps (h, &info, cases[k].f, cases[k].w, cases[k].h);
      for (guint i = 0; i < 2; i++) {
        GstBuffer *out = push_frame (h, &info, i);
        GstWinwinResult r;
        get_result (out, &r);
        fail_unless_equals_int (gst_buffer_get_size (out), GST_VIDEO_INFO_SIZE (&info));
        fail_unless (r.valid == (e != 0 || i == 1), "%s %ux%u frame %u: valid %d", elements[e],
            cases[k].w, cases[k].h, i, r.valid);
        fail_unless (r.frame_width == cases[k].w && r.frame_height == cases[k].h);
        if (r.valid)
          fail_unless (r.width == cases[k].w && r.height == cases[k].h,
              "%s on %ux%u %s: a %ux%u map", elements[e], cases[k].w, cases[k].h,
              gst_video_format_to_string (cases[k].f), r.width, r.height);
        gst_buffer_unref (out);
      }
      check_caps_equal (h, caps);
      gst_caps_unref (caps);
      gst_harness_teardown (h);
    }
}

GST_END_TEST;

/* inference-width/-height: the model runs at 32x24 on 64x48 frames; the map is 32x24 and
 * covers the 64x48 frame, and the outputs keep the frame's size. */
GST_START_TEST (test_inference_size)
{
  for (guint e = 0; e < 3; e++) {
    GstHarness *h = harness_new (elements[e],
        "device=cpu mode=overlay inference-width=32 inference-height=24");
    GstVideoInfo info;
    GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
    for (guint i = 0; i < 2; i++) {
      GstBuffer *out = push_frame (h, &info, i);
      GstWinwinResult r;
      get_result (out, &r);
      fail_unless_equals_int (gst_buffer_get_size (out), GST_VIDEO_INFO_SIZE (&info));
      fail_unless (r.frame_width == W && r.frame_height == H);
      if (e == 0 && i == 0) {
        fail_if (r.valid);
      } else {
        fail_unless (r.valid);
        fail_unless (r.width == 32 && r.height == 24, "%s: a %ux%u map", elements[e], r.width,
            r.height);
        fail_unless (e == 2 ? r.labels != NULL : r.data != NULL);
      }
      gst_buffer_unref (out);
    }
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* ---- Modes -------------------------------------------------------------------------------- */

/* mode=meta leaves every byte of the frame as it was (and still attaches the meta). */
GST_START_TEST (test_mode_meta_identical)
{
  static const GstVideoFormat fmts[] = { GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_NV12 };
  for (guint e = 0; e < 3; e++)
    for (guint f = 0; f < G_N_ELEMENTS (fmts); f++) {
      GstHarness *h = harness_new (elements[e], "device=cpu");
      GstVideoInfo info;
      GstCaps *caps = set_caps (h, &info, fmts[f], W, H);
      for (guint i = 0; i < 2; i++) {
        guint8 *in = NULL;
        GstBuffer *out = push_frame_full (h, &info, i, i * FRAME_NS, FALSE, &in);
        GstWinwinResult r;
        fail_unless (out != NULL);
        fail_unless (same_bytes (out, in, GST_VIDEO_INFO_SIZE (&info)),
            "%s mode=meta changed the pixels", elements[e]);
        get_result (out, &r);
        fail_unless_equals_int (r.valid, e != 0 || i == 1);
        g_free (in);
        gst_buffer_unref (out);
      }
      gst_caps_unref (caps);
      gst_harness_teardown (h);
    }
}

GST_END_TEST;

/* mode=overlay: alpha=0 leaves the frame as it was, alpha=1 paints the picture (the same as
 * mode=visualize), 0.5 lies between the two; alpha changes while playing. */
GST_START_TEST (test_mode_overlay_alpha)
{
  GstHarness *h = harness_new ("winwindepth", "device=cpu mode=overlay alpha=0");
  GstHarness *v = harness_new ("winwindepth", "device=cpu mode=visualize");
  GstVideoInfo info;
  GstCaps *c1 = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  GstCaps *c2 = set_caps (v, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  GstBuffer *vis[3];
  GstBuffer *out;
  guint8 *in = NULL;
  GstVideoFrame fo, fv;
  guint between = 0;

  for (guint i = 0; i < 3; i++)
    vis[i] = push_frame (v, &info, i);

  /* alpha 0 */
  out = push_frame_full (h, &info, 0, 0, FALSE, &in);
  fail_unless (out != NULL);
  fail_unless (same_bytes (out, in, GST_VIDEO_INFO_SIZE (&info)),
      "overlay with alpha=0 changed the frame");
  gst_buffer_unref (out);
  g_free (in);

  /* alpha 1, set while playing */
  g_object_set (h->element, "alpha", 1.0, NULL);
  out = push_frame_full (h, &info, 1, FRAME_NS, FALSE, &in);
  fail_unless (out != NULL);
  fail_if (same_bytes (out, in, GST_VIDEO_INFO_SIZE (&info)),
      "overlay with alpha=1 left the frame as it was");
  fail_unless (gst_video_frame_map (&fo, &info, out, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&fv, &info, vis[1], GST_MAP_READ));
  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++) {
      guint8 a[3], b[3];
      read_rgb (&fo, x, y, a);
      read_rgb (&fv, x, y, b);
      for (guint c = 0; c < 3; c++)
        fail_unless (abs (a[c] - b[c]) <= 1, "overlay alpha=1 differs from visualize at "
            "(%u, %u)", x, y);
    }
  gst_video_frame_unmap (&fo);
  gst_video_frame_unmap (&fv);
  gst_buffer_unref (out);
  g_free (in);

  /* alpha 0.5: each channel between the frame and the picture */
  g_object_set (h->element, "alpha", 0.5, NULL);
  out = push_frame_full (h, &info, 2, 2 * FRAME_NS, FALSE, &in);
  fail_unless (out != NULL);
  fail_unless (gst_video_frame_map (&fo, &info, out, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&fv, &info, vis[2], GST_MAP_READ));
  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++) {
      guint8 a[3], b[3];
      const guint8 *src = in + (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) + 4 * x;
      read_rgb (&fo, x, y, a);
      read_rgb (&fv, x, y, b);
      for (guint c = 0; c < 3; c++) {
        gint lo = MIN (src[c], b[c]) - 1, hi = MAX (src[c], b[c]) + 1;
        fail_unless (a[c] >= lo && a[c] <= hi, "alpha=0.5 at (%u, %u): %u not between %u and "
            "%u", x, y, a[c], src[c], b[c]);
        between += a[c] != src[c] && a[c] != b[c];
      }
    }
  fail_unless (between > 0, "alpha=0.5 gave either the frame or the picture everywhere");
  gst_video_frame_unmap (&fo);
  gst_video_frame_unmap (&fv);
  gst_buffer_unref (out);
  g_free (in);

  for (guint i = 0; i < 3; i++)
    gst_buffer_unref (vis[i]);
  gst_caps_unref (c1);
  gst_caps_unref (c2);
  gst_harness_teardown (h);
  gst_harness_teardown (v);
}

GST_END_TEST;

/* mode=overlay with a downstream that blends overlay compositions itself (it proposes
 * GstVideoOverlayCompositionMeta in the allocation query, as video sinks do): the frame stays
 * untouched and carries the picture as a composition over the whole frame, which, blended,
 * gives what the element would have blended. */
GST_START_TEST (test_mode_overlay_composition)
{
  GstHarness *h = harness_new ("winwindepth", "device=cpu mode=overlay alpha=0.5");
  GstHarness *plain = harness_new ("winwindepth", "device=cpu mode=overlay alpha=0.5");
  GstVideoInfo info;
  GstCaps *c1, *c2;
  GstBuffer *out, *ref, *blended;
  GstVideoOverlayCompositionMeta *cm;
  GstVideoOverlayRectangle *rect;
  GstVideoFrame fb, fr;
  guint8 *in = NULL;
  gint rx, ry;
  guint rw, rh;

  gst_harness_add_propose_allocation_meta (h, GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE,
      NULL);
  c1 = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  c2 = set_caps (plain, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  out = push_frame_full (h, &info, 0, 0, FALSE, &in);
  ref = push_frame (plain, &info, 0);
  fail_unless (out != NULL);
  cm = gst_buffer_get_video_overlay_composition_meta (out);
  fail_unless (cm != NULL, "downstream composes, but the frame has no overlay composition");
  fail_unless (same_bytes (out, in, GST_VIDEO_INFO_SIZE (&info)),
      "downstream composes, but the element blended the frame itself");
  fail_unless_equals_int (gst_video_overlay_composition_n_rectangles (cm->overlay), 1);
  rect = gst_video_overlay_composition_get_rectangle (cm->overlay, 0);
  fail_unless (gst_video_overlay_rectangle_get_render_rectangle (rect, &rx, &ry, &rw, &rh));
  fail_unless (rx == 0 && ry == 0 && rw == W && rh == H, "composition at %d,%d %ux%u", rx, ry,
      rw, rh);

  blended = gst_buffer_copy_deep (out);
  fail_unless (gst_video_frame_map (&fb, &info, blended, GST_MAP_READWRITE));
  fail_unless (gst_video_overlay_composition_blend (cm->overlay, &fb));
  fail_unless (gst_video_frame_map (&fr, &info, ref, GST_MAP_READ));
  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++) {
      guint8 a[3], b[3];
      read_rgb (&fb, x, y, a);
      read_rgb (&fr, x, y, b);
      for (guint c = 0; c < 3; c++)
        fail_unless (abs (a[c] - b[c]) <= 3, "blended composition (%u, %u, %u) vs the "
            "element's blend (%u, %u, %u) at (%u, %u)", a[0], a[1], a[2], b[0], b[1], b[2],
            x, y);
    }
  gst_video_frame_unmap (&fb);
  gst_video_frame_unmap (&fr);
  gst_buffer_unref (blended);
  gst_buffer_unref (out);
  gst_buffer_unref (ref);
  g_free (in);
  gst_caps_unref (c1);
  gst_caps_unref (c2);
  gst_harness_teardown (h);
  gst_harness_teardown (plain);
}

GST_END_TEST;

/* mode=visualize replaces the frame with the result's picture: for seg every pixel of a class
 * has that class's colour; flow's first frame (no result yet) is black; flow overlay changes the
 * second frame. */
GST_START_TEST (test_mode_visualize)
{
  GstVideoInfo info;
  GstCaps *caps;
  GstBuffer *out;
  GstWinwinResult r;
  guint8 *in = NULL;
  GstVideoFrame f;

  /* seg */
  {
    GstHarness *h = harness_new ("winwinseg", "device=cpu mode=visualize");
    guint8 colour[256][3];
    gboolean seen[256] = { FALSE };
    guint classes = 0;
    caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
    out = push_frame_full (h, &info, 0, 0, FALSE, &in);
    fail_unless (out != NULL);
    fail_if (same_bytes (out, in, GST_VIDEO_INFO_SIZE (&info)));
    get_result (out, &r);
    fail_unless (r.valid && r.width == W && r.height == H);
    fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
    for (guint y = 0; y < H; y++)
      for (guint x = 0; x < W; x++) {
        guint l = r.labels[gst_winwin_result_index (&r, x, y)];
        guint8 rgb[3];
        read_rgb (&f, x, y, rgb);
        if (!seen[l]) {
          seen[l] = TRUE;
          memcpy (colour[l], rgb, 3);
          classes++;
        } else {
          fail_unless (memcmp (colour[l], rgb, 3) == 0, "class %u has two colours", l);
        }
      }
    g_print ("  seg visualize: %u classes on the test frame\n", classes);
    gst_video_frame_unmap (&f);
    gst_buffer_unref (out);
    g_free (in);
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }

  /* depth */
  {
    GstHarness *h = harness_new ("winwindepth", "device=cpu mode=visualize");
    caps = set_caps (h, &info, GST_VIDEO_FORMAT_I420, W, H);
    out = push_frame_full (h, &info, 0, 0, FALSE, &in);
    fail_unless (out != NULL);
    fail_if (same_bytes (out, in, GST_VIDEO_INFO_SIZE (&info)));
    gst_buffer_unref (out);
    g_free (in);
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }

  /* flow: black, then the picture */
  for (guint m = 0; m < 2; m++) {
    GstHarness *h = harness_new ("winwinflow", m ? "device=cpu mode=overlay alpha=1" :
        "device=cpu mode=visualize");
    caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
    out = push_frame_full (h, &info, 0, 0, FALSE, &in);
    fail_unless (out != NULL);
    if (m == 0) {
      fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
      for (guint y = 0; y < H; y++)
        for (guint x = 0; x < W; x++) {
          guint8 rgb[3];
          read_rgb (&f, x, y, rgb);
          fail_unless (!rgb[0] && !rgb[1] && !rgb[2], "first flow frame not black at (%u, %u)",
              x, y);
        }
      gst_video_frame_unmap (&f);
    } else {
      fail_unless (same_bytes (out, in, GST_VIDEO_INFO_SIZE (&info)),
          "flow overlay changed the first frame, which has no flow");
    }
    gst_buffer_unref (out);
    g_free (in);
    out = push_frame_full (h, &info, 1, FRAME_NS, FALSE, &in);
    fail_unless (out != NULL);
    fail_if (same_bytes (out, in, GST_VIDEO_INFO_SIZE (&info)),
        "flow %s left the second frame as it was", m ? "overlay" : "visualize");
    gst_buffer_unref (out);
    g_free (in);
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* mode=raw agrees with the meta on the same buffer: depth mm = round(1000 / inverse depth),
 * seg ids = labels, flow KITTI R, G = 64 u, 64 v + 32768 with B = 1 (0 on the first frame). */
GST_START_TEST (test_mode_raw_values)
{
  for (guint e = 0; e < 3; e++) {
    GstHarness *h = harness_new (elements[e], "device=cpu mode=raw");
    GstVideoInfo info, oinfo;
    GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H), *oc;
    for (guint i = 0; i < (e == 0 ? 2u : 1u); i++) {
      GstBuffer *out = push_frame (h, &info, i);
      GstVideoFrame f;
      GstWinwinResult r;
      guint checked = 0;

      oc = gst_pad_get_current_caps (h->sinkpad);
      fail_unless (gst_video_info_from_caps (&oinfo, oc));
      gst_caps_unref (oc);
      get_result (out, &r);
      fail_unless (gst_video_frame_map (&f, &oinfo, out, GST_MAP_READ));
      for (guint y = 0; y < H; y++) {
        const guint16 *row = (const guint16 *) ((const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f,
                0) + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0));
        for (guint x = 0; x < W; x++) {
          if (e == 0) {
            const guint16 *px = row + 4 * x;
            gfloat u, v;
            fail_unless_equals_int (GUINT16_FROM_LE (px[3]), 65535);
            if (!r.valid) {
              fail_unless (GUINT16_FROM_LE (px[2]) == 0, "B = %u without flow",
                  GUINT16_FROM_LE (px[2]));
              continue;
            }
            fail_unless (gst_winwin_result_flow_at (&r, x, y, &u, &v));
            fail_unless_equals_int (GUINT16_FROM_LE (px[2]), 1);
            fail_unless (abs ((gint) GUINT16_FROM_LE (px[0]) - (gint) lround (64.0 * u +
                        32768)) <= 1, "R %u for u %g at (%u, %u)", GUINT16_FROM_LE (px[0]), u,
                x, y);
            fail_unless (abs ((gint) GUINT16_FROM_LE (px[1]) - (gint) lround (64.0 * v +
                        32768)) <= 1, "G %u for v %g at (%u, %u)", GUINT16_FROM_LE (px[1]), v,
                x, y);
            checked++;
          } else if (e == 1) {
            gfloat inv = r.data[gst_winwin_result_index (&r, x, y)];
            guint mm = GUINT16_FROM_LE (row[x]);
            if (inv > 0 && isfinite (inv)) {
              glong want = MIN (lround (1000.0 / inv), 65535);
              fail_unless (labs ((glong) mm - want) <= 1, "depth %u mm for inverse depth %g at "
                  "(%u, %u)", mm, inv, x, y);
              checked++;
            } else {
              fail_unless (mm == 0, "depth %u mm for inverse depth %g", mm, inv);
            }
          } else {
            fail_unless_equals_int (GUINT16_FROM_LE (row[x]), gst_winwin_result_class_at (&r, x,
                    y));
            checked++;
          }
        }
      }
      gst_video_frame_unmap (&f);
      fail_unless (!r.valid || checked > 0);
      gst_buffer_unref (out);
    }
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* winwinseg class-filter (by name, set while playing): with alpha=1, pixels of other classes
 * keep the frame's colours and pixels of the class take one colour. */
GST_START_TEST (test_seg_class_filter)
{
  GstHarness *h = harness_new ("winwinseg", "device=cpu mode=overlay alpha=1");
  GstVideoInfo info;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  GstBuffer *out = push_frame (h, &info, 0);
  GstWinwinResult r;
  guint best, kept = 0, painted = 0;
  gchar **names;
  guint8 *in = NULL, colour[3];
  gboolean have_colour = FALSE;
  GstVideoFrame f;

  get_result (out, &r);
  fail_unless (r.valid && r.classes);
  best = rare_class (&r);
  names = g_strsplit (r.classes, ",", -1);
  fail_unless (best < g_strv_length (names));
  g_object_set (h->element, "class-filter", names[best], NULL);
  g_print ("  class-filter=%s\n", names[best]);
  g_strfreev (names);
  gst_buffer_unref (out);

  out = push_frame_full (h, &info, 0, FRAME_NS, FALSE, &in);
  fail_unless (out != NULL);
  get_result (out, &r);
  fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++) {
      const guint8 *src = in + (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) + 4 * x;
      guint8 rgb[3];
      read_rgb (&f, x, y, rgb);
      if (gst_winwin_result_class_at (&r, x, y) != best) {
        fail_unless (memcmp (rgb, src, 3) == 0, "a class outside the filter was painted at "
            "(%u, %u)", x, y);
        kept++;
      } else {
        if (have_colour)
          fail_unless (memcmp (rgb, colour, 3) == 0, "the class has two colours");
        memcpy (colour, rgb, 3);
        have_colour = TRUE;
        painted += memcmp (rgb, src, 3) != 0;
      }
    }
  fail_unless (painted > 0, "the filtered class was not painted");
  fail_unless (kept > 0);
  gst_video_frame_unmap (&f);
  gst_buffer_unref (out);
  g_free (in);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- The meta ----------------------------------------------------------------------------- */

GST_START_TEST (test_meta_contents)
{
  for (guint e = 0; e < 3; e++) {
    GstHarness *h = harness_new (elements[e], "device=cpu");
    GstVideoInfo info;
    GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
    GstBuffer *out = NULL;
    GstWinwinResult r;
    gsize px;

    for (guint i = 0; i < 2; i++) {
      if (out)
        gst_buffer_unref (out);
      out = push_frame (h, &info, i);
    }
    get_result (out, &r);
    fail_unless_equals_int (r.task, e);
    fail_unless (r.valid);
    fail_if (r.stale);
    fail_unless (r.width == W && r.height == H && r.frame_width == W && r.frame_height == H);
    fail_unless_equals_uint64 (r.result_pts, FRAME_NS);
    px = (gsize) r.width * r.height;
    if (e == 0) {
      fail_unless_equals_int (r.channels, 3);
      fail_unless (r.data != NULL);
      fail_unless_equals_uint64 (r.ref_pts, 0);
      for (gsize i = 0; i < 3 * px; i++)
        fail_unless (isfinite (r.data[i]), "flow value %" G_GSIZE_FORMAT " is %g", i, r.data[i]);
      for (gsize i = 0; i < px; i++)
        fail_unless (r.data[2 * px + i] >= 0.25f - 1e-4f, "confidence %g < 0.25",
            r.data[2 * px + i]);
    } else if (e == 1) {
      gdouble d;
      fail_unless_equals_int (r.channels, 1);
      fail_unless (r.data != NULL);
      fail_unless_equals_uint64 (r.ref_pts, GST_CLOCK_TIME_NONE);
      for (gsize i = 0; i < px; i++)
        fail_unless (isfinite (r.data[i]), "inverse depth %g", r.data[i]);
      d = gst_winwin_result_depth_at (&r, W / 2, H / 2);
      fail_unless (isnan (d) || d > 0);
      fail_unless (r.labels == NULL && r.classes == NULL);
    } else {
      gchar **names;
      guint n;
      fail_unless_equals_int (r.channels, 0);
      fail_unless (r.labels != NULL && r.scores != NULL && r.classes != NULL);
      fail_unless_equals_uint64 (r.ref_pts, GST_CLOCK_TIME_NONE);
      names = g_strsplit (r.classes, ",", -1);
      n = g_strv_length (names);
      fail_unless_equals_int (n, 12);
      for (guint i = 0; i < n; i++)
        fail_unless (*names[i], "class %u has no name (%s)", i, r.classes);
      g_strfreev (names);
      for (gsize i = 0; i < px; i++) {
        fail_unless (r.labels[i] < n || r.labels[i] == 255, "label %u", r.labels[i]);
        /* the argmax's softmax probability is at least 1 / classes */
        fail_unless (r.scores[i] >= 1.0f / n - 1e-5f && r.scores[i] <= 1.0f + 1e-6f,
            "score %g", r.scores[i]);
      }
    }
    gst_buffer_unref (out);
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* The meta survives a buffer copy and is gone after scaling (it describes the frame's size). */
GST_START_TEST (test_meta_copy_and_scale)
{
  GstHarness *h = harness_new ("winwindepth", "device=cpu");
  GstHarness *scale = gst_harness_new ("videoscale");
  GstVideoInfo info;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  GstBuffer *out = push_frame (h, &info, 0), *copy, *scaled;
  GstWinwinResult a, b;

  get_result (out, &a);
  copy = gst_buffer_copy (out);
  get_result (copy, &b);
  fail_unless (b.valid && b.width == a.width && b.height == a.height && b.task == a.task);
  fail_unless (memcmp (a.data, b.data, (gsize) a.width * a.height * sizeof (gfloat)) == 0);
  gst_buffer_unref (copy);

  gst_harness_set_caps_str (scale,
      "video/x-raw,format=RGBA,width=64,height=48,framerate=30/1",
      "video/x-raw,format=RGBA,width=32,height=24,framerate=30/1");
  fail_unless_equals_int (gst_harness_push (scale, gst_buffer_ref (out)), GST_FLOW_OK);
  scaled = gst_harness_try_pull (scale);
  fail_unless (scaled != NULL);
  fail_if (any_result (scaled, &b), "the meta survived scaling to 32x24");
  gst_buffer_unref (scaled);
  gst_buffer_unref (out);
  gst_caps_unref (caps);
  gst_harness_teardown (scale);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Two elements in a row: the buffer carries both results. */
GST_START_TEST (test_meta_two_elements)
{
  GstHarness *h = gst_harness_new_parse ("winwinflow device=cpu ! winwindepth device=cpu");
  GstVideoInfo info;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  for (guint i = 0; i < 2; i++) {
    GstBuffer *out = push_frame (h, &info, i);
    guint per[3], valid[3];
    fail_unless_equals_int (count_metas (out, per, valid), 2);
    fail_unless (per[0] == 1 && per[1] == 1, "metas: flow %u, depth %u", per[0], per[1]);
    fail_unless_equals_int (valid[0], i == 1);
    fail_unless_equals_int (valid[1], 1);
    {
      GstWinwinResult flow, depth;
      fail_unless (gst_winwin_meta_get_result (out, GST_WINWIN_TASK_FLOW, &flow));
      fail_unless (gst_winwin_meta_get_result (out, GST_WINWIN_TASK_DEPTH, &depth));
      fail_unless (flow.task == GST_WINWIN_TASK_FLOW && flow.valid == (i == 1));
      fail_unless (depth.task == GST_WINWIN_TASK_DEPTH && depth.valid && depth.data);
      fail_if (gst_winwin_meta_get_result (out, GST_WINWIN_TASK_SEG, &depth));
    }
    gst_buffer_unref (out);
  }
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* winwindepth settings: colormap=gray paints grays; a fixed range with min-depth >= max-depth
 * refuses to start. */
GST_START_TEST (test_depth_settings)
{
  GstHarness *h = harness_new ("winwindepth", "device=cpu mode=visualize colormap=gray "
      "depth-range=fixed min-depth=1 max-depth=50");
  GstVideoInfo info;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_BGRx, W, H);
  GstBuffer *out = push_frame (h, &info, 0);
  GstVideoFrame f;
  GstBus *bus;
  GstElement *e;
  GstMessage *m;
  GError *err = NULL;

  fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++) {
      guint8 rgb[3];
      read_rgb (&f, x, y, rgb);
      fail_unless (rgb[0] == rgb[1] && rgb[1] == rgb[2], "colormap=gray gives (%u, %u, %u)",
          rgb[0], rgb[1], rgb[2]);
    }
  gst_video_frame_unmap (&f);
  gst_buffer_unref (out);
  gst_caps_unref (caps);
  gst_harness_teardown (h);

  e = make_element ("winwindepth", "device=cpu depth-range=fixed min-depth=5 max-depth=2");
  bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  m = pop_message (bus, GST_MESSAGE_ERROR, GST_OBJECT (e));
  fail_unless (m != NULL);
  gst_message_parse_error (m, &err, NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS), "%s",
      err->message);
  g_clear_error (&err);
  gst_message_unref (m);
  gst_element_set_state (e, GST_STATE_NULL);
  drop_bus (e, bus);
  gst_object_unref (e);
}

GST_END_TEST;

/* Flow colours of a still scene (the same frame twice) with max-flow=100: the Middlebury wheel
 * shows no motion as white, HSV as black. */
GST_START_TEST (test_flow_colors)
{
  for (guint k = 0; k < 2; k++) {
    GstHarness *h = harness_new ("winwinflow", k ? "device=cpu mode=visualize max-flow=100 "
        "flow-colors=hsv" : "device=cpu mode=visualize max-flow=100 flow-colors=middlebury");
    GstVideoInfo info;
    GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
    GstBuffer *out;
    GstVideoFrame f;
    GstWinwinResult r;
    gdouble largest = 0;

    gst_buffer_unref (push_frame_full (h, &info, 3, 0, FALSE, NULL));
    out = push_frame_full (h, &info, 3, FRAME_NS, FALSE, NULL);
    fail_unless (out != NULL);
    get_result (out, &r);
    fail_unless (r.valid);
    for (guint i = 0; i < r.width * r.height; i++)
      largest = MAX (largest, hypot (r.data[i], r.data[r.width * r.height + i]));
    fail_unless (largest < 10, "a still scene has a motion of %.1f pixels", largest);
    fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
    for (guint y = 0; y < H; y++)
      for (guint x = 0; x < W; x++) {
        guint8 rgb[3];
        read_rgb (&f, x, y, rgb);
        for (guint c = 0; c < 3; c++)
          fail_unless (k ? rgb[c] <= 40 : rgb[c] >= 215, "%s: a still pixel is (%u, %u, %u)",
              k ? "hsv" : "middlebury", rgb[0], rgb[1], rgb[2]);
      }
    gst_video_frame_unmap (&f);
    gst_buffer_unref (out);
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* ---- Flow reset rules --------------------------------------------------------------------- */

static void
expect_flow (GstBuffer * out, gboolean valid, GstClockTime ref, const gchar * what)
{
  GstWinwinResult r;
  get_result (out, &r);
  fail_unless_equals_int (r.task, GST_WINWIN_TASK_FLOW);
  fail_unless (r.valid == valid, "%s: valid %d, expected %d", what, r.valid, valid);
  if (valid) {
    fail_unless (r.ref_pts == ref, "%s: ref_pts %" GST_TIME_FORMAT ", expected %"
        GST_TIME_FORMAT, what, GST_TIME_ARGS (r.ref_pts), GST_TIME_ARGS (ref));
    fail_unless (r.result_pts == GST_BUFFER_PTS (out));
    fail_unless (r.data != NULL);
  } else {
    fail_unless (r.data == NULL);
  }
  gst_buffer_unref (out);
}

GST_START_TEST (test_flow_reset_rules)
{
  GstHarness *h = harness_new ("winwinflow", "device=cpu");
  GstVideoInfo info;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  GstSegment seg;
  guint i = 0;

  gst_segment_init (&seg, GST_FORMAT_TIME);
  expect_flow (push_frame (h, &info, i), FALSE, 0, "first frame");
  i++;
  expect_flow (push_frame (h, &info, i), TRUE, (i - 1) * FRAME_NS, "second frame");
  i++;
  expect_flow (push_frame (h, &info, i), TRUE, (i - 1) * FRAME_NS, "third frame");
  i++;

  /* flush (a seek) */
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  expect_flow (push_frame (h, &info, i), FALSE, 0, "first after a flush");
  i++;
  expect_flow (push_frame (h, &info, i), TRUE, (i - 1) * FRAME_NS, "second after a flush");
  i++;

  /* DISCONT buffer */
  expect_flow (push_frame_full (h, &info, i, i * FRAME_NS, TRUE, NULL), FALSE, 0,
      "DISCONT frame");
  i++;
  expect_flow (push_frame (h, &info, i), TRUE, (i - 1) * FRAME_NS, "after DISCONT");
  i++;

  /* a new segment */
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  expect_flow (push_frame (h, &info, i), FALSE, 0, "first after a segment");
  i++;
  expect_flow (push_frame (h, &info, i), TRUE, (i - 1) * FRAME_NS, "second after a segment");
  i++;

  /* a new stream */
  fail_unless (gst_harness_push_event (h, gst_event_new_stream_start ("another")));
  expect_flow (push_frame (h, &info, i), FALSE, 0, "first of a new stream");
  i++;
  expect_flow (push_frame (h, &info, i), TRUE, (i - 1) * FRAME_NS, "second of a new stream");
  i++;

  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* New caps with another size mid-stream: the next flow frame is invalid, sizes follow. */
GST_START_TEST (test_resolution_change)
{
  GstHarness *h = harness_new ("winwinflow", "device=cpu mode=overlay");
  GstHarness *d = harness_new ("winwindepth", "device=cpu mode=overlay");
  GstVideoInfo info, dinfo;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H), *c2;
  GstBuffer *out;
  GstWinwinResult r;

  expect_flow (push_frame (h, &info, 0), FALSE, 0, "first frame");
  expect_flow (push_frame (h, &info, 1), TRUE, 0, "second frame");
  gst_caps_unref (caps);
  /* only new caps, no new segment: as a decoder does when the stream's size changes */
  fail_unless (gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGBA, 48, 32));
  GST_VIDEO_INFO_FPS_N (&info) = 30;
  caps = gst_video_info_to_caps (&info);
  fail_unless (gst_harness_push_event (h, gst_event_new_caps (caps)));
  out = push_frame (h, &info, 2);
  get_result (out, &r);
  fail_unless (r.frame_width == 48 && r.frame_height == 32);
  fail_unless_equals_int (gst_buffer_get_size (out), GST_VIDEO_INFO_SIZE (&info));
  expect_flow (out, FALSE, 0, "first frame at the new size");
  out = push_frame (h, &info, 3);
  get_result (out, &r);
  fail_unless (r.width == 48 && r.height == 32 && r.frame_width == 48, "a %ux%u map",
      r.width, r.height);
  expect_flow (out, TRUE, 2 * FRAME_NS, "second frame at the new size");
  check_caps_equal (h, caps);

  c2 = set_caps (d, &dinfo, GST_VIDEO_FORMAT_NV12, W, H);
  out = push_frame (d, &dinfo, 0);
  get_result (out, &r);
  fail_unless (r.valid && r.width == W);
  gst_buffer_unref (out);
  gst_caps_unref (c2);
  c2 = set_caps (d, &dinfo, GST_VIDEO_FORMAT_RGB, 40, 30);
  out = push_frame (d, &dinfo, 1);
  get_result (out, &r);
  fail_unless (r.valid && r.width == 40 && r.height == 30 && r.frame_width == 40 &&
      r.frame_height == 30, "depth after a caps change: %ux%u map of %ux%u", r.width,
      r.height, r.frame_width, r.frame_height);
  fail_unless_equals_int (gst_buffer_get_size (out), GST_VIDEO_INFO_SIZE (&dinfo));
  check_caps_equal (d, c2);
  gst_buffer_unref (out);

  gst_caps_unref (c2);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
  gst_harness_teardown (d);
}

GST_END_TEST;

/* ---- inference-interval ------------------------------------------------------------------- */

static void
expect_stale (GstHarness * h, const GstVideoInfo * info, guint i, gboolean stale,
    GstClockTime result_pts)
{
  GstBuffer *out = push_frame (h, info, i);
  GstWinwinResult r;
  get_result (out, &r);
  fail_unless (r.valid, "frame %u has no result", i);
  fail_unless (r.stale == stale, "frame %u: stale %d, expected %d", i, r.stale, stale);
  fail_unless (r.result_pts == result_pts, "frame %u: result of %" GST_TIME_FORMAT
      ", expected %" GST_TIME_FORMAT, i, GST_TIME_ARGS (r.result_pts),
      GST_TIME_ARGS (result_pts));
  gst_buffer_unref (out);
}

GST_START_TEST (test_inference_interval)
{
  GstVideoInfo info;
  GstCaps *caps;

  /* depth, interval 3 from the start: F T T F T T */
  {
    GstHarness *h = harness_new ("winwindepth", "device=cpu inference-interval=3");
    GstStructure *s;
    guint64 v;
    caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
    for (guint i = 0; i < 6; i++)
      expect_stale (h, &info, i, i % 3 != 0, (i - i % 3) * FRAME_NS);
    s = get_stats (h->element);
    fail_unless (gst_structure_get_uint64 (s, "frames", &v) && v == 6, "frames %" G_GUINT64_FORMAT, v);
    fail_unless (gst_structure_get_uint64 (s, "inferred", &v) && v == 2, "inferred %" G_GUINT64_FORMAT, v);
    fail_unless (gst_structure_get_uint64 (s, "stale", &v) && v == 4, "stale %" G_GUINT64_FORMAT, v);
    fail_unless (gst_structure_get_uint64 (s, "dropped", &v) && v == 0, "dropped %" G_GUINT64_FORMAT, v);
    fail_unless (gst_structure_has_field_typed (s, "fps", G_TYPE_DOUBLE));
    fail_unless (gst_structure_has_field_typed (s, "infer-mean-ms", G_TYPE_DOUBLE));
    fail_unless (gst_structure_has_field_typed (s, "infer-p95-ms", G_TYPE_DOUBLE));
    fail_unless (gst_structure_has_field_typed (s, "readback-p95-ms", G_TYPE_DOUBLE));
    fail_unless (gst_structure_has_field_typed (s, "render-p95-ms", G_TYPE_DOUBLE));
    gst_structure_free (s);
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }

  /* depth, interval changed from 1 to 3 while playing after frames 0-2 */
  {
    GstHarness *h = harness_new ("winwindepth", "device=cpu");
    caps = set_caps (h, &info, GST_VIDEO_FORMAT_NV12, W, H);
    for (guint i = 0; i < 3; i++)
      expect_stale (h, &info, i, FALSE, i * FRAME_NS);
    g_object_set (h->element, "inference-interval", 3, NULL);
    for (guint i = 3; i < 9; i++)
      expect_stale (h, &info, i, i % 3 != 0, (i - i % 3) * FRAME_NS);
    g_object_set (h->element, "inference-interval", 1, NULL);
    for (guint i = 9; i < 11; i++)
      expect_stale (h, &info, i, FALSE, i * FRAME_NS);
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }

  /* flow, interval 3: frames 3 and 6 run, with the flow from the frame before them */
  {
    GstHarness *h = harness_new ("winwinflow", "device=cpu inference-interval=3");
    caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
    for (guint i = 0; i < 3; i++) {
      GstBuffer *out = push_frame (h, &info, i);
      GstWinwinResult r;
      get_result (out, &r);
      fail_if (r.valid, "frame %u has flow", i);
      fail_if (r.stale);
      gst_buffer_unref (out);
    }
    expect_flow (push_frame (h, &info, 3), TRUE, 2 * FRAME_NS, "frame 3");
    expect_stale (h, &info, 4, TRUE, 3 * FRAME_NS);
    expect_stale (h, &info, 5, TRUE, 3 * FRAME_NS);
    expect_flow (push_frame (h, &info, 6), TRUE, 5 * FRAME_NS, "frame 6");
    gst_caps_unref (caps);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* ---- Stream events ------------------------------------------------------------------------ */

/* EOS reaches downstream; a flush in the middle and after EOS, and a stop and start, leave a
 * working element; the element is freed at the end (nothing holds it). */
GST_START_TEST (test_eos_and_flush)
{
  GstElement *e = make_element ("winwinflow", "device=cpu mode=overlay");
  GstHarness *h;
  GstVideoInfo info;
  GstCaps *caps;
  GstSegment seg;
  GstEvent *ev;
  gboolean eos = FALSE;

  gst_object_ref (e);
  h = harness_for (e, NULL);
  caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGB, W, H);
  gst_segment_init (&seg, GST_FORMAT_TIME);
  for (guint i = 0; i < 3; i++)
    gst_buffer_unref (push_frame (h, &info, i));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  expect_flow (push_frame (h, &info, 3), FALSE, 0, "after the flush");
  expect_flow (push_frame (h, &info, 4), TRUE, 3 * FRAME_NS, "after the flush");
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((ev = gst_harness_try_pull_event (h))) {
    eos |= GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  fail_unless (eos, "EOS did not come out");

  /* a seek after EOS */
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  expect_flow (push_frame (h, &info, 5), FALSE, 0, "after EOS and a flush");
  expect_flow (push_frame (h, &info, 6), TRUE, 5 * FRAME_NS, "after EOS and a flush");

  /* stopped and started again: a new stream, stats from zero */
  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_harness_play (h);
  fail_unless (gst_harness_push_event (h, gst_event_new_stream_start ("again")));
  gst_caps_unref (caps);
  caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGB, W, H);
  expect_flow (push_frame (h, &info, 7), FALSE, 0, "first after a restart");
  expect_flow (push_frame (h, &info, 8), TRUE, 7 * FRAME_NS, "second after a restart");
  fail_unless_equals_uint64 (stat_u64 (h->element, "frames"), 2);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  gst_caps_unref (caps);
  gst_harness_teardown (h);
  gst_check_object_destroyed_on_unref (e);
}

GST_END_TEST;

/* ---- Models ------------------------------------------------------------------------------- */

/* Start element with model-file path: PAUSED fails with an error of domain/code from it. */
static void
expect_start_error (const gchar * factory, const gchar * path, GQuark domain, gint code,
    const gchar * mention)
{
  GstElement *e = make_element (factory, "device=cpu");
  GstBus *bus = gst_bus_new ();
  GstStateChangeReturn ret;
  GstMessage *m;
  GError *err = NULL;
  gchar *dbg = NULL;

  g_object_set (e, "model-file", path, NULL);
  gst_element_set_bus (e, bus);
  ret = gst_element_set_state (e, GST_STATE_PAUSED);
  fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  m = pop_message (bus, GST_MESSAGE_ERROR, GST_OBJECT (e));
  fail_unless (m != NULL, "no ERROR message from %s", factory);
  gst_message_parse_error (m, &err, &dbg);
  fail_unless (err->domain == domain && err->code == code, "error %s %d: %s",
      g_quark_to_string (err->domain), err->code, err->message);
  fail_unless (strstr (err->message, mention) != NULL, "the error '%s' does not mention '%s'",
      err->message, mention);
  g_print ("  %s model-file=%s: %s\n", factory, path, err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (m);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  drop_bus (e, bus);
  gst_object_unref (e);
}

GST_START_TEST (test_bad_model_missing)
{
  expect_start_error ("winwindepth", "/nonexistent/winwin/depth.safetensors",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "/nonexistent/winwin/depth.safetensors");
}

GST_END_TEST;

GST_START_TEST (test_bad_model_corrupt)
{
  GError *err = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("winwin-corrupt-XXXXXX.safetensors", &path, &err);
  guint8 junk[4096];

  fail_unless (fd >= 0, "%s", err ? err->message : "");
  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) (i * 131 + 7);
  junk[0] = 0x40;               /* a header length that runs past the file */
  fail_unless (write (fd, junk, sizeof junk) == (gssize) sizeof junk);
  close (fd);
  expect_start_error ("winwinseg", path, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, path);
  g_unlink (path);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_bad_model_wrong_task)
{
  gchar *depth = model_path ("depth");
  expect_start_error ("winwinflow", depth, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "depth");
  g_free (depth);
}

GST_END_TEST;

/* labels-file names the classes in the meta; a file with the wrong count is refused. */
GST_START_TEST (test_seg_labels_file)
{
  GError *err = NULL;
  gchar *path = NULL, *want;
  gint fd = g_file_open_tmp ("winwin-labels-XXXXXX.txt", &path, &err);
  GString *text = g_string_new ("# twelve classes\n");
  GString *names = g_string_new (NULL);
  GstElement *e;
  GstHarness *h;
  GstVideoInfo info;
  GstCaps *caps;
  GstBuffer *out;
  GstWinwinResult r;

  fail_unless (fd >= 0);
  close (fd);
  for (guint i = 0; i < 12; i++) {
    g_string_append_printf (text, "thing %u\n\n", i);
    g_string_append_printf (names, "%sthing %u", i ? "," : "", i);
  }
  fail_unless (g_file_set_contents (path, text->str, -1, NULL));
  e = make_element ("winwinseg", "device=cpu");
  g_object_set (e, "labels-file", path, NULL);
  h = harness_for (e, NULL);
  caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  out = push_frame (h, &info, 0);
  get_result (out, &r);
  want = g_string_free (names, FALSE);
  fail_unless_equals_string (r.classes, want);
  gst_buffer_unref (out);
  gst_caps_unref (caps);
  gst_harness_teardown (h);

  /* three names for a twelve-class model */
  fail_unless (g_file_set_contents (path, "a\nb\nc\n", -1, NULL));
  {
    GstBus *bus = gst_bus_new ();
    GstMessage *m;
    GError *gerr = NULL;
    e = make_element ("winwinseg", "device=cpu");
    g_object_set (e, "labels-file", path, NULL);
    gst_element_set_bus (e, bus);
    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    m = pop_message (bus, GST_MESSAGE_ERROR, GST_OBJECT (e));
    fail_unless (m != NULL);
    gst_message_parse_error (m, &gerr, NULL);
    fail_unless (gerr->domain == GST_RESOURCE_ERROR, "%s", gerr->message);
    fail_unless (strstr (gerr->message, path) != NULL, "'%s' does not name the labels file",
        gerr->message);
    g_clear_error (&gerr);
    gst_message_unref (m);
    gst_element_set_state (e, GST_STATE_NULL);
    drop_bus (e, bus);
    gst_object_unref (e);
  }
  g_unlink (path);
  g_free (path);
  g_free (want);
  g_string_free (text, TRUE);
}

GST_END_TEST;

/* model-file set while playing: a bad file leaves the old model running (message loaded=FALSE),
 * a good one is swapped in (loaded=TRUE); after a swap the flow starts a new pair. */
GST_START_TEST (test_model_swap)
{
  static const gchar *bad = "/nonexistent/winwin/model.safetensors";
  gchar *depth = model_path ("depth"), *flow = model_path ("flow"), *seg = model_path ("seg");
  GstVideoInfo info;
  GstCaps *caps;
  GstMessage *m;
  const GstStructure *s;
  gboolean loaded = TRUE;

  /* depth: bad, then good */
  {
    GstBus *bus = gst_bus_new ();
    GstHarness *h = harness_for (make_element ("winwindepth", "device=cpu"), bus);
    caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
    expect_stale (h, &info, 0, FALSE, 0);
    g_object_set (h->element, "model-file", bad, NULL);
    expect_stale (h, &info, 1, FALSE, FRAME_NS);
    m = pop_model_message (bus);
    fail_unless (m != NULL, "no winwin-model message after a bad model-file");
    s = gst_message_get_structure (m);
    fail_unless (gst_structure_get_boolean (s, "loaded", &loaded) && !loaded);
    fail_unless_equals_string (gst_structure_get_string (s, "model-file"), bad);
    fail_unless (strstr (gst_structure_get_string (s, "error"), bad) != NULL, "error '%s'",
        gst_structure_get_string (s, "error"));
    fail_unless (GST_MESSAGE_SRC (m) == GST_OBJECT (h->element));
    gst_message_unref (m);
    m = pop_message (bus, GST_MESSAGE_ERROR, NULL);
    fail_if (m != NULL, "a failed swap posted an ERROR");
    expect_stale (h, &info, 2, FALSE, 2 * FRAME_NS);

    g_object_set (h->element, "model-file", depth, NULL);
    expect_stale (h, &info, 3, FALSE, 3 * FRAME_NS);
    m = pop_model_message (bus);
    fail_unless (m != NULL, "no winwin-model message after a good model-file");
    s = gst_message_get_structure (m);
    fail_unless (gst_structure_get_boolean (s, "loaded", &loaded) && loaded);
    fail_unless_equals_string (gst_structure_get_string (s, "model-file"), depth);
    gst_message_unref (m);
    gst_caps_unref (caps);
    gst_element_set_bus (h->element, NULL);
    gst_bus_set_flushing (bus, TRUE);
    gst_object_unref (bus);
    gst_harness_teardown (h);
  }

  /* flow: a seg model is refused and the flow goes on; a flow model restarts the pairs */
  {
    GstBus *bus = gst_bus_new ();
    GstHarness *h = harness_for (make_element ("winwinflow", "device=cpu mode=overlay"), bus);
    caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
    expect_flow (push_frame (h, &info, 0), FALSE, 0, "frame 0");
    expect_flow (push_frame (h, &info, 1), TRUE, 0, "frame 1");
    g_object_set (h->element, "model-file", seg, NULL);
    expect_flow (push_frame (h, &info, 2), TRUE, FRAME_NS, "after a refused model");
    m = pop_model_message (bus);
    fail_unless (m != NULL);
    s = gst_message_get_structure (m);
    fail_unless (gst_structure_get_boolean (s, "loaded", &loaded) && !loaded);
    fail_unless (strstr (gst_structure_get_string (s, "error"), "seg") != NULL, "error '%s'",
        gst_structure_get_string (s, "error"));
    gst_message_unref (m);
    g_object_set (h->element, "model-file", flow, NULL);
    expect_flow (push_frame (h, &info, 3), FALSE, 0, "first after a swap");
    expect_flow (push_frame (h, &info, 4), TRUE, 3 * FRAME_NS, "second after a swap");
    m = pop_model_message (bus);
    fail_unless (m != NULL);
    fail_unless (gst_structure_get_boolean (gst_message_get_structure (m), "loaded", &loaded)
        && loaded);
    gst_message_unref (m);
    gst_caps_unref (caps);
    gst_element_set_bus (h->element, NULL);
    gst_bus_set_flushing (bus, TRUE);
    gst_object_unref (bus);
    gst_harness_teardown (h);
  }
  g_free (depth);
  g_free (flow);
  g_free (seg);
}

GST_END_TEST;

/* ---- Devices ------------------------------------------------------------------------------ */

GST_START_TEST (test_device_properties)
{
  GstHarness *h = harness_new ("winwindepth", "device=cpu");
  GstElement *e;
  GstVideoInfo info;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  gchar *name = NULL, *str = NULL;
  GstVulkanDevice *vk = NULL;
  gint idx = 0, iw = 1;
  guint interval = 0;
  gdouble alpha = 0;

  gst_buffer_unref (push_frame (h, &info, 0));
  g_object_get (h->element, "device-name", &name, "vulkan-device", &vk, NULL);
  fail_unless (name != NULL && *name, "no device-name while playing");
  fail_unless (vk == NULL, "device=cpu has a Vulkan device");
  g_print ("  device=cpu runs on %s\n", name);
  g_free (name);
  gst_caps_unref (caps);
  gst_harness_teardown (h);

  /* defaults */
  e = make_element ("winwinseg", NULL);
  g_object_get (e, "model-file", &str, "device-index", &idx, "inference-width", &iw,
      "inference-interval", &interval, "alpha", &alpha, NULL);
  fail_unless (str == NULL);
  fail_unless (idx == -1 && iw == 0 && interval == 1 && alpha == 0.5);
  g_object_get (e, "device", &str, NULL);
  fail_unless_equals_string (str, "auto");
  g_free (str);
  gst_object_unref (e);

  /* an unknown device fails to start, naming it */
  {
    GstBus *bus = gst_bus_new ();
    GstMessage *m;
    GError *err = NULL;
    e = make_element ("winwinflow", "device=bogus");
    gst_element_set_bus (e, bus);
    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    m = pop_message (bus, GST_MESSAGE_ERROR, GST_OBJECT (e));
    fail_unless (m != NULL);
    gst_message_parse_error (m, &err, NULL);
    fail_unless (strstr (err->message, "bogus") != NULL, "'%s'", err->message);
    g_clear_error (&err);
    gst_message_unref (m);
    gst_element_set_state (e, GST_STATE_NULL);
    drop_bus (e, bus);
    gst_object_unref (e);
  }
}

GST_END_TEST;

/* device=auto never picks a CPU Vulkan driver (lavapipe): the CPU backend instead. */
GST_START_TEST (test_device_auto)
{
  GstHarness *h = harness_new ("winwindepth", NULL);
  GstVideoInfo info;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, 32, 32);
  GstVulkanDevice *vk = NULL;
  gchar *name = NULL;

  gst_buffer_unref (push_frame (h, &info, 0));
  g_object_get (h->element, "device-name", &name, "vulkan-device", &vk, NULL);
  g_print ("  device=auto runs on %s\n", name ? name : "(none)");
  fail_unless (name != NULL);
  if (vk) {
    fail_if (vk->physical_device->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU,
        "auto picked the CPU Vulkan driver %s", vk->physical_device->properties.deviceName);
    gst_object_unref (vk);
  }
  g_free (name);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

GST_END_TEST;

typedef struct {
  gint buffers, flow, depth, seg, valid_flow, valid_depth, valid_seg;
} Seen;

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer user)
{
  Seen *seen = user;
  guint per[3], valid[3];
  (void) sink;
  (void) pad;
  count_metas (buf, per, valid);
  g_atomic_int_inc (&seen->buffers);
  g_atomic_int_add (&seen->flow, per[0]);
  g_atomic_int_add (&seen->depth, per[1]);
  g_atomic_int_add (&seen->seg, per[2]);
  g_atomic_int_add (&seen->valid_flow, valid[0]);
  g_atomic_int_add (&seen->valid_depth, valid[1]);
  g_atomic_int_add (&seen->valid_seg, valid[2]);
}

/* Two elements with device=vulkan in one pipeline share one GstVulkanDevice. */
GST_START_TEST (test_vulkan_shared_device)
{
  GError *err = NULL;
  GstElement *pipe, *a, *b, *sink;
  GstVulkanDevice *da = NULL, *db = NULL;
  gchar *why = NULL, *name = NULL;
  Seen seen = { 0 };

  if (!vulkan_available (&why)) {
    report_skip ("test_vulkan_shared_device", why);
    g_free (why);
    return;
  }
  pipe = gst_parse_launch ("videotestsrc num-buffers=3 ! video/x-raw,width=32,height=32 ! "
      "winwinflow device=vulkan name=a ! winwindepth device=vulkan name=b ! "
      "fakesink name=sink signal-handoffs=true", &err);
  fail_unless (pipe != NULL, "%s", err ? err->message : "");
  a = gst_bin_get_by_name (GST_BIN (pipe), "a");
  b = gst_bin_get_by_name (GST_BIN (pipe), "b");
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), &seen);
  run_to_eos (pipe, 240);
  g_object_get (a, "vulkan-device", &da, "device-name", &name, NULL);
  g_object_get (b, "vulkan-device", &db, NULL);
  g_print ("  winwinflow and winwindepth on %s\n", name ? name : "(none)");
  fail_unless (da != NULL && db != NULL, "no Vulkan device on the elements (%p, %p)", da, db);
  fail_unless (da == db, "two Vulkan devices: %p and %p", da, db);
  fail_unless_equals_int (seen.buffers, 3);
  fail_unless_equals_int (seen.flow, 3);
  fail_unless_equals_int (seen.depth, 3);
  fail_unless_equals_int (seen.valid_flow, 2);
  fail_unless_equals_int (seen.valid_depth, 3);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (da);
  gst_object_unref (db);
  g_free (name);
  gst_object_unref (a);
  gst_object_unref (b);
  gst_object_unref (sink);
  gst_object_unref (pipe);
}

GST_END_TEST;

/* Frames in Vulkan memory from vulkanupload go through winwinseg on the same device. */
GST_START_TEST (test_vulkan_upload)
{
  GError *err = NULL;
  GstElement *pipe, *sink;
  gchar *why = NULL;
  Seen seen = { 0 };
  GstElementFactory *up = gst_element_factory_find ("vulkanupload");

  if (!up) {
    report_skip ("test_vulkan_upload", "no vulkanupload element (gstreamer1.0-plugins-bad)");
    return;
  }
  gst_object_unref (up);
  if (!vulkan_available (&why)) {
    report_skip ("test_vulkan_upload", why);
    g_free (why);
    return;
  }
  pipe = gst_parse_launch ("videotestsrc num-buffers=2 ! "
      "video/x-raw,format=RGBA,width=32,height=32 ! vulkanupload ! "
      "video/x-raw(memory:VulkanBuffer) ! winwinseg device=vulkan ! "
      "fakesink name=sink signal-handoffs=true", &err);
  fail_unless (pipe != NULL, "%s", err ? err->message : "");
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), &seen);
  run_to_eos (pipe, 240);
  fail_unless_equals_int (seen.buffers, 2);
  fail_unless_equals_int (seen.valid_seg, 2);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
}

GST_END_TEST;

/* An upstream that writes Vulkan buffers is offered a pool of them on the element's device, so
 * that vulkanupload fills memory the element maps directly. */
GST_START_TEST (test_vulkan_propose_pool)
{
  GstHarness *h;
  GstCaps *caps;
  GstQuery *q;
  GstBufferPool *pool = NULL;
  GstVulkanDevice *device = NULL;
  gchar *why = NULL;

  if (!vulkan_available (&why)) {
    report_skip ("test_vulkan_propose_pool", why);
    g_free (why);
    return;
  }
  h = harness_new ("winwindepth", "device=vulkan");
  caps = gst_caps_from_string ("video/x-raw(memory:VulkanBuffer),format=RGBA,width=32,"
      "height=32,framerate=30/1");
  gst_harness_set_caps (h, gst_caps_ref (caps), gst_caps_ref (caps));
  q = gst_query_new_allocation (caps, TRUE);
  fail_unless (gst_pad_peer_query (h->srcpad, q), "the element answered no allocation query");
  fail_unless (gst_query_get_n_allocation_pools (q) >= 1, "no pool proposed");
  gst_query_parse_nth_allocation_pool (q, 0, &pool, NULL, NULL, NULL);
  fail_unless (GST_IS_VULKAN_BUFFER_POOL (pool), "the pool is a %s",
      pool ? G_OBJECT_TYPE_NAME (pool) : "NULL");
  g_object_get (h->element, "vulkan-device", &device, NULL);
  fail_unless (device && GST_VULKAN_BUFFER_POOL (pool)->device == device,
      "the pool is not on the element's device");
  gst_object_unref (device);
  gst_object_unref (pool);
  gst_query_unref (q);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* class-filter in mode=visualize: pixels of the other classes are not painted in their class
 * colours (they are black: nothing to show), pixels of the class are. */
GST_START_TEST (test_seg_class_filter_visualize)
{
  GstHarness *h = harness_new ("winwinseg", "device=cpu mode=visualize");
  GstVideoInfo info;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  GstBuffer *out = push_frame (h, &info, 0);
  GstWinwinResult r;
  guint best, others = 0, black = 0;
  GstVideoFrame f;
  gchar *id;

  get_result (out, &r);
  fail_unless (r.valid);
  best = rare_class (&r);
  gst_buffer_unref (out);
  id = g_strdup_printf ("%u", best);
  g_object_set (h->element, "class-filter", id, NULL);
  g_free (id);

  out = push_frame (h, &info, 0);
  get_result (out, &r);
  fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++) {
      guint8 rgb[3];
      read_rgb (&f, x, y, rgb);
      if (gst_winwin_result_class_at (&r, x, y) == best) {
        fail_if (!rgb[0] && !rgb[1] && !rgb[2], "the filtered class is black at (%u, %u)", x, y);
      } else {
        others++;
        black += !rgb[0] && !rgb[1] && !rgb[2];
      }
    }
  gst_video_frame_unmap (&f);
  fail_unless (others > 0, "one class covers the test frame: nothing to check");
  fail_unless (black == others, "%u of %u pixels of classes outside class-filter are painted "
      "in visualize", others - black, others);
  gst_buffer_unref (out);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A Vulkan element that fails to start (missing model) holds no Vulkan device afterwards. */
GST_START_TEST (test_vulkan_failed_start_releases)
{
  GstElement *e;
  GstBus *bus;
  GstVulkanDevice *vk = NULL;
  gchar *why = NULL;

  if (!vulkan_available (&why)) {
    report_skip ("test_vulkan_failed_start_releases", why);
    g_free (why);
    return;
  }
  e = make_element ("winwindepth", "device=vulkan");
  bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_object_set (e, "model-file", "/nonexistent/winwin/depth.safetensors", NULL);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  g_object_get (e, "vulkan-device", &vk, NULL);
  fail_unless (vk == NULL, "after a failed start the element still holds Vulkan device %s",
      vk ? vk->physical_device->properties.deviceName : "");
  drop_bus (e, bus);
  gst_object_unref (e);
}

GST_END_TEST;

/* device=cpu stays on the CPU backend in a pipeline that shares a Vulkan device through a
 * GstContext (as an application or vulkanupload does). */
GST_START_TEST (test_device_cpu_with_vulkan_context)
{
  GError *err = NULL;
  GstElement *pipe, *d;
  GstVulkanInstance *inst;
  GstVulkanDevice *dev, *vk = NULL;
  GstContext *ctx;
  gchar *why = NULL, *name = NULL;

  if (!vulkan_available (&why)) {
    report_skip ("test_device_cpu_with_vulkan_context", why);
    g_free (why);
    return;
  }
  inst = gst_vulkan_instance_new ();
  fail_unless (gst_vulkan_instance_open (inst, NULL));
  dev = gst_vulkan_device_new_with_index (inst, 0);
  fail_unless (gst_vulkan_device_open (dev, NULL));
  pipe = gst_parse_launch ("videotestsrc num-buffers=2 ! video/x-raw,width=32,height=32 ! "
      "winwindepth device=cpu name=d ! fakesink", &err);
  fail_unless (pipe != NULL);
  ctx = gst_context_new (GST_VULKAN_INSTANCE_CONTEXT_TYPE_STR, TRUE);
  gst_context_set_vulkan_instance (ctx, inst);
  gst_element_set_context (pipe, ctx);
  gst_context_unref (ctx);
  ctx = gst_context_new (GST_VULKAN_DEVICE_CONTEXT_TYPE_STR, TRUE);
  gst_context_set_vulkan_device (ctx, dev);
  gst_element_set_context (pipe, ctx);
  gst_context_unref (ctx);
  d = gst_bin_get_by_name (GST_BIN (pipe), "d");
  run_to_eos (pipe, 120);
  g_object_get (d, "vulkan-device", &vk, "device-name", &name, NULL);
  g_print ("  device=cpu with a shared Vulkan device runs on %s\n", name);
  fail_unless (vk == NULL, "device=cpu runs on Vulkan device %s (%s)",
      vk ? vk->physical_device->properties.deviceName : "", name);
  gst_element_set_state (pipe, GST_STATE_NULL);
  g_free (name);
  gst_object_unref (d);
  gst_object_unref (pipe);
  gst_object_unref (dev);
  gst_object_unref (inst);
}

GST_END_TEST;

/* ---- QoS, latency, memory ----------------------------------------------------------------- */

/* A QoS event saying frames up to 5 s are late: a frame at 1 s is dropped before inference
 * (stats dropped = 1, a QoS message), one at 6 s passes, with the flow from the last frame that
 * ran (0 s). */
GST_START_TEST (test_qos)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_for (make_element ("winwinflow", "device=cpu"), bus);
  GstVideoInfo info;
  GstCaps *caps;
  GstBuffer *out;
  GstMessage *m;

  gst_harness_use_testclock (h);
  caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  expect_flow (push_frame_full (h, &info, 0, 0, FALSE, NULL), FALSE, 0, "frame at 0 s");
  fail_unless (gst_harness_push_upstream_event (h, gst_event_new_qos (GST_QOS_TYPE_UNDERFLOW,
              0.9, 5 * GST_SECOND, 0)));
  out = push_frame_full (h, &info, 1, 1 * GST_SECOND, FALSE, NULL);
  fail_unless (out == NULL, "a late frame came out");
  fail_unless_equals_uint64 (stat_u64 (h->element, "dropped"), 1);
  m = pop_message (bus, GST_MESSAGE_QOS, GST_OBJECT (h->element));
  fail_unless (m != NULL, "no QoS message");
  gst_message_unref (m);
  out = push_frame_full (h, &info, 2, 6 * GST_SECOND, FALSE, NULL);
  fail_unless (out != NULL, "a frame in time was dropped");
  expect_flow (out, TRUE, 0, "the frame after a dropped one");
  fail_unless_equals_uint64 (stat_u64 (h->element, "frames"), 2);
  fail_unless_equals_uint64 (stat_u64 (h->element, "dropped"), 1);
  gst_caps_unref (caps);
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The element adds its p95 inference time to the upstream latency, and posts a latency message
 * once it has timings. */
GST_START_TEST (test_latency)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_for (make_element ("winwindepth", "device=cpu"), bus);
  GstVideoInfo info;
  GstCaps *caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGBA, W, H);
  const GstClockTime upstream = 10 * GST_MSECOND;
  GstStructure *s;
  GstMessage *m;
  GstClockTime min, ours;
  gdouble p95 = 0;

  gst_harness_set_upstream_latency (h, upstream);
  for (guint i = 0; i < 6; i++)
    gst_buffer_unref (push_frame (h, &info, i));
  m = pop_message (bus, GST_MESSAGE_LATENCY, GST_OBJECT (h->element));
  fail_unless (m != NULL, "no latency message after 6 frames");
  gst_message_unref (m);
  s = get_stats (h->element);
  fail_unless (gst_structure_get_double (s, "infer-p95-ms", &p95));
  gst_structure_free (s);
  fail_unless (p95 > 0, "infer-p95-ms %g", p95);
  ours = (GstClockTime) (p95 * GST_MSECOND);
  min = gst_harness_query_latency (h);
  g_print ("  latency %.3f ms (upstream 10 ms, inference p95 %.3f ms)\n",
      (gdouble) min / GST_MSECOND, p95);
  fail_unless (GST_CLOCK_TIME_IS_VALID (min));
  fail_unless (min + 1 >= upstream + ours, "min latency %" GST_TIME_FORMAT " < upstream + p95 %"
      GST_TIME_FORMAT, GST_TIME_ARGS (min), GST_TIME_ARGS (upstream + ours));
  fail_unless (min > upstream);
  gst_caps_unref (caps);
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* 2000 frames through winwinflow mode=overlay: the memory in use stays flat. */
GST_START_TEST (test_memory_flat)
{
  GstElement *e = make_element ("winwinflow", "device=cpu mode=overlay");
  GstHarness *h;
  GstVideoInfo info;
  GstCaps *caps;
  gsize at200 = 0, at2000;
  gint64 t0 = g_get_monotonic_time ();

  gst_object_ref (e);
  h = harness_for (e, NULL);
  caps = set_caps (h, &info, GST_VIDEO_FORMAT_RGB, 32, 24);
  for (guint i = 0; i < 2000; i++) {
    GstBuffer *out = push_frame_full (h, &info, i % 16, i * FRAME_NS, FALSE, NULL);
    fail_unless (out != NULL);
    gst_buffer_unref (out);
    if (i + 1 == 200)
      at200 = memory_in_use ();
  }
  at2000 = memory_in_use ();
  g_print ("  " MEMORY_MEASURE " after 200 frames %.2f MB, after 2000 %.2f MB (%.1f s)\n",
      at200 / 1e6, at2000 / 1e6, (g_get_monotonic_time () - t0) / 1e6);
  fail_unless (at2000 < at200 + 4 * 1000 * 1000, MEMORY_MEASURE " grew by %.2f MB over 1800 frames",
      ((gdouble) at2000 - at200) / 1e6);
  fail_unless_equals_uint64 (stat_u64 (e, "frames"), 2000);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
  gst_check_object_destroyed_on_unref (e);
}

GST_END_TEST;

/* ---- Main --------------------------------------------------------------------------------- */

#define ADD(suite, fn) G_STMT_START {           \
    TCase *tc = tcase_create (#fn);             \
    tcase_add_test (tc, fn);                    \
    suite_add_tcase (suite, tc);                \
  } G_STMT_END

static Suite *
winwin_suite (void)
{
  Suite *s = suite_create ("winwin elements");
  ADD (s, test_caps_formats_flow);
  ADD (s, test_caps_formats_depth_seg);
  ADD (s, test_caps_accept);
  ADD (s, test_caps_raw);
  ADD (s, test_odd_sizes);
  ADD (s, test_inference_size);
  ADD (s, test_mode_meta_identical);
  ADD (s, test_mode_overlay_alpha);
  ADD (s, test_mode_overlay_composition);
  ADD (s, test_mode_visualize);
  ADD (s, test_mode_raw_values);
  ADD (s, test_seg_class_filter);
  ADD (s, test_seg_class_filter_visualize);
  ADD (s, test_depth_settings);
  ADD (s, test_flow_colors);
  ADD (s, test_meta_contents);
  ADD (s, test_meta_copy_and_scale);
  ADD (s, test_meta_two_elements);
  ADD (s, test_flow_reset_rules);
  ADD (s, test_resolution_change);
  ADD (s, test_inference_interval);
  ADD (s, test_eos_and_flush);
  ADD (s, test_bad_model_missing);
  ADD (s, test_bad_model_corrupt);
  ADD (s, test_bad_model_wrong_task);
  ADD (s, test_seg_labels_file);
  ADD (s, test_model_swap);
  ADD (s, test_device_properties);
  ADD (s, test_device_auto);
  ADD (s, test_vulkan_shared_device);
  ADD (s, test_vulkan_upload);
  ADD (s, test_vulkan_propose_pool);
  ADD (s, test_vulkan_failed_start_releases);
  ADD (s, test_device_cpu_with_vulkan_context);
  ADD (s, test_qos);
  ADD (s, test_latency);
  ADD (s, test_memory_flat);
  return s;
}

int
main (int argc, char **argv)
{
  int fds[2] = { -1, -1 };
  GString *skipped_names = g_string_new ("\n");
  SRunner *sr;
  TestResult **results;
  int n, passed = 0, failed = 0, skipped = 0;
  gint64 t0 = g_get_monotonic_time ();

  /* check's default is 4 s per test; the build sets 300 */
  g_setenv ("CK_DEFAULT_TIMEOUT", "300", FALSE);
  setvbuf (stdout, NULL, _IOLBF, 0);
  gst_check_init (&argc, &argv);
  if (pipe (fds) == 0)
    skip_fd = fds[1];

  sr = srunner_create (winwin_suite ());
  srunner_run_all (sr, CK_SILENT);

  if (skip_fd >= 0) {
    char buf[4096];
    ssize_t got;
    close (skip_fd);
    skip_fd = -1;
    while ((got = read (fds[0], buf, sizeof buf)) > 0)
      g_string_append_len (skipped_names, buf, got);
    close (fds[0]);
  }

  n = srunner_ntests_run (sr);
  results = srunner_results (sr);
  for (int i = 0; i < n; i++) {
    TestResult *tr = results[i];
    const char *name = tr_tcname (tr);
    gchar *key = g_strdup_printf ("\n%s\n", name);
    if (tr_rtype (tr) == CK_PASS) {
      if (strstr (skipped_names->str, key)) {
        skipped++;
      } else {
        printf ("ok %s\n", name);
        passed++;
      }
    } else {
      printf ("FAIL %s: %s:%d: %s\n", name, tr_lfile (tr) ? tr_lfile (tr) : "?", tr_lno (tr),
          tr_msg (tr));
      failed++;
    }
    g_free (key);
  }
  free (results);
  if (failed != srunner_ntests_failed (sr))
    printf ("(check counts %d failures)\n", srunner_ntests_failed (sr));
  printf ("elapsed %.1f s\n", (g_get_monotonic_time () - t0) / 1e6);
  printf ("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  srunner_free (sr);
  g_string_free (skipped_names, TRUE);
  return failed || passed + skipped == 0 ? 1 : 0;
}
