/* safetensors: the weight file format of winwin's models, read and written by our own code.
 *
 * Layout (the format of huggingface/safetensors): 8 bytes N (u64 little-endian), N bytes of
 * UTF-8 JSON (the header), then the data section. The header is one object mapping each tensor
 * name to {"dtype": "F32", "shape": [768, 3], "data_offsets": [begin, end]}, offsets in bytes
 * relative to the start of the data section, plus an optional "__metadata__" object of
 * string -> string. Tensor bytes are dense, row-major (PyTorch's shape order: the last dim
 * varies fastest) and little-endian.
 *
 * Reading checks the whole file before ww_st_open returns: once it has succeeded, every tensor's
 * bytes lie inside the file, match its shape and dtype and overlap no other tensor, and names
 * are unique, so later calls need no size checks of their own. Nothing read from the file is
 * trusted as a size before it has been checked with overflow-safe arithmetic. The reader is
 * strict: a header must be exactly what the format allows (no unknown keys in a tensor entry, no
 * duplicate keys, no fractional or negative numbers, no lone UTF-16 surrogates or \u0000, valid
 * UTF-8, at most WW_ST_MAX_DIMS dims). It is more lenient than huggingface's reader in one way
 * only: tensors need not fill the data section back to back (gaps, unused bytes at the end and
 * empty tensors at any offset are allowed).
 *
 * Errors: every call that can fail returns a ww_status and, when err is not NULL, writes a
 * message of at most errlen bytes (NUL-terminated) that names the file, the tensor when there is
 * one, and the problem, e.g. "model.safetensors: tensor 'enc_norm.weight': data_offsets [10, 20]
 * hold 10 bytes, shape [768] of F32 needs 3072". Statuses: WW_ERR_IO when the file cannot be
 * opened, read or written (missing, a directory, no permission, disk full); WW_ERR_INVALID when
 * its content is malformed or an argument is wrong; WW_ERR_OUT_OF_MEMORY. Nothing aborts or
 * prints.
 *
 * Threads: an open file is immutable; any number of threads may read it at once.
 */
#ifndef WW_SAFETENSORS_H
#define WW_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "ww.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The element types of the format with a whole number of bytes per element. F32, F16 and BF16
 * can be read as float (ww_st_read_f32); the others are kept as raw bytes (indices, fixtures,
 * masks). A file holding any other dtype string (sub-byte types such as F4) does not open. */
typedef enum ww_st_dtype {
    WW_ST_F32 = 0,
    WW_ST_F16,
    WW_ST_BF16,
    WW_ST_F64,
    WW_ST_F8_E5M2,
    WW_ST_F8_E4M3,
    WW_ST_BOOL,
    WW_ST_U8,
    WW_ST_I8,
    WW_ST_I16,
    WW_ST_U16,
    WW_ST_I32,
    WW_ST_U32,
    WW_ST_I64,
    WW_ST_U64,
    WW_ST_F8_E8M0,
    WW_ST_C64, /* complex: two F32 */
    WW_ST_DTYPE_COUNT
} ww_st_dtype;

#define WW_ST_MAX_DIMS 8
/* Largest header accepted (and written): the limit of huggingface's reader. */
#define WW_ST_MAX_HEADER ((uint64_t)100000000)

/* The dtype's name in the file ("F32", "BF16", ...), or NULL for a value outside the enum. */
const char *ww_st_dtype_name(ww_st_dtype t);
/* Bytes per element, 0 for a value outside the enum. */
size_t ww_st_dtype_size(ww_st_dtype t);
/* 1 for F32, F16 and BF16: the dtypes ww_st_read_f32 converts. */
int ww_st_dtype_is_float(ww_st_dtype t);

typedef struct ww_st_file ww_st_file;

/* One tensor of an open file. Owned by the file: valid until ww_st_close. */
typedef struct ww_st_tensor {
    const char *name;      /* UTF-8, NUL-terminated, without NULs inside */
    ww_st_dtype dtype;
    int ndim;              /* 0 (a scalar) .. WW_ST_MAX_DIMS */
    int64_t shape[WW_ST_MAX_DIMS]; /* slowest dim first; entries past ndim are 0 */
    int64_t nelements;     /* product of the shape (1 for a scalar) */
    size_t nbytes;         /* nelements * ww_st_dtype_size(dtype) */
    const void *data;      /* the raw little-endian bytes, nbytes of them; no alignment promised */
} ww_st_tensor;

/* Open and check the file at path. It is mapped read-only (not copied), so it must not be
 * truncated while open. On success the caller owns *out (ww_st_close); on failure *out is NULL. */
ww_status ww_st_open(const char *path, ww_st_file **out, char *err, size_t errlen);
/* Check size bytes at data as a safetensors file; name stands for the file in messages. The
 * bytes are not copied: the caller keeps them unchanged and alive until ww_st_close. */
ww_status ww_st_open_memory(const void *data, size_t size, const char *name, ww_st_file **out,
                            char *err, size_t errlen);
void ww_st_close(ww_st_file *f); /* NULL is allowed */

/* The file's name as given to ww_st_open (or ww_st_open_memory). */
const char *ww_st_name(const ww_st_file *f);

/* Tensors in header order: i in [0, ww_st_count); NULL for any other i. */
int ww_st_count(const ww_st_file *f);
const ww_st_tensor *ww_st_at(const ww_st_file *f, int i);
/* The tensor called name, or NULL (O(log n)). */
const ww_st_tensor *ww_st_find(const ww_st_file *f, const char *name);

/* Convert t (a tensor of f) to float into dst: F32 copied, F16 and BF16 widened exactly (F16
 * subnormals, infinities, NaN payloads and -0 included). count must equal t->nelements;
 * other dtypes are WW_ERR_INVALID. */
ww_status ww_st_read_f32(const ww_st_file *f, const ww_st_tensor *t, float *dst, size_t count,
                         char *err, size_t errlen);

/* For model loaders: WW_OK when the tensor called name exists, has a float dtype (F32, F16,
 * BF16) and exactly this shape (ndim dims, slowest first); else WW_ERR_INVALID naming the file,
 * the tensor, the expected and the actual shape or dtype. */
ww_status ww_st_expect(const ww_st_file *f, const char *name, int ndim, const int64_t *shape,
                       char *err, size_t errlen);
/* For model loaders: WW_OK when every tensor of f is named in known[0..nknown); else
 * WW_ERR_INVALID naming the first other tensor in header order and how many others there are.
 * Whether that is an error is the loader's choice. */
ww_status ww_st_unexpected(const ww_st_file *f, const char *const *known, int nknown, char *err,
                           size_t errlen);

/* "__metadata__": the value for key, or NULL when absent. Owned by the file. */
const char *ww_st_meta(const ww_st_file *f, const char *key);
/* The pairs in header order: i in [0, ww_st_meta_count). Returns 0 and leaves *key, *value
 * untouched for any other i, else 1. */
int ww_st_meta_count(const ww_st_file *f);
int ww_st_meta_at(const ww_st_file *f, int i, const char **key, const char **value);

/* IEEE half of v, rounded to nearest even; overflow gives inf, NaN stays NaN. */
uint16_t ww_st_f32_to_f16(float v);

/* One tensor to write. data holds its nelements * dtype size bytes, little-endian (a plain
 * array on a little-endian host); it may be NULL only when that is 0. */
typedef struct ww_st_entry {
    const char *name;
    ww_st_dtype dtype;
    int ndim;
    int64_t shape[WW_ST_MAX_DIMS];
    const void *data;
} ww_st_entry;

/* Write n tensors (in this order, packed back to back) and nmeta_pairs metadata pairs
 * (meta = key0, value0, key1, value1, ...; NULL when nmeta_pairs is 0) to path, as
 * huggingface's writer does: the header is compact JSON with "__metadata__" first, padded with
 * spaces so that the data section starts at a multiple of 8 bytes. The file is written as
 * path + ".tmp", flushed to disk and renamed over path, so path is either the old file or the
 * complete new one. Names and strings must be valid UTF-8; duplicate tensor names or metadata
 * keys, the name "__metadata__", bad dtypes and negative or overflowing shapes are
 * WW_ERR_INVALID, and nothing is written then. */
ww_status ww_st_write(const char *path, const ww_st_entry *tensors, int n,
                      const char *const *meta, int nmeta_pairs, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
