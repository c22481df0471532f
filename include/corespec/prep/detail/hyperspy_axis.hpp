// corespec/prep/detail/hyperspy_axis.hpp - HyperSpy 1.7.3's energy -> channel rules.
//
// HyperSpy's results depend on which channel an energy maps to, and its rule
// is not plain rounding: UniformDataAxis.value2index truncates
// (v - offset) / scale at 1e-12 channel, then rounds half towards zero for
// v >= 0 and half away from zero for v < 0. value_range_to_indices keeps the
// axis ends when a limit falls outside the axis. Reproducing both exactly is
// what makes window sums (and so A, r, I0, thresholds) identical.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"

namespace corespec::prep::detail {

/// HyperSpy's value2index (rounding=round). Returns -1 / size() when the
/// rounded index lies outside the axis (HyperSpy raises there).
inline std::ptrdiff_t hs_value2index(const grid::EnergyAxis& axis, double v) noexcept {
    if (!std::isfinite(v)) return -1;
    double index;
    if (axis.is_uniform()) {
        const double f = axis.fractional_index(v);
        const double t = std::trunc(f * 1e12) / 1e12;
        // HyperSpy picks the rounding by the sign of the value, not of the index.
        index = v >= 0.0 ? (t >= 0.0 ? std::ceil(t - 0.5) : std::floor(t + 0.5))
                         : (t >= 0.0 ? std::floor(t + 0.5) : std::ceil(t - 0.5));
    } else {
        // Non-uniform axes: the nearest centre (HyperSpy's numba_closest_index_round).
        const std::ptrdiff_t i = axis.index(v);
        if (i < 0 || i >= static_cast<std::ptrdiff_t>(axis.size())) return i;
        std::size_t best = static_cast<std::size_t>(i);
        for (std::size_t j : {best > 0 ? best - 1 : best, best + 1 < axis.size() ? best + 1 : best})
            if (std::abs(axis.energy(j) - v) < std::abs(axis.energy(best) - v)) best = j;
        return static_cast<std::ptrdiff_t>(best);
    }
    if (index < 0.0) return -1;
    if (index >= static_cast<double>(axis.size())) return static_cast<std::ptrdiff_t>(axis.size());
    return static_cast<std::ptrdiff_t>(index);
}

/// HyperSpy's value_range_to_indices(lo, hi) on an increasing axis: a limit
/// outside the axis keeps the axis end. Throws value_error when lo > hi.
inline std::pair<std::size_t, std::size_t> hs_value_range_to_indices(const grid::EnergyAxis& axis, double lo,
                                                                     double hi) {
    if (!(lo <= hi)) throw value_error("window: need lo <= hi, got [" + std::to_string(lo) + ", " +
                                       std::to_string(hi) + "]");
    std::size_t i1 = 0, i2 = axis.size() - 1;
    if (axis.front() < lo && lo <= axis.back()) i1 = static_cast<std::size_t>(hs_value2index(axis, lo));
    if (axis.back() > hi && hi >= axis.front()) i2 = static_cast<std::size_t>(hs_value2index(axis, hi));
    return {i1, i2};
}

/// Checks that [lo, hi] is finite, ordered and inside the axis (within half a
/// channel); throws value_error / range_error naming `what` otherwise.
inline void require_window_inside(const grid::EnergyAxis& axis, double lo, double hi, const std::string& what) {
    if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
        throw value_error(what + ": window needs finite lo < hi, got [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
    if (lo < axis.lower_edge(0) || hi > axis.upper_edge(axis.size() - 1))
        throw range_error(what + ": window [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "] is not inside the energy axis [" + std::to_string(axis.front()) + ", " +
                          std::to_string(axis.back()) + "]");
}

}  // namespace corespec::prep::detail
