/* What the files of the dataset readers share (dataset.c, dataset_list.c, dataset_layouts.c,
 * targets.c, classes.c, dataset_text.c); not part of the trainer's API (dataset.h).
 *
 * A file dataset is a table of entries, one per sample, each naming its files and how to read
 * its target. List files and directory layouts both produce these entries, so reading a sample
 * is one piece of code whatever found it.
 */
#ifndef WW_DATASET_INTERNAL_H
#define WW_DATASET_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "dataset.h"

#define WW_SEG_IGNORE 255

/* How an entry's target file is read. */
typedef enum ww_target_kind {
    WW_TARGET_FLO,        /* Middlebury .flo */
    WW_TARGET_KITTI_FLOW, /* KITTI 16-bit RGB flow PNG, B = valid */
    WW_TARGET_FLOW_PFM,   /* 3-channel PFM (u, v, unused), FlyingThings3D */
    WW_TARGET_FLO5,       /* Spring HDF5 .flo5, at the frames' size or twice it (see dataset.h) */
    WW_TARGET_DEPTH_PFM,  /* 1-channel PFM in metres */
    WW_TARGET_DEPTH_PNG,  /* 16-bit gray PNG, metres = value / depth_scale, 0 = invalid */
    WW_TARGET_DISPARITY,  /* KITTI 16-bit disparity PNG (px = value / 256), metres = f * B / px */
    WW_TARGET_LABELS,     /* 8-bit gray PNG of label values, through the dataset's label map */
} ww_target_kind;

typedef struct ww_entry {
    int line;       /* the list file's line; 0 for an entry of a directory layout */
    char *image[2]; /* frame 1 (the image), frame 2 for flow (else NULL); malloc'd */
    char *target;   /* malloc'd */
    ww_target_kind kind;
    float depth_scale;    /* WW_TARGET_DEPTH_PNG: file units per metre (1000: millimetres) */
    float focal_baseline; /* WW_TARGET_DISPARITY: focal length (px) times baseline (m) */
} ww_entry;

/* A segmentation dataset's classes: names and colours for the model's metadata, and the map from
 * the values stored in label files to class ids. */
typedef struct ww_classes {
    int count;            /* 0: the dataset names no classes */
    char **names;         /* count strings, malloc'd */
    uint8_t (*colors)[3]; /* count RGB colours, malloc'd */
    char *origin;         /* where they come from, for messages: a file, or "the Cityscapes
                           * trainId table"; malloc'd */
    uint8_t map[256];     /* label value -> class id, or WW_SEG_IGNORE */
} ww_classes;

struct ww_dataset {
    ww_task task;
    int width, height, classes;
    uint64_t seed;
    char *source;       /* what messages start with: the list file, or the spec; malloc'd */
    ww_entry *entries;  /* NULL for a synthetic dataset */
    int64_t size, capacity;
    ww_classes labels;  /* count 0 and the identity map unless a classes file or table was given */
};

/* ---- Entries (dataset.c) -------------------------------------------------------------------- */

/* Append a zeroed entry to d (line 0); NULL when out of memory. */
ww_entry *ww_dataset_add_entry(ww_dataset *d);
/* Write "SOURCE:LINE: message" (a list's entry) or "SOURCE: message" (a layout's, or e NULL) into
 * err and return st. */
ww_status ww_entry_error(const ww_dataset *d, const ww_entry *e, char *err, size_t errlen,
                         ww_status st, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Every path of e names a regular file (a missing one is WW_ERR_IO naming it); an entry whose
 * paths could not be allocated (NULL where the task needs a path) is WW_ERR_OUT_OF_MEMORY. */
ww_status ww_entry_check(const ww_dataset *d, const ww_entry *e, char *err, size_t errlen);

/* ---- Sources of entries --------------------------------------------------------------------- */

/* Fill d from the list file at path (dataset_list.c; the format is in dataset.h). */
ww_status ww_list_read(ww_dataset *d, const char *path, char *err, size_t errlen);
/* Fill d from a directory layout spec "NAME:ROOT[:OPTION]" (dataset_layouts.c); an unknown NAME is
 * WW_ERR_INVALID with a message listing every spec. */
ww_status ww_layout_read(ww_dataset *d, const char *spec, char *err, size_t errlen);

/* ---- Targets (targets.c) -------------------------------------------------------------------- */

/* Read e's target into s->target (allocated here), checked against the size of s's frames, which
 * are read already. */
ww_status ww_entry_read_target(const ww_dataset *d, const ww_entry *e, ww_sample *s, char *err,
                               size_t errlen);
/* e->focal_baseline from the KITTI calibration file at calib (NULL: out of memory): focal length
 * (px) times stereo baseline (m), from the projection matrices "P0:" and "P1:" (KITTI 2012) or
 * else "P_rect_02:" and "P_rect_03:" (KITTI 2015's calib_cam_to_cam): f = left[0],
 * B = (left[3] - right[3]) / f. Errors are e's ("SOURCE[:LINE]: CALIB[:LINE]: problem"). */
ww_status ww_entry_read_calib(const ww_dataset *d, ww_entry *e, const char *calib, char *err,
                              size_t errlen);

/* ---- Classes (classes.c) -------------------------------------------------------------------- */

/* No classes, the identity map. */
void ww_classes_init(ww_classes *c);
/* A classes file: one class per line "ID NAME R G B" (NAME may hold spaces; ids 0..N-1 each once,
 * N <= 255), '#' comments. Values not listed map to WW_SEG_IGNORE. Errors "PATH[:LINE]: problem".
 * On failure *c is left with no classes. */
ww_status ww_classes_read(const char *path, ww_classes *c, char *err, size_t errlen);
/* Cityscapes' 19 training classes (trainIds, names and colours of its labels.py), mapped from its
 * labelIds; every other labelId maps to WW_SEG_IGNORE. */
ww_status ww_classes_cityscapes(ww_classes *c, char *err, size_t errlen);
/* Free the arrays; back to ww_classes_init's state. */
void ww_classes_free(ww_classes *c);

/* ---- Text and paths (dataset_text.c) -------------------------------------------------------- */

/* Write "PATH:LINE: message" ("PATH: message" when line is 0) into err (when not NULL) and
 * return st. */
ww_status ww_text_error(char *err, size_t errlen, ww_status st, const char *path, int line,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));
ww_status ww_text_verror(char *err, size_t errlen, ww_status st, const char *path, int line,
                         const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
/* The whole text file at path in *text (NUL-terminated, malloc'd, the caller frees); a NUL byte
 * inside is an error ("not a text file"). */
ww_status ww_text_read(const char *path, char **text, char *err, size_t errlen);
/* The next line of *cursor (a ww_text_read buffer), NUL-terminated in place without its '\n'; the
 * cursor moves past it. NULL at the end of the text. */
char *ww_text_line(char **cursor);
/* Split line in place into whitespace-separated tokens, '#' to its end being a comment. Returns
 * the token count; only the first max are stored in tok. */
int ww_text_split(char *line, char **tok, int max);
/* A malloc'd path made by printf; NULL when out of memory. */
char *ww_path_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 when path ends with ext, case-insensitively. */
int ww_path_has_ext(const char *path, const char *ext);

#endif
