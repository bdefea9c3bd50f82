/* CroCo-family models: configuration from a safetensors file's metadata and weights from its
 * tensors, every name, dtype and shape checked against the configuration before upload. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "safetensors.h"
#include "ww_internal.h"

const char *ww_task_name(ww_task t)
{
    switch (t) {
    case WW_TASK_FLOW: return "flow";
    case WW_TASK_DEPTH: return "depth";
    case WW_TASK_SEG: return "seg";
    }
    return "unknown";
}

/* ---- Loading ---------------------------------------------------------------------------------- */

/* The weights are walked twice in the same order: the first pass checks every tensor against
 * the file and counts the elements of each kind, the second places each tensor in the flat
 * array (decayed kinds first) and fills it. A shadow walk places views into another flat array
 * of the same layout (the gradients) and fills nothing. */
typedef struct loader {
    ww_model *m;
    ww_st_file *f;  /* NULL: random weights from rng (ww_model_create) */
    uint64_t rng;
    const char *path;
    int pass;       /* 0: check and count, 1: place */
    int fill;       /* pass 1: upload values (from f or rng) */
    ww_tensor flat; /* pass 1: the array the tensors are views of */
    int64_t ndecay, nplain; /* pass 0: elements of each kind; pass 1: placed so far */
    int ntensors;
    float *host;
    size_t host_cap;
} loader;

static ww_status load_error(loader *ld, ww_status st, const char *msg)
{
    return ww_set_error(ld->m->be, st, "%s", msg);
}

/* Pass 0: record the tensor's name and shape in the model's table. */
static ww_status remember(loader *ld, const char *name, int ndim, const int64_t *shape)
{
    ww_model *m = ld->m;
    if (m->ntensors == m->cap_tensors) {
        int cap = m->cap_tensors ? 2 * m->cap_tensors : 256;
        ww_model_tensor *t = realloc(m->tensors, (size_t)cap * sizeof *t);
        if (!t)
            return load_error(ld, WW_ERR_OUT_OF_MEMORY, "model: out of host memory");
        m->tensors = t;
        m->cap_tensors = cap;
    }
    ww_model_tensor *t = &m->tensors[m->ntensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name)
        return load_error(ld, WW_ERR_OUT_OF_MEMORY, "model: out of host memory");
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    m->ntensors++;
    return WW_OK;
}

/* Weights for benchmarks and training from scratch: LayerNorm weights 1, biases 0, linear layers
 * Xavier-uniform (CroCo's _init_weights), convolution kernels LeCun-uniform, U(+-sqrt(3 / fan_in))
 * with fan_in = shape[1] * kh * kw (as torch counts it for Conv2d and ConvTranspose2d), which
 * keeps the signal's scale through the DPT's chain of convolutions. A small fixed scale such as
 * ViT's 0.02 (or torch's default, a third of the variance) shrinks it at every convolution, whose
 * fan-in is small in the head, until the output and its gradients are ~0 and a model trained
 * from scratch barely moves. Uniform draws from xorshift: reproducible. */
static void random_init(loader *ld, const char *name, int ndim, const int64_t *shape, float *dst,
                        size_t count)
{
    size_t len = strlen(name);
    int is_bias = len > 5 && !strcmp(name + len - 5, ".bias");
    int is_norm = ndim == 1 && !is_bias;
    double bound = 0.02 * 1.7320508075688772;
    if (ndim == 2)
        bound = sqrt(6.0 / (double)(shape[0] + shape[1]));
    else if (ndim == 4)
        bound = sqrt(3.0 / (double)(shape[1] * shape[2] * shape[3]));
    for (size_t i = 0; i < count; i++) {
        if (is_bias || is_norm) {
            dst[i] = is_norm ? 1.0f : 0.0f;
            continue;
        }
        ld->rng ^= ld->rng << 13;
        ld->rng ^= ld->rng >> 7;
        ld->rng ^= ld->rng << 17;
        double u = (double)(ld->rng >> 11) / 9007199254740992.0; /* [0, 1) */
        dst[i] = (float)((2.0 * u - 1.0) * bound);
    }
}

void ww_model_probe_offset(int j, int *dy, int *dx)
{
    static const int offsets[17][2] = {{0, 0},  {0, 1},  {0, -1}, {1, 0},  {-1, 0}, {1, 1},
                                       {1, -1}, {-1, 1}, {-1, -1}, {0, 2}, {0, -2}, {2, 0},
                                       {-2, 0}, {2, 2},  {-2, -2}, {2, -2}, {-2, 2}};
    int i = (j % 17 + 17) % 17; /* any int, negative too */
    *dy = offsets[i][0];
    *dx = offsets[i][1];
}

/* A flow model must find, for each frame-1 token, where its content went in frame 2, and
 * cross-attention cannot say where by matching content: RoPE rotates q and k but not v, so a
 * head that finds the matching token returns its content, not its position. What can say it is
 * a head that looks at a fixed offset, so that the layers after it compare what lies there with
 * the token's own content. From random q and k, training does not find such heads: micro models
 * stayed at zero flow's error for 48,000 pairs of pure translations and 83,000 procedural pairs,
 * and learnt whole-token shifts within 300 steps once started as probes
 * (models/flow/assessment.md). So the cross-attention q and k of a random flow decoder are
 * constants (weights 0, biases set) whose rotations line up for the frame-2 token at the head's
 * offset, on the 3 fastest RoPE frequencies of each axis, scaled so that the softmax logit of
 * that token leads its axis neighbours' by PROBE_LOGIT_GAP. Training is free to make them
 * depend on content. Returns 1 when name is one of those tensors, after filling dst. */
#define PROBE_FREQS 3
#define PROBE_LOGIT_GAP 4.0
static int probe_init(const ww_model_config *c, const char *name, float *dst, size_t count)
{
    int block, end = 0;
    char which;
    if (sscanf(name, "dec_blocks.%d.cross_attn.proj%c.%n", &block, &which, &end) != 2 || !end ||
        (which != 'q' && which != 'k'))
        return 0;
    memset(dst, 0, count * sizeof *dst);
    if (strcmp(name + end, "bias"))
        return 1; /* the weight */
    int Dh = c->dec_dim / c->dec_heads, half = Dh / 2, pairs = half / 2;
    int nf = pairs < PROBE_FREQS ? pairs : PROBE_FREQS;
    double theta[PROBE_FREQS], spread = 0;
    for (int f = 0; f < nf; f++) {
        theta[f] = pow(WW_ROPE_BASE, -2.0 * f / half);
        spread += 1 - cos(theta[f]);
    }
    /* logit(offset) - logit(a neighbour) = a^2 * spread / sqrt(Dh) */
    double a = sqrt(PROBE_LOGIT_GAP * sqrt((double)Dh) / spread);
    for (int h = 0; h < c->dec_heads; h++) {
        int delta[2];
        ww_model_probe_offset(block * c->dec_heads + h, &delta[0], &delta[1]);
        for (int axis = 0; axis < 2; axis++) { /* y rotates the first half, x the second */
            float *v = dst + (size_t)h * Dh + (size_t)axis * half;
            for (int f = 0; f < nf; f++) {
                /* k is q turned back by the offset's angle: (q at p) . (k at p') is
                 * a^2 cos(theta (p + delta - p')), largest at p' = p + delta */
                v[f] = (float)(which == 'q' ? a : a * cos(delta[axis] * theta[f]));
                v[f + pairs] = (float)(which == 'q' ? 0 : -a * sin(delta[axis] * theta[f]));
            }
        }
    }
    return 1;
}

/* One tensor of the given shape (slowest dim first, as in the file): pass 0 checks and counts
 * it, pass 1 makes it a view of the flat array and fills it. Weight decay applies to matrices
 * and kernels (ndim >= 2), not to norms and biases. */
static ww_status tensor(loader *ld, const char *name, int ndim, const int64_t *shape, ww_tensor *out)
{
    char err[1024];
    int64_t ne[4] = {1, 1, 1, 1}, nb[4];
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        ne[i] = shape[ndim - 1 - i];
        count *= (size_t)shape[i];
    }
    int64_t *placed = ndim >= 2 ? &ld->ndecay : &ld->nplain;
    if (ld->pass == 0) {
        if (ld->f) {
            ww_status st = ww_st_expect(ld->f, name, ndim, shape, err, sizeof err);
            if (st != WW_OK)
                return load_error(ld, st, err);
        }
        *placed += (int64_t)count;
        return remember(ld, name, ndim, shape);
    }
    int64_t offset = *placed + (ndim >= 2 ? 0 : ld->m->ndecay);
    *placed += (int64_t)count;
    nb[0] = 1;
    for (int i = 1; i < 4; i++)
        nb[i] = nb[i - 1] * ne[i - 1];
    *out = ww_tensor_view(&ld->flat, offset, ne, nb);
    if (!ld->fill)
        return WW_OK;
    ld->m->tensors[ld->ntensors++].offset = offset;
    if (count > ld->host_cap) {
        float *h = realloc(ld->host, count * sizeof *h);
        if (!h)
            return load_error(ld, WW_ERR_OUT_OF_MEMORY, "model: out of host memory");
        ld->host = h;
        ld->host_cap = count;
    }
    if (ld->f) {
        ww_status st = ww_st_read_f32(ld->f, ww_st_find(ld->f, name), ld->host, count, err,
                                      sizeof err);
        if (st != WW_OK)
            return load_error(ld, st, err);
    } else if (!probe_init(&ld->m->cfg, name, ld->host, count)) {
        random_init(ld, name, ndim, shape, ld->host, count);
    }
    return ww_tensor_write(ld->m->be, out, ld->host, count * sizeof(float));
}

/* prefix.weight [out, in, k, k] (or [out, in] when k == 0) and prefix.bias [out] if has_bias. */
static ww_status layer(loader *ld, const char *prefix, int64_t out, int64_t in, int k, int has_bias,
                       lin *l)
{
    char name[320]; /* a 255-character prefix and a suffix */
    int64_t shape[4] = {out, in, k, k};
    snprintf(name, sizeof name, "%s.weight", prefix);
    ww_status st = tensor(ld, name, k ? 4 : 2, shape, &l->w);
    memset(&l->b, 0, sizeof l->b);
    if (st == WW_OK && has_bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        st = tensor(ld, name, 1, &out, &l->b);
    }
    return st;
}

/* LayerNorm prefix.weight, prefix.bias, both [dim]. */
static ww_status norm(loader *ld, const char *prefix, int64_t dim, lin *l)
{
    char name[320]; /* a 255-character prefix and a suffix */
    snprintf(name, sizeof name, "%s.weight", prefix);
    ww_status st = tensor(ld, name, 1, &dim, &l->w);
    if (st == WW_OK) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        st = tensor(ld, name, 1, &dim, &l->b);
    }
    return st;
}

/* Transposed convolutions store [in, out, k, k]. */
static ww_status layer_t(loader *ld, const char *prefix, int64_t ch, int k, lin *l)
{
    char name[320]; /* a 255-character prefix and a suffix */
    int64_t shape[4] = {ch, ch, k, k};
    snprintf(name, sizeof name, "%s.weight", prefix);
    ww_status st = tensor(ld, name, 4, shape, &l->w);
    if (st == WW_OK) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        st = tensor(ld, name, 1, &shape[0], &l->b);
    }
    return st;
}

static ww_status attention_block(loader *ld, const char *p, int64_t dim, lin *n1, lin *qkv,
                                 lin *proj)
{
    char name[256];
    snprintf(name, sizeof name, "%s.norm1", p);
    WW_TRY(norm(ld, name, dim, n1));
    snprintf(name, sizeof name, "%s.attn.qkv", p);
    WW_TRY(layer(ld, name, 3 * dim, dim, 0, 1, qkv));
    snprintf(name, sizeof name, "%s.attn.proj", p);
    return layer(ld, name, dim, dim, 0, 1, proj);
}

static ww_status mlp_block(loader *ld, const char *p, const char *norm_name, int64_t dim, lin *n,
                           lin *fc1, lin *fc2)
{
    char name[256];
    snprintf(name, sizeof name, "%s.%s", p, norm_name);
    WW_TRY(norm(ld, name, dim, n));
    snprintf(name, sizeof name, "%s.mlp.fc1", p);
    WW_TRY(layer(ld, name, 4 * dim, dim, 0, 1, fc1));
    snprintf(name, sizeof name, "%s.mlp.fc2", p);
    return layer(ld, name, dim, 4 * dim, 0, 1, fc2);
}

static ww_status load_weights(loader *ld)
{
    ww_model *m = ld->m;
    const ww_model_config *c = &m->cfg;
    char p[128], name[256];
    WW_TRY(layer(ld, "patch_embed.proj", c->enc_dim, 3, c->patch, 1, &m->patch));
    for (int i = 0; i < c->enc_depth; i++) {
        enc_block *b = &m->enc[i];
        snprintf(p, sizeof p, "enc_blocks.%d", i);
        WW_TRY(attention_block(ld, p, c->enc_dim, &b->n1, &b->qkv, &b->proj));
        WW_TRY(mlp_block(ld, p, "norm2", c->enc_dim, &b->n2, &b->fc1, &b->fc2));
    }
    WW_TRY(norm(ld, "enc_norm", c->enc_dim, &m->enc_norm));
    if (c->dec_depth) {
        WW_TRY(layer(ld, "decoder_embed", c->dec_dim, c->enc_dim, 0, 1, &m->dec_embed));
        for (int i = 0; i < c->dec_depth; i++) {
            dec_block *b = &m->dec[i];
            snprintf(p, sizeof p, "dec_blocks.%d", i);
            WW_TRY(attention_block(ld, p, c->dec_dim, &b->n1, &b->qkv, &b->proj));
            snprintf(name, sizeof name, "%s.norm_y", p);
            WW_TRY(norm(ld, name, c->dec_dim, &b->ny));
            snprintf(name, sizeof name, "%s.norm2", p);
            WW_TRY(norm(ld, name, c->dec_dim, &b->n2));
            static const char *const proj[4] = {"projq", "projk", "projv", "proj"};
            lin *dst[4] = {&b->q, &b->k, &b->v, &b->cproj};
            for (int j = 0; j < 4; j++) {
                snprintf(name, sizeof name, "%s.cross_attn.%s", p, proj[j]);
                WW_TRY(layer(ld, name, c->dec_dim, c->dec_dim, 0, 1, dst[j]));
            }
            WW_TRY(mlp_block(ld, p, "norm3", c->dec_dim, &b->n3, &b->fc1, &b->fc2));
        }
        WW_TRY(norm(ld, "dec_norm", c->dec_dim, &m->dec_norm));
    }
    dpt *d = &m->dpt;
    const int64_t F = c->feature_dim;
    for (int i = 0; i < 4; i++) {
        int64_t in = c->hooks[i] < c->enc_depth ? c->enc_dim : c->dec_dim, l = c->layer_dims[i];
        snprintf(name, sizeof name, "head.dpt.act_postprocess.%d.0", i);
        WW_TRY(layer(ld, name, l, in, 1, 1, &d->post[i]));
        snprintf(name, sizeof name, "head.dpt.act_postprocess.%d.1", i);
        if (i < 2)
            WW_TRY(layer_t(ld, name, l, i == 0 ? 4 : 2, &d->resize[i]));
        else if (i == 3)
            WW_TRY(layer(ld, name, l, l, 3, 1, &d->resize[i]));
        snprintf(name, sizeof name, "head.dpt.scratch.layer_rn.%d", i);
        WW_TRY(layer(ld, name, F, l, 3, 0, &d->rn[i]));
        refine *r = &d->ref[i];
        lin *convs[4] = {&r->rcu1_c1, &r->rcu1_c2, &r->rcu2_c1, &r->rcu2_c2};
        for (int j = 0; j < 4; j++) {
            snprintf(name, sizeof name, "head.dpt.scratch.refinenet%d.resConfUnit%d.conv%d", i + 1,
                     j / 2 + 1, j % 2 + 1);
            WW_TRY(layer(ld, name, F, F, 3, 1, convs[j]));
        }
        snprintf(name, sizeof name, "head.dpt.scratch.refinenet%d.out_conv", i + 1);
        WW_TRY(layer(ld, name, F, F, 1, 1, &r->out));
    }
    if (c->semseg) {
        WW_TRY(layer(ld, "head.dpt.head.0", F, F, 3, 0, &d->head[0]));
        WW_TRY(layer(ld, "head.dpt.head.4", c->out_channels, F, 1, 1, &d->head[1]));
    } else {
        WW_TRY(layer(ld, "head.dpt.head.0", F / 2, F, 3, 1, &d->head[0]));
        WW_TRY(layer(ld, "head.dpt.head.2", c->head_hidden, F / 2, 3, 1, &d->head[1]));
        WW_TRY(layer(ld, "head.dpt.head.4", c->out_channels, c->head_hidden, 1, 1, &d->head[2]));
    }
    return WW_OK;
}

/* Every tensor of the file must be a weight of the configuration, or training state that
 * checkpoints keep beside the weights (names under "train."). */
static ww_status check_unexpected(loader *ld)
{
    ww_model *m = ld->m;
    int n = m->ntensors, cap = n + ww_st_count(ld->f);
    const char **known = malloc((size_t)cap * sizeof *known);
    if (!known)
        return load_error(ld, WW_ERR_OUT_OF_MEMORY, "model: out of host memory");
    for (int i = 0; i < m->ntensors; i++)
        known[i] = m->tensors[i].name;
    for (int i = 0; i < ww_st_count(ld->f); i++)
        if (!strncmp(ww_st_at(ld->f, i)->name, "train.", 6))
            known[n++] = ww_st_at(ld->f, i)->name;
    char err[1024];
    ww_status st = ww_st_unexpected(ld->f, known, n, err, sizeof err);
    free(known);
    return st == WW_OK ? st : load_error(ld, st, err);
}

/* Check a configuration and derive the DPT hooks; `what` names it in errors. */
static ww_status config_finish(ww_backend *be, const char *what, ww_model_config *c)
{
    if (c->enc_dim % c->enc_heads || (c->enc_dim / c->enc_heads) % 4 ||
        (c->dec_depth && (c->dec_dim % c->dec_heads || (c->dec_dim / c->dec_heads) % 4)))
        return ww_set_error(be, WW_ERR_INVALID,
                            "%s: embedding dims must split into heads of a multiple of 4 values",
                            what);
    if (c->feature_dim % 2)
        return ww_set_error(be, WW_ERR_INVALID, "%s: feature_dim %d is odd", what,
                            c->feature_dim);
    /* DPT hooks: the published rule, generalised to other depths (tests/reference/README.md). */
    int step;
    if (c->dec_depth) {
        step = c->dec_depth == 8 ? 3 : c->dec_depth == 12 ? 4 : c->dec_depth == 24 ? 8
                                                                                    : c->dec_depth / 3;
        if (step < 1)
            step = 1;
    } else {
        step = c->enc_depth / 4 > 0 ? c->enc_depth / 4 : 1;
    }
    int last = c->enc_depth + c->dec_depth - 1;
    for (int i = 0; i < 4; i++) {
        c->hooks[i] = last - (3 - i) * step;
        if (c->hooks[i] < 0)
            return ww_set_error(be, WW_ERR_INVALID,
                                "%s: %d encoder + %d decoder blocks are too few for 4 DPT hooks",
                                what, c->enc_depth, c->dec_depth);
    }
    return WW_OK;
}

/* Integer metadata: required when def < 0. */
static ww_status meta_int(loader *ld, const char *key, int def, int lo, int hi, int *out)
{
    const char *v = ww_st_meta(ld->f, key);
    if (!v) {
        if (def < 0)
            return ww_set_error(ld->m->be, WW_ERR_INVALID, "%s: metadata '%s' is missing",
                                ld->path, key);
        *out = def;
        return WW_OK;
    }
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return ww_set_error(ld->m->be, WW_ERR_INVALID,
                            "%s: metadata '%s' = '%s' is not an integer in [%d, %d]", ld->path, key,
                            v, lo, hi);
    *out = (int)x;
    return WW_OK;
}

/* n comma-separated numbers; missing key -> defaults. */
static ww_status meta_list(loader *ld, const char *key, int n, const double *def, double *out)
{
    const char *v = ww_st_meta(ld->f, key);
    if (!v) {
        memcpy(out, def, (size_t)n * sizeof *out);
        return WW_OK;
    }
    const char *s = v;
    for (int i = 0; i < n; i++) {
        char *end;
        out[i] = strtod(s, &end);
        if (end == s || !isfinite(out[i]) || (i + 1 < n ? *end != ',' : *end != 0))
            return ww_set_error(ld->m->be, WW_ERR_INVALID,
                                "%s: metadata '%s' = '%s' is not %d comma-separated numbers",
                                ld->path, key, v, n);
        s = end + 1;
    }
    return WW_OK;
}

static ww_status load_config(loader *ld)
{
    ww_model_config *c = &ld->m->cfg;
    const char *task = ww_st_meta(ld->f, "task");
    if (!task)
        return ww_set_error(ld->m->be, WW_ERR_INVALID,
                            "%s: metadata 'task' is missing (flow, depth or seg)", ld->path);
    if (!strcmp(task, "flow"))
        c->task = WW_TASK_FLOW;
    else if (!strcmp(task, "depth"))
        c->task = WW_TASK_DEPTH;
    else if (!strcmp(task, "seg"))
        c->task = WW_TASK_SEG;
    else
        return ww_set_error(ld->m->be, WW_ERR_INVALID,
                            "%s: metadata 'task' = '%s' (expected flow, depth or seg)", ld->path,
                            task);
    WW_TRY(meta_int(ld, "patch_size", 16, 16, 16, &c->patch));
    WW_TRY(meta_int(ld, "enc_embed_dim", -1, 4, 8192, &c->enc_dim));
    WW_TRY(meta_int(ld, "enc_depth", -1, 1, 256, &c->enc_depth));
    WW_TRY(meta_int(ld, "enc_num_heads", -1, 1, 256, &c->enc_heads));
    int binocular = c->task == WW_TASK_FLOW;
    WW_TRY(meta_int(ld, "dec_depth", binocular ? -1 : 0, binocular ? 1 : 0, 256, &c->dec_depth));
    if (c->dec_depth) {
        WW_TRY(meta_int(ld, "dec_embed_dim", -1, 4, 8192, &c->dec_dim));
        WW_TRY(meta_int(ld, "dec_num_heads", -1, 1, 256, &c->dec_heads));
    }
    WW_TRY(meta_int(ld, "feature_dim", 256, 2, 4096, &c->feature_dim));
    WW_TRY(meta_int(ld, "head_hidden", 32, 1, 4096, &c->head_hidden));
    WW_TRY(meta_int(ld, "out_channels", -1, 1, 4096, &c->out_channels));
    const char *head = ww_st_meta(ld->f, "head");
    c->semseg = head ? !strcmp(head, "semseg") : c->task == WW_TASK_SEG;
    if (head && !c->semseg && strcmp(head, "regression"))
        return ww_set_error(ld->m->be, WW_ERR_INVALID,
                            "%s: metadata 'head' = '%s' (expected regression or semseg)", ld->path,
                            head);
    double v[4];
    static const double dims[4] = {96, 192, 384, 768}, mean[3] = {0.485, 0.456, 0.406},
                        std[3] = {0.229, 0.224, 0.225};
    WW_TRY(meta_list(ld, "layer_dims", 4, dims, v));
    for (int i = 0; i < 4; i++) {
        if (v[i] < 1 || v[i] > 8192 || v[i] != floor(v[i]))
            return ww_set_error(ld->m->be, WW_ERR_INVALID, "%s: layer_dims[%d] = %g", ld->path,
                                i, v[i]);
        c->layer_dims[i] = (int)v[i];
    }
    WW_TRY(meta_list(ld, "mean", 3, mean, v));
    for (int i = 0; i < 3; i++)
        c->mean[i] = (float)v[i];
    WW_TRY(meta_list(ld, "std", 3, std, v));
    for (int i = 0; i < 3; i++)
        c->std[i] = (float)v[i];
    return config_finish(ld->m->be, ld->path, c);
}

static ww_status alloc_blocks(ww_model *m)
{
    m->enc = calloc((size_t)m->cfg.enc_depth, sizeof *m->enc);
    m->dec = calloc((size_t)(m->cfg.dec_depth ? m->cfg.dec_depth : 1), sizeof *m->dec);
    if (!m->enc || !m->dec)
        return ww_set_error(m->be, WW_ERR_OUT_OF_MEMORY, "model: out of host memory");
    return WW_OK;
}

/* Check and count every weight, allocate the flat array, then place and fill every weight (from
 * ld->f or random). */
static ww_status build(loader *ld)
{
    ww_model *m = ld->m;
    ww_status st = alloc_blocks(m);
    if (st == WW_OK)
        st = load_weights(ld);
    if (st == WW_OK && ld->f)
        st = check_unexpected(ld);
    if (st == WW_OK) {
        m->ndecay = ld->ndecay;
        m->nparams = ld->ndecay + ld->nplain;
        st = ww_arena_create(m->be, 0, &m->arena);
    }
    if (st == WW_OK)
        st = ww_arena_alloc_flat(m->arena, WW_F32, m->nparams, &m->flat);
    if (st == WW_OK) {
        *ld = (loader){.m = m, .f = ld->f, .rng = ld->rng, .path = ld->path, .pass = 1,
                       .fill = 1, .flat = m->flat};
        st = load_weights(ld);
    }
    free(ld->host);
    return st;
}

ww_status ww_model_shadow(const ww_model *m, const ww_tensor *flat, ww_model *out)
{
    memset(out, 0, sizeof *out);
    out->be = m->be;
    out->cfg = m->cfg;
    out->nparams = m->nparams;
    out->ndecay = m->ndecay;
    out->flat = *flat;
    out->tensors = m->tensors;
    out->ntensors = m->ntensors;
    WW_TRY(alloc_blocks(out));
    loader ld = {.m = out, .path = "model", .pass = 1, .flat = *flat};
    return load_weights(&ld);
}

void ww_model_shadow_free(ww_model *shadow)
{
    free(shadow->enc);
    free(shadow->dec);
}

static ww_status keep_metadata(ww_model *m, const ww_st_file *f)
{
    int n = ww_st_meta_count(f);
    m->meta = calloc((size_t)(2 * n + 1), sizeof *m->meta);
    if (!m->meta)
        return ww_set_error(m->be, WW_ERR_OUT_OF_MEMORY, "model: out of host memory");
    for (int i = 0; i < n; i++) {
        const char *k, *v;
        ww_st_meta_at(f, i, &k, &v);
        m->meta[2 * i] = strdup(k);
        m->meta[2 * i + 1] = strdup(v);
        m->nmeta = i + 1;
        if (!m->meta[2 * i] || !m->meta[2 * i + 1])
            return ww_set_error(m->be, WW_ERR_OUT_OF_MEMORY, "model: out of host memory");
    }
    return WW_OK;
}

ww_status ww_model_load(ww_backend *be, const char *path, ww_model **out)
{
    *out = NULL;
    ww_model *m = calloc(1, sizeof *m);
    if (!m)
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "model: out of host memory");
    m->be = be;
    loader ld = {.m = m, .path = path};
    char err[1024];
    ww_status st = ww_st_open(path, &ld.f, err, sizeof err);
    if (st != WW_OK)
        st = ww_set_error(be, st, "%s", err);
    if (st == WW_OK)
        st = load_config(&ld);
    if (st == WW_OK)
        st = keep_metadata(m, ld.f);
    if (st == WW_OK)
        st = build(&ld);
    ww_st_close(ld.f);
    if (st != WW_OK) {
        ww_model_destroy(m);
        return st;
    }
    *out = m;
    return WW_OK;
}

ww_status ww_model_create(ww_backend *be, const ww_model_config *cfg, uint64_t seed,
                          ww_model **out)
{
    *out = NULL;
    ww_model *m = calloc(1, sizeof *m);
    if (!m)
        return ww_set_error(be, WW_ERR_OUT_OF_MEMORY, "model: out of host memory");
    m->be = be;
    m->cfg = *cfg;
    loader ld = {.m = m, .path = "model configuration", .rng = seed * 2654435761u + 1};
    ww_status st = config_finish(be, ld.path, &m->cfg);
    if (st == WW_OK)
        st = build(&ld);
    if (st != WW_OK) {
        ww_model_destroy(m);
        return st;
    }
    *out = m;
    return WW_OK;
}

ww_status ww_model_preset(const char *size, ww_task task, ww_model_config *out)
{
    /* name, encoder dim / depth / heads, decoder dim / depth / heads, DPT widths, fusion width.
     * "micro" is the size of the shipped default models: a few MB, trainable on a CPU. */
    static const struct {
        const char *name;
        int ed, edep, eh, dd, ddep, dh;
        int layers[4], features;
    } presets[] = {
        {"micro", 128, 6, 4, 128, 4, 4, {32, 64, 128, 128}, 64},
        {"tiny", 192, 12, 3, 192, 8, 3, {96, 192, 384, 768}, 256},
        {"small", 384, 12, 6, 384, 12, 6, {96, 192, 384, 768}, 256},
        {"base", 768, 12, 12, 768, 12, 12, {96, 192, 384, 768}, 256},
        {"croco-flow", 1024, 24, 16, 768, 12, 12, {96, 192, 384, 768}, 256},
    };
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(size, presets[i].name))
            continue;
        *out = (ww_model_config){
            .task = task, .patch = 16,
            .enc_dim = presets[i].ed, .enc_depth = presets[i].edep, .enc_heads = presets[i].eh,
            .layer_dims = {presets[i].layers[0], presets[i].layers[1], presets[i].layers[2],
                           presets[i].layers[3]},
            .feature_dim = presets[i].features, .head_hidden = 32,
            .semseg = task == WW_TASK_SEG,
            .out_channels = task == WW_TASK_FLOW ? 3 : task == WW_TASK_DEPTH ? 1 : 19,
            .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
        if (task == WW_TASK_FLOW) {
            out->dec_dim = presets[i].dd;
            out->dec_depth = presets[i].ddep;
            out->dec_heads = presets[i].dh;
        }
        return WW_OK;
    }
    return WW_ERR_INVALID;
}

void ww_model_destroy(ww_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->ntensors; i++)
        free(m->tensors[i].name);
    free(m->tensors);
    for (int i = 0; i < 2 * m->nmeta; i++)
        free(m->meta[i]);
    free(m->meta);
    ww_arena_destroy(m->arena);
    free(m->enc);
    free(m->dec);
    free(m);
}

const ww_model_config *ww_model_config_of(const ww_model *m)
{
    return &m->cfg;
}

int64_t ww_model_parameters(const ww_model *m)
{
    return m->nparams;
}

size_t ww_model_memory(const ww_model *m)
{
    return ww_arena_used(m->arena);
}

ww_tensor ww_model_params(const ww_model *m)
{
    return m->flat;
}

int64_t ww_model_decayed(const ww_model *m)
{
    return m->ndecay;
}

int ww_model_tensor_count(const ww_model *m)
{
    return m->ntensors;
}

ww_status ww_model_tensor_info(const ww_model *m, int i, const char **name, int *ndim,
                               int64_t shape[4], int64_t *offset)
{
    if (i < 0 || i >= m->ntensors)
        return ww_set_error(m->be, WW_ERR_INVALID, "model: no tensor number %d (it has %d)", i,
                            m->ntensors);
    const ww_model_tensor *t = &m->tensors[i];
    *name = t->name;
    *ndim = t->ndim;
    memcpy(shape, t->shape, sizeof t->shape);
    *offset = t->offset;
    return WW_OK;
}

/* ---- Saving ----------------------------------------------------------------------------------- */

enum { CONFIG_KEYS = 16 };

/* The configuration as metadata pairs (what load_config reads), printed into text. */
static int config_metadata(const ww_model_config *c, char text[CONFIG_KEYS][96],
                           const char *pairs[2 * CONFIG_KEYS])
{
    int n = 0;
#define PAIR(key, ...)                                                                             \
    do {                                                                                           \
        snprintf(text[n], sizeof text[n], __VA_ARGS__);                                            \
        pairs[2 * n] = key;                                                                        \
        pairs[2 * n + 1] = text[n];                                                                \
        n++;                                                                                       \
    } while (0)
    PAIR("winwin.format", "1");
    PAIR("task", "%s", ww_task_name(c->task));
    PAIR("patch_size", "%d", c->patch);
    PAIR("enc_embed_dim", "%d", c->enc_dim);
    PAIR("enc_depth", "%d", c->enc_depth);
    PAIR("enc_num_heads", "%d", c->enc_heads);
    PAIR("dec_embed_dim", "%d", c->dec_dim);
    PAIR("dec_depth", "%d", c->dec_depth);
    PAIR("dec_num_heads", "%d", c->dec_heads);
    PAIR("layer_dims", "%d,%d,%d,%d", c->layer_dims[0], c->layer_dims[1], c->layer_dims[2],
         c->layer_dims[3]);
    PAIR("feature_dim", "%d", c->feature_dim);
    PAIR("head_hidden", "%d", c->head_hidden);
    PAIR("head", "%s", c->semseg ? "semseg" : "regression");
    PAIR("out_channels", "%d", c->out_channels);
    PAIR("mean", "%.9g,%.9g,%.9g", c->mean[0], c->mean[1], c->mean[2]);
    PAIR("std", "%.9g,%.9g,%.9g", c->std[0], c->std[1], c->std[2]);
#undef PAIR
    return n;
}

static int has_key(const char *const *pairs, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(pairs[2 * i], key))
            return 1;
    return 0;
}

static ww_status save(ww_model *m, const char *path, int half, const char *const *meta,
                      int nmeta_pairs, const ww_named_array *extra, int nextra)
{
    for (int i = 0; i < nextra; i++)
        if (strncmp(extra[i].name, "train.", 6))
            return ww_set_error(m->be, WW_ERR_INVALID,
                                "%s: extra array '%s' must be named train.*", path,
                                extra[i].name);
    char text[CONFIG_KEYS][96];
    const char *config[2 * CONFIG_KEYS];
    int nconfig = config_metadata(&m->cfg, text, config);
    for (int i = 0; i < nmeta_pairs; i++)
        if (has_key(config, nconfig, meta[2 * i]))
            return ww_set_error(m->be, WW_ERR_INVALID,
                                "%s: metadata key '%s' belongs to the model's configuration", path,
                                meta[2 * i]);
    int nmax = CONFIG_KEYS + m->nmeta + nmeta_pairs;
    const char **pairs = malloc((size_t)(2 * nmax) * sizeof *pairs);
    ww_st_entry *entries = calloc((size_t)(m->ntensors + nextra), sizeof *entries);
    float *host = malloc((size_t)m->nparams * sizeof *host);
    ww_status st = WW_OK;
    if (!pairs || !entries || !host)
        st = ww_set_error(m->be, WW_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    if (st == WW_OK)
        st = ww_tensor_read(m->be, &m->flat, host, (size_t)m->nparams * sizeof *host);
    if (st == WW_OK && half) { /* in place: element i's 2 bytes never overtake element i's 4 */
        uint16_t *h = (uint16_t *)host;
        for (int64_t i = 0; i < m->nparams; i++)
            h[i] = ww_st_f32_to_f16(host[i]);
    }
    if (st == WW_OK) {
        /* The configuration, what the loaded file said beyond it (class names, palette,
         * provenance) unless the caller replaces it, then the caller's pairs. */
        int n = nconfig;
        memcpy(pairs, config, (size_t)(2 * n) * sizeof *pairs);
        for (int i = 0; i < m->nmeta; i++)
            if (!has_key(pairs, n, m->meta[2 * i]) && !has_key(meta, nmeta_pairs, m->meta[2 * i])) {
                pairs[2 * n] = m->meta[2 * i];
                pairs[2 * n + 1] = m->meta[2 * i + 1];
                n++;
            }
        for (int i = 0; i < nmeta_pairs; i++, n++) {
            pairs[2 * n] = meta[2 * i];
            pairs[2 * n + 1] = meta[2 * i + 1];
        }
        for (int i = 0; i < m->ntensors; i++) {
            const ww_model_tensor *t = &m->tensors[i];
            entries[i] = (ww_st_entry){.name = t->name, .dtype = half ? WW_ST_F16 : WW_ST_F32,
                                       .ndim = t->ndim,
                                       .data = half ? (const void *)((uint16_t *)host + t->offset)
                                                    : (const void *)(host + t->offset)};
            memcpy(entries[i].shape, t->shape, (size_t)t->ndim * sizeof *t->shape);
        }
        for (int i = 0; i < nextra; i++)
            entries[m->ntensors + i] = (ww_st_entry){.name = extra[i].name, .dtype = WW_ST_F32,
                                                     .ndim = 1, .shape = {extra[i].count},
                                                     .data = extra[i].data};
        char err[1024];
        st = ww_st_write(path, entries, m->ntensors + nextra, pairs, n, err, sizeof err);
        if (st != WW_OK)
            st = ww_set_error(m->be, st, "%s", err);
    }
    free(pairs);
    free(entries);
    free(host);
    return st;
}

ww_status ww_model_save(ww_model *m, const char *path, const char *const *meta, int nmeta_pairs,
                        const ww_named_array *extra, int nextra)
{
    return save(m, path, 0, meta, nmeta_pairs, extra, nextra);
}

ww_status ww_model_save_f16(ww_model *m, const char *path, const char *const *meta,
                            int nmeta_pairs)
{
    return save(m, path, 1, meta, nmeta_pairs, NULL, 0);
}
