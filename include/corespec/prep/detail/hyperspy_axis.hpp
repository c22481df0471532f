// corespec/prep/detail/hyperspy_axis.hpp - forwarding header: HyperSpy's
// energy -> channel rules are public and shared in
// corespec/core/numeric/hyperspy_axis.hpp (numeric::hyperspy_value2index,
// numeric::hyperspy_value_range_to_indices, numeric::require_window_inside).
#pragma once

#include <cstddef>
#include <utility>

#include "corespec/core/numeric/hyperspy_axis.hpp"

namespace corespec::prep::detail {

inline std::ptrdiff_t hs_value2index(const grid::EnergyAxis& axis, double v) noexcept {
    return numeric::hyperspy_value2index(axis, v);
}

inline std::pair<std::size_t, std::size_t> hs_value_range_to_indices(const grid::EnergyAxis& axis, double lo,
                                                                     double hi) {
    return numeric::hyperspy_value_range_to_indices(axis, lo, hi);
}

using numeric::require_window_inside;

}  // namespace corespec::prep::detail
