/* HDF5 files for the .flo5 tests (see test_hdf5.h). */
#include "test_hdf5.h"

#include <stdint.h>
#include <stdlib.h>

#include "test_util.h"

#ifdef WW_HAVE_HDF5
#include <hdf5.h>

int test_write_h5(const char *path, const char *name, const float *data, int h, int w, int c,
                  int as_int)
{
    hsize_t dims[3] = {(hsize_t)h, (hsize_t)w, (hsize_t)c};
    size_t n = (size_t)h * (size_t)w * (size_t)c;
    int32_t *ints = as_int ? test_malloc(n * sizeof *ints) : NULL;
    for (size_t i = 0; ints && i < n; i++)
        ints[i] = (int32_t)data[i];
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(3, dims, NULL);
    hid_t props = H5Pcreate(H5P_DATASET_CREATE);
    int ok = file >= 0 && space >= 0 && props >= 0 && H5Pset_chunk(props, 3, dims) >= 0 &&
             H5Pset_deflate(props, 5) >= 0;
    hid_t type = as_int ? H5T_STD_I32LE : H5T_IEEE_F32LE;
    hid_t set = ok ? H5Dcreate2(file, name, type, space, H5P_DEFAULT, props, H5P_DEFAULT) : -1;
    ok = set >= 0 && H5Dwrite(set, as_int ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, H5S_ALL,
                              H5S_ALL, H5P_DEFAULT, as_int ? (const void *)ints : data) >= 0;
    if (set >= 0)
        H5Dclose(set);
    if (props >= 0)
        H5Pclose(props);
    if (space >= 0)
        H5Sclose(space);
    if (file >= 0 && H5Fclose(file) < 0)
        ok = 0;
    return TEST_CHECK(ok, "cannot write the HDF5 file %s", path);
}

#else

int test_write_h5(const char *path, const char *name, const float *data, int h, int w, int c,
                  int as_int)
{
    (void)path, (void)name, (void)data, (void)h, (void)w, (void)c, (void)as_int;
    TEST_SKIP("this build has no HDF5");
    return 0;
}

#endif
