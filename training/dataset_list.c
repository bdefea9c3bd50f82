/* List files: one sample per line, and a seg list's classes line (the format is in dataset.h). */
#include "dataset_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flow_io.h"
#include "image_io.h"

enum { MAX_TOKENS = 4 };

/* What a line holds for each task, for messages. */
static const char *const task_lines[] = {
    [WW_TASK_FLOW] = "frame1 frame2 flow",
    [WW_TASK_DEPTH] = "image depth, image depth.png scale=S or image disparity.png calib.txt",
    [WW_TASK_SEG] = "image label",
};

/* token relative to dir (the list's directory, "" for the working directory) unless absolute. */
static char *join_path(const char *dir, const char *token)
{
    return ww_path_printf("%s%s", token[0] == '/' ? "" : dir, token);
}

/* The target's kind from its name (and, for depth, the line's third token), or an error naming
 * the formats the task takes. */
static ww_status target_kind(ww_dataset *d, ww_entry *e, const char *third, const char *dir,
                             char *err, size_t errlen)
{
    const char *t = e->target;
    if (d->task == WW_TASK_FLOW) {
        static const struct {
            const char *ext;
            ww_target_kind kind;
        } flow_ext[] = {{".flo", WW_TARGET_FLO},
                        {".png", WW_TARGET_KITTI_FLOW},
                        {".pfm", WW_TARGET_FLOW_PFM},
                        {".flo5", WW_TARGET_FLO5}};
        for (size_t k = 0; k < sizeof flow_ext / sizeof flow_ext[0]; k++)
            if (ww_path_has_ext(t, flow_ext[k].ext)) {
                e->kind = flow_ext[k].kind;
                if (e->kind == WW_TARGET_FLO5 && !ww_flo5_supported())
                    return ww_entry_error(d, e, err, errlen, WW_ERR_UNSUPPORTED,
                                          "%s: " WW_FLO5_NO_HDF5, t);
                return WW_OK;
            }
        return ww_entry_error(d, e, err, errlen, WW_ERR_UNSUPPORTED,
                              "%s: unknown flow target format (want .flo, .png, .pfm or .flo5)",
                              t);
    }
    if (d->task == WW_TASK_SEG || ww_path_has_ext(t, ".png")) {
        if (!ww_path_has_ext(t, ".png"))
            return ww_entry_error(d, e, err, errlen, WW_ERR_UNSUPPORTED,
                                  "%s: unknown seg target format (want .png)", t);
        e->kind = d->task == WW_TASK_SEG ? WW_TARGET_LABELS : WW_TARGET_DEPTH_PNG;
        e->depth_scale = 1000; /* NYU style: millimetres */
        if (!third)
            return WW_OK;
        if (strncmp(third, "scale=", 6) == 0) {
            char *end;
            errno = 0;
            double scale = strtod(third + 6, &end);
            if (errno || end == third + 6 || *end || !isfinite(scale) || !(scale > 0))
                return ww_entry_error(d, e, err, errlen, WW_ERR_INVALID,
                                      "'%s': the scale must be a positive number", third);
            e->depth_scale = (float)scale;
            return WW_OK;
        }
        e->kind = WW_TARGET_DISPARITY;
        char *calib = join_path(dir, third);
        ww_status st = ww_entry_read_calib(d, e, calib, err, errlen);
        free(calib);
        return st;
    }
    if (third)
        return ww_entry_error(d, e, err, errlen, WW_ERR_INVALID,
                              "%s: a scale or calibration goes with a .png depth only", t);
    if (!ww_path_has_ext(t, ".pfm"))
        return ww_entry_error(d, e, err, errlen, WW_ERR_UNSUPPORTED,
                              "%s: unknown depth target format (want .pfm or .png)", t);
    e->kind = WW_TARGET_DEPTH_PFM;
    return WW_OK;
}

/* "classes FILE": the seg list's class names, colours and label map. */
static ww_status classes_line(ww_dataset *d, const char *file, int lineno, const char *dir,
                              char *err, size_t errlen)
{
    if (d->task != WW_TASK_SEG)
        return ww_text_error(err, errlen, WW_ERR_INVALID, d->source, lineno,
                             "a classes line belongs in a seg list, not a %s one",
                             ww_task_name(d->task));
    if (d->size > 0 || d->labels.count > 0)
        return ww_text_error(err, errlen, WW_ERR_INVALID, d->source, lineno,
                             "the classes line must come once, before the samples");
    char *path = join_path(dir, file);
    if (!path)
        return ww_text_error(err, errlen, WW_ERR_OUT_OF_MEMORY, d->source, lineno,
                             "out of memory");
    char msg[1024];
    ww_status st = ww_classes_read(path, &d->labels, msg, sizeof msg);
    free(path);
    return st == WW_OK ? WW_OK
                       : ww_text_error(err, errlen, st, d->source, lineno, "%s", msg);
}

static ww_status add_line(ww_dataset *d, char *line, int lineno, const char *dir, char *err,
                          size_t errlen)
{
    char *tok[MAX_TOKENS];
    int n = ww_text_split(line, tok, MAX_TOKENS);
    if (n == 0)
        return WW_OK;
    if (n == 2 && strcmp(tok[0], "classes") == 0)
        return classes_line(d, tok[1], lineno, dir, err, errlen);
    int frames = ww_task_frames(d->task), want = frames + 1;
    /* A depth line may add a scale or a calibration file. */
    if (n != want && !(d->task == WW_TASK_DEPTH && n == want + 1))
        return ww_text_error(err, errlen, WW_ERR_INVALID, d->source, lineno,
                             "expected %d paths (%s), got %d", want, task_lines[d->task], n);
    ww_entry *e = ww_dataset_add_entry(d);
    if (!e)
        return ww_text_error(err, errlen, WW_ERR_OUT_OF_MEMORY, d->source, lineno,
                             "out of memory");
    e->line = lineno;
    for (int k = 0; k < frames; k++)
        e->image[k] = join_path(dir, tok[k]);
    e->target = join_path(dir, tok[frames]);
    ww_status st = ww_entry_check(d, e, err, errlen);
    return st == WW_OK ? target_kind(d, e, n > want ? tok[want] : NULL, dir, err, errlen) : st;
}

ww_status ww_list_read(ww_dataset *d, const char *path, char *err, size_t errlen)
{
    char *text;
    ww_status st = ww_text_read(path, &text, err, errlen);
    if (st != WW_OK)
        return st;
    /* The directory part of the list's path, slash included. */
    const char *slash = strrchr(path, '/');
    char *dir = ww_path_printf("%.*s", slash ? (int)(slash - path) + 1 : 0, path);
    if (!dir) {
        free(text);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
    }
    char *cursor = text, *line;
    for (int lineno = 1; st == WW_OK && (line = ww_text_line(&cursor)); lineno++)
        st = add_line(d, line, lineno, dir, err, errlen);
    free(dir);
    free(text);
    if (st == WW_OK && d->size == 0)
        st = ww_io_error(err, errlen, WW_ERR_INVALID, path, "no samples in the list");
    return st;
}
