/* Writing HDF5 files for the tests of Spring's .flo5 reader (tools/flow_io.h), shared by test_io
 * and test_dataset. Apart from test_util so that tests without HDF5 need not link it. */
#ifndef WW_TEST_HDF5_H
#define WW_TEST_HDF5_H

/* Write data (h x w x c values, row-major) as the dataset `name` of a new HDF5 file at path,
 * gzip-compressed in chunks as Spring's files are, stored as 32-bit floats or, with as_int, as
 * 32-bit integers. 1 on success; 0 after recording a failure, or a skip when the build has no
 * HDF5. */
int test_write_h5(const char *path, const char *name, const float *data, int h, int w, int c,
                  int as_int);

#endif
