/* Vulkan memory: chunk buffers for arenas (device-local, mapped directly when also host-visible,
 * as on CPU drivers and resizable-BAR GPUs) and staging copies where they are not. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

#define STAGING_BYTES ((size_t)32 << 20)

static int find_type(const vk_backend *vb, uint32_t bits, VkMemoryPropertyFlags want)
{
    for (uint32_t i = 0; i < vb->mem_props.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (vb->mem_props.memoryTypes[i].propertyFlags & want) == want)
            return (int)i;
    return -1;
}

/* Create a buffer in the first memory kind of `prefs` that accepts the allocation. */
static ww_status buffer_create(vk_backend *vb, size_t bytes, const VkMemoryPropertyFlags *prefs,
                               int nprefs, vk_buffer **out)
{
    ww_backend *be = &vb->base;
    *out = NULL;
    if (bytes > be->max_buffer_bytes)
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY,
                            "cannot allocate %zu bytes: the device's largest allocation is %zu",
                            bytes, be->max_buffer_bytes);
    vk_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "out of host memory");
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = bytes,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    ww_status st = ww_vk_check(vb, vkCreateBuffer(vb->device, &bci, NULL, &b->buf),
                               "vkCreateBuffer");
    if (st != WW_OK) {
        free(b);
        return st;
    }
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vb->device, b->buf, &req);
    VkResult r = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    int type = -1;
    for (int i = 0; i < nprefs && r != VK_SUCCESS; i++) {
        type = find_type(vb, req.memoryTypeBits, prefs[i]);
        if (type < 0)
            continue;
        VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                    .allocationSize = req.size,
                                    .memoryTypeIndex = (uint32_t)type};
        r = vkAllocateMemory(vb->device, &mai, NULL, &b->mem);
    }
    if (r != VK_SUCCESS) {
        vkDestroyBuffer(vb->device, b->buf, NULL);
        free(b);
        if (r == VK_ERROR_DEVICE_LOST)
            return ww_vk_check(vb, r, "vkAllocateMemory");
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY,
                            "cannot allocate %zu bytes of device memory (VkResult %d)", bytes,
                            (int)r);
    }
    st = ww_vk_check(vb, vkBindBufferMemory(vb->device, b->buf, b->mem, 0), "vkBindBufferMemory");
    VkMemoryPropertyFlags flags = vb->mem_props.memoryTypes[type].propertyFlags;
    if (st == WW_OK && (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) {
        b->coherent = !!(flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
        st = ww_vk_check(vb, vkMapMemory(vb->device, b->mem, 0, VK_WHOLE_SIZE, 0, &b->base.host),
                         "vkMapMemory");
    }
    if (st != WW_OK) {
        vkDestroyBuffer(vb->device, b->buf, NULL);
        vkFreeMemory(vb->device, b->mem, NULL);
        free(b);
        return st;
    }
    b->base.size = bytes;
    ww_mem_account(be, (long long)bytes);
    *out = b;
    return WW_OK;
}

ww_status ww_vk_buffer_create(ww_backend *be, size_t bytes, ww_buffer **out)
{
    /* Device-local first; host-visible too is a bonus (no staging). Host memory last, so that
     * a device with a small device-local heap still runs. */
    static const VkMemoryPropertyFlags prefs[] = {
        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
            VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
    };
    vk_buffer *b;
    ww_status st = buffer_create((vk_backend *)be, bytes, prefs, 3, &b);
    *out = b ? &b->base : NULL;
    return st;
}

void ww_vk_buffer_destroy(ww_backend *be, ww_buffer *buf)
{
    vk_backend *vb = (vk_backend *)be;
    if (!buf)
        return;
    vk_buffer *b = (vk_buffer *)buf;
    if (b->base.host)
        vkUnmapMemory(vb->device, b->mem);
    vkDestroyBuffer(vb->device, b->buf, NULL);
    vkFreeMemory(vb->device, b->mem, NULL);
    ww_mem_account(be, -(long long)b->base.size);
    free(b);
}

/* Record and run one transfer command, waiting for it. */
typedef void (*record_fn)(VkCommandBuffer cmd, void *user);

static ww_status one_shot(vk_backend *vb, record_fn record, void *user)
{
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    ww_status st = ww_vk_check(vb, vkBeginCommandBuffer(vb->xfer_cmd, &bi), "vkBeginCommandBuffer");
    if (st != WW_OK)
        return st;
    record(vb->xfer_cmd, user);
    st = ww_vk_check(vb, vkEndCommandBuffer(vb->xfer_cmd), "vkEndCommandBuffer");
    if (st == WW_OK)
        st = ww_vk_submit(vb, vb->xfer_cmd, vb->xfer_fence);
    if (st != WW_OK)
        return st;
    st = ww_vk_check(vb, vkWaitForFences(vb->device, 1, &vb->xfer_fence, VK_TRUE, UINT64_MAX),
                     "vkWaitForFences");
    if (st == WW_OK)
        st = ww_vk_check(vb, vkResetFences(vb->device, 1, &vb->xfer_fence), "vkResetFences");
    return st;
}

/* Make a transfer's writes visible to later compute dispatches and host reads. */
static void transfer_done(VkCommandBuffer cmd)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                         &mb, 0, NULL, 0, NULL);
}

typedef struct copy_args {
    VkBuffer src, dst;
    VkBufferCopy region;
} copy_args;

static void record_copy(VkCommandBuffer cmd, void *user)
{
    copy_args *c = user;
    vkCmdCopyBuffer(cmd, c->src, c->dst, 1, &c->region);
    transfer_done(cmd);
}

static ww_status ensure_staging(vk_backend *vb)
{
    if (vb->staging)
        return WW_OK;
    static const VkMemoryPropertyFlags prefs[] = {
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
            VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
    };
    return buffer_create(vb, STAGING_BYTES, prefs, 2, &vb->staging);
}

/* Copy n bytes between host memory and a device-only buffer through the staging buffer. */
static ww_status staged(vk_backend *vb, vk_buffer *b, size_t off, void *host, size_t n, int up)
{
    ww_status st = ensure_staging(vb);
    for (size_t done = 0; st == WW_OK && done < n; done += STAGING_BYTES) {
        size_t part = n - done < STAGING_BYTES ? n - done : STAGING_BYTES;
        copy_args c = {.region = {.size = part}};
        if (up) {
            memcpy(vb->staging->base.host, (char *)host + done, part);
            c.src = vb->staging->buf;
            c.dst = b->buf;
            c.region.dstOffset = off + done;
        } else {
            c.src = b->buf;
            c.dst = vb->staging->buf;
            c.region.srcOffset = off + done;
        }
        st = one_shot(vb, record_copy, &c);
        if (st == WW_OK && !up)
            memcpy((char *)host + done, vb->staging->base.host, part);
    }
    return st;
}

ww_status ww_vk_write(ww_backend *be, ww_buffer *buf, size_t off, const void *src, size_t n)
{
    vk_backend *vb = (vk_backend *)be;
    vk_buffer *b = (vk_buffer *)buf;
    if (!b->base.host)
        return staged(vb, b, off, (void *)src, n, 1);
    memcpy((char *)b->base.host + off, src, n);
    if (b->coherent)
        return WW_OK;
    VkMappedMemoryRange range = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                                 .memory = b->mem,
                                 .size = VK_WHOLE_SIZE};
    return ww_vk_check(vb, vkFlushMappedMemoryRanges(vb->device, 1, &range),
                       "vkFlushMappedMemoryRanges");
}

ww_status ww_vk_read(ww_backend *be, ww_buffer *buf, size_t off, void *dst, size_t n)
{
    vk_backend *vb = (vk_backend *)be;
    vk_buffer *b = (vk_buffer *)buf;
    if (!b->base.host)
        return staged(vb, b, off, dst, n, 0);
    if (!b->coherent) {
        VkMappedMemoryRange range = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                                     .memory = b->mem,
                                     .size = VK_WHOLE_SIZE};
        ww_status st = ww_vk_check(vb, vkInvalidateMappedMemoryRanges(vb->device, 1, &range),
                                   "vkInvalidateMappedMemoryRanges");
        if (st != WW_OK)
            return st;
    }
    memcpy(dst, (const char *)b->base.host + off, n);
    return WW_OK;
}

typedef struct fill_args {
    VkBuffer buf;
    size_t off, n;
    uint32_t pattern;
} fill_args;

static void record_fill(VkCommandBuffer cmd, void *user)
{
    fill_args *f = user;
    vkCmdFillBuffer(cmd, f->buf, f->off, f->n, f->pattern);
    transfer_done(cmd);
}

ww_status ww_vk_fill(ww_backend *be, ww_buffer *buf, size_t off, size_t n, uint32_t pattern)
{
    fill_args f = {((vk_buffer *)buf)->buf, off, n, pattern};
    return one_shot((vk_backend *)be, record_fill, &f);
}
