// Test support for the HDF5 fixtures: attributes written with the HDF5 C API
// (only in the corespec::hdf5 tests, which link the library).
#pragma once

#include <string>

#include <hdf5.h>

namespace corespec_test {

/// A scalar, NUL-terminated fixed-length string attribute `name` on obj.
inline void string_attr(hid_t obj, const char* name, const std::string& value) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.size() + 1);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, value.c_str());
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

}  // namespace corespec_test
