/* Vulkan backend: instance, device choice, queue, validation, and the backend's lifetime. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

#define UUID_BYTES ((int)VK_UUID_SIZE)
#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

ww_status ww_vk_check(vk_backend *vb, VkResult r, const char *what)
{
    switch (r) {
    case VK_SUCCESS:
        return WW_OK;
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_FRAGMENTED_POOL:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
        return ww_set_error(&vb->base, WW_ERR_OUT_OF_MEMORY, "%s: out of %s memory (VkResult %d)",
                            what, r == VK_ERROR_OUT_OF_HOST_MEMORY ? "host" : "device", (int)r);
    case VK_ERROR_DEVICE_LOST:
        vb->device_lost = 1;
        return ww_set_error(&vb->base, WW_ERR_DEVICE_LOST,
                            "%s: the Vulkan device was lost; destroy the backend", what);
    case VK_ERROR_FEATURE_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
    case VK_ERROR_LAYER_NOT_PRESENT:
    case VK_ERROR_INCOMPATIBLE_DRIVER:
        return ww_set_error(&vb->base, WW_ERR_UNSUPPORTED, "%s: not supported (VkResult %d)", what,
                            (int)r);
    default:
        return ww_set_error(&vb->base, WW_ERR_VULKAN, "%s failed (VkResult %d)", what, (int)r);
    }
}

ww_status ww_vk_submit(vk_backend *vb, VkCommandBuffer cmd, VkFence fence)
{
    if (vb->device_lost)
        return ww_set_error(&vb->base, WW_ERR_DEVICE_LOST, "the Vulkan device was lost");
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                       .commandBufferCount = 1,
                       .pCommandBuffers = &cmd};
    if (vb->queue_lock)
        vb->queue_lock(vb->queue_lock_user);
    VkResult r = vkQueueSubmit(vb->queue, 1, &si, fence);
    if (vb->queue_unlock)
        vb->queue_unlock(vb->queue_lock_user);
    return ww_vk_check(vb, r, "vkQueueSubmit");
}

static const VkApplicationInfo app_info = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                                           .pApplicationName = "winwin",
                                           .pEngineName = "winwin",
                                           .apiVersion = VK_API_VERSION_1_2};

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)type;
    vk_backend *vb = user;
    vb->base.validation_messages++;
    ww_log(&vb->base,
           severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? WW_LOG_ERROR : WW_LOG_WARNING,
           "validation: %s", data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

/* Preference of "auto" and plain "vulkan": higher is better, CPU drivers last. */
static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 0;
    default: return 1;
    }
}

static void uuid_string(const uint8_t uuid[VK_UUID_SIZE], char out[2 * VK_UUID_SIZE + 1])
{
    for (int i = 0; i < UUID_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", uuid[i]);
}

static void device_uuid(VkPhysicalDevice pd, uint8_t uuid[VK_UUID_SIZE])
{
    VkPhysicalDeviceIDProperties id = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &id};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    memcpy(uuid, id.deviceUUID, VK_UUID_SIZE);
}

/* 32 hex digits, dashes allowed: the form tools print device UUIDs in. */
static int parse_uuid(const char *s, uint8_t uuid[VK_UUID_SIZE])
{
    int nibbles = 0;
    for (; *s; s++) {
        if (*s == '-')
            continue;
        if (!isxdigit((unsigned char)*s) || nibbles >= 2 * UUID_BYTES)
            return 0;
        int v = isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10;
        if (nibbles % 2 == 0)
            uuid[nibbles / 2] = (uint8_t)(v << 4);
        else
            uuid[nibbles / 2] |= (uint8_t)v;
        nibbles++;
    }
    return nibbles == 2 * UUID_BYTES;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

static int compute_family(VkPhysicalDevice pd, uint32_t *family, int *timestamps)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties q[32];
    if (n > 32)
        n = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    for (uint32_t i = 0; i < n; i++) {
        if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *family = i;
            *timestamps = q[i].timestampValidBits > 0;
            return 1;
        }
    }
    return 0;
}

static ww_status create_instance(vk_backend *vb, int validation, char *err, size_t errlen)
{
    const char *layers[1] = {VALIDATION_LAYER};
    const char *exts[1] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    if (validation) {
        uint32_t n = 0;
        vkEnumerateInstanceLayerProperties(&n, NULL);
        VkLayerProperties *lp = calloc(n ? n : 1, sizeof *lp);
        if (!lp) {
            snprintf(err, errlen, "Vulkan: out of host memory");
            return WW_ERR_OUT_OF_MEMORY;
        }
        vkEnumerateInstanceLayerProperties(&n, lp);
        int found = 0;
        for (uint32_t i = 0; i < n; i++)
            found |= !strcmp(lp[i].layerName, VALIDATION_LAYER);
        free(lp);
        if (!found) {
            snprintf(err, errlen,
                     "Vulkan validation was asked for but %s is not installed "
                     "(Debian: vulkan-validationlayers)",
                     VALIDATION_LAYER);
            return WW_ERR_UNSUPPORTED;
        }
    }
    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_validation,
        .pUserData = vb};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pNext = validation ? &mci : NULL,
                               .pApplicationInfo = &app_info,
                               .enabledLayerCount = validation ? 1 : 0,
                               .ppEnabledLayerNames = layers,
                               .enabledExtensionCount = validation ? 1 : 0,
                               .ppEnabledExtensionNames = exts};
    VkResult r = vkCreateInstance(&ci, NULL, &vb->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER) {
        snprintf(err, errlen, "Vulkan: no driver is installed");
        return WW_ERR_NO_DEVICE;
    }
    if (r != VK_SUCCESS) {
        snprintf(err, errlen, "vkCreateInstance failed (VkResult %d)", (int)r);
        return r == VK_ERROR_OUT_OF_HOST_MEMORY ? WW_ERR_OUT_OF_MEMORY : WW_ERR_VULKAN;
    }
    vb->owns_instance = 1;
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(vb->instance, "vkCreateDebugUtilsMessengerEXT");
        if (!create || create(vb->instance, &mci, NULL, &vb->messenger) != VK_SUCCESS) {
            snprintf(err, errlen, "Vulkan: cannot install the validation message callback");
            return WW_ERR_VULKAN;
        }
    }
    return WW_OK;
}

/* Pick a physical device for `spec` (the text after "vulkan:", or "" for the best one). */
static ww_status choose_device(vk_backend *vb, const char *spec, int auto_mode, char *err,
                               size_t errlen)
{
    uint32_t n = 0;
    VkResult r = vkEnumeratePhysicalDevices(vb->instance, &n, NULL);
    if (r != VK_SUCCESS || n == 0) {
        snprintf(err, errlen, "Vulkan: no device found");
        return WW_ERR_NO_DEVICE;
    }
    VkPhysicalDevice devs[16];
    if (n > 16)
        n = 16;
    vkEnumeratePhysicalDevices(vb->instance, &n, devs);

    int chosen = -1, best_rank = -1;
    uint8_t want_uuid[VK_UUID_SIZE];
    int by_index = spec[0] && strspn(spec, "0123456789") == strlen(spec);
    int by_uuid = !by_index && parse_uuid(spec, want_uuid);
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devs[i], &p);
        uint32_t fam;
        int ts;
        if (!compute_family(devs[i], &fam, &ts))
            continue;
        if (by_index) {
            if (strtoul(spec, NULL, 10) == i)
                chosen = (int)i;
        } else if (by_uuid) {
            uint8_t u[VK_UUID_SIZE];
            device_uuid(devs[i], u);
            if (!memcmp(u, want_uuid, VK_UUID_SIZE) && chosen < 0)
                chosen = (int)i;
        } else if (spec[0]) {
            if (contains_nocase(p.deviceName, spec) && chosen < 0)
                chosen = (int)i;
        } else {
            int rank = type_rank(p.deviceType);
            if (auto_mode && rank == 0)
                continue;
            if (rank > best_rank) {
                best_rank = rank;
                chosen = (int)i;
            }
        }
    }
    if (chosen < 0) {
        if (by_index)
            snprintf(err, errlen, "Vulkan: no device with index %s (%u device%s found)", spec, n,
                     n == 1 ? "" : "s");
        else if (by_uuid)
            snprintf(err, errlen, "Vulkan: no device with UUID %s", spec);
        else if (spec[0])
            snprintf(err, errlen, "Vulkan: no device whose name contains '%s'", spec);
        else if (auto_mode)
            snprintf(err, errlen, "Vulkan: only CPU drivers found (ask for 'vulkan' to use them)");
        else
            snprintf(err, errlen, "Vulkan: no device with a compute queue");
        return WW_ERR_NO_DEVICE;
    }
    vb->phys = devs[chosen];
    return WW_OK;
}

static ww_status create_device(vk_backend *vb, char *err, size_t errlen)
{
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = vb->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci};
    VkResult r = vkCreateDevice(vb->phys, &dci, NULL, &vb->device);
    if (r != VK_SUCCESS) {
        snprintf(err, errlen, "vkCreateDevice failed on %s (VkResult %d)", vb->props.deviceName,
                 (int)r);
        return r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY
                   ? WW_ERR_OUT_OF_MEMORY
                   : WW_ERR_VULKAN;
    }
    vb->owns_device = 1;
    vkGetDeviceQueue(vb->device, vb->queue_family, 0, &vb->queue);
    return WW_OK;
}

static void vk_destroy(ww_backend *be)
{
    vk_backend *vb = (vk_backend *)be;
    if (vb->device) {
        vkDeviceWaitIdle(vb->device);
        if (vb->staging)
            ww_vk_buffer_destroy(be, &vb->staging->base);
        if (vb->dummy)
            ww_vk_buffer_destroy(be, &vb->dummy->base);
        ww_vk_pipelines_fini(vb);
        if (vb->xfer_fence)
            vkDestroyFence(vb->device, vb->xfer_fence, NULL);
        if (vb->cmd_pool)
            vkDestroyCommandPool(vb->device, vb->cmd_pool, NULL);
        if (vb->owns_device)
            vkDestroyDevice(vb->device, NULL);
    }
    if (vb->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy = (PFN_vkDestroyDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(vb->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy)
            destroy(vb->instance, vb->messenger, NULL);
    }
    if (vb->owns_instance)
        vkDestroyInstance(vb->instance, NULL);
    free(vb);
}

static const ww_backend_ops vk_ops = {
    .destroy = vk_destroy,
    .buffer_create = ww_vk_buffer_create,
    .buffer_destroy = ww_vk_buffer_destroy,
    .write = ww_vk_write,
    .read = ww_vk_read,
    .fill = ww_vk_fill,
    .seq_init = ww_vk_seq_init,
    .seq_fini = ww_vk_seq_fini,
    .seq_invalidate = ww_vk_seq_invalidate,
    .seq_run = ww_vk_seq_run,
    .seq_wait = ww_vk_seq_wait,
};

/* Limits, caps, command pool, transfer objects, pipelines. */
static ww_status init_device_state(vk_backend *vb, const ww_backend_options *opt)
{
    ww_backend *be = &vb->base;
    vkGetPhysicalDeviceProperties(vb->phys, &vb->props);
    vkGetPhysicalDeviceMemoryProperties(vb->phys, &vb->mem_props);
    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &m3};
    vkGetPhysicalDeviceProperties2(vb->phys, &p2);
    const VkPhysicalDeviceLimits *lim = &vb->props.limits;

    be->max_buffer_bytes = m3.maxMemoryAllocationSize ? (size_t)m3.maxMemoryAllocationSize
                                                       : ((size_t)1 << 30);
    be->max_binding_bytes = lim->maxStorageBufferRange;
    if (be->max_binding_bytes > be->max_buffer_bytes)
        be->max_binding_bytes = be->max_buffer_bytes;
    be->binding_alignment = lim->minStorageBufferOffsetAlignment > 256
                                ? (size_t)lim->minStorageBufferOffsetAlignment
                                : 256;
    vb->timestamps = vb->timestamps && lim->timestampPeriod > 0.0f;

    vb->caps.is_cpu = vb->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    for (int i = 0; i < 3; i++)
        vb->caps.max_groups[i] = lim->maxComputeWorkGroupCount[i];
    vb->caps.max_invocations = lim->maxComputeWorkGroupInvocations;
    vb->caps.max_shared_bytes = lim->maxComputeSharedMemorySize;
    vb->caps.gemm_variant = opt->gemm_variant;
    /* gemm, conv2d and conv_transpose2d share operands across lanes with subgroupBroadcast:
     * their SPIR-V declares the ballot capability, which Vulkan does not guarantee. */
    VkPhysicalDeviceSubgroupProperties sg = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 sp2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                       .pNext = &sg};
    vkGetPhysicalDeviceProperties2(vb->phys, &sp2);
    if (!(sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ||
        !(sg.supportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT))
        return ww_set_error(be, WW_ERR_UNSUPPORTED,
                            "%s lacks subgroup ballot operations in compute shaders",
                            vb->props.deviceName);
    if (lim->maxPushConstantsSize < sizeof(ww_op_params))
        return ww_set_error(be, WW_ERR_UNSUPPORTED,
                            "%s allows %u bytes of push constants; winwin needs %zu",
                            vb->props.deviceName, lim->maxPushConstantsSize,
                            sizeof(ww_op_params));

    if (lim->maxPerStageDescriptorStorageBuffers < WW_MAX_NODE_BINDINGS)
        return ww_set_error(be, WW_ERR_UNSUPPORTED,
                            "%s allows %u storage buffers per shader stage; winwin needs %d",
                            vb->props.deviceName, lim->maxPerStageDescriptorStorageBuffers,
                            WW_MAX_NODE_BINDINGS);

    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = vb->queue_family};
    ww_status st = ww_vk_check(vb, vkCreateCommandPool(vb->device, &pci, NULL, &vb->cmd_pool),
                               "vkCreateCommandPool");
    if (st != WW_OK)
        return st;
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = vb->cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    st = ww_vk_check(vb, vkAllocateCommandBuffers(vb->device, &cai, &vb->xfer_cmd),
                     "vkAllocateCommandBuffers");
    if (st != WW_OK)
        return st;
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    st = ww_vk_check(vb, vkCreateFence(vb->device, &fci, NULL, &vb->xfer_fence), "vkCreateFence");
    if (st != WW_OK)
        return st;
    ww_buffer *dummy;
    st = ww_vk_buffer_create(be, 256, &dummy);
    if (st != WW_OK)
        return st;
    vb->dummy = (vk_buffer *)dummy;
    const char *cache = opt->pipeline_cache_path ? opt->pipeline_cache_path
                                                 : getenv("WW_PIPELINE_CACHE");
    return ww_vk_pipelines_init(vb, cache);
}

ww_status ww_vk_backend_create(const ww_backend_options *opt, int auto_mode, ww_backend **out,
                               char *err, size_t errlen)
{
    *out = NULL;
    vk_backend *vb = calloc(1, sizeof *vb);
    if (!vb) {
        snprintf(err, errlen, "Vulkan backend: out of host memory");
        return WW_ERR_OUT_OF_MEMORY;
    }
    ww_backend *be = &vb->base;
    be->ops = &vk_ops;
    be->kind = WW_BACKEND_VULKAN;
    be->log = opt->log;
    be->log_user = opt->log_user;
    const char *env = getenv("WW_VALIDATION");
    int validation = opt->validation || (env && env[0] == '1');
    const char *dev = opt->device && !strncmp(opt->device, "vulkan:", 7) ? opt->device + 7 : "";

    ww_status st;
    if (opt->external) {
        const ww_vk_external *x = opt->external;
        if (!x->instance || !x->physical_device || !x->device || !x->queue) {
            snprintf(err, errlen, "Vulkan: external instance, physical device, device and queue "
                                  "must all be given");
            free(vb);
            return WW_ERR_INVALID;
        }
        vb->instance = (VkInstance)x->instance;
        vb->phys = (VkPhysicalDevice)x->physical_device;
        vb->device = (VkDevice)x->device;
        vb->queue = (VkQueue)x->queue;
        vb->queue_family = x->queue_family;
        vb->queue_lock = x->queue_lock;
        vb->queue_unlock = x->queue_unlock;
        vb->queue_lock_user = x->queue_lock_user;
        uint32_t fam;
        compute_family(vb->phys, &fam, &vb->timestamps);
    } else {
        st = create_instance(vb, validation, err, errlen);
        if (st == WW_OK)
            st = choose_device(vb, dev, auto_mode, err, errlen);
        if (st == WW_OK) {
            compute_family(vb->phys, &vb->queue_family, &vb->timestamps);
            vkGetPhysicalDeviceProperties(vb->phys, &vb->props);
            st = create_device(vb, err, errlen);
        }
        if (st != WW_OK) {
            vk_destroy(be);
            return st;
        }
    }
    st = init_device_state(vb, opt);
    if (st != WW_OK) {
        snprintf(err, errlen, "%s", be->err);
        vk_destroy(be);
        return st;
    }
    char uuid[2 * VK_UUID_SIZE + 1];
    uint8_t u[VK_UUID_SIZE];
    device_uuid(vb->phys, u);
    uuid_string(u, uuid);
    snprintf(be->device_name, sizeof be->device_name, "%s", vb->props.deviceName);
    ww_log(be, WW_LOG_INFO, "using Vulkan device %s (%s, UUID %s)%s", vb->props.deviceName,
           type_name(vb->props.deviceType), uuid, validation ? " with validation" : "");
    *out = be;
    return WW_OK;
}

ww_status ww_vulkan_list_devices(char (*names)[256], int max, int *count, char *err,
                                 size_t errlen)
{
    *count = 0;
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pApplicationInfo = &app_info};
    VkInstance inst;
    if (vkCreateInstance(&ci, NULL, &inst) != VK_SUCCESS) {
        snprintf(err, errlen, "Vulkan: no driver is installed");
        return WW_ERR_NO_DEVICE;
    }
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(inst, &n, NULL);
    VkPhysicalDevice devs[16];
    if (n > 16)
        n = 16;
    vkEnumeratePhysicalDevices(inst, &n, devs);
    for (uint32_t i = 0; i < n && (int)i < max; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devs[i], &p);
        uint8_t u[VK_UUID_SIZE];
        char uuid[2 * VK_UUID_SIZE + 1];
        device_uuid(devs[i], u);
        uuid_string(u, uuid);
        /* deviceName is at most 255 characters; a long one is cut, the UUID kept first. */
        snprintf(names[i], 256, "%u: %.180s (%s) %s", i, p.deviceName, type_name(p.deviceType),
                 uuid);
        (*count)++;
    }
    vkDestroyInstance(inst, NULL);
    if (n == 0) {
        snprintf(err, errlen, "Vulkan: no device found");
        return WW_ERR_NO_DEVICE;
    }
    return WW_OK;
}
