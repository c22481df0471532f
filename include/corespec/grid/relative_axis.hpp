// corespec/grid/relative_axis.hpp - energy grids from (lo, hi, step), absolute
// or relative to a reference energy (e0, an edge onset, a tabulated edge).
//
//   auto a = grid::axis_from_step(7000, 7400, 0.5);          // absolute, 801 points
//   grid::RelativeGrid xanes{-20, 60, 0.25};                  // XANES around e0
//   auto on_this_scan = xanes.absolute(r.e0);                 // e0 - 20 .. e0 + 60
//
// A relative grid is what a model is trained on: the same relative energies
// for every spectrum, whatever its e0. The recipe keeps it in relative form.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "corespec/core/error.hpp"
#include "corespec/grid/energy_axis.hpp"

namespace corespec::grid {

/// The uniform axis lo, lo + step, ... up to hi: floor((hi - lo) / step) + 1
/// points (hi itself is included when (hi - lo) / step is an integer up to
/// rounding, 1e-9 of a step). Throws value_error for non-finite values,
/// step <= 0, hi <= lo, or fewer than 2 points.
inline UniformAxis axis_from_step(double lo, double hi, double step, std::string units = "eV") {
    if (!(std::isfinite(lo) && std::isfinite(hi) && std::isfinite(step)))
        throw value_error("axis_from_step: lo, hi and step must be finite");
    if (!(step > 0.0)) throw value_error("axis_from_step: step must be > 0, got " + std::to_string(step));
    if (!(hi > lo))
        throw value_error("axis_from_step: hi (" + std::to_string(hi) + ") must exceed lo (" + std::to_string(lo) + ")");
    const double intervals = std::floor((hi - lo) / step + 1e-9);
    if (!(intervals >= 1.0) || intervals > 1e9)
        throw value_error("axis_from_step: [" + std::to_string(lo) + ", " + std::to_string(hi) + "] with step " +
                          std::to_string(step) + " gives fewer than 2 or more than 1e9 points");
    return UniformAxis(lo, step, static_cast<std::size_t>(intervals) + 1, std::move(units));
}

/// A uniform grid of energies relative to a reference energy: lo .. hi in
/// steps of `step` (eV, typically lo < 0 < hi around an edge).
struct RelativeGrid {
    double lo = 0.0, hi = 0.0, step = 0.0;

    /// The relative energies themselves (the axis a model input lives on).
    UniformAxis relative() const { return axis_from_step(lo, hi, step); }

    /// The same points in absolute energy, reference + relative.
    UniformAxis absolute(double reference) const {
        if (!std::isfinite(reference)) throw value_error("RelativeGrid::absolute: reference energy is not finite");
        const UniformAxis r = relative();
        return UniformAxis(reference + r.offset(), r.scale(), r.size(), r.units());
    }
};

}  // namespace corespec::grid
