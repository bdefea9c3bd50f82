/* .flo, KITTI flow PNG, PFM and Spring .flo5 files (see flow_io.h). */
#include "flow_io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_io.h"

#ifdef WW_HAVE_HDF5
#include <hdf5.h>
#include <pthread.h>
#endif

/* .flo and little-endian PFM data are copied straight between the file and float arrays. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "flow_io.c assumes a little-endian host"
#endif

#define FLO_UNKNOWN 1e10f   /* what Middlebury's writer stores for an unknown component */
#define FLO_THRESHOLD 1e9f  /* what its reader takes as unknown */

/* ww_flow_alloc with name (the file being read) in its messages. */
static ww_status flow_new(ww_flow *f, int w, int h, const char *name, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (w < 1 || h < 1 || w > WW_IMG_MAX_SIDE || h > WW_IMG_MAX_SIDE ||
        (int64_t)w * h > WW_IMG_MAX_PIXELS)
        return ww_io_error(err, errlen, WW_ERR_INVALID, name, "bad flow size %dx%d", w, h);
    size_t n = (size_t)w * (size_t)h;
    f->uv = calloc(n * 2, sizeof *f->uv);
    f->valid = malloc(n);
    if (!f->uv || !f->valid) {
        ww_flow_free(f);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, name,
                           "out of memory for %dx%d pixels", w, h);
    }
    memset(f->valid, 1, n);
    f->width = w;
    f->height = h;
    return WW_OK;
}

ww_status ww_flow_alloc(ww_flow *f, int w, int h, char *err, size_t errlen)
{
    return flow_new(f, w, h, "flow", err, errlen);
}

void ww_flow_free(ww_flow *f)
{
    if (!f)
        return;
    free(f->uv);
    free(f->valid);
    memset(f, 0, sizeof *f);
}

static int flow_ok(const ww_flow *f)
{
    return f && f->uv && f->width >= 1 && f->height >= 1 && f->width <= WW_IMG_MAX_SIDE &&
           f->height <= WW_IMG_MAX_SIDE && (int64_t)f->width * f->height <= WW_IMG_MAX_PIXELS;
}

/* ---- Reading and writing whole files ------------------------------------------------------ */

static ww_status read_exact(FILE *f, void *dst, size_t n, const char *path, char *err,
                            size_t errlen)
{
    if (fread(dst, 1, n, f) == n)
        return WW_OK;
    if (ferror(f))
        return ww_io_error(err, errlen, WW_ERR_IO, path, "cannot read: %s", strerror(errno));
    /* The size was checked against the header, so only a file shrinking under us gets here. */
    return ww_io_error(err, errlen, WW_ERR_INVALID, path, "file is truncated");
}

/* Writers go through one FILE and fail as a whole: a failed write leaves no file behind. */
typedef struct writer {
    FILE *f;
    const char *path;
    int failed_errno; /* first write error, 0 if none */
} writer;

static ww_status writer_open(writer *w, const char *path, char *err, size_t errlen)
{
    w->path = path;
    w->failed_errno = 0;
    w->f = fopen(path, "wb");
    if (!w->f)
        return ww_io_error(err, errlen, WW_ERR_IO, path, "cannot create: %s", strerror(errno));
    return WW_OK;
}

static void writer_put(writer *w, const void *data, size_t n)
{
    errno = 0;
    if (!w->failed_errno && fwrite(data, 1, n, w->f) != n)
        w->failed_errno = errno ? errno : EIO;
}

static ww_status writer_close(writer *w, char *err, size_t errlen)
{
    errno = 0;
    if (fclose(w->f) != 0 && !w->failed_errno)
        w->failed_errno = errno ? errno : EIO;
    if (!w->failed_errno)
        return WW_OK;
    ww_io_discard(w->path);
    return ww_io_error(err, errlen, WW_ERR_IO, w->path, "cannot write: %s",
                       strerror(w->failed_errno));
}

/* ---- .flo ---------------------------------------------------------------------------------- */

static int flo_unknown(float u, float v)
{
    return !isfinite(u) || !isfinite(v) || fabsf(u) > FLO_THRESHOLD || fabsf(v) > FLO_THRESHOLD;
}

/* Unknown pixels of a flow as read: valid 0, u = v = 0. */
static void mark_unknown(ww_flow *f)
{
    for (size_t i = 0, n = (size_t)f->width * (size_t)f->height; i < n; i++) {
        if (flo_unknown(f->uv[2 * i], f->uv[2 * i + 1])) {
            f->uv[2 * i] = f->uv[2 * i + 1] = 0;
            f->valid[i] = 0;
        }
    }
}

ww_status ww_flo_read(const char *path, ww_flow *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f;
    uint64_t size;
    ww_status st = ww_io_open_read(path, &f, &size, err, errlen);
    if (st)
        return st;
    uint8_t hdr[12];
    if (size < sizeof hdr) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "%llu bytes: too short for a .flo header (12 bytes)",
                           (unsigned long long)size);
    }
    if ((st = read_exact(f, hdr, sizeof hdr, path, err, errlen))) {
        fclose(f);
        return st;
    }
    if (memcmp(hdr, "PIEH", 4)) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "not a .flo file (the magic is not \"PIEH\")");
    }
    int32_t w, h;
    memcpy(&w, hdr + 4, 4);
    memcpy(&h, hdr + 8, 4);
    if (w < 1 || h < 1 || w > WW_IMG_MAX_SIDE || h > WW_IMG_MAX_SIDE ||
        (int64_t)w * h > WW_IMG_MAX_PIXELS) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "header says %dx%d: not a size this reader takes (1..%d a side)",
                           (int)w, (int)h, WW_IMG_MAX_SIDE);
    }
    uint64_t want = sizeof hdr + (uint64_t)w * (uint64_t)h * 8;
    if (size != want) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "header says %dx%d, which needs %llu bytes; the file has %llu",
                           (int)w, (int)h, (unsigned long long)want, (unsigned long long)size);
    }
    if ((st = flow_new(out, w, h, path, err, errlen)) ||
        (st = read_exact(f, out->uv, (size_t)w * (size_t)h * 8, path, err, errlen))) {
        fclose(f);
        ww_flow_free(out);
        return st;
    }
    fclose(f);
    mark_unknown(out);
    return WW_OK;
}

ww_status ww_flo_write(const char *path, const ww_flow *fl, char *err, size_t errlen)
{
    if (!flow_ok(fl))
        return ww_io_error(err, errlen, WW_ERR_INVALID, path, "no flow or a bad size");
    writer w;
    ww_status st = writer_open(&w, path, err, errlen);
    if (st)
        return st;
    int32_t hdr[2] = {fl->width, fl->height};
    writer_put(&w, "PIEH", 4);
    writer_put(&w, hdr, sizeof hdr);
    size_t n = (size_t)fl->width * (size_t)fl->height;
    if (!fl->valid) {
        writer_put(&w, fl->uv, n * 2 * sizeof(float));
    } else {
        /* A row at a time: unknown pixels need their values replaced. */
        float *row = malloc((size_t)fl->width * 2 * sizeof *row);
        if (!row) {
            fclose(w.f);
            ww_io_discard(path);
            return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
        }
        for (int y = 0; y < fl->height; y++) {
            size_t at = (size_t)y * (size_t)fl->width;
            for (int x = 0; x < fl->width; x++) {
                int ok = fl->valid[at + (size_t)x];
                row[2 * x] = ok ? fl->uv[2 * (at + (size_t)x)] : FLO_UNKNOWN;
                row[2 * x + 1] = ok ? fl->uv[2 * (at + (size_t)x) + 1] : FLO_UNKNOWN;
            }
            writer_put(&w, row, (size_t)fl->width * 2 * sizeof *row);
        }
        free(row);
    }
    return writer_close(&w, err, errlen);
}

/* ---- KITTI flow PNG -------------------------------------------------------------------------- */

ww_status ww_kitti_flow_read(const char *path, ww_flow *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    ww_img img;
    ww_status st = ww_img_read_png(path, &img, err, errlen);
    if (st)
        return st;
    if (img.channels != 3 || img.depth != 16) {
        st = ww_io_error(err, errlen, WW_ERR_INVALID, path,
                         "not a KITTI flow PNG: %d-bit with %d channel(s), need 16-bit RGB",
                         img.depth, img.channels);
        ww_img_free(&img);
        return st;
    }
    if ((st = flow_new(out, img.width, img.height, path, err, errlen))) {
        ww_img_free(&img);
        return st;
    }
    const uint16_t *p = img.data;
    for (size_t i = 0, n = (size_t)img.width * (size_t)img.height; i < n; i++) {
        out->valid[i] = p[3 * i + 2] != 0;
        if (out->valid[i]) {
            out->uv[2 * i] = ((float)p[3 * i] - 32768.0f) / 64.0f;
            out->uv[2 * i + 1] = ((float)p[3 * i + 1] - 32768.0f) / 64.0f;
        }
    }
    ww_img_free(&img);
    return WW_OK;
}

static uint16_t kitti_encode(float c)
{
    float v = roundf(c * 64.0f + 32768.0f);
    return (uint16_t)(v < 0.0f ? 0.0f : v > 65535.0f ? 65535.0f : v);
}

ww_status ww_kitti_flow_write(const char *path, const ww_flow *fl, char *err, size_t errlen)
{
    if (!flow_ok(fl))
        return ww_io_error(err, errlen, WW_ERR_INVALID, path, "no flow or a bad size");
    size_t n = (size_t)fl->width * (size_t)fl->height;
    ww_img img = {.width = fl->width, .height = fl->height, .channels = 3, .depth = 16};
    uint16_t *p = calloc(n * 3, sizeof *p);
    if (!p)
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        float u = fl->uv[2 * i], v = fl->uv[2 * i + 1];
        if ((fl->valid && !fl->valid[i]) || !isfinite(u) || !isfinite(v))
            continue; /* 0, 0, 0: no flow here */
        p[3 * i] = kitti_encode(u);
        p[3 * i + 1] = kitti_encode(v);
        p[3 * i + 2] = 1;
    }
    img.data = p;
    ww_status st = ww_img_write_png(path, &img, err, errlen);
    free(p);
    return st;
}

/* ---- Spring .flo5 (HDF5) --------------------------------------------------------------------- */

#ifdef WW_HAVE_HDF5

int ww_flo5_supported(void)
{
    return 1;
}

/* HDF5 keeps global state, which only a build with its thread-safety option guards: readers take
 * turns. */
static pthread_mutex_t hdf5_lock = PTHREAD_MUTEX_INITIALIZER;

enum { HDF5_REASON_LEN = 256 };

/* The innermost entry of HDF5's error stack: the reason ("file signature not found", "truncated
 * file: ..."), not the chain of functions that passed it up. */
static herr_t first_reason(unsigned n, const H5E_error2_t *e, void *reason)
{
    if (n == 0)
        snprintf(reason, HDF5_REASON_LEN, "%s", e->desc ? e->desc : "no description");
    return 0;
}

static ww_status hdf5_error(char *err, size_t errlen, const char *path, const char *what)
{
    char reason[HDF5_REASON_LEN] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_reason, reason);
    return ww_io_error(err, errlen, WW_ERR_INVALID, path, "%s (HDF5: %s)", what,
                       reason[0] ? reason : "no reason given");
}

static ww_status flo5_read_locked(const char *path, ww_flow *out, char *err, size_t errlen)
{
    /* Errors come back as statuses; HDF5 printing its error stack would only be noise. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return hdf5_error(err, errlen, path, "not a readable HDF5 file");
    hid_t set = -1, space = -1, type = -1;
    hsize_t dims[3] = {0, 0, 0};
    ww_status st = WW_OK;
    if (H5Lexists(file, "flow", H5P_DEFAULT) <= 0 ||
        (set = H5Dopen2(file, "flow", H5P_DEFAULT)) < 0)
        st = ww_io_error(err, errlen, WW_ERR_INVALID, path,
                         "no dataset \"flow\": not a Spring .flo5 file");
    else if ((space = H5Dget_space(set)) < 0 || (type = H5Dget_type(set)) < 0)
        st = hdf5_error(err, errlen, path, "cannot read the shape of dataset \"flow\"");
    else if (H5Tget_class(type) != H5T_FLOAT || H5Sget_simple_extent_ndims(space) != 3 ||
             H5Sget_simple_extent_dims(space, dims, NULL) != 3 || dims[2] != 2)
        st = ww_io_error(err, errlen, WW_ERR_INVALID, path,
                         "dataset \"flow\" is not H x W x 2 floats");
    else if (dims[0] < 1 || dims[1] < 1 || dims[0] > WW_IMG_MAX_SIDE ||
             dims[1] > WW_IMG_MAX_SIDE || dims[0] * dims[1] > (hsize_t)WW_IMG_MAX_PIXELS)
        st = ww_io_error(err, errlen, WW_ERR_INVALID, path,
                         "dataset \"flow\" is %llux%llu: not a size this reader takes (1..%d a "
                         "side)",
                         (unsigned long long)dims[1], (unsigned long long)dims[0],
                         WW_IMG_MAX_SIDE);
    else if ((st = flow_new(out, (int)dims[1], (int)dims[0], path, err, errlen)) == WW_OK &&
             H5Dread(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->uv) < 0) {
        st = hdf5_error(err, errlen, path, "cannot read dataset \"flow\"");
        ww_flow_free(out);
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (set >= 0)
        H5Dclose(set);
    H5Fclose(file);
    return st;
}

/* ww_io_open_read's checks alone, for a reader that opens path its own way: what the other
 * readers refuse as an I/O error (a missing file, a directory) is one here too. */
static ww_status check_readable(const char *path, char *err, size_t errlen)
{
    FILE *f;
    uint64_t size;
    ww_status st = ww_io_open_read(path, &f, &size, err, errlen);
    if (st == WW_OK)
        fclose(f);
    return st;
}

ww_status ww_flo5_read(const char *path, ww_flow *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    ww_status st = check_readable(path, err, errlen);
    if (st)
        return st;
    pthread_mutex_lock(&hdf5_lock);
    st = flo5_read_locked(path, out, err, errlen);
    pthread_mutex_unlock(&hdf5_lock);
    if (st == WW_OK)
        mark_unknown(out);
    return st;
}

#else

int ww_flo5_supported(void)
{
    return 0;
}

ww_status ww_flo5_read(const char *path, ww_flow *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return ww_io_error(err, errlen, WW_ERR_UNSUPPORTED, path, WW_FLO5_NO_HDF5);
}

#endif

/* ---- PFM ------------------------------------------------------------------------------------ */

/* One whitespace-separated header token into buf (NUL-terminated); the single whitespace
 * character that ends it is consumed, so after the scale the data starts. 0 at end of file or
 * for a token longer than buf. */
static int pfm_token(FILE *f, char *buf, size_t n)
{
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        ;
    size_t len = 0;
    for (; c != EOF && c != ' ' && c != '\t' && c != '\n' && c != '\r'; c = fgetc(f)) {
        if (len + 1 >= n)
            return 0;
        buf[len++] = (char)c;
    }
    buf[len] = 0;
    return c != EOF && len > 0;
}

static int parse_side(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > WW_IMG_MAX_SIDE)
        return 0;
    *out = (int)v;
    return 1;
}

ww_status ww_pfm_read(const char *path, float **data, int *width, int *height, int *channels,
                      char *err, size_t errlen)
{
    *data = NULL;
    FILE *f;
    uint64_t size;
    ww_status st = ww_io_open_read(path, &f, &size, err, errlen);
    if (st)
        return st;
    char magic[8], ws[16], hs[16], ss[64];
    if (!pfm_token(f, magic, sizeof magic) || (strcmp(magic, "Pf") && strcmp(magic, "PF"))) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "not a PFM file (the magic is not \"Pf\" or \"PF\")");
    }
    int w, h, c = magic[1] == 'F' ? 3 : 1;
    if (!pfm_token(f, ws, sizeof ws) || !pfm_token(f, hs, sizeof hs) ||
        !pfm_token(f, ss, sizeof ss) || !parse_side(ws, &w) || !parse_side(hs, &h) ||
        (int64_t)w * h > WW_IMG_MAX_PIXELS) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "bad PFM header: need width and height in 1..%d and a scale",
                           WW_IMG_MAX_SIDE);
    }
    char *end;
    double scale = strtod(ss, &end);
    if (*end || !isfinite(scale) || scale == 0) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "bad PFM scale '%s': need a non-zero number", ss);
    }
    long header = ftell(f);
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    uint64_t want = (uint64_t)header + n * 4;
    if (header < 0 || size != want) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "header says %dx%d with %d channel(s), which needs %llu bytes; the "
                           "file has %llu",
                           w, h, c, (unsigned long long)want, (unsigned long long)size);
    }
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fclose(f);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
    }
    size_t row = (size_t)w * (size_t)c;
    for (int y = h - 1; y >= 0; y--) { /* the file starts with the bottom row */
        if ((st = read_exact(f, p + (size_t)y * row, row * sizeof *p, path, err, errlen))) {
            fclose(f);
            free(p);
            return st;
        }
    }
    fclose(f);
    if (scale > 0) { /* big-endian data */
        uint32_t *u = (uint32_t *)p;
        for (size_t i = 0; i < n; i++)
            u[i] = __builtin_bswap32(u[i]);
    }
    *data = p;
    *width = w;
    *height = h;
    *channels = c;
    return WW_OK;
}

ww_status ww_pfm_write(const char *path, const float *data, int width, int height, int channels,
                       char *err, size_t errlen)
{
    if (!data || (channels != 1 && channels != 3) || width < 1 || height < 1 ||
        width > WW_IMG_MAX_SIDE || height > WW_IMG_MAX_SIDE ||
        (int64_t)width * height > WW_IMG_MAX_PIXELS)
        return ww_io_error(err, errlen, WW_ERR_INVALID, path,
                           "cannot write this map: need 1 or 3 channels and 1..%d pixels a side",
                           WW_IMG_MAX_SIDE);
    writer w;
    ww_status st = writer_open(&w, path, err, errlen);
    if (st)
        return st;
    char hdr[64];
    int n = snprintf(hdr, sizeof hdr, "%s\n%d %d\n-1\n", channels == 3 ? "PF" : "Pf", width,
                     height);
    writer_put(&w, hdr, (size_t)n);
    size_t row = (size_t)width * (size_t)channels;
    for (int y = height - 1; y >= 0; y--)
        writer_put(&w, data + (size_t)y * row, row * sizeof *data);
    return writer_close(&w, err, errlen);
}
