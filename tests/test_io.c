/* Image and flow file tests (tools/image_io.h, tools/flow_io.h): every writer through its reader,
 * PNG variants written with libpng itself (palette with transparency, interlaced, low bit depth),
 * JPEGs written with libjpeg, binary PPMs, Spring .flo5 files written with HDF5 (when the build
 * has it; else its refusal), the real samples of the shared data folder (Sintel .flo with a
 * warp check against its frames, KITTI sparse flow and disparity, a CamVid label map), and
 * corrupt or missing files, which must fail with a status and a message that names the file.
 *
 * The shared data folder comes from the environment variable WW_TEST_DATA (set by meson to
 * ../shared/data beside the repository); the tests that need it are skipped when it is absent.
 *
 * Usage: test_io [NAME-SUBSTRING...]
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "flow_io.h"
#include "image_io.h"
#include "test_hdf5.h"
#include "test_util.h"

enum { ERRLEN = 1024 };

/* A call that must fail with status want and a message that names path and contains word. */
#define EXPECT_ERROR(expr, want, err, path, word) \
    expect_error_((expr), (want), (err), (path), (word), #expr, __LINE__)
static int expect_error_(ww_status got, ww_status want, const char *err, const char *path,
                         const char *word, const char *expr, int line)
{
    return TEST_CHECK(got == want, "line %d: %s gave %s, want %s (%s)", line, expr,
                      ww_status_str(got), ww_status_str(want), err) &&
           TEST_CHECK(strstr(err, path) != NULL, "line %d: message '%s' does not name %s", line,
                      err, path) &&
           TEST_CHECK(test_contains(err, word), "line %d: message '%s' does not say '%s'", line,
                      err, word);
}

static void fill_random_bytes(test_rng *r, void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)test_rng_u32(r);
}

/* ---- PNG ------------------------------------------------------------------------------------- */

/* Every channel count and depth, odd sizes included: written, read back bit-exact. */
static void test_png_round_trip(const char *arg)
{
    (void)arg;
    static const int sizes[][2] = {{1, 1}, {37, 23}, {64, 3}};
    test_rng rng;
    test_rng_seed(&rng, 1);
    char err[ERRLEN];
    for (int s = 0; s < 3; s++)
        for (int c = 1; c <= 4; c++)
            for (int depth = 8; depth <= 16; depth += 8) {
                ww_img img = {.width = sizes[s][0], .height = sizes[s][1], .channels = c,
                              .depth = depth};
                size_t bytes = (size_t)img.width * (size_t)img.height * (size_t)c *
                               (size_t)(depth / 8);
                img.data = test_malloc(bytes);
                fill_random_bytes(&rng, img.data, bytes);
                const char *path = test_tmp_path("round.png");
                if (!TEST_CHECK(ww_img_write_png(path, &img, err, sizeof err) == WW_OK, "%s",
                                err))
                    continue;
                ww_img got;
                if (!TEST_CHECK(ww_img_read_png(path, &got, err, sizeof err) == WW_OK, "%s",
                                err))
                    continue;
                TEST_CHECK(got.width == img.width && got.height == img.height &&
                               got.channels == c && got.depth == depth,
                           "%dx%d c%d d%d came back %dx%d c%d d%d", img.width, img.height, c,
                           depth, got.width, got.height, got.channels, got.depth);
                if (got.channels == c && got.depth == depth && got.width == img.width &&
                    got.height == img.height)
                    TEST_CHECK(!memcmp(got.data, img.data, bytes),
                               "%dx%d c%d d%d: pixels differ", img.width, img.height, c, depth);
                ww_img_free(&got);
            }
}

/* RGB8 from every PNG kind: gray replicated, alpha dropped, 16 bits rounded to 8. */
static void test_png_to_rgb8(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    enum { W = 5, H = 3, N = W * H };
    uint16_t s16[N * 4];
    uint8_t s8[N * 4];
    for (int i = 0; i < N * 4; i++) {
        s16[i] = (uint16_t)(i * 4099 % 65536);
        s8[i] = (uint8_t)(i * 37 % 256);
    }
    for (int c = 1; c <= 4; c++)
        for (int depth = 8; depth <= 16; depth += 8) {
            ww_img img = {.width = W, .height = H, .channels = c, .depth = depth,
                          .data = depth == 8 ? (void *)s8 : (void *)s16};
            const char *path = test_tmp_path("kind.png");
            ww_img got;
            if (!TEST_CHECK(ww_img_write_png(path, &img, err, sizeof err) == WW_OK, "%s", err) ||
                !TEST_CHECK(ww_img_read_rgb8(path, &got, err, sizeof err) == WW_OK, "%s", err))
                continue;
            int bad = 0;
            if (TEST_CHECK(got.channels == 3 && got.depth == 8 && got.width == W &&
                               got.height == H,
                           "c%d d%d: not %dx%d RGB8", c, depth, W, H)) {
                const uint8_t *p = got.data;
                for (int i = 0; i < N; i++)
                    for (int k = 0; k < 3; k++) {
                        int at = i * c + (c <= 2 ? 0 : k);
                        int want = depth == 8 ? s8[at] : (int)lround(s16[at] / 257.0);
                        bad += p[3 * i + k] != want;
                    }
            }
            TEST_CHECK(!bad, "c%d d%d: %d samples differ", c, depth, bad);
            ww_img_free(&got);
        }
}

/* A PNG written by libpng with the features our writer never produces. */
static int write_png_lib(const char *path, int w, int h, int bit_depth, int color_type,
                         int interlace, const png_color *palette, int npalette,
                         const uint8_t *trns, int ntrns, png_bytep *rows)
{
    FILE *f = fopen(path, "wb");
    if (!TEST_CHECK(f != NULL, "cannot create %s", path))
        return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return TEST_FAIL("libpng failed to write %s", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bit_depth, color_type, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette)
        png_set_PLTE(png, info, palette, npalette);
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return TEST_CHECK(fclose(f) == 0, "cannot write %s", path);
}

/* Palette with transparency (-> RGBA), interlaced (Adam7 undone), 2-bit gray (-> 8-bit). */
static void test_png_variants(const char *arg)
{
    (void)arg;
    enum { W = 9, H = 7 };
    char err[ERRLEN];
    static const png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    static const uint8_t trns[2] = {0, 128};
    uint8_t idx[H][W];
    png_bytep rows[H];
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++)
            idx[y][x] = (uint8_t)((x + 2 * y) % 4);
        rows[y] = idx[y];
    }
    const char *path = test_tmp_path("palette.png");
    ww_img got;
    if (write_png_lib(path, W, H, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_ADAM7, pal, 4, trns,
                      2, rows) &&
        TEST_CHECK(ww_img_read_png(path, &got, err, sizeof err) == WW_OK, "%s", err)) {
        int bad = !(got.channels == 4 && got.depth == 8 && got.width == W && got.height == H);
        for (int y = 0; !bad && y < H; y++)
            for (int x = 0; x < W; x++) {
                const uint8_t *p = (const uint8_t *)got.data + 4 * (y * W + x);
                int i = idx[y][x];
                bad += p[0] != pal[i].red || p[1] != pal[i].green || p[2] != pal[i].blue ||
                       p[3] != (i < 2 ? trns[i] : 255);
            }
        TEST_CHECK(!bad, "interlaced palette PNG with tRNS: %d pixels differ", bad);
        ww_img_free(&got);
    }
    /* 2-bit gray, 4 pixels per byte: values 0..3 scale to 0, 85, 170, 255. */
    uint8_t packed[H][(W + 3) / 4];
    memset(packed, 0, sizeof packed);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++)
            packed[y][x / 4] |= (uint8_t)(idx[y][x] << (6 - 2 * (x % 4)));
        rows[y] = packed[y];
    }
    path = test_tmp_path("gray2.png");
    if (write_png_lib(path, W, H, 2, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, NULL, 0, NULL, 0,
                      rows) &&
        TEST_CHECK(ww_img_read_png(path, &got, err, sizeof err) == WW_OK, "%s", err)) {
        int bad = !(got.channels == 1 && got.depth == 8);
        for (int i = 0; !bad && i < W * H; i++)
            bad += ((const uint8_t *)got.data)[i] != idx[i / W][i % W] * 85;
        TEST_CHECK(!bad, "2-bit gray PNG: %d pixels differ", bad);
        ww_img_free(&got);
    }
}

/* ---- JPEG ------------------------------------------------------------------------------------ */

/* A JPEG of w x h with components 3 (RGB) or 1 (gray) from packed pixels, through libjpeg. */
static int write_jpeg(const char *path, const uint8_t *px, int w, int h, int components)
{
    FILE *f = fopen(path, "wb");
    if (!TEST_CHECK(f != NULL, "cannot create %s", path))
        return 0;
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 95, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)px + (size_t)cinfo.next_scanline * (size_t)w * (size_t)components;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return TEST_CHECK(fclose(f) == 0, "cannot write %s", path);
}

/* A smooth test picture (JPEG keeps it within a few levels). */
static uint8_t *smooth_picture(int w, int h, int components)
{
    uint8_t *p = test_malloc((size_t)w * (size_t)h * (size_t)components);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < components; k++)
                p[((size_t)y * (size_t)w + (size_t)x) * (size_t)components + (size_t)k] =
                    (uint8_t)(128 + 90 * sin(0.05 * x + 0.7 * k) * cos(0.04 * y - 0.3 * k));
    return p;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs((double)a[i] - (double)b[i]);
    return s / (double)n;
}

/* RGB and gray JPEGs decode close to what was encoded; a cut one fails as truncated. */
static void test_jpeg(const char *arg)
{
    (void)arg;
    enum { W = 61, H = 45 };
    char err[ERRLEN];
    uint8_t *rgb = smooth_picture(W, H, 3), *gray = smooth_picture(W, H, 1);
    const char *path = test_tmp_path("rgb.jpg");
    ww_img got;
    if (write_jpeg(path, rgb, W, H, 3) &&
        TEST_CHECK(ww_img_read_rgb8(path, &got, err, sizeof err) == WW_OK, "%s", err)) {
        if (TEST_CHECK(got.width == W && got.height == H && got.channels == 3 && got.depth == 8,
                       "RGB JPEG came back %dx%d c%d", got.width, got.height, got.channels)) {
            double e = mean_abs_diff(got.data, rgb, (size_t)W * H * 3);
            TEST_CHECK(e < 3, "RGB JPEG: mean abs error %.2f levels", e);
        }
        ww_img_free(&got);
    }
    const char *gpath = test_tmp_path("gray.jpeg");
    if (write_jpeg(gpath, gray, W, H, 1) &&
        TEST_CHECK(ww_img_read_rgb8(gpath, &got, err, sizeof err) == WW_OK, "%s", err)) {
        if (TEST_CHECK(got.channels == 3 && got.width == W, "gray JPEG: not RGB8")) {
            const uint8_t *p = got.data;
            int same = 1;
            double e = 0;
            for (int i = 0; i < W * H; i++) {
                same &= p[3 * i] == p[3 * i + 1] && p[3 * i] == p[3 * i + 2];
                e += fabs((double)p[3 * i] - gray[i]);
            }
            TEST_CHECK(same, "gray JPEG: channels differ");
            TEST_CHECK(e / (W * H) < 3, "gray JPEG: mean abs error %.2f levels", e / (W * H));
        }
        ww_img_free(&got);
    }
    /* A JPEG is not a PNG to the PNG-only reader. */
    EXPECT_ERROR(ww_img_read_png(path, &got, err, sizeof err), WW_ERR_INVALID, err, path,
                 "not a PNG");
    size_t n;
    uint8_t *bytes = test_read_bytes(path, &n);
    const char *cut = test_tmp_path("cut.jpg");
    if (bytes && test_write_bytes(cut, bytes, n / 2))
        EXPECT_ERROR(ww_img_read_rgb8(cut, &got, err, sizeof err), WW_ERR_INVALID, err, cut,
                     "truncated");
    /* The signature alone: the header is missing. */
    if (bytes && test_write_bytes(cut, bytes, 3))
        TEST_CHECK(ww_img_read_rgb8(cut, &got, err, sizeof err) != WW_OK && strstr(err, cut),
                   "3-byte JPEG: %s", err);
}

/* ---- .flo ------------------------------------------------------------------------------------ */

static void test_flo_round_trip(const char *arg)
{
    (void)arg;
    enum { W = 13, H = 7, N = W * H };
    char err[ERRLEN];
    ww_flow f;
    if (!TEST_CHECK(ww_flow_alloc(&f, W, H, err, sizeof err) == WW_OK, "%s", err))
        return;
    test_rng rng;
    test_rng_seed(&rng, 2);
    test_rng_fill(&rng, f.uv, 2 * N, -300, 300);
    for (int i = 0; i < N; i += 5)
        f.valid[i] = 0;
    const char *path = test_tmp_path("round.flo");
    ww_flow g;
    if (TEST_CHECK(ww_flo_write(path, &f, err, sizeof err) == WW_OK, "%s", err) &&
        TEST_CHECK(test_file_size(path) == 12 + N * 8, "%s: %ld bytes, want %d", path,
                   test_file_size(path), 12 + N * 8) &&
        TEST_CHECK(ww_flo_read(path, &g, err, sizeof err) == WW_OK, "%s", err)) {
        int bad = g.width != W || g.height != H;
        for (int i = 0; !bad && i < N; i++) {
            if (f.valid[i])
                bad += !g.valid[i] || g.uv[2 * i] != f.uv[2 * i] ||
                       g.uv[2 * i + 1] != f.uv[2 * i + 1];
            else
                bad += g.valid[i] || g.uv[2 * i] != 0 || g.uv[2 * i + 1] != 0;
        }
        TEST_CHECK(!bad, ".flo round trip: %d pixels differ", bad);
        ww_flow_free(&g);
    }
    /* Without a mask every pixel is written and comes back valid. */
    uint8_t *valid = f.valid;
    f.valid = NULL;
    if (TEST_CHECK(ww_flo_write(path, &f, err, sizeof err) == WW_OK, "%s", err) &&
        TEST_CHECK(ww_flo_read(path, &g, err, sizeof err) == WW_OK, "%s", err)) {
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += !g.valid[i] || g.uv[2 * i] != f.uv[2 * i];
        TEST_CHECK(!bad, ".flo without mask: %d pixels differ", bad);
        ww_flow_free(&g);
    }
    f.valid = valid;
    ww_flow_free(&f);
}

/* Unknown flow as other writers store it: 1e10 (Middlebury), just over 1e9, inf, NaN. */
static void test_flo_unknown(const char *arg)
{
    (void)arg;
    float data[3 + 2 * 6];
    memcpy(data, "PIEH", 4);
    int32_t wh[2] = {3, 2};
    memcpy(&data[1], wh, 8);
    float *uv = data + 3;
    const float vals[6][2] = {{1.5f, -2.0f}, {1e10f, 1e10f}, {2e9f, 0}, {0, -INFINITY},
                              {NAN, 1}, {1e9f, -1e9f}};
    memcpy(uv, vals, sizeof vals);
    const char *path = test_tmp_path("unknown.flo");
    char err[ERRLEN];
    ww_flow g;
    if (!test_write_bytes(path, data, sizeof data) ||
        !TEST_CHECK(ww_flo_read(path, &g, err, sizeof err) == WW_OK, "%s", err))
        return;
    static const int want_valid[6] = {1, 0, 0, 0, 0, 1};
    for (int i = 0; i < 6; i++) {
        TEST_CHECK(g.valid[i] == want_valid[i], "pixel %d (%g, %g): valid %d, want %d", i,
                   (double)vals[i][0], (double)vals[i][1], g.valid[i], want_valid[i]);
        if (!want_valid[i])
            TEST_CHECK(g.uv[2 * i] == 0 && g.uv[2 * i + 1] == 0,
                       "pixel %d: unknown flow not zeroed", i);
    }
    TEST_CHECK(g.uv[0] == 1.5f && g.uv[1] == -2.0f && g.uv[10] == 1e9f,
               "known pixels changed");
    ww_flow_free(&g);
}

/* ---- KITTI flow PNG -------------------------------------------------------------------------- */

static void test_kitti_round_trip(const char *arg)
{
    (void)arg;
    enum { W = 11, H = 6, N = W * H };
    char err[ERRLEN];
    ww_flow f;
    if (!TEST_CHECK(ww_flow_alloc(&f, W, H, err, sizeof err) == WW_OK, "%s", err))
        return;
    test_rng rng;
    test_rng_seed(&rng, 3);
    for (int i = 0; i < 2 * N; i++) /* multiples of 1/64 are stored exactly */
        f.uv[i] = (float)((int)test_rng_below(&rng, 60000) - 30000) / 64.0f;
    for (int i = 0; i < N; i += 3)
        f.valid[i] = 0;
    f.uv[2 * 1] = 1000.0f; /* beyond the range: clamped to 65535 */
    f.uv[2 * 1 + 1] = -1000.0f;
    f.uv[2 * 2] = NAN; /* not finite: written as invalid */
    const char *path = test_tmp_path("kitti.png");
    ww_flow g;
    if (TEST_CHECK(ww_kitti_flow_write(path, &f, err, sizeof err) == WW_OK, "%s", err) &&
        TEST_CHECK(ww_kitti_flow_read(path, &g, err, sizeof err) == WW_OK, "%s", err)) {
        int bad = g.width != W || g.height != H;
        for (int i = 3; !bad && i < N; i++) {
            if (f.valid[i])
                bad += !g.valid[i] || g.uv[2 * i] != f.uv[2 * i] ||
                       g.uv[2 * i + 1] != f.uv[2 * i + 1];
            else
                bad += g.valid[i] || g.uv[2 * i] != 0;
        }
        TEST_CHECK(!bad, "KITTI round trip: %d pixels differ", bad);
        TEST_CHECK(g.valid[1] && g.uv[2] == 32767 / 64.0f && g.uv[3] == -512.0f,
                   "clamping: (%g, %g), want (%g, -512)", (double)g.uv[2], (double)g.uv[3],
                   32767 / 64.0);
        TEST_CHECK(!g.valid[2], "a NaN flow came back valid");
        ww_flow_free(&g);
    }
    ww_flow_free(&f);
    /* The raw encoding: R, G = value * 64 + 32768, B = 1, big-endian in the file. */
    ww_img img;
    if (TEST_CHECK(ww_img_read_png(path, &img, err, sizeof err) == WW_OK, "%s", err)) {
        const uint16_t *p = img.data;
        TEST_CHECK(img.depth == 16 && img.channels == 3 && p[3] == 65535 && p[4] == 0 &&
                       p[5] == 1 && p[0] == 0 && p[1] == 0 && p[2] == 0,
                   "KITTI encoding: pixel 0 (%u %u %u), pixel 1 (%u %u %u)", p[0], p[1], p[2],
                   p[3], p[4], p[5]);
        ww_img_free(&img);
    }
    /* An 8-bit image is not KITTI flow. */
    const char *p8 = test_tmp_path("rgb8.png");
    uint8_t px[12] = {0};
    img = (ww_img){.width = 2, .height = 2, .channels = 3, .depth = 8, .data = px};
    if (TEST_CHECK(ww_img_write_png(p8, &img, err, sizeof err) == WW_OK, "%s", err))
        EXPECT_ERROR(ww_kitti_flow_read(p8, &g, err, sizeof err), WW_ERR_INVALID, err, p8,
                     "16-bit RGB");
}

/* ---- PFM ------------------------------------------------------------------------------------- */

static void test_pfm(const char *arg)
{
    (void)arg;
    enum { W = 5, H = 4 };
    char err[ERRLEN];
    test_rng rng;
    test_rng_seed(&rng, 4);
    for (int c = 1; c <= 3; c += 2) {
        float data[W * H * 3];
        test_rng_fill(&rng, data, (size_t)W * H * (size_t)c, -100, 100);
        const char *path = test_tmp_path(c == 1 ? "one.pfm" : "three.pfm");
        if (!TEST_CHECK(ww_pfm_write(path, data, W, H, c, err, sizeof err) == WW_OK, "%s", err))
            continue;
        /* The file: header, then the bottom row first. */
        size_t n;
        const uint8_t *bytes = test_read_bytes(path, &n);
        char hdr[32];
        int hl = snprintf(hdr, sizeof hdr, "%s\n%d %d\n-1\n", c == 1 ? "Pf" : "PF", W, H);
        if (bytes && TEST_CHECK(n == (size_t)hl + sizeof(float) * W * H * (size_t)c &&
                                    !memcmp(bytes, hdr, (size_t)hl),
                                "%s: header or size wrong", path))
            TEST_CHECK(!memcmp(bytes + hl, data + (H - 1) * W * c, sizeof(float) * W * (size_t)c),
                       "%s: the first row in the file is not the image's bottom row", path);
        float *got;
        int w, h, ch;
        if (TEST_CHECK(ww_pfm_read(path, &got, &w, &h, &ch, err, sizeof err) == WW_OK, "%s",
                       err)) {
            TEST_CHECK(w == W && h == H && ch == c &&
                           !memcmp(got, data, sizeof(float) * W * H * (size_t)c),
                       "%s: round trip differs", path);
            free(got);
        }
    }
    /* Big-endian (positive scale), 2x1, spaces instead of newlines. */
    const char hdr[] = "Pf 2 1 1.0\n";
    uint8_t file[sizeof hdr - 1 + 8];
    memcpy(file, hdr, sizeof hdr - 1);
    const float vals[2] = {3.25f, -7.5f};
    for (int i = 0; i < 2; i++) {
        uint32_t u;
        memcpy(&u, &vals[i], 4);
        for (int k = 0; k < 4; k++)
            file[sizeof hdr - 1 + 4 * i + k] = (uint8_t)(u >> (24 - 8 * k));
    }
    const char *path = test_tmp_path("be.pfm");
    float *got;
    int w, h, ch;
    if (test_write_bytes(path, file, sizeof file) &&
        TEST_CHECK(ww_pfm_read(path, &got, &w, &h, &ch, err, sizeof err) == WW_OK, "%s", err)) {
        TEST_CHECK(w == 2 && h == 1 && ch == 1 && got[0] == vals[0] && got[1] == vals[1],
                   "big-endian PFM: %dx%d c%d (%g, %g)", w, h, ch, (double)got[0],
                   (double)got[1]);
        free(got);
    }
    /* Corrupt headers and sizes. */
    static const struct {
        const char *text;
        const char *word;
    } bad[] = {
        {"P6\n2 1\n255\n", "magic"},          {"Pf\n0 1\n-1\n", "header"},
        {"Pf\n2 x\n-1\n", "header"},          {"Pf\n2 1\n0\n", "scale"},
        {"Pf\n2 1\n-1\nABCD", "needs 18 bytes"}, {"Pf\n99999 99999\n-1\n", "header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (test_write_bytes(path, bad[i].text, strlen(bad[i].text)))
            EXPECT_ERROR(ww_pfm_read(path, &got, &w, &h, &ch, err, sizeof err), WW_ERR_INVALID,
                         err, path, bad[i].word);
    }
}

/* ---- PPM ------------------------------------------------------------------------------------- */

/* A PPM of header text followed by n bytes of pixels (pixel i = i * 7 mod 256); the pixels in
 * *px (test memory) when px is not NULL. */
static int write_ppm(const char *path, const char *header, size_t n, uint8_t **px)
{
    size_t hl = strlen(header);
    uint8_t *file = test_malloc(hl + n + 1);
    memcpy(file, header, hl);
    for (size_t i = 0; i < n; i++)
        file[hl + i] = (uint8_t)(i * 7);
    if (px)
        *px = file + hl;
    return test_write_bytes(path, file, hl + n);
}

/* Binary PPM through ww_img_read_rgb8: comments and any whitespace in the header, exact bytes
 * back; cut, padded, 16-bit, ASCII and malformed ones fail with a reason. */
static void test_ppm(const char *arg)
{
    (void)arg;
    enum { W = 5, H = 3, N = W * H * 3 };
    char err[ERRLEN];
    static const char *const good[] = {"P6\n5 3\n255\n", "P6 5 3 255 ",
                                       "P6\n# made by a test\n5  3\t# size\n255\r"};
    const char *path = test_tmp_path("image.ppm");
    ww_img got;
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        uint8_t *px;
        if (!write_ppm(path, good[k], N, &px) ||
            !TEST_CHECK(ww_img_read_rgb8(path, &got, err, sizeof err) == WW_OK, "header %zu: %s",
                        k, err))
            continue;
        TEST_CHECK(got.width == W && got.height == H && got.channels == 3 && got.depth == 8 &&
                       !memcmp(got.data, px, N),
                   "header %zu: %dx%d c%d, or other pixels", k, got.width, got.height,
                   got.channels);
        ww_img_free(&got);
    }
    static const struct {
        const char *header;
        size_t bytes;
        ww_status want;
        const char *word;
    } bad[] = {
        {"P6\n5 3\n255\n", N - 1, WW_ERR_INVALID, "truncated"},
        {"P6\n5 3\n255\n", N + 1, WW_ERR_INVALID, "bytes after the image"},
        {"P6\n5 3\n255\n", 0, WW_ERR_INVALID, "truncated"},
        {"P6\n5 3\n", 0, WW_ERR_INVALID, "bad PPM header"},
        {"P6\n5 x 255\n", N, WW_ERR_INVALID, "bad PPM header"},
        {"P6\n0 3\n255\n", 0, WW_ERR_INVALID, "bad PPM header"},
        {"P6\n5 3\n0\n", N, WW_ERR_INVALID, "bad PPM header"},
        {"P6\n5 3\n255", 0, WW_ERR_INVALID, "bad PPM header"},
        {"P6\n5 3\n65535\n", 2 * N, WW_ERR_UNSUPPORTED, "maxval 65535"},
        {"P6\n5 3\n15\n", N, WW_ERR_UNSUPPORTED, "maxval 15"},
        {"P6\n99999 99999\n255\n", N, WW_ERR_UNSUPPORTED, "limit"},
        {"P5\n5 3\n255\n", N / 3, WW_ERR_UNSUPPORTED, "not a PNG, JPEG or PPM"},
        {"P3\n5 3\n255\n", N, WW_ERR_UNSUPPORTED, "not a PNG, JPEG or PPM"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (write_ppm(path, bad[k].header, bad[k].bytes, NULL))
            EXPECT_ERROR(ww_img_read_rgb8(path, &got, err, sizeof err), bad[k].want, err, path,
                         bad[k].word);
    /* A PPM is no PNG to the PNG-only reader. */
    if (write_ppm(path, good[0], N, NULL))
        EXPECT_ERROR(ww_img_read_png(path, &got, err, sizeof err), WW_ERR_INVALID, err, path,
                     "not a PNG");
}

/* ---- Spring .flo5 ---------------------------------------------------------------------------- */

/* Written with HDF5 itself: read back exactly, NaN as unknown; files that are no HDF5, cut, or
 * without a float H x W x 2 "flow" fail naming the file and the reason. Without HDF5 in the build
 * the reader refuses, saying so. */
static void test_flo5(const char *arg)
{
    (void)arg;
    enum { W = 6, H = 4 };
    char err[ERRLEN];
    const char *path = test_tmp_path("flow.flo5");
    ww_flow f;
    if (!ww_flo5_supported()) {
        EXPECT_ERROR(ww_flo5_read(path, &f, err, sizeof err), WW_ERR_UNSUPPORTED, err, path,
                     "no HDF5");
        TEST_SKIP("this build has no HDF5: only the refusal is tested");
        return;
    }
    float data[H * W * 2];
    test_rng rng;
    test_rng_seed(&rng, 7);
    test_rng_fill(&rng, data, H * W * 2, -40, 40);
    data[2 * 5] = NAN;
    data[2 * 9 + 1] = NAN;
    if (test_write_h5(path, "flow", data, H, W, 2, 0) &&
        TEST_CHECK(ww_flo5_read(path, &f, err, sizeof err) == WW_OK, "%s", err)) {
        int wrong = f.width != W || f.height != H;
        for (int i = 0; !wrong && i < W * H; i++) {
            int known = i != 5 && i != 9;
            wrong += f.valid[i] != known ||
                     (known ? f.uv[2 * i] != data[2 * i] || f.uv[2 * i + 1] != data[2 * i + 1]
                            : f.uv[2 * i] != 0 || f.uv[2 * i + 1] != 0);
        }
        TEST_CHECK(!wrong, "%s: %dx%d, %d pixels wrong", path, f.width, f.height, wrong);
        ww_flow_free(&f);
    }
    size_t n;
    uint8_t *bytes = test_read_bytes(path, &n);
    const char *bad = test_tmp_path("bad.flo5");
    if (bytes && test_write_bytes(bad, bytes, n / 2))
        EXPECT_ERROR(ww_flo5_read(bad, &f, err, sizeof err), WW_ERR_INVALID, err, bad,
                     "truncated file");
    if (test_write_bytes(bad, "PIEH not hdf5 at all", 20))
        EXPECT_ERROR(ww_flo5_read(bad, &f, err, sizeof err), WW_ERR_INVALID, err, bad,
                     "not a readable HDF5 file");
    if (test_write_h5(bad, "disparity", data, H, W, 2, 0))
        EXPECT_ERROR(ww_flo5_read(bad, &f, err, sizeof err), WW_ERR_INVALID, err, bad,
                     "no dataset \"flow\"");
    if (test_write_h5(bad, "flow", data, H, W / 3, 3, 0))
        EXPECT_ERROR(ww_flo5_read(bad, &f, err, sizeof err), WW_ERR_INVALID, err, bad,
                     "H x W x 2");
    if (test_write_h5(bad, "flow", data, 1, H * W, 2, 1))
        EXPECT_ERROR(ww_flo5_read(bad, &f, err, sizeof err), WW_ERR_INVALID, err, bad,
                     "floats");
    EXPECT_ERROR(ww_flo5_read(test_tmp_dir(), &f, err, sizeof err), WW_ERR_IO, err,
                 test_tmp_dir(), "directory");
    TEST_CHECK(f.uv == NULL && f.valid == NULL, "a failed read left arrays behind");
}

/* ---- Real samples ---------------------------------------------------------------------------- */

/* Sintel alley_1 frame 2 -> 3: the ground truth reads as 1024x436 finite flow, and warping
 * frame 3 back along it matches frame 2 far better than frame 3 itself does. */
static void test_sintel(const char *arg)
{
    (void)arg;
    const char *flo = test_data_path("flow/sintel-alley_1/frame_0002.flo");
    if (!flo)
        return;
    const char *p2 = test_data_path("flow/sintel-alley_1/frame_0002.png");
    const char *p3 = test_data_path("flow/sintel-alley_1/frame_0003.png");
    char err[ERRLEN];
    ww_flow f;
    ww_img i2 = {0}, i3 = {0};
    if (!TEST_CHECK(ww_flo_read(flo, &f, err, sizeof err) == WW_OK, "%s", err))
        return;
    int ok = TEST_CHECK(f.width == 1024 && f.height == 436, "%s: %dx%d, want 1024x436", flo,
                        f.width, f.height) &&
             TEST_CHECK(ww_img_read_rgb8(p2, &i2, err, sizeof err) == WW_OK, "%s", err) &&
             TEST_CHECK(ww_img_read_rgb8(p3, &i3, err, sizeof err) == WW_OK, "%s", err) &&
             TEST_CHECK(i2.width == f.width && i2.height == f.height && i3.width == f.width &&
                            i3.height == f.height,
                        "frames are not the flow's size");
    size_t n = (size_t)f.width * (size_t)f.height, nvalid = 0, nfinite = 0;
    double max_mag = 0;
    for (size_t i = 0; i < n; i++) {
        nvalid += f.valid[i];
        nfinite += isfinite(f.uv[2 * i]) && isfinite(f.uv[2 * i + 1]);
        double m = hypot(f.uv[2 * i], f.uv[2 * i + 1]);
        max_mag = m > max_mag ? m : max_mag;
    }
    TEST_CHECK(nfinite == n, "%s: %zu of %zu pixels not finite", flo, n - nfinite, n);
    TEST_CHECK(nvalid > n * 9 / 10, "%s: only %zu of %zu pixels known", flo, nvalid, n);
    TEST_CHECK(max_mag > 1 && max_mag < 1000, "%s: largest flow %.1f px", flo, max_mag);
    if (ok) {
        double e_warp = 0, e_id = 0;
        size_t used = 0;
        const uint8_t *a = i2.data, *b = i3.data;
        for (int y = 0; y < f.height; y++)
            for (int x = 0; x < f.width; x++) {
                size_t i = (size_t)y * (size_t)f.width + (size_t)x;
                double tx = x + f.uv[2 * i], ty = y + f.uv[2 * i + 1];
                if (!f.valid[i] || tx < 0 || ty < 0 || tx > f.width - 1 || ty > f.height - 1)
                    continue;
                used++;
                for (int k = 0; k < 3; k++) {
                    double want = a[3 * i + (size_t)k];
                    e_warp += fabs(test_bilinear_rgb8(b, f.width, tx, ty, k) - want);
                    e_id += fabs((double)b[3 * i + (size_t)k] - want);
                }
            }
        e_warp /= 3.0 * (double)used;
        e_id /= 3.0 * (double)used;
        TEST_CHECK(used > n / 2, "only %zu pixels land inside frame 3", used);
        TEST_CHECK(e_warp < 0.5 * e_id,
                   "warp along the ground truth: mean abs error %.2f levels, identity %.2f",
                   e_warp, e_id);
    }
    ww_img_free(&i2);
    ww_img_free(&i3);
    ww_flow_free(&f);
}

/* KITTI: sparse flow ground truth (some pixels valid, some not), 16-bit disparity, CamVid ids. */
static void test_kitti_samples(const char *arg)
{
    (void)arg;
    const char *gt = test_data_path("flow/kitti/flow_gt.png");
    if (!gt)
        return;
    char err[ERRLEN];
    ww_flow f;
    if (TEST_CHECK(ww_kitti_flow_read(gt, &f, err, sizeof err) == WW_OK, "%s", err)) {
        size_t n = (size_t)f.width * (size_t)f.height, nvalid = 0, bad = 0;
        for (size_t i = 0; i < n; i++) {
            nvalid += f.valid[i];
            bad += f.valid[i] ? !(fabsf(f.uv[2 * i]) < 512 && fabsf(f.uv[2 * i + 1]) < 512)
                              : f.uv[2 * i] != 0 || f.uv[2 * i + 1] != 0;
        }
        TEST_CHECK(f.width == 1242 && f.height == 375, "%s: %dx%d", gt, f.width, f.height);
        TEST_CHECK(nvalid > n / 10 && nvalid < n, "%s: %zu of %zu pixels valid", gt, nvalid, n);
        TEST_CHECK(!bad, "%s: %zu pixels out of range", gt, bad);
        ww_flow_free(&f);
    }
    ww_img img;
    const char *disp = test_data_path("depth/kitti2012/disp_noc_000070_10.png");
    if (TEST_CHECK(ww_img_read_png(disp, &img, err, sizeof err) == WW_OK, "%s", err)) {
        size_t n = (size_t)img.width * (size_t)img.height, zero = 0;
        const uint16_t *p = img.data;
        uint16_t max = 0;
        for (size_t i = 0; img.depth == 16 && i < n; i++) {
            zero += p[i] == 0;
            max = p[i] > max ? p[i] : max;
        }
        TEST_CHECK(img.depth == 16 && img.channels == 1 && img.width == 1241,
                   "%s: %dx%d, %d-bit, %d channel(s)", disp, img.width, img.height, img.depth,
                   img.channels);
        /* disparity = value / 256: some pixels without ground truth, some beyond 1 px */
        TEST_CHECK(zero > 0 && zero < n && max > 256,
                   "%s: %zu of %zu pixels zero, max %u", disp, zero, n, max);
        ww_img_free(&img);
    }
    const char *label = test_data_path("seg/camvid/label_0001TP_006690.png");
    if (TEST_CHECK(ww_img_read_png(label, &img, err, sizeof err) == WW_OK, "%s", err)) {
        int max = 0;
        for (size_t i = 0; img.depth == 8 && i < (size_t)img.width * (size_t)img.height; i++)
            max = ((uint8_t *)img.data)[i] > max ? ((uint8_t *)img.data)[i] : max;
        TEST_CHECK(img.depth == 8 && img.channels == 1 && img.width == 480 &&
                       img.height == 360 && max <= 11,
                   "%s: %dx%d, %d-bit, %d channel(s), max id %d", label, img.width, img.height,
                   img.depth, img.channels, max);
        ww_img_free(&img);
    }
}

/* ---- Corrupt and missing files --------------------------------------------------------------- */

static void test_corrupt_png(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    enum { W = 40, H = 30 };
    uint8_t *px = smooth_picture(W, H, 3);
    ww_img img = {.width = W, .height = H, .channels = 3, .depth = 8, .data = px}, got;
    const char *path = test_tmp_path("good.png");
    size_t n;
    uint8_t *bytes;
    if (!TEST_CHECK(ww_img_write_png(path, &img, err, sizeof err) == WW_OK, "%s", err) ||
        !(bytes = test_read_bytes(path, &n)))
        return;
    const char *cut = test_tmp_path("truncated.png");
    for (size_t keep = 8; keep < n; keep += (n - 8) / 5) {
        if (test_write_bytes(cut, bytes, keep)) {
            EXPECT_ERROR(ww_img_read_png(cut, &got, err, sizeof err), WW_ERR_INVALID, err, cut,
                         "truncated");
            EXPECT_ERROR(ww_img_read_rgb8(cut, &got, err, sizeof err), WW_ERR_INVALID, err, cut,
                         "truncated");
        }
    }
    /* The last byte of IEND's CRC gone. */
    if (test_write_bytes(cut, bytes, n - 1))
        EXPECT_ERROR(ww_img_read_rgb8(cut, &got, err, sizeof err), WW_ERR_INVALID, err, cut,
                     "truncated");
    /* A flipped bit in the image data: IDAT's CRC catches it. */
    const char *flip = test_tmp_path("crc.png");
    bytes[n / 2] ^= 0x10;
    if (test_write_bytes(flip, bytes, n))
        TEST_CHECK(ww_img_read_rgb8(flip, &got, err, sizeof err) == WW_ERR_INVALID &&
                       strstr(err, flip),
                   "corrupt IDAT: %s", err);
    /* A forged IHDR beyond the size limit is refused before any pixel buffer exists. */
    const char *huge = test_tmp_path("huge.png");
    ww_img big = {.width = 4, .height = 4, .channels = 1, .depth = 8, .data = px};
    uint8_t *b2;
    size_t n2;
    if (TEST_CHECK(ww_img_write_png(huge, &big, err, sizeof err) == WW_OK, "%s", err) &&
        (b2 = test_read_bytes(huge, &n2))) {
        /* IHDR data starts at byte 16: width, height big-endian; fix its CRC too. */
        const uint8_t side[4] = {0x00, 0x01, 0x00, 0x00}; /* 65536 */
        memcpy(b2 + 16, side, 4);
        memcpy(b2 + 20, side, 4);
        uint32_t crc = (uint32_t)crc32(0, b2 + 12, 17);
        for (int k = 0; k < 4; k++)
            b2[29 + k] = (uint8_t)(crc >> (24 - 8 * k));
        if (test_write_bytes(huge, b2, n2))
            TEST_CHECK(ww_img_read_png(huge, &got, err, sizeof err) != WW_OK && strstr(err, huge),
                       "65536x65536 PNG header: %s", err);
    }
}

static void test_corrupt_flo(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    ww_flow g;
    const char *path = test_tmp_path("bad.flo");
    uint8_t buf[12 + 2 * 3 * 8 + 8];
    memset(buf, 0, sizeof buf);
    memcpy(buf, "PIEH", 4);
    int32_t wh[2] = {2, 3};
    memcpy(buf + 4, wh, 8);
    /* Correct size for 2x3: reads. */
    if (test_write_bytes(path, buf, 12 + 48) &&
        TEST_CHECK(ww_flo_read(path, &g, err, sizeof err) == WW_OK, "%s", err))
        ww_flow_free(&g);
    memcpy(buf, "PIEX", 4);
    if (test_write_bytes(path, buf, 12 + 48))
        EXPECT_ERROR(ww_flo_read(path, &g, err, sizeof err), WW_ERR_INVALID, err, path, "magic");
    memcpy(buf, "PIEH", 4);
    if (test_write_bytes(path, buf, 12 + 40)) /* short by one pixel */
        EXPECT_ERROR(ww_flo_read(path, &g, err, sizeof err), WW_ERR_INVALID, err, path,
                     "needs 60 bytes");
    if (test_write_bytes(path, buf, 12 + 56)) /* one pixel too many */
        EXPECT_ERROR(ww_flo_read(path, &g, err, sizeof err), WW_ERR_INVALID, err, path,
                     "the file has 68");
    if (test_write_bytes(path, buf, 7))
        EXPECT_ERROR(ww_flo_read(path, &g, err, sizeof err), WW_ERR_INVALID, err, path,
                     "too short");
    /* Huge or negative sizes: refused from the header, no allocation of what it claims (an
     * attempt of 2^31 x 2^31 x 8 bytes would also fail under ASan's allocator). */
    static const int32_t sizes[][2] = {
        {INT32_MAX, INT32_MAX}, {65536, 65536}, {-2, 3}, {0, 5}, {30000, 30000}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        memcpy(buf + 4, sizes[i], 8);
        if (test_write_bytes(path, buf, 12 + 48))
            EXPECT_ERROR(ww_flo_read(path, &g, err, sizeof err), WW_ERR_INVALID, err, path,
                         "header says");
    }
    TEST_CHECK(g.uv == NULL && g.valid == NULL, "a failed read left arrays behind");
}

static void test_missing_and_odd_files(const char *arg)
{
    (void)arg;
    char err[ERRLEN];
    ww_img img;
    ww_flow f;
    float *data;
    int w, h, c;
    const char *missing = test_tmp_path("no-such-file.png");
    EXPECT_ERROR(ww_img_read_rgb8(missing, &img, err, sizeof err), WW_ERR_IO, err, missing,
                 "no such file");
    EXPECT_ERROR(ww_img_read_png(missing, &img, err, sizeof err), WW_ERR_IO, err, missing,
                 "no such file");
    EXPECT_ERROR(ww_flo_read(missing, &f, err, sizeof err), WW_ERR_IO, err, missing,
                 "no such file");
    EXPECT_ERROR(ww_kitti_flow_read(missing, &f, err, sizeof err), WW_ERR_IO, err, missing,
                 "no such file");
    EXPECT_ERROR(ww_pfm_read(missing, &data, &w, &h, &c, err, sizeof err), WW_ERR_IO, err,
                 missing, "no such file");
    if (ww_flo5_supported())
        EXPECT_ERROR(ww_flo5_read(missing, &f, err, sizeof err), WW_ERR_IO, err, missing,
                     "no such file");
    EXPECT_ERROR(ww_img_read_rgb8(test_tmp_dir(), &img, err, sizeof err), WW_ERR_IO, err, test_tmp_dir(),
                 "directory");
    const char *empty = test_tmp_path("empty.png");
    if (test_write_bytes(empty, "", 0))
        EXPECT_ERROR(ww_img_read_rgb8(empty, &img, err, sizeof err), WW_ERR_INVALID, err, empty,
                     "empty");
    const char *text = test_tmp_path("text.png");
    if (test_write_bytes(text, "hello, world\n", 13))
        EXPECT_ERROR(ww_img_read_rgb8(text, &img, err, sizeof err), WW_ERR_UNSUPPORTED, err,
                     text, "not a PNG, JPEG or PPM");
    const char *gif = test_tmp_path("image.gif");
    if (test_write_bytes(gif, "GIF89a\1\0\1\0\0\0\0;", 14))
        EXPECT_ERROR(ww_img_read_rgb8(gif, &img, err, sizeof err), WW_ERR_UNSUPPORTED, err, gif,
                     "not a PNG, JPEG or PPM");
    /* Writers: a missing directory is an I/O error and leaves nothing behind. */
    const char *nodir = test_tmp_path("no-dir/out.png");
    uint8_t px[3] = {1, 2, 3};
    img = (ww_img){.width = 1, .height = 1, .channels = 3, .depth = 8, .data = px};
    EXPECT_ERROR(ww_img_write_png(nodir, &img, err, sizeof err), WW_ERR_IO, err, nodir,
                 "cannot create");
    float uv[2] = {1, 2};
    f = (ww_flow){.width = 1, .height = 1, .uv = uv};
    EXPECT_ERROR(ww_flo_write(nodir, &f, err, sizeof err), WW_ERR_IO, err, nodir,
                 "cannot create");
    EXPECT_ERROR(ww_kitti_flow_write(nodir, &f, err, sizeof err), WW_ERR_IO, err, nodir,
                 "cannot create");
    EXPECT_ERROR(ww_pfm_write(nodir, uv, 1, 1, 1, err, sizeof err), WW_ERR_IO, err, nodir,
                 "cannot create");
    /* Bad arguments. */
    const char *out = test_tmp_path("bad-args.png");
    img.channels = 5;
    EXPECT_ERROR(ww_img_write_png(out, &img, err, sizeof err), WW_ERR_INVALID, err, out,
                 "channels");
    img = (ww_img){.width = 1, .height = 1, .channels = 1, .depth = 12, .data = px};
    EXPECT_ERROR(ww_img_write_png(out, &img, err, sizeof err), WW_ERR_INVALID, err, out, "bits");
    EXPECT_ERROR(ww_pfm_write(out, uv, 1, 1, 2, err, sizeof err), WW_ERR_INVALID, err, out,
                 "channels");
    TEST_CHECK(!test_file_exists(out) && !test_file_exists(nodir), "a failed write left a file");
    /* /dev/full: the write fails with ENOSPC when flushed; the message says so. */
    if (test_file_exists("/dev/full")) {
        EXPECT_ERROR(ww_pfm_write("/dev/full", uv, 1, 1, 1, err, sizeof err), WW_ERR_IO, err,
                     "/dev/full", "no space");
        EXPECT_ERROR(ww_img_write_png("/dev/full", &img, err, sizeof err), WW_ERR_INVALID, err,
                     "/dev/full", "bits");
        img.depth = 8;
        EXPECT_ERROR(ww_img_write_png("/dev/full", &img, err, sizeof err), WW_ERR_IO, err,
                     "/dev/full", "no space");
    }
}


static const ww_test_case tests[] = {
    {"png_round_trip", test_png_round_trip, NULL},
    {"png_to_rgb8", test_png_to_rgb8, NULL},
    {"png_variants", test_png_variants, NULL},
    {"jpeg", test_jpeg, NULL},
    {"flo_round_trip", test_flo_round_trip, NULL},
    {"flo_unknown", test_flo_unknown, NULL},
    {"kitti_round_trip", test_kitti_round_trip, NULL},
    {"pfm", test_pfm, NULL},
    {"ppm", test_ppm, NULL},
    {"flo5", test_flo5, NULL},
    {"sintel_sample", test_sintel, NULL},
    {"kitti_samples", test_kitti_samples, NULL},
    {"corrupt_png", test_corrupt_png, NULL},
    {"corrupt_flo", test_corrupt_flo, NULL},
    {"missing_and_odd_files", test_missing_and_odd_files, NULL},
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, tests, (int)(sizeof tests / sizeof tests[0]));
}
