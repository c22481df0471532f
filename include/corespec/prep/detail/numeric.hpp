// corespec/prep/detail/numeric.hpp - forwarding header: the small numerical
// pieces (solve_dense, Savitzky-Golay, Simpson, spline roots, next_fast_len)
// are shared numerics of prep/ and align/, in corespec/core/numeric/numeric.hpp.
#pragma once

#include "corespec/core/numeric/numeric.hpp"

namespace corespec::prep::detail {
using numeric::next_fast_len;
using numeric::not_a_knot_second_derivatives;
using numeric::savgol_filter;
using numeric::savgol_weights;
using numeric::simpson;
using numeric::solve_dense;
using numeric::spline_roots;
}  // namespace corespec::prep::detail
