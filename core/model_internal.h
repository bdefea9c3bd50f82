/* The model's weights as the loader (model.c) leaves them and the runner (runner.c) uses them. */
#ifndef WW_MODEL_INTERNAL_H
#define WW_MODEL_INTERNAL_H

#include "model.h"

typedef struct lin { /* Linear or Conv2d: weight, bias (bias.buf NULL when absent) */
    ww_tensor w, b;
} lin;

typedef struct enc_block {
    lin n1, qkv, proj, n2, fc1, fc2;
} enc_block;

typedef struct dec_block {
    lin n1, qkv, proj, ny, n2, q, k, v, cproj, n3, fc1, fc2;
} dec_block;

typedef struct refine {
    lin rcu1_c1, rcu1_c2, rcu2_c1, rcu2_c2, out;
} refine;

typedef struct dpt {
    lin post[4];   /* act_postprocess.i.0: Conv1x1 C -> layer_dims[i] */
    lin resize[4]; /* act_postprocess.i.1: ConvT x4, ConvT x2, none, Conv3x3 stride 2 */
    lin rn[4];     /* scratch.layer_rn.i: Conv3x3 -> feature_dim, no bias */
    refine ref[4]; /* scratch.refinenet{i+1} */
    lin head[3];   /* head.0, head.2, head.4 (regression) / head.0, head.4 (semseg) */
} dpt;

typedef struct ww_model_tensor {
    char *name;
    int ndim;
    int64_t shape[4]; /* slowest first */
    int64_t offset;   /* in the flat array */
} ww_model_tensor;

struct ww_model {
    ww_backend *be;
    ww_arena *arena;
    ww_model_config cfg;
    int64_t nparams, ndecay;
    ww_tensor flat; /* every weight below is a view of it */
    ww_model_tensor *tensors;
    int ntensors, cap_tensors;
    char **meta; /* the loaded file's metadata pairs (key, value, ...), kept for ww_model_save */
    int nmeta;
    lin patch;
    enc_block *enc;
    lin enc_norm, dec_embed, dec_norm;
    dec_block *dec;
    dpt dpt;
};

/* A model-shaped set of views into flat, an array laid out like m's parameters (the
 * gradients): out's lin tensors sit at the offsets of m's. out shares m's tensor table and
 * owns only its block arrays (ww_model_shadow_free). */
ww_status ww_model_shadow(const ww_model *m, const ww_tensor *flat, ww_model *out);
void ww_model_shadow_free(ww_model *shadow);

#endif
