/* Image files for winwin's tools: PNG (libpng), JPEG (libjpeg) and binary PPM in, PNG out.
 *
 * Used by winwin-infer (its inputs and outputs) and the trainer's dataset readers (frames,
 * FlyingChairs' PPM frames, KITTI disparity, label maps), so the PNG reader keeps what the file
 * holds (16-bit samples, gray, alpha) and a second reader converts any supported image to packed
 * 8-bit RGB, the layout the engine's WW_FMT_RGB expects.
 *
 * Errors: every call that can fail returns a ww_status and, when err is not NULL, writes a
 * message of at most errlen bytes (NUL-terminated) that starts with the file's path and says what
 * is wrong ("frame.png: file is truncated", "x.txt: not a PNG, JPEG or PPM image"). Statuses:
 * WW_ERR_IO when the file cannot be opened, read or written (missing, a directory, disk full);
 * WW_ERR_INVALID when its content is malformed (truncated, bad checksum) or an argument is wrong;
 * WW_ERR_UNSUPPORTED for a valid file of a kind these readers do not take (another image format,
 * 12-bit or CMYK JPEG, an image over the size limit); WW_ERR_OUT_OF_MEMORY. The libraries'
 * warnings are dropped: nothing prints and nothing aborts.
 *
 * Threads: no shared state; calls on different files may run at once.
 */
#ifndef WW_IMAGE_IO_H
#define WW_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ww.h"

/* Largest image read or written: each side, and width * height. The pixel limit keeps the
 * buffer of a forged header (or a real but absurd image) to at most 2 GiB of 16-bit RGBA. */
#define WW_IMG_MAX_SIDE 32768
#define WW_IMG_MAX_PIXELS ((int64_t)1 << 28)

typedef struct ww_img {
    int width, height;
    int channels; /* 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA */
    int depth;    /* bits per sample: 8 (data holds uint8_t) or 16 (uint16_t, host byte order) */
    void *data;   /* rows top to bottom, packed: width * channels samples per row; malloc'd */
} ww_img;

/* Free img->data and zero *img. */
void ww_img_free(ww_img *img);

/* Read a PNG as stored: 8- or 16-bit samples, 1 to 4 channels. Palette images become RGB (RGBA
 * when the palette has transparency), gray of 1, 2 or 4 bits becomes 8-bit gray, interlacing is
 * undone. On failure *out is zeroed. The caller frees out with ww_img_free. */
ww_status ww_img_read_png(const char *path, ww_img *out, char *err, size_t errlen);

/* Read a PNG, JPEG or binary PPM (told apart by their signatures, not by the name) as packed 8-bit
 * RGB (out->channels = 3, out->depth = 8): gray is replicated, alpha is dropped, 16-bit samples
 * are rounded to 8 bits. PPM is read strictly: "P6", width, height and maxval 255 (others are
 * WW_ERR_UNSUPPORTED) separated by whitespace and '#' comments, one whitespace byte, then exactly
 * width * height RGB triples (a short or a longer file is WW_ERR_INVALID). */
ww_status ww_img_read_rgb8(const char *path, ww_img *out, char *err, size_t errlen);

/* Write img (any channels 1..4, depth 8 or 16) as a PNG. On failure no file is left at path. */
ww_status ww_img_write_png(const char *path, const ww_img *img, char *err, size_t errlen);

/* ---- Helpers shared with the other file readers of tools/ (flow_io.c) -------------------- */

/* Write "PATH: message" into err (when not NULL) and return status. */
ww_status ww_io_error(char *err, size_t errlen, ww_status status, const char *path,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Remove what a failed writer left at path, when it is a regular file: never a device (a write
 * to /dev/full fails too) or a FIFO. */
void ww_io_discard(const char *path);
/* Open path for reading, refusing what is not a regular file (a directory, a FIFO); *size is
 * its size in bytes. The caller closes *out. */
ww_status ww_io_open_read(const char *path, FILE **out, uint64_t *size, char *err,
                          size_t errlen);

#endif
