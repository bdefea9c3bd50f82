/* Status strings, error messages and logging shared by both backends. */
#include <stdio.h>
#include <string.h>

#include "ww_internal.h"

const char *ww_status_str(ww_status s)
{
    switch (s) {
    case WW_OK: return "ok";
    case WW_ERR_INVALID: return "invalid argument";
    case WW_ERR_NO_DEVICE: return "no such device";
    case WW_ERR_UNSUPPORTED: return "unsupported by the device";
    case WW_ERR_OUT_OF_MEMORY: return "out of memory";
    case WW_ERR_DEVICE_LOST: return "device lost";
    case WW_ERR_VULKAN: return "Vulkan error";
    case WW_ERR_IO: return "I/O error";
    }
    return "unknown status";
}

ww_status ww_set_error(ww_backend *be, ww_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(be->err, sizeof be->err, fmt, ap);
    va_end(ap);
    ww_log(be, WW_LOG_ERROR, "%s", be->err);
    return status;
}

void ww_log(ww_backend *be, int level, const char *fmt, ...)
{
    if (!be->log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    be->log(be->log_user, level, msg);
}

const char *ww_backend_error(const ww_backend *be)
{
    return be->err;
}

void ww_mem_account(ww_backend *be, long long delta)
{
    be->mem_in_use = (size_t)((long long)be->mem_in_use + delta);
    if (be->mem_in_use > be->mem_peak)
        be->mem_peak = be->mem_in_use;
}

size_t ww_backend_memory_in_use(const ww_backend *be)
{
    return be->mem_in_use;
}

size_t ww_backend_memory_peak(const ww_backend *be)
{
    return be->mem_peak;
}

size_t ww_backend_max_binding(const ww_backend *be)
{
    return be->max_binding_bytes;
}

uint64_t ww_backend_validation_messages(const ww_backend *be)
{
    return be->validation_messages;
}
