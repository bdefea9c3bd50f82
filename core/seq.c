/* Sequences: the recorded list of ops, shared by both backends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ww_internal.h"

ww_status ww_seq_create(ww_backend *be, ww_seq **out)
{
    *out = NULL;
    ww_seq *s = calloc(1, sizeof *s);
    if (!s)
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "ww_seq_create: out of host memory");
    s->be = be;
    const char *prof = getenv("WW_PROFILE");
    s->profile = prof && prof[0] && strcmp(prof, "0") != 0;
    ww_status st = be->ops->seq_init(s);
    if (st != WW_OK) {
        free(s);
        return st;
    }
    *out = s;
    return WW_OK;
}

void ww_seq_destroy(ww_seq *s)
{
    if (!s)
        return;
    s->be->ops->seq_fini(s);
    free(s->nodes);
    free(s->op_ms);
    free(s);
}

void ww_seq_clear(ww_seq *s)
{
    s->n = 0;
    s->be->ops->seq_invalidate(s);
}

int ww_seq_length(const ww_seq *s)
{
    return s->n;
}

int ww_seq_barriers(const ww_seq *s)
{
    return s->barriers;
}

ww_status ww_seq_append(ww_seq *s, const ww_node *node)
{
    ww_backend *be = s->be;
    for (int i = 0; i < node->nbind; i++) {
        const ww_binding *b = &node->bind[i];
        if (b->t.buf && b->hi > b->t.buf->size)
            return ww_set_error(be, WW_ERR_INVALID,
                                "%s: tensor %d reaches byte %zu of a %zu-byte buffer",
                                ww_op_name(node->op), i, b->hi, b->t.buf->size);
        if (b->t.buf && b->hi - b->lo > be->max_binding_bytes)
            return ww_set_error(be, WW_ERR_UNSUPPORTED,
                                "%s: tensor %d spans %zu bytes, more than one binding may "
                                "hold on this device (%zu)",
                                ww_op_name(node->op), i, b->hi - b->lo, be->max_binding_bytes);
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        ww_node *nodes = realloc(s->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes)
            return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "sequence: out of host memory");
        s->nodes = nodes;
        double *ms = realloc(s->op_ms, (size_t)cap * sizeof *ms);
        if (!ms)
            return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "sequence: out of host memory");
        s->op_ms = ms;
        s->cap = cap;
    }
    s->nodes[s->n] = *node;
    s->op_ms[s->n] = 0.0;
    s->n++;
    be->ops->seq_invalidate(s);
    return WW_OK;
}

ww_status ww_seq_run(ww_seq *s)
{
    return s->be->ops->seq_run(s);
}

ww_status ww_seq_wait(ww_seq *s)
{
    return s->be->ops->seq_wait(s);
}

ww_status ww_seq_print_profile(ww_seq *s, void *f)
{
    if (!s->profile)
        return ww_set_error(s->be, WW_ERR_INVALID,
                            "ww_seq_print_profile: profiling is off (set WW_PROFILE=1 before "
                            "creating the sequence)");
    double total_ms[WW_OP_COUNT] = {0}, all = 0.0;
    int count[WW_OP_COUNT] = {0};
    for (int i = 0; i < s->n; i++) {
        total_ms[s->nodes[i].op] += s->op_ms[i];
        count[s->nodes[i].op]++;
        all += s->op_ms[i];
    }
    FILE *out = f;
    fprintf(out, "%-12s %6s %10s %7s\n", "op", "count", "total ms", "share");
    for (int op = 0; op < WW_OP_COUNT; op++) {
        if (!count[op])
            continue;
        fprintf(out, "%-12s %6d %10.3f %6.1f%%\n", ww_op_name((ww_op)op), count[op], total_ms[op],
                all > 0 ? 100.0 * total_ms[op] / all : 0.0);
    }
    fprintf(out, "%-12s %6d %10.3f   (%d barriers)\n", "all", s->n, all, s->barriers);
    return WW_OK;
}
