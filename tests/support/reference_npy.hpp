// Test support: the NumPy reference arrays under ../shared/reference.
#pragma once

#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include "support/shared_data.hpp"

namespace corespec_test {

/// reference/<rel_path> as a double array (e.g. "eels_background/fast_r.npy").
inline xt::xarray<double> load_ref(const std::string& rel_path) {
    return xt::load_npy<double>(shared_path("reference/" + rel_path).string());
}

}  // namespace corespec_test
