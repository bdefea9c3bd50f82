/* What a model file says about itself beyond its weights: metadata, the classes of a
 * segmentation model, and where the default model of a task lives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_internal.h"

const char *ww_model_metadata(const ww_model *m, const char *key)
{
    for (int i = 0; i < m->nmeta; i++)
        if (!strcmp(m->meta[2 * i], key))
            return m->meta[2 * i + 1];
    return NULL;
}

/* The PASCAL VOC scheme: the bits of the id spread over R, G and B, so neighbours differ. */
static void voc_color(int id, uint8_t rgb[3])
{
    int r = 0, g = 0, b = 0;
    for (int bit = 7; id; bit--, id >>= 3) {
        r |= (id & 1) << bit;
        g |= (id >> 1 & 1) << bit;
        b |= (id >> 2 & 1) << bit;
    }
    rgb[0] = (uint8_t)r;
    rgb[1] = (uint8_t)g;
    rgb[2] = (uint8_t)b;
}

/* "r,g,b;r,g,b;..." with exactly n triplets of 0..255, into rgb; 0 when it is not that. */
static int parse_palette(const char *s, int n, uint8_t *rgb)
{
    for (int i = 0; i < n; i++) {
        int v[3], used = 0;
        if (sscanf(s, "%d,%d,%d%n", &v[0], &v[1], &v[2], &used) != 3)
            return 0;
        for (int k = 0; k < 3; k++) {
            if (v[k] < 0 || v[k] > 255)
                return 0;
            rgb[3 * i + k] = (uint8_t)v[k];
        }
        s += used;
        if (*s != (i + 1 < n ? ';' : '\0'))
            return 0;
        s += *s == ';';
    }
    return 1;
}

void ww_model_class_colors(const ww_model *m, uint8_t *rgb, int n)
{
    const char *pal = ww_model_metadata(m, "palette");
    if (pal && n == m->cfg.out_channels && parse_palette(pal, n, rgb))
        return;
    int ncity;
    const uint8_t *city = ww_palette_cityscapes(&ncity);
    for (int i = 0; i < n; i++) {
        if (i < ncity)
            memcpy(rgb + 3 * i, city + 3 * i, 3);
        else
            voc_color(i, rgb + 3 * i);
    }
}

int ww_model_class_name(const ww_model *m, int id, char *buf, size_t n)
{
    const char *s = ww_model_metadata(m, "classes");
    for (int i = 0; s && i < id; i++) {
        s = strchr(s, ',');
        s = s ? s + 1 : NULL;
    }
    if (!s || id < 0)
        return snprintf(buf, n, "class %d", id);
    size_t len = strcspn(s, ",");
    return snprintf(buf, n, "%.*s", (int)len, s);
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

const char *ww_model_default_path(ww_task t, char *buf, size_t n)
{
    const char *dirs[] = {getenv("WINWIN_MODEL_DIR"), WW_MODEL_DIR, WW_SOURCE_MODEL_DIR};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        int len = snprintf(buf, n, "%s/%s/model.safetensors", dirs[i], ww_task_name(t));
        if (len > 0 && (size_t)len < n && is_file(buf))
            return buf;
    }
    return NULL;
}
