/* Runtime tests: device selection, errors instead of crashes, sequences recorded once and run
 * many times, arena reuse, the pipeline cache, WW_PROFILE and the status strings. The math of
 * each op is test_ops.c's business; here ops only serve as work with a known result.
 *
 * Usage: test_runtime [NAME-SUBSTRING...]
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv, mkdtemp */
#endif

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "ww.h"

/* ---- Helpers ------------------------------------------------------------------------------------ */

static double gelu_ref(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

/* Allocate a plain (unguarded) tensor of up to 4 dims. */
static int alloc4(ww_backend *be, ww_arena *a, ww_dtype type, int64_t ne0, int64_t ne1,
                  int64_t ne2, int64_t ne3, ww_tensor *out)
{
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    return TEST_OK(be, ww_arena_alloc(a, type, 4, ne, out));
}

/* c[M, N] = a[M, K] b[K, N] on host data, for the gemm that several tests run. */
static void gemm_host(const float *a, const float *b, int M, int N, int K, double *c)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)a[m * K + k] * b[k * N + n];
            c[m * N + n] = s;
        }
}

/* The backend still computes: a small gemm gives the right answer. */
static int gemm_works(ww_backend *be, const char *what)
{
    enum { M = 3, N = 4, K = 5 };
    ww_arena *a = test_arena(be);
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return 0;
    float A[M * K], B[K * N], C[M * N];
    double ref[M * N];
    test_rng r;
    test_rng_seed(&r, 42);
    test_rng_fill(&r, A, M * K, -1, 1);
    test_rng_fill(&r, B, K * N, -1, 1);
    gemm_host(A, B, M, N, K, ref);
    int64_t ane[2] = {K, M}, bne[2] = {N, K}, cne[2] = {N, M};
    test_tensor ta, tb, tc;
    if (!test_tensor_new(be, a, WW_F32, 2, ane, A, &ta) ||
        !test_tensor_new(be, a, WW_F32, 2, bne, B, &tb) ||
        !test_tensor_new(be, a, WW_F32, 2, cne, NULL, &tc) ||
        !TEST_OK(be, ww_gemm(s, &ta.t, &tb.t, NULL, &tc.t, 0)) || !test_run(be, s) ||
        !test_tensor_get(be, &tc, C, what))
        return 0;
    return TEST_COMPARE(what, C, ref, M * N, TEST_TOL);
}

/* One line of ww_vulkan_list_devices: "N: NAME (TYPE) UUID". */
typedef struct vkdev {
    int index;
    char name[256];
    char type[64];
    char uuid[33];
} vkdev;

/* Parse from the end: NAME may itself hold parentheses ("llvmpipe (LLVM 15.0.6, 256 bits)"). */
static int parse_device(const char *line, vkdev *d)
{
    char *end;
    long idx = strtol(line, &end, 10);
    if (end == line || end[0] != ':' || end[1] != ' ')
        return 0;
    const char *name = end + 2;
    const char *sp = strrchr(line, ' ');
    if (!sp || sp < name || strlen(sp + 1) != 32)
        return 0;
    for (int i = 0; i < 32; i++)
        if (!isxdigit((unsigned char)sp[1 + i]))
            return 0;
    if (sp - name < 4 || sp[-1] != ')')
        return 0;
    const char *open = sp - 1;
    while (open > name && *open != '(')
        open--;
    if (*open != '(' || open - name < 2 || open[-1] != ' ')
        return 0;
    size_t nlen = (size_t)(open - 1 - name), tlen = (size_t)(sp - 1 - (open + 1));
    if (nlen == 0 || nlen >= sizeof d->name || tlen == 0 || tlen >= sizeof d->type)
        return 0;
    d->index = (int)idx;
    memcpy(d->name, name, nlen);
    d->name[nlen] = '\0';
    memcpy(d->type, open + 1, tlen);
    d->type[tlen] = '\0';
    memcpy(d->uuid, sp + 1, 32);
    d->uuid[32] = '\0';
    return 1;
}

#define MAX_DEVS 16

/* List and parse the Vulkan devices. Returns the status of ww_vulkan_list_devices; a line that
 * does not follow the documented format is a failure. */
static ww_status list_devices(vkdev *devs, int *count)
{
    char names[MAX_DEVS][256];
    char err[256] = "";
    *count = 0;
    ww_status st = ww_vulkan_list_devices(names, MAX_DEVS, count, err, sizeof err);
    if (st != WW_OK) {
        *count = 0;
        TEST_CHECK(st == WW_ERR_NO_DEVICE, "ww_vulkan_list_devices: %s: %s", ww_status_str(st),
                   err);
        return st;
    }
    if (*count > MAX_DEVS)
        *count = MAX_DEVS;
    for (int i = 0; i < *count; i++) {
        if (!TEST_CHECK(parse_device(names[i], &devs[i]),
                        "device line \"%s\" is not \"N: NAME (TYPE) UUID\"", names[i]) ||
            !TEST_CHECK(devs[i].index == i, "device line %d is numbered %d", i, devs[i].index))
            return WW_ERR_INVALID;
    }
    return WW_OK;
}

/* The devices, or 0 after recording a skip (no Vulkan) or a failure. */
static int vulkan_devices(vkdev *devs, int *count)
{
    if (test_vulkan_disabled())
        return 0;
    ww_status st = list_devices(devs, count);
    if (st == WW_ERR_NO_DEVICE)
        TEST_SKIP("no Vulkan device");
    return st == WW_OK && TEST_CHECK(*count > 0, "ww_vulkan_list_devices: OK but no device");
}

static int is_cpu_device(const vkdev *d)
{
    return test_contains(d->type, "cpu") || test_contains(d->name, "llvmpipe");
}

/* Create a backend for device (which exists: a failure is not a skip) with the test options;
 * NULL after recording a failure. The backend belongs to the test. */
static ww_backend *create_existing(const char *device)
{
    ww_backend_options opt;
    test_backend_options(&opt, device);
    ww_backend *be = NULL;
    char err[512] = "";
    ww_status st = ww_backend_create(&opt, &be, err, sizeof err);
    if (!TEST_CHECK(st == WW_OK && be, "device '%s': %s: %s", device, ww_status_str(st), err))
        return NULL;
    test_backend_track(be, device);
    return be;
}

/* The backend for device uses the device named want. */
static void expect_device(const char *device, const char *want)
{
    ww_backend *be = create_existing(device);
    if (!be)
        return;
    const char *name = ww_backend_device_name(be);
    TEST_CHECK(ww_backend_kind_of(be) == WW_BACKEND_VULKAN, "'%s' gave a CPU backend", device);
    TEST_CHECK(name && test_contains(name, want), "'%s' gave device \"%s\", want \"%s\"", device,
               name ? name : "(null)", want);
    test_backend_destroy(be);
}

/* Creation must fail with want, leave *out NULL and explain itself (mentioning `mention`). */
static void expect_create_error(const char *device, ww_status want, const char *mention)
{
    ww_backend_options opt;
    test_backend_options(&opt, device);
    ww_backend *be = (ww_backend *)&opt; /* any non-NULL value: must be overwritten with NULL */
    char err[512] = "";
    ww_status st = ww_backend_create(&opt, &be, err, sizeof err);
    TEST_CHECK(st == want, "device '%s': %s, want %s (%s)", device, ww_status_str(st),
               ww_status_str(want), err);
    TEST_CHECK(be == NULL, "device '%s': failed creation left a backend", device);
    if (st == WW_OK && be && be != (ww_backend *)&opt)
        ww_backend_destroy(be);
    TEST_CHECK(err[0] != '\0', "device '%s': no error message", device);
    if (mention)
        TEST_CHECK(test_contains(err, mention), "device '%s': message \"%s\" does not mention %s",
                   device, err, mention);
}

/* ---- Status strings and tensor basics ------------------------------------------------------ */

static void test_status_str(const char *arg)
{
    (void)arg;
    static const ww_status all[] = {WW_OK,
                                    WW_ERR_INVALID,
                                    WW_ERR_NO_DEVICE,
                                    WW_ERR_UNSUPPORTED,
                                    WW_ERR_OUT_OF_MEMORY,
                                    WW_ERR_DEVICE_LOST,
                                    WW_ERR_VULKAN,
                                    WW_ERR_IO};
    enum { N = sizeof all / sizeof all[0] };
    for (int i = 0; i < N; i++) {
        const char *s = ww_status_str(all[i]);
        if (!TEST_CHECK(s && *s, "ww_status_str(%d) is empty", (int)all[i]))
            continue;
        for (int j = 0; j < i; j++) {
            const char *o = ww_status_str(all[j]);
            TEST_CHECK(!o || strcmp(s, o) != 0, "statuses %d and %d share the string \"%s\"",
                       (int)all[j], (int)all[i], s);
        }
    }
    const char *oom = ww_status_str(WW_ERR_OUT_OF_MEMORY);
    TEST_CHECK(test_contains(oom, "memory"), "out-of-memory string is \"%s\"", oom ? oom : "");
}

static void test_tensor_basics(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    if (!a)
        return;
    TEST_CHECK(ww_dtype_size(WW_F32) == 4 && ww_dtype_size(WW_U32) == 4 &&
                   ww_dtype_size(WW_U8) == 1,
               "dtype sizes %zu %zu %zu", ww_dtype_size(WW_F32), ww_dtype_size(WW_U32),
               ww_dtype_size(WW_U8));
    ww_tensor t;
    int64_t ne[3] = {5, 4, 3};
    if (!TEST_OK(be, ww_arena_alloc(a, WW_F32, 3, ne, &t)))
        return;
    TEST_CHECK(t.type == WW_F32 && t.ne[0] == 5 && t.ne[1] == 4 && t.ne[2] == 3 && t.ne[3] == 1,
               "allocated shape [%lld,%lld,%lld,%lld]", (long long)t.ne[3], (long long)t.ne[2],
               (long long)t.ne[1], (long long)t.ne[0]);
    TEST_CHECK(t.nb[0] == 1 && t.nb[1] == 5 && t.nb[2] == 20, "strides %lld %lld %lld",
               (long long)t.nb[0], (long long)t.nb[1], (long long)t.nb[2]);
    TEST_CHECK(ww_tensor_nelements(&t) == 60, "nelements %lld", (long long)ww_tensor_nelements(&t));
    TEST_CHECK(ww_tensor_is_contiguous(&t), "a fresh tensor is not contiguous");
    int64_t vne[4] = {3, 4, 1, 1}, vnb[4] = {1, 5, 20, 20};
    ww_tensor v = ww_tensor_view(&t, 7, vne, vnb);
    TEST_CHECK(v.buf == t.buf && v.offset == t.offset + 7 * sizeof(float) && v.type == WW_F32,
               "view offset %zu (tensor at %zu)", v.offset, t.offset);
    TEST_CHECK(!ww_tensor_is_contiguous(&v), "a view with row stride 5 of 3 is contiguous");
    TEST_CHECK(ww_tensor_nelements(&v) == 12, "view nelements %lld",
               (long long)ww_tensor_nelements(&v));
}

/* ---- Device selection ---------------------------------------------------------------------------- */

static void test_device_cpu(const char *arg)
{
    (void)arg;
    ww_backend_options opt;
    test_backend_options(&opt, "cpu");
    ww_backend *be = test_backend_new(&opt);
    if (!be)
        return;
    const char *name = ww_backend_device_name(be);
    TEST_CHECK(ww_backend_kind_of(be) == WW_BACKEND_CPU, "'cpu' gave a Vulkan backend");
    TEST_CHECK(name && *name, "CPU backend without a device name");
    const char *err = ww_backend_error(be);
    TEST_CHECK(err && *err == '\0', "fresh backend has error \"%s\"", err ? err : "(null)");
    TEST_CHECK(ww_backend_validation_messages(be) == 0, "CPU backend counts validation messages");
    gemm_works(be, "gemm on 'cpu'");
}

static void test_list_devices(const char *arg)
{
    (void)arg;
    vkdev devs[MAX_DEVS];
    int n;
    if (!vulkan_devices(devs, &n))
        return;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            TEST_CHECK(strcmp(devs[i].uuid, devs[j].uuid) != 0, "devices %d and %d share UUID %s",
                       j, i, devs[i].uuid);
}

/* "vulkan" is the best device: a GPU whenever one exists, a CPU driver only as the last resort. */
static void test_device_vulkan(const char *arg)
{
    (void)arg;
    vkdev devs[MAX_DEVS];
    int n;
    if (!vulkan_devices(devs, &n))
        return;
    ww_backend *be = create_existing("vulkan");
    if (!be)
        return;
    const char *name = ww_backend_device_name(be);
    TEST_CHECK(ww_backend_kind_of(be) == WW_BACKEND_VULKAN, "'vulkan' gave a CPU backend");
    int has_gpu = 0, picked_cpu = 0;
    for (int i = 0; i < n; i++) {
        has_gpu |= !is_cpu_device(&devs[i]);
        picked_cpu |= is_cpu_device(&devs[i]) && name && strcmp(name, devs[i].name) == 0;
    }
    TEST_CHECK(!(has_gpu && picked_cpu), "'vulkan' chose the CPU driver \"%s\" over a GPU", name);
    gemm_works(be, "gemm on 'vulkan'");
}

static void test_device_index(const char *arg)
{
    (void)arg;
    vkdev devs[MAX_DEVS];
    int n;
    if (!vulkan_devices(devs, &n))
        return;
    for (int i = 0; i < n; i++) {
        char dev[32];
        snprintf(dev, sizeof dev, "vulkan:%d", i);
        expect_device(dev, devs[i].name);
    }
    expect_create_error("vulkan:999", WW_ERR_NO_DEVICE, "999");
}

static void test_device_name(const char *arg)
{
    (void)arg;
    vkdev devs[MAX_DEVS];
    int n, lavapipe = 0;
    if (!vulkan_devices(devs, &n))
        return;
    for (int i = 0; i < n; i++)
        lavapipe |= test_contains(devs[i].name, "llvmpipe");
    expect_create_error("vulkan:no-such-device-name", WW_ERR_NO_DEVICE, NULL);
    if (!lavapipe) {
        TEST_SKIP("no lavapipe device to select by name");
        return;
    }
    expect_device("vulkan:llvmpipe", "llvmpipe");
    expect_device("vulkan:LLVMpipe", "llvmpipe"); /* case-insensitive */
}

static void test_device_uuid(const char *arg)
{
    (void)arg;
    vkdev devs[MAX_DEVS];
    int n;
    if (!vulkan_devices(devs, &n))
        return;
    for (int i = 0; i < n; i++) {
        char dev[64];
        snprintf(dev, sizeof dev, "vulkan:%s", devs[i].uuid);
        expect_device(dev, devs[i].name);
    }
}

static void test_device_bogus(const char *arg)
{
    (void)arg;
    expect_create_error("bogus", WW_ERR_INVALID, NULL);
    expect_create_error("gpu", WW_ERR_INVALID, NULL);
    /* err may be NULL */
    ww_backend_options opt;
    test_backend_options(&opt, "bogus");
    ww_backend *be = NULL;
    TEST_STATUS(NULL, ww_backend_create(&opt, &be, NULL, 0), WW_ERR_INVALID);
    TEST_CHECK(be == NULL, "failed creation left a backend");
}

/* "auto" (and NULL) take a GPU if there is one, else the CPU backend, never a CPU driver. */
static void test_device_auto(const char *arg)
{
    (void)arg;
    vkdev devs[MAX_DEVS];
    int n = 0, gpus = 0;
    ww_status st = list_devices(devs, &n);
    if (st != WW_OK && st != WW_ERR_NO_DEVICE)
        return;
    for (int i = 0; i < n; i++)
        gpus += !is_cpu_device(&devs[i]);
    static const char *const devices[] = {"auto", NULL};
    for (int k = 0; k < 2; k++) {
        ww_backend_options opt;
        test_backend_options(&opt, devices[k]);
        ww_backend *be = test_backend_new(&opt);
        if (!be)
            return;
        const char *name = ww_backend_device_name(be);
        const char *label = devices[k] ? devices[k] : "NULL";
        if (gpus)
            TEST_CHECK(ww_backend_kind_of(be) == WW_BACKEND_VULKAN &&
                           !test_contains(name, "llvmpipe"),
                       "'%s' with %d GPU(s) gave \"%s\"", label, gpus, name ? name : "(null)");
        else
            TEST_CHECK(ww_backend_kind_of(be) == WW_BACKEND_CPU,
                       "'%s' without a GPU gave the Vulkan device \"%s\", want the CPU backend",
                       label, name ? name : "(null)");
        test_backend_destroy(be);
    }
}

/* ---- Errors, not crashes ---------------------------------------------------------------------- */

static void test_out_of_memory(const char *dev)
{
    ww_backend_options opt;
    test_backend_options(&opt, dev);
    ww_backend *be = test_backend_new(&opt); /* its own: a failure must not poison the others */
    ww_arena *a = be ? test_arena(be) : NULL;
    if (!a)
        return;
    ww_tensor t;
    int64_t ne = (int64_t)1 << 48; /* F32: 2^50 bytes */
    TEST_STATUS(be, ww_arena_alloc(a, WW_F32, 1, &ne, &t), WW_ERR_OUT_OF_MEMORY);
    const char *err = ww_backend_error(be);
    TEST_CHECK(err && *err, "no message after an out-of-memory failure");
    gemm_works(be, "gemm after an out-of-memory failure");
}

/* Append must refuse with WW_ERR_INVALID, name the op (any of the '|'-separated names) in the
 * message and leave the sequence as it was. */
#define EXPECT_INVALID(be, s, expr, names) \
    expect_invalid_((be), (s), (expr), #expr, (names), __FILE__, __LINE__)

static void expect_invalid_(ww_backend *be, ww_seq *s, ww_status st, const char *expr,
                            const char *names, const char *file, int line)
{
    if (!test_status_(st, WW_ERR_INVALID, be, expr, file, line))
        return;
    const char *err = ww_backend_error(be);
    int named = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", names);
    for (char *save = NULL, *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
        named |= test_contains(err, tok);
    test_check_(named, file, line, "%s: message \"%s\" does not name the op (%s)", expr,
                err ? err : "(null)", names);
    test_check_(ww_seq_length(s) == 0, file, line, "%s: the sequence grew to %d ops", expr,
                ww_seq_length(s));
}

static void test_invalid_ops(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return;
    ww_tensor a45, b63, b53, c43, c53, u45, x, x7, y, w17, b16, q, k8, lse, pos, pos_f, img,
        img_odd, patches, cx, cw, cw_bad, cy, tw, ry, ids_f, src, pp_y, idx, idx_f, rows_y,
        gy, u1;
    if (!alloc4(be, a, WW_F32, 5, 4, 1, 1, &a45) || !alloc4(be, a, WW_F32, 3, 6, 1, 1, &b63) ||
        !alloc4(be, a, WW_F32, 3, 5, 1, 1, &b53) || !alloc4(be, a, WW_F32, 3, 4, 1, 1, &c43) ||
        !alloc4(be, a, WW_F32, 3, 5, 1, 1, &c53) || !alloc4(be, a, WW_U32, 5, 4, 1, 1, &u45) ||
        !alloc4(be, a, WW_F32, 16, 3, 1, 1, &x) || !alloc4(be, a, WW_F32, 7, 3, 1, 1, &x7) ||
        !alloc4(be, a, WW_F32, 16, 3, 1, 1, &y) || !alloc4(be, a, WW_F32, 17, 1, 1, 1, &w17) ||
        !alloc4(be, a, WW_F32, 16, 1, 1, 1, &b16) || !alloc4(be, a, WW_F32, 16, 2, 5, 1, &q) ||
        !alloc4(be, a, WW_F32, 8, 2, 5, 1, &k8) || !alloc4(be, a, WW_F32, 4, 2, 1, 1, &lse) ||
        !alloc4(be, a, WW_U32, 2, 5, 1, 1, &pos) || !alloc4(be, a, WW_F32, 2, 5, 1, 1, &pos_f) ||
        !alloc4(be, a, WW_F32, 32, 32, 3, 1, &img) ||
        !alloc4(be, a, WW_F32, 30, 32, 3, 1, &img_odd) ||
        !alloc4(be, a, WW_F32, 768, 4, 1, 1, &patches) ||
        !alloc4(be, a, WW_F32, 6, 5, 4, 1, &cx) || !alloc4(be, a, WW_F32, 3, 3, 4, 2, &cw) ||
        !alloc4(be, a, WW_F32, 3, 3, 3, 2, &cw_bad) || !alloc4(be, a, WW_F32, 6, 5, 2, 1, &cy) ||
        !alloc4(be, a, WW_F32, 2, 2, 2, 4, &tw) ||
        !alloc4(be, a, WW_F32, 12, 10, 3, 1, &ry) || !alloc4(be, a, WW_F32, 6, 5, 1, 1, &ids_f) ||
        !alloc4(be, a, WW_U8, 64, 1, 1, 1, &src) || !alloc4(be, a, WW_F32, 16, 16, 3, 1, &pp_y) ||
        !alloc4(be, a, WW_U32, 2, 1, 1, 1, &idx) || !alloc4(be, a, WW_F32, 2, 1, 1, 1, &idx_f) ||
        !alloc4(be, a, WW_F32, 16, 2, 1, 1, &rows_y) || !alloc4(be, a, WW_F32, 16, 4, 1, 1, &gy) ||
        !alloc4(be, a, WW_U32, 16, 1, 1, 1, &u1))
        return;

    EXPECT_INVALID(be, s, ww_gemm(s, &a45, &b63, NULL, &c43, 0), "gemm");        /* K 5 vs 6 */
    EXPECT_INVALID(be, s, ww_gemm(s, &u45, &b53, NULL, &c43, 0), "gemm");        /* U32 a */
    EXPECT_INVALID(be, s, ww_gemm(s, NULL, &b53, NULL, &c43, 0), "gemm");        /* no a */
    EXPECT_INVALID(be, s, ww_gemm(s, &a45, &b53, NULL, &c53, 0), "gemm");        /* c rows */
    EXPECT_INVALID(be, s, ww_gemm(s, &a45, &b53, NULL, &c43, 1u << 10), "gemm"); /* flag */
    EXPECT_INVALID(be, s, ww_gemm(s, &a45, &b53, &w17, &c43, 0), "gemm");        /* bias size */
    int64_t far_ne[4] = {5, 4, 1, 1}, far_nb[4] = {1, 5, 20, 20};
    ww_tensor far = ww_tensor_view(&a45, (int64_t)1 << 40, far_ne, far_nb); /* past the buffer */
    EXPECT_INVALID(be, s, ww_gemm(s, &far, &b53, NULL, &c43, 0), "gemm");

    EXPECT_INVALID(be, s, ww_layernorm(s, &x, &w17, &b16, 1e-6f, &y), "layernorm");
    EXPECT_INVALID(be, s, ww_layernorm(s, NULL, &b16, &b16, 1e-6f, &y), "layernorm");
    EXPECT_INVALID(be, s, ww_add(s, &x, &x7, &y), "add|eltwise");
    EXPECT_INVALID(be, s, ww_gelu(s, &u1, &b16), "gelu|eltwise");
    EXPECT_INVALID(be, s, ww_relu(s, &x, &x7), "relu|eltwise");
    EXPECT_INVALID(be, s, ww_copy(s, &x, NULL), "copy|eltwise");

    /* q [1, 5, 2, 16] against k [1, 5, 2, 8]; lse [2, 4] for Nq = 5 */
    EXPECT_INVALID(be, s, ww_attention(s, &q, &k8, &k8, 0.25f, &q, NULL), "attention");
    EXPECT_INVALID(be, s, ww_attention(s, &k8, &k8, &k8, 0.25f, &x, NULL), "attention");
    ww_tensor o;
    if (alloc4(be, a, WW_F32, 16, 2, 5, 1, &o))
        EXPECT_INVALID(be, s, ww_attention(s, &q, &q, &q, 0.25f, &o, &lse), "attention");

    ww_tensor table, x6;
    if (TEST_OK(be, ww_rope_table(a, 16, 8, 100.0, &table))) {
        EXPECT_INVALID(be, s, ww_rope2d(s, &q, &pos_f, &table, 0), "rope");
        if (alloc4(be, a, WW_F32, 6, 2, 5, 1, &x6)) /* Dh 6: not a multiple of 4 */
            EXPECT_INVALID(be, s, ww_rope2d(s, &x6, &pos, &table, 0), "rope");
    }

    EXPECT_INVALID(be, s, ww_patchify(s, &img_odd, 16, &patches), "patchify"); /* W 30 */
    EXPECT_INVALID(be, s, ww_patchify(s, &img, 16, &gy), "patchify");

    /* conv: x [1, 4, 5, 6], w [2, 4, 3, 3] */
    EXPECT_INVALID(be, s, ww_conv2d(s, &cx, &cw_bad, NULL, 1, 1, &cy, 0), "conv");
    EXPECT_INVALID(be, s, ww_conv2d(s, &cx, &cw, NULL, 0, 1, &cy, 0), "conv");
    EXPECT_INVALID(be, s, ww_conv2d(s, &cx, &cw, NULL, 1, 1, &cy, 1u << 7), "conv");
    EXPECT_INVALID(be, s, ww_conv_transpose2d(s, &cx, &tw, NULL, &cy), "conv");
    EXPECT_INVALID(be, s, ww_resize_bilinear(s, &cx, &ry), "resize");
    EXPECT_INVALID(be, s, ww_softmax_channels(s, &cx, &cy), "softmax|channels");
    EXPECT_INVALID(be, s, ww_argmax_channels(s, &cx, &ids_f, NULL), "argmax|channels");

    ww_image_layout lay;
    ww_image_layout_packed(WW_FMT_RGBA, 16, 16, &lay); /* 1024 bytes: src holds 64 */
    EXPECT_INVALID(be, s, ww_preprocess(s, &src, &lay, 16, 16, NULL, NULL, &pp_y), "preprocess");
    lay.width = 0;
    EXPECT_INVALID(be, s, ww_preprocess(s, &src, &lay, 16, 16, NULL, NULL, &pp_y), "preprocess");

    /* x [1, 3, 16]: gather 2 rows into [1, 2, 16]; scatter back */
    EXPECT_INVALID(be, s, ww_gather_rows(s, &x, &idx_f, &rows_y), "gather|rows");
    EXPECT_INVALID(be, s, ww_gather_rows(s, &x, &idx, &gy), "gather|rows");
    EXPECT_INVALID(be, s, ww_scatter_rows(s, &rows_y, &idx, &c43), "scatter|rows"); /* D 3 */
    EXPECT_INVALID(be, s, ww_probe_fma(s, &u1, 4), "probe");

    /* after all that, the sequence and backend still work */
    float ones[16 * 3];
    for (int i = 0; i < 48; i++)
        ones[i] = (float)i;
    float back[48];
    if (TEST_OK(be, ww_tensor_write(be, &x, ones, sizeof ones)) &&
        TEST_OK(be, ww_copy(s, &x, &y)) && test_run(be, s) &&
        TEST_OK(be, ww_tensor_read(be, &y, back, sizeof back)))
        TEST_CHECK(memcmp(ones, back, sizeof back) == 0 && ww_seq_length(s) == 1,
                   "a valid op after the refused ones did not run as recorded");
}

static void test_tensor_io(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    ww_seq *s = a ? test_seq(be) : NULL;
    if (!s)
        return;
    ww_tensor t, u8, u32;
    if (!alloc4(be, a, WW_F32, 8, 5, 1, 1, &t) || !alloc4(be, a, WW_U8, 7, 1, 1, 1, &u8) ||
        !alloc4(be, a, WW_U32, 3, 1, 1, 1, &u32))
        return;
    /* 40 elements; the arrays are larger so that wrong sizes stay inside them */
    float data[48] = {0}, back[48] = {0};
    const size_t bytes = 40 * sizeof(float);
    for (int i = 0; i < 40; i++)
        data[i] = (float)i * 0.5f;
    TEST_OK(be, ww_tensor_write(be, &t, data, bytes));
    TEST_OK(be, ww_tensor_read(be, &t, back, bytes));
    TEST_CHECK(memcmp(data, back, bytes) == 0, "F32 write/read round trip differs");

    TEST_STATUS(be, ww_tensor_write(be, &t, data, bytes - 4), WW_ERR_INVALID);
    TEST_STATUS(be, ww_tensor_write(be, &t, data, bytes + 4), WW_ERR_INVALID);
    TEST_STATUS(be, ww_tensor_read(be, &t, back, bytes - 4), WW_ERR_INVALID);
    TEST_STATUS(be, ww_tensor_read(be, &t, back, bytes + 4), WW_ERR_INVALID);
    TEST_CHECK(*ww_backend_error(be), "no message for a wrong-size read");
    int64_t sne[4] = {3, 3, 1, 1}, snb[4] = {1, 8, 24, 24};
    ww_tensor strided = ww_tensor_view(&t, 1, sne, snb);
    TEST_STATUS(be, ww_tensor_write(be, &strided, data, 9 * sizeof(float)), WW_ERR_INVALID);
    TEST_STATUS(be, ww_tensor_fill(be, &strided, 0), WW_ERR_INVALID);

    /* a contiguous view in the middle: only its elements change */
    int64_t vne[4] = {6, 1, 1, 1}, vnb[4] = {1, 6, 6, 6};
    ww_tensor mid = ww_tensor_view(&t, 13, vne, vnb);
    float six[6] = {-1, -2, -3, -4, -5, -6};
    if (TEST_OK(be, ww_tensor_write(be, &mid, six, sizeof six)) &&
        TEST_OK(be, ww_tensor_read(be, &t, back, bytes))) {
        for (int i = 13; i < 19; i++)
            data[i] = six[i - 13];
        TEST_CHECK(memcmp(data, back, bytes) == 0, "writing a view touched other elements");
    }
    if (TEST_OK(be, ww_tensor_fill(be, &mid, 0x3f800000u)) && /* 1.0f */
        TEST_OK(be, ww_tensor_read(be, &t, back, bytes))) {
        for (int i = 13; i < 19; i++)
            data[i] = 1.0f;
        TEST_CHECK(memcmp(data, back, bytes) == 0, "fill of a view is wrong");
    }

    /* odd byte counts: 7 bytes of U8 */
    unsigned char b7[16] = {1, 2, 3, 250, 251, 252, 253}, bback[16];
    if (TEST_OK(be, ww_tensor_write(be, &u8, b7, 7)) &&
        TEST_OK(be, ww_tensor_read(be, &u8, bback, 7)))
        TEST_CHECK(memcmp(b7, bback, 7) == 0, "U8 round trip differs");
    TEST_STATUS(be, ww_tensor_write(be, &u8, b7, 8), WW_ERR_INVALID);
    uint32_t words[3] = {0, 0xFFFFFFFFu, 12345}, wback[3];
    if (TEST_OK(be, ww_tensor_write(be, &u32, words, sizeof words)) &&
        TEST_OK(be, ww_tensor_read(be, &u32, wback, sizeof wback)))
        TEST_CHECK(memcmp(words, wback, sizeof words) == 0, "U32 round trip differs");
}

/* ---- Sequences ------------------------------------------------------------------------------------ */

/* Shapes of the small MLP step used by the sequence tests: z = relu(gelu(x w + bias)). */
enum { SM = 5, SK = 33, SN = 17 };

typedef struct mlp {
    test_tensor x, w, bias, y, z;
    float hw[SK * SN], hbias[SN];
} mlp;

static int mlp_setup(ww_backend *be, ww_arena *a, mlp *m)
{
    test_rng r;
    test_rng_seed(&r, 7);
    test_rng_fill(&r, m->hw, SK * SN, -0.3f, 0.3f);
    test_rng_fill(&r, m->hbias, SN, -1, 1);
    int64_t xne[2] = {SK, SM}, wne[2] = {SN, SK}, bne[1] = {SN}, yne[2] = {SN, SM};
    return test_tensor_new(be, a, WW_F32, 2, xne, NULL, &m->x) &&
           test_tensor_new(be, a, WW_F32, 2, wne, m->hw, &m->w) &&
           test_tensor_new(be, a, WW_F32, 1, bne, m->hbias, &m->bias) &&
           test_tensor_new(be, a, WW_F32, 2, yne, NULL, &m->y) &&
           test_tensor_new(be, a, WW_F32, 2, yne, NULL, &m->z);
}

static int mlp_record(ww_backend *be, ww_seq *s, mlp *m)
{
    return TEST_OK(be, ww_gemm(s, &m->x.t, &m->w.t, &m->bias.t, &m->y.t, WW_GEMM_GELU)) &&
           TEST_OK(be, ww_relu(s, &m->y.t, &m->z.t));
}

/* Write a new x (from seed) and return the expected z in ref. */
static int mlp_input(ww_backend *be, mlp *m, uint64_t seed, double *ref)
{
    float x[SM * SK];
    test_rng r;
    test_rng_seed(&r, seed);
    test_rng_fill(&r, x, SM * SK, -1, 1);
    gemm_host(x, m->hw, SM, SN, SK, ref);
    for (int i = 0; i < SM * SN; i++) {
        double v = gelu_ref(ref[i] + m->hbias[i % SN]);
        ref[i] = v > 0 ? v : 0;
    }
    return TEST_OK(be, ww_tensor_write(be, &m->x.t, x, sizeof x));
}

static int mlp_check(ww_backend *be, mlp *m, const double *ref, const char *what)
{
    float z[SM * SN];
    return test_tensor_get(be, &m->z, z, what) && TEST_COMPARE(what, z, ref, SM * SN, TEST_TOL);
}

/* Recorded once, run three times with new input in between: each run sees its input. */
static void test_seq_rerun(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    ww_seq *s = a ? test_seq(be) : NULL;
    mlp m;
    if (!s || !mlp_setup(be, a, &m) || !mlp_record(be, s, &m))
        return;
    for (int it = 0; it < 3; it++) {
        double ref[SM * SN];
        char what[64];
        snprintf(what, sizeof what, "run %d of the same recording", it + 1);
        if (!mlp_input(be, &m, 100 + (uint64_t)it, ref) || !test_run(be, s) ||
            !mlp_check(be, &m, ref, what))
            return;
        TEST_CHECK(ww_seq_length(s) == 2, "length %d after run %d", ww_seq_length(s), it + 1);
    }
}

/* After ww_seq_clear the old ops are gone (they do not run again) and new ones record. */
static void test_seq_clear(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    ww_seq *s = a ? test_seq(be) : NULL;
    mlp m;
    double ref[SM * SN];
    if (!s || !mlp_setup(be, a, &m) || !mlp_record(be, s, &m) || !mlp_input(be, &m, 200, ref) ||
        !test_run(be, s) || !mlp_check(be, &m, ref, "before clear"))
        return;
    ww_seq_clear(s);
    TEST_CHECK(ww_seq_length(s) == 0, "length %d after clear", ww_seq_length(s));
    if (!TEST_OK(be, ww_tensor_fill(be, &m.z.t, 0)) || !TEST_OK(be, ww_add(s, &m.x.t, &m.x.t, &m.x.t)))
        return;
    float x[SM * SK], x2[SM * SK], z[SM * SN];
    if (!TEST_OK(be, ww_tensor_read(be, &m.x.t, x, sizeof x)) || !test_run(be, s) ||
        !test_tensor_get(be, &m.x, x2, "x after x += x") ||
        !test_tensor_get(be, &m.z, z, "z after clear"))
        return;
    int doubled = 1, untouched = 1;
    for (int i = 0; i < SM * SK; i++)
        doubled &= x2[i] == 2 * x[i];
    for (int i = 0; i < SM * SN; i++)
        untouched &= z[i] == 0;
    TEST_CHECK(doubled, "the op recorded after clear did not run");
    TEST_CHECK(untouched, "an op cleared from the sequence still ran");
    TEST_CHECK(ww_seq_length(s) == 1, "length %d after re-recording", ww_seq_length(s));
}

/* Appending after a run: the next run runs the old and the new ops. */
static void test_seq_append(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    ww_seq *s = a ? test_seq(be) : NULL;
    test_tensor x, y, z;
    int64_t ne[1] = {41};
    if (!s || !test_tensor_new(be, a, WW_F32, 1, ne, NULL, &x) ||
        !test_tensor_new(be, a, WW_F32, 1, ne, NULL, &y) ||
        !test_tensor_new(be, a, WW_F32, 1, ne, NULL, &z))
        return;
    float hx[41], hy[41], hz[41];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 41; i++)
            hx[i] = (float)(i + 100 * round);
        if (!TEST_OK(be, ww_tensor_write(be, &x.t, hx, sizeof hx)))
            return;
        if (round == 0) {
            if (!TEST_OK(be, ww_copy(s, &x.t, &y.t)) || !test_run(be, s) ||
                !test_tensor_get(be, &y, hy, "y") ||
                !TEST_CHECK(memcmp(hx, hy, sizeof hx) == 0, "copy before the append is wrong"))
                return;
            if (!TEST_OK(be, ww_add(s, &y.t, &y.t, &z.t)))
                return;
        }
        if (!test_run(be, s) || !test_tensor_get(be, &y, hy, "y") ||
            !test_tensor_get(be, &z, hz, "z"))
            return;
        int ok = 1;
        for (int i = 0; i < 41; i++)
            ok &= hy[i] == hx[i] && hz[i] == 2 * hx[i];
        TEST_CHECK(ok, "round %d after appending: copy and add did not both run", round);
        TEST_CHECK(ww_seq_length(s) == 2, "length %d after appending", ww_seq_length(s));
    }
}

/* Many ops in one sequence, each reading what the previous one wrote (ping-pong buffers, so
 * write-after-read hazards too); compared with double loops and with the CPU backend. */
enum { CT = 13, CD = 24, COPS = 40 };

typedef struct chain_host {
    float x0[CT * CD], w[CD * CD], bias[CD], lnw[CD], lnb[CD];
} chain_host;

enum { CH_GEMM, CH_LN, CH_GELU, CH_ADD, CH_LN_INPLACE, CH_COPY, CH_KINDS };

static void chain_ref_layernorm(const double *x, const float *w, const float *b, double *y)
{
    for (int t = 0; t < CT; t++) {
        double mean = 0, var = 0;
        for (int i = 0; i < CD; i++)
            mean += x[t * CD + i];
        mean /= CD;
        for (int i = 0; i < CD; i++)
            var += (x[t * CD + i] - mean) * (x[t * CD + i] - mean);
        var /= CD;
        for (int i = 0; i < CD; i++)
            y[t * CD + i] = (x[t * CD + i] - mean) / sqrt(var + 1e-6) * w[i] + b[i];
    }
}

static void chain_ref(const chain_host *h, double *out)
{
    double buf[2][CT * CD];
    int cur = 0;
    for (int i = 0; i < CT * CD; i++)
        buf[0][i] = h->x0[i];
    for (int op = 1; op < COPS; op++) {
        double *x = buf[cur], *y = buf[!cur];
        switch (op % CH_KINDS) {
        case CH_GEMM: /* Linear: y = x w^T + bias */
            for (int t = 0; t < CT; t++)
                for (int o = 0; o < CD; o++) {
                    double s = h->bias[o];
                    for (int i = 0; i < CD; i++)
                        s += x[t * CD + i] * h->w[o * CD + i];
                    y[t * CD + o] = s;
                }
            break;
        case CH_LN:
            chain_ref_layernorm(x, h->lnw, h->lnb, y);
            break;
        case CH_GELU:
            for (int i = 0; i < CT * CD; i++)
                y[i] = gelu_ref(x[i]);
            break;
        case CH_ADD:
            for (int i = 0; i < CT * CD; i++)
                y[i] = x[i] + h->x0[i];
            break;
        case CH_LN_INPLACE:
            chain_ref_layernorm(x, h->lnw, h->lnb, x);
            continue; /* stays in the same buffer */
        default:
            memcpy(y, x, sizeof buf[0]);
            break;
        }
        cur = !cur;
    }
    memcpy(out, buf[cur], sizeof buf[0]);
}

/* Record the chain on be, run it twice (the second run must repeat the first exactly) and
 * return the result. */
static int chain_run(ww_backend *be, const chain_host *h, float *out)
{
    ww_arena *a = test_arena(be);
    ww_seq *s = a ? test_seq(be) : NULL;
    test_tensor x0, w, bias, lnw, lnb, buf[2];
    int64_t xne[2] = {CD, CT}, wne[2] = {CD, CD}, vne[1] = {CD};
    if (!s || !test_tensor_new(be, a, WW_F32, 2, xne, h->x0, &x0) ||
        !test_tensor_new(be, a, WW_F32, 2, wne, h->w, &w) ||
        !test_tensor_new(be, a, WW_F32, 1, vne, h->bias, &bias) ||
        !test_tensor_new(be, a, WW_F32, 1, vne, h->lnw, &lnw) ||
        !test_tensor_new(be, a, WW_F32, 1, vne, h->lnb, &lnb) ||
        !test_tensor_new(be, a, WW_F32, 2, xne, NULL, &buf[0]) ||
        !test_tensor_new(be, a, WW_F32, 2, xne, NULL, &buf[1]))
        return 0;
    int cur = 0;
    if (!TEST_OK(be, ww_copy(s, &x0.t, &buf[0].t)))
        return 0;
    for (int op = 1; op < COPS; op++) {
        const ww_tensor *x = &buf[cur].t, *y = &buf[!cur].t;
        ww_status st;
        switch (op % CH_KINDS) {
        case CH_GEMM:
            st = ww_gemm(s, x, &w.t, &bias.t, y, WW_GEMM_TRANS_B);
            break;
        case CH_LN:
            st = ww_layernorm(s, x, &lnw.t, &lnb.t, 1e-6f, y);
            break;
        case CH_GELU:
            st = ww_gelu(s, x, y);
            break;
        case CH_ADD:
            st = ww_add(s, x, &x0.t, y);
            break;
        case CH_LN_INPLACE:
            st = ww_layernorm(s, x, &lnw.t, &lnb.t, 1e-6f, x);
            break;
        default:
            st = ww_copy(s, x, y);
            break;
        }
        if (!TEST_OK(be, st))
            return 0;
        if (op % CH_KINDS != CH_LN_INPLACE)
            cur = !cur;
    }
    TEST_CHECK(ww_seq_length(s) == COPS, "chain length %d, want %d", ww_seq_length(s), COPS);
    float again[CT * CD];
    if (!test_run(be, s) || !test_tensor_get(be, &buf[cur], out, "chain result") ||
        !test_run(be, s) || !test_tensor_get(be, &buf[cur], again, "chain result, second run"))
        return 0;
    return TEST_CHECK(memcmp(out, again, sizeof again) == 0,
                      "running the chain again gave a different result");
}

static void test_seq_chain(const char *dev)
{
    ww_backend *be = test_backend(dev);
    if (!be)
        return;
    chain_host *h = test_malloc(sizeof *h);
    test_rng r;
    test_rng_seed(&r, 300);
    test_rng_fill(&r, h->x0, CT * CD, -1, 1);
    test_rng_fill(&r, h->w, CD * CD, -0.3f, 0.3f);
    test_rng_fill(&r, h->bias, CD, -0.5f, 0.5f);
    test_rng_fill(&r, h->lnw, CD, 0.5f, 1.5f);
    test_rng_fill(&r, h->lnb, CD, -0.5f, 0.5f);
    double ref[CT * CD];
    chain_ref(h, ref);
    float got[CT * CD];
    if (!chain_run(be, h, got))
        return;
    TEST_COMPARE("40-op chain", got, ref, CT * CD, TEST_TOL_REDUCE);
    if (ww_backend_kind_of(be) != WW_BACKEND_VULKAN)
        return;
    ww_backend *cpu = test_backend("cpu");
    float want[CT * CD];
    if (cpu && chain_run(cpu, h, want))
        TEST_COMPARE_F("40-op chain, Vulkan vs CPU", got, want, CT * CD, TEST_TOL_REDUCE);
}

/* ---- Arenas ------------------------------------------------------------------------------------------ */

static int arena_round(ww_backend *be, ww_arena *a, int round, size_t *in_use)
{
    static const int64_t shapes[][4] = {{1000, 1, 1, 1}, {17, 33, 1, 1}, {4099, 1, 1, 1},
                                        {1, 1, 1, 1},    {64, 64, 3, 1}, {5, 7, 11, 13}};
    ww_tensor t[6];
    for (int i = 0; i < 6; i++)
        if (!TEST_OK(be, ww_arena_alloc(a, WW_F32, 4, shapes[i], &t[i])))
            return 0;
    *in_use = ww_backend_memory_in_use(be);
    /* the tensors of this round are usable: t[0] = 2 * t[0] on the device; the sequence goes
     * away within the round so that whatever it holds does not blur the arena's accounting */
    ww_seq *s = NULL;
    if (!TEST_OK(be, ww_seq_create(be, &s)))
        return 0;
    float h[1000], back[1000];
    for (int i = 0; i < 1000; i++)
        h[i] = (float)(i + round);
    int ran = TEST_OK(be, ww_tensor_write(be, &t[0], h, sizeof h)) &&
              TEST_OK(be, ww_add(s, &t[0], &t[0], &t[0])) && test_run(be, s) &&
              TEST_OK(be, ww_tensor_read(be, &t[0], back, sizeof back));
    ww_seq_destroy(s);
    if (!ran)
        return 0;
    int ok = 1;
    for (int i = 0; i < 1000; i++)
        ok &= back[i] == 2 * h[i];
    return TEST_CHECK(ok, "round %d: a tensor of the reset arena computes wrongly", round);
}

static void test_arena_reuse(const char *dev)
{
    ww_backend_options opt;
    test_backend_options(&opt, dev);
    ww_backend *be = test_backend_new(&opt); /* its own, so that its accounting is ours alone */
    if (!be)
        return;
    size_t m0 = ww_backend_memory_in_use(be), m1 = 0;
    ww_arena *a = NULL;
    if (!TEST_OK(be, ww_arena_create(be, 0, &a)))
        return;
    for (int round = 0; round < 5; round++) {
        size_t used;
        if (round)
            ww_arena_reset(a);
        if (!arena_round(be, a, round, &used))
            break;
        if (round == 0)
            m1 = used;
        else
            TEST_CHECK(used == m1, "round %d: %zu bytes in use, %zu after the first round", round,
                       used, m1);
    }
    size_t peak = ww_backend_memory_peak(be);
    TEST_CHECK(m1 > m0, "allocating tensors shows no more memory in use (%zu bytes)", m1);
    TEST_CHECK(peak >= m1 && peak > 0, "peak %zu below the %zu bytes in use", peak, m1);
    ww_arena_destroy(a);
    size_t after = ww_backend_memory_in_use(be);
    TEST_CHECK(after == m0, "%zu bytes in use after destroying the arena, %zu before creating it",
               after, m0);
    TEST_CHECK(ww_backend_memory_peak(be) == peak, "peak changed from %zu to %zu on destroy",
               peak, ww_backend_memory_peak(be));
}

/* ---- Pipeline cache and profiling ---------------------------------------------------------------- */

static void test_pipeline_cache(const char *arg)
{
    (void)arg;
    if (test_vulkan_disabled())
        return;
    char dir[] = "/tmp/ww_test_cache_XXXXXX";
    if (!TEST_CHECK(mkdtemp(dir) != NULL, "mkdtemp failed"))
        return;
    char path[64];
    snprintf(path, sizeof path, "%s/pipelines.bin", dir);
    ww_backend_options opt;
    test_backend_options(&opt, "vulkan");
    opt.pipeline_cache_path = path;

    ww_backend *be = test_backend_new(&opt);
    if (be) {
        gemm_works(be, "gemm, cache being written");
        test_backend_destroy(be);
        long size = test_file_size(path);
        TEST_CHECK(size > 0, "after destroy the cache file %s has size %ld", path, size);

        be = test_backend_new(&opt);
        if (be) {
            gemm_works(be, "gemm, cache loaded");
            test_backend_destroy(be);
        }

        /* a damaged cache (another driver, a truncated write) is ignored, then replaced */
        unsigned char junk[100];
        for (int i = 0; i < 100; i++)
            junk[i] = (unsigned char)(i * 37 + 11);
        FILE *f = fopen(path, "wb");
        if (TEST_CHECK(f != NULL, "cannot rewrite %s", path)) {
            fwrite(junk, 1, sizeof junk, f);
            fclose(f);
            be = test_backend_new(&opt);
            if (be) {
                gemm_works(be, "gemm, damaged cache");
                test_backend_destroy(be);
                unsigned char head[100] = {0};
                f = fopen(path, "rb");
                size_t got = f ? fread(head, 1, sizeof head, f) : 0;
                if (f)
                    fclose(f);
                TEST_CHECK(got > 0 && memcmp(head, junk, sizeof junk) != 0,
                           "the damaged cache file was not replaced");
            }
        }
    }
    unlink(path);
    rmdir(dir);
}

static void test_profile(const char *dev)
{
    ww_backend *be = test_backend(dev);
    ww_arena *a = be ? test_arena(be) : NULL;
    if (!a)
        return;
    /* restore the caller's WW_PROFILE afterwards */
    const char *env = getenv("WW_PROFILE");
    char saved[64] = "";
    int had = env != NULL;
    if (had)
        snprintf(saved, sizeof saved, "%s", env);
    setenv("WW_PROFILE", "1", 1);
    ww_seq *prof = test_seq(be);
    unsetenv("WW_PROFILE");
    ww_seq *plain = prof ? test_seq(be) : NULL;
    if (had)
        setenv("WW_PROFILE", saved, 1);
    mlp m;
    double ref[SM * SN];
    if (!plain || !mlp_setup(be, a, &m) || !mlp_record(be, prof, &m) ||
        !mlp_record(be, plain, &m) || !mlp_input(be, &m, 400, ref) || !test_run(be, prof) ||
        !mlp_check(be, &m, ref, "profiled run") || !test_run(be, plain))
        return;
    FILE *f = tmpfile();
    if (!TEST_CHECK(f != NULL, "tmpfile failed"))
        return;
    char text[4096] = "";
    if (TEST_OK(be, ww_seq_print_profile(prof, f))) {
        rewind(f);
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        TEST_CHECK(test_contains(text, "gemm"), "profile does not mention gemm: %s", text);
    }
    TEST_STATUS(be, ww_seq_print_profile(plain, f), WW_ERR_INVALID);
    fclose(f);
}

#define BOTH(name, fn) {name ".cpu", fn, "cpu"}, {name ".vulkan", fn, "vulkan"}

static const ww_test_case cases[] = {
    {"status_str", test_status_str, NULL},
    BOTH("tensor_basics", test_tensor_basics),
    {"device_cpu", test_device_cpu, NULL},
    {"list_devices", test_list_devices, NULL},
    {"device_vulkan", test_device_vulkan, NULL},
    {"device_index", test_device_index, NULL},
    {"device_name", test_device_name, NULL},
    {"device_uuid", test_device_uuid, NULL},
    {"device_bogus", test_device_bogus, NULL},
    {"device_auto", test_device_auto, NULL},
    BOTH("out_of_memory", test_out_of_memory),
    BOTH("invalid_ops", test_invalid_ops),
    BOTH("tensor_io", test_tensor_io),
    BOTH("seq_rerun", test_seq_rerun),
    BOTH("seq_clear", test_seq_clear),
    BOTH("seq_append", test_seq_append),
    BOTH("seq_chain", test_seq_chain),
    BOTH("arena_reuse", test_arena_reuse),
    {"pipeline_cache", test_pipeline_cache, NULL},
    BOTH("profile", test_profile),
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
