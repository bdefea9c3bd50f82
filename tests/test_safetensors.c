/* safetensors tests: write -> read round trips of every kind of tensor and of metadata, exact
 * F16 / BF16 conversion (all 65536 values of each), the header layout of huggingface's writer,
 * every kind of corrupt file giving WW_ERR_INVALID with a message that names the file, the
 * tensor and the problem, I/O errors, the loader helpers, the fuzz seed corpus, and (when
 * python3 has huggingface's safetensors and numpy) files exchanged with the official package.
 *
 * The fixtures are native arrays written as little-endian data: like the engine, these tests
 * assume a little-endian host.
 *
 * Usage: test_safetensors [NAME-SUBSTRING...]
 *        test_safetensors --write-corpus DIR   (re)write the fuzz seed corpus into DIR
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "test_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* fuzz_safetensors.c */

enum { ERRLEN = 1024 };

/* got is want and err starts with "prefix: " and holds every substring of subs (NULL-ended). */
static int check_err_(const char *file, int line, ww_status got, ww_status want, const char *err,
                      const char *prefix, const char *const *subs)
{
    if (!test_check_(got == want, file, line, "%s: status '%s', want '%s' (message: %s)",
                     prefix, ww_status_str(got), ww_status_str(want), err))
        return 0;
    if (want == WW_OK)
        return 1;
    size_t plen = strlen(prefix);
    int ok = test_check_(!strncmp(err, prefix, plen) && !strncmp(err + plen, ": ", 2), file,
                         line, "message does not start with '%s: ': %s", prefix, err);
    for (; *subs; subs++)
        ok &= test_check_(strstr(err, *subs) != NULL, file, line,
                          "message lacks '%s': %s", *subs, err);
    ok &= test_check_(!strchr(err, '\n'), file, line, "message has a newline: %s", err);
    return ok;
}
#define CHECK_ERR(got, want, err, prefix, ...) \
    check_err_(__FILE__, __LINE__, (got), (want), (err), (prefix), \
               (const char *const[]){__VA_ARGS__, NULL})
/* expr returns WW_OK; the message in err is quoted when it does not */
#define ST_OK(expr) \
    check_err_(__FILE__, __LINE__, (expr), WW_OK, err, "", (const char *const[]){NULL})

static uint32_t float_bits(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* ---- The fixture: also in safetensors_interop.py (FIXTURE, META); keep them equal ------------ */

static const float fx_f32[6] = {-1.5f, -0.375f, 0.0f, 0.25f, 3.5f, 1e-30f};
/* 1, -2.5, 65504 (largest), 2^-24 (smallest subnormal), largest subnormal, inf, -inf, -0, NaN */
static const uint16_t fx_f16[9] = {0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF,
                                   0x7C00, 0xFC00, 0x8000, 0x7E00};
static const uint32_t fx_f16_as_f32[9] = {0x3F800000, 0xC0200000, 0x477FE000,
                                          0x33800000, 0x387FC000, 0x7F800000,
                                          0xFF800000, 0x80000000, 0x7FC00000};
/* 1, -5, a subnormal, -inf */
static const uint16_t fx_bf16[4] = {0x3F80, 0xC0A0, 0x0001, 0xFF80};
static const uint8_t fx_u8[5] = {0, 1, 127, 128, 255};
static const int64_t fx_i64[4] = {-1, 0, (int64_t)1 << 40, INT64_MIN};
static const int32_t fx_i32[3] = {-7, 0, 2147483647};
static const float fx_scalar = 2.5f;
#define FX_NOTE "quote \" backslash \\ newline \n tab \t ctrl \x01 \xc3\xa9 \xf0\x9f\x98\x80"
static const char *const fx_meta[] = {"format", "pt", "note", FX_NOTE};
enum { FX_N = 8, FX_NMETA = 2 };

static void fixture(ww_st_entry e[FX_N])
{
    e[0] = (ww_st_entry){"w.f32", WW_ST_F32, 2, {2, 3}, fx_f32};
    e[1] = (ww_st_entry){"w.f16", WW_ST_F16, 1, {9}, fx_f16};
    e[2] = (ww_st_entry){"w.bf16", WW_ST_BF16, 1, {4}, fx_bf16};
    e[3] = (ww_st_entry){"idx.u8", WW_ST_U8, 1, {5}, fx_u8};
    e[4] = (ww_st_entry){"idx.i64", WW_ST_I64, 2, {2, 2}, fx_i64};
    e[5] = (ww_st_entry){"idx.i32", WW_ST_I32, 1, {3}, fx_i32};
    e[6] = (ww_st_entry){"scalar", WW_ST_F32, 0, {0}, &fx_scalar};
    e[7] = (ww_st_entry){"empty", WW_ST_F32, 2, {0, 4}, NULL};
}

/* f holds the fixture (its BF16 tensor only when with_bf16: numpy cannot write one); in header
 * order when in_order. */
static void check_fixture(const ww_st_file *f, int with_bf16, int in_order)
{
    ww_st_entry e[FX_N];
    fixture(e);
    char err[ERRLEN] = "";
    TEST_CHECK(ww_st_count(f) == FX_N - !with_bf16, "%d tensors, want %d", ww_st_count(f),
               FX_N - !with_bf16);
    int k = 0;
    for (int i = 0; i < FX_N; i++) {
        if (e[i].dtype == WW_ST_BF16 && !with_bf16)
            continue;
        const ww_st_tensor *t = ww_st_find(f, e[i].name);
        if (!TEST_CHECK(t != NULL, "tensor %s not found", e[i].name))
            continue;
        if (in_order)
            TEST_CHECK(ww_st_at(f, k) == t, "tensor %s is not number %d", e[i].name, k);
        k++;
        size_t nbytes = ww_st_dtype_size(e[i].dtype);
        for (int d = 0; d < e[i].ndim; d++)
            nbytes *= (size_t)e[i].shape[d];
        int same = t->dtype == e[i].dtype && t->ndim == e[i].ndim && t->nbytes == nbytes &&
                   (size_t)t->nelements * ww_st_dtype_size(t->dtype) == nbytes;
        for (int d = 0; d < WW_ST_MAX_DIMS; d++)
            same &= t->shape[d] == (d < e[i].ndim ? e[i].shape[d] : 0);
        TEST_CHECK(same, "tensor %s: dtype %s ndim %d nbytes %zu", e[i].name,
                   ww_st_dtype_name(t->dtype), t->ndim, t->nbytes);
        if (same && nbytes)
            TEST_CHECK(!memcmp(t->data, e[i].data, nbytes), "tensor %s: bytes differ",
                       e[i].name);
    }
    const ww_st_tensor *t = ww_st_find(f, "w.f32");
    float v[9];
    if (t && ST_OK(ww_st_read_f32(f, t, v, 6, err, sizeof err)))
        TEST_CHECK(!memcmp(v, fx_f32, sizeof fx_f32), "w.f32 values differ");
    if ((t = ww_st_find(f, "w.f16")) && ST_OK(ww_st_read_f32(f, t, v, 9, err, sizeof err)))
        for (int i = 0; i < 9; i++)
            TEST_CHECK(float_bits(v[i]) == fx_f16_as_f32[i], "w.f16[%d] = 0x%08x, want 0x%08x",
                       i, float_bits(v[i]), fx_f16_as_f32[i]);
    if (with_bf16 && (t = ww_st_find(f, "w.bf16")) &&
        ST_OK(ww_st_read_f32(f, t, v, 4, err, sizeof err)))
        for (int i = 0; i < 4; i++)
            TEST_CHECK(float_bits(v[i]) == (uint32_t)fx_bf16[i] << 16, "w.bf16[%d] = 0x%08x", i,
                       float_bits(v[i]));
    if ((t = ww_st_find(f, "scalar")) && ST_OK(ww_st_read_f32(f, t, v, 1, err, sizeof err)))
        TEST_CHECK(v[0] == 2.5f && t->nelements == 1, "scalar = %g", (double)v[0]);
    if ((t = ww_st_find(f, "empty")))
        ST_OK(ww_st_read_f32(f, t, NULL, 0, err, sizeof err));

    TEST_CHECK(ww_st_meta_count(f) == FX_NMETA, "%d metadata pairs", ww_st_meta_count(f));
    for (int i = 0; i < FX_NMETA; i++) {
        const char *value = ww_st_meta(f, fx_meta[2 * i]);
        TEST_CHECK(value && !strcmp(value, fx_meta[2 * i + 1]), "metadata %s = %s",
                   fx_meta[2 * i], value ? value : "(missing)");
    }
}

/* The smallest file with metadata that needs escaping: the header is compared byte for byte with
 * huggingface's writer (header_layout, python_interop). */
static ww_status write_simple(const char *path, char *err)
{
    static const float a[2] = {1.0f, 2.0f};
    const ww_st_entry e = {"a", WW_ST_F32, 1, {2}, a};
    const char *meta[2] = {"k", FX_NOTE};
    return ww_st_write(path, &e, 1, meta, 1, err, ERRLEN);
}

/* ---- Hand-made files ---------------------------------------------------------------------------
 * 8 bytes of header length (the header's own length unless hlen is set), the header text, then
 * data bytes of a pattern; cut bytes removed from the end. Used by the corrupt-file tests and,
 * through --write-corpus, as fuzz seeds (names starting "ok-" must open, "bad-" must not). */
typedef struct st_case {
    const char *name;
    const char *header;
    size_t data;
    uint64_t hlen;
    size_t cut;
    ww_status want;
    const char *msg[4]; /* substrings of the message after "NAME.safetensors: ", NULL-ended */
} st_case;

#define T(name, dtype, shape, offsets) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"
#define INV WW_ERR_INVALID

static const st_case cases[] = {
    /* valid, and beyond what ww_st_write produces */
    {"ok-gaps", "{" T("a", "F32", "[2]", "[0,8]") "," T("b", "U8", "[3]", "[16,19]") "}", 24, 0,
     0, WW_OK, {NULL}},
    {"ok-whitespace-escapes",
     " {\n\t\"a\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\" : { \"shape\" : [ 2 , 1 ] ,"
     " \"data_offsets\" : [ 0 , 2 ] , \"dtype\" : \"I8\" } , \"__metadata__\" : { } }\r\n  ",
     2, 0, 0, WW_OK, {NULL}},
    {"ok-zero-size", "{" T("z", "F16", "[3,0,5]", "[4,4]") "," T("s", "U8", "[]", "[0,1]") ","
     T("e", "BOOL", "[0]", "[0,0]") "}", 8, 0, 0, WW_OK, {NULL}},
    {"ok-empty", "{}", 0, 0, 0, WW_OK, {NULL}},
    /* truncated */
    {"bad-empty-file", "", 0, 0, 8, INV, {"file is empty"}},
    {"bad-short-file", "", 0, 0, 3, INV, {"5 bytes, too short"}},
    {"bad-header-cut", "{" T("a", "F32", "[2]", "[0,8]") "}", 8, 0, 20, INV,
     {"header length 54 goes past the end of the file (50 bytes", "truncated"}},
    {"bad-data-cut", "{" T("a", "F32", "[2,2]", "[0,16]") "}", 16, 0, 4, INV,
     {"tensor 'a': data_offsets [0, 16] go past the end of the data section (12 bytes",
      "truncated"}},
    {"bad-huge-header-length", "{}", 0, (uint64_t)1 << 63, 0, INV,
     {"header length 9223372036854775808 goes past the end of the file"}},
    {"bad-header-empty", "", 8, 0, 0, INV, {"header is empty"}},
    /* not JSON, or not the JSON of the format */
    {"bad-not-json", "PK\x03\x04junk", 0, 0, 0, INV,
     {"header byte 0: expected '{' (the header is a JSON object), found 'P'"}},
    {"bad-header-array", "[]", 0, 0, 0, INV, {"header byte 0: expected '{'"}},
    {"bad-trailing-garbage", "{} x", 0, 0, 0, INV, {"header byte 3: 'x' after the header object"}},
    {"bad-trailing-nul", "{}", 1, 3, 0, INV, {"header byte 2: byte 0x00 after the header object"}},
    {"bad-unterminated", "{\"a", 0, 0, 0, INV, {"string not terminated"}},
    {"bad-missing-comma", "{" T("a", "U8", "[1]", "[0,1]") " " T("b", "U8", "[1]", "[1,2]") "}",
     2, 0, 0, INV, {"expected ',' or '}', found '\"'"}},
    {"bad-entry-not-object", "{\"a\":[1]}", 0, 0, 0, INV,
     {"tensor 'a': header byte 5: expected '{' (a tensor entry is an object), found '['"}},
    {"bad-nested-junk", "{" T("a", "F32", "[2,{\"x\":[1]}]", "[0,8]") "}", 8, 0, 0, INV,
     {"tensor 'a'", "expected a number in shape, found '{'"}},
    {"bad-unknown-key", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],"
     "\"extra\":{\"x\":1}}}", 1, 0, 0, INV, {"tensor 'a'", "unknown key 'extra'"}},
    {"bad-duplicate-key", "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],"
     "\"data_offsets\":[0,1]}}", 1, 0, 0, INV, {"tensor 'a'", "dtype appears twice"}},
    {"bad-missing-offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, 0, 0, INV,
     {"tensor 'a': entry has no data_offsets"}},
    {"bad-dtype-not-string", "{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 0, 0,
     INV, {"tensor 'a'", "expected dtype (a string), found '5'"}},
    {"bad-float-number", "{" T("a", "U8", "[1]", "[0.0,1]") "}", 1, 0, 0, INV,
     {"tensor 'a'", "data_offsets holds a number that is not an integer"}},
    {"bad-exponent", "{" T("a", "U8", "[1e0]", "[0,1]") "}", 1, 0, 0, INV,
     {"shape holds a number that is not an integer"}},
    {"bad-leading-zero", "{" T("a", "U8", "[01]", "[0,1]") "}", 1, 0, 0, INV,
     {"leading zero in shape"}},
    {"bad-number-over-u64", "{" T("a", "U8", "[18446744073709551616]", "[0,1]") "}", 1, 0, 0,
     INV, {"tensor 'a'", "number in shape is larger than 2^64 - 1"}},
    {"bad-three-offsets", "{" T("a", "U8", "[1]", "[0,1,1]") "}", 1, 0, 0, INV,
     {"data_offsets has more than 2 entries"}},
    {"bad-one-offset", "{" T("a", "U8", "[1]", "[1]") "}", 1, 0, 0, INV,
     {"tensor 'a': data_offsets has 1 entries, not 2 [begin, end]"}},
    {"bad-rank-9", "{" T("a", "U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]") "}", 1, 0, 0, INV,
     {"tensor 'a'", "shape has more than 8 entries"}},
    /* strings */
    {"bad-utf8", "{\"a\xff\":{}}", 0, 0, 0, INV, {"header byte 3: not valid UTF-8 (byte 0xff)"}},
    {"bad-overlong-utf8", "{\"\xc0\xaf\":{}}", 0, 0, 0, INV, {"not valid UTF-8"}},
    {"bad-lone-high-surrogate", "{\"\\ud800x\":{}}", 0, 0, 0, INV,
     {"\\uD800 (a high surrogate) is not followed by a low one"}},
    {"bad-lone-low-surrogate", "{\"\\udc00\":{}}", 0, 0, 0, INV,
     {"\\uDC00 is a lone low surrogate"}},
    {"bad-nul-escape", "{\"a\\u0000\":{}}", 0, 0, 0, INV, {"\\u0000 in a string"}},
    {"bad-short-unicode-escape", "{\"\\u12\":{}}", 0, 0, 0, INV, {"needs 4 hex digits"}},
    {"bad-escape", "{\"\\q\":{}}", 0, 0, 0, INV, {"header byte 3: invalid escape '\\q'"}},
    {"bad-control-char", "{\"a\nb\":{}}", 0, 0, 0, INV, {"control character 0x0a in a string"}},
    /* entries that parse but do not fit the data */
    {"bad-dtype", "{" T("w", "F128", "[1]", "[0,16]") "}", 16, 0, 0, INV,
     {"tensor 'w': unknown or unsupported dtype 'F128'"}},
    {"bad-dtype-sub-byte", "{" T("w", "F4", "[2]", "[0,1]") "}", 1, 0, 0, INV,
     {"unknown or unsupported dtype 'F4'"}},
    {"bad-offsets-out-of-range", "{" T("a", "F32", "[2]", "[0,1000]") "}", 8, 0, 0, INV,
     {"tensor 'a': data_offsets [0, 1000] go past the end of the data section (8 bytes"}},
    {"bad-begin-after-end", "{" T("a", "F32", "[0]", "[8,4]") "}", 8, 0, 0, INV,
     {"tensor 'a': data_offsets [8, 4] begin after they end"}},
    {"bad-size-mismatch", "{" T("enc_norm.weight", "F32", "[768]", "[10,20]") "}", 20, 0, 0, INV,
     {"tensor 'enc_norm.weight': data_offsets [10, 20] hold 10 bytes, shape [768] of F32 needs "
      "3072"}},
    {"bad-negative-dim", "{" T("a", "F32", "[-1]", "[0,0]") "}", 0, 0, 0, INV,
     {"tensor 'a'", "shape holds a negative number"}},
    {"bad-overflowing-dims", "{" T("a", "F32", "[1099511627776,1099511627776]", "[0,0]") "}", 0,
     0, 0, INV,
     {"tensor 'a': shape [1099511627776, 1099511627776] of F32 is too large"}},
    {"bad-bytes-overflow", "{" T("a", "I64", "[4611686018427387904]", "[0,0]") "}", 0, 0, 0,
     INV, {"shape [4611686018427387904] of I64 is too large"}},
    {"bad-dim-over-int64", "{" T("a", "F32", "[0,9223372036854775808]", "[0,0]") "}", 0, 0, 0,
     INV, {"shape [0, 9223372036854775808] of F32 is too large"}},
    {"bad-overlap", "{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[2]", "[4,12]") "}", 12,
     0, 0, INV, {"tensor 'b': data_offsets [4, 12] overlap those of tensor 'a' [0, 8]"}},
    {"bad-overlap-inside", "{" T("a", "U8", "[16]", "[0,16]") "," T("b", "U8", "[2]", "[8,10]")
     "," T("c", "U8", "[2]", "[12,14]") "}", 16, 0, 0, INV, {"tensor 'b'", "overlap", "'a'"}},
    {"bad-same-offsets", "{" T("a", "U8", "[4]", "[0,4]") "," T("b", "U8", "[4]", "[0,4]") "}", 4,
     0, 0, INV, {"overlap"}},
    {"bad-duplicate-name", "{" T("a", "U8", "[1]", "[0,1]") "," T("a", "U8", "[1]", "[1,2]") "}",
     2, 0, 0, INV, {"tensor 'a': the name appears twice in the header"}},
    {"bad-duplicate-name-escaped", "{" T("a", "U8", "[1]", "[0,1]") "," T("\\u0061", "U8", "[1]",
     "[1,2]") "}", 2, 0, 0, INV, {"tensor 'a': the name appears twice"}},
    /* metadata */
    {"bad-metadata-not-string", "{\"__metadata__\":{\"k\":1}}", 0, 0, 0, INV,
     {"expected a __metadata__ value (a string), found '1'"}},
    {"bad-metadata-nested", "{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, 0, 0, INV,
     {"expected a __metadata__ value"}},
    {"bad-metadata-array", "{\"__metadata__\":[]}", 0, 0, 0, INV,
     {"expected '{' (__metadata__ is an object of strings)"}},
    {"bad-metadata-twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, 0, 0, INV,
     {"__metadata__ appears twice"}},
    {"bad-metadata-key-twice", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, 0, 0, INV,
     {"__metadata__ key 'k' appears twice"}},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

/* The bytes of a case (malloc'd: also used outside any test by --write-corpus). */
static unsigned char *case_bytes(const st_case *c, size_t *n)
{
    size_t hl = strlen(c->header);
    uint64_t field = c->hlen ? c->hlen : hl;
    size_t total = 8 + hl + c->data;
    unsigned char *b = malloc(total);
    if (!b)
        return NULL;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(field >> (8 * i));
    memcpy(b + 8, c->header, hl);
    for (size_t i = 0; i < c->data; i++)
        b[8 + hl + i] = (unsigned char)(i * 7); /* starts with a 0: see bad-trailing-nul */
    *n = total - c->cut;
    return b;
}

/* ---- Tests ----------------------------------------------------------------------------------- */

static void test_dtypes(const char *arg)
{
    (void)arg;
    static const char *const names[WW_ST_DTYPE_COUNT] = {
        "F32", "F16", "BF16", "F64", "F8_E5M2", "F8_E4M3", "BOOL", "U8",
        "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F8_E8M0", "C64"};
    static const size_t sizes[WW_ST_DTYPE_COUNT] = {4, 2, 2, 8, 1, 1, 1, 1,
                                                    1, 2, 2, 4, 4, 8, 8, 1, 8};
    for (int t = 0; t < WW_ST_DTYPE_COUNT; t++) {
        TEST_CHECK(!strcmp(ww_st_dtype_name((ww_st_dtype)t), names[t]), "dtype %d is %s", t,
                   ww_st_dtype_name((ww_st_dtype)t));
        TEST_CHECK(ww_st_dtype_size((ww_st_dtype)t) == sizes[t], "%s size %zu", names[t],
                   ww_st_dtype_size((ww_st_dtype)t));
        TEST_CHECK(ww_st_dtype_is_float((ww_st_dtype)t) == (t <= WW_ST_BF16), "%s is_float",
                   names[t]);
    }
    TEST_CHECK(!ww_st_dtype_name(WW_ST_DTYPE_COUNT) && !ww_st_dtype_size((ww_st_dtype)-1),
               "out-of-range dtypes have no name and no size");
}

static void test_roundtrip(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "";
    ww_st_entry e[FX_N];
    fixture(e);
    const char *path = test_tmp_path("roundtrip.safetensors");
    if (!ST_OK(ww_st_write(path, e, FX_N, fx_meta, FX_NMETA, err, sizeof err)))
        return;
    TEST_CHECK(!test_file_exists(test_tmp_path("roundtrip.safetensors.tmp")),
               "the .tmp file is left");
    ww_st_file *f;
    if (!ST_OK(ww_st_open(path, &f, err, sizeof err)))
        return;
    check_fixture(f, 1, 1);
    TEST_CHECK(!strcmp(ww_st_name(f), path), "name %s", ww_st_name(f));
    const char *key, *value;
    TEST_CHECK(ww_st_meta_at(f, 1, &key, &value) && !strcmp(key, "note") &&
               !strcmp(value, FX_NOTE), "metadata pair 1 in header order");
    TEST_CHECK(!ww_st_meta_at(f, 2, &key, &value) && !ww_st_meta_at(f, -1, &key, &value),
               "metadata pairs out of range");
    TEST_CHECK(!ww_st_meta(f, "nope") && !ww_st_find(f, "nope") && !ww_st_find(f, "w.f3") &&
               !ww_st_at(f, -1) && !ww_st_at(f, FX_N), "lookups of what is not there");
    ww_st_close(f);

    /* the same bytes from memory; overwriting the file replaces it whole */
    size_t n;
    unsigned char *bytes = test_read_bytes(path, &n);
    if (bytes && ST_OK(ww_st_open_memory(bytes, n, "mem", &f, err, sizeof err))) {
        check_fixture(f, 1, 1);
        ww_st_close(f);
    }
    if (ST_OK(ww_st_write(path, e, 1, NULL, 0, err, sizeof err)) &&
        ST_OK(ww_st_open(path, &f, err, sizeof err))) {
        TEST_CHECK(ww_st_count(f) == 1 && ww_st_meta_count(f) == 0, "rewritten file: %d tensors",
                   ww_st_count(f));
        ww_st_close(f);
    }

    /* no tensors, no metadata */
    path = test_tmp_path("nothing.safetensors");
    if (ST_OK(ww_st_write(path, NULL, 0, NULL, 0, err, sizeof err)) &&
        ST_OK(ww_st_open(path, &f, err, sizeof err))) {
        TEST_CHECK(ww_st_count(f) == 0 && ww_st_meta_count(f) == 0, "empty file has %d tensors",
                   ww_st_count(f));
        ww_st_close(f);
    }
}

/* Every half value against a conversion by ldexp: exact, NaN payloads, signed zeros. */
static uint32_t ref_f16(uint16_t h)
{
    unsigned sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    if (exp == 31)
        return (uint32_t)sign << 31 | 0x7F800000u | (uint32_t)man << 13;
    float v = exp ? ldexpf((float)(man + 1024), (int)exp - 25) : ldexpf((float)man, -24);
    return float_bits(sign ? -v : v);
}

static void test_half_conversion(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "";
    uint16_t *all = test_malloc(65536 * sizeof *all);
    for (uint32_t i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    const ww_st_entry e[2] = {{"f16", WW_ST_F16, 2, {256, 256}, all},
                              {"bf16", WW_ST_BF16, 1, {65536}, all}};
    const char *path = test_tmp_path("half.safetensors");
    ww_st_file *f;
    if (!ST_OK(ww_st_write(path, e, 2, NULL, 0, err, sizeof err)) ||
        !ST_OK(ww_st_open(path, &f, err, sizeof err)))
        return;
    float *v = test_malloc(65536 * sizeof *v);
    if (ST_OK(ww_st_read_f32(f, ww_st_find(f, "f16"), v, 65536, err, sizeof err))) {
        int bad = 0;
        for (uint32_t i = 0; i < 65536 && bad < 5; i++)
            bad += !TEST_CHECK(float_bits(v[i]) == ref_f16((uint16_t)i),
                               "F16 0x%04x -> 0x%08x, want 0x%08x", i, float_bits(v[i]),
                               ref_f16((uint16_t)i));
        /* spot checks in plain numbers */
        TEST_CHECK(v[0x0001] == 0x1p-24f && v[0x03FF] == 0x1.ff8p-15f && v[0x0400] == 0x1p-14f &&
                   v[0x3555] == 0.333251953125f && v[0x7BFF] == 65504.0f &&
                   isinf(v[0x7C00]) && v[0xFC00] < 0 && isnan(v[0x7E00]) &&
                   v[0x8000] == 0 && signbit(v[0x8000]) && v[0x8001] == -0x1p-24f,
                   "F16 spot values");
    }
    if (ST_OK(ww_st_read_f32(f, ww_st_find(f, "bf16"), v, 65536, err, sizeof err))) {
        int bad = 0;
        for (uint32_t i = 0; i < 65536 && bad < 5; i++)
            bad += !TEST_CHECK(float_bits(v[i]) == i << 16, "BF16 0x%04x -> 0x%08x", i,
                               float_bits(v[i]));
        TEST_CHECK(v[0x3F80] == 1.0f && v[0xC0A0] == -5.0f && v[0x0001] == 0x1p-133f &&
                   isinf(v[0xFF80]) && isnan(v[0x7FC1]) && signbit(v[0x8000]),
                   "BF16 spot values");
    }
    ww_st_close(f);
}

/* Encoding: every half survives decode -> encode; values between two halves go to the nearer,
 * ties to the even one; beyond the largest half is infinity; NaN stays NaN. */
static void test_half_encoding(const char *arg)
{
    (void)arg;
    int bad = 0;
    for (uint32_t i = 0; i < 0x7C00 && bad < 5; i++) {
        uint32_t lo_bits = ref_f16((uint16_t)i), hi_bits = ref_f16((uint16_t)(i + 1));
        float lo, hi;
        memcpy(&lo, &lo_bits, sizeof lo);
        memcpy(&hi, &hi_bits, sizeof hi);
        for (int s = 0; s < 2; s++) {
            uint16_t sign = (uint16_t)(s << 15);
            float sg = s ? -1.0f : 1.0f, mid = sg * (lo + (hi - lo) / 2);
            bad += !TEST_CHECK(ww_st_f32_to_f16(sg * lo) == (sign | i), "0x%04x", sign | i);
            uint16_t even = (uint16_t)(sign | (i & 1 ? i + 1 : i));
            bad += !TEST_CHECK(ww_st_f32_to_f16(mid) == even, "midpoint after 0x%04x", sign | i);
            if (i + 1 < 0x7C00) {
                bad += !TEST_CHECK(ww_st_f32_to_f16(nextafterf(mid, sg * hi)) == (sign | (i + 1)),
                                   "above the midpoint after 0x%04x", sign | i);
                bad += !TEST_CHECK(ww_st_f32_to_f16(nextafterf(mid, sg * lo)) == (sign | i),
                                   "below the midpoint after 0x%04x", sign | i);
            }
        }
    }
    TEST_CHECK(ww_st_f32_to_f16(65520.0f) == 0x7C00 && ww_st_f32_to_f16(1e30f) == 0x7C00 &&
                   ww_st_f32_to_f16(-INFINITY) == 0xFC00 && ww_st_f32_to_f16(1e-30f) == 0 &&
                   ww_st_f32_to_f16(0x1p-25f) == 0 && ww_st_f32_to_f16(0x1.01p-25f) == 1,
               "overflow, underflow and the smallest subnormal");
    uint16_t nan = ww_st_f32_to_f16(NAN);
    TEST_CHECK((nan & 0x7C00) == 0x7C00 && (nan & 0x3FF), "NaN -> 0x%04x", nan);
}

/* The reference writer's layout: 8-byte little-endian length, compact JSON with __metadata__
 * first, spaces up to a multiple of 8, data packed in the given order. */
static void test_header_layout(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "";
    const char *path = test_tmp_path("simple.safetensors");
    if (!ST_OK(write_simple(path, err)))
        return;
    static const char want[] =
        "{\"__metadata__\":{\"k\":\"quote \\\" backslash \\\\ newline \\n tab \\t ctrl \\u0001 "
        "\xc3\xa9 \xf0\x9f\x98\x80\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
        "\"data_offsets\":[0,8]}}";
    size_t wlen = sizeof want - 1, padded = (wlen + 7) / 8 * 8, n;
    unsigned char *b = test_read_bytes(path, &n);
    if (!b || !TEST_CHECK(n == 8 + padded + 8, "file is %zu bytes, want %zu", n, 8 + padded + 8))
        return;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | b[i];
    TEST_CHECK(hlen == padded && hlen % 8 == 0, "header length %llu, want %zu",
               (unsigned long long)hlen, padded);
    TEST_CHECK(!memcmp(b + 8, want, wlen), "header text: %.*s", (int)wlen, (const char *)b + 8);
    for (size_t i = wlen; i < padded; i++)
        TEST_CHECK(b[8 + i] == ' ', "padding byte %zu is 0x%02x", i, b[8 + i]);
    static const float a[2] = {1.0f, 2.0f};
    TEST_CHECK(!memcmp(b + 8 + padded, a, 8), "data section");

    /* nothing at all: "{}" and 6 spaces */
    path = test_tmp_path("nothing.safetensors");
    if (ST_OK(ww_st_write(path, NULL, 0, NULL, 0, err, sizeof err)) &&
        (b = test_read_bytes(path, &n)))
        TEST_CHECK(n == 16 && !memcmp(b, "\x08\0\0\0\0\0\0\0{}      ", 16),
                   "empty file: %zu bytes", n);
}

static void test_corrupt_files(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "", name[128];
    for (int i = 0; i < NCASES; i++) {
        const st_case *c = &cases[i];
        size_t n;
        unsigned char *b = case_bytes(c, &n);
        if (!TEST_CHECK(b != NULL, "out of memory"))
            return;
        /* through memory */
        snprintf(name, sizeof name, "%s.safetensors", c->name);
        ww_st_file *f = (ww_st_file *)1;
        err[0] = '\0';
        ww_status st = ww_st_open_memory(b, n, name, &f, err, sizeof err);
        if (check_err_(__FILE__, __LINE__, st, c->want, err, name, c->msg))
            TEST_CHECK((f != NULL) == (st == WW_OK), "%s: *out is %p", c->name, (void *)f);
        if (st == WW_OK)
            ww_st_close(f);
        /* through a file */
        const char *path = test_tmp_path(name);
        if (test_write_bytes(path, b, n)) {
            st = ww_st_open(path, &f, err, sizeof err);
            check_err_(__FILE__, __LINE__, st, c->want, err, path, c->msg);
            if (st == WW_OK)
                ww_st_close(f);
        }
        free(b);
    }
}

/* The lenient corners the valid cases rely on, checked in detail. */
static void test_valid_corners(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "";
    ww_st_file *f;
    for (int i = 0; i < NCASES; i++) {
        const st_case *c = &cases[i];
        if (c->want != WW_OK)
            continue;
        size_t n;
        unsigned char *b = case_bytes(c, &n);
        if (!TEST_CHECK(b != NULL, "out of memory") ||
            !ST_OK(ww_st_open_memory(b, n, c->name, &f, err, sizeof err))) {
            free(b);
            continue;
        }
        const ww_st_tensor *t;
        if (!strcmp(c->name, "ok-gaps")) {
            t = ww_st_find(f, "b");
            TEST_CHECK(ww_st_count(f) == 2 && t && t->data == b + n - 8 && t->nbytes == 3,
                       "ok-gaps: tensor b");
        } else if (!strcmp(c->name, "ok-whitespace-escapes")) {
            t = ww_st_at(f, 0);
            TEST_CHECK(t && !strcmp(t->name, "a\xc3\xa9\xf0\x9f\x98\x80\"\\/\b\f\n\r\t") &&
                       t->dtype == WW_ST_I8 && t->ndim == 2 && t->shape[0] == 2 &&
                       t->shape[1] == 1 && ww_st_find(f, t->name) == t,
                       "ok-whitespace-escapes: decoded name and entry");
            TEST_CHECK(ww_st_meta_count(f) == 0, "empty __metadata__");
        } else if (!strcmp(c->name, "ok-zero-size")) {
            t = ww_st_find(f, "z");
            TEST_CHECK(t && t->nelements == 0 && t->nbytes == 0 && t->ndim == 3 &&
                       t->shape[2] == 5, "zero-size tensor");
            t = ww_st_find(f, "s");
            TEST_CHECK(t && t->ndim == 0 && t->nelements == 1 && t->nbytes == 1, "scalar");
            ST_OK(ww_st_expect(f, "z", 3, (const int64_t[]){3, 0, 5}, err, sizeof err));
        }
        ww_st_close(f);
        free(b);
    }
}

/* The header length limit: a length over it fails before anything is allocated for it. */
static void test_header_limit(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "";
    size_t n = 8 + (size_t)WW_ST_MAX_HEADER + 1;
    unsigned char *b = calloc(1, n); /* untouched pages: costs no memory */
    if (!TEST_CHECK(b != NULL, "out of memory"))
        return;
    uint64_t hlen = WW_ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(hlen >> (8 * i));
    ww_st_file *f;
    CHECK_ERR(ww_st_open_memory(b, n, "big.safetensors", &f, err, sizeof err), WW_ERR_INVALID,
              err, "big.safetensors", "header length 100000001 is over the limit of 100000000");
    free(b);
}

static void test_io_errors(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "";
    ww_st_file *f = (ww_st_file *)1;
    const char *path = test_tmp_path("missing.safetensors");
    CHECK_ERR(ww_st_open(path, &f, err, sizeof err), WW_ERR_IO, err, path,
              "cannot open: No such file or directory");
    TEST_CHECK(f == NULL, "*out not cleared");
    path = test_tmp_path("adir");
    if (TEST_CHECK(mkdir(path, 0700) == 0 || errno == EEXIST, "mkdir %s", path))
        CHECK_ERR(ww_st_open(path, &f, err, sizeof err), WW_ERR_IO, err, path, "is a directory");
    path = test_tmp_path("empty.safetensors");
    if (test_write_bytes(path, "", 0))
        CHECK_ERR(ww_st_open(path, &f, err, sizeof err), WW_ERR_INVALID, err, path,
                  "file is empty");
    /* a message longer than the buffer is cut, still NUL-terminated */
    char small[12];
    memset(small, 'x', sizeof small);
    ww_st_open(path, &f, small, sizeof small);
    TEST_CHECK(small[sizeof small - 1] == '\0' && strlen(small) == sizeof small - 1,
               "short error buffer");
    TEST_CHECK(ww_st_open(path, &f, NULL, 0) == WW_ERR_INVALID, "NULL error buffer");
    TEST_CHECK(ww_st_open(NULL, &f, err, sizeof err) == WW_ERR_INVALID &&
               ww_st_open(path, NULL, err, sizeof err) == WW_ERR_INVALID &&
               ww_st_open_memory(NULL, 8, "x", &f, err, sizeof err) == WW_ERR_INVALID,
               "NULL arguments");
    ww_st_close(NULL);
}

static void test_write_errors(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "";
    static const float d[4] = {0};
    const char *path = test_tmp_path("bad-write.safetensors");
    typedef struct {
        ww_st_entry e[2];
        int n;
        const char *meta[4];
        int nmeta;
        const char *msg;
    } wcase;
    const wcase wc[] = {
        {{{"a", WW_ST_F32, 1, {1}, d}, {"a", WW_ST_F32, 1, {1}, d}}, 2, {0}, 0,
         "tensor 'a': the name appears twice among the tensors to write"},
        {{{"a", (ww_st_dtype)99, 1, {1}, d}}, 1, {0}, 0,
         "tensor 'a': dtype 99 is not a ww_st_dtype"},
        {{{"a", WW_ST_F32, 2, {2, -1}, d}}, 1, {0}, 0, "tensor 'a': shape dim 1 is negative (-1)"},
        {{{"a", WW_ST_F32, 9, {1}, d}}, 1, {0}, 0, "tensor 'a': ndim 9 is not in [0, 8]"},
        {{{"a", WW_ST_F32, 2, {(int64_t)1 << 40, (int64_t)1 << 40}, d}}, 1, {0}, 0,
         "shape [1099511627776, 1099511627776] of F32 is too large"},
        {{{"__metadata__", WW_ST_F32, 1, {1}, d}}, 1, {0}, 0, "the name is reserved"},
        {{{"a\xff", WW_ST_F32, 1, {1}, d}}, 1, {0}, 0,
         "name of tensor 0 is not valid UTF-8 (byte 1)"},
        {{{NULL, WW_ST_F32, 1, {1}, d}}, 1, {0}, 0, "name of tensor 0 is NULL"},
        {{{"a", WW_ST_F32, 1, {4}, NULL}}, 1, {0}, 0, "tensor 'a': data is NULL"},
        {{{"a", WW_ST_F32, 1, {1}, d}}, 1, {"k", "1", "k", "2"}, 2,
         "metadata key 'k' appears twice"},
        {{{"a", WW_ST_F32, 1, {1}, d}}, 1, {"k", NULL}, 1, "metadata value 0 is NULL"},
        {{{"a", WW_ST_F32, 1, {1}, d}}, 1, {"\xc0\x80", "v"}, 1,
         "metadata key 0 is not valid UTF-8"},
        {{{"a", WW_ST_F32, 1, {1}, d}}, -1, {0}, 0, "bad arguments (-1 tensors"},
    };
    for (size_t i = 0; i < sizeof wc / sizeof wc[0]; i++) {
        CHECK_ERR(ww_st_write(path, wc[i].e, wc[i].n, wc[i].meta, wc[i].nmeta, err, sizeof err),
                  WW_ERR_INVALID, err, path, wc[i].msg);
        TEST_CHECK(!test_file_exists(path) &&
                       !test_file_exists(test_tmp_path("bad-write.safetensors.tmp")),
                   "case %zu: a file was written", i);
    }

    /* I/O: no such directory; a directory in the way of the rename (the .tmp is removed) */
    const ww_st_entry ok = {"a", WW_ST_F32, 1, {1}, d};
    CHECK_ERR(ww_st_write("/nonexistent-dir/x.safetensors", &ok, 1, NULL, 0, err, sizeof err),
              WW_ERR_IO, err, "/nonexistent-dir/x.safetensors.tmp", "cannot create");
    path = test_tmp_path("dir-in-the-way");
    if (TEST_CHECK(mkdir(path, 0700) == 0, "mkdir %s", path)) {
        CHECK_ERR(ww_st_write(path, &ok, 1, NULL, 0, err, sizeof err), WW_ERR_IO, err, path,
                  "cannot rename");
        TEST_CHECK(!test_file_exists(test_tmp_path("dir-in-the-way.tmp")), "the .tmp file is left");
    }

    /* a failed write leaves an existing file as it was */
    path = test_tmp_path("keep.safetensors");
    ww_st_file *f;
    if (ST_OK(ww_st_write(path, &ok, 1, NULL, 0, err, sizeof err))) {
        const ww_st_entry bad = {"a", WW_ST_F32, 1, {-1}, d};
        TEST_STATUS(NULL, ww_st_write(path, &bad, 1, NULL, 0, err, sizeof err), WW_ERR_INVALID);
        if (ST_OK(ww_st_open(path, &f, err, sizeof err))) {
            TEST_CHECK(ww_st_count(f) == 1, "the old file changed");
            ww_st_close(f);
        }
    }
}

static void test_read_f32_errors(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "";
    ww_st_entry e[FX_N];
    fixture(e);
    const char *path = test_tmp_path("read.safetensors");
    ww_st_file *f;
    if (!ST_OK(ww_st_write(path, e, FX_N, NULL, 0, err, sizeof err)) ||
        !ST_OK(ww_st_open(path, &f, err, sizeof err)))
        return;
    float v[8];
    CHECK_ERR(ww_st_read_f32(f, ww_st_find(f, "w.f32"), v, 5, err, sizeof err), WW_ERR_INVALID,
              err, path, "tensor 'w.f32': has 6 elements, the destination 5");
    CHECK_ERR(ww_st_read_f32(f, ww_st_find(f, "idx.i64"), v, 4, err, sizeof err),
              WW_ERR_INVALID, err, path,
              "tensor 'idx.i64': dtype I64 cannot be read as float (only F32, F16, BF16)");
    CHECK_ERR(ww_st_read_f32(f, ww_st_find(f, "w.f32"), NULL, 6, err, sizeof err),
              WW_ERR_INVALID, err, path, "destination is NULL");
    CHECK_ERR(ww_st_read_f32(f, NULL, v, 6, err, sizeof err), WW_ERR_INVALID, err, path,
              "file or tensor is NULL");
    ww_st_close(f);
}

static void test_expect(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "";
    ww_st_entry e[FX_N];
    fixture(e);
    const char *path = test_tmp_path("expect.safetensors");
    ww_st_file *f;
    if (!ST_OK(ww_st_write(path, e, FX_N, NULL, 0, err, sizeof err)) ||
        !ST_OK(ww_st_open(path, &f, err, sizeof err)))
        return;
    ST_OK(ww_st_expect(f, "w.f32", 2, (const int64_t[]){2, 3}, err, sizeof err));
    ST_OK(ww_st_expect(f, "w.f16", 1, (const int64_t[]){9}, err, sizeof err));
    ST_OK(ww_st_expect(f, "w.bf16", 1, (const int64_t[]){4}, err, sizeof err));
    ST_OK(ww_st_expect(f, "scalar", 0, NULL, err, sizeof err));
    CHECK_ERR(ww_st_expect(f, "enc_norm.weight", 1, (const int64_t[]){768}, err, sizeof err),
              WW_ERR_INVALID, err, path,
              "tensor 'enc_norm.weight': missing (expected shape [768])");
    CHECK_ERR(ww_st_expect(f, "w.f32", 2, (const int64_t[]){3, 2}, err, sizeof err),
              WW_ERR_INVALID, err, path, "tensor 'w.f32': has shape [2, 3], expected [3, 2]");
    CHECK_ERR(ww_st_expect(f, "w.f32", 1, (const int64_t[]){6}, err, sizeof err), WW_ERR_INVALID,
              err, path, "tensor 'w.f32': has shape [2, 3], expected [6]");
    CHECK_ERR(ww_st_expect(f, "scalar", 1, (const int64_t[]){1}, err, sizeof err),
              WW_ERR_INVALID, err, path, "tensor 'scalar': has shape [], expected [1]");
    CHECK_ERR(ww_st_expect(f, "idx.i64", 2, (const int64_t[]){2, 2}, err, sizeof err),
              WW_ERR_INVALID, err, path,
              "tensor 'idx.i64': has dtype I64, expected F32, F16 or BF16");
    CHECK_ERR(ww_st_expect(f, "w.f32", 9, (const int64_t[]){1}, err, sizeof err), WW_ERR_INVALID,
              err, path, "bad arguments (ndim 9)");

    static const char *const known[] = {"w.f32", "w.f16", "w.bf16", "idx.u8",
                                        "idx.i64", "idx.i32", "scalar", "empty"};
    ST_OK(ww_st_unexpected(f, known, 8, err, sizeof err));
    CHECK_ERR(ww_st_unexpected(f, known + 1, 6, err, sizeof err), WW_ERR_INVALID, err, path,
              "tensor 'w.f32': not a tensor this model uses (1 more such tensor)");
    CHECK_ERR(ww_st_unexpected(f, known, 5, err, sizeof err), WW_ERR_INVALID, err, path,
              "tensor 'idx.i32': not a tensor this model uses (2 more such tensors)");
    ww_st_close(f);
}

/* Names from a file can hold anything: messages escape control characters and stay short. */
static void test_message_names(const char *arg)
{
    (void)arg;
    char err[ERRLEN] = "", header[1600];
    char longname[600];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    snprintf(header, sizeof header, "{" T("%s", "U8", "[1]", "[0,1]") "," T("%s", "U8", "[1]",
             "[1,2]") "}", longname, longname);
    const st_case c = {.name = "long", .header = header, .data = 2};
    size_t n;
    unsigned char *b = case_bytes(&c, &n);
    ww_st_file *f;
    if (b && CHECK_ERR(ww_st_open_memory(b, n, "long.safetensors", &f, err, sizeof err),
                       WW_ERR_INVALID, err, "long.safetensors", "...': the name appears twice"))
        TEST_CHECK(strlen(err) < 200, "message of %zu bytes", strlen(err));
    free(b);

    const st_case ctl = {.name = "ctl", .header = "{" T("a\\nb\\u001b", "U8", "[1]", "[0,2]") "}",
                         .data = 2};
    if ((b = case_bytes(&ctl, &n)))
        CHECK_ERR(ww_st_open_memory(b, n, "ctl.safetensors", &f, err, sizeof err), WW_ERR_INVALID,
                  err, "ctl.safetensors",
                  "tensor 'a\\x0ab\\x1b': data_offsets [0, 2] hold 2 bytes");
    free(b);
}

/* Every seed of the fuzz corpus through the fuzz target; "ok-" seeds open, "bad-" ones fail. */
static void test_seed_corpus(const char *arg)
{
    (void)arg;
    const char *dir = WW_TEST_SRCDIR "/fuzz/safetensors";
    DIR *d = opendir(dir);
    if (!TEST_CHECK(d != NULL, "cannot list %s", dir))
        return;
    int count = 0;
    char err[ERRLEN] = "", path[1024];
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t n;
        unsigned char *b = test_read_bytes(path, &n);
        if (!b)
            continue;
        count++;
        ww_st_file *f;
        int want_ok = !strncmp(de->d_name, "ok-", 3);
        if (!want_ok && strncmp(de->d_name, "bad-", 4)) {
            TEST_FAIL("seed %s is named neither ok-* nor bad-* (did a fuzzer run write into the "
                      "seed directory?)", de->d_name);
            continue;
        }
        ww_status st = ww_st_open_memory(b, n, de->d_name, &f, err, sizeof err);
        TEST_CHECK((st == WW_OK) == want_ok, "seed %s: %s", de->d_name,
                   st ? err : "opened but is a bad- seed");
        if (st == WW_OK)
            ww_st_close(f);
        LLVMFuzzerTestOneInput(b, n);
    }
    closedir(d);
    TEST_CHECK(count >= 20, "only %d seeds in %s", count, dir);
}

/* Files exchanged with huggingface's own package, when python3 has it. */
static void test_python_interop(const char *arg)
{
    (void)arg;
    if (system("python3 -c 'import safetensors.numpy, numpy' >/dev/null 2>&1") != 0) {
        TEST_SKIP("python3 with the safetensors and numpy packages not found");
        return;
    }
    const char *script = WW_TEST_SRCDIR "/safetensors_interop.py";
    if (strchr(script, '\'')) {
        TEST_SKIP("the source path holds a quote: %s", script);
        return;
    }
    char err[ERRLEN] = "", cmd[4096];
    ww_st_entry e[FX_N];
    fixture(e);
    const char *ours = test_tmp_path("ours.safetensors"), *simple = test_tmp_path("simple.safetensors"),
               *theirs = test_tmp_path("theirs.safetensors"), *log = test_tmp_path("python.log");
    if (!ST_OK(ww_st_write(ours, e, FX_N, fx_meta, FX_NMETA, err, sizeof err)) ||
        !ST_OK(write_simple(simple, err)))
        return;
    const char *steps[2][2] = {{"read", "files written by ww_st_write"},
                               {"write", "writing with safetensors.numpy"}};
    for (int s = 0; s < 2; s++) {
        if (s == 0)
            snprintf(cmd, sizeof cmd, "python3 '%s' read '%s' '%s' >'%s' 2>&1", script, ours,
                     simple, log);
        else
            snprintf(cmd, sizeof cmd, "python3 '%s' write '%s' >'%s' 2>&1", script, theirs, log);
        if (system(cmd) != 0) {
            size_t n = 0;
            unsigned char *out = test_read_bytes(log, &n);
            TEST_FAIL("python3 %s (%s) failed: %.*s", steps[s][0], steps[s][1],
                      out ? (int)(n < 400 ? n : 400) : 0, out ? (const char *)out : "");
            return;
        }
    }
    ww_st_file *f;
    if (ST_OK(ww_st_open(theirs, &f, err, sizeof err))) {
        check_fixture(f, 0, 0);
        ww_st_close(f);
    }
}

static const ww_test_case tests[] = {
    {"dtypes", test_dtypes, NULL},
    {"roundtrip", test_roundtrip, NULL},
    {"half_conversion", test_half_conversion, NULL},
    {"half_encoding", test_half_encoding, NULL},
    {"header_layout", test_header_layout, NULL},
    {"corrupt_files", test_corrupt_files, NULL},
    {"valid_corners", test_valid_corners, NULL},
    {"header_limit", test_header_limit, NULL},
    {"io_errors", test_io_errors, NULL},
    {"write_errors", test_write_errors, NULL},
    {"read_f32_errors", test_read_f32_errors, NULL},
    {"expect", test_expect, NULL},
    {"message_names", test_message_names, NULL},
    {"seed_corpus", test_seed_corpus, NULL},
    {"python_interop", test_python_interop, NULL},
};

/* ---- Seed corpus ----------------------------------------------------------------------------- */

/* Every case of the table, plus files from ww_st_write, as DIR/NAME.safetensors. */
static int write_corpus(const char *dir)
{
    char path[1024], err[ERRLEN] = "";
    int failed = 0;
    for (int i = 0; i < NCASES; i++) {
        size_t n;
        unsigned char *b = case_bytes(&cases[i], &n);
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, cases[i].name);
        FILE *f = b ? fopen(path, "wb") : NULL;
        if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            failed = 1;
        }
        free(b);
    }
    ww_st_entry e[FX_N];
    fixture(e);
    snprintf(path, sizeof path, "%s/ok-fixture.safetensors", dir);
    if (ww_st_write(path, e, FX_N, fx_meta, FX_NMETA, err, sizeof err) != WW_OK) {
        fprintf(stderr, "%s\n", err);
        failed = 1;
    }
    snprintf(path, sizeof path, "%s/ok-simple.safetensors", dir);
    if (write_simple(path, err) != WW_OK) {
        fprintf(stderr, "%s\n", err);
        failed = 1;
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-corpus"))
        return write_corpus(argv[2]);
    return ww_test_main(argc, argv, tests, (int)(sizeof tests / sizeof tests[0]));
}
