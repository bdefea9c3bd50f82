/* Datasets and samples for the trainer's tests (see test_samples.h). */
#include "test_samples.h"

#include <stdio.h>
#include <string.h>

#include "test_util.h"

ww_dataset *test_open_ok(const char *spec, ww_task task, int w, int h, int classes,
                         uint64_t seed)
{
    char err[1024];
    ww_dataset *d = NULL;
    TEST_CHECK(ww_dataset_open(spec, task, w, h, classes, seed, &d, err, sizeof err) == WW_OK,
               "open %s (%s): %s", spec, ww_task_name(task), err);
    return d;
}

const char *test_list_spec(const char *name)
{
    const char *path = test_tmp_path(name);
    size_t n = strlen(path) + 6;
    char *spec = test_malloc(n);
    snprintf(spec, n, "list:%s", path);
    return spec;
}

size_t test_pixels(const ww_sample *s)
{
    return (size_t)s->width * (size_t)s->height;
}

int test_samples_equal(const ww_sample *a, const ww_sample *b, ww_task task)
{
    if (a->width != b->width || a->height != b->height)
        return 0;
    size_t n = test_pixels(a);
    for (int f = 0; f < ww_task_frames(task); f++)
        if (memcmp(a->image[f], b->image[f], 3 * n) != 0)
            return 0;
    if ((a->occlusion == NULL) != (b->occlusion == NULL) ||
        (a->occlusion && memcmp(a->occlusion, b->occlusion, n) != 0))
        return 0;
    return memcmp(a->target, b->target,
                  n * (size_t)ww_task_target_channels(task) * sizeof(float)) == 0;
}
