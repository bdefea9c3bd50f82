/* libFuzzer target for the safetensors reader (core/safetensors.c).
 *
 * Any input either fails to open with a message, or opens into a file whose every promise holds:
 * each tensor's bytes lie inside the input (ASan sees them all read), names are unique and found
 * by ww_st_find, float tensors convert and others refuse to, ww_st_expect agrees with each
 * tensor's own shape, metadata lookups agree with the listing. A broken promise aborts, which
 * the fuzzer reports as a crash.
 *
 * Built as a fuzzer with clang and meson -Dfuzz=true (tests/meson.build); test_safetensors also
 * links this file and runs the seed corpus in tests/fuzz/safetensors/ through it, so the target
 * stays compiled and its seeds stay meaningful in every build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

static void check_tensor(const ww_st_file *f, const ww_st_tensor *t, const uint8_t *data,
                         size_t size)
{
    char err[512];
    const uint8_t *p = t->data;
    require(p >= data && p <= data + size && t->nbytes <= (size_t)(data + size - p));
    require(t->nbytes == (size_t)t->nelements * ww_st_dtype_size(t->dtype));
    require(ww_st_find(f, t->name) == t);
    volatile uint8_t sum = 0; /* every byte read once, inside what ASan knows as the input */
    for (size_t i = 0; i < t->nbytes; i++)
        sum += p[i];
    (void)sum;

    /* The element count is bounded by the input size, so this allocation is too. */
    size_t n = (size_t)t->nelements;
    float *dst = malloc((n ? n : 1) * sizeof *dst);
    if (!dst)
        return;
    int is_float = ww_st_dtype_is_float(t->dtype);
    require((ww_st_read_f32(f, t, dst, n, err, sizeof err) == WW_OK) == is_float);
    require(ww_st_read_f32(f, t, dst, n + 1, err, sizeof err) == WW_ERR_INVALID);
    require(ww_st_expect(f, t->name, t->ndim, t->shape, err, sizeof err) ==
            (is_float ? WW_OK : WW_ERR_INVALID));
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ww_st_file *f;
    char err[512] = "";
    if (ww_st_open_memory(data, size, "fuzz.safetensors", &f, err, sizeof err) != WW_OK) {
        require(f == NULL && !strncmp(err, "fuzz.safetensors: ", 18));
        return 0;
    }
    int n = ww_st_count(f);
    for (int i = 0; i < n; i++)
        check_tensor(f, ww_st_at(f, i), data, size);
    require(ww_st_at(f, n) == NULL);
    for (int i = 0; i < ww_st_meta_count(f); i++) {
        const char *key, *value;
        require(ww_st_meta_at(f, i, &key, &value));
        require(ww_st_meta(f, key) == value);
    }
    require((ww_st_unexpected(f, NULL, 0, err, sizeof err) == WW_OK) == (n == 0));
    ww_st_close(f);
    return 0;
}
