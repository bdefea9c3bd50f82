/* Helpers on the trainer's datasets and samples (training/dataset.h), shared by test_dataset and
 * test_loader. Apart from test_util so that the tests that do not link the trainer need not. */
#ifndef WW_TEST_SAMPLES_H
#define WW_TEST_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

/* ww_dataset_open that must succeed; NULL after recording a failure that names spec and task. */
ww_dataset *test_open_ok(const char *spec, ww_task task, int w, int h, int classes,
                         uint64_t seed);
/* "list:PATH" for the file name of the test directory, in test memory. */
const char *test_list_spec(const char *name);

size_t test_pixels(const ww_sample *s);
/* Same size and bytes: frames, occlusion masks (or none in both) and targets. NaN targets
 * compare as bits, so exact copies of NaN are equal. */
int test_samples_equal(const ww_sample *a, const ww_sample *b, ww_task task);

#endif
