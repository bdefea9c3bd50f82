/* Checkpoints: a model file (loadable as it is) plus the optimiser state as train.* arrays and the
 * step as train.* metadata. Written through ww_model_save: temporary file, then rename, so a kill
 * at any moment leaves the previous checkpoint or the new one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "train_error.h"
#include "train_run.h"

ww_status ww_checkpoint_save(ww_model *m, const char *path, const float *adam_m,
                             const float *adam_v, const ww_checkpoint_state *st,
                             const char *const *meta, int nmeta_pairs)
{
    char step[32];
    snprintf(step, sizeof step, "%d", st->step);
    const char **pairs = malloc((size_t)(2 * nmeta_pairs + 2) * sizeof *pairs);
    if (!pairs)
        return WW_ERR_OUT_OF_MEMORY;
    memcpy(pairs, meta, (size_t)(2 * nmeta_pairs) * sizeof *pairs);
    pairs[2 * nmeta_pairs] = "train.step";
    pairs[2 * nmeta_pairs + 1] = step;
    int64_t n = ww_model_parameters(m);
    ww_named_array extra[2] = {{"train.adam_m", adam_m, n}, {"train.adam_v", adam_v, n}};
    ww_status s = ww_model_save(m, path, pairs, nmeta_pairs + 1, extra, 2);
    free(pairs);
    return s;
}

static ww_status read_array(const ww_st_file *f, const char *path, const char *name, float *dst,
                            size_t count, char *err, size_t errlen)
{
    const ww_st_tensor *t = ww_st_find(f, name);
    if (!t)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "%s: no tensor '%s' (not a checkpoint)",
                              path, name);
    if (t->nelements != (int64_t)count)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "%s: '%s' holds %lld values, the model has %zu parameters", path,
                              name, (long long)t->nelements, count);
    return ww_st_read_f32(f, t, dst, count, err, errlen);
}

ww_status ww_checkpoint_load_state(const char *path, float *adam_m, float *adam_v, size_t count,
                                   ww_checkpoint_state *st, char *err, size_t errlen)
{
    ww_st_file *f;
    ww_status s = ww_st_open(path, &f, err, errlen);
    if (s != WW_OK)
        return s;
    s = read_array(f, path, "train.adam_m", adam_m, count, err, errlen);
    if (s == WW_OK)
        s = read_array(f, path, "train.adam_v", adam_v, count, err, errlen);
    const char *step = ww_st_meta(f, "train.step");
    if (s == WW_OK) {
        char *end;
        long v = step ? strtol(step, &end, 10) : -1;
        if (!step || *end || v < 0 || v > INT32_MAX)
            s = ww_train_error(err, errlen, WW_ERR_INVALID, "%s: metadata 'train.step' is %s",
                               path, step ? step : "missing");
        else
            st->step = (int)v;
    }
    ww_st_close(f);
    return s;
}
