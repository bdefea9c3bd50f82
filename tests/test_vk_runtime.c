/* Vulkan-only runtime behaviour: running on a device someone else created (as the GStreamer
 * elements do), and recording barriers only where one op depends on another. */
#include <string.h>

#include <vulkan/vulkan.h>

#include "test_util.h"
#include "ww.h"

typedef struct lock_count {
    int locks, unlocks;
} lock_count;

static void count_lock(void *user)
{
    ((lock_count *)user)->locks++;
}

static void count_unlock(void *user)
{
    ((lock_count *)user)->unlocks++;
}

/* The backend uses the caller's instance, device and queue, takes the queue lock around every
 * submission, computes correctly, and leaves the device alive when destroyed. */
static void test_external_device(const char *arg)
{
    (void)arg;
    if (test_vulkan_disabled())
        return;
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                .pApplicationInfo = &app};
    VkInstance inst;
    if (vkCreateInstance(&ici, NULL, &inst) != VK_SUCCESS) {
        TEST_SKIP("no Vulkan driver");
        return;
    }
    uint32_t n = 1;
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    VkResult r = vkEnumeratePhysicalDevices(inst, &n, &pd);
    uint32_t family = UINT32_MAX, nfam = 0;
    VkQueueFamilyProperties fams[16];
    if ((r == VK_SUCCESS || r == VK_INCOMPLETE) && n) {
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &nfam, NULL);
        nfam = nfam > 16 ? 16 : nfam;
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &nfam, fams);
        for (uint32_t i = 0; i < nfam && family == UINT32_MAX; i++)
            if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
                family = i;
    }
    if (family == UINT32_MAX) {
        vkDestroyInstance(inst, NULL);
        TEST_SKIP("no Vulkan device with a compute queue");
        return;
    }
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci};
    VkDevice dev;
    if (!TEST_CHECK(vkCreateDevice(pd, &dci, NULL, &dev) == VK_SUCCESS, "vkCreateDevice")) {
        vkDestroyInstance(inst, NULL);
        return;
    }
    VkQueue queue;
    vkGetDeviceQueue(dev, family, 0, &queue);

    lock_count lc = {0};
    ww_vk_external ext = {.instance = inst, .physical_device = pd, .device = dev,
                          .queue = queue, .queue_family = family, .queue_lock = count_lock,
                          .queue_unlock = count_unlock, .queue_lock_user = &lc};
    ww_backend_options opt = {.device = "vulkan", .external = &ext};
    ww_backend *be = NULL;
    char err[512];
    if (TEST_OK(NULL, ww_backend_create(&opt, &be, err, sizeof err))) {
        test_backend_track(be, "vulkan");
        ww_arena *a = test_arena(be);
        ww_seq *s = a ? test_seq(be) : NULL;
        int64_t ne[1] = {37};
        float x[37], y[37];
        for (int i = 0; i < 37; i++)
            x[i] = (float)i - 18.0f;
        ww_tensor tx, ty;
        if (s && TEST_OK(be, ww_arena_alloc(a, WW_F32, 1, ne, &tx)) &&
            TEST_OK(be, ww_arena_alloc(a, WW_F32, 1, ne, &ty)) &&
            TEST_OK(be, ww_tensor_write(be, &tx, x, sizeof x)) && TEST_OK(be, ww_relu(s, &tx, &ty)) &&
            test_run(be, s) && TEST_OK(be, ww_tensor_read(be, &ty, y, sizeof y))) {
            for (int i = 0; i < 37; i++)
                TEST_CHECK(y[i] == (x[i] > 0 ? x[i] : 0.0f), "relu[%d] = %g on the shared device",
                           i, (double)y[i]);
        }
        TEST_CHECK(lc.locks > 0 && lc.locks == lc.unlocks,
                   "queue lock taken %d times, released %d times", lc.locks, lc.unlocks);
        test_backend_destroy(be);
    } else {
        TEST_FAIL("%s", err);
    }
    TEST_CHECK(vkDeviceWaitIdle(dev) == VK_SUCCESS, "the caller's device is unusable afterwards");
    vkDestroyDevice(dev, NULL);
    vkDestroyInstance(inst, NULL);

    ww_vk_external partial = {.instance = inst};
    ww_backend_options bad = {.device = "vulkan", .external = &partial};
    TEST_STATUS(NULL, ww_backend_create(&bad, &be, err, sizeof err), WW_ERR_INVALID);
}

/* Independent ops share a barrier-free stretch; an op that reads (or overwrites) what an earlier
 * one wrote gets exactly one barrier before it. */
static void test_barriers(const char *arg)
{
    (void)arg;
    ww_backend *be = test_backend("vulkan");
    ww_arena *a = be ? test_arena(be) : NULL;
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return;
    int64_t ne[1] = {64};
    ww_tensor t[6];
    for (int i = 0; i < 6; i++)
        if (!TEST_OK(be, ww_arena_alloc(a, WW_F32, 1, ne, &t[i])) ||
            !TEST_OK(be, ww_tensor_fill(be, &t[i], 0)))
            return;
    /* t2 = t0 + t1 and t3 = relu(t0): both only read t0 and t1 -> no barrier. */
    if (!TEST_OK(be, ww_add(s, &t[0], &t[1], &t[2])) || !TEST_OK(be, ww_relu(s, &t[0], &t[3])) ||
        !test_run(be, s))
        return;
    TEST_CHECK(ww_seq_barriers(s) == 0, "independent ops: %d barriers", ww_seq_barriers(s));
    /* t4 = t2 + t3 reads both results -> one barrier; t5 = relu(t1) is independent of the
     * stretch after that barrier -> none; t0 = relu(t5) reads t5 -> one more. */
    if (!TEST_OK(be, ww_add(s, &t[2], &t[3], &t[4])) || !TEST_OK(be, ww_relu(s, &t[1], &t[5])) ||
        !TEST_OK(be, ww_relu(s, &t[5], &t[0])) || !test_run(be, s))
        return;
    TEST_CHECK(ww_seq_barriers(s) == 2, "dependent ops: %d barriers, expected 2",
               ww_seq_barriers(s));
    /* Write after read: overwriting t1, which t5 = relu(t1) read since the last barrier. */
    ww_seq_clear(s);
    if (!TEST_OK(be, ww_relu(s, &t[1], &t[5])) || !TEST_OK(be, ww_relu(s, &t[2], &t[1])) ||
        !test_run(be, s))
        return;
    TEST_CHECK(ww_seq_barriers(s) == 1, "write after read: %d barriers, expected 1",
               ww_seq_barriers(s));
}

static const ww_test_case cases[] = {
    {"external_device", test_external_device, NULL},
    {"barriers", test_barriers, NULL},
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
