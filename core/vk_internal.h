/* Internals of the Vulkan backend, shared by its files (vk_*.c). */
#ifndef WW_VK_INTERNAL_H
#define WW_VK_INTERNAL_H

#include <vulkan/vulkan.h>

#include "vk_plan.h"
#include "ww_internal.h"

typedef struct vk_buffer {
    ww_buffer base; /* base.host: persistent mapping when host-visible */
    VkBuffer buf;
    VkDeviceMemory mem;
    int coherent;
} vk_buffer;

typedef struct vk_pipeline {
    ww_shader_id shader;
    uint32_t nspec;
    uint32_t spec[WW_VK_MAX_SPEC];
    int nbind;
    VkPipeline pipe;
} vk_pipeline;

typedef struct vk_backend {
    ww_backend base;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    int owns_instance, owns_device;
    void (*queue_lock)(void *user);
    void (*queue_unlock)(void *user);
    void *queue_lock_user;

    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem_props;
    ww_vk_caps caps;
    int timestamps; /* the queue can write timestamps */
    int device_lost;

    VkCommandPool cmd_pool;
    VkCommandBuffer xfer_cmd; /* one-shot transfers (staging copies, fills) */
    VkFence xfer_fence;
    vk_buffer *staging;
    vk_buffer *dummy; /* bound where an optional tensor is absent */

    VkPipelineCache cache;
    char *cache_path;
    VkShaderModule modules[WW_SHADER_COUNT];
    VkDescriptorSetLayout set_layouts[WW_MAX_NODE_BINDINGS + 1]; /* by binding count */
    VkPipelineLayout layouts[WW_MAX_NODE_BINDINGS + 1];
    vk_pipeline *pipes;
    int npipes, cap_pipes;
} vk_backend;

/* Map a VkResult to a status with a message naming what failed; marks the device lost. */
ww_status ww_vk_check(vk_backend *vb, VkResult r, const char *what);
/* Submit a command buffer on the (possibly shared) queue, signalling fence. */
ww_status ww_vk_submit(vk_backend *vb, VkCommandBuffer cmd, VkFence fence);

/* vk_memory.c */
ww_status ww_vk_buffer_create(ww_backend *be, size_t bytes, ww_buffer **out);
void ww_vk_buffer_destroy(ww_backend *be, ww_buffer *b);
ww_status ww_vk_write(ww_backend *be, ww_buffer *b, size_t off, const void *src, size_t n);
ww_status ww_vk_read(ww_backend *be, ww_buffer *b, size_t off, void *dst, size_t n);
ww_status ww_vk_fill(ww_backend *be, ww_buffer *b, size_t off, size_t n, uint32_t pattern);

/* vk_pipelines.c */
ww_status ww_vk_pipelines_init(vk_backend *vb, const char *cache_path);
void ww_vk_pipelines_fini(vk_backend *vb);
/* The pipeline for a planned dispatch with nbind bindings, created on first use. */
ww_status ww_vk_pipeline_get(vk_backend *vb, const ww_vk_dispatch *d, int nbind,
                             VkPipeline *out);

/* vk_seq.c */
ww_status ww_vk_seq_init(ww_seq *s);
void ww_vk_seq_fini(ww_seq *s);
void ww_vk_seq_invalidate(ww_seq *s);
ww_status ww_vk_seq_run(ww_seq *s);
ww_status ww_vk_seq_wait(ww_seq *s);

#endif
