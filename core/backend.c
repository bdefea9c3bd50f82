/* Backend creation: parse the device string and pick the CPU or the Vulkan backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ww_internal.h"

ww_status ww_backend_create(const ww_backend_options *opt, ww_backend **out, char *err,
                            size_t errlen)
{
    static const ww_backend_options defaults = {0};
    char scratch[1024];
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = 0;
    *out = NULL;
    if (!opt)
        opt = &defaults;
    const char *dev = opt->device && opt->device[0] ? opt->device : "auto";

    if (!strcmp(dev, "cpu"))
        return ww_cpu_backend_create(opt, out, err, errlen);
    if (!strcmp(dev, "vulkan") || !strncmp(dev, "vulkan:", 7))
        return ww_vk_backend_create(opt, 0, out, err, errlen);
    if (strcmp(dev, "auto") != 0) {
        snprintf(err, errlen,
                 "unknown device '%s' (expected auto, cpu, vulkan, vulkan:N, vulkan:NAME or "
                 "vulkan:UUID)",
                 dev);
        return WW_ERR_INVALID;
    }

    char vk_err[1024];
    ww_status st = ww_vk_backend_create(opt, 1, out, vk_err, sizeof vk_err);
    if (st == WW_OK)
        return st;
    /* auto works everywhere: without a usable GPU it runs on the CPU backend, and says why. */
    st = ww_cpu_backend_create(opt, out, err, errlen);
    if (st == WW_OK)
        ww_log(*out, WW_LOG_INFO, "auto: %s; using the CPU backend", vk_err);
    return st;
}

void ww_backend_destroy(ww_backend *be)
{
    if (be)
        be->ops->destroy(be);
}

ww_backend_kind ww_backend_kind_of(const ww_backend *be)
{
    return be->kind;
}

const char *ww_backend_device_name(const ww_backend *be)
{
    return be->device_name;
}
