/* The CPU backend: host buffers, and sequences run node by node with the reference kernels
 * (cpu_ops.c) on a thread pool. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ww_internal.h"

typedef struct cpu_backend {
    ww_backend base;
    ww_threads *pool;
} cpu_backend;

static void cpu_destroy(ww_backend *be)
{
    cpu_backend *c = (cpu_backend *)be;
    ww_threads_destroy(c->pool);
    free(c);
}

static ww_status cpu_buffer_create(ww_backend *be, size_t bytes, ww_buffer **out)
{
    *out = NULL;
    ww_buffer *b = malloc(sizeof *b);
    /* 64-byte alignment keeps SIMD loads and cache lines tidy; size rounded as aligned_alloc
     * requires. */
    size_t rounded = (bytes + 63) / 64 * 64;
    void *mem = b && rounded >= bytes ? aligned_alloc(64, rounded) : NULL;
    if (!mem) {
        free(b);
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of host memory",
                            bytes);
    }
    b->size = bytes;
    b->host = mem;
    ww_mem_account(be, (long long)bytes);
    *out = b;
    return WW_OK;
}

static void cpu_buffer_destroy(ww_backend *be, ww_buffer *b)
{
    if (!b)
        return;
    ww_mem_account(be, -(long long)b->size);
    free(b->host);
    free(b);
}

static ww_status cpu_write(ww_backend *be, ww_buffer *b, size_t off, const void *src, size_t n)
{
    (void)be;
    memcpy((char *)b->host + off, src, n);
    return WW_OK;
}

static ww_status cpu_read(ww_backend *be, ww_buffer *b, size_t off, void *dst, size_t n)
{
    (void)be;
    memcpy(dst, (const char *)b->host + off, n);
    return WW_OK;
}

static ww_status cpu_fill(ww_backend *be, ww_buffer *b, size_t off, size_t n, uint32_t pattern)
{
    (void)be;
    uint32_t *p = (uint32_t *)((char *)b->host + off);
    for (size_t i = 0; i < n / 4; i++)
        p[i] = pattern;
    return WW_OK;
}

static ww_status cpu_seq_init(ww_seq *s)
{
    (void)s;
    return WW_OK;
}

static void cpu_seq_nop(ww_seq *s)
{
    (void)s;
}

static ww_status cpu_seq_run(ww_seq *s)
{
    cpu_backend *c = (cpu_backend *)s->be;
    for (int i = 0; i < s->n; i++) {
        const ww_node *n = &s->nodes[i];
        void *ptr[WW_MAX_NODE_BINDINGS] = {0};
        for (int j = 0; j < n->nbind; j++)
            if (n->bind[j].t.buf)
                ptr[j] = (char *)n->bind[j].t.buf->host + n->bind[j].t.offset;
        double t0 = s->profile ? ww_now_ms() : 0.0;
        ww_cpu_run_node(n, ptr, c->pool);
        if (s->profile)
            s->op_ms[i] = ww_now_ms() - t0;
    }
    return WW_OK;
}

static ww_status cpu_seq_wait(ww_seq *s)
{
    (void)s;
    return WW_OK;
}

static const ww_backend_ops cpu_ops = {
    .destroy = cpu_destroy,
    .buffer_create = cpu_buffer_create,
    .buffer_destroy = cpu_buffer_destroy,
    .write = cpu_write,
    .read = cpu_read,
    .fill = cpu_fill,
    .seq_init = cpu_seq_init,
    .seq_fini = cpu_seq_nop,
    .seq_invalidate = cpu_seq_nop,
    .seq_run = cpu_seq_run,
    .seq_wait = cpu_seq_wait,
};

ww_status ww_cpu_backend_create(const ww_backend_options *opt, ww_backend **out, char *err,
                                size_t errlen)
{
    *out = NULL;
    cpu_backend *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "CPU backend: out of host memory");
        return WW_ERR_OUT_OF_MEMORY;
    }
    ww_status st = ww_threads_create(opt->cpu_threads, &c->pool);
    if (st != WW_OK) {
        snprintf(err, errlen, "CPU backend: cannot start %d worker threads", opt->cpu_threads);
        free(c);
        return st;
    }
    ww_backend *be = &c->base;
    be->ops = &cpu_ops;
    be->kind = WW_BACKEND_CPU;
    be->log = opt->log;
    be->log_user = opt->log_user;
    /* Shader-compatible limits keep element offsets within 32 bits on both backends. */
    be->max_binding_bytes = UINT32_MAX;
    be->max_buffer_bytes = SIZE_MAX / 2;
    be->binding_alignment = 64;
#ifdef WW_HAVE_CBLAS
    const char *gemm = "OpenBLAS";
#else
    const char *gemm = "C GEMM";
#endif
    snprintf(be->device_name, sizeof be->device_name, "CPU (%s, %d threads)", gemm,
             ww_threads_count(c->pool));
    ww_log(be, WW_LOG_INFO, "using %s", be->device_name);
    *out = be;
    return WW_OK;
}
