/* The test framework of test_util.h. Single-threaded: the state of the running test is global. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#endif
#include "test_util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"

/* Failures after the first one that are printed under the FAIL line. */
#define MAX_EXTRA 10

typedef struct owned {
    void *p;        /* ww_seq * or ww_arena * */
    ww_backend *be; /* its backend, so that test_backend_destroy can release it first */
} owned;

typedef struct owned_backend {
    ww_backend *be;
    char device[64];
} owned_backend;

/* A list that grows by doubling; element size fixed per list. */
typedef struct vec {
    void *data;
    size_t n, cap;
} vec;

static struct {
    const char *name;
    int failures;
    char first[768];
    char extra[MAX_EXTRA][768];
    int skipped;
    char skip_reason[512];
    vec mem;      /* void * */
    vec seqs;     /* owned */
    vec arenas;   /* owned */
    vec backends; /* owned_backend */
} cur;

/* The shared backends of test_backend(), kept for the whole run. */
typedef struct shared_backend {
    char device[32];
    ww_backend *be;
    ww_status status; /* of the creation */
    char err[512];
    uint64_t seen; /* validation messages already attributed to earlier tests */
} shared_backend;

static shared_backend shared[4];
static int nshared;

/* The last warning or error a backend logged: quoted when validation messages fail a test (the
 * validation layer's messages reach the log callback). */
static char last_log[512];

static void fatal(const char *what)
{
    fprintf(stderr, "test framework: %s\n", what);
    fflush(stdout);
    abort();
}

static void *vec_push(vec *v, size_t elem)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 16;
        void *d = realloc(v->data, cap * elem);
        if (!d)
            fatal("out of host memory");
        v->data = d;
        v->cap = cap;
    }
    return (char *)v->data + elem * v->n++;
}

static const char *status_name(ww_status s)
{
    const char *n = ww_status_str(s);
    return n ? n : "(null status string)";
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Keep one line per failure: newlines in quoted library text become spaces. */
static void record(char *msg)
{
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    cur.failures++;
    if (cur.failures == 1)
        snprintf(cur.first, sizeof cur.first, "%s", msg);
    else if (cur.failures - 2 < MAX_EXTRA)
        snprintf(cur.extra[cur.failures - 2], sizeof cur.extra[0], "%s", msg);
}

int test_check_(int ok, const char *file, int line, const char *fmt, ...)
{
    if (ok)
        return 1;
    char msg[768];
    int len = snprintf(msg, sizeof msg, "%s:%d: ", base_name(file), line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + len, sizeof msg - (size_t)len, fmt, ap);
    va_end(ap);
    record(msg);
    return 0;
}

int test_status_(ww_status got, ww_status want, const ww_backend *be, const char *expr,
                 const char *file, int line)
{
    if (got == want)
        return 1;
    const char *err = be ? ww_backend_error(be) : "";
    return test_check_(0, file, line, "%s returned '%s' (want '%s')%s%s", expr, status_name(got),
                       status_name(want), err && *err ? ": " : "", err ? err : "");
}

void test_skip_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cur.skip_reason, sizeof cur.skip_reason, fmt, ap);
    va_end(ap);
    cur.skipped = 1;
}

int test_compare_(const char *file, int line, const char *what, const float *got,
                  const double *ref, size_t n, double tol)
{
    double d2 = 0, r2 = 0, maxabs = 0;
    size_t imax = 0, nbad = 0, ibad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i];
        if (!isfinite(g)) {
            if (!nbad)
                ibad = i;
            nbad++;
            continue;
        }
        double e = fabs(g - r);
        d2 += e * e;
        r2 += r * r;
        if (e > maxabs) {
            maxabs = e;
            imax = i;
        }
    }
    if (nbad)
        return test_check_(0, file, line, "%s: %zu of %zu values not finite, first at [%zu]: got %g want %.9g",
                           what, nbad, n, ibad, (double)got[ibad], ref[ibad]);
    double nerr = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
    return test_check_(nerr <= tol, file, line,
                       "%s: normalised error %.3g > %.3g (max abs error %.3g at [%zu] of %zu: got %.9g want %.9g)",
                       what, nerr, tol, maxabs, imax, n, n ? (double)got[imax] : 0.0,
                       n ? ref[imax] : 0.0);
}

int test_compare_f_(const char *file, int line, const char *what, const float *got,
                    const float *ref, size_t n, double tol)
{
    double *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        fatal("out of host memory");
    for (size_t i = 0; i < n; i++)
        r[i] = ref[i];
    int ok = test_compare_(file, line, what, got, r, n, tol);
    free(r);
    return ok;
}

void test_rng_seed(test_rng *r, uint64_t seed)
{
    /* splitmix64 spreads small consecutive seeds over the state space */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r->s = z ? z : 0x9E3779B97F4A7C15ull; /* xorshift must not start at 0 */
}

uint32_t test_rng_u32(test_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

uint32_t test_rng_below(test_rng *r, uint32_t n)
{
    return (uint32_t)(((uint64_t)test_rng_u32(r) * n) >> 32);
}

float test_rng_float(test_rng *r, float lo, float hi)
{
    /* 24 random bits: every value is exactly representable */
    return lo + (hi - lo) * (float)((test_rng_u32(r) >> 8) * (1.0 / 16777216.0));
}

void test_rng_fill(test_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = test_rng_float(r, lo, hi);
}

void *test_malloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p)
        fatal("out of host memory");
    *(void **)vec_push(&cur.mem, sizeof p) = p;
    return p;
}

static void test_log(void *user, int level, const char *msg)
{
    (void)user;
    if (level <= WW_LOG_WARNING)
        snprintf(last_log, sizeof last_log, "%s", msg ? msg : "");
}

static int is_vulkan_device(const char *device)
{
    return device && strncmp(device, "vulkan", 6) == 0;
}

void test_backend_options(ww_backend_options *opt, const char *device)
{
    memset(opt, 0, sizeof *opt);
    opt->device = device;
    /* the build sets WW_TEST_VALIDATION=0 when configured without the validation layer */
    const char *v = getenv("WW_TEST_VALIDATION");
    opt->validation = !(device && strcmp(device, "cpu") == 0) && !(v && strcmp(v, "0") == 0);
    opt->log = test_log;
}

int test_vulkan_disabled(void)
{
    const char *e = getenv("WW_TEST_SKIP_VULKAN");
    if (e && strcmp(e, "1") == 0) {
        TEST_SKIP("WW_TEST_SKIP_VULKAN=1");
        return 1;
    }
    return 0;
}

/* Turn a failed creation into a skip (no Vulkan device) or a failure. */
static void creation_failed(const char *device, ww_status st, const char *err)
{
    if (st == WW_ERR_NO_DEVICE && is_vulkan_device(device))
        TEST_SKIP("no Vulkan device for '%s': %s", device, err);
    else
        TEST_FAIL("creating backend '%s': %s: %s", device ? device : "(null)", status_name(st),
                  err);
}

ww_backend *test_backend(const char *device)
{
    if (is_vulkan_device(device) && test_vulkan_disabled())
        return NULL;
    shared_backend *sb = NULL;
    for (int i = 0; i < nshared; i++)
        if (strcmp(shared[i].device, device) == 0)
            sb = &shared[i];
    if (!sb) {
        if (nshared == (int)(sizeof shared / sizeof shared[0]))
            fatal("too many shared backends");
        sb = &shared[nshared++];
        snprintf(sb->device, sizeof sb->device, "%s", device);
        ww_backend_options opt;
        test_backend_options(&opt, sb->device);
        sb->status = ww_backend_create(&opt, &sb->be, sb->err, sizeof sb->err);
    }
    if (sb->status != WW_OK) {
        creation_failed(device, sb->status, sb->err);
        return NULL;
    }
    return sb->be;
}

ww_backend *test_backend_new(const ww_backend_options *opt)
{
    if (is_vulkan_device(opt->device) && test_vulkan_disabled())
        return NULL;
    ww_backend *be = NULL;
    char err[512] = "";
    ww_status st = ww_backend_create(opt, &be, err, sizeof err);
    if (st != WW_OK) {
        creation_failed(opt->device, st, err);
        return NULL;
    }
    test_backend_track(be, opt->device);
    return be;
}

void test_backend_track(ww_backend *be, const char *device)
{
    owned_backend *ob = vec_push(&cur.backends, sizeof *ob);
    ob->be = be;
    snprintf(ob->device, sizeof ob->device, "%s", device ? device : "auto");
}

/* Destroy the sequences and arenas of be (of every backend when be is NULL). */
static void release_owned(ww_backend *be)
{
    owned *s = cur.seqs.data;
    size_t keep = 0;
    for (size_t i = 0; i < cur.seqs.n; i++) {
        if (!be || s[i].be == be)
            ww_seq_destroy(s[i].p);
        else
            s[keep++] = s[i];
    }
    cur.seqs.n = keep;
    owned *a = cur.arenas.data;
    keep = 0;
    for (size_t i = 0; i < cur.arenas.n; i++) {
        if (!be || a[i].be == be)
            ww_arena_destroy(a[i].p);
        else
            a[keep++] = a[i];
    }
    cur.arenas.n = keep;
}

static void check_validation(ww_backend *be, uint64_t *seen, const char *device)
{
    uint64_t n = ww_backend_validation_messages(be);
    if (n > *seen)
        TEST_FAIL("%llu Khronos validation message(s) on '%s'; last logged warning: %s",
                  (unsigned long long)(n - *seen), device, last_log);
    *seen = n;
}

static void destroy_backend_at(size_t i)
{
    owned_backend *b = cur.backends.data;
    uint64_t seen = 0;
    release_owned(b[i].be);
    check_validation(b[i].be, &seen, b[i].device);
    ww_backend_destroy(b[i].be);
    b[i] = b[--cur.backends.n];
}

void test_backend_destroy(ww_backend *be)
{
    owned_backend *b = cur.backends.data;
    for (size_t i = 0; i < cur.backends.n; i++) {
        if (b[i].be == be) {
            destroy_backend_at(i);
            return;
        }
    }
    TEST_FAIL("test_backend_destroy: the backend does not belong to the test");
}

ww_arena *test_arena(ww_backend *be)
{
    owned *a = cur.arenas.data;
    for (size_t i = 0; i < cur.arenas.n; i++) {
        if (a[i].be == be) {
            ww_arena_reset(a[i].p);
            return a[i].p;
        }
    }
    ww_arena *arena = NULL;
    if (!TEST_OK(be, ww_arena_create(be, 0, &arena)))
        return NULL;
    owned *o = vec_push(&cur.arenas, sizeof *o);
    o->p = arena;
    o->be = be;
    return arena;
}

ww_seq *test_seq(ww_backend *be)
{
    ww_seq *s = NULL;
    if (!TEST_OK(be, ww_seq_create(be, &s)))
        return NULL;
    owned *o = vec_push(&cur.seqs, sizeof *o);
    o->p = s;
    o->be = be;
    return s;
}

int test_run(ww_backend *be, ww_seq *s)
{
    return TEST_OK(be, ww_seq_run(s)) && TEST_OK(be, ww_seq_wait(s));
}

/* Byte i of a buffer filled with the 32-bit word w (guards start at multiples of 4 bytes). */
static unsigned char sentinel_byte(uint32_t w, size_t i)
{
    return (unsigned char)(w >> (8 * (i % 4)));
}

/* Counts guarded tensors, to give each its own guard word. */
static uint32_t guard_serial;

int test_tensor_new(ww_backend *be, ww_arena *a, ww_dtype type, int n, const int64_t *ne,
                    const void *init, test_tensor *out)
{
    size_t es = ww_dtype_size(type);
    if (!TEST_CHECK(es > 0 && n >= 1 && n <= 4, "test_tensor_new: bad type %d or dims %d",
                    (int)type, n))
        return 0;
    int64_t ne4[4] = {1, 1, 1, 1}, nb4[4];
    int64_t count = 1;
    for (int i = 0; i < n; i++) {
        ne4[i] = ne[i];
        count *= ne[i];
    }
    nb4[0] = 1;
    for (int i = 1; i < 4; i++)
        nb4[i] = nb4[i - 1] * ne4[i - 1];
    int64_t guard = TEST_GUARD_BYTES / (int64_t)es;
    int64_t total = count + 2 * guard;
    if (!TEST_OK(be, ww_arena_alloc(a, type, 1, &total, &out->base)))
        return 0;
    out->sentinel = (TEST_SENTINEL & 0xFFFFFF00u) | (guard_serial++ & 0xFFu);
    size_t bytes = (size_t)total * es;
    unsigned char *h = malloc(bytes);
    if (!h)
        fatal("out of host memory");
    for (size_t i = 0; i < bytes; i++)
        h[i] = sentinel_byte(out->sentinel, i);
    if (init)
        memcpy(h + (size_t)guard * es, init, (size_t)count * es);
    int ok = TEST_OK(be, ww_tensor_write(be, &out->base, h, bytes));
    free(h);
    out->t = ww_tensor_view(&out->base, guard, ne4, nb4);
    out->guard = guard;
    out->n = count;
    return ok;
}

int test_tensor_get(ww_backend *be, const test_tensor *tt, void *dst, const char *what)
{
    size_t es = ww_dtype_size(tt->t.type);
    size_t g = (size_t)tt->guard * es, body = (size_t)tt->n * es, bytes = 2 * g + body;
    unsigned char *h = malloc(bytes);
    if (!h)
        fatal("out of host memory");
    int ok = TEST_OK(be, ww_tensor_read(be, &tt->base, h, bytes));
    if (ok) {
        size_t before = 0, after = 0, nearest_before = 0, nearest_after = 0;
        for (size_t i = 0; i < g; i++) {
            if (h[i] != sentinel_byte(tt->sentinel, i)) {
                before++;
                nearest_before = g - i;
            }
            size_t j = g + body + i;
            if (h[j] != sentinel_byte(tt->sentinel, j) && !after++)
                nearest_after = i + 1;
        }
        ok = TEST_CHECK(!before && !after,
                        "%s: guard bytes overwritten: %zu before the tensor (nearest: byte %zu "
                        "before it), %zu after it (nearest: byte %zu after it)",
                        what, before, nearest_before, after, nearest_after);
        memcpy(dst, h + g, body);
    }
    free(h);
    return ok;
}

int test_contains(const char *haystack, const char *needle)
{
    if (!haystack || !needle)
        return 0;
    size_t n = strlen(needle);
    for (const char *p = haystack; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] &&
               tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

/* ---- Files ---------------------------------------------------------------------------------- */

int test_write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!TEST_CHECK(f != NULL, "cannot create %s: %s", path, strerror(errno)))
        return 0;
    int ok = fwrite(data, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    return TEST_CHECK(ok, "cannot write %s", path);
}

unsigned char *test_read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!TEST_CHECK(f != NULL, "cannot open %s: %s", path, strerror(errno)))
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    size_t size = len > 0 ? (size_t)len : 0;
    unsigned char *b = test_malloc(size + 1); /* zeroed, so the byte after the end is a NUL */
    size_t got = fread(b, 1, size, f);
    fclose(f);
    if (n)
        *n = got;
    return TEST_CHECK(len >= 0 && got == size, "short read of %s", path) ? b : NULL;
}

int test_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

long test_file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

const char *test_data_path(const char *rel)
{
    const char *dir = getenv("WW_TEST_DATA");
    struct stat sb;
    if (!dir || stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        TEST_SKIP("shared data folder %s not found (WW_TEST_DATA)", dir ? dir : "(unset)");
        return NULL;
    }
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = test_malloc(n);
    snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

const char *test_fixtures_dir(void)
{
    const char *d = getenv("WW_FIXTURES");
    return d && d[0] ? d : "tests/fixtures";
}

float *test_fixture_f32(const ww_st_file *f, const char *name, size_t *count)
{
    const ww_st_tensor *t = ww_st_find(f, name);
    if (!TEST_CHECK(t != NULL, "%s: no tensor '%s'", ww_st_name(f), name))
        return NULL;
    float *v = test_malloc((size_t)t->nelements * sizeof *v);
    char err[512];
    if (!TEST_CHECK(ww_st_read_f32(f, t, v, (size_t)t->nelements, err, sizeof err) == WW_OK,
                    "%s", err))
        return NULL;
    *count = (size_t)t->nelements;
    return v;
}

/* ---- Images ---------------------------------------------------------------------------------- */

double test_bilinear_rgb8(const uint8_t *img, int w, double x, double y, int k)
{
    int x0 = (int)floor(x), y0 = (int)floor(y);
    double fx = x - x0, fy = y - y0;
    /* A neighbour is read only when it has weight, so the last row and column are reachable. */
    int x1 = fx > 0 ? x0 + 1 : x0, y1 = fy > 0 ? y0 + 1 : y0;
#define PX(xx, yy) ((double)img[((size_t)(yy) * (size_t)w + (size_t)(xx)) * 3 + (size_t)k])
    return (1 - fy) * ((1 - fx) * PX(x0, y0) + fx * PX(x1, y0)) +
           fy * ((1 - fx) * PX(x0, y1) + fx * PX(x1, y1));
#undef PX
}

static int selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i]))
            return 1;
    return 0;
}

/* Release everything the test owned; checks that may fail it run here too. */
static void end_test(void)
{
    release_owned(NULL);
    while (cur.backends.n)
        destroy_backend_at(cur.backends.n - 1);
    for (int i = 0; i < nshared; i++)
        if (shared[i].be)
            check_validation(shared[i].be, &shared[i].seen, shared[i].device);
    void **m = cur.mem.data;
    for (size_t i = 0; i < cur.mem.n; i++)
        free(m[i]);
    cur.mem.n = 0;
}

/* ---- The run's temporary directory ------------------------------------------------------------ */

static char tmp_dir[64];

const char *test_tmp_dir(void)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ww_test_XXXXXX");
        if (!mkdtemp(tmp_dir)) {
            fprintf(stderr, "mkdtemp %s: %s\n", tmp_dir, strerror(errno));
            exit(1);
        }
    }
    return tmp_dir;
}

const char *test_tmp_path(const char *name)
{
    const char *dir = test_tmp_dir();
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = test_malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Remove path and, for a directory, what it holds (symbolic links are removed, not followed). */
static void remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        size_t n = strlen(path) + strlen(de->d_name) + 2;
        char *sub = malloc(n);
        if (!sub)
            break;
        snprintf(sub, n, "%s/%s", path, de->d_name);
        remove_tree(sub);
        free(sub);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

static void remove_tmp_dir(void)
{
    if (tmp_dir[0])
        remove_tree(tmp_dir);
}

int ww_test_main(int argc, char **argv, const ww_test_case *cases, int n)
{
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < n; i++) {
        if (!selected(cases[i].name, argc, argv))
            continue;
        cur.name = cases[i].name;
        cur.failures = 0;
        cur.skipped = 0;
        cur.first[0] = cur.skip_reason[0] = '\0';
        last_log[0] = '\0';
        cases[i].fn(cases[i].arg);
        end_test();
        if (cur.failures) {
            failed++;
            printf("FAIL %s: %s\n", cur.name, cur.first);
            int extra = cur.failures - 1 < MAX_EXTRA ? cur.failures - 1 : MAX_EXTRA;
            for (int k = 0; k < extra; k++)
                printf("    %s\n", cur.extra[k]);
            if (cur.failures - 1 > extra)
                printf("    ... and %d more\n", cur.failures - 1 - extra);
        } else if (cur.skipped) {
            skipped++;
            printf("skip %s: %s\n", cur.name, cur.skip_reason);
        } else {
            passed++;
            printf("ok %s\n", cur.name);
        }
        fflush(stdout);
    }
    for (int i = 0; i < nshared; i++)
        if (shared[i].be)
            ww_backend_destroy(shared[i].be);
    nshared = 0;
    free(cur.mem.data);
    free(cur.seqs.data);
    free(cur.arenas.data);
    free(cur.backends.data);
    remove_tmp_dir();
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    if (passed + failed + skipped == 0) {
        fprintf(stderr, "no test name contains the given arguments\n");
        return 1;
    }
    return failed ? 1 : 0;
}
