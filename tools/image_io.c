/* PNG and JPEG files through libpng and libjpeg, with every library error turned into a status
 * and a message that names the file (see image_io.h). Both libraries report errors by calling a
 * function that must not return; ours longjmp back to the reader, which frees what it holds.
 * Binary PPM, a header and raw bytes, needs no library. */
#include "image_io.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h> /* the message codes: JWRN_JPEG_EOF, ... */
#include <png.h>

ww_status ww_io_error(char *err, size_t errlen, ww_status status, const char *path,
                      const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "%s: ", path ? path : "(null)");
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return status;
}

ww_status ww_io_open_read(const char *path, FILE **out, uint64_t *size, char *err,
                          size_t errlen)
{
    *out = NULL;
    if (!path)
        return ww_io_error(err, errlen, WW_ERR_INVALID, path, "path is NULL");
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (fstat then refuses it). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return ww_io_error(err, errlen, WW_ERR_IO, path, "cannot open: %s",
                           strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ww_io_error(err, errlen, WW_ERR_IO, path, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ww_io_error(err, errlen, WW_ERR_IO, path, "%s",
                           S_ISDIR(sb.st_mode) ? "is a directory, not a file"
                                               : "is not a regular file");
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return ww_io_error(err, errlen, e == ENOMEM ? WW_ERR_OUT_OF_MEMORY : WW_ERR_IO, path,
                           "cannot open: %s", strerror(e));
    }
    *out = f;
    *size = (uint64_t)sb.st_size;
    return WW_OK;
}

void ww_io_discard(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        unlink(path);
}

void ww_img_free(ww_img *img)
{
    if (!img)
        return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

/* The size check of every reader: sides and pixel count within the limits of image_io.h. */
static int size_ok(int64_t w, int64_t h)
{
    return w >= 1 && h >= 1 && w <= WW_IMG_MAX_SIDE && h <= WW_IMG_MAX_SIDE &&
           w * h <= WW_IMG_MAX_PIXELS;
}

static size_t img_bytes(const ww_img *img)
{
    return (size_t)img->width * (size_t)img->height * (size_t)img->channels *
           (size_t)(img->depth / 8);
}

/* ---- PNG --------------------------------------------------------------------------------- */

typedef struct png_ctx {
    jmp_buf jb;
    FILE *f;
    ww_status status; /* what the error that jumped back means */
    char msg[256];
} png_ctx;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    /* Our own read and write callbacks set the message before calling png_error. */
    if (!c->msg[0])
        snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Fail on the error the abort would have hidden: libpng's default reader says only
 * "Read Error" both for a short file and for an I/O error. */
static void png_read_cb(png_structp png, png_bytep data, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (fread(data, 1, n, c->f) != n) {
        if (ferror(c->f)) {
            c->status = WW_ERR_IO;
            snprintf(c->msg, sizeof c->msg, "cannot read: %s", strerror(errno));
        } else {
            snprintf(c->msg, sizeof c->msg, "file is truncated");
        }
        png_error(png, c->msg);
    }
}

static void png_write_cb(png_structp png, png_bytep data, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (fwrite(data, 1, n, c->f) != n) {
        c->status = WW_ERR_IO;
        snprintf(c->msg, sizeof c->msg, "cannot write: %s", strerror(errno));
        png_error(png, c->msg);
    }
}

static void png_flush_cb(png_structp png)
{
    (void)png; /* fclose flushes, and its failure is checked there */
}

/* Read the rest of a PNG whose 8 signature bytes have been consumed from f. */
static ww_status png_read_file(FILE *f, const char *path, ww_img *out, char *err, size_t errlen)
{
    png_ctx ctx = {.f = f, .status = WW_ERR_INVALID};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                             on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
    }
    /* Changed after setjmp and used after the jump: volatile, so their values survive it. */
    void *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(ctx.jb)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return ww_io_error(err, errlen, ctx.status, path, "%s", ctx.msg);
    }
    png_set_read_fn(png, &ctx, png_read_cb);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, WW_IMG_MAX_SIDE, WW_IMG_MAX_SIDE);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (!size_ok(w, h)) {
        ctx.status = WW_ERR_UNSUPPORTED;
        snprintf(ctx.msg, sizeof ctx.msg, "%ux%u pixels: more than the limit of %lld",
                 (unsigned)w, (unsigned)h, (long long)WW_IMG_MAX_PIXELS);
        png_error(png, ctx.msg);
    }
    int color = png_get_color_type(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png); /* tRNS becomes alpha */
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    ww_img img = {.width = (int)w,
                  .height = (int)h,
                  .channels = png_get_channels(png, info),
                  .depth = png_get_bit_depth(png, info)};
    size_t row_bytes = (size_t)img.width * (size_t)img.channels * (size_t)(img.depth / 8);
    if (png_get_rowbytes(png, info) != row_bytes) {
        snprintf(ctx.msg, sizeof ctx.msg, "unexpected row size after expansion");
        png_error(png, ctx.msg);
    }
    pixels = malloc(img_bytes(&img));
    rows = malloc((size_t)img.height * sizeof *rows);
    if (!pixels || !rows) {
        ctx.status = WW_ERR_OUT_OF_MEMORY;
        snprintf(ctx.msg, sizeof ctx.msg, "out of memory for %dx%d pixels", img.width,
                 img.height);
        png_error(png, ctx.msg);
    }
    for (int y = 0; y < img.height; y++)
        rows[y] = (png_bytep)pixels + (size_t)y * row_bytes;
    png_read_image(png, rows);
    /* Reading up to IEND makes a file cut after its pixel data count as truncated too. */
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    img.data = pixels;
    if (img.depth == 16) { /* PNG stores 16-bit samples big-endian */
        uint8_t *b = img.data;
        uint16_t *s = img.data;
        for (size_t i = 0, n = img_bytes(&img) / 2; i < n; i++)
            s[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
    }
    *out = img;
    return WW_OK;
}

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* Open path and read its first 8 bytes into sig; *nsig is how many there were, *size the file's
 * size. */
static ww_status open_with_signature(const char *path, FILE **f, uint8_t sig[8], size_t *nsig,
                                     uint64_t *size, char *err, size_t errlen)
{
    ww_status st = ww_io_open_read(path, f, size, err, errlen);
    if (st)
        return st;
    *nsig = fread(sig, 1, 8, *f);
    if (ferror(*f)) {
        int e = errno;
        fclose(*f);
        *f = NULL;
        return ww_io_error(err, errlen, WW_ERR_IO, path, "cannot read: %s", strerror(e));
    }
    if (*nsig == 0) {
        fclose(*f);
        *f = NULL;
        return ww_io_error(err, errlen, WW_ERR_INVALID, path, "empty file, not an image");
    }
    return WW_OK;
}

ww_status ww_img_read_png(const char *path, ww_img *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f;
    uint8_t sig[8];
    size_t nsig;
    uint64_t size;
    ww_status st = open_with_signature(path, &f, sig, &nsig, &size, err, errlen);
    if (st)
        return st;
    if (nsig < 8 || memcmp(sig, png_signature, 8)) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path, "not a PNG image");
    }
    st = png_read_file(f, path, out, err, errlen);
    fclose(f);
    return st;
}

ww_status ww_img_write_png(const char *path, const ww_img *img, char *err, size_t errlen)
{
    if (!img || !img->data || img->channels < 1 || img->channels > 4 ||
        (img->depth != 8 && img->depth != 16) || !size_ok(img->width, img->height))
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "cannot write this image: need 1..4 channels of 8 or 16 bits and at "
                           "most %d pixels a side",
                           WW_IMG_MAX_SIDE);
    static const int color_type[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                      PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    size_t row_samples = (size_t)img->width * (size_t)img->channels;
    /* 16-bit rows go out big-endian through this buffer, allocated before the setjmp so that
     * the jump needs no volatile. */
    uint8_t *be_row = img->depth == 16 ? malloc(row_samples * 2) : NULL;
    if (img->depth == 16 && !be_row)
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        free(be_row);
        return ww_io_error(err, errlen, WW_ERR_IO, path, "cannot create: %s", strerror(e));
    }
    png_ctx ctx = {.f = f, .status = WW_ERR_INVALID};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                              on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        ww_io_discard(path);
        free(be_row);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
    }
    if (setjmp(ctx.jb)) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        ww_io_discard(path);
        free(be_row);
        return ww_io_error(err, errlen, ctx.status, path, "%s", ctx.msg);
    }
    png_set_write_fn(png, &ctx, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, img->depth,
                 color_type[img->channels - 1], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->height; y++) {
        if (img->depth == 8) {
            png_write_row(png, (png_const_bytep)img->data + (size_t)y * row_samples);
        } else {
            const uint16_t *s = (const uint16_t *)img->data + (size_t)y * row_samples;
            for (size_t i = 0; i < row_samples; i++) {
                be_row[2 * i] = (uint8_t)(s[i] >> 8);
                be_row[2 * i + 1] = (uint8_t)s[i];
            }
            png_write_row(png, be_row);
        }
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(be_row);
    if (fclose(f) != 0) {
        int e = errno;
        ww_io_discard(path);
        return ww_io_error(err, errlen, WW_ERR_IO, path, "cannot write: %s", strerror(e));
    }
    return WW_OK;
}

/* ---- JPEG -------------------------------------------------------------------------------- */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr mgr; /* first: libjpeg hands our callbacks a pointer to it */
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void on_jpeg_error(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, c->msg);
    longjmp(c->jb, 1);
}

/* libjpeg only warns at the end of the data and decodes the rest as gray; a cut file must fail
 * instead. Other warnings (stray bytes before a marker, common in camera files) are dropped. */
static void on_jpeg_message(j_common_ptr cinfo, int level)
{
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        cinfo->err->error_exit(cinfo);
}

/* Decode the JPEG in f (at its start) to packed RGB. */
static ww_status jpeg_read_file(FILE *f, const char *path, ww_img *out, char *err,
                                size_t errlen)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx ctx;
    cinfo.err = jpeg_std_error(&ctx.mgr);
    ctx.mgr.error_exit = on_jpeg_error;
    ctx.mgr.emit_message = on_jpeg_message;
    ctx.msg[0] = 0;
    uint8_t *volatile pixels = NULL; /* changed after setjmp, used after the jump */
    ww_status status = WW_ERR_INVALID;
    if (setjmp(ctx.jb)) {
        int code = ctx.mgr.msg_code;
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        if (code == JERR_OUT_OF_MEMORY)
            status = WW_ERR_OUT_OF_MEMORY;
        else if (code == JERR_CONVERSION_NOTIMPL || code == JERR_BAD_PRECISION)
            status = WW_ERR_UNSUPPORTED;
        if (code == JWRN_JPEG_EOF)
            return ww_io_error(err, errlen, status, path, "file is truncated");
        return ww_io_error(err, errlen, status, path, "%s", ctx.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    if (!size_ok(cinfo.image_width, cinfo.image_height)) {
        jpeg_destroy_decompress(&cinfo);
        return ww_io_error(err, errlen, WW_ERR_UNSUPPORTED, path,
                           "%ux%u pixels: more than the limit of %lld",
                           (unsigned)cinfo.image_width, (unsigned)cinfo.image_height,
                           (long long)WW_IMG_MAX_PIXELS);
    }
    cinfo.out_color_space = JCS_RGB; /* gray and YCbCr convert; CMYK is refused */
    jpeg_start_decompress(&cinfo);
    ww_img img = {.width = (int)cinfo.output_width,
                  .height = (int)cinfo.output_height,
                  .channels = 3,
                  .depth = 8};
    pixels = malloc(img_bytes(&img));
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path,
                           "out of memory for %dx%d pixels", img.width, img.height);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * (size_t)img.width * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    img.data = pixels;
    *out = img;
    return WW_OK;
}

/* ---- PPM --------------------------------------------------------------------------------- */

static int ppm_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The next number of a PPM header, after whitespace and '#' comments (to the end of the line);
 * the whitespace character that must end it is consumed, so after the maxval the pixels start. 0
 * when the header is malformed there. */
static int ppm_number(FILE *f, long *out)
{
    int c = fgetc(f);
    while (c == '#' || ppm_space(c)) {
        if (c == '#')
            while ((c = fgetc(f)) != EOF && c != '\n' && c != '\r')
                ;
        c = fgetc(f);
    }
    long v = 0;
    int digits = 0;
    for (; c >= '0' && c <= '9'; c = fgetc(f), digits++) {
        if (v > 10000000)
            return 0;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return digits > 0 && ppm_space(c);
}

/* Read a binary PPM ("P6", width, height, maxval 255, then RGB bytes row by row) from the start
 * of f, whose size is size: the file must hold exactly what its header says. */
static ww_status ppm_read_file(FILE *f, const char *path, uint64_t size, ww_img *out, char *err,
                               size_t errlen)
{
    long w, h, maxval;
    rewind(f);
    if (fgetc(f) != 'P' || fgetc(f) != '6' || !ppm_number(f, &w) || !ppm_number(f, &h) ||
        !ppm_number(f, &maxval))
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "bad PPM header: want P6, width, height and maxval");
    if (w < 1 || h < 1 || maxval < 1 || maxval > 65535)
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "bad PPM header: %ldx%ld pixels, maxval %ld", w, h, maxval);
    if (!size_ok(w, h))
        return ww_io_error(err, errlen, WW_ERR_UNSUPPORTED, path,
                           "%ldx%ld pixels: more than the limit of %lld", w, h,
                           (long long)WW_IMG_MAX_PIXELS);
    if (maxval != 255)
        return ww_io_error(err, errlen, WW_ERR_UNSUPPORTED, path,
                           "PPM maxval %ld: only 8-bit PPM (maxval 255) is supported", maxval);
    long header = ftell(f);
    ww_img img = {.width = (int)w, .height = (int)h, .channels = 3, .depth = 8};
    uint64_t want = (uint64_t)header + img_bytes(&img);
    if (header < 0 || size != want)
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "%s: the header says %ldx%ld, which needs %llu bytes; the file has "
                           "%llu",
                           size < want ? "file is truncated" : "bytes after the image", w, h,
                           (unsigned long long)want, (unsigned long long)size);
    img.data = malloc(img_bytes(&img));
    if (!img.data)
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path,
                           "out of memory for %dx%d pixels", img.width, img.height);
    if (fread(img.data, 1, img_bytes(&img), f) != img_bytes(&img)) {
        int e = errno;
        ww_img_free(&img);
        return ferror(f) ? ww_io_error(err, errlen, WW_ERR_IO, path, "cannot read: %s",
                                       strerror(e))
                         : ww_io_error(err, errlen, WW_ERR_INVALID, path, "file is truncated");
    }
    *out = img;
    return WW_OK;
}

/* ---- Any image to RGB8 ------------------------------------------------------------------- */

/* Convert a PNG as read (1..4 channels, 8 or 16 bits) to packed 8-bit RGB in place of *img. */
static ww_status to_rgb8(ww_img *img, const char *path, char *err, size_t errlen)
{
    size_t n = (size_t)img->width * (size_t)img->height;
    uint8_t *rgb = malloc(n * 3);
    if (!rgb)
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path,
                           "out of memory for %dx%d pixels", img->width, img->height);
    const uint8_t *s8 = img->data;
    const uint16_t *s16 = img->data;
    int c = img->channels, gray = c <= 2;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) {
            size_t at = i * (size_t)c + (size_t)(gray ? 0 : k);
            /* 16 -> 8 bits rounded: 65535 maps to 255 exactly. */
            rgb[3 * i + (size_t)k] =
                img->depth == 8 ? s8[at] : (uint8_t)((s16[at] * 255u + 32767u) / 65535u);
        }
    }
    free(img->data);
    img->data = rgb;
    img->channels = 3;
    img->depth = 8;
    return WW_OK;
}

ww_status ww_img_read_rgb8(const char *path, ww_img *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f;
    uint8_t sig[8];
    size_t nsig;
    uint64_t size;
    ww_status st = open_with_signature(path, &f, sig, &nsig, &size, err, errlen);
    if (st)
        return st;
    if (nsig == 8 && !memcmp(sig, png_signature, 8)) {
        st = png_read_file(f, path, out, err, errlen);
        if (!st && (out->channels != 3 || out->depth != 8) &&
            (st = to_rgb8(out, path, err, errlen)))
            ww_img_free(out);
    } else if (nsig >= 3 && sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff) {
        rewind(f);
        st = jpeg_read_file(f, path, out, err, errlen);
    } else if (nsig >= 3 && sig[0] == 'P' && sig[1] == '6' && ppm_space(sig[2])) {
        st = ppm_read_file(f, path, size, out, err, errlen);
    } else {
        st = ww_io_error(err, errlen, WW_ERR_UNSUPPORTED, path, "not a PNG, JPEG or PPM image");
    }
    fclose(f);
    return st;
}
