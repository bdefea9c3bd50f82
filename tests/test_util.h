/* A small test framework for winwin's tests: no external library, only the public API (ww.h)
 * and, for the committed fixtures, the engine's safetensors reader (core/safetensors.h, part of
 * wwcore). Image helpers that need libpng (tools/image_io) stay out, so that every test links
 * without it.
 *
 * A test is a function taking one string argument (the device, "cpu" or "vulkan", for tests that
 * run once per backend). Checks record a failure with file:line and a message and let the test go
 * on, so that one run shows every shape that is wrong, not only the first. Resources obtained
 * through the helpers below (host memory, arenas, sequences, backends) belong to the running test
 * and are released when it ends, so a test can return early on any failure.
 *
 * Output format, one line per test: "ok NAME", "FAIL NAME: reason" (further failures of the same
 * test on indented lines after it) or "skip NAME: reason", then "N passed, N failed" with
 * ", N skipped" appended when some were skipped.
 */
#ifndef WW_TEST_UTIL_H
#define WW_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ww.h"

typedef struct ww_test_case {
    const char *name;
    void (*fn)(const char *arg);
    const char *arg; /* passed to fn */
} ww_test_case;

/* Run every case, or with arguments only the cases whose name contains one of them. Returns 0
 * when nothing failed. */
int ww_test_main(int argc, char **argv, const ww_test_case *cases, int n);

/* ---- Checks ------------------------------------------------------------------------------
 * Every check evaluates to 1 when it passed and 0 when it recorded a failure, so that a test can
 * write `if (!TEST_OK(be, ...)) return;`. */
#define TEST_CHECK(cond, ...) test_check_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define TEST_FAIL(...) test_check_(0, __FILE__, __LINE__, __VA_ARGS__)
/* expr returns a ww_status; be (may be NULL) supplies ww_backend_error() for the message. */
#define TEST_OK(be, expr) test_status_((expr), WW_OK, (be), #expr, __FILE__, __LINE__)
#define TEST_STATUS(be, expr, want) test_status_((expr), (want), (be), #expr, __FILE__, __LINE__)
/* Marks the current test skipped (a failure recorded in it still counts as a failure). */
#define TEST_SKIP(...) test_skip_(__VA_ARGS__)

int test_check_(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int test_status_(ww_status got, ww_status want, const ww_backend *be, const char *expr,
                 const char *file, int line);
void test_skip_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- Comparisons -------------------------------------------------------------------------
 * The error measure is the normalised error sqrt(sum (got - ref)^2 / sum ref^2) (plain
 * sqrt(sum (got - ref)^2) when ref is all zero); any non-finite value in got fails. The failure
 * message gives the normalised error and the largest absolute error with its index. tol = 0
 * demands exact equality (copies, permutations). */
#define TEST_TOL 1e-5        /* fp32 arithmetic with short reductions */
#define TEST_TOL_REDUCE 1e-4 /* long reductions and exp/log chains (attention, op chains) */
#define TEST_COMPARE(what, got, ref, n, tol) \
    test_compare_(__FILE__, __LINE__, (what), (got), (ref), (n), (tol))
#define TEST_COMPARE_F(what, got, ref, n, tol) \
    test_compare_f_(__FILE__, __LINE__, (what), (got), (ref), (n), (tol))

int test_compare_(const char *file, int line, const char *what, const float *got,
                  const double *ref, size_t n, double tol);
int test_compare_f_(const char *file, int line, const char *what, const float *got,
                    const float *ref, size_t n, double tol);

/* ---- Deterministic random numbers (xorshift64*, seeded through splitmix64) ---------------- */
typedef struct test_rng {
    uint64_t s;
} test_rng;

void test_rng_seed(test_rng *r, uint64_t seed);
uint32_t test_rng_u32(test_rng *r);
uint32_t test_rng_below(test_rng *r, uint32_t n); /* uniform in [0, n), n > 0 */
float test_rng_float(test_rng *r, float lo, float hi);
void test_rng_fill(test_rng *r, float *x, size_t n, float lo, float hi);

/* ---- Resources owned by the current test --------------------------------------------------- */
/* Zeroed host memory, freed when the test ends. Out of host memory is the framework's one fatal
 * path (the run cannot go on meaningfully). */
void *test_malloc(size_t bytes);

/* Options for a test backend on device ("cpu", "vulkan", "vulkan:N", "auto", ...): the Khronos
 * validation layer is on for everything but "cpu" (unless WW_TEST_VALIDATION=0), log messages
 * are kept so that a validation failure can quote the last one. */
void test_backend_options(ww_backend_options *opt, const char *device);
/* The shared backend for "cpu" or "vulkan", created on first use and kept for the whole run
 * (creating a Vulkan device with validation for every test would dominate the run time). Returns
 * NULL after recording a skip (no Vulkan device, or WW_TEST_SKIP_VULKAN=1) or a failure. Any
 * validation message a Vulkan backend reports during a test fails that test. */
ww_backend *test_backend(const char *device);
/* A backend of the current test, made from opt; same NULL rules as test_backend(). At the end of
 * the test (or at test_backend_destroy) its validation messages must be 0. */
ww_backend *test_backend_new(const ww_backend_options *opt);
/* Make be, created by the test itself, belong to the current test as if from test_backend_new. */
void test_backend_track(ww_backend *be, const char *device);
/* Destroy a backend of the current test now, after its sequences and arenas. */
void test_backend_destroy(ww_backend *be);
/* 1 when Vulkan is not to be used (WW_TEST_SKIP_VULKAN=1); records the skip. */
int test_vulkan_disabled(void);

/* The current test's arena on be: created on first use, emptied (ww_arena_reset) on every later
 * call, so tensors from an earlier call must no longer be used. NULL after a failure. */
ww_arena *test_arena(ww_backend *be);
/* A new sequence on be, destroyed when the test ends. NULL after a failure. */
ww_seq *test_seq(ww_backend *be);
/* ww_seq_run then ww_seq_wait. */
int test_run(ww_backend *be, ww_seq *s);

/* ---- Guarded tensors ------------------------------------------------------------------------
 * t lies inside base, a larger allocation, with TEST_GUARD_BYTES before and after it holding a
 * sentinel pattern; test_tensor_get checks that the guards are intact, which catches writes
 * outside an output tensor. Each tensor's guards hold a different 32-bit word (TEST_SENTINEL
 * with another low byte), so that an op that runs one element past the end of its input and its
 * output, copying the input's guard word, is still caught. The sentinels read as F32 are NaNs and
 * as U32 impossible indices, so an output that starts as TEST_SENTINEL and that an op forgets to
 * write shows up too. */
#define TEST_GUARD_BYTES 1024
#define TEST_SENTINEL 0xFFC0DEADu

typedef struct test_tensor {
    ww_tensor t;       /* contiguous, what the test uses */
    ww_tensor base;    /* t with its guards */
    int64_t guard;     /* elements of guard on each side */
    int64_t n;         /* elements of t */
    uint32_t sentinel; /* the word in this tensor's guards */
} test_tensor;

/* Allocate from a a contiguous tensor of n dims (1..4) with guards, and write init (n elements in
 * ne order) into it, or the guard word when init is NULL. */
int test_tensor_new(ww_backend *be, ww_arena *a, ww_dtype type, int n, const int64_t *ne,
                    const void *init, test_tensor *out);
/* Read t into dst (all its elements) and check the guards; what names the tensor in messages. */
int test_tensor_get(ww_backend *be, const test_tensor *tt, void *dst, const char *what);

/* A path NAME inside a directory private to this run (made on first use, removed with
 * everything the tests left in it when ww_test_main ends). The string belongs to the current
 * test. */
const char *test_tmp_path(const char *name);
const char *test_tmp_dir(void);

/* Case-insensitive substring test. */
int test_contains(const char *haystack, const char *needle);

/* ---- Files --------------------------------------------------------------------------------- */
/* Write n bytes of data to path (created or truncated). 1 on success; 0 after recording a
 * failure that names path (and the reason, when it could not be created). */
int test_write_bytes(const char *path, const void *data, size_t n);
/* The whole file at path in test memory, with a NUL after its end so that text can be used as a
 * string; *n (may be NULL) its size. NULL after recording a failure that names path. */
unsigned char *test_read_bytes(const char *path, size_t *n);
/* 1 when path names something (stat succeeds); records nothing. */
int test_file_exists(const char *path);
/* The size in bytes of path, -1 when it cannot be stat'ed; records nothing. */
long test_file_size(const char *path);

/* A file REL of the shared data folder of real samples, named by the environment variable
 * WW_TEST_DATA (meson sets it to ../shared/data beside the repository), as a string of the
 * current test. When the folder is absent it records a skip (not a failure: a checkout may come
 * without the data) and returns NULL, so the test should return at once. */
const char *test_data_path(const char *rel);

/* The directory of the committed fixtures: WW_FIXTURES when set (meson sets it), else
 * tests/fixtures relative to the working directory. The string is not the test's to free. */
const char *test_fixtures_dir(void);
/* Tensor name of a fixture file (core/safetensors.h) converted to F32 in test memory; *count
 * its element count. NULL after recording a failure (no such tensor, or unreadable). */
struct ww_st_file;
float *test_fixture_f32(const struct ww_st_file *f, const char *name, size_t *count);

/* ---- Images -------------------------------------------------------------------------------- */
/* Channel k of an RGB8 image (rows of w pixels, 3 bytes each) at (x, y), bilinear; x and y
 * must lie inside [0, w-1] x [0, h-1] (an exact edge coordinate reads no further pixel). */
double test_bilinear_rgb8(const uint8_t *img, int w, double x, double y, int k);

#endif
