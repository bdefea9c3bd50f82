/* Datasets in their published directory layouts: the files each sample needs are found by
 * scanning directories (sorted by name, so that sample order does not depend on the file system)
 * and checked when the dataset opens. The layouts are listed in dataset.h. */
#include "dataset_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flow_io.h"
#include "image_io.h"

typedef struct layout layout;

/* A layout's reader: fills d from root with the option (one of the layout's, its fallback, or
 * NULL when neither). */
typedef ww_status (*layout_fn)(ww_dataset *d, const layout *l, const char *root,
                               const char *option, char *err, size_t errlen);

struct layout {
    const char *name;
    ww_task task;
    const char *options[2]; /* what may follow ROOT: 2 options, or none (NULL) */
    const char *fallback;   /* the option when none is given (NULL: none) */
    const char *expect;     /* the files it reads, for messages */
    layout_fn read;
};

static ww_status no_memory(ww_dataset *d, char *err, size_t errlen)
{
    return ww_entry_error(d, NULL, err, errlen, WW_ERR_OUT_OF_MEMORY, "out of memory");
}

/* ---- Scanning directories ------------------------------------------------------------------- */

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static void names_free(names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The names in dir that start with prefix and end with suffix, without them (the stems), sorted;
 * only subdirectories when dirs. Hidden names (".", "..", ".git") are skipped. A directory that
 * cannot be read is an error naming it and what the layout expects. dir is NULL where its path
 * could not be allocated, so that callers can pass ww_path_printf's result unchecked. */
static ww_status scan(ww_dataset *d, const layout *l, const char *dir, int dirs,
                      const char *prefix, const char *suffix, names *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!dir)
        return no_memory(d, err, errlen);
    DIR *dp = opendir(dir);
    if (!dp)
        return ww_entry_error(d, NULL, err, errlen, WW_ERR_IO,
                              "%s: cannot read the directory: %s (a %s dataset is %s)", dir,
                              strerror(errno), l->name, l->expect);
    size_t np = strlen(prefix), ns = strlen(suffix);
    ww_status st = WW_OK;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dp);
        if (!de) {
            if (errno)
                st = ww_entry_error(d, NULL, err, errlen, WW_ERR_IO,
                                    "%s: cannot read the directory: %s", dir, strerror(errno));
            break;
        }
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (name[0] == '.' || len < np + ns || strncmp(name, prefix, np) != 0 ||
            strcmp(name + len - ns, suffix) != 0)
            continue;
        if (dirs) {
            char *path = ww_path_printf("%s/%s", dir, name);
            int keep = path && is_dir(path);
            free(path);
            if (!keep)
                continue;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? 2 * out->cap : 64;
            char **v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                st = no_memory(d, err, errlen);
                break;
            }
            out->v = v;
            out->cap = cap;
        }
        if (!(out->v[out->n] = strndup(name + np, len - np - ns))) {
            st = no_memory(d, err, errlen);
            break;
        }
        out->n++;
    }
    closedir(dp);
    if (st != WW_OK)
        names_free(out);
    else if (out->n) /* qsort's array may not be NULL, even when empty */
        qsort(out->v, out->n, sizeof *out->v, by_name);
    return st;
}

/* ---- Samples -------------------------------------------------------------------------------- */

/* Append a sample of these paths (malloc'd, owned from here on; NULL where out of memory, or
 * image1 for a task of one frame) and check its files; a disparity target also reads calib's f * B
 * (calib is freed here too). */
static ww_status add_sample(ww_dataset *d, char *image0, char *image1, char *target,
                            ww_target_kind kind, char *calib, char *err, size_t errlen)
{
    ww_entry *e = ww_dataset_add_entry(d);
    if (!e) {
        free(image0);
        free(image1);
        free(target);
        free(calib);
        return no_memory(d, err, errlen);
    }
    e->image[0] = image0;
    e->image[1] = image1;
    e->target = target;
    e->kind = kind;
    ww_status st = ww_entry_check(d, e, err, errlen);
    if (st == WW_OK && kind == WW_TARGET_DISPARITY)
        st = ww_entry_read_calib(d, e, calib, err, errlen);
    free(calib);
    return st;
}

/* 1 when b is a's successor: both digits only, as many, b's number a's plus one. */
static int is_successor(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n == 0 || n > 18 || strlen(b) != n || strspn(a, "0123456789") != n ||
        strspn(b, "0123456789") != n)
        return 0;
    return strtoll(b, NULL, 10) == strtoll(a, NULL, 10) + 1;
}

/* The flow samples of one sequence: the frames frames_dir/PREFIX NNNN SUFFIX, each with its
 * successor (N + 1, as many digits) and the flow flow_dir/FLOW_PREFIX NNNN FLOW_SUFFIX. A frame
 * without a successor (the last) starts no sample; one with a successor needs its flow. Both
 * directories are malloc'd and freed here (NULL where out of memory), like add_sample's paths. */
static ww_status add_sequence(ww_dataset *d, const layout *l, char *frames_dir,
                              const char *prefix, const char *suffix, char *flow_dir,
                              const char *flow_prefix, const char *flow_suffix,
                              ww_target_kind kind, char *err, size_t errlen)
{
    names frames = {0};
    ww_status st = flow_dir ? scan(d, l, frames_dir, 0, prefix, suffix, &frames, err, errlen)
                            : no_memory(d, err, errlen);
    for (size_t i = 0; st == WW_OK && i + 1 < frames.n; i++) {
        const char *a = frames.v[i], *b = frames.v[i + 1];
        if (is_successor(a, b))
            st = add_sample(d, ww_path_printf("%s/%s%s%s", frames_dir, prefix, a, suffix),
                            ww_path_printf("%s/%s%s%s", frames_dir, prefix, b, suffix),
                            ww_path_printf("%s/%s%s%s", flow_dir, flow_prefix, a, flow_suffix),
                            kind, NULL, err, errlen);
    }
    names_free(&frames);
    free(frames_dir);
    free(flow_dir);
    return st;
}

/* fn(d, l, root, option, SUB, ...) for every subdirectory SUB of dir, in name order; dir is
 * malloc'd and freed here (NULL where out of memory). */
typedef ww_status (*subdir_fn)(ww_dataset *d, const layout *l, const char *root,
                               const char *option, const char *sub, char *err, size_t errlen);

static ww_status each_subdir(ww_dataset *d, const layout *l, char *dir, const char *root,
                             const char *option, subdir_fn fn, char *err, size_t errlen)
{
    names subs;
    ww_status st = scan(d, l, dir, 1, "", "", &subs, err, errlen);
    for (size_t i = 0; st == WW_OK && i < subs.n; i++)
        st = fn(d, l, root, option, subs.v[i], err, errlen);
    names_free(&subs);
    free(dir);
    return st;
}

/* ---- FlyingChairs --------------------------------------------------------------------------- */

/* FlyingChairs_train_val.txt: line N is sample N's split, 1 (train) or 2 (val). */
static ww_status read_chairs_split(ww_dataset *d, const char *path, uint8_t **split, size_t *n,
                                   char *err, size_t errlen)
{
    char *text;
    char msg[1024];
    ww_status st = ww_text_read(path, &text, msg, sizeof msg);
    if (st != WW_OK)
        return ww_entry_error(d, NULL, err, errlen, st, "%s", msg);
    size_t cap = strlen(text) / 2 + 1; /* every line holds at least a digit and '\n' */
    *split = malloc(cap);
    *n = 0;
    if (!*split)
        st = no_memory(d, err, errlen);
    char *cursor = text, *line;
    for (int lineno = 1; st == WW_OK && (line = ww_text_line(&cursor)); lineno++) {
        char *tok[2];
        int nt = ww_text_split(line, tok, 2);
        if (nt == 0)
            continue;
        if (nt != 1 || (strcmp(tok[0], "1") != 0 && strcmp(tok[0], "2") != 0))
            st = ww_entry_error(d, NULL, err, errlen, WW_ERR_INVALID,
                                "%s:%d: want 1 (train) or 2 (val)", path, lineno);
        else
            (*split)[(*n)++] = (uint8_t)(tok[0][0] - '0');
    }
    free(text);
    if (st != WW_OK) {
        free(*split);
        *split = NULL;
    }
    return st;
}

static ww_status read_chairs(ww_dataset *d, const layout *l, const char *root, const char *option,
                             char *err, size_t errlen)
{
    char *data = ww_path_printf("%s/data", root);
    char *split_path = ww_path_printf("%s/FlyingChairs_train_val.txt", root);
    uint8_t *split = NULL;
    size_t nsplit = 0;
    names stems = {0};
    ww_status st = data && split_path ? WW_OK : no_memory(d, err, errlen);
    const char *dir = data && is_dir(data) ? data : root;
    if (st == WW_OK && option)
        st = read_chairs_split(d, split_path, &split, &nsplit, err, errlen);
    if (st == WW_OK)
        st = scan(d, l, dir, 0, "", "_img1.ppm", &stems, err, errlen);
    int want = option && strcmp(option, "val") == 0 ? 2 : 1;
    for (size_t i = 0; st == WW_OK && i < stems.n; i++) {
        const char *s = stems.v[i];
        if (split) {
            /* Samples are numbered from 1, line by line of the split file. */
            size_t len = strlen(s);
            long long k = len && len <= 18 && strspn(s, "0123456789") == len
                              ? strtoll(s, NULL, 10)
                              : 0;
            if (k < 1 || (size_t)k > nsplit) {
                st = ww_entry_error(d, NULL, err, errlen, WW_ERR_INVALID,
                                    "%s/%s_img1.ppm: no line %s in %s (%zu lines)", dir, s, s,
                                    split_path, nsplit);
                break;
            }
            if (split[k - 1] != want)
                continue;
        }
        st = add_sample(d, ww_path_printf("%s/%s_img1.ppm", dir, s),
                        ww_path_printf("%s/%s_img2.ppm", dir, s),
                        ww_path_printf("%s/%s_flow.flo", dir, s), WW_TARGET_FLO, NULL, err,
                        errlen);
    }
    names_free(&stems);
    free(split);
    free(split_path);
    free(data);
    return st;
}

/* ---- MPI-Sintel ----------------------------------------------------------------------------- */

static ww_status sintel_scene(ww_dataset *d, const layout *l, const char *root,
                              const char *option, const char *scene, char *err, size_t errlen)
{
    char *frames = ww_path_printf("%s/training/%s/%s", root, option, scene);
    char *flow = ww_path_printf("%s/training/flow/%s", root, scene);
    return add_sequence(d, l, frames, "frame_", ".png", flow, "frame_", ".flo", WW_TARGET_FLO, err,
                        errlen);
}

static ww_status read_sintel(ww_dataset *d, const layout *l, const char *root, const char *option,
                             char *err, size_t errlen)
{
    return each_subdir(d, l, ww_path_printf("%s/training/%s", root, option), root, option,
                       sintel_scene, err, errlen);
}

/* ---- Spring --------------------------------------------------------------------------------- */

static ww_status spring_scene(ww_dataset *d, const layout *l, const char *root,
                              const char *option, const char *scene, char *err, size_t errlen)
{
    (void)option;
    char *frames = ww_path_printf("%s/train/%s/frame_left", root, scene);
    char *flow = ww_path_printf("%s/train/%s/flow_FW_left", root, scene);
    return add_sequence(d, l, frames, "frame_left_", ".png", flow, "flow_FW_left_", ".flo5",
                        WW_TARGET_FLO5, err, errlen);
}

static ww_status read_spring(ww_dataset *d, const layout *l, const char *root, const char *option,
                             char *err, size_t errlen)
{
    if (!ww_flo5_supported())
        return ww_entry_error(d, NULL, err, errlen, WW_ERR_UNSUPPORTED, WW_FLO5_NO_HDF5);
    return each_subdir(d, l, ww_path_printf("%s/train", root), root, option, spring_scene, err,
                       errlen);
}

/* ---- FlyingThings3D ------------------------------------------------------------------------- */

/* sub is SET/SEQUENCE (A/0000, ...). */
static ww_status things_sequence(ww_dataset *d, const layout *l, const char *root,
                                 const char *option, const char *sub, char *err, size_t errlen)
{
    char *frames = ww_path_printf("%s/frames_%spass/TRAIN/%s/left", root, option, sub);
    char *flow = ww_path_printf("%s/optical_flow/TRAIN/%s/into_future/left", root, sub);
    return add_sequence(d, l, frames, "", ".png", flow, "OpticalFlowIntoFuture_", "_L.pfm",
                        WW_TARGET_FLOW_PFM, err, errlen);
}

static ww_status things_set(ww_dataset *d, const layout *l, const char *root, const char *option,
                            const char *set, char *err, size_t errlen)
{
    char *dir = ww_path_printf("%s/frames_%spass/TRAIN/%s", root, option, set);
    names seqs;
    ww_status st = scan(d, l, dir, 1, "", "", &seqs, err, errlen);
    for (size_t i = 0; st == WW_OK && i < seqs.n; i++) {
        char *sub = ww_path_printf("%s/%s", set, seqs.v[i]);
        st = sub ? things_sequence(d, l, root, option, sub, err, errlen)
                 : no_memory(d, err, errlen);
        free(sub);
    }
    names_free(&seqs);
    free(dir);
    return st;
}

static ww_status read_things(ww_dataset *d, const layout *l, const char *root, const char *option,
                             char *err, size_t errlen)
{
    return each_subdir(d, l, ww_path_printf("%s/frames_%spass/TRAIN", root, option), root, option,
                       things_set, err, errlen);
}

/* ---- KITTI ---------------------------------------------------------------------------------- */

static ww_status read_kitti(ww_dataset *d, const layout *l, const char *root, const char *option,
                            char *err, size_t errlen)
{
    (void)option;
    char *flow = ww_path_printf("%s/training/flow_occ", root);
    names stems;
    ww_status st = scan(d, l, flow, 0, "", "_10.png", &stems, err, errlen);
    for (size_t i = 0; st == WW_OK && i < stems.n; i++) {
        const char *s = stems.v[i];
        st = add_sample(d, ww_path_printf("%s/training/image_2/%s_10.png", root, s),
                        ww_path_printf("%s/training/image_2/%s_11.png", root, s),
                        ww_path_printf("%s/%s_10.png", flow, s), WW_TARGET_KITTI_FLOW, NULL,
                        err, errlen);
    }
    names_free(&stems);
    free(flow);
    return st;
}

static ww_status read_kitti_stereo(ww_dataset *d, const layout *l, const char *root,
                                   const char *option, char *err, size_t errlen)
{
    (void)option;
    /* KITTI 2012 keeps its colour frames in colored_0, KITTI 2015 in image_2. */
    char *colored = ww_path_printf("%s/training/colored_0", root);
    int k2012 = colored && is_dir(colored);
    free(colored);
    const char *image = k2012 ? "colored_0" : "image_2";
    const char *disp = k2012 ? "disp_noc" : "disp_noc_0";
    const char *calib = k2012 ? "calib" : "calib_cam_to_cam";
    char *disp_dir = ww_path_printf("%s/training/%s", root, disp);
    names stems;
    ww_status st = scan(d, l, disp_dir, 0, "", "_10.png", &stems, err, errlen);
    for (size_t i = 0; st == WW_OK && i < stems.n; i++) {
        const char *s = stems.v[i];
        st = add_sample(d, ww_path_printf("%s/training/%s/%s_10.png", root, image, s), NULL,
                        ww_path_printf("%s/%s_10.png", disp_dir, s), WW_TARGET_DISPARITY,
                        ww_path_printf("%s/training/%s/%s.txt", root, calib, s), err, errlen);
    }
    names_free(&stems);
    free(disp_dir);
    return st;
}

/* ---- Cityscapes ----------------------------------------------------------------------------- */

static ww_status cityscapes_city(ww_dataset *d, const layout *l, const char *root,
                                 const char *option, const char *city, char *err, size_t errlen)
{
    char *images = ww_path_printf("%s/leftImg8bit/%s/%s", root, option, city);
    names stems;
    ww_status st = scan(d, l, images, 0, "", "_leftImg8bit.png", &stems, err, errlen);
    for (size_t i = 0; st == WW_OK && i < stems.n; i++) {
        const char *s = stems.v[i];
        st = add_sample(d, ww_path_printf("%s/%s_leftImg8bit.png", images, s), NULL,
                        ww_path_printf("%s/gtFine/%s/%s/%s_gtFine_labelIds.png", root, option,
                                       city, s),
                        WW_TARGET_LABELS, NULL, err, errlen);
    }
    names_free(&stems);
    free(images);
    return st;
}

static ww_status read_cityscapes(ww_dataset *d, const layout *l, const char *root,
                                 const char *option, char *err, size_t errlen)
{
    char msg[1024];
    ww_status st = ww_classes_cityscapes(&d->labels, msg, sizeof msg);
    if (st != WW_OK)
        return ww_entry_error(d, NULL, err, errlen, st, "%s", msg);
    return each_subdir(d, l, ww_path_printf("%s/leftImg8bit/%s", root, option), root, option,
                       cityscapes_city, err, errlen);
}

/* ---- Specs ---------------------------------------------------------------------------------- */

static const layout layouts[] = {
    {"chairs", WW_TASK_FLOW, {"train", "val"}, NULL,
     "ROOT/data/NNNNN_img1.ppm, NNNNN_img2.ppm and NNNNN_flow.flo, split by "
     "ROOT/FlyingChairs_train_val.txt",
     read_chairs},
    {"sintel", WW_TASK_FLOW, {"clean", "final"}, "clean",
     "ROOT/training/{clean,final}/SCENE/frame_NNNN.png with "
     "ROOT/training/flow/SCENE/frame_NNNN.flo",
     read_sintel},
    {"kitti", WW_TASK_FLOW, {NULL, NULL}, NULL,
     "ROOT/training/image_2/NNNNNN_10.png and NNNNNN_11.png with "
     "ROOT/training/flow_occ/NNNNNN_10.png",
     read_kitti},
    {"spring", WW_TASK_FLOW, {NULL, NULL}, NULL,
     "ROOT/train/SCENE/frame_left/frame_left_NNNN.png with "
     "ROOT/train/SCENE/flow_FW_left/flow_FW_left_NNNN.flo5",
     read_spring},
    {"things", WW_TASK_FLOW, {"clean", "final"}, "clean",
     "ROOT/frames_{cleanpass,finalpass}/TRAIN/SET/SEQ/left/NNNN.png with "
     "ROOT/optical_flow/TRAIN/SET/SEQ/into_future/left/OpticalFlowIntoFuture_NNNN_L.pfm",
     read_things},
    {"kitti-stereo", WW_TASK_DEPTH, {NULL, NULL}, NULL,
     "ROOT/training/colored_0/NNNNNN_10.png, disp_noc/NNNNNN_10.png and calib/NNNNNN.txt (KITTI "
     "2012), or image_2, disp_noc_0 and calib_cam_to_cam (KITTI 2015)",
     read_kitti_stereo},
    {"cityscapes", WW_TASK_SEG, {"train", "val"}, "train",
     "ROOT/leftImg8bit/SPLIT/CITY/NAME_leftImg8bit.png with "
     "ROOT/gtFine/SPLIT/CITY/NAME_gtFine_labelIds.png",
     read_cityscapes},
};

enum { NLAYOUTS = sizeof layouts / sizeof layouts[0] };

ww_status ww_layout_read(ww_dataset *d, const char *spec, char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    const layout *l = NULL;
    for (int k = 0; colon && k < NLAYOUTS; k++)
        if (strlen(layouts[k].name) == (size_t)(colon - spec) &&
            strncmp(spec, layouts[k].name, (size_t)(colon - spec)) == 0)
            l = &layouts[k];
    if (!l)
        return ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                           "unknown dataset (want synthetic, synthetic:N, list:FILE, "
                           "chairs:ROOT[:train|val], sintel:ROOT[:clean|final], kitti:ROOT, "
                           "spring:ROOT, things:ROOT[:clean|final], kitti-stereo:ROOT or "
                           "cityscapes:ROOT[:train|val])");
    if (l->task != d->task)
        return ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                           "a %s dataset holds %s samples, not %s", l->name,
                           ww_task_name(l->task), ww_task_name(d->task));
    /* ROOT, then the option after the last ':' when the layout takes one. */
    const char *root_start = colon + 1;
    const char *last = l->options[0] ? strrchr(root_start, ':') : NULL;
    size_t root_len = last ? (size_t)(last - root_start) : strlen(root_start);
    const char *option = l->fallback;
    if (last) {
        option = NULL;
        for (int k = 0; k < 2; k++)
            if (strcmp(last + 1, l->options[k]) == 0)
                option = l->options[k];
        if (!option)
            return ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                               "unknown option '%s' for %s (want %s or %s)", last + 1, l->name,
                               l->options[0], l->options[1]);
    }
    if (root_len == 0)
        return ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                           "no ROOT directory (a %s dataset is %s)", l->name, l->expect);
    char *root = strndup(root_start, root_len);
    if (!root)
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, spec, "out of memory");
    ww_status st = l->read(d, l, root, option, err, errlen);
    if (st == WW_OK && d->size == 0)
        st = ww_io_error(err, errlen, WW_ERR_INVALID, spec,
                         "no samples found under %s (a %s dataset is %s)", root, l->name,
                         l->expect);
    free(root);
    return st;
}
