/* Compute pipelines: shader modules from the embedded SPIR-V, one descriptor-set layout per
 * binding count, pipelines created on first use per (shader, specialization constants), and the
 * pipeline cache, optionally kept on disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static void load_cache_file(const char *path, void **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && fseek(f, 0, SEEK_SET) == 0) {
            *data = malloc((size_t)n);
            if (*data && fread(*data, 1, (size_t)n, f) == (size_t)n)
                *size = (size_t)n;
        }
    }
    if (!*size) {
        free(*data);
        *data = NULL;
    }
    fclose(f);
}

ww_status ww_vk_pipelines_init(vk_backend *vb, const char *cache_path)
{
    ww_status st;
    void *data = NULL;
    size_t size = 0;
    if (cache_path) {
        vb->cache_path = strdup(cache_path);
        if (!vb->cache_path)
            return ww_set_error(&vb->base, WW_ERR_OUT_OF_MEMORY, "out of host memory");
        /* The driver checks the header (vendor, device, cache UUID) and ignores a stale file. */
        load_cache_file(cache_path, &data, &size);
    }
    VkPipelineCacheCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                     .initialDataSize = size,
                                     .pInitialData = data};
    st = ww_vk_check(vb, vkCreatePipelineCache(vb->device, &pci, NULL, &vb->cache),
                     "vkCreatePipelineCache");
    free(data);
    if (st != WW_OK)
        return st;

    for (int i = 0; i < WW_SHADER_COUNT; i++) {
        VkShaderModuleCreateInfo mci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                        .codeSize = ww_vk_shaders[i].size,
                                        .pCode = ww_vk_shaders[i].code};
        st = ww_vk_check(vb, vkCreateShaderModule(vb->device, &mci, NULL, &vb->modules[i]),
                         ww_vk_shaders[i].name);
        if (st != WW_OK)
            return st;
    }

    VkDescriptorSetLayoutBinding b[WW_MAX_NODE_BINDINGS];
    for (int i = 0; i < WW_MAX_NODE_BINDINGS; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = (uint32_t)i,
                                              .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                               .size = sizeof(ww_op_params)};
    for (int n = 1; n <= WW_MAX_NODE_BINDINGS; n++) {
        VkDescriptorSetLayoutCreateInfo dci = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
            .bindingCount = (uint32_t)n,
            .pBindings = b};
        st = ww_vk_check(vb,
                         vkCreateDescriptorSetLayout(vb->device, &dci, NULL, &vb->set_layouts[n]),
                         "vkCreateDescriptorSetLayout");
        if (st != WW_OK)
            return st;
        VkPipelineLayoutCreateInfo lci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                          .setLayoutCount = 1,
                                          .pSetLayouts = &vb->set_layouts[n],
                                          .pushConstantRangeCount = 1,
                                          .pPushConstantRanges = &pcr};
        st = ww_vk_check(vb, vkCreatePipelineLayout(vb->device, &lci, NULL, &vb->layouts[n]),
                         "vkCreatePipelineLayout");
        if (st != WW_OK)
            return st;
    }
    return WW_OK;
}

static void save_cache(vk_backend *vb)
{
    size_t size = 0;
    if (vkGetPipelineCacheData(vb->device, vb->cache, &size, NULL) != VK_SUCCESS || !size)
        return;
    void *data = malloc(size);
    if (!data)
        return;
    if (vkGetPipelineCacheData(vb->device, vb->cache, &size, data) == VK_SUCCESS) {
        /* Write then rename, so a crash never leaves a truncated cache behind. */
        char tmp[4096];
        if (snprintf(tmp, sizeof tmp, "%s.tmp", vb->cache_path) < (int)sizeof tmp) {
            FILE *f = fopen(tmp, "wb");
            int ok = f && fwrite(data, 1, size, f) == size;
            if (f)
                ok = (fclose(f) == 0) && ok;
            if (ok && rename(tmp, vb->cache_path) == 0)
                ww_log(&vb->base, WW_LOG_DEBUG, "pipeline cache saved to %s", vb->cache_path);
            else
                ww_log(&vb->base, WW_LOG_WARNING, "cannot write the pipeline cache %s",
                       vb->cache_path);
        }
    }
    free(data);
}

void ww_vk_pipelines_fini(vk_backend *vb)
{
    for (int i = 0; i < vb->npipes; i++)
        vkDestroyPipeline(vb->device, vb->pipes[i].pipe, NULL);
    free(vb->pipes);
    for (int n = 1; n <= WW_MAX_NODE_BINDINGS; n++) {
        if (vb->layouts[n])
            vkDestroyPipelineLayout(vb->device, vb->layouts[n], NULL);
        if (vb->set_layouts[n])
            vkDestroyDescriptorSetLayout(vb->device, vb->set_layouts[n], NULL);
    }
    for (int i = 0; i < WW_SHADER_COUNT; i++)
        if (vb->modules[i])
            vkDestroyShaderModule(vb->device, vb->modules[i], NULL);
    if (vb->cache) {
        if (vb->cache_path)
            save_cache(vb);
        vkDestroyPipelineCache(vb->device, vb->cache, NULL);
    }
    free(vb->cache_path);
}

ww_status ww_vk_pipeline_get(vk_backend *vb, const ww_vk_dispatch *d, int nbind, VkPipeline *out)
{
    for (int i = 0; i < vb->npipes; i++) {
        const vk_pipeline *p = &vb->pipes[i];
        if (p->shader == d->shader && p->nbind == nbind && p->nspec == d->nspec &&
            !memcmp(p->spec, d->spec, d->nspec * sizeof d->spec[0])) {
            *out = p->pipe;
            return WW_OK;
        }
    }
    if (vb->npipes == vb->cap_pipes) {
        int cap = vb->cap_pipes ? vb->cap_pipes * 2 : 32;
        vk_pipeline *p = realloc(vb->pipes, (size_t)cap * sizeof *p);
        if (!p)
            return ww_set_error(&vb->base, WW_ERR_OUT_OF_MEMORY, "out of host memory");
        vb->pipes = p;
        vb->cap_pipes = cap;
    }
    VkSpecializationMapEntry map[WW_VK_MAX_SPEC];
    for (uint32_t i = 0; i < d->nspec; i++)
        map[i] = (VkSpecializationMapEntry){.constantID = i,
                                            .offset = i * (uint32_t)sizeof(uint32_t),
                                            .size = sizeof(uint32_t)};
    VkSpecializationInfo si = {.mapEntryCount = d->nspec,
                               .pMapEntries = map,
                               .dataSize = d->nspec * sizeof(uint32_t),
                               .pData = d->spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = vb->modules[d->shader],
                  .pName = "main",
                  .pSpecializationInfo = &si},
        .layout = vb->layouts[nbind]};
    VkPipeline pipe;
    char what[128];
    snprintf(what, sizeof what, "vkCreateComputePipelines (%s)", ww_vk_shaders[d->shader].name);
    ww_status st = ww_vk_check(
        vb, vkCreateComputePipelines(vb->device, vb->cache, 1, &ci, NULL, &pipe), what);
    if (st != WW_OK)
        return st;
    vk_pipeline *p = &vb->pipes[vb->npipes++];
    p->shader = d->shader;
    p->nbind = nbind;
    p->nspec = d->nspec;
    memcpy(p->spec, d->spec, sizeof p->spec);
    p->pipe = pipe;
    *out = pipe;
    return WW_OK;
}
