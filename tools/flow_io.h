/* Optical flow and float map files: Middlebury .flo, KITTI 16-bit flow PNG, PFM, Spring .flo5.
 *
 *  .flo  "PIEH" (the float 202021.25), int32 width, int32 height, then width * height (u, v)
 *        float32 pairs, rows top to bottom, all little-endian. A component above 1e9 in
 *        magnitude marks an unknown flow (Middlebury writes 1e10; Sintel follows it).
 *  KITTI 16-bit RGB PNG: u = (R - 32768) / 64, v = (G - 32768) / 64, B = 1 where the flow is
 *        valid, 0 elsewhere (the ground truth is sparse).
 *  PFM   "Pf" (1 channel) or "PF" (3), width and height, then a scale whose sign gives the byte
 *        order (negative: little-endian), then float32 rows from the bottom of the image to the
 *        top. FlyingThings stores flow as 3-channel PFM (u, v, 0).
 *  .flo5 Spring's HDF5 file: the dataset "flow", float H x W x 2 (u, v), NaN where unknown. Read
 *        through libhdf5 when the build has it (meson option hdf5), else refused.
 *
 * Files are read and written whole. Readers check the header against the file's size before
 * allocating anything, so a forged header cannot make them allocate more than the file holds.
 * Errors are those of image_io.h: a status and "PATH: problem" in err.
 */
#ifndef WW_FLOW_IO_H
#define WW_FLOW_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ww.h"

typedef struct ww_flow {
    int width, height;
    float *uv;      /* 2 floats per pixel (u, v), rows top to bottom; malloc'd */
    uint8_t *valid; /* 1 byte per pixel, 1 where the flow is known; NULL: known everywhere */
} ww_flow;

/* Allocate a w x h flow (zeroed, valid everywhere: valid is allocated and set to 1). */
ww_status ww_flow_alloc(ww_flow *f, int w, int h, char *err, size_t errlen);
/* Free both arrays and zero *f. */
void ww_flow_free(ww_flow *f);

/* Read a .flo file. Unknown pixels (a component above 1e9 in magnitude, or not finite) get
 * valid 0 and u = v = 0, so that a careless user of uv meets no huge values; valid is always
 * allocated. */
ww_status ww_flo_read(const char *path, ww_flow *out, char *err, size_t errlen);
/* Write f as .flo; pixels with valid 0 are written as unknown (1e10, 1e10). */
ww_status ww_flo_write(const char *path, const ww_flow *f, char *err, size_t errlen);

/* Read a KITTI flow PNG (16-bit RGB): valid from B != 0, u = v = 0 where B is 0. */
ww_status ww_kitti_flow_read(const char *path, ww_flow *out, char *err, size_t errlen);
/* Write f as a KITTI flow PNG: R, G = round(u * 64 + 32768), round(v * 64 + 32768) clamped to
 * 0..65535, B = 1; pixels with valid 0 or a non-finite component are written as 0, 0, 0. */
ww_status ww_kitti_flow_write(const char *path, const ww_flow *f, char *err, size_t errlen);

/* Read a Spring .flo5 as stored (Spring's ground truth is twice its frames' size: the caller
 * picks the pixels it wants). Unknown pixels (NaN, or what .flo takes as unknown) get valid 0
 * and u = v = 0; valid is always allocated. WW_ERR_UNSUPPORTED when the build has no HDF5; a
 * file HDF5 cannot open, or one without a float "flow" dataset of H x W x 2, is WW_ERR_INVALID
 * with HDF5's reason. Calls from several threads take turns (one lock), as HDF5 needs unless
 * built thread-safe. */
ww_status ww_flo5_read(const char *path, ww_flow *out, char *err, size_t errlen);
/* 1 when the build reads .flo5 (has HDF5), else 0; WW_FLO5_NO_HDF5 says why for messages. */
int ww_flo5_supported(void);
#define WW_FLO5_NO_HDF5 \
    "this build has no HDF5, which .flo5 files need (install libhdf5-dev and rebuild)"

/* Read a PFM of 1 or 3 channels, either byte order, into *data: width * height * channels
 * floats, interleaved, rows top to bottom (flipped from the file's order). The caller frees
 * *data. */
ww_status ww_pfm_read(const char *path, float **data, int *width, int *height, int *channels,
                      char *err, size_t errlen);
/* Write data (channels 1 or 3, interleaved, rows top to bottom) as a little-endian PFM. */
ww_status ww_pfm_write(const char *path, const float *data, int width, int height, int channels,
                       char *err, size_t errlen);

#endif
