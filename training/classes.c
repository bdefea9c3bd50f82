/* Segmentation classes: classes files and the Cityscapes table (see dataset_internal.h). */
#include "dataset_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image_io.h"

enum { MAX_CLASSES = WW_SEG_IGNORE };

void ww_classes_init(ww_classes *c)
{
    memset(c, 0, sizeof *c);
    for (int v = 0; v < 256; v++)
        c->map[v] = (uint8_t)v;
}

void ww_classes_free(ww_classes *c)
{
    for (int k = 0; k < c->count; k++)
        free(c->names[k]);
    free(c->names);
    free(c->colors);
    free(c->origin);
    ww_classes_init(c);
}

/* Room for n classes, every label value ignored until a class claims it. */
static ww_status classes_alloc(ww_classes *c, int n, const char *origin, char *err,
                               size_t errlen)
{
    ww_classes_init(c);
    memset(c->map, WW_SEG_IGNORE, sizeof c->map);
    c->names = calloc((size_t)n, sizeof *c->names);
    c->colors = calloc((size_t)n, sizeof *c->colors);
    c->origin = strdup(origin);
    if (!c->names || !c->colors || !c->origin) {
        ww_classes_free(c);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, origin, "out of memory");
    }
    c->count = n;
    return WW_OK;
}

/* ---- Classes files -------------------------------------------------------------------------- */

/* A whole token as an integer in lo..hi. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

/* One class per line in the order of the file, before the ids are checked. */
typedef struct class_line {
    int line, id;
    char *name; /* inside the text */
    uint8_t rgb[3];
} class_line;

static ww_status parse_classes(const char *path, char *text, class_line *out, int *n, char *err,
                               size_t errlen)
{
    *n = 0;
    char *cursor = text, *line;
    enum { MAX_TOKENS = 64 };
    for (int lineno = 1; (line = ww_text_line(&cursor)); lineno++) {
        char *tok[MAX_TOKENS];
        int nt = ww_text_split(line, tok, MAX_TOKENS);
        if (nt == 0)
            continue;
        if (nt < 5 || nt > MAX_TOKENS)
            return ww_text_error(err, errlen, WW_ERR_INVALID, path, lineno,
                              "want \"ID NAME R G B\", got %d fields", nt);
        if (*n == MAX_CLASSES)
            return ww_text_error(err, errlen, WW_ERR_INVALID, path, lineno,
                              "more than %d classes", MAX_CLASSES);
        class_line *c = &out[(*n)++];
        c->line = lineno;
        int rgb[3];
        if (!parse_int(tok[0], 0, MAX_CLASSES - 1, &c->id))
            return ww_text_error(err, errlen, WW_ERR_INVALID, path, lineno,
                              "class id '%s' is not an integer in 0..%d", tok[0],
                              MAX_CLASSES - 1);
        for (int k = 0; k < 3; k++)
            if (!parse_int(tok[nt - 3 + k], 0, 255, &rgb[k]))
                return ww_text_error(err, errlen, WW_ERR_INVALID, path, lineno,
                                  "colour component '%s' is not an integer in 0..255",
                                  tok[nt - 3 + k]);
        for (int k = 0; k < 3; k++)
            c->rgb[k] = (uint8_t)rgb[k];
        /* The name is everything between the id and the colour: the separators that splitting
         * replaced by NUL become spaces again. */
        char *end = tok[nt - 4] + strlen(tok[nt - 4]);
        for (char *p = tok[1]; p < end; p++)
            if (!*p)
                *p = ' ';
        c->name = tok[1];
    }
    return WW_OK;
}

ww_status ww_classes_read(const char *path, ww_classes *c, char *err, size_t errlen)
{
    ww_classes_init(c);
    char *text;
    ww_status st = ww_text_read(path, &text, err, errlen);
    if (st != WW_OK)
        return st;
    class_line *lines = malloc(MAX_CLASSES * sizeof *lines);
    if (!lines) {
        free(text);
        return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
    }
    int n;
    st = parse_classes(path, text, lines, &n, err, errlen);
    if (st == WW_OK && n == 0)
        st = ww_io_error(err, errlen, WW_ERR_INVALID, path,
                         "no classes (want lines \"ID NAME R G B\")");
    if (st == WW_OK)
        st = classes_alloc(c, n, path, err, errlen);
    for (int k = 0; st == WW_OK && k < n; k++) {
        const class_line *l = &lines[k];
        if (l->id >= n)
            st = ww_text_error(err, errlen, WW_ERR_INVALID, path, l->line,
                            "class id %d, but the %d classes must have the ids 0..%d", l->id, n,
                            n - 1);
        else if (c->names[l->id])
            st = ww_text_error(err, errlen, WW_ERR_INVALID, path, l->line, "class %d listed twice",
                            l->id);
        else if (!(c->names[l->id] = strdup(l->name)))
            st = ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, path, "out of memory");
        else {
            memcpy(c->colors[l->id], l->rgb, 3);
            c->map[l->id] = (uint8_t)l->id;
        }
    }
    free(lines);
    free(text);
    if (st != WW_OK)
        ww_classes_free(c);
    return st;
}

/* ---- Cityscapes ----------------------------------------------------------------------------- */

/* The 19 classes evaluated on Cityscapes, in trainId order, with their labelIds (the values in
 * gtFine_labelIds.png) and colours, from cityscapesScripts' labels.py. */
static const struct {
    uint8_t label_id;
    const char *name;
    uint8_t rgb[3];
} cityscapes[] = {
    {7, "road", {128, 64, 128}},       {8, "sidewalk", {244, 35, 232}},
    {11, "building", {70, 70, 70}},     {12, "wall", {102, 102, 156}},
    {13, "fence", {190, 153, 153}},     {17, "pole", {153, 153, 153}},
    {19, "traffic light", {250, 170, 30}}, {20, "traffic sign", {220, 220, 0}},
    {21, "vegetation", {107, 142, 35}}, {22, "terrain", {152, 251, 152}},
    {23, "sky", {70, 130, 180}},        {24, "person", {220, 20, 60}},
    {25, "rider", {255, 0, 0}},         {26, "car", {0, 0, 142}},
    {27, "truck", {0, 0, 70}},          {28, "bus", {0, 60, 100}},
    {31, "train", {0, 80, 100}},        {32, "motorcycle", {0, 0, 230}},
    {33, "bicycle", {119, 11, 32}},
};

ww_status ww_classes_cityscapes(ww_classes *c, char *err, size_t errlen)
{
    int n = (int)(sizeof cityscapes / sizeof cityscapes[0]);
    ww_status st = classes_alloc(c, n, "the Cityscapes trainId table", err, errlen);
    if (st != WW_OK)
        return st;
    for (int k = 0; k < n; k++) {
        if (!(c->names[k] = strdup(cityscapes[k].name))) {
            ww_classes_free(c);
            return ww_io_error(err, errlen, WW_ERR_OUT_OF_MEMORY, "cityscapes", "out of memory");
        }
        memcpy(c->colors[k], cityscapes[k].rgb, 3);
        c->map[cityscapes[k].label_id] = (uint8_t)k;
    }
    return WW_OK;
}
