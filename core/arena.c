/* Arenas: tensors bump-allocated from a few large backend buffers (chunks). Chunks survive
 * ww_arena_reset(), so re-planning the same shapes allocates no device memory. */
#include <stdlib.h>
#include <string.h>

#include "ww_internal.h"

#define WW_DEFAULT_CHUNK ((size_t)64 << 20)

typedef struct chunk {
    ww_buffer *buf;
    size_t used;
} chunk;

struct ww_arena {
    ww_backend *be;
    size_t chunk_bytes;
    chunk *chunks;
    int n, cap;
};

ww_status ww_arena_create(ww_backend *be, size_t chunk_bytes, ww_arena **out)
{
    *out = NULL;
    ww_arena *a = calloc(1, sizeof *a);
    if (!a)
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "ww_arena_create: out of host memory");
    a->be = be;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : WW_DEFAULT_CHUNK;
    if (a->chunk_bytes > be->max_buffer_bytes)
        a->chunk_bytes = be->max_buffer_bytes;
    *out = a;
    return WW_OK;
}

ww_backend *ww_arena_backend(const ww_arena *a)
{
    return a->be;
}

void ww_arena_destroy(ww_arena *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->n; i++)
        a->be->ops->buffer_destroy(a->be, a->chunks[i].buf);
    free(a->chunks);
    free(a);
}

size_t ww_arena_used(const ww_arena *a)
{
    size_t used = 0;
    for (int i = 0; i < a->n; i++)
        used += a->chunks[i].used;
    return used;
}

void ww_arena_reset(ww_arena *a)
{
    for (int i = 0; i < a->n; i++)
        a->chunks[i].used = 0;
}

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static ww_status add_chunk(ww_arena *a, size_t bytes)
{
    ww_backend *be = a->be;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 4;
        chunk *c = realloc(a->chunks, (size_t)cap * sizeof *c);
        if (!c)
            return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "arena: out of host memory");
        a->chunks = c;
        a->cap = cap;
    }
    ww_buffer *buf;
    ww_status st = be->ops->buffer_create(be, bytes, &buf);
    if (st != WW_OK)
        return st;
    a->chunks[a->n].buf = buf;
    a->chunks[a->n].used = 0;
    a->n++;
    return WW_OK;
}

/* Take bytes from a chunk with room, or from a new chunk; flat tensors get a chunk of their own. */
static ww_status place(ww_arena *a, size_t bytes, int own_chunk, ww_buffer **buf, size_t *offset)
{
    int found = -1;
    size_t at = 0;
    for (int i = 0; i < a->n && found < 0 && !own_chunk; i++) {
        at = align_up(a->chunks[i].used, a->be->binding_alignment);
        if (at + bytes <= a->chunks[i].buf->size)
            found = i;
    }
    if (found < 0) {
        WW_TRY(add_chunk(a, own_chunk || bytes > a->chunk_bytes ? bytes : a->chunk_bytes));
        found = a->n - 1;
        at = 0;
    }
    a->chunks[found].used = at + bytes;
    *buf = a->chunks[found].buf;
    *offset = at;
    return WW_OK;
}

ww_status ww_arena_alloc_flat(ww_arena *a, ww_dtype type, int64_t count, ww_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (type != WW_F32 && type != WW_U32 && type != WW_U8)
        return ww_set_error(a->be, WW_ERR_INVALID, "ww_arena_alloc_flat: unknown dtype %d",
                            (int)type);
    if (count < 1 || count > ((int64_t)1 << 50))
        return ww_set_error(a->be, WW_ERR_INVALID, "ww_arena_alloc_flat: %lld elements",
                            (long long)count);
    WW_TRY(place(a, align_up((size_t)count * ww_dtype_size(type), 4), 1, &out->buf, &out->offset));
    out->type = type;
    out->ne[0] = count;
    out->nb[0] = 1;
    for (int i = 1; i < 4; i++) {
        out->ne[i] = 1;
        out->nb[i] = count;
    }
    return WW_OK;
}

ww_status ww_arena_alloc(ww_arena *a, ww_dtype type, int n, const int64_t *ne, ww_tensor *out)
{
    ww_backend *be = a->be;
    memset(out, 0, sizeof *out);
    if (n < 1 || n > 4 || !ne)
        return ww_set_error(be, WW_ERR_INVALID, "ww_arena_alloc: %d dimensions (1 to 4 allowed)",
                            n);
    if (type != WW_F32 && type != WW_U32 && type != WW_U8)
        return ww_set_error(be, WW_ERR_INVALID, "ww_arena_alloc: unknown dtype %d", (int)type);
    int64_t dims[4] = {1, 1, 1, 1};
    size_t count = 1;
    for (int i = 0; i < n; i++) {
        if (ne[i] < 1)
            return ww_set_error(be, WW_ERR_INVALID, "ww_arena_alloc: dimension %d is %lld", i,
                                (long long)ne[i]);
        dims[i] = ne[i];
        if ((size_t)ne[i] > ((size_t)1 << 50) / count)
            return ww_set_error(be, WW_ERR_OUT_OF_MEMORY,
                                "ww_arena_alloc: tensor of more than 2^50 elements");
        count *= (size_t)ne[i];
    }
    size_t bytes = align_up(count * ww_dtype_size(type), 4);
    if (bytes > be->max_binding_bytes)
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY,
                            "ww_arena_alloc: tensor of %zu bytes exceeds the largest range one "
                            "op may bind on this device (%zu bytes)",
                            bytes, be->max_binding_bytes);

    WW_TRY(place(a, bytes, 0, &out->buf, &out->offset));
    out->type = type;
    int64_t stride = 1;
    for (int i = 0; i < 4; i++) {
        out->ne[i] = dims[i];
        out->nb[i] = stride;
        stride *= dims[i];
    }
    return WW_OK;
}
