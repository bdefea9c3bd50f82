/* Vulkan sequences: all ops of a sequence recorded into one command buffer, with a barrier only
 * where a dispatch touches memory that an earlier dispatch since the last barrier wrote (or
 * writes memory one read), and re-submitted unchanged while the op list stays the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

typedef struct range {
    const ww_buffer *buf;
    size_t lo, hi;
} range;

typedef struct vk_seq {
    VkCommandBuffer cmd;
    VkFence fence;
    int recorded;  /* cmd holds the current node list */
    int in_flight; /* submitted, not yet waited for */
    VkDescriptorPool pool;
    uint32_t pool_sets; /* sets the pool was sized for */
    VkQueryPool queries;
    uint32_t query_count;
    range *reads, *writes; /* since the last barrier */
    int nreads, nwrites, cap_ranges;
} vk_seq;

ww_status ww_vk_seq_init(ww_seq *s)
{
    vk_backend *vb = (vk_backend *)s->be;
    vk_seq *q = calloc(1, sizeof *q);
    if (!q)
        return ww_set_error(s->be, WW_ERR_OUT_OF_MEMORY, "out of host memory");
    s->priv = q;
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = vb->cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    ww_status st = ww_vk_check(vb, vkAllocateCommandBuffers(vb->device, &cai, &q->cmd),
                               "vkAllocateCommandBuffers");
    if (st != WW_OK)
        return st;
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    return ww_vk_check(vb, vkCreateFence(vb->device, &fci, NULL, &q->fence), "vkCreateFence");
}

void ww_vk_seq_fini(ww_seq *s)
{
    vk_backend *vb = (vk_backend *)s->be;
    vk_seq *q = s->priv;
    if (!q)
        return;
    if (q->in_flight)
        vkWaitForFences(vb->device, 1, &q->fence, VK_TRUE, UINT64_MAX);
    if (q->fence)
        vkDestroyFence(vb->device, q->fence, NULL);
    if (q->cmd)
        vkFreeCommandBuffers(vb->device, vb->cmd_pool, 1, &q->cmd);
    if (q->pool)
        vkDestroyDescriptorPool(vb->device, q->pool, NULL);
    if (q->queries)
        vkDestroyQueryPool(vb->device, q->queries, NULL);
    free(q->reads);
    free(q->writes);
    free(q);
}

void ww_vk_seq_invalidate(ww_seq *s)
{
    ((vk_seq *)s->priv)->recorded = 0;
}

static ww_status wait_fence(vk_backend *vb, vk_seq *q)
{
    if (!q->in_flight)
        return WW_OK;
    ww_status st = ww_vk_check(vb, vkWaitForFences(vb->device, 1, &q->fence, VK_TRUE, UINT64_MAX),
                               "vkWaitForFences");
    q->in_flight = 0;
    if (st == WW_OK)
        st = ww_vk_check(vb, vkResetFences(vb->device, 1, &q->fence), "vkResetFences");
    return st;
}

/* Descriptor pool and query pool big enough for n nodes. */
static ww_status ensure_pools(vk_backend *vb, vk_seq *q, uint32_t n, int profile)
{
    if (q->pool && q->pool_sets >= n) {
        ww_status st = ww_vk_check(vb, vkResetDescriptorPool(vb->device, q->pool, 0),
                                   "vkResetDescriptorPool");
        if (st != WW_OK)
            return st;
    } else {
        if (q->pool)
            vkDestroyDescriptorPool(vb->device, q->pool, NULL);
        q->pool = VK_NULL_HANDLE;
        VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                     .descriptorCount = n * WW_MAX_NODE_BINDINGS};
        VkDescriptorPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                          .maxSets = n,
                                          .poolSizeCount = 1,
                                          .pPoolSizes = &size};
        ww_status st = ww_vk_check(vb, vkCreateDescriptorPool(vb->device, &pci, NULL, &q->pool),
                                   "vkCreateDescriptorPool");
        if (st != WW_OK)
            return st;
        q->pool_sets = n;
    }
    if (profile && vb->timestamps && q->query_count < 2 * n) {
        if (q->queries)
            vkDestroyQueryPool(vb->device, q->queries, NULL);
        q->queries = VK_NULL_HANDLE;
        q->query_count = 0;
        VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                     .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                     .queryCount = 2 * n};
        ww_status st = ww_vk_check(vb, vkCreateQueryPool(vb->device, &qci, NULL, &q->queries),
                                   "vkCreateQueryPool");
        if (st != WW_OK)
            return st;
        q->query_count = 2 * n;
    }
    return WW_OK;
}

static int hits(const range *list, int n, const ww_binding *b)
{
    for (int i = 0; i < n; i++)
        if (list[i].buf == b->t.buf && list[i].lo < b->hi && b->lo < list[i].hi)
            return 1;
    return 0;
}

static ww_status track(vk_backend *vb, vk_seq *q, const ww_node *n)
{
    int need = q->nreads + q->nwrites + n->nbind;
    if (need > q->cap_ranges) {
        int cap = need * 2;
        range *r = realloc(q->reads, (size_t)cap * sizeof *r);
        if (!r)
            return ww_set_error(&vb->base, WW_ERR_OUT_OF_MEMORY, "out of host memory");
        q->reads = r;
        range *w = realloc(q->writes, (size_t)cap * sizeof *w);
        if (!w)
            return ww_set_error(&vb->base, WW_ERR_OUT_OF_MEMORY, "out of host memory");
        q->writes = w;
        q->cap_ranges = cap;
    }
    for (int i = 0; i < n->nbind; i++) {
        const ww_binding *b = &n->bind[i];
        if (!b->t.buf)
            continue;
        range r = {b->t.buf, b->lo, b->hi};
        if (b->written)
            q->writes[q->nwrites++] = r;
        else
            q->reads[q->nreads++] = r;
    }
    return WW_OK;
}

/* A barrier is needed before node n when it reads what was written since the last barrier, or
 * writes what was read or written since then. */
static int needs_barrier(const vk_seq *q, const ww_node *n)
{
    for (int i = 0; i < n->nbind; i++) {
        const ww_binding *b = &n->bind[i];
        if (!b->t.buf)
            continue;
        if (hits(q->writes, q->nwrites, b) || (b->written && hits(q->reads, q->nreads, b)))
            return 1;
    }
    return 0;
}

static ww_status record_node(ww_seq *s, const ww_node *n, uint32_t index)
{
    vk_backend *vb = (vk_backend *)s->be;
    vk_seq *q = s->priv;
    ww_backend *be = &vb->base;
    ww_vk_dispatch d;
    char err[512] = "";
    ww_status st = ww_vk_plan(n, &vb->caps, &d, err, sizeof err);
    if (st != WW_OK)
        return ww_set_error(be, st, "%s: %s", ww_op_name(n->op), err);
    VkPipeline pipe;
    st = ww_vk_pipeline_get(vb, &d, n->nbind, &pipe);
    if (st != WW_OK)
        return st;

    VkDescriptorSet set;
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = q->pool,
                                      .descriptorSetCount = 1,
                                      .pSetLayouts = &vb->set_layouts[n->nbind]};
    st = ww_vk_check(vb, vkAllocateDescriptorSets(vb->device, &ai, &set),
                     "vkAllocateDescriptorSets");
    if (st != WW_OK)
        return st;

    ww_op_params params = n->p;
    VkDescriptorBufferInfo info[WW_MAX_NODE_BINDINGS];
    VkWriteDescriptorSet wr[WW_MAX_NODE_BINDINGS];
    size_t align = vb->props.limits.minStorageBufferOffsetAlignment;
    for (int i = 0; i < n->nbind; i++) {
        const ww_binding *b = &n->bind[i];
        if (!b->t.buf) {
            info[i] = (VkDescriptorBufferInfo){vb->dummy->buf, 0, VK_WHOLE_SIZE};
            params.words[i] = 0;
        } else {
            /* Bind from an aligned offset at or below the tensor; the rest goes in off[i]. The
             * range is rounded up to whole words (inside the buffer) for byte tensors. */
            size_t lo = b->lo / align * align;
            size_t hi = (b->hi + 3) / 4 * 4;
            if (hi > b->t.buf->size)
                hi = b->t.buf->size;
            info[i] = (VkDescriptorBufferInfo){((const vk_buffer *)b->t.buf)->buf, lo, hi - lo};
            params.words[i] = (uint32_t)((b->t.offset - lo) / ww_dtype_size(b->t.type));
        }
        wr[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                       .dstSet = set,
                                       .dstBinding = (uint32_t)i,
                                       .descriptorCount = 1,
                                       .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                       .pBufferInfo = &info[i]};
    }
    vkUpdateDescriptorSets(vb->device, (uint32_t)n->nbind, wr, 0, NULL);

    if (needs_barrier(q, n)) {
        VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                              .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
        vkCmdPipelineBarrier(q->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
        q->nreads = q->nwrites = 0;
        s->barriers++;
    }
    st = track(vb, q, n);
    if (st != WW_OK)
        return st;

    int timed = s->profile && q->queries;
    if (timed)
        vkCmdWriteTimestamp(q->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, q->queries, 2 * index);
    vkCmdBindPipeline(q->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    vkCmdBindDescriptorSets(q->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, vb->layouts[n->nbind], 0, 1,
                            &set, 0, NULL);
    vkCmdPushConstants(q->cmd, vb->layouts[n->nbind], VK_SHADER_STAGE_COMPUTE_BIT, 0,
                       (n->params_size + 3) / 4 * 4, &params);
    vkCmdDispatch(q->cmd, d.groups[0], d.groups[1], d.groups[2]);
    if (timed)
        vkCmdWriteTimestamp(q->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, q->queries,
                            2 * index + 1);
    return WW_OK;
}

static ww_status record(ww_seq *s)
{
    vk_backend *vb = (vk_backend *)s->be;
    vk_seq *q = s->priv;
    ww_status st = ensure_pools(vb, q, s->n ? (uint32_t)s->n : 1, s->profile);
    if (st != WW_OK)
        return st;
    st = ww_vk_check(vb, vkResetCommandBuffer(q->cmd, 0), "vkResetCommandBuffer");
    if (st != WW_OK)
        return st;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    st = ww_vk_check(vb, vkBeginCommandBuffer(q->cmd, &bi), "vkBeginCommandBuffer");
    if (st != WW_OK)
        return st;
    /* Host writes (ww_tensor_write into mapped memory) and the dispatches of sequences submitted
     * earlier (a runner's encoder before its decoder) must be visible to the first dispatch. */
    VkMemoryBarrier before = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_HOST_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    vkCmdPipelineBarrier(q->cmd, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &before, 0, NULL, 0, NULL);
    if (s->profile && q->queries)
        vkCmdResetQueryPool(q->cmd, q->queries, 0, q->query_count);
    q->nreads = q->nwrites = 0;
    s->barriers = 0;
    for (int i = 0; i < s->n && st == WW_OK; i++)
        st = record_node(s, &s->nodes[i], (uint32_t)i);
    /* Results must be visible to host reads after the fence. */
    VkMemoryBarrier done = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                            .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                            .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT};
    vkCmdPipelineBarrier(q->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &done,
                         0, NULL, 0, NULL);
    ww_status end = ww_vk_check(vb, vkEndCommandBuffer(q->cmd), "vkEndCommandBuffer");
    if (st == WW_OK)
        st = end;
    q->recorded = st == WW_OK;
    return st;
}

ww_status ww_vk_seq_run(ww_seq *s)
{
    vk_backend *vb = (vk_backend *)s->be;
    vk_seq *q = s->priv;
    if (vb->device_lost)
        return ww_set_error(s->be, WW_ERR_DEVICE_LOST, "the Vulkan device was lost");
    ww_status st = wait_fence(vb, q);
    if (st == WW_OK && !q->recorded)
        st = record(s);
    if (st == WW_OK)
        st = ww_vk_submit(vb, q->cmd, q->fence);
    if (st == WW_OK)
        q->in_flight = 1;
    return st;
}

static void read_profile(vk_backend *vb, ww_seq *s)
{
    vk_seq *q = s->priv;
    if (!q->queries || !s->n)
        return;
    uint64_t *ts = malloc(2 * (size_t)s->n * sizeof *ts);
    if (!ts)
        return;
    if (vkGetQueryPoolResults(vb->device, q->queries, 0, 2 * (uint32_t)s->n,
                              2 * (size_t)s->n * sizeof *ts, ts, sizeof *ts,
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS) {
        double period_ms = vb->props.limits.timestampPeriod * 1e-6;
        for (int i = 0; i < s->n; i++)
            s->op_ms[i] = (double)(ts[2 * i + 1] - ts[2 * i]) * period_ms;
    }
    free(ts);
}

ww_status ww_vk_seq_wait(ww_seq *s)
{
    vk_backend *vb = (vk_backend *)s->be;
    vk_seq *q = s->priv;
    int was_running = q->in_flight;
    ww_status st = wait_fence(vb, q);
    if (st == WW_OK && was_running && s->profile)
        read_profile(vb, s);
    return st;
}
