/* Tensor views and host transfers (backend-independent parts). */
#include <string.h>

#include "ww_internal.h"

size_t ww_dtype_size(ww_dtype t)
{
    return t == WW_U8 ? 1 : 4;
}

int64_t ww_tensor_nelements(const ww_tensor *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

int ww_tensor_is_contiguous(const ww_tensor *t)
{
    int64_t expect = 1;
    for (int i = 0; i < 4; i++) {
        if (t->ne[i] != 1 && t->nb[i] != expect)
            return 0;
        expect *= t->ne[i];
    }
    return 1;
}

ww_tensor ww_tensor_view(const ww_tensor *t, int64_t elem_offset, const int64_t ne[4],
                         const int64_t nb[4])
{
    ww_tensor v = *t;
    v.offset = t->offset + (size_t)elem_offset * ww_dtype_size(t->type);
    memcpy(v.ne, ne, sizeof v.ne);
    memcpy(v.nb, nb, sizeof v.nb);
    return v;
}

static ww_status check_transfer(ww_backend *be, const ww_tensor *t, size_t bytes,
                                const char *what)
{
    if (!t || !t->buf)
        return ww_set_error(be, WW_ERR_INVALID, "%s: tensor is NULL", what);
    if (!ww_tensor_is_contiguous(t))
        return ww_set_error(be, WW_ERR_INVALID, "%s: tensor is not contiguous", what);
    size_t size = (size_t)ww_tensor_nelements(t) * ww_dtype_size(t->type);
    if (bytes != size)
        return ww_set_error(be, WW_ERR_INVALID, "%s: %zu bytes given, the tensor holds %zu",
                            what, bytes, size);
    if (t->offset + size > t->buf->size)
        return ww_set_error(be, WW_ERR_INVALID, "%s: tensor lies outside its buffer", what);
    return WW_OK;
}

ww_status ww_tensor_write(ww_backend *be, const ww_tensor *t, const void *src, size_t bytes)
{
    ww_status st = check_transfer(be, t, bytes, "ww_tensor_write");
    if (st != WW_OK)
        return st;
    return be->ops->write(be, t->buf, t->offset, src, bytes);
}

ww_status ww_tensor_read(ww_backend *be, const ww_tensor *t, void *dst, size_t bytes)
{
    ww_status st = check_transfer(be, t, bytes, "ww_tensor_read");
    if (st != WW_OK)
        return st;
    return be->ops->read(be, t->buf, t->offset, dst, bytes);
}

ww_status ww_tensor_fill(ww_backend *be, const ww_tensor *t, uint32_t pattern)
{
    if (!t || !t->buf)
        return ww_set_error(be, WW_ERR_INVALID, "ww_tensor_fill: tensor is NULL");
    size_t bytes = (size_t)ww_tensor_nelements(t) * ww_dtype_size(t->type);
    ww_status st = check_transfer(be, t, bytes, "ww_tensor_fill");
    if (st != WW_OK)
        return st;
    if (t->offset % 4 || bytes % 4)
        return ww_set_error(be, WW_ERR_INVALID,
                            "ww_tensor_fill: offset and size must be multiples of 4 bytes");
    return be->ops->fill(be, t->buf, t->offset, bytes, pattern);
}
